//! Sagas (DESIGN.md §4): steps in order, and the state the steps add up to at the event
//! clock.
//!
//! - A compensation that failed: `failed`.
//! - A failed action (or a timeout step): `compensated` once as many distinct steps were
//!   compensated as actions had completed before it; `failed` when nothing was done that
//!   needs undoing; otherwise `compensating`, and `stuck` when nothing happened for
//!   `--stuck-after` (a failed step with no compensation after it, or a compensation started
//!   but not finished).
//! - No failure: a terminal `saga.state` (completed, compensated, failed) is believed; a saga
//!   span (orchestrated shape) that ended is `completed`; a message the saga produced still
//!   unconsumed keeps it `running` (`stuck` past `--stuck-after`); an explicit non-terminal
//!   state keeps it `running` (`stuck` after `--stuck-after` without a new span); otherwise
//!   every step is done: `completed`. A passed `saga.deadline` makes a saga that is not over
//!   `stuck`.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::pending::Pending;
use super::{Ctx, Saga, SagaState, SagaStep, SpanKey, StepKind, StepStatus, human};
use crate::link::StepKind as LinkStepKind;
use crate::link::facts::is_compensation_name;
use crate::link::slot::{SagaSlot, SpanSlot, TraceSlot};

/// The sagas, and what flows and insights need from them.
pub(crate) struct SagaSet {
    /// In output order ([`SagaKey`]).
    pub sagas: Vec<Arc<Saga>>,
    /// Every compensation step that failed (span slot), with its saga, in output order.
    pub failed_compensations: Vec<(Arc<Saga>, SpanSlot)>,
    /// The sagas by trace. Shared with the live analysis, which keeps it from update to
    /// update (see [`SagaIndex`]).
    pub index: Arc<SagaIndex>,
}

/// Sagas by the trace slots they have spans in, under ids of the caller's choosing (the
/// linker's saga slots, live).
#[derive(Debug, Default, Clone)]
pub(crate) struct SagaIndex {
    by_trace: FxHashMap<TraceSlot, Vec<SagaSlot>>,
    sagas: FxHashMap<SagaSlot, Arc<Saga>>,
}

impl SagaIndex {
    pub fn insert(&mut self, id: SagaSlot, saga: &Arc<Saga>, traces: &[TraceSlot]) {
        for &t in traces {
            let ids = self.by_trace.entry(t).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        self.sagas.insert(id, Arc::clone(saga));
    }

    pub fn remove(&mut self, id: SagaSlot, traces: &[TraceSlot]) {
        for t in traces {
            if let Some(ids) = self.by_trace.get_mut(t) {
                ids.retain(|&x| x != id);
                if ids.is_empty() {
                    self.by_trace.remove(t);
                }
            }
        }
        self.sagas.remove(&id);
    }

    fn in_trace(&self, t: TraceSlot) -> impl Iterator<Item = &Arc<Saga>> {
        self.by_trace.get(&t).into_iter().flatten().filter_map(|id| self.sagas.get(id))
    }
}

impl SagaSet {
    /// The reason of the first stuck saga (in output order) with a span in one of `traces`.
    pub fn stuck_in(&self, traces: impl Iterator<Item = TraceSlot>) -> Option<String> {
        let mut first: Option<&Arc<Saga>> = None;
        for t in traces {
            for saga in self.index.in_trace(t) {
                if saga.state == SagaState::Stuck
                    && first.is_none_or(|f| saga_key(saga) < saga_key(f))
                {
                    first = Some(saga);
                }
            }
        }
        first.and_then(|s| s.stuck_reason.clone())
    }

    /// Whether a saga with a span in one of `traces` is not over yet.
    pub fn running_in(&self, mut traces: impl Iterator<Item = TraceSlot>) -> bool {
        traces.any(|t| self.index.in_trace(t).any(|s| !s.state.is_terminal()))
    }
}

struct Step {
    span: SpanSlot,
    name: String,
    kind: LinkStepKind,
    index: Option<i64>,
    error: bool,
    start: u64,
    end: u64,
    compensates: Option<Box<str>>,
}

/// One saga as built: the output record, the trace slots it has spans in, and its failed
/// compensation steps (span slots).
pub(crate) type Built = (Arc<Saga>, Vec<TraceSlot>, Vec<SpanSlot>);

pub(crate) fn build(cx: &Ctx<'_>, pending: &Pending) -> SagaSet {
    let linker = cx.linker;
    let built: Vec<Built> = linker.saga_slots().map(|slot| of_slot(cx, slot, pending)).collect();
    assemble(built)
}

/// The saga held in linker saga slot `slot`.
pub(crate) fn of_slot(cx: &Ctx<'_>, slot: SagaSlot, pending: &Pending) -> Built {
    let saga = &cx.linker.sagas[slot];
    one(cx, saga.source, &saga.id, &saga.spans, pending)
}

/// Orders built sagas and indexes them by trace.
pub(crate) fn assemble(mut built: Vec<Built>) -> SagaSet {
    built.sort_unstable_by(|a, b| saga_key(&a.0).cmp(&saga_key(&b.0)));
    let mut index = SagaIndex::default();
    for (i, (saga, traces, _)) in built.iter().enumerate() {
        // Indexed under their position in output order, standing in for a slot.
        index.insert(SagaSlot::from_index(i), saga, traces);
    }
    listed(built.iter(), Arc::new(index))
}

/// The set of sagas already in output order, over their index.
pub(crate) fn listed<'a>(
    built: impl ExactSizeIterator<Item = &'a Built>,
    index: Arc<SagaIndex>,
) -> SagaSet {
    let mut set =
        SagaSet { sagas: Vec::with_capacity(built.len()), failed_compensations: vec![], index };
    for (saga, _, failed) in built {
        set.failed_compensations.extend(failed.iter().map(|&s| (Arc::clone(saga), s)));
        set.sagas.push(Arc::clone(saga));
    }
    set
}

/// Sagas are listed by their first step's start, then source and id.
pub(crate) type SagaKey = (u64, String, String);

/// The output-order key of a saga.
pub(crate) fn key_of(s: &Saga) -> SagaKey {
    let (start, source, id) = saga_key(s);
    (start, source.to_owned(), id.to_owned())
}

fn saga_key(s: &Saga) -> (u64, &str, &str) {
    (s.steps.first().map_or(u64::MAX, |s| s.start_unix_nano), &s.source, &s.id)
}

/// One saga: the output record, its traces, its failed compensation steps.
fn one(
    cx: &Ctx<'_>,
    source: crate::link::SagaSource,
    id: &str,
    spans: &[SpanSlot],
    pending: &Pending,
) -> Built {
    let mut steps: Vec<Step> = Vec::new();
    let mut root: Option<SpanSlot> = None;
    let mut traces: Vec<TraceSlot> = Vec::new();
    let mut last_activity = 0;
    let mut explicit: Option<(SpanKey, &str)> = None;
    let mut deadline: Option<u64> = None;
    let mut named: Option<(SpanKey, &str)> = None;
    for &s in spans {
        let f = cx.span(s);
        traces.push(f.trace);
        last_activity = last_activity.max(f.end);
        let key = cx.key(s);
        let facts = f.saga.as_deref();
        if let Some(facts) = facts {
            if let Some(state) = facts.state.as_deref() {
                let k = (f.end, key.1, key.2);
                if explicit.is_none_or(|(old, _)| k > old) {
                    explicit = Some((k, state));
                }
            }
            if let Some(d) = facts.deadline {
                deadline = Some(deadline.map_or(d, |old: u64| old.min(d)));
            }
            if let Some(n) = facts.saga_name.as_deref() {
                // The saga span's name wins, then the earliest span's.
                let k = if facts.root { (0, [0; 16], [0; 8]) } else { key };
                if named.is_none_or(|(old, _)| k < old) {
                    named = Some((k, n));
                }
            }
            if facts.root && root.is_none_or(|r| key < cx.key(r)) {
                root = Some(s);
            }
        }
        let step_name = facts.and_then(|f| f.step_name.as_deref());
        if f.orchestrated_step || step_name.is_some() {
            let name = step_name.unwrap_or_else(|| cx.str(f.name)).to_owned();
            let kind = facts.and_then(|f| f.kind).unwrap_or_else(|| {
                if is_compensation_name(&name.to_ascii_lowercase()) {
                    LinkStepKind::Compensation
                } else {
                    LinkStepKind::Action
                }
            });
            steps.push(Step {
                span: s,
                name,
                kind,
                index: facts.and_then(|f| f.step_index),
                error: f.is_error(),
                start: f.start,
                end: f.end,
                compensates: facts.and_then(|f| f.compensates.clone()),
            });
        }
    }
    traces.sort_unstable();
    traces.dedup();
    steps.sort_by(|a, b| {
        (a.start, a.index, a.end, &a.name, cx.key(a.span)).cmp(&(
            b.start,
            b.index,
            b.end,
            &b.name,
            cx.key(b.span),
        ))
    });
    let (state, reason) =
        state(cx, &steps, root, explicit.map(|e| e.1), deadline, last_activity, &traces, pending);
    let failed: Vec<SpanSlot> = steps
        .iter()
        .filter(|s| s.kind == LinkStepKind::Compensation && s.error)
        .map(|s| s.span)
        .collect();
    let name = named.map_or_else(|| source.as_str().to_owned(), |(_, n)| n.to_owned());
    let step_spans: Vec<SpanSlot> = steps.iter().map(|s| s.span).collect();
    let (style, coordinator) = super::shape::saga_style(cx, root, &step_spans);
    let saga = Saga {
        id: id.to_owned(),
        name,
        source: source.as_str().to_owned(),
        state,
        steps: steps
            .iter()
            .map(|s| SagaStep {
                name: s.name.clone(),
                kind: match s.kind {
                    LinkStepKind::Action => StepKind::Action,
                    LinkStepKind::Compensation => StepKind::Compensation,
                    LinkStepKind::Timeout => StepKind::Timeout,
                },
                service: cx.text(cx.span(s.span).service),
                status: if s.error { StepStatus::Error } else { StepStatus::Ok },
                start_unix_nano: s.start,
                end_unix_nano: s.end,
            })
            .collect(),
        stuck_reason: reason,
        style,
        coordinator: coordinator.map(|c| cx.text(c)),
    };
    (Arc::new(saga), traces, failed)
}

#[expect(clippy::too_many_arguments, reason = "one call site; the inputs are the saga's facts")]
fn state(
    cx: &Ctx<'_>,
    steps: &[Step],
    root: Option<SpanSlot>,
    explicit: Option<&str>,
    deadline: Option<u64>,
    last_activity: u64,
    traces: &[TraceSlot],
    pending: &Pending,
) -> (SagaState, Option<String>) {
    let stuck_after = cx.opts.stuck_after_ns;
    let idle = cx.age(last_activity);
    if steps.iter().any(|s| s.kind == LinkStepKind::Compensation && s.error) {
        return (SagaState::Failed, None);
    }
    let explicit_terminal = match explicit {
        Some("completed") => Some(SagaState::Completed),
        Some("compensated") => Some(SagaState::Compensated),
        Some("failed" | "aborted") => Some(SagaState::Failed),
        _ => None,
    };
    if let Some(state) = explicit_terminal {
        return (state, None);
    }
    let failure = steps
        .iter()
        .find(|s| (s.kind == LinkStepKind::Action && s.error) || s.kind == LinkStepKind::Timeout);
    let late_deadline = deadline.filter(|d| cx.opts.now_unix_nano > *d);
    if let Some(f) = failure {
        let done: FxHashSet<&str> = steps
            .iter()
            .filter(|s| {
                s.kind == LinkStepKind::Action && !s.error && s.start <= f.start && s.span != f.span
            })
            .map(|s| s.name.as_str())
            .collect();
        let comps: Vec<&Step> =
            steps.iter().filter(|s| s.kind == LinkStepKind::Compensation).collect();
        let undone = if comps.iter().any(|c| c.compensates.is_some()) {
            comps.iter().filter_map(|c| c.compensates.as_deref()).collect::<FxHashSet<_>>().len()
        } else {
            comps.iter().map(|c| c.name.as_str()).collect::<FxHashSet<_>>().len()
        };
        let needed = done.len();
        if comps.is_empty() {
            if needed == 0 {
                return (SagaState::Failed, None);
            }
            if idle > stuck_after {
                return (
                    SagaState::Stuck,
                    Some(format!(
                        "step {} in {} failed {} ago with no compensation after it",
                        f.name,
                        cx.str(cx.span(f.span).service),
                        human(cx.age(f.end))
                    )),
                );
            }
            return (SagaState::Compensating, None);
        }
        if undone >= needed {
            return (SagaState::Compensated, None);
        }
        if idle > stuck_after || late_deadline.is_some() {
            return (
                SagaState::Stuck,
                Some(format!(
                    "compensation started but not finished: {undone} of {needed} steps undone, nothing new for {}",
                    human(idle)
                )),
            );
        }
        return (SagaState::Compensating, None);
    }
    if let Some(root) = root {
        let r = cx.span(root);
        return (if r.is_error() { SagaState::Failed } else { SagaState::Completed }, None);
    }
    if let Some(d) = late_deadline {
        return (SagaState::Stuck, Some(format!("deadline passed {} ago", human(cx.age(d)))));
    }
    if let Some(item) = pending.oldest(cx, traces.iter().copied()) {
        if cx.age(item.end) > stuck_after {
            return (SagaState::Stuck, Some(Pending::reason(cx, item)));
        }
        return (SagaState::Running, None);
    }
    if matches!(explicit, Some("running" | "compensating" | "started" | "pending")) {
        if idle > stuck_after {
            let last = steps.iter().max_by_key(|s| (s.end, cx.key(s.span)));
            let after = last.map_or_else(String::new, |s| {
                format!(" after {} in {}", s.name, cx.str(cx.span(s.span).service))
            });
            return (SagaState::Stuck, Some(format!("no new step for {}{after}", human(idle))));
        }
        return (
            if explicit == Some("compensating") {
                SagaState::Compensating
            } else {
                SagaState::Running
            },
            None,
        );
    }
    (SagaState::Completed, None)
}
