//! How long a span takes to reach a published view, with a large store already held.
//!
//! `cargo run --release -p hopscope-collector --example view_latency` (`SPANS=N` sets the
//! store size, default 1,000,000; `ROUNDS=N` the measured arrivals, default 40;
//! `ANALYSIS_ONLY=1` stops after the first part; `MAX_MEMORY` sets the engine's budget in parts
//! 2 and 3, default 8GiB so that nothing is evicted; `MAX_MEMORY=1GiB` is `serve`'s default).
//!
//! 1. The incremental analysis alone: a linker holding `SPANS` spans, one full update, then
//!    rounds of 512 new spans and one update each (the clock moves one second per round);
//!    then rounds as under a sustained load with the budget full: `STEADY_SPANS` new spans
//!    (default 15,000: 150 ms at 100k spans/s), as many of the oldest evicted, the clock
//!    150 ms on.
//! 2. The real engine with a live (wall) clock: `SPANS` spans loaded, then rounds in which
//!    512 new spans are submitted at a random moment and the time until a view holds them
//!    is measured: p50, p99 and max.
//! 3. Then batches of 512 spans at a sustained `RATE` (spans/s, default 100,000) for
//!    `SECONDS` (default 10): each batch's time from submission to the first view holding it.
//!    Once the budget is full the store evicts while batches keep coming: a batch is held
//!    by a view once the view has taken in (stored + evicted) as many spans as were sent
//!    up to it. The figures are given for the whole run and for its last half, with the
//!    engine's time per view. `DUMP=FILE` writes one line per batch: when it was sent (ms
//!    into the run), its latency and the build time of the view that first held it (ms).
//!    Batches are generated as they are sent; a refused one is counted, not sent again. A run
//!    of a minute or more (the soak: `SECONDS=600`) also prints a table with one row per
//!    minute: resident memory, spans accepted per second, refused so far, the store, and the
//!    view latency of that minute's batches.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hopscope_collector::analysis::AnalysisOptions;
use hopscope_collector::analysis::live::LiveAnalysis;
use hopscope_collector::engine::views::{View, ViewHandle};
use hopscope_collector::engine::{Engine, EngineConfig};
use hopscope_collector::link::Linker;
use hopscope_collector::link::synth::Shop;
use hopscope_collector::model::{Interner, Span, TraceId};

/// The allocator of the `hopscope` binary, so the figures are those of what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 512;

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// Resident set size of this process (Linux), 0 elsewhere.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// The soak's table, one row per minute of part 3: resident memory at the minute's end,
/// spans accepted per second during it, refused so far, the store, and the view latency of
/// the batches sent during it.
fn per_minute(
    minutes: &[(u64, u64, u64, u64, u64)],
    timeline: &[(Instant, Duration, Duration)],
    start: Instant,
) {
    if minutes.is_empty() {
        return;
    }
    eprintln!(
        "| minute | RSS (MiB) | accepted spans/s | refused so far | stored | evicted | view latency p50 / p99 / max |"
    );
    eprintln!("|---|---|---|---|---|---|---|");
    let mut before = 0;
    for (m, &(rss, accepted, refused, stored, evicted)) in minutes.iter().enumerate() {
        let (from, to) =
            (Duration::from_secs(60 * m as u64), Duration::from_secs(60 * (m as u64 + 1)));
        let mut lat: Vec<Duration> = timeline
            .iter()
            .filter(|t| (from..to).contains(&t.0.saturating_duration_since(start)))
            .map(|t| t.1)
            .collect();
        lat.sort();
        let latency = if lat.is_empty() {
            "-".to_owned()
        } else {
            format!(
                "{} / {} / {} ms",
                percentile(&lat, 50).as_millis(),
                percentile(&lat, 99).as_millis(),
                lat[lat.len() - 1].as_millis()
            )
        };
        eprintln!(
            "| {} | {} | {} | {refused} | {stored} | {evicted} | {latency} |",
            m + 1,
            rss >> 20,
            (accepted - before) / 60,
        );
        before = accepted;
    }
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Spans a view has taken in since the start, evicted ones included.
fn taken_in(v: &View) -> u64 {
    v.stats.stored + v.stats.evicted
}

fn wait_for(views: &mut ViewHandle, spans: u64, limit: Duration) -> Duration {
    let t = Instant::now();
    loop {
        if let Some(v) = views.changed()
            && taken_in(&v) >= spans
        {
            return t.elapsed();
        }
        assert!(t.elapsed() < limit, "no view with {spans} spans after {limit:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One update of the analysis, timed into `times` (dropping its output is not timed);
/// returns the flows it rebuilt.
fn timed_update(
    live: &mut LiveAnalysis,
    linker: &mut Linker,
    opts: &AnalysisOptions,
    times: &mut Vec<Duration>,
) -> usize {
    let t = Instant::now();
    let out = live.update(linker, opts);
    times.push(t.elapsed());
    drop(out);
    live.last_cost().flows_rebuilt
}

/// The traces of `spans` in the order they first appear, with their span counts.
fn traces_in_order<'a>(spans: impl IntoIterator<Item = &'a Span>) -> Vec<(TraceId, usize)> {
    let mut at: HashMap<TraceId, usize> = HashMap::new();
    let mut out: Vec<(TraceId, usize)> = Vec::new();
    for span in spans {
        let i = *at.entry(span.trace_id).or_insert_with(|| {
            out.push((span.trace_id, 0));
            out.len() - 1
        });
        out[i].1 += 1;
    }
    out
}

fn main() {
    let n: usize = std::env::var("SPANS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    let interner = Arc::new(Interner::new());
    // Timestamps end about now, as a live store's do.
    let start = now_ns().saturating_sub(600_000_000_000);
    let mut shop = Shop::new(42, start, Arc::clone(&interner));
    let spans = shop.spans(n);
    let more: Vec<Vec<_>> = (0..rounds).map(|_| shop.spans(BATCH)).collect();

    // 1. The analysis alone.
    let mut linker = Linker::new(Arc::clone(&interner));
    linker.track_changes();
    linker.add_all(&spans);
    let mut live = LiveAnalysis::default();
    let mut opts = AnalysisOptions::at_watermark(&linker);
    let t = Instant::now();
    let out = live.update(&mut linker, &opts);
    eprintln!(
        "{} spans, {} flows: full update {:?}",
        linker.stats().spans,
        out.flows.len(),
        t.elapsed()
    );
    drop(out);
    let mut times = Vec::new();
    let mut rebuilt = 0;
    for batch in &more {
        linker.add_all(batch);
        opts.now_unix_nano += 1_000_000_000;
        rebuilt += timed_update(&mut live, &mut linker, &opts, &mut times);
    }
    times.sort();
    eprintln!(
        "update after {BATCH} new spans: p50 {:?} p99 {:?} max {:?} ({} flows rebuilt per update)",
        percentile(&times, 50),
        percentile(&times, 99),
        times[times.len() - 1],
        rebuilt / more.len()
    );
    // Steady state, as under a sustained load with the budget full: each round adds
    // `STEADY_SPANS` spans (150 ms at 100k spans/s), evicts as many of the oldest, moves the
    // clock 150 ms and updates.
    let steady: usize =
        std::env::var("STEADY_SPANS").ok().and_then(|s| s.parse().ok()).unwrap_or(15_000);
    let mut oldest: VecDeque<(TraceId, usize)> =
        traces_in_order(spans.iter().chain(more.iter().flatten())).into();
    let mut times = Vec::new();
    let mut rebuilt = 0;
    for _ in 0..rounds {
        let batch = shop.spans(steady);
        let mut evict = Vec::new();
        let mut gone = 0;
        while gone < batch.len() {
            let Some((id, n)) = oldest.pop_front() else { break };
            evict.push(id);
            gone += n;
        }
        oldest.extend(traces_in_order(&batch));
        linker.add_all(&batch);
        linker.evict(&evict);
        opts.now_unix_nano += 150_000_000;
        rebuilt += timed_update(&mut live, &mut linker, &opts, &mut times);
    }
    times.sort();
    eprintln!(
        "steady state, {} spans held: update after {steady} new spans and as many evicted: \
         p50 {:?} p99 {:?} max {:?} ({} flows rebuilt per update)",
        linker.stats().spans,
        percentile(&times, 50),
        percentile(&times, 99),
        times[times.len() - 1],
        rebuilt / rounds
    );
    drop(linker);
    if std::env::var_os("ANALYSIS_ONLY").is_some() {
        return;
    }

    // 2. The engine, end to end.
    let max_memory = std::env::var("MAX_MEMORY")
        .ok()
        .map_or(8 << 30, |s| hopscope_collector::size::parse_size(&s).expect("MAX_MEMORY"));
    let config = EngineConfig { max_memory, ..EngineConfig::default() };
    let engine = Engine::start(&config, Arc::clone(&interner)).expect("engine");
    let ingest = engine.ingest();
    let mut views = engine.views();
    let t = Instant::now();
    for chunk in spans.chunks(8_192) {
        while ingest.submit_spans(chunk.to_vec()).is_err() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let loaded = wait_for(&mut views, n as u64, Duration::from_secs(120));
    eprintln!("engine: {n} spans loaded and in a view after {:?}", t.elapsed().max(loaded));
    let mut held = n as u64;
    let mut seen = Vec::new();
    let mut jitter = 7u64;
    for batch in more {
        // A random moment relative to the publisher's rhythm.
        jitter =
            jitter.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        std::thread::sleep(Duration::from_millis((jitter >> 33) % 300));
        held += batch.len() as u64;
        let sent = Instant::now();
        ingest.submit_spans(batch).expect("room for a batch");
        wait_for(&mut views, held, Duration::from_secs(30));
        seen.push(sent.elapsed());
    }
    eprintln!(
        "in arrival order (ms): {:?}",
        seen.iter().map(Duration::as_millis).collect::<Vec<_>>()
    );
    seen.sort();
    eprintln!(
        "engine, live clock: {BATCH} spans submitted → in a view: p50 {:?} p99 {:?} max {:?} ({} rounds)",
        percentile(&seen, 50),
        percentile(&seen, 99),
        seen[seen.len() - 1],
        seen.len()
    );

    // 3. Arrivals at a sustained rate: every batch's time from submission to the first view
    //    holding it, while batches keep coming.
    let rate: usize = std::env::var("RATE").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let seconds: usize = std::env::var("SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    // Batches are generated as they are sent (a long run would not fit in memory otherwise);
    // one refused (the engine behind) is counted and not sent again.
    let period = Duration::from_secs_f64(BATCH as f64 / rate as f64);
    let sent: Arc<std::sync::Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let feeder = {
        let (sent, ingest, refused) = (Arc::clone(&sent), engine.ingest(), Arc::clone(&refused));
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut total = held;
            for i in 0..rate * seconds / BATCH {
                let batch = shop.spans(BATCH);
                let due = start + period * i as u32;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let len = batch.len() as u64;
                let at = Instant::now();
                if ingest.submit_spans(batch).is_ok() {
                    total += len;
                    sent.lock().expect("lock").push((total, at));
                } else {
                    refused.fetch_add(len, std::sync::atomic::Ordering::Relaxed);
                }
            }
            total
        })
    };
    let mut timeline = Vec::new();
    let mut builds = Vec::new();
    let mut next = 0;
    // Once a minute: resident memory, spans accepted so far, refused so far, the view's store.
    let run_start = Instant::now();
    let mut minutes: Vec<(u64, u64, u64, u64, u64)> = Vec::new();
    loop {
        if run_start.elapsed() >= Duration::from_secs(60 * (minutes.len() as u64 + 1)) {
            let accepted = sent.lock().expect("lock").last().map_or(held, |s| s.0) - held;
            let v = views.latest();
            minutes.push((
                rss_bytes(),
                accepted,
                refused.load(std::sync::atomic::Ordering::Relaxed),
                v.stats.stored,
                v.stats.evicted,
            ));
        }
        if let Some(v) = views.changed() {
            let seen = Instant::now();
            builds.push(v.build_time);
            let sent = sent.lock().expect("lock");
            while next < sent.len() && sent[next].0 <= taken_in(&v) {
                timeline.push((sent[next].1, seen - sent[next].1, v.build_time));
                next += 1;
            }
        }
        if feeder.is_finished() && next == sent.lock().expect("lock").len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let total = feeder.join().expect("feeder");
    per_minute(&minutes, &timeline, run_start);
    let mut latencies: Vec<Duration> = timeline.iter().map(|t| t.1).collect();
    if let Some(path) = std::env::var_os("DUMP") {
        let t0 = timeline.first().map_or_else(Instant::now, |t| t.0);
        let lines: Vec<String> = timeline
            .iter()
            .map(|(at, latency, build)| {
                format!(
                    "{} {} {}",
                    at.duration_since(t0).as_millis(),
                    latency.as_millis(),
                    build.as_millis()
                )
            })
            .collect();
        std::fs::write(path, lines.join("\n")).expect("DUMP written");
    }
    let last = views.latest();
    let mut late = latencies[latencies.len() / 2..].to_vec();
    let mut late_builds = builds[builds.len() / 2..].to_vec();
    latencies.sort();
    late.sort();
    late_builds.sort();
    eprintln!(
        "engine, live clock, {rate} spans/s for {seconds} s ({held} → {total} spans sent; \
         {} held at the end, {} evicted, budget {} MiB): batch submitted → in a view: \
         p50 {:?} p99 {:?} max {:?} ({} batches); last half: p50 {:?} p99 {:?}; \
         engine time per view, last half: p50 {:?} p99 {:?} ({} views)",
        last.stats.stored,
        last.stats.evicted,
        max_memory >> 20,
        percentile(&latencies, 50),
        percentile(&latencies, 99),
        latencies[latencies.len() - 1],
        latencies.len(),
        percentile(&late, 50),
        percentile(&late, 99),
        percentile(&late_builds, 50),
        percentile(&late_builds, 99),
        late_builds.len(),
    );
    engine.shutdown().expect("shutdown");
}
