//! The catalog as a Mermaid flowchart: the event-storming board, in its sticky-note colours.
//! A command (blue) is handled by an aggregate (yellow: the service) which emits an event
//! (orange); a policy (lilac) reacts to an event with the next command:
//! `command → aggregate → event → policy → command → …`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hopscope_collector::analysis::Event;

/// Sticky-note colours, as event storming uses them.
const CLASSES: &str = "  classDef command fill:#a8c8f0,stroke:#2f5f9f,color:#000\n  \
    classDef aggregate fill:#fff27a,stroke:#a08c00,color:#000\n  \
    classDef event fill:#ffb060,stroke:#b86a00,color:#000\n  \
    classDef policy fill:#d8b8f0,stroke:#7040a0,color:#000\n";

/// Text safe in a quoted Mermaid label.
fn label(s: &str) -> String {
    s.replace('"', "#quot;").replace('\n', " ")
}

/// Nodes by what they stand for, each with a short id, in order of first sight.
#[derive(Default)]
struct Nodes {
    ids: BTreeMap<(char, String), String>,
    lines: Vec<String>,
}

impl Nodes {
    /// The id of the node of `kind` (`c`ommand, `a`ggregate, `e`vent, `p`olicy) for `key`,
    /// declared with `text` on first sight.
    fn id(&mut self, kind: char, key: String, text: &str) -> String {
        let n = self.ids.len() + 1;
        let class = match kind {
            'c' => "command",
            'a' => "aggregate",
            'e' => "event",
            _ => "policy",
        };
        let lines = &mut self.lines;
        self.ids
            .entry((kind, key))
            .or_insert_with(|| {
                let id = format!("{kind}{n}");
                lines.push(format!("  {id}[\"{}\"]:::{class}", label(text)));
                id
            })
            .clone()
    }
}

/// The board of `events` as a Mermaid flowchart.
pub fn render(events: &[Event]) -> String {
    let mut nodes = Nodes::default();
    let mut edges: Vec<String> = Vec::new();
    let mut edge = |from: &str, to: &str| {
        let e = format!("  {from} --> {to}");
        if !edges.contains(&e) {
            edges.push(e);
        }
    };
    for e in events {
        let event = nodes.id('e', e.name.clone(), &e.name);
        for p in &e.producers {
            let aggregate = nodes.id('a', p.service.clone(), &p.service);
            let command =
                p.command.as_ref().map(|c| nodes.id('c', format!("{}\u{0}{c}", p.service), c));
            if let Some(t) = &p.trigger {
                let trigger = nodes.id('e', t.clone(), t);
                let policy = nodes.id(
                    'p',
                    format!("{}\u{0}{t}", p.service),
                    &format!("{}: whenever {t}", p.service),
                );
                edge(&trigger, &policy);
                edge(&policy, command.as_deref().unwrap_or(&aggregate));
            }
            if let Some(c) = &command {
                edge(c, &aggregate);
            }
            edge(&aggregate, &event);
        }
    }
    let mut out = String::from("flowchart LR\n");
    out.push_str(CLASSES);
    for line in nodes.lines {
        out.push_str(&line);
        out.push('\n');
    }
    for e in edges {
        let _ = writeln!(out, "{e}");
    }
    out
}
