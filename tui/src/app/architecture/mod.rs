//! The Architecture screen (tab 6): one row per root operation (the service and operation
//! that start flows) with its interaction style, what its caller waits against how long the
//! system takes to settle after answering (one bar, one scale across rows), its fan-out,
//! events and sync calls per request and the insights about it; under the table, the
//! selected row's advice. Enter shows its flows (the Flows screen filtered by
//! `root:"<service> <operation>"`). Here: its state, the order it shows, which insights
//! belong to which row and where Enter leads; its view-model and widget in [`vm`].
//!
//! An insight belongs to a row when the flow it names is rooted there, or its subject is the
//! row's `<service> <operation>` (sync fan-out, event soup).

pub mod vm;

use std::collections::HashMap;

use hopscope_collector::analysis::TraceId;
use hopscope_collector::engine::views::View;

use super::list::{ListState, Opened, all_rows};

/// The Architecture screen's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArchitectureState {
    pub list: ListState,
    /// Parallel to `view.analysis.architecture`: the insights (indexes into
    /// `view.analysis.insights`) about each row, most severe first.
    pub insights: Vec<Vec<u32>>,
    /// The view (`View::seq`) `insights` were found in: a key press re-derives the lists,
    /// and need not scan the flows again.
    pub insights_of: Option<u64>,
}

impl ArchitectureState {
    /// Takes a new view: which insights are whose, then the order, keeping the selection.
    pub fn derive(&mut self, view: &View, page: usize) {
        if self.insights_of != Some(view.seq) {
            self.insights = insights_by_row(view);
            self.insights_of = Some(view.seq);
        }
        let (order, keys) = order(view, &self.insights);
        self.list.keep(order, &keys, page);
    }
}

/// Each row's key: `<service> <operation>`.
fn key(view: &View, row: usize) -> String {
    let r = &view.analysis.architecture[row];
    format!("{} {}", r.service, r.operation)
}

/// The insights of each row of `view.analysis.architecture`. Scans the flows once, and only
/// when an insight names a flow.
pub fn insights_by_row(view: &View) -> Vec<Vec<u32>> {
    let a = &view.analysis;
    let rows: HashMap<String, usize> =
        (0..a.architecture.len()).map(|i| (key(view, i), i)).collect();
    let mut out = vec![Vec::new(); a.architecture.len()];
    let mut by_flow: HashMap<TraceId, Vec<u32>> = HashMap::new();
    for (i, x) in a.insights.iter().enumerate() {
        let i = i as u32;
        if let Some(&row) = rows.get(&x.subject) {
            out[row].push(i);
        } else if let Some(flow) = x.flow {
            by_flow.entry(flow).or_default().push(i);
        }
    }
    if !by_flow.is_empty() {
        for r in view.flows.iter() {
            let Some(found) = by_flow.get(&r.flow.id) else { continue };
            let root = format!("{} {}", r.flow.root.service, r.flow.root.name);
            if let Some(&row) = rows.get(&root) {
                out[row].extend(found);
            }
        }
    }
    for found in &mut out {
        found.sort_by(|&x, &y| {
            let (ix, iy) = (&a.insights[x as usize], &a.insights[y as usize]);
            iy.severity.cmp(&ix.severity).then(ix.kind.cmp(&iy.kind)).then(x.cmp(&y))
        });
        found.dedup();
    }
    out
}

/// The rows in the order shown (those with insights first, most first; then the busiest;
/// then by name), and each row's key.
pub fn order(view: &View, insights: &[Vec<u32>]) -> (Vec<u32>, Vec<String>) {
    let a = &view.analysis;
    let mut order = all_rows(a.architecture.len());
    let found = |i: u32| insights.get(i as usize).map_or(0, Vec::len);
    order.sort_by(|&x, &y| {
        let (rx, ry) = (&a.architecture[x as usize], &a.architecture[y as usize]);
        found(y)
            .cmp(&found(x))
            .then(ry.flows.cmp(&rx.flows))
            .then_with(|| (&rx.service, &rx.operation).cmp(&(&ry.service, &ry.operation)))
    });
    let keys = (0..a.architecture.len()).map(|i| key(view, i)).collect();
    (order, keys)
}

/// Where Enter on the row `row` (of `view.analysis.architecture`) leads: the flows it roots.
pub fn open(view: &View, row: usize) -> Opened {
    Opened::FlowsWhere(format!("root:\"{}\"", key(view, row)))
}
