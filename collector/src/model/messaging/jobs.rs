//! Job queues: Celery and BullMQ. The event is the task or job name, so the destination is
//! `<queue>:<task>` (the task alone when the queue is not said); the message id is the task
//! id (Celery, on both sides) or `<queue>/<job id>` (BullMQ job ids count per queue).
//!
//! - Celery (`opentelemetry-instrumentation-celery`): `apply_async/<task>` PRODUCER and
//!   `run/<task>` CONSUMER, `messaging.destination` = the routing key (queue), no
//!   `messaging.system`.
//! - BullMQ (built-in telemetry, ≥5.22): `add <queue>.<job>` / `addBulk <queue>` PRODUCER,
//!   `process <queue>` CONSUMER, only `bullmq.*` attributes; the worker's own spans
//!   (`getNextJob`, `extendLocks`, ...) are not messaging.

use super::super::span::{Event, KeyValue, find_attr};
use super::{Draft, Keys, Messaging, MessagingOp, text_of};

/// Splits a Celery span name: `apply_async/<task>` (send) or `run/<task>` (process).
fn celery_name(name: &str) -> Option<(MessagingOp, &str)> {
    if let Some(task) = name.strip_prefix("apply_async/") {
        Some((MessagingOp::Send, task))
    } else {
        name.strip_prefix("run/").map(|task| (MessagingOp::Process, task))
    }
}

/// `celery` or `bullmq` when the span is one of theirs.
pub(super) fn system_of(attrs: &[KeyValue], name: &str, keys: &Keys) -> Option<&'static str> {
    if find_attr(attrs, keys.bullmq_queue).is_some() {
        Some("bullmq")
    } else if celery_name(name).is_some() || find_attr(attrs, keys.celery_task).is_some() {
        Some("celery")
    } else {
        None
    }
}

/// Whether a consumer span records a failed attempt its status does not say. BullMQ's
/// worker (`Worker.handleFailed`, bullmq 6) adds the event `job failed`
/// (`bullmq.job.failed.reason`) to the `process <queue>` span when the job's processor
/// throws and leaves the status unset. The semantic conventions' "Recording errors" counts
/// an operation that throws as failed (its span's status SHOULD be Error); a retried job is
/// a new span, so the failed attempt's span is an error. A bare `exception` event is not
/// read as one: the exception may have been handled, and the status is the span's word.
pub(super) fn failed_attempt(m: &Messaging, events: &[Event], keys: &Keys) -> bool {
    m.system == keys.bullmq
        && m.operation.is_consumer()
        && events.iter().any(|e| e.name == keys.bullmq_job_failed)
}

/// Refines a job-queue span; `false` when it is not a message (a BullMQ worker's own span).
pub(super) fn refine(d: &mut Draft<'_>, system: &str, keys: &Keys) -> bool {
    let text = |k| find_attr(d.attrs, k).and_then(text_of);
    if system == "celery" {
        let named = celery_name(d.name);
        if let Some((op, _)) = named {
            d.name_op = Some(op);
        }
        let task = text(keys.celery_task).or(named.map(|(_, t)| t));
        let queue = d.destination.take().filter(|q| !q.is_empty());
        d.event = task.map(str::to_owned);
        d.destination = match (queue, task) {
            (Some(q), Some(t)) => Some(format!("{q}:{t}")),
            (q, t) => q.or(t.map(str::to_owned)),
        };
        return true;
    }
    let Some(queue) = text(keys.bullmq_queue).map(str::to_owned) else {
        return false;
    };
    let op = text(keys.bullmq_operation).unwrap_or_default();
    d.attr_op = Some(match op {
        "add" | "addBulk" | "addNode" | "addFlow" | "retryJobs" => MessagingOp::Send,
        "process" => MessagingOp::Process,
        _ => return false,
    });
    let job = text(keys.bullmq_job).map(str::to_owned).or_else(|| {
        // `add <queue>.<job>`
        d.name
            .split_once(' ')
            .and_then(|(_, rest)| rest.strip_prefix(&format!("{queue}.")))
            .map(str::to_owned)
    });
    if let Some(id) = text(keys.bullmq_job_id) {
        d.message_id = Some(format!("{queue}/{id}").into_boxed_str());
    }
    d.group.get_or_insert_with(|| queue.clone());
    d.event.clone_from(&job);
    d.destination = Some(match job {
        Some(job) => format!("{queue}:{job}"),
        None => queue,
    });
    true
}
