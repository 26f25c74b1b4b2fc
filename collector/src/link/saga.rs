//! Saga instances: the spans that name each saga (by its key), joined and left as spans are
//! derived and underived.

use super::Linker;
use super::facts::{NONE, SagaSource};

/// One saga instance and the spans that name it.
#[derive(Debug, Clone)]
pub(crate) struct SagaSlot {
    pub source: SagaSource,
    pub id: Box<str>,
    pub spans: Vec<u32>,
}

pub(super) fn remove_item(v: &mut Vec<u32>, x: u32) {
    if let Some(i) = v.iter().position(|y| *y == x) {
        v.swap_remove(i);
    }
}

impl Linker {
    pub(super) fn saga_join(&mut self, s: u32) {
        let Some(key) = self.sp(s).saga.as_ref().and_then(|f| f.key.clone()) else {
            return;
        };
        let slot = if let Some(&slot) = self.saga_index.get(&key) {
            slot
        } else {
            let saga = SagaSlot { source: key.0, id: key.1.clone(), spans: Vec::new() };
            let slot = if let Some(slot) = self.free_sagas.pop() {
                self.sagas[slot as usize] = saga;
                slot
            } else {
                self.sagas.push(saga);
                (self.sagas.len() - 1) as u32
            };
            self.saga_index.insert(key, slot);
            slot
        };
        self.sagas[slot as usize].spans.push(s);
        self.spans[s as usize].saga_slot = slot;
        self.touch_saga(slot);
    }

    pub(super) fn saga_leave(&mut self, s: u32) {
        let f = self.sp(s);
        let slot = f.saga_slot;
        if slot == NONE || f.orchestrated_step {
            return;
        }
        self.spans[s as usize].saga_slot = NONE;
        self.touch_saga(slot);
        let saga = &mut self.sagas[slot as usize];
        remove_item(&mut saga.spans, s);
        if saga.spans.is_empty() {
            self.saga_index.remove(&(saga.source, saga.id.clone()));
            self.free_sagas.push(slot);
        }
    }

    /// Live saga slots.
    pub(crate) fn saga_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.saga_index.values().copied()
    }

    /// Whether saga slot `slot` holds a saga now.
    pub(crate) fn saga_live(&self, slot: u32) -> bool {
        self.sagas
            .get(slot as usize)
            .is_some_and(|saga| self.saga_index.get(&(saga.source, saga.id.clone())) == Some(&slot))
    }
}
