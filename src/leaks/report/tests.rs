//! What a person reads, kind by kind of report: each text is a snapshot file in
//! `snapshots/` (insta), so a change of wording is one reviewed diff. Durations and
//! this file's lines are written as `[duration]` and `[line]`, so a snapshot
//! changes only when the words do. The counts behind the text are asserted beside.

use std::panic::Location;
use std::time::{Duration, Instant};

use super::model::*;
use super::text::name_list;
use crate::os::threads::OsThread;
use crate::threads::report::{ThreadInfo, ThreadPanic};
use crate::tracking::{Frame, PlainPanic, ThreadOrigin};

/// `text` with what changes from run to run (durations, this file's line numbers)
/// replaced by placeholders.
fn redact(text: &str) -> String {
    let text = text.replace("src/leaks/report/tests.rs:", "tests.rs:");
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // tests.rs:LINE:COL
        if text_at(&chars, i, "tests.rs:") {
            out.push_str("tests.rs:[line]");
            i += "tests.rs:".len();
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == ':') {
                i += 1;
            }
            continue;
        }
        // A number followed by a unit of time: 5.01s, 120.3ms, 7µs, 3ns.
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric()) {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            let unit = ["ms", "µs", "ns", "s"].into_iter().find(|u| {
                text_at(&chars, j, u)
                    && !chars
                        .get(j + u.chars().count())
                        .is_some_and(|c| c.is_alphanumeric())
            });
            if let Some(unit) = unit {
                out.push_str("[duration]");
                i = j + unit.chars().count();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn text_at(chars: &[char], at: usize, word: &str) -> bool {
    word.chars()
        .enumerate()
        .all(|(k, c)| chars.get(at + k) == Some(&c))
}

fn info(name: &str, container: &str, at: &'static Location<'static>) -> ThreadInfo {
    ThreadInfo {
        name: name.into(),
        container: container.into(),
        spawned_at: at,
        started: Instant::now() - Duration::from_secs(5),
        os_tid: None,
        is_task: false,
        stop_callback: false,
    }
}

fn report() -> LeakReport {
    LeakReport {
        test: "cache::refreshes".into(),
        test_function: "it::cache::refreshes".into(),
        stragglers: Vec::new(),
        unmanaged: Vec::new(),
        processes: Vec::new(),
        panics: Vec::new(),
        unmanaged_check: UnmanagedCheck::Tracked,
        tasks: TaskFindings::default(),
        plain_panics: Vec::new(),
        timed_out: None,
        processes_fate: None,
        warned: Warned::default(),
        teardown: Teardown::default(),
    }
}

fn os(tid: u32, name: &str, blocked_in: Option<&str>) -> OsThread {
    OsThread {
        tid,
        name: name.into(),
        state: 'S',
        blocked_in: blocked_in.map(Into::into),
    }
}

fn frame(function: &str, file: &str, line: u32) -> Frame {
    Frame {
        function: function.into(),
        file: Some(file.into()),
        line: Some(line),
    }
}

fn unmanaged(tid: u32, name: &str, origin: Option<ThreadOrigin>) -> UnmanagedThread {
    UnmanagedThread {
        os: os(tid, name, Some("futex_wait_queue")),
        managed: None,
        inherited_name: false,
        origin,
        stack: None,
    }
}

fn origin(created_at: Option<Frame>, functions: &[&str]) -> ThreadOrigin {
    ThreadOrigin {
        created_at,
        creator: "cache::refresh".into(),
        creator_tid: 4100,
        age: Some(Duration::from_millis(1500)),
        functions: functions.iter().map(|f| f.to_string()).collect(),
        known_pool: None,
        known_fix: None,
    }
}

macro_rules! snapshot {
    ($name:literal, $report:expr) => {
        insta::assert_snapshot!($name, redact(&$report.to_string()))
    };
}

#[test]
fn a_managed_straggler_with_its_stack() {
    let mut r = report();
    r.stragglers = vec![Straggler {
        info: info("refresher", "test:cache::refreshes", Location::caller()),
        os: Some(os(4242, "refresher", Some("hrtimer_nanosleep"))),
        stack: Some(vec![
            frame(
                "std::thread::sleep",
                "library/std/src/thread/functions.rs",
                289,
            ),
            frame("it::cache::refresh_loop", "src/cache.rs", 42),
        ]),
    }];
    assert_eq!((r.leaked(), r.findings()), (1, 1));
    snapshot!("managed_straggler", r);
}

#[test]
fn a_pool_of_identical_stragglers_is_one_line_with_every_name() {
    let at = Location::caller();
    let mut r = report();
    r.stragglers = (0..16)
        .map(|i| Straggler {
            info: info(&format!("worker-{i}"), "test:cache::refreshes/pool", at),
            os: None,
            stack: None,
        })
        .collect();
    assert_eq!(r.leaked(), 16);
    snapshot!("grouped_pool", r);
}

#[test]
fn an_unmanaged_thread_leads_with_its_fix_and_offers_no_waiver() {
    let mut r = report();
    let mut thread = unmanaged(
        4300,
        "config-watcher",
        Some(origin(
            Some(frame("it::watch::ConfigWatcher::watch", "src/watch.rs", 31)),
            &["it::watch::ConfigWatcher::watch"],
        )),
    );
    thread.stack = Some(vec![
        frame(
            "std::thread::park_timeout",
            "library/std/src/thread/functions.rs",
            400,
        ),
        frame(
            "it::watch::ConfigWatcher::watch::{{closure}}",
            "src/watch.rs",
            40,
        ),
    ]);
    r.unmanaged = vec![thread];
    snapshot!("unmanaged_with_fix", r);
}

#[test]
fn a_known_librarys_thread_gets_its_fix() {
    let mut r = report();
    let mut o = origin(
        Some(frame("it::logs::start", "src/logs.rs", 12)),
        &[
            "tracing_appender::worker::Worker<W>::worker_thread",
            "it::logs::start",
        ],
    );
    o.known_fix = crate::tracking::known::object_fix(&o.functions);
    assert!(o.known_fix.is_some());
    r.unmanaged = vec![unmanaged(4301, "tracing-appende", Some(o))];
    snapshot!("known_library_fix", r);
}

#[test]
fn a_thread_kept_for_the_process_with_the_default_lists_off_gets_an_exact_glob() {
    let mut r = report();
    r.unmanaged = vec![unmanaged(
        4302,
        "cache::refresh",
        Some(origin(
            Some(frame("it::mock::Server::start", "src/mock.rs", 33)),
            &[
                "it::mock::Server::start",
                "it::mock::ServerPool::get::{{closure}}",
            ],
        )),
    )];
    let text = r.to_string();
    assert!(
        text.contains(
            "`ignore_threads = \"it::mock::ServerPool::get, it::mock::ServerPool::get::*\"`"
        ),
        "{text}"
    );
    snapshot!("kept_for_the_process_lists_off", r);
}

#[test]
fn a_thread_made_by_inlined_code_says_what_made_it() {
    let mut r = report();
    r.unmanaged = vec![
        unmanaged(
            4400,
            "cache::refresh",
            Some(origin(
                None,
                &[
                    "pthread_create",
                    "std::thread::lifecycle::spawn_unchecked",
                    "iris::leaks::harness::run_test",
                ],
            )),
        ),
        unmanaged(
            4401,
            "server",
            Some(origin(
                None,
                &[
                    "pthread_create",
                    "std::thread::lifecycle::spawn_unchecked",
                    "futures_util::stream::stream::StreamExt::poll_next_unpin",
                ],
            )),
        ),
    ];
    snapshot!("inlined_creators", r);
}

#[test]
fn unnamed_threads_say_whose_name_they_carry_and_point_to_tracking() {
    let mut r = report();
    r.unmanaged_check = UnmanagedCheck::Checked;
    let mut a = unmanaged(11, "chan3::main", None);
    a.inherited_name = true;
    let mut b = unmanaged(12, "chan3::main", None);
    b.inherited_name = true;
    r.unmanaged = vec![a, b, unmanaged(13, "chan4::main", None)];
    let text = r.to_string();
    assert!(!text.contains("chanN"), "names are never rewritten: {text}");
    snapshot!("unnamed_threads", r);
}

#[test]
fn two_thousand_identical_threads_are_one_short_line() {
    let mut r = report();
    r.unmanaged = (0..2000)
        .map(|i| unmanaged(1000 + i, "spinner", None))
        .collect();
    let text = r.to_string();
    let line = text
        .lines()
        .find(|l| l.contains("2000x"))
        .unwrap_or_else(|| panic!("one grouped line: {text}"));
    assert!(line.len() < 200, "{line}");
    snapshot!("two_thousand_threads", r);
}

#[test]
fn processes_managed_and_not() {
    let mut r = report();
    r.processes = vec![
        LeakedProcess {
            pid: 5001,
            command_line: "sh -c 'trap '' TERM; sleep 5'".into(),
            state: Some('S'),
            name: Some("deaf".into()),
            container: Some("test:cache::refreshes/deaf".into()),
            exited: false,
        },
        LeakedProcess {
            pid: 5002,
            command_line: "sleep 3".into(),
            state: None,
            name: Some("late".into()),
            container: Some("test:cache::refreshes/late".into()),
            exited: true,
        },
        LeakedProcess {
            pid: 42,
            command_line: "[printf]".into(),
            state: Some('Z'),
            name: None,
            container: None,
            exited: false,
        },
    ];
    r.processes_fate = Some(ProcessFate::Ended);
    assert_eq!(r.findings(), 3);
    snapshot!("processes", r);
}

#[test]
fn what_an_async_tests_runtime_could_not_end() {
    let mut r = report();
    r.tasks.held_workers = vec![os(4500, "tokio-rt-worker", Some("futex_wait_queue"))];
    r.tasks.blocking = vec![os(4501, "tokio-rt-worker", Some("hrtimer_nanosleep"))];
    r.tasks.stacks.insert(
        4501,
        vec![
            frame(
                "std::thread::sleep",
                "library/std/src/thread/functions.rs",
                289,
            ),
            frame("it::cache::load::{{closure}}", "src/cache.rs", 77),
        ],
    );
    assert_eq!(r.leaked_tasks(), 2);
    snapshot!("runtime_could_not_end", r);
}

// Blocking detection is the tokio feature's: its finding has a text of its own, so
// that every other snapshot reads the same with and without the feature.
#[cfg(feature = "tokio")]
#[test]
fn what_a_blocked_runtime_says() {
    let mut r = report();
    r.tasks.blocked.push(BlockedWorker {
        os: os(4502, "tokio-rt-worker", Some("futex_wait_queue")),
        held_for: Duration::from_millis(400),
        stack: Some(vec![frame("it::cache::lock_it", "src/cache.rs", 90)]),
    });
    snapshot!("blocked_runtime", r);
}

#[test]
fn what_the_teardown_ended_is_a_finding_only_when_counted() {
    let mut r = report();
    r.teardown.stopped = vec![info(
        "refresher",
        "test:cache::refreshes",
        Location::caller(),
    )];
    r.teardown.stopped_processes = vec!["sidecar".into()];
    let mut task = info("reconnector", "test:cache::refreshes", Location::caller());
    task.is_task = true;
    r.teardown.cancelled_tasks = vec![task];
    r.tasks.plain = 2;
    r.tasks.plain_sites = Some(vec!["src/api.rs:60:5".into(), "src/api.rs:60:5".into()]);
    // Not counted (the default): no finding, and nothing to say.
    assert!(r.is_clean());
    assert_eq!((r.findings(), r.ended_by_teardown()), (0, 5));
    insta::assert_snapshot!("teardown_warning", redact(&r.teardown_warning().unwrap()));
    r.teardown.counted = true;
    assert_eq!(r.findings(), 5);
    snapshot!("teardown_counted", r);
}

#[test]
fn paused_time_is_said_only_when_the_clock_moved() {
    let mut r = report();
    r.teardown.counted = true;
    r.tasks.plain = 1;
    r.tasks.plain_paused_for = Some(Duration::from_millis(3_600_004));
    assert!(r
        .to_string()
        .contains("and after 3600s more of paused time"));
    // A running `spawn_blocking` held the clock: no claim about paused time.
    r.tasks.plain_paused_for = Some(Duration::ZERO);
    assert!(!r.to_string().contains("paused time"));
}

#[test]
fn background_panics_only() {
    let mut r = report();
    r.panics = vec![ThreadPanic {
        thread_name: "boom".into(),
        container: "test:cache::refreshes".into(),
        message: "bad \"quote\"".into(),
    }];
    r.plain_panics = vec![PlainPanic {
        thread: "loader".into(),
        tid: 4600,
        message: "index out of bounds".into(),
        location: Some("src/cache.rs:12:9".into()),
        origin: Some(origin(
            Some(frame("it::cache::load", "src/cache.rs", 10)),
            &["it::cache::load"],
        )),
    }];
    assert_eq!(r.findings(), 2);
    snapshot!("background_panics", r);
    insta::assert_snapshot!(
        "thread_panic_warning",
        redact(&super::thread_panic_warning(
            "cache::refreshes",
            &r.plain_panics
        ))
    );
}

#[test]
fn names_are_listed_as_they_are_and_cut_after_eight() {
    assert_eq!(name_list(["w-1", "w-2"].into_iter()), "\"w-1\", \"w-2\"");
    let many: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    assert!(name_list(many.iter().map(String::as_str)).ends_with("\"t7\", and 2 more"));
}

#[test]
fn the_redaction_keeps_words_and_hides_what_changes() {
    assert_eq!(
        redact("alive for 5.01s, 120.3ms ago at src/leaks/report/tests.rs:77:9 in pool2s"),
        "alive for [duration], [duration] ago at tests.rs:[line] in pool2s"
    );
}

#[test]
fn the_json_line_counts_every_finding_with_its_kind() {
    let mut r = report();
    r.panics = vec![ThreadPanic {
        thread_name: "boom".into(),
        container: "test:t".into(),
        message: "bad \"quote\"".into(),
    }];
    let line = r.to_json_line();
    assert!(!line.contains('\n'));
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(json["test"], "cache::refreshes");
    assert_eq!(json["panics"][0]["message"], "bad \"quote\"");
    assert_eq!(json["leaked"], 1);
    assert_eq!(json["counts"]["panics"], 1);
    assert_eq!(json["counts"]["threads"], 0);
    assert_eq!(json["teardown"]["counted"], false);
}
