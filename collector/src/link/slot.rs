//! Typed slots: the compact indexes of the linker's records (spans, traces, hops, sagas,
//! subscriptions), and [`Slab`], the vector of records they index.
//!
//! A slot wraps a [`NonZeroU32`] holding the index plus one, so `Option<SpanSlot>` is as
//! small as the slot itself (4 bytes) and no record grows where "no slot" used to be a
//! sentinel. Indexing a slab with a slot costs what indexing a vector with a `u32` did.

use std::marker::PhantomData;
use std::num::NonZeroU32;
use std::ops::{Index, IndexMut};

/// A typed index of one kind of record.
pub(crate) trait Slot: Copy {
    /// The slot of the record at `index`.
    fn from_index(index: usize) -> Self;
    /// The record's index in its slab.
    fn index(self) -> usize;
}

macro_rules! slot {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(transparent)]
        pub(crate) struct $name(NonZeroU32);

        impl $name {
            /// The slot of the record at `index`.
            #[inline]
            pub(crate) fn from_index(index: usize) -> Self {
                Self(NonZeroU32::MIN.saturating_add(index as u32))
            }

            /// The record's index in its slab.
            #[inline]
            pub(crate) fn index(self) -> usize {
                (self.0.get() - 1) as usize
            }
        }

        impl Slot for $name {
            #[inline]
            fn from_index(index: usize) -> Self {
                $name::from_index(index)
            }

            #[inline]
            fn index(self) -> usize {
                $name::index(self)
            }
        }

        /// Slot 0. Only fills the unused room of inline lists ([`super::few::Few`]).
        impl Default for $name {
            fn default() -> Self {
                Self(NonZeroU32::MIN)
            }
        }

        const _: () = assert!(size_of::<Option<$name>>() == size_of::<u32>());
    };
}

slot!(
    /// A span record of the linker ([`super::facts::SpanFacts`]).
    SpanSlot
);
slot!(
    /// A trace record of the linker ([`super::TraceFacts`]).
    TraceSlot
);
slot!(
    /// A hop record of the linker ([`super::HopFacts`]).
    HopSlot
);
slot!(
    /// A saga instance of the linker ([`super::SagaInstance`]).
    SagaSlot
);
slot!(
    /// A subscription ([`super::subscription::Subscription`]).
    SubSlot
);

/// Records of type `T` indexed by slot `K`, and the slots freed for reuse.
#[derive(Debug, Clone)]
pub(crate) struct Slab<K, T> {
    items: Vec<T>,
    free: Vec<K>,
}

impl<K, T> Default for Slab<K, T> {
    fn default() -> Self {
        Self { items: Vec::new(), free: Vec::new() }
    }
}

impl<K: Slot, T> Slab<K, T> {
    /// Stores `item` in a freed slot, or a new one.
    #[inline]
    pub fn insert(&mut self, item: T) -> K {
        if let Some(k) = self.free.pop() {
            self.items[k.index()] = item;
            k
        } else {
            self.items.push(item);
            K::from_index(self.items.len() - 1)
        }
    }

    /// Marks `k` free for reuse (its record stays until overwritten).
    #[inline]
    pub fn release(&mut self, k: K) {
        self.free.push(k);
    }

    /// Records written, freed ones included.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Every slot written, freed ones included, in order.
    pub fn slots(&self) -> impl Iterator<Item = K> + use<K, T> {
        (0..self.items.len()).map(K::from_index)
    }

    #[inline]
    pub fn get(&self, k: K) -> Option<&T> {
        self.items.get(k.index())
    }

    /// Every record written, freed ones included, in slot order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.items.iter_mut()
    }

    /// Makes room for `n` more records beyond the freed slots.
    pub fn reserve(&mut self, n: usize) {
        self.items.reserve(n.saturating_sub(self.free.len()));
    }

    /// Makes room for `n` records in all, exactly; best effort (see [`super::Linker::reserve`]).
    pub fn try_reserve_total(&mut self, n: usize) {
        let _ = self.items.try_reserve_exact(n.saturating_sub(self.items.len()));
    }

    /// The records' vector and the free list, to account for their memory.
    pub fn vecs(&self) -> (&Vec<T>, &Vec<K>) {
        (&self.items, &self.free)
    }
}

impl<K: Slot, T> Index<K> for Slab<K, T> {
    type Output = T;

    #[inline]
    fn index(&self, k: K) -> &T {
        &self.items[k.index()]
    }
}

impl<K: Slot, T> IndexMut<K> for Slab<K, T> {
    #[inline]
    fn index_mut(&mut self, k: K) -> &mut T {
        &mut self.items[k.index()]
    }
}

/// A value per slot of some slab, for the slots `0..len` (an analysis' marks and stamps).
#[derive(Debug, Clone)]
pub(crate) struct BySlot<K, T> {
    values: Vec<T>,
    slot: PhantomData<K>,
}

impl<K: Slot, T: Clone> BySlot<K, T> {
    /// `value` for each of the first `len` slots.
    pub fn filled(len: usize, value: T) -> Self {
        Self { values: vec![value; len], slot: PhantomData }
    }

    pub fn get(&self, k: K) -> Option<&T> {
        self.values.get(k.index())
    }
}

impl<K: Slot, T> Index<K> for BySlot<K, T> {
    type Output = T;

    #[inline]
    fn index(&self, k: K) -> &T {
        &self.values[k.index()]
    }
}

impl<K: Slot, T> IndexMut<K> for BySlot<K, T> {
    #[inline]
    fn index_mut(&mut self, k: K) -> &mut T {
        &mut self.values[k.index()]
    }
}
