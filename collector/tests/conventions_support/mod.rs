//! A small builder of OTLP JSON recordings for the messaging-convention fixtures: each test
//! writes the spans a real instrumentation emits (span names, kinds, attributes, parent or
//! link shape, as in `../../notes`' sources, cited per test), reads them back through the
//! real reader and linker, and asserts on the `hopscope.analysis/v1` analysis.

#![allow(dead_code, reason = "each test binary uses part of the builder")]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use hopscope_collector::analysis::{Analysis, AnalysisOptions, Lag, analyze};
use hopscope_collector::formats::read::read_paths;
use hopscope_collector::link::Linker;
use hopscope_collector::model::Interner;
use hopscope_collector::otlp::convert::Decoder;
use serde_json::{Value, json};

/// Span kinds as OTLP numbers them.
pub const INTERNAL: u8 = 1;
pub const SERVER: u8 = 2;
pub const CLIENT: u8 = 3;
pub const PRODUCER: u8 = 4;
pub const CONSUMER: u8 = 5;

/// Times count from this (ns).
const T0: u64 = 1_700_000_000_000_000_000;

/// An attribute value.
#[derive(Clone, Copy)]
pub enum V<'a> {
    S(&'a str),
    I(i64),
    B(bool),
    /// A string array (captured message headers).
    A(&'a [&'a str]),
}

fn any(v: V<'_>) -> Value {
    match v {
        V::S(s) => json!({ "stringValue": s }),
        V::I(i) => json!({ "intValue": i.to_string() }),
        V::B(b) => json!({ "boolValue": b }),
        V::A(a) => {
            json!({ "arrayValue": { "values": a.iter().map(|s| json!({ "stringValue": s })).collect::<Vec<_>>() } })
        }
    }
}

fn attrs(list: &[(&str, V<'_>)]) -> Value {
    list.iter().map(|(k, v)| json!({ "key": k, "value": any(*v) })).collect()
}

/// A span's place: (trace number, span number); ids are derived from both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At(pub u32, pub u32);

impl At {
    pub fn trace_id(self) -> String {
        format!("{:032x}", u128::from(self.0) | 0xc0de << 100)
    }

    pub fn span_id(self) -> String {
        format!("{:08x}{:08x}", self.0, self.1)
    }
}

/// One span to write.
pub struct SpanSpec<'a> {
    pub service: &'a str,
    pub at: At,
    pub parent: Option<At>,
    pub name: &'a str,
    pub kind: u8,
    /// Start and end, in ms from the recording's origin.
    pub ms: (u64, u64),
    pub attrs: Vec<(&'a str, V<'a>)>,
    /// Links: the span linked to, and the link's attributes.
    pub links: Vec<(At, Vec<(&'a str, V<'a>)>)>,
    /// Status error with this message.
    pub error: Option<&'a str>,
}

impl<'a> SpanSpec<'a> {
    pub fn new(service: &'a str, at: At, name: &'a str, kind: u8, ms: (u64, u64)) -> Self {
        Self {
            service,
            at,
            parent: None,
            name,
            kind,
            ms,
            attrs: Vec::new(),
            links: Vec::new(),
            error: None,
        }
    }

    #[must_use]
    pub fn parent(mut self, p: At) -> Self {
        self.parent = Some(p);
        self
    }

    #[must_use]
    pub fn attrs(mut self, a: &[(&'a str, V<'a>)]) -> Self {
        self.attrs.extend_from_slice(a);
        self
    }

    #[must_use]
    pub fn link(mut self, to: At, a: &[(&'a str, V<'a>)]) -> Self {
        self.links.push((to, a.to_vec()));
        self
    }

    #[must_use]
    pub fn error(mut self, message: &'a str) -> Self {
        self.error = Some(message);
        self
    }

    fn line(&self) -> String {
        let mut span = json!({
            "traceId": self.at.trace_id(),
            "spanId": self.at.span_id(),
            "name": self.name,
            "kind": self.kind,
            "startTimeUnixNano": (T0 + self.ms.0 * 1_000_000).to_string(),
            "endTimeUnixNano": (T0 + self.ms.1 * 1_000_000).to_string(),
            "attributes": attrs(&self.attrs),
        });
        if let Some(p) = self.parent {
            span["parentSpanId"] = json!(p.span_id());
        }
        if !self.links.is_empty() {
            span["links"] = self
                .links
                .iter()
                .map(|(to, a)| json!({ "traceId": to.trace_id(), "spanId": to.span_id(), "attributes": attrs(a) }))
                .collect();
        }
        if let Some(m) = self.error {
            span["status"] = json!({ "code": 2, "message": m });
        }
        json!({ "resourceSpans": [{
            "resource": { "attributes": attrs(&[("service.name", V::S(self.service))]) },
            "scopeSpans": [{ "scope": { "name": "fixture" }, "spans": [span] }],
        }]})
        .to_string()
    }
}

static FILES: AtomicU32 = AtomicU32::new(0);

/// Writes `spans` as a recording, reads it with the real reader, links and analyses it at
/// its watermark.
pub fn analyze_spans(name: &str, spans: &[SpanSpec<'_>]) -> Analysis {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conventions");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{name}-{}-{n}.jsonl", std::process::id()));
    let text: Vec<String> = spans.iter().map(SpanSpec::line).collect();
    std::fs::write(&path, text.join("\n") + "\n").expect("write recording");
    let interner = Arc::new(Interner::new());
    let decoder = Decoder::new(Arc::clone(&interner));
    let mut linker = Linker::new(interner);
    let report = read_paths(std::slice::from_ref(&path), &decoder, &mut |s| linker.add_all(&s))
        .expect("readable");
    assert!(report.problems.is_empty(), "{name}: {:?}", report.problems);
    assert_eq!(report.spans, spans.len() as u64, "{name}: every span read");
    let _ = std::fs::remove_file(&path);
    analyze(&linker, &AnalysisOptions::at_watermark(&linker))
}

/// The destination node ids of the graph.
pub fn destinations(a: &Analysis) -> Vec<String> {
    a.graph
        .nodes
        .iter()
        .filter(|n| n.kind == hopscope_collector::analysis::NodeKind::Destination)
        .map(|n| n.id.clone())
        .collect()
}

/// Edges as (from, to, kind) strings.
pub fn edges(a: &Analysis) -> Vec<(String, String, &'static str)> {
    a.graph.edges.iter().map(|e| (e.from.clone(), e.to.clone(), e.kind.as_str())).collect()
}

/// The lag row of (destination, group); `None` as group: the `no_consumer` row.
pub fn lag_row<'a>(a: &'a Analysis, destination: &str, group: Option<&str>) -> &'a Lag {
    a.lag
        .iter()
        .find(|l| l.destination == destination && l.consumer_group.as_deref() == group)
        .unwrap_or_else(|| panic!("no lag row {destination} {group:?} in {:#?}", a.lag))
}

/// Hops as (producer service, consumer service, via, destination, group).
pub fn hops(a: &Analysis) -> Vec<(String, String, &'static str, String, String)> {
    a.hops
        .iter()
        .map(|h| {
            (
                h.producer.service.to_string(),
                h.consumer.service.to_string(),
                h.via.as_str(),
                h.destination.to_string(),
                h.consumer_group.to_string(),
            )
        })
        .collect()
}
