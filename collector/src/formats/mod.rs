//! Readers and writers of trace files.

pub mod read;
pub mod record;
