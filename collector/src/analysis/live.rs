//! The analysis kept up to date for live views: each update recomputes only what the spans
//! that arrived since the last one changed, plus what the moving event clock changes.
//!
//! The linker records which trace and saga slots changed ([`Linker::track_changes`]). From
//! those, an update
//!
//! - rebuilds the sagas with a changed span, and those not over yet when the clock moved;
//! - finds the roots of every flow holding a changed trace (a walk upstream of the changed
//!   traces only) and rebuilds those flows, and the flows still waiting on something
//!   (in flight or stuck) when the clock moved;
//! - re-runs the trace-local insight detectors (cascade failures, sync over async) on the
//!   changed traces and their neighbours;
//! - recomputes what is small by nature (graph edges, lag rows, duplicates, unconsumed
//!   messages) in full.
//!
//! Every flow is held as an `Arc` shared by consecutive views. Flows, sagas and insights come
//! out exactly as [`super::analyze`] gives them for the same spans (`tests/analysis_live.rs`
//! checks it over random batches); the view does not list hops (a flow's detail finds its
//! own).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::antipatterns::FlowKey;
use super::flows;
use super::insights::{self, FlowOf, Found, SyncOverAsync};
use super::pending::{Pending, Waiting};
use super::sagas::{self, Built, SagaIndex, SagaKey, SagaSet};
use super::shape::FlowShape;
use super::tally::Tally;
use super::{Analysis, AnalysisOptions, Ctx, Flow, FlowStatus, SCHEMA, graph, lag, summary};
use crate::link::slot::{SagaSlot, TraceSlot};
use crate::link::{Changes, Linker};
use crate::model::TraceId;

/// Per-flow facts the analysis document does not carry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowFacts {
    /// The longest queue time of the flow's hops, 0 without hops.
    pub worst_queue_ns: u64,
    /// `<system> <destination>` of the flow's hops, sorted.
    pub destinations: Vec<String>,
    /// The events the flow's spans produced, in the order they were sent.
    pub events: Vec<super::catalog::FlowEvent>,
    /// What its structure says (style, coordinator, tables, events), summed up into the
    /// architecture rows and anti-pattern insights.
    pub shape: FlowShape,
}

/// One row of the flows list: the flow and its facts.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRow {
    pub flow: Flow,
    pub facts: FlowFacts,
}

/// Rows per chunk of [`FlowRows`], as built; a chunk is split past twice this.
const CHUNK: usize = 64;

/// The flows list of a view, in output order. Held in chunks that consecutive views share
/// where their flows did not change (new flows come at the end, evicted ones go from the
/// start), so a view costs the engine O(changed chunks), not O(flows). Reading it as a slice
/// puts the rows together once, on the reader's first look.
#[derive(Debug, Clone, Default)]
pub struct FlowRows {
    chunks: Arc<Vec<Arc<Vec<Arc<FlowRow>>>>>,
    len: usize,
    flat: Arc<std::sync::OnceLock<Vec<Arc<FlowRow>>>>,
}

impl FlowRows {
    fn from_chunks(chunks: Vec<Arc<Vec<Arc<FlowRow>>>>) -> Self {
        let len = chunks.iter().map(|c| c.len()).sum();
        Self { chunks: Arc::new(chunks), len, flat: Arc::default() }
    }

    /// The number of rows, without putting them together.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rows in order, without putting them together.
    pub fn rows(&self) -> impl Iterator<Item = &Arc<FlowRow>> {
        self.chunks.iter().flat_map(|c| c.iter())
    }
}

impl std::ops::Deref for FlowRows {
    type Target = [Arc<FlowRow>];

    fn deref(&self) -> &[Arc<FlowRow>] {
        self.flat.get_or_init(|| self.chunks.iter().flat_map(|c| c.iter().cloned()).collect())
    }
}

impl PartialEq for FlowRows {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl From<Vec<Arc<FlowRow>>> for FlowRows {
    fn from(rows: Vec<Arc<FlowRow>>) -> Self {
        Self::from_chunks(rows.chunks(CHUNK).map(|c| Arc::new(c.to_vec())).collect())
    }
}

/// Chunks of the flows list by the key they start at (the first chunk also holds anything
/// before), and the keys added or removed since they were last put together.
struct Chunks<T> {
    chunks: BTreeMap<FlowKey, Arc<Vec<Arc<T>>>>,
    touched: Vec<FlowKey>,
}

impl<T> Default for Chunks<T> {
    fn default() -> Self {
        Self { chunks: BTreeMap::new(), touched: Vec::new() }
    }
}

impl<T> Chunks<T> {
    /// Brings the chunks up to date with `order` and lists them.
    fn update(&mut self, order: &BTreeMap<FlowKey, Arc<T>>) -> Vec<Arc<Vec<Arc<T>>>> {
        let first = self.chunks.keys().next().copied();
        let mut dirty: BTreeSet<Option<FlowKey>> = BTreeSet::new();
        for k in self.touched.drain(..) {
            // `None`: the first chunk, or no chunk yet.
            let start = self.chunks.range(..=k).next_back().map(|(s, _)| *s);
            dirty.insert(if start == first { None } else { start });
        }
        for start in dirty {
            let from = match start {
                Some(s) => self.chunks.remove(&s).map(|_| s),
                None => first.and_then(|f| self.chunks.remove(&f).map(|_| f)),
            };
            let next = match from {
                Some(s) => self.chunks.range(s..).next().map(|(k, _)| *k),
                None => self.chunks.keys().next().copied(),
            };
            let lower = start.map_or(Bound::Unbounded, Bound::Included);
            let upper = next.map_or(Bound::Unbounded, Bound::Excluded);
            let rows: Vec<(&FlowKey, &Arc<T>)> = order.range((lower, upper)).collect();
            let size = if rows.len() > 2 * CHUNK { CHUNK } else { rows.len().max(1) };
            for (i, piece) in rows.chunks(size).enumerate() {
                // A middle chunk keeps its start (a boundary, even once that flow is gone);
                // the first starts at its first row.
                let at = match start {
                    Some(s) if i == 0 => s,
                    _ => *piece[0].0,
                };
                self.chunks
                    .insert(at, Arc::new(piece.iter().map(|(_, r)| Arc::clone(r)).collect()));
            }
        }
        self.chunks.values().cloned().collect()
    }
}

struct FlowEntry {
    row: Arc<FlowRow>,
    key: FlowKey,
}

/// What one update gives.
#[derive(Debug, Clone)]
pub struct LiveOutput {
    /// The analysis without its flows (in `flows`) and hops (found per flow on demand).
    pub analysis: Analysis,
    /// The flows in output order.
    pub flows: FlowRows,
    /// Parallel to `analysis.sagas`: the flow holding the saga's earliest span.
    pub saga_flows: Vec<Option<TraceId>>,
}

/// How much an update redid, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpdateCost {
    pub flows_rebuilt: usize,
    pub sagas_rebuilt: usize,
    pub full: bool,
}

struct SagaEntry {
    built: Built,
    /// The trace of the saga's earliest span.
    first: Option<TraceSlot>,
    /// The flow holding `first` when last looked for: its root (`None` for no flow) and
    /// id. Kept while no flow holding `first`, and not that root's flow, is rebuilt.
    flow: Option<(Option<TraceSlot>, Option<TraceId>)>,
}

/// The incremental analysis; owned by the engine thread next to its linker.
#[derive(Default)]
pub struct LiveAnalysis {
    flows: FxHashMap<TraceSlot, FlowEntry>,
    order: BTreeMap<FlowKey, Arc<FlowRow>>,
    /// `order` in chunks, as views list it.
    chunks: Chunks<FlowRow>,
    /// Saga slot → where the saga is in `saga_order`.
    sagas: FxHashMap<SagaSlot, SagaKey>,
    /// The sagas in output order.
    saga_order: BTreeMap<SagaKey, SagaEntry>,
    /// Roots of the flows that wait on a message or a saga: their status moves with the clock.
    flows_open: FxHashSet<TraceSlot>,
    /// Slots of the sagas not over yet: their state moves with the clock.
    sagas_open: FxHashSet<SagaSlot>,
    /// The sagas by trace, under their slots; shared with the current update's saga set.
    saga_index: Arc<SagaIndex>,
    /// Roots of the flows removed or rebuilt by the current update.
    moved_roots: FxHashSet<TraceSlot>,
    /// Traces of the flows rebuilt by the current update.
    moved_members: FxHashSet<TraceSlot>,
    cascades: FxHashMap<TraceSlot, insights::Said>,
    sync_over_async: FxHashMap<TraceSlot, Vec<SyncOverAsync>>,
    /// The oldest pending message per trace at the last update.
    pending: FxHashMap<TraceSlot, Waiting>,
    /// The held flows' shapes summed up: architecture rows and anti-patterns.
    tally: Tally,
    last: Option<AnalysisOptions>,
    cost: UpdateCost,
    /// Build the event catalog (`analysis.events`) at each update. It is rebuilt in full (a
    /// walk over every message held: ~0.3 s at 1M spans), so the engine asks for it only
    /// while a screen shows it; [`LiveAnalysis::full`] always builds it.
    pub catalog: bool,
}

impl std::fmt::Debug for LiveAnalysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveAnalysis").field("flows", &self.flows.len()).finish_non_exhaustive()
    }
}

impl LiveAnalysis {
    /// What the last update redid.
    pub fn last_cost(&self) -> UpdateCost {
        self.cost
    }

    /// Brings the analysis up to date with `linker` at `opts` and returns it. The linker must
    /// track changes ([`Linker::track_changes`]) from its start; without, every update is a
    /// full rebuild.
    pub fn update(&mut self, linker: &mut Linker, opts: &AnalysisOptions) -> LiveOutput {
        linker.settle_samples();
        let changes = linker.take_changes();
        self.update_with(linker, changes, opts)
    }

    /// The whole output for `linker`, built from scratch (for a one-off view).
    pub fn full(linker: &Linker, opts: &AnalysisOptions) -> LiveOutput {
        Self { catalog: true, ..Self::default() }.update_with(linker, None, opts)
    }

    fn update_with(
        &mut self,
        linker: &Linker,
        changes: Option<Changes>,
        opts: &AnalysisOptions,
    ) -> LiveOutput {
        let cx = Ctx { linker, interner: linker.interner(), opts };
        let thresholds_moved = self.last.is_none_or(|o| {
            o.stuck_after_ns != opts.stuck_after_ns
                || o.lag_warn_ns != opts.lag_warn_ns
                || o.god_orchestrator_services != opts.god_orchestrator_services
        });
        let clock_moved = self.last.is_none_or(|o| o.now_unix_nano != opts.now_unix_nano);
        let full = thresholds_moved || changes.is_none();
        self.last = Some(*opts);
        let (mut traces, mut saga_slots) = match changes {
            Some(c) if !full => (c.traces, c.sagas),
            _ => {
                let (flows, sagas) = (self.flows.len(), self.sagas.len());
                *self = Self { last: self.last, catalog: self.catalog, ..Self::default() };
                self.flows.reserve(flows);
                self.sagas.reserve(sagas);
                (linker.trace_slots().collect(), linker.saga_slots().collect())
            }
        };
        self.cost = UpdateCost { full, ..UpdateCost::default() };
        self.moved_roots.clear();
        self.moved_members.clear();
        let pending = Pending::new(&cx);
        // A new subscription makes every message to its destination pending for it, in
        // traces that did not change: what waits is compared as a whole.
        for (t, item) in &pending.by_trace {
            if self.pending.get(t) != Some(item) {
                traces.insert(*t);
            }
        }
        for t in self.pending.keys() {
            if !pending.by_trace.contains_key(t) {
                traces.insert(*t);
            }
        }
        self.pending.clone_from(&pending.by_trace);
        let saga_set = self.update_sagas(&cx, &pending, &mut traces, &mut saga_slots, clock_moved);
        if full {
            self.build_flows(&cx, &pending, &saga_set);
        } else {
            self.update_flows(&cx, &pending, &saga_set, &traces, clock_moved);
        }
        let found = self.update_found(&cx, &traces, full);
        let flow_of = LiveFlowOf { cx: &cx, flows: &self.flows };
        let mut insights = insights::assemble(&cx, &flow_of, &saga_set, found);
        // Running sums of the held flows' shapes: no flow or span is read again.
        let architecture = self.tally.read(&cx, &mut insights);
        insights::order(&mut insights);
        let saga_flows = self.saga_flows(&cx);
        let rows = FlowRows::from_chunks(self.chunks.update(&self.order));
        let (graph, lag) = (graph(&cx), lag(&cx));
        let summary = summary(linker, &graph, rows.len(), linker.stats().hops);
        LiveOutput {
            analysis: Analysis {
                schema: SCHEMA.to_owned(),
                summary,
                flows: Vec::new(),
                hops: Vec::new(),
                graph,
                lag,
                sagas: saga_set.sagas,
                insights,
                events: if self.catalog { super::catalog::build(&cx) } else { Vec::new() },
                architecture,
            },
            flows: rows,
            saga_flows,
        }
    }

    /// Rebuilds changed sagas (and, when the clock moved, those not over yet). A saga whose
    /// state changed adds its traces to `traces`: their flows' status may follow.
    fn update_sagas(
        &mut self,
        cx: &Ctx<'_>,
        pending: &Pending,
        traces: &mut FxHashSet<TraceSlot>,
        slots: &mut FxHashSet<SagaSlot>,
        clock_moved: bool,
    ) -> SagaSet {
        let linker = cx.linker;
        for &t in traces.iter() {
            if !linker.traces[t].live {
                continue;
            }
            for &s in &linker.traces[t].spans {
                if let Some(slot) = linker.span(s).saga_slot {
                    slots.insert(slot);
                }
            }
        }
        if clock_moved {
            slots.extend(self.sagas_open.iter().copied());
        }
        let mut follow: Vec<TraceSlot> = Vec::new();
        for &slot in slots.iter() {
            let new = linker.saga_live(slot).then(|| sagas::of_slot(cx, slot, pending));
            // Rebuilt for the clock and unchanged (an age that reads the same): the entry,
            // its place and its kept flow stay.
            let held = self.sagas.get(&slot).and_then(|key| self.saga_order.get(key));
            if let (Some(n), Some(e)) = (&new, held)
                && *e.built.0 == *n.0
                && e.built.1 == n.1
                && e.built.2 == n.2
            {
                self.cost.sagas_rebuilt += 1;
                continue;
            }
            let old =
                self.sagas.remove(&slot).and_then(|key| self.saga_order.remove(&key)).map(|e| {
                    self.sagas_open.remove(&slot);
                    Arc::make_mut(&mut self.saga_index).remove(slot, &e.built.1);
                    e.built
                });
            let same = match (&old, &new) {
                (Some(o), Some(n)) => {
                    o.0.state == n.0.state && o.0.stuck_reason == n.0.stuck_reason
                }
                (None, None) => true,
                _ => false,
            };
            if !same {
                follow.extend(old.iter().chain(new.iter()).flat_map(|b| b.1.iter().copied()));
            }
            if let Some(n) = new {
                self.cost.sagas_rebuilt += 1;
                let first = linker.sagas[slot]
                    .spans
                    .iter()
                    .map(|&s| {
                        let f = cx.span(s);
                        ((f.start, linker.traces[f.trace].id.0), f.trace)
                    })
                    .min()
                    .map(|(_, t)| t);
                let key = sagas::key_of(&n.0);
                self.sagas.insert(slot, key.clone());
                if !n.0.state.is_terminal() {
                    self.sagas_open.insert(slot);
                }
                Arc::make_mut(&mut self.saga_index).insert(slot, &n.0, &n.1);
                self.saga_order.insert(key, SagaEntry { built: n, first, flow: None });
            }
        }
        traces.extend(follow.into_iter().filter(|&t| linker.traces[t].live));
        sagas::listed(self.saga_order.values().map(|e| &e.built), Arc::clone(&self.saga_index))
    }

    /// Parallel to the sagas in output order: the flow holding each saga's earliest span.
    /// Looked for again only where this update rebuilt or removed a flow that held it.
    fn saga_flows(&mut self, cx: &Ctx<'_>) -> Vec<Option<TraceId>> {
        let mut out = Vec::with_capacity(self.saga_order.len());
        for entry in self.saga_order.values_mut() {
            let kept = entry.flow.as_ref().filter(|(root, _)| {
                !entry.first.is_some_and(|first| self.moved_members.contains(&first))
                    && !root.is_some_and(|root| self.moved_roots.contains(&root))
            });
            let id = if let Some((_, id)) = kept {
                *id
            } else {
                let found = entry.first.and_then(|first| flow_root(cx, &self.flows, first));
                let id = found.map(|(_, e)| e.row.flow.id);
                entry.flow = Some((found.map(|(r, _)| r), id));
                id
            };
            out.push(id);
        }
        out
    }

    fn update_flows(
        &mut self,
        cx: &Ctx<'_>,
        pending: &Pending,
        saga_set: &SagaSet,
        traces: &FxHashSet<TraceSlot>,
        clock_moved: bool,
    ) {
        let linker = cx.linker;
        let live: Vec<TraceSlot> =
            traces.iter().copied().filter(|&t| linker.traces[t].live).collect();
        let mut todo = flows::roots_of(cx, live.iter().copied());
        let roots: FxHashSet<TraceSlot> = todo.iter().copied().collect();
        // A changed trace that was a root and is no longer (a hop into it, or evicted).
        for t in traces {
            if self.flows.contains_key(t) && !roots.contains(t) {
                self.remove_flow(*t);
            }
        }
        if clock_moved {
            todo.extend(self.flows_open.iter().copied().filter(|r| !roots.contains(r)));
        }
        let mut done: FxHashSet<TraceSlot> = FxHashSet::default();
        while let Some(r) = todo.pop() {
            if !done.insert(r) {
                continue;
            }
            let (members, set) = flows::members_of(cx, r);
            // A root held for a cycle may now be reached from this one.
            for &m in &members[1..] {
                if self.flows.contains_key(&m)
                    && !done.contains(&m)
                    && !flows::roots_of(cx, [m]).contains(&m)
                {
                    self.remove_flow(m);
                }
            }
            let in_flow = |t: TraceSlot| set.contains(&t);
            // Rebuilt because the clock moved, and nothing of it changed: its shape holds.
            let known = if roots.contains(&r) {
                None
            } else {
                self.flows.get(&r).map(|e| e.row.facts.shape.clone())
            };
            let (flow, shape) =
                flows::flow_with(cx, r, &members, &in_flow, pending, saga_set, known);
            let clock = clock_bound(cx, pending, saga_set, &members, &flow);
            let facts = flow_facts(cx, &members, &in_flow, shape);
            let start = members.iter().map(|&t| linker.traces[t].start).min().unwrap_or(0);
            let key = (start, linker.traces[r].id.0);
            self.cost.flows_rebuilt += 1;
            // Rebuilt for the clock and unchanged (an age that reads the same): the row
            // and everything keyed on it stay.
            if self
                .flows
                .get(&r)
                .is_some_and(|e| e.key == key && e.row.flow == flow && e.row.facts == facts)
            {
                if clock {
                    self.flows_open.insert(r);
                } else {
                    self.flows_open.remove(&r);
                }
                continue;
            }
            self.moved_members.extend(members.iter().copied());
            let old = self.take_flow(r);
            let row = Arc::new(FlowRow { flow, facts });
            let old = old.as_ref().map(|e| (e.key, &e.row.flow, &e.row.facts.shape));
            self.tally.replace(old, key, &row.flow, &row.facts.shape);
            self.order.insert(key, Arc::clone(&row));
            self.chunks.touched.push(key);
            if clock {
                self.flows_open.insert(r);
            }
            self.flows.insert(r, FlowEntry { row, key });
        }
    }

    /// Every flow, from scratch (the first update, or new thresholds).
    fn build_flows(&mut self, cx: &Ctx<'_>, pending: &Pending, saga_set: &SagaSet) {
        let linker = cx.linker;
        flows::each_flow(cx, &mut |r, members, in_flow| {
            let (flow, shape) = flows::flow(cx, r, members, in_flow, pending, saga_set);
            let row = Arc::new(FlowRow { flow, facts: flow_facts(cx, members, in_flow, shape) });
            let clock = clock_bound(cx, pending, saga_set, members, &row.flow);
            let start = members.iter().map(|&t| linker.traces[t].start).min().unwrap_or(0);
            let key = (start, linker.traces[r].id.0);
            self.tally.apply(key, &row.flow, &row.facts.shape, true);
            self.order.insert(key, Arc::clone(&row));
            self.chunks.touched.push(key);
            if clock {
                self.flows_open.insert(r);
            }
            self.flows.insert(r, FlowEntry { row, key });
            self.cost.flows_rebuilt += 1;
        });
    }

    fn remove_flow(&mut self, root: TraceSlot) {
        if let Some(e) = self.take_flow(root) {
            self.tally.apply(e.key, &e.row.flow, &e.row.facts.shape, false);
        }
    }

    /// Removes the flow rooted at `root` from everything but the tally, and returns it.
    fn take_flow(&mut self, root: TraceSlot) -> Option<FlowEntry> {
        let e = self.flows.remove(&root)?;
        self.order.remove(&e.key);
        self.chunks.touched.push(e.key);
        self.flows_open.remove(&root);
        self.moved_roots.insert(root);
        Some(e)
    }

    /// Re-runs the trace-local detectors where something changed: cascades on the changed
    /// traces; sync over async on them and their neighbours (the round trip spans three).
    fn update_found(&mut self, cx: &Ctx<'_>, traces: &FxHashSet<TraceSlot>, full: bool) -> Found {
        let linker = cx.linker;
        let mut near: FxHashSet<TraceSlot> = traces.clone();
        if !full {
            for &t in traces {
                let tr = &linker.traces[t];
                if tr.live {
                    near.extend(tr.up.iter().chain(tr.down.iter()).map(|x| x.trace));
                }
            }
        }
        for &t in traces {
            self.cascades.remove(&t);
            if linker.traces[t].live
                && let Some(d) = insights::cascade_in(cx, t)
            {
                self.cascades.insert(t, d);
            }
        }
        for &t in &near {
            self.sync_over_async.remove(&t);
            if !linker.traces[t].live {
                continue;
            }
            let produced = linker.traces[t].spans.iter().flat_map(|&s| {
                cx.span(s).msg.as_deref().into_iter().flat_map(move |m| {
                    m.hops.iter().copied().filter(move |&h| linker.hops[h].producer == s)
                })
            });
            let found = insights::sync_over_async_from(cx, produced);
            if !found.is_empty() {
                self.sync_over_async.insert(t, found);
            }
        }
        Found {
            cascades: self.cascades.iter().map(|(t, d)| (*t, d.clone())).collect(),
            sync_over_async: self.sync_over_async.values().flatten().copied().collect(),
        }
    }
}

/// The flow a trace belongs to, among the held flows: the first (in output order) of the
/// flows whose root is upstream of it.
struct LiveFlowOf<'a> {
    cx: &'a Ctx<'a>,
    flows: &'a FxHashMap<TraceSlot, FlowEntry>,
}

impl FlowOf for LiveFlowOf<'_> {
    fn of_trace(&self, t: TraceSlot) -> Option<TraceId> {
        flow_root(self.cx, self.flows, t).map(|(_, e)| e.row.flow.id)
    }
}

/// The flow holding trace `t` (the first in output order of those whose root is upstream of
/// it), with its root.
fn flow_root<'a>(
    cx: &Ctx<'_>,
    flows: &'a FxHashMap<TraceSlot, FlowEntry>,
    t: TraceSlot,
) -> Option<(TraceSlot, &'a FlowEntry)> {
    let trace = &cx.linker.traces[t];
    if !trace.live {
        return None;
    }
    if trace.up.is_empty() {
        return flows.get(&t).map(|e| (t, e));
    }
    flows::roots_of(cx, [t])
        .into_iter()
        .filter_map(|r| flows.get(&r).map(|e| (r, e)))
        .min_by_key(|(_, e)| e.key)
}

/// Whether a flow waits on a message or a saga: its status moves with the clock.
fn clock_bound(
    cx: &Ctx<'_>,
    pending: &Pending,
    saga_set: &SagaSet,
    members: &[TraceSlot],
    flow: &Flow,
) -> bool {
    matches!(flow.status, FlowStatus::Stuck | FlowStatus::InFlight)
        || pending.oldest(cx, members.iter().copied()).is_some()
        || saga_set.running_in(members.iter().copied())
}

/// The longest queue time and the destinations of the hops within a flow.
fn flow_facts(
    cx: &Ctx<'_>,
    members: &[TraceSlot],
    in_flow: &dyn Fn(TraceSlot) -> bool,
    shape: FlowShape,
) -> FlowFacts {
    let linker = cx.linker;
    let mut worst = 0;
    let mut dests: Vec<(&str, &str)> = Vec::new();
    for &t in members {
        for &h in &linker.traces[t].hops_in {
            let hop = &linker.hops[h];
            if !in_flow(cx.span(hop.producer).trace) {
                continue;
            }
            worst = worst.max(hop.queue);
            let d = (cx.system(hop.dest.system), cx.destination(hop.dest.destination));
            if !dests.contains(&d) {
                dests.push(d);
            }
        }
    }
    dests.sort_unstable();
    FlowFacts {
        worst_queue_ns: worst,
        destinations: dests.into_iter().map(|(s, d)| format!("{s} {d}")).collect(),
        events: super::catalog::flow_events(cx, members),
        shape,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks list exactly what the map holds after any adds and removals; when only the ends
    /// move (new flows last, the oldest evicted), the chunks in between are shared.
    #[test]
    fn chunks_follow_the_map_and_share_what_did_not_change() {
        let mut order: BTreeMap<FlowKey, Arc<u64>> = BTreeMap::new();
        let mut chunks = Chunks::default();
        let mut x = 99u64;
        let mut next = || {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            x >> 20
        };
        let mut before: Vec<Arc<Vec<Arc<u64>>>> = Vec::new();
        for round in 1..300u64 {
            let anywhere = round % 3 == 0;
            let added = next() % 300;
            for _ in 0..added {
                let key =
                    if anywhere { next() % (round * 1000) } else { round * 1000 + next() % 1000 };
                order.insert((key, [0; 16]), Arc::new(key));
                chunks.touched.push((key, [0; 16]));
            }
            for _ in 0..next() % 250 {
                let gone = if anywhere {
                    order.keys().nth(next() as usize % order.len().max(1)).copied()
                } else {
                    order.keys().next().copied()
                };
                if let Some(k) = gone {
                    order.remove(&k);
                    chunks.touched.push(k);
                }
            }
            let now = chunks.update(&order);
            let rows: Vec<u64> = now.iter().flat_map(|c| c.iter().map(|v| **v)).collect();
            let want: Vec<u64> = order.values().map(|v| **v).collect();
            assert_eq!(rows, want, "round {round}");
            assert!(now.iter().all(|c| !c.is_empty() && c.len() <= 2 * CHUNK), "round {round}");
            if !anywhere {
                let shared =
                    now.iter().filter(|c| before.iter().any(|b| Arc::ptr_eq(b, c))).count();
                // The first chunk (the oldest went) and the last (split as it grew).
                let rebuilt = now.len() - shared;
                let bound = 2 + (added as usize).div_ceil(CHUNK) + 1;
                assert!(rebuilt <= bound, "round {round}: {rebuilt} of {} rebuilt", now.len());
            }
            before = now;
        }
        assert!(before.len() > 10, "enough chunks to tell: {}", before.len());
    }
}
