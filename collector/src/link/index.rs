//! The indexes that find the other side of a hop whichever side arrives first: spans by
//! message id, by (destination, partition, offset), and by conversation id.

use std::collections::hash_map::Entry;
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};

use super::Linker;
use super::facts::{DERIVED, Partner};
use super::few::Few;
use super::hop::Via;
use super::slot::SpanSlot;
use crate::model::Sym;

fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

impl Linker {
    /// Adds (or removes) `span` under its message ids, offset and conversation id.
    ///
    /// A message id or offset names one message: a handful of spans share it (its producer,
    /// a resend, one consumer per subscription, redeliveries). Past [`MAX_SHARING`] spans
    /// the key is being reused (ids recycled by a buggy client, offsets of a recreated
    /// topic, a load generator replaying requests), and further spans are not indexed under
    /// it, so each arriving span stays O(1) instead of scanning an ever longer list; they
    /// still link through parents and span links.
    pub(super) fn index(&mut self, span: SpanSlot, add: bool) {
        let Some(m) = self.spans[span].msg.as_deref() else { return };
        let edit = |cap: usize| {
            move |v: &mut Few<SpanSlot, 2>| {
                if add {
                    if v.len() < cap && !v.contains(&span) {
                        v.push(span);
                    }
                } else {
                    v.remove_item(span);
                }
            }
        };
        for id in m.ids.iter() {
            edit_index(&mut self.by_id, hash_str(id), edit(MAX_SHARING));
        }
        if let (Some(p), Some(other)) = (m.partition, m.offset)
            && m.destination != Sym::EMPTY
        {
            edit_index(&mut self.by_offset, (m.destination, p, other), edit(MAX_SHARING));
        }
        if let Some(c) = m.conversation.as_deref() {
            edit_index(&mut self.by_conversation, hash_str(c), edit(MAX_CONVERSATION));
        }
    }

    /// Derived spans sharing a message id or an offset with `span`, and how.
    pub(super) fn index_matches(&self, span: SpanSlot) -> Few<Partner, 4> {
        let m = self.msg(span);
        let mut out: Few<Partner, 4> = Few::default();
        let mut push = |other: SpanSlot, via: Via| {
            if let Some(p) = out.as_mut_slice().iter_mut().find(|p| p.span == other) {
                p.vias |= via.bit();
            } else {
                out.push(Partner { span: other, vias: via.bit() });
            }
        };
        for id in m.ids.iter() {
            if let Some(v) = self.by_id.get(&hash_str(id)) {
                for &other in v {
                    if other != span
                        && self.span(other).is(DERIVED)
                        && self.span(other).msg.as_ref().is_some_and(|om| om.ids.contains(id))
                    {
                        push(other, Via::MessageId);
                    }
                }
            }
        }
        if let (Some(p), Some(off)) = (m.partition, m.offset)
            && m.destination != Sym::EMPTY
            && let Some(v) = self.by_offset.get(&(m.destination, p, off))
        {
            for &other in v {
                if other != span && self.span(other).is(DERIVED) {
                    push(other, Via::Offset);
                }
            }
        }
        out
    }

    /// Producer and consumer spans sharing `span`'s conversation id (for weak hops).
    pub(crate) fn conversation_partners(&self, span: SpanSlot) -> Vec<SpanSlot> {
        let Some(m) = self.span(span).msg.as_deref() else { return Vec::new() };
        let Some(conv) = m.conversation.as_deref() else { return Vec::new() };
        self.by_conversation
            .get(&hash_str(conv))
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|&other| {
                        other != span
                            && self
                                .span(other)
                                .msg
                                .as_ref()
                                .and_then(|om| om.conversation.as_deref())
                                == Some(conv)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Messaging spans carrying a conversation id.
    pub(crate) fn conversation_members(&self) -> Vec<SpanSlot> {
        let mut v: Vec<SpanSlot> = self.by_conversation.values().flatten().copied().collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Spans indexed under one message id or one offset (see [`Linker::index`]).
const MAX_SHARING: usize = 64;
/// Spans indexed under one conversation id: a conversation legitimately spans many messages.
const MAX_CONVERSATION: usize = 1024;

fn edit_index<K: Hash + Eq + Copy>(
    map: &mut FxHashMap<K, Few<SpanSlot, 2>>,
    key: K,
    edit: impl Fn(&mut Few<SpanSlot, 2>),
) {
    // One probe of the table whatever the outcome (a key emptied is removed through its entry).
    match map.entry(key) {
        Entry::Occupied(mut o) => {
            edit(o.get_mut());
            if o.get().is_empty() {
                o.remove();
            }
        }
        Entry::Vacant(v) => {
            let mut list = Few::default();
            edit(&mut list);
            if !list.is_empty() {
                v.insert(list);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

    use super::*;
    use crate::fake::Generator;
    use crate::model::Interner;
    use crate::otlp::convert::Decoder;

    /// Replayed traffic: the same message ids and offsets on thousands of unrelated spans.
    /// The index keeps at most `MAX_SHARING` spans per key, so linking stays O(1) per span.
    #[test]
    fn a_reused_message_id_is_indexed_a_bounded_number_of_times() {
        let interner = Arc::new(Interner::new());
        let decoder = Decoder::new(Arc::clone(&interner));
        let template = Generator::new(5, 1_000).request(6);
        let mut linker = Linker::new(Arc::clone(&interner));
        let mut all = Vec::new();
        for round in 0..300u16 {
            // New trace ids every round, same message ids and offsets.
            let mut req: ExportTraceServiceRequest = template.clone();
            for span in req
                .resource_spans
                .iter_mut()
                .flat_map(|r| &mut r.scope_spans)
                .flat_map(|s| &mut s.spans)
            {
                span.trace_id[..2].copy_from_slice(&round.to_be_bytes());
                for link in &mut span.links {
                    link.trace_id[..2].copy_from_slice(&round.to_be_bytes());
                }
            }
            all.extend(decoder.traces(req).spans);
        }
        let id = all
            .iter()
            .find_map(|s| s.messaging.as_ref()?.message_id.clone())
            .expect("a message id");
        assert!(
            all.iter()
                .filter(|s| s.messaging.as_ref().and_then(|m| m.message_id.as_ref()) == Some(&id))
                .count()
                > 3 * MAX_SHARING
        );
        linker.add_all(&all);
        let indexed = linker.by_id.get(&hash_str(&id)).map_or(0, |v| v.len());
        assert!((1..=MAX_SHARING).contains(&indexed), "{indexed} spans indexed under one id");
        assert!(linker.by_offset.values().all(|v| v.len() <= MAX_SHARING));
        // Span links still tie every consumer (two a round) to its own producer.
        let analysis = crate::analysis::analyze(
            &linker,
            &crate::analysis::AnalysisOptions::at_watermark(&linker),
        );
        let via_link =
            analysis.hops.iter().filter(|h| h.via == crate::analysis::HopVia::Link).count();
        assert_eq!(via_link, 600);
    }
}
