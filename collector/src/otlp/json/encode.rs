//! The OTLP/JSON encoder: writes what the OpenTelemetry Collector's file exporter writes
//! (compact protobuf-JSON, lowerCamelCase keys, hex ids, 64-bit integers as strings, enums as
//! integers, default fields omitted) straight into a byte buffer, and the receivers'
//! responses and statuses.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, EntityRef, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, TracesData};

use crate::model::hex;

/// Writes `data` as one compact OTLP/JSON document (no trailing newline), the way the
/// OpenTelemetry Collector's file exporter does: lowerCamelCase keys, lowercase hex ids,
/// 64-bit integers as strings, enums as integers, fields at their default value omitted
/// (empty strings, zeros, empty arrays: an empty `resourceSpans`, `scopeSpans` or `spans`
/// too, so an empty `TracesData` is `{}`), the empty `parentSpanId` of a root span
/// omitted, non-finite doubles as
/// `"NaN"`/`"Infinity"`/`"-Infinity"`, bytes as base64. A present-but-empty resource, scope,
/// status or attribute value is written as `{}` so that [`decode_traces`] gives back
/// exactly `data.resource_spans`.
pub fn encode_traces_data(data: &TracesData, out: &mut Vec<u8>) {
    let mut object = JsonObject::open(out);
    object.list("resourceSpans", &data.resource_spans, write_resource_spans);
    object.close();
}

/// Writes an `ExportTraceServiceResponse`: `{}` when nothing was rejected and there is no
/// message, else `{"partialSuccess":{"rejectedSpans":"N","errorMessage":"..."}}` (each
/// member omitted at its default).
pub fn encode_trace_response(rejected_spans: i64, error_message: &str, out: &mut Vec<u8>) {
    write_partial_success("rejectedSpans", rejected_spans, error_message, out);
}

/// Writes an `ExportLogsServiceResponse` (`rejectedLogRecords`), as [`encode_trace_response`].
pub fn encode_logs_response(rejected_log_records: i64, error_message: &str, out: &mut Vec<u8>) {
    write_partial_success("rejectedLogRecords", rejected_log_records, error_message, out);
}

/// Writes an `ExportMetricsServiceResponse` (`rejectedDataPoints`), as
/// [`encode_trace_response`].
pub fn encode_metrics_response(rejected_data_points: i64, error_message: &str, out: &mut Vec<u8>) {
    write_partial_success("rejectedDataPoints", rejected_data_points, error_message, out);
}

/// Writes a `google.rpc.Status`: `{"code":3,"message":"..."}` (`message` omitted if empty;
/// `code` always written).
pub fn encode_status(code: i32, message: &str, out: &mut Vec<u8>) {
    let mut object = JsonObject::open(out);
    write_i64(object.key("code"), i64::from(code));
    object.str("message", message);
    object.close();
}

fn write_partial_success(count_key: &str, rejected: i64, message: &str, out: &mut Vec<u8>) {
    let mut object = JsonObject::open(out);
    if rejected != 0 || !message.is_empty() {
        let mut partial = JsonObject::open(object.key("partialSuccess"));
        partial.i64_string(count_key, rejected);
        partial.str("errorMessage", message);
        partial.close();
    }
    object.close();
}

/// A JSON object being written: keeps track of the commas.
struct JsonObject<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> JsonObject<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    fn close(self) {
        self.out.push(b'}');
    }

    /// Writes `"key":` (and the comma before it if needed); `key` is a plain ASCII name.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn str(&mut self, key: &str, v: &str) {
        if !v.is_empty() {
            write_str(self.key(key), v);
        }
    }

    fn hex(&mut self, key: &str, v: &[u8]) {
        if !v.is_empty() {
            write_hex(self.key(key), v);
        }
    }

    fn u32(&mut self, key: &str, v: u32) {
        if v != 0 {
            write_u64(self.key(key), u64::from(v));
        }
    }

    fn i32(&mut self, key: &str, v: i32) {
        if v != 0 {
            write_i64(self.key(key), i64::from(v));
        }
    }

    fn u64_string(&mut self, key: &str, v: u64) {
        if v != 0 {
            let out = self.key(key);
            out.push(b'"');
            write_u64(out, v);
            out.push(b'"');
        }
    }

    fn i64_string(&mut self, key: &str, v: i64) {
        if v != 0 {
            let out = self.key(key);
            out.push(b'"');
            write_i64(out, v);
            out.push(b'"');
        }
    }

    fn message<T>(&mut self, key: &str, v: Option<&T>, write: fn(&mut Vec<u8>, &T)) {
        if let Some(v) = v {
            write(self.key(key), v);
        }
    }

    fn list<T>(&mut self, key: &str, items: &[T], write: fn(&mut Vec<u8>, &T)) {
        if !items.is_empty() {
            write_array(self.key(key), items, write);
        }
    }
}

fn write_array<T>(out: &mut Vec<u8>, items: &[T], write: fn(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item);
    }
    out.push(b']');
}

fn write_resource_spans(out: &mut Vec<u8>, resource_spans: &ResourceSpans) {
    let mut object = JsonObject::open(out);
    object.message("resource", resource_spans.resource.as_ref(), write_resource);
    object.list("scopeSpans", &resource_spans.scope_spans, write_scope_spans);
    object.str("schemaUrl", &resource_spans.schema_url);
    object.close();
}

fn write_resource(out: &mut Vec<u8>, resource: &Resource) {
    let mut object = JsonObject::open(out);
    object.list("attributes", &resource.attributes, write_key_value);
    object.u32("droppedAttributesCount", resource.dropped_attributes_count);
    object.list("entityRefs", &resource.entity_refs, write_entity_ref);
    object.close();
}

fn write_entity_ref(out: &mut Vec<u8>, entity_ref: &EntityRef) {
    let mut object = JsonObject::open(out);
    object.str("schemaUrl", &entity_ref.schema_url);
    object.str("type", &entity_ref.r#type);
    object.list("idKeys", &entity_ref.id_keys, |out, s| write_str(out, s));
    object.list("descriptionKeys", &entity_ref.description_keys, |out, s| write_str(out, s));
    object.close();
}

fn write_scope_spans(out: &mut Vec<u8>, scope_spans: &ScopeSpans) {
    let mut object = JsonObject::open(out);
    object.message("scope", scope_spans.scope.as_ref(), write_scope);
    object.list("spans", &scope_spans.spans, write_span);
    object.str("schemaUrl", &scope_spans.schema_url);
    object.close();
}

fn write_scope(out: &mut Vec<u8>, scope: &InstrumentationScope) {
    let mut object = JsonObject::open(out);
    object.str("name", &scope.name);
    object.str("version", &scope.version);
    object.list("attributes", &scope.attributes, write_key_value);
    object.u32("droppedAttributesCount", scope.dropped_attributes_count);
    object.close();
}

fn write_span(out: &mut Vec<u8>, span: &Span) {
    let mut object = JsonObject::open(out);
    object.hex("traceId", &span.trace_id);
    object.hex("spanId", &span.span_id);
    object.str("traceState", &span.trace_state);
    object.hex("parentSpanId", &span.parent_span_id);
    object.u32("flags", span.flags);
    object.str("name", &span.name);
    object.i32("kind", span.kind);
    object.u64_string("startTimeUnixNano", span.start_time_unix_nano);
    object.u64_string("endTimeUnixNano", span.end_time_unix_nano);
    object.list("attributes", &span.attributes, write_key_value);
    object.u32("droppedAttributesCount", span.dropped_attributes_count);
    object.list("events", &span.events, write_event);
    object.u32("droppedEventsCount", span.dropped_events_count);
    object.list("links", &span.links, write_link);
    object.u32("droppedLinksCount", span.dropped_links_count);
    object.message("status", span.status.as_ref(), write_status);
    object.close();
}

fn write_event(out: &mut Vec<u8>, event: &Event) {
    let mut object = JsonObject::open(out);
    object.u64_string("timeUnixNano", event.time_unix_nano);
    object.str("name", &event.name);
    object.list("attributes", &event.attributes, write_key_value);
    object.u32("droppedAttributesCount", event.dropped_attributes_count);
    object.close();
}

fn write_link(out: &mut Vec<u8>, link: &Link) {
    let mut object = JsonObject::open(out);
    object.hex("traceId", &link.trace_id);
    object.hex("spanId", &link.span_id);
    object.str("traceState", &link.trace_state);
    object.list("attributes", &link.attributes, write_key_value);
    object.u32("droppedAttributesCount", link.dropped_attributes_count);
    object.u32("flags", link.flags);
    object.close();
}

fn write_status(out: &mut Vec<u8>, status: &Status) {
    let mut object = JsonObject::open(out);
    object.str("message", &status.message);
    object.i32("code", status.code);
    object.close();
}

fn write_key_value(out: &mut Vec<u8>, key_value: &KeyValue) {
    let mut object = JsonObject::open(out);
    // `key` is written even when empty, as the Collector does: readers expect it.
    write_str(object.key("key"), &key_value.key);
    object.message("value", key_value.value.as_ref(), write_any_value);
    object.i32("keyStrindex", key_value.key_strindex);
    object.close();
}

fn write_any_value(out: &mut Vec<u8>, value: &AnyValue) {
    let mut object = JsonObject::open(out);
    match &value.value {
        None => {}
        Some(Value::StringValue(text)) => write_str(object.key("stringValue"), text),
        Some(Value::BoolValue(flag)) => {
            object.key("boolValue").extend_from_slice(if *flag { b"true" } else { b"false" });
        }
        Some(Value::IntValue(number)) => {
            let out = object.key("intValue");
            out.push(b'"');
            write_i64(out, *number);
            out.push(b'"');
        }
        Some(Value::DoubleValue(number)) => write_f64(object.key("doubleValue"), *number),
        Some(Value::ArrayValue(array)) => {
            let mut inner = JsonObject::open(object.key("arrayValue"));
            inner.list("values", &array.values, write_any_value);
            inner.close();
        }
        Some(Value::KvlistValue(list)) => {
            let mut inner = JsonObject::open(object.key("kvlistValue"));
            inner.list("values", &list.values, write_key_value);
            inner.close();
        }
        Some(Value::BytesValue(bytes)) => {
            let out = object.key("bytesValue");
            out.push(b'"');
            out.extend_from_slice(STANDARD.encode(bytes).as_bytes());
            out.push(b'"');
        }
        Some(Value::StringValueStrindex(index)) => {
            write_i64(object.key("stringValueStrindex"), i64::from(*index));
        }
    }
    object.close();
}

fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn write_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(out, n.unsigned_abs());
}

/// Appends formatted text to a byte buffer (infallible).
struct ByteSink<'a>(&'a mut Vec<u8>);

impl fmt::Write for ByteSink<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

pub(super) fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"\"Infinity\"" } else { b"\"-Infinity\"" });
    } else {
        // `Debug` is the shortest text that parses back to the same value, and always valid
        // JSON for a finite number ("1.0", "1e16", "-0.0", "5e-324").
        let _ = fmt::Write::write_fmt(&mut ByteSink(out), format_args!("{v:?}"));
    }
}

fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() * 2 + 2);
    out.push(b'"');
    hex::push(out, bytes);
    out.push(b'"');
}

/// Writes `s` as a JSON string: `"` and `\` escaped, control characters as `\n`-style or
/// `\u00XX` escapes, everything else (all of UTF-8) as is.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&hex::digits_of(b));
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}
