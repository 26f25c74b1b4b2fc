//! The anti-patterns of event-driven design that show across flows: a god orchestrator,
//! event soup, event schema chaos, a distributed monolith, and their request-driven mirror,
//! the synchronous fan-out. Each is kept as running sums of the flows' shapes ([`FlowShape`],
//! [`Patterns`]), so a view costs O(changed flows), never a pass over every flow or span.
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

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use super::architecture::{Counts, count, sum};
use super::shape::{FANOUT_SERVICES, FlowShape};
use super::{AnalysisOptions, Ctx, Insight, InsightKind, Severity, human};
use crate::model::{Sym, TraceId};

/// Events per request from which an operation's events are a soup whatever they do.
pub const SOUP_EVENTS: f64 = 20.0;
/// Events per request from which mostly idle handlers make a soup.
pub const SOUP_MIN_EVENTS: f64 = 3.0;

/// A handler's fan-out in one flow: the services called, how long its caller waited.
type FannedOut = (Vec<Sym>, u64);

/// Where a flow is in the output order (start, root trace id): the first flow of a set is the
/// example an insight names.
pub(crate) type FlowKey = (u64, [u8; 16]);

/// The flows that showed something, in output order.
type Flows = BTreeSet<FlowKey>;

fn flow_set(flows: &mut Flows, key: FlowKey, add: bool) {
    if add {
        flows.insert(key);
    } else {
        flows.remove(&key);
    }
}

fn first(flows: &Flows) -> Option<TraceId> {
    flows.first().map(|k| TraceId(k.1))
}

/// A coordinator: the services it commanded, the flows it coordinated.
#[derive(Debug, Default)]
struct Coordinated {
    partners: Counts<Sym>,
    flows: Flows,
}

/// An emitting operation: requests, events, deliveries, idle deliveries, where.
#[derive(Debug, Default)]
struct Emitting {
    requests: u64,
    events: u64,
    deliveries: u64,
    trivial: u64,
    flows: Flows,
}

/// One version of one event on one destination.
#[derive(Debug, Default)]
struct Version {
    consumed: u64,
    failed: u64,
    deserialization: u64,
    consumers: Counts<Sym>,
    /// The consumers that failed on it.
    failing: Counts<Sym>,
    /// The flows where it failed.
    failed_in: Flows,
    /// Flows holding it (the entry goes with the last).
    flows: u64,
}

/// The anti-patterns as running sums over the held flows' shapes (see [`super::architecture::Rows`]):
/// O(changed flows) to keep, O(subjects) to read.
#[derive(Debug, Default)]
pub(crate) struct Patterns {
    coordinators: FxHashMap<Sym, Coordinated>,
    emitters: FxHashMap<(Sym, Sym), Emitting>,
    /// (destination, event type) → version → sums.
    versions: FxHashMap<(String, Box<str>), BTreeMap<Box<str>, Version>>,
    /// Table → writer → the flows it wrote the table in.
    tables: FxHashMap<Box<str>, FxHashMap<Sym, Flows>>,
    /// (service, operation) → flow → its fan-outs (callees, waited) of that handler.
    fanouts: FxHashMap<(Sym, Sym), BTreeMap<FlowKey, Vec<FannedOut>>>,
}

impl Patterns {
    /// Adds the shape of the flow at `key` to the sums, or (`add` false) takes it away.
    pub fn apply(&mut self, key: FlowKey, shape: &FlowShape, add: bool) {
        if let Some(c) = shape.coordinator {
            let e = self.coordinators.entry(c).or_default();
            for &p in &shape.partners {
                count(&mut e.partners, p, add);
            }
            flow_set(&mut e.flows, key, add);
            if e.flows.is_empty() {
                self.coordinators.remove(&c);
            }
        }
        for em in &shape.emitters {
            let k = (em.service, em.operation);
            let a = self.emitters.entry(k).or_default();
            sum(&mut a.requests, em.requests, add);
            sum(&mut a.events, em.events, add);
            sum(&mut a.deliveries, em.deliveries, add);
            sum(&mut a.trivial, em.trivial, add);
            flow_set(&mut a.flows, key, add);
            if a.flows.is_empty() {
                self.emitters.remove(&k);
            }
        }
        for v in &shape.versions {
            let k = (v.destination.clone(), v.event_type.clone());
            let versions = self.versions.entry(k).or_default();
            let a = versions.entry(v.version.clone()).or_default();
            sum(&mut a.consumed, v.consumed, add);
            sum(&mut a.failed, v.failed, add);
            sum(&mut a.deserialization, v.deserialization, add);
            sum(&mut a.flows, 1, add);
            for &c in &v.consumers {
                count(&mut a.consumers, c, add);
            }
            for &c in &v.failing {
                count(&mut a.failing, c, add);
            }
            if v.failed > 0 {
                flow_set(&mut a.failed_in, key, add);
            }
            if a.flows == 0 {
                versions.remove(&v.version);
                if versions.is_empty() {
                    self.versions.remove(&(v.destination.clone(), v.event_type.clone()));
                }
            }
        }
        for (table, service) in &shape.tables {
            let writers = self.tables.entry(table.clone()).or_default();
            let flows = writers.entry(*service).or_default();
            flow_set(flows, key, add);
            if flows.is_empty() {
                writers.remove(service);
                if writers.is_empty() {
                    self.tables.remove(table);
                }
            }
        }
        let mut handlers: Vec<(Sym, Sym)> = shape
            .fanouts
            .iter()
            .filter(|f| f.callees.len() >= FANOUT_SERVICES)
            .map(|f| (f.service, f.operation))
            .collect();
        handlers.sort_unstable();
        handlers.dedup();
        for k in handlers {
            let by = self.fanouts.entry(k).or_default();
            if add {
                let seen = shape
                    .fanouts
                    .iter()
                    .filter(|f| (f.service, f.operation) == k && f.callees.len() >= FANOUT_SERVICES)
                    .map(|f| (f.callees.clone(), f.waited_ns))
                    .collect();
                by.insert(key, seen);
            } else {
                by.remove(&key);
                if by.is_empty() {
                    self.fanouts.remove(&k);
                }
            }
        }
    }

    /// Adds the anti-pattern insights the sums show.
    pub fn detect(&self, cx: &Ctx<'_>, out: &mut Vec<Insight>) {
        self.god_orchestrator(cx, cx.opts, out);
        self.event_soup(cx, out);
        self.schema_chaos(cx, out);
        self.distributed_monolith(cx, out);
        self.sync_fanout(cx, out);
    }
}

fn names(cx: &Ctx<'_>, syms: impl IntoIterator<Item = Sym>) -> Vec<String> {
    let mut v: Vec<String> = syms.into_iter().map(|s| cx.str(s).to_owned()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

impl Patterns {
    fn god_orchestrator(&self, cx: &Ctx<'_>, opts: &AnalysisOptions, out: &mut Vec<Insight>) {
        for (&c, e) in &self.coordinators {
            let partners = names(cx, e.partners.keys().copied());
            if partners.len() < opts.god_orchestrator_services as usize {
                continue;
            }
            let c = cx.str(c);
            let mut services = partners.clone();
            services.push(c.to_owned());
            services.sort_unstable();
            out.push(Insight {
                kind: InsightKind::GodOrchestrator,
                severity: Severity::Warning,
                flow: first(&e.flows),
                detail: format!(
                    "{c} coordinates {} services ({}) over {} flows: split it into bounded-context sagas, each coordinating its own few services",
                    partners.len(),
                    partners.join(", "),
                    e.flows.len()
                ),
                subject: c.to_owned(),
                services,
            });
        }
    }

    fn event_soup(&self, cx: &Ctx<'_>, out: &mut Vec<Insight>) {
        for (&(service, op), a) in &self.emitters {
            if a.requests == 0 {
                continue;
            }
            let (service, op) = (cx.str(service), cx.str(op));
            let per = a.events as f64 / a.requests as f64;
            let idle = a.deliveries >= 3 && 2 * a.trivial > a.deliveries;
            if per < SOUP_EVENTS && !(per >= SOUP_MIN_EVENTS && idle) {
                continue;
            }
            let why = if idle {
                format!(
                    "; {} of their {} deliveries' handlers did almost nothing",
                    a.trivial, a.deliveries
                )
            } else {
                String::new()
            };
            out.push(Insight {
                kind: InsightKind::EventSoup,
                severity: Severity::Warning,
                flow: first(&a.flows),
                detail: format!(
                    "{service} ({op}) emits {per:.1} events per request over {} requests{why}: emit only the meaningful domain events",
                    a.requests
                ),
                subject: format!("{service} {op}"),
                services: vec![service.to_owned()],
            });
        }
    }

    fn schema_chaos(&self, cx: &Ctx<'_>, out: &mut Vec<Insight>) {
        for ((dest, ty), versions) in &self.versions {
            if versions.len() < 2 {
                continue;
            }
            let failed: u64 = versions.values().map(|v| v.failed).sum();
            let shape: u64 = versions.values().map(|v| v.deserialization).sum();
            let failing: Vec<(&str, &Version)> =
                versions.iter().filter(|(_, v)| v.failed > 0).map(|(k, v)| (&**k, v)).collect();
            let concentrated = failing.len() == 1 && failed > 0;
            if !concentrated && shape == 0 {
                continue;
            }
            let Some(&(worst, w)) = failing.iter().max_by_key(|(_, v)| v.failed) else {
                continue;
            };
            let list: Vec<String> = versions
                .iter()
                .map(|(k, v)| format!("v{k} ({} consumed, {} failed)", v.consumed, v.failed))
                .collect();
            // Who failed on it (the consumers that read it fine are not named).
            let consumers = names(cx, w.failing.keys().copied());
            let shape_note =
                if shape > 0 { format!(", {shape} deserialization errors") } else { String::new() };
            out.push(Insight {
                kind: InsightKind::EventSchemaChaos,
                severity: Severity::Error,
                flow: first(&w.failed_in),
                detail: format!(
                    "{dest} carries {} versions of {ty}: {}; failures concentrate on v{worst} in {}{shape_note}: register the schema and version it (consumers accept old and new before producers switch)",
                    versions.len(),
                    list.join(", "),
                    consumers.join(", ")
                ),
                subject: dest.clone(),
                services: names(cx, versions.values().flat_map(|v| v.consumers.keys().copied())),
            });
        }
    }

    fn distributed_monolith(&self, cx: &Ctx<'_>, out: &mut Vec<Insight>) {
        for (table, writers) in &self.tables {
            if writers.len() < 2 {
                continue;
            }
            let mut writers: Vec<(&str, &Flows)> =
                writers.iter().map(|(s, f)| (cx.str(*s), f)).collect();
            writers.sort_unstable_by_key(|w| w.0);
            // The example: the first flow of the writer seen least (the likely intruder).
            let Some((_, least)) = writers.iter().min_by_key(|(name, f)| (f.len(), *name)) else {
                continue;
            };
            let list: Vec<String> =
                writers.iter().map(|(s, f)| format!("{s} ({} flows)", f.len())).collect();
            out.push(Insight {
                kind: InsightKind::DistributedMonolith,
                severity: Severity::Warning,
                flow: first(least),
                detail: format!(
                    "table {table} is written by {} services: {}: let one service own it and the others ask it or react to its events",
                    writers.len(),
                    list.join(", ")
                ),
                subject: table.to_string(),
                services: writers.iter().map(|(s, _)| (*s).to_owned()).collect(),
            });
        }
    }

    fn sync_fanout(&self, cx: &Ctx<'_>, out: &mut Vec<Insight>) {
        for (&(service, op), by) in &self.fanouts {
            // The longest list of callees (the first of that length), times seen, longest
            // wait.
            let (mut callees, mut n, mut waited): (&[Sym], u64, u64) = (&[], 0, 0);
            for seen in by.values().flatten() {
                if seen.0.len() > callees.len() {
                    callees = &seen.0;
                }
                n += 1;
                waited = waited.max(seen.1);
            }
            let (service, op) = (cx.str(service), cx.str(op));
            let called: Vec<&str> = callees.iter().map(|s| cx.str(*s)).collect();
            let mut services = names(cx, callees.iter().copied());
            services.push(service.to_owned());
            services.sort_unstable();
            out.push(Insight {
                kind: InsightKind::SyncFanout,
                severity: Severity::Warning,
                flow: by.keys().next().map(|k| TraceId(k.1)),
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
}
