//! The `hopscope.analysis/v1` document (DESIGN.md §6) as plain serde structs: `analyze
//! --format json` is exactly `serde_json` of [`Analysis`], and the TUI reads the same structs.
//!
//! Ids are lowercase hex, times unix nanoseconds, durations nanoseconds (integers). Adding a
//! key is compatible; renaming or removing one needs a new schema version.

use std::borrow::Cow;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::model::{SpanId, TraceId};

/// Text that hopscope interns (service, span, destination and group names): borrowed when
/// an analysis is built, so building one allocates little; owned when read back.
pub type Text = Cow<'static, str>;

/// The schema name written in [`Analysis::schema`].
pub const SCHEMA: &str = "hopscope.analysis/v1";

/// A whole analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub summary: Summary,
    /// Flows, by start time then id.
    pub flows: Vec<Flow>,
    /// Hops, by producer start then ids.
    pub hops: Vec<Hop>,
    pub graph: Graph,
    /// One row per subscription, plus one per destination nobody consumes.
    pub lag: Vec<Lag>,
    /// Shared (`Arc`) so that live views reuse the sagas that did not change.
    pub sagas: Vec<Arc<Saga>>,
    pub insights: Vec<Insight>,
    /// The event catalog: one entry per domain event, by name then system (an added key).
    #[serde(default)]
    pub events: Vec<Event>,
    /// One row per root operation (service, operation), by service then operation.
    #[serde(default)]
    pub architecture: Vec<ArchitectureRow>,
}

impl Analysis {
    /// The tables (`<namespace>.<table>`, sorted) that the flows rooted at `service`'s
    /// `operation` wrote, as its [`ArchitectureRow::tables_written`]; empty for an operation
    /// that roots no flow. A table counts when a span of the flow names it (`db.collection.name`
    /// and its older spellings, or the table of an `INSERT`/`UPDATE`/`DELETE`/`MERGE` query)
    /// and its operation or statement writes.
    pub fn tables_written(&self, service: &str, operation: &str) -> &[String] {
        self.architecture
            .binary_search_by(|r| (&*r.service, &*r.operation).cmp(&(service, operation)))
            .map_or(&[], |i| &self.architecture[i].tables_written)
    }
}

/// Counts over everything analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Summary {
    pub spans: u64,
    pub traces: u64,
    pub flows: u64,
    pub hops: u64,
    pub services: u64,
    pub destinations: u64,
    /// Spans that are errors: status Error, or a failed attempt its instrumentation records
    /// otherwise (BullMQ's `job failed` event).
    pub errors: u64,
}

/// A span named by its ids, service and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanEnd {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub service: Text,
    pub name: Text,
}

/// The root of a flow: the root span of its root trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRoot {
    pub service: Text,
    pub name: Text,
    pub trace_id: TraceId,
    pub span_id: SpanId,
}

/// How a flow stands at the event clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowStatus {
    /// Everything produced was consumed, no error.
    Ok,
    /// Some span of the flow is an error.
    Error,
    /// Waiting past `--stuck-after` (see `stuck_reason`).
    Stuck,
    /// Messages still on their way, saga still running.
    InFlight,
}

impl FlowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Ok => "ok",
            FlowStatus::Error => "error",
            FlowStatus::Stuck => "stuck",
            FlowStatus::InFlight => "in_flight",
        }
    }
}

/// A root trace and every trace reachable downstream through hops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// The root trace id.
    pub id: TraceId,
    pub root: FlowRoot,
    /// Trace ids, the root first, then by start time.
    pub traces: Vec<TraceId>,
    /// Service names, sorted.
    pub services: Vec<Text>,
    pub span_count: u64,
    pub hop_count: u64,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub duration_ns: u64,
    /// What the caller waited: the root span's duration.
    pub root_duration_ns: u64,
    /// Flow end − root end: the eventual-consistency window.
    pub settled_after_ns: u64,
    pub status: FlowStatus,
    pub stuck_reason: Option<String>,
    /// Why the flow is an error when a message of it was dead-lettered (an added key).
    #[serde(default)]
    pub error_reason: Option<String>,
    /// How the flow's services interact.
    #[serde(default)]
    pub style: FlowStyle,
    /// The service that sends commands or calls to two or more services and continues on
    /// their replies, if one does.
    #[serde(default)]
    pub coordinator: Option<Text>,
}

/// How a flow's services interact (DESIGN.md §6).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum FlowStyle {
    /// No hops: calls only.
    #[default]
    Sync,
    /// Services react to events on their own; nobody waits for replies.
    Choreography,
    /// A coordinator sends commands or calls to two or more services and continues on their
    /// replies; every hop is one of its commands or their replies.
    Orchestration,
    /// A coordinator, and events besides its commands and replies; or request/reply over
    /// messaging without a coordinator.
    Hybrid,
}

impl FlowStyle {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStyle::Sync => "sync",
            FlowStyle::Choreography => "choreography",
            FlowStyle::Orchestration => "orchestration",
            FlowStyle::Hybrid => "hybrid",
        }
    }
}

/// How a saga is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SagaStyle {
    /// One service (its `coordinator`) drives the steps.
    Orchestrated,
    /// The steps react to each other's events.
    #[default]
    Choreographed,
}

impl SagaStyle {
    pub fn as_str(self) -> &'static str {
        match self {
            SagaStyle::Orchestrated => "orchestrated",
            SagaStyle::Choreographed => "choreographed",
        }
    }
}

/// One root operation and how it behaves across its flows: the decision guide applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchitectureRow {
    pub service: Text,
    pub operation: Text,
    /// Flows rooted here.
    pub flows: u64,
    /// The style most of its flows have (ties: the more coupled one).
    pub style: FlowStyle,
    /// What the caller waited (root span duration).
    pub caller_wait_p50_ns: u64,
    pub caller_wait_p95_ns: u64,
    /// How long after the caller's answer the last effect landed: the eventual-consistency
    /// window.
    pub settle_p50_ns: u64,
    pub settle_p95_ns: u64,
    /// Every service its flows reached, sorted.
    pub services: Vec<Text>,
    /// Messages produced per flow, on average.
    pub events_per_flow: f64,
    /// Calls between services per flow, on average.
    pub sync_calls_per_flow: f64,
    /// Tables written by its flows (`<namespace>.<table>`), sorted.
    pub tables_written: Vec<String>,
    /// What the measurements suggest, in a sentence or two (empty when nothing does).
    pub advice: String,
}

/// How a hop was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HopVia {
    Parent,
    Link,
    Offset,
    MessageId,
    Conversation,
}

impl HopVia {
    pub fn as_str(self) -> &'static str {
        match self {
            HopVia::Parent => "parent",
            HopVia::Link => "link",
            HopVia::Offset => "offset",
            HopVia::MessageId => "message_id",
            HopVia::Conversation => "conversation",
        }
    }
}

/// An asynchronous edge from a producer span to a consumer span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    pub producer: SpanEnd,
    /// The consumer side: its first span (the receive, if there is one).
    pub consumer: SpanEnd,
    /// The strongest way the hop was found.
    pub via: HopVia,
    pub confidence: f64,
    /// `messaging.system`, or `unknown`.
    pub system: Text,
    pub destination: Text,
    /// The consumer group, or the consumer service when the span names no group.
    pub consumer_group: Text,
    /// Consumer start − producer end; 0 when negative.
    pub queue_ns: u64,
    /// The consumer started before the producer: the hosts' clocks disagree.
    pub skew: bool,
}

/// The choreography graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Graph {
    /// Services then destinations, each by id.
    pub nodes: Vec<GraphNode>,
    /// By from, to, kind.
    pub edges: Vec<GraphEdge>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Service,
    Destination,
}

/// A service (id = its name) or a destination (id = `<system>:<destination>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphNode {
    pub id: String,
    pub kind: NodeKind,
}

/// The kind of a graph edge: call, emit or consume.
pub use crate::link::agg::EdgeKind;

/// An edge: calls made, messages emitted, or deliveries consumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    pub count: u64,
    pub errors: u64,
    /// Call latency for calls; queue time for emit and consume.
    pub p50_ns: u64,
    pub p95_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LagStatus {
    Ok,
    /// Queue time or the oldest unconsumed message past the warning threshold.
    Warn,
    /// A message unconsumed past `--stuck-after`.
    Stalled,
    /// Produced to, but nobody observed consuming it: not lag.
    NoConsumer,
}

impl LagStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LagStatus::Ok => "ok",
            LagStatus::Warn => "warn",
            LagStatus::Stalled => "stalled",
            LagStatus::NoConsumer => "no_consumer",
        }
    }
}

/// Consumer lag of one subscription (destination + consumer group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lag {
    pub system: String,
    pub destination: String,
    /// `null` on a `no_consumer` row.
    pub consumer_group: Option<String>,
    pub consumer_services: Vec<String>,
    pub consumed: u64,
    pub p50_ns: u64,
    pub p95_ns: u64,
    pub max_ns: u64,
    /// Messages produced to the destination with no hop to this subscription yet.
    pub unconsumed: u64,
    /// 0 when nothing is unconsumed.
    pub oldest_unconsumed_age_ns: u64,
    pub status: LagStatus,
    /// Some queue time was negative: the hosts' clocks disagree (an added key).
    pub skew: bool,
    /// Messages that died in this subscription and went to a dead-letter destination.
    #[serde(default)]
    pub dead_lettered: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaState {
    Running,
    Completed,
    Compensating,
    Compensated,
    Failed,
    Stuck,
}

impl SagaState {
    pub fn as_str(self) -> &'static str {
        match self {
            SagaState::Running => "running",
            SagaState::Completed => "completed",
            SagaState::Compensating => "compensating",
            SagaState::Compensated => "compensated",
            SagaState::Failed => "failed",
            SagaState::Stuck => "stuck",
        }
    }

    /// Whether the saga is over.
    pub fn is_terminal(self) -> bool {
        matches!(self, SagaState::Completed | SagaState::Compensated | SagaState::Failed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Action,
    Compensation,
    Timeout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    Error,
}

/// One step of a saga.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaStep {
    pub name: String,
    pub kind: StepKind,
    pub service: Text,
    pub status: StepStatus,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
}

/// A saga instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saga {
    /// The instance id as the application gave it.
    pub id: String,
    pub name: String,
    /// hopscope | temporal | masstransit | nservicebus | axon | durabletask | eventuate |
    /// orchestrated.
    pub source: String,
    pub state: SagaState,
    /// In start order.
    pub steps: Vec<SagaStep>,
    pub stuck_reason: Option<String>,
    #[serde(default)]
    pub style: SagaStyle,
    /// The service driving an orchestrated saga.
    #[serde(default)]
    pub coordinator: Option<Text>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InsightKind {
    /// One message processed twice by one subscription: missing idempotency.
    DuplicateDelivery,
    /// A message nobody in a consuming subscription picked up within `--stuck-after`.
    UnconsumedEvent,
    /// An error climbing a sync chain through several services.
    CascadeFailure,
    /// A caller blocked across an async round trip.
    SyncOverAsync,
    /// A saga compensation that failed.
    FailedCompensation,
    /// One service coordinating many distinct services.
    GodOrchestrator,
    /// An operation emitting many events per request, or events whose handlers do almost
    /// nothing.
    EventSoup,
    /// One destination carrying several versions of one event, with consumers failing on one.
    EventSchemaChaos,
    /// A table written by two or more services.
    DistributedMonolith,
    /// A handler calling many services in sequence for side effects while its caller waits.
    SyncFanout,
}

impl InsightKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InsightKind::DuplicateDelivery => "duplicate_delivery",
            InsightKind::UnconsumedEvent => "unconsumed_event",
            InsightKind::CascadeFailure => "cascade_failure",
            InsightKind::SyncOverAsync => "sync_over_async",
            InsightKind::FailedCompensation => "failed_compensation",
            InsightKind::GodOrchestrator => "god_orchestrator",
            InsightKind::EventSoup => "event_soup",
            InsightKind::EventSchemaChaos => "event_schema_chaos",
            InsightKind::DistributedMonolith => "distributed_monolith",
            InsightKind::SyncFanout => "sync_fanout",
        }
    }

    /// Every kind, in order.
    pub const ALL: [InsightKind; 10] = [
        InsightKind::DuplicateDelivery,
        InsightKind::UnconsumedEvent,
        InsightKind::CascadeFailure,
        InsightKind::SyncOverAsync,
        InsightKind::FailedCompensation,
        InsightKind::GodOrchestrator,
        InsightKind::EventSoup,
        InsightKind::EventSchemaChaos,
        InsightKind::DistributedMonolith,
        InsightKind::SyncFanout,
    ];

    /// The kind named `s` (as in the JSON).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Something worth a look, in one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Insight {
    pub kind: InsightKind,
    pub severity: Severity,
    /// The flow it happened in (its root trace id), when there is one.
    pub flow: Option<TraceId>,
    pub detail: String,
    /// What it is about: a service, an operation (`<service> <operation>`), a destination id
    /// or a table (`<namespace>.<table>`).
    #[serde(default)]
    pub subject: String,
    /// The services involved, sorted.
    #[serde(default)]
    pub services: Vec<String>,
}

/// A domain event (DESIGN.md §2): a kind of message as the domain names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `cloudevents.event_type` without its version, else the routing key, else the task or
    /// job name, else the destination.
    pub name: String,
    /// `messaging.system`, or `unknown`.
    pub system: String,
    /// The destinations it was sent to, sorted.
    pub destinations: Vec<String>,
    /// The versions seen (`v1`, `v2`), oldest first; empty when the name carries none.
    pub versions: Vec<String>,
    /// Messages produced.
    pub count: u64,
    /// Messages produced per second, over the data's time span (at least a second).
    pub rate_per_s: f64,
    /// Who produces it, and in which command or policy; by service, command, trigger.
    pub producers: Vec<EventProducer>,
    /// Who consumes it, per subscription; by service, subscription.
    pub consumers: Vec<EventConsumer>,
    /// Tables the producing operations wrote (`<namespace>.<table>` or `<table>`): the
    /// aggregate's state; sorted.
    pub tables: Vec<String>,
}

/// Who emits an event, and while doing what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventProducer {
    pub service: String,
    /// The request operation it was emitted in (`POST /signup`), or the handler of the
    /// trigger for a policy; `null` when the producer span is a trace root.
    pub command: Option<String>,
    /// The event whose handling emitted it: this producer is a policy. `null` for a command.
    pub trigger: Option<String>,
    pub count: u64,
}

/// Who consumes an event, through which subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventConsumer {
    pub service: String,
    /// The subscription's consumer group (the queue, for RabbitMQ).
    pub subscription: String,
    /// Deliveries (hops) of the event to this consumer.
    pub count: u64,
    /// p95 of their queue time.
    pub queue_p95_ns: u64,
    /// Share of the deliveries whose handling failed, 0 to 1.
    pub error_share: f64,
}
