//! The engine: one thread that owns the span store (and, later, the linker and analyses),
//! fed by the receivers over a bounded queue.
//!
//! Receivers never wait on the engine: [`Ingest::submit_spans`] either queues a batch at once
//! or refuses it ([`Refused`]) when the queue already holds `queue_spans` spans, and the
//! refusal is counted. The engine records accepted spans (`--record`) before storing them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::formats::record::Recorder;
use crate::link::Linker;
use crate::model::{Interner, LogRecord, Span};
use crate::store::{Inserted, SpanStore};

pub mod views;

/// How the engine is set up.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Memory budget of the store, in bytes.
    pub max_memory: u64,
    /// Spans that may wait between the receivers and the engine before receivers refuse.
    pub queue_spans: usize,
    /// Where to record accepted spans as OTLP JSON lines.
    pub record: Option<PathBuf>,
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
        }
    }
}

/// A batch refused because the engine's queue is full; the client should retry later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("hopscope's ingest queue is full ({queued} spans waiting); retry after {retry_after:?}")]
pub struct Refused {
    pub queued: usize,
    pub retry_after: Duration,
}

/// How long a refused client should wait before retrying.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

enum Msg {
    Spans(Vec<Span>),
    Logs(Vec<LogRecord>),
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
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl Ingest {
    /// The shared counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Whether `n` more spans would fit in the queue now.
    pub fn has_room(&self, n: usize) -> bool {
        let queued = self.queued.load(Ordering::Relaxed);
        queued == 0 || queued.saturating_add(n) <= self.capacity
    }

    /// Counts spans refused before they were decoded.
    pub fn refuse(&self, n: usize) -> Refused {
        self.stats.received.fetch_add(n as u64, Ordering::Relaxed);
        self.stats.refused.fetch_add(n as u64, Ordering::Relaxed);
        Refused { queued: self.queued.load(Ordering::Relaxed), retry_after: RETRY_AFTER }
    }

    /// Counts spans rejected as invalid.
    pub fn reject(&self, n: u64) {
        self.stats.rejected.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts metric data points (metrics are not stored yet).
    pub fn count_metric_points(&self, n: u64) {
        self.stats.metric_points.fetch_add(n, Ordering::Relaxed);
    }

    /// Queues spans for the engine, or refuses them at once when the queue is full.
    pub fn submit_spans(&self, spans: Vec<Span>) -> Result<(), Refused> {
        let n = spans.len();
        if n == 0 {
            return Ok(());
        }
        let prev = self.queued.fetch_add(n, Ordering::AcqRel);
        // A batch larger than the whole queue is taken when the queue is empty: refusing
        // it would make the exporter retry forever. Requests are bounded by --max-request.
        if prev > 0 && prev.saturating_add(n) > self.capacity {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            return Err(self.refuse(n));
        }
        match self.tx.try_send(Msg::Spans(spans)) {
            Ok(()) => {
                self.stats.received.fetch_add(n as u64, Ordering::Relaxed);
                self.stats.accepted.fetch_add(n as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(n, Ordering::AcqRel);
                Err(self.refuse(n))
            }
        }
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
        // Log records share the queue's bound with spans, one slot each.
        let prev = self.queued.fetch_add(n, Ordering::AcqRel);
        let refused = if prev > 0 && prev.saturating_add(n) > self.capacity {
            true
        } else {
            self.tx.try_send(Msg::Logs(records)).is_err()
        };
        if refused {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            self.stats.refused_logs.fetch_add(n as u64, Ordering::Relaxed);
            return Err(Refused { queued: prev, retry_after: RETRY_AFTER });
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
    thread: JoinHandle<std::io::Result<()>>,
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
        let recorder = config.record.as_deref().map(Recorder::create).transpose()?;
        let (tx, rx) = mpsc::sync_channel(QUEUE_BATCHES);
        let stats = Arc::new(Stats::default());
        let queued = Arc::new(AtomicUsize::new(0));
        let ingest = Ingest {
            tx,
            queued: Arc::clone(&queued),
            capacity: config.queue_spans.max(1),
            stats: Arc::clone(&stats),
        };
        let (publisher, views) = views::Publisher::new(config.max_memory);
        let worker = Worker {
            views: publisher,
            store: SpanStore::new(config.max_memory),
            linker: Linker::new(Arc::clone(&interner)),
            recorder,
            interner: Arc::clone(&interner),
            stats,
            queued,
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
        let result =
            self.thread.join().map_err(|_| std::io::Error::other("the engine thread panicked"))?;
        result?;
        Ok(EngineSummary { stats: self.ingest.stats.snapshot() })
    }
}

struct Worker {
    /// Publishes views for UIs (nothing while none watches).
    views: views::Publisher,
    store: SpanStore,
    /// Links what the store holds into hops and flows; forgets what the store evicts.
    linker: Linker,
    recorder: Option<Recorder>,
    interner: Arc<Interner>,
    stats: Arc<Stats>,
    queued: Arc<AtomicUsize>,
    batch_delay: Option<Duration>,
}

impl Worker {
    fn run(mut self, rx: &mpsc::Receiver<Msg>) -> std::io::Result<()> {
        loop {
            match rx.recv_timeout(self.views_timeout()) {
                Ok(Msg::Spans(spans)) => {
                    let n = spans.len();
                    self.on_spans(spans)?;
                    self.queued.fetch_sub(n, Ordering::AcqRel);
                    if let Some(delay) = self.batch_delay {
                        std::thread::sleep(delay);
                    }
                }
                Ok(Msg::Logs(records)) => {
                    let n = records.len();
                    for record in records {
                        self.store.insert_log(record);
                    }
                    self.queued.fetch_sub(n, Ordering::AcqRel);
                    self.publish_stats();
                }
                Ok(Msg::Wake) => {}
                Ok(Msg::Clear) => self.clear(),
                Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(recorder) = &mut self.recorder {
                        recorder.flush()?;
                    }
                }
            }
            self.serve_views();
        }
        if let Some(recorder) = &mut self.recorder {
            recorder.flush()?;
        }
        Ok(())
    }

    fn on_spans(&mut self, spans: Vec<Span>) -> std::io::Result<()> {
        if let Some(recorder) = &mut self.recorder {
            // Exact resends (exporter retries) are stored once, so recorded once.
            let fresh: Vec<&Span> =
                spans.iter().filter(|s| !self.store.holds_identical(s)).collect();
            recorder.write_spans(&fresh, &self.interner)?;
            self.stats.recorded.fetch_add(fresh.len() as u64, Ordering::Relaxed);
        }
        for span in spans {
            match self.store.insert(span) {
                Inserted::New(r) | Inserted::Merged(r) => {
                    if let Some(stored) = self.store.get(r) {
                        self.linker.add(stored);
                    }
                }
                Inserted::Duplicate(_) => {}
            }
            // After every span: a trace evicted mid-batch may come back later in it.
            let evicted = self.store.take_evicted();
            if !evicted.is_empty() {
                self.linker.evict(&evicted);
            }
        }
        self.publish_stats();
        Ok(())
    }

    fn publish_stats(&self) {
        let s = self.store.stats();
        self.stats.stored.store(s.spans, Ordering::Relaxed);
        self.stats.evicted.store(s.evicted_spans, Ordering::Relaxed);
        self.stats.duplicates.store(s.duplicates, Ordering::Relaxed);
        self.stats.store_bytes.store(s.bytes, Ordering::Relaxed);
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
    use crate::ingest::convert::Decoder;

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
}
