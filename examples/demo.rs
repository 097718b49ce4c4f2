//! A short tour of Iris: `cargo run --example demo`.
//!
//! It spawns managed threads in a scoped registry, stops a tree of them under one
//! deadline, and shows the report Iris gives for a thread that ignores its stop
//! token and for one that panicked, a sentinel file and a condition wait, and the
//! leak report that `#[iris_test]` gives a test that leaves threads behind.

use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(unix)]
use iris::ProcessOptions;
use iris::{
    get_thread_registry, thread_registry_scope, wait_for_condition, SentinelFile, Server,
    StopToken, TestOptions, TestScope, ThreadContainer,
};

struct Heartbeat {
    closed: StopToken,
}

impl Server for Heartbeat {
    fn run(&self) {
        let mut beats = 0;
        while !self.closed.wait_timeout(Duration::from_millis(20)) {
            beats += 1;
        }
        println!("   heartbeat server: shut down after {beats} beat(s)");
    }
    fn shutdown(&self) {
        self.closed.stop();
    }
}

/// Prints a report indented, as a test's output would show it.
fn print_report(report: &str) {
    for line in report.lines() {
        println!("   | {line}");
    }
}

fn main() {
    println!("1. A registry scope, and component code that finds it implicitly");
    let scope = thread_registry_scope("demo");
    let component = get_thread_registry().spawn("component", |stop| {
        // Deep inside some component: no container was passed in.
        let registry = get_thread_registry();
        println!("   component thread sees registry `{}`", registry.name());
        let mut rounds = 0;
        while !stop.wait_timeout(Duration::from_millis(5)) {
            rounds += 1;
        }
        rounds
    });
    let child = scope.create_child("io");
    child.spawn_server(
        "heartbeat",
        Arc::new(Heartbeat {
            closed: StopToken::new(),
        }),
    );
    let pool = scope.spawn_executor(2, "hasher");
    let digest = pool.submit(|| (1u64..=1000).sum::<u64>()).unwrap();
    println!("   executor task computed {}", digest.join().unwrap());
    for thread in scope.alive_threads() {
        println!("   alive: {thread}");
    }
    let started = Instant::now();
    scope.close().expect("every thread honours its stop token");
    println!(
        "   scope closed: whole tree stopped and joined in {:.2?}; component ran {} round(s)",
        started.elapsed(),
        component.join().unwrap()
    );

    println!("\n2. A thread that ignores its stop token, and one that panicked");
    let app = ThreadContainer::new("app");
    let release = StopToken::new();
    let r = release.clone();
    app.create_child("workers")
        .spawn("stubborn-worker", move |_ignored_token| {
            // A bug: this loop never looks at its stop token.
            r.wait_timeout(Duration::from_secs(10));
        });
    app.spawn("flaky", |_stop| panic!("lost the connection"));
    app.wait_timeout(Duration::from_millis(50));
    let started = Instant::now();
    match app.stop(Duration::from_millis(200)) {
        Ok(()) => println!("   unexpectedly clean"),
        Err(report) => {
            println!(
                "   stop returned after {:.2?} (deadline 200ms) with:",
                started.elapsed()
            );
            for line in report.to_string().lines() {
                println!("   | {line}");
            }
        }
    }
    release.stop();
    app.wait_timeout(Duration::from_secs(5));
    println!("\n3. Waiting without sleeps: a sentinel file and a condition");
    let dir = std::env::temp_dir().join(format!("iris-demo-{}", std::process::id()));
    let ready = SentinelFile::new(dir.join("run/server.ready"));
    let waiting = ThreadContainer::new("waiting");
    let for_child = ready.clone();
    let started = Instant::now();
    // A child process could do this with `touch`; here a managed thread does.
    waiting.spawn("slow-starter", move |stop| {
        stop.wait_timeout(Duration::from_millis(30)); // pretend to start up
        for_child.signal().expect("can create the sentinel");
    });
    ready
        .wait(Duration::from_secs(5))
        .expect("the starter signals");
    println!(
        "   sentinel {} signalled; the wait woke {:.2?} after it began (no polling)",
        ready.path().display(),
        started.elapsed()
    );
    let counter = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let c = counter.clone();
    waiting.spawn("counter", move |stop| {
        while !stop.wait_timeout(Duration::from_millis(1)) {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let started = Instant::now();
    wait_for_condition(
        || counter.load(std::sync::atomic::Ordering::SeqCst) >= 10,
        Duration::from_secs(5),
    )
    .expect("the counter reaches 10");
    println!(
        "   wait_for_condition saw the counter reach 10 after {:.2?}",
        started.elapsed()
    );
    match wait_for_condition(|| false, Duration::from_millis(20)) {
        Ok(()) => unreachable!(),
        Err(timeout) => println!("   and a condition that never holds reports: {timeout}"),
    }
    waiting.stop(Duration::from_secs(5)).expect("clean");
    let _ = std::fs::remove_dir_all(&dir);

    process_tour();

    println!("\n5. Leak detection: one report of each kind");
    // The demo runs its "tests" one at a time, so it owns its process and the check
    // of threads started outside Iris runs too.
    let options = |name: &str| {
        TestOptions::new(name)
            .stop_timeout(Duration::from_millis(100))
            .linger(Duration::from_millis(100))
            .owns_process()
    };
    let release = StopToken::new();
    // The panics below are on purpose and shown in the reports: keep the default
    // hook's message and backtrace out of the tour.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));

    println!("   a) managed stragglers, grouped, and a background panic:");
    let scope = TestScope::begin(options("demo::leaky_pool"));
    // The "test body": a pool whose workers wait on the wrong thing.
    let pool = get_thread_registry().create_child("pool");
    for i in 0..4 {
        let r = release.clone();
        pool.spawn(format!("worker-{i}"), move |_ignored| {
            r.wait_timeout(Duration::from_secs(10));
        });
    }
    get_thread_registry().spawn("uploader", |_stop| panic!("connection refused"));
    get_thread_registry().wait_timeout(Duration::from_millis(20));
    print_report(&scope.inspect().to_string());

    println!("   b) a plain std thread nobody joined (and nobody named):");
    let scope = TestScope::begin(options("demo::forgot_to_join"));
    let r = release.clone();
    std::thread::spawn(move || r.wait_timeout(Duration::from_secs(10)));
    print_report(&scope.inspect().to_string());

    stubborn_child(&options);

    println!("   d) a test body that hangs (timeout = \"200ms\"):");
    let r = release.clone();
    let hung = std::panic::catch_unwind(move || {
        iris::run_test_with_timeout(
            options("demo::hangs").leaks(iris::LeakPolicy::Warn),
            Duration::from_millis(200),
            move || {
                r.wait_timeout(Duration::from_secs(10));
            },
        )
    });
    if let Err(payload) = hung {
        if let Some(message) = payload.downcast_ref::<String>() {
            print_report(message);
        }
    }
    release.stop();
    std::panic::set_hook(default_hook);
    async_tour();
    tracking_tour();

    println!("\nDone. See docs/thread-safety.md for the patterns behind this tour.");
}

/// Part 6, the same on tokio: a managed task, an async wait, and the report of an
/// async test that leaks a task (cargo feature `tokio`).
#[cfg(feature = "tokio")]
fn async_tour() {
    use iris::{run_async_test, wait_for_condition_async};
    use std::sync::atomic::{AtomicUsize, Ordering};

    println!("\n6. Async: a managed task, an async wait, a leaked task reported");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let app = ThreadContainer::new("async-app");
        let ticks = Arc::new(AtomicUsize::new(0));
        let counter = ticks.clone();
        app.spawn_task("ticker", |stop| async move {
            loop {
                tokio::select! {
                    _ = stop.stopped() => break,
                    _ = tokio::time::sleep(Duration::from_millis(2)) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        });
        wait_for_condition_async(|| ticks.load(Ordering::SeqCst) >= 5, Duration::from_secs(5))
            .await
            .expect("the ticker ticks");
        app.stop_async(Duration::from_secs(5))
            .await
            .expect("the task honours its token");
        println!(
            "   ticker stopped after {} ticks, without blocking the runtime",
            ticks.load(Ordering::SeqCst)
        );
    });

    println!("   an async test whose task ignores its stop token:");
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let failed = std::panic::catch_unwind(|| {
        run_async_test(
            TestOptions::new("demo::async_leak")
                .stop_timeout(Duration::from_millis(100))
                .linger(Duration::from_millis(100))
                .owns_process(),
            async {
                get_thread_registry().spawn_task("deaf-task", |_ignored| async {
                    std::future::pending::<()>().await;
                });
                tokio::spawn(std::future::pending::<()>());
            },
        )
    });
    std::panic::set_hook(default_hook);
    if let Err(payload) = failed {
        if let Some(report) = payload.downcast_ref::<String>() {
            print_report(report);
        }
    }
}

/// Part 7, with the `thread-tracking` feature: a plain thread leaked by one test is
/// charged to it even though the process is shared, with where it was created and
/// where it is blocked now.
#[cfg(iris_tracking)]
fn tracking_tour() {
    println!("\n7. Thread tracking: a plain thread leaked in a shared process, with its sites");
    let scope =
        TestScope::begin(TestOptions::new("demo::tracked_leak").linger(Duration::from_millis(100)));
    let (keep, blocked) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("forgotten".into())
        .spawn(move || blocked.recv())
        .expect("a thread");
    let report = scope.inspect();
    print_report(&report.to_string());
    drop(keep); // lets the thread go, now that it has been reported
}

#[cfg(not(iris_tracking))]
fn tracking_tour() {
    println!(
        "\n7. Thread tracking: Linux with glibc only, where the default feature `thread-tracking` works"
    );
}

#[cfg(not(feature = "tokio"))]
fn async_tour() {
    println!("\n6. Async: run `cargo run --example demo --features tokio` for the tokio tour");
}

/// 4. A child process: ready when it says so, stopped with its container (unix).
#[cfg(unix)]
fn process_tour() {
    println!("\n4. A child process: ready when it says so, stopped with its container");
    let services = ThreadContainer::new("services");
    let mut command = std::process::Command::new("sh");
    command.args([
        "-c",
        "echo warming up; echo listening on 127.0.0.1:7070; exec sleep 60",
    ]);
    let server = services
        .spawn_process_with(
            "mock-server",
            command,
            ProcessOptions::new().log_lines(false),
        )
        .expect("sh is available");
    let ready = server
        .wait_for_line(|l| l.text.contains("listening on"), Duration::from_secs(5))
        .expect("the server comes up");
    println!(
        "   pid {} printed {:?} (line {} of its output)",
        server.pid(),
        ready.text,
        ready.seq
    );
    services
        .stop(Duration::from_secs(5))
        .expect("SIGTERM is enough");
    println!(
        "   stopped with its container: {}",
        server
            .exit_status()
            .map_or("still running?".to_string(), |s| s.to_string())
    );
}

#[cfg(not(unix))]
fn process_tour() {
    println!(
        "\n4. Child processes: managed processes are unix only (see the README's platform table)"
    );
}

/// 5c. A child process that ignores SIGTERM for longer than the stop timeout (unix).
#[cfg(unix)]
fn stubborn_child(options: &dyn Fn(&str) -> TestOptions) {
    println!("   c) a child process that ignores SIGTERM for longer than the stop timeout:");
    let scope = TestScope::begin(options("demo::stubborn_child"));
    let mut command = std::process::Command::new("sh");
    command.args(["-c", "trap '' TERM; echo ready; sleep 2"]);
    let child = get_thread_registry()
        .spawn_process_with(
            "stubborn-child",
            command,
            ProcessOptions::new().grace(Duration::from_millis(500)),
        )
        .expect("sh starts");
    child
        .wait_for_line(|l| l.text == "ready", Duration::from_secs(5))
        .expect("it says it is ready");
    print_report(&scope.inspect().to_string());
}

#[cfg(not(unix))]
fn stubborn_child(_options: &dyn Fn(&str) -> TestOptions) {
    println!("   c) (child processes: unix only)");
}
