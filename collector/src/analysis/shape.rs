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
use crate::link::facts::{ARCH, SpanFacts, WRITE_METHOD};
use crate::link::few::Few;
use crate::link::slot::{SpanSlot, TraceSlot};
use crate::model::{SpanKind, Sym};

/// A handler whose events' handlers did nothing is "almost nothing" below this duration.
const TRIVIAL_HANDLER_NS: u64 = 5_000_000;
/// Spans of a handler's subtree looked at to tell whether it did anything.
const SUBTREE_LIMIT: usize = 64;
/// Services called in sequence for side effects that make a synchronous fan-out.
pub const FANOUT_SERVICES: usize = 4;

/// What one flow's structure says (not in the JSON document; the analyses sum it up).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowShape {
    /// The root span's service and name: the operation the flow is a request of.
    pub root: (Sym, Sym),
    /// The services of the flow, without repeats (in no particular order).
    pub services: Vec<Sym>,
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
    /// Handlers calling [`FANOUT_SERVICES`] or more services one after another for side
    /// effects while a caller waited.
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

/// Lists [`of_flow`] fills and empties again, kept per thread: a shape is built for every
/// flow, and allocating them each time cost more than the rest of the work.
#[derive(Default)]
struct Scratch {
    /// (commander, commanded, async).
    pairs: Vec<(Sym, Sym, bool)>,
    /// Hops that are part of a command/reply pair: (producer, delivery).
    paired: Vec<(SpanSlot, SpanSlot)>,
    /// Every hop within the flow: (producer, delivery).
    hops: Vec<(SpanSlot, SpanSlot)>,
    /// Per producer: (service, operation, entry span) of the handler it runs in.
    entries: Vec<(Sym, Sym, SpanSlot)>,
    /// A handler's calls for side effects: (start, end, callee).
    calls: Vec<(u64, u64, Sym)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// A walk's stack: inline for the usual handful of spans.
type Stack = Few<SpanSlot, 16>;

/// The shape of the flow whose traces are `members`.
pub(crate) fn of_flow(
    cx: &Ctx<'_>,
    members: &[TraceSlot],
    in_flow: &dyn Fn(TraceSlot) -> bool,
) -> FlowShape {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => shape_with(cx, members, in_flow, &mut scratch),
        // Never re-entered; if it were, fresh lists do the same work.
        Err(_) => shape_with(cx, members, in_flow, &mut Scratch::default()),
    })
}

fn shape_with(
    cx: &Ctx<'_>,
    members: &[TraceSlot],
    in_flow: &dyn Fn(TraceSlot) -> bool,
    scratch: &mut Scratch,
) -> FlowShape {
    let linker = cx.linker;
    let mut shape = FlowShape::default();
    let Scratch { pairs, paired, hops: all_hops, entries, calls } = scratch;
    pairs.clear();
    paired.clear();
    all_hops.clear();
    entries.clear();
    for &t in members {
        // A fan-out calls FANOUT_SERVICES other services, each a span in the handler's trace.
        let may_fan_out = linker.traces[t].services.len() > FANOUT_SERVICES;
        for &s in &linker.traces[t].spans {
            let f = cx.span(s);
            if let Some(p) = f.parent {
                let pf = cx.span(p);
                if pf.service != f.service && !linker.is_consumer(s) && !linker.is_producer(p) {
                    shape.sync_calls += 1;
                    pairs.push((pf.service, f.service, false));
                }
            }
            if may_fan_out
                && f.kind == SpanKind::Server
                && !linker.is_consumer(s)
                && f.parent.is_none_or(|p| cx.span(p).service != f.service)
            {
                fanout(cx, s, calls, &mut shape.fanouts);
            }
            if let Some(facts) = linker.arch_facts(s)
                && let Some(table) = &facts.table_write
            {
                shape.tables.push((table.clone(), f.service));
            }
            if !linker.is_producer(s) {
                continue;
            }
            shape.events += 1;
            let Some(m) = f.msg.as_deref() else { continue };
            let mut out: Few<SpanSlot, 4> = Few::default();
            for &h in &m.hops {
                let h = &linker.hops[h];
                if h.producer == s && in_flow(cx.span(h.delivery).trace) {
                    out.push(h.delivery);
                }
            }
            let out = out.as_slice();
            all_hops.extend(out.iter().map(|&d| (s, d)));
            emitted(cx, s, f, out, &mut shape.emitters, entries);
            if f.is(ARCH) || out.iter().any(|&d| cx.span(d).is(ARCH)) {
                versions(cx, s, out, &mut shape.versions);
            }
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
                for &d in out {
                    if cx.span(d).service == a {
                        pairs.push((a, xf.service, true));
                        paired.push((hop1.producer, x));
                        paired.push((s, d));
                    }
                }
            }
        }
    }
    let hops = all_hops.len();
    shape.tables.sort_unstable();
    shape.tables.dedup();
    merge_emitters(&mut shape.emitters, entries);
    // The coordinator: the service commanding the most distinct services, at least two,
    // at least one of them through a message (calls alone are a sync call tree).
    pairs.sort_unstable();
    pairs.dedup();
    let mut best: Option<(usize, u32, Sym)> = None;
    let mut i = 0;
    while i < pairs.len() {
        let a = pairs[i].0;
        let (mut partners, mut by_message) = (0usize, 0u32);
        // Sorted and without repeats: each commanded service once, by message (true)
        // after by call.
        let mut last: Option<Sym> = None;
        while i < pairs.len() && pairs[i].0 == a {
            if last != Some(pairs[i].1) {
                partners += 1;
                last = Some(pairs[i].1);
            }
            by_message += u32::from(pairs[i].2);
            i += 1;
        }
        let candidate = partners >= 2 && by_message > 0;
        let better = best.is_none_or(|(n, m, b)| {
            (partners, by_message) > (n, m)
                || ((partners, by_message) == (n, m) && cx.str(a) < cx.str(b))
        });
        if candidate && better {
            best = Some((partners, by_message, a));
        }
    }
    if let Some((_, by_message, a)) = best {
        let mut partners: Vec<Sym> = pairs.iter().filter(|p| p.0 == a).map(|p| p.1).collect();
        partners.sort_by_key(|s| cx.str(*s));
        partners.dedup();
        shape.async_partners = by_message;
        shape.partners = partners;
        shape.coordinator = Some(a);
    }
    paired.sort_unstable();
    paired.dedup();
    shape.style = if hops == 0 {
        FlowStyle::Sync
    } else if shape.coordinator.is_some() {
        // Every hop a command answered (of the coordinator's or anyone's) or its reply:
        // orchestration. An event nobody answers, even the coordinator's, makes it hybrid.
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

/// Counts producer `s`'s events under its handler's operation, and notes the handler (its
/// entry span) in `entries`: the requests are the distinct handlers.
fn emitted(
    cx: &Ctx<'_>,
    s: SpanSlot,
    f: &SpanFacts,
    deliveries: &[SpanSlot],
    emitters: &mut Vec<Emitter>,
    entries: &mut Vec<(Sym, Sym, SpanSlot)>,
) {
    let e = entry(cx, s);
    let operation = cx.span(e).name;
    let trivial = deliveries.iter().filter(|&&d| does_nothing(cx, d)).count() as u64;
    entries.push((f.service, operation, e));
    emitters.push(Emitter {
        service: f.service,
        operation,
        requests: 0,
        events: 1,
        deliveries: deliveries.len() as u64,
        trivial,
    });
}

/// Sums emitters of the same operation, and counts each one's requests: the distinct
/// handlers in `entries`.
fn merge_emitters(emitters: &mut Vec<Emitter>, entries: &mut [(Sym, Sym, SpanSlot)]) {
    if emitters.is_empty() {
        return;
    }
    emitters.sort_by_key(|e| (e.service, e.operation));
    emitters.dedup_by(|e, into| {
        let same = e.service == into.service && e.operation == into.operation;
        if same {
            into.events += e.events;
            into.deliveries += e.deliveries;
            into.trivial += e.trivial;
        }
        same
    });
    entries.sort_unstable();
    let mut at = 0;
    for (i, &(service, operation, e)) in entries.iter().enumerate() {
        if i > 0 && entries[i - 1] == (service, operation, e) {
            continue;
        }
        while at < emitters.len()
            && (emitters[at].service, emitters[at].operation) < (service, operation)
        {
            at += 1;
        }
        if let Some(em) = emitters.get_mut(at)
            && (em.service, em.operation) == (service, operation)
        {
            em.requests += 1;
        }
    }
}

/// Whether the handler of delivery `d` did almost nothing: short, and nothing under it
/// called out, wrote or emitted.
fn does_nothing(cx: &Ctx<'_>, d: SpanSlot) -> bool {
    let f = cx.span(d);
    if f.duration() >= TRIVIAL_HANDLER_NS {
        return false;
    }
    let mut stack = Stack::default();
    stack.push(d);
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
                || cx.linker.arch_facts(s).is_some_and(|a| a.table_write.is_some()))
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
    let mut stack = Stack::default();
    stack.push(d);
    let mut seen = 0;
    while let Some(s) = stack.pop() {
        seen += 1;
        if seen > SUBTREE_LIMIT {
            break;
        }
        let f = cx.span(s);
        if f.is_error() {
            failed = true;
            shape |= cx.linker.arch_facts(s).is_some_and(|a| a.deserialization_error);
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
    let from_producer = linker.arch_facts(p).filter(|a| a.event_type.is_some());
    for &d in deliveries {
        let Some(facts) = from_producer.or_else(|| linker.arch_facts(d)) else { continue };
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

/// Records handler `s` (a server span its caller waits on: called from another service, or
/// the flow's entry) in `out` if it calls [`FANOUT_SERVICES`] or more services one after
/// another for side effects.
fn fanout(cx: &Ctx<'_>, s: SpanSlot, calls: &mut Vec<(u64, u64, Sym)>, out: &mut Vec<Fanout>) {
    side_effect_calls(cx, s, calls);
    if calls.len() < FANOUT_SERVICES {
        return;
    }
    // One after another: each starts once the previous one is over.
    let (mut callees, mut waited, mut last_end): (Vec<Sym>, u64, Option<u64>) =
        (Vec::new(), 0, None);
    for &(start, end, callee) in calls.iter() {
        if last_end.is_none_or(|l| start >= l) {
            last_end = Some(end);
            waited += end - start;
            if !callees.contains(&callee) {
                callees.push(callee);
            }
        }
    }
    if callees.len() < FANOUT_SERVICES {
        return;
    }
    let f = cx.span(s);
    out.push(Fanout { service: f.service, operation: f.name, callees, waited_ns: waited });
}

/// The calls (start, end, callee service) handler `h` made to other services for side
/// effects (a state-changing method, or a callee that writes or emits), by start, into
/// `calls`.
fn side_effect_calls(cx: &Ctx<'_>, h: SpanSlot, calls: &mut Vec<(u64, u64, Sym)>) {
    let linker = cx.linker;
    let service = cx.span(h).service;
    calls.clear();
    let mut stack = Stack::default();
    stack.push(h);
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
                let wm = |y: SpanSlot| cx.span(y).is(WRITE_METHOD);
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
}

/// Whether the same-service subtree of `s` writes a table or emits a message.
fn writes_or_emits(cx: &Ctx<'_>, s: SpanSlot) -> bool {
    let service = cx.span(s).service;
    let mut stack = Stack::default();
    stack.push(s);
    let mut seen = 0;
    while let Some(x) = stack.pop() {
        seen += 1;
        if seen > SUBTREE_LIMIT {
            return false;
        }
        if cx.linker.is_producer(x)
            || cx.linker.arch_facts(x).is_some_and(|a| a.table_write.is_some())
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
    let mut stack = Stack::default();
    stack.push(s);
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
