//! `hopscope export FILE... --flow ID`: one flow of a recording as a Mermaid sequence diagram,
//! a Graphviz digraph or JSON, for docs, tickets and other tools.
//!
//! Reads the files as `analyze` does (every format `formats::read` knows, `-` for stdin),
//! links every span, finds the flow by its id or by any trace id in it (or a unique prefix of
//! either) and writes what the TUI's `e` / `E` keys write, or the digraph. Exit status: 0;
//! 2 when the input is unusable or the flow is not found (or the id is ambiguous).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use hopscope_collector::analysis::live::{FlowRow, LiveAnalysis};
use hopscope_collector::analysis::{AnalysisOptions, DEFAULT_STUCK_AFTER, Flow, TraceId};
use hopscope_collector::engine::views::{self, DetailTarget};
use hopscope_collector::link::Linker;
use hopscope_collector::model::Interner;
use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector::store::SpanStore;

use crate::cli::parse_duration;
use crate::flow_export::{self as render, ExportFormat};

/// Exit status for unusable input, an unknown or an ambiguous flow id.
const UNUSABLE: u8 = 2;
/// Candidates listed for an ambiguous id.
const MAX_CANDIDATES: usize = 10;

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    hopscope analyze rec.jsonl --format text           list the flows and their ids\n  \
    hopscope export rec.jsonl --flow 4bf92f35          a Mermaid sequence diagram on stdout\n  \
    hopscope export rec.jsonl --flow 4bf92f35 --format dot | dot -Tsvg > flow.svg\n  \
    hopscope export rec.jsonl --flow 4bf92f35 --format json --out flow.json\n\n\
    Exit status: 0 written; 2 nothing readable in the input, or no single flow matches --flow.")]
pub struct ExportArgs {
    /// Recordings to read (`hopscope serve --record` output, OTLP JSON/protobuf, Jaeger,
    /// Zipkin, gzip or zstd compressed); a directory reads its files in name order; `-` reads
    /// stdin.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// The flow: its id (the root trace id), or the id of any trace in it, in hex; a unique
    /// prefix of either is enough (`hopscope analyze FILE --format text` lists the flows).
    #[arg(long, value_name = "ID", value_parser = parse_id)]
    pub flow: String,

    /// What to write: `mermaid`, the sequence diagram the TUI's `e` writes; `dot`, a
    /// Graphviz digraph of services and destinations (solid: sync calls, dashed: async
    /// hops); `json`, the flow, its hops and every span (`hopscope.flow/v1`, as `E`)
    /// [default: mermaid].
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<Format>,

    /// Write to FILE instead of stdout (`-` is stdout).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// A flow waiting longer than DUR on the event clock (the latest end time in the data) is
    /// stuck, as in `analyze` [default: 30s].
    #[arg(long, env = "HOPSCOPE_STUCK_AFTER", value_name = "DUR", value_parser = parse_duration)]
    pub stuck_after: Option<Duration>,
}

/// Output format of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A Mermaid `sequenceDiagram`.
    Mermaid,
    /// A Graphviz `digraph`.
    Dot,
    /// The `hopscope.flow/v1` JSON document.
    Json,
}

impl From<Format> for ExportFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Mermaid => ExportFormat::Mermaid,
            Format::Dot => ExportFormat::Dot,
            Format::Json => ExportFormat::Json,
        }
    }
}

/// A hex id or prefix, lowercased.
fn parse_id(s: &str) -> Result<String, String> {
    let id = s.trim().to_ascii_lowercase();
    if id.is_empty() {
        return Err("an empty id; give a flow or trace id (or a prefix of one) in hex".into());
    }
    if id.len() > 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "`{s}` is not a trace id: up to 32 hex digits (a prefix is enough), e.g. 4bf92f35"
        ));
    }
    Ok(id)
}

/// How an id matched a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found<'a> {
    One(&'a Flow),
    /// Several flows match the prefix: each with the id that matched.
    Ambiguous(Vec<(&'a Flow, TraceId)>),
    None,
}

/// The flow `id` names: its root trace id or any of its trace ids, exactly, else as a prefix
/// matching a single flow.
fn find<'a>(flows: &'a [Arc<FlowRow>], id: &str) -> Found<'a> {
    let flows = || flows.iter().map(|r| &r.flow);
    if let Ok(id) = TraceId::from_hex(id) {
        if let Some(f) = flows().find(|f| f.id == id) {
            return Found::One(f);
        }
        // A trace in several flows (a shared consumer trace) belongs to the first by start.
        if let Some(f) = flows().find(|f| f.traces.contains(&id)) {
            return Found::One(f);
        }
    }
    let mut matches: BTreeMap<TraceId, (&Flow, TraceId)> = BTreeMap::new();
    for f in flows() {
        if let Some(&t) = f.traces.iter().find(|t| t.hex_starts_with(id)) {
            matches.entry(f.id).or_insert((f, t));
        }
    }
    let mut matches: Vec<(&Flow, TraceId)> = matches.into_values().collect();
    matches.sort_by_key(|(f, _)| (f.start_unix_nano, f.id));
    match matches.len() {
        0 => Found::None,
        1 => Found::One(matches[0].0),
        _ => Found::Ambiguous(matches),
    }
}

/// Runs `export`.
pub fn run(args: &ExportArgs) -> Result<ExitCode> {
    let interner = Arc::new(Interner::new());
    let decoder = Decoder::new(Arc::clone(&interner));
    let mut linker = Linker::new(interner);
    // The whole recording is kept: the flow is known only once everything is linked.
    let mut store = SpanStore::new(u64::MAX);
    let read = crate::analyze::read_recordings(&args.files, &decoder, "export", &mut |spans| {
        linker.add_all(&spans);
        for s in spans {
            store.insert(s);
        }
    });
    if let Err(code) = read {
        return Ok(code);
    }
    let opts = AnalysisOptions::at_watermark(&linker)
        .stuck_after(args.stuck_after.unwrap_or(DEFAULT_STUCK_AFTER));
    let flows = LiveAnalysis::full(&linker, &opts).flows;
    let hint = format!(
        "list the flows with `hopscope analyze {} --format text`",
        args.files.first().map_or_else(|| "FILE".to_owned(), |p| shell_word(p))
    );
    let flow = match find(&flows, &args.flow) {
        Found::One(f) => f,
        Found::None => {
            eprintln!(
                "hopscope: no flow has the id or a trace id `{}` ({} flows read); {hint}",
                args.flow,
                flows.len()
            );
            return Ok(ExitCode::from(UNUSABLE));
        }
        Found::Ambiguous(candidates) => {
            eprintln!(
                "hopscope: `{}` matches {} flows; give more of the id:",
                args.flow,
                candidates.len()
            );
            for (f, matched) in candidates.iter().take(MAX_CANDIDATES) {
                let via = if *matched == f.id {
                    String::new()
                } else {
                    format!(" (via trace {matched})")
                };
                eprintln!(
                    "  {}  {} {}, {} traces{via}",
                    f.id,
                    f.root.service,
                    f.root.name,
                    f.traces.len()
                );
            }
            if candidates.len() > MAX_CANDIDATES {
                eprintln!("  and {} more; {hint}", candidates.len() - MAX_CANDIDATES);
            }
            return Ok(ExitCode::from(UNUSABLE));
        }
    };
    let detail = views::detail(&store, &linker, &flows, &DetailTarget::Flow(flow.id));
    if detail.truncated {
        eprintln!(
            "hopscope: note: flow {} holds more than {} spans; the export shows the first",
            flow.id,
            views::MAX_DETAIL_SPANS
        );
    }
    let format = args.format.unwrap_or(Format::Mermaid);
    let contents = render::build(&detail, format.into()).contents;
    let code = write(args.out.as_deref(), &contents, flow.id, format)?;
    // The process ends here: freeing every span one by one would only delay the exit.
    std::mem::forget(store);
    std::mem::forget(linker);
    Ok(code)
}

/// Writes `contents` to stdout, or to `out` (saying where on stderr).
fn write(out: Option<&Path>, contents: &str, flow: TraceId, format: Format) -> Result<ExitCode> {
    if let Some(path) = out.filter(|p| p.as_os_str() != "-") {
        std::fs::write(path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let name = format!("{format:?}").to_ascii_lowercase();
        eprintln!("hopscope: wrote flow {flow} ({name}) to {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(contents.as_bytes()).and_then(|()| stdout.flush()) {
        // The reader went away (`| head`): not an error of ours.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("writing the export")
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// `p` as it could be typed again in a shell hint.
fn shell_word(p: &Path) -> String {
    let s = p.display().to_string();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:@+".contains(&b)) {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_hex_prefixes() {
        assert_eq!(parse_id(" 4BF92F ").unwrap(), "4bf92f");
        assert!(parse_id("").is_err());
        assert!(parse_id("xyz").is_err());
        assert!(parse_id(&"a".repeat(33)).is_err());
    }

    #[test]
    fn cli_parses_export() {
        use clap::Parser as _;
        let cli = crate::cli::Cli::try_parse_from([
            "hopscope", "export", "a.jsonl", "-", "--flow", "ABC", "--format", "dot", "--out",
            "f.dot",
        ])
        .unwrap();
        let Some(crate::cli::Command::Export(a)) = cli.command else { panic!("not export") };
        assert_eq!(a.files.len(), 2);
        assert_eq!((a.flow.as_str(), a.format), ("abc", Some(Format::Dot)));
        assert_eq!(a.out, Some(PathBuf::from("f.dot")));
        assert!(crate::cli::Cli::try_parse_from(["hopscope", "export", "a.jsonl"]).is_err());
        let bad = ["hopscope", "export", "a", "--flow", "ab", "--format", "png"];
        assert!(crate::cli::Cli::try_parse_from(bad).is_err());
    }
}
