//! Scale run of the linker and the analysis on generated flows: phase timings and memory.
//!
//! `cargo run --release -p hopscope-collector --example link_scale` (`SPANS=N` sets the size,
//! default 1,000,000; `ROUNDS=N` the repetitions, default 3). Each round prints the time of
//! both phases and the page faults each took (fresh pages the kernel had to zero).

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

/// Minor page faults of this process so far (each a page the kernel zeroed), from /proc
/// (Linux); 0 elsewhere.
fn faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| s.rsplit(')').next()?.split_whitespace().nth(7)?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::var("SPANS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let interner = Arc::new(Interner::new());
    let spans = Shop::new(42, 1_700_000_000_000_000_000, Arc::clone(&interner)).spans(n);
    // Once per process, untimed: what the first run of any size pays (the allocator's
    // first pages, the analysis threads' first start), so that `ROUNDS=1` times a size on
    // fresh memory and nothing else.
    {
        let mut warm = Linker::new(Arc::clone(&interner));
        warm.add_all(&spans[..spans.len().min(1_000)]);
        drop(analyze(&warm, &AnalysisOptions::at_watermark(&warm)));
    }
    for _ in 0..rounds {
        let before = rss();
        let faults_before = faults();
        let t = Instant::now();
        let mut linker = Linker::new(Arc::clone(&interner));
        linker.add_all(&spans);
        let linked = t.elapsed();
        let held = rss().saturating_sub(before);
        let link_faults = faults() - faults_before;
        let t = Instant::now();
        let a = analyze(&linker, &AnalysisOptions::at_watermark(&linker));
        let analysed = t.elapsed();
        let analysis_faults = faults() - faults_before - link_faults;
        eprintln!(
            "RSS: input spans {} MiB; linker +{} MiB ({} B/span); with the analysis {} MiB",
            before >> 20,
            held >> 20,
            held / spans.len() as u64,
            rss() >> 20
        );
        let stats = linker.stats();
        let t = Instant::now();
        drop(a);
        drop(linker);
        eprintln!(
            "{} spans: link {linked:?} analyze {analysed:?} ({:.2} M spans/s) drop {:?}; \
             {} traces, {} hops; page faults: link {link_faults}, analyze {analysis_faults}",
            spans.len(),
            spans.len() as f64 / (linked + analysed).as_secs_f64() / 1e6,
            t.elapsed(),
            stats.traces,
            stats.hops,
        );
    }
}
