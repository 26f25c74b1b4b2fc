//! Moving about the diagram: the selection steps between nodes (↑ ↓ within a column, ← → to
//! the next column, along the selected node's edges where one goes there) and the
//! window follows it; PgUp/PgDn, `H J K L`, the wheel and a mouse drag pan the window without
//! moving the selection; a click selects a box (a second click opens it); `f`/`F` focus on the
//! selected node's neighbourhood, `-`/`+` zoom. Enter and the list (`v`) are the list
//! screens' (`update`).

use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use super::canvas::{Canvas, Placed, Zoom};
use super::{Focus, diagram};
use crate::app::keys::{Action, Motion};
use crate::app::layout;
use crate::app::state::State;

/// The window onto the canvas at the state's size.
pub fn window(state: &State) -> Rect {
    layout::graph(state.body()).canvas
}

/// What a mouse event on the Graph screen came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mouse {
    /// Taken: a pan, a selection, a drag.
    Done,
    /// A click on the selected box: open it, as Enter does.
    Open,
    /// Not the diagram's: handle it as on any screen.
    Pass,
}

/// A key on the Graph screen's diagram; `false` when it is not the diagram's to handle.
pub fn on_key(state: &mut State, action: Action) -> bool {
    let win = window(state);
    match action {
        Action::Move(Motion::Up) => step_vertical(state, -1),
        Action::Move(Motion::Down) => step_vertical(state, 1),
        Action::Move(Motion::First) => select_end(state, false),
        Action::Move(Motion::Last) => select_end(state, true),
        Action::Move(Motion::PageUp) => pan(state, 0, -i32::from(win.height)),
        Action::Move(Motion::PageDown) => pan(state, 0, i32::from(win.height)),
        Action::Move(Motion::HalfPageUp) => pan(state, 0, -i32::from(win.height / 2)),
        Action::Move(Motion::HalfPageDown) => pan(state, 0, i32::from(win.height / 2)),
        Action::GraphStep(right) => step_horizontal(state, right),
        Action::Pan(dx, dy) => {
            pan(
                state,
                i32::from(dx) * i32::from(win.width / 2),
                i32::from(dy) * i32::from(win.height / 2),
            );
        }
        Action::Focus(hops) => {
            let node =
                state.graph.list.selected().map(|s| state.view.analysis.graph.nodes[s].id.clone());
            state.graph.focus = match (&state.graph.focus, node) {
                (Some(f), _) if f.hops == hops => None,
                (_, Some(node)) => Some(Focus { node, hops }),
                (_, None) => None,
            };
            relayout(state);
        }
        Action::Zoom(full) => {
            state.graph.zoom = if full { Zoom::Normal } else { Zoom::Compact };
            relayout(state);
        }
        _ => return false,
    }
    true
}

/// Lays out again (zoom or focus changed) and brings the selection into view.
fn relayout(state: &mut State) {
    let win = window(state);
    state.graph.derive(&state.view, win);
    state.graph.follow(win);
}

/// Pans the window by (dx, dy) cells, inside the canvas.
pub fn pan(state: &mut State, dx: i32, dy: i32) {
    let win = window(state);
    let Some(c) = state.graph.canvas.as_deref() else { return };
    let (x, y) = diagram::origin(c, state.graph.scroll, win);
    let shift = |at: u16, d: i32| u16::try_from((i32::from(at) + d).max(0)).unwrap_or(u16::MAX);
    state.graph.scroll = diagram::origin(c, (shift(x, dx), shift(y, dy)), win);
}

fn choose(state: &mut State, node: usize) {
    let (_, keys) = super::order(&state.view);
    let page = state.page();
    state.graph.select(node, &keys, page);
    let win = window(state);
    state.graph.follow(win);
}

fn selected_box(state: &State) -> Option<(&Canvas, &Placed)> {
    let c = state.graph.canvas.as_deref()?;
    let sel = state.graph.list.selected()?;
    Some((c, c.find(sel).or_else(|| c.boxes.first())?))
}

fn centre(b: &Placed) -> i32 {
    i32::from(b.y) + i32::from(b.h) / 2
}

fn step_vertical(state: &mut State, by: i32) {
    let Some((c, cur)) = selected_box(state) else { return };
    let column: Vec<&Placed> = c.boxes.iter().filter(|b| b.layer == cur.layer).collect();
    let Some(i) = column.iter().position(|b| b.node == cur.node) else { return };
    let next = i.checked_add_signed(by as isize).and_then(|j| column.get(j));
    let target = next.map_or(cur.node, |b| b.node);
    choose(state, target);
}

fn step_horizontal(state: &mut State, right: bool) {
    let Some((c, cur)) = selected_box(state) else { return };
    // The next column (every column holds a node): along an edge of the selected node if
    // one goes there, else to the nearest box.
    let Some(next) = (if right { cur.layer.checked_add(1) } else { cur.layer.checked_sub(1) })
    else {
        return;
    };
    let ahead = |b: &Placed| b.layer == next;
    let distance = |b: &Placed| ((centre(b) - centre(cur)).unsigned_abs(), b.node);
    let neighbours = c
        .routes
        .iter()
        .filter_map(|r| {
            if r.from == cur.node {
                Some(r.to)
            } else if r.to == cur.node {
                Some(r.from)
            } else {
                None
            }
        })
        .filter_map(|n| c.find(n))
        .filter(|b| ahead(b))
        .min_by_key(|b| distance(b));
    let target =
        neighbours.or_else(|| c.boxes.iter().filter(|b| ahead(b)).min_by_key(|b| distance(b)));
    if let Some(b) = target {
        let node = b.node;
        choose(state, node);
    }
}

fn select_end(state: &mut State, last: bool) {
    let Some(c) = state.graph.canvas.as_deref() else { return };
    let b = if last { c.boxes.last() } else { c.boxes.first() };
    if let Some(node) = b.map(|b| b.node) {
        choose(state, node);
    }
}

/// A mouse event on the Graph screen's diagram.
pub fn on_mouse(state: &mut State, m: MouseEvent) -> Mouse {
    let win = window(state);
    let inside = layout::contains(win, m.column, m.row);
    match m.kind {
        MouseEventKind::ScrollDown if inside => pan(state, 0, 3),
        MouseEventKind::ScrollUp if inside => pan(state, 0, -3),
        MouseEventKind::ScrollRight if inside => pan(state, 6, 0),
        MouseEventKind::ScrollLeft if inside => pan(state, -6, 0),
        MouseEventKind::Down(MouseButton::Left) if inside => {
            state.graph.drag = Some((m.column, m.row));
            let Some(c) = state.graph.canvas.as_deref() else { return Mouse::Done };
            let (ox, oy) = diagram::origin(c, state.graph.scroll, win);
            let (x, y) = (ox + m.column - win.x, oy + m.row - win.y);
            if let Some(node) = c.boxes.iter().find(|b| b.holds(x, y)).map(|b| b.node) {
                if state.graph.list.selected() == Some(node) {
                    return Mouse::Open;
                }
                let (_, keys) = super::order(&state.view);
                let page = state.page();
                state.graph.select(node, &keys, page);
            }
        }
        // Not the list's rows: a click on the pane or the legend does nothing.
        MouseEventKind::Down(MouseButton::Left)
            if layout::contains(state.body(), m.column, m.row) => {}
        MouseEventKind::Drag(MouseButton::Left) => {
            let Some((x0, y0)) = state.graph.drag else { return Mouse::Pass };
            state.graph.drag = Some((m.column, m.row));
            pan(state, i32::from(x0) - i32::from(m.column), i32::from(y0) - i32::from(m.row));
        }
        MouseEventKind::Up(MouseButton::Left) => {
            state.graph.drag = None;
            return Mouse::Pass;
        }
        _ => return Mouse::Pass,
    }
    Mouse::Done
}
