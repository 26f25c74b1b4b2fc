//! Scale checks of the linker and the analysis on generated recordings (run in release:
//! `cargo test --release -p hopscope-collector --test analysis_scale -- --ignored --nocapture`).

use std::sync::Arc;
use std::time::Instant;

use hopscope_collector::analysis::{AnalysisOptions, analyze};
use hopscope_collector::link::Linker;
use hopscope_collector::link::synth::Shop;
use hopscope_collector::model::Interner;

#[test]
#[ignore = "a timing run; meaningful in release only"]
fn one_million_spans_phases() {
    let n: usize = std::env::var("SPANS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let interner = Arc::new(Interner::new());
    let spans = Shop::new(42, 1_700_000_000_000_000_000, Arc::clone(&interner)).spans(n);
    for _ in 0..rounds {
        let t = Instant::now();
        let mut linker = Linker::new(Arc::clone(&interner));
        linker.add_all(&spans);
        let linked = t.elapsed();
        let t = Instant::now();
        let a = analyze(&linker, &AnalysisOptions::at_watermark(&linker));
        let analysed = t.elapsed();
        let t = Instant::now();
        drop(a);
        drop(linker);
        eprintln!(
            "{} spans: link {linked:?} analyze {analysed:?} ({:.2} M spans/s) drop {:?}",
            spans.len(),
            spans.len() as f64 / (linked + analysed).as_secs_f64() / 1e6,
            t.elapsed()
        );
    }
}
