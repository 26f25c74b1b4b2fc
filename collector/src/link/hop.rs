//! Hop detection: [`Via`] (how a hop was found), the hop's facts ([`HopFacts`]), the evidence
//! kept per (producer, consumer span) pair, and the hops made, updated and retracted as that
//! evidence comes and goes, with what each contributes to the aggregates (graph edges,
//! subscriptions, the trace graph).

use super::agg::{Aggregates, EdgeKind, Node};
use super::destination::DestKey;
use super::facts::{CONSUMER, DERIVED, PRODUCER, Partner};
use super::few::Few;
use super::slot::{HopSlot, SpanSlot, SubSlot, TraceSlot};
use super::subscription::{Duplicate, Reached, SubKey};
use super::trace::TraceHops;
use super::{Linker, MAX_DEPTH};
use crate::model::{SpanId, Sym, TraceId};

/// How a hop was found, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Via {
    /// The consumer span is a child of the producer span.
    Parent,
    /// The consumer span links to the producer span.
    Link,
    /// Same destination, partition and offset.
    Offset,
    /// Same message id.
    MessageId,
    /// Same conversation id: weak, never merges flows.
    Conversation,
}

impl Via {
    const ALL: [Via; 5] = [Via::Parent, Via::Link, Via::Offset, Via::MessageId, Via::Conversation];

    /// The bit of this way in a mask of ways.
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The strongest way in a non-empty mask.
    pub fn best(mask: u8) -> Via {
        Self::ALL.into_iter().find(|v| mask & v.bit() != 0).unwrap_or(Via::Conversation)
    }

    /// Confidence of a hop found this way (DESIGN.md §2).
    pub fn confidence(self) -> f64 {
        match self {
            Via::Parent | Via::Link => 1.0,
            Via::Offset => 0.95,
            Via::MessageId => 0.9,
            Via::Conversation => 0.5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Via::Parent => "parent",
            Via::Link => "link",
            Via::Offset => "offset",
            Via::MessageId => "message_id",
            Via::Conversation => "conversation",
        }
    }
}

/// One hop: a producer span, the consumer-side span that received it (its delivery), and
/// what the linker derived from the pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HopFacts {
    pub producer: SpanSlot,
    pub delivery: SpanSlot,
    /// Ways the hop was found (a mask of [`Via::bit`]).
    pub vias: u8,
    /// The delivery or a consumer span folded under it is an error.
    pub consumer_error: bool,
    /// Consumer start − producer end, 0 when negative.
    pub queue: u64,
    /// The consumer started before the producer did: the hosts' clocks disagree.
    pub skew: bool,
    pub dest: DestKey,
    pub sub: SubSlot,
    pub live: bool,
}

const _: () = assert!(size_of::<HopFacts>() == 32);

/// Counts one hop more (`add`) or less between a trace and `trace`.
fn bump<const N: usize>(list: &mut Few<TraceHops, N>, trace: TraceSlot, add: bool) {
    if let Some(i) = list.iter().position(|x| x.trace == trace) {
        let entry = &mut list.as_mut_slice()[i];
        if add {
            entry.hops += 1;
        } else {
            entry.hops -= 1;
            if entry.hops == 0 {
                list.swap_remove(i);
            }
        }
    } else if add {
        list.push(TraceHops { trace, hops: 1 });
    }
}

impl Linker {
    pub(super) fn derive_producer(&mut self, s: SpanSlot) {
        let f = self.span(s);
        let (tid, sid) = (self.traces[f.trace].id, f.span_id);
        if !self.msg(s).nested {
            self.emit(s);
        }
        self.index(s, true);
        // Evidence: consumers already indexed under the same keys, and links pointing here.
        if let Some(waiters) = self.links_to.get(&(tid, sid)).cloned() {
            for &c in &waiters {
                if self.span(c).is(DERIVED) {
                    self.add_evidence(s, c, Via::Link.bit());
                }
            }
        }
        for &Partner { span: other, vias } in &self.index_matches(s) {
            if self.span(other).is(CONSUMER) {
                self.add_evidence(s, other, vias);
            }
        }
    }

    /// What producer `s` contributes as a message of its own: its emit edge, its place among
    /// its destination's producers, unconsumed where a subscription has not consumed it.
    #[expect(clippy::many_single_char_names, reason = "slot, facts, messaging, destination")]
    fn emit(&mut self, s: SpanSlot) {
        let f = self.span(s);
        let m = self.msg(s);
        let dest = DestKey { system: m.system, destination: m.destination };
        let (service, error) = (f.service, f.is_error());
        let e = self.agg.edge(Node::Service(service), Node::Destination(dest), EdgeKind::Emit);
        e.count += 1;
        e.errors += u64::from(error);
        let m = self.spans[s].msg.as_deref_mut().expect("producer facts");
        let Aggregates { dests, subs, .. } = &mut self.agg;
        let d = dests.entry(dest).or_default();
        m.dest_pos = d.producers.len() as u32;
        d.producers.push(s);
        let reached = &m.subs;
        for &sub in &d.subs {
            if subs[sub].consumed > 0 && !reached.iter().any(|r| r.sub == sub) {
                subs[sub].unconsumed.insert(s);
            }
        }
    }

    /// Whether producer `c` sends the message producer `p` sends: same system, destination
    /// and message id (or neither has one).
    pub(super) fn same_message(&self, p: SpanSlot, c: SpanSlot) -> bool {
        let (pm, cm) = (self.msg(p), self.msg(c));
        pm.system == cm.system
            && pm.destination == cm.destination
            && pm.ids.first() == cm.ids.first()
    }

    pub(super) fn underive_producer(&mut self, s: SpanSlot) {
        let partners: Few<SpanSlot, 4> = self.msg(s).partners.iter().map(|c| c.span).collect();
        for &c in &partners {
            self.drop_evidence(s, c);
        }
        self.index(s, false);
        if self.msg(s).nested {
            return;
        }
        let f = self.span(s);
        let m = self.msg(s);
        let dest = DestKey { system: m.system, destination: m.destination };
        let (service, error) = (f.service, f.is_error());
        let e = self.agg.edge(Node::Service(service), Node::Destination(dest), EdgeKind::Emit);
        e.count -= 1;
        e.errors -= u64::from(error);
        let pos = self.msg(s).dest_pos as usize;
        if let Some(d) = self.agg.dests.get_mut(&dest) {
            d.producers.swap_remove(pos);
            let moved = d.producers.get(pos).copied();
            for &sub in &d.subs {
                self.agg.subs[sub].unconsumed.remove(&s);
            }
            if let Some(moved) = moved {
                self.msg_mut(moved).dest_pos = pos as u32;
            }
        }
    }

    pub(super) fn derive_consumer(&mut self, s: SpanSlot) {
        self.index(s, true);
        for k in 0..self.msg(s).links.len() {
            let key = self.msg(s).links[k];
            self.links_to.entry(key).or_default().push(s);
            if let Some(target) = self.find(key.0, key.1)
                && self.span(target).is(DERIVED)
                && self.span(target).is(PRODUCER)
            {
                self.add_evidence(target, s, Via::Link.bit());
            }
        }
        for &Partner { span: other, vias } in &self.index_matches(s) {
            if self.span(other).is(PRODUCER) {
                self.add_evidence(other, s, vias);
            }
        }
        self.refresh_orphan(s);
    }

    pub(super) fn underive_consumer(&mut self, s: SpanSlot) {
        let partners: Few<SpanSlot, 4> = self.msg(s).partners.iter().map(|p| p.span).collect();
        for &p in &partners {
            self.drop_evidence(p, s);
        }
        let links: Few<(TraceId, SpanId), 2> = self.msg(s).links.iter().copied().collect();
        for key in &links {
            if let Some(v) = self.links_to.get_mut(key) {
                v.remove_item(s);
                if v.is_empty() {
                    self.links_to.remove(key);
                }
            }
        }
        self.index(s, false);
        self.refresh_orphan(s);
    }

    /// The evidence of a hop from `p` to consumer span `c` (a mask of [`Via::bit`]; 0: none).
    /// Kept on the consumer side, whose list is short (a batch consumer's is its batch).
    fn vias(&self, p: SpanSlot, c: SpanSlot) -> u8 {
        self.span(c)
            .msg
            .as_deref()
            .and_then(|m| m.partners.iter().find(|x| x.span == p))
            .map_or(0, |x| x.vias)
    }

    pub(super) fn add_evidence(&mut self, p: SpanSlot, c: SpanSlot, vias: u8) {
        let old = self.vias(p, c);
        if old | vias == old {
            return;
        }
        if old == 0 {
            self.msg_mut(p).partners.push(Partner { span: c, vias: 0 });
            self.msg_mut(c).partners.push(Partner { span: p, vias });
            self.refresh_orphan(c);
        } else if let Some(entry) =
            self.msg_mut(c).partners.as_mut_slice().iter_mut().find(|x| x.span == p)
        {
            entry.vias |= vias;
        }
        self.refresh(p, c);
    }

    pub(super) fn drop_evidence(&mut self, p: SpanSlot, c: SpanSlot) {
        if !self.msg_mut(c).partners.remove_first(|x| x.span == p) {
            return;
        }
        self.msg_mut(p).partners.remove_first(|x| x.span == c);
        self.refresh(p, c);
        self.refresh_orphan(c);
    }

    /// The evidence of a hop from any producer of `group` (a producer and the producer spans
    /// nested under it) to consumer span `c`.
    fn group_vias(&self, group: &[SpanSlot], c: SpanSlot) -> u8 {
        group.iter().fold(0, |v, &p| v | self.vias(p, c))
    }

    /// Producer `p` and the producer spans nested under it (`MsgFacts::nested`), whose
    /// evidence counts for `p`'s hops.
    fn fold_group(&self, p: SpanSlot) -> Few<SpanSlot, 2> {
        let mut group: Few<SpanSlot, 2> = Few::default();
        group.push(p);
        let mut i = 0;
        while let Some(&x) = group.as_slice().get(i) {
            i += 1;
            if i > MAX_DEPTH {
                break;
            }
            let mut child = self.span(x).first_child;
            while let Some(y) = child {
                let yf = self.span(y);
                if yf.is(PRODUCER) && yf.msg.as_deref().is_some_and(|m| m.nested) {
                    group.push(y);
                }
                child = yf.next_sibling;
            }
        }
        group
    }

    /// The producer `p` folds into: itself, or the producer it is nested under.
    fn fold_root(&self, p: SpanSlot) -> SpanSlot {
        let mut root = p;
        for _ in 0..MAX_DEPTH {
            match self.span(root).parent {
                Some(par) if self.msg(root).nested => root = par,
                _ => break,
            }
        }
        root
    }

    /// The hop from `p` delivered at `d`, found on `d`'s short list.
    fn hop_of(&self, p: SpanSlot, d: SpanSlot) -> Option<HopSlot> {
        let m = self.span(d).msg.as_deref()?;
        m.hops.iter().copied().find(|&h| {
            let hop = &self.hops[h];
            hop.producer == p && hop.delivery == d
        })
    }

    /// `c`'s parent, if it is a derived consumer span with evidence from the producers of
    /// `group` (so `c`'s evidence folds into the parent's hop).
    fn folded_into(&self, group: &[SpanSlot], c: SpanSlot) -> Option<SpanSlot> {
        let par = self.span(c).parent?;
        (self.span(par).is(DERIVED)
            && self.span(par).is(CONSUMER)
            && self.group_vias(group, par) != 0)
            .then_some(par)
    }

    /// Brings the hops of producer `p` (or of the producer it is nested under) around
    /// consumer `c` in line with the evidence.
    fn refresh(&mut self, p: SpanSlot, c: SpanSlot) {
        let p = self.fold_root(p);
        let group = self.fold_group(p);
        let group = group.as_slice();
        self.sync_hop(p, c, group);
        let mut a = c;
        for _ in 0..MAX_DEPTH {
            let Some(parent) = self.folded_into(group, a) else { break };
            a = parent;
        }
        if a != c {
            self.sync_hop(p, a, group);
        }
        let mut child = self.span(c).first_child;
        while let Some(y) = child {
            child = self.span(y).next_sibling;
            if self.group_vias(group, y) != 0 {
                self.sync_hop(p, y, group);
            }
        }
    }

    /// What hop (p, d) should be: its evidence and consumer error, or `None` when `d` is not
    /// a delivery of `p` (no evidence from `p`'s fold `group`, `p` underived or nested, or
    /// `d` folded into its parent).
    fn desired(&self, p: SpanSlot, d: SpanSlot, group: &[SpanSlot]) -> Option<(u8, bool)> {
        if self.group_vias(group, d) == 0
            || !self.span(d).is(DERIVED)
            || !self.span(p).is(DERIVED)
            || self.msg(p).nested
            || self.folded_into(group, d).is_some()
        {
            return None;
        }
        let (mut vias, mut error) = (0, false);
        let mut stack: Few<SpanSlot, 8> = Few::default();
        stack.push(d);
        let mut seen = 0;
        while let Some(x) = stack.pop() {
            seen += 1;
            vias |= self.group_vias(group, x);
            error |= self.span(x).is_error();
            if seen > MAX_DEPTH {
                break;
            }
            let mut child = self.span(x).first_child;
            while let Some(y) = child {
                let yf = self.span(y);
                if yf.is(CONSUMER) && yf.is(DERIVED) && self.group_vias(group, y) != 0 {
                    stack.push(y);
                }
                child = yf.next_sibling;
            }
        }
        Some((vias, error))
    }

    fn sync_hop(&mut self, p: SpanSlot, d: SpanSlot, group: &[SpanSlot]) {
        let want = self.desired(p, d, group);
        let have = self.hop_of(p, d);
        match (have, want) {
            (None, None) => {}
            (None, Some((vias, error))) => {
                let h = self.new_hop(p, d, vias, error);
                self.contribute(h, true);
            }
            (Some(h), None) => {
                self.contribute(h, false);
                self.hops[h].live = false;
                self.hops.release(h);
            }
            (Some(h), Some((vias, error))) => {
                let hop = &mut self.hops[h];
                if hop.consumer_error != error {
                    self.contribute(h, false);
                    let hop = &mut self.hops[h];
                    hop.vias = vias;
                    hop.consumer_error = error;
                    self.contribute(h, true);
                } else if hop.vias != vias {
                    // What a hop contributes does not depend on how it was found: more (or
                    // less) evidence of the same hop only changes the record.
                    hop.vias = vias;
                    let (pt, dt) = (self.span(p).trace, self.span(d).trace);
                    self.touch_trace(pt);
                    self.touch_trace(dt);
                }
            }
        }
    }

    fn new_hop(&mut self, p: SpanSlot, d: SpanSlot, vias: u8, consumer_error: bool) -> HopSlot {
        let (pf, df) = (self.span(p), self.span(d));
        let (pm, dm) = (self.msg(p), self.msg(d));
        let dest = if pm.destination == Sym::EMPTY || dm.dead.is_some() {
            DestKey { system: dm.system, destination: dm.destination }
        } else {
            DestKey { system: pm.system, destination: pm.destination }
        };
        let group = if dm.group == Sym::EMPTY { df.service } else { dm.group };
        let queue = df.start.saturating_sub(pf.end);
        let skew = df.start < pf.start;
        let sub = self.agg.sub(SubKey { dest, group });
        let hop = HopFacts {
            producer: p,
            delivery: d,
            vias,
            consumer_error,
            queue,
            skew,
            dest,
            sub,
            live: true,
        };
        self.hops.insert(hop)
    }

    /// Applies (`add`) or retracts everything hop `h` contributes.
    fn contribute(&mut self, h: HopSlot, add: bool) {
        let hop = self.hops[h];
        let (p, d) = (hop.producer, hop.delivery);
        let (pf, df) = (self.span(p), self.span(d));
        let (p_service, d_service) = (pf.service, df.service);
        let (pt, dt) = (pf.trace, df.trace);
        let dest_node = Node::Destination(hop.dest);
        let dead = self.msg(d).dead.is_some();
        let emit = if dead {
            // A dead letter: the broker, not the producer, put it there.
            let pm = self.msg(p);
            let from =
                Node::Destination(DestKey { system: pm.system, destination: pm.destination });
            let traces = &mut self.traces[dt];
            traces.dead_letters = if add {
                traces.dead_letters.saturating_add(1)
            } else {
                traces.dead_letters.saturating_sub(1)
            };
            if add {
                self.agg.dead_letters.insert(h);
            } else {
                self.agg.dead_letters.remove(&h);
            }
            let e = self.agg.edge(from, dest_node, EdgeKind::DeadLetter);
            if add {
                e.count += 1;
            } else {
                e.count -= 1;
            }
            e
        } else {
            self.agg.edge(Node::Service(p_service), dest_node, EdgeKind::Emit)
        };
        if add {
            emit.samples.add(hop.queue);
        } else {
            emit.samples.remove(hop.queue);
        }
        let consume = self.agg.edge(dest_node, Node::Service(d_service), EdgeKind::Consume);
        let err = u64::from(hop.consumer_error);
        if add {
            consume.count += 1;
            consume.errors += err;
            consume.samples.add(hop.queue);
        } else {
            consume.count -= 1;
            consume.errors -= err;
            consume.samples.remove(hop.queue);
        }
        self.contribute_sub(&hop, d_service, add);
        self.touch_trace(pt);
        self.touch_trace(dt);
        if pt != dt {
            bump(&mut self.traces[dt].up, pt, add);
            bump(&mut self.traces[pt].down, dt, add);
        }
        if add {
            self.traces[dt].hops_in.push(h);
            self.msg_mut(p).hops.push(h);
            self.msg_mut(d).hops.push(h);
            self.stats.hops += 1;
        } else {
            self.traces[dt].hops_in.remove_item(h);
            self.msg_mut(p).hops.remove_item(h);
            self.msg_mut(d).hops.remove_item(h);
            self.stats.hops -= 1;
        }
        self.refresh_orphan(d);
    }

    /// A consumer-side span that is a delivery (not under another consumer span) with no
    /// evidence of any producer still shows in the graph, as a consume edge from its own
    /// destination.
    pub(super) fn refresh_orphan(&mut self, c: SpanSlot) {
        let f = self.span(c);
        let Some(m) = f.msg.as_deref() else { return };
        let under_consumer =
            f.parent.is_some_and(|par| self.span(par).is(DERIVED) && self.span(par).is(CONSUMER));
        let want = f.is(DERIVED) && f.is(CONSUMER) && m.partners.is_empty() && !under_consumer;
        if want == m.orphan {
            return;
        }
        let dest = DestKey { system: m.system, destination: m.destination };
        let (service, error) = (f.service, f.is_error());
        self.msg_mut(c).orphan = want;
        let e = self.agg.edge(Node::Destination(dest), Node::Service(service), EdgeKind::Consume);
        if want {
            e.count += 1;
            e.errors += u64::from(error);
        } else {
            e.count -= 1;
            e.errors -= u64::from(error);
        }
    }

    /// Hops from producer `p` to subscription `sub` held now.
    fn pair(&self, p: SpanSlot, sub: SubSlot) -> u32 {
        self.span(p)
            .msg
            .as_deref()
            .and_then(|m| m.subs.iter().find(|r| r.sub == sub))
            .map_or(0, |r| r.hops)
    }

    fn contribute_sub(&mut self, hop: &HopFacts, d_service: Sym, add: bool) {
        let si = hop.sub;
        let p = hop.producer;
        if add {
            if self.agg.subs[si].consumed == 0 {
                // The subscription starts counting: every producer of its destination that
                // it has not consumed is unconsumed.
                let producers: Vec<SpanSlot> =
                    self.agg.dests.get(&hop.dest).map(|d| d.producers.clone()).unwrap_or_default();
                for q in producers {
                    if self.pair(q, si) == 0 {
                        self.agg.subs[si].unconsumed.insert(q);
                    }
                }
            }
            let reached = &mut self.msg_mut(p).subs;
            let n = if let Some(entry) = reached.as_mut_slice().iter_mut().find(|r| r.sub == si) {
                entry.hops += 1;
                entry.hops
            } else {
                reached.push(Reached { sub: si, hops: 1 });
                1
            };
            if n == 2 {
                self.agg.dups.insert(Duplicate { producer: p, sub: si });
            }
            let first = n == 1;
            let sub = &mut self.agg.subs[si];
            if first {
                sub.unconsumed.remove(&p);
            }
            sub.consumed += 1;
            sub.queue.add(hop.queue);
            sub.skewed += u64::from(hop.skew);
            *sub.services.entry(d_service).or_default() += 1;
        } else {
            let reached = &mut self.msg_mut(p).subs;
            let n = reached.iter().find(|r| r.sub == si).map_or(0, |r| r.hops);
            if n > 1 {
                if let Some(entry) = reached.as_mut_slice().iter_mut().find(|r| r.sub == si) {
                    entry.hops -= 1;
                }
            } else {
                reached.remove_first(|r| r.sub == si);
            }
            if n == 2 {
                self.agg.dups.remove(&Duplicate { producer: p, sub: si });
            }
            let last = n <= 1;
            let p_derived = self.span(p).is(DERIVED);
            let sub = &mut self.agg.subs[si];
            sub.consumed -= 1;
            sub.queue.remove(hop.queue);
            sub.skewed -= u64::from(hop.skew);
            if let Some(n) = sub.services.get_mut(&d_service) {
                *n -= 1;
                if *n == 0 {
                    sub.services.remove(&d_service);
                }
            }
            if sub.consumed == 0 {
                sub.unconsumed.clear();
            } else if last && p_derived {
                sub.unconsumed.insert(p);
            }
        }
    }
}
