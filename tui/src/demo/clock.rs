//! Time and chance for the simulated shop.
//!
//! Every span gets explicit start and end timestamps planned by its scenario (so a few real
//! seconds hold realistic latencies, and nothing depends on scheduler jitter), and is ended
//! when the wall clock reaches its planned end ([`Clock::until`]), so the spans reach the
//! collector as they would from a live system: timestamps stay near the wall clock, which
//! is what live mode's event clock reads. When the demo stops, [`Clock::fast_forward`]
//! makes every wait return at once: flows in flight finish immediately, with the same
//! planned timestamps.
//!
//! Chance comes from [`Rng`](hopscope_collector::fake::Rng), the collector's seeded generator (SplitMix64): the same seed
//! gives the same mix of flows, variants and latencies.

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

/// The demo's clock: the wall clock, plus a switch that ends every wait.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    fast_forward: CancellationToken,
}

impl Clock {
    #[expect(clippy::unused_self, reason = "flows read time through their clock")]
    pub fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    /// Waits until the wall clock reaches `at` (returns at once if it has, or when
    /// fast-forwarding).
    pub async fn until(&self, at: SystemTime) {
        let Ok(wait) = at.duration_since(SystemTime::now()) else { return };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = self.fast_forward.cancelled() => {}
        }
    }

    /// From now on every [`Clock::until`] returns at once.
    pub fn fast_forward(&self) {
        self.fast_forward.cancel();
    }
}

/// `n` milliseconds.
pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One network traversal inside the data centre.
pub const NET: Duration = Duration::from_micros(400);

#[cfg(test)]
mod tests {
    use hopscope_collector::fake::Rng;

    use super::*;

    #[test]
    fn same_seed_same_draws() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::new(8).next_u64(), xs[0]);
    }

    #[test]
    fn draws_stay_in_range() {
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            assert!((5..9).contains(&r.between(5, 9)));
            let l = r.latency(ms(10));
            assert!(l >= ms(1) && l <= ms(80), "{l:?}");
            let g = r.gap(4.0);
            assert!(g >= Duration::from_secs_f64(0.0125) && g <= Duration::from_secs(1), "{g:?}");
        }
    }

    #[tokio::test]
    async fn fast_forward_ends_waits() {
        let clock = Clock::default();
        let far = SystemTime::now() + Duration::from_secs(3600);
        let waiting = tokio::spawn({
            let clock = clock.clone();
            async move { clock.until(far).await }
        });
        clock.fast_forward();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("fast-forward ends the wait")
            .unwrap();
        clock.until(far).await;
    }
}
