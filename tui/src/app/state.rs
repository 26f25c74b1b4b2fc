//! The TUI's state and its one transition, [`update`]: pure (no I/O, no clock, no terminal),
//! so every key, click and published view can be tested as data.
//!
//! `update` takes a [`Msg`] (a key, a mouse event, a new engine view, a replay status, a
//! resize, the outcome of an export) and may return one [`Intent`] for the main loop to
//! carry out (quit, ask the engine for something, write an export file, steer the replay).
//! Orders derived from a view (the sorted, filtered flows; sagas, lag and insights worst
//! first; the flow timeline) are computed here when the view or the user's choices change,
//! so drawing only reads the rows on screen.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use hopscope_collector::analysis::{FlowStatus, LagStatus, NodeKind, SagaState, TraceId};
use hopscope_collector::engine::views::{DetailTarget, FlowDetail, View, ViewRequest};
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use super::export::{self, ExportFormat};
use super::filter::Filter;
use super::help;
use super::layout;
use super::theme::Theme;
use super::timeline::{self, RowKind, Sequence, SpanKey, Timeline};
use super::vm;

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

/// Where a replay stands, as the feeder reports it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReplayStatus {
    /// The replayed time reached (unix ns).
    pub position_unix_nano: u64,
    /// Original timing × `speed`; `None` for `--instant`.
    pub speed: Option<f64>,
    pub paused: bool,
    /// Every file was read.
    pub finished: bool,
    /// Spans fed to the engine so far.
    pub spans: u64,
}

/// A command for the replay feeder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayCommand {
    TogglePause,
    Faster,
    Slower,
    /// Seek to the start: forget what was replayed and feed the files again from the top.
    Restart,
}

/// An input or an event.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    /// The engine published a view.
    View(Arc<View>),
    Replay(ReplayStatus),
    Resize(u16, u16),
    /// An export was written (its path) or failed (why).
    Exported(Result<PathBuf, String>),
}

/// A file to write for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// A file name (no directory): the main loop picks where.
    pub file_name: String,
    pub contents: String,
}

/// What the main loop should do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Quit,
    Request(ViewRequest),
    Export(Export),
    Replay(ReplayCommand),
}

/// The screens, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Screen {
    Flows,
    Graph,
    Sagas,
    Lag,
    Insights,
}

impl Screen {
    pub const ALL: [Screen; 5] =
        [Screen::Flows, Screen::Graph, Screen::Sagas, Screen::Lag, Screen::Insights];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Flows => "Flows",
            Screen::Graph => "Graph",
            Screen::Sagas => "Sagas",
            Screen::Lag => "Lag",
            Screen::Insights => "Insights",
        }
    }

    fn index(self) -> usize {
        Screen::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// A selection in a list and the first row shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListPos {
    pub selected: usize,
    pub offset: usize,
}

impl ListPos {
    /// Keeps the selection inside `len` rows and on screen (`height` rows shown).
    pub fn fit(&mut self, len: usize, height: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
        let height = height.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(len.saturating_sub(height));
    }
}

/// Columns of the Flows table, each a sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowColumn {
    Status,
    Root,
    Start,
    Duration,
    Traces,
    Services,
    Hops,
    Queue,
}

impl FlowColumn {
    pub const ALL: [FlowColumn; 8] = [
        FlowColumn::Status,
        FlowColumn::Root,
        FlowColumn::Start,
        FlowColumn::Duration,
        FlowColumn::Traces,
        FlowColumn::Services,
        FlowColumn::Hops,
        FlowColumn::Queue,
    ];

    pub fn title(self) -> &'static str {
        match self {
            FlowColumn::Status => "STATUS",
            FlowColumn::Root => "ROOT",
            FlowColumn::Start => "START",
            FlowColumn::Duration => "DURATION",
            FlowColumn::Traces => "TRACES",
            FlowColumn::Services => "SVCS",
            FlowColumn::Hops => "HOPS",
            FlowColumn::Queue => "WORST QUEUE",
        }
    }
}

/// The Flows screen.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowsState {
    pub sort: FlowColumn,
    pub descending: bool,
    pub filter: Filter,
    /// The filter as being typed, and the filter before typing began (Esc restores it).
    pub input: Option<(String, Filter)>,
    /// Indexes into `view.flows`, filtered and sorted.
    pub order: Vec<u32>,
    pub pos: ListPos,
    /// The selected flow's id: kept selected as views come and go.
    pub selected_id: Option<TraceId>,
}

impl Default for FlowsState {
    fn default() -> Self {
        Self {
            sort: FlowColumn::Start,
            descending: true,
            filter: Filter::default(),
            input: None,
            order: Vec::new(),
            pos: ListPos::default(),
            selected_id: None,
        }
    }
}

/// A list screen other than Flows: an order over the view's rows and a selection kept by key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListState {
    pub order: Vec<u32>,
    pub pos: ListPos,
    pub selected_key: Option<String>,
}

/// The flow detail, open over a screen.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailState {
    pub target: DetailTarget,
    /// Where Esc goes when `back` is empty.
    pub return_to: Screen,
    /// Details left by following links, most recent last.
    pub back: Vec<(DetailTarget, Option<SpanKey>)>,
    /// The engine's answer, once it came.
    pub detail: Option<Arc<FlowDetail>>,
    pub timeline: Timeline,
    pub sequence: Sequence,
    pub collapsed: BTreeSet<SpanKey>,
    pub pos: ListPos,
    pub selected_key: Option<SpanKey>,
    /// A span to select when the detail arrives (after following a link).
    pub pending_select: Option<SpanKey>,
    /// Sequence-diagram mode (`s`).
    pub sequence_mode: bool,
    /// The link or backlink of the selected span that Enter follows.
    pub link_cursor: Option<usize>,
    /// Lines of the span pane scrolled past (`J`/`K`); back to 0 when the selection moves.
    pub pane_scroll: usize,
    /// Export once the detail arrives.
    pub pending_export: Option<ExportFormat>,
}

impl DetailState {
    fn new(target: DetailTarget, return_to: Screen) -> Self {
        Self {
            target,
            return_to,
            back: Vec::new(),
            detail: None,
            timeline: Timeline::default(),
            sequence: Sequence::default(),
            collapsed: BTreeSet::new(),
            pos: ListPos::default(),
            selected_key: None,
            pending_select: None,
            sequence_mode: false,
            link_cursor: None,
            pane_scroll: 0,
            pending_export: None,
        }
    }

    /// The selected span, if a span row is selected.
    pub fn selected_span(&self) -> Option<usize> {
        let d = self.detail.as_deref()?;
        if self.sequence_mode {
            return self
                .sequence
                .messages
                .get(self.pos.selected)?
                .span
                .filter(|&s| s < d.spans.len());
        }
        match self.timeline.rows.get(self.pos.selected)?.kind {
            RowKind::Span { span, .. } => Some(span),
            RowKind::Hop { hop, .. } => {
                let h = &d.hops[hop];
                d.spans.iter().position(|s| {
                    s.trace_id == h.consumer.trace_id && s.span_id == h.consumer.span_id
                })
            }
            RowKind::Trace { .. } => None,
        }
    }

    fn rows(&self) -> usize {
        if self.sequence_mode { self.sequence.messages.len() } else { self.timeline.rows.len() }
    }
}

/// Counts over the whole view, taken when it arrives (so a frame never scans the flows).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// Flows in error or stuck.
    pub failed_flows: usize,
    /// Sagas stuck or failed.
    pub failed_sagas: usize,
    /// Subscriptions stalled or warning.
    pub lagging: usize,
    pub insights: usize,
    /// From the first flow's start to the event clock: what graph rates divide by.
    pub data_seconds: f64,
}

impl Totals {
    fn of(view: &View) -> Self {
        let a = &view.analysis;
        let flows = || view.flows.iter().map(|r| &r.flow);
        let start = flows().map(|f| f.start_unix_nano).min().unwrap_or(0);
        let end = flows().map(|f| f.end_unix_nano).max().unwrap_or(0);
        Self {
            failed_flows: flows()
                .filter(|f| matches!(f.status, FlowStatus::Error | FlowStatus::Stuck))
                .count(),
            failed_sagas: a
                .sagas
                .iter()
                .filter(|x| matches!(x.state, SagaState::Stuck | SagaState::Failed))
                .count(),
            lagging: a
                .lag
                .iter()
                .filter(|l| matches!(l.status, LagStatus::Stalled | LagStatus::Warn))
                .count(),
            insights: a.insights.len(),
            data_seconds: view.clock.now_unix_nano.max(end).saturating_sub(start) as f64 / 1e9,
        }
    }
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
    pub help: bool,
    /// Rows of the help scrolled past.
    pub help_scroll: usize,
    pub flows: FlowsState,
    pub graph: ListState,
    /// The Graph screen as a list even when the diagram fits (`v`).
    pub graph_list: bool,
    pub sagas: ListState,
    pub lag: ListState,
    pub insights: ListState,
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
            graph: ListState::default(),
            graph_list: false,
            sagas: ListState::default(),
            lag: ListState::default(),
            insights: ListState::default(),
            detail: None,
            totals: Totals::default(),
            message: None,
            width,
            height,
        };
        s.derive();
        s
    }

    fn body(&self) -> ratatui::layout::Rect {
        layout::areas(self.width, self.height).body
    }

    /// Rows the current list shows.
    fn page(&self) -> usize {
        let body = self.body();
        if self.in_detail() {
            return layout::list_rows(layout::detail(body).0);
        }
        match self.screen {
            Screen::Sagas => layout::list_rows(layout::sagas(body).0),
            _ => layout::list_rows(body),
        }
    }

    /// Whether the flow detail is what is on screen.
    pub fn in_detail(&self) -> bool {
        self.detail.as_ref().is_some_and(|d| d.return_to == self.screen)
    }

    /// Recomputes every order from the view, keeping selections.
    fn derive(&mut self) {
        self.totals = Totals::of(&self.view);
        self.derive_flows();
        self.derive_lists();
        self.derive_detail();
    }

    fn derive_flows(&mut self) {
        let rows = &self.view.flows;
        let attrs = self.view.attribute_matches.as_deref();
        let filter = &self.flows.filter;
        let mut order: Vec<u32> = (0..rows.len() as u32)
            .filter(|&i| {
                let r = &rows[i as usize];
                filter.matches(&r.flow, &r.facts, attrs)
            })
            .collect();
        let key = self.flows.sort;
        let cmp = |x: &u32, y: &u32| -> Ordering {
            let (fx, fy) = (&rows[*x as usize].flow, &rows[*y as usize].flow);
            let q = |i: u32| rows[i as usize].facts.worst_queue_ns;
            let primary = match key {
                FlowColumn::Status => status_rank(fx.status).cmp(&status_rank(fy.status)),
                FlowColumn::Root => {
                    (&fx.root.service, &fx.root.name).cmp(&(&fy.root.service, &fy.root.name))
                }
                FlowColumn::Start => Ordering::Equal,
                FlowColumn::Duration => fx.duration_ns.cmp(&fy.duration_ns),
                FlowColumn::Traces => fx.traces.len().cmp(&fy.traces.len()),
                FlowColumn::Services => fx.services.len().cmp(&fy.services.len()),
                FlowColumn::Hops => fx.hop_count.cmp(&fy.hop_count),
                FlowColumn::Queue => q(*x).cmp(&q(*y)),
            };
            primary.then_with(|| (fx.start_unix_nano, &fx.id).cmp(&(fy.start_unix_nano, &fy.id)))
        };
        if self.flows.descending {
            order.sort_by(|x, y| cmp(y, x));
        } else {
            order.sort_by(cmp);
        }
        let page = self.page();
        let old_screen_row = self.flows.pos.selected.saturating_sub(self.flows.pos.offset);
        // On the first row the list follows what arrives (like `tail -f`: the newest flow
        // stays selected); anywhere else the selected flow is kept as the list shifts.
        let follow_top = self.flows.pos.selected == 0;
        let found = self
            .flows
            .selected_id
            .as_ref()
            .filter(|_| !follow_top)
            .and_then(|id| order.iter().position(|&i| rows[i as usize].flow.id == *id));
        if let Some(i) = found {
            // The same flow stays selected, on the same screen row when it can.
            self.flows.pos.selected = i;
            self.flows.pos.offset = i.saturating_sub(old_screen_row);
        }
        self.flows.pos.fit(order.len(), page);
        self.flows.selected_id =
            order.get(self.flows.pos.selected).map(|&i| rows[i as usize].flow.id);
        self.flows.order = order;
    }

    fn derive_lists(&mut self) {
        let a = Arc::clone(&self.view.analysis);
        let body = self.body();
        // Graph: nodes, services first.
        let order: Vec<u32> = (0..a.graph.nodes.len() as u32).collect();
        let keys: Vec<String> = a.graph.nodes.iter().map(|n| n.id.clone()).collect();
        keep(&mut self.graph, order, &keys, layout::list_rows(body));
        // Sagas: stuck, failed, compensating, compensated, running, completed; newest first.
        let mut order: Vec<u32> = (0..a.sagas.len() as u32).collect();
        let start = |i: u32| a.sagas[i as usize].steps.first().map_or(0, |s| s.start_unix_nano);
        order.sort_by(|&x, &y| {
            let (sx, sy) = (&a.sagas[x as usize], &a.sagas[y as usize]);
            saga_rank(sx.state)
                .cmp(&saga_rank(sy.state))
                .then(start(y).cmp(&start(x)))
                .then(sx.id.cmp(&sy.id))
        });
        let keys: Vec<String> = a.sagas.iter().map(|s| format!("{}/{}", s.source, s.id)).collect();
        keep(&mut self.sagas, order, &keys, layout::list_rows(layout::sagas(body).0));
        // Lag: worst first.
        let mut order: Vec<u32> = (0..a.lag.len() as u32).collect();
        order.sort_by(|&x, &y| {
            let (lx, ly) = (&a.lag[x as usize], &a.lag[y as usize]);
            lag_rank(lx.status)
                .cmp(&lag_rank(ly.status))
                .then(ly.p95_ns.cmp(&lx.p95_ns))
                .then(ly.oldest_unconsumed_age_ns.cmp(&lx.oldest_unconsumed_age_ns))
                .then(x.cmp(&y))
        });
        let keys: Vec<String> = a
            .lag
            .iter()
            .map(|l| {
                format!(
                    "{}:{}:{}",
                    l.system,
                    l.destination,
                    l.consumer_group.as_deref().unwrap_or("")
                )
            })
            .collect();
        keep(&mut self.lag, order, &keys, layout::list_rows(body));
        // Insights: most severe first.
        let mut order: Vec<u32> = (0..a.insights.len() as u32).collect();
        order.sort_by(|&x, &y| {
            let (ix, iy) = (&a.insights[x as usize], &a.insights[y as usize]);
            iy.severity.cmp(&ix.severity).then(ix.kind.cmp(&iy.kind)).then(x.cmp(&y))
        });
        let keys: Vec<String> =
            a.insights.iter().map(|i| format!("{}:{}", i.kind.as_str(), i.detail)).collect();
        keep(&mut self.insights, order, &keys, layout::list_rows(body));
    }

    /// Takes the view's detail when it answers the open one, and lays it out.
    fn derive_detail(&mut self) -> Option<Intent> {
        let body = self.body();
        let d = self.detail.as_mut()?;
        let fresh = self.view.detail.as_ref().filter(|x| x.target == d.target);
        if let Some(fresh) = fresh {
            d.detail = Some(Arc::clone(fresh));
        }
        let detail = d.detail.clone()?;
        d.timeline = timeline::build(&detail, &d.collapsed);
        d.sequence = timeline::sequence(&detail);
        if let Some(key) = d.pending_select.take() {
            if d.timeline.row_of(&detail, &key).is_none() {
                d.collapsed.clear();
                d.timeline = timeline::build(&detail, &d.collapsed);
            }
            d.selected_key = Some(key);
            d.link_cursor = None;
        }
        if let Some(key) = &d.selected_key
            && let Some(row) = d.timeline.row_of(&detail, key)
            && !d.sequence_mode
        {
            d.pos.selected = row;
        }
        let page = layout::list_rows(layout::detail(body).0);
        let rows = d.rows();
        d.pos.fit(rows, page);
        if !d.sequence_mode {
            d.selected_key = match d.timeline.rows.get(d.pos.selected).map(|r| r.kind) {
                Some(RowKind::Span { span, .. }) => Some(timeline::key_of(&detail.spans[span])),
                _ => d.selected_key.take(),
            };
        }
        let format = d.pending_export.take()?;
        Some(Intent::Export(export::build(&detail, format)))
    }

    fn open_detail(&mut self, target: DetailTarget, return_to: Screen) -> Intent {
        self.detail = Some(DetailState::new(target.clone(), return_to));
        self.screen = return_to;
        // The current view may already hold it (a detail reopened).
        self.derive_detail();
        Intent::Request(ViewRequest::Detail(Some(target)))
    }

    fn apply_filter(&mut self, filter: Filter) -> Option<Intent> {
        let before = self.flows.filter.attribute();
        let after = filter.attribute();
        self.flows.filter = filter;
        self.derive_flows();
        (before != after).then_some(Intent::Request(ViewRequest::AttributeFilter(after)))
    }
}

fn keep(list: &mut ListState, order: Vec<u32>, keys: &[String], page: usize) {
    if let Some(key) = &list.selected_key
        && let Some(i) = order.iter().position(|&i| keys[i as usize] == *key)
    {
        let row = list.pos.selected.saturating_sub(list.pos.offset);
        list.pos.selected = i;
        list.pos.offset = i.saturating_sub(row);
    }
    list.pos.fit(order.len(), page);
    list.selected_key = order.get(list.pos.selected).map(|&i| keys[i as usize].clone());
    list.order = order;
}

fn status_rank(s: FlowStatus) -> u8 {
    match s {
        FlowStatus::Ok => 0,
        FlowStatus::InFlight => 1,
        FlowStatus::Stuck => 2,
        FlowStatus::Error => 3,
    }
}

fn saga_rank(s: SagaState) -> u8 {
    match s {
        SagaState::Stuck => 0,
        SagaState::Failed => 1,
        SagaState::Compensating => 2,
        SagaState::Compensated => 3,
        SagaState::Running => 4,
        SagaState::Completed => 5,
    }
}

fn lag_rank(s: LagStatus) -> u8 {
    match s {
        LagStatus::Stalled => 0,
        LagStatus::Warn => 1,
        LagStatus::NoConsumer => 2,
        LagStatus::Ok => 3,
    }
}

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

fn ctrl(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL)
}

fn on_key(state: &mut State, key: KeyEvent) -> Option<Intent> {
    if ctrl(&key) && key.code == KeyCode::Char('c') {
        return Some(Intent::Quit);
    }
    if state.flows.input.is_some() {
        return on_filter_key(state, key);
    }
    state.message = None;
    if state.help {
        if matches!(key.code, KeyCode::Char('q')) {
            return Some(Intent::Quit);
        }
        // Motion keys scroll the help; any other key closes it.
        let l = help::layout(state.body(), state.replay.is_some());
        if let Some(delta) = motion(&key, l.page) {
            let max = l.max_scroll();
            state.help_scroll = match delta {
                isize::MIN => 0,
                isize::MAX => max,
                d => state.help_scroll.min(max).saturating_add_signed(d).min(max),
            };
            return None;
        }
        state.help = false;
        return None;
    }
    // Keys that work everywhere.
    match key.code {
        KeyCode::Char('q') => return Some(Intent::Quit),
        KeyCode::Char('?') => {
            state.help = true;
            state.help_scroll = 0;
            return None;
        }
        KeyCode::Char(c @ '1'..='5') => {
            let screen = Screen::ALL[(c as usize) - ('1' as usize)];
            state.screen = screen;
            return None;
        }
        KeyCode::Tab => {
            state.screen = Screen::ALL[(state.screen.index() + 1) % Screen::ALL.len()];
            return None;
        }
        KeyCode::BackTab => {
            state.screen =
                Screen::ALL[(state.screen.index() + Screen::ALL.len() - 1) % Screen::ALL.len()];
            return None;
        }
        KeyCode::Char('p') => {
            state.paused = !state.paused;
            if !state.paused
                && let Some(v) = state.held.take()
            {
                return on_view(state, v);
            }
            return None;
        }
        KeyCode::Char('c') if !ctrl(&key) => {
            state.held = None;
            state.message = Some("cleared".to_owned());
            return Some(Intent::Request(ViewRequest::Clear));
        }
        KeyCode::Char(' ') if state.replay.is_some() => {
            return Some(Intent::Replay(ReplayCommand::TogglePause));
        }
        KeyCode::Char('+' | '=') if state.replay.is_some() => {
            return Some(Intent::Replay(ReplayCommand::Faster));
        }
        KeyCode::Char('-' | '_') if state.replay.is_some() => {
            return Some(Intent::Replay(ReplayCommand::Slower));
        }
        KeyCode::Char('r') if state.replay.is_some() => {
            state.held = None;
            state.message = Some("replaying from the start".to_owned());
            return Some(Intent::Replay(ReplayCommand::Restart));
        }
        _ => {}
    }
    if state.in_detail() {
        return on_detail_key(state, key);
    }
    match state.screen {
        Screen::Flows => on_flows_key(state, key),
        Screen::Graph | Screen::Sagas | Screen::Lag | Screen::Insights => on_list_key(state, key),
    }
}

/// Up/down/page/home/end: the row delta, or `None` for other keys. `isize::MIN`/`MAX` jump
/// to the ends.
fn motion(key: &KeyEvent, page: usize) -> Option<isize> {
    let page = page.max(1) as isize;
    Some(match key.code {
        KeyCode::Down | KeyCode::Char('j') => 1,
        KeyCode::Up | KeyCode::Char('k') => -1,
        KeyCode::PageDown => page,
        KeyCode::PageUp => -page,
        KeyCode::Char('d') if ctrl(key) => page / 2,
        KeyCode::Char('u') if ctrl(key) => -(page / 2),
        KeyCode::Char('f') if ctrl(key) => page,
        KeyCode::Char('b') if ctrl(key) => -page,
        KeyCode::Home | KeyCode::Char('g') => isize::MIN,
        KeyCode::End | KeyCode::Char('G') => isize::MAX,
        _ => return None,
    })
}

fn jump(pos: &mut ListPos, delta: isize, len: usize, page: usize) {
    match delta {
        isize::MIN => pos.selected = 0,
        isize::MAX => pos.selected = len.saturating_sub(1),
        d => pos.selected = pos.selected.saturating_add_signed(d),
    }
    pos.fit(len, page);
}

fn on_flows_key(state: &mut State, key: KeyEvent) -> Option<Intent> {
    let page = state.page();
    if let Some(delta) = motion(&key, page) {
        jump(&mut state.flows.pos, delta, state.flows.order.len(), page);
        state.flows.selected_id = state
            .flows
            .order
            .get(state.flows.pos.selected)
            .map(|&i| state.view.flows[i as usize].flow.id);
        return None;
    }
    match key.code {
        KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => {
            let id = state.flows.selected_id?;
            Some(state.open_detail(DetailTarget::Flow(id), Screen::Flows))
        }
        KeyCode::Char('/') => {
            let text = state.flows.filter.text().to_owned();
            state.flows.input = Some((text, state.flows.filter.clone()));
            None
        }
        KeyCode::Esc if !state.flows.filter.is_empty() => state.apply_filter(Filter::default()),
        KeyCode::Char('s') => {
            let i = FlowColumn::ALL.iter().position(|c| *c == state.flows.sort).unwrap_or(0);
            state.flows.sort = FlowColumn::ALL[(i + 1) % FlowColumn::ALL.len()];
            state.flows.descending = !matches!(state.flows.sort, FlowColumn::Root);
            state.derive_flows();
            None
        }
        KeyCode::Char('S') => {
            state.flows.descending = !state.flows.descending;
            state.derive_flows();
            None
        }
        KeyCode::Char('e') => export_selected(state, ExportFormat::Mermaid),
        KeyCode::Char('E') => export_selected(state, ExportFormat::Json),
        _ => None,
    }
}

fn export_selected(state: &mut State, format: ExportFormat) -> Option<Intent> {
    let id = state.flows.selected_id?;
    let intent = Some(state.open_detail(DetailTarget::Flow(id), Screen::Flows));
    let d = state.detail.as_mut()?;
    if let Some(detail) = &d.detail {
        return Some(Intent::Export(export::build(detail, format)));
    }
    d.pending_export = Some(format);
    state.message = Some("exporting when the flow's details arrive…".to_owned());
    intent
}

fn on_filter_key(state: &mut State, key: KeyEvent) -> Option<Intent> {
    let (mut text, before) = state.flows.input.take()?;
    match key.code {
        KeyCode::Enter => return None,
        KeyCode::Esc => return state.apply_filter(before),
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char('u') if ctrl(&key) => text.clear(),
        KeyCode::Char(c) if !ctrl(&key) => text.push(c),
        _ => {}
    }
    state.flows.input = Some((text.clone(), before));
    state.apply_filter(Filter::parse(&text))
}

fn on_list_key(state: &mut State, key: KeyEvent) -> Option<Intent> {
    let page = state.page();
    let screen = state.screen;
    let list = match screen {
        Screen::Graph => &mut state.graph,
        Screen::Sagas => &mut state.sagas,
        Screen::Lag => &mut state.lag,
        Screen::Insights => &mut state.insights,
        Screen::Flows => return None,
    };
    if let Some(delta) = motion(&key, page) {
        jump(&mut list.pos, delta, list.order.len(), page);
        // The key is re-read from the moved position.
        list.selected_key = None;
        state.derive_lists();
        return None;
    }
    if screen == Screen::Graph && key.code == KeyCode::Char('v') {
        state.graph_list = !state.graph_list;
        return None;
    }
    if !matches!(key.code, KeyCode::Enter | KeyCode::Right | KeyCode::Char('l')) {
        return None;
    }
    let row = *list.order.get(list.pos.selected)? as usize;
    let a = Arc::clone(&state.view.analysis);
    match screen {
        Screen::Sagas => {
            if let Some(id) = state.view.saga_flows.get(row).copied().flatten() {
                return Some(state.open_detail(DetailTarget::Flow(id), Screen::Sagas));
            }
            state.message = Some("no flow holds this saga's spans".to_owned());
            None
        }
        Screen::Insights => {
            if let Some(id) = a.insights[row].flow {
                return Some(state.open_detail(DetailTarget::Flow(id), Screen::Insights));
            }
            state.message = Some("this insight names no flow".to_owned());
            None
        }
        Screen::Lag => {
            let l = &a.lag[row];
            state.screen = Screen::Flows;
            state.apply_filter(Filter::parse(&format!("dest:{}", l.destination)))
        }
        Screen::Graph => {
            let n = &a.graph.nodes[row];
            let text = match n.kind {
                NodeKind::Service => format!("service:{}", n.id),
                NodeKind::Destination => {
                    format!("dest:{}", n.id.split_once(':').map_or(n.id.as_str(), |(_, d)| d))
                }
            };
            state.screen = Screen::Flows;
            state.apply_filter(Filter::parse(&text))
        }
        Screen::Flows => None,
    }
}

/// `J`/`K` and Shift-↓/↑: lines to scroll the span pane by.
fn pane_step(key: &KeyEvent) -> Option<isize> {
    let shift = key.modifiers.contains(KeyModifiers::SHIFT);
    match key.code {
        KeyCode::Char('J') => Some(1),
        KeyCode::Char('K') => Some(-1),
        KeyCode::Down if shift => Some(1),
        KeyCode::Up if shift => Some(-1),
        _ => None,
    }
}

/// Scrolls the span pane by `step` lines, no further than its last page.
fn scroll_pane(state: &mut State, step: isize) {
    let pane = layout::detail(state.body()).1;
    let Some(d) = state.detail.as_mut() else { return };
    let max = vm::span_pane_len(d).saturating_sub(vm::span_pane_page(pane));
    d.pane_scroll = d.pane_scroll.min(max).saturating_add_signed(step).min(max);
}

fn on_detail_key(state: &mut State, key: KeyEvent) -> Option<Intent> {
    if let Some(step) = pane_step(&key) {
        scroll_pane(state, step);
        return None;
    }
    let page = layout::list_rows(layout::detail(state.body()).0);
    let d = state.detail.as_mut()?;
    if let Some(delta) = motion(&key, page) {
        let rows = d.rows();
        jump(&mut d.pos, delta, rows, page);
        d.link_cursor = None;
        d.pane_scroll = 0;
        d.selected_key = d
            .selected_span()
            .and_then(|s| d.detail.as_ref().map(|x| timeline::key_of(&x.spans[s])));
        return None;
    }
    match key.code {
        KeyCode::Esc | KeyCode::Backspace => {
            if d.link_cursor.is_some() {
                d.link_cursor = None;
                return None;
            }
            if let Some((target, select)) = d.back.pop() {
                d.pane_scroll = 0;
                d.target = target.clone();
                d.detail = None;
                d.collapsed.clear();
                d.pending_select = select;
                state.derive_detail();
                return Some(Intent::Request(ViewRequest::Detail(Some(target))));
            }
            let screen = d.return_to;
            state.detail = None;
            state.screen = screen;
            Some(Intent::Request(ViewRequest::Detail(None)))
        }
        KeyCode::Char('s') => {
            d.sequence_mode = !d.sequence_mode;
            d.pos = ListPos::default();
            d.link_cursor = None;
            d.pane_scroll = 0;
            state.derive_detail();
            None
        }
        KeyCode::Left | KeyCode::Char('h') => toggle_fold(state, Some(true)),
        KeyCode::Right | KeyCode::Char('l') => toggle_fold(state, Some(false)),
        KeyCode::Char('n' | 'N') => {
            let detail = d.detail.clone()?;
            let span = &detail.spans[d.selected_span()?];
            let count = span.links.len() + span.backlinks.len();
            if count == 0 {
                state.message = Some("this span has no links or backlinks".to_owned());
                return None;
            }
            let step = if key.code == KeyCode::Char('n') { 1 } else { count - 1 };
            d.link_cursor = Some(
                d.link_cursor.map_or(if step == 1 { 0 } else { count - 1 }, |c| (c + step) % count),
            );
            None
        }
        KeyCode::Enter => {
            if d.link_cursor.is_some() {
                return follow_link(state);
            }
            toggle_fold(state, None)
        }
        KeyCode::Char('e') => {
            let detail = d.detail.clone()?;
            Some(Intent::Export(export::build(&detail, ExportFormat::Mermaid)))
        }
        KeyCode::Char('E') => {
            let detail = d.detail.clone()?;
            Some(Intent::Export(export::build(&detail, ExportFormat::Json)))
        }
        _ => None,
    }
}

/// Folds (`Some(true)`), unfolds (`Some(false)`) or toggles (`None`) the selected span.
fn toggle_fold(state: &mut State, fold: Option<bool>) -> Option<Intent> {
    let d = state.detail.as_mut()?;
    if d.sequence_mode {
        return None;
    }
    let detail = d.detail.clone()?;
    let row = *d.timeline.rows.get(d.pos.selected)?;
    let RowKind::Span { span, has_children, collapsed } = row.kind else { return None };
    let key = timeline::key_of(&detail.spans[span]);
    let want = fold.unwrap_or(!collapsed);
    if want && (!has_children || collapsed) {
        // Already folded (or a leaf): go to the parent row instead.
        if fold.is_some() {
            let parent =
                d.timeline.rows[..d.pos.selected].iter().rposition(|r| r.depth < row.depth);
            if let Some(p) = parent {
                d.pos.selected = p;
                d.pane_scroll = 0;
                d.selected_key = match d.timeline.rows[p].kind {
                    RowKind::Span { span, .. } => Some(timeline::key_of(&detail.spans[span])),
                    _ => None,
                };
                state.derive_detail();
            }
        }
        return None;
    }
    if want {
        d.collapsed.insert(key);
    } else {
        d.collapsed.remove(&key);
    }
    d.selected_key = Some(key);
    state.derive_detail();
    None
}

fn follow_link(state: &mut State) -> Option<Intent> {
    let d = state.detail.as_mut()?;
    let detail = d.detail.clone()?;
    let span = &detail.spans[d.selected_span()?];
    let cursor = d.link_cursor.take()?;
    let target = span.links.iter().chain(&span.backlinks).nth(cursor)?;
    d.pane_scroll = 0;
    let key: SpanKey = (target.trace_id, target.span_id);
    if detail.spans.iter().any(|s| s.trace_id == key.0 && s.span_id == key.1) {
        d.pending_select = Some(key);
        state.derive_detail();
        return None;
    }
    d.back.push((d.target.clone(), d.selected_key));
    let next = DetailTarget::Trace(key.0);
    d.target = next.clone();
    d.detail = None;
    d.collapsed.clear();
    d.pending_select = Some(key);
    d.pos = ListPos::default();
    Some(Intent::Request(ViewRequest::Detail(Some(next))))
}

fn on_mouse(state: &mut State, m: MouseEvent) -> Option<Intent> {
    let areas = layout::areas(state.width, state.height);
    match m.kind {
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp
            if state.in_detail()
                && !state.help
                && layout::contains(layout::detail(areas.body).1, m.column, m.row) =>
        {
            scroll_pane(state, if m.kind == MouseEventKind::ScrollDown { 3 } else { -3 });
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
                if let Some(screen) = vm::tab_at(state, m.column) {
                    state.screen = screen;
                }
                return None;
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
    } else {
        body
    };
    let (header, rows) = layout::table(list_area);
    if !state.in_detail() && state.screen == Screen::Flows && layout::contains(header, x, y) {
        let column = vm::flow_column_at(body.width, x)?;
        if state.flows.sort == column {
            state.flows.descending = !state.flows.descending;
        } else {
            state.flows.sort = column;
            state.flows.descending = column != FlowColumn::Root;
        }
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
            Screen::Graph => (state.graph.pos, state.graph.order.len()),
            Screen::Sagas => (state.sagas.pos, state.sagas.order.len()),
            Screen::Lag => (state.lag.pos, state.lag.order.len()),
            Screen::Insights => (state.insights.pos, state.insights.order.len()),
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
