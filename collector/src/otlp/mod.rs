//! The OTLP codec: OTLP bytes to and from hopscope's compact [`crate::model`], with no
//! network in sight (the receivers in [`crate::ingest`] and the trace-file readers in
//! [`crate::formats`] both use it).
//!
//! - [`wire`] decodes OTLP trace protobuf straight into the model, following prost's rules;
//! - [`json`] is the lenient OTLP/JSON decoder and the file exporter's OTLP/JSON encoder,
//!   over the prost types of `opentelemetry-proto`;
//! - [`convert`] turns those prost types into the model (validating ids span by span) and
//!   the model back into OTLP.

pub mod convert;
pub mod json;
pub mod wire;
