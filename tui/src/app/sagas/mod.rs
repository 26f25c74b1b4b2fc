//! The Sagas screen (tab 3): every saga, worst first (stuck, failed, compensating,
//! compensated, running, completed; newest first), and under the table the selected saga's
//! steps on a time bar; Enter opens the flow holding the saga. Here: the order it shows and
//! where Enter leads; its view-model and widget in [`vm`].

pub mod vm;

use hopscope_collector::analysis::SagaState;
use hopscope_collector::engine::views::View;

use super::list::{Opened, all_rows};

/// The sagas in the order shown, and each saga's key (kept selected as views come).
pub fn order(view: &View) -> (Vec<u32>, Vec<String>) {
    let a = &view.analysis;
    let mut order = all_rows(a.sagas.len());
    let start = |i: u32| a.sagas[i as usize].steps.first().map_or(0, |s| s.start_unix_nano);
    order.sort_by(|&x, &y| {
        let (sx, sy) = (&a.sagas[x as usize], &a.sagas[y as usize]);
        saga_rank(sx.state)
            .cmp(&saga_rank(sy.state))
            .then(start(y).cmp(&start(x)))
            .then(sx.id.cmp(&sy.id))
    });
    let keys = a.sagas.iter().map(|s| format!("{}/{}", s.source, s.id)).collect();
    (order, keys)
}

/// Where Enter on the saga `row` (of `view.analysis.sagas`) leads: the flow holding it.
pub fn open(view: &View, row: usize) -> Opened {
    match view.saga_flows.get(row).copied().flatten() {
        Some(id) => Opened::Flow(id),
        None => Opened::Nowhere("no flow holds this saga's spans"),
    }
}

fn saga_rank(s: SagaState) -> u8 {
    match s {
        SagaState::Stuck => 0,
        SagaState::Failed => 1,
        SagaState::Compensating => 2,
        SagaState::Compensated => 3,
        SagaState::Running => 4,
        SagaState::Completed => 5,
    }
}
