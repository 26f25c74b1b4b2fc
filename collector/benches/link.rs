//! Linking + analysis: every span of a generated recording (sync chains, fan-out to three
//! subscriptions and a batch consumer, Celery tasks, sagas; see
//! `hopscope_collector::link::synth`) linked into hops and flows, then the whole
//! `hopscope.analysis/v1` analysis built, at 10k, 100k and 1M spans. File decoding is
//! excluded: the spans are generated in the compact model before timing.
//!
//! Throughput is in spans/s; cost per span is flat when spans/s is the same at every size.
//! Before timing, each size prints what the linker holds in memory (RSS growth while linking
//! once).
//!
//! `cargo bench -p hopscope-collector --bench link`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hopscope_collector::analysis::{AnalysisOptions, analyze};
use hopscope_collector::link::Linker;
use hopscope_collector::link::synth::Shop;
use hopscope_collector::model::{Interner, Span};

/// The allocator of the `hopscope` binary, so the figures are those of what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const START: u64 = 1_700_000_000_000_000_000;
const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

fn generated(n: usize) -> (Arc<Interner>, Vec<Span>) {
    let interner = Arc::new(Interner::new());
    let spans = Shop::new(42, START, Arc::clone(&interner)).spans(n);
    (interner, spans)
}

/// Resident set size, from /proc (Linux); 0 elsewhere.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn link_and_analyze(c: &mut Criterion) {
    let mut group = c.benchmark_group("link_and_analyze");
    group.sample_size(10).measurement_time(Duration::from_secs(15));
    for n in SIZES {
        let (interner, spans) = generated(n);
        let before = rss();
        let t0 = std::time::Instant::now();
        let mut linker = Linker::new(Arc::clone(&interner));
        linker.add_all(&spans);
        let linked = t0.elapsed();
        // Approximate: the allocator may reuse memory freed earlier in the process.
        let held = rss().saturating_sub(before);
        let t1 = std::time::Instant::now();
        let a = analyze(&linker, &AnalysisOptions::at_watermark(&linker));
        let analysed = t1.elapsed();
        eprintln!(
            "link/{n}: {} spans, {} traces, {} flows, {} hops, {} sagas; once: link {linked:?}, analyze {analysed:?}; linker holds ~{} MiB ({} B/span)",
            spans.len(),
            a.summary.traces,
            a.summary.flows,
            a.summary.hops,
            a.sagas.len(),
            held >> 20,
            held / spans.len() as u64
        );
        drop(linker);
        group.throughput(Throughput::Elements(spans.len() as u64));
        group.bench_function(format!("{n}_spans"), |b| {
            b.iter_batched(
                || Linker::new(Arc::clone(&interner)),
                |mut linker| {
                    linker.add_all(black_box(&spans));
                    let a = analyze(&linker, &AnalysisOptions::at_watermark(&linker));
                    (linker, a)
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

fn link_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("link");
    group.sample_size(10);
    for n in SIZES {
        let (interner, spans) = generated(n);
        group.throughput(Throughput::Elements(spans.len() as u64));
        group.bench_function(format!("{n}_spans"), |b| {
            b.iter_batched(
                || Linker::new(Arc::clone(&interner)),
                |mut linker| {
                    linker.add_all(black_box(&spans));
                    linker
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

fn analyze_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("analyze");
    group.sample_size(10);
    for n in SIZES {
        let (interner, spans) = generated(n);
        let mut linker = Linker::new(interner);
        linker.add_all(&spans);
        let opts = AnalysisOptions::at_watermark(&linker);
        group.throughput(Throughput::Elements(spans.len() as u64));
        group.bench_function(format!("{n}_spans"), |b| {
            b.iter_with_large_drop(|| analyze(black_box(&linker), &opts));
        });
    }
    group.finish();
}

criterion_group!(benches, link_and_analyze, link_only, analyze_only);
criterion_main!(benches);
