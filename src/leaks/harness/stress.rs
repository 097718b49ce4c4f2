//! How long a stress run goes on ([`Stress`]): a number of iterations or a time,
//! from the test's options or `IRIS_STRESS`. The run itself is `repeat.rs`'s.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use crate::leaks::output;

/// How long a stress run goes on: a number of iterations, or a time.
///
/// Set with [`TestOptions::stress`](crate::TestOptions::stress), `#[iris_test(stress = 200)]` or
/// `#[iris_test(stress = "30s")]`, or for a whole run with `IRIS_STRESS=200` or
/// `IRIS_STRESS=30s` (which wins over the test's own).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use iris::Stress;
///
/// assert_eq!(Stress::from(200), Stress::Iterations(200));
/// assert_eq!(Stress::from(Duration::from_secs(30)), Stress::For(Duration::from_secs(30)));
/// assert_eq!("30s".parse::<Stress>(), Ok(Stress::For(Duration::from_secs(30))));
/// assert!("0".parse::<Stress>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stress {
    /// This many iterations (one runs the test once, as without a stress run).
    Iterations(u32),
    /// Iterations until this much time has passed (at least one; `Duration::MAX`:
    /// until one fails).
    For(Duration),
}

impl From<u32> for Stress {
    fn from(iterations: u32) -> Stress {
        Stress::Iterations(iterations)
    }
}

impl From<Duration> for Stress {
    fn from(time: Duration) -> Stress {
        Stress::For(time)
    }
}

impl std::str::FromStr for Stress {
    type Err = String;

    /// `"200"` (iterations) or a duration (`"30s"`, `"1m"`), as `IRIS_STRESS` takes.
    fn from_str(text: &str) -> Result<Stress, String> {
        let text = text.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<u32>() {
                Ok(0) => Err("0 iterations would run nothing: give 1 or more".to_string()),
                Ok(n) => Ok(Stress::Iterations(n)),
                Err(_) => Err(format!("at most {} iterations", u32::MAX)),
            };
        }
        match crate::text::duration::parse_duration(text) {
            Ok(time) if time.is_zero() => {
                Err("a stress run of no time would run nothing: give a time such as \"30s\"".into())
            }
            Ok(time) => Ok(Stress::For(time)),
            Err(_) => Err(
                "a stress run is a number of iterations, such as 200, or a time, such as \"30s\""
                    .into(),
            ),
        }
    }
}

impl fmt::Display for Stress {
    /// As `IRIS_STRESS` takes it back: `200`, `30s`, `1500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stress::Iterations(n) => write!(f, "{n}"),
            Stress::For(time) if time.subsec_nanos() == 0 => write!(f, "{}s", time.as_secs()),
            Stress::For(time) if time.subsec_nanos() % 1_000_000 == 0 => {
                write!(f, "{}ms", time.as_millis())
            }
            // Beyond what fits in u64 nanoseconds (`Duration::MAX`): whole seconds.
            Stress::For(time) => match u64::try_from(time.as_nanos()) {
                Ok(nanos) => write!(f, "{nanos}ns"),
                Err(_) => write!(f, "{}s", time.as_secs()),
            },
        }
    }
}

/// `IRIS_STRESS`, read once (`None`: unset; a bad value is one line at once, and the
/// tests run as without it).
pub(crate) fn env_stress() -> Option<Stress> {
    static STRESS: OnceLock<Option<Stress>> = OnceLock::new();
    *STRESS
        .get_or_init(|| output::parsed_knob("IRIS_STRESS", "running each test as its options say"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iris_stress_takes_a_count_or_a_time_and_says_what_is_wrong() {
        assert_eq!("20".parse(), Ok(Stress::Iterations(20)));
        assert_eq!(" 1 ".parse(), Ok(Stress::Iterations(1)));
        assert_eq!("30s".parse(), Ok(Stress::For(Duration::from_secs(30))));
        assert_eq!("1m".parse(), Ok(Stress::For(Duration::from_secs(60))));
        for (text, says) in [
            ("0", "0 iterations would run nothing"),
            ("0s", "of no time would run nothing"),
            ("-1", "a number of iterations"),
            ("garbage", "a number of iterations"),
            ("", "a number of iterations"),
            ("99999999999999999999", "at most 4294967295 iterations"),
        ] {
            let error = text.parse::<Stress>().expect_err(text);
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn a_stress_run_is_written_as_iris_stress_reads_it_back() {
        for stress in [
            Stress::Iterations(20),
            Stress::For(Duration::from_secs(30)),
            Stress::For(Duration::from_millis(1500)),
            Stress::For(Duration::from_nanos(7)),
            Stress::For(Duration::MAX),
        ] {
            let written = stress.to_string();
            let read: Result<Stress, String> = written.parse();
            if stress == Stress::For(Duration::MAX) {
                // Its whole seconds: "until one fails" either way.
                assert_eq!(read, Ok(Stress::For(Duration::from_secs(u64::MAX))));
            } else {
                assert_eq!(read, Ok(stress), "{written}");
            }
        }
    }
}
