//! Hop detection and flow assembly: the incremental linker.
//!
//! The linker keeps a compact record of every span it is given (`facts`, ~160 bytes a
//! span) and indexes both sides of every asynchronous hop (DESIGN.md §2–3) so that whichever
//! side arrives first is found by the other, however far apart they arrive:
//!
//! - producers and consumers by message id (the span's own, and ids on link attributes),
//! - by (destination, partition, offset) for Kafka-style spans without ids,
//! - consumers by the span contexts their links point to,
//! - per trace, children whose parent has not arrived yet.
//!
//! Each arriving span costs O(1) amortised: a few hash lookups, plus work proportional to
//! the evidence it carries (its links, the spans sharing its message id). Evidence of a hop
//! is kept per (producer, consumer span) pair, on the consumer's short list; a consumer span
//! under a consumer parent with evidence from the same producer (a `process` under its
//! `receive`) adds its evidence to the parent's hop instead of making a second one. Hops, the
//! trace graph and the aggregates of `agg` (graph edges, subscriptions, unconsumed
//! messages) are *derived*: applied when a span is derived and retracted exactly when it is
//! underived (a merged resend, an eviction), so the linker's state depends only on the set
//! of spans held, never on the order they came in or how they were batched
//! (`tests/analysis_props.rs` checks this).
//!
//! Analyses ([`crate::analysis`]) read this state; flows are assembled on demand from the
//! per-trace facts and the trace graph.

pub(crate) mod agg;
pub(crate) mod facts;
mod few;
mod memory;
mod staged;
pub mod synth;

use std::collections::hash_map::Entry;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHasher};

use crate::model::{Interner, Span, SpanId, SpanKind, Sym, TraceId};
use agg::{Aggregates, DestKey, EdgeKind, Node, SubKey};
use facts::{CONSUMER, DERIVED, ERROR, LinkKeys, MsgFacts, NONE, NameClass, PRODUCER, SpanFacts};
pub use facts::{SagaSource, StepKind};
use few::Few;

/// How a hop was found, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Via {
    /// The consumer span is a child of the producer span.
    Parent,
    /// The consumer span links to the producer span.
    Link,
    /// Same destination, partition and offset.
    Offset,
    /// Same message id.
    MessageId,
    /// Same conversation id: weak, never merges flows.
    Conversation,
}

impl Via {
    const ALL: [Via; 5] = [Via::Parent, Via::Link, Via::Offset, Via::MessageId, Via::Conversation];

    /// The bit of this way in a mask of ways.
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The strongest way in a non-empty mask.
    pub fn best(mask: u8) -> Via {
        Self::ALL.into_iter().find(|v| mask & v.bit() != 0).unwrap_or(Via::Conversation)
    }

    /// Confidence of a hop found this way (DESIGN.md §2).
    pub fn confidence(self) -> f64 {
        match self {
            Via::Parent | Via::Link => 1.0,
            Via::Offset => 0.95,
            Via::MessageId => 0.9,
            Via::Conversation => 0.5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Via::Parent => "parent",
            Via::Link => "link",
            Via::Offset => "offset",
            Via::MessageId => "message_id",
            Via::Conversation => "conversation",
        }
    }
}

/// One hop: a producer span, the consumer-side span that received it (its delivery), and
/// what the linker derived from the pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HopFacts {
    pub producer: u32,
    pub delivery: u32,
    /// Ways the hop was found (a mask of [`Via::bit`]).
    pub vias: u8,
    /// The delivery or a consumer span folded under it is an error.
    pub consumer_error: bool,
    /// Consumer start − producer end, 0 when negative.
    pub queue: u64,
    /// The consumer started before the producer did: the hosts' clocks disagree.
    pub skew: bool,
    pub dest: DestKey,
    /// Index of the subscription in [`Aggregates::subs`].
    pub sub: u32,
    pub live: bool,
}

/// Per-trace facts, maintained as spans arrive.
#[derive(Debug, Clone)]
pub(crate) struct TraceFacts {
    pub id: TraceId,
    pub spans: Few<u32, 4>,
    pub start: u64,
    pub end: u64,
    pub errors: u32,
    /// The trace's root span (no parent; the earliest if several), else [`NONE`].
    pub root: u32,
    /// Distinct services of the trace's spans.
    pub services: Few<Sym, 4>,
    /// Hops whose delivery is in this trace.
    pub hops_in: Few<u32, 2>,
    /// Traces with hops into this one, and how many.
    pub up: Few<(u32, u32), 1>,
    /// Traces this one has hops into, and how many.
    pub down: Few<(u32, u32), 2>,
    pub live: bool,
    /// Span id → slot, built once the trace grows past [`INDEX_AFTER`] spans.
    index: Option<Box<FxHashMap<SpanId, u32>>>,
    /// Children whose parent has not arrived: (parent id, first child), the rest of the
    /// children chained through `next_sibling`. Short: the spans still open, roughly.
    pending: Few<(SpanId, u32), 2>,
}

/// Traces are searched linearly up to this many spans, through a hash index beyond.
const INDEX_AFTER: usize = 24;

impl TraceFacts {
    /// The slot of span `id` of this trace; `spans` are the linker's span records.
    fn find(&self, id: SpanId, spans: &[SpanFacts]) -> Option<u32> {
        match &self.index {
            Some(index) => index.get(&id).copied(),
            None => self.spans.iter().copied().find(|&s| spans[s as usize].span_id == id),
        }
    }

    fn push(&mut self, id: SpanId, s: u32, spans: &[SpanFacts]) {
        self.spans.push(s);
        if let Some(index) = &mut self.index {
            index.insert(id, s);
        } else if self.spans.len() > INDEX_AFTER {
            self.index = Some(Box::new(
                self.spans.iter().map(|&x| (spans[x as usize].span_id, x)).collect(),
            ));
        }
    }

    /// Adds `child` to the children waiting for `parent`; returns the previous first child.
    fn wait_for(&mut self, parent: SpanId, child: u32) -> u32 {
        if let Some(entry) = self.pending.as_mut_slice().iter_mut().find(|(p, _)| *p == parent) {
            std::mem::replace(&mut entry.1, child)
        } else {
            self.pending.push((parent, child));
            NONE
        }
    }

    /// Takes the children waiting for `parent` (the first; the rest are chained).
    fn take_waiting(&mut self, parent: SpanId) -> u32 {
        match self.pending.iter().position(|(p, _)| *p == parent) {
            Some(i) => self.pending.swap_remove(i).1,
            None => NONE,
        }
    }
}

/// One saga instance and the spans that name it.
#[derive(Debug, Clone)]
pub(crate) struct SagaSlot {
    pub source: SagaSource,
    pub id: Box<str>,
    pub spans: Vec<u32>,
}

/// Counters of the linker.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LinkStats {
    /// Spans held.
    pub spans: u64,
    /// Traces held.
    pub traces: u64,
    /// Hops held (conversation hops excluded: they are found on demand).
    pub hops: u64,
    /// Resends seen (exact or merged), since start.
    pub duplicates: u64,
    /// Traces dropped on eviction, since start.
    pub evicted_traces: u64,
}

/// The linker. Owned by one thread (the engine's, or `analyze`'s); not shared.
pub struct Linker {
    pub(crate) interner: Arc<Interner>,
    keys: LinkKeys,
    /// What each span name says, by symbol index (filled on first sight).
    names: Vec<Option<NameClass>>,
    pub(crate) spans: Vec<SpanFacts>,
    free_spans: Vec<u32>,
    pub(crate) traces: Vec<TraceFacts>,
    free_traces: Vec<u32>,
    trace_index: staged::Staged<TraceId, u32>,
    /// The trace of the last span added (spans of one trace tend to come together).
    last_trace: Option<(TraceId, u32)>,
    /// Consumer spans by the contexts they link to.
    links_to: FxHashMap<(TraceId, SpanId), Few<u32, 1>>,
    /// Messaging spans by a hash of each of their message ids (verified on match).
    by_id: FxHashMap<u64, Few<u32, 2>>,
    by_offset: FxHashMap<(Sym, i64, i64), Few<u32, 2>>,
    by_conversation: FxHashMap<u64, Few<u32, 2>>,
    pub(crate) hops: Vec<HopFacts>,
    free_hops: Vec<u32>,
    pub(crate) agg: Aggregates,
    pub(crate) sagas: Vec<SagaSlot>,
    free_sagas: Vec<u32>,
    saga_index: FxHashMap<(SagaSource, Box<str>), u32>,
    watermark: u64,
    stats: LinkStats,
    /// What changed since last taken, when tracked ([`Linker::track_changes`]).
    changes: Option<Changes>,
}

/// Trace and saga slots whose facts changed since the changes were last taken: a span
/// added, merged or evicted, a hop into or out of the trace made or retracted, a span
/// joining or leaving the saga. Incremental analyses recompute from these only.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub traces: rustc_hash::FxHashSet<u32>,
    pub sagas: rustc_hash::FxHashSet<u32>,
}

impl std::fmt::Debug for Linker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker").field("stats", &self.stats).finish_non_exhaustive()
    }
}

fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

fn remove_item(v: &mut Vec<u32>, x: u32) {
    if let Some(i) = v.iter().position(|y| *y == x) {
        v.swap_remove(i);
    }
}

fn bump<const N: usize>(list: &mut Few<(u32, u32), N>, t: u32, add: bool) {
    if let Some(i) = list.iter().position(|(x, _)| *x == t) {
        let entry = &mut list.as_mut_slice()[i];
        if add {
            entry.1 += 1;
        } else {
            entry.1 -= 1;
            if entry.1 == 0 {
                list.swap_remove(i);
            }
        }
    } else if add {
        list.push((t, 1));
    }
}

/// Trace records reserved ahead: one per this many spans. Traces hold a few spans each (the
/// generated recording, 3.6); room beyond what is written costs address space only, as pages
/// are not touched until used.
const SPANS_PER_TRACE_ROOM: usize = 2;

/// Parent chains longer than this are not climbed (they are malformed or cyclic).
pub(crate) const MAX_DEPTH: usize = 256;

impl Linker {
    /// An empty linker over spans decoded with `interner`.
    pub fn new(interner: Arc<Interner>) -> Self {
        let keys = LinkKeys::new(&interner);
        Self {
            interner,
            keys,
            names: Vec::new(),
            spans: Vec::new(),
            free_spans: Vec::new(),
            traces: Vec::new(),
            free_traces: Vec::new(),
            trace_index: staged::Staged::default(),
            last_trace: None,
            links_to: FxHashMap::default(),
            by_id: FxHashMap::default(),
            by_offset: FxHashMap::default(),
            by_conversation: FxHashMap::default(),
            hops: Vec::new(),
            free_hops: Vec::new(),
            agg: Aggregates::default(),
            sagas: Vec::new(),
            free_sagas: Vec::new(),
            saga_index: FxHashMap::default(),
            watermark: 0,
            stats: LinkStats::default(),
            changes: None,
        }
    }

    /// Starts recording which traces and sagas change, for an incremental analysis
    /// ([`crate::analysis::live`]). Off by default: a one-off analysis does not need it.
    pub fn track_changes(&mut self) {
        self.changes.get_or_insert_with(Changes::default);
    }

    /// Whether changes are being recorded.
    pub(crate) fn tracks_changes(&self) -> bool {
        self.changes.is_some()
    }

    /// Stops recording changes (nobody reads them): an incremental analysis over this linker
    /// must start over with a full update.
    pub fn stop_tracking(&mut self) {
        self.changes = None;
    }

    /// What changed since the last call (`None` when changes are not tracked).
    pub(crate) fn take_changes(&mut self) -> Option<Changes> {
        self.changes.as_mut().map(std::mem::take)
    }

    /// Puts the latency and queue-time samples in order, so that reading percentiles
    /// borrows them instead of sorting copies.
    pub(crate) fn settle_samples(&mut self) {
        self.agg.settle();
    }

    fn touch_trace(&mut self, t: u32) {
        if let Some(c) = &mut self.changes {
            c.traces.insert(t);
        }
    }

    fn touch_saga(&mut self, slot: u32) {
        if let Some(c) = &mut self.changes {
            c.sagas.insert(slot);
        }
    }

    /// The interner the spans' symbols resolve in.
    pub fn interner(&self) -> &Arc<Interner> {
        &self.interner
    }

    /// Latest span end (or start) seen: the event clock of a replay or an analysis.
    pub fn watermark(&self) -> u64 {
        self.watermark
    }

    /// Counters.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Makes room, up front, for the span and trace records of about `spans` spans, so that
    /// the slabs do not grow by doublings (each a copy of the whole slab into fresh memory)
    /// while they fill. Only address space until records are written: the memory estimate
    /// counts the records written, not the room. Best effort: nothing is reserved if the
    /// address space is refused.
    pub fn reserve(&mut self, spans: usize) {
        let _ = self.spans.try_reserve_exact(spans.saturating_sub(self.spans.len()));
        let traces = spans / SPANS_PER_TRACE_ROOM;
        let _ = self.traces.try_reserve_exact(traces.saturating_sub(self.traces.len()));
    }

    /// Links every span of a batch.
    pub fn add_all<'a>(&mut self, spans: impl IntoIterator<Item = &'a Span>) {
        let spans = spans.into_iter();
        // Grow the slabs once for the batch rather than by doublings (each a large copy onto
        // fresh pages).
        let n = spans.size_hint().0;
        self.spans.reserve(n.saturating_sub(self.free_spans.len()));
        self.traces.reserve((n / SPANS_PER_TRACE_ROOM).saturating_sub(self.free_traces.len()));
        self.trace_index.reserve(n / 4);
        for span in spans {
            self.add(span);
        }
    }

    /// Takes in one span: a new one is indexed and linked; a resend of a held span is merged
    /// (an exact resend changes nothing and never adds a hop).
    pub fn add(&mut self, span: &Span) {
        self.watermark = self.watermark.max(span.end_unix_nano).max(span.start_unix_nano);
        let t = self.trace_slot(span.trace_id);
        self.touch_trace(t);
        if let Some(s) = self.traces[t as usize].find(span.span_id, &self.spans) {
            self.stats.duplicates += 1;
            self.merge(s, span);
            return;
        }
        let mut facts = facts::extract(span, t, &self.keys, &mut self.names, &self.interner);
        if facts.parent_id == Some(span.span_id) {
            facts.parent_id = None;
        }
        let parent_id = facts.parent_id;
        let s = self.alloc_span(facts);
        self.stats.spans += 1;
        if let Some(pid) = parent_id {
            self.place_under(t, s, pid);
        }
        self.trace_add_span(t, s, span.span_id);
        let mut c = self.traces[t as usize].take_waiting(span.span_id);
        while c != NONE {
            let next = self.spans[c as usize].next_sibling;
            self.attach(c, s);
            c = next;
        }
        self.derive(s);
    }

    /// Forgets evicted traces: their spans, index entries, hops and contributions.
    pub fn evict(&mut self, traces: &[TraceId]) {
        for id in traces {
            let Some(t) = self.trace_index.remove(id) else { continue };
            self.touch_trace(t);
            let spans = std::mem::take(&mut self.traces[t as usize].spans);
            for &s in &spans {
                if self.sp(s).is(DERIVED) {
                    self.underive(s);
                }
            }
            for &s in &spans {
                let f = &self.spans[s as usize];
                let service = f.service;
                let error = f.is_error();
                if let Some(n) = self.agg.services.get_mut(&service) {
                    *n -= 1;
                    if *n == 0 {
                        self.agg.services.remove(&service);
                    }
                }
                if error {
                    self.agg.errors -= 1;
                }
                let f = &mut self.spans[s as usize];
                f.trace = NONE;
                f.msg = None;
                f.saga = None;
                self.free_spans.push(s);
                self.stats.spans -= 1;
            }
            let trace = &mut self.traces[t as usize];
            trace.live = false;
            trace.hops_in = Few::default();
            trace.services = Few::default();
            trace.index = None;
            trace.pending = Few::default();
            if self.last_trace.is_some_and(|(_, l)| l == t) {
                self.last_trace = None;
            }
            self.free_traces.push(t);
            self.stats.traces -= 1;
            self.stats.evicted_traces += 1;
        }
    }

    pub(crate) fn sp(&self, s: u32) -> &SpanFacts {
        &self.spans[s as usize]
    }

    fn msg(&self, s: u32) -> &MsgFacts {
        self.spans[s as usize].msg.as_deref().expect("messaging spans have messaging facts")
    }

    fn msg_mut(&mut self, s: u32) -> &mut MsgFacts {
        self.spans[s as usize].msg.as_deref_mut().expect("messaging spans have messaging facts")
    }

    /// The children of `s`, collected (the list is short and callers mutate as they go).
    pub(crate) fn children(&self, s: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut c = self.sp(s).first_child;
        while c != NONE {
            out.push(c);
            c = self.sp(c).next_sibling;
        }
        out
    }

    fn trace_slot(&mut self, id: TraceId) -> u32 {
        if let Some((last, t)) = self.last_trace
            && last == id
        {
            return t;
        }
        if let Some(&t) = self.trace_index.get(&id) {
            self.last_trace = Some((id, t));
            return t;
        }
        let trace = TraceFacts {
            id,
            spans: Few::default(),
            start: u64::MAX,
            end: 0,
            errors: 0,
            root: NONE,
            services: Few::default(),
            hops_in: Few::default(),
            up: Few::default(),
            down: Few::default(),
            live: true,
            index: None,
            pending: Few::default(),
        };
        let t = if let Some(t) = self.free_traces.pop() {
            self.traces[t as usize] = trace;
            t
        } else {
            self.traces.push(trace);
            (self.traces.len() - 1) as u32
        };
        self.trace_index.insert_new(id, t);
        self.last_trace = Some((id, t));
        self.stats.traces += 1;
        t
    }

    fn alloc_span(&mut self, facts: SpanFacts) -> u32 {
        if let Some(s) = self.free_spans.pop() {
            self.spans[s as usize] = facts;
            s
        } else {
            self.spans.push(facts);
            (self.spans.len() - 1) as u32
        }
    }

    /// Structural per-trace facts of a new span.
    fn trace_add_span(&mut self, t: u32, s: u32, id: SpanId) {
        let f = &self.spans[s as usize];
        let (service, error) = (f.service, f.is_error());
        *self.agg.services.entry(service).or_default() += 1;
        if error {
            self.agg.errors += 1;
        }
        let is_root = f.parent_id.is_none();
        let key = (f.start, f.span_id);
        let trace = &mut self.traces[t as usize];
        trace.push(id, s, &self.spans);
        if !trace.services.contains(&service) {
            trace.services.push(service);
        }
        self.refresh_trace_times(t, s, is_root, key, error);
    }

    fn refresh_trace_times(
        &mut self,
        t: u32,
        s: u32,
        is_root: bool,
        key: (u64, SpanId),
        error: bool,
    ) {
        let f = &self.spans[s as usize];
        let (start, end) = (f.start, f.end);
        let better_root = is_root && {
            let r = self.traces[t as usize].root;
            r == NONE || {
                let rf = &self.spans[r as usize];
                key < (rf.start, rf.span_id)
            }
        };
        let trace = &mut self.traces[t as usize];
        trace.start = trace.start.min(start);
        trace.end = trace.end.max(end);
        if error {
            trace.errors += 1;
        }
        if better_root {
            trace.root = s;
        }
    }

    /// Attaches `s` under its parent if it has arrived, else makes it wait for it.
    fn place_under(&mut self, t: u32, s: u32, parent_id: SpanId) {
        if let Some(p) = self.traces[t as usize].find(parent_id, &self.spans) {
            self.attach(s, p);
        } else {
            let next = self.traces[t as usize].wait_for(parent_id, s);
            self.spans[s as usize].next_sibling = next;
        }
    }

    fn attach(&mut self, child: u32, parent: u32) {
        let head = self.spans[parent as usize].first_child;
        let c = &mut self.spans[child as usize];
        c.parent = parent;
        c.next_sibling = head;
        self.spans[parent as usize].first_child = child;
    }

    /// A resend of a held span: fills in what the held record lacks (commutatively: earliest
    /// start, latest end, error if either says so, union of ids and links), and re-derives
    /// the span if anything changed.
    #[expect(clippy::many_single_char_names, reason = "slots: span, trace; facts: old, new")]
    fn merge(&mut self, s: u32, span: &Span) {
        let t = self.sp(s).trace;
        let new = facts::extract(span, t, &self.keys, &mut self.names, &self.interner);
        let old = self.sp(s);
        let start = if old.start == 0 { new.start } else { old.start.min(new.start.max(1)) };
        let end = old.end.max(new.end);
        let flags = old.flags | (new.flags & ERROR);
        let msg_changed = match (&old.msg, &new.msg) {
            (None, Some(_)) => true,
            (Some(a), Some(b)) => {
                b.ids.iter().any(|i| !a.ids.contains(i))
                    || b.links.iter().any(|l| !a.links.contains(l))
            }
            _ => false,
        };
        let saga_changed = old.saga.is_none() && new.saga.is_some();
        let parent_changed = old.parent_id.is_none() && new.parent_id.is_some();
        if start == old.start
            && end == old.end
            && flags == old.flags
            && !msg_changed
            && !saga_changed
            && !parent_changed
        {
            return;
        }
        self.underive(s);
        let was_error = self.sp(s).is_error();
        {
            let f = &mut self.spans[s as usize];
            f.start = start;
            f.end = end;
            f.flags = (f.flags & !ERROR) | (flags & ERROR);
            if saga_changed {
                f.saga = new.saga;
            }
            match (&mut f.msg, new.msg) {
                (slot @ None, Some(m)) => {
                    *slot = Some(m);
                    f.flags |= new.flags & (PRODUCER | CONSUMER);
                }
                (Some(a), Some(b)) => {
                    for i in b.ids.iter() {
                        a.ids.add(i.into());
                    }
                    for &l in &b.links {
                        if !a.links.contains(&l) {
                            a.links.push(l);
                        }
                    }
                }
                _ => {}
            }
        }
        if !was_error && flags & ERROR != 0 {
            self.agg.errors += 1;
        }
        if parent_changed && let Some(pid) = new.parent_id.filter(|p| *p != span.span_id) {
            self.spans[s as usize].parent_id = Some(pid);
            self.place_under(t, s, pid);
        }
        self.recompute_trace(t);
        self.derive(s);
    }

    /// Recomputes a trace's times, errors and root from its spans (after a merge).
    fn recompute_trace(&mut self, t: u32) {
        let spans = std::mem::take(&mut self.traces[t as usize].spans);
        {
            let trace = &mut self.traces[t as usize];
            trace.start = u64::MAX;
            trace.end = 0;
            trace.errors = 0;
            trace.root = NONE;
        }
        for &s in &spans {
            let f = &self.spans[s as usize];
            let (is_root, key, error) = (f.parent_id.is_none(), (f.start, f.span_id), f.is_error());
            self.refresh_trace_times(t, s, is_root, key, error);
        }
        self.traces[t as usize].spans = spans;
    }

    // ---- derived state ----------------------------------------------------------------

    fn derive(&mut self, s: u32) {
        self.spans[s as usize].flags |= DERIVED;
        self.saga_join(s);
        let p = self.sp(s).parent;
        if p != NONE && self.sp(p).is(DERIVED) {
            self.relation(p, s, true);
        }
        let mut c = self.sp(s).first_child;
        while c != NONE {
            let next = self.sp(c).next_sibling;
            if self.sp(c).is(DERIVED) {
                self.relation(s, c, true);
            }
            c = next;
        }
        if self.sp(s).is(PRODUCER) {
            self.derive_producer(s);
        }
        if self.sp(s).is(CONSUMER) {
            self.derive_consumer(s);
        }
    }

    fn underive(&mut self, s: u32) {
        self.spans[s as usize].flags &= !DERIVED;
        if self.sp(s).is(PRODUCER) {
            self.underive_producer(s);
        }
        if self.sp(s).is(CONSUMER) {
            self.underive_consumer(s);
        }
        let p = self.sp(s).parent;
        if p != NONE && self.sp(p).is(DERIVED) {
            self.relation(p, s, false);
        }
        let mut c = self.sp(s).first_child;
        while c != NONE {
            let next = self.sp(c).next_sibling;
            if self.sp(c).is(DERIVED) {
                self.relation(s, c, false);
            }
            c = next;
        }
        self.saga_leave(s);
    }

    /// Applies (`add`) or retracts what a parent → child pair contributes: a parent hop, a
    /// call between services, an orchestrated saga step.
    fn relation(&mut self, p: u32, c: u32, add: bool) {
        let (pf, cf) = (self.sp(p), self.sp(c));
        let hop = pf.is(PRODUCER) && cf.is(CONSUMER);
        let call = !hop
            && pf.service != cf.service
            && (cf.kind == SpanKind::Server || pf.kind == SpanKind::Client);
        let latency = if pf.kind == SpanKind::Client { pf.duration() } else { cf.duration() };
        let error = pf.is_error() || cf.is_error();
        let (from, to) = (Node::Service(pf.service), Node::Service(cf.service));
        let consumer_under_consumer = cf.is(CONSUMER) && pf.is(CONSUMER);
        let root_saga = pf.saga.as_ref().is_some_and(|f| f.root).then_some(pf.saga_slot);
        let own_key = cf.saga.as_ref().is_some_and(|f| f.key.is_some());
        let child_slot = cf.saga_slot;
        if hop {
            if add {
                self.add_evidence(p, c, Via::Parent.bit());
            } else {
                self.drop_evidence(p, c);
            }
        } else if call {
            let e = self.agg.edge(from, to, EdgeKind::Call);
            if add {
                e.count += 1;
                e.errors += u64::from(error);
                e.samples.add(latency);
            } else {
                e.count -= 1;
                e.errors -= u64::from(error);
                e.samples.remove(latency);
            }
        }
        // A consumer under a consumer: the child's delivery status depends on its parent.
        if consumer_under_consumer {
            self.refresh_orphan(c);
        }
        if let Some(slot) = root_saga
            && slot != NONE
            && !own_key
        {
            self.touch_saga(slot);
            if add {
                self.sagas[slot as usize].spans.push(c);
                let cf = &mut self.spans[c as usize];
                cf.saga_slot = slot;
                cf.orchestrated_step = true;
            } else if child_slot == slot {
                remove_item(&mut self.sagas[slot as usize].spans, c);
                let cf = &mut self.spans[c as usize];
                cf.saga_slot = NONE;
                cf.orchestrated_step = false;
            }
        }
    }

    #[expect(clippy::many_single_char_names, reason = "slot, facts, messaging, destination")]
    fn derive_producer(&mut self, s: u32) {
        let f = self.sp(s);
        let m = self.msg(s);
        let dest = DestKey { system: m.system, destination: m.destination };
        let (service, error) = (f.service, f.is_error());
        let (tid, sid) = (self.traces[f.trace as usize].id, f.span_id);
        let e = self.agg.edge(Node::Service(service), Node::Destination(dest), EdgeKind::Emit);
        e.count += 1;
        e.errors += u64::from(error);
        let m = self.spans[s as usize].msg.as_deref_mut().expect("producer facts");
        let Aggregates { dests, subs, .. } = &mut self.agg;
        let d = dests.entry(dest).or_default();
        m.dest_pos = d.producers.len() as u32;
        d.producers.push(s);
        let reached = &m.subs;
        for &sub in &d.subs {
            if subs[sub as usize].consumed > 0 && !reached.iter().any(|(x, _)| *x == sub) {
                subs[sub as usize].unconsumed.insert(s);
            }
        }
        self.index(s, true);
        // Evidence: consumers already indexed under the same keys, and links pointing here.
        if let Some(waiters) = self.links_to.get(&(tid, sid)).cloned() {
            for &c in &waiters {
                if self.sp(c).is(DERIVED) {
                    self.add_evidence(s, c, Via::Link.bit());
                }
            }
        }
        for &(other, via) in &self.index_matches(s) {
            if self.sp(other).is(CONSUMER) {
                self.add_evidence(s, other, via);
            }
        }
    }

    fn underive_producer(&mut self, s: u32) {
        let partners: Few<u32, 4> = self.msg(s).partners.iter().map(|(c, _)| *c).collect();
        for &c in &partners {
            self.drop_evidence(s, c);
        }
        let f = self.sp(s);
        let m = self.msg(s);
        let dest = DestKey { system: m.system, destination: m.destination };
        let (service, error) = (f.service, f.is_error());
        let e = self.agg.edge(Node::Service(service), Node::Destination(dest), EdgeKind::Emit);
        e.count -= 1;
        e.errors -= u64::from(error);
        let pos = self.msg(s).dest_pos as usize;
        if let Some(d) = self.agg.dests.get_mut(&dest) {
            d.producers.swap_remove(pos);
            let moved = d.producers.get(pos).copied();
            for &sub in &d.subs {
                self.agg.subs[sub as usize].unconsumed.remove(&s);
            }
            if let Some(moved) = moved {
                self.msg_mut(moved).dest_pos = pos as u32;
            }
        }
        self.index(s, false);
    }

    fn derive_consumer(&mut self, s: u32) {
        self.index(s, true);
        for k in 0..self.msg(s).links.len() {
            let key = self.msg(s).links[k];
            self.links_to.entry(key).or_default().push(s);
            if let Some(target) = self.find(key.0, key.1)
                && self.sp(target).is(DERIVED)
                && self.sp(target).is(PRODUCER)
            {
                self.add_evidence(target, s, Via::Link.bit());
            }
        }
        for &(other, via) in &self.index_matches(s) {
            if self.sp(other).is(PRODUCER) {
                self.add_evidence(other, s, via);
            }
        }
        self.refresh_orphan(s);
    }

    fn underive_consumer(&mut self, s: u32) {
        let partners: Few<u32, 4> = self.msg(s).partners.iter().map(|(p, _)| *p).collect();
        for &p in &partners {
            self.drop_evidence(p, s);
        }
        let links: Few<(TraceId, SpanId), 2> = self.msg(s).links.iter().copied().collect();
        for key in &links {
            if let Some(v) = self.links_to.get_mut(key) {
                v.remove_item(s);
                if v.is_empty() {
                    self.links_to.remove(key);
                }
            }
        }
        self.index(s, false);
        self.refresh_orphan(s);
    }

    /// The slot of a held span.
    pub(crate) fn find(&self, trace: TraceId, span: SpanId) -> Option<u32> {
        let t = *self.trace_index.get(&trace)?;
        self.traces[t as usize].find(span, &self.spans)
    }

    /// Adds (or removes) `s` under its message ids, offset and conversation id.
    ///
    /// A message id or offset names one message: a handful of spans share it (its producer,
    /// a resend, one consumer per subscription, redeliveries). Past [`MAX_SHARING`] spans
    /// the key is being reused (ids recycled by a buggy client, offsets of a recreated
    /// topic, a load generator replaying requests), and further spans are not indexed under
    /// it, so each arriving span stays O(1) instead of scanning an ever longer list; they
    /// still link through parents and span links.
    fn index(&mut self, s: u32, add: bool) {
        let Some(m) = self.spans[s as usize].msg.as_deref() else { return };
        let edit = |cap: usize| {
            move |v: &mut Few<u32, 2>| {
                if add {
                    if v.len() < cap && !v.contains(&s) {
                        v.push(s);
                    }
                } else {
                    v.remove_item(s);
                }
            }
        };
        for id in m.ids.iter() {
            edit_index(&mut self.by_id, hash_str(id), edit(MAX_SHARING));
        }
        if let (Some(p), Some(o)) = (m.partition, m.offset)
            && m.destination != Sym::EMPTY
        {
            edit_index(&mut self.by_offset, (m.destination, p, o), edit(MAX_SHARING));
        }
        if let Some(c) = m.conversation.as_deref() {
            edit_index(&mut self.by_conversation, hash_str(c), edit(MAX_CONVERSATION));
        }
    }

    /// Derived spans sharing a message id or an offset with `s`, and how.
    fn index_matches(&self, s: u32) -> Few<(u32, u8), 4> {
        let m = self.msg(s);
        let mut out: Few<(u32, u8), 4> = Few::default();
        let mut push = |o: u32, via: Via| {
            if let Some((_, v)) = out.as_mut_slice().iter_mut().find(|(x, _)| *x == o) {
                *v |= via.bit();
            } else {
                out.push((o, via.bit()));
            }
        };
        for id in m.ids.iter() {
            if let Some(v) = self.by_id.get(&hash_str(id)) {
                for &o in v {
                    if o != s
                        && self.sp(o).is(DERIVED)
                        && self.sp(o).msg.as_ref().is_some_and(|om| om.ids.contains(id))
                    {
                        push(o, Via::MessageId);
                    }
                }
            }
        }
        if let (Some(p), Some(off)) = (m.partition, m.offset)
            && m.destination != Sym::EMPTY
            && let Some(v) = self.by_offset.get(&(m.destination, p, off))
        {
            for &o in v {
                if o != s && self.sp(o).is(DERIVED) {
                    push(o, Via::Offset);
                }
            }
        }
        out
    }

    /// Producer and consumer spans sharing `s`'s conversation id (for weak hops).
    pub(crate) fn conversation_partners(&self, s: u32) -> Vec<u32> {
        let Some(m) = self.sp(s).msg.as_deref() else { return Vec::new() };
        let Some(conv) = m.conversation.as_deref() else { return Vec::new() };
        self.by_conversation
            .get(&hash_str(conv))
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|&o| {
                        o != s
                            && self.sp(o).msg.as_ref().and_then(|om| om.conversation.as_deref())
                                == Some(conv)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The evidence of a hop from `p` to consumer span `c` (a mask of [`Via::bit`]; 0: none).
    /// Kept on the consumer side, whose list is short (a batch consumer's is its batch).
    fn vias(&self, p: u32, c: u32) -> u8 {
        self.sp(c)
            .msg
            .as_deref()
            .and_then(|m| m.partners.iter().find(|(x, _)| *x == p))
            .map_or(0, |(_, v)| *v)
    }

    fn add_evidence(&mut self, p: u32, c: u32, vias: u8) {
        let old = self.vias(p, c);
        if old | vias == old {
            return;
        }
        if old == 0 {
            self.msg_mut(p).partners.push((c, 0));
            self.msg_mut(c).partners.push((p, vias));
            self.refresh_orphan(c);
        } else if let Some(entry) =
            self.msg_mut(c).partners.as_mut_slice().iter_mut().find(|(x, _)| *x == p)
        {
            entry.1 |= vias;
        }
        self.refresh(p, c);
    }

    fn drop_evidence(&mut self, p: u32, c: u32) {
        if !self.msg_mut(c).partners.remove_first(|(x, _)| *x == p) {
            return;
        }
        self.msg_mut(p).partners.remove_first(|(x, _)| *x == c);
        self.refresh(p, c);
        self.refresh_orphan(c);
    }

    fn matched(&self, p: u32, c: u32) -> bool {
        self.vias(p, c) != 0
    }

    /// The hop from `p` delivered at `d`, found on `d`'s short list.
    fn hop_of(&self, p: u32, d: u32) -> Option<u32> {
        let m = self.sp(d).msg.as_deref()?;
        m.hops.iter().copied().find(|&h| {
            let hop = &self.hops[h as usize];
            hop.producer == p && hop.delivery == d
        })
    }

    /// Hops from producer `p` to subscription `sub` held now.
    fn pair(&self, p: u32, sub: u32) -> u32 {
        self.sp(p)
            .msg
            .as_deref()
            .and_then(|m| m.subs.iter().find(|(x, _)| *x == sub))
            .map_or(0, |(_, n)| *n)
    }

    /// Whether `c`'s parent is a derived consumer span with evidence from `p` (so `c`'s
    /// evidence folds into the parent's hop).
    fn folded(&self, p: u32, c: u32) -> bool {
        let par = self.sp(c).parent;
        par != NONE && self.sp(par).is(DERIVED) && self.sp(par).is(CONSUMER) && self.matched(p, par)
    }

    /// Brings the hops of producer `p` around consumer `c` in line with the evidence.
    fn refresh(&mut self, p: u32, c: u32) {
        self.sync_hop(p, c);
        let mut a = c;
        for _ in 0..MAX_DEPTH {
            if !self.folded(p, a) {
                break;
            }
            a = self.sp(a).parent;
        }
        if a != c {
            self.sync_hop(p, a);
        }
        let mut y = self.sp(c).first_child;
        while y != NONE {
            let next = self.sp(y).next_sibling;
            if self.matched(p, y) {
                self.sync_hop(p, y);
            }
            y = next;
        }
    }

    /// What hop (p, d) should be: its evidence and consumer error, or `None` when `d` is not
    /// a delivery of `p` (no evidence, or folded into its parent).
    fn desired(&self, p: u32, d: u32) -> Option<(u8, bool)> {
        if !self.matched(p, d) || !self.sp(d).is(DERIVED) || self.folded(p, d) {
            return None;
        }
        let (mut vias, mut error) = (0, false);
        let mut stack: Few<u32, 8> = Few::default();
        stack.push(d);
        let mut seen = 0;
        while let Some(x) = stack.pop() {
            seen += 1;
            vias |= self.vias(p, x);
            error |= self.sp(x).is_error();
            if seen > MAX_DEPTH {
                break;
            }
            let mut y = self.sp(x).first_child;
            while y != NONE {
                let yf = self.sp(y);
                if yf.is(CONSUMER) && yf.is(DERIVED) && self.matched(p, y) {
                    stack.push(y);
                }
                y = yf.next_sibling;
            }
        }
        Some((vias, error))
    }

    fn sync_hop(&mut self, p: u32, d: u32) {
        let want = self.desired(p, d);
        let have = self.hop_of(p, d);
        match (have, want) {
            (None, None) => {}
            (None, Some((vias, error))) => {
                let h = self.new_hop(p, d, vias, error);
                self.contribute(h, true);
            }
            (Some(h), None) => {
                self.contribute(h, false);
                self.hops[h as usize].live = false;
                self.free_hops.push(h);
            }
            (Some(h), Some((vias, error))) => {
                let hop = &mut self.hops[h as usize];
                if hop.consumer_error != error {
                    self.contribute(h, false);
                    let hop = &mut self.hops[h as usize];
                    hop.vias = vias;
                    hop.consumer_error = error;
                    self.contribute(h, true);
                } else if hop.vias != vias {
                    // What a hop contributes does not depend on how it was found: more (or
                    // less) evidence of the same hop only changes the record.
                    hop.vias = vias;
                    let (pt, dt) = (self.sp(p).trace, self.sp(d).trace);
                    self.touch_trace(pt);
                    self.touch_trace(dt);
                }
            }
        }
    }

    fn new_hop(&mut self, p: u32, d: u32, vias: u8, consumer_error: bool) -> u32 {
        let (pf, df) = (self.sp(p), self.sp(d));
        let (pm, dm) = (self.msg(p), self.msg(d));
        let dest = if pm.destination == Sym::EMPTY {
            DestKey { system: dm.system, destination: dm.destination }
        } else {
            DestKey { system: pm.system, destination: pm.destination }
        };
        let group = if dm.group == Sym::EMPTY { df.service } else { dm.group };
        let queue = df.start.saturating_sub(pf.end);
        let skew = df.start < pf.start;
        let sub = self.agg.sub(SubKey { dest, group });
        let hop = HopFacts {
            producer: p,
            delivery: d,
            vias,
            consumer_error,
            queue,
            skew,
            dest,
            sub,
            live: true,
        };
        if let Some(h) = self.free_hops.pop() {
            self.hops[h as usize] = hop;
            h
        } else {
            self.hops.push(hop);
            (self.hops.len() - 1) as u32
        }
    }

    /// Applies (`add`) or retracts everything hop `h` contributes.
    fn contribute(&mut self, h: u32, add: bool) {
        let hop = self.hops[h as usize];
        let (p, d) = (hop.producer, hop.delivery);
        let (pf, df) = (self.sp(p), self.sp(d));
        let (p_service, d_service) = (pf.service, df.service);
        let (pt, dt) = (pf.trace, df.trace);
        let dest_node = Node::Destination(hop.dest);
        let emit = self.agg.edge(Node::Service(p_service), dest_node, EdgeKind::Emit);
        if add {
            emit.samples.add(hop.queue);
        } else {
            emit.samples.remove(hop.queue);
        }
        let consume = self.agg.edge(dest_node, Node::Service(d_service), EdgeKind::Consume);
        let err = u64::from(hop.consumer_error);
        if add {
            consume.count += 1;
            consume.errors += err;
            consume.samples.add(hop.queue);
        } else {
            consume.count -= 1;
            consume.errors -= err;
            consume.samples.remove(hop.queue);
        }
        self.contribute_sub(&hop, d_service, add);
        self.touch_trace(pt);
        self.touch_trace(dt);
        if pt != dt {
            bump(&mut self.traces[dt as usize].up, pt, add);
            bump(&mut self.traces[pt as usize].down, dt, add);
        }
        if add {
            self.traces[dt as usize].hops_in.push(h);
            self.msg_mut(p).hops.push(h);
            self.msg_mut(d).hops.push(h);
            self.stats.hops += 1;
        } else {
            self.traces[dt as usize].hops_in.remove_item(h);
            self.msg_mut(p).hops.remove_item(h);
            self.msg_mut(d).hops.remove_item(h);
            self.stats.hops -= 1;
        }
        self.refresh_orphan(d);
    }

    fn contribute_sub(&mut self, hop: &HopFacts, d_service: Sym, add: bool) {
        let si = hop.sub;
        let p = hop.producer;
        if add {
            if self.agg.subs[si as usize].consumed == 0 {
                // The subscription starts counting: every producer of its destination that
                // it has not consumed is unconsumed.
                let producers: Vec<u32> =
                    self.agg.dests.get(&hop.dest).map(|d| d.producers.clone()).unwrap_or_default();
                for q in producers {
                    if self.pair(q, si) == 0 {
                        self.agg.subs[si as usize].unconsumed.insert(q);
                    }
                }
            }
            let reached = &mut self.msg_mut(p).subs;
            let n = if let Some(entry) = reached.as_mut_slice().iter_mut().find(|(x, _)| *x == si) {
                entry.1 += 1;
                entry.1
            } else {
                reached.push((si, 1));
                1
            };
            if n == 2 {
                self.agg.dups.insert((p, si));
            }
            let first = n == 1;
            let sub = &mut self.agg.subs[si as usize];
            if first {
                sub.unconsumed.remove(&p);
            }
            sub.consumed += 1;
            sub.queue.add(hop.queue);
            sub.skewed += u64::from(hop.skew);
            *sub.services.entry(d_service).or_default() += 1;
        } else {
            let reached = &mut self.msg_mut(p).subs;
            let n = reached.iter().find(|(x, _)| *x == si).map_or(0, |(_, n)| *n);
            if n > 1 {
                if let Some(entry) = reached.as_mut_slice().iter_mut().find(|(x, _)| *x == si) {
                    entry.1 -= 1;
                }
            } else {
                reached.remove_first(|(x, _)| *x == si);
            }
            if n == 2 {
                self.agg.dups.remove(&(p, si));
            }
            let last = n <= 1;
            let p_derived = self.sp(p).is(DERIVED);
            let sub = &mut self.agg.subs[si as usize];
            sub.consumed -= 1;
            sub.queue.remove(hop.queue);
            sub.skewed -= u64::from(hop.skew);
            if let Some(n) = sub.services.get_mut(&d_service) {
                *n -= 1;
                if *n == 0 {
                    sub.services.remove(&d_service);
                }
            }
            if sub.consumed == 0 {
                sub.unconsumed.clear();
            } else if last && p_derived {
                sub.unconsumed.insert(p);
            }
        }
    }

    /// A consumer-side span that is a delivery (not under another consumer span) with no
    /// evidence of any producer still shows in the graph, as a consume edge from its own
    /// destination.
    fn refresh_orphan(&mut self, c: u32) {
        let f = self.sp(c);
        let Some(m) = f.msg.as_deref() else { return };
        let par = f.parent;
        let under_consumer = par != NONE && self.sp(par).is(DERIVED) && self.sp(par).is(CONSUMER);
        let want = f.is(DERIVED) && f.is(CONSUMER) && m.partners.is_empty() && !under_consumer;
        if want == m.orphan {
            return;
        }
        let dest = DestKey { system: m.system, destination: m.destination };
        let (service, error) = (f.service, f.is_error());
        self.msg_mut(c).orphan = want;
        let e = self.agg.edge(Node::Destination(dest), Node::Service(service), EdgeKind::Consume);
        if want {
            e.count += 1;
            e.errors += u64::from(error);
        } else {
            e.count -= 1;
            e.errors -= u64::from(error);
        }
    }

    fn saga_join(&mut self, s: u32) {
        let Some(key) = self.sp(s).saga.as_ref().and_then(|f| f.key.clone()) else {
            return;
        };
        let slot = if let Some(&slot) = self.saga_index.get(&key) {
            slot
        } else {
            let saga = SagaSlot { source: key.0, id: key.1.clone(), spans: Vec::new() };
            let slot = if let Some(slot) = self.free_sagas.pop() {
                self.sagas[slot as usize] = saga;
                slot
            } else {
                self.sagas.push(saga);
                (self.sagas.len() - 1) as u32
            };
            self.saga_index.insert(key, slot);
            slot
        };
        self.sagas[slot as usize].spans.push(s);
        self.spans[s as usize].saga_slot = slot;
        self.touch_saga(slot);
    }

    fn saga_leave(&mut self, s: u32) {
        let f = self.sp(s);
        let slot = f.saga_slot;
        if slot == NONE || f.orchestrated_step {
            return;
        }
        self.spans[s as usize].saga_slot = NONE;
        self.touch_saga(slot);
        let saga = &mut self.sagas[slot as usize];
        remove_item(&mut saga.spans, s);
        if saga.spans.is_empty() {
            self.saga_index.remove(&(saga.source, saga.id.clone()));
            self.free_sagas.push(slot);
        }
    }

    /// Messaging spans carrying a conversation id.
    pub(crate) fn conversation_members(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.by_conversation.values().flatten().copied().collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Live trace slots.
    pub(crate) fn trace_slots(&self) -> impl Iterator<Item = u32> + '_ {
        // In slot order (≈ arrival order), which reads the slab front to back; the index's
        // order would visit the slab at random.
        (0..self.traces.len() as u32).filter(|&t| self.traces[t as usize].live)
    }

    /// Live saga slots.
    pub(crate) fn saga_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.saga_index.values().copied()
    }

    /// The slot of held trace `id`.
    pub(crate) fn trace_of(&self, id: &TraceId) -> Option<u32> {
        self.trace_index.get(id).copied()
    }

    /// Whether saga slot `slot` holds a saga now.
    pub(crate) fn saga_live(&self, slot: u32) -> bool {
        self.sagas
            .get(slot as usize)
            .is_some_and(|saga| self.saga_index.get(&(saga.source, saga.id.clone())) == Some(&slot))
    }

    /// Live hop slots.
    pub(crate) fn hop_slots(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.hops.len() as u32).filter(|&h| self.hops[h as usize].live)
    }

    /// Whether span `s` is derived and producer-side / consumer-side.
    pub(crate) fn is_producer(&self, s: u32) -> bool {
        self.sp(s).is(PRODUCER)
    }

    pub(crate) fn is_consumer(&self, s: u32) -> bool {
        self.sp(s).is(CONSUMER)
    }
}

/// Spans indexed under one message id or one offset (see [`Linker::index`]).
const MAX_SHARING: usize = 64;
/// Spans indexed under one conversation id: a conversation legitimately spans many messages.
const MAX_CONVERSATION: usize = 1024;

fn edit_index<K: Hash + Eq + Copy>(
    map: &mut FxHashMap<K, Few<u32, 2>>,
    key: K,
    edit: impl Fn(&mut Few<u32, 2>),
) {
    // One probe of the table whatever the outcome (a key emptied is removed through its entry).
    match map.entry(key) {
        Entry::Occupied(mut o) => {
            edit(o.get_mut());
            if o.get().is_empty() {
                o.remove();
            }
        }
        Entry::Vacant(v) => {
            let mut list = Few::default();
            edit(&mut list);
            if !list.is_empty() {
                v.insert(list);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

    use super::*;
    use crate::fake::Generator;
    use crate::ingest::convert::Decoder;
    use crate::model::Interner;

    /// Replayed traffic: the same message ids and offsets on thousands of unrelated spans.
    /// The index keeps at most `MAX_SHARING` spans per key, so linking stays O(1) per span.
    #[test]
    fn a_reused_message_id_is_indexed_a_bounded_number_of_times() {
        let interner = Arc::new(Interner::new());
        let decoder = Decoder::new(Arc::clone(&interner));
        let template = Generator::new(5, 1_000).request(6);
        let mut linker = Linker::new(Arc::clone(&interner));
        let mut all = Vec::new();
        for round in 0..300u16 {
            // New trace ids every round, same message ids and offsets.
            let mut req: ExportTraceServiceRequest = template.clone();
            for span in req
                .resource_spans
                .iter_mut()
                .flat_map(|r| &mut r.scope_spans)
                .flat_map(|s| &mut s.spans)
            {
                span.trace_id[..2].copy_from_slice(&round.to_be_bytes());
                for link in &mut span.links {
                    link.trace_id[..2].copy_from_slice(&round.to_be_bytes());
                }
            }
            all.extend(decoder.traces(req).spans);
        }
        let id = all
            .iter()
            .find_map(|s| s.messaging.as_ref()?.message_id.clone())
            .expect("a message id");
        assert!(
            all.iter()
                .filter(|s| s.messaging.as_ref().and_then(|m| m.message_id.as_ref()) == Some(&id))
                .count()
                > 3 * MAX_SHARING
        );
        linker.add_all(&all);
        let indexed = linker.by_id.get(&hash_str(&id)).map_or(0, |v| v.len());
        assert!((1..=MAX_SHARING).contains(&indexed), "{indexed} spans indexed under one id");
        assert!(linker.by_offset.values().all(|v| v.len() <= MAX_SHARING));
        // Span links still tie every consumer (two a round) to its own producer.
        let analysis = crate::analysis::analyze(
            &linker,
            &crate::analysis::AnalysisOptions::at_watermark(&linker),
        );
        let via_link =
            analysis.hops.iter().filter(|h| h.via == crate::analysis::HopVia::Link).count();
        assert_eq!(via_link, 600);
    }
}
