//! Flows: a root trace plus every trace reachable downstream through hops.
//!
//! Membership is a walk of the linker's trace graph from each root (a trace with no hop into
//! it). A batch consumer's trace reached from several roots belongs to each of their flows;
//! flows are never merged. Traces only reachable through a cycle (request/reply across
//! traces) get the cycle's earliest trace as root.

use rustc_hash::FxHashSet;

use super::pending::Pending;
use super::sagas::SagaSet;
use super::shape::FlowShape;
use super::tally::Tally;
use super::{Ctx, Flow, FlowRoot, FlowStatus, Text};
use crate::link::TraceHops;
use crate::link::slot::{BySlot, TraceSlot};
use crate::model::{Sym, TraceId};

/// The flows, and the first flow (in output order) each trace belongs to.
pub(crate) struct FlowSet {
    pub flows: Vec<Flow>,
    /// Trace slot → index in `flows` of the first flow holding it ([`NO_FLOW`] if none).
    trace_flow: BySlot<TraceSlot, u32>,
}

/// In [`FlowSet::trace_flow`]: the slot is in no flow (it holds no trace).
const NO_FLOW: u32 = u32::MAX;

impl FlowSet {
    /// The id of the first flow holding trace slot `t`.
    pub fn of_trace(&self, t: TraceSlot) -> Option<TraceId> {
        let i = *self.trace_flow.get(t)?;
        (i != NO_FLOW).then(|| self.flows[i as usize].id)
    }
}

/// The flow records of `walks` (every flow of `cx`, walked by [`Walks::new`]); their shapes
/// go into `tally`.
pub(crate) fn build(
    cx: &Ctx<'_>,
    walks: Walks,
    pending: &Pending,
    sagas: &SagaSet,
    tally: &mut Tally,
) -> FlowSet {
    let mut trace_flow = BySlot::filled(cx.linker.traces.len(), NO_FLOW);
    let mut flows = Vec::with_capacity(walks.len());
    walks.each(&mut |root, members, in_flow| {
        let i = flows.len() as u32;
        for &t in members {
            if trace_flow[t] == NO_FLOW {
                trace_flow[t] = i;
            }
        }
        let (f, shape) = flow(cx, root, members, in_flow, pending, sagas);
        // In output order: the index sorts as the flows do.
        tally.apply((u64::from(i), f.id.0), &f, &shape, true);
        flows.push(f);
    });
    FlowSet { flows, trace_flow }
}

/// What [`each_flow`] calls: root, members, membership test.
pub(crate) type EachFlow<'a> = dyn FnMut(TraceSlot, &[TraceSlot], &dyn Fn(TraceSlot) -> bool) + 'a;

/// Calls `each` with every flow's root and members, in output order (by start, then root
/// id), and a fast membership test for that flow.
pub(crate) fn each_flow(cx: &Ctx<'_>, each: &mut EachFlow<'_>) {
    Walks::new(cx).each(each);
}

/// Every flow's root and members, walked and in output order, before their (large) records
/// are built.
pub(crate) struct Walks {
    walked: Vec<Walked>,
    /// Stamp of the flow being walked or built, per trace slot (flow number + 1).
    stamp: BySlot<TraceSlot, u32>,
}

impl Walks {
    pub fn new(cx: &Ctx<'_>) -> Self {
        let linker = cx.linker;
        let mut reached = BySlot::filled(linker.traces.len(), false);
        let mut stamp = BySlot::filled(linker.traces.len(), 0u32);
        // (start, root id) → root and members.
        let mut walked: Vec<Walked> = Vec::new();
        let mut one = |root: TraceSlot,
                       reached: &mut BySlot<TraceSlot, bool>,
                       stamp: &mut BySlot<TraceSlot, u32>| {
            let number = walked.len() as u32 + 1;
            let members = walk(cx, root, number, stamp);
            let mut start = u64::MAX;
            for &t in &members {
                reached[t] = true;
                start = start.min(linker.traces[t].start);
            }
            walked.push(((start, linker.traces[root].id.0), root, members));
        };
        // Traces nobody links into are roots, whatever the order they are walked in.
        for t in linker.trace_slots() {
            if linker.traces[t].up.is_empty() {
                one(t, &mut reached, &mut stamp);
            }
        }
        // The rest sit on cycles: the earliest trace of each is its root (rare, so sorted
        // here rather than every trace above).
        let mut rest: Vec<(u64, [u8; 16], TraceSlot)> = linker
            .trace_slots()
            .filter(|&t| !reached[t])
            .map(|t| (linker.traces[t].start, linker.traces[t].id.0, t))
            .collect();
        rest.sort_unstable();
        for (_, _, t) in rest {
            if !reached[t] {
                one(t, &mut reached, &mut stamp);
            }
        }
        walked.sort_unstable_by_key(|w| w.0);
        Self { walked, stamp }
    }

    /// How many flows.
    pub fn len(&self) -> usize {
        self.walked.len()
    }

    /// Calls `each` with every flow, in output order.
    pub fn each(self, each: &mut EachFlow<'_>) {
        let Self { walked, mut stamp } = self;
        let base = walked.len() as u32 + 1;
        for (i, (_, root, members)) in walked.into_iter().enumerate() {
            let number = base + i as u32;
            for &t in &members {
                stamp[t] = number;
            }
            let in_flow = |t: TraceSlot| stamp[t] == number;
            each(root, &members, &in_flow);
        }
    }
}

/// A flow walked: (start, root id) to sort by, the root, the members.
type Walked = ((u64, [u8; 16]), TraceSlot, Vec<TraceSlot>);

/// Traces reachable from `root`, root first, then by start and id.
fn walk(
    cx: &Ctx<'_>,
    root: TraceSlot,
    number: u32,
    stamp: &mut BySlot<TraceSlot, u32>,
) -> Vec<TraceSlot> {
    let linker = cx.linker;
    let mut members = vec![root];
    stamp[root] = number;
    let mut i = 0;
    while i < members.len() {
        let t = members[i];
        i += 1;
        for &TraceHops { trace: d, .. } in &linker.traces[t].down {
            if stamp[d] != number {
                stamp[d] = number;
                members.push(d);
            }
        }
    }
    members[1..].sort_by_key(|&t| (linker.traces[t].start, linker.traces[t].id.0));
    members
}

/// The flow of `root`, whose traces are `members` (`in_flow` tells membership quickly).
pub(crate) fn flow(
    cx: &Ctx<'_>,
    root: TraceSlot,
    members: &[TraceSlot],
    in_flow: &dyn Fn(TraceSlot) -> bool,
    pending: &Pending,
    sagas: &SagaSet,
) -> (Flow, FlowShape) {
    flow_with(cx, root, members, in_flow, pending, sagas, None)
}

/// [`flow`], given the flow's shape when it is known to be unchanged (no span or hop of the
/// flow changed since it was read: only the clock moved).
pub(crate) fn flow_with(
    cx: &Ctx<'_>,
    root: TraceSlot,
    members: &[TraceSlot],
    in_flow: &dyn Fn(TraceSlot) -> bool,
    pending: &Pending,
    sagas: &SagaSet,
    known: Option<FlowShape>,
) -> (Flow, FlowShape) {
    let linker = cx.linker;
    let rt = &linker.traces[root];
    let root_span = rt
        .root
        .or_else(|| rt.spans.iter().copied().min_by_key(|&s| cx.key(s)))
        .expect("a held trace has a span");
    let (mut start, mut end, mut spans, mut hops, mut errors) = (u64::MAX, 0, 0u64, 0u64, 0u64);
    let mut services: Vec<Sym> = Vec::new();
    for &t in members {
        let tr = &linker.traces[t];
        start = start.min(tr.start);
        end = end.max(tr.end);
        spans += tr.spans.len() as u64;
        errors += u64::from(tr.errors);
        services.extend(tr.services.iter().copied());
        // The hops into `t` from the flow: those from inside `t`, and those from each member
        // upstream. `up` counts the hops from every other trace, so neither the hops nor
        // their producer spans are read (at 1M spans, each would be a cache miss).
        let (mut from_others, mut from_members) = (0u64, 0u64);
        for up in &tr.up {
            from_others += u64::from(up.hops);
            if in_flow(up.trace) {
                from_members += u64::from(up.hops);
            }
        }
        hops += (tr.hops_in.len() as u64).saturating_sub(from_others) + from_members;
    }
    services.sort_unstable();
    services.dedup();
    let mut names: Vec<Text> = services.iter().map(|&s| cx.text(s)).collect();
    names.sort_unstable();
    let rs = cx.span(root_span);
    let root_end = rs.end;
    let oldest = pending.oldest(cx, members.iter().copied());
    let stuck_saga = sagas.stuck_in(members.iter().copied());
    let running_saga = sagas.running_in(members.iter().copied());
    let (status, reason) = match oldest {
        Some(item) if cx.age(item.end) > cx.opts.stuck_after_ns => {
            (FlowStatus::Stuck, Some(Pending::reason(cx, item)))
        }
        _ => match stuck_saga {
            Some(reason) => (FlowStatus::Stuck, Some(reason)),
            None if errors > 0 || members.iter().any(|&t| linker.traces[t].dead_letters > 0) => {
                (FlowStatus::Error, None)
            }
            None if oldest.is_some() || running_saga => (FlowStatus::InFlight, None),
            None => (FlowStatus::Ok, None),
        },
    };
    let start = start.min(end);
    let mut shape = known.unwrap_or_else(|| super::shape::of_flow(cx, members, in_flow));
    shape.root = (rs.service, rs.name);
    let flow = Flow {
        id: rt.id,
        root: FlowRoot {
            service: cx.text(rs.service),
            name: cx.text(rs.name),
            trace_id: rt.id,
            span_id: rs.span_id,
        },
        traces: members.iter().map(|&t| linker.traces[t].id).collect(),
        services: names,
        span_count: spans,
        hop_count: hops,
        start_unix_nano: start,
        end_unix_nano: end,
        duration_ns: end - start,
        root_duration_ns: rs.duration(),
        settled_after_ns: end.saturating_sub(root_end),
        status,
        stuck_reason: reason,
        error_reason: if status == FlowStatus::Error {
            super::deadletter::reason(cx, members)
        } else {
            None
        },
        style: shape.style,
        coordinator: shape.coordinator.map(|c| cx.text(c)),
    };
    shape.services = services;
    (flow, shape)
}

/// The traces of the flow rooted at `root`, ordered as [`build`] orders them (root first,
/// then by start and id), and the same as a set.
pub(crate) fn members_of(cx: &Ctx<'_>, root: TraceSlot) -> (Vec<TraceSlot>, FxHashSet<TraceSlot>) {
    let linker = cx.linker;
    let mut set = FxHashSet::default();
    set.insert(root);
    let mut members = vec![root];
    let mut i = 0;
    while i < members.len() {
        let t = members[i];
        i += 1;
        for &TraceHops { trace: d, .. } in &linker.traces[t].down {
            if set.insert(d) {
                members.push(d);
            }
        }
    }
    members[1..].sort_by_key(|&t| (linker.traces[t].start, linker.traces[t].id.0));
    (members, set)
}

/// The roots of every flow holding one of `traces` (live trace slots), exactly as [`build`]
/// chooses them: over the traces upstream of them, those with no hop into them first, then
/// (for cycles) the earliest trace not reached yet, in order of start and id.
pub(crate) fn roots_of(
    cx: &Ctx<'_>,
    traces: impl IntoIterator<Item = TraceSlot>,
) -> Vec<TraceSlot> {
    let linker = cx.linker;
    let mut closure: Vec<TraceSlot> = traces.into_iter().collect();
    // Most traces have nothing upstream: each is its own root.
    if closure.iter().all(|&t| linker.traces[t].up.is_empty()) {
        closure.sort_unstable();
        closure.dedup();
        return closure;
    }
    let mut seen: FxHashSet<TraceSlot> = FxHashSet::default();
    closure.retain(|&t| seen.insert(t));
    let mut i = 0;
    while i < closure.len() {
        let t = closure[i];
        i += 1;
        for &TraceHops { trace: u, .. } in &linker.traces[t].up {
            if seen.insert(u) {
                closure.push(u);
            }
        }
    }
    let true_roots: Vec<TraceSlot> =
        closure.iter().copied().filter(|&t| linker.traces[t].up.is_empty()).collect();
    let mut reached: FxHashSet<TraceSlot> = FxHashSet::default();
    let reach = |from: TraceSlot, reached: &mut FxHashSet<TraceSlot>| {
        let mut stack = vec![from];
        reached.insert(from);
        while let Some(t) = stack.pop() {
            for &TraceHops { trace: d, .. } in &linker.traces[t].down {
                if seen.contains(&d) && reached.insert(d) {
                    stack.push(d);
                }
            }
        }
    };
    for &r in &true_roots {
        reach(r, &mut reached);
    }
    let mut roots = true_roots;
    if reached.len() < closure.len() {
        let mut rest: Vec<TraceSlot> =
            closure.iter().copied().filter(|t| !reached.contains(t)).collect();
        rest.sort_unstable_by_key(|&t| (linker.traces[t].start, linker.traces[t].id.0));
        for t in rest {
            if !reached.contains(&t) {
                reach(t, &mut reached);
                roots.push(t);
            }
        }
    }
    roots
}
