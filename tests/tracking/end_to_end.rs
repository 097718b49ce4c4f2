use crate::scenario::{run, run_collecting_json, run_with_args, site_in};

/// The leaky scenarios and the well-behaved ones that run beside them.
const LEAKY: [&str; 3] = [
    "leaks_a_raw_thread",
    "leaks_a_grandchild_thread",
    "leaks_a_tokio_runtime",
];
const TIDY: [&str; 5] = ["tidy_a", "tidy_b", "tidy_c", "tidy_d", "tidy_e"];

/// What libtest printed for one failed test (its `---- NAME stdout ----` section).
fn section<'a>(out: &'a str, test: &str) -> &'a str {
    let header = format!("---- scenarios::{test} stdout ----");
    let start = out
        .find(&header)
        .unwrap_or_else(|| panic!("{test} has a section: {out}"));
    let rest = &out[start + header.len()..];
    let end = rest
        .find("\n---- ")
        .or_else(|| rest.find("\nfailures:"))
        .unwrap_or(rest.len());
    &rest[..end]
}

fn verdict(out: &str, test: &str) -> Option<&'static str> {
    if out.contains(&format!("test scenarios::{test} ... ok")) {
        Some("ok")
    } else if out.contains(&format!("test scenarios::{test} ... FAILED")) {
        Some("FAILED")
    } else {
        None
    }
}

fn site_of(pattern: &str) -> String {
    site_in("tests/tracking/scenarios.rs", pattern)
}

/// The leaky reports, checked the same way whichever runner produced them.
fn check_leaky_reports(leaky: &[(&str, String)]) {
    let names = ["leaky-raw", "leaky-grandkid", "leaky-tokio"];
    for ((test, text), own) in leaky.iter().zip(names) {
        assert!(
            text.contains(&format!("iris: test `scenarios::{test}` leaked")),
            "{text}"
        );
        assert!(
            text.contains(&format!("\"{own}")),
            "{test} names its own thread: {text}"
        );
        for other in names.iter().filter(|n| **n != own) {
            assert!(
                !text.contains(other),
                "{test} names only its own threads, not {other}: {text}"
            );
        }
        assert!(
            !text.contains("tidy-"),
            "{test} blames no neighbour's thread: {text}"
        );
        // Names and lines as debug information gives them: a release build has
        // none, and its reports name fewer frames (the verdicts above are the same).
        assert!(
            !cfg!(debug_assertions) || text.contains("created at tests/tracking/scenarios.rs:"),
            "{test}: {text}"
        );
    }
    if !cfg!(debug_assertions) {
        return;
    }
    let (raw, grandchild, tokio) = (&leaky[0].1, &leaky[1].1, &leaky[2].1);
    assert!(
        raw.contains("in tracking::scenarios::start_leaky_worker"),
        "{raw}"
    );
    assert!(
        grandchild.contains("in tracking::scenarios::start_grandchild"),
        "{grandchild}"
    );
    assert!(
        grandchild.contains("by thread \"short-parent\""),
        "the creator: {grandchild}"
    );
    assert!(
        tokio.contains("in tracking::scenarios::leaks_a_tokio_runtime"),
        "{tokio}"
    );
    // Where the raw threads are blocked now, by frame.
    for text in [raw, grandchild] {
        assert!(text.contains("now in std::sync::mpsc::"), "{text}");
        assert!(
            text.contains(&format!(
                "called from {}",
                site_of("let _ = blocked.recv();").trim_end_matches(':')
            )),
            "{text}"
        );
        assert!(
            text.contains("in tracking::scenarios::park_forever"),
            "{text}"
        );
    }
}

#[test]
fn under_parallel_cargo_test_exactly_the_leaking_tests_fail_each_with_its_own_threads() {
    let (passed, out) = run_with_args(
        &[
            "--ignored",
            "--test-threads=8",
            "scenarios::leaks_",
            "scenarios::tidy_",
        ],
        false,
        &[],
    );
    assert!(!passed, "{out}");
    assert!(out.contains("running 8 tests"), "{out}");
    for test in LEAKY {
        assert_eq!(verdict(&out, test), Some("FAILED"), "{test}: {out}");
    }
    for test in TIDY {
        assert_eq!(verdict(&out, test), Some("ok"), "{test}: {out}");
    }
    assert!(
        !out.contains("are not checked in this run"),
        "with tracking the check runs in a shared process: {out}"
    );
    let leaky: Vec<(&str, String)> = LEAKY
        .iter()
        .map(|t| (*t, section(&out, t).to_string()))
        .collect();
    check_leaky_reports(&leaky);
}

#[test]
fn one_test_per_process_gives_the_same_verdicts() {
    let mut leaky = Vec::new();
    for test in LEAKY {
        let (passed, out) = run(test, true, &[]);
        assert!(!passed, "{test}: {out}");
        leaky.push((test, out));
    }
    check_leaky_reports(&leaky);
    for test in TIDY {
        let (passed, out) = run(test, true, &[]);
        assert!(passed, "{test}: {out}");
    }
}

#[test]
fn a_plain_thread_that_panics_unjoined_fails_its_test_with_the_message_and_site() {
    for owns_process in [false, true] {
        let (passed, out) = run("a_plain_thread_panics_unjoined", owns_process, &[]);
        assert!(!passed, "{out}");
        assert!(
            out.contains(
                "iris: test `scenarios::a_plain_thread_panics_unjoined` had 1 background panic(s)"
            ),
            "{out}"
        );
        assert!(
            out.contains("thread \"doomed\" (tid ")
                && out.contains(&format!(
                    "panicked at {}",
                    site_of("panic!(\"the plain thread gave up\")")
                ))
                && out.contains("the plain thread gave up; nobody joined it"),
            "{out}"
        );
    }
}

#[test]
fn thread_panics_warn_lets_a_test_that_means_the_panic_pass_and_says_what_it_was() {
    let header = "iris: test `scenarios::a_meant_panic_warned`: 1 plain thread(s) ended in a \
                  panic that nobody joined";
    for owns_process in [false, true] {
        let (passed, out) = run("a_meant_panic_warned", owns_process, &[]);
        assert!(passed, "warned, not failed: {out}");
        let warned = out
            .find(header)
            .unwrap_or_else(|| panic!("the warning: {out}"));
        assert!(
            out.contains("thread \"pool-worker\" (tid ")
                && out.contains(&format!(
                    "panicked at {}",
                    site_of("panic!(\"the job failed on purpose\")")
                ))
                && out.contains("the job failed on purpose; nobody joined it"),
            "the panic's thread, place and message: {out}"
        );
        assert!(
            out.contains("(thread_panics = \"warn\": such a panic does not fail the test"),
            "{out}"
        );
        assert!(!out.contains("background panic"), "{out}");
        if !owns_process {
            // Under cargo test the warning comes after libtest's lines.
            let summary = out.find("test result: ok").expect("libtest's summary");
            assert!(warned > summary, "{out}");
        }
    }
    // Kept in the JSON line of a collected run, apart from the findings.
    let (passed, out, lines) = run_collecting_json("a_meant_panic_warned", true, &[]);
    assert!(passed, "{out}");
    let line = &lines[0];
    assert_eq!(line["leaked"], 0, "{line}");
    assert_eq!(
        line["warned"]["plain_panics"][0]["message"], "the job failed on purpose",
        "{line}"
    );
    // The run's environment overrides the attribute: the same test fails.
    let (passed, out) = run(
        "a_meant_panic_warned",
        true,
        &[("IRIS_THREAD_PANICS", "fail")],
    );
    assert!(!passed, "{out}");
    assert!(
        out.contains("iris: test `scenarios::a_meant_panic_warned` had 1 background panic(s)"),
        "{out}"
    );
}

#[test]
fn thread_panics_ignore_and_the_environment_waive_only_the_panic() {
    pass_without(&["a_meant_panic_ignored"], "nobody joined");
    // IRIS_THREAD_PANICS=warn for a whole run waives a test's unjoined panic too.
    let (passed, out) = run(
        "a_plain_thread_panics_unjoined",
        false,
        &[("IRIS_THREAD_PANICS", "warn")],
    );
    assert!(passed, "{out}");
    assert!(
        out.contains("the plain thread gave up; nobody joined it"),
        "{out}"
    );
    // A waived panic hides no leak: the test fails for its leaked thread, and its
    // report counts no background panic.
    for owns_process in [false, true] {
        let (passed, out) = run("a_meant_panic_does_not_hide_a_leak", owns_process, &[]);
        assert!(!passed, "{out}");
        assert!(
            out.contains("iris: test `scenarios::a_meant_panic_does_not_hide_a_leak` leaked")
                && out.contains("\"leaky-raw"),
            "{out}"
        );
        assert!(!out.contains("background panic"), "{out}");
        assert!(
            out.contains("the job failed on purpose; nobody joined it"),
            "the panic still written, as a warning: {out}"
        );
    }
}

#[test]
fn a_panic_far_below_the_root_is_still_told_caught_from_uncaught() {
    let (passed, out) = run("a_deep_panic_nobody_caught", false, &[]);
    assert!(!passed, "{out}");
    assert!(
        out.contains("thread \"deep-doomed\" (tid ") && out.contains("deep down; nobody joined it"),
        "{out}"
    );
}

/// Each of `tests` passes, in a shared process and owning its process, and its
/// output never mentions `finding`.
fn pass_without(tests: &[&str], finding: &str) {
    for test in tests {
        for owns_process in [false, true] {
            let (passed, out) = run(test, owns_process, &[]);
            assert!(passed, "{test}: {out}");
            assert!(!out.contains(finding), "{test}: {out}");
        }
    }
}

#[test]
fn a_joined_panic_and_a_caught_one_are_not_findings() {
    pass_without(
        &[
            "a_plain_thread_panics_and_is_joined",
            "a_panic_caught_inside_its_thread_is_not_a_finding",
            "a_deep_panic_caught_near_the_root_is_not_a_finding",
            "a_panic_a_runtime_caught_on_a_plain_thread_is_not_a_finding",
        ],
        "background panic",
    );
}

#[test]
fn a_panic_that_ends_an_unjoined_plain_thread_still_fails_its_test() {
    for owns_process in [false, true] {
        let (passed, out) = run(
            "a_panic_that_ends_an_unjoined_thread_is_a_finding",
            owns_process,
            &[],
        );
        assert!(!passed, "{out}");
        assert!(out.contains("background panic"), "{out}");
        assert!(out.contains("the worker failed"), "{out}");
    }
}

#[test]
fn ignored_creators_and_threads_that_end_within_linger_are_not_reported() {
    pass_without(
        &[
            "an_ignored_creator_is_not_reported",
            "a_thread_that_ends_within_linger_is_not_a_leak",
        ],
        "leaked",
    );
}

#[test]
fn threads_made_in_a_one_time_initializer_belong_to_the_process_under_every_runner() {
    let scenarios = [
        "a_lazily_created_pool",
        "a_reactor_made_once_starts_workers_later",
        "a_lazily_created_pool_again",
    ];
    // Plain parallel cargo test: one process, the pool made by whichever test is first.
    let mut args = vec!["--ignored", "--test-threads=3", "--exact"];
    let names: Vec<String> = scenarios
        .iter()
        .map(|s| format!("scenarios::{s}"))
        .collect();
    args.extend(names.iter().map(String::as_str));
    let (passed, out) = run_with_args(&args, false, &[]);
    assert!(passed, "never a test's leak: {out}");
    assert!(!out.contains("iris: test"), "{out}");
    // One test per process, as nextest runs them: each makes its own pool.
    for scenario in scenarios {
        let (passed, out) = run(scenario, true, &[]);
        assert!(passed, "{scenario}: {out}");
    }
}

#[test]
fn the_default_list_can_be_switched_off_and_then_names_the_pool() {
    let (passed, out) = run(
        "a_lazily_created_pool",
        false,
        &[("IRIS_DEFAULT_IGNORES", "off")],
    );
    assert!(!passed, "{out}");
    assert!(out.contains("\"lazy-pool\""), "{out}");
    assert!(
        out.contains("this looks like a pool made inside a one-time initializer"),
        "{out}"
    );
}

/// Runs `scenario` beside other tests in one process, and alone in its process (as
/// nextest does): it passes with no report either way.
fn passes_beside_others_and_alone(scenario: &str) {
    let name = format!("scenarios::{scenario}");
    let (passed, out) = run_with_args(
        &["--ignored", "--test-threads=2", &name, "tidy_"],
        false,
        &[],
    );
    assert!(passed, "{out}");
    assert_eq!(
        verdict(&out, scenario),
        Some("ok"),
        "the scenario ran: {out}"
    );
    assert!(!out.contains("iris: test"), "{out}");
    let (passed, out) = run(scenario, true, &[]);
    assert!(passed, "{out}");
}

/// futures-timer's global timer thread is started by whichever test's `Delay` comes
/// first, outside any initializer: on the default list, by its creator with
/// tracking; found on governor's suite, 9 of whose tests it failed under nextest.
#[test]
fn the_global_timer_thread_of_futures_timer_belongs_to_the_process() {
    let scenario = "a_first_delay_starts_the_global_timer_thread";
    passes_beside_others_and_alone(scenario);
    // Without the default list it is reported, named, as the test's.
    for owns_process in [true, false] {
        let (passed, out) = run(scenario, owns_process, &[("IRIS_DEFAULT_IGNORES", "off")]);
        assert!(!passed, "{out}");
        assert!(out.contains("unmanaged thread \"futures-timer\""), "{out}");
    }
}

#[test]
fn the_workers_of_a_dropped_pool_that_end_on_their_own_are_not_the_tests_leak() {
    let scenario = "a_dropped_pool_whose_workers_end_later";
    passes_beside_others_and_alone(scenario);
    // The workers are still alive when the test ends: without the default list
    // they are reported.
    let (passed, out) = run(scenario, false, &[("IRIS_DEFAULT_IGNORES", "off")]);
    assert!(!passed, "{out}");
    assert!(out.contains("\"winding-down-0\""), "{out}");
    assert!(out.contains("\"winding-down-1\""), "{out}");
}

#[test]
fn a_test_that_builds_its_own_pool_and_leaves_it_still_fails() {
    let (passed, out) = run("a_pool_built_by_the_test_and_left", false, &[]);
    assert!(!passed, "{out}");
    assert!(out.contains("\"own-pool-0\""), "{out}");
    assert!(
        out.contains("or join the thread before the test ends"),
        "{out}"
    );
    // The test's own body started them: no glob is offered to keep them (one for
    // the test's function would waive every thread it makes; hyper-util's
    // `connection_poisoning` got that advice for its server threads), and no hint
    // about process-wide pools. A hint never promises a glob it does not print.
    assert!(!out.contains("`ignore_threads = \""), "{out}");
    assert!(
        !out.contains("the `ignore_threads` glob its line gives"),
        "{out}"
    );
    // Its line names the test's function as the creator: by its frame with debug
    // information, and without (a release build inlines the body into Iris's
    // harness) as the body that made it.
    let created = out
        .lines()
        .find(|line| line.trim_start().starts_with("created"))
        .unwrap_or_else(|| panic!("a creation line: {out}"));
    assert!(
        created.contains("tracking::scenarios::a_pool_built_by_the_test_and_left"),
        "{created}"
    );
    if !cfg!(debug_assertions) {
        assert!(!created.contains("no frame of yours"), "{created}");
    }
}

/// A pool a helper function builds and leaves is the test's leak: its line leads
/// with the fix (what started it) and offers no waiver (a forgotten watcher's
/// threads once got an `ignore_threads` glob and "a process-wide pool is made by
/// whichever test touches it first").
#[test]
fn a_pool_a_helper_builds_and_leaves_is_reported_with_its_fix_and_no_waiver() {
    let (passed, out) = run("a_pool_built_by_a_helper_and_left", false, &[]);
    assert!(!passed, "{out}");
    assert!(out.contains("\"helper-pool-0\""), "{out}");
    assert!(!out.contains("ignore_threads = "), "{out}");
    assert!(!out.contains("a process-wide pool is made by"), "{out}");
    assert!(
        out.contains(
            "hint: a thread started outside Iris outlived the test: shut down what started it"
        ),
        "{out}"
    );
    if cfg!(debug_assertions) {
        assert!(
            out.contains("in tracking::scenarios::start_helper_pool"),
            "{out}"
        );
    }
}

/// A test-support crate's pool of mock servers in a plain `static`, grown on demand
/// and handed between tests (mockito's shape): a server the test took and gave back
/// is the pool's, in a process of its own (nextest) or shared. Found on a suite where
/// 111 of 130 tests failed under nextest for it.
#[test]
fn a_server_from_a_static_pool_grown_on_demand_is_no_leak() {
    for owns_process in [true, false] {
        let (passed, out) = run("takes_a_server_from_a_static_pool", owns_process, &[]);
        assert!(passed, "{out}");
        assert!(!out.contains("iris: test"), "{out}");
    }
}

/// Its sibling that makes a server outside the pool, whose thread serves for ever, is
/// still reported; with the default lists off, the pooled one is reported too, and
/// offered the glob that names the pool's hand-out and nothing else, which waives it
/// and not the sibling (a glob ending in `*` once waived both).
#[test]
fn a_server_outside_the_pool_is_reported_and_the_pools_glob_does_not_waive_it() {
    let (passed, out) = run("makes_a_server_outside_the_pool", false, &[]);
    assert!(!passed, "{out}");
    assert!(out.contains("\"mock-server-0\""), "{out}");
    assert!(!out.contains("ignore_threads = "), "{out}");
    let (passed, out) = run(
        "takes_a_server_from_a_static_pool",
        false,
        &[("IRIS_DEFAULT_IGNORES", "off")],
    );
    assert!(!passed, "{out}");
    if !cfg!(debug_assertions) {
        return; // the hand-out may be inlined: no glob is promised then
    }
    let glob = out
        .split("`ignore_threads = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a glob is printed: {out}"));
    assert_eq!(
        glob,
        "tracking::scenarios::ServerPool::get, tracking::scenarios::ServerPool::get::*"
    );
    let off_with_glob = [
        ("IRIS_DEFAULT_IGNORES", "off"),
        ("IRIS_IGNORE_THREADS", glob),
    ];
    let (passed, out) = run("takes_a_server_from_a_static_pool", false, &off_with_glob);
    assert!(passed, "the glob waives the pool's servers: {out}");
    let (passed, out) = run("makes_a_server_outside_the_pool", false, &off_with_glob);
    assert!(!passed, "and not the sibling's: {out}");
}

/// A library's IO pool started inside its own hand-written lazy type (sled's shape):
/// the rule for lazy values recognises it. Found on a suite where 64 of 74 tests
/// failed under nextest for it.
#[test]
fn a_pool_behind_a_hand_written_lazy_is_no_leak() {
    for owns_process in [true, false] {
        let (passed, out) = run(
            "uses_a_library_io_pool_behind_its_own_lazy",
            owns_process,
            &[],
        );
        assert!(passed, "{out}");
    }
    let (passed, out) = run(
        "uses_a_library_io_pool_behind_its_own_lazy",
        true,
        &[("IRIS_DEFAULT_IGNORES", "off")],
    );
    assert!(!passed, "with the rules off it is reported: {out}");
}

#[test]
fn the_timeout_dump_shows_where_the_body_and_its_threads_are() {
    let (passed, out) = run("a_stuck_body_shows_its_stack", false, &[]);
    assert!(!passed, "it leaks helper-raw: {out}");
    assert!(
        out.contains("timed out after 300ms: its body is still running"),
        "{out}"
    );
    let dump = &out[out.find("where the test is:").expect("a dump")..];
    assert!(dump.contains("the test body, written at "), "{dump}");
    // Names as debug information gives them (a release build inlines these away).
    if !cfg!(debug_assertions) {
        return;
    }
    assert!(
        dump.contains("in tracking::scenarios::stuck_in_the_body"),
        "{dump}"
    );
    assert!(
        dump.contains("unmanaged:") && dump.contains("helper-raw"),
        "{dump}"
    );
    assert!(
        dump.contains("in tracking::scenarios::park_forever"),
        "{dump}"
    );
}

#[test]
fn the_json_line_carries_the_creation_site_and_live_frames() {
    let (passed, out, lines) = run_collecting_json("leaks_a_raw_thread", false, &[]);
    assert!(!passed, "{out}");
    let json = &lines[0];
    assert_eq!(json["unmanaged_check"], "tracked", "{json}");
    let thread = &json["unmanaged"][0];
    assert_eq!(thread["name"], "leaky-raw", "{json}");
    let created = &thread["origin"]["created_at"];
    // Functions and lines as debug information gives them (a release build has none).
    if !cfg!(debug_assertions) {
        return;
    }
    assert!(
        created["function"]
            .as_str()
            .unwrap()
            .ends_with("start_leaky_worker"),
        "{json}"
    );
    assert!(created["line"].as_u64().unwrap() > 0, "{json}");
    let live: Vec<&str> = thread["live_frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function"].as_str().unwrap())
        .collect();
    assert!(live.iter().any(|f| f.ends_with("park_forever")), "{json}");
}

#[test]
fn an_ignore_glob_is_matched_from_the_symbol_table_and_kept_beside_the_binary() {
    // The fixture is this very binary: its entries are in .iris-symbols/<name>/.
    // An entry left by an earlier build must not pass for this one's.
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .unwrap()
        .join(".iris-symbols")
        .join(exe.file_name().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    let (passed, out) = run("an_ignored_creator_is_not_reported", true, &[]);
    assert!(passed, "{out}");
    let entries: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no symbol cache at {}: {e}", dir.display()))
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect();
    let entry = entries
        .iter()
        .find(|text| text.lines().nth(2) == Some("*start_leaky_worker"))
        .unwrap_or_else(|| panic!("no entry for the glob in {entries:?}"));
    assert!(
        entry.lines().count() > 3,
        "the glob's function has an address range: {entry}"
    );
}

#[test]
fn a_sampling_signal_the_program_took_is_never_sent_and_the_report_says_so() {
    let (_, out) = run_with_args(
        &["--ignored", "--test-threads=1", "scenarios::signal_"],
        false,
        &[],
    );
    let first = section(&out, "signal_1_sampled_while_the_signal_is_iris_s");
    assert!(first.contains("\"sampled-one\""), "{first}");
    assert!(
        first.contains("now in"),
        "sampled while the signal is Iris's: {first}"
    );
    let second = section(&out, "signal_2_taken_by_the_program");
    assert!(second.contains("\"sampled-two\""), "{second}");
    assert!(
        !second.contains("now in"),
        "never sampled once taken: {second}"
    );
    assert!(
        second.contains("sleeping in"),
        "the wait channel instead: {second}"
    );
    assert!(
        out.contains("the program uses the signal SIGRTMAX-3 that Iris samples live stacks with"),
        "{out}"
    );
    assert_eq!(
        verdict(
            &out,
            "signal_3_the_programs_handler_was_never_invoked_by_iris"
        ),
        Some("ok"),
        "{out}"
    );
}

/// Whether process `pid` is gone (or only a zombie of a parent that has exited,
/// on its way to being reaped by init).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn pid_written(dir: &std::path::Path, test: &str) -> u32 {
    std::fs::read_to_string(dir.join(test))
        .unwrap_or_else(|e| panic!("{test} wrote its child's pid: {e}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_child_process_a_test_leaves_is_charged_to_it_reported_and_ended_under_every_runner() {
    for shared in [true, false] {
        let pids = tempfile::tempdir().unwrap();
        let dir = pids.path().to_str().unwrap();
        let (_, out) = if shared {
            // Plain parallel cargo test: the tests share one process.
            run_with_args(
                &[
                    "--ignored",
                    "--test-threads=4",
                    "--exact",
                    "scenarios::leaves_a_child_process",
                    "scenarios::waits_for_its_child_process",
                    "scenarios::tidy_a",
                    "scenarios::tidy_b",
                ],
                false,
                &[("IRIS_SCENARIO_PIDS", dir)],
            )
        } else {
            run(
                "leaves_a_child_process",
                true,
                &[("IRIS_SCENARIO_PIDS", dir)],
            )
        };
        assert_eq!(
            verdict(&out, "leaves_a_child_process"),
            Some("FAILED"),
            "{out}"
        );
        let text = section(&out, "leaves_a_child_process");
        assert!(
            text.contains("iris: test `scenarios::leaves_a_child_process` leaked 1 process(es)"),
            "{text}"
        );
        let pid = pid_written(pids.path(), "leaves_a_child_process");
        assert!(
            text.contains(&format!("unmanaged child process (pid {pid}): sleep 300")),
            "{text}"
        );
        assert!(
            text.contains("(Iris ended 1 of these process(es)"),
            "{text}"
        );
        if shared {
            assert_eq!(
                verdict(&out, "waits_for_its_child_process"),
                Some("ok"),
                "{out}"
            );
            assert_eq!(verdict(&out, "tidy_a"), Some("ok"), "{out}");
            assert!(!text.contains("tidy"), "{text}");
        }
        // Nothing the test started outlives it (before: `sleep 300` ran on).
        assert!(
            iris::wait_for_condition(|| process_gone(pid), std::time::Duration::from_secs(10))
                .is_ok(),
            "pid {pid} still runs"
        );
    }
}

#[test]
fn under_warn_a_leaked_child_process_is_left_running_and_the_report_says_so() {
    let pids = tempfile::tempdir().unwrap();
    let dir = pids.path().to_str().unwrap();
    let (passed, out) = run(
        "keeps_a_child_process_under_warn",
        true,
        &[("IRIS_SCENARIO_PIDS", dir)],
    );
    let pid = pid_written(pids.path(), "keeps_a_child_process_under_warn");
    let still_running = !process_gone(pid);
    // Clean up what the policy kept.
    let _ = std::process::Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status();
    assert!(passed, "{out}");
    assert!(
        out.contains("left running, as leaks = \"warn\" asks"),
        "{out}"
    );
    assert!(still_running, "{out}");
}
