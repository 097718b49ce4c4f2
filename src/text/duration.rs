//! Durations as users write them in environment variables: `"250ms"`, `"1.5s"`,
//! `"2m"` (the units of `#[iris_test]`'s options: ns, us, ms, s, m, h).
//!
//! Invariant: parsing never panics; every refusal says why in words a user can act
//! on (no unit, not a number, negative, too large).

// Read by the harness's environment variables.
#![cfg_attr(not(feature = "harness"), allow(dead_code))]

use std::time::Duration;

/// Parses `"250ms"`, `"1.5s"`, `"2m"`... into a [`Duration`].
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err("durations cannot be negative".into());
    }
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or("no unit; write a number and a unit, such as \"250ms\" or \"60s\"")?;
    let (number, unit) = trimmed.split_at(split);
    let nanos_per_unit: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        other => {
            return Err(format!(
                "unknown unit {other:?} (units: ns, us, ms, s, m, h)"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{number:?} is not a number"))?;
    let nanos = value * nanos_per_unit;
    if !nanos.is_finite() || nanos >= u64::MAX as f64 {
        return Err("too large".into());
    }
    Ok(Duration::from_nanos(nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_refusals_say_why() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration(" 1.5s "), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("-1s").unwrap_err().contains("negative"));
        assert!(parse_duration("60").unwrap_err().contains("no unit"));
        assert!(parse_duration("5 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration("1e999s").is_err());
        assert!(parse_duration("..s").unwrap_err().contains("not a number"));
    }
}
