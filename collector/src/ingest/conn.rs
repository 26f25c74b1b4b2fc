//! Connections of both receivers: the accept loop (TLS handshakes included), HTTP/1 and
//! HTTP/2 through hyper, and the limits on what a client may hold ([`ConnLimits`]).
//!
//! Each receiver keeps a registry of its open connections and what each is doing: waiting for
//! a request's headers (since it connected, or since the first byte of its next request),
//! serving requests, or idle (no request in flight since the last one ended). A watchdog task
//! closes those waiting for headers past [`ConnLimits::header_timeout`] and those idle past
//! [`ConnLimits::idle_timeout`]; a request body that goes [`ConnLimits::body_timeout`]
//! without a byte fails (HTTP 408, gRPC error) and its connection is closed; hyper pings
//! HTTP/2 peers every [`ConnLimits::h2_ping`] and closes those that do not answer within as
//! long; HTTP/2 allows [`ConnLimits::max_streams`] streams at once per connection. Past
//! [`ConnLimits::max_connections`], a new connection is still served and the one idle the
//! longest (no request in flight) is closed. Each closing is counted in the engine's
//! [`Stats`].

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::engine::Stats;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Timeouts and limits of both receivers (each receiver has its own connection count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnLimits {
    /// Time to send a request's headers, from connecting (TLS handshake included) or from
    /// the first byte of the next request on a kept-alive connection.
    pub header_timeout: Duration,
    /// Longest a request body may go without a byte arriving.
    pub body_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// HTTP/2 keep-alive: a ping every this long; no answer within as long closes.
    pub h2_ping: Duration,
    /// Concurrent streams on one HTTP/2 connection.
    pub max_streams: u32,
    /// Open connections per receiver.
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            h2_ping: Duration::from_secs(60),
            max_streams: 128,
            max_connections: 512,
        }
    }
}

/// Handshakes in progress at once; further TLS connections wait their turn (still within
/// the header timeout).
const MAX_HANDSHAKES: usize = 256;

/// Why a connection was closed by a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    HeaderTimeout,
    Idle,
    Limit,
}

/// What a connection is doing.
#[derive(Debug)]
struct Phase {
    /// Requests being served.
    in_flight: u32,
    /// Waiting for a request's headers (else idle, when nothing is in flight).
    waiting_head: bool,
    /// When the current wait (for headers, or idle) began.
    since: Instant,
    /// Whether the client spoke HTTP/2 (known from its first bytes).
    h2: Option<bool>,
    /// Already told to close.
    closing: bool,
}

/// One open connection, shared by its task, its service and the watchdog.
#[derive(Debug)]
struct Conn {
    phase: Mutex<Phase>,
    close: Notify,
}

impl Conn {
    fn new(now: Instant) -> Self {
        Self {
            phase: Mutex::new(Phase {
                in_flight: 0,
                waiting_head: true,
                since: now,
                h2: None,
                closing: false,
            }),
            close: Notify::new(),
        }
    }

    fn on_read(&self, first: &[u8]) {
        let mut p = self.phase.lock();
        if p.h2.is_none() {
            let h2 = first.starts_with(b"PRI ");
            p.h2 = Some(h2);
            if h2 {
                // The HTTP/2 preface: the connection is up, and idle until a stream opens.
                p.waiting_head = false;
                p.since = Instant::now();
            }
            return;
        }
        if p.in_flight == 0 && !p.waiting_head && p.h2 == Some(false) {
            p.waiting_head = true;
            p.since = Instant::now();
        }
    }

    fn request_started(&self) {
        let mut p = self.phase.lock();
        p.in_flight += 1;
        p.waiting_head = false;
    }

    fn request_ended(&self) {
        let mut p = self.phase.lock();
        p.in_flight = p.in_flight.saturating_sub(1);
        if p.in_flight == 0 {
            p.since = Instant::now();
        }
    }
}

/// The open connections of one receiver.
#[derive(Debug, Default)]
struct Registry {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    /// Told whenever a connection goes.
    removed: Notify,
}

impl Registry {
    fn insert(&self, conn: Arc<Conn>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.conns.lock().insert(id, conn);
        id
    }

    fn remove(&self, id: u64) {
        self.conns.lock().remove(&id);
        self.removed.notify_waiters();
    }

    /// Closes the connection idle the longest (none in flight), if any; returns whether one
    /// was.
    fn close_oldest_idle(&self, stats: &Stats) -> bool {
        let conns = self.conns.lock();
        let oldest = conns
            .values()
            .filter_map(|c| {
                let p = c.phase.lock();
                (p.in_flight == 0 && !p.closing).then_some((p.since, c))
            })
            .min_by_key(|(since, _)| *since);
        let Some((_, conn)) = oldest else { return false };
        conn.phase.lock().closing = true;
        conn.close.notify_one();
        count(stats, Closed::Limit);
        true
    }

    /// Closes every connection past its header or idle timeout.
    fn sweep(&self, limits: &ConnLimits, stats: &Stats) {
        let now = Instant::now();
        for conn in self.conns.lock().values() {
            let mut p = conn.phase.lock();
            if p.closing || p.in_flight > 0 {
                continue;
            }
            let waited = now.saturating_duration_since(p.since);
            let why = if p.waiting_head {
                (waited > limits.header_timeout).then_some(Closed::HeaderTimeout)
            } else {
                (waited > limits.idle_timeout).then_some(Closed::Idle)
            };
            if let Some(why) = why {
                p.closing = true;
                conn.close.notify_one();
                count(stats, why);
            }
        }
    }

    fn len(&self) -> usize {
        self.conns.lock().len()
    }
}

fn count(stats: &Stats, why: Closed) {
    let counter = match why {
        Closed::HeaderTimeout => &stats.header_timeouts,
        Closed::Idle => &stats.idle_closed,
        Closed::Limit => &stats.limit_closed,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// How a receiver serves its connections.
pub(crate) struct Serving<S> {
    pub(crate) listener: TcpListener,
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// The receiver's service (an axum or tonic router).
    pub(crate) service: S,
    /// gRPC: HTTP/2 only.
    pub(crate) http2_only: bool,
    pub(crate) limits: ConnLimits,
    pub(crate) stats: Arc<Stats>,
}

impl<S, B> Serving<S>
where
    S: tower::Service<http::Request<ProgressBody>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    /// Accepts and serves connections until `shutdown`; then stops accepting, closes idle
    /// connections, lets requests in flight finish, and returns once every connection is
    /// gone.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        let Serving { listener, tls, service, http2_only, limits, stats } = self;
        let registry = Arc::new(Registry::default());
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.max_streams)
            .keep_alive_interval(limits.h2_ping)
            .keep_alive_timeout(limits.h2_ping);
        if http2_only {
            builder = builder.http2_only();
        }
        let builder = Arc::new(builder);
        let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        let tls = tls.map(tokio_rustls::TlsAcceptor::from);
        let watchdog = tokio::spawn(watch(
            Arc::clone(&registry),
            limits.clone(),
            Arc::clone(&stats),
            shutdown.clone(),
        ));
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let Ok((tcp, _)) = accepted else {
                // Out of file descriptors and the like: make room, wait a little.
                registry.close_oldest_idle(&stats);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let _ = tcp.set_nodelay(true);
            if registry.len() >= limits.max_connections {
                registry.close_oldest_idle(&stats);
            }
            let conn = Arc::new(Conn::new(Instant::now()));
            let id = registry.insert(Arc::clone(&conn));
            let task = Connection {
                conn,
                service: service.clone(),
                builder: Arc::clone(&builder),
                body_timeout: limits.body_timeout,
                stats: Arc::clone(&stats),
                shutdown: shutdown.clone(),
            };
            let (registry, tls, handshakes) =
                (Arc::clone(&registry), tls.clone(), Arc::clone(&handshakes));
            tokio::spawn(async move {
                match tls {
                    None => task.serve(tcp).await,
                    Some(acceptor) => {
                        let conn = Arc::clone(&task.conn);
                        let handshake = async {
                            let _permit = handshakes.acquire().await;
                            acceptor.accept(tcp).await
                        };
                        tokio::select! {
                            () = conn.close.notified() => {}
                            () = task.shutdown.cancelled() => {}
                            stream = handshake => if let Ok(stream) = stream {
                                task.serve(stream).await;
                            },
                        }
                    }
                }
                registry.remove(id);
            });
        }
        drop(listener);
        // Wait for the connections to finish (the caller bounds how long).
        loop {
            let removed = registry.removed.notified();
            if registry.len() == 0 {
                break;
            }
            removed.await;
        }
        watchdog.abort();
    }
}

/// Closes connections past their header or idle timeouts, until shutdown.
async fn watch(
    registry: Arc<Registry>,
    limits: ConnLimits,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
) {
    let every = (limits.header_timeout.min(limits.idle_timeout) / 4)
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => registry.sweep(&limits, &stats),
        }
    }
}

/// One connection's task.
struct Connection<S> {
    conn: Arc<Conn>,
    service: S,
    builder: Arc<hyper_util::server::conn::auto::Builder<TokioExecutor>>,
    body_timeout: Duration,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
}

impl<S, B> Connection<S>
where
    S: tower::Service<http::Request<ProgressBody>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    async fn serve<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static>(self, io: IO) {
        let io = TokioIo::new(Tracked { inner: io, conn: Arc::clone(&self.conn) });
        let service = Tracking {
            conn: Arc::clone(&self.conn),
            service: self.service,
            body_timeout: self.body_timeout,
            stats: Arc::clone(&self.stats),
        };
        let connection = self.builder.serve_connection(io, service);
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            // Closed by a limit: dropping the connection closes the socket.
            () = self.conn.close.notified() => return,
            () = self.shutdown.cancelled() => {
                if self.conn.phase.lock().in_flight == 0 {
                    return;
                }
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(e) = result
            && keep_alive_timed_out(&*e)
        {
            self.stats.ping_timeouts.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether hyper ended an HTTP/2 connection because a keep-alive ping went unanswered.
fn keep_alive_timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(e), |e| e.source()).any(|e| e.to_string() == "keep-alive timed out")
}

/// A connection's byte stream, telling its [`Conn`] when bytes arrive.
struct Tracked<IO> {
    inner: IO,
    conn: Arc<Conn>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.on_read(&buf.filled()[before..]);
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The receiver's service, telling the [`Conn`] when requests start and end and bounding
/// how long their bodies may stall.
#[derive(Clone)]
struct Tracking<S> {
    conn: Arc<Conn>,
    service: S,
    body_timeout: Duration,
    stats: Arc<Stats>,
}

/// Ends a request (also when its future is dropped).
struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

impl<S, B> hyper::service::Service<http::Request<Incoming>> for Tracking<S>
where
    S: tower::Service<http::Request<ProgressBody>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        self.conn.request_started();
        let in_flight = InFlight(Arc::clone(&self.conn));
        let request = request.map(|body| ProgressBody {
            inner: body,
            timeout: self.body_timeout,
            deadline: None,
            stats: Arc::clone(&self.stats),
        });
        let call = tower::ServiceExt::oneshot(self.service.clone(), request);
        Box::pin(async move {
            let response = call.await.map_err(Into::into);
            drop(in_flight);
            response
        })
    }
}

/// A request body that fails with [`BodyStalled`] when no frame arrives for its timeout.
pub struct ProgressBody {
    inner: Incoming,
    timeout: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for ProgressBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressBody").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

/// A request body made no progress for the body timeout.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the request body made no progress for {0:?} (--body-timeout)")]
pub struct BodyStalled(pub Duration);

impl Body for ProgressBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.deadline = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let deadline =
                    this.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if deadline.as_mut().poll(cx).is_ready() {
                    this.stats.body_timeouts.fetch_add(1, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(Box::new(BodyStalled(timeout)))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
