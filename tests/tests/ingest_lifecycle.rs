//! The server's life: SIGTERM stops it as cleanly as SIGINT (exit 0, complete recording,
//! final stats line); settings come from flag > `HOPSCOPE_*` env > `--config` file, checked
//! through what the server actually does (the ports it listens on, whether stats lines come).

use std::path::Path;
use std::time::Duration;

use hopscope_tests::{
    Serve, ServeCommand, free_ports, post, proto_batch, proto_traces, read_recording,
};
use prost::Message as _;

#[test]
fn sigterm_stops_with_exit_0_and_a_complete_recording() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rec.jsonl");
    // A slow stats interval: the stop must not depend on a tick.
    let mut serve = ServeCommand::new()
        .args(&["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--stats-interval", "1h"])
        .args(&["--record", path.to_str().expect("UTF-8 path")])
        .start();
    for i in 0..10 {
        let body = proto_traces("svc", proto_batch(1, i * 50, 50, "span")).encode_to_vec();
        let resp = post(&serve.http_url("/v1/traces"), "application/x-protobuf", i % 2 == 0, &body);
        assert_eq!(resp.status(), 200);
    }
    let status = serve.stop_with("TERM");
    assert!(status.success(), "{status}: {:?}", serve.stderr_lines());
    assert!(serve.stderr_lines().iter().any(|l| l == "hopscope: shutting down"));
    let last = serve.last_stats().expect("a final stats line on stop");
    assert_eq!((last.received, last.stored), (500, 500), "{last:?}");
    let recorded = read_recording(&path);
    assert_eq!(recorded.len(), 500);
    let ids: std::collections::BTreeSet<_> =
        recorded.iter().map(hopscope_tests::RecordedSpan::span_id).collect();
    assert_eq!(ids.len(), 500);
}

#[test]
fn stop_without_traffic_leaves_an_empty_recording() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rec.jsonl");
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 path")]);
    assert!(serve.stop().success());
    assert_eq!(std::fs::read_to_string(&path).expect("recording exists"), "");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the recording is private to its owner");
    }
}

fn write_config(dir: &Path, grpc: u16, http: u16, stats_interval: &str) -> String {
    let path = dir.join("hopscope.toml");
    std::fs::write(
        &path,
        format!(
            "grpc = \"127.0.0.1:{grpc}\"\nhttp = \"127.0.0.1:{http}\"\nstats-interval = \"{stats_interval}\"\n"
        ),
    )
    .expect("write config");
    path.to_str().expect("UTF-8 path").to_owned()
}

#[test]
fn config_file_sets_ports_and_stats_interval() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = free_ports(2);
    let config = write_config(dir.path(), ports[0], ports[1], "100ms");
    let mut serve = ServeCommand::new().args(&["--config", &config]).start();
    assert_eq!((serve.grpc_addr.port(), serve.http_addr.port()), (ports[0], ports[1]));
    // Stats lines come (the interval is not timed here; see config_file_values_are_read).
    serve.wait_for_stats(|_| true, Duration::from_secs(10));
    assert!(serve.stop().success());
}

#[test]
fn env_overrides_the_config_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = free_ports(3);
    // The file says an hour between stats lines; the env says 100 ms.
    let config = write_config(dir.path(), ports[0], ports[1], "1h");
    let mut serve = ServeCommand::new()
        .args(&["--config", &config])
        .env("HOPSCOPE_HTTP", &format!("127.0.0.1:{}", ports[2]))
        .env("HOPSCOPE_STATS_INTERVAL", "100ms")
        .start();
    assert_eq!(serve.grpc_addr.port(), ports[0], "gRPC from the file");
    assert_eq!(serve.http_addr.port(), ports[2], "HTTP from the env, over the file");
    serve.wait_for_stats(|_| true, Duration::from_secs(10));
    assert!(serve.stop().success());
}

#[test]
fn flags_override_env_and_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = free_ports(5);
    let config = write_config(dir.path(), ports[0], ports[1], "1h");
    let mut serve = ServeCommand::new()
        .args(&["--config", &config])
        .args(&["--grpc", &format!("127.0.0.1:{}", ports[3])])
        .args(&["--stats-interval", "100ms"])
        .env("HOPSCOPE_GRPC", &format!("127.0.0.1:{}", ports[2]))
        .env("HOPSCOPE_HTTP", &format!("127.0.0.1:{}", ports[4]))
        .env("HOPSCOPE_STATS_INTERVAL", "1h")
        .start();
    assert_eq!(serve.grpc_addr.port(), ports[3], "gRPC from the flag, over env and file");
    assert_eq!(serve.http_addr.port(), ports[4], "HTTP from the env, over the file");
    serve.wait_for_stats(|_| true, Duration::from_secs(10));
    assert!(serve.stop().success());
}

#[test]
fn config_file_path_from_env() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = free_ports(2);
    let config = write_config(dir.path(), ports[0], ports[1], "100ms");
    let mut serve = ServeCommand::new().env("HOPSCOPE_CONFIG", &config).start();
    assert_eq!((serve.grpc_addr.port(), serve.http_addr.port()), (ports[0], ports[1]));
    assert!(serve.stop().success());
}

/// A bad value in the file stops the server with a message naming the key: the file's
/// stats interval (and every other key) is really read.
#[test]
fn config_file_values_are_read_and_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), 0, 0, "soon");
    let (status, stderr) = ServeCommand::new().args(&["--config", &config]).run_expecting_failure();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("stats_interval") && stderr.contains("soon"), "{stderr}");

    // A flag wins over the bad file value, so the server starts.
    let mut serve =
        ServeCommand::new().args(&["--config", &config, "--stats-interval", "100ms"]).start();
    serve.wait_for_stats(|_| true, Duration::from_secs(10));
    assert!(serve.stop().success());

    // So does an env value.
    let mut serve = ServeCommand::new()
        .args(&["--config", &config])
        .env("HOPSCOPE_STATS_INTERVAL", "100ms")
        .start();
    serve.wait_for_stats(|_| true, Duration::from_secs(10));
    assert!(serve.stop().success());
}

/// `--max-memory` bounds the store: past it, spans are evicted and counted, and every span
/// received is either stored or evicted.
#[test]
fn max_memory_evicts_and_counts() {
    let mut serve = Serve::start(&["--max-memory", "256KiB"]);
    for trace in 0..40_u8 {
        let body =
            proto_traces("svc", proto_batch(trace + 1, 0, 50, "a span named at some length"))
                .encode_to_vec();
        let resp = post(&serve.http_url("/v1/traces"), "application/x-protobuf", false, &body);
        assert_eq!(resp.status(), 200);
    }
    assert!(serve.stop().success());
    let last = serve.last_stats().expect("final stats");
    assert_eq!(last.received, 2000, "{last:?}");
    assert!(last.evicted > 0, "256 KiB cannot hold 2000 spans: {last:?}");
    assert!(last.stored > 0, "{last:?}");
    assert_eq!(last.stored + last.evicted, last.received, "{last:?}");
}

/// Batches still queued for a slow engine when the signal comes are processed and recorded
/// before the server exits.
#[test]
fn queued_batches_are_recorded_before_exit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rec.jsonl");
    let mut serve = Serve::start(&[
        "--record",
        path.to_str().expect("UTF-8 path"),
        "--debug-engine-delay",
        "200ms",
    ]);
    for i in 0..5 {
        let body = proto_traces("svc", proto_batch(4, i * 20, 20, "queued")).encode_to_vec();
        let resp = post(&serve.http_url("/v1/traces"), "application/x-protobuf", false, &body);
        assert_eq!(resp.status(), 200);
    }
    assert!(serve.stop().success(), "{:?}", serve.stderr_lines());
    assert_eq!(read_recording(&path).len(), 100);
    assert_eq!(serve.last_stats().map(|s| s.stored), Some(100));
}

/// A signal sent the moment the listen lines appear stops the server cleanly (exit 0, final
/// stats line): the handlers are installed before the server says it listens.
#[test]
fn signal_right_after_listening_stops_cleanly() {
    for (i, signal) in ["INT", "TERM"].iter().cycle().take(12).enumerate() {
        let mut serve = Serve::start(&[]);
        let status = serve.stop_with(signal);
        assert!(status.success(), "round {i}, SIG{signal}: {status}: {:?}", serve.stderr_lines());
        assert!(serve.last_stats().is_some(), "round {i}: no final stats line");
    }
}
