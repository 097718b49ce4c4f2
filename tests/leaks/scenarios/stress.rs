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

/// A planted race: the test assumes its worker has started within 50 ms, which it
/// always has on a quiet machine, and which schedule chaos breaks by holding the
/// new thread back.
#[iris_test(stress = 100)]
#[ignore = "fails under chaos on purpose; run by end_to_end"]
fn assumes_its_worker_started() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let started = Arc::new(AtomicBool::new(false));
    let flag = started.clone();
    let worker = std::thread::spawn(move || flag.store(true, Ordering::SeqCst));
    // The behaviour under test: a sleep used as synchronization, as written in the
    // wild ("it has surely started by now").
    std::thread::sleep(std::time::Duration::from_millis(50));
    let seen = started.load(Ordering::SeqCst);
    worker.join().unwrap();
    assert!(seen, "the worker had not started");
}

/// The fixed twin: waits for the worker to say it started.
#[iris_test(stress = 100)]
#[ignore = "run by end_to_end"]
fn waits_for_its_worker_to_start() {
    let (started, seen) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || started.send(()).unwrap());
    seen.recv_timeout(crate::PATIENCE)
        .expect("the worker started");
    worker.join().unwrap();
}

/// Two tests sharing a static, the first of a pair: it sets the value, waits, and
/// expects it unchanged; its neighbour overwrites it. Alone it passes.
static SHARED: AtomicU32 = AtomicU32::new(0);
static FIRST_STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[iris_test]
#[ignore = "fails beside its neighbour on purpose; run by end_to_end"]
fn shares_a_static_first() {
    FIRST_STARTED.store(true, Ordering::SeqCst);
    SHARED.store(1, Ordering::SeqCst);
    // The behaviour under test: the window in which a neighbour changes the static.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(SHARED.load(Ordering::SeqCst), 1, "a neighbour changed it");
}

/// The pair's second: once the first has started, overwrites the value for 200 ms.
#[iris_test]
#[ignore = "run by end_to_end"]
fn shares_a_static_second() {
    let waiting = std::time::Instant::now();
    while !FIRST_STARTED.load(Ordering::SeqCst) && waiting.elapsed() < crate::PATIENCE {
        std::thread::yield_now();
    }
    let writing = std::time::Instant::now();
    while writing.elapsed() < std::time::Duration::from_millis(200) {
        SHARED.store(2, Ordering::SeqCst);
        std::thread::yield_now();
    }
}

/// Set while `chaos_beside_a_neighbour` runs its iterations.
static CHAOS_UNDER_WAY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A test under chaos (its own option, not the run's), for its neighbour to run
/// beside: its threads are held back at their start.
#[iris_test(chaos = 1, stress = 40)]
#[ignore = "run by end_to_end"]
fn chaos_beside_a_neighbour() {
    CHAOS_UNDER_WAY.store(true, Ordering::SeqCst);
    std::thread::spawn(|| ()).join().unwrap();
}

/// The neighbour, without chaos, while the test beside it is under chaos: its own
/// threads start at normal speed. Prints how many of 200 took over 20 ms to start.
#[iris_test]
#[ignore = "run by end_to_end"]
fn neighbour_of_chaos() {
    let waiting = std::time::Instant::now();
    while !CHAOS_UNDER_WAY.load(Ordering::SeqCst) && waiting.elapsed() < crate::PATIENCE {
        std::thread::yield_now();
    }
    let mut late = 0;
    for _ in 0..200 {
        let spawned = std::time::Instant::now();
        let started = std::thread::spawn(move || spawned.elapsed())
            .join()
            .unwrap();
        if started > std::time::Duration::from_millis(20) {
            late += 1;
        }
    }
    println!("late starts: {late} of 200");
}
