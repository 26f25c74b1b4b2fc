//! `hopscope analyze FILE...`: a headless report over recordings, for scripts and CI.
//!
//! Reads the files (every format `formats::read` knows), links every span, analyses at the
//! data's watermark (the event clock of a recording) and prints the `hopscope.analysis/v1`
//! JSON or a text report on stdout. Exit status: 0; 1 when a `--fail-on` condition holds;
//! 2 when the input is unusable (nothing readable), with the `FILE:LINE` problems on stderr.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use hopscope_collector::analysis::{
    Analysis, AnalysisOptions, FlowStatus, LagStatus, SagaState, analyze, human, text,
};
use hopscope_collector::formats::read::ReadReport;
use hopscope_collector::link::Linker;
use hopscope_collector::model::{Interner, Span};
use hopscope_collector::otlp::convert::Decoder;

use crate::cli::parse_duration;

/// Exit status for unusable input.
const UNUSABLE_INPUT: u8 = 2;
/// Exit status when a `--fail-on` condition holds.
const CONDITION_HOLDS: u8 = 1;

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    hopscope analyze rec.jsonl                         text report\n  \
    hopscope analyze rec.jsonl --format json | jq .flows\n  \
    hopscope analyze rec.jsonl --fail-on stuck,errors,lag>2s   exit 1 when one holds (CI)\n\n\
    Exit status: 0 ok; 1 a --fail-on condition holds; 2 nothing readable in the input.")]
pub struct AnalyzeArgs {
    /// Recordings to read (`hopscope serve --record` output, OTLP JSON/protobuf, Jaeger,
    /// Zipkin); `-` reads stdin.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Output: a readable report, or the `hopscope.analysis/v1` JSON document [default: text].
    #[arg(long, env = "HOPSCOPE_FORMAT", value_name = "FORMAT")]
    pub format: Option<Format>,

    /// A flow, saga or message waiting longer than this on the event clock (the latest end
    /// time in the data) is stuck [default: 30s].
    #[arg(long, env = "HOPSCOPE_STUCK_AFTER", value_name = "DUR", value_parser = parse_duration)]
    pub stuck_after: Option<Duration>,

    /// A subscription whose p95 queue time or oldest unconsumed message is older than this
    /// is `warn` [default: 1s].
    #[arg(long, env = "HOPSCOPE_LAG_WARN", value_name = "DUR", value_parser = parse_duration)]
    pub lag_warn: Option<Duration>,

    /// Exit 1 when one of these holds (comma-separated): `stuck` (a flow or saga is stuck),
    /// `errors` (a span is an error), `lag>DUR` (a subscription's p95 queue time or oldest
    /// unconsumed message is older than DUR), `insights` (any insight).
    #[arg(long, env = "HOPSCOPE_FAIL_ON", value_name = "LIST", value_parser = FailOn::parse)]
    pub fail_on: Option<FailOn>,

    /// TOML file with defaults for these flags (`format`, `stuck_after`, `lag_warn`,
    /// `fail_on`).
    #[arg(long, env = "HOPSCOPE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            other => Err(format!("unknown format `{other}` (text or json)")),
        }
    }
}

/// Conditions of `--fail-on`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailOn {
    pub stuck: bool,
    pub errors: bool,
    pub lag_over: Option<Duration>,
    pub insights: bool,
}

impl FailOn {
    /// Parses `stuck,errors,lag>2s,insights`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = FailOn::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item {
                "stuck" => out.stuck = true,
                "errors" | "error" => out.errors = true,
                "insights" => out.insights = true,
                _ => {
                    let Some(dur) = item.strip_prefix("lag>") else {
                        return Err(format!(
                            "unknown --fail-on condition `{item}` (stuck, errors, lag>DUR, insights)"
                        ));
                    };
                    out.lag_over = Some(parse_duration(dur.trim())?);
                }
            }
        }
        Ok(out)
    }

    /// What holds, in words; empty when nothing does.
    pub fn check(&self, a: &Analysis) -> Vec<String> {
        let mut held = Vec::new();
        if self.stuck {
            let flows = a.flows.iter().filter(|f| f.status == FlowStatus::Stuck).count();
            let sagas = a.sagas.iter().filter(|s| s.state == SagaState::Stuck).count();
            if flows + sagas > 0 {
                held.push(format!("stuck: {flows} flows and {sagas} sagas stuck"));
            }
        }
        if self.errors && a.summary.errors > 0 {
            held.push(format!("errors: {} error spans", a.summary.errors));
        }
        if let Some(limit) = self.lag_over {
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
                    human(limit),
                    row.system,
                    row.destination,
                    row.consumer_group.as_deref().unwrap_or("-"),
                    human(lag)
                ));
            }
        }
        if self.insights && !a.insights.is_empty() {
            held.push(format!("insights: {}", a.insights.len()));
        }
        held
    }
}

/// `analyze`'s settings, resolved: flag > env > config file > default.
#[derive(Debug, Clone)]
pub struct AnalyzeSettings {
    pub format: Format,
    pub stuck_after: Duration,
    pub lag_warn: Duration,
    pub fail_on: FailOn,
}

/// Runs `analyze`.
pub fn run(args: &AnalyzeArgs) -> Result<ExitCode> {
    let settings = crate::config::analyze(args)?;
    let interner = Arc::new(Interner::new());
    let decoder = Decoder::new(Arc::clone(&interner));
    let mut linker = Linker::new(interner);
    if let Err(code) =
        read_recordings(&args.files, &decoder, "analyse", &mut |spans| linker.add_all(&spans))
    {
        return Ok(code);
    }
    let opts = AnalysisOptions::at_watermark(&linker)
        .stuck_after(settings.stuck_after)
        .lag_warn(settings.lag_warn);
    let analysis = analyze(&linker, &opts);
    match write_report(&analysis, settings.format) {
        Ok(()) => {}
        // The reader went away (`| head`): not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(e).context("writing the report"),
    }
    let held = settings.fail_on.check(&analysis);
    for h in &held {
        eprintln!("hopscope: --fail-on {h}");
    }
    // The process ends here: freeing millions of small records one by one would only delay
    // the exit (about a quarter of a second per million spans).
    std::mem::forget(analysis);
    std::mem::forget(linker);
    Ok(if held.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(CONDITION_HOLDS) })
}

fn write_report(analysis: &Analysis, format: Format) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, analysis)?;
            writeln!(out)?;
        }
        Format::Text => out.write_all(text::render(analysis).as_bytes())?,
    }
    out.flush()
}

/// Reads recordings in any format (`-` for stdin) into `take`, says on stderr what was
/// skipped, and gives the exit code (2) when there is nothing to `what`: the files could not
/// be read, or held no span.
pub(crate) fn read_recordings(
    files: &[PathBuf],
    decoder: &Decoder,
    what: &str,
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
            "hopscope: nothing to {what}: no span could be read from {} file(s)",
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

/// Resolves one duration setting.
pub fn pick_duration(
    flag: Option<Duration>,
    file: Option<Duration>,
    default: Duration,
) -> Duration {
    flag.or(file).unwrap_or(default)
}

/// Checks a format read from a config file.
pub fn file_format(s: Option<&str>) -> Result<Option<Format>> {
    s.map(|s| Format::parse(s).map_err(anyhow::Error::msg).context("config key `format`"))
        .transpose()
}

/// Checks a condition list read from a config file.
pub fn file_fail_on(s: Option<&str>) -> Result<Option<FailOn>> {
    match s {
        None => Ok(None),
        Some(s) => match FailOn::parse(s) {
            Ok(f) => Ok(Some(f)),
            Err(e) => bail!("config key `fail_on`: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: &std::path::Path) -> AnalyzeArgs {
        AnalyzeArgs {
            files: vec![PathBuf::from("rec.jsonl")],
            format: None,
            stuck_after: None,
            lag_warn: None,
            fail_on: None,
            config: Some(config.to_owned()),
        }
    }

    #[test]
    fn flag_beats_config_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hopscope.toml");
        std::fs::write(&path, "format = \"json\"\nstuck-after = \"45s\"\nfail_on = \"stuck\"\n")
            .unwrap();
        let mut a = args(&path);
        let s = crate::config::analyze(&a).unwrap();
        assert_eq!(s.format, Format::Json);
        assert_eq!(s.stuck_after, Duration::from_secs(45));
        assert_eq!(s.lag_warn, Duration::from_secs(1));
        assert!(s.fail_on.stuck && !s.fail_on.errors);
        a.format = Some(Format::Text);
        a.stuck_after = Some(Duration::from_secs(5));
        a.fail_on = Some(FailOn::parse("errors").unwrap());
        let s = crate::config::analyze(&a).unwrap();
        assert_eq!((s.format, s.stuck_after), (Format::Text, Duration::from_secs(5)));
        assert!(s.fail_on.errors && !s.fail_on.stuck);
        std::fs::write(&path, "fail_on = \"sometimes\"\n").unwrap();
        let err = format!("{:#}", crate::config::analyze(&args(&path)).unwrap_err());
        assert!(err.contains("fail_on") && err.contains("sometimes"), "{err}");
    }

    #[test]
    fn cli_parses_analyze() {
        use clap::Parser as _;
        let cli = crate::cli::Cli::try_parse_from([
            "hopscope",
            "analyze",
            "a.jsonl",
            "b.jsonl",
            "--format",
            "json",
            "--stuck-after",
            "1m",
            "--fail-on",
            "stuck,lag>2s",
        ])
        .unwrap();
        let Some(crate::cli::Command::Analyze(a)) = cli.command else { panic!("not analyze") };
        assert_eq!(a.files.len(), 2);
        assert_eq!(a.format, Some(Format::Json));
        assert_eq!(a.stuck_after, Some(Duration::from_secs(60)));
        assert_eq!(a.fail_on.unwrap().lag_over, Some(Duration::from_secs(2)));
        assert!(crate::cli::Cli::try_parse_from(["hopscope", "analyze"]).is_err());
    }

    #[test]
    fn fail_on_parses_conditions() {
        let f = FailOn::parse("stuck, errors,lag>2s").unwrap();
        assert!(f.stuck && f.errors && !f.insights);
        assert_eq!(f.lag_over, Some(Duration::from_secs(2)));
        assert!(FailOn::parse("stuck,slow").is_err());
        assert!(FailOn::parse("lag>soon").is_err());
        assert_eq!(FailOn::parse("").unwrap(), FailOn::default());
    }
}
