//! The Flows screen's keys, and the keys of the filter being typed (`/`).

use hopscope_collector::engine::views::DetailTarget;
use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::FlowColumn;
use crate::app::filter::Filter;
use crate::app::keys::Action;
use crate::app::msg::Intent;
use crate::app::screen::Screen;
use crate::app::state::State;
use crate::flow_export::{self, ExportFormat};

/// Carries out `action` on the Flows screen.
pub fn on_key(state: &mut State, action: Action) -> Option<Intent> {
    let page = state.page();
    match action {
        Action::Move(motion) => {
            let flows = &mut state.flows;
            flows.pos.jump(motion, flows.order.len(), page);
            flows.selected_id =
                flows.order.get(flows.pos.selected).map(|&i| state.view.flows[i as usize].flow.id);
            None
        }
        Action::Open => {
            let id = state.flows.selected_id?;
            Some(state.open_detail(DetailTarget::Flow(id), Screen::Flows))
        }
        Action::StartFilter => {
            let text = state.flows.filter.text().to_owned();
            state.flows.input = Some((text, state.flows.filter.clone()));
            None
        }
        Action::ClearFilter if !state.flows.filter.is_empty() => {
            state.apply_filter(Filter::default())
        }
        Action::NextSort => {
            let flows = &mut state.flows;
            let i = FlowColumn::ALL.iter().position(|c| *c == flows.sort).unwrap_or(0);
            flows.sort = FlowColumn::ALL[(i + 1) % FlowColumn::ALL.len()];
            flows.descending = !matches!(flows.sort, FlowColumn::Root);
            state.derive_flows();
            None
        }
        Action::ReverseSort => {
            state.flows.descending = !state.flows.descending;
            state.derive_flows();
            None
        }
        Action::Export(format) => export_selected(state, format),
        _ => None,
    }
}

/// Exports the selected flow: opens its detail, and exports once the engine sent it.
fn export_selected(state: &mut State, format: ExportFormat) -> Option<Intent> {
    let id = state.flows.selected_id?;
    let intent = Some(state.open_detail(DetailTarget::Flow(id), Screen::Flows));
    let d = state.detail.as_mut()?;
    if let Some(detail) = &d.detail {
        return Some(Intent::Export(flow_export::build(detail, format)));
    }
    d.pending_export = Some(format);
    state.message = Some("exporting when the flow's details arrive…".to_owned());
    intent
}

/// Carries out `action` (looked up for `key`) while a filter is typed: the flows are
/// filtered as it is typed.
pub fn on_typing(state: &mut State, action: Option<Action>, key: &KeyEvent) -> Option<Intent> {
    if action == Some(Action::Quit) {
        return Some(Intent::Quit);
    }
    let (mut text, before) = state.flows.input.take()?;
    match action {
        Some(Action::KeepFilter) => return None,
        Some(Action::UndoFilter) => return state.apply_filter(before),
        Some(Action::DeleteChar) => {
            text.pop();
        }
        Some(Action::ClearText) => text.clear(),
        Some(Action::Type) => {
            if let KeyCode::Char(c) = key.code {
                text.push(c);
            }
        }
        _ => {}
    }
    state.flows.input = Some((text.clone(), before));
    state.apply_filter(Filter::parse(&text))
}
