//! The engine's span path in steady state, on one thread: batches of 512 generated spans (the
//! load generator's traffic) stored, linked and evicted exactly as the engine thread does
//! ([`engine::store_and_link`]), with the default 1 GiB budget, well past the point where the
//! budget fills. Prints spans/s before the store first evicts and after (steady state).
//!
//! `cargo run --release -p hopscope-collector --example engine_steady`
//!
//! `SPANS=N` sets the spans sent (default 3,000,000), `MAX_MEMORY_MIB=N` the budget (default
//! 1024). Spans are generated and decoded in chunks between timed sections, so only the
//! engine's work is timed, and on another thread, as the receivers decode them: the engine
//! frees memory another thread allocated. For instruction counts, run it under
//! `valgrind --tool=callgrind --toggle-collect='*store_and_link*'` (with a smaller budget:
//! `MAX_MEMORY_MIB=128 SPANS=400000`) and divide by the spans sent.

use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use hopscope_collector::engine::{self, EngineConfig, QUEUE_SHARE};
use hopscope_collector::fake::Generator;
use hopscope_collector::model::{Interner, Span};
use hopscope_collector::otlp::convert::Decoder;

/// The allocator of the `hopscope` binary, so the figures are those of what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 512;
/// Batches generated between timed sections.
const CHUNK: usize = 64;

/// A decoded batch and each span's estimated bytes, as a receiver queues them.
type Batch = (Vec<Span>, Vec<usize>);

/// A field of /proc/self/status in bytes (Linux); 0 elsewhere.
fn proc_status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with(field))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

#[derive(Default)]
struct Phase {
    spans: u64,
    time: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.spans as f64 / self.time.as_secs_f64().max(1e-9)
    }
}

fn main() {
    let total = env("SPANS", 3_000_000);
    let max_memory = env("MAX_MEMORY_MIB", 1024) << 20;
    let config = EngineConfig { max_memory, ..EngineConfig::default() };
    let set_aside = config.max_memory / QUEUE_SHARE;
    let interner = Arc::new(Interner::new());
    // The "receiver": decodes a chunk when asked, while the engine waits.
    let (ask, asked) = mpsc::sync_channel::<()>(0);
    let (send_chunk, chunks) = mpsc::sync_channel::<Vec<Batch>>(0);
    let decoder = Decoder::new(Arc::clone(&interner));
    let receiver = std::thread::Builder::new().name("receiver".into());
    receiver
        .spawn(move || {
            let mut generator = Generator::new(0x10AD, 1_700_000_000_000_000_000);
            while asked.recv().is_ok() {
                let chunk = (0..CHUNK)
                    .map(|_| {
                        let spans = decoder.traces(generator.request(BATCH)).spans;
                        // As `Ingest::submit_spans` does: each span's estimate is made here.
                        let sizes = spans.iter().map(Span::approx_bytes).collect();
                        (spans, sizes)
                    })
                    .collect();
                if send_chunk.send(chunk).is_err() {
                    break;
                }
            }
        })
        .expect("a thread");
    let (mut store, mut linker) =
        engine::store_and_linker(&config, Arc::clone(&interner)).expect("a thread");

    let (mut filling, mut steady, mut window) =
        (Phase::default(), Phase::default(), Phase::default());
    let mut sent = 0u64;
    let mut linker_bytes = 0;
    while sent < total {
        ask.send(()).expect("the generator thread runs");
        let chunk = chunks.recv().expect("the generator thread runs");
        for (batch, sizes) in chunk {
            let n = batch.len() as u64;
            let full = store.stats().evicted_spans > 0;
            let t = Instant::now();
            linker_bytes = engine::store_and_link(
                &mut store,
                &mut linker,
                set_aside,
                batch.into_iter().zip(sizes),
            );
            let took = t.elapsed();
            let phase = if full { &mut steady } else { &mut filling };
            phase.spans += n;
            phase.time += took;
            window.spans += n;
            window.time += took;
            sent += n;
        }
        if window.spans >= 500_000 {
            let s = store.stats();
            eprintln!(
                "{:>9} spans sent: {:>7.0} spans/s; store {} spans {} MiB, linker {} MiB, \
                 RSS {} MiB",
                sent,
                window.rate(),
                s.spans,
                s.bytes >> 20,
                linker_bytes >> 20,
                proc_status("VmRSS:") >> 20,
            );
            window = Phase::default();
        }
    }
    let s = store.stats();
    println!(
        "budget {} MiB: {} spans sent, {} held, {} evicted",
        max_memory >> 20,
        sent,
        s.spans,
        s.evicted_spans
    );
    println!(
        "filling: {:>9.0} spans/s over {} spans ({:.0} ns/span)",
        filling.rate(),
        filling.spans,
        1e9 / filling.rate()
    );
    println!(
        "steady:  {:>9.0} spans/s over {} spans ({:.0} ns/span)",
        steady.rate(),
        steady.spans,
        1e9 / steady.rate()
    );
    println!(
        "store {} MiB + linker {} MiB + queue share {} MiB; peak RSS {} MiB",
        s.bytes >> 20,
        linker_bytes >> 20,
        set_aside >> 20,
        proc_status("VmHWM:") >> 20
    );
    // Skip freeing a gigabyte: it is not the engine's steady state, and it would blur profiles.
    std::process::exit(0);
}
