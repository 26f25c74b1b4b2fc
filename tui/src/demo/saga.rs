//! The order saga, orchestrated by `orders` over RabbitMQ: reserve inventory → charge
//! payment → create shipment. Each step is a command to a participant's queue (consumed as
//! a child of the command), an INTERNAL step span carrying the `saga.*` attributes
//! (DESIGN.md §4), and a reply to `orders.saga-replies`, which the orchestrator consumes in
//! a new trace linked to the reply. The saga's id and name travel in W3C baggage.
//!
//! Outcomes: most complete; a declined payment or a failed shipment runs the compensations
//! of the steps done, in reverse order; a compensation can fail (the saga fails); and a
//! reply can be lost (the saga is stuck: its last span is an action whose reply is never
//! consumed).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hopscope_collector::fake::Rng;
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::trace::{Status, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};

use super::broker::{
    Destination, INVENTORY_COMMANDS, Message, PAYMENTS_COMMANDS, Publish, SAGA_REPLIES,
    SHIPPING_COMMANDS,
};
use super::clock::{NET, ms};
use super::scenarios::{Delivery, World};
use super::shop::{Service, Side, fail, http_status};

/// `saga.name` of the order saga.
pub const SAGA_NAME: &str = "OrderSaga";

/// How one order saga ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SagaOutcome {
    /// All three steps succeed.
    Completed,
    /// The card is declined: inventory is released.
    PaymentDeclined,
    /// No carrier takes the parcel: the payment is refunded, then inventory released.
    ShipmentFailed,
    /// The shipment fails and so does the refund: the saga fails.
    CompensationFailed,
    /// The reply of step `n` (0-based) is never consumed: the saga is stuck.
    ReplyLost(usize),
}

/// A step of the saga: its action, the compensation that undoes it, who does both.
#[derive(Debug)]
struct Step {
    action: &'static str,
    compensation: &'static str,
    service: Service,
    commands: Destination,
}

const STEPS: [Step; 3] = [
    Step {
        action: "reserve-inventory",
        compensation: "release-inventory",
        service: Service::Inventory,
        commands: INVENTORY_COMMANDS,
    },
    Step {
        action: "charge-payment",
        compensation: "refund-payment",
        service: Service::Payments,
        commands: PAYMENTS_COMMANDS,
    },
    Step {
        action: "create-shipment",
        compensation: "cancel-shipment",
        service: Service::Shipping,
        commands: SHIPPING_COMMANDS,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Action,
    Compensation,
}

/// One step execution: which step, action or compensation, and whether it fails.
type Planned = (usize, Kind, bool);

/// The steps an outcome executes, in order, and the saga's final state (`None`: stuck).
fn plan(outcome: SagaOutcome) -> (Vec<Planned>, Option<&'static str>) {
    use Kind::{Action as A, Compensation as C};
    match outcome {
        SagaOutcome::Completed => {
            (vec![(0, A, false), (1, A, false), (2, A, false)], Some("completed"))
        }
        SagaOutcome::PaymentDeclined => {
            (vec![(0, A, false), (1, A, true), (0, C, false)], Some("compensated"))
        }
        SagaOutcome::ShipmentFailed => (
            vec![(0, A, false), (1, A, false), (2, A, true), (1, C, false), (0, C, false)],
            Some("compensated"),
        ),
        SagaOutcome::CompensationFailed => {
            (vec![(0, A, false), (1, A, false), (2, A, true), (1, C, true)], Some("failed"))
        }
        SagaOutcome::ReplyLost(n) => ((0..=n.min(2)).map(|i| (i, A, false)).collect(), None),
    }
}

/// `saga.id` and `saga.name` from `cx`'s baggage, as span attributes.
fn saga_tags(cx: &Context) -> Vec<KeyValue> {
    ["saga.id", "saga.name"]
        .into_iter()
        .filter_map(|key| cx.baggage().get(key).map(|v| KeyValue::new(key, v.as_str().to_owned())))
        .collect()
}

/// `POST /orders/{id}/fulfil`: orders answers 202 and runs the saga.
pub async fn order_saga(w: Arc<World>, mut rng: Rng, t0: SystemTime, outcome: SagaOutcome) {
    let order = w.new_order_id();
    let path = format!("/orders/{order}/fulfil");
    let edge = w.shop.edge_request("POST", "/orders/{id}/fulfil", &path, t0);
    let mut t = t0 + rng.latency(ms(1));
    let call = w.shop.http_call(
        &edge,
        Service::Gateway,
        Service::Orders,
        "POST",
        "/orders/{id}/fulfil",
        &path,
        t,
    );
    // The orchestrator names the saga in baggage; every command and reply carries it.
    let mut orchestrator = call.server.with_baggage([
        KeyValue::new("saga.id", order.clone()),
        KeyValue::new("saga.name", SAGA_NAME),
    ]);
    t += NET + Duration::from_micros(200);
    let insert =
        w.shop.db_call(&orchestrator, Service::Orders, "postgresql", "INSERT", "saga_instances", t);
    t += rng.latency(ms(3));
    w.end(&insert, t).await;

    let (steps, final_state) = plan(outcome);
    for (n, &(i, kind, fails)) in steps.iter().enumerate() {
        let step = &STEPS[i];
        let (producer, command) = w.publish(
            Service::Orders,
            &orchestrator,
            step.commands,
            // A command is sent to its queue itself (no routing key): point to point.
            Publish { conversation_id: Some(order.clone()), ..Publish::default() },
            t + Duration::from_micros(100),
        );
        producer.span().set_attributes(saga_tags(&orchestrator));
        t += rng.latency(ms(2));
        w.end(&producer, t).await;
        let sent = t;
        t += Duration::from_micros(200);
        if n == 0 {
            t = w.respond(&call, 202, t).await + Duration::from_micros(300);
            http_status(&edge, Side::Server, 202, "");
            w.end(&edge, t).await;
        } else {
            w.end(&orchestrator, t).await;
        }

        let at = sent + rng.latency(ms(6));
        let (reply, replied) = perform(&w, &mut rng, &command, step, kind, n + 1, fails, at).await;
        let last = n + 1 == steps.len();
        if last && final_state.is_none() {
            // The orchestrator never reads this reply: the saga is stuck.
            return;
        }

        let at = replied + rng.latency(ms(6));
        orchestrator = w.consume(Service::Orders, &reply, None, Delivery::Linked, at);
        orchestrator.span().set_attributes(saga_tags(&orchestrator));
        t = at + Duration::from_micros(300);
        if let Some(state) = final_state.filter(|_| last) {
            let update = w.shop.db_call(
                &orchestrator,
                Service::Orders,
                "postgresql",
                "UPDATE",
                "saga_instances",
                t,
            );
            t += rng.latency(ms(3));
            w.end(&update, t).await;
            orchestrator.span().set_attribute(KeyValue::new("saga.state", state));
            if state == "failed" {
                orchestrator.span().set_status(Status::error(format!(
                    "{} failed; order {order} needs manual repair",
                    step_name(step, kind)
                )));
            }
            w.end(&orchestrator, t + Duration::from_micros(200)).await;
        }
    }
}

fn step_name(step: &Step, kind: Kind) -> &'static str {
    match kind {
        Kind::Action => step.action,
        Kind::Compensation => step.compensation,
    }
}

/// A participant handles a saga command that reached it at `at`: the CONSUMER span (child
/// of the command), the step span with the `saga.*` attributes, the work, and the reply.
/// Returns the reply and when it was sent.
#[expect(clippy::too_many_arguments, reason = "one step execution's whole description")]
async fn perform(
    w: &World,
    rng: &mut Rng,
    command: &Message,
    step: &Step,
    kind: Kind,
    index: usize,
    fails: bool,
    at: SystemTime,
) -> (Message, SystemTime) {
    let consumer = w.consume(step.service, command, None, Delivery::Child, at);
    let name = step_name(step, kind);
    let mut attributes = saga_tags(&consumer);
    attributes.push(KeyValue::new("saga.step.name", name));
    attributes.push(KeyValue::new("saga.step.index", index as i64));
    attributes.push(KeyValue::new(
        "saga.step.kind",
        match kind {
            Kind::Action => "action",
            Kind::Compensation => "compensation",
        },
    ));
    if kind == Kind::Compensation {
        attributes.push(KeyValue::new("saga.step.compensates", step.action));
    }
    let mut t = at + Duration::from_micros(300);
    let step_span = w.shop.work(&consumer, step.service, name, attributes, t);
    t += Duration::from_micros(200);

    // The step's work, and how it fails: exception type, message, HTTP status.
    let (work, failure) = match (step.service, kind) {
        (Service::Inventory, _) => {
            let work = w.shop.db_call(&step_span, step.service, "postgresql", "UPDATE", "stock", t);
            t += rng.latency(ms(4));
            (work, None)
        }
        (Service::Payments, Kind::Action) => {
            let work = w.shop.external_call(
                &step_span,
                step.service,
                "POST",
                "api.psp.example",
                "/v1/charges",
                t,
            );
            t += rng.latency(ms(180));
            (work, Some(("CardDeclined", "card declined: insufficient funds", 402)))
        }
        (Service::Payments, Kind::Compensation) => {
            let work = w.shop.external_call(
                &step_span,
                step.service,
                "POST",
                "api.psp.example",
                "/v1/refunds",
                t,
            );
            t += rng.latency(ms(150));
            (work, Some(("RefundRejected", "refund rejected by the payment provider", 502)))
        }
        _ => {
            let route = match kind {
                Kind::Action => "/v2/shipments",
                Kind::Compensation => "/v2/shipments/cancel",
            };
            let work = w.shop.external_call(
                &step_span,
                step.service,
                "POST",
                "api.carrier.example",
                route,
                t,
            );
            t += rng.latency(ms(90));
            (work, Some(("NoCarrier", "no carrier serves the delivery address", 422)))
        }
    };
    match failure {
        Some((_, message, code)) if fails => http_status(&work, Side::Client, code, message),
        Some(_) => http_status(&work, Side::Client, 200, ""),
        None => {}
    }
    w.end(&work, t).await;
    t += Duration::from_micros(200);
    if fails && let Some((exception, message, _)) = failure {
        fail(&step_span, exception, message, t);
    }

    let (producer, reply) = w.publish(
        step.service,
        &step_span,
        SAGA_REPLIES,
        // Replies go to the orchestrator's reply queue itself (no routing key).
        Publish {
            conversation_id: command.conversation_id().map(str::to_owned),
            ..Publish::default()
        },
        t,
    );
    producer.span().set_attributes(saga_tags(&consumer));
    t += rng.latency(ms(2));
    w.end(&producer, t).await;
    let replied = t;
    t += Duration::from_micros(200);
    w.end(&step_span, t).await;
    w.end(&consumer, t + Duration::from_micros(200)).await;
    (reply, replied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensations_undo_done_steps_in_reverse_order() {
        let (steps, state) = plan(SagaOutcome::ShipmentFailed);
        assert_eq!(state, Some("compensated"));
        let compensations: Vec<usize> =
            steps.iter().filter(|s| s.1 == Kind::Compensation).map(|s| s.0).collect();
        assert_eq!(compensations, [1, 0]);
        let (steps, state) = plan(SagaOutcome::PaymentDeclined);
        assert_eq!(
            (steps.last().copied(), state),
            (Some((0, Kind::Compensation, false)), Some("compensated"))
        );
    }

    #[test]
    fn a_lost_reply_ends_the_plan_on_an_action() {
        let (steps, state) = plan(SagaOutcome::ReplyLost(1));
        assert_eq!(state, None);
        assert_eq!(steps.last().copied(), Some((1, Kind::Action, false)));
        let (steps, state) = plan(SagaOutcome::CompensationFailed);
        assert_eq!(
            (steps.last().copied(), state),
            (Some((1, Kind::Compensation, true)), Some("failed"))
        );
    }
}
