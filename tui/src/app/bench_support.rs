//! Generated views for benches and tests: stores of any size filled by the collector's fake
//! data generator (`hopscope_collector::fake`), and the TUI state over them that a frame is
//! drawn from; generated choreography graphs of any size, their layout and the Graph screen
//! over them. Nothing here runs in the binary.

use std::sync::Arc;

use hopscope_collector::analysis::Graph;
use hopscope_collector::engine::StatsSnapshot;
use hopscope_collector::engine::views::{
    self, ClockMode, EventClock, Sources, View, ViewConfig, Wants,
};
use hopscope_collector::fake::Generator;
use hopscope_collector::link::Linker;
use hopscope_collector::model::Interner;
use hopscope_collector::otlp::convert::Decoder;
use hopscope_collector::store::SpanStore;

use super::graph::canvas::{self, Zoom};
pub use super::graph::generated::generated_graph;
use super::msg::Msg;
use super::state::{Context, Mode, State};
use super::theme::Theme;
use super::update::update;

/// What the engine holds after taking in `spans` generated spans: flows of six spans (a sync
/// chain and two linked consumers), always the same for the same size (fixed seed).
pub struct GeneratedStore {
    pub store: SpanStore,
    pub linker: Linker,
    pub spans: usize,
}

impl GeneratedStore {
    /// Generates, links and stores `spans` spans (in requests of at most 6,000 spans).
    pub fn new(spans: usize) -> Self {
        let interner = Arc::new(Interner::new());
        let decoder = Decoder::new(Arc::clone(&interner));
        let mut store = SpanStore::new(u64::MAX);
        let mut linker = Linker::new(Arc::clone(&interner));
        let mut generator = Generator::new(7, 1_700_000_000_000_000_000);
        let mut left = spans;
        while left > 0 {
            let batch = left.min(6_000);
            left -= batch;
            for s in decoder.traces(generator.request(batch)).spans {
                linker.add(&s);
                store.insert(s);
            }
        }
        Self { store, linker, spans }
    }

    /// Builds the view the engine would publish, with the event clock at the watermark and
    /// the default view configuration (what the engine does on each publish).
    pub fn view(&self) -> View {
        let stats = StatsSnapshot { stored: self.spans as u64, ..StatsSnapshot::default() };
        let src = Sources { store: &self.store, linker: &self.linker, stats, max_memory: 1 << 30 };
        let clock = EventClock { mode: ClockMode::Replay, now_unix_nano: self.linker.watermark() };
        views::build(src, clock, &ViewConfig::default(), &Wants::default(), 1, 0)
    }
}

/// The view over `spans` generated spans (see [`GeneratedStore`]).
pub fn generated_view(spans: usize) -> Arc<View> {
    Arc::new(GeneratedStore::new(spans).view())
}

/// A live-mode TUI of `width` × `height` on the Flows screen, before any view arrived.
pub fn empty_state(width: u16, height: u16) -> State {
    let ctx = Context {
        mode: Mode::Live { grpc: "127.0.0.1:4317".into(), http: "127.0.0.1:4318".into() },
        theme: Theme { color: true },
    };
    State::new(ctx, Arc::new(View::empty()), width, height)
}

/// Hands `view` to the TUI, as the terminal loop does when the engine publishes one: the
/// state filters and sorts every flow (and every other list) of the view.
pub fn take_in(state: &mut State, view: &Arc<View>) {
    update(state, Msg::View(Arc::clone(view)));
}

/// A TUI of `width` × `height` on the Flows screen showing `view`.
pub fn flows_state(view: &Arc<View>, width: u16, height: u16) -> State {
    let mut state = empty_state(width, height);
    take_in(&mut state, view);
    state
}

/// Lays `graph` out as the Graph screen does (every node, full labels); returns how many
/// boxes and routes it placed.
pub fn lay_out_graph(graph: &Graph) -> usize {
    let c = canvas::lay_out(graph, None, Zoom::Normal);
    c.boxes.len() + c.routes.len()
}

/// A TUI of `width` × `height` on the Graph screen, over a view holding `graph` (its layout
/// done, as after the view arrived).
pub fn graph_state(graph: Graph, width: u16, height: u16) -> State {
    let mut analysis = views::empty_analysis();
    analysis.graph = graph;
    let mut view = View::empty();
    view.analysis = Arc::new(analysis);
    view.clock.now_unix_nano = 60_000_000_000;
    let mut state = empty_state(width, height);
    take_in(&mut state, &Arc::new(view));
    state.screen = super::screen::Screen::Graph;
    state
}
