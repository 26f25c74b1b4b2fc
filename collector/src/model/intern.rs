//! String interning for the few strings that repeat across millions of spans: service
//! names, span names, attribute keys, destinations.
//!
//! Interned strings live for the life of the process (they are leaked once each), so a
//! [`Sym`] resolves to a `&'static str` without holding a lock. The interner counts the
//! bytes it holds so the store's memory budget can include them.

use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::RwLock;
use rustc_hash::FxHashMap;

/// A compact handle to an interned string. Only meaningful with the [`Interner`] that made it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Sym(u32);

impl Sym {
    /// The symbol of the empty string, which every interner holds at index 0.
    pub const EMPTY: Sym = Sym(0);

    /// The index of this symbol.
    pub fn index(self) -> u32 {
        self.0
    }
}

/// A thread-safe, append-only string interner. Shared by the receivers (which intern while
/// decoding at the edge) and the engine.
#[derive(Debug)]
pub struct Interner {
    inner: RwLock<Inner>,
    bytes: AtomicUsize,
}

#[derive(Debug, Default)]
struct Inner {
    map: FxHashMap<&'static str, Sym>,
    strings: Vec<&'static str>,
}

impl Default for Interner {
    fn default() -> Self {
        Self::new()
    }
}

impl Interner {
    /// An interner holding only the empty string.
    pub fn new() -> Self {
        let mut inner = Inner::default();
        inner.map.insert("", Sym::EMPTY);
        inner.strings.push("");
        Self { inner: RwLock::new(inner), bytes: AtomicUsize::new(0) }
    }

    /// Returns the symbol for `s`, interning it on first sight.
    pub fn intern(&self, s: &str) -> Sym {
        if let Some(&sym) = self.inner.read().map.get(s) {
            return sym;
        }
        let mut inner = self.inner.write();
        if let Some(&sym) = inner.map.get(s) {
            return sym;
        }
        let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
        let sym = Sym(u32::try_from(inner.strings.len()).unwrap_or(u32::MAX));
        inner.strings.push(leaked);
        inner.map.insert(leaked, sym);
        // The string, its map entry and its slot in `strings`.
        self.bytes.fetch_add(s.len() + 40, Ordering::Relaxed);
        sym
    }

    /// The symbol for `s` if it was interned before; never interns.
    pub fn get(&self, s: &str) -> Option<Sym> {
        self.inner.read().map.get(s).copied()
    }

    /// The string behind `sym`; the empty string for a symbol from another interner.
    pub fn resolve(&self, sym: Sym) -> &'static str {
        self.inner.read().strings.get(sym.0 as usize).copied().unwrap_or("")
    }

    /// Number of distinct strings held.
    pub fn len(&self) -> usize {
        self.inner.read().strings.len()
    }

    /// Whether only the empty string is held.
    pub fn is_empty(&self) -> bool {
        self.len() <= 1
    }

    /// Approximate heap bytes held by the interner.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_string_same_symbol() {
        let i = Interner::new();
        let a = i.intern("orders");
        let b = i.intern("payments");
        assert_ne!(a, b);
        assert_eq!(i.intern("orders"), a);
        assert_eq!(i.resolve(a), "orders");
        assert_eq!(i.resolve(b), "payments");
        assert_eq!(i.intern(""), Sym::EMPTY);
        assert_eq!(i.get("nope"), None);
    }
}
