//! The Graph screen (tab 2): the choreography graph, services and destinations with the
//! calls, emits and consumes between them, as a diagram when it fits ([`diagram`]) or a list
//! of nodes and their edges (`v`); Enter shows the flows through the selected node. Here:
//! its state, the order it lists, where Enter leads and an edge's label; its view-model in
//! [`vm`], the diagram's widget in [`widget`].

pub mod diagram;
pub mod vm;
pub mod widget;

use hopscope_collector::analysis::{EdgeKind, NodeKind};
use hopscope_collector::engine::views::View;

use super::fmt;
use super::list::{ListState, Opened, all_rows};

/// The Graph screen's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphState {
    /// The nodes, services first, and the selected one.
    pub list: ListState,
    /// A list even when the diagram fits (`v`).
    pub as_list: bool,
}

/// The nodes in the order listed (the view's: services first), and each one's key.
pub fn order(view: &View) -> (Vec<u32>, Vec<String>) {
    let nodes = &view.analysis.graph.nodes;
    (all_rows(nodes.len()), nodes.iter().map(|n| n.id.clone()).collect())
}

/// Where Enter on the node `row` (of `view.analysis.graph.nodes`) leads: the flows through
/// the service or the destination.
pub fn open(view: &View, row: usize) -> Opened {
    let n = &view.analysis.graph.nodes[row];
    Opened::FlowsWhere(match n.kind {
        NodeKind::Service => format!("service:{}", n.id),
        NodeKind::Destination => {
            format!("dest:{}", n.id.split_once(':').map_or(n.id.as_str(), |(_, d)| d))
        }
    })
}

/// Edge text: rate, error share, p95 (latency for calls, queue time for events).
pub fn edge_label(
    kind: EdgeKind,
    count: u64,
    errors: u64,
    p95: u64,
    secs: f64,
    compact: bool,
) -> String {
    let rate = count as f64 / secs.max(1.0);
    let rate = if rate >= 10.0 {
        format!("{rate:.0}/s")
    } else if rate >= 1.0 {
        format!("{rate:.1}/s")
    } else if rate * 60.0 >= 10.0 {
        format!("{:.0}/min", rate * 60.0)
    } else {
        format!("{:.1}/min", rate * 60.0)
    };
    let err = if count == 0 { 0.0 } else { errors as f64 * 100.0 / count as f64 };
    let what = if kind == EdgeKind::Call { "p95" } else { "q95" };
    if compact {
        let err = if errors > 0 { format!(" ✗{err:.0}%") } else { String::new() };
        return format!("{rate} {}{err}", fmt::dur(p95));
    }
    if errors > 0 {
        format!("{rate} {err:.0}%err {what} {}", fmt::dur(p95))
    } else {
        format!("{rate} {what} {}", fmt::dur(p95))
    }
}
