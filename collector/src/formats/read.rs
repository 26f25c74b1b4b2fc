//! Reading trace files into the model, streaming: memory follows what the caller keeps, not
//! the file size.
//!
//! # Formats
//!
//! Told by content, never by file name (see [`Format`] and the `detect` module for the
//! rules): OTLP JSON lines; one OTLP JSON document (`TracesData` or
//! `ExportTraceServiceRequest`, pretty-printed or not); OTLP protobuf `TracesData` messages
//! each behind a 4-byte big-endian length (the OpenTelemetry Collector file exporter's
//! `format: proto`); the file exporter's `compression: zstd` form (each message compressed,
//! then length-prefixed); Jaeger UI "Download JSON"; Zipkin v2 JSON arrays. Any of them may be
//! wrapped whole in gzip or zstd (`zstd traces.jsonl`, `gzip traces.pb`), which is undone
//! first. Jaeger and Zipkin spans are converted into OTLP `ResourceSpans` (see the `jaeger`
//! and `zipkin` modules) and then through [`Decoder::resource_spans`] like everything else.
//!
//! # Streaming
//!
//! JSON lines are read a line at a time and protobuf a message at a time. The JSON formats
//! that are one document (OTLP, Jaeger, Zipkin) are streamed with serde: the reader walks the
//! outer object and arrays itself and holds one element at a time (a span; a Jaeger trace),
//! handing spans on in batches. Nothing holds a whole file.
//!
//! The format readers turn records into OTLP messages (or problems) and hand them, as
//! events, to the decoding side, which decodes them into the model, calls `on_spans`, counts
//! and reports; protobuf messages are handed on still encoded and decoded straight into the
//! model by [`wire`], without OTLP structs in between. Both sides run on the caller's
//! thread (a reading thread was measured: it was slower, memory allocated on one thread and
//! freed on the other costing more than the overlap gained). The library draws nothing:
//! how far a read has got (file, bytes, spans, time) goes to the caller's
//! [`ReadOptions::on_progress`] after every record, and the binary draws its progress line.
//!
//! # Bad input
//!
//! A record that cannot be decoded is reported as `FILE:LINE: reason` (text) or
//! `FILE@OFFSET: reason` (binary: the byte offset of the message's length prefix, in the
//! decompressed stream when the whole file is compressed), counted in
//! [`ReadReport::skipped`], and the rest is read. A file that ends in the middle of a record
//! keeps everything before it. An empty file is noted, not an error. Only a path that cannot
//! be opened stops a read ([`ReadError`]); the caller decides from [`ReadReport::is_empty`]
//! whether anything at all was read.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

pub use super::detect::{Compression, Format};
use super::detect::{HEAD_LEN, Sniff, sniff};
pub use super::sink::ReadError;
use super::sink::{At, Counted, Event, Sink};
use super::{jaeger, otlp_json, otlp_proto, zipkin};
use crate::model::Span;
use crate::otlp::convert::{DecodedSpans, Decoder};
use crate::otlp::wire;

/// At most this many problems, and this many notes, are kept in a report (all skipped
/// records are counted).
const MAX_PROBLEMS: usize = 100;

/// Whole-file compressions undone, at most, before giving up (a gzip in a zstd in a gzip...).
const MAX_LAYERS: usize = 3;

/// What reading produced, and what it skipped.
#[derive(Debug, Default, Clone)]
pub struct ReadReport {
    /// Files (or stdin) read.
    pub files: usize,
    /// Bytes read from the files, as stored (compressed bytes for compressed files).
    pub bytes: u64,
    /// Records decoded: lines (OTLP JSON lines), messages (protobuf, zstd messages), spans
    /// (OTLP JSON documents, Jaeger, Zipkin). A record is what can be skipped on its own.
    pub records: u64,
    /// Valid spans handed on.
    pub spans: u64,
    /// Spans with invalid ids, dropped.
    pub rejected_spans: u64,
    /// Records that could not be decoded and were skipped (including a truncated last one).
    pub skipped: u64,
    /// Files that held nothing (no bytes, or only whitespace).
    pub empty_files: usize,
    /// The first skipped records, one line each (so `skipped - problems.len()` were not
    /// listed): `FILE:LINE: reason`, `FILE@OFFSET: reason`, or `FILE: reason` for a whole
    /// file that could not be read (unknown content, corrupt compression).
    pub problems: Vec<String>,
    /// The first other things worth saying that skipped no record, in the same form: empty
    /// files (`FILE: empty file`), empty directories, spans rejected for invalid ids
    /// (`FILE:LINE: span rejected: ...`).
    pub notes: Vec<String>,
    /// What each file was, in the order read.
    pub sources: Vec<SourceReport>,
}

/// What one file (or stdin) was and what it gave.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SourceReport {
    /// The path as given (`<stdin>` for `-`).
    pub name: String,
    /// Whole-file compressions, outermost first.
    pub compression: Vec<Compression>,
    /// The records' format; `None` when empty or not recognised.
    pub format: Option<Format>,
    /// Bytes read, as stored.
    pub bytes: u64,
    pub records: u64,
    pub spans: u64,
    pub skipped: u64,
}

impl fmt::Display for SourceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.name)?;
        for c in &self.compression {
            write!(f, "{c} + ")?;
        }
        match self.format {
            Some(format) => write!(f, "{format}")?,
            None => f.write_str("no records")?,
        }
        write!(f, ", {} spans", self.spans)?;
        if self.skipped > 0 {
            write!(f, ", {} records skipped", self.skipped)?;
        }
        Ok(())
    }
}

impl ReadReport {
    fn push_note(&mut self, what: String) {
        if self.notes.len() < MAX_PROBLEMS {
            self.notes.push(what);
        }
    }

    /// Whether nothing at all could be read.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }
}

/// How far a read has got: what [`ReadOptions::on_progress`] is told.
#[derive(Debug, Clone, Copy)]
pub struct ReadProgress<'a> {
    /// The file being read, as given (`<stdin>` for `-`).
    pub file: &'a str,
    /// Bytes read so far, over every file, as stored (compressed bytes for compressed files).
    pub bytes: u64,
    /// Valid spans handed on so far.
    pub spans: u64,
    /// Time since the read started.
    pub elapsed: Duration,
}

/// How to read.
#[derive(Default)]
pub struct ReadOptions<'a> {
    /// Told how far the read has got after every record decoded: often, so it must be cheap
    /// (a progress line throttles its own drawing). `None`: nobody is told, and nothing is
    /// measured.
    pub on_progress: Option<&'a mut dyn FnMut(&ReadProgress<'_>)>,
}

impl fmt::Debug for ReadOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadOptions")
            .field("on_progress", &self.on_progress.as_ref().map(|_| "FnMut"))
            .finish()
    }
}

/// Reads every file in `paths` in order, handing each record's spans to `on_spans`. `-` is
/// stdin; a directory is read as its files (not its subdirectories, not hidden files) in
/// name order, which is the order of rotated files. Reports no progress (see
/// [`read_paths_with`]).
///
/// Fails only when a path (file or directory) cannot be opened; what was read before stays
/// handed on. Every other problem is in the report; nothing at all read is
/// [`ReadReport::is_empty`].
pub fn read_paths(
    paths: &[PathBuf],
    decoder: &Decoder,
    on_spans: &mut dyn FnMut(Vec<Span>),
) -> Result<ReadReport, ReadError> {
    read_paths_with(paths, decoder, ReadOptions::default(), on_spans)
}

/// [`read_paths`] with options.
pub fn read_paths_with(
    paths: &[PathBuf],
    decoder: &Decoder,
    options: ReadOptions,
    on_spans: &mut dyn FnMut(Vec<Span>),
) -> Result<ReadReport, ReadError> {
    let mut report = ReadReport::default();
    // Shortens the callback's trait-object lifetime to the read's (not a coercion site
    // inside the `Option`).
    let on_progress = options.on_progress.map(|f| f as &mut dyn FnMut(&ReadProgress<'_>));
    let mut consumer = Consumer::new(decoder, &mut report, on_spans, on_progress);
    read_all(paths, &mut Sink::new(&mut |event: Event<'_>| consumer.handle(event)));
    match consumer.failed.take() {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Every path in turn. Stops at a path that cannot be opened.
fn read_all(paths: &[PathBuf], sink: &mut Sink<'_>) {
    for path in paths {
        if path.as_os_str() == "-" {
            read_source(sink, "<stdin>", io::stdin());
        } else if path.is_dir() {
            let files = match directory_files(path) {
                Ok(files) => files,
                Err(e) => {
                    sink.emit(Event::Failed(e));
                    return;
                }
            };
            if files.is_empty() {
                sink.emit(Event::Notice(format!("{}: no files in directory", path.display())));
            }
            for file in files {
                if !read_file(&file, sink) {
                    return;
                }
            }
        } else if !read_file(path, sink) {
            return;
        }
    }
}

/// The files of a directory, in name order; hidden files and subdirectories left out.
fn directory_files(dir: &Path) -> Result<Vec<PathBuf>, ReadError> {
    let io_err = |source| ReadError::Io { path: dir.to_owned(), source };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let hidden = entry.file_name().as_encoded_bytes().first() == Some(&b'.');
        // `metadata` follows symlinks: a link to a file counts as a file.
        if !hidden && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()) {
            files.push(entry.path());
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Reads one file; false when it could not be opened (reported as [`Event::Failed`]).
fn read_file(path: &Path, sink: &mut Sink<'_>) -> bool {
    match File::open(path) {
        Ok(file) => {
            read_source(sink, &path.display().to_string(), file);
            true
        }
        Err(source) => {
            sink.emit(Event::Failed(ReadError::Io { path: path.to_owned(), source }));
            false
        }
    }
}

/// Reads one file (or stdin) of any format.
fn read_source(sink: &mut Sink<'_>, name: &str, input: impl Read) {
    let counter = Rc::new(Cell::new(0));
    sink.emit(Event::Begin(name.to_owned(), Rc::clone(&counter)));
    read_stream(sink, Box::new(Counted { inner: input, count: counter }), 0);
    sink.emit(Event::End);
}

/// Tells the format of `input` and reads it, undoing whole-file compression first.
fn read_stream(sink: &mut Sink<'_>, mut input: Box<dyn Read + '_>, layers: usize) {
    let mut head = Vec::with_capacity(HEAD_LEN);
    if let Err(e) = input.by_ref().take(HEAD_LEN as u64).read_to_end(&mut head) {
        sink.skip(At::File, format_args!("cannot read: {e}"));
        return;
    }
    let sniffed = sniff(&head);
    let input = Cursor::new(head).chain(input);
    match sniffed {
        Sniff::Compressed(_) if layers >= MAX_LAYERS => {
            sink.skip(
                At::File,
                format_args!("compressed more than {MAX_LAYERS} times over; not read"),
            );
        }
        Sniff::Compressed(c @ Compression::Gzip) => {
            sink.emit(Event::Compression(c));
            let inflated = flate2::bufread::MultiGzDecoder::new(BufReader::new(input));
            read_stream(sink, Box::new(inflated), layers + 1);
        }
        Sniff::Compressed(c @ Compression::Zstd) => {
            sink.emit(Event::Compression(c));
            match zstd::stream::read::Decoder::new(input) {
                Ok(d) => read_stream(sink, Box::new(d), layers + 1),
                Err(e) => sink.skip(At::File, format_args!("zstd: {e}")),
            }
        }
        Sniff::Empty => sink.emit(Event::Empty),
        Sniff::Unknown => sink.skip(
            At::File,
            "not a trace file hopscope reads (OTLP JSON or protobuf, Jaeger or Zipkin JSON, \
             optionally gzip or zstd compressed)",
        ),
        Sniff::Format(format) => {
            sink.format(format);
            let input = BufReader::with_capacity(1 << 20, input);
            match format {
                Format::OtlpJsonLines => otlp_json::read_lines(input, sink),
                Format::OtlpJsonDocument => otlp_json::read_document(input, sink),
                Format::OtlpProto => otlp_proto::read_messages(input, sink, false),
                Format::OtlpZstdFramed => otlp_proto::read_messages(input, sink, true),
                Format::Jaeger => jaeger::read(input, sink),
                Format::Zipkin => zipkin::read(input, sink),
            }
        }
    }
}

/// Reads OTLP JSON lines (one `TracesData` or `ExportTraceServiceRequest` per line) from
/// `input`, whatever its content looks like, into `report`. No progress is reported.
pub fn read_jsonl(
    input: impl BufRead,
    name: &Path,
    decoder: &Decoder,
    report: &mut ReadReport,
    on_spans: &mut dyn FnMut(Vec<Span>),
) -> Result<(), ReadError> {
    let mut consumer = Consumer::new(decoder, report, on_spans, None);
    let mut handle = |event: Event<'_>| consumer.handle(event);
    let mut sink = Sink::new(&mut handle);
    let counter = Rc::new(Cell::new(0));
    sink.emit(Event::Begin(name.display().to_string(), Rc::clone(&counter)));
    sink.format(Format::OtlpJsonLines);
    otlp_json::read_lines(Counted { inner: input, count: counter }, &mut sink);
    sink.emit(Event::End);
    Ok(())
}

/// The decoding side: turns OTLP into the model, hands spans on, counts, reports problems
/// with the current file's name, tells how far it has got.
struct Consumer<'a> {
    decoder: &'a Decoder,
    report: &'a mut ReadReport,
    on_spans: &'a mut dyn FnMut(Vec<Span>),
    on_progress: Option<&'a mut dyn FnMut(&ReadProgress<'_>)>,
    /// When the read started.
    started: Instant,
    /// The file being read.
    source: SourceReport,
    /// Bytes read of the current file so far.
    bytes: Rc<Cell<u64>>,
    /// Why reading stopped, if it did.
    failed: Option<ReadError>,
}

impl<'a> Consumer<'a> {
    fn new(
        decoder: &'a Decoder,
        report: &'a mut ReadReport,
        on_spans: &'a mut dyn FnMut(Vec<Span>),
        on_progress: Option<&'a mut dyn FnMut(&ReadProgress<'_>)>,
    ) -> Self {
        Self {
            decoder,
            report,
            on_spans,
            on_progress,
            started: Instant::now(),
            source: SourceReport::default(),
            bytes: Rc::new(Cell::new(0)),
            failed: None,
        }
    }

    fn handle(&mut self, event: Event<'_>) {
        match event {
            Event::Begin(name, bytes) => {
                self.report.files += 1;
                self.source = SourceReport { name, ..SourceReport::default() };
                self.bytes = bytes;
            }
            Event::Compression(c) => self.source.compression.push(c),
            Event::Format(f) => self.source.format = Some(f),
            Event::Records { at, records, resource_spans } => {
                let decoded = self.decoder.resource_spans(resource_spans);
                self.decoded(at, records, decoded);
            }
            Event::Protobuf { at, message } => match wire::decode_traces(self.decoder, message) {
                Ok(decoded) => self.decoded(at, 1, decoded),
                Err(e) => self.handle(Event::Skip(at, format!("not a protobuf TracesData: {e}"))),
            },
            Event::Skip(at, why) => {
                self.report.skipped += 1;
                self.source.skipped += 1;
                if self.report.problems.len() < MAX_PROBLEMS {
                    let line = self.located(at, &why);
                    self.report.problems.push(line);
                }
            }
            Event::Reject(at, why) => {
                self.report.rejected_spans += 1;
                self.note(at, &format!("span rejected: {why}"));
            }
            Event::Notice(line) => self.report.push_note(line),
            Event::Empty => {
                self.report.empty_files += 1;
                self.note(At::File, "empty file");
            }
            Event::End => {
                let mut source = std::mem::take(&mut self.source);
                source.bytes = self.bytes.get();
                self.report.bytes += source.bytes;
                self.report.sources.push(source);
            }
            Event::Failed(e) => self.failed = Some(e),
        }
    }

    /// `records` records starting `at`, decoded.
    fn decoded(&mut self, at: At, records: u64, decoded: DecodedSpans) {
        self.report.records += records;
        self.source.records += records;
        let n = decoded.spans.len() as u64;
        self.report.spans += n;
        self.source.spans += n;
        if decoded.rejected > 0 {
            self.report.rejected_spans += decoded.rejected;
            if let Some(why) = decoded.first_error {
                self.note(at, &format!("span rejected: {why}"));
            }
        }
        if !decoded.spans.is_empty() {
            (self.on_spans)(decoded.spans);
        }
        if let Some(on_progress) = self.on_progress.as_mut() {
            on_progress(&ReadProgress {
                file: &self.source.name,
                bytes: self.report.bytes + self.bytes.get(),
                spans: self.report.spans,
                elapsed: self.started.elapsed(),
            });
        }
    }

    fn note(&mut self, at: At, what: &str) {
        if self.report.notes.len() < MAX_PROBLEMS {
            let line = self.located(at, what);
            self.report.notes.push(line);
        }
    }

    /// `what` prefixed with where, in the current file.
    fn located(&self, at: At, what: &str) -> String {
        let name = &self.source.name;
        match at {
            At::Line(line) => format!("{name}:{line}: {what}"),
            At::Offset(offset) => format!("{name}@{offset}: {what}"),
            At::File => format!("{name}: {what}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::Interner;

    #[test]
    fn corrupt_line_is_reported_and_the_rest_read() {
        let good = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"a"}]}]}]}"#;
        let text = format!("{good}\n{{\"resourceSpans\": [oops\n\n{good}\n");
        let decoder = Decoder::new(Arc::new(Interner::new()));
        let mut report = ReadReport::default();
        let mut spans = 0;
        read_jsonl(text.as_bytes(), Path::new("rec.jsonl"), &decoder, &mut report, &mut |s| {
            spans += s.len();
        })
        .unwrap();
        assert_eq!((spans, report.records, report.skipped), (2, 2, 1));
        assert!(report.problems[0].starts_with("rec.jsonl:2: "), "{:?}", report.problems);
        assert_eq!(report.bytes, text.len() as u64);
    }
}
