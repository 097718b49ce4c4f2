//! Race or contention: a test that failed under chaos beside other tests (a shared
//! `cargo test` process) is run again alone, in a child process of the same test
//! binary, with the same base seed and as many iterations: failing again alone, it
//! is a race in the code or the test; passing, it failed only beside other tests
//! (contention for the machine or for something they share).
//!
//! Invariants:
//! 1. The child runs only the failed test (`--exact`, one test thread), with the
//!    same `IRIS_CHAOS` seed and `IRIS_STRESS` up to the failing iteration, and
//!    never reruns itself (`IRIS_ALONE` is set in it).
//! 2. Its wait is bounded: three times what the run took, at least 30 s; a child
//!    still running then is killed and the answer is "not known".
//! 3. Where the test already ran alone (nextest, one test thread), no child is
//!    made: the answer is known.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::leaks::output::{self, Runner};
use crate::sync::deadline::Deadline;

/// What running the failed test alone said.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Alone {
    /// It ran alone already, or failed again alone: a race.
    Race { ran_alone: bool },
    /// Alone, it passed: it fails only beside other tests.
    Contention,
    /// The child could not run or did not end in time.
    NotKnown(String),
}

impl Alone {
    /// The report's line.
    pub(crate) fn line(&self) -> String {
        match self {
            Alone::Race { ran_alone: true } => {
                "  it ran alone in its process: a race in the code or the \
                 test, not contention"
                    .to_string()
            }
            Alone::Race { ran_alone: false } => {
                "  run again alone (the same seed and iterations, one \
                 test): it failed again: a race in the code or the test, not contention"
                    .to_string()
            }
            Alone::Contention => "  run again alone (the same seed and iterations, one test): it \
                 passed: it fails only beside other tests (contention for the machine or \
                 for something they share)"
                .to_string(),
            Alone::NotKnown(why) => format!("  not run again alone: {why}"),
        }
    }
}

/// Whether test `name`, failed on iteration `iteration` under base seed `seed`
/// after `took`, fails alone (invariants 1 to 3).
pub(crate) fn judge(name: &str, seed: u64, iteration: u32, took: Duration) -> Alone {
    if output::runner() != Runner::Shared {
        return Alone::Race { ran_alone: true };
    }
    if std::env::var_os("IRIS_ALONE").is_some() {
        return Alone::Race { ran_alone: true };
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => return Alone::NotKnown(format!("no test binary to run ({error})")),
    };
    let child = Command::new(exe)
        .args(["--exact", name, "--include-ignored", "--test-threads=1"])
        .env("IRIS_CHAOS", format!("{seed:#x}"))
        .env("IRIS_STRESS", iteration.to_string())
        .env("IRIS_ALONE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => return Alone::NotKnown(format!("the test binary did not start ({error})")),
    };
    let deadline = Deadline::after(took.saturating_mul(3).max(Duration::from_secs(30)));
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Alone::Contention,
            Ok(Some(_)) => return Alone::Race { ran_alone: false },
            Ok(None) if deadline.is_expired() => {
                let _ = child.kill();
                let _ = child.wait();
                return Alone::NotKnown("alone, it was still running at its deadline".into());
            }
            Ok(None) => deadline.sleep_at_most(Duration::from_millis(10)),
            Err(error) => {
                return Alone::NotKnown(format!("its child could not be waited for ({error})"))
            }
        }
    }
}
