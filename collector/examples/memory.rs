//! Memory per stored span: ingests N generated spans (default 1,000,000) through decode,
//! conversion and the store, and prints the process's RSS growth per span.
//!
//! `cargo run --release -p hopscope-collector --example memory -- 1000000`

use std::sync::Arc;

use hopscope_collector::fake::Generator;
use hopscope_collector::model::Interner;
use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector::store::SpanStore;
use prost::Message;

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn main() {
    let total: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let decoder = Decoder::new(Arc::new(Interner::new()));
    let mut store = SpanStore::new(u64::MAX);
    let mut generator = Generator::new(42, 1_700_000_000_000_000_000);
    let before = rss_bytes();
    let started = std::time::Instant::now();
    let mut encoded_bytes = 0usize;
    while store.stats().spans < total as u64 {
        let bytes = generator.request(512).encode_to_vec();
        encoded_bytes += bytes.len();
        let Ok(req) =
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
                &bytes[..],
            )
        else {
            continue;
        };
        for span in decoder.traces(req).spans {
            store.insert(span);
        }
    }
    let elapsed = started.elapsed();
    let after = rss_bytes();
    let spans = store.stats().spans;
    println!(
        "spans={spans} encoded_bytes_per_span={} rss_growth_bytes={} rss_bytes_per_span={} store_estimate_bytes_per_span={} spans_per_sec={:.0}",
        encoded_bytes as u64 / spans,
        after.saturating_sub(before),
        after.saturating_sub(before) / spans,
        store.stats().bytes / spans,
        spans as f64 / elapsed.as_secs_f64()
    );
}
