//! What the linker keeps of a span: a compact record of the fields that hops, flows, the
//! graph, lag and sagas read, extracted once when the span arrives.

use super::few::Few;
use super::slot::{HopSlot, SagaSlot, SpanSlot, TraceSlot};
use super::subscription::Reached;
use crate::model::{
    DeadLetter, Interner, MessagingOp, Span, SpanId, SpanKind, Sym, TraceId, Value,
};

/// The span is the producing side of a hop (kind PRODUCER, or operation create/send).
pub(crate) const PRODUCER: u8 = 1;
/// The span is the consuming side of a hop (kind CONSUMER, or operation receive/process).
pub(crate) const CONSUMER: u8 = 1 << 1;
/// The span's status is an error.
pub(crate) const ERROR: u8 = 1 << 2;
/// The span's derived state (index entries, matches, contributions) is applied.
pub(crate) const DERIVED: u8 = 1 << 3;
/// The record is free: its trace was evicted and the slot waits for reuse.
pub(crate) const FREED: u8 = 1 << 4;
/// An HTTP call or request with a method that changes state (POST, PUT, PATCH, DELETE).
pub(crate) const WRITE_METHOD: u8 = 1 << 5;
/// The span has [`ArchFacts`] in the linker's architecture table (`arch.rs`).
pub(crate) const ARCH: u8 = 1 << 6;

/// What one pass over a span's attributes found (the architecture table's `scan`).
pub(crate) struct Scan {
    pub facts: Option<Box<ArchFacts>>,
    /// [`ARCH`] and [`WRITE_METHOD`], to set on the span's record.
    pub flags: u8,
    /// The span has a saga attribute.
    pub saga_key: bool,
}

/// What a span says about its table and its message's schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ArchFacts {
    /// The table written (`<namespace>.<table>`, or `<table>` without a namespace).
    pub table_write: Option<Box<str>>,
    /// The event type without its version (`cloudevents.event_type` or a header).
    pub event_type: Option<Box<str>>,
    /// The event's schema version (from the type's suffix, a version attribute or header).
    pub version: Option<Box<str>>,
    /// The span failed on the message's shape: a (de)serialization or schema error.
    pub deserialization_error: bool,
}

/// One span as the linker sees it.
#[derive(Debug, Clone)]
pub(crate) struct SpanFacts {
    /// Slot of the span's trace.
    pub trace: TraceSlot,
    pub span_id: SpanId,
    pub parent_id: Option<SpanId>,
    /// Slot of the parent once it has arrived.
    pub parent: Option<SpanSlot>,
    /// First child (slot), children chained through `next_sibling`.
    pub first_child: Option<SpanSlot>,
    pub next_sibling: Option<SpanSlot>,
    pub service: Sym,
    pub name: Sym,
    pub kind: SpanKind,
    pub flags: u8,
    pub start: u64,
    pub end: u64,
    pub msg: Option<Box<MsgFacts>>,
    pub saga: Option<Box<SagaFacts>>,
    /// Slot of the saga this span belongs to.
    pub saga_slot: Option<SagaSlot>,
    /// Whether this span counts as an orchestrated step of its parent's saga.
    pub orchestrated_step: bool,
}

const _: () = assert!(size_of::<SpanFacts>() == 80);
const _: () = assert!(size_of::<Partner>() == 8);

impl SpanFacts {
    pub fn is(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    pub fn is_error(&self) -> bool {
        self.is(ERROR)
    }

    pub fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// The messaging side of a span.
#[derive(Debug, Clone, Default)]
pub(crate) struct MsgFacts {
    pub system: Sym,
    pub destination: Sym,
    /// `messaging.consumer.group.name`, or [`Sym::EMPTY`].
    pub group: Sym,
    /// The event the span names, version included ([`crate::model::Messaging::event`]).
    pub event: Sym,
    /// `event` is a CloudEvents type (its version is split off).
    pub event_is_type: bool,
    pub partition: Option<i64>,
    pub offset: Option<i64>,
    /// Message ids: the span's own and (consumers) those carried on link attributes.
    pub ids: Ids,
    pub conversation: Option<Box<str>>,
    /// Contexts the span links to (consumer side only).
    pub links: Few<(TraceId, SpanId), 1>,
    /// Spans on the other side with evidence of a hop to or from this one, and (on the
    /// consumer side) the evidence.
    pub partners: Few<Partner, 2>,
    /// Producer side: the subscriptions this message reached, and with how many hops
    /// (more than one: a duplicate delivery).
    pub subs: Few<Reached, 2>,
    /// Hops this span is the producer or the delivery of.
    pub hops: Few<HopSlot, 2>,
    /// Whether this consumer counts in the graph as a delivery with no hop.
    pub orphan: bool,
    /// Producer side: the span sends the same message as its producer parent (pika's inner
    /// `send` under its outer one) and folds into it: its evidence counts for the parent's
    /// hops, and it is not a message of its own.
    pub nested: bool,
    /// Producer side: position in its destination's producer list.
    pub dest_pos: u32,
    /// Consumer side: the span reads a dead-letter destination; its hops are dead letters.
    pub dead: Option<Box<DeadLetter>>,
}

/// A span on the other side of a hop, and the evidence of the hop from this one (on the
/// consumer side; 0 on the producer side): a mask of [`super::Via::bit`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Partner {
    pub span: SpanSlot,
    pub vias: u8,
}

/// A span's message ids: almost always none or one, kept without a list then.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ids {
    first: Option<Box<str>>,
    more: Vec<Box<str>>,
}

impl Ids {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.first.as_deref().into_iter().chain(self.more.iter().map(|s| &**s))
    }

    pub fn first(&self) -> Option<&str> {
        self.first.as_deref()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.iter().any(|x| x == id)
    }

    /// Adds `id` unless it is there already.
    pub fn add(&mut self, id: Box<str>) {
        if self.contains(&id) {
            return;
        }
        if self.first.is_none() {
            self.first = Some(id);
        } else {
            self.more.push(id);
        }
    }
}

/// Which convention named a saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SagaSource {
    Hopscope,
    Temporal,
    MassTransit,
    NServiceBus,
    Axon,
    DurableTask,
    Eventuate,
    /// No attribute: a span named like a saga whose children are its steps.
    Orchestrated,
}

impl SagaSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SagaSource::Hopscope => "hopscope",
            SagaSource::Temporal => "temporal",
            SagaSource::MassTransit => "masstransit",
            SagaSource::NServiceBus => "nservicebus",
            SagaSource::Axon => "axon",
            SagaSource::DurableTask => "durabletask",
            SagaSource::Eventuate => "eventuate",
            SagaSource::Orchestrated => "orchestrated",
        }
    }
}

/// What kind of saga step a span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepKind {
    Action,
    Compensation,
    Timeout,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Action => "action",
            StepKind::Compensation => "compensation",
            StepKind::Timeout => "timeout",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "action" | "step" => Some(StepKind::Action),
            "compensation" | "compensate" => Some(StepKind::Compensation),
            "timeout" => Some(StepKind::Timeout),
            _ => None,
        }
    }
}

/// What a span says about a saga.
#[derive(Debug, Clone, Default)]
pub(crate) struct SagaFacts {
    /// The saga instance the span names, if it names one.
    pub key: Option<(SagaSource, Box<str>)>,
    pub saga_name: Option<Box<str>>,
    /// Set when the span is a step.
    pub step_name: Option<Box<str>>,
    pub step_index: Option<i64>,
    pub kind: Option<StepKind>,
    pub compensates: Option<Box<str>>,
    pub state: Option<Box<str>>,
    pub deadline: Option<u64>,
    /// The span is the saga itself (its children are the steps).
    pub root: bool,
}

/// Interned attribute keys the linker reads, beyond the messaging ones the model normalises.
#[derive(Debug, Clone)]
pub(crate) struct LinkKeys {
    link_message_id: [Sym; 2],
    saga_name: Sym,
    saga_id: Sym,
    step_name: Sym,
    step_index: Sym,
    step_kind: Sym,
    step_compensates: Sym,
    saga_state: Sym,
    saga_deadline: Sym,
    foreign: [(Sym, SagaSource); 6],
    /// By symbol index: whether the key is one of the saga keys above.
    saga_key: Vec<bool>,
}

impl LinkKeys {
    pub fn new(i: &Interner) -> Self {
        let mut keys = Self {
            link_message_id: [i.intern("messaging.message.id"), i.intern("messaging.message_id")],
            saga_name: i.intern("saga.name"),
            saga_id: i.intern("saga.id"),
            step_name: i.intern("saga.step.name"),
            step_index: i.intern("saga.step.index"),
            step_kind: i.intern("saga.step.kind"),
            step_compensates: i.intern("saga.step.compensates"),
            saga_state: i.intern("saga.state"),
            saga_deadline: i.intern("saga.deadline"),
            foreign: [
                (i.intern("temporalWorkflowID"), SagaSource::Temporal),
                (i.intern("messaging.masstransit.saga_id"), SagaSource::MassTransit),
                (i.intern("nservicebus.saga.saga_id"), SagaSource::NServiceBus),
                (i.intern("axon.sagaIdentifier"), SagaSource::Axon),
                (i.intern("durabletask.task.instance_id"), SagaSource::DurableTask),
                (i.intern("messaging.header.command_saga_id"), SagaSource::Eventuate),
            ],
            saga_key: Vec::new(),
        };
        let mut all = vec![
            keys.saga_name,
            keys.saga_id,
            keys.step_name,
            keys.step_index,
            keys.step_kind,
            keys.step_compensates,
            keys.saga_state,
            keys.saga_deadline,
        ];
        all.extend(keys.foreign.iter().map(|(k, _)| *k));
        let max = all.iter().map(|k| k.index() as usize).max().unwrap_or(0);
        keys.saga_key = vec![false; max + 1];
        for k in all {
            keys.saga_key[k.index() as usize] = true;
        }
        keys
    }

    pub(crate) fn is_saga_key(&self, k: Sym) -> bool {
        self.saga_key.get(k.index() as usize).copied().unwrap_or(false)
    }
}

/// What a span name says, computed once per distinct name.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NameClass {
    /// `RunWorkflow:X` or `orchestration||X`: the saga itself.
    pub workflow: bool,
    /// `RunActivity:X` or `activity||X`: a step.
    pub activity: bool,
    /// Contains "saga".
    pub saga_like: bool,
}

impl NameClass {
    fn of(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        Self {
            workflow: name.starts_with("RunWorkflow:") || name.starts_with("orchestration||"),
            activity: name.starts_with("RunActivity:") || name.starts_with("activity||"),
            saga_like: lower.contains("saga"),
        }
    }
}

/// Whether a (lowercase) step name reads as a compensation (DESIGN.md §4).
pub(crate) fn is_compensation_name(lower: &str) -> bool {
    ["compensat", "rollback", "undo", "revert", "refund", "cancel", "release"]
        .iter()
        .any(|w| lower.contains(w))
}

/// The part of a workflow or activity span name after its prefix.
pub(crate) fn strip_workflow_prefix(name: &str) -> &str {
    for prefix in ["RunWorkflow:", "RunActivity:", "orchestration||", "activity||"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return rest;
        }
    }
    name
}

fn text(v: &Value) -> Option<Box<str>> {
    match v {
        Value::Str(s) if !s.is_empty() => Some(s.as_str().into()),
        Value::Int(i) => Some(i.to_string().into_boxed_str()),
        _ => None,
    }
}

/// Extracts the linker's record of `span`. Structural fields (`trace`, `parent`, children)
/// are left for the linker to fill in.
pub(crate) fn extract(
    span: &Span,
    trace: TraceSlot,
    keys: &LinkKeys,
    names: &mut Vec<Option<NameClass>>,
    interner: &Interner,
    scan: &Scan,
) -> SpanFacts {
    let i = span.name.index() as usize;
    if names.len() <= i {
        names.resize(i + 1, None);
    }
    let class = *names[i].get_or_insert_with(|| NameClass::of(interner.resolve(span.name)));
    let mut flags = scan.flags;
    if span.is_error() {
        flags |= ERROR;
    }
    let msg = span.messaging.as_deref().and_then(|m| {
        let side = match m.operation {
            op if op.is_producer() => PRODUCER,
            op if op.is_consumer() => CONSUMER,
            MessagingOp::Unknown => match span.kind {
                SpanKind::Producer => PRODUCER,
                SpanKind::Consumer => CONSUMER,
                _ => 0,
            },
            _ => 0,
        };
        // A send span linking the messages it carries (Pub/Sub's batch publish, Service
        // Bus's `ServiceBusSender.Send`): their `create` spans are the producers.
        if side == 0
            || (side == PRODUCER && m.operation == MessagingOp::Send && !span.links.is_empty())
        {
            return None;
        }
        flags |= side;
        let mut ids = Ids::default();
        if let Some(id) = &m.message_id {
            ids.add(id.clone());
        }
        let mut links = Few::default();
        if side == CONSUMER {
            for link in &span.links {
                links.push((link.trace_id, link.span_id));
                for kv in &*link.attributes {
                    if keys.link_message_id.contains(&kv.key)
                        && let Some(id) = text(&kv.value)
                    {
                        ids.add(id);
                    }
                }
            }
        }
        Some(Box::new(MsgFacts {
            system: m.system,
            destination: m.destination,
            group: m.consumer_group,
            event: m.event,
            event_is_type: m.event_is_type,
            partition: m.partition,
            offset: m.offset,
            ids,
            conversation: m.conversation_id.clone(),
            links,
            dead: m.dead_letter.clone(),
            ..MsgFacts::default()
        }))
    });
    SpanFacts {
        trace,
        span_id: span.span_id,
        parent_id: span.parent_span_id,
        parent: None,
        first_child: None,
        next_sibling: None,
        service: span.service(),
        name: span.name,
        kind: span.kind,
        flags,
        start: span.start_unix_nano,
        end: span.end_unix_nano.max(span.start_unix_nano),
        msg,
        saga: saga_facts(span, class, keys, interner, scan.saga_key),
        saga_slot: None,
        orchestrated_step: false,
    }
}

fn saga_facts(
    span: &Span,
    class: NameClass,
    keys: &LinkKeys,
    interner: &Interner,
    saga_key: bool,
) -> Option<Box<SagaFacts>> {
    if !class.workflow && !class.activity && !class.saga_like && !saga_key {
        return None;
    }
    let mut f = SagaFacts::default();
    let mut any = false;
    for kv in &*span.attributes {
        let k = kv.key;
        if !keys.is_saga_key(k) {
            continue;
        }
        if k == keys.saga_id {
            if let Some(id) = text(&kv.value) {
                f.key = Some((SagaSource::Hopscope, id));
            }
        } else if k == keys.saga_name {
            f.saga_name = text(&kv.value);
        } else if k == keys.step_name {
            f.step_name = text(&kv.value);
        } else if k == keys.step_index {
            f.step_index = kv.value.as_i64();
        } else if k == keys.step_kind {
            f.kind = kv.value.as_str().and_then(StepKind::parse);
        } else if k == keys.step_compensates {
            f.compensates = text(&kv.value);
        } else if k == keys.saga_state {
            f.state = text(&kv.value).map(|s| s.to_ascii_lowercase().into_boxed_str());
        } else if k == keys.saga_deadline {
            f.deadline = kv.value.as_i64().and_then(|d| u64::try_from(d).ok());
        } else if let Some((_, source)) = keys.foreign.iter().find(|(key, _)| *key == k) {
            if f.key.is_none()
                && let Some(id) = text(&kv.value)
            {
                f.key = Some((*source, id));
            }
        } else {
            continue;
        }
        any = true;
    }
    let name = interner.resolve(span.name);
    let messaging_side =
        matches!(span.kind, SpanKind::Producer | SpanKind::Client | SpanKind::Consumer)
            || span.messaging.is_some();
    match f.key.as_ref().map(|(s, _)| *s) {
        Some(SagaSource::Hopscope) => {
            f.root = f.step_name.is_none() && class.saga_like && !messaging_side;
        }
        Some(SagaSource::Temporal | SagaSource::DurableTask) => {
            if class.workflow {
                f.root = true;
                f.saga_name.get_or_insert_with(|| strip_workflow_prefix(name).into());
            } else if class.activity {
                f.step_name.get_or_insert_with(|| strip_workflow_prefix(name).into());
            }
        }
        Some(_) => {
            // MassTransit, NServiceBus, Axon, Eventuate: every handling span is a step.
            if f.step_name.is_none()
                && !matches!(span.kind, SpanKind::Producer | SpanKind::Client)
                && span.messaging.as_ref().is_none_or(|m| !m.operation.is_producer())
            {
                f.step_name = Some(name.into());
            }
        }
        None => {
            if class.saga_like && !messaging_side && f.step_name.is_none() {
                f.root = true;
                f.key = Some((SagaSource::Orchestrated, span.span_id.to_string().into()));
                f.saga_name.get_or_insert_with(|| name.into());
                any = true;
            } else if f.step_name.is_none() {
                // Saga attributes without an instance id or a step name say nothing usable.
                return None;
            }
            // A step without an instance id: it joins its parent's saga, if that is one.
        }
    }
    if f.key.is_none() && f.step_name.is_none() {
        return None;
    }
    if f.step_name.is_some() && f.kind.is_none() {
        let lower = f.step_name.as_deref().unwrap_or_default().to_ascii_lowercase();
        f.kind = Some(if is_compensation_name(&lower) {
            StepKind::Compensation
        } else {
            StepKind::Action
        });
    }
    any.then(|| Box::new(f))
}
