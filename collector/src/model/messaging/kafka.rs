//! Kafka: the destination is the topic; (topic, partition, offset) locates a message; the
//! subscription is the consumer group.
//!
//! Read from the Java agent (`<topic> publish|receive|process`, new `send|poll|process
//! <topic>`), spring-kafka, kafkajs (old: the span name is the topic), Confluent.Kafka
//! (`poll <topic>` CLIENT spans), franz-go kotel (consumer topic in `messaging.source.name`,
//! partition in `messaging.kafka.source.partition`) and sarama (the offset as message id).

use super::Draft;

/// Kafka rules beyond the generic ones: kotel's and sarama's spellings are already read by
/// the key lists; nothing else to refine today but the name-only topic of old kafkajs.
pub(super) fn refine(d: &mut Draft<'_>) {
    if d.destination.is_none() && !d.name.contains(' ') && !d.name.is_empty() {
        // kafkajs < 0.9: the span name is the topic.
        d.destination = Some(d.name.to_owned());
    }
}

/// Partition and offset from message ids that encode them: confluent-kafka's and
/// aiokafka's `<topic>.<partition>.<offset>`, and sarama's offset-as-id (with a partition).
pub(super) fn offset_from_id(d: &mut Draft<'_>) {
    let (Some(id), Some(dest)) = (&d.message_id, &d.destination) else {
        return;
    };
    if let Some(rest) = id.strip_prefix(dest.as_str()).and_then(|r| r.strip_prefix('.'))
        && let Some((p, o)) = rest.split_once('.')
        && let (Ok(p), Ok(o)) = (p.parse::<i64>(), o.parse::<i64>())
    {
        d.partition.get_or_insert(p);
        d.offset.get_or_insert(o);
    } else if d.system == Some("kafka")
        && d.partition.is_some()
        && d.offset.is_none()
        && let Ok(o) = id.parse::<i64>()
    {
        d.offset = Some(o);
    }
}
