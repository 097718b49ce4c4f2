//! Measurements shared by the benches (`cargo bench`) and the report
//! (`cargo run --release --example bench_report`), so both measure the same thing
//! the same way. Each function measures one Iris figure or one baseline; the
//! baselines are what a user would write without Iris.
// Shared by several targets; each uses a part.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use iris::{wait_for_condition, SentinelFile, TestOptions, TestScope, ThreadContainer};

/// Sorted samples with percentiles.
#[derive(Clone, Debug)]
pub struct Samples(pub Vec<Duration>);

impl Samples {
    pub fn new(mut samples: Vec<Duration>) -> Samples {
        samples.sort();
        Samples(samples)
    }

    pub fn percentile(&self, q: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0[((self.0.len() - 1) as f64 * q).round() as usize]
    }

    pub fn p50(&self) -> Duration {
        self.percentile(0.5)
    }

    pub fn millis(&self, q: f64) -> f64 {
        self.percentile(q).as_secs_f64() * 1e3
    }
}

/// Runs `f` `rounds` times and returns the samples.
pub fn sample(rounds: usize, mut f: impl FnMut() -> Duration) -> Samples {
    Samples::new((0..rounds).map(|_| f()).collect())
}

/// A tiny deterministic random source (no dependency needed for jitter).
pub struct XorShift(u64);

impl XorShift {
    pub fn new() -> XorShift {
        XorShift(0x2545_f491_4f6c_dd1d)
    }

    /// A uniformly random duration in `[0, limit)` at microsecond resolution.
    pub fn below(&mut self, limit: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let micros = limit.as_micros() as u64;
        Duration::from_micros(if micros == 0 { 0 } else { self.0 % micros })
    }
}

// ---------------------------------------------------------------- lifecycle ----

/// Spawn + join of one thread, `iters` times each way, in 40 alternating batches:
/// per operation, the median batch of each (managed `spawn` + `join`,
/// `std::thread::spawn` + `join`). Alternating, because whichever kind runs first
/// pays the process's warm-up; medians, because a batch in which the scheduler
/// keeps putting the new thread on the busy CPU runs twice as long. Sums over the
/// same code read anything from 1.0x to 1.85x from one run to the next; the medians
/// of batches, 0.99-1.02x across five runs.
pub fn spawn_join(iters: u32) -> (Duration, Duration) {
    const BATCHES: u32 = 40;
    let container = ThreadContainer::new("bench");
    let (mut managed, mut plain) = (Vec::new(), Vec::new());
    let per_batch = (iters / BATCHES).max(1);
    for _ in 0..BATCHES {
        let started = Instant::now();
        for _ in 0..per_batch {
            container
                .spawn("t", |_stop| std::hint::black_box(1))
                .join()
                .unwrap();
        }
        managed.push(started.elapsed() / per_batch);
        let started = Instant::now();
        for _ in 0..per_batch {
            std::thread::spawn(|| std::hint::black_box(1))
                .join()
                .unwrap();
        }
        plain.push(started.elapsed() / per_batch);
    }
    container.stop(Duration::from_secs(5)).unwrap();
    (Samples::new(managed).p50(), Samples::new(plain).p50())
}

/// Who stops the idle threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopper {
    /// Iris: managed threads blocked on their stop tokens; `container.stop`.
    Iris,
    /// What people write: one shared Mutex + Condvar flag, notify_all, join all.
    SharedCondvar,
    /// The floor: one flag per thread, park/unpark, join all.
    ParkFloor,
}

/// Idle threads, ready to be stopped by [`StopSet::stop`].
pub enum StopSet {
    Iris(ThreadContainer),
    Shared(
        Arc<(Mutex<bool>, Condvar)>,
        Vec<std::thread::JoinHandle<()>>,
    ),
    Park(Vec<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>),
}

const SMALL_STACK: usize = 64 << 10;

impl StopSet {
    pub fn new(stopper: Stopper, n: usize) -> StopSet {
        match stopper {
            Stopper::Iris => {
                let container = ThreadContainer::new("bench");
                for _ in 0..n {
                    container.spawn("idle", |stop| stop.wait());
                }
                StopSet::Iris(container)
            }
            Stopper::SharedCondvar => {
                let flag = Arc::new((Mutex::new(false), Condvar::new()));
                let handles = (0..n)
                    .map(|_| {
                        let flag = flag.clone();
                        std::thread::spawn(move || {
                            let (lock, cv) = &*flag;
                            let mut stopped = lock.lock().unwrap();
                            while !*stopped {
                                stopped = cv.wait(stopped).unwrap();
                            }
                        })
                    })
                    .collect();
                StopSet::Shared(flag, handles)
            }
            Stopper::ParkFloor => StopSet::Park(
                (0..n)
                    .map(|_| {
                        let flag = Arc::new(AtomicBool::new(false));
                        let f = flag.clone();
                        let h = std::thread::spawn(move || {
                            while !f.load(Ordering::Acquire) {
                                std::thread::park();
                            }
                        });
                        (flag, h)
                    })
                    .collect(),
            ),
        }
    }

    /// Signals every thread and joins them all.
    pub fn stop(self) {
        match self {
            StopSet::Iris(container) => container.stop(Duration::from_secs(60)).unwrap(),
            StopSet::Shared(flag, handles) => {
                *flag.0.lock().unwrap() = true;
                flag.1.notify_all();
                for h in handles {
                    h.join().unwrap();
                }
            }
            StopSet::Park(threads) => {
                for (flag, h) in &threads {
                    flag.store(true, Ordering::Release);
                    h.thread().unpark();
                }
                for (_, h) in threads {
                    h.join().unwrap();
                }
            }
        }
    }
}

/// Median time to stop and join `n` idle threads.
pub fn stop_idle(stopper: Stopper, n: usize, rounds: usize) -> Samples {
    sample(rounds, || {
        let set = StopSet::new(stopper, n);
        let started = Instant::now();
        set.stop();
        started.elapsed()
    })
}

/// A chain of `depth` nested containers holding `total` idle threads spread evenly
/// over the levels.
pub fn tree(depth: usize, total: usize) -> ThreadContainer {
    let root = ThreadContainer::new("root");
    let mut level = root.clone();
    for d in 0..depth {
        let here = total / depth + usize::from(d < total % depth);
        for _ in 0..here {
            level.spawn("idle", |stop| stop.wait());
        }
        if d + 1 < depth {
            level = level.create_child(format!("level-{}", d + 1));
        }
    }
    root
}

/// Time to stop a tree of `depth` levels holding `total` threads.
pub fn stop_tree(depth: usize, total: usize, rounds: usize) -> Samples {
    sample(rounds, || {
        let root = tree(depth, total);
        let started = Instant::now();
        root.stop(Duration::from_secs(60)).unwrap();
        started.elapsed()
    })
}

// ---------------------------------------------------------------- waiting ----

/// One round: runs `wait(path)` on a thread, creates `path` from this one after
/// `pause` (time for the waiter to get into its blocking wait, so the figure is wake
/// latency, not setup), and measures from just before the file is created to the
/// waiter's return.
fn one_wake(path: PathBuf, pause: Duration, wait: impl FnOnce(&Path) + Send + 'static) -> Duration {
    let p = path.clone();
    let waiter = std::thread::spawn(move || {
        wait(&p);
        Instant::now()
    });
    std::thread::sleep(pause);
    let signalled = Instant::now();
    std::fs::File::create(&path).unwrap();
    waiter.join().unwrap().saturating_duration_since(signalled)
}

const SETTLE: Duration = Duration::from_millis(3);

/// A file polled every `every_ms`, signalled at a random phase of the loop.
pub fn polling_file_latency(rounds: usize, every_ms: u64) -> Samples {
    let dir = tempfile::tempdir().unwrap();
    let mut random = XorShift::new();
    Samples::new(
        (0..rounds)
            .map(|round| {
                let pause = SETTLE + random.below(Duration::from_millis(every_ms));
                one_wake(dir.path().join(format!("s{round}")), pause, move |path| {
                    while !path.exists() {
                        std::thread::sleep(Duration::from_millis(every_ms));
                    }
                })
            })
            .collect(),
    )
}

/// The floor and Iris measured in alternating rounds, so that the machine's state
/// (CPU frequency, idle states of a virtual machine) is the same for both: the floor
/// is one inotify instance kept open on the directory (as Iris keeps its shared
/// watcher) with a thread blocked in `read` on it; Iris is a `SentinelFile::wait`.
/// Returns (floor, sentinel).
#[cfg(target_os = "linux")] // inotify is the floor
pub fn inotify_floor_and_sentinel(rounds: usize) -> (Samples, Samples) {
    floor_and(rounds, |path| {
        SentinelFile::new(path)
            .wait(Duration::from_secs(10))
            .unwrap()
    })
}

/// The raw-inotify floor and `wait` measured in alternating rounds (see
/// `inotify_floor_and_sentinel`). Returns (floor, wait).
#[cfg(target_os = "linux")] // inotify is the floor
fn floor_and(rounds: usize, wait: impl Fn(&Path) + Clone + Send + 'static) -> (Samples, Samples) {
    use inotify::{Inotify, WatchMask};
    let dir = tempfile::tempdir().unwrap();
    let floor_dir = dir.path().join("floor");
    let iris_dir = dir.path().join("iris");
    std::fs::create_dir_all(&floor_dir).unwrap();
    std::fs::create_dir_all(&iris_dir).unwrap();
    let inotify = Inotify::init().unwrap();
    inotify
        .watches()
        .add(&floor_dir, WatchMask::CREATE | WatchMask::MOVED_TO)
        .unwrap();
    let inotify = Arc::new(parking_lot::Mutex::new(inotify));
    let (mut floor, mut iris) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for round in 0..rounds {
        let inotify = inotify.clone();
        floor.push(one_wake(
            floor_dir.join(format!("s{round}")),
            SETTLE,
            move |path| {
                let mut inotify = inotify.lock();
                let mut buffer = [0u8; 4096];
                let name = path.file_name().unwrap();
                while !inotify
                    .read_events_blocking(&mut buffer)
                    .unwrap()
                    .any(|e| e.name == Some(name))
                {}
            },
        ));
        iris.push(one_wake(
            iris_dir.join(format!("s{round}")),
            SETTLE,
            wait.clone(),
        ));
    }
    (Samples::new(floor), Samples::new(iris))
}

/// On-CPU nanoseconds of the calling thread, from the scheduler's own accounting.
pub fn thread_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

/// CPU time the waiting thread uses during a 1 s wait on an unsignalled sentinel.
pub fn sentinel_cpu_per_second() -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let sentinel = SentinelFile::new(dir.path().join("never"));
    let _ = sentinel.wait(Duration::from_millis(5)); // start the shared watcher first
    let before = thread_cpu_ns();
    let _ = sentinel.wait(Duration::from_secs(1));
    Duration::from_nanos(thread_cpu_ns() - before)
}

/// How a condition is waited for.
#[derive(Clone, Copy, Debug)]
pub enum ConditionWaiter {
    Iris,
    FixedPoll(u64),
}

/// Flips a flag at a random moment 10 to 40 ms into the wait and measures the time
/// from the flip to the waiter's return.
pub fn condition_latency(rounds: usize, waiter: ConditionWaiter) -> Samples {
    let mut random = XorShift::new();
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let delay = Duration::from_millis(10) + random.below(Duration::from_millis(30));
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let waiting = std::thread::spawn(move || {
            match waiter {
                ConditionWaiter::Iris => {
                    wait_for_condition(|| f.load(Ordering::Acquire), Duration::from_secs(10))
                        .unwrap()
                }
                ConditionWaiter::FixedPoll(ms) => {
                    while !f.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(ms));
                    }
                }
            }
            Instant::now()
        });
        std::thread::sleep(delay);
        let flipped = Instant::now();
        flag.store(true, Ordering::Release);
        samples.push(waiting.join().unwrap().saturating_duration_since(flipped));
    }
    Samples::new(samples)
}

/// How many times `wait_for_condition` checks a condition that never holds during
/// a wait of `duration`.
pub fn condition_checks(duration: Duration) -> u64 {
    let mut checks = 0u64;
    let _ = wait_for_condition(
        || {
            checks += 1;
            false
        },
        duration,
    );
    checks
}

/// Checks made in the first second of a wait, and checks per second once the
/// backoff has reached its cap (from the difference between a 3 s and a 1 s wait).
pub fn condition_check_rates() -> (u64, f64) {
    let first = condition_checks(Duration::from_secs(1));
    let three = condition_checks(Duration::from_secs(3));
    (first, three.saturating_sub(first) as f64 / 2.0)
}

// ---------------------------------------------------------------- harness ----

/// Scope + snapshot + stop + diff of a test that spawns nothing (what
/// `#[iris_test]` adds to a passing test), averaged over `iters`.
pub fn test_scope_overhead(iters: u32) -> Duration {
    let started = Instant::now();
    for _ in 0..iters {
        TestScope::begin(TestOptions::new("bench"))
            .finish()
            .unwrap();
    }
    started.elapsed() / iters
}

/// `n` idle threads in the process (small stacks), released when the guard drops.
pub struct IdleThreads {
    release: Option<std::sync::mpsc::Sender<()>>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl IdleThreads {
    pub fn new(n: usize) -> IdleThreads {
        let (release, receiver) = std::sync::mpsc::channel::<()>();
        let receiver = Arc::new(Mutex::new(receiver));
        let handles = (0..n)
            .map(|_| {
                let receiver = receiver.clone();
                std::thread::Builder::new()
                    .stack_size(SMALL_STACK)
                    .spawn(move || {
                        let _ = receiver
                            .lock()
                            .map(|r| r.recv_timeout(Duration::from_secs(600)));
                    })
                    .unwrap()
            })
            .collect();
        IdleThreads {
            release: Some(release),
            handles,
        }
    }
}

impl Drop for IdleThreads {
    fn drop(&mut self) {
        drop(self.release.take());
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

// ---------------------------------------------------------------- processes ----

pub const CHATTY_LINES: u32 = 1_000_000;

/// The chatty children: (label, shell script).
pub fn chatty_children() -> [(&'static str, String); 2] {
    [
        (
            "line-buffered child (awk, fflush per line)",
            format!("awk 'BEGIN {{ for (i = 0; i < {CHATTY_LINES}; i++) {{ print \"log line \" i; fflush() }} }}'"),
        ),
        (
            "block-buffered child (yes | head)",
            format!("yes 'log line 0123456' | head -n {CHATTY_LINES}"),
        ),
    ]
}

pub fn to_dev_null(script: &str) -> Duration {
    let started = Instant::now();
    let status = std::process::Command::new("sh")
        .args(["-c", script])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed()
}

/// A pipe read in 64 KiB chunks and thrown away: what capturing costs at the least.
pub fn drained(script: &str) -> Duration {
    use std::io::Read;
    let started = Instant::now();
    let mut child = std::process::Command::new("sh")
        .args(["-c", script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buffer = vec![0u8; 64 << 10];
    while stdout.read(&mut buffer).unwrap() > 0 {}
    assert!(child.wait().unwrap().success());
    started.elapsed()
}

/// Time until the child has exited and every line has been captured by Iris, with
/// the result checked as a test would (`success`, the last line's number).
#[cfg(unix)]
pub fn captured(script: &str) -> Duration {
    capture_with(script, false)
}

/// [`captured`], then every retained line decoded into a `LogLine` (`lines()`):
/// what a test that walks the lines pays on top.
#[cfg(unix)]
pub fn captured_and_decoded(script: &str) -> Duration {
    capture_with(script, true)
}

#[cfg(unix)] // managed processes
fn capture_with(script: &str, decode: bool) -> Duration {
    use iris::ProcessOptions;
    let app = ThreadContainer::new("bench");
    let mut command = std::process::Command::new("sh");
    command.args(["-c", script]);
    let started = Instant::now();
    let child = app
        .spawn_process_with("chatty", command, ProcessOptions::new().log_lines(false))
        .unwrap();
    let output = child.output(Duration::from_secs(120)).unwrap();
    assert!(output.success());
    let last = if decode {
        output.lines().last().map(|line| line.seq)
    } else {
        output.last_seq()
    };
    let took = started.elapsed();
    assert_eq!(last, Some(u64::from(CHATTY_LINES) - 1));
    app.stop(Duration::from_secs(10)).unwrap();
    took
}

// ------------------------------------------------------------------ async ----

/// A current-thread runtime with every driver, as `#[tokio::test]` builds one.
#[cfg(feature = "tokio")]
pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Per-test cost of an empty async test, averaged over `iters`: with
/// `#[iris_test]` (`run_async_test`, what the attribute expands to) and with what
/// `#[tokio::test]` expands to (a fresh current-thread runtime and `block_on`).
/// Returns (iris, tokio), each a list of per-test times for a median.
#[cfg(feature = "tokio")]
pub fn async_test_overhead(iters: usize) -> (Samples, Samples) {
    let (mut iris, mut plain) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    for _ in 0..iters {
        let started = Instant::now();
        iris::run_async_test(TestOptions::new("bench"), async {
            divan::black_box(1);
        });
        iris.push(started.elapsed());
        let started = Instant::now();
        current_thread_runtime().block_on(async {
            divan::black_box(1);
        });
        plain.push(started.elapsed());
    }
    (Samples::new(iris), Samples::new(plain))
}

/// An `#[iris_test] async fn` whose one task yields 10,000 times.
#[cfg(feature = "tokio")]
pub fn test_whose_task_yields_10000_times(options: TestOptions) {
    iris::run_async_test(options, async {
        tokio::spawn(async {
            for _ in 0..10_000 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap()
    });
}

/// A test whose one task yields 10,000 times, with blocking detection on (the
/// default) and off, `rounds` times each, alternating: the park and unpark callbacks
/// are on this path. Returns (on, off).
#[cfg(feature = "tokio")]
pub fn yields_with_and_without_blocking_check(rounds: usize) -> (Samples, Samples) {
    let run = |options: TestOptions| {
        let started = Instant::now();
        test_whose_task_yields_10000_times(options);
        started.elapsed()
    };
    let (mut on, mut off) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        on.push(run(TestOptions::new("bench")));
        off.push(run(TestOptions::new("bench").blocking(None)));
    }
    (Samples::new(on), Samples::new(off))
}

/// Spawn a task and await its output, `iters` times on one current-thread runtime:
/// per operation, (managed `spawn_task` + `join`, `tokio::spawn` + await), measured
/// in alternating batches.
#[cfg(feature = "tokio")]
pub fn task_spawn_join(iters: u32) -> (Duration, Duration) {
    let runtime = current_thread_runtime();
    let container = ThreadContainer::new("bench");
    let (mut iris, mut plain) = (Duration::ZERO, Duration::ZERO);
    runtime.block_on(async {
        for _ in 0..10 {
            let started = Instant::now();
            for i in 0..iters / 10 {
                let task =
                    container.spawn_task("t", move |_stop| async move { divan::black_box(i) });
                divan::black_box(task.join().await.unwrap());
            }
            iris += started.elapsed();
            let started = Instant::now();
            for i in 0..iters / 10 {
                let task = tokio::spawn(async move { divan::black_box(i) });
                divan::black_box(task.await.unwrap());
            }
            plain += started.elapsed();
        }
    });
    container.stop(Duration::from_secs(5)).unwrap();
    (iris / iters, plain / iters)
}

/// Stopping `n` idle tasks: managed tasks waiting on their stop tokens, stopped with
/// `stop_async`; and the baseline, `n` tasks waiting on child tokens of one
/// tokio-util `CancellationToken`, cancelled and awaited. Each round on a fresh
/// current-thread runtime; returns (iris, cancellation token).
#[cfg(feature = "tokio")]
pub fn stop_idle_tasks(n: usize, rounds: usize) -> (Samples, Samples) {
    let (mut iris, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let runtime = current_thread_runtime();
        runtime.block_on(async {
            let container = ThreadContainer::new("bench");
            for _ in 0..n {
                container.spawn_task("idle", |stop| async move { stop.stopped().await });
            }
            tokio::task::yield_now().await; // every task parked on its token
            let started = Instant::now();
            container.stop_async(Duration::from_secs(60)).await.unwrap();
            iris.push(started.elapsed());

            let token = tokio_util::sync::CancellationToken::new();
            let handles: Vec<_> = (0..n)
                .map(|_| tokio::spawn(token.child_token().cancelled_owned()))
                .collect();
            tokio::task::yield_now().await;
            let started = Instant::now();
            token.cancel();
            for handle in handles {
                handle.await.unwrap();
            }
            baseline.push(started.elapsed());
        });
    }
    (Samples::new(iris), Samples::new(baseline))
}

/// Like `inotify_floor_and_sentinel`, for `SentinelFile::wait_async` on a
/// current-thread runtime (built before the round's clock starts, as a test's is).
/// Returns (floor, async sentinel).
#[cfg(feature = "tokio")]
#[cfg(target_os = "linux")] // inotify is the floor
pub fn inotify_floor_and_sentinel_async(rounds: usize) -> (Samples, Samples) {
    floor_and(rounds, |path| {
        let runtime = current_thread_runtime();
        runtime
            .block_on(SentinelFile::new(path).wait_async(Duration::from_secs(10)))
            .unwrap()
    })
}

// ---------------------------------------------------------- thread tracking ----

/// Per-iteration cost of `std::thread::spawn` + `join` inside a test scope, with
/// thread tracking on or off (the same binary: the switch bypasses the tracker).
#[cfg(feature = "thread-tracking")]
pub fn tracked_spawn_join(iters: u32, tracking: bool) -> Duration {
    iris::__set_thread_tracking(tracking);
    let scope =
        TestScope::begin(TestOptions::new("bench-tracking").leaks(iris::LeakPolicy::Ignore));
    let started = Instant::now();
    for _ in 0..iters {
        std::thread::spawn(|| std::hint::black_box(1))
            .join()
            .unwrap();
    }
    let took = started.elapsed() / iters;
    scope.finish().unwrap();
    iris::__set_thread_tracking(true);
    took
}

/// Per-test cost of the teardown check (`TestScope::begin` + `finish`, nothing
/// leaked) while `idle` other threads live in the process. The process is shared
/// as far as Iris can tell, so the check is the tracker's.
#[cfg(feature = "thread-tracking")]
pub fn tracked_teardown(iters: u32, idle: usize) -> Duration {
    let _idle = IdleThreads::new(idle);
    let started = Instant::now();
    for _ in 0..iters {
        tracked_teardown_once();
    }
    started.elapsed() / iters
}

/// One empty test's scope, begun and finished.
#[cfg(feature = "thread-tracking")]
pub fn tracked_teardown_once() {
    TestScope::begin(TestOptions::new("bench-teardown"))
        .finish()
        .unwrap();
}

/// Run in a fresh process (so the first symbolization is paid): a test scope that
/// leaks `n` raw threads, then the report (creation sites and live stacks, resolved).
/// Returns the time from the end of the test body to the report in hand.
#[cfg(feature = "thread-tracking")]
pub fn tracked_report_of_leaks(n: usize) -> Duration {
    let scope = TestScope::begin(TestOptions::new("bench-report").linger(Duration::ZERO));
    let (keep, wait) = std::sync::mpsc::channel::<()>();
    let wait = Arc::new(Mutex::new(wait));
    for i in 0..n {
        let wait = wait.clone();
        std::thread::Builder::new()
            .name(format!("leak-{i}"))
            .spawn(move || {
                let _ = wait.lock().map(|w| w.recv());
            })
            .unwrap();
    }
    std::mem::forget(keep);
    let started = Instant::now();
    let report = scope.inspect();
    let took = started.elapsed();
    assert_eq!(report.unmanaged().len(), n, "{report}");
    assert!(
        report
            .unmanaged()
            .iter()
            .all(|u| u.origin.as_ref().is_some_and(|o| o.created_at.is_some())),
        "{report}"
    );
    took
}
