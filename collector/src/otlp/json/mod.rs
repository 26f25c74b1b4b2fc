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

use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, TracesData};
use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor,
};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Decoding: public API
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Decoding: the machinery
// ---------------------------------------------------------------------------------------------

/// A protobuf message decoded field by field from a JSON object.
trait Message: Default {
    /// The fields this decoder knows; keys it does not know are skipped.
    type Field: Copy;
    /// What the message is, for "expected ..." in errors.
    const EXPECTING: &'static str;
    /// The field a key names (lowerCamelCase, snake_case or legacy spelling), if known.
    fn field(key: &str) -> Option<Self::Field>;
    /// Reads the value of `field` from `map` into `self`.
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: Self::Field,
        map: &mut A,
    ) -> Result<(), A::Error>;
}

/// Declares a message's field enum and its key lookup.
macro_rules! fields {
    ($name:ident { $($variant:ident => $($key:literal)|+),+ $(,)? }) => {
        #[derive(Clone, Copy)]
        enum $name {
            $($variant),+
        }

        impl $name {
            fn from_key(key: &str) -> Option<Self> {
                match key {
                    $($($key)|+ => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

/// Reads an object key and maps it to a field of `M` (`None`: unknown, skip the value).
struct KeySeed<M>(PhantomData<M>);

impl<'de, M: Message> DeserializeSeed<'de> for KeySeed<M> {
    type Value = Option<M::Field>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<M: Message> Visitor<'_> for KeySeed<M> {
    type Value = Option<M::Field>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(M::field(key))
    }
}

/// Reads one message: an object, or `null` (`None`, i.e. absent) where allowed.
struct MessageSeed<M> {
    null_allowed: bool,
    marker: PhantomData<M>,
}

impl<M> MessageSeed<M> {
    fn field() -> Self {
        Self { null_allowed: true, marker: PhantomData }
    }

    fn top_level() -> Self {
        Self { null_allowed: false, marker: PhantomData }
    }
}

impl<'de, M: Message> DeserializeSeed<'de> for MessageSeed<M> {
    type Value = Option<M>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, M: Message> Visitor<'de> for MessageSeed<M> {
    type Value = Option<M>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(M::EXPECTING)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        if self.null_allowed { Ok(None) } else { Err(E::invalid_type(Unexpected::Unit, &self)) }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let _nesting = Nesting::enter::<A::Error>()?;
        let mut msg = M::default();
        while let Some(field) = map.next_key_seed(KeySeed::<M>(PhantomData))? {
            match field {
                Some(field) => msg.set(field, &mut map)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(msg))
    }
}

/// How deep messages may nest in a document (the top-level message is 1). prost refuses
/// protobuf nested past 100 messages; this is a little more, so that everything accepted
/// over protobuf (and so recorded as OTLP/JSON) reads back, and bounded, so that the
/// recursive descent stays well within a thread's stack.
pub const MAX_NESTING: u32 = 128;

thread_local! {
    /// Messages being decoded on this thread, outermost to innermost.
    static NESTING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// One level of message nesting, held while a message is decoded.
struct Nesting;

impl Nesting {
    fn enter<E: de::Error>() -> Result<Self, E> {
        NESTING.with(|n| {
            let depth = n.get() + 1;
            if depth > MAX_NESTING {
                return Err(E::custom(format_args!(
                    "messages nested more than {MAX_NESTING} deep"
                )));
            }
            n.set(depth);
            Ok(Nesting)
        })
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        NESTING.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// Appends the elements of a JSON array of messages to a `Vec` (`null` adds nothing; a
/// `null` element is a default message).
struct Repeated<'a, M>(&'a mut Vec<M>);

impl<'de, M: Message> DeserializeSeed<'de> for Repeated<'_, M> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, M: Message> Visitor<'de> for Repeated<'_, M> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "an array of {}s",
            M::EXPECTING.trim_start_matches("an ").trim_start_matches("a ")
        )
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(msg) = seq.next_element_seed(MessageSeed::<M>::field())? {
            self.0.push(msg.unwrap_or_default());
        }
        Ok(())
    }
}

/// Reads a value that may be `null` (`None`) with the inner seed otherwise. For oneof
/// members, where `null` means "not this member".
struct Nullable<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

/// Declares a scalar seed: a unit-like struct carrying the field's JSON name for errors.
macro_rules! scalar_seed {
    ($name:ident -> $value:ty, $what:literal) => {
        #[derive(Clone, Copy)]
        struct $name(&'static str);

        impl<'de> DeserializeSeed<'de> for $name {
            type Value = $value;

            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<$value, D::Error> {
                d.deserialize_any(self)
            }
        }

        impl $name {
            fn describe(self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "`{}` as {}", self.0, $what)
            }
        }
    };
}

scalar_seed!(StrSeed -> String, "a string");
scalar_seed!(BoolSeed -> bool, "a boolean");
scalar_seed!(U64Seed -> u64, "an unsigned 64-bit integer (number or decimal string)");
scalar_seed!(I64Seed -> i64, "a signed 64-bit integer (number or decimal string)");
scalar_seed!(U32Seed -> u32, "an unsigned 32-bit integer");
scalar_seed!(I32Seed -> i32, "a signed 32-bit integer");
scalar_seed!(F64Seed -> f64, "a number (or \"NaN\", \"Infinity\", \"-Infinity\")");
scalar_seed!(HexIdSeed -> Vec<u8>, "a hex string");
scalar_seed!(Base64Seed -> Vec<u8>, "a base64 string");

impl Visitor<'_> for StrSeed {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.describe(f)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
}

impl Visitor<'_> for BoolSeed {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.describe(f)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// An integral float (JavaScript exporters may print big integers as `1.7e18`), if exact.
fn integral(v: f64) -> Option<f64> {
    (v.is_finite() && v.fract() == 0.0).then_some(v)
}

/// Parses an integer written in a JSON string: decimal, or an integral float form (`"1e3"`).
fn parse_int_str<T: std::str::FromStr + TryFrom<i128>>(v: &str) -> Option<T> {
    if let Ok(n) = v.parse::<T>() {
        return Some(n);
    }
    let f = integral(v.parse::<f64>().ok()?)?;
    if f.abs() > 1.8e19 {
        return None;
    }
    T::try_from(f as i128).ok()
}

/// Implements the visitor of an integer seed: numbers, integral floats, decimal strings,
/// `null` (zero), each range-checked.
macro_rules! int_visitor {
    ($seed:ident -> $t:ty) => {
        impl Visitor<'_> for $seed {
            type Value = $t;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                self.describe(f)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<$t, E> {
                <$t>::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<$t, E> {
                <$t>::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<$t, E> {
                integral(v)
                    .filter(|f| f.abs() <= 1.8e19)
                    .and_then(|f| <$t>::try_from(f as i128).ok())
                    .ok_or_else(|| E::invalid_value(Unexpected::Float(v), &self))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<$t, E> {
                parse_int_str::<$t>(v).ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
            }

            fn visit_unit<E: de::Error>(self) -> Result<$t, E> {
                Ok(0)
            }
        }
    };
}

int_visitor!(U64Seed -> u64);
int_visitor!(I64Seed -> i64);
int_visitor!(U32Seed -> u32);
int_visitor!(I32Seed -> i32);

impl Visitor<'_> for F64Seed {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.describe(f)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => v.parse::<f64>().map_err(|_| E::invalid_value(Unexpected::Str(v), &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
        Ok(0.0)
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes a hex id leniently (see [`decode_traces`] for the rules).
fn decode_hex_id(s: &str) -> Vec<u8> {
    let raw = s.as_bytes();
    if raw.len().is_multiple_of(2) {
        let mut out = Vec::with_capacity(raw.len() / 2);
        for pair in raw.chunks_exact(2) {
            let (Some(hi), Some(lo)) = (hex_digit(pair[0]), hex_digit(pair[1])) else {
                break;
            };
            out.push(hi << 4 | lo);
        }
        if out.len() * 2 == raw.len() {
            return out;
        }
    }
    // Malformed: keep the raw bytes, at an odd length so that no id validation accepts them.
    let mut out = raw.to_vec();
    if out.len().is_multiple_of(2) {
        out.push(0);
    }
    out
}

impl Visitor<'_> for HexIdSeed {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.describe(f)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        Ok(decode_hex_id(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<u8>, E> {
        Ok(Vec::new())
    }
}

/// Standard alphabet, padding optional (protobuf JSON accepts both).
const BASE64_STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// URL-safe alphabet, padding optional (protobuf JSON accepts it too).
const BASE64_URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

impl Visitor<'_> for Base64Seed {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.describe(f)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        BASE64_STANDARD_LENIENT
            .decode(v)
            .or_else(|_| BASE64_URL_LENIENT.decode(v))
            .map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<u8>, E> {
        Ok(Vec::new())
    }
}

/// An enum field: an integer, or its proto name (unknown names are 0).
#[derive(Clone, Copy)]
struct EnumSeed {
    name: &'static str,
    from_name: fn(&str) -> Option<i32>,
}

impl<'de> DeserializeSeed<'de> for EnumSeed {
    type Value = i32;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<i32, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for EnumSeed {
    type Value = i32;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "`{}` as an enum number or name", self.name)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i32, E> {
        I32Seed(self.name).visit_u64(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i32, E> {
        I32Seed(self.name).visit_i64(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i32, E> {
        I32Seed(self.name).visit_f64(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i32, E> {
        Ok((self.from_name)(v).or_else(|| v.parse().ok()).unwrap_or(0))
    }

    fn visit_unit<E: de::Error>(self) -> Result<i32, E> {
        Ok(0)
    }
}

fn span_kind_from_name(name: &str) -> Option<i32> {
    SpanKind::from_str_name(name).map(|k| k as i32)
}

fn status_code_from_name(name: &str) -> Option<i32> {
    StatusCode::from_str_name(name).map(|c| c as i32)
}

fn severity_from_name(name: &str) -> Option<i32> {
    SeverityNumber::from_str_name(name).map(|s| s as i32)
}

/// Appends a JSON array of strings to a `Vec<String>` (`null` adds nothing).
struct StrList<'a>(&'a mut Vec<String>, &'static str);

impl<'de> DeserializeSeed<'de> for StrList<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrList<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "`{}` as an array of strings", self.1)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(s) = seq.next_element_seed(StrSeed(self.1))? {
            self.0.push(s);
        }
        Ok(())
    }
}

/// Reads an optional sub-message field: `null` leaves it absent.
fn optional<'de, M: Message, A: MapAccess<'de>>(map: &mut A) -> Result<Option<M>, A::Error> {
    map.next_value_seed(MessageSeed::<M>::field())
}

// ---------------------------------------------------------------------------------------------
// Decoding: messages
// ---------------------------------------------------------------------------------------------

fields!(TracesField { ResourceSpans => "resourceSpans" | "resource_spans" });

impl Message for ExportTraceServiceRequest {
    type Field = TracesField;
    const EXPECTING: &'static str =
        "an ExportTraceServiceRequest or TracesData object (with resourceSpans)";

    fn field(key: &str) -> Option<TracesField> {
        TracesField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(&mut self, f: TracesField, map: &mut A) -> Result<(), A::Error> {
        match f {
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
        f: ResourceSpansField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match f {
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
        f: ScopeSpansField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match f {
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

    fn set<'de, A: MapAccess<'de>>(&mut self, f: SpanField, map: &mut A) -> Result<(), A::Error> {
        match f {
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

    fn set<'de, A: MapAccess<'de>>(&mut self, f: EventField, map: &mut A) -> Result<(), A::Error> {
        match f {
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

    fn set<'de, A: MapAccess<'de>>(&mut self, f: LinkField, map: &mut A) -> Result<(), A::Error> {
        match f {
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

    fn set<'de, A: MapAccess<'de>>(&mut self, f: StatusField, map: &mut A) -> Result<(), A::Error> {
        match f {
            StatusField::Message => self.message = map.next_value_seed(StrSeed("message"))?,
            StatusField::Code => {
                self.code = map
                    .next_value_seed(EnumSeed { name: "code", from_name: status_code_from_name })?;
            }
        }
        Ok(())
    }
}

fields!(ResourceField {
    Attributes => "attributes",
    DroppedAttributes => "droppedAttributesCount" | "dropped_attributes_count",
    EntityRefs => "entityRefs" | "entity_refs",
});

impl Message for Resource {
    type Field = ResourceField;
    const EXPECTING: &'static str = "a Resource object";

    fn field(key: &str) -> Option<ResourceField> {
        ResourceField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        f: ResourceField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match f {
            ResourceField::Attributes => map.next_value_seed(Repeated(&mut self.attributes))?,
            ResourceField::DroppedAttributes => {
                self.dropped_attributes_count =
                    map.next_value_seed(U32Seed("droppedAttributesCount"))?;
            }
            ResourceField::EntityRefs => map.next_value_seed(Repeated(&mut self.entity_refs))?,
        }
        Ok(())
    }
}

fields!(EntityRefField {
    SchemaUrl => "schemaUrl" | "schema_url",
    Type => "type",
    IdKeys => "idKeys" | "id_keys",
    DescriptionKeys => "descriptionKeys" | "description_keys",
});

impl Message for EntityRef {
    type Field = EntityRefField;
    const EXPECTING: &'static str = "an EntityRef object";

    fn field(key: &str) -> Option<EntityRefField> {
        EntityRefField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        f: EntityRefField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match f {
            EntityRefField::SchemaUrl => {
                self.schema_url = map.next_value_seed(StrSeed("schemaUrl"))?;
            }
            EntityRefField::Type => self.r#type = map.next_value_seed(StrSeed("type"))?,
            EntityRefField::IdKeys => map.next_value_seed(StrList(&mut self.id_keys, "idKeys"))?,
            EntityRefField::DescriptionKeys => {
                map.next_value_seed(StrList(&mut self.description_keys, "descriptionKeys"))?;
            }
        }
        Ok(())
    }
}

fields!(ScopeField {
    Name => "name",
    Version => "version",
    Attributes => "attributes",
    DroppedAttributes => "droppedAttributesCount" | "dropped_attributes_count",
});

impl Message for InstrumentationScope {
    type Field = ScopeField;
    const EXPECTING: &'static str = "an InstrumentationScope object";

    fn field(key: &str) -> Option<ScopeField> {
        ScopeField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(&mut self, f: ScopeField, map: &mut A) -> Result<(), A::Error> {
        match f {
            ScopeField::Name => self.name = map.next_value_seed(StrSeed("name"))?,
            ScopeField::Version => self.version = map.next_value_seed(StrSeed("version"))?,
            ScopeField::Attributes => map.next_value_seed(Repeated(&mut self.attributes))?,
            ScopeField::DroppedAttributes => {
                self.dropped_attributes_count =
                    map.next_value_seed(U32Seed("droppedAttributesCount"))?;
            }
        }
        Ok(())
    }
}

fields!(KeyValueField {
    Key => "key",
    Value => "value",
    KeyStrindex => "keyStrindex" | "key_strindex",
});

impl Message for KeyValue {
    type Field = KeyValueField;
    const EXPECTING: &'static str = "a KeyValue object";

    fn field(key: &str) -> Option<KeyValueField> {
        KeyValueField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        f: KeyValueField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match f {
            KeyValueField::Key => self.key = map.next_value_seed(StrSeed("key"))?,
            KeyValueField::Value => self.value = optional(map)?,
            KeyValueField::KeyStrindex => {
                self.key_strindex = map.next_value_seed(I32Seed("keyStrindex"))?;
            }
        }
        Ok(())
    }
}

fields!(AnyValueField {
    String => "stringValue" | "string_value",
    Bool => "boolValue" | "bool_value",
    Int => "intValue" | "int_value",
    Double => "doubleValue" | "double_value",
    Array => "arrayValue" | "array_value",
    Kvlist => "kvlistValue" | "kvlist_value",
    Bytes => "bytesValue" | "bytes_value",
    StringStrindex => "stringValueStrindex" | "string_value_strindex",
});

impl Message for AnyValue {
    type Field = AnyValueField;
    const EXPECTING: &'static str = "an AnyValue object";

    fn field(key: &str) -> Option<AnyValueField> {
        AnyValueField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        f: AnyValueField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        // `null` for a member means "not this member": the value stays as it was.
        let value = match f {
            AnyValueField::String => {
                map.next_value_seed(Nullable(StrSeed("stringValue")))?.map(Value::StringValue)
            }
            AnyValueField::Bool => {
                map.next_value_seed(Nullable(BoolSeed("boolValue")))?.map(Value::BoolValue)
            }
            AnyValueField::Int => {
                map.next_value_seed(Nullable(I64Seed("intValue")))?.map(Value::IntValue)
            }
            AnyValueField::Double => {
                map.next_value_seed(Nullable(F64Seed("doubleValue")))?.map(Value::DoubleValue)
            }
            AnyValueField::Array => optional::<ArrayValue, A>(map)?.map(Value::ArrayValue),
            AnyValueField::Kvlist => optional::<KeyValueList, A>(map)?.map(Value::KvlistValue),
            AnyValueField::Bytes => {
                map.next_value_seed(Nullable(Base64Seed("bytesValue")))?.map(Value::BytesValue)
            }
            AnyValueField::StringStrindex => map
                .next_value_seed(Nullable(I32Seed("stringValueStrindex")))?
                .map(Value::StringValueStrindex),
        };
        if value.is_some() {
            self.value = value;
        }
        Ok(())
    }
}

fields!(ValuesField { Values => "values" });

impl Message for ArrayValue {
    type Field = ValuesField;
    const EXPECTING: &'static str = "an ArrayValue object";

    fn field(key: &str) -> Option<ValuesField> {
        ValuesField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(&mut self, f: ValuesField, map: &mut A) -> Result<(), A::Error> {
        match f {
            ValuesField::Values => map.next_value_seed(Repeated(&mut self.values)),
        }
    }
}

impl Message for KeyValueList {
    type Field = ValuesField;
    const EXPECTING: &'static str = "a KeyValueList object";

    fn field(key: &str) -> Option<ValuesField> {
        ValuesField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(&mut self, f: ValuesField, map: &mut A) -> Result<(), A::Error> {
        match f {
            ValuesField::Values => map.next_value_seed(Repeated(&mut self.values)),
        }
    }
}

// Logs.

fields!(LogsField { ResourceLogs => "resourceLogs" | "resource_logs" });

impl Message for ExportLogsServiceRequest {
    type Field = LogsField;
    const EXPECTING: &'static str =
        "an ExportLogsServiceRequest or LogsData object (with resourceLogs)";

    fn field(key: &str) -> Option<LogsField> {
        LogsField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(&mut self, f: LogsField, map: &mut A) -> Result<(), A::Error> {
        match f {
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
        f: ResourceLogsField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match f {
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
        f: ScopeLogsField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match f {
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
        f: LogRecordField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match f {
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

// Metrics: counted, not built. Each level's "message" is its number of data points.

/// Sums the point counts of a JSON array of `M` (`null` counts 0).
struct SumPoints<M>(PhantomData<M>);

impl<'de, M: Message + Points> DeserializeSeed<'de> for SumPoints<M> {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, M: Message + Points> Visitor<'de> for SumPoints<M> {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "an array of {}s",
            M::EXPECTING.trim_start_matches("an ").trim_start_matches("a ")
        )
    }

    fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut total = 0u64;
        while let Some(m) = seq.next_element_seed(MessageSeed::<M>::field())? {
            total += m.map_or(0, |m| m.points());
        }
        Ok(total)
    }
}

/// Counts the elements of `dataPoints` (each skipped without being built).
struct CountElements;

impl<'de> DeserializeSeed<'de> for CountElements {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CountElements {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`dataPoints` as an array")
    }

    fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut n = 0u64;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(n)
    }
}

/// A metrics-level message that stands for its number of data points.
trait Points {
    fn points(&self) -> u64;
}

/// Declares a metrics counting level: a `u64` newtype whose fields add up points.
macro_rules! points_level {
    ($name:ident, $field:ident, $expecting:literal, |$map:ident| $count:expr) => {
        #[derive(Default)]
        struct $name(u64);

        impl Points for $name {
            fn points(&self) -> u64 {
                self.0
            }
        }

        impl Message for $name {
            type Field = $field;
            const EXPECTING: &'static str = $expecting;

            fn field(key: &str) -> Option<$field> {
                $field::from_key(key)
            }

            fn set<'de, A: MapAccess<'de>>(
                &mut self,
                _: $field,
                $map: &mut A,
            ) -> Result<(), A::Error> {
                self.0 = self.0.saturating_add($count);
                Ok(())
            }
        }
    };
}

fields!(MetricsDocumentField { ResourceMetrics => "resourceMetrics" | "resource_metrics" });
points_level!(
    MetricsDocument,
    MetricsDocumentField,
    "an ExportMetricsServiceRequest or MetricsData object (with resourceMetrics)",
    |map| map.next_value_seed(SumPoints::<ResourceMetricsPoints>(PhantomData))?
);

fields!(ResourceMetricsField {
    ScopeMetrics => "scopeMetrics" | "scope_metrics" | "instrumentationLibraryMetrics"
        | "instrumentation_library_metrics",
});
points_level!(ResourceMetricsPoints, ResourceMetricsField, "a ResourceMetrics object", |map| map
    .next_value_seed(
    SumPoints::<ScopeMetricsPoints>(PhantomData)
)?);

fields!(ScopeMetricsField { Metrics => "metrics" });
points_level!(ScopeMetricsPoints, ScopeMetricsField, "a ScopeMetrics object", |map| map
    .next_value_seed(SumPoints::<MetricPoints>(PhantomData))?);

fields!(MetricField {
    Data => "gauge" | "sum" | "histogram" | "exponentialHistogram" | "exponential_histogram"
        | "summary",
});
points_level!(MetricPoints, MetricField, "a Metric object", |map| map
    .next_value_seed(MessageSeed::<MetricDataPoints>::field())?
    .map_or(0, |d| d.0));

fields!(MetricDataField { DataPoints => "dataPoints" | "data_points" });
points_level!(
    MetricDataPoints,
    MetricDataField,
    "a metric data object (gauge, sum, histogram, exponentialHistogram or summary)",
    |map| map.next_value_seed(CountElements)?
);

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

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

fn write_f64(out: &mut Vec<u8>, v: f64) {
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

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() * 2 + 2);
    out.push(b'"');
    for &b in bytes {
        out.push(HEX_LOWER[usize::from(b >> 4)]);
        out.push(HEX_LOWER[usize::from(b & 0x0f)]);
    }
    out.push(b'"');
}

/// Writes `s` as a JSON string: `"` and `\` escaped, control characters as `\n`-style or
/// `\u00XX` escapes, everything else (all of UTF-8) as is.
fn write_str(out: &mut Vec<u8>, s: &str) {
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
            out.push(HEX_LOWER[usize::from(b >> 4)]);
            out.push(HEX_LOWER[usize::from(b & 0x0f)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::option;
    use proptest::prelude::*;

    // ----- helpers -----------------------------------------------------------------------

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), key_strindex: 0 }
    }

    fn string(v: &str) -> Value {
        Value::StringValue(v.into())
    }

    fn encode(data: &TracesData) -> String {
        let mut out = Vec::new();
        encode_traces_data(data, &mut out);
        String::from_utf8(out).expect("encoder writes UTF-8")
    }

    fn round_trip(data: &TracesData) -> Vec<ResourceSpans> {
        let json = encode(data);
        decode_traces(json.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{json}")).resource_spans
    }

    fn decode_ok(json: &str) -> ExportTraceServiceRequest {
        decode_traces(json.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{json}"))
    }

    fn spans(req: &ExportTraceServiceRequest) -> Vec<&Span> {
        req.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).collect()
    }

    /// Wraps span objects (JSON text) in a minimal traces document.
    fn doc_with_spans(spans: &str) -> String {
        format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{spans}]}}]}}]}}"#)
    }

    fn only_span(span_json: &str) -> Span {
        let req = decode_ok(&doc_with_spans(span_json));
        let all = spans(&req);
        assert_eq!(all.len(), 1);
        all[0].clone()
    }

    fn attr_value(span_json_attr_value: &str) -> Option<Value> {
        let span = only_span(&format!(
            r#"{{"attributes":[{{"key":"k","value":{span_json_attr_value}}}]}}"#
        ));
        span.attributes[0].value.as_ref().and_then(|v| v.value.clone())
    }

    fn trace_id() -> Vec<u8> {
        (1..=16).collect()
    }

    fn span_id(seed: u8) -> Vec<u8> {
        vec![seed, 2, 3, 4, 5, 6, 7, 8]
    }

    /// A span with every field set to a non-default value.
    fn full_span() -> Span {
        Span {
            trace_id: trace_id(),
            span_id: span_id(0xaa),
            trace_state: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into(),
            parent_span_id: span_id(0xbb),
            flags: 0x301,
            name: "orders publish \"quoted\" \\ \n\t\u{1}\u{7f} ünïcødé 🚀".into(),
            kind: SpanKind::Producer as i32,
            start_time_unix_nano: 1_544_712_660_000_000_000,
            end_time_unix_nano: u64::MAX,
            attributes: vec![
                kv("str", string("value")),
                kv("empty.str", string("")),
                kv("bool.true", Value::BoolValue(true)),
                kv("bool.false", Value::BoolValue(false)),
                kv("int.max", Value::IntValue(i64::MAX)),
                kv("int.min", Value::IntValue(i64::MIN)),
                kv("int.zero", Value::IntValue(0)),
                kv("double", Value::DoubleValue(3.25)),
                kv("double.tiny", Value::DoubleValue(5e-324)),
                kv("double.huge", Value::DoubleValue(1.797_693_134_862_315_7e308)),
                kv("double.neg.zero", Value::DoubleValue(-0.0)),
                kv("double.inf", Value::DoubleValue(f64::INFINITY)),
                kv("double.neg.inf", Value::DoubleValue(f64::NEG_INFINITY)),
                kv("bytes", Value::BytesValue(vec![0, 1, 2, 0xfe, 0xff])),
                kv("bytes.empty", Value::BytesValue(vec![])),
                kv(
                    "array",
                    Value::ArrayValue(ArrayValue {
                        values: vec![
                            AnyValue { value: Some(string("a")) },
                            AnyValue { value: None },
                            AnyValue { value: Some(Value::IntValue(-7)) },
                            AnyValue {
                                value: Some(Value::ArrayValue(ArrayValue {
                                    values: vec![AnyValue { value: Some(Value::BoolValue(true)) }],
                                })),
                            },
                        ],
                    }),
                ),
                kv("array.empty", Value::ArrayValue(ArrayValue::default())),
                kv(
                    "kvlist",
                    Value::KvlistValue(KeyValueList {
                        values: vec![
                            kv("nested", string("x")),
                            KeyValue { key: "no.value".into(), value: None, key_strindex: 0 },
                            KeyValue {
                                key: "empty.value".into(),
                                value: Some(AnyValue { value: None }),
                                key_strindex: 0,
                            },
                            kv(
                                "deeper",
                                Value::KvlistValue(KeyValueList {
                                    values: vec![kv("bytes", Value::BytesValue(vec![9; 7]))],
                                }),
                            ),
                        ],
                    }),
                ),
                kv("kvlist.empty", Value::KvlistValue(KeyValueList::default())),
                KeyValue { key: String::new(), value: None, key_strindex: 3 },
                kv("strindex", Value::StringValueStrindex(42)),
            ],
            dropped_attributes_count: 5,
            events: vec![
                Event {
                    time_unix_nano: 1_544_712_660_500_000_000,
                    name: "exception".into(),
                    attributes: vec![kv("exception.type", string("TimeoutError"))],
                    dropped_attributes_count: 2,
                },
                Event::default(),
            ],
            dropped_events_count: 6,
            links: vec![
                Link {
                    trace_id: (17..=32).collect(),
                    span_id: span_id(0xcc),
                    trace_state: "vendor=1".into(),
                    attributes: vec![kv("messaging.message.id", string("m-1"))],
                    dropped_attributes_count: 3,
                    flags: 0x101,
                },
                Link::default(),
            ],
            dropped_links_count: 7,
            status: Some(Status { message: "payment declined".into(), code: 2 }),
        }
    }

    /// A document covering every field of every message the encoder writes.
    fn every_field() -> TracesData {
        TracesData {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![
                            kv("service.name", string("checkout")),
                            kv("service.instance.id", Value::IntValue(12)),
                        ],
                        dropped_attributes_count: 1,
                        entity_refs: vec![EntityRef {
                            schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
                            r#type: "service".into(),
                            id_keys: vec!["service.name".into(), "service.namespace".into()],
                            description_keys: vec!["service.version".into()],
                        }],
                    }),
                    scope_spans: vec![
                        ScopeSpans {
                            scope: Some(InstrumentationScope {
                                name: "io.opentelemetry.kafka".into(),
                                version: "2.1.0".into(),
                                attributes: vec![kv("scope.attr", Value::DoubleValue(0.5))],
                                dropped_attributes_count: 4,
                            }),
                            spans: vec![full_span(), Span::default()],
                            schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
                        },
                        ScopeSpans {
                            scope: Some(InstrumentationScope::default()),
                            spans: vec![Span {
                                status: Some(Status::default()),
                                trace_id: vec![0xab, 0xcd, 0xef],
                                span_id: vec![],
                                ..full_span()
                            }],
                            schema_url: String::new(),
                        },
                        ScopeSpans::default(),
                    ],
                    schema_url: "https://opentelemetry.io/schemas/1.24.0".into(),
                },
                ResourceSpans {
                    resource: Some(Resource::default()),
                    scope_spans: vec![],
                    schema_url: String::new(),
                },
                ResourceSpans::default(),
            ],
        }
    }

    // ----- round trip ----------------------------------------------------------------------

    #[test]
    fn json_round_trip_covers_every_field() {
        let data = every_field();
        assert_eq!(round_trip(&data), data.resource_spans);
    }

    #[test]
    fn json_round_trip_edge_documents() {
        for data in [
            TracesData::default(),
            TracesData { resource_spans: vec![ResourceSpans::default()] },
            TracesData {
                resource_spans: vec![ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans: vec![Span { kind: -3, flags: u32::MAX, ..Span::default() }],
                        ..ScopeSpans::default()
                    }],
                    ..ResourceSpans::default()
                }],
            },
        ] {
            assert_eq!(round_trip(&data), data.resource_spans);
        }
    }

    #[test]
    fn json_encode_matches_file_exporter_format() {
        let data = TracesData {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", string("api"))],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope { name: "lib".into(), ..Default::default() }),
                    spans: vec![Span {
                        trace_id: vec![0xAB; 16],
                        span_id: vec![0x0C; 8],
                        name: "GET /".into(),
                        kind: 2,
                        start_time_unix_nano: 1,
                        end_time_unix_nano: 20,
                        attributes: vec![
                            kv("http.status_code", Value::IntValue(200)),
                            kv("ratio", Value::DoubleValue(f64::NAN)),
                            kv("raw", Value::BytesValue(b"hi?".to_vec())),
                        ],
                        status: Some(Status { message: String::new(), code: 2 }),
                        ..Span::default()
                    }],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        let expected = concat!(
            r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","#,
            r#""value":{"stringValue":"api"}}]},"scopeSpans":[{"scope":{"name":"lib"},"#,
            r#""spans":[{"traceId":"abababababababababababababababab","spanId":"0c0c0c0c0c0c0c0c","#,
            r#""name":"GET /","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"20","#,
            r#""attributes":[{"key":"http.status_code","value":{"intValue":"200"}},"#,
            r#"{"key":"ratio","value":{"doubleValue":"NaN"}},"#,
            r#"{"key":"raw","value":{"bytesValue":"aGk/"}}],"status":{"code":2}}]}]}]}"#,
        );
        assert_eq!(encode(&data), expected);
        // And it is valid JSON by an independent parser.
        serde_json::from_str::<serde_json::Value>(expected).expect("valid JSON");
    }

    #[test]
    fn json_encode_escapes_strings_for_an_independent_parser() {
        let nasty = "q\"b\\s/\u{0}\u{1f}\u{8}\u{c}\n\r\t\u{7f}\u{2028}é🚀";
        let mut out = Vec::new();
        write_str(&mut out, nasty);
        let back: String = serde_json::from_slice(&out).expect("valid JSON string");
        assert_eq!(back, nasty);
        assert!(!out.iter().any(|b| *b < 0x20), "raw control byte in {out:?}");
    }

    #[test]
    fn json_encode_doubles() {
        for (v, text) in [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (1e16, "1e16"),
            (1.5e-7, "1.5e-7"),
            (f64::NAN, "\"NaN\""),
            (f64::INFINITY, "\"Infinity\""),
            (f64::NEG_INFINITY, "\"-Infinity\""),
        ] {
            let mut out = Vec::new();
            write_f64(&mut out, v);
            assert_eq!(String::from_utf8_lossy(&out), text);
        }
    }

    fn arb_string() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), "[a-z._]{0,12}"]
    }

    fn arb_any_value() -> impl Strategy<Value = AnyValue> {
        let leaf = prop_oneof![
            Just(None),
            arb_string().prop_map(|s| Some(Value::StringValue(s))),
            any::<bool>().prop_map(|b| Some(Value::BoolValue(b))),
            any::<i64>().prop_map(|i| Some(Value::IntValue(i))),
            any::<f64>()
                .prop_filter("NaN never equals itself", |d| !d.is_nan())
                .prop_map(|d| Some(Value::DoubleValue(d))),
            vec(any::<u8>(), 0..12).prop_map(|b| Some(Value::BytesValue(b))),
        ]
        .prop_map(|value| AnyValue { value });
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(|values| AnyValue {
                    value: Some(Value::ArrayValue(ArrayValue { values }))
                }),
                vec((arb_string(), option::of(inner)), 0..4).prop_map(|kvs| AnyValue {
                    value: Some(Value::KvlistValue(KeyValueList {
                        values: kvs
                            .into_iter()
                            .map(|(key, value)| KeyValue { key, value, key_strindex: 0 })
                            .collect(),
                    }))
                }),
            ]
        })
    }

    fn arb_attributes() -> impl Strategy<Value = Vec<KeyValue>> {
        vec((arb_string(), option::of(arb_any_value())), 0..4).prop_map(|kvs| {
            kvs.into_iter().map(|(key, value)| KeyValue { key, value, key_strindex: 0 }).collect()
        })
    }

    fn arb_id() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![vec(any::<u8>(), 16), vec(any::<u8>(), 8), vec(any::<u8>(), 0..20)]
    }

    fn arb_event() -> impl Strategy<Value = Event> {
        (any::<u64>(), arb_string(), arb_attributes(), any::<u32>()).prop_map(
            |(time_unix_nano, name, attributes, dropped_attributes_count)| Event {
                time_unix_nano,
                name,
                attributes,
                dropped_attributes_count,
            },
        )
    }

    fn arb_link() -> impl Strategy<Value = Link> {
        (arb_id(), arb_id(), arb_string(), arb_attributes(), any::<u32>(), any::<u32>()).prop_map(
            |(trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags)| Link {
                trace_id,
                span_id,
                trace_state,
                attributes,
                dropped_attributes_count,
                flags,
            },
        )
    }

    fn arb_span() -> impl Strategy<Value = Span> {
        let ids_and_names =
            (arb_id(), arb_id(), arb_string(), arb_id(), any::<u32>(), arb_string());
        let times = (any::<i32>(), any::<u64>(), any::<u64>(), arb_attributes(), any::<u32>());
        let children = (
            vec(arb_event(), 0..3),
            any::<u32>(),
            vec(arb_link(), 0..3),
            any::<u32>(),
            option::of((arb_string(), any::<i32>())),
        );
        (ids_and_names, times, children).prop_map(
            |(
                (trace_id, span_id, trace_state, parent_span_id, flags, name),
                (kind, start_time_unix_nano, end_time_unix_nano, attributes, dropped_attributes),
                (events, dropped_events_count, links, dropped_links_count, status),
            )| Span {
                trace_id,
                span_id,
                trace_state,
                parent_span_id,
                flags,
                name,
                kind,
                start_time_unix_nano,
                end_time_unix_nano,
                attributes,
                dropped_attributes_count: dropped_attributes,
                events,
                dropped_events_count,
                links,
                dropped_links_count,
                status: status.map(|(message, code)| Status { message, code }),
            },
        )
    }

    fn arb_traces_data() -> impl Strategy<Value = TracesData> {
        let scope = option::of((arb_string(), arb_string(), arb_attributes(), any::<u32>()))
            .prop_map(|s| {
                s.map(|(name, version, attributes, dropped_attributes_count)| {
                    InstrumentationScope { name, version, attributes, dropped_attributes_count }
                })
            });
        let scope_spans = (scope, vec(arb_span(), 0..3), arb_string())
            .prop_map(|(scope, spans, schema_url)| ScopeSpans { scope, spans, schema_url });
        let resource = option::of((arb_attributes(), any::<u32>())).prop_map(|r| {
            r.map(|(attributes, dropped_attributes_count)| Resource {
                attributes,
                dropped_attributes_count,
                entity_refs: vec![],
            })
        });
        let resource_spans = (resource, vec(scope_spans, 0..3), arb_string()).prop_map(
            |(resource, scope_spans, schema_url)| ResourceSpans {
                resource,
                scope_spans,
                schema_url,
            },
        );
        vec(resource_spans, 0..3).prop_map(|resource_spans| TracesData { resource_spans })
    }

    /// What serde_json's float parser makes of the text we write for `d`: `d` itself with
    /// serde_json's `float_roundtrip` feature; without it, serde_json's faster parser may be
    /// a few ULPs off for extreme exponents. The text itself must be exact (checked with
    /// Rust's correctly rounding parser), so the encoder is held to exact round trips.
    fn as_parsed(d: f64) -> f64 {
        if !d.is_finite() {
            return d;
        }
        let mut out = Vec::new();
        write_f64(&mut out, d);
        let text = std::str::from_utf8(&out).expect("ASCII");
        let exact: f64 = text.parse().expect("a float");
        assert_eq!(exact.to_bits(), d.to_bits(), "{d:?} written as {text}");
        serde_json::from_slice(&out).expect("a JSON number")
    }

    fn normalize_value(v: &mut AnyValue) {
        match &mut v.value {
            Some(Value::DoubleValue(d)) => *d = as_parsed(*d),
            Some(Value::ArrayValue(a)) => a.values.iter_mut().for_each(normalize_value),
            Some(Value::KvlistValue(kvs)) => normalize_attributes(&mut kvs.values),
            _ => {}
        }
    }

    fn normalize_attributes(kvs: &mut [KeyValue]) {
        kvs.iter_mut().filter_map(|kv| kv.value.as_mut()).for_each(normalize_value);
    }

    /// `data` with its doubles as serde_json parses them (see [`as_parsed`]).
    fn normalize_doubles(mut data: TracesData) -> TracesData {
        for rs in &mut data.resource_spans {
            if let Some(r) = &mut rs.resource {
                normalize_attributes(&mut r.attributes);
            }
            for ss in &mut rs.scope_spans {
                if let Some(s) = &mut ss.scope {
                    normalize_attributes(&mut s.attributes);
                }
                for span in &mut ss.spans {
                    normalize_attributes(&mut span.attributes);
                    span.events.iter_mut().for_each(|e| normalize_attributes(&mut e.attributes));
                    span.links.iter_mut().for_each(|l| normalize_attributes(&mut l.attributes));
                }
            }
        }
        data
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn json_round_trip_property(data in arb_traces_data()) {
            let json = encode(&data);
            let decoded = decode_traces(json.as_bytes());
            prop_assert!(decoded.is_ok(), "{:?}\n{}", decoded.err(), json);
            let expected = normalize_doubles(data).resource_spans;
            prop_assert_eq!(decoded.map(|d| d.resource_spans).ok(), Some(expected));
        }
    }

    // ----- lenient decoding ----------------------------------------------------------------

    #[test]
    fn json_accepts_uppercase_and_mixed_case_hex_ids() {
        let span = only_span(
            r#"{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19b7eC3C1B174",
                "parentSpanId":"eee19b7ec3c1b173","links":[{"traceId":"0102030405060708090A0B0C0D0E0F10","spanId":"A1A2A3A4A5A6A7A8"}]}"#,
        );
        assert_eq!(
            span.trace_id,
            [
                0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
                0xc6, 0x0c
            ]
        );
        assert_eq!(span.span_id, [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
        assert_eq!(span.parent_span_id, [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73]);
        assert_eq!(span.links[0].trace_id, (1..=16).collect::<Vec<u8>>());
        assert_eq!(span.links[0].span_id, [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8]);
    }

    #[test]
    fn json_bad_ids_are_kept_for_validation_and_siblings_decode() {
        let req = decode_ok(&doc_with_spans(
            r#"{"name":"short","traceId":"0102","spanId":"0102030405060708"},
               {"name":"long","traceId":"0102030405060708090a0b0c0d0e0f1011","spanId":"0102030405060708"},
               {"name":"nothex","traceId":"zz02030405060708090a0b0c0d0e0f10","spanId":"zzzzzzzz"},
               {"name":"odd","traceId":"abc","spanId":"0102030405060708","parentSpanId":"not-hex!"},
               {"name":"empty","traceId":"","spanId":null,"parentSpanId":""},
               {"name":"good","traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"}"#,
        ));
        let all = spans(&req);
        assert_eq!(all.len(), 6);
        assert_eq!(all[0].trace_id, [1, 2]);
        assert_eq!(all[1].trace_id.len(), 17);
        // Not hex: raw bytes, padded to an odd length so that no validation accepts them.
        assert_eq!(all[2].trace_id.len(), 33);
        assert!(all[2].trace_id.starts_with(b"zz0203"));
        assert_eq!(all[2].span_id, b"zzzzzzzz\0");
        assert_eq!(all[3].trace_id, b"abc");
        assert_eq!(all[3].parent_span_id, b"not-hex!\0", "a bad parent never becomes a root");
        assert!(all[4].trace_id.is_empty() && all[4].span_id.is_empty());
        assert!(all[4].parent_span_id.is_empty());
        assert_eq!(all[5].trace_id, (1..=16).collect::<Vec<u8>>());
        assert_eq!(all[5].name, "good");
        for s in &all[..4] {
            assert!(
                s.trace_id.len() != 16 || s.span_id.len() != 8 || s.parent_span_id.len() % 2 == 1
            );
        }
    }

    #[test]
    fn json_int64_as_number_or_string() {
        let span = only_span(
            r#"{"startTimeUnixNano":1544712660000000000,"endTimeUnixNano":"18446744073709551615",
                "droppedAttributesCount":"4","flags":"257","droppedEventsCount":3,
                "events":[{"timeUnixNano":"1544712660000000001"},{"timeUnixNano":1.5e18}],
                "attributes":[{"key":"a","value":{"intValue":"-42"}},{"key":"b","value":{"intValue":42}},
                              {"key":"c","value":{"intValue":-9223372036854775808}}]}"#,
        );
        assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(span.end_time_unix_nano, u64::MAX);
        assert_eq!(span.dropped_attributes_count, 4);
        assert_eq!(span.flags, 257);
        assert_eq!(span.dropped_events_count, 3);
        assert_eq!(span.events[0].time_unix_nano, 1_544_712_660_000_000_001);
        assert_eq!(span.events[1].time_unix_nano, 1_500_000_000_000_000_000);
        let ints: Vec<_> = span.attributes.iter().map(|a| a.value.clone()).collect();
        assert_eq!(ints[0], Some(AnyValue { value: Some(Value::IntValue(-42)) }));
        assert_eq!(ints[1], Some(AnyValue { value: Some(Value::IntValue(42)) }));
        assert_eq!(ints[2], Some(AnyValue { value: Some(Value::IntValue(i64::MIN)) }));
    }

    #[test]
    fn json_enums_as_names_or_numbers() {
        let req = decode_ok(&doc_with_spans(
            r#"{"kind":"SPAN_KIND_SERVER","status":{"code":"STATUS_CODE_ERROR"}},
               {"kind":4,"status":{"code":1}},
               {"kind":"SPAN_KIND_WHATEVER","status":{"code":"NOPE"}},
               {"kind":"3","status":{"code":"STATUS_CODE_OK"}}"#,
        ));
        let got: Vec<_> = spans(&req)
            .iter()
            .map(|s| (s.kind, s.status.as_ref().map_or(-1, |st| st.code)))
            .collect();
        assert_eq!(got, [(2, 2), (4, 1), (0, 0), (3, 1)]);
    }

    #[test]
    fn json_snake_case_keys() {
        let req = decode_ok(
            r#"{"resource_spans":[{"resource":{"attributes":[],"dropped_attributes_count":2},
                "schema_url":"s","scope_spans":[{"scope":{"name":"n","dropped_attributes_count":1},"schema_url":"t",
                "spans":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708",
                "parent_span_id":"0807060504030201","trace_state":"a=b","start_time_unix_nano":"5",
                "end_time_unix_nano":6,"dropped_attributes_count":1,"dropped_events_count":2,
                "dropped_links_count":3,"events":[{"time_unix_nano":"7","dropped_attributes_count":8}],
                "links":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708",
                "trace_state":"c=d","dropped_attributes_count":9}],
                "attributes":[{"key":"k","value":{"string_value":"v"}},{"key":"i","value":{"int_value":"1"}},
                {"key":"kv","value":{"kvlist_value":{"values":[{"key":"x","value":{"bool_value":true}}]}}},
                {"key":"arr","value":{"array_value":{"values":[{"double_value":1.5},{"bytes_value":"AQI="}]}}}]}]}]}]}"#,
        );
        let rs = &req.resource_spans[0];
        assert_eq!(rs.schema_url, "s");
        assert_eq!(rs.resource.as_ref().map(|r| r.dropped_attributes_count), Some(2));
        let ss = &rs.scope_spans[0];
        assert_eq!(ss.schema_url, "t");
        assert_eq!(
            ss.scope.as_ref().map(|s| (s.name.as_str(), s.dropped_attributes_count)),
            Some(("n", 1))
        );
        let s = &ss.spans[0];
        assert_eq!(s.trace_id.len(), 16);
        assert_eq!(s.span_id.len(), 8);
        assert_eq!(s.parent_span_id, [8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(s.trace_state, "a=b");
        assert_eq!((s.start_time_unix_nano, s.end_time_unix_nano), (5, 6));
        assert_eq!(
            (s.dropped_attributes_count, s.dropped_events_count, s.dropped_links_count),
            (1, 2, 3)
        );
        assert_eq!((s.events[0].time_unix_nano, s.events[0].dropped_attributes_count), (7, 8));
        assert_eq!(s.links[0].trace_state, "c=d");
        assert_eq!(s.links[0].dropped_attributes_count, 9);
        let values: Vec<_> =
            s.attributes.iter().map(|a| a.value.clone().and_then(|v| v.value)).collect();
        assert_eq!(values[0], Some(string("v")));
        assert_eq!(values[1], Some(Value::IntValue(1)));
        assert_eq!(
            values[2],
            Some(Value::KvlistValue(KeyValueList {
                values: vec![kv("x", Value::BoolValue(true))]
            }))
        );
        assert_eq!(
            values[3],
            Some(Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue { value: Some(Value::DoubleValue(1.5)) },
                    AnyValue { value: Some(Value::BytesValue(vec![1, 2])) },
                ]
            }))
        );
    }

    #[test]
    fn json_unknown_fields_are_ignored_at_every_level() {
        let req = decode_ok(
            r#"{"unknown":{"a":[1,{"b":null}]},"resourceSpans":[{"extra":[[],{}],
                "resource":{"attributes":[{"key":"k","value":{"stringValue":"v","junk":[1,2]},"x":1}],"what":"ever"},
                "scopeSpans":[{"scope":{"name":"n","new_field":{"deep":{"deeper":[true,false,null]}}},
                "spans":[{"name":"s","futureField":{"x":[1,2,{"y":"z"}]},"kind":1,"number":1e400,
                "events":[{"name":"e","meta":{}}],"links":[{"traceId":"01","extra":"x"}],
                "status":{"code":2,"deprecated_code":1,"message":"m"}}]}]}],"trailer":"\u00e9"}"#,
        );
        let s = spans(&req)[0];
        assert_eq!(s.name, "s");
        assert_eq!(s.kind, 1);
        assert_eq!(s.events[0].name, "e");
        assert_eq!(s.links[0].trace_id, [1]);
        assert_eq!(s.status, Some(Status { message: "m".into(), code: 2 }));
        let resource = req.resource_spans[0].resource.clone().unwrap_or_default();
        assert_eq!(resource.attributes, [kv("k", string("v"))]);
    }

    #[test]
    fn json_legacy_instrumentation_library_spans() {
        let req = decode_ok(
            r#"{"resourceSpans":[{"instrumentationLibrarySpans":[{"instrumentationLibrary":
                {"name":"old.lib","version":"0.9"},"spans":[{"name":"legacy"}]}],
                "scopeSpans":[{"scope":{"name":"new.lib"},"spans":[{"name":"current"}]}]}]}"#,
        );
        let ss = &req.resource_spans[0].scope_spans;
        assert_eq!(ss.len(), 2);
        assert_eq!(
            ss[0].scope.as_ref().map(|s| (s.name.as_str(), s.version.as_str())),
            Some(("old.lib", "0.9"))
        );
        assert_eq!(ss[0].spans[0].name, "legacy");
        assert_eq!(ss[1].spans[0].name, "current");
    }

    #[test]
    fn json_doubles_nan_infinity_and_numbers() {
        assert!(
            matches!(attr_value(r#"{"doubleValue":"NaN"}"#), Some(Value::DoubleValue(d)) if d.is_nan())
        );
        assert_eq!(
            attr_value(r#"{"doubleValue":"Infinity"}"#),
            Some(Value::DoubleValue(f64::INFINITY))
        );
        assert_eq!(
            attr_value(r#"{"doubleValue":"-Infinity"}"#),
            Some(Value::DoubleValue(f64::NEG_INFINITY))
        );
        assert_eq!(attr_value(r#"{"doubleValue":2}"#), Some(Value::DoubleValue(2.0)));
        assert_eq!(attr_value(r#"{"doubleValue":-2}"#), Some(Value::DoubleValue(-2.0)));
        assert_eq!(attr_value(r#"{"doubleValue":"0.25"}"#), Some(Value::DoubleValue(0.25)));
        assert_eq!(attr_value(r#"{"doubleValue":1e-3}"#), Some(Value::DoubleValue(0.001)));
    }

    #[test]
    fn json_bytes_base64_padding_optional() {
        assert_eq!(
            attr_value(r#"{"bytesValue":"aGk/"}"#),
            Some(Value::BytesValue(b"hi?".to_vec()))
        );
        assert_eq!(attr_value(r#"{"bytesValue":"aGk"}"#), Some(Value::BytesValue(b"hi".to_vec())));
        assert_eq!(attr_value(r#"{"bytesValue":"aGk="}"#), Some(Value::BytesValue(b"hi".to_vec())));
        assert_eq!(attr_value(r#"{"bytesValue":"aA"}"#), Some(Value::BytesValue(b"h".to_vec())));
        assert_eq!(
            attr_value(r#"{"bytesValue":"-_8"}"#),
            Some(Value::BytesValue(vec![0xfb, 0xff]))
        );
        assert_eq!(attr_value(r#"{"bytesValue":""}"#), Some(Value::BytesValue(vec![])));
    }

    #[test]
    fn json_any_value_forms() {
        assert_eq!(attr_value("{}"), None);
        assert_eq!(attr_value(r#"{"stringValue":""}"#), Some(string("")));
        assert_eq!(attr_value(r#"{"boolValue":false}"#), Some(Value::BoolValue(false)));
        assert_eq!(
            attr_value(r#"{"arrayValue":{}}"#),
            Some(Value::ArrayValue(ArrayValue::default()))
        );
        assert_eq!(
            attr_value(r#"{"kvlistValue":{"values":null}}"#),
            Some(Value::KvlistValue(KeyValueList::default()))
        );
        // `null` for a member means that member is not set.
        assert_eq!(attr_value(r#"{"stringValue":null}"#), None);
        assert_eq!(attr_value(r#"{"stringValue":null,"intValue":"5"}"#), Some(Value::IntValue(5)));
        assert_eq!(attr_value(r#"{"arrayValue":null}"#), None);
        // `{}` is a present, empty value; `null` (or no key) is no value at all.
        let span = only_span(
            r#"{"attributes":[{"key":"a","value":{}},{"key":"b","value":null},{"key":"c"}]}"#,
        );
        assert_eq!(span.attributes[0].value, Some(AnyValue { value: None }));
        assert_eq!(span.attributes[1].value, None);
        assert_eq!(span.attributes[2].value, None);
    }

    #[test]
    fn json_null_fields_are_defaults() {
        let req = decode_ok(
            r#"{"resourceSpans":[{"resource":null,"schemaUrl":null,"scopeSpans":[{"scope":null,
                "spans":[{"traceId":null,"spanId":null,"parentSpanId":null,"traceState":null,"flags":null,
                "name":null,"kind":null,"startTimeUnixNano":null,"endTimeUnixNano":null,"attributes":null,
                "droppedAttributesCount":null,"events":null,"droppedEventsCount":null,"links":null,
                "droppedLinksCount":null,"status":null},null]},null]},null]}"#,
        );
        assert_eq!(req.resource_spans.len(), 2);
        assert_eq!(req.resource_spans[1], ResourceSpans::default());
        let rs = &req.resource_spans[0];
        assert_eq!(rs.resource, None);
        assert_eq!(
            rs.scope_spans,
            [
                ScopeSpans { spans: vec![Span::default(); 2], ..Default::default() },
                ScopeSpans::default()
            ]
        );
        let empty = decode_ok(r#"{"resourceSpans":null}"#);
        assert!(empty.resource_spans.is_empty());
    }

    #[test]
    fn json_accepts_traces_data_bom_whitespace_and_escaped_keys() {
        let req = decode_ok("\u{feff} \n{ \"resource\\u0053pans\" : [ { } ] }\n");
        assert_eq!(req.resource_spans, [ResourceSpans::default()]);
        assert!(decode_ok("{}").resource_spans.is_empty());
    }

    // ----- errors --------------------------------------------------------------------------

    fn error_of(json: &str) -> (JsonError, String) {
        let err = decode_traces(json.as_bytes()).expect_err("must fail");
        let msg = err.to_string();
        (err, msg)
    }

    #[test]
    fn json_truncated_document_is_reported() {
        let (err, msg) = error_of(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a"#);
        assert!(matches!(err, JsonError::Truncated(_)), "{err:?}");
        assert!(msg.starts_with("truncated OTLP/JSON document: EOF while parsing"), "{msg}");
        assert!(msg.contains("line 1 column"), "{msg}");
        let (err, msg) = error_of("");
        assert!(matches!(err, JsonError::Truncated(_)), "{msg}");
    }

    #[test]
    fn json_malformed_document_is_reported() {
        let (err, msg) = error_of("{\"resourceSpans\":[\n  {\"scopeSpans\": ]}]}");
        assert!(matches!(err, JsonError::Syntax(_)), "{err:?}");
        assert!(msg.starts_with("malformed JSON: expected value at line 2 column"), "{msg}");
        assert_eq!(err.line(), 2);
        let (err, msg) = error_of("{} {}");
        assert!(
            matches!(err, JsonError::Syntax(_)) && msg.contains("trailing characters"),
            "{msg}"
        );
    }

    #[test]
    fn json_wrong_top_level_type_is_reported() {
        for (doc, found) in [
            ("[1,2]", "sequence"),
            ("\"spans\"", "string \"spans\""),
            ("42", "integer `42`"),
            ("null", "null"),
            ("true", "boolean `true`"),
        ] {
            let (err, msg) = error_of(doc);
            assert!(matches!(err, JsonError::Schema(_)), "{doc}: {err:?}");
            assert!(
                msg.starts_with(&format!(
                    "invalid OTLP/JSON: invalid type: {found}, expected an ExportTraceServiceRequest or TracesData object"
                )),
                "{doc}: {msg}"
            );
        }
        let err = decode_logs(b"[]").expect_err("must fail").to_string();
        assert!(err.contains("expected an ExportLogsServiceRequest"), "{err}");
    }

    #[test]
    fn json_wrong_field_types_name_the_field() {
        for (span, needle) in [
            (
                r#"{"startTimeUnixNano":true}"#,
                "invalid type: boolean `true`, expected `startTimeUnixNano` as an unsigned 64-bit integer",
            ),
            (
                r#"{"startTimeUnixNano":"soon"}"#,
                "invalid value: string \"soon\", expected `startTimeUnixNano`",
            ),
            (
                r#"{"endTimeUnixNano":-1}"#,
                "invalid value: integer `-1`, expected `endTimeUnixNano`",
            ),
            (r#"{"flags":4294967296}"#, "expected `flags` as an unsigned 32-bit integer"),
            (r#"{"name":7}"#, "invalid type: integer `7`, expected `name` as a string"),
            (r#"{"traceId":[1]}"#, "expected `traceId` as a hex string"),
            (r#"{"kind":{}}"#, "expected `kind` as an enum number or name"),
            (r#"{"attributes":{}}"#, "expected an array of KeyValue objects"),
            (r#"{"status":"ok"}"#, "expected a span Status object"),
            (
                r#"{"attributes":[{"key":"k","value":{"bytesValue":"!!"}}]}"#,
                "expected `bytesValue` as a base64 string",
            ),
            (
                r#"{"attributes":[{"key":"k","value":{"intValue":"1.5"}}]}"#,
                "expected `intValue` as a signed 64-bit integer",
            ),
            (
                r#"{"attributes":[{"key":"k","value":{"doubleValue":"big"}}]}"#,
                "expected `doubleValue` as a number",
            ),
        ] {
            let (err, msg) = error_of(&doc_with_spans(span));
            assert!(matches!(err, JsonError::Schema(_)), "{span}: {err:?}");
            assert!(msg.contains(needle), "{span}: {msg}");
            assert!(msg.contains("at line 1 column"), "{span}: {msg}");
        }
    }

    // ----- spec-style documents -----------------------------------------------------------

    /// Written in the style of opentelemetry-proto's `examples/trace.json`.
    const SPEC_STYLE_TRACE: &str = r#"{
      "resourceSpans": [
        {
          "resource": {
            "attributes": [
              { "key": "service.name", "value": { "stringValue": "my.service" } }
            ]
          },
          "scopeSpans": [
            {
              "scope": {
                "name": "my.library",
                "version": "1.0.0",
                "attributes": [
                  { "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }
                ]
              },
              "spans": [
                {
                  "traceId": "5B8EFFF798038103D269B633813FC60C",
                  "spanId": "EEE19B7EC3C1B174",
                  "parentSpanId": "EEE19B7EC3C1B173",
                  "name": "I'm a server span",
                  "startTimeUnixNano": "1544712660000000000",
                  "endTimeUnixNano": "1544712661000000000",
                  "kind": 2,
                  "attributes": [
                    { "key": "my.span.attr", "value": { "stringValue": "some value" } },
                    { "key": "http.response.status_code", "value": { "intValue": "500" } },
                    { "key": "retry", "value": { "boolValue": true } },
                    { "key": "sampling.ratio", "value": { "doubleValue": 0.25 } },
                    { "key": "tags", "value": { "arrayValue": { "values": [
                        { "stringValue": "a" }, { "intValue": 2 } ] } } },
                    { "key": "map", "value": { "kvlistValue": { "values": [
                        { "key": "inner", "value": { "stringValue": "v" } } ] } } }
                  ],
                  "events": [
                    {
                      "timeUnixNano": "1544712660500000000",
                      "name": "exception",
                      "attributes": [
                        { "key": "exception.message", "value": { "stringValue": "boom" } }
                      ]
                    }
                  ],
                  "links": [
                    {
                      "traceId": "0AF7651916CD43DD8448EB211C80319C",
                      "spanId": "B7AD6B7169203331",
                      "attributes": [
                        { "key": "messaging.message.id", "value": { "stringValue": "m-42" } }
                      ],
                      "flags": 257
                    }
                  ],
                  "status": { "code": 2, "message": "internal error" }
                }
              ]
            }
          ]
        }
      ]
    }"#;

    #[test]
    fn json_spec_style_trace_document_decodes() {
        let req = decode_ok(SPEC_STYLE_TRACE);
        let rs = &req.resource_spans[0];
        let resource = rs.resource.clone().unwrap_or_default();
        assert_eq!(resource.attributes, [kv("service.name", string("my.service"))]);
        let ss = &rs.scope_spans[0];
        let scope = ss.scope.clone().unwrap_or_default();
        assert_eq!((scope.name.as_str(), scope.version.as_str()), ("my.library", "1.0.0"));
        assert_eq!(scope.attributes, [kv("my.scope.attribute", string("some scope attribute"))]);
        let expected = Span {
            trace_id: vec![
                0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
                0xc6, 0x0c,
            ],
            span_id: vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74],
            parent_span_id: vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73],
            name: "I'm a server span".into(),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: 1_544_712_660_000_000_000,
            end_time_unix_nano: 1_544_712_661_000_000_000,
            attributes: vec![
                kv("my.span.attr", string("some value")),
                kv("http.response.status_code", Value::IntValue(500)),
                kv("retry", Value::BoolValue(true)),
                kv("sampling.ratio", Value::DoubleValue(0.25)),
                kv(
                    "tags",
                    Value::ArrayValue(ArrayValue {
                        values: vec![
                            AnyValue { value: Some(string("a")) },
                            AnyValue { value: Some(Value::IntValue(2)) },
                        ],
                    }),
                ),
                kv(
                    "map",
                    Value::KvlistValue(KeyValueList { values: vec![kv("inner", string("v"))] }),
                ),
            ],
            events: vec![Event {
                time_unix_nano: 1_544_712_660_500_000_000,
                name: "exception".into(),
                attributes: vec![kv("exception.message", string("boom"))],
                dropped_attributes_count: 0,
            }],
            links: vec![Link {
                trace_id: vec![
                    0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c,
                    0x80, 0x31, 0x9c,
                ],
                span_id: vec![0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31],
                attributes: vec![kv("messaging.message.id", string("m-42"))],
                flags: 257,
                ..Link::default()
            }],
            status: Some(Status { message: "internal error".into(), code: 2 }),
            ..Span::default()
        };
        assert_eq!(ss.spans, [expected]);
        // Re-encoding and decoding gives the same request.
        let again = round_trip(&TracesData { resource_spans: req.resource_spans.clone() });
        assert_eq!(again, req.resource_spans);
    }

    #[test]
    fn json_spec_style_logs_document_decodes() {
        let req = decode_logs(
            br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
                "scopeLogs":[{"scope":{"name":"my.library","version":"1.0.0"},"logRecords":[
                  {"timeUnixNano":"1544712660300000000","observedTimeUnixNano":1544712660300000001,
                   "severityNumber":10,"severityText":"Information","traceId":"5B8EFFF798038103D269B633813FC60C",
                   "spanId":"EEE19B7EC3C1B174","body":{"stringValue":"Example log record"},"flags":1,
                   "eventName":"order.placed","droppedAttributesCount":2,
                   "attributes":[{"key":"string.attribute","value":{"stringValue":"some string"}}]},
                  {"severity_number":"SEVERITY_NUMBER_WARN","body":{"kvlistValue":{"values":[]}},"trace_id":"abc"}]}],
                "instrumentationLibraryLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_NOPE"}]}]}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let rl = &req.resource_logs[0];
        assert_eq!(rl.scope_logs.len(), 2);
        let r = &rl.scope_logs[0].log_records[0];
        assert_eq!(r.time_unix_nano, 1_544_712_660_300_000_000);
        assert_eq!(r.observed_time_unix_nano, 1_544_712_660_300_000_001);
        assert_eq!((r.severity_number, r.severity_text.as_str()), (10, "Information"));
        assert_eq!(r.trace_id.len(), 16);
        assert_eq!(r.span_id, [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
        assert_eq!(r.body, Some(AnyValue { value: Some(string("Example log record")) }));
        assert_eq!(
            (r.flags, r.dropped_attributes_count, r.event_name.as_str()),
            (1, 2, "order.placed")
        );
        assert_eq!(r.attributes, [kv("string.attribute", string("some string"))]);
        let warn = &rl.scope_logs[0].log_records[1];
        assert_eq!(warn.severity_number, SeverityNumber::Warn as i32);
        assert_eq!(warn.trace_id, b"abc");
        assert_eq!(rl.scope_logs[1].log_records[0].severity_number, 0);
        let err = decode_logs(
            br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"x"}]}]}]}"#,
        )
        .expect_err("bad time")
        .to_string();
        assert!(err.contains("`timeUnixNano`"), "{err}");
    }

    #[test]
    fn json_metric_points_are_counted() {
        let doc = br#"{"resourceMetrics":[{"resource":{"attributes":[]},"scopeMetrics":[{"scope":{"name":"m"},"metrics":[
            {"name":"g","gauge":{"dataPoints":[{"asInt":"1"}]}},
            {"name":"s","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asDouble":1},{"asDouble":2}]}},
            {"name":"h","histogram":{"dataPoints":[{"count":"3","bucketCounts":["1","2"],"explicitBounds":[1.0]}]}},
            {"name":"e","exponential_histogram":{"data_points":[{"scale":1},{"scale":2},{"scale":3}]}},
            {"name":"q","summary":{"dataPoints":[{"quantileValues":[{"quantile":0.5,"value":1}]}]}},
            {"name":"empty","gauge":{"dataPoints":null}},
            {"name":"none"}]}]},
            {"instrumentationLibraryMetrics":[{"metrics":[{"gauge":{"dataPoints":[{},{}]}}]}]},
            null]}"#;
        assert_eq!(count_metric_points(doc).unwrap_or_else(|e| panic!("{e}")), 10);
        assert_eq!(count_metric_points(b"{}").ok(), Some(0));
        assert_eq!(count_metric_points(br#"{"resource_metrics":[]}"#).ok(), Some(0));
        let top = count_metric_points(b"[]").expect_err("array").to_string();
        assert!(
            top.contains("expected an ExportMetricsServiceRequest or MetricsData object"),
            "{top}"
        );
        let bad = count_metric_points(
            br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":{}}}]}]}]}"#,
        )
        .expect_err("dataPoints object")
        .to_string();
        assert!(bad.contains("expected `dataPoints` as an array"), "{bad}");
        let cut = count_metric_points(
            br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{}"#,
        )
        .expect_err("truncated");
        assert!(matches!(cut, JsonError::Truncated(_)));
    }

    // ----- responses ----------------------------------------------------------------------

    fn written(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn json_responses_and_status() {
        assert_eq!(written(|o| encode_trace_response(0, "", o)), "{}");
        assert_eq!(
            written(|o| encode_trace_response(3, "span 2: trace_id \"x\" bad", o)),
            r#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"span 2: trace_id \"x\" bad"}}"#
        );
        assert_eq!(
            written(|o| encode_trace_response(0, "warning", o)),
            r#"{"partialSuccess":{"errorMessage":"warning"}}"#
        );
        assert_eq!(written(|o| encode_logs_response(0, "", o)), "{}");
        assert_eq!(
            written(|o| encode_logs_response(2, "", o)),
            r#"{"partialSuccess":{"rejectedLogRecords":"2"}}"#
        );
        assert_eq!(
            written(|o| encode_metrics_response(7, "m", o)),
            r#"{"partialSuccess":{"rejectedDataPoints":"7","errorMessage":"m"}}"#
        );
        assert_eq!(
            written(|o| encode_status(3, "invalid OTLP/JSON: \"x\"\n", o)),
            r#"{"code":3,"message":"invalid OTLP/JSON: \"x\"\n"}"#
        );
        assert_eq!(written(|o| encode_status(8, "", o)), r#"{"code":8}"#);
        // Appends: callers may reuse a buffer.
        let mut out = b"x".to_vec();
        encode_status(0, "", &mut out);
        assert_eq!(out, b"x{\"code\":0}");
    }

    /// A span whose attribute value is `depth` arrays (or key-value lists) deep.
    fn nested_request(depth: usize, kvlist: bool) -> ExportTraceServiceRequest {
        let mut value = AnyValue { value: Some(string("leaf")) };
        for _ in 0..depth {
            value = AnyValue {
                value: Some(if kvlist {
                    Value::KvlistValue(KeyValueList {
                        values: vec![KeyValue {
                            key: "k".into(),
                            value: Some(value),
                            key_strindex: 0,
                        }],
                    })
                } else {
                    Value::ArrayValue(ArrayValue { values: vec![value] })
                }),
            };
        }
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            attributes: vec![KeyValue { key: "deep".into(), value: Some(value), key_strindex: 0 }],
            ..Span::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans { spans: vec![span], ..ScopeSpans::default() }],
                ..ResourceSpans::default()
            }],
        }
    }

    /// Regression: values nested as deep as prost accepts in protobuf (so received and
    /// recorded) were past serde_json's 128-level limit once written as OTLP/JSON, and the
    /// recording line could not be read back. Whatever prost decodes, JSON decodes too.
    #[test]
    fn everything_protobuf_accepts_reads_back_as_json() {
        use prost::Message as _;
        for kvlist in [false, true] {
            let mut deepest = None;
            for depth in 0..80 {
                let req = nested_request(depth, kvlist);
                let bytes = req.encode_to_vec();
                if ExportTraceServiceRequest::decode(&bytes[..]).is_err() {
                    break;
                }
                deepest = Some(depth);
                let mut json = Vec::new();
                encode_traces_data(
                    &TracesData { resource_spans: req.resource_spans.clone() },
                    &mut json,
                );
                let back = decode_traces(&json)
                    .unwrap_or_else(|e| panic!("kvlist {kvlist}, depth {depth}: {e}"));
                assert_eq!(back, req, "kvlist {kvlist}, depth {depth}");
            }
            // prost's limit was reached: the loop really went as deep as protobuf allows.
            assert!(deepest.is_some_and(|d| (30..79).contains(&d)), "{deepest:?}");
        }
    }

    /// Nesting past the limit is a clear error, not a stack overflow; skipped unknown values
    /// may nest any depth.
    #[test]
    fn nesting_past_the_limit_is_an_error() {
        let depth = 100_000;
        let json = format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"attributes":[{{"key":"d","value":{}{{"stringValue":"x"}}{}}}]}}]}}]}}]}}"#,
            r#"{"arrayValue":{"values":["#.repeat(depth),
            "]}}".repeat(depth)
        );
        let e = decode_traces(json.as_bytes()).expect_err("too deep").to_string();
        assert!(e.contains(&format!("nested more than {MAX_NESTING} deep")), "{e}");
        let ignored =
            format!("{{\"unknown\":{}1{}}}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert_eq!(decode_traces(ignored.as_bytes()).expect("skipped").resource_spans, []);
        // The nesting count is back to zero after an error: a normal document decodes.
        assert!(decode_traces(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{}]}]}]}"#).is_ok());
        NESTING.with(|n| assert_eq!(n.get(), 0));
    }
}
