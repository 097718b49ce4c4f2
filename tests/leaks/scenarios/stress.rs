//! Stress runs that fail on one iteration only, pass, or cannot repeat. Run by
//! `end_to_end::stress` only.

use std::sync::atomic::{AtomicU32, Ordering};

use iris::{get_thread_registry, iris_test};

use super::never;

/// Which iteration this is, counting from 1, for the scenario `counter` belongs to.
fn next(counter: &AtomicU32) -> u32 {
    counter.fetch_add(1, Ordering::Relaxed) + 1
}

/// Leaks a managed thread on its seventh iteration only.
#[iris_test(stress = 20, stop_timeout = "100ms", linger = "100ms")]
#[ignore = "leaks on purpose; run by end_to_end"]
fn leaks_on_iteration_7() {
    static ITERATION: AtomicU32 = AtomicU32::new(0);
    let iteration = next(&ITERATION);
    println!("iteration {iteration} ran");
    if iteration == 7 {
        get_thread_registry().spawn("seventh", |_ignored| never().wait());
    }
}

/// Every iteration starts a thread and joins it.
#[iris_test(stress = 5)]
#[ignore = "run by end_to_end"]
fn passes_every_iteration() {
    std::thread::spawn(|| ()).join().unwrap();
}

/// Returns an error on its third iteration.
#[iris_test(stress = 10)]
#[ignore = "fails on purpose; run by end_to_end"]
fn errs_on_iteration_3() -> Result<(), String> {
    static ITERATION: AtomicU32 = AtomicU32::new(0);
    match next(&ITERATION) {
        3 => Err("the third time".to_string()),
        _ => Ok(()),
    }
}

/// No stress option: `IRIS_STRESS` makes it a stress run; panics on iteration 4.
#[iris_test]
#[ignore = "fails on purpose; run by end_to_end"]
fn panics_on_iteration_4() {
    static ITERATION: AtomicU32 = AtomicU32::new(0);
    assert_ne!(next(&ITERATION), 4, "a race lost on the fourth try");
}

/// `should_panic`: never repeated.
#[iris_test(stress = 5)]
#[should_panic(expected = "as it should")]
#[ignore = "run by end_to_end"]
fn should_panic_runs_once() {
    panic!("as it should");
}

/// An `async fn` test, repeated as a sync one is.
#[cfg(feature = "tokio")]
#[iris_test(stress = 3)]
#[ignore = "run by end_to_end"]
async fn async_passes_every_iteration() {
    tokio::spawn(async {}).await.unwrap();
}
