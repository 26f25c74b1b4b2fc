//! Recordings: accepted spans written as OTLP JSON lines, one `TracesData` per line, the
//! format of the OpenTelemetry Collector's file exporter, so other tools read them too.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::model::{Interner, Span};
use crate::otlp::convert::to_traces_data;
use crate::otlp::json::encode_traces_data;

/// Appends batches of spans to a recording file.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
    line: Vec<u8>,
}

impl Recorder {
    /// Creates (or truncates) `path`, readable by its owner only.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot create recording {}: {e}", path.display()),
            )
        })?;
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::with_capacity(1 << 20, file),
            line: Vec::new(),
        })
    }

    /// Where the recording goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one line holding `spans`.
    pub fn write_spans(&mut self, spans: &[&Span], interner: &Interner) -> std::io::Result<()> {
        if spans.is_empty() {
            return Ok(());
        }
        self.line.clear();
        encode_traces_data(&to_traces_data(spans.iter().copied(), interner), &mut self.line);
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    /// Flushes buffered lines to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
