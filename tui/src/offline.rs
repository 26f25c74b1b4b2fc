//! The offline pipeline the modes over recordings share (`analyze`, `export`, and whatever
//! comes next, e.g. `catalog`): read the files, link every span, keep them in a store if the
//! mode shows spans, and analyse at the data's watermark (the event clock of a recording).
//!
//! [`read`] does the whole of it and gives a [`Recording`]; [`read_into`] is its first step
//! alone, for a mode that feeds the spans somewhere else (`replay` feeds an engine). Both say
//! on stderr what was skipped and give the exit code (2) when nothing could be read, so every
//! mode words unusable input the same way.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hopscope_collector::analysis::live::{LiveAnalysis, LiveOutput};
use hopscope_collector::analysis::{Analysis, AnalysisOptions, analyze};
use hopscope_collector::formats::read::ReadReport;
use hopscope_collector::link::Linker;
use hopscope_collector::model::{Interner, Span};
use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector::store::SpanStore;

/// Exit status for unusable input: the files could not be read, or held no span.
pub const UNUSABLE_INPUT: u8 = 2;

/// What a mode wants from its recordings.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// What the mode does, for "nothing to VERB" when no span could be read: `analyse`,
    /// `export`.
    pub verb: &'a str,
    /// Keep every span in a store (never evicting) besides linking it: for modes that show
    /// a flow's spans, known only once everything is linked.
    pub keep_spans: bool,
    /// Waiting longer than this on the event clock is stuck (`--stuck-after`).
    pub stuck_after: Duration,
    /// A subscription lagging more than this is `warn` (`--lag-warn`).
    pub lag_warn: Duration,
}

/// Recordings, read and linked.
pub struct Recording {
    /// Every span read, linked into traces, hops and flows.
    pub linker: Linker,
    /// Every span read when [`Options::keep_spans`] asked for them; else empty.
    pub store: SpanStore,
    /// What was read and what was skipped (already said on stderr).
    pub report: ReadReport,
    /// The analyses' options: the event clock at the data's watermark, the mode's thresholds.
    pub analysis_options: AnalysisOptions,
}

impl Recording {
    /// The full analysis (the `hopscope.analysis/v1` document and the text report).
    pub fn analysis(&self) -> Analysis {
        analyze(&self.linker, &self.analysis_options)
    }

    /// The analysis as the TUI's views see it (flow rows, with what `views::detail` needs).
    pub fn live_analysis(&self) -> LiveOutput {
        LiveAnalysis::full(&self.linker, &self.analysis_options)
    }

    /// Ends the recording without freeing it: the process is about to exit, and freeing
    /// millions of small records one by one would only delay that (about a quarter of a
    /// second per million spans).
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

/// Reads `files` (any format `formats::read` knows, `-` for stdin), links every span and
/// keeps them if asked; or gives the exit code for unusable input, having said why on stderr.
pub fn read(files: &[PathBuf], options: &Options<'_>) -> Result<Recording, ExitCode> {
    let interner = Arc::new(Interner::new());
    let decoder = Decoder::new(Arc::clone(&interner));
    let mut linker = Linker::new(interner);
    let mut store = SpanStore::new(u64::MAX);
    let report = read_into(files, &decoder, options.verb, &mut |spans| {
        linker.add_all(&spans);
        if options.keep_spans {
            for s in spans {
                store.insert(s);
            }
        }
    })?;
    let analysis_options = AnalysisOptions::at_watermark(&linker)
        .stuck_after(options.stuck_after)
        .lag_warn(options.lag_warn);
    Ok(Recording { linker, store, report, analysis_options })
}

/// Reads recordings in any format (`-` for stdin) into `take`, says on stderr what was
/// skipped, and gives the exit code (2) when there is nothing to `verb`: the files could not
/// be read, or held no span.
pub fn read_into(
    files: &[PathBuf],
    decoder: &Decoder,
    verb: &str,
    take: &mut dyn FnMut(Vec<Span>),
) -> Result<ReadReport, ExitCode> {
    let report = match crate::progress::read_paths(files, decoder, take) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("hopscope: {e}");
            return Err(ExitCode::from(UNUSABLE_INPUT));
        }
    };
    print_problems(&report);
    if report.spans == 0 {
        eprintln!(
            "hopscope: nothing to {verb}: no span could be read from {} file(s)",
            report.files
        );
        return Err(ExitCode::from(UNUSABLE_INPUT));
    }
    Ok(report)
}

fn print_problems(report: &ReadReport) {
    for p in &report.problems {
        eprintln!("hopscope: skipped {p}");
    }
    let unlisted = report.skipped.saturating_sub(report.problems.len() as u64);
    if unlisted > 0 {
        eprintln!("hopscope: and {unlisted} more records skipped");
    }
    for note in &report.notes {
        eprintln!("hopscope: note: {note}");
    }
    if report.rejected_spans > 0 {
        eprintln!("hopscope: {} spans with invalid ids dropped", report.rejected_spans);
    }
}
