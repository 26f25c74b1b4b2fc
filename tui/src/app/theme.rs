//! Colours, and what replaces them under `NO_COLOR`: every meaning carried by a colour is
//! also carried by a symbol or a word, so nothing is lost without colour.

use ratatui::style::{Color, Modifier, Style};

/// What a piece of text means; widgets turn it into a style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tone {
    #[default]
    Normal,
    /// Secondary text: ids, units, hints.
    Dim,
    /// Titles and the active tab.
    Title,
    /// All is well.
    Good,
    /// Worth a look.
    Warn,
    /// Broken.
    Bad,
    /// Still moving (in flight, running).
    Moving,
    /// The critical path and other highlights.
    Accent,
    /// Asynchronous hops.
    Async,
    /// Event storming's sticky notes (the Events screen): a domain event (orange).
    Event,
    /// A command (blue).
    Command,
    /// An aggregate: the service that handles a command or an event (yellow).
    Aggregate,
    /// A policy: reacting to an event with the next command (lilac).
    Policy,
}

/// The palette in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

/// A sticky note of colour `bg`.
fn note(bg: Color) -> Style {
    Style::new().bg(bg).fg(Color::Black)
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to anything non-empty (<https://no-color.org>).
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { color: !no_color }
    }

    pub fn style(self, tone: Tone) -> Style {
        if !self.color {
            return match tone {
                Tone::Title | Tone::Bad | Tone::Accent | Tone::Event => {
                    Style::new().add_modifier(Modifier::BOLD)
                }
                Tone::Dim => Style::new().add_modifier(Modifier::DIM),
                _ => Style::new(),
            };
        }
        match tone {
            Tone::Normal => Style::new(),
            Tone::Dim => Style::new().fg(Color::DarkGray),
            Tone::Title => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Tone::Good => Style::new().fg(Color::Green),
            Tone::Warn => Style::new().fg(Color::Yellow),
            Tone::Bad => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            Tone::Moving => Style::new().fg(Color::Blue),
            Tone::Accent => Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            Tone::Async => Style::new().fg(Color::Cyan),
            // Sticky notes: dark text on the note's colour (xterm-256 orange, lilac).
            Tone::Event => note(Color::Indexed(214)).add_modifier(Modifier::BOLD),
            Tone::Command => note(Color::Indexed(117)),
            Tone::Aggregate => note(Color::Indexed(228)),
            Tone::Policy => note(Color::Indexed(183)),
        }
    }

    /// The selected row.
    pub fn selected(self) -> Style {
        if self.color {
            Style::new().bg(Color::DarkGray).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    /// Column headers.
    pub fn header(self) -> Style {
        let style = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
        if self.color { style.fg(Color::Gray) } else { style }
    }
}
