//! A flow rendered as a file: a Mermaid sequence diagram, JSON, or a Graphviz digraph
//! ([`dot`]). Pure text, shared by the TUI's `e` / `E` keys (the main loop writes the file and
//! reports where) and by `hopscope export`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use hopscope_collector::analysis::{SpanId, TraceId};
use hopscope_collector::engine::views::{DetailSpan, FlowDetail};
use serde_json::{Value, json};

use crate::app::detail::timeline;
use crate::app::fmt;

/// A file to write for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// A file name (no directory): the main loop picks where.
    pub file_name: String,
    pub contents: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A Mermaid `sequenceDiagram` (`.mmd`).
    Mermaid,
    /// The flow, its hops and every span with attributes, events, logs and links (`.json`).
    Json,
    /// A Graphviz `digraph` of services and destinations (`.dot`).
    Dot,
}

/// The export of `detail` in `format`.
pub fn build(detail: &FlowDetail, format: ExportFormat) -> Export {
    let id = detail
        .flow
        .as_ref()
        .map_or_else(|| detail.traces.first().copied().unwrap_or_default(), |f| f.id);
    match format {
        ExportFormat::Mermaid => Export {
            file_name: format!("hopscope-flow-{}.mmd", id.short()),
            contents: mermaid(detail),
        },
        ExportFormat::Json => Export {
            file_name: format!("hopscope-flow-{}.json", id.short()),
            contents: serde_json::to_string_pretty(&json_of(detail)).unwrap_or_default() + "\n",
        },
        ExportFormat::Dot => {
            Export { file_name: format!("hopscope-flow-{}.dot", id.short()), contents: dot(detail) }
        }
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
            f.id.short(),
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

/// `s` as a quoted DOT string: `"` and `\` escaped, line breaks as `\n`.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Calls, emits or consumes between two nodes, folded into one edge.
#[derive(Default)]
struct DotEdge {
    count: u64,
    errors: u64,
    /// The longest call, or the longest queue time.
    max_ns: u64,
    /// Some consumer started before its producer ended (the hosts' clocks disagree).
    skew: bool,
}

impl DotEdge {
    fn add(&mut self, ns: u64, error: bool) {
        self.count += 1;
        self.errors += u64::from(error);
        self.max_ns = self.max_ns.max(ns);
    }

    /// `what` with the count, `time` and the errors.
    fn label(&self, what: &str, time: &str) -> String {
        let mut label = clean(what);
        if self.count > 1 {
            let _ = write!(label, " ×{}", self.count);
        }
        if !time.is_empty() {
            let _ = write!(label, "\n{time}");
        }
        if self.errors > 0 {
            let _ = write!(
                label,
                "\n✗ {} error{}",
                self.errors,
                if self.errors > 1 { "s" } else { "" }
            );
        }
        if self.skew {
            label.push_str("\nclock skew");
        }
        label
    }

    fn attributes(&self, label: &str, dashed: bool) -> String {
        let mut attrs = format!("label={}", quoted(label));
        if dashed {
            attrs.push_str(", style=dashed");
        }
        if self.errors > 0 {
            attrs.push_str(", color=red, fontcolor=red");
        }
        attrs
    }
}

/// The flow as a Graphviz digraph: a box per service, a queue-shaped node per destination
/// (`<system>:<destination>`, as in the analysis' graph), a cylinder per peer outside the
/// traces (a database, a provider). Solid edges are sync calls (folded by caller, callee and
/// span name, with the count and the longest duration); dashed edges are async hops, producer
/// → destination → consumer, labelled with the destination and the longest queue time. Nodes
/// and edges are sorted, so the same flow gives the same text.
pub fn dot(detail: &FlowDetail) -> String {
    let seq = timeline::sequence(detail);
    let services: BTreeSet<&str> = detail
        .spans
        .iter()
        .map(|s| s.service.as_str())
        .chain(detail.hops.iter().flat_map(|h| [&*h.producer.service, &*h.consumer.service]))
        .collect();
    let mut peers: BTreeSet<&str> = BTreeSet::new();
    let mut calls: BTreeMap<(&str, &str, &str), DotEdge> = BTreeMap::new();
    for m in seq.messages.iter().filter(|m| !m.event) {
        let (Some(from), Some(to)) = (seq.participants.get(m.from), seq.participants.get(m.to))
        else {
            continue;
        };
        if !services.contains(to.as_str()) {
            peers.insert(to);
        }
        let ns = m
            .span
            .and_then(|i| detail.spans.get(i))
            .map_or(0, |s| s.end_unix_nano.saturating_sub(s.start_unix_nano));
        calls.entry((from, to, &m.label)).or_default().add(ns, m.error);
    }
    let by_key: BTreeMap<(TraceId, SpanId), &DetailSpan> =
        detail.spans.iter().map(|s| ((s.trace_id, s.span_id), s)).collect();
    let mut destinations: BTreeMap<String, (&str, &str)> = BTreeMap::new();
    let mut emits: BTreeMap<(&str, String), DotEdge> = BTreeMap::new();
    let mut consumes: BTreeMap<(String, &str), DotEdge> = BTreeMap::new();
    let mut emitted: BTreeSet<(TraceId, SpanId, String)> = BTreeSet::new();
    for h in &detail.hops {
        let dest = format!("{}:{}", h.system, h.destination);
        destinations.insert(dest.clone(), (&*h.system, &*h.destination));
        let error = |end: &hopscope_collector::analysis::SpanEnd| {
            by_key.get(&(end.trace_id, end.span_id)).is_some_and(|s| s.error)
        };
        // One emit per producer span, however many consumers got the message.
        if emitted.insert((h.producer.trace_id, h.producer.span_id, dest.clone())) {
            let edge = emits.entry((&*h.producer.service, dest.clone())).or_default();
            edge.add(0, error(&h.producer));
        }
        let edge = consumes.entry((dest, &*h.consumer.service)).or_default();
        edge.add(h.queue_ns, error(&h.consumer));
        edge.skew |= h.skew;
    }

    let mut out = String::from("digraph flow {\n");
    let title = match &detail.flow {
        Some(f) => format!(
            "flow {} {} {} ({}, {} traces, {})",
            f.id.short(),
            f.root.service,
            f.root.name,
            fmt::dur(f.duration_ns),
            f.traces.len(),
            f.status.as_str()
        ),
        None => format!("trace {}", detail.traces.first().map(TraceId::short).unwrap_or_default()),
    };
    let _ = writeln!(
        out,
        "    graph [label={}, labelloc=t, rankdir=LR, fontname=\"Helvetica\"];",
        quoted(&title)
    );
    out.push_str(
        "    node [fontname=\"Helvetica\"];\n    edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    let root = detail.flow.as_ref().map(|f| &*f.root.service);
    for s in &services {
        let bold = if Some(*s) == root { ", penwidth=2" } else { "" };
        let _ = writeln!(
            out,
            "    {} [shape=box, style=rounded, label={}{bold}];",
            quoted(s),
            quoted(s)
        );
    }
    for (id, (system, destination)) in &destinations {
        let _ = writeln!(
            out,
            "    {} [shape=cds, label={}];",
            quoted(id),
            quoted(&format!("{destination}\n({system})"))
        );
    }
    for p in &peers {
        let _ = writeln!(out, "    {} [shape=cylinder, label={}];", quoted(p), quoted(p));
    }
    for ((from, to, name), e) in &calls {
        let time =
            if e.count > 1 { format!("max {}", fmt::dur(e.max_ns)) } else { fmt::dur(e.max_ns) };
        let label = e.label(name, &time);
        let _ = writeln!(
            out,
            "    {} -> {} [{}];",
            quoted(from),
            quoted(to),
            e.attributes(&label, false)
        );
    }
    for ((from, dest), e) in &emits {
        let (_, destination) = destinations.get(dest).copied().unwrap_or_default();
        let label = e.label(&format!("emit {destination}"), "");
        let _ = writeln!(
            out,
            "    {} -> {} [{}];",
            quoted(from),
            quoted(dest),
            e.attributes(&label, true)
        );
    }
    for ((dest, to), e) in &consumes {
        let (_, destination) = destinations.get(dest).copied().unwrap_or_default();
        let queue = if e.count > 1 {
            format!("queue max {}", fmt::dur(e.max_ns))
        } else {
            format!("queue {}", fmt::dur(e.max_ns))
        };
        let label = e.label(destination, &queue);
        let _ = writeln!(
            out,
            "    {} -> {} [{}];",
            quoted(dest),
            quoted(to),
            e.attributes(&label, true)
        );
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn dot_strings_are_escaped() {
        assert_eq!(quoted("orders"), r#""orders""#);
        assert_eq!(quoted("say \"hi\"\\\r\nbye"), r#""say \"hi\"\\\nbye""#);
    }
}
