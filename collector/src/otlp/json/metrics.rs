//! Counting the data points of an OTLP/JSON `ExportMetricsServiceRequest` without building
//! it: each level's "message" is its number of data points, and `dataPoints` elements are
//! skipped, not decoded.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::lenient::{Message, MessageSeed, fields};

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
        pub(super) struct $name(pub(super) u64);

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
