//! `architecture[]`: one row per root operation (the service and span name that root flows),
//! with its style, what the caller waited against how long the system took to settle, and
//! the decision guide applied to what was measured. O(flows).
//!
//! Advice, in order (each that applies, joined):
//! - a read (`GET`/`HEAD`, or a name starting with get/list/find/read/query) served through
//!   async hops is latency-sensitive: call the owner directly, or keep a local read model;
//! - side effects run synchronously in the caller's path (a write making two or more calls
//!   per flow, or a synchronous fan-out): emit one event and let the owners react;
//! - a write whose settle p95 is [`LONG_SETTLE_NS`] or more should tell its caller so:
//!   answer "PENDING" with a status URL, or push the outcome.

use std::collections::BTreeMap;

use super::antipatterns::FANOUT_SERVICES;
use super::shape::FlowShape;
use super::{ArchitectureRow, Ctx, Flow, FlowStyle, Text};
use crate::link::percentile;

/// A settle window from which the caller should be told the answer is not final yet.
pub const LONG_SETTLE_NS: u64 = 1_000_000_000;

#[derive(Default)]
struct Acc<'a> {
    flows: u64,
    styles: [u64; 4],
    waits: Vec<u64>,
    settles: Vec<u64>,
    services: Vec<&'a str>,
    events: u64,
    calls: u64,
    tables: Vec<&'a str>,
    fanout: bool,
}

fn style_index(s: FlowStyle) -> usize {
    match s {
        FlowStyle::Sync => 0,
        FlowStyle::Choreography => 1,
        FlowStyle::Orchestration => 2,
        FlowStyle::Hybrid => 3,
    }
}

const STYLES: [FlowStyle; 4] =
    [FlowStyle::Sync, FlowStyle::Choreography, FlowStyle::Orchestration, FlowStyle::Hybrid];

/// The rows of `flows` (with their shapes), by service then operation.
pub(crate) fn rows(cx: &Ctx<'_>, flows: &[(&Flow, &FlowShape)]) -> Vec<ArchitectureRow> {
    let _ = cx;
    let mut by: BTreeMap<(&str, &str), Acc<'_>> = BTreeMap::new();
    for (flow, shape) in flows {
        let a = by.entry((&flow.root.service, &flow.root.name)).or_default();
        a.flows += 1;
        a.styles[style_index(flow.style)] += 1;
        a.waits.push(flow.root_duration_ns);
        a.settles.push(flow.settled_after_ns);
        a.services.extend(flow.services.iter().map(|s| &**s));
        a.events += shape.events;
        a.calls += shape.sync_calls;
        a.tables.extend(shape.tables.iter().map(|(t, _)| &**t));
        a.fanout |= shape.fanouts.iter().any(|f| f.callees.len() >= FANOUT_SERVICES);
    }
    by.into_iter()
        .map(|((service, operation), mut a)| {
            a.waits.sort_unstable();
            a.settles.sort_unstable();
            a.services.sort_unstable();
            a.services.dedup();
            a.tables.sort_unstable();
            a.tables.dedup();
            // The most frequent style; ties go to the more coupled (later) one.
            let style =
                (0..4).max_by_key(|&i| (a.styles[i], i)).map_or(FlowStyle::Sync, |i| STYLES[i]);
            let n = a.flows as f64;
            let mut row = ArchitectureRow {
                service: Text::Owned(service.to_owned()),
                operation: Text::Owned(operation.to_owned()),
                flows: a.flows,
                style,
                caller_wait_p50_ns: percentile(&a.waits, 50),
                caller_wait_p95_ns: percentile(&a.waits, 95),
                settle_p50_ns: percentile(&a.settles, 50),
                settle_p95_ns: percentile(&a.settles, 95),
                services: a.services.iter().map(|s| Text::Owned((*s).to_owned())).collect(),
                events_per_flow: round2(a.events as f64 / n),
                sync_calls_per_flow: round2(a.calls as f64 / n),
                tables_written: a.tables.iter().map(|t| (*t).to_owned()).collect(),
                advice: String::new(),
            };
            row.advice = advice(&row, a.fanout);
            row
        })
        .collect()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Whether an operation name reads as a read.
fn is_read(operation: &str) -> bool {
    let first = operation.split([' ', '/', '.', ':']).next().unwrap_or_default();
    let lower = first.to_ascii_lowercase();
    matches!(first, "GET" | "HEAD")
        || ["get", "list", "find", "read", "query", "fetch", "search"]
            .iter()
            .any(|w| lower.starts_with(w))
}

/// The decision guide applied to a row's measurements.
pub(crate) fn advice(row: &ArchitectureRow, fanout: bool) -> String {
    let read = is_read(&row.operation);
    let mut said: Vec<String> = Vec::new();
    if read && row.style != FlowStyle::Sync {
        said.push(format!(
            "a read served through async hops (caller waited p95 {}): latency-sensitive, call the owner directly or keep a local read model",
            super::human(row.caller_wait_p95_ns)
        ));
    }
    if !read && (fanout || row.sync_calls_per_flow >= 2.0) {
        said.push(format!(
            "side effects run in the caller's path ({} calls per request): emit one event and let the owners react",
            row.sync_calls_per_flow
        ));
    }
    if !read && row.style != FlowStyle::Sync && row.settle_p95_ns >= LONG_SETTLE_NS {
        said.push(format!(
            "settles p95 {} after the caller's answer: reply \"PENDING\" with a status URL, or push the outcome",
            super::human(row.settle_p95_ns)
        ));
    }
    if said.is_empty() {
        return match row.style {
            FlowStyle::Sync => "fits: a direct call, answered in the caller's time".to_owned(),
            _ => "fits: the caller does not wait for the asynchronous part".to_owned(),
        };
    }
    said.join("; ")
}
