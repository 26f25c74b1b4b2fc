//! Raw OTLP/JSON POSTs to `/v1/traces`, plain and gzip, in the lenient forms the
//! OpenTelemetry Collector accepts; a resent batch is stored once.

use std::collections::BTreeMap;

use hopscope_tests::{RecordedSpan, Serve, json_span, json_traces, post, read_recording};
use opentelemetry_proto::tonic::common::v1::any_value::Value;

/// One document exercising every leniency at once: snake_case keys, uppercase and mixed-case
/// hex ids, 64-bit integers as numbers and as strings, enums by name and by number, unknown
/// fields (scalars, objects, arrays) at every level, and a legacy `instrumentationLibrary`
/// scope key on a second resource.
const LENIENT: &str = r#"{
  "resource_spans": [{
    "resource": {
      "attributes": [{"key": "service.name", "value": {"stringValue": "payments"}}],
      "droppedAttributesCount": 0,
      "futureField": {"nested": [1, 2, {"deep": true}]}
    },
    "scope_spans": [{
      "scope": {"name": "lenient-scope", "version": "0.1"},
      "spans": [
        {
          "trace_id": "5B8EFFF798038103D269B633813FC60C",
          "span_id": "EEE19B7EC3C1B174",
          "name": "charge card",
          "kind": "SPAN_KIND_SERVER",
          "start_time_unix_nano": 1700000000000000000,
          "end_time_unix_nano": "1700000000250000000",
          "attributes": [
            {"key": "amount.cents", "value": {"intValue": 1250}},
            {"key": "attempt", "value": {"int_value": "3"}},
            {"key": "card.present", "value": {"boolValue": false}}
          ],
          "status": {"code": "STATUS_CODE_ERROR", "message": "card declined"},
          "events": [{"time_unix_nano": "1700000000100000000", "name": "declined",
                      "attributes": [{"key": "reason", "value": {"stringValue": "insufficient funds"}}],
                      "mystery": null}],
          "unknownScalar": 42,
          "unknownList": [{"a": 1}]
        },
        {
          "traceId": "5b8efff798038103d269b633813fc60c",
          "spanId": "aaBBccDDeeFF0011",
          "parentSpanId": "EEE19B7EC3C1B174",
          "name": "fraud check",
          "kind": 3,
          "startTimeUnixNano": "1700000000010000000",
          "endTimeUnixNano": 1700000000020000000,
          "status": {"code": 1},
          "links": [{"trace_id": "0AF7651916CD43DD8448EB211C80319C", "span_id": "B7AD6B7169203331",
                     "attributes": [{"key": "link.kind", "value": {"stringValue": "follows"}}]}]
        }
      ]
    }]
  }, {
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "legacy"}}]},
    "instrumentationLibrarySpans": [{
      "instrumentationLibrary": {"name": "old-sdk"},
      "spans": [{
        "traceId": "0AF7651916CD43DD8448EB211C80319C",
        "spanId": "B7AD6B7169203331",
        "name": "legacy span",
        "kind": "SPAN_KIND_PRODUCER",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000005000000"
      }]
    }]
  }],
  "someFutureTopLevelField": "ignored"
}"#;

fn by_id(spans: Vec<RecordedSpan>) -> BTreeMap<String, RecordedSpan> {
    spans.into_iter().map(|s| (s.span_id(), s)).collect()
}

fn lenient_round_trip(gzip: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rec.jsonl");
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 path")]);

    let resp = post(&serve.http_url("/v1/traces"), "application/json", gzip, LENIENT.as_bytes());
    let status = resp.status();
    let content_type = resp.headers().get("content-type").cloned();
    let body = resp.text().expect("response body");
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type.as_ref().and_then(|v| v.to_str().ok()), Some("application/json"));
    let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON answer");
    assert!(answer.get("partialSuccess").is_none(), "nothing should be rejected: {body}");

    assert!(serve.stop().success(), "{:?}", serve.stderr_lines());
    let last = serve.last_stats().expect("final stats line");
    assert_eq!((last.received, last.stored), (3, 3), "{last:?}");

    let spans = by_id(read_recording(&path));
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let charge = &spans["eee19b7ec3c1b174"];
    assert_eq!(charge.service, "payments");
    assert_eq!(charge.scope, "lenient-scope");
    assert_eq!(charge.trace_id(), "5b8efff798038103d269b633813fc60c");
    assert_eq!(charge.span.name, "charge card");
    assert_eq!(charge.span.kind, 2);
    assert_eq!(charge.span.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(charge.span.end_time_unix_nano, 1_700_000_000_250_000_000);
    assert_eq!(charge.attr("amount.cents"), Some(&Value::IntValue(1250)));
    assert_eq!(charge.attr("attempt"), Some(&Value::IntValue(3)));
    assert_eq!(charge.attr("card.present"), Some(&Value::BoolValue(false)));
    assert_eq!(charge.span.attributes.len(), 3);
    let status = charge.span.status.as_ref().expect("status");
    assert_eq!((status.code, status.message.as_str()), (2, "card declined"));
    assert_eq!(charge.span.events.len(), 1);
    assert_eq!(charge.span.events[0].name, "declined");
    assert_eq!(charge.span.events[0].time_unix_nano, 1_700_000_000_100_000_000);

    let fraud = &spans["aabbccddeeff0011"];
    assert_eq!(fraud.parent_span_id(), "eee19b7ec3c1b174");
    assert_eq!(fraud.trace_id(), charge.trace_id());
    assert_eq!(fraud.span.kind, 3);
    assert_eq!(fraud.span.end_time_unix_nano, 1_700_000_000_020_000_000);
    assert_eq!(fraud.span.status.as_ref().map(|s| s.code), Some(1));
    assert_eq!(fraud.span.links.len(), 1);
    assert_eq!(
        hopscope_tests::hex(&fraud.span.links[0].trace_id),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(hopscope_tests::hex(&fraud.span.links[0].span_id), "b7ad6b7169203331");

    let legacy = &spans["b7ad6b7169203331"];
    assert_eq!(legacy.service, "legacy");
    assert_eq!(legacy.scope, "old-sdk");
    assert_eq!(legacy.span.kind, 4);

    // The recording itself writes ids in lowercase hex, whatever case came in.
    let text = std::fs::read_to_string(&path).expect("recording");
    assert!(!text.contains("EEE19B7EC3C1B174") && text.contains("eee19b7ec3c1b174"), "{text}");
}

#[test]
fn lenient_json_is_accepted_and_recorded() {
    lenient_round_trip(false);
}

#[test]
fn lenient_gzip_json_is_accepted_and_recorded() {
    lenient_round_trip(true);
}

#[test]
fn resent_batch_is_stored_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rec.jsonl");
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 path")]);
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let batch = json_traces(
        "orders",
        &[
            json_span(trace, "00f067aa0ba902b7", "a"),
            json_span(trace, "00f067aa0ba902b8", "b"),
            json_span(trace, "00f067aa0ba902b9", "c"),
        ],
    );
    for gzip in [false, true] {
        let resp = post(&serve.http_url("/v1/traces"), "application/json", gzip, &batch);
        assert_eq!(resp.status(), 200);
    }
    // The same spans once more, with uppercase ids: still the same spans.
    let upper =
        String::from_utf8(batch.clone()).expect("UTF-8").replace(trace, &trace.to_uppercase());
    let resp = post(&serve.http_url("/v1/traces"), "application/json", false, upper.as_bytes());
    assert_eq!(resp.status(), 200);

    assert!(serve.stop().success(), "{:?}", serve.stderr_lines());
    let last = serve.last_stats().expect("final stats line");
    assert_eq!(last.received, 9, "{last:?}");
    assert_eq!(last.stored, 3, "a resent batch must merge into the stored spans: {last:?}");
    assert_eq!(last.refused, 0, "{last:?}");
    let ids: std::collections::BTreeSet<String> =
        read_recording(&path).iter().map(RecordedSpan::span_id).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
}

#[test]
fn json_answer_for_a_charset_parameter_and_an_empty_request() {
    let mut serve = Serve::start(&[]);
    // `application/json; charset=utf-8` is still JSON.
    let resp = post(
        &serve.http_url("/v1/traces"),
        "application/json; charset=utf-8",
        false,
        &json_traces(
            "x",
            &[json_span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "a")],
        ),
    );
    assert_eq!(resp.status(), 200);
    // An empty request is valid OTLP: nothing to store, nothing rejected.
    let resp = post(&serve.http_url("/v1/traces"), "application/json", false, b"{}");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().expect("body").trim(), "{}");
    assert!(serve.stop().success());
    assert_eq!(serve.last_stats().map(|s| s.stored), Some(1));
}

#[test]
fn json_logs_and_metrics_are_accepted() {
    let mut serve = Serve::start(&[]);
    let logs = br#"{"resource_logs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"billing"}}]},
        "scopeLogs":[{"scope":{"name":"app"},"logRecords":[
          {"timeUnixNano":"1700000000000000000","severityNumber":"SEVERITY_NUMBER_WARN","severityText":"WARN",
           "body":{"stringValue":"retrying charge"},"traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00F067AA0BA902B7",
           "attributes":[{"key":"attempt","value":{"intValue":2}}]},
          {"time_unix_nano":1700000000000000001,"severity_number":17,"body":{"kvlistValue":{"values":[]}},"futureField":true}
        ]}]}]}"#;
    let metrics = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
        {"name":"orders","sum":{"dataPoints":[{"asInt":"3","timeUnixNano":"1700000000000000000"},{"asInt":4}],
         "aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true}},
        {"name":"latency","histogram":{"dataPoints":[{"count":"1","sum":0.25,"bucketCounts":["1"],"explicitBounds":[]}]}}
    ]}]}]}"#;
    for (path, body) in [("/v1/logs", &logs[..]), ("/v1/metrics", &metrics[..])] {
        for gzip in [false, true] {
            let resp = post(&serve.http_url(path), "application/json", gzip, body);
            let status = resp.status();
            let text = resp.text().expect("body");
            assert_eq!(status, 200, "{path}: {text}");
            assert_eq!(text.trim(), "{}", "{path}: nothing is rejected");
        }
    }
    assert!(serve.stop().success());
    // Logs and metrics are not spans.
    assert_eq!(serve.last_stats().map(|s| (s.received, s.stored)), Some((0, 0)));
}

/// The recording is written before the store merges duplicates, so a resent batch is
/// recorded once per delivery, although it is stored once.
#[test]
fn resent_batch_is_recorded_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rec.jsonl");
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 path")]);
    let batch = json_traces(
        "orders",
        &[json_span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "a")],
    );
    for _ in 0..2 {
        let resp = post(&serve.http_url("/v1/traces"), "application/json", false, &batch);
        assert_eq!(resp.status(), 200);
    }
    assert!(serve.stop().success());
    assert_eq!(serve.last_stats().map(|s| s.stored), Some(1));
    assert_eq!(read_recording(&path).len(), 1, "the recording holds the span twice");
}
