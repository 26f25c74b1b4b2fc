//! Streaming read of trace files, through `formats::read::read_paths_with`: file → detect →
//! decode → compact model (`read_decode`; protobuf through `otlp::wire`, straight into the
//! model), and the same plus insertion into the span store
//! (`read_decode_store`), for OTLP JSON lines and length-prefixed OTLP protobuf.
//!
//! The files are generated at start in a temp dir by `hopscope_collector::fake` (HTTP
//! server/client and messaging producer/consumer spans with links and attributes, ~500
//! bytes each as protobuf), 512 spans per record as an SDK batch exporter sends them, at
//! three sizes: 64 KiB, 1 MiB and `HOPSCOPE_BENCH_READ_MB` MiB (default 64: the issue's
//! 1 GB scale is scaled down for a 2-core box; set it to 1024 to run that once). Throughput
//! is in bytes of file. The peak resident memory of each group is printed (it follows the
//! store, not the file).
//!
//! The allocator is mimalloc, as in the `hopscope` binary: reading is allocation-bound
//! (every attribute is a string), and glibc's malloc costs about a third of the time.
//!
//! `cargo bench -p hopscope-collector --bench read`

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput};
use hopscope_collector::fake::Generator;
use hopscope_collector::formats::read::{ReadOptions, read_paths_with};
use hopscope_collector::model::Interner;
use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector::otlp::json::encode_traces_data;
use hopscope_collector::store::SpanStore;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const START: u64 = 1_700_000_000_000_000_000;
const SPANS_PER_RECORD: usize = 512;
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// A generated file.
struct Sample {
    path: PathBuf,
    bytes: u64,
    spans: u64,
}

/// Writes about `target` bytes (whole records) of each format, from the same generator
/// seed, so both files start with the same spans.
fn generate(dir: &Path, label: &str, target: u64) -> [(&'static str, Sample); 2] {
    // Small files get smaller records so that they hold several.
    let per_record = if target < MIB { 64 } else { SPANS_PER_RECORD };
    let write = |format: &'static str, encode: &dyn Fn(&TracesData, &mut Vec<u8>)| {
        let path = dir.join(format!("{label}.{format}"));
        let mut out = BufWriter::new(File::create(&path).expect("create"));
        let mut generator = Generator::new(7, START);
        let (mut bytes, mut spans) = (0u64, 0u64);
        let mut record = Vec::new();
        while bytes < target {
            let req = generator.request(per_record);
            spans += Decoder::count_spans(&req) as u64;
            record.clear();
            encode(&TracesData { resource_spans: req.resource_spans }, &mut record);
            out.write_all(&record).expect("write");
            bytes += record.len() as u64;
        }
        out.flush().expect("flush");
        (format, Sample { path, bytes, spans })
    };
    [
        write("jsonl", &|data, out| {
            encode_traces_data(data, out);
            out.push(b'\n');
        }),
        write("proto", &|data, out| {
            let message = data.encode_to_vec();
            out.extend_from_slice(&(message.len() as u32).to_be_bytes());
            out.extend_from_slice(&message);
        }),
    ]
}

/// Reads `path`, handing each batch to `sink`; returns the spans read.
fn read(
    path: &Path,
    decoder: &Decoder,
    sink: &mut dyn FnMut(Vec<hopscope_collector::model::Span>),
) -> u64 {
    let options = ReadOptions::default();
    let report = read_paths_with(&[path.to_owned()], decoder, options, sink).expect("read");
    assert_eq!(report.skipped, 0, "{:?}", report.problems);
    report.spans
}

/// Resets the process's peak resident memory, where Linux allows.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident memory in MiB, where Linux tells.
fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn main() {
    let big_mib: u64 =
        std::env::var("HOPSCOPE_BENCH_READ_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let dir = tempfile::tempdir().expect("temp dir");
    let sizes = [
        ("64KiB".to_owned(), 64 * KIB),
        ("1MiB".to_owned(), MIB),
        (format!("{big_mib}MiB"), big_mib * MIB),
    ];
    let mut samples = Vec::new();
    for (label, bytes) in sizes {
        for (format, sample) in generate(dir.path(), &label, bytes) {
            eprintln!(
                "{format} {label}: {} bytes, {} spans ({} bytes/span)",
                sample.bytes,
                sample.spans,
                sample.bytes / sample.spans.max(1)
            );
            samples.push((format, label.clone(), sample));
        }
    }

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let decoder = Decoder::new(Arc::new(Interner::new()));

    reset_peak_memory();
    let mut group = c.benchmark_group("read_decode");
    for (format, label, sample) in &samples {
        group.throughput(Throughput::Bytes(sample.bytes));
        group.bench_function(format!("{format}/{label}"), |b| {
            b.iter(|| {
                let spans = read(&sample.path, &decoder, &mut |batch| {
                    black_box(batch);
                });
                assert_eq!(spans, sample.spans);
            });
        });
    }
    group.finish();
    if let Some(peak) = peak_memory_mib() {
        eprintln!("read_decode: peak resident memory {peak} MiB (largest file {big_mib} MiB)");
    }

    reset_peak_memory();
    let mut group = c.benchmark_group("read_decode_store");
    for (format, label, sample) in &samples {
        group.throughput(Throughput::Bytes(sample.bytes));
        group.bench_function(format!("{format}/{label}"), |b| {
            b.iter_batched_ref(
                || SpanStore::new(64 << 30),
                |store| {
                    read(&sample.path, &decoder, &mut |batch| {
                        for span in batch {
                            store.insert(span);
                        }
                    })
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
    if let Some(peak) = peak_memory_mib() {
        eprintln!(
            "read_decode_store: peak resident memory {peak} MiB (the store holds every span)"
        );
    }
    c.final_summary();
}
