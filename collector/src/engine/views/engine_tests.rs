//! Tests of views through a running engine: idle republishing, requests, clear.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ClockMode, ViewConfig, ViewRequest};
use crate::engine::{Engine, EngineConfig};
use crate::model::Interner;

#[test]
fn a_live_clock_republishes_while_idle_and_requests_are_answered() {
    let engine = Engine::start(&EngineConfig::default(), Arc::new(Interner::new())).unwrap();
    let mut views = engine.views();
    views.request(ViewRequest::Configure(ViewConfig {
        clock: ClockMode::Live,
        ..ViewConfig::default()
    }));
    let start = Instant::now();
    let mut seqs = Vec::new();
    while start.elapsed() < Duration::from_millis(2500) {
        if let Some(v) = views.changed() {
            seqs.push(v.seq);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(seqs.len() >= 3, "{seqs:?}");
    engine.shutdown().unwrap();
}

#[test]
fn clear_empties_the_store_and_the_next_view() {
    use crate::fake::Generator;
    use crate::otlp::convert::Decoder;
    let interner = Arc::new(Interner::new());
    let engine = Engine::start(&EngineConfig::default(), Arc::clone(&interner)).unwrap();
    let mut views = engine.views();
    let mut generator = Generator::new(5, 1_700_000_000_000_000_000);
    let spans = Decoder::new(interner).traces(generator.request(60)).spans;
    engine.ingest().submit_spans(spans).unwrap();
    let wait_for = |views: &mut super::ViewHandle, spans: u64| {
        let started = Instant::now();
        loop {
            if let Some(v) = views.changed()
                && v.analysis.summary.spans == spans
            {
                return v;
            }
            assert!(started.elapsed() < Duration::from_secs(5), "no view with {spans} spans");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let full = wait_for(&mut views, 60);
    assert!(!full.flows.is_empty());
    views.request(ViewRequest::Clear);
    let cleared = wait_for(&mut views, 0);
    assert!(cleared.flows.is_empty());
    assert_eq!(cleared.stats.stored, 0);
    engine.shutdown().unwrap();
}

/// `Ingest::clear` is ordered with the spans: what was queued before it is gone, what
/// was queued after it is kept.
#[test]
fn ingest_clear_drops_what_was_queued_before_it() {
    use crate::fake::Generator;
    use crate::otlp::convert::Decoder;
    let interner = Arc::new(Interner::new());
    let engine = Engine::start(&EngineConfig::default(), Arc::clone(&interner)).unwrap();
    let mut generator = Generator::new(5, 1_700_000_000_000_000_000);
    let decoder = Decoder::new(interner);
    let ingest = engine.ingest();
    let before = decoder.traces(generator.request(60)).spans;
    let after = decoder.traces(generator.request(7)).spans;
    let (n_before, n_after) = (before.len() as u64, after.len() as u64);
    ingest.submit_spans(before).unwrap();
    assert!(ingest.clear());
    ingest.submit_spans(after).unwrap();
    let summary = engine.shutdown().unwrap();
    assert_eq!(summary.stats.accepted, n_before + n_after);
    assert_eq!(summary.stats.stored, n_after);
}

#[test]
/// Spans reach a view on their own, in a burst or after a pause, with nothing else
/// arriving to push them. How fast is measured, not asserted here: see
/// `examples/view_latency.rs` and BENCHMARKS.md.
fn an_arriving_span_reaches_a_view_without_more_arriving() {
    use crate::fake::Generator;
    use crate::otlp::convert::Decoder;
    let interner = Arc::new(Interner::new());
    let engine = Engine::start(&EngineConfig::default(), Arc::clone(&interner)).unwrap();
    let decoder = Decoder::new(interner);
    let mut views = engine.views();
    views.request(ViewRequest::Configure(ViewConfig {
        clock: ClockMode::Replay,
        ..ViewConfig::default()
    }));
    let mut generator = Generator::new(3, 1_700_000_000_000_000_000);
    let ingest = engine.ingest();
    for round in 1..=5u64 {
        // Spans arrive during a burst (just after a view) and after a pause.
        std::thread::sleep(Duration::from_millis(if round % 2 == 0 { 20 } else { 400 }));
        let spans = decoder.traces(generator.request(6)).spans;
        let sent = Instant::now();
        ingest.submit_spans(spans).unwrap();
        loop {
            if let Some(v) = views.changed()
                && v.analysis.summary.spans == round * 6
            {
                break;
            }
            assert!(sent.elapsed() < Duration::from_secs(5), "no view with the spans");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    engine.shutdown().unwrap();
}
