//! Aggregates the linker keeps up to date as hops and spans come and go: graph edges,
//! destinations, subscriptions (consumer lag) and their samples.
//!
//! Every contribution is applied when a hop or span is derived and retracted, exactly, when
//! it is underived (a merge, an eviction, a hop folded into another), so the aggregates are
//! a function of the spans held, whatever order they came in.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::model::Sym;

/// A destination: (messaging.system, messaging.destination.name), either possibly empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct DestKey {
    pub system: Sym,
    pub destination: Sym,
}

/// A node of the choreography graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    Service(Sym),
    Destination(DestKey),
}

/// What an edge of the choreography graph stands for (also the schema's `edges[].kind`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// A client service called a server service.
    Call,
    /// A service produced to a destination.
    Emit,
    /// A service consumed from a destination.
    Consume,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Call => "call",
            EdgeKind::Emit => "emit",
            EdgeKind::Consume => "consume",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EdgeKey {
    pub from: Node,
    pub to: Node,
    pub kind: EdgeKind,
}

impl Node {
    /// The node in one word (looked up once per call, producer and hop).
    fn packed(self) -> u64 {
        match self {
            Node::Service(s) => u64::from(s.index()),
            Node::Destination(d) => {
                1 << 63 | u64::from(d.system.index()) << 32 | u64::from(d.destination.index())
            }
        }
    }
}

impl std::hash::Hash for EdgeKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.from.packed() ^ (self.kind as u64) << 61);
        state.write_u64(self.to.packed());
    }
}

/// A multiset of durations (ns) that supports removal; exact percentiles on demand.
#[derive(Debug, Clone, Default)]
pub(crate) struct Samples {
    values: Vec<u64>,
    /// Values removed but not yet taken out of `values` (removal is lazy).
    removed: Vec<u64>,
    /// `values[..sorted]` is in order (see [`Samples::settle`]).
    sorted: usize,
}

impl Samples {
    pub fn add(&mut self, v: u64) {
        if self.sorted == self.values.len() && self.values.last().is_none_or(|&l| l <= v) {
            self.sorted += 1;
        }
        self.values.push(v);
    }

    /// Puts the values in order and applies removals, so that [`Samples::in_order`] borrows
    /// them. Only the values added since the last call are sorted; removals are dropped and
    /// the new values merged in, in place: O(n + k log k) for k new values and removals, not
    /// O(n log n), and no allocation of the size of the set.
    pub fn settle(&mut self) {
        if self.removed.is_empty() && self.sorted == self.values.len() {
            return;
        }
        let mut tail = self.values.split_off(self.sorted);
        tail.sort_unstable();
        self.removed.sort_unstable();
        // Removed values not found among the sorted ones are among the new ones.
        let missed = remove_sorted(&mut self.values, &self.removed);
        remove_sorted(&mut tail, &missed);
        self.removed.clear();
        // Merge from the back: each value moves once, into its final place.
        let (n, k) = (self.values.len(), tail.len());
        self.values.resize(n + k, 0);
        let (mut i, mut w) = (n, n + k);
        for &value in tail.iter().rev() {
            while i > 0 && self.values[i - 1] > value {
                w -= 1;
                i -= 1;
                self.values[w] = self.values[i];
            }
            w -= 1;
            self.values[w] = value;
        }
        self.sorted = self.values.len();
    }

    /// The values in order: borrowed when settled, else sorted into a copy.
    pub fn in_order(&self) -> std::borrow::Cow<'_, [u64]> {
        if self.removed.is_empty() && self.sorted == self.values.len() {
            std::borrow::Cow::Borrowed(&self.values)
        } else {
            std::borrow::Cow::Owned(self.merged())
        }
    }

    pub fn remove(&mut self, v: u64) {
        self.removed.push(v);
        if self.removed.len() > 64 && self.removed.len() * 4 > self.values.len() {
            self.settle();
        }
    }

    /// The values, sorted ascending.
    #[cfg(test)]
    pub fn sorted(&self) -> Vec<u64> {
        self.merged()
    }

    /// A settled copy of the values.
    fn merged(&self) -> Vec<u64> {
        let mut copy = self.clone();
        copy.settle();
        copy.values
    }
}

/// Takes each of `removed` (sorted) out of `values` (sorted) once, in place; returns those
/// not found.
fn remove_sorted(values: &mut Vec<u64>, removed: &[u64]) -> Vec<u64> {
    let mut missed = Vec::new();
    let mut gone = removed.iter().peekable();
    let mut kept = 0;
    for read in 0..values.len() {
        let value = values[read];
        while let Some(&g) = gone.next_if(|&&g| g < value) {
            missed.push(g);
        }
        if gone.next_if(|&&g| g == value).is_none() {
            values[kept] = value;
            kept += 1;
        }
    }
    values.truncate(kept);
    missed.extend(gone);
    missed
}

/// Percentile by nearest rank over sorted values; 0 when empty.
pub(crate) fn percentile(sorted: &[u64], p: u64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (sorted.len() as u64 * p).div_ceil(100).max(1);
    sorted[(rank - 1) as usize]
}

/// Count, errors and latencies of one graph edge.
#[derive(Debug, Clone, Default)]
pub(crate) struct EdgeStats {
    pub count: u64,
    pub errors: u64,
    /// Call latency for calls, queue time for emit/consume.
    pub samples: Samples,
}

/// The producers seen for one destination, and the subscriptions that consumed from it.
#[derive(Debug, Clone, Default)]
pub(crate) struct DestFacts {
    /// Derived producer spans (slots); each knows its position ([`super::facts::MsgFacts`]'s
    /// `dest_pos`), so removal is O(1).
    pub producers: Vec<u32>,
    /// Subscriptions (indexes into `Aggregates::subs`) of this destination.
    pub subs: Vec<u32>,
}

/// (destination, consumer group), the group falling back to the consumer service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SubKey {
    pub dest: DestKey,
    pub group: Sym,
}

/// One subscription: what it consumed and what it has not consumed yet.
#[derive(Debug, Clone)]
pub(crate) struct SubFacts {
    pub key: SubKey,
    /// Hops (deliveries) held now.
    pub consumed: u64,
    pub queue: Samples,
    /// Hops whose queue time was negative (clock skew).
    pub skewed: u64,
    /// Consumer services and how many deliveries each made.
    pub services: FxHashMap<Sym, u32>,
    /// Producers (slots) of the destination with no hop to this subscription. Kept only
    /// while the subscription has consumed something (`consumed > 0`); small in a healthy
    /// system (what is in flight), so readers scan it.
    pub unconsumed: FxHashSet<u32>,
}

/// All aggregates.
#[derive(Debug, Default)]
pub(crate) struct Aggregates {
    /// Spans held per service.
    pub services: FxHashMap<Sym, u64>,
    /// Error spans held.
    pub errors: u64,
    pub edges: FxHashMap<EdgeKey, EdgeStats>,
    pub dests: FxHashMap<DestKey, DestFacts>,
    pub subs: Vec<SubFacts>,
    pub sub_index: FxHashMap<SubKey, u32>,
    /// (producer slot, subscription) reached by more than one hop: duplicate deliveries.
    /// The counts live on the producers' messaging records.
    pub dups: FxHashSet<(u32, u32)>,
}

impl Aggregates {
    /// Settles every sample set (see [`Samples::settle`]).
    pub fn settle(&mut self) {
        for e in self.edges.values_mut() {
            e.samples.settle();
        }
        for sub in &mut self.subs {
            sub.queue.settle();
        }
    }

    pub fn edge(&mut self, from: Node, to: Node, kind: EdgeKind) -> &mut EdgeStats {
        self.edges.entry(EdgeKey { from, to, kind }).or_default()
    }

    /// The subscription's index, created (with its destination) on first sight.
    pub fn sub(&mut self, key: SubKey) -> u32 {
        if let Some(&i) = self.sub_index.get(&key) {
            return i;
        }
        let i = self.subs.len() as u32;
        self.subs.push(SubFacts {
            key,
            consumed: 0,
            queue: Samples::default(),
            skewed: 0,
            services: FxHashMap::default(),
            unconsumed: FxHashSet::default(),
        });
        self.sub_index.insert(key, i);
        self.dests.entry(key.dest).or_default().subs.push(i);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_remove_exactly_and_percentiles_rank() {
        let mut s = Samples::default();
        for v in [5, 1, 3, 3, 9] {
            s.add(v);
        }
        s.remove(3);
        s.remove(9);
        assert_eq!(s.sorted(), vec![1, 3, 5]);
        for v in 0..200 {
            s.add(v);
            s.remove(v);
        }
        assert_eq!(s.sorted(), vec![1, 3, 5]);
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50), 50);
        assert_eq!(percentile(&sorted, 95), 95);
        assert_eq!(percentile(&[7], 95), 7);
        assert_eq!(percentile(&[], 50), 0);
    }

    /// Adds, removals and settles in any interleaving read the same multiset, in order.
    #[test]
    fn settling_merges_new_values_and_drops_removed_ones() {
        let mut s = Samples::default();
        let mut held: Vec<u64> = Vec::new();
        let mut x = 12_345u64;
        for step in 0..5_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let v = (x >> 33) % 97;
            if x.is_multiple_of(3) && !held.is_empty() {
                let at = (x >> 40) as usize % held.len();
                s.remove(held.swap_remove(at));
            } else {
                s.add(v);
                held.push(v);
            }
            if step % 37 == 0 {
                s.settle();
            }
            if step % 101 == 0 {
                let mut want = held.clone();
                want.sort_unstable();
                assert_eq!(*s.in_order(), want[..], "step {step}");
                s.settle();
                assert_eq!(s.values, want, "settled, step {step}");
            }
        }
    }
}
