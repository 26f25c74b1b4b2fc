//! Widgets: each draws one view-model (`impl Widget for &ViewModel`) and nothing else. They
//! read no state, compute no orders and never change anything but the buffer.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Borders, Clear, Widget};

use super::help;
use super::layout;
use super::theme::{Theme, Tone};
use super::vm::{
    BarKind, BarVm, BodyVm, DetailBody, DetailVm, DiagramVm, FrameVm, GraphVm, HelpVm, Line,
    PaneVm, SagasVm, SequenceVm, TableVm, TimelineRowVm,
};

fn line_width(line: &Line) -> usize {
    line.iter().map(|s| s.text.chars().count()).sum()
}

/// Writes `line` from (x, y), never past `x + width`; returns the column after it.
fn put(
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
    let total = line_width(line);
    let cut = total > usize::from(width);
    for (i, seg) in line.iter().enumerate() {
        if at >= end {
            break;
        }
        let room = end - at;
        let last_room =
            cut && usize::from(room) < seg.text.chars().count() + usize::from(i + 1 < line.len());
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

impl Widget for &FrameVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < 20 || area.height < 5 {
            buf.set_stringn(
                area.x,
                area.y,
                "hopscope: terminal too small",
                usize::from(area.width),
                Style::new(),
            );
            return;
        }
        let a = layout::areas(area.width, area.height);
        self.header.render(a.header, buf);
        self.tabs.render(a.tabs, buf);
        match &self.body {
            BodyVm::Table(t) | BodyVm::Graph(GraphVm::List(t)) => t.render(a.body, buf),
            BodyVm::Detail(d) => d.render(a.body, buf),
            BodyVm::Sagas(s) => s.render(a.body, buf),
            BodyVm::Graph(GraphVm::Diagram(d)) => d.render(a.body, buf),
        }
        self.footer.render(a.footer, buf);
        if let Some(help) = &self.help {
            help.render(a.body, buf);
        }
    }
}

impl Widget for &BarVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let base = if self.emphasis { self.theme.selected() } else { Style::new() };
        buf.set_style(area, base);
        // The left part first: the right one only where it fits whole.
        let lw = line_width(&self.left);
        let rw = line_width(&self.right);
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
            let tw = title.chars().count() as u16;
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
                let cw = line_width(cell) as u16;
                let cx = if c.right && cw < w { x + w - cw } else { x };
                put(buf, cx, y, w - (cx - x), cell, theme, base);
                x = x.saturating_add(c.width + 1);
            }
        }
    }
}

fn pane_block(theme: Theme, title: &str, beside: bool) -> Block<'static> {
    Block::new()
        .borders(if beside { Borders::LEFT } else { Borders::TOP })
        .border_style(theme.style(Tone::Dim))
        .title(format!(" {title} "))
        .title_style(theme.style(Tone::Title))
}

impl PaneVm {
    fn render_in(&self, area: Rect, buf: &mut Buffer, beside: bool) {
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
                    let dw = row.duration.chars().count() as u16;
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
            let w = p.chars().count() as u16;
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

impl Widget for &SagasVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (top, bottom) = layout::sagas(area);
        self.table.render(top, buf);
        self.steps.render_in(bottom, buf, false);
        let inner = pane_block(self.steps.theme, "", false).inner(bottom);
        let bar_w = inner.width * 2 / 5;
        let bar_x = inner.x + inner.width - bar_w;
        for (i, (from, to, tone)) in self.bars.iter().enumerate() {
            let y = inner.y + (self.bar_skip + i) as u16;
            if y >= inner.y + inner.height || bar_w == 0 {
                break;
            }
            let w = f64::from(bar_w);
            let x0 = ((from * w).floor() as u16).min(bar_w - 1);
            let x1 = ((to * w).ceil() as u16).clamp(x0 + 1, bar_w);
            buf.set_style(Rect::new(bar_x - 1, y, bar_w + 1, 1), Style::new());
            buf.set_string(bar_x - 1, y, " ", Style::new());
            for x in x0..x1 {
                buf.set_string(bar_x + x, y, "━", self.steps.theme.style(*tone));
            }
        }
    }
}

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
            let w = (marker.chars().count() as u16).min(r.width.saturating_sub(2));
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
                    help::Row::Title(t) => text(buf, x + 1, y, t, Tone::Title),
                    help::Row::Entry(k, what) => {
                        text(buf, x + 2, y, k, Tone::Accent);
                        text(buf, what_x, y, what, Tone::Normal);
                    }
                    help::Row::More(what) => text(buf, what_x, y, what, Tone::Normal),
                    help::Row::Blank => {}
                }
            }
        }
    }
}
