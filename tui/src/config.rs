//! Settings resolution: flag > `HOPSCOPE_*` env (both already merged by clap) > the TOML
//! `--config` file > built-in default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::cli::{CollectorArgs, parse_duration};

/// Keys a config file may hold. Sizes and durations are strings (`"512MiB"`, `"30s"`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    grpc: Option<SocketAddr>,
    http: Option<SocketAddr>,
    #[serde(alias = "max-memory")]
    max_memory: Option<SizeValue>,
    #[serde(alias = "max-request")]
    max_request: Option<SizeValue>,
    #[serde(alias = "ingest-queue")]
    ingest_queue: Option<usize>,
    record: Option<PathBuf>,
    #[serde(alias = "stats-interval")]
    stats_interval: Option<String>,
    #[serde(alias = "stuck-after")]
    stuck_after: Option<String>,
}

/// A size written as a string with a unit or as a plain number of bytes.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Bytes(u64),
    Text(String),
}

impl SizeValue {
    fn bytes(&self, key: &str) -> Result<u64> {
        match self {
            SizeValue::Bytes(n) => Ok(*n),
            SizeValue::Text(s) => hopscope_collector::size::parse_size(s)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("config key `{key}`")),
        }
    }
}

/// The collector's settings, resolved.
#[derive(Debug, Clone)]
pub struct CollectorSettings {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub max_memory: u64,
    pub max_request: u64,
    pub ingest_queue: usize,
    pub debug_engine_delay: Option<Duration>,
}

/// Settings of `serve`, resolved.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub collector: CollectorSettings,
    pub record: Option<PathBuf>,
    pub stats_interval: Duration,
}

fn load(path: Option<&Path>) -> Result<FileConfig> {
    let Some(path) = path else { return Ok(FileConfig::default()) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

fn duration(value: Option<&String>, key: &str) -> Result<Option<Duration>> {
    value
        .map(|s| {
            parse_duration(s)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("config key `{key}`"))
        })
        .transpose()
}

fn collector(args: &CollectorArgs, file: &FileConfig) -> Result<CollectorSettings> {
    let max_memory = match args.max_memory {
        Some(n) => n,
        None => {
            file.max_memory.as_ref().map(|v| v.bytes("max_memory")).transpose()?.unwrap_or(1 << 30)
        }
    };
    let max_request = match args.max_request {
        Some(n) => n,
        None => file
            .max_request
            .as_ref()
            .map(|v| v.bytes("max_request"))
            .transpose()?
            .unwrap_or(64 << 20),
    };
    if max_request == 0 {
        bail!("--max-request must be larger than 0");
    }
    Ok(CollectorSettings {
        grpc: args.grpc.or(file.grpc).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4317))),
        http: args.http.or(file.http).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4318))),
        max_memory,
        max_request,
        ingest_queue: args.ingest_queue.or(file.ingest_queue).unwrap_or(1 << 20),
        debug_engine_delay: args.debug_engine_delay,
    })
}

/// Resolves `serve`'s settings.
pub fn serve(args: &crate::cli::ServeArgs) -> Result<ServeSettings> {
    let file = load(args.collector.config.as_deref())?;
    // Read so that a typo in a key of another mode is still reported here.
    duration(file.stuck_after.as_ref(), "stuck_after")?;
    Ok(ServeSettings {
        collector: collector(&args.collector, &file)?,
        record: args.record.clone().or(file.record.clone()),
        stats_interval: match args.stats_interval {
            Some(d) => d,
            None => duration(file.stats_interval.as_ref(), "stats_interval")?
                .unwrap_or(Duration::from_secs(2)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ServeArgs;

    fn args(config: &Path) -> ServeArgs {
        ServeArgs {
            collector: CollectorArgs {
                config: Some(config.to_owned()),
                ..CollectorArgs::default()
            },
            record: None,
            stats_interval: None,
        }
    }

    #[test]
    fn flag_beats_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hopscope.toml");
        std::fs::write(
            &path,
            "grpc = \"127.0.0.1:9000\"\nmax-memory = \"256MiB\"\nstats_interval = \"5s\"\n",
        )
        .unwrap();
        let mut a = args(&path);
        let s = serve(&a).unwrap();
        assert_eq!(s.collector.grpc.port(), 9000);
        assert_eq!(s.collector.max_memory, 256 << 20);
        assert_eq!(s.collector.http.port(), 4318);
        assert_eq!(s.stats_interval, Duration::from_secs(5));
        a.collector.grpc = Some("127.0.0.1:9100".parse().unwrap());
        assert_eq!(serve(&a).unwrap().collector.grpc.port(), 9100);
    }

    #[test]
    fn bad_file_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "max_memory = \"lots\"\n").unwrap();
        let err = format!("{:#}", serve(&args(&path)).unwrap_err());
        assert!(err.contains("max_memory") && err.contains("lots"), "{err}");
        std::fs::write(&path, "grcp = \"127.0.0.1:1\"\n").unwrap();
        let err = format!("{:#}", serve(&args(&path)).unwrap_err());
        assert!(err.contains("grcp"), "{err}");
    }
}
