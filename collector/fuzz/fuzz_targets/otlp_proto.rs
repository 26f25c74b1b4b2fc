//! OTLP protobuf: an `ExportTraceServiceRequest` (what gRPC and OTLP/HTTP protobuf carry)
//! decoded, then converted into the model by hopscope's `Decoder`; logs too.
#![no_main]

use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector_fuzz::decoder;
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = ExportTraceServiceRequest::decode(data) {
        let n = Decoder::count_spans(&req) as u64;
        let decoded = decoder().traces(req);
        assert_eq!(decoded.spans.len() as u64 + decoded.rejected, n);
        assert_eq!(decoded.first_error.is_some(), decoded.rejected > 0);
    }
    if let Ok(req) = ExportLogsServiceRequest::decode(data) {
        let _ = decoder().logs(req);
    }
});
