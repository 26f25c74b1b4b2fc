//! What the linker holds in memory, estimated cheaply enough to ask after every batch, so the
//! engine can keep the store, the linker and the ingest queue together within `--max-memory`.
//!
//! The estimate has two parts:
//!
//! - **Exact by capacity**: every top-level vector and hash map (span and trace records, free
//!   lists, the message-id, offset, conversation and link indexes, hops, sagas). Capacity, not
//!   length: what the allocator handed out, even when slots are free for reuse after an
//!   eviction (the linker never shrinks them, and neither does the process's resident memory).
//! - **Sampled**: what hangs off individual records (a span's messaging and saga facts, its
//!   message-id strings, short lists that spilled to the heap, a large trace's index). Up to
//!   [`SAMPLE`] live records, evenly spaced, are measured exactly and their mean is scaled by
//!   the number of live records. The aggregates (graph edges with their latency samples,
//!   destinations, subscriptions) are walked the same way: exactly when small, sampled when
//!   there are many.
//!
//! Every heap allocation is charged [`ALLOC_OVERHEAD`] on top of its size (allocator headers
//! and size-class rounding). The cost is O([`SAMPLE`]) per call whatever the number of spans.

use std::mem::size_of;

use rustc_hash::{FxHashMap, FxHashSet};

use super::facts::{FREED, MsgFacts, SagaFacts, SpanFacts};
use super::few::Few;
use super::slot::{Slab, Slot};
use super::{Linker, SagaInstance, TraceFacts};

/// Records measured per estimate, per kind of record.
const SAMPLE: usize = 64;
/// Bytes an allocator adds to each heap allocation, on average (header, size-class rounding).
const ALLOC_OVERHEAD: usize = 16;

fn vec_bytes<T>(v: &Vec<T>) -> usize {
    if v.capacity() == 0 { 0 } else { v.capacity() * size_of::<T>() + ALLOC_OVERHEAD }
}

/// A large vector grown by doubling: the slots written so far (freed ones included, which are
/// kept for reuse). The rest of its capacity was never touched, so it takes no memory yet.
fn table_vec_bytes<T>(v: &Vec<T>) -> usize {
    if v.capacity() == 0 { 0 } else { v.len() * size_of::<T>() + ALLOC_OVERHEAD }
}

/// A slab: its records (as [`table_vec_bytes`]) and its free list.
fn slab_bytes<K: Slot, T>(slab: &Slab<K, T>) -> usize {
    let (items, free) = slab.vecs();
    table_vec_bytes(items) + table_vec_bytes(free)
}

/// hashbrown's table: a power-of-two number of buckets, at most 7/8 full, one control byte per
/// bucket (plus a group's worth) besides the entry.
fn table_bytes(capacity: usize, entry: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 { capacity + 1 } else { (capacity * 8 / 7).next_power_of_two() };
    buckets * (entry + 1) + 16 + ALLOC_OVERHEAD
}

fn map_bytes<K, V>(m: &FxHashMap<K, V>) -> usize {
    table_bytes(m.capacity(), size_of::<(K, V)>())
}

fn set_bytes<K>(s: &FxHashSet<K>) -> usize {
    table_bytes(s.capacity(), size_of::<K>())
}

fn str_bytes(s: &str) -> usize {
    if s.is_empty() { 0 } else { s.len() + ALLOC_OVERHEAD }
}

fn opt_str_bytes(s: Option<&str>) -> usize {
    s.map_or(0, str_bytes)
}

fn few_bytes<T: Copy + Default, const N: usize>(f: &Few<T, N>) -> usize {
    match f {
        Few::Inline(..) => 0,
        Few::Heap(v) => vec_bytes(v),
    }
}

/// A [`Samples`] multiset holding `count` values: its vector (grown by doubling) plus the
/// removals it keeps until it compacts (at most a quarter more).
fn samples_bytes(count: u64) -> usize {
    if count == 0 {
        return 0;
    }
    let values = (count as usize).next_power_of_two();
    (values + values / 4) * size_of::<u64>() + 2 * ALLOC_OVERHEAD
}

/// Sums `f` over `items` (of which there are `len`): exactly over the first `4 * SAMPLE`, and
/// scaled up to `len` beyond that.
fn sum_sampled<'a, T: 'a>(
    items: impl Iterator<Item = &'a T>,
    len: usize,
    f: impl Fn(&T) -> usize,
) -> usize {
    let (mut seen, mut sum) = (0usize, 0usize);
    for item in items.take(4 * SAMPLE) {
        seen += 1;
        sum += f(item);
    }
    sum.checked_div(seen).map_or(0, |mean| mean * len.max(seen))
}

/// The mean of `f` over up to [`SAMPLE`] evenly spaced records of `records` for which `live`
/// holds, times `live_count`.
fn scaled_mean<T>(
    records: &[T],
    live_count: u64,
    live: impl Fn(&T) -> bool,
    f: impl Fn(&T) -> usize,
) -> usize {
    if records.is_empty() || live_count == 0 {
        return 0;
    }
    let stride = (records.len() / SAMPLE).max(1);
    let (mut seen, mut sum) = (0usize, 0usize);
    for record in records.iter().step_by(stride).filter(|r| live(r)) {
        seen += 1;
        sum += f(record);
    }
    if seen == 0 {
        return 0;
    }
    (sum as f64 / seen as f64 * live_count as f64) as usize
}

fn msg_heap(m: &MsgFacts) -> usize {
    size_of::<MsgFacts>()
        + ALLOC_OVERHEAD
        + m.ids.iter().map(str_bytes).sum::<usize>()
        // Ids past the first live in a list.
        + match m.ids.iter().count() {
            0 | 1 => 0,
            n => (n - 1).next_power_of_two() * size_of::<Box<str>>() + ALLOC_OVERHEAD,
        }
        + opt_str_bytes(m.conversation.as_deref())
        + few_bytes(&m.links)
        + few_bytes(&m.partners)
        + few_bytes(&m.subs)
        + few_bytes(&m.hops)
}

fn saga_heap(s: &SagaFacts) -> usize {
    size_of::<SagaFacts>()
        + ALLOC_OVERHEAD
        + s.key.as_ref().map_or(0, |(_, id)| str_bytes(id))
        + opt_str_bytes(s.saga_name.as_deref())
        + opt_str_bytes(s.step_name.as_deref())
        + opt_str_bytes(s.compensates.as_deref())
        + opt_str_bytes(s.state.as_deref())
}

fn span_heap(f: &SpanFacts) -> usize {
    f.msg.as_deref().map_or(0, msg_heap) + f.saga.as_deref().map_or(0, saga_heap)
}

fn trace_heap(t: &TraceFacts) -> usize {
    t.index.as_deref().map_or(0, |m| map_bytes(m) + ALLOC_OVERHEAD)
        + few_bytes(&t.spans)
        + few_bytes(&t.services)
        + few_bytes(&t.hops_in)
        + few_bytes(&t.up)
        + few_bytes(&t.down)
        + few_bytes(&t.pending)
}

fn saga_instance_heap(s: &SagaInstance) -> usize {
    // The id is held twice: in the slot and as the key of `saga_index`.
    2 * str_bytes(&s.id) + vec_bytes(&s.spans)
}

impl Linker {
    /// Estimated bytes of memory the linker holds (see the module documentation): within a
    /// few percent of what it allocated for the traffic it was tested with, and never an
    /// undercount of its top-level tables. Costs O(`SAMPLE`), not O(spans).
    pub(crate) fn estimated_bytes(&self) -> u64 {
        let tables = table_vec_bytes(&self.names)
            + slab_bytes(&self.spans)
            + slab_bytes(&self.traces)
            + self.trace_index.maps().into_iter().map(map_bytes).sum::<usize>()
            + map_bytes(&self.links_to)
            + map_bytes(&self.by_id)
            + map_bytes(&self.by_offset)
            + map_bytes(&self.by_conversation)
            + slab_bytes(&self.hops)
            + slab_bytes(&self.sagas)
            + map_bytes(&self.saga_index)
            + self.arch.heap_bytes();
        let index_lists = sum_sampled(self.links_to.values(), self.links_to.len(), few_bytes)
            + sum_sampled(self.by_id.values(), self.by_id.len(), few_bytes)
            + sum_sampled(self.by_offset.values(), self.by_offset.len(), few_bytes)
            + sum_sampled(self.by_conversation.values(), self.by_conversation.len(), few_bytes);
        let stats = self.stats();
        let spans = scaled_mean(self.spans.vecs().0, stats.spans, |f| !f.is(FREED), span_heap);
        let traces = scaled_mean(self.traces.vecs().0, stats.traces, |t| t.live, trace_heap);
        let sagas =
            scaled_mean(self.sagas.vecs().0, self.sagas.len() as u64, |_| true, saga_instance_heap);
        let agg = &self.agg;
        let aggregates = map_bytes(&agg.services)
            + map_bytes(&agg.edges)
            + sum_sampled(agg.edges.values(), agg.edges.len(), |e| samples_bytes(e.count))
            + map_bytes(&agg.dests)
            + sum_sampled(agg.dests.values(), agg.dests.len(), |d| {
                vec_bytes(&d.producers) + vec_bytes(&d.subs)
            })
            + slab_bytes(&agg.subs)
            + sum_sampled(agg.subs.iter(), agg.subs.len(), |s| {
                samples_bytes(s.consumed) + map_bytes(&s.services) + set_bytes(&s.unconsumed)
            })
            + map_bytes(&agg.sub_index)
            + set_bytes(&agg.dups);
        (tables + index_lists + spans + traces + sagas + aggregates) as u64
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::link::synth::Shop;
    use crate::model::Interner;

    fn shop_linker(n: usize) -> (Linker, Vec<crate::model::Span>) {
        let interner = Arc::new(Interner::new());
        let spans = Shop::new(7, 1_700_000_000_000_000_000, Arc::clone(&interner)).spans(n);
        let mut linker = Linker::new(interner);
        for s in &spans {
            linker.add(s);
        }
        (linker, spans)
    }

    #[test]
    fn counts_every_span_record_and_grows_with_the_spans() {
        let (small, _) = shop_linker(2_000);
        let (large, _) = shop_linker(20_000);
        let (a, b) = (small.estimated_bytes(), large.estimated_bytes());
        // Never less than the span and trace records themselves.
        let floor = |l: &Linker| {
            (l.stats().spans as usize * size_of::<SpanFacts>()
                + l.stats().traces as usize * size_of::<TraceFacts>()) as u64
        };
        assert!(a >= floor(&small) && b >= floor(&large), "{a} {b}");
        // Linear in the spans, within the slack of vector doubling.
        assert!(b > 5 * a && b < 20 * a, "2k spans: {a} B, 20k spans: {b} B");
        // Messaging facts, trace records and indexes: between 100 and 600 bytes a span.
        let per_span = b / 20_000;
        assert!((100..600).contains(&per_span), "{per_span} B/span");
    }

    #[test]
    fn eviction_keeps_capacity_and_an_empty_linker_is_small() {
        let (mut linker, spans) = shop_linker(10_000);
        let before = linker.estimated_bytes();
        let traces: Vec<_> = spans.iter().map(|s| s.trace_id).collect();
        linker.evict(&traces);
        assert_eq!(linker.stats().spans, 0);
        let after = linker.estimated_bytes();
        // Freed slots stay allocated for reuse; per-record heap is gone.
        assert!(after < before && after * 4 > before, "{before} -> {after}");
        let empty = Linker::new(Arc::new(Interner::new())).estimated_bytes();
        assert!(empty < 4096, "{empty}");
    }
}
