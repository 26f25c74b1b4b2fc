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
    let mut live = LiveAnalysis::default();
    let mut next = 0;
    let mut evicted: Vec<TraceId> = Vec::new();
    let mut now = data.watermark.saturating_sub(60_000_000_000);
    let mut compare = |linker: &mut Linker, now: u64| -> Result<(), TestCaseError> {
        let opts = AnalysisOptions { now_unix_nano: now, ..AnalysisOptions::at_watermark(linker) };
        let got = comparable(&live.update(linker, &opts));
        let want = full(linker, &opts);
        if got != want {
            return Err(TestCaseError::fail(first_difference("", &got, &want)));
        }
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
