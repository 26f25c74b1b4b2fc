//! Numbers and times as the screens print them: durations to three significant digits
//! (`1.24s`, `350ms`), clock times in UTC, byte sizes, counts.

/// A duration in nanoseconds, to three significant digits: `1.24s`, `12.5ms`, `350ms`,
/// `45s`, `1m05s`, `2h03m`, `0s`.
pub fn dur(ns: u64) -> String {
    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
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

/// `text` cut to `width` characters, with `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut s: String = text.chars().take(width - 1).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_three_digits() {
        assert_eq!(dur(1_240_000_000), "1.24s");
        assert_eq!(dur(1_200_000_000), "1.2s");
        assert_eq!(dur(350_000_000), "350ms");
        assert_eq!(dur(12_500_000), "12.5ms");
        assert_eq!(dur(45_000_000_000), "45s");
        assert_eq!(dur(65_000_000_000), "1m05s");
        assert_eq!(dur(7_380_000_000_000), "2h03m");
        assert_eq!(dur(20_000), "20µs");
        assert_eq!(dur(7), "7ns");
        assert_eq!(dur(0), "0s");
    }

    #[test]
    fn clocks_and_sizes() {
        assert_eq!(clock_ms(1_700_000_001_234_000_000), "22:13:21.234");
        assert_eq!(date_time(1_700_000_000_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5KiB");
        assert_eq!(bytes(1 << 30), "1GiB");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
    }
}
