//! The `?` help: every key the TUI handles, grouped by where it works; laid out for the body
//! it covers (descriptions wrapped, two columns when there is room), and scrolled when it
//! does not fit. Pure geometry and text, shared by `update` (to bound the scroll) and the
//! view-model (to draw), so both agree.

use ratatui::layout::Rect;

/// A group of keys and what each does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: &'static str,
    pub entries: Vec<(&'static str, &'static str)>,
}

/// Every key, by where it works. Keep in step with `state::on_key` and its helpers.
pub fn sections(replay: bool) -> Vec<Section> {
    let mut out = vec![Section {
        title: "Everywhere",
        entries: vec![
            ("1 … 5  Tab  Shift-Tab", "screens: Flows, Graph, Sagas, Lag, Insights"),
            ("↑ ↓  j k", "move the selection"),
            ("PgUp PgDn  Ctrl-b Ctrl-f", "a page up, down"),
            ("Ctrl-u Ctrl-d", "half a page up, down"),
            ("g G  Home End", "the first, the last row"),
            (
                "Enter  →  l",
                "open: a flow's detail, a saga's or an insight's flow, a node's or a subscription's flows",
            ),
            (
                "mouse",
                "click selects, a second click opens; the wheel scrolls; click a tab to switch screens, a column title to sort by it",
            ),
            ("p", "pause the view (ingest goes on); again: resume"),
            ("c", "clear everything stored"),
            ("e  E", "export the selected flow to a file: Mermaid sequence diagram, JSON"),
            ("?", "this help"),
            ("q  Ctrl-C", "quit"),
        ],
    }];
    if replay {
        out.push(Section {
            title: "Replay",
            entries: vec![
                ("space", "pause or resume the replay"),
                ("+  -", "replay faster, slower"),
                ("r", "restart: seek to the start and replay the files again"),
            ],
        });
    }
    out.push(Section {
        title: "Flows",
        entries: vec![
            (
                "/",
                "filter: error stuck ok in_flight · >500ms <2s · service:X op:X dest:X · key=value · words",
            ),
            ("Esc", "clear the filter"),
            ("s  S", "sort by the next column; reverse the order"),
        ],
    });
    out.push(Section {
        title: "Typing a filter",
        entries: vec![
            ("Enter", "keep the filter"),
            ("Esc", "undo: back to the filter from before"),
            ("Backspace  Ctrl-u", "delete a character, everything"),
        ],
    });
    out.push(Section {
        title: "Flow detail",
        entries: vec![
            ("← h  → l", "fold, unfold a subtree (← on a folded span goes to its parent)"),
            ("Enter", "toggle a subtree, or follow the selected link"),
            ("s", "sequence diagram: a column per service, calls solid, events dashed"),
            ("n  N", "select the next, previous link or backlink of the span"),
            ("J K  Shift-↓ ↑", "scroll the span pane (attributes, events, logs, links)"),
            ("e  E", "export this flow: Mermaid, JSON"),
            ("Esc  Backspace", "back: drop the link selection, the previous flow, the list"),
        ],
    });
    out.push(Section {
        title: "Graph, Sagas, Lag, Insights",
        entries: vec![
            ("v", "Graph: the diagram or a list of nodes and their edges"),
            ("Enter", "Graph: the node's flows · Lag: the flows through the destination"),
            ("Enter", "Sagas: the flow holding the saga · Insights: the flow it names"),
        ],
    });
    out.push(Section {
        title: "This help",
        entries: vec![
            ("↑ ↓  j k  PgUp PgDn  g G", "scroll it"),
            ("any other key, a click", "close it (q quits)"),
        ],
    });
    out
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
        .flat_map(|s| s.entries.iter().map(|(k, _)| k.chars().count()))
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
                        t.chars().count() + usize::from(l.key_width)
                    }
                    Row::Blank => 0,
                };
                assert!(w + 3 <= usize::from(l.column_width), "{row:?}");
            }
        }
    }
}
