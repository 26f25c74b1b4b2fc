//! `-` reads stdin, told by content like a file: one scenario in every format hopscope reads
//! (OTLP JSON lines and document, length-prefixed protobuf, the file exporter's zstd
//! messages, whole-file zstd and gzip, Jaeger, Zipkin) is piped into the real binary, and
//! `hopscope analyze -` gives exactly what `hopscope analyze FILE` gives for the same bytes;
//! the OTLP forms all give the same analysis. `hopscope replay --headless --instant -`
//! stores every span of a piped recording.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use hopscope_collector::analysis::Analysis;
use hopscope_collector::otlp::json::decode_traces;
use hopscope_tests::{Stats, gzip, hopscope_bin, workspace_root};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message as _;

fn fixture(name: &str) -> Vec<u8> {
    let path = workspace_root().join("collector/tests/fixtures/formats").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Each line of the JSON lines fixture as a protobuf `TracesData`.
fn messages() -> Vec<Vec<u8>> {
    fixture("scenario.otlp.jsonl")
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let req = decode_traces(line).expect("fixture line decodes");
            TracesData { resource_spans: req.resource_spans }.encode_to_vec()
        })
        .collect()
}

/// Messages each behind a 4-byte big-endian length.
fn length_prefixed(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(&u32::try_from(m.len()).expect("small message").to_be_bytes());
        out.extend_from_slice(m);
    }
    out
}

/// `bytes` as one zstd frame of raw (stored) blocks, written by the format's documented
/// layout (RFC 8878): magic, a single-segment frame header with a 4-byte content size, then
/// blocks of at most 128 KiB, each behind a 3-byte header (last flag, type 0 = raw, size).
fn zstd_raw(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0xa0];
    out.extend_from_slice(&u32::try_from(bytes.len()).expect("small input").to_le_bytes());
    let chunks: Vec<&[u8]> =
        if bytes.is_empty() { vec![&[][..]] } else { bytes.chunks(128 << 10).collect() };
    for (i, chunk) in chunks.iter().enumerate() {
        let last = u32::from(i + 1 == chunks.len());
        let header = last | (u32::try_from(chunk.len()).expect("small block") << 3);
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.extend_from_slice(chunk);
    }
    out
}

/// What a run of hopscope did.
struct Run {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs hopscope with `args`, `input` piped into its stdin, for at most 60 s.
fn run(args: &[&str], input: Vec<u8>) -> Run {
    let mut cmd = Command::new(hopscope_bin());
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("HOPSCOPE_")) {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd.spawn().expect("cannot start hopscope");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // A pipe, written while hopscope reads: it cannot seek back over what it sniffed.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let stdout = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for hopscope") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hopscope {args:?} still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    writer.join().expect("stdin writer");
    Run {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// `hopscope analyze ARG --format json` (stdin piped), parsed.
fn analyze(arg: &str, input: Vec<u8>) -> (Analysis, String) {
    let out = run(&["analyze", arg, "--format", "json"], input);
    assert!(out.status.success(), "analyze {arg} exited {}:\n{}", out.status, out.stderr);
    let analysis = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("analyze {arg}: not an analysis ({e}):\n{}", String::from_utf8_lossy(&out.stdout))
    });
    (analysis, out.stderr)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write the sample");
    path
}

/// The scenario in every format: name, bytes, and whether it has the links (Zipkin has
/// none).
fn samples() -> Vec<(&'static str, Vec<u8>, bool)> {
    let messages = messages();
    let proto = length_prefixed(&messages);
    let zstd_messages: Vec<Vec<u8>> = messages.iter().map(|m| zstd_raw(m)).collect();
    let jsonl = fixture("scenario.otlp.jsonl");
    vec![
        ("OTLP JSON lines", jsonl.clone(), true),
        ("OTLP JSON document", fixture("scenario.otlp.json"), true),
        ("OTLP protobuf (length-prefixed)", proto.clone(), true),
        ("OTLP zstd messages (length-prefixed)", length_prefixed(&zstd_messages), true),
        ("zstd + OTLP JSON lines", zstd_raw(&jsonl), true),
        ("gzip + OTLP protobuf (length-prefixed)", gzip(&proto), true),
        ("Jaeger JSON", fixture("scenario.jaeger.json"), true),
        ("Zipkin v2 JSON", fixture("scenario.zipkin.json"), false),
    ]
}

#[test]
fn analyze_reads_every_format_from_stdin_as_from_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut otlp: Option<Analysis> = None;
    for (i, (format, bytes, _)) in samples().into_iter().enumerate() {
        let path = write(dir.path(), &format!("sample-{i}"), &bytes);
        let (from_file, _) = analyze(path.to_str().expect("UTF-8 temp path"), Vec::new());
        let (from_stdin, stderr) = analyze("-", bytes);
        assert!(from_stdin.summary.spans > 0, "{format}: no spans from stdin:\n{stderr}");
        assert_eq!(from_stdin, from_file, "{format}: stdin and file differ\n{stderr}");
        if format.contains("OTLP") {
            match &otlp {
                None => otlp = Some(from_stdin),
                Some(first) => assert_eq!(&from_stdin, first, "{format} differs from JSON lines"),
            }
        }
    }
    let otlp = otlp.expect("OTLP samples");
    assert!(otlp.summary.hops > 0, "the scenario has asynchronous hops: {:?}", otlp.summary);
}

#[test]
fn replay_reads_a_piped_recording() {
    let (expected, _) = analyze("-", length_prefixed(&messages()));
    for (format, bytes, _) in samples() {
        let out = run(&["replay", "--headless", "--instant", "-"], bytes);
        assert!(out.status.success(), "{format}: replay exited {}:\n{}", out.status, out.stderr);
        let stats = out
            .stderr
            .lines()
            .rev()
            .find_map(Stats::parse)
            .unwrap_or_else(|| panic!("{format}: no stats line:\n{}", out.stderr));
        assert_eq!(stats.stored, expected.summary.spans, "{format}:\n{}", out.stderr);
        assert_eq!(stats.refused, 0, "{format}");
    }
}

#[test]
fn empty_or_unknown_stdin_is_exit_2() {
    for (input, says) in [
        (Vec::new(), "<stdin>: empty file"),
        (b"\x00\x01 not a trace file".to_vec(), "<stdin>: not a trace file"),
    ] {
        let out = run(&["analyze", "-"], input);
        assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
        assert!(out.stderr.contains(says), "{says}:\n{}", out.stderr);
    }
}
