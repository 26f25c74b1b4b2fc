//! The flow detail, opened over a screen (Enter on a flow, a saga, an insight): every span
//! and hop of the flow on one timeline, or as a sequence diagram (`s`), and the selected
//! span's pane (attributes, events, logs, links to follow). Here: its state and how it takes
//! in the engine's answer; the layout of the rows in [`timeline`], its keys in [`keys`], its
//! view-model in [`vm`] and its widget in [`widget`].

pub mod keys;
pub mod timeline;
pub mod vm;
pub mod widget;

use std::collections::BTreeSet;
use std::sync::Arc;

use hopscope_collector::engine::views::{DetailTarget, FlowDetail, View};

use self::timeline::{RowKind, Sequence, SpanKey, Timeline};
use super::list::ListPos;
use super::msg::Intent;
use super::screen::Screen;
use crate::flow_export::{self, ExportFormat};

/// The flow detail, open over a screen.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailState {
    pub target: DetailTarget,
    /// Where Esc goes when `back` is empty.
    pub return_to: Screen,
    /// Details left by following links, most recent last.
    pub back: Vec<(DetailTarget, Option<SpanKey>)>,
    /// The engine's answer, once it came.
    pub detail: Option<Arc<FlowDetail>>,
    pub timeline: Timeline,
    pub sequence: Sequence,
    pub collapsed: BTreeSet<SpanKey>,
    pub pos: ListPos,
    pub selected_key: Option<SpanKey>,
    /// A span to select when the detail arrives (after following a link).
    pub pending_select: Option<SpanKey>,
    /// Sequence-diagram mode (`s`).
    pub sequence_mode: bool,
    /// The link or backlink of the selected span that Enter follows.
    pub link_cursor: Option<usize>,
    /// Lines of the span pane scrolled past (`J`/`K`); back to 0 when the selection moves.
    pub pane_scroll: usize,
    /// Export once the detail arrives.
    pub pending_export: Option<ExportFormat>,
}

impl DetailState {
    pub fn new(target: DetailTarget, return_to: Screen) -> Self {
        Self {
            target,
            return_to,
            back: Vec::new(),
            detail: None,
            timeline: Timeline::default(),
            sequence: Sequence::default(),
            collapsed: BTreeSet::new(),
            pos: ListPos::default(),
            selected_key: None,
            pending_select: None,
            sequence_mode: false,
            link_cursor: None,
            pane_scroll: 0,
            pending_export: None,
        }
    }

    /// The selected span, if a span row is selected.
    pub fn selected_span(&self) -> Option<usize> {
        let d = self.detail.as_deref()?;
        if self.sequence_mode {
            return self
                .sequence
                .messages
                .get(self.pos.selected)?
                .span
                .filter(|&s| s < d.spans.len());
        }
        match self.timeline.rows.get(self.pos.selected)?.kind {
            RowKind::Span { span, .. } => Some(span),
            RowKind::Hop { hop, .. } => {
                let h = &d.hops[hop];
                d.spans.iter().position(|s| {
                    s.trace_id == h.consumer.trace_id && s.span_id == h.consumer.span_id
                })
            }
            RowKind::Trace { .. } => None,
        }
    }

    /// Rows of the timeline, or of the sequence diagram in sequence mode.
    pub fn rows(&self) -> usize {
        if self.sequence_mode { self.sequence.messages.len() } else { self.timeline.rows.len() }
    }

    /// Takes the view's detail when it answers the open one, and lays it out (`page`: rows
    /// on screen). An export asked for before the detail came is made now.
    pub fn derive(&mut self, view: &View, page: usize) -> Option<Intent> {
        let d = self;
        let fresh = view.detail.as_ref().filter(|x| x.target == d.target);
        if let Some(fresh) = fresh {
            d.detail = Some(Arc::clone(fresh));
        }
        let detail = d.detail.clone()?;
        d.timeline = timeline::build(&detail, &d.collapsed);
        d.sequence = timeline::sequence(&detail);
        if let Some(key) = d.pending_select.take() {
            if d.timeline.row_of(&detail, &key).is_none() {
                d.collapsed.clear();
                d.timeline = timeline::build(&detail, &d.collapsed);
            }
            d.selected_key = Some(key);
            d.link_cursor = None;
        }
        if let Some(key) = &d.selected_key
            && let Some(row) = d.timeline.row_of(&detail, key)
            && !d.sequence_mode
        {
            d.pos.selected = row;
        }
        let rows = d.rows();
        d.pos.fit(rows, page);
        if !d.sequence_mode {
            d.selected_key = match d.timeline.rows.get(d.pos.selected).map(|r| r.kind) {
                Some(RowKind::Span { span, .. }) => Some(timeline::key_of(&detail.spans[span])),
                _ => d.selected_key.take(),
            };
        }
        let format = d.pending_export.take()?;
        Some(Intent::Export(flow_export::build(&detail, format)))
    }
}
