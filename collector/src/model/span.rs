//! Spans, their resource and scope, events, links and log records.

use std::mem::size_of;
use std::sync::Arc;

use compact_str::CompactString;

use super::{Messaging, SpanId, Sym, TraceId};

/// An attribute value, as in OTLP's `AnyValue`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// No value (an empty `AnyValue`).
    #[default]
    Empty,
    /// A string; up to 24 bytes are held inline, without a heap allocation (most attribute
    /// values: methods, routes, hosts, system names).
    Str(CompactString),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Box<[u8]>),
    Array(Box<[Value]>),
    KvList(Box<[KeyValue]>),
}

impl Value {
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an int value or a string holding a decimal integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// Approximate heap bytes owned by this value (not counting `size_of::<Value>()`).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Str(s) if s.is_heap_allocated() => s.capacity() + ALLOC_OVERHEAD,
            Value::Bytes(b) => b.len() + ALLOC_OVERHEAD,
            Value::Array(a) => {
                a.iter().map(|v| size_of::<Value>() + v.heap_bytes()).sum::<usize>()
                    + ALLOC_OVERHEAD
            }
            Value::KvList(kv) => attrs_bytes(kv),
            Value::Str(_) | Value::Empty | Value::Bool(_) | Value::Int(_) | Value::Double(_) => 0,
        }
    }
}

/// An attribute: an interned key and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    pub key: Sym,
    pub value: Value,
}

impl KeyValue {
    fn total_bytes(&self) -> usize {
        size_of::<KeyValue>() + self.value.heap_bytes()
    }
}

/// Looks up an attribute by interned key.
pub(crate) fn find_attr(attrs: &[KeyValue], key: Sym) -> Option<&Value> {
    attrs.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
}

/// What the allocator adds to each heap allocation (header and rounding), on average.
/// Counted so the store's estimate tracks the process's real memory use.
pub(crate) const ALLOC_OVERHEAD: usize = 16;

fn attrs_bytes(attrs: &[KeyValue]) -> usize {
    if attrs.is_empty() {
        return 0;
    }
    attrs.iter().map(KeyValue::total_bytes).sum::<usize>() + ALLOC_OVERHEAD
}

fn str_bytes(s: &str) -> usize {
    if s.is_empty() { 0 } else { s.len() + ALLOC_OVERHEAD }
}

/// The resource a span came from. Shared (`Arc`) by every span of one OTLP `ResourceSpans`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    /// `service.name`, or `unknown_service` when the resource does not say.
    pub service: Sym,
    pub attributes: Box<[KeyValue]>,
    pub dropped_attributes_count: u32,
    pub schema_url: Box<str>,
}

/// The instrumentation scope that made a span. Shared by every span of one `ScopeSpans`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scope {
    pub name: Box<str>,
    pub version: Box<str>,
    pub attributes: Box<[KeyValue]>,
    pub dropped_attributes_count: u32,
    pub schema_url: Box<str>,
}

/// OTLP span kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SpanKind {
    #[default]
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// From the OTLP enum number; unknown numbers are `Unspecified`.
    pub fn from_otlp(n: i32) -> Self {
        match n {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    /// The OTLP enum number.
    pub fn to_otlp(self) -> i32 {
        match self {
            SpanKind::Unspecified => 0,
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
            SpanKind::Producer => 4,
            SpanKind::Consumer => 5,
        }
    }
}

/// OTLP status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StatusCode {
    #[default]
    Unset,
    Ok,
    Error,
}

/// A span's status.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Status {
    pub code: StatusCode,
    pub message: Box<str>,
}

/// A span event (an exception, a log-like annotation).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub time_unix_nano: u64,
    pub name: Sym,
    pub attributes: Box<[KeyValue]>,
    pub dropped_attributes_count: u32,
}

/// A span link: a pointer to another span's context, the usual shape of an async hop
/// whose consumer starts a new trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub trace_state: Box<str>,
    pub attributes: Box<[KeyValue]>,
    pub dropped_attributes_count: u32,
    pub flags: u32,
}

/// One span in compact form. Keyed by `(trace_id, span_id)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// `None` for a root span.
    pub parent_span_id: Option<SpanId>,
    pub trace_state: Box<str>,
    pub flags: u32,
    pub name: Sym,
    pub kind: SpanKind,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub attributes: Box<[KeyValue]>,
    pub dropped_attributes_count: u32,
    pub events: Box<[Event]>,
    pub dropped_events_count: u32,
    pub links: Box<[Link]>,
    pub dropped_links_count: u32,
    pub status: Status,
    pub resource: Arc<Resource>,
    pub scope: Arc<Scope>,
    /// Messaging fields normalised from whichever convention the span used; `None` for
    /// spans that are not messaging spans.
    pub messaging: Option<Box<Messaging>>,
}

impl Span {
    /// The service that emitted the span.
    pub fn service(&self) -> Sym {
        self.resource.service
    }

    /// The attribute with the interned key `key`.
    pub fn attr(&self, key: Sym) -> Option<&Value> {
        find_attr(&self.attributes, key)
    }

    /// Whether the span is an error: its status, or (status unset) its messaging
    /// instrumentation's word that the attempt failed ([`super::Messaging::failed`]).
    pub fn is_error(&self) -> bool {
        self.status.code == StatusCode::Error || self.messaging.as_deref().is_some_and(|m| m.failed)
    }

    /// Duration in nanoseconds; 0 when the end precedes the start.
    pub fn duration_ns(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }

    /// Approximate bytes this span costs in memory, including its own struct. Shared
    /// resources and scopes are not counted here (the store counts them once).
    pub fn approx_bytes(&self) -> usize {
        let events: usize =
            self.events.iter().map(|e| size_of::<Event>() + attrs_bytes(&e.attributes)).sum();
        let links: usize = self
            .links
            .iter()
            .map(|l| size_of::<Link>() + l.trace_state.len() + attrs_bytes(&l.attributes))
            .sum();
        let messaging =
            self.messaging.as_ref().map_or(0, |m| size_of::<Messaging>() + m.heap_bytes());
        size_of::<Span>()
            + self.trace_state.len()
            + attrs_bytes(&self.attributes)
            + events
            + links
            + self.status.message.len()
            + messaging
    }
}

/// A log record, kept so it can be shown beside its span.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub time_unix_nano: u64,
    pub observed_time_unix_nano: u64,
    pub severity_number: i32,
    pub severity_text: Box<str>,
    pub body: Value,
    pub attributes: Box<[KeyValue]>,
    pub dropped_attributes_count: u32,
    pub flags: u32,
    /// The span the record was emitted in, when it says.
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub event_name: Box<str>,
    pub resource: Arc<Resource>,
    pub scope: Arc<Scope>,
}

impl LogRecord {
    /// Approximate bytes this record costs in memory.
    pub fn approx_bytes(&self) -> usize {
        size_of::<LogRecord>()
            + ALLOC_OVERHEAD
            + str_bytes(&self.severity_text)
            + self.body.heap_bytes()
            + attrs_bytes(&self.attributes)
            + str_bytes(&self.event_name)
    }
}

// Keep the hot structs small: they are multiplied by millions.
const _: () = assert!(size_of::<Value>() == 24);
const _: () = assert!(size_of::<KeyValue>() == 32);
