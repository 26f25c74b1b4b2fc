//! Directories: the files in a directory are read in name order, which is the order the
//! OpenTelemetry Collector file exporter's rotation names them (`traces-<time>.json` before
//! the current `traces.json`), whatever their formats; hidden files and subdirectories are
//! left out; several paths are read in the order given.

mod formats_support;

use formats_support::{
    gzip, length_prefixed, read_all, scenario_lines, scenario_messages, write, zstd,
};

#[test]
fn rotated_files_are_read_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let lines = scenario_lines();
    let messages = scenario_messages();
    // Written out of order, in three formats: the gateway's spans are the oldest.
    write(dir.path(), "traces.json", &[lines[2].as_slice(), b"\n"].concat());
    write(
        dir.path(),
        "traces-2024-05-01T11-00-00.000.json",
        &zstd(&length_prefixed(&messages[1..2])),
    );
    write(dir.path(), "traces-2024-05-01T10-00-00.000.json", &gzip(&lines[0]));
    write(dir.path(), ".traces.json.swp", b"not read");
    std::fs::create_dir(dir.path().join("old")).unwrap();
    write(&dir.path().join("old"), "traces.json", &lines[0]);

    let read = read_all(&[dir.path().to_owned()]);
    let r = &read.report;
    assert!(r.problems.is_empty() && r.notes.is_empty(), "{:?} {:?}", r.problems, r.notes);
    assert_eq!((r.files, r.spans), (3, 7));
    let names: Vec<_> = r
        .sources
        .iter()
        .map(|s| s.name.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "traces-2024-05-01T10-00-00.000.json",
            "traces-2024-05-01T11-00-00.000.json",
            "traces.json"
        ]
    );
    let services: Vec<_> = read.spans.iter().map(|s| read.service(s)).collect();
    assert_eq!(
        services,
        ["gateway", "gateway", "orders", "orders", "orders", "payments", "payments"]
    );
}

#[test]
fn paths_are_read_in_the_order_given() {
    let dir = tempfile::tempdir().unwrap();
    let lines = scenario_lines();
    let b = write(dir.path(), "b", &lines[0]);
    let a = write(dir.path(), "a", &lines[2]);
    let read = read_all(&[b, a]);
    let services: Vec<_> = read.spans.iter().map(|s| read.service(s)).collect();
    assert_eq!(services, ["gateway", "gateway", "payments", "payments"]);
}

#[test]
fn an_empty_directory_is_noted() {
    let dir = tempfile::tempdir().unwrap();
    let read = read_all(&[dir.path().to_owned()]);
    assert!(read.report.is_empty());
    assert!(read.report.notes[0].ends_with("no files in directory"), "{:?}", read.report.notes);
}
