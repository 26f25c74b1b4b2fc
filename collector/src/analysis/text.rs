//! The text report of `hopscope analyze --format text`: flows with their hops and queue
//! times, the lag table, sagas, insights. Built from an [`Analysis`] alone.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::{Analysis, Flow, FlowStatus, Hop, HopVia, human};

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Renders the whole report.
pub fn render(a: &Analysis) -> String {
    let mut out = String::new();
    let s = &a.summary;
    let _ = writeln!(
        out,
        "hopscope analysis: {}, {}, {}, {}, {}, {}, {}",
        plural(s.spans, "span", "spans"),
        plural(s.traces, "trace", "traces"),
        plural(s.flows, "flow", "flows"),
        plural(s.hops, "hop", "hops"),
        plural(s.services, "service", "services"),
        plural(s.destinations, "destination", "destinations"),
        plural(s.errors, "error", "errors"),
    );
    flows(a, &mut out);
    lag(a, &mut out);
    sagas(a, &mut out);
    insights(a, &mut out);
    out
}

fn flows(a: &Analysis, out: &mut String) {
    let _ = writeln!(out, "\nFLOWS");
    if a.flows.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for flow in &a.flows {
        flow_block(a, flow, out);
    }
}

fn status_mark(s: FlowStatus) -> &'static str {
    match s {
        FlowStatus::Ok => "ok",
        FlowStatus::Error => "ERROR",
        FlowStatus::Stuck => "STUCK",
        FlowStatus::InFlight => "in flight",
    }
}

fn flow_block(a: &Analysis, flow: &Flow, out: &mut String) {
    let _ = writeln!(
        out,
        "  {} {:<9} {} {}  {} (caller waited {}, settled {} later)",
        flow.id,
        status_mark(flow.status),
        flow.root.service,
        flow.root.name,
        human(flow.duration_ns),
        human(flow.root_duration_ns),
        human(flow.settled_after_ns),
    );
    let _ = writeln!(
        out,
        "      {} · {} · {} · {}",
        plural(flow.traces.len() as u64, "trace", "traces"),
        plural(flow.span_count, "span", "spans"),
        plural(flow.hop_count, "hop", "hops"),
        flow.services.join(", ")
    );
    if let Some(reason) = &flow.stuck_reason {
        let _ = writeln!(out, "      stuck: {reason}");
    }
    let traces: HashSet<&str> = flow.traces.iter().map(String::as_str).collect();
    // A flow's hops; weak (conversation) hops also where they enter it from another flow.
    let in_flow = |h: &&Hop| {
        traces.contains(h.consumer.trace_id.as_str())
            && (h.via == HopVia::Conversation || traces.contains(h.producer.trace_id.as_str()))
    };
    for hop in a.hops.iter().filter(in_flow) {
        let _ = writeln!(
            out,
            "      hop {} ({}) → {}:{} → {} ({})  queue {}  via {}{}",
            hop.producer.service,
            hop.producer.name,
            hop.system,
            hop.destination,
            hop.consumer.service,
            hop.consumer.name,
            human(hop.queue_ns),
            hop.via.as_str(),
            if hop.skew { "  [clock skew]" } else { "" }
        );
    }
}

fn lag(a: &Analysis, out: &mut String) {
    let _ = writeln!(out, "\nCONSUMER LAG");
    if a.lag.is_empty() {
        let _ = writeln!(out, "  (no messaging)");
        return;
    }
    let rows: Vec<[String; 9]> = a
        .lag
        .iter()
        .map(|l| {
            [
                format!("{}:{}", l.system, l.destination),
                l.consumer_group.clone().unwrap_or_else(|| "-".to_owned()),
                l.consumed.to_string(),
                human(l.p50_ns),
                human(l.p95_ns),
                human(l.max_ns),
                l.unconsumed.to_string(),
                human(l.oldest_unconsumed_age_ns),
                format!("{}{}", l.status.as_str(), if l.skew { " (skew)" } else { "" }),
            ]
        })
        .collect();
    let header =
        ["DESTINATION", "GROUP", "CONSUMED", "P50", "P95", "MAX", "UNCONSUMED", "OLDEST", "STATUS"];
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut l = String::from(" ");
        for (cell, w) in cells.iter().zip(&widths) {
            let pad = w.saturating_sub(cell.chars().count());
            let _ = write!(l, " {cell}{}", " ".repeat(pad));
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(header.to_vec(), out);
    for row in &rows {
        line(row.iter().map(String::as_str).collect(), out);
    }
}

fn sagas(a: &Analysis, out: &mut String) {
    let _ = writeln!(out, "\nSAGAS");
    if a.sagas.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for saga in &a.sagas {
        let _ =
            writeln!(out, "  {} {} ({}): {}", saga.name, saga.id, saga.source, saga.state.as_str());
        if let Some(reason) = &saga.stuck_reason {
            let _ = writeln!(out, "      stuck: {reason}");
        }
        for (i, step) in saga.steps.iter().enumerate() {
            let kind = match step.kind {
                super::StepKind::Action => "",
                super::StepKind::Compensation => " [compensation]",
                super::StepKind::Timeout => " [timeout]",
            };
            let status = match step.status {
                super::StepStatus::Ok => "ok",
                super::StepStatus::Error => "ERROR",
            };
            let _ = writeln!(
                out,
                "      {}. {}{} in {}: {} ({})",
                i + 1,
                step.name,
                kind,
                step.service,
                status,
                human(step.end_unix_nano.saturating_sub(step.start_unix_nano))
            );
        }
    }
}

fn insights(a: &Analysis, out: &mut String) {
    let _ = writeln!(out, "\nINSIGHTS");
    if a.insights.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for i in &a.insights {
        let flow = i.flow.as_deref().map_or_else(String::new, |f| format!(" [flow {}]", short(f)));
        let _ =
            writeln!(out, "  {:<7} {}{}: {}", i.severity.as_str(), i.kind.as_str(), flow, i.detail);
    }
}
