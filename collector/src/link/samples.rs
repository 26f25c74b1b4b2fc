//! [`Samples`]: a multiset of durations that supports removal, with exact percentiles on
//! demand (call latencies of graph edges, queue times of edges and subscriptions).

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
