//! The shop's ten services and their OpenTelemetry SDK wiring: one `SdkTracerProvider`
//! per service, each with its own `Resource` (`service.name` and friends) and a batch span
//! processor exporting through `opentelemetry-otlp` over OTLP/gRPC (tonic). Also the
//! span vocabulary the scenarios speak on top of the SDK's `SpanBuilder`: HTTP calls
//! (CLIENT and SERVER spans joined by W3C `traceparent` headers), database calls, and the
//! propagation of trace context and baggage through headers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator as _};
use opentelemetry::trace::{
    SpanBuilder, SpanKind, Status, TraceContextExt as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, SpanData,
    SpanExporter,
};

use super::clock::NET;

/// A service of the shop; each is its own `service.name` with its own tracer provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Gateway,
    Orders,
    Inventory,
    Payments,
    Shipping,
    Notifications,
    Analytics,
    Loyalty,
    /// Reports, and a nightly job that "fixes" order totals in orders' own table.
    Reporting,
    /// The storefront's clickstream.
    Tracking,
}

impl Service {
    pub const ALL: [Service; 10] = [
        Service::Gateway,
        Service::Orders,
        Service::Inventory,
        Service::Payments,
        Service::Shipping,
        Service::Notifications,
        Service::Analytics,
        Service::Loyalty,
        Service::Reporting,
        Service::Tracking,
    ];

    /// The `service.name`, also the host name its HTTP server answers on.
    pub fn name(self) -> &'static str {
        match self {
            Service::Gateway => "gateway",
            Service::Orders => "orders",
            Service::Inventory => "inventory",
            Service::Payments => "payments",
            Service::Shipping => "shipping",
            Service::Notifications => "notifications",
            Service::Analytics => "analytics",
            Service::Loyalty => "loyalty",
            Service::Reporting => "reporting",
            Service::Tracking => "tracking",
        }
    }

    fn version(self) -> &'static str {
        match self {
            Service::Gateway => "3.2.0",
            Service::Orders => "2.14.1",
            Service::Inventory => "1.9.3",
            Service::Payments => "5.0.2",
            Service::Shipping => "1.2.0",
            Service::Notifications => "0.8.7",
            Service::Analytics => "4.1.0",
            Service::Loyalty => "1.0.4",
            Service::Reporting => "0.3.1",
            Service::Tracking => "2.0.0",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// HTTP port every service listens on.
const PORT: i64 = 8080;
/// Instrumentation scope of every demo span.
const SCOPE: &str = "hopscope-demo";

/// Headers of a request or a message: where trace context and baggage travel.
pub type Headers = HashMap<String, String>;

/// What the exporters have sent, for the user (export-only mode says it) and the summary.
#[derive(Debug, Default)]
pub struct ExportTally {
    exported: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl ExportTally {
    /// Spans the collector acknowledged.
    pub fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    /// Spans whose export failed (after the exporter's own retries).
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The latest export error, taken (so each is reported once).
    pub fn take_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn record(&self, spans: usize, result: &OTelSdkResult) {
        match result {
            Ok(()) => {
                self.exported.fetch_add(spans as u64, Ordering::Relaxed);
            }
            Err(e) => {
                self.failed.fetch_add(spans as u64, Ordering::Relaxed);
                *self.last_error.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(e.to_string());
            }
        }
    }
}

/// The OTLP exporter, counting what it sends (the SDK reports export errors only to its
/// internal log, which nobody reads here).
#[derive(Debug)]
struct TalliedExporter {
    inner: opentelemetry_otlp::SpanExporter,
    tally: Arc<ExportTally>,
}

impl SpanExporter for TalliedExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        self.tally.record(spans, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The shop's telemetry: a tracer provider per service, all exporting to one endpoint.
pub struct Shop {
    providers: Vec<SdkTracerProvider>,
    tracers: Vec<SdkTracer>,
    propagator: TextMapCompositePropagator,
    pub tally: Arc<ExportTally>,
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop").field("services", &self.providers.len()).finish_non_exhaustive()
    }
}

impl Shop {
    /// Builds the ten providers, exporting OTLP/gRPC to `endpoint` (`None`: the OTLP
    /// exporter's own default, from OTEL_EXPORTER_OTLP_*). Must run inside the tokio runtime
    /// (the tonic channels live on it).
    pub fn connect(endpoint: Option<&str>, run_id: &str) -> Result<Self> {
        let tally = Arc::new(ExportTally::default());
        let mut providers = Vec::with_capacity(Service::ALL.len());
        for service in Service::ALL {
            let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
            if let Some(endpoint) = endpoint {
                exporter = exporter.with_endpoint(endpoint);
            }
            let exporter = TalliedExporter {
                inner: exporter.build().context("cannot build the OTLP/gRPC span exporter")?,
                tally: Arc::clone(&tally),
            };
            // Spans reach the collector within a quarter second, as a live UI wants.
            let batch = BatchConfigBuilder::default()
                .with_scheduled_delay(Duration::from_millis(250))
                .with_max_queue_size(16 * 1024)
                .build();
            let processor = BatchSpanProcessor::builder(exporter).with_batch_config(batch).build();
            providers.push(
                SdkTracerProvider::builder()
                    .with_resource(resource(service, run_id))
                    .with_sampler(Sampler::AlwaysOn)
                    .with_span_processor(processor)
                    .build(),
            );
        }
        let scope = InstrumentationScope::builder(SCOPE)
            .with_version(env!("CARGO_PKG_VERSION"))
            .with_schema_url("https://opentelemetry.io/schemas/1.37.0")
            .build();
        let tracers = providers.iter().map(|p| p.tracer_with_scope(scope.clone())).collect();
        let propagator = TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ]);
        Ok(Self { providers, tracers, propagator, tally })
    }

    /// Exports every ended span and shuts the providers down (blocking work, done off the
    /// runtime's workers). Spans ended afterwards are dropped.
    pub async fn flush_and_shutdown(&self) -> Result<()> {
        let providers = self.providers.clone();
        tokio::task::spawn_blocking(move || {
            let mut first_error = None;
            for provider in &providers {
                if let Err(e) = provider.force_flush().and_then(|()| provider.shutdown()) {
                    first_error.get_or_insert(e);
                }
            }
            first_error.map_or(Ok(()), |e| Err(anyhow::anyhow!("the OTLP exporter failed: {e}")))
        })
        .await
        .context("SDK shutdown")?
    }

    fn tracer(&self, service: Service) -> &SdkTracer {
        &self.tracers[service.index()]
    }

    /// Starts the span `builder` describes in `service`, as a child of `parent`'s span (a
    /// root if it has none); returns `parent` with the new span active (baggage kept).
    pub fn start(&self, service: Service, parent: &Context, builder: SpanBuilder) -> Context {
        let span = builder.start_with_context(self.tracer(service), parent);
        parent.with_span(span)
    }

    /// Writes `cx`'s trace context (`traceparent`) and baggage into headers.
    pub fn inject(&self, cx: &Context) -> Headers {
        let mut headers = Headers::new();
        self.propagator.inject_context(cx, &mut headers);
        headers
    }

    /// Reads the trace context and baggage a peer wrote into `headers`.
    pub fn extract(&self, headers: &Headers) -> Context {
        self.propagator.extract(headers)
    }

    /// A SERVER span for a request from outside the shop (the gateway's edge).
    pub fn edge_request(
        &self,
        method: &'static str,
        route: &'static str,
        path: &str,
        at: SystemTime,
    ) -> Context {
        let mut attributes = server_attributes(Service::Gateway, method, route, path);
        attributes.push(KeyValue::new("client.address", "203.0.113.7"));
        attributes.push(KeyValue::new("user_agent.original", "shop-web/7.3 (+demo)"));
        self.start(
            Service::Gateway,
            &Context::new(),
            SpanBuilder::from_name(format!("{method} {route}"))
                .with_kind(SpanKind::Server)
                .with_start_time(at)
                .with_attributes(attributes),
        )
    }

    /// A synchronous HTTP request from `from` (inside `parent`) to `to`: the caller's CLIENT
    /// span, the request's headers carrying its context, and the callee's SERVER span
    /// started from those headers, one network hop later.
    #[expect(clippy::too_many_arguments, reason = "an HTTP request has this many parts")]
    pub fn http_call(
        &self,
        parent: &Context,
        from: Service,
        to: Service,
        method: &'static str,
        route: &'static str,
        path: &str,
        at: SystemTime,
    ) -> HttpCall {
        let client = self.start(
            from,
            parent,
            SpanBuilder::from_name(format!("{method} {route}"))
                .with_kind(SpanKind::Client)
                .with_start_time(at)
                .with_attributes(vec![
                    KeyValue::new("http.request.method", method),
                    KeyValue::new("url.full", format!("http://{}:{PORT}{path}", to.name())),
                    KeyValue::new("url.template", route),
                    KeyValue::new("server.address", to.name()),
                    KeyValue::new("server.port", PORT),
                    KeyValue::new("network.protocol.version", "1.1"),
                ]),
        );
        let request_headers = self.inject(&client);
        let server = self.start(
            to,
            &self.extract(&request_headers),
            SpanBuilder::from_name(format!("{method} {route}"))
                .with_kind(SpanKind::Server)
                .with_start_time(at + NET)
                .with_attributes(server_attributes(to, method, route, path)),
        );
        HttpCall { client, server }
    }

    /// A CLIENT span calling an API outside the shop (payment provider, mail, carrier).
    pub fn external_call(
        &self,
        parent: &Context,
        from: Service,
        method: &'static str,
        host: &'static str,
        route: &'static str,
        at: SystemTime,
    ) -> Context {
        self.start(
            from,
            parent,
            SpanBuilder::from_name(format!("{method} {route}"))
                .with_kind(SpanKind::Client)
                .with_start_time(at)
                .with_attributes(vec![
                    KeyValue::new("http.request.method", method),
                    KeyValue::new("url.full", format!("https://{host}{route}")),
                    KeyValue::new("url.template", route),
                    KeyValue::new("server.address", host),
                    KeyValue::new("server.port", 443_i64),
                ]),
        )
    }

    /// A CLIENT span for a database query, named by its summary (`SELECT orders`).
    pub fn db_call(
        &self,
        parent: &Context,
        from: Service,
        system: &'static str,
        operation: &'static str,
        table: &'static str,
        at: SystemTime,
    ) -> Context {
        let summary = format!("{operation} {table}");
        self.start(
            from,
            parent,
            SpanBuilder::from_name(summary.clone())
                .with_kind(SpanKind::Client)
                .with_start_time(at)
                .with_attributes(vec![
                    KeyValue::new("db.system.name", system),
                    KeyValue::new("db.operation.name", operation),
                    KeyValue::new("db.collection.name", table),
                    KeyValue::new("db.query.summary", summary),
                    KeyValue::new("server.address", format!("{}-db", from.name())),
                ]),
        )
    }

    /// An INTERNAL span: a piece of work inside one service.
    pub fn work(
        &self,
        parent: &Context,
        service: Service,
        name: impl Into<Cow<'static, str>>,
        attributes: Vec<KeyValue>,
        at: SystemTime,
    ) -> Context {
        self.start(
            service,
            parent,
            SpanBuilder::from_name(name)
                .with_kind(SpanKind::Internal)
                .with_start_time(at)
                .with_attributes(attributes),
        )
    }
}

fn resource(service: Service, run_id: &str) -> Resource {
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_service_name(service.name())
        .with_attributes([
            KeyValue::new("service.namespace", "shop"),
            KeyValue::new("service.version", service.version()),
            KeyValue::new("service.instance.id", format!("{}-{run_id}", service.name())),
            KeyValue::new("deployment.environment.name", "demo"),
            KeyValue::new("host.name", format!("{}-7d9f", service.name())),
        ])
        .build()
}

fn server_attributes(
    service: Service,
    method: &'static str,
    route: &'static str,
    path: &str,
) -> Vec<KeyValue> {
    vec![
        KeyValue::new("http.request.method", method),
        KeyValue::new("http.route", route),
        KeyValue::new("url.path", path.to_owned()),
        KeyValue::new("url.scheme", "http"),
        KeyValue::new("server.address", service.name()),
        KeyValue::new("server.port", PORT),
        KeyValue::new("network.protocol.version", "1.1"),
    ]
}

/// Which end of an HTTP exchange a span records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// Marks a finished HTTP exchange on `cx`'s span: the status code, and for errors (any
/// 5xx on a server; 4xx too on a client) `error.type` and an error status.
pub fn http_status(cx: &Context, side: Side, code: u16, message: &str) {
    let span = cx.span();
    span.set_attribute(KeyValue::new("http.response.status_code", i64::from(code)));
    let is_error = code >= 500 || (code >= 400 && side == Side::Client);
    if is_error {
        span.set_attribute(KeyValue::new("error.type", code.to_string()));
        span.set_status(Status::error(message.to_owned()));
    }
}

/// Marks `cx`'s span as failed by an exception, as the SDK's `record_error` would, at `at`.
pub fn fail(cx: &Context, exception_type: &'static str, message: &str, at: SystemTime) {
    let span = cx.span();
    span.add_event_with_timestamp(
        "exception",
        at,
        vec![
            KeyValue::new("exception.type", exception_type),
            KeyValue::new("exception.message", message.to_owned()),
        ],
    );
    span.set_attribute(KeyValue::new("error.type", exception_type));
    span.set_status(Status::error(message.to_owned()));
}

/// One HTTP request between two services: the caller's CLIENT span and the callee's SERVER
/// span (a child of it through the request headers).
#[derive(Debug)]
pub struct HttpCall {
    pub client: Context,
    pub server: Context,
}
