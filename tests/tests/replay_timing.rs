//! `hopscope replay --headless`: a recording with known gaps replays with those gaps scaled by
//! `--speed`, and every span reaches the engine. Bounds are wide on purpose (a loaded 2-core
//! box must not make them flake): this checks the order of magnitude, not the precision.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hopscope_tests::{RecordedSpan, Stats, hopscope_bin, json_traces, read_recording};

/// Batches in the recording, one second apart.
const BATCHES: u64 = 3;
/// Spans per batch.
const PER_BATCH: u64 = 2;
/// When the first batch was sent (unix ns).
const BASE: u64 = 1_700_000_000_000_000_000;

/// A span of trace `t`, ending at `end` (unix ns), 1 ms long.
fn span(t: u64, i: u64, end: u64) -> serde_json::Value {
    serde_json::json!({
        "traceId": format!("{:032x}", t + 1),
        "spanId": format!("{:016x}", t * 100 + i + 1),
        "name": format!("op {t}.{i}"),
        "kind": 2,
        "startTimeUnixNano": (end - 1_000_000).to_string(),
        "endTimeUnixNano": end.to_string(),
        "attributes": [{"key": "batch", "value": {"intValue": t.to_string()}}],
    })
}

/// OTLP JSON lines: [`BATCHES`] requests one second apart (2 s from first to last), each of
/// [`PER_BATCH`] spans of its own trace.
fn write_recording(dir: &Path) -> PathBuf {
    let mut text = Vec::new();
    for t in 0..BATCHES {
        let end = BASE + t * 1_000_000_000;
        let spans: Vec<_> = (0..PER_BATCH).map(|i| span(t, i, end)).collect();
        text.extend(json_traces("replayed", &spans));
        text.push(b'\n');
    }
    let path = dir.join("gaps.otlp.jsonl");
    std::fs::write(&path, text).expect("write the recording");
    path
}

/// What a headless replay did.
struct Replayed {
    took: Duration,
    stats: Stats,
    stderr: String,
}

/// Runs `hopscope replay --headless ARGS`, expecting it to exit 0 within 30 s.
fn replay(args: &[&str]) -> Replayed {
    let bin = hopscope_bin();
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(["replay", "--headless"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hopscope replay");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for hopscope replay") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hopscope replay {args:?} still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("piped stderr"), &mut stderr)
        .expect("read stderr");
    assert!(status.success(), "hopscope replay {args:?} exited {status}:\n{stderr}");
    let stats = stderr
        .lines()
        .rev()
        .find_map(Stats::parse)
        .unwrap_or_else(|| panic!("no stats line from hopscope replay {args:?}:\n{stderr}"));
    Replayed { took, stats, stderr }
}

#[test]
fn replay_at_speed_10_takes_a_tenth_of_the_recorded_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_recording(dir.path());
    let file = path.to_str().expect("UTF-8 temp path");
    hopscope_bin();

    // 2 s of recording at 10x: 0.2 s of gaps.
    let fast = replay(&[file, "--speed", "10"]);
    assert!(
        fast.took >= Duration::from_millis(100) && fast.took <= Duration::from_millis(1500),
        "--speed 10 took {:?}:\n{}",
        fast.took,
        fast.stderr
    );
    assert_eq!(fast.stats.received, BATCHES * PER_BATCH, "{}", fast.stderr);
    assert_eq!(fast.stats.stored, BATCHES * PER_BATCH, "{}", fast.stderr);
    assert_eq!(fast.stats.refused, 0);

    // At the original timing the gaps are all there.
    let real = replay(&[file, "--speed", "1"]);
    assert!(real.took >= Duration::from_millis(1500), "--speed 1 took {:?}", real.took);
    assert_eq!(real.stats.stored, BATCHES * PER_BATCH, "{}", real.stderr);

    // --instant does not wait at all.
    let instant = replay(&[file, "--instant"]);
    assert!(instant.took < real.took, "--instant took {:?}", instant.took);
    assert_eq!(instant.stats.stored, BATCHES * PER_BATCH, "{}", instant.stderr);
}

/// `replay --record` writes what it replayed: read back, the same spans with the same
/// services, scopes, names, times and attributes.
#[test]
fn replay_records_every_replayed_span() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_recording(dir.path());
    let out = dir.path().join("again.jsonl");
    let replayed = replay(&[
        path.to_str().expect("UTF-8 temp path"),
        "--speed",
        "50",
        "--record",
        out.to_str().expect("UTF-8 temp path"),
    ]);
    assert!(replayed.stderr.contains("recording to"), "{}", replayed.stderr);
    let sorted = |p: &Path| {
        let mut spans = read_recording(p);
        spans.sort_by_key(RecordedSpan::span_id);
        spans
    };
    let (original, again) = (sorted(&path), sorted(&out));
    assert_eq!(again.len() as u64, BATCHES * PER_BATCH);
    assert_eq!(again, original);
}
