//! Async tests that misbehave on purpose. Run by `end_to_end` only.

use std::sync::OnceLock;
use std::time::Duration;

use iris::{get_thread_registry, iris_test, StopToken};

/// Never stopped: what waits on it outlives its test.
fn never() -> &'static StopToken {
    static NEVER: OnceLock<StopToken> = OnceLock::new();
    NEVER.get_or_init(StopToken::new)
}

#[iris_test(stop_timeout = "200ms", linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
async fn stubborn_task() {
    get_thread_registry().spawn_task("stubborn-task", |_ignored| async {
        never().stopped().await;
    });
}

#[iris_test(stop_timeout = "100ms", linger = "200ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
async fn leaked_plain_task() {
    tokio::spawn(async {
        never().stopped().await;
    });
}

/// A server started with `tokio::spawn` and left running, as `#[tokio::test]`
/// suites leave theirs: the runtime cancels it with the test. `linger` is long, so
/// that waiting for it would show.
#[iris_test(linger = "5s")]
#[ignore = "run by end_to_end"]
async fn server_task_left_running() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let _ = listener.accept().await;
        }
    });
    tokio::net::TcpStream::connect(address).await.unwrap();
}

/// What a connection pool's reaper looks after.
#[derive(Debug)]
struct Pool(&'static str);

/// A connection pool's reaper in bb8's shape: a plain task that holds its pool weakly,
/// wakes every 30 s, and ends at its first tick after the pool is gone.
fn spawn_reaper(pool: &std::sync::Arc<Pool>) {
    let pool = std::sync::Arc::downgrade(pool);
    tokio::spawn(async move {
        let every = Duration::from_secs(30);
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            interval.tick().await;
            match pool.upgrade() {
                Some(pool) => tracing::debug!("reaping {:?}", pool.0),
                None => break,
            }
        }
    });
}

/// The test drops its pool; the reaper ends by itself 30 s later. `linger` is long,
/// so that a test that waited for it could not pass quickly.
#[iris_test(linger = "20s")]
#[ignore = "run by end_to_end"]
async fn reaper_of_a_dropped_pool() {
    drop_a_pool_with_its_reaper().await;
}

/// The same, with a brief `linger`: for a run with the default waivers off, where the
/// reaper is waited for in real time (20 s of `linger` would be 20 s of the suite).
#[iris_test(linger = "100ms")]
#[ignore = "run by end_to_end"]
async fn reaper_of_a_dropped_pool_brief_linger() {
    drop_a_pool_with_its_reaper().await;
}

/// Makes a pool, starts its reaper, lets the reaper start, and drops the pool.
async fn drop_a_pool_with_its_reaper() {
    let pool = std::sync::Arc::new(Pool("the pool"));
    spawn_reaper(&pool);
    tokio::task::yield_now().await;
    drop(pool);
}

/// The same pool, kept for the process: its reaper never ends.
#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
async fn reaper_of_a_kept_pool() {
    static KEPT: OnceLock<std::sync::Arc<Pool>> = OnceLock::new();
    spawn_reaper(KEPT.get_or_init(|| std::sync::Arc::new(Pool("the pool"))));
}

/// The dropped pool's reaper on a multi-thread runtime, whose clock tokio cannot pause.
#[iris_test(linger = "100ms", flavor = "multi_thread", worker_threads = 2)]
#[ignore = "leaks on purpose (a limit of paused time); run by end_to_end"]
async fn reaper_of_a_dropped_pool_multi_thread() {
    let pool = std::sync::Arc::new(Pool("the pool"));
    spawn_reaper(&pool);
    drop(pool);
}

/// Writes a line for each event that has a `ticks` field to the test's output.
struct TickPrinter;

impl tracing::Subscriber for TickPrinter {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().fields().field("ticks").is_some() {
            println!("ticks=");
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A plain task that wakes every millisecond for ever and logs each tick, to a
/// subscriber the program set for the process (as a `main` or a test's setup does).
#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
async fn ticking_plain_task() {
    let _ = tracing::subscriber::set_global_default(TickPrinter);
    tokio::spawn(async {
        let mut ticks = 0u64;
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
            ticks += 1;
            tracing::info!(ticks, "tick");
        }
    });
    // Some ticks while the test runs, written as usual.
    tokio::time::sleep(Duration::from_millis(20)).await;
}

#[iris_test(stop_timeout = "100ms", linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
async fn stuck_blocking_task() {
    let running = StopToken::new();
    let started = running.clone();
    tokio::task::spawn_blocking(move || {
        started.stop();
        // A blocking call that never returns (until the process ends).
        never().wait();
    });
    // A blocking task that never started is dropped by the shutdown, not stuck.
    running.stopped().await;
}

#[iris_test]
#[ignore = "fails on purpose; run by end_to_end"]
async fn task_panic() {
    let task = get_thread_registry().spawn_task("doomed-task", |_stop| async {
        panic!("the async job failed");
    });
    // The body passes; only Iris notices the panic (nobody awaits the result).
    drop(task);
    iris::wait_for_condition_async(
        || get_thread_registry().alive_tasks().is_empty(),
        crate::PATIENCE,
    )
    .await
    .unwrap();
}

#[iris_test(
    flavor = "multi_thread",
    worker_threads = 2,
    stop_timeout = "100ms",
    linger = "100ms"
)]
#[ignore = "leaks on purpose; run by end_to_end"]
async fn stuck_blocking_task_multi_thread() {
    let running = StopToken::new();
    let started = running.clone();
    tokio::task::spawn_blocking(move || {
        started.stop();
        never().wait();
    });
    running.stopped().await;
    let _ = Duration::ZERO;
}

#[iris_test(timeout = "200ms")]
#[ignore = "hangs on purpose; run by end_to_end"]
async fn hangs_async() {
    never().stopped().await;
}

#[iris_test]
#[ignore = "run by end_to_end"]
async fn clean_async() {
    let registry = get_thread_registry();
    registry.spawn_task("polite", |stop| async move { stop.stopped().await });
    let handle = tokio::spawn(async { 1 + 1 });
    assert_eq!(handle.await.unwrap(), 2);
    tokio::task::spawn_blocking(|| ()).await.unwrap();
}

#[iris_test(timeout = "300ms", stop_timeout = "100ms", linger = "100ms")]
#[ignore = "hangs on purpose; run by end_to_end"]
async fn blocks_its_thread_in_a_channel() {
    get_thread_registry().spawn("helper-of-blocked-body", |stop| stop.wait());
    let (_keep, blocked) = std::sync::mpsc::channel::<()>();
    // A std channel's recv: the thread never reaches an .await again.
    let _ = blocked.recv();
}

#[iris_test(timeout = "300ms", flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hangs on purpose; run by end_to_end"]
async fn sleeps_its_thread() {
    std::thread::sleep(Duration::from_secs(30)); // the behaviour under test: a blocked body
}

#[iris_test(
    flavor = "multi_thread",
    worker_threads = 2,
    stop_timeout = "100ms",
    linger = "200ms"
)]
#[ignore = "leaks on purpose; run by end_to_end"]
async fn task_blocks_its_worker() {
    // Once it runs: a task the runtime never polled is cancelled with it cleanly.
    let (started, running) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _ = started.send(());
        never().wait(); // blocking inside async code: the worker is held
    });
    running.await.unwrap();
}

/// A std sleep inside async code: the thread it runs on is held.
#[inline(never)]
fn blocks_the_worker(how_long: Duration) {
    std::thread::sleep(how_long); // the behaviour under test: blocking in async code
}

#[iris_test(blocking = "100ms")]
#[ignore = "blocks on purpose; run by end_to_end"]
async fn blocking_body_current_thread() {
    blocks_the_worker(Duration::from_millis(500));
}

#[iris_test(blocking = "100ms", flavor = "multi_thread", worker_threads = 2)]
#[ignore = "blocks on purpose; run by end_to_end"]
async fn blocking_task_multi_thread() {
    tokio::spawn(async { blocks_the_worker(Duration::from_millis(500)) })
        .await
        .unwrap();
}

#[iris_test]
#[ignore = "blocks on purpose; run by end_to_end"]
async fn blocking_by_default() {
    blocks_the_worker(Duration::from_millis(400));
}

/// CPU work for `how_long`, then done: never a finding, even on a loaded machine.
#[inline(never)]
fn spins(how_long: Duration) -> u64 {
    let started = std::time::Instant::now();
    let mut n = 0u64;
    while started.elapsed() < how_long {
        n = std::hint::black_box(n.wrapping_add(1));
    }
    n
}

#[iris_test(blocking = "100ms", flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by end_to_end"]
async fn cpu_bound_under_load_is_not_blocking() {
    // Load: busy threads beside the runtime's, two per core.
    let load = get_thread_registry();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    for i in 0..cores * 2 {
        load.spawn(format!("load-{i}"), |stop| {
            while !stop.is_stopped() {
                spins(Duration::from_millis(5));
            }
        });
    }
    let (a, b) = tokio::join!(
        tokio::spawn(async { spins(Duration::from_millis(600)) }),
        tokio::spawn(async { spins(Duration::from_millis(600)) })
    );
    assert!(a.unwrap() > 0 && b.unwrap() > 0);
}

/// A detached plain task panics; nothing awaits its `JoinHandle`. The body makes
/// sure the task ran (it signals just before it panics, in the same poll).
async fn a_detached_task_panics() {
    let (ran, done) = tokio::sync::oneshot::channel();
    drop(tokio::spawn(async move {
        let _ = ran.send(());
        panic!("the detached job failed"); // detached task panic site
    }));
    done.await.unwrap();
    tokio::task::yield_now().await;
}

#[iris_test]
#[ignore = "run by end_to_end"]
async fn detached_task_panic_warned() {
    a_detached_task_panics().await;
}

#[iris_test(task_panics = "fail")]
#[ignore = "fails on purpose; run by end_to_end"]
async fn detached_task_panic_failed() {
    a_detached_task_panics().await;
}

#[iris_test(flavor = "multi_thread", worker_threads = 2, task_panics = "fail")]
#[ignore = "fails on purpose; run by end_to_end"]
async fn detached_task_panic_on_a_worker() {
    a_detached_task_panics().await;
}

/// A detached plain task whose own code catches a panic and goes on, as an actor
/// framework's supervisor does (ractor's actors run their handlers under
/// `catch_unwind`): the task did not panic, whatever `task_panics` says.
async fn a_task_catches_its_own_panic() {
    let (went_on, done) = tokio::sync::oneshot::channel();
    drop(tokio::spawn(async move {
        let caught = std::panic::catch_unwind(|| panic!("handled inside the task"));
        tokio::task::yield_now().await;
        let _ = went_on.send(caught.is_err());
    }));
    assert!(done.await.unwrap(), "the task caught its panic and went on");
}

#[iris_test(task_panics = "fail")]
#[ignore = "run by end_to_end"]
async fn task_catches_its_own_panic() {
    a_task_catches_its_own_panic().await;
}

#[iris_test(flavor = "multi_thread", worker_threads = 2, task_panics = "fail")]
#[ignore = "run by end_to_end"]
async fn task_catches_its_own_panic_on_a_worker() {
    a_task_catches_its_own_panic().await;
}

/// A detached plain task whose own code catches a panic, cleans up and rethrows it
/// (`resume_unwind`, as moka's value initializers do): the task ends with it, and
/// nothing awaits its `JoinHandle`.
#[iris_test(task_panics = "fail")]
#[ignore = "run by end_to_end"]
async fn task_rethrows_its_panic() {
    let (cleaned_up, done) = tokio::sync::oneshot::channel();
    drop(tokio::spawn(async move {
        let caught = std::panic::catch_unwind(|| panic!("rethrown by the task"));
        let _ = cleaned_up.send(());
        if let Err(payload) = caught {
            std::panic::resume_unwind(payload);
        }
    }));
    done.await.unwrap();
    tokio::task::yield_now().await;
}

/// The test awaits the panicking task's handle and checks the panic: under the
/// default policy it passes (the warning says Iris cannot tell).
#[iris_test]
#[ignore = "run by end_to_end"]
async fn awaited_task_panic() {
    let joined = tokio::spawn(async { panic!("checked by the test") }).await;
    assert!(joined.unwrap_err().is_panic());
}

/// A body that catches a panic of its own on purpose (as tokio-util's tests do),
/// in a process whose panic hook takes its time, as printing a backtrace under
/// `RUST_BACKTRACE` does in a debug build (or waiting for the lock of another
/// thread's backtrace, which a worker then sleeps on): the panic machinery's time.
#[test]
#[ignore = "run by end_to_end"]
fn catches_its_own_panic() {
    // Set before Iris builds the test's runtime (and chains its own hook), as the
    // default hook is.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        std::thread::sleep(Duration::from_millis(300)); // the behaviour under test: a slow hook
        previous(info);
    }));
    iris::run_async_test(iris::TestOptions::new("catches_its_own_panic"), async {
        let caught = std::panic::catch_unwind(|| panic!("expected by the test"));
        assert!(caught.is_err());
    });
}

/// A child the test drops unwaited, as command-group's tokio tests do: tokio reaps it
/// in the background once it ends, while a runtime runs. It ends after the body has
/// returned, so only a runtime still running then can reap it.
#[cfg(target_os = "linux")]
#[iris_test]
#[ignore = "run by end_to_end"]
async fn a_dropped_child_tokio_reaps() {
    let child = tokio::process::Command::new("sleep")
        .arg("0.05")
        .spawn()
        .expect("sleep starts");
    drop(child);
}

/// The same, spawned by a task on a worker thread of a multi-thread runtime (the
/// worker is its parent thread).
#[cfg(target_os = "linux")]
#[iris_test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by end_to_end"]
async fn a_child_a_worker_drops_tokio_reaps() {
    tokio::spawn(async {
        let child = tokio::process::Command::new("sleep")
            .arg("0.05")
            .spawn()
            .expect("sleep starts");
        drop(child);
    })
    .await
    .unwrap();
}

/// A dropped child that ends well after the body, but within `linger` (1 s by
/// default): tokio reaps it, so it outlived the test only by its grace period.
#[cfg(target_os = "linux")]
#[iris_test]
#[ignore = "run by end_to_end"]
async fn a_dropped_child_ending_within_linger_tokio_reaps() {
    drop_a_child_that_ends_in_half_a_second();
}

/// The same in paused time, where a runtime timer cannot measure the wait.
#[cfg(target_os = "linux")]
#[iris_test(start_paused = true)]
#[ignore = "run by end_to_end"]
async fn a_dropped_child_ending_within_linger_in_paused_time() {
    drop_a_child_that_ends_in_half_a_second();
}

/// Starts `sleep 0.5` through tokio and drops its `Child` unwaited.
#[cfg(target_os = "linux")]
fn drop_a_child_that_ends_in_half_a_second() {
    let child = tokio::process::Command::new("sleep")
        .arg("0.5")
        .spawn()
        .expect("sleep starts");
    drop(child);
}

/// A dropped child that runs on past `linger`: a leak, reported while it runs.
#[cfg(target_os = "linux")]
#[iris_test(linger = "300ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
async fn a_dropped_child_outliving_linger() {
    let child = tokio::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("sleep starts");
    drop(child);
}

/// A std child dropped unwaited: nobody reaps it, with or without a runtime.
#[cfg(target_os = "linux")]
#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
async fn a_dropped_std_child_nobody_reaps() {
    let child = std::process::Command::new("true")
        .spawn()
        .expect("true starts");
    drop(child);
}

/// A library's async constructor that starts a server thread (a mock server's) and
/// returns, leaving it serving.
#[inline(never)]
async fn start_mock_server(n: usize) -> usize {
    std::thread::Builder::new()
        .name(format!("joined-server-{n}"))
        .spawn(|| never().wait())
        .unwrap();
    tokio::task::yield_now().await;
    n
}

/// Threads made while the test awaits a combinator: their creation site is the
/// constructor's line, found through `join_all`'s and `FuturesUnordered`'s frames.
#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
async fn threads_made_under_join_all() {
    futures_util::future::join_all((0..2).map(start_mock_server)).await;
    use futures_util::StreamExt;
    let mut unordered: futures_util::stream::FuturesUnordered<_> =
        (2..3).map(start_mock_server).collect();
    while unordered.next().await.is_some() {}
}
