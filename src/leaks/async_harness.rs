//! [`run_async_test`]: what `#[iris_test] async fn` expands to (cargo feature
//! `tokio`).
//!
//! Invariants:
//! - Each test gets a fresh runtime, built after its registry scope is open, whose
//!   threads inherit the scope (`tasks::runtime`).
//! - The end of a test is bounded: the registry is stopped without blocking the
//!   runtime (`stop_timeout`), the runtime's remaining tasks get `linger` to finish
//!   while the runtime keeps running them, and the runtime is shut down with a
//!   deadline of `SHUTDOWN_DEADLINE` (250 ms). So a test ends within `stop_timeout + linger`
//!   plus a small constant, even with a `spawn_blocking` that never returns.
//! - The test's own panic wins, as in `run_test`.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::harness::settle;
use super::options::TestOptions;
use super::scope::TestScope;
use crate::os::threads::OsThread;
use crate::sync::deadline::Deadline;
use crate::tasks::runtime::{self, TestRuntime};
use crate::wait::condition::Backoff;

/// How long the runtime of an async test gets to shut down once its tasks had their
/// `linger`: enough for idle pool threads to exit, short enough never to matter.
pub(crate) const SHUTDOWN_DEADLINE: Duration = Duration::from_millis(250);

/// Runs one async test body on a fresh tokio runtime inside a [`TestScope`]; what
/// `#[iris_test] async fn` expands to (cargo feature `tokio`).
///
/// The runtime's flavor and workers come from the options
/// ([`TestOptions::flavor`], [`TestOptions::worker_threads`]); its worker and
/// blocking threads, and every task on it, see the test's registry. With
/// [`TestOptions::timeout`], a body that does not finish in time fails the test (a
/// body that blocks its thread without ever yielding cannot be interrupted; nextest's
/// `slow-timeout` is the backstop for that).
///
/// ```
/// use iris::{get_thread_registry, run_async_test, TestOptions};
///
/// run_async_test(TestOptions::new("doc::async"), async {
///     let stop = get_thread_registry().spawn_task("ticker", |stop| async move {
///         stop.stopped().await;
///     });
///     # drop(stop);
/// }); // the task is stopped by the scope's end; nothing leaked
/// ```
#[track_caller]
pub fn run_async_test<F: Future>(options: TestOptions, body: F) -> F::Output {
    let flavor = options.flavor;
    let workers = options.worker_threads;
    let timeout = options.timeout_value();
    let mut scope = TestScope::begin(options);
    let registry = scope.registry().container().clone();
    let runtime = match runtime::build(flavor, workers, &registry) {
        Ok(runtime) => runtime,
        Err(error) => panic!("iris: cannot build the test's tokio runtime: {error}"),
    };
    let name = scope.options().name().to_string();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        runtime.runtime.block_on(async {
            match timeout {
                None => body.await,
                Some(limit) => match tokio::time::timeout(limit, body).await {
                    Ok(value) => value,
                    Err(_) => panic!(
                        "iris: test `{name}` timed out after {limit:?}: its body did not finish \
                         (see docs/thread-safety.md, \"Debugging a hanging test\")"
                    ),
                },
            }
        })
    }));
    wind_down(&mut scope, runtime);
    settle(scope, outcome)
}

/// Stops the test's registry without blocking the runtime, gives the runtime's
/// remaining tasks `linger`, shuts the runtime down with a deadline, and records in
/// the scope what was left.
fn wind_down(scope: &mut TestScope, test_runtime: TestRuntime) {
    let TestRuntime { runtime, threads } = test_runtime;
    let registry = scope.registry().container().clone();
    let stop_timeout = scope.options().stop_timeout_value();
    let linger = scope.options().linger_value();
    // The scope's close only looks after this. Tasks that did not stop are taken
    // from this verdict: the runtime's shutdown below drops them, and a dropped task
    // is no longer alive to be found.
    if let Err(error) = runtime.block_on(registry.stop_async(stop_timeout)) {
        scope.tasks.stragglers = error
            .stragglers()
            .iter()
            .filter(|s| s.is_task())
            .cloned()
            .collect();
    }
    scope.already_stopped = true;

    let metrics = runtime.handle().metrics();
    let managed_left = || registry.alive_tasks().len();
    let deadline = Deadline::after(linger);
    runtime.block_on(async {
        let backoff = Backoff::new(Duration::from_micros(50), Duration::from_millis(10));
        while metrics.num_alive_tasks() > managed_left() && !deadline.is_expired() {
            tokio::time::sleep(
                backoff
                    .next_pause()
                    .min(deadline.remaining().unwrap_or(Duration::MAX)),
            )
            .await;
        }
    });
    let plain = metrics.num_alive_tasks().saturating_sub(managed_left());

    let started = Instant::now();
    runtime.shutdown_timeout(SHUTDOWN_DEADLINE);
    // Idle pool threads leave at the shutdown; give them the rest of the deadline.
    let left_deadline = Deadline::after(SHUTDOWN_DEADLINE.saturating_sub(started.elapsed()));
    let backoff = Backoff::new(Duration::from_micros(50), Duration::from_millis(5));
    while !threads.lock().is_empty() && !left_deadline.is_expired() {
        left_deadline.sleep_at_most(backoff.next_pause());
    }
    let stuck: Vec<u32> = threads.lock().clone();
    scope.tasks.plain = plain;
    scope.tasks.blocking = OsThread::sample(&stuck);
    scope.runtime_tids = stuck.into_iter().collect();
}
