//! The linker between batches: what an analysis says while spans are still arriving, after a
//! partial resend, and after the store evicted a trace.

use std::path::PathBuf;
use std::sync::Arc;

use hopscope_collector::analysis::{Analysis, AnalysisOptions, HopVia, analyze};
use hopscope_collector::link::Linker;
use hopscope_collector::model::{Interner, Span, TraceId};
use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector::otlp::json::decode_traces;

/// The spans of each line of a fixture, in order.
fn lines(name: &str, decoder: &Decoder) -> Vec<Vec<Span>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.jsonl"));
    let text = std::fs::read_to_string(path).expect("fixture");
    text.lines()
        .map(|l| decoder.traces(decode_traces(l.as_bytes()).expect("fixture line")).spans)
        .collect()
}

fn setup() -> (Decoder, Linker) {
    let interner = Arc::new(Interner::new());
    (Decoder::new(Arc::clone(&interner)), Linker::new(interner))
}

fn now(linker: &Linker) -> Analysis {
    analyze(linker, &AnalysisOptions::at_watermark(linker))
}

fn trace(hex: &str) -> TraceId {
    TraceId::from_hex(hex).expect("trace id")
}

#[test]
fn a_late_upstream_hop_ends_a_root() {
    let (decoder, mut linker) = setup();
    let lines = lines("08_consumer_before_producer", &decoder);
    // The consumer's trace alone: a flow of its own.
    for l in &lines[..2] {
        linker.add_all(l);
    }
    let a = now(&linker);
    assert_eq!((a.summary.flows, a.summary.hops), (1, 0));
    assert_eq!(a.flows[0].root.service, "shipping");
    // Minutes later, its producer: one flow, rooted upstream.
    for l in &lines[2..] {
        linker.add_all(l);
    }
    let a = now(&linker);
    assert_eq!((a.summary.flows, a.summary.hops), (1, 1));
    assert_eq!(a.flows[0].root.service, "orders");
    assert_eq!(a.flows[0].traces.len(), 2);
}

#[test]
fn a_process_span_before_its_receive_folds_into_one_hop() {
    let (decoder, mut linker) = setup();
    let lines = lines("20_receive_process_conversation", &decoder);
    // The process span (child of the receive) comes first: alone it is the delivery.
    for l in &lines[..3] {
        linker.add_all(l);
    }
    let a = now(&linker);
    let strong: Vec<_> = a.hops.iter().filter(|h| h.via != HopVia::Conversation).collect();
    assert_eq!(strong.len(), 1);
    assert_eq!(strong[0].consumer.name, "orders process");
    // Its receive arrives: still one hop, now at the receive.
    linker.add_all(&lines[3]);
    let a = now(&linker);
    let strong: Vec<_> = a.hops.iter().filter(|h| h.via != HopVia::Conversation).collect();
    assert_eq!(strong.len(), 1);
    assert_eq!(strong[0].consumer.name, "orders receive");
    assert_eq!(a.lag[0].consumed, 1);
}

#[test]
fn evicting_the_producer_makes_the_consumer_a_root_again() {
    let (decoder, mut linker) = setup();
    for l in lines("04_consumer_link", &decoder) {
        linker.add_all(&l);
    }
    assert_eq!(now(&linker).summary.flows, 1);
    linker.evict(&[trace("04000000000000000000000000000001")]);
    let a = now(&linker);
    assert_eq!((a.summary.spans, a.summary.flows, a.summary.hops), (2, 1, 0));
    assert_eq!(a.flows[0].root.service, "search");
    assert!(a.lag.is_empty(), "no hop left: nothing consumed, nothing produced");
    assert_eq!(linker.stats().evicted_traces, 1);
}

#[test]
fn a_partial_then_full_export_is_one_span() {
    let (decoder, mut linker) = setup();
    let full = lines("17_cascade_failure", &decoder);
    let mut early = full[4][0].clone();
    early.end_unix_nano = 0;
    early.status = hopscope_collector::model::Status::default();
    linker.add(&early);
    for l in &full {
        linker.add_all(l);
    }
    let a = now(&linker);
    assert_eq!((a.summary.spans, a.summary.errors), (6, 6));
    assert_eq!(linker.stats().duplicates, 1);
    assert_eq!(a.insights.len(), 1, "{:#?}", a.insights);
}
