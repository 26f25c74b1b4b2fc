//! The Events screen's view-model and widget: the table of events, and under it the board of
//! the selected event (three columns: what emits it, the event, who consumes it and what
//! they do next) or, with `t`, the timeline of a flow carrying it.

use hopscope_collector::analysis::Event;
use hopscope_collector::analysis::catalog::triggered_by;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

use super::{AGGREGATE, COMMAND, EVENT, POLICY};
use crate::app::fmt;
use crate::app::layout;
use crate::app::state::State;
use crate::app::theme::Tone;
use crate::app::vm::{Line, PaneVm, Seg, TableVm, col, plain, width_of};

/// The Events screen: the table above, the board (or timeline) below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsVm {
    pub table: TableVm,
    pub board: PaneVm,
}

/// A sticky note: its symbol and text in the note's tone.
fn note(symbol: &str, text: &str, tone: Tone) -> Seg {
    Seg::new(format!("{symbol} {text}"), tone)
}

/// The Events screen in `body`.
pub fn events(state: &State, body: Rect) -> EventsVm {
    let (top, bottom) = layout::events(body);
    EventsVm { table: table(state, top), board: board(state, bottom) }
}

fn table(state: &State, area: Rect) -> TableVm {
    let events = &state.view.analysis.events;
    let wide = area.width >= 120;
    let mut columns = vec![col("EVENT", 0, false)];
    if wide {
        columns.push(col("SYSTEM", 9, false));
        columns.push(col("MSGS", 6, true));
    }
    columns.push(col("RATE", 8, true));
    if wide {
        columns.push(col("VERSIONS", 10, false));
    }
    columns.push(col("EMITTED BY", if wide { 30 } else { 18 }, false));
    columns.push(col("CONSUMED BY", if wide { 36 } else { 18 }, false));
    let fixed: u16 = columns.iter().map(|c| c.width + 1).sum();
    columns[0].width = area.width.saturating_sub(fixed).max(12);
    let list = &state.events.list;
    let rows = list
        .order
        .iter()
        .skip(list.pos.offset)
        .take(layout::list_rows(area))
        .map(|&i| {
            let e = &events[i as usize];
            let policy = e.producers.iter().any(|p| p.trigger.is_some());
            let mut cells = vec![vec![
                Seg::new(format!("{EVENT} "), Tone::Dim),
                Seg::new(e.name.clone(), Tone::Normal),
            ]];
            if wide {
                cells.push(vec![Seg::new(e.system.clone(), Tone::Dim)]);
                cells.push(plain(fmt::count(e.count)));
            }
            cells.push(plain(fmt::rate(e.rate_per_s)));
            if wide {
                cells.push(plain(e.versions.join(" ")));
            }
            let mut producers: Vec<&str> = e.producers.iter().map(|p| p.service.as_str()).collect();
            producers.dedup();
            let mut emitted = vec![Seg::new(producers.join(", "), Tone::Normal)];
            if policy {
                emitted.push(Seg::new(format!(" {POLICY}"), Tone::Dim));
            }
            cells.push(emitted);
            cells.push(if e.consumers.is_empty() {
                vec![Seg::new("∅ nobody", Tone::Dim)]
            } else {
                let subs: Vec<&str> = e.consumers.iter().map(|c| c.subscription.as_str()).collect();
                plain(subs.join(", "))
            });
            cells
        })
        .collect();
    TableVm {
        theme: state.ctx.theme,
        columns,
        rows,
        selected: (!list.order.is_empty()).then(|| list.pos.selected - list.pos.offset),
        empty: vec![
            "No event seen yet: events appear once a producer span (a publish, a send) arrives."
                .to_owned(),
        ],
    }
}

/// `line` cut or padded to exactly `width` columns.
fn fit(line: &Line, width: usize) -> Line {
    let mut out = Vec::new();
    let mut used = 0;
    for seg in line {
        let w = hopscope_collector::format::width(&seg.text);
        if used + w > width {
            let room = width - used;
            if room > 0 {
                out.push(Seg::new(fmt::fit(&seg.text, room), seg.tone));
                used += hopscope_collector::format::width(&out[out.len() - 1].text);
            }
            break;
        }
        out.push(seg.clone());
        used += w;
    }
    if used < width {
        out.push(Seg::new(" ".repeat(width - used), Tone::Normal));
    }
    out
}

/// The lines left of the event: each producer's command (or policy and its handler) and the
/// aggregate that emits.
fn emitters(e: &Event) -> Vec<Line> {
    let mut out = Vec::new();
    for p in &e.producers {
        if let Some(t) = &p.trigger {
            out.push(vec![note(POLICY, &format!("whenever {t}"), Tone::Policy)]);
        }
        if let Some(c) = &p.command {
            out.push(vec![note(COMMAND, c, Tone::Command)]);
        }
        out.push(vec![
            Seg::new("  ", Tone::Normal),
            note(AGGREGATE, &p.service, Tone::Aggregate),
            Seg::new(format!(" ×{}", fmt::count(p.count)), Tone::Dim),
        ]);
    }
    out
}

/// The lines of the event itself.
fn middle(e: &Event) -> Vec<Line> {
    let mut out = vec![vec![note(EVENT, &e.name, Tone::Event)]];
    out.push(vec![Seg::new(
        format!("{} msgs · {}", fmt::count(e.count), fmt::rate(e.rate_per_s)),
        Tone::Normal,
    )]);
    if !e.versions.is_empty() {
        out.push(vec![
            Seg::new("versions ", Tone::Dim),
            Seg::new(e.versions.join(" "), Tone::Normal),
        ]);
    }
    for d in &e.destinations {
        out.push(vec![Seg::new(format!("{} {d}", e.system), Tone::Dim)]);
    }
    if !e.tables.is_empty() {
        out.push(vec![Seg::new("writes ", Tone::Dim), Seg::new(e.tables.join(", "), Tone::Normal)]);
    }
    out
}

/// The lines right of the event: each consumer, its queue time and errors, and the policies
/// it runs on this event.
fn consumers(events: &[Event], e: &Event) -> Vec<Line> {
    if e.consumers.is_empty() {
        return vec![vec![Seg::new("∅ nobody consumes it", Tone::Dim)]];
    }
    let mut out = Vec::new();
    for c in &e.consumers {
        out.push(vec![
            note(AGGREGATE, &c.service, Tone::Aggregate),
            Seg::new(format!(" via {}", c.subscription), Tone::Dim),
        ]);
        let errors = if c.error_share > 0.0 {
            Seg::new(format!(" ✗{}", fmt::percent(c.error_share)), Tone::Bad)
        } else {
            Seg::new(" ✓", Tone::Good)
        };
        out.push(vec![
            Seg::new(
                format!("  ×{} q95 {}", fmt::count(c.count), fmt::dur(c.queue_p95_ns)),
                Tone::Normal,
            ),
            errors,
        ]);
        for (next, _) in triggered_by(events, &e.name).filter(|(_, p)| p.service == c.service) {
            out.push(vec![
                Seg::new("  ", Tone::Normal),
                note(POLICY, "→", Tone::Policy),
                Seg::new(" ", Tone::Normal),
                note(EVENT, &next.name, Tone::Event),
            ]);
        }
    }
    out
}

fn board(state: &State, area: Rect) -> PaneVm {
    let theme = state.ctx.theme;
    let events = &state.view.analysis.events;
    let Some(e) = state.events.list.selected().map(|i| &events[i]) else {
        return PaneVm { theme, title: "board".to_owned(), lines: Vec::new() };
    };
    if state.events.timeline {
        return timeline(state, e);
    }
    let width = usize::from(area.width.saturating_sub(1));
    let gap = 4;
    let third = width.saturating_sub(2 * gap) / 3;
    let (left, mid, right) = (emitters(e), middle(e), consumers(events, e));
    let titles = [
        vec![Seg::new("COMMANDS · POLICIES", Tone::Dim)],
        vec![Seg::new("EVENT", Tone::Dim)],
        vec![Seg::new("CONSUMERS · THEN", Tone::Dim)],
    ];
    let mut lines = vec![join(&titles, third, gap, false)];
    let rows = left.len().max(mid.len()).max(right.len());
    let empty = Vec::new();
    for i in 0..rows {
        let cells = [
            left.get(i).unwrap_or(&empty).clone(),
            mid.get(i).unwrap_or(&empty).clone(),
            right.get(i).unwrap_or(&empty).clone(),
        ];
        lines.push(join(&cells, third, gap, i == 0));
    }
    PaneVm {
        theme, title: format!("board · {} · Enter: its flows · t: timeline", e.name), lines
    }
}

/// Three cells side by side, `arrows` between them on the first row.
fn join(cells: &[Line; 3], width: usize, gap: usize, arrows: bool) -> Line {
    let mut out = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        out.extend(fit(cell, width));
        if i < 2 {
            let sep = if arrows { " ─▶ " } else { "    " };
            out.push(Seg::new(format!("{sep:<gap$}"), Tone::Dim));
        }
    }
    // Trailing blanks would only pad the pane.
    while out.last().is_some_and(|s: &Seg| s.text.trim().is_empty()) {
        out.pop();
    }
    if width_of(&out) == 0 {
        out.push(Seg::new("", Tone::Normal));
    }
    out
}

/// The events of the flow carrying `e`, in the order they were sent.
fn timeline(state: &State, e: &Event) -> PaneVm {
    let theme = state.ctx.theme;
    let Some(row) = state.events.flow.and_then(|i| state.view.flows.get(i)) else {
        return PaneVm {
            theme,
            title: format!("timeline · {}", e.name),
            lines: vec![vec![Seg::new("no flow held now carries this event", Tone::Dim)]],
        };
    };
    let f = &row.flow;
    let start = row.facts.events.first().map_or(f.start_unix_nano, |x| x.at_unix_nano);
    let lines = row
        .facts
        .events
        .iter()
        .map(|x| {
            let tone = if x.name == e.name { Tone::Event } else { Tone::Normal };
            let mut line = vec![
                Seg::new(fmt::clock_ms(x.at_unix_nano), Tone::Dim),
                Seg::new(format!(" +{:<7} ", fmt::dur(x.at_unix_nano - start)), Tone::Dim),
            ];
            if let Some(t) = &x.trigger {
                line.push(note(POLICY, &format!("whenever {t}"), Tone::Policy));
                line.push(Seg::new(" → ", Tone::Dim));
            }
            line.push(note(
                EVENT,
                &x.name,
                if tone == Tone::Event { Tone::Event } else { Tone::Normal },
            ));
            if !x.version.is_empty() {
                line.push(Seg::new(format!(" {}", x.version), Tone::Dim));
            }
            line.push(Seg::new(" by ", Tone::Dim));
            line.push(note(AGGREGATE, &x.service, Tone::Aggregate));
            line
        })
        .collect();
    PaneVm {
        theme,
        title: format!(
            "timeline · flow {} {} {} · Enter: open · t: board",
            &f.id.to_string()[..8],
            f.root.service,
            f.root.name
        ),
        lines,
    }
}

impl Widget for &EventsVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (top, bottom) = layout::events(area);
        self.table.render(top, buf);
        self.board.render_in(bottom, buf, false);
    }
}
