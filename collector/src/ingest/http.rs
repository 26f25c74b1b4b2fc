//! The OTLP/HTTP receiver: `POST /v1/traces`, `/v1/logs`, `/v1/metrics` with protobuf or
//! JSON bodies, optionally gzip-compressed, answered in the request's encoding.
//!
//! | condition                                   | answer                              |
//! |---------------------------------------------|-------------------------------------|
//! | other path                                  | 404                                 |
//! | other method on a signal path               | 405 (with `Allow`)                  |
//! | content type not protobuf/JSON, or encoding not gzip/identity | 415               |
//! | body undecodable (corrupt gzip included)    | 400 + google.rpc.Status             |
//! | body past `max_request` *after* decompression | 413 (inflation stops at the limit) |
//! | body with no byte for `--body-timeout`      | 408, and the connection is closed   |
//! | engine queue full                           | 503 + `Retry-After`                 |

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::conn::BodyStalled;
use super::metric_points;
use crate::engine::{Ingest, Refused};
use crate::otlp::convert::{DecodedSpans, Decoder};
use crate::otlp::{json, wire};

/// `google.rpc.Status`, the body of every OTLP/HTTP error answer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// Body encoding of a request, and so of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    Traces,
    Logs,
    Metrics,
}

struct HttpState {
    decoder: Decoder,
    ingest: Ingest,
    max_request: usize,
}

/// gRPC codes used in `google.rpc.Status` bodies.
const INVALID_ARGUMENT: i32 = 3;
const DEADLINE_EXCEEDED: i32 = 4;
const NOT_FOUND: i32 = 5;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNIMPLEMENTED: i32 = 12;
const UNAVAILABLE: i32 = 14;
const UNAUTHENTICATED: i32 = 16;

/// An error answer: HTTP status, gRPC code and message.
struct Failure {
    http: StatusCode,
    code: i32,
    message: String,
    retry_after: Option<u64>,
}

impl Failure {
    fn new(http: StatusCode, code: i32, message: impl Into<String>) -> Self {
        Self { http, code, message: message.into(), retry_after: None }
    }

    fn refused(refused: Refused) -> Self {
        Self {
            http: StatusCode::SERVICE_UNAVAILABLE,
            code: UNAVAILABLE,
            message: refused.to_string(),
            retry_after: Some(refused.retry_after.as_secs().max(1)),
        }
    }

    fn into_response(self, encoding: Encoding) -> Response {
        let mut body = Vec::new();
        match encoding {
            Encoding::Protobuf => {
                RpcStatus { code: self.code, message: self.message }.encode(&mut body).ok();
            }
            Encoding::Json => json::encode_status(self.code, &self.message, &mut body),
        }
        let mut response = (self.http, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.http == StatusCode::REQUEST_TIMEOUT {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// The OTLP/HTTP router, with CORS for browser exporters on localhost.
/// With `auth_token`, requests without `Authorization: Bearer <token>` get 401 (CORS
/// preflights are answered before the check: browsers send them without credentials).
pub fn router(
    decoder: Decoder,
    ingest: Ingest,
    max_request: usize,
    auth_token: Option<super::AuthToken>,
) -> Router {
    let state = Arc::new(HttpState { decoder, ingest, max_request });
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin, _| is_local_origin(origin)))
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::CONTENT_ENCODING, header::AUTHORIZATION]);
    Router::new()
        .route("/v1/traces", post(|s, h, b| handle(s, Signal::Traces, h, b)))
        .route("/v1/logs", post(|s, h, b| handle(s, Signal::Logs, h, b)))
        .route("/v1/metrics", post(|s, h, b| handle(s, Signal::Metrics, h, b)))
        .method_not_allowed_fallback(|method: Method| async move {
            Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                UNIMPLEMENTED,
                format!("method {method} not allowed: OTLP/HTTP accepts POST"),
            )
            .into_response(Encoding::Json)
        })
        .fallback(|| async {
            Failure::new(
                StatusCode::NOT_FOUND,
                NOT_FOUND,
                "unknown path: OTLP/HTTP accepts POST /v1/traces, /v1/logs and /v1/metrics",
            )
            .into_response(Encoding::Json)
        })
        .layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
            let token = auth_token.clone();
            async move {
                match token {
                    Some(token)
                        if !token.accepts(
                            req.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes),
                        ) =>
                    {
                        let mut response = Failure::new(
                            StatusCode::UNAUTHORIZED,
                            UNAUTHENTICATED,
                            "this collector requires `Authorization: Bearer <token>` (--auth-token)",
                        )
                        .into_response(Encoding::Json);
                        response
                            .headers_mut()
                            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                        response
                    }
                    _ => next.run(req).await,
                }
            }
        }))
        .layer(cors)
        .with_state(state)
}

fn is_local_origin(origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else { return false };
    let Some(rest) = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = if rest.starts_with('[') {
        rest.split_once(']').map_or(rest, |(h, _)| h).trim_start_matches('[')
    } else {
        rest.split(':').next().unwrap_or(rest)
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

fn request_encoding(headers: &HeaderMap) -> Result<Encoding, Failure> {
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        _ => Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            UNIMPLEMENTED,
            format!(
                "unsupported content type `{content_type}`: send application/x-protobuf or application/json"
            ),
        )),
    }
}

fn too_large(max: usize) -> Failure {
    Failure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        RESOURCE_EXHAUSTED,
        format!(
            "request body is larger than the {max}-byte limit (--max-request), after decompression"
        ),
    )
}

/// A refused body declared this long or shorter is read to its end (and dropped) before the
/// refusal is sent.
const DRAIN_BOUND: u64 = 64 << 20;

/// Reads a body to its end, keeping nothing; gives up after a few seconds.
async fn drain(body: Body) {
    use http_body_util::BodyExt;
    let mut body = body;
    let read = async { while let Some(Ok(_)) = body.frame().await {} };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), read).await;
}

/// Reads the body, inflating gzip, refusing anything past `max` bytes without holding more.
async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Vec<u8>, Failure> {
    let gzip = match headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) {
        None => false,
        Some(e) if e.trim().eq_ignore_ascii_case("identity") || e.trim().is_empty() => false,
        Some(e) if e.trim().eq_ignore_ascii_case("gzip") => true,
        Some(other) => {
            return Err(Failure::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                UNIMPLEMENTED,
                format!("unsupported content encoding `{other}`: send gzip or no encoding"),
            ));
        }
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > max as u64) {
        // A client still sending reads a reset connection, not the refusal, if the rest is
        // left unread: read what a moderate excess sends, and drop it.
        if n <= DRAIN_BOUND {
            drain(body).await;
        }
        return Err(too_large(max));
    }
    let raw: Bytes = axum::body::to_bytes(body, max).await.map_err(|e| {
        let mut chain = std::iter::successors(Some(&e as &dyn std::error::Error), |e| {
            std::error::Error::source(*e)
        });
        let limit =
            chain.clone().any(<dyn std::error::Error>::is::<http_body_util::LengthLimitError>);
        if let Some(stalled) = chain.find_map(<dyn std::error::Error>::downcast_ref::<BodyStalled>)
        {
            Failure::new(StatusCode::REQUEST_TIMEOUT, DEADLINE_EXCEEDED, stalled.to_string())
        } else if limit {
            too_large(max)
        } else {
            Failure::new(
                StatusCode::BAD_REQUEST,
                INVALID_ARGUMENT,
                format!("cannot read request body: {e}"),
            )
        }
    })?;
    if !gzip {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(max));
    let mut inflate = flate2::read::MultiGzDecoder::new(&raw[..]).take(max as u64 + 1);
    inflate.read_to_end(&mut out).map_err(|e| {
        Failure::new(StatusCode::BAD_REQUEST, INVALID_ARGUMENT, format!("corrupt gzip body: {e}"))
    })?;
    if out.len() > max {
        return Err(too_large(max));
    }
    Ok(out)
}

fn ok_response(encoding: Encoding, body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()));
    response
}

fn bad_request(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, INVALID_ARGUMENT, format!("cannot decode {what}: {e}"))
}

async fn handle(
    State(state): State<Arc<HttpState>>,
    signal: Signal,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let encoding = match request_encoding(&headers) {
        Ok(e) => e,
        Err(f) => return f.into_response(Encoding::Json),
    };
    match handle_signal(&state, signal, encoding, &headers, body).await {
        Ok(response) => response,
        Err(f) => f.into_response(encoding),
    }
}

/// Decodes a traces request once the engine is known to have room for its spans: protobuf
/// straight into the model ([`wire`]), JSON through the OTLP structs.
fn decode_traces(
    state: &HttpState,
    encoding: Encoding,
    bytes: &[u8],
) -> Result<DecodedSpans, Failure> {
    let has_room = |n| {
        if state.ingest.has_room(n) {
            Ok(())
        } else {
            Err(Failure::refused(state.ingest.refuse(n)))
        }
    };
    match encoding {
        Encoding::Protobuf => {
            let undecodable = |e| bad_request("ExportTraceServiceRequest protobuf", e);
            has_room(wire::count_spans(bytes).map_err(undecodable)?)?;
            wire::decode_traces(&state.decoder, bytes).map_err(undecodable)
        }
        Encoding::Json => {
            let req = json::decode_traces(bytes)
                .map_err(|e| bad_request("ExportTraceServiceRequest JSON", e))?;
            has_room(Decoder::count_spans(&req))?;
            Ok(state.decoder.traces(req))
        }
    }
}

async fn handle_signal(
    state: &HttpState,
    signal: Signal,
    encoding: Encoding,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let bytes = read_body(headers, body, state.max_request).await?;
    let mut out = Vec::new();
    match signal {
        Signal::Traces => {
            let decoded = decode_traces(state, encoding, &bytes)?;
            state.ingest.reject(decoded.rejected);
            state.ingest.submit_spans(decoded.spans).map_err(Failure::refused)?;
            let message = decoded.first_error.unwrap_or_default();
            match encoding {
                Encoding::Protobuf => ExportTraceServiceResponse {
                    partial_success: (decoded.rejected > 0).then_some(ExportTracePartialSuccess {
                        rejected_spans: decoded.rejected as i64,
                        error_message: message,
                    }),
                }
                .encode(&mut out)
                .ok(),
                Encoding::Json => {
                    json::encode_trace_response(decoded.rejected as i64, &message, &mut out);
                    None
                }
            };
        }
        Signal::Logs => {
            let req = match encoding {
                Encoding::Protobuf => ExportLogsServiceRequest::decode(&bytes[..])
                    .map_err(|e| bad_request("ExportLogsServiceRequest protobuf", e))?,
                Encoding::Json => json::decode_logs(&bytes)
                    .map_err(|e| bad_request("ExportLogsServiceRequest JSON", e))?,
            };
            let decoded = state.decoder.logs(req);
            state.ingest.submit_logs(decoded.records).map_err(Failure::refused)?;
            let message = decoded.first_error.unwrap_or_default();
            match encoding {
                Encoding::Protobuf => ExportLogsServiceResponse {
                    partial_success: (decoded.rejected > 0).then_some(ExportLogsPartialSuccess {
                        rejected_log_records: decoded.rejected as i64,
                        error_message: message,
                    }),
                }
                .encode(&mut out)
                .ok(),
                Encoding::Json => {
                    json::encode_logs_response(decoded.rejected as i64, &message, &mut out);
                    None
                }
            };
        }
        Signal::Metrics => {
            let points = match encoding {
                Encoding::Protobuf => metric_points(
                    &ExportMetricsServiceRequest::decode(&bytes[..])
                        .map_err(|e| bad_request("ExportMetricsServiceRequest protobuf", e))?,
                ),
                Encoding::Json => json::count_metric_points(&bytes)
                    .map_err(|e| bad_request("ExportMetricsServiceRequest JSON", e))?,
            };
            state.ingest.count_metric_points(points);
            match encoding {
                Encoding::Protobuf => {
                    ExportMetricsServiceResponse { partial_success: None }.encode(&mut out).ok()
                }
                Encoding::Json => {
                    json::encode_metrics_response(0, "", &mut out);
                    None
                }
            };
        }
    }
    Ok(ok_response(encoding, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_origins_only() {
        for ok in ["http://localhost:3000", "http://127.0.0.1", "https://[::1]:8080"] {
            assert!(is_local_origin(&HeaderValue::from_static(ok)), "{ok}");
        }
        for no in ["http://example.com", "http://localhost.evil.com", "null", "file://"] {
            assert!(!is_local_origin(&HeaderValue::from_static(no)), "{no}");
        }
    }
}
