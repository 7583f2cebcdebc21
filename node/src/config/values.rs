//! Value helpers shared by the configuration types: Go-style durations, lenient strings
//! and "null means default" sections.

use std::fmt::{self, Write as _};
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serializer};

const NANOS_PER_SECOND: u128 = 1_000_000_000;
const NANOS_PER_MINUTE: u128 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: u128 = 60 * NANOS_PER_MINUTE;

/// Units accepted in durations, with their length in nanoseconds. Go's `time.ParseDuration`
/// units plus `d` and `w`, which Tempo accepts in Prometheus-style duration fields.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", NANOS_PER_SECOND),
    ("m", NANOS_PER_MINUTE),
    ("h", NANOS_PER_HOUR),
    ("d", 24 * NANOS_PER_HOUR),
    ("w", 7 * 24 * NANOS_PER_HOUR),
];

/// Fraction digits beyond this are ignored (they are below nanosecond precision anyway).
const MAX_FRACTION_DIGITS: usize = 18;

/// Parses a Go-style duration such as `5s`, `1h30m`, `500ms` or `1.5h`.
///
/// A bare `0` is accepted, as in Go. Negative durations are rejected (except `-0s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let unsigned = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let Some(negative) = unsigned.strip_prefix('-') else {
        return parse_unsigned(unsigned)
            .map_err(|reason| format!("invalid duration {text:?}: {reason}"));
    };
    match parse_unsigned(negative) {
        Ok(value) if value.is_zero() => Ok(Duration::ZERO),
        Ok(_) => Err(format!(
            "invalid duration {text:?}: negative durations are not allowed"
        )),
        Err(reason) => Err(format!("invalid duration {text:?}: {reason}")),
    }
}

/// Parses a duration without a sign.
fn parse_unsigned(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("empty duration".to_string());
    }
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after_number) = rest.split_at(number_len);
        if number.is_empty() {
            return Err(format!("expected a number at {rest:?}"));
        }
        let unit_len = after_number
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!(
                "missing unit after {number} (use ns, us, ms, s, m, h)"
            ));
        }
        let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(format!(
                "unknown unit {unit:?} (use ns, us, ms, s, m, h, d, w)"
            ));
        };
        let part = scaled(number, scale)?;
        total = total.checked_add(part).ok_or("duration is too large")?;
        rest = after_unit;
    }
    let seconds = u64::try_from(total / NANOS_PER_SECOND).map_err(|_| "duration is too large")?;
    let nanos = u32::try_from(total % NANOS_PER_SECOND).map_err(|_| "duration is too large")?;
    Ok(Duration::new(seconds, nanos))
}

/// Multiplies a decimal number (digits with at most one `.`) by `scale` nanoseconds.
fn scaled(number: &str, scale: u128) -> Result<u128, String> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
        return Err(format!("malformed number {number:?}"));
    }
    let whole_value: u128 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| format!("number {whole:?} is too large"))?
    };
    let whole_nanos = whole_value
        .checked_mul(scale)
        .ok_or("duration is too large")?;
    let digits = &fraction[..fraction.len().min(MAX_FRACTION_DIGITS)];
    if digits.is_empty() {
        return Ok(whole_nanos);
    }
    let numerator: u128 = digits
        .parse()
        .map_err(|_| format!("malformed fraction {fraction:?}"))?;
    let exponent = u32::try_from(digits.len()).map_err(|_| "fraction is too long")?;
    let fraction_nanos = numerator * scale / 10u128.pow(exponent);
    whole_nanos
        .checked_add(fraction_nanos)
        .ok_or_else(|| "duration is too large".to_string())
}

/// Formats a duration the way Go's `time.Duration.String` does: `0s`, `500ms`, `5s`, `30m0s`, `1h30m0s`.
pub fn format_duration(value: Duration) -> String {
    let nanos = value.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", decimal(nanos, 1_000));
    }
    if nanos < NANOS_PER_SECOND {
        return format!("{}ms", decimal(nanos, 1_000_000));
    }
    let hours = nanos / NANOS_PER_HOUR;
    let minutes = (nanos % NANOS_PER_HOUR) / NANOS_PER_MINUTE;
    let second_nanos = nanos % NANOS_PER_MINUTE;
    let mut out = String::new();
    if hours > 0 {
        let _ = write!(out, "{hours}h");
    }
    if hours > 0 || minutes > 0 {
        let _ = write!(out, "{minutes}m");
    }
    let _ = write!(out, "{}s", decimal(second_nanos, NANOS_PER_SECOND));
    out
}

/// Renders `value / unit` with the fraction's trailing zeros trimmed.
fn decimal(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let fraction = value % unit;
    if fraction == 0 {
        return whole.to_string();
    }
    let width = unit.to_string().len() - 1;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Serde adapter for `std::time::Duration` fields written as Go-style duration strings.
pub mod go_duration {
    use super::*;

    /// Serializes as a Go-style duration string.
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(*value))
    }

    /// Deserializes from a Go-style duration string (or the integer `0`).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

/// Serde adapter for optional durations (`null` or absent means `None`).
pub mod opt_go_duration {
    use super::*;

    /// Serializes `Some` as a Go-style duration string and `None` as null.
    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => serializer.serialize_str(&format_duration(*duration)),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes null as `None`, anything else as a duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        deserializer.deserialize_any(OptionalDurationVisitor)
    }
}

/// Visitor accepting duration strings and the number zero.
struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a duration such as \"5s\", \"30m\" or \"1h30m\"")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Duration, E> {
        parse_duration(value).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Duration, E> {
        if value == 0 {
            return Ok(Duration::ZERO);
        }
        Err(E::custom(format!(
            "invalid duration {value}: a unit is required, e.g. \"{value}s\""
        )))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Duration, E> {
        if value == 0 {
            return Ok(Duration::ZERO);
        }
        Err(E::custom(format!(
            "invalid duration {value}: a unit is required, e.g. \"{value}s\""
        )))
    }
}

/// Visitor for optional durations.
struct OptionalDurationVisitor;

impl Visitor<'_> for OptionalDurationVisitor {
    type Value = Option<Duration>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a duration such as \"5s\" or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        DurationVisitor.visit_str(value).map(Some)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        DurationVisitor.visit_u64(value).map(Some)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        DurationVisitor.visit_i64(value).map(Some)
    }
}

/// Visitor turning any scalar into its text; null becomes `None`.
struct LenientStringVisitor;

impl Visitor<'_> for LenientStringVisitor {
    type Value = Option<String>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }
}

/// Deserializes a string, also accepting numbers and booleans (`version: 1` → `"1"`) and
/// treating null as the empty string.
pub fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = deserializer.deserialize_any(LenientStringVisitor)?;
    Ok(value.unwrap_or_default())
}

/// Like [`lenient_string`] but null (or absent) means `None`.
pub fn lenient_opt_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    deserializer.deserialize_any(LenientStringVisitor)
}

/// Deserializes a section, treating an explicit null (`ingester:` with nothing under it) as
/// "all defaults", like Tempo's YAML loader does.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    let value = Option::<T>::deserialize(deserializer)?;
    Ok(value.unwrap_or_default())
}
