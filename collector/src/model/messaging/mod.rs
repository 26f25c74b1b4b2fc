//! Messaging fields, normalised from every naming the OpenTelemetry semantic conventions
//! (and common instrumentations) have used, per DESIGN.md §3, and refined by the messaging
//! model of each system, one file per family:
//!
//! - [`rabbitmq`]: an event is (exchange, routing key), so the destination is
//!   `<exchange>:<routing key>` (the default exchange routes by queue name: the destination
//!   is the routing key); a subscription is a queue, read from
//!   `messaging.destination.subscription.name`, `messaging.consumer.group.name`, or the
//!   consumer span's name (`<queue> process`, `<queue> receive`). amqplib, pika, aio-pika,
//!   the Java agent (old and 3.0-preview names) and MassTransit spellings are all read.
//! - [`kafka`]: the topic; partition and offset locate a message (also from sarama's
//!   offset-as-id and confluent-kafka's `<topic>.<partition>.<offset>` ids); the group is
//!   the consumer group; kotel consumers name the topic `messaging.source.name`.
//! - [`jobs`]: Celery and BullMQ: the destination is `<queue>:<task>` (the task or job name
//!   is the event), the message id the task or job id.
//! - [`cloud`]: AWS SQS/SNS, GCP Pub/Sub, Azure Service Bus and Event Hubs: queue names from
//!   URLs, topics from ARNs, Pub/Sub subscriptions and Service Bus `topic/Subscriptions/sub`
//!   paths as subscriptions, the SDKs' own span names as operations.
//! - [`deadletter`]: whether a consumer reads a dead-letter destination, and what the broker
//!   recorded about the death (`x-first-death-*`).
//!
//! Normalisation runs once per span, at decode time; the linker only compares symbols.

mod cloud;
mod deadletter;
pub use deadletter::is_dead_letter_name;
mod jobs;
mod kafka;
mod rabbitmq;

use std::mem::size_of;

use super::span::{Event, KeyValue, SpanKind, Value, find_attr};
use super::{Interner, Sym};

/// What a messaging span does with its message (`messaging.operation.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessagingOp {
    /// Not said, and not inferable from name or kind.
    #[default]
    Unknown,
    Create,
    Send,
    Receive,
    Process,
    Settle,
}

impl MessagingOp {
    /// Parses an operation name, current or old (`publish` → send, `deliver` → process).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "create" => MessagingOp::Create,
            "send" | "publish" => MessagingOp::Send,
            "process" | "deliver" => MessagingOp::Process,
            "receive" | "poll" | "subscribe" => MessagingOp::Receive,
            "settle" | "ack" | "nack" | "modack" | "complete" | "abandon" | "checkpoint" => {
                MessagingOp::Settle
            }
            _ => return None,
        })
    }

    /// Whether this is the producing side of a hop (create, send).
    pub fn is_producer(self) -> bool {
        matches!(self, MessagingOp::Create | MessagingOp::Send)
    }

    /// Whether this is the consuming side of a hop (receive, process).
    pub fn is_consumer(self) -> bool {
        matches!(self, MessagingOp::Receive | MessagingOp::Process)
    }

    /// The current semantic-convention name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessagingOp::Unknown => "",
            MessagingOp::Create => "create",
            MessagingOp::Send => "send",
            MessagingOp::Receive => "receive",
            MessagingOp::Process => "process",
            MessagingOp::Settle => "settle",
        }
    }
}

/// The normalised messaging fields of one span.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Messaging {
    /// `messaging.system` (`kafka`, `rabbitmq`, ...), spelled one way per system (`aws.sqs`
    /// → `aws_sqs`); inferred where the span does not say it (`celery`, `bullmq`, `aws.sns`);
    /// [`Sym::EMPTY`] when unknown.
    pub system: Sym,
    /// The destination as the system's messaging model names it (see the module doc): for
    /// RabbitMQ `<exchange>:<routing key>`, for job queues `<queue>:<task>`, else
    /// `messaging.destination.name`; [`Sym::EMPTY`] when unknown.
    pub destination: Sym,
    pub operation: MessagingOp,
    pub message_id: Option<Box<str>>,
    pub conversation_id: Option<Box<str>>,
    /// The subscription: `messaging.destination.subscription.name`,
    /// `messaging.consumer.group.name`, or the queue a consumer span names (RabbitMQ
    /// `<queue> process`, a Pub/Sub subscription); [`Sym::EMPTY`] when not said.
    pub consumer_group: Sym,
    pub partition: Option<i64>,
    pub offset: Option<i64>,
    pub routing_key: Option<Box<str>>,
    /// The kind of message as the domain names it (DESIGN.md §2, Event), its version still
    /// on: `cloudevents.event_type`, else the routing key on a named exchange, else the task
    /// or job name; [`Sym::EMPTY`] when only the destination names it.
    pub event: Sym,
    /// `event` is a CloudEvents type, whose version suffix (`.v2`) is not part of the name.
    pub event_is_type: bool,
    pub batch_message_count: Option<i64>,
    /// Set on a consumer of a dead-letter destination (see [`DeadLetter`]).
    pub dead_letter: Option<Box<DeadLetter>>,
    /// The span's instrumentation says the attempt failed where the status does not (a
    /// BullMQ `job failed` event, see [`jobs::failed_attempt`]): the span is an error.
    pub failed: bool,
}

/// What a consumer span of a dead-letter destination says about the death of its message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeadLetter {
    /// The queue (subscription) the message died in: `x-first-death-queue` when recorded.
    pub queue: Option<Box<str>>,
    /// Why: `x-first-death-reason` (`rejected`, `expired`, `maxlen`, `delivery_limit`).
    pub reason: Option<Box<str>>,
}

impl Messaging {
    /// Heap bytes owned beyond the struct itself.
    pub fn heap_bytes(&self) -> usize {
        let len =
            |s: &Option<Box<str>>| s.as_ref().map_or(0, |s| s.len() + super::span::ALLOC_OVERHEAD);
        let dead = self.dead_letter.as_ref().map_or(0, |d| {
            size_of::<DeadLetter>() + super::span::ALLOC_OVERHEAD + len(&d.queue) + len(&d.reason)
        });
        len(&self.message_id) + len(&self.conversation_id) + len(&self.routing_key) + dead
    }

    /// Reads what the span's `events` say about the attempt's outcome where its status says
    /// nothing (an unset status): sets [`Messaging::failed`] on a failed attempt.
    pub fn read_outcome(&mut self, events: &[Event], keys: &Keys) {
        self.failed = jobs::failed_attempt(self, events, keys);
    }
}

/// Interned attribute keys the model looks for, resolved once per interner so that
/// normalisation compares integers, not strings.
#[derive(Debug, Clone)]
pub struct Keys {
    pub service_name: Sym,
    system: Sym,
    destination: [Sym; 3],
    operation_type: Sym,
    operation: Sym,
    message_id: [Sym; 4],
    conversation_id: [Sym; 2],
    group: [Sym; 6],
    partition: [Sym; 4],
    offset: [Sym; 2],
    routing_key: [Sym; 2],
    batch_count: Sym,
    event_type: [Sym; 3],
    pub(crate) celery_task: Sym,
    pub(crate) bullmq_queue: Sym,
    pub(crate) bullmq_job: Sym,
    pub(crate) bullmq_job_id: Sym,
    pub(crate) bullmq_operation: Sym,
    pub(crate) bullmq: Sym,
    pub(crate) bullmq_job_failed: Sym,
    pub(crate) sqs_queue_url: Sym,
    pub(crate) sns_topic_arn: Sym,
    pub(crate) death_queue: [Sym; 2],
    pub(crate) death_reason: [Sym; 2],
}

impl Keys {
    /// Interns every key of interest.
    pub fn new(i: &Interner) -> Self {
        Self {
            service_name: i.intern("service.name"),
            system: i.intern("messaging.system"),
            destination: [
                i.intern("messaging.destination.name"),
                i.intern("messaging.destination"),
                // franz-go kotel consumers (semconv 1.18): the topic read from.
                i.intern("messaging.source.name"),
            ],
            operation_type: i.intern("messaging.operation.type"),
            operation: i.intern("messaging.operation"),
            message_id: [
                i.intern("messaging.message.id"),
                i.intern("messaging.message_id"),
                i.intern("messaging.masstransit.message_id"),
                i.intern("nservicebus.message_id"),
            ],
            conversation_id: [
                i.intern("messaging.message.conversation_id"),
                i.intern("messaging.conversation_id"),
            ],
            group: [
                i.intern("messaging.destination.subscription.name"),
                i.intern("messaging.servicebus.destination.subscription_name"),
                i.intern("messaging.consumer.group.name"),
                i.intern("messaging.kafka.consumer.group"),
                i.intern("messaging.kafka.consumer_group"),
                i.intern("messaging.eventhubs.consumer.group"),
            ],
            partition: [
                i.intern("messaging.destination.partition.id"),
                i.intern("messaging.kafka.partition"),
                i.intern("messaging.kafka.destination.partition"),
                i.intern("messaging.kafka.source.partition"),
            ],
            offset: [
                i.intern("messaging.kafka.offset"),
                i.intern("messaging.kafka.message.offset"),
            ],
            routing_key: [
                i.intern("messaging.rabbitmq.destination.routing_key"),
                i.intern("messaging.rabbitmq.routing_key"),
            ],
            batch_count: i.intern("messaging.batch.message_count"),
            event_type: [
                i.intern("cloudevents.event_type"),
                // CloudEvents binary mode: the type travels as a header (Kafka `ce_type`).
                i.intern("messaging.header.ce_type"),
                i.intern("messaging.header.ce-type"),
            ],
            celery_task: i.intern("celery.task_name"),
            bullmq_queue: i.intern("bullmq.queue.name"),
            bullmq_job: i.intern("bullmq.job.name"),
            bullmq_job_id: i.intern("bullmq.job.id"),
            bullmq_operation: i.intern("bullmq.queue.operation"),
            bullmq: i.intern("bullmq"),
            bullmq_job_failed: i.intern("job failed"),
            sqs_queue_url: i.intern("aws.sqs.queue.url"),
            sns_topic_arn: i.intern("aws.sns.topic.arn"),
            death_queue: [
                i.intern("messaging.header.x_first_death_queue"),
                i.intern("messaging.header.x-first-death-queue"),
            ],
            death_reason: [
                i.intern("messaging.header.x_first_death_reason"),
                i.intern("messaging.header.x-first-death-reason"),
            ],
        }
    }
}

fn first<'a>(attrs: &'a [KeyValue], keys: &[Sym]) -> Option<&'a Value> {
    keys.iter().find_map(|k| find_attr(attrs, *k))
}

/// A value as text: a non-empty string, an integer, or the first of a string array (captured
/// message headers are string arrays).
pub(crate) fn text_of(v: &Value) -> Option<&str> {
    match v {
        Value::Str(s) if !s.is_empty() => Some(s),
        Value::Array(a) => a.first().and_then(text_of),
        _ => None,
    }
}

fn first_str(attrs: &[KeyValue], keys: &[Sym]) -> Option<Box<str>> {
    match first(attrs, keys)? {
        Value::Int(i) => Some(i.to_string().into_boxed_str()),
        v => text_of(v).map(Into::into),
    }
}

/// Reads `<dest> <op>` or `<op> <dest>` span names.
pub(crate) fn op_from_name(name: &str) -> Option<(MessagingOp, &str)> {
    let (a, b) = name.split_once(' ')?;
    if let Some(op) = MessagingOp::parse(b) {
        return Some((op, a));
    }
    MessagingOp::parse(a).map(|op| (op, b))
}

/// What normalisation has read before the rules of the span's system refine it.
#[derive(Debug, Default)]
pub(crate) struct Draft<'a> {
    pub name: &'a str,
    pub kind: SpanKind,
    pub attrs: &'a [KeyValue],
    pub system: Option<&'a str>,
    /// The destination attribute as the span gives it.
    pub destination: Option<String>,
    /// The destination part of the span name (`<dest> <op>`, `<op> <dest>`).
    pub name_destination: Option<&'a str>,
    /// The operation attributes say (`messaging.operation.type`, `messaging.operation`).
    pub attr_op: Option<MessagingOp>,
    pub name_op: Option<MessagingOp>,
    pub group: Option<String>,
    pub routing_key: Option<Box<str>>,
    pub message_id: Option<Box<str>>,
    pub partition: Option<i64>,
    pub offset: Option<i64>,
    /// The event the system's model names (routing key, task or job name), if any.
    pub event: Option<String>,
}

impl Draft<'_> {
    /// The operation: attributes, then the name, then the kind.
    pub fn operation(&self) -> MessagingOp {
        self.attr_op.or(self.name_op).unwrap_or(match self.kind {
            SpanKind::Producer => MessagingOp::Send,
            SpanKind::Consumer => MessagingOp::Process,
            _ => MessagingOp::Unknown,
        })
    }
}

/// Normalises the messaging fields of a span, or `None` if it is not a messaging span.
///
/// Operation type is taken, in order, from `messaging.operation.type`, `messaging.operation`,
/// the span name (`<dest> <op>`, `<op> <dest>`, Celery `apply_async/<task>`, `run/<task>`,
/// the SDKs' own names), and finally the span kind. The system's rules then refine the
/// destination and the subscription (module doc).
pub fn normalise(
    attrs: &[KeyValue],
    name: &str,
    kind: SpanKind,
    keys: &Keys,
    interner: &Interner,
) -> Option<Messaging> {
    let system = find_attr(attrs, keys.system).and_then(Value::as_str);
    let job = jobs::system_of(attrs, name, keys);
    let cloud = cloud::system_of(attrs, name, keys);
    let has_messaging_attr = system.is_some()
        || job.is_some()
        || cloud.is_some()
        || first(attrs, &keys.destination).is_some()
        || first(attrs, &keys.message_id).is_some()
        || find_attr(attrs, keys.operation_type).is_some()
        || find_attr(attrs, keys.operation).is_some();
    if !has_messaging_attr && !matches!(kind, SpanKind::Producer | SpanKind::Consumer) {
        return None;
    }
    let name_split = op_from_name(name);
    let mut d = Draft {
        name,
        kind,
        attrs,
        system: system.or(job).or(cloud),
        destination: first(attrs, &keys.destination).and_then(Value::as_str).map(str::to_owned),
        name_destination: name_split.map(|(_, dest)| dest),
        attr_op: [keys.operation_type, keys.operation]
            .iter()
            .filter_map(|k| find_attr(attrs, *k).and_then(Value::as_str))
            .find_map(MessagingOp::parse),
        name_op: name_split.map(|(op, _)| op),
        group: first(attrs, &keys.group).and_then(text_of).map(str::to_owned),
        routing_key: first_str(attrs, &keys.routing_key),
        message_id: first_str(attrs, &keys.message_id),
        partition: first(attrs, &keys.partition).and_then(Value::as_i64),
        offset: first(attrs, &keys.offset).and_then(Value::as_i64),
        event: None,
    };
    let system = match d.system.unwrap_or_default() {
        "rabbitmq" | "amqp" => {
            rabbitmq::refine(&mut d);
            "rabbitmq"
        }
        "kafka" => {
            kafka::refine(&mut d);
            "kafka"
        }
        s @ ("celery" | "bullmq") => {
            if !jobs::refine(&mut d, s, keys) {
                return None;
            }
            s
        }
        s => cloud::refine(&mut d, s, keys),
    };
    if d.destination.is_none() {
        d.destination = d.name_destination.map(str::to_owned);
    }
    kafka::offset_from_id(&mut d);
    let operation = d.operation();
    let dead_letter =
        if operation.is_consumer() { deadletter::detect(&d, keys).map(Box::new) } else { None };
    let event_type = first(attrs, &keys.event_type).and_then(text_of);
    let event = event_type.or(d.event.as_deref());
    Some(Messaging {
        event: event.map_or(Sym::EMPTY, |e| interner.intern(e)),
        event_is_type: event_type.is_some(),
        system: if system.is_empty() { Sym::EMPTY } else { interner.intern(system) },
        destination: d.destination.as_deref().map_or(Sym::EMPTY, |s| interner.intern(s)),
        operation,
        message_id: d.message_id,
        conversation_id: first_str(attrs, &keys.conversation_id),
        consumer_group: d.group.as_deref().map_or(Sym::EMPTY, |g| interner.intern(g)),
        partition: d.partition,
        offset: d.offset,
        routing_key: d.routing_key,
        batch_message_count: find_attr(attrs, keys.batch_count).and_then(Value::as_i64),
        dead_letter,
        failed: false,
    })
}

const _: () = assert!(size_of::<Messaging>() <= 128);

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(i: &Interner, k: &str, v: Value) -> KeyValue {
        KeyValue { key: i.intern(k), value: v }
    }

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    #[test]
    fn a_bullmq_job_failed_event_fails_the_attempt_and_a_bare_exception_does_not() {
        let i = Interner::new();
        let keys = Keys::new(&i);
        let ev = |name: &str| Event {
            time_unix_nano: 1,
            name: i.intern(name),
            attributes: Box::new([kv(&i, "bullmq.job.failed.reason", s("boom"))]),
            dropped_attributes_count: 0,
        };
        let process = [
            kv(&i, "bullmq.queue.name", s("emails")),
            kv(&i, "bullmq.queue.operation", s("process")),
        ];
        let mut m = normalise(&process, "process emails", SpanKind::Consumer, &keys, &i).unwrap();
        m.read_outcome(&[ev("job completed"), ev("exception")], &keys);
        assert!(!m.failed);
        m.read_outcome(&[ev("job failed")], &keys);
        assert!(m.failed);
        // Another system's consumer with the same event name says nothing.
        let kafka = [kv(&i, "messaging.system", s("kafka"))];
        let mut m = normalise(&kafka, "process emails", SpanKind::Consumer, &keys, &i).unwrap();
        m.read_outcome(&[ev("job failed")], &keys);
        assert!(!m.failed);
    }

    #[test]
    fn old_names_are_normalised() {
        let i = Interner::new();
        let keys = Keys::new(&i);
        let attrs = [
            kv(&i, "messaging.system", s("kafka")),
            kv(&i, "messaging.destination", s("orders")),
            kv(&i, "messaging.operation", s("publish")),
            kv(&i, "messaging.message_id", s("m-1")),
            kv(&i, "messaging.kafka.consumer_group", s("billing")),
            kv(&i, "messaging.kafka.partition", Value::Int(3)),
            kv(&i, "messaging.kafka.message.offset", s("42")),
            kv(&i, "messaging.rabbitmq.routing_key", s("rk")),
            kv(&i, "messaging.conversation_id", s("c-9")),
        ];
        let m = normalise(&attrs, "whatever", SpanKind::Internal, &keys, &i).unwrap();
        assert_eq!(i.resolve(m.system), "kafka");
        assert_eq!(i.resolve(m.destination), "orders");
        assert_eq!(m.operation, MessagingOp::Send);
        assert_eq!(m.message_id.as_deref(), Some("m-1"));
        assert_eq!(i.resolve(m.consumer_group), "billing");
        assert_eq!((m.partition, m.offset), (Some(3), Some(42)));
        assert_eq!(m.routing_key.as_deref(), Some("rk"));
        assert_eq!(m.conversation_id.as_deref(), Some("c-9"));
    }

    #[test]
    fn operation_from_name_then_kind() {
        let i = Interner::new();
        let keys = Keys::new(&i);
        let sys = [kv(&i, "messaging.system", s("rabbitmq"))];
        let m = normalise(&sys, "payments deliver", SpanKind::Consumer, &keys, &i).unwrap();
        assert_eq!(m.operation, MessagingOp::Process);
        assert_eq!(i.resolve(m.destination), "payments");
        let m = normalise(&sys, "receive payments", SpanKind::Consumer, &keys, &i).unwrap();
        assert_eq!(m.operation, MessagingOp::Receive);
        let m = normalise(&[], "emit", SpanKind::Producer, &keys, &i).unwrap();
        assert_eq!(m.operation, MessagingOp::Send);
        assert!(normalise(&[], "GET /", SpanKind::Server, &keys, &i).is_none());
    }

    #[test]
    fn celery_and_kafka_offset_ids() {
        let i = Interner::new();
        let keys = Keys::new(&i);
        let m = normalise(&[], "run/tasks.add", SpanKind::Consumer, &keys, &i).unwrap();
        assert_eq!((i.resolve(m.system), m.operation), ("celery", MessagingOp::Process));
        assert_eq!(i.resolve(m.destination), "tasks.add");
        let attrs = [
            kv(&i, "messaging.system", s("kafka")),
            kv(&i, "messaging.destination.name", s("orders.v1")),
            kv(&i, "messaging.message.id", s("orders.v1.2.1007")),
        ];
        let m = normalise(&attrs, "orders.v1 process", SpanKind::Consumer, &keys, &i).unwrap();
        assert_eq!((m.partition, m.offset), (Some(2), Some(1007)));
    }
}
