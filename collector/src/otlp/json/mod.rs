//! The OTLP/JSON codec: OTLP JSON bytes to and from the prost types of `opentelemetry-proto`.
//!
//! This module owns hopscope's whole JSON layer for OTLP (the proto crate is used without
//! `with-serde`):
//!
//! - **Decoding** ([`decode_traces`], [`decode_logs`], [`count_metric_points`]) is as lenient
//!   as the OpenTelemetry Collector's decoder: lowerCamelCase or snake_case keys, the legacy
//!   `instrumentationLibrary*` keys, 64-bit integers as numbers or strings, enums as integers
//!   or proto names, `null` as the default, unknown fields skipped without allocating. Ids are
//!   hex in either case; a malformed id never fails the document (see [`decode_traces`]) so
//!   that validation, downstream, rejects only the span that carries it. Decoding streams
//!   straight into the prost structs through serde visitors (no `serde_json::Value`).
//! - **Encoding** ([`encode_traces_data`] and the response/status encoders) writes what the
//!   OpenTelemetry Collector's file exporter writes: compact protobuf-JSON with lowerCamelCase
//!   keys, hex ids, 64-bit integers as strings, enums as integers, default fields omitted.
//!
//! Inside: `lenient` is the serde machinery every decoder is built of (messages read field
//! by field, scalar seeds, the nesting bound); `traces`, `logs` and `metrics` decode each
//! signal, `common` the messages they share (resource, scope, attributes); `encode` writes.

mod common;
mod encode;
mod lenient;
mod logs;
mod metrics;
mod traces;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde::de::DeserializeSeed;

pub use encode::{
    encode_logs_response, encode_metrics_response, encode_status, encode_trace_response,
    encode_traces_data,
};
pub use lenient::MAX_NESTING;
use lenient::{Message, MessageSeed};
use metrics::MetricsDocument;

/// Why an OTLP/JSON document could not be decoded. The message says what was wrong and
/// where (line and column, 1-based, of the offending input).
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The input ended before the JSON document did (or was empty).
    #[error("truncated OTLP/JSON document: {0}")]
    Truncated(serde_json::Error),
    /// The input is not JSON (or has trailing characters after the document).
    #[error("malformed JSON: {0}")]
    Syntax(serde_json::Error),
    /// The input is JSON but does not have the shape of the OTLP message: wrong type at the
    /// top level or for a field, or a value out of range.
    #[error("invalid OTLP/JSON: {0}")]
    Schema(serde_json::Error),
}

impl JsonError {
    /// Line (1-based) of the input where the problem was found.
    pub fn line(&self) -> usize {
        self.inner().line()
    }

    /// Column (1-based) of the input where the problem was found.
    pub fn column(&self) -> usize {
        self.inner().column()
    }

    fn inner(&self) -> &serde_json::Error {
        match self {
            Self::Truncated(e) | Self::Syntax(e) | Self::Schema(e) => e,
        }
    }
}

impl From<serde_json::Error> for JsonError {
    fn from(e: serde_json::Error) -> Self {
        match e.classify() {
            serde_json::error::Category::Eof => Self::Truncated(e),
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                Self::Syntax(e)
            }
            serde_json::error::Category::Data => Self::Schema(e),
        }
    }
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest` (or a `TracesData` document, which has the
/// same shape: `resourceSpans`).
///
/// Ids (`traceId`, `spanId`, `parentSpanId`, links' ids) are hex strings in either case. An
/// id that is valid hex decodes to its bytes whatever their number, so a wrong length is kept
/// as given. An id that is not hex (or has an odd number of digits) decodes to its raw UTF-8
/// bytes padded with a zero byte to an odd length: it is never empty (a malformed parent does
/// not turn a child into a root) and never 8 or 16 bytes long, so validation rejects exactly
/// that span. An empty string or `null` is an empty id.
pub fn decode_traces(bytes: &[u8]) -> Result<ExportTraceServiceRequest, JsonError> {
    decode_document(bytes)
}

/// Decodes an OTLP/JSON `ExportLogsServiceRequest` (or `LogsData`: `resourceLogs`), with the
/// same leniency as [`decode_traces`]; log records' `traceId`/`spanId` follow its id rules.
pub fn decode_logs(bytes: &[u8]) -> Result<ExportLogsServiceRequest, JsonError> {
    decode_document(bytes)
}

/// Counts the data points of an OTLP/JSON `ExportMetricsServiceRequest` without building it.
///
/// The document must be a JSON object; its `resourceMetrics` (if any) must be an array of
/// objects, down through `scopeMetrics` (or legacy `instrumentationLibraryMetrics`),
/// `metrics`, the metric's data (`gauge`, `sum`, `histogram`, `exponentialHistogram`,
/// `summary`) to `dataPoints`, whose elements are counted. Everything else is checked to be
/// well-formed JSON and skipped.
pub fn count_metric_points(bytes: &[u8]) -> Result<u64, JsonError> {
    decode_document::<MetricsDocument>(bytes).map(|d| d.0)
}

fn decode_document<M: Message>(bytes: &[u8]) -> Result<M, JsonError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // serde_json's own limit (128 levels of `{` and `[`) is lower than the nesting prost
    // accepts in protobuf: an attribute value nested 47 arrays deep came in over protobuf,
    // was recorded, and its recording line could not be read back. Messages are counted
    // instead (`Nesting`), with a limit above prost's; values that are skipped are skipped
    // without recursion by serde_json.
    de.disable_recursion_limit();
    let msg = MessageSeed::<M>::top_level().deserialize(&mut de)?;
    de.end()?;
    Ok(msg.unwrap_or_default())
}

#[cfg(test)]
mod tests;
