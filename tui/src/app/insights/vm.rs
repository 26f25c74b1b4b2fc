//! The Insights screen's view-model: the insights on screen, severity first.

use hopscope_collector::analysis::{Severity, TraceId};
use ratatui::layout::Rect;

use crate::app::layout;
use crate::app::state::State;
use crate::app::theme::Tone;
use crate::app::vm::{Seg, TableVm, col, plain};

fn severity_cell(s: Severity) -> Seg {
    match s {
        Severity::Error => Seg::new("✗ error", Tone::Bad),
        Severity::Warning => Seg::new("⚠ warning", Tone::Warn),
        Severity::Info => Seg::new("ℹ info", Tone::Dim),
    }
}

/// The Insights table in `body`.
pub fn insights(state: &State, body: Rect) -> TableVm {
    let theme = state.ctx.theme;
    let a = &state.view.analysis;
    let columns = vec![
        col("SEVERITY", 10, false),
        col("KIND", 19, false),
        col("FLOW", 8, false),
        col("DETAIL", body.width.saturating_sub(40).max(10), false),
    ];
    let pos = state.insights.pos;
    let rows = state
        .insights
        .order
        .iter()
        .skip(pos.offset)
        .take(layout::list_rows(body))
        .map(|&i| {
            let x = &a.insights[i as usize];
            vec![
                vec![severity_cell(x.severity)],
                plain(x.kind.as_str()),
                vec![Seg::new(
                    x.flow.as_ref().map_or_else(|| "-".to_owned(), TraceId::short),
                    Tone::Dim,
                )],
                plain(x.detail.clone()),
            ]
        })
        .collect();
    TableVm {
        theme,
        columns,
        rows,
        selected: (!state.insights.order.is_empty()).then(|| pos.selected - pos.offset),
        empty: vec!["Nothing to report: no duplicate deliveries, unconsumed events, cascades, sync-over-async or failed compensations.".to_owned()],
    }
}
