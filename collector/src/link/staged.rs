//! [`Staged`]: a hash map whose new keys wait in a small map and move into the large one in
//! batches, in the large table's bucket order.
//!
//! The linker's trace index (trace id → slot) holds one entry per trace: at a million spans,
//! 280 thousand entries and about 11 MB, placed at random. Inserting a new key then touches
//! a line that is rarely in cache, and on the machine the benchmarks ran on a random read
//! beyond ≈ 30 MB takes 150-300 ns (BENCHMARKS.md). New keys are hot for a while (the rest
//! of a trace's spans come within milliseconds), so they stay in a map small enough to live
//! in cache. Every [`STAGE`] new keys move together, sorted by the bucket they land in:
//! consecutive inserts then touch neighbouring memory, and the processor overlaps their
//! misses instead of waiting for each.

use std::hash::{BuildHasher, Hash};

use rustc_hash::FxHashMap;

/// New keys held in the small map before they move into the large one. Measured at 1M
/// spans (`link_scale`): 256 and 1024 link ≈ 245 ns per span, 4096 ≈ 255, 16384 ≈ 275,
/// 65536 ≈ 290; without staging ≈ 300.
const STAGE: usize = 1024;

/// A map of `K` to `V` in two parts: recent new keys, and the rest.
#[derive(Debug, Clone)]
pub(crate) struct Staged<K, V> {
    recent: FxHashMap<K, V>,
    main: FxHashMap<K, V>,
}

impl<K, V> Default for Staged<K, V> {
    fn default() -> Self {
        Self { recent: FxHashMap::default(), main: FxHashMap::default() }
    }
}

impl<K: Hash + Eq + Copy, V> Staged<K, V> {
    pub fn get(&self, k: &K) -> Option<&V> {
        self.recent.get(k).or_else(|| self.main.get(k))
    }

    /// Inserts `k`, which must not be held (look it up first).
    pub fn insert_new(&mut self, k: K, v: V) {
        debug_assert!(self.get(&k).is_none(), "insert_new of a held key");
        self.recent.insert(k, v);
        if self.recent.len() >= STAGE {
            self.flush();
        }
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.recent.remove(k).or_else(|| self.main.remove(k))
    }

    /// Makes room for `n` more keys in the large map.
    pub fn reserve(&mut self, n: usize) {
        self.main.reserve(n);
    }

    /// Both maps, to account for their memory.
    pub fn maps(&self) -> [&FxHashMap<K, V>; 2] {
        [&self.recent, &self.main]
    }

    /// Moves the recent keys into the large map, in the order of the buckets they land in.
    fn flush(&mut self) {
        self.main.reserve(self.recent.len());
        let buckets = buckets(self.main.capacity());
        let hasher = *self.main.hasher();
        let mut moving: Vec<(u64, K, V)> =
            self.recent.drain().map(|(k, v)| (hasher.hash_one(k), k, v)).collect();
        moving.sort_unstable_by_key(|m| m.0 & (buckets - 1));
        for (_, k, v) in moving {
            self.main.insert(k, v);
        }
    }
}

/// Buckets of a hashbrown table that holds up to `capacity` entries (7/8 full at most, a
/// power of two); only an ordering hint, so an error costs locality, never correctness.
fn buckets(capacity: usize) -> u64 {
    if capacity < 8 { 8 } else { (capacity as u64 / 7 * 8).next_power_of_two() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_before_and_after_they_move() {
        let mut m: Staged<u64, u64> = Staged::default();
        let n = 3 * STAGE as u64 + 17;
        for k in 0..n {
            assert_eq!(m.get(&k), None);
            m.insert_new(k, k * 10);
            assert_eq!(m.get(&k), Some(&(k * 10)));
        }
        let len = |m: &Staged<u64, u64>| m.maps().iter().map(|x| x.len()).sum::<usize>();
        assert_eq!(len(&m), n as usize);
        // Some keys moved, the last ones did not.
        assert_eq!(m.maps()[1].len(), 3 * STAGE);
        assert_eq!(m.maps()[0].len(), 17);
        for k in 0..n {
            assert_eq!(m.get(&k), Some(&(k * 10)), "key {k}");
        }
        // Removing works on either side.
        assert_eq!(m.remove(&1), Some(10));
        assert_eq!(m.remove(&(n - 1)), Some((n - 1) * 10));
        assert_eq!(m.remove(&1), None);
        assert_eq!(m.get(&1), None);
        assert_eq!(len(&m), n as usize - 2);
        // A removed key can come back.
        m.insert_new(1, 7);
        assert_eq!(m.get(&1), Some(&7));
    }

    #[test]
    fn bucket_counts_match_the_tables_capacity() {
        for n in [1usize, 7, 8, 100, 4096, 100_000] {
            let mut map: FxHashMap<u64, u64> = FxHashMap::default();
            map.reserve(n);
            let b = buckets(map.capacity());
            assert!(b.is_power_of_two());
            assert!(b as usize > map.capacity(), "{n}: {b} buckets for {}", map.capacity());
            assert!(b as usize <= 2 * (map.capacity() + 1), "{n}: {b} buckets");
        }
    }
}
