//! The incremental analysis of live views equals the full analysis: over every fixture and a
//! generated recording, spans taken in any order and batches, with resends, evictions and a
//! moving clock, each update gives the flows, sagas, insights, graph and lag that
//! [`analyze`] gives from scratch for the same spans at the same clock.

mod fixtures_support;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use hopscope_collector::analysis::live::{LiveAnalysis, LiveOutput};
use hopscope_collector::analysis::{Analysis, AnalysisOptions, analyze};
use hopscope_collector::link::Linker;
use hopscope_collector::link::synth::Shop;
use hopscope_collector::model::{Interner, Span, TraceId};
use proptest::prelude::*;

struct Data {
    interner: Arc<Interner>,
    spans: Vec<Span>,
    watermark: u64,
}

fn load(spans: Vec<Span>, interner: Arc<Interner>) -> Data {
    let watermark = spans.iter().map(|s| s.end_unix_nano.max(s.start_unix_nano)).max().unwrap_or(0);
    Data { interner, spans, watermark }
}

fn fixtures() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let interner = Arc::new(Interner::new());
        load(fixtures_support::fixture_spans(&interner), interner)
    })
}

fn generated() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let interner = Arc::new(Interner::new());
        let spans = Shop::new(7, 1_700_000_000_000_000_000, Arc::clone(&interner)).spans(1_200);
        load(spans, interner)
    })
}

/// The live output as the full document would have it (hops aside: the view has none).
fn comparable(out: &LiveOutput) -> serde_json::Value {
    let mut a: Analysis = out.analysis.clone();
    a.flows = out.flows.iter().map(|r| r.flow.clone()).collect();
    let mut v = serde_json::to_value(a).expect("serialisable");
    strip_hops(&mut v);
    v
}

fn full(linker: &Linker, opts: &AnalysisOptions) -> serde_json::Value {
    let mut v = serde_json::to_value(analyze(linker, opts)).expect("serialisable");
    strip_hops(&mut v);
    v
}

/// Hops are not in live views; the summary counts linked hops only there.
fn strip_hops(v: &mut serde_json::Value) {
    v["hops"] = serde_json::Value::Null;
    v["summary"]["hops"] = serde_json::Value::Null;
}

/// Where two documents first differ, and how: short enough to read in a failure.
fn first_difference(path: &str, got: &serde_json::Value, want: &serde_json::Value) -> String {
    use serde_json::Value;
    match (got, want) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let vb = b.get(k).unwrap_or(&Value::Null);
                if va != vb {
                    return first_difference(&format!("{path}.{k}"), va, vb);
                }
            }
            format!("{path}: keys differ")
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                if va != vb {
                    return first_difference(&format!("{path}[{i}]"), va, vb);
                }
            }
            format!("{path}: equal")
        }
        _ => format!("{path}: live {got} but full {want}"),
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// Take the next `n` spans of the shuffled order.
    Take(usize),
    /// Send again a span taken earlier (index into the order).
    Resend(usize),
    /// Evict a trace (index into the trace ids), and take its spans back at the end.
    Evict(usize),
    /// Move the clock forward by this many milliseconds.
    Tick(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1usize..40).prop_map(Step::Take),
        1 => any::<usize>().prop_map(Step::Resend),
        1 => any::<usize>().prop_map(Step::Evict),
        1 => (1u64..20_000).prop_map(Step::Tick),
    ]
}

fn check(data: &Data, order: &[usize], steps: &[Step]) -> Result<(), TestCaseError> {
    let trace_ids: Vec<TraceId> =
        data.spans.iter().map(|s| s.trace_id).collect::<BTreeSet<_>>().into_iter().collect();
    let mut linker = Linker::new(Arc::clone(&data.interner));
    linker.track_changes();
    // With the event catalog, which a live view builds when a screen shows it.
    let mut live = LiveAnalysis::default();
    live.catalog = true;
    let mut next = 0;
    let mut evicted: Vec<TraceId> = Vec::new();
    let mut now = data.watermark.saturating_sub(60_000_000_000);
    let mut compare = |linker: &mut Linker, now: u64| -> Result<(), TestCaseError> {
        let opts = AnalysisOptions { now_unix_nano: now, ..AnalysisOptions::at_watermark(linker) };
        let out = live.update(linker, &opts);
        let got = comparable(&out);
        let want = full(linker, &opts);
        if got != want {
            return Err(TestCaseError::fail(first_difference("", &got, &want)));
        }
        // The flow of each saga is kept between updates; from scratch it must be the same.
        let fresh = LiveAnalysis::full(linker, &opts);
        prop_assert_eq!(&out.saga_flows, &fresh.saga_flows);
        Ok(())
    };
    for s in steps {
        match *s {
            Step::Take(n) => {
                let end = (next + n).min(order.len());
                linker.add_all(order[next..end].iter().map(|&i| &data.spans[i]));
                next = end;
            }
            Step::Resend(i) if next > 0 => linker.add(&data.spans[order[i % next]]),
            Step::Resend(_) => {}
            Step::Evict(i) => {
                let id = trace_ids[i % trace_ids.len()];
                linker.evict(&[id]);
                evicted.push(id);
            }
            Step::Tick(ms) => now += ms * 1_000_000,
        }
        compare(&mut linker, now)?;
    }
    linker.add_all(order[next..].iter().map(|&i| &data.spans[i]));
    linker.add_all(data.spans.iter().filter(|s| evicted.contains(&s.trace_id)));
    compare(&mut linker, now)?;
    compare(&mut linker, data.watermark + 120_000_000_000)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn live_updates_equal_the_full_analysis_over_the_fixtures(
        order in Just((0..fixtures().spans.len()).collect::<Vec<_>>()).prop_shuffle(),
        steps in proptest::collection::vec(step(), 1..30),
    ) {
        check(fixtures(), &order, &steps)?;
    }

    #[test]
    fn live_updates_equal_the_full_analysis_over_a_generated_shop(
        order in Just((0..generated().spans.len()).collect::<Vec<_>>()).prop_shuffle(),
        steps in proptest::collection::vec(step(), 1..40),
    ) {
        check(generated(), &order, &steps)?;
    }
}

/// In order and in small batches, an update redoes a few flows, not all of them.
#[test]
fn an_update_rebuilds_only_the_flows_that_changed() {
    let data = generated();
    let mut linker = Linker::new(Arc::clone(&data.interner));
    linker.track_changes();
    let mut live = LiveAnalysis::default();
    let opts = |l: &Linker| AnalysisOptions::at_watermark(l);
    let half = data.spans.len() / 2;
    linker.add_all(&data.spans[..half]);
    let o = opts(&linker);
    let first = live.update(&mut linker, &o);
    assert!(live.last_cost().full, "the first update builds everything");
    let flows = first.flows.len();
    assert!(flows > 50, "enough flows to tell: {flows}");
    // Same clock, nothing new: nothing is rebuilt.
    live.update(&mut linker, &o);
    assert_eq!(live.last_cost().flows_rebuilt, 0);
    assert!(!live.last_cost().full);
    // A few more spans at the same clock: a few flows are rebuilt.
    linker.add_all(&data.spans[half..half + 12]);
    live.update(&mut linker, &o);
    let cost = live.last_cost();
    assert!(cost.flows_rebuilt >= 1 && cost.flows_rebuilt <= flows / 4, "{cost:?} of {flows}");
}

/// One OTLP JSON span: `(trace, span)` ids, parent, service, kind, (message id,
/// destination), whether it is a saga step, start; ids are hex digits repeated.
fn chain_span(
    (trace, span): (char, char),
    parent: Option<char>,
    service: &str,
    kind: u8,
    msg: (&str, &str),
    saga: bool,
    at_ms: u64,
) -> String {
    let ts = |ms: u64| (1_700_000_000_000_000_000u64 + ms * 1_000_000).to_string();
    let attr = |k: &str, v: &str| format!(r#"{{"key":"{k}","value":{{"stringValue":"{v}"}}}}"#);
    let mut attrs = vec![
        attr("messaging.system", "rabbitmq"),
        attr("messaging.destination.name", msg.1),
        attr("messaging.message.id", msg.0),
    ];
    if saga {
        attrs.extend([
            attr("saga.name", "refund"),
            attr("saga.id", "r-1"),
            attr("saga.step.name", "refund-card"),
            attr("saga.step.kind", "action"),
        ]);
    }
    let parent = parent
        .map_or(String::new(), |p| format!(r#""parentSpanId":"{}","#, p.to_string().repeat(16)));
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{}]}},"scopeSpans":[{{"spans":[{{"traceId":"{}","spanId":"{}",{parent}"name":"{} {}","kind":{kind},"startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":[{}]}}]}}]}}]}}"#,
        attr("service.name", service),
        trace.to_string().repeat(32),
        span.to_string().repeat(16),
        msg.1,
        if kind == 4 { "publish" } else { "process" },
        ts(at_ms),
        ts(at_ms + 5),
        attrs.join(",")
    )
}

/// A saga two hops downstream of its flow's root is not rebuilt when the root arrives or
/// goes (its own trace does not change), yet its flow does: the kept flow of each saga must
/// follow. Trace a emits m1; trace b consumes it and emits m2; trace c consumes m2 and is
/// the saga's step.
#[test]
fn a_saga_follows_its_flow_when_an_upstream_trace_comes_and_goes() {
    let interner = Arc::new(Interner::new());
    let decoder = hopscope_collector::otlp::convert::Decoder::new(Arc::clone(&interner));
    let decode = |json: String| {
        let req = hopscope_collector::otlp::json::decode_traces(json.as_bytes()).expect("json");
        decoder.traces(req).spans
    };
    let a = decode(chain_span(('a', '1'), None, "checkout", 4, ("m1", "orders"), false, 0));
    let b = [
        decode(chain_span(('b', '2'), None, "orders", 5, ("m1", "orders"), false, 10)),
        decode(chain_span(('b', '3'), Some('2'), "orders", 4, ("m2", "refunds"), false, 12)),
    ]
    .concat();
    let c = decode(chain_span(('c', '4'), None, "payments", 5, ("m2", "refunds"), true, 20));
    let ids = |spans: &[Span]| spans.iter().map(|s| s.trace_id).collect::<Vec<_>>();
    let mut linker = Linker::new(Arc::clone(&interner));
    linker.track_changes();
    let mut live = LiveAnalysis::default();
    let mut flows_of_saga = Vec::new();
    let mut check = |linker: &mut Linker| {
        let opts = AnalysisOptions::at_watermark(linker);
        let out = live.update(linker, &opts);
        assert_eq!(out.analysis.sagas.len(), 1, "one saga");
        assert_eq!(out.saga_flows, LiveAnalysis::full(linker, &opts).saga_flows);
        flows_of_saga.push(out.saga_flows[0].map(|f| f.to_string()[..1].to_owned()));
    };
    linker.add_all(&[b.clone(), c].concat());
    check(&mut linker);
    linker.add_all(&a);
    check(&mut linker);
    linker.evict(&ids(&a));
    check(&mut linker);
    linker.evict(&ids(&b));
    check(&mut linker);
    let flow = |c: &str| Some(c.to_owned());
    assert_eq!(flows_of_saga, [flow("b"), flow("a"), flow("b"), flow("c")]);
}
