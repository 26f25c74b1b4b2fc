//! The text report of `hopscope analyze --format text`: flows with their hops and queue
//! times, the lag table, sagas, insights. Built from an [`Analysis`] alone.
//!
//! A large recording keeps the report readable: past [`LIMIT`] flows (or sagas, or
//! insights), the ones that need a look come first (stuck, error, in flight; sagas not
//! completed) and the rest are counted, not listed; `--format json` has everything.
//!
//! Durations, counts and column widths come from the formatting kit ([`crate::format`]), as
//! on the TUI's screens.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::{Analysis, Flow, FlowStatus, Hop, HopVia, SagaState, Severity, TraceId, human};
use crate::format::{pad, plural, width};

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
    architecture(a, &mut out);
    insights(a, &mut out);
    out
}

/// One block per root operation: style, caller wait against settle window, fan-out, events,
/// tables, advice.
fn architecture(a: &Analysis, out: &mut String) {
    let _ = writeln!(out, "\nARCHITECTURE");
    if a.architecture.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for r in a.architecture.iter().take(LIMIT) {
        let _ = writeln!(
            out,
            "  {} {}  {}  {}  caller waited p50 {} p95 {}, settled p50 {} p95 {} later",
            r.service,
            r.operation,
            r.style.as_str(),
            plural(r.flows, "flow", "flows"),
            super::human(r.caller_wait_p50_ns),
            super::human(r.caller_wait_p95_ns),
            super::human(r.settle_p50_ns),
            super::human(r.settle_p95_ns),
        );
        let tables = if r.tables_written.is_empty() {
            String::new()
        } else {
            format!(", writes {}", r.tables_written.join(", "))
        };
        let _ = writeln!(
            out,
            "    {} services, {} events and {} calls per flow{tables}",
            r.services.len(),
            r.events_per_flow,
            r.sync_calls_per_flow,
        );
        let _ = writeln!(out, "    advice: {}", r.advice);
    }
    if a.architecture.len() > LIMIT {
        let _ = writeln!(
            out,
            "  ... and {} more operations (--format json lists them all)",
            a.architecture.len() - LIMIT
        );
    }
}

/// Most flows, sagas or insights listed; the rest are counted.
pub const LIMIT: usize = 100;

/// At most [`LIMIT`] items, the most urgent first (by `rank`, low first) when there are
/// more, each rank in its original order; and how many were left out.
fn pick<T>(items: &[T], rank: impl Fn(&T) -> u8) -> (Vec<&T>, usize) {
    if items.len() <= LIMIT {
        return (items.iter().collect(), 0);
    }
    let mut picked: Vec<&T> = items.iter().collect();
    picked.sort_by_key(|i| rank(i));
    picked.truncate(LIMIT);
    (picked, items.len() - LIMIT)
}

fn flows(a: &Analysis, out: &mut String) {
    let _ = writeln!(out, "\nFLOWS");
    if a.flows.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    let (shown, hidden) = pick(&a.flows, |f| match f.status {
        FlowStatus::Stuck => 0,
        FlowStatus::Error => 1,
        FlowStatus::InFlight => 2,
        FlowStatus::Ok => 3,
    });
    // Hops by consumer trace, so each flow finds its own without a scan.
    let mut by_trace: HashMap<TraceId, Vec<(usize, &Hop)>> = HashMap::new();
    for (i, hop) in a.hops.iter().enumerate() {
        by_trace.entry(hop.consumer.trace_id).or_default().push((i, hop));
    }
    for flow in shown {
        flow_block(flow, &by_trace, out);
    }
    if hidden > 0 {
        let _ = writeln!(out, "  ... and {hidden} more flows (--format json lists them all)");
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

fn flow_block(flow: &Flow, by_trace: &HashMap<TraceId, Vec<(usize, &Hop)>>, out: &mut String) {
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
    if let Some(reason) = &flow.error_reason {
        let _ = writeln!(out, "      error: {reason}");
    }
    let traces: HashSet<TraceId> = flow.traces.iter().copied().collect();
    // A flow's hops; weak (conversation) hops also where they enter it from another flow.
    let in_flow = |(_, h): &&(usize, &Hop)| {
        h.via == HopVia::Conversation || traces.contains(&h.producer.trace_id)
    };
    let hops = flow.traces.iter().filter_map(|t| by_trace.get(t)).flatten();
    let mut hops: Vec<(usize, &Hop)> = hops.filter(in_flow).copied().collect();
    // In the analysis' order (by producer start).
    hops.sort_by_key(|(i, _)| *i);
    for (_, hop) in hops {
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
                format!(
                    "{}{}{}",
                    l.status.as_str(),
                    if l.skew { " (skew)" } else { "" },
                    if l.dead_lettered > 0 {
                        format!(" ({} dead-lettered)", l.dead_lettered)
                    } else {
                        String::new()
                    }
                ),
            ]
        })
        .collect();
    let header =
        ["DESTINATION", "GROUP", "CONSUMED", "P50", "P95", "MAX", "UNCONSUMED", "OLDEST", "STATUS"];
    // Columns measured in terminal cells, so a CJK name keeps the table aligned.
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut l = String::from(" ");
        for (cell, w) in cells.iter().zip(&widths) {
            let _ = write!(l, " {}", pad(cell, *w));
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
    let (shown, hidden) = pick(&a.sagas, |s| match s.state {
        SagaState::Stuck => 0,
        SagaState::Failed => 1,
        SagaState::Compensating | SagaState::Running => 2,
        SagaState::Compensated => 3,
        SagaState::Completed => 4,
    });
    for saga in shown {
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
    if hidden > 0 {
        let _ = writeln!(out, "  ... and {hidden} more sagas (--format json lists them all)");
    }
}

fn insights(a: &Analysis, out: &mut String) {
    let _ = writeln!(out, "\nINSIGHTS");
    if a.insights.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    let (shown, hidden) = pick(&a.insights, |i| match i.severity {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    });
    for i in shown {
        let flow = i.flow.as_ref().map_or_else(String::new, |f| format!(" [flow {}]", f.short()));
        let _ =
            writeln!(out, "  {:<7} {}{}: {}", i.severity.as_str(), i.kind.as_str(), flow, i.detail);
    }
    if hidden > 0 {
        let _ = writeln!(out, "  ... and {hidden} more insights (--format json lists them all)");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::analysis::{AnalysisOptions, analyze};
    use crate::link::Linker;
    use crate::link::synth::Shop;
    use crate::model::Interner;

    #[test]
    fn a_large_report_lists_what_needs_a_look_and_counts_the_rest() {
        let interner = Arc::new(Interner::new());
        let spans = Shop::new(3, 1_700_000_000_000_000_000, Arc::clone(&interner)).spans(5_000);
        let mut linker = Linker::new(interner);
        linker.add_all(&spans);
        let a = analyze(&linker, &AnalysisOptions::at_watermark(&linker));
        assert!(a.flows.len() > super::LIMIT);
        let text = super::render(&a);
        let hidden = a.flows.len() - super::LIMIT;
        assert!(text.contains(&format!("... and {hidden} more flows")), "{text}");
        let listed = text.lines().filter(|l| l.contains(" POST /") && l.starts_with("  ")).count();
        assert!(listed <= super::LIMIT);
        // Stuck and failed ones first.
        let first = text.lines().find(|l| l.contains("caller waited")).unwrap_or_default();
        assert!(first.contains("STUCK") || first.contains("ERROR"), "{first}");
    }

    #[test]
    fn lag_columns_line_up_in_terminal_cells() {
        use crate::analysis::{Lag, LagStatus};
        use crate::format::width;
        let linker = Linker::new(Arc::new(Interner::new()));
        let mut a = analyze(&linker, &AnalysisOptions::at_watermark(&linker));
        let row = |group: &str| Lag {
            system: "kafka".to_owned(),
            destination: "orders".to_owned(),
            consumer_group: Some(group.to_owned()),
            consumer_services: vec![],
            consumed: 3,
            p50_ns: 1_000_000,
            p95_ns: 2_000_000,
            max_ns: 3_000_000,
            unconsumed: 0,
            oldest_unconsumed_age_ns: 0,
            status: LagStatus::Ok,
            skew: false,
            dead_lettered: 0,
        };
        a.lag = vec![row("注文サービス"), row("billing")];
        let text = super::render(&a);
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("kafka:orders")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        // The CONSUMED column starts at the same cell on both rows.
        let cells_before_3 = |l: &str| width(&l[..l.find(" 3 ").unwrap_or(0)]);
        assert_eq!(cells_before_3(lines[0]), cells_before_3(lines[1]), "{text}");
    }
}
