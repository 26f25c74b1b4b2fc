//! The real `opentelemetry-otlp` exporters (tonic gRPC, with and without gzip; HTTP/protobuf
//! with and without gzip) against a spawned `hopscope serve --record FILE`: the recording
//! holds exactly the spans the SDK finished, field for field, and nothing else; logs and
//! metrics are accepted on both transports.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hopscope_tests::{RecordedSpan, Serve, hex, read_recording};
use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    Link, Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Array, Context, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_otlp::{
    Compression, LogExporter, MetricExporter, Protocol, SpanExporter, WithExportConfig as _,
    WithHttpConfig as _, WithTonicConfig as _,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

const SERVICE: &str = "checkout";
const SCOPE: &str = "hopscope-tests";
/// Extra child spans under the root, besides the hand-made ones.
const WORKERS: usize = 40;

fn resource() -> Resource {
    Resource::builder_empty()
        .with_service_name(SERVICE)
        .with_attribute(KeyValue::new("deployment.environment.name", "test"))
        .build()
}

/// How spans travel to the server.
#[derive(Debug, Clone, Copy)]
enum Transport {
    Grpc { gzip: bool },
    Http { gzip: bool },
}

fn compression(gzip: bool) -> Option<Compression> {
    gzip.then_some(Compression::Gzip)
}

fn span_exporter(serve: &Serve, transport: Transport) -> SpanExporter {
    let built = match transport {
        Transport::Grpc { gzip } => {
            let b = SpanExporter::builder().with_tonic().with_endpoint(serve.grpc_endpoint());
            match compression(gzip) {
                Some(c) => b.with_compression(c).build(),
                None => b.build(),
            }
        }
        Transport::Http { gzip } => {
            let b = SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(serve.http_url("/v1/traces"));
            match compression(gzip) {
                Some(c) => b.with_compression(c).build(),
                None => b.build(),
            }
        }
    };
    built.expect("cannot build the OTLP span exporter")
}

/// Emits a small but complete shape of spans: a SERVER root with typed attributes; a CLIENT
/// child that failed (error status, exception event); a PRODUCER child; `WORKERS` internal
/// children; and, in a second trace, a CONSUMER linked (with link attributes) to the producer.
fn emit_spans(provider: &SdkTracerProvider) {
    let tracer = provider
        .tracer_with_scope(InstrumentationScope::builder(SCOPE).with_version("1.2.3").build());
    let root = tracer
        .span_builder("GET /orders/{id}")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.response.status_code", 200_i64),
            KeyValue::new("http.route", "/orders/{id}"),
            KeyValue::new("cache.hit", true),
            KeyValue::new("sample.ratio", 0.25),
            KeyValue::new(
                "order.tags",
                Value::Array(Array::String(vec![
                    StringValue::from("gift"),
                    StringValue::from("express"),
                ])),
            ),
        ])
        .start(&tracer);
    let cx = Context::current_with_span(root);

    let mut db = tracer
        .span_builder("SELECT orders")
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("db.system.name", "postgresql"),
            KeyValue::new("db.query.text", "SELECT * FROM orders WHERE id = $1"),
        ])
        .start_with_context(&tracer, &cx);
    db.add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", "Timeout"),
            KeyValue::new("exception.message", "statement timed out after 5s"),
        ],
    );
    db.set_status(Status::error("statement timed out"));
    db.end();

    let mut producer = tracer
        .span_builder("orders publish")
        .with_kind(SpanKind::Producer)
        .with_attributes([
            KeyValue::new("messaging.system", "kafka"),
            KeyValue::new("messaging.destination.name", "orders"),
            KeyValue::new("messaging.operation.type", "send"),
            KeyValue::new("messaging.message.id", "msg-42"),
        ])
        .start_with_context(&tracer, &cx);
    producer.add_event("enqueued", vec![KeyValue::new("queue.depth", 3_i64)]);
    let producer_cx = producer.span_context().clone();
    producer.end();

    for i in 0..WORKERS {
        let mut worker = tracer
            .span_builder(format!("work {i}"))
            .with_attributes([KeyValue::new("work.index", i as i64)])
            .start_with_context(&tracer, &cx);
        worker.set_status(Status::Ok);
        worker.end();
    }
    cx.span().end();

    let consumer = tracer
        .span_builder("orders process")
        .with_kind(SpanKind::Consumer)
        .with_attributes([
            KeyValue::new("messaging.system", "kafka"),
            KeyValue::new("messaging.destination.name", "orders"),
            KeyValue::new("messaging.consumer.group.name", "billing"),
        ])
        .with_links(vec![Link::new(
            producer_cx,
            vec![KeyValue::new("messaging.message.id", "msg-42")],
            0,
        )])
        .start(&tracer);
    drop(consumer); // ends it
}

/// Runs the exporter in a provider beside an in-memory copy of what the SDK finished, and
/// returns that copy as OTLP spans, keyed by span id.
fn export_spans(serve: &Serve, transport: Transport) -> BTreeMap<String, RecordedSpan> {
    let memory = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource())
        .with_simple_exporter(memory.clone())
        .with_batch_exporter(span_exporter(serve, transport))
        .build();
    emit_spans(&provider);
    provider.force_flush().expect("the OTLP exporter failed to flush");
    // Read before shutdown: the in-memory exporter forgets its spans when shut down.
    let finished = memory.get_finished_spans().expect("in-memory spans");
    provider.shutdown().expect("the tracer provider failed to shut down");
    assert_eq!(finished.len(), WORKERS + 4);
    finished
        .into_iter()
        .map(|data| {
            let mut span = opentelemetry_proto::tonic::trace::v1::Span::from(data);
            // An unset status with no message is the same as no status (the server writes none).
            if span.status.as_ref().is_some_and(|s| s.code == 0 && s.message.is_empty()) {
                span.status = None;
            }
            let recorded =
                RecordedSpan { service: SERVICE.to_owned(), scope: SCOPE.to_owned(), span };
            (recorded.span_id(), recorded)
        })
        .collect()
}

/// The recording holds exactly `expected`: same ids, fields, resource service and scope.
fn assert_recording_is(path: &Path, expected: &BTreeMap<String, RecordedSpan>) {
    let recorded = read_recording(path);
    assert_eq!(recorded.len(), expected.len(), "span count in the recording");
    let by_id: BTreeMap<String, RecordedSpan> =
        recorded.into_iter().map(|s| (s.span_id(), s)).collect();
    assert_eq!(by_id.len(), expected.len(), "span ids in the recording are not unique");
    for (id, want) in expected {
        let got = by_id.get(id).unwrap_or_else(|| panic!("span {id} ({}) missing", want.span.name));
        assert_eq!(got, want, "span {id} ({}) differs", want.span.name);
    }

    // Spot checks written by hand, in case the SDK's OTLP conversion and the server agreed on
    // the same mistake.
    let named = |name: &str| {
        by_id.values().find(|s| s.span.name == name).unwrap_or_else(|| panic!("no span {name}"))
    };
    let root = named("GET /orders/{id}");
    assert!(root.span.parent_span_id.is_empty());
    assert_eq!(root.attr("http.response.status_code"), Some(&ProtoValue::IntValue(200)));
    assert_eq!(root.attr("cache.hit"), Some(&ProtoValue::BoolValue(true)));
    assert_eq!(root.attr("sample.ratio"), Some(&ProtoValue::DoubleValue(0.25)));
    let db = named("SELECT orders");
    assert_eq!(db.parent_span_id(), root.span_id());
    assert_eq!(db.trace_id(), root.trace_id());
    let status = db.span.status.as_ref().expect("db span has a status");
    assert_eq!((status.code, status.message.as_str()), (2, "statement timed out"));
    assert_eq!(db.span.events.len(), 1);
    assert_eq!(db.span.events[0].name, "exception");
    let producer = named("orders publish");
    let consumer = named("orders process");
    assert_ne!(consumer.trace_id(), root.trace_id());
    assert!(consumer.span.parent_span_id.is_empty());
    assert_eq!(consumer.span.links.len(), 1);
    assert_eq!(hex(&consumer.span.links[0].span_id), producer.span_id());
    assert_eq!(hex(&consumer.span.links[0].trace_id), producer.trace_id());
    assert_eq!(consumer.span.links[0].attributes.len(), 1);
    assert_eq!(by_id.values().filter(|s| s.span.name.starts_with("work ")).count(), WORKERS);
}

fn round_trip(transport: Transport) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("recording.jsonl");
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 temp path")]);
    let expected = export_spans(&serve, transport);
    let n = expected.len() as u64;
    serve.wait_for_stats(|s| s.stored == n, Duration::from_secs(10));
    let status = serve.stop();
    assert!(status.success(), "{status}: {:?}", serve.stderr_lines());
    let last = serve.last_stats().expect("a final stats line");
    assert_eq!((last.received, last.stored, last.refused), (n, n, 0), "{last:?}");
    assert_recording_is(&path, &expected);
}

/// A multi-threaded runtime for tonic exporters; they must be built inside it.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
fn grpc_exporter_spans_are_recorded_exactly() {
    let rt = runtime();
    let _guard = rt.enter();
    round_trip(Transport::Grpc { gzip: false });
}

#[test]
fn grpc_gzip_exporter_spans_are_recorded_exactly() {
    let rt = runtime();
    let _guard = rt.enter();
    round_trip(Transport::Grpc { gzip: true });
}

#[test]
fn http_protobuf_exporter_spans_are_recorded_exactly() {
    round_trip(Transport::Http { gzip: false });
}

#[test]
fn http_protobuf_gzip_exporter_spans_are_recorded_exactly() {
    round_trip(Transport::Http { gzip: true });
}

/// Emits log records (one tied to a span context) and a counter, and flushes both: an
/// exporter error (UNIMPLEMENTED, 404, a decode error) fails the flush.
fn logs_and_metrics(log_exporter: LogExporter, metric_exporter: MetricExporter) {
    let loggers = SdkLoggerProvider::builder()
        .with_resource(resource())
        .with_batch_exporter(log_exporter)
        .build();
    let logger = loggers.logger("hopscope-tests");
    for (i, severity) in [Severity::Info, Severity::Warn, Severity::Error].into_iter().enumerate() {
        let mut record = logger.create_log_record();
        record.set_severity_number(severity);
        record.set_severity_text(severity.name());
        record.set_body(format!("order {i} processed").into());
        record.add_attribute("order.id", i as i64);
        if i == 2 {
            record.set_trace_context(
                opentelemetry::trace::TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736")
                    .expect("hex"),
                opentelemetry::trace::SpanId::from_hex("00f067aa0ba902b7").expect("hex"),
                None,
            );
        }
        logger.emit(record);
    }
    loggers.force_flush().expect("the OTLP log exporter failed");
    loggers.shutdown().expect("logger provider shutdown");

    let meters = SdkMeterProvider::builder()
        .with_resource(resource())
        .with_periodic_exporter(metric_exporter)
        .build();
    let meter = meters.meter("hopscope-tests");
    let counter = meter.u64_counter("orders.processed").build();
    counter.add(3, &[KeyValue::new("queue", "orders")]);
    counter.add(2, &[KeyValue::new("queue", "payments")]);
    let histogram = meter.f64_histogram("orders.latency").with_unit("s").build();
    histogram.record(0.25, &[]);
    meters.force_flush().expect("the OTLP metric exporter failed");
    meters.shutdown().expect("meter provider shutdown");
}

#[test]
fn grpc_exporter_logs_and_metrics_are_accepted() {
    let mut serve = Serve::start(&[]);
    let rt = runtime();
    {
        let _guard = rt.enter();
        let logs = LogExporter::builder()
            .with_tonic()
            .with_endpoint(serve.grpc_endpoint())
            .with_compression(Compression::Gzip)
            .build()
            .expect("log exporter");
        let metrics = MetricExporter::builder()
            .with_tonic()
            .with_endpoint(serve.grpc_endpoint())
            .build()
            .expect("metric exporter");
        logs_and_metrics(logs, metrics);
    }
    assert!(serve.stop().success(), "{:?}", serve.stderr_lines());
}

#[test]
fn http_exporter_logs_and_metrics_are_accepted() {
    let mut serve = Serve::start(&[]);
    let logs = LogExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(serve.http_url("/v1/logs"))
        .build()
        .expect("log exporter");
    let metrics = MetricExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(serve.http_url("/v1/metrics"))
        .with_compression(Compression::Gzip)
        .build()
        .expect("metric exporter");
    logs_and_metrics(logs, metrics);
    assert!(serve.stop().success(), "{:?}", serve.stderr_lines());
}

/// The flushes above can fail: the same exporters aimed at the wrong signal path get an
/// error (so a passing test means the server answered them properly).
#[test]
fn http_exporter_flush_fails_on_a_wrong_path() {
    let mut serve = Serve::start(&[]);
    let logs = LogExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(serve.http_url("/v1/nowhere"))
        .with_timeout(Duration::from_secs(2))
        .build()
        .expect("log exporter");
    let loggers = SdkLoggerProvider::builder().with_batch_exporter(logs).build();
    let logger = loggers.logger("hopscope-tests");
    let mut record = logger.create_log_record();
    record.set_body("lost".into());
    logger.emit(record);
    assert!(loggers.force_flush().is_err(), "a 404 must fail the flush");
    loggers.shutdown().ok();
    assert!(serve.stop().success());
}
