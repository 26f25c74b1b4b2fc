//! Job-queue and cloud conventions: Celery, BullMQ, AWS SQS/SNS, GCP Pub/Sub, Azure Service
//! Bus and Event Hubs. Each fixture names the instrumentation and version it imitates.

mod conventions_support;

use conventions_support::{
    At, CLIENT, CONSUMER, INTERNAL, PRODUCER, SERVER, SpanSpec, V, analyze_spans, destinations,
    edges, hops, lag_row,
};
use hopscope_collector::analysis::{FlowStatus, InsightKind, LagStatus};

/// `opentelemetry-instrumentation-celery` (`__init__.py`, `utils.py`): `apply_async/<task>`
/// PRODUCER and `run/<task>` CONSUMER child of it, the task id as `messaging.message.id`
/// on both, `messaging.destination` = the routing key (queue `celery`), no
/// `messaging.system`; with `use_span_links=True` the run links the publish instead. Two
/// tasks share the queue: `tasks.cleanup` never runs.
#[test]
fn celery_queue_and_task_are_the_event() {
    let celery = |action: &'static str, task: &'static str, id: &'static str| {
        vec![
            ("celery.action", V::S(action)),
            ("celery.task_name", V::S(task)),
            ("messaging.message.id", V::S(id)),
            ("messaging.destination", V::S("celery")),
        ]
    };
    let s = vec![
        SpanSpec::new("web", At(1, 1), "POST /signup", SERVER, (0, 10)),
        SpanSpec::new("web", At(1, 2), "apply_async/tasks.send_welcome", PRODUCER, (2, 3))
            .parent(At(1, 1))
            .attrs(&celery("apply_async", "tasks.send_welcome", "5b1e-1"))
            .attrs(&[("messaging.destination_kind", V::S("queue"))]),
        SpanSpec::new("worker", At(1, 3), "run/tasks.send_welcome", CONSUMER, (20, 45))
            .parent(At(1, 2))
            .attrs(&celery("run", "tasks.send_welcome", "5b1e-1"))
            .attrs(&[("celery.state", V::S("SUCCESS")), ("celery.hostname", V::S("celery@w1"))]),
        SpanSpec::new("web", At(2, 1), "apply_async/tasks.cleanup", PRODUCER, (50, 51))
            .attrs(&celery("apply_async", "tasks.cleanup", "5b1e-2")),
        // `CeleryInstrumentor().instrument(use_span_links=True)`: the run is a root of its own
        // trace, linked to the publish (seen in tests/tests/python_celery.rs).
        SpanSpec::new("web", At(3, 1), "apply_async/tasks.send_welcome", PRODUCER, (60, 61))
            .attrs(&celery("apply_async", "tasks.send_welcome", "5b1e-3")),
        SpanSpec::new("worker", At(4, 1), "run/tasks.send_welcome", CONSUMER, (70, 80))
            .link(At(3, 1), &[])
            .attrs(&celery("run", "tasks.send_welcome", "5b1e-3")),
    ];
    let a = analyze_spans("celery", &s);
    assert_eq!(
        destinations(&a),
        ["celery:celery:tasks.cleanup", "celery:celery:tasks.send_welcome"]
    );
    let h = hops(&a);
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0].2, h[0].3.as_str(), h[0].4.as_str()),
        ("parent", "celery:tasks.send_welcome", "worker")
    );
    assert_eq!(
        (h[1].2, h[1].3.as_str(), h[1].4.as_str()),
        ("link", "celery:tasks.send_welcome", "worker")
    );
    assert_eq!(lag_row(&a, "celery:tasks.send_welcome", Some("worker")).unconsumed, 0);
    assert_eq!(lag_row(&a, "celery:tasks.cleanup", None).status, LagStatus::NoConsumer);
    assert_eq!(a.flows.len(), 3, "the linked run joins its publisher's flow");
    assert!(a.flows.iter().all(|f| f.status == FlowStatus::Ok));
}

/// BullMQ 5.22+ built-in telemetry (`src/classes/queue.ts`, `worker.ts`): `add
/// <queue>.<job>` PRODUCER, `process <queue>` CONSUMER child of it, only `bullmq.*`
/// attributes; the worker's `getNextJob <queue>` is not a message. Job ids count per queue:
/// job `1` of `emails` is not job `1` of `reports`. A retried job is processed twice.
#[test]
fn bullmq_queue_and_job_name() {
    let add = |queue: &'static str, job: &'static str, id: &'static str| {
        vec![
            ("bullmq.queue.name", V::S(queue)),
            ("bullmq.queue.operation", V::S("add")),
            ("bullmq.job.name", V::S(job)),
            ("bullmq.job.id", V::S(id)),
        ]
    };
    let process = |queue: &'static str, job: &'static str, id: &'static str| {
        vec![
            ("bullmq.queue.name", V::S(queue)),
            ("bullmq.queue.operation", V::S("process")),
            ("bullmq.worker.name", V::S("w1")),
            ("bullmq.job.name", V::S(job)),
            ("bullmq.job.id", V::S(id)),
        ]
    };
    let s = vec![
        SpanSpec::new("api", At(1, 1), "add emails.welcome", PRODUCER, (0, 2))
            .attrs(&add("emails", "welcome", "1")),
        SpanSpec::new("mailer", At(1, 2), "process emails", CONSUMER, (10, 30))
            .parent(At(1, 1))
            .attrs(&process("emails", "welcome", "1")),
        SpanSpec::new("mailer", At(9, 1), "getNextJob emails", INTERNAL, (9, 10))
            .attrs(&[("bullmq.queue.name", V::S("emails")), ("bullmq.worker.name", V::S("w1"))]),
        // Context dropped (`telemetry.omitContext`): matched on (queue, job id).
        SpanSpec::new("api", At(2, 1), "add reports.monthly", PRODUCER, (40, 41))
            .attrs(&add("reports", "monthly", "1")),
        SpanSpec::new("reporter", At(3, 1), "process reports", CONSUMER, (50, 80))
            .attrs(&process("reports", "monthly", "1")),
        SpanSpec::new("api", At(4, 1), "add emails.digest", PRODUCER, (90, 91))
            .attrs(&add("emails", "digest", "2")),
        // A job whose first attempt failed (status UNSET: the worker only adds a `job failed`
        // event, seen in tests/tests/node_bullmq.rs) runs again: two process spans, both
        // children of the one add span.
        SpanSpec::new("api", At(5, 1), "add emails.welcome", PRODUCER, (100, 101))
            .attrs(&add("emails", "welcome", "3")),
        SpanSpec::new("mailer", At(5, 2), "process emails", CONSUMER, (105, 110))
            .parent(At(5, 1))
            .attrs(&process("emails", "welcome", "3")),
        SpanSpec::new("mailer", At(5, 3), "process emails", CONSUMER, (115, 120))
            .parent(At(5, 1))
            .attrs(&process("emails", "welcome", "3")),
    ];
    let a = analyze_spans("bullmq", &s);
    assert_eq!(
        destinations(&a),
        ["bullmq:emails:digest", "bullmq:emails:welcome", "bullmq:reports:monthly"]
    );
    let h = hops(&a);
    assert_eq!(h.len(), 4, "{h:?}");
    assert_eq!(
        h.iter().filter(|x| x.1 == "mailer" && x.2 == "parent" && x.4 == "emails").count(),
        3
    );
    assert!(h.iter().any(|x| x.1 == "reporter" && x.2 == "message_id" && x.3 == "reports:monthly"));
    assert_eq!(lag_row(&a, "emails:digest", None).status, LagStatus::NoConsumer);
    let welcome = lag_row(&a, "emails:welcome", Some("emails"));
    assert_eq!((welcome.consumed, welcome.unconsumed), (3, 0));
    let dups: Vec<_> =
        a.insights.iter().filter(|i| i.kind == InsightKind::DuplicateDelivery).collect();
    assert_eq!(dups.len(), 1, "the retried job: {dups:?}");
    assert!(dups[0].detail.contains("message emails/3"), "{:?}", dups[0].detail);
    assert!(
        !edges(&a).iter().any(|e| e.1 == "mailer" && e.0.contains("unknown")),
        "getNextJob is no consumer"
    );
}

/// `@opentelemetry/instrumentation-aws-sdk` ≥0.58 (`src/services/sqs.ts`): `<queue> send`
/// PRODUCER (`aws_sqs`, message id from the response), `<queue> receive` CONSUMER linking
/// each message with a `messaging.message.id` link attribute. Before 0.58: `aws.sqs`,
/// `messaging.destination`, and per message a `<queue> process` child of the receive span
/// linking the producer. A redrive (dead-letter) queue `orders-dlq` receives the message
/// that failed in `orders`. SNS (`src/services/sns.ts`): `<topic> send` with the ARN;
/// the Java agent's SNS publish is a CLIENT span `Sns.Publish`.
#[test]
fn aws_sqs_sns_and_a_redrive_queue() {
    let sqs_new = |q: &'static str, op: Option<&'static str>| {
        let mut a = vec![
            ("messaging.system", V::S("aws_sqs")),
            ("messaging.destination.name", V::S(q)),
            ("rpc.system", V::S("aws-api")),
            ("rpc.service", V::S("SQS")),
        ];
        if let Some(op) = op {
            a.push(("messaging.operation.type", V::S(op)));
        }
        a
    };
    let s = vec![
        SpanSpec::new("shop", At(1, 1), "orders send", PRODUCER, (0, 20))
            .attrs(&sqs_new("orders", None))
            .attrs(&[
                ("messaging.message.id", V::S("sqs-1")),
                ("url.full", V::S("https://sqs.eu-west-1.amazonaws.com/1234/orders")),
            ]),
        SpanSpec::new("shop", At(2, 1), "orders send", PRODUCER, (30, 50))
            .attrs(&sqs_new("orders", None))
            .attrs(&[("messaging.message.id", V::S("sqs-2"))]),
        SpanSpec::new("fulfil", At(3, 1), "orders receive", CONSUMER, (100, 110))
            .attrs(&sqs_new("orders", Some("receive")))
            .attrs(&[("messaging.batch.message_count", V::I(2))])
            .link(At(1, 1), &[("messaging.message.id", V::S("sqs-1"))])
            .link(At(2, 1), &[("messaging.message.id", V::S("sqs-2"))]),
        // Message 2 failed three times; SQS moved it to the redrive queue.
        SpanSpec::new("fulfil", At(3, 2), "process order", INTERNAL, (111, 130))
            .parent(At(3, 1))
            .error("OutOfStock"),
        SpanSpec::new("ops", At(4, 1), "orders-dlq receive", CONSUMER, (900, 905))
            .attrs(&sqs_new("orders-dlq", Some("receive")))
            .link(At(2, 1), &[("messaging.message.id", V::S("sqs-2"))]),
        // aws-sdk < 0.58, and a queue named by URL only (Java agent: `aws.sqs.queue.url`).
        SpanSpec::new("billing", At(5, 1), "invoices send", PRODUCER, (200, 210)).attrs(&[
            ("messaging.system", V::S("aws.sqs")),
            ("messaging.destination_kind", V::S("queue")),
            ("messaging.destination", V::S("invoices")),
            ("messaging.url", V::S("https://sqs.eu-west-1.amazonaws.com/1234/invoices")),
        ]),
        SpanSpec::new("ledger", At(6, 1), "invoices receive", CONSUMER, (220, 221)).attrs(&[
            ("messaging.system", V::S("aws.sqs")),
            ("messaging.destination", V::S("invoices")),
            ("messaging.operation", V::S("receive")),
        ]),
        SpanSpec::new("ledger", At(6, 2), "invoices process", CONSUMER, (221, 230))
            .parent(At(6, 1))
            .link(At(5, 1), &[])
            .attrs(&[
                ("messaging.system", V::S("aws.sqs")),
                ("messaging.destination", V::S("invoices")),
                ("messaging.operation", V::S("process")),
                ("messaging.message_id", V::S("sqs-9")),
            ]),
        // SNS, JS and Java.
        SpanSpec::new("shop", At(7, 1), "order-events send", PRODUCER, (300, 305)).attrs(&[
            ("messaging.system", V::S("aws.sns")),
            ("messaging.destination_kind", V::S("topic")),
            ("messaging.destination", V::S("order-events")),
            ("messaging.destination.name", V::S("arn:aws:sns:eu-west-1:1234:order-events")),
            ("aws.sns.topic.arn", V::S("arn:aws:sns:eu-west-1:1234:order-events")),
        ]),
        SpanSpec::new("shop-java", At(8, 1), "Sns.Publish", CLIENT, (310, 315)).attrs(&[
            ("messaging.destination.name", V::S("arn:aws:sns:eu-west-1:1234:order-events")),
            ("aws.sns.topic.arn", V::S("arn:aws:sns:eu-west-1:1234:order-events")),
            ("rpc.system", V::S("aws-api")),
        ]),
        SpanSpec::new(
            "analytics",
            At(9, 1),
            "order-events-analytics receive",
            CONSUMER,
            (320, 322),
        )
        .attrs(&sqs_new("order-events-analytics", Some("receive")))
        .link(At(7, 1), &[])
        .link(At(8, 1), &[]),
    ];
    let a = analyze_spans("aws", &s);
    let orders = lag_row(&a, "orders", Some("fulfil"));
    assert_eq!((orders.consumed, orders.unconsumed), (2, 0));
    let invoices = lag_row(&a, "invoices", Some("ledger"));
    assert_eq!((invoices.consumed, invoices.unconsumed), (1, 0), "old `aws.sqs` is `aws_sqs`");
    assert_eq!(invoices.system, "aws_sqs");
    let dlq = lag_row(&a, "orders-dlq", Some("ops"));
    assert_eq!(dlq.consumed, 1);
    assert!(edges(&a).contains(&(
        "aws_sqs:orders".into(),
        "aws_sqs:orders-dlq".into(),
        "dead_letter"
    )));
    let failed =
        a.flows.iter().find(|f| f.error_reason.is_some()).expect("the redriven message's flow");
    assert_eq!(failed.status, FlowStatus::Error);
    assert!(
        failed.error_reason.as_deref().is_some_and(|r| r.contains("dead-lettered in fulfil")),
        "{failed:#?}"
    );
    assert_eq!(orders.dead_lettered, 1);
    let sns = lag_row(&a, "order-events", Some("analytics"));
    assert_eq!((sns.system.as_str(), sns.consumed, sns.unconsumed), ("aws.sns", 2, 0));
    let d = destinations(&a);
    for id in ["aws_sqs:orders", "aws_sqs:orders-dlq", "aws_sqs:invoices", "aws.sns:order-events"] {
        assert!(d.contains(&id.to_owned()), "{id} in {d:?}");
    }
}

/// `@google-cloud/pubsub` 5.3 with `enableOpenTelemetryTracing` (`src/telemetry-tracing.ts`):
/// `<topic> create` PRODUCER per message, a `<topic> send` batch RPC linking the creates (not
/// a message), `<subscription> subscribe` CONSUMER child of the create with the
/// subscription as `messaging.destination.name`, an INTERNAL `<subscription> process`, and
/// `<subscription> ack` CLIENT. Two subscriptions; `orders-audit` got one of two messages.
#[test]
fn gcp_pubsub_topic_and_subscriptions() {
    let ps = |dest: &'static str, op: &'static str| {
        vec![
            ("messaging.system", V::S("gcp_pubsub")),
            ("messaging.destination.name", V::S(dest)),
            ("messaging.operation", V::S(op)),
            ("gcp.project_id", V::S("shop-prod")),
        ]
    };
    let mut s = Vec::new();
    let mut batch = SpanSpec::new("orders", At(9, 1), "orders send", PRODUCER, (30, 40)).attrs(&[
        ("messaging.system", V::S("gcp_pubsub")),
        ("messaging.destination.name", V::S("orders")),
        ("messaging.batch.message_count", V::I(2)),
    ]);
    for i in 1..=2u32 {
        let t0 = u64::from(i) * 10;
        s.push(
            SpanSpec::new("orders", At(i, 1), "orders create", PRODUCER, (t0, t0 + 1))
                .attrs(&ps("orders", "create")),
        );
        batch = batch.link(At(i, 1), &[]);
        s.push(
            SpanSpec::new(
                "billing",
                At(i, 2),
                "orders-billing subscribe",
                CONSUMER,
                (t0 + 50, t0 + 60),
            )
            .parent(At(i, 1))
            .attrs(&ps("orders-billing", "receive")),
        );
        s.push(
            SpanSpec::new(
                "billing",
                At(i, 3),
                "orders-billing process",
                INTERNAL,
                (t0 + 51, t0 + 59),
            )
            .parent(At(i, 2))
            .attrs(&[("messaging.gcp_pubsub.result", V::S("ack"))]),
        );
    }
    s.push(batch);
    s.push(
        SpanSpec::new("audit", At(1, 4), "orders-audit subscribe", CONSUMER, (70, 72))
            .parent(At(1, 1))
            .attrs(&ps("orders-audit", "receive")),
    );
    s.push(
        SpanSpec::new("billing", At(10, 1), "orders-billing ack", CLIENT, (200, 201))
            .attrs(&[
                ("messaging.system", V::S("gcp_pubsub")),
                ("messaging.batch.message_count", V::I(2)),
            ])
            .link(At(1, 2), &[])
            .link(At(2, 2), &[]),
    );
    let a = analyze_spans("pubsub", &s);
    assert_eq!(destinations(&a), ["gcp_pubsub:orders"]);
    let billing = lag_row(&a, "orders", Some("orders-billing"));
    assert_eq!((billing.consumed, billing.unconsumed), (2, 0));
    let audit = lag_row(&a, "orders", Some("orders-audit"));
    assert_eq!((audit.consumed, audit.unconsumed), (1, 1));
    let emits: Vec<_> = edges(&a).into_iter().filter(|e| e.2 == "emit").collect();
    assert_eq!(emits, [("orders".into(), "gcp_pubsub:orders".into(), "emit")]);
    assert_eq!(
        a.graph.edges.iter().find(|e| e.kind.as_str() == "emit").map(|e| e.count),
        Some(2),
        "the batch send is not a message"
    );
    assert!(hops(&a).iter().all(|x| x.2 == "parent"));
    assert_eq!(a.flows.len(), 4, "two messages, the batch send and the ack RPC (own traces)");
    assert!(a.insights.iter().all(|i| i.kind != InsightKind::DuplicateDelivery));
}

/// Azure.Messaging.ServiceBus (`DiagnosticExtensions.cs`): `Message` PRODUCER per message,
/// `ServiceBusSender.Send` linking it (not a message), `ServiceBusProcessor.ProcessMessage`
/// child of the message, destination `<topic>/Subscriptions/<subscription>`; a dead-letter
/// sub-queue read by `ServiceBusReceiver.Receive`. Event Hubs: `EventHubProducerClient.Send`
/// and `EventProcessor.Process` linking it, group `$Default`.
#[test]
fn azure_service_bus_and_event_hubs() {
    let sb = |dest: &'static str| {
        vec![
            ("messaging.system", V::S("servicebus")),
            ("messaging.destination.name", V::S(dest)),
            ("server.address", V::S("shop.servicebus.windows.net")),
        ]
    };
    let s = vec![
        SpanSpec::new("orders", At(1, 1), "Message", PRODUCER, (0, 1)).attrs(&sb("orders")),
        SpanSpec::new("orders", At(1, 2), "ServiceBusSender.Send", CLIENT, (1, 6))
            .attrs(&sb("orders"))
            .link(At(1, 1), &[]),
        SpanSpec::new(
            "billing",
            At(1, 3),
            "ServiceBusProcessor.ProcessMessage",
            CONSUMER,
            (10, 20),
        )
        .parent(At(1, 1))
        .attrs(&sb("orders/Subscriptions/billing"))
        .error("PaymentDeclined"),
        SpanSpec::new("support", At(2, 1), "ServiceBusReceiver.Receive", CLIENT, (500, 501))
            .attrs(&sb("orders/Subscriptions/billing/$DeadLetterQueue"))
            .attrs(&[("messaging.operation", V::S("receive"))])
            .link(At(1, 1), &[]),
        SpanSpec::new("devices", At(3, 1), "EventHubProducerClient.Send", PRODUCER, (40, 41))
            .attrs(&[
                ("messaging.system", V::S("eventhubs")),
                ("messaging.destination.name", V::S("telemetry")),
            ]),
        SpanSpec::new("rollup", At(4, 1), "EventProcessor.Process", CONSUMER, (45, 47))
            .attrs(&[
                ("messaging.system", V::S("eventhubs")),
                ("messaging.destination.name", V::S("telemetry")),
                ("messaging.consumer.group.name", V::S("$Default")),
            ])
            .link(At(3, 1), &[]),
    ];
    let a = analyze_spans("azure", &s);
    let billing = lag_row(&a, "orders", Some("billing"));
    assert_eq!((billing.consumed, billing.unconsumed, billing.dead_lettered), (1, 0, 1));
    assert_eq!(lag_row(&a, "telemetry", Some("$Default")).consumed, 1);
    let h = hops(&a);
    assert!(h.iter().any(|x| x.1 == "billing" && x.2 == "parent" && x.3 == "orders"));
    assert!(h.iter().any(|x| x.1 == "rollup" && x.2 == "link"));
    assert!(edges(&a).iter().any(|e| e.2 == "dead_letter" && e.0 == "servicebus:orders"));
    let emits = a
        .graph
        .edges
        .iter()
        .filter(|e| e.kind.as_str() == "emit" && e.from == "orders")
        .map(|e| e.count)
        .sum::<u64>();
    assert_eq!(emits, 1, "the Send span is not a second message");
    assert!(a.flows.iter().any(|f| f.error_reason.is_some()));
}
