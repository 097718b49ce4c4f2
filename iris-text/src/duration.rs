//! Durations as users write them: a number and a unit, `"250ms"`, `"1.5s"`, `"2m"`.
//!
//! Invariants:
//! - Parsing never panics, and every refusal says why in words a user can act on
//!   (no unit, not a number, negative, too large), then how to write one.
//! - Every duration up to [`Duration::MAX`] can be written; `"0s"` is
//!   [`Duration::ZERO`]. Whether zero means anything for an option is the option's
//!   to say.

use std::fmt;
use std::time::Duration;

/// The units, each with its length in nanoseconds, as a duration names them.
pub const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("min", 60 * NANOS_PER_SEC),
    ("h", 3600 * NANOS_PER_SEC),
];

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Why a text is no duration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationError {
    text: String,
    why: String,
}

impl DurationError {
    /// Why, alone (`unknown unit "parsecs" (units: ns, us, ms, s, m, h)`).
    pub fn why(&self) -> &str {
        &self.why
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid duration {:?}: {}; write a number and a unit, such as \"250ms\" or \"5s\" \
             (units: ns, us, ms, s, m, h)",
            self.text, self.why
        )
    }
}

impl std::error::Error for DurationError {}

/// Parses `"250ms"`, `" 1.5s "`, `"2m"`... into a [`Duration`].
///
/// ```
/// use std::time::Duration;
/// assert_eq!(iris_text::parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// let error = iris_text::parse_duration("5 parsecs").unwrap_err();
/// assert!(error.to_string().contains("unknown unit \"parsecs\""));
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let refuse = |why: String| DurationError {
        text: text.to_string(),
        why,
    };
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(refuse("durations cannot be negative".into()));
    }
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| refuse("no unit".into()))?;
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim();
    let unit_nanos = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, nanos)| *nanos)
        .ok_or_else(|| refuse(format!("unknown unit {unit:?}")))?;
    if number.is_empty() {
        return Err(refuse("no number".into()));
    }
    let not_a_number = || refuse(format!("{number:?} is not a number"));
    let too_large = || refuse("too large".into());
    // A whole number is counted exactly, so that every duration up to
    // `Duration::MAX` can be written (a float rounds `u64::MAX` seconds up, past it).
    if number.bytes().all(|b| b.is_ascii_digit()) {
        let whole: u128 = number.parse().map_err(|_| too_large())?;
        let nanos = whole
            .checked_mul(u128::from(unit_nanos))
            .ok_or_else(too_large)?;
        let seconds = u64::try_from(nanos / u128::from(NANOS_PER_SEC)).map_err(|_| too_large())?;
        let below = (nanos % u128::from(NANOS_PER_SEC)) as u32;
        return Ok(Duration::new(seconds, below));
    }
    let value: f64 = number.parse().map_err(|_| not_a_number())?;
    let unit_seconds = unit_nanos as f64 / NANOS_PER_SEC as f64;
    Duration::try_from_secs_f64(value * unit_seconds).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_refusals_say_why() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration(" 1.5s "), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("10ns"), Ok(Duration::from_nanos(10)));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        let why = |text: &str| parse_duration(text).unwrap_err().why().to_string();
        assert_eq!(why("-1s"), "durations cannot be negative");
        assert_eq!(why("60"), "no unit");
        assert_eq!(why("ms"), "no number");
        assert_eq!(why(""), "no unit");
        assert_eq!(why("5 parsecs"), "unknown unit \"parsecs\"");
        assert_eq!(why("1e999s"), "unknown unit \"e999s\"");
        assert_eq!(why("..s"), "\"..\" is not a number");
        assert_eq!(why("99999999999999999999999h"), "too large");
        let message = parse_duration("5sec").unwrap_err().to_string();
        assert_eq!(
            message,
            "invalid duration \"5sec\": unknown unit \"sec\"; write a number and a unit, \
             such as \"250ms\" or \"5s\" (units: ns, us, ms, s, m, h)"
        );
    }

    #[test]
    fn every_duration_up_to_the_largest_can_be_written() {
        let largest = parse_duration(&format!("{}s", u64::MAX)).unwrap();
        assert_eq!(largest, Duration::from_secs(u64::MAX));
        assert_eq!(
            parse_duration(&format!(
                "{}ns",
                u128::from(u64::MAX) * 1_000_000_000 + 999_999_999
            )),
            Ok(Duration::MAX)
        );
        assert_eq!(
            parse_duration(&format!("{}s", u128::from(u64::MAX) + 1))
                .unwrap_err()
                .why(),
            "too large"
        );
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("3us"), Ok(Duration::from_micros(3)));
    }
}
