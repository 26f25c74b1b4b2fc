//! What the terminal UI costs per frame and per published view, over generated stores of
//! 1k, 100k and 1M spans (flows of six spans; see `hopscope::app::bench_support`).
//!
//! - `view_build`: the engine building one view (analysis + per-flow facts) from its store
//!   and linker; what a publish costs before the TUI sees anything.
//! - `take_in_view`: the TUI taking in a new view (filter and sort every flow and list).
//! - `flows_frame_200x50`: one Flows frame at 200x50: the view-model for what is on screen
//!   and its widgets drawn into a buffer. Should not grow with the store.
//!
//! Each store and view is generated once, outside the timed loops (1M takes a few seconds).
//! `cargo bench -p hopscope --bench frame -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hopscope::app::bench_support::{GeneratedStore, flows_state, take_in};
use hopscope::app::render_to_buffer;
use hopscope_collector::engine::views::View;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

/// The allocator the `hopscope` binary runs with (`main.rs`): the view-model allocates many
/// small strings, and glibc's allocator makes a frame ≈ 1.6x slower.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;

fn frame(c: &mut Criterion) {
    let mut views: Vec<(usize, Arc<View>)> = Vec::new();
    for spans in SIZES {
        let generated = GeneratedStore::new(spans);
        let mut group = c.benchmark_group("view_build");
        group.sample_size(10);
        group.bench_function(BenchmarkId::from_parameter(spans), |b| {
            b.iter(|| black_box(generated.view()));
        });
        group.finish();
        views.push((spans, Arc::new(generated.view())));
    }

    let mut group = c.benchmark_group("take_in_view");
    group.sample_size(10);
    for (spans, view) in &views {
        let mut state = flows_state(view, WIDTH, HEIGHT);
        group.bench_function(BenchmarkId::from_parameter(spans), |b| {
            b.iter(|| take_in(&mut state, view));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("flows_frame_200x50");
    for (spans, view) in &views {
        let state = flows_state(view, WIDTH, HEIGHT);
        let mut buf = Buffer::empty(Rect::new(0, 0, WIDTH, HEIGHT));
        group.bench_function(BenchmarkId::from_parameter(spans), |b| {
            b.iter(|| {
                buf.reset();
                render_to_buffer(&state, &mut buf);
                black_box(&buf);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
