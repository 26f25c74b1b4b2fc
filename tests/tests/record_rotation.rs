//! `serve --record FILE --record-max-size SIZE [--record-max-files N]`: the recording rotates
//! to time-stamped names next to FILE, never splitting a line, each file mode 0600; `analyze`
//! reads the directory back in order, exactly the spans acknowledged. Spans travel through
//! the real OTLP gRPC exporter.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hopscope_tests::sdk::{export_acked, grpc_exporter, sdk_spans};
use hopscope_tests::{RecordedSpan, Serve, analyze_json, read_recording};

/// Records `n` spans of `pad` bytes each in batches of 100 with `extra` flags; returns the
/// directory, the acknowledged span ids in order, and the files left, in name order.
fn record(n: usize, pad: usize, extra: &[&str]) -> (tempfile::TempDir, Vec<String>, Vec<PathBuf>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("spans.jsonl");
    let mut args = vec!["--record", path.to_str().expect("UTF-8 path")];
    args.extend_from_slice(extra);
    let mut serve = Serve::start(&args);
    let spans = sdk_spans("rotation", n, pad);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let acked = runtime.block_on(async {
        let exporter = grpc_exporter(&serve.grpc_endpoint(), "rotation");
        let mut acked = Vec::new();
        for batch in spans.chunks(100) {
            acked.extend(
                export_acked(&exporter, batch.to_vec()).await.expect("export acknowledged"),
            );
        }
        acked
    });
    assert!(serve.stop().success(), "{}", serve.stderr_lines().join("\n"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("list the directory")
        .map(|e| e.expect("directory entry").path())
        .collect();
    files.sort();
    (dir, acked, files)
}

/// Whether `name` is `spans.YYYYMMDDTHHMMSS.ffffffZ.jsonl`.
fn is_rotated_name(name: &str) -> bool {
    let Some(stamp) = name.strip_prefix("spans.").and_then(|n| n.strip_suffix(".jsonl")) else {
        return false;
    };
    stamp.len() == 23
        && stamp.bytes().enumerate().all(|(i, c)| match i {
            8 => c == b'T',
            15 => c == b'.',
            22 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).expect("UTF-8 file name")
}

/// Every line of every file ends in a newline (none split), no file is over `max` by more
/// than its longest line, and every file is mode 0600.
fn check_files(files: &[PathBuf], max: u64) {
    for path in files {
        let bytes = std::fs::read(path).expect("read a recording file");
        assert!(bytes.ends_with(b"\n"), "{} ends in the middle of a line", path.display());
        let longest = bytes.split_inclusive(|&b| b == b'\n').map(<[u8]>::len).max().unwrap_or(0);
        let len = bytes.len() as u64;
        assert!(
            len <= max + longest as u64,
            "{} is {len} bytes: over {max} by more than one line ({longest} bytes)",
            path.display()
        );
        // Every line is a whole TracesData.
        read_recording(path);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
        }
    }
}

fn analyze_spans(path: &Path) -> u64 {
    let (ok, stderr, report) = analyze_json(path);
    assert!(ok, "analyze failed:\n{stderr}");
    assert!(!stderr.contains("skipped"), "analyze skipped something:\n{stderr}");
    report["summary"]["spans"].as_u64().expect("summary.spans")
}

#[test]
fn past_max_size_the_recording_rotates_and_analyze_reads_the_directory() {
    const MIB: u64 = 1 << 20;
    let (dir, acked, files) = record(3000, 1000, &["--record-max-size", "1MiB"]);
    let names: Vec<&str> = files.iter().map(|p| file_name(p)).collect();
    assert!(files.len() >= 3, "three or more files past 1MiB x3: {names:?}");
    assert_eq!(names.last(), Some(&"spans.jsonl"), "the live file sorts last: {names:?}");
    for name in &names[..names.len() - 1] {
        assert!(is_rotated_name(name), "not a rotated name: {name}");
    }
    check_files(&files, MIB);

    // In name order, the files hold the spans in the order they were acknowledged.
    let in_order: Vec<String> =
        files.iter().flat_map(|f| read_recording(f)).map(|s: RecordedSpan| s.span_id()).collect();
    assert_eq!(in_order, acked, "the files, read in name order, are the recording in order");
    let unique: BTreeSet<&String> = acked.iter().collect();
    assert_eq!(unique.len(), 3000);
    assert_eq!(analyze_spans(dir.path()), 3000, "analyze DIR reads exactly the spans acknowledged");
}

#[test]
fn max_files_keeps_the_newest_and_deletes_the_oldest() {
    let (_dir, acked, files) =
        record(600, 500, &["--record-max-size", "64KiB", "--record-max-files", "3"]);
    let names: Vec<&str> = files.iter().map(|p| file_name(p)).collect();
    assert_eq!(files.len(), 3, "at most three files, the live one included: {names:?}");
    check_files(&files, 64 << 10);
    let kept: Vec<String> =
        files.iter().flat_map(|f| read_recording(f)).map(|s| s.span_id()).collect();
    assert!(kept.len() < acked.len(), "older files were deleted");
    assert_eq!(kept[..], acked[acked.len() - kept.len()..], "the newest spans are kept, in order");
}

#[test]
fn record_max_files_without_max_size_is_a_usage_error() {
    let (status, stderr) = hopscope_tests::ServeCommand::new()
        .args(&["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--record", "x.jsonl"])
        .args(&["--record-max-files", "3"])
        .run_expecting_failure();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--record-max-files needs --record-max-size"), "{stderr}");
}
