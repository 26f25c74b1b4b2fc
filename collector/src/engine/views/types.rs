//! What a view holds and what a UI sends: the [`View`] itself, a flow's detail
//! ([`FlowDetail`], [`DetailSpan`]), lag trends, attribute matches, the event clock, and the
//! [`ViewRequest`]s and [`ViewConfig`] a UI sends. Plain data, built in `build.rs`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::analysis::{self, Analysis, Flow, Hop, SCHEMA, Summary};
use crate::engine::StatsSnapshot;
use crate::link::Linker;
use crate::model::{SpanId, TraceId};
use crate::store::SpanStore;

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
    /// Include the event catalog (`analysis.events`) in every view from now on, or stop.
    Events(bool),
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
        events: Vec::new(),
        architecture: Vec::new(),
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
    /// The event catalog (`analysis.events`), rebuilt in full at every view: only while a
    /// screen shows it.
    pub events: bool,
}
