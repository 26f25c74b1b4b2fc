//! The selected node's pane, beside the diagram on wide screens and under it on narrow ones:
//! a service's calls (out and in), emits and consumes; a destination's producers, consumers
//! and subscriptions (with their lag); each with rate, error share and p95, toned by health.

use std::fmt::Write as _;

use hopscope_collector::analysis::{EdgeKind, NodeKind};

use super::{Health, edge_label, health};
use crate::app::fmt;
use crate::app::state::State;
use crate::app::theme::Tone;
use crate::app::vm::{Line, Seg};

/// The pane's title and lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodePane {
    pub title: String,
    pub lines: Vec<Line>,
}

/// The pane of the node `selected` (an index in the view's graph nodes).
pub fn pane(state: &State, selected: Option<usize>) -> NodePane {
    let a = &state.view.analysis;
    let Some(node) = selected.and_then(|s| a.graph.nodes.get(s)) else {
        return NodePane { title: "nothing selected".to_owned(), lines: Vec::new() };
    };
    let secs = state.totals.data_seconds;
    let id = node.id.as_str();
    let mut lines = Vec::new();
    let (kind, sections): (&str, [(&str, bool, EdgeKind, &str); 4]) = match node.kind {
        NodeKind::Service => (
            "service",
            [
                ("calls", true, EdgeKind::Call, "→ "),
                ("called by", false, EdgeKind::Call, "← "),
                ("emits", true, EdgeKind::Emit, "⇢ "),
                ("consumes", false, EdgeKind::Consume, "⇠ "),
            ],
        ),
        NodeKind::Destination => (
            "destination",
            [
                ("emitted by", false, EdgeKind::Emit, "⇠ "),
                ("consumed by", true, EdgeKind::Consume, "⇢ "),
                ("dead letters to", true, EdgeKind::DeadLetter, "✗⇢ "),
                ("dead letters from", false, EdgeKind::DeadLetter, "✗⇠ "),
            ],
        ),
    };
    for (title, out, kind, arrow) in sections {
        if title.is_empty() {
            continue;
        }
        let edges: Vec<_> = a
            .graph
            .edges
            .iter()
            .filter(|e| e.kind == kind && if out { e.from == id } else { e.to == id })
            .collect();
        if edges.is_empty() {
            continue;
        }
        lines.push(vec![Seg::new(title, Tone::Title)]);
        for e in edges {
            let other = if out { &e.to } else { &e.from };
            let h = health(a, e);
            let tone = match h {
                Health::Bad => Tone::Bad,
                Health::Warn => Tone::Warn,
                Health::Ok => Tone::Dim,
            };
            let mut figures = edge_label(e.kind, e.count, e.errors, e.p95_ns, secs, false);
            if let Some(lag) = Health::lag_word(a, e) {
                figures.push(' ');
                figures.push_str(lag);
            }
            lines.push(vec![
                Seg::new(format!("{}{arrow}", h.symbol_or_space()), tone),
                Seg::new(fmt::fit(other, 28), Tone::Normal),
                Seg::new(format!("  {figures}"), tone),
            ]);
        }
    }
    if node.kind == NodeKind::Destination {
        let subs: Vec<_> =
            a.lag.iter().filter(|l| format!("{}:{}", l.system, l.destination) == id).collect();
        if !subs.is_empty() {
            lines.push(vec![Seg::new("subscriptions (lag)", Tone::Title)]);
        }
        for l in subs {
            let (tone, mark) = super::lag_tone(l.status);
            let group = l.consumer_group.as_deref().unwrap_or("(no consumer)");
            let mut figures = format!("q95 {}", fmt::dur(l.p95_ns));
            if l.unconsumed > 0 {
                let _ = write!(
                    figures,
                    " · {} unconsumed, oldest {}",
                    l.unconsumed,
                    fmt::dur(l.oldest_unconsumed_age_ns)
                );
            }
            lines.push(vec![
                Seg::new(format!("{mark} "), tone),
                Seg::new(fmt::fit(group, 24), Tone::Normal),
                Seg::new(format!("  {} · {figures}", l.status.as_str()), tone),
            ]);
        }
    }
    if lines.is_empty() {
        lines.push(vec![Seg::new("no edges", Tone::Dim)]);
    }
    lines.push(vec![Seg::new("Enter: the flows through it", Tone::Dim)]);
    NodePane { title: format!("{id} · {kind}"), lines }
}
