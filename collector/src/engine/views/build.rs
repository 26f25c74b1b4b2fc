//! Building a view from the engine's state: the whole view ([`build`]), a flow's detail with
//! its spans, logs, links and backlinks ([`detail`]), the traces matching an attribute
//! ([`attribute_matches`]) and the lag sparklines. Reads the store and the linker; never
//! changes them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;

use super::types::{
    AttributeMatches, DetailEvent, DetailLog, DetailSpan, DetailTarget, EventClock, FlowDetail,
    FlowRows, LagTrend, MAX_DETAIL_SPANS, Sources, SpanPointer, TREND_BUCKET_NS, TREND_BUCKETS,
    View, ViewConfig, Wants,
};
use crate::analysis::live::{LiveAnalysis, LiveOutput};
use crate::analysis::{self, Analysis, AnalysisOptions, Hop};
use crate::link::Linker;
use crate::link::slot::SubSlot;
use crate::model::{Interner, KeyValue, LogRecord, Span, SpanId, SpanKind, Sym, TraceId, Value};
use crate::store::SpanStore;

/// The analysis options a view is built with.
pub(super) fn options(clock: EventClock, config: &ViewConfig) -> AnalysisOptions {
    AnalysisOptions {
        now_unix_nano: clock.now_unix_nano,
        stuck_after_ns: u64::try_from(config.stuck_after.as_nanos()).unwrap_or(u64::MAX),
        lag_warn_ns: u64::try_from(config.lag_warn.as_nanos()).unwrap_or(u64::MAX),
        god_orchestrator_services: crate::analysis::DEFAULT_GOD_ORCHESTRATOR,
    }
}

/// Builds a whole view from scratch. `clock` is the event clock.
pub fn build(
    src: Sources<'_>,
    clock: EventClock,
    config: &ViewConfig,
    wants: &Wants,
    seq: u64,
    spans_per_sec: u64,
) -> View {
    let out = LiveAnalysis::full(src.linker, &options(clock, config));
    let trends = Arc::new(lag_trends(src.linker, &out.analysis, clock.now_unix_nano));
    assemble(src, out, trends, clock, wants, seq, spans_per_sec)
}

/// A view around an analysis: adds what the UI asked for, the lag trends and the counters.
pub(super) fn assemble(
    src: Sources<'_>,
    out: LiveOutput,
    lag_trends: Arc<Vec<LagTrend>>,
    clock: EventClock,
    wants: &Wants,
    seq: u64,
    spans_per_sec: u64,
) -> View {
    let LiveOutput { analysis, flows, saga_flows } = out;
    let detail = wants.detail.as_ref().map(|t| Arc::new(detail(src.store, src.linker, &flows, t)));
    let attribute_matches = wants
        .attribute
        .as_ref()
        .map(|(k, v)| Arc::new(attribute_matches(src.store, src.linker.interner(), k, v)));
    View {
        seq,
        stats: src.stats,
        spans_per_sec,
        max_memory: src.max_memory,
        clock,
        analysis: Arc::new(analysis),
        flows,
        lag_trends,
        saga_flows: Arc::new(saga_flows),
        detail,
        attribute_matches,
        build_time: Duration::ZERO,
    }
}

fn sym_or_unknown(i: &Interner, s: Sym) -> &'static str {
    if s == Sym::EMPTY { "unknown" } else { i.resolve(s) }
}

pub(super) fn lag_trends(l: &Linker, a: &Analysis, now: u64) -> Vec<LagTrend> {
    let i = l.interner();
    let window = TREND_BUCKET_NS * TREND_BUCKETS as u64;
    let since = now.saturating_sub(window);
    // By subscription slot first (no strings per hop), then named once per subscription.
    let mut by_slot: FxHashMap<SubSlot, LagTrend> = FxHashMap::default();
    for h in l.hop_slots() {
        let hop = &l.hops[h];
        if !hop.live {
            continue;
        }
        let t = l.span(hop.delivery).start;
        if t < since || t > now {
            continue;
        }
        let bucket = (((t - since) / TREND_BUCKET_NS) as usize).min(TREND_BUCKETS - 1);
        let row = by_slot.entry(hop.sub).or_insert_with(LagTrend::empty);
        let slot = &mut row.max_queue_ns[bucket];
        *slot = Some(slot.unwrap_or(0).max(hop.queue));
        row.deliveries[bucket] += 1;
    }
    let by_sub: BTreeMap<(&str, &str, &str), LagTrend> = by_slot
        .into_iter()
        .map(|(sub, trend)| {
            let key = l.agg.subs[sub].key;
            let name = (
                sym_or_unknown(i, key.dest.system),
                sym_or_unknown(i, key.dest.destination),
                i.resolve(key.group),
            );
            (name, trend)
        })
        .collect();
    a.lag
        .iter()
        .map(|row| {
            let group = row.consumer_group.as_deref().unwrap_or("");
            let key = (&*row.system, &*row.destination, group);
            by_sub.get(&key).cloned().unwrap_or_else(LagTrend::empty)
        })
        .collect()
}

impl LagTrend {
    fn empty() -> Self {
        Self { max_queue_ns: vec![None; TREND_BUCKETS], deliveries: vec![0; TREND_BUCKETS] }
    }
}

/// Text of an attribute value, as a person reads it.
pub fn value_text(v: &Value, i: &Interner) -> String {
    match v {
        Value::Empty => String::new(),
        Value::Str(s) => s.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Bytes(b) => format!("<{} bytes>", b.len()),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|v| value_text(v, i)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::KvList(kv) => {
            let items: Vec<String> = kv
                .iter()
                .map(|kv| format!("{}: {}", i.resolve(kv.key), value_text(&kv.value, i)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

fn attributes(attrs: &[KeyValue], i: &Interner, prefix: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = attrs
        .iter()
        .map(|kv| (format!("{prefix}{}", i.resolve(kv.key)), value_text(&kv.value, i)))
        .collect();
    out.sort();
    out
}

fn kind_name(k: SpanKind) -> &'static str {
    match k {
        SpanKind::Unspecified => "unspecified",
        SpanKind::Internal => "internal",
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    }
}

fn pointer(
    store: &SpanStore,
    i: &Interner,
    trace: TraceId,
    span: SpanId,
    why: &str,
) -> SpanPointer {
    let label = store
        .find(trace, span)
        .and_then(|r| store.get(r))
        .map(|s| format!("{} {}", i.resolve(s.service()), i.resolve(s.name)));
    SpanPointer { trace_id: trace, span_id: span, label, why: why.to_owned() }
}

fn log_of(r: &LogRecord, i: &Interner) -> DetailLog {
    let severity = if r.severity_text.is_empty() {
        match r.severity_number {
            1..=4 => "TRACE",
            5..=8 => "DEBUG",
            9..=12 => "INFO",
            13..=16 => "WARN",
            17..=20 => "ERROR",
            21..=24 => "FATAL",
            _ => "",
        }
        .to_owned()
    } else {
        r.severity_text.to_string()
    };
    DetailLog {
        time_unix_nano: if r.time_unix_nano == 0 {
            r.observed_time_unix_nano
        } else {
            r.time_unix_nano
        },
        severity,
        body: value_text(&r.body, i),
        attributes: attributes(&r.attributes, i, ""),
    }
}

fn detail_span(span: &Span, logs: &[LogRecord], store: &SpanStore, i: &Interner) -> DetailSpan {
    let mut attrs = attributes(&span.attributes, i, "");
    attrs.extend(attributes(&span.resource.attributes, i, "resource."));
    let mut span_logs: Vec<DetailLog> =
        logs.iter().filter(|r| r.span_id == Some(span.span_id)).map(|r| log_of(r, i)).collect();
    span_logs.sort_by(|a, b| (a.time_unix_nano, &a.body).cmp(&(b.time_unix_nano, &b.body)));
    DetailSpan {
        trace_id: span.trace_id,
        span_id: span.span_id,
        parent_span_id: span.parent_span_id,
        service: i.resolve(span.service()).to_owned(),
        name: i.resolve(span.name).to_owned(),
        kind: kind_name(span.kind),
        start_unix_nano: span.start_unix_nano,
        end_unix_nano: span.end_unix_nano,
        error: span.is_error(),
        status_message: span.status.message.to_string(),
        attributes: attrs,
        events: span
            .events
            .iter()
            .map(|e| DetailEvent {
                time_unix_nano: e.time_unix_nano,
                name: i.resolve(e.name).to_owned(),
                attributes: attributes(&e.attributes, i, ""),
            })
            .collect(),
        logs: span_logs,
        links: span
            .links
            .iter()
            .map(|l| pointer(store, i, l.trace_id, l.span_id, "link"))
            .collect(),
        backlinks: Vec::new(),
    }
}

/// The details of `target`: every held span of its traces, with logs, links and backlinks.
pub fn detail(
    store: &SpanStore,
    l: &Linker,
    flows: &FlowRows,
    target: &DetailTarget,
) -> FlowDetail {
    let i = l.interner();
    let flow = match *target {
        DetailTarget::Flow(id) => flows.rows().map(|r| &r.flow).find(|f| f.id == id),
        DetailTarget::Trace(t) => flows.rows().map(|r| &r.flow).find(|f| f.traces.contains(&t)),
    };
    let traces: Vec<TraceId> = match (flow, target) {
        (Some(f), _) => f.traces.clone(),
        (None, DetailTarget::Trace(t) | DetailTarget::Flow(t)) => vec![*t],
    };
    let trace_set: BTreeSet<TraceId> = traces.iter().copied().collect();
    let mut spans = Vec::new();
    let mut missing = Vec::new();
    let mut truncated = false;
    for &t in &traces {
        let Some(trace) = store.trace(&t) else {
            missing.push(t);
            continue;
        };
        let mut these: Vec<&Span> = trace.spans().iter().collect();
        these.sort_by_key(|s| (s.start_unix_nano, s.span_id.0));
        for s in these {
            if spans.len() >= MAX_DETAIL_SPANS {
                truncated = true;
                break;
            }
            spans.push(detail_span(s, trace.logs(), store, i));
        }
    }
    let hops: Vec<Hop> = analysis::hops_of_traces(l, &traces);
    // Backlinks: links among the shown spans, reversed, and hop consumers found by a link
    // anywhere (in traces outside the flow too).
    let mut back: BTreeMap<(TraceId, SpanId), BTreeSet<SpanPointer>> = BTreeMap::new();
    for s in &spans {
        for link in &s.links {
            let label = Some(format!("{} {}", s.service, s.name));
            back.entry((link.trace_id, link.span_id)).or_default().insert(SpanPointer {
                trace_id: s.trace_id,
                span_id: s.span_id,
                label,
                why: "link".to_owned(),
            });
        }
    }
    for h in &hops {
        if h.via != analysis::HopVia::Link || !trace_set.contains(&h.producer.trace_id) {
            continue;
        }
        let entry = back.entry((h.producer.trace_id, h.producer.span_id)).or_default();
        if !entry
            .iter()
            .any(|p| p.trace_id == h.consumer.trace_id && p.span_id == h.consumer.span_id)
        {
            entry.insert(SpanPointer {
                trace_id: h.consumer.trace_id,
                span_id: h.consumer.span_id,
                label: Some(format!("{} {}", h.consumer.service, h.consumer.name)),
                why: "link".to_owned(),
            });
        }
    }
    for s in &mut spans {
        if let Some(b) = back.remove(&(s.trace_id, s.span_id)) {
            s.backlinks = b.into_iter().collect();
        }
    }
    FlowDetail {
        target: target.clone(),
        flow: flow.cloned(),
        traces,
        missing_traces: missing,
        spans,
        hops,
        truncated,
    }
}

/// Traces holding a span whose attribute (or resource attribute) `key` reads `value`.
pub fn attribute_matches(
    store: &SpanStore,
    i: &Interner,
    key: &str,
    value: &str,
) -> AttributeMatches {
    let mut traces = BTreeSet::new();
    if let Some(sym) = i.get(key) {
        let hit = |attrs: &[KeyValue]| {
            attrs.iter().any(|kv| kv.key == sym && value_text(&kv.value, i) == value)
        };
        for (id, trace) in store.traces() {
            if trace.spans().iter().any(|s| hit(&s.attributes) || hit(&s.resource.attributes)) {
                traces.insert(*id);
            }
        }
    }
    AttributeMatches { key: key.to_owned(), value: value.to_owned(), traces }
}
