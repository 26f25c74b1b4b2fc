//! `hopscope export FILE... --flow ID`: one flow of a recording as a Mermaid sequence diagram,
//! a Graphviz digraph or JSON, for docs, tickets and other tools; `--graph`: the whole
//! choreography graph as a Graphviz digraph, a Mermaid flowchart or JSON ([`graph_export`]).
//!
//! Reads and links the files through the offline pipeline, as `analyze` does
//! ([`crate::offline`], keeping every span), finds the flow by its id or by any trace id in it (or a unique prefix of
//! either) and writes what the TUI's `e` / `E` keys write, or the digraph. Exit status: 0;
//! 2 when the input is unusable or the flow is not found (or the id is ambiguous).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use hopscope_collector::analysis::live::FlowRow;
use hopscope_collector::analysis::{DEFAULT_LAG_WARN, DEFAULT_STUCK_AFTER, Flow, TraceId};
use hopscope_collector::engine::views::{self, DetailTarget};

use crate::cli::{ExportArgs, FlowFormat};
use crate::flow_export::{self as render, ExportFormat};
use crate::graph_export;
use crate::offline;

/// Exit status for unusable input, an unknown or an ambiguous flow id.
const UNUSABLE: u8 = 2;
/// Candidates listed for an ambiguous id.
const MAX_CANDIDATES: usize = 10;

impl From<FlowFormat> for ExportFormat {
    fn from(f: FlowFormat) -> Self {
        match f {
            FlowFormat::Mermaid => ExportFormat::Mermaid,
            FlowFormat::Dot => ExportFormat::Dot,
            FlowFormat::Json => ExportFormat::Json,
        }
    }
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
    // The whole recording is kept: the flow is known only once everything is linked.
    let options = offline::Options {
        verb: "export",
        keep_spans: true,
        stuck_after: args.stuck_after.unwrap_or(DEFAULT_STUCK_AFTER),
        lag_warn: DEFAULT_LAG_WARN,
    };
    let recording = match offline::read(&args.files, &options) {
        Ok(recording) => recording,
        Err(code) => return Ok(code),
    };
    let Some(wanted) = args.flow.as_deref() else {
        let format = args.format.unwrap_or(FlowFormat::Mermaid);
        let contents = graph_export::build(&recording.analysis().graph, format.into()).contents;
        let code = write(args.out.as_deref(), &contents, "the graph", format_name(format))?;
        recording.forget();
        return Ok(code);
    };
    let flows = recording.live_analysis().flows;
    let hint = format!(
        "list the flows with `hopscope analyze {} --format text`",
        args.files.first().map_or_else(|| "FILE".to_owned(), |p| shell_word(p))
    );
    let flow = match find(&flows, wanted) {
        Found::One(f) => f,
        Found::None => {
            eprintln!(
                "hopscope: no flow has the id or a trace id `{}` ({} flows read); {hint}",
                wanted,
                flows.len()
            );
            return Ok(ExitCode::from(UNUSABLE));
        }
        Found::Ambiguous(candidates) => {
            eprintln!(
                "hopscope: `{}` matches {} flows; give more of the id:",
                wanted,
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
    let detail =
        views::detail(&recording.store, &recording.linker, &flows, &DetailTarget::Flow(flow.id));
    if detail.truncated {
        eprintln!(
            "hopscope: note: flow {} holds more than {} spans; the export shows the first",
            flow.id,
            views::MAX_DETAIL_SPANS
        );
    }
    let format = args.format.unwrap_or(FlowFormat::Mermaid);
    let contents = render::build(&detail, format.into()).contents;
    let what = format!("flow {}", flow.id);
    let code = write(args.out.as_deref(), &contents, &what, format_name(format))?;
    // The process ends here: freeing every span one by one would only delay the exit.
    recording.forget();
    Ok(code)
}

fn format_name(format: FlowFormat) -> &'static str {
    match format {
        FlowFormat::Mermaid => "mermaid",
        FlowFormat::Dot => "dot",
        FlowFormat::Json => "json",
    }
}

/// Writes `contents` to stdout, or to `out` (saying on stderr that it wrote `what` as
/// `format` there). Shared by the modes that write a file (`export`, `catalog`).
pub(crate) fn write(
    out: Option<&Path>,
    contents: &str,
    what: &str,
    format: &str,
) -> Result<ExitCode> {
    if let Some(path) = out.filter(|p| p.as_os_str() != "-") {
        std::fs::write(path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("hopscope: wrote {what} ({format}) to {}", path.display());
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
