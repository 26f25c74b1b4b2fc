//! View-model building blocks shared by every screen: plain structs (strings, numbers,
//! [`Tone`]s; no ratatui types) for a run of text, a table (only the rows on screen), a bar
//! and a titled pane. Each screen builds its own view-model from these, reading only the rows
//! on screen, so a frame costs what it shows, whatever the engine holds.

use hopscope_collector::format;

use super::theme::{Theme, Tone};

/// A run of text in one tone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    pub text: String,
    pub tone: Tone,
}

impl Seg {
    pub fn new(text: impl Into<String>, tone: Tone) -> Self {
        Self { text: text.into(), tone }
    }
}

/// One line of segments.
pub type Line = Vec<Seg>;

/// A line of one run of normal text.
pub fn plain(text: impl Into<String>) -> Line {
    vec![Seg::new(text, Tone::Normal)]
}

/// Columns `line` takes.
pub fn width_of(line: &Line) -> usize {
    line.iter().map(|s| format::width(&s.text)).sum()
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub title: String,
    pub width: u16,
    pub right: bool,
    /// Sorted by this column: `Some(descending)`.
    pub sorted: Option<bool>,
}

/// A column titled `title`, `width` wide, right-aligned or not.
pub fn col(title: &str, width: u16, right: bool) -> Column {
    Column { title: title.to_owned(), width, right, sorted: None }
}

/// A table: only the rows on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableVm {
    pub theme: Theme,
    pub columns: Vec<Column>,
    /// Each row's cells, one [`Line`] per column.
    pub rows: Vec<Vec<Line>>,
    /// Index into `rows` of the selected row.
    pub selected: Option<usize>,
    /// Shown when there are no rows.
    pub empty: Vec<String>,
}

/// Header and tab bar, and the footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarVm {
    pub theme: Theme,
    pub left: Line,
    pub right: Line,
    /// Draw in the title style, inverted (the header).
    pub emphasis: bool,
}

/// A titled box of lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneVm {
    pub theme: Theme,
    pub title: String,
    pub lines: Vec<Line>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_as_wide_as_its_terminal_cells() {
        // CJK characters take two cells each: counted in chars, the columns after a
        // Japanese service name would shift left.
        let line = vec![Seg::new("注文", Tone::Normal), Seg::new(" POST /x", Tone::Dim)];
        assert_eq!(width_of(&line), 4 + 8);
    }
}
