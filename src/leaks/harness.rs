//! [`run_test`] and [`run_test_with_timeout`]: what `#[iris_test]` expands to, a
//! test body run inside a [`TestScope`] and settled into a verdict.
//!
//! Invariants:
//! - The body's own panic always wins (so `#[should_panic]` works); a report found
//!   beside it goes to stderr.
//! - A failure is raised at the user's test (`#[track_caller]` all the way down),
//!   never inside Iris.
//! - With a timeout, the body runs on its own thread and the test fails on time,
//!   whatever the body does; that thread belongs to the test and is never a leak.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use std::time::Duration;

use super::options::TestOptions;
use super::output;
use super::scope::TestScope;
use crate::sync::completion::{Completion, NoValue};
use crate::sync::deadline::Deadline;
use crate::threads::context;
use crate::threads::managed_thread::current_os_tid;

/// Runs one test body inside a [`TestScope`]; what `#[iris_test]` expands to.
///
/// The body's own panic always wins (so `#[should_panic]` works), with any leak
/// report printed beside it; otherwise a finding fails the test under
/// [`LeakPolicy::Fail`]. `Result`-returning bodies pass their result through.
#[track_caller]
pub fn run_test<T>(options: TestOptions, body: impl FnOnce() -> T) -> T {
    let scope = TestScope::begin(options);
    let outcome = catch_unwind(AssertUnwindSafe(body));
    settle(scope, outcome)
}

/// [`run_test`] with the body on its own thread, so that a body still running after
/// `timeout` fails the test (with a dump of its live threads) instead of hanging the
/// run. The failure shows where the body is stuck; the body's thread belongs to the
/// test and is never reported as a leak (it is left behind: nothing can stop it).
#[track_caller]
pub fn run_test_with_timeout<T: Send + 'static>(
    options: TestOptions,
    timeout: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let mut scope = TestScope::begin(options);
    let result = std::sync::Arc::new(Completion::new());
    let slot = result.clone();
    let body_tid = std::sync::Arc::new(OnceLock::new());
    let tid_slot = body_tid.clone();
    // The body's thread inherits the test's scope (just opened on this thread), the
    // subscriber and the span, as a managed thread would.
    let inherited = context::capture();
    let thread_name = scope.options.name().to_string();
    let spawned = std::thread::Builder::new()
        .name(thread_name)
        .spawn(move || {
            if let Some(tid) = current_os_tid() {
                let _ = tid_slot.set(tid);
            }
            let outcome = inherited.run(|| catch_unwind(AssertUnwindSafe(body)));
            drop(slot.complete(outcome));
        });
    let handle = match spawned {
        Ok(handle) => handle,
        Err(error) => panic!("iris: cannot start the test body's thread: {error}"),
    };
    match result.take(Deadline::after(timeout)) {
        Ok(outcome) => {
            let _ = handle.join();
            settle(scope, outcome)
        }
        Err(NoValue::TimedOut) => {
            scope.body_tid = body_tid.get().copied();
            let dump = scope.live_threads();
            let name = scope.options.name().to_string();
            drop(handle); // detached: it cannot be stopped from here
                          // Unwinding drops the scope, which still stops the test's registry and
                          // reports what outlived it beside this failure.
            panic!(
                "iris: test `{name}` timed out after {timeout:?}: its body is still running.\n{dump}\n  \
                 hint: the body itself did not finish; its state above says where it waits. \
                 Raise `timeout` only if the work is really that slow; see docs/thread-safety.md, \
                 \"Debugging a hanging test\""
            );
        }
        Err(NoValue::Abandoned) => panic!("iris: the test body's thread ended without a result"),
    }
}

#[track_caller]
pub(crate) fn settle<T>(mut scope: TestScope, outcome: std::thread::Result<T>) -> T {
    match outcome {
        Ok(value) => match scope.conclude() {
            Ok(()) => value,
            Err(report) => panic!("{report}"),
        },
        Err(payload) => {
            if let Err(report) = scope.conclude() {
                output::about_test(&format!(
                    "{report}\n  (reported beside the test's own panic)"
                ));
            }
            resume_unwind(payload)
        }
    }
}
