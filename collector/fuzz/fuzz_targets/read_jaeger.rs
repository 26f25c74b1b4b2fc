//! The file reader on a file whose content is told by sniffing, seeded with jaeger files: every
//! format and compression `hopscope analyze FILE` reads is reachable from here.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hopscope_collector_fuzz::read_bytes("jaeger", data);
});
