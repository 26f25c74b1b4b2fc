//! The receivers' timeouts and connection limits, through the real binary with short limits
//! set by flags: 1,200 stalled and idle HTTP connections are all closed (header timeout,
//! body timeout with a 408, idle timeout) while fresh requests beside them are answered;
//! raw HTTP/2 connections to the gRPC receiver that never send a frame, or never answer a
//! ping, are closed while the real OTLP gRPC exporter is served; past `--max-connections`
//! the connection idle the longest is closed first and the new one is served. Every closing
//! is counted in the stats line.
//!
//! The test process holds up to 1,200 sockets and the server as many: the open-file soft
//! limit is raised to the hard limit (it must be at least 4096).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hopscope_tests::sdk::{export_acked, grpc_exporter, sdk_spans};
use hopscope_tests::{Serve, json_span, json_traces, post};

/// Raises the soft limit on open files to the hard limit; panics, saying what is needed,
/// when that is under `needed`.
fn raise_open_files(needed: u64) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    assert!(
        hard >= needed,
        "this test holds many sockets: it needs an open-file hard limit of at least {needed} \
         (`ulimit -Hn` is {hard})"
    );
    if limit.current.is_some_and(|soft| soft < needed) {
        limit.current = Some(hard.min(65_536));
        setrlimit(Resource::Nofile, limit).expect("raise the open-file soft limit");
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).ok();
    stream
}

fn json_body(i: u64) -> Vec<u8> {
    json_traces(
        "timeouts",
        &[json_span(&format!("{:032x}", i + 1), &format!("{:016x}", i + 1), "op")],
    )
}

/// A complete OTLP/HTTP JSON request, keeping the connection alive.
fn full_request(i: u64) -> Vec<u8> {
    let body = json_body(i);
    let mut req = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    req
}

/// Reads one HTTP/1.1 response (headers and a content-length body); returns its status.
fn read_response(stream: &mut TcpStream) -> u16 {
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("read a response");
        assert!(n == 1, "the connection closed before a response");
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    stream.read_exact(&mut body).expect("read the response body");
    head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status code")
}

/// Waits until the server closes `stream` (reads to EOF, or a reset), at most until
/// `deadline`; returns what was read. Panics if it is still open then.
fn wait_closed(stream: &mut TcpStream, deadline: Instant, what: &str) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        stream.set_read_timeout(Some(left)).ok();
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("{what}: still open past the deadline");
            }
            Err(_) => return got, // reset by the server: closed
        }
    }
}

/// A fresh request, on a fresh connection, beside the stalled ones: answered 200.
fn fresh_request(serve: &Serve, i: u64) {
    let resp = post(&serve.http_url("/v1/traces"), "application/json", false, &json_body(i));
    assert_eq!(resp.status(), 200, "a fresh request beside the stalled connections");
}

const EACH: usize = 400;

#[test]
fn twelve_hundred_stalled_and_idle_http_connections_are_closed_and_fresh_requests_answered() {
    raise_open_files(4096);
    let mut serve = Serve::start(&[
        "--header-timeout",
        "2s",
        "--body-timeout",
        "2s",
        "--idle-timeout",
        "3s",
        "--max-connections",
        "5000",
    ]);
    let addr = serve.http_endpoint().trim_start_matches("http://").parse().expect("address");
    let started = Instant::now();
    // Headers started, never finished.
    let mut partial_head: Vec<TcpStream> = (0..EACH)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: applic")
                .expect("send part of the headers");
            s
        })
        .collect();
    fresh_request(&serve, 1_000_000);
    // Headers sent, then 10 bytes of a 1000-byte body, then nothing.
    let mut partial_body: Vec<TcpStream> = (0..EACH)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(
                b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                  content-length: 1000\r\n\r\n{\"resource",
            )
            .expect("send the headers and part of the body");
            s
        })
        .collect();
    fresh_request(&serve, 1_000_001);
    // One request answered, then idle with keep-alive.
    let mut idle: Vec<TcpStream> = (0..EACH as u64)
        .map(|i| {
            let mut s = connect(addr);
            s.write_all(&full_request(i)).expect("send a request");
            assert_eq!(read_response(&mut s), 200);
            s
        })
        .collect();
    for i in 0..5 {
        fresh_request(&serve, 1_000_002 + i);
    }

    // Every one is closed by the server: header timeout 2s, body timeout 2s, idle 3s (a
    // generous bound: the box is shared).
    let deadline = started + Duration::from_secs(30);
    for s in &mut partial_head {
        wait_closed(s, deadline, "a connection with unfinished headers");
    }
    for s in &mut partial_body {
        let answer = wait_closed(s, deadline, "a connection with a stalled body");
        assert!(
            answer.starts_with(b"HTTP/1.1 408"),
            "a stalled body is answered 408: {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(80)])
        );
    }
    for s in &mut idle {
        wait_closed(s, deadline, "an idle keep-alive connection");
    }
    fresh_request(&serve, 1_000_010);

    let stats = serve.wait_for_stats(
        |s| s.header_timeouts + s.body_timeouts + s.idle_closed >= 3 * EACH as u64,
        Duration::from_secs(10),
    );
    assert_eq!(stats.header_timeouts, EACH as u64, "{stats:?}");
    assert_eq!(stats.body_timeouts, EACH as u64, "{stats:?}");
    assert_eq!(stats.idle_closed, EACH as u64, "{stats:?}");
    assert_eq!(stats.limit_closed, 0, "{stats:?}");
    assert!(serve.stop().success());
    let last = serve.last_stats().expect("final stats");
    // The idle ones' requests and the eight fresh ones, nothing of the stalled.
    assert_eq!(last.stored, EACH as u64 + 8, "{last:?}");
    assert!(!serve.stderr_lines().join("\n").contains("panicked"));
}

/// The HTTP/2 client preface and an empty SETTINGS frame.
fn h2_preface() -> Vec<u8> {
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    bytes
}

/// Exports through the real OTLP gRPC exporter; every batch acknowledged.
fn export_beside(serve: &Serve, batches: usize) {
    let spans = sdk_spans("beside", batches * 10, 10);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let exporter = grpc_exporter(&serve.grpc_endpoint(), "beside");
        for batch in spans.chunks(10) {
            export_acked(&exporter, batch.to_vec())
                .await
                .expect("the gRPC exporter is served beside the stalled connections");
        }
    });
}

#[test]
fn grpc_connections_that_never_send_a_frame_are_closed_and_exporters_served() {
    raise_open_files(4096);
    let mut serve = Serve::start(&[
        "--header-timeout",
        "2s",
        "--idle-timeout",
        "3s",
        "--max-connections",
        "5000",
    ]);
    let addr = serve.grpc_endpoint().trim_start_matches("http://").parse().expect("address");
    let started = Instant::now();
    // Not even the preface.
    let mut silent: Vec<TcpStream> = (0..EACH).map(|_| connect(addr)).collect();
    export_beside(&serve, 3);
    // The preface and SETTINGS, then no stream ever.
    let mut no_stream: Vec<TcpStream> = (0..EACH)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(&h2_preface()).expect("send the preface");
            s
        })
        .collect();
    export_beside(&serve, 3);
    let deadline = started + Duration::from_secs(30);
    for s in &mut silent {
        wait_closed(s, deadline, "a gRPC connection that sent nothing");
    }
    for s in &mut no_stream {
        wait_closed(s, deadline, "a gRPC connection that opened no stream");
    }
    export_beside(&serve, 1);
    let stats = serve.wait_for_stats(
        |s| s.header_timeouts + s.idle_closed >= 2 * EACH as u64,
        Duration::from_secs(10),
    );
    assert_eq!(stats.header_timeouts, EACH as u64, "{stats:?}");
    assert_eq!(stats.idle_closed, EACH as u64, "{stats:?}");
    assert!(serve.stop().success());
    assert_eq!(serve.last_stats().map(|s| s.stored), Some(70));
}

#[test]
fn http2_peers_that_do_not_answer_pings_are_closed() {
    let mut serve = Serve::start(&["--h2-ping", "500ms", "--idle-timeout", "1h"]);
    let addr = serve.grpc_endpoint().trim_start_matches("http://").parse().expect("address");
    let mut mute: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(&h2_preface()).expect("send the preface");
            s
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    for s in &mut mute {
        wait_closed(s, deadline, "an HTTP/2 peer that never answers a ping");
    }
    let stats = serve.wait_for_stats(|s| s.ping_timeouts >= 20, Duration::from_secs(10));
    assert_eq!(stats.ping_timeouts, 20, "{stats:?}");
    assert_eq!(stats.idle_closed + stats.header_timeouts, 0, "{stats:?}");
    // A real exporter answers the pings (its HTTP/2 stack does) and stays served.
    export_beside(&serve, 2);
    assert!(serve.stop().success());
}

#[test]
fn past_max_connections_the_oldest_idle_connection_is_closed_first() {
    let mut serve = Serve::start(&["--max-connections", "3", "--idle-timeout", "1h"]);
    let addr = serve.http_endpoint().trim_start_matches("http://").parse().expect("address");
    // Three connections, each idle after one request, oldest first.
    let mut conns: Vec<TcpStream> = (0..3)
        .map(|i| {
            let mut s = connect(addr);
            s.write_all(&full_request(i)).expect("send a request");
            assert_eq!(read_response(&mut s), 200);
            std::thread::sleep(Duration::from_millis(50));
            s
        })
        .collect();
    // A fourth is served, and the one idle the longest is closed for it.
    let mut fourth = connect(addr);
    fourth.write_all(&full_request(3)).expect("send a request");
    assert_eq!(read_response(&mut fourth), 200, "the new connection is served");
    wait_closed(&mut conns[0], Instant::now() + Duration::from_secs(30), "the oldest idle one");
    // The two younger ones are still open and served.
    for (i, s) in conns.iter_mut().enumerate().skip(1) {
        s.write_all(&full_request(10 + i as u64)).expect("send another request");
        assert_eq!(read_response(s), 200, "connection {i} is kept");
    }
    let stats = serve.wait_for_stats(|s| s.limit_closed >= 1, Duration::from_secs(10));
    assert_eq!(stats.limit_closed, 1, "{stats:?}");
    assert!(serve.stop().success());
}
