//! Faults, each with a defined result, through the real binary (`hopscope serve --record`)
//! and, where the fault can be expressed with it, the real OpenTelemetry SDK:
//!
//! | fault                                    | defined result                                    |
//! |------------------------------------------|---------------------------------------------------|
//! | client gone mid-request (HTTP, gRPC)     | nothing of it recorded; server keeps serving      |
//! | slow (trickled) HTTP body                | accepted when complete; others served meanwhile   |
//! | 1 MiB attribute value                    | accepted, recorded byte for byte                  |
//! | request past `--max-request`             | 413 + google.rpc.Status RESOURCE_EXHAUSTED        |
//! | 10k attributes on a span                 | accepted, recorded in order, analysable           |
//! | values nested as deep as protobuf allows | accepted (protobuf, JSON), recorded, read back    |
//! | 100k-deep span tree                      | stored, recorded, analysed: one flow, no overflow |
//! | cycle of links / of parents              | analysis terminates; hops and flows as below      |
//! | all-zero trace or span id                | that span rejected via partial_success, rest kept |
//! | timestamps 0, u64::MAX, end < start      | accepted and recorded as sent; durations clamp    |
//! | invalid UTF-8 in a protobuf string       | 400 / gRPC INVALID_ARGUMENT, server up            |
//!
//! Every test also checks the server never printed "panicked".

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hopscope_collector::analysis::{Analysis, HopVia, SpanId, TraceId};
use hopscope_tests::{
    Serve, decode_status, hopscope_bin, http_client, json_span, json_traces, post, proto_batch,
    proto_span, proto_traces, read_recording, run_to_completion, string_value,
};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig as _};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::trace::v1::{Span, TracesData, span};
use prost::Message as _;

const INVALID_ARGUMENT: i32 = 3;
const RESOURCE_EXHAUSTED: i32 = 8;

/// A server recording into a fresh temporary directory (kept alive by the returned guard).
fn recording_server(extra: &[&str]) -> (Serve, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rec.jsonl");
    let mut args = vec!["--record", path.to_str().expect("UTF-8 path")];
    args.extend_from_slice(extra);
    (Serve::start(&args), path, dir)
}

/// Stops the server, expecting a clean exit and no panic anywhere on its stderr.
fn stop_cleanly(serve: &mut Serve) {
    let status = serve.stop();
    let stderr = serve.stderr_lines().join("\n");
    assert!(status.success(), "hopscope serve exited with {status}:\n{stderr}");
    assert!(!stderr.contains("panicked"), "hopscope serve panicked:\n{stderr}");
}

/// POSTs a protobuf request to `/v1/traces`: HTTP status and body.
fn post_proto(serve: &Serve, req: &ExportTraceServiceRequest) -> (u16, Vec<u8>) {
    let resp =
        post(&serve.http_url("/v1/traces"), "application/x-protobuf", false, &req.encode_to_vec());
    let status = resp.status().as_u16();
    (status, resp.bytes().expect("response body").to_vec())
}

/// POSTs a protobuf request and expects it accepted in full.
fn send_all(serve: &Serve, req: &ExportTraceServiceRequest) {
    let (status, body) = post_proto(serve, req);
    assert_eq!(status, 200, "{:?}", String::from_utf8_lossy(&body));
    let resp =
        ExportTraceServiceResponse::decode(&body[..]).expect("an ExportTraceServiceResponse");
    assert_eq!(resp.partial_success, None);
}

/// `hopscope analyze FILE --format json`, which must finish within `timeout`.
fn analyze(path: &Path, timeout: Duration) -> Analysis {
    let out = path.with_extension("analysis.json");
    let mut cmd = Command::new(hopscope_bin());
    cmd.arg("analyze").arg(path).args(["--format", "json"]);
    cmd.stdout(std::fs::File::create(&out).expect("create the analysis output"));
    cmd.stdin(Stdio::null());
    let (status, stderr, took) = run_to_completion(&mut cmd, timeout)
        .unwrap_or_else(|stderr| panic!("analyze did not finish within {timeout:?}:\n{stderr}"));
    assert!(status.success(), "analyze exited with {status} after {took:?}:\n{stderr}");
    assert!(!stderr.contains("panicked"), "analyze panicked:\n{stderr}");
    let text = std::fs::read(&out).expect("read the analysis");
    serde_json::from_slice(&text).unwrap_or_else(|e| {
        panic!("analyze --format json is not an analysis ({e}): {}", String::from_utf8_lossy(&text))
    })
}

/// A string attribute.
fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue { key: key.to_owned(), value: string_value(value), ..KeyValue::default() }
}

fn int_kv(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(Value::IntValue(value)) }),
        ..KeyValue::default()
    }
}

/// Reads an HTTP/1.1 response off `stream` (the request said `Connection: close`): its
/// status code and the whole text.
fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read the response");
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    (code, text)
}

/// The head of a raw OTLP/HTTP protobuf request of `len` body bytes.
fn request_head(addr: SocketAddr, len: usize) -> String {
    format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-protobuf\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n"
    )
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("read timeout");
    stream
}

// ---- a client disconnecting mid-request ------------------------------------------------

#[test]
fn http_client_gone_mid_body_records_nothing_of_it() {
    let (mut serve, path, _dir) = recording_server(&[]);
    let partial = proto_traces("gone", proto_batch(1, 0, 50, "never complete")).encode_to_vec();
    for cut in [0, 1, partial.len() / 2, partial.len() - 1] {
        // Content-Length promises the whole body; the client sends part of it and leaves.
        let mut stream = connect(serve.http_addr);
        stream.write_all(request_head(serve.http_addr, partial.len()).as_bytes()).expect("head");
        stream.write_all(&partial[..cut]).expect("part of the body");
        stream.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(50));
        drop(stream);
    }
    // Chunked, cut inside a chunk.
    let mut stream = connect(serve.http_addr);
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-protobuf\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        serve.http_addr,
        partial.len()
    );
    stream.write_all(head.as_bytes()).expect("head");
    stream.write_all(&partial[..partial.len() / 3]).expect("part of a chunk");
    stream.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(50));
    drop(stream);

    // Later requests are served, on new connections and over raw HTTP as well.
    let complete = proto_traces("after", proto_batch(2, 0, 3, "complete"));
    send_all(&serve, &complete);
    let body = complete_raw_request(&serve, &proto_traces("raw", proto_batch(3, 0, 1, "raw")));
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    serve.wait_for_stats(|s| s.stored == 4, Duration::from_secs(10));
    stop_cleanly(&mut serve);
    let names: Vec<String> = read_recording(&path).into_iter().map(|s| s.span.name).collect();
    assert_eq!(names, ["complete 0", "complete 1", "complete 2", "raw 0"]);
    assert_eq!(serve.last_stats().map(|s| s.received), Some(4));
}

/// Sends `req` over a raw HTTP/1.1 connection (the same way the broken requests are sent):
/// the whole response.
fn complete_raw_request(serve: &Serve, req: &ExportTraceServiceRequest) -> String {
    let body = req.encode_to_vec();
    let mut stream = connect(serve.http_addr);
    stream.write_all(request_head(serve.http_addr, body.len()).as_bytes()).expect("head");
    stream.write_all(&body).expect("body");
    read_response(&mut stream).1
}

/// One HTTP/2 frame.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("small frame").to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// HPACK "literal header field without indexing, new name" (short strings, no Huffman).
fn hpack(block: &mut Vec<u8>, name: &str, value: &str) {
    block.push(0);
    for s in [name, value] {
        block.push(u8::try_from(s.len()).ok().filter(|n| *n < 127).expect("short header"));
        block.extend_from_slice(s.as_bytes());
    }
}

/// Opens a raw HTTP/2 connection and starts a gRPC TraceService/Export call on stream 1,
/// sending `message` (a gRPC length-prefixed frame is built around it) cut to `send` bytes
/// of the frame; `end` marks the end of the request stream.
fn raw_grpc(addr: SocketAddr, message: &[u8], send: usize, end: bool) -> TcpStream {
    const DATA: u8 = 0;
    const HEADERS: u8 = 1;
    const SETTINGS: u8 = 4;
    const END_STREAM: u8 = 0x1;
    const END_HEADERS: u8 = 0x4;
    let mut stream = connect(addr);
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(h2_frame(SETTINGS, 0, 0, &[]));
    let mut block = Vec::new();
    hpack(&mut block, ":method", "POST");
    hpack(&mut block, ":scheme", "http");
    hpack(&mut block, ":path", "/opentelemetry.proto.collector.trace.v1.TraceService/Export");
    hpack(&mut block, ":authority", &addr.to_string());
    hpack(&mut block, "content-type", "application/grpc");
    hpack(&mut block, "te", "trailers");
    out.extend(h2_frame(HEADERS, END_HEADERS, 1, &block));
    let mut grpc = vec![0];
    grpc.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    grpc.extend_from_slice(message);
    out.extend(h2_frame(DATA, if end { END_STREAM } else { 0 }, 1, &grpc[..send]));
    stream.write_all(&out).expect("write HTTP/2 frames");
    stream.flush().expect("flush");
    stream
}

#[test]
fn grpc_client_gone_mid_stream_records_nothing_of_it() {
    let (mut serve, path, _dir) = recording_server(&[]);
    // The raw HTTP/2 client works: a complete call is stored.
    let whole = proto_traces("raw", proto_batch(4, 0, 1, "raw whole")).encode_to_vec();
    let stream = raw_grpc(serve.grpc_addr, &whole, whole.len() + 5, true);
    serve.wait_for_stats(|s| s.stored == 1, Duration::from_secs(10));
    drop(stream);

    // The same call cut inside its message, then the connection dropped.
    let partial = proto_traces("gone", proto_batch(5, 0, 50, "never complete")).encode_to_vec();
    for send in [3, 5 + partial.len() / 2, 5 + partial.len() - 1] {
        let stream = raw_grpc(serve.grpc_addr, &partial, send, false);
        std::thread::sleep(Duration::from_millis(100));
        drop(stream);
    }
    // And a whole message whose stream is never ended (the client vanishes before END_STREAM).
    let stream = raw_grpc(serve.grpc_addr, &partial, partial.len() + 5, false);
    std::thread::sleep(Duration::from_millis(100));
    drop(stream);

    // A real client is still served.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    runtime.block_on(async {
        let mut client =
            TraceServiceClient::connect(serve.grpc_endpoint()).await.expect("connect over gRPC");
        let resp = client
            .export(proto_traces("after", proto_batch(6, 0, 2, "after")))
            .await
            .expect("the server keeps serving gRPC")
            .into_inner();
        assert_eq!(resp.partial_success, None);
    });
    send_all(&serve, &proto_traces("after", proto_batch(7, 0, 1, "http after")));
    serve.wait_for_stats(|s| s.stored >= 4, Duration::from_secs(10));
    stop_cleanly(&mut serve);
    let mut names: Vec<String> = read_recording(&path).into_iter().map(|s| s.span.name).collect();
    names.sort();
    // Cut calls, and the whole message whose stream never ended (tonic waits for the end of
    // a unary request before answering), left nothing behind.
    assert_eq!(names, ["after 0", "after 1", "http after 0", "raw whole 0"]);
}

// ---- a slow HTTP body -----------------------------------------------------------------

#[test]
fn slow_http_body_is_accepted_when_complete_and_others_are_served_meanwhile() {
    const PIECES: usize = 20;
    const PAUSE: Duration = Duration::from_millis(100);
    let (mut serve, path, _dir) = recording_server(&[]);
    let addr = serve.http_addr;
    let body = proto_traces("slow", proto_batch(8, 0, 20, "trickled")).encode_to_vec();
    let trickle = std::thread::spawn(move || {
        let mut stream = connect(addr);
        stream.write_all(request_head(addr, body.len()).as_bytes()).expect("head");
        for piece in body.chunks(body.len().div_ceil(PIECES)) {
            stream.write_all(piece).expect("a piece of the body");
            stream.flush().expect("flush");
            std::thread::sleep(PAUSE);
        }
        let done = Instant::now();
        (read_response(&mut stream), done)
    });
    // While the body trickles in (about 2 s), other clients are served at once.
    std::thread::sleep(PAUSE * 3);
    let started = Instant::now();
    for i in 0..5 {
        send_all(&serve, &proto_traces("quick", proto_batch(9, i, 1, "quick")));
    }
    let quick_done = Instant::now();
    assert!(
        quick_done.duration_since(started) < Duration::from_secs(2),
        "other requests waited {:?} for the slow one",
        quick_done.duration_since(started)
    );
    let ((code, response), trickle_done) = trickle.join().expect("the trickling client");
    assert!(quick_done < trickle_done, "the slow body finished before the quick requests");
    assert_eq!(code, 200, "{response}");
    serve.wait_for_stats(|s| s.stored == 25, Duration::from_secs(10));
    stop_cleanly(&mut serve);
    let spans = read_recording(&path);
    assert_eq!(spans.iter().filter(|s| s.span.name.starts_with("trickled")).count(), 20);
    assert_eq!(spans.iter().filter(|s| s.span.name.starts_with("quick")).count(), 5);
}

// ---- huge attribute values, many attributes ---------------------------------------------

/// `len` bytes of varied UTF-8 (ASCII, two-, three- and four-byte characters).
fn varied_text(len: usize) -> String {
    let alphabet = ['a', 'Z', '0', ' ', 'é', 'ß', '€', '漢', '😀', '\n', '"', '\\'];
    let mut s = String::with_capacity(len + 4);
    let mut i = 0usize;
    while s.len() < len {
        s.push(alphabet[(i * 7 + i / 13) % alphabet.len()]);
        i += 1;
    }
    s
}

#[test]
fn huge_attribute_values_are_recorded_intact_and_past_the_limit_refused() {
    let (mut serve, path, _dir) = recording_server(&["--max-request", "2MiB"]);
    let big = varied_text(1 << 20);
    let mut span = proto_span(&[10; 16], &[1; 8], "huge attribute");
    span.attributes = vec![kv("big", &big), kv("small", "after the big one")];
    send_all(&serve, &proto_traces("huge", vec![span]));

    // The same over gRPC and as OTLP/JSON.
    let mut grpc_span = proto_span(&[10; 16], &[2; 8], "huge attribute over gRPC");
    grpc_span.attributes = vec![kv("big", &big)];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    runtime.block_on(async {
        let mut client =
            TraceServiceClient::connect(serve.grpc_endpoint()).await.expect("connect over gRPC");
        client.export(proto_traces("huge", vec![grpc_span])).await.expect("1 MiB over gRPC");
    });
    let mut json = json_span("0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a", "0303030303030303", "json");
    json["attributes"] = serde_json::json!([{"key": "big", "value": {"stringValue": big}}]);
    let resp = post(
        &serve.http_url("/v1/traces"),
        "application/json",
        false,
        &json_traces("huge", &[json]),
    );
    assert_eq!(resp.status(), 200, "{:?}", resp.text());

    // Past --max-request: 413 with a google.rpc.Status saying so; nothing of it stored.
    let mut too_big = proto_span(&[10; 16], &[4; 8], "too big");
    too_big.attributes = vec![kv("big", &varied_text(3 << 20))];
    let (status, body) = post_proto(&serve, &proto_traces("huge", vec![too_big]));
    assert_eq!(status, 413, "{:?}", String::from_utf8_lossy(&body));
    let s = decode_status(&body);
    assert_eq!(s.code, RESOURCE_EXHAUSTED, "{s:?}");
    assert!(s.message.contains("2097152"), "{s:?}");
    send_all(&serve, &proto_traces("huge", vec![proto_span(&[10; 16], &[5; 8], "small after")]));

    serve.wait_for_stats(|s| s.stored == 4, Duration::from_secs(10));
    stop_cleanly(&mut serve);
    let spans = read_recording(&path);
    let names: Vec<&str> = spans.iter().map(|s| s.span.name.as_str()).collect();
    assert_eq!(names, ["huge attribute", "huge attribute over gRPC", "json", "small after"]);
    for s in &spans[..3] {
        let Some(Value::StringValue(got)) = s.attr("big") else {
            panic!("{}: no string attribute `big`", s.span.name)
        };
        assert!(
            got == &big,
            "{}: the 1 MiB value changed ({} bytes recorded)",
            s.span.name,
            got.len()
        );
    }
    assert!(
        matches!(spans[0].attr("small"), Some(Value::StringValue(v)) if v == "after the big one")
    );
}

#[test]
fn ten_thousand_attributes_on_one_span_from_the_sdk() {
    const N: usize = 10_000;
    let (mut serve, path, _dir) = recording_server(&[]);
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(serve.http_url("/v1/traces"))
        .build()
        .expect("cannot build the OTLP span exporter");
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_resource(
            opentelemetry_sdk::Resource::builder_empty().with_service_name("wide").build(),
        )
        .with_max_attributes_per_span(N as u32)
        .with_batch_exporter(exporter)
        .build();
    let tracer = provider.tracer("hopscope-faults");
    let mut span = tracer.start("wide span");
    for i in 0..N {
        span.set_attribute(opentelemetry::KeyValue::new(format!("attr.{i:05}"), i as i64));
    }
    span.end();
    provider.force_flush().expect("the OTLP exporter failed to flush");
    provider.shutdown().expect("the tracer provider failed to shut down");

    serve.wait_for_stats(|s| s.stored == 1, Duration::from_secs(10));
    stop_cleanly(&mut serve);
    let spans = read_recording(&path);
    assert_eq!(spans.len(), 1);
    let attrs = &spans[0].span.attributes;
    assert_eq!(attrs.len(), N);
    for (i, a) in attrs.iter().enumerate() {
        assert_eq!(a.key, format!("attr.{i:05}"));
        assert_eq!(a.value, Some(AnyValue { value: Some(Value::IntValue(i as i64)) }));
    }
    let a = analyze(&path, Duration::from_secs(60));
    assert_eq!((a.summary.spans, a.summary.flows), (1, 1));
    assert_eq!(a.flows[0].root.name.to_string(), "wide span");
}

/// An attribute value `depth` arrays (or key-value lists) deep.
fn nested_value(depth: usize, kvlist: bool) -> AnyValue {
    let mut value = AnyValue { value: Some(Value::StringValue("leaf".into())) };
    for _ in 0..depth {
        value = AnyValue {
            value: Some(if kvlist {
                Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue {
                        key: "k".into(),
                        value: Some(value),
                        ..KeyValue::default()
                    }],
                })
            } else {
                Value::ArrayValue(ArrayValue { values: vec![value] })
            }),
        };
    }
    value
}

fn nested_request(span: u8, depth: usize, kvlist: bool) -> ExportTraceServiceRequest {
    let mut s = proto_span(&[0x70; 16], &[span; 8], &format!("nested {kvlist} {depth}"));
    s.attributes = vec![KeyValue {
        key: "deep".into(),
        value: Some(nested_value(depth, kvlist)),
        ..KeyValue::default()
    }];
    proto_traces("nested", vec![s])
}

/// Defined result: attribute values nested as deep as protobuf decoding allows (prost's
/// limit of 100 nested messages) are accepted over protobuf and OTLP/JSON, recorded, and read
/// back from the recording; deeper JSON is a 400 naming the limit. Nothing overflows a stack.
#[test]
fn deeply_nested_values_are_recorded_and_read_back() {
    let (mut serve, path, _dir) = recording_server(&[]);
    let mut sent = 0;
    for (i, kvlist) in [false, true].into_iter().enumerate() {
        // The deepest value prost decodes.
        let deepest = (1..200)
            .take_while(|&d| {
                let bytes = nested_request(1, d, kvlist).encode_to_vec();
                ExportTraceServiceRequest::decode(&bytes[..]).is_ok()
            })
            .last()
            .expect("some depth decodes");
        assert!(deepest >= 30, "{deepest}");
        let base = 1 + 4 * i as u8;
        send_all(&serve, &nested_request(base, deepest, kvlist));
        let (status, body) = post_proto(&serve, &nested_request(base + 1, deepest + 1, kvlist));
        assert_eq!(status, 400, "{:?}", String::from_utf8_lossy(&body));

        // The same value as OTLP/JSON (as the recording writes it) is accepted too.
        let mut json = Vec::new();
        let data =
            TracesData { resource_spans: nested_request(base + 2, deepest, kvlist).resource_spans };
        hopscope_collector::otlp::json::encode_traces_data(&data, &mut json);
        let resp = post(&serve.http_url("/v1/traces"), "application/json", false, &json);
        assert_eq!(resp.status(), 200, "{:?}", resp.text());
        sent += 2;
    }
    // JSON nested far deeper: refused with the limit named, the server up.
    let depth = 10_000;
    let json = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"70707070707070707070707070707070","spanId":"0000000000000009","attributes":[{{"key":"d","value":{}{{"stringValue":"x"}}{}}}]}}]}}]}}]}}"#,
        r#"{"arrayValue":{"values":["#.repeat(depth),
        "]}}".repeat(depth)
    );
    let resp = post(&serve.http_url("/v1/traces"), "application/json", false, json.as_bytes());
    assert_eq!(resp.status(), 400);
    let text = resp.text().expect("body");
    assert!(text.contains("nested more than"), "{text}");

    serve.wait_for_stats(|s| s.stored == sent, Duration::from_secs(10));
    stop_cleanly(&mut serve);
    let recorded = read_recording(&path);
    assert_eq!(recorded.len() as u64, sent);
    let a = analyze(&path, Duration::from_secs(60));
    assert_eq!(a.summary.spans, sent);
}

// ---- a 100k-deep span tree --------------------------------------------------------------

#[test]
fn hundred_thousand_deep_span_tree_is_stored_recorded_and_analysed() {
    const DEPTH: u64 = 100_000;
    const BATCH: u64 = 25_000;
    const START: u64 = 1_700_000_000_000_000_000;
    let (mut serve, path, _dir) = recording_server(&[]);
    let trace = [0x5d; 16];
    // Span i (1-based) is the child of span i-1, starts 1 µs after it and ends 1 µs before it.
    let span = |i: u64| Span {
        parent_span_id: if i == 1 { Vec::new() } else { (i - 1).to_be_bytes().to_vec() },
        start_time_unix_nano: START + i * 1_000,
        end_time_unix_nano: START + (2 * DEPTH + 1 - i) * 1_000,
        ..proto_span(&trace, &i.to_be_bytes(), &format!("depth {i}"))
    };
    // Deepest batch first: every span waits for its parent, a chain 100k long.
    for first in (0..DEPTH / BATCH).rev().map(|b| b * BATCH + 1) {
        send_all(&serve, &proto_traces("deep", (first..first + BATCH).map(span).collect()));
    }
    serve.wait_for_stats(|s| s.stored == DEPTH, Duration::from_secs(60));
    stop_cleanly(&mut serve);
    assert_eq!(read_recording(&path).len() as u64, DEPTH);

    let a = analyze(&path, Duration::from_secs(120));
    assert_eq!((a.summary.spans, a.summary.traces, a.summary.flows), (DEPTH, 1, 1));
    let flow = &a.flows[0];
    assert_eq!(flow.root.span_id, SpanId(1u64.to_be_bytes()));
    assert_eq!(flow.span_count, DEPTH);
    assert_eq!(flow.root_duration_ns, (2 * DEPTH - 1) * 1_000);
    assert_eq!(flow.duration_ns, (2 * DEPTH - 1) * 1_000);
}

// ---- cycles ------------------------------------------------------------------------------

fn messaging(span: &mut Span, kind: i32, op: &str, destination: &str) {
    span.kind = kind;
    span.attributes = vec![
        kv("messaging.system", "rabbitmq"),
        kv("messaging.destination.name", destination),
        kv("messaging.operation.type", op),
    ];
}

fn link(trace: [u8; 16], span: [u8; 8]) -> span::Link {
    span::Link { trace_id: trace.to_vec(), span_id: span.to_vec(), ..span::Link::default() }
}

/// Defined result: a cycle of hops (A → B → A) is one flow holding both traces and both
/// hops; a trace whose spans are each other's parents, or a span its own parent and linked
/// to itself, is a flow of its own; the analysis terminates.
#[test]
fn cycles_of_links_and_of_parents_terminate_with_sane_flows() {
    const PRODUCER: i32 = 4;
    const CONSUMER: i32 = 5;
    let (mut serve, path, _dir) = recording_server(&[]);
    let (ta, tb) = ([0xaa; 16], [0xbb; 16]);
    // Trace A: a1 consumes `pings` (linking b2, which produced it) and, under it, a2 sends
    // `pongs`. Trace B: b1 consumes `pongs` (linking a2) and, under it, b2 sends `pings`.
    // A hop A → B and a hop B → A: each trace is downstream of the other.
    let mut a1 = proto_span(&ta, &[0xa1; 8], "pings process");
    messaging(&mut a1, CONSUMER, "process", "pings");
    a1.links = vec![link(tb, [0xb2; 8])];
    let mut a2 = proto_span(&ta, &[0xa2; 8], "pongs publish");
    messaging(&mut a2, PRODUCER, "send", "pongs");
    a2.parent_span_id = vec![0xa1; 8];
    let mut b1 = proto_span(&tb, &[0xb1; 8], "pongs process");
    messaging(&mut b1, CONSUMER, "process", "pongs");
    b1.links = vec![link(ta, [0xa2; 8])];
    let mut b2 = proto_span(&tb, &[0xb2; 8], "pings publish");
    messaging(&mut b2, PRODUCER, "send", "pings");
    b2.parent_span_id = vec![0xb1; 8];
    // Trace C: two spans, each the other's parent (no root at all). Trace D: a span that is
    // its own parent and links to itself.
    let tc = [0xcc; 16];
    let mut c1 = proto_span(&tc, &[0xc1; 8], "c1");
    c1.parent_span_id = vec![0xc2; 8];
    let mut c2 = proto_span(&tc, &[0xc2; 8], "c2");
    c2.parent_span_id = vec![0xc1; 8];
    let td = [0xdd; 16];
    let mut d1 = proto_span(&td, &[0xd1; 8], "d1");
    messaging(&mut d1, CONSUMER, "process", "pings");
    d1.parent_span_id = vec![0xd1; 8];
    d1.links = vec![link(td, [0xd1; 8])];
    send_all(&serve, &proto_traces("cycle", vec![a1, a2, b1, b2, c1, c2, d1]));
    serve.wait_for_stats(|s| s.stored == 7, Duration::from_secs(10));
    stop_cleanly(&mut serve);

    let a = analyze(&path, Duration::from_secs(60));
    assert_eq!((a.summary.spans, a.summary.traces), (7, 4));
    // Both hops of the cycle are found, by their links.
    let mut hops: Vec<(SpanId, SpanId, HopVia)> =
        a.hops.iter().map(|h| (h.producer.span_id, h.consumer.span_id, h.via)).collect();
    hops.sort();
    assert_eq!(
        hops,
        [
            (SpanId([0xa2; 8]), SpanId([0xb1; 8]), HopVia::Link),
            (SpanId([0xb2; 8]), SpanId([0xa1; 8]), HopVia::Link),
        ],
        "{:#?}",
        a.hops
    );
    // Flows: the cycle is one flow holding both of its traces and both hops (rooted at one of
    // them); the parent cycle and the self-parent are a flow each. Every trace is in exactly
    // one flow, listed once.
    let (a_id, b_id) = (TraceId(ta), TraceId(tb));
    assert_eq!(a.flows.len(), 3, "{:#?}", a.flows);
    let cycle = a.flows.iter().find(|f| f.traces.contains(&a_id)).expect("a flow over A");
    assert!(cycle.id == a_id || cycle.id == b_id, "{cycle:#?}");
    assert_eq!(cycle.traces[0], cycle.id, "{cycle:#?}");
    let mut traces = cycle.traces.clone();
    traces.sort();
    assert_eq!(traces, [a_id, b_id], "{cycle:#?}");
    assert_eq!((cycle.span_count, cycle.hop_count), (4, 2), "{cycle:#?}");
    let mut all: Vec<TraceId> = a.flows.iter().flat_map(|f| f.traces.iter().copied()).collect();
    all.sort();
    assert_eq!(all, [ta, tb, tc, td].map(TraceId), "{:#?}", a.flows);
    for (t, spans) in [(tc, 2), (td, 1)] {
        let flow = a.flows.iter().find(|f| f.id == TraceId(t)).expect("a flow of its own");
        assert_eq!((flow.traces.len() as u64, flow.span_count), (1, spans), "{flow:#?}");
    }
}

// ---- all-zero ids ----------------------------------------------------------------------

#[test]
fn all_zero_ids_are_rejected_per_span_and_the_rest_kept() {
    let (mut serve, path, _dir) = recording_server(&[]);
    let mut zero_parent = proto_span(&[0x21; 16], &[3; 8], "zero parent is a root");
    zero_parent.parent_span_id = vec![0; 8];
    let mut zero_link = proto_span(&[0x21; 16], &[4; 8], "zero link dropped");
    zero_link.links = vec![link([0; 16], [0; 8]), link([0x21; 16], [3; 8])];
    let req = proto_traces(
        "zeros",
        vec![
            proto_span(&[0x21; 16], &[1; 8], "valid"),
            proto_span(&[0; 16], &[2; 8], "zero trace id"),
            proto_span(&[0x21; 16], &[0; 8], "zero span id"),
            proto_span(&[0; 16], &[0; 8], "both zero"),
            zero_parent,
            zero_link,
        ],
    );
    let (status, body) = post_proto(&serve, &req);
    assert_eq!(status, 200, "{:?}", String::from_utf8_lossy(&body));
    let partial = ExportTraceServiceResponse::decode(&body[..])
        .expect("response")
        .partial_success
        .expect("partial_success");
    assert_eq!(partial.rejected_spans, 3, "{partial:?}");
    assert!(partial.error_message.contains("spans[1]"), "{partial:?}");
    assert!(partial.error_message.contains("trace_id"), "{partial:?}");
    assert!(partial.error_message.contains("2 more"), "{partial:?}");

    // The same over OTLP/JSON.
    let json = json_traces(
        "zeros",
        &[
            json_span("00000000000000000000000000000000", "0000000000000005", "json zero trace"),
            json_span("21212121212121212121212121212121", "0000000000000006", "json valid"),
        ],
    );
    let resp = post(&serve.http_url("/v1/traces"), "application/json", false, &json);
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value =
        serde_json::from_slice(&resp.bytes().expect("body")).expect("JSON response");
    assert_eq!(v["partialSuccess"]["rejectedSpans"].as_str(), Some("1"), "{v}");
    assert!(
        v["partialSuccess"]["errorMessage"].as_str().is_some_and(|m| m.contains("trace_id")),
        "{v}"
    );

    serve.wait_for_stats(|s| s.stored == 4, Duration::from_secs(10));
    stop_cleanly(&mut serve);
    let spans = read_recording(&path);
    let names: Vec<&str> = spans.iter().map(|s| s.span.name.as_str()).collect();
    assert_eq!(names, ["valid", "zero parent is a root", "zero link dropped", "json valid"]);
    assert_eq!(spans[1].parent_span_id(), "");
    assert_eq!(spans[2].span.links.len(), 1, "{:?}", spans[2].span.links);
    assert_eq!(serve.last_stats().map(|s| s.received), Some(4));
}

// ---- timestamps ------------------------------------------------------------------------

/// Defined result: timestamps are stored and recorded exactly as sent (never rewritten); a
/// span's duration is `end - start` clamped at 0 (end before start is 0, not a wrapped
/// number); a flow spans its earliest start to its latest end, so its duration never wraps.
#[test]
fn extreme_and_reversed_timestamps_are_kept_and_durations_clamp() {
    const T: u64 = 1_700_000_000_000_000_000;
    let (mut serve, path, _dir) = recording_server(&[]);
    let cases: [(&str, u64, u64); 6] = [
        ("zero both", 0, 0),
        ("zero start", 0, T),
        ("max both", u64::MAX, u64::MAX),
        ("zero to max", 0, u64::MAX),
        ("max start, zero end", u64::MAX, 0),
        ("end before start", T + 5_000, T),
    ];
    // Each case is a root with a child (so sync edges, flows and durations see it) in its
    // own trace; the child has the same times.
    let mut spans = Vec::new();
    for (i, (name, start, end)) in cases.iter().enumerate() {
        let trace = [0x30 + i as u8; 16];
        let mut root = proto_span(&trace, &[1; 8], name);
        root.start_time_unix_nano = *start;
        root.end_time_unix_nano = *end;
        let mut child = proto_span(&trace, &[2; 8], &format!("{name} child"));
        child.parent_span_id = vec![1; 8];
        child.start_time_unix_nano = *start;
        child.end_time_unix_nano = *end;
        child.attributes = vec![int_kv("i", i as i64)];
        spans.push(root);
        spans.push(child);
    }
    send_all(&serve, &proto_traces("time", spans));
    // As OTLP/JSON too, with the extremes as strings and as numbers.
    let json = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[
          {{"traceId":"40404040404040404040404040404040","spanId":"0000000000000001","name":"json max",
            "startTimeUnixNano":"18446744073709551615","endTimeUnixNano":0}},
          {{"traceId":"41414141414141414141414141414141","spanId":"0000000000000001","name":"json reversed",
            "startTimeUnixNano":{},"endTimeUnixNano":"{}"}}]}}]}}]}}"#,
        T + 1,
        T
    );
    let resp = post(&serve.http_url("/v1/traces"), "application/json", false, json.as_bytes());
    assert_eq!(resp.status(), 200, "{:?}", resp.text());
    serve.wait_for_stats(|s| s.stored == 14, Duration::from_secs(10));
    stop_cleanly(&mut serve);

    // Recorded as sent: timestamps are never rewritten.
    let recorded = read_recording(&path);
    for (name, start, end) in cases {
        let s = recorded.iter().find(|s| s.span.name == name).expect("recorded");
        assert_eq!(
            (s.span.start_time_unix_nano, s.span.end_time_unix_nano),
            (start, end),
            "{name}"
        );
    }
    let s = recorded.iter().find(|s| s.span.name == "json max").expect("recorded");
    assert_eq!((s.span.start_time_unix_nano, s.span.end_time_unix_nano), (u64::MAX, 0));

    // Durations clamp: end before start is 0, never a wrapped huge number.
    let a = analyze(&path, Duration::from_secs(60));
    assert_eq!(a.summary.spans, 14);
    assert_eq!(a.flows.len(), 8, "{:#?}", a.flows);
    for flow in &a.flows {
        let expected = cases
            .iter()
            .find(|c| flow.root.name == c.0)
            .map_or(0, |(_, start, end)| end.saturating_sub(*start));
        assert_eq!(flow.root_duration_ns, expected, "{flow:#?}");
        assert!(flow.duration_ns >= flow.root_duration_ns, "{flow:#?}");
        assert!(flow.end_unix_nano >= flow.start_unix_nano, "{flow:#?}");
        assert_eq!(flow.duration_ns, flow.end_unix_nano - flow.start_unix_nano, "{flow:#?}");
    }
}

// ---- invalid UTF-8 ---------------------------------------------------------------------

/// `req` encoded with the span name `marker` replaced by bytes that are not UTF-8.
fn with_invalid_utf8(req: &ExportTraceServiceRequest, marker: &str) -> Vec<u8> {
    let mut bytes = req.encode_to_vec();
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .expect("the marker is in the encoding");
    bytes[at..at + 4].copy_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    bytes
}

#[test]
fn invalid_utf8_in_protobuf_strings_is_refused_with_a_message() {
    let (mut serve, path, _dir) = recording_server(&[]);
    let mut spans = proto_batch(0x50, 0, 2, "fine");
    spans.push(proto_span(&[0x50; 16], &[9; 8], "MARKERxx"));
    let req = proto_traces("utf8", spans);
    let bad = with_invalid_utf8(&req, "MARKER");

    // OTLP/HTTP: 400 with a google.rpc.Status INVALID_ARGUMENT naming the problem.
    for gzip in [false, true] {
        let resp = post(&serve.http_url("/v1/traces"), "application/x-protobuf", gzip, &bad);
        assert_eq!(resp.status(), 400, "gzip {gzip}");
        let s = decode_status(&resp.bytes().expect("body"));
        assert_eq!(s.code, INVALID_ARGUMENT, "{s:?}");
        assert!(s.message.to_lowercase().contains("utf-8"), "{s:?}");
    }
    // In an attribute value and an attribute key as well.
    let mut span = proto_span(&[0x50; 16], &[10; 8], "attr");
    span.attributes = vec![kv("KEYMARK", "v"), kv("k", "VALMARK")];
    let req2 = proto_traces("utf8", vec![span]);
    for marker in ["KEYMARK", "VALMARK"] {
        let (status, body) = {
            let resp = post(
                &serve.http_url("/v1/traces"),
                "application/x-protobuf",
                false,
                &with_invalid_utf8(&req2, marker),
            );
            (resp.status().as_u16(), resp.bytes().expect("body").to_vec())
        };
        assert_eq!(status, 400, "{marker}");
        assert_eq!(decode_status(&body).code, INVALID_ARGUMENT, "{marker}");
    }

    // OTLP/gRPC: an error status (not OK, not a dropped connection) naming the problem.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    runtime.block_on(async {
        let status = hopscope_tests::export_raw(&serve, bad.clone())
            .await
            .expect_err("a request with invalid UTF-8 is refused");
        // INVALID_ARGUMENT, as for every undecodable trace request (pinned in
        // ingest_grpc.rs); the message says why.
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        assert!(status.message().to_lowercase().contains("utf-8"), "{status:?}");
    });

    // Still serving; nothing of the refused requests was stored.
    send_all(&serve, &proto_traces("utf8", proto_batch(0x51, 0, 1, "after")));
    serve.wait_for_stats(|s| s.stored == 1, Duration::from_secs(10));
    stop_cleanly(&mut serve);
    let names: Vec<String> = read_recording(&path).into_iter().map(|s| s.span.name).collect();
    assert_eq!(names, ["after 0"]);
}

#[test]
fn raw_http_requests_of_the_helpers_are_valid() {
    // A sanity check of the helpers the fault tests rely on: a raw HTTP request is a valid
    // request (so a cut one is cut, not malformed from the start), and `http_client` works.
    let (mut serve, path, _dir) = recording_server(&[]);
    let text = complete_raw_request(&serve, &proto_traces("raw", proto_batch(0x60, 0, 2, "raw")));
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let resp = http_client().get(serve.http_url("/v1/traces")).send().expect("GET");
    assert_eq!(resp.status(), 405);
    serve.wait_for_stats(|s| s.stored == 2, Duration::from_secs(10));
    stop_cleanly(&mut serve);
    assert_eq!(read_recording(&path).len(), 2);
}
