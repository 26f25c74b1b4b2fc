//! Differential: hopscope's hand-written OTLP protobuf decoder (`otlp::wire`) against
//! prost followed by the `Decoder`. Both refuse, or both give the same spans, rejections and
//! first error; `count_spans` agrees with what was decoded.
#![no_main]

use hopscope_collector::otlp::wire;
use hopscope_collector_fuzz::decoder;
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let prost = ExportTraceServiceRequest::decode(data).map(|req| decoder().traces(req));
    let wire = wire::decode_traces(decoder(), data);
    match (&prost, &wire) {
        (Ok(p), Ok(w)) => {
            // Debug forms: NaN doubles compare unequal but print the same.
            assert_eq!(format!("{:?}", p.spans), format!("{:?}", w.spans));
            assert_eq!((p.rejected, &p.first_error), (w.rejected, &w.first_error));
            let counted = wire::count_spans(data).expect("a decodable message can be counted");
            assert_eq!(counted as u64, w.spans.len() as u64 + w.rejected);
        }
        (Err(_), Err(_)) => {}
        _ => panic!("prost {:?}\nwire {:?}", prost.as_ref().err(), wire.as_ref().err()),
    }
});
