//! OTLP/JSON files: JSON lines (a `TracesData` or `ExportTraceServiceRequest` per line), and
//! one such document spread over many lines.
//!
//! Both decode through [`crate::otlp::json::decode_traces`]. A document is streamed: the
//! reader walks `resourceSpans[].scopeSpans[].spans[]` itself, holds each span's JSON as a
//! [`RawValue`] and decodes them in batches of [`BATCH`] spans wrapped in their resource and
//! scope, so memory follows the batch, not the file. That relies on `resource` coming before
//! `scopeSpans` and `scope` before `spans`, as every OTLP encoder writes them; when they come
//! after, the spans wait for them (held in memory until their `ResourceSpans` ends).
//! Several documents one after another are read in turn.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead};
use std::rc::Rc;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::detect::MAX_MESSAGE;
use super::json_stream::{LineCounter, newlines, reason, start_line};
use super::sink::{At, Sink};
use crate::otlp::json::{self, JsonError};

/// Spans decoded together from a JSON document.
const BATCH: usize = 512;

/// Lines longer than this are skipped without being held: a line is decoded whole, and a
/// file compressed whole (a gzip or zstd "bomb" of one endless line) must not make it take
/// all memory. The same bound as a length-prefixed protobuf message.
const MAX_LINE: usize = MAX_MESSAGE as usize;

/// Reads OTLP JSON lines; a line that does not decode is reported and skipped.
pub(crate) fn read_lines(mut input: impl BufRead, sink: &mut Sink<'_>) {
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        let fits = match next_line(&mut input, &mut line, MAX_LINE) {
            Ok(None) => return,
            Ok(Some(fits)) => fits,
            Err(e) => {
                sink.skip(At::Line(number + 1), format_args!("cannot read: {e}"));
                return;
            }
        };
        number += 1;
        if !fits {
            sink.skip(At::Line(number), format_args!("line longer than {MAX_LINE} bytes: skipped"));
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match json::decode_traces(&line) {
            Ok(req) => sink.resource_spans(At::Line(number), 1, req.resource_spans),
            Err(e) => sink.skip(At::Line(number), LineError(&e)),
        }
    }
}

/// Reads the next line (with its newline, if any) into `line`: `None` at the end of the
/// input, `Some(false)` when the line was longer than `max` bytes (then it was read past,
/// and `line` is left empty, holding none of it).
fn next_line(input: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> io::Result<Option<bool>> {
    line.clear();
    let mut seen = 0usize;
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok((seen > 0).then_some(seen <= max));
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        seen = seen.saturating_add(take);
        if seen <= max {
            line.extend_from_slice(&buf[..take]);
        } else if !line.is_empty() {
            *line = Vec::new();
        }
        input.consume(take);
        if done {
            return Ok(Some(seen <= max));
        }
    }
}

/// A decoding error of a one-line record: the column, not the (always first) line.
struct LineError<'a>(&'a JsonError);

impl fmt::Display for LineError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        let text = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        match text.strip_suffix(&suffix) {
            Some(bare) => write!(f, "{bare} (column {})", e.column()),
            None => f.write_str(&text),
        }
    }
}

/// Reads one OTLP/JSON document (or several in a row), streaming its spans.
pub(crate) fn read_document(input: impl BufRead, sink: &mut Sink<'_>) {
    let (reader, newlines) = LineCounter::new(input);
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut doc = Document { sink, newlines, pending: PendingResource::default() };
    loop {
        let read = Walk { doc: &mut doc, level: Level::Top }.deserialize(&mut de);
        doc.end_resource();
        if let Err(e) = read {
            doc.sink.skip(At::Line(e.line().max(1) as u64), reason(&e));
            return;
        }
        // Another document may follow.
        if de.end().is_ok() {
            return;
        }
    }
}

/// The state of a document being read: the `ResourceSpans` whose spans are pending.
struct Document<'s, 'a> {
    sink: &'s mut Sink<'a>,
    newlines: Rc<Cell<u64>>,
    pending: PendingResource,
}

#[derive(Default)]
struct PendingResource {
    resource: Option<Box<RawValue>>,
    schema_url: Option<Box<RawValue>>,
    /// `resource` was read, or the object ended without one.
    known: bool,
    scopes: Vec<PendingScope>,
}

#[derive(Default)]
struct PendingScope {
    scope: Option<Box<RawValue>>,
    schema_url: Option<Box<RawValue>>,
    /// `scope` was read, or the object ended without one.
    known: bool,
    closed: bool,
    /// Each span's JSON and the line it starts on.
    spans: Vec<(Box<RawValue>, u64)>,
}

impl Document<'_, '_> {
    fn begin_resource(&mut self) {
        self.end_resource();
    }

    /// Hands on every pending span, with whatever resource and scope were read.
    fn end_resource(&mut self) {
        self.pending.known = true;
        for scope in &mut self.pending.scopes {
            scope.known = true;
            scope.closed = true;
        }
        self.flush();
        self.pending = PendingResource::default();
    }

    fn begin_scope(&mut self) {
        self.pending.scopes.push(PendingScope::default());
    }

    fn end_scope(&mut self) {
        if let Some(scope) = self.pending.scopes.last_mut() {
            scope.known = true;
            scope.closed = true;
        }
        self.flush();
    }

    fn push_span(&mut self, raw: Box<RawValue>) {
        let line = start_line(self.newlines.get(), &raw);
        if let Some(scope) = self.pending.scopes.last_mut() {
            scope.spans.push((raw, line));
            if scope.spans.len() >= BATCH {
                self.flush();
            }
        }
    }

    /// Decodes the spans of every scope whose resource and scope are known (closed scopes
    /// whole, open ones once a batch is full) and forgets closed scopes.
    fn flush(&mut self) {
        if !self.pending.known {
            return;
        }
        let mut scopes = std::mem::take(&mut self.pending.scopes);
        for scope in &mut scopes {
            if scope.known
                && !scope.spans.is_empty()
                && (scope.closed || scope.spans.len() >= BATCH)
            {
                let spans = std::mem::take(&mut scope.spans);
                self.decode(scope, &spans);
            }
        }
        scopes.retain(|s| !s.closed);
        self.pending.scopes = scopes;
    }

    /// Decodes `spans` wrapped in their resource and scope; when the batch does not decode,
    /// span by span, so only the bad ones are skipped.
    fn decode(&mut self, scope: &PendingScope, spans: &[(Box<RawValue>, u64)]) {
        let (prefix, suffix) = self.wrapper(scope);
        let mut text = String::with_capacity(
            prefix.len()
                + suffix.len()
                + spans.iter().map(|(s, _)| s.get().len() + 1).sum::<usize>(),
        );
        text.push_str(&prefix);
        for (i, (span, _)) in spans.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(span.get());
        }
        text.push_str(&suffix);
        let first_line = spans.first().map_or(1, |(_, line)| *line);
        if let Ok(req) = json::decode_traces(text.as_bytes()) {
            self.sink.resource_spans(At::Line(first_line), spans.len() as u64, req.resource_spans);
            return;
        }
        let prefix_lines = newlines(&prefix);
        for (span, line) in spans {
            text.clear();
            text.push_str(&prefix);
            text.push_str(span.get());
            text.push_str(&suffix);
            match json::decode_traces(text.as_bytes()) {
                Ok(req) => self.sink.resource_spans(At::Line(*line), 1, req.resource_spans),
                Err(e) => {
                    let within = (e.line() as u64).saturating_sub(1 + prefix_lines);
                    self.sink.skip(At::Line(line + within), DocumentError(&e));
                }
            }
        }
    }

    /// The JSON around a batch of spans: `{"resourceSpans":[{..."spans":[` and `]}]}]}`.
    fn wrapper(&self, scope: &PendingScope) -> (String, String) {
        let mut prefix = String::from(r#"{"resourceSpans":[{"#);
        let field = |prefix: &mut String, key: &str, raw: &Option<Box<RawValue>>| {
            if let Some(raw) = raw {
                prefix.push('"');
                prefix.push_str(key);
                prefix.push_str("\":");
                prefix.push_str(raw.get());
                prefix.push(',');
            }
        };
        field(&mut prefix, "resource", &self.pending.resource);
        field(&mut prefix, "schemaUrl", &self.pending.schema_url);
        prefix.push_str(r#""scopeSpans":[{"#);
        field(&mut prefix, "scope", &scope.scope);
        field(&mut prefix, "schemaUrl", &scope.schema_url);
        prefix.push_str(r#""spans":["#);
        (prefix, String::from("]}]}]}"))
    }
}

/// A decoding error inside a document: the position is in the `FILE:LINE` prefix.
struct DocumentError<'a>(&'a JsonError);

impl fmt::Display for DocumentError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        let text = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        f.write_str(text.strip_suffix(&suffix).unwrap_or(&text))
    }
}

/// Where in the document a [`Walk`] is.
#[derive(Clone, Copy)]
enum Level {
    /// The top-level object.
    Top,
    ResourceSpansList,
    ResourceSpans,
    ScopeSpansList,
    ScopeSpans,
    SpansList,
}

impl Level {
    fn expected(self) -> &'static str {
        match self {
            Level::Top => "an OTLP TracesData or ExportTraceServiceRequest object",
            Level::ResourceSpansList => "an array of ResourceSpans",
            Level::ResourceSpans => "a ResourceSpans object",
            Level::ScopeSpansList => "an array of ScopeSpans",
            Level::ScopeSpans => "a ScopeSpans object",
            Level::SpansList => "an array of spans",
        }
    }
}

/// Walks the document's structure down to the spans, handing each to the [`Document`].
struct Walk<'d, 's, 'a> {
    doc: &'d mut Document<'s, 'a>,
    level: Level,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.level.expected())
    }

    /// `null` stands for an absent field, or a default message.
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        match self.level {
            Level::Top => Err(E::invalid_type(serde::de::Unexpected::Unit, &self)),
            _ => Ok(()),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let element = match self.level {
            Level::ResourceSpansList => Level::ResourceSpans,
            Level::ScopeSpansList => Level::ScopeSpans,
            Level::SpansList => {
                while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
                    self.doc.push_span(raw);
                }
                return Ok(());
            }
            level => {
                return Err(serde::de::Error::invalid_type(
                    serde::de::Unexpected::Seq,
                    &level.expected(),
                ));
            }
        };
        while seq.next_element_seed(Walk { doc: self.doc, level: element })?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let doc = self.doc;
        match self.level {
            Level::Top => {
                while let Some(key) = map.next_key::<String>()? {
                    if matches!(key.as_str(), "resourceSpans" | "resource_spans") {
                        map.next_value_seed(Walk {
                            doc: &mut *doc,
                            level: Level::ResourceSpansList,
                        })?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Level::ResourceSpans => {
                doc.begin_resource();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "resource" => {
                            doc.pending.resource = Some(map.next_value()?);
                            doc.pending.known = true;
                            doc.flush();
                        }
                        "schemaUrl" | "schema_url" => {
                            doc.pending.schema_url = Some(map.next_value()?);
                        }
                        "scopeSpans"
                        | "scope_spans"
                        | "instrumentationLibrarySpans"
                        | "instrumentation_library_spans" => {
                            map.next_value_seed(Walk {
                                doc: &mut *doc,
                                level: Level::ScopeSpansList,
                            })?;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                doc.end_resource();
            }
            Level::ScopeSpans => {
                doc.begin_scope();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "scope" | "instrumentationLibrary" | "instrumentation_library" => {
                            let raw = map.next_value()?;
                            if let Some(scope) = doc.pending.scopes.last_mut() {
                                scope.scope = Some(raw);
                                scope.known = true;
                            }
                            doc.flush();
                        }
                        "schemaUrl" | "schema_url" => {
                            let raw = map.next_value()?;
                            if let Some(scope) = doc.pending.scopes.last_mut() {
                                scope.schema_url = Some(raw);
                            }
                        }
                        "spans" => {
                            map.next_value_seed(Walk { doc: &mut *doc, level: Level::SpansList })?;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                doc.end_scope();
            }
            level => {
                return Err(serde::de::Error::invalid_type(
                    serde::de::Unexpected::Map,
                    &level.expected(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Option<Vec<u8>>> {
        // A tiny buffer, so lines span many reads.
        let mut input = io::BufReader::with_capacity(3, input);
        let mut line = Vec::new();
        let mut out = Vec::new();
        while let Some(fits) = next_line(&mut input, &mut line, max).unwrap() {
            out.push(fits.then(|| line.clone()));
            if !fits {
                assert!(line.is_empty() && line.capacity() <= max, "an overlong line was held");
            }
        }
        out
    }

    /// Regression: a line was read whole however long, so a small compressed file of one
    /// endless line took all memory. Lines past the bound are skipped, held nowhere.
    #[test]
    fn overlong_lines_are_skipped_without_being_held() {
        // 6, 17 (the bound, newline included), 32 and 4 bytes.
        let input = b"short\nexactly 17 bytes\nthis one is longer than the max\nlast";
        let expected: [Option<&[u8]>; 4] =
            [Some(b"short\n"), Some(b"exactly 17 bytes\n"), None, Some(b"last")];
        assert_eq!(lines(input, 17), expected.map(|l| l.map(<[u8]>::to_vec)));
        assert_eq!(lines(b"", 16), Vec::<Option<Vec<u8>>>::new());
        assert_eq!(lines(b"0123456789abcdefXYZ", 16), [None]);
    }
}
