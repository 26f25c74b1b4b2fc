//! Dead letters: a consumer reading a dead-letter destination, and what the broker recorded.
//!
//! A message is dead-lettered when its queue gives up on it (rejected without requeue,
//! expired, over a length or delivery limit) and the broker republishes it elsewhere: a
//! RabbitMQ dead-letter exchange (headers `x-first-death-queue`, `x-first-death-reason`,
//! captured by the Java agent as `messaging.header.x_first_death_*`), a Kafka `.DLT` topic
//! (spring-kafka), an SQS redrive queue, a Service Bus `$DeadLetterQueue`. The republished
//! message keeps its trace context, so its consumer is found as a hop from the original
//! producer; the linker then counts the death against the original subscription.

use super::super::span::find_attr;
use super::{DeadLetter, Draft, Keys, first, text_of};

/// Whether a destination or queue name reads as a dead-letter one: `.dlq`, `-dlq`, `_dlq`,
/// `.dlx`, `.DLT`, `-dead-letter(s)`, `deadletter`, `dlq.` / `dlx.` prefixes, Service Bus
/// `$DeadLetterQueue`.
pub fn is_dead_letter_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let suffix = [".dlq", "-dlq", "_dlq", ".dlx", "-dlx", "_dlx", ".dlt", "-dlt", "_dlt"]
        .iter()
        .any(|s| lower.ends_with(s));
    suffix
        || lower.starts_with("dlq.")
        || lower.starts_with("dlx.")
        || lower.contains("dead-letter")
        || lower.contains("dead_letter")
        || lower.contains("deadletter")
}

/// What a consumer span says of a dead letter, or `None` when it reads an ordinary
/// destination.
pub(super) fn detect(d: &Draft<'_>, keys: &Keys) -> Option<DeadLetter> {
    let header = |ks: &[crate::model::Sym]| {
        ks.iter().find_map(|k| find_attr(d.attrs, *k)).and_then(text_of).map(Into::into)
    };
    let queue: Option<Box<str>> = header(&keys.death_queue);
    let reason: Option<Box<str>> = header(&keys.death_reason);
    if queue.is_some() || reason.is_some() {
        return Some(DeadLetter { queue, reason });
    }
    let raw = first(d.attrs, &keys.destination).and_then(text_of);
    let named = [raw, d.destination.as_deref(), d.group.as_deref(), d.name_destination]
        .into_iter()
        .flatten()
        .any(|n| is_dead_letter_name(n.split(':').next().unwrap_or(n)) || is_dead_letter_name(n));
    named.then(DeadLetter::default)
}
