//! Building OTLP from other tools' spans (Jaeger, Zipkin): ids given as short hex, times in
//! microseconds, attributes, and spans grouped into `ResourceSpans` by service and scope.

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, status};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::model::hex;

/// An id given as hex, left-padded with zeros to `LEN` bytes: Jaeger and Zipkin drop leading
/// zeros, and Zipkin's 64-bit trace ids are the low half of a 128-bit one.
pub(crate) fn hex_id(what: &str, text: &str, len: usize) -> Result<Vec<u8>, String> {
    let text = text.trim();
    if text.is_empty() || text.len() > len * 2 {
        return Err(format!("{what} {text:?} is not 1 to {} hex digits", len * 2));
    }
    let mut out = vec![0u8; len];
    if hex::decode_right_aligned(text.as_bytes(), &mut out).is_err() {
        return Err(format!("{what} {text:?} is not hexadecimal"));
    }
    if out.iter().all(|&b| b == 0) {
        return Err(format!("{what} is all zeros"));
    }
    Ok(out)
}

/// Microseconds since the Unix epoch (or a duration in microseconds), as a JSON number
/// (integer or not) or a decimal string; negative values are 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Micros(pub(crate) u64);

impl Micros {
    pub(crate) fn nanos(self) -> u64 {
        self.0.saturating_mul(1000)
    }
}

impl<'de> Deserialize<'de> for Micros {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Micros;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("microseconds (a number)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Micros, E> {
                Ok(Micros(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Micros, E> {
                Ok(Micros(u64::try_from(v).unwrap_or(0)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Micros, E> {
                Ok(Micros(if v.is_finite() && v > 0.0 { v.round() as u64 } else { 0 }))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Micros, E> {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
                    .and_then(|f| self.visit_f64(f))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string attribute.
pub(crate) fn kv_str(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

/// An attribute.
pub(crate) fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A JSON scalar as an attribute value: strings, booleans, integers, doubles; anything else as
/// its JSON text.
pub(crate) fn json_value(v: &serde_json::Value) -> any_value::Value {
    use any_value::Value as V;
    match v {
        serde_json::Value::String(s) => V::StringValue(s.clone()),
        serde_json::Value::Bool(b) => V::BoolValue(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::Null => V::StringValue(String::new()),
        other => V::StringValue(other.to_string()),
    }
}

/// An OpenTelemetry status code as exporters write it in tags (`OK`, `ERROR`, `UNSET`,
/// optionally `STATUS_CODE_`-prefixed, any case).
pub(crate) fn status_code(text: &str) -> Option<status::StatusCode> {
    let t = text.trim();
    let t = t.get(..12).filter(|p| p.eq_ignore_ascii_case("STATUS_CODE_")).map_or(t, |_| &t[12..]);
    if t.eq_ignore_ascii_case("ERROR") {
        Some(status::StatusCode::Error)
    } else if t.eq_ignore_ascii_case("OK") {
        Some(status::StatusCode::Ok)
    } else if t.eq_ignore_ascii_case("UNSET") {
        Some(status::StatusCode::Unset)
    } else {
        None
    }
}

/// A span kind as written in a `span.kind` tag or a Zipkin `kind` (any case).
pub(crate) fn span_kind(text: &str) -> Option<i32> {
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind as K;
    let kind = match text.to_ascii_lowercase().as_str() {
        "internal" => K::Internal,
        "server" => K::Server,
        "client" => K::Client,
        "producer" => K::Producer,
        "consumer" => K::Consumer,
        _ => return None,
    };
    Some(kind as i32)
}

/// Spans grouped by resource (keyed by a caller's name for it) and scope, in first-seen order.
#[derive(Default)]
pub(crate) struct Groups {
    groups: Vec<(String, ResourceSpans)>,
}

impl Groups {
    /// Adds `span` under the resource keyed `key` (made by `resource` on first sight) and the
    /// scope `(name, version)`.
    pub(crate) fn push(
        &mut self,
        key: &str,
        resource: impl FnOnce() -> Resource,
        scope: (String, String),
        span: Span,
    ) {
        let index = if let Some(i) = self.groups.iter().position(|(k, _)| k == key) {
            i
        } else {
            self.groups.push((
                key.to_owned(),
                ResourceSpans { resource: Some(resource()), ..Default::default() },
            ));
            self.groups.len() - 1
        };
        let rs = &mut self.groups[index].1;
        let found = rs.scope_spans.iter().position(|ss| {
            ss.scope.as_ref().is_some_and(|s| s.name == scope.0 && s.version == scope.1)
        });
        let ss = if let Some(i) = found {
            &mut rs.scope_spans[i]
        } else {
            rs.scope_spans.push(ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.0,
                    version: scope.1,
                    ..Default::default()
                }),
                ..Default::default()
            });
            let last = rs.scope_spans.len() - 1;
            &mut rs.scope_spans[last]
        };
        ss.spans.push(span);
    }

    pub(crate) fn into_resource_spans(self) -> Vec<ResourceSpans> {
        self.groups.into_iter().map(|(_, rs)| rs).collect()
    }
}

/// A resource naming its service.
pub(crate) fn service_resource(service: &str, mut attributes: Vec<KeyValue>) -> Resource {
    attributes.insert(0, kv_str("service.name", service));
    Resource { attributes, ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_hex_ids_are_left_padded() {
        assert_eq!(hex_id("id", "1f", 8).unwrap(), vec![0, 0, 0, 0, 0, 0, 0, 0x1f]);
        assert_eq!(hex_id("id", "abc", 8).unwrap(), vec![0, 0, 0, 0, 0, 0, 0x0a, 0xbc]);
        let t = hex_id("id", "463ac35c9f6413ad", 16).unwrap();
        assert_eq!(&t[..8], &[0; 8]);
        assert_eq!(&t[8..], &[0x46, 0x3a, 0xc3, 0x5c, 0x9f, 0x64, 0x13, 0xad]);
        assert!(hex_id("id", "0000", 8).is_err());
        assert!(hex_id("id", "xyz", 8).is_err());
        assert!(hex_id("id", "11223344556677889", 8).is_err());
        assert!(hex_id("id", "", 8).is_err());
    }

    #[test]
    fn status_codes_and_kinds() {
        assert_eq!(status_code("error"), Some(status::StatusCode::Error));
        assert_eq!(status_code("STATUS_CODE_OK"), Some(status::StatusCode::Ok));
        assert_eq!(status_code("fine"), None);
        assert_eq!(span_kind("PRODUCER"), Some(4));
        assert_eq!(span_kind("sideways"), None);
    }

    #[test]
    fn micros_from_numbers_and_strings() {
        let m: Vec<Micros> = serde_json::from_str(r#"[1, 2.6, "3", -4]"#).unwrap();
        assert_eq!(m, vec![Micros(1), Micros(3), Micros(3), Micros(0)]);
    }
}
