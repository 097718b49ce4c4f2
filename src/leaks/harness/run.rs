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

use crate::leaks::harness::fail::fail;
use crate::leaks::harness::options::TestOptions;
use crate::leaks::harness::scope::TestScope;
use crate::leaks::output;
use crate::leaks::watchers::hang_doctor;
use crate::sync::completion::{Completion, NoValue};
use crate::sync::deadline::Deadline;
use crate::threads::context;
use crate::threads::managed_thread::current_os_tid;

/// Runs one test body inside a [`TestScope`]; what `#[iris_test]` expands to.
///
/// The body's own panic always wins (so `#[should_panic]` works), with any leak
/// report printed beside it; otherwise a finding fails the test under
/// [`LeakPolicy::Fail`](crate::LeakPolicy::Fail). `Result`-returning bodies pass their result through.
#[track_caller]
pub fn run_test<T>(mut options: TestOptions, body: impl FnOnce() -> T) -> T {
    options.body.written_at = Some(std::panic::Location::caller());
    let scope = TestScope::begin(options);
    let outcome = catch_unwind(AssertUnwindSafe(body));
    settle(scope, outcome)
}

/// [`run_test`] with the body on its own thread, so that a body still running after
/// `timeout` fails the test (with a dump of where it and its threads are) instead of
/// hanging the run. The failure shows where the body is stuck; the body's thread
/// belongs to the test and is never reported as a leak (it is left behind: nothing
/// can stop it).
#[track_caller]
pub fn run_test_with_timeout<T: Send + 'static>(
    mut options: TestOptions,
    timeout: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    options.body.written_at = Some(std::panic::Location::caller());
    let scope = TestScope::begin(options);
    match on_body_thread(&scope, timeout, body) {
        Timed::Finished(outcome) => settle(scope, outcome),
        Timed::Late { body_tid } => fail_late(scope, timeout, body_tid),
    }
}

/// How a body run on its own thread ended.
pub(crate) enum Timed<T> {
    /// In time: its value or its panic.
    Finished(std::thread::Result<T>),
    /// Still running at the timeout, on the thread with this id.
    Late { body_tid: Option<u32> },
}

/// Runs `body` on a thread of its own that inherits the test's scope (just opened on
/// this thread), the subscriber and the span, as a managed thread would; waits for it
/// until `timeout`. A late body's thread is left running (nothing can stop it).
#[track_caller]
pub(crate) fn on_body_thread<T: Send + 'static>(
    scope: &TestScope,
    timeout: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> Timed<T> {
    let result = std::sync::Arc::new(Completion::new());
    let slot = result.clone();
    let body_tid = std::sync::Arc::new(OnceLock::new());
    let tid_slot = body_tid.clone();
    let admission = scope.watched.as_ref().map(|a| a.id());
    let inherited = context::capture();
    let spawned = std::thread::Builder::new()
        .name(scope.options.name().to_string())
        .spawn(move || {
            if let Some(tid) = current_os_tid() {
                let _ = tid_slot.set(tid);
                if let Some(admission) = admission {
                    hang_doctor::body_runs_on(admission, tid);
                }
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
            Timed::Finished(outcome)
        }
        Err(NoValue::TimedOut) => Timed::Late {
            body_tid: body_tid.get().copied(),
        },
        Err(NoValue::Abandoned) => panic!("iris: the test body's thread ended without a result"),
    }
}

/// Fails a test whose body ran past `timeout`: one message, raised at the test, with
/// where the body and its threads are now and what the scope's stop left behind, so
/// that the runner's output (and nextest's JUnit) carries all of it.
#[track_caller]
pub(crate) fn fail_late(mut scope: TestScope, timeout: Duration, body_tid: Option<u32>) -> ! {
    scope.body_tid = body_tid;
    let dump = scope.live_threads();
    let name = scope.options.name().to_string();
    let hint = if scope.options.body.is_async {
        "the body itself did not finish: it waits at an `.await` that nothing wakes, or \
         blocks its thread (its thread's state above tells which); the threads, tasks and \
         processes above are what it may be waiting for"
    } else {
        "the body itself did not finish; its thread's stack above says where it waits"
    };
    let left = match scope.conclude_late(timeout) {
        Some(report) => format!("\n  and when the test's registry was stopped:\n{report}"),
        None => String::new(),
    };
    fail(format!(
        "iris: test `{name}` timed out after {timeout:?}: its body is still running.\n{dump}\n  \
         hint: {hint}. \
         Raise `timeout` only if the work is really that slow; see Iris's guide \
         (`iris::guide` in its API docs, docs/thread-safety.md in its package), \
         \"Debugging a hanging test\"{left}"
    ));
}

#[track_caller]
pub(crate) fn settle<T>(mut scope: TestScope, outcome: std::thread::Result<T>) -> T {
    match outcome {
        Ok(value) => match scope.conclude() {
            Ok(()) => value,
            Err(report) => fail(report.to_string()),
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
