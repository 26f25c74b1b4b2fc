//! Celery on RabbitMQ, for real: Debian's `rabbitmq-server` as the broker (no result
//! backend), Celery 5.7 workers under `opentelemetry-instrumentation-celery` 0.66b1 and the
//! OpenTelemetry SDK, exporting OTLP/HTTP to `hopscope serve --record`; then `hopscope
//! analyze --format json`. The program is `tests/python/celery_system.py`; what the
//! instrumentation writes is in `tests/instrumentations.md` §3c.

use hopscope_collector::analysis::{FlowStatus, Hop, HopVia, LagStatus};
use hopscope_tests::systems::{Broker, destination_nodes, lag_row, run_python};
use hopscope_tests::{RecordedSpan, as_str};

#[test]
fn celery_tasks_on_rabbitmq() {
    let broker = Broker::shared();
    let (a, spans) = run_python(
        "celery_system.py",
        &broker,
        "worker",
        &[
            // `mailer` takes 50 ms a task, so its queue backs up; `imaging` links (not
            // parents) its `run` spans to the `apply_async` ones.
            ("mailer", vec![("QUEUES", "celery"), ("EXPECT", "10"), ("DELAY_MS", "50")]),
            ("imaging", vec![("QUEUES", "images"), ("EXPECT", "5"), ("LINKS", "1")]),
        ],
        &("web", vec![("WELCOMES", "10"), ("IMAGES", "5"), ("CLEANUPS", "2")]),
    );
    // Destination nodes: `celery:<queue>:<task>`; nobody reads `maintenance`.
    assert_eq!(
        destination_nodes(&a),
        [
            "celery:celery:shop.send_welcome",
            "celery:images:shop.resize_image",
            "celery:maintenance:shop.cleanup"
        ],
        "{:#?}",
        a.graph
    );
    // The task id is the message id on both sides.
    let id = |s: &RecordedSpan| s.attr("messaging.message.id").and_then(as_str).map(str::to_owned);
    let sent: Vec<_> = spans.iter().filter(|s| s.span.name.starts_with("apply_async/")).collect();
    let ran: Vec<_> = spans.iter().filter(|s| s.span.name.starts_with("run/")).collect();
    assert_eq!((sent.len(), ran.len()), (17, 15));
    for r in &ran {
        let task = r.span.name.trim_start_matches("run/");
        assert!(
            sent.iter().any(|s| s.span.name == format!("apply_async/{task}") && id(s) == id(r)),
            "no apply_async/{task} with the task id {:?}",
            id(r)
        );
    }
    let hops: Vec<&Hop> = a.hops.iter().collect();
    assert_eq!(hops.len(), 15, "one hop per task run: {hops:#?}");
    for h in &hops {
        let task = h.consumer.name.trim_start_matches("run/");
        assert_eq!(h.producer.name.as_ref() as &str, format!("apply_async/{task}"));
        let (via, destination, group) = match task {
            "shop.send_welcome" => (HopVia::Parent, "celery:shop.send_welcome", "mailer"),
            _ => (HopVia::Link, "images:shop.resize_image", "imaging"),
        };
        assert_eq!(
            (h.via, &*h.system, &*h.destination, &*h.consumer_group),
            (via, "celery", destination, group),
            "{h:#?}"
        );
    }
    assert_eq!(hops.iter().filter(|h| h.via == HopVia::Link).count(), 5);
    assert_eq!(a.flows.len(), 17, "a linked run/ trace joins its publisher's flow");
    assert!(a.flows.iter().all(|f| f.status == FlowStatus::Ok), "{:#?}", a.flows);
    for f in &a.flows {
        let want: &[&str] = match &*f.root.name {
            "POST /signup" => &["mailer", "web"],
            "POST /images" => &["imaging", "web"],
            _ => &["web"],
        };
        assert_eq!(f.services, want, "{f:#?}");
    }
    let row = |dest: &str, group: Option<&str>| lag_row(&a, dest, group);
    assert_eq!(a.lag.len(), 3, "{:#?}", a.lag);
    let cleanup = row("maintenance:shop.cleanup", None);
    assert_eq!((cleanup.status, cleanup.unconsumed), (LagStatus::NoConsumer, 2));
    let (welcome, resize) = (
        row("celery:shop.send_welcome", Some("mailer")),
        row("images:shop.resize_image", Some("imaging")),
    );
    assert_eq!((welcome.consumed, welcome.unconsumed), (10, 0));
    assert_eq!((resize.consumed, resize.unconsumed), (5, 0));
    assert!(
        welcome.p95_ns > 2 * resize.p95_ns,
        "mailer's tasks wait behind each other: {welcome:#?} {resize:#?}"
    );
}
