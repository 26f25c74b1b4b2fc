//! RabbitMQ conventions: the (exchange, routing key) model, queues as subscriptions, dead
//! letters, as amqplib, pika, aio-pika, the Java agent and MassTransit write them. Each
//! fixture names the instrumentation and version it imitates.

mod conventions_support;

use conventions_support::{
    At, CONSUMER, INTERNAL, PRODUCER, SERVER, SpanSpec, V, analyze_spans, destinations, edges,
    hops, lag_row,
};
use hopscope_collector::analysis::{FlowStatus, InsightKind, LagStatus};

/// `@opentelemetry/instrumentation-amqplib` ≥0.41 (read at 0.68.0: `src/amqplib.ts`,
/// `src/utils.ts`): old-convention keys on both sides, `publish <exchange>` PRODUCER,
/// `<queue> process` CONSUMER child of the publish span (the default, no
/// `useLinksForConsume`).
fn amqplib_attrs(
    exchange: &'static str,
    rk: &'static str,
    consumer: bool,
) -> Vec<(&'static str, V<'static>)> {
    let mut a = vec![
        ("messaging.system", V::S("rabbitmq")),
        ("messaging.destination", V::S(exchange)),
        ("messaging.destination_kind", V::S("topic")),
        ("messaging.rabbitmq.routing_key", V::S(rk)),
        ("messaging.protocol", V::S("AMQP")),
        ("messaging.protocol_version", V::S("0.9.1")),
        ("server.address", V::S("localhost")),
        ("server.port", V::I(5672)),
    ];
    if consumer {
        a.push(("messaging.operation", V::S("process")));
    }
    a
}

/// The Node system of issue 15: `api` publishes `user.signed_up` (10) and `user.deleted`
/// (3) to the topic exchange `events`; `mailer` (slow) and `crm` consume sign-ups from
/// their own queues; `crm` then publishes `crm.contact_created`, consumed by `mailer`'s
/// second queue `mailer-crm`; nobody binds `user.deleted`; message 3 is redelivered to
/// `mailer` after a nack with requeue.
fn node_system() -> Vec<SpanSpec<'static>> {
    let mut s = Vec::new();
    for i in 1..=10u32 {
        let t0 = u64::from(i) * 100;
        let (root, publish) = (At(i, 1), At(i, 2));
        s.push(SpanSpec::new("api", root, "POST /users", SERVER, (t0, t0 + 5)));
        s.push(
            SpanSpec::new("api", publish, "publish events", PRODUCER, (t0 + 1, t0 + 2))
                .parent(root)
                .attrs(&amqplib_attrs("events", "user.signed_up", false)),
        );
        let slow = t0 + 2 + 200 + u64::from(i) * 10;
        let mut first =
            SpanSpec::new("mailer", At(i, 3), "mailer process", CONSUMER, (slow, slow + 30))
                .parent(publish)
                .attrs(&amqplib_attrs("events", "user.signed_up", true));
        if i == 3 {
            first = first.error("nack called on message with requeue");
            s.push(first);
            s.push(
                SpanSpec::new(
                    "mailer",
                    At(i, 4),
                    "mailer process",
                    CONSUMER,
                    (slow + 50, slow + 70),
                )
                .parent(publish)
                .attrs(&amqplib_attrs("events", "user.signed_up", true)),
            );
        } else {
            s.push(first);
        }
        let fast = t0 + 2 + 3;
        s.push(
            SpanSpec::new("crm", At(i, 5), "crm process", CONSUMER, (fast, fast + 8))
                .parent(publish)
                .attrs(&amqplib_attrs("events", "user.signed_up", true)),
        );
        s.push(
            SpanSpec::new("crm", At(i, 6), "publish events", PRODUCER, (fast + 6, fast + 7))
                .parent(At(i, 5))
                .attrs(&amqplib_attrs("events", "crm.contact_created", false)),
        );
        s.push(
            SpanSpec::new(
                "mailer",
                At(i, 7),
                "mailer-crm process",
                CONSUMER,
                (fast + 12, fast + 20),
            )
            .parent(At(i, 6))
            .attrs(&amqplib_attrs("events", "crm.contact_created", true)),
        );
    }
    for i in 101..=103u32 {
        let t0 = u64::from(i) * 10;
        s.push(SpanSpec::new("api", At(i, 1), "DELETE /users/:id", SERVER, (t0, t0 + 4)));
        s.push(
            SpanSpec::new("api", At(i, 2), "publish events", PRODUCER, (t0 + 1, t0 + 2))
                .parent(At(i, 1))
                .attrs(&amqplib_attrs("events", "user.deleted", false)),
        );
    }
    s
}

#[test]
fn amqplib_topic_exchange_routing_keys_are_destinations_and_queues_subscriptions() {
    let a = analyze_spans("amqplib_node_system", &node_system());
    assert_eq!(
        destinations(&a),
        [
            "rabbitmq:events:crm.contact_created",
            "rabbitmq:events:user.deleted",
            "rabbitmq:events:user.signed_up"
        ]
    );
    let crm_consumes: Vec<String> = edges(&a)
        .into_iter()
        .filter(|(_, to, kind)| to == "crm" && *kind == "consume")
        .map(|(from, ..)| from)
        .collect();
    assert_eq!(crm_consumes, ["rabbitmq:events:user.signed_up"], "crm consumes sign-ups only");

    // Flows: every sign-up settled (message 3's nack makes its flow an error, not in flight).
    assert_eq!(a.flows.len(), 13);
    for f in &a.flows {
        assert!(
            matches!(f.status, FlowStatus::Ok | FlowStatus::Error),
            "flow {} {:?}: {:?}",
            f.id,
            f.root.name,
            f.status
        );
    }
    assert_eq!(a.flows.iter().filter(|f| f.status == FlowStatus::Error).count(), 1);

    // Queues are subscriptions, each expecting only its routing key.
    let mailer = lag_row(&a, "events:user.signed_up", Some("mailer"));
    let crm = lag_row(&a, "events:user.signed_up", Some("crm"));
    let mailer_crm = lag_row(&a, "events:crm.contact_created", Some("mailer-crm"));
    assert_eq!((mailer.consumed, mailer.unconsumed), (11, 0));
    assert_eq!((crm.consumed, crm.unconsumed), (10, 0));
    assert_eq!((mailer_crm.consumed, mailer_crm.unconsumed), (10, 0));
    assert_eq!(mailer.consumer_services, ["mailer"]);
    assert_eq!(mailer_crm.consumer_services, ["mailer"], "one service, two queues, two rows");
    assert!(mailer.p95_ns > 10 * crm.p95_ns, "{} vs {}", mailer.p95_ns, crm.p95_ns);
    let deleted = lag_row(&a, "events:user.deleted", None);
    assert_eq!((deleted.status, deleted.unconsumed), (LagStatus::NoConsumer, 3));
    assert_eq!(a.lag.len(), 4);

    // Hops via parent, grouped by queue.
    let h = hops(&a);
    assert_eq!(h.len(), 31);
    assert!(h.iter().all(|(.., via, _, _)| *via == "parent"));
    assert_eq!(
        h.iter().filter(|x| x.4 == "mailer-crm" && x.3 == "events:crm.contact_created").count(),
        10
    );

    let dups: Vec<_> =
        a.insights.iter().filter(|i| i.kind == InsightKind::DuplicateDelivery).collect();
    assert_eq!(dups.len(), 1, "{:#?}", a.insights);
    assert!(a.insights.iter().all(|i| i.kind != InsightKind::UnconsumedEvent), "{:#?}", a.insights);
}

#[test]
fn amqplib_before_0_41_names_and_consume_links() {
    // ≤0.40 named the producer `<exchange> -> <routing key> send`; `useLinksForConsume`
    // makes the consumer a new root linking the publish span.
    let mut s = Vec::new();
    for i in 1..=3u32 {
        let t0 = u64::from(i) * 100;
        s.push(
            SpanSpec::new(
                "orders",
                At(i, 1),
                "events -> order.placed send",
                PRODUCER,
                (t0, t0 + 1),
            )
            .attrs(&amqplib_attrs("events", "order.placed", false)),
        );
        s.push(
            SpanSpec::new("billing", At(100 + i, 1), "billing process", CONSUMER, (t0 + 5, t0 + 9))
                .link(At(i, 1), &[])
                .attrs(&amqplib_attrs("events", "order.placed", true)),
        );
    }
    // sendToQueue: the default exchange routes by queue name.
    s.push(
        SpanSpec::new("orders", At(9, 1), "publish <default>", PRODUCER, (900, 901))
            .attrs(&amqplib_attrs("", "invoices", false)),
    );
    s.push(
        SpanSpec::new("billing", At(9, 2), "invoices process", CONSUMER, (905, 909))
            .parent(At(9, 1))
            .attrs(&amqplib_attrs("", "invoices", true)),
    );
    let a = analyze_spans("amqplib_old_names", &s);
    assert_eq!(destinations(&a), ["rabbitmq:events:order.placed", "rabbitmq:invoices"]);
    assert_eq!(a.flows.len(), 4);
    let h = hops(&a);
    assert_eq!(h.iter().filter(|x| x.2 == "link").count(), 3);
    assert_eq!(h.iter().filter(|x| x.2 == "parent" && x.4 == "invoices").count(), 1);
    assert_eq!(lag_row(&a, "events:order.placed", Some("billing")).unconsumed, 0);
    assert!(a.flows.iter().all(|f| f.status == FlowStatus::Ok));
}

/// amqplib with a dead-letter exchange: `billing` rejects two of five sign-ups without
/// requeue (amqplib ends its span with ERROR `nack called on message without requeue`); the
/// broker republishes them to `events.dlx`, keeping `traceparent`, so the `billing.dlq
/// process` span is a child of the original publish span, with `messaging.destination` =
/// the DLX (rabbitmq-server `mc_compat.erl`; amqplib does not capture `x-death`).
#[test]
fn amqplib_dead_letters_count_against_the_queue_that_rejected_them() {
    let mut s = Vec::new();
    for i in 1..=5u32 {
        let t0 = u64::from(i) * 100;
        let publish = At(i, 1);
        s.push(
            SpanSpec::new("api", publish, "publish events", PRODUCER, (t0, t0 + 1))
                .attrs(&amqplib_attrs("events", "user.signed_up", false)),
        );
        let mut consume =
            SpanSpec::new("billing", At(i, 2), "billing process", CONSUMER, (t0 + 5, t0 + 9))
                .parent(publish)
                .attrs(&amqplib_attrs("events", "user.signed_up", true));
        if i % 2 == 0 {
            consume = consume.error("nack called on message without requeue");
            s.push(consume);
            s.push(
                SpanSpec::new(
                    "billing",
                    At(i, 3),
                    "billing.dlq process",
                    CONSUMER,
                    (t0 + 12, t0 + 14),
                )
                .parent(publish)
                .attrs(&amqplib_attrs("events.dlx", "user.signed_up", true)),
            );
        } else {
            s.push(consume);
        }
    }
    let a = analyze_spans("amqplib_dlx", &s);
    let billing = lag_row(&a, "events:user.signed_up", Some("billing"));
    assert_eq!((billing.consumed, billing.unconsumed, billing.dead_lettered), (5, 0, 2));
    let dlq = lag_row(&a, "events.dlx:user.signed_up", Some("billing.dlq"));
    assert_eq!((dlq.consumed, dlq.unconsumed, dlq.dead_lettered), (2, 0, 0));
    assert!(edges(&a).contains(&(
        "rabbitmq:events:user.signed_up".into(),
        "rabbitmq:events.dlx:user.signed_up".into(),
        "dead_letter"
    )));
    let dead: Vec<_> = a.flows.iter().filter(|f| f.status == FlowStatus::Error).collect();
    assert_eq!(dead.len(), 2);
    for f in dead {
        let reason = f.error_reason.as_deref().expect("a dead-lettered flow says why");
        assert_eq!(
            reason,
            "message to rabbitmq:events:user.signed_up dead-lettered in billing to rabbitmq:events.dlx:user.signed_up"
        );
    }
    assert!(a.lag.iter().all(|l| l.status != LagStatus::NoConsumer));
    let report = hopscope_collector::analysis::text::render(&a);
    assert!(report.contains("ok (2 dead-lettered)"), "{report}");
    assert!(
        report.contains("error: message to rabbitmq:events:user.signed_up dead-lettered"),
        "{report}"
    );
}

/// The Java agent (rabbitmq-2.7, default "old" names) with
/// `otel.instrumentation.messaging.experimental.capture-headers=x-first-death-queue,x-first-death-reason`:
/// `<exchange> publish`, `<queue> process` with `messaging.destination.name` = exchange and
/// the captured headers as string arrays (`CapturedMessageHeadersUtil.java`). The DLQ here
/// is named plainly (`parking`): only the headers say it is a dead letter.
#[test]
fn java_agent_rabbit_with_captured_death_headers() {
    let java = |dest: &'static str, rk: &'static str, op: &'static str| {
        vec![
            ("messaging.system", V::S("rabbitmq")),
            ("messaging.destination.name", V::S(dest)),
            ("messaging.rabbitmq.destination.routing_key", V::S(rk)),
            ("messaging.operation", V::S(op)),
        ]
    };
    let mut s = Vec::new();
    for i in 1..=4u32 {
        let t0 = u64::from(i) * 100;
        s.push(
            SpanSpec::new("orders", At(i, 1), "orders publish", PRODUCER, (t0, t0 + 1))
                .attrs(&java("orders", "order.created", "publish")),
        );
        let mut c = SpanSpec::new(
            "stock",
            At(i, 2),
            "stock-reservations process",
            CONSUMER,
            (t0 + 3, t0 + 6),
        )
        .parent(At(i, 1))
        .attrs(&java("orders", "order.created", "process"));
        if i == 4 {
            c = c.error("java.lang.IllegalStateException: out of stock");
            s.push(c);
            s.push(
                SpanSpec::new("ops", At(i, 3), "parking process", CONSUMER, (t0 + 9, t0 + 10))
                    .parent(At(i, 1))
                    .attrs(&java("parking-lot", "order.created", "process"))
                    .attrs(&[
                        ("messaging.header.x_first_death_queue", V::A(&["stock-reservations"])),
                        ("messaging.header.x_first_death_reason", V::A(&["rejected"])),
                    ]),
            );
        } else {
            s.push(c);
        }
    }
    // Java's 3.0-preview names: `publish <ex>:<rk>`, `process <ex>:<rk>:<queue>`.
    s.push(
        SpanSpec::new("orders", At(9, 1), "publish orders:order.paid", PRODUCER, (950, 951)).attrs(
            &[
                ("messaging.system", V::S("rabbitmq")),
                ("messaging.destination.name", V::S("orders:order.paid")),
                ("messaging.rabbitmq.destination.routing_key", V::S("order.paid")),
                ("messaging.operation.type", V::S("send")),
            ],
        ),
    );
    s.push(
        SpanSpec::new("shipping", At(9, 2), "process orders:order.paid:ship", CONSUMER, (955, 960))
            .parent(At(9, 1))
            .link(At(9, 1), &[])
            .attrs(&[
                ("messaging.system", V::S("rabbitmq")),
                ("messaging.destination.name", V::S("orders:order.paid:ship")),
                ("messaging.rabbitmq.destination.routing_key", V::S("order.paid")),
                ("messaging.operation.type", V::S("process")),
            ]),
    );
    let a = analyze_spans("java_rabbit", &s);
    let stock = lag_row(&a, "orders:order.created", Some("stock-reservations"));
    assert_eq!((stock.consumed, stock.unconsumed, stock.dead_lettered), (4, 0, 1));
    let dead = a.flows.iter().find(|f| f.error_reason.is_some()).expect("a dead-lettered flow");
    assert_eq!(
        dead.error_reason.as_deref(),
        Some(
            "message to rabbitmq:orders:order.created dead-lettered in queue stock-reservations (rejected) to rabbitmq:parking-lot:order.created"
        )
    );
    let ship = lag_row(&a, "orders:order.paid", Some("ship"));
    assert_eq!((ship.consumed, ship.unconsumed), (1, 0));
    let h = hops(&a);
    assert!(h.iter().any(|x| x.1 == "shipping" && x.2 == "parent" && x.3 == "orders:order.paid"));
    assert_eq!(
        destinations(&a),
        [
            "rabbitmq:orders:order.created",
            "rabbitmq:orders:order.paid",
            "rabbitmq:parking-lot:order.created"
        ]
    );
}

/// pika (`opentelemetry-instrumentation-pika`, `utils.py`): `<exchange or routing key> send`
/// / `receive`, no routing-key attribute, no queue; `messaging.message.id` (new key) next to
/// old ones, on both sides when the publisher sets `message_id`. aio-pika (`span_builder.py`): `messaging.destination` = `"<exchange>,<routing
/// key>"` on the producer.
#[test]
fn pika_and_aio_pika() {
    let mut s = Vec::new();
    let pika = |dest: &'static str, op: Option<&'static str>| {
        let mut a = vec![
            ("messaging.system", V::S("rabbitmq")),
            ("messaging.destination", V::S(dest)),
            ("net.peer.name", V::S("localhost")),
            ("net.peer.port", V::I(5672)),
        ];
        match op {
            Some(op) => a.push(("messaging.operation", V::S(op))),
            // A Python `True`: a boolean attribute (seen in tests/tests/python_rabbitmq.rs).
            None => a.push(("messaging.temp_destination", V::B(true))),
        }
        a
    };
    // pika, default exchange: the routing key is the queue.
    s.push(
        SpanSpec::new("web", At(1, 1), "tasks send", PRODUCER, (0, 1))
            .attrs(&pika("tasks", None))
            .attrs(&[("messaging.message.id", V::S("job-1"))]),
    );
    s.push(
        SpanSpec::new("worker", At(1, 2), "tasks receive", CONSUMER, (4, 9))
            .parent(At(1, 1))
            .attrs(&pika("tasks", Some("receive")))
            .attrs(&[("messaging.message.id", V::S("job-1"))]),
    );
    // aio-pika, exchange `orders`, routing key `order.created`.
    s.push(
        SpanSpec::new("shop", At(2, 1), "orders,order.created send", PRODUCER, (10, 11))
            .attrs(&pika("orders,order.created", None))
            .attrs(&[("messaging.message.id", V::S("m-7"))]),
    );
    s.push(
        SpanSpec::new("invoicer", At(2, 2), "orders receive", CONSUMER, (15, 20))
            .parent(At(2, 1))
            .attrs(&pika("orders", Some("receive")))
            .attrs(&[("messaging.message.id", V::S("m-7"))]),
    );
    s.push(
        SpanSpec::new("shop", At(3, 1), "orders,order.cancelled send", PRODUCER, (30, 31))
            .attrs(&pika("orders,order.cancelled", None)),
    );
    let a = analyze_spans("pika", &s);
    assert_eq!(
        destinations(&a),
        ["rabbitmq:orders:order.cancelled", "rabbitmq:orders:order.created", "rabbitmq:tasks"]
    );
    let h = hops(&a);
    assert_eq!(h.len(), 2);
    assert!(
        h.iter().any(|x| x.1 == "invoicer" && x.3 == "orders:order.created" && x.4 == "invoicer")
    );
    assert_eq!(lag_row(&a, "orders:order.cancelled", None).status, LagStatus::NoConsumer);
    assert_eq!(lag_row(&a, "tasks", Some("worker")).unconsumed, 0);
    assert_eq!(a.flows.len(), 3);
}

/// MassTransit 8 (`DiagnosticHeaders.cs`, `ReceivePipeDispatcher.cs`): `<entity> send`,
/// `<queue> receive` (child through `MT-Activity-Id`), `<queue> process` under it; the
/// message id in `messaging.masstransit.message_id` on send and process.
#[test]
fn masstransit_send_receive_process() {
    let mt = |dest: &'static str, op: &'static str| {
        vec![
            ("messaging.system", V::S("rabbitmq")),
            ("messaging.destination.name", V::S(dest)),
            ("messaging.operation", V::S(op)),
            ("messaging.masstransit.message_id", V::S("0d000000-ab12-0000-0000-000000000001")),
        ]
    };
    let s = vec![
        SpanSpec::new("orders", At(1, 1), "POST /orders", SERVER, (0, 10)),
        SpanSpec::new("orders", At(1, 2), "Contracts:OrderSubmitted send", PRODUCER, (1, 3))
            .parent(At(1, 1))
            .attrs(&mt("Contracts:OrderSubmitted", "send"))
            .attrs(&[("messaging.rabbitmq.destination.routing_key", V::S(""))]),
        SpanSpec::new("billing", At(1, 3), "submit-order receive", CONSUMER, (6, 20))
            .parent(At(1, 2))
            .attrs(&mt("submit-order", "receive")),
        SpanSpec::new("billing", At(1, 4), "submit-order process", CONSUMER, (7, 19))
            .parent(At(1, 3))
            .attrs(&mt("submit-order", "process"))
            .attrs(&[("messaging.masstransit.consumer_type", V::S("SubmitOrderConsumer"))]),
        SpanSpec::new("billing", At(1, 5), "charge card", INTERNAL, (8, 18)).parent(At(1, 4)),
    ];
    let a = analyze_spans("masstransit", &s);
    let h = hops(&a);
    assert_eq!(h.len(), 1, "the process under its receive is one delivery: {h:?}");
    assert_eq!(h[0].3, "Contracts:OrderSubmitted");
    assert_eq!(h[0].4, "billing");
    assert_eq!(destinations(&a), ["rabbitmq:Contracts:OrderSubmitted"]);
    let row = lag_row(&a, "Contracts:OrderSubmitted", Some("billing"));
    assert_eq!((row.consumed, row.unconsumed), (1, 0));
    assert_eq!(a.flows[0].status, FlowStatus::Ok);
}
