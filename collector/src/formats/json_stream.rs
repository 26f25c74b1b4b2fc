//! What the streamed JSON formats (an OTLP document, Jaeger, Zipkin) share: a reader that
//! counts the lines serde has consumed, so that each element read as a
//! [`RawValue`](serde_json::value::RawValue) knows the line it started on, and error texts
//! with the position moved into the `FILE:LINE` prefix.

use std::cell::Cell;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use serde_json::value::RawValue;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Counts the line breaks in what it hands to serde. serde_json reads an `io::Read` a byte
/// at a time, so single-byte reads are served from an own buffer with as little work as
/// possible.
pub(crate) struct LineCounter<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    newlines: Rc<Cell<u64>>,
}

impl<R: BufRead> LineCounter<R> {
    /// Wraps `inner` (past a UTF-8 byte-order mark, if it starts with one); the count is
    /// shared through the returned cell.
    pub(crate) fn new(mut inner: R) -> (Self, Rc<Cell<u64>>) {
        if inner.fill_buf().is_ok_and(|b| b.starts_with(BOM)) {
            inner.consume(BOM.len());
        }
        let newlines = Rc::new(Cell::new(0));
        let counter = Self {
            inner,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            pos: 0,
            len: 0,
            newlines: Rc::clone(&newlines),
        };
        (counter, newlines)
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            self.len = self.inner.read(&mut self.buf)?;
            self.pos = 0;
        }
        let n = (self.len - self.pos).min(out.len());
        if n == 1 {
            let b = self.buf[self.pos];
            out[0] = b;
            if b == b'\n' {
                self.newlines.set(self.newlines.get() + 1);
            }
        } else {
            let chunk = &self.buf[self.pos..self.pos + n];
            out[..n].copy_from_slice(chunk);
            #[expect(clippy::naive_bytecount, reason = "rare: serde_json reads single bytes")]
            let breaks = chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            self.newlines.set(self.newlines.get() + breaks);
        }
        self.pos += n;
        Ok(n)
    }
}

/// The 1-based line an element just read started on, given the line breaks consumed so far
/// (the element's own included: serde stops right after an object's or array's closing
/// bracket).
pub(crate) fn start_line(newlines_consumed: u64, raw: &RawValue) -> u64 {
    1 + newlines_consumed.saturating_sub(newlines(raw.get()))
}

/// Line breaks in `text`.
pub(crate) fn newlines(text: &str) -> u64 {
    text.bytes().filter(|&b| b == b'\n').count() as u64
}

/// The line `inner` (an element of `outer`, borrowed from it) starts on, `outer` starting on
/// `outer_line`.
pub(crate) fn inner_line(outer: &str, outer_line: u64, inner: &str) -> u64 {
    let offset = (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize);
    outer_line + newlines(outer.get(..offset).unwrap_or(""))
}

/// A serde_json error's text without its ` at line L column C` suffix (the caller puts the
/// line in the `FILE:LINE` prefix), with the column kept, and truncation said plainly.
pub(crate) fn reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let bare = text.strip_suffix(&suffix).unwrap_or(&text);
    match e.classify() {
        serde_json::error::Category::Eof => format!("truncated: {bare}"),
        _ if e.line() > 0 => format!("{bare} (column {})", e.column()),
        _ => bare.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_raw_elements() {
        struct V<'a>(&'a mut Vec<u64>, Rc<Cell<u64>>);
        impl<'de> serde::de::Visitor<'de> for V<'_> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
                    self.0.push(start_line(self.1.get(), &raw));
                }
                Ok(())
            }
        }
        let text = "[\n {\"a\":\n 1},\n {\"b\": 2}\n]";
        let (reader, newlines) = LineCounter::new(text.as_bytes());
        let mut de = serde_json::Deserializer::from_reader(reader);
        let mut starts = Vec::new();
        serde::Deserializer::deserialize_seq(&mut de, V(&mut starts, newlines)).unwrap();
        assert_eq!(starts, vec![2, 4]);
    }

    #[test]
    fn reason_moves_position_out() {
        let e = serde_json::from_str::<serde_json::Value>("{\n \"a\": x}").unwrap_err();
        assert_eq!(reason(&e), "expected value (column 7)");
        let e = serde_json::from_str::<serde_json::Value>("{\"a\": ").unwrap_err();
        assert!(reason(&e).starts_with("truncated: EOF while parsing"), "{}", reason(&e));
    }
}
