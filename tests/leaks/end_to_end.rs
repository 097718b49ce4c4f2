use std::process::{Command, Output};

/// Runs `scenarios::NAME` in a child process of this test binary.
fn run(name: &str, owns_process: bool, env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--ignored", "--exact", &format!("scenarios::{name}")])
        .env("RUST_BACKTRACE", "0")
        .env_remove("NEXTEST_EXECUTION_MODE")
        .env_remove("RUST_TEST_THREADS")
        .env_remove("IRIS_LEAKS")
        .env_remove("IRIS_LEAK_REPORT");
    if owns_process {
        command.env("NEXTEST_EXECUTION_MODE", "process-per-test");
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    assert!(text.contains("running 1 test"), "the scenario ran: {text}");
    (status.success(), text)
}

/// `file:line:` of the first line of scenarios.rs containing `pattern`, as a spawn
/// location is printed.
fn site_of(pattern: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/leaks/scenarios.rs");
    let source = std::fs::read_to_string(path).unwrap();
    let index = source
        .lines()
        .position(|l| l.contains(pattern))
        .expect("pattern is in scenarios.rs");
    format!("tests/leaks/scenarios.rs:{}:", index + 1)
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
}

#[test]
fn identical_leaks_are_grouped() {
    let (passed, out) = run("leaked_pool", true, &[]);
    assert!(!passed, "{out}");
    assert!(out.contains("leaked 16 thread(s)"), "{out}");
    assert!(
        out.contains(&format!(
            "16x \"worker-N\" in `test:scenarios::leaked_pool/pool`, spawned at {}",
            site_of("pool.spawn(format!(\"worker-{i}\")")
        )),
        "{out}"
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
}

#[test]
fn with_one_test_thread_the_process_is_owned_too() {
    let (passed, out) = run("unmanaged_thread", false, &[("RUST_TEST_THREADS", "1")]);
    assert!(!passed, "{out}");
    assert!(out.contains("unmanaged thread \"rogue-std\""), "{out}");
}

#[test]
fn in_a_shared_process_the_unmanaged_check_is_skipped() {
    let (passed, out) = run("unmanaged_thread", false, &[]);
    assert!(
        passed,
        "nothing managed leaked and the OS check cannot run: {out}"
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
        out.contains("live threads of the test:") && out.contains("\"helper-of-hang\""),
        "{out}"
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
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "one line per test with findings: {lines:?}");
    assert_eq!(lines[0]["test"], "scenarios::managed_straggler");
    assert_eq!(lines[0]["stragglers"][0]["name"], "stubborn-worker");
    assert_eq!(
        lines[1]["panics"][0]["message"],
        "the background job failed"
    );
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
    assert!(out.contains("and 1 process(es)"), "{out}");
    assert!(
        out.contains("process \"stubborn-child\" in `test:scenarios::managed_process_survives/stubborn-child` (pid "),
        "{out}"
    );
    assert!(
        out.contains("): sh -c 'trap '\\'''\\'' TERM; echo ready; sleep 3'"),
        "{out}"
    );
}

#[test]
fn an_unmanaged_child_process_is_found_through_proc() {
    let (passed, out) = run("unmanaged_child_process", true, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("leaked 0 thread(s) and 1 process(es)"),
        "{out}"
    );
    assert!(
        out.contains("unmanaged child process (pid ") && out.contains("): sleep 3"),
        "{out}"
    );
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
