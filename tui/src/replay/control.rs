//! The replay controller, which knows nothing of the terminal UI: the replay's clock
//! ([`ReplayControl`]: pause, resume, faster, slower, seek to the start), where it stands
//! ([`ReplayStatus`]), the commands the TUI sends it ([`ReplayCommand`]), and the feeder that
//! reads the files into the engine at the clock's pace ([`feed`], [`feed_from_the_start`]).
//!
//! A record's time is the latest end among its spans: when an exporter could have sent it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Result;
use hopscope_collector::engine::Ingest;
use hopscope_collector::formats::read::{ReadOptions, ReadReport, read_paths_with};
use hopscope_collector::model::Span;
use hopscope_collector::otlp::convert::Decoder;

/// Where a replay stands, as the feeder reports it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReplayStatus {
    /// The replayed time reached (unix ns).
    pub position_unix_nano: u64,
    /// Original timing × `speed`; `None` for `--instant`.
    pub speed: Option<f64>,
    pub paused: bool,
    /// Every file was read.
    pub finished: bool,
    /// Spans fed to the engine so far.
    pub spans: u64,
}

/// A command for the replay feeder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayCommand {
    TogglePause,
    Faster,
    Slower,
    /// Seek to the start: forget what was replayed and feed the files again from the top.
    Restart,
}

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
    /// Counts seeks to the start; a pass of the feeder belongs to one generation.
    generation: AtomicU64,
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
            generation: AtomicU64::new(0),
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

    /// Pauses, resumes, changes speed or seeks to the start. A seek keeps the speed and the
    /// pause; the feeder notices it ([`feed_from_the_start`]) and starts over.
    pub fn command(&self, command: ReplayCommand) {
        let now = Instant::now();
        let mut c = self.lock();
        c.re_anchor(now);
        match command {
            ReplayCommand::TogglePause => c.paused = !c.paused,
            ReplayCommand::Faster => c.speed = c.speed.map(|s| (s * 2.0).min(MAX_SPEED)),
            ReplayCommand::Slower => c.speed = c.speed.map(|s| (s / 2.0).max(MIN_SPEED)),
            ReplayCommand::Restart => {
                // Under the lock: the feeder checks the generation under it too.
                self.generation.fetch_add(1, Ordering::AcqRel);
                c.started = false;
                c.reached = 0;
                c.anchor_pos = 0;
                self.finished.store(false, Ordering::Relaxed);
                self.spans.store(0, Ordering::Relaxed);
            }
        }
        drop(c);
        self.changed.notify_all();
    }

    /// The current generation (seeks to the start so far).
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether a seek to the start or a stop made a pass of `generation` obsolete.
    fn abandoned(&self, generation: u64) -> bool {
        self.stopped() || self.generation() != generation
    }

    /// Marks the replay finished, unless a seek to the start came first.
    fn finish(&self, generation: u64) {
        let _c = self.lock();
        if self.generation() == generation {
            self.finished.store(true, Ordering::Relaxed);
        }
    }

    /// Blocks until a seek to the start leaves `generation` behind (true) or the replay is
    /// stopped (false).
    fn wait_for_restart(&self, generation: u64) -> bool {
        let mut c = self.lock();
        loop {
            if self.stopped() {
                return false;
            }
            if self.generation() != generation {
                return true;
            }
            c = self
                .changed
                .wait_timeout(c, Duration::from_millis(500))
                .map_or_else(|e| e.into_inner().0, |(g, _)| g);
        }
    }

    /// Makes the feeder give up.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.changed.notify_all();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Blocks until the replayed time reaches `t` (and the replay is not paused). False
    /// when the pass of `generation` was abandoned instead (stop, seek to the start).
    fn wait_until(&self, t: u64, generation: u64) -> bool {
        let mut c = self.lock();
        loop {
            if self.abandoned(generation) {
                return false;
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
        true
    }
}

/// Largest batch handed to the engine at once (a record may hold more spans).
const CHUNK: usize = 4096;

/// Hands `spans` to the engine, waiting for room in its queue: a replay never drops.
fn submit(ingest: &Ingest, control: &ReplayControl, generation: u64, mut spans: Vec<Span>) {
    while !spans.is_empty() {
        let rest = spans.split_off(spans.len().min(CHUNK));
        let n = spans.len();
        while !ingest.has_room(n) {
            if control.abandoned(generation) {
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

/// Reads `paths` into the engine at the control's pace, once. Returns what was read. A seek
/// to the start (or a stop) abandons the pass: the rest of the files is read but not fed.
pub fn feed(
    paths: &[PathBuf],
    decoder: &Decoder,
    ingest: &Ingest,
    control: &ReplayControl,
) -> Result<ReadReport> {
    let generation = control.generation();
    let options = ReadOptions::default();
    let report = read_paths_with(paths, decoder, options, &mut |spans: Vec<Span>| {
        if control.abandoned(generation) || spans.is_empty() {
            return;
        }
        let t = spans.iter().map(|s| s.end_unix_nano.max(s.start_unix_nano)).max().unwrap_or(0);
        if control.wait_until(t, generation) {
            submit(ingest, control, generation, spans);
        }
    })?;
    control.finish(generation);
    Ok(report)
}

/// The TUI's feeder: [`feed`], then on every seek to the start clears the engine (in order
/// with what was fed) and feeds the files again, until the replay is stopped. `on_pass`
/// gets the report of every pass that was not abandoned.
pub fn feed_from_the_start(
    paths: &[PathBuf],
    decoder: &Decoder,
    ingest: &Ingest,
    control: &ReplayControl,
    on_pass: &mut dyn FnMut(Result<ReadReport>),
) {
    loop {
        let generation = control.generation();
        let report = feed(paths, decoder, ingest, control);
        if !control.abandoned(generation) {
            on_pass(report);
        }
        if !control.wait_for_restart(generation) || !ingest.clear() {
            return;
        }
        // Spans the abandoned pass counted before the seek are gone with the clear.
        control.spans.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use hopscope_collector::engine::{Engine, EngineConfig};
    use hopscope_collector::model::Interner;

    use super::*;

    #[test]
    fn clock_follows_speed_pause_and_instant() {
        let c = ReplayControl::new(Some(1000.0));
        let start = Instant::now();
        c.wait_until(1_000_000_000, 0);
        // The first record sets the origin: no wait.
        assert!(start.elapsed() < Duration::from_millis(50));
        // 0.1 s of replayed time at 1000x: 100 µs.
        c.wait_until(1_100_000_000, 0);
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
        instant.wait_until(5, 0);
        instant.wait_until(3, 0);
        assert_eq!(instant.status().position_unix_nano, 5);
        instant.command(ReplayCommand::Faster);
        assert_eq!(instant.status().speed, None);
    }

    /// A seek to the start releases a feeder waiting for a far-off record, and the clock
    /// starts over: the next record is the new origin.
    #[test]
    fn seek_to_start_abandons_the_pass_and_resets_the_clock() {
        let c = ReplayControl::new(Some(1.0));
        assert!(c.wait_until(1_000_000_000, 0));
        let waiting = {
            let c = Arc::clone(&c);
            // An hour of replayed time away.
            std::thread::spawn(move || c.wait_until(3_601_000_000_000, 0))
        };
        std::thread::sleep(Duration::from_millis(20));
        c.command(ReplayCommand::TogglePause);
        c.command(ReplayCommand::Restart);
        let started = Instant::now();
        assert!(!waiting.join().unwrap(), "the old pass must be abandoned");
        assert!(started.elapsed() < Duration::from_secs(5));
        let status = c.status();
        assert_eq!((status.position_unix_nano, status.spans, status.finished), (0, 0, false));
        assert!(status.paused, "a seek keeps the pause");
        assert_eq!(c.generation(), 1);
        // The old generation stays abandoned; the new one starts at its first record.
        assert!(!c.wait_until(1_000_000_000, 0));
        c.command(ReplayCommand::TogglePause);
        let started = Instant::now();
        assert!(c.wait_until(5_000_000_000, 1));
        assert!(started.elapsed() < Duration::from_secs(1));
        let position = c.status().position_unix_nano;
        assert!((5_000_000_000..6_000_000_000).contains(&position), "{position}");
    }

    /// After a seek to the start the engine holds one copy of the replay, fed anew (no
    /// duplicates merged into the old one), and the feeder waits for the next seek or a stop.
    #[test]
    fn feeding_from_the_start_clears_the_engine_and_feeds_again() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/app/fixtures/shop.otlp.jsonl");
        let interner = Arc::new(Interner::new());
        let engine = Engine::start(&EngineConfig::default(), Arc::clone(&interner)).unwrap();
        let stats = Arc::clone(engine.stats());
        let control = ReplayControl::new(None);
        let (tx, rx) = std::sync::mpsc::channel();
        let feeder = {
            let (ingest, control) = (engine.ingest(), Arc::clone(&control));
            std::thread::spawn(move || {
                feed_from_the_start(
                    &[path],
                    &Decoder::new(interner),
                    &ingest,
                    &control,
                    &mut |r| {
                        tx.send(r.unwrap().spans).unwrap();
                    },
                );
            })
        };
        let eventually = |what: &str, ok: &dyn Fn() -> bool| {
            let started = Instant::now();
            while !ok() {
                assert!(started.elapsed() < Duration::from_secs(10), "never: {what}");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        let pass = Duration::from_secs(10);
        assert_eq!(rx.recv_timeout(pass).unwrap(), 52);
        eventually("first pass stored", &|| stats.snapshot().stored == 52);
        assert!(control.status().finished);

        control.command(ReplayCommand::Restart);
        assert_eq!(rx.recv_timeout(pass).unwrap(), 52);
        eventually("second pass stored", &|| {
            let s = stats.snapshot();
            s.accepted == 104 && s.stored == 52
        });
        assert_eq!(stats.snapshot().duplicates, 0, "the first pass was cleared");
        let status = control.status();
        assert!(status.finished);
        assert_eq!(status.spans, 52);

        control.stop();
        feeder.join().unwrap();
        assert!(rx.try_recv().is_err());
        engine.shutdown().unwrap();
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
