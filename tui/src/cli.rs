//! The command line, per DESIGN.md §5. Every flag can also be given as a `HOPSCOPE_*`
//! environment variable and as a key of the TOML `--config` file; flag > env > file > default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// See how a request travels through a system that mixes synchronous calls and asynchronous
/// events: an embedded OTLP collector that stitches sync calls and async hops into
/// end-to-end flows.
#[derive(Debug, Parser)]
#[command(name = "hopscope", version, about, long_about = None, propagate_version = true)]
#[command(after_help = "Point any OpenTelemetry exporter at hopscope:\n  \
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317  (gRPC)\n  \
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318  (HTTP, with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the collector headless: receive OTLP, keep spans in memory, optionally record
    /// them, and print a stats line on stderr every few seconds. Stops cleanly on Ctrl-C
    /// or SIGTERM, flushing the recording.
    Serve(ServeArgs),
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

    /// TOML file with defaults for any of these flags (keys as the long flag names, with
    /// `_` or `-`: e.g. `grpc = "127.0.0.1:4317"`, `max_memory = "512MiB"`).
    #[arg(long, env = "HOPSCOPE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

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

fn parse_size(s: &str) -> Result<u64, String> {
    hopscope_collector::size::parse_size(s)
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
        let Command::Serve(args) = cli.command;
        assert_eq!(args.collector.max_memory, Some(256 << 20));
        assert_eq!(args.stats_interval, Some(Duration::from_millis(500)));
        assert!(Cli::try_parse_from(["hopscope", "serve", "--max-memory", "lots"]).is_err());
    }
}
