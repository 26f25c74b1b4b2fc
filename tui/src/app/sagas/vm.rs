//! The Sagas screen's view-model and widget: the table of sagas on screen, and the selected
//! saga's steps with a bar each on the saga's time span.

use hopscope_collector::analysis::{SagaState, StepKind, StepStatus};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Widget;

use crate::app::fmt;
use crate::app::layout;
use crate::app::state::State;
use crate::app::theme::Tone;
use crate::app::vm::{PaneVm, Seg, TableVm, col, plain};
use crate::app::widgets::pane_block;

/// Sagas: the table and the selected saga's steps.
#[derive(Debug, Clone, PartialEq)]
pub struct SagasVm {
    pub table: TableVm,
    pub steps: PaneVm,
    /// Step bars in the pane, parallel to its lines after the first `bar_skip` lines.
    pub bars: Vec<(f64, f64, Tone)>,
    pub bar_skip: usize,
}

fn saga_state_cell(s: SagaState) -> Seg {
    match s {
        SagaState::Stuck => Seg::new("⚠ stuck", Tone::Warn),
        SagaState::Failed => Seg::new("✗ failed", Tone::Bad),
        SagaState::Compensating => Seg::new("↺ compensating", Tone::Warn),
        SagaState::Compensated => Seg::new("↺ compensated", Tone::Moving),
        SagaState::Running => Seg::new("… running", Tone::Moving),
        SagaState::Completed => Seg::new("✓ completed", Tone::Good),
    }
}

/// The Sagas screen in `body`.
pub fn sagas(state: &State, body: Rect) -> SagasVm {
    let theme = state.ctx.theme;
    let a = &state.view.analysis;
    let (top, bottom) = layout::sagas(body);
    let wide = body.width >= 120;
    let mut columns = vec![col("STATE", 14, false), col("SAGA", 14, false), col("ID", 16, false)];
    if wide {
        columns.push(col("SOURCE", 12, false));
    }
    columns.push(col("STEPS", 7, true));
    columns.push(col("DURATION", 8, true));
    let fixed: u16 = columns.iter().map(|c| c.width + 1).sum();
    columns.push(col("WHY", body.width.saturating_sub(fixed).max(10), false));
    let pos = state.sagas.pos;
    let rows = state
        .sagas
        .order
        .iter()
        .skip(pos.offset)
        .take(layout::list_rows(top))
        .map(|&i| {
            let s = &a.sagas[i as usize];
            let comps = s.steps.iter().filter(|x| x.kind == StepKind::Compensation).count();
            let start = s.steps.iter().map(|x| x.start_unix_nano).min().unwrap_or(0);
            let end = s.steps.iter().map(|x| x.end_unix_nano).max().unwrap_or(0);
            let mut cells =
                vec![vec![saga_state_cell(s.state)], plain(s.name.clone()), plain(s.id.clone())];
            if wide {
                cells.push(vec![Seg::new(s.source.clone(), Tone::Dim)]);
            }
            cells.push(plain(if comps > 0 {
                format!("{} ↺{comps}", s.steps.len())
            } else {
                s.steps.len().to_string()
            }));
            cells.push(plain(fmt::dur(end.saturating_sub(start))));
            let why =
                match (&s.stuck_reason, state.view.saga_flows.get(i as usize).copied().flatten()) {
                    (Some(r), _) => vec![Seg::new(r.clone(), Tone::Warn)],
                    (None, Some(f)) => {
                        vec![Seg::new(format!("flow {}", f.short()), Tone::Dim)]
                    }
                    (None, None) => Vec::new(),
                };
            cells.push(why);
            cells
        })
        .collect();
    let table = TableVm {
        theme,
        columns,
        rows,
        selected: (!state.sagas.order.is_empty()).then(|| pos.selected - pos.offset),
        empty: vec!["No sagas seen. Spans with saga.* attributes, Temporal, MassTransit, NServiceBus, Axon, Durable Task or Eventuate spans make one.".to_owned()],
    };
    let mut lines = Vec::new();
    let mut bars = Vec::new();
    let mut title = "steps".to_owned();
    let mut bar_skip = 0;
    if let Some(&i) = state.sagas.order.get(pos.selected) {
        let s = &a.sagas[i as usize];
        title = format!("{} {} · steps", s.name, s.id);
        if let Some(r) = &s.stuck_reason {
            lines.push(vec![Seg::new(format!("⚠ stuck: {r}"), Tone::Warn)]);
        }
        if let Some(Some(f)) = state.view.saga_flows.get(i as usize) {
            lines.push(vec![Seg::new(format!("flow {} · Enter opens it", f.short()), Tone::Dim)]);
        }
        bar_skip = lines.len();
        let t0 = s.steps.iter().map(|x| x.start_unix_nano).min().unwrap_or(0);
        let t1 = s.steps.iter().map(|x| x.end_unix_nano).max().unwrap_or(t0).max(t0 + 1);
        let span = (t1 - t0) as f64;
        for (n, step) in s.steps.iter().enumerate() {
            let (mark, tone) = match (step.kind, step.status) {
                (StepKind::Compensation, StepStatus::Error) => ("↺✗", Tone::Bad),
                (StepKind::Compensation, StepStatus::Ok) => ("↺ ", Tone::Moving),
                (StepKind::Timeout, _) => ("⏲ ", Tone::Warn),
                (StepKind::Action, StepStatus::Error) => ("✗ ", Tone::Bad),
                (StepKind::Action, StepStatus::Ok) => ("✓ ", Tone::Good),
            };
            let kind = match step.kind {
                StepKind::Action => "",
                StepKind::Compensation => " (compensation)",
                StepKind::Timeout => " (timeout)",
            };
            lines.push(vec![
                Seg::new(format!("{:>2} ", n + 1), Tone::Dim),
                Seg::new(mark, tone),
                Seg::new(format!(" {}", step.name), Tone::Normal),
                Seg::new(
                    format!(
                        "{kind} · {} · {}",
                        step.service,
                        fmt::dur(step.end_unix_nano.saturating_sub(step.start_unix_nano))
                    ),
                    Tone::Dim,
                ),
            ]);
            bars.push((
                (step.start_unix_nano.saturating_sub(t0)) as f64 / span,
                (step.end_unix_nano.saturating_sub(t0)) as f64 / span,
                tone,
            ));
        }
    }
    lines.truncate(usize::from(bottom.height.saturating_sub(1)));
    SagasVm { table, steps: PaneVm { theme, title, lines }, bars, bar_skip }
}

impl Widget for &SagasVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (top, bottom) = layout::sagas(area);
        self.table.render(top, buf);
        self.steps.render_in(bottom, buf, false);
        let inner = pane_block(self.steps.theme, "", false).inner(bottom);
        let bar_w = inner.width * 2 / 5;
        let bar_x = inner.x + inner.width - bar_w;
        for (i, (from, to, tone)) in self.bars.iter().enumerate() {
            let y = inner.y + (self.bar_skip + i) as u16;
            if y >= inner.y + inner.height || bar_w == 0 {
                break;
            }
            let w = f64::from(bar_w);
            let x0 = ((from * w).floor() as u16).min(bar_w - 1);
            let x1 = ((to * w).ceil() as u16).clamp(x0 + 1, bar_w);
            buf.set_style(Rect::new(bar_x - 1, y, bar_w + 1, 1), Style::new());
            buf.set_string(bar_x - 1, y, " ", Style::new());
            for x in x0..x1 {
                buf.set_string(bar_x + x, y, "━", self.steps.theme.style(*tone));
            }
        }
    }
}
