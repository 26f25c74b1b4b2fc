//! Screen snapshots (TestBackend + insta, at 80x24 and 200x50) and `update` tests, over the
//! shop fixture (`fixtures/shop.otlp.jsonl`) with the event clock fixed at its watermark.
//!
//! A [`FakeEngine`] answers the TUI's requests the way the engine does: by building the next
//! view with `views::build` over a store and a linker that hold the fixture.

use std::path::PathBuf;
use std::sync::Arc;

use hopscope_collector::analysis::{FlowStatus, TraceId};
use hopscope_collector::engine::StatsSnapshot;
use hopscope_collector::engine::views::{
    self, ClockMode, DetailTarget, EventClock, Sources, View, ViewConfig, ViewRequest, Wants,
};
use hopscope_collector::formats::read::{ReadOptions, read_paths_with};
use hopscope_collector::link::Linker;
use hopscope_collector::model::{Interner, LogRecord, Resource, Scope, Value};
use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector::store::SpanStore;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use super::bench_support;
use super::chrome::BodyVm;
use super::detail::timeline::RowKind;
use super::msg::{Intent, Msg};
use super::render;
use super::screen::Screen;
use super::state::{Context, Mode, State};
use super::theme::Theme;
use super::update::update;
use crate::replay::control::{ReplayCommand, ReplayStatus};

pub fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/app/fixtures/shop.otlp.jsonl")
}

/// The engine, as far as the TUI can tell: answers requests with the next view.
struct FakeEngine {
    store: SpanStore,
    linker: Linker,
    wants: Wants,
    seq: u64,
}

impl FakeEngine {
    /// The engine holding the spans of `path`.
    fn over(path: &std::path::Path) -> Self {
        let interner = Arc::new(Interner::new());
        let decoder = Decoder::new(Arc::clone(&interner));
        let mut store = SpanStore::new(1 << 30);
        let mut linker = Linker::new(Arc::clone(&interner));
        let options = ReadOptions::default();
        read_paths_with(&[path.to_owned()], &decoder, options, &mut |spans| {
            linker.add_all(&spans);
            for s in spans {
                store.insert(s);
            }
        })
        .unwrap();
        // In the shop, a log record inside notifications' "send email" span.
        let email = store
            .traces()
            .flat_map(|(_, t)| t.spans())
            .find(|s| interner.resolve(s.name) == "send email")
            .cloned();
        let Some(email) = email else {
            return Self { store, linker, wants: Wants::default(), seq: 0 };
        };
        store.insert_log(LogRecord {
            time_unix_nano: email.start_unix_nano + 5_000_000,
            observed_time_unix_nano: 0,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Value::Str("sent order confirmation to u-1001".into()),
            attributes: Box::new([]),
            dropped_attributes_count: 0,
            flags: 0,
            trace_id: Some(email.trace_id),
            span_id: Some(email.span_id),
            event_name: "".into(),
            resource: Arc::new(Resource::default()),
            scope: Arc::new(Scope::default()),
        });
        Self { store, linker, wants: Wants::default(), seq: 0 }
    }

    fn view(&mut self) -> Arc<View> {
        self.seq += 1;
        let stats = StatsSnapshot {
            received: 52,
            accepted: 52,
            stored: 52,
            store_bytes: 61_440,
            logs: 1,
            ..StatsSnapshot::default()
        };
        let src = Sources { store: &self.store, linker: &self.linker, stats, max_memory: 1 << 30 };
        let clock = EventClock { mode: ClockMode::Replay, now_unix_nano: self.linker.watermark() };
        Arc::new(views::build(src, clock, &ViewConfig::default(), &self.wants, self.seq, 0))
    }

    /// Carries out what an update asked of the engine; returns the next view if it asked.
    fn answer(&mut self, intent: Option<Intent>) -> Option<Arc<View>> {
        match intent? {
            Intent::Request(ViewRequest::Detail(t)) => self.wants.detail = t,
            Intent::Request(ViewRequest::AttributeFilter(a)) => self.wants.attribute = a,
            Intent::Request(ViewRequest::Events(on)) => self.wants.events = on,
            _ => return None,
        }
        Some(self.view())
    }
}

/// A TUI at `w` × `h` over the fixture, replay finished.
fn setup(w: u16, h: u16) -> (State, FakeEngine) {
    setup_over(&fixture_path(), w, h)
}

/// One of the collector's test fixtures (`collector/tests/fixtures/NAME.jsonl`).
fn collector_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../collector/tests/fixtures/{name}.jsonl"))
}

/// A TUI at `w` × `h` over the spans of `path`, replay finished.
fn setup_over(path: &std::path::Path, w: u16, h: u16) -> (State, FakeEngine) {
    let mut engine = FakeEngine::over(path);
    let files = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let ctx = Context { mode: Mode::Replay { files }, theme: Theme { color: true } };
    let mut state = State::new(ctx, engine.view(), w, h);
    update(
        &mut state,
        Msg::Replay(ReplayStatus {
            position_unix_nano: 0,
            speed: None,
            paused: false,
            finished: true,
            spans: 52,
        }),
    );
    (state, engine)
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// Sends `msg`, and the view the engine answers with, if any.
fn send(state: &mut State, engine: &mut FakeEngine, msg: Msg) -> Option<Intent> {
    let intent = update(state, msg);
    if let Some(view) = engine.answer(intent.clone()) {
        return update(state, Msg::View(view)).or(intent);
    }
    intent
}

fn draw(state: &State) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(state.width, state.height)).unwrap();
    t.draw(|f| render(state, f)).unwrap();
    t
}

fn text(state: &State) -> String {
    draw(state).backend().to_string()
}

/// Selects the first flow (in screen order) that `pick` accepts.
fn select_flow_by(
    state: &mut State,
    engine: &mut FakeEngine,
    pick: impl Fn(&hopscope_collector::analysis::Flow) -> bool,
) {
    send(state, engine, key('g'));
    for _ in 0..state.flows.order.len() {
        let i = state.flows.order[state.flows.pos.selected] as usize;
        if pick(&state.view.flows[i].flow) {
            return;
        }
        send(state, engine, key('j'));
    }
    panic!("no such flow");
}

/// The detail of the checkout flow, its payments consumer span selected.
fn checkout_detail(w: u16, h: u16) -> (State, FakeEngine) {
    let (mut state, mut engine) = setup(w, h);
    select_flow_by(&mut state, &mut engine, |f| {
        f.root.name == "POST /checkout" && f.traces.len() == 5
    });
    send(&mut state, &mut engine, code(KeyCode::Enter));
    (state, engine)
}

fn select_span(state: &mut State, engine: &mut FakeEngine, service: &str, name: &str) {
    let d = state.detail.as_ref().unwrap();
    let detail = d.detail.clone().unwrap();
    let row = d
        .timeline
        .rows
        .iter()
        .position(|r| match r.kind {
            RowKind::Span { span, .. } => {
                detail.spans[span].service == service && detail.spans[span].name == name
            }
            _ => false,
        })
        .unwrap();
    send(state, engine, key('g'));
    for _ in 0..row {
        send(state, engine, key('j'));
    }
}

macro_rules! snapshots {
    ($name:ident, $setup:expr) => {
        #[test]
        fn $name() {
            for (w, h) in [(80, 24), (200, 50)] {
                let state: State = $setup(w, h);
                insta::assert_snapshot!(
                    format!("{}_{}x{}", stringify!($name), w, h),
                    draw(&state).backend()
                );
            }
        }
    };
}

snapshots!(screen_flows, |w, h| setup(w, h).0);
snapshots!(screen_flows_filtered, |w, h| {
    let (mut s, mut e) = setup(w, h);
    for m in [key('/'), key('e'), key('r'), key('r'), key('o'), key('r'), code(KeyCode::Enter)] {
        send(&mut s, &mut e, m);
    }
    s
});
snapshots!(screen_flow_detail, |w, h| checkout_detail(w, h).0);
snapshots!(screen_flow_detail_links, |w, h| {
    let (mut s, mut e) = checkout_detail(w, h);
    select_span(&mut s, &mut e, "payments", "orders process");
    send(&mut s, &mut e, key('n'));
    s
});
snapshots!(screen_flow_detail_logs, |w, h| {
    let (mut s, mut e) = checkout_detail(w, h);
    select_span(&mut s, &mut e, "notifications", "send email");
    s
});
snapshots!(screen_flow_sequence, |w, h| {
    let (mut s, mut e) = checkout_detail(w, h);
    send(&mut s, &mut e, key('s'));
    s
});
snapshots!(screen_graph, |w, h| {
    let (mut s, mut e) = setup(w, h);
    send(&mut s, &mut e, key('2'));
    s
});
snapshots!(screen_sagas, |w, h| {
    let (mut s, mut e) = setup(w, h);
    send(&mut s, &mut e, key('3'));
    s
});
snapshots!(screen_lag, |w, h| {
    let (mut s, mut e) = setup(w, h);
    send(&mut s, &mut e, key('4'));
    s
});
snapshots!(screen_lag_dead_letters, |w, h| {
    let path = fixture_path().with_file_name("dead_letters.otlp.jsonl");
    let (mut s, mut e) = setup_over(&path, w, h);
    send(&mut s, &mut e, key('4'));
    s
});
snapshots!(screen_insights, |w, h| {
    let (mut s, mut e) = setup(w, h);
    send(&mut s, &mut e, key('5'));
    s
});
snapshots!(screen_architecture, |w, h| {
    let (mut s, mut e) = setup(w, h);
    send(&mut s, &mut e, key('6'));
    s
});
snapshots!(screen_events, |w, h| {
    let (mut s, mut e) = setup(w, h);
    send(&mut s, &mut e, key('7'));
    s
});
snapshots!(screen_events_timeline, |w, h| {
    let (mut s, mut e) = setup(w, h);
    send(&mut s, &mut e, key('7'));
    send(&mut s, &mut e, key('G'));
    send(&mut s, &mut e, key('t'));
    s
});

/// Enter on an event lists the flows carrying it; in the timeline, it opens that flow; the
/// notes keep their meaning without colour (symbols) and have their colours with it.
#[test]
fn events_enter_lists_the_flows_carrying_the_event_and_t_shows_a_flow() {
    let (mut s, mut e) = setup(80, 24);
    assert_eq!(update(&mut s, key('7')), Some(Intent::Request(ViewRequest::Events(true))));
    assert_eq!(update(&mut s, key('1')), Some(Intent::Request(ViewRequest::Events(false))));
    send(&mut s, &mut e, key('7'));
    assert_eq!(s.screen, Screen::Events);
    let names: Vec<&str> = s.view.analysis.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["orders", "orders", "payment.commands", "payments"]);
    send(&mut s, &mut e, key('G'));
    send(&mut s, &mut e, code(KeyCode::Enter));
    assert_eq!(s.screen, Screen::Flows);
    assert_eq!(s.flows.filter.text(), "event:payments");
    assert!(!s.flows.order.is_empty());
    for &i in &s.flows.order {
        let row = &s.view.flows[i as usize];
        assert!(row.facts.events.iter().any(|x| x.name == "payments"), "{:?}", row.flow.root);
    }
    send(&mut s, &mut e, key('7'));
    send(&mut s, &mut e, key('t'));
    let text = text(&s);
    assert!(text.contains("timeline · flow"), "{text}");
    assert!(text.contains("◇ whenever orders → ◆ payments"), "{text}");
    let flow = s.events.flow_id(&s.view).expect("a flow carries payments");
    let intent = send(&mut s, &mut e, code(KeyCode::Enter));
    assert_eq!(intent, Some(Intent::Request(ViewRequest::Detail(Some(DetailTarget::Flow(flow))))));
    let (event, policy) = (super::theme::Tone::Event, super::theme::Tone::Policy);
    assert_eq!(Theme { color: true }.style(event).bg, Some(ratatui::style::Color::Indexed(214)));
    assert_eq!(Theme { color: false }.style(policy).bg, None);
}

snapshots!(screen_help, |w, h| {
    let (mut s, mut e) = setup(w, h);
    send(&mut s, &mut e, key('?'));
    s
});

#[test]
fn the_header_shows_connections_closed_by_limits_when_there_are_any() {
    let (mut state, _engine) = setup(200, 50);
    assert!(!text(&state).contains("closed"), "nothing closed, nothing shown");
    let mut view = (*state.view).clone();
    view.stats.idle_closed = 400;
    view.stats.header_timeouts = 3;
    state.view = Arc::new(view);
    let screen = text(&state);
    let header = screen.lines().next().unwrap_or_default();
    assert!(header.contains("closed slow-headers 3 idle 400"), "{header}");
    assert!(!header.contains("no-ping"), "zero counts are left out: {header}");
}

#[test]
fn quit_keys() {
    let (mut s, mut e) = setup(80, 24);
    assert_eq!(send(&mut s, &mut e, key('q')), Some(Intent::Quit));
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(send(&mut s, &mut e, ctrl_c.clone()), Some(Intent::Quit));
    // While typing a filter, q is a letter; Ctrl-C still quits.
    send(&mut s, &mut e, key('/'));
    assert_eq!(send(&mut s, &mut e, key('q')), None);
    assert_eq!(s.flows.input.as_ref().map(|(t, _)| t.as_str()), Some("q"));
    assert_eq!(send(&mut s, &mut e, ctrl_c), Some(Intent::Quit));
}

#[test]
fn navigation_moves_and_clamps() {
    let (mut s, mut e) = setup(80, 24);
    let n = s.flows.order.len();
    assert_eq!(n, 9);
    assert_eq!(s.flows.pos.selected, 0);
    send(&mut s, &mut e, key('k'));
    assert_eq!(s.flows.pos.selected, 0);
    send(&mut s, &mut e, key('j'));
    send(&mut s, &mut e, code(KeyCode::Down));
    assert_eq!(s.flows.pos.selected, 2);
    send(&mut s, &mut e, key('G'));
    assert_eq!(s.flows.pos.selected, n - 1);
    send(&mut s, &mut e, code(KeyCode::PageDown));
    assert_eq!(s.flows.pos.selected, n - 1);
    send(&mut s, &mut e, key('g'));
    assert_eq!(s.flows.pos.selected, 0);
    let id = s.flows.selected_id.unwrap();
    assert_eq!(s.view.flows[s.flows.order[0] as usize].flow.id, id);
    // Screens: digits, Tab and Shift-Tab.
    send(&mut s, &mut e, key('4'));
    assert_eq!(s.screen, Screen::Lag);
    send(&mut s, &mut e, code(KeyCode::Tab));
    assert_eq!(s.screen, Screen::Insights);
    send(&mut s, &mut e, code(KeyCode::Tab));
    assert_eq!(s.screen, Screen::Architecture);
    send(&mut s, &mut e, code(KeyCode::Tab));
    assert_eq!(s.screen, Screen::Events);
    send(&mut s, &mut e, code(KeyCode::Tab));
    assert_eq!(s.screen, Screen::Flows);
    send(&mut s, &mut e, code(KeyCode::BackTab));
    assert_eq!(s.screen, Screen::Events);
    send(&mut s, &mut e, key('6'));
    assert_eq!(s.screen, Screen::Architecture);
}

#[test]
fn architecture_lists_root_operations_and_enter_filters_their_flows() {
    let (mut s, mut e) = setup(200, 50);
    send(&mut s, &mut e, key('6'));
    let a = &s.view.analysis.architecture;
    assert_eq!(s.architecture.list.order.len(), a.len());
    // Rows with insights first: orders POST /orders carries the duplicate delivery and the
    // unconsumed event (their flows are rooted there).
    let first = &a[s.architecture.list.order[0] as usize];
    assert_eq!((&*first.service, &*first.operation), ("orders", "POST /orders"));
    let kinds: Vec<&str> = s.architecture.insights[s.architecture.list.order[0] as usize]
        .iter()
        .map(|&i| s.view.analysis.insights[i as usize].kind.as_str())
        .collect();
    assert_eq!(kinds, ["duplicate_delivery", "unconsumed_event"]);
    // The checkout row: Enter shows exactly the flows it roots.
    let row = s
        .architecture
        .list
        .order
        .iter()
        .position(|&i| a[i as usize].operation == "POST /checkout")
        .unwrap();
    let flows = a[s.architecture.list.order[row] as usize].flows;
    for _ in 0..row {
        send(&mut s, &mut e, key('j'));
    }
    assert!(text(&s).contains("gateway POST /checkout · choreography"), "{}", text(&s));
    send(&mut s, &mut e, code(KeyCode::Enter));
    assert_eq!(s.screen, Screen::Flows);
    assert_eq!(s.flows.filter.text(), "root:\"gateway POST /checkout\"");
    assert_eq!(s.flows.order.len() as u64, flows);
    for &i in &s.flows.order {
        let f = &s.view.flows[i as usize].flow;
        assert_eq!((&*f.root.service, &*f.root.name), ("gateway", "POST /checkout"));
    }
}

#[test]
fn sorting_cycles_and_reverses() {
    let (mut s, mut e) = setup(200, 50);
    let starts = |s: &State| -> Vec<u64> {
        s.flows.order.iter().map(|&i| s.view.flows[i as usize].flow.start_unix_nano).collect()
    };
    let v = starts(&s);
    assert!(v.windows(2).all(|w| w[0] >= w[1]), "newest first by default");
    send(&mut s, &mut e, key('S'));
    let v = starts(&s);
    assert!(v.windows(2).all(|w| w[0] <= w[1]));
    send(&mut s, &mut e, key('s'));
    let durations: Vec<u64> =
        s.flows.order.iter().map(|&i| s.view.flows[i as usize].flow.duration_ns).collect();
    assert!(durations.windows(2).all(|w| w[0] >= w[1]), "{durations:?}");
    // A click on a column header sorts by it.
    let header_y = 2;
    let x = (0..200)
        .find(|&x| super::layout::flow_column_at(200, x) == Some(super::flows::FlowColumn::Hops))
        .unwrap();
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x,
        row: header_y,
        modifiers: KeyModifiers::NONE,
    };
    send(&mut s, &mut e, Msg::Mouse(click));
    assert_eq!(s.flows.sort, super::flows::FlowColumn::Hops);
}

#[test]
fn filtering_by_status_duration_service_and_attribute() {
    let (mut s, mut e) = setup(80, 24);
    let type_filter = |s: &mut State, e: &mut FakeEngine, text: &str| {
        send(s, e, key('/'));
        send(s, e, Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)));
        let mut last = None;
        for c in text.chars() {
            last = send(s, e, key(c)).or(last);
        }
        send(s, e, code(KeyCode::Enter));
        last
    };
    type_filter(&mut s, &mut e, "error");
    assert_eq!(s.flows.order.len(), 3);
    assert!(
        s.flows.order.iter().all(|&i| s.view.flows[i as usize].flow.status == FlowStatus::Error)
    );
    type_filter(&mut s, &mut e, ">2s");
    assert_eq!(s.flows.order.len(), 2);
    type_filter(&mut s, &mut e, "service:shipping");
    assert_eq!(s.flows.order.len(), 1);
    type_filter(&mut s, &mut e, "dest:payment.commands");
    assert_eq!(s.flows.order.len(), 0, "no hop reaches payment.commands");
    // An attribute term asks the engine, and applies its answer.
    let asked = type_filter(&mut s, &mut e, "order.id=o-1002");
    assert_eq!(
        asked,
        Some(Intent::Request(ViewRequest::AttributeFilter(Some((
            "order.id".into(),
            "o-1002".into()
        )))))
    );
    assert_eq!(s.flows.order.len(), 1);
    // Esc while typing restores the filter from before; Esc in the list clears it.
    send(&mut s, &mut e, key('/'));
    send(&mut s, &mut e, key('x'));
    assert_eq!(s.flows.order.len(), 0);
    send(&mut s, &mut e, code(KeyCode::Esc));
    assert_eq!(s.flows.filter.text(), "order.id=o-1002");
    assert_eq!(s.flows.order.len(), 1);
    let cleared = send(&mut s, &mut e, code(KeyCode::Esc));
    assert_eq!(cleared, Some(Intent::Request(ViewRequest::AttributeFilter(None))));
    assert_eq!(s.flows.order.len(), 9);
}

#[test]
fn selection_and_scroll_survive_live_updates() {
    let (mut s, mut e) = setup(80, 12);
    // Rows on screen: 12 - 3 (header, tabs, footer) - 1 (column header) = 8; scroll a bit.
    s.height = 8;
    update(&mut s, Msg::Resize(80, 8));
    for _ in 0..5 {
        send(&mut s, &mut e, key('j'));
    }
    let id = s.flows.selected_id.unwrap();
    let row_on_screen = s.flows.pos.selected - s.flows.pos.offset;
    assert!(s.flows.pos.offset > 0);
    // A new view with two newer flows: the list shifts, the selection does not.
    let mut v = (*e.view()).clone();
    let mut rows = v.flows.to_vec();
    for n in 0..2 {
        let mut r = (*rows[0]).clone();
        r.flow.id = TraceId::from_hex(&format!("ffff{n:028x}")).unwrap();
        r.flow.start_unix_nano += 100_000_000_000;
        rows.push(Arc::new(r));
    }
    v.flows = rows.into();
    update(&mut s, Msg::View(Arc::new(v)));
    assert_eq!(s.flows.order.len(), 11);
    assert_eq!(s.flows.selected_id, Some(id));
    assert_eq!(s.flows.pos.selected - s.flows.pos.offset, row_on_screen);
    // The selected flow disappears (evicted): the selection stays at its index.
    let mut v = (*s.view).clone();
    let mut rows = v.flows.to_vec();
    let at = rows.iter().position(|r| r.flow.id == id).unwrap();
    rows.remove(at);
    v.flows = rows.into();
    let before = s.flows.pos.selected;
    update(&mut s, Msg::View(Arc::new(v)));
    assert_eq!(s.flows.pos.selected, before);
    assert_ne!(s.flows.selected_id, Some(id));
}

#[test]
fn on_the_first_row_the_selection_follows_new_flows() {
    let (mut s, mut e) = setup(80, 24);
    assert_eq!(s.flows.pos.selected, 0);
    let first = s.flows.selected_id.unwrap();
    let mut v = (*e.view()).clone();
    let mut rows = v.flows.to_vec();
    let mut newer = (*rows[0]).clone();
    let newest = TraceId::from_hex(&format!("ffff{:028x}", 7)).unwrap();
    newer.flow.id = newest;
    newer.flow.start_unix_nano = rows.iter().map(|r| r.flow.start_unix_nano).max().unwrap() + 1;
    rows.push(Arc::new(newer));
    v.flows = rows.into();
    update(&mut s, Msg::View(Arc::new(v)));
    assert_eq!(s.flows.pos.selected, 0);
    assert_eq!(s.flows.selected_id, Some(newest));
    assert_ne!(s.flows.selected_id, Some(first));
}

#[test]
fn pause_holds_the_view_and_resume_applies_it() {
    let (mut s, mut e) = setup(80, 24);
    send(&mut s, &mut e, key('p'));
    assert!(s.paused);
    let seq = s.view.seq;
    update(&mut s, Msg::View(e.view()));
    assert_eq!(s.view.seq, seq);
    assert!(s.held.is_some());
    send(&mut s, &mut e, key('p'));
    assert!(!s.paused);
    assert!(s.view.seq > seq);
    assert_eq!(send(&mut s, &mut e, key('c')), Some(Intent::Request(ViewRequest::Clear)));
}

#[test]
fn detail_opens_lays_out_hops_and_closes() {
    let (mut s, mut e) = checkout_detail(200, 50);
    let d = s.detail.as_ref().unwrap();
    let detail = d.detail.clone().expect("the engine answered");
    assert_eq!(detail.traces.len(), 5);
    assert!(matches!(&detail.target, DetailTarget::Flow(_)));
    // Every span and hop has a row; the hop to payments says how long it queued, and where.
    let hops = d.timeline.rows.iter().filter(|r| matches!(r.kind, RowKind::Hop { .. })).count();
    assert_eq!(hops, detail.hops.len());
    let screen = text(&s);
    assert!(screen.contains("⇢ 1.24s in kafka orders"), "{screen}");
    assert!(screen.contains("⇢ 28ms in rabbitmq orders"), "{screen}");
    // The critical path runs from the root to the last work: shipping's.
    let critical: Vec<String> = d
        .timeline
        .rows
        .iter()
        .filter(|r| r.critical)
        .filter_map(|r| match r.kind {
            RowKind::Span { span, .. } => Some(detail.spans[span].service.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(critical.first().map(String::as_str), Some("gateway"));
    assert!(critical.iter().any(|c| c == "shipping"), "{critical:?}");
    // Fold the root: one row left; unfold: all back.
    let all = d.timeline.rows.len();
    send(&mut s, &mut e, key('g'));
    send(&mut s, &mut e, key('h'));
    assert_eq!(s.detail.as_ref().unwrap().timeline.rows.len(), 1);
    send(&mut s, &mut e, key('l'));
    assert_eq!(s.detail.as_ref().unwrap().timeline.rows.len(), all);
    // Esc closes it and tells the engine.
    assert_eq!(
        send(&mut s, &mut e, code(KeyCode::Esc)),
        Some(Intent::Request(ViewRequest::Detail(None)))
    );
    assert!(s.detail.is_none());
    assert_eq!(s.screen, Screen::Flows);
}

#[test]
fn following_links_within_and_across_flows() {
    let (mut s, mut e) = checkout_detail(200, 50);
    select_span(&mut s, &mut e, "payments", "orders process");
    send(&mut s, &mut e, key('n'));
    assert_eq!(s.detail.as_ref().unwrap().link_cursor, Some(0));
    // The link points at orders' producer, in this flow: Enter selects it.
    send(&mut s, &mut e, code(KeyCode::Enter));
    let d = s.detail.as_ref().unwrap();
    let detail = d.detail.clone().unwrap();
    let span = &detail.spans[d.selected_span().unwrap()];
    assert_eq!((span.service.as_str(), span.name.as_str()), ("orders", "orders publish"));
    // Its backlinks: the consumers that link to it.
    assert_eq!(span.backlinks.len(), 3, "{:?}", span.backlinks);

    // The audit job links into two other flows: following a link opens the other flow with
    // the target selected, and Esc comes back.
    let (mut s, mut e) = setup(200, 50);
    select_flow_by(&mut s, &mut e, |f| f.root.service == "reporting");
    send(&mut s, &mut e, code(KeyCode::Enter));
    let audit = s.detail.as_ref().unwrap().target.clone();
    send(&mut s, &mut e, key('n'));
    send(&mut s, &mut e, key('n'));
    let intent = send(&mut s, &mut e, code(KeyCode::Enter));
    assert!(
        matches!(intent, Some(Intent::Request(ViewRequest::Detail(Some(DetailTarget::Trace(_)))))),
        "{intent:?}"
    );
    let d = s.detail.as_ref().unwrap();
    let detail = d.detail.clone().unwrap();
    let flow = detail.flow.as_ref().unwrap();
    assert_eq!(flow.root.name, "POST /orders");
    let span = &detail.spans[d.selected_span().unwrap()];
    assert_eq!(span.name, "orders publish");
    assert!(text(&s).contains("followed 1 link"));
    send(&mut s, &mut e, code(KeyCode::Esc));
    assert_eq!(s.detail.as_ref().unwrap().target, audit);
    assert_eq!(s.detail.as_ref().unwrap().detail.as_ref().unwrap().spans[0].service, "reporting");
}

#[test]
fn jumps_from_insights_and_sagas_open_their_flow() {
    let (mut s, mut e) = setup(200, 50);
    send(&mut s, &mut e, key('5'));
    let intent = send(&mut s, &mut e, code(KeyCode::Enter));
    assert!(
        matches!(intent, Some(Intent::Request(ViewRequest::Detail(Some(DetailTarget::Flow(_)))))),
        "{intent:?}"
    );
    assert!(s.in_detail());
    assert_eq!(s.screen, Screen::Insights);
    assert!(s.detail.as_ref().unwrap().detail.is_some());
    send(&mut s, &mut e, code(KeyCode::Esc));
    assert!(!s.in_detail());
    assert_eq!(s.screen, Screen::Insights);
    // Sagas: stuck first, and Enter opens the flow holding it.
    send(&mut s, &mut e, key('3'));
    let first = s.sagas.order[0] as usize;
    assert_eq!(s.view.analysis.sagas[first].state.as_str(), "stuck");
    send(&mut s, &mut e, code(KeyCode::Enter));
    assert!(s.in_detail());
    // Lag: Enter filters the flows by the destination.
    send(&mut s, &mut e, code(KeyCode::Esc));
    send(&mut s, &mut e, key('4'));
    send(&mut s, &mut e, code(KeyCode::Enter));
    assert_eq!(s.screen, Screen::Flows);
    assert_eq!(s.flows.filter.text(), "dest:orders");
}

#[test]
fn export_writes_mermaid_and_json() {
    let (mut s, mut e) = checkout_detail(80, 24);
    let Some(Intent::Export(mermaid)) = send(&mut s, &mut e, key('e')) else { panic!("no export") };
    let m = &mermaid;
    assert_eq!(
        std::path::Path::new(&m.file_name).extension().and_then(|x| x.to_str()),
        Some("mmd")
    );
    assert!(m.contents.starts_with("sequenceDiagram\n"), "{}", m.contents);
    assert!(m.contents.contains("-->>"), "events are dashed: {}", m.contents);
    assert!(m.contents.contains("->>"), "calls are solid: {}", m.contents);
    let Some(Intent::Export(json)) = send(&mut s, &mut e, key('E')) else { panic!("no export") };
    let v: serde_json::Value = serde_json::from_str(&json.contents).unwrap();
    assert_eq!(v["schema"], "hopscope.flow/v1");
    assert_eq!(v["spans"].as_array().unwrap().len(), 15);
    update(&mut s, Msg::Exported(Ok(PathBuf::from("/tmp/x.mmd"))));
    assert!(text(&s).contains("exported to /tmp/x.mmd"));
    // From the list, the export waits for the detail.
    let (mut s, mut e) = setup(80, 24);
    let intent = send(&mut s, &mut e, key('e'));
    assert!(matches!(intent, Some(Intent::Export(_))), "{intent:?}");
}

#[test]
fn mouse_selects_opens_and_scrolls() {
    let (mut s, mut e) = setup(80, 24);
    let click = |row: u16, column: u16| {
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // Rows start at y = 3 (header, tabs, column header).
    send(&mut s, &mut e, click(5, 10));
    assert_eq!(s.flows.pos.selected, 2);
    let open = send(&mut s, &mut e, click(5, 10));
    assert!(matches!(open, Some(Intent::Request(ViewRequest::Detail(Some(_))))));
    send(&mut s, &mut e, code(KeyCode::Esc));
    let wheel = Msg::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: 10,
        modifiers: KeyModifiers::NONE,
    });
    send(&mut s, &mut e, wheel);
    assert_eq!(s.flows.pos.selected, 5);
    // The tab bar.
    let x = (0..80)
        .find(|&x| super::layout::tab_at(&s.totals, s.width, s.screen, x) == Some(Screen::Lag))
        .unwrap();
    send(&mut s, &mut e, click(1, x));
    assert_eq!(s.screen, Screen::Lag);
}

#[test]
fn replay_keys_only_in_replay() {
    let (mut s, mut e) = setup(80, 24);
    assert_eq!(send(&mut s, &mut e, key(' ')), Some(Intent::Replay(ReplayCommand::TogglePause)));
    assert_eq!(send(&mut s, &mut e, key('+')), Some(Intent::Replay(ReplayCommand::Faster)));
    assert_eq!(send(&mut s, &mut e, key('-')), Some(Intent::Replay(ReplayCommand::Slower)));
    assert_eq!(send(&mut s, &mut e, key('r')), Some(Intent::Replay(ReplayCommand::Restart)));
    assert_eq!(s.message.as_deref(), Some("replaying from the start"));
    s.replay = None;
    assert_eq!(send(&mut s, &mut e, key('+')), None);
    assert_eq!(send(&mut s, &mut e, key('r')), None);
}

#[test]
fn resizing_keeps_the_selection_visible() {
    let (mut s, mut e) = setup(200, 50);
    send(&mut s, &mut e, key('G'));
    for (w, h) in [(80, 8), (20, 5), (200, 50), (1, 1), (80, 24)] {
        update(&mut s, Msg::Resize(w, h));
        let t = draw(&s);
        assert_eq!(t.backend().buffer().area.width, w);
        let page = usize::from(h.saturating_sub(4)).max(1);
        assert!(s.flows.pos.selected < s.flows.pos.offset + page);
    }
}

#[test]
fn no_color_still_marks_status() {
    let (mut s, _) = setup(80, 24);
    s.ctx.theme = Theme { color: false };
    let t = draw(&s);
    let buf = t.backend().buffer();
    assert!(
        buf.content
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset)
    );
    let screen = t.backend().to_string();
    assert!(screen.contains("✗ error") && screen.contains("⚠ stuck") && screen.contains("✓ ok"));
    // The help, the scrolled span pane and the graph's back edges too.
    let plain =
        |s: &State| {
            draw(s).backend().buffer().content.iter().all(|c| {
                c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset
            })
        };
    let (mut s, mut e) = setup(80, 24);
    s.ctx.theme = Theme { color: false };
    send(&mut s, &mut e, key('?'));
    assert!(plain(&s));
    let (mut s, mut e) = checkout_detail(80, 24);
    s.ctx.theme = Theme { color: false };
    select_span(&mut s, &mut e, "payments", "orders process");
    send(&mut s, &mut e, key('J'));
    assert!(plain(&s));
    let (mut s, mut e) = setup_over(&collector_fixture("18_sync_over_async"), 200, 50);
    s.ctx.theme = Theme { color: false };
    send(&mut s, &mut e, key('2'));
    assert!(plain(&s));
}

/// The Flows body of a frame: its table, its row count, and the segments it holds.
fn flows_table(state: &State) -> (usize, usize) {
    let vm = super::chrome::frame(state);
    let BodyVm::Table(table) = vm.body else { panic!("the Flows screen draws a table") };
    let segs = table.rows.iter().flatten().map(Vec::len).sum();
    (table.rows.len(), segs)
}

/// A frame costs what is on screen, not what is in the store: at 1k and at 30k spans the
/// Flows view-model of a 200x50 frame holds one page of rows (no more than the screen is
/// tall), the same count at either size, at the top and at the bottom of the list. Speed is
/// measured in `benches/frame.rs`, never here.
#[test]
fn flows_frame_holds_only_the_visible_rows() {
    let (w, h) = (200, 50);
    let page = super::layout::list_rows(super::layout::areas(w, h).body);
    let small = bench_support::generated_view(1_000);
    let large = bench_support::generated_view(30_000);
    assert!(small.flows.len() > page, "the small store fills more than a page");
    assert!(large.flows.len() > 20 * small.flows.len());
    let mut at_top = Vec::new();
    for view in [&small, &large] {
        let mut state = bench_support::flows_state(view, w, h);
        assert_eq!(state.flows.order.len(), view.flows.len());
        let (rows, segs) = flows_table(&state);
        assert_eq!(rows, page);
        assert!(rows <= usize::from(h));
        at_top.push(segs);
        // The last page: the selection at the end, still one page of rows.
        update(&mut state, code(KeyCode::End));
        assert_eq!(state.flows.pos.selected, view.flows.len() - 1);
        let (rows, _) = flows_table(&state);
        assert_eq!(rows, page);
        let mut buf = ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, w, h));
        super::render_to_buffer(&state, &mut buf);
        assert_eq!(buf.content.len(), usize::from(w) * usize::from(h));
    }
    // Each row is one segment per cell, two for the root (service, name) and a third when it
    // lists the other services: the segments drawn depend on the page, not on how many flows
    // are behind it.
    let columns = super::chrome::frame(&bench_support::flows_state(&small, w, h));
    let BodyVm::Table(table) = columns.body else { panic!("the Flows screen draws a table") };
    let bound = page * (table.columns.len() + 2);
    assert!(at_top.iter().all(|&segs| segs >= page && segs <= bound), "{at_top:?} vs {bound}");
}

snapshots!(screen_help_end, |w, h| {
    let (mut s, mut e) = setup(w, h);
    send(&mut s, &mut e, key('?'));
    send(&mut s, &mut e, key('G'));
    s
});

/// At 80x24 the help scrolls, wraps instead of cutting, and lists every key: every word of
/// every entry is on screen at one scroll position or another. Scrolling keeps it open; any
/// other key closes it.
#[test]
fn help_scrolls_and_lists_every_key_at_80x24() {
    let (mut s, mut e) = setup(80, 24);
    send(&mut s, &mut e, key('?'));
    assert!(s.help);
    let first = text(&s);
    assert!(first.contains("more below"), "{first}");
    let mut seen = first.clone();
    for _ in 0..100 {
        send(&mut s, &mut e, key('j'));
        seen.push_str(&text(&s));
    }
    assert!(s.help, "j scrolls, it does not close");
    let max = s.help_scroll;
    assert!(max > 0);
    assert!(text(&s).contains("more above"));
    for section in super::help::sections(true) {
        assert!(seen.contains(section.title), "{} never shown", section.title);
        for (keys, what) in section.entries {
            assert!(seen.contains(keys), "{keys} never shown");
            for word in what.split_whitespace() {
                assert!(seen.contains(word), "`{word}` of `{what}` never shown whole");
            }
        }
    }
    send(&mut s, &mut e, key('g'));
    assert_eq!(s.help_scroll, 0);
    send(&mut s, &mut e, code(KeyCode::PageDown));
    assert!(s.help_scroll > 1);
    send(&mut s, &mut e, key('G'));
    assert_eq!(s.help_scroll, max);
    send(&mut s, &mut e, key('k'));
    assert_eq!(s.help_scroll, max - 1);
    // Reopening starts at the top; another key closes; q quits.
    send(&mut s, &mut e, key('x'));
    assert!(!s.help);
    send(&mut s, &mut e, key('?'));
    assert_eq!(s.help_scroll, 0);
    assert_eq!(send(&mut s, &mut e, key('q')), Some(Intent::Quit));
    // At 200x50 it fits whole: nothing to scroll.
    let (mut s, mut e) = setup(200, 50);
    send(&mut s, &mut e, key('?'));
    assert!(!text(&s).contains("more below"));
    send(&mut s, &mut e, key('j'));
    assert_eq!(s.help_scroll, 0);
}

/// The bottom line of the screen.
fn hint_bar(state: &State) -> String {
    let t = draw(state);
    let buf = t.backend().buffer();
    let y = buf.area.height - 1;
    (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_owned()).collect()
}

#[test]
fn hint_bar_follows_the_mode_and_the_width() {
    let (mut s, mut e) = setup(80, 24);
    let bar = hint_bar(&s);
    for hint in ["Enter open", "/ filter", "space pause", "+/- speed", "r restart"] {
        assert!(bar.contains(hint), "`{hint}` missing from {bar:?}");
    }
    // Paused, space resumes.
    let status = ReplayStatus { paused: true, ..s.replay.unwrap() };
    update(&mut s, Msg::Replay(status));
    assert!(hint_bar(&s).contains("space resume"));
    // Narrow: the least useful hints go first, the replay keys stay.
    update(&mut s, Msg::Resize(50, 24));
    let bar = hint_bar(&s);
    assert!(bar.contains("Enter open") && bar.contains("space resume"), "{bar:?}");
    assert!(!bar.contains("export") && !bar.contains("quit"), "{bar:?}");
    // Live: no replay keys; the room goes to the others.
    update(&mut s, Msg::Resize(80, 24));
    s.replay = None;
    let bar = hint_bar(&s);
    assert!(!bar.contains("space") && !bar.contains("speed") && !bar.contains("restart"));
    assert!(bar.contains("e/E export") && bar.contains("q quit"), "{bar:?}");
    // The detail names its own keys.
    let (mut s, mut e2) = checkout_detail(80, 24);
    let bar = hint_bar(&s);
    assert!(bar.contains("Esc back") && bar.contains("space pause"), "{bar:?}");
    send(&mut s, &mut e2, code(KeyCode::Esc));
    send(&mut s, &mut e, key('2'));
    assert!(hint_bar(&s).contains("v list") && hint_bar(&s).contains("f/F focus"));
}

snapshots!(screen_flow_detail_pane_scrolled, |w, h| {
    let (mut s, mut e) = checkout_detail(w, h);
    select_span(&mut s, &mut e, "payments", "orders process");
    for _ in 0..3 {
        send(&mut s, &mut e, key('J'));
    }
    s
});

/// The span pane scrolls with J/K, Shift-↓/↑ and the wheel over it, stops at its last line,
/// and starts at the top again when the selection moves.
#[test]
fn span_pane_scrolls_and_resets_with_the_selection() {
    let (mut s, mut e) = checkout_detail(80, 24);
    select_span(&mut s, &mut e, "payments", "orders process");
    let pane = |s: &State| s.detail.as_ref().unwrap().pane_scroll;
    let len = super::detail::vm::span_pane_len(s.detail.as_ref().unwrap());
    let page =
        super::layout::span_pane_page(super::layout::detail(super::layout::areas(80, 24).body).1);
    assert!(len > page, "the span needs more than the pane: {len} lines, {page} rows");
    let before = text(&s);
    assert!(before.contains("more · J/K scroll"), "{before}");
    let selected = s.detail.as_ref().unwrap().pos.selected;
    send(&mut s, &mut e, key('J'));
    assert_eq!(pane(&s), 1);
    assert_eq!(s.detail.as_ref().unwrap().pos.selected, selected, "J leaves the timeline be");
    assert_ne!(text(&s), before);
    let shift_down = Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::SHIFT));
    send(&mut s, &mut e, shift_down);
    assert_eq!(pane(&s), 2);
    for _ in 0..100 {
        send(&mut s, &mut e, key('J'));
    }
    assert_eq!(pane(&s), len - page, "stops at the last page");
    assert!(!text(&s).contains("more · J/K scroll"));
    send(&mut s, &mut e, key('K'));
    assert_eq!(pane(&s), len - page - 1);
    // The wheel over the pane scrolls it, not the timeline.
    let at = super::layout::detail(super::layout::areas(80, 24).body).1;
    let wheel = |kind| {
        Msg::Mouse(MouseEvent {
            kind,
            column: at.x + 5,
            row: at.y + 2,
            modifiers: KeyModifiers::NONE,
        })
    };
    send(&mut s, &mut e, wheel(MouseEventKind::ScrollUp));
    assert_eq!(pane(&s), len - page - 4);
    assert_eq!(s.detail.as_ref().unwrap().pos.selected, selected);
    // A new selection starts at the top.
    send(&mut s, &mut e, key('j'));
    assert_eq!(pane(&s), 0);
}

snapshots!(screen_graph_cycle, |w, h| {
    let (mut s, mut e) = setup_over(&collector_fixture("18_sync_over_async"), w, h);
    send(&mut s, &mut e, key('2'));
    s
});

/// A request/reply round trip (frontend → quote.requests → pricing → quote.replies →
/// frontend) closes a cycle: the edge back into frontend is drawn right to left, its arrow
/// into frontend's right side, with its label, and the legend says what it is.
#[test]
fn graph_draws_edges_that_close_a_cycle() {
    let (mut s, mut e) = setup_over(&collector_fixture("18_sync_over_async"), 200, 50);
    send(&mut s, &mut e, key('2'));
    let g = &s.view.analysis.graph;
    let reply = g
        .edges
        .iter()
        .position(|x| x.from == "rabbitmq:quote.replies" && x.to == "frontend")
        .unwrap();
    let canvas = s.graph.canvas.clone().unwrap();
    let back: Vec<_> = canvas.routes.iter().filter(|r| r.back).collect();
    assert_eq!(back.len(), 1, "{:?}", canvas.routes);
    assert_eq!(back[0].edge, reply);
    let frontend = canvas.boxes.iter().find(|b| b.label == "frontend").unwrap();
    let tip = *back[0].points.last().unwrap();
    assert_eq!(tip, (frontend.x + frontend.w, tip.1), "{:?}", back[0].points);
    let vm = super::chrome::frame(&s);
    let BodyVm::Graph(super::graph::vm::GraphVm::Diagram(d)) = vm.body else {
        panic!("the diagram is drawn at 200x50")
    };
    let labelled = |l: &&super::graph::diagram::LineVm| {
        l.label.as_ref().is_some_and(|(_, _, t)| t.starts_with("↩ 1.0/s"))
    };
    assert!(d.lines.iter().any(|l| labelled(&l)), "{:?}", d.lines);
    let screen = text(&s);
    assert!(screen.contains("↩ reply"), "{screen}");
    assert!(screen.contains('◀'), "{screen}");
}
