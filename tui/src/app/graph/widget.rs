//! The Graph screen's diagram widget: in the window, lines first (the selected node's heavy,
//! over the others; a line crossing another makes a `┼`), then their labels, then the boxes
//! over everything (the selected one double-lined); the legend and the window's position on
//! the row under it; the node pane beside or under it ([`layout::graph`]).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Widget;

use super::diagram::{BoxVm, DiagramVm, LineVm};
use crate::app::layout;
use crate::app::theme::{Theme, Tone};
use crate::app::vm::PaneVm;
use crate::app::widgets::put;

/// Draws cells into `area`, in window coordinates, dropping those outside it.
struct Painter<'a> {
    buf: &'a mut Buffer,
    area: Rect,
}

impl Painter<'_> {
    fn cell(&self, x: i32, y: i32) -> Option<(u16, u16)> {
        let (w, h) = (i32::from(self.area.width), i32::from(self.area.height));
        (x >= 0 && y >= 0 && x < w && y < h)
            .then(|| (self.area.x + x as u16, self.area.y + y as u16))
    }

    fn set(&mut self, x: i32, y: i32, s: &str, style: Style) {
        if let Some((cx, cy)) = self.cell(x, y) {
            self.buf[(cx, cy)].set_symbol(s).set_style(style);
        }
    }

    fn symbol(&self, x: i32, y: i32) -> &str {
        self.cell(x, y).map_or("", |(cx, cy)| self.buf[(cx, cy)].symbol())
    }

    fn text(&mut self, x: i32, y: i32, text: &str, style: Style) {
        for (i, ch) in text.chars().enumerate() {
            let mut b = [0u8; 4];
            self.set(x + i as i32, y, ch.encode_utf8(&mut b), style);
        }
    }
}

/// The glyphs of a line: horizontal, vertical, and corners ┌ ┐ └ ┘.
struct Glyphs {
    h: &'static str,
    v: &'static str,
    corners: [&'static str; 4],
    cross: &'static str,
}

fn glyphs(dashed: bool, heavy: bool) -> Glyphs {
    match (dashed, heavy) {
        (false, false) => {
            Glyphs { h: "─", v: "│", corners: ["╭", "╮", "╰", "╯"], cross: "┼" }
        }
        (true, false) => {
            Glyphs { h: "┄", v: "┆", corners: ["╭", "╮", "╰", "╯"], cross: "┼" }
        }
        (false, true) => {
            Glyphs { h: "━", v: "┃", corners: ["┏", "┓", "┗", "┛"], cross: "╋" }
        }
        (true, true) => {
            Glyphs { h: "┅", v: "┇", corners: ["┏", "┓", "┗", "┛"], cross: "╋" }
        }
    }
}

fn vertical(s: &str) -> bool {
    matches!(s, "│" | "┆" | "┃" | "┇")
}

fn horizontal(s: &str) -> bool {
    matches!(s, "─" | "┄" | "━" | "┅")
}

fn draw_line(p: &mut Painter<'_>, l: &LineVm, theme: Theme) {
    let style = theme.style(l.tone);
    let g = glyphs(l.dashed, l.heavy);
    // Only the cells in the window are visited: a route may run far beyond it.
    let (width, height) = (i32::from(p.area.width), i32::from(p.area.height));
    for w in l.points.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if y0 == y1 {
            if y0 < 0 || y0 >= height {
                continue;
            }
            for x in x0.min(x1).max(0)..=x0.max(x1).min(width - 1) {
                let s = if vertical(p.symbol(x, y0)) { g.cross } else { g.h };
                p.set(x, y0, s, style);
            }
        } else {
            if x0 < 0 || x0 >= width {
                continue;
            }
            for y in y0.min(y1).max(0)..=y0.max(y1).min(height - 1) {
                let s = if horizontal(p.symbol(x0, y)) { g.cross } else { g.v };
                p.set(x0, y, s, style);
            }
        }
    }
    // Corners: where the line turns, from the way it came and the way it goes.
    for w in l.points.windows(3) {
        let ((ax, ay), (bx, by), (cx, cy)) = (w[0], w[1], w[2]);
        let (dx_in, dy_in) = ((bx - ax).signum(), (by - ay).signum());
        let (dx_out, dy_out) = ((cx - bx).signum(), (cy - by).signum());
        // The two neighbours the corner joins: left/right and up/down.
        let left = dx_in > 0 || dx_out < 0;
        let up = dy_in > 0 || dy_out < 0;
        let corner = match (left, up) {
            (false, false) => g.corners[0],
            (true, false) => g.corners[1],
            (false, true) => g.corners[2],
            (true, true) => g.corners[3],
        };
        p.set(bx, by, corner, style);
    }
    if let [.., (ax, ay), (bx, by)] = l.points[..] {
        let tip = if bx > ax {
            "▶"
        } else if bx < ax {
            "◀"
        } else if by > ay {
            "▼"
        } else {
            "▲"
        };
        p.set(bx, by, tip, style);
    }
}

#[expect(clippy::many_single_char_names, reason = "coordinates: x, y, w, h")]
fn draw_box(p: &mut Painter<'_>, b: &BoxVm, theme: Theme) {
    let (w, h) = (i32::from(b.width), i32::from(b.height));
    if w < 2 || h < 2 {
        return;
    }
    let border = if b.selected { theme.style(Tone::Accent) } else { theme.style(b.tone) };
    let [tl, tr, bl, br, hz, vt] = match (b.selected, b.destination) {
        (true, _) => ["╔", "╗", "╚", "╝", "═", "║"],
        (false, true) => ["╭", "╮", "╰", "╯", "─", "│"],
        (false, false) => ["┌", "┐", "└", "┘", "─", "│"],
    };
    for dy in 0..h {
        for dx in 0..w {
            let s = match (dx, dy) {
                (0, 0) => tl,
                (x, 0) if x == w - 1 => tr,
                (0, y) if y == h - 1 => bl,
                (x, y) if x == w - 1 && y == h - 1 => br,
                (_, 0) => hz,
                (_, y) if y == h - 1 => hz,
                (0, _) => vt,
                (x, _) if x == w - 1 => vt,
                _ => " ",
            };
            p.set(b.x + dx, b.y + dy, s, if s == " " { Style::new() } else { border });
        }
    }
    let style = if b.selected { theme.selected() } else { theme.style(b.tone) };
    let room = usize::try_from(w - 3).unwrap_or(0);
    let label: String = b.label.chars().take(room).collect();
    p.text(b.x + 2, b.y + (h - 1) / 2, &label, style);
}

impl Widget for &DiagramVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let areas = layout::graph(area);
        let mut p = Painter { buf, area: areas.canvas };
        for l in &self.lines {
            draw_line(&mut p, l, theme);
        }
        for l in &self.lines {
            if let Some((x, y, text)) = &l.label {
                let w = text.chars().count() as i32;
                p.text(x - w, *y, text, theme.style(l.tone));
            }
        }
        for b in &self.boxes {
            draw_box(&mut p, b, theme);
        }
        let legend = areas.legend;
        if legend.height > 0 {
            let pos_w = self.position.chars().count() as u16;
            let room = legend.width.saturating_sub(pos_w + 2);
            put(buf, legend.x + 1, legend.y, room, &self.legend, theme, Style::new());
            if pos_w > 0 && legend.width > pos_w + 1 {
                buf.set_string(
                    legend.x + legend.width - pos_w - 1,
                    legend.y,
                    &self.position,
                    theme.style(Tone::Dim),
                );
            }
        }
        let pane = PaneVm { theme, title: self.pane.title.clone(), lines: self.pane.lines.clone() };
        pane.render_in(areas.pane, buf, areas.pane.x > area.x);
    }
}
