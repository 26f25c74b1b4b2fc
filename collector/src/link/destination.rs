//! Destinations: where a message goes (DESIGN.md §2), and the producers and subscriptions
//! seen for each.

use super::slot::{SpanSlot, SubSlot};
use crate::model::Sym;

/// A destination: (messaging.system, messaging.destination.name), either possibly empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct DestKey {
    pub system: Sym,
    pub destination: Sym,
}

/// The producers seen for one destination, and the subscriptions that consumed from it.
#[derive(Debug, Clone, Default)]
pub(crate) struct DestFacts {
    /// Derived producer spans; each knows its position ([`super::facts::MsgFacts`]'s
    /// `dest_pos`), so removal is O(1).
    pub producers: Vec<SpanSlot>,
    /// Subscriptions of this destination.
    pub subs: Vec<SubSlot>,
}
