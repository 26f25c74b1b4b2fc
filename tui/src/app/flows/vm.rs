//! The Flows screen's view-model: the table's columns (sorted one marked) and the rows on
//! screen, or what to do when there are none.

use hopscope_collector::analysis::FlowStatus;
use hopscope_collector::format;
use ratatui::layout::Rect;

use super::FlowColumn;
use crate::app::fmt;
use crate::app::layout::{self, flow_columns};
use crate::app::state::{Mode, State};
use crate::app::theme::Tone;
use crate::app::vm::{Column, Seg, TableVm, plain};

/// A flow's status, as a cell.
pub fn status_cell(s: FlowStatus) -> Seg {
    match s {
        FlowStatus::Ok => Seg::new("✓ ok", Tone::Good),
        FlowStatus::Error => Seg::new("✗ error", Tone::Bad),
        FlowStatus::Stuck => Seg::new("⚠ stuck", Tone::Warn),
        FlowStatus::InFlight => Seg::new("… in flight", Tone::Moving),
    }
}

/// The Flows table in `body`.
pub fn table(state: &State, body: Rect) -> TableVm {
    let theme = state.ctx.theme;
    let cols = flow_columns(body.width);
    let wide = body.width >= 120;
    let columns = cols
        .iter()
        .map(|(c, w)| Column {
            title: if !wide && *c == FlowColumn::Queue {
                "QUEUE".to_owned()
            } else {
                c.title().to_owned()
            },
            width: *w,
            right: !matches!(c, FlowColumn::Status | FlowColumn::Root | FlowColumn::Start),
            sorted: (state.flows.sort == *c).then_some(state.flows.descending),
        })
        .collect();
    let page = layout::list_rows(body);
    let pos = state.flows.pos;
    let visible = state.flows.order.iter().skip(pos.offset).take(page);
    let rows = visible
        .map(|&i| {
            let row = &state.view.flows[i as usize];
            let f = &row.flow;
            let queue = row.facts.worst_queue_ns;
            cols.iter()
                .map(|(c, w)| match c {
                    FlowColumn::Status => vec![status_cell(f.status)],
                    FlowColumn::Root => {
                        let mut l = vec![
                            Seg::new(f.root.service.clone(), Tone::Title),
                            Seg::new(format!(" {}", f.root.name), Tone::Normal),
                        ];
                        let used = format::width(&f.root.service) + 1 + format::width(&f.root.name);
                        if usize::from(*w) > used + 6 {
                            let others: Vec<&str> = f
                                .services
                                .iter()
                                .filter(|s| **s != f.root.service)
                                .map(AsRef::as_ref)
                                .collect();
                            if !others.is_empty() {
                                l.push(Seg::new(format!("  → {}", others.join(", ")), Tone::Dim));
                            }
                        }
                        l
                    }
                    FlowColumn::Start => plain(if wide {
                        fmt::clock_ms(f.start_unix_nano)
                    } else {
                        fmt::clock(f.start_unix_nano)
                    }),
                    FlowColumn::Duration => plain(fmt::dur(f.duration_ns)),
                    FlowColumn::Traces => plain(f.traces.len().to_string()),
                    FlowColumn::Services => plain(f.services.len().to_string()),
                    FlowColumn::Hops => plain(f.hop_count.to_string()),
                    FlowColumn::Queue => {
                        if f.hop_count == 0 {
                            vec![Seg::new("-", Tone::Dim)]
                        } else {
                            let tone = if queue > 1_000_000_000 { Tone::Warn } else { Tone::Async };
                            vec![Seg::new(fmt::dur(queue), tone)]
                        }
                    }
                })
                .collect()
        })
        .collect();
    let empty = if state.view.flows.is_empty() {
        match &state.ctx.mode {
            Mode::Replay { .. } => {
                vec!["No flows yet: the replay has not reached any span.".to_owned()]
            }
            Mode::Live { grpc, http } | Mode::Demo { grpc, http } => vec![
                "No flows yet. Point an OpenTelemetry exporter at hopscope:".to_owned(),
                format!("  OTEL_EXPORTER_OTLP_ENDPOINT=http://{grpc}   (gRPC)"),
                format!("  OTEL_EXPORTER_OTLP_ENDPOINT=http://{http}   (HTTP)"),
            ],
        }
    } else {
        vec![format!("No flow matches the filter `{}` (Esc clears it).", state.flows.filter.text())]
    };
    TableVm {
        theme,
        columns,
        rows,
        selected: (!state.flows.order.is_empty()).then(|| pos.selected - pos.offset),
        empty,
    }
}
