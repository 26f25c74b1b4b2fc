//! The Graph screen's view-model: the diagram unless the list is asked for (`v`) or there is
//! nothing to draw, else the list of nodes and their edges out.

use hopscope_collector::analysis::{EdgeKind, NodeKind};
use ratatui::layout::Rect;

use super::diagram::{self, DiagramVm};
use super::edge_label;
use crate::app::layout;
use crate::app::state::State;
use crate::app::theme::Tone;
use crate::app::vm::{Seg, TableVm, col};

/// The graph: boxes and arrows, or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphVm {
    Diagram(DiagramVm),
    List(TableVm),
}

fn data_seconds(state: &State) -> f64 {
    state.totals.data_seconds
}

/// The Graph screen in `body`.
pub fn graph(state: &State, body: Rect) -> GraphVm {
    if !state.graph.as_list
        && let Some(d) = diagram::diagram(state, body)
    {
        return GraphVm::Diagram(d);
    }
    GraphVm::List(graph_list(state, body))
}

fn graph_list(state: &State, body: Rect) -> TableVm {
    let theme = state.ctx.theme;
    let a = &state.view.analysis;
    let secs = data_seconds(state);
    let columns = vec![
        col("NODE", 24, false),
        col(
            "EDGES OUT (rate, errors, p95 latency or q95 queue time)",
            body.width.saturating_sub(25),
            false,
        ),
    ];
    let pos = state.graph.list.pos;
    let rows = state
        .graph
        .list
        .order
        .iter()
        .skip(pos.offset)
        .take(layout::list_rows(body))
        .map(|&i| {
            let n = &a.graph.nodes[i as usize];
            let node = match n.kind {
                NodeKind::Service => {
                    vec![Seg::new("□ ", Tone::Dim), Seg::new(n.id.clone(), Tone::Title)]
                }
                NodeKind::Destination => {
                    vec![Seg::new("◇ ", Tone::Async), Seg::new(n.id.clone(), Tone::Async)]
                }
            };
            let mut out = Vec::new();
            for e in a.graph.edges.iter().filter(|e| e.from == n.id) {
                let (arrow, tone) = match e.kind {
                    EdgeKind::Call => ("→ ", Tone::Normal),
                    // Messages the broker moved to a dead-letter destination.
                    EdgeKind::DeadLetter => ("✗⇢ ", Tone::Bad),
                    EdgeKind::Emit | EdgeKind::Consume => ("⇢ ", Tone::Async),
                };
                out.push(Seg::new(arrow, tone));
                out.push(Seg::new(e.to.clone(), Tone::Normal));
                out.push(Seg::new(
                    format!(
                        " ({})  ",
                        edge_label(e.kind, e.count, e.errors, e.p95_ns, secs, false)
                    ),
                    if e.errors > 0 { Tone::Bad } else { Tone::Dim },
                ));
            }
            vec![node, out]
        })
        .collect();
    TableVm {
        theme,
        columns,
        rows,
        selected: (!state.graph.list.order.is_empty()).then(|| pos.selected - pos.offset),
        empty: vec!["No services seen yet.".to_owned()],
    }
}
