//! The analysis of every fixture in `tests/fixtures` (see the README there), pinned by insta
//! snapshots of the `hopscope.analysis/v1` JSON and checked by targeted assertions.

use std::path::PathBuf;
use std::sync::Arc;

use hopscope_collector::analysis::{
    Analysis, AnalysisOptions, FlowStatus, HopVia, InsightKind, LagStatus, SagaState, analyze, text,
};
use hopscope_collector::formats::read::read_paths;
use hopscope_collector::link::Linker;
use hopscope_collector::model::{Interner, TraceId};
use hopscope_collector::otlp::convert::Decoder;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(format!("{name}.jsonl"))
}

fn analyze_fixture(name: &str) -> Analysis {
    let interner = Arc::new(Interner::new());
    let decoder = Decoder::new(Arc::clone(&interner));
    let mut linker = Linker::new(interner);
    let report = read_paths(&[fixture(name)], &decoder, &mut |spans| linker.add_all(&spans))
        .expect("fixture readable");
    assert!(report.problems.is_empty(), "{name}: {:?}", report.problems);
    assert!(report.spans > 0, "{name}: no spans");
    let analysis = analyze(&linker, &AnalysisOptions::at_watermark(&linker));
    insta::assert_json_snapshot!(name, analysis);
    // The JSON is the schema: it reads back into the same structs.
    let json = serde_json::to_string(&analysis).expect("serialisable");
    assert_eq!(serde_json::from_str::<Analysis>(&json).expect("reads back"), analysis);
    analysis
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn insight_kinds(a: &Analysis) -> Vec<InsightKind> {
    a.insights.iter().map(|i| i.kind).collect()
}

#[test]
fn sync_chain_is_one_flow_of_calls() {
    let a = analyze_fixture("01_sync_chain");
    assert_eq!((a.summary.flows, a.summary.hops, a.summary.services), (1, 0, 3));
    let calls: Vec<(&str, &str)> =
        a.graph.edges.iter().map(|e| (e.from.as_str(), e.to.as_str())).collect();
    assert_eq!(calls, [("frontend", "orders"), ("orders", "payments")]);
    assert_eq!(a.graph.edges[0].p50_ns, 80_000_000, "client-side latency");
    assert_eq!(a.flows[0].status, FlowStatus::Ok);
}

#[test]
fn fan_out_to_five_consumers_is_five_hops_one_flow() {
    let a = analyze_fixture("02_fan_out_5");
    assert_eq!((a.summary.flows, a.summary.hops), (1, 5));
    assert_eq!(a.flows[0].traces.len(), 6);
    assert!(a.hops.iter().all(|h| h.via == HopVia::Link && same(h.confidence, 1.0)));
    assert_eq!(a.lag.len(), 5, "one subscription per consumer service");
    assert_eq!(a.flows[0].settled_after_ns, 88_000_000);
}

#[test]
fn consumer_child_of_producer_is_a_parent_hop() {
    let a = analyze_fixture("03_consumer_child");
    assert_eq!(a.hops.len(), 1);
    assert_eq!(a.hops[0].via, HopVia::Parent);
    assert_eq!(a.hops[0].consumer_group, "billing-workers");
    assert_eq!(a.hops[0].queue_ns, 5_000_000);
}

#[test]
fn consumer_in_new_trace_with_link() {
    let a = analyze_fixture("04_consumer_link");
    assert_eq!((a.summary.flows, a.summary.traces), (1, 2));
    assert_eq!(a.hops[0].via, HopVia::Link);
    assert_eq!(a.hops[0].system, "kafka");
}

#[test]
fn batch_consumer_belongs_to_each_flow_without_merging_them() {
    let a = analyze_fixture("05_batch_consumer");
    assert_eq!((a.summary.flows, a.summary.hops), (3, 3));
    let batch = TraceId::from_hex("05000000000000000000000000000004").unwrap();
    for flow in &a.flows {
        assert_eq!(flow.traces.len(), 2);
        assert!(flow.traces.contains(&batch));
        assert_eq!(flow.hop_count, 1, "only its own producer's hop");
    }
}

#[test]
fn celery_task_id_and_link_are_one_hop() {
    let a = analyze_fixture("06_celery");
    assert_eq!(a.hops.len(), 1);
    assert_eq!(a.hops[0].via, HopVia::Link);
    assert_eq!((&*a.hops[0].system, &*a.hops[0].destination), ("celery", "reports.render"));
}

#[test]
fn kafka_offsets_without_ids() {
    let a = analyze_fixture("07_kafka_offsets");
    assert_eq!(a.hops.len(), 2);
    assert!(a.hops.iter().all(|h| h.via == HopVia::Offset && same(h.confidence, 0.95)));
    let groups: Vec<&str> = a.lag.iter().filter_map(|l| l.consumer_group.as_deref()).collect();
    assert_eq!(groups, ["audit", "billing"]);
}

#[test]
fn consumer_arriving_before_its_producer_is_linked() {
    let a = analyze_fixture("08_consumer_before_producer");
    assert_eq!((a.summary.flows, a.summary.hops), (1, 1), "the consumer's trace is no root");
    assert_eq!(a.hops[0].via, HopVia::MessageId);
    assert!(same(a.hops[0].confidence, 0.9));
    assert_eq!(a.flows[0].root.service, "orders");
}

#[test]
fn duplicated_spans_count_once() {
    let a = analyze_fixture("09_duplicated_spans");
    assert_eq!((a.summary.spans, a.summary.hops), (3, 1));
    assert_eq!(a.lag[0].consumed, 1);
    assert!(a.insights.is_empty(), "a resend is not a duplicate delivery");
}

#[test]
fn clock_skew_reports_zero_queue_time_and_flags_it() {
    let a = analyze_fixture("10_clock_skew");
    assert!(a.hops[0].skew);
    assert_eq!(a.hops[0].queue_ns, 0);
    assert!(a.lag[0].skew);
}

#[test]
fn saga_completed() {
    let a = analyze_fixture("11_saga_completed");
    assert_eq!(a.sagas.len(), 1);
    let saga = &a.sagas[0];
    assert_eq!(
        (saga.name.as_str(), saga.id.as_str(), saga.source.as_str()),
        ("place-order", "o-1001", "hopscope")
    );
    assert_eq!(saga.state, SagaState::Completed);
    let steps: Vec<&str> = saga.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(steps, ["create-order", "reserve-stock", "charge-payment"]);
}

#[test]
fn saga_compensated_in_the_orchestrated_shape() {
    let a = analyze_fixture("12_saga_compensated");
    let saga = &a.sagas[0];
    assert_eq!((saga.source.as_str(), saga.state), ("orchestrated", SagaState::Compensated));
    assert_eq!(saga.steps.len(), 5);
    assert!(!insight_kinds(&a).contains(&InsightKind::CascadeFailure), "one failed call");
}

#[test]
fn saga_stuck_after_a_failed_step_without_compensation() {
    let a = analyze_fixture("13_saga_stuck");
    let saga = &a.sagas[0];
    assert_eq!(saga.state, SagaState::Stuck);
    assert_eq!(
        saga.stuck_reason.as_deref(),
        Some("step reserve-hotel in trips failed 45s ago with no compensation after it")
    );
    assert_eq!(a.flows[0].status, FlowStatus::Stuck);
}

#[test]
fn saga_whose_compensation_failed() {
    let a = analyze_fixture("14_saga_compensation_failed");
    let saga = &a.sagas[0];
    assert_eq!((saga.source.as_str(), saga.name.as_str()), ("temporal", "MoneyTransfer"));
    assert_eq!(saga.state, SagaState::Failed);
    assert_eq!(insight_kinds(&a), [InsightKind::FailedCompensation]);
}

#[test]
fn unconsumed_event_stalls_its_subscription() {
    let a = analyze_fixture("15_unconsumed_event");
    let stuck: Vec<_> = a.flows.iter().filter(|f| f.status == FlowStatus::Stuck).collect();
    assert_eq!(stuck.len(), 1);
    assert_eq!(
        stuck[0].stuck_reason.as_deref(),
        Some("waiting 45s for a consumer of rabbitmq payments (billing)")
    );
    let payments = a.lag.iter().find(|l| l.destination == "payments").unwrap();
    assert_eq!((payments.unconsumed, payments.status), (1, LagStatus::Stalled));
    let audit = a.lag.iter().find(|l| l.destination == "audit").unwrap();
    assert_eq!(audit.status, LagStatus::NoConsumer);
    assert_eq!(insight_kinds(&a), [InsightKind::UnconsumedEvent]);
}

#[test]
fn duplicate_delivery_is_an_insight() {
    let a = analyze_fixture("16_duplicate_delivery");
    assert_eq!(a.hops.len(), 2);
    assert_eq!(insight_kinds(&a), [InsightKind::DuplicateDelivery]);
    assert!(a.insights[0].detail.contains("inv-42"), "{}", a.insights[0].detail);
}

#[test]
fn cascade_failure_climbs_the_sync_chain() {
    let a = analyze_fixture("17_cascade_failure");
    assert_eq!(insight_kinds(&a), [InsightKind::CascadeFailure]);
    assert!(a.insights[0].detail.ends_with("frontend → orders → payments"));
}

#[test]
fn sync_over_async_round_trip() {
    let a = analyze_fixture("18_sync_over_async");
    assert_eq!((a.summary.flows, a.summary.hops), (1, 2), "a reply cycle is one flow");
    assert_eq!(insight_kinds(&a), [InsightKind::SyncOverAsync]);
}

#[test]
fn destination_nobody_consumes_is_no_consumer_not_lag() {
    let a = analyze_fixture("19_no_consumer");
    assert_eq!(a.lag.len(), 1);
    assert_eq!((a.lag[0].status, a.lag[0].consumer_group.as_ref()), (LagStatus::NoConsumer, None));
    assert_eq!(a.flows[0].status, FlowStatus::Ok);
}

#[test]
fn receive_and_process_are_one_hop_conversation_is_weak() {
    let a = analyze_fixture("20_receive_process_conversation");
    let strong: Vec<_> = a.hops.iter().filter(|h| h.via != HopVia::Conversation).collect();
    assert_eq!(strong.len(), 1);
    assert_eq!(strong[0].consumer.name, "orders receive", "the hop lands on the receive");
    let weak: Vec<_> = a.hops.iter().filter(|h| h.via == HopVia::Conversation).collect();
    assert_eq!(weak.len(), 1);
    assert!(same(weak[0].confidence, 0.5));
    assert_eq!(a.summary.flows, 2, "a conversation never merges flows");
}

#[test]
fn masstransit_nservicebus_and_durable_task_sagas() {
    let a = analyze_fixture("21_foreign_sagas");
    let sagas: Vec<(&str, &str, &str, SagaState)> = a
        .sagas
        .iter()
        .map(|s| (s.source.as_str(), s.id.as_str(), s.name.as_str(), s.state))
        .collect();
    assert_eq!(
        sagas,
        [
            ("masstransit", "5f0c-mt", "masstransit", SagaState::Completed),
            ("nservicebus", "nsb-88", "nservicebus", SagaState::Compensated),
            ("durabletask", "inst-3", "ShipOrder", SagaState::Completed),
        ]
    );
    let steps: Vec<&str> = a.sagas[2].steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(steps, ["PickItems", "PackBox"]);
    let mt: Vec<&str> = a.sagas[0].steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(mt, ["OrderSubmitted process", "PaymentAccepted process"], "sends are no steps");
}

#[test]
fn text_report_names_flows_hops_lag_sagas_insights() {
    let mut a = analyze_fixture("15_unconsumed_event");
    let b = analyze_fixture("12_saga_compensated");
    a.sagas.extend(b.sagas);
    let report = text::render(&a);
    insta::assert_snapshot!("text_report", report);
}

#[test]
fn tables_versions_and_a_synchronous_fan_out_are_anti_patterns() {
    let a = analyze_fixture("22_architecture");
    let mut kinds = insight_kinds(&a);
    kinds.sort();
    assert_eq!(
        kinds,
        [InsightKind::EventSchemaChaos, InsightKind::DistributedMonolith, InsightKind::SyncFanout]
    );
    let subject = |k: InsightKind| {
        a.insights.iter().find(|i| i.kind == k).map(|i| i.subject.clone()).unwrap_or_default()
    };
    assert_eq!(subject(InsightKind::DistributedMonolith), "shop.orders");
    assert_eq!(subject(InsightKind::EventSchemaChaos), "kafka:shipments");
    assert_eq!(subject(InsightKind::SyncFanout), "gateway POST /orders/{id}/cancel");
    assert_eq!(a.tables_written("orders", "POST /orders"), ["shop.orders"]);
    assert_eq!(a.tables_written("reporting", "nightly rollup"), ["shop.orders"]);
    assert!(a.tables_written("gateway", "POST /orders/{id}/cancel").is_empty());
    assert!(a.tables_written("orders", "GET /nothing").is_empty());
}
