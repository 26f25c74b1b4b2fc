//! Derived state: what a span contributes once it is derived (index entries, evidence of
//! hops, calls between services, saga membership), applied and retracted exactly.

use super::Linker;
use super::agg::{EdgeKind, Node};
use super::facts::{CONSUMER, DERIVED, NONE, PRODUCER};
use super::hop::Via;
use super::saga::remove_item;
use crate::model::SpanKind;

impl Linker {
    pub(super) fn derive(&mut self, s: u32) {
        self.spans[s as usize].flags |= DERIVED;
        self.saga_join(s);
        let p = self.sp(s).parent;
        if p != NONE && self.sp(p).is(DERIVED) {
            self.relation(p, s, true);
        }
        let mut c = self.sp(s).first_child;
        while c != NONE {
            let next = self.sp(c).next_sibling;
            if self.sp(c).is(DERIVED) {
                self.relation(s, c, true);
            }
            c = next;
        }
        if self.sp(s).is(PRODUCER) {
            self.derive_producer(s);
        }
        if self.sp(s).is(CONSUMER) {
            self.derive_consumer(s);
        }
    }

    pub(super) fn underive(&mut self, s: u32) {
        self.spans[s as usize].flags &= !DERIVED;
        if self.sp(s).is(PRODUCER) {
            self.underive_producer(s);
        }
        if self.sp(s).is(CONSUMER) {
            self.underive_consumer(s);
        }
        let p = self.sp(s).parent;
        if p != NONE && self.sp(p).is(DERIVED) {
            self.relation(p, s, false);
        }
        let mut c = self.sp(s).first_child;
        while c != NONE {
            let next = self.sp(c).next_sibling;
            if self.sp(c).is(DERIVED) {
                self.relation(s, c, false);
            }
            c = next;
        }
        self.saga_leave(s);
    }

    /// Applies (`add`) or retracts what a parent → child pair contributes: a parent hop, a
    /// call between services, an orchestrated saga step.
    fn relation(&mut self, p: u32, c: u32, add: bool) {
        let (pf, cf) = (self.sp(p), self.sp(c));
        let hop = pf.is(PRODUCER) && cf.is(CONSUMER);
        let call = !hop
            && pf.service != cf.service
            && (cf.kind == SpanKind::Server || pf.kind == SpanKind::Client);
        let latency = if pf.kind == SpanKind::Client { pf.duration() } else { cf.duration() };
        let error = pf.is_error() || cf.is_error();
        let (from, to) = (Node::Service(pf.service), Node::Service(cf.service));
        let consumer_under_consumer = cf.is(CONSUMER) && pf.is(CONSUMER);
        let root_saga = pf.saga.as_ref().is_some_and(|f| f.root).then_some(pf.saga_slot);
        let own_key = cf.saga.as_ref().is_some_and(|f| f.key.is_some());
        let child_slot = cf.saga_slot;
        if hop {
            if add {
                self.add_evidence(p, c, Via::Parent.bit());
            } else {
                self.drop_evidence(p, c);
            }
        } else if call {
            let e = self.agg.edge(from, to, EdgeKind::Call);
            if add {
                e.count += 1;
                e.errors += u64::from(error);
                e.samples.add(latency);
            } else {
                e.count -= 1;
                e.errors -= u64::from(error);
                e.samples.remove(latency);
            }
        }
        // A consumer under a consumer: the child's delivery status depends on its parent.
        if consumer_under_consumer {
            self.refresh_orphan(c);
        }
        if let Some(slot) = root_saga
            && slot != NONE
            && !own_key
        {
            self.touch_saga(slot);
            if add {
                self.sagas[slot as usize].spans.push(c);
                let cf = &mut self.spans[c as usize];
                cf.saga_slot = slot;
                cf.orchestrated_step = true;
            } else if child_slot == slot {
                remove_item(&mut self.sagas[slot as usize].spans, c);
                let cf = &mut self.spans[c as usize];
                cf.saga_slot = NONE;
                cf.orchestrated_step = false;
            }
        }
    }
}
