//! Numbers and times as the screens print them: durations to three significant digits
//! (`1.24s`, `350ms`), clock times in UTC, byte sizes, counts, text cut to a width in
//! terminal cells. Each delegates to the formatting kit ([`hopscope_collector::format`]),
//! which the text report and the command line use too, so a value reads the same everywhere.

use hopscope_collector::format;

/// A duration in nanoseconds, to three significant digits: `1.24s`, `12.5ms`, `350ms`,
/// `45s`, `1m05s`, `2h03m`, `0s`.
pub fn dur(ns: u64) -> String {
    format::duration(ns)
}

/// Unix nanoseconds as a UTC time of day with milliseconds: `13:14:15.678`.
pub fn clock_ms(unix_nano: u64) -> String {
    format::clock_ms(unix_nano)
}

/// Unix nanoseconds as a UTC time of day: `13:14:15`.
pub fn clock(unix_nano: u64) -> String {
    format::clock(unix_nano)
}

/// Unix nanoseconds as a UTC date and time: `2023-11-14 22:13:20`.
pub fn date_time(unix_nano: u64) -> String {
    format::date_time(unix_nano)
}

/// Bytes with a binary unit: `512B`, `1.5KiB`, `12MiB`, `1GiB`.
pub fn bytes(n: u64) -> String {
    format::bytes(n)
}

/// A count, shortened past ten thousand: `950`, `9999`, `12.3k`, `1.2M`.
pub fn count(n: u64) -> String {
    format::count(n)
}

/// A rate per second, per minute below one a second: `12/s`, `2.5/s`, `30/min`, `0.5/min`.
pub fn rate(per_s: f64) -> String {
    if per_s >= 10.0 {
        format!("{per_s:.0}/s")
    } else if per_s >= 1.0 {
        format!("{per_s:.1}/s")
    } else if per_s * 60.0 >= 10.0 {
        format!("{:.0}/min", per_s * 60.0)
    } else {
        format!("{:.1}/min", per_s * 60.0)
    }
}

/// A share (0 to 1) as a percentage: `0%`, `25%`, `<1%`.
pub fn percent(share: f64) -> String {
    if share > 0.0 && share < 0.01 { "<1%".to_owned() } else { format!("{:.0}%", share * 100.0) }
}

/// `text` cut to `width` terminal cells (a CJK character takes two), with `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    format::fit(text, width)
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
        assert_eq!(rate(12.3), "12/s");
        assert_eq!(rate(2.54), "2.5/s");
        assert_eq!(rate(0.5), "30/min");
        assert_eq!(rate(0.01), "0.6/min");
        assert_eq!(percent(0.25), "25%");
        assert_eq!(percent(0.001), "<1%");
        assert_eq!(percent(0.0), "0%");
    }
}
