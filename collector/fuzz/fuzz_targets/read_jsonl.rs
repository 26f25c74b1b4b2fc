//! The OTLP JSON lines reader (`--record` files, the Collector file exporter's JSON), on
//! bytes in memory, whatever they look like.
#![no_main]

use std::path::Path;

use hopscope_collector::formats::read::{ReadReport, read_jsonl};
use hopscope_collector_fuzz::decoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut report = ReadReport::default();
    let mut spans = 0u64;
    read_jsonl(data, Path::new("fuzz.jsonl"), decoder(), &mut report, &mut |s| {
        spans += s.len() as u64;
    })
    .expect("reading memory cannot fail");
    assert_eq!(report.spans, spans);
    assert_eq!(report.bytes, data.len() as u64);
});
