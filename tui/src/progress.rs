//! The progress line of a long read: bytes, spans and rate on stderr, rewritten in place a
//! few times per second, only when stderr is a terminal. The collector's reader reports how
//! far it has got ([`ReadProgress`]); this draws it.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use hopscope_collector::format;
use hopscope_collector::formats::read::{
    ReadError, ReadOptions, ReadProgress, ReadReport, read_paths_with,
};
use hopscope_collector::model::Span;
use hopscope_collector::otlp::convert::Decoder;

/// Reads shorter than this show no progress at all.
const QUIET_FOR: Duration = Duration::from_secs(1);
/// At most one update per this interval.
const EVERY: Duration = Duration::from_millis(250);

/// [`read_paths_with`] showing the progress line on stderr when it is a terminal (see
/// [`ProgressLine`]); the line is cleared once the read ends.
pub fn read_paths(
    paths: &[PathBuf],
    decoder: &Decoder,
    on_spans: &mut dyn FnMut(Vec<Span>),
) -> Result<ReadReport, ReadError> {
    let mut line = ProgressLine::new();
    let result = if line.enabled {
        let mut draw = |progress: &ReadProgress<'_>| line.update(progress);
        read_paths_with(paths, decoder, ReadOptions { on_progress: Some(&mut draw) }, on_spans)
    } else {
        read_paths_with(paths, decoder, ReadOptions::default(), on_spans)
    };
    line.finish();
    result
}

/// The progress line of one read: nothing for a read shorter than [`QUIET_FOR`], then at
/// most one update every [`EVERY`]; cleared by [`ProgressLine::finish`] (or when dropped).
#[derive(Debug)]
pub struct ProgressLine {
    /// Whether stderr is a terminal: nothing is drawn otherwise.
    enabled: bool,
    /// When, in the read's time, the line was last drawn.
    last_drawn: Duration,
    shown: bool,
}

impl ProgressLine {
    /// A line on stderr, drawn only if stderr is a terminal.
    pub fn new() -> Self {
        Self { enabled: std::io::stderr().is_terminal(), last_drawn: Duration::ZERO, shown: false }
    }

    /// Called after each record; prints at most every [`EVERY`], once [`QUIET_FOR`] passed.
    pub fn update(&mut self, progress: &ReadProgress<'_>) {
        if !self.enabled {
            return;
        }
        let elapsed = progress.elapsed;
        if elapsed.saturating_sub(self.last_drawn) < EVERY || elapsed < QUIET_FOR {
            return;
        }
        self.last_drawn = elapsed;
        self.shown = true;
        let line = format!("\r\x1b[2K{}", line_text(progress));
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }

    /// Clears the progress line, if one was shown.
    pub fn finish(&mut self) {
        if self.shown {
            self.shown = false;
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(b"\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Default for ProgressLine {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The words of the progress line: file, bytes read, spans, read rate.
fn line_text(progress: &ReadProgress<'_>) -> String {
    let secs = progress.elapsed.as_secs_f64().max(1e-9);
    format!(
        "reading {}: {}, {} spans, {}/s",
        progress.file,
        format::bytes(progress.bytes),
        format::count(progress.spans),
        format::bytes((progress.bytes as f64 / secs) as u64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_speaks_the_formatting_kit() {
        let progress = ReadProgress {
            file: "spans.jsonl",
            bytes: 3 << 20,
            spans: 12_345,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(line_text(&progress), "reading spans.jsonl: 3MiB, 12.3k spans, 1.5MiB/s");
    }

    #[test]
    fn never_mode_prints_nothing() {
        // Not a terminal: five seconds into a read, still nothing drawn.
        let mut p = ProgressLine { enabled: false, last_drawn: Duration::ZERO, shown: false };
        p.update(&ReadProgress { file: "x", bytes: 1, spans: 1, elapsed: Duration::from_secs(5) });
        assert!(!p.shown);
    }
}
