//! Cloud queues and topics: AWS SQS and SNS, GCP Pub/Sub, Azure Service Bus and Event Hubs.
//!
//! - SQS: `messaging.system` `aws_sqs` (old JS SDK instrumentation: `aws.sqs`), the queue
//!   name (a queue URL is cut to its last segment; `aws.sqs.queue.url` when no name).
//! - SNS: `aws.sns`; topics are named by ARN (`arn:aws:sns:<region>:<account>:<topic>`):
//!   the destination is the topic name. The Java agent's SNS publish is a CLIENT span
//!   `Sns.Publish` with only `aws.sns.topic.arn`: a send.
//! - GCP Pub/Sub: producers name the topic, consumers (`<subscription> subscribe`) the
//!   subscription: the consumer's destination is also its subscription.
//! - Azure Service Bus / Event Hubs: the SDK names spans `ServiceBusSender.Send`,
//!   `ServiceBusProcessor.ProcessMessage`, `ServiceBusReceiver.Receive`,
//!   `EventHubProducerClient.Send`, `EventProcessor.Process`, ...; a Service Bus topic
//!   subscription is the path `<topic>/Subscriptions/<subscription>`.

use super::super::span::{KeyValue, SpanKind, find_attr};
use super::{Draft, Keys, MessagingOp, text_of};

/// `aws.sns` or `servicebus`/`eventhubs` when only the span's name or an AWS attribute says.
pub(super) fn system_of(attrs: &[KeyValue], name: &str, keys: &Keys) -> Option<&'static str> {
    if find_attr(attrs, keys.sns_topic_arn).is_some() {
        Some("aws.sns")
    } else if find_attr(attrs, keys.sqs_queue_url).is_some() {
        Some("aws_sqs")
    } else if name.starts_with("ServiceBus") {
        Some("servicebus")
    } else if name.contains("EventHubProducerClient.") || name.contains("EventProcessor") {
        Some("eventhubs")
    } else {
        None
    }
}

/// The operation an Azure SDK span name says.
fn azure_op(name: &str) -> Option<MessagingOp> {
    let (_, method) = name.rsplit_once('.')?;
    Some(match method {
        "Send" | "Schedule" => MessagingOp::Send,
        "Receive" | "ReceiveDeferred" => MessagingOp::Receive,
        "ProcessMessage" | "ProcessSessionMessage" | "Process" => MessagingOp::Process,
        "Complete" | "Abandon" | "DeadLetter" | "Defer" | "RenewMessageLock" | "Peek" => {
            MessagingOp::Settle
        }
        _ => return None,
    })
}

/// Refines a span of any other system; returns the system's one spelling.
pub(super) fn refine<'a>(d: &mut Draft<'a>, system: &'a str, keys: &Keys) -> &'a str {
    match system {
        "aws_sqs" | "aws.sqs" => {
            let named = d.destination.take().or_else(|| {
                find_attr(d.attrs, keys.sqs_queue_url).and_then(text_of).map(str::to_owned)
            });
            d.destination = named.map(|q| match q.rsplit_once('/') {
                Some((_, last)) if q.contains("://") => last.to_owned(),
                _ => q,
            });
            "aws_sqs"
        }
        "aws.sns" => {
            let arn = find_attr(d.attrs, keys.sns_topic_arn).and_then(text_of).map(str::to_owned);
            let named = d.destination.take().or(arn);
            d.destination = named.map(|t| match t.rsplit_once(':') {
                Some((_, topic)) if t.starts_with("arn:") => topic.to_owned(),
                _ => t,
            });
            if d.name.ends_with(".Publish") || d.name.ends_with(".PublishBatch") {
                d.name_op = Some(MessagingOp::Send);
            }
            "aws.sns"
        }
        "gcp_pubsub" => {
            if d.name.ends_with(" subscribe") && d.kind == SpanKind::Consumer {
                d.attr_op.get_or_insert(MessagingOp::Receive);
                if d.group.is_none() {
                    d.group = d.destination.clone();
                }
            }
            "gcp_pubsub"
        }
        "servicebus" | "eventhubs" => {
            if let Some(op) = azure_op(d.name) {
                d.name_op = Some(op);
                d.name_destination = None;
            }
            if d.name == "Message" && d.kind == SpanKind::Producer {
                d.name_op = Some(MessagingOp::Create);
            }
            if let Some(dest) = d.destination.take() {
                // A dead-letter sub-queue is a destination of its own.
                let (path, dlq) = match dest.strip_suffix("/$DeadLetterQueue") {
                    Some(path) => (path, "/$DeadLetterQueue"),
                    None => (dest.as_str(), ""),
                };
                d.destination = Some(match path.split_once("/Subscriptions/") {
                    Some((topic, sub)) => {
                        if d.group.is_none() {
                            d.group = Some(sub.to_owned());
                        }
                        format!("{topic}{dlq}")
                    }
                    None => format!("{path}{dlq}"),
                });
            }
            system
        }
        other => other,
    }
}
