//! The flow detail's layout: one timeline across every trace of a flow, and the same flow as
//! a sequence diagram.
//!
//! Rows are laid out depth first from the root trace: sync children indented under their
//! parent, and after a producer span each of its hops as a connector row (`⇢ 1.24s in kafka
//! orders`) with the consumer's trace indented under it. A trace reached by several hops is
//! laid out once (the other connectors say it is shown above); traces no held hop leads to
//! follow at the end, each behind a boundary row. The critical path runs from the root
//! through, at each step, the child (sync or async) whose work ends last.
//!
//! Built in `update` when a detail or the collapsed set changes, never while drawing.

use std::collections::{BTreeMap, BTreeSet};

use hopscope_collector::analysis::{Hop, SpanId, TraceId};
use hopscope_collector::engine::views::{DetailSpan, FlowDetail};

/// A span named by its ids.
pub type SpanKey = (TraceId, SpanId);

/// The key of a span of the detail.
pub fn key_of(s: &DetailSpan) -> SpanKey {
    (s.trace_id, s.span_id)
}

/// What a row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// `detail.spans[span]`.
    Span { span: usize, has_children: bool, collapsed: bool },
    /// `detail.hops[hop]`; `shown_above` when its consumer's trace was laid out earlier.
    Hop { hop: usize, new_trace: bool, shown_above: bool },
    /// The start of `detail.traces[trace]`, reached by no held hop.
    Trace { trace: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub kind: RowKind,
    pub depth: u16,
    /// On the critical path.
    pub critical: bool,
    /// Where the row's bar starts and ends (unix ns): the span, or producer end to consumer
    /// start for a hop.
    pub start: u64,
    pub end: u64,
}

/// The laid-out timeline of one detail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    pub rows: Vec<Row>,
    /// The time window the bars are drawn in.
    pub start: u64,
    pub end: u64,
}

impl Timeline {
    /// The row showing span `key`, if it is visible.
    pub fn row_of(&self, detail: &FlowDetail, key: &SpanKey) -> Option<usize> {
        self.rows.iter().position(|r| match r.kind {
            RowKind::Span { span, .. } => {
                let s = &detail.spans[span];
                s.trace_id == key.0 && s.span_id == key.1
            }
            _ => false,
        })
    }
}

enum Work {
    Span(usize, u16),
    Hop(usize, u16),
    Trace(usize, u16),
}

/// Index of the detail's spans and hops.
struct Index {
    by_key: BTreeMap<(TraceId, SpanId), usize>,
    children: Vec<Vec<usize>>,
    /// Per span: hops it produced whose consumer is shown.
    hops_from: Vec<Vec<usize>>,
    roots: BTreeMap<TraceId, Vec<usize>>,
}

fn index(d: &FlowDetail) -> Index {
    let mut by_key = BTreeMap::new();
    for (i, s) in d.spans.iter().enumerate() {
        by_key.insert((s.trace_id, s.span_id), i);
    }
    let mut children = vec![Vec::new(); d.spans.len()];
    let mut roots: BTreeMap<TraceId, Vec<usize>> = BTreeMap::new();
    for (i, s) in d.spans.iter().enumerate() {
        let parent = s
            .parent_span_id
            .and_then(|p| by_key.get(&(s.trace_id, p)).copied())
            .filter(|&p| p != i);
        match parent {
            Some(p) => children[p].push(i),
            None => roots.entry(s.trace_id).or_default().push(i),
        }
    }
    let mut hops_from = vec![Vec::new(); d.spans.len()];
    for (h, hop) in d.hops.iter().enumerate() {
        let p = by_key.get(&(hop.producer.trace_id, hop.producer.span_id));
        let c = by_key.get(&(hop.consumer.trace_id, hop.consumer.span_id));
        if let (Some(&p), Some(_)) = (p, c) {
            hops_from[p].push(h);
        }
    }
    Index { by_key, children, hops_from, roots }
}

fn consumer_of(ix: &Index, hop: &Hop) -> Option<usize> {
    ix.by_key.get(&(hop.consumer.trace_id, hop.consumer.span_id)).copied()
}

/// Lays out `detail`, leaving the subtrees of `collapsed` spans folded.
pub fn build(detail: &FlowDetail, collapsed: &BTreeSet<SpanKey>) -> Timeline {
    let ix = index(detail);
    let spans = &detail.spans;
    let mut rows = Vec::with_capacity(spans.len() + detail.hops.len());
    let mut placed_span = vec![false; spans.len()];
    let mut placed_trace: BTreeSet<TraceId> = BTreeSet::new();

    let mut stack: Vec<Work> = Vec::new();
    // The root trace first, then every other trace nothing leads to, in order.
    let mut pending: Vec<usize> = (0..detail.traces.len()).rev().collect();
    loop {
        let Some(work) = stack.pop() else {
            let Some(t) = pending.pop() else { break };
            if placed_trace.contains(&detail.traces[t]) {
                continue;
            }
            if t == 0 {
                placed_trace.insert(detail.traces[0]);
                for &r in ix.roots.get(&detail.traces[0]).into_iter().flatten().rev() {
                    stack.push(Work::Span(r, 0));
                }
            } else {
                stack.push(Work::Trace(t, 0));
            }
            continue;
        };
        match work {
            Work::Trace(t, depth) => {
                let id = detail.traces[t];
                placed_trace.insert(id);
                let roots = ix.roots.get(&id).map_or(&[][..], Vec::as_slice);
                let (start, end) = bounds(roots.iter().map(|&r| &spans[r]));
                rows.push(Row {
                    kind: RowKind::Trace { trace: t },
                    depth,
                    critical: false,
                    start,
                    end,
                });
                for &r in roots.iter().rev() {
                    stack.push(Work::Span(r, depth.saturating_add(1)));
                }
            }
            Work::Span(s, depth) => {
                if placed_span[s] {
                    continue;
                }
                placed_span[s] = true;
                let span = &spans[s];
                let has_children = !ix.children[s].is_empty() || !ix.hops_from[s].is_empty();
                let folded = has_children && collapsed.contains(&key_of(span));
                rows.push(Row {
                    kind: RowKind::Span { span: s, has_children, collapsed: folded },
                    depth,
                    critical: false,
                    start: span.start_unix_nano,
                    end: span.end_unix_nano.max(span.start_unix_nano),
                });
                if folded {
                    hide(&ix, detail, s, &mut placed_span, &mut placed_trace);
                    continue;
                }
                // Children and hops, by start; a hop's connector just before its consumer.
                let mut items: Vec<(u64, u8, Work)> = Vec::new();
                for &c in &ix.children[s] {
                    items.push((
                        spans[c].start_unix_nano,
                        1,
                        Work::Span(c, depth.saturating_add(1)),
                    ));
                }
                for &h in &ix.hops_from[s] {
                    let at =
                        consumer_of(&ix, &detail.hops[h]).map_or(0, |c| spans[c].start_unix_nano);
                    items.push((at, 0, Work::Hop(h, depth.saturating_add(1))));
                }
                items.sort_by_key(|(t, order, _)| (*t, *order));
                for (_, _, w) in items.into_iter().rev() {
                    stack.push(w);
                }
            }
            Work::Hop(h, depth) => {
                let hop = &detail.hops[h];
                let Some(c) = consumer_of(&ix, hop) else { continue };
                let producer = ix.by_key.get(&(hop.producer.trace_id, hop.producer.span_id));
                let start = producer.map_or(spans[c].start_unix_nano, |&p| spans[p].end_unix_nano);
                let end = spans[c].start_unix_nano.max(start);
                let new_trace = hop.consumer.trace_id != hop.producer.trace_id;
                let consumer_trace = hop.consumer.trace_id;
                let shown_above =
                    if new_trace { placed_trace.contains(&consumer_trace) } else { placed_span[c] };
                rows.push(Row {
                    kind: RowKind::Hop { hop: h, new_trace, shown_above },
                    depth,
                    critical: false,
                    start,
                    end,
                });
                if new_trace && !shown_above {
                    placed_trace.insert(consumer_trace);
                    let roots = ix.roots.get(&consumer_trace).map_or(&[][..], Vec::as_slice);
                    for &r in roots.iter().rev() {
                        stack.push(Work::Span(r, depth.saturating_add(1)));
                    }
                }
            }
        }
    }
    // Spans in parent cycles are reachable from no root: show them at the end.
    for (s, span) in spans.iter().enumerate() {
        if !placed_span[s] && !collapsed_ancestor(&ix, spans, s, collapsed) {
            rows.push(Row {
                kind: RowKind::Span { span: s, has_children: false, collapsed: false },
                depth: 0,
                critical: false,
                start: span.start_unix_nano,
                end: span.end_unix_nano.max(span.start_unix_nano),
            });
        }
    }
    mark_critical(&mut rows);
    let (start, end) = window(detail, &rows);
    Timeline { rows, start, end }
}

/// Marks everything under the folded span `s` (children, and the traces its hops lead to)
/// as placed, so it is neither shown nor laid out again as an orphan.
fn hide(
    ix: &Index,
    detail: &FlowDetail,
    s: usize,
    placed_span: &mut [bool],
    placed_trace: &mut BTreeSet<TraceId>,
) {
    let mut stack: Vec<usize> = ix.children[s].clone();
    for &h in &ix.hops_from[s] {
        let hop = &detail.hops[h];
        if hop.consumer.trace_id != hop.producer.trace_id
            && placed_trace.insert(hop.consumer.trace_id)
        {
            stack.extend(ix.roots.get(&hop.consumer.trace_id).into_iter().flatten());
        }
    }
    while let Some(c) = stack.pop() {
        if placed_span[c] {
            continue;
        }
        placed_span[c] = true;
        stack.extend(&ix.children[c]);
        for &h in &ix.hops_from[c] {
            let hop = &detail.hops[h];
            if hop.consumer.trace_id != hop.producer.trace_id
                && placed_trace.insert(hop.consumer.trace_id)
            {
                stack.extend(ix.roots.get(&hop.consumer.trace_id).into_iter().flatten());
            }
        }
    }
}

/// Whether some ancestor of `s` is folded (then `s` is hidden, not lost).
fn collapsed_ancestor(
    ix: &Index,
    spans: &[DetailSpan],
    s: usize,
    collapsed: &BTreeSet<SpanKey>,
) -> bool {
    let mut cur = s;
    for _ in 0..spans.len() {
        let span = &spans[cur];
        let Some(p) = span.parent_span_id.and_then(|p| ix.by_key.get(&(span.trace_id, p)).copied())
        else {
            return false;
        };
        if collapsed.contains(&key_of(&spans[p])) {
            return true;
        }
        cur = p;
    }
    false
}

fn bounds<'a>(spans: impl Iterator<Item = &'a DetailSpan>) -> (u64, u64) {
    let mut start = u64::MAX;
    let mut end = 0;
    for s in spans {
        start = start.min(s.start_unix_nano);
        end = end.max(s.end_unix_nano);
    }
    if start == u64::MAX { (0, 0) } else { (start, end.max(start)) }
}

fn window(detail: &FlowDetail, rows: &[Row]) -> (u64, u64) {
    let (mut start, mut end) = bounds(detail.spans.iter());
    if let Some(f) = &detail.flow {
        start = start.min(f.start_unix_nano);
        end = end.max(f.end_unix_nano);
    }
    for r in rows {
        end = end.max(r.end);
    }
    (start, end.max(start))
}

/// Marks the critical path: from the first row, repeatedly the direct child whose subtree
/// ends last.
fn mark_critical(rows: &mut [Row]) {
    let count = rows.len();
    if count == 0 {
        return;
    }
    let own_end = |r: &Row| match r.kind {
        RowKind::Span { .. } | RowKind::Hop { .. } => r.end,
        RowKind::Trace { .. } => 0,
    };
    // The latest end in each row's subtree, from the bottom up: the rows still on the stack
    // deeper than a row are its children (their subtrees already folded in).
    let mut sub_end = vec![0u64; count];
    let mut stack: Vec<(u16, u64)> = Vec::new();
    for row in (0..count).rev() {
        let depth = rows[row].depth;
        let mut end = own_end(&rows[row]);
        while let Some(&(child_depth, child_end)) = stack.last() {
            if child_depth <= depth {
                break;
            }
            end = end.max(child_end);
            stack.pop();
        }
        stack.push((depth, end));
        sub_end[row] = end;
    }
    let mut at = 0;
    loop {
        rows[at].critical = true;
        let depth = rows[at].depth;
        let mut best: Option<usize> = None;
        let mut next = at + 1;
        while next < count && rows[next].depth > depth {
            if rows[next].depth == depth + 1 && best.is_none_or(|b| sub_end[next] > sub_end[b]) {
                best = Some(next);
            }
            next += 1;
        }
        match best {
            Some(b) => at = b,
            None => break,
        }
    }
}

/// One arrow of the sequence diagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqMessage {
    pub from: usize,
    pub to: usize,
    pub label: String,
    /// An asynchronous hop (dashed), not a call (solid).
    pub event: bool,
    pub error: bool,
    pub time: u64,
    /// The span the arrow ends at (the server or the consumer).
    pub span: Option<usize>,
}

/// The flow as a sequence diagram: a column per service, calls and events in time order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sequence {
    pub participants: Vec<String>,
    pub messages: Vec<SeqMessage>,
}

/// Builds the sequence diagram of `detail`: a call for every span whose parent is in another
/// service, an event for every hop.
pub fn sequence(detail: &FlowDetail) -> Sequence {
    let ix = index(detail);
    let spans = &detail.spans;
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| (spans[i].start_unix_nano, i));
    let mut participants: Vec<String> = Vec::new();
    let column = |name: &str, participants: &mut Vec<String>| {
        participants.iter().position(|p| p == name).unwrap_or_else(|| {
            participants.push(name.to_owned());
            participants.len() - 1
        })
    };
    for &i in &order {
        column(&spans[i].service, &mut participants);
    }
    let mut messages = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        let parent = s.parent_span_id.and_then(|p| ix.by_key.get(&(s.trace_id, p)).copied());
        let Some(p) = parent else { continue };
        if spans[p].service == s.service || s.kind == "consumer" {
            continue;
        }
        messages.push(SeqMessage {
            from: column(&spans[p].service, &mut participants),
            to: column(&s.service, &mut participants),
            label: s.name.clone(),
            event: false,
            error: s.error,
            time: s.start_unix_nano,
            span: Some(i),
        });
    }
    // Calls out of the traced world (a database, a payment provider): to the peer the
    // client span names.
    for (i, s) in spans.iter().enumerate() {
        if s.kind != "client" || ix.children[i].iter().any(|&c| spans[c].service != s.service) {
            continue;
        }
        let peer = ["peer.service", "server.address", "db.system", "rpc.service"]
            .iter()
            .find_map(|k| s.attributes.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()));
        let Some(peer) = peer else { continue };
        messages.push(SeqMessage {
            from: column(&s.service, &mut participants),
            to: column(&peer, &mut participants),
            label: s.name.clone(),
            event: false,
            error: s.error,
            time: s.start_unix_nano,
            span: Some(i),
        });
    }
    for hop in &detail.hops {
        let c = consumer_of(&ix, hop);
        let time = c.map_or(0, |c| spans[c].start_unix_nano);
        messages.push(SeqMessage {
            from: column(&hop.producer.service, &mut participants),
            to: column(&hop.consumer.service, &mut participants),
            label: format!(
                "{} {} ({})",
                hop.system,
                hop.destination,
                crate::app::fmt::dur(hop.queue_ns)
            ),
            event: true,
            error: c.is_some_and(|c| spans[c].error),
            time,
            span: c,
        });
    }
    messages.sort_by_key(|m| (m.time, m.event, m.from, m.to));
    Sequence { participants, messages }
}
