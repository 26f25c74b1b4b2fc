//! String interning for the few strings that repeat across millions of spans: service
//! names, span names, attribute keys, destinations.
//!
//! Interned strings live for the life of the process (they are leaked once each), so a
//! [`Sym`] resolves to a `&'static str`. Resolving takes no lock and writes no shared
//! memory: the analysis resolves millions of symbols from two threads while the receivers
//! intern, and a read lock per symbol had them contend on one cache line. The interner
//! counts the bytes it holds so the store's memory budget can include them.

use std::sync::OnceLock;
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
    /// String → symbol, and the number of strings; taken to intern.
    inner: RwLock<Inner>,
    /// Symbol → string, read without the lock.
    strings: Strings,
    bytes: AtomicUsize,
}

#[derive(Debug, Default)]
struct Inner {
    map: FxHashMap<&'static str, Sym>,
    len: u32,
}

/// Size of the first chunk of [`Strings`]; each next chunk doubles.
const FIRST_CHUNK: usize = 64;
/// Chunks enough for every `u32` symbol: 64 · (2^27 − 1) ≥ 2^32.
const CHUNKS: usize = 27;

/// Append-only storage of the interned strings, by symbol index: chunks that double in
/// size, each allocated once and never moved, so a reader needs no lock. Slots are
/// written once, under the interner's write lock.
#[derive(Debug, Default)]
struct Strings {
    chunks: [OnceLock<Box<[OnceLock<&'static str>]>>; CHUNKS],
}

impl Strings {
    /// The chunk holding index `i` and the offset within it.
    fn locate(i: usize) -> (usize, usize) {
        let n = i / FIRST_CHUNK + 1;
        let chunk = (usize::BITS - 1 - n.leading_zeros()) as usize;
        (chunk, i - FIRST_CHUNK * ((1 << chunk) - 1))
    }

    fn get(&self, i: usize) -> Option<&'static str> {
        let (chunk, offset) = Self::locate(i);
        self.chunks.get(chunk)?.get()?.get(offset)?.get().copied()
    }

    /// Fills slot `i`, which must be the next unfilled one (the write lock is held).
    fn set(&self, i: usize, s: &'static str) {
        let (chunk, offset) = Self::locate(i);
        let Some(chunk_slot) = self.chunks.get(chunk) else { return };
        let slots =
            chunk_slot.get_or_init(|| (0..FIRST_CHUNK << chunk).map(|_| OnceLock::new()).collect());
        let _ = slots[offset].set(s);
    }
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
        inner.len = 1;
        let strings = Strings::default();
        strings.set(0, "");
        Self { inner: RwLock::new(inner), strings, bytes: AtomicUsize::new(0) }
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
        let sym = Sym(inner.len);
        // Past u32::MAX strings every new one shares the last symbol (never in practice).
        if inner.len < u32::MAX {
            self.strings.set(inner.len as usize, leaked);
            inner.len += 1;
        }
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
        self.strings.get(sym.0 as usize).unwrap_or("")
    }

    /// Number of distinct strings held.
    pub fn len(&self) -> usize {
        self.inner.read().len as usize
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
        assert_eq!(i.resolve(Sym(1_000_000)), "");
    }

    #[test]
    fn chunks_cover_every_index_once() {
        // Consecutive indices fill a chunk to its end, then start the next one.
        let mut previous = Strings::locate(0);
        assert_eq!(previous, (0, 0));
        for i in 1..100_000 {
            let (chunk, offset) = Strings::locate(i);
            let next_in_chunk = (previous.0, previous.1 + 1);
            if previous.1 + 1 < FIRST_CHUNK << previous.0 {
                assert_eq!((chunk, offset), next_in_chunk, "index {i}");
            } else {
                assert_eq!((chunk, offset), (previous.0 + 1, 0), "index {i}");
            }
            previous = (chunk, offset);
        }
        assert!(Strings::locate(u32::MAX as usize).0 < CHUNKS);
    }

    #[test]
    fn resolves_across_chunks_while_others_intern() {
        let i = std::sync::Arc::new(Interner::new());
        let writer = {
            let i = std::sync::Arc::clone(&i);
            std::thread::spawn(move || (0..5_000).map(|n| i.intern(&format!("s{n}"))).collect())
        };
        // Read while the writer fills chunks: a symbol seen is always whole.
        for _ in 0..1_000 {
            let len = i.len() as u32;
            if len > 1 {
                assert!(i.resolve(Sym(len - 1)).starts_with('s'));
            }
        }
        let syms: Vec<Sym> = writer.join().unwrap_or_default();
        assert_eq!(syms.len(), 5_000);
        for (n, sym) in syms.iter().enumerate() {
            assert_eq!(i.resolve(*sym), format!("s{n}"));
        }
        assert_eq!(i.len(), 5_001);
    }
}
