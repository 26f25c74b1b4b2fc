//! The bounded span store: spans grouped by trace, deduplicated by `(trace_id, span_id)`,
//! held within a memory budget by evicting the oldest traces first.
//!
//! The store counts an estimate of the bytes each span, trace and log record costs (see
//! [`Span::approx_bytes`]); when the total passes the budget, whole traces are evicted in
//! the order they first arrived. Evicted trace ids are kept for the linker to drop its
//! indexes ([`SpanStore::take_evicted`]).
//!
//! The budget can be shared: [`SpanStore::set_outside`] tells the store how many bytes of the
//! same budget are held elsewhere (the engine passes the linker's estimate, the interner and
//! the ingest queue's share), and the store evicts down to what is left.
//!
//! Freeing an evicted trace (every attribute, string and list of every span) costs about as
//! much as storing it did. The engine has it done on another thread
//! ([`SpanStore::free_evicted_in_background`]); at most [`FREEING_BYTES`] of evicted spans
//! wait there, and past that the store frees them itself.

use std::collections::VecDeque;
use std::mem::size_of;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender};

use rustc_hash::FxHashMap;

use crate::model::{LogRecord, Span, SpanId, TraceId};

/// Where a stored span lives. Stable until its trace is evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanRef {
    pub trace_id: TraceId,
    pub index: u32,
}

/// What [`SpanStore::insert`] did with a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// A span not seen before.
    New(SpanRef),
    /// A resent span that added something (an end time, a status, attributes).
    Merged(SpanRef),
    /// An exact resend; nothing changed.
    Duplicate(SpanRef),
}

impl Inserted {
    /// The stored span's location.
    pub fn span_ref(self) -> SpanRef {
        match self {
            Inserted::New(r) | Inserted::Merged(r) | Inserted::Duplicate(r) => r,
        }
    }
}

/// The spans and log records of one trace.
#[derive(Debug, Default)]
pub struct Trace {
    spans: Vec<Span>,
    /// Built once a trace grows past [`INDEX_AFTER`] spans; linear search below that.
    index: Option<FxHashMap<SpanId, u32>>,
    logs: Vec<LogRecord>,
    bytes: usize,
}

const INDEX_AFTER: usize = 16;
/// Fixed cost of a trace: its map slot (id and pointer), its order slot, and the `Trace`
/// itself in its own allocation.
const TRACE_OVERHEAD: usize =
    size_of::<Trace>() + 16 + size_of::<TraceId>() * 2 + size_of::<usize>() + 32;

impl Trace {
    /// The spans, in arrival order.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The log records that name this trace.
    pub fn logs(&self) -> &[LogRecord] {
        &self.logs
    }

    fn find(&self, span_id: SpanId) -> Option<u32> {
        match &self.index {
            Some(index) => index.get(&span_id).copied(),
            None => self.spans.iter().position(|s| s.span_id == span_id).map(|i| i as u32),
        }
    }

    fn push(&mut self, span: Span) -> u32 {
        let idx = self.spans.len() as u32;
        if let Some(index) = &mut self.index {
            index.insert(span.span_id, idx);
        }
        if self.spans.len() == self.spans.capacity() {
            // Grow 1, 2, 4, 8...: `Vec`'s first allocation would hold 4 spans, and most
            // traces on a consumer's side hold one.
            self.spans.reserve_exact(self.spans.len().max(1));
        }
        self.spans.push(span);
        if self.index.is_none() && self.spans.len() > INDEX_AFTER {
            self.index =
                Some(self.spans.iter().enumerate().map(|(i, s)| (s.span_id, i as u32)).collect());
        }
        idx
    }
}

/// Counters kept by the store.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Spans held now.
    pub spans: u64,
    /// Traces held now.
    pub traces: u64,
    /// Log records held now.
    pub logs: u64,
    /// Resends merged into (or identical to) a stored span, since start.
    pub duplicates: u64,
    /// Spans evicted to stay within the budget, since start.
    pub evicted_spans: u64,
    /// Traces evicted, since start.
    pub evicted_traces: u64,
    /// Estimated bytes held.
    pub bytes: u64,
}

/// Evicted traces waiting to be freed on another thread, at most this many bytes (by the
/// store's estimate), besides those gathered for the next hand-over ([`FREE_BATCH_BYTES`]).
pub const FREEING_BYTES: usize = 8 << 20;
/// Evicted traces are handed over to be freed in batches of about this many bytes.
const FREE_BATCH_BYTES: usize = 256 << 10;

/// Hands evicted traces to a thread that frees them.
#[derive(Debug)]
#[expect(clippy::vec_box, reason = "the traces come boxed out of the map; unboxing copies them")]
struct Freer {
    tx: SyncSender<Vec<Box<Trace>>>,
    /// Evicted traces gathered for the next hand-over, and their bytes.
    batch: Vec<Box<Trace>>,
    batch_bytes: usize,
    /// Bytes handed over and not yet freed.
    freeing: Arc<AtomicUsize>,
}

impl Freer {
    fn start() -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Vec<Box<Trace>>>(FREEING_BYTES / FREE_BATCH_BYTES);
        let freeing = Arc::new(AtomicUsize::new(0));
        let freed = Arc::clone(&freeing);
        std::thread::Builder::new().name("hopscope-free".into()).spawn(move || {
            for batch in rx {
                let bytes: usize = batch.iter().map(|t| t.bytes).sum();
                drop(batch);
                freed.fetch_sub(bytes, Ordering::Release);
            }
        })?;
        Ok(Self { tx, batch: Vec::new(), batch_bytes: 0, freeing })
    }

    fn retire(&mut self, trace: Box<Trace>) {
        self.batch_bytes += trace.bytes;
        self.batch.push(trace);
        if self.batch_bytes < FREE_BATCH_BYTES {
            return;
        }
        let bytes = std::mem::take(&mut self.batch_bytes);
        let batch = std::mem::take(&mut self.batch);
        // Within the bound, or freed here (the freeing thread is behind, or gone).
        if self.freeing.load(Ordering::Acquire) + bytes <= FREEING_BYTES {
            self.freeing.fetch_add(bytes, Ordering::AcqRel);
            if self.tx.try_send(batch).is_err() {
                self.freeing.fetch_sub(bytes, Ordering::AcqRel);
            }
        }
    }
}

/// The span store. Owned by the engine; not shared.
#[derive(Debug)]
pub struct SpanStore {
    /// Boxed, so that the table stays small: growing it moves 24-byte entries, not whole
    /// traces (the engine stops while it grows).
    traces: FxHashMap<TraceId, Box<Trace>>,
    order: VecDeque<TraceId>,
    /// Log records without a trace id, oldest first.
    orphan_logs: VecDeque<LogRecord>,
    max_bytes: usize,
    /// Bytes of the same budget held outside the store ([`SpanStore::set_outside`]).
    outside: usize,
    stats: StoreStats,
    evicted: Vec<TraceId>,
    /// Frees evicted traces on another thread, when set.
    freer: Option<Freer>,
}

impl SpanStore {
    /// A store that holds at most about `max_bytes` of spans and logs.
    pub fn new(max_bytes: u64) -> Self {
        Self {
            traces: FxHashMap::default(),
            order: VecDeque::new(),
            orphan_logs: VecDeque::new(),
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
            outside: 0,
            stats: StoreStats::default(),
            evicted: Vec::new(),
            freer: None,
        }
    }

    /// Has evicted traces freed on a thread of their own rather than on the caller's, so
    /// that storing spans does not also pay for freeing the ones they displace. At most
    /// [`FREEING_BYTES`] (and one batch) wait there, outside the budget. Fails if the thread
    /// cannot be started.
    pub fn free_evicted_in_background(&mut self) -> std::io::Result<()> {
        if self.freer.is_none() {
            self.freer = Some(Freer::start()?);
        }
        Ok(())
    }

    /// Declares that `bytes` of this store's budget are held elsewhere (by the linker, the
    /// ingest queue...): from the next insert on, the store keeps its own estimate within
    /// the budget minus `bytes`. Replaces the previous declaration.
    pub fn set_outside(&mut self, bytes: u64) {
        self.outside = usize::try_from(bytes).unwrap_or(usize::MAX);
    }

    /// The bytes the store may hold now: its budget less what is held outside it.
    pub fn limit(&self) -> u64 {
        self.max_bytes.saturating_sub(self.outside) as u64
    }

    /// Current counters.
    pub fn stats(&self) -> StoreStats {
        self.stats
    }

    /// The trace with this id, if held.
    pub fn trace(&self, trace_id: &TraceId) -> Option<&Trace> {
        self.traces.get(trace_id).map(|t| &**t)
    }

    /// The span at `r`, if its trace is still held.
    pub fn get(&self, r: SpanRef) -> Option<&Span> {
        self.traces.get(&r.trace_id)?.spans.get(r.index as usize)
    }

    /// Finds a span by its ids.
    pub fn find(&self, trace_id: TraceId, span_id: SpanId) -> Option<SpanRef> {
        let index = self.traces.get(&trace_id)?.find(span_id)?;
        Some(SpanRef { trace_id, index })
    }

    /// Whether an identical copy of `span` is stored (an exact resend).
    pub fn holds_identical(&self, span: &Span) -> bool {
        self.find(span.trace_id, span.span_id).and_then(|r| self.get(r)) == Some(span)
    }

    /// Every held trace, in no particular order.
    pub fn traces(&self) -> impl Iterator<Item = (&TraceId, &Trace)> {
        self.traces.iter().map(|(id, t)| (id, &**t))
    }

    /// Trace ids evicted since the last call, for indexes that must forget them.
    pub fn take_evicted(&mut self) -> Vec<TraceId> {
        std::mem::take(&mut self.evicted)
    }

    /// Trace ids evicted since they were last cleared ([`SpanStore::clear_evicted`]): as
    /// [`SpanStore::take_evicted`], without giving up the list's memory.
    pub fn evicted(&self) -> &[TraceId] {
        &self.evicted
    }

    /// Forgets the evicted trace ids (once their indexes have dropped them).
    pub fn clear_evicted(&mut self) {
        self.evicted.clear();
    }

    fn trace_entry(&mut self, trace_id: TraceId) -> &mut Trace {
        let stats = &mut self.stats;
        let order = &mut self.order;
        self.traces.entry(trace_id).or_insert_with(|| {
            stats.traces += 1;
            stats.bytes += TRACE_OVERHEAD as u64;
            order.push_back(trace_id);
            Box::new(Trace { bytes: TRACE_OVERHEAD, ..Trace::default() })
        })
    }

    /// Stores a span, merging it into a stored one with the same ids. May evict older
    /// traces (never the span's own) to stay within the budget.
    pub fn insert(&mut self, span: Span) -> Inserted {
        let bytes = span.approx_bytes();
        self.insert_sized(span, bytes)
    }

    /// [`SpanStore::insert`], given the span's [`Span::approx_bytes`] (the receivers compute
    /// it once, to bound the ingest queue).
    pub fn insert_sized(&mut self, span: Span, bytes: usize) -> Inserted {
        debug_assert_eq!(bytes, span.approx_bytes(), "the span's own estimate");
        let trace_id = span.trace_id;
        let trace = self.trace_entry(trace_id);
        let outcome = if let Some(index) = trace.find(span.span_id) {
            let stored = &mut trace.spans[index as usize];
            let before = stored.approx_bytes();
            let changed = merge(stored, span);
            let grown = stored.approx_bytes().saturating_sub(before);
            trace.bytes += grown;
            self.stats.bytes += grown as u64;
            self.stats.duplicates += 1;
            let r = SpanRef { trace_id, index };
            if changed { Inserted::Merged(r) } else { Inserted::Duplicate(r) }
        } else {
            let index = trace.push(span);
            trace.bytes += bytes;
            self.stats.bytes += bytes as u64;
            self.stats.spans += 1;
            Inserted::New(SpanRef { trace_id, index })
        };
        self.evict_to_budget(Some(trace_id));
        outcome
    }

    /// Stores a log record beside its span's trace (or among the orphan records).
    pub fn insert_log(&mut self, record: LogRecord) {
        let bytes = record.approx_bytes();
        self.stats.bytes += bytes as u64;
        self.stats.logs += 1;
        let keep = record.trace_id;
        match record.trace_id {
            Some(trace_id) => {
                let trace = self.trace_entry(trace_id);
                trace.bytes += bytes;
                trace.logs.push(record);
            }
            None => self.orphan_logs.push_back(record),
        }
        self.evict_to_budget(keep);
    }

    /// Log records that name no trace, oldest first.
    pub fn orphan_logs(&self) -> impl Iterator<Item = &LogRecord> {
        self.orphan_logs.iter()
    }

    fn evict_to_budget(&mut self, keep: Option<TraceId>) {
        let limit = self.max_bytes.saturating_sub(self.outside);
        while self.stats.bytes as usize > limit {
            if let Some(record) = self.orphan_logs.pop_front() {
                self.stats.bytes -= record.approx_bytes() as u64;
                self.stats.logs -= 1;
                continue;
            }
            let Some(oldest) = self.order.pop_front() else { break };
            if Some(oldest) == keep && self.order.is_empty() {
                // The only trace left is the one being written: keep it, over budget.
                self.order.push_back(oldest);
                break;
            }
            if Some(oldest) == keep {
                self.order.push_back(oldest);
                continue;
            }
            if let Some(trace) = self.traces.remove(&oldest) {
                self.stats.bytes -= trace.bytes as u64;
                self.stats.spans -= trace.spans.len() as u64;
                self.stats.logs -= trace.logs.len() as u64;
                self.stats.traces -= 1;
                self.stats.evicted_spans += trace.spans.len() as u64;
                self.stats.evicted_traces += 1;
                self.evicted.push(oldest);
                if let Some(freer) = &mut self.freer {
                    freer.retire(trace);
                }
            }
        }
    }
}

/// Merges a resent span into the stored one; returns whether anything changed.
fn merge(stored: &mut Span, new: Span) -> bool {
    if *stored == new {
        return false;
    }
    let mut changed = false;
    if stored.end_unix_nano == 0 && new.end_unix_nano != 0 {
        stored.end_unix_nano = new.end_unix_nano;
        changed = true;
    }
    if stored.start_unix_nano == 0 && new.start_unix_nano != 0 {
        stored.start_unix_nano = new.start_unix_nano;
        changed = true;
    }
    if stored.status.code == crate::model::StatusCode::Unset
        && new.status.code != crate::model::StatusCode::Unset
    {
        stored.status = new.status;
        changed = true;
    }
    if stored.parent_span_id.is_none() && new.parent_span_id.is_some() {
        stored.parent_span_id = new.parent_span_id;
        changed = true;
    }
    let missing: Vec<_> = new
        .attributes
        .iter()
        .filter(|kv| !stored.attributes.iter().any(|s| s.key == kv.key))
        .cloned()
        .collect();
    if !missing.is_empty() {
        stored.attributes = stored.attributes.iter().cloned().chain(missing).collect();
        changed = true;
    }
    let events: Vec<_> =
        new.events.iter().filter(|e| !stored.events.contains(e)).cloned().collect();
    if !events.is_empty() {
        stored.events = stored.events.iter().cloned().chain(events).collect();
        changed = true;
    }
    let links: Vec<_> = new
        .links
        .iter()
        .filter(|l| {
            !stored.links.iter().any(|s| s.trace_id == l.trace_id && s.span_id == l.span_id)
        })
        .cloned()
        .collect();
    if !links.is_empty() {
        stored.links = stored.links.iter().cloned().chain(links).collect();
        changed = true;
    }
    if stored.messaging.is_none() && new.messaging.is_some() {
        stored.messaging = new.messaging;
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::fake::Generator;
    use crate::model::{Interner, StatusCode};
    use crate::otlp::convert::Decoder;

    fn spans(n: usize) -> Vec<Span> {
        let decoder = Decoder::new(Arc::new(Interner::new()));
        decoder.traces(Generator::new(3, 1_000).request(n)).spans
    }

    #[test]
    fn resend_is_merged_not_duplicated() {
        let mut store = SpanStore::new(u64::MAX);
        let batch = spans(60);
        for s in batch.clone() {
            assert!(matches!(store.insert(s), Inserted::New(_)));
        }
        for s in batch.clone() {
            assert!(matches!(store.insert(s), Inserted::Duplicate(_)));
        }
        assert_eq!(store.stats().spans, 60);
        assert_eq!(store.stats().duplicates, 60);

        // A first export without an end time or status, then the finished span.
        let mut early = batch[0].clone();
        early.trace_id = TraceId([9; 16]);
        let mut late = early.clone();
        early.end_unix_nano = 0;
        early.status = crate::model::Status::default();
        late.status.code = StatusCode::Error;
        assert!(matches!(store.insert(early), Inserted::New(_)));
        let r = store.insert(late.clone()).span_ref();
        let stored = store.get(r).unwrap();
        assert_eq!(stored.end_unix_nano, late.end_unix_nano);
        assert_eq!(stored.status.code, StatusCode::Error);
    }

    #[test]
    fn finds_spans_in_large_traces() {
        let mut store = SpanStore::new(u64::MAX);
        let mut batch = spans(60);
        for (i, s) in batch.iter_mut().enumerate() {
            s.trace_id = TraceId([1; 16]);
            s.span_id = SpanId((i as u64 + 1).to_be_bytes());
        }
        for s in batch.clone() {
            store.insert(s);
        }
        for (i, s) in batch.iter().enumerate() {
            let r = store.find(s.trace_id, s.span_id).unwrap();
            assert_eq!(r.index as usize, i);
        }
        assert_eq!(store.trace(&TraceId([1; 16])).unwrap().spans().len(), 60);
        assert_eq!(store.stats().traces, 1);
    }

    #[test]
    fn evicts_oldest_traces_within_budget() {
        let batch = spans(600);
        let per_span = batch[0].approx_bytes() as u64;
        let budget = per_span * 120;
        let mut store = SpanStore::new(budget);
        let first_trace = batch[0].trace_id;
        let last_trace = batch[batch.len() - 1].trace_id;
        for s in batch {
            store.insert(s);
        }
        let stats = store.stats();
        assert!(stats.bytes <= budget, "{} > {budget}", stats.bytes);
        assert!(stats.evicted_spans > 0 && stats.evicted_traces > 0);
        assert_eq!(stats.spans + stats.evicted_spans, 600);
        assert!(store.trace(&first_trace).is_none(), "oldest trace should go first");
        assert!(store.trace(&last_trace).is_some(), "newest trace should stay");
        let evicted = store.take_evicted();
        assert_eq!(evicted.len() as u64, stats.evicted_traces);
        assert!(evicted.contains(&first_trace));
        assert!(store.take_evicted().is_empty());
    }

    #[test]
    fn freeing_evicted_traces_in_background_evicts_the_same() {
        let batch = spans(3_000);
        let budget = batch[0].approx_bytes() as u64 * 500;
        let (mut here, mut there) = (SpanStore::new(budget), SpanStore::new(budget));
        there.free_evicted_in_background().unwrap();
        for s in batch {
            here.insert(s.clone());
            there.insert(s);
        }
        assert_eq!(here.stats(), there.stats());
        assert!(here.stats().evicted_traces > 100, "{:?}", here.stats());
        assert_eq!(here.take_evicted(), there.take_evicted());
        let held = |store: &SpanStore| {
            let mut ids: Vec<TraceId> = store.traces().map(|(id, _)| *id).collect();
            ids.sort_unstable();
            ids
        };
        assert_eq!(held(&here), held(&there));
        // Everything handed over is freed; what waits is within the bound.
        let freer = there.freer.as_ref().unwrap();
        assert!(freer.batch_bytes < FREE_BATCH_BYTES);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while freer.freeing.load(Ordering::Acquire) > 0 {
            assert!(std::time::Instant::now() < deadline, "evicted traces never freed");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn bytes_held_outside_lower_the_limit() {
        let batch = spans(600);
        let per_span = batch[0].approx_bytes() as u64;
        let budget = per_span * 400;
        let mut store = SpanStore::new(budget);
        for s in batch[..300].iter().cloned() {
            store.insert(s);
        }
        assert_eq!(store.stats().evicted_spans, 0);
        // Half the budget is now held elsewhere: the next insert evicts down to the rest.
        store.set_outside(budget / 2);
        assert_eq!(store.limit(), budget - budget / 2);
        store.insert(batch[300].clone());
        let stats = store.stats();
        assert!(stats.bytes <= budget / 2, "{} > {}", stats.bytes, budget / 2);
        assert!(stats.evicted_spans > 0);
        assert_eq!(store.take_evicted().len() as u64, stats.evicted_traces);
        // More held outside than the whole budget: only the trace being written stays.
        store.set_outside(u64::MAX);
        let last = batch[599].clone();
        let last_trace = last.trace_id;
        store.insert(last);
        assert!(store.traces().all(|(id, _)| *id == last_trace));
    }
}
