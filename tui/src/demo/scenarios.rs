//! The shop's flows, each a script of spans with planned timestamps: the sync chain
//! `GET /orders/{id}` (gateway → orders → inventory) and its cascade failure; the checkout,
//! whose `OrderPlaced` event fans out over Kafka to five consumers (some children of the
//! producer, some new traces linked to it) and on to RabbitMQ; the invoice request that
//! holds an HTTP call open across a RabbitMQ round trip (sync over async); the analytics
//! batch loader linking many producers from one span. The order saga lives in
//! [`super::saga`].
//!
//! A script starts spans as it goes and ends each one through [`World::end`], which waits
//! for the planned end time; fan-out consumers run as their own tasks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use hopscope_collector::fake::Rng;
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::trace::{Link, SpanBuilder, SpanKind, TraceContextExt as _};
use opentelemetry::{Context, KeyValue, Value};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::broker::{
    AUDIT, Broker, Destination, INVOICE_REPLIES, INVOICE_REQUESTS, LOYALTY_DLX, LOYALTY_POINTS,
    Message, NOTIFICATIONS_PARKING_QUEUE, NOTIFICATIONS_POINTS_QUEUE, ORDERS_PLACED, Publish,
};
use super::clock::{Clock, NET, ms};
use super::shop::{HttpCall, Service, Shop, Side, fail, http_status};

/// Everything a flow needs: the services' telemetry, the brokers and the clock.
#[derive(Debug)]
pub struct World {
    pub shop: Shop,
    pub broker: Broker,
    pub clock: Clock,
    /// When traffic started: the slow consumer's cycle counts from here.
    started: SystemTime,
    /// Distinguishes this run's order ids from another run's.
    run_tag: String,
    orders: AtomicU64,
    /// Points notifications handled: every [`REFUSED_EVERY`]th push is refused.
    pushes: AtomicU64,
}

/// One push in this many is refused for good, and its message dead-lettered.
const REFUSED_EVERY: u64 = 8;

/// How a consumer receives a message's trace context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The consumer span is a child of the producer span: same trace.
    Child,
    /// The consumer span starts a new trace with a span link to the producer.
    Linked,
}

impl World {
    pub fn new(shop: Shop, run_id: u64) -> Self {
        let clock = Clock::default();
        let now = clock.now();
        Self {
            shop,
            broker: Broker::new(run_id, now),
            clock,
            started: now,
            run_tag: format!("{:04x}", run_id & 0xffff),
            orders: AtomicU64::new(1),
            pushes: AtomicU64::new(0),
        }
    }

    /// Ends `cx`'s span at `at`, once the wall clock gets there.
    pub async fn end(&self, cx: &Context, at: SystemTime) {
        self.clock.until(at).await;
        cx.span().end_with_timestamp(at);
    }

    /// A new order id.
    pub fn new_order_id(&self) -> String {
        let n = self.orders.fetch_add(1, Ordering::Relaxed);
        format!("ord-{}-{n:05}", self.run_tag)
    }

    /// The id of an order placed earlier (or about to be).
    fn existing_order_id(&self, rng: &mut Rng) -> String {
        let placed = self.orders.load(Ordering::Relaxed);
        format!("ord-{}-{:05}", self.run_tag, rng.between(1, placed.max(2)))
    }

    /// Finishes an HTTP exchange: the server answers `code` at `server_end`, the client
    /// sees it one network hop later; returns that time.
    pub async fn respond(&self, call: &HttpCall, code: u16, server_end: SystemTime) -> SystemTime {
        let message = format!("HTTP {code}");
        http_status(&call.server, Side::Server, code, &message);
        self.end(&call.server, server_end).await;
        let client_end = server_end + NET;
        http_status(&call.client, Side::Client, code, &message);
        self.end(&call.client, client_end).await;
        client_end
    }

    /// Sends a message: a PRODUCER span in `service` under `parent`, and the message the
    /// broker accepted, carrying the span's context (and `parent`'s baggage) in its headers.
    pub fn publish(
        &self,
        service: Service,
        parent: &Context,
        destination: Destination,
        publish: Publish,
        at: SystemTime,
    ) -> (Context, Message) {
        let mut message = self.broker.accept(destination, publish);
        let producer = self.shop.start(
            service,
            parent,
            SpanBuilder::from_name(format!(
                "{} {}",
                destination.system.send_operation(),
                destination.name
            ))
            .with_kind(SpanKind::Producer)
            .with_start_time(at)
            .with_attributes(message.producer_attributes()),
        );
        message.headers = self.shop.inject(&producer);
        (producer, message)
    }

    /// Receives `message` in `service` (`group`: its Kafka consumer group): a CONSUMER span
    /// whose context comes from the message's headers, as a child of the producer or in a
    /// new trace linked to it. Baggage travels either way.
    pub fn consume(
        &self,
        service: Service,
        message: &Message,
        group: Option<&'static str>,
        delivery: Delivery,
        at: SystemTime,
    ) -> Context {
        let remote = self.shop.extract(&message.headers);
        let builder = SpanBuilder::from_name(format!("process {}", message.destination.name))
            .with_kind(SpanKind::Consumer)
            .with_start_time(at)
            .with_attributes(message.consumer_attributes(group));
        match delivery {
            Delivery::Child => self.shop.start(service, &remote, builder),
            Delivery::Linked => {
                let link =
                    Link::new(remote.span().span_context().clone(), message.link_attributes(), 0);
                let baggage = remote
                    .baggage()
                    .iter()
                    .map(|(k, (v, _))| KeyValue::new(k.clone(), Value::String(v.clone())));
                let root = Context::new().with_baggage(baggage);
                self.shop.start(service, &root, builder.with_links(vec![link]))
            }
        }
    }

    /// Queue time of the analytics live consumer for a message sent at `sent`: tens of
    /// milliseconds, but every 20 s it falls behind (up to ~3 s) and then catches up.
    fn analytics_queue(&self, sent: SystemTime, rng: &mut Rng) -> Duration {
        let since = sent.duration_since(self.started).unwrap_or_default().as_secs_f64();
        let phase = (since % 20.0) / 20.0;
        let behind =
            if phase < 0.6 { (std::f64::consts::PI * phase / 0.6).sin().powi(2) } else { 0.0 };
        rng.latency(ms(40)) + Duration::from_secs_f64(3.2 * behind)
    }
}

fn sku(rng: &mut Rng) -> String {
    const SKUS: [&str; 6] =
        ["TEA-0042", "MUG-0007", "KETTLE-12", "FILTER-3", "SPOON-99", "TIN-0100"];
    SKUS[rng.between(0, SKUS.len() as u64) as usize].to_owned()
}

/// Variants of a checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkout {
    /// The Kafka producer stamps a message id (otherwise only partition + offset).
    pub kafka_id: bool,
    /// Notifications' consumer crashes before committing its offset: the event is
    /// delivered, and the email sent, twice.
    pub duplicate: bool,
    /// A large order: a copy goes to the `audit` exchange, which nothing consumes.
    pub audit: bool,
}

/// `POST /checkout`: gateway → orders → inventory (stock check), then orders stores the
/// order and sends `OrderPlaced` to Kafka; payments and inventory consume it as children of
/// the producer, notifications, analytics and loyalty in new traces linked to it; loyalty
/// goes on to publish `awarded` on the RabbitMQ topic exchange `loyalty.points`, which notifications consumes.
pub async fn checkout(w: Arc<World>, mut rng: Rng, t0: SystemTime, v: Checkout) {
    let order = w.new_order_id();
    let sku = sku(&mut rng);
    let edge = w.shop.edge_request("POST", "/checkout", "/checkout", t0);
    let mut t = t0 + rng.latency(ms(2));
    let place =
        w.shop.http_call(&edge, Service::Gateway, Service::Orders, "POST", "/orders", "/orders", t);
    t += NET + rng.latency(ms(1));

    let stock_path = format!("/stock/{sku}");
    let stock = w.shop.http_call(
        &place.server,
        Service::Orders,
        Service::Inventory,
        "GET",
        "/stock/{sku}",
        &stock_path,
        t,
    );
    t += NET + Duration::from_micros(300);
    let query =
        w.shop.db_call(&stock.server, Service::Inventory, "postgresql", "SELECT", "stock", t);
    t += rng.latency(ms(3));
    w.end(&query, t).await;
    t = w.respond(&stock, 200, t + Duration::from_micros(200)).await;

    t += Duration::from_micros(200);
    let insert =
        w.shop.db_call(&place.server, Service::Orders, "postgresql", "INSERT", "orders", t);
    t += rng.latency(ms(4));
    w.end(&insert, t).await;

    t += Duration::from_micros(100);
    let (producer, placed) = w.publish(
        Service::Orders,
        &place.server,
        ORDERS_PLACED,
        Publish {
            key: Some(order.clone()),
            with_id: v.kafka_id || v.duplicate,
            ..Publish::default()
        },
        t,
    );
    t += rng.latency(ms(3));
    w.end(&producer, t).await;
    let sent = t;
    w.broker.queue_for_batch(placed.clone(), sent);

    let mut consumers = JoinSet::new();
    let groups = [
        (Service::Payments, "payments", "screen order for fraud", ms(15)),
        (Service::Inventory, "inventory", "update demand forecast", ms(6)),
    ];
    for (service, group, work, median) in groups {
        let at = sent + rng.latency(ms(12));
        consumers.spawn(handle(
            Arc::clone(&w),
            placed.clone(),
            service,
            group,
            work,
            median,
            at,
            rng.fork(),
        ));
    }
    let at = sent + rng.latency(ms(20));
    consumers.spawn(confirm_by_email(Arc::clone(&w), placed.clone(), at, v.duplicate, rng.fork()));
    let at = sent + w.analytics_queue(sent, &mut rng);
    consumers.spawn(update_dashboards(Arc::clone(&w), placed.clone(), at, rng.fork()));
    let at = sent + rng.latency(ms(30));
    consumers.spawn(award_points(Arc::clone(&w), placed, order.clone(), at, rng.fork()));

    if v.audit {
        t += Duration::from_micros(100);
        let (copy, _unread) = w.publish(
            Service::Orders,
            &place.server,
            AUDIT,
            Publish {
                routing_key: Some("order.placed".into()),
                conversation_id: Some(order),
                ..Publish::default()
            },
            t,
        );
        t += rng.latency(ms(2));
        w.end(&copy, t).await;
    }
    t = w.respond(&place, 201, t + rng.latency(ms(1))).await;
    t += rng.latency(ms(1));
    http_status(&edge, Side::Server, 201, "");
    w.end(&edge, t).await;
    while consumers.join_next().await.is_some() {}
}

/// A consumer that does one piece of work per `OrderPlaced`, as a child of the producer.
#[expect(clippy::too_many_arguments, reason = "one consumer's whole description")]
async fn handle(
    w: Arc<World>,
    message: Message,
    service: Service,
    group: &'static str,
    work: &'static str,
    median: Duration,
    at: SystemTime,
    mut rng: Rng,
) {
    let consumer = w.consume(service, &message, Some(group), Delivery::Child, at);
    let mut t = at + Duration::from_micros(300);
    let job = w.shop.work(&consumer, service, work, Vec::new(), t);
    t += rng.latency(median);
    w.end(&job, t).await;
    w.end(&consumer, t + Duration::from_micros(200)).await;
}

/// Notifications emails the order confirmation (in a new trace linked to the event). With
/// `duplicate`, the event is redelivered after a rebalance and the email goes out twice.
async fn confirm_by_email(
    w: Arc<World>,
    message: Message,
    mut at: SystemTime,
    duplicate: bool,
    mut rng: Rng,
) {
    for _ in 0..if duplicate { 2 } else { 1 } {
        let consumer = w.consume(
            Service::Notifications,
            &message,
            Some("notifications"),
            Delivery::Linked,
            at,
        );
        let mut t = at + Duration::from_micros(300);
        let render = w.shop.work(
            &consumer,
            Service::Notifications,
            "render order-confirmation",
            Vec::new(),
            t,
        );
        t += rng.latency(ms(4));
        w.end(&render, t).await;
        let mail = w.shop.external_call(
            &consumer,
            Service::Notifications,
            "POST",
            "api.mailer.example",
            "/v3/mail/send",
            t,
        );
        t += rng.latency(ms(60));
        http_status(&mail, Side::Client, 202, "");
        w.end(&mail, t).await;
        t += Duration::from_micros(300);
        w.end(&consumer, t).await;
        // The offset commit is lost; the partition is reassigned and the event comes again.
        at = t + rng.latency(ms(700));
    }
}

/// The analytics live consumer (new trace, linked): quick work, but its queue time swings.
async fn update_dashboards(w: Arc<World>, message: Message, at: SystemTime, mut rng: Rng) {
    let consumer = w.consume(Service::Analytics, &message, Some("analytics"), Delivery::Linked, at);
    let mut t = at + Duration::from_micros(200);
    let job = w.shop.work(&consumer, Service::Analytics, "update sales dashboard", Vec::new(), t);
    t += rng.latency(ms(3));
    w.end(&job, t).await;
    w.end(&consumer, t + Duration::from_micros(100)).await;
}

/// Loyalty awards points (new trace, linked) and publishes `awarded` on `loyalty.points`;
/// notifications consumes that (another new trace, linked) and pushes a message: a flow
/// of three traces and two hops from the checkout.
async fn award_points(
    w: Arc<World>,
    message: Message,
    order: String,
    at: SystemTime,
    mut rng: Rng,
) {
    let consumer = w.consume(Service::Loyalty, &message, Some("loyalty"), Delivery::Linked, at);
    let mut t = at + Duration::from_micros(300);
    let points = rng.between(10, 400) as i64;
    let award = w.shop.work(
        &consumer,
        Service::Loyalty,
        "award points",
        vec![KeyValue::new("loyalty.points", points), KeyValue::new("order.id", order.clone())],
        t,
    );
    t += Duration::from_micros(200);
    let update = w.shop.db_call(&award, Service::Loyalty, "postgresql", "UPDATE", "accounts", t);
    t += rng.latency(ms(4));
    w.end(&update, t).await;
    let (producer, awarded) = w.publish(
        Service::Loyalty,
        &award,
        LOYALTY_POINTS,
        Publish {
            routing_key: Some("awarded".into()),
            conversation_id: Some(order),
            ..Publish::default()
        },
        t + Duration::from_micros(100),
    );
    t += rng.latency(ms(2));
    w.end(&producer, t).await;
    let sent = t;
    t += Duration::from_micros(100);
    w.end(&award, t).await;
    w.end(&consumer, t + Duration::from_micros(100)).await;

    let at = sent + rng.latency(ms(8));
    let notify = w.consume(
        Service::Notifications,
        &awarded,
        Some(NOTIFICATIONS_POINTS_QUEUE),
        Delivery::Linked,
        at,
    );
    let mut t = at + Duration::from_micros(300);
    let push = w.shop.external_call(
        &notify,
        Service::Notifications,
        "POST",
        "push.example.net",
        "/v1/messages:send",
        t,
    );
    t += rng.latency(ms(40));
    // Every eighth push is refused for good (an expired device token): notifications rejects
    // the message without requeue and RabbitMQ dead-letters it to its parking queue.
    let refused = w.pushes.fetch_add(1, Ordering::Relaxed) % REFUSED_EVERY == REFUSED_EVERY - 1;
    if refused {
        http_status(&push, Side::Client, 410, "device token expired");
    } else {
        http_status(&push, Side::Client, 200, "");
    }
    w.end(&push, t).await;
    if refused {
        fail(&notify, "PushRejected", "reject called on message without requeue", t);
    }
    w.end(&notify, t + Duration::from_micros(200)).await;
    if refused {
        let dead = w.broker.dead_letter(&awarded, LOYALTY_DLX, NOTIFICATIONS_POINTS_QUEUE);
        let at = t + rng.latency(ms(5));
        let parked = w.consume(
            Service::Notifications,
            &dead,
            Some(NOTIFICATIONS_PARKING_QUEUE),
            Delivery::Child,
            at,
        );
        let t = at + rng.latency(ms(1));
        w.end(&parked, t).await;
    }
}

/// `GET /orders/{id}`: gateway → orders → inventory, all synchronous. With `cascade`,
/// inventory's database times out and the error climbs the chain: inventory 500, orders
/// 502, gateway 502, each server span in error.
pub async fn order_status(w: Arc<World>, mut rng: Rng, t0: SystemTime, cascade: bool) {
    let order = w.existing_order_id(&mut rng);
    let path = format!("/orders/{order}");
    let edge = w.shop.edge_request("GET", "/orders/{id}", &path, t0);
    let mut t = t0 + rng.latency(ms(1));
    let lookup =
        w.shop.http_call(&edge, Service::Gateway, Service::Orders, "GET", "/orders/{id}", &path, t);
    t += NET + Duration::from_micros(200);
    let query =
        w.shop.db_call(&lookup.server, Service::Orders, "postgresql", "SELECT", "orders", t);
    t += rng.latency(ms(2));
    w.end(&query, t).await;

    let sku = sku(&mut rng);
    let stock_path = format!("/stock/{sku}");
    t += Duration::from_micros(100);
    let stock = w.shop.http_call(
        &lookup.server,
        Service::Orders,
        Service::Inventory,
        "GET",
        "/stock/{sku}",
        &stock_path,
        t,
    );
    t += NET + Duration::from_micros(200);
    let stock_query =
        w.shop.db_call(&stock.server, Service::Inventory, "postgresql", "SELECT", "stock", t);
    let orders_code = if cascade {
        t += ms(1000) + rng.latency(ms(5));
        fail(&stock_query, "QueryCanceled", "canceling statement due to statement timeout", t);
        w.end(&stock_query, t).await;
        t += Duration::from_micros(300);
        fail(&stock.server, "StockUnavailable", "stock lookup failed: database timeout", t);
        t = w.respond(&stock, 500, t).await;
        t += Duration::from_micros(300);
        fail(&lookup.server, "UpstreamError", "inventory answered 500 for the stock lookup", t);
        502
    } else {
        t += rng.latency(ms(2));
        w.end(&stock_query, t).await;
        t = w.respond(&stock, 200, t + Duration::from_micros(200)).await;
        200
    };
    t = w.respond(&lookup, orders_code, t + Duration::from_micros(300)).await;
    t += Duration::from_micros(400);
    if cascade {
        fail(&edge, "UpstreamError", "orders answered 502", t);
    }
    http_status(&edge, Side::Server, orders_code, "orders answered 502");
    w.end(&edge, t).await;
}

/// `GET /orders/{id}/invoice`: orders asks payments for the invoice over RabbitMQ and holds
/// the HTTP request open until the reply comes back: sync over async, the caller blocked
/// across a round trip through two queues.
pub async fn invoice(w: Arc<World>, mut rng: Rng, t0: SystemTime) {
    let order = w.existing_order_id(&mut rng);
    let path = format!("/orders/{order}/invoice");
    let edge = w.shop.edge_request("GET", "/orders/{id}/invoice", &path, t0);
    let mut t = t0 + rng.latency(ms(1));
    let call = w.shop.http_call(
        &edge,
        Service::Gateway,
        Service::Orders,
        "GET",
        "/orders/{id}/invoice",
        &path,
        t,
    );
    t += NET + Duration::from_micros(200);
    let (request, asked) = w.publish(
        Service::Orders,
        &call.server,
        INVOICE_REQUESTS,
        Publish { conversation_id: Some(order.clone()), ..Publish::default() },
        t,
    );
    t += rng.latency(ms(2));
    w.end(&request, t).await;

    t += rng.latency(ms(8));
    let handler = w.consume(Service::Payments, &asked, None, Delivery::Child, t);
    t += Duration::from_micros(300);
    let render = w.shop.work(
        &handler,
        Service::Payments,
        "render invoice",
        vec![KeyValue::new("order.id", order.clone())],
        t,
    );
    t += rng.latency(ms(120));
    w.end(&render, t).await;
    let (reply, answered) = w.publish(
        Service::Payments,
        &handler,
        INVOICE_REPLIES,
        Publish { conversation_id: Some(order), ..Publish::default() },
        t + Duration::from_micros(100),
    );
    t += rng.latency(ms(2));
    w.end(&reply, t).await;
    t += Duration::from_micros(200);
    w.end(&handler, t).await;

    // Orders was waiting on the reply queue all along, the HTTP request still open.
    t += rng.latency(ms(8));
    let back = w.consume(Service::Orders, &answered, None, Delivery::Child, t);
    t += rng.latency(ms(1));
    w.end(&back, t).await;
    t = w.respond(&call, 200, t + Duration::from_micros(300)).await;
    t += Duration::from_micros(300);
    http_status(&edge, Side::Server, 200, "");
    w.end(&edge, t).await;
}

/// How often the analytics batch loader runs.
const BATCH_EVERY: Duration = Duration::from_millis(2500);

/// The analytics batch loader: every few seconds one CONSUMER span takes every
/// `OrderPlaced` sent since the last run, with a link to each producer, and loads them into
/// the warehouse. Stops at `stop`; [`load_batch`] then takes the rest.
pub async fn batch_loader(w: Arc<World>, stop: CancellationToken, mut rng: Rng) {
    let mut tick = w.clock.now() + BATCH_EVERY;
    loop {
        tokio::select! {
            () = w.clock.until(tick) => {}
            () = stop.cancelled() => return,
        }
        if stop.is_cancelled() {
            return;
        }
        load_batch(&w, tick, &mut rng).await;
        tick += BATCH_EVERY;
    }
}

/// One batch load at `at` (or just after the newest event in it).
pub async fn load_batch(w: &World, at: SystemTime, rng: &mut Rng) {
    let batch = w.broker.take_batch();
    let Some(newest) = batch.iter().map(|(_, sent)| *sent).max() else { return };
    let start = at.max(newest + ms(1));
    let links = batch
        .iter()
        .map(|(m, _)| {
            let producer = w.shop.extract(&m.headers);
            Link::new(producer.span().span_context().clone(), m.link_attributes(), 0)
        })
        .collect();
    let consumer = w.shop.start(
        Service::Analytics,
        &Context::new(),
        SpanBuilder::from_name(format!("process {}", ORDERS_PLACED.name))
            .with_kind(SpanKind::Consumer)
            .with_start_time(start)
            .with_links(links)
            .with_attributes(Message::batch_attributes(
                ORDERS_PLACED,
                "analytics-batch",
                batch.len(),
            )),
    );
    let mut t = start + Duration::from_micros(500);
    let load =
        w.shop.db_call(&consumer, Service::Analytics, "clickhouse", "INSERT", "orders_fact", t);
    t += rng.latency(ms(30)) + ms(2) * batch.len() as u32;
    w.end(&load, t).await;
    w.end(&consumer, t + Duration::from_micros(300)).await;
}
