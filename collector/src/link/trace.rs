//! Traces and spans: trace slots, span records, parents and children, the merge of a
//! resent span, and eviction.

use rustc_hash::FxHashMap;

use super::Linker;
use super::facts::{self, CONSUMER, DERIVED, ERROR, NONE, PRODUCER, SpanFacts};
use super::few::Few;
use crate::model::{Span, SpanId, Sym, TraceId};

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
    pub(super) index: Option<Box<FxHashMap<SpanId, u32>>>,
    /// Children whose parent has not arrived: (parent id, first child), the rest of the
    /// children chained through `next_sibling`. Short: the spans still open, roughly.
    pub(super) pending: Few<(SpanId, u32), 2>,
}

/// Traces are searched linearly up to this many spans, through a hash index beyond.
const INDEX_AFTER: usize = 24;

impl TraceFacts {
    /// The slot of span `id` of this trace; `spans` are the linker's span records.
    pub(super) fn find(&self, id: SpanId, spans: &[SpanFacts]) -> Option<u32> {
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
    pub(super) fn take_waiting(&mut self, parent: SpanId) -> u32 {
        match self.pending.iter().position(|(p, _)| *p == parent) {
            Some(i) => self.pending.swap_remove(i).1,
            None => NONE,
        }
    }
}

impl Linker {
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

    pub(super) fn trace_slot(&mut self, id: TraceId) -> u32 {
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

    pub(super) fn alloc_span(&mut self, facts: SpanFacts) -> u32 {
        if let Some(s) = self.free_spans.pop() {
            self.spans[s as usize] = facts;
            s
        } else {
            self.spans.push(facts);
            (self.spans.len() - 1) as u32
        }
    }

    /// Structural per-trace facts of a new span.
    pub(super) fn trace_add_span(&mut self, t: u32, s: u32, id: SpanId) {
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
    pub(super) fn place_under(&mut self, t: u32, s: u32, parent_id: SpanId) {
        if let Some(p) = self.traces[t as usize].find(parent_id, &self.spans) {
            self.attach(s, p);
        } else {
            let next = self.traces[t as usize].wait_for(parent_id, s);
            self.spans[s as usize].next_sibling = next;
        }
    }

    pub(super) fn attach(&mut self, child: u32, parent: u32) {
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
    pub(super) fn merge(&mut self, s: u32, span: &Span) {
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
}
