//! BullMQ on Redis, for real: Debian's `redis-server`, bullmq 6.7 with its built-in
//! telemetry through `bullmq-otel` 2.0 (the `telemetry` option of Queue and Worker) under the
//! OpenTelemetry NodeSDK, exporting OTLP/gRPC to `hopscope serve --record`; then `hopscope
//! analyze --format json`. The program is `tests/node/bullmq.js`; what BullMQ writes is in
//! `tests/instrumentations.md` §2.

use std::time::Duration;

use hopscope_collector::analysis::{FlowStatus, Hop, HopVia, InsightKind, LagStatus};
use hopscope_tests::Serve;
use hopscope_tests::systems::{Redis, Service, analyze, destination_nodes, lag_row, node_dir};

const RUN: Duration = Duration::from_secs(120);

#[test]
fn bullmq_jobs_on_redis() {
    let redis = Redis::start();
    let node = node_dir();
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("bullmq.jsonl");
    let mut serve = Serve::start(&["--record", path.to_str().expect("UTF-8 path")]);
    let otlp = serve.grpc_endpoint();
    let env = |more: &[(&'static str, &'static str)]| {
        let mut env = vec![("REDIS_URL", redis.url.as_str())];
        env.extend_from_slice(more);
        env
    };
    // `mailer` takes 30 ms a job; the first attempt of every `receipt` job fails.
    let mut mailer = Service::node(
        &node,
        &["bullmq.js", "worker"],
        "mailer",
        &otlp,
        &env(&[("QUEUE", "emails"), ("EXPECT", "15"), ("DELAY_MS", "30"), ("FAIL_JOB", "receipt")]),
    );
    mailer.wait_for_line("ready", RUN);
    Service::node(
        &node,
        &["bullmq.js", "producer"],
        "api",
        &otlp,
        &env(&[("WELCOMES", "10"), ("RECEIPTS", "5"), ("REPORTS", "2")]),
    )
    .wait_success(RUN);
    mailer.wait_success(RUN);
    std::thread::sleep(Duration::from_millis(500));
    let status = serve.stop();
    assert!(status.success(), "{status}: {:?}", serve.stderr_lines());
    let a = analyze(&path);
    // The event is the job name: destination node `bullmq:<queue>:<job>`.
    assert_eq!(
        destination_nodes(&a),
        ["bullmq:emails:receipt", "bullmq:emails:welcome", "bullmq:reports:monthly"],
        "{:#?}",
        a.graph
    );
    let hops: Vec<&Hop> = a.hops.iter().collect();
    // One hop per attempt: ten welcomes, five receipts twice.
    assert_eq!(hops.len(), 20, "{hops:#?}");
    for h in &hops {
        let job = h.destination.strip_prefix("emails:").expect("a job of `emails`");
        assert_eq!(
            (h.via, &*h.system, &*h.consumer_group, &*h.consumer.service),
            (HopVia::Parent, "bullmq", "emails", "mailer"),
            "{h:#?}"
        );
        assert_eq!(
            (&*h.producer.name, &*h.consumer.name),
            (format!("add emails.{job}").as_str(), "process emails")
        );
    }
    let count = |dest: &str| hops.iter().filter(|h| &*h.destination == dest).count();
    assert_eq!((count("emails:welcome"), count("emails:receipt")), (10, 10));
    let requests: Vec<_> = a.flows.iter().filter(|f| f.root.name.starts_with("POST ")).collect();
    assert_eq!(requests.len(), 17, "{:#?}", a.flows);
    for f in &requests {
        let want: &[&str] =
            if &*f.root.name == "POST /reports" { &["api"] } else { &["api", "mailer"] };
        assert_eq!(f.services, want, "{f:#?}");
        assert_eq!(f.status, FlowStatus::Ok, "{f:#?}");
    }
    let row = |dest: &str, group: Option<&str>| lag_row(&a, dest, group);
    assert_eq!(a.lag.len(), 3, "{:#?}", a.lag);
    let monthly = row("reports:monthly", None);
    assert_eq!((monthly.status, monthly.unconsumed), (LagStatus::NoConsumer, 2));
    for dest in ["emails:welcome", "emails:receipt"] {
        let l = row(dest, Some("emails"));
        assert_eq!((l.consumed, l.unconsumed), (10, 0), "{l:#?}");
        assert_eq!(l.consumer_services, ["mailer"]);
    }
    // A retried job is processed twice: a duplicate delivery each.
    let dups: Vec<_> =
        a.insights.iter().filter(|i| i.kind == InsightKind::DuplicateDelivery).collect();
    assert_eq!(dups.len(), 5, "{dups:#?}");
    assert!(dups.iter().all(|i| i.detail.contains("bullmq:emails:receipt")), "{dups:#?}");
}
