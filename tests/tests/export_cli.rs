//! `hopscope export FILE... --flow ID --format mermaid|dot|json` through the real binary, over
//! the TUI's shop fixture (a checkout whose OrderPlaced fans out over Kafka and RabbitMQ) and
//! over the one scenario written in every format: the sequence diagram, the Graphviz digraph
//! and the JSON of one flow, found by its id, by a trace that is not its root or by a prefix;
//! the same from stdin and from Jaeger or Zipkin; exit 2 with a hint when no flow matches.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hopscope_tests::{hopscope_bin, workspace_root};
use serde_json::Value;

fn shop() -> PathBuf {
    workspace_root().join("tui/src/app/fixtures/shop.otlp.jsonl")
}

fn scenario(name: &str) -> PathBuf {
    workspace_root().join("collector/tests/fixtures/formats").join(name)
}

fn hopscope(args: &[&str], stdin: Option<Vec<u8>>) -> Output {
    let mut cmd = Command::new(hopscope_bin());
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).env_remove("HOPSCOPE_STUCK_AFTER");
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("cannot start hopscope");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let out = child.wait_with_output().expect("hopscope runs");
        writer.join().expect("stdin writer");
        return out;
    }
    child.wait_with_output().expect("hopscope runs")
}

/// `hopscope export FILE --flow ID --format FORMAT`: its stdout, checked to exit 0.
fn export(file: &Path, id: &str, format: &str) -> String {
    let file = file.to_str().expect("UTF-8 path");
    let out = hopscope(&["export", file, "--flow", id, "--format", format], None);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The shop's flow with the most hops, from `analyze`: its id, traces and services.
fn checkout() -> (String, Vec<String>, Vec<String>) {
    let file = shop();
    let out = hopscope(&["analyze", file.to_str().expect("UTF-8 path"), "--format", "json"], None);
    assert!(out.status.success(), "{out:?}");
    let a: Value = serde_json::from_slice(&out.stdout).expect("analyze writes JSON");
    let flow = a["flows"]
        .as_array()
        .expect("flows[]")
        .iter()
        .max_by_key(|f| f["hop_count"].as_u64())
        .expect("a flow")
        .clone();
    let strings = |v: &Value| -> Vec<String> {
        let items = v.as_array().expect("an array");
        items.iter().map(|s| s.as_str().expect("a string").to_owned()).collect()
    };
    let id = flow["id"].as_str().expect("flows[].id").to_owned();
    (id, strings(&flow["traces"]), strings(&flow["services"]))
}

/// A DOT graph read back: node ids with their attributes, edges with theirs.
#[derive(Debug, Default)]
struct Dot {
    nodes: BTreeMap<String, BTreeMap<String, String>>,
    edges: Vec<(String, String, BTreeMap<String, String>)>,
}

/// The quoted strings and bare words of one statement, in order; `->`, `[`, `]`, `=` and `,`
/// as tokens of their own.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => {
                            let e = chars.next().expect("escape inside a string");
                            s.push(if e == 'n' { '\n' } else { e });
                        }
                        Some('"') => break,
                        Some(c) => s.push(c),
                        None => panic!("unterminated string in {line:?}"),
                    }
                }
                out.push(s);
            }
            '-' if chars.peek() == Some(&'>') => {
                chars.next();
                out.push("->".into());
            }
            '[' | ']' | '=' | ',' => out.push(c.to_string()),
            c if c.is_whitespace() => {}
            c => {
                let mut s = c.to_string();
                while let Some(&n) = chars.peek() {
                    if n.is_alphanumeric() || n == '_' || n == '.' {
                        s.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(s);
            }
        }
    }
    out
}

fn attributes(tokens: &[String]) -> BTreeMap<String, String> {
    if tokens.is_empty() {
        return BTreeMap::new();
    }
    assert!(tokens[0] == "[" && tokens[tokens.len() - 1] == "]", "attributes: {tokens:?}");
    tokens[1..tokens.len() - 1]
        .split(|t| t == ",")
        .map(|kv| {
            assert!(kv.len() == 3 && kv[1] == "=", "attribute: {kv:?}");
            (kv[0].clone(), kv[2].clone())
        })
        .collect()
}

/// Parses what `export --format dot` writes: `digraph NAME {`, one statement per line, `}`.
fn parse_dot(text: &str) -> Dot {
    let mut lines = text.lines();
    let head = tokens(lines.next().expect("a first line"));
    assert_eq!(head.first().map(String::as_str), Some("digraph"), "{text}");
    assert_eq!(head.last().map(String::as_str), Some("{"), "{text}");
    let mut dot = Dot::default();
    let mut closed = false;
    for line in lines {
        assert!(!closed, "text after the closing brace: {text}");
        if line.trim() == "}" {
            closed = true;
            continue;
        }
        let statement = line.trim().strip_suffix(';').unwrap_or_else(|| panic!("{line:?}"));
        let t = tokens(statement);
        if matches!(t[0].as_str(), "graph" | "node" | "edge") {
            attributes(&t[1..]);
        } else if t.get(1).is_some_and(|t| t == "->") {
            let attrs = attributes(&t[3..]);
            dot.edges.push((t[0].clone(), t[2].clone(), attrs));
        } else {
            dot.nodes.insert(t[0].clone(), attributes(&t[1..]));
        }
    }
    assert!(closed, "no closing brace: {text}");
    for (from, to, _) in &dot.edges {
        assert!(dot.nodes.contains_key(from) && dot.nodes.contains_key(to), "{from} -> {to}");
    }
    dot
}

#[test]
fn mermaid_has_the_services_and_a_dashed_arrow_per_async_hop() {
    let (id, _, services) = checkout();
    let text = export(&shop(), &id, "mermaid");
    assert!(text.starts_with("sequenceDiagram\n"), "{text}");
    assert!(text.contains(&format!("title flow {}", &id[..8])), "{text}");
    let participants: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("participant "))
        .map(|p| {
            let (alias, name) = p.split_once(" as ").expect("participant ALIAS as NAME");
            (name.to_owned(), alias.to_owned())
        })
        .collect();
    for s in &services {
        assert!(participants.contains_key(s), "no participant {s}: {text}");
    }
    // OrderPlaced from orders to payments over Kafka: a dashed arrow with the queue time.
    let (orders, payments) = (&participants["orders"], &participants["payments"]);
    let hop = format!("{orders}-->>{payments}: kafka orders (");
    assert!(text.lines().any(|l| l.trim().starts_with(&hop)), "{text}");
    let call = format!("{}->>{orders}: POST /orders", participants["gateway"]);
    assert!(text.lines().any(|l| l.trim().starts_with(&call)), "{text}");
    // The same with the format left out: mermaid is the default.
    let out = hopscope(&["export", shop().to_str().unwrap(), "--flow", &id], None);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
}

#[test]
fn dot_is_a_digraph_of_services_and_destinations() {
    let (id, _, services) = checkout();
    let text = export(&shop(), &id, "dot");
    let dot = parse_dot(&text);
    for s in &services {
        assert_eq!(dot.nodes[s]["label"], *s, "{text}");
    }
    assert_eq!(dot.nodes["kafka:orders"]["shape"], "cds", "{text}");
    assert!(dot.nodes.contains_key("rabbitmq:orders"), "{text}");
    let edge = |from: &str, to: &str| {
        dot.edges
            .iter()
            .find(|(f, t, _)| f == from && t == to)
            .map_or_else(|| panic!("no edge {from} -> {to}: {text}"), |(_, _, a)| a)
    };
    let call = edge("gateway", "orders");
    assert!(!call.contains_key("style") && call["label"].starts_with("POST /orders"), "{call:?}");
    assert_eq!(edge("orders", "kafka:orders")["style"], "dashed");
    let consume = edge("kafka:orders", "payments");
    assert_eq!(consume["style"], "dashed");
    assert!(consume["label"].starts_with("orders\nqueue "), "{consume:?}");
    assert_eq!(edge("rabbitmq:orders", "notifications")["style"], "dashed");
    // Deterministic: the same text every time.
    assert_eq!(export(&shop(), &id, "dot"), text);
}

#[test]
fn json_holds_the_flow_its_traces_hops_and_spans() {
    let (id, traces, _) = checkout();
    let doc: Value = serde_json::from_str(&export(&shop(), &id, "json")).unwrap();
    assert_eq!(doc["schema"], "hopscope.flow/v1");
    assert_eq!(doc["flow"]["id"], id.as_str());
    let got: Vec<&str> =
        doc["traces"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(got, traces);
    let hops = doc["hops"].as_array().unwrap();
    assert_eq!(hops.len() as u64, doc["flow"]["hop_count"].as_u64().unwrap());
    assert!(hops.iter().any(|h| h["destination"] == "orders" && h["system"] == "kafka"));
    let spans = doc["spans"].as_array().unwrap();
    assert_eq!(spans.len() as u64, doc["flow"]["span_count"].as_u64().unwrap());
    let span_traces: BTreeSet<&str> =
        spans.iter().map(|s| s["trace_id"].as_str().unwrap()).collect();
    assert_eq!(span_traces, traces.iter().map(String::as_str).collect());
}

#[test]
fn any_trace_of_the_flow_or_a_prefix_finds_it() {
    let (id, traces, _) = checkout();
    let whole = export(&shop(), &id, "json");
    let other = traces.iter().find(|t| **t != id).expect("a second trace");
    assert_eq!(export(&shop(), other, "json"), whole, "by trace {other}");
    assert_eq!(export(&shop(), &other[..12], "json"), whole, "by a prefix of {other}");
    assert_eq!(export(&shop(), &id.to_uppercase()[..10], "json"), whole, "by an upper-case prefix");
}

#[test]
fn an_unknown_or_ambiguous_id_exits_2_with_a_hint() {
    let file = shop();
    let file = file.to_str().unwrap();
    let out = hopscope(&["export", file, "--flow", "0123456789abcdef", "--format", "dot"], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0123456789abcdef"), "{err}");
    assert!(err.contains(&format!("hopscope analyze {file} --format text")), "{err}");
    // The checkout's first digit also starts other flows' ids in the shop.
    let (id, _, _) = checkout();
    let out = hopscope(&["export", file, "--flow", &id[..1]], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("flows; give more of the id") && err.contains(&id), "{err}");
    let out = hopscope(&["export", file, "--flow", "not-hex"], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a trace id"));
    // Nothing readable: exit 2 too.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, b"").unwrap();
    let out = hopscope(&["export", empty.to_str().unwrap(), "--flow", &id], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to export"));
}

#[test]
fn stdin_and_out_give_the_same_export() {
    let (id, _, _) = checkout();
    let file = export(&shop(), &id, "mermaid");
    let piped = hopscope(&["export", "-", "--flow", &id], Some(std::fs::read(shop()).unwrap()));
    assert!(piped.status.success(), "{piped:?}");
    assert_eq!(String::from_utf8(piped.stdout).unwrap(), file);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("flow.mmd");
    let out = hopscope(
        &["export", shop().to_str().unwrap(), "--flow", &id, "--out", target.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains(target.to_str().unwrap()));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), file);
}

#[test]
fn every_format_gives_the_same_flow() {
    let flow = "4bf92f3577b34da6a3ce929d0e0e4736";
    let base = scenario("scenario.otlp.jsonl");
    let mermaid = export(&base, &flow[..8], "mermaid");
    assert!(mermaid.contains("-->>"), "the scenario's Kafka hop: {mermaid}");
    let dot = export(&base, flow, "dot");
    for name in ["scenario.otlp.json", "scenario.jaeger.json", "scenario.zipkin.json"] {
        assert_eq!(export(&scenario(name), flow, "mermaid"), mermaid, "{name}");
        assert_eq!(export(&scenario(name), flow, "dot"), dot, "{name}");
    }
    let doc: Value =
        serde_json::from_str(&export(&scenario("scenario.jaeger.json"), flow, "json")).unwrap();
    assert_eq!(doc["traces"].as_array().unwrap().len(), 2);
    assert_eq!(doc["hops"].as_array().unwrap().len(), 1);
}
