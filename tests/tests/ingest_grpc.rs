//! OTLP/gRPC edge cases through a real tonic client: invalid ids are rejected one by one
//! through `partial_success`; a malformed message and one past `--max-request` get an error
//! status (the codes tonic gives are pinned here); the server keeps serving after each.

use hopscope_tests::{Serve, export_raw, proto_batch, proto_span, proto_traces, read_recording};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use tonic::Code;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

async fn client(serve: &Serve) -> TraceServiceClient<Channel> {
    TraceServiceClient::connect(serve.grpc_endpoint()).await.expect("connect to the gRPC receiver")
}

/// Sends one valid span and expects it accepted in full.
async fn assert_still_serving(serve: &Serve, span: u8) {
    let req = proto_traces("after", vec![proto_span(&[9; 16], &[span; 8], "still serving")]);
    let resp = client(serve).await.export(req).await.expect("the server stopped serving");
    assert_eq!(resp.into_inner().partial_success, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_ids_are_rejected_one_by_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rec.jsonl");
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 path")]);
    let req = proto_traces(
        "svc",
        vec![
            proto_span(&[1; 16], &[1; 8], "valid 1"),
            proto_span(&[0; 16], &[2; 8], "zero trace id"),
            proto_span(&[1; 16], &[0; 8], "zero span id"),
            proto_span(&[1; 15], &[3; 8], "short trace id"),
            proto_span(&[1; 16], &[4; 9], "long span id"),
            proto_span(&[1; 16], &[5; 8], "valid 2"),
        ],
    );
    let resp = client(&serve).await.export(req).await.expect("export").into_inner();
    let partial = resp.partial_success.expect("partial_success");
    assert_eq!(partial.rejected_spans, 4, "{partial:?}");
    assert!(partial.error_message.contains("spans[1]"), "{partial:?}");
    assert_still_serving(&serve, 6).await;

    assert!(serve.stop().success());
    let names: Vec<String> = read_recording(&path).into_iter().map(|s| s.span.name).collect();
    assert_eq!(names, ["valid 1", "valid 2", "still serving"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_protobuf_is_an_error_status() {
    let mut serve = Serve::start(&[]);
    // A valid message through the raw codec first, to show the codec works.
    let ok = proto_traces("svc", proto_batch(1, 0, 1, "raw")).encode_to_vec();
    export_raw(&serve, ok).await.expect("a valid raw message is accepted");

    for body in [vec![0xff_u8; 5], vec![0x0a, 0x10, 0x01], b"not protobuf at all".to_vec()] {
        let status = export_raw(&serve, body.clone()).await.expect_err("malformed is refused");
        // Malformed data is INVALID_ARGUMENT: not worth retrying.
        assert_eq!(status.code(), Code::InvalidArgument, "{body:?}: {status:?}");
        assert!(status.message().contains("decode"), "{status:?}");
    }
    assert_still_serving(&serve, 7).await;
    assert!(serve.stop().success());
    assert_eq!(serve.last_stats().map(|s| s.stored), Some(2));
}

fn oversize_request() -> ExportTraceServiceRequest {
    let req =
        proto_traces("svc", proto_batch(2, 0, 40, "a span with a long name to fill the message"));
    assert!(req.encoded_len() > 2048, "{}", req.encoded_len());
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_past_max_request_is_resource_exhausted() {
    let mut serve = Serve::start(&["--max-request", "2KiB"]);
    let status = client(&serve).await.export(oversize_request()).await.expect_err("too large");
    // tonic checks the frame's length prefix and says OUT_OF_RANGE; the receiver rewrites
    // that to RESOURCE_EXHAUSTED, as for a gzip body that inflates past the limit.
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("2048"), "{status:?}");
    assert_still_serving(&serve, 8).await;
    assert!(serve.stop().success());
    assert_eq!(serve.last_stats().map(|s| (s.received, s.stored)), Some((1, 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_message_past_max_request_after_inflation_is_refused() {
    let mut serve = Serve::start(&["--max-request", "2KiB"]);
    let req = oversize_request();
    let compressed = hopscope_tests::gzip(&req.encode_to_vec());
    assert!(compressed.len() < 2048, "compresses to {} bytes", compressed.len());
    let mut client = client(&serve).await.send_compressed(CompressionEncoding::Gzip);
    let status = client.export(req).await.expect_err("too large once inflated");
    // Past the limit while inflating, tonic says RESOURCE_EXHAUSTED.
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("decompressing"), "{status:?}");
    // Compressed and under the limit once inflated: accepted.
    let small = proto_traces("svc", proto_batch(3, 0, 2, "small"));
    client.export(small).await.expect("a small gzip request is accepted");
    assert!(serve.stop().success());
    assert_eq!(serve.last_stats().map(|s| s.stored), Some(2));
}
