//! The OTLP/JSON codec's tests: shared helpers and fixtures; [`encode`] holds the round trips
//! and the file exporter's format, [`decode`] the lenient decoding, errors and limits.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, TracesData};

use super::encode::{write_f64, write_str};
use super::lenient::NESTING;
use super::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

// ----- helpers -----------------------------------------------------------------------

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), key_strindex: 0 }
}

fn string(v: &str) -> Value {
    Value::StringValue(v.into())
}

fn encode(data: &TracesData) -> String {
    let mut out = Vec::new();
    encode_traces_data(data, &mut out);
    String::from_utf8(out).expect("encoder writes UTF-8")
}

fn round_trip(data: &TracesData) -> Vec<ResourceSpans> {
    let json = encode(data);
    decode_traces(json.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{json}")).resource_spans
}

fn decode_ok(json: &str) -> ExportTraceServiceRequest {
    decode_traces(json.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{json}"))
}

fn spans(req: &ExportTraceServiceRequest) -> Vec<&Span> {
    req.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).collect()
}

/// Wraps span objects (JSON text) in a minimal traces document.
fn doc_with_spans(spans: &str) -> String {
    format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{spans}]}}]}}]}}"#)
}

fn only_span(span_json: &str) -> Span {
    let req = decode_ok(&doc_with_spans(span_json));
    let all = spans(&req);
    assert_eq!(all.len(), 1);
    all[0].clone()
}

fn attr_value(span_json_attr_value: &str) -> Option<Value> {
    let span =
        only_span(&format!(r#"{{"attributes":[{{"key":"k","value":{span_json_attr_value}}}]}}"#));
    span.attributes[0].value.as_ref().and_then(|v| v.value.clone())
}

fn trace_id() -> Vec<u8> {
    (1..=16).collect()
}

fn span_id(seed: u8) -> Vec<u8> {
    vec![seed, 2, 3, 4, 5, 6, 7, 8]
}

/// A span with every field set to a non-default value.
fn full_span() -> Span {
    Span {
        trace_id: trace_id(),
        span_id: span_id(0xaa),
        trace_state: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into(),
        parent_span_id: span_id(0xbb),
        flags: 0x301,
        name: "orders publish \"quoted\" \\ \n\t\u{1}\u{7f} ünïcødé 🚀".into(),
        kind: SpanKind::Producer as i32,
        start_time_unix_nano: 1_544_712_660_000_000_000,
        end_time_unix_nano: u64::MAX,
        attributes: vec![
            kv("str", string("value")),
            kv("empty.str", string("")),
            kv("bool.true", Value::BoolValue(true)),
            kv("bool.false", Value::BoolValue(false)),
            kv("int.max", Value::IntValue(i64::MAX)),
            kv("int.min", Value::IntValue(i64::MIN)),
            kv("int.zero", Value::IntValue(0)),
            kv("double", Value::DoubleValue(3.25)),
            kv("double.tiny", Value::DoubleValue(5e-324)),
            kv("double.huge", Value::DoubleValue(1.797_693_134_862_315_7e308)),
            kv("double.neg.zero", Value::DoubleValue(-0.0)),
            kv("double.inf", Value::DoubleValue(f64::INFINITY)),
            kv("double.neg.inf", Value::DoubleValue(f64::NEG_INFINITY)),
            kv("bytes", Value::BytesValue(vec![0, 1, 2, 0xfe, 0xff])),
            kv("bytes.empty", Value::BytesValue(vec![])),
            kv(
                "array",
                Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue { value: Some(string("a")) },
                        AnyValue { value: None },
                        AnyValue { value: Some(Value::IntValue(-7)) },
                        AnyValue {
                            value: Some(Value::ArrayValue(ArrayValue {
                                values: vec![AnyValue { value: Some(Value::BoolValue(true)) }],
                            })),
                        },
                    ],
                }),
            ),
            kv("array.empty", Value::ArrayValue(ArrayValue::default())),
            kv(
                "kvlist",
                Value::KvlistValue(KeyValueList {
                    values: vec![
                        kv("nested", string("x")),
                        KeyValue { key: "no.value".into(), value: None, key_strindex: 0 },
                        KeyValue {
                            key: "empty.value".into(),
                            value: Some(AnyValue { value: None }),
                            key_strindex: 0,
                        },
                        kv(
                            "deeper",
                            Value::KvlistValue(KeyValueList {
                                values: vec![kv("bytes", Value::BytesValue(vec![9; 7]))],
                            }),
                        ),
                    ],
                }),
            ),
            kv("kvlist.empty", Value::KvlistValue(KeyValueList::default())),
            KeyValue { key: String::new(), value: None, key_strindex: 3 },
            kv("strindex", Value::StringValueStrindex(42)),
        ],
        dropped_attributes_count: 5,
        events: vec![
            Event {
                time_unix_nano: 1_544_712_660_500_000_000,
                name: "exception".into(),
                attributes: vec![kv("exception.type", string("TimeoutError"))],
                dropped_attributes_count: 2,
            },
            Event::default(),
        ],
        dropped_events_count: 6,
        links: vec![
            Link {
                trace_id: (17..=32).collect(),
                span_id: span_id(0xcc),
                trace_state: "vendor=1".into(),
                attributes: vec![kv("messaging.message.id", string("m-1"))],
                dropped_attributes_count: 3,
                flags: 0x101,
            },
            Link::default(),
        ],
        dropped_links_count: 7,
        status: Some(Status { message: "payment declined".into(), code: 2 }),
    }
}

/// A document covering every field of every message the encoder writes.
fn every_field() -> TracesData {
    TracesData {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", string("checkout")),
                        kv("service.instance.id", Value::IntValue(12)),
                    ],
                    dropped_attributes_count: 1,
                    entity_refs: vec![EntityRef {
                        schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
                        r#type: "service".into(),
                        id_keys: vec!["service.name".into(), "service.namespace".into()],
                        description_keys: vec!["service.version".into()],
                    }],
                }),
                scope_spans: vec![
                    ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "io.opentelemetry.kafka".into(),
                            version: "2.1.0".into(),
                            attributes: vec![kv("scope.attr", Value::DoubleValue(0.5))],
                            dropped_attributes_count: 4,
                        }),
                        spans: vec![full_span(), Span::default()],
                        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
                    },
                    ScopeSpans {
                        scope: Some(InstrumentationScope::default()),
                        spans: vec![Span {
                            status: Some(Status::default()),
                            trace_id: vec![0xab, 0xcd, 0xef],
                            span_id: vec![],
                            ..full_span()
                        }],
                        schema_url: String::new(),
                    },
                    ScopeSpans::default(),
                ],
                schema_url: "https://opentelemetry.io/schemas/1.24.0".into(),
            },
            ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![],
                schema_url: String::new(),
            },
            ResourceSpans::default(),
        ],
    }
}

mod decode;
mod encode;
