//! [`Staged`]: a hash map whose new keys wait in a small map before they move, in batches,
//! into the large one.
//!
//! The linker's trace index (trace id → slot) holds one entry per trace: at a million spans,
//! 280 thousand entries and about 11 MB, placed at random. On the machine the benchmarks ran
//! on, a random read beyond ≈ 30 MB of data takes 150-300 ns (BENCHMARKS.md). A trace is
//! looked up again for each of its spans, which come within milliseconds of its first: while
//! it is new its entry sits in a map small enough to stay in cache, and every [`STAGE`] new
//! keys move into the large map together. At a million spans this took linking from ≈ 300 to
//! ≈ 245 ns per span. (Moving them in the large table's bucket order measured no better.)

use std::hash::Hash;

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

impl<K: Hash + Eq, V> Staged<K, V> {
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

    /// Moves the recent keys into the large map.
    fn flush(&mut self) {
        self.main.reserve(self.recent.len());
        self.main.extend(self.recent.drain());
    }
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
}
