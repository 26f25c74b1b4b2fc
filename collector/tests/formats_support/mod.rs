//! Shared by the `formats_*` tests: the committed fixtures (`tests/fixtures/formats`), the
//! binary forms written from them at test time, and a reader that collects what it reads.
//!
//! The text fixtures are written by hand. The binary ones are not committed: they are made
//! here from `scenario.otlp.jsonl` (each line decoded with the OTLP/JSON decoder, re-encoded
//! with prost) and compressed with the `zstd` and `flate2` crates, in the layouts the
//! OpenTelemetry Collector's file exporter writes.

#![allow(dead_code, reason = "each test file uses a different part of this module")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hopscope_collector::formats::read::{ReadError, ReadOptions, ReadReport, read_paths_with};
use hopscope_collector::model::{Interner, Span};
use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector::otlp::json::decode_traces;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;

/// The path of a committed fixture.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats").join(name)
}

/// The bytes of a committed fixture.
pub fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture")
}

/// What a read gave.
pub struct Read {
    pub spans: Vec<Span>,
    /// The size of each batch handed on, in order.
    pub batches: Vec<usize>,
    pub report: ReadReport,
    pub interner: Arc<Interner>,
}

impl Read {
    pub fn name(&self, span: &Span) -> &str {
        self.interner.resolve(span.name)
    }

    pub fn service(&self, span: &Span) -> &str {
        self.interner.resolve(span.service())
    }
}

/// Reads `paths` with no progress line.
pub fn try_read(paths: &[PathBuf]) -> Result<Read, ReadError> {
    let interner = Arc::new(Interner::new());
    let decoder = Decoder::new(Arc::clone(&interner));
    let mut spans = Vec::new();
    let mut batches = Vec::new();
    let options = ReadOptions::default();
    let report = read_paths_with(paths, &decoder, options, &mut |batch| {
        batches.push(batch.len());
        spans.extend(batch);
    })?;
    Ok(Read { spans, batches, report, interner })
}

/// Reads `paths`, which must open.
pub fn read_all(paths: &[PathBuf]) -> Read {
    try_read(paths).expect("paths open")
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

/// The JSON lines fixture's lines (without line breaks).
pub fn scenario_lines() -> Vec<Vec<u8>> {
    fixture_bytes("scenario.otlp.jsonl")
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Each line of the JSON lines fixture as a protobuf `TracesData`.
pub fn scenario_messages() -> Vec<Vec<u8>> {
    scenario_lines()
        .iter()
        .map(|line| {
            let req = decode_traces(line).expect("fixture line decodes");
            TracesData { resource_spans: req.resource_spans }.encode_to_vec()
        })
        .collect()
}

/// Messages each behind a 4-byte big-endian length: the file exporter's `format: proto`
/// (and, with compressed messages, its `compression: zstd`).
pub fn length_prefixed(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(&u32::try_from(m.len()).expect("message under 4 GiB").to_be_bytes());
        out.extend_from_slice(m);
    }
    out
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).expect("zstd")
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}
