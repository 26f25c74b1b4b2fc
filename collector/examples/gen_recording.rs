//! Writes generated flows as an OTLP JSON lines recording, for timing `hopscope analyze`
//! end to end.
//!
//! `RECORDING=/tmp/g.jsonl SPANS=1000000 cargo run --release -p hopscope-collector --example gen_recording`

use std::sync::Arc;

use hopscope_collector::formats::record::{RecordOptions, Recorder};
use hopscope_collector::link::synth::Shop;
use hopscope_collector::model::Interner;

fn main() {
    let n: usize = std::env::var("SPANS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let path = std::env::var("RECORDING").unwrap_or_else(|_| "generated.jsonl".to_owned());
    let interner = Arc::new(Interner::new());
    let spans = Shop::new(42, 1_700_000_000_000_000_000, Arc::clone(&interner)).spans(n);
    let recorder = Recorder::create(&RecordOptions::new(&path), Arc::clone(&interner))
        .expect("create recording");
    // Exporters send batches of a few hundred spans.
    for batch in spans.chunks(512) {
        recorder.write_spans(batch).expect("write recording");
    }
    recorder.finish().expect("flush recording");
    eprintln!("{} spans written to {path}", spans.len());
}
