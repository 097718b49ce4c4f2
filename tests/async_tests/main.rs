//! Async tests and managed tokio tasks (cargo feature `tokio`).
#![cfg(feature = "tokio")]

mod end_to_end;
mod imports;
#[path = "../support/scenario.rs"]
mod scenario;
mod scenarios;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iris::{
    get_thread_registry, iris_test, run_async_test, wait_for_condition_async, Flavor, SentinelFile,
    SpawnError, StopToken, TestOptions, TestScope, ThreadContainer,
};
use rstest::rstest;

/// A generous bound for things that should take milliseconds (slow CI machines).
pub const PATIENCE: Duration = Duration::from_secs(10);

#[iris_test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_thread_test_runs_on_its_workers() {
    let metrics = tokio::runtime::Handle::current().metrics();
    assert_eq!(metrics.num_workers(), 2);
}

#[iris_test]
async fn the_default_flavor_is_current_thread() {
    assert_eq!(
        tokio::runtime::Handle::current().runtime_flavor(),
        tokio::runtime::RuntimeFlavor::CurrentThread
    );
}

/// The runtime's machinery (tokio's `block_on` for each flavor, `LocalSet`,
/// `timeout`) is compiled once, in Iris, not once per async test: this binary has
/// dozens of `#[iris_test] async fn`s, and when the body's type reached tokio's
/// `block_on` each of them brought three copies of it (one per flavor): 147 here
/// then, 9 now. A user's test build pays for every copy in compile time and binary
/// size, and a debug build's panic backtraces in debug information to read. The few
/// left are Iris's own and those of tests here that call `Runtime::block_on`.
#[cfg(all(target_os = "linux", debug_assertions))]
#[test]
fn async_tests_share_one_copy_of_the_runtimes_block_on() {
    use object::{Object, ObjectSymbol};

    let binary = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let file = object::File::parse(&*binary).unwrap();
    let copies: Vec<String> = file
        .symbols()
        .filter_map(|symbol| symbol.name().ok())
        .map(|name| format!("{:#}", rustc_demangle::demangle(name)))
        .filter(|name| {
            name.starts_with("tokio::runtime::scheduler::current_thread::CoreGuard::block_on")
                && !name.ends_with("{{closure}}")
        })
        .collect();
    let async_tests = include_str!("main.rs").matches("async fn ").count()
        + include_str!("scenarios.rs").matches("async fn ").count();
    assert!(
        async_tests > 30,
        "the binary has many async tests ({async_tests})"
    );
    assert!(
        !copies.is_empty(),
        "the symbol is found at all (renamed in tokio?)"
    );
    assert!(
        copies.len() * 2 < async_tests,
        "{} copies of tokio's current-thread block_on for {async_tests} async tests:\n{}",
        copies.len(),
        copies.join("\n")
    );
}

#[test]
fn a_managed_task_is_stopped_by_the_scopes_end() {
    let saw_stop = Arc::new(AtomicBool::new(false));
    let flag = saw_stop.clone();
    run_async_test(TestOptions::new("a_managed_task_is_stopped"), async move {
        get_thread_registry().spawn_task("listener", |stop| async move {
            stop.stopped().await;
            flag.store(true, Ordering::SeqCst);
        });
    });
    assert!(
        saw_stop.load(Ordering::SeqCst),
        "the task saw its stop and ended"
    );
}

/// Tasks the body aborted (here by dropping a `JoinSet`) end at their next poll,
/// which on a one-thread runtime is the test's own thread's to give: the end of the
/// test gives it before it counts what is alive, even with no `linger`, so they are
/// never the test's leak (and nobody waits for a timer tick to see them go). On a
/// multi-thread runtime the workers poll them, in `linger`.
#[test]
fn tasks_the_body_aborted_are_not_leaks_even_without_linger() {
    for flavor in [Flavor::CurrentThread, Flavor::Local] {
        let options = TestOptions::new("aborted_tasks")
            .flavor(flavor)
            .linger(Duration::ZERO);
        run_async_test(options, async {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..3 {
                tasks.spawn(std::future::pending::<()>());
            }
            tokio::task::yield_now().await;
            drop(tasks);
        });
    }
}

#[iris_test]
async fn an_async_wait_sees_a_flag_set_by_another_task_on_one_thread() {
    let flag = Arc::new(AtomicBool::new(false));
    let setter = flag.clone();
    // On a current-thread runtime the setter only runs if the wait yields.
    tokio::spawn(async move { setter.store(true, Ordering::SeqCst) });
    wait_for_condition_async(|| flag.load(Ordering::SeqCst), PATIENCE)
        .await
        .unwrap();
}

#[iris_test]
async fn an_async_wait_times_out_with_the_usual_message() {
    let error = wait_for_condition_async(|| false, Duration::from_millis(20))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("did not become true within 20ms"),
        "{error}"
    );
}

#[iris_test]
async fn a_sentinel_wait_async_wakes_on_the_file_and_lets_other_tasks_run() {
    let dir = tempfile::tempdir().unwrap();
    let ready = SentinelFile::new(dir.path().join("sub/ready"));
    let signaller = ready.clone();
    tokio::spawn(async move { signaller.signal().unwrap() });
    ready.wait_async(PATIENCE).await.unwrap();
    let never = SentinelFile::new(dir.path().join("never"));
    let error = never
        .wait_async(Duration::from_millis(20))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("not signalled within"),
        "{error}"
    );
}

#[iris_test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tokio_tasks_and_blocking_tasks_see_the_tests_registry() {
    let mine = get_thread_registry();
    assert!(mine.name().starts_with("test:"), "{}", mine.name());
    let in_task = tokio::spawn(async { get_thread_registry() }).await.unwrap();
    assert!(in_task.same_as(&mine), "a plain task: {}", in_task.name());
    let in_blocking = tokio::task::spawn_blocking(get_thread_registry)
        .await
        .unwrap();
    assert!(
        in_blocking.same_as(&mine),
        "spawn_blocking: {}",
        in_blocking.name()
    );
    let in_managed = mine
        .spawn_task("probe", |_stop| async { get_thread_registry() })
        .join()
        .await
        .unwrap();
    assert!(in_managed.same_as(&mine));
}

#[iris_test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_sees_its_spawners_registry_wherever_it_is_polled() {
    // As with threads: the registry current where the task was spawned, not the
    // container it was spawned into, and on whatever worker polls it.
    let mine = get_thread_registry();
    let other = iris::ThreadRegistry::new("other");
    let scope_registry = {
        let scope = iris::thread_registry_scope("inner-scope");
        let seen = other
            .spawn_task("probe", |_stop| async {
                tokio::task::yield_now().await;
                get_thread_registry()
            })
            .join()
            .await
            .unwrap();
        assert!(seen.same_as(&scope), "{}", seen.name());
        scope.close().unwrap();
        seen
    };
    assert!(!scope_registry.same_as(&mine));
    other.stop_async(PATIENCE).await.unwrap();
}

#[iris_test]
async fn join_returns_the_output_and_a_joined_task_is_counted_nowhere() {
    let registry = get_thread_registry();
    for round in 0..200 {
        let task = registry.spawn_task("short", move |_stop| async move { round * 2 });
        assert_eq!(task.join().await.unwrap(), round * 2);
        assert!(registry.alive_tasks().is_empty(), "round {round}");
        assert!(!registry.is_alive(), "round {round}");
    }
}

#[iris_test]
async fn a_task_panic_reaches_the_joiner_and_the_containers_stop_error() {
    let app = ThreadContainer::new("app");
    let task = app.spawn_task("boom", |_stop| async { panic!("task failed: {}", 7) });
    let payload = task.join().await.unwrap_err();
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or(payload.downcast_ref::<&str>().copied());
    assert_eq!(text, Some("task failed: 7"));
    let error = app.stop_async(PATIENCE).await.unwrap_err();
    assert_eq!(error.panics().len(), 1);
    assert_eq!(error.panics()[0].thread_name(), "boom");
    assert_eq!(error.panics()[0].message(), "task failed: 7");
}

#[iris_test]
async fn stop_async_stops_tasks_and_threads_under_one_deadline() {
    let app = ThreadContainer::new("app");
    let release = StopToken::new();
    let held = release.clone();
    app.spawn_task("polite", |stop| async move { stop.stopped().await });
    app.spawn("thread", |stop| stop.wait());
    app.spawn_task("stubborn", move |_ignored| async move {
        held.stopped().await;
    });
    let error = app
        .stop_async(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(error.stragglers().len(), 1);
    let straggler = &error.stragglers()[0];
    assert_eq!(straggler.name(), "stubborn");
    assert!(straggler.is_task());
    assert!(straggler.spawned_at().file().ends_with("main.rs"));
    assert!(
        error.to_string().contains("task \"stubborn\" in `app`"),
        "{error}"
    );
    release.stop();
    wait_for_condition_async(|| !app.is_alive(), PATIENCE)
        .await
        .unwrap();
}

#[test]
fn spawn_task_outside_a_runtime_is_an_error_and_a_stopped_container_refuses() {
    let app = ThreadContainer::new("app");
    assert!(matches!(
        app.try_spawn_task("t", |_stop| async {}),
        Err(SpawnError::NoRuntime { .. })
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        app.stop_async(Duration::ZERO).await.unwrap();
        assert!(matches!(
            app.try_spawn_task("late", |_stop| async {}),
            Err(SpawnError::Stopped { .. })
        ));
    });
}

#[iris_test]
async fn result_returns_work() -> Result<(), String> {
    tokio::task::yield_now().await;
    Ok(())
}

#[iris_test]
#[should_panic(expected = "the async body failed")]
async fn should_panic_works() {
    tokio::task::yield_now().await;
    panic!("the async body failed");
}

// rstest requires an async test's attribute to end in `test`, so with async fns
// write `#[iris_test]` above `#[rstest]` (Iris then hands rstest a plain test), or
// name it with rstest's `#[test_attr(iris_test)]` (below).
#[iris_test]
#[rstest]
#[case(1)]
#[case(3)]
async fn rstest_cases_each_get_a_scope(#[case] tasks: usize) {
    let registry = get_thread_registry();
    assert!(
        registry.name().contains("rstest_cases_each_get_a_scope"),
        "{}",
        registry.name()
    );
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..tasks {
        let done = done.clone();
        registry.spawn_task(format!("t{i}"), move |stop| async move {
            stop.stopped().await;
            done.fetch_add(1, Ordering::SeqCst);
        });
    }
    assert_eq!(registry.alive_tasks().len(), tasks);
}

#[rstest]
#[case(2)]
#[test_attr(iris_test)]
async fn rstest_with_iris_test_as_its_test_attribute(#[case] n: usize) {
    assert!(get_thread_registry()
        .name()
        .contains("rstest_with_iris_test_as_its_test_attribute"));
    assert_eq!(n, 2);
}

#[tokio::test]
#[iris_test]
async fn tokio_test_above_iris_test_keeps_working() {
    get_thread_registry().spawn("worker", |stop| stop.wait());
    tokio::task::yield_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_scope_inside_tokio_test_does_not_blame_the_runtimes_pool() {
    // The documented route without the macro: the runtime's blocking-pool thread is
    // still alive (idle) when the scope finishes, and is not the test's leak.
    let scope = TestScope::begin(TestOptions::new("scope_in_tokio_test").owns_process());
    tokio::task::spawn_blocking(|| 40 + 2).await.unwrap();
    let report = scope.inspect();
    // (Other tests of this process may leave threads of their own in a parallel
    // run: only the runtime's pool is asserted on.)
    assert!(
        report
            .unmanaged()
            .iter()
            .all(|t| !t.os.name.starts_with("tokio-")),
        "{report}"
    );
}

#[test]
fn options_choose_the_runtime() {
    run_async_test(
        TestOptions::new("options")
            .flavor(Flavor::MultiThread)
            .worker_threads(3),
        async {
            assert_eq!(tokio::runtime::Handle::current().metrics().num_workers(), 3);
        },
    );
}

// `#[iris::test]`: the path rstest accepts on an async fn, in either order.
#[rstest]
#[case(1)]
#[case(2)]
#[iris::test]
async fn rstest_above_iris_test_path(#[case] n: usize) {
    let registry = get_thread_registry();
    assert!(
        registry.name().contains("rstest_above_iris_test_path"),
        "{}",
        registry.name()
    );
    registry.spawn_task("polite", |stop| async move { stop.stopped().await });
    tokio::task::yield_now().await;
    assert!((1..=2).contains(&n));
}

#[iris::test(flavor = "multi_thread", worker_threads = 2)]
#[rstest]
#[case("a")]
#[case("b")]
async fn iris_test_path_above_rstest(#[case] name: &str) {
    assert!(get_thread_registry()
        .name()
        .contains("iris_test_path_above_rstest"));
    let length = name.len();
    let handle = tokio::spawn(async move { length });
    assert_eq!(handle.await.unwrap(), 1);
}

// tokio's own options, with tokio's meaning: paused time, moved by `advance`.
#[iris::test(start_paused = true)]
async fn start_paused_time_moves_only_when_advanced() {
    let start = tokio::time::Instant::now();
    tokio::time::advance(Duration::from_secs(90)).await;
    assert!(start.elapsed() >= Duration::from_secs(90));
    // Auto-advance: an hour's sleep returns at once on a paused clock.
    let wall = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(
        wall.elapsed() < Duration::from_secs(60),
        "{:?}",
        wall.elapsed()
    );
}

#[iris::test(flavor = "local")]
async fn local_flavor_runs_spawn_local() {
    let shared = std::rc::Rc::new(std::cell::Cell::new(0));
    let inner = shared.clone();
    tokio::task::spawn_local(async move { inner.set(7) })
        .await
        .unwrap();
    assert_eq!(shared.get(), 7);
}

// `crate = ".."` is accepted (a drop-in for `#[tokio::test(crate = "tokio")]`).
#[iris::test(crate = "tokio")]
async fn tokio_crate_option_is_accepted() {
    tokio::task::yield_now().await;
}

/// The names of this process's threads.
#[cfg(target_os = "linux")]
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|comm| comm.trim().to_string())
        .collect()
}

/// An async test needs both the hang doctor (its watch, or its SIGTERM listener
/// under nextest) and the blocking sampler: one helper thread does both, because
/// every helper thread alive at exit costs a test process about 0.1 ms.
#[cfg(target_os = "linux")]
#[iris_test]
async fn one_helper_thread_serves_the_hang_doctor_and_the_blocking_sampler() {
    // By the names each helper has had: the hang doctor's watch or SIGTERM listener
    // and the blocking sampler used to be two threads.
    let helper_names = [
        "iris-helper",
        "iris-hang-doctor",
        "iris-sigterm",
        "iris-blocking",
    ];
    let helpers = || -> Vec<String> {
        let mut found = thread_names();
        found.retain(|name| helper_names.contains(&name.as_str()));
        found
    };
    // Helpers are started before the body, but a thread names itself once it runs:
    // until then it shows its creator's name (this thread's, when this test started
    // them). Wait until none does and at least one helper has its name.
    let mine = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    let mine = mine.trim().to_string();
    wait_for_condition_async(
        || {
            thread_names().iter().filter(|name| **name == mine).count() == 1
                && !helpers().is_empty()
        },
        PATIENCE,
    )
    .await
    .unwrap();
    assert_eq!(helpers(), ["iris-helper"]);
}
