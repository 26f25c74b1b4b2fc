//! The engine: one thread that owns the span store and the linker, fed by the receivers over
//! a bounded queue.
//!
//! Receivers never wait on the engine: [`Ingest::submit_spans`] either queues a batch at once
//! or refuses it ([`Refused`]) when the queue is full, and the refusal is counted. Accepted
//! spans are written to the recording (`--record`) by the receiver before it answers, so
//! every acknowledged span is in the recording even if the store evicts it later.
//!
//! # The memory budget
//!
//! [`EngineConfig::max_memory`] bounds, together, by the estimates of [`Span::approx_bytes`]
//! and the linker's own estimate:
//!
//! - spans waiting in the ingest queue: at most 1/[`QUEUE_SHARE`] of the budget, refused
//!   past it (one batch larger than that is taken when the queue is empty);
//! - the linker's records and indexes, and the interned strings;
//! - the store, which evicts the oldest traces down to what the others leave of the budget
//!   (the budget, less the queue's whole share, the linker and the interner).
//!
//! Outside the budget, so the process's resident memory can exceed it by (SECURITY.md states
//! the figures): the allocator's own overhead and retained free pages; the runtime, its
//! threads and socket buffers; requests being received and decoded, before they reach the
//! queue (each up to `--max-request` of body, and about as much again once decoded); the
//! recorder's buffers (1 MiB, one encoded batch per request being written, and the hashes
//! of the last 1024 lines); evicted spans waiting to be freed on
//! their own thread (at most [`crate::store::FREEING_BYTES`], 8 MiB, and a 256 KiB batch);
//! and, with a terminal UI, the published views.
//!
//! # Where things are
//!
//! - this file: the configuration, the shared counters ([`Stats`]), the receivers' handle
//!   ([`Ingest`]) and its bounded queue, the [`Engine`] handle, and the engine thread's loop
//!   (storing, linking, evicting, then serving views);
//! - [`views`]: the read-only views the thread publishes for user interfaces: their data
//!   (`views/types.rs`), how they are built (`views/build.rs`), and when and how they are
//!   published (`views/publish.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::analysis::live::LiveAnalysis;
use crate::formats::record::{RecordOptions, Recorder};
use crate::link::Linker;
use crate::model::{Interner, LogRecord, Span};
use crate::store::{Inserted, SpanStore};

pub mod views;

/// How the engine is set up.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Memory budget, in bytes, of the ingest queue, the linker and the store together (see
    /// the module documentation).
    pub max_memory: u64,
    /// Spans that may wait between the receivers and the engine before receivers refuse.
    pub queue_spans: usize,
    /// Where and how to record accepted spans as OTLP JSON lines (the receivers write them
    /// before answering; see [`crate::formats::record`]).
    pub record: Option<RecordOptions>,
    /// Test hook: the engine sleeps this long after each batch, to make the queue fill.
    pub batch_delay: Option<Duration>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { max_memory: 1 << 30, queue_spans: 1 << 20, record: None, batch_delay: None }
    }
}

/// Counters shared by the receivers, the engine and whoever reports them.
#[derive(Debug, Default)]
pub struct Stats {
    /// Valid spans that arrived, accepted or refused.
    pub received: AtomicU64,
    /// Spans queued for the engine.
    pub accepted: AtomicU64,
    /// Spans refused because the queue was full (the client was told to retry).
    pub refused: AtomicU64,
    /// Spans rejected as invalid (bad ids); reported through partial_success.
    pub rejected: AtomicU64,
    /// Spans held in the store now.
    pub stored: AtomicU64,
    /// Spans evicted from the store to stay within the memory budget.
    pub evicted: AtomicU64,
    /// Resent spans merged into stored ones.
    pub duplicates: AtomicU64,
    /// Log records received.
    pub logs: AtomicU64,
    /// Log records refused because the queue was full (the client was told to retry).
    pub refused_logs: AtomicU64,
    /// Metric data points received (counted only).
    pub metric_points: AtomicU64,
    /// Estimated bytes held by the store.
    pub store_bytes: AtomicU64,
    /// Spans written to the recording.
    pub recorded: AtomicU64,
    /// Estimated bytes held by the linker (and the interned strings).
    pub linker_bytes: AtomicU64,
    /// Estimated bytes of the spans and log records waiting in the ingest queue.
    pub queued_bytes: AtomicU64,
    /// Connections closed by the receivers' limits ([`crate::ingest::conn`]): headers not
    /// sent in time; a body that stopped making progress (the request is answered with an
    /// error); no request for the idle time; an HTTP/2 ping unanswered; the oldest idle one
    /// closed to stay within the connection limit.
    pub header_timeouts: AtomicU64,
    pub body_timeouts: AtomicU64,
    pub idle_closed: AtomicU64,
    pub ping_timeouts: AtomicU64,
    pub limit_closed: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub received: u64,
    pub accepted: u64,
    pub refused: u64,
    pub rejected: u64,
    pub stored: u64,
    pub evicted: u64,
    pub duplicates: u64,
    pub logs: u64,
    pub refused_logs: u64,
    pub metric_points: u64,
    pub store_bytes: u64,
    pub recorded: u64,
    pub linker_bytes: u64,
    pub queued_bytes: u64,
    pub header_timeouts: u64,
    pub body_timeouts: u64,
    pub idle_closed: u64,
    pub ping_timeouts: u64,
    pub limit_closed: u64,
}

impl Stats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            received: r(&self.received),
            accepted: r(&self.accepted),
            refused: r(&self.refused),
            rejected: r(&self.rejected),
            stored: r(&self.stored),
            evicted: r(&self.evicted),
            duplicates: r(&self.duplicates),
            logs: r(&self.logs),
            refused_logs: r(&self.refused_logs),
            metric_points: r(&self.metric_points),
            store_bytes: r(&self.store_bytes),
            recorded: r(&self.recorded),
            linker_bytes: r(&self.linker_bytes),
            queued_bytes: r(&self.queued_bytes),
            header_timeouts: r(&self.header_timeouts),
            body_timeouts: r(&self.body_timeouts),
            idle_closed: r(&self.idle_closed),
            ping_timeouts: r(&self.ping_timeouts),
            limit_closed: r(&self.limit_closed),
        }
    }
}

/// A batch refused because the engine's queue is full (or, with `recording_failed`, because
/// the recording could not be written); the client should retry later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}; retry after {retry_after:?}",
    if *recording_failed {
        "hopscope cannot write its recording (--record)".to_owned()
    } else {
        format!("hopscope's ingest queue is full ({queued} spans waiting)")
    }
)]
pub struct Refused {
    pub queued: usize,
    pub retry_after: Duration,
    pub recording_failed: bool,
}

/// How long a refused client should wait before retrying.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Spans waiting in the ingest queue may take 1/`QUEUE_SHARE` of the memory budget.
pub const QUEUE_SHARE: u64 = 8;

enum Msg {
    /// Spans, the estimated bytes of each ([`Span::approx_bytes`], computed once, by the
    /// receiver), and their sum.
    Spans(Vec<Span>, Vec<usize>, usize),
    /// Log records and their estimated bytes.
    Logs(Vec<LogRecord>, usize),
    /// A view request is waiting ([`views::ViewHandle::request`]).
    Wake,
    /// Forget everything stored ([`Ingest::clear`]).
    Clear,
    Shutdown,
}

/// The receivers' handle on the engine. Cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    tx: SyncSender<Msg>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
    /// Estimated bytes queued, and the most the queue may hold.
    queued_bytes: Arc<AtomicUsize>,
    byte_capacity: usize,
    stats: Arc<Stats>,
    /// Accepted spans are written here before the receiver answers.
    recorder: Option<Recorder>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("capacity", &self.capacity)
            .field("byte_capacity", &self.byte_capacity)
            .finish_non_exhaustive()
    }
}

impl Ingest {
    /// The shared counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Whether `n` more spans would fit in the queue now (by count, and by bytes as far as
    /// they are known before decoding: the queue is not already full).
    pub fn has_room(&self, n: usize) -> bool {
        let queued = self.queued.load(Ordering::Relaxed);
        let bytes = self.queued_bytes.load(Ordering::Relaxed);
        queued == 0 || (queued.saturating_add(n) <= self.capacity && bytes < self.byte_capacity)
    }

    /// Reserves room for `n` items of `bytes`; false (nothing reserved) when the queue is
    /// full. A batch is taken whatever its size when the queue is empty: refusing it would
    /// make the exporter retry forever. Requests are bounded by --max-request.
    fn reserve(&self, n: usize, bytes: usize) -> bool {
        let prev = self.queued.fetch_add(n, Ordering::AcqRel);
        let prev_bytes = self.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
        let full = prev > 0
            && (prev.saturating_add(n) > self.capacity
                || prev_bytes.saturating_add(bytes) > self.byte_capacity);
        if full {
            self.release(n, bytes);
        }
        !full
    }

    fn release(&self, n: usize, bytes: usize) {
        self.queued.fetch_sub(n, Ordering::AcqRel);
        self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Counts spans refused before they were decoded.
    pub fn refuse(&self, n: usize) -> Refused {
        self.stats.received.fetch_add(n as u64, Ordering::Relaxed);
        self.stats.refused.fetch_add(n as u64, Ordering::Relaxed);
        Refused {
            queued: self.queued.load(Ordering::Relaxed),
            retry_after: RETRY_AFTER,
            recording_failed: false,
        }
    }

    /// Counts spans rejected as invalid.
    pub fn reject(&self, n: u64) {
        self.stats.rejected.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts metric data points (metrics are not stored yet).
    pub fn count_metric_points(&self, n: u64) {
        self.stats.metric_points.fetch_add(n, Ordering::Relaxed);
    }

    /// Queues spans for the engine and writes them to the recording, or refuses them at once
    /// when the queue is full. When this returns `Ok` the spans are in the recording (with
    /// `--record-sync`, handed to the OS; else buffered, and with the OS within
    /// [`crate::formats::record::CRASH_BOUND`]).
    ///
    /// A recording that cannot be written refuses the request (the spans stay queued: the
    /// client's retry is merged as a resend, and recorded if the recording works again).
    pub fn submit_spans(&self, spans: Vec<Span>) -> Result<(), Refused> {
        let n = spans.len();
        if n == 0 {
            return Ok(());
        }
        let sizes: Vec<usize> = spans.iter().map(Span::approx_bytes).collect();
        let bytes = sizes.iter().sum();
        if !self.reserve(n, bytes) {
            return Err(self.refuse(n));
        }
        let line = self.recorder.as_ref().and_then(|r| r.encode(&spans));
        match self.tx.try_send(Msg::Spans(spans, sizes, bytes)) {
            Ok(()) => {
                self.stats.received.fetch_add(n as u64, Ordering::Relaxed);
                self.stats.accepted.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.release(n, bytes);
                return Err(self.refuse(n));
            }
        }
        if let (Some(recorder), Some(line)) = (&self.recorder, line) {
            match recorder.write(&line) {
                Ok(written) => {
                    self.stats.recorded.fetch_add(written as u64, Ordering::Relaxed);
                }
                Err(_) => {
                    return Err(Refused {
                        queued: self.queued.load(Ordering::Relaxed),
                        retry_after: RETRY_AFTER,
                        recording_failed: true,
                    });
                }
            }
        }
        Ok(())
    }

    /// Makes the engine forget everything stored (as [`views::ViewRequest::Clear`]), in
    /// order: spans queued before the call are dropped, spans queued after it are kept. Waits
    /// for room in the queue. False when the engine has stopped.
    pub fn clear(&self) -> bool {
        self.tx.send(Msg::Clear).is_ok()
    }

    /// Queues log records for the engine, or refuses them when the queue is full.
    pub fn submit_logs(&self, records: Vec<LogRecord>) -> Result<(), Refused> {
        let n = records.len();
        if n == 0 {
            return Ok(());
        }
        // Log records share the queue's bounds with spans, one slot each.
        let prev = self.queued.load(Ordering::Relaxed);
        let bytes = records.iter().map(LogRecord::approx_bytes).sum();
        let refused = if self.reserve(n, bytes) {
            let sent = self.tx.try_send(Msg::Logs(records, bytes)).is_ok();
            if !sent {
                self.release(n, bytes);
            }
            !sent
        } else {
            true
        };
        if refused {
            self.stats.refused_logs.fetch_add(n as u64, Ordering::Relaxed);
            return Err(Refused {
                queued: prev,
                retry_after: RETRY_AFTER,
                recording_failed: false,
            });
        }
        self.stats.logs.fetch_add(n as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// What the engine did, returned when it stops.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineSummary {
    pub stats: StatsSnapshot,
}

/// A running engine.
pub struct Engine {
    ingest: Ingest,
    views: views::Hub,
    interner: Arc<Interner>,
    thread: JoinHandle<()>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// Batches the queue holds at most, whatever their size (the span bound usually bites first).
const QUEUE_BATCHES: usize = 4096;

impl Engine {
    /// Starts the engine thread. Fails if the recording cannot be created.
    pub fn start(config: &EngineConfig, interner: Arc<Interner>) -> std::io::Result<Engine> {
        let recorder = config
            .record
            .as_ref()
            .map(|options| Recorder::create(options, Arc::clone(&interner)))
            .transpose()?;
        let (tx, rx) = mpsc::sync_channel(QUEUE_BATCHES);
        let stats = Arc::new(Stats::default());
        let queued = Arc::new(AtomicUsize::new(0));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let queue_share = config.max_memory / QUEUE_SHARE;
        let ingest = Ingest {
            tx,
            queued: Arc::clone(&queued),
            capacity: config.queue_spans.max(1),
            queued_bytes: Arc::clone(&queued_bytes),
            byte_capacity: usize::try_from(queue_share).unwrap_or(usize::MAX).max(1),
            stats: Arc::clone(&stats),
            recorder,
        };
        let (publisher, views) = views::Publisher::new(config.max_memory);
        let (store, linker) = store_and_linker(config, Arc::clone(&interner))?;
        let worker = Worker {
            views: publisher,
            store,
            linker,
            interner: Arc::clone(&interner),
            stats,
            queued,
            queued_bytes,
            queue_share,
            batch_delay: config.batch_delay,
        };
        let thread = std::thread::Builder::new()
            .name("hopscope-engine".into())
            .spawn(move || worker.run(&rx))?;
        Ok(Engine { ingest, views, interner, thread })
    }

    /// A handle for receivers.
    pub fn ingest(&self) -> Ingest {
        self.ingest.clone()
    }

    /// A UI's handle on the published views ([`views`]).
    pub fn views(&self) -> views::ViewHandle {
        self.views.handle(self.ingest.tx.clone())
    }

    /// The interner spans are decoded with.
    pub fn interner(&self) -> &Arc<Interner> {
        &self.interner
    }

    /// The shared counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.ingest.stats
    }

    /// Processes everything queued so far, flushes the recording and stops the thread.
    pub fn shutdown(self) -> std::io::Result<EngineSummary> {
        // A blocking send: everything queued before it is processed first.
        let _ = self.ingest.tx.send(Msg::Shutdown);
        self.thread.join().map_err(|_| std::io::Error::other("the engine thread panicked"))?;
        if let Some(recorder) = &self.ingest.recorder {
            recorder.finish()?;
        }
        Ok(EngineSummary { stats: self.ingest.stats.snapshot() })
    }
}

struct Worker {
    /// Publishes views for UIs (nothing while none watches).
    views: views::Publisher,
    store: SpanStore,
    /// Links what the store holds into hops and flows; forgets what the store evicts.
    linker: Linker,
    interner: Arc<Interner>,
    stats: Arc<Stats>,
    queued: Arc<AtomicUsize>,
    queued_bytes: Arc<AtomicUsize>,
    /// The bytes of the budget set aside for the ingest queue.
    queue_share: u64,
    batch_delay: Option<Duration>,
}

/// Within a large batch, the linker's estimate is refreshed after this many spans.
const REFRESH_EVERY: usize = 1024;

/// Bytes of the budget a held span takes at the least, store and linker together, for
/// sizing the linker's slabs up front (loadgen's spans take about 1.3 KiB).
const MIN_SPAN_BYTES: u64 = 1024;

/// The engine's span store and linker, set up as the engine thread uses them: evicted traces
/// are freed on a thread of their own, and the linker's slabs have room for what the budget
/// can hold. Fails if that thread cannot be started.
pub fn store_and_linker(
    config: &EngineConfig,
    interner: Arc<Interner>,
) -> std::io::Result<(SpanStore, Linker)> {
    let mut store = SpanStore::new(config.max_memory);
    store.free_evicted_in_background()?;
    let mut linker = Linker::new(interner);
    let spans = config.max_memory.saturating_sub(config.max_memory / QUEUE_SHARE) / MIN_SPAN_BYTES;
    linker.reserve(usize::try_from(spans).unwrap_or(usize::MAX));
    Ok((store, linker))
}

/// What the engine thread does with a batch of spans, each with its estimated bytes
/// ([`Span::approx_bytes`], computed by the receiver): stores each, links what was new or
/// changed, and drops from the linker the traces the store evicted to stay within its budget,
/// `set_aside` bytes of which are held elsewhere (the ingest queue's share). Returns the
/// linker's (and the interned strings') estimated bytes, as last shared with the store.
///
/// Public so that benchmarks drive the engine's own steps without its thread
/// (`examples/engine_steady.rs`).
pub fn store_and_link(
    store: &mut SpanStore,
    linker: &mut Linker,
    set_aside: u64,
    spans: impl IntoIterator<Item = (Span, usize)>,
) -> u64 {
    let mut linker_bytes = 0;
    for (i, (span, bytes)) in spans.into_iter().enumerate() {
        if i % REFRESH_EVERY == 0 {
            linker_bytes = share_budget(store, linker, set_aside);
        }
        match store.insert_sized(span, bytes) {
            Inserted::New(r) | Inserted::Merged(r) => {
                if let Some(stored) = store.get(r) {
                    linker.add(stored);
                }
            }
            Inserted::Duplicate(_) => {}
        }
        // After every span: a trace evicted mid-batch may come back later in it.
        if !store.evicted().is_empty() {
            linker.evict(store.evicted());
            store.clear_evicted();
        }
    }
    linker_bytes
}

/// Tells the store what the rest of the budget holds: `set_aside` (the queue's whole share,
/// whether or not it is in use), the linker and the interned strings. The linker's estimate
/// costs the same at any size; the engine asks it once per batch and every
/// [`REFRESH_EVERY`] spans. Returns the linker's and the interner's bytes.
pub fn share_budget(store: &mut SpanStore, linker: &Linker, set_aside: u64) -> u64 {
    let linker_bytes = linker.estimated_bytes() + linker.interner().heap_bytes() as u64;
    store.set_outside(set_aside + linker_bytes);
    linker_bytes
}

impl Worker {
    fn run(mut self, rx: &mpsc::Receiver<Msg>) {
        loop {
            match rx.recv_timeout(self.views_timeout()) {
                Ok(Msg::Spans(spans, sizes, bytes)) => {
                    let n = spans.len();
                    self.on_spans(spans, sizes);
                    self.queued.fetch_sub(n, Ordering::AcqRel);
                    self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                    if let Some(delay) = self.batch_delay {
                        std::thread::sleep(delay);
                    }
                }
                Ok(Msg::Logs(records, bytes)) => {
                    let n = records.len();
                    self.share_budget();
                    for record in records {
                        self.store.insert_log(record);
                    }
                    self.queued.fetch_sub(n, Ordering::AcqRel);
                    self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                    self.publish_stats();
                }
                Ok(Msg::Wake) | Err(RecvTimeoutError::Timeout) => {}
                Ok(Msg::Clear) => self.clear(),
                Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            }
            self.serve_views();
        }
    }

    fn on_spans(&mut self, spans: Vec<Span>, sizes: Vec<usize>) {
        let spans = spans.into_iter().zip(sizes);
        let linker = store_and_link(&mut self.store, &mut self.linker, self.queue_share, spans);
        self.stats.linker_bytes.store(linker, Ordering::Relaxed);
        self.publish_stats();
    }

    fn share_budget(&mut self) {
        let linker = share_budget(&mut self.store, &self.linker, self.queue_share);
        self.stats.linker_bytes.store(linker, Ordering::Relaxed);
    }

    fn publish_stats(&self) {
        let s = self.store.stats();
        self.stats.stored.store(s.spans, Ordering::Relaxed);
        self.stats.evicted.store(s.evicted_spans, Ordering::Relaxed);
        self.stats.duplicates.store(s.duplicates, Ordering::Relaxed);
        self.stats.store_bytes.store(s.bytes, Ordering::Relaxed);
        let queued = self.queued_bytes.load(Ordering::Relaxed) as u64;
        self.stats.queued_bytes.store(queued, Ordering::Relaxed);
    }
}

/// Serving views: the engine thread's side of [`views`].
impl Worker {
    /// How long the engine may wait for a message before a view is due (at most 500 ms).
    fn views_timeout(&self) -> Duration {
        let idle = Duration::from_millis(500);
        let now = Instant::now();
        self.views.next_due(now).map_or(idle, |due| due.saturating_duration_since(now).min(idle))
    }

    /// Resets the store and the linker; the next view shows nothing stored.
    fn clear(&mut self) {
        // As the engine started: evicted traces freed off this thread, the linker's slabs
        // sized for the budget (or, if the freeing thread cannot start, plainly).
        let config = EngineConfig { max_memory: self.views.max_memory, ..Default::default() };
        (self.store, self.linker) = store_and_linker(&config, Arc::clone(&self.interner))
            .unwrap_or_else(|_| {
                (SpanStore::new(self.views.max_memory), Linker::new(Arc::clone(&self.interner)))
            });
        self.views.live = LiveAnalysis::default();
        self.views.trends = None;
        self.publish_stats();
        self.views.touch();
    }

    /// Reads the UI's requests (a clear resets the store and the linker) and publishes a
    /// view if one is due. Called after every message and timeout.
    fn serve_views(&mut self) {
        if self.views.take_requests() == views::Action::Clear {
            self.clear();
        }
        let store_stats = self.store.stats();
        if store_stats != self.views.last_store {
            self.views.last_store = store_stats;
            self.views.touch();
        }
        // Changes are recorded only while somebody watches (`serve` alone never pays for
        // them); the first update after tracking starts is a full one.
        if self.views.watched() {
            self.linker.track_changes();
        } else if self.linker.tracks_changes() {
            self.linker.stop_tracking();
            self.views.live = LiveAnalysis::default();
        }
        let stats = self.stats.snapshot();
        self.views.publish_due(Instant::now(), &self.store, &mut self.linker, stats);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord as OtlpLog, ResourceLogs, ScopeLogs};

    use super::*;
    use crate::fake::Generator;
    use crate::otlp::convert::Decoder;

    fn logs(decoder: &Decoder, n: usize) -> Vec<LogRecord> {
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![OtlpLog::default(); n],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        decoder.logs(req).records
    }

    #[test]
    fn log_records_share_the_queue_bound_and_refusals_are_counted() {
        let interner = Arc::new(Interner::new());
        let decoder = Decoder::new(Arc::clone(&interner));
        let config = EngineConfig {
            queue_spans: 4,
            batch_delay: Some(Duration::from_millis(400)),
            ..EngineConfig::default()
        };
        let engine = Engine::start(&config, interner).unwrap();
        let ingest = engine.ingest();
        // The engine takes this batch at once and then sleeps on it.
        ingest.submit_spans(decoder.traces(Generator::new(1, 1).request(1)).spans).unwrap();
        // Wait until the engine has taken the batch off the queue (it sleeps after that).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !ingest.has_room(5) {
            assert!(std::time::Instant::now() < deadline, "the engine never took the batch");
            std::thread::sleep(Duration::from_millis(5));
        }
        ingest.submit_logs(logs(&decoder, 3)).unwrap();
        let refused = ingest.submit_logs(logs(&decoder, 3)).unwrap_err();
        assert_eq!(refused.queued, 3);
        let summary = engine.shutdown().unwrap();
        assert_eq!((summary.stats.logs, summary.stats.refused_logs), (3, 3));
    }

    #[test]
    fn the_queue_is_bounded_by_its_share_of_the_memory_budget() {
        let interner = Arc::new(Interner::new());
        let decoder = Decoder::new(Arc::clone(&interner));
        let mut generator = Generator::new(2, 1);
        let first = decoder.traces(generator.request(100)).spans;
        let per_batch: usize = first.iter().map(Span::approx_bytes).sum();
        let per_batch_spans = first.len();
        // Room for about three batches in the queue's share; the span count never binds.
        let config = EngineConfig {
            max_memory: (per_batch as u64 * 7 / 2) * QUEUE_SHARE,
            queue_spans: 1 << 20,
            batch_delay: Some(Duration::from_millis(400)),
            ..EngineConfig::default()
        };
        let engine = Engine::start(&config, interner).unwrap();
        let ingest = engine.ingest();
        ingest.submit_spans(first).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while ingest.queued.load(Ordering::Relaxed) > 0 {
            assert!(std::time::Instant::now() < deadline, "the engine never took the batch");
            std::thread::sleep(Duration::from_millis(5));
        }
        let (mut accepted, mut queued) = (0, 0);
        let (refused, refused_spans) = loop {
            let spans = decoder.traces(generator.request(100)).spans;
            let n = spans.len();
            match ingest.submit_spans(spans) {
                Ok(()) => (accepted, queued) = (accepted + 1, queued + n),
                Err(refused) => break (refused, n),
            }
            assert!(accepted < 10, "the byte bound never refused");
        };
        assert_eq!(accepted, 3, "three batches fit in the queue's share");
        assert_eq!(refused.queued, queued);
        let summary = engine.shutdown().unwrap();
        assert_eq!(summary.stats.refused, refused_spans as u64);
        let kept = summary.stats.stored + summary.stats.evicted;
        assert_eq!(kept, (per_batch_spans + queued) as u64);
    }

    #[test]
    fn store_linker_and_queue_share_stay_within_the_budget() {
        let interner = Arc::new(Interner::new());
        let decoder = Decoder::new(Arc::clone(&interner));
        let max_memory = 4 << 20;
        let config = EngineConfig { max_memory, ..EngineConfig::default() };
        let engine = Engine::start(&config, interner).unwrap();
        let ingest = engine.ingest();
        let mut generator = Generator::new(4, 1);
        let mut sent = 0u64;
        while sent < 40_000 {
            let spans = decoder.traces(generator.request(500)).spans;
            let n = spans.len() as u64;
            if ingest.submit_spans(spans).is_ok() {
                sent += n;
            } else {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let s = engine.shutdown().unwrap().stats;
        assert_eq!(s.stored + s.evicted, sent, "{s:?}");
        assert!(s.evicted > 0, "{s:?}");
        assert!(s.linker_bytes > 0, "{s:?}");
        let total = s.store_bytes + s.linker_bytes + max_memory / QUEUE_SHARE;
        // One trace being written may stay over the limit; the generator's traces are small.
        assert!(total <= max_memory + (64 << 10), "{total} > {max_memory}: {s:?}");
    }
}
