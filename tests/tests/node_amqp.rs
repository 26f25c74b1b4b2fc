//! The Node.js system of issue 15, for real: RabbitMQ (Debian's `rabbitmq-server`), amqplib
//! 0.10 and `@opentelemetry/instrumentation-amqplib` 0.70 under the OpenTelemetry NodeSDK,
//! exporting OTLP/gRPC to `hopscope serve --record`; then `hopscope analyze --format json`.
//!
//! `web` publishes `user.signed_up` (in `POST /signup`) and `user.deleted` to the topic
//! exchange `events`;
//! `mailer` (slow, and nacking every fifth first delivery with requeue) and `crm` consume
//! sign-ups from their own queues; `crm` publishes `crm.contact_created`, which `mailer`
//! consumes from a second queue `mailer-crm`; nobody binds `user.deleted`. The event catalog
//! (`events[]`) tells the command from the policy. A second run adds a queue with a
//! dead-letter exchange.

use std::time::Duration;

use hopscope_collector::analysis::{Analysis, EventProducer, FlowStatus, InsightKind, LagStatus};
use hopscope_tests::Serve;
use hopscope_tests::systems::{
    Broker, NodeService, analyze, consumed_from, destination_nodes, node_dir,
};

const SIGNUPS: u64 = 20;
const DELETES: u64 = 5;
const RUN: Duration = Duration::from_secs(120);

/// Runs `consumers` (service, QUEUES json), then the publisher, waits for every consumer to
/// drain, and returns the analysis of what `hopscope serve` recorded.
fn run_system(broker: &Broker, consumers: &[(&str, String)], publish: &[(&str, &str)]) -> Analysis {
    let node = node_dir();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("node.jsonl");
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 path")]);
    let otlp = serve.grpc_endpoint();
    let mut running: Vec<NodeService> = consumers
        .iter()
        .map(|(name, queues)| {
            NodeService::start(&node, "consumer", name, &otlp, &broker.url, &[("QUEUES", queues)])
        })
        .collect();
    for c in &running {
        c.wait_for_line("ready", RUN);
    }
    let mut api = NodeService::start(&node, "publisher", "web", &otlp, &broker.url, publish);
    api.wait_success(RUN);
    for c in &mut running {
        c.wait_success(RUN);
    }
    // Every exporter has shut down (flushed); give the receiver a moment to store the last.
    std::thread::sleep(Duration::from_millis(500));
    let status = serve.stop();
    assert!(status.success(), "{status}: {:?}", serve.stderr_lines());
    analyze(&path)
}

#[test]
fn node_amqplib_topic_exchange_system() {
    let broker = Broker::start();
    let signups = SIGNUPS.to_string();
    let deletes = DELETES.to_string();
    let mailer = format!(
        r#"[{{"queue":"mailer","key":"user.signed_up","expect":{SIGNUPS},"delayMs":150,"requeueEvery":5}},
            {{"queue":"mailer-crm","key":"crm.contact_created","expect":{SIGNUPS}}}]"#
    );
    let crm = format!(
        r#"[{{"queue":"crm","key":"user.signed_up","expect":{SIGNUPS},"republish":"crm.contact_created"}}]"#
    );
    let a = run_system(
        &broker,
        &[("mailer", mailer), ("crm", crm)],
        &[("SIGNUPS", &signups), ("DELETES", &deletes), ("SIGNUP_ROUTE", "POST /signup")],
    );

    assert_eq!(
        destination_nodes(&a),
        [
            "rabbitmq:events:crm.contact_created",
            "rabbitmq:events:user.deleted",
            "rabbitmq:events:user.signed_up"
        ],
        "{:#?}",
        a.graph
    );
    assert_eq!(
        consumed_from(&a, "crm"),
        ["rabbitmq:events:user.signed_up"],
        "crm consumes sign-ups only"
    );

    let signup_flows: Vec<_> = a.flows.iter().filter(|f| f.root.name == "POST /signup").collect();
    assert_eq!(signup_flows.len() as u64, SIGNUPS, "{:#?}", a.flows);
    for f in &signup_flows {
        assert!(
            matches!(f.status, FlowStatus::Ok | FlowStatus::Error),
            "every sign-up flow settled: {} is {:?}",
            f.id,
            f.status
        );
        assert_eq!(f.services.len(), 3, "web, crm, mailer: {:?}", f.services);
    }

    for row in a.lag.iter().filter(|l| l.consumer_group.is_some()) {
        assert_eq!(row.unconsumed, 0, "nothing unconsumed after the drain: {row:#?}");
    }
    let row = |dest: &str, group: Option<&str>| {
        a.lag
            .iter()
            .find(|l| l.destination == dest && l.consumer_group.as_deref() == group)
            .unwrap_or_else(|| panic!("no lag row {dest} {group:?}: {:#?}", a.lag))
    };
    let deleted = row("events:user.deleted", None);
    assert_eq!((deleted.status, deleted.unconsumed), (LagStatus::NoConsumer, DELETES));
    let mailer = row("events:user.signed_up", Some("mailer"));
    let crm = row("events:user.signed_up", Some("crm"));
    let mailer_crm = row("events:crm.contact_created", Some("mailer-crm"));
    assert_eq!(crm.consumed, SIGNUPS);
    assert_eq!(mailer_crm.consumed, SIGNUPS);
    assert_eq!(mailer_crm.consumer_services, ["mailer"]);
    // `mailer` takes 150 ms a message, so its backlog grows to seconds; `crm` keeps up.
    assert!(
        mailer.p95_ns > 2 * crm.p95_ns && mailer.p50_ns > 2 * crm.p50_ns,
        "the slow consumer's queue times are far above the other's: {mailer:#?} {crm:#?}"
    );
    let redelivered = mailer.consumed - SIGNUPS;
    assert!(redelivered >= 1, "mailer requeued some messages: {mailer:#?}");
    let dups = a.insights.iter().filter(|i| i.kind == InsightKind::DuplicateDelivery).count();
    assert_eq!(dups as u64, redelivered, "one duplicate delivery per redelivered message");
    assert_eq!(a.lag.len(), 4, "{:#?}", a.lag);

    // The event catalog: the sign-up is a command's event, the CRM contact a policy's.
    let names: Vec<&str> = a.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["crm.contact_created", "user.deleted", "user.signed_up"], "{:#?}", a.events);
    let event = |name: &str| a.events.iter().find(|e| e.name == name).expect("listed");
    let producer =
        |service: &str, command: &str, trigger: Option<&str>, count: u64| EventProducer {
            service: service.to_owned(),
            command: Some(command.to_owned()),
            trigger: trigger.map(str::to_owned),
            count,
        };
    let signed_up = event("user.signed_up");
    assert_eq!(signed_up.producers, [producer("web", "POST /signup", None, SIGNUPS)]);
    let queues: Vec<(&str, &str)> =
        signed_up.consumers.iter().map(|c| (c.service.as_str(), c.subscription.as_str())).collect();
    assert_eq!(queues, [("crm", "crm"), ("mailer", "mailer")], "both queues consume it");
    let created = event("crm.contact_created");
    assert_eq!(created.producers.len(), 1, "{:#?}", created.producers);
    assert_eq!(created.producers[0].service, "crm");
    assert_eq!(created.producers[0].trigger.as_deref(), Some("user.signed_up"), "a policy");
    assert_eq!(created.consumers[0].subscription, "mailer-crm");
    let deleted_event = event("user.deleted");
    assert_eq!(deleted_event.producers, [producer("web", "DELETE /users/:id", None, DELETES)]);
    assert!(deleted_event.consumers.is_empty(), "nobody consumes user.deleted");

    // Dead letters: `billing` rejects every third invoice without requeue; its queue's
    // dead-letter exchange `events.dlx` routes them to `billing.dlq`.
    let billing = r##"[{"queue":"billing","key":"user.signed_up","expect":9,"rejectEvery":3,"deadLetter":"events.dlx"},
                      {"queue":"billing.dlq","key":"#","expect":3,"exchange":"events.dlx"}]"##;
    let a = run_system(
        &broker,
        &[("billing", billing.to_owned())],
        &[("SIGNUPS", "9"), ("DELETES", "0")],
    );
    let row = |dest: &str, group: &str| {
        a.lag
            .iter()
            .find(|l| l.destination == dest && l.consumer_group.as_deref() == Some(group))
            .unwrap_or_else(|| panic!("no lag row {dest} {group}: {:#?}", a.lag))
    };
    let billing = row("events:user.signed_up", "billing");
    assert_eq!((billing.consumed, billing.unconsumed, billing.dead_lettered), (9, 0, 3));
    let dlq = row("events.dlx:user.signed_up", "billing.dlq");
    assert_eq!((dlq.consumed, dlq.unconsumed), (3, 0));
    assert!(
        a.graph.edges.iter().any(|e| e.kind.as_str() == "dead_letter"
            && e.from == "rabbitmq:events:user.signed_up"
            && e.to == "rabbitmq:events.dlx:user.signed_up"
            && e.count == 3),
        "{:#?}",
        a.graph.edges
    );
    let dead: Vec<_> = a.flows.iter().filter(|f| f.error_reason.is_some()).collect();
    assert_eq!(dead.len(), 3, "{:#?}", a.flows);
    assert!(dead.iter().all(|f| f.status == FlowStatus::Error));
    assert!(
        dead[0].error_reason.as_deref().is_some_and(|r| r.contains("dead-lettered in billing")),
        "{:?}",
        dead[0].error_reason
    );
}
