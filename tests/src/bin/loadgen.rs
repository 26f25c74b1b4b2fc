//! `loadgen`: sends pre-encoded, realistic OTLP trace requests to any OTLP receiver, as fast
//! as it can (or at `--rate`), and reports accepted and refused spans and request latency.
//! Refusals are also counted by kind (UNAVAILABLE / HTTP 503) and by whether they carried a
//! retry hint (gRPC RetryInfo, HTTP Retry-After).
//!
//! Requests come from `hopscope_collector::fake` (HTTP server/client spans, messaging
//! producer/consumer spans with links, ~400-500 bytes each). They are encoded once; before
//! each send, every trace id in the request is re-salted in place (link trace ids too, so
//! hops stay consistent), so the receiver always sees new spans, never resends.
//!
//! ```text
//! loadgen --endpoint grpc://127.0.0.1:4317 --duration 10s --concurrency 8 \
//!         --spans-per-request 512 [--rate N] [--gzip] [--json]
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use hopscope_collector::fake::Generator;
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

/// What to send, where, and how fast.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "loadgen",
    about = "loadgen: send realistic OTLP trace traffic to an OTLP receiver and measure it",
    override_usage = "loadgen --endpoint URL [OPTIONS]"
)]
struct Options {
    /// grpc://HOST:PORT or http://HOST:PORT (OTLP/HTTP, /v1/traces appended)
    #[arg(long, value_name = "URL", default_value = "", hide_default_value = true)]
    endpoint: String,
    /// How long to send
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Requests in flight
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = at_least_one)]
    concurrency: usize,
    /// Spans per request
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = at_least_one)]
    spans_per_request: usize,
    /// Cap on spans per second, all senders together [default: no cap]
    #[arg(long, value_name = "N")]
    rate: Option<u64>,
    /// Compress requests (gzip)
    #[arg(long)]
    gzip: bool,
    /// Print the result as one JSON object on stdout
    #[arg(long)]
    json: bool,
}

/// The command line, checked; exits with a usage error (status 2) when it is wrong.
fn parse_args() -> Options {
    let o = Options::parse();
    if o.endpoint.is_empty() {
        Options::command()
            .error(
                ErrorKind::MissingRequiredArgument,
                "--endpoint is required (e.g. grpc://127.0.0.1:4317)",
            )
            .exit();
    }
    o
}

/// `--concurrency` and `--spans-per-request`: a whole number, at least 1.
fn at_least_one(v: &str) -> Result<usize, String> {
    match v.parse() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{v}` is not a number")),
    }
}

/// One pre-encoded request and where its trace ids sit in the bytes.
struct Template {
    bytes: Vec<u8>,
    spans: u64,
    /// Byte offsets of every 16-byte trace id (span and link trace ids).
    id_offsets: Vec<usize>,
    /// Byte offsets of every Kafka offset (a 7-byte varint) with its value.
    kafka_offsets: Vec<(usize, u64)>,
    /// Byte offsets of every message id's 16 hex digits with the offset it names.
    message_ids: Vec<(usize, u64)>,
}

/// Encodes `v` as a protobuf varint.
fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// Every position of `needle` in `haystack`.
fn positions(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(pos) = haystack[from..].windows(needle.len()).position(|w| w == needle) {
        found.push(from + pos);
        from += pos + needle.len();
    }
    found
}

fn templates(count: usize, spans: usize) -> Vec<Template> {
    let mut generator = Generator::new(0x10AD, 1_700_000_000_000_000_000);
    (0..count)
        .map(|_| {
            let req = generator.request(spans);
            let bytes = req.encode_to_vec();
            let mut ids: Vec<&[u8]> = Vec::new();
            for span in
                req.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans)
            {
                ids.push(&span.trace_id);
            }
            ids.sort_unstable();
            ids.dedup();
            let id_offsets = ids.iter().flat_map(|id| positions(&bytes, id)).collect();
            // Kafka offsets and message ids name one message each: rewrite them per send too,
            // or every replay of a template would reuse them (and the linker would see one
            // message id shared by thousands of unrelated spans).
            let offsets = req
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
                .flat_map(|s| &s.attributes)
                .filter(|kv| kv.key == "messaging.kafka.offset")
                .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(v) => {
                        u64::try_from(*v).ok()
                    }
                    _ => None,
                })
                .collect::<std::collections::BTreeSet<u64>>();
            let mut kafka_offsets = Vec::new();
            let mut message_ids = Vec::new();
            for offset in offsets {
                // An int AnyValue is field 3, varint: tag byte 0x18, then the value.
                let mut encoded = vec![0x18];
                encoded.extend(varint(offset));
                kafka_offsets
                    .extend(positions(&bytes, &encoded).into_iter().map(|p| (p + 1, offset)));
                let id = hopscope_collector::fake::message_id(offset as i64);
                let hex_at = id.len() - 16;
                message_ids.extend(
                    positions(&bytes, id.as_bytes()).into_iter().map(|p| (p + hex_at, offset)),
                );
            }
            Template {
                bytes,
                spans: hopscope_collector::otlp::convert::Decoder::count_spans(&req) as u64,
                id_offsets,
                kafka_offsets,
                message_ids,
            }
        })
        .collect()
}

impl Template {
    /// A copy with every trace id XORed with `salt` (so each send carries new traces).
    fn salted(&self, salt: u64) -> Vec<u8> {
        let mut out = self.bytes.clone();
        for &at in &self.id_offsets {
            for (b, s) in out[at..at + 8].iter_mut().zip(salt.to_le_bytes()) {
                *b ^= s;
            }
        }
        // Offsets stay in [2^48, 2^49) (7-byte varints): flip only bits below 2^48.
        let shift = |offset: u64| offset ^ (salt.wrapping_mul(0x9E37_79B9) & ((1 << 48) - 1));
        for &(at, offset) in &self.kafka_offsets {
            let encoded = varint(shift(offset));
            out[at..at + encoded.len()].copy_from_slice(&encoded);
        }
        for &(at, offset) in &self.message_ids {
            let hex = format!("{:016x}", shift(offset));
            out[at..at + 16].copy_from_slice(hex.as_bytes());
        }
        out
    }
}

/// A tonic codec that sends already-encoded protobuf bytes and ignores the response body
/// (an `ExportTraceServiceResponse`), so the generator spends no time encoding.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ();
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    refused: AtomicU64,
    /// Refused spans whose refusal said when to retry (gRPC RetryInfo, HTTP Retry-After).
    refused_with_retry: AtomicU64,
    /// Refused spans whose refusal was UNAVAILABLE / HTTP 503 (not RESOURCE_EXHAUSTED / 429).
    refused_unavailable: AtomicU64,
    failed: AtomicU64,
    requests: AtomicU64,
}

enum Outcome {
    Accepted,
    /// Refused: whether as UNAVAILABLE / 503, and whether with a retry hint.
    Refused {
        unavailable: bool,
        retry_hint: bool,
    },
    Failed(String),
}

enum Client {
    Grpc(tonic::client::Grpc<tonic::transport::Channel>),
    Http { client: reqwest::Client, url: String },
}

impl Client {
    async fn connect(endpoint: &str, gzip: bool) -> Result<Client, String> {
        if let Some(addr) = endpoint.strip_prefix("grpc://") {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .map_err(|e| format!("bad endpoint {endpoint}: {e}"))?
                .connect()
                .await
                .map_err(|e| format!("cannot connect to {endpoint}: {e}"))?;
            let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(1 << 20);
            if gzip {
                grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
            }
            Ok(Client::Grpc(grpc))
        } else if endpoint.starts_with("http://") {
            let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
            Ok(Client::Http { client: reqwest::Client::new(), url })
        } else {
            Err(format!("endpoint `{endpoint}` must start with grpc:// or http://"))
        }
    }

    async fn send(&mut self, body: Vec<u8>, gzip: bool) -> Outcome {
        match self {
            Client::Grpc(grpc) => {
                if let Err(e) = grpc.ready().await {
                    return Outcome::Failed(e.to_string());
                }
                let path = http::uri::PathAndQuery::from_static(
                    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                );
                match grpc.unary(tonic::Request::new(Bytes::from(body)), path, RawCodec).await {
                    Ok(_) => Outcome::Accepted,
                    Err(s)
                        if s.code() == Code::Unavailable || s.code() == Code::ResourceExhausted =>
                    {
                        use tonic_types::StatusExt as _;
                        Outcome::Refused {
                            unavailable: s.code() == Code::Unavailable,
                            retry_hint: s
                                .get_details_retry_info()
                                .is_some_and(|r| r.retry_delay.is_some_and(|d| !d.is_zero())),
                        }
                    }
                    Err(s) => Outcome::Failed(format!("{:?}: {}", s.code(), s.message())),
                }
            }
            Client::Http { client, url } => {
                let mut req =
                    client.post(url.as_str()).header("content-type", "application/x-protobuf");
                let body = if gzip {
                    use std::io::Write;
                    let mut enc =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    if enc.write_all(&body).is_err() {
                        return Outcome::Failed("gzip failed".into());
                    }
                    req = req.header("content-encoding", "gzip");
                    enc.finish().unwrap_or_default()
                } else {
                    body
                };
                match req.body(body).send().await {
                    Ok(r) if r.status().is_success() => Outcome::Accepted,
                    Ok(r) if r.status().as_u16() == 503 || r.status().as_u16() == 429 => {
                        Outcome::Refused {
                            unavailable: r.status().as_u16() == 503,
                            retry_hint: r.headers().contains_key("retry-after"),
                        }
                    }
                    Ok(r) => Outcome::Failed(format!("HTTP {}", r.status())),
                    Err(e) => Outcome::Failed(e.to_string()),
                }
            }
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn run(o: Options) -> Result<String, String> {
    let templates = Arc::new(templates(32, o.spans_per_request));
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    // Different in every run, so two runs against one collector never send the same traces.
    let run_salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()) << 40;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..o.concurrency {
        let mut client = Client::connect(&o.endpoint, o.gzip).await?;
        let (templates, counters, stop) =
            (Arc::clone(&templates), Arc::clone(&counters), Arc::clone(&stop));
        let (gzip, rate, concurrency) = (o.gzip, o.rate, o.concurrency as u64);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let template = &templates[(n as usize + worker) % templates.len()];
                let salt = run_salt ^ ((n << 8 | worker as u64) + 1);
                n += 1;
                if let Some(rate) = rate {
                    // Pace this sender to its share of the rate.
                    let due = Duration::from_secs_f64(
                        (n * template.spans * concurrency) as f64 / rate as f64,
                    );
                    if let Some(ahead) = due.checked_sub(started.elapsed()) {
                        tokio::time::sleep(ahead).await;
                    }
                }
                let body = template.salted(salt);
                let sent = Instant::now();
                let outcome = client.send(body, gzip).await;
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                counters.requests.fetch_add(1, Ordering::Relaxed);
                match outcome {
                    Outcome::Accepted => {
                        counters.accepted.fetch_add(template.spans, Ordering::Relaxed)
                    }
                    Outcome::Refused { unavailable, retry_hint } => {
                        if unavailable {
                            counters
                                .refused_unavailable
                                .fetch_add(template.spans, Ordering::Relaxed);
                        }
                        if retry_hint {
                            counters
                                .refused_with_retry
                                .fetch_add(template.spans, Ordering::Relaxed);
                        }
                        counters.refused.fetch_add(template.spans, Ordering::Relaxed)
                    }
                    Outcome::Failed(e) => {
                        if errors.len() < 3 {
                            errors.push(e);
                        }
                        counters.failed.fetch_add(template.spans, Ordering::Relaxed)
                    }
                };
            }
            (latencies, errors)
        }));
    }
    tokio::time::sleep(o.duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        let (l, e) = t.await.map_err(|e| e.to_string())?;
        latencies.extend(l);
        errors.extend(e);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let accepted = counters.accepted.load(Ordering::Relaxed);
    let refused = counters.refused.load(Ordering::Relaxed);
    let failed = counters.failed.load(Ordering::Relaxed);
    let refused_unavailable = counters.refused_unavailable.load(Ordering::Relaxed);
    let refused_with_retry = counters.refused_with_retry.load(Ordering::Relaxed);
    let requests = counters.requests.load(Ordering::Relaxed);
    let spans_per_sec = accepted as f64 / elapsed;
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    for e in errors.iter().take(3) {
        eprintln!("loadgen: request failed: {e}");
    }
    Ok(if o.json {
        serde_json::json!({
            "endpoint": o.endpoint, "duration_s": elapsed, "concurrency": o.concurrency,
            "spans_per_request": o.spans_per_request, "gzip": o.gzip, "requests": requests,
            "accepted": accepted, "refused": refused, "failed": failed,
            "refused_unavailable": refused_unavailable, "refused_with_retry": refused_with_retry,
            "spans_per_sec": spans_per_sec.round(), "p50_ms": p50, "p99_ms": p99,
        })
        .to_string()
    } else {
        format!(
            "{requests} requests in {elapsed:.1}s to {}: accepted={accepted} spans ({spans_per_sec:.0} spans/s) refused={refused} failed={failed} latency p50={p50:.2}ms p99={p99:.2}ms",
            o.endpoint
        )
    })
}

fn main() -> ExitCode {
    let options = parse_args();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(options)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::from(1)
        }
    }
}
