//! What a killed `hopscope serve --record` keeps: every span the real OTLP gRPC exporter was
//! told was accepted, when the process is SIGKILLed 500 ms after the last acknowledgement
//! (the default: lines reach the OS within 200 ms), and with `--record-sync` when it is
//! SIGKILLed at once. And a recording cut in the middle of a line reads back with one warning
//! naming the file and the line, and every whole line kept.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hopscope_tests::sdk::{export_acked, grpc_exporter, sdk_spans};
use hopscope_tests::{Serve, analyze_json, read_recording};

const BATCHES: usize = 40;
const BATCH: usize = 50;

/// Sends `BATCHES` batches through the exporter, kills the server `after` the last
/// acknowledgement, and checks the recording holds every acknowledged span.
fn killed_after_last_ack(extra: &[&str], after: Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("spans.jsonl");
    let mut args = vec!["--record", path.to_str().expect("UTF-8 path")];
    args.extend_from_slice(extra);
    let mut serve = Serve::start(&args);
    let spans = sdk_spans("crash", BATCHES * BATCH, 200);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let acked: BTreeSet<String> = runtime.block_on(async {
        let exporter = grpc_exporter(&serve.grpc_endpoint(), "crash");
        let mut acked = BTreeSet::new();
        for batch in spans.chunks(BATCH) {
            let ids = export_acked(&exporter, batch.to_vec()).await.expect("export acknowledged");
            acked.extend(ids);
        }
        acked
    });
    if !after.is_zero() {
        std::thread::sleep(after);
    }
    serve.signal("KILL");
    let deadline = Instant::now() + Duration::from_secs(10);
    while serve.child_is_running() {
        assert!(Instant::now() < deadline, "the server outlived SIGKILL");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(acked.len(), BATCHES * BATCH);
    let recorded: BTreeSet<String> =
        read_recording(&path).iter().map(hopscope_tests::RecordedSpan::span_id).collect();
    let missing: Vec<_> = acked.difference(&recorded).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged spans are not in the recording after SIGKILL {after:?} after \
         the last acknowledgement (first: {:?})",
        missing.len(),
        acked.len(),
        missing.first()
    );
    assert_eq!(recorded, acked, "the recording holds spans that were not sent");
}

#[test]
fn sigkill_500ms_after_the_last_ack_loses_nothing_acknowledged() {
    killed_after_last_ack(&[], Duration::from_millis(500));
}

#[test]
fn with_record_sync_sigkill_right_after_the_last_ack_loses_nothing() {
    killed_after_last_ack(&["--record-sync"], Duration::ZERO);
}

#[test]
fn a_recording_cut_mid_line_reads_back_with_one_warning_naming_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("spans.jsonl");
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 path")]);
    let spans = sdk_spans("cut", 30, 100);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let exporter = grpc_exporter(&serve.grpc_endpoint(), "cut");
        for batch in spans.chunks(10) {
            export_acked(&exporter, batch.to_vec()).await.expect("export acknowledged");
        }
    });
    assert!(serve.stop().success());
    let text = std::fs::read(&path).expect("read the recording");
    let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    assert_eq!(lines.len(), 3, "one line per acknowledged request");
    // As a crash in the middle of writing the third line leaves it.
    let cut = lines[0].len() + lines[1].len() + lines[2].len() / 2;
    std::fs::write(&path, &text[..cut]).expect("cut the recording");

    let (ok, stderr, report) = analyze_json(&path);
    let read = report["summary"]["spans"].as_u64().unwrap_or(0);
    assert!(ok, "analyze failed on a cut recording:\n{stderr}");
    assert_eq!(read, 20, "the two whole lines are read:\n{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("spans.jsonl")).collect();
    assert_eq!(warnings.len(), 1, "one warning about the cut line:\n{stderr}");
    assert!(
        warnings[0].contains(&format!("{}:3", path.display())),
        "the warning names the file and line 3: {}",
        warnings[0]
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
