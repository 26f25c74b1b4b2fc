//! The engine's published read-only views: what a user interface reads, and the only way it
//! reads anything the engine owns.
//!
//! The engine thread keeps a [`Publisher`]. A few times a second while spans arrive (and
//! never while idle, unless a live event clock moves), it runs the analysis and publishes one
//! immutable [`View`] (the [`Analysis`], the counters, the event clock, and what the UI
//! asked for) through a [`tokio::sync::watch`] channel. Nothing is computed while nobody
//! watches. A UI holds a [`ViewHandle`]: it reads the latest `Arc<View>` and sends
//! [`ViewRequest`]s (the details of one flow, an attribute filter, clear); a request is
//! answered in the next view, published at once.
//!
//! Everything here is plain data (strings, numbers, ordered collections): a view can be
//! built from a fixture and rendered in tests with a fixed clock.
//!
//! Where things are:
//! - `types.rs`: the data a view holds ([`View`], [`FlowDetail`], [`DetailSpan`], [`LagTrend`],
//!   …) and what a UI sends ([`ViewRequest`], [`ViewConfig`]);
//! - `build.rs`: building a view from the store and the linker (the flow detail, attribute
//!   matches, lag trends);
//! - `publish.rs`: when views are published and how they reach a UI (`Publisher`,
//!   [`ViewHandle`]).
//!
//! [`Analysis`]: crate::analysis::Analysis

mod build;
mod publish;
mod types;

pub use build::{attribute_matches, build, detail, value_text};
pub(in crate::engine) use publish::{Action, Hub, Publisher};
pub use publish::{CLOCK_INTERVAL, MIN_INTERVAL, TREND_REFRESH, ViewHandle, wall_clock_ns};
pub use types::{
    AttributeMatches, ClockMode, DetailEvent, DetailLog, DetailSpan, DetailTarget, EventClock,
    FlowDetail, FlowFacts, FlowRow, FlowRows, LagTrend, MAX_DETAIL_SPANS, Sources, SpanPointer,
    TREND_BUCKET_NS, TREND_BUCKETS, View, ViewConfig, ViewRequest, Wants, empty_analysis,
};

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod tests;
