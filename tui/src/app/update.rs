//! The TUI's one transition, [`update`]: pure (no I/O, no clock, no terminal), so every key,
//! click and published view can be tested as data.
//!
//! `update` takes a [`Msg`] (a key, a mouse event, a new engine view, a replay status, a
//! resize, the outcome of an export) and may return one [`Intent`] for the main loop to
//! carry out (quit, ask the engine for something, write an export file, steer the replay).
//! A key is looked up in the key-binding table ([`keys`]) for where it is pressed; the
//! actions that work everywhere are carried out here, the others by the screen on show
//! (the flow detail when it is open): [`flows::keys`], [`detail::keys`], the list screens'
//! `open`, [`help::on_key`].

use std::sync::Arc;

use hopscope_collector::engine::views::{DetailTarget, View, ViewRequest};
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use super::filter::Filter;
use super::keys::{self, Action, Places};
use super::layout;
use super::list::{ListState, Opened};
use super::msg::{Intent, Msg};
use super::screen::{Screen, Totals};
use super::state::State;
use super::{architecture, detail, events, flows, graph, help, insights, lag, sagas};
use crate::flow_export::ExportFormat;
use crate::graph_export;
use crate::replay::control::ReplayCommand;

/// The one transition of the TUI.
pub fn update(state: &mut State, msg: Msg) -> Option<Intent> {
    match msg {
        Msg::View(view) => on_view(state, view),
        Msg::Replay(status) => {
            state.replay = Some(status);
            None
        }
        Msg::Resize(w, h) => {
            state.width = w;
            state.height = h;
            state.derive();
            None
        }
        Msg::Exported(result) => {
            state.message = Some(match result {
                Ok(path) => format!("exported to {}", path.display()),
                Err(e) => format!("export failed: {e}"),
            });
            None
        }
        Msg::Key(key) if key.kind != KeyEventKind::Release => on_key(state, key),
        Msg::Key(_) => None,
        Msg::Mouse(m) => on_mouse(state, m),
    }
}

fn on_view(state: &mut State, view: Arc<View>) -> Option<Intent> {
    if state.paused {
        // The picture stays, but what the user asked for (a detail, an attribute filter)
        // is taken from the new view.
        let mut shown = (*state.view).clone();
        shown.detail.clone_from(&view.detail);
        shown.attribute_matches.clone_from(&view.attribute_matches);
        state.view = Arc::new(shown);
        state.held = Some(view);
        state.derive_flows();
        return state.derive_detail();
    }
    state.view = view;
    state.totals = Totals::of(&state.view);
    state.derive_flows();
    state.derive_lists();
    state.derive_detail()
}

fn on_key(state: &mut State, key: KeyEvent) -> Option<Intent> {
    let replay = state.replay.is_some();
    if state.flows.input.is_some() {
        return flows::keys::on_typing(state, keys::action(&key, Places::TYPING, replay), &key);
    }
    state.message = None;
    if state.help {
        let action = keys::action(&key, Places::HELP, replay);
        let body = state.body();
        return help::on_key(action, &mut state.help, &mut state.help_scroll, body, replay);
    }
    let place = if state.in_detail() { Places::DETAIL } else { Places::of(state.screen) };
    let action = keys::action(&key, place, replay)?;
    match action {
        Action::Quit => Some(Intent::Quit),
        Action::ShowHelp => {
            state.help = true;
            state.help_scroll = 0;
            None
        }
        Action::Show(screen) => show(state, screen),
        Action::NextScreen | Action::PreviousScreen => {
            show(state, state.screen.cycle(action == Action::NextScreen))
        }
        Action::TogglePause => {
            state.paused = !state.paused;
            if !state.paused
                && let Some(v) = state.held.take()
            {
                return on_view(state, v);
            }
            None
        }
        Action::Clear => {
            state.held = None;
            state.message = Some("cleared".to_owned());
            Some(Intent::Request(ViewRequest::Clear))
        }
        Action::Replay(command) => {
            if command == ReplayCommand::Restart {
                state.held = None;
                state.message = Some("replaying from the start".to_owned());
            }
            Some(Intent::Replay(command))
        }
        Action::Move(_)
        | Action::Open
        | Action::Export(_)
        | Action::StartFilter
        | Action::ClearFilter
        | Action::NextSort
        | Action::ReverseSort
        | Action::Fold
        | Action::Unfold
        | Action::ToggleOrFollow
        | Action::ToggleSequence
        | Action::NextLink
        | Action::PreviousLink
        | Action::ScrollPane(_)
        | Action::Back
        | Action::ToggleGraphList
        | Action::GraphStep(_)
        | Action::Pan(..)
        | Action::Focus(_)
        | Action::Zoom(_)
        | Action::ExportGraph
        | Action::ToggleTimeline => {
            if state.in_detail() {
                return detail::keys::on_key(state, action);
            }
            let screen = state.screen;
            if screen == Screen::Graph && !state.graph.as_list && graph::nav::on_key(state, action)
            {
                return None;
            }
            match screen {
                Screen::Flows => flows::keys::on_key(state, action),
                Screen::Graph
                | Screen::Sagas
                | Screen::Lag
                | Screen::Insights
                | Screen::Architecture
                | Screen::Events => on_list_key(state, action),
            }
        }
        // Bound only while typing a filter or in the help, both handled above.
        Action::KeepFilter
        | Action::UndoFilter
        | Action::DeleteChar
        | Action::ClearText
        | Action::Type
        | Action::CloseHelp => None,
    }
}

/// Shows `screen`; asks the engine for the event catalog when the Events screen comes on,
/// and to stop building it when it goes (it is rebuilt in full at every view).
fn show(state: &mut State, screen: Screen) -> Option<Intent> {
    let (before, now) = (state.screen == Screen::Events, screen == Screen::Events);
    state.screen = screen;
    (before != now).then_some(Intent::Request(ViewRequest::Events(now)))
}

/// The list of a list screen.
fn list_of(state: &mut State, screen: Screen) -> Option<&mut ListState> {
    match screen {
        Screen::Graph => Some(&mut state.graph.list),
        Screen::Sagas => Some(&mut state.sagas),
        Screen::Lag => Some(&mut state.lag),
        Screen::Insights => Some(&mut state.insights),
        Screen::Architecture => Some(&mut state.architecture.list),
        Screen::Events => Some(&mut state.events.list),
        Screen::Flows => None,
    }
}

/// The keys of the Graph, Sagas, Lag, Insights and Architecture screens: move, `v` (Graph), and Enter,
/// which goes where the screen says the selected row leads.
fn on_list_key(state: &mut State, action: Action) -> Option<Intent> {
    let page = state.page();
    let screen = state.screen;
    match action {
        Action::Move(motion) => {
            list_of(state, screen)?.jump(motion, page);
            state.derive_lists();
            None
        }
        Action::ToggleGraphList => {
            state.graph.as_list = !state.graph.as_list;
            let window = graph::nav::window(state);
            state.graph.follow(window);
            None
        }
        Action::ExportGraph => {
            Some(Intent::Export(graph_export::build(&state.view.analysis.graph, ExportFormat::Dot)))
        }
        Action::ToggleTimeline => {
            state.events.timeline = !state.events.timeline;
            None
        }
        // In the list, → opens as on the other list screens.
        Action::GraphStep(true) => on_list_key(state, Action::Open),
        Action::Open => {
            let row = list_of(state, screen)?.selected()?;
            let opened = match screen {
                Screen::Graph => graph::open(&state.view, row),
                Screen::Sagas => sagas::open(&state.view, row),
                Screen::Lag => lag::open(&state.view, row),
                Screen::Insights => insights::open(&state.view, row),
                Screen::Architecture => architecture::open(&state.view, row),
                Screen::Events => events::open(&state.events, &state.view, row),
                Screen::Flows => return None,
            };
            match opened {
                Opened::Flow(id) => Some(state.open_detail(DetailTarget::Flow(id), screen)),
                Opened::FlowsWhere(text) => {
                    state.screen = Screen::Flows;
                    state.apply_filter(Filter::parse(&text))
                }
                Opened::Nowhere(why) => {
                    state.message = Some(why.to_owned());
                    None
                }
            }
        }
        _ => None,
    }
}

fn on_mouse(state: &mut State, m: MouseEvent) -> Option<Intent> {
    let areas = layout::areas(state.width, state.height);
    if state.screen == Screen::Graph && !state.graph.as_list && !state.in_detail() && !state.help {
        match graph::nav::on_mouse(state, m) {
            graph::nav::Mouse::Done => return None,
            graph::nav::Mouse::Open => {
                return on_key(state, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
            }
            graph::nav::Mouse::Pass => {}
        }
    }
    match m.kind {
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp
            if state.in_detail()
                && !state.help
                && layout::contains(layout::detail(areas.body).1, m.column, m.row) =>
        {
            detail::keys::scroll_pane(
                state,
                if m.kind == MouseEventKind::ScrollDown { 3 } else { -3 },
            );
            None
        }
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
            let code =
                if m.kind == MouseEventKind::ScrollDown { KeyCode::Down } else { KeyCode::Up };
            let mut out = None;
            for _ in 0..3 {
                out = on_key(state, KeyEvent::new(code, KeyModifiers::NONE)).or(out);
            }
            out
        }
        MouseEventKind::Down(MouseButton::Left) => {
            if state.help {
                state.help = false;
                return None;
            }
            if layout::contains(areas.tabs, m.column, m.row) {
                return layout::tab_at(&state.totals, state.width, state.screen, m.column)
                    .and_then(|s| show(state, s));
            }
            click_row(state, m.column, m.row)
        }
        _ => None,
    }
}

/// A click in the body: selects the row under it; a click on the selected row opens it; a
/// click on the Flows column header sorts by that column.
fn click_row(state: &mut State, x: u16, y: u16) -> Option<Intent> {
    let body = layout::areas(state.width, state.height).body;
    let list_area = if state.in_detail() {
        layout::detail(body).0
    } else if state.screen == Screen::Sagas {
        layout::sagas(body).0
    } else if state.screen == Screen::Architecture {
        layout::architecture(body).0
    } else if state.screen == Screen::Events {
        layout::events(body).0
    } else {
        body
    };
    let (header, rows) = layout::table(list_area);
    if !state.in_detail() && state.screen == Screen::Flows && layout::contains(header, x, y) {
        let column = layout::flow_column_at(body.width, x)?;
        state.flows.sort_by(column);
        state.derive_flows();
        return None;
    }
    if !layout::contains(rows, x, y) {
        return None;
    }
    let screen_row = usize::from(y - rows.y);
    let (pos, len) = if state.in_detail() {
        let d = state.detail.as_ref()?;
        (d.pos, d.rows())
    } else {
        match state.screen {
            Screen::Flows => (state.flows.pos, state.flows.order.len()),
            Screen::Graph => (state.graph.list.pos, state.graph.list.order.len()),
            Screen::Sagas => (state.sagas.pos, state.sagas.order.len()),
            Screen::Lag => (state.lag.pos, state.lag.order.len()),
            Screen::Insights => (state.insights.pos, state.insights.order.len()),
            Screen::Architecture => {
                (state.architecture.list.pos, state.architecture.list.order.len())
            }
            Screen::Events => (state.events.list.pos, state.events.list.order.len()),
        }
    };
    let target = pos.offset + screen_row;
    if target >= len {
        return None;
    }
    if target == pos.selected {
        return on_key(state, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    }
    let delta = target as isize - pos.selected as isize;
    let code = if delta > 0 { KeyCode::Down } else { KeyCode::Up };
    for _ in 0..delta.unsigned_abs() {
        on_key(state, KeyEvent::new(code, KeyModifiers::NONE));
    }
    None
}
