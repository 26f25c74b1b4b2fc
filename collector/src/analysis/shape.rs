//! The shape of one flow, read from its structure: calls between services, messages and who
//! answered them, tables written, event versions consumed. From it come the flow's
//! interaction style and coordinator, and (summed over flows, O(flows)) the architecture rows
//! and the anti-pattern insights.
//!
//! Command/reply pairs are found from structure, never from names: a message from service A
//! handled in service B, whose handling sends a message consumed back in A, is a command
//! (A → B) and its reply. A synchronous call from A to B is a command whose reply is the
//! response.

use super::{Ctx, FlowStyle, SagaStyle};
use crate::link::MAX_DEPTH;
use crate::link::facts::SpanFacts;
use crate::link::slot::{SpanSlot, TraceSlot};
use crate::model::{SpanKind, Sym};

/// A handler whose events' handlers did nothing is "almost nothing" below this duration.
const TRIVIAL_HANDLER_NS: u64 = 5_000_000;
/// Spans of a handler's subtree looked at to tell whether it did anything.
const SUBTREE_LIMIT: usize = 64;

/// What one flow's structure says (not in the JSON document; the analyses sum it up).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowShape {
    pub style: FlowStyle,
    pub coordinator: Option<Sym>,
    /// The services the coordinator commanded or called, sorted.
    pub partners: Vec<Sym>,
    /// How many of them answered a message (not a call).
    pub async_partners: u32,
    /// Calls from one service to another.
    pub sync_calls: u64,
    /// Messages produced.
    pub events: u64,
    /// Per operation that emitted: how much, and what its events' handlers did.
    pub emitters: Vec<Emitter>,
    /// (table, writing service), sorted, without repeats.
    pub tables: Vec<(Box<str>, Sym)>,
    /// Handlers calling services one after another for side effects while a caller waited.
    pub fanouts: Vec<Fanout>,
    /// Versioned events consumed: per (destination, type, version), how it went.
    pub versions: Vec<VersionSeen>,
}

/// An operation (service, entry span name) that emitted messages in a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitter {
    pub service: Sym,
    pub operation: Sym,
    /// Handler invocations (entry spans) that emitted.
    pub requests: u64,
    pub events: u64,
    /// Deliveries of its events, and those whose handler did almost nothing.
    pub deliveries: u64,
    pub trivial: u64,
}

/// A handler calling services in sequence for side effects while its caller waited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fanout {
    pub service: Sym,
    pub operation: Sym,
    /// The services called for side effects, in call order (distinct).
    pub callees: Vec<Sym>,
    /// How long the caller waited on them (sum of the calls).
    pub waited_ns: u64,
}

/// One versioned event's consumption in a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSeen {
    /// `<system>:<destination>`.
    pub destination: String,
    pub event_type: Box<str>,
    pub version: Box<str>,
    pub consumers: Vec<Sym>,
    /// The consumers whose handler failed on it.
    pub failing: Vec<Sym>,
    pub consumed: u64,
    pub failed: u64,
    pub deserialization: u64,
}

/// The shape of the flow whose traces are `members`.
pub(crate) fn of_flow(
    cx: &Ctx<'_>,
    members: &[TraceSlot],
    in_flow: &dyn Fn(TraceSlot) -> bool,
) -> FlowShape {
    let linker = cx.linker;
    let mut shape = FlowShape::default();
    // (commander, commanded, async).
    let mut pairs: Vec<(Sym, Sym, bool)> = Vec::new();
    let mut hops = 0u64;
    // Hops that are part of a command/reply pair: (producer, delivery).
    let mut paired: Vec<(SpanSlot, SpanSlot)> = Vec::new();
    let mut all_hops: Vec<(SpanSlot, SpanSlot)> = Vec::new();
    for &t in members {
        for &s in &linker.traces[t].spans {
            let f = cx.span(s);
            if let Some(p) = f.parent {
                let pf = cx.span(p);
                if pf.service != f.service && !linker.is_consumer(s) && !linker.is_producer(p) {
                    shape.sync_calls += 1;
                    pairs.push((pf.service, f.service, false));
                }
            }
            if let Some(facts) = linker.arch.get(s)
                && let Some(table) = &facts.table_write
            {
                shape.tables.push((table.clone(), f.service));
            }
            if !linker.is_producer(s) {
                continue;
            }
            shape.events += 1;
            let Some(m) = f.msg.as_deref() else { continue };
            let out: Vec<SpanSlot> = m
                .hops
                .iter()
                .map(|&h| &linker.hops[h])
                .filter(|h| h.producer == s && in_flow(cx.span(h.delivery).trace))
                .map(|h| h.delivery)
                .collect();
            hops += out.len() as u64;
            all_hops.extend(out.iter().map(|&d| (s, d)));
            emitted(cx, s, f, &out, &mut shape.emitters);
            versions(cx, s, &out, &mut shape.versions);
            // A reply: this message answers the delivery it is handling, back to the
            // service that sent that one.
            let Some(x) = upstream_delivery(cx, s) else { continue };
            let xf = cx.span(x);
            let Some(xm) = xf.msg.as_deref() else { continue };
            for &h1 in &xm.hops {
                let hop1 = &linker.hops[h1];
                if hop1.delivery != x {
                    continue;
                }
                let a = cx.span(hop1.producer).service;
                if a == xf.service {
                    continue;
                }
                for &d in &out {
                    if cx.span(d).service == a {
                        pairs.push((a, xf.service, true));
                        paired.push((hop1.producer, x));
                        paired.push((s, d));
                    }
                }
            }
        }
    }
    fanouts(cx, members, &mut shape.fanouts);
    shape.tables.sort_unstable();
    shape.tables.dedup();
    shape.emitters.sort_by_key(|e| (e.service, e.operation));
    merge_emitters(&mut shape.emitters);
    // The coordinator: the service commanding the most distinct services, at least two,
    // at least one of them through a message (calls alone are a sync call tree).
    pairs.sort_unstable();
    pairs.dedup();
    let mut best: Option<(usize, u32, Sym)> = None;
    let mut i = 0;
    while i < pairs.len() {
        let a = pairs[i].0;
        let mut partners: Vec<Sym> = Vec::new();
        let mut by_message: Vec<Sym> = Vec::new();
        while i < pairs.len() && pairs[i].0 == a {
            partners.push(pairs[i].1);
            if pairs[i].2 {
                by_message.push(pairs[i].1);
            }
            i += 1;
        }
        partners.dedup();
        by_message.dedup();
        let key = (partners.len(), by_message.len() as u32, a);
        let candidate = partners.len() >= 2 && !by_message.is_empty();
        let better = best.is_none_or(|(n, m, b)| {
            (key.0, key.1) > (n, m) || ((key.0, key.1) == (n, m) && cx.str(a) < cx.str(b))
        });
        if candidate && better {
            best = Some(key);
        }
    }
    if let Some((_, _, a)) = best {
        let mut partners: Vec<Sym> = pairs.iter().filter(|p| p.0 == a).map(|p| p.1).collect();
        partners.sort_by_key(|s| cx.str(*s));
        partners.dedup();
        shape.async_partners =
            pairs.iter().filter(|p| p.0 == a && p.2).map(|p| p.1).collect::<Vec<_>>().len() as u32;
        shape.partners = partners;
        shape.coordinator = Some(a);
    }
    paired.sort_unstable();
    paired.dedup();
    shape.style = if hops == 0 {
        FlowStyle::Sync
    } else if let Some(a) = shape.coordinator {
        // Every hop a command answered (of the coordinator's or anyone's) or its reply:
        // orchestration. An event nobody answers, even the coordinator's, makes it hybrid.
        let _ = a;
        let own = all_hops.iter().all(|&hop| paired.binary_search(&hop).is_ok());
        if own { FlowStyle::Orchestration } else { FlowStyle::Hybrid }
    } else if pairs.iter().any(|p| p.2) {
        FlowStyle::Hybrid
    } else {
        FlowStyle::Choreography
    };
    shape
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

/// The entry span of the handler `s` runs in: its topmost ancestor in the same service.
fn entry(cx: &Ctx<'_>, s: SpanSlot) -> SpanSlot {
    let service = cx.span(s).service;
    let mut at = s;
    for _ in 0..MAX_DEPTH {
        match cx.span(at).parent {
            Some(p) if cx.span(p).service == service => at = p,
            _ => break,
        }
    }
    at
}

/// Counts producer `s`'s events under its handler's operation.
fn emitted(
    cx: &Ctx<'_>,
    s: SpanSlot,
    f: &SpanFacts,
    deliveries: &[SpanSlot],
    emitters: &mut Vec<Emitter>,
) {
    let e = entry(cx, s);
    let operation = cx.span(e).name;
    let trivial = deliveries.iter().filter(|&&d| does_nothing(cx, d)).count() as u64;
    // One request per entry span: the first of its producers counts it.
    let first = first_producer_under(cx, e) == Some(s);
    emitters.push(Emitter {
        service: f.service,
        operation,
        requests: u64::from(first),
        events: 1,
        deliveries: deliveries.len() as u64,
        trivial,
    });
}

/// Sums emitters of the same operation (sorted by it).
fn merge_emitters(emitters: &mut Vec<Emitter>) {
    let mut out: Vec<Emitter> = Vec::with_capacity(emitters.len());
    for e in emitters.drain(..) {
        match out.last_mut() {
            Some(l) if l.service == e.service && l.operation == e.operation => {
                l.requests += e.requests;
                l.events += e.events;
                l.deliveries += e.deliveries;
                l.trivial += e.trivial;
            }
            _ => out.push(e),
        }
    }
    *emitters = out;
}

/// The earliest producer span (by order key) in the same-service subtree of `e`.
fn first_producer_under(cx: &Ctx<'_>, e: SpanSlot) -> Option<SpanSlot> {
    let service = cx.span(e).service;
    let mut best: Option<SpanSlot> = None;
    let mut stack = vec![e];
    let mut seen = 0;
    while let Some(s) = stack.pop() {
        seen += 1;
        if seen > 4 * SUBTREE_LIMIT {
            break;
        }
        if cx.linker.is_producer(s) && best.is_none_or(|b| cx.key(s) < cx.key(b)) {
            best = Some(s);
        }
        let mut c = cx.span(s).first_child;
        while let Some(x) = c {
            if cx.span(x).service == service {
                stack.push(x);
            }
            c = cx.span(x).next_sibling;
        }
    }
    best
}

/// Whether the handler of delivery `d` did almost nothing: short, and nothing under it
/// called out, wrote or emitted.
fn does_nothing(cx: &Ctx<'_>, d: SpanSlot) -> bool {
    let f = cx.span(d);
    if f.duration() >= TRIVIAL_HANDLER_NS {
        return false;
    }
    let mut stack = vec![d];
    let mut seen = 0;
    while let Some(s) = stack.pop() {
        seen += 1;
        if seen > SUBTREE_LIMIT {
            return false;
        }
        let sf = cx.span(s);
        if s != d
            && (matches!(sf.kind, SpanKind::Client | SpanKind::Producer)
                || cx.linker.is_producer(s)
                || cx.linker.arch.get(s).is_some_and(|a| a.table_write.is_some()))
        {
            return false;
        }
        let mut c = sf.first_child;
        while let Some(x) = c {
            stack.push(x);
            c = cx.span(x).next_sibling;
        }
    }
    true
}

/// Whether the same-service subtree of `d` holds an error, and whether one is a
/// deserialization error.
fn handler_failed(cx: &Ctx<'_>, d: SpanSlot) -> (bool, bool) {
    let service = cx.span(d).service;
    let (mut failed, mut shape) = (false, false);
    let mut stack = vec![d];
    let mut seen = 0;
    while let Some(s) = stack.pop() {
        seen += 1;
        if seen > SUBTREE_LIMIT {
            break;
        }
        let f = cx.span(s);
        if f.is_error() {
            failed = true;
            shape |= cx.linker.arch.get(s).is_some_and(|a| a.deserialization_error);
        }
        let mut c = f.first_child;
        while let Some(x) = c {
            if cx.span(x).service == service {
                stack.push(x);
            }
            c = cx.span(x).next_sibling;
        }
    }
    (failed, shape)
}

/// Records how the versioned event producer `p` sent was consumed.
fn versions(cx: &Ctx<'_>, p: SpanSlot, deliveries: &[SpanSlot], out: &mut Vec<VersionSeen>) {
    let linker = cx.linker;
    let from_producer = linker.arch.get(p).filter(|a| a.event_type.is_some());
    for &d in deliveries {
        let Some(facts) = from_producer.or_else(|| linker.arch.get(d)) else { continue };
        let (Some(ty), Some(version)) = (&facts.event_type, &facts.version) else { continue };
        let Some(m) = cx.span(d).msg.as_deref() else { continue };
        let Some(hop) = m.hops.iter().map(|&h| &linker.hops[h]).find(|h| h.delivery == d) else {
            continue;
        };
        let destination = cx.dest_id(hop.dest);
        let (failed, shape) = handler_failed(cx, d);
        let consumer = cx.span(d).service;
        let seen = VersionSeen {
            destination,
            event_type: ty.clone(),
            version: version.clone(),
            consumers: vec![consumer],
            failing: if failed { vec![consumer] } else { Vec::new() },
            consumed: 1,
            failed: u64::from(failed),
            deserialization: u64::from(shape),
        };
        match out.iter_mut().find(|v| {
            v.destination == seen.destination
                && v.event_type == seen.event_type
                && v.version == seen.version
        }) {
            Some(v) => {
                v.consumed += 1;
                v.failed += seen.failed;
                v.deserialization += seen.deserialization;
                if !v.consumers.contains(&consumer) {
                    v.consumers.push(consumer);
                }
                if failed && !v.failing.contains(&consumer) {
                    v.failing.push(consumer);
                }
            }
            None => out.push(seen),
        }
    }
}

/// Handlers in `members` that a caller waits on (a server span called from another service,
/// or the flow's entry) and that call services one after another for side effects.
fn fanouts(cx: &Ctx<'_>, members: &[TraceSlot], out: &mut Vec<Fanout>) {
    let linker = cx.linker;
    for &t in members {
        for &s in &linker.traces[t].spans {
            let f = cx.span(s);
            if f.kind != SpanKind::Server || linker.is_consumer(s) {
                continue;
            }
            if f.parent.is_some_and(|p| cx.span(p).service == f.service) {
                continue;
            }
            let calls = side_effect_calls(cx, s);
            if calls.len() < 2 {
                continue;
            }
            // One after another: each starts once the previous one is over.
            let mut seq: Vec<(u64, u64, Sym)> = Vec::new();
            for c in calls {
                if seq.last().is_none_or(|l| c.0 >= l.1) {
                    seq.push(c);
                }
            }
            let mut callees: Vec<Sym> = Vec::new();
            for c in &seq {
                if !callees.contains(&c.2) {
                    callees.push(c.2);
                }
            }
            if callees.len() < 2 {
                continue;
            }
            out.push(Fanout {
                service: f.service,
                operation: f.name,
                callees,
                waited_ns: seq.iter().map(|c| c.1 - c.0).sum(),
            });
        }
    }
}

/// The calls (start, end, callee service) handler `h` made to other services for side
/// effects (a state-changing method, or a callee that writes or emits), by start.
fn side_effect_calls(cx: &Ctx<'_>, h: SpanSlot) -> Vec<(u64, u64, Sym)> {
    let linker = cx.linker;
    let service = cx.span(h).service;
    let mut calls = Vec::new();
    let mut stack = vec![h];
    let mut seen = 0;
    while let Some(s) = stack.pop() {
        seen += 1;
        if seen > 4 * SUBTREE_LIMIT {
            break;
        }
        let mut c = cx.span(s).first_child;
        while let Some(x) = c {
            let xf = cx.span(x);
            c = xf.next_sibling;
            if xf.service == service {
                stack.push(x);
            } else if xf.kind == SpanKind::Server && !linker.is_consumer(x) {
                let wm = |y: SpanSlot| linker.arch.get(y).is_some_and(|a| a.write_method);
                if wm(s) || wm(x) || writes_or_emits(cx, x) {
                    let pf = cx.span(s);
                    let (start, end) = if pf.kind == SpanKind::Client {
                        (pf.start, pf.end)
                    } else {
                        (xf.start, xf.end)
                    };
                    calls.push((start, end, xf.service));
                }
            }
        }
    }
    calls.sort_unstable_by_key(|c| (c.0, c.1));
    calls
}

/// Whether the same-service subtree of `s` writes a table or emits a message.
fn writes_or_emits(cx: &Ctx<'_>, s: SpanSlot) -> bool {
    let service = cx.span(s).service;
    let mut stack = vec![s];
    let mut seen = 0;
    while let Some(x) = stack.pop() {
        seen += 1;
        if seen > SUBTREE_LIMIT {
            return false;
        }
        if cx.linker.is_producer(x)
            || cx.linker.arch.get(x).is_some_and(|a| a.table_write.is_some())
        {
            return true;
        }
        let mut c = cx.span(x).first_child;
        while let Some(y) = c {
            if cx.span(y).service == service {
                stack.push(y);
            }
            c = cx.span(y).next_sibling;
        }
    }
    false
}

/// How a saga is driven: orchestrated by the service of its saga span (a workflow, a saga
/// root) if it has one; else by the service that caused (sent the message or made the call
/// that started) steps in two or more other services, at least half of the steps outside
/// it; else choreographed.
pub(crate) fn saga_style(
    cx: &Ctx<'_>,
    root: Option<SpanSlot>,
    steps: &[SpanSlot],
) -> (SagaStyle, Option<Sym>) {
    if let Some(r) = root {
        return (SagaStyle::Orchestrated, Some(cx.span(r).service));
    }
    // (cause, step service, the cause continued on an answer: a call, or a reply message).
    let causes: Vec<(Sym, Sym, bool)> = steps
        .iter()
        .filter_map(|&s| {
            cause(cx, s).map(|(c, call)| (c, cx.span(s).service, call || answered(cx, s, c)))
        })
        .collect();
    let mut best: Option<(usize, Sym)> = None;
    for &(c, _, _) in &causes {
        if !causes.iter().any(|x| x.0 == c && x.2) {
            continue;
        }
        let mut services: Vec<Sym> =
            causes.iter().filter(|x| x.0 == c && x.1 != c).map(|x| x.1).collect();
        let caused = services.len();
        services.sort_unstable();
        services.dedup();
        let outside = steps.iter().filter(|&&s| cx.span(s).service != c).count();
        if services.len() >= 2
            && 2 * caused >= outside
            && best.is_none_or(|(n, b)| caused > n || (caused == n && cx.str(c) < cx.str(b)))
        {
            best = Some((caused, c));
        }
    }
    match best {
        Some((_, c)) => (SagaStyle::Orchestrated, Some(c)),
        None => (SagaStyle::Choreographed, None),
    }
}

/// Whether the handling of step `s` sent a message consumed back in service `c`.
fn answered(cx: &Ctx<'_>, s: SpanSlot, c: Sym) -> bool {
    let service = cx.span(s).service;
    let mut stack = vec![s];
    let mut seen = 0;
    while let Some(x) = stack.pop() {
        seen += 1;
        if seen > SUBTREE_LIMIT {
            return false;
        }
        let f = cx.span(x);
        if let Some(m) = f.msg.as_deref()
            && m.hops
                .iter()
                .map(|&h| &cx.linker.hops[h])
                .any(|h| h.producer == x && cx.span(h.delivery).service == c)
        {
            return true;
        }
        let mut ch = f.first_child;
        while let Some(y) = ch {
            if cx.span(y).service == service {
                stack.push(y);
            }
            ch = cx.span(y).next_sibling;
        }
    }
    false
}

/// The service that started step span `s` (the producer of the message its handling
/// delivered, or the caller of the call it serves), and whether it was a call.
fn cause(cx: &Ctx<'_>, s: SpanSlot) -> Option<(Sym, bool)> {
    let service = cx.span(s).service;
    let mut at = s;
    for _ in 0..MAX_DEPTH {
        let f = cx.span(at);
        if let Some(m) = f.msg.as_deref()
            && let Some(h) = m.hops.iter().map(|&h| &cx.linker.hops[h]).find(|h| h.delivery == at)
        {
            let p = cx.span(h.producer).service;
            return (p != service).then_some((p, false));
        }
        let p = f.parent?;
        let pf = cx.span(p);
        if pf.service != service {
            return Some((pf.service, true));
        }
        at = p;
    }
    None
}
