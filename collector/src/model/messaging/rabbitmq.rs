//! RabbitMQ / AMQP 0.9.1: an event is (exchange, routing key); a subscription is a queue.
//!
//! What the instrumentations write (see the fixtures in `tests/messaging_conventions.rs`):
//!
//! | library | producer | consumer |
//! |---|---|---|
//! | amqplib (Node) | `publish <exchange>` (≤0.40: `<exchange> -> <rk> send`), `messaging.destination` = exchange (`""` default) | `<queue> process`, `messaging.destination` = exchange |
//! | pika | `<exchange or rk> send` | `<exchange or rk> receive` (no queue) |
//! | aio-pika | `<exchange>,<rk> send`, `messaging.destination` = `"<exchange>,<rk>"` | `<exchange or rk> receive` |
//! | Java agent | `<exchange> publish` (`<default>`), new: `publish <ex>:<rk>` | `<queue> process`, new: `process <ex>:<rk>:<queue>` |
//!
//! The destination becomes `<exchange>:<routing key>` (the current semantic convention's
//! spelling), the routing key alone on the default exchange, the exchange alone when there
//! is no routing key. The queue, when the span says it, is the subscription.

use super::{Draft, MessagingOp};

/// Names the Java agent and amqplib give the default exchange.
fn is_default_exchange(s: &str) -> bool {
    matches!(s, "" | "<default>" | "amq.default")
}

/// Queue names that are no queue (server-named, or the default placeholder).
fn is_placeholder(s: &str) -> bool {
    matches!(s, "<default>" | "<generated>" | "(temporary)" | "")
        || s.starts_with("amq.gen-")
        || s.starts_with("spring.gen-")
}

/// Refines `d` (a RabbitMQ span) to the (exchange, routing key) model.
pub(super) fn refine(d: &mut Draft<'_>) {
    let raw = d.destination.take().unwrap_or_default();
    let mut rk: Option<String> = d.routing_key.as_deref().map(str::to_owned);
    let mut queue: Option<String> = None;
    // aio-pika: `"<exchange>,<routing key>"`.
    let mut exchange = match raw.split_once(',') {
        Some((ex, key)) if rk.is_none() => {
            rk = Some(key.to_owned());
            ex.to_owned()
        }
        _ => raw.clone(),
    };
    // The Java agent's 3.0-preview composite: `<ex>:<rk>[:<queue>]`.
    if let Some(key) = rk.as_deref().filter(|k| !k.is_empty())
        && exchange.contains(':')
    {
        if let Some(at) = exchange.find(&format!(":{key}:")) {
            queue = Some(exchange[at + key.len() + 2..].to_owned());
            exchange.truncate(at);
        } else if let Some(len) = exchange.strip_suffix(&format!(":{key}")).map(str::len) {
            exchange.truncate(len);
        }
    }
    if is_default_exchange(&exchange) {
        exchange.clear();
    }
    let op = d.operation();
    // `<queue> process` / `<queue> receive` names the queue when the span speaks of the
    // exchange (a routing key, or the default exchange): amqplib, the Java agent. Not when
    // the name only repeats the exchange (pika), nor MassTransit's (its destination is the
    // queue, its process spans may be named after a state machine).
    if op.is_consumer()
        && queue.is_none()
        && (rk.is_some() || exchange.is_empty())
        && let Some(q) = d
            .name_destination
            .filter(|q| !is_placeholder(q) && *q != raw && *q != exchange && !q.contains(':'))
    {
        queue = Some(q.to_owned());
    }
    if d.group.is_none() {
        d.group = queue.clone().filter(|q| !is_placeholder(q));
    }
    let rk = rk.filter(|k| !k.is_empty());
    // On a named (topic, direct) exchange the routing key names the event; on the default
    // exchange it only names a queue.
    if !exchange.is_empty() {
        d.event.clone_from(&rk);
    }
    d.destination = match (exchange.is_empty(), rk) {
        (false, Some(key)) if key != exchange => Some(format!("{exchange}:{key}")),
        (false, _) => Some(exchange),
        (true, Some(key)) => Some(key),
        // Default exchange, no routing key: the queue, or the name's destination.
        (true, None) => {
            queue.or_else(|| d.name_destination.filter(|n| !is_placeholder(n)).map(str::to_owned))
        }
    };
    if op == MessagingOp::Unknown && d.name.contains(" -> ") && d.name.ends_with(" send") {
        // amqplib ≤0.40: `<exchange> -> <routing key> send`.
        d.attr_op = Some(MessagingOp::Send);
    }
}
