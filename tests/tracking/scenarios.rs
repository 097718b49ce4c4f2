//! Tests that leak or panic on purpose, beside tests that behave. Run by
//! `end_to_end` only.

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use iris::{iris_test, wait_for_condition};

/// A thread that blocks for ever on a channel nobody will send on.
fn park_forever() {
    let (keep, blocked) = mpsc::channel::<()>();
    std::mem::forget(keep);
    let _ = blocked.recv();
}

/// The function a leaked thread is blocked in, so reports can be checked for it.
#[inline(never)]
fn leaked_worker_loop() {
    park_forever();
}

#[inline(never)]
fn start_leaky_worker() {
    std::thread::Builder::new()
        .name("leaky-raw".into())
        .spawn(leaked_worker_loop)
        .unwrap();
}

#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn leaks_a_raw_thread() {
    start_leaky_worker();
}

#[inline(never)]
fn start_grandchild() {
    std::thread::Builder::new()
        .name("leaky-grandkid".into())
        .spawn(leaked_worker_loop)
        .unwrap();
}

#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn leaks_a_grandchild_thread() {
    // The child starts a grandchild and ends (joined); the grandchild leaks.
    std::thread::Builder::new()
        .name("short-parent".into())
        .spawn(start_grandchild)
        .unwrap()
        .join()
        .unwrap();
}

#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn leaks_a_tokio_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("leaky-tokio")
        .build()
        .unwrap();
    std::mem::forget(runtime);
}

/// Tests that behave: each creates and joins raw threads while the leaky ones run.
macro_rules! well_behaved {
    ($($name:ident),*) => {$(
        #[iris_test(linger = "100ms")]
        #[ignore = "runs beside the leaky ones; run by end_to_end"]
        fn $name() {
            for round in 0..20 {
                let barrier = Arc::new(Barrier::new(4));
                let handles: Vec<_> = (0..3)
                    .map(|i| {
                        let barrier = barrier.clone();
                        std::thread::Builder::new()
                            .name(format!("tidy-{round}-{i}"))
                            .spawn(move || {
                                barrier.wait();
                                // A grandchild, joined too.
                                std::thread::spawn(|| 2 + 2).join().unwrap()
                            })
                            .unwrap()
                    })
                    .collect();
                barrier.wait();
                for handle in handles {
                    assert_eq!(handle.join().unwrap(), 4);
                }
            }
        }
    )*};
}

well_behaved!(tidy_a, tidy_b, tidy_c, tidy_d, tidy_e);

#[iris_test(linger = "100ms")]
#[ignore = "panics on purpose; run by end_to_end"]
fn a_plain_thread_panics_unjoined() {
    let handle = std::thread::Builder::new()
        .name("doomed".into())
        .spawn(|| panic!("the plain thread gave up"))
        .unwrap();
    // Waits for its end without joining it (the handle is dropped: detached).
    wait_for_condition(|| handle.is_finished(), Duration::from_secs(10)).unwrap();
}

/// A pool's job that fails on purpose, as a thread-pool crate's tests do: the panic
/// ends a worker the pool never joins.
fn a_job_fails_on_purpose() {
    let handle = std::thread::Builder::new()
        .name("pool-worker".into())
        .spawn(|| panic!("the job failed on purpose"))
        .unwrap();
    wait_for_condition(|| handle.is_finished(), Duration::from_secs(10)).unwrap();
}

#[iris_test(linger = "100ms", thread_panics = "warn")]
#[ignore = "panics on purpose; run by end_to_end"]
fn a_meant_panic_warned() {
    a_job_fails_on_purpose();
}

#[iris_test(linger = "100ms", thread_panics = "ignore")]
#[ignore = "panics on purpose; run by end_to_end"]
fn a_meant_panic_ignored() {
    a_job_fails_on_purpose();
}

#[iris_test(linger = "100ms", thread_panics = "warn")]
#[ignore = "panics and leaks on purpose; run by end_to_end"]
fn a_meant_panic_does_not_hide_a_leak() {
    a_job_fails_on_purpose();
    start_leaky_worker();
}

#[iris_test(linger = "100ms")]
#[ignore = "panics on purpose; run by end_to_end"]
fn a_plain_thread_panics_and_is_joined() {
    let handle = std::thread::Builder::new()
        .name("doomed-joined".into())
        .spawn(|| panic!("the joiner decides"))
        .unwrap();
    assert!(handle.join().is_err(), "the panic reached the joiner");
}

#[iris_test(linger = "100ms")]
#[ignore = "panics on purpose; run by end_to_end"]
fn a_panic_caught_inside_its_thread_is_not_a_finding() {
    std::thread::Builder::new()
        .name("catcher".into())
        .spawn(|| {
            let caught = std::panic::catch_unwind(|| panic!("caught inside"));
            assert!(caught.is_err());
        })
        .unwrap();
    // Detached; it ends on its own within `linger`.
}

/// Recurses `depth` frames, then panics: a panic deep in a pool's recursion (rayon
/// splits work in `join` a hundred frames deep, and catches near the root).
#[inline(never)]
fn panic_at_depth(depth: u32) -> u32 {
    if depth == 0 {
        panic!("deep down");
    }
    // The addition after the call keeps it from being a tail call.
    panic_at_depth(std::hint::black_box(depth - 1)) + 1
}

#[iris_test(linger = "100ms")]
#[ignore = "panics on purpose; run by end_to_end"]
fn a_deep_panic_caught_near_the_root_is_not_a_finding() {
    std::thread::Builder::new()
        .name("deep-catcher".into())
        .spawn(|| {
            let caught = std::panic::catch_unwind(|| panic_at_depth(200));
            assert!(caught.is_err());
        })
        .unwrap();
}

#[iris_test(linger = "100ms")]
#[ignore = "panics on purpose; run by end_to_end"]
fn a_deep_panic_nobody_caught() {
    let handle = std::thread::Builder::new()
        .name("deep-doomed".into())
        .spawn(|| panic_at_depth(200))
        .unwrap();
    wait_for_condition(|| handle.is_finished(), Duration::from_secs(10)).unwrap();
}

#[iris_test(linger = "100ms", ignore_threads = "*start_leaky_worker")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn an_ignored_creator_is_not_reported() {
    start_leaky_worker();
}

#[iris_test(linger = "2s")]
#[ignore = "run by end_to_end"]
fn a_thread_that_ends_within_linger_is_not_a_leak() {
    // The behaviour under test: a thread that is still running when the body returns.
    std::thread::spawn(|| std::thread::sleep(Duration::from_millis(50)));
}

#[iris_test(linger = "100ms", timeout = "300ms")]
#[ignore = "hangs on purpose; run by end_to_end"]
fn a_stuck_body_shows_its_stack() {
    std::thread::Builder::new()
        .name("helper-raw".into())
        .spawn(leaked_worker_loop)
        .unwrap();
    stuck_in_the_body();
}

#[inline(never)]
fn stuck_in_the_body() {
    std::thread::sleep(Duration::from_millis(1500)); // the behaviour under test: a stuck body
}

#[inline(never)]
fn pool() -> &'static std::thread::JoinHandle<()> {
    static POOL: std::sync::OnceLock<std::thread::JoinHandle<()>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        std::thread::Builder::new()
            .name("lazy-pool".into())
            .spawn(leaked_worker_loop)
            .unwrap()
    })
}

#[iris_test(linger = "100ms")]
#[ignore = "uses a process-wide pool; run by end_to_end"]
fn a_lazily_created_pool() {
    pool();
}

#[iris_test(linger = "100ms")]
#[ignore = "uses a process-wide pool; run by end_to_end"]
fn a_lazily_created_pool_again() {
    pool();
}

/// A reactor made once for the process that starts a worker thread whenever it is
/// asked to (on the reactor's own thread: no initializer on the worker's stack).
fn reactor() -> &'static mpsc::SyncSender<()> {
    static REACTOR: std::sync::OnceLock<mpsc::SyncSender<()>> = std::sync::OnceLock::new();
    REACTOR.get_or_init(|| {
        let (ask, asked) = mpsc::sync_channel::<()>(16);
        std::thread::Builder::new()
            .name("reactor".into())
            .spawn(move || {
                for () in asked {
                    std::thread::Builder::new()
                        .name("reactor-worker".into())
                        .spawn(park_forever)
                        .unwrap();
                }
            })
            .unwrap();
        ask
    })
}

#[iris_test(linger = "100ms")]
#[ignore = "uses a process-wide pool; run by end_to_end"]
fn a_reactor_made_once_starts_workers_later() {
    reactor().send(()).unwrap();
}

/// As an r2d2 connection pool does: a `scheduled_thread_pool` with a job far ahead
/// (r2d2's reaper, every 30 s), dropped at the end of the test. Dropping it only
/// tells the workers to end once the jobs already scheduled have run, so they
/// outlive the test by up to a minute here, and then end on their own.
#[iris_test(linger = "100ms")]
#[ignore = "its pool winds down after the test; run by end_to_end"]
fn a_dropped_pool_whose_workers_end_later() {
    let pool = scheduled_thread_pool::ScheduledThreadPool::builder()
        .num_threads(2)
        .thread_name_pattern("winding-down-{}")
        .build();
    pool.execute_at_fixed_rate(Duration::from_secs(60), Duration::from_secs(60), || {});
    drop(pool);
}

/// As governor's rate limiters do: a `futures_timer::Delay`, whose first use in the
/// process starts the crate's global timer thread ("futures-timer") from a plain
/// function (guarded by an atomic, no initializer), kept for the process.
#[iris_test(linger = "100ms")]
#[ignore = "starts a process-wide thread; run by end_to_end"]
fn a_first_delay_starts_the_global_timer_thread() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(futures_timer::Delay::new(Duration::from_millis(1)));
}

#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn a_pool_built_by_the_test_and_left() {
    // Not in an initializer: the test's own pool, never shut down.
    for i in 0..2 {
        std::thread::Builder::new()
            .name(format!("own-pool-{i}"))
            .spawn(park_forever)
            .unwrap();
    }
}

#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn a_pool_built_by_a_helper_and_left() {
    start_helper_pool();
}

/// Stands for a library's pool that starts its workers on first use.
#[inline(never)]
fn start_helper_pool() {
    for i in 0..2 {
        std::thread::Builder::new()
            .name(format!("helper-pool-{i}"))
            .spawn(park_forever)
            .unwrap();
    }
}

/// A mock server: a thread that serves until its pool or its owner ends it. Here it
/// parks for ever, as an idle server waits for connections.
pub struct Server {
    pub id: usize,
}

/// Stands for a test-support crate's pool of mock servers (mockito's `ServerPool`):
/// a plain `static`, grown on demand by whichever test asks first, each server a
/// thread; a test takes one and gives it back when it drops it.
pub struct ServerPool;

static FREE_SERVERS: std::sync::Mutex<Vec<Server>> = std::sync::Mutex::new(Vec::new());
static SERVERS_MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl ServerPool {
    /// A free server, or a new one.
    #[inline(never)]
    pub fn get() -> PooledServer {
        let free = FREE_SERVERS.lock().unwrap().pop();
        PooledServer(Some(free.unwrap_or_else(Server::start)))
    }
}

impl Server {
    #[inline(never)]
    fn start() -> Server {
        let id = SERVERS_MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::Builder::new()
            .name(format!("mock-server-{id}"))
            .spawn(park_forever)
            .unwrap();
        Server { id }
    }

    /// A server outside the pool (mockito's `Server::new_with_opts`): its thread
    /// serves for ever, whatever the test does. A real leak.
    #[inline(never)]
    pub fn get_with_opts() -> Server {
        Server::start()
    }
}

/// A server taken from the pool; dropping it gives it back.
pub struct PooledServer(Option<Server>);

impl Drop for PooledServer {
    fn drop(&mut self) {
        if let Some(server) = self.0.take() {
            FREE_SERVERS.lock().unwrap().push(server);
        }
    }
}

#[iris_test(linger = "100ms")]
#[ignore = "run by end_to_end"]
fn takes_a_server_from_a_static_pool() {
    let server = ServerPool::get();
    assert!(server.0.as_ref().is_some_and(|s| s.id < 1000));
}

#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn makes_a_server_outside_the_pool() {
    let server = Server::get_with_opts();
    assert!(server.id < 1000);
}

/// Stands for a library's IO pool started inside its own hand-written lazy type (not
/// std's, once_cell's or lazy_static's), as sled's is.
pub mod lazy {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    pub struct Lazy<T: 'static> {
        made: AtomicBool,
        value: Mutex<Option<&'static T>>,
        make: fn() -> T,
    }

    impl<T: Sync> Lazy<T> {
        pub const fn new(make: fn() -> T) -> Lazy<T> {
            Lazy {
                made: AtomicBool::new(false),
                value: Mutex::new(None),
                make,
            }
        }

        /// The value, made by the first caller.
        #[inline(never)]
        pub fn force(&'static self) -> &'static T {
            let mut value = self.value.lock().unwrap();
            if !self.made.swap(true, Ordering::AcqRel) {
                *value = Some(Box::leak(Box::new((self.make)())));
            }
            value.expect("made by the first caller")
        }
    }
}

/// The library's IO pool: two workers, made on first use, for the process.
pub struct IoPool;

static IO_POOL: lazy::Lazy<IoPool> = lazy::Lazy::new(IoPool::start);

impl IoPool {
    #[inline(never)]
    fn start() -> IoPool {
        for i in 0..2 {
            std::thread::Builder::new()
                .name(format!("io-pool-{i}"))
                .spawn(park_forever)
                .unwrap();
        }
        IoPool
    }

    /// Where the library does its IO.
    pub fn shared() -> &'static IoPool {
        IO_POOL.force()
    }
}

#[iris_test(linger = "100ms")]
#[ignore = "run by end_to_end"]
fn uses_a_library_io_pool_behind_its_own_lazy() {
    let _pool = IoPool::shared();
}

/// Calls of the program's own handler for the stack-sampling signal.
static USER_HANDLER_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn user_handler(_signal: libc::c_int) {
    USER_HANDLER_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

fn leak_thread_named(name: &str) {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(park_forever)
        .unwrap();
}

#[iris_test(linger = "50ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn signal_1_sampled_while_the_signal_is_iris_s() {
    leak_thread_named("sampled-one");
}

#[iris_test(linger = "50ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn signal_2_taken_by_the_program() {
    let handler: extern "C" fn(libc::c_int) = user_handler;
    // SAFETY: installs a handler that only increments an atomic, as a program that
    // uses this real-time signal for itself would.
    unsafe { libc::signal(libc::SIGRTMAX() - 3, handler as libc::sighandler_t) };
    leak_thread_named("sampled-two");
}

#[test]
#[ignore = "run by end_to_end, after the two above"]
fn signal_3_the_programs_handler_was_never_invoked_by_iris() {
    assert_eq!(
        USER_HANDLER_CALLS.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

/// Starts `sleep 300` (output to /dev/null, so the driver's pipes never wait for it)
/// and writes its pid to `$IRIS_SCENARIO_PIDS/<test>`, for the driver to check.
fn start_sleeper(test: &str) -> std::process::Child {
    let child = std::process::Command::new("sleep")
        .arg("300")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    if let Ok(dir) = std::env::var("IRIS_SCENARIO_PIDS") {
        std::fs::write(
            std::path::Path::new(&dir).join(test),
            child.id().to_string(),
        )
        .unwrap();
    }
    child
}

#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn leaves_a_child_process() {
    std::mem::forget(start_sleeper("leaves_a_child_process"));
}

#[iris_test(linger = "100ms", leaks = "warn")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn keeps_a_child_process_under_warn() {
    std::mem::forget(start_sleeper("keeps_a_child_process_under_warn"));
}

#[iris_test]
#[ignore = "run by end_to_end"]
fn waits_for_its_child_process() {
    let mut child = start_sleeper("waits_for_its_child_process");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A plain thread that runs a runtime, as tokio-util's `LocalPoolHandle` workers do:
/// the runtime's task harness catches a task's panic and hands it to the awaited
/// `JoinHandle`; the thread goes on and ends on its own.
#[iris_test]
#[ignore = "run by end_to_end"]
fn a_panic_a_runtime_caught_on_a_plain_thread_is_not_a_finding() {
    let (answer, answered) = mpsc::channel();
    std::thread::Builder::new()
        .name("local-pool".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let observed = runtime.block_on(async {
                tokio::spawn(async { panic!("a task failed") })
                    .await
                    .unwrap_err()
                    .is_panic()
            });
            answer.send(observed).unwrap();
        })
        .unwrap();
    assert!(answered.recv().unwrap(), "the JoinHandle saw the panic");
}

/// The other side: a plain thread that a panic ends, and nobody joins.
#[iris_test]
#[ignore = "fails on purpose; run by end_to_end"]
fn a_panic_that_ends_an_unjoined_thread_is_a_finding() {
    let (done, finished) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("doomed-plain".into())
        .spawn(move || {
            let _finished = done; // dropped when the panic ends the thread
            panic!("the worker failed");
        })
        .unwrap();
    let _ = finished.recv();
}
