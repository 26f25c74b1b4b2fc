//! Ingest hot path: OTLP protobuf decode, conversion into the compact model, and insertion
//! into the span store, on realistic ~500-byte spans (see `hopscope_collector::fake`).
//!
//! - `otlp_decode`: prost decoding into the opentelemetry-proto structs alone (what the
//!   receivers did before `otlp::wire`);
//! - `wire_decode`: `otlp::wire::decode_traces`, protobuf straight into the model (what the
//!   gRPC and HTTP receivers and the file reader do);
//! - `decode_convert_store`: the receivers' path, wire decode then insertion into the store;
//!   `decode_convert_store_prost` the same through prost and `Decoder::traces`, for comparison.
//!
//! `cargo bench -p hopscope-collector --bench ingest`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hopscope_collector::fake::Generator;
use hopscope_collector::model::Interner;
use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector::otlp::{json, wire};
use hopscope_collector::store::SpanStore;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;

const START: u64 = 1_700_000_000_000_000_000;

fn encoded(spans: usize) -> Vec<u8> {
    Generator::new(1, START).request(spans).encode_to_vec()
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("otlp_decode");
    for spans in [1usize, 512, 8192] {
        let bytes = encoded(spans);
        let n =
            ExportTraceServiceRequest::decode(&bytes[..]).map_or(0, |r| Decoder::count_spans(&r));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{spans}_spans"), |b| {
            b.iter(|| ExportTraceServiceRequest::decode(black_box(&bytes[..])));
        });
    }
    group.finish();
}

fn wire_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("wire_decode");
    let decoder = Decoder::new(Arc::new(Interner::new()));
    for spans in [1usize, 512, 8192] {
        let bytes = encoded(spans);
        let n = wire::count_spans(&bytes).unwrap_or(0);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{spans}_spans"), |b| {
            b.iter(|| wire::decode_traces(&decoder, black_box(&bytes[..])));
        });
    }
    group.finish();
}

fn decode_convert_store(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_convert_store");
    let decoder = Decoder::new(Arc::new(Interner::new()));
    for spans in [1usize, 512, 8192] {
        let bytes = encoded(spans);
        let n = wire::count_spans(&bytes).unwrap_or(0);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{spans}_spans"), |b| {
            b.iter_batched_ref(
                || SpanStore::new(1 << 30),
                |store| {
                    let Ok(decoded) = wire::decode_traces(&decoder, black_box(&bytes[..])) else {
                        return;
                    };
                    for span in decoded.spans {
                        store.insert(span);
                    }
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

fn decode_convert_store_prost(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_convert_store_prost");
    let decoder = Decoder::new(Arc::new(Interner::new()));
    for spans in [1usize, 512, 8192] {
        let bytes = encoded(spans);
        let n =
            ExportTraceServiceRequest::decode(&bytes[..]).map_or(0, |r| Decoder::count_spans(&r));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{spans}_spans"), |b| {
            b.iter_batched_ref(
                || SpanStore::new(1 << 30),
                |store| {
                    let Ok(req) = ExportTraceServiceRequest::decode(black_box(&bytes[..])) else {
                        return;
                    };
                    for span in decoder.traces(req).spans {
                        store.insert(span);
                    }
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

fn json(c: &mut Criterion) {
    let mut group = c.benchmark_group("otlp_json");
    for spans in [1usize, 512, 8192] {
        let req = Generator::new(1, START).request(spans);
        let data = TracesData { resource_spans: req.resource_spans };
        let mut text = Vec::new();
        json::encode_traces_data(&data, &mut text);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("decode_{spans}_spans"), |b| {
            b.iter(|| json::decode_traces(black_box(&text)));
        });
        group.bench_function(format!("encode_{spans}_spans"), |b| {
            let mut out = Vec::with_capacity(text.len());
            b.iter(|| {
                out.clear();
                json::encode_traces_data(black_box(&data), &mut out);
            });
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    decode,
    wire_decode,
    decode_convert_store,
    decode_convert_store_prost,
    json
);
criterion_main!(benches);
