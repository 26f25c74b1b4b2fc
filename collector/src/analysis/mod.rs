//! Analyses over the linker's state: flows, the choreography graph, consumer lag, sagas and
//! insights, assembled into one [`Analysis`] (the `hopscope.analysis/v1` document).
//!
//! The linker keeps everything that is expensive incrementally (hops, per-trace facts, the
//! trace graph, graph edges, subscriptions and their unconsumed messages); [`analyze`] only
//! reads it, on demand. Its cost follows what is held (traces, hops, sagas), never a rescan of
//! spans per arriving span. Everything clock-dependent (stuck, lag status) reads
//! [`AnalysisOptions::now_unix_nano`], the event clock: the wall clock live, the watermark of
//! the data in replay and `analyze`.
//!
//! Output order never depends on arrival order: every list is sorted on resolved strings and
//! ids, so the same spans in any order, split into any batches, give the same document.

mod antipatterns;
mod architecture;
pub mod catalog;
mod deadletter;
mod flows;
mod insights;
pub mod live;
mod pending;
mod sagas;
pub mod schema;
pub mod shape;
mod tally;
pub mod text;

use std::time::Duration;

use rustc_hash::FxHashSet;

use crate::link::agg::Node;
use crate::link::destination::DestKey;
use crate::link::facts::{MsgFacts, SpanFacts};
use crate::link::slot::{HopSlot, SpanSlot, TraceSlot};
use crate::link::{Linker, Via, percentile};
use crate::model::{Interner, Sym};
pub use schema::*;

/// What an analysis needs besides the spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// The event clock: wall clock live, the data's watermark in replay and `analyze`.
    pub now_unix_nano: u64,
    /// Waiting longer than this is stuck (`--stuck-after`, 30 s by default).
    pub stuck_after_ns: u64,
    /// A subscription whose p95 queue time or oldest unconsumed message is older than this
    /// is `warn` (1 s by default).
    pub lag_warn_ns: u64,
    /// A service coordinating this many distinct services or more is a god orchestrator
    /// (`--god-orchestrator`, 5 by default).
    pub god_orchestrator_services: u32,
}

/// Default of `--god-orchestrator`.
pub const DEFAULT_GOD_ORCHESTRATOR: u32 = 5;

/// Default of `--stuck-after`.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(30);
/// Default lag warning threshold.
pub const DEFAULT_LAG_WARN: Duration = Duration::from_secs(1);

impl AnalysisOptions {
    /// Options for a replay or an offline analysis: the event clock is the watermark.
    pub fn at_watermark(linker: &Linker) -> Self {
        Self {
            now_unix_nano: linker.watermark(),
            stuck_after_ns: DEFAULT_STUCK_AFTER.as_nanos() as u64,
            lag_warn_ns: DEFAULT_LAG_WARN.as_nanos() as u64,
            god_orchestrator_services: DEFAULT_GOD_ORCHESTRATOR,
        }
    }

    /// Sets the god-orchestrator threshold (distinct services coordinated).
    #[must_use]
    pub fn god_orchestrator(mut self, services: u32) -> Self {
        self.god_orchestrator_services = services.max(1);
        self
    }

    /// Sets `--stuck-after`.
    #[must_use]
    pub fn stuck_after(mut self, d: Duration) -> Self {
        self.stuck_after_ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self
    }

    /// Sets the lag warning threshold.
    #[must_use]
    pub fn lag_warn(mut self, d: Duration) -> Self {
        self.lag_warn_ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self
    }
}

/// Above this many spans, [`analyze`] builds its two independent halves (hops, graph and
/// lag; flows, sagas and insights) on two threads. The first thread also walks the flows
/// (which need nothing else) while the second builds the sagas.
const PARALLEL_AFTER: u64 = 100_000;

/// Builds the whole analysis of what `linker` holds.
pub fn analyze(linker: &Linker, opts: &AnalysisOptions) -> Analysis {
    let cx = Ctx { linker, interner: linker.interner(), opts };
    let edges = || (hops(&cx), graph(&cx), lag(&cx), catalog::build(&cx));
    let story = |walks: &dyn Fn() -> flows::Walks| {
        let pending = pending::Pending::new(&cx);
        let sagas = sagas::build(&cx, &pending);
        let mut tally = tally::Tally::default();
        let flow_set = flows::build(&cx, walks(), &pending, &sagas, &mut tally);
        let mut insights = insights::build(&cx, &flow_set, &sagas);
        let architecture = tally.read(&cx, &mut insights);
        insights::order(&mut insights);
        (flow_set, sagas, (insights, architecture))
    };
    let ((hops, graph, lag, events), (flow_set, sagas, (insights, architecture))) =
        if linker.stats().spans > PARALLEL_AFTER {
            std::thread::scope(|scope| {
                // The other thread walks the flows first (they need nothing else), while this
                // one builds the sagas that the flow records need.
                let (walked, walks) = std::sync::mpsc::sync_channel(1);
                let cx = &cx;
                let half = scope.spawn(move || {
                    // Unsent only if this thread stops, which the join below reports.
                    let _ = walked.send(flows::Walks::new(cx));
                    edges()
                });
                let story = story(&|| walks.recv().unwrap_or_else(|_| flows::Walks::new(cx)));
                // A panic in the other half is re-raised here, as if it were one thread.
                let edges = half.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                (edges, story)
            })
        } else {
            (edges(), story(&|| flows::Walks::new(&cx)))
        };
    let summary = summary(linker, &graph, flow_set.flows.len(), hops.len() as u64);
    Analysis {
        schema: SCHEMA.to_owned(),
        summary,
        flows: flow_set.flows,
        hops,
        graph,
        lag,
        sagas: sagas.sagas,
        insights,
        events,
        architecture,
    }
}

/// The event catalog alone (the analysis's `events`), without the rest of the analysis.
pub fn events(linker: &Linker, opts: &AnalysisOptions) -> Vec<Event> {
    catalog::build(&Ctx { linker, interner: linker.interner(), opts })
}

/// The counts of an analysis: what the linker holds, and the flows and hops listed.
pub(crate) fn summary(linker: &Linker, graph: &Graph, flows: usize, hops: u64) -> Summary {
    let stats = linker.stats();
    Summary {
        spans: stats.spans,
        traces: stats.traces,
        flows: flows as u64,
        hops,
        services: linker.agg.services.len() as u64,
        destinations: graph.nodes.iter().filter(|n| n.kind == NodeKind::Destination).count() as u64,
        errors: linker.agg.errors,
    }
}

/// A span's order: start time, trace id, span id.
pub(crate) type SpanKey = (u64, [u8; 16], [u8; 8]);

/// What every part of the analysis reads.
pub(crate) struct Ctx<'a> {
    pub linker: &'a Linker,
    pub interner: &'a Interner,
    pub opts: &'a AnalysisOptions,
}

impl Ctx<'_> {
    /// Interned text.
    pub fn str(&self, sym: Sym) -> &'static str {
        self.interner.resolve(sym)
    }

    pub fn span(&self, span: SpanSlot) -> &SpanFacts {
        self.linker.span(span)
    }

    /// Interned text, borrowed.
    pub fn text(&self, sym: Sym) -> Text {
        Text::Borrowed(self.interner.resolve(sym))
    }

    pub fn end(&self, s: SpanSlot) -> SpanEnd {
        self.end_at(s, &self.key(s))
    }

    /// [`Ctx::end`] of span `s` whose sort key is already known (it holds the ids).
    pub fn end_at(&self, s: SpanSlot, key: &SpanKey) -> SpanEnd {
        let f = self.span(s);
        SpanEnd {
            trace_id: TraceId(key.1),
            span_id: SpanId(key.2),
            service: self.text(f.service),
            name: self.text(f.name),
        }
    }

    /// Sort key of a span that does not depend on slots or symbols.
    pub fn key(&self, s: SpanSlot) -> SpanKey {
        let f = self.span(s);
        (f.start, self.linker.traces[f.trace].id.0, f.span_id.0)
    }

    /// Time since `t` on the event clock.
    pub fn age(&self, t: u64) -> u64 {
        self.opts.now_unix_nano.saturating_sub(t)
    }

    pub fn dest_id(&self, d: DestKey) -> String {
        format!("{}:{}", self.system(d.system), self.destination(d.destination))
    }

    pub fn system(&self, s: Sym) -> &'static str {
        if s == Sym::EMPTY { "unknown" } else { self.str(s) }
    }

    pub fn destination(&self, s: Sym) -> &'static str {
        if s == Sym::EMPTY { "unknown" } else { self.str(s) }
    }

    fn node_id(&self, n: Node) -> (NodeKind, String) {
        match n {
            Node::Service(s) => (NodeKind::Service, self.str(s).to_owned()),
            Node::Destination(d) => (NodeKind::Destination, self.dest_id(d)),
        }
    }
}

fn via(v: Via) -> HopVia {
    match v {
        Via::Parent => HopVia::Parent,
        Via::Link => HopVia::Link,
        Via::Offset => HopVia::Offset,
        Via::MessageId => HopVia::MessageId,
        Via::Conversation => HopVia::Conversation,
    }
}

fn hops(cx: &Ctx<'_>) -> Vec<Hop> {
    let linker = cx.linker;
    let conversation = conversation_hops(cx);
    // Sized once: grown by doublings, this list was a large copy onto fresh pages.
    let mut keyed: Vec<(HopKey, HopSource)> =
        Vec::with_capacity(linker.stats().hops as usize + conversation.len());
    keyed.extend(linker.hop_slots().map(|h| linked(cx, h)));
    keyed.extend(conversation.into_iter().map(|(k, p, c)| (k, HopSource::Conversation(p, c))));
    to_hops(cx, keyed)
}

/// The hops into or out of the held traces among `traces`, in output order (as they are in
/// [`Analysis::hops`]).
pub(crate) fn hops_of_traces(linker: &Linker, traces: &[crate::model::TraceId]) -> Vec<Hop> {
    let opts = AnalysisOptions::at_watermark(linker);
    let cx = Ctx { linker, interner: linker.interner(), opts: &opts };
    let slots: FxHashSet<TraceSlot> = traces.iter().filter_map(|id| linker.trace_of(id)).collect();
    hops_touching(&cx, &slots)
}

/// The hops into or out of the traces in `traces` (trace slots), in output order.
fn hops_touching(cx: &Ctx<'_>, traces: &FxHashSet<TraceSlot>) -> Vec<Hop> {
    let linker = cx.linker;
    let mut slots: Vec<HopSlot> = Vec::new();
    let mut conversation = Vec::new();
    for &t in traces {
        let tr = &linker.traces[t];
        slots.extend(tr.hops_in.iter().copied());
        for &s in &tr.spans {
            let Some(m) = cx.span(s).msg.as_deref() else { continue };
            slots.extend(m.hops.iter().copied().filter(|&h| linker.hops[h].producer == s));
            if let Some(p) = conversation_partner(cx, s) {
                conversation.push(((cx.key(p), cx.key(s)), HopSource::Conversation(p, s)));
            }
        }
    }
    slots.sort_unstable();
    slots.dedup();
    let mut keyed: Vec<(HopKey, HopSource)> = slots.into_iter().map(|h| linked(cx, h)).collect();
    keyed.extend(conversation);
    to_hops(cx, keyed)
}

/// Linked hop `h`, with its output order.
fn linked(cx: &Ctx<'_>, h: HopSlot) -> (HopKey, HopSource) {
    let hop = &cx.linker.hops[h];
    ((cx.key(hop.producer), cx.key(hop.delivery)), HopSource::Linked(h))
}

fn to_hops(cx: &Ctx<'_>, mut keyed: Vec<(HopKey, HopSource)>) -> Vec<Hop> {
    let linker = cx.linker;
    keyed.sort_unstable_by_key(|k| k.0);
    keyed
        .into_iter()
        .map(|((producer, consumer), source)| match source {
            HopSource::Linked(h) => {
                let hop = &linker.hops[h];
                let v = Via::best(hop.vias);
                Hop {
                    producer: cx.end_at(hop.producer, &producer),
                    consumer: cx.end_at(hop.delivery, &consumer),
                    via: via(v),
                    confidence: v.confidence(),
                    system: Text::Borrowed(cx.system(hop.dest.system)),
                    destination: Text::Borrowed(cx.destination(hop.dest.destination)),
                    consumer_group: cx.text(linker.agg.subs[hop.sub].key.group),
                    queue_ns: hop.queue,
                    skew: hop.skew,
                }
            }
            HopSource::Conversation(p, c) => conversation_hop(cx, p, c),
        })
        .collect()
}

enum HopSource {
    Linked(HopSlot),
    Conversation(SpanSlot, SpanSlot),
}

type HopKey = (SpanKey, SpanKey);

/// Weak hops by conversation id, found on demand: a consumer delivery with no other evidence
/// is paired with the latest producer of the same conversation (and destination, when both
/// say) that started before it. They never merge flows and do not count in lag.
fn conversation_hops(cx: &Ctx<'_>) -> Vec<(HopKey, SpanSlot, SpanSlot)> {
    let mut out = Vec::new();
    for c in cx.linker.conversation_members() {
        if let Some(p) = conversation_partner(cx, c) {
            out.push(((cx.key(p), cx.key(c)), p, c));
        }
    }
    out
}

/// The producer a consumer span `c` is paired with by conversation id, if any.
fn conversation_partner(cx: &Ctx<'_>, c: SpanSlot) -> Option<SpanSlot> {
    let linker = cx.linker;
    let f = cx.span(c);
    let m = f.msg.as_deref()?;
    if m.conversation.is_none() || !linker.is_consumer(c) || !m.partners.is_empty() {
        return None;
    }
    if f.parent.is_some_and(|parent| linker.is_consumer(parent)) {
        return None;
    }
    linker
        .conversation_partners(c)
        .into_iter()
        .filter(|&p| {
            let pf = cx.span(p);
            let pm = pf.msg.as_deref();
            linker.is_producer(p)
                && pf.start <= f.start
                && pm.is_some_and(|pm| {
                    pm.destination == Sym::EMPTY
                        || m.destination == Sym::EMPTY
                        || pm.destination == m.destination
                })
        })
        .max_by_key(|&p| cx.key(p))
}

fn conversation_hop(cx: &Ctx<'_>, p: SpanSlot, c: SpanSlot) -> Hop {
    let (pf, f) = (cx.span(p), cx.span(c));
    let empty = MsgFacts::default();
    let pm = pf.msg.as_deref().unwrap_or(&empty);
    let m = f.msg.as_deref().unwrap_or(&empty);
    let (system, destination) = if pm.destination == Sym::EMPTY {
        (m.system, m.destination)
    } else {
        (pm.system, pm.destination)
    };
    let group = if m.group == Sym::EMPTY { f.service } else { m.group };
    Hop {
        producer: cx.end(p),
        consumer: cx.end(c),
        via: HopVia::Conversation,
        confidence: Via::Conversation.confidence(),
        system: Text::Borrowed(cx.system(system)),
        destination: Text::Borrowed(cx.destination(destination)),
        consumer_group: cx.text(group),
        queue_ns: f.start.saturating_sub(pf.end),
        skew: f.start < pf.start,
    }
}

fn graph(cx: &Ctx<'_>) -> Graph {
    let linker = cx.linker;
    let mut nodes: Vec<GraphNode> = linker
        .agg
        .services
        .keys()
        .map(|s| GraphNode { id: cx.str(*s).to_owned(), kind: NodeKind::Service })
        .collect();
    let mut edges = Vec::new();
    for (key, stats) in &linker.agg.edges {
        if stats.count == 0 {
            continue;
        }
        let (fk, from) = cx.node_id(key.from);
        let (tk, to) = cx.node_id(key.to);
        for (kind, id) in [(fk, &from), (tk, &to)] {
            if kind == NodeKind::Destination {
                nodes.push(GraphNode { id: id.clone(), kind });
            }
        }
        let sorted = stats.samples.in_order();
        edges.push(GraphEdge {
            from,
            to,
            kind: key.kind,
            count: stats.count,
            errors: stats.errors,
            p50_ns: percentile(&sorted, 50),
            p95_ns: percentile(&sorted, 95),
        });
    }
    nodes.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    nodes.dedup();
    // Destination ids may coincide for different symbols (never in practice): merge edges.
    edges.sort_by(|a, b| (&a.from, &a.to, a.kind).cmp(&(&b.from, &b.to, b.kind)));
    Graph { nodes, edges }
}

fn lag(cx: &Ctx<'_>) -> Vec<Lag> {
    let linker = cx.linker;
    let opts = cx.opts;
    let mut rows = Vec::new();
    let dead = deadletter::per_subscription(cx);
    for (slot, sub) in linker.agg.subs.slots().zip(linker.agg.subs.iter()) {
        if sub.consumed == 0 {
            continue;
        }
        let sorted = sub.queue.in_order();
        let oldest =
            sub.unconsumed.iter().map(|&p| cx.span(p).end).min().map_or(0, |end| cx.age(end));
        let p95 = percentile(&sorted, 95);
        let status = if !sub.unconsumed.is_empty() && oldest > opts.stuck_after_ns {
            LagStatus::Stalled
        } else if p95 > opts.lag_warn_ns || oldest > opts.lag_warn_ns {
            LagStatus::Warn
        } else {
            LagStatus::Ok
        };
        let mut services: Vec<String> =
            sub.services.keys().map(|s| cx.str(*s).to_owned()).collect();
        services.sort();
        rows.push(Lag {
            system: cx.system(sub.key.dest.system).to_owned(),
            destination: cx.destination(sub.key.dest.destination).to_owned(),
            consumer_group: Some(cx.str(sub.key.group).to_owned()),
            consumer_services: services,
            consumed: sub.consumed,
            p50_ns: percentile(&sorted, 50),
            p95_ns: p95,
            max_ns: sorted.last().copied().unwrap_or(0),
            unconsumed: sub.unconsumed.len() as u64,
            oldest_unconsumed_age_ns: oldest,
            status,
            skew: sub.skewed > 0,
            dead_lettered: dead.get(&slot).copied().unwrap_or(0),
        });
    }
    for (key, dest) in &linker.agg.dests {
        if dest.producers.is_empty() || dest.subs.iter().any(|s| linker.agg.subs[*s].consumed > 0) {
            continue;
        }
        let oldest = dest.producers.iter().map(|p| cx.span(*p).end).min().unwrap_or(0);
        rows.push(Lag {
            system: cx.system(key.system).to_owned(),
            destination: cx.destination(key.destination).to_owned(),
            consumer_group: None,
            consumer_services: Vec::new(),
            consumed: 0,
            p50_ns: 0,
            p95_ns: 0,
            max_ns: 0,
            unconsumed: dest.producers.len() as u64,
            oldest_unconsumed_age_ns: cx.age(oldest),
            status: LagStatus::NoConsumer,
            skew: false,
            dead_lettered: 0,
        });
    }
    rows.sort_by(|a, b| {
        (&a.system, &a.destination, &a.consumer_group).cmp(&(
            &b.system,
            &b.destination,
            &b.consumer_group,
        ))
    });
    rows
}

/// Formats a duration in nanoseconds for people, as every screen and report does
/// ([`crate::format::duration`]): `45s`, `1.2s`, `350ms`, `1m05s`, `20µs`, `0s`.
pub fn human(ns: u64) -> String {
    crate::format::duration(ns)
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_durations() {
        assert_eq!(human(45_000_000_000), "45s");
        assert_eq!(human(1_200_000_000), "1.2s");
        assert_eq!(human(2_000_000_000), "2s");
        assert_eq!(human(350_000_000), "350ms");
        assert_eq!(human(20_000), "20µs");
        assert_eq!(human(0), "0s");
        assert_eq!(human(90_000_000_000), "1m30s");
    }
}
