//! What the protobuf reader reports when a message does not decode: [`DecodeError`] with
//! its [`ErrorKind`], displayed as prost displays its own errors, naming the message and
//! field (the names of every message and field the reader knows live here).

use std::fmt;

use super::WireType;

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// A varint longer than 10 bytes, or cut short by the end of its message.
    InvalidVarint,
    /// A field key above `u32::MAX`.
    InvalidKey(u64),
    /// Wire type 6 or 7.
    InvalidWireType(u64),
    /// Field number 0.
    InvalidTag,
    /// A known field with another wire type than its type has.
    UnexpectedWireType { actual: WireType, expected: WireType },
    /// A length, or a fixed-size value, past the end of its message.
    BufferUnderflow,
    /// An end-group tag without its start, or closing another group.
    UnexpectedEndGroup,
    /// A string field that is not UTF-8.
    InvalidString,
    /// Messages or groups nested deeper than prost allows.
    RecursionLimit,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::InvalidVarint => f.write_str("invalid varint"),
            ErrorKind::InvalidKey(key) => write!(f, "invalid key value: {key}"),
            ErrorKind::InvalidWireType(value) => write!(f, "invalid wire type value: {value}"),
            ErrorKind::InvalidTag => f.write_str("invalid tag value: 0"),
            ErrorKind::UnexpectedWireType { actual, expected } => {
                write!(f, "invalid wire type: {actual:?} (expected {expected:?})")
            }
            ErrorKind::BufferUnderflow => f.write_str("buffer underflow"),
            ErrorKind::UnexpectedEndGroup => f.write_str("unexpected end group tag"),
            ErrorKind::InvalidString => {
                f.write_str("invalid string value: data is not UTF-8 encoded")
            }
            ErrorKind::RecursionLimit => f.write_str("recursion limit reached"),
        }
    }
}

/// A message that is not valid protobuf for its type. Displayed as prost displays its
/// errors: `failed to decode Protobuf message: Span.name: invalid string value: data is not
/// UTF-8 encoded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The message being read when it failed.
    pub message: &'static str,
    /// The number of the field being read (0 before the first).
    pub field: u32,
    pub kind: ErrorKind,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("failed to decode Protobuf message: ")?;
        match field_name(self.message, self.field) {
            Some(name) => write!(f, "{}.{name}: ", self.message)?,
            None if self.field > 0 => write!(f, "{}.{}: ", self.message, self.field)?,
            None => write!(f, "{}: ", self.message)?,
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for DecodeError {}

/// The name of field `field` of `message`, for error messages.
fn field_name(message: &str, field: u32) -> Option<&'static str> {
    FIELD_NAMES.iter().find(|(m, f, _)| *m == message && *f == field).map(|(_, _, name)| *name)
}

/// Every field the reader knows, by message and number.
const FIELD_NAMES: &[(&str, u32, &str)] = &[
    (TOP, 1, "resource_spans"),
    (RESOURCE_SPANS, 1, "resource"),
    (SCOPE_SPANS, 1, "scope"),
    (RESOURCE_SPANS, 2, "scope_spans"),
    (RESOURCE_SPANS, 3, "schema_url"),
    (SCOPE_SPANS, 3, "schema_url"),
    (ENTITY_REF, 1, "schema_url"),
    (SCOPE_SPANS, 2, "spans"),
    (RESOURCE, 1, "attributes"),
    (RESOURCE, 2, "dropped_attributes_count"),
    (RESOURCE, 3, "entity_refs"),
    (ENTITY_REF, 2, "type"),
    (ENTITY_REF, 3, "id_keys"),
    (ENTITY_REF, 4, "description_keys"),
    (SCOPE, 1, "name"),
    (SCOPE, 2, "version"),
    (SCOPE, 3, "attributes"),
    (SPAN, 9, "attributes"),
    (EVENT, 3, "attributes"),
    (LINK, 4, "attributes"),
    (SCOPE, 4, "dropped_attributes_count"),
    (SPAN, 10, "dropped_attributes_count"),
    (EVENT, 4, "dropped_attributes_count"),
    (LINK, 5, "dropped_attributes_count"),
    (SPAN, 1, "trace_id"),
    (LINK, 1, "trace_id"),
    (SPAN, 2, "span_id"),
    (LINK, 2, "span_id"),
    (SPAN, 3, "trace_state"),
    (LINK, 3, "trace_state"),
    (SPAN, 4, "parent_span_id"),
    (SPAN, 5, "name"),
    (EVENT, 2, "name"),
    (SPAN, 6, "kind"),
    (SPAN, 7, "start_time_unix_nano"),
    (SPAN, 8, "end_time_unix_nano"),
    (SPAN, 11, "events"),
    (SPAN, 12, "dropped_events_count"),
    (SPAN, 13, "links"),
    (SPAN, 14, "dropped_links_count"),
    (SPAN, 15, "status"),
    (SPAN, 16, "flags"),
    (LINK, 6, "flags"),
    (EVENT, 1, "time_unix_nano"),
    (STATUS, 2, "message"),
    (STATUS, 3, "code"),
    (KEY_VALUE, 1, "key"),
    (KEY_VALUE, 2, "value"),
    (KEY_VALUE, 3, "key_strindex"),
    (ANY_VALUE, 1, "string_value"),
    (ANY_VALUE, 2, "bool_value"),
    (ANY_VALUE, 3, "int_value"),
    (ANY_VALUE, 4, "double_value"),
    (ANY_VALUE, 5, "array_value"),
    (ANY_VALUE, 6, "kvlist_value"),
    (ANY_VALUE, 7, "bytes_value"),
    (ANY_VALUE, 8, "string_value_strindex"),
    (ARRAY_VALUE, 1, "values"),
    (KEY_VALUE_LIST, 1, "values"),
];

// The messages the reader knows, by their proto names (for errors and `Reader::message`).
pub(super) const TOP: &str = "ExportTraceServiceRequest";
pub(super) const RESOURCE_SPANS: &str = "ResourceSpans";
pub(super) const SCOPE_SPANS: &str = "ScopeSpans";
pub(super) const RESOURCE: &str = "Resource";
pub(super) const ENTITY_REF: &str = "EntityRef";
pub(super) const SCOPE: &str = "InstrumentationScope";
pub(super) const SPAN: &str = "Span";
pub(super) const EVENT: &str = "Event";
pub(super) const LINK: &str = "Link";
pub(super) const STATUS: &str = "Status";
pub(super) const KEY_VALUE: &str = "KeyValue";
pub(super) const ANY_VALUE: &str = "AnyValue";
pub(super) const ARRAY_VALUE: &str = "ArrayValue";
pub(super) const KEY_VALUE_LIST: &str = "KeyValueList";
