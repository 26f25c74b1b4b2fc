//! Zipkin v2 JSON: an array of spans (`/api/v2/trace/{id}`, the UI's download), or an array
//! of traces, each an array of spans (`/api/v2/traces`). Converted into OTLP `ResourceSpans`
//! grouped by `localEndpoint.serviceName`, then decoded like OTLP:
//!
//! - ids are hex, left-padded with zeros (a 64-bit trace id becomes the low half of 128);
//! - `kind` CLIENT/SERVER/PRODUCER/CONSUMER → the OTLP kind; no kind → INTERNAL;
//! - `timestamp` and `duration` are microseconds;
//! - tags → string attributes, except `error` → status error (its value, unless empty or
//!   `true`, the message), `otel.status_code`/`otel.status_description` → status (these win),
//!   `otel.scope.name`/`otel.scope.version` (or `otel.library.*`) → scope;
//! - `remoteEndpoint` → `peer.service`, `network.peer.address`, `network.peer.port`;
//! - annotations → events (the value is the name);
//! - Zipkin has no links.
//!
//! # Shared spans
//!
//! In Zipkin's B3 single-host-span model a SERVER span may share its id with the CLIENT span
//! that called it (`"shared": true`, or simply the same id as a CLIENT span in the same batch).
//! hopscope keys spans by `(trace_id, span_id)`, so the server side is re-keyed:
//!
//! - its span id becomes [`shared_server_span_id`] of the shared id (a fixed bijective mix
//!   of the 64 bits, so the same file always reads the same way and distinct ids stay
//!   distinct), and its parent becomes the shared id, i.e. the CLIENT span: client → server
//!   is then an ordinary call;
//! - a span whose parent is the shared id and whose service is the server's (the server's
//!   own children, such as its database calls) is re-parented to the re-keyed server span;
//!   the client's own children (other services, or the client's service) stay under the
//!   client. A service calling itself through a shared span is ambiguous: its children go
//!   to the server side.
//!
//! Streamed: the outer array is walked with serde; a trace (inner array) is converted
//! whole, loose spans in batches of [`BATCH`]. Shared server spans seen are remembered for
//! the rest of the file (at most [`SHARED_MEMORY`] of them), so a child in a later batch is
//! still re-parented; a child that comes more than a batch *before* its shared server span is
//! not (it stays under the client span, still in the same flow).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead;
use std::rc::Rc;

use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{Span as OtlpSpan, Status, span, status};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::foreign::{
    Groups, Micros, hex_id, json_value, kv, kv_str, service_resource, span_kind, status_code,
};
use super::json_stream::{LineCounter, inner_line, reason, start_line};
use super::sink::{At, Sink};
use crate::model::SpanId;

/// Loose spans (a flat array) converted together.
const BATCH: usize = 1024;
/// Shared server spans remembered across batches of one file.
const SHARED_MEMORY: usize = 1 << 16;

/// The span id given to a shared Zipkin SERVER span whose id (shared with its CLIENT span)
/// is `shared`: the splitmix64 finaliser of the id's 64 bits (big-endian), a bijection, so
/// distinct shared ids give distinct server ids; never zero and never `shared` itself.
pub fn shared_server_span_id(shared: SpanId) -> SpanId {
    let id = u64::from_be_bytes(shared.0);
    let mut z = id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    if z == 0 || z == id {
        z = !id;
    }
    SpanId(z.to_be_bytes())
}

/// Reads Zipkin v2 JSON.
pub(crate) fn read(input: impl BufRead, sink: &mut Sink<'_>) {
    let (reader, newlines) = LineCounter::new(input);
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut state = State { sink, newlines, batch: Vec::new(), shared: FxHashMap::default() };
    loop {
        let read = Outer(&mut state).deserialize(&mut de);
        state.flush();
        if let Err(e) = read {
            state.sink.skip(At::Line(e.line().max(1) as u64), reason(&e));
            return;
        }
        if de.end().is_ok() {
            return;
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZipkinSpan {
    trace_id: String,
    id: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    timestamp: Option<Micros>,
    #[serde(default)]
    duration: Option<Micros>,
    #[serde(default)]
    local_endpoint: Option<Endpoint>,
    #[serde(default)]
    remote_endpoint: Option<Endpoint>,
    #[serde(default)]
    tags: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    annotations: Option<Vec<Annotation>>,
    #[serde(default)]
    shared: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    ipv4: Option<String>,
    #[serde(default)]
    ipv6: Option<String>,
    #[serde(default)]
    port: Option<i64>,
}

#[derive(Deserialize)]
struct Annotation {
    #[serde(default)]
    timestamp: Micros,
    #[serde(default)]
    value: String,
}

type Key = ([u8; 16], [u8; 8]);

struct State<'s, 'a> {
    sink: &'s mut Sink<'a>,
    newlines: Rc<Cell<u64>>,
    /// Loose spans waiting for a full batch, with their lines.
    batch: Vec<(ZipkinSpan, u64)>,
    /// Shared server spans seen: `(trace, shared id)` → the server's service.
    shared: FxHashMap<Key, String>,
}

/// A span with its ids parsed.
struct Keyed {
    span: ZipkinSpan,
    trace: [u8; 16],
    id: [u8; 8],
    parent: Option<[u8; 8]>,
}

impl State<'_, '_> {
    /// One element of the outer array: a span, or a trace (an array of spans).
    fn element(&mut self, raw: &RawValue, line: u64) {
        let text = raw.get();
        if text.starts_with('[') {
            self.flush();
            let list: Vec<&RawValue> = match serde_json::from_str(text) {
                Ok(list) => list,
                Err(e) => {
                    self.sink.skip(At::Line(line + e.line().saturating_sub(1) as u64), reason(&e));
                    return;
                }
            };
            for span in list {
                let line = inner_line(text, line, span.get());
                self.parse(span.get(), line);
            }
            self.flush();
        } else {
            self.parse(text, line);
            if self.batch.len() >= BATCH {
                self.flush();
            }
        }
    }

    fn parse(&mut self, text: &str, line: u64) {
        match serde_json::from_str::<ZipkinSpan>(text) {
            Ok(span) => self.batch.push((span, line)),
            Err(e) => {
                let at = At::Line(line + e.line().saturating_sub(1) as u64);
                self.sink.skip(at, format_args!("Zipkin span: {}", reason(&e)));
            }
        }
    }

    /// Converts the batch: ids, shared spans re-keyed, grouped by service.
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        let records = batch.len() as u64;
        let first_line = batch[0].1;
        let mut keyed = Vec::with_capacity(batch.len());
        for (span, line) in batch {
            match key(&span) {
                Ok((trace, id, parent)) => keyed.push(Keyed { span, trace, id, parent }),
                Err(why) => self.sink.reject_span(At::Line(line), why),
            }
        }

        let clients: FxHashSet<Key> =
            keyed.iter().filter(|k| has_kind(&k.span, "CLIENT")).map(|k| (k.trace, k.id)).collect();
        let is_shared_server = |k: &Keyed| {
            has_kind(&k.span, "SERVER")
                && (k.span.shared == Some(true) || clients.contains(&(k.trace, k.id)))
        };
        for k in keyed.iter().filter(|k| is_shared_server(k)) {
            if self.shared.len() >= SHARED_MEMORY {
                self.shared.clear();
            }
            self.shared.insert((k.trace, k.id), service(&k.span).to_owned());
        }

        let mut groups = Groups::default();
        for mut k in keyed {
            if is_shared_server(&k) {
                k.parent = Some(k.id);
                k.id = shared_server_span_id(SpanId(k.id)).0;
            } else if let Some(parent) = k.parent
                && self.shared.get(&(k.trace, parent)).is_some_and(|s| s == service(&k.span))
            {
                k.parent = Some(shared_server_span_id(SpanId(parent)).0);
            }
            let (otlp, service, scope) = convert(k);
            groups.push(&service, || service_resource(&service, Vec::new()), scope, otlp);
        }
        self.sink.resource_spans(At::Line(first_line), records, groups.into_resource_spans());
    }
}

fn has_kind(span: &ZipkinSpan, kind: &str) -> bool {
    span.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(kind))
}

fn service(span: &ZipkinSpan) -> &str {
    span.local_endpoint.as_ref().and_then(|e| e.service_name.as_deref()).unwrap_or("")
}

/// A span's trace id, span id and parent id.
type Ids = ([u8; 16], [u8; 8], Option<[u8; 8]>);

fn key(span: &ZipkinSpan) -> Result<Ids, String> {
    let trace = hex_id("traceId", &span.trace_id, 16)?;
    let id = hex_id("id", &span.id, 8)?;
    let parent = match span.parent_id.as_deref() {
        Some(p) if !p.trim().is_empty() => Some(hex_id("parentId", p, 8)?),
        _ => None,
    };
    let array = |v: Vec<u8>| -> [u8; 8] { v.try_into().unwrap_or_default() };
    Ok((trace.try_into().unwrap_or_default(), array(id), parent.map(array)))
}

/// The OTLP span, its service and its scope `(name, version)`.
fn convert(keyed: Keyed) -> (OtlpSpan, String, (String, String)) {
    let span = keyed.span;
    let start = span.timestamp.unwrap_or_default().nanos();
    let mut out = OtlpSpan {
        trace_id: keyed.trace.to_vec(),
        span_id: keyed.id.to_vec(),
        parent_span_id: keyed.parent.map(|parent| parent.to_vec()).unwrap_or_default(),
        name: span.name.unwrap_or_default(),
        kind: span.kind.as_deref().and_then(span_kind).unwrap_or(SpanKind::Internal as i32),
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(span.duration.unwrap_or_default().nanos()),
        ..Default::default()
    };
    let mut scope = (String::new(), String::new());
    let mut code = None;
    let mut message = None;
    let mut error = None;
    for (key, value) in span.tags.into_iter().flatten() {
        let text = || match &value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match key.as_str() {
            "error" => error = Some(text()),
            "otel.status_code" => code = status_code(&text()),
            "otel.status_description" => message = Some(text()),
            "otel.scope.name" | "otel.library.name" => scope.0 = text(),
            "otel.scope.version" | "otel.library.version" => scope.1 = text(),
            _ => out.attributes.push(kv(&key, json_value(&value))),
        }
    }
    if let Some(remote) = span.remote_endpoint {
        if let Some(name) = remote.service_name.filter(|s| !s.is_empty()) {
            out.attributes.push(kv_str("peer.service", name));
        }
        if let Some(address) = remote.ipv4.or(remote.ipv6).filter(|s| !s.is_empty()) {
            out.attributes.push(kv_str("network.peer.address", address));
        }
        if let Some(port) = remote.port.filter(|p| *p > 0) {
            out.attributes.push(kv("network.peer.port", any_value::Value::IntValue(port)));
        }
    }
    let code = code.or(error.is_some().then_some(status::StatusCode::Error));
    let message = message
        .or_else(|| error.filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("true")))
        .unwrap_or_default();
    if code.is_some() || !message.is_empty() {
        out.status =
            Some(Status { message, code: code.unwrap_or(status::StatusCode::Unset) as i32 });
    }
    out.events = span
        .annotations
        .into_iter()
        .flatten()
        .map(|a| span::Event {
            time_unix_nano: a.timestamp.nanos(),
            name: a.value,
            ..Default::default()
        })
        .collect();
    let service = span.local_endpoint.and_then(|e| e.service_name).unwrap_or_default();
    (out, service, scope)
}

/// The outer array.
struct Outer<'d, 's, 'a>(&'d mut State<'s, 'a>);

impl<'de> DeserializeSeed<'de> for Outer<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Outer<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Zipkin v2 array of spans (or of traces)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            let line = start_line(self.0.newlines.get(), &raw);
            self.0.element(&raw, line);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_server_ids_are_distinct_and_stable() {
        let a = SpanId([0, 0, 0, 0, 0, 0, 0, 1]);
        let b = SpanId([0, 0, 0, 0, 0, 0, 0, 2]);
        assert_ne!(shared_server_span_id(a), a);
        assert_ne!(shared_server_span_id(a), shared_server_span_id(b));
        assert_eq!(shared_server_span_id(a), shared_server_span_id(a));
        assert_ne!(shared_server_span_id(a).0, [0; 8]);
    }
}
