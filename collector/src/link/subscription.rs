//! Subscriptions (DESIGN.md §2): (destination, consumer group), what each consumed, the
//! messages of its destination it has not consumed yet, and the messages it received more
//! than once. The linker keeps them as hops come and go ([`super::hop`]); lag, stuck flows
//! and sagas, and the duplicate-delivery insight read them.

use rustc_hash::{FxHashMap, FxHashSet};

use super::destination::DestKey;
use super::samples::Samples;
use super::slot::{SpanSlot, SubSlot};
use crate::model::Sym;

/// (destination, consumer group), the group falling back to the consumer service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SubKey {
    pub dest: DestKey,
    pub group: Sym,
}

/// One subscription: what it consumed and what it has not consumed yet.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
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
    pub unconsumed: FxHashSet<SpanSlot>,
}

/// How many hops of one producer reached one subscription (on the producer's messaging
/// record; more than one: a duplicate delivery).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reached {
    pub sub: SubSlot,
    pub hops: u32,
}

/// A producer whose message reached one subscription more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Duplicate {
    pub producer: SpanSlot,
    pub sub: SubSlot,
}
