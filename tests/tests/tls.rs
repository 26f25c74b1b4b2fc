//! TLS on both receivers (`--tls-cert`, `--tls-key`): the real OpenTelemetry exporters send
//! spans over TLS gRPC and TLS HTTP with a test CA, and every span is recorded; plaintext
//! clients get nothing in; unusable certificate settings stop the server at start with exit
//! code 2 and a message naming the problem.
//!
//! The CA and the server certificate are generated at test time with `rcgen`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hopscope_tests::{
    Serve, ServeCommand, json_span, json_traces, proto_span, proto_traces, read_recording,
};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry_http::HttpClient;
use opentelemetry_http::hyper::HyperClient;
use opentelemetry_otlp::{
    Protocol, SpanExporter, WithExportConfig as _, WithHttpConfig as _, WithTonicConfig as _,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A test CA, a server certificate it signed for `localhost` and `127.0.0.1`, and its key,
/// written as PEM files in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

impl Pki {
    fn new() -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "hopscope test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let key = KeyPair::generate().expect("server key");
        let cert = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server params")
            .signed_by(&key, &ca)
            .expect("server certificate");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).expect("write cert");
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).expect("write key");
        Pki { dir, ca_pem: ca.pem() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cert(&self) -> String {
        self.path("cert.pem").display().to_string()
    }

    fn key(&self) -> String {
        self.path("key.pem").display().to_string()
    }

    /// A rustls client configuration trusting only the test CA (ring, as the server).
    fn client_config(&self) -> rustls::ClientConfig {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots.add(cert.expect("CA PEM")).expect("CA into the root store");
        }
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
    }

    /// An HTTPS client (hyper over rustls) that trusts only the test CA. Needs a tokio runtime.
    fn https_client(&self) -> HyperClient<HttpsConnector<HttpConnector>> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(self.client_config())
            .https_only()
            .enable_http1()
            .build();
        HyperClient::new(connector, Duration::from_secs(10), None)
    }
}

/// POSTs OTLP/JSON `body` to `url` with `client`; the response status, or the error.
async fn post_json(
    client: &impl HttpClient,
    url: &str,
    body: Vec<u8>,
) -> Result<http::StatusCode, String> {
    let request = http::Request::post(url)
        .header("content-type", "application/json")
        .body(bytes::Bytes::from(body))
        .map_err(|e| e.to_string())?;
    client.send_bytes(request).await.map(|r| r.status()).map_err(|e| e.to_string())
}

fn serve_tls(pki: &Pki, record: &Path) -> Serve {
    let record = record.display().to_string();
    Serve::start(&["--tls-cert", &pki.cert(), "--tls-key", &pki.key(), "--record", &record])
}

/// Exports `names` as spans of `service` through `exporter`, flushing before it returns.
fn export(exporter: SpanExporter, service: &str, names: &[&str]) {
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder_empty().with_service_name(service.to_owned()).build())
        .with_simple_exporter(exporter)
        .build();
    let tracer = provider.tracer("hopscope-tests");
    for name in names {
        tracer.in_span(name.to_string(), |_| {});
    }
    provider.force_flush().expect("flush over TLS");
    provider.shutdown().expect("provider shutdown");
}

#[test]
fn exporters_send_over_tls_grpc_and_http_and_everything_is_recorded() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("tls.jsonl");
    let mut serve = serve_tls(&pki, &record);
    assert!(
        serve.stderr_lines().iter().any(|l| l.contains("TLS on both receivers")),
        "{:?}",
        serve.stderr_lines()
    );

    // gRPC: tonic over rustls, trusting the test CA, to https://localhost:PORT.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let grpc_endpoint = format!("https://localhost:{}", serve.grpc_addr.port());
    runtime.block_on(async {
        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(&pki.ca_pem))
            .domain_name("localhost");
        let exporter = SpanExporter::builder()
            .with_tonic()
            .with_endpoint(&grpc_endpoint)
            .with_tls_config(tls)
            .with_timeout(Duration::from_secs(10))
            .build()
            .expect("gRPC TLS exporter");
        export(exporter, "grpc-tls", &["grpc one", "grpc two", "grpc three"]);
    });

    // HTTP/protobuf: the exporter over a hyper + rustls client with the test CA as its only
    // root (the hyper client spawns its connections on the runtime).
    let _runtime = runtime.enter();
    let exporter = SpanExporter::builder()
        .with_http()
        .with_http_client(pki.https_client())
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("https://127.0.0.1:{}/v1/traces", serve.http_addr.port()))
        .with_timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP TLS exporter");
    export(exporter, "http-tls", &["http one", "http two"]);

    assert!(serve.stop().success(), "{:?}", serve.stderr_lines());
    let last = serve.last_stats().expect("final stats line");
    assert_eq!((last.received, last.stored), (5, 5), "{last:?}");
    let mut names: Vec<(String, String)> = read_recording(&record)
        .into_iter()
        .map(|s| (s.service.clone(), s.span.name.clone()))
        .collect();
    names.sort();
    let want = [
        ("grpc-tls", "grpc one"),
        ("grpc-tls", "grpc three"),
        ("grpc-tls", "grpc two"),
        ("http-tls", "http one"),
        ("http-tls", "http two"),
    ];
    assert_eq!(names, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
}

#[test]
fn plaintext_clients_are_refused_on_both_receivers() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("plain.jsonl");
    let mut serve = serve_tls(&pki, &record);

    // Plain HTTP to the TLS port: the server sees no ClientHello and closes the connection.
    let body = json_traces(
        "plain",
        &[json_span("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "plain http")],
    );
    let plain = hopscope_tests::http_client()
        .post(serve.http_url("/v1/traces"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send();
    assert!(plain.is_err(), "plaintext HTTP got an answer: {plain:?}");

    // Plaintext gRPC (h2c) to the TLS port.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let refused = runtime.block_on(async {
        let endpoint = serve.grpc_endpoint();
        match TraceServiceClient::connect(endpoint).await {
            Err(e) => Err(e.to_string()),
            Ok(mut client) => {
                let req = proto_traces("plain", vec![proto_span(&[7; 16], &[1; 8], "plain grpc")]);
                match tokio::time::timeout(Duration::from_secs(10), client.export(req)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(status)) => Err(status.to_string()),
                    Err(_) => Err("timed out".to_owned()),
                }
            }
        }
    });
    assert!(refused.is_err(), "plaintext gRPC was accepted");

    // The same request over TLS goes in: the server is up and the refusals were transport-level.
    let url = format!("https://localhost:{}/v1/traces", serve.http_addr.port());
    let status = runtime.block_on(post_json(&pki.https_client(), &url, body));
    assert_eq!(status, Ok(http::StatusCode::OK));

    assert!(serve.stop().success());
    let last = serve.last_stats().expect("final stats line");
    assert_eq!((last.received, last.stored), (1, 1), "{last:?}");
    let recorded = read_recording(&record);
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].span.name, "plain http");
    assert_eq!(recorded[0].service, "plain");
}

/// Starts `serve` with `args` (plus loopback ports), expects exit code 2, returns stderr.
fn refused_at_start(args: &[&str]) -> String {
    let (status, stderr) = ServeCommand::new()
        .args(&["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(args)
        .run_expecting_failure();
    assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
    stderr
}

#[test]
fn unusable_tls_settings_exit_2_with_a_clear_message() {
    let pki = Pki::new();
    let (cert, key) = (pki.cert(), pki.key());
    let missing = pki.path("missing.pem").display().to_string();
    let garbage = pki.path("garbage.pem");
    std::fs::write(&garbage, "this is not PEM\n").expect("write");
    let garbage = garbage.display().to_string();
    let other_key = pki.path("other-key.pem");
    std::fs::write(&other_key, KeyPair::generate().expect("key").serialize_pem()).expect("write");
    let other_key = other_key.display().to_string();

    let err = refused_at_start(&["--tls-cert", &cert]);
    assert!(err.contains("--tls-cert needs --tls-key"), "{err}");
    let err = refused_at_start(&["--tls-key", &key]);
    assert!(err.contains("--tls-key needs --tls-cert"), "{err}");
    let err = refused_at_start(&["--tls-cert", &missing, "--tls-key", &key]);
    assert!(err.contains("cannot read") && err.contains("missing.pem"), "{err}");
    let err = refused_at_start(&["--tls-cert", &garbage, "--tls-key", &key]);
    assert!(err.contains("no PEM certificate"), "{err}");
    let err = refused_at_start(&["--tls-cert", &cert, "--tls-key", &garbage]);
    assert!(err.contains("no usable PEM private key"), "{err}");
    // A certificate (not a key) given as the key.
    let err = refused_at_start(&["--tls-cert", &cert, "--tls-key", &cert]);
    assert!(err.contains("no usable PEM private key"), "{err}");
    // A key that is not the certificate's.
    let err = refused_at_start(&["--tls-cert", &cert, "--tls-key", &other_key]);
    assert!(err.contains("cannot be used together"), "{err}");

    // The same settings from the environment and from the config file.
    let (status, err) = ServeCommand::new()
        .args(&["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .env("HOPSCOPE_TLS_CERT", &missing)
        .env("HOPSCOPE_TLS_KEY", &key)
        .run_expecting_failure();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("missing.pem"), "{err}");
    let config = pki.path("hopscope.toml");
    std::fs::write(&config, format!("tls_cert = {cert:?}\n")).expect("write config");
    let err = refused_at_start(&["--config", &config.display().to_string()]);
    assert!(err.contains("--tls-cert needs --tls-key"), "{err}");
}

#[test]
fn tls_settings_come_from_env_and_config_file() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("hopscope.toml");
    // The certificate from the config file, the key from the environment.
    std::fs::write(&config, format!("tls-cert = {:?}\n", pki.cert())).expect("write config");
    let mut serve = ServeCommand::new()
        .args(&["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--stats-interval", "200ms"])
        .args(&["--config", &config.display().to_string()])
        .env("HOPSCOPE_TLS_KEY", &pki.key())
        .start();
    let body = json_traces(
        "env",
        &[json_span("5b8efff798038103d269b633813fc60d", "eee19b7ec3c1b175", "over tls")],
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let url = format!("https://127.0.0.1:{}/v1/traces", serve.http_addr.port());
    let status = runtime.block_on(post_json(&pki.https_client(), &url, body));
    assert_eq!(status, Ok(http::StatusCode::OK));
    assert!(serve.stop().success());
    assert_eq!(serve.last_stats().map(|s| s.stored), Some(1));
}

/// The modes that open the TUI check the same settings before anything starts, and also
/// exit 2 on them (a usage error, like `serve`).
#[test]
fn unusable_tls_settings_exit_2_in_the_demo_too() {
    let pki = Pki::new();
    let cert = pki.cert();
    let out = std::process::Command::new(hopscope_tests::hopscope_bin())
        .args(["demo", "--headless", "--duration", "1s", "--tls-cert", &cert])
        .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run hopscope demo");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--tls-cert needs --tls-key"), "{err}");
}
