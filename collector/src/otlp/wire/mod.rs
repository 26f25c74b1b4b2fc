//! OTLP trace protobuf decoded straight into the [`crate::model`], without the
//! opentelemetry-proto structs in between.
//!
//! [`decode_traces`] reads an `ExportTraceServiceRequest` or a `TracesData` (both are field
//! 1, `repeated ResourceSpans`) and gives the same [`DecodedSpans`] as decoding with prost and
//! then [`Decoder::traces`]: the conversion goes through the same [`Decoder`] helpers
//! (interning, messaging normalisation, id checks and rejections), and the reading follows
//! prost's rules to the letter, so that the two never disagree:
//!
//! - fields in any order; a scalar or string field given twice keeps the last; a repeated
//!   field appends; a message field given twice is merged (its repeated fields appended, its
//!   scalars overwritten), `AnyValue`'s `array_value` / `kvlist_value` included;
//! - unknown fields are skipped, groups included (with the matching end-group tag);
//! - a known field with the wrong wire type, a truncated or over-long varint, a length past
//!   the end of its message, a string that is not UTF-8, a field number 0, wire types 6 and 7,
//!   and nesting past prost's recursion limit (100) are errors ([`DecodeError`]), as they are
//!   for prost; the whole message is refused (INVALID_ARGUMENT / 400 at the receivers).
//!
//! Fields the model does not keep (Resource `entity_refs`, `KeyValue.key_strindex`) are still
//! checked, so that a message prost refuses is refused here too.
//!
//! Every read is bounds-checked on a slice; no input makes it panic. Strings are borrowed
//! from the input while converting: keys and names go to the interner and short values
//! inline into `CompactString`s, so most attributes cost no allocation at all.

mod error;

use std::sync::Arc;

use compact_str::CompactString;

use error::{
    ANY_VALUE, ARRAY_VALUE, ENTITY_REF, EVENT, KEY_VALUE, KEY_VALUE_LIST, LINK, RESOURCE,
    RESOURCE_SPANS, SCOPE, SCOPE_SPANS, SPAN, STATUS, TOP,
};
pub use error::{DecodeError, ErrorKind};

use super::convert::{DecodedSpans, Decoder, SpanParts};
use crate::model::{Event, KeyValue, Link, Resource, Scope, Sym, Value};

/// prost's recursion limit: how deep messages (and skipped groups) may nest.
const RECURSION_LIMIT: u32 = 100;

/// Slots in each cache of strings already seen in a message (see [`Wire::interned`]).
const SEEN: usize = 256;

/// A protobuf wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    Varint,
    SixtyFourBit,
    LengthDelimited,
    StartGroup,
    EndGroup,
    ThirtyTwoBit,
}

/// One message's bytes, read field by field.
#[derive(Clone, Copy)]
struct Reader<'a> {
    buf: &'a [u8],
    /// prost's recursion budget for this message's fields: a nested message or a skipped
    /// field needs it above 0.
    budget: u32,
    message: &'static str,
    /// The field being read, for errors.
    field: u32,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], budget: u32, message: &'static str) -> Self {
        Self { buf, budget, message, field: 0 }
    }

    #[cold]
    fn err(&self, kind: ErrorKind) -> DecodeError {
        DecodeError { message: self.message, field: self.field, kind }
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, DecodeError> {
        if let Some((&b, rest)) = self.buf.split_first()
            && b < 0x80
        {
            self.buf = rest;
            return Ok(u64::from(b));
        }
        self.varint_slow()
    }

    fn varint_slow(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for (i, &byte) in self.buf.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (i * 7);
            if byte < 0x80 {
                // The tenth byte may only hold the 64th bit.
                if i == 9 && byte >= 0x02 {
                    return Err(self.err(ErrorKind::InvalidVarint));
                }
                self.buf = &self.buf[i + 1..];
                return Ok(value);
            }
        }
        Err(self.err(ErrorKind::InvalidVarint))
    }

    /// A field key: its number and wire type.
    fn key(&mut self) -> Result<(u32, WireType), DecodeError> {
        let key = self.varint()?;
        if key > u64::from(u32::MAX) {
            return Err(self.err(ErrorKind::InvalidKey(key)));
        }
        let wire_type = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::SixtyFourBit,
            2 => WireType::LengthDelimited,
            3 => WireType::StartGroup,
            4 => WireType::EndGroup,
            5 => WireType::ThirtyTwoBit,
            other => return Err(self.err(ErrorKind::InvalidWireType(other))),
        };
        let field = (key as u32) >> 3;
        if field == 0 {
            return Err(self.err(ErrorKind::InvalidTag));
        }
        Ok((field, wire_type))
    }

    /// The next field's number and wire type; `None` at the end of the message.
    #[inline]
    fn next(&mut self) -> Result<Option<(u32, WireType)>, DecodeError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let (field, wire_type) = self.key()?;
        self.field = field;
        Ok(Some((field, wire_type)))
    }

    #[inline]
    fn expect(&self, actual: WireType, expected: WireType) -> Result<(), DecodeError> {
        if actual == expected {
            Ok(())
        } else {
            Err(self.err(ErrorKind::UnexpectedWireType { actual, expected }))
        }
    }

    #[inline]
    fn uint64(&mut self, wire_type: WireType) -> Result<u64, DecodeError> {
        self.expect(wire_type, WireType::Varint)?;
        self.varint()
    }

    /// `uint32`, `int32` and enums: the varint's low 32 bits.
    #[inline]
    fn uint32(&mut self, wire_type: WireType) -> Result<u32, DecodeError> {
        Ok(self.uint64(wire_type)? as u32)
    }

    #[inline]
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        match self.buf.split_first_chunk::<N>() {
            Some((bytes, rest)) => {
                self.buf = rest;
                Ok(*bytes)
            }
            None => Err(self.err(ErrorKind::BufferUnderflow)),
        }
    }

    #[inline]
    fn fixed64(&mut self, wire_type: WireType) -> Result<u64, DecodeError> {
        self.expect(wire_type, WireType::SixtyFourBit)?;
        Ok(u64::from_le_bytes(self.take()?))
    }

    #[inline]
    fn fixed32(&mut self, wire_type: WireType) -> Result<u32, DecodeError> {
        self.expect(wire_type, WireType::ThirtyTwoBit)?;
        Ok(u32::from_le_bytes(self.take()?))
    }

    /// `len` bytes, after checking there are that many.
    #[inline]
    fn split(&mut self, len: u64) -> Result<&'a [u8], DecodeError> {
        if len > self.buf.len() as u64 {
            return Err(self.err(ErrorKind::BufferUnderflow));
        }
        let (bytes, rest) = self.buf.split_at(len as usize);
        self.buf = rest;
        Ok(bytes)
    }

    #[inline]
    fn bytes(&mut self, wire_type: WireType) -> Result<&'a [u8], DecodeError> {
        self.expect(wire_type, WireType::LengthDelimited)?;
        let len = self.varint()?;
        self.split(len)
    }

    #[inline]
    fn string(&mut self, wire_type: WireType) -> Result<&'a str, DecodeError> {
        let bytes = self.bytes(wire_type)?;
        std::str::from_utf8(bytes).map_err(|_| self.err(ErrorKind::InvalidString))
    }

    /// A nested message, read with one level less of recursion budget.
    #[inline]
    fn message(
        &mut self,
        wire_type: WireType,
        message: &'static str,
    ) -> Result<Reader<'a>, DecodeError> {
        self.expect(wire_type, WireType::LengthDelimited)?;
        if self.budget == 0 {
            return Err(self.err(ErrorKind::RecursionLimit));
        }
        let len = self.varint()?;
        let bytes = self.split(len)?;
        Ok(Reader::new(bytes, self.budget - 1, message))
    }

    /// Skips the current field, which this reader does not keep.
    fn skip(&mut self, wire_type: WireType) -> Result<(), DecodeError> {
        self.skip_field(wire_type, self.field, self.budget)
    }

    /// prost's `skip_field`: groups are skipped up to their matching end, each level of
    /// nesting taking one from the recursion budget.
    fn skip_field(
        &mut self,
        wire_type: WireType,
        field: u32,
        budget: u32,
    ) -> Result<(), DecodeError> {
        if budget == 0 {
            return Err(self.err(ErrorKind::RecursionLimit));
        }
        let len = match wire_type {
            WireType::Varint => {
                self.varint()?;
                0
            }
            WireType::ThirtyTwoBit => 4,
            WireType::SixtyFourBit => 8,
            WireType::LengthDelimited => self.varint()?,
            WireType::StartGroup => loop {
                let (inner, inner_type) = self.key()?;
                if inner_type == WireType::EndGroup {
                    if inner != field {
                        return Err(self.err(ErrorKind::UnexpectedEndGroup));
                    }
                    break 0;
                }
                self.skip_field(inner_type, inner, budget - 1)?;
            },
            WireType::EndGroup => return Err(self.err(ErrorKind::UnexpectedEndGroup)),
        };
        self.split(len).map(|_| ())
    }
}

/// Number of spans in an `ExportTraceServiceRequest` (or `TracesData`), valid or not,
/// without decoding them: what a receiver checks the engine has room for before decoding.
/// Fails on the framing errors it meets on the way; the rest are found by
/// [`decode_traces`].
pub fn count_spans(bytes: &[u8]) -> Result<usize, DecodeError> {
    let mut spans = 0;
    let mut top = Reader::new(bytes, RECURSION_LIMIT, TOP);
    while let Some((field, wire_type)) = top.next()? {
        if field != 1 {
            top.skip(wire_type)?;
            continue;
        }
        let mut resource_spans = top.message(wire_type, RESOURCE_SPANS)?;
        while let Some((field, wire_type)) = resource_spans.next()? {
            if field != 2 {
                resource_spans.skip(wire_type)?;
                continue;
            }
            let mut scope_spans = resource_spans.message(wire_type, SCOPE_SPANS)?;
            while let Some((field, wire_type)) = scope_spans.next()? {
                if field == 2 {
                    scope_spans.message(wire_type, SPAN)?;
                    spans += 1;
                } else {
                    scope_spans.skip(wire_type)?;
                }
            }
        }
    }
    Ok(spans)
}

/// Decodes every valid span of an `ExportTraceServiceRequest` or `TracesData` message:
/// the same result as prost's decoding followed by [`Decoder::traces`], or an error where
/// prost fails.
pub fn decode_traces(decoder: &Decoder, bytes: &[u8]) -> Result<DecodedSpans, DecodeError> {
    let mut wire = Wire::new(decoder);
    let mut out = DecodedSpans::default();
    let mut top = Reader::new(bytes, RECURSION_LIMIT, TOP);
    let mut resource_index = 0;
    while let Some((field, wire_type)) = top.next()? {
        if field == 1 {
            let resource_spans = top.message(wire_type, RESOURCE_SPANS)?;
            wire.resource_spans(resource_spans, resource_index, &mut out)?;
            resource_index += 1;
        } else {
            top.skip(wire_type)?;
        }
    }
    out.finish();
    Ok(out)
}

/// The decoding of one message (whose bytes live for `'a`): the decoder converting into
/// the model; stacks that attributes, values, events and links are gathered on before being
/// boxed (each nested list takes its part off the top when it ends), so that no list is
/// built by growing its own vector; and caches of the strings seen so far.
struct Wire<'d, 'a> {
    decoder: &'d Decoder,
    attributes: Vec<KeyValue>,
    values: Vec<Value>,
    events: Vec<Event>,
    links: Vec<Link>,
    /// Keys and names, checked and interned.
    syms: Box<[(&'a str, Sym)]>,
    /// String values, checked.
    texts: Box<[&'a str]>,
}

/// A slot for `b` (not empty) in a cache of [`SEEN`] slots: from its length and two of its
/// bytes, which tell apart most of the keys and values spans repeat.
#[inline]
fn slot(b: &[u8], last: u8) -> usize {
    (b.len() ^ (usize::from(last) << 2) ^ (usize::from(b[b.len() / 2]) << 4)) % SEEN
}

impl<'d, 'a> Wire<'d, 'a> {
    fn new(decoder: &'d Decoder) -> Self {
        Self {
            decoder,
            attributes: Vec::with_capacity(64),
            values: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            syms: vec![("", Sym::EMPTY); SEEN].into_boxed_slice(),
            texts: vec![""; SEEN].into_boxed_slice(),
        }
    }

    /// The string field at `r`, checked and interned. Every
    /// span of a request repeats the same attribute keys and a few names, so a small
    /// direct-mapped cache answers most of them with one comparison: bytes equal to a string
    /// already checked are UTF-8, and their symbol is known, without the shared interner's
    /// lock and hash.
    #[inline]
    fn interned(
        &mut self,
        r: &mut Reader<'a>,
        wire_type: WireType,
    ) -> Result<(&'a str, Sym), DecodeError> {
        let b = r.bytes(wire_type)?;
        let Some(&last) = b.last() else { return Ok(("", Sym::EMPTY)) };
        let slot = slot(b, last);
        let (cached, sym) = self.syms[slot];
        if cached.as_bytes() == b {
            return Ok((cached, sym));
        }
        let s = std::str::from_utf8(b).map_err(|_| r.err(ErrorKind::InvalidString))?;
        let sym = self.decoder.interner().intern(s);
        self.syms[slot] = (s, sym);
        Ok((s, sym))
    }

    /// The string field at `r`, checked, through a cache like
    /// [`Self::interned`]'s: attribute values repeat too (methods, systems, destinations).
    #[inline]
    fn text(&mut self, r: &mut Reader<'a>, wire_type: WireType) -> Result<&'a str, DecodeError> {
        let b = r.bytes(wire_type)?;
        let Some(&last) = b.last() else { return Ok("") };
        let slot = slot(b, last);
        let cached = self.texts[slot];
        if cached.as_bytes() == b {
            return Ok(cached);
        }
        let s = std::str::from_utf8(b).map_err(|_| r.err(ErrorKind::InvalidString))?;
        self.texts[slot] = s;
        Ok(s)
    }

    /// One `ResourceSpans`: its resource first (it may come after its spans on the wire),
    /// then its scopes.
    fn resource_spans(
        &mut self,
        body: Reader<'a>,
        resource_index: usize,
        out: &mut DecodedSpans,
    ) -> Result<(), DecodeError> {
        let mut r = body;
        let start = self.attributes.len();
        let mut dropped = 0;
        let mut schema_url = "";
        while let Some((field, wire_type)) = r.next()? {
            match field {
                1 => {
                    let resource = r.message(wire_type, RESOURCE)?;
                    self.resource(resource, &mut dropped)?;
                }
                // Read below, once the resource is known.
                2 => _ = r.message(wire_type, SCOPE_SPANS)?,
                3 => schema_url = r.string(wire_type)?,
                _ => r.skip(wire_type)?,
            }
        }
        let attributes = self.attributes.drain(start..).collect();
        let resource: Arc<Resource> =
            Arc::new(self.decoder.resource_from(attributes, dropped, schema_url));
        let mut r = body;
        let mut scope_index = 0;
        while let Some((field, wire_type)) = r.next()? {
            if field == 2 {
                let scope_spans = r.message(wire_type, SCOPE_SPANS)?;
                self.scope_spans(scope_spans, &resource, (resource_index, scope_index), out)?;
                scope_index += 1;
            } else {
                r.skip(wire_type)?;
            }
        }
        Ok(())
    }

    /// A `Resource` (merged into what an earlier one in the same `ResourceSpans` gave).
    fn resource(&mut self, mut r: Reader<'a>, dropped: &mut u32) -> Result<(), DecodeError> {
        while let Some((field, wire_type)) = r.next()? {
            match field {
                1 => self.push_attribute(&mut r, wire_type)?,
                2 => *dropped = r.uint32(wire_type)?,
                3 => entity_ref(r.message(wire_type, ENTITY_REF)?)?,
                _ => r.skip(wire_type)?,
            }
        }
        Ok(())
    }

    /// One `ScopeSpans`: its scope, then its spans.
    fn scope_spans(
        &mut self,
        body: Reader<'a>,
        resource: &Arc<Resource>,
        (resource_index, scope_index): (usize, usize),
        out: &mut DecodedSpans,
    ) -> Result<(), DecodeError> {
        let mut r = body;
        let start = self.attributes.len();
        let (mut name, mut version, mut dropped, mut schema_url) = ("", "", 0, "");
        while let Some((field, wire_type)) = r.next()? {
            match field {
                1 => {
                    let mut scope_fields = r.message(wire_type, SCOPE)?;
                    while let Some((field, wire_type)) = scope_fields.next()? {
                        match field {
                            1 => name = scope_fields.string(wire_type)?,
                            2 => version = scope_fields.string(wire_type)?,
                            3 => self.push_attribute(&mut scope_fields, wire_type)?,
                            4 => dropped = scope_fields.uint32(wire_type)?,
                            _ => scope_fields.skip(wire_type)?,
                        }
                    }
                }
                2 => _ = r.message(wire_type, SPAN)?,
                3 => schema_url = r.string(wire_type)?,
                _ => r.skip(wire_type)?,
            }
        }
        let attributes = self.attributes.drain(start..).collect();
        let scope: Arc<Scope> =
            Arc::new(Decoder::scope_from(name, version, attributes, dropped, schema_url));
        let mut r = body;
        let mut span_index = 0;
        while let Some((field, wire_type)) = r.next()? {
            if field == 2 {
                let span = r.message(wire_type, SPAN)?;
                let parts = self.span(span)?;
                match self.decoder.span_from(parts, resource, &scope) {
                    Ok(span) => out.spans.push(span),
                    Err(why) => out.reject((resource_index, scope_index, span_index), &why),
                }
                span_index += 1;
            } else {
                r.skip(wire_type)?;
            }
        }
        Ok(())
    }

    /// A span's fields, its lists converted.
    fn span(&mut self, mut r: Reader<'a>) -> Result<SpanParts<'a>, DecodeError> {
        let (attributes, events, links) =
            (self.attributes.len(), self.events.len(), self.links.len());
        let mut parts = SpanParts::default();
        while let Some((field, wire_type)) = r.next()? {
            match field {
                1 => parts.trace_id = r.bytes(wire_type)?,
                2 => parts.span_id = r.bytes(wire_type)?,
                3 => parts.trace_state = r.string(wire_type)?,
                4 => parts.parent_span_id = r.bytes(wire_type)?,
                5 => (parts.name, parts.name_sym) = self.interned(&mut r, wire_type)?,
                6 => parts.kind = r.uint32(wire_type)? as i32,
                7 => parts.start_time_unix_nano = r.fixed64(wire_type)?,
                8 => parts.end_time_unix_nano = r.fixed64(wire_type)?,
                9 => self.push_attribute(&mut r, wire_type)?,
                10 => parts.dropped_attributes_count = r.uint32(wire_type)?,
                11 => {
                    let event = self.event(r.message(wire_type, EVENT)?)?;
                    self.events.push(event);
                }
                12 => parts.dropped_events_count = r.uint32(wire_type)?,
                13 => {
                    if let Some(link) = self.link(r.message(wire_type, LINK)?)? {
                        self.links.push(link);
                    }
                }
                14 => parts.dropped_links_count = r.uint32(wire_type)?,
                15 => {
                    let mut status = r.message(wire_type, STATUS)?;
                    while let Some((field, wire_type)) = status.next()? {
                        match field {
                            2 => parts.status_message = status.string(wire_type)?,
                            3 => parts.status_code = status.uint32(wire_type)? as i32,
                            _ => status.skip(wire_type)?,
                        }
                    }
                }
                16 => parts.flags = r.fixed32(wire_type)?,
                _ => r.skip(wire_type)?,
            }
        }
        parts.attributes = self.attributes.drain(attributes..).collect();
        parts.events = self.events.drain(events..).collect();
        parts.links = self.links.drain(links..).collect();
        Ok(parts)
    }

    fn event(&mut self, mut r: Reader<'a>) -> Result<Event, DecodeError> {
        let start = self.attributes.len();
        let (mut time, mut name, mut dropped) = (0, Sym::EMPTY, 0);
        while let Some((field, wire_type)) = r.next()? {
            match field {
                1 => time = r.fixed64(wire_type)?,
                2 => name = self.interned(&mut r, wire_type)?.1,
                3 => self.push_attribute(&mut r, wire_type)?,
                4 => dropped = r.uint32(wire_type)?,
                _ => r.skip(wire_type)?,
            }
        }
        let attributes = self.attributes.drain(start..).collect();
        Ok(Decoder::event_from(time, name, attributes, dropped))
    }

    /// A link; `None` when its ids are not valid (it is dropped, as the prost path drops it).
    fn link(&mut self, mut r: Reader<'a>) -> Result<Option<Link>, DecodeError> {
        let start = self.attributes.len();
        let (mut trace_id, mut span_id, mut trace_state): (&[u8], &[u8], &str) = (&[], &[], "");
        let (mut dropped, mut flags) = (0, 0);
        while let Some((field, wire_type)) = r.next()? {
            match field {
                1 => trace_id = r.bytes(wire_type)?,
                2 => span_id = r.bytes(wire_type)?,
                3 => trace_state = r.string(wire_type)?,
                4 => self.push_attribute(&mut r, wire_type)?,
                5 => dropped = r.uint32(wire_type)?,
                6 => flags = r.fixed32(wire_type)?,
                _ => r.skip(wire_type)?,
            }
        }
        let attributes = self.attributes.drain(start..).collect();
        Ok(Decoder::link_from(trace_id, span_id, trace_state, attributes, dropped, flags))
    }

    /// Reads the `KeyValue` message at the reader's current field onto the attribute stack.
    #[inline]
    fn push_attribute(
        &mut self,
        r: &mut Reader<'a>,
        wire_type: WireType,
    ) -> Result<(), DecodeError> {
        let kv = self.key_value(r.message(wire_type, KEY_VALUE)?)?;
        self.attributes.push(kv);
        Ok(())
    }

    fn key_value(&mut self, mut r: Reader<'a>) -> Result<KeyValue, DecodeError> {
        let mut key = Sym::EMPTY;
        let mut value = Value::Empty;
        while let Some((field, wire_type)) = r.next()? {
            match field {
                1 => key = self.interned(&mut r, wire_type)?.1,
                2 => self.any_value(r.message(wire_type, ANY_VALUE)?, &mut value)?,
                3 => _ = r.uint32(wire_type)?,
                _ => r.skip(wire_type)?,
            }
        }
        Ok(KeyValue { key, value })
    }

    /// An `AnyValue`, merged into `value` as prost merges a message into one it already
    /// holds: a new scalar replaces, a second array or kvlist appends to the first.
    fn any_value(&mut self, mut r: Reader<'a>, value: &mut Value) -> Result<(), DecodeError> {
        while let Some((field, wire_type)) = r.next()? {
            match field {
                1 => {
                    let text = self.text(&mut r, wire_type)?;
                    *value = Value::Str(CompactString::from(text));
                }
                2 => *value = Value::Bool(r.uint64(wire_type)? != 0),
                3 => *value = Value::Int(r.uint64(wire_type)? as i64),
                4 => *value = Value::Double(f64::from_bits(r.fixed64(wire_type)?)),
                5 => {
                    let mut array = r.message(wire_type, ARRAY_VALUE)?;
                    let start = self.values.len();
                    if let Value::Array(earlier) = std::mem::take(value) {
                        self.values.extend(earlier);
                    }
                    while let Some((field, wire_type)) = array.next()? {
                        if field == 1 {
                            let mut element = Value::Empty;
                            self.any_value(array.message(wire_type, ANY_VALUE)?, &mut element)?;
                            self.values.push(element);
                        } else {
                            array.skip(wire_type)?;
                        }
                    }
                    *value = Value::Array(self.values.drain(start..).collect());
                }
                6 => {
                    let mut list = r.message(wire_type, KEY_VALUE_LIST)?;
                    let start = self.attributes.len();
                    if let Value::KvList(earlier) = std::mem::take(value) {
                        self.attributes.extend(earlier);
                    }
                    while let Some((field, wire_type)) = list.next()? {
                        if field == 1 {
                            self.push_attribute(&mut list, wire_type)?;
                        } else {
                            list.skip(wire_type)?;
                        }
                    }
                    *value = Value::KvList(self.attributes.drain(start..).collect());
                }
                7 => *value = Value::Bytes(r.bytes(wire_type)?.into()),
                // `string_value_strindex`, array profiles-only dictionary reference: no value.
                8 => {
                    r.uint32(wire_type)?;
                    *value = Value::Empty;
                }
                _ => r.skip(wire_type)?,
            }
        }
        Ok(())
    }
}

/// Checks a Resource's `EntityRef`, which the model does not keep.
fn entity_ref(mut r: Reader<'_>) -> Result<(), DecodeError> {
    while let Some((field, wire_type)) = r.next()? {
        match field {
            1..=4 => _ = r.string(wire_type)?,
            _ => r.skip(wire_type)?,
        }
    }
    Ok(())
}
