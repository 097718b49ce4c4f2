//! Durations as users write them in environment variables: `"250ms"`, `"1.5s"`,
//! `"2m"`, parsed by `iris-text`, the parser `#[iris_test]`'s options use too, so
//! that a duration reads the same everywhere.
//!
//! Invariant: parsing never panics; every refusal says why in words a user can act
//! on (no unit, not a number, negative, too large), then how to write one.

use std::time::Duration;

/// Parses `"250ms"`, `"1.5s"`, `"2m"`... into a [`Duration`]; a refusal says why and
/// how to write one (the text itself is the caller's to quote).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    iris_text::parse_duration(text).map_err(|error| {
        format!(
            "{}; write a number and a unit, such as \"250ms\" or \"60s\" (units: ns, us, ms, s, m, h)",
            error.why()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_says_why_and_how_without_repeating_the_text() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        let why = parse_duration("5sec").unwrap_err();
        assert!(
            why.starts_with("unknown unit \"sec\"; write a number"),
            "{why}"
        );
        assert!(parse_duration("60").unwrap_err().starts_with("no unit"));
    }
}
