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
//! `receive`) adds its evidence to the parent's hop instead of making a second one; likewise a
//! producer span under a producer parent sending the same message (pika's inner `send`) is
//! no message of its own, and its evidence counts for the parent's hops. Hops, the
//! trace graph and the aggregates of `agg` (graph edges, subscriptions, unconsumed
//! messages) are *derived*: applied when a span is derived and retracted exactly when it is
//! underived (a merged resend, an eviction), so the linker's state depends only on the set
//! of spans held, never on the order they came in or how they were batched
//! (`tests/analysis_props.rs` checks this).
//!
//! Analyses ([`crate::analysis`]) read this state; flows are assembled on demand from the
//! per-trace facts and the trace graph.

pub(crate) mod agg;
pub(crate) mod arch;
mod derive;
pub(crate) mod destination;
pub(crate) mod facts;
pub(crate) mod few;
pub(crate) mod hop;
mod index;
mod memory;
mod saga;
mod samples;
pub(crate) mod slot;
mod staged;
pub(crate) mod subscription;
pub mod synth;
mod trace;

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::model::{Interner, Span, SpanId, Sym, TraceId};
use agg::Aggregates;
use facts::{CONSUMER, LinkKeys, MsgFacts, NameClass, PRODUCER, SpanFacts};
pub use facts::{SagaSource, StepKind};
use few::Few;
pub(crate) use hop::HopFacts;
pub use hop::Via;
pub(crate) use saga::SagaInstance;
pub(crate) use samples::{Samples, percentile};
use slot::{HopSlot, SagaSlot, Slab, SpanSlot, TraceSlot};
pub(crate) use trace::{TraceFacts, TraceHops};

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
    pub(crate) spans: Slab<SpanSlot, SpanFacts>,
    pub(crate) traces: Slab<TraceSlot, TraceFacts>,
    trace_index: staged::Staged<TraceId, TraceSlot>,
    /// The trace of the last span added (spans of one trace tend to come together).
    last_trace: Option<(TraceId, TraceSlot)>,
    /// Consumer spans by the contexts they link to.
    links_to: FxHashMap<(TraceId, SpanId), Few<SpanSlot, 1>>,
    /// Messaging spans by a hash of each of their message ids (verified on match).
    by_id: FxHashMap<u64, Few<SpanSlot, 2>>,
    by_offset: FxHashMap<(Sym, i64, i64), Few<SpanSlot, 2>>,
    by_conversation: FxHashMap<u64, Few<SpanSlot, 2>>,
    pub(crate) hops: Slab<HopSlot, HopFacts>,
    pub(crate) agg: Aggregates,
    /// Tables written and event schemas, for the few spans that say them.
    pub(crate) arch: arch::ArchTable,
    pub(crate) sagas: Slab<SagaSlot, SagaInstance>,
    saga_index: FxHashMap<(SagaSource, Box<str>), SagaSlot>,
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
    pub traces: rustc_hash::FxHashSet<TraceSlot>,
    pub sagas: rustc_hash::FxHashSet<SagaSlot>,
}

impl std::fmt::Debug for Linker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker").field("stats", &self.stats).finish_non_exhaustive()
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
            spans: Slab::default(),
            traces: Slab::default(),
            trace_index: staged::Staged::default(),
            last_trace: None,
            links_to: FxHashMap::default(),
            by_id: FxHashMap::default(),
            by_offset: FxHashMap::default(),
            by_conversation: FxHashMap::default(),
            hops: Slab::default(),
            agg: Aggregates::default(),
            arch: arch::ArchTable::default(),
            sagas: Slab::default(),
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

    fn touch_trace(&mut self, trace: TraceSlot) {
        if let Some(c) = &mut self.changes {
            c.traces.insert(trace);
        }
    }

    fn touch_saga(&mut self, slot: SagaSlot) {
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
        self.spans.try_reserve_total(spans);
        self.traces.try_reserve_total(spans / SPANS_PER_TRACE_ROOM);
    }

    /// Links every span of a batch.
    pub fn add_all<'a>(&mut self, spans: impl IntoIterator<Item = &'a Span>) {
        let spans = spans.into_iter();
        // Grow the slabs once for the batch rather than by doublings (each a large copy onto
        // fresh pages).
        let n = spans.size_hint().0;
        self.spans.reserve(n);
        self.traces.reserve(n / SPANS_PER_TRACE_ROOM);
        self.trace_index.reserve(n / 4);
        for span in spans {
            self.add(span);
        }
    }

    /// Takes in one span: a new one is indexed and linked; a resend of a held span is merged
    /// (an exact resend changes nothing and never adds a hop).
    pub fn add(&mut self, span: &Span) {
        self.watermark = self.watermark.max(span.end_unix_nano).max(span.start_unix_nano);
        let trace = self.trace_slot(span.trace_id);
        self.touch_trace(trace);
        if let Some(held) = self.traces[trace].find(span.span_id, &self.spans) {
            self.stats.duplicates += 1;
            self.merge(held, span);
            return;
        }
        let scan = self.arch.scan(span, &self.keys, &self.interner);
        let mut facts =
            facts::extract(span, trace, &self.keys, &mut self.names, &self.interner, &scan);
        if facts.parent_id == Some(span.span_id) {
            facts.parent_id = None;
        }
        let parent_id = facts.parent_id;
        let slot = self.spans.insert(facts);
        self.arch.put(slot, scan.facts);
        self.stats.spans += 1;
        if let Some(pid) = parent_id {
            self.place_under(trace, slot, pid);
        }
        self.trace_add_span(trace, slot, span.span_id);
        let mut child = self.traces[trace].take_waiting(span.span_id);
        while let Some(c) = child {
            child = self.spans[c].next_sibling;
            self.attach(c, slot);
        }
        self.derive(slot);
    }

    pub(crate) fn span(&self, span: SpanSlot) -> &SpanFacts {
        &self.spans[span]
    }

    fn msg(&self, span: SpanSlot) -> &MsgFacts {
        self.spans[span].msg.as_deref().expect("messaging spans have messaging facts")
    }

    fn msg_mut(&mut self, span: SpanSlot) -> &mut MsgFacts {
        self.spans[span].msg.as_deref_mut().expect("messaging spans have messaging facts")
    }

    /// The children of `s`, collected (the list is short and callers mutate as they go).
    pub(crate) fn children(&self, span: SpanSlot) -> Vec<SpanSlot> {
        let mut out = Vec::new();
        let mut child = self.span(span).first_child;
        while let Some(c) = child {
            out.push(c);
            child = self.span(c).next_sibling;
        }
        out
    }

    /// The slot of a held span.
    pub(crate) fn find(&self, trace: TraceId, span: SpanId) -> Option<SpanSlot> {
        let t = *self.trace_index.get(&trace)?;
        self.traces[t].find(span, &self.spans)
    }

    /// Live trace slots.
    pub(crate) fn trace_slots(&self) -> impl Iterator<Item = TraceSlot> + '_ {
        // In slot order (≈ arrival order), which reads the slab front to back; the index's
        // order would visit the slab at random.
        self.traces.slots().filter(|&t| self.traces[t].live)
    }

    /// The slot of held trace `id`.
    pub(crate) fn trace_of(&self, id: &TraceId) -> Option<TraceSlot> {
        self.trace_index.get(id).copied()
    }

    /// Live hop slots.
    pub(crate) fn hop_slots(&self) -> impl Iterator<Item = HopSlot> + '_ {
        self.hops.slots().filter(|&h| self.hops[h].live)
    }

    /// Whether span `s` is derived and producer-side / consumer-side.
    pub(crate) fn is_producer(&self, span: SpanSlot) -> bool {
        self.span(span).is(PRODUCER)
    }

    pub(crate) fn is_consumer(&self, span: SpanSlot) -> bool {
        self.span(span).is(CONSUMER)
    }
}
