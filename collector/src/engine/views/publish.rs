//! Publishing views: the engine thread's [`Publisher`] (when a view is due, throttled by its
//! cost; requests from the UI; lag trends reused for [`TREND_REFRESH`]; replaced views
//! dropped on a thread of their own), the channel ends it shares ([`Hub`]) and the UI's
//! [`ViewHandle`].

use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::build::{assemble, lag_trends, options};
use super::types::{
    ClockMode, EventClock, LagTrend, Sources, View, ViewConfig, ViewRequest, Wants,
};
use crate::analysis;
use crate::analysis::live::LiveAnalysis;
use crate::engine::{Msg, StatsSnapshot};
use crate::link::Linker;
use crate::store::{SpanStore, StoreStats};

/// Shortest time between two published views while spans arrive: ten a second at most. A
/// span reaches the screen within about this plus twice a view's cost (see
/// [`Publisher::next_due`]).
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// How often a live event clock republishes an idle view (stuck states and ages move).
pub const CLOCK_INTERVAL: Duration = Duration::from_secs(1);

/// The UI's handle: the latest view, and a way to ask for more.
#[derive(Clone)]
pub struct ViewHandle {
    views: watch::Receiver<Arc<View>>,
    requests: mpsc::Sender<ViewRequest>,
    wake: SyncSender<Msg>,
}

impl std::fmt::Debug for ViewHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewHandle").finish_non_exhaustive()
    }
}

impl ViewHandle {
    /// The latest view.
    pub fn latest(&self) -> Arc<View> {
        Arc::clone(&self.views.borrow())
    }

    /// The latest view if one was published since the last call to this method.
    pub fn changed(&mut self) -> Option<Arc<View>> {
        if self.views.has_changed().unwrap_or(false) {
            Some(Arc::clone(&self.views.borrow_and_update()))
        } else {
            None
        }
    }

    /// The watch receiver itself, for async callers.
    pub fn receiver(&self) -> watch::Receiver<Arc<View>> {
        self.views.clone()
    }

    /// Sends a request; it is answered in the next view. Never blocks.
    pub fn request(&self, request: ViewRequest) {
        if self.requests.send(request).is_ok() {
            // A full queue means the engine is busy: it reads requests after each batch.
            let _ = self.wake.try_send(Msg::Wake);
        }
    }
}

/// The engine's side: the channel ends shared with the [`crate::engine::Engine`] handle.
pub(in crate::engine) struct Hub {
    pub sender: Arc<watch::Sender<Arc<View>>>,
    pub requests: mpsc::Sender<ViewRequest>,
}

impl Hub {
    pub fn handle(&self, wake: SyncSender<Msg>) -> ViewHandle {
        ViewHandle { views: self.sender.subscribe(), requests: self.requests.clone(), wake }
    }
}

/// What the engine must do after reading requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::engine) enum Action {
    None,
    /// Reset the store and the linker.
    Clear,
}

/// Accepted-span rate over a sliding window.
#[derive(Debug, Default)]
pub(super) struct RateMeter {
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl RateMeter {
    const WINDOW: Duration = Duration::from_secs(3);

    pub(super) fn rate(&mut self, now: Instant, accepted: u64) -> u64 {
        self.samples.push_back((now, accepted));
        while self.samples.len() > 2
            && self.samples.front().is_some_and(|(t, _)| now.duration_since(*t) > Self::WINDOW)
        {
            self.samples.pop_front();
        }
        let Some(&(t0, n0)) = self.samples.front() else { return 0 };
        let secs = now.duration_since(t0).as_secs_f64();
        if secs < 0.05 { 0 } else { ((accepted.saturating_sub(n0)) as f64 / secs).round() as u64 }
    }
}

/// Kept by the engine thread: decides when to publish, and builds and sends views.
pub(in crate::engine) struct Publisher {
    sender: Arc<watch::Sender<Arc<View>>>,
    requests: mpsc::Receiver<ViewRequest>,
    pub(super) config: ViewConfig,
    wants: Wants,
    pub(in crate::engine) max_memory: u64,
    seq: u64,
    /// Something changed since the last view.
    dirty: bool,
    /// A request waits for an answer: publish at once.
    pub(super) urgent: bool,
    last: Option<Instant>,
    /// How long the last build took; views are spaced by at least 2x that (at most a third of the engine thread).
    last_cost: Duration,
    rate: RateMeter,
    /// The store's counters when last looked at: a change means a new view is due.
    pub(in crate::engine) last_store: StoreStats,
    /// The accepted-span rate last published.
    last_rate: u64,
    /// The analysis, kept up to date view after view.
    pub(in crate::engine) live: LiveAnalysis,
    /// Lag trends, when they were computed, and the subscriptions of the lag rows they are
    /// parallel to (see [`TREND_REFRESH`]).
    pub(in crate::engine) trends: Option<(Instant, Vec<SubName>, Arc<Vec<LagTrend>>)>,
    /// Views replaced by a newer one go to a thread of their own to be dropped: freeing a
    /// view's rows and strings is O(held) work the engine thread need not do. Started with
    /// the first view (`serve`, which publishes none, never starts it).
    retired: std::cell::OnceCell<Option<mpsc::Sender<Arc<View>>>>,
}

/// Lag trends are counted over every held hop; within this long of the last count (and with
/// the same subscriptions), a view reuses it. A trend bucket spans [`TREND_BUCKET_NS`](super::TREND_BUCKET_NS).
pub const TREND_REFRESH: Duration = Duration::from_secs(1);

/// A lag row's subscription: system, destination, consumer group.
type SubName = (String, String, Option<String>);

fn sub_name(row: &analysis::Lag) -> (&String, &String, &Option<String>) {
    (&row.system, &row.destination, &row.consumer_group)
}

/// A thread that drops what it is sent (`None` if the thread cannot be started: the caller
/// then drops in place).
fn retirement() -> Option<mpsc::Sender<Arc<View>>> {
    let (tx, rx) = mpsc::channel::<Arc<View>>();
    std::thread::Builder::new()
        .name("hopscope-views-drop".into())
        .spawn(move || for _view in rx {})
        .ok()
        .map(|_| tx)
}

impl Publisher {
    pub fn new(max_memory: u64) -> (Publisher, Hub) {
        let (sender, _) = watch::channel(Arc::new(View::empty()));
        let sender = Arc::new(sender);
        let (tx, rx) = mpsc::channel();
        let publisher = Publisher {
            sender: Arc::clone(&sender),
            requests: rx,
            config: ViewConfig::default(),
            wants: Wants::default(),
            max_memory,
            seq: 0,
            dirty: true,
            urgent: false,
            last: None,
            last_cost: Duration::ZERO,
            rate: RateMeter::default(),
            last_store: StoreStats::default(),
            last_rate: 0,
            live: LiveAnalysis::default(),
            trends: None,
            retired: std::cell::OnceCell::new(),
        };
        (publisher, Hub { sender, requests: tx })
    }

    /// Notes that the engine's state changed.
    pub(in crate::engine) fn touch(&mut self) {
        self.dirty = true;
    }

    /// Reads pending requests.
    pub fn take_requests(&mut self) -> Action {
        let mut action = Action::None;
        while let Ok(r) = self.requests.try_recv() {
            self.urgent = true;
            match r {
                ViewRequest::Detail(t) => self.wants.detail = t,
                ViewRequest::AttributeFilter(a) => self.wants.attribute = a,
                ViewRequest::Events(on) => self.wants.events = on,
                ViewRequest::Configure(c) => self.config = c,
                ViewRequest::Clear => {
                    self.dirty = true;
                    action = Action::Clear;
                }
                ViewRequest::Refresh => {}
            }
        }
        action
    }

    pub(in crate::engine) fn watched(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    fn interval(&self) -> Duration {
        MIN_INTERVAL.max(self.last_cost * 2)
    }

    /// When the engine should next call [`Publisher::publish_due`], if ever.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        if !self.watched() {
            return None;
        }
        let Some(last) = self.last else { return Some(now) };
        if self.urgent {
            return Some(now);
        }
        if self.dirty {
            return Some(last + self.interval());
        }
        // A live clock moves, and so does a rate that has not fallen to zero yet.
        // Idle, views cost at most ~2% of a core: an analysis taking 100 ms is redone every
        // 5 s, not every second.
        if (self.config.clock == ClockMode::Live && self.seq > 0) || self.last_rate > 0 {
            return Some(last + CLOCK_INTERVAL.max(self.last_cost * 50));
        }
        None
    }

    /// Publishes a view if one is due; returns whether it did. The analysis is brought up
    /// to date with what changed in `linker` since the last view.
    pub fn publish_due(
        &mut self,
        now: Instant,
        store: &SpanStore,
        linker: &mut Linker,
        stats: StatsSnapshot,
    ) -> bool {
        match self.next_due(now) {
            Some(due) if due <= now => {}
            _ => return false,
        }
        let started = Instant::now();
        let clock = EventClock {
            mode: self.config.clock,
            now_unix_nano: match self.config.clock {
                ClockMode::Live => wall_clock_ns(),
                ClockMode::Replay => linker.watermark(),
            },
        };
        self.seq += 1;
        let rate = self.rate.rate(now, stats.accepted);
        self.last_rate = rate;
        self.live.catalog = self.wants.events;
        let out = self.live.update(linker, &options(clock, &self.config));
        let trends = match &self.trends {
            Some((at, subs, trends))
                if now.saturating_duration_since(*at) < TREND_REFRESH
                    && out
                        .analysis
                        .lag
                        .iter()
                        .map(sub_name)
                        .eq(subs.iter().map(|(s, d, g)| (s, d, g))) =>
            {
                Arc::clone(trends)
            }
            _ => {
                let trends = Arc::new(lag_trends(linker, &out.analysis, clock.now_unix_nano));
                let subs = out
                    .analysis
                    .lag
                    .iter()
                    .map(sub_name)
                    .map(|(s, d, g)| (s.clone(), d.clone(), g.clone()))
                    .collect();
                self.trends = Some((now, subs, Arc::clone(&trends)));
                trends
            }
        };
        let src = Sources { store, linker, stats, max_memory: self.max_memory };
        let mut view = assemble(src, out, trends, clock, &self.wants, self.seq, rate);
        view.build_time = started.elapsed();
        let old = self.sender.send_replace(Arc::new(view));
        if let Some(retired) = self.retired.get_or_init(retirement) {
            // Only fails once the thread is gone; the view is then dropped here.
            let _ = retired.send(old);
        }
        self.dirty = false;
        self.urgent = false;
        self.last = Some(now);
        self.last_cost = started.elapsed();
        true
    }
}

/// The wall clock in unix nanoseconds.
pub fn wall_clock_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
