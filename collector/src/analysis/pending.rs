//! Messages still waiting: for each trace, the oldest message it produced that a consuming
//! subscription has not consumed yet. Flows and sagas read it to tell stuck from in flight.

use rustc_hash::FxHashMap;

use super::{Ctx, human};
use crate::link::slot::{SpanSlot, SubSlot, TraceSlot};

/// A produced message a subscription has not consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Waiting {
    /// When the producer span ended.
    pub end: u64,
    pub producer: SpanSlot,
    pub sub: SubSlot,
}

/// The oldest message each trace produced that a consuming subscription has not consumed.
pub(crate) struct Pending {
    /// The oldest message waiting, by the trace that produced it.
    pub by_trace: FxHashMap<TraceSlot, Waiting>,
}

impl Pending {
    /// Read off the subscriptions' unconsumed sets (small: only what is still waiting).
    pub fn new(cx: &Ctx<'_>) -> Self {
        let linker = cx.linker;
        let mut by_trace: FxHashMap<TraceSlot, Waiting> = FxHashMap::default();
        for slot in linker.agg.subs.slots() {
            let sub = &linker.agg.subs[slot];
            if sub.consumed == 0 {
                continue;
            }
            for &producer in &sub.unconsumed {
                let (trace, end) = (cx.span(producer).trace, cx.span(producer).end);
                let item = Waiting { end, producer, sub: slot };
                by_trace
                    .entry(trace)
                    .and_modify(|old| {
                        if pending_key(cx, item) < pending_key(cx, *old) {
                            *old = item;
                        }
                    })
                    .or_insert(item);
            }
        }
        Self { by_trace }
    }

    /// One line saying what the oldest pending message waits for.
    pub fn reason(cx: &Ctx<'_>, item: Waiting) -> String {
        let sub = &cx.linker.agg.subs[item.sub].key;
        format!(
            "waiting {} for a consumer of {} {} ({})",
            human(cx.age(item.end)),
            cx.system(sub.dest.system),
            cx.destination(sub.dest.destination),
            cx.str(sub.group)
        )
    }

    /// The oldest of several pending items.
    pub fn oldest(&self, cx: &Ctx<'_>, traces: impl Iterator<Item = TraceSlot>) -> Option<Waiting> {
        traces
            .filter_map(|t| self.by_trace.get(&t).copied())
            .min_by(|a, b| pending_key(cx, *a).cmp(&pending_key(cx, *b)))
    }
}

fn pending_key(cx: &Ctx<'_>, item: Waiting) -> impl Ord {
    let sub = &cx.linker.agg.subs[item.sub].key;
    (item.end, cx.key(item.producer), cx.dest_id(sub.dest), cx.str(sub.group))
}
