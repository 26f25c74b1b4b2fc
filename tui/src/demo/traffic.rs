//! Which flow starts when: a seeded mix of flows at `--rate` flows per second, opening
//! with a showcase of every variant so that the first seconds of any run show all of them
//! (the architecture lessons of [`super::patterns`] come last in it, and rarely in the mix).
//! [`Traffic`] runs the mix and the analytics batch loader until stopped.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hopscope_collector::fake::Rng;
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::patterns::{dispatched, legacy_cancel, order_return, page_view, reconcile};
use super::saga::{SagaOutcome, order_saga};
use super::scenarios::{
    Checkout, World, batch_loader, checkout, invoice, load_batch, order_status,
};

/// One flow the mix can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// `GET /orders/{id}`, a sync chain; with `cascade`, a failure climbing it.
    OrderStatus { cascade: bool },
    /// `POST /checkout` and the `OrderPlaced` fan-out.
    Checkout(Checkout),
    /// `POST /orders/{id}/fulfil` and the order saga.
    Saga(SagaOutcome),
    /// `GET /orders/{id}/invoice`, blocked across an async round trip.
    Invoice,
    /// Reporting's nightly job writing orders' table.
    Reconcile,
    /// `POST /events`: a soup of tiny clickstream events.
    PageView,
    /// `POST /webhooks/carrier`: `ShipmentDispatched` v1, or v2 which analytics fails on.
    Dispatched { v2: bool },
    /// `POST /orders/{id}/cancel`: the legacy synchronous fan-out.
    LegacyCancel,
    /// `POST /orders/{id}/return`: the return process orchestrated by orders.
    Return,
}

const PLAIN: Checkout = Checkout { kafka_id: true, duplicate: false, audit: true };

/// The first flows of every run, one of each variant.
const SHOWCASE: [FlowKind; 18] = [
    FlowKind::Checkout(PLAIN),
    FlowKind::Saga(SagaOutcome::Completed),
    FlowKind::OrderStatus { cascade: false },
    FlowKind::Saga(SagaOutcome::PaymentDeclined),
    FlowKind::Checkout(Checkout { kafka_id: true, duplicate: true, audit: false }),
    FlowKind::OrderStatus { cascade: true },
    FlowKind::Saga(SagaOutcome::ShipmentFailed),
    FlowKind::Saga(SagaOutcome::ReplyLost(1)),
    FlowKind::Checkout(Checkout { kafka_id: false, duplicate: false, audit: false }),
    FlowKind::Saga(SagaOutcome::CompensationFailed),
    FlowKind::Invoice,
    FlowKind::Saga(SagaOutcome::Completed),
    FlowKind::PageView,
    FlowKind::Dispatched { v2: false },
    FlowKind::Reconcile,
    FlowKind::LegacyCancel,
    FlowKind::Dispatched { v2: true },
    FlowKind::Return,
];

/// The seeded sequence of flows: the same seed gives the same flows, variants, gaps and
/// latencies.
#[derive(Debug)]
pub struct Mix {
    rng: Rng,
    rate: f64,
    started: usize,
}

impl Mix {
    pub fn new(seed: u64, rate: f64) -> Self {
        Self { rng: Rng::new(seed), rate, started: 0 }
    }

    /// The next flow, a generator for its latencies, and the gap before the one after.
    pub fn next_flow(&mut self) -> (FlowKind, Rng, Duration) {
        let kind = match SHOWCASE.get(self.started) {
            Some(kind) => *kind,
            None => self.draw(),
        };
        self.started += 1;
        (kind, self.rng.fork(), self.rng.gap(self.rate))
    }

    fn draw(&mut self) -> FlowKind {
        let r = &mut self.rng;
        let u = r.unit();
        if u >= 0.95 {
            // The architecture lessons, one percent each.
            return match ((u - 0.95) * 100.0) as u8 {
                0 => FlowKind::PageView,
                1 => FlowKind::Reconcile,
                2 => FlowKind::Dispatched { v2: r.chance(0.5) },
                3 => FlowKind::LegacyCancel,
                _ => FlowKind::Return,
            };
        }
        if u < 0.06 {
            FlowKind::Invoice
        } else if u < 0.29 {
            FlowKind::OrderStatus { cascade: r.chance(0.15) }
        } else if u < 0.63 {
            FlowKind::Checkout(Checkout {
                kafka_id: r.chance(0.5),
                duplicate: r.chance(0.1),
                audit: r.chance(0.35),
            })
        } else {
            let v = r.unit();
            FlowKind::Saga(if v < 0.64 {
                SagaOutcome::Completed
            } else if v < 0.78 {
                SagaOutcome::PaymentDeclined
            } else if v < 0.87 {
                SagaOutcome::ShipmentFailed
            } else if v < 0.93 {
                SagaOutcome::CompensationFailed
            } else {
                SagaOutcome::ReplyLost(r.between(1, 3) as usize)
            })
        }
    }
}

/// How many flows of each kind were started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowCounts {
    pub order_status: u64,
    pub checkouts: u64,
    pub sagas: u64,
    pub invoices: u64,
    /// The architecture lessons (reconcile, page view, dispatched, cancel, return).
    pub lessons: u64,
}

impl FlowCounts {
    pub fn total(&self) -> u64 {
        self.order_status + self.checkouts + self.sagas + self.invoices + self.lessons
    }

    fn count(&mut self, kind: FlowKind) {
        match kind {
            FlowKind::OrderStatus { .. } => self.order_status += 1,
            FlowKind::Checkout(_) => self.checkouts += 1,
            FlowKind::Saga(_) => self.sagas += 1,
            FlowKind::Invoice => self.invoices += 1,
            FlowKind::Reconcile
            | FlowKind::PageView
            | FlowKind::Dispatched { .. }
            | FlowKind::LegacyCancel
            | FlowKind::Return => self.lessons += 1,
        }
    }
}

/// The shop's traffic, running.
#[derive(Debug)]
pub struct Traffic {
    world: Arc<World>,
    stop: CancellationToken,
    launcher: JoinHandle<FlowCounts>,
    loader: JoinHandle<()>,
}

impl Traffic {
    /// Starts the mix (seeded by `seed`, `rate` flows per second) and the batch loader.
    pub fn start(world: Arc<World>, seed: u64, rate: f64) -> Self {
        let stop = CancellationToken::new();
        let mut mix = Mix::new(seed, rate);
        let loader_rng = mix.rng.fork();
        let launcher = tokio::spawn(launch(Arc::clone(&world), mix, stop.clone()));
        let loader = tokio::spawn(batch_loader(Arc::clone(&world), stop.clone(), loader_rng));
        Self { world, stop, launcher, loader }
    }

    /// Starts no more flows; finishes those in flight at once, with their planned
    /// timestamps (at most a few seconds ahead of the wall clock), and loads the last batch.
    pub async fn stop(self) -> FlowCounts {
        self.stop.cancel();
        self.world.clock.fast_forward();
        let counts = self.launcher.await.unwrap_or_else(|e| {
            report_panic(&e);
            FlowCounts::default()
        });
        if let Err(e) = self.loader.await {
            report_panic(&e);
        }
        load_batch(&self.world, self.world.clock.now(), &mut Rng::new(0)).await;
        counts
    }
}

async fn launch(w: Arc<World>, mut mix: Mix, stop: CancellationToken) -> FlowCounts {
    let mut flows = JoinSet::new();
    let mut counts = FlowCounts::default();
    let mut at = w.clock.now();
    while !stop.is_cancelled() {
        let (kind, rng, gap) = mix.next_flow();
        counts.count(kind);
        flows.spawn(run(Arc::clone(&w), kind, rng, at));
        at += gap;
        while let Some(done) = flows.try_join_next() {
            if let Err(e) = done {
                report_panic(&e);
            }
        }
        tokio::select! {
            () = w.clock.until(at) => {}
            () = stop.cancelled() => {}
        }
    }
    while let Some(done) = flows.join_next().await {
        if let Err(e) = done {
            report_panic(&e);
        }
    }
    counts
}

async fn run(w: Arc<World>, kind: FlowKind, rng: Rng, at: SystemTime) {
    match kind {
        FlowKind::OrderStatus { cascade } => order_status(w, rng, at, cascade).await,
        FlowKind::Checkout(variant) => checkout(w, rng, at, variant).await,
        FlowKind::Saga(outcome) => order_saga(w, rng, at, outcome).await,
        FlowKind::Invoice => invoice(w, rng, at).await,
        FlowKind::Reconcile => reconcile(w, rng, at).await,
        FlowKind::PageView => page_view(w, rng, at).await,
        FlowKind::Dispatched { v2 } => dispatched(w, rng, at, v2).await,
        FlowKind::LegacyCancel => legacy_cancel(w, rng, at).await,
        FlowKind::Return => order_return(w, rng, at).await,
    }
}

fn report_panic(e: &JoinError) {
    eprintln!("hopscope: demo: a simulated flow failed: {e}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_a_function_of_the_seed() {
        let flows = |seed| {
            let mut mix = Mix::new(seed, 3.0);
            (0..200)
                .map(|_| mix.next_flow())
                .map(|(k, mut r, g)| (k, r.next_u64(), g))
                .collect::<Vec<_>>()
        };
        assert_eq!(flows(1), flows(1));
        assert_ne!(flows(1), flows(2));
    }

    #[test]
    fn the_mix_follows_its_weights() {
        let mut mix = Mix::new(1, 3.0);
        let mut counts = FlowCounts::default();
        let n = 20_000;
        for _ in 0..n {
            counts.count(mix.next_flow().0);
        }
        let share = |k: u64| k as f64 / f64::from(n);
        assert!((0.32..0.40).contains(&share(counts.checkouts)), "{counts:?}");
        assert!((0.30..0.38).contains(&share(counts.sagas)), "{counts:?}");
        assert!((0.20..0.28).contains(&share(counts.order_status)), "{counts:?}");
        assert!((0.04..0.08).contains(&share(counts.invoices)), "{counts:?}");
        assert!((0.04..0.06).contains(&share(counts.lessons)), "{counts:?}");
    }

    #[test]
    fn every_variant_appears_in_the_showcase_and_the_mix() {
        let mut mix = Mix::new(42, 3.0);
        let kinds: Vec<FlowKind> = (0..2000).map(|_| mix.next_flow().0).collect();
        assert_eq!(kinds[..SHOWCASE.len()], SHOWCASE);
        for kinds in [&kinds[..SHOWCASE.len()], &kinds[SHOWCASE.len()..]] {
            let has = |f: &dyn Fn(&FlowKind) -> bool| kinds.iter().any(f);
            assert!(has(&|k| matches!(k, FlowKind::OrderStatus { cascade: true })));
            assert!(has(&|k| matches!(k, FlowKind::OrderStatus { cascade: false })));
            assert!(has(&|k| matches!(k, FlowKind::Checkout(c) if c.duplicate)));
            assert!(has(&|k| matches!(k, FlowKind::Checkout(c) if !c.kafka_id)));
            assert!(has(&|k| matches!(k, FlowKind::Checkout(c) if c.audit)));
            for outcome in [
                SagaOutcome::Completed,
                SagaOutcome::PaymentDeclined,
                SagaOutcome::ShipmentFailed,
                SagaOutcome::CompensationFailed,
            ] {
                assert!(has(&|k| *k == FlowKind::Saga(outcome)), "{outcome:?}");
            }
            assert!(has(&|k| matches!(k, FlowKind::Saga(SagaOutcome::ReplyLost(_)))));
            assert!(has(&|k| *k == FlowKind::Invoice));
            for lesson in [
                FlowKind::Reconcile,
                FlowKind::PageView,
                FlowKind::Dispatched { v2: false },
                FlowKind::Dispatched { v2: true },
                FlowKind::LegacyCancel,
                FlowKind::Return,
            ] {
                assert!(has(&|k| *k == lesson), "{lesson:?}");
            }
        }
    }
}
