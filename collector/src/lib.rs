//! hopscope's collector: everything that is not a terminal.
//!
//! Data flows one way: OTLP bytes are decoded at the edge ([`ingest`]) into the compact
//! [`model`], handed over a bounded queue to the [`engine`], which owns the span [`store`]
//! (and, later, the linker and analyses) and publishes read-only views.

pub mod analysis;
pub mod engine;
pub mod fake;
pub mod format;
pub mod formats;
pub mod ingest;
pub mod link;
pub mod model;
pub mod size;
pub mod store;
