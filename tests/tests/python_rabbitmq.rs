//! Python on RabbitMQ, for real: Debian's `rabbitmq-server`, pika 1.4 and aio-pika 10 under
//! `opentelemetry-instrumentation-pika` / `-aio-pika` 0.66b1 and the OpenTelemetry SDK,
//! exporting OTLP/HTTP to `hopscope serve --record`; then `hopscope analyze --format json`.
//! The programs are `tests/python/pika_system.py` and `aio_pika_system.py`; what the
//! instrumentations write is in `tests/instrumentations.md` §3.

use hopscope_collector::analysis::{Analysis, FlowStatus, Hop, HopVia, LagStatus};
use hopscope_tests::systems::{Broker, consumed_from, destination_nodes, lag_row, run_python};

fn hops(a: &Analysis) -> Vec<&Hop> {
    a.hops.iter().collect()
}

#[test]
fn pika_default_and_topic_exchanges() {
    let broker = Broker::shared();
    let (a, _) = run_python(
        "pika_system.py",
        &broker,
        "consumer",
        &[
            ("worker", vec![("QUEUE", "tasks"), ("EXCHANGE", ""), ("EXPECT", "10")]),
            (
                "mailer",
                vec![
                    ("QUEUE", "mailer"),
                    ("KEY", "user.signed_up"),
                    ("EXPECT", "10"),
                    ("DELAY_MS", "100"),
                ],
            ),
            (
                "crm",
                vec![
                    ("QUEUE", "crm"),
                    ("KEY", "user.signed_up"),
                    ("EXPECT", "10"),
                    ("MODE", "generator"),
                ],
            ),
        ],
        &("web", vec![("JOBS", "10"), ("SIGNUPS", "10")]),
    );
    assert_eq!(destination_nodes(&a), ["rabbitmq:events", "rabbitmq:tasks"], "{:#?}", a.graph);
    // 20 requests, one `send` each, 30 deliveries: pika's spans and nothing else.
    assert_eq!(a.summary.spans, 70, "{:#?}", a.summary);
    let hops = hops(&a);
    assert_eq!(hops.len(), 30, "one hop per delivery: {hops:#?}");
    for h in &hops {
        // The consumer span is a child of the context pika injected in the headers; the
        // message id (`messaging.message.id` on both sides) agrees.
        assert_eq!((h.via, &*h.system), (HopVia::Parent, "rabbitmq"), "{h:#?}");
        let (send, receive) = match &*h.destination {
            "tasks" => ("tasks send", "tasks receive"),
            _ => ("events send", "events receive"),
        };
        assert_eq!((&*h.producer.name, &*h.consumer.name), (send, receive));
        assert_eq!(h.consumer_group, h.consumer.service, "pika names no queue: {h:#?}");
    }
    let count = |dest: &str, group: &str| {
        hops.iter().filter(|h| h.destination == dest && h.consumer_group == group).count()
    };
    assert_eq!(
        (count("tasks", "worker"), count("events", "mailer"), count("events", "crm")),
        (10, 10, 10)
    );
    assert_eq!(a.flows.len(), 20);
    assert!(a.flows.iter().all(|f| f.status == FlowStatus::Ok), "{:#?}", a.flows);
    for f in a.flows.iter().filter(|f| f.root.name == "POST /users") {
        assert_eq!(f.services, ["crm", "mailer", "web"], "{f:#?}");
    }
    assert_eq!(a.lag.len(), 3, "{:#?}", a.lag);
    for l in &a.lag {
        assert_eq!((l.consumed, l.unconsumed, l.dead_lettered), (10, 0, 0), "{l:#?}");
    }
    let row = |dest: &str, group: &str| lag_row(&a, dest, Some(group));
    let (mailer, crm) = (row("events", "mailer"), row("events", "crm"));
    // `mailer` takes 100 ms a message, so its backlog grows; `crm` keeps up.
    assert!(
        mailer.p95_ns > 2 * crm.p95_ns && mailer.p50_ns > 2 * crm.p50_ns,
        "the slow consumer's queue times are far above the other's: {mailer:#?} {crm:#?}"
    );
}

#[test]
fn aio_pika_default_and_topic_exchanges() {
    let broker = Broker::shared();
    let (a, _) = run_python(
        "aio_pika_system.py",
        &broker,
        "consumer",
        &[
            ("worker", vec![("QUEUE", "aio-tasks"), ("EXCHANGE", ""), ("EXPECT", "10")]),
            (
                "mailer",
                vec![
                    ("QUEUE", "aio-mailer"),
                    ("KEY", "user.signed_up"),
                    ("EXPECT", "10"),
                    ("DELAY_MS", "100"),
                ],
            ),
            ("crm", vec![("QUEUE", "aio-crm"), ("KEY", "user.signed_up"), ("EXPECT", "10")]),
        ],
        &("web", vec![("JOBS", "10"), ("SIGNUPS", "10"), ("DELETES", "3")]),
    );
    // The producer names `"<exchange>,<routing key>"`, so each routing key is its own
    // destination even though the consumer span names only the exchange.
    assert_eq!(
        destination_nodes(&a),
        ["rabbitmq:aio-tasks", "rabbitmq:shop:user.deleted", "rabbitmq:shop:user.signed_up"],
        "{:#?}",
        a.graph
    );
    assert_eq!(a.summary.spans, 23 + 23 + 30, "{:#?}", a.summary);
    let hops = hops(&a);
    assert_eq!(hops.len(), 30, "one hop per delivery: {hops:#?}");
    for h in &hops {
        let (destination, send, receive) = match &*h.consumer_group {
            "worker" => ("aio-tasks", ",aio-tasks send", "aio-tasks receive"),
            _ => ("shop:user.signed_up", "shop,user.signed_up send", "shop receive"),
        };
        assert_eq!(
            (h.via, &*h.destination, &*h.producer.name, &*h.consumer.name),
            (HopVia::Parent, destination, send, receive),
            "{h:#?}"
        );
    }
    assert_eq!(a.flows.len(), 23);
    assert!(a.flows.iter().all(|f| f.status == FlowStatus::Ok), "{:#?}", a.flows);
    assert_eq!(
        consumed_from(&a, "crm"),
        ["rabbitmq:shop:user.signed_up"],
        "crm consumes sign-ups only"
    );
    let row = |dest: &str, group: Option<&str>| lag_row(&a, dest, group);
    assert_eq!(a.lag.len(), 4, "{:#?}", a.lag);
    let deleted = row("shop:user.deleted", None);
    assert_eq!((deleted.status, deleted.unconsumed), (LagStatus::NoConsumer, 3));
    for (dest, group) in
        [("aio-tasks", "worker"), ("shop:user.signed_up", "mailer"), ("shop:user.signed_up", "crm")]
    {
        let l = row(dest, Some(group));
        assert_eq!((l.consumed, l.unconsumed), (10, 0), "{l:#?}");
    }
    let (mailer, crm) =
        (row("shop:user.signed_up", Some("mailer")), row("shop:user.signed_up", Some("crm")));
    assert!(
        mailer.p95_ns > 2 * crm.p95_ns && mailer.p50_ns > 2 * crm.p50_ns,
        "the slow consumer's queue times are far above the other's: {mailer:#?} {crm:#?}"
    );
}
