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
