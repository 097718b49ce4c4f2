//! Where Iris's own words go, so that the test runner's lines stay intact: reports,
//! warnings, notes, the watchdog's dump, `IRIS_LEAK_REPORT` JSON lines, and the
//! log subscriber a test gets when it has none.
//!
//! Invariants:
//! - Under libtest with one test thread, libtest has written `test NAME ... ` and
//!   waits to finish the line: anything written to the real stderr then would land
//!   inside it. So a test's report goes through the test's captured output (libtest
//!   shows it with the test's failure, or with `--nocapture`/`--show-output`).
//! - Elsewhere (parallel libtest, nextest) a report is written to the real stderr in
//!   one write of whole lines, which libtest's whole-line output cannot split, and
//!   which nextest captures per test.
//! - A note about the whole run is written once per process.
//! - Only the watchdog, which speaks while a test may hang forever, writes to the
//!   real stderr in every mode; under a one-thread libtest it starts a fresh line.

use std::io::Write;
use std::sync::OnceLock;

use super::lazy_logger::LazyLogger;
use super::report::LeakReport;
pub(crate) use crate::os::runner::{
    about_run, about_test, after_the_run, from_watchdog, note_once, runner, Runner,
};

/// Appends the report as one JSON line to `IRIS_LEAK_REPORT`, if set. A relative path
/// is relative to the test process's working directory, which cargo sets to the
/// package's directory.
pub(crate) fn append_json(report: &LeakReport) {
    let Some(path) = std::env::var_os("IRIS_LEAK_REPORT") else {
        return;
    };
    let line = format!("{}\n", report.to_json_line());
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        // One write of the whole line: appends from parallel test processes do not
        // interleave within a line.
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(error) = written {
        let shown = std::path::absolute(&path).unwrap_or_else(|_| path.clone().into());
        about_run(&format!(
            "iris: cannot append to IRIS_LEAK_REPORT={}: {error}",
            shown.display()
        ));
    }
}

/// The level filter of the log subscriber Iris installs: `IRIS_LOG`, else `RUST_LOG`
/// (directives such as `info,my_crate=debug`: a default level and levels per
/// target), else `info`. A value that does not parse (span and field filters are
/// not taken: they would need `tracing-subscriber`'s regex-based `EnvFilter`, which
/// more than doubled every test binary) is warned about once and `info` is used.
/// `None` means `info`.
fn log_filter() -> Option<tracing_subscriber::filter::Targets> {
    for variable in ["IRIS_LOG", "RUST_LOG"] {
        let Ok(text) = std::env::var(variable) else {
            continue;
        };
        return match text.parse::<tracing_subscriber::filter::Targets>() {
            Ok(filter) => Some(filter),
            Err(error) => {
                note_once(
                    "log-filter",
                    &format!("iris: ignoring {variable}={text:?} ({error}); logging at info"),
                );
                None
            }
        };
    }
    None
}

/// Installs a subscriber writing to the test's captured output when there is none.
/// The subscriber is built once per process (its filter is parsed once) and shared:
/// it keeps no state of its own, and the test writer finds each test's capture.
pub(crate) fn install_test_logger() -> Option<tracing::subscriber::DefaultGuard> {
    static LOGGER: OnceLock<tracing::Dispatch> = OnceLock::new();
    // Whether this thread has a subscriber: its own scoped one, or the global one
    // (`get_default` falls back to it). Not `dispatcher::has_been_set()`: it also
    // turns true for good the first time any thread sets a *scoped* default, such as
    // the one installed below for the first test, and every later test in the
    // process then got no logger at all (their background logs vanished).
    let unset = tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>());
    if !unset {
        return None;
    }
    let logger = LOGGER.get_or_init(|| match log_filter() {
        // The common case (neither variable set) needs no directive parser, and most
        // tests never log: the subscriber is built by the first line that passes.
        None => tracing::Dispatch::new(LazyLogger::new(
            tracing::level_filters::LevelFilter::INFO,
            || {
                tracing::Dispatch::new(
                    tracing_subscriber::fmt()
                        .with_test_writer()
                        .with_ansi(false)
                        .with_max_level(tracing::Level::INFO)
                        .finish(),
                )
            },
        )),
        Some(filter) => {
            use tracing_subscriber::layer::SubscriberExt;
            tracing::Dispatch::new(
                tracing_subscriber::fmt()
                    .with_test_writer()
                    .with_ansi(false)
                    .with_max_level(tracing::level_filters::LevelFilter::TRACE)
                    .finish()
                    .with(filter),
            )
        }
    });
    Some(tracing::dispatcher::set_default(logger))
}
