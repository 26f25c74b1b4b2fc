//! Readers and writers of trace files.

pub mod record;
