//! hopscope end-to-end test support: the real `hopscope` binary, built fresh once per test
//! process ([`hopscope_bin`]), run as a headless collector ([`Serve`]) whose stderr is read
//! for its listen addresses and stats lines ([`Stats`]), and its `--record` files read back
//! as OTLP spans ([`read_recording`]).
//!
//! Every server listens on port 0, so tests run in parallel.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod sdk;
pub mod systems;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;

/// How long a server may take to print both listen addresses.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to exit after a signal.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_owned()
}

/// The cargo profile directory the running test binary was built into (`target/debug`,
/// `target/release`, ...): test executables live in `<profile dir>/deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("cannot find the running test executable");
    let from_exe = exe
        .parent()
        .filter(|deps| deps.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent)
        .map(Path::to_owned);
    from_exe.unwrap_or_else(|| {
        let release = exe.components().any(|c| c.as_os_str() == "release");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| workspace_root().join("target"), PathBuf::from);
        target.join(if release { "release" } else { "debug" })
    })
}

/// The real `hopscope` binary, built (once per test process) with the same profile as the
/// running test, so a test never runs a stale binary.
pub fn hopscope_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = profile_dir();
        let profile = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("profile directory has a UTF-8 name")
            .to_owned();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(workspace_root()).args(["build", "-p", "hopscope", "--bin", "hopscope"]);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        // Build into the same target directory as this test binary.
        if let Some(target) = dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{}` to build hopscope: {e}", cargo.display()));
        assert!(
            out.status.success(),
            "building hopscope failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = dir.join(format!("hopscope{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "cargo built hopscope but {} does not exist", bin.display());
        bin
    })
    .clone()
}

/// One `stats:` line of `hopscope serve`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    pub stored: u64,
    pub refused: u64,
    pub evicted: u64,
    pub rss_bytes: u64,
    pub spans_per_sec: u64,
    /// Connections the receivers closed: headers too slow, a stalled body, idle, an
    /// unanswered HTTP/2 ping, the connection limit.
    pub header_timeouts: u64,
    pub body_timeouts: u64,
    pub idle_closed: u64,
    pub ping_timeouts: u64,
    pub limit_closed: u64,
}

impl Stats {
    /// Parses `stats: received=N stored=N refused=N evicted=N rss_bytes=N spans_per_sec=N
    /// header_timeouts=N body_timeouts=N idle_closed=N ping_timeouts=N limit_closed=N`
    /// exactly (every key, in that order, nothing else); `None` for any other line.
    pub fn parse(line: &str) -> Option<Stats> {
        let rest = line.strip_prefix("stats: ")?;
        let mut fields = rest.split(' ');
        let mut next = |key: &str| -> Option<u64> {
            let (k, v) = fields.next()?.split_once('=')?;
            if k != key {
                return None;
            }
            v.parse().ok()
        };
        let stats = Stats {
            received: next("received")?,
            stored: next("stored")?,
            refused: next("refused")?,
            evicted: next("evicted")?,
            rss_bytes: next("rss_bytes")?,
            spans_per_sec: next("spans_per_sec")?,
            header_timeouts: next("header_timeouts")?,
            body_timeouts: next("body_timeouts")?,
            idle_closed: next("idle_closed")?,
            ping_timeouts: next("ping_timeouts")?,
            limit_closed: next("limit_closed")?,
        };
        fields.next().is_none().then_some(stats)
    }
}

/// Lines of a child's stderr, shared with the thread that reads them.
#[derive(Default)]
struct Lines {
    lines: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

impl Lines {
    fn lock(&self) -> MutexGuard<'_, (Vec<String>, bool)> {
        self.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until `found` returns `Some` for the lines (and whether stderr ended), or the
    /// deadline passes.
    fn wait_for<T>(
        &self,
        deadline: Instant,
        mut found: impl FnMut(&[String], bool) -> Option<T>,
    ) -> Option<T> {
        let mut guard = self.lock();
        loop {
            if let Some(t) = found(&guard.0, guard.1) {
                return Some(t);
            }
            let now = Instant::now();
            if now >= deadline || guard.1 {
                return None;
            }
            guard = self
                .changed
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

/// A running `hopscope serve`, killed when dropped.
pub struct Serve {
    child: Child,
    lines: Arc<Lines>,
    reader: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
    /// Where the OTLP/gRPC receiver listens.
    pub grpc_addr: SocketAddr,
    /// Where the OTLP/HTTP receiver listens.
    pub http_addr: SocketAddr,
}

impl std::fmt::Debug for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("pid", &self.child.id())
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

/// A way to start `hopscope serve` with full control of its arguments and environment.
#[derive(Debug, Default, Clone)]
pub struct ServeCommand {
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl ServeCommand {
    /// `hopscope serve` with no arguments (so: default ports) and no `HOPSCOPE_*` variables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends arguments after `serve`.
    #[must_use]
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Sets an environment variable of the server.
    #[must_use]
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs a server that is expected to refuse to start: returns its exit status and its
    /// stderr. Panics if it is still running after [`START_TIMEOUT`].
    pub fn run_expecting_failure(self) -> (ExitStatus, String) {
        let mut cmd = self.command(&hopscope_bin());
        let (status, stderr, _) =
            run_to_completion(&mut cmd, START_TIMEOUT).unwrap_or_else(|stderr| {
                panic!(
                    "hopscope serve {:?} kept running; it was expected to fail:\n{stderr}",
                    self.args
                )
            });
        (status, stderr)
    }

    /// `hopscope serve <args>` with `HOPSCOPE_*` cleared and this command's env set; stdin
    /// and stdout null.
    fn command(&self, bin: &Path) -> Command {
        let mut cmd = Command::new(bin);
        cmd.arg("serve").args(&self.args);
        for (key, _) in std::env::vars_os() {
            if key.to_str().is_some_and(|k| k.starts_with("HOPSCOPE_")) {
                cmd.env_remove(key);
            }
        }
        cmd.envs(self.envs.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        cmd
    }

    /// Starts the server and waits (up to [`START_TIMEOUT`]) until both receivers listen;
    /// panics with the server's stderr otherwise.
    pub fn start(self) -> Serve {
        let bin = hopscope_bin();
        let mut child = self
            .command(&bin)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines = Arc::new(Lines::default());
        let shared = Arc::clone(&lines);
        let reader = std::thread::Builder::new()
            .name(format!("hopscope-{}-stderr", child.id()))
            .spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    shared.lock().0.push(line);
                    shared.changed.notify_all();
                }
                shared.lock().1 = true;
                shared.changed.notify_all();
            })
            .expect("cannot spawn the stderr reader thread");

        let addr = |lines: &[String], what: &str| -> Option<SocketAddr> {
            let prefix = format!("hopscope: OTLP/{what} listening on ");
            lines.iter().find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let found = lines.wait_for(deadline, |l, _| Some((addr(l, "gRPC")?, addr(l, "HTTP")?)));
        let mut serve = Serve {
            child,
            lines,
            reader: Some(reader),
            status: None,
            grpc_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            http_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        let Some((grpc_addr, http_addr)) = found else {
            let status = serve.child.try_wait().ok().flatten();
            serve.kill();
            panic!(
                "hopscope serve {:?} did not report both listen addresses within {START_TIMEOUT:?} \
                 (exit status: {status:?}); stderr:\n{}",
                self.args,
                serve.stderr_lines().join("\n")
            );
        };
        serve.grpc_addr = grpc_addr;
        serve.http_addr = http_addr;
        serve
    }
}

impl Serve {
    /// `hopscope serve --grpc 127.0.0.1:0 --http 127.0.0.1:0 --stats-interval 200ms <extra>`,
    /// running, with `HOPSCOPE_*` variables cleared.
    pub fn start(extra_args: &[&str]) -> Serve {
        ServeCommand::new()
            .args(&["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--stats-interval", "200ms"])
            .args(extra_args)
            .start()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server process has not exited (yet).
    pub fn child_is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `http://127.0.0.1:PORT` of the gRPC receiver, for OTLP exporters.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// `http://127.0.0.1:PORT` of the HTTP receiver.
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The URL of `path` (e.g. `/v1/traces`) on the HTTP receiver.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http_addr)
    }

    /// Every stderr line seen so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.lines.lock().0.clone()
    }

    /// The last stats line seen so far (after [`Serve::stop`]: the final one).
    pub fn last_stats(&self) -> Option<Stats> {
        self.lines.lock().0.iter().rev().find_map(|l| Stats::parse(l))
    }

    /// Waits for the first stats line printed after this call that satisfies `pred`;
    /// panics with the stderr seen after `timeout`.
    pub fn wait_for_stats(&self, pred: impl Fn(&Stats) -> bool, timeout: Duration) -> Stats {
        let from = self.lines.lock().0.len();
        let found = self.lines.wait_for(Instant::now() + timeout, |lines, _| {
            lines[from..].iter().filter_map(|l| Stats::parse(l)).find(|s| pred(s))
        });
        found.unwrap_or_else(|| {
            panic!(
                "no stats line within {timeout:?} satisfied the condition; stderr:\n{}",
                self.stderr_lines().join("\n")
            )
        })
    }

    /// The next stats line printed after this call.
    pub fn next_stats(&self) -> Stats {
        self.wait_for_stats(|_| true, Duration::from_secs(10))
    }

    /// Sends `signal` (a name `kill` knows: `INT`, `TERM`, ...) to the server.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("cannot run `kill`");
        assert!(status.success(), "kill -{signal} {} failed: {status}", self.child.id());
    }

    /// SIGINT, then waits (up to [`STOP_TIMEOUT`]) for the server to exit and its stderr to
    /// end. Returns its exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.stop_with("INT")
    }

    /// Like [`Serve::stop`], with another signal.
    pub fn stop_with(&mut self, signal: &str) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        self.signal(signal);
        let status = self.wait_exit(STOP_TIMEOUT).unwrap_or_else(|| {
            self.kill();
            panic!(
                "hopscope serve did not exit within {STOP_TIMEOUT:?} of SIG{signal}; stderr:\n{}",
                self.stderr_lines().join("\n")
            )
        });
        self.join_reader();
        status
    }

    /// Waits up to `timeout` for the process to exit.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("cannot wait for hopscope") {
                self.status = Some(status);
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn join_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.join().ok();
        }
    }

    fn kill(&mut self) {
        if self.status.is_none() {
            self.child.kill().ok();
            self.status = self.child.wait().ok();
        }
        self.join_reader();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One span of a recording, with what it inherits from its resource and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedSpan {
    /// The resource's `service.name` (empty when absent).
    pub service: String,
    /// The instrumentation scope's name.
    pub scope: String,
    pub span: Span,
}

impl RecordedSpan {
    /// The span's trace id, lowercase hex.
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span's id, lowercase hex.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent span's id, lowercase hex (empty for a root).
    pub fn parent_span_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// The span attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        attr(&self.span.attributes, key)
    }
}

/// Reads a `--record` file: every line must be an OTLP/JSON `TracesData`; returns its spans
/// in file order. Panics (naming the line) on anything else.
pub fn read_recording(path: &Path) -> Vec<RecordedSpan> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read recording {}: {e}", path.display()));
    let mut spans = Vec::new();
    for (i, line) in text.lines().enumerate() {
        assert!(!line.trim().is_empty(), "{}:{}: empty line", path.display(), i + 1);
        let req = hopscope_collector::otlp::json::decode_traces(line.as_bytes())
            .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
        for rs in req.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| attr(&r.attributes, "service.name"))
                .and_then(as_str)
                .unwrap_or_default()
                .to_owned();
            for ss in rs.scope_spans {
                let scope = ss.scope.map(|s| s.name).unwrap_or_default();
                for span in ss.spans {
                    spans.push(RecordedSpan {
                        service: service.clone(),
                        scope: scope.clone(),
                        span,
                    });
                }
            }
        }
    }
    spans
}

/// `hopscope analyze PATH --format json`: whether it succeeded, its stderr, and the
/// `hopscope.analysis/v1` report (`Null` when stdout was not JSON).
pub fn analyze_json(path: &Path) -> (bool, String, serde_json::Value) {
    let out = Command::new(hopscope_bin())
        .arg("analyze")
        .arg(path)
        .args(["--format", "json"])
        .output()
        .expect("run hopscope analyze");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned(), report)
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    hopscope_collector::model::hex::encode(bytes)
}

/// The value of attribute `key` in `attrs`.
pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()
}

/// The string inside a string value.
pub fn as_str(value: &Value) -> Option<&str> {
    match value {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// A string [`AnyValue`].
pub fn string_value(s: &str) -> Option<AnyValue> {
    Some(AnyValue { value: Some(Value::StringValue(s.to_owned())) })
}

/// `google.rpc.Status`, the body of OTLP/HTTP error answers (defined here, independently of
/// the server's copy).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<StatusDetail>,
}

/// `google.protobuf.Any`: one of [`RpcStatus::details`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusDetail {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

/// Runs `cmd` (stderr piped) until it exits: its status, stderr and run time. After
/// `timeout` it is killed and `Err` holds the stderr seen so far.
pub fn run_to_completion(
    cmd: &mut Command,
    timeout: Duration,
) -> Result<(ExitStatus, String, Duration), String> {
    let started = Instant::now();
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", cmd.get_program().display()));
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).ok();
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("cannot wait for the child") {
            break status;
        }
        if started.elapsed() > timeout {
            child.kill().ok();
            child.wait().ok();
            return Err(reader.join().unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    Ok((status, reader.join().expect("stderr reader"), elapsed))
}

/// A blocking HTTP client with a bounded timeout, for raw OTLP/HTTP requests.
pub fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("cannot build an HTTP client")
}

/// POSTs `body` to `url` with `content_type`, gzip-compressing it (and saying so) if asked.
pub fn post(
    url: &str,
    content_type: &str,
    gzip_body: bool,
    body: &[u8],
) -> reqwest::blocking::Response {
    let mut req = http_client().post(url).header(reqwest::header::CONTENT_TYPE, content_type);
    let body = if gzip_body {
        req = req.header(reqwest::header::CONTENT_ENCODING, "gzip");
        gzip(body)
    } else {
        body.to_vec()
    };
    req.body(body).send().unwrap_or_else(|e| panic!("POST {url} failed: {e}"))
}

/// A span as OTLP/JSON, in the canonical form, ended one millisecond after it started.
pub fn json_span(trace_id: &str, span_id: &str, name: &str) -> serde_json::Value {
    serde_json::json!({
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 2,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000001000000",
    })
}

/// An OTLP/JSON `ExportTraceServiceRequest` of `spans` from one service.
pub fn json_traces(service: &str, spans: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
            "scopeSpans": [{"scope": {"name": "hopscope-tests"}, "spans": spans}],
        }]
    }))
    .expect("JSON encodes")
}

/// A span as an OTLP protobuf message, ended one millisecond after it started.
pub fn proto_span(trace_id: &[u8], span_id: &[u8], name: &str) -> Span {
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        name: name.to_owned(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_001_000_000,
        ..Span::default()
    }
}

/// An OTLP `ExportTraceServiceRequest` of `spans` from one service.
pub fn proto_traces(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: string_value(service),
                    ..KeyValue::default()
                }],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "hopscope-tests".into(),
                    ..InstrumentationScope::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// `n` distinct, valid spans of one trace (trace id `trace_byte` repeated), named `prefix i`,
/// as protobuf.
pub fn proto_batch(trace_byte: u8, first_span: u64, n: u64, prefix: &str) -> Vec<Span> {
    (first_span..first_span + n)
        .map(|i| proto_span(&[trace_byte; 16], &(i + 1).to_be_bytes(), &format!("{prefix} {i}")))
        .collect()
}

/// Decodes a protobuf `google.rpc.Status` body.
pub fn decode_status(body: &[u8]) -> RpcStatus {
    RpcStatus::decode(body).unwrap_or_else(|e| {
        panic!(
            "body is not a protobuf google.rpc.Status ({e}): {:?}",
            String::from_utf8_lossy(body)
        )
    })
}

/// Peak resident set size (VmHWM) of process `pid`, from /proc (Linux only).
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `n` distinct loopback ports that were free a moment ago (bound to port 0 and released):
/// for tests that must name a port. A small race with other processes remains.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners.iter().map(|l| l.local_addr().expect("local address").port()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_stats_line_exactly() {
        let line = "stats: received=10 stored=9 refused=1 evicted=0 rss_bytes=123 spans_per_sec=5 \
                    header_timeouts=1 body_timeouts=2 idle_closed=3 ping_timeouts=4 limit_closed=5";
        assert_eq!(
            Stats::parse(line),
            Some(Stats {
                received: 10,
                stored: 9,
                refused: 1,
                evicted: 0,
                rss_bytes: 123,
                spans_per_sec: 5,
                header_timeouts: 1,
                body_timeouts: 2,
                idle_closed: 3,
                ping_timeouts: 4,
                limit_closed: 5,
            })
        );
        assert_eq!(Stats::parse(&format!("{line} extra=1")), None);
        assert_eq!(Stats::parse("stats: stored=9 received=10"), None);
        assert_eq!(Stats::parse("hopscope: shutting down"), None);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x0a, 0xff]), "0aff");
    }
}

/// A gRPC codec that sends raw bytes as the request message (to send what prost would refuse
/// to encode) and returns the raw answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, n).to_vec()))
    }
}

/// Sends `body` as the TraceService/Export request message, as is, and returns the raw
/// answer or the error status.
pub async fn export_raw(serve: &Serve, body: Vec<u8>) -> Result<Vec<u8>, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(serve.grpc_endpoint())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("channel ready");
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    grpc.unary(tonic::Request::new(body), path, RawCodec).await.map(tonic::Response::into_inner)
}
