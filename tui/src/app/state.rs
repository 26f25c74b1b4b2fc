//! What the TUI shows: [`State`], the view on screen and what is shared by every screen (the
//! screen shown, pause, the replay's status, the help, the footer's message, the terminal's
//! size) with each screen's own state as a field. Orders derived from a view (the sorted,
//! filtered flows; sagas, lag and insights worst first; root operations; the flow timeline) are computed here
//! when the view or the user's choices change, so drawing only reads the rows on screen.
//! `update` (the one transition) is in [`super::update`].

use std::sync::Arc;

use hopscope_collector::engine::views::{DetailTarget, View, ViewRequest};
use ratatui::layout::Rect;

use super::architecture::ArchitectureState;
use super::detail::DetailState;
use super::events::EventsState;
use super::filter::Filter;
use super::flows::FlowsState;
use super::graph::{self, GraphState};
use super::layout;
use super::list::ListState;
use super::msg::Intent;
use super::screen::{Screen, Totals};
use super::theme::Theme;
use super::{insights, lag, sagas};
use crate::replay::control::ReplayStatus;

/// How hopscope was started: what the header says about where data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The embedded collector, listening.
    Live { grpc: String, http: String },
    /// The built-in demo shop feeding the embedded collector.
    Demo { grpc: String, http: String },
    /// Recorded files.
    Replay { files: String },
}

/// What does not change while the TUI runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub mode: Mode,
    pub theme: Theme,
}

/// Everything the TUI shows.
#[derive(Debug, Clone)]
pub struct State {
    pub ctx: Context,
    /// The view on screen.
    pub view: Arc<View>,
    /// The newest view, held back while paused.
    pub held: Option<Arc<View>>,
    pub paused: bool,
    pub replay: Option<ReplayStatus>,
    pub screen: Screen,
    /// The help is open over the screen.
    pub help: bool,
    /// Rows of the help scrolled past.
    pub help_scroll: usize,
    pub flows: FlowsState,
    pub graph: GraphState,
    pub sagas: ListState,
    pub lag: ListState,
    pub insights: ListState,
    pub architecture: ArchitectureState,
    pub events: EventsState,
    pub detail: Option<DetailState>,
    /// Counts over the view on screen.
    pub totals: Totals,
    /// A one-line message for the footer (an export's path, an error).
    pub message: Option<String>,
    pub width: u16,
    pub height: u16,
}

impl State {
    pub fn new(ctx: Context, view: Arc<View>, width: u16, height: u16) -> Self {
        let mut s = Self {
            ctx,
            view,
            held: None,
            paused: false,
            replay: None,
            screen: Screen::Flows,
            help: false,
            help_scroll: 0,
            flows: FlowsState::default(),
            graph: GraphState::default(),
            sagas: ListState::default(),
            lag: ListState::default(),
            insights: ListState::default(),
            architecture: ArchitectureState::default(),
            events: EventsState::default(),
            detail: None,
            totals: Totals::default(),
            message: None,
            width,
            height,
        };
        s.derive();
        s
    }

    /// The body: what is between the tabs and the footer.
    pub fn body(&self) -> Rect {
        layout::areas(self.width, self.height).body
    }

    /// Rows the current list shows.
    pub fn page(&self) -> usize {
        let body = self.body();
        if self.in_detail() {
            return layout::list_rows(layout::detail(body).0);
        }
        match self.screen {
            Screen::Sagas => layout::list_rows(layout::sagas(body).0),
            Screen::Architecture => layout::list_rows(layout::architecture(body).0),
            Screen::Events => layout::list_rows(layout::events(body).0),
            _ => layout::list_rows(body),
        }
    }

    /// Rows the flow detail's timeline shows.
    pub fn detail_page(&self) -> usize {
        layout::list_rows(layout::detail(self.body()).0)
    }

    /// Whether the flow detail is what is on screen.
    pub fn in_detail(&self) -> bool {
        self.detail.as_ref().is_some_and(|d| d.return_to == self.screen)
    }

    /// Recomputes every order from the view, keeping selections.
    pub fn derive(&mut self) {
        self.totals = Totals::of(&self.view);
        self.derive_flows();
        self.derive_lists();
        self.derive_detail();
    }

    /// The Flows screen's order, from the view and its filter and sort.
    pub fn derive_flows(&mut self) {
        let page = self.page();
        self.flows.derive(&self.view, page);
    }

    /// The other list screens' orders.
    pub fn derive_lists(&mut self) {
        let body = self.body();
        let rows = layout::list_rows(body);
        let (order, keys) = graph::order(&self.view);
        self.graph.list.keep(order, &keys, rows);
        self.graph.derive(&self.view, layout::graph(body).canvas);
        let (order, keys) = sagas::order(&self.view);
        self.sagas.keep(order, &keys, layout::list_rows(layout::sagas(body).0));
        let (order, keys) = lag::order(&self.view);
        self.lag.keep(order, &keys, rows);
        let (order, keys) = insights::order(&self.view);
        self.insights.keep(order, &keys, rows);
        self.architecture.derive(&self.view, layout::list_rows(layout::architecture(body).0));
        self.events.derive(&self.view, layout::list_rows(layout::events(body).0));
    }

    /// Takes the view's detail when it answers the open one, and lays it out.
    pub fn derive_detail(&mut self) -> Option<Intent> {
        let page = self.detail_page();
        self.detail.as_mut()?.derive(&self.view, page)
    }

    /// Opens the detail of `target` over `return_to`; asks the engine for it.
    pub fn open_detail(&mut self, target: DetailTarget, return_to: Screen) -> Intent {
        self.detail = Some(DetailState::new(target.clone(), return_to));
        self.screen = return_to;
        // The current view may already hold it (a detail reopened).
        self.derive_detail();
        Intent::Request(ViewRequest::Detail(Some(target)))
    }

    /// Filters the flows by `filter`; asks the engine when its attribute part changed.
    pub fn apply_filter(&mut self, filter: Filter) -> Option<Intent> {
        let before = self.flows.filter.attribute();
        let after = filter.attribute();
        self.flows.filter = filter;
        self.derive_flows();
        (before != after).then_some(Intent::Request(ViewRequest::AttributeFilter(after)))
    }
}
