//! Encoding: round trips (also through protobuf's nesting limit), the file exporter's
//! format, escaping, doubles, responses and statuses.

use super::*;

// ----- round trip ----------------------------------------------------------------------

#[test]
fn json_round_trip_covers_every_field() {
    let data = every_field();
    assert_eq!(round_trip(&data), data.resource_spans);
}

#[test]
fn json_round_trip_edge_documents() {
    for data in [
        TracesData::default(),
        TracesData { resource_spans: vec![ResourceSpans::default()] },
        TracesData {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span { kind: -3, flags: u32::MAX, ..Span::default() }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        },
    ] {
        assert_eq!(round_trip(&data), data.resource_spans);
    }
}

#[test]
fn json_encode_matches_file_exporter_format() {
    let data = TracesData {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", string("api"))],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope { name: "lib".into(), ..Default::default() }),
                spans: vec![Span {
                    trace_id: vec![0xAB; 16],
                    span_id: vec![0x0C; 8],
                    name: "GET /".into(),
                    kind: 2,
                    start_time_unix_nano: 1,
                    end_time_unix_nano: 20,
                    attributes: vec![
                        kv("http.status_code", Value::IntValue(200)),
                        kv("ratio", Value::DoubleValue(f64::NAN)),
                        kv("raw", Value::BytesValue(b"hi?".to_vec())),
                    ],
                    status: Some(Status { message: String::new(), code: 2 }),
                    ..Span::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    let expected = concat!(
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","#,
        r#""value":{"stringValue":"api"}}]},"scopeSpans":[{"scope":{"name":"lib"},"#,
        r#""spans":[{"traceId":"abababababababababababababababab","spanId":"0c0c0c0c0c0c0c0c","#,
        r#""name":"GET /","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"20","#,
        r#""attributes":[{"key":"http.status_code","value":{"intValue":"200"}},"#,
        r#"{"key":"ratio","value":{"doubleValue":"NaN"}},"#,
        r#"{"key":"raw","value":{"bytesValue":"aGk/"}}],"status":{"code":2}}]}]}]}"#,
    );
    assert_eq!(encode(&data), expected);
    // And it is valid JSON by an independent parser.
    serde_json::from_str::<serde_json::Value>(expected).expect("valid JSON");
}

#[test]
fn json_encode_escapes_strings_for_an_independent_parser() {
    let nasty = "q\"b\\s/\u{0}\u{1f}\u{8}\u{c}\n\r\t\u{7f}\u{2028}é🚀";
    let mut out = Vec::new();
    write_str(&mut out, nasty);
    let back: String = serde_json::from_slice(&out).expect("valid JSON string");
    assert_eq!(back, nasty);
    assert!(!out.iter().any(|b| *b < 0x20), "raw control byte in {out:?}");
}

#[test]
fn json_encode_doubles() {
    for (v, text) in [
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (1e16, "1e16"),
        (1.5e-7, "1.5e-7"),
        (f64::NAN, "\"NaN\""),
        (f64::INFINITY, "\"Infinity\""),
        (f64::NEG_INFINITY, "\"-Infinity\""),
    ] {
        let mut out = Vec::new();
        write_f64(&mut out, v);
        assert_eq!(String::from_utf8_lossy(&out), text);
    }
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z._]{0,12}"]
}

fn arb_any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        Just(None),
        arb_string().prop_map(|s| Some(Value::StringValue(s))),
        any::<bool>().prop_map(|b| Some(Value::BoolValue(b))),
        any::<i64>().prop_map(|i| Some(Value::IntValue(i))),
        any::<f64>()
            .prop_filter("NaN never equals itself", |d| !d.is_nan())
            .prop_map(|d| Some(Value::DoubleValue(d))),
        vec(any::<u8>(), 0..12).prop_map(|b| Some(Value::BytesValue(b))),
    ]
    .prop_map(|value| AnyValue { value });
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values }))
            }),
            vec((arb_string(), option::of(inner)), 0..4).prop_map(|kvs| AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: kvs
                        .into_iter()
                        .map(|(key, value)| KeyValue { key, value, key_strindex: 0 })
                        .collect(),
                }))
            }),
        ]
    })
}

fn arb_attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    vec((arb_string(), option::of(arb_any_value())), 0..4).prop_map(|kvs| {
        kvs.into_iter().map(|(key, value)| KeyValue { key, value, key_strindex: 0 }).collect()
    })
}

fn arb_id() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 16), vec(any::<u8>(), 8), vec(any::<u8>(), 0..20)]
}

fn arb_event() -> impl Strategy<Value = Event> {
    (any::<u64>(), arb_string(), arb_attributes(), any::<u32>()).prop_map(
        |(time_unix_nano, name, attributes, dropped_attributes_count)| Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count,
        },
    )
}

fn arb_link() -> impl Strategy<Value = Link> {
    (arb_id(), arb_id(), arb_string(), arb_attributes(), any::<u32>(), any::<u32>()).prop_map(
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

fn arb_span() -> impl Strategy<Value = Span> {
    let ids_and_names = (arb_id(), arb_id(), arb_string(), arb_id(), any::<u32>(), arb_string());
    let times = (any::<i32>(), any::<u64>(), any::<u64>(), arb_attributes(), any::<u32>());
    let children = (
        vec(arb_event(), 0..3),
        any::<u32>(),
        vec(arb_link(), 0..3),
        any::<u32>(),
        option::of((arb_string(), any::<i32>())),
    );
    (ids_and_names, times, children).prop_map(
        |(
            (trace_id, span_id, trace_state, parent_span_id, flags, name),
            (kind, start_time_unix_nano, end_time_unix_nano, attributes, dropped_attributes),
            (events, dropped_events_count, links, dropped_links_count, status),
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
            dropped_attributes_count: dropped_attributes,
            events,
            dropped_events_count,
            links,
            dropped_links_count,
            status: status.map(|(message, code)| Status { message, code }),
        },
    )
}

fn arb_traces_data() -> impl Strategy<Value = TracesData> {
    let scope =
        option::of((arb_string(), arb_string(), arb_attributes(), any::<u32>())).prop_map(|s| {
            s.map(|(name, version, attributes, dropped_attributes_count)| InstrumentationScope {
                name,
                version,
                attributes,
                dropped_attributes_count,
            })
        });
    let scope_spans = (scope, vec(arb_span(), 0..3), arb_string())
        .prop_map(|(scope, spans, schema_url)| ScopeSpans { scope, spans, schema_url });
    let resource = option::of((arb_attributes(), any::<u32>())).prop_map(|r| {
        r.map(|(attributes, dropped_attributes_count)| Resource {
            attributes,
            dropped_attributes_count,
            entity_refs: vec![],
        })
    });
    let resource_spans = (resource, vec(scope_spans, 0..3), arb_string()).prop_map(
        |(resource, scope_spans, schema_url)| ResourceSpans { resource, scope_spans, schema_url },
    );
    vec(resource_spans, 0..3).prop_map(|resource_spans| TracesData { resource_spans })
}

/// What serde_json's float parser makes of the text we write for `d`: `d` itself with
/// serde_json's `float_roundtrip` feature; without it, serde_json's faster parser may be
/// a few ULPs off for extreme exponents. The text itself must be exact (checked with
/// Rust's correctly rounding parser), so the encoder is held to exact round trips.
fn as_parsed(d: f64) -> f64 {
    if !d.is_finite() {
        return d;
    }
    let mut out = Vec::new();
    write_f64(&mut out, d);
    let text = std::str::from_utf8(&out).expect("ASCII");
    let exact: f64 = text.parse().expect("a float");
    assert_eq!(exact.to_bits(), d.to_bits(), "{d:?} written as {text}");
    serde_json::from_slice(&out).expect("a JSON number")
}

fn normalize_value(v: &mut AnyValue) {
    match &mut v.value {
        Some(Value::DoubleValue(d)) => *d = as_parsed(*d),
        Some(Value::ArrayValue(a)) => a.values.iter_mut().for_each(normalize_value),
        Some(Value::KvlistValue(kvs)) => normalize_attributes(&mut kvs.values),
        _ => {}
    }
}

fn normalize_attributes(kvs: &mut [KeyValue]) {
    kvs.iter_mut().filter_map(|kv| kv.value.as_mut()).for_each(normalize_value);
}

/// `data` with its doubles as serde_json parses them (see [`as_parsed`]).
fn normalize_doubles(mut data: TracesData) -> TracesData {
    for rs in &mut data.resource_spans {
        if let Some(r) = &mut rs.resource {
            normalize_attributes(&mut r.attributes);
        }
        for ss in &mut rs.scope_spans {
            if let Some(s) = &mut ss.scope {
                normalize_attributes(&mut s.attributes);
            }
            for span in &mut ss.spans {
                normalize_attributes(&mut span.attributes);
                span.events.iter_mut().for_each(|e| normalize_attributes(&mut e.attributes));
                span.links.iter_mut().for_each(|l| normalize_attributes(&mut l.attributes));
            }
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn json_round_trip_property(data in arb_traces_data()) {
        let json = encode(&data);
        let decoded = decode_traces(json.as_bytes());
        prop_assert!(decoded.is_ok(), "{:?}\n{}", decoded.err(), json);
        let expected = normalize_doubles(data).resource_spans;
        prop_assert_eq!(decoded.map(|d| d.resource_spans).ok(), Some(expected));
    }
}

// ----- responses ----------------------------------------------------------------------

fn written(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn json_responses_and_status() {
    assert_eq!(written(|o| encode_trace_response(0, "", o)), "{}");
    assert_eq!(
        written(|o| encode_trace_response(3, "span 2: trace_id \"x\" bad", o)),
        r#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"span 2: trace_id \"x\" bad"}}"#
    );
    assert_eq!(
        written(|o| encode_trace_response(0, "warning", o)),
        r#"{"partialSuccess":{"errorMessage":"warning"}}"#
    );
    assert_eq!(written(|o| encode_logs_response(0, "", o)), "{}");
    assert_eq!(
        written(|o| encode_logs_response(2, "", o)),
        r#"{"partialSuccess":{"rejectedLogRecords":"2"}}"#
    );
    assert_eq!(
        written(|o| encode_metrics_response(7, "m", o)),
        r#"{"partialSuccess":{"rejectedDataPoints":"7","errorMessage":"m"}}"#
    );
    assert_eq!(
        written(|o| encode_status(3, "invalid OTLP/JSON: \"x\"\n", o)),
        r#"{"code":3,"message":"invalid OTLP/JSON: \"x\"\n"}"#
    );
    assert_eq!(written(|o| encode_status(8, "", o)), r#"{"code":8}"#);
    // Appends: callers may reuse a buffer.
    let mut out = b"x".to_vec();
    encode_status(0, "", &mut out);
    assert_eq!(out, b"x{\"code\":0}");
}

/// A span whose attribute value is `depth` arrays (or key-value lists) deep.
fn nested_request(depth: usize, kvlist: bool) -> ExportTraceServiceRequest {
    let mut value = AnyValue { value: Some(string("leaf")) };
    for _ in 0..depth {
        value = AnyValue {
            value: Some(if kvlist {
                Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue { key: "k".into(), value: Some(value), key_strindex: 0 }],
                })
            } else {
                Value::ArrayValue(ArrayValue { values: vec![value] })
            }),
        };
    }
    let span = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        attributes: vec![KeyValue { key: "deep".into(), value: Some(value), key_strindex: 0 }],
        ..Span::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans: vec![span], ..ScopeSpans::default() }],
            ..ResourceSpans::default()
        }],
    }
}

/// Regression: values nested as deep as prost accepts in protobuf (so received and
/// recorded) were past serde_json's 128-level limit once written as OTLP/JSON, and the
/// recording line could not be read back. Whatever prost decodes, JSON decodes too.
#[test]
fn everything_protobuf_accepts_reads_back_as_json() {
    use prost::Message as _;
    for kvlist in [false, true] {
        let mut deepest = None;
        for depth in 0..80 {
            let req = nested_request(depth, kvlist);
            let bytes = req.encode_to_vec();
            if ExportTraceServiceRequest::decode(&bytes[..]).is_err() {
                break;
            }
            deepest = Some(depth);
            let mut json = Vec::new();
            encode_traces_data(
                &TracesData { resource_spans: req.resource_spans.clone() },
                &mut json,
            );
            let back = decode_traces(&json)
                .unwrap_or_else(|e| panic!("kvlist {kvlist}, depth {depth}: {e}"));
            assert_eq!(back, req, "kvlist {kvlist}, depth {depth}");
        }
        // prost's limit was reached: the loop really went as deep as protobuf allows.
        assert!(deepest.is_some_and(|d| (30..79).contains(&d)), "{deepest:?}");
    }
}
