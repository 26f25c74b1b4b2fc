//! The harness itself: the server starts, reports stats and stops cleanly.

use std::time::Duration;

use hopscope_tests::Serve;

#[test]
fn serve_starts_reports_stats_and_stops_on_sigint() {
    let mut serve = Serve::start(&[]);
    assert_ne!(serve.grpc_addr.port(), 0);
    assert_ne!(serve.http_addr.port(), 0);
    let stats = serve.wait_for_stats(|s| s.rss_bytes > 0, Duration::from_secs(10));
    assert_eq!(stats.received, 0);
    let status = serve.stop();
    assert!(status.success(), "{status:?}: {:?}", serve.stderr_lines());
}
