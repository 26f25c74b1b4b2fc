//! Decoding: leniency (case, spellings, legacy keys, numbers as strings, nulls), errors that
//! say where, spec-style documents of every signal, and the nesting limit.

use super::*;

// ----- lenient decoding ----------------------------------------------------------------

#[test]
fn json_accepts_uppercase_and_mixed_case_hex_ids() {
    let span = only_span(
        r#"{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19b7eC3C1B174",
                "parentSpanId":"eee19b7ec3c1b173","links":[{"traceId":"0102030405060708090A0B0C0D0E0F10","spanId":"A1A2A3A4A5A6A7A8"}]}"#,
    );
    assert_eq!(
        span.trace_id,
        [
            0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
            0xc6, 0x0c
        ]
    );
    assert_eq!(span.span_id, [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
    assert_eq!(span.parent_span_id, [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73]);
    assert_eq!(span.links[0].trace_id, (1..=16).collect::<Vec<u8>>());
    assert_eq!(span.links[0].span_id, [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8]);
}

#[test]
fn json_bad_ids_are_kept_for_validation_and_siblings_decode() {
    let req = decode_ok(&doc_with_spans(
        r#"{"name":"short","traceId":"0102","spanId":"0102030405060708"},
               {"name":"long","traceId":"0102030405060708090a0b0c0d0e0f1011","spanId":"0102030405060708"},
               {"name":"nothex","traceId":"zz02030405060708090a0b0c0d0e0f10","spanId":"zzzzzzzz"},
               {"name":"odd","traceId":"abc","spanId":"0102030405060708","parentSpanId":"not-hex!"},
               {"name":"empty","traceId":"","spanId":null,"parentSpanId":""},
               {"name":"good","traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"}"#,
    ));
    let all = spans(&req);
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].trace_id, [1, 2]);
    assert_eq!(all[1].trace_id.len(), 17);
    // Not hex: raw bytes, padded to an odd length so that no validation accepts them.
    assert_eq!(all[2].trace_id.len(), 33);
    assert!(all[2].trace_id.starts_with(b"zz0203"));
    assert_eq!(all[2].span_id, b"zzzzzzzz\0");
    assert_eq!(all[3].trace_id, b"abc");
    assert_eq!(all[3].parent_span_id, b"not-hex!\0", "a bad parent never becomes a root");
    assert!(all[4].trace_id.is_empty() && all[4].span_id.is_empty());
    assert!(all[4].parent_span_id.is_empty());
    assert_eq!(all[5].trace_id, (1..=16).collect::<Vec<u8>>());
    assert_eq!(all[5].name, "good");
    for s in &all[..4] {
        assert!(s.trace_id.len() != 16 || s.span_id.len() != 8 || s.parent_span_id.len() % 2 == 1);
    }
}

#[test]
fn json_int64_as_number_or_string() {
    let span = only_span(
        r#"{"startTimeUnixNano":1544712660000000000,"endTimeUnixNano":"18446744073709551615",
                "droppedAttributesCount":"4","flags":"257","droppedEventsCount":3,
                "events":[{"timeUnixNano":"1544712660000000001"},{"timeUnixNano":1.5e18}],
                "attributes":[{"key":"a","value":{"intValue":"-42"}},{"key":"b","value":{"intValue":42}},
                              {"key":"c","value":{"intValue":-9223372036854775808}}]}"#,
    );
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.end_time_unix_nano, u64::MAX);
    assert_eq!(span.dropped_attributes_count, 4);
    assert_eq!(span.flags, 257);
    assert_eq!(span.dropped_events_count, 3);
    assert_eq!(span.events[0].time_unix_nano, 1_544_712_660_000_000_001);
    assert_eq!(span.events[1].time_unix_nano, 1_500_000_000_000_000_000);
    let ints: Vec<_> = span.attributes.iter().map(|a| a.value.clone()).collect();
    assert_eq!(ints[0], Some(AnyValue { value: Some(Value::IntValue(-42)) }));
    assert_eq!(ints[1], Some(AnyValue { value: Some(Value::IntValue(42)) }));
    assert_eq!(ints[2], Some(AnyValue { value: Some(Value::IntValue(i64::MIN)) }));
}

#[test]
fn json_enums_as_names_or_numbers() {
    let req = decode_ok(&doc_with_spans(
        r#"{"kind":"SPAN_KIND_SERVER","status":{"code":"STATUS_CODE_ERROR"}},
               {"kind":4,"status":{"code":1}},
               {"kind":"SPAN_KIND_WHATEVER","status":{"code":"NOPE"}},
               {"kind":"3","status":{"code":"STATUS_CODE_OK"}}"#,
    ));
    let got: Vec<_> =
        spans(&req).iter().map(|s| (s.kind, s.status.as_ref().map_or(-1, |st| st.code))).collect();
    assert_eq!(got, [(2, 2), (4, 1), (0, 0), (3, 1)]);
}

#[test]
fn json_snake_case_keys() {
    let req = decode_ok(
        r#"{"resource_spans":[{"resource":{"attributes":[],"dropped_attributes_count":2},
                "schema_url":"s","scope_spans":[{"scope":{"name":"n","dropped_attributes_count":1},"schema_url":"t",
                "spans":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708",
                "parent_span_id":"0807060504030201","trace_state":"a=b","start_time_unix_nano":"5",
                "end_time_unix_nano":6,"dropped_attributes_count":1,"dropped_events_count":2,
                "dropped_links_count":3,"events":[{"time_unix_nano":"7","dropped_attributes_count":8}],
                "links":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708",
                "trace_state":"c=d","dropped_attributes_count":9}],
                "attributes":[{"key":"k","value":{"string_value":"v"}},{"key":"i","value":{"int_value":"1"}},
                {"key":"kv","value":{"kvlist_value":{"values":[{"key":"x","value":{"bool_value":true}}]}}},
                {"key":"arr","value":{"array_value":{"values":[{"double_value":1.5},{"bytes_value":"AQI="}]}}}]}]}]}]}"#,
    );
    let rs = &req.resource_spans[0];
    assert_eq!(rs.schema_url, "s");
    assert_eq!(rs.resource.as_ref().map(|r| r.dropped_attributes_count), Some(2));
    let ss = &rs.scope_spans[0];
    assert_eq!(ss.schema_url, "t");
    assert_eq!(
        ss.scope.as_ref().map(|s| (s.name.as_str(), s.dropped_attributes_count)),
        Some(("n", 1))
    );
    let s = &ss.spans[0];
    assert_eq!(s.trace_id.len(), 16);
    assert_eq!(s.span_id.len(), 8);
    assert_eq!(s.parent_span_id, [8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(s.trace_state, "a=b");
    assert_eq!((s.start_time_unix_nano, s.end_time_unix_nano), (5, 6));
    assert_eq!(
        (s.dropped_attributes_count, s.dropped_events_count, s.dropped_links_count),
        (1, 2, 3)
    );
    assert_eq!((s.events[0].time_unix_nano, s.events[0].dropped_attributes_count), (7, 8));
    assert_eq!(s.links[0].trace_state, "c=d");
    assert_eq!(s.links[0].dropped_attributes_count, 9);
    let values: Vec<_> =
        s.attributes.iter().map(|a| a.value.clone().and_then(|v| v.value)).collect();
    assert_eq!(values[0], Some(string("v")));
    assert_eq!(values[1], Some(Value::IntValue(1)));
    assert_eq!(
        values[2],
        Some(Value::KvlistValue(KeyValueList { values: vec![kv("x", Value::BoolValue(true))] }))
    );
    assert_eq!(
        values[3],
        Some(Value::ArrayValue(ArrayValue {
            values: vec![
                AnyValue { value: Some(Value::DoubleValue(1.5)) },
                AnyValue { value: Some(Value::BytesValue(vec![1, 2])) },
            ]
        }))
    );
}

#[test]
fn json_unknown_fields_are_ignored_at_every_level() {
    let req = decode_ok(
        r#"{"unknown":{"a":[1,{"b":null}]},"resourceSpans":[{"extra":[[],{}],
                "resource":{"attributes":[{"key":"k","value":{"stringValue":"v","junk":[1,2]},"x":1}],"what":"ever"},
                "scopeSpans":[{"scope":{"name":"n","new_field":{"deep":{"deeper":[true,false,null]}}},
                "spans":[{"name":"s","futureField":{"x":[1,2,{"y":"z"}]},"kind":1,"number":1e400,
                "events":[{"name":"e","meta":{}}],"links":[{"traceId":"01","extra":"x"}],
                "status":{"code":2,"deprecated_code":1,"message":"m"}}]}]}],"trailer":"\u00e9"}"#,
    );
    let s = spans(&req)[0];
    assert_eq!(s.name, "s");
    assert_eq!(s.kind, 1);
    assert_eq!(s.events[0].name, "e");
    assert_eq!(s.links[0].trace_id, [1]);
    assert_eq!(s.status, Some(Status { message: "m".into(), code: 2 }));
    let resource = req.resource_spans[0].resource.clone().unwrap_or_default();
    assert_eq!(resource.attributes, [kv("k", string("v"))]);
}

#[test]
fn json_legacy_instrumentation_library_spans() {
    let req = decode_ok(
        r#"{"resourceSpans":[{"instrumentationLibrarySpans":[{"instrumentationLibrary":
                {"name":"old.lib","version":"0.9"},"spans":[{"name":"legacy"}]}],
                "scopeSpans":[{"scope":{"name":"new.lib"},"spans":[{"name":"current"}]}]}]}"#,
    );
    let ss = &req.resource_spans[0].scope_spans;
    assert_eq!(ss.len(), 2);
    assert_eq!(
        ss[0].scope.as_ref().map(|s| (s.name.as_str(), s.version.as_str())),
        Some(("old.lib", "0.9"))
    );
    assert_eq!(ss[0].spans[0].name, "legacy");
    assert_eq!(ss[1].spans[0].name, "current");
}

#[test]
fn json_doubles_nan_infinity_and_numbers() {
    assert!(
        matches!(attr_value(r#"{"doubleValue":"NaN"}"#), Some(Value::DoubleValue(d)) if d.is_nan())
    );
    assert_eq!(
        attr_value(r#"{"doubleValue":"Infinity"}"#),
        Some(Value::DoubleValue(f64::INFINITY))
    );
    assert_eq!(
        attr_value(r#"{"doubleValue":"-Infinity"}"#),
        Some(Value::DoubleValue(f64::NEG_INFINITY))
    );
    assert_eq!(attr_value(r#"{"doubleValue":2}"#), Some(Value::DoubleValue(2.0)));
    assert_eq!(attr_value(r#"{"doubleValue":-2}"#), Some(Value::DoubleValue(-2.0)));
    assert_eq!(attr_value(r#"{"doubleValue":"0.25"}"#), Some(Value::DoubleValue(0.25)));
    assert_eq!(attr_value(r#"{"doubleValue":1e-3}"#), Some(Value::DoubleValue(0.001)));
}

#[test]
fn json_bytes_base64_padding_optional() {
    assert_eq!(attr_value(r#"{"bytesValue":"aGk/"}"#), Some(Value::BytesValue(b"hi?".to_vec())));
    assert_eq!(attr_value(r#"{"bytesValue":"aGk"}"#), Some(Value::BytesValue(b"hi".to_vec())));
    assert_eq!(attr_value(r#"{"bytesValue":"aGk="}"#), Some(Value::BytesValue(b"hi".to_vec())));
    assert_eq!(attr_value(r#"{"bytesValue":"aA"}"#), Some(Value::BytesValue(b"h".to_vec())));
    assert_eq!(attr_value(r#"{"bytesValue":"-_8"}"#), Some(Value::BytesValue(vec![0xfb, 0xff])));
    assert_eq!(attr_value(r#"{"bytesValue":""}"#), Some(Value::BytesValue(vec![])));
}

#[test]
fn json_any_value_forms() {
    assert_eq!(attr_value("{}"), None);
    assert_eq!(attr_value(r#"{"stringValue":""}"#), Some(string("")));
    assert_eq!(attr_value(r#"{"boolValue":false}"#), Some(Value::BoolValue(false)));
    assert_eq!(attr_value(r#"{"arrayValue":{}}"#), Some(Value::ArrayValue(ArrayValue::default())));
    assert_eq!(
        attr_value(r#"{"kvlistValue":{"values":null}}"#),
        Some(Value::KvlistValue(KeyValueList::default()))
    );
    // `null` for a member means that member is not set.
    assert_eq!(attr_value(r#"{"stringValue":null}"#), None);
    assert_eq!(attr_value(r#"{"stringValue":null,"intValue":"5"}"#), Some(Value::IntValue(5)));
    assert_eq!(attr_value(r#"{"arrayValue":null}"#), None);
    // `{}` is a present, empty value; `null` (or no key) is no value at all.
    let span = only_span(
        r#"{"attributes":[{"key":"a","value":{}},{"key":"b","value":null},{"key":"c"}]}"#,
    );
    assert_eq!(span.attributes[0].value, Some(AnyValue { value: None }));
    assert_eq!(span.attributes[1].value, None);
    assert_eq!(span.attributes[2].value, None);
}

#[test]
fn json_null_fields_are_defaults() {
    let req = decode_ok(
        r#"{"resourceSpans":[{"resource":null,"schemaUrl":null,"scopeSpans":[{"scope":null,
                "spans":[{"traceId":null,"spanId":null,"parentSpanId":null,"traceState":null,"flags":null,
                "name":null,"kind":null,"startTimeUnixNano":null,"endTimeUnixNano":null,"attributes":null,
                "droppedAttributesCount":null,"events":null,"droppedEventsCount":null,"links":null,
                "droppedLinksCount":null,"status":null},null]},null]},null]}"#,
    );
    assert_eq!(req.resource_spans.len(), 2);
    assert_eq!(req.resource_spans[1], ResourceSpans::default());
    let rs = &req.resource_spans[0];
    assert_eq!(rs.resource, None);
    assert_eq!(
        rs.scope_spans,
        [
            ScopeSpans { spans: vec![Span::default(); 2], ..Default::default() },
            ScopeSpans::default()
        ]
    );
    let empty = decode_ok(r#"{"resourceSpans":null}"#);
    assert!(empty.resource_spans.is_empty());
}

#[test]
fn json_accepts_traces_data_bom_whitespace_and_escaped_keys() {
    let req = decode_ok("\u{feff} \n{ \"resource\\u0053pans\" : [ { } ] }\n");
    assert_eq!(req.resource_spans, [ResourceSpans::default()]);
    assert!(decode_ok("{}").resource_spans.is_empty());
}

// ----- errors --------------------------------------------------------------------------

fn error_of(json: &str) -> (JsonError, String) {
    let err = decode_traces(json.as_bytes()).expect_err("must fail");
    let msg = err.to_string();
    (err, msg)
}

#[test]
fn json_truncated_document_is_reported() {
    let (err, msg) = error_of(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a"#);
    assert!(matches!(err, JsonError::Truncated(_)), "{err:?}");
    assert!(msg.starts_with("truncated OTLP/JSON document: EOF while parsing"), "{msg}");
    assert!(msg.contains("line 1 column"), "{msg}");
    let (err, msg) = error_of("");
    assert!(matches!(err, JsonError::Truncated(_)), "{msg}");
}

#[test]
fn json_malformed_document_is_reported() {
    let (err, msg) = error_of("{\"resourceSpans\":[\n  {\"scopeSpans\": ]}]}");
    assert!(matches!(err, JsonError::Syntax(_)), "{err:?}");
    assert!(msg.starts_with("malformed JSON: expected value at line 2 column"), "{msg}");
    assert_eq!(err.line(), 2);
    let (err, msg) = error_of("{} {}");
    assert!(matches!(err, JsonError::Syntax(_)) && msg.contains("trailing characters"), "{msg}");
}

#[test]
fn json_wrong_top_level_type_is_reported() {
    for (doc, found) in [
        ("[1,2]", "sequence"),
        ("\"spans\"", "string \"spans\""),
        ("42", "integer `42`"),
        ("null", "null"),
        ("true", "boolean `true`"),
    ] {
        let (err, msg) = error_of(doc);
        assert!(matches!(err, JsonError::Schema(_)), "{doc}: {err:?}");
        assert!(
                msg.starts_with(&format!(
                    "invalid OTLP/JSON: invalid type: {found}, expected an ExportTraceServiceRequest or TracesData object"
                )),
                "{doc}: {msg}"
            );
    }
    let err = decode_logs(b"[]").expect_err("must fail").to_string();
    assert!(err.contains("expected an ExportLogsServiceRequest"), "{err}");
}

#[test]
fn json_wrong_field_types_name_the_field() {
    for (span, needle) in [
        (
            r#"{"startTimeUnixNano":true}"#,
            "invalid type: boolean `true`, expected `startTimeUnixNano` as an unsigned 64-bit integer",
        ),
        (
            r#"{"startTimeUnixNano":"soon"}"#,
            "invalid value: string \"soon\", expected `startTimeUnixNano`",
        ),
        (r#"{"endTimeUnixNano":-1}"#, "invalid value: integer `-1`, expected `endTimeUnixNano`"),
        (r#"{"flags":4294967296}"#, "expected `flags` as an unsigned 32-bit integer"),
        (r#"{"name":7}"#, "invalid type: integer `7`, expected `name` as a string"),
        (r#"{"traceId":[1]}"#, "expected `traceId` as a hex string"),
        (r#"{"kind":{}}"#, "expected `kind` as an enum number or name"),
        (r#"{"attributes":{}}"#, "expected an array of KeyValue objects"),
        (r#"{"status":"ok"}"#, "expected a span Status object"),
        (
            r#"{"attributes":[{"key":"k","value":{"bytesValue":"!!"}}]}"#,
            "expected `bytesValue` as a base64 string",
        ),
        (
            r#"{"attributes":[{"key":"k","value":{"intValue":"1.5"}}]}"#,
            "expected `intValue` as a signed 64-bit integer",
        ),
        (
            r#"{"attributes":[{"key":"k","value":{"doubleValue":"big"}}]}"#,
            "expected `doubleValue` as a number",
        ),
    ] {
        let (err, msg) = error_of(&doc_with_spans(span));
        assert!(matches!(err, JsonError::Schema(_)), "{span}: {err:?}");
        assert!(msg.contains(needle), "{span}: {msg}");
        assert!(msg.contains("at line 1 column"), "{span}: {msg}");
    }
}

// ----- spec-style documents -----------------------------------------------------------

/// Written in the style of opentelemetry-proto's `examples/trace.json`.
const SPEC_STYLE_TRACE: &str = r#"{
      "resourceSpans": [
        {
          "resource": {
            "attributes": [
              { "key": "service.name", "value": { "stringValue": "my.service" } }
            ]
          },
          "scopeSpans": [
            {
              "scope": {
                "name": "my.library",
                "version": "1.0.0",
                "attributes": [
                  { "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }
                ]
              },
              "spans": [
                {
                  "traceId": "5B8EFFF798038103D269B633813FC60C",
                  "spanId": "EEE19B7EC3C1B174",
                  "parentSpanId": "EEE19B7EC3C1B173",
                  "name": "I'm a server span",
                  "startTimeUnixNano": "1544712660000000000",
                  "endTimeUnixNano": "1544712661000000000",
                  "kind": 2,
                  "attributes": [
                    { "key": "my.span.attr", "value": { "stringValue": "some value" } },
                    { "key": "http.response.status_code", "value": { "intValue": "500" } },
                    { "key": "retry", "value": { "boolValue": true } },
                    { "key": "sampling.ratio", "value": { "doubleValue": 0.25 } },
                    { "key": "tags", "value": { "arrayValue": { "values": [
                        { "stringValue": "a" }, { "intValue": 2 } ] } } },
                    { "key": "map", "value": { "kvlistValue": { "values": [
                        { "key": "inner", "value": { "stringValue": "v" } } ] } } }
                  ],
                  "events": [
                    {
                      "timeUnixNano": "1544712660500000000",
                      "name": "exception",
                      "attributes": [
                        { "key": "exception.message", "value": { "stringValue": "boom" } }
                      ]
                    }
                  ],
                  "links": [
                    {
                      "traceId": "0AF7651916CD43DD8448EB211C80319C",
                      "spanId": "B7AD6B7169203331",
                      "attributes": [
                        { "key": "messaging.message.id", "value": { "stringValue": "m-42" } }
                      ],
                      "flags": 257
                    }
                  ],
                  "status": { "code": 2, "message": "internal error" }
                }
              ]
            }
          ]
        }
      ]
    }"#;

#[test]
fn json_spec_style_trace_document_decodes() {
    let req = decode_ok(SPEC_STYLE_TRACE);
    let rs = &req.resource_spans[0];
    let resource = rs.resource.clone().unwrap_or_default();
    assert_eq!(resource.attributes, [kv("service.name", string("my.service"))]);
    let ss = &rs.scope_spans[0];
    let scope = ss.scope.clone().unwrap_or_default();
    assert_eq!((scope.name.as_str(), scope.version.as_str()), ("my.library", "1.0.0"));
    assert_eq!(scope.attributes, [kv("my.scope.attribute", string("some scope attribute"))]);
    let expected = Span {
        trace_id: vec![
            0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
            0xc6, 0x0c,
        ],
        span_id: vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74],
        parent_span_id: vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73],
        name: "I'm a server span".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: 1_544_712_660_000_000_000,
        end_time_unix_nano: 1_544_712_661_000_000_000,
        attributes: vec![
            kv("my.span.attr", string("some value")),
            kv("http.response.status_code", Value::IntValue(500)),
            kv("retry", Value::BoolValue(true)),
            kv("sampling.ratio", Value::DoubleValue(0.25)),
            kv(
                "tags",
                Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue { value: Some(string("a")) },
                        AnyValue { value: Some(Value::IntValue(2)) },
                    ],
                }),
            ),
            kv("map", Value::KvlistValue(KeyValueList { values: vec![kv("inner", string("v"))] })),
        ],
        events: vec![Event {
            time_unix_nano: 1_544_712_660_500_000_000,
            name: "exception".into(),
            attributes: vec![kv("exception.message", string("boom"))],
            dropped_attributes_count: 0,
        }],
        links: vec![Link {
            trace_id: vec![
                0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80,
                0x31, 0x9c,
            ],
            span_id: vec![0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31],
            attributes: vec![kv("messaging.message.id", string("m-42"))],
            flags: 257,
            ..Link::default()
        }],
        status: Some(Status { message: "internal error".into(), code: 2 }),
        ..Span::default()
    };
    assert_eq!(ss.spans, [expected]);
    // Re-encoding and decoding gives the same request.
    let again = round_trip(&TracesData { resource_spans: req.resource_spans.clone() });
    assert_eq!(again, req.resource_spans);
}

#[test]
fn json_spec_style_logs_document_decodes() {
    let req = decode_logs(
            br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
                "scopeLogs":[{"scope":{"name":"my.library","version":"1.0.0"},"logRecords":[
                  {"timeUnixNano":"1544712660300000000","observedTimeUnixNano":1544712660300000001,
                   "severityNumber":10,"severityText":"Information","traceId":"5B8EFFF798038103D269B633813FC60C",
                   "spanId":"EEE19B7EC3C1B174","body":{"stringValue":"Example log record"},"flags":1,
                   "eventName":"order.placed","droppedAttributesCount":2,
                   "attributes":[{"key":"string.attribute","value":{"stringValue":"some string"}}]},
                  {"severity_number":"SEVERITY_NUMBER_WARN","body":{"kvlistValue":{"values":[]}},"trace_id":"abc"}]}],
                "instrumentationLibraryLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_NOPE"}]}]}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let rl = &req.resource_logs[0];
    assert_eq!(rl.scope_logs.len(), 2);
    let r = &rl.scope_logs[0].log_records[0];
    assert_eq!(r.time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(r.observed_time_unix_nano, 1_544_712_660_300_000_001);
    assert_eq!((r.severity_number, r.severity_text.as_str()), (10, "Information"));
    assert_eq!(r.trace_id.len(), 16);
    assert_eq!(r.span_id, [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
    assert_eq!(r.body, Some(AnyValue { value: Some(string("Example log record")) }));
    assert_eq!(
        (r.flags, r.dropped_attributes_count, r.event_name.as_str()),
        (1, 2, "order.placed")
    );
    assert_eq!(r.attributes, [kv("string.attribute", string("some string"))]);
    let warn = &rl.scope_logs[0].log_records[1];
    assert_eq!(warn.severity_number, SeverityNumber::Warn as i32);
    assert_eq!(warn.trace_id, b"abc");
    assert_eq!(rl.scope_logs[1].log_records[0].severity_number, 0);
    let err =
        decode_logs(br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"x"}]}]}]}"#)
            .expect_err("bad time")
            .to_string();
    assert!(err.contains("`timeUnixNano`"), "{err}");
}

#[test]
fn json_metric_points_are_counted() {
    let doc = br#"{"resourceMetrics":[{"resource":{"attributes":[]},"scopeMetrics":[{"scope":{"name":"m"},"metrics":[
            {"name":"g","gauge":{"dataPoints":[{"asInt":"1"}]}},
            {"name":"s","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asDouble":1},{"asDouble":2}]}},
            {"name":"h","histogram":{"dataPoints":[{"count":"3","bucketCounts":["1","2"],"explicitBounds":[1.0]}]}},
            {"name":"e","exponential_histogram":{"data_points":[{"scale":1},{"scale":2},{"scale":3}]}},
            {"name":"q","summary":{"dataPoints":[{"quantileValues":[{"quantile":0.5,"value":1}]}]}},
            {"name":"empty","gauge":{"dataPoints":null}},
            {"name":"none"}]}]},
            {"instrumentationLibraryMetrics":[{"metrics":[{"gauge":{"dataPoints":[{},{}]}}]}]},
            null]}"#;
    assert_eq!(count_metric_points(doc).unwrap_or_else(|e| panic!("{e}")), 10);
    assert_eq!(count_metric_points(b"{}").ok(), Some(0));
    assert_eq!(count_metric_points(br#"{"resource_metrics":[]}"#).ok(), Some(0));
    let top = count_metric_points(b"[]").expect_err("array").to_string();
    assert!(top.contains("expected an ExportMetricsServiceRequest or MetricsData object"), "{top}");
    let bad = count_metric_points(
        br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":{}}}]}]}]}"#,
    )
    .expect_err("dataPoints object")
    .to_string();
    assert!(bad.contains("expected `dataPoints` as an array"), "{bad}");
    let cut = count_metric_points(
        br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{}"#,
    )
    .expect_err("truncated");
    assert!(matches!(cut, JsonError::Truncated(_)));
}

/// Nesting past the limit is a clear error, not a stack overflow; skipped unknown values
/// may nest any depth.
#[test]
fn nesting_past_the_limit_is_an_error() {
    let depth = 100_000;
    let json = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"attributes":[{{"key":"d","value":{}{{"stringValue":"x"}}{}}}]}}]}}]}}]}}"#,
        r#"{"arrayValue":{"values":["#.repeat(depth),
        "]}}".repeat(depth)
    );
    let e = decode_traces(json.as_bytes()).expect_err("too deep").to_string();
    assert!(e.contains(&format!("nested more than {MAX_NESTING} deep")), "{e}");
    let ignored = format!("{{\"unknown\":{}1{}}}", "[".repeat(1_000_000), "]".repeat(1_000_000));
    assert_eq!(decode_traces(ignored.as_bytes()).expect("skipped").resource_spans, []);
    // The nesting count is back to zero after an error: a normal document decodes.
    assert!(decode_traces(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{}]}]}]}"#).is_ok());
    NESTING.with(|n| assert_eq!(n.get(), 0));
}
