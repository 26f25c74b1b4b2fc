//! The Architecture screen's view-model and widget: the table of root operations on screen,
//! each with a bar of caller wait (`█`) then settle window (`░`), p95s, drawn to one scale
//! across all rows; and the selected row's advice, tables, services and insights in a pane
//! under it.

use hopscope_collector::analysis::{ArchitectureRow, FlowStyle, Severity};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

use crate::app::fmt;
use crate::app::help::wrap;
use crate::app::layout;
use crate::app::state::State;
use crate::app::theme::Tone;
use crate::app::vm::{Line, PaneVm, Seg, TableVm, col, plain};

/// Architecture: the table and the selected row's advice.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchitectureVm {
    pub table: TableVm,
    pub advice: PaneVm,
}

fn style_cell(s: FlowStyle, wide: bool) -> Seg {
    let tone = match s {
        FlowStyle::Sync => Tone::Normal,
        FlowStyle::Choreography => Tone::Async,
        FlowStyle::Orchestration => Tone::Accent,
        FlowStyle::Hybrid => Tone::Moving,
    };
    let text = match (s, wide) {
        (FlowStyle::Choreography, false) => "choreo",
        (FlowStyle::Orchestration, false) => "orch",
        _ => s.as_str(),
    };
    Seg::new(text, tone)
}

/// Cells of `width` for `part` of `scale`: at least one for anything above zero.
fn cells(part: u64, scale: u64, width: usize) -> usize {
    if part == 0 || scale == 0 {
        return 0;
    }
    ((part as f64 / scale as f64 * width as f64).round() as usize).clamp(1, width)
}

/// The caller's wait then the settle window, to `scale` (ns) in `width` cells.
pub fn bar(wait: u64, settle: u64, scale: u64, width: usize) -> Line {
    let w = cells(wait, scale, width);
    let s = cells(settle, scale, width).min(width.saturating_sub(w));
    let mut line = Vec::new();
    if w > 0 {
        line.push(Seg::new("█".repeat(w), Tone::Normal));
    }
    if s > 0 {
        line.push(Seg::new("░".repeat(s), Tone::Async));
    }
    line
}

/// A per-request average: one decimal under ten, whole above.
fn per(x: f64) -> String {
    if x == 0.0 {
        "0".to_owned()
    } else if x < 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

fn severity_tone(s: Severity) -> Tone {
    match s {
        Severity::Error => Tone::Bad,
        Severity::Warning => Tone::Warn,
        Severity::Info => Tone::Dim,
    }
}

/// The Architecture screen in `body`.
pub fn architecture(state: &State, body: Rect) -> ArchitectureVm {
    let theme = state.ctx.theme;
    let a = &state.view.analysis;
    let (top, bottom) = layout::architecture(body);
    let wide = body.width >= 120;
    let bar_width: u16 = if wide { 30 } else { 10 };
    let mut columns = vec![col("STYLE", if wide { 13 } else { 6 }, false), col("ROOT", 0, false)];
    if wide {
        columns.push(col("FLOWS", 6, true));
    }
    columns.push(col(if wide { "WAIT P95" } else { "WAIT" }, if wide { 8 } else { 6 }, true));
    columns.push(col(if wide { "SETTLE P95" } else { "SETTLE" }, if wide { 10 } else { 6 }, true));
    columns.push(col(if wide { "WAIT █ THEN SETTLE ░" } else { "█ ░" }, bar_width, false));
    columns.push(col("SVCS", 4, true));
    columns.push(col(if wide { "EVENTS/REQ" } else { "EV/R" }, if wide { 10 } else { 4 }, true));
    columns.push(col(if wide { "CALLS/REQ" } else { "CL/R" }, if wide { 9 } else { 4 }, true));
    columns.push(col("INSIGHTS", if wide { 34 } else { 8 }, false));
    let fixed: u16 = columns.iter().map(|c| c.width + 1).sum();
    columns[1].width = body.width.saturating_sub(fixed).max(12);
    // One scale for every row, shown or not, so bars compare across pages.
    let scale = a
        .architecture
        .iter()
        .map(|r| r.caller_wait_p95_ns.saturating_add(r.settle_p95_ns))
        .max()
        .unwrap_or(0);
    let st = &state.architecture;
    let pos = st.list.pos;
    let rows = st
        .list
        .order
        .iter()
        .skip(pos.offset)
        .take(layout::list_rows(top))
        .map(|&i| {
            let r = &a.architecture[i as usize];
            let found = st.insights.get(i as usize).map_or(&[][..], Vec::as_slice);
            let mut cells = vec![
                vec![style_cell(r.style, wide)],
                vec![
                    Seg::new(format!("{} ", r.service), Tone::Dim),
                    Seg::new(r.operation.to_string(), Tone::Normal),
                ],
            ];
            if wide {
                cells.push(plain(fmt::count(r.flows)));
            }
            cells.push(plain(fmt::dur(r.caller_wait_p95_ns)));
            cells.push(plain(if r.settle_p95_ns == 0 {
                "-".to_owned()
            } else {
                fmt::dur(r.settle_p95_ns)
            }));
            cells.push(bar(r.caller_wait_p95_ns, r.settle_p95_ns, scale, usize::from(bar_width)));
            cells.push(plain(r.services.len().to_string()));
            cells.push(plain(per(r.events_per_flow)));
            cells.push(plain(per(r.sync_calls_per_flow)));
            cells.push(insights_cell(state, found, wide));
            cells
        })
        .collect();
    let table = TableVm {
        theme,
        columns,
        rows,
        selected: (!st.list.order.is_empty()).then(|| pos.selected - pos.offset),
        empty: vec!["No flows yet: a row appears for each operation that starts flows.".to_owned()],
    };
    let selected = st.list.selected().and_then(|i| a.architecture.get(i).map(|r| (i, r)));
    let advice = match selected {
        Some((i, r)) => {
            let found = st.insights.get(i).map_or(&[][..], Vec::as_slice);
            pane(state, r, found, bottom)
        }
        None => PaneVm { theme, title: "advice".to_owned(), lines: Vec::new() },
    };
    ArchitectureVm { table, advice }
}

/// The kinds of a row's insights (wide), or their count (narrow), in the tone of the worst.
fn insights_cell(state: &State, found: &[u32], wide: bool) -> Line {
    let a = &state.view.analysis;
    let Some(&worst) = found.first() else { return vec![Seg::new("-", Tone::Dim)] };
    let tone = severity_tone(a.insights[worst as usize].severity);
    if !wide {
        return vec![Seg::new(format!("⚠ {}", found.len()), tone)];
    }
    let mut kinds: Vec<&str> =
        found.iter().map(|&i| a.insights[i as usize].kind.as_str()).collect();
    kinds.dedup();
    vec![Seg::new(kinds.join(", "), tone)]
}

/// The selected row's pane: its advice, then what it writes and reaches, then its insights.
fn pane(state: &State, r: &ArchitectureRow, found: &[u32], area: Rect) -> PaneVm {
    let theme = state.ctx.theme;
    let a = &state.view.analysis;
    let width = usize::from(area.width.saturating_sub(2)).max(10);
    let mut lines: Vec<Line> = Vec::new();
    let mut facts = vec![
        Seg::new(format!("{} flows", fmt::count(r.flows)), Tone::Normal),
        Seg::new(" · wait p50 ", Tone::Dim),
        Seg::new(fmt::dur(r.caller_wait_p50_ns), Tone::Normal),
        Seg::new(" · settle p50 ", Tone::Dim),
        Seg::new(fmt::dur(r.settle_p50_ns), Tone::Normal),
        Seg::new(" · services ", Tone::Dim),
        Seg::new(r.services.iter().map(|s| &**s).collect::<Vec<_>>().join(", "), Tone::Normal),
    ];
    if !r.tables_written.is_empty() {
        facts.push(Seg::new(" · writes ", Tone::Dim));
        facts.push(Seg::new(r.tables_written.join(", "), Tone::Normal));
    }
    if r.advice.is_empty() {
        lines.push(vec![Seg::new(
            "Nothing to change: the style fits what was measured.",
            Tone::Good,
        )]);
    } else {
        lines.extend(wrap(&r.advice, width).into_iter().map(|l| vec![Seg::new(l, Tone::Warn)]));
    }
    lines.push(facts);
    for &i in found {
        let x = &a.insights[i as usize];
        lines.push(vec![
            Seg::new(x.kind.as_str(), severity_tone(x.severity)),
            Seg::new(format!(" {}", x.subject), Tone::Normal),
            Seg::new(format!(" · {}", x.detail), Tone::Dim),
        ]);
    }
    lines.truncate(usize::from(area.height.saturating_sub(1)));
    PaneVm { theme, title: format!("{} {} · {}", r.service, r.operation, r.style.as_str()), lines }
}

impl Widget for &ArchitectureVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (top, bottom) = layout::architecture(area);
        self.table.render(top, buf);
        self.advice.render_in(bottom, buf, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> String {
        line.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn bars_share_one_scale_and_never_overflow() {
        // The longest row fills the width: wait then settle.
        assert_eq!(text(&bar(100, 300, 400, 8)), "██░░░░░░");
        // A shorter one, to the same scale.
        assert_eq!(text(&bar(100, 0, 400, 8)), "██");
        // Anything above zero shows, however small.
        assert_eq!(text(&bar(1, 1, 1_000_000, 8)), "█░");
        // Nothing measured: nothing drawn, no division by zero.
        assert!(bar(0, 0, 0, 8).is_empty());
        // Rounding never takes it past the width.
        assert_eq!(text(&bar(5, 5, 10, 3)).chars().count(), 3);
    }
}
