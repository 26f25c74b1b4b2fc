//! The progress line of a long read: bytes, spans and rate on stderr, rewritten in place a
//! few times per second, only when stderr is a terminal. The collector's reader reports how
//! far it has got ([`ReadProgress`]); this draws it.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

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
        let secs = elapsed.as_secs_f64().max(1e-9);
        let bytes = progress.bytes;
        let line = format!(
            "\r\x1b[2Kreading {}: {}, {} spans, {}/s",
            progress.file,
            human_bytes(bytes as f64),
            human_count(progress.spans),
            human_bytes(bytes as f64 / secs),
        );
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

fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{v:.0} B") } else { format!("{v:.1} {}", UNITS[unit]) }
}

fn human_count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.2}M", n as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(999.0), "999 B");
        assert_eq!(human_bytes(1_500_000.0), "1.5 MB");
        assert_eq!(human_count(12_345), "12.3k");
        assert_eq!(human_count(2_000_000), "2.00M");
    }

    #[test]
    fn never_mode_prints_nothing() {
        // Not a terminal: five seconds into a read, still nothing drawn.
        let mut p = ProgressLine { enabled: false, last_drawn: Duration::ZERO, shown: false };
        p.update(&ReadProgress { file: "x", bytes: 1, spans: 1, elapsed: Duration::from_secs(5) });
        assert!(!p.shown);
    }
}
