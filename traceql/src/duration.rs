//! Duration literals.
//!
//! TraceQL accepts a duration written the Prometheus way (`1h30m`, `2d`, `1w`, `1y`: integer
//! components, units from largest to smallest) and, when that fails, the Go way (`1.5s`,
//! `300us`, `1µs`, `2h45m30.5s`: decimal components, any order). Values are signed 64-bit
//! nanoseconds, so anything above roughly 292 years is out of range.

use std::fmt;

const NANOS_PER_MICRO: i64 = 1_000;
const NANOS_PER_MILLI: i64 = 1_000_000;
const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;
const NANOS_PER_DAY: i64 = 24 * NANOS_PER_HOUR;

/// A signed duration in nanoseconds, as TraceQL duration literals and intrinsics carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    nanos: i64,
}

impl Duration {
    /// A duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: i64) -> Self {
        Self { nanos }
    }

    /// The duration in nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.nanos
    }

    /// The duration in (fractional) seconds, as metrics filters compare it.
    pub fn as_secs_f64(self) -> f64 {
        self.nanos as f64 / NANOS_PER_SECOND as f64
    }

    /// The negated duration (wrapping, like Go's `-1 * d`).
    pub const fn wrapping_neg(self) -> Self {
        Self {
            nanos: self.nanos.wrapping_neg(),
        }
    }

    /// Parses a complete duration literal such as `1h30m` or `1.5s`.
    pub fn parse(text: &str) -> Option<Self> {
        parse_prometheus(text)
            .or_else(|| parse_go(text))
            .map(Self::from_nanos)
    }
}

/// Prints a compound form (`1h30m`, `1s500ms`, `-2m`) that [`Duration::parse`] reads back exactly.
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0s");
        }
        if self.nanos < 0 {
            f.write_str("-")?;
        }
        let mut rest = self.nanos.unsigned_abs();
        let units: [(u64, &str); 6] = [
            (NANOS_PER_HOUR as u64, "h"),
            (NANOS_PER_MINUTE as u64, "m"),
            (NANOS_PER_SECOND as u64, "s"),
            (NANOS_PER_MILLI as u64, "ms"),
            (NANOS_PER_MICRO as u64, "us"),
            (1, "ns"),
        ];
        for (size, suffix) in units {
            let count = rest / size;
            rest %= size;
            if count > 0 {
                write!(f, "{count}{suffix}")?;
            }
        }
        Ok(())
    }
}

fn prometheus_unit(unit: &str) -> Option<(u8, i64)> {
    match unit {
        "y" => Some((1, 365 * NANOS_PER_DAY)),
        "w" => Some((2, 7 * NANOS_PER_DAY)),
        "d" => Some((3, NANOS_PER_DAY)),
        "h" => Some((4, NANOS_PER_HOUR)),
        "m" => Some((5, NANOS_PER_MINUTE)),
        "s" => Some((6, NANOS_PER_SECOND)),
        "ms" => Some((7, NANOS_PER_MILLI)),
        _ => None,
    }
}

/// Prometheus durations: `<int><unit>` repeated, units strictly from largest to smallest.
fn parse_prometheus(text: &str) -> Option<i64> {
    if text == "0" {
        return Some(0);
    }
    if text.is_empty() {
        return None;
    }
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut last_position = 0u8;
    let mut total: i64 = 0;
    while at < bytes.len() {
        let digits_start = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        if at == digits_start {
            return None;
        }
        let value: i64 = text[digits_start..at].parse().ok()?;
        let unit_start = at;
        while at < bytes.len() && !bytes[at].is_ascii_digit() {
            at += 1;
        }
        let (position, size) = prometheus_unit(&text[unit_start..at])?;
        if position <= last_position {
            return None;
        }
        last_position = position;
        total = total.checked_add(value.checked_mul(size)?)?;
    }
    Some(total)
}

fn go_unit(unit: &str) -> Option<u64> {
    match unit {
        "ns" => Some(1),
        "us" | "\u{b5}s" | "\u{3bc}s" => Some(NANOS_PER_MICRO as u64),
        "ms" => Some(NANOS_PER_MILLI as u64),
        "s" => Some(NANOS_PER_SECOND as u64),
        "m" => Some(NANOS_PER_MINUTE as u64),
        "h" => Some(NANOS_PER_HOUR as u64),
        _ => None,
    }
}

/// Go's `time.ParseDuration`: `[-+]?(<decimal><unit>)+`, any unit order.
fn parse_go(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if body == "0" {
        return Some(0);
    }
    if body.is_empty() {
        return None;
    }
    let bytes = body.as_bytes();
    let mut at = 0;
    let mut total: u64 = 0;
    while at < bytes.len() {
        let int_start = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        let int_part = &body[int_start..at];
        let mut frac_part = "";
        if at < bytes.len() && bytes[at] == b'.' {
            at += 1;
            let frac_start = at;
            while at < bytes.len() && bytes[at].is_ascii_digit() {
                at += 1;
            }
            frac_part = &body[frac_start..at];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_start = at;
        while at < bytes.len() && bytes[at] != b'.' && !bytes[at].is_ascii_digit() {
            at += 1;
        }
        let unit = go_unit(&body[unit_start..at])?;
        total = total.checked_add(go_component(int_part, frac_part, unit)?)?;
    }
    if negative {
        if total > i64::MAX as u64 + 1 {
            return None;
        }
        return Some((total as i64).wrapping_neg());
    }
    i64::try_from(total).ok()
}

/// One `<int>.<frac><unit>` component in nanoseconds; fractional digits beyond what the unit
/// can hold are truncated, as Go does.
fn go_component(int_part: &str, frac_part: &str, unit: u64) -> Option<u64> {
    let whole: u64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().ok()?
    };
    let mut nanos = whole.checked_mul(unit)?;
    let mut scale = unit;
    for digit in frac_part.bytes() {
        if scale < 10 {
            break;
        }
        scale /= 10;
        nanos = nanos.checked_add(u64::from(digit - b'0') * scale)?;
    }
    Some(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanos(text: &str) -> Option<i64> {
        Duration::parse(text).map(Duration::as_nanos)
    }

    #[test]
    fn prometheus_units() {
        assert_eq!(nanos("1h30m"), Some(90 * NANOS_PER_MINUTE));
        assert_eq!(nanos("2d"), Some(2 * NANOS_PER_DAY));
        assert_eq!(nanos("1w"), Some(7 * NANOS_PER_DAY));
        assert_eq!(nanos("1y"), Some(365 * NANOS_PER_DAY));
        assert_eq!(nanos("1s500ms"), Some(1_500 * NANOS_PER_MILLI));
    }

    #[test]
    fn go_units() {
        assert_eq!(nanos("1ns"), Some(1));
        assert_eq!(nanos("3us"), Some(3_000));
        assert_eq!(nanos("3µs"), Some(3_000));
        assert_eq!(nanos("3μs"), Some(3_000));
        assert_eq!(nanos("1.5s"), Some(1_500 * NANOS_PER_MILLI));
        assert_eq!(nanos(".5m"), Some(30 * NANOS_PER_SECOND));
        assert_eq!(nanos("1m1h"), Some(61 * NANOS_PER_MINUTE));
        assert_eq!(nanos("1.0000000001s"), Some(NANOS_PER_SECOND));
    }

    #[test]
    fn rejects_malformed_and_out_of_range() {
        for text in [
            "",
            "s",
            "1",
            "1x",
            "1.s.",
            "1d2y",
            "300y",
            "1e3s",
            "9223372037s",
            ".",
        ] {
            assert_eq!(nanos(text), None, "{text}");
        }
        assert_eq!(nanos("0"), Some(0));
    }

    #[test]
    fn display_round_trips() {
        for value in [
            0,
            1,
            999,
            1_000,
            NANOS_PER_SECOND,
            90 * NANOS_PER_MINUTE + 1,
            -NANOS_PER_HOUR,
            i64::MAX,
            -i64::MAX,
        ] {
            let text = Duration::from_nanos(value).to_string();
            let body = text.strip_prefix('-').unwrap_or(&text);
            let parsed = nanos(body).map(|n| if text.starts_with('-') { -n } else { n });
            assert_eq!(parsed, Some(value), "{text}");
        }
        assert_eq!(
            Duration::from_nanos(5_400 * NANOS_PER_SECOND).to_string(),
            "1h30m"
        );
    }
}
