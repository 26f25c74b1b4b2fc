//! Aggregates the linker keeps up to date as hops and spans come and go: graph edges,
//! destinations, subscriptions (consumer lag) and their samples.
//!
//! Every contribution is applied when a hop or span is derived and retracted, exactly, when
//! it is underived (a merge, an eviction, a hop folded into another), so the aggregates are
//! a function of the spans held, whatever order they came in.

use rustc_hash::{FxHashMap, FxHashSet};

use super::destination::{DestFacts, DestKey};
use super::samples::Samples;
use super::slot::{Slab, SubSlot};
use super::subscription::{Duplicate, SubKey, Subscription};
use crate::model::Sym;

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
    /// Messages of a destination died in one of its queues and went to a dead-letter
    /// destination (from → to are both destinations).
    DeadLetter,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Call => "call",
            EdgeKind::Emit => "emit",
            EdgeKind::Consume => "consume",
            EdgeKind::DeadLetter => "dead_letter",
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

/// Count, errors and latencies of one graph edge.
#[derive(Debug, Clone, Default)]
pub(crate) struct EdgeStats {
    pub count: u64,
    pub errors: u64,
    /// Call latency for calls, queue time for emit/consume.
    pub samples: Samples,
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
    /// Subscriptions are never freed: a slot stays its subscription's.
    pub subs: Slab<SubSlot, Subscription>,
    pub sub_index: FxHashMap<SubKey, SubSlot>,
    /// Producers reached by more than one hop of one subscription: duplicate deliveries.
    /// The counts live on the producers' messaging records.
    pub dups: FxHashSet<Duplicate>,
    /// Hops whose delivery reads a dead-letter destination.
    pub dead_letters: FxHashSet<super::slot::HopSlot>,
}

impl Aggregates {
    /// Settles every sample set (see [`Samples::settle`]).
    pub fn settle(&mut self) {
        for e in self.edges.values_mut() {
            e.samples.settle();
        }
        for sub in self.subs.iter_mut() {
            sub.queue.settle();
        }
    }

    pub fn edge(&mut self, from: Node, to: Node, kind: EdgeKind) -> &mut EdgeStats {
        self.edges.entry(EdgeKey { from, to, kind }).or_default()
    }

    /// The subscription's slot, created (with its destination) on first sight.
    pub fn sub(&mut self, key: SubKey) -> SubSlot {
        if let Some(&slot) = self.sub_index.get(&key) {
            return slot;
        }
        let slot = self.subs.insert(Subscription {
            key,
            consumed: 0,
            queue: Samples::default(),
            skewed: 0,
            services: FxHashMap::default(),
            unconsumed: FxHashSet::default(),
        });
        self.sub_index.insert(key, slot);
        self.dests.entry(key.dest).or_default().subs.push(slot);
        slot
    }
}
