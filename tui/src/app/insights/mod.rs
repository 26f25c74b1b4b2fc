//! The Insights screen (tab 5): what the analysis found worth a look (duplicate deliveries,
//! unconsumed events, cascades, sync-over-async, failed compensations, and the anti-patterns:
//! god orchestrator, event soup, event schema chaos, distributed monolith, sync fan-out),
//! each with its subject, most severe first;
//! Enter opens the flow an insight names. Here: the order it shows and where Enter leads;
//! its view-model in [`vm`].

pub mod vm;

use hopscope_collector::engine::views::View;

use super::list::{Opened, all_rows};

/// The insights in the order shown, and each one's key.
pub fn order(view: &View) -> (Vec<u32>, Vec<String>) {
    let a = &view.analysis;
    let mut order = all_rows(a.insights.len());
    order.sort_by(|&x, &y| {
        let (ix, iy) = (&a.insights[x as usize], &a.insights[y as usize]);
        iy.severity.cmp(&ix.severity).then(ix.kind.cmp(&iy.kind)).then(x.cmp(&y))
    });
    let keys = a.insights.iter().map(|i| format!("{}:{}", i.kind.as_str(), i.detail)).collect();
    (order, keys)
}

/// Where Enter on the insight `row` (of `view.analysis.insights`) leads: the flow it names.
pub fn open(view: &View, row: usize) -> Opened {
    match view.analysis.insights[row].flow {
        Some(id) => Opened::Flow(id),
        None => Opened::Nowhere("this insight names no flow"),
    }
}
