//! Properties of the linker and the analysis over every fixture at once, and over a
//! generated recording (sync chains, fan-out, batch consumers, redeliveries, sagas):
//!
//! - any permutation of the same spans, split into any batches, with any resends, gives the
//!   same analysis;
//! - evicting traces is the same as never having seen them, and taking them back in restores
//!   the full analysis.

mod fixtures_support;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use hopscope_collector::analysis::{AnalysisOptions, analyze};
use hopscope_collector::link::Linker;
use hopscope_collector::link::synth::Shop;
use hopscope_collector::model::{Interner, Span, TraceId};
use proptest::prelude::*;

struct Data {
    interner: Arc<Interner>,
    spans: Vec<Span>,
    opts: AnalysisOptions,
    expected: serde_json::Value,
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let interner = Arc::new(Interner::new());
        let spans = fixtures_support::fixture_spans(&interner);
        let mut linker = Linker::new(Arc::clone(&interner));
        linker.add_all(&spans);
        let opts = AnalysisOptions::at_watermark(&linker);
        let expected = serde_json::to_value(analyze(&linker, &opts)).expect("serialisable");
        Data { interner, spans, opts, expected }
    })
}

fn generated() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let interner = Arc::new(Interner::new());
        let spans = Shop::new(11, 1_700_000_000_000_000_000, Arc::clone(&interner)).spans(1_500);
        let mut linker = Linker::new(Arc::clone(&interner));
        linker.add_all(&spans);
        let opts = AnalysisOptions::at_watermark(&linker);
        let expected = serde_json::to_value(analyze(&linker, &opts)).expect("serialisable");
        Data { interner, spans, opts, expected }
    })
}

fn analysis(linker: &Linker) -> serde_json::Value {
    serde_json::to_value(analyze(linker, &data().opts)).expect("serialisable")
}

fn traces() -> Vec<TraceId> {
    data().spans.iter().map(|s| s.trace_id).collect::<BTreeSet<_>>().into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_order_any_batches_same_analysis(
        order in Just((0..data().spans.len()).collect::<Vec<_>>()).prop_shuffle(),
        cuts in proptest::collection::btree_set(0..data().spans.len(), 0..12),
        resends in proptest::collection::vec(0..data().spans.len(), 0..12),
        peek in any::<bool>(),
    ) {
        let d = data();
        let mut stream: Vec<&Span> = order.iter().map(|&i| &d.spans[i]).collect();
        // Exporter retries: some spans again, somewhere later.
        for (k, &i) in resends.iter().enumerate() {
            let at = (i * 7 + k * 13) % (stream.len() + 1);
            stream.insert(at, &d.spans[i]);
        }
        let mut linker = Linker::new(Arc::clone(&d.interner));
        let mut last = 0;
        for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
            let cut = cut.min(stream.len());
            linker.add_all(stream[last..cut].iter().copied());
            last = cut;
            if peek {
                // Reading a view between batches must not change anything.
                let _ = analyze(&linker, &d.opts);
            }
        }
        prop_assert_eq!(analysis(&linker), d.expected.clone());
    }

    #[test]
    fn evicting_is_forgetting(
        order in Just((0..data().spans.len()).collect::<Vec<_>>()).prop_shuffle(),
        evict in proptest::collection::vec(any::<bool>(), traces().len()),
    ) {
        let d = data();
        let all = traces();
        let gone: BTreeSet<TraceId> =
            all.iter().zip(&evict).filter(|(_, e)| **e).map(|(t, _)| *t).collect();
        let stream: Vec<&Span> = order.iter().map(|&i| &d.spans[i]).collect();

        let mut evicted = Linker::new(Arc::clone(&d.interner));
        evicted.add_all(stream.iter().copied());
        evicted.evict(&gone.iter().copied().collect::<Vec<_>>());

        let mut never = Linker::new(Arc::clone(&d.interner));
        never.add_all(stream.iter().copied().filter(|s| !gone.contains(&s.trace_id)));
        prop_assert_eq!(analysis(&evicted), analysis(&never));

        // Taking the evicted traces back in restores everything.
        evicted.add_all(stream.iter().copied().filter(|s| gone.contains(&s.trace_id)));
        prop_assert_eq!(analysis(&evicted), d.expected.clone());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn generated_flows_in_any_order_and_batches(
        order in Just((0..generated().spans.len()).collect::<Vec<_>>()).prop_shuffle(),
        cuts in proptest::collection::btree_set(0..generated().spans.len(), 0..20),
        evict_every in 2usize..9,
    ) {
        let d = generated();
        let mut linker = Linker::new(Arc::clone(&d.interner));
        let mut last = 0;
        for &cut in cuts.iter().chain(std::iter::once(&d.spans.len())) {
            linker.add_all(order[last..cut].iter().map(|&i| &d.spans[i]));
            last = cut;
        }
        let got = serde_json::to_value(analyze(&linker, &d.opts)).expect("serialisable");
        prop_assert_eq!(&got, &d.expected);

        // Evict some traces and take them back: the same analysis again.
        let ids: Vec<TraceId> =
            d.spans.iter().map(|s| s.trace_id).collect::<BTreeSet<_>>().into_iter().collect();
        let gone: Vec<TraceId> = ids.iter().copied().step_by(evict_every).collect();
        let gone_set: BTreeSet<TraceId> = gone.iter().copied().collect();
        linker.evict(&gone);
        linker.add_all(order.iter().map(|&i| &d.spans[i]).filter(|s| gone_set.contains(&s.trace_id)));
        let got = serde_json::to_value(analyze(&linker, &d.opts)).expect("serialisable");
        prop_assert_eq!(&got, &d.expected);
    }
}
