//! [`Few`]: a list that holds its first `N` items inline and spills to the heap beyond.
//!
//! The linker keeps many short lists (a trace's producers, a span's hops, the spans sharing
//! a message id); most hold one or two items. Keeping those inline saves millions of small
//! allocations per million spans.

/// A short list of `Copy` items, inline up to `N`.
#[derive(Debug, Clone)]
pub(crate) enum Few<T: Copy + Default, const N: usize> {
    Inline(u8, [T; N]),
    Heap(Vec<T>),
}

impl<T: Copy + Default, const N: usize> Default for Few<T, N> {
    fn default() -> Self {
        Few::Inline(0, [T::default(); N])
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> Few<T, N> {
    pub fn as_slice(&self) -> &[T] {
        match self {
            Few::Inline(len, items) => &items[..usize::from(*len)],
            Few::Heap(v) => v,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Few::Inline(len, items) => &mut items[..usize::from(*len)],
            Few::Heap(v) => v,
        }
    }

    pub fn push(&mut self, x: T) {
        match self {
            Few::Inline(len, items) if usize::from(*len) < N => {
                items[usize::from(*len)] = x;
                *len += 1;
            }
            Few::Inline(_, items) => {
                let mut v = Vec::with_capacity(N * 2);
                v.extend_from_slice(items);
                v.push(x);
                *self = Few::Heap(v);
            }
            Few::Heap(v) => v.push(x),
        }
    }

    /// Removes and returns the last item.
    pub fn pop(&mut self) -> Option<T> {
        match self {
            Few::Inline(0, _) => None,
            Few::Inline(len, items) => {
                *len -= 1;
                Some(items[usize::from(*len)])
            }
            Few::Heap(v) => v.pop(),
        }
    }

    /// Removes the item at `i`, moving the last one into its place.
    pub fn swap_remove(&mut self, i: usize) -> T {
        match self {
            Few::Inline(len, items) => {
                let last = usize::from(*len) - 1;
                let x = items[i];
                items[i] = items[last];
                *len -= 1;
                x
            }
            Few::Heap(v) => v.swap_remove(i),
        }
    }

    /// Removes the first item for which `pred` holds; returns whether one did.
    pub fn remove_first(&mut self, pred: impl Fn(&T) -> bool) -> bool {
        match self.iter().position(pred) {
            Some(i) => {
                self.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Removes one occurrence of `x`, if any.
    pub fn remove_item(&mut self, x: T) {
        if let Some(i) = self.iter().position(|y| *y == x) {
            self.swap_remove(i);
        }
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> std::ops::Deref for Few<T, N> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> FromIterator<T> for Few<T, N> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut few = Few::default();
        for x in iter {
            few.push(x);
        }
        few
    }
}

impl<'a, T: Copy + Default + PartialEq, const N: usize> IntoIterator for &'a Few<T, N> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::Few;

    #[test]
    fn spills_and_removes() {
        let mut f: Few<u32, 2> = Few::default();
        assert!(f.is_empty());
        for x in 1..=5 {
            f.push(x);
        }
        assert_eq!(f.as_slice(), [1, 2, 3, 4, 5]);
        f.remove_item(2);
        f.remove_item(9);
        assert_eq!(f.as_slice(), [1, 5, 3, 4]);
        let mut g: Few<u32, 2> = Few::default();
        g.push(7);
        g.push(8);
        g.remove_item(7);
        assert_eq!(g.as_slice(), [8]);
        assert!(g.contains(&8) && !g.contains(&7));
        assert_eq!(g.pop(), Some(8));
        assert_eq!(g.pop(), None);
        let mut h: Few<u32, 2> = (1..=3).collect();
        assert_eq!((h.pop(), h.pop(), h.pop(), h.pop()), (Some(3), Some(2), Some(1), None));
    }
}
