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
    let mut o = Obj::open(out);
    o.list("resourceSpans", &data.resource_spans, write_resource_spans);
    o.close();
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
    let mut o = Obj::open(out);
    write_i64(o.key("code"), i64::from(code));
    o.str("message", message);
    o.close();
}

fn write_partial_success(count_key: &str, rejected: i64, message: &str, out: &mut Vec<u8>) {
    let mut o = Obj::open(out);
    if rejected != 0 || !message.is_empty() {
        let mut p = Obj::open(o.key("partialSuccess"));
        p.i64_string(count_key, rejected);
        p.str("errorMessage", message);
        p.close();
    }
    o.close();
}

/// A JSON object being written: keeps track of the commas.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
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

fn write_resource_spans(out: &mut Vec<u8>, rs: &ResourceSpans) {
    let mut o = Obj::open(out);
    o.message("resource", rs.resource.as_ref(), write_resource);
    o.list("scopeSpans", &rs.scope_spans, write_scope_spans);
    o.str("schemaUrl", &rs.schema_url);
    o.close();
}

fn write_resource(out: &mut Vec<u8>, r: &Resource) {
    let mut o = Obj::open(out);
    o.list("attributes", &r.attributes, write_key_value);
    o.u32("droppedAttributesCount", r.dropped_attributes_count);
    o.list("entityRefs", &r.entity_refs, write_entity_ref);
    o.close();
}

fn write_entity_ref(out: &mut Vec<u8>, e: &EntityRef) {
    let mut o = Obj::open(out);
    o.str("schemaUrl", &e.schema_url);
    o.str("type", &e.r#type);
    o.list("idKeys", &e.id_keys, |out, s| write_str(out, s));
    o.list("descriptionKeys", &e.description_keys, |out, s| write_str(out, s));
    o.close();
}

fn write_scope_spans(out: &mut Vec<u8>, ss: &ScopeSpans) {
    let mut o = Obj::open(out);
    o.message("scope", ss.scope.as_ref(), write_scope);
    o.list("spans", &ss.spans, write_span);
    o.str("schemaUrl", &ss.schema_url);
    o.close();
}

fn write_scope(out: &mut Vec<u8>, s: &InstrumentationScope) {
    let mut o = Obj::open(out);
    o.str("name", &s.name);
    o.str("version", &s.version);
    o.list("attributes", &s.attributes, write_key_value);
    o.u32("droppedAttributesCount", s.dropped_attributes_count);
    o.close();
}

fn write_span(out: &mut Vec<u8>, s: &Span) {
    let mut o = Obj::open(out);
    o.hex("traceId", &s.trace_id);
    o.hex("spanId", &s.span_id);
    o.str("traceState", &s.trace_state);
    o.hex("parentSpanId", &s.parent_span_id);
    o.u32("flags", s.flags);
    o.str("name", &s.name);
    o.i32("kind", s.kind);
    o.u64_string("startTimeUnixNano", s.start_time_unix_nano);
    o.u64_string("endTimeUnixNano", s.end_time_unix_nano);
    o.list("attributes", &s.attributes, write_key_value);
    o.u32("droppedAttributesCount", s.dropped_attributes_count);
    o.list("events", &s.events, write_event);
    o.u32("droppedEventsCount", s.dropped_events_count);
    o.list("links", &s.links, write_link);
    o.u32("droppedLinksCount", s.dropped_links_count);
    o.message("status", s.status.as_ref(), write_status);
    o.close();
}

fn write_event(out: &mut Vec<u8>, e: &Event) {
    let mut o = Obj::open(out);
    o.u64_string("timeUnixNano", e.time_unix_nano);
    o.str("name", &e.name);
    o.list("attributes", &e.attributes, write_key_value);
    o.u32("droppedAttributesCount", e.dropped_attributes_count);
    o.close();
}

fn write_link(out: &mut Vec<u8>, l: &Link) {
    let mut o = Obj::open(out);
    o.hex("traceId", &l.trace_id);
    o.hex("spanId", &l.span_id);
    o.str("traceState", &l.trace_state);
    o.list("attributes", &l.attributes, write_key_value);
    o.u32("droppedAttributesCount", l.dropped_attributes_count);
    o.u32("flags", l.flags);
    o.close();
}

fn write_status(out: &mut Vec<u8>, s: &Status) {
    let mut o = Obj::open(out);
    o.str("message", &s.message);
    o.i32("code", s.code);
    o.close();
}

fn write_key_value(out: &mut Vec<u8>, kv: &KeyValue) {
    let mut o = Obj::open(out);
    // `key` is written even when empty, as the Collector does: readers expect it.
    write_str(o.key("key"), &kv.key);
    o.message("value", kv.value.as_ref(), write_any_value);
    o.i32("keyStrindex", kv.key_strindex);
    o.close();
}

fn write_any_value(out: &mut Vec<u8>, v: &AnyValue) {
    let mut o = Obj::open(out);
    match &v.value {
        None => {}
        Some(Value::StringValue(s)) => write_str(o.key("stringValue"), s),
        Some(Value::BoolValue(b)) => {
            o.key("boolValue").extend_from_slice(if *b { b"true" } else { b"false" });
        }
        Some(Value::IntValue(i)) => {
            let out = o.key("intValue");
            out.push(b'"');
            write_i64(out, *i);
            out.push(b'"');
        }
        Some(Value::DoubleValue(d)) => write_f64(o.key("doubleValue"), *d),
        Some(Value::ArrayValue(a)) => {
            let mut inner = Obj::open(o.key("arrayValue"));
            inner.list("values", &a.values, write_any_value);
            inner.close();
        }
        Some(Value::KvlistValue(kv)) => {
            let mut inner = Obj::open(o.key("kvlistValue"));
            inner.list("values", &kv.values, write_key_value);
            inner.close();
        }
        Some(Value::BytesValue(b)) => {
            let out = o.key("bytesValue");
            out.push(b'"');
            out.extend_from_slice(STANDARD.encode(b).as_bytes());
            out.push(b'"');
        }
        Some(Value::StringValueStrindex(i)) => {
            write_i64(o.key("stringValueStrindex"), i64::from(*i));
        }
    }
    o.close();
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
