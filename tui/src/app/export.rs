//! What `e` / `E` write: the selected flow as a Mermaid sequence diagram or as JSON. Built
//! here as text (pure); the main loop writes the file and reports where.

use std::fmt::Write as _;

use hopscope_collector::engine::views::{DetailSpan, FlowDetail};
use serde_json::{Value, json};

use super::fmt;
use super::state::Export;
use super::timeline;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A Mermaid `sequenceDiagram` (`.mmd`).
    Mermaid,
    /// The flow, its hops and every span with attributes, events, logs and links (`.json`).
    Json,
}

/// The export of `detail` in `format`.
pub fn build(detail: &FlowDetail, format: ExportFormat) -> Export {
    let id = detail
        .flow
        .as_ref()
        .map_or_else(|| detail.traces.first().cloned().unwrap_or_default(), |f| f.id.clone());
    match format {
        ExportFormat::Mermaid => Export {
            file_name: format!("hopscope-flow-{}.mmd", fmt::short_id(&id)),
            contents: mermaid(detail),
        },
        ExportFormat::Json => Export {
            file_name: format!("hopscope-flow-{}.json", fmt::short_id(&id)),
            contents: serde_json::to_string_pretty(&json_of(detail)).unwrap_or_default() + "\n",
        },
    }
}

/// Text Mermaid accepts in a message or a participant alias.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ';' | '#' | '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

/// The flow as a Mermaid sequence diagram: solid arrows for calls, dotted for events.
pub fn mermaid(detail: &FlowDetail) -> String {
    let seq = timeline::sequence(detail);
    let mut out = String::from("sequenceDiagram\n");
    if let Some(f) = &detail.flow {
        let _ = writeln!(
            out,
            "    title flow {} {} {} ({}, {} traces)",
            fmt::short_id(&f.id),
            clean(&f.root.service),
            clean(&f.root.name),
            fmt::dur(f.duration_ns),
            f.traces.len()
        );
    }
    for (i, p) in seq.participants.iter().enumerate() {
        let _ = writeln!(out, "    participant p{i} as {}", clean(p));
    }
    for m in &seq.messages {
        let arrow = if m.event { "-->>" } else { "->>" };
        let mut label = clean(&m.label);
        if !m.event
            && let Some(s) = m.span
        {
            let s = &detail.spans[s];
            let _ =
                write!(label, " ({})", fmt::dur(s.end_unix_nano.saturating_sub(s.start_unix_nano)));
        }
        if m.error {
            label.push_str(" ✗ error");
        }
        let _ = writeln!(out, "    p{}{arrow}p{}: {label}", m.from, m.to);
    }
    out
}

fn pairs(kv: &[(String, String)]) -> Value {
    Value::Object(kv.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

fn span_json(s: &DetailSpan) -> Value {
    let pointer = |p: &hopscope_collector::engine::views::SpanPointer| json!({"trace_id": p.trace_id, "span_id": p.span_id, "label": p.label, "why": p.why});
    json!({
        "trace_id": s.trace_id,
        "span_id": s.span_id,
        "parent_span_id": s.parent_span_id,
        "service": s.service,
        "name": s.name,
        "kind": s.kind,
        "start_unix_nano": s.start_unix_nano,
        "end_unix_nano": s.end_unix_nano,
        "error": s.error,
        "status_message": s.status_message,
        "attributes": pairs(&s.attributes),
        "events": s.events.iter().map(|e| json!({
            "time_unix_nano": e.time_unix_nano, "name": e.name, "attributes": pairs(&e.attributes)
        })).collect::<Vec<_>>(),
        "logs": s.logs.iter().map(|l| json!({
            "time_unix_nano": l.time_unix_nano, "severity": l.severity, "body": l.body,
            "attributes": pairs(&l.attributes)
        })).collect::<Vec<_>>(),
        "links": s.links.iter().map(pointer).collect::<Vec<_>>(),
        "backlinks": s.backlinks.iter().map(pointer).collect::<Vec<_>>(),
    })
}

/// The flow as JSON (`hopscope.flow/v1`): the analysis' flow and hops, and every span.
pub fn json_of(detail: &FlowDetail) -> Value {
    json!({
        "schema": "hopscope.flow/v1",
        "flow": detail.flow,
        "traces": detail.traces,
        "missing_traces": detail.missing_traces,
        "hops": detail.hops,
        "spans": detail.spans.iter().map(span_json).collect::<Vec<_>>(),
        "truncated": detail.truncated,
    })
}
