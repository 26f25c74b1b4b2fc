//! The OTLP/HTTP request path: the receiver's axum router, driven in-process with tower's
//! `oneshot`, with a fuzzed path, method, content type, content encoding and body. Accepted
//! spans go to a real engine (store + linker, a small memory budget so it evicts).
//!
//! Input layout: 4 selector bytes (path, method, content type, encoding), then the body.
#![no_main]

use std::sync::{Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use hopscope_collector::engine::{Engine, EngineConfig};
use hopscope_collector::ingest::http::router;
use hopscope_collector_fuzz::decoder;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

/// Largest request accepted, after decompression: small, so 413 is reachable.
const MAX_REQUEST: usize = 8 * 1024;

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    /// Kept so the engine thread lives as long as the process.
    _engine: Mutex<Engine>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let config =
            EngineConfig { max_memory: 8 << 20, queue_spans: 10_000, ..EngineConfig::default() };
        let engine = Engine::start(&config, decoder().interner().clone()).expect("engine starts");
        let router = router(decoder().clone(), engine.ingest(), MAX_REQUEST, None);
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        Harness { runtime, router, _engine: Mutex::new(engine) }
    })
}

const PATHS: [&str; 5] = ["/v1/traces", "/v1/logs", "/v1/metrics", "/v1/traces/", "/x"];
const TYPES: [&str; 8] = [
    "application/x-protobuf",
    "application/json",
    "application/protobuf",
    "application/json; charset=utf-8",
    "APPLICATION/X-PROTOBUF",
    "text/plain",
    "",
    "application/json;;;=\"",
];
const ENCODINGS: [Option<&str>; 6] =
    [None, Some("identity"), Some("gzip"), Some("GZIP "), Some("br"), Some("")];

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<4>() else { return };
    let path = PATHS[usize::from(head[0]) % PATHS.len()];
    let method = if head[1] % 8 == 0 { http::Method::GET } else { http::Method::POST };
    let content_type = TYPES[usize::from(head[2]) % TYPES.len()];
    let encoding = ENCODINGS[usize::from(head[3] & 0x7f) % ENCODINGS.len()];
    // Bit 7 of the encoding byte: gzip the body ourselves (so the decoders see real
    // content), or send it as given (so the inflater sees garbage).
    let body =
        if encoding.is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip")) && head[3] & 0x80 == 0 {
            gzip(body)
        } else {
            body.to_vec()
        };
    let mut request = http::Request::builder().method(method).uri(path);
    if !content_type.is_empty() {
        request = request.header(http::header::CONTENT_TYPE, content_type);
    }
    if let Some(e) = encoding {
        request = request.header(http::header::CONTENT_ENCODING, e);
    }
    let request = request.body(Body::from(body)).expect("a valid request");

    let h = harness();
    let (status, bytes) = h.runtime.block_on(async {
        let response = h.router.clone().oneshot(request).await.expect("the router is infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        (status, bytes)
    });
    assert!(
        matches!(status.as_u16(), 200 | 400 | 404 | 405 | 413 | 415 | 503),
        "unexpected {status}: {bytes:?}"
    );
    if status != 200 {
        assert!(!bytes.is_empty(), "{status} without a google.rpc.Status body");
    }
});
