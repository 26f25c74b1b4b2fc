//! A small deterministic generator of realistic flows, in the compact model, for the
//! linker's benchmark and property tests: sync call chains, events fanned out to several
//! subscriptions (links, message ids, Kafka offsets, a consumer under its producer, batch
//! consumers), Celery tasks, and sagas that complete, compensate or get stuck.
//!
//! Spans come out in the order exporters would send them: by end time, so children before
//! their parents and consumers after producers, with a few consumers exported before their
//! producer (an exporter that flushed late).

use std::sync::Arc;

use crate::fake::Rng;
use crate::model::{
    Interner, KeyValue, Keys, Link, Resource, Scope, Span, SpanId, SpanKind, Status, StatusCode,
    TraceId, Value, normalise,
};

const MS: u64 = 1_000_000;

/// The generator. Same seed, same spans.
pub struct Shop {
    interner: Arc<Interner>,
    keys: Keys,
    rng: Rng,
    scope: Arc<Scope>,
    resources: Vec<(&'static str, Arc<Resource>)>,
    /// Unix nanoseconds at which the next flow starts.
    clock: u64,
    next_trace: u64,
    next_span: u64,
    next_offset: i64,
    next_message: u64,
    /// Analytics producers waiting to be consumed in a batch: (trace, span, offset).
    batch: Vec<(TraceId, SpanId, u64)>,
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop").field("clock", &self.clock).finish_non_exhaustive()
    }
}

/// What one span is, before it becomes a [`Span`].
struct Plan<'a> {
    service: &'static str,
    trace: TraceId,
    parent: Option<SpanId>,
    name: &'a str,
    kind: SpanKind,
    start: u64,
    end: u64,
    attrs: Vec<(&'static str, Value)>,
    links: Vec<(TraceId, SpanId)>,
    error: bool,
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

const SERVICES: [&str; 11] = [
    "gateway",
    "orders",
    "inventory",
    "payments",
    "billing",
    "shipping",
    "email",
    "analytics",
    "warehouse",
    "saga-orchestrator",
    "reports",
];

impl Shop {
    /// A generator whose first flow starts at `start_unix_nano`.
    pub fn new(seed: u64, start_unix_nano: u64, interner: Arc<Interner>) -> Self {
        let keys = Keys::new(&interner);
        let resources = SERVICES
            .iter()
            .map(|name| {
                let r = Resource {
                    service: interner.intern(name),
                    attributes: Box::new([KeyValue {
                        key: interner.intern("service.name"),
                        value: s(name),
                    }]),
                    ..Resource::default()
                };
                (*name, Arc::new(r))
            })
            .collect();
        Self {
            interner,
            keys,
            rng: Rng::new(seed),
            scope: Arc::new(Scope { name: "synth".into(), ..Scope::default() }),
            resources,
            clock: start_unix_nano,
            next_trace: seed.wrapping_mul(1_000_003) << 20,
            next_span: 1,
            next_offset: 0,
            next_message: 0,
            batch: Vec::new(),
        }
    }

    /// At least `n` spans (whole flows), in export order.
    pub fn spans(&mut self, n: usize) -> Vec<Span> {
        let mut out = Vec::with_capacity(n + 64);
        while out.len() < n {
            self.flow(&mut out);
        }
        // Exporters send spans when they end.
        out.sort_by_key(|s| s.end_unix_nano);
        // Lay the spans' attributes, links and messaging out in arrival order, as decoding
        // does (after the sort they would be scattered in generation order).
        out.clone()
    }

    fn trace(&mut self) -> TraceId {
        self.next_trace += 1;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.next_trace.to_be_bytes());
        id[8..]
            .copy_from_slice(&(self.next_trace.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_be_bytes());
        TraceId(id)
    }

    fn span_id(&mut self) -> SpanId {
        self.next_span += 1;
        SpanId(self.next_span.to_be_bytes())
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.rng.below(hi - lo + 1)
    }

    fn emit(&mut self, out: &mut Vec<Span>, p: Plan<'_>) -> SpanId {
        let id = self.span_id();
        let i = &self.interner;
        let attributes: Box<[KeyValue]> =
            p.attrs.into_iter().map(|(k, v)| KeyValue { key: i.intern(k), value: v }).collect();
        let messaging =
            normalise(&attributes, p.name, p.kind, &self.keys, &self.interner).map(Box::new);
        let resource = self
            .resources
            .iter()
            .find(|(n, _)| *n == p.service)
            .map_or_else(|| Arc::clone(&self.resources[0].1), |(_, r)| Arc::clone(r));
        out.push(Span {
            trace_id: p.trace,
            span_id: id,
            parent_span_id: p.parent,
            trace_state: Box::default(),
            flags: 1,
            name: i.intern(p.name),
            kind: p.kind,
            start_unix_nano: p.start,
            end_unix_nano: p.end,
            attributes,
            dropped_attributes_count: 0,
            events: Box::default(),
            dropped_events_count: 0,
            links: p
                .links
                .into_iter()
                .map(|(trace_id, span_id)| Link {
                    trace_id,
                    span_id,
                    trace_state: Box::default(),
                    attributes: Box::default(),
                    dropped_attributes_count: 0,
                    flags: 1,
                })
                .collect(),
            dropped_links_count: 0,
            status: if p.error {
                Status { code: StatusCode::Error, message: "failed".into() }
            } else {
                Status::default()
            },
            resource,
            scope: Arc::clone(&self.scope),
            messaging,
        });
        id
    }

    /// A server span with a client call under it to another service's server span.
    #[expect(clippy::too_many_arguments, reason = "a call has this many parts")]
    fn call(
        &mut self,
        out: &mut Vec<Span>,
        trace: TraceId,
        parent: SpanId,
        from: &'static str,
        to: &'static str,
        route: &str,
        start: u64,
        end: u64,
        error: bool,
    ) -> SpanId {
        let http = |method: &str, status: i64| {
            vec![
                ("http.request.method", s(method)),
                ("url.path", s(route)),
                ("http.response.status_code", Value::Int(status)),
            ]
        };
        let status = if error { 500 } else { 200 };
        let client = self.emit(
            out,
            Plan {
                service: from,
                trace,
                parent: Some(parent),
                name: route,
                kind: SpanKind::Client,
                start,
                end,
                attrs: http("POST", status),
                links: Vec::new(),
                error,
            },
        );
        self.emit(
            out,
            Plan {
                service: to,
                trace,
                parent: Some(client),
                name: route,
                kind: SpanKind::Server,
                start: start + MS / 2,
                end: end - MS / 2,
                attrs: http("POST", status),
                links: Vec::new(),
                error,
            },
        )
    }

    fn root(
        &mut self,
        out: &mut Vec<Span>,
        trace: TraceId,
        route: &str,
        start: u64,
        end: u64,
    ) -> SpanId {
        self.emit(
            out,
            Plan {
                service: "gateway",
                trace,
                parent: None,
                name: route,
                kind: SpanKind::Server,
                start,
                end,
                attrs: vec![("http.request.method", s("POST")), ("url.path", s(route))],
                links: Vec::new(),
                error: false,
            },
        )
    }

    /// One flow of a kind picked at random.
    pub fn flow(&mut self, out: &mut Vec<Span>) {
        let start = self.clock;
        self.clock += self.between(MS / 2, 3 * MS);
        match self.rng.below(100) {
            0..40 => self.sync_chain(out, start),
            40..75 => self.order_placed(out, start),
            75..92 => self.saga(out, start),
            _ => self.celery(out, start),
        }
    }

    fn sync_chain(&mut self, out: &mut Vec<Span>, t0: u64) {
        let trace = self.trace();
        let error = self.rng.below(50) == 0;
        let root = self.root(out, trace, "GET /cart", t0, t0 + 40 * MS);
        let orders = self.call(
            out,
            trace,
            root,
            "gateway",
            "orders",
            "GET /orders",
            t0 + MS,
            t0 + 35 * MS,
            error,
        );
        self.call(
            out,
            trace,
            orders,
            "orders",
            "inventory",
            "GET /stock",
            t0 + 3 * MS,
            t0 + 20 * MS,
            error,
        );
        self.call(
            out,
            trace,
            orders,
            "orders",
            "payments",
            "GET /wallet",
            t0 + 21 * MS,
            t0 + 33 * MS,
            false,
        );
    }

    fn message_id(&mut self) -> String {
        self.next_message += 1;
        format!("msg-{}", self.next_message)
    }

    fn order_placed(&mut self, out: &mut Vec<Span>, t0: u64) {
        let trace = self.trace();
        let root = self.root(out, trace, "POST /orders", t0, t0 + 30 * MS);
        let orders = self.call(
            out,
            trace,
            root,
            "gateway",
            "orders",
            "POST /orders",
            t0 + MS,
            t0 + 28 * MS,
            false,
        );
        self.next_offset += 1;
        let offset = self.next_offset;
        let id = self.message_id();
        let sent = t0 + 20 * MS;
        let producer = self.emit(
            out,
            Plan {
                service: "orders",
                trace,
                parent: Some(orders),
                name: "orders.placed send",
                kind: SpanKind::Producer,
                start: sent,
                end: sent + MS,
                attrs: vec![
                    ("messaging.system", s("kafka")),
                    ("messaging.destination.name", s("orders.placed")),
                    ("messaging.operation.type", s("send")),
                    ("messaging.message.id", s(&id)),
                    ("messaging.destination.partition.id", s("0")),
                    ("messaging.kafka.offset", Value::Int(offset)),
                ],
                links: Vec::new(),
                error: false,
            },
        );
        // billing: new trace with a link; shipping: message id only; email: offset only.
        for (service, how) in [("billing", 0), ("shipping", 1), ("email", 2)] {
            let queue = self.between(2 * MS, 40 * MS);
            let c_trace = self.trace();
            let start = sent + MS + queue;
            let mut attrs = vec![
                ("messaging.system", s("kafka")),
                ("messaging.destination.name", s("orders.placed")),
                ("messaging.operation.type", s("process")),
                ("messaging.consumer.group.name", s(service)),
            ];
            let mut links = Vec::new();
            match how {
                0 => links.push((trace, producer)),
                1 => attrs.push(("messaging.message.id", s(&id))),
                _ => {
                    attrs.push(("messaging.destination.partition.id", s("0")));
                    attrs.push(("messaging.kafka.offset", Value::Int(offset)));
                }
            }
            let error = self.rng.below(100) == 0;
            let consumer = self.emit(
                out,
                Plan {
                    service,
                    trace: c_trace,
                    parent: None,
                    name: "orders.placed process",
                    kind: SpanKind::Consumer,
                    start,
                    end: start + 15 * MS,
                    attrs,
                    links,
                    error,
                },
            );
            self.emit(
                out,
                Plan {
                    service,
                    trace: c_trace,
                    parent: Some(consumer),
                    name: "INSERT",
                    kind: SpanKind::Client,
                    start: start + MS,
                    end: start + 10 * MS,
                    attrs: vec![("db.system", s("postgresql"))],
                    links: Vec::new(),
                    error: false,
                },
            );
            // Now and then a redelivery: the same message processed twice.
            if how == 0 && self.rng.below(200) == 0 {
                let again = self.trace();
                self.emit(
                    out,
                    Plan {
                        service,
                        trace: again,
                        parent: None,
                        name: "orders.placed process",
                        kind: SpanKind::Consumer,
                        start: start + 500 * MS,
                        end: start + 510 * MS,
                        attrs: vec![
                            ("messaging.system", s("kafka")),
                            ("messaging.destination.name", s("orders.placed")),
                            ("messaging.operation.type", s("process")),
                            ("messaging.consumer.group.name", s(service)),
                        ],
                        links: vec![(trace, producer)],
                        error: false,
                    },
                );
            }
        }
        // analytics consumes in batches of 8, linking every producer.
        self.batch.push((trace, producer, sent));
        if self.batch.len() == 8 {
            let c_trace = self.trace();
            let start = sent + 50 * MS;
            let links = self.batch.drain(..).map(|(t, s, _)| (t, s)).collect();
            self.emit(
                out,
                Plan {
                    service: "analytics",
                    trace: c_trace,
                    parent: None,
                    name: "orders.placed receive",
                    kind: SpanKind::Consumer,
                    start,
                    end: start + 30 * MS,
                    attrs: vec![
                        ("messaging.system", s("kafka")),
                        ("messaging.destination.name", s("orders.placed")),
                        ("messaging.operation.type", s("receive")),
                        ("messaging.consumer.group.name", s("analytics")),
                        ("messaging.batch.message_count", Value::Int(8)),
                    ],
                    links,
                    error: false,
                },
            );
        }
    }

    fn saga(&mut self, out: &mut Vec<Span>, t0: u64) {
        let trace = self.trace();
        self.next_message += 1;
        let saga_id = format!("order-{}", self.next_message);
        let fate = self.rng.below(20); // 0..15 complete, 15..18 compensate, 18 stuck, 19 fail
        let saga = |step: &str, index: i64, kind: &str| {
            vec![
                ("saga.name", s("place-order")),
                ("saga.id", s(&saga_id)),
                ("saga.step.name", s(step)),
                ("saga.step.index", Value::Int(index)),
                ("saga.step.kind", s(kind)),
            ]
        };
        let root = self.root(out, trace, "POST /checkout", t0, t0 + 25 * MS);
        // Each step runs in its service, reached over RabbitMQ with the context as parent.
        let steps: [(&'static str, &str, &str); 3] = [
            ("inventory", "reserve-stock", "stock"),
            ("payments", "charge-payment", "payments"),
            ("shipping", "schedule-shipping", "shipping"),
        ];
        let mut parent = root;
        let mut at = t0 + 5 * MS;
        let failing = match fate {
            15..18 => Some(2),
            18 | 19 => Some(1),
            _ => None,
        };
        for (i, (service, step, queue)) in steps.iter().enumerate() {
            let publish = self.emit(
                out,
                Plan {
                    service: if i == 0 { "gateway" } else { steps[i - 1].0 },
                    trace,
                    parent: Some(parent),
                    name: &format!("{queue} publish"),
                    kind: SpanKind::Producer,
                    start: at,
                    end: at + MS,
                    attrs: vec![
                        ("messaging.system", s("rabbitmq")),
                        ("messaging.destination.name", s(queue)),
                        ("messaging.operation.type", s("publish")),
                    ],
                    links: Vec::new(),
                    error: false,
                },
            );
            at += MS + self.between(MS, 20 * MS);
            let error = failing == Some(i);
            let mut attrs = saga(step, i as i64 + 1, "action");
            attrs.extend([
                ("messaging.system", s("rabbitmq")),
                ("messaging.destination.name", s(queue)),
                ("messaging.operation.type", s("process")),
            ]);
            parent = self.emit(
                out,
                Plan {
                    service,
                    trace,
                    parent: Some(publish),
                    name: &format!("{queue} process"),
                    kind: SpanKind::Consumer,
                    start: at,
                    end: at + 10 * MS,
                    attrs,
                    links: Vec::new(),
                    error,
                },
            );
            at += 10 * MS;
            if error {
                break;
            }
        }
        let Some(failed) = failing else { return };
        if fate == 18 {
            // Stuck: nobody compensates.
            return;
        }
        for (i, (service, step, _)) in steps.iter().enumerate().take(failed).rev() {
            let undo = match *step {
                "reserve-stock" => "release-stock",
                _ => "refund-payment",
            };
            let mut attrs = saga(undo, 10 + i as i64, "compensation");
            attrs.push(("saga.step.compensates", s(step)));
            self.emit(
                out,
                Plan {
                    service,
                    trace,
                    parent: Some(parent),
                    name: undo,
                    kind: SpanKind::Internal,
                    start: at,
                    end: at + 5 * MS,
                    attrs,
                    links: Vec::new(),
                    error: fate == 19,
                },
            );
            at += 6 * MS;
        }
    }

    fn celery(&mut self, out: &mut Vec<Span>, t0: u64) {
        let trace = self.trace();
        let root = self.root(out, trace, "POST /reports", t0, t0 + 8 * MS);
        self.next_message += 1;
        let task = format!("{:08x}-task", self.next_message);
        let producer = self.emit(
            out,
            Plan {
                service: "gateway",
                trace,
                parent: Some(root),
                name: "apply_async/reports.render",
                kind: SpanKind::Producer,
                start: t0 + 2 * MS,
                end: t0 + 3 * MS,
                attrs: vec![("messaging.message.id", s(&task))],
                links: Vec::new(),
                error: false,
            },
        );
        let c_trace = self.trace();
        let start = t0 + self.between(5 * MS, 200 * MS);
        self.emit(
            out,
            Plan {
                service: "reports",
                trace: c_trace,
                parent: None,
                name: "run/reports.render",
                kind: SpanKind::Consumer,
                start,
                end: start + 100 * MS,
                attrs: vec![("messaging.message.id", s(&task))],
                links: vec![(trace, producer)],
                error: false,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{AnalysisOptions, analyze};
    use crate::link::Linker;

    #[test]
    fn same_seed_same_spans_and_everything_links() {
        let interner = Arc::new(Interner::new());
        let a = Shop::new(7, 1_700_000_000_000_000_000, Arc::clone(&interner)).spans(2_000);
        let b = Shop::new(7, 1_700_000_000_000_000_000, Arc::clone(&interner)).spans(2_000);
        assert_eq!(a, b);
        let mut linker = Linker::new(interner);
        linker.add_all(&a);
        let analysis = analyze(&linker, &AnalysisOptions::at_watermark(&linker));
        assert!(analysis.summary.hops > 100, "{:?}", analysis.summary);
        assert!(analysis.sagas.len() > 10);
        // Every consumer found its producer: no consumer trace is a flow of its own.
        assert!(analysis.flows.iter().all(|f| f.root.service == "gateway"));
    }
}
