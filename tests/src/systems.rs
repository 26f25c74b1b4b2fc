//! Real systems the messaging end-to-end tests run: a RabbitMQ broker of its own (Debian's
//! `rabbitmq-server`, on free ports, in a temporary directory) and the Node.js services of
//! `tests/node/` (their npm packages installed by `npm ci` there); and the official AsyncAPI
//! parser of `tests/asyncapi/`, installed the same way. `.ci/run` installs both;
//! a test that finds one missing fails and says how to install it, it never skips.

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// `tests/node`, with its packages installed: `npm ci` (exactly the committed lock) runs once
/// per test process when they are missing, so `cargo test` needs no step of its own.
pub fn node_dir() -> PathBuf {
    npm_package("tests/node", "node_modules/@opentelemetry/instrumentation-amqplib")
}

/// `tests/asyncapi`, the official AsyncAPI parser (`@asyncapi/parser`) and `validate.js`
/// over it, installed as [`node_dir`] is.
pub fn asyncapi_dir() -> PathBuf {
    npm_package("tests/asyncapi", "node_modules/@asyncapi/parser")
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
/// process) when `marker` (a path in it) is missing.
fn npm_package(dir: &str, marker: &str) -> PathBuf {
    static INSTALLED: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let dir = workspace_root().join(dir);
    let marker = dir.join(marker);
    let _once = INSTALLED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !marker.exists() {
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
        marker.exists(),
        "the Node.js test packages are not installed: run `npm ci` in {} (.ci/run does)",
        dir.display()
    );
    dir
}

/// A running Node.js service of `tests/node/system.js`, killed when dropped.
pub struct NodeService {
    child: Child,
    lines: mpsc::Receiver<String>,
    name: String,
}

impl std::fmt::Debug for NodeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeService").field("name", &self.name).finish_non_exhaustive()
    }
}

impl NodeService {
    /// `node system.js <role>` as service `name`, exporting OTLP/gRPC to `otlp`.
    pub fn start(
        dir: &Path,
        role: &str,
        name: &str,
        otlp: &str,
        amqp: &str,
        env: &[(&str, &str)],
    ) -> NodeService {
        let mut cmd = Command::new("node");
        cmd.current_dir(dir)
            .arg("system.js")
            .arg(role)
            .env("OTEL_SERVICE_NAME", name)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp)
            .env("OTEL_TRACES_EXPORTER", "otlp")
            .env("OTEL_METRICS_EXPORTER", "none")
            .env("OTEL_LOGS_EXPORTER", "none")
            .env("AMQP_URL", amqp)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot run `node` ({e}): Node.js 20 is needed (.ci/run checks for it)")
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        NodeService { child, lines, name: name.to_owned() }
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

impl Drop for NodeService {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
