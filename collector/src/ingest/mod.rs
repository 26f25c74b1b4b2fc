//! OTLP receivers: gRPC (tonic) and HTTP (protobuf and JSON, gzip), their limits, auth, TLS
//! and backpressure. Decoding itself is the [`crate::otlp`] codec's.
//!
//! Receivers decode at the edge, on the request's task, and hand batches to the engine
//! through [`crate::engine::Ingest`], which never blocks: when the engine's queue is full the
//! request is refused (gRPC UNAVAILABLE with RetryInfo, HTTP 503 with Retry-After).
//!
//! Both are served by [`conn`]: its accept loop completes TLS handshakes (with a
//! [`TlsIdentity`] both receivers speak TLS only: rustls, ring backend), serves HTTP/1 and
//! HTTP/2 through hyper, and enforces the timeouts and connection limits of [`ConnLimits`].

pub mod conn;
pub mod grpc;
pub mod http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use conn::ConnLimits;

use crate::engine::Ingest;
use crate::otlp::convert::Decoder;

/// Number of data points in a metrics request (metrics are only counted for now).
pub fn metric_points(req: &ExportMetricsServiceRequest) -> u64 {
    req.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| match &m.data {
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(Data::Summary(s)) => s.data_points.len(),
            None => 0,
        } as u64)
        .sum()
}

/// tonic answers a message past `max_decoding_message_size` with OUT_OF_RANGE ("decoded
/// message length too large"), but an oversize OTLP request is RESOURCE_EXHAUSTED (as it
/// already is when the limit is hit while inflating gzip). Rewrites that one answer.
fn oversize_is_resource_exhausted<B>(mut response: ::http::Response<B>) -> ::http::Response<B> {
    let headers = response.headers_mut();
    let out_of_range = headers.get("grpc-status").is_some_and(|v| v == "11");
    let too_large = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| m.contains("too%20large") || m.contains("too large"));
    if out_of_range && too_large {
        headers.insert("grpc-status", ::http::HeaderValue::from_static("8"));
    }
    response
}

/// Where and how the receivers listen.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    /// Largest request accepted, in bytes, after decompression.
    pub max_request: usize,
    /// When set, every request must carry `Authorization: Bearer <token>` (HTTP header or
    /// gRPC metadata); others get 401 / UNAUTHENTICATED.
    pub auth_token: Option<AuthToken>,
    /// When set, both receivers accept TLS connections only, with this certificate.
    pub tls: Option<TlsIdentity>,
    /// Timeouts and connection limits of both receivers.
    pub limits: ConnLimits,
}

/// A certificate chain and its private key (PEM), checked to make a usable rustls server
/// configuration. Both receivers serve it. Its `Debug` does not print the key.
#[derive(Clone)]
pub struct TlsIdentity {
    /// For the HTTP receiver (ALPN h2 and http/1.1).
    http: Arc<rustls::ServerConfig>,
    /// For the gRPC receiver (ALPN h2).
    grpc: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

/// Why a certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {what} {}: {source}", path.display())]
    Read { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error(
        "the TLS certificate {} holds no PEM certificate (expected `-----BEGIN CERTIFICATE-----`)",
        path.display()
    )]
    NoCertificate { path: PathBuf },
    #[error("the TLS certificate {} is not valid PEM: {detail}", path.display())]
    BadCertificate { path: PathBuf, detail: String },
    #[error(
        "the TLS key {} holds no usable PEM private key (expected PKCS#8, PKCS#1 or SEC1: `-----BEGIN PRIVATE KEY-----`): {detail}",
        path.display()
    )]
    BadKey { path: PathBuf, detail: String },
    #[error("the TLS certificate and key cannot be used together: {0}")]
    Mismatch(rustls::Error),
}

impl TlsIdentity {
    /// Reads and checks a PEM certificate chain (leaf first) and a PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                what,
                path: path.to_owned(),
                source,
            })
        };
        let cert_pem = read("certificate", cert)?;
        let key_pem = read("key", key)?;
        Self::from_pem(&cert_pem, &key_pem, cert, key)
    }

    /// Checks PEM bytes; `cert_path` and `key_path` only name them in errors.
    pub fn from_pem(
        cert_pem: &[u8],
        key_pem: &[u8],
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<Self, TlsError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let certs =
            CertificateDer::pem_slice_iter(cert_pem).collect::<Result<Vec<_>, _>>().map_err(
                |e| TlsError::BadCertificate { path: cert_path.to_owned(), detail: e.to_string() },
            )?;
        if certs.is_empty() {
            return Err(TlsError::NoCertificate { path: cert_path.to_owned() });
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| TlsError::BadKey { path: key_path.to_owned(), detail: e.to_string() })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut http = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Mismatch)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(TlsError::Mismatch)?;
        let mut grpc = http.clone();
        grpc.alpn_protocols = vec![b"h2".to_vec()];
        http.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self { http: Arc::new(http), grpc: Arc::new(grpc) })
    }
}

/// A bearer token the receivers require. Its `Debug` does not print it.
#[derive(Clone)]
pub struct AuthToken(std::sync::Arc<str>);

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

impl AuthToken {
    /// A token; empty tokens are refused by the caller's validation, not here.
    pub fn new(token: &str) -> Self {
        Self(token.into())
    }

    /// Whether an `Authorization` value is `Bearer <this token>`. Compares in constant time
    /// for values of the right length, so the token cannot be guessed byte by byte.
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else { return false };
        let Some(given) = value.strip_prefix(b"Bearer ") else { return false };
        let expected = self.0.as_bytes();
        given.len() == expected.len()
            && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// Errors starting the receivers.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error(
        "cannot listen for OTLP/{protocol} on {addr}: {source} (is another collector running? pick another address with --{flag})"
    )]
    Bind { protocol: &'static str, flag: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error("a receiver task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Both receivers, running.
#[derive(Debug)]
pub struct Receivers {
    /// The address the gRPC receiver actually listens on (port 0 resolved).
    pub grpc_addr: SocketAddr,
    /// The address the HTTP receiver actually listens on.
    pub http_addr: SocketAddr,
    grpc: JoinHandle<()>,
    http: JoinHandle<()>,
}

impl Receivers {
    /// Binds both listeners, then serves until `shutdown` is cancelled.
    pub async fn start(
        config: &ReceiverConfig,
        decoder: Decoder,
        ingest: Ingest,
        shutdown: CancellationToken,
    ) -> Result<Receivers, ReceiverError> {
        let grpc_listener = TcpListener::bind(config.grpc).await.map_err(|source| {
            ReceiverError::Bind { protocol: "gRPC", flag: "grpc", addr: config.grpc, source }
        })?;
        let http_listener = TcpListener::bind(config.http).await.map_err(|source| {
            ReceiverError::Bind { protocol: "HTTP", flag: "http", addr: config.http, source }
        })?;
        let local = |l: &TcpListener, protocol, flag, addr| {
            l.local_addr().map_err(|source| ReceiverError::Bind { protocol, flag, addr, source })
        };
        let grpc_addr = local(&grpc_listener, "gRPC", "grpc", config.grpc)?;
        let http_addr = local(&http_listener, "HTTP", "http", config.http)?;

        let routes =
            grpc::OtlpGrpc::new(decoder.clone(), ingest.clone()).router(config.max_request);
        let token = config.auth_token.clone();
        let authenticate = move |req: tonic::Request<()>| match &token {
            Some(token)
                if !token.accepts(
                    req.metadata()
                        .get("authorization")
                        .map(tonic::metadata::MetadataValue::as_bytes),
                ) =>
            {
                Err(tonic::Status::unauthenticated(
                    "this collector requires `authorization: Bearer <token>` metadata (--auth-token)",
                ))
            }
            _ => Ok(req),
        };
        let grpc_service = tower::ServiceBuilder::new()
            .layer(tower::util::MapResponseLayer::new(oversize_is_resource_exhausted))
            .layer(tonic::service::InterceptorLayer::new(authenticate))
            .service(routes);
        let stats = Arc::clone(ingest.stats());
        let grpc = conn::Serving {
            listener: grpc_listener,
            tls: config.tls.as_ref().map(|t| Arc::clone(&t.grpc)),
            service: grpc_service,
            http2_only: true,
            limits: config.limits.clone(),
            stats: Arc::clone(&stats),
        };
        let grpc = tokio::spawn(grpc.run(shutdown.clone()));
        let app = http::router(decoder, ingest, config.max_request, config.auth_token.clone());
        let http = conn::Serving {
            listener: http_listener,
            tls: config.tls.as_ref().map(|t| Arc::clone(&t.http)),
            service: app,
            http2_only: false,
            limits: config.limits.clone(),
            stats,
        };
        let http = tokio::spawn(http.run(shutdown));
        Ok(Receivers { grpc_addr, http_addr, grpc, http })
    }

    /// Waits for both receivers to stop (after shutdown was cancelled, or on failure).
    pub async fn wait(self) -> Result<(), ReceiverError> {
        let (g, h) = tokio::join!(self.grpc, self.http);
        g?;
        h?;
        Ok(())
    }
}
