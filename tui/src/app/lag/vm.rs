//! The Lag screen's view-model: the subscriptions on screen, with rates, queue-time
//! percentiles, backlog and a sparkline of queue time.

use hopscope_collector::analysis::LagStatus;
use hopscope_collector::engine::views::TREND_BUCKET_NS;
use ratatui::layout::Rect;

use crate::app::fmt;
use crate::app::layout;
use crate::app::state::State;
use crate::app::theme::Tone;
use crate::app::vm::{Column, Seg, TableVm, col, plain};

const STATUS_WIDTH: u16 = 13;

fn lag_cell(s: LagStatus) -> Seg {
    match s {
        LagStatus::Ok => Seg::new("✓ ok", Tone::Good),
        LagStatus::Warn => Seg::new("⚠ warn", Tone::Warn),
        LagStatus::Stalled => Seg::new("✗ stalled", Tone::Bad),
        LagStatus::NoConsumer => Seg::new("∅ no consumer", Tone::Dim),
    }
}

/// The status cell's mark for `n` dead letters where there is no DEAD column: `✗n dead`
/// when it fits in the cell beside `status`, else `✗n`.
fn dead_mark(status: &str, n: u64) -> Seg {
    let long = format!(" ✗{n} dead");
    let text = if status.chars().count() + long.chars().count() <= STATUS_WIDTH.into() {
        long
    } else {
        format!(" ✗{n}")
    };
    Seg::new(text, Tone::Bad)
}

/// A sparkline of `values` in `width` characters (max per group), blank for no data.
pub fn sparkline(values: &[Option<u64>], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let groups: Vec<Option<u64>> = (0..width)
        .map(|g| {
            let from = g * values.len() / width;
            let to = ((g + 1) * values.len() / width).max(from + 1).min(values.len());
            values[from..to].iter().flatten().copied().max()
        })
        .collect();
    let max = groups.iter().flatten().copied().max().unwrap_or(0).max(1);
    groups
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(v) => BARS[((*v as f64 / max as f64) * 7.0).round() as usize],
        })
        .collect()
}

/// The Lag table in `body`.
pub fn lag(state: &State, body: Rect) -> TableVm {
    let theme = state.ctx.theme;
    let a = &state.view.analysis;
    let wide = body.width >= 120;
    // Dead letters: a column from 100 columns on; narrower, a mark in the status cell.
    let dead = body.width >= 100;
    let trend_width: u16 = if wide { 30 } else { 10 };
    let mut columns = vec![col("STATUS", STATUS_WIDTH, false), col("SUBSCRIPTION", 0, false)];
    if wide {
        columns.push(col("CONSUMERS", 20, false));
    }
    columns.push(col("RATE/s", 6, true));
    if wide {
        columns.push(col("P50", 7, true));
    }
    columns.push(col("P95", 7, true));
    if wide {
        columns.push(col("MAX", 7, true));
    }
    columns.push(col("BEHIND", 6, true));
    if dead {
        columns.push(col("DEAD", 5, true));
    }
    columns.push(col("OLDEST", 7, true));
    columns.push(Column {
        title: if wide {
            format!("QUEUE TIME, LAST {}", fmt::dur(TREND_BUCKET_NS * 30))
        } else {
            "TREND".to_owned()
        },
        width: trend_width,
        right: false,
        sorted: None,
    });
    let fixed: u16 = columns.iter().map(|c| c.width + 1).sum();
    columns[1].width = body.width.saturating_sub(fixed).max(12);
    let pos = state.lag.pos;
    let rows = state
        .lag
        .order
        .iter()
        .skip(pos.offset)
        .take(layout::list_rows(body))
        .map(|&i| {
            let l = &a.lag[i as usize];
            let trend = state.view.lag_trends.get(i as usize);
            // Deliveries per second over the last minute of the event clock.
            let rate = trend.map_or(0.0, |t| {
                let last = t.max_queue_ns.len().saturating_sub(6);
                t.deliveries[last..].iter().sum::<u64>() as f64 / 60.0
            });
            let mut sub = vec![
                Seg::new(format!("{} ", l.system), Tone::Dim),
                Seg::new(l.destination.clone(), Tone::Normal),
            ];
            match &l.consumer_group {
                Some(g) => {
                    sub.push(Seg::new(" → ", Tone::Dim));
                    sub.push(Seg::new(g.clone(), Tone::Title));
                }
                None => sub.push(Seg::new(" (nobody consumes)", Tone::Dim)),
            }
            if l.skew {
                sub.push(Seg::new(" clock skew", Tone::Warn));
            }
            let mut status = vec![lag_cell(l.status)];
            if !dead && l.dead_lettered > 0 {
                status.push(dead_mark(&status[0].text, l.dead_lettered));
            }
            let mut cells = vec![status, sub];
            if wide {
                cells.push(vec![Seg::new(l.consumer_services.join(", "), Tone::Dim)]);
            }
            cells.push(plain(if rate == 0.0 {
                "0".to_owned()
            } else if rate < 0.1 {
                "<0.1".to_owned()
            } else if rate < 10.0 {
                format!("{rate:.1}")
            } else {
                format!("{rate:.0}")
            }));
            let d = |ns: u64| if l.consumed == 0 { "-".to_owned() } else { fmt::dur(ns) };
            if wide {
                cells.push(plain(d(l.p50_ns)));
            }
            cells.push(plain(d(l.p95_ns)));
            if wide {
                cells.push(plain(d(l.max_ns)));
            }
            cells.push(vec![Seg::new(
                l.unconsumed.to_string(),
                if l.unconsumed > 0 && l.status != LagStatus::NoConsumer {
                    Tone::Warn
                } else {
                    Tone::Normal
                },
            )]);
            if dead {
                cells.push(vec![Seg::new(
                    l.dead_lettered.to_string(),
                    if l.dead_lettered > 0 { Tone::Bad } else { Tone::Normal },
                )]);
            }
            cells.push(plain(if l.unconsumed == 0 {
                "-".to_owned()
            } else {
                fmt::dur(l.oldest_unconsumed_age_ns)
            }));
            let tone = match l.status {
                LagStatus::Stalled => Tone::Bad,
                LagStatus::Warn => Tone::Warn,
                _ => Tone::Async,
            };
            cells.push(vec![Seg::new(
                trend.map_or_else(String::new, |t| {
                    sparkline(&t.max_queue_ns, usize::from(trend_width))
                }),
                tone,
            )]);
            cells
        })
        .collect();
    TableVm {
        theme,
        columns,
        rows,
        selected: (!state.lag.order.is_empty()).then(|| pos.selected - pos.offset),
        empty: vec![
            "No messaging seen yet: lag appears once a producer and a consumer are linked."
                .to_owned(),
        ],
    }
}
