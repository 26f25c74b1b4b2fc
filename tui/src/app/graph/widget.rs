//! The Graph screen's diagram widget: arrows first, then their labels, then the boxes over
//! everything, and the legend on the last row.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Clear, Widget};

use super::diagram::DiagramVm;
use crate::app::theme::Tone;
use crate::app::widgets::put;

impl Widget for &DiagramVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let inside = |x: u16, y: u16| x < area.width && y < area.height;
        let set = |buf: &mut Buffer, x: u16, y: u16, s: &str, style: Style| {
            if inside(x, y) {
                buf.set_string(area.x + x, area.y + y, s, style);
            }
        };
        // Lines first, then labels, then boxes over everything.
        for a in &self.arrows {
            let style = theme.style(a.tone);
            let (h, v) = if a.dashed { ("┄", "┆") } else { ("─", "│") };
            let ((x0, y0), (x1, y1), lane) = (a.from, a.to, a.lane);
            if let Some((out_lane, row)) = a.back {
                // Out to the right, down to its row, back left, up and into the target.
                for x in x0..out_lane {
                    set(buf, x, y0, h, style);
                }
                set(buf, out_lane, y0, "╮", style);
                for y in y0 + 1..row {
                    set(buf, out_lane, y, v, style);
                }
                set(buf, out_lane, row, "╯", style);
                for x in lane + 1..out_lane {
                    set(buf, x, row, h, style);
                }
                set(buf, lane, row, "╰", style);
                for y in y1 + 1..row {
                    set(buf, lane, y, v, style);
                }
                set(buf, lane, y1, "╭", style);
                for x in lane + 1..x1 {
                    set(buf, x, y1, h, style);
                }
                set(buf, x1, y1, "▶", style);
                continue;
            }
            for x in x0..lane {
                set(buf, x, y0, h, style);
            }
            if y0 == y1 {
                set(buf, lane, y0, h, style);
            } else {
                for y in y0.min(y1)..=y0.max(y1) {
                    set(buf, lane, y, v, style);
                }
                set(buf, lane, y0, if y1 > y0 { "╮" } else { "╯" }, style);
                set(buf, lane, y1, if y1 > y0 { "╰" } else { "╭" }, style);
            }
            for x in lane + 1..x1 {
                set(buf, x, y1, h, style);
            }
            set(buf, x1, y1, "▶", style);
        }
        for a in &self.arrows {
            if let Some((out_lane, row)) = a.back {
                let room = out_lane.saturating_sub(a.lane + 3);
                let text: String = a.label.chars().take(usize::from(room)).collect();
                if room >= 6 {
                    set(buf, a.lane + 2, row, &text, theme.style(a.tone));
                }
                continue;
            }
            let room = a.to.0.saturating_sub(a.lane + 2);
            let text: String = a.label.chars().take(usize::from(room)).collect();
            if room >= 6 {
                let w = text.chars().count() as u16;
                set(buf, a.to.0.saturating_sub(w + 1), a.to.1, &text, theme.style(a.tone));
            }
        }
        for b in &self.boxes {
            if !inside(b.x + b.width.saturating_sub(1), b.y + b.height.saturating_sub(1)) {
                continue;
            }
            let r = Rect::new(area.x + b.x, area.y + b.y, b.width, b.height);
            let border = if b.selected { theme.style(Tone::Accent) } else { theme.style(b.tone) };
            let block = if b.destination {
                Block::bordered().border_type(ratatui::widgets::BorderType::Rounded)
            } else {
                Block::bordered()
            };
            Clear.render(r, buf);
            block.border_style(border).render(r, buf);
            let style = if b.selected { theme.selected() } else { theme.style(b.tone) };
            let y = r.y + (b.height - 1) / 2;
            buf.set_stringn(r.x + 2, y, &b.label, usize::from(b.width.saturating_sub(3)), style);
        }
        let y = area.y + area.height.saturating_sub(1);
        put(buf, area.x + 1, y, area.width.saturating_sub(1), &self.legend, theme, Style::new());
    }
}
