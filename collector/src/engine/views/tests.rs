//! Tests of building and publishing views over the shop fixture.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::publish::RateMeter;
use super::*;
use crate::analysis::{self, AnalysisOptions, Hop};
use crate::engine::StatsSnapshot;
use crate::formats::read::{ReadOptions, read_paths_with};
use crate::link::Linker;
use crate::model::Interner;
use crate::otlp::convert::Decoder;
use crate::store::SpanStore;

fn fixture() -> (SpanStore, Linker) {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tui/src/app/fixtures/shop.otlp.jsonl");
    let interner = Arc::new(Interner::new());
    let decoder = Decoder::new(Arc::clone(&interner));
    let mut store = SpanStore::new(1 << 30);
    let mut linker = Linker::new(interner);
    let options = ReadOptions::default();
    read_paths_with(&[path], &decoder, options, &mut |spans| {
        linker.add_all(&spans);
        for s in spans {
            store.insert(s);
        }
    })
    .unwrap();
    (store, linker)
}

fn view(wants: &Wants) -> View {
    let (store, linker) = fixture();
    let clock = EventClock { mode: ClockMode::Replay, now_unix_nano: linker.watermark() };
    let src =
        Sources { store: &store, linker: &linker, stats: StatsSnapshot::default(), max_memory: 1 };
    build(src, clock, &ViewConfig::default(), wants, 1, 0)
}

/// Lag trends are counted again once [`TREND_REFRESH`] has passed, not for every view.
#[test]
fn lag_trends_are_reused_within_the_refresh_time() {
    let (store, mut linker) = fixture();
    let (mut publisher, hub) = Publisher::new(1 << 30);
    publisher.config.clock = ClockMode::Replay;
    let mut watch = hub.sender.subscribe();
    let t0 = Instant::now();
    let mut publish = |at: Instant| {
        publisher.urgent = true;
        assert!(publisher.publish_due(at, &store, &mut linker, StatsSnapshot::default()));
        Arc::clone(&watch.borrow_and_update().lag_trends)
    };
    let first = publish(t0);
    assert!(first.iter().any(|t| t.deliveries.iter().any(|&n| n > 0)), "{first:?}");
    assert!(Arc::ptr_eq(&first, &publish(t0 + TREND_REFRESH / 2)));
    let later = publish(t0 + TREND_REFRESH * 2);
    assert!(!Arc::ptr_eq(&first, &later));
    assert_eq!(*first, *later, "nothing moved");
}

#[test]
fn fixture_analysis_has_every_part() {
    let v = view(&Wants::default());
    let a = &v.analysis;
    assert!(v.flows.len() >= 6, "{}", serde_json::to_string_pretty(&**a).unwrap());
    assert!(a.flows.is_empty() && a.hops.is_empty(), "flows are in rows, hops per flow");
    assert_eq!(a.summary.flows, v.flows.len() as u64);
    assert_eq!(v.lag_trends.len(), a.lag.len());
    assert_eq!(v.saga_flows.len(), a.sagas.len());
    assert!(v.saga_flows.iter().all(Option::is_some), "{:?}", v.saga_flows);
    assert!(v.flows.iter().any(|r| r.facts.worst_queue_ns > 1_000_000_000));
    assert!(v.lag_trends.iter().any(|t| t.max_queue_ns.iter().any(Option::is_some)));
}

#[test]
fn detail_holds_every_trace_of_the_flow_with_backlinks() {
    let first = view(&Wants::default()).flows[0].flow.id;
    let wants = Wants { detail: Some(DetailTarget::Flow(first)), ..Wants::default() };
    let v = view(&wants);
    let d = v.detail.as_deref().unwrap();
    assert_eq!(d.flow.as_ref().unwrap().id, first);
    assert!(d.traces.len() >= 3, "{:?}", d.traces);
    assert!(d.missing_traces.is_empty());
    assert!(!d.hops.is_empty());
    // The detail's hops are those of the full analysis that touch the flow's traces.
    let (_, linker) = fixture();
    let full = analysis::analyze(&linker, &AnalysisOptions::at_watermark(&linker));
    let touching: Vec<Hop> = full
        .hops
        .into_iter()
        .filter(|h| {
            d.traces.contains(&h.producer.trace_id) || d.traces.contains(&h.consumer.trace_id)
        })
        .collect();
    assert_eq!(d.hops, touching);
    let producer = d.spans.iter().find(|s| s.name == "orders publish").unwrap();
    assert!(producer.backlinks.len() >= 2, "{:?}", producer.backlinks);
    let consumer = d.spans.iter().find(|s| s.service == "payments").unwrap();
    assert_eq!(consumer.links.len(), 1);
    assert_eq!(consumer.links[0].label.as_deref(), Some("orders orders publish"));
}

#[test]
fn attribute_filter_finds_traces() {
    let wants =
        Wants { attribute: Some(("order.id".to_owned(), "o-1002".to_owned())), ..Wants::default() };
    let v = view(&wants);
    let m = v.attribute_matches.as_deref().unwrap();
    assert_eq!(m.traces.len(), 1);
}

#[test]
fn rate_meter_measures_a_window() {
    let mut m = RateMeter::default();
    let t0 = Instant::now();
    assert_eq!(m.rate(t0, 0), 0);
    assert_eq!(m.rate(t0 + Duration::from_secs(1), 1000), 1000);
    assert_eq!(m.rate(t0 + Duration::from_secs(2), 3000), 1500);
}
