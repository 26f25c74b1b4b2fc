//! Dead letters (DESIGN.md §2, refined): a message republished to a dead-letter destination
//! counts as a failure of the subscription it died in. That subscription is the queue the
//! broker recorded (`x-first-death-queue`), else each subscription of the message's
//! destination whose delivery of it failed (the consumer that rejected it), else each one
//! it reached (its failure was below the consumer span). The linker keeps
//! the dead-letter hops ([`crate::link::agg::Aggregates::dead_letters`]); this module reads
//! them for the lag rows' `dead_lettered` and a dead-lettered flow's `error_reason`.

use rustc_hash::FxHashMap;

use super::Ctx;
use crate::link::destination::DestKey;
use crate::link::slot::{HopSlot, SubSlot, TraceSlot};
use crate::link::subscription::SubKey;

/// The subscriptions the message of dead-letter hop `h` died in (possibly none known).
fn died_in(cx: &Ctx<'_>, h: HopSlot) -> Vec<SubSlot> {
    let linker = cx.linker;
    let hop = &linker.hops[h];
    let (Some(pm), Some(dm)) =
        (cx.span(hop.producer).msg.as_deref(), cx.span(hop.delivery).msg.as_deref())
    else {
        return Vec::new();
    };
    let dest = DestKey { system: pm.system, destination: pm.destination };
    if let Some(queue) = dm.dead.as_ref().and_then(|d| d.queue.as_deref()) {
        return cx
            .interner
            .get(queue)
            .and_then(|group| linker.agg.sub_index.get(&SubKey { dest, group }).copied())
            .into_iter()
            .collect();
    }
    let delivered = || {
        pm.hops.iter().map(|&o| &linker.hops[o]).filter(|o| {
            o.live
                && o.producer == hop.producer
                && cx.span(o.delivery).msg.as_deref().is_some_and(|m| m.dead.is_none())
        })
    };
    // The deliveries that failed; else (the failure was not on a consumer span: an SQS
    // receive whose processing failed below it) every subscription the message reached.
    let mut subs: Vec<SubSlot> = delivered().filter(|o| o.consumer_error).map(|o| o.sub).collect();
    if subs.is_empty() {
        subs = delivered().map(|o| o.sub).collect();
    }
    subs.sort_unstable();
    subs.dedup();
    subs
}

/// Dead letters per subscription they died in.
pub(crate) fn per_subscription(cx: &Ctx<'_>) -> FxHashMap<SubSlot, u64> {
    let mut counts = FxHashMap::default();
    for &h in &cx.linker.agg.dead_letters {
        for sub in died_in(cx, h) {
            *counts.entry(sub).or_default() += 1;
        }
    }
    counts
}

/// Why a flow whose traces are `members` is an error because of a dead letter: the first
/// dead-letter hop into one of them, in words, or `None`.
pub(crate) fn reason(cx: &Ctx<'_>, members: &[TraceSlot]) -> Option<String> {
    let linker = cx.linker;
    let h = members.iter().find_map(|&t| {
        let tr = &linker.traces[t];
        if tr.dead_letters == 0 {
            return None;
        }
        tr.hops_in.iter().copied().find(|h| linker.agg.dead_letters.contains(h))
    })?;
    let hop = &linker.hops[h];
    let pm = cx.span(hop.producer).msg.as_deref()?;
    let dm = cx.span(hop.delivery).msg.as_deref()?;
    let from = cx.dest_id(DestKey { system: pm.system, destination: pm.destination });
    let queues: Vec<&str> =
        died_in(cx, h).into_iter().map(|s| cx.str(linker.agg.subs[s].key.group)).collect();
    let recorded = dm.dead.as_ref().and_then(|d| d.queue.as_deref());
    let queue = match (recorded, queues.is_empty()) {
        (Some(q), _) => format!(" in queue {q}"),
        (None, false) => format!(" in {}", queues.join(", ")),
        (None, true) => String::new(),
    };
    let why = dm
        .dead
        .as_ref()
        .and_then(|d| d.reason.as_deref())
        .map_or(String::new(), |r| format!(" ({r})"));
    Some(format!("message to {from} dead-lettered{queue}{why} to {}", cx.dest_id(hop.dest)))
}
