//! Decoding OTLP/JSON traces: `ExportTraceServiceRequest` (or `TracesData`) down to spans,
//! their events, links and status.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde::de::MapAccess;

use super::lenient::{
    EnumSeed, HexIdSeed, Message, Repeated, StrSeed, U32Seed, U64Seed, fields, optional,
};

fields!(TracesField { ResourceSpans => "resourceSpans" | "resource_spans" });

impl Message for ExportTraceServiceRequest {
    type Field = TracesField;
    const EXPECTING: &'static str =
        "an ExportTraceServiceRequest or TracesData object (with resourceSpans)";

    fn field(key: &str) -> Option<TracesField> {
        TracesField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: TracesField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            TracesField::ResourceSpans => map.next_value_seed(Repeated(&mut self.resource_spans)),
        }
    }
}

fields!(ResourceSpansField {
    Resource => "resource",
    ScopeSpans => "scopeSpans" | "scope_spans" | "instrumentationLibrarySpans"
        | "instrumentation_library_spans",
    SchemaUrl => "schemaUrl" | "schema_url",
});

impl Message for ResourceSpans {
    type Field = ResourceSpansField;
    const EXPECTING: &'static str = "a ResourceSpans object";

    fn field(key: &str) -> Option<ResourceSpansField> {
        ResourceSpansField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: ResourceSpansField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            ResourceSpansField::Resource => self.resource = optional(map)?,
            ResourceSpansField::ScopeSpans => {
                map.next_value_seed(Repeated(&mut self.scope_spans))?;
            }
            ResourceSpansField::SchemaUrl => {
                self.schema_url = map.next_value_seed(StrSeed("schemaUrl"))?;
            }
        }
        Ok(())
    }
}

fields!(ScopeSpansField {
    Scope => "scope" | "instrumentationLibrary" | "instrumentation_library",
    Spans => "spans",
    SchemaUrl => "schemaUrl" | "schema_url",
});

impl Message for ScopeSpans {
    type Field = ScopeSpansField;
    const EXPECTING: &'static str = "a ScopeSpans object";

    fn field(key: &str) -> Option<ScopeSpansField> {
        ScopeSpansField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: ScopeSpansField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            ScopeSpansField::Scope => self.scope = optional(map)?,
            ScopeSpansField::Spans => map.next_value_seed(Repeated(&mut self.spans))?,
            ScopeSpansField::SchemaUrl => {
                self.schema_url = map.next_value_seed(StrSeed("schemaUrl"))?;
            }
        }
        Ok(())
    }
}

fields!(SpanField {
    TraceId => "traceId" | "trace_id",
    SpanId => "spanId" | "span_id",
    TraceState => "traceState" | "trace_state",
    ParentSpanId => "parentSpanId" | "parent_span_id",
    Flags => "flags",
    Name => "name",
    Kind => "kind",
    StartTime => "startTimeUnixNano" | "start_time_unix_nano",
    EndTime => "endTimeUnixNano" | "end_time_unix_nano",
    Attributes => "attributes",
    DroppedAttributes => "droppedAttributesCount" | "dropped_attributes_count",
    Events => "events",
    DroppedEvents => "droppedEventsCount" | "dropped_events_count",
    Links => "links",
    DroppedLinks => "droppedLinksCount" | "dropped_links_count",
    Status => "status",
});

impl Message for Span {
    type Field = SpanField;
    const EXPECTING: &'static str = "a Span object";

    fn field(key: &str) -> Option<SpanField> {
        SpanField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: SpanField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            SpanField::TraceId => self.trace_id = map.next_value_seed(HexIdSeed("traceId"))?,
            SpanField::SpanId => self.span_id = map.next_value_seed(HexIdSeed("spanId"))?,
            SpanField::TraceState => {
                self.trace_state = map.next_value_seed(StrSeed("traceState"))?;
            }
            SpanField::ParentSpanId => {
                self.parent_span_id = map.next_value_seed(HexIdSeed("parentSpanId"))?;
            }
            SpanField::Flags => self.flags = map.next_value_seed(U32Seed("flags"))?,
            SpanField::Name => self.name = map.next_value_seed(StrSeed("name"))?,
            SpanField::Kind => {
                self.kind =
                    map.next_value_seed(EnumSeed { name: "kind", from_name: span_kind_from_name })?;
            }
            SpanField::StartTime => {
                self.start_time_unix_nano = map.next_value_seed(U64Seed("startTimeUnixNano"))?;
            }
            SpanField::EndTime => {
                self.end_time_unix_nano = map.next_value_seed(U64Seed("endTimeUnixNano"))?;
            }
            SpanField::Attributes => map.next_value_seed(Repeated(&mut self.attributes))?,
            SpanField::DroppedAttributes => {
                self.dropped_attributes_count =
                    map.next_value_seed(U32Seed("droppedAttributesCount"))?;
            }
            SpanField::Events => map.next_value_seed(Repeated(&mut self.events))?,
            SpanField::DroppedEvents => {
                self.dropped_events_count = map.next_value_seed(U32Seed("droppedEventsCount"))?;
            }
            SpanField::Links => map.next_value_seed(Repeated(&mut self.links))?,
            SpanField::DroppedLinks => {
                self.dropped_links_count = map.next_value_seed(U32Seed("droppedLinksCount"))?;
            }
            SpanField::Status => self.status = optional(map)?,
        }
        Ok(())
    }
}

fields!(EventField {
    Time => "timeUnixNano" | "time_unix_nano",
    Name => "name",
    Attributes => "attributes",
    DroppedAttributes => "droppedAttributesCount" | "dropped_attributes_count",
});

impl Message for Event {
    type Field = EventField;
    const EXPECTING: &'static str = "a span Event object";

    fn field(key: &str) -> Option<EventField> {
        EventField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: EventField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            EventField::Time => {
                self.time_unix_nano = map.next_value_seed(U64Seed("timeUnixNano"))?;
            }
            EventField::Name => self.name = map.next_value_seed(StrSeed("name"))?,
            EventField::Attributes => map.next_value_seed(Repeated(&mut self.attributes))?,
            EventField::DroppedAttributes => {
                self.dropped_attributes_count =
                    map.next_value_seed(U32Seed("droppedAttributesCount"))?;
            }
        }
        Ok(())
    }
}

fields!(LinkField {
    TraceId => "traceId" | "trace_id",
    SpanId => "spanId" | "span_id",
    TraceState => "traceState" | "trace_state",
    Attributes => "attributes",
    DroppedAttributes => "droppedAttributesCount" | "dropped_attributes_count",
    Flags => "flags",
});

impl Message for Link {
    type Field = LinkField;
    const EXPECTING: &'static str = "a span Link object";

    fn field(key: &str) -> Option<LinkField> {
        LinkField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: LinkField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            LinkField::TraceId => self.trace_id = map.next_value_seed(HexIdSeed("traceId"))?,
            LinkField::SpanId => self.span_id = map.next_value_seed(HexIdSeed("spanId"))?,
            LinkField::TraceState => {
                self.trace_state = map.next_value_seed(StrSeed("traceState"))?;
            }
            LinkField::Attributes => map.next_value_seed(Repeated(&mut self.attributes))?,
            LinkField::DroppedAttributes => {
                self.dropped_attributes_count =
                    map.next_value_seed(U32Seed("droppedAttributesCount"))?;
            }
            LinkField::Flags => self.flags = map.next_value_seed(U32Seed("flags"))?,
        }
        Ok(())
    }
}

fields!(StatusField { Message => "message", Code => "code" });

impl Message for Status {
    type Field = StatusField;
    const EXPECTING: &'static str = "a span Status object";

    fn field(key: &str) -> Option<StatusField> {
        StatusField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: StatusField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            StatusField::Message => self.message = map.next_value_seed(StrSeed("message"))?,
            StatusField::Code => {
                self.code = map
                    .next_value_seed(EnumSeed { name: "code", from_name: status_code_from_name })?;
            }
        }
        Ok(())
    }
}

fn span_kind_from_name(name: &str) -> Option<i32> {
    SpanKind::from_str_name(name).map(|k| k as i32)
}

fn status_code_from_name(name: &str) -> Option<i32> {
    StatusCode::from_str_name(name).map(|c| c as i32)
}
