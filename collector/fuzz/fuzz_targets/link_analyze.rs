//! Linking and analysis over adversarial span sets: a few trace and span ids (so parents,
//! duplicates, links, cycles and orphans collide), messaging and saga attributes from small
//! vocabularies (so hops, subscriptions and sagas form), any timestamps (0, u64::MAX, end
//! before start). Spans are decoded from OTLP like any request, added in fuzzed batches,
//! analysed, partly evicted and analysed again.
#![no_main]

use arbitrary::Arbitrary;
use hopscope_collector::analysis::{AnalysisOptions, analyze, text};
use hopscope_collector::link::Linker;
use hopscope_collector::model::TraceId;
use hopscope_collector_fuzz::decoder;
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

#[derive(Arbitrary, Debug)]
struct Input {
    spans: Vec<SpanSpec>,
    /// Spans added before each analysis; the rest after.
    split: u8,
    /// Traces evicted between the two analyses.
    evict: Vec<u8>,
    stuck_after: u64,
}

#[derive(Arbitrary, Debug)]
struct SpanSpec {
    trace: u8,
    id: u8,
    parent: Option<u8>,
    kind: u8,
    name: u8,
    service: u8,
    start: Time,
    end: Time,
    error: bool,
    links: Vec<(u8, u8)>,
    messaging: Option<Messaging>,
    saga: Option<Saga>,
}

#[derive(Arbitrary, Debug)]
enum Time {
    Zero,
    Max,
    Near(u16),
    Any(u64),
}

#[derive(Arbitrary, Debug)]
struct Messaging {
    system: u8,
    destination: u8,
    operation: u8,
    message_id: Option<u8>,
    partition_offset: Option<(u8, u8)>,
    group: Option<u8>,
    conversation: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct Saga {
    id: u8,
    name: u8,
    step: u8,
    kind: u8,
    compensates: Option<u8>,
    deadline: Option<u64>,
}

const NAMES: [&str; 10] = [
    "GET /",
    "orders publish",
    "process orders",
    "receive payments",
    "apply_async/tasks.charge",
    "run/tasks.charge",
    "RunWorkflow:Order",
    "RunActivity:Refund",
    "refund payment",
    "orchestration||Ship",
];
const SYSTEMS: [&str; 5] = ["kafka", "rabbitmq", "celery", "", "sqs"];
const OPERATIONS: [&str; 8] =
    ["publish", "send", "receive", "process", "create", "deliver", "settle", ""];
const STEP_KINDS: [&str; 4] = ["action", "compensation", "timeout", "bogus"];

fn trace_id(t: u8) -> Vec<u8> {
    // 0 is the invalid all-zero id, rejected by the decoder.
    vec![t % 6; 16]
}

fn span_id(s: u8) -> Vec<u8> {
    let mut id = vec![0; 8];
    id[7] = s % 24;
    id
}

fn time(t: &Time, base: u64) -> u64 {
    match t {
        Time::Zero => 0,
        Time::Max => u64::MAX,
        Time::Near(d) => base.wrapping_add(u64::from(*d) * 1_000_000),
        Time::Any(v) => *v,
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn s(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

fn otlp_span(spec: &SpanSpec) -> Span {
    const BASE: u64 = 1_700_000_000_000_000_000;
    let mut attributes = Vec::new();
    if let Some(m) = &spec.messaging {
        attributes.push(s("messaging.system", SYSTEMS[usize::from(m.system) % SYSTEMS.len()]));
        attributes.push(s("messaging.destination.name", format!("dest{}", m.destination % 3)));
        attributes.push(s(
            "messaging.operation.type",
            OPERATIONS[usize::from(m.operation) % OPERATIONS.len()],
        ));
        if let Some(id) = m.message_id {
            attributes.push(s("messaging.message.id", format!("m{}", id % 8)));
        }
        if let Some((p, o)) = m.partition_offset {
            attributes.push(s("messaging.destination.partition.id", (p % 2).to_string()));
            attributes
                .push(kv("messaging.kafka.offset", any_value::Value::IntValue(i64::from(o % 8))));
        }
        if let Some(g) = m.group {
            attributes.push(s("messaging.consumer.group.name", format!("g{}", g % 3)));
        }
        if let Some(c) = m.conversation {
            attributes.push(s("messaging.message.conversation_id", format!("c{}", c % 4)));
        }
    }
    if let Some(saga) = &spec.saga {
        attributes.push(s("saga.id", format!("saga{}", saga.id % 3)));
        attributes.push(s("saga.name", format!("Saga{}", saga.name % 2)));
        attributes.push(s("saga.step.name", format!("step{}", saga.step % 4)));
        attributes.push(kv("saga.step.index", any_value::Value::IntValue(i64::from(saga.step))));
        attributes.push(s("saga.step.kind", STEP_KINDS[usize::from(saga.kind) % STEP_KINDS.len()]));
        if let Some(c) = saga.compensates {
            attributes.push(s("saga.step.compensates", format!("step{}", c % 4)));
        }
        if let Some(d) = saga.deadline {
            attributes.push(kv("saga.deadline", any_value::Value::IntValue(d as i64)));
        }
    }
    Span {
        trace_id: trace_id(spec.trace),
        span_id: span_id(spec.id),
        parent_span_id: spec.parent.map(span_id).unwrap_or_default(),
        name: NAMES[usize::from(spec.name) % NAMES.len()].to_owned(),
        kind: i32::from(spec.kind % 7),
        start_time_unix_nano: time(&spec.start, BASE),
        end_time_unix_nano: time(&spec.end, BASE),
        attributes,
        links: spec
            .links
            .iter()
            .take(4)
            .map(|&(t, s)| span::Link {
                trace_id: trace_id(t),
                span_id: span_id(s),
                ..span::Link::default()
            })
            .collect(),
        status: spec.error.then(|| Status { code: 2, message: "boom".into() }),
        ..Span::default()
    }
}

fn request(specs: &[SpanSpec]) -> ExportTraceServiceRequest {
    let resource_spans = specs
        .iter()
        .map(|spec| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", format!("svc{}", spec.service % 4))],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans { spans: vec![otlp_span(spec)], ..ScopeSpans::default() }],
            ..ResourceSpans::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

fuzz_target!(|input: Input| {
    if input.spans.len() > 256 {
        return;
    }
    let spans = decoder().traces(request(&input.spans)).spans;
    let mut linker = Linker::new(decoder().interner().clone());
    let split = usize::from(input.split).min(spans.len());
    let options = |linker: &Linker| {
        AnalysisOptions::at_watermark(linker)
            .stuck_after(std::time::Duration::from_nanos(input.stuck_after))
    };
    linker.add_all(&spans[..split]);
    let first = analyze(&linker, &options(&linker));
    let _ = text::render(&first);
    for span in &spans[split..] {
        linker.add(span);
    }
    let all = analyze(&linker, &options(&linker));
    assert!(all.flows.len() as u64 <= all.summary.traces);
    let _ = text::render(&all);
    let evict: Vec<TraceId> = input
        .evict
        .iter()
        .map(|&t| TraceId::from_bytes(&trace_id(t)).unwrap_or(TraceId([1; 16])))
        .collect();
    linker.evict(&evict);
    let after = analyze(&linker, &options(&linker));
    let _ = text::render(&after);
    // Adding the same spans to a fresh linker in one batch gives the same document.
    let mut fresh = Linker::new(decoder().interner().clone());
    fresh.add_all(&spans);
    let again = analyze(&fresh, &options(&fresh));
    assert_eq!(again.summary, all.summary);
});
