//! Values as Tempo renders them in answers: Go's `time.Duration` strings and float formatting.

/// `nanos` as Go's `time.Duration.String()` writes it (`1h2m3.5s`, `1.5ms`, `250µs`, `0s`).
pub fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let magnitude = nanos.unsigned_abs();
    if magnitude < 1_000_000_000 {
        let (unit, size) = if magnitude < 1_000 {
            ("ns", 1)
        } else if magnitude < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", fraction(magnitude, size));
    }
    let hours = magnitude / 3_600_000_000_000;
    let minutes = (magnitude / 60_000_000_000) % 60;
    let seconds_nanos = magnitude % 60_000_000_000;
    let mut text = String::from(sign);
    if hours > 0 {
        text.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        text.push_str(&format!("{minutes}m"));
    }
    text.push_str(&fraction(seconds_nanos, 1_000_000_000));
    text.push('s');
    text
}

/// `value / size` in decimal, trailing zeros of the fraction dropped.
fn fraction(value: u64, size: u64) -> String {
    let whole = value / size;
    let rest = value % size;
    if rest == 0 {
        return whole.to_string();
    }
    let digits = size.ilog10() as usize;
    let decimals = format!("{rest:0digits$}");
    format!("{whole}.{}", decimals.trim_end_matches('0'))
}

/// A float as Go's `strconv.FormatFloat(f, 'g', -1, 64)` writes common values.
pub fn go_float(value: f64) -> String {
    if value.is_finite() && value == value.trunc() && value.abs() < 1e21 {
        return format!("{value:.0}");
    }
    let text = format!("{value}");
    if text.contains('e') {
        return text.replace("e", "e+").replace("e+-", "e-");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(500), "500ns");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(go_duration(100_000_000), "100ms");
        assert_eq!(go_duration(1_000_000_000), "1s");
        assert_eq!(go_duration(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(go_duration(120_000_000_000), "2m0s");
        assert_eq!(go_duration(-2_000_000), "-2ms");
    }

    #[test]
    fn floats_read_like_go() {
        assert_eq!(go_float(2.0), "2");
        assert_eq!(go_float(2.5), "2.5");
        assert_eq!(go_float(-0.125), "-0.125");
    }
}
