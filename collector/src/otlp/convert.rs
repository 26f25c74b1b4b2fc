//! Conversion between OTLP's prost messages and the compact [`crate::model`].
//!
//! Decoding validates each span on its own: a span with an invalid trace or span id is
//! rejected and counted (for OTLP's `partial_success`), its siblings are kept.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as otlp_common;
use opentelemetry_proto::tonic::logs::v1 as otlp_logs;
use opentelemetry_proto::tonic::resource::v1 as otlp_resource;
use opentelemetry_proto::tonic::trace::v1 as otlp_trace;

use crate::model::{
    Event, Interner, KeyValue, Keys, Link, LogRecord, Resource, Scope, Span, SpanId, SpanKind,
    Status, StatusCode, Sym, TraceId, Value, normalise,
};

/// Spans decoded from one request, and what was rejected.
#[derive(Debug, Default)]
pub struct DecodedSpans {
    pub spans: Vec<Span>,
    pub rejected: u64,
    /// The first rejection, in words, for `partial_success.error_message`.
    pub first_error: Option<String>,
}

impl DecodedSpans {
    /// Counts span `pi` of scope `si` of resource `ri` as rejected, keeping the first reason.
    pub(crate) fn reject(&mut self, (ri, si, pi): (usize, usize, usize), why: &str) {
        self.rejected += 1;
        self.first_error.get_or_insert_with(|| {
            format!("resource_spans[{ri}].scope_spans[{si}].spans[{pi}]: {why}")
        });
    }

    /// Adds how many more were rejected to the first reason, once every span is decoded.
    pub(crate) fn finish(&mut self) {
        if let Some(first) = &mut self.first_error
            && self.rejected > 1
        {
            use std::fmt::Write as _;
            let _ = write!(first, " (and {} more spans rejected)", self.rejected - 1);
        }
    }
}

/// A span's fields with its attributes, events and links already converted: what both the
/// prost path ([`Decoder::traces`]) and the wire reader (`super::wire`) make a [`Span`] of,
/// through [`Decoder::span_from`].
#[derive(Debug, Default)]
pub(crate) struct SpanParts<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub parent_span_id: &'a [u8],
    pub trace_state: &'a str,
    pub flags: u32,
    pub name: &'a str,
    /// `name`, interned.
    pub name_sym: Sym,
    /// The OTLP enum number.
    pub kind: i32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub attributes: Box<[KeyValue]>,
    pub dropped_attributes_count: u32,
    pub events: Box<[Event]>,
    pub dropped_events_count: u32,
    pub links: Box<[Link]>,
    pub dropped_links_count: u32,
    /// The OTLP status code number (0 when the span has no status).
    pub status_code: i32,
    pub status_message: &'a str,
}

/// A span's own ids, checked.
type SpanIds = (TraceId, SpanId, Option<SpanId>);

/// Log records decoded from one request.
#[derive(Debug, Default)]
pub struct DecodedLogs {
    pub records: Vec<LogRecord>,
    pub rejected: u64,
    pub first_error: Option<String>,
}

/// Turns OTLP messages into the model. Cheap to clone; shared by every receiver.
#[derive(Debug, Clone)]
pub struct Decoder {
    interner: Arc<Interner>,
    keys: Arc<Keys>,
}

const UNKNOWN_SERVICE: &str = "unknown_service";

impl Decoder {
    /// A decoder interning into `interner`.
    pub fn new(interner: Arc<Interner>) -> Self {
        let keys = Arc::new(Keys::new(&interner));
        Self { interner, keys }
    }

    /// The interner symbols resolve in.
    pub fn interner(&self) -> &Arc<Interner> {
        &self.interner
    }

    /// Number of spans in a request, valid or not.
    pub fn count_spans(req: &ExportTraceServiceRequest) -> usize {
        req.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum()
    }

    /// Decodes every valid span of `req`.
    pub fn traces(&self, req: ExportTraceServiceRequest) -> DecodedSpans {
        self.resource_spans(req.resource_spans)
    }

    /// Decodes every valid span of a list of `ResourceSpans` (a request or a `TracesData`).
    pub fn resource_spans(&self, resource_spans: Vec<otlp_trace::ResourceSpans>) -> DecodedSpans {
        let mut out = DecodedSpans {
            spans: Vec::with_capacity(
                resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum(),
            ),
            ..DecodedSpans::default()
        };
        for (ri, rs) in resource_spans.into_iter().enumerate() {
            let resource = Arc::new(self.resource(rs.resource, &rs.schema_url));
            for (si, ss) in rs.scope_spans.into_iter().enumerate() {
                let scope = Arc::new(self.scope(ss.scope, &ss.schema_url));
                for (pi, span) in ss.spans.into_iter().enumerate() {
                    match self.span(span, &resource, &scope) {
                        Ok(span) => out.spans.push(span),
                        Err(why) => out.reject((ri, si, pi), &why),
                    }
                }
            }
        }
        out.finish();
        out
    }

    /// Decodes every log record of `req`. Records need no ids; a malformed id is dropped
    /// from the record, which is kept.
    pub fn logs(&self, req: ExportLogsServiceRequest) -> DecodedLogs {
        let mut out = DecodedLogs::default();
        for rl in req.resource_logs {
            let resource = Arc::new(self.resource(rl.resource, &rl.schema_url));
            for sl in rl.scope_logs {
                let scope = Arc::new(self.scope(sl.scope, &sl.schema_url));
                for rec in sl.log_records {
                    out.records.push(self.log_record(rec, &resource, &scope));
                }
            }
        }
        out
    }

    fn log_record(
        &self,
        r: otlp_logs::LogRecord,
        resource: &Arc<Resource>,
        scope: &Arc<Scope>,
    ) -> LogRecord {
        LogRecord {
            time_unix_nano: r.time_unix_nano,
            observed_time_unix_nano: r.observed_time_unix_nano,
            severity_number: r.severity_number,
            severity_text: r.severity_text.into_boxed_str(),
            body: r.body.map_or(Value::Empty, |v| self.value(v)),
            attributes: self.attributes(r.attributes),
            dropped_attributes_count: r.dropped_attributes_count,
            flags: r.flags,
            trace_id: TraceId::from_bytes(&r.trace_id).ok(),
            span_id: SpanId::from_bytes(&r.span_id).ok(),
            event_name: r.event_name.into_boxed_str(),
            resource: Arc::clone(resource),
            scope: Arc::clone(scope),
        }
    }

    fn resource(&self, r: Option<otlp_resource::Resource>, schema_url: &str) -> Resource {
        let (attributes, dropped) = r.map_or((Box::default(), 0), |r| {
            (self.attributes(r.attributes), r.dropped_attributes_count)
        });
        self.resource_from(attributes, dropped, schema_url)
    }

    /// A resource of converted attributes, its service found among them.
    pub(crate) fn resource_from(
        &self,
        attributes: Box<[KeyValue]>,
        dropped: u32,
        schema_url: &str,
    ) -> Resource {
        let service = attributes
            .iter()
            .find(|kv| kv.key == self.keys.service_name)
            .and_then(|kv| kv.value.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or(UNKNOWN_SERVICE);
        Resource {
            service: self.interner.intern(service),
            attributes,
            dropped_attributes_count: dropped,
            schema_url: schema_url.into(),
        }
    }

    fn scope(&self, s: Option<otlp_common::InstrumentationScope>, schema_url: &str) -> Scope {
        let s = s.unwrap_or_default();
        let attributes = self.attributes(s.attributes);
        Self::scope_from(&s.name, &s.version, attributes, s.dropped_attributes_count, schema_url)
    }

    /// A scope of converted attributes.
    pub(crate) fn scope_from(
        name: &str,
        version: &str,
        attributes: Box<[KeyValue]>,
        dropped: u32,
        schema_url: &str,
    ) -> Scope {
        Scope {
            name: name.into(),
            version: version.into(),
            attributes,
            dropped_attributes_count: dropped,
            schema_url: schema_url.into(),
        }
    }

    fn span(
        &self,
        s: otlp_trace::Span,
        resource: &Arc<Resource>,
        scope: &Arc<Scope>,
    ) -> Result<Span, String> {
        // Ids first: a rejected span's lists are not converted.
        let ids = Self::span_ids(&s.trace_id, &s.span_id, &s.parent_span_id)?;
        let attributes = self.attributes(s.attributes);
        let links = s
            .links
            .into_iter()
            .filter_map(|l| {
                let attributes = self.attributes(l.attributes);
                Self::link_from(
                    &l.trace_id,
                    &l.span_id,
                    &l.trace_state,
                    attributes,
                    l.dropped_attributes_count,
                    l.flags,
                )
            })
            .collect();
        let events = s
            .events
            .into_iter()
            .map(|e| {
                let attributes = self.attributes(e.attributes);
                let name = self.interner.intern(&e.name);
                Self::event_from(e.time_unix_nano, name, attributes, e.dropped_attributes_count)
            })
            .collect();
        let (status_code, status_message) =
            s.status.map_or((0, String::new()), |st| (st.code, st.message));
        let parts = SpanParts {
            trace_id: &s.trace_id,
            span_id: &s.span_id,
            parent_span_id: &s.parent_span_id,
            trace_state: &s.trace_state,
            flags: s.flags,
            name: &s.name,
            name_sym: self.interner.intern(&s.name),
            kind: s.kind,
            start_time_unix_nano: s.start_time_unix_nano,
            end_time_unix_nano: s.end_time_unix_nano,
            attributes,
            dropped_attributes_count: s.dropped_attributes_count,
            events,
            dropped_events_count: s.dropped_events_count,
            links,
            dropped_links_count: s.dropped_links_count,
            status_code,
            status_message: &status_message,
        };
        Ok(self.span_with_ids(ids, parts, resource, scope))
    }

    /// A span's trace, span and parent ids, or why they are not valid (which rejects the
    /// span). An empty or all-zero parent is a root span.
    fn span_ids(trace_id: &[u8], span_id: &[u8], parent_span_id: &[u8]) -> Result<SpanIds, String> {
        let trace_id = TraceId::from_bytes(trace_id).map_err(|e| format!("trace_id {e}"))?;
        let span_id = SpanId::from_bytes(span_id).map_err(|e| format!("span_id {e}"))?;
        let parent_span_id = match parent_span_id.len() {
            0 => None,
            _ if parent_span_id.iter().all(|b| *b == 0) => None,
            _ => Some(
                SpanId::from_bytes(parent_span_id).map_err(|e| format!("parent_span_id {e}"))?,
            ),
        };
        Ok((trace_id, span_id, parent_span_id))
    }

    /// The span `parts` make, or why it is rejected (its ids).
    pub(crate) fn span_from(
        &self,
        parts: SpanParts<'_>,
        resource: &Arc<Resource>,
        scope: &Arc<Scope>,
    ) -> Result<Span, String> {
        let ids = Self::span_ids(parts.trace_id, parts.span_id, parts.parent_span_id)?;
        Ok(self.span_with_ids(ids, parts, resource, scope))
    }

    fn span_with_ids(
        &self,
        (trace_id, span_id, parent_span_id): SpanIds,
        s: SpanParts<'_>,
        resource: &Arc<Resource>,
        scope: &Arc<Scope>,
    ) -> Span {
        let kind = SpanKind::from_otlp(s.kind);
        let mut messaging =
            normalise(&s.attributes, s.name, kind, &self.keys, &self.interner).map(Box::new);
        if let Some(m) = &mut messaging
            && s.status_code == 0
            && !s.events.is_empty()
        {
            m.read_outcome(&s.events, &self.keys);
        }
        Span {
            trace_id,
            span_id,
            parent_span_id,
            trace_state: s.trace_state.into(),
            flags: s.flags,
            name: s.name_sym,
            kind,
            start_unix_nano: s.start_time_unix_nano,
            end_unix_nano: s.end_time_unix_nano,
            attributes: s.attributes,
            dropped_attributes_count: s.dropped_attributes_count,
            events: s.events,
            dropped_events_count: s.dropped_events_count,
            links: s.links,
            dropped_links_count: s.dropped_links_count,
            status: Status {
                code: match s.status_code {
                    1 => StatusCode::Ok,
                    2 => StatusCode::Error,
                    _ => StatusCode::Unset,
                },
                message: s.status_message.into(),
            },
            resource: Arc::clone(resource),
            scope: Arc::clone(scope),
            messaging,
        }
    }

    /// A link of converted attributes; `None` when its ids are not valid (the link is
    /// dropped, the span kept).
    pub(crate) fn link_from(
        trace_id: &[u8],
        span_id: &[u8],
        trace_state: &str,
        attributes: Box<[KeyValue]>,
        dropped: u32,
        flags: u32,
    ) -> Option<Link> {
        Some(Link {
            trace_id: TraceId::from_bytes(trace_id).ok()?,
            span_id: SpanId::from_bytes(span_id).ok()?,
            trace_state: trace_state.into(),
            attributes,
            dropped_attributes_count: dropped,
            flags,
        })
    }

    /// An event of converted attributes.
    pub(crate) fn event_from(
        time_unix_nano: u64,
        name: Sym,
        attributes: Box<[KeyValue]>,
        dropped: u32,
    ) -> Event {
        Event { time_unix_nano, name, attributes, dropped_attributes_count: dropped }
    }

    fn attributes(&self, attrs: Vec<otlp_common::KeyValue>) -> Box<[KeyValue]> {
        attrs
            .into_iter()
            .map(|kv| KeyValue {
                key: self.interner.intern(&kv.key),
                value: kv.value.map_or(Value::Empty, |v| self.value(v)),
            })
            .collect()
    }

    fn value(&self, v: otlp_common::AnyValue) -> Value {
        use otlp_common::any_value::Value as V;
        match v.value {
            // A profiles-only dictionary reference; traces and logs never carry it.
            None | Some(V::StringValueStrindex(_)) => Value::Empty,
            Some(V::StringValue(s)) => Value::Str(s.into()),
            Some(V::BoolValue(b)) => Value::Bool(b),
            Some(V::IntValue(i)) => Value::Int(i),
            Some(V::DoubleValue(d)) => Value::Double(d),
            Some(V::BytesValue(b)) => Value::Bytes(b.into_boxed_slice()),
            Some(V::ArrayValue(a)) => {
                Value::Array(a.values.into_iter().map(|v| self.value(v)).collect())
            }
            Some(V::KvlistValue(kv)) => Value::KvList(self.attributes(kv.values)),
        }
    }
}

/// Converts spans back into OTLP `TracesData`, grouping consecutive spans that share a
/// resource and scope. Used to write recordings.
pub fn to_traces_data<'a>(
    spans: impl IntoIterator<Item = &'a Span>,
    interner: &Interner,
) -> otlp_trace::TracesData {
    let mut data = otlp_trace::TracesData::default();
    let mut last: Option<(&'a Arc<Resource>, &'a Arc<Scope>)> = None;
    for span in spans {
        let same_resource = last.is_some_and(|(r, _)| Arc::ptr_eq(r, &span.resource));
        let same_scope = same_resource && last.is_some_and(|(_, s)| Arc::ptr_eq(s, &span.scope));
        if !same_resource {
            data.resource_spans.push(otlp_trace::ResourceSpans {
                resource: Some(otlp_resource::Resource {
                    attributes: to_attributes(&span.resource.attributes, interner),
                    dropped_attributes_count: span.resource.dropped_attributes_count,
                    entity_refs: Vec::new(),
                }),
                scope_spans: Vec::new(),
                schema_url: span.resource.schema_url.to_string(),
            });
        }
        let rs = data.resource_spans.last_mut().expect("pushed above");
        if !same_scope {
            rs.scope_spans.push(otlp_trace::ScopeSpans {
                scope: Some(otlp_common::InstrumentationScope {
                    name: span.scope.name.to_string(),
                    version: span.scope.version.to_string(),
                    attributes: to_attributes(&span.scope.attributes, interner),
                    dropped_attributes_count: span.scope.dropped_attributes_count,
                }),
                spans: Vec::new(),
                schema_url: span.scope.schema_url.to_string(),
            });
        }
        rs.scope_spans.last_mut().expect("pushed above").spans.push(to_otlp_span(span, interner));
        last = Some((&span.resource, &span.scope));
    }
    data
}

fn to_otlp_span(s: &Span, interner: &Interner) -> otlp_trace::Span {
    otlp_trace::Span {
        trace_id: s.trace_id.0.to_vec(),
        span_id: s.span_id.0.to_vec(),
        trace_state: s.trace_state.to_string(),
        parent_span_id: s.parent_span_id.map_or_else(Vec::new, |p| p.0.to_vec()),
        flags: s.flags,
        name: interner.resolve(s.name).to_owned(),
        kind: s.kind.to_otlp(),
        start_time_unix_nano: s.start_unix_nano,
        end_time_unix_nano: s.end_unix_nano,
        attributes: to_attributes(&s.attributes, interner),
        dropped_attributes_count: s.dropped_attributes_count,
        events: s
            .events
            .iter()
            .map(|e| otlp_trace::span::Event {
                time_unix_nano: e.time_unix_nano,
                name: interner.resolve(e.name).to_owned(),
                attributes: to_attributes(&e.attributes, interner),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: s.dropped_events_count,
        links: s
            .links
            .iter()
            .map(|l| otlp_trace::span::Link {
                trace_id: l.trace_id.0.to_vec(),
                span_id: l.span_id.0.to_vec(),
                trace_state: l.trace_state.to_string(),
                attributes: to_attributes(&l.attributes, interner),
                dropped_attributes_count: l.dropped_attributes_count,
                flags: l.flags,
            })
            .collect(),
        dropped_links_count: s.dropped_links_count,
        status: (s.status.code != StatusCode::Unset || !s.status.message.is_empty()).then(|| {
            otlp_trace::Status {
                message: s.status.message.to_string(),
                code: match s.status.code {
                    StatusCode::Unset => 0,
                    StatusCode::Ok => 1,
                    StatusCode::Error => 2,
                },
            }
        }),
    }
}

fn to_attributes(attrs: &[KeyValue], interner: &Interner) -> Vec<otlp_common::KeyValue> {
    attrs
        .iter()
        .map(|kv| otlp_common::KeyValue {
            key: interner.resolve(kv.key).to_owned(),
            value: Some(to_any_value(&kv.value, interner)),
            ..Default::default()
        })
        .collect()
}

fn to_any_value(v: &Value, interner: &Interner) -> otlp_common::AnyValue {
    use otlp_common::any_value::Value as V;
    let value = match v {
        Value::Empty => None,
        Value::Str(s) => Some(V::StringValue(s.to_string())),
        Value::Bool(b) => Some(V::BoolValue(*b)),
        Value::Int(i) => Some(V::IntValue(*i)),
        Value::Double(d) => Some(V::DoubleValue(*d)),
        Value::Bytes(b) => Some(V::BytesValue(b.to_vec())),
        Value::Array(a) => Some(V::ArrayValue(otlp_common::ArrayValue {
            values: a.iter().map(|v| to_any_value(v, interner)).collect(),
        })),
        Value::KvList(kv) => {
            Some(V::KvlistValue(otlp_common::KeyValueList { values: to_attributes(kv, interner) }))
        }
    };
    otlp_common::AnyValue { value }
}
