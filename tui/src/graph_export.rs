//! The whole choreography graph rendered as a file: a Graphviz digraph, a Mermaid flowchart
//! or JSON (`hopscope.graph/v1`: the `graph` of `analyze --format json`, with each edge's
//! error share). Services are boxes, destinations rounded and grouped by system; calls are
//! solid, emits and consumes dashed; an edge with 5% errors or more is drawn red (and says
//! so in its label). Pure text, shared by the TUI's `E` on the Graph screen (the main loop
//! writes the file) and by `hopscope export --graph`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hopscope_collector::analysis::{EdgeKind, Graph, GraphEdge, NodeKind};
use serde_json::json;

use crate::app::fmt;
use crate::flow_export::{Export, ExportFormat};

/// The JSON document's schema.
pub const SCHEMA: &str = "hopscope.graph/v1";

/// An error share from which an edge is drawn as failing.
const FAILING: f64 = 0.05;

/// The export of `graph` in `format`.
pub fn build(graph: &Graph, format: ExportFormat) -> Export {
    match format {
        ExportFormat::Dot => {
            Export { file_name: "hopscope-graph.dot".into(), contents: dot(graph) }
        }
        ExportFormat::Mermaid => {
            Export { file_name: "hopscope-graph.mmd".into(), contents: mermaid(graph) }
        }
        ExportFormat::Json => Export {
            file_name: "hopscope-graph.json".into(),
            contents: serde_json::to_string_pretty(&json_of(graph)).unwrap_or_default() + "\n",
        },
    }
}

fn share(e: &GraphEdge) -> f64 {
    if e.count == 0 { 0.0 } else { e.errors as f64 / e.count as f64 }
}

/// An edge's label: count, errors, p95 (latency for calls, queue time for events).
fn label(e: &GraphEdge) -> String {
    let what = if e.kind == EdgeKind::Call { "p95" } else { "q95" };
    let mut out = format!("{} × {}", e.count, e.kind.as_str());
    if e.errors > 0 {
        let _ = write!(out, ", {} errors ({:.0}%)", e.errors, share(e) * 100.0);
    }
    let _ = write!(out, ", {what} {}", fmt::dur(e.p95_ns));
    out
}

/// Destinations by system, in id order.
fn systems(graph: &Graph) -> BTreeMap<&str, Vec<&str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for n in graph.nodes.iter().filter(|n| n.kind == NodeKind::Destination) {
        let system = n.id.split_once(':').map_or("unknown", |(s, _)| s);
        out.entry(system).or_default().push(&n.id);
    }
    out
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A Graphviz `digraph`, left to right.
pub fn dot(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph hopscope {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n  \
         edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for n in graph.nodes.iter().filter(|n| n.kind == NodeKind::Service) {
        let _ = writeln!(out, "  {} [shape=box];", quoted(&n.id));
    }
    for (system, ids) in systems(graph) {
        let _ = writeln!(out, "  subgraph {} {{", quoted(&format!("cluster_{system}")));
        let _ = writeln!(out, "    label={}; style=dashed;", quoted(system));
        for id in ids {
            let _ = writeln!(out, "    {} [shape=box, style=rounded];", quoted(id));
        }
        out.push_str("  }\n");
    }
    for e in &graph.edges {
        let mut attrs = vec![format!("label={}", quoted(&label(e)))];
        if e.kind != EdgeKind::Call {
            attrs.push("style=dashed".into());
        }
        if share(e) >= FAILING {
            attrs.push("color=red, fontcolor=red".into());
        }
        let _ = writeln!(out, "  {} -> {} [{}];", quoted(&e.from), quoted(&e.to), attrs.join(", "));
    }
    out.push_str("}\n");
    out
}

/// Text Mermaid accepts inside a quoted label.
fn clean(s: &str) -> String {
    s.replace('"', "'")
}

/// A Mermaid `flowchart LR`: nodes by index (`n0`, `n1`, …), destinations in a subgraph per
/// system.
pub fn mermaid(graph: &Graph) -> String {
    let index: BTreeMap<&str, usize> =
        graph.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    let mut out = String::from("flowchart LR\n");
    for (i, n) in graph.nodes.iter().enumerate().filter(|(_, n)| n.kind == NodeKind::Service) {
        let _ = writeln!(out, "  n{i}[\"{}\"]", clean(&n.id));
    }
    for (system, ids) in systems(graph) {
        let _ = writeln!(out, "  subgraph {system}");
        for id in ids {
            let _ = writeln!(out, "    n{}([\"{}\"])", index[id], clean(id));
        }
        out.push_str("  end\n");
    }
    let mut failing = Vec::new();
    for (k, e) in graph.edges.iter().enumerate() {
        let (Some(a), Some(b)) = (index.get(e.from.as_str()), index.get(e.to.as_str())) else {
            continue;
        };
        let arrow = if e.kind == EdgeKind::Call { "-->" } else { "-.->" };
        let _ = writeln!(out, "  n{a} {arrow}|\"{}\"| n{b}", clean(&label(e)));
        if share(e) >= FAILING {
            failing.push(k.to_string());
        }
    }
    if !failing.is_empty() {
        let _ = writeln!(out, "  linkStyle {} stroke:red,color:red", failing.join(","));
    }
    out
}

fn json_of(graph: &Graph) -> serde_json::Value {
    let edges: Vec<serde_json::Value> = graph
        .edges
        .iter()
        .map(|e| {
            json!({
                "from": e.from,
                "to": e.to,
                "kind": e.kind.as_str(),
                "count": e.count,
                "errors": e.errors,
                "error_share": share(e),
                "p50_ns": e.p50_ns,
                "p95_ns": e.p95_ns,
            })
        })
        .collect();
    json!({ "schema": SCHEMA, "nodes": graph.nodes, "edges": edges })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph() -> Graph {
        let node = |id: &str, kind| hopscope_collector::analysis::GraphNode { id: id.into(), kind };
        let edge = |from: &str, to: &str, kind, count, errors| GraphEdge {
            from: from.into(),
            to: to.into(),
            kind,
            count,
            errors,
            p50_ns: 1_000_000,
            p95_ns: 12_000_000,
        };
        Graph {
            nodes: vec![
                node("gateway", NodeKind::Service),
                node("orders", NodeKind::Service),
                node("kafka:orders.placed", NodeKind::Destination),
                node("rabbitmq:audit", NodeKind::Destination),
            ],
            edges: vec![
                edge("gateway", "orders", EdgeKind::Call, 10, 1),
                edge("orders", "kafka:orders.placed", EdgeKind::Emit, 8, 0),
                edge("orders", "rabbitmq:audit", EdgeKind::Emit, 4, 0),
            ],
        }
    }

    #[test]
    fn dot_groups_destinations_by_system_and_marks_failing_edges() {
        let d = dot(&graph());
        assert!(d.starts_with("digraph hopscope {"), "{d}");
        assert!(d.contains("subgraph \"cluster_kafka\""), "{d}");
        assert!(d.contains("\"gateway\" -> \"orders\" [label=\"10 × call, 1 errors (10%), p95 12ms\", color=red"), "{d}");
        assert!(
            d.contains(
                "\"orders\" -> \"rabbitmq:audit\" [label=\"4 × emit, q95 12ms\", style=dashed]"
            ),
            "{d}"
        );
    }

    #[test]
    fn mermaid_is_a_flowchart_with_async_edges_dotted() {
        let m = mermaid(&graph());
        assert!(m.starts_with("flowchart LR\n  n0[\"gateway\"]"), "{m}");
        assert!(m.contains("subgraph rabbitmq\n    n3([\"rabbitmq:audit\"])\n  end"), "{m}");
        assert!(m.contains("n1 -.->|\"8 × emit, q95 12ms\"| n2"), "{m}");
        assert!(m.contains("linkStyle 0 stroke:red"), "{m}");
    }

    #[test]
    fn json_has_a_schema_nodes_and_edges_with_their_error_share() {
        let v: serde_json::Value =
            serde_json::from_str(&build(&graph(), ExportFormat::Json).contents).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["nodes"].as_array().unwrap().len(), 4);
        assert_eq!(v["edges"][0]["error_share"], 0.1);
        assert_eq!(v["nodes"][2]["kind"], "destination");
    }
}
