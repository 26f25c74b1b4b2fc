//! The flow detail's keys: move, fold and unfold, the sequence diagram, links to follow (and
//! back), the span pane's scroll, export.

use hopscope_collector::engine::views::{DetailTarget, ViewRequest};

use super::timeline::{self, RowKind, SpanKey};
use super::vm::span_pane_len;
use crate::app::keys::Action;
use crate::app::layout;
use crate::app::list::ListPos;
use crate::app::msg::Intent;
use crate::app::state::State;
use crate::flow_export;

/// Scrolls the span pane by `step` lines, no further than its last page.
pub fn scroll_pane(state: &mut State, step: isize) {
    let pane = layout::detail(state.body()).1;
    let Some(d) = state.detail.as_mut() else { return };
    let max = span_pane_len(d).saturating_sub(layout::span_pane_page(pane));
    d.pane_scroll = d.pane_scroll.min(max).saturating_add_signed(step).min(max);
}

/// Carries out `action` in the open detail.
pub fn on_key(state: &mut State, action: Action) -> Option<Intent> {
    if let Action::ScrollPane(step) = action {
        scroll_pane(state, step);
        return None;
    }
    let page = state.detail_page();
    let d = state.detail.as_mut()?;
    match action {
        Action::Move(motion) => {
            let rows = d.rows();
            d.pos.jump(motion, rows, page);
            d.link_cursor = None;
            d.pane_scroll = 0;
            d.selected_key = d
                .selected_span()
                .and_then(|s| d.detail.as_ref().map(|x| timeline::key_of(&x.spans[s])));
            None
        }
        Action::Back => {
            if d.link_cursor.is_some() {
                d.link_cursor = None;
                return None;
            }
            if let Some((target, select)) = d.back.pop() {
                d.pane_scroll = 0;
                d.target = target.clone();
                d.detail = None;
                d.collapsed.clear();
                d.pending_select = select;
                state.derive_detail();
                return Some(Intent::Request(ViewRequest::Detail(Some(target))));
            }
            let screen = d.return_to;
            state.detail = None;
            state.screen = screen;
            Some(Intent::Request(ViewRequest::Detail(None)))
        }
        Action::ToggleSequence => {
            d.sequence_mode = !d.sequence_mode;
            d.pos = ListPos::default();
            d.link_cursor = None;
            d.pane_scroll = 0;
            state.derive_detail();
            None
        }
        Action::Fold => toggle_fold(state, Some(true)),
        Action::Unfold => toggle_fold(state, Some(false)),
        Action::NextLink | Action::PreviousLink => {
            let detail = d.detail.clone()?;
            let span = &detail.spans[d.selected_span()?];
            let count = span.links.len() + span.backlinks.len();
            if count == 0 {
                state.message = Some("this span has no links or backlinks".to_owned());
                return None;
            }
            let step = if action == Action::NextLink { 1 } else { count - 1 };
            d.link_cursor = Some(
                d.link_cursor.map_or(if step == 1 { 0 } else { count - 1 }, |c| (c + step) % count),
            );
            None
        }
        Action::ToggleOrFollow => {
            if d.link_cursor.is_some() {
                return follow_link(state);
            }
            toggle_fold(state, None)
        }
        Action::Export(format) => {
            let detail = d.detail.clone()?;
            Some(Intent::Export(flow_export::build(&detail, format)))
        }
        _ => None,
    }
}

/// Folds (`Some(true)`), unfolds (`Some(false)`) or toggles (`None`) the selected span.
fn toggle_fold(state: &mut State, fold: Option<bool>) -> Option<Intent> {
    let d = state.detail.as_mut()?;
    if d.sequence_mode {
        return None;
    }
    let detail = d.detail.clone()?;
    let row = *d.timeline.rows.get(d.pos.selected)?;
    let RowKind::Span { span, has_children, collapsed } = row.kind else { return None };
    let key = timeline::key_of(&detail.spans[span]);
    let want = fold.unwrap_or(!collapsed);
    if want && (!has_children || collapsed) {
        // Already folded (or a leaf): go to the parent row instead.
        if fold.is_some() {
            let parent =
                d.timeline.rows[..d.pos.selected].iter().rposition(|r| r.depth < row.depth);
            if let Some(p) = parent {
                d.pos.selected = p;
                d.pane_scroll = 0;
                d.selected_key = match d.timeline.rows[p].kind {
                    RowKind::Span { span, .. } => Some(timeline::key_of(&detail.spans[span])),
                    _ => None,
                };
                state.derive_detail();
            }
        }
        return None;
    }
    if want {
        d.collapsed.insert(key);
    } else {
        d.collapsed.remove(&key);
    }
    d.selected_key = Some(key);
    state.derive_detail();
    None
}

/// Follows the selected link: within the flow, selects its span; elsewhere, opens its
/// trace (Esc comes back).
fn follow_link(state: &mut State) -> Option<Intent> {
    let d = state.detail.as_mut()?;
    let detail = d.detail.clone()?;
    let span = &detail.spans[d.selected_span()?];
    let cursor = d.link_cursor.take()?;
    let target = span.links.iter().chain(&span.backlinks).nth(cursor)?;
    d.pane_scroll = 0;
    let key: SpanKey = (target.trace_id, target.span_id);
    if detail.spans.iter().any(|s| s.trace_id == key.0 && s.span_id == key.1) {
        d.pending_select = Some(key);
        state.derive_detail();
        return None;
    }
    d.back.push((d.target.clone(), d.selected_key));
    let next = DetailTarget::Trace(key.0);
    d.target = next.clone();
    d.detail = None;
    d.collapsed.clear();
    d.pending_select = Some(key);
    d.pos = ListPos::default();
    Some(Intent::Request(ViewRequest::Detail(Some(next))))
}
