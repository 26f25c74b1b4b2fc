//! Kafka conventions: topics, partitions and offsets, consumer groups, receive vs process,
//! batch consumers with links, as the Java agent (kafka-clients, spring-kafka), kafkajs,
//! Confluent.Kafka, franz-go kotel, sarama and watermill write them. Each fixture names the
//! instrumentation and version it imitates.

mod conventions_support;

use conventions_support::{
    At, CLIENT, CONSUMER, PRODUCER, SERVER, SpanSpec, V, analyze_spans, destinations, edges, hops,
    lag_row,
};
use hopscope_collector::analysis::{FlowStatus, InsightKind, LagStatus};

/// opentelemetry-java-instrumentation 2.31 (`KafkaInstrumenterFactory.java`,
/// `KafkaProducerAttributesExtractor.java`), default ("old") names: `<topic> publish`
/// PRODUCER with partition and offset at span end, `<topic> process` CONSUMER child of the
/// producer (receive telemetry off), group in `messaging.kafka.consumer.group`. Two groups
/// read `orders`; `audit` is produced to and never read.
#[test]
fn java_agent_kafka_clients_default_names() {
    let mut s = Vec::new();
    let publish = |topic: &'static str, p: &'static str, o: i64| {
        vec![
            ("messaging.system", V::S("kafka")),
            ("messaging.destination.name", V::S(topic)),
            ("messaging.operation", V::S("publish")),
            ("messaging.destination.partition.id", V::S(p)),
            ("messaging.kafka.message.offset", V::I(o)),
            ("messaging.client_id", V::S("producer-1")),
        ]
    };
    let process = |group: &'static str, o: i64| {
        vec![
            ("messaging.system", V::S("kafka")),
            ("messaging.destination.name", V::S("orders")),
            ("messaging.operation", V::S("process")),
            ("messaging.destination.partition.id", V::S("0")),
            ("messaging.kafka.message.offset", V::I(o)),
            ("messaging.kafka.consumer.group", V::S(group)),
        ]
    };
    for i in 1..=4u32 {
        let t0 = u64::from(i) * 100;
        let o = i64::from(i) + 40;
        s.push(SpanSpec::new("checkout", At(i, 1), "POST /checkout", SERVER, (t0, t0 + 20)));
        s.push(
            SpanSpec::new("checkout", At(i, 2), "orders publish", PRODUCER, (t0 + 2, t0 + 4))
                .parent(At(i, 1))
                .attrs(&publish("orders", "0", o)),
        );
        s.push(
            SpanSpec::new("billing", At(i, 3), "orders process", CONSUMER, (t0 + 6, t0 + 9))
                .parent(At(i, 2))
                .attrs(&process("billing", o)),
        );
        // The `fulfilment` group's spans lost their context (a proxy stripped the headers):
        // matched on (topic, partition, offset).
        s.push(
            SpanSpec::new(
                "fulfilment",
                At(100 + i, 1),
                "orders process",
                CONSUMER,
                (t0 + 30, t0 + 35),
            )
            .attrs(&process("fulfilment", o)),
        );
        s.push(
            SpanSpec::new("checkout", At(i, 4), "audit publish", PRODUCER, (t0 + 5, t0 + 6))
                .parent(At(i, 1))
                .attrs(&publish("audit", "1", o)),
        );
    }
    let a = analyze_spans("java_kafka", &s);
    assert_eq!(destinations(&a), ["kafka:audit", "kafka:orders"]);
    let h = hops(&a);
    assert_eq!(h.iter().filter(|x| x.2 == "parent" && x.4 == "billing").count(), 4);
    assert_eq!(h.iter().filter(|x| x.2 == "offset" && x.4 == "fulfilment").count(), 4);
    assert_eq!(a.flows.len(), 4, "the offset hops join the checkout flows");
    assert!(a.flows.iter().all(|f| f.status == FlowStatus::Ok));
    for group in ["billing", "fulfilment"] {
        let row = lag_row(&a, "orders", Some(group));
        assert_eq!((row.consumed, row.unconsumed), (4, 0), "{group}");
    }
    assert_eq!(lag_row(&a, "audit", None).status, LagStatus::NoConsumer);
    assert!(edges(&a).contains(&("kafka:orders".into(), "fulfilment".into(), "consume")));
}

/// The Java agent's 3.0-preview names (`otel.semconv-stability.opt-in=messaging`):
/// `send <topic>`, a `poll <topic>` CLIENT span linking every record (link attributes carry
/// `messaging.kafka.offset`), and spring-kafka's batch listener `process <topic>` linking
/// each record's producer. Three requests, one batch: three flows, never merged.
#[test]
fn java_agent_v1_poll_and_spring_kafka_batch_links() {
    let mut s = Vec::new();
    let mut batch = SpanSpec::new("ledger", At(50, 2), "process payments", CONSUMER, (520, 560))
        .parent(At(50, 1))
        .attrs(&[
            ("messaging.system", V::S("kafka")),
            ("messaging.destination.name", V::S("payments")),
            ("messaging.operation.type", V::S("process")),
            ("messaging.consumer.group.name", V::S("ledger")),
            ("messaging.batch.message_count", V::I(3)),
        ]);
    let mut poll =
        SpanSpec::new("ledger", At(50, 1), "poll payments", CLIENT, (500, 510)).attrs(&[
            ("messaging.system", V::S("kafka")),
            ("messaging.destination.name", V::S("payments")),
            ("messaging.operation.type", V::S("receive")),
            ("messaging.operation.name", V::S("poll")),
            ("messaging.consumer.group.name", V::S("ledger")),
            ("messaging.batch.message_count", V::I(3)),
        ]);
    for i in 1..=3u32 {
        let t0 = u64::from(i) * 100;
        s.push(SpanSpec::new("payments", At(i, 1), "POST /pay", SERVER, (t0, t0 + 10)));
        s.push(
            SpanSpec::new("payments", At(i, 2), "send payments", PRODUCER, (t0 + 2, t0 + 4))
                .parent(At(i, 1))
                .attrs(&[
                    ("messaging.system", V::S("kafka")),
                    ("messaging.destination.name", V::S("payments")),
                    ("messaging.operation.type", V::S("send")),
                    ("messaging.operation.name", V::S("send")),
                    ("messaging.destination.partition.id", V::S("2")),
                    ("messaging.kafka.offset", V::I(i64::from(i) + 900)),
                ]),
        );
        poll = poll.link(At(i, 2), &[("messaging.kafka.offset", V::I(i64::from(i) + 900))]);
        batch = batch.link(At(i, 2), &[]);
    }
    s.push(poll);
    s.push(batch);
    let a = analyze_spans("java_kafka_v1", &s);
    assert_eq!(a.flows.len(), 3, "a batch consumer never merges unrelated flows");
    for f in &a.flows {
        assert!(f.traces.len() == 2, "each flow holds the batch trace: {:?}", f.traces);
    }
    let h = hops(&a);
    assert_eq!(h.len(), 3, "the process under its poll folds into one delivery each: {h:?}");
    assert!(h.iter().all(|x| x.2 == "link" && x.4 == "ledger"));
    let row = lag_row(&a, "payments", Some("ledger"));
    assert_eq!((row.consumed, row.unconsumed), (3, 0));
}

/// kafkajs: `@opentelemetry/instrumentation-kafkajs` ≥0.9 (`send <topic>` / `process
/// <topic>` child of the producer, `messaging.kafka.offset` as a string, no group), and
/// before 0.9 (Aspecto's): the span name is the topic, `messaging.destination` the topic.
#[test]
fn kafkajs_current_and_before_0_9() {
    let s = vec![
        SpanSpec::new("web", At(1, 1), "send clicks", PRODUCER, (0, 2)).attrs(&[
            ("messaging.system", V::S("kafka")),
            ("messaging.destination.name", V::S("clicks")),
            ("messaging.operation.type", V::S("send")),
            ("messaging.operation.name", V::S("send")),
        ]),
        SpanSpec::new("stats", At(1, 2), "process clicks", CONSUMER, (5, 9))
            .parent(At(1, 1))
            .attrs(&[
                ("messaging.system", V::S("kafka")),
                ("messaging.destination.name", V::S("clicks")),
                ("messaging.operation.type", V::S("process")),
                ("messaging.destination.partition.id", V::S("0")),
                ("messaging.kafka.offset", V::S("17")),
            ]),
        SpanSpec::new("web", At(2, 1), "signups", PRODUCER, (20, 21)).attrs(&[
            ("messaging.system", V::S("kafka")),
            ("messaging.destination", V::S("signups")),
        ]),
        SpanSpec::new("crm", At(2, 2), "signups", CONSUMER, (25, 30)).parent(At(2, 1)).attrs(&[
            ("messaging.system", V::S("kafka")),
            ("messaging.destination", V::S("signups")),
            ("messaging.operation", V::S("process")),
        ]),
    ];
    let a = analyze_spans("kafkajs", &s);
    assert_eq!(destinations(&a), ["kafka:clicks", "kafka:signups"]);
    let h = hops(&a);
    assert_eq!(h.len(), 2);
    assert!(h.iter().all(|x| x.2 == "parent"));
    assert_eq!(lag_row(&a, "clicks", Some("stats")).unconsumed, 0, "group: the service");
    assert_eq!(lag_row(&a, "signups", Some("crm")).consumed, 1);
}

/// .NET `OpenTelemetry.Instrumentation.ConfluentKafka` (`ConfluentKafkaCommon.cs`, semconv
/// 1.43): `send <topic>` PRODUCER, `poll <topic>` CLIENT with the group and offset and a link
/// to the producer. franz-go `kotel` (`plugin/kotel/tracer.go`, semconv 1.18): `<topic>
/// publish`, `<topic> receive` with the topic in `messaging.source.name` and the group in
/// `messaging.kafka.consumer.group`, child of the producer.
#[test]
fn confluent_dotnet_and_franz_go_kotel() {
    let s = vec![
        SpanSpec::new("orders-api", At(1, 1), "send orders", PRODUCER, (0, 3)).attrs(&[
            ("messaging.system", V::S("kafka")),
            ("messaging.destination.name", V::S("orders")),
            ("messaging.operation.type", V::S("send")),
            ("messaging.operation.name", V::S("send")),
            ("messaging.client.id", V::S("rdkafka#producer-1")),
        ]),
        SpanSpec::new("shipping", At(2, 1), "poll orders", CLIENT, (8, 9))
            .link(At(1, 1), &[])
            .attrs(&[
                ("messaging.system", V::S("kafka")),
                ("messaging.destination.name", V::S("orders")),
                ("messaging.operation.type", V::S("receive")),
                ("messaging.operation.name", V::S("poll")),
                ("messaging.consumer.group.name", V::S("shipping-svc")),
                ("messaging.destination.partition.id", V::S("1")),
                ("messaging.kafka.offset", V::I(12)),
            ]),
        SpanSpec::new("ingest", At(3, 1), "metrics publish", PRODUCER, (20, 22)).attrs(&[
            ("messaging.system", V::S("kafka")),
            ("messaging.destination.kind", V::S("topic")),
            ("messaging.destination.name", V::S("metrics")),
            ("messaging.operation", V::S("publish")),
            ("messaging.kafka.client_id", V::S("kgo")),
            ("messaging.kafka.destination.partition", V::I(0)),
            ("messaging.kafka.message.offset", V::I(300)),
        ]),
        SpanSpec::new("rollup", At(3, 2), "metrics receive", CONSUMER, (25, 26))
            .parent(At(3, 1))
            .attrs(&[
                ("messaging.system", V::S("kafka")),
                ("messaging.source.kind", V::S("topic")),
                ("messaging.source.name", V::S("metrics")),
                ("messaging.operation", V::S("receive")),
                ("messaging.kafka.source.partition", V::I(0)),
                ("messaging.kafka.message.offset", V::I(300)),
                ("messaging.kafka.consumer.group", V::S("rollups")),
            ]),
    ];
    let a = analyze_spans("confluent_kotel", &s);
    assert_eq!(destinations(&a), ["kafka:metrics", "kafka:orders"]);
    let h = hops(&a);
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(h.iter().any(|x| x.1 == "shipping" && x.2 == "link" && x.4 == "shipping-svc"));
    assert!(
        h.iter()
            .any(|x| x.1 == "rollup" && x.2 == "parent" && x.3 == "metrics" && x.4 == "rollups")
    );
    assert_eq!(lag_row(&a, "metrics", Some("rollups")).unconsumed, 0);
    assert_eq!(a.flows.len(), 2);
}

/// otelsarama (opentelemetry-go-contrib, `producer.go` semconv 1.12 / `dispatcher.go` 1.17):
/// the offset is the message id on both sides (`messaging.message_id` then
/// `messaging.message.id`); here the consumer lost the context: matched on the id. Watermill
/// (voi-oss/watermill-opentelemetry) propagates nothing: its consumer is an orphan, still
/// drawn in the graph. One order is redelivered to the sarama consumer: a duplicate.
#[test]
fn sarama_offset_ids_and_watermill_orphans() {
    let s = vec![
        SpanSpec::new("orders", At(1, 1), "orders send", PRODUCER, (0, 2)).attrs(&[
            ("messaging.system", V::S("kafka")),
            ("messaging.destination_kind", V::S("topic")),
            ("messaging.destination", V::S("orders")),
            ("messaging.operation", V::S("send")),
            ("messaging.message_id", V::S("77")),
            ("messaging.kafka.partition", V::I(3)),
        ]),
        SpanSpec::new("invoicing", At(2, 1), "orders receive", CONSUMER, (5, 8)).attrs(&[
            ("messaging.system", V::S("kafka")),
            ("messaging.destination.kind", V::S("topic")),
            ("messaging.destination.name", V::S("orders")),
            ("messaging.operation", V::S("receive")),
            ("messaging.message.id", V::S("77")),
            ("messaging.kafka.source.partition", V::I(3)),
        ]),
        SpanSpec::new("invoicing", At(3, 1), "orders receive", CONSUMER, (900, 905)).attrs(&[
            ("messaging.system", V::S("kafka")),
            ("messaging.destination.name", V::S("orders")),
            ("messaging.operation", V::S("receive")),
            ("messaging.message.id", V::S("77")),
            ("messaging.kafka.source.partition", V::I(3)),
        ]),
        SpanSpec::new("notifier", At(4, 1), "kafka.Publisher", PRODUCER, (30, 31)).attrs(&[
            ("messaging.destination_kind", V::S("topic")),
            ("messaging.destination", V::S("alerts")),
            ("messaging.operation", V::S("process")),
        ]),
        SpanSpec::new("pager", At(5, 1), "alerts_handler", CONSUMER, (40, 41)).attrs(&[
            ("messaging.destination_kind", V::S("topic")),
            ("messaging.destination", V::S("alerts")),
            ("messaging.operation", V::S("receive")),
        ]),
    ];
    let a = analyze_spans("sarama_watermill", &s);
    let h = hops(&a);
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(h.iter().all(|x| x.3 == "orders" && x.4 == "invoicing"));
    assert!(h.iter().all(|x| x.2 == "offset" || x.2 == "message_id"));
    assert_eq!(a.insights.iter().filter(|i| i.kind == InsightKind::DuplicateDelivery).count(), 1);
    // watermill: no propagation, no hop; the consumer still shows as consuming `alerts`.
    assert!(edges(&a).contains(&("unknown:alerts".into(), "pager".into(), "consume")));
    assert!(destinations(&a).contains(&"unknown:alerts".to_owned()));
}
