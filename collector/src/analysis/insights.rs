//! Insights: small detectors over the linker's state, each giving a kind, a severity, the
//! flow, and one line naming the services and the message.

use super::flows::FlowSet;
use super::sagas::SagaSet;
use super::{Ctx, Insight, InsightKind, Severity, SpanKey, human};
use crate::link::MAX_DEPTH;
use crate::link::destination::DestKey;
use crate::link::slot::{HopSlot, SpanSlot, TraceSlot};
use crate::link::subscription::Duplicate;
use crate::model::TraceId;

/// Unconsumed-event insights listed per subscription before the rest are summed up.
const UNCONSUMED_PER_SUBSCRIPTION: usize = 20;

/// An insight's words: its detail, subject and services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Said {
    pub detail: String,
    pub subject: String,
    pub services: Vec<String>,
}

/// `v` sorted, without repeats.
pub(crate) fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort_unstable();
    v.dedup();
    v
}

/// Which flow an insight about a trace belongs to: the first flow (in output order) holding
/// the trace.
pub(crate) trait FlowOf {
    fn of_trace(&self, t: TraceSlot) -> Option<TraceId>;
}

impl FlowOf for FlowSet {
    fn of_trace(&self, t: TraceSlot) -> Option<TraceId> {
        FlowSet::of_trace(self, t)
    }
}

/// Everything the trace-local detectors found, before it is put in words.
#[derive(Default)]
pub(crate) struct Found {
    /// (trace, what was said) of each cascade failure.
    pub cascades: Vec<(TraceSlot, Said)>,
    /// (blocked caller span, first destination, middle delivery, second destination).
    pub sync_over_async: Vec<SyncOverAsync>,
}

/// A caller blocked across an async round trip (see [`sync_over_async_from`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SyncOverAsync {
    /// The blocked caller span.
    pub caller: SpanSlot,
    /// Where its message went.
    pub first: DestKey,
    /// The delivery that answered.
    pub delivery: SpanSlot,
    /// Where the answer went.
    pub second: DestKey,
}

pub(crate) fn build(cx: &Ctx<'_>, flows: &FlowSet, sagas: &SagaSet) -> Vec<Insight> {
    let linker = cx.linker;
    let found = Found {
        cascades: linker.trace_slots().filter_map(|t| cascade_in(cx, t).map(|d| (t, d))).collect(),
        sync_over_async: sync_over_async_from(cx, linker.hop_slots()),
    };
    assemble(cx, flows, sagas, found)
}

/// Puts found insights and the global detectors (duplicates, unconsumed messages, failed
/// compensations) in words, in output order.
pub(crate) fn assemble(
    cx: &Ctx<'_>,
    flows: &dyn FlowOf,
    sagas: &SagaSet,
    found: Found,
) -> Vec<Insight> {
    let mut out = Vec::new();
    duplicate_delivery(cx, flows, &mut out);
    unconsumed_event(cx, flows, &mut out);
    for (t, said) in found.cascades {
        out.push(Insight {
            kind: InsightKind::CascadeFailure,
            severity: Severity::Error,
            flow: flows.of_trace(t),
            detail: said.detail,
            subject: said.subject,
            services: said.services,
        });
    }
    sync_over_async(cx, flows, found.sync_over_async, &mut out);
    failed_compensation(cx, flows, sagas, &mut out);
    order(&mut out);
    out
}

/// Puts insights in output order (kind, flow, detail), without repeats.
pub(crate) fn order(out: &mut Vec<Insight>) {
    out.sort_by(|a, b| (a.kind, &a.flow, &a.detail).cmp(&(b.kind, &b.flow, &b.detail)));
    out.dedup();
}

fn flow_of(cx: &Ctx<'_>, flows: &dyn FlowOf, s: SpanSlot) -> Option<TraceId> {
    flows.of_trace(cx.span(s).trace)
}

/// The message a producer span sent, in words: its id, or its span id.
fn message(cx: &Ctx<'_>, p: SpanSlot) -> String {
    let f = cx.span(p);
    match f.msg.as_deref().and_then(|m| m.ids.first()) {
        Some(id) => format!("message {id}"),
        None => format!("the message of span {}", f.span_id),
    }
}

fn duplicate_delivery(cx: &Ctx<'_>, flows: &dyn FlowOf, out: &mut Vec<Insight>) {
    let linker = cx.linker;
    for &Duplicate { producer: p, sub: si } in &linker.agg.dups {
        let n = linker
            .span(p)
            .msg
            .as_deref()
            .and_then(|m| m.subs.iter().find(|r| r.sub == si))
            .map_or(0, |r| r.hops);
        let sub = &linker.agg.subs[si].key;
        let mut consumers: Vec<&str> = linker
            .span(p)
            .msg
            .as_deref()
            .map(|m| {
                m.hops
                    .iter()
                    .map(|&h| &linker.hops[h])
                    .filter(|h| h.producer == p && h.sub == si)
                    .map(|h| cx.str(cx.span(h.delivery).service))
                    .collect()
            })
            .unwrap_or_default();
        consumers.sort_unstable();
        consumers.dedup();
        let pf = cx.span(p);
        let mut services: Vec<String> = consumers.iter().map(|s| (*s).to_owned()).collect();
        services.push(cx.str(pf.service).to_owned());
        out.push(Insight {
            kind: InsightKind::DuplicateDelivery,
            subject: cx.dest_id(sub.dest),
            services: sorted(services),
            severity: Severity::Warning,
            flow: flow_of(cx, flows, p),
            detail: format!(
                "{} from {} ({}) on {} was processed {n} times by subscription {} ({}): missing idempotency",
                message(cx, p),
                cx.str(pf.service),
                cx.str(pf.name),
                cx.dest_id(sub.dest),
                cx.str(sub.group),
                consumers.join(", ")
            ),
        });
    }
}

fn unconsumed_event(cx: &Ctx<'_>, flows: &dyn FlowOf, out: &mut Vec<Insight>) {
    let linker = cx.linker;
    for sub in linker.agg.subs.iter() {
        if sub.consumed == 0 {
            continue;
        }
        let mut old: Vec<(u64, SpanSlot)> = sub
            .unconsumed
            .iter()
            .map(|&p| (cx.span(p).end, p))
            .filter(|(end, _)| cx.age(*end) > cx.opts.stuck_after_ns)
            .collect();
        old.sort_by_key(|&(end, p)| (end, cx.key(p)));
        for &(end, p) in old.iter().take(UNCONSUMED_PER_SUBSCRIPTION) {
            let pf = cx.span(p);
            out.push(Insight {
                kind: InsightKind::UnconsumedEvent,
                subject: cx.dest_id(sub.key.dest),
                services: vec![cx.str(pf.service).to_owned()],
                severity: Severity::Warning,
                flow: flow_of(cx, flows, p),
                detail: format!(
                    "{} from {} ({}) to {} has waited {} for a consumer in subscription {}",
                    message(cx, p),
                    cx.str(pf.service),
                    cx.str(pf.name),
                    cx.dest_id(sub.key.dest),
                    human(cx.age(end)),
                    cx.str(sub.key.group)
                ),
            });
        }
        if old.len() > UNCONSUMED_PER_SUBSCRIPTION {
            out.push(Insight {
                kind: InsightKind::UnconsumedEvent,
                subject: cx.dest_id(sub.key.dest),
                services: Vec::new(),
                severity: Severity::Warning,
                flow: None,
                detail: format!(
                    "and {} more messages to {} unconsumed by subscription {}",
                    old.len() - UNCONSUMED_PER_SUBSCRIPTION,
                    cx.dest_id(sub.key.dest),
                    cx.str(sub.key.group)
                ),
            });
        }
    }
}

/// An error span of trace `trace` whose error climbs through parents (not across hops) through
/// at least two calls: from the failing service, through a middle one, to a caller. The
/// longest such chain of the trace, in words.
pub(crate) fn cascade_in(cx: &Ctx<'_>, trace: TraceSlot) -> Option<Said> {
    let linker = cx.linker;
    let tr = &linker.traces[trace];
    if tr.errors < 2 {
        return None;
    }
    // (chain length, origin order, origin, services from the origin up).
    let mut best: Option<(usize, SpanKey, SpanSlot, Vec<&str>)> = None;
    for &s in &tr.spans {
        let f = cx.span(s);
        if !f.is_error() || linker.children(s).iter().any(|&c| cx.span(c).is_error()) {
            continue;
        }
        let mut chain = vec![cx.str(f.service)];
        let mut a = s;
        for _ in 0..MAX_DEPTH {
            let af = cx.span(a);
            let Some(p) = af.parent.filter(|&p| cx.span(p).is_error()) else { break };
            if linker.is_producer(p) && linker.is_consumer(a) {
                break;
            }
            let service = cx.str(cx.span(p).service);
            if chain.last() != Some(&service) {
                chain.push(service);
            }
            a = p;
        }
        let mut distinct = chain.clone();
        distinct.sort_unstable();
        distinct.dedup();
        // One failed call is just an error; a cascade climbs through a middle service.
        if distinct.len() < 3 {
            continue;
        }
        let key = (chain.len(), cx.key(s));
        let better =
            best.as_ref().is_none_or(|(n, k, _, _)| key.0 > *n || (key.0 == *n && key.1 < *k));
        if better {
            best = Some((key.0, key.1, s, chain));
        }
    }
    let (_, _, origin, mut chain) = best?;
    chain.reverse();
    let f = cx.span(origin);
    Some(Said {
        detail: format!(
            "error in {} ({}) climbed the sync chain {}",
            cx.str(f.service),
            cx.str(f.name),
            chain.join(" → ")
        ),
        subject: cx.str(f.service).to_owned(),
        services: sorted(chain.iter().map(|s| (*s).to_owned()).collect()),
    })
}

/// The nearest ancestor of `s` (not `s` itself) that is a hop's delivery.
fn upstream_delivery(cx: &Ctx<'_>, s: SpanSlot) -> Option<SpanSlot> {
    let mut ancestor = cx.span(s).parent;
    for _ in 0..MAX_DEPTH {
        let a = ancestor?;
        let f = cx.span(a);
        if let Some(m) = f.msg.as_deref()
            && m.hops.iter().any(|&h| cx.linker.hops[h].delivery == a)
        {
            return Some(a);
        }
        ancestor = f.parent;
    }
    None
}

/// A caller blocked across an async round trip: a span that produced (through its
/// descendants) a message whose consumer answered with a message consumed back in the
/// caller's service while the caller was still open. `hops` are the answering hops to look
/// at (every hop, or those produced in some traces).
pub(crate) fn sync_over_async_from(
    cx: &Ctx<'_>,
    hops: impl Iterator<Item = HopSlot>,
) -> Vec<SyncOverAsync> {
    let linker = cx.linker;
    let mut found = Vec::new();
    for h2 in hops {
        let hop2 = &linker.hops[h2];
        let (p2, c2) = (hop2.producer, hop2.delivery);
        let Some(x) = upstream_delivery(cx, p2) else { continue };
        let Some(xm) = cx.span(x).msg.as_deref() else { continue };
        // Read only now: most producers are not answering a delivery.
        let c2f = cx.span(c2);
        for &h1 in &xm.hops {
            let hop1 = &linker.hops[h1];
            if hop1.delivery != x {
                continue;
            }
            let p1 = hop1.producer;
            let p1f = cx.span(p1);
            let mut ancestor = p1f.parent;
            for _ in 0..MAX_DEPTH {
                let Some(a) = ancestor else { break };
                let af = cx.span(a);
                if af.service == c2f.service && af.start <= p1f.start && af.end >= c2f.end {
                    found.push(SyncOverAsync {
                        caller: a,
                        first: hop1.dest,
                        delivery: x,
                        second: hop2.dest,
                    });
                    break;
                }
                ancestor = af.parent;
            }
        }
    }
    found
}

fn sync_over_async(
    cx: &Ctx<'_>,
    flows: &dyn FlowOf,
    mut found: Vec<SyncOverAsync>,
    out: &mut Vec<Insight>,
) {
    let mut seen: Vec<SpanSlot> = Vec::new();
    found.sort_by_key(|f| cx.key(f.caller));
    for SyncOverAsync { caller: a, first: d1, delivery: x, second: d2 } in found {
        if seen.contains(&a) {
            continue;
        }
        seen.push(a);
        let af = cx.span(a);
        out.push(Insight {
            kind: InsightKind::SyncOverAsync,
            subject: format!("{} {}", cx.str(af.service), cx.str(af.name)),
            services: sorted(vec![
                cx.str(af.service).to_owned(),
                cx.str(cx.span(x).service).to_owned(),
            ]),
            severity: Severity::Warning,
            flow: flow_of(cx, flows, a),
            detail: format!(
                "{} ({}) was blocked {} across an async round trip: {} → {} → {}",
                cx.str(af.service),
                cx.str(af.name),
                human(af.duration()),
                cx.dest_id(d1),
                cx.str(cx.span(x).service),
                cx.dest_id(d2)
            ),
        });
    }
}

fn failed_compensation(cx: &Ctx<'_>, flows: &dyn FlowOf, sagas: &SagaSet, out: &mut Vec<Insight>) {
    for (saga, s) in &sagas.failed_compensations {
        let f = cx.span(*s);
        let step = f
            .saga
            .as_deref()
            .and_then(|x| x.step_name.as_deref())
            .unwrap_or_else(|| cx.str(f.name));
        out.push(Insight {
            kind: InsightKind::FailedCompensation,
            subject: cx.str(f.service).to_owned(),
            services: vec![cx.str(f.service).to_owned()],
            severity: Severity::Error,
            flow: flow_of(cx, flows, *s),
            detail: format!(
                "saga {} {} ({}): compensation {} in {} failed, the saga is left half undone",
                saga.name,
                saga.id,
                saga.source,
                step,
                cx.str(f.service)
            ),
        });
    }
}
