//! Spans made by the real OpenTelemetry SDK and sent, batch by batch, through the real OTLP
//! gRPC exporter, so a test knows exactly which spans the server acknowledged.

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanExporter as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

/// `n` finished spans from the SDK (service `service`), each the root of its own trace, with
/// an attribute `pad` of `pad` bytes.
pub fn sdk_spans(service: &str, n: usize, pad: usize) -> Vec<SpanData> {
    let memory = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder_empty().with_service_name(service.to_owned()).build())
        .with_simple_exporter(memory.clone())
        .build();
    let tracer = provider.tracer("hopscope-tests");
    let padding = "p".repeat(pad);
    for i in 0..n {
        let mut span = tracer.span_builder(format!("op {i}")).start(&tracer);
        span.set_attribute(KeyValue::new("pad", padding.clone()));
        span.set_attribute(KeyValue::new("i", i as i64));
        span.end();
    }
    let spans = memory.get_finished_spans().expect("in-memory spans");
    provider.shutdown().expect("the tracer provider failed to shut down");
    assert_eq!(spans.len(), n);
    spans
}

/// The real OTLP/gRPC span exporter to `endpoint` (`http://127.0.0.1:PORT`), with the
/// resource of `service`.
pub fn grpc_exporter(endpoint: &str, service: &str) -> SpanExporter {
    let mut exporter = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .expect("cannot build the OTLP gRPC span exporter");
    exporter.set_resource(&Resource::builder_empty().with_service_name(service.to_owned()).build());
    exporter
}

/// Exports `batch` and, if the server acknowledged it, returns the span ids it held
/// (lowercase hex); `None` when the export failed.
pub async fn export_acked(exporter: &SpanExporter, batch: Vec<SpanData>) -> Option<Vec<String>> {
    let ids: Vec<String> =
        batch.iter().map(|s| crate::hex(&s.span_context.span_id().to_bytes())).collect();
    exporter.export(batch).await.ok().map(|()| ids)
}
