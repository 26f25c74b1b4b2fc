//! One scenario written in every format reads to the same spans.
//!
//! The scenario (`tests/fixtures/formats/scenario.*`): a gateway SERVER span calls orders
//! through a CLIENT → SERVER pair; orders validates (an INTERNAL span with an event) and
//! publishes to Kafka (PRODUCER); payments consumes in a new trace (CONSUMER, linked to the
//! producer, error status, an exception event) and calls out (CLIENT). Seven spans, three
//! services, two traces; ids, parents, names, services, kinds, times, status, links, events,
//! scopes and the normalised messaging fields are checked against the table below, written
//! from the scenario, not from any reader's output.
//!
//! Zipkin: no links (it has none); the orders SERVER span shares the gateway CLIENT span's
//! id there (`"shared": true`), and the scenario's orders SERVER id is the re-keyed id the
//! reader derives (`shared_server_span_id`), so Zipkin reads to the same ids. Span names are
//! written in their original case (as OpenTelemetry's Zipkin exporter sends them).

mod formats_support;

use formats_support::{
    Read, fixture, fixture_bytes, gzip, length_prefixed, read_all, scenario_lines,
    scenario_messages, write, zstd,
};
use hopscope_collector::formats::read::{Compression, Format};
use hopscope_collector::formats::zipkin::shared_server_span_id;
use hopscope_collector::model::{MessagingOp, SpanId, SpanKind, StatusCode, TraceId};

const T1: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const T2: &str = "00000000000000008448eb211c80319c";
const BASE: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;

struct Expected {
    trace: &'static str,
    span: &'static str,
    parent: Option<&'static str>,
    name: &'static str,
    service: &'static str,
    kind: SpanKind,
    start_ms: u64,
    end_ms: u64,
    status: (StatusCode, &'static str),
    links: &'static [(&'static str, &'static str)],
    /// Event names and times (ms after BASE).
    events: &'static [(&'static str, u64)],
    scope: (&'static str, &'static str),
}

const NETTY: (&str, &str) = ("io.opentelemetry.netty", "2.1.0");
const SHOP: (&str, &str) = ("shop", "1.0.0");
const UNSET: (StatusCode, &str) = (StatusCode::Unset, "");

const SCENARIO: [Expected; 7] = [
    Expected {
        trace: T1,
        span: "00f067aa0ba902b7",
        parent: None,
        name: "GET /checkout",
        service: "gateway",
        kind: SpanKind::Server,
        start_ms: 0,
        end_ms: 120,
        status: (StatusCode::Ok, ""),
        links: &[],
        events: &[],
        scope: NETTY,
    },
    Expected {
        trace: T1,
        span: "53995c3f42cd8ad8",
        parent: Some("00f067aa0ba902b7"),
        name: "POST /orders",
        service: "gateway",
        kind: SpanKind::Client,
        start_ms: 10,
        end_ms: 110,
        status: UNSET,
        links: &[],
        events: &[],
        scope: NETTY,
    },
    Expected {
        trace: T1,
        span: "bf2eca5ba633b927",
        parent: Some("53995c3f42cd8ad8"),
        name: "POST /orders",
        service: "orders",
        kind: SpanKind::Server,
        start_ms: 15,
        end_ms: 105,
        status: UNSET,
        links: &[],
        events: &[],
        scope: SHOP,
    },
    Expected {
        trace: T1,
        span: "b9c7c989f97918e1",
        parent: Some("bf2eca5ba633b927"),
        name: "validate order",
        service: "orders",
        kind: SpanKind::Internal,
        start_ms: 20,
        end_ms: 30,
        status: UNSET,
        links: &[],
        events: &[("order validated", 29)],
        scope: SHOP,
    },
    Expected {
        trace: T1,
        span: "7a085853722dc6d2",
        parent: Some("bf2eca5ba633b927"),
        name: "orders publish",
        service: "orders",
        kind: SpanKind::Producer,
        start_ms: 40,
        end_ms: 45,
        status: UNSET,
        links: &[],
        events: &[],
        scope: SHOP,
    },
    Expected {
        trace: T2,
        span: "d75597dee50b0cac",
        parent: None,
        name: "orders process",
        service: "payments",
        kind: SpanKind::Consumer,
        start_ms: 200,
        end_ms: 260,
        status: (StatusCode::Error, "card declined"),
        links: &[(T1, "7a085853722dc6d2")],
        events: &[("exception", 250)],
        scope: SHOP,
    },
    Expected {
        trace: T2,
        span: "e4d2e5a8b3c1f607",
        parent: Some("d75597dee50b0cac"),
        name: "POST /charge",
        service: "payments",
        kind: SpanKind::Client,
        start_ms: 210,
        end_ms: 240,
        status: UNSET,
        links: &[],
        events: &[],
        scope: SHOP,
    },
];

/// Checks that `read` holds exactly the scenario's spans; `links` is false for Zipkin.
fn assert_scenario(what: &str, read: &Read, links: bool) {
    let r = &read.report;
    assert!(r.problems.is_empty(), "{what}: problems {:?}", r.problems);
    assert!(r.notes.is_empty(), "{what}: notes {:?}", r.notes);
    assert_eq!((r.skipped, r.rejected_spans), (0, 0), "{what}");
    assert_eq!(read.spans.len(), SCENARIO.len(), "{what}: span count");
    assert_eq!(r.spans, SCENARIO.len() as u64, "{what}: reported span count");
    for e in &SCENARIO {
        let trace = TraceId::from_hex(e.trace).expect("trace id");
        let id = SpanId::from_hex(e.span).expect("span id");
        let span = read
            .spans
            .iter()
            .find(|s| s.trace_id == trace && s.span_id == id)
            .unwrap_or_else(|| panic!("{what}: no span {} {}", e.trace, e.span));
        let at = format!("{what}: span {} ({})", e.span, e.name);
        assert_eq!(
            span.parent_span_id,
            e.parent.map(|p| SpanId::from_hex(p).expect("parent id")),
            "{at}"
        );
        assert_eq!(read.name(span), e.name, "{at}");
        assert_eq!(read.service(span), e.service, "{at}");
        assert_eq!(span.kind, e.kind, "{at}");
        assert_eq!(span.start_unix_nano, BASE + e.start_ms * MS, "{at}");
        assert_eq!(span.end_unix_nano, BASE + e.end_ms * MS, "{at}");
        assert_eq!((span.status.code, &*span.status.message), e.status, "{at}");
        assert_eq!((&*span.scope.name, &*span.scope.version), e.scope, "{at}");
        let events: Vec<(&str, u64)> = span
            .events
            .iter()
            .map(|ev| (read.interner.resolve(ev.name), (ev.time_unix_nano - BASE) / MS))
            .collect();
        assert_eq!(events, e.events, "{at}: events");
        let got_links: Vec<(String, String)> =
            span.links.iter().map(|l| (l.trace_id.to_string(), l.span_id.to_string())).collect();
        let want_links: Vec<(String, String)> = if links {
            e.links.iter().map(|(t, s)| ((*t).to_owned(), (*s).to_owned())).collect()
        } else {
            Vec::new()
        };
        assert_eq!(got_links, want_links, "{at}: links");
    }
    assert_messaging(what, read);
}

/// The producer and the consumer carry the same normalised messaging fields.
fn assert_messaging(what: &str, read: &Read) {
    let by_name = |name: &str| {
        read.spans.iter().find(|s| read.name(s) == name).and_then(|s| s.messaging.as_deref())
    };
    let producer = by_name("orders publish").unwrap_or_else(|| panic!("{what}: producer"));
    let consumer = by_name("orders process").unwrap_or_else(|| panic!("{what}: consumer"));
    let i = &read.interner;
    for (m, op) in [(producer, MessagingOp::Send), (consumer, MessagingOp::Process)] {
        assert_eq!(i.resolve(m.system), "kafka", "{what}");
        assert_eq!(i.resolve(m.destination), "orders", "{what}");
        assert_eq!(m.operation, op, "{what}");
        assert_eq!(m.message_id.as_deref(), Some("m-42"), "{what}");
    }
    assert_eq!(i.resolve(consumer.consumer_group), "payments", "{what}");
}

#[test]
fn the_scenario_ids_agree_with_zipkin_rekeying() {
    let client = SpanId::from_hex("53995c3f42cd8ad8").unwrap();
    assert_eq!(shared_server_span_id(client).to_string(), "bf2eca5ba633b927");
}

#[test]
fn otlp_json_lines() {
    let read = read_all(&[fixture("scenario.otlp.jsonl")]);
    assert_scenario("jsonl", &read, true);
    assert_eq!(read.report.records, 3);
    assert_eq!(read.report.sources[0].format, Some(Format::OtlpJsonLines));
}

#[test]
fn otlp_json_document() {
    let read = read_all(&[fixture("scenario.otlp.json")]);
    assert_scenario("pretty document", &read, true);
    assert_eq!(read.report.sources[0].format, Some(Format::OtlpJsonDocument));
}

#[test]
fn jaeger_ui_download() {
    let read = read_all(&[fixture("scenario.jaeger.json")]);
    assert_scenario("jaeger", &read, true);
    assert_eq!(read.report.sources[0].format, Some(Format::Jaeger));
    // The process tags became resource attributes.
    let gateway = read.spans.iter().find(|s| read.service(s) == "gateway").unwrap();
    let host = read.interner.get("host.name").unwrap();
    assert!(gateway.resource.attributes.iter().any(|kv| kv.key == host));
}

#[test]
fn zipkin_v2() {
    let read = read_all(&[fixture("scenario.zipkin.json")]);
    assert_scenario("zipkin", &read, false);
    assert_eq!(read.report.sources[0].format, Some(Format::Zipkin));
}

#[test]
fn zipkin_array_of_traces() {
    // `/api/v2/traces` answers with an array of traces, each an array of spans.
    let spans: Vec<serde_json::Value> =
        serde_json::from_slice(&fixture_bytes("scenario.zipkin.json")).unwrap();
    let (t1, t2): (Vec<_>, Vec<_>) =
        spans.into_iter().partition(|s| s["traceId"].as_str().is_some_and(|t| t.len() == 32));
    let nested = serde_json::to_vec_pretty(&serde_json::json!([t1, t2])).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let read = read_all(&[write(dir.path(), "traces", &nested)]);
    assert_scenario("zipkin traces", &read, false);
}

#[test]
fn otlp_proto_length_prefixed() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "traces.bin", &length_prefixed(&scenario_messages()));
    let read = read_all(&[path]);
    assert_scenario("proto", &read, true);
    assert_eq!(read.report.records, 3);
    assert_eq!(read.report.sources[0].format, Some(Format::OtlpProto));
}

#[test]
fn file_exporter_zstd_messages_proto_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let proto: Vec<Vec<u8>> = scenario_messages().iter().map(|m| zstd(m)).collect();
    let json: Vec<Vec<u8>> = scenario_lines().iter().map(|l| zstd(l)).collect();
    for (name, messages) in [("proto", proto), ("json", json)] {
        let path = write(dir.path(), name, &length_prefixed(&messages));
        let read = read_all(&[path]);
        assert_scenario(&format!("zstd messages ({name})"), &read, true);
        assert_eq!(read.report.sources[0].format, Some(Format::OtlpZstdFramed));
        assert!(read.report.sources[0].compression.is_empty());
    }
}

#[test]
fn whole_file_compression_around_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = fixture_bytes("scenario.otlp.jsonl");
    let proto = length_prefixed(&scenario_messages());
    let cases = [
        ("zstd jsonl", zstd(&jsonl), Compression::Zstd, Format::OtlpJsonLines),
        ("gzip jsonl", gzip(&jsonl), Compression::Gzip, Format::OtlpJsonLines),
        ("gzip proto", gzip(&proto), Compression::Gzip, Format::OtlpProto),
        ("zstd proto", zstd(&proto), Compression::Zstd, Format::OtlpProto),
        (
            "zstd document",
            zstd(&fixture_bytes("scenario.otlp.json")),
            Compression::Zstd,
            Format::OtlpJsonDocument,
        ),
        (
            "gzip jaeger",
            gzip(&fixture_bytes("scenario.jaeger.json")),
            Compression::Gzip,
            Format::Jaeger,
        ),
    ];
    for (name, bytes, compression, format) in cases {
        // A misleading name: formats are told by content.
        let path = write(dir.path(), &format!("{name}.txt"), &bytes);
        let read = read_all(&[path]);
        assert_scenario(name, &read, true);
        assert_eq!(read.report.sources[0].compression, vec![compression], "{name}");
        assert_eq!(read.report.sources[0].format, Some(format), "{name}");
    }
    // Concatenated gzip members (as `cat a.gz b.gz` makes) read as one stream.
    let lines = scenario_lines();
    let mut two = gzip(&[lines[0].as_slice(), b"\n", lines[1].as_slice(), b"\n"].concat());
    two.extend(gzip(&[lines[2].as_slice(), b"\n"].concat()));
    let read = read_all(&[write(dir.path(), "members", &two)]);
    assert_scenario("gzip members", &read, true);
}

#[test]
fn every_format_in_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let proto = write(dir.path(), "p", &length_prefixed(&scenario_messages()));
    let paths = [
        fixture("scenario.otlp.jsonl"),
        fixture("scenario.otlp.json"),
        proto,
        fixture("scenario.jaeger.json"),
        fixture("scenario.zipkin.json"),
    ];
    let read = read_all(&paths);
    assert_eq!(read.report.files, 5);
    assert_eq!(read.report.spans, 5 * SCENARIO.len() as u64);
    let formats: Vec<_> = read.report.sources.iter().map(|s| s.format).collect();
    assert_eq!(
        formats,
        [
            Some(Format::OtlpJsonLines),
            Some(Format::OtlpJsonDocument),
            Some(Format::OtlpProto),
            Some(Format::Jaeger),
            Some(Format::Zipkin)
        ]
    );
    let total: u64 = paths.iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    assert_eq!(read.report.bytes, total);
}

/// The flows (and hops) the analysis finds in a read.
fn flows_of(read: &Read) -> serde_json::Value {
    use hopscope_collector::analysis::{AnalysisOptions, analyze};
    use hopscope_collector::link::Linker;
    let mut linker = Linker::new(std::sync::Arc::clone(&read.interner));
    linker.add_all(&read.spans);
    let analysis = analyze(&linker, &AnalysisOptions::at_watermark(&linker));
    serde_json::json!({ "flows": analysis.flows, "hops": analysis.hops })
}

#[test]
fn every_format_with_links_analyzes_to_the_same_flows() {
    let dir = tempfile::tempdir().unwrap();
    let proto = write(dir.path(), "traces.bin", &length_prefixed(&scenario_messages()));
    let reference = flows_of(&read_all(&[fixture("scenario.otlp.jsonl")]));
    // The scenario is one flow across both traces, joined by the producer → consumer link.
    assert_eq!(reference["flows"].as_array().map(Vec::len), Some(1), "{reference:#}");
    assert_eq!(reference["flows"][0]["traces"].as_array().map(Vec::len), Some(2));
    for (what, path) in [
        ("document", fixture("scenario.otlp.json")),
        ("jaeger", fixture("scenario.jaeger.json")),
        ("proto", proto),
    ] {
        assert_eq!(flows_of(&read_all(&[path])), reference, "{what}");
    }
}
