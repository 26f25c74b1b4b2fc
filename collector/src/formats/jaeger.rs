//! Jaeger JSON, as the Jaeger UI's "Download JSON" (and the query API) gives it:
//! `{"data":[{traceID, spans:[...], processes:{p1:{serviceName, tags}}}], ...}`, or a single
//! trace object. Converted into OTLP `ResourceSpans`, one per process, then decoded like OTLP:
//!
//! - ids are hex, left-padded with zeros to 16 (trace) and 8 (span) bytes;
//! - the first `CHILD_OF` reference within the span's own trace is its parent (the legacy
//!   `parentSpanID` field when there is none); every other reference (`FOLLOWS_FROM`, and
//!   further `CHILD_OF`s) is a link, with `opentracing.ref_type` = `follows_from`/`child_of`;
//! - `startTime` and `duration` are microseconds;
//! - `processes[processID]` (or an inline `process`) → the resource: `service.name` plus the
//!   process tags;
//! - tags become attributes, typed by their `type` (`string`, `bool`, `int64`, `float64`,
//!   `binary` as base64), except those OpenTelemetry's Jaeger exporter writes for fields
//!   OTLP has: `span.kind` → kind, `otel.status_code`/`otel.status_description` → status,
//!   `error` = true → status error (when `otel.status_code` does not say otherwise),
//!   `otel.scope.name`/`otel.scope.version` (or `otel.library.*`) → scope, `w3c.tracestate`
//!   → trace state; no `span.kind` tag leaves the kind unspecified;
//! - logs become events: the `event` field is the name, other fields the attributes.
//!
//! Streamed: `data[]` is walked with serde and each trace held alone; one span whose JSON has
//! the wrong shape is reported at its line and skipped, its siblings kept.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::io::BufRead;
use std::rc::Rc;

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::{Span as OtlpSpan, Status, span, status};
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::foreign::{
    Groups, Micros, hex_id, json_value, kv, kv_str, service_resource, span_kind, status_code,
};
use super::json_stream::{LineCounter, inner_line, reason, start_line};
use super::sink::{At, Sink};

/// Reads Jaeger JSON.
pub(crate) fn read(input: impl BufRead, sink: &mut Sink<'_>) {
    let (reader, newlines) = LineCounter::new(input);
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut state = State { sink, newlines };
    loop {
        if let Err(e) = Top(&mut state).deserialize(&mut de) {
            state.sink.skip(At::Line(e.line().max(1) as u64), reason(&e));
            return;
        }
        if de.end().is_ok() {
            return;
        }
    }
}

struct State<'s, 'a> {
    sink: &'s mut Sink<'a>,
    newlines: Rc<Cell<u64>>,
}

/// A trace from `data[]`: its spans left as JSON, each decoded on its own.
#[derive(Deserialize)]
struct TraceJson<'a> {
    #[serde(rename = "traceID", default)]
    trace_id: Option<String>,
    #[serde(borrow, default)]
    spans: Option<&'a RawValue>,
    #[serde(default)]
    processes: Option<HashMap<String, Process>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JaegerSpan {
    #[serde(rename = "traceID", default)]
    trace_id: Option<String>,
    #[serde(rename = "spanID")]
    span_id: String,
    #[serde(rename = "parentSpanID", default)]
    parent_span_id: Option<String>,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    references: Option<Vec<Reference>>,
    #[serde(default)]
    start_time: Micros,
    #[serde(default)]
    duration: Micros,
    #[serde(default)]
    tags: Option<Vec<Tag>>,
    #[serde(default)]
    logs: Option<Vec<Log>>,
    #[serde(rename = "processID", default)]
    process_id: Option<String>,
    #[serde(default)]
    process: Option<Process>,
}

#[derive(Deserialize)]
struct Reference {
    #[serde(rename = "refType", default)]
    ref_type: Option<String>,
    #[serde(rename = "traceID", default)]
    trace_id: Option<String>,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Deserialize, Clone)]
struct Tag {
    key: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct Log {
    #[serde(default)]
    timestamp: Micros,
    #[serde(default)]
    fields: Option<Vec<Tag>>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Process {
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    tags: Option<Vec<Tag>>,
}

impl State<'_, '_> {
    /// One element of `data[]`, starting on `line`.
    fn trace_element(&mut self, raw: &RawValue, line: u64) {
        match serde_json::from_str::<TraceJson<'_>>(raw.get()) {
            Ok(trace) => {
                let Some(spans) = trace.spans else { return };
                let spans_line = inner_line(raw.get(), line, spans.get());
                let processes = trace.processes.unwrap_or_default();
                self.trace(trace.trace_id.as_deref(), spans.get(), spans_line, &processes);
            }
            Err(e) => {
                self.sink.skip(At::Line(line + e.line().saturating_sub(1) as u64), reason(&e));
            }
        }
    }

    /// The spans of one trace (`spans` is their JSON array, starting on `line`).
    fn trace(
        &mut self,
        trace_id: Option<&str>,
        spans: &str,
        line: u64,
        processes: &HashMap<String, Process>,
    ) {
        let list: Vec<&RawValue> = match serde_json::from_str(spans) {
            Ok(list) => list,
            Err(e) => {
                self.sink.skip(At::Line(line + e.line().saturating_sub(1) as u64), reason(&e));
                return;
            }
        };
        let mut groups = Groups::default();
        let mut records = 0;
        let mut first_line = None;
        for raw in list {
            let line = inner_line(spans, line, raw.get());
            let span = match serde_json::from_str::<JaegerSpan>(raw.get()) {
                Ok(span) => span,
                Err(e) => {
                    let at = At::Line(line + e.line().saturating_sub(1) as u64);
                    self.sink.skip(at, format_args!("Jaeger span: {}", reason(&e)));
                    continue;
                }
            };
            records += 1;
            first_line.get_or_insert(line);
            let process = span
                .process_id
                .as_deref()
                .and_then(|id| processes.get(id).map(|p| (id.to_owned(), p.clone())))
                .or_else(|| {
                    span.process
                        .clone()
                        .map(|p| (format!("inline:{}", p.service_name.as_deref().unwrap_or("")), p))
                });
            match convert(span, trace_id) {
                Ok((otlp, scope)) => {
                    let (key, process) = process.unwrap_or_else(|| {
                        (String::new(), Process { service_name: None, tags: None })
                    });
                    groups.push(&key, || resource(&process), scope, otlp);
                }
                Err(why) => self.sink.reject_span(At::Line(line), why),
            }
        }
        if records > 0 {
            let at = At::Line(first_line.unwrap_or(line));
            self.sink.resource_spans(at, records, groups.into_resource_spans());
        }
    }
}

fn resource(process: &Process) -> opentelemetry_proto::tonic::resource::v1::Resource {
    let attributes = process.tags.iter().flatten().map(|t| kv(&t.key, tag_value(t))).collect();
    service_resource(process.service_name.as_deref().unwrap_or(""), attributes)
}

/// A tag's value, typed by its `type` when the JSON value allows.
fn tag_value(tag: &Tag) -> any_value::Value {
    use any_value::Value as V;
    let v = &tag.value;
    match (tag.kind.as_deref().map(str::to_ascii_lowercase).as_deref(), v) {
        (Some("bool"), serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            V::BoolValue(true)
        }
        (Some("bool"), serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            V::BoolValue(false)
        }
        (Some("int64"), serde_json::Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
            V::IntValue(s.trim().parse().unwrap_or_default())
        }
        (Some("float64"), serde_json::Value::String(s)) if s.trim().parse::<f64>().is_ok() => {
            V::DoubleValue(s.trim().parse().unwrap_or_default())
        }
        (Some("float64"), serde_json::Value::Number(n)) => {
            V::DoubleValue(n.as_f64().unwrap_or(f64::NAN))
        }
        (Some("binary"), serde_json::Value::String(s)) => {
            match base64::engine::general_purpose::STANDARD.decode(s) {
                Ok(bytes) => V::BytesValue(bytes),
                Err(_) => V::StringValue(s.clone()),
            }
        }
        _ => json_value(v),
    }
}

fn tag_text(tag: &Tag) -> String {
    match &tag.value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Converts one span; the scope is `(name, version)`.
fn convert(
    span: JaegerSpan,
    trace_hint: Option<&str>,
) -> Result<(OtlpSpan, (String, String)), String> {
    let trace_text = span.trace_id.as_deref().or(trace_hint).unwrap_or("");
    let trace_id = hex_id("traceID", trace_text, 16)?;
    let span_id = hex_id("spanID", &span.span_id, 8)?;
    let mut parent = None;
    let mut links = Vec::new();
    for r in span.references.into_iter().flatten() {
        let child_of = r.ref_type.as_deref().is_none_or(|t| t.eq_ignore_ascii_case("CHILD_OF"));
        let ref_trace = match r.trace_id.as_deref() {
            Some(t) => hex_id("reference traceID", t, 16),
            None => Ok(trace_id.clone()),
        };
        let ref_span = hex_id("reference spanID", &r.span_id, 8);
        if child_of && parent.is_none() && ref_trace.as_ref() == Ok(&trace_id) {
            // A bad parent must not turn the span into a root: reject it.
            parent = Some(ref_span?);
            continue;
        }
        // A bad link is dropped, as the OTLP decoder drops one.
        if let (Ok(trace_id), Ok(span_id)) = (ref_trace, ref_span) {
            let kind = if child_of { "child_of" } else { "follows_from" };
            links.push(span::Link {
                trace_id,
                span_id,
                attributes: vec![kv_str("opentracing.ref_type", kind)],
                ..Default::default()
            });
        }
    }
    if parent.is_none()
        && let Some(p) = span.parent_span_id.as_deref().filter(|p| p.bytes().any(|b| b != b'0'))
    {
        parent = Some(hex_id("parentSpanID", p, 8)?);
    }

    let mut out = OtlpSpan {
        trace_id,
        span_id,
        parent_span_id: parent.unwrap_or_default(),
        name: span.operation_name.unwrap_or_default(),
        start_time_unix_nano: span.start_time.nanos(),
        end_time_unix_nano: span.start_time.nanos().saturating_add(span.duration.nanos()),
        links,
        ..Default::default()
    };
    let mut scope = (String::new(), String::new());
    let mut code = None;
    let mut message = String::new();
    let mut error = false;
    for tag in span.tags.into_iter().flatten() {
        match tag.key.as_str() {
            "span.kind" => match span_kind(&tag_text(&tag)) {
                Some(kind) => out.kind = kind,
                None => out.attributes.push(kv(&tag.key, tag_value(&tag))),
            },
            "error" => {
                error = matches!(&tag.value, serde_json::Value::Bool(true))
                    || tag_text(&tag).eq_ignore_ascii_case("true");
            }
            "otel.status_code" => code = status_code(&tag_text(&tag)),
            "otel.status_description" => message = tag_text(&tag),
            "otel.scope.name" | "otel.library.name" => scope.0 = tag_text(&tag),
            "otel.scope.version" | "otel.library.version" => scope.1 = tag_text(&tag),
            "w3c.tracestate" => out.trace_state = tag_text(&tag),
            "internal.span.format" => {}
            _ => out.attributes.push(kv(&tag.key, tag_value(&tag))),
        }
    }
    let code = code.or(error.then_some(status::StatusCode::Error));
    if code.is_some() || !message.is_empty() {
        out.status =
            Some(Status { message, code: code.unwrap_or(status::StatusCode::Unset) as i32 });
    }
    out.events = span
        .logs
        .into_iter()
        .flatten()
        .map(|log| {
            let mut event =
                span::Event { time_unix_nano: log.timestamp.nanos(), ..Default::default() };
            for field in log.fields.into_iter().flatten() {
                if field.key == "event" && event.name.is_empty() {
                    event.name = tag_text(&field);
                } else {
                    event.attributes.push(kv(&field.key, tag_value(&field)));
                }
            }
            event
        })
        .collect();
    Ok((out, scope))
}

/// The top-level object: `{"data": [...]}`, or a single trace.
struct Top<'d, 's, 'a>(&'d mut State<'s, 'a>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"a Jaeger JSON object ({"data": [traces]}, or one trace)"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        // The fields of a single trace at the top level.
        let mut trace_id = None;
        let mut spans: Option<(Box<RawValue>, u64)> = None;
        let mut processes = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "data" => map.next_value_seed(Traces(&mut *state))?,
                "traceID" => trace_id = map.next_value::<Option<String>>()?,
                "spans" => {
                    let raw: Box<RawValue> = map.next_value()?;
                    let line = start_line(state.newlines.get(), &raw);
                    spans = Some((raw, line));
                }
                "processes" => {
                    processes = map.next_value::<Option<HashMap<String, Process>>>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some((raw, line)) = spans {
            let processes = processes.unwrap_or_default();
            state.trace(trace_id.as_deref(), raw.get(), line, &processes);
        }
        Ok(())
    }
}

/// `data`: an array of traces, each held alone.
struct Traces<'d, 's, 'a>(&'d mut State<'s, 'a>);

impl<'de> DeserializeSeed<'de> for Traces<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Traces<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of Jaeger traces")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            let line = start_line(self.0.newlines.get(), &raw);
            self.0.trace_element(&raw, line);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(json: &str) -> (OtlpSpan, (String, String)) {
        convert(serde_json::from_str(json).unwrap(), None).unwrap()
    }

    #[test]
    fn references_tags_and_logs() {
        let (s, scope) = span(
            r#"{"traceID":"1","spanID":"a2","operationName":"orders process",
                "references":[{"refType":"FOLLOWS_FROM","traceID":"2","spanID":"b"},
                              {"refType":"CHILD_OF","traceID":"1","spanID":"a1"}],
                "startTime":1700000000000000,"duration":1500,
                "tags":[{"key":"span.kind","type":"string","value":"consumer"},
                        {"key":"error","type":"bool","value":true},
                        {"key":"otel.scope.name","type":"string","value":"lib"},
                        {"key":"retries","type":"int64","value":"3"}],
                "logs":[{"timestamp":1700000000000500,"fields":[
                        {"key":"event","type":"string","value":"exception"},
                        {"key":"exception.message","type":"string","value":"boom"}]}]}"#,
        );
        assert_eq!(s.parent_span_id, vec![0, 0, 0, 0, 0, 0, 0, 0xa1]);
        assert_eq!(s.links.len(), 1);
        assert_eq!(s.links[0].span_id, vec![0, 0, 0, 0, 0, 0, 0, 0x0b]);
        assert_eq!(s.kind, 5);
        assert_eq!(s.start_time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(s.end_time_unix_nano, 1_700_000_000_001_500_000);
        assert_eq!(s.status.unwrap().code, 2);
        assert_eq!(scope.0, "lib");
        assert_eq!(s.attributes.len(), 1);
        assert_eq!(
            s.attributes[0].value.as_ref().unwrap().value,
            Some(any_value::Value::IntValue(3))
        );
        assert_eq!(s.events[0].name, "exception");
        assert_eq!(s.events[0].attributes.len(), 1);
    }

    #[test]
    fn bad_parent_rejects_bad_link_drops() {
        let bad_parent = r#"{"traceID":"1","spanID":"2","references":[{"refType":"CHILD_OF","traceID":"1","spanID":"zz"}]}"#;
        assert!(convert(serde_json::from_str(bad_parent).unwrap(), None).is_err());
        let (s, _) = span(
            r#"{"traceID":"1","spanID":"2","references":[{"refType":"FOLLOWS_FROM","traceID":"1","spanID":"zz"}]}"#,
        );
        assert!(s.links.is_empty() && s.parent_span_id.is_empty());
    }
}
