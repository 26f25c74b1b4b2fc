//! `hopscope catalog` end to end: three services instrumented with the real OpenTelemetry SDK
//! send a CloudEvents chain `OrderPlaced` → `PaymentCaptured` → `ShipmentScheduled` over
//! Kafka (two versions of `OrderPlaced` in flight) through the real OTLP/gRPC exporter into
//! `hopscope serve --record`; the catalog of that recording has one entry per event, the
//! versions, the command and the policy chain; its AsyncAPI document is valid for the official
//! parser (`@asyncapi/parser`, in `tests/asyncapi`); it reads stdin and writes `--out`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use hopscope_tests::systems::validate_asyncapi;
use hopscope_tests::{Serve, hopscope_bin};
use opentelemetry::trace::{
    Link, SpanContext, SpanKind, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use serde_json::Value;

/// Orders placed; the second is `OrderPlaced` v2, the others v1.
const ORDERS: usize = 4;

/// A tracer provider for `service`, exporting OTLP/gRPC to `serve`.
fn provider(serve: &Serve, service: &str) -> SdkTracerProvider {
    let exporter = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(serve.grpc_endpoint())
        .build()
        .expect("the OTLP span exporter");
    SdkTracerProvider::builder()
        .with_resource(Resource::builder_empty().with_service_name(service.to_owned()).build())
        .with_batch_exporter(exporter)
        .build()
}

/// A Kafka CloudEvents message's attributes (binary content mode: the type is an attribute).
fn kafka(topic: &str, ce_type: &str, op: &str, i: usize) -> Vec<KeyValue> {
    let mut a = vec![
        KeyValue::new("messaging.system", "kafka"),
        KeyValue::new("messaging.destination.name", topic.to_owned()),
        KeyValue::new("messaging.operation.type", op.to_owned()),
        KeyValue::new("cloudevents.event_type", ce_type.to_owned()),
        KeyValue::new("cloudevents.event_spec_version", "1.0"),
        KeyValue::new("cloudevents.event_id", format!("{topic}-{i}")),
    ];
    if op == "process" {
        a.push(KeyValue::new("messaging.consumer.group.name", topic.to_owned() + "-readers"));
    }
    a
}

/// Sends the producer span `name` to `topic` under `cx` and returns its context.
fn produce(tracer: &SdkTracer, cx: &Context, topic: &str, ce_type: &str, i: usize) -> SpanContext {
    let span = tracer
        .span_builder(format!("{topic} publish"))
        .with_kind(SpanKind::Producer)
        .with_attributes(kafka(topic, ce_type, "send", i))
        .start_with_context(tracer, cx);
    let sc = opentelemetry::trace::Span::span_context(&span).clone();
    drop(span);
    sc
}

/// Consumes `from` (a new trace linked to the producer) in a handler `handler`, which emits
/// `next` on `topic`; returns the new producer's context.
fn handle(
    tracer: &SdkTracer,
    from: &SpanContext,
    consumed: (&str, &str),
    handler: &str,
    next: Option<(&str, &str)>,
    i: usize,
) -> Option<SpanContext> {
    let consumer = tracer
        .span_builder(format!("{} process", consumed.0))
        .with_kind(SpanKind::Consumer)
        .with_attributes(kafka(consumed.0, consumed.1, "process", i))
        .with_links(vec![Link::with_context(from.clone())])
        .start_with_context(tracer, &Context::new());
    let cx = Context::current_with_span(consumer);
    let work = tracer.span_builder(handler.to_owned()).start_with_context(tracer, &cx);
    let cx = cx.with_span(work);
    next.map(|(topic, ce_type)| produce(tracer, &cx, topic, ce_type, i))
}

/// The chain, sent through the SDK into `serve`; returns how many spans were sent.
fn send_order_chain(serve: &Serve) -> u64 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let _guard = rt.enter();
    let (shop, payments, shipping, mailer) = (
        provider(serve, "shop"),
        provider(serve, "payments"),
        provider(serve, "shipping"),
        provider(serve, "mailer"),
    );
    let (t_shop, t_pay, t_ship, t_mail) = (
        shop.tracer("shop"),
        payments.tracer("payments"),
        shipping.tracer("shipping"),
        mailer.tracer("mailer"),
    );
    for i in 0..ORDERS {
        let placed = if i == 1 { "com.shop.OrderPlaced.v2" } else { "com.shop.OrderPlaced.v1" };
        let root = t_shop
            .span_builder("POST /orders")
            .with_kind(SpanKind::Server)
            .with_attributes([KeyValue::new("http.request.method", "POST")])
            .start(&t_shop);
        let cx = Context::current_with_span(root);
        let order = produce(&t_shop, &cx, "orders", placed, i);
        drop(cx);
        let captured = ("payments", "com.shop.PaymentCaptured.v1");
        let payment =
            handle(&t_pay, &order, ("orders", placed), "capture payment", Some(captured), i)
                .expect("a payment");
        let scheduled = ("shipments", "com.shop.ShipmentScheduled.v1");
        let shipment = handle(&t_ship, &payment, captured, "schedule shipment", Some(scheduled), i)
            .expect("a shipment");
        handle(&t_mail, &shipment, scheduled, "send tracking mail", None, i);
    }
    for p in [&shop, &payments, &shipping, &mailer] {
        p.force_flush().expect("the OTLP exporter flushes");
        p.shutdown().expect("the provider shuts down");
    }
    // Per order: root, producer; 3 × (consumer, handler) and 2 producers.
    (ORDERS * 10) as u64
}

/// A recording of the chain, made through `serve --record`.
fn order_chain_recording(dir: &Path) -> PathBuf {
    let path = dir.join("orders.jsonl");
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 temp path")]);
    let n = send_order_chain(&serve);
    serve.wait_for_stats(|s| s.stored == n, Duration::from_secs(20));
    let status = serve.stop();
    assert!(status.success(), "{status}: {:?}", serve.stderr_lines());
    path
}

/// `hopscope catalog <args>`, with `stdin` fed when given.
fn catalog(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(hopscope_bin());
    cmd.arg("catalog").args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("hopscope runs");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(bytes).expect("stdin written");
    }
    child.wait_with_output().expect("hopscope ends")
}

fn event<'a>(events: &'a [Value], name: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no event {name} in {events:#?}"))
}

#[test]
fn sdk_cloudevents_chain_catalog_has_versions_policies_and_valid_asyncapi() {
    let dir = tempfile::tempdir().expect("temp dir");
    let recording = order_chain_recording(dir.path());
    let out = catalog(&[recording.to_str().expect("UTF-8"), "--format", "json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["schema"], "hopscope.catalog/v1");
    let events = doc["events"].as_array().expect("events");
    let names: Vec<&str> = events.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(
        names,
        ["com.shop.OrderPlaced", "com.shop.PaymentCaptured", "com.shop.ShipmentScheduled"]
    );
    let placed = event(events, "com.shop.OrderPlaced");
    assert_eq!(placed["versions"], serde_json::json!(["v1", "v2"]));
    assert_eq!(placed["count"], ORDERS);
    assert_eq!(placed["system"], "kafka");
    assert_eq!(placed["destinations"], serde_json::json!(["orders"]));
    assert_eq!(
        placed["producers"],
        serde_json::json!([{ "service": "shop", "command": "POST /orders", "trigger": null, "count": ORDERS }])
    );
    assert_eq!(placed["consumers"][0]["service"], "payments");
    assert_eq!(placed["consumers"][0]["subscription"], "orders-readers");
    assert_eq!(placed["consumers"][0]["count"], ORDERS);
    // The policy chain: each next event emitted while handling the one before.
    let captured = event(events, "com.shop.PaymentCaptured");
    assert_eq!(captured["versions"], serde_json::json!(["v1"]));
    assert_eq!(captured["producers"][0]["service"], "payments");
    assert_eq!(captured["producers"][0]["command"], "capture payment");
    assert_eq!(captured["producers"][0]["trigger"], "com.shop.OrderPlaced");
    let scheduled = event(events, "com.shop.ShipmentScheduled");
    assert_eq!(scheduled["producers"][0]["trigger"], "com.shop.PaymentCaptured");
    assert_eq!(scheduled["consumers"][0]["service"], "mailer");

    // The same recording from stdin, as AsyncAPI into --out: valid for the official parser.
    let bytes = std::fs::read(&recording).expect("recording");
    let asyncapi = dir.path().join("asyncapi.json");
    let out = catalog(
        &["-", "--format", "asyncapi", "--out", asyncapi.to_str().expect("UTF-8")],
        Some(&bytes),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote 3 events (asyncapi)"));
    let (valid, said) = validate_asyncapi(&asyncapi);
    assert!(valid, "{said}");
    assert!(said.contains("valid: AsyncAPI 3.0.0, 3 channels"), "{said}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&asyncapi).expect("doc")).expect("json");
    let message = &doc["components"]["messages"]["kafka_com.shop.OrderPlaced"];
    assert_eq!(message["x-hopscope-versions"], serde_json::json!(["v1", "v2"]));
    let ops = doc["operations"].as_object().expect("operations");
    assert_eq!(ops["shop.send.kafka_orders"]["action"], "send");
    assert_eq!(ops["payments.receive.kafka_orders"]["action"], "receive");
    assert_eq!(ops["payments.send.kafka_payments"]["action"], "send");

    // Markdown, the default, names the policy.
    let out = catalog(&[recording.to_str().expect("UTF-8")], None);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("## `com.shop.PaymentCaptured`"), "{md}");
    assert!(md.contains("policy: on `com.shop.OrderPlaced`, in `capture payment`"), "{md}");
}

/// The parser the tests lean on does reject what is not AsyncAPI 3.0: an operation without
/// its `action`, a reference to a channel that does not exist.
#[test]
fn the_official_parser_rejects_a_broken_document() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = dir.path().join("broken.json");
    let doc = serde_json::json!({
        "asyncapi": "3.0.0",
        "info": { "title": "broken", "version": "1" },
        "channels": { "orders": { "address": "orders" } },
        "operations": { "send": { "channel": { "$ref": "#/channels/nowhere" } } },
    });
    std::fs::write(&broken, doc.to_string()).expect("write");
    let (valid, said) = validate_asyncapi(&broken);
    assert!(!valid, "{said}");
    assert!(said.contains("error"), "{said}");
}

#[test]
fn unreadable_input_exits_2_and_says_why() {
    let out = catalog(&["-", "--format", "mermaid"], Some(b"not a recording\n"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing to catalogue"), "{err}");
    let out = catalog(&["x.jsonl", "--format", "yaml"], None);
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown format");
}
