//! `hopscope demo`: the embedded collector fed by a simulated, event-driven shop.
//!
//! Ten services (gateway, orders, inventory, payments, shipping, notifications,
//! analytics, loyalty, reporting, tracking) run in-process, each instrumented with the OpenTelemetry SDK under
//! its own `service.name` and exporting OTLP/gRPC to the embedded collector's actual
//! address (or, with `--export-only`, to any collector). Their traffic mixes every shape
//! hopscope stitches: sync call chains, Kafka and RabbitMQ hops (child-of and linked), a
//! fan-out, a batch consumer, the order saga in all its endings, a slow consumer, a
//! destination nobody reads, a duplicate delivery, a cascade failure and a request blocked
//! on an async round trip; and the architecture lessons: choreography (the checkout) and
//! orchestration (the saga, the return), a god orchestrator, event soup, an event schema
//! rolled out that a consumer fails on, a distributed monolith and a synchronous fan-out.
//!
//! - [`shop`]: services and their SDK wiring; HTTP and database span helpers.
//! - [`broker`]: the simulated Kafka and RabbitMQ, and messaging attributes.
//! - [`scenarios`]: the world the flows run in; checkout, order status, invoice, batch
//!   loader.
//! - [`saga`]: the order saga.
//! - [`patterns`]: the architecture lessons (reconcile, page view, dispatched, legacy
//!   cancel, return).
//! - [`traffic`]: the seeded mix of flows and its lifecycle.
//! - [`clock`]: planned timestamps, fast-forward on stop (chance: the collector's seeded
//!   [`Rng`](hopscope_collector::fake::Rng)).
//!
//! Stopping (end of `--duration`, Ctrl-C, SIGTERM) starts no more flows, finishes those in
//! flight at once with their planned timestamps, flushes the SDK providers, and only then
//! stops the collector, so the recording holds every span the shop finished.

mod broker;
mod clock;
mod patterns;
mod saga;
mod scenarios;
mod shop;
mod traffic;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use hopscope_collector::analysis::DEFAULT_STUCK_AFTER;
use hopscope_collector::engine::Stats;
use hopscope_collector::engine::views::{ClockMode, ViewConfig};
use hopscope_collector::fake::Rng;
use tokio_util::sync::CancellationToken;

use crate::cli::DemoArgs;
use crate::config::{self, DemoSettings};
use crate::serve::{Collector, StopSignals, stats_line};
use scenarios::World;
use shop::{ExportTally, Service, Shop};
use traffic::Traffic;

/// Runs the demo until the end of `--duration`, Ctrl-C or SIGTERM.
pub async fn run(args: DemoArgs) -> Result<ExitCode> {
    let settings = config::demo(&args)?;
    // Before anything is printed: a signal right after the listen lines must stop the demo
    // cleanly (flushing the recording), not kill it with the default action.
    let signals = if settings.headless || settings.export_only {
        Some(StopSignals::register()?)
    } else {
        None
    };
    if !settings.headless && !settings.export_only {
        crate::app::require_terminal("add --headless to run the demo without it")?;
    }
    let seed = settings.seed.unwrap_or_else(|| fresh_u64() % 1_000_000);
    let run_id = fresh_u64();

    let collector = if settings.export_only {
        None
    } else {
        let collector = Collector::start(&settings.collector, settings.record.clone()).await?;
        eprintln!("hopscope: OTLP/gRPC listening on {}", collector.receivers.grpc_addr);
        eprintln!("hopscope: OTLP/HTTP listening on {}", collector.receivers.http_addr);
        if let Some(path) = &settings.record {
            eprintln!("hopscope: recording to {}", path.display());
        }
        Some(collector)
    };
    let endpoint = match &collector {
        Some(c) => Some(format!("http://{}", dialable(c.receivers.grpc_addr))),
        None => settings.endpoint.clone(),
    };
    let shop = Shop::connect(endpoint.as_deref(), &format!("{run_id:08x}"))?;
    eprintln!(
        "hopscope: demo: {} services exporting OTLP/gRPC to {}; {} flows/s, seed {seed}",
        Service::ALL.len(),
        endpoint
            .as_deref()
            .unwrap_or("the OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4317)"),
        settings.rate,
    );
    let world = Arc::new(World::new(shop, run_id));
    let traffic = Traffic::start(Arc::clone(&world), seed, settings.rate);

    let progress = Progress {
        collector: collector.as_ref().map(|c| Arc::clone(c.engine.stats())),
        tally: Arc::clone(&world.shop.tally),
    };
    let watched = match &collector {
        Some(collector) if !settings.headless => terminal_ui(collector, &settings, progress).await,
        _ => headless(&settings, progress, signals).await,
    };

    eprintln!("hopscope: shutting down");
    let flows = traffic.stop().await;
    let flushed = world.shop.flush_and_shutdown().await;
    if let Some(collector) = collector {
        let summary = collector.stop().await?;
        eprintln!("{}", stats_line(&summary.stats, 0));
    }
    let tally = &world.shop.tally;
    eprintln!(
        "hopscope: demo: {} flows ({} checkouts, {} sagas, {} order lookups, {} invoices, \
         {} architecture lessons), {} spans exported",
        flows.total(),
        flows.checkouts,
        flows.sagas,
        flows.order_status,
        flows.invoices,
        flows.lessons,
        tally.exported(),
    );
    watched?;
    let failed = tally.failed();
    if failed > 0 {
        let why = tally.take_error().unwrap_or_default();
        eprintln!("hopscope: demo: {failed} spans could not be exported: {why}");
    } else if let Err(e) = &flushed {
        eprintln!("hopscope: demo: {e:#}");
    }
    Ok(if tally.exported() == 0 && (failed > 0 || flushed.is_err()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The terminal UI over the embedded collector, until the user quits, Ctrl-C, SIGTERM or
/// the end of `--duration`. Its header replaces the headless stats line.
async fn terminal_ui(
    collector: &Collector,
    settings: &DemoSettings,
    _progress: Progress,
) -> Result<()> {
    let mode = crate::app::Mode::Demo {
        grpc: collector.receivers.grpc_addr.to_string(),
        http: collector.receivers.http_addr.to_string(),
    };
    let config = ViewConfig {
        clock: ClockMode::Live,
        stuck_after: settings.stuck_after.unwrap_or(DEFAULT_STUCK_AFTER),
        ..ViewConfig::default()
    };
    let duration = settings.duration;
    let until = async move {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    crate::app::show_until(mode, collector.engine.views(), None, config, until).await
}

/// Prints progress on stderr until the end of `--duration`, Ctrl-C or SIGTERM.
async fn headless(
    settings: &DemoSettings,
    progress: Progress,
    signals: Option<StopSignals>,
) -> Result<()> {
    let signals = match signals {
        Some(s) => s,
        None => StopSignals::register()?,
    };
    let stop = CancellationToken::new();
    let ticker = tokio::spawn(progress.print_every(settings.stats_interval, stop.clone()));
    let waited = match settings.duration {
        Some(duration) => tokio::select! {
            r = signals.recv() => r,
            () = tokio::time::sleep(duration) => Ok(()),
        },
        None => signals.recv().await,
    };
    stop.cancel();
    ticker.await.ok();
    waited
}

/// What the headless demo reports every few seconds: the collector's stats line (as
/// `serve` prints it) or, exporting elsewhere, what the exporters sent; and export errors.
struct Progress {
    collector: Option<Arc<Stats>>,
    tally: Arc<ExportTally>,
}

impl Progress {
    async fn print_every(self, every: Duration, stop: CancellationToken) {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        let mut last = (Instant::now(), self.count());
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = self.count();
            let secs = last.0.elapsed().as_secs_f64();
            let rate = if secs > 0.0 { (now - last.1) as f64 / secs } else { 0.0 };
            last = (Instant::now(), now);
            match &self.collector {
                Some(stats) => eprintln!("{}", stats_line(&stats.snapshot(), rate.round() as u64)),
                None => eprintln!(
                    "demo: exported={} failed={} spans_per_sec={}",
                    self.tally.exported(),
                    self.tally.failed(),
                    rate.round() as u64
                ),
            }
            if let Some(error) = self.tally.take_error() {
                eprintln!("hopscope: demo: export failed: {error}");
            }
        }
    }

    /// Spans in so far: accepted by the collector, or acknowledged by the remote one.
    fn count(&self) -> u64 {
        match &self.collector {
            Some(stats) => stats.snapshot().accepted,
            None => self.tally.exported(),
        }
    }
}

/// An address to connect to for one we listen on: the unspecified address (`0.0.0.0`,
/// `::`) becomes loopback.
fn dialable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// A number that differs between runs (seed and id defaults).
fn fresh_u64() -> u64 {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let mut rng = Rng::new(nanos.as_nanos() as u64 ^ (u64::from(std::process::id()) << 40));
    rng.next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listen_addresses_are_dialled_on_loopback() {
        let v4: SocketAddr = "0.0.0.0:4317".parse().unwrap();
        assert_eq!(dialable(v4).to_string(), "127.0.0.1:4317");
        let v6: SocketAddr = "[::]:4317".parse().unwrap();
        assert_eq!(dialable(v6).to_string(), "[::1]:4317");
        let set: SocketAddr = "10.1.2.3:9".parse().unwrap();
        assert_eq!(dialable(set), set);
    }
}
