//! The Flows screen (tab 1): every flow, one row each (status, root operation, start,
//! duration, traces, services, hops, worst queue time), filtered (`/`) and sorted by any
//! column (`s`/`S`, or a click on its title); Enter opens the flow's detail. Here: its
//! state and the order it shows; its keys in [`keys`], its view-model in [`vm`].

pub mod keys;
pub mod vm;

use std::cmp::Ordering;

use hopscope_collector::analysis::{FlowStatus, TraceId};
use hopscope_collector::engine::views::View;

use super::filter::Filter;
use super::list::ListPos;

/// Columns of the Flows table, each a sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowColumn {
    Status,
    Root,
    Start,
    Duration,
    Traces,
    Services,
    Hops,
    Queue,
}

impl FlowColumn {
    pub const ALL: [FlowColumn; 8] = [
        FlowColumn::Status,
        FlowColumn::Root,
        FlowColumn::Start,
        FlowColumn::Duration,
        FlowColumn::Traces,
        FlowColumn::Services,
        FlowColumn::Hops,
        FlowColumn::Queue,
    ];

    pub fn title(self) -> &'static str {
        match self {
            FlowColumn::Status => "STATUS",
            FlowColumn::Root => "ROOT",
            FlowColumn::Start => "START",
            FlowColumn::Duration => "DURATION",
            FlowColumn::Traces => "TRACES",
            FlowColumn::Services => "SVCS",
            FlowColumn::Hops => "HOPS",
            FlowColumn::Queue => "WORST QUEUE",
        }
    }
}

/// The Flows screen.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowsState {
    pub sort: FlowColumn,
    pub descending: bool,
    pub filter: Filter,
    /// The filter as being typed, and the filter before typing began (Esc restores it).
    pub input: Option<(String, Filter)>,
    /// Indexes into `view.flows`, filtered and sorted.
    pub order: Vec<u32>,
    pub pos: ListPos,
    /// The selected flow's id: kept selected as views come and go.
    pub selected_id: Option<TraceId>,
}

impl Default for FlowsState {
    fn default() -> Self {
        Self {
            sort: FlowColumn::Start,
            descending: true,
            filter: Filter::default(),
            input: None,
            order: Vec::new(),
            pos: ListPos::default(),
            selected_id: None,
        }
    }
}

impl FlowsState {
    /// Filters and sorts the view's flows into `order`, keeping the selected flow selected
    /// (`page`: rows on screen).
    pub fn derive(&mut self, view: &View, page: usize) {
        let rows = &view.flows;
        let attrs = view.attribute_matches.as_deref();
        let filter = &self.filter;
        let mut order: Vec<u32> = (0..rows.len() as u32)
            .filter(|&i| {
                let r = &rows[i as usize];
                filter.matches(&r.flow, &r.facts, attrs)
            })
            .collect();
        let key = self.sort;
        let cmp = |x: &u32, y: &u32| -> Ordering {
            let (fx, fy) = (&rows[*x as usize].flow, &rows[*y as usize].flow);
            let q = |i: u32| rows[i as usize].facts.worst_queue_ns;
            let primary = match key {
                FlowColumn::Status => status_rank(fx.status).cmp(&status_rank(fy.status)),
                FlowColumn::Root => {
                    (&fx.root.service, &fx.root.name).cmp(&(&fy.root.service, &fy.root.name))
                }
                FlowColumn::Start => Ordering::Equal,
                FlowColumn::Duration => fx.duration_ns.cmp(&fy.duration_ns),
                FlowColumn::Traces => fx.traces.len().cmp(&fy.traces.len()),
                FlowColumn::Services => fx.services.len().cmp(&fy.services.len()),
                FlowColumn::Hops => fx.hop_count.cmp(&fy.hop_count),
                FlowColumn::Queue => q(*x).cmp(&q(*y)),
            };
            primary.then_with(|| (fx.start_unix_nano, &fx.id).cmp(&(fy.start_unix_nano, &fy.id)))
        };
        if self.descending {
            order.sort_by(|x, y| cmp(y, x));
        } else {
            order.sort_by(cmp);
        }
        let old_screen_row = self.pos.selected.saturating_sub(self.pos.offset);
        // On the first row the list follows what arrives (like `tail -f`: the newest flow
        // stays selected); anywhere else the selected flow is kept as the list shifts.
        let follow_top = self.pos.selected == 0;
        let found = self
            .selected_id
            .as_ref()
            .filter(|_| !follow_top)
            .and_then(|id| order.iter().position(|&i| rows[i as usize].flow.id == *id));
        if let Some(i) = found {
            // The same flow stays selected, on the same screen row when it can.
            self.pos.selected = i;
            self.pos.offset = i.saturating_sub(old_screen_row);
        }
        self.pos.fit(order.len(), page);
        self.selected_id = order.get(self.pos.selected).map(|&i| rows[i as usize].flow.id);
        self.order = order;
    }

    /// Sorts by `column`: descending first, except by root (alphabetical); again: reversed.
    pub fn sort_by(&mut self, column: FlowColumn) {
        if self.sort == column {
            self.descending = !self.descending;
        } else {
            self.sort = column;
            self.descending = column != FlowColumn::Root;
        }
    }
}

fn status_rank(s: FlowStatus) -> u8 {
    match s {
        FlowStatus::Ok => 0,
        FlowStatus::InFlight => 1,
        FlowStatus::Stuck => 2,
        FlowStatus::Error => 3,
    }
}
