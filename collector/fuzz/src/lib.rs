//! What the fuzz targets share: one process-wide interner and decoder (interned strings are
//! leaked by design, so a per-input interner would look like a leak to LeakSanitizer and
//! grow without bound), and a way to hand bytes to the file readers.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use hopscope_collector::formats::read::{ReadOptions, read_paths_with};
use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector::model::{Interner, Span};

/// The process-wide decoder.
pub fn decoder() -> &'static Decoder {
    static DECODER: OnceLock<Decoder> = OnceLock::new();
    DECODER.get_or_init(|| Decoder::new(Arc::new(Interner::new())))
}

/// A scratch file for this process (in /dev/shm when there is one: no disk I/O).
fn scratch(name: &str) -> PathBuf {
    let dir = std::path::Path::new("/dev/shm");
    let dir = if dir.is_dir() { dir.to_owned() } else { std::env::temp_dir() };
    dir.join(format!("hopscope-fuzz-{name}-{}", std::process::id()))
}

/// Writes `data` to this process's scratch file and reads it with the public file reader
/// (format told by content, as `hopscope analyze FILE` does). Returns the spans read.
pub fn read_bytes(name: &str, data: &[u8]) -> Vec<Span> {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| scratch(name));
    std::fs::write(path, data).expect("write the scratch file");
    let mut spans = Vec::new();
    let report = read_paths_with(
        std::slice::from_ref(path),
        decoder(),
        ReadOptions::default(),
        &mut |batch| spans.extend(batch),
    )
    .expect("the scratch file can be opened");
    // Whatever was read adds up.
    assert_eq!(report.spans, spans.len() as u64, "{report:?}");
    assert!(report.problems.len() <= 100);
    spans
}
