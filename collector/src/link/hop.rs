//! Hop detection: [`Via`] (how a hop was found), the hop's facts ([`HopFacts`]), the evidence
//! kept per (producer, consumer span) pair, and the hops made, updated and retracted as that
//! evidence comes and goes, with what each contributes to the aggregates (graph edges,
//! subscriptions, the trace graph).

use super::agg::{Aggregates, DestKey, EdgeKind, Node, SubKey};
use super::facts::NONE;
use super::facts::{CONSUMER, DERIVED, PRODUCER};
use super::few::Few;
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
    pub producer: u32,
    pub delivery: u32,
    /// Ways the hop was found (a mask of [`Via::bit`]).
    pub vias: u8,
    /// The delivery or a consumer span folded under it is an error.
    pub consumer_error: bool,
    /// Consumer start − producer end, 0 when negative.
    pub queue: u64,
    /// The consumer started before the producer did: the hosts' clocks disagree.
    pub skew: bool,
    pub dest: DestKey,
    /// Index of the subscription in [`Aggregates::subs`].
    pub sub: u32,
    pub live: bool,
}

fn bump<const N: usize>(list: &mut Few<(u32, u32), N>, t: u32, add: bool) {
    if let Some(i) = list.iter().position(|(x, _)| *x == t) {
        let entry = &mut list.as_mut_slice()[i];
        if add {
            entry.1 += 1;
        } else {
            entry.1 -= 1;
            if entry.1 == 0 {
                list.swap_remove(i);
            }
        }
    } else if add {
        list.push((t, 1));
    }
}

impl Linker {
    #[expect(clippy::many_single_char_names, reason = "slot, facts, messaging, destination")]
    pub(super) fn derive_producer(&mut self, s: u32) {
        let f = self.sp(s);
        let m = self.msg(s);
        let dest = DestKey { system: m.system, destination: m.destination };
        let (service, error) = (f.service, f.is_error());
        let (tid, sid) = (self.traces[f.trace as usize].id, f.span_id);
        let e = self.agg.edge(Node::Service(service), Node::Destination(dest), EdgeKind::Emit);
        e.count += 1;
        e.errors += u64::from(error);
        let m = self.spans[s as usize].msg.as_deref_mut().expect("producer facts");
        let Aggregates { dests, subs, .. } = &mut self.agg;
        let d = dests.entry(dest).or_default();
        m.dest_pos = d.producers.len() as u32;
        d.producers.push(s);
        let reached = &m.subs;
        for &sub in &d.subs {
            if subs[sub as usize].consumed > 0 && !reached.iter().any(|(x, _)| *x == sub) {
                subs[sub as usize].unconsumed.insert(s);
            }
        }
        self.index(s, true);
        // Evidence: consumers already indexed under the same keys, and links pointing here.
        if let Some(waiters) = self.links_to.get(&(tid, sid)).cloned() {
            for &c in &waiters {
                if self.sp(c).is(DERIVED) {
                    self.add_evidence(s, c, Via::Link.bit());
                }
            }
        }
        for &(other, via) in &self.index_matches(s) {
            if self.sp(other).is(CONSUMER) {
                self.add_evidence(s, other, via);
            }
        }
    }

    pub(super) fn underive_producer(&mut self, s: u32) {
        let partners: Few<u32, 4> = self.msg(s).partners.iter().map(|(c, _)| *c).collect();
        for &c in &partners {
            self.drop_evidence(s, c);
        }
        let f = self.sp(s);
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
                self.agg.subs[sub as usize].unconsumed.remove(&s);
            }
            if let Some(moved) = moved {
                self.msg_mut(moved).dest_pos = pos as u32;
            }
        }
        self.index(s, false);
    }

    pub(super) fn derive_consumer(&mut self, s: u32) {
        self.index(s, true);
        for k in 0..self.msg(s).links.len() {
            let key = self.msg(s).links[k];
            self.links_to.entry(key).or_default().push(s);
            if let Some(target) = self.find(key.0, key.1)
                && self.sp(target).is(DERIVED)
                && self.sp(target).is(PRODUCER)
            {
                self.add_evidence(target, s, Via::Link.bit());
            }
        }
        for &(other, via) in &self.index_matches(s) {
            if self.sp(other).is(PRODUCER) {
                self.add_evidence(other, s, via);
            }
        }
        self.refresh_orphan(s);
    }

    pub(super) fn underive_consumer(&mut self, s: u32) {
        let partners: Few<u32, 4> = self.msg(s).partners.iter().map(|(p, _)| *p).collect();
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
    fn vias(&self, p: u32, c: u32) -> u8 {
        self.sp(c)
            .msg
            .as_deref()
            .and_then(|m| m.partners.iter().find(|(x, _)| *x == p))
            .map_or(0, |(_, v)| *v)
    }

    pub(super) fn add_evidence(&mut self, p: u32, c: u32, vias: u8) {
        let old = self.vias(p, c);
        if old | vias == old {
            return;
        }
        if old == 0 {
            self.msg_mut(p).partners.push((c, 0));
            self.msg_mut(c).partners.push((p, vias));
            self.refresh_orphan(c);
        } else if let Some(entry) =
            self.msg_mut(c).partners.as_mut_slice().iter_mut().find(|(x, _)| *x == p)
        {
            entry.1 |= vias;
        }
        self.refresh(p, c);
    }

    pub(super) fn drop_evidence(&mut self, p: u32, c: u32) {
        if !self.msg_mut(c).partners.remove_first(|(x, _)| *x == p) {
            return;
        }
        self.msg_mut(p).partners.remove_first(|(x, _)| *x == c);
        self.refresh(p, c);
        self.refresh_orphan(c);
    }

    fn matched(&self, p: u32, c: u32) -> bool {
        self.vias(p, c) != 0
    }

    /// The hop from `p` delivered at `d`, found on `d`'s short list.
    fn hop_of(&self, p: u32, d: u32) -> Option<u32> {
        let m = self.sp(d).msg.as_deref()?;
        m.hops.iter().copied().find(|&h| {
            let hop = &self.hops[h as usize];
            hop.producer == p && hop.delivery == d
        })
    }

    /// Whether `c`'s parent is a derived consumer span with evidence from `p` (so `c`'s
    /// evidence folds into the parent's hop).
    fn folded(&self, p: u32, c: u32) -> bool {
        let par = self.sp(c).parent;
        par != NONE && self.sp(par).is(DERIVED) && self.sp(par).is(CONSUMER) && self.matched(p, par)
    }

    /// Brings the hops of producer `p` around consumer `c` in line with the evidence.
    fn refresh(&mut self, p: u32, c: u32) {
        self.sync_hop(p, c);
        let mut a = c;
        for _ in 0..MAX_DEPTH {
            if !self.folded(p, a) {
                break;
            }
            a = self.sp(a).parent;
        }
        if a != c {
            self.sync_hop(p, a);
        }
        let mut y = self.sp(c).first_child;
        while y != NONE {
            let next = self.sp(y).next_sibling;
            if self.matched(p, y) {
                self.sync_hop(p, y);
            }
            y = next;
        }
    }

    /// What hop (p, d) should be: its evidence and consumer error, or `None` when `d` is not
    /// a delivery of `p` (no evidence, or folded into its parent).
    fn desired(&self, p: u32, d: u32) -> Option<(u8, bool)> {
        if !self.matched(p, d) || !self.sp(d).is(DERIVED) || self.folded(p, d) {
            return None;
        }
        let (mut vias, mut error) = (0, false);
        let mut stack: Few<u32, 8> = Few::default();
        stack.push(d);
        let mut seen = 0;
        while let Some(x) = stack.pop() {
            seen += 1;
            vias |= self.vias(p, x);
            error |= self.sp(x).is_error();
            if seen > MAX_DEPTH {
                break;
            }
            let mut y = self.sp(x).first_child;
            while y != NONE {
                let yf = self.sp(y);
                if yf.is(CONSUMER) && yf.is(DERIVED) && self.matched(p, y) {
                    stack.push(y);
                }
                y = yf.next_sibling;
            }
        }
        Some((vias, error))
    }

    fn sync_hop(&mut self, p: u32, d: u32) {
        let want = self.desired(p, d);
        let have = self.hop_of(p, d);
        match (have, want) {
            (None, None) => {}
            (None, Some((vias, error))) => {
                let h = self.new_hop(p, d, vias, error);
                self.contribute(h, true);
            }
            (Some(h), None) => {
                self.contribute(h, false);
                self.hops[h as usize].live = false;
                self.free_hops.push(h);
            }
            (Some(h), Some((vias, error))) => {
                let hop = &mut self.hops[h as usize];
                if hop.consumer_error != error {
                    self.contribute(h, false);
                    let hop = &mut self.hops[h as usize];
                    hop.vias = vias;
                    hop.consumer_error = error;
                    self.contribute(h, true);
                } else if hop.vias != vias {
                    // What a hop contributes does not depend on how it was found: more (or
                    // less) evidence of the same hop only changes the record.
                    hop.vias = vias;
                    let (pt, dt) = (self.sp(p).trace, self.sp(d).trace);
                    self.touch_trace(pt);
                    self.touch_trace(dt);
                }
            }
        }
    }

    fn new_hop(&mut self, p: u32, d: u32, vias: u8, consumer_error: bool) -> u32 {
        let (pf, df) = (self.sp(p), self.sp(d));
        let (pm, dm) = (self.msg(p), self.msg(d));
        let dest = if pm.destination == Sym::EMPTY {
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
        if let Some(h) = self.free_hops.pop() {
            self.hops[h as usize] = hop;
            h
        } else {
            self.hops.push(hop);
            (self.hops.len() - 1) as u32
        }
    }

    /// Applies (`add`) or retracts everything hop `h` contributes.
    fn contribute(&mut self, h: u32, add: bool) {
        let hop = self.hops[h as usize];
        let (p, d) = (hop.producer, hop.delivery);
        let (pf, df) = (self.sp(p), self.sp(d));
        let (p_service, d_service) = (pf.service, df.service);
        let (pt, dt) = (pf.trace, df.trace);
        let dest_node = Node::Destination(hop.dest);
        let emit = self.agg.edge(Node::Service(p_service), dest_node, EdgeKind::Emit);
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
            bump(&mut self.traces[dt as usize].up, pt, add);
            bump(&mut self.traces[pt as usize].down, dt, add);
        }
        if add {
            self.traces[dt as usize].hops_in.push(h);
            self.msg_mut(p).hops.push(h);
            self.msg_mut(d).hops.push(h);
            self.stats.hops += 1;
        } else {
            self.traces[dt as usize].hops_in.remove_item(h);
            self.msg_mut(p).hops.remove_item(h);
            self.msg_mut(d).hops.remove_item(h);
            self.stats.hops -= 1;
        }
        self.refresh_orphan(d);
    }

    /// A consumer-side span that is a delivery (not under another consumer span) with no
    /// evidence of any producer still shows in the graph, as a consume edge from its own
    /// destination.
    pub(super) fn refresh_orphan(&mut self, c: u32) {
        let f = self.sp(c);
        let Some(m) = f.msg.as_deref() else { return };
        let par = f.parent;
        let under_consumer = par != NONE && self.sp(par).is(DERIVED) && self.sp(par).is(CONSUMER);
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
    fn pair(&self, p: u32, sub: u32) -> u32 {
        self.sp(p)
            .msg
            .as_deref()
            .and_then(|m| m.subs.iter().find(|(x, _)| *x == sub))
            .map_or(0, |(_, n)| *n)
    }

    fn contribute_sub(&mut self, hop: &HopFacts, d_service: Sym, add: bool) {
        let si = hop.sub;
        let p = hop.producer;
        if add {
            if self.agg.subs[si as usize].consumed == 0 {
                // The subscription starts counting: every producer of its destination that
                // it has not consumed is unconsumed.
                let producers: Vec<u32> =
                    self.agg.dests.get(&hop.dest).map(|d| d.producers.clone()).unwrap_or_default();
                for q in producers {
                    if self.pair(q, si) == 0 {
                        self.agg.subs[si as usize].unconsumed.insert(q);
                    }
                }
            }
            let reached = &mut self.msg_mut(p).subs;
            let n = if let Some(entry) = reached.as_mut_slice().iter_mut().find(|(x, _)| *x == si) {
                entry.1 += 1;
                entry.1
            } else {
                reached.push((si, 1));
                1
            };
            if n == 2 {
                self.agg.dups.insert((p, si));
            }
            let first = n == 1;
            let sub = &mut self.agg.subs[si as usize];
            if first {
                sub.unconsumed.remove(&p);
            }
            sub.consumed += 1;
            sub.queue.add(hop.queue);
            sub.skewed += u64::from(hop.skew);
            *sub.services.entry(d_service).or_default() += 1;
        } else {
            let reached = &mut self.msg_mut(p).subs;
            let n = reached.iter().find(|(x, _)| *x == si).map_or(0, |(_, n)| *n);
            if n > 1 {
                if let Some(entry) = reached.as_mut_slice().iter_mut().find(|(x, _)| *x == si) {
                    entry.1 -= 1;
                }
            } else {
                reached.remove_first(|(x, _)| *x == si);
            }
            if n == 2 {
                self.agg.dups.remove(&(p, si));
            }
            let last = n <= 1;
            let p_derived = self.sp(p).is(DERIVED);
            let sub = &mut self.agg.subs[si as usize];
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
