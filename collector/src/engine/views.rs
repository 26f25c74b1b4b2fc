//! The engine's published read-only views: what a user interface reads, and the only way it
//! reads anything the engine owns.
//!
//! The engine thread keeps a [`Publisher`]. A few times a second while spans arrive (and
//! never while idle, unless a live event clock moves), it runs the analysis and publishes one
//! immutable [`View`] (the [`Analysis`], the counters, the event clock, and what the UI
//! asked for) through a [`tokio::sync::watch`] channel. Nothing is computed while nobody
//! watches. A UI holds a [`ViewHandle`]: it reads the latest `Arc<View>` and sends
//! [`ViewRequest`]s (the details of one flow, an attribute filter, clear); a request is
//! answered in the next view, published at once.
//!
//! Everything here is plain data (strings, numbers, ordered collections): a view can be
//! built from a fixture and rendered in tests with a fixed clock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustc_hash::FxHashMap;
use tokio::sync::watch;

use super::{Msg, StatsSnapshot};
use crate::analysis::live::{LiveAnalysis, LiveOutput};
use crate::analysis::{self, Analysis, AnalysisOptions, Flow, Hop, SCHEMA, Summary};
use crate::link::Linker;
use crate::link::slot::SubSlot;
use crate::model::{Interner, KeyValue, LogRecord, Span, SpanId, SpanKind, Sym, TraceId, Value};
use crate::store::{SpanStore, StoreStats};

/// Shortest time between two published views while spans arrive: ten a second at most. A
/// span reaches the screen within about this plus twice a view's cost (see
/// [`Publisher::next_due`]).
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// How often a live event clock republishes an idle view (stuck states and ages move).
pub const CLOCK_INTERVAL: Duration = Duration::from_secs(1);
/// The lag sparkline: buckets of this much event-clock time...
pub const TREND_BUCKET_NS: u64 = 10_000_000_000;
/// ...this many of them, the last one ending at the event clock.
pub const TREND_BUCKETS: usize = 30;
/// A flow detail holds at most this many spans (the first ones by trace order and start).
pub const MAX_DETAIL_SPANS: usize = 5_000;

/// Where the event clock comes from (DESIGN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockMode {
    /// The wall clock.
    #[default]
    Live,
    /// The latest time seen in the data (the watermark).
    Replay,
}

/// How views are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewConfig {
    pub clock: ClockMode,
    /// `--stuck-after`.
    pub stuck_after: Duration,
    /// The lag warning threshold.
    pub lag_warn: Duration,
}

impl Default for ViewConfig {
    fn default() -> Self {
        Self {
            clock: ClockMode::Live,
            stuck_after: analysis::DEFAULT_STUCK_AFTER,
            lag_warn: analysis::DEFAULT_LAG_WARN,
        }
    }
}

/// The event clock of a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventClock {
    pub mode: ClockMode,
    /// Unix nanoseconds; 0 before any span in replay.
    pub now_unix_nano: u64,
}

/// What the UI wants shown besides the analysis.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DetailTarget {
    /// A flow, by id (its root trace id).
    Flow(TraceId),
    /// Whatever flow holds this trace (the first by start), or the trace alone.
    Trace(TraceId),
}

/// A message from the UI to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewRequest {
    /// Include the details of this flow in every view from now on (`None`: stop).
    Detail(Option<DetailTarget>),
    /// Include the traces holding a span with attribute `key` = `value` (`None`: stop).
    AttributeFilter(Option<(String, String)>),
    /// How to build views (event clock, thresholds).
    Configure(ViewConfig),
    /// Forget every stored span and start over.
    Clear,
    /// Publish a view now.
    Refresh,
}

pub use crate::analysis::live::{FlowFacts, FlowRow, FlowRows};

/// Queue time over recent event-clock minutes for one row of `analysis.lag`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LagTrend {
    /// The longest queue time of the deliveries in each bucket ([`TREND_BUCKET_NS`] each,
    /// the last ending at the event clock); `None` for a bucket with no delivery.
    pub max_queue_ns: Vec<Option<u64>>,
    /// Deliveries in each bucket.
    pub deliveries: Vec<u64>,
}

/// Spans whose attribute (or resource attribute) `key` has the value `value`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributeMatches {
    pub key: String,
    pub value: String,
    /// Ids of the traces holding such a span.
    pub traces: BTreeSet<TraceId>,
}

/// A pointer to a span, resolved when the span is held.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpanPointer {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// `service name`, when the span is held.
    pub label: Option<String>,
    /// Why it points here: `link`, or the hop's `via` for backlinks found through hops.
    pub why: String,
}

/// A span event.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailEvent {
    pub time_unix_nano: u64,
    pub name: String,
    pub attributes: Vec<(String, String)>,
}

/// A log record emitted inside a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailLog {
    pub time_unix_nano: u64,
    pub severity: String,
    pub body: String,
    pub attributes: Vec<(String, String)>,
}

/// One span of a flow detail, with everything the span pane shows.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailSpan {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub service: String,
    pub name: String,
    /// `server`, `client`, `producer`, `consumer`, `internal` or `unspecified`.
    pub kind: &'static str,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub error: bool,
    pub status_message: String,
    /// Span attributes, then resource attributes prefixed `resource.`, each sorted by key.
    pub attributes: Vec<(String, String)>,
    pub events: Vec<DetailEvent>,
    pub logs: Vec<DetailLog>,
    pub links: Vec<SpanPointer>,
    pub backlinks: Vec<SpanPointer>,
}

/// The details of one flow: every held span of its traces and the hops between them.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowDetail {
    /// What was asked for.
    pub target: DetailTarget,
    /// The flow, when the target resolved to one.
    pub flow: Option<Flow>,
    /// The traces shown, the root first.
    pub traces: Vec<TraceId>,
    /// Trace ids of the flow no longer held (evicted).
    pub missing_traces: Vec<TraceId>,
    /// Spans by trace (in `traces` order), then start time, then span id.
    pub spans: Vec<DetailSpan>,
    /// Hops with either end among `traces`, as in the analysis.
    pub hops: Vec<Hop>,
    /// More spans were held than [`MAX_DETAIL_SPANS`].
    pub truncated: bool,
}

/// One published view. Immutable; shared by `Arc`.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Increases with every publication.
    pub seq: u64,
    pub stats: StatsSnapshot,
    /// Accepted spans per second, over the last seconds.
    pub spans_per_sec: u64,
    /// The store's memory budget.
    pub max_memory: u64,
    pub clock: EventClock,
    /// The analysis, without flows (in `flows`) and hops (a flow's detail has its own).
    pub analysis: Arc<Analysis>,
    /// The flows with their facts, by start then root trace id; each row is shared with
    /// the views before it while the flow does not change.
    pub flows: FlowRows,
    /// Parallel to `analysis.lag`.
    pub lag_trends: Arc<Vec<LagTrend>>,
    /// Parallel to `analysis.sagas`: the flow holding the saga's first step.
    pub saga_flows: Arc<Vec<Option<TraceId>>>,
    /// The answer to [`ViewRequest::Detail`].
    pub detail: Option<Arc<FlowDetail>>,
    /// The answer to [`ViewRequest::AttributeFilter`].
    pub attribute_matches: Option<Arc<AttributeMatches>>,
    /// How long the engine took to build this view.
    pub build_time: Duration,
}

/// An analysis of nothing.
pub fn empty_analysis() -> Analysis {
    Analysis {
        schema: SCHEMA.to_owned(),
        summary: Summary::default(),
        flows: Vec::new(),
        hops: Vec::new(),
        graph: analysis::Graph::default(),
        lag: Vec::new(),
        sagas: Vec::new(),
        insights: Vec::new(),
    }
}

impl View {
    /// The view before anything was published.
    pub fn empty() -> Self {
        Self {
            seq: 0,
            stats: StatsSnapshot::default(),
            spans_per_sec: 0,
            max_memory: 0,
            clock: EventClock::default(),
            analysis: Arc::new(empty_analysis()),
            flows: FlowRows::default(),
            lag_trends: Arc::default(),
            saga_flows: Arc::default(),
            detail: None,
            attribute_matches: None,
            build_time: Duration::ZERO,
        }
    }
}

/// What the view builder reads: the engine's state, borrowed.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub store: &'a SpanStore,
    pub linker: &'a Linker,
    pub stats: StatsSnapshot,
    pub max_memory: u64,
}

/// What a view holds besides the analysis and counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wants {
    pub detail: Option<DetailTarget>,
    pub attribute: Option<(String, String)>,
}

/// The analysis options a view is built with.
fn options(clock: EventClock, config: &ViewConfig) -> AnalysisOptions {
    AnalysisOptions {
        now_unix_nano: clock.now_unix_nano,
        stuck_after_ns: u64::try_from(config.stuck_after.as_nanos()).unwrap_or(u64::MAX),
        lag_warn_ns: u64::try_from(config.lag_warn.as_nanos()).unwrap_or(u64::MAX),
    }
}

/// Builds a whole view from scratch. `clock` is the event clock.
pub fn build(
    src: Sources<'_>,
    clock: EventClock,
    config: &ViewConfig,
    wants: &Wants,
    seq: u64,
    spans_per_sec: u64,
) -> View {
    let out = LiveAnalysis::full(src.linker, &options(clock, config));
    let trends = Arc::new(lag_trends(src.linker, &out.analysis, clock.now_unix_nano));
    assemble(src, out, trends, clock, wants, seq, spans_per_sec)
}

/// A view around an analysis: adds what the UI asked for, the lag trends and the counters.
fn assemble(
    src: Sources<'_>,
    out: LiveOutput,
    lag_trends: Arc<Vec<LagTrend>>,
    clock: EventClock,
    wants: &Wants,
    seq: u64,
    spans_per_sec: u64,
) -> View {
    let LiveOutput { analysis, flows, saga_flows } = out;
    let detail = wants.detail.as_ref().map(|t| Arc::new(detail(src.store, src.linker, &flows, t)));
    let attribute_matches = wants
        .attribute
        .as_ref()
        .map(|(k, v)| Arc::new(attribute_matches(src.store, src.linker.interner(), k, v)));
    View {
        seq,
        stats: src.stats,
        spans_per_sec,
        max_memory: src.max_memory,
        clock,
        analysis: Arc::new(analysis),
        flows,
        lag_trends,
        saga_flows: Arc::new(saga_flows),
        detail,
        attribute_matches,
        build_time: Duration::ZERO,
    }
}

fn sym_or_unknown(i: &Interner, s: Sym) -> &'static str {
    if s == Sym::EMPTY { "unknown" } else { i.resolve(s) }
}

fn lag_trends(l: &Linker, a: &Analysis, now: u64) -> Vec<LagTrend> {
    let i = l.interner();
    let window = TREND_BUCKET_NS * TREND_BUCKETS as u64;
    let since = now.saturating_sub(window);
    // By subscription slot first (no strings per hop), then named once per subscription.
    let mut by_slot: FxHashMap<SubSlot, LagTrend> = FxHashMap::default();
    for h in l.hop_slots() {
        let hop = &l.hops[h];
        if !hop.live {
            continue;
        }
        let t = l.span(hop.delivery).start;
        if t < since || t > now {
            continue;
        }
        let bucket = (((t - since) / TREND_BUCKET_NS) as usize).min(TREND_BUCKETS - 1);
        let row = by_slot.entry(hop.sub).or_insert_with(LagTrend::empty);
        let slot = &mut row.max_queue_ns[bucket];
        *slot = Some(slot.unwrap_or(0).max(hop.queue));
        row.deliveries[bucket] += 1;
    }
    let by_sub: BTreeMap<(&str, &str, &str), LagTrend> = by_slot
        .into_iter()
        .map(|(sub, trend)| {
            let key = l.agg.subs[sub].key;
            let name = (
                sym_or_unknown(i, key.dest.system),
                sym_or_unknown(i, key.dest.destination),
                i.resolve(key.group),
            );
            (name, trend)
        })
        .collect();
    a.lag
        .iter()
        .map(|row| {
            let group = row.consumer_group.as_deref().unwrap_or("");
            let key = (&*row.system, &*row.destination, group);
            by_sub.get(&key).cloned().unwrap_or_else(LagTrend::empty)
        })
        .collect()
}

impl LagTrend {
    fn empty() -> Self {
        Self { max_queue_ns: vec![None; TREND_BUCKETS], deliveries: vec![0; TREND_BUCKETS] }
    }
}

/// Text of an attribute value, as a person reads it.
pub fn value_text(v: &Value, i: &Interner) -> String {
    match v {
        Value::Empty => String::new(),
        Value::Str(s) => s.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Bytes(b) => format!("<{} bytes>", b.len()),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|v| value_text(v, i)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::KvList(kv) => {
            let items: Vec<String> = kv
                .iter()
                .map(|kv| format!("{}: {}", i.resolve(kv.key), value_text(&kv.value, i)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

fn attributes(attrs: &[KeyValue], i: &Interner, prefix: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = attrs
        .iter()
        .map(|kv| (format!("{prefix}{}", i.resolve(kv.key)), value_text(&kv.value, i)))
        .collect();
    out.sort();
    out
}

fn kind_name(k: SpanKind) -> &'static str {
    match k {
        SpanKind::Unspecified => "unspecified",
        SpanKind::Internal => "internal",
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    }
}

fn pointer(
    store: &SpanStore,
    i: &Interner,
    trace: TraceId,
    span: SpanId,
    why: &str,
) -> SpanPointer {
    let label = store
        .find(trace, span)
        .and_then(|r| store.get(r))
        .map(|s| format!("{} {}", i.resolve(s.service()), i.resolve(s.name)));
    SpanPointer { trace_id: trace, span_id: span, label, why: why.to_owned() }
}

fn log_of(r: &LogRecord, i: &Interner) -> DetailLog {
    let severity = if r.severity_text.is_empty() {
        match r.severity_number {
            1..=4 => "TRACE",
            5..=8 => "DEBUG",
            9..=12 => "INFO",
            13..=16 => "WARN",
            17..=20 => "ERROR",
            21..=24 => "FATAL",
            _ => "",
        }
        .to_owned()
    } else {
        r.severity_text.to_string()
    };
    DetailLog {
        time_unix_nano: if r.time_unix_nano == 0 {
            r.observed_time_unix_nano
        } else {
            r.time_unix_nano
        },
        severity,
        body: value_text(&r.body, i),
        attributes: attributes(&r.attributes, i, ""),
    }
}

fn detail_span(span: &Span, logs: &[LogRecord], store: &SpanStore, i: &Interner) -> DetailSpan {
    let mut attrs = attributes(&span.attributes, i, "");
    attrs.extend(attributes(&span.resource.attributes, i, "resource."));
    let mut span_logs: Vec<DetailLog> =
        logs.iter().filter(|r| r.span_id == Some(span.span_id)).map(|r| log_of(r, i)).collect();
    span_logs.sort_by(|a, b| (a.time_unix_nano, &a.body).cmp(&(b.time_unix_nano, &b.body)));
    DetailSpan {
        trace_id: span.trace_id,
        span_id: span.span_id,
        parent_span_id: span.parent_span_id,
        service: i.resolve(span.service()).to_owned(),
        name: i.resolve(span.name).to_owned(),
        kind: kind_name(span.kind),
        start_unix_nano: span.start_unix_nano,
        end_unix_nano: span.end_unix_nano,
        error: span.is_error(),
        status_message: span.status.message.to_string(),
        attributes: attrs,
        events: span
            .events
            .iter()
            .map(|e| DetailEvent {
                time_unix_nano: e.time_unix_nano,
                name: i.resolve(e.name).to_owned(),
                attributes: attributes(&e.attributes, i, ""),
            })
            .collect(),
        logs: span_logs,
        links: span
            .links
            .iter()
            .map(|l| pointer(store, i, l.trace_id, l.span_id, "link"))
            .collect(),
        backlinks: Vec::new(),
    }
}

/// The details of `target`: every held span of its traces, with logs, links and backlinks.
pub fn detail(
    store: &SpanStore,
    l: &Linker,
    flows: &FlowRows,
    target: &DetailTarget,
) -> FlowDetail {
    let i = l.interner();
    let flow = match *target {
        DetailTarget::Flow(id) => flows.rows().map(|r| &r.flow).find(|f| f.id == id),
        DetailTarget::Trace(t) => flows.rows().map(|r| &r.flow).find(|f| f.traces.contains(&t)),
    };
    let traces: Vec<TraceId> = match (flow, target) {
        (Some(f), _) => f.traces.clone(),
        (None, DetailTarget::Trace(t) | DetailTarget::Flow(t)) => vec![*t],
    };
    let trace_set: BTreeSet<TraceId> = traces.iter().copied().collect();
    let mut spans = Vec::new();
    let mut missing = Vec::new();
    let mut truncated = false;
    for &t in &traces {
        let Some(trace) = store.trace(&t) else {
            missing.push(t);
            continue;
        };
        let mut these: Vec<&Span> = trace.spans().iter().collect();
        these.sort_by_key(|s| (s.start_unix_nano, s.span_id.0));
        for s in these {
            if spans.len() >= MAX_DETAIL_SPANS {
                truncated = true;
                break;
            }
            spans.push(detail_span(s, trace.logs(), store, i));
        }
    }
    let hops: Vec<Hop> = analysis::hops_of_traces(l, &traces);
    // Backlinks: links among the shown spans, reversed, and hop consumers found by a link
    // anywhere (in traces outside the flow too).
    let mut back: BTreeMap<(TraceId, SpanId), BTreeSet<SpanPointer>> = BTreeMap::new();
    for s in &spans {
        for link in &s.links {
            let label = Some(format!("{} {}", s.service, s.name));
            back.entry((link.trace_id, link.span_id)).or_default().insert(SpanPointer {
                trace_id: s.trace_id,
                span_id: s.span_id,
                label,
                why: "link".to_owned(),
            });
        }
    }
    for h in &hops {
        if h.via != analysis::HopVia::Link || !trace_set.contains(&h.producer.trace_id) {
            continue;
        }
        let entry = back.entry((h.producer.trace_id, h.producer.span_id)).or_default();
        if !entry
            .iter()
            .any(|p| p.trace_id == h.consumer.trace_id && p.span_id == h.consumer.span_id)
        {
            entry.insert(SpanPointer {
                trace_id: h.consumer.trace_id,
                span_id: h.consumer.span_id,
                label: Some(format!("{} {}", h.consumer.service, h.consumer.name)),
                why: "link".to_owned(),
            });
        }
    }
    for s in &mut spans {
        if let Some(b) = back.remove(&(s.trace_id, s.span_id)) {
            s.backlinks = b.into_iter().collect();
        }
    }
    FlowDetail {
        target: target.clone(),
        flow: flow.cloned(),
        traces,
        missing_traces: missing,
        spans,
        hops,
        truncated,
    }
}

/// Traces holding a span whose attribute (or resource attribute) `key` reads `value`.
pub fn attribute_matches(
    store: &SpanStore,
    i: &Interner,
    key: &str,
    value: &str,
) -> AttributeMatches {
    let mut traces = BTreeSet::new();
    if let Some(sym) = i.get(key) {
        let hit = |attrs: &[KeyValue]| {
            attrs.iter().any(|kv| kv.key == sym && value_text(&kv.value, i) == value)
        };
        for (id, trace) in store.traces() {
            if trace.spans().iter().any(|s| hit(&s.attributes) || hit(&s.resource.attributes)) {
                traces.insert(*id);
            }
        }
    }
    AttributeMatches { key: key.to_owned(), value: value.to_owned(), traces }
}

/// The UI's handle: the latest view, and a way to ask for more.
#[derive(Clone)]
pub struct ViewHandle {
    views: watch::Receiver<Arc<View>>,
    requests: mpsc::Sender<ViewRequest>,
    wake: SyncSender<Msg>,
}

impl std::fmt::Debug for ViewHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewHandle").finish_non_exhaustive()
    }
}

impl ViewHandle {
    /// The latest view.
    pub fn latest(&self) -> Arc<View> {
        Arc::clone(&self.views.borrow())
    }

    /// The latest view if one was published since the last call to this method.
    pub fn changed(&mut self) -> Option<Arc<View>> {
        if self.views.has_changed().unwrap_or(false) {
            Some(Arc::clone(&self.views.borrow_and_update()))
        } else {
            None
        }
    }

    /// The watch receiver itself, for async callers.
    pub fn receiver(&self) -> watch::Receiver<Arc<View>> {
        self.views.clone()
    }

    /// Sends a request; it is answered in the next view. Never blocks.
    pub fn request(&self, request: ViewRequest) {
        if self.requests.send(request).is_ok() {
            // A full queue means the engine is busy: it reads requests after each batch.
            let _ = self.wake.try_send(Msg::Wake);
        }
    }
}

/// The engine's side: the channel ends shared with the [`super::Engine`] handle.
pub(super) struct Hub {
    pub sender: Arc<watch::Sender<Arc<View>>>,
    pub requests: mpsc::Sender<ViewRequest>,
}

impl Hub {
    pub fn handle(&self, wake: SyncSender<Msg>) -> ViewHandle {
        ViewHandle { views: self.sender.subscribe(), requests: self.requests.clone(), wake }
    }
}

/// What the engine must do after reading requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    None,
    /// Reset the store and the linker.
    Clear,
}

/// Accepted-span rate over a sliding window.
#[derive(Debug, Default)]
struct RateMeter {
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl RateMeter {
    const WINDOW: Duration = Duration::from_secs(3);

    fn rate(&mut self, now: Instant, accepted: u64) -> u64 {
        self.samples.push_back((now, accepted));
        while self.samples.len() > 2
            && self.samples.front().is_some_and(|(t, _)| now.duration_since(*t) > Self::WINDOW)
        {
            self.samples.pop_front();
        }
        let Some(&(t0, n0)) = self.samples.front() else { return 0 };
        let secs = now.duration_since(t0).as_secs_f64();
        if secs < 0.05 { 0 } else { ((accepted.saturating_sub(n0)) as f64 / secs).round() as u64 }
    }
}

/// Kept by the engine thread: decides when to publish, and builds and sends views.
pub(super) struct Publisher {
    sender: Arc<watch::Sender<Arc<View>>>,
    requests: mpsc::Receiver<ViewRequest>,
    config: ViewConfig,
    wants: Wants,
    max_memory: u64,
    seq: u64,
    /// Something changed since the last view.
    dirty: bool,
    /// A request waits for an answer: publish at once.
    urgent: bool,
    last: Option<Instant>,
    /// How long the last build took; views are spaced by at least 2x that (at most a third of the engine thread).
    last_cost: Duration,
    rate: RateMeter,
    /// The store's counters when last looked at: a change means a new view is due.
    last_store: StoreStats,
    /// The accepted-span rate last published.
    last_rate: u64,
    /// The analysis, kept up to date view after view.
    live: LiveAnalysis,
    /// Lag trends, when they were computed, and the subscriptions of the lag rows they are
    /// parallel to (see [`TREND_REFRESH`]).
    trends: Option<(Instant, Vec<SubName>, Arc<Vec<LagTrend>>)>,
    /// Views replaced by a newer one go to a thread of their own to be dropped: freeing a
    /// view's rows and strings is O(held) work the engine thread need not do. Started with
    /// the first view (`serve`, which publishes none, never starts it).
    retired: std::cell::OnceCell<Option<mpsc::Sender<Arc<View>>>>,
}

/// Lag trends are counted over every held hop; within this long of the last count (and with
/// the same subscriptions), a view reuses it. A trend bucket spans [`TREND_BUCKET_NS`].
pub const TREND_REFRESH: Duration = Duration::from_secs(1);

/// A lag row's subscription: system, destination, consumer group.
type SubName = (String, String, Option<String>);

fn sub_name(row: &analysis::Lag) -> (&String, &String, &Option<String>) {
    (&row.system, &row.destination, &row.consumer_group)
}

/// A thread that drops what it is sent (`None` if the thread cannot be started: the caller
/// then drops in place).
fn retirement() -> Option<mpsc::Sender<Arc<View>>> {
    let (tx, rx) = mpsc::channel::<Arc<View>>();
    std::thread::Builder::new()
        .name("hopscope-views-drop".into())
        .spawn(move || for _view in rx {})
        .ok()
        .map(|_| tx)
}

impl Publisher {
    pub fn new(max_memory: u64) -> (Publisher, Hub) {
        let (sender, _) = watch::channel(Arc::new(View::empty()));
        let sender = Arc::new(sender);
        let (tx, rx) = mpsc::channel();
        let publisher = Publisher {
            sender: Arc::clone(&sender),
            requests: rx,
            config: ViewConfig::default(),
            wants: Wants::default(),
            max_memory,
            seq: 0,
            dirty: true,
            urgent: false,
            last: None,
            last_cost: Duration::ZERO,
            rate: RateMeter::default(),
            last_store: StoreStats::default(),
            last_rate: 0,
            live: LiveAnalysis::default(),
            trends: None,
            retired: std::cell::OnceCell::new(),
        };
        (publisher, Hub { sender, requests: tx })
    }

    /// Notes that the engine's state changed.
    fn touch(&mut self) {
        self.dirty = true;
    }

    /// Reads pending requests.
    pub fn take_requests(&mut self) -> Action {
        let mut action = Action::None;
        while let Ok(r) = self.requests.try_recv() {
            self.urgent = true;
            match r {
                ViewRequest::Detail(t) => self.wants.detail = t,
                ViewRequest::AttributeFilter(a) => self.wants.attribute = a,
                ViewRequest::Configure(c) => self.config = c,
                ViewRequest::Clear => {
                    self.dirty = true;
                    action = Action::Clear;
                }
                ViewRequest::Refresh => {}
            }
        }
        action
    }

    fn watched(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    fn interval(&self) -> Duration {
        MIN_INTERVAL.max(self.last_cost * 2)
    }

    /// When the engine should next call [`Publisher::publish_due`], if ever.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        if !self.watched() {
            return None;
        }
        let Some(last) = self.last else { return Some(now) };
        if self.urgent {
            return Some(now);
        }
        if self.dirty {
            return Some(last + self.interval());
        }
        // A live clock moves, and so does a rate that has not fallen to zero yet.
        // Idle, views cost at most ~2% of a core: an analysis taking 100 ms is redone every
        // 5 s, not every second.
        if (self.config.clock == ClockMode::Live && self.seq > 0) || self.last_rate > 0 {
            return Some(last + CLOCK_INTERVAL.max(self.last_cost * 50));
        }
        None
    }

    /// Publishes a view if one is due; returns whether it did. The analysis is brought up
    /// to date with what changed in `linker` since the last view.
    pub fn publish_due(
        &mut self,
        now: Instant,
        store: &SpanStore,
        linker: &mut Linker,
        stats: StatsSnapshot,
    ) -> bool {
        match self.next_due(now) {
            Some(due) if due <= now => {}
            _ => return false,
        }
        let started = Instant::now();
        let clock = EventClock {
            mode: self.config.clock,
            now_unix_nano: match self.config.clock {
                ClockMode::Live => wall_clock_ns(),
                ClockMode::Replay => linker.watermark(),
            },
        };
        self.seq += 1;
        let rate = self.rate.rate(now, stats.accepted);
        self.last_rate = rate;
        let out = self.live.update(linker, &options(clock, &self.config));
        let trends = match &self.trends {
            Some((at, subs, trends))
                if now.saturating_duration_since(*at) < TREND_REFRESH
                    && out
                        .analysis
                        .lag
                        .iter()
                        .map(sub_name)
                        .eq(subs.iter().map(|(s, d, g)| (s, d, g))) =>
            {
                Arc::clone(trends)
            }
            _ => {
                let trends = Arc::new(lag_trends(linker, &out.analysis, clock.now_unix_nano));
                let subs = out
                    .analysis
                    .lag
                    .iter()
                    .map(sub_name)
                    .map(|(s, d, g)| (s.clone(), d.clone(), g.clone()))
                    .collect();
                self.trends = Some((now, subs, Arc::clone(&trends)));
                trends
            }
        };
        let src = Sources { store, linker, stats, max_memory: self.max_memory };
        let mut view = assemble(src, out, trends, clock, &self.wants, self.seq, rate);
        view.build_time = started.elapsed();
        let old = self.sender.send_replace(Arc::new(view));
        if let Some(retired) = self.retired.get_or_init(retirement) {
            // Only fails once the thread is gone; the view is then dropped here.
            let _ = retired.send(old);
        }
        self.dirty = false;
        self.urgent = false;
        self.last = Some(now);
        self.last_cost = started.elapsed();
        true
    }
}

/// The wall clock in unix nanoseconds.
pub fn wall_clock_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

impl super::Worker {
    /// How long the engine may wait for a message before a view is due (at most 500 ms).
    pub(super) fn views_timeout(&self) -> Duration {
        let idle = Duration::from_millis(500);
        let now = Instant::now();
        self.views.next_due(now).map_or(idle, |due| due.saturating_duration_since(now).min(idle))
    }

    /// Resets the store and the linker; the next view shows nothing stored.
    pub(super) fn clear(&mut self) {
        // As the engine started: evicted traces freed off this thread, the linker's slabs
        // sized for the budget (or, if the freeing thread cannot start, plainly).
        let config =
            super::EngineConfig { max_memory: self.views.max_memory, ..Default::default() };
        (self.store, self.linker) = super::store_and_linker(&config, Arc::clone(&self.interner))
            .unwrap_or_else(|_| {
                (SpanStore::new(self.views.max_memory), Linker::new(Arc::clone(&self.interner)))
            });
        self.views.live = LiveAnalysis::default();
        self.views.trends = None;
        self.publish_stats();
        self.views.touch();
    }

    /// Reads the UI's requests (a clear resets the store and the linker) and publishes a
    /// view if one is due. Called after every message and timeout.
    pub(super) fn serve_views(&mut self) {
        if self.views.take_requests() == Action::Clear {
            self.clear();
        }
        let store_stats = self.store.stats();
        if store_stats != self.views.last_store {
            self.views.last_store = store_stats;
            self.views.touch();
        }
        // Changes are recorded only while somebody watches (`serve` alone never pays for
        // them); the first update after tracking starts is a full one.
        if self.views.watched() {
            self.linker.track_changes();
        } else if self.linker.tracks_changes() {
            self.linker.stop_tracking();
            self.views.live = LiveAnalysis::default();
        }
        let stats = self.stats.snapshot();
        self.views.publish_due(Instant::now(), &self.store, &mut self.linker, stats);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::formats::read::{ReadOptions, read_paths_with};
    use crate::otlp::convert::Decoder;

    fn fixture() -> (SpanStore, Linker) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tui/src/app/fixtures/shop.otlp.jsonl");
        let interner = Arc::new(Interner::new());
        let decoder = Decoder::new(Arc::clone(&interner));
        let mut store = SpanStore::new(1 << 30);
        let mut linker = Linker::new(interner);
        let options = ReadOptions::default();
        read_paths_with(&[path], &decoder, options, &mut |spans| {
            linker.add_all(&spans);
            for s in spans {
                store.insert(s);
            }
        })
        .unwrap();
        (store, linker)
    }

    fn view(wants: &Wants) -> View {
        let (store, linker) = fixture();
        let clock = EventClock { mode: ClockMode::Replay, now_unix_nano: linker.watermark() };
        let src = Sources {
            store: &store,
            linker: &linker,
            stats: StatsSnapshot::default(),
            max_memory: 1,
        };
        build(src, clock, &ViewConfig::default(), wants, 1, 0)
    }

    /// Lag trends are counted again once [`TREND_REFRESH`] has passed, not for every view.
    #[test]
    fn lag_trends_are_reused_within_the_refresh_time() {
        let (store, mut linker) = fixture();
        let (mut publisher, hub) = Publisher::new(1 << 30);
        publisher.config.clock = ClockMode::Replay;
        let mut watch = hub.sender.subscribe();
        let t0 = Instant::now();
        let mut publish = |at: Instant| {
            publisher.urgent = true;
            assert!(publisher.publish_due(at, &store, &mut linker, StatsSnapshot::default()));
            Arc::clone(&watch.borrow_and_update().lag_trends)
        };
        let first = publish(t0);
        assert!(first.iter().any(|t| t.deliveries.iter().any(|&n| n > 0)), "{first:?}");
        assert!(Arc::ptr_eq(&first, &publish(t0 + TREND_REFRESH / 2)));
        let later = publish(t0 + TREND_REFRESH * 2);
        assert!(!Arc::ptr_eq(&first, &later));
        assert_eq!(*first, *later, "nothing moved");
    }

    #[test]
    fn fixture_analysis_has_every_part() {
        let v = view(&Wants::default());
        let a = &v.analysis;
        assert!(v.flows.len() >= 6, "{}", serde_json::to_string_pretty(&**a).unwrap());
        assert!(a.flows.is_empty() && a.hops.is_empty(), "flows are in rows, hops per flow");
        assert_eq!(a.summary.flows, v.flows.len() as u64);
        assert_eq!(v.lag_trends.len(), a.lag.len());
        assert_eq!(v.saga_flows.len(), a.sagas.len());
        assert!(v.saga_flows.iter().all(Option::is_some), "{:?}", v.saga_flows);
        assert!(v.flows.iter().any(|r| r.facts.worst_queue_ns > 1_000_000_000));
        assert!(v.lag_trends.iter().any(|t| t.max_queue_ns.iter().any(Option::is_some)));
    }

    #[test]
    fn detail_holds_every_trace_of_the_flow_with_backlinks() {
        let first = view(&Wants::default()).flows[0].flow.id;
        let wants = Wants { detail: Some(DetailTarget::Flow(first)), attribute: None };
        let v = view(&wants);
        let d = v.detail.as_deref().unwrap();
        assert_eq!(d.flow.as_ref().unwrap().id, first);
        assert!(d.traces.len() >= 3, "{:?}", d.traces);
        assert!(d.missing_traces.is_empty());
        assert!(!d.hops.is_empty());
        // The detail's hops are those of the full analysis that touch the flow's traces.
        let (_, linker) = fixture();
        let full = analysis::analyze(&linker, &AnalysisOptions::at_watermark(&linker));
        let touching: Vec<Hop> = full
            .hops
            .into_iter()
            .filter(|h| {
                d.traces.contains(&h.producer.trace_id) || d.traces.contains(&h.consumer.trace_id)
            })
            .collect();
        assert_eq!(d.hops, touching);
        let producer = d.spans.iter().find(|s| s.name == "orders publish").unwrap();
        assert!(producer.backlinks.len() >= 2, "{:?}", producer.backlinks);
        let consumer = d.spans.iter().find(|s| s.service == "payments").unwrap();
        assert_eq!(consumer.links.len(), 1);
        assert_eq!(consumer.links[0].label.as_deref(), Some("orders orders publish"));
    }

    #[test]
    fn attribute_filter_finds_traces() {
        let wants =
            Wants { detail: None, attribute: Some(("order.id".to_owned(), "o-1002".to_owned())) };
        let v = view(&wants);
        let m = v.attribute_matches.as_deref().unwrap();
        assert_eq!(m.traces.len(), 1);
    }

    #[test]
    fn rate_meter_measures_a_window() {
        let mut m = RateMeter::default();
        let t0 = Instant::now();
        assert_eq!(m.rate(t0, 0), 0);
        assert_eq!(m.rate(t0 + Duration::from_secs(1), 1000), 1000);
        assert_eq!(m.rate(t0 + Duration::from_secs(2), 3000), 1500);
    }
}

#[cfg(test)]
mod engine_tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::{ClockMode, ViewConfig, ViewRequest};
    use crate::engine::{Engine, EngineConfig};
    use crate::model::Interner;

    #[test]
    fn a_live_clock_republishes_while_idle_and_requests_are_answered() {
        let engine = Engine::start(&EngineConfig::default(), Arc::new(Interner::new())).unwrap();
        let mut views = engine.views();
        views.request(ViewRequest::Configure(ViewConfig {
            clock: ClockMode::Live,
            ..ViewConfig::default()
        }));
        let start = Instant::now();
        let mut seqs = Vec::new();
        while start.elapsed() < Duration::from_millis(2500) {
            if let Some(v) = views.changed() {
                seqs.push(v.seq);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(seqs.len() >= 3, "{seqs:?}");
        engine.shutdown().unwrap();
    }

    #[test]
    fn clear_empties_the_store_and_the_next_view() {
        use crate::fake::Generator;
        use crate::otlp::convert::Decoder;
        let interner = Arc::new(Interner::new());
        let engine = Engine::start(&EngineConfig::default(), Arc::clone(&interner)).unwrap();
        let mut views = engine.views();
        let mut generator = Generator::new(5, 1_700_000_000_000_000_000);
        let spans = Decoder::new(interner).traces(generator.request(60)).spans;
        engine.ingest().submit_spans(spans).unwrap();
        let wait_for = |views: &mut super::ViewHandle, spans: u64| {
            let started = Instant::now();
            loop {
                if let Some(v) = views.changed()
                    && v.analysis.summary.spans == spans
                {
                    return v;
                }
                assert!(started.elapsed() < Duration::from_secs(5), "no view with {spans} spans");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        let full = wait_for(&mut views, 60);
        assert!(!full.flows.is_empty());
        views.request(ViewRequest::Clear);
        let cleared = wait_for(&mut views, 0);
        assert!(cleared.flows.is_empty());
        assert_eq!(cleared.stats.stored, 0);
        engine.shutdown().unwrap();
    }

    /// `Ingest::clear` is ordered with the spans: what was queued before it is gone, what
    /// was queued after it is kept.
    #[test]
    fn ingest_clear_drops_what_was_queued_before_it() {
        use crate::fake::Generator;
        use crate::otlp::convert::Decoder;
        let interner = Arc::new(Interner::new());
        let engine = Engine::start(&EngineConfig::default(), Arc::clone(&interner)).unwrap();
        let mut generator = Generator::new(5, 1_700_000_000_000_000_000);
        let decoder = Decoder::new(interner);
        let ingest = engine.ingest();
        let before = decoder.traces(generator.request(60)).spans;
        let after = decoder.traces(generator.request(7)).spans;
        let (n_before, n_after) = (before.len() as u64, after.len() as u64);
        ingest.submit_spans(before).unwrap();
        assert!(ingest.clear());
        ingest.submit_spans(after).unwrap();
        let summary = engine.shutdown().unwrap();
        assert_eq!(summary.stats.accepted, n_before + n_after);
        assert_eq!(summary.stats.stored, n_after);
    }

    #[test]
    /// Spans reach a view on their own, in a burst or after a pause, with nothing else
    /// arriving to push them. How fast is measured, not asserted here: see
    /// `examples/view_latency.rs` and BENCHMARKS.md.
    fn an_arriving_span_reaches_a_view_without_more_arriving() {
        use crate::fake::Generator;
        use crate::otlp::convert::Decoder;
        let interner = Arc::new(Interner::new());
        let engine = Engine::start(&EngineConfig::default(), Arc::clone(&interner)).unwrap();
        let decoder = Decoder::new(interner);
        let mut views = engine.views();
        views.request(ViewRequest::Configure(ViewConfig {
            clock: ClockMode::Replay,
            ..ViewConfig::default()
        }));
        let mut generator = Generator::new(3, 1_700_000_000_000_000_000);
        let ingest = engine.ingest();
        for round in 1..=5u64 {
            // Spans arrive during a burst (just after a view) and after a pause.
            std::thread::sleep(Duration::from_millis(if round % 2 == 0 { 20 } else { 400 }));
            let spans = decoder.traces(generator.request(6)).spans;
            let sent = Instant::now();
            ingest.submit_spans(spans).unwrap();
            loop {
                if let Some(v) = views.changed()
                    && v.analysis.summary.spans == round * 6
                {
                    break;
                }
                assert!(sent.elapsed() < Duration::from_secs(5), "no view with the spans");
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        engine.shutdown().unwrap();
    }
}
