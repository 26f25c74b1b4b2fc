//! `hopscope analyze` over what real `opentelemetry-otlp` exporters sent to `hopscope serve
//! --record`: five "services" (one `SdkTracerProvider` each, with its own `service.name`),
//! exporting over gRPC and HTTP/protobuf, make one request that crosses a sync call and three
//! asynchronous hops of three kinds (a link, a consumer under its producer, a message id
//! alone). The analysis links it all into one flow.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use hopscope_collector::analysis::{
    Analysis, EdgeKind, FlowStatus, HopVia, LagStatus, NodeKind, SCHEMA,
};
use hopscope_tests::{Serve, hopscope_bin};
use opentelemetry::trace::{
    Link, Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// A multi-threaded runtime for tonic exporters; they must be built inside it.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// One "service": its own provider and resource, exporting over gRPC or HTTP/protobuf.
fn service(serve: &Serve, name: &str, http: bool) -> SdkTracerProvider {
    let exporter = if http {
        SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(serve.http_url("/v1/traces"))
            .build()
    } else {
        SpanExporter::builder().with_tonic().with_endpoint(serve.grpc_endpoint()).build()
    };
    SdkTracerProvider::builder()
        .with_resource(Resource::builder_empty().with_service_name(name.to_owned()).build())
        .with_batch_exporter(exporter.expect("cannot build the OTLP span exporter"))
        .build()
}

fn pause() {
    std::thread::sleep(Duration::from_millis(3));
}

fn rabbitmq(destination: &str, operation: &str) -> Vec<KeyValue> {
    vec![
        KeyValue::new("messaging.system", "rabbitmq"),
        KeyValue::new("messaging.destination.name", destination.to_owned()),
        KeyValue::new("messaging.operation.type", operation.to_owned()),
    ]
}

/// Spans made by [`checkout`].
const SPANS: u64 = 9;

/// frontend `POST /checkout` → (call) orders `POST /orders` → orders publishes `orders`
/// (message `order-7`) → billing consumes it in a new trace linking the producer; shipping
/// consumes it as a child of the producer (same trace) and publishes `shipments`
/// (message `ship-7`) → email consumes that in a new trace, matched on the message id only.
fn checkout(providers: &[SdkTracerProvider; 5]) {
    let [frontend, orders, billing, shipping, email] =
        providers.each_ref().map(|p| p.tracer("hopscope-e2e"));

    let root = frontend.span_builder("POST /checkout").with_kind(SpanKind::Server).start(&frontend);
    let root_cx = Context::current_with_span(root);
    let call = frontend
        .span_builder("POST /orders")
        .with_kind(SpanKind::Client)
        .start_with_context(&frontend, &root_cx);
    let call_cx = root_cx.with_span(call);
    let server = orders
        .span_builder("POST /orders")
        .with_kind(SpanKind::Server)
        .start_with_context(&orders, &call_cx);
    let server_cx = call_cx.with_span(server);
    let mut attrs = rabbitmq("orders", "publish");
    attrs.push(KeyValue::new("messaging.message.id", "order-7"));
    let mut publish = orders
        .span_builder("orders publish")
        .with_kind(SpanKind::Producer)
        .with_attributes(attrs)
        .start_with_context(&orders, &server_cx);
    let published = publish.span_context().clone();
    pause();
    publish.end();
    let publish_cx = server_cx.with_remote_span_context(published.clone());
    server_cx.span().end();
    call_cx.span().end();
    root_cx.span().end();
    pause();

    // billing: a new trace, linking the producer.
    let mut attrs = rabbitmq("orders", "process");
    attrs.push(KeyValue::new("messaging.consumer.group.name", "billing"));
    let mut consume = billing
        .span_builder("orders process")
        .with_kind(SpanKind::Consumer)
        .with_attributes(attrs)
        .with_links(vec![Link::with_context(published)])
        .start_with_context(&billing, &Context::new());
    pause();
    consume.end();

    // shipping: the consumer is a child of the producer, and publishes in turn.
    let process = shipping
        .span_builder("orders process")
        .with_kind(SpanKind::Consumer)
        .with_attributes(rabbitmq("orders", "process"))
        .start_with_context(&shipping, &publish_cx);
    let process_cx = publish_cx.with_span(process);
    let mut attrs = rabbitmq("shipments", "publish");
    attrs.push(KeyValue::new("messaging.message.id", "ship-7"));
    let mut publish = shipping
        .span_builder("shipments publish")
        .with_kind(SpanKind::Producer)
        .with_attributes(attrs)
        .start_with_context(&shipping, &process_cx);
    pause();
    publish.end();
    process_cx.span().end();
    pause();

    // email: a new trace, no link; the message id is all it has.
    let mut attrs = rabbitmq("shipments", "process");
    attrs.push(KeyValue::new("messaging.message.id", "ship-7"));
    let consume = email
        .span_builder("shipments process")
        .with_kind(SpanKind::Consumer)
        .with_attributes(attrs)
        .start_with_context(&email, &Context::new());
    let consume_cx = Context::new().with_span(consume);
    let mut send = email
        .span_builder("POST /mail")
        .with_kind(SpanKind::Client)
        .start_with_context(&email, &consume_cx);
    send.set_status(Status::Ok);
    pause();
    send.end();
    consume_cx.span().end();
}

/// Records [`checkout`] through real exporters into `path`.
fn record(path: &Path) {
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 temp path")]);
    {
        let rt = runtime();
        let _guard = rt.enter();
        let providers = [
            service(&serve, "frontend", false),
            service(&serve, "orders", false),
            service(&serve, "billing", true),
            service(&serve, "shipping", false),
            service(&serve, "email", true),
        ];
        checkout(&providers);
        for p in &providers {
            p.force_flush().expect("an OTLP exporter failed to flush");
            p.shutdown().expect("a tracer provider failed to shut down");
        }
    }
    serve.wait_for_stats(|s| s.stored == SPANS, Duration::from_secs(10));
    let status = serve.stop();
    assert!(status.success(), "{status}: {:?}", serve.stderr_lines());
}

fn analyze(args: &[&str]) -> Output {
    let mut cmd = Command::new(hopscope_bin());
    cmd.arg("analyze").args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("HOPSCOPE_")) {
            cmd.env_remove(key);
        }
    }
    cmd.output().expect("cannot run hopscope analyze")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn analyze_links_what_real_exporters_recorded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("checkout.jsonl");
    record(&path);
    let file = path.to_str().expect("UTF-8 path");

    let out = analyze(&[file, "--format", "json"]);
    assert!(out.status.success(), "{}: {}", out.status, stderr(&out));
    let a: Analysis = serde_json::from_slice(&out.stdout).expect("analyze --format json");
    assert_eq!(a.schema, SCHEMA);
    assert_eq!(a.summary.spans, SPANS);
    assert_eq!((a.summary.traces, a.summary.flows, a.summary.hops), (3, 1, 3), "{:#?}", a.flows);

    let flow = &a.flows[0];
    assert_eq!((&*flow.root.service, &*flow.root.name), ("frontend", "POST /checkout"));
    assert_eq!(flow.traces.len(), 3);
    assert_eq!(flow.services, ["billing", "email", "frontend", "orders", "shipping"]);
    assert_eq!((flow.span_count, flow.hop_count), (SPANS, 3));
    assert_eq!(flow.status, FlowStatus::Ok);
    assert!(flow.settled_after_ns > 0, "consumers finish after the caller returned");

    let hop = |consumer: &str| {
        a.hops
            .iter()
            .find(|h| h.consumer.service == consumer)
            .unwrap_or_else(|| panic!("no hop into {consumer}: {:#?}", a.hops))
    };
    assert_eq!(hop("billing").via, HopVia::Link);
    assert_eq!(hop("shipping").via, HopVia::Parent);
    assert_eq!(hop("email").via, HopVia::MessageId);
    assert_eq!(hop("email").producer.service, "shipping");
    assert!(a.hops.iter().all(|h| h.system == "rabbitmq" && !h.skew));

    let edge = |from: &str, to: &str, kind: EdgeKind| {
        a.graph.edges.iter().any(|e| e.from == from && e.to == to && e.kind == kind)
    };
    assert!(edge("frontend", "orders", EdgeKind::Call), "{:#?}", a.graph.edges);
    assert!(edge("orders", "rabbitmq:orders", EdgeKind::Emit));
    assert!(edge("rabbitmq:orders", "billing", EdgeKind::Consume));
    assert!(edge("shipping", "rabbitmq:shipments", EdgeKind::Emit));
    assert!(edge("rabbitmq:shipments", "email", EdgeKind::Consume));
    assert!(
        a.graph.nodes.iter().any(|n| n.id == "rabbitmq:orders" && n.kind == NodeKind::Destination)
    );

    let groups: Vec<&str> = a.lag.iter().filter_map(|l| l.consumer_group.as_deref()).collect();
    assert_eq!(groups, ["billing", "shipping", "email"]);
    assert!(a.lag.iter().all(|l| l.status == LagStatus::Ok && l.unconsumed == 0), "{:#?}", a.lag);

    // The text report tells the same story.
    let out = analyze(&[file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 flow,"), "{text}");
    assert!(text.contains("frontend POST /checkout"), "{text}");
    assert!(text.contains("→ rabbitmq:shipments → email (shipments process)"), "{text}");

    // --fail-on: nothing stuck, no error; but every queue time is over a nanosecond.
    let out = analyze(&[file, "--fail-on", "stuck,errors"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = analyze(&[file, "--fail-on", "lag>1ns", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--fail-on lag>"), "{}", stderr(&out));
}

#[test]
fn analyze_exits_2_on_unusable_input_and_names_the_bad_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    let out = analyze(&[empty.to_str().expect("UTF-8 path")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing to analyse"), "{}", stderr(&out));
    assert!(stderr(&out).contains("empty.jsonl: empty file"), "{}", stderr(&out));

    let corrupt = dir.path().join("corrupt.jsonl");
    std::fs::write(&corrupt, "{\"resourceSpans\": [oops\nnot json either\n").expect("write");
    let out = analyze(&[corrupt.to_str().expect("UTF-8 path")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("corrupt.jsonl:1"), "{}", stderr(&out));

    let missing = dir.path().join("missing.jsonl");
    let out = analyze(&[missing.to_str().expect("UTF-8 path")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
