//! `hopscope replay FILE... [--speed N | --instant]`: the TUI over recorded files.
//!
//! A feeder thread reads the files in order (any format `read_paths` knows) and hands each
//! record's spans to the engine, waiting between records for the original gap scaled by the
//! speed, so lag builds up and sagas get stuck as they did live. The engine's event clock
//! follows the replayed data (its watermark). The TUI steers the feeder through
//! [`ReplayControl`]: pause, resume, faster, slower. `--instant` feeds everything at once.
//!
//! A record's time is the latest end among its spans: when an exporter could have sent it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use hopscope_collector::engine::views::{ClockMode, ViewConfig};
use hopscope_collector::engine::{Engine, EngineConfig, Ingest};
use hopscope_collector::formats::read::{ProgressMode, ReadOptions, ReadReport, read_paths_with};
use hopscope_collector::ingest::convert::Decoder;
use hopscope_collector::model::{Interner, Span};

use crate::app::state::{ReplayCommand, ReplayStatus};
use crate::app::{self, Mode};
use crate::cli::ReplayArgs;

/// Slowest and fastest replay speeds `+`/`-` reach.
const MIN_SPEED: f64 = 1.0 / 64.0;
const MAX_SPEED: f64 = 4096.0;

#[derive(Debug)]
struct Clock {
    /// `None`: instant.
    speed: Option<f64>,
    paused: bool,
    /// Replayed time at `anchor_wall`.
    anchor_pos: u64,
    anchor_wall: Instant,
    started: bool,
    /// The latest record time handed on.
    reached: u64,
}

impl Clock {
    fn position(&self, now: Instant) -> u64 {
        match self.speed {
            Some(speed) if self.started && !self.paused => {
                let ns = now.duration_since(self.anchor_wall).as_nanos() as f64 * speed;
                self.anchor_pos.saturating_add(ns as u64)
            }
            Some(_) if self.started => self.anchor_pos,
            _ => self.reached,
        }
    }

    fn re_anchor(&mut self, now: Instant) {
        self.anchor_pos = self.position(now);
        self.anchor_wall = now;
    }
}

/// Shared between the feeder and the TUI: the replay's clock and progress.
#[derive(Debug)]
pub struct ReplayControl {
    clock: Mutex<Clock>,
    changed: Condvar,
    spans: AtomicU64,
    finished: AtomicBool,
    stop: AtomicBool,
}

impl ReplayControl {
    /// A replay at `speed` × the original timing (`None`: instant).
    pub fn new(speed: Option<f64>) -> Arc<Self> {
        Arc::new(Self {
            clock: Mutex::new(Clock {
                speed,
                paused: false,
                anchor_pos: 0,
                anchor_wall: Instant::now(),
                started: false,
                reached: 0,
            }),
            changed: Condvar::new(),
            spans: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Clock> {
        self.clock.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where the replay stands now.
    pub fn status(&self) -> ReplayStatus {
        let c = self.lock();
        let finished = self.finished.load(Ordering::Relaxed);
        ReplayStatus {
            position_unix_nano: if finished { c.reached } else { c.position(Instant::now()) },
            speed: c.speed,
            paused: c.paused,
            finished,
            spans: self.spans.load(Ordering::Relaxed),
        }
    }

    /// Pauses, resumes or changes speed.
    pub fn command(&self, command: ReplayCommand) {
        let now = Instant::now();
        let mut c = self.lock();
        c.re_anchor(now);
        match command {
            ReplayCommand::TogglePause => c.paused = !c.paused,
            ReplayCommand::Faster => c.speed = c.speed.map(|s| (s * 2.0).min(MAX_SPEED)),
            ReplayCommand::Slower => c.speed = c.speed.map(|s| (s / 2.0).max(MIN_SPEED)),
        }
        drop(c);
        self.changed.notify_all();
    }

    /// Makes the feeder give up.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.changed.notify_all();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Blocks until the replayed time reaches `t` (and the replay is not paused).
    fn wait_until(&self, t: u64) {
        let mut c = self.lock();
        loop {
            if self.stopped() {
                return;
            }
            let now = Instant::now();
            if !c.started {
                c.started = true;
                c.anchor_pos = t;
                c.anchor_wall = now;
            }
            let wait = match c.speed {
                _ if c.paused => Duration::from_millis(100),
                None => break,
                Some(speed) => {
                    let pos = c.position(now);
                    if pos >= t {
                        break;
                    }
                    Duration::from_nanos(((t - pos) as f64 / speed) as u64)
                        .min(Duration::from_millis(100))
                }
            };
            c = self.changed.wait_timeout(c, wait).map_or_else(|e| e.into_inner().0, |(g, _)| g);
        }
        c.reached = c.reached.max(t);
    }
}

/// Largest batch handed to the engine at once (a record may hold more spans).
const CHUNK: usize = 4096;

/// Hands `spans` to the engine, waiting for room in its queue: a replay never drops.
fn submit(ingest: &Ingest, control: &ReplayControl, mut spans: Vec<Span>) {
    while !spans.is_empty() {
        let rest = spans.split_off(spans.len().min(CHUNK));
        let n = spans.len();
        while !ingest.has_room(n) {
            if control.stopped() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // Only this thread feeds the engine, so the room it saw is still there.
        if ingest.submit_spans(spans).is_ok() {
            control.spans.fetch_add(n as u64, Ordering::Relaxed);
        }
        spans = rest;
    }
}

/// Reads `paths` into the engine at the control's pace. Returns what was read.
pub fn feed(
    paths: &[PathBuf],
    decoder: &Decoder,
    ingest: &Ingest,
    control: &ReplayControl,
) -> Result<ReadReport> {
    let options = ReadOptions { progress: ProgressMode::Never };
    let report = read_paths_with(paths, decoder, options, &mut |spans: Vec<Span>| {
        if control.stopped() || spans.is_empty() {
            return;
        }
        let t = spans.iter().map(|s| s.end_unix_nano.max(s.start_unix_nano)).max().unwrap_or(0);
        control.wait_until(t);
        submit(ingest, control, spans);
    })?;
    control.finished.store(true, Ordering::Relaxed);
    Ok(report)
}

/// Runs `hopscope replay`.
pub async fn run(args: ReplayArgs) -> Result<ExitCode> {
    for path in &args.files {
        if path.as_os_str() != "-" && !path.exists() {
            eprintln!("hopscope: cannot read {}: no such file or directory", path.display());
            return Ok(ExitCode::from(2));
        }
    }
    app::require_terminal("run `hopscope analyze FILE...` for a report without one")?;
    let speed = if args.instant { None } else { Some(args.speed.unwrap_or(1.0)) };
    if let Some(s) = speed
        && !(s > 0.0 && s.is_finite())
    {
        bail!("--speed must be a positive number, not {s}");
    }
    let interner = Arc::new(Interner::new());
    let config =
        EngineConfig { max_memory: args.max_memory.unwrap_or(1 << 30), ..EngineConfig::default() };
    let engine = Engine::start(&config, Arc::clone(&interner))?;
    let control = ReplayControl::new(speed);
    let report: Arc<Mutex<Option<Result<ReadReport>>>> = Arc::default();
    {
        let (ingest, control, report) =
            (engine.ingest(), Arc::clone(&control), Arc::clone(&report));
        let files = args.files.clone();
        let decoder = Decoder::new(interner);
        // Not joined: on quit the process exits whatever the feeder is doing.
        std::thread::Builder::new().name("hopscope-replay".into()).spawn(move || {
            let r = feed(&files, &decoder, &ingest, &control);
            *report.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r);
        })?;
    }
    let names: Vec<String> = args.files.iter().map(|p| p.display().to_string()).collect();
    let view_config = ViewConfig {
        clock: ClockMode::Replay,
        stuck_after: args.stuck_after.unwrap_or(hopscope_collector::analysis::DEFAULT_STUCK_AFTER),
        ..ViewConfig::default()
    };
    let shown = app::show(
        Mode::Replay { files: names.join(" ") },
        engine.views(),
        Some(Arc::clone(&control)),
        view_config,
    )
    .await;
    control.stop();
    shown?;
    let report = report.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    match report {
        Some(Ok(r)) => {
            for p in &r.problems {
                eprintln!("hopscope: {p}");
            }
            if r.skipped > 0 {
                eprintln!("hopscope: {} records skipped", r.skipped);
            }
            if r.is_empty() {
                eprintln!("hopscope: nothing could be read from {}", names.join(" "));
                return Ok(ExitCode::from(2));
            }
        }
        Some(Err(e)) => {
            eprintln!("hopscope: {e:#}");
            return Ok(ExitCode::from(2));
        }
        None => {}
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_follows_speed_pause_and_instant() {
        let c = ReplayControl::new(Some(1000.0));
        let start = Instant::now();
        c.wait_until(1_000_000_000);
        // The first record sets the origin: no wait.
        assert!(start.elapsed() < Duration::from_millis(50));
        // 0.1 s of replayed time at 1000x: 100 µs.
        c.wait_until(1_100_000_000);
        assert!(c.status().position_unix_nano >= 1_100_000_000);
        c.command(ReplayCommand::TogglePause);
        assert!(c.status().paused);
        let p = c.status().position_unix_nano;
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(c.status().position_unix_nano, p);
        c.command(ReplayCommand::TogglePause);
        c.command(ReplayCommand::Faster);
        assert_eq!(c.status().speed, Some(2000.0));
        c.command(ReplayCommand::Slower);
        c.command(ReplayCommand::Slower);
        assert_eq!(c.status().speed, Some(500.0));

        let instant = ReplayControl::new(None);
        instant.wait_until(5);
        instant.wait_until(3);
        assert_eq!(instant.status().position_unix_nano, 5);
        instant.command(ReplayCommand::Faster);
        assert_eq!(instant.status().speed, None);
    }

    /// The shop fixture spans 61 s between its first and last record: at 200x it replays in
    /// about 0.3 s, and the engine gets every span.
    #[test]
    fn feeding_keeps_the_original_gaps_scaled_by_speed() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/app/fixtures/shop.otlp.jsonl");
        let interner = Arc::new(Interner::new());
        let engine = Engine::start(&EngineConfig::default(), Arc::clone(&interner)).unwrap();
        let control = ReplayControl::new(Some(200.0));
        let started = Instant::now();
        let report = feed(
            std::slice::from_ref(&path),
            &Decoder::new(Arc::clone(&interner)),
            &engine.ingest(),
            &control,
        )
        .unwrap();
        let took = started.elapsed();
        assert_eq!(report.spans, 52);
        assert!(control.status().finished);
        assert_eq!(control.status().spans, 52);
        let expected = Duration::from_millis(61_060 - 120) / 200;
        assert!(took >= expected.mul_f64(0.9) && took <= expected * 3, "{took:?} for {expected:?}");
        // Instant: no waiting at all.
        let control = ReplayControl::new(None);
        let started = Instant::now();
        feed(&[path], &Decoder::new(interner), &engine.ingest(), &control).unwrap();
        assert!(started.elapsed() < expected / 2);
        let summary = engine.shutdown().unwrap();
        assert_eq!(summary.stats.accepted, 104);
    }
}
