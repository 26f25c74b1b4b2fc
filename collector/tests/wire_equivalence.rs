//! The hand-written OTLP protobuf reader (`otlp::wire`) against prost + `Decoder::traces`:
//! for any request prost encodes, both give the same spans, rejections and first error; for
//! any bytes at all (corrupted requests, random field trees with groups, wrong wire types,
//! merged duplicate messages, deep nesting), both fail or both give the same result.

use std::sync::Arc;

use hopscope_collector::model::Interner;
use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector::otlp::wire;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, TracesData};
use proptest::collection::vec;
use proptest::prelude::*;
use prost::Message;

/// What a decoding gave, comparable: the spans' debug form (symbols included: both paths
/// intern into the same interner), the rejected count and the first error.
type Outcome = Result<(String, u64, Option<String>), String>;

fn via_prost(decoder: &Decoder, bytes: &[u8]) -> Outcome {
    let req = ExportTraceServiceRequest::decode(bytes).map_err(|e| e.to_string())?;
    let d = decoder.traces(req);
    Ok((format!("{:?}", d.spans), d.rejected, d.first_error))
}

fn via_wire(decoder: &Decoder, bytes: &[u8]) -> Outcome {
    let d = wire::decode_traces(decoder, bytes).map_err(|e| e.to_string())?;
    Ok((format!("{:?}", d.spans), d.rejected, d.first_error))
}

/// Both fail, or both give the same.
fn assert_same(bytes: &[u8]) -> Result<(), TestCaseError> {
    let decoder = Decoder::new(Arc::new(Interner::new()));
    let prost = via_prost(&decoder, bytes);
    let wire = via_wire(&decoder, bytes);
    match (&prost, &wire) {
        (Ok(p), Ok(w)) => prop_assert_eq!(p, w, "bytes {:02x?}", bytes),
        (Err(_), Err(_)) => {}
        _ => prop_assert!(false, "prost {prost:?}\nwire {wire:?}\nbytes {bytes:02x?}"),
    }
    Ok(())
}

// ---- Requests prost can encode ----

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "service.name",
            "messaging.system",
            "messaging.destination.name",
            "messaging.destination",
            "messaging.operation",
            "messaging.operation.type",
            "messaging.message.id",
            "messaging.kafka.partition",
            "messaging.kafka.message.offset",
            "messaging.kafka.consumer.group",
            "http.request.method",
            "",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,10}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(vec![
            "kafka", "rabbitmq", "orders", "publish", "send", "process", "receive", "deliver",
            "create", "orders.3.1234", "", "a string that is longer than twenty-four bytes",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,30}",
    ]
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        Just(None),
        text().prop_map(V::StringValue).prop_map(Some),
        any::<bool>().prop_map(V::BoolValue).prop_map(Some),
        any::<i64>().prop_map(V::IntValue).prop_map(Some),
        any::<f64>().prop_map(V::DoubleValue).prop_map(Some),
        vec(any::<u8>(), 0..12).prop_map(V::BytesValue).prop_map(Some),
        any::<i32>().prop_map(V::StringValueStrindex).prop_map(Some),
    ]
    .prop_map(|value| AnyValue { value });
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|values| Some(V::ArrayValue(ArrayValue { values }))),
            vec((key(), proptest::option::of(inner), any::<i32>()), 0..4).prop_map(|kvs| {
                let values = kvs
                    .into_iter()
                    .map(|(key, value, key_strindex)| KeyValue { key, value, key_strindex })
                    .collect();
                Some(V::KvlistValue(KeyValueList { values }))
            }),
        ]
        .prop_map(|value| AnyValue { value })
    })
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    vec(
        (key(), proptest::option::of(any_value()), prop_oneof![4 => Just(0), 1 => any::<i32>()]),
        0..6,
    )
    .prop_map(|kvs| {
        kvs.into_iter()
            .map(|(key, value, key_strindex)| KeyValue { key, value, key_strindex })
            .collect()
    })
}

fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => vec(any::<u8>(), len),
        1 => Just(vec![0; len]),
        1 => vec(any::<u8>(), 0..20),
    ]
}

fn span_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "orders publish",
            "process orders",
            "send payments",
            "apply_async/tasks.add",
            "run/tasks.add",
            "GET /orders/{id}",
            "",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,16}",
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (any::<u64>(), span_name(), attributes(), any::<u32>()).prop_map(
        |(time_unix_nano, name, attributes, dropped_attributes_count)| Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count,
        },
    )
}

fn link() -> impl Strategy<Value = Link> {
    (id(16), id(8), text(), attributes(), any::<u32>(), any::<u32>()).prop_map(
        |(trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags)| Link {
            trace_id,
            span_id,
            trace_state,
            attributes,
            dropped_attributes_count,
            flags,
        },
    )
}

fn span() -> impl Strategy<Value = Span> {
    (
        (id(16), id(8), prop_oneof![Just(Vec::new()), id(8)], text(), any::<u32>()),
        (span_name(), -1..7i32, any::<u64>(), any::<u64>()),
        (attributes(), any::<u32>(), vec(event(), 0..3), any::<u32>()),
        (vec(link(), 0..3), any::<u32>()),
        proptest::option::of((text(), -1..4i32)),
    )
        .prop_map(
            |(
                (trace_id, span_id, parent_span_id, trace_state, flags),
                (name, kind, start_time_unix_nano, end_time_unix_nano),
                (attributes, dropped_attributes_count, events, dropped_events_count),
                (links, dropped_links_count),
                status,
            )| Span {
                trace_id,
                span_id,
                trace_state,
                parent_span_id,
                flags,
                name,
                kind,
                start_time_unix_nano,
                end_time_unix_nano,
                attributes,
                dropped_attributes_count,
                events,
                dropped_events_count,
                links,
                dropped_links_count,
                status: status.map(|(message, code)| Status { message, code }),
            },
        )
}

fn resource() -> impl Strategy<Value = Option<Resource>> {
    let entity = (text(), text(), vec(text(), 0..2), vec(text(), 0..2)).prop_map(
        |(schema_url, r#type, id_keys, description_keys)| EntityRef {
            schema_url,
            r#type,
            id_keys,
            description_keys,
        },
    );
    proptest::option::of((attributes(), any::<u32>(), vec(entity, 0..2)).prop_map(
        |(attributes, dropped_attributes_count, entity_refs)| Resource {
            attributes,
            dropped_attributes_count,
            entity_refs,
        },
    ))
}

fn scope_spans() -> impl Strategy<Value = ScopeSpans> {
    let scope = proptest::option::of((text(), text(), attributes(), any::<u32>()).prop_map(
        |(name, version, attributes, dropped_attributes_count)| InstrumentationScope {
            name,
            version,
            attributes,
            dropped_attributes_count,
        },
    ));
    (scope, vec(span(), 0..4), text()).prop_map(|(scope, spans, schema_url)| ScopeSpans {
        scope,
        spans,
        schema_url,
    })
}

fn request() -> impl Strategy<Value = ExportTraceServiceRequest> {
    vec((resource(), vec(scope_spans(), 0..3), text()), 0..3).prop_map(|rs| {
        ExportTraceServiceRequest {
            resource_spans: rs
                .into_iter()
                .map(|(resource, scope_spans, schema_url)| ResourceSpans {
                    resource,
                    scope_spans,
                    schema_url,
                })
                .collect(),
        }
    })
}

// ---- Raw protobuf, whatever prost would make of it ----

/// A field of a hand-made message: any number, any wire type, groups included.
#[derive(Debug, Clone)]
enum Field {
    Varint(u32, u64),
    Fixed64(u32, u64),
    Fixed32(u32, u32),
    Bytes(u32, Vec<u8>),
    Message(u32, Vec<Field>),
    Group(u32, Vec<Field>),
    /// A varint field written with `continuation` bytes of 0x80..=0xff before `last`: over
    /// long, non-canonical, or past the 64th bit.
    LongVarint(u32, Vec<u8>, u8),
}

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(field: u32, wire_type: u8, out: &mut Vec<u8>) {
    put_varint(u64::from(field) << 3 | u64::from(wire_type), out);
}

fn put_len(field: u32, bytes: &[u8], out: &mut Vec<u8>) {
    put_key(field, 2, out);
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn encode_fields(fields: &[Field], out: &mut Vec<u8>) {
    for f in fields {
        match f {
            Field::Varint(n, v) => {
                put_key(*n, 0, out);
                put_varint(*v, out);
            }
            Field::Fixed64(n, v) => {
                put_key(*n, 1, out);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Field::Fixed32(n, v) => {
                put_key(*n, 5, out);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Field::Bytes(n, b) => put_len(*n, b, out),
            Field::Message(n, inner) => {
                let mut body = Vec::new();
                encode_fields(inner, &mut body);
                put_len(*n, &body, out);
            }
            Field::Group(n, inner) => {
                put_key(*n, 3, out);
                encode_fields(inner, out);
                put_key(*n, 4, out);
            }
            Field::LongVarint(n, continuation, last) => {
                put_key(*n, 0, out);
                out.extend(continuation.iter().map(|b| b | 0x80));
                out.push(*last);
            }
        }
    }
}

fn field_tree() -> impl Strategy<Value = Vec<Field>> {
    let number = prop_oneof![8 => 1..17u32, 1 => 17..40u32, 1 => Just(1000u32)];
    let bytes = prop_oneof![
        vec(any::<u8>(), 0..8),
        Just(vec![0xff, 0xfe]),
        Just(b"ok".to_vec()),
        Just(vec![7; 16]),
        Just(vec![3; 8]),
    ];
    let leaf = prop_oneof![
        (number.clone(), any::<u64>()).prop_map(|(n, v)| Field::Varint(n, v)),
        (number.clone(), any::<u64>()).prop_map(|(n, v)| Field::Fixed64(n, v)),
        (number.clone(), any::<u32>()).prop_map(|(n, v)| Field::Fixed32(n, v)),
        (number.clone(), bytes).prop_map(|(n, b)| Field::Bytes(n, b)),
        (number.clone(), vec(any::<u8>(), 8..11), 0..4u8)
            .prop_map(|(n, c, last)| Field::LongVarint(n, c, last)),
    ];
    let field = leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            3 => (number.clone(), vec(inner.clone(), 0..6)).prop_map(|(n, f)| Field::Message(n, f)),
            1 => (number.clone(), vec(inner, 0..4)).prop_map(|(n, f)| Field::Group(n, f)),
        ]
    });
    vec(field, 0..6)
}

/// A request whose resource spans / spans / attributes each consist of two encoded
/// messages back to back, which protobuf reads as one merged message.
fn merged(a: &Span, b: &Span, ra: &ResourceSpans, rb: &ResourceSpans) -> Vec<u8> {
    let mut span = a.encode_to_vec();
    span.extend(b.encode_to_vec());
    // An attribute made of two KeyValues: values merged (two arrays append, a scalar wins).
    let kv = |v: V| KeyValue {
        key: "k".into(),
        value: Some(AnyValue { value: Some(v) }),
        key_strindex: 0,
    };
    let arr = |i: i64| {
        V::ArrayValue(ArrayValue { values: vec![AnyValue { value: Some(V::IntValue(i)) }] })
    };
    let mut attribute = kv(arr(1)).encode_to_vec();
    attribute.extend(kv(arr(2)).encode_to_vec());
    attribute.extend(kv(V::KvlistValue(KeyValueList::default())).encode_to_vec());
    attribute.extend(
        kv(V::KvlistValue(KeyValueList { values: vec![kv(V::BoolValue(true))] })).encode_to_vec(),
    );
    let mut attribute2 = kv(V::StringValue("x".into())).encode_to_vec();
    attribute2.extend(kv(arr(3)).encode_to_vec());
    attribute2.extend(kv(arr(4)).encode_to_vec());
    put_len(9, &attribute, &mut span);
    put_len(9, &attribute2, &mut span);
    let mut scope_spans = Vec::new();
    put_len(2, &span, &mut scope_spans);
    let mut rs = Vec::new();
    put_len(2, &scope_spans, &mut rs);
    rs.extend(ra.encode_to_vec());
    rs.extend(rb.encode_to_vec());
    let mut out = Vec::new();
    put_len(1, &rs, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn same_as_prost_for_any_request(req in request()) {
        let bytes = req.encode_to_vec();
        let decoder = Decoder::new(Arc::new(Interner::new()));
        let prost = via_prost(&decoder, &bytes);
        prop_assert!(prost.is_ok());
        prop_assert_eq!(&prost, &via_wire(&decoder, &bytes));
        prop_assert_eq!(wire::count_spans(&bytes), Ok(Decoder::count_spans(&req)));
        // A TracesData is the same bytes.
        let data = TracesData { resource_spans: req.resource_spans };
        prop_assert_eq!(data.encode_to_vec(), bytes);
    }

    #[test]
    fn same_as_prost_for_corrupted_requests(
        req in request(),
        edits in vec((0..4u8, any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = req.encode_to_vec();
        for (what, at, byte) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match what {
                0 => bytes.truncate(i),
                1 => bytes[i] = byte,
                2 => bytes.insert(i, byte),
                _ => _ = bytes.remove(i),
            }
        }
        assert_same(&bytes)?;
    }

    #[test]
    fn same_as_prost_for_random_field_trees(fields in field_tree(), nest in 0..5usize) {
        // The tree at several depths: as the request, as a ResourceSpans, as a span...
        let mut bytes = Vec::new();
        encode_fields(&fields, &mut bytes);
        for n in [2u32, 2, 1, 9, 2][..nest].iter().rev() {
            let mut outer = Vec::new();
            put_len(*n, &bytes, &mut outer);
            bytes = outer;
        }
        assert_same(&bytes)?;
    }

    #[test]
    fn same_as_prost_for_random_bytes(bytes in vec(any::<u8>(), 0..64)) {
        assert_same(&bytes)?;
    }

    #[test]
    fn same_as_prost_for_merged_messages(
        a in span(),
        b in span(),
        ra in (resource(), text()),
        rb in (resource(), text()),
    ) {
        let ra = ResourceSpans { resource: ra.0, scope_spans: Vec::new(), schema_url: ra.1 };
        let rb = ResourceSpans { resource: rb.0, scope_spans: Vec::new(), schema_url: rb.1 };
        let bytes = merged(&a, &b, &ra, &rb);
        let decoder = Decoder::new(Arc::new(Interner::new()));
        let prost = via_prost(&decoder, &bytes);
        prop_assert!(prost.is_ok(), "{prost:?}");
        prop_assert_eq!(prost, via_wire(&decoder, &bytes));
    }
}

/// `AnyValue` arrays nested `depth` deep inside one span attribute.
fn nested(depth: usize) -> Vec<u8> {
    let mut value = AnyValue { value: Some(V::IntValue(1)) };
    for _ in 0..depth {
        value = AnyValue { value: Some(V::ArrayValue(ArrayValue { values: vec![value] })) };
    }
    let span = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        attributes: vec![KeyValue { key: "deep".into(), value: Some(value), key_strindex: 0 }],
        ..Span::default()
    };
    let rs = ResourceSpans {
        scope_spans: vec![ScopeSpans { spans: vec![span], ..ScopeSpans::default() }],
        ..ResourceSpans::default()
    };
    ExportTraceServiceRequest { resource_spans: vec![rs] }.encode_to_vec()
}

#[test]
fn recursion_limit_is_prosts() {
    let decoder = Decoder::new(Arc::new(Interner::new()));
    let mut saw = (false, false);
    for depth in 40..60 {
        let bytes = nested(depth);
        match (via_prost(&decoder, &bytes), via_wire(&decoder, &bytes)) {
            (Ok(p), Ok(w)) => {
                assert_eq!(p, w, "depth {depth}");
                saw.0 = true;
            }
            (Err(_), Err(e)) => {
                assert!(e.ends_with("ArrayValue.values: recursion limit reached"), "{e}");
                saw.1 = true;
            }
            (p, w) => panic!("depth {depth}: prost {p:?}, wire {w:?}"),
        }
    }
    assert_eq!(saw, (true, true), "the limit falls between depths 40 and 60");
}

#[test]
fn invalid_utf8_is_an_error_naming_the_field() {
    let span =
        Span { trace_id: vec![1; 16], span_id: vec![2; 8], name: "NAME".into(), ..Span::default() };
    let rs = ResourceSpans {
        scope_spans: vec![ScopeSpans { spans: vec![span], ..ScopeSpans::default() }],
        ..ResourceSpans::default()
    };
    let mut bytes = ExportTraceServiceRequest { resource_spans: vec![rs] }.encode_to_vec();
    let at = bytes.windows(4).position(|w| w == b"NAME").expect("name in the message");
    bytes[at] = 0xff;
    let decoder = Decoder::new(Arc::new(Interner::new()));
    assert!(via_prost(&decoder, &bytes).is_err());
    let err = wire::decode_traces(&decoder, &bytes).expect_err("invalid UTF-8");
    assert_eq!(
        err.to_string(),
        "failed to decode Protobuf message: Span.name: invalid string value: data is not UTF-8 \
         encoded"
    );
}

#[test]
fn unknown_fields_and_groups_are_skipped() {
    let span = Span { trace_id: vec![1; 16], span_id: vec![2; 8], ..Span::default() };
    let mut span_bytes = span.encode_to_vec();
    // Field 99 as a group holding a varint, a nested group and bytes; field 98 as fixed32.
    encode_fields(
        &[
            Field::Group(
                99,
                vec![
                    Field::Varint(1, 5),
                    Field::Group(2, vec![Field::Fixed64(3, 1)]),
                    Field::Bytes(4, vec![0xff]),
                ],
            ),
            Field::Fixed32(98, 7),
        ],
        &mut span_bytes,
    );
    let mut ss = Vec::new();
    put_len(2, &span_bytes, &mut ss);
    let mut rs = Vec::new();
    put_len(2, &ss, &mut rs);
    let mut bytes = Vec::new();
    put_len(1, &rs, &mut bytes);
    let decoder = Decoder::new(Arc::new(Interner::new()));
    let wire = via_wire(&decoder, &bytes);
    assert_eq!(via_prost(&decoder, &bytes), wire);
    assert_eq!(wire::decode_traces(&decoder, &bytes).map(|d| d.spans.len()), Ok(1));

    // An end-group tag that closes nothing, or another group, fails in both.
    for bad in [vec![0x0c], vec![0x0b, 0x14]] {
        assert!(via_prost(&decoder, &bad).is_err());
        assert!(via_wire(&decoder, &bad).is_err(), "{bad:?}");
    }
}

#[test]
fn rejections_match() {
    let good = Span { trace_id: vec![1; 16], span_id: vec![2; 8], ..Span::default() };
    let spans = vec![
        good.clone(),
        Span { trace_id: vec![0; 16], ..good.clone() },
        Span { span_id: vec![1; 7], ..good.clone() },
        Span { parent_span_id: vec![1; 3], ..good.clone() },
        good,
    ];
    let rs = ResourceSpans {
        scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
        ..ResourceSpans::default()
    };
    let bytes = ExportTraceServiceRequest { resource_spans: vec![rs] }.encode_to_vec();
    let decoder = Decoder::new(Arc::new(Interner::new()));
    let d = wire::decode_traces(&decoder, &bytes).expect("decodes");
    assert_eq!((d.spans.len(), d.rejected), (2, 3));
    assert_eq!(
        d.first_error.as_deref(),
        Some(
            "resource_spans[0].scope_spans[0].spans[1]: trace_id is all zeros (and 2 more spans \
             rejected)"
        )
    );
    assert_eq!(via_prost(&decoder, &bytes), via_wire(&decoder, &bytes));
}
