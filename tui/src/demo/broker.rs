//! The simulated message brokers: a Kafka cluster (topics with partitions, offsets assigned
//! per partition, optional message ids) and a RabbitMQ broker (exchanges and queues,
//! message ids, routing keys, correlation ids). A [`Message`] carries the headers its
//! producer wrote (W3C `traceparent` and `baggage`), and the attributes each side records
//! follow the current messaging semantic conventions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use opentelemetry::{KeyValue, Value};

use super::shop::Headers;

/// A messaging system, as `messaging.system` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum System {
    Kafka,
    RabbitMq,
}

impl System {
    pub fn as_str(self) -> &'static str {
        match self {
            System::Kafka => "kafka",
            System::RabbitMq => "rabbitmq",
        }
    }

    /// `messaging.operation.name` of a send: Kafka sends, RabbitMQ publishes.
    pub fn send_operation(self) -> &'static str {
        match self {
            System::Kafka => "send",
            System::RabbitMq => "publish",
        }
    }
}

/// Where messages go: a Kafka topic or a RabbitMQ exchange/queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Destination {
    pub system: System,
    pub name: &'static str,
    /// Kafka partitions (0 for RabbitMQ).
    partitions: u32,
}

impl Destination {
    const fn kafka(name: &'static str, partitions: u32) -> Self {
        Self { system: System::Kafka, name, partitions }
    }

    const fn rabbitmq(name: &'static str) -> Self {
        Self { system: System::RabbitMq, name, partitions: 0 }
    }
}

/// `OrderPlaced` events; consumed by payments, inventory, notifications, analytics (twice:
/// a live consumer and a batch loader) and loyalty.
pub const ORDERS_PLACED: Destination = Destination::kafka("orders.placed", 6);
/// Points awarded by loyalty, a topic exchange (routing key `awarded`);
/// notifications tells the customer, from its queue [`NOTIFICATIONS_POINTS_QUEUE`].
pub const LOYALTY_POINTS: Destination = Destination::rabbitmq("loyalty.points");
/// Notifications' queue bound to `awarded` on [`LOYALTY_POINTS`].
pub const NOTIFICATIONS_POINTS_QUEUE: &str = "notifications.points";
/// The dead-letter exchange of that queue: messages notifications rejects go there, and on
/// to its parking queue [`NOTIFICATIONS_PARKING_QUEUE`].
pub const LOYALTY_DLX: Destination = Destination::rabbitmq("loyalty.dlx");
pub const NOTIFICATIONS_PARKING_QUEUE: &str = "notifications.points.dlq";
/// A copy of every large order for compliance; nothing consumes it.
pub const AUDIT: Destination = Destination::rabbitmq("audit");
/// Invoice requests (orders → payments) and their replies, awaited inside an HTTP request.
pub const INVOICE_REQUESTS: Destination = Destination::rabbitmq("invoice.requests");
pub const INVOICE_REPLIES: Destination = Destination::rabbitmq("orders.invoice-replies");
/// Commands of the order saga, and the orchestrator's reply queue.
pub const INVENTORY_COMMANDS: Destination = Destination::rabbitmq("inventory.commands");
pub const PAYMENTS_COMMANDS: Destination = Destination::rabbitmq("payments.commands");
pub const SHIPPING_COMMANDS: Destination = Destination::rabbitmq("shipping.commands");
pub const SAGA_REPLIES: Destination = Destination::rabbitmq("orders.saga-replies");
/// Tracking's clickstream: many tiny events per page view, analytics counts them.
pub const TRACKING_EVENTS: Destination = Destination::kafka("tracking.events", 3);
/// Shipping's `ShipmentDispatched` events, rolled out as v2 while v1 is still sent.
pub const SHIPMENT_EVENTS: Destination = Destination::kafka("shipments", 3);
/// Commands of the return process, and its orchestrator's reply queue.
pub const LOYALTY_COMMANDS: Destination = Destination::rabbitmq("loyalty.commands");
pub const NOTIFICATIONS_COMMANDS: Destination = Destination::rabbitmq("notifications.commands");
pub const RETURN_REPLIES: Destination = Destination::rabbitmq("orders.return-replies");

/// What a producer asks of the broker, beyond the destination.
#[derive(Debug, Clone, Default)]
pub struct Publish {
    /// Kafka message key (chooses the partition); the order id.
    pub key: Option<String>,
    /// Whether the producer stamps a message id (RabbitMQ always does; Kafka clients often
    /// do not).
    pub with_id: bool,
    /// RabbitMQ routing key.
    pub routing_key: Option<String>,
    /// Correlation id (`messaging.message.conversation_id`).
    pub conversation_id: Option<String>,
}

/// A message the broker accepted, with the headers its producer wrote.
#[derive(Debug, Clone)]
pub struct Message {
    pub destination: Destination,
    pub id: Option<String>,
    key: Option<String>,
    partition: Option<u32>,
    offset: Option<i64>,
    routing_key: Option<String>,
    conversation_id: Option<String>,
    /// Trace context and baggage of the producer span.
    pub headers: Headers,
    /// Set when the broker dead-lettered the message: (queue it died in, reason), as
    /// RabbitMQ's `x-first-death-queue` / `x-first-death-reason` headers say.
    death: Option<(&'static str, &'static str)>,
}

impl Message {
    /// The correlation id the producer set, if any.
    pub fn conversation_id(&self) -> Option<&str> {
        self.conversation_id.as_deref()
    }

    /// Attributes of the PRODUCER span.
    pub fn producer_attributes(&self) -> Vec<KeyValue> {
        let mut attrs = self.common_attributes();
        attrs.push(KeyValue::new("messaging.operation.type", "send"));
        attrs.push(KeyValue::new(
            "messaging.operation.name",
            self.destination.system.send_operation(),
        ));
        attrs
    }

    /// Attributes of a CONSUMER span (`group`: the Kafka consumer group, or the RabbitMQ
    /// queue, `messaging.destination.subscription.name`). A dead letter carries the death
    /// headers as the Java agent captures them (`messaging.header.*`, string arrays).
    pub fn consumer_attributes(&self, group: Option<&'static str>) -> Vec<KeyValue> {
        let mut attrs = self.common_attributes();
        attrs.push(KeyValue::new("messaging.operation.type", "process"));
        attrs.push(KeyValue::new("messaging.operation.name", "process"));
        if let Some(group) = group {
            let key = match self.destination.system {
                System::Kafka => "messaging.consumer.group.name",
                System::RabbitMq => "messaging.destination.subscription.name",
            };
            attrs.push(KeyValue::new(key, group));
        }
        if let Some((queue, reason)) = self.death {
            let list =
                |s: &'static str| Value::Array(vec![opentelemetry::StringValue::from(s)].into());
            attrs.push(KeyValue::new("messaging.header.x_first_death_queue", list(queue)));
            attrs.push(KeyValue::new("messaging.header.x_first_death_reason", list(reason)));
        }
        attrs
    }

    /// Attributes on a consumer's link to this message's producer.
    pub fn link_attributes(&self) -> Vec<KeyValue> {
        let mut attrs = Vec::new();
        if let Some(id) = &self.id {
            attrs.push(KeyValue::new("messaging.message.id", id.clone()));
        }
        if let (Some(p), Some(o)) = (self.partition, self.offset) {
            attrs.push(KeyValue::new("messaging.destination.partition.id", p.to_string()));
            attrs.push(KeyValue::new("messaging.kafka.offset", o));
        }
        attrs
    }

    /// Attributes of a CONSUMER span that processes `count` messages of `destination` at
    /// once (per-message ids and offsets are on its links).
    pub fn batch_attributes(
        destination: Destination,
        group: &'static str,
        count: usize,
    ) -> Vec<KeyValue> {
        vec![
            KeyValue::new("messaging.system", destination.system.as_str()),
            KeyValue::new("messaging.destination.name", destination.name),
            KeyValue::new("messaging.operation.type", "process"),
            KeyValue::new("messaging.operation.name", "process"),
            KeyValue::new("messaging.consumer.group.name", group),
            KeyValue::new("messaging.batch.message_count", count as i64),
        ]
    }

    fn common_attributes(&self) -> Vec<KeyValue> {
        let d = self.destination;
        let mut attrs = vec![
            KeyValue::new("messaging.system", d.system.as_str()),
            KeyValue::new("messaging.destination.name", d.name),
        ];
        let broker = match d.system {
            System::Kafka => ("kafka-1.shop.internal", 9092_i64),
            System::RabbitMq => ("rabbitmq.shop.internal", 5672),
        };
        attrs.push(KeyValue::new("server.address", broker.0));
        attrs.push(KeyValue::new("server.port", broker.1));
        let mut push = |key: &'static str, value: Option<Value>| {
            if let Some(value) = value {
                attrs.push(KeyValue::new(key, value));
            }
        };
        push("messaging.message.id", self.id.clone().map(Value::from));
        push(
            "messaging.kafka.message.key",
            self.key.clone().filter(|_| d.partitions > 0).map(Value::from),
        );
        push(
            "messaging.destination.partition.id",
            self.partition.map(|p| Value::from(p.to_string())),
        );
        push("messaging.kafka.offset", self.offset.map(Value::from));
        push(
            "messaging.rabbitmq.destination.routing_key",
            self.routing_key.clone().map(Value::from),
        );
        push("messaging.message.conversation_id", self.conversation_id.clone().map(Value::from));
        attrs
    }
}

/// The brokers' state: Kafka offsets per partition, message ids, and the batch loader's
/// inbox of `OrderPlaced` events not yet loaded.
#[derive(Debug)]
pub struct Broker {
    run_id: u64,
    next_id: AtomicU64,
    /// First offset of every partition: grows with the wall clock, so two demo runs
    /// against one collector never reuse a (topic, partition, offset).
    base_offset: i64,
    offsets: Mutex<HashMap<(&'static str, u32), i64>>,
    batch_inbox: Mutex<Vec<(Message, SystemTime)>>,
}

impl Broker {
    pub fn new(run_id: u64, now: SystemTime) -> Self {
        let centis =
            now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() / 10;
        Self {
            run_id,
            next_id: AtomicU64::new(1),
            base_offset: i64::try_from(centis % 100_000_000_000).unwrap_or(0),
            offsets: Mutex::new(HashMap::new()),
            batch_inbox: Mutex::new(Vec::new()),
        }
    }

    /// Accepts a message for `destination`: Kafka assigns a partition (by key) and the
    /// partition's next offset; RabbitMQ messages always get an id.
    pub fn accept(&self, destination: Destination, publish: Publish) -> Message {
        let (partition, offset) = if destination.partitions > 0 {
            let partition = publish.key.as_deref().map_or(0, |k| fnv1a(k) % destination.partitions);
            let mut offsets = self.offsets.lock().unwrap_or_else(PoisonError::into_inner);
            let next = offsets.entry((destination.name, partition)).or_insert(self.base_offset);
            let offset = *next;
            *next += 1;
            (Some(partition), Some(offset))
        } else {
            (None, None)
        };
        let with_id = publish.with_id || destination.system == System::RabbitMq;
        Message {
            destination,
            id: with_id.then(|| self.message_id()),
            key: publish.key,
            partition,
            offset,
            routing_key: publish.routing_key,
            conversation_id: publish.conversation_id,
            headers: Headers::new(),
            death: None,
        }
    }

    /// What RabbitMQ does with `message` when `queue` rejects it without requeue: republish
    /// it to the queue's dead-letter exchange `dlx`, same routing key, all headers kept (so
    /// its consumer continues the original producer's trace), plus the death headers.
    pub fn dead_letter(&self, message: &Message, dlx: Destination, queue: &'static str) -> Message {
        Message {
            destination: dlx,
            id: Some(self.message_id()),
            death: Some((queue, "rejected")),
            ..message.clone()
        }
    }

    /// A fresh message id, UUID-shaped, unique to this run.
    fn message_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let a = mix(self.run_id ^ n);
        let b = mix(a ^ n.rotate_left(17));
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    /// Hands an `OrderPlaced` event, produced at `at`, to the batch loader.
    pub fn queue_for_batch(&self, message: Message, at: SystemTime) {
        self.batch_inbox.lock().unwrap_or_else(PoisonError::into_inner).push((message, at));
    }

    /// Takes every event waiting for the batch loader.
    pub fn take_batch(&self) -> Vec<(Message, SystemTime)> {
        std::mem::take(&mut *self.batch_inbox.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// FNV-1a: Kafka-like stable partitioning by key.
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// A 64-bit finaliser (SplitMix64's), to make ids look random.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
        attrs.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
    }

    #[test]
    fn kafka_assigns_partitions_by_key_and_offsets_in_order() {
        let broker = Broker::new(7, SystemTime::UNIX_EPOCH);
        let publish = |key: &str, with_id| Publish {
            key: Some(key.to_owned()),
            with_id,
            ..Publish::default()
        };
        let a = broker.accept(ORDERS_PLACED, publish("ord-1", false));
        let b = broker.accept(ORDERS_PLACED, publish("ord-1", true));
        assert_eq!(a.partition, b.partition);
        assert_eq!(b.offset, a.offset.map(|o| o + 1));
        assert!(a.id.is_none() && b.id.is_some());
        let attrs = b.consumer_attributes(Some("loyalty"));
        assert_eq!(attr(&attrs, "messaging.system"), Some(&Value::from("kafka")));
        assert_eq!(attr(&attrs, "messaging.consumer.group.name"), Some(&Value::from("loyalty")));
        assert_eq!(attr(&attrs, "messaging.operation.type"), Some(&Value::from("process")));
        assert!(attr(&attrs, "messaging.kafka.offset").is_some());
        assert!(attr(&attrs, "messaging.destination.partition.id").is_some());
    }

    #[test]
    fn rabbitmq_messages_always_have_unique_ids() {
        let broker = Broker::new(7, SystemTime::UNIX_EPOCH);
        let a = broker.accept(AUDIT, Publish::default());
        let b = broker.accept(AUDIT, Publish::default());
        let (a, b) = (a.id.unwrap(), b.id.unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36, "{a}");
        assert!(
            attr(
                &broker.accept(AUDIT, Publish::default()).producer_attributes(),
                "messaging.kafka.offset"
            )
            .is_none()
        );
    }
}
