//! The Lag screen (tab 4): every subscription (destination and consumer group), worst first
//! (stalled, warning, no consumer, ok; then by p95 queue time and oldest unconsumed), with
//! its rate, queue-time percentiles, backlog, dead letters and a queue-time trend; Enter
//! shows the flows through its destination. Here: the order it shows and where Enter leads;
//! its view-model in [`vm`].

pub mod vm;

use hopscope_collector::analysis::LagStatus;
use hopscope_collector::engine::views::View;

use super::list::{Opened, all_rows};

/// The subscriptions in the order shown, and each one's key.
pub fn order(view: &View) -> (Vec<u32>, Vec<String>) {
    let a = &view.analysis;
    let mut order = all_rows(a.lag.len());
    order.sort_by(|&x, &y| {
        let (lx, ly) = (&a.lag[x as usize], &a.lag[y as usize]);
        lag_rank(lx.status)
            .cmp(&lag_rank(ly.status))
            .then(ly.p95_ns.cmp(&lx.p95_ns))
            .then(ly.oldest_unconsumed_age_ns.cmp(&lx.oldest_unconsumed_age_ns))
            .then(x.cmp(&y))
    });
    let keys = a
        .lag
        .iter()
        .map(|l| {
            format!("{}:{}:{}", l.system, l.destination, l.consumer_group.as_deref().unwrap_or(""))
        })
        .collect();
    (order, keys)
}

/// Where Enter on the subscription `row` (of `view.analysis.lag`) leads: the flows through
/// its destination.
pub fn open(view: &View, row: usize) -> Opened {
    Opened::FlowsWhere(format!("dest:{}", view.analysis.lag[row].destination))
}

fn lag_rank(s: LagStatus) -> u8 {
    match s {
        LagStatus::Stalled => 0,
        LagStatus::Warn => 1,
        LagStatus::NoConsumer => 2,
        LagStatus::Ok => 3,
    }
}
