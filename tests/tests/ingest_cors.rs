//! CORS for browser exporters: origins on localhost may POST OTLP/HTTP, others may not.

use hopscope_tests::{Serve, http_client, json_span, json_traces};
use reqwest::blocking::Response;

fn preflight(serve: &Serve, origin: &str) -> Response {
    http_client()
        .request(reqwest::Method::OPTIONS, serve.http_url("/v1/traces"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .expect("preflight")
}

fn allow_origin(resp: &Response) -> Option<String> {
    resp.headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[test]
fn localhost_origins_are_allowed() {
    let mut serve = Serve::start(&[]);
    for origin in ["http://localhost:3000", "http://127.0.0.1:5173", "http://[::1]:8080"] {
        let resp = preflight(&serve, origin);
        assert!(resp.status().is_success(), "{origin}: {}", resp.status());
        assert_eq!(allow_origin(&resp).as_deref(), Some(origin));
        let methods = resp
            .headers()
            .get("access-control-allow-methods")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_uppercase();
        assert!(methods.contains("POST"), "{origin}: {methods:?}");
        let headers = resp
            .headers()
            .get("access-control-allow-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(headers.contains("content-type"), "{origin}: {headers:?}");
    }
    // The POST itself carries the header too.
    let body = json_traces(
        "browser",
        &[json_span("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "click")],
    );
    let resp = http_client()
        .post(serve.http_url("/v1/traces"))
        .header("origin", "http://localhost:3000")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .expect("POST");
    assert_eq!(resp.status(), 200);
    assert_eq!(allow_origin(&resp).as_deref(), Some("http://localhost:3000"));
    assert!(serve.stop().success());
}

#[test]
fn other_origins_are_not_allowed() {
    let mut serve = Serve::start(&[]);
    for origin in
        ["http://example.com", "http://localhost.example.com", "null", "https://evil.test:3000"]
    {
        let resp = preflight(&serve, origin);
        assert_eq!(allow_origin(&resp), None, "{origin} must not be allowed");
    }
    assert!(serve.stop().success());
}
