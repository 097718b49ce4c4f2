//! Stress runs: a test's body again and again in its process, each iteration in a
//! fresh scope with the whole check (leaks, panics, teardown), until one fails or the
//! count (or the time) is spent. A flake that fails one run in a hundred fails here
//! in the first few hundred iterations, with the line that runs it again.
//!
//! Invariants:
//! 1. An iteration is a whole test: the options are the test's own, cloned, so each
//!    one gets a fresh registry scope and its own verdict.
//! 2. The run stops at the first failing iteration (a panic, a finding, an `Err`),
//!    and the test fails with what that iteration said, after one line naming the
//!    iteration and how to run it again.
//! 3. Only a body that can run again is repeated: `#[iris_test]` makes one for a
//!    test without parameters and without `should_panic`; any other test runs once,
//!    and says so when a stress run was asked for.
//! 4. A passing stress run says so in one line (kept for the end of a libtest run,
//!    as a passing test's warning is); a run of one iteration says nothing.

use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::process::{ExitCode, Termination};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::leaks::harness::options::TestOptions;
use crate::leaks::output;

/// How long a stress run goes on: a number of iterations, or a time.
///
/// Set with [`TestOptions::stress`], `#[iris_test(stress = 200)]` or
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
    *STRESS.get_or_init(|| {
        let text = std::env::var("IRIS_STRESS").ok()?;
        match text.parse() {
            Ok(stress) => Some(stress),
            Err(why) => {
                output::bad_knob(
                    "IRIS_STRESS",
                    &text,
                    &why,
                    "running each test as its options say",
                );
                None
            }
        }
    })
}

/// The cargo target a test is built in, for the line that runs it again: written by
/// `#[iris_test]` in the user's crate (`iris::__cargo_target!()`).
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct CargoTarget {
    /// `CARGO_PKG_NAME`.
    pub package: &'static str,
    /// `CARGO_CRATE_NAME`: the test target's name, `-` written `_`.
    pub crate_name: &'static str,
    /// `CARGO_TARGET_TMPDIR` is set: an integration test (or bench).
    pub integration: bool,
    /// `CARGO_BIN_NAME`: a binary's own tests.
    pub bin: Option<&'static str>,
}

impl CargoTarget {
    /// The cargo arguments that select it: `-p store --test cache`.
    fn selection(&self) -> String {
        let target = match (self.integration, self.bin) {
            (true, _) => format!("--test {}", self.crate_name),
            (false, Some(bin)) => format!("--bin {bin}"),
            (false, None) => "--lib".to_string(),
        };
        format!("-p {} {target}", self.package)
    }

    /// The lines that run test `name` again under a stress run `stress`, with
    /// cargo test and with nextest.
    fn again(&self, name: &str, stress: Stress) -> String {
        let selection = self.selection();
        format!(
            "  IRIS_STRESS={stress} cargo test {selection} -- --exact {name}\n  \
             IRIS_STRESS={stress} cargo nextest run {selection} -E 'test(={name})'"
        )
    }
}

/// Runs `iteration` as a stress run asks (once without one): what `#[iris_test]`
/// wraps every test without parameters in. Each iteration gets the test's options
/// (invariant 1); the first failing one ends the run (invariant 2).
#[doc(hidden)]
pub fn __run_stress<T: Termination>(
    options: TestOptions,
    target: CargoTarget,
    iteration: impl Fn(TestOptions) -> T,
) -> T {
    let Some(stress) = env_stress().or(options.stress) else {
        return iteration(options.repeatable());
    };
    if stress == Stress::Iterations(1) {
        return iteration(options.repeatable());
    }
    let name = options.name.clone();
    let started = Instant::now();
    let ends = match stress {
        Stress::For(time) => started.checked_add(time),
        Stress::Iterations(_) => None,
    };
    let mut done: u32 = 0;
    loop {
        done = done.saturating_add(1);
        let last = match stress {
            Stress::Iterations(n) => done >= n,
            Stress::For(_) => ends.is_some_and(|end| Instant::now() >= end),
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| iteration(options.clone().repeatable())));
        let failed = |why: &str| {
            output::about_test(&format!(
                "iris: test `{name}`: its stress run failed on iteration {done}{} ({why}, \
                 {:.1?} in); to run it again:\n{}\n  (the same iterations, not the same \
                 schedule: the operating system's differs from run to run)",
                of(stress),
                started.elapsed(),
                target.again(&name, stress),
            ));
        };
        match outcome {
            Err(payload) => {
                failed("it panicked");
                resume_unwind(payload);
            }
            Ok(value) if last => {
                output::after_the_run(&format!(
                    "iris: test `{name}`: {done} iterations, no failure, {:.1?}",
                    started.elapsed()
                ));
                return value;
            }
            Ok(value) => {
                if value.report() != ExitCode::SUCCESS {
                    failed("it returned an error");
                    panic!("test `{name}` failed on iteration {done} of a stress run");
                }
            }
        }
    }
}

/// `" of 200"`, or `" of a 30s run"`.
fn of(stress: Stress) -> String {
    match stress {
        Stress::Iterations(n) => format!(" of {n}"),
        Stress::For(_) => format!(" of a {stress} run"),
    }
}

/// The line for a test asked to run under stress that cannot be repeated
/// (invariant 3), once per test.
pub(crate) fn ran_once(options: &TestOptions) {
    if options.repeatable || (env_stress().is_none() && options.stress.is_none()) {
        return;
    }
    output::after_the_run(&format!(
        "iris: test `{}` ran once under a stress run: only a test without parameters and \
         without `should_panic` is repeated (an rstest case's values are moved into its body)",
        options.name
    ));
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

    #[test]
    fn the_line_that_runs_a_test_again_names_its_target_for_both_runners() {
        let integration = CargoTarget {
            package: "store",
            crate_name: "cache",
            integration: true,
            bin: None,
        };
        assert_eq!(
            integration.again("fills::once", Stress::Iterations(20)),
            "  IRIS_STRESS=20 cargo test -p store --test cache -- --exact fills::once\n  \
             IRIS_STRESS=20 cargo nextest run -p store --test cache -E 'test(=fills::once)'"
        );
        let lib = CargoTarget {
            integration: false,
            ..integration
        };
        assert!(lib.selection().ends_with("-p store --lib"));
        let bin = CargoTarget {
            bin: Some("store-cli"),
            ..lib
        };
        assert!(bin.selection().ends_with("-p store --bin store-cli"));
    }
}
