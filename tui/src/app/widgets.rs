//! Widgets shared by every screen: each draws one view-model (`impl Widget for &ViewModel`)
//! and nothing else. They read no state, compute no orders and never change anything but
//! the buffer. Screen-specific widgets live with their screen.

use hopscope_collector::format;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Borders, Widget};

use super::layout;
use super::theme::{Theme, Tone};
use super::vm::{BarVm, Line, PaneVm, TableVm, width_of};

/// Writes `line` from (x, y), never past `x + width`; returns the column after it.
pub fn put(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    width: u16,
    line: &Line,
    theme: Theme,
    base: Style,
) -> u16 {
    let end = x.saturating_add(width);
    let mut at = x;
    let total = width_of(line);
    let cut = total > usize::from(width);
    for (i, seg) in line.iter().enumerate() {
        if at >= end {
            break;
        }
        let room = end - at;
        let last_room =
            cut && usize::from(room) < format::width(&seg.text) + usize::from(i + 1 < line.len());
        let style = base.patch(theme.style(seg.tone));
        if last_room && room > 0 {
            let (nx, _) = buf.set_stringn(at, y, &seg.text, usize::from(room - 1), style);
            buf.set_string(nx.min(end - 1), y, "…", style);
            return end;
        }
        let (nx, _) = buf.set_stringn(at, y, &seg.text, usize::from(room), style);
        at = nx;
    }
    at
}

impl Widget for &BarVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let base = if self.emphasis { self.theme.selected() } else { Style::new() };
        buf.set_style(area, base);
        // The left part first: the right one only where it fits whole.
        let lw = width_of(&self.left);
        let rw = width_of(&self.right);
        let right_fits = lw + 1 + rw <= usize::from(area.width);
        put(buf, area.x, area.y, area.width, &self.left, self.theme, base);
        if right_fits {
            let rw = rw as u16;
            put(buf, area.x + area.width - rw, area.y, rw, &self.right, self.theme, base);
        }
    }
}

impl Widget for &TableVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (header, rows) = layout::table(area);
        let theme = self.theme;
        let mut x = area.x;
        for c in &self.columns {
            let w = c.width.min((area.x + area.width).saturating_sub(x));
            if w == 0 {
                break;
            }
            let mut title = c.title.clone();
            match c.sorted {
                Some(true) => title.push('▼'),
                Some(false) => title.push('▲'),
                None => {}
            }
            let tw = format::width(&title) as u16;
            let tx = if c.right && tw < w { x + w - tw } else { x };
            buf.set_stringn(tx, header.y, &title, usize::from(w), theme.header());
            x = x.saturating_add(c.width + 1);
        }
        if self.rows.is_empty() {
            for (i, line) in self.empty.iter().enumerate() {
                let y = rows.y + 1 + i as u16;
                if y < rows.y + rows.height {
                    buf.set_stringn(
                        rows.x + 2,
                        y,
                        line,
                        usize::from(rows.width.saturating_sub(2)),
                        theme.style(Tone::Dim),
                    );
                }
            }
            return;
        }
        for (i, row) in self.rows.iter().enumerate() {
            let y = rows.y + i as u16;
            if y >= rows.y + rows.height {
                break;
            }
            let base = if self.selected == Some(i) {
                let r = Rect::new(rows.x, y, rows.width, 1);
                buf.set_style(r, theme.selected());
                theme.selected()
            } else {
                Style::new()
            };
            let mut x = rows.x;
            for (c, cell) in self.columns.iter().zip(row) {
                let w = c.width.min((rows.x + rows.width).saturating_sub(x));
                if w == 0 {
                    break;
                }
                let cw = width_of(cell) as u16;
                let cx = if c.right && cw < w { x + w - cw } else { x };
                put(buf, cx, y, w - (cx - x), cell, theme, base);
                x = x.saturating_add(c.width + 1);
            }
        }
    }
}

/// The block around a pane: a rule on its left when beside what it describes, else on top.
pub fn pane_block(theme: Theme, title: &str, beside: bool) -> Block<'static> {
    Block::new()
        .borders(if beside { Borders::LEFT } else { Borders::TOP })
        .border_style(theme.style(Tone::Dim))
        .title(format!(" {title} "))
        .title_style(theme.style(Tone::Title))
}

impl PaneVm {
    /// Draws the pane in `area`, beside what it describes or under it.
    pub fn render_in(&self, area: Rect, buf: &mut Buffer, beside: bool) {
        let block = pane_block(self.theme, &self.title, beside);
        let inner = block.inner(area);
        block.render(area, buf);
        for (i, line) in self.lines.iter().enumerate() {
            let y = inner.y + i as u16;
            if y >= inner.y + inner.height {
                break;
            }
            put(buf, inner.x + 1, y, inner.width.saturating_sub(1), line, self.theme, Style::new());
        }
    }
}
