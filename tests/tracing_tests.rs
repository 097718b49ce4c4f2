//! `#[iris_test]` with tracing-test's `#[traced_test]`, in either order: lines logged
//! on the test's background threads and tasks are attributed to the test (its span
//! is their parent), so `logs_contain` sees them, and never a neighbour test's.
//! A test binary of its own: `#[traced_test]` installs a global subscriber.

use std::time::Duration;

use iris::{get_thread_registry, iris_test};
use tracing_test::traced_test;

/// A marker logged by a background thread of `test`, on a thread of its own.
fn log_from_background(test: &str) {
    let marker = format!("background line of {test}");
    get_thread_registry()
        .spawn("logger", move |_stop| tracing::info!("{marker}"))
        .join()
        .unwrap();
}

#[traced_test]
#[iris_test]
fn traced_test_above_iris_test() {
    log_from_background("above");
    assert!(logs_contain("background line of above"));
    // (The `iris_thread` span itself is not in the lines: tracing-test's default
    // filter keeps only this crate's targets; its `no-env-filter` feature shows it.)
    assert!(
        !logs_contain("background line of below"),
        "a neighbour's line"
    );
}

#[iris_test]
#[traced_test]
fn iris_test_above_traced_test() {
    log_from_background("below");
    assert!(logs_contain("background line of below"));
    assert!(
        !logs_contain("background line of above"),
        "a neighbour's line"
    );
}

#[iris_test]
#[traced_test]
fn an_executor_task_and_a_nested_thread_are_attributed_too() {
    let registry = get_thread_registry();
    let pool = registry.spawn_executor(1, "pool");
    pool.submit(|| tracing::info!("from the executor"))
        .unwrap()
        .join()
        .unwrap();
    registry
        .spawn("outer", |_stop| {
            get_thread_registry()
                .spawn("inner", |_stop| tracing::info!("from a grandchild thread"))
                .join()
                .unwrap();
        })
        .join()
        .unwrap();
    assert!(logs_contain("from the executor"));
    assert!(logs_contain("from a grandchild thread"));
    let _ = Duration::ZERO;
}

#[cfg(feature = "tokio")]
#[iris_test]
#[traced_test]
async fn a_managed_task_is_attributed_too() {
    get_thread_registry()
        .spawn_task("async-logger", |_stop| async {
            tracing::info!("from a managed task")
        })
        .join()
        .await
        .unwrap();
    assert!(logs_contain("from a managed task"));
}

#[iris_test]
#[traced_test]
fn an_executor_task_logs_in_the_span_it_was_submitted_from() {
    // The pool's only worker was started under another span (another component's):
    // a task still logs inside the span of whoever submitted it.
    let registry = get_thread_registry();
    let pool = tracing::info_span!(parent: None, "elsewhere").in_scope(|| {
        let pool = registry.spawn_executor(1, "shared-pool");
        pool.submit(|| ()).unwrap().join().unwrap();
        pool
    });
    pool.submit(|| tracing::info!("submitted from the test"))
        .unwrap()
        .join()
        .unwrap();
    assert!(logs_contain("submitted from the test"));
}
