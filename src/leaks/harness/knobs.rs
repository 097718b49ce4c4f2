//! The `IRIS_*` environment variables: which exist, and reading every one of them
//! when the process's first test begins, so that a bad value is one line on stderr
//! at once, not a surprise at the end of the run (or never, for a knob read only
//! when a test hangs).
//!
//! Invariants:
//! - Each variable is read and checked by its own getter, once per process; this
//!   module only calls them early. A bad value is said by `os::runner::bad_knob`:
//!   once, at once, with what Iris does instead.
//! - A variable named `IRIS_*` that Iris does not know is said once, with the known
//!   name closest to it (`IRIS_LEAK` → `IRIS_LEAKS`): a misspelt knob is otherwise a
//!   silent no-op.

use std::sync::Once;

use crate::leaks::harness::options;
use crate::leaks::output;
use crate::leaks::watchers::hang_doctor;

/// Every environment variable Iris reads, with what it sets (the guide documents
/// each).
pub(crate) const KNOBS: &[(&str, &str)] = &[
    (
        "IRIS_LEAKS",
        "the leak policy for the run: fail, warn or ignore",
    ),
    (
        "IRIS_THREAD_PANICS",
        "what a plain thread's unjoined panic is worth",
    ),
    ("IRIS_TASK_PANICS", "what a plain task's panic is worth"),
    (
        "IRIS_TEARDOWN",
        "what the teardown had to stop or cancel is worth",
    ),
    ("IRIS_BLOCKING", "the blocking-in-async threshold, or off"),
    ("IRIS_IGNORE_THREADS", "globs of threads never reported"),
    (
        "IRIS_IGNORE_TASKS",
        "globs of plain tasks' spawn sites never reported",
    ),
    (
        "IRIS_DEFAULT_IGNORES",
        "on or off: the default process-scoped lists",
    ),
    ("IRIS_HANG_DUMP", "when a running test is dumped, or off"),
    (
        "IRIS_CHAOS",
        "schedule chaos for every test: on, off, or a seed",
    ),
    (
        "IRIS_STRESS",
        "a stress run: each test's iterations (200) or time (30s)",
    ),
    (
        "IRIS_LEAK_REPORT",
        "a file findings are appended to as JSON lines",
    ),
    ("IRIS_LOG", "the log filter of the subscriber Iris installs"),
    (
        "IRIS_TIMEOUT_SCALE",
        "a factor applied to default wait timeouts",
    ),
    ("IRIS_SENTINEL_POLLING", "1 makes sentinel files poll"),
];

/// Reads every knob once (the first test of the process calls it; later calls
/// return at once).
pub(crate) fn check_environment() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        options::read_environment();
        hang_doctor::read_environment();
        let _ = output::leak_report_path();
        let _ = output::log_filter();
        let _ = crate::wait::condition::timeout_scale();
        let _ = crate::leaks::harness::stress::env_stress();
        let _ = crate::leaks::harness::chaos::env_chaos();
        #[cfg(feature = "sentinel")]
        let _ = crate::wait::sentinel::polling_forced();
        for name in std::env::vars_os().filter_map(|(name, _)| name.into_string().ok()) {
            if let Some(why) = unknown(&name) {
                crate::os::runner::at_once_once(&name, &format!("iris: ignoring {name}: {why}"));
            }
        }
    });
}

/// Why `name` is an `IRIS_*` variable Iris does not read, if it is one.
fn unknown(name: &str) -> Option<String> {
    if !name.starts_with("IRIS_") || KNOBS.iter().any(|(known, _)| *known == name) {
        return None;
    }
    Some(
        match crate::text::suggest::closest(name, KNOBS.iter().map(|(known, _)| *known)) {
            Some(known) => format!("Iris has no such variable: did you mean {known}?"),
            None => format!(
                "Iris has no such variable (it reads {})",
                KNOBS
                    .iter()
                    .map(|(known, _)| *known)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_variable_gets_the_closest_name_and_a_known_one_nothing() {
        assert!(unknown("IRIS_LEAK")
            .unwrap()
            .contains("did you mean IRIS_LEAKS?"));
        assert!(unknown("IRIS_HANGDUMP")
            .unwrap()
            .contains("did you mean IRIS_HANG_DUMP?"));
        assert!(unknown("IRIS_PLUGH_XYZZY_QUUX")
            .unwrap()
            .contains("it reads IRIS_LEAKS"));
        assert_eq!(unknown("IRIS_LEAKS"), None);
        assert_eq!(unknown("RUST_LOG"), None);
        assert_eq!(unknown("IRISH_SEA"), None);
    }
}
