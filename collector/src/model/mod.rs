//! The compact span model: what OTLP is decoded into at the edge, and what the store, the
//! linker and the analyses read.
//!
//! Ids are fixed-size arrays, repeated strings (service and span names, attribute keys,
//! destinations) are interned [`Sym`]s, and the messaging fields that DESIGN.md §3 lists
//! under several names are normalised once, at decode time, into [`Messaging`].

pub mod hex;
mod ids;
mod intern;
mod messaging;
mod span;

pub use ids::{IdError, SpanId, TraceId};
pub use intern::{Interner, Sym};
pub use messaging::{DeadLetter, Keys, Messaging, MessagingOp, is_dead_letter_name, normalise};
pub use span::{
    Event, KeyValue, Link, LogRecord, Resource, Scope, Span, SpanKind, Status, StatusCode, Value,
};
