//! The OTLP/gRPC receiver: trace, logs and metrics services (so an exporter set up for all
//! three signals never gets UNIMPLEMENTED), gzip accepted.
//!
//! The trace service is written out here rather than generated: its codec hands the raw
//! request message to [`crate::otlp::wire`], which decodes it straight into the model (the
//! generated service would have prost build the whole opentelemetry-proto tree first). Logs
//! and metrics, low in volume, keep the generated services and prost.

use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, EnabledCompressionEncodings};
use tonic::codegen::BoxFuture;
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::metric_points;
use crate::engine::{Ingest, Refused};
use crate::otlp::convert::Decoder;
use crate::otlp::wire;

/// The gRPC services, sharing one decoder and one engine handle.
#[derive(Debug, Clone)]
pub struct OtlpGrpc {
    decoder: Decoder,
    ingest: Ingest,
}

impl OtlpGrpc {
    /// Services feeding `ingest`.
    pub fn new(decoder: Decoder, ingest: Ingest) -> Self {
        Self { decoder, ingest }
    }

    /// A tonic router with the three services, accepting gzip and requests up to
    /// `max_request` bytes.
    pub fn router(self, max_request: usize) -> tonic::service::Routes {
        let traces = TraceServer { grpc: self.clone(), max_request };
        let logs = LogsServiceServer::new(self.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max_request);
        let metrics = MetricsServiceServer::new(self)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max_request);
        tonic::service::Routes::new(traces).add_service(logs).add_service(metrics)
    }
}

/// UNAVAILABLE with a RetryInfo detail, so OTLP exporters back off and retry.
pub fn unavailable(refused: Refused) -> Status {
    Status::with_error_details(
        tonic::Code::Unavailable,
        refused.to_string(),
        ErrorDetails::with_retry_info(Some(refused.retry_after)),
    )
}

impl OtlpGrpc {
    /// TraceService/Export: an encoded `ExportTraceServiceRequest` in, its spans to the
    /// engine. Undecodable is INVALID_ARGUMENT (OTLP: malformed data is not retryable), with
    /// what could not be decoded.
    fn export_traces(
        &self,
        message: &[u8],
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let undecodable = |e: wire::DecodeError| Status::invalid_argument(e.to_string());
        let n = wire::count_spans(message).map_err(undecodable)?;
        if !self.ingest.has_room(n) {
            return Err(unavailable(self.ingest.refuse(n)));
        }
        let decoded = wire::decode_traces(&self.decoder, message).map_err(undecodable)?;
        self.ingest.reject(decoded.rejected);
        self.ingest.submit_spans(decoded.spans).map_err(unavailable)?;
        let partial_success = (decoded.rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: decoded.rejected as i64,
            error_message: decoded.first_error.unwrap_or_default(),
        });
        Ok(Response::new(ExportTraceServiceResponse { partial_success }))
    }
}

const TRACE_SERVICE: &str = "opentelemetry.proto.collector.trace.v1.TraceService";
const TRACE_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The OTLP TraceService, as the generated `TraceServiceServer` serves it (gzip accepted,
/// requests up to `max_request` bytes after inflation, UNIMPLEMENTED for other methods),
/// with [`RawCodec`] in place of prost's.
#[derive(Debug, Clone)]
struct TraceServer {
    grpc: OtlpGrpc,
    max_request: usize,
}

impl NamedService for TraceServer {
    const NAME: &'static str = TRACE_SERVICE;
}

impl<B> tonic::codegen::Service<http::Request<B>> for TraceServer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != TRACE_EXPORT {
            return Box::pin(async {
                let mut response = http::Response::new(tonic::body::Body::default());
                let headers = response.headers_mut();
                headers.insert(Status::GRPC_STATUS, (tonic::Code::Unimplemented as i32).into());
                headers.insert(http::header::CONTENT_TYPE, tonic::metadata::GRPC_CONTENT_TYPE);
                Ok(response)
            });
        }
        let export = Export(self.grpc.clone());
        let max_request = self.max_request;
        Box::pin(async move {
            let mut accept = EnabledCompressionEncodings::default();
            accept.enable(CompressionEncoding::Gzip);
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .apply_compression_config(accept, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(max_request), None);
            Ok(grpc.unary(export, request).await)
        })
    }
}

/// TraceService/Export on a raw request message.
struct Export(OtlpGrpc);

impl UnaryService<Bytes> for Export {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<Response<Self::Response>, Status>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let grpc = self.0.clone();
        Box::pin(async move { grpc.export_traces(&request.into_inner()) })
    }
}

/// Hands the request message on as it came (after tonic's framing, inflation and size
/// limit), without copying it; encodes the answer with prost.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Bytes;
    type Encoder = tonic_prost::ProstEncoder<ExportTraceServiceResponse>;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[tonic::async_trait]
impl LogsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let decoded = self.decoder.logs(request.into_inner());
        self.ingest.submit_logs(decoded.records).map_err(unavailable)?;
        let partial_success = (decoded.rejected > 0).then(|| ExportLogsPartialSuccess {
            rejected_log_records: decoded.rejected as i64,
            error_message: decoded.first_error.unwrap_or_default(),
        });
        Ok(Response::new(ExportLogsServiceResponse { partial_success }))
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.ingest.count_metric_points(metric_points(&request.into_inner()));
        Ok(Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}
