//! Tests that misbehave on purpose. Run by `end_to_end` only.

use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use iris::{get_thread_registry, iris_test, StopToken};

#[path = "scenarios/stress.rs"]
mod stress;

/// Never stopped: threads that wait on it outlive their test.
fn never() -> &'static StopToken {
    static NEVER: OnceLock<StopToken> = OnceLock::new();
    NEVER.get_or_init(StopToken::new)
}

#[iris_test(stop_timeout = "100ms", linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn managed_straggler() {
    get_thread_registry().spawn("stubborn-worker", |_ignored| never().wait());
}

/// A suite's own silent panic hook is in place when the test ends (as when another
/// test hides a panic it expects while this one fails).
#[iris_test(stop_timeout = "100ms", linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn leaks_under_a_silent_panic_hook() {
    std::panic::set_hook(Box::new(|_| {}));
    get_thread_registry().spawn("stubborn-worker", |_ignored| never().wait());
}

#[iris_test(stop_timeout = "100ms", linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn leaked_pool() {
    let pool = get_thread_registry().create_child("pool");
    for i in 0..16 {
        pool.spawn(format!("worker-{i}"), |_ignored| never().wait());
    }
}

/// Starts a plain thread named `name` that blocks for ever, and leaves it.
fn leave_a_blocked_thread_named(name: &str) {
    let (keep, blocked) = mpsc::channel::<()>();
    std::mem::forget(keep);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || blocked.recv())
        .unwrap();
}

#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn unmanaged_thread() {
    leave_a_blocked_thread_named("rogue-std");
}

/// A thread that carries the name of a well-known process-wide pool's thread (smol's
/// `blocking` pool), made by the test itself and blocked for ever.
#[iris_test(linger = "100ms")]
#[ignore = "run by end_to_end"]
fn thread_named_like_a_global_pool() {
    leave_a_blocked_thread_named("blocking-42");
}

/// The same with a name longer than the 15 bytes Linux keeps: async-std's global
/// runtime's, which the OS shows as `async-std/runti`.
#[iris_test(linger = "100ms")]
#[ignore = "run by end_to_end"]
fn thread_named_like_a_long_named_global_pool() {
    leave_a_blocked_thread_named("async-std/runtime");
}

/// A thread with a long name the test lists in `ignore_threads`, written whole.
#[iris_test(linger = "100ms", ignore_threads = "my-long-pool-worker-*")]
#[ignore = "run by end_to_end"]
fn ignores_a_long_named_thread_by_its_whole_name() {
    leave_a_blocked_thread_named("my-long-pool-worker-7");
}

#[iris_test]
#[ignore = "leaks on purpose; run by end_to_end"]
fn background_panic() {
    let registry = get_thread_registry();
    registry.spawn("doomed", |_stop| panic!("the background job failed"));
    // The body itself passes; only Iris notices the panic.
    assert!(registry.wait_timeout(crate::PATIENCE));
}

#[iris_test]
#[ignore = "run by end_to_end"]
fn clean() {
    let registry = get_thread_registry();
    registry.spawn("polite", |stop| {
        while !stop.wait_timeout(Duration::from_millis(1)) {}
    });
    let pool = registry.spawn_executor(2, "pool");
    assert_eq!(pool.submit(|| 2 + 2).unwrap().join().unwrap(), 4);
}

#[iris_test(leaks = "warn", stop_timeout = "50ms", linger = "50ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn warned() {
    get_thread_registry().spawn("tolerated", |_ignored| never().wait());
}

#[iris_test(stop_timeout = "50ms", linger = "50ms")]
#[should_panic(expected = "the test's own failure")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn own_panic_wins() {
    get_thread_registry().spawn("bystander", |_ignored| never().wait());
    panic!("the test's own failure");
}

#[iris_test(timeout = "300ms", stop_timeout = "50ms", linger = "50ms")]
#[ignore = "hangs on purpose; run by end_to_end"]
fn hangs() {
    get_thread_registry().spawn("helper-of-hang", |stop| stop.wait());
    never().wait();
}

#[iris_test]
#[ignore = "run by end_to_end"]
fn returns_err() -> Result<(), String> {
    Err("the body's own error".into())
}

#[iris_test]
#[ignore = "fails on purpose; run by end_to_end"]
fn logs_then_fails() {
    get_thread_registry()
        .spawn("order-worker", |_stop| {
            tracing::info!(order = 42, "processing order")
        })
        .join()
        .unwrap();
    panic!("the assertion after the background work failed");
}

#[cfg(unix)] // managed processes
#[iris_test(stop_timeout = "100ms", linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn managed_process_survives() {
    let mut command = std::process::Command::new("sh");
    // Ignores SIGTERM for longer than the stop timeout, but ends by itself.
    command.args(["-c", "trap '' TERM; echo ready; sleep 3"]);
    let child = get_thread_registry()
        .spawn_process_with(
            "stubborn-child",
            command,
            iris::ProcessOptions::new().grace(Duration::from_secs(2)),
        )
        .unwrap();
    child
        .wait_for_line(|l| l.text == "ready", crate::PATIENCE)
        .unwrap();
}

/// The guide's values, close together: the supervisor's SIGKILL (after `grace` of
/// SIGTERM) comes right after the stop's deadline. Once the report then found the
/// process gone and blamed its reaper, output readers and supervisor, still ending,
/// as four leaked threads of the test's.
#[cfg(unix)] // managed processes
#[iris_test(stop_timeout = "300ms", linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn managed_process_killed_at_the_deadline() {
    let mut command = std::process::Command::new("sh");
    command.args(["-c", "trap '' TERM; echo ready; sleep 5"]);
    let child = get_thread_registry()
        .spawn_process_with(
            "deaf-server",
            command,
            iris::ProcessOptions::new().grace(Duration::from_millis(300)),
        )
        .unwrap();
    child
        .wait_for_line(|l| l.text == "ready", crate::PATIENCE)
        .unwrap();
}

#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn unmanaged_child_process() {
    // Output to /dev/null, so the driver's pipes do not wait for it.
    let child = std::process::Command::new("sleep")
        .arg("3")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::mem::forget(child);
}

/// Starts `true` and returns it once it has exited, unreaped: a zombie.
#[cfg(target_os = "linux")]
fn a_zombie() -> std::process::Child {
    let child = std::process::Command::new("true").spawn().unwrap();
    let stat = format!("/proc/{}/stat", child.id());
    let exited = || {
        std::fs::read_to_string(&stat)
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(false)
    };
    iris::wait_for_condition(exited, crate::PATIENCE).expect("`true` exits");
    child
}

/// Reaps the children handed to it, a little later, on a thread of its own made once
/// for the process: what async-process does with a `Child` dropped unwaited.
#[cfg(target_os = "linux")]
fn background_reaper() -> &'static std::sync::Mutex<mpsc::Sender<std::process::Child>> {
    static REAPER: OnceLock<std::sync::Mutex<mpsc::Sender<std::process::Child>>> = OnceLock::new();
    REAPER.get_or_init(|| {
        let (send, receive) = mpsc::channel::<std::process::Child>();
        std::thread::Builder::new()
            .name("zombie-reaper".into())
            .spawn(move || {
                let unstopped = StopToken::new();
                for mut child in receive {
                    // Stands for the reactor's latency before the reap.
                    unstopped.wait_timeout(Duration::from_millis(50));
                    let _ = child.wait();
                }
            })
            .unwrap();
        std::sync::Mutex::new(send)
    })
}

/// Its child has exited when the test ends, and a library's reaper thread reaps it
/// soon after: no leak. (The thread's name is for runs without thread tracking,
/// which cannot see that it was made in a one-time initializer.)
#[cfg(target_os = "linux")]
#[iris_test(ignore_threads = "zombie-reaper")]
#[ignore = "run by end_to_end"]
fn a_zombie_a_background_reaper_reaps() {
    let child = a_zombie();
    background_reaper().lock().unwrap().send(child).unwrap();
}

/// Its child has exited and nobody ever waits for it: a zombie nobody reaped.
#[cfg(target_os = "linux")]
#[iris_test(linger = "200ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn a_zombie_nobody_reaps() {
    std::mem::forget(a_zombie());
}

#[cfg(unix)] // managed processes
#[iris_test(stop_timeout = "200ms", linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn escaped_descendant_survives() {
    // The child's own child leaves the process group and ignores SIGTERM for longer
    // than the stop timeout (it ends by itself after 3 s).
    let mut command = std::process::Command::new("sh");
    command.args([
        "-c",
        "setsid sh -c 'trap \"\" TERM; echo escaped; sleep 3' & exec sleep 3",
    ]);
    let child = get_thread_registry()
        .spawn_process_with(
            "escaper",
            command,
            iris::ProcessOptions::new().grace(Duration::from_secs(2)),
        )
        .unwrap();
    child
        .wait_for_line(|l| l.text == "escaped", crate::PATIENCE)
        .unwrap();
}

#[iris_test(linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn unnamed_thread() {
    let (keep, blocked) = mpsc::channel::<()>();
    std::mem::forget(keep);
    // No name: the OS name is the creator's (this test's thread).
    std::thread::spawn(move || blocked.recv());
}

/// A component whose threads obey their stop token, and a managed process, that the
/// test never shut down: the registry's stop ends them. No finding by default;
/// `teardown = "fail"` (here `IRIS_TEARDOWN`) names each.
#[cfg(unix)] // managed processes
#[iris_test]
#[ignore = "run by end_to_end"]
fn forgotten_shutdown() {
    get_thread_registry().spawn("poller", |stop| stop.wait());
    let mut command = std::process::Command::new("sh");
    command.args(["-c", "echo up; exec sleep 30"]);
    let server = get_thread_registry()
        .spawn_process("sidecar", command)
        .unwrap();
    server
        .wait_for_line(|l| l.text == "up", crate::PATIENCE)
        .unwrap();
}

#[iris_test]
#[ignore = "run by end_to_end"]
fn clean_too() {
    get_thread_registry().spawn("polite-too", |stop| stop.wait());
}

#[iris_test(stop_timeout = "100ms", linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn sleepy_straggler() {
    get_thread_registry().spawn("napper", |_ignored| loop {
        // The behaviour under test: a thread that sleeps in a loop, ignoring its token.
        // Long naps: with short ones a loaded machine can catch it waiting for a core
        // between two naps (runnable), which is not what this test is about.
        std::thread::sleep(Duration::from_secs(5));
    });
}

#[test]
#[ignore = "leaks on purpose; run by end_to_end"]
fn finish_expect() {
    let scope = iris::TestScope::begin(
        iris::TestOptions::new("scenarios::finish_expect")
            .stop_timeout(Duration::from_millis(100))
            .linger(Duration::from_millis(100)),
    );
    get_thread_registry().spawn("ignorer", |_ignored| never().wait());
    scope.finish().expect("the worker stops");
}

#[iris_test]
#[ignore = "fails on purpose; run by end_to_end"]
fn logs_debug_then_fails() {
    tracing::debug!("a debug detail");
    panic!("failing so that the captured logs are shown");
}

#[iris_test(stop_timeout = "300ms", linger = "50ms")]
#[ignore = "hangs on purpose; run by end_to_end"]
fn blocking_on_stop_callback() {
    let worker = get_thread_registry().spawn("closer", |stop| stop.wait());
    worker.stop_token().on_stop(|| never().wait());
}

/// Logs three lines from a background thread, all from one call site.
fn log_in_background(test: &'static str) {
    get_thread_registry()
        .spawn("chatty", move |_stop| {
            for i in 0..3 {
                tracing::info!("background line {i} of {test}");
            }
        })
        .join()
        .unwrap();
}

#[iris_test]
#[ignore = "run by end_to_end"]
fn logs_a_first() {
    log_in_background("the first test");
}

#[iris_test]
#[ignore = "run by end_to_end"]
fn logs_b_second() {
    log_in_background("the second test");
}

/// Where the hang doctor should find the body: named, never inlined.
#[inline(never)]
fn stuck_for_a_while(how_long: Duration) {
    std::thread::sleep(how_long); // the behaviour under test: a body that takes long
}

#[iris_test]
#[ignore = "slow on purpose; run by end_to_end"]
fn slow_body_for_the_hang_doctor() {
    get_thread_registry().spawn("waits-with-the-body", |stop| stop.wait());
    stuck_for_a_while(Duration::from_millis(1500));
}

/// Tells the end-to-end test that the scenario is where it should be
/// (`IRIS_SCENARIO_READY`), then hangs until it is terminated (or a minute passes).
fn ready_then_stuck() {
    if let Ok(path) = std::env::var("IRIS_SCENARIO_READY") {
        iris::SentinelFile::new(path).signal().unwrap();
    }
    stuck_for_a_while(Duration::from_secs(60));
}

#[iris_test]
#[ignore = "hangs on purpose until terminated; run by end_to_end"]
fn hangs_until_terminated() {
    get_thread_registry().spawn("waits-with-the-hung-body", |stop| stop.wait());
    std::thread::Builder::new()
        .name("plain-waiter".into())
        .spawn(|| stuck_for_a_while(Duration::from_secs(60)))
        .unwrap();
    ready_then_stuck();
}

/// Whether Iris's helper thread is running in this process.
#[cfg(target_os = "linux")]
fn helper_running() -> bool {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .any(|comm| comm.trim() == "iris-helper")
}

/// Whether this process has a handler for SIGTERM.
#[cfg(target_os = "linux")]
fn sigterm_caught() -> bool {
    catches_sigterm("/proc/self/status")
}

/// Whether the process whose `/proc` status file is `status` has a handler for
/// SIGTERM (bit 15 of its `SigCgt` mask); false once the process is gone.
#[cfg(target_os = "linux")]
pub(crate) fn catches_sigterm(status: &str) -> bool {
    std::fs::read_to_string(status).is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (15 - 1)) != 0)
    })
}

/// As nextest runs it, a test that ends within a few hundred milliseconds, nearly
/// every test, leaves SIGTERM as it found it: its default action, no handler
/// (signal-hook's own suite asserts that).
#[cfg(target_os = "linux")]
#[iris_test]
#[ignore = "run by end_to_end, as nextest runs it"]
fn a_short_test_leaves_sigterm_alone() {
    assert!(!sigterm_caught(), "nothing handles SIGTERM yet");
    let registry = get_thread_registry();
    registry.spawn("short-lived", |_stop| ()).join().unwrap();
    assert!(
        !sigterm_caught(),
        "nothing handles SIGTERM at the test's end"
    );
}

/// As nextest runs it: a test of graceful shutdown, running long enough for Iris to
/// listen for SIGTERM, handles the SIGTERM it sends itself. Iris must not take it
/// for nextest's (no dump, and the process lives on).
#[cfg(target_os = "linux")]
#[iris_test]
#[ignore = "run by end_to_end, as nextest runs it"]
fn a_test_handles_the_sigterm_it_sends_itself() {
    iris::wait_for_condition(sigterm_caught, Duration::from_secs(10))
        .expect("Iris listens for SIGTERM once the test has run a while");
    let got = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, got.clone()).unwrap();
    signal_hook::low_level::raise(signal_hook::consts::SIGTERM).unwrap();
    iris::wait_for_condition(
        || got.load(std::sync::atomic::Ordering::SeqCst),
        Duration::from_secs(10),
    )
    .expect("the test's own handler saw its SIGTERM");
    // The helper was woken by the same signal. Had it taken the signal for nextest's,
    // it would write its dump (reading debug information: about 0.6 s in a debug
    // build here) and end the process: a negative shown over a bounded time, with a
    // wide margin.
    let _ = iris::wait_for_condition(|| false, Duration::from_secs(3));
}

/// The CPUs a thread may run on, as its `/proc` folder (`/proc/self/task/TID`,
/// `/proc/thread-self`) lists them.
#[cfg(target_os = "linux")]
fn cpus_allowed(thread: &str) -> String {
    let status = std::fs::read_to_string(format!("{thread}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .expect("a Cpus_allowed_list line")
        .trim()
        .to_string()
}

/// The kernel id of Iris's helper thread, once it has named itself.
#[cfg(target_os = "linux")]
fn helper_tid() -> Option<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| {
            let task = task.ok()?;
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            (comm.trim() == "iris-helper").then(|| task.file_name().into_string().ok())?
        })
        .next()
}

/// Under nextest the helper thread runs on the CPU its test started it on, and the
/// test's own thread keeps every CPU it had (compared with the main thread's).
#[cfg(target_os = "linux")]
#[test]
#[ignore = "looks at the helper under nextest; run by end_to_end"]
fn the_helper_runs_beside_its_test() {
    let everywhere = cpus_allowed(&format!("/proc/self/task/{}", std::process::id()));
    iris::run_test(iris::TestOptions::new("pinned"), || {
        iris::wait_for_condition(|| helper_tid().is_some(), Duration::from_secs(10))
            .expect("the test has the helper");
        let helper = cpus_allowed(&format!("/proc/self/task/{}", helper_tid().unwrap()));
        assert!(
            helper.parse::<u32>().is_ok(),
            "the helper runs on one CPU, not on {helper:?}"
        );
        assert_eq!(
            cpus_allowed("/proc/thread-self"),
            everywhere,
            "the test's thread keeps its CPUs"
        );
    });
}

/// As nextest runs a test (one per process): once it has ended, Iris's helper
/// thread leaves. Then two scenarios: `then` runs in the same process after that.
#[cfg(target_os = "linux")]
fn after_a_finished_test(then: impl FnOnce()) {
    iris::run_test(iris::TestOptions::new("first"), || {
        // A new thread shows its creator's name until it runs and names itself. The
        // SIGTERM listener is armed once the test has run a while.
        iris::wait_for_condition(
            || helper_running() && sigterm_caught(),
            Duration::from_secs(10),
        )
        .expect("the first test has the helper, listening for SIGTERM");
    });
    iris::wait_for_condition(|| !helper_running(), Duration::from_secs(10))
        .expect("the helper leaves once no test is open");
    then();
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "hangs on purpose until terminated; run by end_to_end"]
fn hangs_in_a_second_test_until_terminated() {
    after_a_finished_test(|| {
        iris::run_test(iris::TestOptions::new("second"), || {
            get_thread_registry().spawn("waits-in-the-second-test", |stop| stop.wait());
            ready_then_stuck();
        });
    });
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "hangs on purpose until terminated; run by end_to_end"]
fn hangs_after_its_tests_until_terminated() {
    after_a_finished_test(|| {
        ready_then_stuck();
    });
}

/// Tests opening and closing at once on four threads of one nextest-style process,
/// with uneven gaps between them, so that at times none is open (the helper leaves)
/// and one opens while it is leaving: whenever a test is open, a helper thread
/// serves it (one that was leaving stays, one that left comes back), nothing
/// deadlocks, and every test's thread keeps its CPUs.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "a stress test of the helper's comings and goings; run by end_to_end"]
fn tests_open_and_close_at_once() {
    let everywhere = cpus_allowed(&format!("/proc/self/task/{}", std::process::id()));
    let everywhere = &everywhere;
    std::thread::scope(|scope| {
        for worker in 0..4u64 {
            scope.spawn(move || {
                let mut seed = worker + 1;
                for round in 0..50 {
                    // A gap of 0-400 µs, spun: the interleavings are the point.
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let gap = std::time::Duration::from_micros((seed >> 33) % 400);
                    let started = std::time::Instant::now();
                    while started.elapsed() < gap {
                        std::hint::spin_loop();
                    }
                    let name = format!("worker-{worker}-round-{round}");
                    iris::run_test(iris::TestOptions::new(name), || {
                        iris::wait_for_condition(helper_running, Duration::from_secs(10))
                            .expect("an open test has a helper");
                    });
                    // Whichever of them started the helper (pinned for the spawn), each
                    // test's thread has its CPUs back.
                    assert_eq!(&cpus_allowed("/proc/thread-self"), everywhere);
                }
            });
        }
    });
}
