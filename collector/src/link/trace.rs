//! Traces and spans: trace slots, span records, parents and children, the merge of a
//! resent span, and eviction.

use rustc_hash::FxHashMap;

use super::Linker;
use super::facts::{
    self, ARCH, CONSUMER, DERIVED, ERROR, FREED, PRODUCER, SpanFacts, WRITE_METHOD,
};
use super::few::Few;
use super::slot::{HopSlot, Slab, SpanSlot, TraceSlot};
use crate::model::{Span, SpanId, Sym, TraceId};

/// Hops between this trace and another one, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TraceHops {
    pub trace: TraceSlot,
    pub hops: u32,
}

/// Per-trace facts, maintained as spans arrive.
#[derive(Debug, Clone)]
pub(crate) struct TraceFacts {
    pub id: TraceId,
    pub spans: Few<SpanSlot, 4>,
    pub start: u64,
    pub end: u64,
    pub errors: u32,
    /// The trace's root span (no parent; the earliest if several).
    pub root: Option<SpanSlot>,
    /// Distinct services of the trace's spans.
    pub services: Few<Sym, 4>,
    /// Hops whose delivery is in this trace.
    pub hops_in: Few<HopSlot, 2>,
    /// Traces with hops into this one, and how many.
    pub up: Few<TraceHops, 1>,
    /// Traces this one has hops into, and how many.
    pub down: Few<TraceHops, 2>,
    pub live: bool,
    /// Hops into this trace that are dead letters (their delivery reads a dead-letter
    /// destination).
    pub dead_letters: u16,
    /// Span id → slot, built once the trace grows past [`INDEX_AFTER`] spans.
    pub(super) index: Option<Box<FxHashMap<SpanId, SpanSlot>>>,
    /// Children whose parent has not arrived: (parent id, first child), the rest of the
    /// children chained through `next_sibling`. Short: the spans still open, roughly.
    pub(super) pending: Few<(SpanId, SpanSlot), 2>,
}

const _: () = assert!(size_of::<TraceFacts>() == 232);

/// Traces are searched linearly up to this many spans, through a hash index beyond.
const INDEX_AFTER: usize = 24;

impl TraceFacts {
    /// The slot of span `id` of this trace; `spans` are the linker's span records.
    pub(super) fn find(&self, id: SpanId, spans: &Slab<SpanSlot, SpanFacts>) -> Option<SpanSlot> {
        match &self.index {
            Some(index) => index.get(&id).copied(),
            None => self.spans.iter().copied().find(|&s| spans[s].span_id == id),
        }
    }

    fn push(&mut self, id: SpanId, span: SpanSlot, spans: &Slab<SpanSlot, SpanFacts>) {
        self.spans.push(span);
        if let Some(index) = &mut self.index {
            index.insert(id, span);
        } else if self.spans.len() > INDEX_AFTER {
            self.index =
                Some(Box::new(self.spans.iter().map(|&x| (spans[x].span_id, x)).collect()));
        }
    }

    /// Adds `child` to the children waiting for `parent`; returns the previous first child.
    fn wait_for(&mut self, parent: SpanId, child: SpanSlot) -> Option<SpanSlot> {
        if let Some(entry) = self.pending.as_mut_slice().iter_mut().find(|(p, _)| *p == parent) {
            Some(std::mem::replace(&mut entry.1, child))
        } else {
            self.pending.push((parent, child));
            None
        }
    }

    /// Takes the children waiting for `parent` (the first; the rest are chained).
    pub(super) fn take_waiting(&mut self, parent: SpanId) -> Option<SpanSlot> {
        let i = self.pending.iter().position(|(p, _)| *p == parent)?;
        Some(self.pending.swap_remove(i).1)
    }
}

impl Linker {
    /// Forgets evicted traces: their spans, index entries, hops and contributions.
    pub fn evict(&mut self, traces: &[TraceId]) {
        for id in traces {
            let Some(slot) = self.trace_index.remove(id) else { continue };
            self.touch_trace(slot);
            let spans = std::mem::take(&mut self.traces[slot].spans);
            for &span in &spans {
                if self.span(span).is(DERIVED) {
                    self.underive(span);
                }
            }
            for &span in &spans {
                let f = &self.spans[span];
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
                let f = &mut self.spans[span];
                if f.is(ARCH) {
                    self.arch.remove(span);
                }
                f.flags |= FREED;
                f.msg = None;
                f.saga = None;
                self.spans.release(span);
                self.stats.spans -= 1;
            }
            let trace = &mut self.traces[slot];
            trace.live = false;
            trace.hops_in = Few::default();
            trace.services = Few::default();
            trace.index = None;
            trace.pending = Few::default();
            if self.last_trace.is_some_and(|(_, last)| last == slot) {
                self.last_trace = None;
            }
            self.traces.release(slot);
            self.stats.traces -= 1;
            self.stats.evicted_traces += 1;
        }
    }

    pub(super) fn trace_slot(&mut self, id: TraceId) -> TraceSlot {
        if let Some((last, slot)) = self.last_trace
            && last == id
        {
            return slot;
        }
        if let Some(&slot) = self.trace_index.get(&id) {
            self.last_trace = Some((id, slot));
            return slot;
        }
        let trace = TraceFacts {
            id,
            spans: Few::default(),
            start: u64::MAX,
            end: 0,
            errors: 0,
            root: None,
            services: Few::default(),
            hops_in: Few::default(),
            up: Few::default(),
            down: Few::default(),
            live: true,
            dead_letters: 0,
            index: None,
            pending: Few::default(),
        };
        let slot = self.traces.insert(trace);
        self.trace_index.insert_new(id, slot);
        self.last_trace = Some((id, slot));
        self.stats.traces += 1;
        slot
    }

    /// Structural per-trace facts of a new span.
    pub(super) fn trace_add_span(&mut self, trace: TraceSlot, span: SpanSlot, id: SpanId) {
        let f = &self.spans[span];
        let (service, error) = (f.service, f.is_error());
        *self.agg.services.entry(service).or_default() += 1;
        if error {
            self.agg.errors += 1;
        }
        let is_root = f.parent_id.is_none();
        let key = (f.start, f.span_id);
        let record = &mut self.traces[trace];
        record.push(id, span, &self.spans);
        if !record.services.contains(&service) {
            record.services.push(service);
        }
        self.refresh_trace_times(trace, span, is_root, key, error);
    }

    fn refresh_trace_times(
        &mut self,
        trace: TraceSlot,
        span: SpanSlot,
        is_root: bool,
        key: (u64, SpanId),
        error: bool,
    ) {
        let f = &self.spans[span];
        let (start, end) = (f.start, f.end);
        let better_root = is_root
            && self.traces[trace].root.is_none_or(|root| {
                let rf = &self.spans[root];
                key < (rf.start, rf.span_id)
            });
        let record = &mut self.traces[trace];
        record.start = record.start.min(start);
        record.end = record.end.max(end);
        if error {
            record.errors += 1;
        }
        if better_root {
            record.root = Some(span);
        }
    }

    /// Attaches `span` under its parent if it has arrived, else makes it wait for it.
    pub(super) fn place_under(&mut self, trace: TraceSlot, span: SpanSlot, parent_id: SpanId) {
        if let Some(parent) = self.traces[trace].find(parent_id, &self.spans) {
            self.attach(span, parent);
        } else {
            let next = self.traces[trace].wait_for(parent_id, span);
            self.spans[span].next_sibling = next;
        }
    }

    pub(super) fn attach(&mut self, child: SpanSlot, parent: SpanSlot) {
        let head = self.spans[parent].first_child;
        let c = &mut self.spans[child];
        c.parent = Some(parent);
        c.next_sibling = head;
        self.spans[parent].first_child = Some(child);
    }

    /// A resend of a held span: fills in what the held record lacks (commutatively: earliest
    /// start, latest end, error if either says so, union of ids and links), and re-derives
    /// the span if anything changed.
    pub(super) fn merge(&mut self, held: SpanSlot, span: &Span) {
        let trace = self.span(held).trace;
        let scan = self.arch.scan(span, &self.keys, &self.interner);
        self.spans[held].flags |= scan.flags & (ARCH | WRITE_METHOD);
        let new = facts::extract(span, trace, &self.keys, &mut self.names, &self.interner, &scan);
        self.arch.put(held, scan.facts);
        let old = self.span(held);
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
        self.underive(held);
        let was_error = self.span(held).is_error();
        {
            let f = &mut self.spans[held];
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
            self.spans[held].parent_id = Some(pid);
            self.place_under(trace, held, pid);
        }
        self.recompute_trace(trace);
        self.derive(held);
    }

    /// Recomputes a trace's times, errors and root from its spans (after a merge).
    fn recompute_trace(&mut self, trace: TraceSlot) {
        let spans = std::mem::take(&mut self.traces[trace].spans);
        {
            let record = &mut self.traces[trace];
            record.start = u64::MAX;
            record.end = 0;
            record.errors = 0;
            record.root = None;
        }
        for &span in &spans {
            let f = &self.spans[span];
            let (is_root, key, error) = (f.parent_id.is_none(), (f.start, f.span_id), f.is_error());
            self.refresh_trace_times(trace, span, is_root, key, error);
        }
        self.traces[trace].spans = spans;
    }
}
