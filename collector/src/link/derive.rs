//! Derived state: what a span contributes once it is derived (index entries, evidence of
//! hops, calls between services, saga membership), applied and retracted exactly.

use super::Linker;
use super::agg::{EdgeKind, Node};
use super::facts::{CONSUMER, DERIVED, PRODUCER};
use super::few::Few;
use super::hop::Via;
use super::slot::SpanSlot;
use crate::model::SpanKind;

impl Linker {
    pub(super) fn derive(&mut self, span: SpanSlot) {
        // Producer children sending the same message were derived as messages of their own:
        // they are derived again nested under this one.
        let nested = self.nested_children(span);
        for &c in &nested {
            self.underive(c);
        }
        self.spans[span].flags |= DERIVED;
        if self.span(span).is(PRODUCER)
            && let Some(par) = self.span(span).parent
            && self.span(par).is(DERIVED)
            && self.span(par).is(PRODUCER)
            && self.same_message(par, span)
        {
            self.msg_mut(span).nested = true;
        }
        self.saga_join(span);
        if let Some(parent) = self.span(span).parent
            && self.span(parent).is(DERIVED)
        {
            self.relation(parent, span, true);
        }
        let mut child = self.span(span).first_child;
        while let Some(c) = child {
            child = self.span(c).next_sibling;
            if self.span(c).is(DERIVED) {
                self.relation(span, c, true);
            }
        }
        if self.span(span).is(PRODUCER) {
            self.derive_producer(span);
        }
        if self.span(span).is(CONSUMER) {
            self.derive_consumer(span);
        }
        for &c in &nested {
            self.derive(c);
        }
    }

    /// The derived producer children of producer `span` that send the same message (pika's
    /// inner `send` under its outer one): nested under `span` while it is derived.
    fn nested_children(&self, span: SpanSlot) -> Few<SpanSlot, 1> {
        let mut out = Few::default();
        if !self.span(span).is(PRODUCER) {
            return out;
        }
        let mut child = self.span(span).first_child;
        while let Some(c) = child {
            child = self.span(c).next_sibling;
            if self.span(c).is(DERIVED) && self.span(c).is(PRODUCER) && self.same_message(span, c) {
                out.push(c);
            }
        }
        out
    }

    pub(super) fn underive(&mut self, span: SpanSlot) {
        // Producer children nested under this one are derived again as messages of their own.
        let nested = self.nested_children(span);
        for &c in &nested {
            self.underive(c);
        }
        self.spans[span].flags &= !DERIVED;
        if self.span(span).is(PRODUCER) {
            self.underive_producer(span);
        }
        if self.span(span).is(CONSUMER) {
            self.underive_consumer(span);
        }
        if let Some(parent) = self.span(span).parent
            && self.span(parent).is(DERIVED)
        {
            self.relation(parent, span, false);
        }
        let mut child = self.span(span).first_child;
        while let Some(c) = child {
            child = self.span(c).next_sibling;
            if self.span(c).is(DERIVED) {
                self.relation(span, c, false);
            }
        }
        self.saga_leave(span);
        if let Some(m) = self.spans[span].msg.as_deref_mut() {
            m.nested = false;
        }
        for &c in &nested {
            self.derive(c);
        }
    }

    /// Applies (`add`) or retracts what a parent → child pair contributes: a parent hop, a
    /// call between services, an orchestrated saga step.
    fn relation(&mut self, parent: SpanSlot, child: SpanSlot, add: bool) {
        let (pf, cf) = (self.span(parent), self.span(child));
        let hop = pf.is(PRODUCER) && cf.is(CONSUMER);
        let call = !hop
            && pf.service != cf.service
            && (cf.kind == SpanKind::Server || pf.kind == SpanKind::Client);
        let latency = if pf.kind == SpanKind::Client { pf.duration() } else { cf.duration() };
        let error = pf.is_error() || cf.is_error();
        let (from, to) = (Node::Service(pf.service), Node::Service(cf.service));
        let consumer_under_consumer = cf.is(CONSUMER) && pf.is(CONSUMER);
        let root_saga = if pf.saga.as_ref().is_some_and(|f| f.root) { pf.saga_slot } else { None };
        let own_key = cf.saga.as_ref().is_some_and(|f| f.key.is_some());
        if hop {
            if add {
                self.add_evidence(parent, child, Via::Parent.bit());
            } else {
                self.drop_evidence(parent, child);
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
            self.refresh_orphan(child);
        }
        if let Some(saga) = root_saga
            && !own_key
        {
            self.orchestrated_step(saga, child, add);
        }
    }
}
