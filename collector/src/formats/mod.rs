//! Readers and writers of trace files.
//!
//! [`read`] reads every format hopscope knows (OTLP JSON lines and documents, length-prefixed
//! OTLP protobuf, the OpenTelemetry Collector file exporter's zstd form, Jaeger and Zipkin
//! JSON; gzip or zstd around any of them), telling them by content; [`record`] writes
//! recordings as OTLP JSON lines.

mod detect;
mod foreign;
mod jaeger;
mod json_stream;
mod otlp_json;
mod otlp_proto;
pub mod read;
pub mod record;
mod sink;
pub mod zipkin;
