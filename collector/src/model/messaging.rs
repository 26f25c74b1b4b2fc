//! Messaging fields, normalised from every naming the OpenTelemetry semantic conventions
//! (and common instrumentations) have used, per DESIGN.md §3.

use std::mem::size_of;

use super::span::{KeyValue, SpanKind, Value, find_attr};
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
            "receive" => MessagingOp::Receive,
            "process" | "deliver" => MessagingOp::Process,
            "settle" | "ack" | "nack" => MessagingOp::Settle,
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
    /// `messaging.system` (`kafka`, `rabbitmq`, ...); inferred `celery` for Celery spans;
    /// [`Sym::EMPTY`] when unknown.
    pub system: Sym,
    /// `messaging.destination.name`; [`Sym::EMPTY`] when unknown.
    pub destination: Sym,
    pub operation: MessagingOp,
    pub message_id: Option<Box<str>>,
    pub conversation_id: Option<Box<str>>,
    /// `messaging.consumer.group.name`; [`Sym::EMPTY`] when not said.
    pub consumer_group: Sym,
    pub partition: Option<i64>,
    pub offset: Option<i64>,
    pub routing_key: Option<Box<str>>,
    pub batch_message_count: Option<i64>,
}

impl Messaging {
    /// Heap bytes owned beyond the struct itself.
    pub fn heap_bytes(&self) -> usize {
        let len =
            |s: &Option<Box<str>>| s.as_ref().map_or(0, |s| s.len() + super::span::ALLOC_OVERHEAD);
        len(&self.message_id) + len(&self.conversation_id) + len(&self.routing_key)
    }
}

/// Interned attribute keys the model looks for, resolved once per interner so that
/// normalisation compares integers, not strings.
#[derive(Debug, Clone)]
pub struct Keys {
    pub service_name: Sym,
    system: Sym,
    destination: [Sym; 2],
    operation_type: Sym,
    operation: Sym,
    message_id: [Sym; 4],
    conversation_id: [Sym; 2],
    consumer_group: [Sym; 3],
    partition: [Sym; 3],
    offset: [Sym; 2],
    routing_key: [Sym; 2],
    batch_count: Sym,
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
            consumer_group: [
                i.intern("messaging.consumer.group.name"),
                i.intern("messaging.kafka.consumer.group"),
                i.intern("messaging.kafka.consumer_group"),
            ],
            partition: [
                i.intern("messaging.destination.partition.id"),
                i.intern("messaging.kafka.partition"),
                i.intern("messaging.kafka.destination.partition"),
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
        }
    }
}

fn first<'a>(attrs: &'a [KeyValue], keys: &[Sym]) -> Option<&'a Value> {
    keys.iter().find_map(|k| find_attr(attrs, *k))
}

fn first_str(attrs: &[KeyValue], keys: &[Sym]) -> Option<Box<str>> {
    match first(attrs, keys)? {
        Value::Str(s) if !s.is_empty() => Some(s.as_str().into()),
        Value::Int(i) => Some(i.to_string().into_boxed_str()),
        _ => None,
    }
}

/// Splits a Celery span name: `apply_async/<task>` (send) or `run/<task>` (process).
fn celery_name(name: &str) -> Option<(MessagingOp, &str)> {
    if let Some(task) = name.strip_prefix("apply_async/") {
        Some((MessagingOp::Send, task))
    } else {
        name.strip_prefix("run/").map(|task| (MessagingOp::Process, task))
    }
}

/// Reads `<dest> <op>` or `<op> <dest>` span names.
fn op_from_name(name: &str) -> Option<(MessagingOp, &str)> {
    let (a, b) = name.split_once(' ')?;
    if let Some(op) = MessagingOp::parse(b) {
        return Some((op, a));
    }
    MessagingOp::parse(a).map(|op| (op, b))
}

/// Normalises the messaging fields of a span, or `None` if it is not a messaging span.
///
/// Operation type is taken, in order, from `messaging.operation.type`, `messaging.operation`,
/// the span name (`<dest> <op>`, `<op> <dest>`, Celery `apply_async/<task>`, `run/<task>`),
/// and finally the span kind.
pub fn normalise(
    attrs: &[KeyValue],
    name: &str,
    kind: SpanKind,
    keys: &Keys,
    interner: &Interner,
) -> Option<Messaging> {
    let system = find_attr(attrs, keys.system).and_then(Value::as_str);
    let celery = celery_name(name);
    let has_messaging_attr = system.is_some()
        || first(attrs, &keys.destination).is_some()
        || first(attrs, &keys.message_id).is_some()
        || find_attr(attrs, keys.operation_type).is_some()
        || find_attr(attrs, keys.operation).is_some();
    if !has_messaging_attr
        && celery.is_none()
        && !matches!(kind, SpanKind::Producer | SpanKind::Consumer)
    {
        return None;
    }

    let name_op = celery.or_else(|| op_from_name(name));
    let operation = [keys.operation_type, keys.operation]
        .iter()
        .filter_map(|k| find_attr(attrs, *k).and_then(Value::as_str))
        .find_map(MessagingOp::parse)
        .or(name_op.map(|(op, _)| op))
        .unwrap_or(match kind {
            SpanKind::Producer => MessagingOp::Send,
            SpanKind::Consumer => MessagingOp::Process,
            _ => MessagingOp::Unknown,
        });

    let destination = first(attrs, &keys.destination)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| name_op.map(|(_, d)| d.to_owned()));
    let system = match system {
        Some(s) => interner.intern(s),
        None if celery.is_some() => interner.intern("celery"),
        None => Sym::EMPTY,
    };
    let message_id = first_str(attrs, &keys.message_id);
    let mut partition = first(attrs, &keys.partition).and_then(Value::as_i64);
    let mut offset = first(attrs, &keys.offset).and_then(Value::as_i64);
    // confluent-kafka and aiokafka ids: `<topic>.<partition>.<offset>`.
    if let (Some(id), Some(dest)) = (&message_id, &destination)
        && let Some(rest) = id.strip_prefix(dest.as_str()).and_then(|r| r.strip_prefix('.'))
        && let Some((p, o)) = rest.split_once('.')
        && let (Ok(p), Ok(o)) = (p.parse::<i64>(), o.parse::<i64>())
    {
        partition.get_or_insert(p);
        offset.get_or_insert(o);
    }
    Some(Messaging {
        system,
        destination: destination.map_or(Sym::EMPTY, |d| interner.intern(&d)),
        operation,
        message_id,
        conversation_id: first_str(attrs, &keys.conversation_id),
        consumer_group: first(attrs, &keys.consumer_group)
            .and_then(Value::as_str)
            .map_or(Sym::EMPTY, |g| interner.intern(g)),
        partition,
        offset,
        routing_key: first_str(attrs, &keys.routing_key),
        batch_message_count: find_attr(attrs, keys.batch_count).and_then(Value::as_i64),
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
