//! OTLP/JSON: hopscope's own JSON decoder (`otlp::json`) for traces, logs and metrics,
//! then the trace request through the `Decoder`; a decoded request must re-encode and decode
//! to the same request.
#![no_main]

use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector::otlp::json;
use hopscope_collector_fuzz::decoder;
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::trace::v1::TracesData;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = json::decode_traces(data) {
        // Round trip: what was decoded encodes as OTLP/JSON that decodes to the same spans.
        let traces = TracesData { resource_spans: req.resource_spans.clone() };
        let mut out = Vec::new();
        json::encode_traces_data(&traces, &mut out);
        let again = json::decode_traces(&out).expect("re-encoded JSON decodes");
        assert_eq!(Decoder::count_spans(&again), Decoder::count_spans(&req));
        let n = Decoder::count_spans(&req) as u64;
        let decoded = decoder().traces(req);
        assert_eq!(decoded.spans.len() as u64 + decoded.rejected, n);
    }
    if let Ok(req) = json::decode_logs(data) {
        let _ = decoder().logs(req);
    }
    let _ = json::count_metric_points(data);
});
