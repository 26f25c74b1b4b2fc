//! The window of the laid-out graph ([`super::canvas::Canvas`]) that is on screen, as a
//! view-model: the boxes and routes that reach into the window (nothing else is looked at
//! twice), in window coordinates (which may start left of or above it: the widget clips),
//! each edge toned by its health and drawn heavy when it touches the selected node; the
//! legend, with the zoom and focus; where the window is on the canvas; and the selected
//! node's pane ([`super::pane`]).

use hopscope_collector::analysis::EdgeKind;
use ratatui::layout::Rect;

use super::canvas::{Canvas, Zoom};
use super::pane::{self, NodePane};
use super::{Health, edge_label, health};
use crate::app::layout;
use crate::app::state::State;
use crate::app::theme::{Theme, Tone};
use crate::app::vm::{Line, Seg};

/// The diagram on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagramVm {
    pub theme: Theme,
    pub boxes: Vec<BoxVm>,
    /// Lines not touching the selected node first, so the highlighted ones are drawn over.
    pub lines: Vec<LineVm>,
    pub legend: Line,
    /// Where the window is on the canvas.
    pub position: String,
    pub pane: NodePane,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxVm {
    /// In window cells (negative: left of or above the window).
    pub x: i32,
    pub y: i32,
    pub width: u16,
    pub height: u16,
    pub label: String,
    pub destination: bool,
    pub selected: bool,
    pub tone: Tone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineVm {
    /// Corners in window cells, the arrow on the last.
    pub points: Vec<(i32, i32)>,
    pub dashed: bool,
    /// One of the selected node's edges.
    pub heavy: bool,
    pub tone: Tone,
    /// Its label, ending just before (x, y).
    pub label: Option<(i32, i32, String)>,
}

/// Where the window onto `canvas` starts, `scroll` kept inside the canvas.
pub fn origin(canvas: &Canvas, scroll: (u16, u16), window: Rect) -> (u16, u16) {
    (
        scroll.0.min(canvas.width.saturating_sub(window.width)),
        scroll.1.min(canvas.height.saturating_sub(window.height)),
    )
}

/// The diagram in the Graph screen's `body`; `None` when nothing is laid out.
pub fn diagram(state: &State, body: Rect) -> Option<DiagramVm> {
    let canvas = state.graph.canvas.as_deref()?;
    if canvas.boxes.is_empty() {
        return None;
    }
    let g = &state.view.analysis.graph;
    let areas = layout::graph(body);
    let window = areas.canvas;
    let (ox, oy) = origin(canvas, state.graph.scroll, window);
    let (right, bottom) = (ox.saturating_add(window.width), oy.saturating_add(window.height));
    let selected = state.graph.list.selected();
    let at = |x: u16, y: u16| (i32::from(x) - i32::from(ox), i32::from(y) - i32::from(oy));
    let boxes = canvas
        .boxes
        .iter()
        .filter(|b| b.x < right && b.x + b.w > ox && b.y < bottom && b.y + b.h > oy)
        .map(|b| {
            let (x, y) = at(b.x, b.y);
            BoxVm {
                x,
                y,
                width: b.w,
                height: b.h,
                label: b.label.clone(),
                destination: b.destination,
                selected: selected == Some(b.node),
                tone: if b.destination { Tone::Async } else { Tone::Title },
            }
        })
        .collect();
    let zoom = state.graph.zoom;
    let secs = state.totals.data_seconds;
    let mut lines: Vec<LineVm> = canvas
        .routes
        .iter()
        .filter(|r| {
            let (l, t, rr, b) = r.bounds;
            l < right && rr >= ox && t < bottom && b >= oy
        })
        .filter_map(|r| {
            let e = g.edges.get(r.edge)?;
            let h = health(&state.view.analysis, e);
            let heavy = selected.is_some_and(|s| s == r.from || s == r.to);
            let tone = match h {
                Health::Bad => Tone::Bad,
                Health::Warn => Tone::Warn,
                Health::Ok if heavy => Tone::Accent,
                Health::Ok if e.kind == EdgeKind::Call => Tone::Normal,
                Health::Ok => Tone::Async,
            };
            let mut text = match zoom {
                Zoom::Normal => {
                    let mut t = edge_label(e.kind, e.count, e.errors, e.p95_ns, secs, true);
                    if let Some(lag) = Health::lag_word(&state.view.analysis, e) {
                        t.push(' ');
                        t.push_str(lag);
                    }
                    t
                }
                Zoom::Compact => h.symbol().to_owned(),
            };
            if r.back {
                text = format!("↩{}{text}", if text.is_empty() { "" } else { " " });
            }
            let (lx, ly, room) = r.label;
            let text: String = text.chars().take(usize::from(room)).collect();
            let (lx, ly) = at(lx, ly);
            Some(LineVm {
                points: r.points.iter().map(|&(x, y)| at(x, y)).collect(),
                dashed: e.kind != EdgeKind::Call,
                heavy,
                tone,
                label: (!text.is_empty()).then_some((lx, ly, text)),
            })
        })
        .collect();
    lines.sort_by_key(|l| l.heavy);
    let position = if canvas.width <= window.width && canvas.height <= window.height {
        String::new()
    } else {
        format!(
            "◫ cols {}-{}/{} rows {}-{}/{}",
            ox + 1,
            right.min(canvas.width),
            canvas.width,
            oy + 1,
            bottom.min(canvas.height),
            canvas.height
        )
    };
    Some(DiagramVm {
        theme: state.ctx.theme,
        boxes,
        lines,
        legend: legend(state, canvas),
        position,
        pane: pane::pane(state, selected),
    })
}

fn legend(state: &State, canvas: &Canvas) -> Line {
    let mut legend = vec![
        Seg::new("─▶ call ", Tone::Normal),
        Seg::new("┄▶ event ", Tone::Async),
        Seg::new("━ selected ", Tone::Accent),
    ];
    if canvas.routes.iter().any(|r| r.back) {
        legend.push(Seg::new("↩ reply ", Tone::Normal));
    }
    legend.push(Seg::new("✗ errors/stalled ", Tone::Bad));
    legend.push(Seg::new("⚠ some errors/lag ", Tone::Warn));
    if let Some(f) = &state.graph.focus {
        legend.push(Seg::new(format!("· focus {} ±{} (f: all) ", f.node, f.hops), Tone::Accent));
    }
    if state.graph.zoom == Zoom::Compact {
        legend.push(Seg::new("· compact (+: full) ", Tone::Dim));
    }
    legend
}
