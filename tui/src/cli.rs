//! The command line, per DESIGN.md §5: every mode's flags (`*Args`) and the parsers of their
//! values (durations, sizes, PEM files, `--fail-on` lists, flow ids). Every flag can also be
//! given as a `HOPSCOPE_*` environment variable and as a key of the TOML `--config` file; flag
//! > env > file > default ([`crate::config`] resolves them).
//!
//! This module depends on no mode: `config` and the modes (`serve`, `analyze`, `export`, …)
//! read it, never the other way.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hopscope_collector::analysis::InsightKind;

/// See how a request travels through a system that mixes synchronous calls and asynchronous
/// events: an embedded OTLP collector that stitches sync calls and async hops into
/// end-to-end flows.
#[derive(Debug, Parser)]
#[command(name = "hopscope", version, about, long_about = None, propagate_version = true)]
#[command(after_help = "Point any OpenTelemetry exporter at hopscope:\n  \
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317  (gRPC)\n  \
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318  (HTTP, with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)")]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Without a subcommand: the collector and the terminal UI over what it receives.
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub live: LiveArgs,
}

/// Flags of plain `hopscope` (the collector and the TUI).
#[derive(Debug, Args, Clone, Default)]
pub struct LiveArgs {
    #[command(flatten)]
    pub collector: CollectorArgs,

    /// Record every accepted span to FILE as OTLP JSON lines (as `serve --record`).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// A flow, saga or message waiting longer than DUR on the event clock is stuck
    /// [default: 30s].
    #[arg(long, env = "HOPSCOPE_STUCK_AFTER", value_name = "DUR", value_parser = parse_duration)]
    pub stuck_after: Option<Duration>,
}

/// Flags of `replay`.
#[derive(Debug, Args, Clone, Default)]
pub struct ReplayArgs {
    /// Recordings to replay, in order: OTLP JSON lines or JSON, OTLP protobuf (optionally
    /// zstd), Jaeger or Zipkin JSON, gzip or zstd compressed; a directory reads its files in
    /// name order; `-` reads stdin.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Replay at N times the original timing (0.5 is half speed) [default: 1]. In the TUI,
    /// `+` and `-` double and halve it, space pauses, `r` seeks to the start.
    #[arg(long, value_name = "N", conflicts_with = "instant")]
    pub speed: Option<f64>,

    /// Feed everything at once, without the original gaps.
    #[arg(long)]
    pub instant: bool,

    /// Memory for stored spans; the oldest traces are evicted past it [default: 1GiB].
    #[arg(long, env = "HOPSCOPE_MAX_MEMORY", value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<u64>,

    /// A flow, saga or message waiting longer than DUR of replayed time is stuck
    /// [default: 30s].
    #[arg(long, env = "HOPSCOPE_STUCK_AFTER", value_name = "DUR", value_parser = parse_duration)]
    pub stuck_after: Option<Duration>,

    /// Record every replayed span to FILE as OTLP JSON lines (as `serve --record`).
    /// Created with mode 0600.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Test hook: feed the engine without the terminal UI, print the final stats line on
    /// stderr (as `serve`) and exit once every file is read.
    #[arg(long, hide = true)]
    pub headless: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the collector headless: receive OTLP, keep spans in memory, optionally record
    /// them, and print a stats line on stderr every few seconds. Stops cleanly on Ctrl-C
    /// or SIGTERM, flushing the recording.
    Serve(ServeArgs),

    /// Open the terminal UI over recorded files, replayed with their original timing (or
    /// N times faster, or at once): lag builds up and sagas get stuck as they did live.
    #[command(after_help = "Examples:\n  \
        hopscope replay rec.jsonl                 original timing\n  \
        hopscope replay rec.jsonl --speed 10      ten times faster\n  \
        hopscope replay traces/ --instant         every file of a directory, at once")]
    Replay(ReplayArgs),

    /// Run the collector fed by a built-in event-driven shop, instrumented with the
    /// OpenTelemetry SDK: every pattern hopscope shows, in its first minute.
    ///
    /// Eight services (gateway, orders, inventory, payments, shipping, notifications,
    /// analytics, loyalty), each its own service.name, export OTLP/gRPC to the embedded
    /// collector: sync call chains, an OrderPlaced event fanned out over Kafka, RabbitMQ
    /// hops, order sagas that complete, compensate, fail and get stuck, a slow consumer, a
    /// destination nobody consumes, a duplicate delivery, a cascade failure and a batch
    /// consumer, mixed continuously (the same --seed, the same mix).
    #[command(after_help = "Examples:\n  \
        hopscope demo                                  the shop, until Ctrl-C\n  \
        hopscope demo --headless --duration 25s --record demo.jsonl\n  \
        hopscope demo --export-only --endpoint http://127.0.0.1:4317   feed another collector")]
    Demo(DemoArgs),

    /// Analyse recordings headless: link sync calls and async hops into flows, and report
    /// flows, the choreography graph, consumer lag, sagas and insights as text or as the
    /// `hopscope.analysis/v1` JSON. For scripts and CI (`--fail-on`).
    Analyze(AnalyzeArgs),

    /// Write one flow of recordings as a Mermaid sequence diagram, a Graphviz digraph or
    /// JSON, for docs, tickets and other tools.
    ///
    /// The sequence diagram and the JSON are what the TUI's `e` and `E` keys write; the
    /// digraph has a node per service and per destination, solid edges for sync calls and
    /// dashed ones for async hops. Find flow ids with `hopscope analyze FILE`.
    Export(ExportArgs),

    /// Write the event catalog of recordings: one entry per domain event, who emits it in
    /// which command or policy, who consumes it (queue time, error share), its versions and
    /// rate; as Markdown, a Mermaid event-storming board, an AsyncAPI 3.0 document or JSON.
    Catalog(CatalogArgs),
}

/// Flags shared by every mode that runs the collector.
#[derive(Debug, Args, Clone, Default)]
pub struct CollectorArgs {
    /// Address of the OTLP/gRPC receiver [default: 127.0.0.1:4317]. Use port 0 for any free port.
    #[arg(long, env = "HOPSCOPE_GRPC", value_name = "ADDR")]
    pub grpc: Option<SocketAddr>,

    /// Address of the OTLP/HTTP receiver [default: 127.0.0.1:4318]. Use port 0 for any free port.
    #[arg(long, env = "HOPSCOPE_HTTP", value_name = "ADDR")]
    pub http: Option<SocketAddr>,

    /// Memory for stored spans and logs; the oldest traces are evicted past it
    /// [default: 1GiB]. Units: B, KiB, MiB, GiB (or KB, MB, GB).
    #[arg(long, env = "HOPSCOPE_MAX_MEMORY", value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<u64>,

    /// Largest OTLP request accepted, measured after decompression [default: 64MiB];
    /// larger ones get RESOURCE_EXHAUSTED / HTTP 413.
    #[arg(long, env = "HOPSCOPE_MAX_REQUEST", value_name = "SIZE", value_parser = parse_size)]
    pub max_request: Option<u64>,

    /// Spans that may wait for the engine before receivers refuse new ones with
    /// UNAVAILABLE / HTTP 503 and a retry hint [default: 1048576].
    #[arg(long, env = "HOPSCOPE_INGEST_QUEUE", value_name = "SPANS")]
    pub ingest_queue: Option<usize>,

    /// Require `Authorization: Bearer TOKEN` on every OTLP request (HTTP header or gRPC
    /// metadata); others get HTTP 401 / UNAUTHENTICATED. Prefer the environment variable
    /// or the config file to a flag, which other users can see in the process list.
    #[arg(long, env = "HOPSCOPE_AUTH_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,

    /// Serve both receivers over TLS with this PEM certificate chain (leaf first); needs
    /// --tls-key. Exporters then use `https://` endpoints.
    #[arg(long, env = "HOPSCOPE_TLS_CERT", value_name = "FILE", value_parser = parse_pem_cert)]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, env = "HOPSCOPE_TLS_KEY", value_name = "FILE", value_parser = parse_pem_key)]
    pub tls_key: Option<PathBuf>,

    /// TOML file with defaults for any of these flags (keys as the long flag names, with
    /// `_` or `-`: e.g. `grpc = "127.0.0.1:4317"`, `max_memory = "512MiB"`).
    #[arg(long, env = "HOPSCOPE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Hand every recorded line to the OS before answering the request (with --record):
    /// a killed process loses no acknowledged span, at a cost in throughput. Without it,
    /// lines reach the OS within 200 ms of the answer.
    #[arg(long, env = "HOPSCOPE_RECORD_SYNC")]
    pub record_sync: bool,

    /// Rotate the recording before it would grow past SIZE: `spans.jsonl` is renamed to
    /// `spans.<UTC time>.jsonl` and a new one started (a line is never split).
    #[arg(long, env = "HOPSCOPE_RECORD_MAX_SIZE", value_name = "SIZE", value_parser = parse_size)]
    pub record_max_size: Option<u64>,

    /// With --record-max-size: keep at most N files, deleting the oldest rotated ones.
    #[arg(long, env = "HOPSCOPE_RECORD_MAX_FILES", value_name = "N")]
    pub record_max_files: Option<usize>,

    /// Time a client has to send a request's headers, from connecting (or from sending the
    /// first byte of the next request) [default: 10s].
    #[arg(long, env = "HOPSCOPE_HEADER_TIMEOUT", value_name = "DUR", value_parser = parse_duration)]
    pub header_timeout: Option<Duration>,

    /// Longest a request body may go without a byte arriving [default: 30s].
    #[arg(long, env = "HOPSCOPE_BODY_TIMEOUT", value_name = "DUR", value_parser = parse_duration)]
    pub body_timeout: Option<Duration>,

    /// Close a connection with no request in flight for DUR [default: 2m].
    #[arg(long, env = "HOPSCOPE_IDLE_TIMEOUT", value_name = "DUR", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,

    /// HTTP/2 keep-alive: ping every DUR, close a connection whose peer does not answer
    /// within DUR [default: 60s].
    #[arg(long, env = "HOPSCOPE_H2_PING", value_name = "DUR", value_parser = parse_duration)]
    pub h2_ping: Option<Duration>,

    /// Concurrent streams allowed on one HTTP/2 connection [default: 128].
    #[arg(long, env = "HOPSCOPE_MAX_STREAMS", value_name = "N")]
    pub max_streams: Option<u32>,

    /// Open connections per receiver; past it the connection idle the longest is closed
    /// and the new one served [default: 512].
    #[arg(long, env = "HOPSCOPE_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// Test hook: the engine sleeps this long after each batch, so the queue fills.
    #[arg(long, env = "HOPSCOPE_DEBUG_ENGINE_DELAY", value_parser = parse_duration, hide = true)]
    pub debug_engine_delay: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub collector: CollectorArgs,

    /// Record every accepted span to FILE as OTLP JSON lines (one TracesData per line,
    /// the OpenTelemetry Collector file exporter's format). Created with mode 0600.
    #[arg(long, env = "HOPSCOPE_RECORD", value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// How often to print the stats line on stderr [default: 2s].
    #[arg(long, env = "HOPSCOPE_STATS_INTERVAL", value_name = "DUR", value_parser = parse_duration)]
    pub stats_interval: Option<Duration>,
}

/// Flags of `demo`.
#[derive(Debug, Args, Clone, Default)]
pub struct DemoArgs {
    #[command(flatten)]
    pub collector: CollectorArgs,

    /// Run without the terminal UI: print the listen addresses and a stats line on stderr,
    /// like `serve`, until Ctrl-C, SIGTERM or the end of --duration.
    #[arg(long, env = "HOPSCOPE_HEADLESS")]
    pub headless: bool,

    /// Stop after DUR of traffic (e.g. `25s`, `2m`): in-flight flows finish, the SDK
    /// exporters flush, then the collector stops and the recording is complete
    /// [default: run until Ctrl-C].
    #[arg(long, env = "HOPSCOPE_DURATION", value_name = "DUR", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Flows started per second, on average (0.1 to 1000) [default: 3]. Each flow is one
    /// request into the gateway and everything it sets off.
    #[arg(long, env = "HOPSCOPE_RATE", value_name = "N")]
    pub rate: Option<f64>,

    /// Seed of the scenario mix: the same seed gives the same sequence of flows, variants
    /// and latencies [default: a new one each run, printed at start].
    #[arg(long, env = "HOPSCOPE_SEED", value_name = "N")]
    pub seed: Option<u64>,

    /// Record every span the collector accepts to FILE as OTLP JSON lines (as `serve
    /// --record`). Created with mode 0600.
    #[arg(long, env = "HOPSCOPE_RECORD", value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// How often to print the stats line on stderr when headless [default: 2s].
    #[arg(long, env = "HOPSCOPE_STATS_INTERVAL", value_name = "DUR", value_parser = parse_duration)]
    pub stats_interval: Option<Duration>,

    /// In the terminal UI, a flow, saga or message waiting longer than DUR is stuck
    /// [default: 30s]. The demo's stuck sagas wait forever; try `5s` to see them sooner.
    #[arg(long, env = "HOPSCOPE_STUCK_AFTER", value_name = "DUR", value_parser = parse_duration)]
    pub stuck_after: Option<Duration>,

    /// Start no collector: send the shop's spans to the OTLP/gRPC collector at --endpoint
    /// (Jaeger, Tempo, an OpenTelemetry Collector, another hopscope) and print what was
    /// sent. Implies no terminal UI.
    #[arg(long, env = "HOPSCOPE_EXPORT_ONLY", conflicts_with_all = ["record", "grpc", "http"])]
    pub export_only: bool,

    /// OTLP/gRPC endpoint for --export-only, e.g. `http://collector:4317` [default:
    /// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT, else
    /// http://localhost:4317].
    #[arg(long, env = "HOPSCOPE_ENDPOINT", value_name = "URL", requires = "export_only")]
    pub endpoint: Option<String>,
}

/// Flags of `analyze`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    hopscope analyze rec.jsonl                         text report\n  \
    hopscope analyze rec.jsonl --format json | jq .flows\n  \
    hopscope analyze rec.jsonl --fail-on stuck,errors,lag>2s   exit 1 when one holds (CI)\n\n\
    Exit status: 0 ok; 1 a --fail-on condition holds; 2 nothing readable in the input.")]
pub struct AnalyzeArgs {
    /// Recordings to read (`hopscope serve --record` output, OTLP JSON/protobuf, Jaeger,
    /// Zipkin); a directory reads its files in name order (rotated recordings in time
    /// order); `-` reads stdin.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Output: a readable report, or the `hopscope.analysis/v1` JSON document [default: text].
    #[arg(long, env = "HOPSCOPE_FORMAT", value_name = "FORMAT")]
    pub format: Option<ReportFormat>,

    /// A flow, saga or message waiting longer than this on the event clock (the latest end
    /// time in the data) is stuck [default: 30s].
    #[arg(long, env = "HOPSCOPE_STUCK_AFTER", value_name = "DUR", value_parser = parse_duration)]
    pub stuck_after: Option<Duration>,

    /// A subscription whose p95 queue time or oldest unconsumed message is older than this
    /// is `warn` [default: 1s].
    #[arg(long, env = "HOPSCOPE_LAG_WARN", value_name = "DUR", value_parser = parse_duration)]
    pub lag_warn: Option<Duration>,

    /// Exit 1 when one of these holds (comma-separated): `stuck` (a flow or saga is stuck),
    /// `errors` (a span is an error), `lag>DUR` (a subscription's p95 queue time or oldest
    /// unconsumed message is older than DUR), `insights` (any insight), or an insight kind
    /// (`distributed_monolith`, `sync_fanout`, `event_soup`, ...: one of that kind).
    #[arg(long, env = "HOPSCOPE_FAIL_ON", value_name = "LIST", value_parser = FailOn::parse)]
    pub fail_on: Option<FailOn>,

    /// A service coordinating this many distinct services or more is a `god_orchestrator`.
    #[arg(long, env = "HOPSCOPE_GOD_ORCHESTRATOR", value_name = "N", default_value_t = hopscope_collector::analysis::DEFAULT_GOD_ORCHESTRATOR)]
    pub god_orchestrator: u32,

    /// TOML file with defaults for these flags (`format`, `stuck_after`, `lag_warn`,
    /// `fail_on`).
    #[arg(long, env = "HOPSCOPE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Output format of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

impl ReportFormat {
    /// Parses `text` or `json` (any case), as a config file writes it.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(ReportFormat::Text),
            "json" => Ok(ReportFormat::Json),
            other => Err(format!("unknown format `{other}` (text or json)")),
        }
    }
}

/// Conditions of `--fail-on` (`analyze` checks them against its analysis).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailOn {
    pub stuck: bool,
    pub errors: bool,
    pub lag_over: Option<Duration>,
    pub insights: bool,
    /// Insight kinds that fail the run when one of them is found.
    pub kinds: Vec<InsightKind>,
}

impl FailOn {
    /// Parses `stuck,errors,lag>2s,insights`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = FailOn::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item {
                "stuck" => out.stuck = true,
                "errors" | "error" => out.errors = true,
                "insights" => out.insights = true,
                kind if InsightKind::parse(kind).is_some() => {
                    out.kinds.extend(InsightKind::parse(kind));
                }
                _ => {
                    let Some(dur) = item.strip_prefix("lag>") else {
                        return Err(format!(
                            "unknown --fail-on condition `{item}` (stuck, errors, lag>DUR, insights, or an insight kind: {})",
                            InsightKind::ALL.map(InsightKind::as_str).join(", ")
                        ));
                    };
                    out.lag_over = Some(parse_duration(dur.trim())?);
                }
            }
        }
        Ok(out)
    }
}

/// Flags of `export`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    hopscope analyze rec.jsonl --format text           list the flows and their ids\n  \
    hopscope export rec.jsonl --flow 4bf92f35          a Mermaid sequence diagram on stdout\n  \
    hopscope export rec.jsonl --flow 4bf92f35 --format dot | dot -Tsvg > flow.svg\n  \
    hopscope export rec.jsonl --flow 4bf92f35 --format json --out flow.json\n  \
    hopscope export rec.jsonl --graph --format dot | dot -Tsvg > graph.svg\n\n\
    Exit status: 0 written; 2 nothing readable in the input, or no single flow matches --flow.")]
#[command(group = clap::ArgGroup::new("what").required(true).args(["flow", "graph"]))]
pub struct ExportArgs {
    /// Recordings to read (`hopscope serve --record` output, OTLP JSON/protobuf, Jaeger,
    /// Zipkin, gzip or zstd compressed); a directory reads its files in name order; `-` reads
    /// stdin.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// The flow: its id (the root trace id), or the id of any trace in it, in hex; a unique
    /// prefix of either is enough (`hopscope analyze FILE --format text` lists the flows).
    #[arg(long, value_name = "ID", value_parser = parse_id)]
    pub flow: Option<String>,

    /// Instead of one flow, the whole choreography graph: services, destinations (grouped
    /// by system) and the calls, emits and consumes between them, with counts, errors and
    /// p95; as a Graphviz digraph, a Mermaid flowchart or JSON (`hopscope.graph/v1`), as the
    /// TUI's `E` on the Graph screen writes it.
    #[arg(long)]
    pub graph: bool,

    /// What to write: `mermaid`, the sequence diagram the TUI's `e` writes; `dot`, a
    /// Graphviz digraph of services and destinations (solid: sync calls, dashed: async
    /// hops); `json`, the flow, its hops and every span (`hopscope.flow/v1`, as `E`)
    /// [default: mermaid].
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<FlowFormat>,

    /// Write to FILE instead of stdout (`-` is stdout).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// A flow waiting longer than DUR on the event clock (the latest end time in the data) is
    /// stuck, as in `analyze` [default: 30s].
    #[arg(long, env = "HOPSCOPE_STUCK_AFTER", value_name = "DUR", value_parser = parse_duration)]
    pub stuck_after: Option<Duration>,
}

/// Flags of `catalog`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    hopscope catalog rec.jsonl                           Markdown on stdout\n  \
    hopscope catalog rec.jsonl --format mermaid          the event-storming board\n  \
    hopscope catalog rec.jsonl --format asyncapi --out asyncapi.json\n  \
    cat rec.jsonl | hopscope catalog - --format json\n\n\
    Exit status: 0 written; 2 nothing readable in the input.")]
pub struct CatalogArgs {
    /// Recordings to read (`hopscope serve --record` output, OTLP JSON/protobuf, Jaeger,
    /// Zipkin, gzip or zstd compressed); a directory reads its files in name order; `-` reads
    /// stdin.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// What to write: `markdown`, a section per event, for a pull request; `mermaid`, the
    /// board as a flowchart (command → aggregate → event → policy → command); `asyncapi`, an
    /// AsyncAPI 3.0 document (JSON); `json`, the `events` of `analyze --format json`
    /// (`hopscope.catalog/v1`) [default: markdown].
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<CatalogFormat>,

    /// Write to FILE instead of stdout (`-` is stdout).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Output format of `catalog`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CatalogFormat {
    Markdown,
    Mermaid,
    Asyncapi,
    Json,
}

impl CatalogFormat {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            CatalogFormat::Markdown => "markdown",
            CatalogFormat::Mermaid => "mermaid",
            CatalogFormat::Asyncapi => "asyncapi",
            CatalogFormat::Json => "json",
        }
    }
}

/// Output format of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlowFormat {
    /// A Mermaid `sequenceDiagram`.
    Mermaid,
    /// A Graphviz `digraph`.
    Dot,
    /// The `hopscope.flow/v1` JSON document.
    Json,
}

/// A hex id or prefix, lowercased.
fn parse_id(s: &str) -> Result<String, String> {
    let id = s.trim().to_ascii_lowercase();
    if id.is_empty() {
        return Err("an empty id; give a flow or trace id (or a prefix of one) in hex".into());
    }
    if id.len() > 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "`{s}` is not a trace id: up to 32 hex digits (a prefix is enough), e.g. 4bf92f35"
        ));
    }
    Ok(id)
}

fn parse_size(s: &str) -> Result<u64, String> {
    hopscope_collector::size::parse_size(s)
}

/// A readable file holding at least one PEM certificate.
pub fn parse_pem_cert(s: &str) -> Result<PathBuf, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let bytes = read_pem(s)?;
    match CertificateDer::pem_slice_iter(&bytes).collect::<Result<Vec<_>, _>>() {
        Ok(certs) if !certs.is_empty() => Ok(PathBuf::from(s)),
        Ok(_) => Err(format!("{s} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)")),
        Err(e) => Err(format!("{s} is not a valid PEM certificate: {e}")),
    }
}

/// A readable file holding a PEM private key.
pub fn parse_pem_key(s: &str) -> Result<PathBuf, String> {
    use rustls_pki_types::PrivateKeyDer;
    use rustls_pki_types::pem::PemObject;
    let bytes = read_pem(s)?;
    PrivateKeyDer::from_pem_slice(&bytes).map(|_| PathBuf::from(s)).map_err(|e| {
        format!(
            "{s} holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1: \
             `-----BEGIN PRIVATE KEY-----`): {e}"
        )
    })
}

fn read_pem(s: &str) -> Result<Vec<u8>, String> {
    std::fs::read(s).map_err(|e| format!("cannot read {s}: {e}"))
}

/// Parses `30s`, `1m30s`, `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration ({e}); examples: 30s, 2m, 250ms"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_flags_parse() {
        let cli = Cli::try_parse_from([
            "hopscope",
            "serve",
            "--grpc",
            "127.0.0.1:0",
            "--max-memory",
            "256MiB",
            "--record",
            "x.jsonl",
            "--stats-interval",
            "500ms",
        ])
        .unwrap();
        let Some(Command::Serve(args)) = cli.command else { panic!("not serve") };
        assert_eq!(args.collector.max_memory, Some(256 << 20));
        assert_eq!(args.stats_interval, Some(Duration::from_millis(500)));
        assert!(Cli::try_parse_from(["hopscope", "serve", "--max-memory", "lots"]).is_err());
    }

    #[test]
    fn demo_flags_parse_and_combine() {
        let cli = Cli::try_parse_from([
            "hopscope",
            "demo",
            "--headless",
            "--duration",
            "25s",
            "--rate",
            "5",
            "--seed",
            "7",
        ])
        .unwrap();
        let Some(Command::Demo(args)) = cli.command else { panic!("not demo") };
        assert!(args.headless && !args.export_only);
        assert_eq!(args.duration, Some(Duration::from_secs(25)));
        assert_eq!((args.rate, args.seed), (Some(5.0), Some(7)));
        let parse = |extra: &[&str]| Cli::try_parse_from([&["hopscope", "demo"], extra].concat());
        assert!(parse(&["--export-only", "--endpoint", "http://otel:4317"]).is_ok());
        assert!(
            parse(&["--endpoint", "http://otel:4317"]).is_err(),
            "--endpoint needs --export-only"
        );
        assert!(parse(&["--export-only", "--record", "x.jsonl"]).is_err());
        assert!(parse(&["--export-only", "--grpc", "127.0.0.1:0"]).is_err());
    }

    #[test]
    fn bare_hopscope_is_live_and_replay_takes_speed_or_instant() {
        let cli = Cli::try_parse_from(["hopscope", "--grpc", "127.0.0.1:0", "--stuck-after", "5s"])
            .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.live.collector.grpc.map(|a| a.port()), Some(0));
        assert_eq!(cli.live.stuck_after, Some(Duration::from_secs(5)));
        let cli = Cli::try_parse_from(["hopscope", "replay", "a.jsonl", "b.pb", "--speed", "10"])
            .unwrap();
        let Some(Command::Replay(args)) = cli.command else { panic!("not replay") };
        assert_eq!(args.files.len(), 2);
        assert_eq!(args.speed, Some(10.0));
        assert!(!args.instant);
        let cli = Cli::try_parse_from(["hopscope", "replay", "a.jsonl", "--instant"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Replay(ReplayArgs { instant: true, .. }))));
        let both = ["hopscope", "replay", "a", "--instant", "--speed", "2"];
        assert!(Cli::try_parse_from(both).is_err());
        assert!(Cli::try_parse_from(["hopscope", "replay"]).is_err());
        let cli =
            Cli::try_parse_from(["hopscope", "replay", "a", "--record", "b.jsonl", "--headless"])
                .unwrap();
        let Some(Command::Replay(args)) = cli.command else { panic!("not replay") };
        assert_eq!(args.record, Some(PathBuf::from("b.jsonl")));
        assert!(args.headless);
    }

    #[test]
    fn cli_parses_analyze() {
        let cli = Cli::try_parse_from([
            "hopscope",
            "analyze",
            "a.jsonl",
            "b.jsonl",
            "--format",
            "json",
            "--stuck-after",
            "1m",
            "--fail-on",
            "stuck,lag>2s",
        ])
        .unwrap();
        let Some(Command::Analyze(a)) = cli.command else { panic!("not analyze") };
        assert_eq!(a.files.len(), 2);
        assert_eq!(a.format, Some(ReportFormat::Json));
        assert_eq!(a.stuck_after, Some(Duration::from_secs(60)));
        assert_eq!(a.fail_on.unwrap().lag_over, Some(Duration::from_secs(2)));
        assert!(Cli::try_parse_from(["hopscope", "analyze"]).is_err());
    }

    #[test]
    fn fail_on_parses_conditions() {
        let f = FailOn::parse("stuck, errors,lag>2s").unwrap();
        assert!(f.stuck && f.errors && !f.insights);
        assert_eq!(f.lag_over, Some(Duration::from_secs(2)));
        assert!(FailOn::parse("stuck,slow").is_err());
        for kind in InsightKind::ALL {
            let f = FailOn::parse(&format!("errors,{}", kind.as_str())).unwrap();
            assert_eq!(f.kinds, [kind]);
        }
        assert!(FailOn::parse("lag>soon").is_err());
        assert_eq!(FailOn::parse("").unwrap(), FailOn::default());
    }

    #[test]
    fn ids_parse_as_hex_prefixes() {
        assert_eq!(parse_id(" 4BF92F ").unwrap(), "4bf92f");
        assert!(parse_id("").is_err());
        assert!(parse_id("xyz").is_err());
        assert!(parse_id(&"a".repeat(33)).is_err());
    }

    #[test]
    fn cli_parses_export() {
        let cli = Cli::try_parse_from([
            "hopscope", "export", "a.jsonl", "-", "--flow", "ABC", "--format", "dot", "--out",
            "f.dot",
        ])
        .unwrap();
        let Some(Command::Export(a)) = cli.command else { panic!("not export") };
        assert_eq!(a.files.len(), 2);
        assert_eq!((a.flow.as_deref(), a.format), (Some("abc"), Some(FlowFormat::Dot)));
        assert_eq!(a.out, Some(PathBuf::from("f.dot")));
        assert!(!a.graph);
        assert!(Cli::try_parse_from(["hopscope", "export", "a.jsonl"]).is_err());
        // The whole graph instead of a flow; not both.
        let cli = Cli::try_parse_from(["hopscope", "export", "a.jsonl", "--graph"]).unwrap();
        let Some(Command::Export(a)) = cli.command else { panic!("not export") };
        assert!(a.graph && a.flow.is_none());
        let both = ["hopscope", "export", "a", "--graph", "--flow", "ab"];
        assert!(Cli::try_parse_from(both).is_err());
        let bad = ["hopscope", "export", "a", "--flow", "ab", "--format", "png"];
        assert!(Cli::try_parse_from(bad).is_err());
    }
}
