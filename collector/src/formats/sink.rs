//! What the format readers hand on: a [`Sink`] of [`Event`]s (records as OTLP, protobuf
//! messages still encoded, problems, each located by [`At`]), the byte [`Counted`] reader
//! behind the progress and the report, and [`ReadError`], the one error that stops a read.
//!
//! The readers (`otlp_json`, `otlp_proto`, `jaeger`, `zipkin`) write into a `Sink`; `read`
//! picks the reader by content and decodes what comes out the other end, so the dependency
//! runs one way: `read` → readers → `sink`.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::path::PathBuf;
use std::rc::Rc;

use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

use super::detect::{Compression, Format};

/// Errors that stop reading altogether (a corrupt record does not).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Where in a file a record starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    /// A 1-based line of a text format.
    Line(u64),
    /// A byte offset into a binary format.
    Offset(u64),
    /// The file as a whole.
    File,
}

/// Counts the bytes read through it (read by the progress line and the report while a
/// decompressor owns the reader).
pub(crate) struct Counted<R> {
    pub(crate) inner: R,
    pub(crate) count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.count.set(self.count.get() + amt as u64);
        self.inner.consume(amt);
    }
}

/// What the format readers tell the decoding side, in file order.
pub(crate) enum Event<'p> {
    /// A file (or stdin) starts; its bytes read are counted in the cell.
    Begin(String, Rc<Cell<u64>>),
    Compression(Compression),
    Format(Format),
    /// `records` records starting `at`, as OTLP.
    Records {
        at: At,
        records: u64,
        resource_spans: Vec<ResourceSpans>,
    },
    /// One protobuf `TracesData` message starting `at`, still encoded: decoded straight
    /// into the model (see [`crate::otlp::wire`]).
    Protobuf {
        at: At,
        message: &'p [u8],
    },
    /// A record skipped.
    Skip(At, String),
    /// A span rejected before decoding.
    Reject(At, String),
    /// A whole problem line, not about the current file.
    Notice(String),
    /// The current file held nothing.
    Empty,
    /// The current file ended.
    End,
    /// A path could not be opened: reading stops.
    Failed(ReadError),
}

/// Where the format readers put what they read and what went wrong; the other end (see
/// `Consumer`) decodes, counts and reports.
pub(crate) struct Sink<'a> {
    handle: &'a mut dyn FnMut(Event<'_>),
}

impl<'a> Sink<'a> {
    pub(crate) fn new(handle: &'a mut dyn FnMut(Event<'_>)) -> Self {
        Self { handle }
    }

    pub(crate) fn emit(&mut self, event: Event<'_>) {
        (self.handle)(event);
    }

    pub(crate) fn format(&mut self, format: Format) {
        self.emit(Event::Format(format));
    }

    /// `records` records (starting `at`) holding these spans, to decode and hand on.
    pub(crate) fn resource_spans(&mut self, at: At, records: u64, rs: Vec<ResourceSpans>) {
        self.emit(Event::Records { at, records, resource_spans: rs });
    }

    /// One protobuf `TracesData` message (starting `at`), to decode and hand on, or to skip
    /// when it does not decode.
    pub(crate) fn traces_proto(&mut self, at: At, message: &[u8]) {
        self.emit(Event::Protobuf { at, message });
    }

    /// A span rejected before decoding (an id that is not hex, say): counted with the
    /// decoder's rejections.
    pub(crate) fn reject_span(&mut self, at: At, why: impl fmt::Display) {
        self.emit(Event::Reject(at, why.to_string()));
    }

    /// A record that could not be read: counted, reported, skipped.
    pub(crate) fn skip(&mut self, at: At, why: impl fmt::Display) {
        self.emit(Event::Skip(at, why.to_string()));
    }
}
