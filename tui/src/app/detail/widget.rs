//! The flow detail's widget: the title, the timeline's rows with their bars (or the sequence
//! diagram's lanes and arrows), and the span pane beside or under it.

use hopscope_collector::format;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Widget;

use super::vm::{BarKind, DetailBody, DetailVm, SequenceVm, TimelineRowVm};
use crate::app::layout;
use crate::app::theme::{Theme, Tone};
use crate::app::widgets::put;

fn draw_bar(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    width: u16,
    row: &TimelineRowVm,
    theme: Theme,
    base: Style,
) {
    if width == 0 || row.bar == BarKind::None {
        return;
    }
    let w = f64::from(width);
    let x0 = ((row.from * w).floor() as u16).min(width - 1);
    let x1 = ((row.to * w).ceil() as u16).clamp(x0 + 1, width);
    let (glyph, tone) = match (row.bar, row.critical, row.error) {
        (BarKind::Hop, true, _) => ("┅", Tone::Accent),
        (BarKind::Hop, false, _) => ("┄", Tone::Async),
        (_, _, true) => (if row.critical { "━" } else { "─" }, Tone::Bad),
        (_, true, false) => ("━", Tone::Accent),
        _ => ("─", Tone::Normal),
    };
    let style = base.patch(theme.style(tone));
    for i in x0..x1 {
        buf.set_string(x + i, y, glyph, style);
    }
    if row.bar == BarKind::Hop && x1 > x0 {
        buf.set_string(x + x1 - 1, y, "▸", style);
    }
}

impl Widget for &DetailVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let (left, right) = layout::detail(area);
        let beside = area.width >= layout::WIDE;
        put(buf, left.x, left.y, left.width, &self.title, theme, Style::new());
        let (_, rows) = layout::table(left);
        match &self.body {
            DetailBody::Waiting(text) => {
                buf.set_stringn(
                    rows.x + 2,
                    rows.y + 1,
                    text,
                    usize::from(rows.width.saturating_sub(2)),
                    theme.style(Tone::Dim),
                );
            }
            DetailBody::Timeline { rows: lines, label_width } => {
                let dur_w = 8;
                let bar_x = rows.x + 1 + label_width + 1 + dur_w + 1;
                let bar_w = (rows.x + rows.width).saturating_sub(bar_x + 1);
                for (i, row) in lines.iter().enumerate() {
                    let y = rows.y + i as u16;
                    if y >= rows.y + rows.height {
                        break;
                    }
                    let base = if row.selected {
                        buf.set_style(Rect::new(rows.x, y, rows.width, 1), theme.selected());
                        theme.selected()
                    } else {
                        Style::new()
                    };
                    if row.critical {
                        buf.set_string(rows.x, y, "◆", base.patch(theme.style(Tone::Accent)));
                    }
                    put(buf, rows.x + 1, y, *label_width, &row.label, theme, base);
                    let dw = format::width(&row.duration) as u16;
                    let dx = rows.x + 1 + label_width + 1 + dur_w.saturating_sub(dw);
                    buf.set_stringn(
                        dx,
                        y,
                        &row.duration,
                        usize::from(dur_w),
                        base.patch(theme.style(Tone::Dim)),
                    );
                    draw_bar(buf, bar_x, y, bar_w, row, theme, base);
                }
            }
            DetailBody::Sequence(seq) => seq.render_in(rows, buf, theme),
        }
        self.pane.render_in(right, buf, beside);
    }
}

impl SequenceVm {
    fn render_in(&self, area: Rect, buf: &mut Buffer, theme: Theme) {
        if area.height == 0 || self.participants.is_empty() {
            return;
        }
        let time_w: u16 = 8;
        let lanes_x = area.x + time_w + 1;
        let lanes_w = area.width.saturating_sub(time_w + 2);
        let n = self.participants.len() as u16;
        let lane = (lanes_w / n.max(1)).max(1);
        let center = |i: usize| lanes_x + lane * i as u16 + lane / 2;
        // Participants on the first row, lifelines below.
        for (i, p) in self.participants.iter().enumerate() {
            let w = format::width(p) as u16;
            let x = center(i).saturating_sub(w.min(lane.saturating_sub(1)) / 2);
            buf.set_stringn(
                x,
                area.y,
                p,
                usize::from(lane.saturating_sub(1).max(1)),
                theme.style(Tone::Title),
            );
        }
        for (r, row) in self.rows.iter().enumerate() {
            let y = area.y + 1 + r as u16;
            if y >= area.y + area.height {
                break;
            }
            let base = if row.selected {
                buf.set_style(Rect::new(area.x, y, area.width, 1), theme.selected());
                theme.selected()
            } else {
                Style::new()
            };
            buf.set_stringn(
                area.x,
                y,
                &row.time,
                usize::from(time_w),
                base.patch(theme.style(Tone::Dim)),
            );
            for i in 0..self.participants.len() {
                buf.set_string(center(i), y, "│", base.patch(theme.style(Tone::Dim)));
            }
            let tone = if row.error {
                Tone::Bad
            } else if row.event {
                Tone::Async
            } else {
                Tone::Normal
            };
            let style = base.patch(theme.style(tone));
            let (a, b) = (center(row.from), center(row.to));
            if a == b {
                buf.set_stringn(
                    a + 1,
                    y,
                    format!("↺ {}", row.label),
                    usize::from(lane.saturating_sub(2)),
                    style,
                );
                continue;
            }
            let (lo, hi) = (a.min(b), a.max(b));
            let glyph = if row.event { "┄" } else { "─" };
            for x in lo + 1..hi {
                buf.set_string(x, y, glyph, style);
            }
            buf.set_string(b, y, if b > a { "▶" } else { "◀" }, style);
            let room = hi.saturating_sub(lo + 3);
            if room > 2 {
                buf.set_stringn(lo + 2, y, &row.label, usize::from(room), style);
            }
        }
    }
}
