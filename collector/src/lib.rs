//! hopscope's collector: everything that is not a terminal.
//!
//! Data flows one way: OTLP bytes are decoded at the edge by the [`otlp`] codec (for the
//! receivers in [`ingest`] and the trace-file readers in [`formats`]) into the compact
//! [`model`], handed over a bounded queue to the [`engine`], which owns the span [`store`],
//! the [`link`]er and the [`analysis`], and publishes read-only views.
//!
//! - [`model`]: ids, interned strings, spans with their messaging fields normalised;
//! - [`otlp`]: protobuf wire decoding, lenient OTLP/JSON, conversion to and from the model;
//! - [`ingest`]: the OTLP gRPC and HTTP receivers (limits, auth, TLS, backpressure);
//! - [`formats`]: reading and recording trace files;
//! - [`store`], [`link`], [`analysis`], [`engine`]: what happens to spans once decoded;
//! - [`fake`]: realistic generated traffic for tests, benches and the load generator;
//! - [`size`]: human byte sizes for flags and config.

pub mod analysis;
pub mod engine;
pub mod fake;
pub mod format;
pub mod formats;
pub mod ingest;
pub mod link;
pub mod model;
pub mod otlp;
pub mod size;
pub mod store;
