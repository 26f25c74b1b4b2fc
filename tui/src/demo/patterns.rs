//! The shop's architecture lessons, each a flow the Architecture screen and the insights
//! name: reporting's nightly job writing orders' own table (a distributed monolith);
//! tracking firing a soup of tiny clickstream events nobody does anything with (event soup);
//! shipping's `ShipmentDispatched` rolled out as v2, which analytics cannot read (event
//! schema chaos); the legacy cancel endpoint calling five services one after another while
//! the customer waits (synchronous fan-out); and the return process, orchestrated by
//! `orders` over command and reply queues, which with the order saga makes `orders`
//! coordinate five services (a god orchestrator).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hopscope_collector::fake::Rng;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, KeyValue};

use super::broker::{
    Destination, LOYALTY_COMMANDS, NOTIFICATIONS_COMMANDS, Publish, RETURN_REPLIES,
    SHIPMENT_EVENTS, TRACKING_EVENTS,
};
use super::clock::{NET, ms};
use super::scenarios::{Delivery, World};
use super::shop::{Service, Side, fail, http_status};

/// Clickstream events per page view.
pub const TRACKING_EVENTS_PER_VIEW: usize = 8;

/// The nightly reconcile job: reporting reads orders' table and rewrites totals in it.
pub async fn reconcile(w: Arc<World>, mut rng: Rng, t0: SystemTime) {
    let job = w.shop.work(
        &Context::new(),
        Service::Reporting,
        "reconcile order totals",
        vec![KeyValue::new("job.schedule", "0 2 * * *")],
        t0,
    );
    let mut t = t0 + Duration::from_micros(300);
    let read = w.shop.db_call(&job, Service::Reporting, "postgresql", "SELECT", "orders", t);
    t += rng.latency(ms(25));
    w.end(&read, t).await;
    t += Duration::from_micros(200);
    let write = w.shop.db_call(&job, Service::Reporting, "postgresql", "UPDATE", "orders", t);
    t += rng.latency(ms(40));
    w.end(&write, t).await;
    w.end(&job, t + Duration::from_micros(200)).await;
}

/// `POST /events`: a page view; tracking sends [`TRACKING_EVENTS_PER_VIEW`] tiny events
/// (`page.scrolled`, `button.hovered`, …) and analytics' handler merely counts each.
pub async fn page_view(w: Arc<World>, mut rng: Rng, t0: SystemTime) {
    const EVENTS: [&str; TRACKING_EVENTS_PER_VIEW] = [
        "page.viewed",
        "page.scrolled",
        "button.hovered",
        "image.zoomed",
        "price.seen",
        "review.expanded",
        "tab.focused",
        "cursor.idle",
    ];
    let edge = w.shop.edge_request("POST", "/events", "/events", t0);
    let mut t = t0 + rng.latency(ms(1));
    let call = w.shop.http_call(
        &edge,
        Service::Gateway,
        Service::Tracking,
        "POST",
        "/events",
        "/events",
        t,
    );
    t += NET + Duration::from_micros(200);
    let mut sent = Vec::with_capacity(EVENTS.len());
    for name in EVENTS {
        let (producer, message) = w.publish(
            Service::Tracking,
            &call.server,
            TRACKING_EVENTS,
            Publish { key: Some(name.to_owned()), with_id: true, ..Publish::default() },
            t,
        );
        producer.span().set_attribute(KeyValue::new("cloudevents.event_type", name));
        t += Duration::from_micros(400);
        w.end(&producer, t).await;
        sent.push((message, t));
    }
    t = w.respond(&call, 202, t + Duration::from_micros(200)).await;
    http_status(&edge, Side::Server, 202, "");
    w.end(&edge, t + Duration::from_micros(200)).await;
    for (message, at) in sent {
        let at = at + rng.latency(ms(8));
        let consumer =
            w.consume(Service::Analytics, &message, Some("clickstream"), Delivery::Linked, at);
        w.end(&consumer, at + rng.latency(Duration::from_micros(400))).await;
    }
}

/// `POST /webhooks/carrier`: the carrier says a parcel left; shipping publishes
/// `ShipmentDispatched` (`v2` once rolled out, with a new field layout) and notifications
/// and analytics consume it. Notifications reads both; analytics, still on v1, fails to
/// deserialize v2.
pub async fn dispatched(w: Arc<World>, mut rng: Rng, t0: SystemTime, v2: bool) {
    let edge = w.shop.edge_request("POST", "/webhooks/carrier", "/webhooks/carrier", t0);
    let mut t = t0 + rng.latency(ms(1));
    let call = w.shop.http_call(
        &edge,
        Service::Gateway,
        Service::Shipping,
        "POST",
        "/webhooks/carrier",
        "/webhooks/carrier",
        t,
    );
    t += NET + Duration::from_micros(200);
    let update =
        w.shop.db_call(&call.server, Service::Shipping, "postgresql", "UPDATE", "shipments", t);
    t += rng.latency(ms(3));
    w.end(&update, t).await;
    let order = w.new_order_id();
    let (producer, message) = w.publish(
        Service::Shipping,
        &call.server,
        SHIPMENT_EVENTS,
        Publish { key: Some(order), with_id: true, ..Publish::default() },
        t + Duration::from_micros(100),
    );
    let version = if v2 { "v2" } else { "v1" };
    producer.span().set_attribute(KeyValue::new(
        "cloudevents.event_type",
        format!("com.shop.shipment.dispatched.{version}"),
    ));
    t += rng.latency(ms(2));
    w.end(&producer, t).await;
    let sent = t;
    t = w.respond(&call, 204, t + Duration::from_micros(200)).await;
    http_status(&edge, Side::Server, 204, "");
    w.end(&edge, t + Duration::from_micros(200)).await;

    // Notifications tells the customer, whichever version.
    let at = sent + rng.latency(ms(10));
    let consumer =
        w.consume(Service::Notifications, &message, Some("notifications"), Delivery::Child, at);
    let mut t = at + Duration::from_micros(300);
    let push = w.shop.external_call(
        &consumer,
        Service::Notifications,
        "POST",
        "push.example.net",
        "/v1/messages:send",
        t,
    );
    t += rng.latency(ms(35));
    http_status(&push, Side::Client, 200, "");
    w.end(&push, t).await;
    w.end(&consumer, t + Duration::from_micros(200)).await;

    // Analytics maps it into its delivery-times table; v2 renamed `carrier` to `carrier_code`.
    let at = sent + rng.latency(ms(15));
    let consumer = w.consume(Service::Analytics, &message, Some("analytics"), Delivery::Child, at);
    let mut t = at + Duration::from_micros(300);
    let decode =
        w.shop.work(&consumer, Service::Analytics, "decode ShipmentDispatched", Vec::new(), t);
    t += rng.latency(ms(1));
    if v2 {
        fail(
            &decode,
            "SerializationException",
            "cannot deserialize ShipmentDispatched: missing field `carrier`",
            t,
        );
        w.end(&decode, t).await;
        fail(&consumer, "SerializationException", "message skipped to the dead-letter topic", t);
        w.end(&consumer, t + Duration::from_micros(200)).await;
        return;
    }
    w.end(&decode, t).await;
    let insert =
        w.shop.db_call(&consumer, Service::Analytics, "clickhouse", "INSERT", "delivery_times", t);
    t += rng.latency(ms(4));
    w.end(&insert, t).await;
    w.end(&consumer, t + Duration::from_micros(200)).await;
}

/// `POST /orders/{id}/cancel`, the legacy endpoint: orders calls inventory, payments,
/// shipping, loyalty and notifications one after another, each to change something, while
/// the customer waits for all five.
pub async fn legacy_cancel(w: Arc<World>, mut rng: Rng, t0: SystemTime) {
    let order = w.new_order_id();
    let path = format!("/orders/{order}/cancel");
    let edge = w.shop.edge_request("POST", "/orders/{id}/cancel", &path, t0);
    let mut t = t0 + rng.latency(ms(1));
    let call = w.shop.http_call(
        &edge,
        Service::Gateway,
        Service::Orders,
        "POST",
        "/orders/{id}/cancel",
        &path,
        t,
    );
    t += NET + Duration::from_micros(200);
    let update = w.shop.db_call(&call.server, Service::Orders, "postgresql", "UPDATE", "orders", t);
    t += rng.latency(ms(3));
    w.end(&update, t).await;
    let steps: [(Service, &'static str, &'static str, &'static str, Duration); 5] = [
        (Service::Inventory, "POST", "/stock/release", "stock", ms(8)),
        (Service::Payments, "POST", "/refunds", "refunds", ms(60)),
        (Service::Shipping, "DELETE", "/shipments/{id}", "shipments", ms(25)),
        (Service::Loyalty, "POST", "/points/revoke", "accounts", ms(6)),
        (Service::Notifications, "POST", "/emails/cancellation", "outbox", ms(12)),
    ];
    for (to, method, route, table, median) in steps {
        t += Duration::from_micros(200);
        let c = w.shop.http_call(&call.server, Service::Orders, to, method, route, route, t);
        t += NET + Duration::from_micros(200);
        let op = if method == "DELETE" { "DELETE" } else { "INSERT" };
        let write = w.shop.db_call(&c.server, to, "postgresql", op, table, t);
        t += rng.latency(median);
        w.end(&write, t).await;
        t = w.respond(&c, 200, t + Duration::from_micros(200)).await;
    }
    t = w.respond(&call, 200, t + Duration::from_micros(300)).await;
    http_status(&edge, Side::Server, 200, "");
    w.end(&edge, t + Duration::from_micros(200)).await;
}

/// `POST /orders/{id}/return`: orders answers 202 and orchestrates the return: a command to
/// loyalty (revoke the points) and one to notifications (send the return label), each
/// answered on `orders.return-replies`, which orders consumes in a new trace linked to the
/// reply.
pub async fn order_return(w: Arc<World>, mut rng: Rng, t0: SystemTime) {
    let order = w.new_order_id();
    let path = format!("/orders/{order}/return");
    let edge = w.shop.edge_request("POST", "/orders/{id}/return", &path, t0);
    let mut t = t0 + rng.latency(ms(1));
    let call = w.shop.http_call(
        &edge,
        Service::Gateway,
        Service::Orders,
        "POST",
        "/orders/{id}/return",
        &path,
        t,
    );
    t += NET + Duration::from_micros(200);
    let commands: [(Service, Destination, &'static str); 2] = [
        (Service::Loyalty, LOYALTY_COMMANDS, "revoke-points"),
        (Service::Notifications, NOTIFICATIONS_COMMANDS, "send-return-label"),
    ];
    let mut sent = Vec::new();
    for (to, destination, command) in commands {
        let (producer, message) = w.publish(
            Service::Orders,
            &call.server,
            destination,
            Publish {
                routing_key: Some(command.to_owned()),
                conversation_id: Some(order.clone()),
                ..Publish::default()
            },
            t,
        );
        t += rng.latency(ms(2));
        w.end(&producer, t).await;
        sent.push((to, command, message, t));
    }
    t = w.respond(&call, 202, t + Duration::from_micros(200)).await;
    http_status(&edge, Side::Server, 202, "");
    w.end(&edge, t + Duration::from_micros(200)).await;

    for (to, command, message, at) in sent {
        let at = at + rng.latency(ms(6));
        let consumer = w.consume(to, &message, None, Delivery::Child, at);
        let mut t = at + Duration::from_micros(300);
        let work = w.shop.work(&consumer, to, command, Vec::new(), t);
        t += rng.latency(ms(5));
        w.end(&work, t).await;
        let (producer, reply) = w.publish(
            to,
            &consumer,
            RETURN_REPLIES,
            Publish {
                routing_key: Some(format!("{command}.succeeded")),
                conversation_id: message.conversation_id().map(str::to_owned),
                ..Publish::default()
            },
            t,
        );
        t += rng.latency(ms(2));
        w.end(&producer, t).await;
        w.end(&consumer, t + Duration::from_micros(200)).await;
        let at = t + rng.latency(ms(6));
        let handler = w.consume(Service::Orders, &reply, None, Delivery::Linked, at);
        let mut t = at + Duration::from_micros(300);
        let record =
            w.shop.db_call(&handler, Service::Orders, "postgresql", "UPDATE", "returns", t);
        t += rng.latency(ms(3));
        w.end(&record, t).await;
        w.end(&handler, t + Duration::from_micros(200)).await;
    }
}
