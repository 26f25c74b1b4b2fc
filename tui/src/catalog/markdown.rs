//! The catalog as Markdown, readable in a pull request: a summary table, then one section per
//! event: where it goes, how many and how fast, its versions, who emits it in which command
//! or policy, who consumes it (queue time, error share) and the policies it triggers.

use std::fmt::Write as _;

use hopscope_collector::analysis::catalog::triggered_by;
use hopscope_collector::analysis::{Event, EventProducer};

use crate::app::fmt;

/// Text safe in a Markdown table cell and in inline code.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'").replace('\n', " ")
}

/// `` `name` ``.
fn code(s: &str) -> String {
    format!("`{}`", cell(s))
}

/// Where a producer emits: `command POST /signup`, or `policy: on user.signed_up, in crm process`.
fn emitted_in(p: &EventProducer) -> String {
    let command = p.command.as_deref().map_or_else(|| "a trace root".to_owned(), code);
    match &p.trigger {
        Some(t) => format!("policy: on {}, in {command}", code(t)),
        None => format!("command {command}"),
    }
}

/// The catalog of `events` as Markdown.
pub fn render(events: &[Event]) -> String {
    let mut out = String::from("# Event catalog\n\n");
    if events.is_empty() {
        out.push_str("No message was produced in the traces read.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{} events, as hopscope saw them in the traces. A **command** (a request) emits an \
         event; a **policy** reacts to an event by emitting the next one.\n",
        events.len()
    );
    out.push_str("| Event | System | Messages | Rate | Emitted in | Consumed by |\n");
    out.push_str("|---|---|---:|---:|---|---|\n");
    for e in events {
        let emitted: Vec<String> = e.producers.iter().map(emitted_in).collect();
        let consumed: Vec<String> = e.consumers.iter().map(|c| cell(&c.subscription)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            code(&e.name),
            cell(&e.system),
            e.count,
            fmt::rate(e.rate_per_s),
            emitted.join("; "),
            if consumed.is_empty() { "nobody".to_owned() } else { consumed.join(", ") }
        );
    }
    for e in events {
        section(&mut out, events, e);
    }
    out
}

fn section(out: &mut String, events: &[Event], e: &Event) {
    let _ = writeln!(out, "\n## {}\n", code(&e.name));
    let dests: Vec<String> = e.destinations.iter().map(|d| code(d)).collect();
    let _ = writeln!(out, "- **Sent to**: {} {}", cell(&e.system), dests.join(", "));
    let _ = writeln!(out, "- **Messages**: {} ({})", e.count, fmt::rate(e.rate_per_s));
    if !e.versions.is_empty() {
        let versions: Vec<String> = e.versions.iter().map(|v| code(v)).collect();
        let _ = writeln!(out, "- **Versions**: {}", versions.join(", "));
    }
    if !e.tables.is_empty() {
        let tables: Vec<String> = e.tables.iter().map(|t| code(t)).collect();
        let _ = writeln!(out, "- **Tables written**: {}", tables.join(", "));
    }
    out.push_str("\n**Emitted by**\n\n| Service | In | Messages |\n|---|---|---:|\n");
    for p in &e.producers {
        let _ = writeln!(out, "| {} | {} | {} |", cell(&p.service), emitted_in(p), p.count);
    }
    if e.consumers.is_empty() {
        out.push_str("\n**Consumed by**: nobody yet (no consumer was seen).\n");
    } else {
        out.push_str("\n**Consumed by**\n\n");
        out.push_str("| Service | Subscription | Deliveries | Queue p95 | Errors |\n");
        out.push_str("|---|---|---:|---:|---:|\n");
        for c in &e.consumers {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                cell(&c.service),
                cell(&c.subscription),
                c.count,
                fmt::dur(c.queue_p95_ns),
                fmt::percent(c.error_share)
            );
        }
    }
    let policies: Vec<String> = triggered_by(events, &e.name)
        .map(|(next, p)| {
            let command =
                p.command.as_deref().map_or_else(String::new, |c| format!(" in {}", code(c)));
            format!("- {} emits {}{command} ({})", cell(&p.service), code(&next.name), p.count)
        })
        .collect();
    if !policies.is_empty() {
        let _ = writeln!(out, "\n**Policies it triggers**\n\n{}", policies.join("\n"));
    }
}
