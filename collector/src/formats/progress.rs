//! The progress line of a long read: bytes, spans and rate on stderr, rewritten in place a
//! few times per second, only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Reads shorter than this show no progress at all.
const QUIET_FOR: Duration = Duration::from_secs(1);
/// At most one update per this interval.
const EVERY: Duration = Duration::from_millis(250);

/// Whether to show progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// When stderr is a terminal.
    #[default]
    Auto,
    /// Never.
    Never,
}

/// The progress meter of one `read_paths` call.
#[derive(Debug)]
pub(crate) struct Progress {
    enabled: bool,
    started: Instant,
    last: Instant,
    shown: bool,
}

impl Progress {
    pub(crate) fn new(mode: ProgressMode) -> Self {
        let enabled = mode == ProgressMode::Auto && std::io::stderr().is_terminal();
        let now = Instant::now();
        Self { enabled, started: now, last: now, shown: false }
    }

    /// Called after each record; prints at most every [`EVERY`], once [`QUIET_FOR`] passed.
    pub(crate) fn update(&mut self, name: &str, bytes: u64, spans: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last) < EVERY || now.duration_since(self.started) < QUIET_FOR {
            return;
        }
        self.last = now;
        self.shown = true;
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-9);
        let line = format!(
            "\r\x1b[2Kreading {name}: {}, {} spans, {}/s",
            human_bytes(bytes as f64),
            human_count(spans),
            human_bytes(bytes as f64 / secs),
        );
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }

    /// Clears the progress line, if one was shown.
    pub(crate) fn finish(&mut self) {
        if self.shown {
            self.shown = false;
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(b"\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
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
        let mut p = Progress::new(ProgressMode::Never);
        let earlier = p.started.checked_sub(Duration::from_secs(5)).unwrap_or(p.started);
        p.started = earlier;
        p.last = earlier;
        p.update("x", 1, 1);
        assert!(!p.shown);
    }
}
