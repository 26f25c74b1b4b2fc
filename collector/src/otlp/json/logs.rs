//! Decoding OTLP/JSON logs: `ExportLogsServiceRequest` (or `LogsData`) down to log records.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use serde::de::MapAccess;

use super::lenient::{
    EnumSeed, HexIdSeed, Message, Repeated, StrSeed, U32Seed, U64Seed, fields, optional,
};

fields!(LogsField { ResourceLogs => "resourceLogs" | "resource_logs" });

impl Message for ExportLogsServiceRequest {
    type Field = LogsField;
    const EXPECTING: &'static str =
        "an ExportLogsServiceRequest or LogsData object (with resourceLogs)";

    fn field(key: &str) -> Option<LogsField> {
        LogsField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: LogsField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            LogsField::ResourceLogs => map.next_value_seed(Repeated(&mut self.resource_logs)),
        }
    }
}

fields!(ResourceLogsField {
    Resource => "resource",
    ScopeLogs => "scopeLogs" | "scope_logs" | "instrumentationLibraryLogs"
        | "instrumentation_library_logs",
    SchemaUrl => "schemaUrl" | "schema_url",
});

impl Message for ResourceLogs {
    type Field = ResourceLogsField;
    const EXPECTING: &'static str = "a ResourceLogs object";

    fn field(key: &str) -> Option<ResourceLogsField> {
        ResourceLogsField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: ResourceLogsField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            ResourceLogsField::Resource => self.resource = optional(map)?,
            ResourceLogsField::ScopeLogs => map.next_value_seed(Repeated(&mut self.scope_logs))?,
            ResourceLogsField::SchemaUrl => {
                self.schema_url = map.next_value_seed(StrSeed("schemaUrl"))?;
            }
        }
        Ok(())
    }
}

fields!(ScopeLogsField {
    Scope => "scope" | "instrumentationLibrary" | "instrumentation_library",
    LogRecords => "logRecords" | "log_records",
    SchemaUrl => "schemaUrl" | "schema_url",
});

impl Message for ScopeLogs {
    type Field = ScopeLogsField;
    const EXPECTING: &'static str = "a ScopeLogs object";

    fn field(key: &str) -> Option<ScopeLogsField> {
        ScopeLogsField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: ScopeLogsField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            ScopeLogsField::Scope => self.scope = optional(map)?,
            ScopeLogsField::LogRecords => map.next_value_seed(Repeated(&mut self.log_records))?,
            ScopeLogsField::SchemaUrl => {
                self.schema_url = map.next_value_seed(StrSeed("schemaUrl"))?;
            }
        }
        Ok(())
    }
}

fields!(LogRecordField {
    Time => "timeUnixNano" | "time_unix_nano",
    ObservedTime => "observedTimeUnixNano" | "observed_time_unix_nano",
    SeverityNumber => "severityNumber" | "severity_number",
    SeverityText => "severityText" | "severity_text",
    Body => "body",
    Attributes => "attributes",
    DroppedAttributes => "droppedAttributesCount" | "dropped_attributes_count",
    Flags => "flags",
    TraceId => "traceId" | "trace_id",
    SpanId => "spanId" | "span_id",
    EventName => "eventName" | "event_name",
});

impl Message for LogRecord {
    type Field = LogRecordField;
    const EXPECTING: &'static str = "a LogRecord object";

    fn field(key: &str) -> Option<LogRecordField> {
        LogRecordField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: LogRecordField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            LogRecordField::Time => {
                self.time_unix_nano = map.next_value_seed(U64Seed("timeUnixNano"))?;
            }
            LogRecordField::ObservedTime => {
                self.observed_time_unix_nano =
                    map.next_value_seed(U64Seed("observedTimeUnixNano"))?;
            }
            LogRecordField::SeverityNumber => {
                self.severity_number = map.next_value_seed(EnumSeed {
                    name: "severityNumber",
                    from_name: severity_from_name,
                })?;
            }
            LogRecordField::SeverityText => {
                self.severity_text = map.next_value_seed(StrSeed("severityText"))?;
            }
            LogRecordField::Body => self.body = optional(map)?,
            LogRecordField::Attributes => map.next_value_seed(Repeated(&mut self.attributes))?,
            LogRecordField::DroppedAttributes => {
                self.dropped_attributes_count =
                    map.next_value_seed(U32Seed("droppedAttributesCount"))?;
            }
            LogRecordField::Flags => self.flags = map.next_value_seed(U32Seed("flags"))?,
            LogRecordField::TraceId => self.trace_id = map.next_value_seed(HexIdSeed("traceId"))?,
            LogRecordField::SpanId => self.span_id = map.next_value_seed(HexIdSeed("spanId"))?,
            LogRecordField::EventName => {
                self.event_name = map.next_value_seed(StrSeed("eventName"))?;
            }
        }
        Ok(())
    }
}

fn severity_from_name(name: &str) -> Option<i32> {
    SeverityNumber::from_str_name(name).map(|s| s as i32)
}
