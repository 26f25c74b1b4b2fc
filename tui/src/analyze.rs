//! `hopscope analyze FILE...`: a headless report over recordings, for scripts and CI.
//!
//! Reads and links the files through the offline pipeline ([`crate::offline`]), analyses at
//! the data's watermark (the event clock of a recording) and prints the
//! `hopscope.analysis/v1` JSON or a text report on stdout. Exit status: 0; 1 when a
//! `--fail-on` condition holds; 2 when the input is unusable (nothing readable), with the
//! `FILE:LINE` problems on stderr.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use hopscope_collector::analysis::{Analysis, FlowStatus, LagStatus, SagaState, text};
use hopscope_collector::format;

use crate::cli::{AnalyzeArgs, FailOn, ReportFormat};
use crate::offline;

/// Exit status when a `--fail-on` condition holds.
const CONDITION_HOLDS: u8 = 1;

/// Runs `analyze`.
pub fn run(args: &AnalyzeArgs) -> Result<ExitCode> {
    let settings = crate::config::analyze(args)?;
    let options = offline::Options {
        verb: "analyse",
        keep_spans: false,
        stuck_after: settings.stuck_after,
        lag_warn: settings.lag_warn,
    };
    let mut recording = match offline::read(&args.files, &options) {
        Ok(recording) => recording,
        Err(code) => return Ok(code),
    };
    recording.analysis_options = recording.analysis_options.god_orchestrator(args.god_orchestrator);
    let analysis = recording.analysis();
    match write_report(&analysis, settings.format) {
        Ok(()) => {}
        // The reader went away (`| head`): not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(e).context("writing the report"),
    }
    let held = conditions_held(&settings.fail_on, &analysis);
    for h in &held {
        eprintln!("hopscope: --fail-on {h}");
    }
    // The process ends here: freeing millions of small records one by one would only delay
    // the exit (about a quarter of a second per million spans).
    std::mem::forget(analysis);
    recording.forget();
    Ok(if held.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(CONDITION_HOLDS) })
}

fn write_report(analysis: &Analysis, format: ReportFormat) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, analysis)?;
            writeln!(out)?;
        }
        ReportFormat::Text => out.write_all(text::render(analysis).as_bytes())?,
    }
    out.flush()
}

/// Which `--fail-on` conditions hold over `a`, in words; empty when none does.
pub fn conditions_held(fail_on: &FailOn, a: &Analysis) -> Vec<String> {
    let mut held = Vec::new();
    if fail_on.stuck {
        let flows = a.flows.iter().filter(|f| f.status == FlowStatus::Stuck).count();
        let sagas = a.sagas.iter().filter(|s| s.state == SagaState::Stuck).count();
        if flows + sagas > 0 {
            held.push(format!("stuck: {flows} flows and {sagas} sagas stuck"));
        }
    }
    if fail_on.errors && a.summary.errors > 0 {
        held.push(format!("errors: {} error spans", a.summary.errors));
    }
    if let Some(limit) = fail_on.lag_over {
        let limit = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        let worst = a
            .lag
            .iter()
            .filter(|l| l.status != LagStatus::NoConsumer)
            .map(|l| (l.p95_ns.max(l.oldest_unconsumed_age_ns), l))
            .max_by_key(|(lag, _)| *lag);
        if let Some((lag, row)) = worst.filter(|(lag, _)| *lag > limit) {
            held.push(format!(
                "lag>{}: {}:{} ({}) lags {}",
                format::duration(limit),
                row.system,
                row.destination,
                row.consumer_group.as_deref().unwrap_or("-"),
                format::duration(lag)
            ));
        }
    }
    if fail_on.insights && !a.insights.is_empty() {
        held.push(format!("insights: {}", a.insights.len()));
    }
    for kind in &fail_on.kinds {
        let found: Vec<&str> =
            a.insights.iter().filter(|i| i.kind == *kind).map(|i| i.subject.as_str()).collect();
        if !found.is_empty() {
            held.push(format!("{}: {} ({})", kind.as_str(), found.len(), found.join(", ")));
        }
    }
    held
}
