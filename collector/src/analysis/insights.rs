//! Insights: small detectors over the linker's state, each giving a kind, a severity, the
//! flow, and one line naming the services and the message.

use super::flows::FlowSet;
use super::sagas::SagaSet;
use super::{Cx, Insight, InsightKind, Severity, SpanKey, human};
use crate::link::MAX_DEPTH;
use crate::link::agg::DestKey;
use crate::link::facts::NONE;
use crate::model::TraceId;

/// Unconsumed-event insights listed per subscription before the rest are summed up.
const UNCONSUMED_PER_SUBSCRIPTION: usize = 20;

/// Which flow an insight about a trace belongs to: the first flow (in output order) holding
/// the trace.
pub(crate) trait FlowOf {
    fn of_trace(&self, t: u32) -> Option<TraceId>;
}

impl FlowOf for FlowSet {
    fn of_trace(&self, t: u32) -> Option<TraceId> {
        FlowSet::of_trace(self, t)
    }
}

/// Everything the trace-local detectors found, before it is put in words.
#[derive(Default)]
pub(crate) struct Found {
    /// (trace, detail) of each cascade failure.
    pub cascades: Vec<(u32, String)>,
    /// (blocked caller span, first destination, middle delivery, second destination).
    pub sync_over_async: Vec<SyncOverAsync>,
}

pub(crate) type SyncOverAsync = (u32, DestKey, u32, DestKey);

pub(crate) fn build(cx: &Cx<'_>, flows: &FlowSet, sagas: &SagaSet) -> Vec<Insight> {
    let l = cx.l;
    let found = Found {
        cascades: l.trace_slots().filter_map(|t| cascade_in(cx, t).map(|d| (t, d))).collect(),
        sync_over_async: sync_over_async_from(cx, l.hop_slots()),
    };
    assemble(cx, flows, sagas, found)
}

/// Puts found insights and the global detectors (duplicates, unconsumed messages, failed
/// compensations) in words, in output order.
pub(crate) fn assemble(
    cx: &Cx<'_>,
    flows: &dyn FlowOf,
    sagas: &SagaSet,
    found: Found,
) -> Vec<Insight> {
    let mut out = Vec::new();
    duplicate_delivery(cx, flows, &mut out);
    unconsumed_event(cx, flows, &mut out);
    for (t, detail) in found.cascades {
        out.push(Insight {
            kind: InsightKind::CascadeFailure,
            severity: Severity::Error,
            flow: flows.of_trace(t),
            detail,
        });
    }
    sync_over_async(cx, flows, found.sync_over_async, &mut out);
    failed_compensation(cx, flows, sagas, &mut out);
    out.sort_by(|a, b| (a.kind, &a.flow, &a.detail).cmp(&(b.kind, &b.flow, &b.detail)));
    out.dedup();
    out
}

fn flow_of(cx: &Cx<'_>, flows: &dyn FlowOf, s: u32) -> Option<TraceId> {
    flows.of_trace(cx.sp(s).trace)
}

/// The message a producer span sent, in words: its id, or its span id.
fn message(cx: &Cx<'_>, p: u32) -> String {
    let f = cx.sp(p);
    match f.msg.as_deref().and_then(|m| m.ids.first()) {
        Some(id) => format!("message {id}"),
        None => format!("the message of span {}", f.span_id),
    }
}

fn duplicate_delivery(cx: &Cx<'_>, flows: &dyn FlowOf, out: &mut Vec<Insight>) {
    let l = cx.l;
    for &(p, si) in &l.agg.dups {
        let n = l
            .sp(p)
            .msg
            .as_deref()
            .and_then(|m| m.subs.iter().find(|(x, _)| *x == si))
            .map_or(0, |(_, n)| *n);
        let sub = &l.agg.subs[si as usize].key;
        let mut consumers: Vec<&str> = l
            .sp(p)
            .msg
            .as_deref()
            .map(|m| {
                m.hops
                    .iter()
                    .map(|&h| &l.hops[h as usize])
                    .filter(|h| h.producer == p && h.sub == si)
                    .map(|h| cx.s(cx.sp(h.delivery).service))
                    .collect()
            })
            .unwrap_or_default();
        consumers.sort_unstable();
        consumers.dedup();
        let pf = cx.sp(p);
        out.push(Insight {
            kind: InsightKind::DuplicateDelivery,
            severity: Severity::Warning,
            flow: flow_of(cx, flows, p),
            detail: format!(
                "{} from {} ({}) on {} was processed {n} times by subscription {} ({}): missing idempotency",
                message(cx, p),
                cx.s(pf.service),
                cx.s(pf.name),
                cx.dest_id(sub.dest),
                cx.s(sub.group),
                consumers.join(", ")
            ),
        });
    }
}

fn unconsumed_event(cx: &Cx<'_>, flows: &dyn FlowOf, out: &mut Vec<Insight>) {
    let l = cx.l;
    for sub in &l.agg.subs {
        if sub.consumed == 0 {
            continue;
        }
        let mut old: Vec<(u64, u32)> = sub
            .unconsumed
            .iter()
            .map(|&p| (cx.sp(p).end, p))
            .filter(|(end, _)| cx.age(*end) > cx.opts.stuck_after_ns)
            .collect();
        old.sort_by_key(|&(end, p)| (end, cx.key(p)));
        for &(end, p) in old.iter().take(UNCONSUMED_PER_SUBSCRIPTION) {
            let pf = cx.sp(p);
            out.push(Insight {
                kind: InsightKind::UnconsumedEvent,
                severity: Severity::Warning,
                flow: flow_of(cx, flows, p),
                detail: format!(
                    "{} from {} ({}) to {} has waited {} for a consumer in subscription {}",
                    message(cx, p),
                    cx.s(pf.service),
                    cx.s(pf.name),
                    cx.dest_id(sub.key.dest),
                    human(cx.age(end)),
                    cx.s(sub.key.group)
                ),
            });
        }
        if old.len() > UNCONSUMED_PER_SUBSCRIPTION {
            out.push(Insight {
                kind: InsightKind::UnconsumedEvent,
                severity: Severity::Warning,
                flow: None,
                detail: format!(
                    "and {} more messages to {} unconsumed by subscription {}",
                    old.len() - UNCONSUMED_PER_SUBSCRIPTION,
                    cx.dest_id(sub.key.dest),
                    cx.s(sub.key.group)
                ),
            });
        }
    }
}

/// An error span of trace `trace` whose error climbs through parents (not across hops) through
/// at least two calls: from the failing service, through a middle one, to a caller. The
/// longest such chain of the trace, in words.
pub(crate) fn cascade_in(cx: &Cx<'_>, trace: u32) -> Option<String> {
    let l = cx.l;
    let tr = &l.traces[trace as usize];
    if tr.errors < 2 {
        return None;
    }
    // (chain length, origin order, origin, services from the origin up).
    let mut best: Option<(usize, SpanKey, u32, Vec<&str>)> = None;
    for &s in &tr.spans {
        let f = cx.sp(s);
        if !f.is_error() || l.children(s).iter().any(|&c| cx.sp(c).is_error()) {
            continue;
        }
        let mut chain = vec![cx.s(f.service)];
        let mut a = s;
        for _ in 0..MAX_DEPTH {
            let af = cx.sp(a);
            let p = af.parent;
            if p == NONE || !cx.sp(p).is_error() {
                break;
            }
            if l.is_producer(p) && l.is_consumer(a) {
                break;
            }
            let service = cx.s(cx.sp(p).service);
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
    let f = cx.sp(origin);
    Some(format!(
        "error in {} ({}) climbed the sync chain {}",
        cx.s(f.service),
        cx.s(f.name),
        chain.join(" → ")
    ))
}

/// The nearest ancestor of `s` (not `s` itself) that is a hop's delivery.
fn upstream_delivery(cx: &Cx<'_>, s: u32) -> Option<u32> {
    let mut a = cx.sp(s).parent;
    for _ in 0..MAX_DEPTH {
        if a == NONE {
            return None;
        }
        let f = cx.sp(a);
        if let Some(m) = f.msg.as_deref()
            && m.hops.iter().any(|&h| cx.l.hops[h as usize].delivery == a)
        {
            return Some(a);
        }
        a = f.parent;
    }
    None
}

/// A caller blocked across an async round trip: a span that produced (through its
/// descendants) a message whose consumer answered with a message consumed back in the
/// caller's service while the caller was still open. `hops` are the answering hops to look
/// at (every hop, or those produced in some traces).
pub(crate) fn sync_over_async_from(
    cx: &Cx<'_>,
    hops: impl Iterator<Item = u32>,
) -> Vec<SyncOverAsync> {
    let l = cx.l;
    let mut found = Vec::new();
    for h2 in hops {
        let hop2 = &l.hops[h2 as usize];
        let (p2, c2) = (hop2.producer, hop2.delivery);
        let Some(x) = upstream_delivery(cx, p2) else { continue };
        let Some(xm) = cx.sp(x).msg.as_deref() else { continue };
        // Read only now: most producers are not answering a delivery.
        let c2f = cx.sp(c2);
        for &h1 in &xm.hops {
            let hop1 = &l.hops[h1 as usize];
            if hop1.delivery != x {
                continue;
            }
            let p1 = hop1.producer;
            let p1f = cx.sp(p1);
            let mut a = p1f.parent;
            for _ in 0..MAX_DEPTH {
                if a == NONE {
                    break;
                }
                let af = cx.sp(a);
                if af.service == c2f.service && af.start <= p1f.start && af.end >= c2f.end {
                    found.push((a, hop1.dest, x, hop2.dest));
                    break;
                }
                a = af.parent;
            }
        }
    }
    found
}

fn sync_over_async(
    cx: &Cx<'_>,
    flows: &dyn FlowOf,
    mut found: Vec<SyncOverAsync>,
    out: &mut Vec<Insight>,
) {
    let mut seen: Vec<u32> = Vec::new();
    found.sort_by_key(|(a, _, _, _)| cx.key(*a));
    for (a, d1, x, d2) in found {
        if seen.contains(&a) {
            continue;
        }
        seen.push(a);
        let af = cx.sp(a);
        out.push(Insight {
            kind: InsightKind::SyncOverAsync,
            severity: Severity::Warning,
            flow: flow_of(cx, flows, a),
            detail: format!(
                "{} ({}) was blocked {} across an async round trip: {} → {} → {}",
                cx.s(af.service),
                cx.s(af.name),
                human(af.duration()),
                cx.dest_id(d1),
                cx.s(cx.sp(x).service),
                cx.dest_id(d2)
            ),
        });
    }
}

fn failed_compensation(cx: &Cx<'_>, flows: &dyn FlowOf, sagas: &SagaSet, out: &mut Vec<Insight>) {
    for (saga, s) in &sagas.failed_compensations {
        let f = cx.sp(*s);
        let step =
            f.saga.as_deref().and_then(|x| x.step_name.as_deref()).unwrap_or_else(|| cx.s(f.name));
        out.push(Insight {
            kind: InsightKind::FailedCompensation,
            severity: Severity::Error,
            flow: flow_of(cx, flows, *s),
            detail: format!(
                "saga {} {} ({}): compensation {} in {} failed, the saga is left half undone",
                saga.name,
                saga.id,
                saga.source,
                step,
                cx.s(f.service)
            ),
        });
    }
}
