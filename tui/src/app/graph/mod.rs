//! The Graph screen (tab 2): the choreography graph, services and destinations with the
//! calls, emits and consumes between them, as a layered diagram on a canvas larger than the
//! screen, or a list of nodes and their edges (`v`); Enter shows the flows through the
//! selected node. Here: its state (the selection, the canvas laid out once per change of the
//! graph's shape, the window onto it, zoom and focus), the order it lists, where Enter leads,
//! an edge's label and health. The layout is in [`order`] (layers, crossing reduction) and
//! [`canvas`] (boxes, lanes, routes); the window on screen in [`diagram`], drawn by
//! [`widget`]; the selected node's pane in [`pane`]; moving and panning in [`nav`]; the list
//! in [`vm`]; graphs of any size for tests and benches in [`generated`].

pub mod canvas;
pub mod diagram;
pub mod generated;
pub mod nav;
pub mod order;
pub mod pane;
pub mod vm;
pub mod widget;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use hopscope_collector::analysis::{Analysis, EdgeKind, GraphEdge, LagStatus, NodeKind};
use hopscope_collector::engine::views::View;
use ratatui::layout::Rect;

use self::canvas::{Canvas, Zoom};
use super::fmt;
use super::list::{ListState, Opened, all_rows};
use super::theme::Tone;

/// The Graph screen's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphState {
    /// The nodes, services first, and the selected one.
    pub list: ListState,
    /// A list instead of the diagram (`v`).
    pub as_list: bool,
    pub zoom: Zoom,
    /// Only a node and its neighbours (`f`, `F`).
    pub focus: Option<Focus>,
    /// The canvas cell at the window's top left (kept inside the canvas when drawn).
    pub scroll: (u16, u16),
    /// Where a mouse drag last was.
    pub drag: Option<(u16, u16)>,
    /// The graph laid out, for the shape in `shape`.
    pub canvas: Option<Arc<Canvas>>,
    shape: u64,
}

/// The node in focus and how far its neighbourhood reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Focus {
    pub node: String,
    pub hops: u8,
}

impl GraphState {
    /// Lays the view's graph out again when its shape (nodes, edges, zoom, focus) changed;
    /// then keeps the selected node in the `window`.
    pub fn derive(&mut self, view: &View, window: Rect) {
        let g = &view.analysis.graph;
        if let Some(f) = &self.focus
            && !g.nodes.iter().any(|n| n.id == f.node)
        {
            self.focus = None;
        }
        let mut h = DefaultHasher::new();
        for n in &g.nodes {
            n.id.hash(&mut h);
            (n.kind == NodeKind::Destination).hash(&mut h);
        }
        for e in &g.edges {
            (&e.from, &e.to, e.kind as u8).hash(&mut h);
        }
        (self.zoom == Zoom::Compact).hash(&mut h);
        self.focus.as_ref().map(|f| (&f.node, f.hops)).hash(&mut h);
        let shape = h.finish();
        if self.canvas.is_some() && shape == self.shape {
            return;
        }
        self.shape = shape;
        let keep = self.focus.as_ref().map(|f| neighbourhood(view, &f.node, f.hops));
        let first = self.canvas.as_ref().is_none_or(|c| c.boxes.is_empty());
        let laid = canvas::lay_out(g, keep.as_deref(), self.zoom);
        // The first time, the selection starts at the top left (a source), not the first
        // node listed.
        if first
            && self.list.pos.selected == 0
            && let Some(b) = laid.boxes.first()
            && let Some(i) = self.list.order.iter().position(|&r| r as usize == b.node)
        {
            self.list.pos.selected = i;
            self.list.selected_key = g.nodes.get(b.node).map(|n| n.id.clone());
        }
        self.canvas = Some(Arc::new(laid));
        self.follow(window);
    }

    /// Scrolls as little as needed to show the selected node's box in `window`.
    pub fn follow(&mut self, window: Rect) {
        let (Some(c), Some(sel)) = (self.canvas.as_deref(), self.list.selected()) else {
            return;
        };
        let Some(b) = c.find(sel) else { return };
        let (mut x, mut y) = diagram::origin(c, self.scroll, window);
        let fit = |start: &mut u16, at: u16, len: u16, room: u16| {
            if at < *start || len + 2 > room {
                *start = at.saturating_sub(2);
            } else if at + len + 2 > *start + room {
                *start = at + len + 2 - room;
            }
        };
        // Leave room left of the box for the labels of the edges into it.
        fit(&mut x, b.x.saturating_sub(8), b.w + 8, window.width);
        fit(&mut y, b.y, b.h, window.height);
        self.scroll = diagram::origin(c, (x, y), window);
    }

    /// Selects the node `node` (an index in the view's graph nodes).
    pub fn select(&mut self, node: usize, keys: &[String], page: usize) {
        if let Some(i) = self.list.order.iter().position(|&r| r as usize == node) {
            self.list.pos.selected = i;
            self.list.pos.fit(self.list.order.len(), page);
            self.list.selected_key = keys.get(node).cloned();
        }
    }
}

/// Which nodes are at most `hops` edges (either way) from `node`.
pub fn neighbourhood(view: &View, node: &str, hops: u8) -> Vec<bool> {
    let g = &view.analysis.graph;
    let mut keep = vec![false; g.nodes.len()];
    let Some(start) = g.nodes.iter().position(|n| n.id == node) else { return keep };
    let index = |id: &str| g.nodes.iter().position(|n| n.id == id);
    let mut seen = BTreeSet::from([start]);
    let mut queue = VecDeque::from([(start, 0u8)]);
    while let Some((v, d)) = queue.pop_front() {
        keep[v] = true;
        if d == hops {
            continue;
        }
        let id = g.nodes[v].id.as_str();
        for e in &g.edges {
            let other = if e.from == id {
                index(&e.to)
            } else if e.to == id {
                index(&e.from)
            } else {
                None
            };
            if let Some(w) = other
                && seen.insert(w)
            {
                queue.push_back((w, d + 1));
            }
        }
    }
    keep
}

/// How an edge is doing: its error share and, for a consume, its subscription's lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Ok,
    /// Some errors (under 5%), or lag past the warning threshold.
    Warn,
    /// 5% errors or more, or a stalled subscription.
    Bad,
}

impl Health {
    /// What shows the health without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            Health::Ok => "",
            Health::Warn => "⚠",
            Health::Bad => "✗",
        }
    }

    /// The symbol, or a space.
    pub fn symbol_or_space(self) -> &'static str {
        match self {
            Health::Ok => " ",
            h => h.symbol(),
        }
    }

    /// The word for the lag of a consume edge, when there is some.
    pub fn lag_word(a: &Analysis, e: &GraphEdge) -> Option<&'static str> {
        match edge_lag(a, e)? {
            LagStatus::Warn => Some("⚠lag"),
            LagStatus::Stalled => Some("✗stalled"),
            LagStatus::Ok | LagStatus::NoConsumer => None,
        }
    }
}

/// The worst lag of the subscriptions a consume edge delivers for.
fn edge_lag(a: &Analysis, e: &GraphEdge) -> Option<LagStatus> {
    if e.kind != EdgeKind::Consume {
        return None;
    }
    let rank = |s: LagStatus| match s {
        LagStatus::Ok | LagStatus::NoConsumer => 0,
        LagStatus::Warn => 1,
        LagStatus::Stalled => 2,
    };
    a.lag
        .iter()
        .filter(|l| {
            e.from.split_once(':') == Some((l.system.as_str(), l.destination.as_str()))
                && l.consumer_services.contains(&e.to)
        })
        .map(|l| l.status)
        .max_by_key(|s| rank(*s))
}

/// An edge's health.
pub fn health(a: &Analysis, e: &GraphEdge) -> Health {
    let share = if e.count == 0 { 0.0 } else { e.errors as f64 / e.count as f64 };
    let errors = if share >= 0.05 {
        Health::Bad
    } else if e.errors > 0 {
        Health::Warn
    } else {
        Health::Ok
    };
    let lag = match edge_lag(a, e) {
        Some(LagStatus::Stalled) => Health::Bad,
        Some(LagStatus::Warn) => Health::Warn,
        _ => Health::Ok,
    };
    errors.max(lag)
}

/// A lag status's tone and symbol.
pub fn lag_tone(status: LagStatus) -> (Tone, &'static str) {
    match status {
        LagStatus::Ok => (Tone::Good, "✓"),
        LagStatus::Warn => (Tone::Warn, "⚠"),
        LagStatus::Stalled => (Tone::Bad, "✗"),
        LagStatus::NoConsumer => (Tone::Dim, "∅"),
    }
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
    let rate = fmt::rate(count as f64 / secs.max(1.0));
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
