//! Scale run of the linker and the analysis on generated flows: phase timings and memory.
//!
//! `cargo run --release -p hopscope-collector --example link_scale` (`SPANS=N` sets the size,
//! default 1,000,000; `ROUNDS=N` the repetitions, default 3).

use std::sync::Arc;
use std::time::Instant;

use hopscope_collector::analysis::{AnalysisOptions, analyze};
use hopscope_collector::link::Linker;
use hopscope_collector::link::synth::Shop;
use hopscope_collector::model::Interner;

/// The allocator of the `hopscope` binary, so the figures are those of what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Resident set size, from /proc (Linux); 0 elsewhere.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn main() {
    let n: usize = std::env::var("SPANS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let interner = Arc::new(Interner::new());
    let spans = Shop::new(42, 1_700_000_000_000_000_000, Arc::clone(&interner)).spans(n);
    for _ in 0..rounds {
        let before = rss();
        let t = Instant::now();
        let mut linker = Linker::new(Arc::clone(&interner));
        linker.add_all(&spans);
        let linked = t.elapsed();
        let held = rss().saturating_sub(before);
        let t = Instant::now();
        let a = analyze(&linker, &AnalysisOptions::at_watermark(&linker));
        let analysed = t.elapsed();
        eprintln!(
            "RSS: input spans {} MiB; linker +{} MiB ({} B/span); with the analysis {} MiB",
            before >> 20,
            held >> 20,
            held / spans.len() as u64,
            rss() >> 20
        );
        let t = Instant::now();
        drop(a);
        drop(linker);
        eprintln!(
            "{} spans: link {linked:?} analyze {analysed:?} ({:.2} M spans/s) drop {:?}",
            spans.len(),
            spans.len() as f64 / (linked + analysed).as_secs_f64() / 1e6,
            t.elapsed()
        );
    }
}
