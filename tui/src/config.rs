//! Settings resolution: flag > `HOPSCOPE_*` env (both already merged by clap) > the TOML
//! `--config` file > built-in default. One function per mode turns its `*Args` ([`crate::cli`])
//! into resolved settings; this module depends on `cli` alone, and the modes on it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use hopscope_collector::ingest::TlsIdentity;
use hopscope_collector::ingest::conn::ConnLimits;

use crate::cli::{
    AnalyzeArgs, CollectorArgs, DemoArgs, FailOn, ReportFormat, ServeArgs, parse_duration,
};

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
    #[serde(alias = "auth-token")]
    auth_token: Option<String>,
    #[serde(alias = "tls-cert")]
    tls_cert: Option<PathBuf>,
    #[serde(alias = "tls-key")]
    tls_key: Option<PathBuf>,
    record: Option<PathBuf>,
    #[serde(alias = "record-sync")]
    record_sync: Option<bool>,
    #[serde(alias = "record-max-size")]
    record_max_size: Option<SizeValue>,
    #[serde(alias = "record-max-files")]
    record_max_files: Option<usize>,
    #[serde(alias = "header-timeout")]
    header_timeout: Option<String>,
    #[serde(alias = "body-timeout")]
    body_timeout: Option<String>,
    #[serde(alias = "idle-timeout")]
    idle_timeout: Option<String>,
    #[serde(alias = "h2-ping")]
    h2_ping: Option<String>,
    #[serde(alias = "max-streams")]
    max_streams: Option<u32>,
    #[serde(alias = "max-connections")]
    max_connections: Option<usize>,
    #[serde(alias = "stats-interval")]
    stats_interval: Option<String>,
    #[serde(alias = "stuck-after")]
    stuck_after: Option<String>,
    // `demo`
    headless: Option<bool>,
    duration: Option<String>,
    rate: Option<f64>,
    seed: Option<u64>,
    #[serde(alias = "export-only")]
    export_only: Option<bool>,
    endpoint: Option<String>,
    // `analyze`
    format: Option<String>,
    #[serde(alias = "fail-on")]
    fail_on: Option<String>,
    #[serde(alias = "lag-warn")]
    lag_warn: Option<String>,
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
    /// Bearer token required on every OTLP request, if any.
    pub auth_token: Option<String>,
    /// Certificate and key both receivers serve TLS with, loaded and checked.
    pub tls: Option<TlsIdentity>,
    /// How `--record` writes (sync, rotation), whatever the mode's recording path.
    pub record_sync: bool,
    pub record_max_size: Option<u64>,
    pub record_max_files: Option<usize>,
    /// Both receivers' timeouts and connection limits.
    pub limits: ConnLimits,
    pub debug_engine_delay: Option<Duration>,
}

/// A setting that cannot be used as given (as a bad flag would be): the binary exits 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Whether `e` is a [`UsageError`] (exit code 2, like clap's own usage errors).
pub fn is_usage_error(e: &anyhow::Error) -> bool {
    e.chain().any(<dyn std::error::Error>::is::<UsageError>)
}

/// Settings of `serve`, resolved.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub collector: CollectorSettings,
    pub record: Option<PathBuf>,
    pub stats_interval: Duration,
}

/// Settings of `demo`, resolved.
#[derive(Debug, Clone)]
pub struct DemoSettings {
    /// The embedded collector's settings (unused with `export_only`).
    pub collector: CollectorSettings,
    pub record: Option<PathBuf>,
    pub stats_interval: Duration,
    /// For the terminal UI; `None`: the analysis default.
    pub stuck_after: Option<Duration>,
    pub headless: bool,
    pub duration: Option<Duration>,
    /// Flows started per second, in (0, 1000].
    pub rate: f64,
    pub seed: Option<u64>,
    pub export_only: bool,
    /// Only with `export_only`; `None` lets the OTLP exporter read its OTEL_* variables.
    pub endpoint: Option<String>,
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
    let tls = match (
        args.tls_cert.clone().or_else(|| file.tls_cert.clone()),
        args.tls_key.clone().or_else(|| file.tls_key.clone()),
    ) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            Some(TlsIdentity::from_pem_files(&cert, &key).map_err(|e| UsageError(e.to_string()))?)
        }
        (Some(_), None) => {
            return Err(UsageError(
                "--tls-cert needs --tls-key (the certificate's private key)".into(),
            )
            .into());
        }
        (None, Some(_)) => {
            return Err(UsageError(
                "--tls-key needs --tls-cert (the certificate it belongs to)".into(),
            )
            .into());
        }
    };
    let record_max_size = match args.record_max_size {
        Some(n) => Some(n),
        None => file.record_max_size.as_ref().map(|v| v.bytes("record_max_size")).transpose()?,
    };
    let record_max_files = args.record_max_files.or(file.record_max_files);
    if record_max_size == Some(0) {
        return Err(UsageError("--record-max-size must be larger than 0".into()).into());
    }
    if record_max_files == Some(0) {
        return Err(UsageError("--record-max-files must be at least 1".into()).into());
    }
    if record_max_files.is_some() && record_max_size.is_none() {
        return Err(UsageError(
            "--record-max-files needs --record-max-size (files are rotated by size)".into(),
        )
        .into());
    }
    Ok(CollectorSettings {
        tls,
        record_sync: args.record_sync || file.record_sync.unwrap_or(false),
        record_max_size,
        record_max_files,
        limits: limits(args, file)?,
        grpc: args.grpc.or(file.grpc).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4317))),
        http: args.http.or(file.http).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4318))),
        max_memory,
        max_request,
        ingest_queue: args.ingest_queue.or(file.ingest_queue).unwrap_or(1 << 20),
        auth_token: match args.auth_token.clone().or_else(|| file.auth_token.clone()) {
            Some(t) if t.trim().is_empty() => bail!("--auth-token must not be empty"),
            t => t,
        },
        debug_engine_delay: args.debug_engine_delay,
    })
}

/// The receivers' timeouts and connection limits: flag > env > file > default.
fn limits(args: &CollectorArgs, file: &FileConfig) -> Result<ConnLimits> {
    let d = ConnLimits::default();
    let pick = |flag: Option<Duration>, key: Option<&String>, name: &str, default: Duration| {
        let value = match flag {
            Some(v) => v,
            None => duration(key, name)?.unwrap_or(default),
        };
        if value.is_zero() {
            return Err(
                UsageError(format!("--{} must be longer than 0", name.replace('_', "-"))).into()
            );
        }
        Ok::<_, anyhow::Error>(value)
    };
    let limits = ConnLimits {
        header_timeout: pick(
            args.header_timeout,
            file.header_timeout.as_ref(),
            "header_timeout",
            d.header_timeout,
        )?,
        body_timeout: pick(
            args.body_timeout,
            file.body_timeout.as_ref(),
            "body_timeout",
            d.body_timeout,
        )?,
        idle_timeout: pick(
            args.idle_timeout,
            file.idle_timeout.as_ref(),
            "idle_timeout",
            d.idle_timeout,
        )?,
        h2_ping: pick(args.h2_ping, file.h2_ping.as_ref(), "h2_ping", d.h2_ping)?,
        max_streams: args.max_streams.or(file.max_streams).unwrap_or(d.max_streams),
        max_connections: args.max_connections.or(file.max_connections).unwrap_or(d.max_connections),
    };
    if limits.max_streams == 0 || limits.max_connections == 0 {
        return Err(
            UsageError("--max-streams and --max-connections must be at least 1".into()).into()
        );
    }
    Ok(limits)
}

/// Resolves `serve`'s settings.
pub fn serve(args: &ServeArgs) -> Result<ServeSettings> {
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

/// Resolves `demo`'s settings.
pub fn demo(args: &DemoArgs) -> Result<DemoSettings> {
    let file = load(args.collector.config.as_deref())?;
    let stuck_after = match args.stuck_after {
        Some(d) => Some(d),
        None => duration(file.stuck_after.as_ref(), "stuck_after")?,
    };
    let rate = args.rate.or(file.rate).unwrap_or(3.0);
    if !(0.1..=1000.0).contains(&rate) {
        bail!("--rate must be between 0.1 and 1000 flows per second, not {rate}");
    }
    let export_only = args.export_only || file.export_only.unwrap_or(false);
    let record = args.record.clone().or(file.record.clone());
    if export_only && record.is_some() {
        bail!("--record needs the embedded collector; it cannot go with --export-only");
    }
    Ok(DemoSettings {
        collector: collector(&args.collector, &file)?,
        record,
        stats_interval: match args.stats_interval {
            Some(d) => d,
            None => duration(file.stats_interval.as_ref(), "stats_interval")?
                .unwrap_or(Duration::from_secs(2)),
        },
        stuck_after,
        headless: args.headless || file.headless.unwrap_or(false),
        duration: match args.duration {
            Some(d) => Some(d),
            None => duration(file.duration.as_ref(), "duration")?,
        },
        rate,
        seed: args.seed.or(file.seed),
        export_only,
        endpoint: if export_only { args.endpoint.clone().or(file.endpoint.clone()) } else { None },
    })
}

/// `analyze`'s settings, resolved.
#[derive(Debug, Clone)]
pub struct AnalyzeSettings {
    pub format: ReportFormat,
    pub stuck_after: Duration,
    pub lag_warn: Duration,
    pub fail_on: FailOn,
}

/// Resolves `analyze`'s settings.
pub fn analyze(args: &AnalyzeArgs) -> Result<AnalyzeSettings> {
    use hopscope_collector::analysis::{DEFAULT_LAG_WARN, DEFAULT_STUCK_AFTER};
    let file = load(args.config.as_deref())?;
    let stuck_after = duration(file.stuck_after.as_ref(), "stuck_after")?;
    let lag_warn = duration(file.lag_warn.as_ref(), "lag_warn")?;
    let format = file_format(file.format.as_deref())?;
    let fail_on = file_fail_on(file.fail_on.as_deref())?;
    Ok(AnalyzeSettings {
        format: args.format.or(format).unwrap_or(ReportFormat::Text),
        stuck_after: args.stuck_after.or(stuck_after).unwrap_or(DEFAULT_STUCK_AFTER),
        lag_warn: args.lag_warn.or(lag_warn).unwrap_or(DEFAULT_LAG_WARN),
        fail_on: args.fail_on.clone().or(fail_on).unwrap_or_default(),
    })
}

/// Checks a format read from a config file.
fn file_format(s: Option<&str>) -> Result<Option<ReportFormat>> {
    s.map(|s| ReportFormat::parse(s).map_err(anyhow::Error::msg).context("config key `format`"))
        .transpose()
}

/// Checks a condition list read from a config file.
fn file_fail_on(s: Option<&str>) -> Result<Option<FailOn>> {
    match s {
        None => Ok(None),
        Some(s) => match FailOn::parse(s) {
            Ok(f) => Ok(Some(f)),
            Err(e) => bail!("config key `fail_on`: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn demo_flag_beats_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hopscope.toml");
        std::fs::write(
            &path,
            "rate = 8.0\nseed = 9\nduration = \"10s\"\nendpoint = \"http://x:4317\"\n",
        )
        .unwrap();
        let mut a = DemoArgs {
            collector: CollectorArgs { config: Some(path.clone()), ..CollectorArgs::default() },
            ..DemoArgs::default()
        };
        let s = demo(&a).unwrap();
        assert_eq!((s.rate, s.seed, s.duration), (8.0, Some(9), Some(Duration::from_secs(10))));
        assert_eq!(s.stats_interval, Duration::from_secs(2));
        assert!(!s.headless && !s.export_only);
        assert_eq!(s.endpoint, None, "the endpoint only applies with --export-only");
        a.rate = Some(2.5);
        a.export_only = true;
        let s = demo(&a).unwrap();
        assert_eq!((s.rate, s.endpoint.as_deref()), (2.5, Some("http://x:4317")));
        a.rate = Some(0.0);
        assert!(format!("{:#}", demo(&a).unwrap_err()).contains("--rate"));
        let s = demo(&DemoArgs::default()).unwrap();
        assert_eq!((s.rate, s.seed, s.duration), (3.0, None, None));
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

    #[test]
    fn analyze_flag_beats_config_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hopscope.toml");
        std::fs::write(&path, "format = \"json\"\nstuck-after = \"45s\"\nfail_on = \"stuck\"\n")
            .unwrap();
        let args = |config: &Path| AnalyzeArgs {
            files: vec![PathBuf::from("rec.jsonl")],
            format: None,
            stuck_after: None,
            lag_warn: None,
            fail_on: None,
            god_orchestrator: 5,
            config: Some(config.to_owned()),
        };
        let mut a = args(&path);
        let s = analyze(&a).unwrap();
        assert_eq!(s.format, ReportFormat::Json);
        assert_eq!(s.stuck_after, Duration::from_secs(45));
        assert_eq!(s.lag_warn, Duration::from_secs(1));
        assert!(s.fail_on.stuck && !s.fail_on.errors);
        a.format = Some(ReportFormat::Text);
        a.stuck_after = Some(Duration::from_secs(5));
        a.fail_on = Some(FailOn::parse("errors").unwrap());
        let s = analyze(&a).unwrap();
        assert_eq!((s.format, s.stuck_after), (ReportFormat::Text, Duration::from_secs(5)));
        assert!(s.fail_on.errors && !s.fail_on.stuck);
        std::fs::write(&path, "fail_on = \"sometimes\"\n").unwrap();
        let err = format!("{:#}", analyze(&args(&path)).unwrap_err());
        assert!(err.contains("fail_on") && err.contains("sometimes"), "{err}");
    }
}
