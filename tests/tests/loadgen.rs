//! The load generator against the real collector: what it says it sent is what arrived.

use std::process::Command;

use hopscope_tests::Serve;

fn loadgen(endpoint: &str, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--endpoint", endpoint, "--duration", "1s", "--concurrency", "2"])
        .args(["--spans-per-request", "60", "--json"])
        .args(extra)
        .output()
        .expect("run loadgen");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("loadgen --json prints one object")
}

#[test]
fn loadgen_counts_match_what_the_collector_received() {
    let mut serve = Serve::start(&[]);
    let grpc = loadgen(&format!("grpc://{}", serve.grpc_addr), &["--rate", "5000"]);
    let http = loadgen(&format!("http://{}", serve.http_addr), &["--gzip"]);
    for report in [&grpc, &http] {
        for key in ["accepted", "refused", "spans_per_sec", "p50_ms", "p99_ms"] {
            assert!(report.get(key).is_some(), "{key} missing in {report}");
        }
        assert!(report["accepted"].as_u64().unwrap() > 0, "{report}");
        assert_eq!(report["refused"], 0, "{report}");
        assert_eq!(report["failed"], 0, "{report}");
    }
    // Paced at 5000 spans/s for a second: not a flood.
    assert!(grpc["accepted"].as_u64().unwrap() <= 7_000, "{grpc}");
    let sent = grpc["accepted"].as_u64().unwrap() + http["accepted"].as_u64().unwrap();
    assert!(serve.stop().success());
    let last = serve.last_stats().expect("final stats line");
    // Every request carried new traces (re-salted ids): nothing merged as a resend.
    assert_eq!((last.received, last.stored), (sent, sent), "{last:?}");
}

#[test]
fn loadgen_explains_its_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && help.contains("--spans-per-request"), "{help}");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--endpoint is required"));
}
