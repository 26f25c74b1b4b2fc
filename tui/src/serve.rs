//! `hopscope serve`: the collector without a terminal UI.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hopscope_collector::engine::{Engine, EngineConfig, EngineSummary, Stats};
use hopscope_collector::formats::record::RecordOptions;
use hopscope_collector::ingest::{ReceiverConfig, Receivers};
use hopscope_collector::model::Interner;
use hopscope_collector::otlp::convert::Decoder;
use tokio_util::sync::CancellationToken;

use crate::cli::ServeArgs;
use crate::config::{self, CollectorSettings};

/// The embedded collector, running: engine thread plus both receivers.
pub struct Collector {
    pub engine: Engine,
    pub receivers: Receivers,
    shutdown: CancellationToken,
}

impl Collector {
    /// Starts the engine (recording to `record` if given) and binds both receivers.
    pub async fn start(settings: &CollectorSettings, record: Option<PathBuf>) -> Result<Self> {
        for (protocol, flag, addr) in
            [("gRPC", "grpc", settings.grpc), ("HTTP", "http", settings.http)]
        {
            if !addr.ip().is_loopback() {
                eprintln!(
                    "hopscope: warning: OTLP/{protocol} listens on {addr}, reachable from other \
                     machines{}; --{flag} 127.0.0.1:{} keeps it local",
                    if settings.auth_token.is_some() {
                        ""
                    } else {
                        " by anyone (set HOPSCOPE_AUTH_TOKEN to require a token)"
                    },
                    addr.port()
                );
            }
        }
        let interner = Arc::new(Interner::new());
        let engine = Engine::start(&engine_config(settings, record), Arc::clone(&interner))?;
        let shutdown = CancellationToken::new();
        let receivers = Receivers::start(
            &receiver_config(settings),
            Decoder::new(interner),
            engine.ingest(),
            shutdown.clone(),
        )
        .await?;
        Ok(Self { engine, receivers, shutdown })
    }

    /// A token cancelled when the collector begins to stop.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting, gives in-flight requests a few seconds, then drains the engine's
    /// queue and flushes the recording.
    pub async fn stop(self) -> Result<EngineSummary> {
        self.shutdown.cancel();
        // Exporters keep connections open; in-flight requests get a few seconds to finish.
        if let Ok(result) =
            tokio::time::timeout(Duration::from_secs(5), self.receivers.wait()).await
        {
            result?;
        }
        let engine = self.engine;
        Ok(tokio::task::spawn_blocking(move || engine.shutdown())
            .await
            .context("engine shutdown")??)
    }
}

/// Runs until SIGINT or SIGTERM, then stops accepting, flushes the recording and exits 0.
pub async fn run(args: ServeArgs) -> Result<ExitCode> {
    let settings = match config::serve(&args) {
        Ok(settings) => settings,
        Err(e) if config::is_usage_error(&e) => {
            eprintln!("hopscope: error: {e:#}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e),
    };
    // Before anything is printed: a signal sent as soon as the listen lines appear must stop
    // the server cleanly, not kill it with the default action.
    let signals = StopSignals::register()?;
    let collector = Collector::start(&settings.collector, settings.record.clone()).await?;
    if settings.collector.tls.is_some() {
        eprintln!("hopscope: TLS on both receivers (exporters use https:// endpoints)");
    }
    eprintln!("hopscope: OTLP/gRPC listening on {}", collector.receivers.grpc_addr);
    eprintln!("hopscope: OTLP/HTTP listening on {}", collector.receivers.http_addr);
    if let Some(path) = &settings.record {
        eprintln!("hopscope: recording to {}", path.display());
    }

    let stats = Arc::clone(collector.engine.stats());
    let ticker =
        tokio::spawn(print_stats(stats, settings.stats_interval, collector.shutdown_token()));

    signals.recv().await?;
    eprintln!("hopscope: shutting down");
    let summary = collector.stop().await?;
    ticker.await.ok();
    eprintln!("{}", stats_line(&summary.stats, 0));
    Ok(ExitCode::SUCCESS)
}

pub fn engine_config(c: &CollectorSettings, record: Option<PathBuf>) -> EngineConfig {
    EngineConfig {
        max_memory: c.max_memory,
        queue_spans: c.ingest_queue,
        record: record.map(|path| RecordOptions {
            path,
            sync: c.record_sync,
            max_size: c.record_max_size,
            max_files: c.record_max_files,
        }),
        batch_delay: c.debug_engine_delay,
    }
}

pub fn receiver_config(c: &CollectorSettings) -> ReceiverConfig {
    ReceiverConfig {
        grpc: c.grpc,
        http: c.http,
        max_request: usize::try_from(c.max_request).unwrap_or(usize::MAX),
        auth_token: c.auth_token.as_deref().map(hopscope_collector::ingest::AuthToken::new),
        tls: c.tls.clone(),
        limits: c.limits.clone(),
    }
}

/// SIGINT and SIGTERM handlers, installed when registered: from then on either signal is
/// caught (and waits for [`StopSignals::recv`]) instead of killing the process.
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers now. Must run inside the tokio runtime.
    pub fn register() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
                terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for SIGINT or SIGTERM (Ctrl-C elsewhere).
    pub async fn recv(mut self) -> Result<()> {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.context("cannot listen for Ctrl-C")?;
        Ok(())
    }
}

/// Installs the SIGINT/SIGTERM handlers and waits for either (see [`StopSignals`] to install
/// them earlier than the wait).
pub async fn wait_for_signal() -> Result<()> {
    StopSignals::register()?.recv().await
}

/// The stats line, in exactly the form scripts read.
pub fn stats_line(s: &hopscope_collector::engine::StatsSnapshot, spans_per_sec: u64) -> String {
    format!(
        "stats: received={} stored={} refused={} evicted={} rss_bytes={} spans_per_sec={} \
         header_timeouts={} body_timeouts={} idle_closed={} ping_timeouts={} limit_closed={}",
        s.received,
        s.stored,
        s.refused,
        s.evicted,
        rss_bytes().unwrap_or(0),
        spans_per_sec,
        s.header_timeouts,
        s.body_timeouts,
        s.idle_closed,
        s.ping_timeouts,
        s.limit_closed,
    )
}

async fn print_stats(stats: Arc<Stats>, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    let mut last = (Instant::now(), stats.snapshot().accepted);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = stats.snapshot();
        let secs = last.0.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { (now.accepted - last.1) as f64 / secs } else { 0.0 };
        eprintln!("{}", stats_line(&now, rate.round() as u64));
        last = (Instant::now(), now.accepted);
    }
}

/// Resident set size of this process, from /proc (Linux); `None` elsewhere.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
