//! The `?` help: every key the TUI handles, grouped by where it works, as the key-binding
//! table ([`super::keys`]) lists them; laid out for the body it covers (descriptions wrapped,
//! two columns when there is room), and scrolled when it does not fit. The layout is pure
//! geometry and text, shared by its keys (to bound the scroll) and its view-model ([`vm`]),
//! so both agree.

pub mod vm;

use hopscope_collector::format;
use ratatui::layout::Rect;

use super::keys::{self, Action};
use super::msg::Intent;

/// A group of keys and what each does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: &'static str,
    pub entries: Vec<(&'static str, &'static str)>,
}

/// Every key, by where it works: the key-binding table's rows, section by section (the
/// Replay section only in a replay).
pub fn sections(replay: bool) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for (section, keys, what) in keys::help_entries(replay) {
        match out.last_mut() {
            Some(last) if last.title == section.title() => last.entries.push((keys, what)),
            _ => out.push(Section { title: section.title(), entries: vec![(keys, what)] }),
        }
    }
    out
}

/// The help's keys: motion scrolls it, `q` quits, any other key closes it.
pub fn on_key(
    action: Option<Action>,
    open: &mut bool,
    scroll: &mut usize,
    body: Rect,
    replay: bool,
) -> Option<Intent> {
    match action {
        Some(Action::Quit) => Some(Intent::Quit),
        Some(Action::Move(motion)) => {
            let l = layout(body, replay);
            let max = l.max_scroll();
            *scroll = match motion.delta(l.page) {
                isize::MIN => 0,
                isize::MAX => max,
                d => (*scroll).min(max).saturating_add_signed(d).min(max),
            };
            None
        }
        _ => {
            *open = false;
            None
        }
    }
}

/// A row of the help as drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    Title(String),
    /// A key and the first line of what it does.
    Entry(String, String),
    /// More of the description above.
    More(String),
    Blank,
}

/// The help laid out in a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The box, borders included.
    pub frame: Rect,
    /// Width of the key column.
    pub key_width: u16,
    /// Width of each column (inside the borders).
    pub column_width: u16,
    /// One or two columns of rows.
    pub columns: Vec<Vec<Row>>,
    /// Rows shown at once.
    pub page: usize,
}

impl Layout {
    /// Rows in the longest column.
    pub fn rows(&self) -> usize {
        self.columns.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// The furthest the help scrolls.
    pub fn max_scroll(&self) -> usize {
        self.rows().saturating_sub(self.page)
    }
}

/// Words of `text` in lines of at most `width` characters (a longer word is cut).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        if len > 0 && len + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
            len = 0;
        }
        while word.len() > width {
            let rest = word.split_off(width);
            if len > 0 {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.iter().collect());
            len = 0;
            word = rest;
        }
        if len > 0 {
            line.push(' ');
            len += 1;
        }
        line.extend(word.iter());
        len += word.len();
    }
    if len > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn rows_of(sections: &[Section], key_width: u16, column_width: u16) -> Vec<Vec<Row>> {
    // Two spaces before the key, one after the key column, one at the right edge.
    let what_width = usize::from(column_width.saturating_sub(key_width + 4)).max(10);
    sections
        .iter()
        .map(|s| {
            let mut rows = vec![Row::Title(s.title.to_owned())];
            for (keys, what) in &s.entries {
                let mut lines = wrap(what, what_width).into_iter();
                rows.push(Row::Entry((*keys).to_owned(), lines.next().unwrap_or_default()));
                rows.extend(lines.map(Row::More));
            }
            rows
        })
        .collect()
}

/// Sections one after another, a blank row between them.
fn join(groups: &[Vec<Row>]) -> Vec<Row> {
    let mut out = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push(Row::Blank);
        }
        out.extend(g.iter().cloned());
    }
    out
}

/// The help for a body `body` big: one column up to 110 wide, two (whole sections each,
/// balanced) when one does not fit the height and the body is at least 150 wide.
pub fn layout(body: Rect, replay: bool) -> Layout {
    let sections = sections(replay);
    let key_width = sections
        .iter()
        .flat_map(|s| s.entries.iter().map(|(k, _)| format::width(k)))
        .max()
        .unwrap_or(0) as u16
        + 1;
    let fit = |columns: Vec<Vec<Row>>, width: u16, column_width: u16| {
        let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
        let h = (rows as u16).saturating_add(2).min(body.height);
        let w = width.min(body.width);
        let frame = Rect::new(body.x + (body.width - w) / 2, body.y + (body.height - h) / 2, w, h);
        Layout { frame, key_width, column_width, columns, page: usize::from(h.saturating_sub(2)) }
    };
    let width = body.width.min(110).saturating_sub(2);
    let column_width = width.saturating_sub(2);
    let single = fit(vec![join(&rows_of(&sections, key_width, column_width))], width, column_width);
    if single.max_scroll() == 0 || body.width < 150 {
        return single;
    }
    let width = body.width.min(220).saturating_sub(2);
    let column_width = width.saturating_sub(3) / 2;
    let groups = rows_of(&sections, key_width, column_width);
    // The split that makes the taller column shortest.
    let split = (1..groups.len())
        .min_by_key(|&i| join(&groups[..i]).len().max(join(&groups[i..]).len()))
        .unwrap_or(groups.len());
    fit(vec![join(&groups[..split]), join(&groups[split..])], width, column_width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_words_and_cuts_only_longer_ones() {
        assert_eq!(wrap("one two three", 7), vec!["one two", "three"]);
        assert_eq!(wrap("abcdefghij x", 4), vec!["abcd", "efgh", "ij x"]);
        assert_eq!(wrap("", 5), vec![""]);
    }

    #[test]
    fn two_columns_when_wide_one_scrolled_column_when_narrow() {
        let wide = layout(Rect::new(0, 2, 200, 47), true);
        assert_eq!(wide.columns.len(), 2);
        assert_eq!(wide.max_scroll(), 0, "the whole help fits at 200x50");
        let narrow = layout(Rect::new(0, 2, 80, 21), true);
        assert_eq!(narrow.columns.len(), 1);
        assert!(narrow.max_scroll() > 0);
        // No row is wider than its column.
        for l in [&wide, &narrow] {
            for row in l.columns.iter().flatten() {
                let w = match row {
                    Row::Title(t) | Row::More(t) | Row::Entry(_, t) => {
                        format::width(t) + usize::from(l.key_width)
                    }
                    Row::Blank => 0,
                };
                assert!(w + 3 <= usize::from(l.column_width), "{row:?}");
            }
        }
    }
}
