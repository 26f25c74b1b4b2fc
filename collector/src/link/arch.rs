//! What the architecture analyses read of a span beyond the linker's compact record: the
//! database table it writes, the event type and version of its message, and whether its
//! failure is a deserialization error. Kept aside, per span slot, for the few spans that say
//! any of it, so the record every span pays for stays as small as it is.
//!
//! Attribute keys are classified once per distinct key symbol; a span without any of the
//! keys costs one table lookup per attribute. Whether a span has facts here ([`ARCH`]) and
//! whether its HTTP method writes ([`WRITE_METHOD`]) are bits of its record's flags, so the
//! analyses look here only for the spans that said something.

use rustc_hash::FxHashMap;

use super::Linker;
use super::facts::{ARCH, ArchFacts, LinkKeys, Scan, WRITE_METHOD};
use super::slot::SpanSlot;
use crate::model::{Interner, Span, SpanKind, Sym, Value};

const CLASSIFIED: u8 = 1 << 7;
const TABLE: u8 = 1;
const NAMESPACE: u8 = 2;
const OPERATION: u8 = 3;
const QUERY: u8 = 4;
const EVENT_TYPE: u8 = 5;
const VERSION: u8 = 6;
const ERROR_TYPE: u8 = 7;
const METHOD: u8 = 8;
/// A saga attribute ([`LinkKeys`]): read by the saga facts, not here.
const SAGA: u8 = 9;
/// Classes (as bits) whose spans are read in full.
const SAYS: u16 = 1 << TABLE | 1 << QUERY | 1 << EVENT_TYPE | 1 << VERSION;
const NONE: u8 = 0;

impl Linker {
    /// The spans held that write a table, with the table (`<namespace>.<table>`).
    pub(crate) fn table_writes(&self) -> impl Iterator<Item = (SpanSlot, &str)> {
        self.arch.facts.iter().filter_map(|(&s, f)| Some((s, f.table_write.as_deref()?)))
    }

    /// What span `s` says about its table and its message's schema, if anything (a flag test
    /// for the spans that say nothing).
    pub(crate) fn arch_facts(&self, s: SpanSlot) -> Option<&ArchFacts> {
        if self.span(s).is(ARCH) { self.arch.get(s) } else { None }
    }
}

/// The per-span side table and the key classification it reads with.
#[derive(Debug, Default)]
pub(crate) struct ArchTable {
    facts: FxHashMap<SpanSlot, Box<ArchFacts>>,
    /// By key symbol index: [`CLASSIFIED`] | class.
    class: Vec<u8>,
    exception_type: Option<Sym>,
    exception_message: Option<Sym>,
}

impl ArchTable {
    /// The facts of span `s`, if it said anything ([`Linker::arch_facts`] tests its flag
    /// first).
    fn get(&self, s: SpanSlot) -> Option<&ArchFacts> {
        self.facts.get(&s).map(|b| &**b)
    }

    /// One pass over `span`'s attributes: the flags to set on its record ([`ARCH`] when it
    /// says something kept here, [`WRITE_METHOD`] for a state-changing HTTP method), what it
    /// says, and whether it has a saga attribute (`keys`), so the linker reads them once.
    /// Only the few spans that name a table or an event, or failed, are read further.
    pub fn scan(&mut self, span: &Span, keys: &LinkKeys, interner: &Interner) -> Scan {
        let mut seen = 0u16;
        let mut method: Option<&Value> = None;
        for kv in &*span.attributes {
            let class = self.class_of(kv.key, keys, interner);
            seen |= 1 << class;
            if class == METHOD && method.is_none() {
                method = Some(&kv.value);
            }
        }
        // Read where a fan-out is looked for: a handler's calls and the handlers called.
        let call = matches!(span.kind, SpanKind::Client | SpanKind::Server);
        let write_method = call
            && method.and_then(text).is_some_and(|m| {
                m.len() <= 6
                    && ["POST", "PUT", "PATCH", "DELETE"].iter().any(|w| m.eq_ignore_ascii_case(w))
            });
        let facts = if seen & SAYS != 0 || span.is_error() {
            self.extract(span, interner).map(Box::new)
        } else {
            None
        };
        let flags = (u8::from(write_method) * WRITE_METHOD) | (u8::from(facts.is_some()) * ARCH);
        Scan { facts, flags, saga_key: seen & 1 << SAGA != 0 }
    }

    /// Records the facts a [`ArchTable::scan`] found for the span held at `slot`; a resend
    /// fills in what was missing.
    pub fn put(&mut self, slot: SpanSlot, new: Option<Box<ArchFacts>>) {
        let Some(new) = new else { return };
        match self.facts.get_mut(&slot) {
            None => {
                self.facts.insert(slot, new);
            }
            Some(held) => {
                held.table_write = held.table_write.take().or(new.table_write);
                held.event_type = held.event_type.take().or(new.event_type);
                held.version = held.version.take().or(new.version);
                held.deserialization_error |= new.deserialization_error;
            }
        }
    }

    /// Bytes held by the table: its map, the records and their strings (an estimate).
    pub fn heap_bytes(&self) -> usize {
        let strings: usize = self
            .facts
            .values()
            .map(|f| {
                [&f.table_write, &f.event_type, &f.version]
                    .iter()
                    .map(|s| s.as_deref().map_or(0, str::len))
                    .sum::<usize>()
            })
            .sum();
        self.facts.capacity() * (size_of::<(SpanSlot, Box<ArchFacts>)>() + 1)
            + self.facts.len() * size_of::<ArchFacts>()
            + strings
            + self.class.capacity()
    }

    /// Forgets an evicted span.
    pub fn remove(&mut self, slot: SpanSlot) {
        if !self.facts.is_empty() {
            self.facts.remove(&slot);
        }
    }

    #[inline]
    fn class_of(&mut self, key: Sym, keys: &LinkKeys, interner: &Interner) -> u8 {
        let i = key.index() as usize;
        if let Some(&c) = self.class.get(i)
            && c & CLASSIFIED != 0
        {
            return c & !CLASSIFIED;
        }
        if self.class.len() <= i {
            self.class.resize(i + 1, 0);
        }
        let class = if keys.is_saga_key(key) { SAGA } else { classify(interner.resolve(key)) };
        self.class[i] = CLASSIFIED | class;
        class
    }

    /// What `span` says, read in full (it named a table or an event, or failed).
    fn extract(&mut self, span: &Span, interner: &Interner) -> Option<ArchFacts> {
        let (mut table, mut namespace, mut operation, mut query) = (None, None, None, None);
        let (mut event_type, mut version, mut error_type) = (None, None, None);
        for kv in &*span.attributes {
            let i = kv.key.index() as usize;
            let class = self.class.get(i).map_or(NONE, |c| c & !CLASSIFIED);
            let slot = match class {
                TABLE => &mut table,
                NAMESPACE => &mut namespace,
                OPERATION => &mut operation,
                QUERY => &mut query,
                EVENT_TYPE => &mut event_type,
                VERSION => &mut version,
                ERROR_TYPE => &mut error_type,
                _ => continue,
            };
            let Some(v) = text(&kv.value) else { continue };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        let named = table.is_some() || query.is_some();
        let table = if named && is_write(operation, query, interner.resolve(span.name)) {
            table.map(str::to_owned).or_else(|| query.and_then(written_table))
        } else {
            None
        };
        let table_write = table.map(|t| match namespace {
            Some(ns) if !t.contains('.') => format!("{ns}.{t}").into_boxed_str(),
            _ => t.into_boxed_str(),
        });
        let (event_type, version) = match event_type.map(split_version) {
            Some((ty, v)) => (Some(ty.into()), version.or(v).map(Into::into)),
            None => (None, version.map(Into::into)),
        };
        let deserialization_error = span.is_error() && {
            let mut said = vec![span.status.message.as_ref()];
            said.extend(error_type);
            self.exception_type.get_or_insert_with(|| interner.intern("exception.type"));
            self.exception_message.get_or_insert_with(|| interner.intern("exception.message"));
            for e in &*span.events {
                for kv in &*e.attributes {
                    if Some(kv.key) == self.exception_type || Some(kv.key) == self.exception_message
                    {
                        said.extend(kv.value.as_str());
                    }
                }
            }
            said.iter().any(|s| is_shape_error(s))
        };
        let facts = ArchFacts { table_write, event_type, version, deserialization_error };
        (facts != ArchFacts::default()).then_some(facts)
    }
}

fn text(v: &Value) -> Option<&str> {
    match v {
        Value::Str(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// The class of an attribute key.
fn classify(key: &str) -> u8 {
    match key {
        "db.collection.name" | "db.sql.table" | "db.mongodb.collection" | "db.cassandra.table" => {
            TABLE
        }
        "db.namespace" | "db.name" => NAMESPACE,
        "db.operation.name" | "db.operation" => OPERATION,
        "db.query.text" | "db.statement" => QUERY,
        "cloudevents.event_type" | "messaging.header.ce_type" | "messaging.header.event_type" => {
            EVENT_TYPE
        }
        "event.version"
        | "schema.version"
        | "messaging.message.schema.version"
        | "cloudevents.event_dataschema_version"
        | "messaging.header.schema_version"
        | "messaging.header.event_version"
        | "messaging.header.version" => VERSION,
        "error.type" | "exception.type" => ERROR_TYPE,
        "http.request.method" | "http.method" => METHOD,
        _ => NONE,
    }
}

const WRITE_VERBS: [&str; 15] = [
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "UPSERT",
    "REPLACE",
    "CREATE",
    "ALTER",
    // Document and key-value stores: `remove`, `bulkWrite`, `findOneAndUpdate`,
    // `PutItem`, `BatchWriteItem`, `TransactWriteItems`, `save`.
    "REMOVE",
    "BULKWRITE",
    "BATCHWRITE",
    "FINDANDMODIFY",
    "FINDONEAND",
    "TRANSACTWRITE",
    "PUT",
];

/// Whether a database span writes: its operation, else its query's first word, else its name.
fn is_write(operation: Option<&str>, query: Option<&str>, name: &str) -> bool {
    let first = |s: &str| s.split_whitespace().next().map(str::to_ascii_uppercase);
    let verb = operation.map(str::to_ascii_uppercase).or_else(|| query.and_then(first));
    let verb = verb.or_else(|| first(name)).unwrap_or_default();
    WRITE_VERBS.iter().any(|w| verb.starts_with(w))
        || ["INSERT_", "UPDATE_", "DELETE_", "SAVE", "PUT", "SET"].iter().any(|w| verb == *w)
        || verb.starts_with("INSERT")
        || verb.starts_with("UPDATE")
}

/// The table a write statement names: `INSERT INTO t`, `UPDATE t`, `DELETE FROM t`,
/// `MERGE INTO t`, `REPLACE INTO t`.
fn written_table(query: &str) -> Option<String> {
    let words: Vec<&str> = query.split_whitespace().take(8).collect();
    let verb = words.first()?.to_ascii_uppercase();
    let mut rest = words[1..].iter();
    let mut table = *rest.next()?;
    if matches!(verb.as_str(), "INSERT" | "DELETE" | "MERGE" | "REPLACE" | "UPSERT") {
        while ["INTO", "FROM", "IGNORE", "ONLY"].contains(&table.to_ascii_uppercase().as_str()) {
            table = rest.next()?;
        }
    } else if verb == "UPDATE" {
        if table.eq_ignore_ascii_case("ONLY") {
            table = rest.next()?;
        }
    } else {
        return None;
    }
    let table: String = table
        .trim_matches(|c: char| matches!(c, '`' | '"' | '[' | ']' | ';'))
        .split('(')
        .next()
        .unwrap_or_default()
        .replace(['`', '"', '[', ']'], "");
    (!table.is_empty() && table.chars().all(|c| c.is_alphanumeric() || "_.$".contains(c)))
        .then_some(table)
}

/// An event type and the version at its end: `order.placed.v2` → (`order.placed`, `2`);
/// `OrderPlaced:v1` → (`OrderPlaced`, `1`). A type without one is kept whole.
pub(crate) fn split_version(ty: &str) -> (&str, Option<&str>) {
    let Some(at) = ty.rfind(['.', ':', '/', '_', '@', '-']) else { return (ty, None) };
    let last = &ty[at + 1..];
    let digits = last.strip_prefix(['v', 'V']).unwrap_or(last);
    if at > 0 && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        (&ty[..at], Some(digits))
    } else {
        (ty, None)
    }
}

/// Whether an error text says the message did not have the expected shape.
fn is_shape_error(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    ["deserializ", "serializ", "unmarshal", "schema", "decode", "parse", "missing field"]
        .iter()
        .any(|w| lower.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_split_from_event_types() {
        assert_eq!(split_version("com.shop.order.placed.v2"), ("com.shop.order.placed", Some("2")));
        assert_eq!(split_version("OrderPlaced:v1"), ("OrderPlaced", Some("1")));
        assert_eq!(split_version("order.placed"), ("order.placed", None));
        assert_eq!(split_version("order.shipped"), ("order.shipped", None));
        assert_eq!(split_version("v2"), ("v2", None));
    }

    #[test]
    fn tables_parsed_from_writes_only() {
        assert_eq!(written_table("INSERT INTO orders (id) VALUES ($1)").as_deref(), Some("orders"));
        assert_eq!(written_table("update shop.orders set x = 1").as_deref(), Some("shop.orders"));
        assert_eq!(written_table("DELETE FROM \"orders\" WHERE id=1").as_deref(), Some("orders"));
        assert_eq!(written_table("SELECT * FROM orders"), None);
        assert_eq!(written_table(""), None);
        assert!(is_write(None, Some("insert into t values (1)"), "x"));
        assert!(is_write(Some("UPDATE"), None, "x"));
        assert!(!is_write(Some("SELECT"), Some("INSERT INTO t"), "x"));
        assert!(!is_write(None, None, "SELECT orders"));
    }
}
