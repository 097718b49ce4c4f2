//! Stress runs and runs under chaos: a test's body again and again in its process,
//! each iteration in a fresh scope with the whole check (leaks, panics, teardown),
//! each under its own chaos seed, until one fails or the count (or the time) is
//! spent. A flake that fails one run in a hundred fails here in the first few
//! hundred iterations, with the line that runs it again.
//!
//! Invariants:
//! 1. An iteration is a whole test: the options are the test's own, cloned, so each
//!    one gets a fresh registry scope and its own verdict.
//! 2. The run stops at the first failing iteration (a panic, a finding, an `Err`),
//!    and the test fails with what that iteration said, after one line naming the
//!    iteration, its seed and what chaos did last, and how to run it again.
//! 3. Only a body that can run again is repeated: `#[iris_test]` makes one for a
//!    test without parameters and without `should_panic`; any other test runs once,
//!    and says so when a stress run was asked for.
//! 4. A passing stress run says so in one line (kept for the end of a libtest run,
//!    as a passing test's warning is); a run of one iteration says nothing.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::process::{ExitCode, Termination};
use std::time::Instant;

use crate::leaks::harness::options::TestOptions;
use crate::leaks::harness::stress::{env_stress, Stress};
use crate::leaks::harness::{alone, chaos};
use crate::leaks::output;

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

    /// The lines that run test `name` again under a stress run `stress` and chaos's
    /// base seed `chaos`, with cargo test and with nextest.
    fn again(&self, name: &str, stress: Stress, chaos: Option<u64>) -> String {
        let selection = self.selection();
        let mut knobs = String::new();
        if let Some(seed) = chaos {
            knobs.push_str(&format!("IRIS_CHAOS={seed:#x} "));
        }
        if stress != Stress::Iterations(1) {
            knobs.push_str(&format!("IRIS_STRESS={stress} "));
        }
        // Under chaos nextest's stress index and attempt are part of each seed:
        // cargo test takes them from the environment too.
        let mut nextest = String::new();
        if chaos.is_some() {
            for (key, first) in [("NEXTEST_STRESS_CURRENT", 0), ("NEXTEST_ATTEMPT", 1)] {
                if let Some(n) = chaos::nextest_number(key).filter(|n| *n > first) {
                    nextest.push_str(&format!("{key}={n} "));
                }
            }
        }
        format!(
            "  {nextest}{knobs}cargo test {selection} -- --exact {name}\n  \
             {knobs}cargo nextest run {selection} -E 'test(={name})'"
        )
    }
}

/// Runs `iteration` as a stress run and chaos ask (once, plainly, without them):
/// what `#[iris_test]` wraps every test without parameters in. Each iteration gets
/// the test's options and its own chaos seed (invariant 1); the first failing one
/// ends the run (invariant 2).
#[doc(hidden)]
pub fn __run_stress<T: Termination>(
    options: TestOptions,
    target: CargoTarget,
    iteration: impl Fn(TestOptions) -> T,
) -> T {
    let stress = env_stress().or(options.stress);
    let base = chaos::base_seed(options.chaos);
    if stress.is_none() && base.is_none() {
        return iteration(options.repeatable());
    }
    let run = Run {
        name: options.name.clone(),
        stress: stress.unwrap_or(Stress::Iterations(1)),
        base,
        started: Instant::now(),
        target,
    };
    let ends = match run.stress {
        Stress::For(time) => run.started.checked_add(time),
        Stress::Iterations(_) => None,
    };
    let mut done: u32 = 0;
    loop {
        done = done.saturating_add(1);
        let last = match run.stress {
            Stress::Iterations(n) => done >= n,
            Stress::For(_) => ends.is_some_and(|end| Instant::now() >= end),
        };
        let mut this = options.clone().repeatable();
        this.chaos_seed = base.map(|base| chaos::iteration_seed(base, &run.name, done));
        match catch_unwind(AssertUnwindSafe(|| iteration(this))) {
            Err(payload) => {
                run.failed(done, "it panicked");
                resume_unwind(payload);
            }
            Ok(value) if last => {
                run.passed(done);
                return value;
            }
            Ok(value) => {
                if value.report() != ExitCode::SUCCESS {
                    run.failed(done, "it returned an error");
                    panic!(
                        "test `{}` failed on iteration {done} of a stress run",
                        run.name
                    );
                }
            }
        }
    }
}

/// A stress run (or a run under chaos) under way, for its words.
struct Run {
    name: String,
    stress: Stress,
    /// The base seed of chaos, if under chaos.
    base: Option<u64>,
    started: Instant,
    target: CargoTarget,
}

impl Run {
    /// The line for a failed iteration `done`, with what chaos did last and the line
    /// that runs it again.
    fn failed(&self, done: u32, why: &str) {
        let name = &self.name;
        let repeated = self.stress != Stress::Iterations(1);
        let under = match (repeated, self.base) {
            (true, None) => format!(
                "its stress run failed on iteration {done}{}",
                of(self.stress)
            ),
            (true, Some(seed)) => format!(
                "its stress run under chaos (seed {seed:#x}) failed on iteration {done}{}",
                of(self.stress)
            ),
            (false, Some(seed)) => format!("it failed under chaos (seed {seed:#x})"),
            (false, None) => "it failed".to_string(),
        };
        let perturbations = chaos::take_last();
        let perturbations = if perturbations.is_empty() {
            String::new()
        } else {
            format!(
                "\n  what Iris did last to its threads, oldest first: {}",
                perturbations.join("; ")
            )
        };
        let schedule = if self.base.is_some() {
            "the same decisions of Iris's, not the same schedule: the operating system's \
             differs from run to run"
        } else {
            "the same iterations, not the same schedule: the operating system's differs \
             from run to run"
        };
        let took = self.started.elapsed();
        // Under chaos: a race, or contention with the tests beside it?
        let alone = match self.base {
            Some(seed) => format!("\n{}", alone::judge(name, seed, done, took).line()),
            None => String::new(),
        };
        output::about_test(&format!(
            "iris: test `{name}`: {under} ({why}, {took:.1?} in){perturbations}{alone}\n  to run \
             it again:\n{}\n  ({schedule})",
            self.target.again(name, self.stress, self.base),
        ));
    }

    /// The line for a run whose iterations all passed (none for a single run).
    fn passed(&self, done: u32) {
        if self.stress == Stress::Iterations(1) {
            return;
        }
        let under = match self.base {
            Some(seed) => format!(" under chaos (seed {seed:#x})"),
            None => String::new(),
        };
        output::after_the_run(&format!(
            "iris: test `{}`: {done} iterations{under}, no failure, {:.1?}",
            self.name,
            self.started.elapsed()
        ));
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
    fn the_line_that_runs_a_test_again_names_its_target_for_both_runners() {
        let integration = CargoTarget {
            package: "store",
            crate_name: "cache",
            integration: true,
            bin: None,
        };
        assert_eq!(
            integration.again("fills::once", Stress::Iterations(20), None),
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
