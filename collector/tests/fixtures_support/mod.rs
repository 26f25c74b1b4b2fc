//! The analysis fixtures (`tests/fixtures/*.jsonl`), read once per test binary.

use std::path::PathBuf;
use std::sync::Arc;

use hopscope_collector::formats::read::read_paths;
use hopscope_collector::model::{Interner, Span};
use hopscope_collector::otlp::convert::Decoder;

/// Every span of every fixture, in file order, decoded with `interner`.
pub fn fixture_spans(interner: &Arc<Interner>) -> Vec<Span> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures directory")
        .map(|e| e.expect("fixture entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    let decoder = Decoder::new(Arc::clone(interner));
    let mut spans = Vec::new();
    read_paths(&paths, &decoder, &mut |batch| spans.extend(batch)).expect("fixtures read");
    spans
}
