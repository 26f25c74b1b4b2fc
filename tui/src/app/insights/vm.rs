//! The Insights screen's view-model: the insights on screen, severity first, each with what
//! it is about (its subject: a service, an operation, a destination or a table).

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
    let wide = body.width >= 120;
    let mut columns =
        vec![col("SEVERITY", 10, false), col("KIND", 20, false), col("FLOW", 8, false)];
    if wide {
        columns.push(col("SUBJECT", 30, false));
    }
    let fixed: u16 = columns.iter().map(|c| c.width + 1).sum();
    columns.push(col("DETAIL", body.width.saturating_sub(fixed).max(10), false));
    let pos = state.insights.pos;
    let rows = state
        .insights
        .order
        .iter()
        .skip(pos.offset)
        .take(layout::list_rows(body))
        .map(|&i| {
            let x = &a.insights[i as usize];
            let mut cells = vec![
                vec![severity_cell(x.severity)],
                plain(x.kind.as_str()),
                vec![Seg::new(
                    x.flow.as_ref().map_or_else(|| "-".to_owned(), TraceId::short),
                    Tone::Dim,
                )],
            ];
            if wide {
                cells.push(vec![Seg::new(x.subject.clone(), Tone::Title)]);
                cells.push(plain(x.detail.clone()));
            } else if x.subject.is_empty() {
                cells.push(plain(x.detail.clone()));
            } else {
                cells.push(vec![
                    Seg::new(format!("{} ", x.subject), Tone::Title),
                    Seg::new(x.detail.clone(), Tone::Normal),
                ]);
            }
            cells
        })
        .collect();
    TableVm {
        theme,
        columns,
        rows,
        selected: (!state.insights.order.is_empty()).then(|| pos.selected - pos.offset),
        empty: vec![
            "Nothing to report: no duplicate deliveries, unconsumed events, cascades, sync-over-async, failed compensations,".to_owned(),
            "god orchestrators, event soup, event schema chaos, distributed monoliths or synchronous fan-outs.".to_owned(),
        ],
    }
}
