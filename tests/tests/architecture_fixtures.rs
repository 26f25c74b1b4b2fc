//! The architecture read from traces, from spans made with the OpenTelemetry SDK: each
//! service its own `SdkTracerProvider` exporting OTLP over gRPC to `hopscope serve --record`,
//! message context carried in W3C `traceparent` headers injected by the producer and
//! extracted by the consumer, as instrumented code does. `hopscope analyze` reads the
//! recording once; each test checks one style or one anti-pattern, and that its look-alike
//! does not fire:
//!
//! | fires                          | look-alike that must not                          |
//! |--------------------------------|---------------------------------------------------|
//! | god_orchestrator (5 services)  | a coordinator of three services                   |
//! | event_soup (12 idle handlers)  | 12 events whose handlers each write a row         |
//! | event_schema_chaos (v1 / v2)   | two event types (not versions) on one topic       |
//! | distributed_monolith           | one writer per table (another service only reads) |
//! | sync_fanout (4 POSTs in a row) | four GETs whose answers the handler uses          |

use std::collections::HashMap;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use hopscope_collector::analysis::{Analysis, FlowStyle, Insight, InsightKind, SagaStyle};
use hopscope_tests::{Serve, hopscope_bin};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// Message headers, as a broker carries them.
type Headers = HashMap<String, String>;

/// The services of the scenarios, each with its own provider, and a clock in microseconds
/// from a fixed start.
struct World {
    endpoint: String,
    providers: HashMap<String, (SdkTracerProvider, SdkTracer)>,
    t0: SystemTime,
    spans: u64,
    messages: u64,
}

impl World {
    fn tracer(&mut self, service: &str) -> SdkTracer {
        let endpoint = self.endpoint.clone();
        self.providers
            .entry(service.to_owned())
            .or_insert_with(|| {
                let exporter = SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(endpoint)
                    .build()
                    .expect("cannot build the OTLP span exporter");
                let provider = SdkTracerProvider::builder()
                    .with_resource(
                        Resource::builder_empty().with_service_name(service.to_owned()).build(),
                    )
                    .with_batch_exporter(exporter)
                    .build();
                let tracer = provider.tracer("hopscope-architecture");
                (provider, tracer)
            })
            .1
            .clone()
    }

    fn at(&self, us: u64) -> SystemTime {
        self.t0 + Duration::from_micros(us)
    }

    /// A span of `service` from `from` to `to` µs under `parent`; its context for children.
    #[expect(clippy::too_many_arguments, reason = "a span's fields, named at each call")]
    fn span(
        &mut self,
        service: &str,
        name: &str,
        kind: SpanKind,
        parent: &Context,
        from: u64,
        to: u64,
        attrs: Vec<KeyValue>,
        error: Option<&str>,
    ) -> Context {
        let tracer = self.tracer(service);
        let mut span = tracer
            .span_builder(name.to_owned())
            .with_kind(kind)
            .with_start_time(self.at(from))
            .with_attributes(attrs)
            .start_with_context(&tracer, parent);
        if let Some(message) = error {
            span.add_event(
                "exception",
                vec![
                    KeyValue::new("exception.type", "SerializationException"),
                    KeyValue::new("exception.message", message.to_owned()),
                ],
            );
            span.set_status(Status::error(message.to_owned()));
        }
        let sc = span.span_context().clone();
        span.end_with_timestamp(self.at(to));
        self.spans += 1;
        parent.with_remote_span_context(sc)
    }

    /// A call: the caller's client span and the callee's server span under it.
    #[expect(clippy::too_many_arguments, reason = "a call's fields, named at each call")]
    fn call(
        &mut self,
        caller: &str,
        callee: &str,
        method: &str,
        route: &str,
        parent: &Context,
        from: u64,
        to: u64,
    ) -> Context {
        let name = format!("{method} {route}");
        let m = || vec![KeyValue::new("http.request.method", method.to_owned())];
        let client = self.span(caller, &name, SpanKind::Client, parent, from, to, m(), None);
        self.span(callee, &name, SpanKind::Server, &client, from + 100, to - 100, m(), None)
    }

    /// A message sent by `service` to `dest` under `parent`: its headers carry the context.
    fn send(
        &mut self,
        service: &str,
        dest: &str,
        parent: &Context,
        at: u64,
        extra: Vec<KeyValue>,
    ) -> Headers {
        self.messages += 1;
        let mut attrs = vec![
            KeyValue::new("messaging.system", "kafka"),
            KeyValue::new("messaging.destination.name", dest.to_owned()),
            KeyValue::new("messaging.operation.type", "send"),
            KeyValue::new("messaging.message.id", format!("m-{}", self.messages)),
        ];
        attrs.extend(extra);
        let name = format!("send {dest}");
        let cx = self.span(service, &name, SpanKind::Producer, parent, at, at + 200, attrs, None);
        let mut headers = Headers::new();
        TraceContextPropagator::new().inject_context(&cx, &mut headers);
        headers
    }

    /// `service` processes the message with `headers` from `dest`, as a child of the
    /// context the headers carry.
    #[expect(clippy::too_many_arguments, reason = "a delivery's fields, named at each call")]
    fn receive(
        &mut self,
        service: &str,
        dest: &str,
        headers: &Headers,
        from: u64,
        to: u64,
        extra: Vec<KeyValue>,
        error: Option<&str>,
    ) -> Context {
        let parent = TraceContextPropagator::new().extract(headers);
        let mut attrs = vec![
            KeyValue::new("messaging.system", "kafka"),
            KeyValue::new("messaging.destination.name", dest.to_owned()),
            KeyValue::new("messaging.operation.type", "process"),
            KeyValue::new("messaging.consumer.group.name", service.to_owned()),
        ];
        attrs.extend(extra);
        let name = format!("process {dest}");
        self.span(service, &name, SpanKind::Consumer, &parent, from, to, attrs, error)
    }

    fn server(&mut self, service: &str, name: &str, from: u64, to: u64) -> Context {
        let method = name.split(' ').next().unwrap_or("GET").to_owned();
        let attrs = vec![KeyValue::new("http.request.method", method)];
        self.span(service, name, SpanKind::Server, &Context::new(), from, to, attrs, None)
    }

    fn db(&mut self, service: &str, parent: &Context, at: u64, attrs: Vec<KeyValue>) {
        let name = "db";
        self.span(service, name, SpanKind::Client, parent, at, at + 500, attrs, None);
    }
}

fn step(saga: &str, name: &str) -> Vec<KeyValue> {
    vec![
        KeyValue::new("saga.id", saga.to_owned()),
        KeyValue::new("saga.name", "booking"),
        KeyValue::new("saga.step.name", name.to_owned()),
    ]
}

/// A coordinator commanding each partner in turn and continuing on its reply.
fn orchestration(w: &mut World, coordinator: &str, partners: &[&str], saga: Option<&str>) {
    let root = w.server(coordinator, "POST /trips", 0, 5_000);
    let mut headers =
        w.send(coordinator, &format!("{}.commands", partners[0]), &root, 1_000, vec![]);
    let mut t = 6_000;
    for (i, p) in partners.iter().enumerate() {
        let attrs = saga.map(|s| step(s, &format!("book-{p}"))).unwrap_or_default();
        let handling = w.receive(p, &format!("{p}.commands"), &headers, t, t + 3_000, attrs, None);
        let replies = format!("{coordinator}.replies");
        let reply = w.send(p, &replies, &handling, t + 1_000, vec![]);
        let back = w.receive(coordinator, &replies, &reply, t + 4_000, t + 6_000, vec![], None);
        if let Some(next) = partners.get(i + 1) {
            headers = w.send(coordinator, &format!("{next}.commands"), &back, t + 5_000, vec![]);
        }
        t += 7_000;
    }
}

fn record_all(w: &mut World) {
    // Styles.
    orchestration(w, "trip-saga", &["flights", "hotels", "cars"], Some("trip-1"));
    orchestration(w, "mega-saga", &["mega-a", "mega-b", "mega-c", "mega-d", "mega-e"], None);
    // Hybrid: two command/reply partners, and an event nobody answers.
    orchestration(w, "hy-saga", &["hy-a", "hy-b"], None);
    let root = w.server("hy-audit-api", "POST /audited", 0, 3_000);
    let h = w.send("hy-audit-api", "hy.commands", &root, 1_000, vec![]);
    let got = w.receive("hy-worker", "hy.commands", &h, 4_000, 6_000, vec![], None);
    let reply = w.send("hy-worker", "hy-audit-api.replies", &got, 5_000, vec![]);
    let back =
        w.receive("hy-audit-api", "hy-audit-api.replies", &reply, 7_000, 9_000, vec![], None);
    w.call("hy-audit-api", "hy-ledger", "POST", "/ledger", &back, 7_100, 8_000);
    let audit = w.send("hy-audit-api", "hy.audit", &back, 8_500, vec![]);
    w.receive("hy-auditor", "hy.audit", &audit, 10_000, 12_000, vec![], None);
    // Choreography: each service reacts to the previous one's event.
    let root = w.server("shop-orders", "POST /orders", 0, 3_000);
    let placed = w.send("shop-orders", "orders.placed", &root, 1_000, vec![]);
    let pay = w.receive(
        "shop-payments",
        "orders.placed",
        &placed,
        4_000,
        6_000,
        step("order-1", "charge"),
        None,
    );
    let taken = w.send("shop-payments", "payments.taken", &pay, 5_000, vec![]);
    w.receive(
        "shop-shipping",
        "payments.taken",
        &taken,
        7_000,
        9_000,
        step("order-1", "ship"),
        None,
    );

    // event_soup: twelve tiny events whose handlers do nothing.
    let root = w.server("tracker", "POST /track", 0, 20_000);
    for i in 0..12 {
        let h = w.send("tracker", "tracking", &root, 1_000 + i * 1_000, vec![]);
        w.receive(
            "tracking-sink",
            "tracking",
            &h,
            30_000 + i * 500,
            30_100 + i * 500,
            vec![],
            None,
        );
    }
    // Look-alike: twelve events whose handlers each write a row.
    let root = w.server("ledger", "POST /close", 0, 20_000);
    for i in 0..12 {
        let h = w.send("ledger", "ledger.lines", &root, 1_000 + i * 1_000, vec![]);
        let t = 30_000 + i * 20_000;
        let got = w.receive("ledger-worker", "ledger.lines", &h, t, t + 10_000, vec![], None);
        w.db(
            "ledger-worker",
            &got,
            t + 1_000,
            vec![
                KeyValue::new("db.system.name", "postgresql"),
                KeyValue::new("db.namespace", "ledger"),
                KeyValue::new("db.collection.name", "entries"),
                KeyValue::new("db.operation.name", "INSERT"),
            ],
        );
    }

    // event_schema_chaos: v1 and v2 of one event on one topic; the indexer fails on v2.
    let root = w.server("catalog", "POST /products/batch", 0, 10_000);
    for i in 0..6 {
        let v = if i % 2 == 0 { "v1" } else { "v2" };
        let ty = KeyValue::new("cloudevents.event_type", format!("com.shop.product.updated.{v}"));
        let h = w.send("catalog", "products", &root, 1_000 + i * 1_000, vec![ty]);
        let error =
            (v == "v2").then_some("failed to deserialize ProductUpdated: missing field `price`");
        let t = 20_000 + i * 7_000;
        w.receive("search-indexer", "products", &h, t, t + 6_000, vec![], error);
    }
    // Look-alike: two event types (not versions) on one topic, one failure of another kind.
    let root = w.server("stock", "POST /stock", 0, 10_000);
    for i in 0..6 {
        let ty = if i % 2 == 0 { "com.shop.stock.reserved" } else { "com.shop.stock.released" };
        let h = w.send(
            "stock",
            "stock-events",
            &root,
            1_000 + i * 1_000,
            vec![KeyValue::new("cloudevents.event_type", ty)],
        );
        let error = (i == 3).then_some("timeout talking to the cache");
        let t = 20_000 + i * 7_000;
        w.receive("stock-view", "stock-events", &h, t, t + 6_000, vec![], error);
    }

    // distributed_monolith: orders and reporting both write shop.orders.
    let root = w.server("orders-svc", "POST /orders", 0, 3_000);
    w.db(
        "orders-svc",
        &root,
        1_000,
        vec![
            KeyValue::new("db.system.name", "postgresql"),
            KeyValue::new("db.namespace", "shop"),
            KeyValue::new("db.collection.name", "orders"),
            KeyValue::new("db.operation.name", "INSERT"),
        ],
    );
    let root = w.server("reporting", "POST /reports/refresh", 0, 3_000);
    w.db(
        "reporting",
        &root,
        1_000,
        vec![
            KeyValue::new("db.system", "postgresql"),
            KeyValue::new("db.name", "shop"),
            KeyValue::new("db.statement", "UPDATE orders SET reported = true WHERE id = $1"),
        ],
    );
    // Look-alike: users-svc writes shop.users; analytics only reads it.
    let root = w.server("users-svc", "POST /users", 0, 3_000);
    w.db(
        "users-svc",
        &root,
        1_000,
        vec![
            KeyValue::new("db.namespace", "shop"),
            KeyValue::new("db.collection.name", "users"),
            KeyValue::new("db.operation.name", "INSERT"),
        ],
    );
    let root = w.server("analytics", "GET /stats", 0, 3_000);
    w.db(
        "analytics",
        &root,
        1_000,
        vec![
            KeyValue::new("db.namespace", "shop"),
            KeyValue::new("db.collection.name", "users"),
            KeyValue::new("db.operation.name", "SELECT"),
        ],
    );

    // sync_fanout: four POSTs one after another while the caller waits.
    let root = w.server("legacy", "POST /signup", 0, 50_000);
    for (i, callee) in ["crm", "mailer", "billing-legacy", "audit"].iter().enumerate() {
        let t = 1_000 + i as u64 * 10_000;
        w.call("legacy", callee, "POST", "/signup-hook", &root, t, t + 9_000);
    }
    // Look-alike: four GETs whose answers the handler needs.
    let root = w.server("profile-api", "GET /profile", 0, 50_000);
    for (i, callee) in ["accounts", "prefs", "avatars", "badges"].iter().enumerate() {
        let t = 1_000 + i as u64 * 10_000;
        w.call("profile-api", callee, "GET", "/part", &root, t, t + 9_000);
    }
}

/// The analysis of the recording, made once for every test.
fn analysis() -> &'static (Analysis, std::path::PathBuf, tempfile::TempDir) {
    static ONCE: OnceLock<(Analysis, std::path::PathBuf, tempfile::TempDir)> = OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("architecture.jsonl");
        let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 temp path")]);
        let spans = {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            let _guard = rt.enter();
            let mut w = World {
                endpoint: serve.grpc_endpoint(),
                providers: HashMap::new(),
                t0: SystemTime::now() - Duration::from_secs(60),
                spans: 0,
                messages: 0,
            };
            record_all(&mut w);
            for (p, _) in w.providers.values() {
                p.force_flush().expect("an OTLP exporter failed to flush");
                p.shutdown().expect("a tracer provider failed to shut down");
            }
            w.spans
        };
        serve.wait_for_stats(|s| s.stored == spans, Duration::from_secs(20));
        let status = serve.stop();
        assert!(status.success(), "{status}: {:?}", serve.stderr_lines());
        let out = run(&[path.to_str().expect("UTF-8"), "--format", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let a: Analysis = serde_json::from_slice(&out.stdout).expect("analyze --format json");
        (a, path, dir)
    })
}

fn run(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(hopscope_bin());
    cmd.arg("analyze").args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("HOPSCOPE_")) {
            cmd.env_remove(key);
        }
    }
    cmd.output().expect("cannot run hopscope analyze")
}

fn fired(kind: InsightKind) -> Vec<&'static Insight> {
    analysis().0.insights.iter().filter(|i| i.kind == kind).collect()
}

fn subjects(kind: InsightKind) -> Vec<&'static str> {
    fired(kind).iter().map(|i| i.subject.as_str()).collect()
}

/// The style and coordinator of the flow rooted in `service`.
fn style_of(service: &str) -> (FlowStyle, Option<&'static str>) {
    let flows: Vec<_> = analysis().0.flows.iter().filter(|f| f.root.service == service).collect();
    assert_eq!(flows.len(), 1, "one flow rooted in {service}");
    (flows[0].style, flows[0].coordinator.as_deref())
}

#[test]
fn styles_are_read_from_structure() {
    assert_eq!(style_of("trip-saga"), (FlowStyle::Orchestration, Some("trip-saga")));
    assert_eq!(style_of("shop-orders"), (FlowStyle::Choreography, None));
    assert_eq!(style_of("legacy"), (FlowStyle::Sync, None));
    assert_eq!(style_of("hy-audit-api"), (FlowStyle::Hybrid, Some("hy-audit-api")));
    // Names say nothing: "saga" in a service name does not make a coordinator.
    assert_eq!(style_of("tracker"), (FlowStyle::Choreography, None));
}

#[test]
fn sagas_are_orchestrated_or_choreographed() {
    let sagas = &analysis().0.sagas;
    let trip = sagas.iter().find(|s| s.id == "trip-1").expect("saga trip-1");
    assert_eq!(
        (trip.style, trip.coordinator.as_deref()),
        (SagaStyle::Orchestrated, Some("trip-saga"))
    );
    let order = sagas.iter().find(|s| s.id == "order-1").expect("saga order-1");
    assert_eq!((order.style, order.coordinator.as_deref()), (SagaStyle::Choreographed, None));
}

#[test]
fn god_orchestrator_fires_at_five_services_not_three() {
    assert_eq!(subjects(InsightKind::GodOrchestrator), ["mega-saga"]);
    let i = fired(InsightKind::GodOrchestrator)[0];
    assert!(i.detail.contains("5 services"), "{}", i.detail);
    assert_eq!(i.services.len(), 6);
}

#[test]
fn event_soup_fires_on_idle_handlers_not_on_real_work() {
    assert_eq!(subjects(InsightKind::EventSoup), ["tracker POST /track"]);
    let i = fired(InsightKind::EventSoup)[0];
    assert!(i.detail.contains("12.0 events per request"), "{}", i.detail);
}

#[test]
fn schema_chaos_fires_on_versions_not_on_event_types() {
    assert_eq!(subjects(InsightKind::EventSchemaChaos), ["kafka:products"]);
    let i = fired(InsightKind::EventSchemaChaos)[0];
    assert!(i.detail.contains("v2 (3 consumed, 3 failed)"), "{}", i.detail);
    assert!(i.detail.contains("3 deserialization errors"), "{}", i.detail);
}

#[test]
fn distributed_monolith_fires_on_two_writers_not_on_a_reader() {
    assert_eq!(subjects(InsightKind::DistributedMonolith), ["shop.orders"]);
    assert_eq!(fired(InsightKind::DistributedMonolith)[0].services, ["orders-svc", "reporting"]);
}

#[test]
fn sync_fanout_fires_on_side_effects_not_on_reads() {
    assert_eq!(subjects(InsightKind::SyncFanout), ["legacy POST /signup"]);
    let i = fired(InsightKind::SyncFanout)[0];
    assert!(i.detail.contains("crm → mailer → billing-legacy → audit"), "{}", i.detail);
}

#[test]
fn architecture_rows_carry_the_advice() {
    let rows = &analysis().0.architecture;
    let row = |s: &str| rows.iter().find(|r| r.service == s).expect("a row");
    let legacy = row("legacy");
    assert_eq!((legacy.flows, legacy.style), (1, FlowStyle::Sync));
    assert!(legacy.advice.contains("emit one event"), "{}", legacy.advice);
    assert!((legacy.sync_calls_per_flow - 4.0).abs() < 1e-9);
    assert!(!row("profile-api").advice.contains("emit one event"));
    assert_eq!(row("orders-svc").tables_written, ["shop.orders"]);
    let tracker = row("tracker");
    assert!((tracker.events_per_flow - 12.0).abs() < 1e-9);
    assert!(tracker.settle_p50_ns > 0, "the events landed after the caller's answer");
}

#[test]
fn fail_on_takes_an_insight_kind() {
    let path = analysis().1.to_str().expect("UTF-8");
    let out = run(&[path, "--fail-on", "distributed_monolith"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("distributed_monolith: 1 (shop.orders)"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ARCHITECTURE"), "{text}");
    let out = run(&[path, "--fail-on", "cascade_failure", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "no cascade here");
    let out = run(&[path, "--god-orchestrator", "6", "--format", "json"]);
    let a: Analysis = serde_json::from_slice(&out.stdout).expect("json");
    assert!(a.insights.iter().all(|i| i.kind != InsightKind::GodOrchestrator), "threshold 6");
}
