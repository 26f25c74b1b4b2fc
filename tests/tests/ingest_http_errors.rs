//! Every OTLP/HTTP error path answers with its status and a `google.rpc.Status` message (in
//! the request's encoding), and the server keeps serving afterwards; invalid spans are
//! rejected one by one through `partial_success` while their valid siblings are stored.

use hopscope_tests::{
    RpcStatus, Serve, decode_status, gzip, http_client, json_span, json_traces, peak_rss_bytes,
    post, proto_span, proto_traces, read_recording,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use reqwest::blocking::Response;

const INVALID_ARGUMENT: i32 = 3;
const NOT_FOUND: i32 = 5;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNIMPLEMENTED: i32 = 12;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// A JSON `google.rpc.Status` body: `{"code": N, "message": "..."}`.
fn json_status(resp: Response) -> (u16, RpcStatus) {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp.text().expect("body");
    assert!(content_type.starts_with("application/json"), "{status} {content_type:?}: {body:?}");
    let v: serde_json::Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {body:?}"));
    let code = v["code"].as_i64().unwrap_or_else(|| panic!("no integer code: {body}"));
    let message = v["message"].as_str().unwrap_or_else(|| panic!("no message: {body}"));
    (status, RpcStatus { code: code as i32, message: message.to_owned(), details: Vec::new() })
}

/// A protobuf `google.rpc.Status` body.
fn proto_status(resp: Response) -> (u16, RpcStatus) {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp.bytes().expect("body");
    assert_eq!(content_type, "application/x-protobuf", "{status}: {body:?}");
    (status, decode_status(&body))
}

/// One valid span still goes in (200) after whatever came before.
fn assert_still_serving(serve: &Serve, span_id: &str) {
    let body = json_traces("after", &[json_span(TRACE, span_id, "still serving")]);
    let resp = post(&serve.http_url("/v1/traces"), "application/json", false, &body);
    assert_eq!(resp.status(), 200, "the server stopped serving: {:?}", resp.text());
}

fn valid_json() -> Vec<u8> {
    json_traces("svc", &[json_span(TRACE, "00f067aa0ba902b7", "ok")])
}

#[test]
fn unknown_path_is_404_with_status() {
    let mut serve = Serve::start(&[]);
    for path in ["/v1/other", "/", "/v1/traces/extra", "/v2/traces"] {
        let resp = post(&serve.http_url(path), "application/json", false, &valid_json());
        let (status, s) = json_status(resp);
        assert_eq!((status, s.code), (404, NOT_FOUND), "{path}: {s:?}");
        assert!(s.message.contains("/v1/traces"), "{s:?}");
    }
    assert_still_serving(&serve, "0000000000000001");
    assert!(serve.stop().success());
}

#[test]
fn other_methods_are_405_with_allow_and_status() {
    let mut serve = Serve::start(&[]);
    let client = http_client();
    for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
        for path in ["/v1/traces", "/v1/logs", "/v1/metrics"] {
            let resp =
                client.request(method.clone(), serve.http_url(path)).send().expect("request");
            assert_eq!(resp.status(), 405, "{method} {path}");
            let allow = resp.headers().get("allow").and_then(|v| v.to_str().ok()).unwrap_or("");
            assert!(allow.contains("POST"), "{method} {path}: Allow: {allow:?}");
            let (_, s) = json_status(resp);
            assert!(!s.message.is_empty(), "{method} {path}: {s:?}");
        }
    }
    assert_still_serving(&serve, "0000000000000002");
    assert!(serve.stop().success());
}

#[test]
fn other_content_types_are_415_with_status() {
    let mut serve = Serve::start(&[]);
    for content_type in ["text/plain", "application/xml", ""] {
        let resp = post(&serve.http_url("/v1/traces"), content_type, false, &valid_json());
        let (status, s) = json_status(resp);
        assert_eq!((status, s.code), (415, UNIMPLEMENTED), "{content_type:?}: {s:?}");
        assert!(s.message.contains("application/x-protobuf"), "{s:?}");
    }
    // An unknown content encoding is refused too.
    let resp = http_client()
        .post(serve.http_url("/v1/traces"))
        .header("content-type", "application/json")
        .header("content-encoding", "br")
        .body(valid_json())
        .send()
        .expect("request");
    let (status, s) = json_status(resp);
    assert_eq!(status, 415, "{s:?}");
    assert_still_serving(&serve, "0000000000000003");
    assert!(serve.stop().success());
}

#[test]
fn undecodable_bodies_are_400_with_status() {
    let mut serve = Serve::start(&[]);
    let traces = serve.http_url("/v1/traces");

    // Malformed JSON, on each signal: a JSON Status naming the problem.
    for path in ["/v1/traces", "/v1/logs", "/v1/metrics"] {
        for body in [&b"{not json"[..], b"{\"resourceSpans\": [", b"[1, 2]", b"{} trailing"] {
            let resp = post(&serve.http_url(path), "application/json", false, body);
            let (status, s) = json_status(resp);
            assert_eq!((status, s.code), (400, INVALID_ARGUMENT), "{path} {body:?}: {s:?}");
            assert!(!s.message.is_empty());
        }
    }
    // Wrong shape: a string where spans belong.
    let resp = post(&traces, "application/json", false, br#"{"resourceSpans": "nope"}"#);
    assert_eq!(json_status(resp).0, 400);

    // Malformed protobuf: a protobuf Status.
    for body in
        [&[0xff_u8, 0xff, 0xff, 0xff, 0xff][..], &[0x0a, 0x10, 0x01], b"not protobuf at all"]
    {
        let resp = post(&traces, "application/x-protobuf", false, body);
        let (status, s) = proto_status(resp);
        assert_eq!((status, s.code), (400, INVALID_ARGUMENT), "{body:?}: {s:?}");
        assert!(!s.message.is_empty());
    }

    // Corrupt gzip, in both encodings.
    let mut truncated = gzip(&valid_json());
    truncated.truncate(truncated.len() / 2);
    for body in [b"this is not gzip".to_vec(), truncated] {
        let resp = http_client()
            .post(&traces)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(body.clone())
            .send()
            .expect("request");
        let (status, s) = json_status(resp);
        assert_eq!((status, s.code), (400, INVALID_ARGUMENT), "{s:?}");
        assert!(s.message.contains("gzip"), "{s:?}");
        let resp = http_client()
            .post(&traces)
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "gzip")
            .body(body)
            .send()
            .expect("request");
        let (status, s) = proto_status(resp);
        assert_eq!((status, s.code), (400, INVALID_ARGUMENT), "{s:?}");
    }

    assert_still_serving(&serve, "0000000000000004");
    assert!(serve.stop().success());
    let last = serve.last_stats().expect("final stats");
    assert_eq!((last.received, last.stored), (1, 1), "{last:?}");
}

#[test]
fn bodies_past_max_request_are_413_plain_and_gzip() {
    let mut serve = Serve::start(&["--max-request", "1KiB"]);
    let traces = serve.http_url("/v1/traces");
    // A valid document just over the limit, plain: 413 in each encoding.
    let spans: Vec<_> = (0..20_u64)
        .map(|i| json_span(TRACE, &format!("{:016x}", i + 1), "a span with a longish name"))
        .collect();
    let big = json_traces("svc", &spans);
    assert!(big.len() > 1024);
    let (status, s) = json_status(post(&traces, "application/json", false, &big));
    assert_eq!((status, s.code), (413, RESOURCE_EXHAUSTED), "{s:?}");
    assert!(s.message.contains("1024"), "{s:?}");
    let proto = proto_traces(
        "svc",
        (0..40_u8).map(|i| proto_span(&[7; 16], &[i + 1; 8], "span")).collect(),
    )
    .encode_to_vec();
    assert!(proto.len() > 1024);
    let (status, s) = proto_status(post(&traces, "application/x-protobuf", false, &proto));
    assert_eq!((status, s.code), (413, RESOURCE_EXHAUSTED), "{s:?}");

    // Compressed below the limit, inflated above it: still 413 (measured after decompression).
    let compressed = gzip(&big);
    assert!(compressed.len() < 1024, "{} bytes", compressed.len());
    let (status, s) = json_status(post(&traces, "application/json", true, &big));
    assert_eq!((status, s.code), (413, RESOURCE_EXHAUSTED), "{s:?}");

    // Chunked (no Content-Length) and over the limit: 413 too.
    let resp = http_client()
        .post(&traces)
        .header("content-type", "application/json")
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(big.clone())))
        .send()
        .expect("request");
    assert_eq!(json_status(resp).0, 413);

    // Under the limit is fine.
    assert_still_serving(&serve, "0000000000000005");
    assert!(serve.stop().success());
    assert_eq!(serve.last_stats().map(|s| s.stored), Some(1));
}

/// A gzip bomb (tens of MB of zeros compressed to a few KB, under the raw limit) is refused
/// without being inflated whole: the server's peak RSS does not grow by anything like the
/// inflated size, nor does the RSS in its stats line.
#[test]
fn gzip_bomb_is_413_without_inflating() {
    const INFLATED: usize = 32 << 20;
    let mut serve = Serve::start(&["--max-request", "64KiB"]);
    let traces = serve.http_url("/v1/traces");
    // Warm up the request path so its first-use allocations are not counted.
    assert_still_serving(&serve, "0000000000000006");
    let bomb = gzip(&vec![0_u8; INFLATED]);
    assert!(bomb.len() < 64 << 10, "bomb is {} bytes compressed", bomb.len());
    let before = serve.next_stats();
    let peak_before = peak_rss_bytes(serve.pid()).expect("VmHWM of the server");

    for content_type in ["application/x-protobuf", "application/json"] {
        let resp = http_client()
            .post(&traces)
            .header("content-type", content_type)
            .header("content-encoding", "gzip")
            .body(bomb.clone())
            .send()
            .expect("request");
        assert_eq!(resp.status(), 413, "{content_type}");
    }

    let after = serve.next_stats();
    let peak_after = peak_rss_bytes(serve.pid()).expect("VmHWM of the server");
    // Half the inflated size: allocator arenas of a fresh worker thread account for a few
    // MiB either way; inflating the bomb whole (once per request) would add 32 MiB or more.
    let limit = 16 << 20;
    assert!(
        peak_after.saturating_sub(peak_before) < limit,
        "peak RSS grew by {} bytes for a {INFLATED}-byte bomb",
        peak_after - peak_before
    );
    assert!(
        after.rss_bytes.saturating_sub(before.rss_bytes) < limit,
        "RSS grew from {} to {}",
        before.rss_bytes,
        after.rss_bytes
    );
    assert_still_serving(&serve, "0000000000000007");
    assert!(serve.stop().success());
}

#[test]
fn invalid_ids_are_rejected_one_by_one_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rec.jsonl");
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 path")]);
    let body = json_traces(
        "svc",
        &[
            json_span(TRACE, "0000000000000011", "valid 1"),
            json_span("00000000000000000000000000000000", "0000000000000012", "zero trace"),
            json_span(TRACE, "0000000000000000", "zero span"),
            json_span(TRACE, "00000000000013", "short span id"),
            json_span("4bf92f3577b34da6a3ce929d0e0e47", "0000000000000014", "short trace id"),
            json_span(TRACE, "zzzzzzzzzzzzzzzz", "not hex"),
            json_span(TRACE, "0000000000000015", "valid 2"),
        ],
    );
    let resp = post(&serve.http_url("/v1/traces"), "application/json", false, &body);
    assert_eq!(resp.status(), 200);
    let answer: serde_json::Value =
        serde_json::from_slice(&resp.bytes().expect("body")).expect("JSON answer");
    let partial = &answer["partialSuccess"];
    let rejected = match &partial["rejectedSpans"] {
        serde_json::Value::String(s) => s.parse::<i64>().expect("int64 string"),
        v => v.as_i64().unwrap_or_else(|| panic!("rejectedSpans missing: {answer}")),
    };
    assert_eq!(rejected, 5, "{answer}");
    let message = partial["errorMessage"].as_str().expect("errorMessage");
    assert!(message.contains("spans[1]"), "the message points at the first bad span: {message}");

    assert!(serve.stop().success());
    let names: Vec<String> = read_recording(&path).into_iter().map(|s| s.span.name).collect();
    assert_eq!(names, ["valid 1", "valid 2"]);
    assert_eq!(serve.last_stats().map(|s| s.stored), Some(2));
}

#[test]
fn invalid_ids_are_rejected_one_by_one_protobuf() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rec.jsonl");
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 path")]);
    let req = proto_traces(
        "svc",
        vec![
            proto_span(&[1; 16], &[1; 8], "valid 1"),
            proto_span(&[0; 16], &[2; 8], "zero trace"),
            proto_span(&[1; 16], &[3; 7], "short span id"),
            proto_span(&[1; 17], &[4; 8], "long trace id"),
            proto_span(&[1; 16], &[], "no span id"),
            proto_span(&[1; 16], &[5; 8], "valid 2"),
        ],
    );
    let resp =
        post(&serve.http_url("/v1/traces"), "application/x-protobuf", true, &req.encode_to_vec());
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/x-protobuf")
    );
    let answer =
        ExportTraceServiceResponse::decode(resp.bytes().expect("body")).expect("protobuf answer");
    let partial = answer.partial_success.expect("partial_success");
    assert_eq!(partial.rejected_spans, 4, "{partial:?}");
    assert!(!partial.error_message.is_empty());

    // All valid: no partial_success at all.
    let ok = proto_traces("svc", vec![proto_span(&[1; 16], &[6; 8], "valid 3")]);
    let resp =
        post(&serve.http_url("/v1/traces"), "application/x-protobuf", false, &ok.encode_to_vec());
    assert_eq!(resp.status(), 200);
    let answer =
        ExportTraceServiceResponse::decode(resp.bytes().expect("body")).expect("protobuf answer");
    assert_eq!(answer.partial_success, None);

    assert!(serve.stop().success());
    let names: Vec<String> = read_recording(&path).into_iter().map(|s| s.span.name).collect();
    assert_eq!(names, ["valid 1", "valid 2", "valid 3"]);
}
