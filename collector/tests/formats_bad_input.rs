//! Bad input: a corrupt record is reported where it is (`FILE:LINE` for text, `FILE@OFFSET`
//! for binary) and skipped, the rest is read; a truncated file keeps what came before the
//! cut; empty files are noted, not fatal; nothing at all read is what `is_empty` says.

mod formats_support;

use formats_support::{
    fixture, fixture_bytes, gzip, length_prefixed, read_all, scenario_lines, scenario_messages,
    try_read, write, zstd,
};
use hopscope_collector::formats::read::ReadError;

fn lines_file(lines: &[&[u8]]) -> Vec<u8> {
    lines.iter().flat_map(|l| [*l, b"\n"].concat()).collect()
}

/// The problem (or note) that starts with `prefix`, or a panic listing them all.
fn problem<'a>(problems: &'a [String], prefix: &str) -> &'a str {
    problems
        .iter()
        .find(|p| p.starts_with(prefix))
        .unwrap_or_else(|| panic!("no problem starting {prefix:?} in {problems:?}"))
}

/// The 1-based line of `text` holding `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

#[test]
fn jsonl_corrupt_line_is_reported_by_line_and_the_rest_read() {
    let dir = tempfile::tempdir().unwrap();
    let l = scenario_lines();
    let text =
        lines_file(&[&l[0], br#"{"resourceSpans": [{"scopeSpans": 7}]}"#, &l[1], b"", &l[2]]);
    let path = write(dir.path(), "rec", &text);
    let read = read_all(std::slice::from_ref(&path));
    let r = &read.report;
    assert_eq!((r.records, r.skipped, r.spans), (3, 1, 7));
    let p = problem(&r.problems, &format!("{}:2: ", path.display()));
    assert!(p.contains("invalid OTLP/JSON"), "{p}");
    assert!(!r.is_empty());
}

#[test]
fn jsonl_truncated_last_line_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let l = scenario_lines();
    let half = &l[2][..l[2].len() / 2];
    let mut text = lines_file(&[&l[0], &l[1]]);
    text.extend_from_slice(half);
    let path = write(dir.path(), "rec", &text);
    let read = read_all(std::slice::from_ref(&path));
    assert_eq!((read.report.records, read.report.skipped, read.report.spans), (2, 1, 5));
    let p = problem(&read.report.problems, &format!("{}:3: ", path.display()));
    assert!(p.contains("truncated"), "{p}");
}

#[test]
fn jsonl_span_with_a_bad_id_is_rejected_alone() {
    let dir = tempfile::tempdir().unwrap();
    let line = String::from_utf8(scenario_lines()[1].clone()).unwrap();
    let bad = line.replacen("b9c7c989f97918e1", "b9c7c989", 1);
    let path = write(dir.path(), "rec", &lines_file(&[bad.as_bytes()]));
    let read = read_all(&[path]);
    assert_eq!((read.report.spans, read.report.rejected_spans, read.report.skipped), (2, 1, 0));
    assert!(read.report.problems.is_empty(), "{:?}", read.report.problems);
    assert!(read.report.notes[0].contains(":1: span rejected"), "{:?}", read.report.notes);
}

#[test]
fn proto_truncated_at_the_end_is_reported_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let messages = scenario_messages();
    let whole = length_prefixed(&messages);
    let last = 8 + messages[0].len() + messages[1].len();
    let cut = &whole[..last + 4 + messages[2].len() / 2];
    let path = write(dir.path(), "rec.pb", cut);
    let read = read_all(std::slice::from_ref(&path));
    let r = &read.report;
    assert_eq!((r.records, r.skipped, r.spans), (2, 1, 5));
    let p = problem(&r.problems, &format!("{}@{last}: ", path.display()));
    assert!(p.contains("truncated"), "{p}");

    // Cut inside a length prefix.
    let path = write(dir.path(), "prefix.pb", &whole[..last + 2]);
    let read = read_all(std::slice::from_ref(&path));
    assert_eq!((read.report.records, read.report.skipped), (2, 1));
    problem(&read.report.problems, &format!("{}@{last}: truncated", path.display()));
}

#[test]
fn proto_corrupt_message_is_skipped_and_the_next_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut messages = scenario_messages();
    let second = 4 + messages[0].len();
    messages[1] = vec![0xff; messages[1].len()];
    let path = write(dir.path(), "rec.pb", &length_prefixed(&messages));
    let read = read_all(std::slice::from_ref(&path));
    let r = &read.report;
    assert_eq!((r.records, r.skipped, r.spans), (2, 1, 4));
    let p = problem(&r.problems, &format!("{}@{second}: ", path.display()));
    assert!(p.contains("not a protobuf TracesData"), "{p}");
}

#[test]
fn proto_impossible_length_stops_the_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let messages = scenario_messages();
    let mut bytes = length_prefixed(&messages[..1]);
    let at = bytes.len();
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0a]);
    let broken = write(dir.path(), "broken.pb", &bytes);
    let good = write(dir.path(), "good.pb", &length_prefixed(&messages[1..]));
    let read = read_all(&[broken.clone(), good]);
    assert_eq!((read.report.records, read.report.spans), (3, 7));
    problem(&read.report.problems, &format!("{}@{at}: length prefix", broken.display()));
}

#[test]
fn zstd_messages_corrupt_frame_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames: Vec<Vec<u8>> = scenario_messages().iter().map(|m| zstd(m)).collect();
    let third = 8 + frames[0].len() + frames[1].len();
    let n = frames[2].len();
    frames[2][n / 2..].fill(0x55);
    let path = write(dir.path(), "rec.zst", &length_prefixed(&frames));
    let read = read_all(std::slice::from_ref(&path));
    assert_eq!((read.report.records, read.report.skipped, read.report.spans), (2, 1, 5));
    problem(&read.report.problems, &format!("{}@{third}: zstd", path.display()));
}

#[test]
fn truncated_gzip_keeps_what_inflated() {
    let dir = tempfile::tempdir().unwrap();
    // Enough distinct lines that the cut falls well inside the stream.
    let l = scenario_lines();
    let mut text = Vec::new();
    for i in 0..300 {
        let line = String::from_utf8(l[i % 3].clone()).unwrap().replace("o-42", &format!("o-{i}"));
        text.extend_from_slice(line.as_bytes());
        text.push(b'\n');
    }
    let compressed = gzip(&text);
    let path = write(dir.path(), "rec.gz", &compressed[..compressed.len() / 2]);
    let read = read_all(std::slice::from_ref(&path));
    let r = &read.report;
    assert!(r.records > 0 && r.records < 300, "{} records", r.records);
    assert_eq!(r.skipped, 1, "{:?}", r.problems);
    problem(&r.problems, &format!("{}:", path.display()));
}

#[test]
fn document_truncated_keeps_the_spans_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(fixture_bytes("scenario.otlp.json")).unwrap();
    // Cut inside the payments resource, before its first span ends.
    let cut = text.find("d75597dee50b0cac").unwrap();
    let path = write(dir.path(), "doc.json", &text.as_bytes()[..cut]);
    let read = read_all(std::slice::from_ref(&path));
    let r = &read.report;
    assert_eq!((r.spans, r.skipped), (5, 1), "{:?}", r.problems);
    let p = problem(&r.problems, &format!("{}:", path.display()));
    assert!(p.contains("truncated"), "{p}");
}

#[test]
fn document_corrupt_span_is_skipped_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(fixture_bytes("scenario.otlp.json")).unwrap();
    let bad = text.replacen(r#""name": "validate order""#, r#""name": ["validate order"]"#, 1);
    let line = line_of(&bad, r#""name": ["validate order"]"#);
    let path = write(dir.path(), "doc.json", bad.as_bytes());
    let read = read_all(std::slice::from_ref(&path));
    let r = &read.report;
    assert_eq!((r.spans, r.skipped), (6, 1), "{:?}", r.problems);
    problem(&r.problems, &format!("{}:{line}: ", path.display()));
}

#[test]
fn jaeger_corrupt_span_is_skipped_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(fixture_bytes("scenario.jaeger.json")).unwrap();
    let bad = text.replacen(r#""spanID": "b9c7c989f97918e1""#, r#""spanID": 42"#, 1);
    let line = line_of(&bad, r#""spanID": 42"#);
    let path = write(dir.path(), "jaeger.json", bad.as_bytes());
    let read = read_all(std::slice::from_ref(&path));
    let r = &read.report;
    assert_eq!((r.spans, r.skipped), (6, 1), "{:?}", r.problems);
    let p = problem(&r.problems, &format!("{}:{line}: ", path.display()));
    assert!(p.contains("Jaeger span"), "{p}");
}

#[test]
fn zipkin_corrupt_span_is_skipped_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(fixture_bytes("scenario.zipkin.json")).unwrap();
    let bad = text.replacen(r#""duration": 5000"#, r#""duration": {"ms": 5}"#, 1);
    let line = line_of(&bad, r#""duration": {"ms": 5}"#);
    let path = write(dir.path(), "zipkin.json", bad.as_bytes());
    let read = read_all(std::slice::from_ref(&path));
    let r = &read.report;
    assert_eq!((r.spans, r.skipped), (6, 1), "{:?}", r.problems);
    problem(&r.problems, &format!("{}:{line}: Zipkin span", path.display()));
}

#[test]
fn empty_files_are_noted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty", b"");
    let blank = write(dir.path(), "blank", b" \n\n\t\n");
    let empty_gz = write(dir.path(), "empty.gz", &gzip(b""));
    let read = read_all(&[empty.clone(), blank.clone(), empty_gz, fixture("scenario.otlp.jsonl")]);
    let r = &read.report;
    assert_eq!((r.files, r.empty_files, r.records, r.skipped), (4, 3, 3, 0));
    assert_eq!(read.spans.len(), 7);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    problem(&r.notes, &format!("{}: empty file", empty.display()));
    problem(&r.notes, &format!("{}: empty file", blank.display()));
    assert!(!r.is_empty());

    assert!(read_all(&[empty, blank]).report.is_empty());
}

#[test]
fn unknown_content_is_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let junk = write(dir.path(), "notes.jsonl", b"hello, these are not spans\n");
    let read = read_all(&[junk.clone(), fixture("scenario.zipkin.json")]);
    assert_eq!((read.report.skipped, read.report.spans), (1, 7));
    let p = problem(&read.report.problems, &format!("{}: ", junk.display()));
    assert!(p.contains("not a trace file"), "{p}");
    assert_eq!(read.report.sources[0].format, None);
}

#[test]
fn nothing_readable_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let junk = write(dir.path(), "junk", b"{\"resourceSpans\": nope}\n");
    let r = read_all(&[junk]).report;
    assert!(r.is_empty());
    assert_eq!(r.skipped, 1);
}

#[test]
fn a_missing_path_is_an_error() {
    let missing = std::path::PathBuf::from("/nonexistent/hopscope/traces.jsonl");
    match try_read(&[missing]) {
        Err(ReadError::Io { path, .. }) => assert!(path.ends_with("traces.jsonl")),
        Ok(_) => panic!("a missing file read"),
    }
}
