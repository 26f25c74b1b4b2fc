//! The Events screen (tab 7): the event-storming board, drawn from what runs. Above, every
//! domain event (`analysis.events`); below, the board of the selected one: the commands and
//! policies that emit it on the left, the event in the middle, its consumers and the policies
//! they trigger on the right, in the sticky-note colours (with symbols under `NO_COLOR`).
//! `t` swaps the board for a timeline: the events of a flow carrying the selected event, in
//! the order they were sent. Enter lists the flows carrying the event (the Flows screen
//! filtered by `event:NAME`), or in the timeline opens that flow. Here: the state, the order
//! and where Enter leads; the view-model and widget in [`vm`].

pub mod vm;

use hopscope_collector::analysis::TraceId;
use hopscope_collector::engine::views::View;

use super::list::{ListState, Opened, all_rows};

/// Symbols of the sticky notes, shown in colour and without.
pub const EVENT: &str = "◆";
pub const COMMAND: &str = "▣";
pub const AGGREGATE: &str = "▤";
pub const POLICY: &str = "◇";

/// The Events screen's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventsState {
    pub list: ListState,
    /// The timeline instead of the board.
    pub timeline: bool,
    /// The flow the timeline shows: an index into `view.flows`, the latest flow carrying the
    /// selected event.
    pub flow: Option<usize>,
}

impl EventsState {
    /// Takes the view's events, keeping the selection, and finds the timeline's flow.
    pub fn derive(&mut self, view: &View, page: usize) {
        let (order, keys) = order(view);
        self.list.keep(order, &keys, page);
        let name = self.list.selected().map(|i| view.analysis.events[i].name.as_str());
        self.flow = name.and_then(|name| {
            view.flows.iter().rposition(|r| r.facts.events.iter().any(|e| e.name == name))
        });
    }

    /// The flow the timeline shows.
    pub fn flow_id(&self, view: &View) -> Option<TraceId> {
        self.flow.and_then(|i| view.flows.get(i)).map(|r| r.flow.id)
    }
}

/// The events in the order shown (the analysis's: by name, then system), and their keys.
pub fn order(view: &View) -> (Vec<u32>, Vec<String>) {
    let events = &view.analysis.events;
    (all_rows(events.len()), events.iter().map(|e| format!("{}:{}", e.system, e.name)).collect())
}

/// Where Enter leads: the flows carrying the selected event; in the timeline, its flow.
pub fn open(state: &EventsState, view: &View, row: usize) -> Opened {
    if state.timeline {
        return match state.flow_id(view) {
            Some(id) => Opened::Flow(id),
            None => Opened::Nowhere("no flow holds this event any more"),
        };
    }
    Opened::FlowsWhere(format!("event:{}", view.analysis.events[row].name))
}
