//! The fresh tokio runtime of an async test (`#[iris_test] async fn`).
//!
//! Invariants:
//! - Every thread the runtime starts (workers and blocking-pool threads) inherits the
//!   test's registry and `tracing` subscriber before it runs anything, so plain
//!   `tokio::spawn` and `spawn_blocking` code, and what it spawns, stays in the test.
//! - The runtime's threads are known by kernel id while they live, so the end of the
//!   test can tell a stuck blocking task (its thread still alive after the runtime's
//!   shutdown deadline) from an unmanaged leak.

use std::cell::RefCell;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::threads::container::ThreadContainer;
use crate::threads::context;
use crate::threads::managed_thread::current_os_tid;

/// Which tokio scheduler an async test runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flavor {
    /// One thread: the test's own (the default, as `#[tokio::test]`).
    #[default]
    CurrentThread,
    /// A pool of worker threads (`worker_threads`, default: the number of CPUs).
    MultiThread,
    /// One thread, with the body inside a `tokio::task::LocalSet`, so that
    /// `tokio::task::spawn_local` (`!Send` tasks) works in it: what tokio's
    /// `flavor = "local"` gives, on every tokio version Iris supports.
    Local,
}

thread_local! {
    /// The subscriber a runtime thread writes to, for the thread's whole life.
    static RUNTIME_DISPATCH: RefCell<Option<tracing::subscriber::DefaultGuard>> =
        const { RefCell::new(None) };
}

/// A test's runtime and the kernel ids of its live threads.
pub(crate) struct TestRuntime {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) threads: Arc<Mutex<Vec<u32>>>,
    /// Those of its threads that are workers (they park between tasks; a blocking
    /// pool thread never does): a stuck one is held by a task, not by
    /// `spawn_blocking`.
    pub(crate) workers: Arc<Mutex<Vec<u32>>>,
}

thread_local! {
    /// Whether this thread has been seen parking as a runtime worker.
    static SEEN_AS_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Builds the runtime of an async test whose registry is `registry`.
pub(crate) fn build(
    flavor: Flavor,
    worker_threads: Option<usize>,
    start_paused: bool,
    registry: &ThreadContainer,
) -> std::io::Result<TestRuntime> {
    let mut builder = match flavor {
        Flavor::CurrentThread | Flavor::Local => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
    };
    if start_paused {
        pause_time(&mut builder);
    }
    if let (Flavor::MultiThread, Some(workers)) = (flavor, worker_threads) {
        builder.worker_threads(workers.max(1));
    }
    let threads: Arc<Mutex<Vec<u32>>> = Arc::default();
    let (started, stopped) = (threads.clone(), threads.clone());
    let workers: Arc<Mutex<Vec<u32>>> = Arc::default();
    let (parked, unparked) = (workers.clone(), workers.clone());
    let registry = registry.clone();
    let dispatch = tracing::dispatcher::get_default(|d| d.clone());
    builder
        .enable_all()
        .on_thread_start(move || {
            context::inherit(Some(registry.clone()));
            let guard = tracing::dispatcher::set_default(&dispatch);
            let _ = RUNTIME_DISPATCH.try_with(|slot| *slot.borrow_mut() = Some(guard));
            if let Some(tid) = current_os_tid() {
                started.lock().push(tid);
            }
        })
        // Park and unpark are called on worker threads only; each records itself
        // once (a thread-local flag keeps the lock off the hot path).
        .on_thread_park(move || note_worker(&parked))
        .on_thread_unpark(move || note_worker(&unparked))
        .on_thread_stop(move || {
            if let Some(tid) = current_os_tid() {
                stopped.lock().retain(|t| *t != tid);
            }
            let _ = RUNTIME_DISPATCH.try_with(|slot| slot.borrow_mut().take());
            let _ = SEEN_AS_WORKER.try_with(|seen| seen.set(false));
            context::inherit(None);
        });
    Ok(TestRuntime {
        runtime: builder.build()?,
        threads,
        workers,
    })
}

#[cfg(feature = "tokio-test-util")]
fn pause_time(builder: &mut tokio::runtime::Builder) {
    builder.start_paused(true);
}

/// Unreachable through `#[iris_test]` (the attribute fails to compile without the
/// feature); a hand-built `TestOptions` is told at once.
#[cfg(not(feature = "tokio-test-util"))]
fn pause_time(_builder: &mut tokio::runtime::Builder) {
    panic!(
        "iris: start_paused needs Iris's `tokio-test-util` feature (tokio's `test-util`); \
         it is on by default: add it to the dev-dependency's features if you turned the \
         defaults off"
    );
}

/// Runs `body` as the test's body on `runtime`: inside a `LocalSet` for
/// [`Flavor::Local`], so that `spawn_local` works in it.
pub(crate) fn block_on<F: std::future::Future>(
    runtime: &tokio::runtime::Runtime,
    flavor: Flavor,
    body: F,
) -> F::Output {
    match flavor {
        Flavor::Local => runtime.block_on(tokio::task::LocalSet::new().run_until(body)),
        Flavor::CurrentThread | Flavor::MultiThread => runtime.block_on(body),
    }
}

fn note_worker(workers: &Mutex<Vec<u32>>) {
    let first_time = SEEN_AS_WORKER
        .try_with(|seen| !seen.replace(true))
        .unwrap_or(false);
    if first_time {
        if let Some(tid) = current_os_tid() {
            workers.lock().push(tid);
        }
    }
}
