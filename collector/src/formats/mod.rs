//! Readers and writers of trace files.
//!
//! [`read`] reads every format hopscope knows (OTLP JSON lines and documents, length-prefixed
//! OTLP protobuf, the OpenTelemetry Collector file exporter's zstd form, Jaeger and Zipkin
//! JSON; gzip or zstd around any of them), telling them by content; [`record`] writes
//! recordings as OTLP JSON lines.
//!
//! Inside, dependencies run one way: `read` tells the format (`detect`), undoes whole-file
//! compression and hands the stream to a format reader (`otlp_json`, `otlp_proto`, `jaeger`,
//! [`zipkin`]; the last two build OTLP through `foreign` and stream with `json_stream`),
//! which writes what it finds into a `sink`; `read` decodes what comes out through
//! [`crate::otlp`]. The library reports progress to a callback and draws nothing.

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
