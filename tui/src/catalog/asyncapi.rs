//! The catalog as an AsyncAPI 3.0 document (JSON, which AsyncAPI accepts as well as YAML):
//! a channel per destination (its address the destination as hopscope names it), one message
//! per event (its versions as tags and in `x-hopscope-versions`), and per service an operation
//! `send` for each channel it emits to and `receive` for each it consumes from. What was seen
//! is in the descriptions: counts, rates, commands, policies, queue times.
//!
//! Component and channel keys keep to `[A-Za-z0-9._-]` (the spec's pattern for component
//! keys); an address never holds `{` or `}` (those would be channel parameters).

use std::collections::BTreeMap;

use hopscope_collector::analysis::Event;
use serde_json::{Map, Value, json};

use crate::app::fmt;

/// The AsyncAPI version written.
pub const VERSION: &str = "3.0.0";

/// `s` as a key: characters outside `[A-Za-z0-9._-]` become `_`.
fn key(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect()
}

/// Unique keys for distinct names: a second name with the same key gets `_2`, and so on.
#[derive(Default)]
struct Keys {
    by_name: BTreeMap<String, String>,
    taken: BTreeMap<String, u32>,
}

impl Keys {
    fn of(&mut self, name: &str) -> String {
        if let Some(k) = self.by_name.get(name) {
            return k.clone();
        }
        let base = key(name);
        let n = self.taken.entry(base.clone()).or_insert(0);
        *n += 1;
        let k = if *n == 1 { base } else { format!("{base}_{n}") };
        self.by_name.insert(name.to_owned(), k.clone());
        k
    }
}

/// A channel being gathered: its address and the messages on it.
struct Channel {
    address: String,
    system: String,
    messages: Vec<String>,
}

/// The AsyncAPI document of `events`.
pub fn document(events: &[Event]) -> Value {
    let mut channel_keys = Keys::default();
    let mut message_keys = Keys::default();
    let mut channels: BTreeMap<String, Channel> = BTreeMap::new();
    let mut messages = Map::new();
    // (service, action, channel) → messages.
    let mut operations: BTreeMap<(String, &str, String), Vec<String>> = BTreeMap::new();
    for e in events {
        let message = message_keys.of(&format!("{}\u{0}{}", e.system, e.name));
        messages.insert(message.clone(), message_object(e));
        for d in &e.destinations {
            let channel = channel_keys.of(&format!("{}:{d}", e.system));
            let ch = channels.entry(channel.clone()).or_insert_with(|| Channel {
                address: d.replace(['{', '}'], ""),
                system: e.system.clone(),
                messages: Vec::new(),
            });
            if !ch.messages.contains(&message) {
                ch.messages.push(message.clone());
            }
            for p in &e.producers {
                operations
                    .entry((p.service.clone(), "send", channel.clone()))
                    .or_default()
                    .push(message.clone());
            }
            for c in &e.consumers {
                operations
                    .entry((c.service.clone(), "receive", channel.clone()))
                    .or_default()
                    .push(message.clone());
            }
        }
    }
    let channels_json: Map<String, Value> = channels
        .iter()
        .map(|(k, ch)| {
            let refs: Map<String, Value> = ch
                .messages
                .iter()
                .map(|m| (m.clone(), json!({ "$ref": format!("#/components/messages/{m}") })))
                .collect();
            let value = json!({
                "address": ch.address,
                "title": format!("{} {}", ch.system, ch.address),
                "description": format!("The {} destination `{}`.", ch.system, ch.address),
                "messages": refs,
            });
            (k.clone(), value)
        })
        .collect();
    let mut operation_keys = Keys::default();
    let operations_json: Map<String, Value> = operations
        .into_iter()
        .map(|((service, action, channel), mut msgs)| {
            msgs.sort();
            msgs.dedup();
            let id = operation_keys.of(&format!("{service}.{action}.{channel}"));
            let refs: Vec<Value> = msgs
                .iter()
                .map(|m| json!({ "$ref": format!("#/channels/{channel}/messages/{m}") }))
                .collect();
            let verb = if action == "send" { "sends to" } else { "receives from" };
            let value = json!({
                "action": action,
                "channel": { "$ref": format!("#/channels/{channel}") },
                "summary": format!("{service} {verb} {}", channels[&channel].address),
                "messages": refs,
                "x-hopscope-service": service,
            });
            (id, value)
        })
        .collect();
    json!({
        "asyncapi": VERSION,
        "info": {
            "title": "Event catalog",
            "version": "observed",
            "description": "The events hopscope saw in live traces: every channel, message and operation here ran.",
        },
        "channels": channels_json,
        "operations": operations_json,
        "components": { "messages": messages },
    })
}

/// An event's message: its name, what was seen of it, its versions.
fn message_object(e: &Event) -> Value {
    let mut lines = vec![format!("{} messages ({}).", e.count, fmt::rate(e.rate_per_s))];
    for p in &e.producers {
        let command = p.command.as_deref().unwrap_or("a trace root");
        lines.push(match &p.trigger {
            Some(t) => {
                format!("Emitted by {} in `{command}`, a policy on `{t}` ({}).", p.service, p.count)
            }
            None => format!("Emitted by {} in the command `{command}` ({}).", p.service, p.count),
        });
    }
    for c in &e.consumers {
        lines.push(format!(
            "Consumed by {} through `{}` ({}, queue p95 {}, {} errors).",
            c.service,
            c.subscription,
            c.count,
            fmt::dur(c.queue_p95_ns),
            fmt::percent(c.error_share)
        ));
    }
    let mut m = json!({
        "name": e.name,
        "title": e.name,
        "summary": format!("{} event {}", e.system, e.name),
        "description": lines.join("\n"),
    });
    if !e.versions.is_empty() {
        m["tags"] = e.versions.iter().map(|v| json!({ "name": format!("version:{v}") })).collect();
        m["x-hopscope-versions"] = json!(e.versions);
    }
    m
}
