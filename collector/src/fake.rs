//! A deterministic generator of realistic OTLP traffic, shared by tests, benches and the
//! load generator: an event-driven shop where a gateway calls orders synchronously, orders
//! emits `OrderPlaced` to Kafka and RabbitMQ, and consumers pick it up in new traces that
//! link back to the producer. Spans are about 500 bytes encoded, like real HTTP and
//! messaging instrumentation.
//!
//! Its seeded [`Rng`] is the workspace's one random generator: the linker's synthetic shop
//! (`link::synth`) and the TUI's demo draw from it too.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};

/// Spans in one generated flow.
pub const SPANS_PER_FLOW: usize = 6;

/// A seeded pseudo-random generator (SplitMix64): small, fast, and the same on every
/// platform, so a seed names one run of generated data (this module's traffic, the linker's
/// synthetic shop, the TUI's demo).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded; every seed, zero included, gives a full-period sequence.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `[lo, hi)` (`lo` when the range is empty).
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo))
    }

    /// A generator for a sub-task, independent of this one's later draws.
    #[must_use]
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A latency around `median` with a long right tail (log-normal, σ = 0.5), at least
    /// a tenth of the median.
    pub fn latency(&mut self, median: Duration) -> Duration {
        // Box-Muller: a standard normal from two uniforms.
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        median.mul_f64((0.5 * z).exp().clamp(0.1, 8.0))
    }

    /// An exponential inter-arrival gap of mean `1 / rate` seconds, clamped to
    /// [0.05, 4] times the mean so the stream neither bunches up nor stalls.
    pub fn gap(&mut self, rate: f64) -> Duration {
        let mean = 1.0 / rate;
        let x = -(1.0 - self.unit()).ln() * mean;
        Duration::from_secs_f64(x.clamp(0.05 * mean, 4.0 * mean))
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.to_owned()))
}

fn i(key: &str, v: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(v))
}

fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![
            s("service.name", service),
            s("service.version", "1.4.2"),
            s("deployment.environment.name", "dev"),
            s("telemetry.sdk.language", "rust"),
            s("telemetry.sdk.name", "opentelemetry"),
            s("host.name", "devbox"),
        ],
        ..Default::default()
    }
}

/// First Kafka offset. Offsets stay within `[2^48, 2^49)`, so every one encodes as a 7-byte
/// protobuf varint, and a load generator can rewrite offsets in encoded requests in place.
pub const OFFSET_BASE: i64 = 1 << 48;

/// The message id of the message at `offset`: 16 hex digits, fixed width for the same reason.
pub fn message_id(offset: i64) -> String {
    format!("msg-{offset:016x}")
}

/// The generator: call [`Generator::request`] repeatedly for more traffic.
#[derive(Debug, Clone)]
pub struct Generator {
    rng: Rng,
    /// Unix nanoseconds of the next flow's start.
    pub clock: u64,
    offset: i64,
}

impl Generator {
    /// A generator whose first flow starts at `start_unix_nano`.
    pub fn new(seed: u64, start_unix_nano: u64) -> Self {
        Self { rng: Rng::new(seed), clock: start_unix_nano, offset: OFFSET_BASE }
    }

    fn trace_id(&mut self) -> Vec<u8> {
        let mut id = Vec::with_capacity(16);
        id.extend_from_slice(&self.rng.next_u64().to_be_bytes());
        id.extend_from_slice(&(self.rng.next_u64() | 1).to_be_bytes());
        id
    }

    fn span_id(&mut self) -> Vec<u8> {
        (self.rng.next_u64() | 1).to_be_bytes().to_vec()
    }

    /// An OTLP request holding at least `spans` spans (whole flows of
    /// [`SPANS_PER_FLOW`] spans), grouped by service as an SDK batch would be.
    pub fn request(&mut self, spans: usize) -> ExportTraceServiceRequest {
        let flows = spans.div_ceil(SPANS_PER_FLOW).max(1);
        let services = ["gateway", "orders", "payments", "analytics"];
        let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); services.len()];
        for _ in 0..flows {
            let [g, o, p, a] = self.flow();
            by_service[0].extend(g);
            by_service[1].extend(o);
            by_service[2].extend(p);
            by_service[3].extend(a);
        }
        let resource_spans = services
            .iter()
            .zip(by_service)
            .map(|(service, spans)| ResourceSpans {
                resource: Some(resource(service)),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "opentelemetry-instrumentation".into(),
                        version: "0.33.0".into(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: "https://opentelemetry.io/schemas/1.37.0".into(),
            })
            .collect();
        ExportTraceServiceRequest { resource_spans }
    }

    /// One flow: gateway SERVER → gateway CLIENT → orders SERVER → orders PRODUCER (kafka)
    /// → payments CONSUMER (new trace, linked) and analytics CONSUMER (new trace, linked).
    fn flow(&mut self) -> [Vec<Span>; 4] {
        let t0 = self.clock;
        self.clock += 1_000_000 + self.rng.below(4_000_000);
        let trace = self.trace_id();
        let (root, call, server, produce) =
            (self.span_id(), self.span_id(), self.span_id(), self.span_id());
        let order = self.rng.below(1_000_000);
        let ms = 1_000_000;
        let error = self.rng.below(50) == 0;
        let http_server = |id: &[u8], parent: &[u8], name: &str, start: u64, end: u64| Span {
            trace_id: trace.clone(),
            span_id: id.to_vec(),
            parent_span_id: parent.to_vec(),
            name: name.into(),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: vec![
                s("http.request.method", "POST"),
                s("url.path", "/api/orders"),
                s("url.scheme", "http"),
                i("http.response.status_code", if error { 500 } else { 201 }),
                s("http.route", "/api/orders"),
                s("server.address", "orders.internal"),
                i("server.port", 8080),
                s("client.address", "10.1.2.3"),
                s("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) shop-web/2.3"),
                s("network.protocol.version", "1.1"),
            ],
            status: error.then(|| Status {
                message: "internal error".into(),
                code: status::StatusCode::Error as i32,
            }),
            ..Default::default()
        };
        let gateway_root = http_server(&root, &[], "POST /api/orders", t0, t0 + 30 * ms);
        let gateway_call = Span {
            trace_id: trace.clone(),
            span_id: call.clone(),
            parent_span_id: root.clone(),
            name: "POST".into(),
            kind: SpanKind::Client as i32,
            start_time_unix_nano: t0 + ms,
            end_time_unix_nano: t0 + 28 * ms,
            attributes: vec![
                s("http.request.method", "POST"),
                s("url.full", "http://orders.internal:8080/api/orders"),
                s("server.address", "orders.internal"),
                i("server.port", 8080),
                i("http.response.status_code", if error { 500 } else { 201 }),
            ],
            ..Default::default()
        };
        let orders_server =
            http_server(&server, &call, "POST /api/orders", t0 + 2 * ms, t0 + 27 * ms);
        let offset = self.offset;
        self.offset += 1;
        let partition = (order % 3) as i64;
        let message_id = message_id(offset);
        let producer = Span {
            trace_id: trace.clone(),
            span_id: produce.clone(),
            parent_span_id: server.clone(),
            name: "send orders".into(),
            kind: SpanKind::Producer as i32,
            start_time_unix_nano: t0 + 20 * ms,
            end_time_unix_nano: t0 + 22 * ms,
            attributes: vec![
                s("messaging.system", "kafka"),
                s("messaging.destination.name", "orders"),
                s("messaging.operation.type", "send"),
                s("messaging.operation.name", "send"),
                s("messaging.message.id", &message_id),
                s("messaging.destination.partition.id", &partition.to_string()),
                i("messaging.kafka.offset", offset),
                s("messaging.kafka.message.key", &format!("order-{order}")),
                s("server.address", "kafka.internal"),
            ],
            events: vec![Event {
                time_unix_nano: t0 + 21 * ms,
                name: "OrderPlaced".into(),
                attributes: vec![i("order.id", order as i64), s("order.currency", "EUR")],
                dropped_attributes_count: 0,
            }],
            ..Default::default()
        };
        let mut consumer = |service: &str, queue_ms: u64| Span {
            trace_id: self.trace_id(),
            span_id: self.span_id(),
            parent_span_id: Vec::new(),
            name: "process orders".into(),
            kind: SpanKind::Consumer as i32,
            start_time_unix_nano: t0 + (22 + queue_ms) * ms,
            end_time_unix_nano: t0 + (30 + queue_ms) * ms,
            attributes: vec![
                s("messaging.system", "kafka"),
                s("messaging.destination.name", "orders"),
                s("messaging.operation.type", "process"),
                s("messaging.consumer.group.name", service),
                s("messaging.message.id", &message_id),
                s("messaging.destination.partition.id", &partition.to_string()),
                i("messaging.kafka.offset", offset),
            ],
            links: vec![Link {
                trace_id: trace.clone(),
                span_id: produce.clone(),
                attributes: vec![s("messaging.operation.type", "send")],
                ..Default::default()
            }],
            ..Default::default()
        };
        let payments = consumer("payments", 3);
        let analytics = consumer("analytics", 40);
        [
            vec![gateway_root, gateway_call],
            vec![orders_server, producer],
            vec![payments],
            vec![analytics],
        ]
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn spans_are_realistic_in_size_and_deterministic() {
        let req = Generator::new(7, 1_700_000_000_000_000_000).request(600);
        let spans: usize =
            req.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
        assert_eq!(spans, 600);
        let per_span = req.encoded_len() / spans;
        assert!((300..=700).contains(&per_span), "{per_span} bytes per span");
        assert_eq!(req, Generator::new(7, 1_700_000_000_000_000_000).request(600));
    }
}
