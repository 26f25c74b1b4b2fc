//! Safe defaults: a required bearer token on both receivers, and a warning when a receiver
//! listens beyond loopback.

use hopscope_tests::{
    Serve, ServeCommand, http_client, json_span, json_traces, proto_span, proto_traces,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::Code;

const TOKEN: &str = "s3cret-token";

/// `hopscope serve` on free loopback ports (unless `extra` names others), with a fast stats line.
fn serve_with(extra: &[&str]) -> ServeCommand {
    let mut args = vec!["--stats-interval", "200ms"];
    if !extra.contains(&"--grpc") {
        args.extend(["--grpc", "127.0.0.1:0"]);
    }
    if !extra.contains(&"--http") {
        args.extend(["--http", "127.0.0.1:0"]);
    }
    args.extend(extra);
    ServeCommand::new().args(&args)
}

fn post_json(serve: &Serve, authorization: Option<&str>) -> reqwest::blocking::Response {
    let body = json_traces(
        "svc",
        &[json_span("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "a")],
    );
    let mut req = http_client()
        .post(serve.http_url("/v1/traces"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    req.send().expect("POST")
}

#[test]
fn http_requires_the_bearer_token() {
    let mut serve = serve_with(&[]).env("HOPSCOPE_AUTH_TOKEN", TOKEN).start();
    for wrong in [None, Some("Bearer nope"), Some("s3cret-token"), Some("Bearer s3cret-token2")] {
        let resp = post_json(&serve, wrong);
        assert_eq!(resp.status(), 401, "{wrong:?}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        let body = resp.text().expect("body");
        assert!(body.contains("\"code\":16") && body.contains("--auth-token"), "{body}");
    }
    let ok = post_json(&serve, Some(&format!("Bearer {TOKEN}")));
    assert_eq!(ok.status(), 200);
    // A CORS preflight carries no credentials and is still answered.
    let preflight = http_client()
        .request(reqwest::Method::OPTIONS, serve.http_url("/v1/traces"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .send()
        .expect("OPTIONS");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert!(serve.stop().success());
    assert_eq!(serve.last_stats().map(|s| s.stored), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_requires_the_bearer_token() {
    let mut serve = serve_with(&["--auth-token", TOKEN]).start();
    let mut client = TraceServiceClient::connect(serve.grpc_endpoint()).await.expect("connect");
    let request = || proto_traces("svc", vec![proto_span(&[7; 16], &[1; 8], "a")]);
    let denied = client.export(request()).await.expect_err("no token");
    assert_eq!(denied.code(), Code::Unauthenticated, "{denied:?}");
    let mut wrong = tonic::Request::new(request());
    wrong.metadata_mut().insert("authorization", "Bearer other".parse().expect("ascii"));
    assert_eq!(client.export(wrong).await.expect_err("wrong token").code(), Code::Unauthenticated);
    let mut right = tonic::Request::new(request());
    right.metadata_mut().insert("authorization", format!("Bearer {TOKEN}").parse().expect("ascii"));
    client.export(right).await.expect("the right token is accepted");
    assert!(serve.stop().success());
    assert_eq!(serve.last_stats().map(|s| s.stored), Some(1));
}

#[test]
fn listening_beyond_loopback_warns_once_per_receiver() {
    let mut serve = serve_with(&["--http", "0.0.0.0:0"]).start();
    assert!(serve.stop().success());
    let lines = serve.stderr_lines();
    let warnings: Vec<_> = lines.iter().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{lines:?}");
    assert!(
        warnings[0].contains("OTLP/HTTP") && warnings[0].contains("HOPSCOPE_AUTH_TOKEN"),
        "{lines:?}"
    );
    // The default, loopback only, says nothing.
    let mut quiet = Serve::start(&[]);
    assert!(quiet.stop().success());
    assert!(!quiet.stderr_lines().iter().any(|l| l.contains("warning")));
}

#[test]
fn an_empty_token_is_refused_at_start() {
    let failed = serve_with(&[]).env("HOPSCOPE_AUTH_TOKEN", " ").run_expecting_failure();
    assert!(format!("{failed:?}").contains("--auth-token must not be empty"), "{failed:?}");
}
