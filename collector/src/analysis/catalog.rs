//! The event catalog (`events[]`): one entry per domain event, read from what runs.
//!
//! An event's name is what the producing span names (DESIGN.md §2): `cloudevents.event_type`
//! without its version suffix, else the routing key of a named exchange, else the task or job
//! name, else the destination. For each event: the destinations it goes to, the versions seen,
//! how many were produced and how fast, who produces it in which **command** (the request
//! operation it was emitted in) or which **policy** (the handling of another event, its
//! trigger), who consumes it (per subscription: count, p95 queue time, error share), and the
//! tables the producing operations wrote.
//!
//! Built in full from the linker's producer spans and hops, like the graph and the lag rows:
//! its cost follows the messages held (a walk up each producer's ancestors), not the spans.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::{Ctx, Event, EventConsumer, EventProducer, Text};
use crate::link::percentile;
use crate::link::slot::{SpanSlot, TraceSlot};
use crate::model::{SpanKind, Sym};

/// An event name and its version (empty when the name carries none).
pub(crate) type Named = (&'static str, &'static str);

/// Splits a version suffix off an event type: `com.shop.OrderPlaced.v2` → (`com.shop.
/// OrderPlaced`, `v2`); the suffix is `v` and a number (`v1`, `V2`, `v1.1`) after one of
/// `. : / - _ @`, or a bare number after `@` (`OrderPlaced@2`). Anything else has no version.
pub fn split_version(event: &str) -> (&str, &str) {
    let is_number = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    // The version may itself hold dots (`v1.1`): try every separator from the left.
    for (at, c) in event.char_indices() {
        if !matches!(c, '.' | ':' | '/' | '-' | '_' | '@') || at == 0 {
            continue;
        }
        let rest = &event[at + 1..];
        let numbered = rest.strip_prefix(['v', 'V']).is_some_and(is_number);
        if numbered || (c == '@' && is_number(rest)) {
            return (&event[..at], rest);
        }
    }
    (event, "")
}

/// The event a producer span sends, and its version (CloudEvents types only: a routing key
/// or a topic named `orders.v1` is a name as it stands).
pub(crate) fn event_of(cx: &Ctx<'_>, span: SpanSlot) -> Option<Named> {
    let m = cx.span(span).msg.as_deref()?;
    Some(if m.event == Sym::EMPTY {
        (cx.destination(m.destination), "")
    } else if m.event_is_type {
        split_version(cx.str(m.event))
    } else {
        (cx.str(m.event), "")
    })
}

/// One event a flow produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowEvent {
    /// When it was sent (the producer span's start).
    pub at_unix_nano: u64,
    pub name: Text,
    /// Its version, empty when it has none.
    pub version: Text,
    /// The service that sent it.
    pub service: Text,
    /// The event whose handling sent it (a policy), if any.
    pub trigger: Option<Text>,
}

/// The events produced in the traces `members` (a flow), by send time, then name.
pub(crate) fn flow_events(
    cx: &Ctx<'_>,
    members: &[crate::link::slot::TraceSlot],
) -> Vec<FlowEvent> {
    let linker = cx.linker;
    let mut out = Vec::new();
    for &t in members {
        for &s in &linker.traces[t].spans {
            if !linker.is_producer(s) {
                continue;
            }
            let Some((name, version)) = event_of(cx, s) else { continue };
            let f = cx.span(s);
            out.push(FlowEvent {
                at_unix_nano: f.start,
                name: Text::Borrowed(name),
                version: Text::Borrowed(version),
                service: cx.text(f.service),
                trigger: emitted(cx, s).trigger.map(Text::Borrowed),
            });
        }
    }
    out.sort_by(|a, b| (a.at_unix_nano, &a.name).cmp(&(b.at_unix_nano, &b.name)));
    out
}

/// What a producer was doing when it sent: the command it ran in, and the event it was
/// handling (a policy) if any.
struct Emitted {
    command: Option<&'static str>,
    trigger: Option<&'static str>,
    /// The span of the whole operation: the SERVER span, the consumer span, or the root.
    operation: Option<SpanSlot>,
}

/// Walks up from producer `p`: the first SERVER span names the command; the first consumer
/// span makes it a policy, triggered by the event that consumer handled, its command the
/// outermost span under the consumer (the handler), else the consumer itself; with neither,
/// the trace root is the command.
fn emitted(cx: &Ctx<'_>, p: SpanSlot) -> Emitted {
    let linker = cx.linker;
    let (mut cur, mut below) = (cx.span(p).parent, None);
    let mut last = None;
    for _ in 0..crate::link::MAX_DEPTH {
        let Some(s) = cur else { break };
        let f = cx.span(s);
        if linker.is_consumer(s) {
            let trigger = handled(cx, s);
            let command = below.unwrap_or(s);
            let command = Some(cx.str(cx.span(command).name));
            return Emitted { command, trigger, operation: Some(s) };
        }
        if f.kind == SpanKind::Server {
            return Emitted { command: Some(cx.str(f.name)), trigger: None, operation: Some(s) };
        }
        if f.msg.is_none() {
            below = Some(s);
        }
        last = Some(s);
        cur = f.parent;
    }
    Emitted { command: last.map(|s| cx.str(cx.span(s).name)), trigger: None, operation: last }
}

/// The event consumer span `c` handled: that of a hop into it (or into the consumer span
/// above it: a receive over its process), else the event the span names itself.
fn handled(cx: &Ctx<'_>, c: SpanSlot) -> Option<&'static str> {
    let linker = cx.linker;
    let mut cur = Some(c);
    for _ in 0..crate::link::MAX_DEPTH {
        let Some(s) = cur.filter(|&s| linker.is_consumer(s)) else { break };
        let m = cx.span(s).msg.as_deref()?;
        if let Some(&h) = m.hops.iter().find(|&&h| linker.hops[h].delivery == s) {
            return event_of(cx, linker.hops[h].producer).map(|(name, _)| name);
        }
        cur = cx.span(s).parent;
    }
    event_of(cx, c).map(|(name, _)| name)
}

/// An entry being gathered: keyed by (name, system).
#[derive(Default)]
struct Gathered {
    destinations: Vec<&'static str>,
    versions: Vec<&'static str>,
    count: u64,
    /// (service, command, trigger) → count.
    producers: BTreeMap<(&'static str, Option<&'static str>, Option<&'static str>), u64>,
    /// (service, subscription) → queue times and errors.
    consumers: BTreeMap<(&'static str, &'static str), (Vec<u64>, u64)>,
    tables: Vec<String>,
}

/// The tables written under `operation` (the span itself or its descendants, not through a
/// consumer span: a consumer's handling is its own operation), from the writes of its trace.
fn tables_under(
    cx: &Ctx<'_>,
    operation: SpanSlot,
    writes: &[(SpanSlot, &str)],
    out: &mut Vec<String>,
) {
    for &(w, table) in writes {
        let mut cur = Some(w);
        for _ in 0..crate::link::MAX_DEPTH {
            let Some(s) = cur else { break };
            if s == operation {
                if !out.iter().any(|t| t == table) {
                    out.push(table.to_owned());
                }
                break;
            }
            if cx.linker.is_consumer(s) {
                break;
            }
            cur = cx.span(s).parent;
        }
    }
}

/// The `events[]` of the analysis, by name then system.
pub(crate) fn build(cx: &Ctx<'_>) -> Vec<Event> {
    let linker = cx.linker;
    let mut by: BTreeMap<(&'static str, &'static str), Gathered> = BTreeMap::new();
    let mut first_start = u64::MAX;
    let mut writes: FxHashMap<TraceSlot, Vec<(SpanSlot, &str)>> = FxHashMap::default();
    for (s, table) in linker.table_writes() {
        writes.entry(cx.span(s).trace).or_default().push((s, table));
    }
    for (key, dest) in &linker.agg.dests {
        let system = cx.system(key.system);
        let destination = cx.destination(key.destination);
        for &p in &dest.producers {
            let Some((name, version)) = event_of(cx, p) else { continue };
            first_start = first_start.min(cx.span(p).start);
            let g = by.entry((name, system)).or_default();
            g.count += 1;
            if !g.destinations.contains(&destination) {
                g.destinations.push(destination);
            }
            if !version.is_empty() && !g.versions.contains(&version) {
                g.versions.push(version);
            }
            let e = emitted(cx, p);
            if let (Some(op), Some(w)) = (e.operation, writes.get(&cx.span(p).trace)) {
                tables_under(cx, op, w, &mut g.tables);
            }
            *g.producers.entry((cx.str(cx.span(p).service), e.command, e.trigger)).or_default() +=
                1;
        }
    }
    for h in linker.hop_slots() {
        let hop = &linker.hops[h];
        let Some((name, _)) = event_of(cx, hop.producer) else { continue };
        let Some(g) = by.get_mut(&(name, cx.system(hop.dest.system))) else { continue };
        let service = cx.str(cx.span(hop.delivery).service);
        let sub = cx.str(linker.agg.subs[hop.sub].key.group);
        let c = g.consumers.entry((service, sub)).or_default();
        c.0.push(hop.queue);
        c.1 += u64::from(hop.consumer_error);
    }
    let secs = (cx.opts.now_unix_nano.saturating_sub(first_start) as f64 / 1e9).max(1.0);
    by.into_iter()
        .map(|((name, system), mut g)| {
            g.destinations.sort_unstable();
            g.tables.sort_unstable();
            g.versions.sort_by_key(|v| version_order(v));
            Event {
                name: name.to_owned(),
                system: system.to_owned(),
                destinations: g.destinations.into_iter().map(str::to_owned).collect(),
                versions: g.versions.into_iter().map(str::to_owned).collect(),
                count: g.count,
                rate_per_s: g.count as f64 / secs,
                producers: g
                    .producers
                    .into_iter()
                    .map(|((service, command, trigger), count)| EventProducer {
                        service: service.to_owned(),
                        command: command.map(str::to_owned),
                        trigger: trigger.map(str::to_owned),
                        count,
                    })
                    .collect(),
                consumers: g
                    .consumers
                    .into_iter()
                    .map(|((service, subscription), (mut queue, errors))| {
                        queue.sort_unstable();
                        let count = queue.len() as u64;
                        EventConsumer {
                            service: service.to_owned(),
                            subscription: subscription.to_owned(),
                            count,
                            queue_p95_ns: percentile(&queue, 95),
                            error_share: errors as f64 / count.max(1) as f64,
                        }
                    })
                    .collect(),
                tables: g.tables,
            }
        })
        .collect()
}

/// The policies event `name` triggers: every producer, of any event in `events`, that emits
/// while handling `name`, with the event it emits.
pub fn triggered_by<'a>(
    events: &'a [Event],
    name: &'a str,
) -> impl Iterator<Item = (&'a Event, &'a EventProducer)> + 'a {
    events.iter().flat_map(move |e| {
        e.producers.iter().filter(move |p| p.trigger.as_deref() == Some(name)).map(move |p| (e, p))
    })
}

/// Orders versions by their numbers (`v2` before `v10`), then as text.
fn version_order(v: &str) -> (Vec<u64>, String) {
    let digits = v.trim_start_matches(['v', 'V']);
    (digits.split('.').map(|p| p.parse().unwrap_or(u64::MAX)).collect(), v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_split_off_event_types() {
        assert_eq!(split_version("OrderPlaced.v2"), ("OrderPlaced", "v2"));
        assert_eq!(split_version("com.shop.order.placed.v1"), ("com.shop.order.placed", "v1"));
        assert_eq!(split_version("com.shop.OrderPlaced.V1.1"), ("com.shop.OrderPlaced", "V1.1"));
        assert_eq!(split_version("OrderPlaced@3"), ("OrderPlaced", "3"));
        assert_eq!(split_version("OrderPlaced:v10"), ("OrderPlaced", "v10"));
        assert_eq!(split_version("user.signed_up"), ("user.signed_up", ""));
        assert_eq!(split_version("orders.v1x"), ("orders.v1x", ""));
        assert_eq!(split_version("v2"), ("v2", ""));
        assert_eq!(split_version("com.vendor.event"), ("com.vendor.event", ""));
    }

    #[test]
    fn versions_sort_by_number() {
        let mut v = vec!["v10", "v2", "v1.1", "v1"];
        v.sort_by_key(|v| version_order(v));
        assert_eq!(v, ["v1", "v1.1", "v2", "v10"]);
    }
}
