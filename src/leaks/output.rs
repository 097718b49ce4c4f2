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

use crate::leaks::lazy_logger::LazyLogger;
use crate::leaks::report::LeakReport;
pub(crate) use crate::os::runner::{
    about_run, about_test, after_the_run, bad_knob, from_watchdog, note_once, runner, Runner,
};

/// The environment variable `variable` read as a `T`: `None` when it is unset, or
/// when it does not parse, which is said once, at once, by [`bad_knob`] with what
/// Iris does `instead`.
pub(crate) fn parsed_knob<T: std::str::FromStr>(variable: &str, instead: &str) -> Option<T>
where
    T::Err: std::fmt::Display,
{
    let text = std::env::var(variable).ok()?;
    match text.parse() {
        Ok(value) => Some(value),
        Err(why) => {
            bad_knob(variable, &text, &why.to_string(), instead);
            None
        }
    }
}

/// `IRIS_LEAK_REPORT`, checked once: `None` when unset, or when its directory does
/// not exist (said once, at once, by [`bad_knob`]: not once per finding).
pub(crate) fn leak_report_path() -> Option<&'static std::path::Path> {
    static PATH: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::path::PathBuf::from(std::env::var_os("IRIS_LEAK_REPORT")?);
        let shown = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        let directory = shown.parent().map(std::path::Path::to_path_buf);
        if path.as_os_str().is_empty() || path.to_string_lossy().ends_with('/') {
            bad_knob(
                "IRIS_LEAK_REPORT",
                &path.to_string_lossy(),
                "expected a file's path, such as leaks.jsonl",
                "writing no JSON lines",
            );
            return None;
        }
        if let Some(directory) = directory.filter(|d| !d.is_dir()) {
            bad_knob(
                "IRIS_LEAK_REPORT",
                &path.to_string_lossy(),
                &format!(
                    "the directory {} does not exist (a relative path is relative to the \
                     test process's working directory, the package's)",
                    directory.display()
                ),
                "writing no JSON lines",
            );
            return None;
        }
        Some(path)
    })
    .as_deref()
}

/// Appends the report as one JSON line to `IRIS_LEAK_REPORT`, if set. A relative path
/// is relative to the test process's working directory, which cargo sets to the
/// package's directory.
pub(crate) fn append_json(report: &LeakReport) {
    let Some(path) = leak_report_path() else {
        return;
    };
    let line = format!("{}\n", report.to_json_line());
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        // One write of the whole line: appends from parallel test processes do not
        // interleave within a line.
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(error) = written {
        let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        note_once(
            "leak-report-append",
            &format!(
                "iris: cannot append to IRIS_LEAK_REPORT={}: {error} (said once; later lines \
                 are lost too)",
                shown.display()
            ),
        );
    }
}

/// The level filter of the log subscriber Iris installs: `IRIS_LOG`, else `RUST_LOG`
/// (directives such as `info,my_crate=debug`: a default level and levels per
/// target), else `info`. A value that does not parse (span and field filters are
/// not taken: they would need `tracing-subscriber`'s regex-based `EnvFilter`, which
/// more than doubled every test binary) is warned about once and `info` is used.
/// `None` means `info`.
pub(crate) fn log_filter() -> Option<tracing_subscriber::filter::Targets> {
    static FILTER: OnceLock<Option<tracing_subscriber::filter::Targets>> = OnceLock::new();
    FILTER
        .get_or_init(|| {
            for variable in ["IRIS_LOG", "RUST_LOG"] {
                let Ok(text) = std::env::var(variable) else {
                    continue;
                };
                return match parse_log_filter(&text) {
                    Ok(filter) => Some(filter),
                    Err(why) => {
                        bad_knob(variable, &text, &why, "logging at info");
                        None
                    }
                };
            }
            None
        })
        .clone()
}

/// The levels a directive may name.
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Parses log directives as `tracing-subscriber`'s `Targets` does, refusing what it
/// would take silently and what then hides every line: a bare word close to a level
/// (`dbug` is a target named "dbug", not a level), and span, field or regex filters,
/// which `Targets` does not have (`[span]`, `{field}`, `/regex/`), or characters no
/// target can hold.
fn parse_log_filter(text: &str) -> Result<tracing_subscriber::filter::Targets, String> {
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let (target, level) = match directive.split_once('=') {
            Some((target, level)) => (target.trim(), Some(level.trim())),
            None => (directive, None),
        };
        if target.contains(['[', ']', '{', '}', '/']) {
            return Err(format!(
                "{directive:?} filters by span, field or pattern, which Iris's log filter does \
                 not do; write targets and levels, such as \"info,my_crate=debug\""
            ));
        }
        if !target
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '-')
        {
            return Err(format!("{target:?} is not a target or a level"));
        }
        if level.is_none() && !LEVELS.contains(&target.to_ascii_lowercase().as_str()) {
            if let Some(level) = crate::text::suggest::closest(&target.to_ascii_lowercase(), LEVELS)
            {
                return Err(format!(
                    "{target:?} reads as a target, which would hide every other line: did you \
                     mean the level `{level}`?"
                ));
            }
        }
    }
    text.parse::<tracing_subscriber::filter::Targets>()
        .map_err(|error| error.to_string())
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
