//! The help overlay's view-model and widget: its box, centred on the body, and the rows of
//! each column on screen at its scroll position.

use hopscope_collector::format;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Clear, Widget};

use super::{Row, layout};
use crate::app::state::State;
use crate::app::theme::{Theme, Tone};

/// The help overlay: its box, and the rows on screen of each column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpVm {
    pub theme: Theme,
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    pub key_width: u16,
    pub column_width: u16,
    pub columns: Vec<Vec<Row>>,
    pub title: String,
    /// Where the page is, when the help scrolls (drawn on the bottom border).
    pub marker: Option<String>,
}

/// The help over `body`.
pub fn help(state: &State, body: Rect) -> HelpVm {
    let l = layout(body, state.replay.is_some());
    let (rows, max) = (l.rows(), l.max_scroll());
    let offset = state.help_scroll.min(max);
    let columns =
        l.columns.iter().map(|c| c.iter().skip(offset).take(l.page).cloned().collect()).collect();
    let marker = (max > 0).then(|| {
        let shown = format!("{}–{} of {}", offset + 1, (offset + l.page).min(rows), rows);
        if offset < max {
            format!(" ↓ more below · {shown} ")
        } else {
            format!(" ↑ more above · {shown} ")
        }
    });
    let title = if max > 0 {
        " keys · ↑↓ PgUp PgDn scroll · any other key closes "
    } else {
        " keys (any key closes) "
    };
    HelpVm {
        theme: state.ctx.theme,
        x: l.frame.x,
        y: l.frame.y,
        width: l.frame.width,
        height: l.frame.height,
        key_width: l.key_width,
        column_width: l.column_width,
        columns,
        title: title.to_owned(),
        marker,
    }
}

impl Widget for &HelpVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let r = Rect::new(self.x, self.y, self.width, self.height).intersection(area);
        Clear.render(area, buf);
        let block = Block::bordered()
            .title(self.title.as_str())
            .title_style(theme.style(Tone::Title))
            .border_style(theme.style(Tone::Dim));
        let inner = block.inner(r);
        block.render(r, buf);
        if let Some(marker) = &self.marker
            && r.height > 0
        {
            let w = (format::width(marker) as u16).min(r.width.saturating_sub(2));
            let x = r.x + r.width.saturating_sub(w + 2);
            let style = theme.style(Tone::Accent);
            buf.set_stringn(x, r.y + r.height - 1, marker, usize::from(w), style);
        }
        let end = inner.x + inner.width;
        let text = |buf: &mut Buffer, x: u16, y: u16, s: &str, tone: Tone| {
            if x < end {
                buf.set_stringn(x, y, s, usize::from(end - x - 1), theme.style(tone));
            }
        };
        for (c, rows) in self.columns.iter().enumerate() {
            let x = inner.x + c as u16 * (self.column_width + 1);
            if c > 0 {
                for y in inner.y..inner.y + inner.height {
                    buf.set_string(x - 1, y, "│", theme.style(Tone::Dim));
                }
            }
            let what_x = x + 2 + self.key_width + 1;
            for (i, row) in rows.iter().enumerate() {
                let y = inner.y + i as u16;
                if y >= inner.y + inner.height {
                    break;
                }
                match row {
                    Row::Title(t) => text(buf, x + 1, y, t, Tone::Title),
                    Row::Entry(k, what) => {
                        text(buf, x + 2, y, k, Tone::Accent);
                        text(buf, what_x, y, what, Tone::Normal);
                    }
                    Row::More(what) => text(buf, what_x, y, what, Tone::Normal),
                    Row::Blank => {}
                }
            }
        }
    }
}
