//! The event catalog (`events[]`): names from routing keys, CloudEvents types (versions split
//! off) and task names; commands, policies and their triggers; consumers per subscription.

mod conventions_support;

use conventions_support::{At, CLIENT, CONSUMER, PRODUCER, SERVER, SpanSpec, V, analyze_spans};
use hopscope_collector::analysis::{Analysis, Event, EventProducer};

fn event<'a>(a: &'a Analysis, name: &str) -> &'a Event {
    a.events
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no event {name} in {:#?}", a.events))
}

fn producer(service: &str, command: &str, trigger: Option<&str>, count: u64) -> EventProducer {
    EventProducer {
        service: service.to_owned(),
        command: Some(command.to_owned()),
        trigger: trigger.map(str::to_owned),
        count,
    }
}

/// amqplib (0.68.0) keys: `publish <exchange>` PRODUCER, `<queue> process` CONSUMER child.
fn amqp(rk: &'static str, consumer: bool) -> Vec<(&'static str, V<'static>)> {
    let mut a = vec![
        ("messaging.system", V::S("rabbitmq")),
        ("messaging.destination", V::S("events")),
        ("messaging.rabbitmq.routing_key", V::S(rk)),
    ];
    if consumer {
        a.push(("messaging.operation", V::S("process")));
    }
    a
}

/// `web` publishes `user.signed_up` in `POST /signup` (4) and `user.deleted` in `DELETE
/// /users/:id` (2); `mailer` and `crm` consume sign-ups from their queues; `crm`, handling a
/// sign-up, publishes `crm.contact_created`, which `mailer-crm` consumes; nobody binds
/// `user.deleted`. One of `mailer`'s deliveries fails. `web` inserts the user (and reads the
/// plan, a read that writes nothing); `crm` inserts the contact (old `db.*` names).
fn signup_system() -> Vec<SpanSpec<'static>> {
    let mut s = Vec::new();
    for i in 1..=4u32 {
        let t0 = u64::from(i) * 1000;
        s.push(SpanSpec::new("web", At(i, 1), "POST /signup", SERVER, (t0, t0 + 5)));
        s.push(
            SpanSpec::new("web", At(i, 7), "INSERT app.users", CLIENT, (t0, t0 + 1))
                .parent(At(i, 1))
                .attrs(&[
                    ("db.system.name", V::S("postgresql")),
                    ("db.namespace", V::S("app")),
                    ("db.collection.name", V::S("users")),
                    ("db.operation.name", V::S("INSERT")),
                ]),
        );
        s.push(
            SpanSpec::new("web", At(i, 8), "SELECT app.plans", CLIENT, (t0, t0 + 1))
                .parent(At(i, 1))
                .attrs(&[
                    ("db.namespace", V::S("app")),
                    ("db.collection.name", V::S("plans")),
                    ("db.operation.name", V::S("SELECT")),
                ]),
        );
        s.push(
            SpanSpec::new("crm", At(i, 9), "contacts.insertOne", CLIENT, (t0 + 5, t0 + 6))
                .parent(At(i, 4))
                .attrs(&[
                    ("db.name", V::S("crm")),
                    ("db.mongodb.collection", V::S("contacts")),
                    ("db.operation", V::S("insertOne")),
                ]),
        );
        s.push(
            SpanSpec::new("web", At(i, 2), "publish events", PRODUCER, (t0 + 1, t0 + 2))
                .parent(At(i, 1))
                .attrs(&amqp("user.signed_up", false)),
        );
        let mut mailer =
            SpanSpec::new("mailer", At(i, 3), "mailer process", CONSUMER, (t0 + 10, t0 + 20))
                .parent(At(i, 2))
                .attrs(&amqp("user.signed_up", true));
        if i == 2 {
            mailer = mailer.error("smtp refused");
        }
        s.push(mailer);
        s.push(
            SpanSpec::new("crm", At(i, 4), "crm process", CONSUMER, (t0 + 4, t0 + 12))
                .parent(At(i, 2))
                .attrs(&amqp("user.signed_up", true)),
        );
        s.push(
            SpanSpec::new("crm", At(i, 5), "publish events", PRODUCER, (t0 + 8, t0 + 9))
                .parent(At(i, 4))
                .attrs(&amqp("crm.contact_created", false)),
        );
        s.push(
            SpanSpec::new("mailer", At(i, 6), "mailer-crm process", CONSUMER, (t0 + 15, t0 + 18))
                .parent(At(i, 5))
                .attrs(&amqp("crm.contact_created", true)),
        );
    }
    for i in 11..=12u32 {
        let t0 = u64::from(i) * 1000;
        s.push(SpanSpec::new("web", At(i, 1), "DELETE /users/:id", SERVER, (t0, t0 + 4)));
        s.push(
            SpanSpec::new("web", At(i, 2), "publish events", PRODUCER, (t0 + 1, t0 + 2))
                .parent(At(i, 1))
                .attrs(&amqp("user.deleted", false)),
        );
    }
    s
}

#[test]
fn routing_keys_name_events_commands_and_policies_are_told_apart() {
    let a = analyze_spans("catalog_signup", &signup_system());
    let names: Vec<&str> = a.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["crm.contact_created", "user.deleted", "user.signed_up"]);

    let signed = event(&a, "user.signed_up");
    assert_eq!(signed.system, "rabbitmq");
    assert_eq!(signed.destinations, ["events:user.signed_up"]);
    assert!(signed.versions.is_empty());
    assert_eq!(signed.count, 4);
    assert_eq!(signed.producers, [producer("web", "POST /signup", None, 4)]);
    let consumers: Vec<(&str, &str, u64)> = signed
        .consumers
        .iter()
        .map(|c| (c.service.as_str(), c.subscription.as_str(), c.count))
        .collect();
    assert_eq!(consumers, [("crm", "crm", 4), ("mailer", "mailer", 4)]);
    assert_eq!(signed.consumers[0].queue_p95_ns, 2_000_000);
    assert!((signed.consumers[1].error_share - 0.25).abs() < 1e-9);
    assert_eq!(signed.consumers[1].queue_p95_ns, 8_000_000);

    let created = event(&a, "crm.contact_created");
    assert_eq!(
        created.producers,
        [producer("crm", "crm process", Some("user.signed_up"), 4)],
        "a policy: emitted while handling a sign-up"
    );
    assert_eq!(signed.tables, ["app.users"], "the insert, not the read");
    assert_eq!(created.tables, ["crm.contacts"], "written by the policy's handling");
    assert!(event(&a, "user.deleted").tables.is_empty());
    assert_eq!(created.consumers.len(), 1);
    assert_eq!(created.consumers[0].subscription, "mailer-crm");

    let deleted = event(&a, "user.deleted");
    assert_eq!(deleted.producers, [producer("web", "DELETE /users/:id", None, 2)]);
    assert!(deleted.consumers.is_empty(), "nobody binds user.deleted");
    // 10 events over the 11 seconds from the first to the last span.
    assert!((deleted.rate_per_s - 2.0 / 11.004).abs() < 1e-3, "{}", deleted.rate_per_s);
}

fn kafka(
    topic: &'static str,
    ce_type: &'static str,
    consumer: bool,
) -> Vec<(&'static str, V<'static>)> {
    let mut a = vec![
        ("messaging.system", V::S("kafka")),
        ("messaging.destination.name", V::S(topic)),
        ("messaging.operation.type", V::S(if consumer { "process" } else { "send" })),
        ("cloudevents.event_type", V::S(ce_type)),
        ("cloudevents.event_spec_version", V::S("1.0")),
    ];
    if consumer {
        a.push(("messaging.consumer.group.name", V::S("g")));
    }
    a
}

/// `shop` places orders (`OrderPlaced` v1 and v2 in flight) on topic `orders`; `payments`
/// handles each (a `capture payment` span) and emits `PaymentCaptured` on `payments`;
/// `shipping` handles that and emits `ShipmentScheduled`, which nobody consumes yet. The
/// consumers link to the producers (new traces).
fn order_chain() -> Vec<SpanSpec<'static>> {
    let mut s = Vec::new();
    for i in 1..=3u32 {
        let t0 = u64::from(i) * 1000;
        let placed = if i == 2 { "com.shop.OrderPlaced.v2" } else { "com.shop.OrderPlaced.v1" };
        let (order, pay, ship) = (i * 10, i * 10 + 1, i * 10 + 2);
        s.push(SpanSpec::new("shop", At(order, 1), "POST /orders", SERVER, (t0, t0 + 5)));
        s.push(
            SpanSpec::new("shop", At(order, 2), "orders send", PRODUCER, (t0 + 1, t0 + 2))
                .parent(At(order, 1))
                .attrs(&kafka("orders", placed, false)),
        );
        s.push(
            SpanSpec::new("payments", At(pay, 1), "orders process", CONSUMER, (t0 + 10, t0 + 30))
                .link(At(order, 2), &[])
                .attrs(&kafka("orders", placed, true)),
        );
        s.push(
            SpanSpec::new("payments", At(pay, 2), "capture payment", 1, (t0 + 11, t0 + 29))
                .parent(At(pay, 1)),
        );
        s.push(
            SpanSpec::new("payments", At(pay, 3), "payments send", PRODUCER, (t0 + 20, t0 + 21))
                .parent(At(pay, 2))
                .attrs(&kafka("payments", "com.shop.PaymentCaptured.v1", false)),
        );
        s.push(
            SpanSpec::new(
                "shipping",
                At(ship, 1),
                "payments process",
                CONSUMER,
                (t0 + 40, t0 + 50),
            )
            .link(At(pay, 3), &[])
            .attrs(&kafka("payments", "com.shop.PaymentCaptured.v1", true)),
        );
        s.push(
            SpanSpec::new("shipping", At(ship, 2), "shipments send", PRODUCER, (t0 + 45, t0 + 46))
                .parent(At(ship, 1))
                .attrs(&kafka("shipments", "com.shop.ShipmentScheduled.v1", false)),
        );
    }
    s
}

#[test]
fn cloudevents_types_name_events_with_versions_and_the_policy_chain_is_recovered() {
    let a = analyze_spans("catalog_orders", &order_chain());
    let names: Vec<&str> = a.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["com.shop.OrderPlaced", "com.shop.PaymentCaptured", "com.shop.ShipmentScheduled"]
    );
    let placed = event(&a, "com.shop.OrderPlaced");
    assert_eq!(placed.versions, ["v1", "v2"]);
    assert_eq!(placed.destinations, ["orders"]);
    assert_eq!(placed.count, 3);
    assert_eq!(placed.producers, [producer("shop", "POST /orders", None, 3)]);
    assert_eq!(placed.consumers.len(), 1);
    assert_eq!(placed.consumers[0].service, "payments");
    let captured = event(&a, "com.shop.PaymentCaptured");
    assert_eq!(captured.versions, ["v1"]);
    assert_eq!(
        captured.producers,
        [producer("payments", "capture payment", Some("com.shop.OrderPlaced"), 3)],
        "the handler under the consumer is the policy's command"
    );
    let scheduled = event(&a, "com.shop.ShipmentScheduled");
    assert_eq!(
        scheduled.producers,
        [producer("shipping", "payments process", Some("com.shop.PaymentCaptured"), 3)]
    );
    assert!(scheduled.consumers.is_empty());
}

#[test]
fn task_names_name_job_events_and_the_json_carries_events() {
    let spans = vec![
        SpanSpec::new("api", At(1, 1), "POST /mail", SERVER, (0, 10)),
        SpanSpec::new("api", At(1, 2), "apply_async/tasks.send_email", PRODUCER, (1, 2))
            .parent(At(1, 1))
            .attrs(&[
                ("messaging.destination", V::S("mail")),
                ("celery.task_name", V::S("tasks.send_email")),
            ]),
    ];
    let a = analyze_spans("catalog_celery", &spans);
    let e = event(&a, "tasks.send_email");
    assert_eq!(
        (e.system.as_str(), e.destinations.as_slice()),
        ("celery", &["mail:tasks.send_email".to_owned()][..])
    );
    let json = serde_json::to_value(&a).expect("serialisable");
    assert_eq!(json["events"][0]["name"], "tasks.send_email");
    assert_eq!(json["events"][0]["producers"][0]["trigger"], serde_json::Value::Null);
    assert_eq!(json["events"][0]["tables"], serde_json::json!([]));
}
