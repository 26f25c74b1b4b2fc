//! Where things are on screen, as plain geometry: shared by the widgets and view-models (to
//! draw) and by `update` (to page, keep the selection in view and hit-test mouse clicks), so
//! both agree: the frame's areas, tables, the detail's, the Sagas and Architecture panes, the
//! Flows columns and the tabs.
//!
//! ```text
//! ┌──────────────────────────────────────────────────────────────────────────────┐
//! │ header: mode, endpoints, spans/s, stored, memory, refused, evicted, clock    │ row 0
//! │ tabs:   1 Flows  2 Graph  3 Sagas  4 Lag  5 Insights  6 Arch  7 Events  ? help  │ row 1
//! ├──────────────────────────────────────────────────────────────────────────────┤
//! │ body: the screen (a table's column header, then its rows; or the flow        │
//! │ detail: timeline and span pane side by side when wide, stacked when narrow)  │
//! ├──────────────────────────────────────────────────────────────────────────────┤
//! │ footer: keys, the filter being typed, or a message                           │ last
//! └──────────────────────────────────────────────────────────────────────────────┘
//! ```

use ratatui::layout::Rect;

use super::flows::FlowColumn;
use super::screen::{Screen, Totals, tabs};

/// Wide enough to put the span pane beside the timeline.
pub const WIDE: u16 = 150;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub tabs: Rect,
    pub body: Rect,
    pub footer: Rect,
}

/// The frame's main areas.
pub fn areas(width: u16, height: u16) -> Areas {
    let row = |y: u16, h: u16| Rect::new(0, y.min(height), width, h.min(height.saturating_sub(y)));
    Areas {
        header: row(0, 1),
        tabs: row(1, 1),
        body: row(2, height.saturating_sub(3)),
        footer: row(height.saturating_sub(1), u16::from(height >= 3)),
    }
}

/// A table in `area`: one header row, then rows. Returns (header, rows).
pub fn table(area: Rect) -> (Rect, Rect) {
    let header = Rect { height: area.height.min(1), ..area };
    let rows = Rect { y: area.y + header.height, height: area.height - header.height, ..area };
    (header, rows)
}

/// The flow detail: (timeline, span pane).
pub fn detail(body: Rect) -> (Rect, Rect) {
    if body.width >= WIDE {
        let left = body.width * 3 / 5;
        (Rect { width: left, ..body }, Rect { x: body.x + left, width: body.width - left, ..body })
    } else {
        let top = (body.height * 11 / 20).max(body.height.min(4));
        (Rect { height: top, ..body }, Rect { y: body.y + top, height: body.height - top, ..body })
    }
}

/// The sagas screen: (table, steps of the selected saga).
pub fn sagas(body: Rect) -> (Rect, Rect) {
    let top = (body.height / 2).max(body.height.min(3));
    (Rect { height: top, ..body }, Rect { y: body.y + top, height: body.height - top, ..body })
}

/// The Events screen: (table of events, the board or timeline of the selected one).
pub fn events(body: Rect) -> (Rect, Rect) {
    let top = (body.height * 2 / 5).max(body.height.min(3));
    (Rect { height: top, ..body }, Rect { y: body.y + top, height: body.height - top, ..body })
}

/// The Graph screen's diagram: the window onto the canvas, the legend row under it, and the
/// selected node's pane (beside it from [`GRAPH_WIDE`] columns, else under it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphAreas {
    pub canvas: Rect,
    pub legend: Rect,
    pub pane: Rect,
}

/// Wide enough to put the node pane beside the diagram.
pub const GRAPH_WIDE: u16 = 140;

/// Where the Graph screen's diagram, legend and node pane go in `body`.
pub fn graph(body: Rect) -> GraphAreas {
    let (diagram, pane) = if body.width >= GRAPH_WIDE {
        let w = (body.width / 4).clamp(40, 64);
        (
            Rect { width: body.width - w, ..body },
            Rect { x: body.x + body.width - w, width: w, ..body },
        )
    } else {
        let h = (body.height / 3).clamp(body.height.min(3), 9);
        (
            Rect { height: body.height - h, ..body },
            Rect { y: body.y + body.height - h, height: h, ..body },
        )
    };
    let rows = diagram.height.saturating_sub(1);
    GraphAreas {
        canvas: Rect { height: rows, ..diagram },
        legend: Rect { y: diagram.y + rows, height: diagram.height - rows, ..diagram },
        pane,
    }
}

/// The Architecture screen: (table, the selected row's advice). The pane takes a third of
/// the body, three to eight rows, and the table keeps at least three.
pub fn architecture(body: Rect) -> (Rect, Rect) {
    let pane = (body.height / 3).clamp(3, 8).min(body.height.saturating_sub(3));
    let top = body.height - pane;
    (Rect { height: top, ..body }, Rect { y: body.y + top, height: pane, ..body })
}

/// Rows a list shows in `area` after its header row.
pub fn list_rows(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(1))
}

/// Whether (x, y) is inside `r`.
pub fn contains(r: Rect, x: u16, y: u16) -> bool {
    x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
}

/// Rows of the span pane in `area` (after its title row).
pub fn span_pane_page(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(1))
}

/// Flow columns shown at `width`, each with its width; the root column takes the rest.
pub fn flow_columns(width: u16) -> Vec<(FlowColumn, u16)> {
    let wide = width >= 120;
    let mut cols = vec![(FlowColumn::Status, 11), (FlowColumn::Root, 0)];
    cols.push((FlowColumn::Start, if wide { 12 } else { 8 }));
    cols.push((FlowColumn::Duration, 8));
    if wide {
        cols.push((FlowColumn::Traces, 6));
        cols.push((FlowColumn::Services, 4));
    }
    cols.push((FlowColumn::Hops, 4));
    cols.push((FlowColumn::Queue, if wide { 11 } else { 7 }));
    let fixed: u16 = cols.iter().map(|(_, w)| *w + 1).sum();
    cols[1].1 = width.saturating_sub(fixed).max(8);
    cols
}

/// The Flows column at `x` in a body `width` wide.
pub fn flow_column_at(width: u16, x: u16) -> Option<FlowColumn> {
    let mut at = 0;
    for (c, w) in flow_columns(width) {
        if x >= at && x < at + w + 1 {
            return Some(c);
        }
        at += w + 1;
    }
    None
}

/// Blank columns before the first tab.
pub const TAB_PAD: usize = 1;

/// What the tab bar always keeps at its right: the help key.
pub const TABS_RIGHT: &str = "? help ";

/// Columns for the tabs in a tab bar `width` wide.
pub fn tab_room(width: u16) -> usize {
    usize::from(width).saturating_sub(TAB_PAD + TABS_RIGHT.len())
}

/// The screen whose tab is at column `x` in a tab bar `width` wide, the tabs badged with
/// `totals`.
pub fn tab_at(totals: &Totals, width: u16, current: Screen, x: u16) -> Option<Screen> {
    let mut at = TAB_PAD;
    for tab in tabs(totals, tab_room(width), current) {
        let w = tab.width();
        if (at..at + w).contains(&usize::from(x)) {
            return Some(tab.screen);
        }
        at += w + 1;
    }
    None
}
