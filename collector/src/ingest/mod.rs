//! OTLP receivers: gRPC (tonic) and HTTP (protobuf and JSON, gzip), and the conversion of
//! decoded OTLP messages into the compact [`crate::model`].
//!
//! Receivers decode at the edge, on the request's task, and hand batches to the engine
//! through [`crate::engine::Ingest`], which never blocks: when the engine's queue is full the
//! request is refused (gRPC UNAVAILABLE with RetryInfo, HTTP 503 with Retry-After).

pub mod convert;
pub mod grpc;
pub mod http;
pub mod json;

use std::net::SocketAddr;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::Ingest;
use convert::Decoder;

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
    #[error("OTLP/gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
    #[error("OTLP/HTTP server failed: {0}")]
    Http(std::io::Error),
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
    grpc: JoinHandle<Result<(), ReceiverError>>,
    http: JoinHandle<Result<(), ReceiverError>>,
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
        let stop = shutdown.clone();
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
        let grpc = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .layer(tower::util::MapResponseLayer::new(oversize_is_resource_exhausted))
                .layer(tonic::service::InterceptorLayer::new(authenticate))
                .add_routes(routes)
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(grpc_listener),
                    stop.cancelled_owned(),
                )
                .await
                .map_err(ReceiverError::from)
        });
        let app = http::router(decoder, ingest, config.max_request, config.auth_token.clone());
        let http = tokio::spawn(async move {
            axum::serve(http_listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
                .map_err(ReceiverError::Http)
        });
        Ok(Receivers { grpc_addr, http_addr, grpc, http })
    }

    /// Waits for both receivers to stop (after shutdown was cancelled, or on failure).
    pub async fn wait(self) -> Result<(), ReceiverError> {
        let (g, h) = tokio::join!(self.grpc, self.http);
        g??;
        h??;
        Ok(())
    }
}
