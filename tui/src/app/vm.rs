//! View-models: plain structs (strings, numbers, [`Tone`]s; no ratatui types) built from
//! the [`State`] for the area being drawn. Each builder reads only the rows on screen, so a
//! frame costs what it shows, whatever the engine holds.

use hopscope_collector::analysis::{
    EdgeKind, FlowStatus, LagStatus, NodeKind, SagaState, Severity, StepKind, StepStatus, TraceId,
};
use hopscope_collector::engine::views::{ClockMode, DetailSpan, FlowDetail, TREND_BUCKET_NS};
use ratatui::layout::Rect;

use super::fmt;
use super::help;
use super::layout;
use super::state::{DetailState, FlowColumn, Mode, Screen, State};
use super::theme::{Theme, Tone};
use super::timeline::RowKind;

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

fn plain(text: impl Into<String>) -> Line {
    vec![Seg::new(text, Tone::Normal)]
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

fn col(title: &str, width: u16, right: bool) -> Column {
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

/// One row of the flow timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRowVm {
    pub label: Line,
    pub duration: String,
    /// The bar as fractions of the flow's window.
    pub from: f64,
    pub to: f64,
    pub bar: BarKind,
    pub critical: bool,
    pub error: bool,
    pub selected: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    Span,
    Hop,
    None,
}

/// The flow detail: title, timeline or sequence diagram, span pane.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailVm {
    pub theme: Theme,
    pub title: Line,
    pub body: DetailBody,
    pub pane: PaneVm,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DetailBody {
    Waiting(String),
    Timeline { rows: Vec<TimelineRowVm>, label_width: u16 },
    Sequence(SequenceVm),
}

/// The sequence diagram: a column per service, one arrow per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceVm {
    pub participants: Vec<String>,
    pub rows: Vec<SeqRowVm>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqRowVm {
    pub from: usize,
    pub to: usize,
    pub label: String,
    pub event: bool,
    pub error: bool,
    pub selected: bool,
    pub time: String,
}

/// A titled box of lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneVm {
    pub theme: Theme,
    pub title: String,
    pub lines: Vec<Line>,
}

/// Sagas: the table and the selected saga's steps.
#[derive(Debug, Clone, PartialEq)]
pub struct SagasVm {
    pub table: TableVm,
    pub steps: PaneVm,
    /// Step bars in the pane, parallel to its lines after the first `bar_skip` lines.
    pub bars: Vec<(f64, f64, Tone)>,
    pub bar_skip: usize,
}

/// The graph: boxes and arrows when they fit, else a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphVm {
    Diagram(DiagramVm),
    List(TableVm),
}

/// A layered diagram: columns of boxes, edges drawn between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagramVm {
    pub theme: Theme,
    pub boxes: Vec<BoxVm>,
    pub arrows: Vec<ArrowVm>,
    pub legend: Line,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxVm {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    pub label: String,
    pub destination: bool,
    pub selected: bool,
    pub tone: Tone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrowVm {
    /// From the cell right of a box's border (x, y) to the cell left of another's.
    pub from: (u16, u16),
    pub to: (u16, u16),
    /// The column its vertical segment runs in.
    pub lane: u16,
    pub label: String,
    pub dashed: bool,
    pub tone: Tone,
    /// An edge back to an earlier column (closing a cycle): the lane it leaves its source
    /// by, and the row under the boxes it runs back along; `lane` is the one it enters by.
    pub back: Option<(u16, u16)>,
}

/// The help overlay: its box, and the rows on screen of each column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpVm {
    pub theme: Theme,
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    pub key_width: u16,
    pub column_width: u16,
    pub columns: Vec<Vec<help::Row>>,
    pub title: String,
    /// Where the page is, when the help scrolls (drawn on the bottom border).
    pub marker: Option<String>,
}

/// What the body shows.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyVm {
    Table(TableVm),
    Detail(DetailVm),
    Sagas(SagasVm),
    Graph(GraphVm),
}

/// A whole frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameVm {
    pub header: BarVm,
    pub tabs: BarVm,
    pub body: BodyVm,
    pub footer: BarVm,
    pub help: Option<HelpVm>,
}

/// Builds the frame for a `width` × `height` terminal.
pub fn frame(state: &State) -> FrameVm {
    let areas = layout::areas(state.width, state.height);
    let body = if state.in_detail() {
        BodyVm::Detail(detail(state, areas.body))
    } else {
        match state.screen {
            Screen::Flows => BodyVm::Table(flows(state, areas.body)),
            Screen::Graph => BodyVm::Graph(graph(state, areas.body)),
            Screen::Sagas => BodyVm::Sagas(sagas(state, areas.body)),
            Screen::Lag => BodyVm::Table(lag(state, areas.body)),
            Screen::Insights => BodyVm::Table(insights(state, areas.body)),
        }
    };
    FrameVm {
        header: header(state, areas.header.width),
        tabs: tabs(state),
        body,
        footer: footer(state),
        help: state.help.then(|| help(state, areas.body)),
    }
}

fn width_of(line: &Line) -> usize {
    line.iter().map(|s| s.text.chars().count()).sum()
}

/// The header: mode and endpoints, rates, store, memory, refusals, the event clock. Parts
/// are dropped, least important first, until it fits.
fn header(state: &State, width: u16) -> BarVm {
    let v = &state.view;
    let s = &v.stats;
    let theme = state.ctx.theme;
    // (priority: lower stays longer, segments)
    let mut parts: Vec<(u8, Line)> = Vec::new();
    parts.push((0, vec![Seg::new(" hopscope ", Tone::Title)]));
    match &state.ctx.mode {
        Mode::Live { grpc, http } | Mode::Demo { grpc, http } => {
            let name = if matches!(state.ctx.mode, Mode::Demo { .. }) { "demo" } else { "live" };
            parts.push((1, vec![Seg::new(name, Tone::Good)]));
            parts.push((
                5,
                vec![Seg::new("gRPC ", Tone::Dim), Seg::new(grpc.clone(), Tone::Normal)],
            ));
            parts.push((
                6,
                vec![Seg::new("HTTP ", Tone::Dim), Seg::new(http.clone(), Tone::Normal)],
            ));
        }
        Mode::Replay { files } => {
            let room = if width >= 120 { 40 } else { 20 };
            parts.push((
                1,
                vec![
                    Seg::new("replay ", Tone::Accent),
                    Seg::new(fmt::fit(files, room), Tone::Normal),
                ],
            ));
            if let Some(r) = &state.replay {
                let (text, tone) = if r.finished && r.speed.is_none() {
                    ("✓ instant".to_owned(), Tone::Good)
                } else if r.finished {
                    ("✓ done".to_owned(), Tone::Good)
                } else if r.paused {
                    ("⏸ paused".to_owned(), Tone::Warn)
                } else {
                    match r.speed {
                        Some(x) => (format!("▶ {}x", speed_text(x)), Tone::Moving),
                        None => ("▶ instant".to_owned(), Tone::Moving),
                    }
                };
                let mut seg = vec![Seg::new(text, tone)];
                if r.position_unix_nano > 0 && r.speed.is_some() {
                    seg.push(Seg::new(
                        format!(" at {}", fmt::clock_ms(r.position_unix_nano)),
                        Tone::Normal,
                    ));
                }
                parts.push((2, seg));
            }
        }
    }
    parts.push((
        3,
        vec![Seg::new(fmt::count(v.spans_per_sec), Tone::Normal), Seg::new(" spans/s", Tone::Dim)],
    ));
    parts.push((
        1,
        vec![
            Seg::new(fmt::count(s.stored), Tone::Normal),
            Seg::new(" spans ", Tone::Dim),
            Seg::new(fmt::count(v.flows.len() as u64), Tone::Normal),
            Seg::new(" flows", Tone::Dim),
        ],
    ));
    if v.max_memory > 0 {
        let tone = if s.store_bytes * 10 > v.max_memory * 9 { Tone::Warn } else { Tone::Normal };
        parts.push((
            4,
            vec![
                Seg::new("mem ", Tone::Dim),
                Seg::new(fmt::bytes(s.store_bytes), tone),
                Seg::new(format!("/{}", fmt::bytes(v.max_memory)), Tone::Dim),
            ],
        ));
    }
    parts.push((
        4,
        vec![
            Seg::new("refused ", Tone::Dim),
            Seg::new(fmt::count(s.refused), if s.refused > 0 { Tone::Bad } else { Tone::Normal }),
            Seg::new(" evicted ", Tone::Dim),
            Seg::new(fmt::count(s.evicted), if s.evicted > 0 { Tone::Warn } else { Tone::Normal }),
        ],
    ));
    let clock = if v.clock.now_unix_nano == 0 {
        "--:--:--".to_owned()
    } else if width >= 120 {
        fmt::date_time(v.clock.now_unix_nano)
    } else {
        fmt::clock(v.clock.now_unix_nano)
    };
    let clock_label = match v.clock.mode {
        ClockMode::Live => "clock ",
        ClockMode::Replay => "event clock ",
    };
    let right: Line = {
        let mut r = Vec::new();
        if state.paused {
            r.push(Seg::new("⏸ PAUSED ", Tone::Warn));
        }
        if width >= 120 {
            r.push(Seg::new(clock_label, Tone::Dim));
            r.push(Seg::new(format!("{clock} UTC "), Tone::Normal));
        } else {
            r.push(Seg::new(format!("⏱ {clock} "), Tone::Normal));
        }
        r
    };
    let budget = usize::from(width).saturating_sub(width_of(&right) + 1);
    let sep = || Seg::new(" │ ", Tone::Dim);
    loop {
        let total: usize = parts.iter().map(|(_, l)| width_of(l) + 3).sum();
        if total <= budget || parts.len() <= 1 {
            break;
        }
        let worst = parts.iter().enumerate().max_by_key(|(i, (p, _))| (*p, *i)).map(|(i, _)| i);
        if let Some(i) = worst {
            parts.remove(i);
        }
    }
    let mut left = Vec::new();
    for (i, (_, l)) in parts.into_iter().enumerate() {
        if i > 1 {
            left.push(sep());
        } else if i == 1 {
            left.push(Seg::new(" ", Tone::Normal));
        }
        left.extend(l);
    }
    BarVm { theme, left, right, emphasis: false }
}

fn speed_text(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 { format!("{x:.0}") } else { format!("{x}") }
}

const TAB_PAD: usize = 1;

/// Each tab's label and its badge (what needs a look there).
fn tab_parts(state: &State) -> Vec<(Screen, String, Option<Seg>)> {
    let t = &state.totals;
    let count = |n: usize, symbol: &str, tone: Tone| {
        (n > 0).then(|| Seg::new(format!("{symbol}{n} "), tone))
    };
    Screen::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let badge = match s {
                Screen::Flows => count(t.failed_flows, "✗", Tone::Bad),
                Screen::Graph => None,
                Screen::Sagas => count(t.failed_sagas, "⚠", Tone::Warn),
                Screen::Lag => count(t.lagging, "⚠", Tone::Warn),
                Screen::Insights => count(t.insights, "", Tone::Accent),
            };
            (*s, format!(" {} {} ", i + 1, s.title()), badge)
        })
        .collect()
}

/// The screen whose tab is at column `x`.
pub fn tab_at(state: &State, x: u16) -> Option<Screen> {
    let mut at = TAB_PAD;
    for (s, label, badge) in tab_parts(state) {
        let w = label.chars().count() + badge.map_or(0, |b| b.text.chars().count());
        if (at..at + w).contains(&usize::from(x)) {
            return Some(s);
        }
        at += w + 1;
    }
    None
}

fn tabs(state: &State) -> BarVm {
    let mut left = vec![Seg::new(" ".repeat(TAB_PAD), Tone::Normal)];
    for (s, label, badge) in tab_parts(state) {
        let active = s == state.screen;
        left.push(Seg::new(label, if active { Tone::Title } else { Tone::Dim }));
        if let Some(b) = badge {
            left.push(b);
        }
        left.push(Seg::new(if active { "▏" } else { " " }, Tone::Dim));
    }
    let right = vec![Seg::new("? help  q quit ", Tone::Dim)];
    BarVm { theme: state.ctx.theme, left, right, emphasis: false }
}

fn footer(state: &State) -> BarVm {
    let theme = state.ctx.theme;
    if let Some((text, _)) = &state.flows.input {
        let waiting = state.flows.filter.attribute().is_some_and(|(k, v)| {
            state.view.attribute_matches.as_deref().is_none_or(|m| m.key != k || m.value != v)
        });
        let mut left =
            vec![Seg::new(" filter: ", Tone::Title), Seg::new(format!("{text}█"), Tone::Normal)];
        if waiting {
            left.push(Seg::new("  (asking the engine…)", Tone::Dim));
        }
        return BarVm {
            theme,
            left,
            right: vec![Seg::new(
                "e.g. error  >500ms  service:payments  dest:orders  order.id=42 · Enter keep · Esc undo ",
                Tone::Dim,
            )],
            emphasis: false,
        };
    }
    if let Some(m) = &state.message {
        return BarVm {
            theme,
            left: vec![Seg::new(format!(" {m}"), Tone::Accent)],
            right: Vec::new(),
            emphasis: false,
        };
    }
    let mut right = Vec::new();
    if !state.flows.filter.is_empty() && !state.in_detail() {
        right.push(Seg::new(format!("filter: {} ", state.flows.filter.text()), Tone::Accent));
    }
    let budget = usize::from(state.width).saturating_sub(width_of(&right) + 2);
    let mut left = vec![Seg::new(" ", Tone::Normal)];
    for (k, what) in hints(state, budget) {
        left.push(Seg::new(k, Tone::Title));
        left.push(Seg::new(format!(" {what}  "), Tone::Dim));
    }
    BarVm { theme, left, right, emphasis: false }
}

/// The keys the hint bar names for this screen and mode, in order, the least useful dropped
/// until they fit in `budget` columns.
fn hints(state: &State, budget: usize) -> Vec<(&'static str, &'static str)> {
    let pause = if state.paused { "resume" } else { "pause" };
    // (priority: lower stays longer, key, what it does)
    let mut keys: Vec<(u8, &str, &str)> = if state.in_detail() {
        vec![
            (1, "↑↓", "select"),
            (3, "←→", "fold"),
            (4, "s", "sequence"),
            (2, "n", "next link"),
            (2, "Enter", "follow"),
            (4, "J/K", "scroll span"),
            (5, "e/E", "export"),
            (0, "Esc", "back"),
        ]
    } else {
        match state.screen {
            Screen::Flows => vec![
                (1, "↑↓", "select"),
                (0, "Enter", "open"),
                (0, "/", "filter"),
                (3, "s/S", "sort"),
                (5, "e/E", "export"),
            ],
            Screen::Sagas | Screen::Insights => {
                vec![(1, "↑↓", "select"), (0, "Enter", "open flow")]
            }
            Screen::Lag => vec![(1, "↑↓", "select"), (0, "Enter", "its flows")],
            Screen::Graph => {
                vec![(1, "↑↓", "select node"), (0, "Enter", "its flows"), (2, "v", "diagram/list")]
            }
        }
    };
    if let Some(r) = &state.replay {
        let replay = if r.paused { "resume" } else { "pause" };
        keys.extend([(1, "space", replay), (2, "+/-", "speed"), (3, "r", "restart")]);
    }
    if !state.in_detail() {
        keys.extend([(4, "p", pause), (6, "q", "quit")]);
    }
    let width = |keys: &[(u8, &str, &str)]| -> usize {
        keys.iter().map(|(_, k, w)| k.chars().count() + w.chars().count() + 3).sum()
    };
    while width(&keys) > budget && keys.len() > 1 {
        let worst = keys.iter().enumerate().max_by_key(|(i, (p, _, _))| (*p, *i)).map(|(i, _)| i);
        if let Some(i) = worst {
            keys.remove(i);
        }
    }
    keys.into_iter().map(|(_, k, w)| (k, w)).collect()
}

/// Flow columns shown at `width`, each with its width; the root column takes the rest.
pub fn flow_columns(width: u16) -> Vec<(FlowColumn, u16)> {
    let wide = width >= 120;
    let mut cols = vec![(FlowColumn::Status, 11), (FlowColumn::Root, 0)];
    cols.push((FlowColumn::Start, if wide { 12 } else { 8 }));
    cols.push((FlowColumn::Duration, 8));
    if wide {
        cols.push((FlowColumn::Traces, 6));
        cols.push((FlowColumn::Services, 4));
    }
    cols.push((FlowColumn::Hops, 4));
    cols.push((FlowColumn::Queue, if wide { 11 } else { 7 }));
    let fixed: u16 = cols.iter().map(|(_, w)| *w + 1).sum();
    cols[1].1 = width.saturating_sub(fixed).max(8);
    cols
}

/// The Flows column at `x` in a body `width` wide.
pub fn flow_column_at(width: u16, x: u16) -> Option<FlowColumn> {
    let mut at = 0;
    for (c, w) in flow_columns(width) {
        if x >= at && x < at + w + 1 {
            return Some(c);
        }
        at += w + 1;
    }
    None
}

fn status_cell(s: FlowStatus) -> Seg {
    match s {
        FlowStatus::Ok => Seg::new("✓ ok", Tone::Good),
        FlowStatus::Error => Seg::new("✗ error", Tone::Bad),
        FlowStatus::Stuck => Seg::new("⚠ stuck", Tone::Warn),
        FlowStatus::InFlight => Seg::new("… in flight", Tone::Moving),
    }
}

fn flows(state: &State, body: Rect) -> TableVm {
    let theme = state.ctx.theme;
    let cols = flow_columns(body.width);
    let wide = body.width >= 120;
    let columns = cols
        .iter()
        .map(|(c, w)| Column {
            title: if !wide && *c == FlowColumn::Queue {
                "QUEUE".to_owned()
            } else {
                c.title().to_owned()
            },
            width: *w,
            right: !matches!(c, FlowColumn::Status | FlowColumn::Root | FlowColumn::Start),
            sorted: (state.flows.sort == *c).then_some(state.flows.descending),
        })
        .collect();
    let page = layout::list_rows(body);
    let pos = state.flows.pos;
    let visible = state.flows.order.iter().skip(pos.offset).take(page);
    let rows = visible
        .map(|&i| {
            let row = &state.view.flows[i as usize];
            let f = &row.flow;
            let queue = row.facts.worst_queue_ns;
            cols.iter()
                .map(|(c, w)| match c {
                    FlowColumn::Status => vec![status_cell(f.status)],
                    FlowColumn::Root => {
                        let mut l = vec![
                            Seg::new(f.root.service.clone(), Tone::Title),
                            Seg::new(format!(" {}", f.root.name), Tone::Normal),
                        ];
                        let used = f.root.service.chars().count() + 1 + f.root.name.chars().count();
                        if usize::from(*w) > used + 6 {
                            let others: Vec<&str> = f
                                .services
                                .iter()
                                .filter(|s| **s != f.root.service)
                                .map(AsRef::as_ref)
                                .collect();
                            if !others.is_empty() {
                                l.push(Seg::new(format!("  → {}", others.join(", ")), Tone::Dim));
                            }
                        }
                        l
                    }
                    FlowColumn::Start => plain(if wide {
                        fmt::clock_ms(f.start_unix_nano)
                    } else {
                        fmt::clock(f.start_unix_nano)
                    }),
                    FlowColumn::Duration => plain(fmt::dur(f.duration_ns)),
                    FlowColumn::Traces => plain(f.traces.len().to_string()),
                    FlowColumn::Services => plain(f.services.len().to_string()),
                    FlowColumn::Hops => plain(f.hop_count.to_string()),
                    FlowColumn::Queue => {
                        if f.hop_count == 0 {
                            vec![Seg::new("-", Tone::Dim)]
                        } else {
                            let tone = if queue > 1_000_000_000 { Tone::Warn } else { Tone::Async };
                            vec![Seg::new(fmt::dur(queue), tone)]
                        }
                    }
                })
                .collect()
        })
        .collect();
    let empty = if state.view.flows.is_empty() {
        match &state.ctx.mode {
            Mode::Replay { .. } => {
                vec!["No flows yet: the replay has not reached any span.".to_owned()]
            }
            Mode::Live { grpc, http } | Mode::Demo { grpc, http } => vec![
                "No flows yet. Point an OpenTelemetry exporter at hopscope:".to_owned(),
                format!("  OTEL_EXPORTER_OTLP_ENDPOINT=http://{grpc}   (gRPC)"),
                format!("  OTEL_EXPORTER_OTLP_ENDPOINT=http://{http}   (HTTP)"),
            ],
        }
    } else {
        vec![format!("No flow matches the filter `{}` (Esc clears it).", state.flows.filter.text())]
    };
    TableVm {
        theme,
        columns,
        rows,
        selected: (!state.flows.order.is_empty()).then(|| pos.selected - pos.offset),
        empty,
    }
}

fn span_glyph(s: &DetailSpan) -> (&'static str, Tone) {
    if s.error {
        return ("✗ ", Tone::Bad);
    }
    match s.kind {
        "producer" => ("↗ ", Tone::Async),
        "consumer" => ("↘ ", Tone::Async),
        "client" => ("→ ", Tone::Dim),
        "server" => ("▸ ", Tone::Dim),
        _ => ("· ", Tone::Dim),
    }
}

fn detail_title(d: &DetailState, detail: Option<&FlowDetail>) -> Line {
    let Some(detail) = detail else {
        return vec![Seg::new(" flow detail", Tone::Title)];
    };
    let mut t = Vec::new();
    match &detail.flow {
        Some(f) => {
            t.push(Seg::new(format!(" flow {} ", f.id.short()), Tone::Title));
            t.push(status_cell(f.status));
            if !d.back.is_empty() {
                t.push(Seg::new(
                    format!("  ↩ followed {} link(s), Esc goes back", d.back.len()),
                    Tone::Accent,
                ));
            }
            t.push(Seg::new(format!("  {} {}", f.root.service, f.root.name), Tone::Normal));
            t.push(Seg::new(
                format!(
                    " · {} traces · {} services · {} hops · {}",
                    f.traces.len(),
                    f.services.len(),
                    f.hop_count,
                    fmt::dur(f.duration_ns)
                ),
                Tone::Dim,
            ));
            t.push(Seg::new(
                format!(
                    " (caller waited {}, settled +{})",
                    fmt::dur(f.root_duration_ns),
                    fmt::dur(f.settled_after_ns)
                ),
                Tone::Dim,
            ));
            if let Some(r) = &f.stuck_reason {
                t.push(Seg::new(format!(" ⚠ {r}"), Tone::Warn));
            }
        }
        None => t.push(Seg::new(
            format!(
                " trace {} (in no flow)",
                detail.traces.first().map(TraceId::short).unwrap_or_default()
            ),
            Tone::Title,
        )),
    }
    if !detail.missing_traces.is_empty() {
        t.push(Seg::new(format!(" · {} traces evicted", detail.missing_traces.len()), Tone::Warn));
    }
    if detail.truncated {
        t.push(Seg::new(" · truncated", Tone::Warn));
    }
    t
}

fn detail(state: &State, body: Rect) -> DetailVm {
    let theme = state.ctx.theme;
    let Some(d) = &state.detail else {
        return DetailVm {
            theme,
            title: Vec::new(),
            body: DetailBody::Waiting(String::new()),
            pane: PaneVm { theme, title: String::new(), lines: Vec::new() },
        };
    };
    let (left, right) = layout::detail(body);
    let detail = d.detail.as_deref();
    let title = detail_title(d, detail);
    let Some(detail) = detail else {
        return DetailVm {
            theme,
            title,
            body: DetailBody::Waiting(
                "waiting for the engine to send this flow's spans…".to_owned(),
            ),
            pane: PaneVm { theme, title: "span".to_owned(), lines: Vec::new() },
        };
    };
    let page = layout::list_rows(left);
    let pos = d.pos;
    let body_vm = if d.sequence_mode {
        DetailBody::Sequence(SequenceVm {
            participants: d.sequence.participants.clone(),
            rows: d
                .sequence
                .messages
                .iter()
                .enumerate()
                .skip(pos.offset)
                .take(page)
                .map(|(i, m)| SeqRowVm {
                    from: m.from,
                    to: m.to,
                    label: m.label.clone(),
                    event: m.event,
                    error: m.error,
                    selected: i == pos.selected,
                    time: format!("+{}", fmt::dur(m.time.saturating_sub(d.timeline.start))),
                })
                .collect(),
        })
    } else {
        let label_width = (left.width * 9 / 20).max(20);
        let window = d.timeline.end.saturating_sub(d.timeline.start).max(1) as f64;
        let frac = |t: u64| (t.saturating_sub(d.timeline.start) as f64 / window).clamp(0.0, 1.0);
        let max_indent = usize::from(label_width / 6);
        let indent_unit = if label_width >= 50 { "  " } else { " " };
        let rows = d
            .timeline
            .rows
            .iter()
            .enumerate()
            .skip(pos.offset)
            .take(page)
            .map(|(i, r)| {
                let indent = indent_unit.repeat(usize::from(r.depth).min(max_indent));
                let (label, duration, bar, error) = match r.kind {
                    RowKind::Span { span, has_children, collapsed } => {
                        let s = &detail.spans[span];
                        let fold = if !has_children {
                            "  "
                        } else if collapsed {
                            "▸ "
                        } else {
                            "▾ "
                        };
                        let (glyph, tone) = span_glyph(s);
                        let mut l = vec![
                            Seg::new(format!("{indent}{fold}"), Tone::Dim),
                            Seg::new(glyph, tone),
                            Seg::new(s.service.clone(), Tone::Title),
                            Seg::new(
                                format!(" {}", s.name),
                                if s.error { Tone::Bad } else { Tone::Normal },
                            ),
                        ];
                        if collapsed {
                            l.push(Seg::new(" …", Tone::Dim));
                        }
                        (
                            l,
                            fmt::dur(s.end_unix_nano.saturating_sub(s.start_unix_nano)),
                            BarKind::Span,
                            s.error,
                        )
                    }
                    RowKind::Hop { hop, new_trace, shown_above } => {
                        let h = &detail.hops[hop];
                        let mut l = vec![
                            Seg::new(format!("{indent}  "), Tone::Dim),
                            Seg::new(
                                format!(
                                    "⇢ {} in {} {}",
                                    fmt::dur(h.queue_ns),
                                    h.system,
                                    h.destination
                                ),
                                Tone::Async,
                            ),
                        ];
                        if h.skew {
                            l.push(Seg::new(" clock skew", Tone::Warn));
                        }
                        if shown_above {
                            l.push(Seg::new(" (trace shown above)", Tone::Dim));
                        } else if new_trace {
                            l.push(Seg::new(
                                format!(" ┈ new trace {}", h.consumer.trace_id.short()),
                                Tone::Dim,
                            ));
                        }
                        l.push(Seg::new(format!(" ({})", h.via.as_str()), Tone::Dim));
                        (l, String::new(), BarKind::Hop, false)
                    }
                    RowKind::Trace { trace } => (
                        vec![
                            Seg::new(indent, Tone::Dim),
                            Seg::new(
                                format!(
                                    "┈ trace {} (no held hop leads here)",
                                    detail.traces[trace].short()
                                ),
                                Tone::Dim,
                            ),
                        ],
                        String::new(),
                        BarKind::None,
                        false,
                    ),
                };
                TimelineRowVm {
                    label,
                    duration,
                    from: frac(r.start),
                    to: frac(r.end),
                    bar,
                    critical: r.critical,
                    error,
                    selected: i == pos.selected,
                }
            })
            .collect();
        DetailBody::Timeline { rows, label_width }
    };
    let pane = span_pane(state, d, detail, right);
    DetailVm { theme, title, body: body_vm, pane }
}

fn kv_lines(out: &mut Vec<Line>, kv: &[(String, String)], indent: &str) {
    for (k, v) in kv {
        out.push(vec![
            Seg::new(format!("{indent}{k} "), Tone::Dim),
            Seg::new(v.clone(), Tone::Normal),
        ]);
    }
}

/// Rows of the span pane in `area` (after its title row).
pub fn span_pane_page(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(1))
}

/// How many lines the selected span's pane holds, whole.
pub fn span_pane_len(open: &DetailState) -> usize {
    open.detail.as_deref().map_or(0, |detail| span_pane_lines(open, detail).1.len())
}

/// The span pane: the part of the selected span's lines that fits `area`, from the line
/// `open.pane_scroll`; a line says how many more are below.
fn span_pane(state: &State, open: &DetailState, detail: &FlowDetail, area: Rect) -> PaneVm {
    let theme = state.ctx.theme;
    let (mut title, mut lines) = span_pane_lines(open, detail);
    let page = span_pane_page(area);
    let offset = open.pane_scroll.min(lines.len().saturating_sub(page));
    if offset > 0 {
        title = format!("↑{offset} {title}");
    }
    let below = lines.len().saturating_sub(offset + page);
    lines.drain(..offset);
    if below > 0 {
        lines.truncate(page.saturating_sub(1));
        lines.push(vec![Seg::new(format!("↓ {} more · J/K scroll", below + 1), Tone::Accent)]);
    }
    PaneVm { theme, title, lines }
}

/// The selected span's title and every line of its pane.
fn span_pane_lines(open: &DetailState, detail: &FlowDetail) -> (String, Vec<Line>) {
    let Some(index) = open.selected_span() else {
        let lines = match open.timeline.rows.get(open.pos.selected).map(|r| r.kind) {
            Some(RowKind::Trace { trace }) => {
                vec![plain(format!("trace {}", detail.traces[trace]))]
            }
            _ => vec![plain("select a span")],
        };
        return ("span".to_owned(), lines);
    };
    let s = &detail.spans[index];
    let t0 = open.timeline.start;
    let mut lines: Vec<Line> = Vec::new();
    let status = if s.error {
        Seg::new(format!("✗ error {}", s.status_message), Tone::Bad)
    } else {
        Seg::new("✓ ok", Tone::Good)
    };
    lines.push(vec![
        Seg::new(s.kind, Tone::Dim),
        Seg::new(
            format!(" {} ", fmt::dur(s.end_unix_nano.saturating_sub(s.start_unix_nano))),
            Tone::Normal,
        ),
        Seg::new(format!("at +{} ", fmt::dur(s.start_unix_nano.saturating_sub(t0))), Tone::Dim),
        status,
    ]);
    lines.push(vec![
        Seg::new("trace ", Tone::Dim),
        Seg::new(s.trace_id.to_string(), Tone::Normal),
        Seg::new(" span ", Tone::Dim),
        Seg::new(s.span_id.to_string(), Tone::Normal),
    ]);
    // Links first: they are what the pane is for when hopping between traces.
    let mut n = 0;
    let link_line = |n: usize, arrow: &str, p: &hopscope_collector::engine::views::SpanPointer| {
        let here = open.link_cursor == Some(n);
        let outside = !detail.traces.contains(&p.trace_id);
        let mut l = vec![
            Seg::new(if here { "▶ " } else { "  " }, Tone::Accent),
            Seg::new(format!("{arrow} "), Tone::Async),
            Seg::new(
                p.label.clone().unwrap_or_else(|| "(not held)".to_owned()),
                if here { Tone::Accent } else { Tone::Normal },
            ),
            Seg::new(format!(" {}/{}", p.trace_id.short(), p.span_id.short()), Tone::Dim),
        ];
        if outside {
            l.push(Seg::new(" other flow", Tone::Warn));
        }
        l
    };
    if !s.links.is_empty() || !s.backlinks.is_empty() {
        lines.push(vec![Seg::new("links (n: next, Enter: follow)", Tone::Title)]);
        for p in &s.links {
            lines.push(link_line(n, "→ links to", p));
            n += 1;
        }
        for p in &s.backlinks {
            lines.push(link_line(n, "← linked from", p));
            n += 1;
        }
    }
    if !s.attributes.is_empty() {
        lines.push(vec![Seg::new("attributes", Tone::Title)]);
        kv_lines(&mut lines, &s.attributes, "  ");
    }
    if !s.events.is_empty() {
        lines.push(vec![Seg::new("events", Tone::Title)]);
        for e in &s.events {
            lines.push(vec![
                Seg::new(
                    format!("  +{} ", fmt::dur(e.time_unix_nano.saturating_sub(s.start_unix_nano))),
                    Tone::Dim,
                ),
                Seg::new(e.name.clone(), Tone::Normal),
            ]);
            kv_lines(&mut lines, &e.attributes, "    ");
        }
    }
    if !s.logs.is_empty() {
        lines.push(vec![Seg::new("logs", Tone::Title)]);
        for l in &s.logs {
            let tone = match l.severity.as_str() {
                "ERROR" | "FATAL" => Tone::Bad,
                "WARN" => Tone::Warn,
                _ => Tone::Normal,
            };
            lines.push(vec![
                Seg::new(
                    format!("  +{} ", fmt::dur(l.time_unix_nano.saturating_sub(s.start_unix_nano))),
                    Tone::Dim,
                ),
                Seg::new(format!("{} ", l.severity), tone),
                Seg::new(l.body.clone(), Tone::Normal),
            ]);
            kv_lines(&mut lines, &l.attributes, "    ");
        }
    }
    (format!("{} {}", s.service, s.name), lines)
}

fn saga_state_cell(s: SagaState) -> Seg {
    match s {
        SagaState::Stuck => Seg::new("⚠ stuck", Tone::Warn),
        SagaState::Failed => Seg::new("✗ failed", Tone::Bad),
        SagaState::Compensating => Seg::new("↺ compensating", Tone::Warn),
        SagaState::Compensated => Seg::new("↺ compensated", Tone::Moving),
        SagaState::Running => Seg::new("… running", Tone::Moving),
        SagaState::Completed => Seg::new("✓ completed", Tone::Good),
    }
}

fn sagas(state: &State, body: Rect) -> SagasVm {
    let theme = state.ctx.theme;
    let a = &state.view.analysis;
    let (top, bottom) = layout::sagas(body);
    let wide = body.width >= 120;
    let mut columns = vec![col("STATE", 14, false), col("SAGA", 14, false), col("ID", 16, false)];
    if wide {
        columns.push(col("SOURCE", 12, false));
    }
    columns.push(col("STEPS", 7, true));
    columns.push(col("DURATION", 8, true));
    let fixed: u16 = columns.iter().map(|c| c.width + 1).sum();
    columns.push(col("WHY", body.width.saturating_sub(fixed).max(10), false));
    let pos = state.sagas.pos;
    let rows = state
        .sagas
        .order
        .iter()
        .skip(pos.offset)
        .take(layout::list_rows(top))
        .map(|&i| {
            let s = &a.sagas[i as usize];
            let comps = s.steps.iter().filter(|x| x.kind == StepKind::Compensation).count();
            let start = s.steps.iter().map(|x| x.start_unix_nano).min().unwrap_or(0);
            let end = s.steps.iter().map(|x| x.end_unix_nano).max().unwrap_or(0);
            let mut cells =
                vec![vec![saga_state_cell(s.state)], plain(s.name.clone()), plain(s.id.clone())];
            if wide {
                cells.push(vec![Seg::new(s.source.clone(), Tone::Dim)]);
            }
            cells.push(plain(if comps > 0 {
                format!("{} ↺{comps}", s.steps.len())
            } else {
                s.steps.len().to_string()
            }));
            cells.push(plain(fmt::dur(end.saturating_sub(start))));
            let why =
                match (&s.stuck_reason, state.view.saga_flows.get(i as usize).copied().flatten()) {
                    (Some(r), _) => vec![Seg::new(r.clone(), Tone::Warn)],
                    (None, Some(f)) => {
                        vec![Seg::new(format!("flow {}", f.short()), Tone::Dim)]
                    }
                    (None, None) => Vec::new(),
                };
            cells.push(why);
            cells
        })
        .collect();
    let table = TableVm {
        theme,
        columns,
        rows,
        selected: (!state.sagas.order.is_empty()).then(|| pos.selected - pos.offset),
        empty: vec!["No sagas seen. Spans with saga.* attributes, Temporal, MassTransit, NServiceBus, Axon, Durable Task or Eventuate spans make one.".to_owned()],
    };
    let mut lines = Vec::new();
    let mut bars = Vec::new();
    let mut title = "steps".to_owned();
    let mut bar_skip = 0;
    if let Some(&i) = state.sagas.order.get(pos.selected) {
        let s = &a.sagas[i as usize];
        title = format!("{} {} · steps", s.name, s.id);
        if let Some(r) = &s.stuck_reason {
            lines.push(vec![Seg::new(format!("⚠ stuck: {r}"), Tone::Warn)]);
        }
        if let Some(Some(f)) = state.view.saga_flows.get(i as usize) {
            lines.push(vec![Seg::new(format!("flow {} · Enter opens it", f.short()), Tone::Dim)]);
        }
        bar_skip = lines.len();
        let t0 = s.steps.iter().map(|x| x.start_unix_nano).min().unwrap_or(0);
        let t1 = s.steps.iter().map(|x| x.end_unix_nano).max().unwrap_or(t0).max(t0 + 1);
        let span = (t1 - t0) as f64;
        for (n, step) in s.steps.iter().enumerate() {
            let (mark, tone) = match (step.kind, step.status) {
                (StepKind::Compensation, StepStatus::Error) => ("↺✗", Tone::Bad),
                (StepKind::Compensation, StepStatus::Ok) => ("↺ ", Tone::Moving),
                (StepKind::Timeout, _) => ("⏲ ", Tone::Warn),
                (StepKind::Action, StepStatus::Error) => ("✗ ", Tone::Bad),
                (StepKind::Action, StepStatus::Ok) => ("✓ ", Tone::Good),
            };
            let kind = match step.kind {
                StepKind::Action => "",
                StepKind::Compensation => " (compensation)",
                StepKind::Timeout => " (timeout)",
            };
            lines.push(vec![
                Seg::new(format!("{:>2} ", n + 1), Tone::Dim),
                Seg::new(mark, tone),
                Seg::new(format!(" {}", step.name), Tone::Normal),
                Seg::new(
                    format!(
                        "{kind} · {} · {}",
                        step.service,
                        fmt::dur(step.end_unix_nano.saturating_sub(step.start_unix_nano))
                    ),
                    Tone::Dim,
                ),
            ]);
            bars.push((
                (step.start_unix_nano.saturating_sub(t0)) as f64 / span,
                (step.end_unix_nano.saturating_sub(t0)) as f64 / span,
                tone,
            ));
        }
    }
    lines.truncate(usize::from(bottom.height.saturating_sub(1)));
    SagasVm { table, steps: PaneVm { theme, title, lines }, bars, bar_skip }
}

fn lag_cell(s: LagStatus) -> Seg {
    match s {
        LagStatus::Ok => Seg::new("✓ ok", Tone::Good),
        LagStatus::Warn => Seg::new("⚠ warn", Tone::Warn),
        LagStatus::Stalled => Seg::new("✗ stalled", Tone::Bad),
        LagStatus::NoConsumer => Seg::new("∅ no consumer", Tone::Dim),
    }
}

/// A sparkline of `values` in `width` characters (max per group), blank for no data.
pub fn sparkline(values: &[Option<u64>], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let groups: Vec<Option<u64>> = (0..width)
        .map(|g| {
            let from = g * values.len() / width;
            let to = ((g + 1) * values.len() / width).max(from + 1).min(values.len());
            values[from..to].iter().flatten().copied().max()
        })
        .collect();
    let max = groups.iter().flatten().copied().max().unwrap_or(0).max(1);
    groups
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(v) => BARS[((*v as f64 / max as f64) * 7.0).round() as usize],
        })
        .collect()
}

fn lag(state: &State, body: Rect) -> TableVm {
    let theme = state.ctx.theme;
    let a = &state.view.analysis;
    let wide = body.width >= 120;
    let trend_width: u16 = if wide { 30 } else { 10 };
    let mut columns = vec![col("STATUS", 13, false), col("SUBSCRIPTION", 0, false)];
    if wide {
        columns.push(col("CONSUMERS", 20, false));
    }
    columns.push(col("RATE/s", 6, true));
    if wide {
        columns.push(col("P50", 7, true));
    }
    columns.push(col("P95", 7, true));
    if wide {
        columns.push(col("MAX", 7, true));
    }
    columns.push(col("BEHIND", 6, true));
    columns.push(col("OLDEST", 7, true));
    columns.push(Column {
        title: if wide {
            format!("QUEUE TIME, LAST {}", fmt::dur(TREND_BUCKET_NS * 30))
        } else {
            "TREND".to_owned()
        },
        width: trend_width,
        right: false,
        sorted: None,
    });
    let fixed: u16 = columns.iter().map(|c| c.width + 1).sum();
    columns[1].width = body.width.saturating_sub(fixed).max(12);
    let pos = state.lag.pos;
    let rows = state
        .lag
        .order
        .iter()
        .skip(pos.offset)
        .take(layout::list_rows(body))
        .map(|&i| {
            let l = &a.lag[i as usize];
            let trend = state.view.lag_trends.get(i as usize);
            // Deliveries per second over the last minute of the event clock.
            let rate = trend.map_or(0.0, |t| {
                let last = t.max_queue_ns.len().saturating_sub(6);
                t.deliveries[last..].iter().sum::<u64>() as f64 / 60.0
            });
            let mut sub = vec![
                Seg::new(format!("{} ", l.system), Tone::Dim),
                Seg::new(l.destination.clone(), Tone::Normal),
            ];
            match &l.consumer_group {
                Some(g) => {
                    sub.push(Seg::new(" → ", Tone::Dim));
                    sub.push(Seg::new(g.clone(), Tone::Title));
                }
                None => sub.push(Seg::new(" (nobody consumes)", Tone::Dim)),
            }
            if l.skew {
                sub.push(Seg::new(" clock skew", Tone::Warn));
            }
            let mut cells = vec![vec![lag_cell(l.status)], sub];
            if wide {
                cells.push(vec![Seg::new(l.consumer_services.join(", "), Tone::Dim)]);
            }
            cells.push(plain(if rate == 0.0 {
                "0".to_owned()
            } else if rate < 0.1 {
                "<0.1".to_owned()
            } else if rate < 10.0 {
                format!("{rate:.1}")
            } else {
                format!("{rate:.0}")
            }));
            let d = |ns: u64| if l.consumed == 0 { "-".to_owned() } else { fmt::dur(ns) };
            if wide {
                cells.push(plain(d(l.p50_ns)));
            }
            cells.push(plain(d(l.p95_ns)));
            if wide {
                cells.push(plain(d(l.max_ns)));
            }
            cells.push(vec![Seg::new(
                l.unconsumed.to_string(),
                if l.unconsumed > 0 && l.status != LagStatus::NoConsumer {
                    Tone::Warn
                } else {
                    Tone::Normal
                },
            )]);
            cells.push(plain(if l.unconsumed == 0 {
                "-".to_owned()
            } else {
                fmt::dur(l.oldest_unconsumed_age_ns)
            }));
            let tone = match l.status {
                LagStatus::Stalled => Tone::Bad,
                LagStatus::Warn => Tone::Warn,
                _ => Tone::Async,
            };
            cells.push(vec![Seg::new(
                trend.map_or_else(String::new, |t| {
                    sparkline(&t.max_queue_ns, usize::from(trend_width))
                }),
                tone,
            )]);
            cells
        })
        .collect();
    TableVm {
        theme,
        columns,
        rows,
        selected: (!state.lag.order.is_empty()).then(|| pos.selected - pos.offset),
        empty: vec![
            "No messaging seen yet: lag appears once a producer and a consumer are linked."
                .to_owned(),
        ],
    }
}

fn severity_cell(s: Severity) -> Seg {
    match s {
        Severity::Error => Seg::new("✗ error", Tone::Bad),
        Severity::Warning => Seg::new("⚠ warning", Tone::Warn),
        Severity::Info => Seg::new("ℹ info", Tone::Dim),
    }
}

fn insights(state: &State, body: Rect) -> TableVm {
    let theme = state.ctx.theme;
    let a = &state.view.analysis;
    let columns = vec![
        col("SEVERITY", 10, false),
        col("KIND", 19, false),
        col("FLOW", 8, false),
        col("DETAIL", body.width.saturating_sub(40).max(10), false),
    ];
    let pos = state.insights.pos;
    let rows = state
        .insights
        .order
        .iter()
        .skip(pos.offset)
        .take(layout::list_rows(body))
        .map(|&i| {
            let x = &a.insights[i as usize];
            vec![
                vec![severity_cell(x.severity)],
                plain(x.kind.as_str()),
                vec![Seg::new(
                    x.flow.as_ref().map_or_else(|| "-".to_owned(), TraceId::short),
                    Tone::Dim,
                )],
                plain(x.detail.clone()),
            ]
        })
        .collect();
    TableVm {
        theme,
        columns,
        rows,
        selected: (!state.insights.order.is_empty()).then(|| pos.selected - pos.offset),
        empty: vec!["Nothing to report: no duplicate deliveries, unconsumed events, cascades, sync-over-async or failed compensations.".to_owned()],
    }
}

/// Edge text: rate, error share, p95 (latency for calls, queue time for events).
fn edge_label(
    kind: EdgeKind,
    count: u64,
    errors: u64,
    p95: u64,
    secs: f64,
    compact: bool,
) -> String {
    let rate = count as f64 / secs.max(1.0);
    let rate = if rate >= 10.0 {
        format!("{rate:.0}/s")
    } else if rate >= 1.0 {
        format!("{rate:.1}/s")
    } else if rate * 60.0 >= 10.0 {
        format!("{:.0}/min", rate * 60.0)
    } else {
        format!("{:.1}/min", rate * 60.0)
    };
    let err = if count == 0 { 0.0 } else { errors as f64 * 100.0 / count as f64 };
    let what = if kind == EdgeKind::Call { "p95" } else { "q95" };
    if compact {
        let err = if errors > 0 { format!(" ✗{err:.0}%") } else { String::new() };
        return format!("{rate} {}{err}", fmt::dur(p95));
    }
    if errors > 0 {
        format!("{rate} {err:.0}%err {what} {}", fmt::dur(p95))
    } else {
        format!("{rate} {what} {}", fmt::dur(p95))
    }
}

fn data_seconds(state: &State) -> f64 {
    state.totals.data_seconds
}

fn graph(state: &State, body: Rect) -> GraphVm {
    if !state.graph_list
        && let Some(d) = super::graph::diagram(state, body)
    {
        return GraphVm::Diagram(d);
    }
    GraphVm::List(graph_list(state, body))
}

fn graph_list(state: &State, body: Rect) -> TableVm {
    let theme = state.ctx.theme;
    let a = &state.view.analysis;
    let secs = data_seconds(state);
    let columns = vec![
        col("NODE", 24, false),
        col(
            "EDGES OUT (rate, errors, p95 latency or q95 queue time)",
            body.width.saturating_sub(25),
            false,
        ),
    ];
    let pos = state.graph.pos;
    let rows = state
        .graph
        .order
        .iter()
        .skip(pos.offset)
        .take(layout::list_rows(body))
        .map(|&i| {
            let n = &a.graph.nodes[i as usize];
            let node = match n.kind {
                NodeKind::Service => {
                    vec![Seg::new("□ ", Tone::Dim), Seg::new(n.id.clone(), Tone::Title)]
                }
                NodeKind::Destination => {
                    vec![Seg::new("◇ ", Tone::Async), Seg::new(n.id.clone(), Tone::Async)]
                }
            };
            let mut out = Vec::new();
            for e in a.graph.edges.iter().filter(|e| e.from == n.id) {
                let arrow = if e.kind == EdgeKind::Call { "→ " } else { "⇢ " };
                out.push(Seg::new(
                    arrow,
                    if e.kind == EdgeKind::Call { Tone::Normal } else { Tone::Async },
                ));
                out.push(Seg::new(e.to.clone(), Tone::Normal));
                out.push(Seg::new(
                    format!(
                        " ({})  ",
                        edge_label(e.kind, e.count, e.errors, e.p95_ns, secs, false)
                    ),
                    if e.errors > 0 { Tone::Bad } else { Tone::Dim },
                ));
            }
            vec![node, out]
        })
        .collect();
    TableVm {
        theme,
        columns,
        rows,
        selected: (!state.graph.order.is_empty()).then(|| pos.selected - pos.offset),
        empty: vec!["No services seen yet.".to_owned()],
    }
}

pub(super) fn edge_text(state: &State, e: &hopscope_collector::analysis::GraphEdge) -> String {
    edge_label(e.kind, e.count, e.errors, e.p95_ns, data_seconds(state), true)
}

fn help(state: &State, body: Rect) -> HelpVm {
    let l = help::layout(body, state.replay.is_some());
    let (rows, max) = (l.rows(), l.max_scroll());
    let offset = state.help_scroll.min(max);
    let columns =
        l.columns.iter().map(|c| c.iter().skip(offset).take(l.page).cloned().collect()).collect();
    let marker = (max > 0).then(|| {
        let shown = format!("{}–{} of {}", offset + 1, (offset + l.page).min(rows), rows);
        if offset < max {
            format!(" ↓ more below · {shown} ")
        } else {
            format!(" ↑ more above · {shown} ")
        }
    });
    let title = if max > 0 {
        " keys · ↑↓ PgUp PgDn scroll · any other key closes "
    } else {
        " keys (any key closes) "
    };
    HelpVm {
        theme: state.ctx.theme,
        x: l.frame.x,
        y: l.frame.y,
        width: l.frame.width,
        height: l.frame.height,
        key_width: l.key_width,
        column_width: l.column_width,
        columns,
        title: title.to_owned(),
        marker,
    }
}
