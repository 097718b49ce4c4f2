//! How the tests of this process are run (nextest, libtest with one thread, libtest in
//! parallel), and how Iris speaks to the user without breaking the runner's lines:
//! notes about the whole run, text about one test, the watchdog's words.
//!
//! Invariants:
//! - Under libtest with one test thread, libtest has written `test NAME ... ` and
//!   waits to finish the line: anything written to the real stderr then would land
//!   inside it. So text about a test goes through the test's captured output there.
//! - Elsewhere (parallel libtest, nextest) text is written to the real stderr in one
//!   write of whole lines, which libtest's whole-line output cannot split, and which
//!   nextest captures per test.
//! - A note about the whole run is written once per process for each key.
//! - Only the watchdog, which speaks while a test may hang forever, writes to the
//!   real stderr in every mode; under a one-thread libtest it starts a fresh line.
//!
//! It sits with `os/` because every layer may need to warn about the environment
//! (a bad `IRIS_TIMEOUT_SCALE` is read by the waits).
// Parts of this serve only the test harness (feature `harness`).
#![cfg_attr(not(feature = "harness"), allow(dead_code))]

use std::io::Write;
use std::sync::{Mutex, OnceLock};

/// How the tests of this process are being run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Runner {
    /// cargo-nextest: one test per process.
    Nextest,
    /// libtest with one test thread: the process runs one test at a time.
    LibtestSerial,
    /// libtest running tests in parallel in this process (or an unknown harness).
    Shared,
}

/// The runner, read once from the environment and the command line.
pub(crate) fn runner() -> Runner {
    static RUNNER: OnceLock<Runner> = OnceLock::new();
    *RUNNER.get_or_init(|| {
        if std::env::var("NEXTEST_EXECUTION_MODE").is_ok_and(|m| m == "process-per-test") {
            return Runner::Nextest;
        }
        let args: Vec<String> = std::env::args().collect();
        let one_thread = std::env::var("RUST_TEST_THREADS").is_ok_and(|n| n.trim() == "1")
            || args.iter().any(|a| a == "--test-threads=1")
            || args
                .windows(2)
                .any(|w| w[0] == "--test-threads" && w[1] == "1");
        if one_thread {
            Runner::LibtestSerial
        } else {
            Runner::Shared
        }
    })
}

/// Text about one test (a report under `warn`, a report beside the test's own
/// panic): through the test's captured output where libtest is mid-line, else in one
/// write of whole lines to the real stderr.
pub(crate) fn about_test(text: &str) {
    match runner() {
        Runner::LibtestSerial => eprintln!("{text}"),
        Runner::Nextest | Runner::Shared => whole_lines_to_stderr(text),
    }
}

/// A report the test runner would hide or that would break its lines: a passing
/// test's warning. Under nextest (a process per test) it is written at once, into
/// the test's own output; under libtest it is kept for the end of the run.
pub(crate) fn after_the_run(text: &str) {
    match runner() {
        Runner::Nextest => whole_lines_to_stderr(text),
        Runner::LibtestSerial | Runner::Shared => super::at_exit::keep(text.to_string()),
    }
}

/// A note about the whole run, written once per process for each `key`.
pub(crate) fn note_once(key: &'static str, text: &str) {
    static SAID: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if said.contains(&key) {
        return;
    }
    said.push(key);
    drop(said);
    about_run(text);
}

/// A warning or note about the run (a bad environment variable, a check that cannot
/// run): where it is always seen and breaks no runner line (see
/// [`after_the_run`]).
pub(crate) fn about_run(text: &str) {
    after_the_run(text);
}

/// A value of the environment variable `variable` that Iris cannot use: one line on
/// the real stderr, at once (a knob matters while the run goes on: a bad
/// `IRIS_HANG_DUMP` during a hang), once per variable. `instead` says what Iris does
/// in its place.
///
/// `iris: ignoring IRIS_HANG_DUMP="abc": no unit ...; dumping tests running over 60s`
pub(crate) fn bad_knob(variable: &str, text: &str, why: &str, instead: &str) {
    at_once_once(
        variable,
        &format!("iris: ignoring {variable}={text:?}: {why}; {instead}"),
    );
}

/// `text` on the real stderr at once, the first time `key` is given in this process.
pub(crate) fn at_once_once(key: &str, text: &str) {
    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if said.iter().any(|k| k == key) {
        return;
    }
    said.push(key.to_string());
    drop(said);
    from_watchdog(text);
}

/// The watchdog's words: the test may never end, so they cannot wait for its
/// captured output to be shown.
pub(crate) fn from_watchdog(text: &str) {
    if runner() == Runner::LibtestSerial {
        whole_lines_to_stderr(&format!("\n{text}"));
    } else {
        whole_lines_to_stderr(text);
    }
}

/// One write of `text` and a newline to the process's stderr, bypassing libtest's
/// capture.
pub(crate) fn whole_lines_to_stderr(text: &str) {
    let line = format!("{text}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
