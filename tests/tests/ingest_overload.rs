//! Backpressure: with a tiny ingest queue and a slow engine (`--debug-engine-delay`), batches
//! sent in quick succession are refused (HTTP 503 with Retry-After and a Status body; gRPC
//! UNAVAILABLE with a RetryInfo detail), the refused spans are counted in the stats line, and
//! the server accepts again once the engine catches up.

use std::time::{Duration, Instant};

use hopscope_tests::{Serve, decode_status, post, proto_batch, proto_traces};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use tonic::Code;
use tonic_types::StatusExt as _;

const BATCH: u64 = 5;
/// Batches sent while looking for a refusal; the queue holds two, the engine one more.
const MAX_TRIES: u64 = 40;
const UNAVAILABLE: i32 = 14;

fn overloaded_server() -> Serve {
    Serve::start(&["--ingest-queue", "10", "--debug-engine-delay", "500ms"])
}

#[test]
fn http_refuses_with_503_and_retry_after_then_recovers() {
    let mut serve = overloaded_server();
    let url = serve.http_url("/v1/traces");
    let (mut accepted, mut refused) = (0_u64, 0_u64);
    let mut seen_503 = None;
    for i in 0..MAX_TRIES {
        let body = proto_traces("svc", proto_batch(1, i * BATCH, BATCH, "burst")).encode_to_vec();
        let resp = post(&url, "application/x-protobuf", false, &body);
        match resp.status().as_u16() {
            200 => accepted += 1,
            503 => {
                refused += 1;
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .expect("a 503 carries Retry-After in seconds");
                assert!(retry_after >= 1, "Retry-After: {retry_after}");
                let status = decode_status(&resp.bytes().expect("body"));
                seen_503 = Some(status);
                break;
            }
            other => panic!("unexpected status {other}: {:?}", resp.text()),
        }
    }
    let status = seen_503.expect("no 503 in a burst of batches against a 10-span queue");
    assert_eq!(status.code, UNAVAILABLE, "{status:?}");
    assert!(status.message.contains("queue"), "{status:?}");
    assert!(accepted >= 2, "the queue holds 10 spans: {accepted} batches accepted before the 503");

    // The refusal is counted, in spans.
    let stats = serve.wait_for_stats(|s| s.refused > 0, Duration::from_secs(10));
    assert_eq!(stats.refused, refused * BATCH, "{stats:?}");

    // Once the engine catches up, batches are accepted again.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut next = MAX_TRIES;
    loop {
        let body =
            proto_traces("svc", proto_batch(1, next * BATCH, BATCH, "later")).encode_to_vec();
        next += 1;
        let resp = post(&url, "application/x-protobuf", false, &body);
        if resp.status() == 200 {
            accepted += 1;
            break;
        }
        assert_eq!(resp.status(), 503);
        refused += 1;
        assert!(Instant::now() < deadline, "still refusing after 20 s");
        std::thread::sleep(Duration::from_millis(100));
    }

    assert!(serve.stop().success(), "{:?}", serve.stderr_lines());
    let last = serve.last_stats().expect("final stats");
    assert_eq!(last.refused, refused * BATCH, "{last:?}");
    assert_eq!(last.stored, accepted * BATCH, "{last:?}");
    assert_eq!(last.received, (accepted + refused) * BATCH, "{last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_refuses_with_unavailable_and_retry_info_then_recovers() {
    let mut serve = overloaded_server();
    let mut client =
        TraceServiceClient::connect(serve.grpc_endpoint()).await.expect("connect to gRPC");
    let (mut accepted, mut refused) = (0_u64, 0_u64);
    let mut seen = None;
    for i in 0..MAX_TRIES {
        match client.export(proto_traces("svc", proto_batch(2, i * BATCH, BATCH, "burst"))).await {
            Ok(_) => accepted += 1,
            Err(status) => {
                refused += 1;
                seen = Some(status);
                break;
            }
        }
    }
    let status = seen.expect("no refusal in a burst of batches against a 10-span queue");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("queue"), "{status:?}");
    let retry = status.get_details_retry_info().expect("UNAVAILABLE carries RetryInfo");
    let delay = retry.retry_delay.expect("RetryInfo has a delay");
    assert!(delay >= Duration::from_millis(1), "{delay:?}");
    assert!(accepted >= 2, "the queue holds 10 spans: {accepted} batches accepted first");

    let stats = serve.wait_for_stats(|s| s.refused > 0, Duration::from_secs(10));
    assert_eq!(stats.refused, refused * BATCH, "{stats:?}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut next = MAX_TRIES;
    loop {
        let req = proto_traces("svc", proto_batch(2, next * BATCH, BATCH, "later"));
        next += 1;
        match client.export(req).await {
            Ok(_) => {
                accepted += 1;
                break;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                refused += 1;
                assert!(Instant::now() < deadline, "still refusing after 20 s");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    assert!(serve.stop().success(), "{:?}", serve.stderr_lines());
    let last = serve.last_stats().expect("final stats");
    assert_eq!(last.refused, refused * BATCH, "{last:?}");
    assert_eq!(last.stored, accepted * BATCH, "{last:?}");
}

/// A batch larger than the whole ingest queue is taken when the queue is empty; refusing it
/// every time would make an exporter retry it forever (the OTel SDK's default batch is 512
/// spans; `--ingest-queue 100` would otherwise refuse every such batch).
#[test]
fn batch_larger_than_the_queue_is_accepted_when_the_engine_is_idle() {
    let mut serve = Serve::start(&["--ingest-queue", "10"]);
    let body = proto_traces("svc", proto_batch(3, 0, 11, "big")).encode_to_vec();
    let resp = post(&serve.http_url("/v1/traces"), "application/x-protobuf", false, &body);
    let status = resp.status();
    assert!(serve.stop().success());
    assert_eq!(status, 200, "an 11-span batch into an idle server with a 10-span queue");
}
