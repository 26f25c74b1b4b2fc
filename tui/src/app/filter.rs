//! The Flows filter (`/`): space-separated terms, all of which must match.
//!
//! - `error`, `stuck`, `ok`, `in_flight` (or `status:error`): the flow's status;
//! - `>500ms`, `<2s`: end-to-end duration;
//! - `service:payments`, `op:checkout`, `dest:orders`: a service of the flow, the root
//!   operation, a destination of its hops (substring, any case);
//! - `root:"gateway POST /checkout"`: the root service and operation, exactly (any case);
//!   what Enter on the Architecture screen filters by;
//! - double quotes keep spaces inside one term;
//! - `key=value`: some span of the flow has that attribute (asked of the engine);
//! - any other word: a substring of the root service or operation, a service, a destination
//!   or the flow id.

use hopscope_collector::analysis::{Flow, FlowStatus};
use hopscope_collector::engine::views::{AttributeMatches, FlowFacts};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Status(FlowStatus),
    Longer(u64),
    Shorter(u64),
    Attribute(String, String),
    Service(String),
    Operation(String),
    Destination(String),
    /// `<service> <operation>` of the root, whole.
    Root(String),
    Event(String),
    Word(String),
}

/// A parsed filter. The empty filter matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    text: String,
    terms: Vec<Term>,
}

fn status_word(w: &str) -> Option<FlowStatus> {
    match w {
        "ok" => Some(FlowStatus::Ok),
        "error" | "errors" | "err" | "failed" => Some(FlowStatus::Error),
        "stuck" => Some(FlowStatus::Stuck),
        "in_flight" | "inflight" | "in-flight" | "flight" | "running" => Some(FlowStatus::InFlight),
        _ => None,
    }
}

/// `500ms`, `1.5s`, `2m`, `100us`, `3h`, `250ns` in nanoseconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return None,
    };
    Some((n * scale) as u64)
}

fn term(word: &str) -> Term {
    let lower = word.to_lowercase();
    if let Some(d) = lower.strip_prefix('>').and_then(parse_duration) {
        return Term::Longer(d);
    }
    if let Some(d) = lower.strip_prefix('<').and_then(parse_duration) {
        return Term::Shorter(d);
    }
    if let Some((k, v)) = lower.split_once(':') {
        match k {
            "status" | "is" => {
                if let Some(s) = status_word(v) {
                    return Term::Status(s);
                }
            }
            "service" | "svc" => return Term::Service(v.to_owned()),
            "op" | "operation" | "name" => return Term::Operation(v.to_owned()),
            "dest" | "destination" | "topic" | "queue" => return Term::Destination(v.to_owned()),
            "root" => return Term::Root(v.to_owned()),
            "event" => return Term::Event(v.to_owned()),
            _ => {}
        }
    }
    if let Some((k, v)) = word.split_once('=')
        && !k.is_empty()
    {
        return Term::Attribute(k.to_owned(), v.to_owned());
    }
    if let Some(s) = status_word(&lower) {
        return Term::Status(s);
    }
    Term::Word(lower)
}

/// The words of `text`, split at whitespace outside double quotes; the quotes are dropped.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn has(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(needle)
}

impl Filter {
    pub fn parse(text: &str) -> Self {
        Self { text: text.to_owned(), terms: words(text).iter().map(|w| term(w)).collect() }
    }

    /// The text as typed.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The attribute term, which the engine must answer.
    pub fn attribute(&self) -> Option<(String, String)> {
        self.terms.iter().find_map(|t| match t {
            Term::Attribute(k, v) => Some((k.clone(), v.clone())),
            _ => None,
        })
    }

    /// Whether `flow` passes. `attrs` is the engine's answer to [`Filter::attribute`], if it
    /// has come (a flow never passes an attribute term without it).
    pub fn matches(
        &self,
        flow: &Flow,
        facts: &FlowFacts,
        attrs: Option<&AttributeMatches>,
    ) -> bool {
        self.terms.iter().all(|t| match t {
            Term::Status(s) => flow.status == *s,
            Term::Longer(d) => flow.duration_ns > *d,
            Term::Shorter(d) => flow.duration_ns < *d,
            Term::Service(s) => flow.services.iter().any(|x| has(x, s)),
            Term::Operation(s) => has(&flow.root.name, s),
            Term::Destination(s) => facts.destinations.iter().any(|x| has(x, s)),
            Term::Root(s) => {
                let (service, op) = (&flow.root.service, &flow.root.name);
                format!("{service} {op}").to_lowercase() == *s
            }
            Term::Event(e) => facts.events.iter().any(|x| x.name.to_lowercase() == *e),
            Term::Attribute(k, v) => attrs.is_some_and(|m| {
                m.key == *k && m.value == *v && flow.traces.iter().any(|t| m.traces.contains(t))
            }),
            Term::Word(w) => {
                has(&flow.root.service, w)
                    || has(&flow.root.name, w)
                    || flow.services.iter().any(|x| has(x, w))
                    || facts.destinations.iter().any(|x| has(x, w))
                    || flow.id.hex_starts_with(w)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_term() {
        let f = Filter::parse(
            "error >500ms svc:pay dest:orders order.id=o-1 checkout <2s event:User.Signed_up",
        );
        assert_eq!(
            f.terms,
            vec![
                Term::Status(FlowStatus::Error),
                Term::Longer(500_000_000),
                Term::Service("pay".into()),
                Term::Destination("orders".into()),
                Term::Attribute("order.id".into(), "o-1".into()),
                Term::Word("checkout".into()),
                Term::Shorter(2_000_000_000),
                Term::Event("user.signed_up".into()),
            ]
        );
        assert_eq!(f.attribute(), Some(("order.id".into(), "o-1".into())));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("fast"), None);
        assert!(Filter::parse("  ").is_empty());
        let f = Filter::parse(r#"root:"Gateway POST /checkout" ok"#);
        assert_eq!(
            f.terms,
            vec![Term::Root("gateway post /checkout".into()), Term::Status(FlowStatus::Ok)]
        );
        // An unclosed quote takes the rest of the text.
        assert_eq!(Filter::parse(r#"root:"a b"#).terms, vec![Term::Root("a b".into())]);
    }
}
