//! The OTLP/gRPC receiver: trace, logs and metrics services (so an exporter set up for all
//! three signals never gets UNIMPLEMENTED), gzip accepted.

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
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::convert::Decoder;
use super::metric_points;
use crate::engine::{Ingest, Refused};

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
        let traces = TraceServiceServer::new(self.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max_request);
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

#[tonic::async_trait]
impl TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let req = request.into_inner();
        let n = Decoder::count_spans(&req);
        if !self.ingest.has_room(n) {
            return Err(unavailable(self.ingest.refuse(n)));
        }
        let decoded = self.decoder.traces(req);
        self.ingest.reject(decoded.rejected);
        self.ingest.submit_spans(decoded.spans).map_err(unavailable)?;
        let partial_success = (decoded.rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: decoded.rejected as i64,
            error_message: decoded.first_error.unwrap_or_default(),
        });
        Ok(Response::new(ExportTraceServiceResponse { partial_success }))
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
