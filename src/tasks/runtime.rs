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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::sync::deadline::Deadline;

use parking_lot::{Condvar, Mutex};

use super::task_panics::{self, Collector};
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
    /// pool thread never does), and whether each is parked now: a stuck worker is
    /// held by a task, not by `spawn_blocking`, and one that sleeps while not
    /// parked is blocked inside a poll.
    pub(crate) workers: Arc<Workers>,
    /// Panics of its plain tasks.
    pub(crate) panics: Arc<Collector>,
    /// Where each live task was spawned: tokio tells only when built with
    /// `--cfg tokio_unstable` (its task hooks, 1.46.1 or later).
    #[cfg(tokio_unstable)]
    pub(crate) sites: Arc<
        Mutex<std::collections::HashMap<tokio::task::Id, &'static std::panic::Location<'static>>>,
    >,
}

/// The workers of one runtime, as their park and unpark callbacks report them.
#[derive(Default)]
pub(crate) struct Workers {
    slots: Mutex<Vec<Arc<Worker>>>,
    /// Notified when a worker is first seen (its first park), so that `build` wakes
    /// as soon as the last one is, not at its next polling step.
    arrived: Condvar,
}

/// One worker thread (the `block_on` thread, for a current-thread runtime).
pub(crate) struct Worker {
    pub(crate) tid: u32,
    /// Between its park callback and its unpark callback: idle, not in a poll.
    pub(crate) parked: AtomicBool,
}

impl Workers {
    /// The kernel ids of the workers seen so far.
    pub(crate) fn tids(&self) -> Vec<u32> {
        self.slots.lock().iter().map(|w| w.tid).collect()
    }

    /// The workers seen so far.
    pub(crate) fn all(&self) -> Vec<Arc<Worker>> {
        self.slots.lock().clone()
    }
}

thread_local! {
    /// This thread's slot in the workers of the runtime it last worked for (by the
    /// address of that runtime's `Workers`: a `block_on` thread may serve several
    /// runtimes in turn).
    static THIS_WORKER: RefCell<Option<(usize, Arc<Worker>)>> = const { RefCell::new(None) };
}

/// Builds the runtime of an async test whose registry is `registry`; under schedule
/// chaos with seed `chaos`, its driver ticks come from the seed.
pub(crate) fn build(
    flavor: Flavor,
    worker_threads: Option<usize>,
    start_paused: bool,
    chaos: Option<u64>,
    registry: &ThreadContainer,
) -> std::io::Result<TestRuntime> {
    let (mut builder, worker_count) = builder_for(flavor, worker_threads, start_paused);
    if let Some(seed) = chaos {
        // How many tasks run between two looks at IO and timers: tokio's default is
        // 61; a smaller one lets a wake-up overtake work already queued.
        builder.event_interval(crate::tracking::chaos::event_interval(seed));
    }
    let threads: Arc<Mutex<Vec<u32>>> = Arc::default();
    let workers: Arc<Workers> = Arc::default();
    task_panics::install_hook();
    #[cfg(tokio_unstable)]
    let sites: Arc<
        Mutex<std::collections::HashMap<tokio::task::Id, &'static std::panic::Location<'static>>>,
    > = Arc::default();
    #[cfg(tokio_unstable)]
    let panics = Arc::new(Collector::with_sites(sites.clone()));
    #[cfg(not(tokio_unstable))]
    let panics = Arc::new(Collector::default());
    hook_threads(&mut builder, registry, &threads, &workers, &panics);
    #[cfg(tokio_unstable)]
    {
        let (spawned, ended) = (sites.clone(), sites.clone());
        builder
            .on_task_spawn(move |meta| {
                spawned.lock().insert(meta.id(), meta.spawned_at());
            })
            .on_task_terminate(move |meta| {
                ended.lock().remove(&meta.id());
            });
    }
    let runtime = builder.enable_all().build()?;
    wait_for_workers(&workers, worker_count);
    Ok(TestRuntime {
        runtime,
        threads,
        workers,
        panics,
        #[cfg(tokio_unstable)]
        sites,
    })
}

/// tokio's builder for the flavor, and how many workers it will start (known, so
/// that `build` can wait for every worker to be seen idle once).
fn builder_for(
    flavor: Flavor,
    worker_threads: Option<usize>,
    start_paused: bool,
) -> (tokio::runtime::Builder, usize) {
    let mut builder = match flavor {
        Flavor::CurrentThread | Flavor::Local => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
    };
    if start_paused {
        pause_time(&mut builder);
    }
    let worker_count = match flavor {
        Flavor::MultiThread => worker_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
        Flavor::CurrentThread | Flavor::Local => 0,
    };
    if worker_count > 0 {
        builder.worker_threads(worker_count);
    }
    (builder, worker_count)
}

/// The runtime's threads work for the test: each sees its registry, its log
/// subscriber and its task-panic collector, and is listed while it lives; workers
/// say when they park.
fn hook_threads(
    builder: &mut tokio::runtime::Builder,
    registry: &ThreadContainer,
    threads: &Arc<Mutex<Vec<u32>>>,
    workers: &Arc<Workers>,
    panics: &Arc<Collector>,
) {
    let (started, stopped) = (threads.clone(), threads.clone());
    let (parked, unparked) = (workers.clone(), workers.clone());
    let registry = registry.clone();
    let dispatch = tracing::dispatcher::get_default(|d| d.clone());
    let serving = panics.clone();
    builder
        .on_thread_start(move || {
            context::inherit(Some(registry.clone()));
            task_panics::serve_for_life(Some(serving.clone()));
            let guard = tracing::dispatcher::set_default(&dispatch);
            let _ = RUNTIME_DISPATCH.try_with(|slot| *slot.borrow_mut() = Some(guard));
            if let Some(tid) = current_os_tid() {
                started.lock().push(tid);
            }
        })
        // Park and unpark are called on worker threads only: each finds its slot
        // through a thread-local (the lock is taken once per worker) and flips a flag.
        .on_thread_park(move || note_worker(&parked, true))
        .on_thread_unpark(move || note_worker(&unparked, false))
        .on_thread_stop(move || {
            if let Some(tid) = current_os_tid() {
                stopped.lock().retain(|t| *t != tid);
            }
            let _ = RUNTIME_DISPATCH.try_with(|slot| slot.borrow_mut().take());
            let _ = THIS_WORKER.try_with(|slot| slot.borrow_mut().take());
            task_panics::serve_for_life(None);
            context::inherit(None);
        });
}

/// Every worker parks once when it starts with nothing to do; from then on its
/// callbacks say when it works. Waiting for that (bounded) means a worker that
/// takes the body's first task is already known, not missed. Woken by the last
/// worker's first park: a sleep in steps overshot it by a step (on a machine where
/// starting a thread takes 0.1 ms, a third of an empty test's cost).
fn wait_for_workers(workers: &Workers, worker_count: usize) {
    let deadline = Deadline::after(WORKERS_START);
    let mut slots = workers.slots.lock();
    while slots.len() < worker_count && !deadline.is_expired() {
        deadline.wait(&workers.arrived, &mut slots);
    }
}

/// How long `build` waits for a multi-thread runtime's workers to come up.
const WORKERS_START: Duration = Duration::from_secs(2);

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

/// Runs `body` as the test's body on `runtime`, to its end or until `limit` has
/// passed (then `None`): inside a `LocalSet` for [`Flavor::Local`], so that
/// `spawn_local` works in it.
///
/// The thread that runs the body is one of the runtime's workers as blocking
/// detection sees them: on a current-thread runtime it is *the* worker (its park
/// callbacks say when it idles; it starts busy); on a multi-thread one, the body's
/// own polls are marked, since that thread gets no park callbacks.
///
/// Only this shell is generic: the body is boxed as a `dyn Future` and run by
/// [`block_on_erased`], so tokio's `block_on` for all three flavors, `LocalSet` and
/// `timeout` are compiled once, in Iris, not once per test. Generic over the body
/// they were copied into every async test, three `block_on`s each: a test binary
/// with 33 async tests carried 103 copies of tokio's current-thread `block_on`,
/// about 1.3 MB of code and its debug information, which a debug build's panic
/// backtraces then had to read through.
pub(crate) fn block_on<F: std::future::Future>(
    runtime: &TestRuntime,
    flavor: Flavor,
    limit: Option<Duration>,
    body: F,
) -> Option<F::Output> {
    let mut output = None;
    // Boxed, not pinned on this stack: a debug build's futures can be large, and the
    // test's thread has tokio's usual stack.
    let erased: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>> =
        Box::pin(async { output = Some(body.await) });
    let finished = block_on_erased(runtime, flavor, limit, erased);
    finished.then(|| output.take()).flatten()
}

/// [`block_on`]'s work, the same for every body: `true` if the body ended, `false`
/// if `limit` passed first. The body is dropped before it returns, so whatever it
/// borrowed is free again.
fn block_on_erased(
    runtime: &TestRuntime,
    flavor: Flavor,
    limit: Option<Duration>,
    body: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>,
) -> bool {
    // Its tasks' panics are this runtime's while the body runs here.
    let _serving = task_panics::serve_while(runtime.panics.clone());
    let body = Shaken {
        body,
        yielded: false,
    };
    let timed = async move {
        match limit {
            None => {
                body.await;
                true
            }
            Some(limit) => tokio::time::timeout(limit, body).await.is_ok(),
        }
    };
    match flavor {
        Flavor::Local => {
            note_worker(&runtime.workers, false);
            runtime
                .runtime
                .block_on(tokio::task::LocalSet::new().run_until(timed))
        }
        Flavor::CurrentThread => {
            note_worker(&runtime.workers, false);
            runtime.runtime.block_on(timed)
        }
        Flavor::MultiThread => {
            let marked = current_os_tid().map(|tid| {
                let worker = Arc::new(Worker {
                    tid,
                    parked: AtomicBool::new(true),
                });
                runtime.workers.slots.lock().push(worker.clone());
                worker
            });
            runtime.runtime.block_on(PollMarked {
                inner: std::pin::pin!(timed),
                worker: marked,
            })
        }
    }
}

/// The test's body, which under schedule chaos sometimes yields once before a poll
/// (`tracking::chaos::should_yield`): the tasks it woke run first, the other order
/// of a hand-off. Without chaos, one atomic load a poll.
struct Shaken<'a> {
    body: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>,
    yielded: bool,
}

impl std::future::Future for Shaken<'_> {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if !self.yielded && crate::tracking::chaos::should_yield() {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        self.yielded = false;
        self.body.as_mut().poll(cx)
    }
}

/// A future whose polls mark its thread busy (not parked) while they run.
struct PollMarked<'a, F> {
    inner: std::pin::Pin<&'a mut F>,
    worker: Option<Arc<Worker>>,
}

impl<F: std::future::Future> std::future::Future for PollMarked<'_, F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        if let Some(worker) = &self.worker {
            worker.parked.store(false, Ordering::Release);
        }
        let polled = self.inner.as_mut().poll(cx);
        if let Some(worker) = &self.worker {
            worker.parked.store(true, Ordering::Release);
        }
        polled
    }
}

fn note_worker(workers: &Arc<Workers>, parked: bool) {
    let key = Arc::as_ptr(workers) as usize;
    let _ = THIS_WORKER.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        match slot.as_ref() {
            Some((runtime, worker)) if *runtime == key => {
                worker.parked.store(parked, Ordering::Release);
            }
            _ => {
                let Some(tid) = current_os_tid() else { return };
                let worker = Arc::new(Worker {
                    tid,
                    parked: AtomicBool::new(parked),
                });
                workers.slots.lock().push(worker.clone());
                workers.arrived.notify_all();
                *slot = Some((key, worker));
            }
        }
    });
}
