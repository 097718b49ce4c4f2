//! [`run_async_test`]: what `#[iris_test] async fn` expands to (cargo feature
//! `tokio`).
//!
//! Invariants:
//! - Each test gets a fresh runtime, built after its registry scope is open, whose
//!   threads inherit the scope (`tasks::runtime`).
//! - The end of a test is bounded: the registry is stopped without blocking the
//!   runtime (`stop_timeout`); then one grace period, `linger`, begins: the
//!   runtime's remaining tasks get it to finish while the runtime keeps running them
//!   (on a one-thread runtime, first in paused time, `tasks::fast_forward`, at most
//!   250 ms of real time), then its child processes get the rest of it (tokio reaps
//!   a dropped `Child` only while a runtime runs), and the runtime is shut down with
//!   a deadline of `SHUTDOWN_DEADLINE` (250 ms); the final look at threads waits only
//!   for what is left of the same grace period (`TestScope::grace`). So a test ends
//!   within `stop_timeout + linger` plus a small constant, even with a
//!   `spawn_blocking` that never returns.
//! - The test's own panic wins, as in `run_test`.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::leaks::harness::options::{BodyKind, LeakPolicy, TestOptions};
use crate::leaks::harness::run::{fail_late, on_body_thread, settle, Timed};
use crate::leaks::harness::scope::{RuntimeEnd, TestScope};
use crate::leaks::harness::survey::LIVE_STACK_PATIENCE;
use crate::leaks::watchers::blocking::BlockingWatch;
use crate::os::threads::OsThread;
use crate::sync::deadline::Deadline;
#[cfg(feature = "tokio-test-util")]
use crate::tasks::fast_forward;
use crate::tasks::runtime::{self, Flavor, TestRuntime};
use crate::tracking;
use crate::wait::condition::Backoff;

/// How long the runtime of an async test gets to shut down once its tasks had their
/// `linger`: enough for idle pool threads to exit, short enough never to matter.
pub(crate) const SHUTDOWN_DEADLINE: Duration = Duration::from_millis(250);

/// How many times the end of an async test yields to the runtime's ready tasks before
/// it waits for the rest on the timer (within `linger`). Bounded, so a task that
/// wakes itself for ever cannot keep the test's end from its deadline.
const EAGER_YIELDS: u32 = 16;

/// Runs one async test body on a fresh tokio runtime inside a [`TestScope`]; what
/// `#[iris_test] async fn` expands to (cargo feature `tokio`).
///
/// The runtime's flavor and workers come from the options
/// ([`TestOptions::flavor`], [`TestOptions::worker_threads`]); its worker and
/// blocking threads, and every task on it, see the test's registry. With
/// [`TestOptions::timeout`], a body that does not finish in time fails the test, but
/// only at an `.await`: a body that blocks its thread cannot be interrupted here. The
/// attribute's `timeout` uses [`run_async_test_with_timeout`], which can.
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
pub fn run_async_test<F: Future>(mut options: TestOptions, body: F) -> F::Output {
    options.body = BodyKind {
        is_async: true,
        written_at: Some(std::panic::Location::caller()),
    };
    let timeout = options.timeout_value();
    let flavor = options.flavor;
    prepare_helpers(&options);
    let mut scope = TestScope::begin(options);
    let runtime = build_runtime(&scope);
    let watch = watch_blocking(&scope, &runtime);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        runtime::block_on(&runtime, flavor, timeout, body)
    }));
    scope.body_done();
    take_blocking(&mut scope, watch);
    wind_down(&mut scope, runtime);
    match outcome {
        // Raised here, at the test's line (`#[track_caller]`), not inside a closure.
        Ok(None) => fail_late(scope, timeout.unwrap_or_default(), None),
        Ok(Some(value)) => settle(scope, Ok(value)),
        Err(payload) => settle(scope, Err(payload)),
    }
}

/// [`run_async_test`] with the body on a thread of its own, so that a body still
/// running after `timeout` fails the test on time whatever it does: awaiting
/// forever, or blocking its thread in a std channel, a lock or `thread::sleep`. What
/// `#[iris_test(timeout = "..")] async fn` expands to.
///
/// `make` builds the body's future on that thread, so the future itself need not be
/// `Send`. The failure, raised at the test, says where the body and the test's
/// threads are and what the scope's stop left behind. A late body's thread and its
/// runtime are left behind (nothing can stop a blocked thread); they belong to the
/// test and are never reported as its leaks.
///
/// ```
/// use std::time::Duration;
/// use iris::{run_async_test_with_timeout, TestOptions};
///
/// let answer = run_async_test_with_timeout(TestOptions::new("doc::timed"), Duration::from_secs(5), || async {
///     tokio::task::yield_now().await;
///     42
/// });
/// assert_eq!(answer, 42);
/// ```
#[track_caller]
pub fn run_async_test_with_timeout<Make, F>(
    mut options: TestOptions,
    timeout: Duration,
    make: Make,
) -> F::Output
where
    Make: FnOnce() -> F + Send + 'static,
    F: Future,
    F::Output: Send + 'static,
{
    options.body = BodyKind {
        is_async: true,
        written_at: Some(std::panic::Location::caller()),
    };
    let flavor = options.flavor;
    prepare_helpers(&options);
    let mut scope = TestScope::begin(options);
    let runtime = build_runtime(&scope);
    let watch = watch_blocking(&scope, &runtime);
    let threads = runtime.threads.clone();
    let panics = runtime.panics.clone();
    // The runtime goes to the body's thread and comes back with the value.
    let ran = on_body_thread(&scope, timeout, move || {
        let value = catch_unwind(AssertUnwindSafe(|| {
            runtime::block_on(&runtime, flavor, None, make())
                .expect("a body with no time limit runs to its end")
        }));
        (runtime, value)
    });
    if matches!(ran, Timed::Finished(_)) {
        scope.body_done();
    }
    take_blocking(&mut scope, watch);
    match ran {
        Timed::Finished(Ok((runtime, value))) => {
            wind_down(&mut scope, runtime);
            settle(scope, value)
        }
        // The body's thread panicked outside the body (cannot happen: the body's panic
        // is caught above); settle it all the same.
        Timed::Finished(Err(payload)) => settle(scope, Err(payload)),
        Timed::Late { body_tid } => {
            // The runtime is stuck with the body: its threads are the body's, not leaks.
            scope.runtime_ended(RuntimeEnd {
                tids: threads.lock().clone(),
                panics: panics.take(),
                ..RuntimeEnd::default()
            });
            fail_late(scope, timeout, body_tid)
        }
    }
}

/// Iris's process-wide helpers an async test uses, made before its scope takes its
/// snapshot of the process's threads (so they are never the test's).
fn prepare_helpers(options: &TestOptions) {
    if let Some(threshold) = options.blocking_value() {
        crate::leaks::watchers::blocking::prepare(threshold);
    }
}

/// Starts watching the runtime's workers for blocking, as the options ask.
fn watch_blocking(scope: &TestScope, runtime: &TestRuntime) -> Option<BlockingWatch> {
    BlockingWatch::start(runtime.workers.clone(), scope.options().blocking_value()?)
}

/// Stops the blocking watch once the body is done (teardown waits are not the
/// test's); what it found goes into the test's report.
fn take_blocking(scope: &mut TestScope, watch: Option<BlockingWatch>) {
    if let Some(watch) = watch {
        scope.runtime_was_blocked(watch.finish());
    }
}

/// A spawn site as reports write it: dependencies as `crate-version/src/...`.
fn short_site(site: &str) -> String {
    crate::tracking::frames::short_path(site).to_string()
}

/// The test's runtime, built after its scope opened, so that its threads inherit it.
#[track_caller]
fn build_runtime(scope: &TestScope) -> TestRuntime {
    let options = scope.options();
    let registry = scope.registry().container().clone();
    match runtime::build(
        options.flavor,
        options.worker_threads,
        options.start_paused,
        scope.chaos_seed(),
        &registry,
    ) {
        Ok(runtime) => runtime,
        Err(error) => panic!("iris: cannot build the test's tokio runtime: {error}"),
    }
}

/// Stops the test's registry without blocking the runtime, gives the runtime's
/// remaining tasks `linger`, keeps it running for the rest of it while the test has
/// a child process it may reap, shuts it down with a deadline, and hands the scope
/// what was left and when the grace period ends.
fn wind_down(scope: &mut TestScope, test_runtime: TestRuntime) {
    #[cfg(tokio_unstable)]
    let sites = test_runtime.sites.clone();
    let TestRuntime {
        runtime,
        threads,
        workers,
        panics,
        ..
    } = test_runtime;
    let registry = scope.registry().container().clone();
    stop_registry(scope, &runtime, &registry);
    let mut end = RuntimeEnd::default();
    let metrics = runtime.handle().metrics();
    let managed_left = || registry.alive_tasks().len();
    // Plain tasks still pending are cancelled with the runtime below, as
    // `#[tokio::test]` cancels them: nobody waits for them unless the teardown's
    // work is judged (`teardown = "warn"` or `"fail"`), when those that end by
    // themselves within `linger` are not counted.
    let judged = scope.options().teardown_value() != LeakPolicy::Ignore;
    let plain_alive = || judged && metrics.num_alive_tasks() > managed_left();
    // One grace period for everything the test left: tasks, children, then threads.
    let deadline = scope.grace_begins();
    end.plain_paused_for = let_tasks_end(scope.options(), &runtime, deadline, &plain_alive);
    let has_children = || scope.has_children(&threads.lock());
    reap_children(scope.options().flavor, &runtime, deadline, has_children);
    let plain = metrics.num_alive_tasks().saturating_sub(managed_left());
    // Where the plain tasks were spawned, when tokio says (tokio_unstable): every
    // live task's site, less one per managed task still alive at the same site.
    #[cfg(tokio_unstable)]
    {
        let mut live: Vec<String> = sites.lock().values().map(|l| l.to_string()).collect();
        for task in registry.alive_tasks() {
            let site = task.spawned_at().to_string();
            if let Some(at) = live.iter().position(|l| *l == site) {
                live.swap_remove(at);
            }
        }
        live.sort();
        end.plain_sites = Some(live);
    }
    shut_down(runtime, &threads, &workers, &mut end);
    // A task holding its worker could not be cancelled: it is a finding of its own
    // (`held_workers`), not one the teardown ended.
    end.plain = plain.saturating_sub(end.held_workers.len());
    // Ignored plain tasks leave the count (only their sites can name them).
    if let Some(sites) = end.plain_sites.take() {
        let (ignored, kept): (Vec<String>, Vec<String>) = sites
            .into_iter()
            .partition(|site| scope.options().ignores_task(&short_site(site)));
        end.plain = end.plain.saturating_sub(ignored.len());
        end.plain_sites = Some(kept.into_iter().map(|s| short_site(&s)).collect());
    }
    // Noted until the runtime's shutdown: a task dropped then may still panic in it.
    end.panics = panics.take();
    scope.runtime_ended(end);
}

/// Stops the test's registry on its runtime, within `stop_timeout`. The scope's
/// close only looks after this. A managed task that did not stop is cancelled with
/// the runtime, as a plain one is: the teardown ended it (a finding under
/// `teardown = "fail"`), and a dropped task is no longer alive to be found.
fn stop_registry(
    scope: &mut TestScope,
    runtime: &tokio::runtime::Runtime,
    registry: &crate::threads::container::ThreadContainer,
) {
    scope.stop_begins();
    let started = Instant::now();
    let cancelled =
        match runtime.block_on(registry.stop_async(scope.options().stop_timeout_value())) {
            Ok(()) => Vec::new(),
            Err(error) => error
                .stragglers()
                .iter()
                .filter(|s| s.is_task())
                .cloned()
                .collect(),
        };
    scope.stop_ended(started, cancelled);
}

/// Lets the runtime's plain tasks end by themselves within the grace period; on a
/// one-thread runtime, first in paused time. Returns how long they were run on in
/// paused time when some were still alive after it.
fn let_tasks_end(
    options: &TestOptions,
    runtime: &tokio::runtime::Runtime,
    deadline: Deadline,
    plain_alive: &dyn Fn() -> bool,
) -> Option<Duration> {
    let backoff = Backoff::new(Duration::from_micros(50), Duration::from_millis(10));
    let mut paused_for = None;
    match options.flavor {
        // The tasks run on the workers, not on this thread: it waits on the clock,
        // whose pauses are finer than the runtime timer's millisecond.
        Flavor::MultiThread => {
            while plain_alive() && !deadline.is_expired() {
                deadline.sleep_at_most(backoff.next_pause());
            }
        }
        // The tasks run on this thread, inside `block_on`.
        Flavor::CurrentThread | Flavor::Local => {
            // A task that is already ending (aborted, say by a `JoinSet` the body
            // dropped, or woken for its last poll) ends at its next poll, which a
            // yield gives it at once: it is dead to the test, so even with no `linger`
            // it is not a leak. The timer's first tick would take a whole millisecond
            // (its resolution), a test process's worth of time.
            if plain_alive() {
                runtime.block_on(async {
                    for _ in 0..EAGER_YIELDS {
                        if !plain_alive() {
                            break;
                        }
                        tokio::task::yield_now().await;
                    }
                });
            }
            // One still alive may only be waiting for its next timer to find its owner
            // gone (a connection pool's reaper that holds the pool weakly): run on in
            // paused time, it ends by itself, and is no leak. Before `linger`, whose
            // real time it would otherwise take first. `default_ignores(false)` asks
            // for no such waiver.
            #[cfg(feature = "tokio-test-util")]
            if plain_alive() && options.default_ignores_value() {
                if let fast_forward::Outcome::StillAlive(paused) =
                    fast_forward::run_out(runtime, || !plain_alive())
                {
                    paused_for = Some(paused);
                }
            }
            if plain_alive() {
                runtime.block_on(async {
                    while plain_alive() && !deadline.is_expired() {
                        let pause = backoff.next_pause();
                        tokio::time::sleep(
                            pause.min(deadline.remaining().unwrap_or(Duration::MAX)),
                        )
                        .await;
                    }
                });
            }
        }
    }
    paused_for
}

/// tokio reaps a `Child` the test dropped unwaited in the background, but only
/// while a runtime drives its process driver, which the shutdown ends: a child that
/// exits after that stays a zombie for ever. So while the test has a child, the
/// runtime keeps running, for the rest of the grace period: a child that ends within
/// `linger` is reaped, as `linger` promises; one still there after it is reported.
fn reap_children(
    flavor: Flavor,
    runtime: &tokio::runtime::Runtime,
    deadline: Deadline,
    has_children: impl Fn() -> bool,
) {
    if !has_children() || deadline.is_expired() {
        return;
    }
    let backoff = Backoff::new(Duration::from_micros(50), Duration::from_millis(10));
    match flavor {
        Flavor::MultiThread => {
            while has_children() && !deadline.is_expired() {
                deadline.sleep_at_most(backoff.next_pause());
            }
        }
        // The driver turns inside `block_on`: a yield gives it a turn, and the
        // pause between turns is real time (a runtime timer would not wait in
        // paused time, only spin).
        Flavor::CurrentThread | Flavor::Local => runtime.block_on(async {
            while has_children() && !deadline.is_expired() {
                tokio::task::yield_now().await;
                deadline.sleep_at_most(backoff.next_pause());
            }
        }),
    }
}

/// Shuts the runtime down within `SHUTDOWN_DEADLINE` and sorts the threads it could
/// not end: workers held inside one poll, and blocking-pool threads still running a
/// task, each with its live stack.
fn shut_down(
    runtime: tokio::runtime::Runtime,
    threads: &parking_lot::Mutex<Vec<u32>>,
    workers: &runtime::Workers,
    end: &mut RuntimeEnd,
) {
    let started = Instant::now();
    runtime.shutdown_timeout(SHUTDOWN_DEADLINE);
    // Idle pool threads leave at the shutdown; give them the rest of the deadline.
    let left_deadline = Deadline::after(SHUTDOWN_DEADLINE.saturating_sub(started.elapsed()));
    let backoff = Backoff::new(Duration::from_micros(50), Duration::from_millis(5));
    while !threads.lock().is_empty() && !left_deadline.is_expired() {
        left_deadline.sleep_at_most(backoff.next_pause());
    }
    let stuck: Vec<u32> = threads.lock().clone();
    // A stuck worker is held by a task that never yields (already counted among the
    // live tasks); only the blocking pool's threads are stuck blocking tasks. A worker
    // is known by having parked, or (a worker that took a task before it ever parked)
    // by its stack, which runs tokio's worker loop.
    let parked = workers.tids();
    for os in OsThread::sample(&stuck) {
        let frames = tracking::live_frames(os.tid, LIVE_STACK_PATIENCE);
        let runs_worker_loop = frames.as_ref().is_some_and(|frames| {
            frames
                .iter()
                .any(|f| f.function.contains("scheduler::multi_thread::worker::run"))
        });
        if let Some(stack) = frames.as_deref().and_then(tracking::summarise_live) {
            end.stacks.insert(os.tid, stack);
        }
        if parked.contains(&os.tid) || runs_worker_loop {
            end.held_workers.push(os);
        } else {
            end.blocking.push(os);
        }
    }
    end.tids = stuck;
}
