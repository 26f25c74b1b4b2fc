//! Flows: a root trace plus every trace reachable downstream through hops.
//!
//! Membership is a walk of the linker's trace graph from each root (a trace with no hop into
//! it). A batch consumer's trace reached from several roots belongs to each of their flows;
//! flows are never merged. Traces only reachable through a cycle (request/reply across
//! traces) get the cycle's earliest trace as root.

use rustc_hash::{FxHashMap, FxHashSet};

use super::sagas::SagaSet;
use super::{Cx, Flow, FlowRoot, FlowStatus, Text, human};
use crate::link::facts::NONE;
use crate::model::TraceId;

/// The oldest message each trace produced that a consuming subscription has not consumed.
pub(crate) struct Pending {
    /// Trace slot → (producer end, producer slot, subscription).
    pub by_trace: FxHashMap<u32, (u64, u32, u32)>,
}

impl Pending {
    /// Read off the subscriptions' unconsumed sets (small: only what is still waiting).
    pub fn new(cx: &Cx<'_>) -> Self {
        let mut by_trace: FxHashMap<u32, (u64, u32, u32)> = FxHashMap::default();
        for (si, sub) in cx.l.agg.subs.iter().enumerate() {
            if sub.consumed == 0 {
                continue;
            }
            for &p in &sub.unconsumed {
                let (t, end) = (cx.sp(p).trace, cx.sp(p).end);
                let item = (end, p, si as u32);
                by_trace
                    .entry(t)
                    .and_modify(|old| {
                        if pending_key(cx, item) < pending_key(cx, *old) {
                            *old = item;
                        }
                    })
                    .or_insert(item);
            }
        }
        Self { by_trace }
    }

    /// One line saying what the oldest pending message waits for.
    pub fn reason(cx: &Cx<'_>, item: (u64, u32, u32)) -> String {
        let (end, _, si) = item;
        let sub = &cx.l.agg.subs[si as usize].key;
        format!(
            "waiting {} for a consumer of {} {} ({})",
            human(cx.age(end)),
            cx.system(sub.dest.system),
            cx.destination(sub.dest.destination),
            cx.s(sub.group)
        )
    }

    /// The oldest of several pending items.
    pub fn oldest(
        &self,
        cx: &Cx<'_>,
        traces: impl Iterator<Item = u32>,
    ) -> Option<(u64, u32, u32)> {
        traces
            .filter_map(|t| self.by_trace.get(&t).copied())
            .min_by(|a, b| pending_key(cx, *a).cmp(&pending_key(cx, *b)))
    }
}

fn pending_key(cx: &Cx<'_>, (end, p, si): (u64, u32, u32)) -> impl Ord {
    let sub = &cx.l.agg.subs[si as usize].key;
    (end, cx.key(p), cx.dest_id(sub.dest), cx.s(sub.group))
}

/// The flows, and the first flow (in output order) each trace belongs to.
pub(crate) struct FlowSet {
    pub flows: Vec<Flow>,
    /// Trace slot → index in `flows` of the first flow holding it ([`NO_FLOW`] if none).
    trace_flow: Vec<u32>,
}

/// In [`FlowSet::trace_flow`]: the slot is in no flow (it holds no trace).
const NO_FLOW: u32 = u32::MAX;

impl FlowSet {
    /// The id of the first flow holding trace slot `t`.
    pub fn of_trace(&self, t: u32) -> Option<TraceId> {
        let i = *self.trace_flow.get(t as usize)?;
        (i != NO_FLOW).then(|| self.flows[i as usize].id)
    }
}

/// The flow records of `walks` (every flow of `cx`, walked by [`Walks::new`]).
pub(crate) fn build(cx: &Cx<'_>, walks: Walks, pending: &Pending, sagas: &SagaSet) -> FlowSet {
    let mut trace_flow = vec![NO_FLOW; cx.l.traces.len()];
    let mut flows = Vec::with_capacity(walks.len());
    walks.each(&mut |root, members, in_flow| {
        let i = flows.len() as u32;
        for &t in members {
            if trace_flow[t as usize] == NO_FLOW {
                trace_flow[t as usize] = i;
            }
        }
        flows.push(flow(cx, root, members, in_flow, pending, sagas));
    });
    FlowSet { flows, trace_flow }
}

/// What [`each_flow`] calls: root, members, membership test.
pub(crate) type EachFlow<'a> = dyn FnMut(u32, &[u32], &dyn Fn(u32) -> bool) + 'a;

/// Calls `each` with every flow's root and members, in output order (by start, then root
/// id), and a fast membership test for that flow.
pub(crate) fn each_flow(cx: &Cx<'_>, each: &mut EachFlow<'_>) {
    Walks::new(cx).each(each);
}

/// Every flow's root and members, walked and in output order, before their (large) records
/// are built.
pub(crate) struct Walks {
    walked: Vec<Walked>,
    /// Stamp of the flow being walked or built, per trace slot (flow number + 1).
    stamp: Vec<u32>,
}

impl Walks {
    pub fn new(cx: &Cx<'_>) -> Self {
        let l = cx.l;
        let mut reached = vec![false; l.traces.len()];
        let mut stamp = vec![0u32; l.traces.len()];
        // (start, root id) → root and members.
        let mut walked: Vec<Walked> = Vec::new();
        let mut one = |root: u32, reached: &mut Vec<bool>, stamp: &mut Vec<u32>| {
            let number = walked.len() as u32 + 1;
            let members = walk(cx, root, number, stamp);
            let mut start = u64::MAX;
            for &t in &members {
                reached[t as usize] = true;
                start = start.min(l.traces[t as usize].start);
            }
            walked.push(((start, l.traces[root as usize].id.0), root, members));
        };
        // Traces nobody links into are roots, whatever the order they are walked in.
        for t in l.trace_slots() {
            if l.traces[t as usize].up.is_empty() {
                one(t, &mut reached, &mut stamp);
            }
        }
        // The rest sit on cycles: the earliest trace of each is its root (rare, so sorted
        // here rather than every trace above).
        let mut rest: Vec<(u64, [u8; 16], u32)> = l
            .trace_slots()
            .filter(|&t| !reached[t as usize])
            .map(|t| (l.traces[t as usize].start, l.traces[t as usize].id.0, t))
            .collect();
        rest.sort_unstable();
        for (_, _, t) in rest {
            if !reached[t as usize] {
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
                stamp[t as usize] = number;
            }
            let in_flow = |t: u32| stamp[t as usize] == number;
            each(root, &members, &in_flow);
        }
    }
}

/// A flow walked: (start, root id) to sort by, the root, the members.
type Walked = ((u64, [u8; 16]), u32, Vec<u32>);

/// Traces reachable from `root`, root first, then by start and id.
fn walk(cx: &Cx<'_>, root: u32, number: u32, stamp: &mut [u32]) -> Vec<u32> {
    let l = cx.l;
    let mut members = vec![root];
    stamp[root as usize] = number;
    let mut i = 0;
    while i < members.len() {
        let t = members[i];
        i += 1;
        for &(d, _) in &l.traces[t as usize].down {
            if stamp[d as usize] != number {
                stamp[d as usize] = number;
                members.push(d);
            }
        }
    }
    members[1..].sort_by_key(|&t| (l.traces[t as usize].start, l.traces[t as usize].id.0));
    members
}

/// The flow of `root`, whose traces are `members` (`in_flow` tells membership quickly).
pub(crate) fn flow(
    cx: &Cx<'_>,
    root: u32,
    members: &[u32],
    in_flow: &dyn Fn(u32) -> bool,
    pending: &Pending,
    sagas: &SagaSet,
) -> Flow {
    let l = cx.l;
    let rt = &l.traces[root as usize];
    let root_span = if rt.root == NONE {
        rt.spans.iter().copied().min_by_key(|&s| cx.key(s)).unwrap_or(NONE)
    } else {
        rt.root
    };
    let (mut start, mut end, mut spans, mut hops, mut errors) = (u64::MAX, 0, 0u64, 0u64, 0u64);
    let mut services: Vec<&'static str> = Vec::new();
    for &t in members {
        let tr = &l.traces[t as usize];
        start = start.min(tr.start);
        end = end.max(tr.end);
        spans += tr.spans.len() as u64;
        errors += u64::from(tr.errors);
        services.extend(tr.services.iter().map(|s| cx.s(*s)));
        // The hops into `t` from the flow: those from inside `t`, and those from each member
        // upstream. `up` counts the hops from every other trace, so neither the hops nor
        // their producer spans are read (at 1M spans, each would be a cache miss).
        let (mut from_others, mut from_members) = (0u64, 0u64);
        for &(u, n) in &tr.up {
            from_others += u64::from(n);
            if in_flow(u) {
                from_members += u64::from(n);
            }
        }
        hops += (tr.hops_in.len() as u64).saturating_sub(from_others) + from_members;
    }
    services.sort_unstable();
    services.dedup();
    let rs = cx.sp(root_span);
    let root_end = rs.end;
    let oldest = pending.oldest(cx, members.iter().copied());
    let stuck_saga = sagas.stuck_in(members.iter().copied());
    let running_saga = sagas.running_in(members.iter().copied());
    let (status, reason) = match oldest {
        Some(item) if cx.age(item.0) > cx.opts.stuck_after_ns => {
            (FlowStatus::Stuck, Some(Pending::reason(cx, item)))
        }
        _ => match stuck_saga {
            Some(reason) => (FlowStatus::Stuck, Some(reason)),
            None if errors > 0 => (FlowStatus::Error, None),
            None if oldest.is_some() || running_saga => (FlowStatus::InFlight, None),
            None => (FlowStatus::Ok, None),
        },
    };
    let start = start.min(end);
    Flow {
        id: rt.id,
        root: FlowRoot {
            service: cx.t(rs.service),
            name: cx.t(rs.name),
            trace_id: rt.id,
            span_id: rs.span_id,
        },
        traces: members.iter().map(|&t| l.traces[t as usize].id).collect(),
        services: services.into_iter().map(Text::Borrowed).collect(),
        span_count: spans,
        hop_count: hops,
        start_unix_nano: start,
        end_unix_nano: end,
        duration_ns: end - start,
        root_duration_ns: rs.duration(),
        settled_after_ns: end.saturating_sub(root_end),
        status,
        stuck_reason: reason,
    }
}

/// The traces of the flow rooted at `root`, ordered as [`build`] orders them (root first,
/// then by start and id), and the same as a set.
pub(crate) fn members_of(cx: &Cx<'_>, root: u32) -> (Vec<u32>, FxHashSet<u32>) {
    let l = cx.l;
    let mut set = FxHashSet::default();
    set.insert(root);
    let mut members = vec![root];
    let mut i = 0;
    while i < members.len() {
        let t = members[i];
        i += 1;
        for &(d, _) in &l.traces[t as usize].down {
            if set.insert(d) {
                members.push(d);
            }
        }
    }
    members[1..].sort_by_key(|&t| (l.traces[t as usize].start, l.traces[t as usize].id.0));
    (members, set)
}

/// The roots of every flow holding one of `traces` (live trace slots), exactly as [`build`]
/// chooses them: over the traces upstream of them, those with no hop into them first, then
/// (for cycles) the earliest trace not reached yet, in order of start and id.
pub(crate) fn roots_of(cx: &Cx<'_>, traces: impl IntoIterator<Item = u32>) -> Vec<u32> {
    let l = cx.l;
    let mut closure: Vec<u32> = traces.into_iter().collect();
    // Most traces have nothing upstream: each is its own root.
    if closure.iter().all(|&t| l.traces[t as usize].up.is_empty()) {
        closure.sort_unstable();
        closure.dedup();
        return closure;
    }
    let mut seen: FxHashSet<u32> = FxHashSet::default();
    closure.retain(|&t| seen.insert(t));
    let mut i = 0;
    while i < closure.len() {
        let t = closure[i];
        i += 1;
        for &(u, _) in &l.traces[t as usize].up {
            if seen.insert(u) {
                closure.push(u);
            }
        }
    }
    let true_roots: Vec<u32> =
        closure.iter().copied().filter(|&t| l.traces[t as usize].up.is_empty()).collect();
    let mut reached: FxHashSet<u32> = FxHashSet::default();
    let reach = |from: u32, reached: &mut FxHashSet<u32>| {
        let mut stack = vec![from];
        reached.insert(from);
        while let Some(t) = stack.pop() {
            for &(d, _) in &l.traces[t as usize].down {
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
        let mut rest: Vec<u32> = closure.iter().copied().filter(|t| !reached.contains(t)).collect();
        rest.sort_unstable_by_key(|&t| (l.traces[t as usize].start, l.traces[t as usize].id.0));
        for t in rest {
            if !reached.contains(&t) {
                reach(t, &mut reached);
                roots.push(t);
            }
        }
    }
    roots
}
