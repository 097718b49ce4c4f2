use crate::scenario::{run, run_interleaved, run_with_args, site_in};

/// `file:line:` of the first line of scenarios.rs containing `pattern`.
fn site_of(pattern: &str) -> String {
    site_in("tests/leaks/scenarios.rs", pattern)
}

#[test]
fn a_managed_straggler_fails_with_name_container_site_and_hint() {
    let (passed, out) = run("managed_straggler", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::managed_straggler` leaked 1 thread(s)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "\"stubborn-worker\" in `test:scenarios::managed_straggler`, spawned at {}",
            site_of("spawn(\"stubborn-worker\"")
        )),
        "{out}"
    );
    assert!(out.contains("alive for"), "{out}");
    assert!(
        out.contains("sleeping") || out.contains("running"),
        "the OS state: {out}"
    );
    assert!(
        out.contains("hint:") && out.contains("docs/thread-safety.md"),
        "{out}"
    );
    assert_eq!(
        out.matches("leaked 1 thread(s)").count(),
        1,
        "the report is printed once, by the panic hook: {out}"
    );
    assert!(
        !out.contains("the panic hook in place did not print"),
        "{out}"
    );
}

#[test]
fn a_report_is_seen_when_a_silent_panic_hook_is_in_place() {
    let (passed, out) = run("leaks_under_a_silent_panic_hook", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("the panic hook in place did not print this"),
        "{out}"
    );
    assert_eq!(
        out.matches("iris: test `scenarios::leaks_under_a_silent_panic_hook` leaked 1 thread(s)")
            .count(),
        1,
        "printed once, by Iris: {out}"
    );
    assert!(out.contains("\"stubborn-worker\""), "{out}");
}

#[test]
fn identical_leaks_are_grouped() {
    let (passed, out) = run("leaked_pool", true, &[]);
    assert!(!passed, "{out}");
    assert!(out.contains("leaked 16 thread(s)"), "{out}");
    assert!(
        out.contains(&format!(
            "16x \"worker-0\", \"worker-1\", \"worker-2\", \"worker-3\", \"worker-4\", \"worker-5\", \"worker-6\", \"worker-7\", and 8 more in `test:scenarios::leaked_pool/pool`, spawned at {}",
            site_of("pool.spawn(format!(\"worker-{i}\")")
        )),
        "{out}"
    );
    assert!(
        !out.contains("worker-N"),
        "names are never rewritten: {out}"
    );
}

#[test]
fn an_unmanaged_std_thread_fails_when_the_test_owns_the_process() {
    let (passed, out) = run("unmanaged_thread", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::unmanaged_thread` leaked 1 thread(s)"),
        "{out}"
    );
    assert!(
        out.contains("unmanaged thread \"rogue-std\" (tid "),
        "{out}"
    );
    assert!(
        out.contains(
            "hint: a thread started outside Iris outlived the test: shut down what started it"
        ),
        "{out}"
    );
    assert!(
        !out.contains("StopToken"),
        "advice for managed threads only: {out}"
    );
}

#[test]
fn a_global_pools_thread_name_is_the_process_s_where_nothing_tracks_creation() {
    let (passed, out) = run("thread_named_like_a_global_pool", true, &[]);
    if cfg!(feature = "thread-tracking") {
        // Tracking knows better than the name: the test made this thread itself.
        assert!(!passed, "{out}");
        assert!(out.contains("unmanaged thread \"blocking-42\""), "{out}");
    } else {
        assert!(passed, "a `blocking-*` thread is smol's pool's: {out}");
        assert!(!out.contains("leaked"), "{out}");
    }
    // Without the default list it is a leak in both builds.
    let (passed, out) = run(
        "thread_named_like_a_global_pool",
        true,
        &[("IRIS_DEFAULT_IGNORES", "off")],
    );
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::thread_named_like_a_global_pool` leaked 1 thread(s)"),
        "{out}"
    );
    assert!(out.contains("unmanaged thread \"blocking-42\""), "{out}");
}

#[test]
fn a_long_pool_name_cut_by_the_os_still_matches_its_whole_glob() {
    // The default list writes async-std's runtime name whole; the OS keeps 15 bytes.
    let (passed, out) = run("thread_named_like_a_long_named_global_pool", true, &[]);
    if cfg!(feature = "thread-tracking") {
        assert!(!passed, "tracking knows the test made it: {out}");
        assert!(
            out.contains("unmanaged thread \"async-std/runti\""),
            "{out}"
        );
    } else {
        assert!(passed, "async-std's global runtime is the process's: {out}");
        assert!(!out.contains("leaked"), "{out}");
    }
    let (passed, out) = run(
        "thread_named_like_a_long_named_global_pool",
        true,
        &[("IRIS_DEFAULT_IGNORES", "off")],
    );
    assert!(!passed, "{out}");
    assert!(
        out.contains("unmanaged thread \"async-std/runti\""),
        "{out}"
    );
    // A user's glob, written for the whole name, waives the cut one too.
    for owns_process in [true, false] {
        let (passed, out) = run(
            "ignores_a_long_named_thread_by_its_whole_name",
            owns_process,
            &[],
        );
        assert!(passed, "{out}");
        assert!(!out.contains("my-long-pool-wo"), "{out}");
    }
}

#[test]
fn an_unnamed_thread_is_called_unnamed_with_the_name_it_inherited() {
    let (passed, out) = run("unnamed_thread", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains(
            "unnamed unmanaged thread (it carries its creator's name \"scenarios::unna\")"
        ),
        "{out}"
    );
}

#[test]
fn failures_are_raised_at_the_users_test_not_inside_iris() {
    for (scenario, line_of) in [
        ("managed_straggler", "fn managed_straggler()"),
        ("background_panic", "fn background_panic()"),
        ("unmanaged_thread", "fn unmanaged_thread()"),
    ] {
        let (passed, out) = run(scenario, true, &[]);
        assert!(!passed, "{out}");
        assert!(
            out.contains(&format!("panicked at {}", site_of(line_of))),
            "{scenario}: {out}"
        );
        assert!(!out.contains("panicked at src/"), "{scenario}: {out}");
    }
}

#[test]
fn with_one_test_thread_the_runners_lines_stay_whole() {
    // libtest prints `test NAME ... ` and finishes the line after the test: a report
    // written to the real stderr in between would split it.
    let (passed, out) = run_with_args(
        &[
            "--ignored",
            "--exact",
            "scenarios::warned",
            "--test-threads=1",
        ],
        false,
        &[],
    );
    assert!(passed, "{out}");
    assert!(out.contains("test scenarios::warned ... ok\n"), "{out}");
    let (passed, out) = run_with_args(
        &[
            "--ignored",
            "--exact",
            "scenarios::own_panic_wins",
            "--test-threads=1",
        ],
        false,
        &[],
    );
    assert!(passed, "{out}");
    assert!(
        out.contains("test scenarios::own_panic_wins - should panic ... ok\n"),
        "{out}"
    );
}

#[test]
fn a_sleeping_straggler_is_reported_as_sleeping_not_running() {
    let (passed, out) = run("sleepy_straggler", true, &[]);
    assert!(!passed, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("\"napper\""))
        .unwrap_or_else(|| panic!("{out}"));
    if cfg!(feature = "thread-tracking") {
        // With its live stack, the call it sleeps in is named instead of the wchan.
        assert!(line.ends_with(", sleeping"), "{line}");
        let now = out
            .lines()
            .find(|l| l.contains("now in"))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(
            now.contains("std::thread::") && now.contains("sleep"),
            "{out}"
        );
    } else {
        assert!(line.contains(", sleeping in "), "{line}");
    }
}

#[test]
fn an_expect_on_finish_prints_the_report_not_a_struct() {
    let (passed, out) = run("finish_expect", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("the worker stops: iris: test `scenarios::finish_expect` leaked 1 thread(s)"),
        "{out}"
    );
    assert!(!out.contains("LeakReport {"), "{out}");
}

#[test]
fn log_settings_warn_when_wrong_and_rust_log_is_honoured() {
    let (_, out) = run("clean", true, &[("IRIS_LOG", "bogus=[")]);
    assert!(out.contains("iris: ignoring IRIS_LOG=\"bogus=[\""), "{out}");
    let (passed, out) = run("logs_debug_then_fails", true, &[("RUST_LOG", "debug")]);
    assert!(!passed && out.contains("a debug detail"), "{out}");
    let (passed, out) = run("logs_debug_then_fails", true, &[]);
    assert!(
        !passed && !out.contains("a debug detail"),
        "info by default: {out}"
    );
    let (_, out) = run(
        "logs_debug_then_fails",
        true,
        &[("RUST_LOG", "debug"), ("IRIS_LOG", "warn")],
    );
    assert!(
        !out.contains("a debug detail"),
        "IRIS_LOG wins over RUST_LOG: {out}"
    );
}

#[test]
fn with_one_test_thread_the_process_is_owned_too() {
    let (passed, out) = run("unmanaged_thread", false, &[("RUST_TEST_THREADS", "1")]);
    assert!(!passed, "{out}");
    assert!(out.contains("unmanaged thread \"rogue-std\""), "{out}");
}

#[test]
fn in_a_shared_process_the_unmanaged_check_needs_thread_tracking() {
    let (passed, out) = run("unmanaged_thread", false, &[]);
    if cfg!(feature = "thread-tracking") {
        assert!(!passed, "tracking charges the thread to its test: {out}");
        assert!(out.contains("unmanaged thread \"rogue-std\""), "{out}");
    } else {
        assert!(
            passed,
            "nothing managed leaked and the OS check cannot run: {out}"
        );
    }
}

#[test]
#[cfg(feature = "thread-tracking")]
fn with_thread_tracking_a_shared_run_needs_no_note() {
    let (passed, out) = run_with_args(&["--ignored", "scenarios::clean"], false, &[]);
    assert!(passed, "{out}");
    assert!(
        out.contains("running 2 tests") && !out.contains("iris: note"),
        "{out}"
    );
}

#[test]
#[cfg(not(feature = "thread-tracking"))]
fn a_passing_shared_run_says_once_that_the_unmanaged_check_did_not_run() {
    // Both `clean` scenarios, in one process, in parallel: the run passes, and says
    // once (not once per test) that threads outside Iris were not checked.
    let (passed, out) = run_with_args(&["--ignored", "scenarios::clean"], false, &[]);
    assert!(passed, "{out}");
    assert!(out.contains("running 2 tests"), "{out}");
    assert_eq!(
        out.matches("iris: note: threads and child processes started outside Iris are not checked in this run")
            .count(),
        1,
        "{out}"
    );
    assert!(
        out.contains("cargo nextest run"),
        "says how to get the check: {out}"
    );
    let (passed, out) = run("clean", true, &[]);
    assert!(
        passed && !out.contains("iris: note"),
        "no note where the check runs: {out}"
    );
}

#[test]
fn a_background_panic_fails_a_passing_body() {
    let (passed, out) = run("background_panic", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::background_panic` had 1 background panic(s)"),
        "{out}"
    );
    assert!(
        out.contains(
            "\"doomed\" in `test:scenarios::background_panic` panicked: the background job failed"
        ),
        "{out}"
    );
}

#[test]
fn a_clean_test_passes() {
    let (passed, out) = run("clean", true, &[]);
    assert!(passed, "{out}");
    assert!(!out.contains("iris: test"), "{out}");
}

#[test]
fn a_warning_is_visible_in_every_mode_and_breaks_no_runner_line() {
    for mode in [
        &["--test-threads=1"][..],
        &["--test-threads=2"][..],
        &["--test-threads=2", "-q"][..],
    ] {
        let mut args = vec![
            "--ignored",
            "--exact",
            "scenarios::warned",
            "scenarios::clean",
        ];
        args.extend_from_slice(mode);
        let (passed, out) = run_with_args(&args, false, &[]);
        assert!(passed, "{mode:?}: {out}");
        // Before: nothing under --test-threads=1 (the passing test's captured output
        // is dropped), and a report inside `-q`'s progress line in parallel.
        let report = out
            .find("iris: test `scenarios::warned` leaked 1 thread(s)")
            .unwrap_or_else(|| panic!("{mode:?}: the warning is shown: {out}"));
        let summary = out
            .find("test result: ok.")
            .unwrap_or_else(|| panic!("{out}"));
        assert!(
            report > summary,
            "{mode:?}: written after the run's last line: {out}"
        );
        if mode.contains(&"-q") {
            assert!(
                out.contains("\n..\n"),
                "{mode:?}: the progress line is whole: {out}"
            );
        } else {
            assert!(
                out.contains("test scenarios::warned ... ok\n"),
                "{mode:?}: {out}"
            );
        }
    }
}

#[test]
fn warn_passes_and_still_shows_the_report() {
    let (passed, out) = run("warned", true, &[]);
    assert!(passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::warned` leaked 1 thread(s)"),
        "{out}"
    );
    assert!(
        out.contains("leaks = \"warn\": the test still passes"),
        "{out}"
    );
}

#[test]
fn iris_leaks_overrides_the_policy_for_a_run() {
    let (passed, out) = run("managed_straggler", true, &[("IRIS_LEAKS", "ignore")]);
    assert!(passed, "{out}");
    let (passed, out) = run("managed_straggler", true, &[("IRIS_LEAKS", "warn")]);
    assert!(passed && out.contains("leaked 1 thread(s)"), "{out}");
    let (passed, out) = run("warned", true, &[("IRIS_LEAKS", "fail")]);
    assert!(!passed, "{out}");
    let (passed, out) = run("managed_straggler", true, &[("IRIS_LEAKS", "sometimes")]);
    assert!(!passed && out.contains("ignoring IRIS_LEAKS"), "{out}");
}

#[test]
fn the_tests_own_panic_wins_and_should_panic_still_matches() {
    let (passed, out) = run("own_panic_wins", true, &[]);
    assert!(
        passed,
        "should_panic(expected) matched the test's own panic: {out}"
    );
    assert!(
        out.contains("leaked 1 thread(s)") && out.contains("reported beside the test's own panic"),
        "{out}"
    );
}

#[test]
fn a_hanging_test_times_out_with_a_dump_of_its_threads() {
    let (passed, out) = run("hangs", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::hangs` timed out after 300ms"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "where the test is:\n  the test body, written at {}",
            site_of("fn hangs()")
        )),
        "the dump starts with where the body is: {out}"
    );
    assert!(
        out.contains("sleeping in "),
        "the body's blocking point: {out}"
    );
    assert!(out.contains("\"helper-of-hang\""), "{out}");
    assert!(
        out.contains("hint: the body itself did not finish"),
        "{out}"
    );
    assert!(
        !out.contains("unmanaged thread \"scenarios::hang"),
        "the body's thread is the test's, never a leak: {out}"
    );
    assert!(
        out.contains(&format!("panicked at {}", site_of("fn hangs()"))),
        "raised at the test: {out}"
    );
}

#[test]
fn a_result_error_still_fails() {
    let (passed, out) = run("returns_err", true, &[]);
    assert!(!passed && out.contains("the body's own error"), "{out}");
}

#[test]
fn findings_are_appended_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leaks.jsonl");
    let path_text = path.to_str().unwrap();
    run(
        "managed_straggler",
        true,
        &[("IRIS_LEAK_REPORT", path_text)],
    );
    run("background_panic", true, &[("IRIS_LEAK_REPORT", path_text)]);
    run("clean", true, &[("IRIS_LEAK_REPORT", path_text)]);
    run("hangs", true, &[("IRIS_LEAK_REPORT", path_text)]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "one line per test with findings: {lines:?}");
    assert_eq!(lines[0]["test"], "scenarios::managed_straggler");
    assert_eq!(lines[0]["stragglers"][0]["name"], "stubborn-worker");
    // Every finding counts, with the kinds beside the total; paths as the text has them.
    assert_eq!(lines[0]["leaked"], 1);
    assert_eq!(lines[0]["counts"]["threads"], 1);
    let site = lines[0]["stragglers"][0]["spawned_at"].as_str().unwrap();
    assert!(site.starts_with("tests/leaks/scenarios.rs:"), "{site}");
    assert_eq!(
        lines[1]["panics"][0]["message"],
        "the background job failed"
    );
    assert_eq!(lines[1]["leaked"], 1, "a background panic is a finding");
    assert_eq!(lines[1]["counts"]["panics"], 1);
    // A timed-out test writes its line too.
    assert_eq!(lines[2]["test"], "scenarios::hangs");
    assert_eq!(lines[2]["timed_out_ms"], 300);
}

#[test]
fn background_logs_appear_in_the_failing_tests_output() {
    let (passed, out) = run("logs_then_fails", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris_thread{thread=order-worker container=test:scenarios::logs_then_fails}"),
        "{out}"
    );
    assert!(out.contains("processing order order=42"), "{out}");
}

#[test]
fn a_managed_process_that_outlives_the_test_is_named_with_pid_and_command() {
    let (passed, out) = run("managed_process_survives", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::managed_process_survives` leaked"),
        "{out}"
    );
    assert!(
        out.contains("leaked 1 process(es)\n"),
        "the process's own threads are folded into its line, never unmanaged: {out}"
    );
    assert!(
        out.contains("hint: a managed process outlived the stop"),
        "{out}"
    );
    assert!(
        out.contains("process \"stubborn-child\" in `test:scenarios::managed_process_survives/stubborn-child` (pid "),
        "{out}"
    );
    assert!(
        out.contains("): sh -c 'trap '\\'''\\'' TERM; echo ready; sleep 3'"),
        "{out}"
    );
}

/// Iris's helpers for a process (reaper, output readers, supervisor) are never the
/// test's leak, however the supervisor's SIGKILL and the report's look interleave:
/// the process that ignored SIGTERM past the stop's deadline is the one finding,
/// even when it has died since. Under load this once read `leaked 4 thread(s)`
/// (in Iris's own CI too); three runs, both runner modes.
#[test]
fn a_process_killed_at_the_deadline_is_one_process_line_never_its_helper_threads() {
    for owns_process in [true, false, true] {
        let (passed, out) = run("managed_process_killed_at_the_deadline", owns_process, &[]);
        assert!(!passed, "{out}");
        assert!(
            out.contains("iris: test `scenarios::managed_process_killed_at_the_deadline` leaked 1 process(es)\n"),
            "{out}"
        );
        assert!(!out.contains("thread(s)"), "{out}");
        assert!(!out.contains("\"deaf-server-stdout\" in"), "{out}");
        assert!(
            out.contains("process \"deaf-server\" in `test:scenarios::managed_process_killed_at_the_deadline/deaf-server` (pid "),
            "{out}"
        );
    }
}

#[test]
fn an_unmanaged_child_process_is_found_through_proc() {
    let (passed, out) = run("unmanaged_child_process", true, &[]);
    assert!(!passed, "{out}");
    assert!(out.contains("leaked 1 process(es)\n"), "{out}");
    assert!(
        out.contains("unmanaged child process (pid ") && out.contains("): sleep 3"),
        "{out}"
    );
}

/// A zombie left at the test's end may still be reaped by a library's reaper thread
/// (async-process hands a dropped `Child` to one): it is waited for during `linger`,
/// like a running child, and is no leak once reaped. Found on async-process's suite,
/// where `test_into_inner` failed for its `cat` and `grep`.
#[cfg(target_os = "linux")]
#[test]
fn a_zombie_that_a_background_reaper_reaps_in_time_is_no_leak() {
    for owns_process in [true, false] {
        let (passed, out) = run("a_zombie_a_background_reaper_reaps", owns_process, &[]);
        assert!(passed, "{out}");
        assert!(!out.contains("iris: test"), "{out}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_zombie_nobody_reaps_is_still_a_leak() {
    let (passed, out) = run("a_zombie_nobody_reaps", true, &[]);
    assert!(!passed, "{out}");
    assert!(out.contains("leaked 1 process(es)\n"), "{out}");
    assert!(out.contains("): [true], a zombie nobody reaped"), "{out}");
}

#[test]
fn a_descendant_that_left_the_process_group_is_reported_with_its_command() {
    let (passed, out) = run("escaped_descendant_survives", false, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::escaped_descendant_survives` leaked"),
        "{out}"
    );
    assert!(
        out.contains(
            "process \"escaper (a descendant that left its process group)\" in `test:scenarios::escaped_descendant_survives/escaper` (pid "
        ),
        "{out}"
    );
    assert!(
        out.contains("): sh -c trap \"\" TERM; echo escaped; sleep 3"),
        "{out}"
    );
}

#[test]
fn an_on_stop_callback_that_never_returns_is_a_straggler_and_the_test_still_ends() {
    for owns in [true, false] {
        let started = std::time::Instant::now();
        let (passed, out) = run("blocking_on_stop_callback", owns, &[]);
        assert!(!passed, "{out}");
        assert!(
            out.contains("iris: test `scenarios::blocking_on_stop_callback` leaked 1 thread(s)"),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "on_stop callback of \"closer\" in `test:scenarios::blocking_on_stop_callback`, registered at {}",
                site_of("worker.stop_token().on_stop(|| never().wait())")
            )),
            "{out}"
        );
        assert!(out.contains("hint: an `on_stop` callback"), "{out}");
        // (Inlined away in a release build without debug information.)
        if cfg!(all(feature = "thread-tracking", debug_assertions)) {
            // Its live stack reaches the user's callback.
            assert!(
                out.contains("blocking_on_stop_callback::{{closure}}"),
                "{out}"
            );
        }
        // Before the fix the test never ended.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(8),
            "{:?}",
            started.elapsed()
        );
    }
}

#[test]
fn every_test_sharing_a_process_gets_its_background_logs() {
    for threads in ["--test-threads=1", "--test-threads=2"] {
        let (passed, out) = run_with_args(
            &[
                "--ignored",
                threads,
                "--show-output",
                "--exact",
                "scenarios::logs_a_first",
                "scenarios::logs_b_second",
            ],
            false,
            &[],
        );
        assert!(passed, "{out}");
        for (test, marker) in [
            ("logs_a_first", "of the first test"),
            ("logs_b_second", "of the second test"),
        ] {
            let header = format!("---- scenarios::{test} stdout ----");
            let start = out.find(&header).unwrap_or_else(|| panic!("{out}"));
            let section = &out[start + header.len()..];
            let section = &section[..section.find("\n---- ").unwrap_or(section.len())];
            // Before the fix, the second test of a process got none of its lines.
            assert_eq!(
                section.matches(marker).count(),
                3,
                "{threads}: {test} has its own three lines: {out}"
            );
        }
    }
}

#[test]
fn the_hang_doctor_says_where_a_slow_test_is_while_it_runs_and_does_not_fail_it() {
    let (passed, out) = run_with_args(
        &[
            "--ignored",
            "--exact",
            "scenarios::slow_body_for_the_hang_doctor",
            "scenarios::clean",
            "--test-threads=2",
        ],
        false,
        &[("IRIS_HANG_DUMP", "300ms")],
    );
    assert!(passed, "the dump fails nothing: {out}");
    let dump = &out[out
        .find("iris: test `scenarios::slow_body_for_the_hang_doctor` has been running for")
        .unwrap_or_else(|| panic!("a dump while it runs: {out}"))..];
    assert!(dump.contains("where the test is:"), "{dump}");
    assert!(dump.contains("\"waits-with-the-body\""), "{dump}");
    // (Inlined away in a release build without debug information.)
    if cfg!(all(feature = "thread-tracking", debug_assertions)) {
        // The body's live stack names the user's function it is stuck in.
        assert!(dump.contains("stuck_for_a_while"), "{dump}");
    }
    assert_eq!(
        out.matches("has been running for").count(),
        1,
        "once per test, only the slow one: {out}"
    );
    let (passed, out) = run_with_args(
        &[
            "--ignored",
            "--exact",
            "scenarios::slow_body_for_the_hang_doctor",
        ],
        false,
        &[("IRIS_HANG_DUMP", "off")],
    );
    assert!(passed && !out.contains("has been running for"), "{out}");
}

/// Runs `scenario` as nextest does (one test per process), sends it SIGTERM once it
/// says it is ready, as nextest does at `terminate-after`, and returns its output
/// after checking that the signal still ended it, and soon.
#[cfg(target_os = "linux")]
fn terminated_when_ready(scenario: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", scenario])
        .env("NEXTEST_EXECUTION_MODE", "process-per-test")
        .env("IRIS_SCENARIO_READY", &ready)
        .env("RUST_BACKTRACE", "0")
        .env_remove("IRIS_HANG_DUMP")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    iris::SentinelFile::new(&ready)
        .wait(crate::PATIENCE)
        .expect("the scenario is running");
    // As nextest's SIGTERM comes only after `slow-timeout`: once Iris listens for it
    // (bit 15 of `SigCgt`), which it does when a test has run half a second.
    let status = format!("/proc/{}/status", child.id());
    iris::wait_for_condition(
        || crate::scenarios::catches_sigterm(&status),
        crate::PATIENCE,
    )
    .expect("Iris listens for SIGTERM once the test has run a while");
    let started = std::time::Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        output.status.signal(),
        Some(15),
        "it still dies of SIGTERM: {out}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "SIGTERM ended it at once: {out}"
    );
    out
}

#[cfg(target_os = "linux")]
#[test]
fn a_test_nextest_terminates_leaves_its_dump_in_its_output() {
    let out = terminated_when_ready("scenarios::hangs_until_terminated");
    assert!(
        out.contains("iris: test `scenarios::hangs_until_terminated` was terminated (SIGTERM"),
        "{out}"
    );
    assert!(out.contains("\"waits-with-the-hung-body\""), "{out}");
    // The test owns its process: a thread started outside Iris is listed too.
    assert!(out.contains("unmanaged: \"plain-waiter\""), "{out}");
    // (Inlined away in a release build without debug information.)
    if cfg!(all(feature = "thread-tracking", debug_assertions)) {
        assert!(out.contains("stuck_for_a_while"), "{out}");
    }
}

/// Under nextest Iris's helper thread leaves once the process's test has ended (so
/// the process does not wait for it at exit); a later test in the same process
/// brings it back, and its dump on SIGTERM with it.
#[cfg(target_os = "linux")]
#[test]
fn a_test_after_the_helper_left_still_gets_its_dump() {
    let out = terminated_when_ready("scenarios::hangs_in_a_second_test_until_terminated");
    assert!(out.contains("was terminated (SIGTERM"), "{out}");
    assert!(out.contains("\"waits-in-the-second-test\""), "{out}");
}

/// A stress test of the helper leaving and coming back while tests open and close
/// on several threads of one process (as nextest runs one test per process, whose
/// body may run more scopes).
#[cfg(target_os = "linux")]
#[test]
fn the_helper_serves_every_open_test_while_tests_come_and_go() {
    for _ in 0..3 {
        let (passed, out) = run_with_args(
            &[
                "--ignored",
                "--exact",
                "scenarios::tests_open_and_close_at_once",
            ],
            true,
            &[],
        );
        assert!(passed, "{out}");
    }
}

/// Under nextest the helper thread is started on its test's CPU (each hand-off with
/// it then stays on one CPU); the test's own thread keeps its CPUs.
#[cfg(target_os = "linux")]
#[test]
fn under_nextest_the_helper_runs_on_its_tests_cpu() {
    let (passed, out) = run("the_helper_runs_beside_its_test", true, &[]);
    assert!(passed, "{out}");
    assert!(out.contains("1 passed"), "the scenario ran: {out}");
}

/// Under nextest a test that ends soon never sees Iris's SIGTERM handler: it is
/// installed only once a test has run half a second (nextest terminates after
/// seconds at least). Found on signal-hook's suite, whose `sig_dfl` asserts the
/// default action.
#[cfg(target_os = "linux")]
#[test]
fn a_short_test_under_nextest_finds_sigterm_untouched() {
    let (passed, out) = run("a_short_test_leaves_sigterm_alone", true, &[]);
    assert!(passed, "{out}");
    assert!(out.contains("1 passed"), "the scenario ran: {out}");
}

/// A SIGTERM the process sends itself is not nextest's: a test that handles its own
/// (graceful shutdown) is neither dumped nor ended by Iris.
#[cfg(target_os = "linux")]
#[test]
fn a_sigterm_the_test_sends_itself_is_left_to_it() {
    let (passed, out) = run("a_test_handles_the_sigterm_it_sends_itself", true, &[]);
    assert!(passed, "{out}");
    assert!(out.contains("1 passed"), "the scenario ran: {out}");
    assert!(!out.contains("was terminated (SIGTERM"), "{out}");
}

/// While no helper serves, Iris's SIGTERM handler takes the signal's default action
/// itself: the signal is never swallowed.
#[cfg(target_os = "linux")]
#[test]
fn sigterm_after_the_helper_left_ends_the_process() {
    let out = terminated_when_ready("scenarios::hangs_after_its_tests_until_terminated");
    assert!(
        !out.contains("was terminated (SIGTERM"),
        "no test was open: {out}"
    );
}

/// A forgotten shutdown is invisible by default (the registry's stop ends what obeys
/// it), and named under `IRIS_TEARDOWN=fail`, for teams that want every component
/// shut down by the test itself; `warn` writes it and passes.
#[cfg(unix)]
#[test]
fn what_the_teardown_had_to_stop_is_named_when_asked() {
    let (passed, out) = run("forgotten_shutdown", true, &[]);
    assert!(passed, "{out}");
    assert!(!out.contains("iris: test"), "{out}");
    let (passed, out) = run("forgotten_shutdown", true, &[("IRIS_TEARDOWN", "fail")]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::forgotten_shutdown` left its teardown to end 1 thread(s), 1 process(es)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "stopped by the teardown: \"poller\" in `test:scenarios::forgotten_shutdown`, spawned at {}",
            site_of("spawn(\"poller\"")
        )),
        "{out}"
    );
    assert!(
        out.contains("stopped by the teardown: managed process \"sidecar\""),
        "{out}"
    );
    assert!(
        !out.contains("\"sidecar-stdout\" in"),
        "Iris's helpers are never listed: {out}"
    );
    assert!(
        out.contains("hint: the test ended with components still running"),
        "{out}"
    );
    let (passed, out) = run("forgotten_shutdown", false, &[("IRIS_TEARDOWN", "warn")]);
    assert!(passed, "{out}");
    only_place_of(
        &out,
        "iris: test `scenarios::forgotten_shutdown` left its teardown to end 1 thread(s), 1 process(es) (teardown = \"warn\": the test still passes)",
    );
}

/// Where `needle` is in `out`, which holds it exactly once.
fn only_place_of(out: &str, needle: &str) -> usize {
    assert_eq!(out.matches(needle).count(), 1, "{needle:?} once in: {out}");
    out.find(needle).unwrap()
}

/// A bad knob is one clear line on stderr, at once: before libtest's summary, not
/// kept for the process's exit (during a hang, the only time `IRIS_HANG_DUMP`
/// matters, an exit never comes), and never a silent no-op.
#[test]
fn a_bad_environment_variable_is_one_line_said_at_once() {
    let (passed, out) = run_interleaved(
        "clean_too",
        false,
        &[
            ("IRIS_HANG_DUMP", "5sec"),
            ("IRIS_LOG", "dbug"),
            ("IRIS_LEAK", "warn"),
            ("IRIS_DEFAULT_IGNORES", "maybe"),
        ],
    );
    assert!(passed, "{out}");
    let summary = out.find("test result:").expect("libtest's summary");
    for line in [
        "iris: ignoring IRIS_HANG_DUMP=\"5sec\": unknown unit \"sec\"",
        "iris: ignoring IRIS_LOG=\"dbug\": \"dbug\" reads as a target, which would hide every other line: did you mean the level `debug`?; logging at info",
        "iris: ignoring IRIS_LEAK: Iris has no such variable: did you mean IRIS_LEAKS?",
        "iris: ignoring IRIS_DEFAULT_IGNORES=\"maybe\": expected on or off; the default lists stay on",
    ] {
        assert!(only_place_of(&out, line) < summary, "said at once: {out}");
    }
    // A bare 0 once meant "off" in silence.
    let (_, out) = run("clean_too", false, &[("IRIS_HANG_DUMP", "0")]);
    only_place_of(
        &out,
        "iris: ignoring IRIS_HANG_DUMP=\"0\": a bare 0 has no unit (write `off`",
    );
    for (variable, value) in [("IRIS_LOG", "[[["), ("RUST_LOG", "[[[")] {
        let (passed, out) = run("clean_too", false, &[(variable, value)]);
        assert!(passed, "{out}");
        only_place_of(
            &out,
            &format!(
                "iris: ignoring {variable}=\"[[[\": \"[[[\" filters by span, field or pattern"
            ),
        );
    }
    let (_, out) = run("clean_too", false, &[("IRIS_LOG", "info,my_crate=debug")]);
    assert!(!out.contains("iris: ignoring"), "a good filter: {out}");
}

/// `IRIS_LEAK_REPORT` in a directory that does not exist: one line, not one per
/// finding (the pool leaks 16 threads), and the report itself still printed.
#[test]
fn a_leak_report_in_a_missing_directory_is_said_once() {
    let (passed, out) = run(
        "leaked_pool",
        true,
        &[("IRIS_LEAK_REPORT", "/no/such/directory/leaks.jsonl")],
    );
    assert!(!passed, "{out}");
    only_place_of(
        &out,
        "iris: ignoring IRIS_LEAK_REPORT=\"/no/such/directory/leaks.jsonl\": the directory /no/such/directory does not exist",
    );
    assert!(out.contains("leaked 16 thread(s)"), "{out}");
}
