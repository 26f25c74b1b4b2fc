//! Saga instances: the spans that name each saga (by its key), joined and left as spans are
//! derived and underived, and the orchestrated steps (children of a saga span).

use super::Linker;
use super::facts::SagaSource;
use super::slot::{SagaSlot, SpanSlot};

/// One saga instance and the spans that name it.
#[derive(Debug, Clone)]
pub(crate) struct SagaInstance {
    pub source: SagaSource,
    pub id: Box<str>,
    pub spans: Vec<SpanSlot>,
}

fn remove_item(v: &mut Vec<SpanSlot>, x: SpanSlot) {
    if let Some(i) = v.iter().position(|y| *y == x) {
        v.swap_remove(i);
    }
}

impl Linker {
    pub(super) fn saga_join(&mut self, span: SpanSlot) {
        let Some(key) = self.span(span).saga.as_ref().and_then(|f| f.key.clone()) else {
            return;
        };
        let slot = if let Some(&slot) = self.saga_index.get(&key) {
            slot
        } else {
            let saga = SagaInstance { source: key.0, id: key.1.clone(), spans: Vec::new() };
            let slot = self.sagas.insert(saga);
            self.saga_index.insert(key, slot);
            slot
        };
        self.sagas[slot].spans.push(span);
        self.spans[span].saga_slot = Some(slot);
        self.touch_saga(slot);
    }

    pub(super) fn saga_leave(&mut self, span: SpanSlot) {
        let f = self.span(span);
        let Some(slot) = f.saga_slot else { return };
        if f.orchestrated_step {
            return;
        }
        self.spans[span].saga_slot = None;
        self.touch_saga(slot);
        let saga = &mut self.sagas[slot];
        remove_item(&mut saga.spans, span);
        if saga.spans.is_empty() {
            self.saga_index.remove(&(saga.source, saga.id.clone()));
            self.sagas.release(slot);
        }
    }

    /// Applies (`add`) or retracts `child` as an orchestrated step of `saga`, the saga of its
    /// parent span.
    pub(super) fn orchestrated_step(&mut self, saga: SagaSlot, child: SpanSlot, add: bool) {
        let child_slot = self.span(child).saga_slot;
        self.touch_saga(saga);
        if add {
            self.sagas[saga].spans.push(child);
            let cf = &mut self.spans[child];
            cf.saga_slot = Some(saga);
            cf.orchestrated_step = true;
        } else if child_slot == Some(saga) {
            remove_item(&mut self.sagas[saga].spans, child);
            let cf = &mut self.spans[child];
            cf.saga_slot = None;
            cf.orchestrated_step = false;
        }
    }

    /// Live saga slots.
    pub(crate) fn saga_slots(&self) -> impl Iterator<Item = SagaSlot> + '_ {
        self.saga_index.values().copied()
    }

    /// Whether saga slot `slot` holds a saga now.
    pub(crate) fn saga_live(&self, slot: SagaSlot) -> bool {
        self.sagas
            .get(slot)
            .is_some_and(|saga| self.saga_index.get(&(saga.source, saga.id.clone())) == Some(&slot))
    }
}
