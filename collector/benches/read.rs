//! Streaming read of trace files (placeholder while the bench is written).

fn main() {}
