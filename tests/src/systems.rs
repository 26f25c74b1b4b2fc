//! Real systems the messaging end-to-end tests run: a RabbitMQ broker of its own (Debian's
//! `rabbitmq-server`, on free ports, in a temporary directory), the Node.js services of
//! `tests/node/` (their npm packages installed by `npm ci` there), the Python programs of
//! `tests/python/` (in a virtual environment, packages from `requirements.txt`) and the
//! official AsyncAPI parser of `tests/asyncapi/` (installed as `tests/node` is). `.ci/run`
//! installs them all; a test that finds one missing fails and says how to install it, it
//! never skips.

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hopscope_collector::analysis::{Analysis, Lag, NodeKind};

use crate::{free_ports, workspace_root};

/// How long a broker may take to accept connections (about 12 s on a busy 2-core box).
const BROKER_START: Duration = Duration::from_secs(90);

/// A RabbitMQ broker of the test's own, stopped (its process group killed) when dropped.
pub struct Broker {
    child: Child,
    dir: tempfile::TempDir,
    /// `amqp://guest:guest@127.0.0.1:<port>`.
    pub url: String,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").field("url", &self.url).finish_non_exhaustive()
    }
}

fn rabbitmq_server() -> PathBuf {
    // Debian's /usr/sbin wrapper switches to the `rabbitmq` user; the real script does not.
    let debian = PathBuf::from("/usr/lib/rabbitmq/bin/rabbitmq-server");
    if debian.exists() {
        return debian;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|p| p.join("rabbitmq-server")).find(|p| p.exists())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "RabbitMQ is not installed: `apt-get install rabbitmq-server` (.ci/run does); \
             the messaging end-to-end tests need a real broker"
        )
    })
}

impl Broker {
    /// Starts a broker on free ports and waits until it accepts AMQP connections.
    pub fn start() -> Broker {
        let bin = rabbitmq_server();
        let dir = tempfile::tempdir().expect("broker directory");
        let ports = free_ports(2);
        let (amqp, dist) = (ports[0], ports[1]);
        let name = format!("hopscope{}x{amqp}@localhost", std::process::id());
        let log = std::fs::File::create(dir.path().join("broker.log")).expect("broker log");
        let mut cmd = Command::new(&bin);
        cmd.env("RABBITMQ_NODE_PORT", amqp.to_string())
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_DIST_PORT", dist.to_string())
            .env("RABBITMQ_NODENAME", &name)
            .env("RABBITMQ_MNESIA_BASE", dir.path().join("db"))
            .env("RABBITMQ_LOG_BASE", dir.path().join("log"))
            .env("RABBITMQ_LOGS", "-")
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.path().join("plugins"))
            .env("RABBITMQ_CONFIG_FILE", dir.path().join("none"))
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut broker = Broker { child, dir, url: format!("amqp://guest:guest@127.0.0.1:{amqp}") };
        let deadline = Instant::now() + BROKER_START;
        while std::net::TcpStream::connect(("127.0.0.1", amqp)).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!("rabbitmq-server exited ({status}): {}", broker.log());
            }
            assert!(
                Instant::now() < deadline,
                "rabbitmq-server did not accept connections within {BROKER_START:?}: {}",
                broker.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        broker
    }

    /// The broker the tests of one test binary share while they overlap: started by the
    /// first that asks, stopped when the last one holding it drops it.
    pub fn shared() -> std::sync::Arc<Broker> {
        static SHARED: std::sync::Mutex<std::sync::Weak<Broker>> =
            std::sync::Mutex::new(std::sync::Weak::new());
        let mut slot = SHARED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(broker) = slot.upgrade() {
            return broker;
        }
        let broker = std::sync::Arc::new(Broker::start());
        *slot = std::sync::Arc::downgrade(&broker);
        broker
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("broker.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let pgid = self.child.id();
        // `--`: procps' kill reads `-<pgid>` as an option otherwise.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Redis server of the test's own (Debian's `redis-server`, on a free port, nothing saved
/// to disk), stopped when dropped.
pub struct Redis {
    child: Child,
    _dir: tempfile::TempDir,
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Redis {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> Redis {
        let dir = tempfile::tempdir().expect("redis directory");
        let port = free_ports(1)[0];
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}): `apt-get install redis-server` (.ci/run \
                     does); the BullMQ end-to-end test needs a real Redis"
                )
            });
        let mut redis = Redis { child, _dir: dir, url: format!("redis://127.0.0.1:{port}") };
        let deadline = Instant::now() + BROKER_START;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = redis.child.try_wait() {
                panic!("redis-server exited ({status})");
            }
            assert!(Instant::now() < deadline, "redis-server not up within {BROKER_START:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The destination nodes of the analysis' graph, by id.
pub fn destination_nodes(a: &Analysis) -> Vec<&str> {
    a.graph
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Destination)
        .map(|n| n.id.as_str())
        .collect()
}

/// The destinations `service` consumes from, by graph node id.
pub fn consumed_from<'a>(a: &'a Analysis, service: &str) -> Vec<&'a str> {
    a.graph
        .edges
        .iter()
        .filter(|e| e.to == service && e.kind.as_str() == "consume")
        .map(|e| e.from.as_str())
        .collect()
}

/// The lag row of (`destination`, `group`); `None`: the row of nobody (`no_consumer`).
pub fn lag_row<'a>(a: &'a Analysis, destination: &str, group: Option<&str>) -> &'a Lag {
    a.lag
        .iter()
        .find(|l| l.destination == destination && l.consumer_group.as_deref() == group)
        .unwrap_or_else(|| panic!("no lag row {destination} {group:?}: {:#?}", a.lag))
}

/// `hopscope analyze --format json <path>`, parsed.
pub fn analyze(path: &Path) -> Analysis {
    let out = Command::new(crate::hopscope_bin())
        .args(["analyze", "--format", "json"])
        .arg(path)
        .env_remove("HOPSCOPE_CONFIG")
        .output()
        .expect("cannot run hopscope analyze");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("analysis JSON")
}

/// How long a test system's program may take to get ready, or to finish.
const RUN: Duration = Duration::from_secs(120);

/// Runs a Python test system of `tests/python/<script>` on `broker`: starts each of
/// `consumers` (service, environment) as `<script> <role>` and waits until it prints
/// `ready`, runs `<script> publisher` as `publisher` (service, environment) to completion,
/// waits for the consumers to exit, and returns `hopscope analyze` of what `hopscope serve`
/// recorded from them all (OTLP/HTTP), and the recorded spans.
pub fn run_python(
    script: &str,
    broker: &Broker,
    role: &str,
    consumers: &[(&str, Vec<(&str, &str)>)],
    publisher: &(&str, Vec<(&str, &str)>),
) -> (Analysis, Vec<crate::RecordedSpan>) {
    let dir = python_dir();
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("python.jsonl");
    let mut serve = crate::Serve::start(&["--record", path.to_str().expect("UTF-8 path")]);
    let otlp = serve.http_endpoint();
    let start = |(name, env): &(&str, Vec<(&str, &str)>), role: &str| {
        let env: Vec<(&str, &str)> =
            [("AMQP_URL", broker.url.as_str())].into_iter().chain(env.iter().copied()).collect();
        Service::python(&dir, &[script, role], name, &otlp, &env)
    };
    let mut running: Vec<Service> = consumers.iter().map(|c| start(c, role)).collect();
    for c in &running {
        c.wait_for_line("ready", RUN);
    }
    start(publisher, "publisher").wait_success(RUN);
    for c in &mut running {
        c.wait_success(RUN);
    }
    // Every exporter has shut down (flushed); give the receiver a moment to store the last.
    std::thread::sleep(Duration::from_millis(500));
    let status = serve.stop();
    assert!(status.success(), "{status}: {:?}", serve.stderr_lines());
    (analyze(&path), crate::read_recording(&path))
}

/// `tests/python`, with its virtual environment `.venv` made (by Debian's or any `python3`)
/// and the packages of `requirements.txt` installed in it: once per test process, when the
/// environment is missing or was installed from another `requirements.txt`.
pub fn python_dir() -> PathBuf {
    static INSTALLED: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let dir = workspace_root().join("tests/python");
    let venv = dir.join(".venv");
    let stamp = venv.join("requirements.installed");
    let wanted = std::fs::read_to_string(dir.join("requirements.txt")).expect("requirements.txt");
    let _once = INSTALLED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return dir;
    }
    let run = |cmd: &mut Command, what: &str| {
        let status = cmd.current_dir(&dir).status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "{what} in {} failed ({status:?}): the Python test programs need python3 with its \
             venv module (`apt-get install python3 python3-venv`; .ci/run does) and PyPI",
            dir.display()
        );
    };
    if !venv.join("bin/python").exists() {
        run(Command::new("python3").args(["-m", "venv", ".venv"]), "`python3 -m venv .venv`");
    }
    run(
        Command::new(venv.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            "requirements.txt",
        ]),
        "`pip install -r requirements.txt`",
    );
    std::fs::write(&stamp, wanted).expect("write the venv's stamp");
    dir
}

/// `tests/node`, with its packages installed: `npm ci` (exactly the committed lock) runs once
/// per test process when they are missing, so `cargo test` needs no step of its own.
pub fn node_dir() -> PathBuf {
    npm_package("tests/node", &["@opentelemetry/instrumentation-amqplib", "bullmq-otel", "ioredis"])
}

/// `tests/asyncapi`, the official AsyncAPI parser (`@asyncapi/parser`) and `validate.js`
/// over it, installed as [`node_dir`] is.
pub fn asyncapi_dir() -> PathBuf {
    npm_package("tests/asyncapi", &["@asyncapi/parser"])
}

/// Validates the AsyncAPI document `doc` with the official parser (`tests/asyncapi`'s
/// `validate.js`): whether it is valid, and what the parser said.
pub fn validate_asyncapi(doc: &Path) -> (bool, String) {
    let out = Command::new("node")
        .arg(asyncapi_dir().join("validate.js"))
        .arg(doc)
        .output()
        .expect("node runs (apt-get install nodejs; .ci/run does)");
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

/// The npm package at `dir` (from the workspace root), `npm ci` run there (once per test
/// process) when one of `markers` (packages in its `node_modules`) is missing.
fn npm_package(dir: &str, markers: &[&str]) -> PathBuf {
    static INSTALLED: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let dir = workspace_root().join(dir);
    // One package per test system: a `node_modules` from before one was added is reinstalled.
    let installed = || markers.iter().all(|p| dir.join("node_modules").join(p).exists());
    let _once = INSTALLED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !installed() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "`npm ci` in {} failed ({status:?}): the Node.js test packages need node and npm \
             (`apt-get install nodejs npm`; .ci/run does)",
            dir.display()
        );
    }
    assert!(
        installed(),
        "the Node.js test packages are not installed: run `npm ci` in {} (.ci/run does)",
        dir.display()
    );
    dir
}

/// A running service of a test system (Node.js or Python), killed when dropped.
pub struct Service {
    child: Child,
    lines: mpsc::Receiver<String>,
    name: String,
}

/// The Node.js services of `tests/node/system.js`.
pub type NodeService = Service;

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Service {
    /// `node system.js <role>` as service `name`, exporting OTLP/gRPC to `otlp`.
    pub fn start(
        dir: &Path,
        role: &str,
        name: &str,
        otlp: &str,
        amqp: &str,
        env: &[(&str, &str)],
    ) -> Service {
        Service::node(dir, &["system.js", role], name, otlp, &[&[("AMQP_URL", amqp)], env].concat())
    }

    /// `node <args>` in `dir` as service `name`, exporting OTLP/gRPC to `otlp`.
    pub fn node(
        dir: &Path,
        args: &[&str],
        name: &str,
        otlp: &str,
        env: &[(&str, &str)],
    ) -> Service {
        let mut cmd = Command::new("node");
        cmd.current_dir(dir)
            .args(args)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp)
            .env("OTEL_TRACES_EXPORTER", "otlp")
            .env("OTEL_METRICS_EXPORTER", "none")
            .env("OTEL_LOGS_EXPORTER", "none");
        Service::spawn(cmd, name, env, "`node`: Node.js 20 is needed (.ci/run checks for it)")
    }

    /// `python <args>` with the interpreter of `tests/python`'s virtual environment (see
    /// [`python_dir`]), as service `name`, exporting OTLP/HTTP to `otlp_http`.
    pub fn python(
        dir: &Path,
        args: &[&str],
        name: &str,
        otlp_http: &str,
        env: &[(&str, &str)],
    ) -> Service {
        let mut cmd = Command::new(dir.join(".venv/bin/python"));
        cmd.current_dir(dir)
            .args(args)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_http)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .env("PYTHONUNBUFFERED", "1")
            .env_remove("PYTHONPATH");
        Service::spawn(cmd, name, env, "the virtual environment's python (see python_dir)")
    }

    fn spawn(mut cmd: Command, name: &str, env: &[(&str, &str)], what: &str) -> Service {
        cmd.env("OTEL_SERVICE_NAME", name)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Service { child, lines, name: name.to_owned() }
    }

    /// Waits until the service prints `line`.
    pub fn wait_for_line(&self, line: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l == line => return,
                Ok(_) => {}
                Err(e) => panic!("{} did not print {line:?} within {timeout:?}: {e}", self.name),
            }
        }
    }

    /// Waits for the service to exit, and asserts it succeeded.
    pub fn wait_success(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for node") {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            assert!(Instant::now() < deadline, "{} still running after {timeout:?}", self.name);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
