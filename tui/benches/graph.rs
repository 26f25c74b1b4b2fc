//! What the Graph screen costs, over generated choreography graphs of 20 nodes and 60 edges,
//! 200 and 600, 2,000 and 6,000 (services, and destinations over three systems; calls, emits
//! and consumes, some closing cycles; see `hopscope::app::bench_support::generated_graph`).
//!
//! - `graph_layout`: laying the whole graph out on its canvas (layers, crossing reduction,
//!   placement, lanes, routes); done once per change of the graph's shape, zoom or focus.
//! - `graph_frame_200x50`: one Graph frame at 200x50 over the laid-out graph: the window's
//!   boxes and routes, the node pane, the chrome, drawn into a buffer.
//!
//! `cargo bench -p hopscope --bench graph`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hopscope::app::bench_support::{generated_graph, graph_state, lay_out_graph};
use hopscope::app::render_to_buffer;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

/// The allocator the `hopscope` binary runs with (`main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// (services, destinations, edges).
const SIZES: [(usize, usize, usize); 3] = [(12, 8, 60), (120, 80, 600), (1_200, 800, 6_000)];
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;

fn graph(c: &mut Criterion) {
    let mut group = c.benchmark_group("graph_layout");
    group.sample_size(10);
    for (services, destinations, edges) in SIZES {
        let g = generated_graph(services, destinations, edges);
        group.bench_function(BenchmarkId::from_parameter(services + destinations), |b| {
            b.iter(|| black_box(lay_out_graph(&g)));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("graph_frame_200x50");
    for (services, destinations, edges) in SIZES {
        let state = graph_state(generated_graph(services, destinations, edges), WIDTH, HEIGHT);
        let mut buf = Buffer::empty(Rect::new(0, 0, WIDTH, HEIGHT));
        group.bench_function(BenchmarkId::from_parameter(services + destinations), |b| {
            b.iter(|| {
                buf.reset();
                render_to_buffer(&state, &mut buf);
                black_box(&buf);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, graph);
criterion_main!(benches);
