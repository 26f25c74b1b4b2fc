//! The flow detail's view-model: its title, the timeline rows (or the sequence diagram's)
//! on screen, and the selected span's pane (links, attributes, events, logs).

use hopscope_collector::analysis::TraceId;
use hopscope_collector::engine::views::{DetailSpan, FlowDetail, SpanPointer};
use ratatui::layout::Rect;

use super::DetailState;
use super::timeline::RowKind;
use crate::app::flows::vm::status_cell;
use crate::app::fmt;
use crate::app::layout;
use crate::app::state::State;
use crate::app::theme::{Theme, Tone};
use crate::app::vm::{Line, PaneVm, Seg, plain};

/// One row of the flow timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRowVm {
    pub label: Line,
    pub duration: String,
    /// The bar as fractions of the flow's window.
    pub from: f64,
    pub to: f64,
    pub bar: BarKind,
    pub critical: bool,
    pub error: bool,
    pub selected: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    Span,
    Hop,
    None,
}

/// The flow detail: title, timeline or sequence diagram, span pane.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailVm {
    pub theme: Theme,
    pub title: Line,
    pub body: DetailBody,
    pub pane: PaneVm,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DetailBody {
    Waiting(String),
    Timeline { rows: Vec<TimelineRowVm>, label_width: u16 },
    Sequence(SequenceVm),
}

/// The sequence diagram: a column per service, one arrow per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceVm {
    pub participants: Vec<String>,
    pub rows: Vec<SeqRowVm>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqRowVm {
    pub from: usize,
    pub to: usize,
    pub label: String,
    pub event: bool,
    pub error: bool,
    pub selected: bool,
    pub time: String,
}

fn span_glyph(s: &DetailSpan) -> (&'static str, Tone) {
    if s.error {
        return ("✗ ", Tone::Bad);
    }
    match s.kind {
        "producer" => ("↗ ", Tone::Async),
        "consumer" => ("↘ ", Tone::Async),
        "client" => ("→ ", Tone::Dim),
        "server" => ("▸ ", Tone::Dim),
        _ => ("· ", Tone::Dim),
    }
}

fn detail_title(d: &DetailState, detail: Option<&FlowDetail>) -> Line {
    let Some(detail) = detail else {
        return vec![Seg::new(" flow detail", Tone::Title)];
    };
    let mut t = Vec::new();
    match &detail.flow {
        Some(f) => {
            t.push(Seg::new(format!(" flow {} ", f.id.short()), Tone::Title));
            t.push(status_cell(f.status));
            if !d.back.is_empty() {
                t.push(Seg::new(
                    format!("  ↩ followed {} link(s), Esc goes back", d.back.len()),
                    Tone::Accent,
                ));
            }
            t.push(Seg::new(format!("  {} {}", f.root.service, f.root.name), Tone::Normal));
            t.push(Seg::new(
                format!(
                    " · {} traces · {} services · {} hops · {}",
                    f.traces.len(),
                    f.services.len(),
                    f.hop_count,
                    fmt::dur(f.duration_ns)
                ),
                Tone::Dim,
            ));
            t.push(Seg::new(
                format!(
                    " (caller waited {}, settled +{})",
                    fmt::dur(f.root_duration_ns),
                    fmt::dur(f.settled_after_ns)
                ),
                Tone::Dim,
            ));
            if let Some(r) = &f.stuck_reason {
                t.push(Seg::new(format!(" ⚠ {r}"), Tone::Warn));
            }
        }
        None => t.push(Seg::new(
            format!(
                " trace {} (in no flow)",
                detail.traces.first().map(TraceId::short).unwrap_or_default()
            ),
            Tone::Title,
        )),
    }
    if !detail.missing_traces.is_empty() {
        t.push(Seg::new(format!(" · {} traces evicted", detail.missing_traces.len()), Tone::Warn));
    }
    if detail.truncated {
        t.push(Seg::new(" · truncated", Tone::Warn));
    }
    t
}

/// The detail open over the screen, in `body`.
pub fn detail(state: &State, body: Rect) -> DetailVm {
    let theme = state.ctx.theme;
    let Some(d) = &state.detail else {
        return DetailVm {
            theme,
            title: Vec::new(),
            body: DetailBody::Waiting(String::new()),
            pane: PaneVm { theme, title: String::new(), lines: Vec::new() },
        };
    };
    let (left, right) = layout::detail(body);
    let detail = d.detail.as_deref();
    let title = detail_title(d, detail);
    let Some(detail) = detail else {
        return DetailVm {
            theme,
            title,
            body: DetailBody::Waiting(
                "waiting for the engine to send this flow's spans…".to_owned(),
            ),
            pane: PaneVm { theme, title: "span".to_owned(), lines: Vec::new() },
        };
    };
    let page = layout::list_rows(left);
    let pos = d.pos;
    let body_vm = if d.sequence_mode {
        DetailBody::Sequence(SequenceVm {
            participants: d.sequence.participants.clone(),
            rows: d
                .sequence
                .messages
                .iter()
                .enumerate()
                .skip(pos.offset)
                .take(page)
                .map(|(i, m)| SeqRowVm {
                    from: m.from,
                    to: m.to,
                    label: m.label.clone(),
                    event: m.event,
                    error: m.error,
                    selected: i == pos.selected,
                    time: format!("+{}", fmt::dur(m.time.saturating_sub(d.timeline.start))),
                })
                .collect(),
        })
    } else {
        let label_width = (left.width * 9 / 20).max(20);
        let window = d.timeline.end.saturating_sub(d.timeline.start).max(1) as f64;
        let frac = |t: u64| (t.saturating_sub(d.timeline.start) as f64 / window).clamp(0.0, 1.0);
        let max_indent = usize::from(label_width / 6);
        let indent_unit = if label_width >= 50 { "  " } else { " " };
        let rows = d
            .timeline
            .rows
            .iter()
            .enumerate()
            .skip(pos.offset)
            .take(page)
            .map(|(i, r)| {
                let indent = indent_unit.repeat(usize::from(r.depth).min(max_indent));
                let (label, duration, bar, error) = match r.kind {
                    RowKind::Span { span, has_children, collapsed } => {
                        let s = &detail.spans[span];
                        let fold = if !has_children {
                            "  "
                        } else if collapsed {
                            "▸ "
                        } else {
                            "▾ "
                        };
                        let (glyph, tone) = span_glyph(s);
                        let mut l = vec![
                            Seg::new(format!("{indent}{fold}"), Tone::Dim),
                            Seg::new(glyph, tone),
                            Seg::new(s.service.clone(), Tone::Title),
                            Seg::new(
                                format!(" {}", s.name),
                                if s.error { Tone::Bad } else { Tone::Normal },
                            ),
                        ];
                        if collapsed {
                            l.push(Seg::new(" …", Tone::Dim));
                        }
                        (
                            l,
                            fmt::dur(s.end_unix_nano.saturating_sub(s.start_unix_nano)),
                            BarKind::Span,
                            s.error,
                        )
                    }
                    RowKind::Hop { hop, new_trace, shown_above } => {
                        let h = &detail.hops[hop];
                        let mut l = vec![
                            Seg::new(format!("{indent}  "), Tone::Dim),
                            Seg::new(
                                format!(
                                    "⇢ {} in {} {}",
                                    fmt::dur(h.queue_ns),
                                    h.system,
                                    h.destination
                                ),
                                Tone::Async,
                            ),
                        ];
                        if h.skew {
                            l.push(Seg::new(" clock skew", Tone::Warn));
                        }
                        if shown_above {
                            l.push(Seg::new(" (trace shown above)", Tone::Dim));
                        } else if new_trace {
                            l.push(Seg::new(
                                format!(" ┈ new trace {}", h.consumer.trace_id.short()),
                                Tone::Dim,
                            ));
                        }
                        l.push(Seg::new(format!(" ({})", h.via.as_str()), Tone::Dim));
                        (l, String::new(), BarKind::Hop, false)
                    }
                    RowKind::Trace { trace } => (
                        vec![
                            Seg::new(indent, Tone::Dim),
                            Seg::new(
                                format!(
                                    "┈ trace {} (no held hop leads here)",
                                    detail.traces[trace].short()
                                ),
                                Tone::Dim,
                            ),
                        ],
                        String::new(),
                        BarKind::None,
                        false,
                    ),
                };
                TimelineRowVm {
                    label,
                    duration,
                    from: frac(r.start),
                    to: frac(r.end),
                    bar,
                    critical: r.critical,
                    error,
                    selected: i == pos.selected,
                }
            })
            .collect();
        DetailBody::Timeline { rows, label_width }
    };
    let pane = span_pane(state, d, detail, right);
    DetailVm { theme, title, body: body_vm, pane }
}

fn kv_lines(out: &mut Vec<Line>, kv: &[(String, String)], indent: &str) {
    for (k, v) in kv {
        out.push(vec![
            Seg::new(format!("{indent}{k} "), Tone::Dim),
            Seg::new(v.clone(), Tone::Normal),
        ]);
    }
}

/// How many lines the selected span's pane holds, whole.
pub fn span_pane_len(open: &DetailState) -> usize {
    open.detail.as_deref().map_or(0, |detail| span_pane_lines(open, detail).1.len())
}

/// The span pane: the part of the selected span's lines that fits `area`, from the line
/// `open.pane_scroll`; a line says how many more are below.
fn span_pane(state: &State, open: &DetailState, detail: &FlowDetail, area: Rect) -> PaneVm {
    let theme = state.ctx.theme;
    let (mut title, mut lines) = span_pane_lines(open, detail);
    let page = layout::span_pane_page(area);
    let offset = open.pane_scroll.min(lines.len().saturating_sub(page));
    if offset > 0 {
        title = format!("↑{offset} {title}");
    }
    let below = lines.len().saturating_sub(offset + page);
    lines.drain(..offset);
    if below > 0 {
        lines.truncate(page.saturating_sub(1));
        lines.push(vec![Seg::new(format!("↓ {} more · J/K scroll", below + 1), Tone::Accent)]);
    }
    PaneVm { theme, title, lines }
}

/// The selected span's title and every line of its pane.
fn span_pane_lines(open: &DetailState, detail: &FlowDetail) -> (String, Vec<Line>) {
    let Some(index) = open.selected_span() else {
        let lines = match open.timeline.rows.get(open.pos.selected).map(|r| r.kind) {
            Some(RowKind::Trace { trace }) => {
                vec![plain(format!("trace {}", detail.traces[trace]))]
            }
            _ => vec![plain("select a span")],
        };
        return ("span".to_owned(), lines);
    };
    let s = &detail.spans[index];
    let t0 = open.timeline.start;
    let mut lines: Vec<Line> = Vec::new();
    let status = if s.error {
        Seg::new(format!("✗ error {}", s.status_message), Tone::Bad)
    } else {
        Seg::new("✓ ok", Tone::Good)
    };
    lines.push(vec![
        Seg::new(s.kind, Tone::Dim),
        Seg::new(
            format!(" {} ", fmt::dur(s.end_unix_nano.saturating_sub(s.start_unix_nano))),
            Tone::Normal,
        ),
        Seg::new(format!("at +{} ", fmt::dur(s.start_unix_nano.saturating_sub(t0))), Tone::Dim),
        status,
    ]);
    lines.push(vec![
        Seg::new("trace ", Tone::Dim),
        Seg::new(s.trace_id.to_string(), Tone::Normal),
        Seg::new(" span ", Tone::Dim),
        Seg::new(s.span_id.to_string(), Tone::Normal),
    ]);
    // Links first: they are what the pane is for when hopping between traces.
    let mut n = 0;
    let link_line = |n: usize, arrow: &str, p: &SpanPointer| {
        let here = open.link_cursor == Some(n);
        let outside = !detail.traces.contains(&p.trace_id);
        let mut l = vec![
            Seg::new(if here { "▶ " } else { "  " }, Tone::Accent),
            Seg::new(format!("{arrow} "), Tone::Async),
            Seg::new(
                p.label.clone().unwrap_or_else(|| "(not held)".to_owned()),
                if here { Tone::Accent } else { Tone::Normal },
            ),
            Seg::new(format!(" {}/{}", p.trace_id.short(), p.span_id.short()), Tone::Dim),
        ];
        if outside {
            l.push(Seg::new(" other flow", Tone::Warn));
        }
        l
    };
    if !s.links.is_empty() || !s.backlinks.is_empty() {
        lines.push(vec![Seg::new("links (n: next, Enter: follow)", Tone::Title)]);
        for p in &s.links {
            lines.push(link_line(n, "→ links to", p));
            n += 1;
        }
        for p in &s.backlinks {
            lines.push(link_line(n, "← linked from", p));
            n += 1;
        }
    }
    if !s.attributes.is_empty() {
        lines.push(vec![Seg::new("attributes", Tone::Title)]);
        kv_lines(&mut lines, &s.attributes, "  ");
    }
    if !s.events.is_empty() {
        lines.push(vec![Seg::new("events", Tone::Title)]);
        for e in &s.events {
            lines.push(vec![
                Seg::new(
                    format!("  +{} ", fmt::dur(e.time_unix_nano.saturating_sub(s.start_unix_nano))),
                    Tone::Dim,
                ),
                Seg::new(e.name.clone(), Tone::Normal),
            ]);
            kv_lines(&mut lines, &e.attributes, "    ");
        }
    }
    if !s.logs.is_empty() {
        lines.push(vec![Seg::new("logs", Tone::Title)]);
        for l in &s.logs {
            let tone = match l.severity.as_str() {
                "ERROR" | "FATAL" => Tone::Bad,
                "WARN" => Tone::Warn,
                _ => Tone::Normal,
            };
            lines.push(vec![
                Seg::new(
                    format!("  +{} ", fmt::dur(l.time_unix_nano.saturating_sub(s.start_unix_nano))),
                    Tone::Dim,
                ),
                Seg::new(format!("{} ", l.severity), tone),
                Seg::new(l.body.clone(), Tone::Normal),
            ]);
            kv_lines(&mut lines, &l.attributes, "    ");
        }
    }
    (format!("{} {}", s.service, s.name), lines)
}
