//! The async failure paths as a user reads them: each scenario runs in a child
//! process of this test binary.

use std::time::{Duration, Instant};

use crate::scenario::{run, run_collecting_json, site_in};

/// The scenarios stop in well under a second (stop_timeout and linger of 100-200 ms
/// plus the 250 ms shutdown deadline); the wide margin is for a loaded machine: what
/// matters is that nothing waits for the stuck work.
fn assert_ended_in_bounded_time(started: Instant) {
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

fn site_of(pattern: &str) -> String {
    site_in("tests/async_tests/scenarios.rs", pattern)
}

/// A managed task that ignores its stop is cancelled with the test's runtime, as
/// `#[tokio::test]` cancels what is left: nothing is left behind, so by default it is
/// no finding; `IRIS_TEARDOWN=fail` (or `teardown = "fail"`) names it.
#[test]
fn a_stubborn_task_is_cancelled_with_the_runtime_and_named_when_the_teardown_is_judged() {
    let started = Instant::now();
    let (passed, out) = run("stubborn_task", true, &[]);
    assert!(passed, "{out}");
    assert!(!out.contains("iris: test"), "{out}");
    assert_ended_in_bounded_time(started);
    let started = Instant::now();
    let (passed, out) = run("stubborn_task", true, &[("IRIS_TEARDOWN", "fail")]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::stubborn_task` left its teardown to end 1 task(s)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "cancelled with the test's runtime (it did not stop within `stop_timeout`): task \"stubborn-task\" in `test:scenarios::stubborn_task`, spawned at {}",
            site_of("spawn_task(\"stubborn-task\"")
        )),
        "{out}"
    );
    assert!(
        out.contains("hint: the test ended with components still running"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "panicked at {}",
            site_of("async fn stubborn_task")
        )),
        "{out}"
    );
    assert_ended_in_bounded_time(started);
}

/// A server task left on the test's runtime, as `#[tokio::test]` suites leave them,
/// is cancelled with the runtime: no finding by default, named under
/// `IRIS_TEARDOWN=fail`, and written after the run under `warn`.
#[test]
fn a_plain_task_left_on_the_runtime_is_cancelled_with_it() {
    for owns_process in [true, false] {
        let started = Instant::now();
        let (passed, out) = run("server_task_left_running", owns_process, &[]);
        assert!(passed, "{out}");
        assert!(!out.contains("iris: test"), "{out}");
        // Nobody waits `linger` (5 s there) for a task the runtime cancels.
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }
    let (passed, out) = run("leaked_plain_task", true, &[("IRIS_TEARDOWN", "warn")]);
    assert!(passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::leaked_plain_task` left its teardown to end 1 task(s) (teardown = \"warn\": the test still passes)"),
        "{out}"
    );
    let (passed, out) = run("leaked_plain_task", true, &[("IRIS_TEARDOWN", "fail")]);
    assert!(!passed, "{out}");
    assert!(
        out.contains(
            "iris: test `scenarios::leaked_plain_task` left its teardown to end 1 task(s)"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "1 plain task(s) (tokio::spawn) still pending when the test's runtime shut down, cancelled with it"
        ),
        "{out}"
    );
    if cfg!(tokio_unstable) {
        // tokio says where: the report names the site, and `ignore_tasks` matches it.
        assert!(
            out.contains(&format!(
                "    spawned at {}",
                site_of("    tokio::spawn(async {")
            )),
            "{out}"
        );
    } else {
        // It says in one line how to get the site.
        assert!(
            out.contains("(where each was spawned: build with RUSTFLAGS=\"--cfg tokio_unstable\""),
            "{out}"
        );
    }
}

#[test]
fn a_reaper_that_ends_by_itself_after_its_pool_is_dropped_is_no_leak() {
    for owns_process in [true, false] {
        let started = Instant::now();
        let (passed, out) = run("reaper_of_a_dropped_pool", owns_process, &[]);
        assert!(passed, "{out}");
        assert!(!out.contains("plain task"), "{out}");
        // Run on in paused time, not waited for: its `linger` is 20 s, its tick 30 s.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
    // The waiver is a default one: switched off with the others, the reaper is a task
    // still alive after `linger`, as it is in real time.
    let (passed, out) = run("reaper_of_a_dropped_pool_brief_linger", true, &[]);
    assert!(passed, "{out}");
    let (passed, out) = run(
        "reaper_of_a_dropped_pool_brief_linger",
        true,
        &[("IRIS_DEFAULT_IGNORES", "off"), ("IRIS_TEARDOWN", "fail")],
    );
    assert!(!passed, "{out}");
    assert!(
        out.contains(
            "1 plain task(s) (tokio::spawn) still pending when the test's runtime shut down, cancelled with it\n"
        ),
        "{out}"
    );
}

#[test]
fn a_reaper_whose_pool_lives_on_is_still_a_leak_after_an_hour_of_paused_time() {
    let started = Instant::now();
    let (passed, out) = run("reaper_of_a_kept_pool", true, &[("IRIS_TEARDOWN", "fail")]);
    assert!(!passed, "{out}");
    assert!(
        out.contains(
            "1 plain task(s) (tokio::spawn) still pending when the test's runtime shut down, \
             cancelled with it, and after 3600s more of paused time (run on to see if they end by themselves)"
        ),
        "{out}"
    );
    assert_ended_in_bounded_time(started);
}

#[test]
fn a_task_that_ticks_for_ever_is_a_leak_and_the_test_still_ends() {
    let started = Instant::now();
    let (passed, out) = run("ticking_plain_task", true, &[("IRIS_TEARDOWN", "fail")]);
    assert!(!passed, "{out}");
    assert!(
        out.contains(
            "iris: test `scenarios::ticking_plain_task` left its teardown to end 1 task(s)"
        ),
        "{out}"
    );
    assert!(out.contains("more of paused time"), "{out}");
    // What it logged while run on in paused time (about a thousand ticks a
    // millisecond) is not the test's: only the ticks of the body's 20 ms and of its
    // 100 ms `linger` (real time, one a millisecond at most) are in the output.
    let ticks = out.matches("ticks=").count();
    assert!((1..500).contains(&ticks), "{ticks} ticks logged:\n{out}");
    assert_ended_in_bounded_time(started);
}

#[test]
fn paused_time_needs_a_current_thread_runtime() {
    // A multi-thread runtime's clock cannot be paused: the reaper stays a task still
    // alive after `linger` (the guide states this limit).
    let (passed, out) = run(
        "reaper_of_a_dropped_pool_multi_thread",
        true,
        &[("IRIS_TEARDOWN", "fail")],
    );
    assert!(!passed, "{out}");
    assert!(
        out.contains(
            "1 plain task(s) (tokio::spawn) still pending when the test's runtime shut down, cancelled with it\n"
        ),
        "{out}"
    );
}

#[cfg(tokio_unstable)]
#[test]
fn ignore_tasks_matches_a_plain_tasks_spawn_site() {
    let (passed, out) = run(
        "leaked_plain_task",
        true,
        &[
            ("IRIS_IGNORE_TASKS", "tests/async_tests/scenarios.rs:*"),
            ("IRIS_TEARDOWN", "fail"),
        ],
    );
    assert!(passed, "{out}");
    let (passed, out) = run(
        "leaked_plain_task",
        true,
        &[
            ("IRIS_IGNORE_TASKS", "*/elsewhere.rs:*"),
            ("IRIS_TEARDOWN", "fail"),
        ],
    );
    assert!(!passed, "{out}");
}

#[test]
fn a_stuck_spawn_blocking_fails_its_test_and_the_test_still_ends() {
    for scenario in ["stuck_blocking_task", "stuck_blocking_task_multi_thread"] {
        let started = Instant::now();
        let (passed, out) = run(scenario, true, &[]);
        assert!(!passed, "{out}");
        assert!(
            out.contains(&format!(
                "iris: test `scenarios::{scenario}` leaked 1 task(s)"
            )),
            "{out}"
        );
        assert!(
            out.contains("blocking task still running after the runtime's shutdown deadline: tid "),
            "{out}"
        );
        assert!(out.contains("sleeping"), "{out}");
        // A release build without debug information inlines the closure into
        // tokio's poll, and the report shows only the call it is blocked in (the
        // guide says so): the verdict is the same.
        if cfg!(all(feature = "thread-tracking", debug_assertions)) {
            // The stuck closure is named by its live stack.
            assert!(
                out.contains(&format!("scenarios::{scenario}::{{{{closure}}}}")),
                "{out}"
            );
        }
        assert!(
            !out.contains("unmanaged thread"),
            "the runtime's thread is a task, not a leak: {out}"
        );
        assert_ended_in_bounded_time(started);
    }
}

#[test]
fn a_task_panic_fails_a_passing_body() {
    let (passed, out) = run("task_panic", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::task_panic` had 1 background panic(s)"),
        "{out}"
    );
    assert!(
        out.contains(
            "\"doomed-task\" in `test:scenarios::task_panic` panicked: the async job failed"
        ),
        "{out}"
    );
}

#[test]
fn a_hung_async_body_times_out() {
    let started = Instant::now();
    let (passed, out) = run("hangs_async", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::hangs_async` timed out after 200ms"),
        "{out}"
    );
    // The dump is honest about an async body: it names the test's own line and says
    // that no stack holds the pending `.await`, instead of showing the runtime's wait
    // as the body's and promising that it says where the body waits.
    assert!(
        out.contains(&format!(
            "the test body (an async fn, written at {}",
            site_of("async fn hangs_async")
        )),
        "{out}"
    );
    assert!(
        out.contains("suspended at an `.await` that nothing has woken; no thread's stack holds an async fn while it waits"),
        "{out}"
    );
    assert!(
        out.contains(
            "hint: the body itself did not finish: it waits at an `.await` that nothing wakes"
        ),
        "{out}"
    );
    assert!(
        !out.contains("its state above says where it waits"),
        "{out}"
    );
    assert_ended_in_bounded_time(started);
}

#[test]
fn an_async_body_that_blocks_its_thread_fails_on_time_at_the_tests_line_with_the_dump() {
    for owns in [true, false] {
        let started = Instant::now();
        let (passed, out) = run("blocks_its_thread_in_a_channel", owns, &[]);
        assert!(!passed, "{out}");
        assert!(
            out.contains(
                "iris: test `scenarios::blocks_its_thread_in_a_channel` timed out after 300ms"
            ),
            "{out}"
        );
        // Raised at the test's own line, never inside Iris.
        assert!(
            out.contains(&format!(
                "panicked at {}",
                site_of("async fn blocks_its_thread_in_a_channel")
            )),
            "{out}"
        );
        assert!(!out.contains("panicked at src/"), "{out}");
        // The dump is in the failure message, beside the managed thread it names.
        assert!(out.contains("where the test is:"), "{out}");
        assert!(out.contains("\"helper-of-blocked-body\""), "{out}");
        assert_ended_in_bounded_time(started);
    }
}

#[test]
fn an_async_body_in_thread_sleep_fails_on_time_on_a_multi_thread_runtime() {
    let started = Instant::now();
    let (passed, out) = run("sleeps_its_thread", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::sleeps_its_thread` timed out after 300ms"),
        "{out}"
    );
    // The runtime stuck with the body is the body's, not a leak.
    assert!(!out.contains("leaked"), "{out}");
    assert_ended_in_bounded_time(started);
}

#[test]
fn a_task_blocking_its_worker_is_one_task_not_also_a_blocking_task() {
    let started = Instant::now();
    let (passed, out) = run("task_blocks_its_worker", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::task_blocks_its_worker` leaked 1 task(s)"),
        "{out}"
    );
    assert!(
        out.contains("a task is blocking its worker thread"),
        "{out}"
    );
    assert!(!out.contains("blocking task still running"), "{out}");
    // (Inlined into tokio's poll in a release build without debug information.)
    if cfg!(all(feature = "thread-tracking", debug_assertions)) {
        // Its worker's live stack names the user's blocking function.
        assert!(out.contains("task_blocks_its_worker::{{closure}}"), "{out}");
    }
    assert_ended_in_bounded_time(started);
}

#[test]
fn a_task_blocking_its_worker_is_found_and_named_on_both_flavors() {
    for scenario in ["blocking_body_current_thread", "blocking_task_multi_thread"] {
        let (passed, out) = run(scenario, true, &[]);
        assert!(!passed, "{scenario}: {out}");
        assert!(
            out.contains(&format!(
                "iris: test `scenarios::{scenario}` blocked its runtime 1 time(s)"
            )),
            "{out}"
        );
        assert!(out.contains("inside one poll for"), "{out}");
        assert!(out.contains("hint: a task made a blocking call"), "{out}");
        // (Inlined into tokio's poll in a release build without debug information.)
        if cfg!(all(feature = "thread-tracking", debug_assertions)) {
            // Its live stack names the user's blocking function.
            assert!(out.contains("blocks_the_worker"), "{out}");
        }
    }
}

/// `IRIS_LEAK_REPORT` once wrote `leaked: 1` for a blocked runtime with every count
/// 0 and every list empty: the finding itself was missing from the line.
#[test]
fn a_blocked_runtime_is_counted_and_listed_in_the_json_line() {
    let (passed, out, lines) = run_collecting_json("blocking_by_default", true, &[]);
    assert!(!passed, "{out}");
    assert_eq!(lines.len(), 1, "{out}");
    let line = &lines[0];
    assert_eq!(line["leaked"], 1, "{line}");
    assert_eq!(line["counts"]["blocked"], 1, "{line}");
    let blocked = line["tasks"]["blocked"].as_array().expect("a list");
    assert_eq!(blocked.len(), 1, "{line}");
    assert!(blocked[0]["tid"].as_u64().is_some(), "{line}");
    assert!(blocked[0]["held_ms"].as_u64().unwrap() >= 100, "{line}");
}

#[test]
fn blocking_is_found_by_default_and_can_be_switched_off_for_a_run() {
    let (passed, out) = run("blocking_by_default", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::blocking_by_default` blocked its runtime 1 time(s)"),
        "{out}"
    );
    let (passed, out) = run("blocking_by_default", true, &[("IRIS_BLOCKING", "off")]);
    assert!(passed && !out.contains("blocked its runtime"), "{out}");
    let (passed, out) = run("blocking_by_default", true, &[("IRIS_BLOCKING", "1s")]);
    assert!(
        passed && !out.contains("blocked its runtime"),
        "a 400 ms hold is under 1 s: {out}"
    );
}

#[test]
fn cpu_bound_work_on_a_loaded_machine_is_not_blocking() {
    let (passed, out) = run("cpu_bound_under_load_is_not_blocking", true, &[]);
    assert!(passed, "{out}");
    assert!(!out.contains("blocked its runtime"), "{out}");
}

#[test]
fn a_clean_async_test_passes_in_every_mode() {
    for owns in [true, false] {
        let (passed, out) = run("clean_async", owns, &[]);
        assert!(passed, "{out}");
        assert!(!out.contains("iris: test"), "{out}");
    }
}

#[test]
fn a_detached_tasks_panic_is_warned_about_by_default_with_its_message_and_place() {
    let (passed, out) = run("detached_task_panic_warned", true, &[]);
    assert!(passed, "the default policy warns: {out}");
    assert!(
        out.contains(
            "iris: test `scenarios::detached_task_panic_warned`: 1 plain task(s) panicked"
        ),
        "{out}"
    );
    let site = site_of("// detached task panic site");
    assert!(
        out.contains(&format!("panicked at {site}")) && out.contains(": the detached job failed"),
        "the panic's place and message ({site}): {out}"
    );
    assert!(
        out.contains("task_panics = \"fail\""),
        "how to make it fail: {out}"
    );
    // Under cargo test (tests sharing the process), the warning is written once the
    // test process ends, after libtest's lines.
    let (passed, out) = run("detached_task_panic_warned", false, &[]);
    assert!(passed, "{out}");
    let warned = out
        .find("iris: test `scenarios::detached_task_panic_warned`: 1 plain task(s) panicked")
        .unwrap_or_else(|| panic!("warned under cargo test too: {out}"));
    let summary = out.find("test result: ok").expect("libtest's summary");
    assert!(warned > summary, "after libtest's lines: {out}");
    // The whole run's policy: the environment makes the same test fail.
    let (passed, out) = run(
        "detached_task_panic_warned",
        true,
        &[("IRIS_TASK_PANICS", "fail")],
    );
    assert!(!passed, "{out}");
    assert!(
        out.contains(
            "iris: test `scenarios::detached_task_panic_warned` had 1 background panic(s)"
        ),
        "{out}"
    );
    // And it can be silenced.
    let (passed, out) = run(
        "detached_task_panic_warned",
        true,
        &[("IRIS_TASK_PANICS", "ignore")],
    );
    assert!(passed && !out.contains("plain task"), "{out}");
}

/// A warning fails nothing, but a run collected with `IRIS_LEAK_REPORT` keeps it:
/// under nextest a passing test's output (and so its warning) is not shown. Found
/// on moka's suite, whose two tests passed while all their tasks panicked.
#[test]
fn a_warned_task_panic_is_kept_in_the_json_line() {
    let (passed, out, lines) = run_collecting_json("detached_task_panic_warned", true, &[]);
    assert!(passed, "{out}");
    assert_eq!(lines.len(), 1, "a line for the warned test: {lines:?}");
    let line = &lines[0];
    assert_eq!(line["test"], "scenarios::detached_task_panic_warned");
    assert_eq!(line["leaked"], 0, "a warning is no finding: {line}");
    assert_eq!(line["task_panics"].as_array().unwrap().len(), 0, "{line}");
    assert_eq!(
        line["warned"]["task_panics"][0]["message"], "the detached job failed",
        "{line}"
    );
    // Silenced, it is not written at all.
    let (passed, _, lines) = run_collecting_json(
        "detached_task_panic_warned",
        true,
        &[("IRIS_TASK_PANICS", "ignore")],
    );
    assert!(passed && lines.is_empty(), "nothing to keep: {lines:?}");
}

#[test]
fn task_panics_fail_makes_a_detached_tasks_panic_fail_the_test_on_both_flavors() {
    for scenario in [
        "detached_task_panic_failed",
        "detached_task_panic_on_a_worker",
    ] {
        let (passed, out) = run(scenario, true, &[]);
        assert!(!passed, "{scenario}: {out}");
        assert!(
            out.contains(&format!(
                "iris: test `scenarios::{scenario}` had 1 background panic(s)"
            )),
            "{scenario}: {out}"
        );
        let site = site_of("// detached task panic site");
        assert!(
            out.contains(&format!("panicked at {site}"))
                && out.contains(": the detached job failed"),
            "{scenario}: {out}"
        );
        // Raised at the test, as every finding is.
        assert!(!out.contains("panicked at src/"), "{scenario}: {out}");
        // Where the task was spawned, when tokio tells.
        if cfg!(tokio_unstable) {
            let spawned = site_of("drop(tokio::spawn(async move {");
            assert!(
                out.contains(&format!("spawned at {spawned}")),
                "{scenario} ({spawned}): {out}"
            );
        }
    }
}

#[test]
fn a_panic_a_task_catches_itself_is_a_warning_never_a_failure_nor_lost() {
    // Told by the exception tables and the symbol table (thread tracking); without
    // them every panic inside a task is a task's panic.
    if !cfg!(all(
        feature = "thread-tracking",
        target_os = "linux",
        target_env = "gnu"
    )) {
        return;
    }
    let caught = "panicked inside a `catch_unwind` of their own code";
    // Handled inside the task (ractor's supervised actors): under
    // `task_panics = "fail"` the test passes, and is told.
    for scenario in [
        "task_catches_its_own_panic",
        "task_catches_its_own_panic_on_a_worker",
    ] {
        let (passed, out) = run(scenario, true, &[]);
        assert!(passed, "{scenario}: {out}");
        assert!(!out.contains("background panic"), "{scenario}: {out}");
        assert!(
            out.contains(&format!(
                "iris: test `scenarios::{scenario}`: 1 plain task(s) {caught}"
            )),
            "{scenario}: {out}"
        );
        assert!(
            out.contains(": handled inside the task"),
            "{scenario}: {out}"
        );
    }
    // Rethrown (moka's initializers): the same panic ended the task, and nothing
    // read its handle. Iris cannot tell it from the above, so it warns the same
    // way: it is not lost.
    let (passed, out) = run("task_rethrows_its_panic", true, &[]);
    assert!(passed, "{out}");
    assert!(out.contains(caught), "{out}");
    assert!(out.contains(": rethrown by the task"), "{out}");
    // `"ignore"` silences it.
    let (passed, out) = run(
        "task_catches_its_own_panic",
        true,
        &[("IRIS_TASK_PANICS", "ignore")],
    );
    assert!(passed && !out.contains(caught), "{out}");
}

#[test]
fn a_task_panic_the_test_awaited_passes_and_a_managed_tasks_is_not_counted_twice() {
    let (passed, out) = run("awaited_task_panic", true, &[]);
    assert!(passed, "{out}");
    let (passed, out) = run("task_panic", true, &[("IRIS_TASK_PANICS", "fail")]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::task_panic` had 1 background panic(s)"),
        "the managed task's panic, once: {out}"
    );
    assert!(!out.contains("plain task"), "{out}");
}

#[test]
fn the_panic_hooks_time_is_not_blocking_the_runtime() {
    let (passed, out) = run("catches_its_own_panic", true, &[]);
    assert!(passed, "{out}");
    assert!(!out.contains("blocked its runtime"), "{out}");
}

#[test]
fn one_sampler_for_the_process_charges_blocking_to_the_test_that_blocked() {
    // Two tests at once in one process (cargo test's way): the blocking one and a
    // tidy one. The process's one sampler watches both runtimes; only the test whose
    // worker slept inside a poll is told.
    let (passed, out) = crate::scenario::run_with_args(
        &[
            "--ignored",
            "scenarios::blocking_body_current_thread",
            "scenarios::clean_async",
            "--test-threads=2",
        ],
        false,
        &[],
    );
    assert!(!passed, "{out}");
    assert!(out.contains("running 2 tests"), "{out}");
    assert!(
        out.contains(
            "iris: test `scenarios::blocking_body_current_thread` blocked its runtime 1 time(s)"
        ),
        "{out}"
    );
    assert!(out.contains("test scenarios::clean_async ... ok"), "{out}");
    assert!(!out.contains("`scenarios::clean_async` blocked"), "{out}");
}

/// tokio reaps a `Child` dropped unwaited in the background, but only while a
/// runtime runs: the test's runtime keeps running while the test has a child
/// (within `linger`), so one that ends just after the body is reaped, not reported as
/// a zombie nobody reaped. Found on command-group's suite, whose tokio tests failed
/// or passed by the child's timing. Under nextest and, with thread tracking, in a
/// shared process.
#[cfg(target_os = "linux")]
#[test]
fn a_child_tokio_reaps_after_the_body_is_no_leak() {
    let settings: &[bool] = if cfg!(feature = "thread-tracking") {
        &[true, false]
    } else {
        &[true]
    };
    for &owns_process in settings {
        for scenario in [
            "a_dropped_child_tokio_reaps",
            "a_child_a_worker_drops_tokio_reaps",
        ] {
            let (passed, out) = run(scenario, owns_process, &[]);
            assert!(passed, "{scenario}: {out}");
            assert!(!out.contains("iris: test"), "{scenario}: {out}");
        }
    }
}

/// The runtime goes on reaping for the whole grace period, not a moment of it: a
/// child ending half a second after the body (within the default `linger` of 1 s)
/// is reaped, not reported as a zombie nobody reaped, in real and in paused time;
/// one that runs on past `linger` is still reported, running.
#[cfg(target_os = "linux")]
#[test]
fn a_child_ending_within_linger_is_reaped_and_one_outliving_it_is_reported() {
    for scenario in [
        "a_dropped_child_ending_within_linger_tokio_reaps",
        "a_dropped_child_ending_within_linger_in_paused_time",
    ] {
        let begun = Instant::now();
        let (passed, out) = run(scenario, true, &[]);
        assert!(passed, "{scenario}: {out}");
        assert!(!out.contains("iris: test"), "{scenario}: {out}");
        assert!(begun.elapsed() < Duration::from_secs(20), "{scenario}");
    }
    let begun = Instant::now();
    let (passed, out) = run("a_dropped_child_outliving_linger", true, &[]);
    let took = begun.elapsed();
    assert!(!passed, "{out}");
    assert!(out.contains("leaked 1 process(es)"), "{out}");
    assert!(out.contains("sleep 30"), "{out}");
    assert!(!out.contains("zombie"), "{out}");
    // One grace period (300 ms), then the report; not a second one on top. Wide
    // margin: a loaded machine starts processes slowly.
    assert!(took < Duration::from_secs(20), "{took:?}");
}

/// The same wait does not hide a child nobody will reap.
#[cfg(target_os = "linux")]
#[test]
fn a_std_child_dropped_in_an_async_test_is_still_a_zombie_nobody_reaped() {
    let (passed, out) = run("a_dropped_std_child_nobody_reaps", true, &[]);
    assert!(!passed, "{out}");
    assert!(out.contains("): [true], a zombie nobody reaped"), "{out}");
}

/// Threads made while a test awaits `join_all` or `FuturesUnordered` once got no
/// creation site (the combinators' frames hid the constructor), so no line said what
/// made them.
#[test]
fn threads_made_under_a_combinator_are_placed_at_their_constructor() {
    let (passed, out) = run("threads_made_under_join_all", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::threads_made_under_join_all` leaked 3 thread(s)"),
        "{out}"
    );
    if cfg!(feature = "thread-tracking") {
        // Each line says what made the thread, under the combinator: the constructor,
        // with its file and line where the build has debug information; where an
        // optimised build inlined it into the combinator's poll, that combinator.
        let created: Vec<&str> = out
            .lines()
            .filter(|l| l.trim_start().starts_with("created"))
            .collect();
        assert_eq!(created.len(), 3, "{out}");
        for line in &created {
            assert!(
                line.contains("async_tests::scenarios::start_mock_server")
                    || line.contains("created in a future that `futures_util::"),
                "{line}\n{out}"
            );
        }
        if cfg!(debug_assertions) {
            assert_eq!(
                out.matches("created at tests/async_tests/scenarios.rs:")
                    .count(),
                3,
                "{out}"
            );
        }
        assert!(!out.contains("no frame of yours"), "{out}");
    }
}
