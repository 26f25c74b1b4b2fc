//! `hopscope catalog FILE...`: the event catalog of recordings, read from what ran: one entry
//! per domain event (who emits it in which command or policy, who consumes it, versions,
//! rates), written as Markdown for a pull request ([`markdown`]), a Mermaid event-storming
//! board ([`mermaid`]), an AsyncAPI 3.0 document ([`asyncapi`]) or JSON
//! (`hopscope.catalog/v1`: the `events` of `analyze --format json`).
//!
//! Reads and links the files through the offline pipeline, as `analyze` does
//! ([`crate::offline`]). Exit status: 0; 2 when the input is unusable (nothing readable).

pub mod asyncapi;
pub mod markdown;
pub mod mermaid;

use std::process::ExitCode;

use anyhow::Result;
use hopscope_collector::analysis::{self, DEFAULT_LAG_WARN, DEFAULT_STUCK_AFTER, Event};
use serde_json::json;

use crate::cli::{CatalogArgs, CatalogFormat};
use crate::offline;

/// The JSON document's schema.
pub const SCHEMA: &str = "hopscope.catalog/v1";

/// `events` in `format`.
pub fn render(events: &[Event], format: CatalogFormat) -> String {
    match format {
        CatalogFormat::Markdown => markdown::render(events),
        CatalogFormat::Mermaid => mermaid::render(events),
        CatalogFormat::Asyncapi => {
            serde_json::to_string_pretty(&asyncapi::document(events)).unwrap_or_default() + "\n"
        }
        CatalogFormat::Json => {
            serde_json::to_string_pretty(&json!({ "schema": SCHEMA, "events": events }))
                .unwrap_or_default()
                + "\n"
        }
    }
}

/// Runs `catalog`.
pub fn run(args: &CatalogArgs) -> Result<ExitCode> {
    let options = offline::Options {
        verb: "catalogue",
        keep_spans: false,
        stuck_after: DEFAULT_STUCK_AFTER,
        lag_warn: DEFAULT_LAG_WARN,
    };
    let recording = match offline::read(&args.files, &options) {
        Ok(recording) => recording,
        Err(code) => return Ok(code),
    };
    let events = analysis::events(&recording.linker, &recording.analysis_options);
    if events.is_empty() {
        eprintln!("hopscope: note: no message was produced in the input: the catalog is empty");
    }
    let format = args.format.unwrap_or(CatalogFormat::Markdown);
    let contents = render(&events, format);
    recording.forget();
    crate::export::write(
        args.out.as_deref(),
        &contents,
        &format!("{} events", events.len()),
        format.name(),
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    /// The events of the shop fixture, read through the offline pipeline.
    fn shop_events() -> Vec<Event> {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/app/fixtures/shop.otlp.jsonl");
        let options = offline::Options {
            verb: "catalogue",
            keep_spans: false,
            stuck_after: Duration::from_secs(30),
            lag_warn: Duration::from_secs(1),
        };
        let Ok(recording) = offline::read(&[path], &options) else { panic!("the fixture reads") };
        analysis::events(&recording.linker, &recording.analysis_options)
    }

    #[test]
    fn markdown_of_the_shop() {
        insta::assert_snapshot!(render(&shop_events(), CatalogFormat::Markdown));
    }

    #[test]
    fn mermaid_board_of_the_shop() {
        insta::assert_snapshot!(render(&shop_events(), CatalogFormat::Mermaid));
    }

    #[test]
    fn asyncapi_has_a_channel_per_destination_and_an_operation_per_service_and_side() {
        let doc = asyncapi::document(&shop_events());
        assert_eq!(doc["asyncapi"], "3.0.0");
        let channels: Vec<&String> =
            doc["channels"].as_object().expect("channels").keys().collect();
        assert_eq!(
            channels,
            ["kafka_orders", "kafka_payments", "rabbitmq_orders", "rabbitmq_payment.commands"]
        );
        let ops = doc["operations"].as_object().expect("operations");
        let send = &ops["orders.send.kafka_orders"];
        assert_eq!(send["action"], "send");
        assert_eq!(send["channel"]["$ref"], "#/channels/kafka_orders");
        assert_eq!(ops["payments.receive.kafka_orders"]["action"], "receive");
        // Two events named `orders` (Kafka, RabbitMQ): two messages, keys kept apart.
        let messages = doc["components"]["messages"].as_object().expect("messages");
        assert_eq!(messages.len(), 4);
        assert!(
            messages
                .keys()
                .all(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
        );
    }

    #[test]
    fn nothing_produced_is_an_empty_catalog_in_every_format() {
        assert!(render(&[], CatalogFormat::Markdown).contains("No message was produced"));
        assert_eq!(render(&[], CatalogFormat::Mermaid).lines().count(), 5);
        let json: serde_json::Value =
            serde_json::from_str(&render(&[], CatalogFormat::Json)).expect("json");
        assert_eq!(json["schema"], SCHEMA);
        assert_eq!(json["events"], json!([]));
    }
}
