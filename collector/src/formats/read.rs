//! Reading trace files into the model, streaming: memory follows what the caller keeps,
//! not the file size.
//!
//! A corrupt record is reported as `FILE:LINE: reason` and skipped; the rest is read.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::ingest::convert::Decoder;
use crate::ingest::json;
use crate::model::Span;

/// At most this many problems are kept in a report (all are counted).
const MAX_PROBLEMS: usize = 100;

/// What reading produced, and what it skipped.
#[derive(Debug, Default, Clone)]
pub struct ReadReport {
    /// Files (or stdin) read.
    pub files: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Records (lines, messages) decoded.
    pub records: u64,
    /// Valid spans handed on.
    pub spans: u64,
    /// Spans with invalid ids, dropped.
    pub rejected_spans: u64,
    /// Records that could not be decoded and were skipped.
    pub skipped: u64,
    /// The first problems, each `FILE:LINE: reason`.
    pub problems: Vec<String>,
}

impl ReadReport {
    fn problem(&mut self, what: String) {
        self.skipped += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(what);
        }
    }

    /// Whether nothing at all could be read.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }
}

/// Errors that stop reading a file altogether (a corrupt record does not).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Reads every file in `paths` (`-` is stdin) in order, handing each record's spans to
/// `on_spans`.
pub fn read_paths(
    paths: &[PathBuf],
    decoder: &Decoder,
    on_spans: &mut dyn FnMut(Vec<Span>),
) -> Result<ReadReport, ReadError> {
    let mut report = ReadReport::default();
    for path in paths {
        if path.as_os_str() == "-" {
            read_jsonl(
                std::io::stdin().lock(),
                Path::new("<stdin>"),
                decoder,
                &mut report,
                on_spans,
            )?;
        } else {
            let file =
                File::open(path).map_err(|source| ReadError::Io { path: path.clone(), source })?;
            read_jsonl(
                BufReader::with_capacity(1 << 20, file),
                path,
                decoder,
                &mut report,
                on_spans,
            )?;
        }
    }
    Ok(report)
}

/// Reads OTLP JSON lines (one `TracesData` or `ExportTraceServiceRequest` per line).
pub fn read_jsonl(
    mut input: impl BufRead,
    name: &Path,
    decoder: &Decoder,
    report: &mut ReadReport,
    on_spans: &mut dyn FnMut(Vec<Span>),
) -> Result<(), ReadError> {
    report.files += 1;
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|source| ReadError::Io { path: name.to_owned(), source })?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        report.bytes += n as u64;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match json::decode_traces(&line) {
            Ok(req) => {
                report.records += 1;
                let decoded = decoder.traces(req);
                report.spans += decoded.spans.len() as u64;
                report.rejected_spans += decoded.rejected;
                if !decoded.spans.is_empty() {
                    on_spans(decoded.spans);
                }
            }
            Err(e) => report.problem(format!("{}:{number}: {e}", name.display())),
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
    }
}
