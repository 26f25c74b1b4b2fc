//! Numbers, times and text as hopscope prints them, in one place: the TUI (through
//! `hopscope::app::fmt`), the text report ([`crate::analysis::text`]), the stuck reasons and
//! insights of the analyses ([`crate::analysis::human`]) and the command line's messages all
//! call these, so one value reads the same on every screen and in every report.
//!
//! - durations to three significant digits: `1.24s`, `12.5ms`, `1m05s`, `2h03m`
//!   ([`duration`]);
//! - byte sizes with binary units, as `--max-memory` takes them: `512B`, `1.5KiB`, `12MiB`
//!   ([`bytes`]);
//! - counts, shortened past ten thousand: `9999`, `12.3k`, `1.2M` ([`count`]); a count with
//!   its noun: `1 span`, `3 spans` ([`plural`]);
//! - times of day and dates in UTC ([`clock`], [`clock_ms`], [`date_time`]);
//! - text measured in terminal cells, not `char`s, so a CJK name takes its two cells per
//!   character: [`width`], [`fit`] (cut with `…`), [`pad`] (filled with spaces).
//!
//! Ids are the model's: `TraceId`/`SpanId` print their hex with `Display` and the first eight
//! digits with `short()`. Parsing sizes (`512MiB`) is [`crate::size`]'s.

use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr as _};

const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

/// A duration in nanoseconds, to three significant digits: `1.24s`, `12.5ms`, `350ms`,
/// `45s`, `1m05s`, `2h03m`, `20µs`, `7ns`, `0s`.
pub fn duration(ns: u64) -> String {
    if ns == 0 {
        return "0s".to_owned();
    }
    if ns >= 3600 * S {
        let m = ns / (60 * S);
        return format!("{}h{:02}m", m / 60, m % 60);
    }
    if ns >= 60 * S {
        let s = ns / S;
        return format!("{}m{:02}s", s / 60, s % 60);
    }
    let (value, unit) = if ns >= S {
        (ns as f64 / S as f64, "s")
    } else if ns >= MS {
        (ns as f64 / MS as f64, "ms")
    } else if ns >= US {
        (ns as f64 / US as f64, "µs")
    } else {
        return format!("{ns}ns");
    };
    format!("{}{unit}", sig3(value))
}

/// Three significant digits, trailing zeros dropped (`1.24`, `12.5`, `350`, `45`).
fn sig3(v: f64) -> String {
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    // Rounding may reach the next unit (999.6ms → "1000"): acceptable, and rare.
    s
}

/// Bytes with a binary unit: `512B`, `1.5KiB`, `12MiB`, `1GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n}B") } else { format!("{}{}", sig3(v), UNITS[unit]) }
}

/// A count, shortened past ten thousand: `950`, `9999`, `12.3k`, `1.2M`.
pub fn count(n: u64) -> String {
    if n < 10_000 {
        n.to_string()
    } else if n < 1_000_000 {
        format!("{}k", sig3(n as f64 / 1e3))
    } else {
        format!("{}M", sig3(n as f64 / 1e6))
    }
}

/// A count with its noun, in full: `1 span`, `0 spans`, `12345 spans`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Unix nanoseconds as a UTC time of day with milliseconds: `13:14:15.678`.
pub fn clock_ms(unix_nano: u64) -> String {
    let ms = (unix_nano / 1_000_000) % 86_400_000;
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}.{:03}", s / 3600, (s / 60) % 60, s % 60, ms % 1000)
}

/// Unix nanoseconds as a UTC time of day: `13:14:15`.
pub fn clock(unix_nano: u64) -> String {
    let s = (unix_nano / 1_000_000_000) % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Unix nanoseconds as a UTC date and time: `2023-11-14 22:13:20`.
pub fn date_time(unix_nano: u64) -> String {
    let secs = unix_nano / 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {}", clock(unix_nano))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// How many terminal cells `text` takes: a CJK character or an emoji two, a combining mark
/// none, everything else one.
pub fn width(text: &str) -> usize {
    text.width()
}

/// `text` cut to at most `cells` terminal cells, with `…` when cut.
pub fn fit(text: &str, cells: usize) -> String {
    if width(text) <= cells {
        return text.to_owned();
    }
    if cells == 0 {
        return String::new();
    }
    // Room for the ellipsis (one cell); a wide character that would straddle the edge is
    // left out whole.
    let budget = cells - 1;
    let mut used = 0;
    let mut s = String::with_capacity(text.len().min(cells * 4));
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > budget {
            break;
        }
        used += w;
        s.push(c);
    }
    s.push('…');
    s
}

/// `text` followed by spaces up to `cells` terminal cells (unchanged when it is as wide or
/// wider): the left-aligned cell of a text table.
pub fn pad(text: &str, cells: usize) -> String {
    let fill = cells.saturating_sub(width(text));
    let mut s = String::with_capacity(text.len() + fill);
    s.push_str(text);
    s.extend(std::iter::repeat_n(' ', fill));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_three_significant_digits() {
        assert_eq!(duration(1_240_000_000), "1.24s");
        assert_eq!(duration(1_200_000_000), "1.2s");
        assert_eq!(duration(2_000_000_000), "2s");
        assert_eq!(duration(350_000_000), "350ms");
        assert_eq!(duration(12_500_000), "12.5ms");
        assert_eq!(duration(45_000_000_000), "45s");
        assert_eq!(duration(60_000_000_000), "1m00s");
        assert_eq!(duration(65_000_000_000), "1m05s");
        assert_eq!(duration(90_000_000_000), "1m30s");
        assert_eq!(duration(7_380_000_000_000), "2h03m");
        assert_eq!(duration(20_000), "20µs");
        assert_eq!(duration(7), "7ns");
        assert_eq!(duration(0), "0s");
    }

    #[test]
    fn sizes_and_counts() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5KiB");
        assert_eq!(bytes(1_500_000), "1.43MiB");
        assert_eq!(bytes(1 << 30), "1GiB");
        assert_eq!(count(9_999), "9999");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(count(1_234_567), "1.23M");
        assert_eq!(plural(1, "span", "spans"), "1 span");
        assert_eq!(plural(0, "span", "spans"), "0 spans");
    }

    #[test]
    fn clocks_and_dates() {
        assert_eq!(clock_ms(1_700_000_001_234_000_000), "22:13:21.234");
        assert_eq!(clock(1_700_000_001_234_000_000), "22:13:21");
        assert_eq!(date_time(1_700_000_000_000_000_000), "2023-11-14 22:13:20");
    }

    #[test]
    fn text_is_measured_in_terminal_cells() {
        assert_eq!(width("orders"), 6);
        assert_eq!(width("注文"), 4);
        assert_eq!(width("é"), 1);
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(fit("abc", 0), "");
        // Two cells each: the third would straddle the edge, so it is left out whole.
        assert_eq!(fit("注文サービス", 5), "注文…");
        assert_eq!(fit("注文サービス", 6), "注文…");
        assert_eq!(width(&fit("注文サービス", 6)), 5);
        assert_eq!(pad("注文", 6), "注文  ");
        assert_eq!(pad("orders", 3), "orders");
    }
}
