//! The one key-binding table. Each [`Binding`] is a row of the `?` help (its section, the keys
//! as the help names them, what they do), the key presses it binds, where each works and the
//! [`Action`] it triggers, and what the hint bar says about it on each screen. Key handling
//! ([`action`]), the help overlay ([`help_entries`]) and the hint bar ([`hints`]) are all
//! read from it, so a key cannot be bound without being documented, nor documented without
//! being bound (the tests below check both, key by key).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::screen::Screen;
use crate::flow_export::ExportFormat;
use crate::replay::control::ReplayCommand;

/// Where a key is pressed, as a set: a screen, the flow detail, the help, or the filter
/// being typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Places(u16);

impl Places {
    pub const FLOWS: Places = Places(1);
    pub const GRAPH: Places = Places(1 << 1);
    pub const SAGAS: Places = Places(1 << 2);
    pub const LAG: Places = Places(1 << 3);
    pub const INSIGHTS: Places = Places(1 << 4);
    /// The flow detail, open over a screen.
    pub const DETAIL: Places = Places(1 << 5);
    /// The help overlay.
    pub const HELP: Places = Places(1 << 6);
    /// A filter being typed on the Flows screen.
    pub const TYPING: Places = Places(1 << 7);
    pub const ARCHITECTURE: Places = Places(1 << 8);
    pub const EVENTS: Places = Places(1 << 9);
    /// Every screen (the detail closed).
    pub const SCREENS: Places = Places(
        Self::FLOWS.0
            | Self::GRAPH.0
            | Self::SAGAS.0
            | Self::LAG.0
            | Self::INSIGHTS.0
            | Self::ARCHITECTURE.0
            | Self::EVENTS.0,
    );
    /// Wherever something is shown: a screen or the detail (the help closed, not typing).
    pub const SHOWN: Places = Places(Self::SCREENS.0 | Self::DETAIL.0);
    /// Wherever there is a list to move in (the help scrolls).
    pub const MOVES: Places = Places(Self::SHOWN.0 | Self::HELP.0);
    pub const ALL: Places = Places(Self::MOVES.0 | Self::TYPING.0);

    const fn or(self, other: Places) -> Places {
        Places(self.0 | other.0)
    }

    const fn without(self, other: Places) -> Places {
        Places(self.0 & !other.0)
    }

    /// Whether `place` is one of these.
    pub fn contains(self, place: Places) -> bool {
        self.0 & place.0 == place.0
    }

    /// The place of a screen (the detail closed).
    pub fn of(screen: Screen) -> Places {
        match screen {
            Screen::Flows => Places::FLOWS,
            Screen::Graph => Places::GRAPH,
            Screen::Sagas => Places::SAGAS,
            Screen::Lag => Places::LAG,
            Screen::Insights => Places::INSIGHTS,
            Screen::Architecture => Places::ARCHITECTURE,
            Screen::Events => Places::EVENTS,
        }
    }
}

/// A key press, as matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// A character, whatever the modifiers (`S` comes with Shift).
    Char(char),
    /// A character without Ctrl.
    Plain(char),
    /// Ctrl and a character.
    Ctrl(char),
    /// A key, whatever the modifiers.
    Code(KeyCode),
    /// Shift and a key.
    Shift(KeyCode),
    /// Any character without Ctrl (typing text).
    AnyChar,
    /// Any key at all.
    Any,
}

impl Press {
    fn matches(self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match self {
            Press::Char(c) => key.code == KeyCode::Char(c),
            Press::Plain(c) => key.code == KeyCode::Char(c) && !ctrl,
            Press::Ctrl(c) => key.code == KeyCode::Char(c) && ctrl,
            Press::Code(code) => key.code == code,
            Press::Shift(code) => key.code == code && key.modifiers.contains(KeyModifiers::SHIFT),
            Press::AnyChar => matches!(key.code, KeyCode::Char(_)) && !ctrl,
            Press::Any => true,
        }
    }

    /// Presses with a modifier are tried first, catch-alls last.
    fn rank(self) -> u8 {
        match self {
            Press::Ctrl(_) | Press::Shift(_) => 0,
            Press::Char(_) | Press::Plain(_) | Press::Code(_) => 1,
            Press::AnyChar | Press::Any => 2,
        }
    }
}

/// Up/down/page/half-page/first/last: how a list's selection (or the help) moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Motion {
    Down,
    Up,
    PageDown,
    PageUp,
    HalfPageDown,
    HalfPageUp,
    First,
    Last,
}

impl Motion {
    /// The row delta in a list showing `page` rows; `isize::MIN`/`MAX` jump to the ends.
    pub fn delta(self, page: usize) -> isize {
        let page = page.max(1) as isize;
        match self {
            Motion::Down => 1,
            Motion::Up => -1,
            Motion::PageDown => page,
            Motion::PageUp => -page,
            Motion::HalfPageDown => page / 2,
            Motion::HalfPageUp => -(page / 2),
            Motion::First => isize::MIN,
            Motion::Last => isize::MAX,
        }
    }
}

/// What a key does; the handlers match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ShowHelp,
    Show(Screen),
    NextScreen,
    PreviousScreen,
    /// Pause or resume the view (ingest goes on).
    TogglePause,
    /// Clear everything stored.
    Clear,
    Replay(ReplayCommand),
    Move(Motion),
    /// Open what is selected: a flow's detail, or the flows of a node or subscription.
    Open,
    Export(ExportFormat),
    StartFilter,
    ClearFilter,
    NextSort,
    ReverseSort,
    KeepFilter,
    UndoFilter,
    DeleteChar,
    ClearText,
    /// Type the character pressed into the filter.
    Type,
    Fold,
    Unfold,
    /// Toggle the selected subtree, or follow the selected link.
    ToggleOrFollow,
    ToggleSequence,
    NextLink,
    PreviousLink,
    /// Scroll the span pane by this many lines.
    ScrollPane(isize),
    Back,
    ToggleGraphList,
    /// Graph: select the next node right (`true`) or left along the edges.
    GraphStep(bool),
    /// Graph: pan the window by half a window across and down.
    Pan(i8, i8),
    /// Graph: only the selected node and its neighbours this many hops away; again: all.
    Focus(u8),
    /// Graph: full labels (`true`) or compact ones.
    Zoom(bool),
    /// Graph: write the whole graph to a file.
    ExportGraph,
    /// Events: the timeline of a flow instead of the board; again: the board.
    ToggleTimeline,
    CloseHelp,
}

/// The groups of the help, in the order it shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Everywhere,
    /// Only in a replay: shown, and bound, only then.
    Replay,
    Flows,
    Typing,
    Detail,
    Lists,
    Graph,
    Help,
}

impl Section {
    pub const ALL: [Section; 8] = [
        Section::Everywhere,
        Section::Replay,
        Section::Flows,
        Section::Typing,
        Section::Detail,
        Section::Lists,
        Section::Graph,
        Section::Help,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::Everywhere => "Everywhere",
            Section::Replay => "Replay",
            Section::Flows => "Flows",
            Section::Typing => "Typing a filter",
            Section::Detail => "Flow detail",
            Section::Lists => "Graph, Sagas, Lag, Insights, Events",
            Section::Graph => "Graph: the diagram",
            Section::Help => "This help",
        }
    }
}

/// A key press bound somewhere to an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bind {
    pub press: Press,
    pub places: Places,
    pub action: Action,
    /// Another key for a named one, left out of the help (`=` for `+`, `_` for `-`: the same
    /// keys without Shift).
    pub alias: bool,
}

const fn bind(press: Press, places: Places, action: Action) -> Bind {
    Bind { press, places, action, alias: false }
}

const fn alias(press: Press, places: Places, action: Action) -> Bind {
    Bind { press, places, action, alias: true }
}

/// What the hint bar says about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintText {
    Fixed(&'static str),
    /// "pause" or "resume", as the view is.
    ViewPause,
    /// "pause" or "resume", as the replay is.
    ReplayPause,
}

/// A key in the hint bar, where it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    pub places: Places,
    /// Its place in the bar, left to right.
    pub order: u8,
    /// When the bar is too narrow, the highest are dropped first.
    pub drop: u8,
    pub keys: &'static str,
    pub text: HintText,
}

const fn hint(places: Places, order: u8, drop: u8, keys: &'static str, text: &'static str) -> Hint {
    Hint { places, order, drop, keys, text: HintText::Fixed(text) }
}

/// A row of the help and the keys it binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub section: Section,
    /// The keys, as the help names them.
    pub keys: &'static str,
    /// What they do, as the help says it.
    pub help: &'static str,
    pub binds: &'static [Bind],
    pub hints: &'static [Hint],
}

use Action as A;
use Press as P;

const SHOWN: Places = Places::SHOWN;
const MOVES: Places = Places::MOVES;
const SCREENS: Places = Places::SCREENS;
const FLOWS: Places = Places::FLOWS;
const DETAIL: Places = Places::DETAIL;
const HELP: Places = Places::HELP;
const TYPING: Places = Places::TYPING;
const SELECT: Places = Places::FLOWS
    .or(Places::SAGAS)
    .or(Places::LAG)
    .or(Places::INSIGHTS)
    .or(Places::ARCHITECTURE)
    .or(Places::EVENTS);
const GRAPH: Places = Places::GRAPH;
/// Where `+`/`-` steer a replay: the Graph screen zooms with them.
const SPEED: Places = SHOWN.without(GRAPH);

/// Every key, in the order the help lists them.
pub const TABLE: &[Binding] = &[
    Binding {
        section: Section::Everywhere,
        keys: "1 … 7  Tab  Shift-Tab",
        help: "screens: Flows, Graph, Sagas, Lag, Insights, Architecture, Events",
        binds: &[
            bind(P::Char('1'), SHOWN, A::Show(Screen::Flows)),
            bind(P::Char('2'), SHOWN, A::Show(Screen::Graph)),
            bind(P::Char('3'), SHOWN, A::Show(Screen::Sagas)),
            bind(P::Char('4'), SHOWN, A::Show(Screen::Lag)),
            bind(P::Char('5'), SHOWN, A::Show(Screen::Insights)),
            bind(P::Char('6'), SHOWN, A::Show(Screen::Architecture)),
            bind(P::Char('7'), SHOWN, A::Show(Screen::Events)),
            bind(P::Code(KeyCode::Tab), SHOWN, A::NextScreen),
            bind(P::Code(KeyCode::BackTab), SHOWN, A::PreviousScreen),
        ],
        hints: &[],
    },
    Binding {
        section: Section::Everywhere,
        keys: "↑ ↓  j k",
        help: "move the selection",
        binds: &[
            bind(P::Code(KeyCode::Up), MOVES, A::Move(Motion::Up)),
            bind(P::Code(KeyCode::Down), MOVES, A::Move(Motion::Down)),
            bind(P::Char('j'), MOVES, A::Move(Motion::Down)),
            bind(P::Char('k'), MOVES, A::Move(Motion::Up)),
        ],
        hints: &[hint(SELECT.or(DETAIL), 0, 1, "↑↓", "select")],
    },
    Binding {
        section: Section::Everywhere,
        keys: "PgUp PgDn  Ctrl-b Ctrl-f",
        help: "a page up, down",
        binds: &[
            bind(P::Code(KeyCode::PageUp), MOVES, A::Move(Motion::PageUp)),
            bind(P::Code(KeyCode::PageDown), MOVES, A::Move(Motion::PageDown)),
            bind(P::Ctrl('b'), MOVES, A::Move(Motion::PageUp)),
            bind(P::Ctrl('f'), MOVES, A::Move(Motion::PageDown)),
        ],
        hints: &[],
    },
    Binding {
        section: Section::Everywhere,
        keys: "Ctrl-u Ctrl-d",
        help: "half a page up, down",
        binds: &[
            bind(P::Ctrl('u'), MOVES, A::Move(Motion::HalfPageUp)),
            bind(P::Ctrl('d'), MOVES, A::Move(Motion::HalfPageDown)),
        ],
        hints: &[],
    },
    Binding {
        section: Section::Everywhere,
        keys: "g G  Home End",
        help: "the first, the last row",
        binds: &[
            bind(P::Char('g'), MOVES, A::Move(Motion::First)),
            bind(P::Char('G'), MOVES, A::Move(Motion::Last)),
            bind(P::Code(KeyCode::Home), MOVES, A::Move(Motion::First)),
            bind(P::Code(KeyCode::End), MOVES, A::Move(Motion::Last)),
        ],
        hints: &[],
    },
    Binding {
        section: Section::Everywhere,
        keys: "Enter  →  l",
        help: "open: a flow's detail, a saga's or an insight's flow, a node's, a subscription's or an operation's flows (Graph: Enter)",
        binds: &[
            bind(P::Code(KeyCode::Enter), SCREENS, A::Open),
            bind(P::Code(KeyCode::Right), SCREENS.without(GRAPH), A::Open),
            bind(P::Char('l'), SCREENS.without(GRAPH), A::Open),
        ],
        hints: &[
            hint(FLOWS, 1, 0, "Enter", "open"),
            hint(Places::SAGAS.or(Places::INSIGHTS), 1, 0, "Enter", "open flow"),
            hint(
                Places::LAG.or(Places::GRAPH).or(Places::ARCHITECTURE).or(Places::EVENTS),
                1,
                0,
                "Enter",
                "its flows",
            ),
        ],
    },
    Binding {
        section: Section::Everywhere,
        keys: "mouse",
        help: "click selects, a second click opens; the wheel scrolls; click a tab to switch screens, a column title to sort by it",
        binds: &[],
        hints: &[],
    },
    Binding {
        section: Section::Everywhere,
        keys: "p",
        help: "pause the view (ingest goes on); again: resume",
        binds: &[bind(P::Char('p'), SHOWN, A::TogglePause)],
        hints: &[Hint {
            places: SCREENS,
            order: 20,
            drop: 4,
            keys: "p",
            text: HintText::ViewPause,
        }],
    },
    Binding {
        section: Section::Everywhere,
        keys: "c",
        help: "clear everything stored",
        binds: &[bind(P::Plain('c'), SHOWN, A::Clear)],
        hints: &[],
    },
    Binding {
        section: Section::Everywhere,
        keys: "e  E",
        help: "export the selected flow to a file: Mermaid sequence diagram, JSON",
        binds: &[
            bind(P::Char('e'), FLOWS, A::Export(ExportFormat::Mermaid)),
            bind(P::Char('E'), FLOWS, A::Export(ExportFormat::Json)),
        ],
        hints: &[hint(FLOWS, 6, 5, "e/E", "export")],
    },
    Binding {
        section: Section::Everywhere,
        keys: "?",
        help: "this help",
        binds: &[bind(P::Char('?'), SHOWN, A::ShowHelp)],
        hints: &[],
    },
    Binding {
        section: Section::Everywhere,
        keys: "q  Ctrl-C",
        help: "quit",
        binds: &[
            bind(P::Char('q'), SHOWN.or(HELP), A::Quit),
            bind(P::Ctrl('c'), Places::ALL, A::Quit),
        ],
        hints: &[hint(SCREENS, 21, 6, "q", "quit")],
    },
    Binding {
        section: Section::Replay,
        keys: "space",
        help: "pause or resume the replay",
        binds: &[bind(P::Char(' '), SHOWN, A::Replay(ReplayCommand::TogglePause))],
        hints: &[Hint {
            places: SHOWN,
            order: 10,
            drop: 1,
            keys: "space",
            text: HintText::ReplayPause,
        }],
    },
    Binding {
        section: Section::Replay,
        keys: "+  -",
        help: "replay faster, slower (on the Graph screen they zoom)",
        binds: &[
            bind(P::Char('+'), SPEED, A::Replay(ReplayCommand::Faster)),
            alias(P::Char('='), SPEED, A::Replay(ReplayCommand::Faster)),
            bind(P::Char('-'), SPEED, A::Replay(ReplayCommand::Slower)),
            alias(P::Char('_'), SPEED, A::Replay(ReplayCommand::Slower)),
        ],
        hints: &[hint(SPEED, 11, 2, "+/-", "speed")],
    },
    Binding {
        section: Section::Replay,
        keys: "r",
        help: "restart: seek to the start and replay the files again",
        binds: &[bind(P::Char('r'), SHOWN, A::Replay(ReplayCommand::Restart))],
        hints: &[hint(SHOWN, 12, 3, "r", "restart")],
    },
    Binding {
        section: Section::Flows,
        keys: "/",
        help: "filter: error stuck ok in_flight · >500ms <2s · service:X op:X dest:X · key=value · words",
        // Then every character typed goes into the filter.
        binds: &[bind(P::Char('/'), FLOWS, A::StartFilter), bind(P::AnyChar, TYPING, A::Type)],
        hints: &[hint(FLOWS, 2, 0, "/", "filter")],
    },
    Binding {
        section: Section::Flows,
        keys: "Esc",
        help: "clear the filter",
        binds: &[bind(P::Code(KeyCode::Esc), FLOWS, A::ClearFilter)],
        hints: &[],
    },
    Binding {
        section: Section::Flows,
        keys: "s  S",
        help: "sort by the next column; reverse the order",
        binds: &[bind(P::Char('s'), FLOWS, A::NextSort), bind(P::Char('S'), FLOWS, A::ReverseSort)],
        hints: &[hint(FLOWS, 3, 3, "s/S", "sort")],
    },
    Binding {
        section: Section::Typing,
        keys: "Enter",
        help: "keep the filter",
        binds: &[bind(P::Code(KeyCode::Enter), TYPING, A::KeepFilter)],
        hints: &[],
    },
    Binding {
        section: Section::Typing,
        keys: "Esc",
        help: "undo: back to the filter from before",
        binds: &[bind(P::Code(KeyCode::Esc), TYPING, A::UndoFilter)],
        hints: &[],
    },
    Binding {
        section: Section::Typing,
        keys: "Backspace  Ctrl-u",
        help: "delete a character, everything",
        binds: &[
            bind(P::Code(KeyCode::Backspace), TYPING, A::DeleteChar),
            bind(P::Ctrl('u'), TYPING, A::ClearText),
        ],
        hints: &[],
    },
    Binding {
        section: Section::Detail,
        keys: "← h  → l",
        help: "fold, unfold a subtree (← on a folded span goes to its parent)",
        binds: &[
            bind(P::Code(KeyCode::Left), DETAIL, A::Fold),
            bind(P::Char('h'), DETAIL, A::Fold),
            bind(P::Code(KeyCode::Right), DETAIL, A::Unfold),
            bind(P::Char('l'), DETAIL, A::Unfold),
        ],
        hints: &[hint(DETAIL, 1, 3, "←→", "fold")],
    },
    Binding {
        section: Section::Detail,
        keys: "Enter",
        help: "toggle a subtree, or follow the selected link",
        binds: &[bind(P::Code(KeyCode::Enter), DETAIL, A::ToggleOrFollow)],
        hints: &[hint(DETAIL, 4, 2, "Enter", "follow")],
    },
    Binding {
        section: Section::Detail,
        keys: "s",
        help: "sequence diagram: a column per service, calls solid, events dashed",
        binds: &[bind(P::Char('s'), DETAIL, A::ToggleSequence)],
        hints: &[hint(DETAIL, 2, 4, "s", "sequence")],
    },
    Binding {
        section: Section::Detail,
        keys: "n  N",
        help: "select the next, previous link or backlink of the span",
        binds: &[
            bind(P::Char('n'), DETAIL, A::NextLink),
            bind(P::Char('N'), DETAIL, A::PreviousLink),
        ],
        hints: &[hint(DETAIL, 3, 2, "n", "next link")],
    },
    Binding {
        section: Section::Detail,
        keys: "J K  Shift-↓ ↑",
        help: "scroll the span pane (attributes, events, logs, links)",
        binds: &[
            bind(P::Char('J'), DETAIL, A::ScrollPane(1)),
            bind(P::Char('K'), DETAIL, A::ScrollPane(-1)),
            bind(P::Shift(KeyCode::Down), DETAIL, A::ScrollPane(1)),
            bind(P::Shift(KeyCode::Up), DETAIL, A::ScrollPane(-1)),
        ],
        hints: &[hint(DETAIL, 5, 4, "J/K", "scroll span")],
    },
    Binding {
        section: Section::Detail,
        keys: "e  E",
        help: "export this flow: Mermaid, JSON",
        binds: &[
            bind(P::Char('e'), DETAIL, A::Export(ExportFormat::Mermaid)),
            bind(P::Char('E'), DETAIL, A::Export(ExportFormat::Json)),
        ],
        hints: &[hint(DETAIL, 6, 5, "e/E", "export")],
    },
    Binding {
        section: Section::Detail,
        keys: "Esc  Backspace",
        help: "back: drop the link selection, the previous flow, the list",
        binds: &[
            bind(P::Code(KeyCode::Esc), DETAIL, A::Back),
            bind(P::Code(KeyCode::Backspace), DETAIL, A::Back),
        ],
        hints: &[hint(DETAIL, 7, 0, "Esc", "back")],
    },
    Binding {
        section: Section::Lists,
        keys: "v",
        help: "Graph: the diagram or a list of nodes and their edges",
        binds: &[bind(P::Char('v'), Places::GRAPH, A::ToggleGraphList)],
        hints: &[hint(Places::GRAPH, 7, 3, "v", "list")],
    },
    Binding {
        section: Section::Lists,
        keys: "Enter",
        help: "Graph: the node's flows · Lag: the flows through the destination · Architecture: the flows the operation roots",
        binds: &[bind(
            P::Code(KeyCode::Enter),
            Places::GRAPH.or(Places::LAG).or(Places::ARCHITECTURE),
            A::Open,
        )],
        hints: &[],
    },
    Binding {
        section: Section::Lists,
        keys: "Enter",
        help: "Sagas: the flow holding the saga · Insights: the flow it names",
        binds: &[bind(P::Code(KeyCode::Enter), Places::SAGAS.or(Places::INSIGHTS), A::Open)],
        hints: &[],
    },
    Binding {
        section: Section::Lists,
        keys: "Enter",
        help: "Events: the flows carrying the event · in the timeline: that flow",
        binds: &[bind(P::Code(KeyCode::Enter), Places::EVENTS, A::Open)],
        hints: &[],
    },
    Binding {
        section: Section::Lists,
        keys: "t",
        help: "Events: the timeline of the latest flow carrying the event, its events in the order sent; again: the board",
        binds: &[bind(P::Char('t'), Places::EVENTS, A::ToggleTimeline)],
        hints: &[hint(Places::EVENTS, 2, 2, "t", "timeline")],
    },
    Binding {
        section: Section::Graph,
        keys: "← → h l  ↑ ↓ j k",
        help: "select the next node along its edges (else the nearest in the next column); up, down its column; the view follows",
        binds: &[
            bind(P::Code(KeyCode::Left), GRAPH, A::GraphStep(false)),
            bind(P::Code(KeyCode::Right), GRAPH, A::GraphStep(true)),
            bind(P::Char('h'), GRAPH, A::GraphStep(false)),
            bind(P::Char('l'), GRAPH, A::GraphStep(true)),
            bind(P::Code(KeyCode::Up), GRAPH, A::Move(Motion::Up)),
            bind(P::Code(KeyCode::Down), GRAPH, A::Move(Motion::Down)),
            bind(P::Char('j'), GRAPH, A::Move(Motion::Down)),
            bind(P::Char('k'), GRAPH, A::Move(Motion::Up)),
        ],
        hints: &[hint(GRAPH, 0, 1, "hjkl", "move")],
    },
    Binding {
        section: Section::Graph,
        keys: "H J K L  PgUp PgDn",
        help: "pan the view (left, down, up, right; a page up, down); so do a mouse drag and the wheel",
        binds: &[
            bind(P::Char('H'), GRAPH, A::Pan(-1, 0)),
            bind(P::Char('J'), GRAPH, A::Pan(0, 1)),
            bind(P::Char('K'), GRAPH, A::Pan(0, -1)),
            bind(P::Char('L'), GRAPH, A::Pan(1, 0)),
            bind(P::Code(KeyCode::PageUp), GRAPH, A::Move(Motion::PageUp)),
            bind(P::Code(KeyCode::PageDown), GRAPH, A::Move(Motion::PageDown)),
        ],
        hints: &[hint(GRAPH, 2, 5, "HJKL", "pan")],
    },
    Binding {
        section: Section::Graph,
        keys: "f  F",
        help: "focus: only the selected node and its neighbours, one hop, two hops away; again: the whole graph",
        binds: &[bind(P::Char('f'), GRAPH, A::Focus(1)), bind(P::Char('F'), GRAPH, A::Focus(2))],
        hints: &[hint(GRAPH, 3, 2, "f/F", "focus")],
    },
    Binding {
        section: Section::Graph,
        keys: "-  +",
        help: "zoom out (short names, health symbols on edges), back in (names and figures)",
        binds: &[
            bind(P::Char('-'), GRAPH, A::Zoom(false)),
            alias(P::Char('_'), GRAPH, A::Zoom(false)),
            bind(P::Char('+'), GRAPH, A::Zoom(true)),
            alias(P::Char('='), GRAPH, A::Zoom(true)),
        ],
        hints: &[hint(GRAPH, 4, 4, "-/+", "zoom")],
    },
    Binding {
        section: Section::Graph,
        keys: "E",
        help: "export the whole graph to a Graphviz file (`hopscope export --graph` writes Mermaid and JSON too)",
        binds: &[bind(P::Char('E'), GRAPH, A::ExportGraph)],
        hints: &[hint(GRAPH, 6, 6, "E", "export")],
    },
    Binding {
        section: Section::Help,
        keys: "↑ ↓  j k  PgUp PgDn  g G",
        help: "scroll it",
        binds: &[
            bind(P::Code(KeyCode::Up), HELP, A::Move(Motion::Up)),
            bind(P::Code(KeyCode::Down), HELP, A::Move(Motion::Down)),
            bind(P::Char('j'), HELP, A::Move(Motion::Down)),
            bind(P::Char('k'), HELP, A::Move(Motion::Up)),
            bind(P::Code(KeyCode::PageUp), HELP, A::Move(Motion::PageUp)),
            bind(P::Code(KeyCode::PageDown), HELP, A::Move(Motion::PageDown)),
            bind(P::Char('g'), HELP, A::Move(Motion::First)),
            bind(P::Char('G'), HELP, A::Move(Motion::Last)),
        ],
        hints: &[],
    },
    Binding {
        section: Section::Help,
        keys: "any other key, a click",
        help: "close it (q quits)",
        binds: &[bind(P::Any, HELP, A::CloseHelp)],
        hints: &[],
    },
];

/// The bindings in force: the Replay section's only in a replay.
fn in_force(replay: bool) -> impl Iterator<Item = &'static Binding> {
    TABLE.iter().filter(move |b| replay || b.section != Section::Replay)
}

/// What `key` does at `place`. Presses with a modifier win over plain ones (Shift-↓ scrolls
/// the span pane where ↓ moves the selection), catch-alls come last.
pub fn action(key: &KeyEvent, place: Places, replay: bool) -> Option<Action> {
    (0..3).find_map(|rank| {
        in_force(replay).flat_map(|b| b.binds).find_map(|bind| {
            (bind.press.rank() == rank && bind.places.contains(place) && bind.press.matches(key))
                .then_some(bind.action)
        })
    })
}

/// The help's rows, section by section, in order: (section, keys, what they do).
pub fn help_entries(replay: bool) -> impl Iterator<Item = (Section, &'static str, &'static str)> {
    Section::ALL.into_iter().flat_map(move |section| {
        in_force(replay).filter(move |b| b.section == section).map(|b| (b.section, b.keys, b.help))
    })
}

/// What the hint bar names at `place`, left to right: (drop priority, keys, text). `paused`:
/// the view is paused; `replay`: where the replay is, paused or not (`None` outside one).
pub fn hints(
    place: Places,
    paused: bool,
    replay: Option<bool>,
) -> Vec<(u8, &'static str, &'static str)> {
    let resume = |p: bool| if p { "resume" } else { "pause" };
    let mut out: Vec<&Hint> = in_force(replay.is_some())
        .flat_map(|b| b.hints)
        .filter(|h| h.places.contains(place))
        .collect();
    out.sort_by_key(|h| h.order);
    out.into_iter()
        .map(|h| {
            let text = match h.text {
                HintText::Fixed(t) => t,
                HintText::ViewPause => resume(paused),
                HintText::ReplayPause => resume(replay.unwrap_or(false)),
            };
            (h.drop, h.keys, text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name of a press as the help writes it; `None` for what has no one name.
    fn name(press: Press) -> Option<String> {
        let code = |code: KeyCode| match code {
            KeyCode::Up => "↑".to_owned(),
            KeyCode::Down => "↓".to_owned(),
            KeyCode::Left => "←".to_owned(),
            KeyCode::Right => "→".to_owned(),
            KeyCode::PageUp => "PgUp".to_owned(),
            KeyCode::PageDown => "PgDn".to_owned(),
            KeyCode::BackTab => "Shift-Tab".to_owned(),
            KeyCode::Enter => "Enter".to_owned(),
            KeyCode::Esc => "Esc".to_owned(),
            KeyCode::Tab => "Tab".to_owned(),
            KeyCode::Backspace => "Backspace".to_owned(),
            KeyCode::Home => "Home".to_owned(),
            KeyCode::End => "End".to_owned(),
            other => format!("{other:?}"),
        };
        Some(match press {
            Press::Char(' ') => "space".to_owned(),
            Press::Char(c) | Press::Plain(c) => c.to_string(),
            Press::Ctrl(c) => format!("Ctrl-{c}"),
            Press::Code(c) => code(c),
            Press::Shift(c) => format!("Shift-{}", code(c)),
            // Typing text: the `/` entry says what to type.
            Press::AnyChar => return None,
            Press::Any => "any other key".to_owned(),
        })
    }

    /// The keys a help entry names: groups apart by two spaces, keys in a group by one;
    /// `1 … 5` is a range, `Shift-↓ ↑` is Shift with each arrow, `Ctrl-C` is Ctrl-c.
    fn named(keys: &str) -> Vec<String> {
        if keys == "mouse" {
            return Vec::new();
        }
        if let Some((first, _)) = keys.split_once(", ") {
            return vec![first.to_owned()];
        }
        let mut out = Vec::new();
        for group in keys.split("  ") {
            let tokens: Vec<&str> = group.split(' ').filter(|t| !t.is_empty()).collect();
            let mut shift = false;
            for (i, token) in tokens.iter().enumerate() {
                if *token == "…" {
                    let (from, to) = (tokens[i - 1].parse::<u8>(), tokens[i + 1].parse::<u8>());
                    let (Ok(from), Ok(to)) = (from, to) else {
                        panic!("a range of digits: {keys}")
                    };
                    out.extend((from + 1..to).map(|d| d.to_string()));
                    continue;
                }
                if let Some(c) = token.strip_prefix("Ctrl-") {
                    out.push(format!("Ctrl-{}", c.to_lowercase()));
                } else if token.starts_with("Shift-") && *token != "Shift-Tab" {
                    shift = true;
                    out.push((*token).to_owned());
                } else if shift {
                    out.push(format!("Shift-{token}"));
                } else {
                    out.push((*token).to_owned());
                }
            }
        }
        out
    }

    /// A bound key with no help entry fails: every key an entry binds is named by it.
    #[test]
    fn every_bound_key_is_named_in_the_help() {
        for b in TABLE {
            let named = named(b.keys);
            assert!(!b.help.is_empty(), "{} has no help text", b.keys);
            for bind in b.binds.iter().filter(|bind| !bind.alias) {
                if let Some(name) = name(bind.press) {
                    assert!(
                        named.contains(&name),
                        "`{name}` is bound but `{}` does not name it",
                        b.keys
                    );
                }
            }
        }
    }

    /// A documented key no handler acts on fails: every key an entry names, it binds.
    #[test]
    fn every_key_the_help_names_is_bound() {
        for b in TABLE {
            let bound: Vec<String> = b.binds.iter().filter_map(|bind| name(bind.press)).collect();
            for name in named(b.keys) {
                assert!(
                    bound.contains(&name),
                    "the help names `{name}` ({}) but it is not bound",
                    b.keys
                );
            }
        }
    }

    /// Two entries never bind one press to different actions in the same place.
    #[test]
    fn no_press_means_two_things_in_one_place() {
        let binds: Vec<&Bind> = TABLE.iter().flat_map(|b| b.binds).collect();
        for (i, x) in binds.iter().enumerate() {
            for y in &binds[i + 1..] {
                let overlap = Places(x.places.0 & y.places.0);
                assert!(
                    x.press != y.press || overlap.0 == 0 || x.action == y.action,
                    "{:?} is both {:?} and {:?}",
                    x.press,
                    x.action,
                    y.action
                );
            }
        }
    }

    #[test]
    fn modifiers_win_and_replay_keys_need_a_replay() {
        let key = |code, modifiers| KeyEvent::new(code, modifiers);
        let down = key(KeyCode::Down, KeyModifiers::SHIFT);
        assert_eq!(action(&down, Places::DETAIL, false), Some(Action::ScrollPane(1)));
        assert_eq!(action(&down, Places::FLOWS, false), Some(Action::Move(Motion::Down)));
        let ctrl_c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action(&ctrl_c, Places::TYPING, false), Some(Action::Quit));
        assert_eq!(
            action(&key(KeyCode::Char('c'), KeyModifiers::NONE), Places::FLOWS, false),
            Some(Action::Clear)
        );
        let r = key(KeyCode::Char('r'), KeyModifiers::NONE);
        assert_eq!(action(&r, Places::FLOWS, false), None);
        assert_eq!(action(&r, Places::FLOWS, true), Some(Action::Replay(ReplayCommand::Restart)));
        assert_eq!(action(&r, Places::HELP, true), Some(Action::CloseHelp));
    }
}
