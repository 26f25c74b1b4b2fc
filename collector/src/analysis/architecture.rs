//! `architecture[]`: one row per root operation (the service and span name that root flows),
//! with its style, what the caller waited against how long the system took to settle, and
//! the decision guide applied to what was measured. Kept as running sums over the flows
//! ([`Rows`]).
//!
//! Advice, in order (each that applies, joined):
//! - a read (`GET`/`HEAD`, or a name starting with get/list/find/read/query) served through
//!   async hops is latency-sensitive: call the owner directly, or keep a local read model;
//! - side effects run synchronously in the caller's path (a write making two or more calls
//!   per flow, or a synchronous fan-out): emit one event and let the owners react;
//! - a write whose settle p95 is [`LONG_SETTLE_NS`] or more should tell its caller so:
//!   answer "PENDING" with a status URL, or push the outcome.

use rustc_hash::FxHashMap;

use super::shape::{FANOUT_SERVICES, FlowShape};
use super::{ArchitectureRow, Ctx, Flow, FlowStyle, Text};
use crate::link::Samples;
use crate::link::percentile;
use crate::model::Sym;

/// A settle window from which the caller should be told the answer is not final yet.
pub const LONG_SETTLE_NS: u64 = 1_000_000_000;

/// How many of something are held: added and taken away one by one.
pub(crate) type Counts<K> = FxHashMap<K, u32>;

/// Counts `k` in or out of `counts`; a count of 0 is no entry.
pub(crate) fn count<K: std::hash::Hash + Eq>(counts: &mut Counts<K>, k: K, add: bool) {
    if add {
        *counts.entry(k).or_default() += 1;
    } else if let Some(n) = counts.get_mut(&k) {
        *n -= 1;
        if *n == 0 {
            counts.remove(&k);
        }
    }
}

/// Adds `x` to `sum`, or takes it away.
pub(crate) fn sum(sum: &mut u64, x: u64, add: bool) {
    *sum = if add { *sum + x } else { sum.saturating_sub(x) };
}

/// What the flows of one root operation add up to.
#[derive(Debug, Default)]
struct OpSums {
    flows: u64,
    styles: [u64; 4],
    waits: Samples,
    settles: Samples,
    /// (service, flows reaching it): few per operation, so a list.
    services: Vec<(Sym, u32)>,
    events: u64,
    calls: u64,
    tables: Counts<Box<str>>,
    /// Flows with a synchronous fan-out.
    fanouts: u64,
}

/// The architecture rows as running sums over the held flows: a flow is added when it is
/// built and taken away when it is rebuilt or goes, so a view costs O(changed flows) plus
/// O(root operations), never a pass over every flow.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    /// By root (service, operation).
    by: FxHashMap<(Sym, Sym), OpSums>,
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

impl Rows {
    /// Adds flow `flow` (with its shape) to the sums, or (`add` false) takes it away.
    pub fn apply(&mut self, flow: &Flow, shape: &FlowShape, add: bool) {
        let a = self.by.entry(shape.root).or_default();
        sum(&mut a.flows, 1, add);
        sum(&mut a.styles[style_index(flow.style)], 1, add);
        if add {
            a.waits.add(flow.root_duration_ns);
            a.settles.add(flow.settled_after_ns);
        } else {
            a.waits.remove(flow.root_duration_ns);
            a.settles.remove(flow.settled_after_ns);
        }
        for &s in &shape.services {
            match a.services.iter().position(|x| x.0 == s) {
                Some(i) if add => a.services[i].1 += 1,
                Some(i) => {
                    a.services[i].1 -= 1;
                    if a.services[i].1 == 0 {
                        a.services.swap_remove(i);
                    }
                }
                None if add => a.services.push((s, 1)),
                None => {}
            }
        }
        sum(&mut a.events, shape.events, add);
        sum(&mut a.calls, shape.sync_calls, add);
        let mut last: Option<&str> = None;
        // Sorted by table: each table once per flow.
        for (t, _) in &shape.tables {
            if last != Some(&**t) {
                count(&mut a.tables, t.clone(), add);
                last = Some(t);
            }
        }
        let fanout = shape.fanouts.iter().any(|f| f.callees.len() >= FANOUT_SERVICES);
        sum(&mut a.fanouts, u64::from(fanout), add);
        if a.flows == 0 {
            self.by.remove(&shape.root);
        }
    }

    /// The rows, by service then operation.
    pub fn rows(&mut self, cx: &Ctx<'_>) -> Vec<ArchitectureRow> {
        let mut keys: Vec<(&'static str, &'static str, (Sym, Sym))> =
            self.by.keys().map(|&(s, o)| (cx.str(s), cx.str(o), (s, o))).collect();
        keys.sort_unstable();
        keys.into_iter()
            .filter_map(|(service, operation, key)| {
                let a = self.by.get_mut(&key)?;
                a.waits.settle();
                a.settles.settle();
                let mut services: Vec<&'static str> =
                    a.services.iter().map(|&(s, _)| cx.str(s)).collect();
                services.sort_unstable();
                let mut tables: Vec<&str> = a.tables.keys().map(|t| &**t).collect();
                tables.sort_unstable();
                // The most frequent style; ties go to the more coupled (later) one.
                let style =
                    (0..4).max_by_key(|&i| (a.styles[i], i)).map_or(FlowStyle::Sync, |i| STYLES[i]);
                let n = a.flows as f64;
                let (waits, settles) = (a.waits.in_order(), a.settles.in_order());
                let mut row = ArchitectureRow {
                    service: Text::Borrowed(service),
                    operation: Text::Borrowed(operation),
                    flows: a.flows,
                    style,
                    caller_wait_p50_ns: percentile(&waits, 50),
                    caller_wait_p95_ns: percentile(&waits, 95),
                    settle_p50_ns: percentile(&settles, 50),
                    settle_p95_ns: percentile(&settles, 95),
                    services: services.into_iter().map(Text::Borrowed).collect(),
                    events_per_flow: round2(a.events as f64 / n),
                    sync_calls_per_flow: round2(a.calls as f64 / n),
                    tables_written: tables.into_iter().map(str::to_owned).collect(),
                    advice: String::new(),
                };
                row.advice = advice(&row, a.fanouts > 0);
                Some(row)
            })
            .collect()
    }
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
