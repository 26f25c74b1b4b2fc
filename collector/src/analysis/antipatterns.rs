//! The anti-patterns of event-driven design that show across flows: a god orchestrator,
//! event soup, event schema chaos, a distributed monolith, and their request-driven mirror,
//! the synchronous fan-out. Each is summed up from the flows' shapes ([`FlowShape`]), so a
//! detection costs O(flows), never a rescan of spans.
//!
//! Rules (DESIGN.md §6, refined here):
//! - `god_orchestrator`: a service coordinating (command/reply, see [`super::shape`]) at
//!   least [`AnalysisOptions::god_orchestrator_services`] distinct services over its flows.
//! - `event_soup`: an operation emitting on average [`SOUP_EVENTS`] or more events per
//!   request, or [`SOUP_MIN_EVENTS`] or more of which most deliveries' handlers did almost
//!   nothing (short, and no call, write or message under them).
//! - `event_schema_chaos`: one destination carrying two or more versions of one event type,
//!   and its consumers' failures concentrated on one version (all of them, at least one) or
//!   any a deserialization error.
//! - `distributed_monolith`: a table written by two or more services.
//! - `sync_fanout`: a handler its caller waits on, calling [`FANOUT_SERVICES`] or more
//!   services one after another for side effects (a state-changing method, or a callee that
//!   writes or emits); reads it needs (GETs) do not count.

use std::collections::BTreeMap;

use super::shape::FlowShape;
use super::{AnalysisOptions, Ctx, Flow, Insight, InsightKind, Severity, human};
use crate::model::{Sym, TraceId};

/// Events per request from which an operation's events are a soup whatever they do.
pub const SOUP_EVENTS: f64 = 20.0;
/// Events per request from which mostly idle handlers make a soup.
pub const SOUP_MIN_EVENTS: f64 = 3.0;
/// Services called in sequence for side effects that make a synchronous fan-out.
pub const FANOUT_SERVICES: usize = 4;

/// Adds the anti-pattern insights over `flows` (in output order, with their shapes).
pub(crate) fn detect(cx: &Ctx<'_>, flows: &[(&Flow, &FlowShape)], out: &mut Vec<Insight>) {
    god_orchestrator(cx, cx.opts, flows, out);
    event_soup(cx, flows, out);
    schema_chaos(cx, flows, out);
    distributed_monolith(cx, flows, out);
    sync_fanout(cx, flows, out);
}

fn names(cx: &Ctx<'_>, syms: impl IntoIterator<Item = Sym>) -> Vec<String> {
    let mut v: Vec<String> = syms.into_iter().map(|s| cx.str(s).to_owned()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn god_orchestrator(
    cx: &Ctx<'_>,
    opts: &AnalysisOptions,
    flows: &[(&Flow, &FlowShape)],
    out: &mut Vec<Insight>,
) {
    // Coordinator → (partners, flows coordinated, example flow).
    let mut by: BTreeMap<&str, (Vec<Sym>, u64, TraceId)> = BTreeMap::new();
    for (flow, shape) in flows {
        let Some(c) = shape.coordinator else { continue };
        let e = by.entry(cx.str(c)).or_insert_with(|| (Vec::new(), 0, flow.id));
        e.0.extend(shape.partners.iter().copied());
        e.1 += 1;
    }
    for (c, (partners, n, example)) in by {
        let partners = names(cx, partners);
        if partners.len() < opts.god_orchestrator_services as usize {
            continue;
        }
        let mut services = partners.clone();
        services.push(c.to_owned());
        services.sort_unstable();
        out.push(Insight {
            kind: InsightKind::GodOrchestrator,
            severity: Severity::Warning,
            flow: Some(example),
            detail: format!(
                "{c} coordinates {} services ({}) over {n} flows: split it into bounded-context sagas, each coordinating its own few services",
                partners.len(),
                partners.join(", ")
            ),
            subject: c.to_owned(),
            services,
        });
    }
}

fn event_soup(cx: &Ctx<'_>, flows: &[(&Flow, &FlowShape)], out: &mut Vec<Insight>) {
    // (service, operation) → (requests, events, deliveries, trivial, example flow).
    let mut by: BTreeMap<(&str, &str), Emitted> = BTreeMap::new();
    for (flow, shape) in flows {
        for e in &shape.emitters {
            let k = (cx.str(e.service), cx.str(e.operation));
            let a = by.entry(k).or_insert((0, 0, 0, 0, flow.id));
            a.0 += e.requests;
            a.1 += e.events;
            a.2 += e.deliveries;
            a.3 += e.trivial;
        }
    }
    for ((service, op), (requests, events, deliveries, trivial, example)) in by {
        if requests == 0 {
            continue;
        }
        let per = events as f64 / requests as f64;
        let idle = deliveries >= 3 && 2 * trivial > deliveries;
        if per < SOUP_EVENTS && !(per >= SOUP_MIN_EVENTS && idle) {
            continue;
        }
        let why = if idle {
            format!("; {trivial} of their {deliveries} deliveries' handlers did almost nothing")
        } else {
            String::new()
        };
        out.push(Insight {
            kind: InsightKind::EventSoup,
            severity: Severity::Warning,
            flow: Some(example),
            detail: format!(
                "{service} ({op}) emits {per:.1} events per request over {requests} requests{why}: emit only the meaningful domain events"
            ),
            subject: format!("{service} {op}"),
            services: vec![service.to_owned()],
        });
    }
}

/// One version of one event on one destination: consumed, failed, deserialization errors,
/// consumers, example flow, the consumers that failed on it.
type Version = (u64, u64, u64, Vec<Sym>, TraceId, Vec<Sym>);
/// Per version.
type Versions<'a> = BTreeMap<&'a str, Version>;
/// An emitting operation: requests, events, deliveries, idle deliveries, example flow.
type Emitted = (u64, u64, u64, u64, TraceId);
/// A fanning-out handler: callees, times seen, longest wait, example flow.
type FannedOut = (Vec<Sym>, u64, u64, TraceId);

fn schema_chaos(cx: &Ctx<'_>, flows: &[(&Flow, &FlowShape)], out: &mut Vec<Insight>) {
    let mut by: BTreeMap<(&str, &str), Versions<'_>> = BTreeMap::new();
    for (flow, shape) in flows {
        for v in &shape.versions {
            let versions = by.entry((&v.destination, &v.event_type)).or_default();
            let a =
                versions.entry(&v.version).or_insert((0, 0, 0, Vec::new(), flow.id, Vec::new()));
            a.0 += v.consumed;
            a.1 += v.failed;
            a.2 += v.deserialization;
            a.3.extend(v.consumers.iter().copied());
            a.5.extend(v.failing.iter().copied());
            // The example: a flow where this version failed.
            if v.failed > 0 && a.1 == v.failed {
                a.4 = flow.id;
            }
        }
    }
    for ((dest, ty), versions) in by {
        if versions.len() < 2 {
            continue;
        }
        let failed: u64 = versions.values().map(|v| v.1).sum();
        let shape: u64 = versions.values().map(|v| v.2).sum();
        let failing: Vec<(&str, &Version)> =
            versions.iter().filter(|(_, v)| v.1 > 0).map(|(k, v)| (*k, v)).collect();
        let concentrated = failing.len() == 1 && failed > 0;
        if !concentrated && shape == 0 {
            continue;
        }
        let Some(&(worst, w)) = failing.iter().max_by_key(|(_, v)| v.1) else { continue };
        let list: Vec<String> = versions
            .iter()
            .map(|(k, v)| format!("v{k} ({} consumed, {} failed)", v.0, v.1))
            .collect();
        // Who failed on it (the consumers that read it fine are not named).
        let consumers = names(cx, w.5.iter().copied());
        let shape_note =
            if shape > 0 { format!(", {shape} deserialization errors") } else { String::new() };
        out.push(Insight {
            kind: InsightKind::EventSchemaChaos,
            severity: Severity::Error,
            flow: Some(w.4),
            detail: format!(
                "{dest} carries {} versions of {ty}: {}; failures concentrate on v{worst} in {}{shape_note}: register the schema and version it (consumers accept old and new before producers switch)",
                versions.len(),
                list.join(", "),
                consumers.join(", ")
            ),
            subject: dest.to_owned(),
            services: names(cx, versions.values().flat_map(|v| v.3.iter().copied())),
        });
    }
}

fn distributed_monolith(cx: &Ctx<'_>, flows: &[(&Flow, &FlowShape)], out: &mut Vec<Insight>) {
    // Table → writer → (writes seen in flows, first flow).
    let mut by: BTreeMap<&str, BTreeMap<&str, (u64, TraceId)>> = BTreeMap::new();
    for (flow, shape) in flows {
        for (table, service) in &shape.tables {
            let w = by.entry(table).or_default().entry(cx.str(*service)).or_insert((0, flow.id));
            w.0 += 1;
        }
    }
    for (table, writers) in by {
        if writers.len() < 2 {
            continue;
        }
        // The example: the first flow of the writer seen least (the likely intruder).
        let Some((_, (_, example))) = writers.iter().min_by_key(|(name, (n, _))| (*n, *name))
        else {
            continue;
        };
        let example = *example;
        let list: Vec<String> =
            writers.iter().map(|(s, (n, _))| format!("{s} ({n} flows)")).collect();
        out.push(Insight {
            kind: InsightKind::DistributedMonolith,
            severity: Severity::Warning,
            flow: Some(example),
            detail: format!(
                "table {table} is written by {} services: {}: let one service own it and the others ask it or react to its events",
                writers.len(),
                list.join(", ")
            ),
            subject: table.to_owned(),
            services: writers.keys().map(|s| (*s).to_owned()).collect(),
        });
    }
}

fn sync_fanout(cx: &Ctx<'_>, flows: &[(&Flow, &FlowShape)], out: &mut Vec<Insight>) {
    // (service, operation) → (callees, times seen, longest wait, example flow).
    let mut by: BTreeMap<(&str, &str), FannedOut> = BTreeMap::new();
    for (flow, shape) in flows {
        for f in &shape.fanouts {
            if f.callees.len() < FANOUT_SERVICES {
                continue;
            }
            let k = (cx.str(f.service), cx.str(f.operation));
            let a = by.entry(k).or_insert((Vec::new(), 0, 0, flow.id));
            if f.callees.len() > a.0.len() {
                a.0.clone_from(&f.callees);
            }
            a.1 += 1;
            a.2 = a.2.max(f.waited_ns);
        }
    }
    for ((service, op), (callees, n, waited, example)) in by {
        let called: Vec<&str> = callees.iter().map(|s| cx.str(*s)).collect();
        let mut services = names(cx, callees.iter().copied());
        services.push(service.to_owned());
        services.sort_unstable();
        out.push(Insight {
            kind: InsightKind::SyncFanout,
            severity: Severity::Warning,
            flow: Some(example),
            detail: format!(
                "{service} ({op}) calls {} services one after another for side effects while its caller waits (up to {} in {n} requests): {}: emit one event and let them react",
                called.len(),
                human(waited),
                called.join(" → ")
            ),
            subject: format!("{service} {op}"),
            services,
        });
    }
}
