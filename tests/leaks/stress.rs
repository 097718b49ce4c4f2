//! Stress runs end to end: each scenario of `scenarios/stress.rs` in a child
//! process, read as the user reads it.

use crate::scenario::run;

#[test]
fn a_thread_leaked_on_the_seventh_iteration_only_fails_that_iteration() {
    let (passed, out) = run("stress::leaks_on_iteration_7", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::stress::leaks_on_iteration_7` leaked 1 thread(s)"),
        "{out}"
    );
    assert!(out.contains("\"seventh\""), "{out}");
    assert!(
        out.contains(
            "iris: test `scenarios::stress::leaks_on_iteration_7`: its stress run failed on \
             iteration 7 of 20 (it panicked"
        ),
        "{out}"
    );
    // The line that runs it again, for both runners.
    assert!(
        out.contains(
            "  IRIS_STRESS=20 cargo test -p iris --test leaks -- --exact \
             scenarios::stress::leaks_on_iteration_7\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "  IRIS_STRESS=20 cargo nextest run -p iris --test leaks \
             -E 'test(=scenarios::stress::leaks_on_iteration_7)'"
        ),
        "{out}"
    );
    // The run stopped there.
    assert!(out.contains("iteration 7 ran"), "{out}");
    assert!(!out.contains("iteration 8 ran"), "{out}");
    assert!(!out.contains("no failure"), "{out}");
}

#[test]
fn a_passing_stress_run_says_how_many_iterations_in_one_line() {
    for owns_process in [true, false] {
        let (passed, out) = run("stress::passes_every_iteration", owns_process, &[]);
        assert!(passed, "{out}");
        assert_eq!(
            out.matches("iris: test `scenarios::stress::passes_every_iteration`: 5 iterations, no failure, ")
                .count(),
            1,
            "{out}"
        );
    }
}

#[test]
fn an_error_returned_on_one_iteration_fails_the_run_there() {
    let (passed, out) = run("stress::errs_on_iteration_3", true, &[]);
    assert!(!passed, "{out}");
    assert!(out.contains("Error: \"the third time\""), "{out}");
    assert!(
        out.contains("its stress run failed on iteration 3 of 10 (it returned an error"),
        "{out}"
    );
}

#[test]
fn iris_stress_makes_any_test_a_stress_run() {
    let (passed, out) = run(
        "stress::panics_on_iteration_4",
        false,
        &[("IRIS_STRESS", "6")],
    );
    assert!(!passed, "{out}");
    assert!(out.contains("a race lost on the fourth try"), "{out}");
    assert!(
        out.contains("its stress run failed on iteration 4 of 6 (it panicked"),
        "{out}"
    );
    assert!(
        out.contains("  IRIS_STRESS=6 cargo test -p iris --test leaks"),
        "{out}"
    );
    // A time instead of a count: the iterations that fit in it.
    let (passed, out) = run(
        "stress::panics_on_iteration_4",
        false,
        &[("IRIS_STRESS", "10m")],
    );
    assert!(!passed, "{out}");
    assert!(
        out.contains("its stress run failed on iteration 4 of a 600s run (it panicked"),
        "{out}"
    );
    assert!(out.contains("  IRIS_STRESS=600s cargo test"), "{out}");
}

#[test]
fn a_bad_iris_stress_is_one_line_and_the_tests_own_options_stand() {
    for bad in ["garbage", "-1", "0", "99999999999999999999"] {
        let (passed, out) = run(
            "stress::passes_every_iteration",
            true,
            &[("IRIS_STRESS", bad)],
        );
        assert!(passed, "{bad}: {out}");
        assert_eq!(
            out.matches(&format!("iris: ignoring IRIS_STRESS={bad:?}: "))
                .count(),
            1,
            "{bad}: {out}"
        );
        assert!(
            out.contains("running each test as its options say"),
            "{out}"
        );
        assert!(out.contains("5 iterations, no failure"), "{bad}: {out}");
    }
}

#[test]
fn a_should_panic_test_runs_once_and_says_so() {
    let (passed, out) = run("stress::should_panic_runs_once", true, &[]);
    assert!(passed, "{out}");
    assert!(
        out.contains(
            "iris: test `scenarios::stress::should_panic_runs_once` ran once under a stress run"
        ),
        "{out}"
    );
}

#[cfg(feature = "tokio")]
#[test]
fn an_async_test_is_repeated_as_a_sync_one_is() {
    let (passed, out) = run("stress::async_passes_every_iteration", true, &[]);
    assert!(passed, "{out}");
    assert!(out.contains("3 iterations, no failure"), "{out}");
}

/// A race a single plain run never shows, found under chaos with its seed, what
/// Iris did, and a line that fails again.
// Chaos holds threads at their start where thread tracking interposes
// `pthread_create` (Linux, the default feature).
#[cfg(all(target_os = "linux", feature = "thread-tracking"))]
#[test]
fn a_planted_race_is_found_under_chaos_and_its_line_fails_again() {
    let test = "scenarios::stress::assumes_its_worker_started";
    let (passed, out) = run(
        "stress::assumes_its_worker_started",
        true,
        &[("IRIS_STRESS", "1")],
    );
    assert!(passed, "a plain run passes: {out}");
    // Seed 1 holds the worker back 69.5 ms on the first iteration: twice the
    // 50 ms the test waits, whatever the load.
    let chaos = [("IRIS_CHAOS", "1")];
    let (passed, out) = run("stress::assumes_its_worker_started", true, &chaos);
    assert!(!passed, "{out}");
    for expected in [
        "the worker had not started",
        &format!("iris: test `{test}`: its stress run under chaos (seed 0x1) failed on iteration 1 of 100 (it panicked"),
        "what Iris did last to its threads, oldest first: held a new thread of ",
        " back 69.5ms before it started",
        &format!("  IRIS_CHAOS=0x1 IRIS_STRESS=100 cargo test -p iris --test leaks -- --exact {test}\n"),
        &format!("  IRIS_CHAOS=0x1 IRIS_STRESS=100 cargo nextest run -p iris --test leaks -E 'test(={test})'"),
        "(the same decisions of Iris's, not the same schedule",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    // The printed line, run again: the same decisions, the same failure.
    let (passed, again) = run(
        "stress::assumes_its_worker_started",
        true,
        &[("IRIS_CHAOS", "0x1"), ("IRIS_STRESS", "100")],
    );
    assert!(!passed, "{again}");
    assert!(again.contains("failed on iteration 1 of 100"), "{again}");
}

// Chaos holds threads at their start where thread tracking interposes
// `pthread_create` (Linux, the default feature).
#[cfg(all(target_os = "linux", feature = "thread-tracking"))]
#[test]
fn the_fixed_twin_passes_every_iteration_under_chaos() {
    let (passed, out) = run(
        "stress::waits_for_its_worker_to_start",
        false,
        &[("IRIS_CHAOS", "1")],
    );
    assert!(passed, "{out}");
    assert!(
        out.contains(
            "iris: test `scenarios::stress::waits_for_its_worker_to_start`: 100 iterations \
             under chaos (seed 0x1), no failure, "
        ),
        "{out}"
    );
}

// Chaos holds threads at their start where thread tracking interposes
// `pthread_create` (Linux, the default feature).
#[cfg(all(target_os = "linux", feature = "thread-tracking"))]
#[test]
fn chaos_on_draws_a_seed_and_says_it_once_and_a_bad_value_is_one_line() {
    let (passed, out) = run(
        "stress::waits_for_its_worker_to_start",
        true,
        &[("IRIS_CHAOS", "on"), ("IRIS_STRESS", "3")],
    );
    assert!(passed, "{out}");
    assert_eq!(
        out.matches("iris: schedule chaos with seed 0x").count(),
        1,
        "{out}"
    );
    assert!(out.contains("3 iterations under chaos (seed 0x"), "{out}");
    // nextest's profile named `chaos` is `IRIS_CHAOS=on` (nextest sets no variable
    // for a profile; it tells the test its profile's name).
    let (passed, out) = run(
        "stress::waits_for_its_worker_to_start",
        true,
        &[("NEXTEST_PROFILE", "chaos"), ("IRIS_STRESS", "3")],
    );
    assert!(passed, "{out}");
    assert_eq!(
        out.matches("iris: schedule chaos with seed 0x").count(),
        1,
        "{out}"
    );
    assert!(out.contains("3 iterations under chaos (seed 0x"), "{out}");
    for bad in ["garbage", "-1", "0", "18446744073709551616"] {
        let (passed, out) = run(
            "stress::waits_for_its_worker_to_start",
            true,
            &[("IRIS_CHAOS", bad), ("IRIS_STRESS", "2")],
        );
        assert!(passed, "{bad}: {out}");
        assert_eq!(
            out.matches(&format!("iris: ignoring IRIS_CHAOS={bad:?}: "))
                .count(),
            1,
            "{bad}: {out}"
        );
        assert!(out.contains("2 iterations, no failure"), "{bad}: {out}");
    }
}

/// Race or contention: a failure under chaos beside other tests is run again alone.
#[cfg(all(target_os = "linux", feature = "thread-tracking"))]
#[test]
fn a_failure_under_chaos_says_whether_it_is_a_race_or_contention() {
    use crate::scenario::run_with_args;
    // A race fails alone too (the planted one, in a shared libtest process).
    let (passed, out) = run(
        "stress::assumes_its_worker_started",
        false,
        &[("IRIS_CHAOS", "1")],
    );
    assert!(!passed, "{out}");
    assert!(
        out.contains("run again alone (the same seed and iterations, one test): it failed again: a race in the code or the test, not contention"),
        "{out}"
    );
    // In a process of its own (nextest) it ran alone already.
    let (passed, out) = run(
        "stress::assumes_its_worker_started",
        true,
        &[("IRIS_CHAOS", "1")],
    );
    assert!(!passed, "{out}");
    assert!(
        out.contains("it ran alone in its process: a race in the code or the test, not contention"),
        "{out}"
    );
    // Two tests sharing a static: the first fails beside the second, passes alone.
    let (passed, out) = run_with_args(
        &[
            "--ignored",
            "--test-threads=2",
            "scenarios::stress::shares_a_static_",
        ],
        false,
        &[("IRIS_CHAOS", "1")],
    );
    assert!(!passed, "{out}");
    assert!(out.contains("a neighbour changed it"), "{out}");
    assert!(
        out.contains("it passed: it fails only beside other tests (contention for the machine or for something they share)"),
        "{out}"
    );
}

/// Neighbours undisturbed: a test beside one under chaos, in the same process, gets
/// no hold: its threads start at normal speed (one in two would be held, up to
/// 100 ms, if they were perturbed: about 46 of 200 over 20 ms).
#[cfg(all(target_os = "linux", feature = "thread-tracking"))]
#[test]
fn a_neighbour_of_a_test_under_chaos_runs_at_normal_speed() {
    use crate::scenario::run_with_args;
    let (passed, out) = run_with_args(
        &[
            "--ignored",
            "--test-threads=2",
            "--nocapture",
            "scenarios::stress::chaos_beside_a_neighbour",
            "scenarios::stress::neighbour_of_chaos",
        ],
        false,
        &[],
    );
    assert!(passed, "{out}");
    assert!(
        out.contains("40 iterations under chaos (seed 0x1), no failure"),
        "{out}"
    );
    let late: u32 = out
        .split("late starts: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the neighbour ran: {out}"));
    assert!(
        late < 10,
        "{late} of 200 of the neighbour's threads started late: {out}"
    );
}
