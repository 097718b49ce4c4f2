use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use iris::{StopToken, ThreadContainer};

use crate::PATIENCE;

#[test]
fn queued_work_is_drained_on_stop_and_later_submits_are_refused() {
    let app = ThreadContainer::new("app");
    let pool = app.spawn_executor(1, "pool");
    let gate = StopToken::new();
    // The container's own thread opens the gate when it is stopped, i.e. before the
    // executor is shut down: the single worker is busy until then, so the other
    // tasks are still queued when the shutdown comes.
    let opener = gate.clone();
    app.spawn("opener", move |stop| {
        stop.on_stop(move || opener.stop());
        stop.wait();
    });
    let done = Arc::new(AtomicUsize::new(0));
    let g = gate.clone();
    let first = pool.submit(move || g.wait_timeout(PATIENCE)).unwrap();
    for _ in 0..10 {
        let done = done.clone();
        pool.submit(move || done.fetch_add(1, Ordering::SeqCst))
            .unwrap();
    }
    app.stop(PATIENCE).unwrap();
    assert!(first.join().unwrap(), "the gate opened");
    assert_eq!(done.load(Ordering::SeqCst), 10, "every queued task ran");
    let refused = pool.submit(|| ()).unwrap_err();
    assert!(
        refused.to_string().contains("\"pool\" is shut down"),
        "{refused}"
    );
}

#[test]
fn workers_are_bounded_and_named_and_visible() {
    let app = ThreadContainer::new("app");
    let pool = app.spawn_executor(3, "crunch");
    let gate = StopToken::new();
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let g = gate.clone();
            pool.submit(move || {
                std::thread::current().name().unwrap().to_string()
                    + if g.wait_timeout(PATIENCE) { "" } else { "!" }
            })
            .unwrap()
        })
        .collect();
    let mut names: Vec<_> = app
        .alive_threads()
        .iter()
        .map(|t| t.name().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["crunch-0", "crunch-1", "crunch-2"]);
    gate.stop();
    for h in handles {
        assert!(h.join().unwrap().starts_with("crunch-"));
    }
    app.stop(PATIENCE).unwrap();
}

#[test]
fn a_task_panic_goes_to_its_joiner_and_an_unobserved_one_to_the_stop_error() {
    let app = ThreadContainer::new("app");
    let pool = app.spawn_executor(2, "pool");
    let observed = pool.submit(|| -> () { panic!("seen by join") }).unwrap();
    assert!(observed.join().is_err());
    let unobserved = pool.submit(|| -> () { panic!("nobody looks") }).unwrap();
    drop(unobserved);
    let after = pool.submit(|| 5).unwrap();
    assert_eq!(after.join().unwrap(), 5, "the worker survived the panics");
    let error = app.stop(PATIENCE).unwrap_err();
    assert_eq!(error.panics().len(), 1, "{error}");
    assert!(
        error.panics()[0].message().contains("nobody looks"),
        "{error}"
    );
}

#[test]
fn zero_workers_means_one_and_a_stopped_container_gives_a_refusing_pool() {
    let app = ThreadContainer::new("app");
    let pool = app.spawn_executor(0, "tiny");
    assert_eq!(pool.submit(|| 1).unwrap().join().unwrap(), 1);
    app.stop(PATIENCE).unwrap();
    let late = app.spawn_executor(2, "late");
    assert!(late.is_shut_down() && late.submit(|| ()).is_err());
}

#[test]
fn task_joins_take_zero_and_max() {
    let app = ThreadContainer::new("app");
    let pool = app.spawn_executor(1, "pool");
    let gate = StopToken::new();
    let g = gate.clone();
    let task = pool.submit(move || g.wait_timeout(PATIENCE)).unwrap();
    let task = task.join_timeout(std::time::Duration::ZERO).unwrap_err();
    assert!(!task.is_finished());
    gate.stop();
    assert!(task
        .join_timeout(std::time::Duration::MAX)
        .unwrap()
        .unwrap());
    app.stop(std::time::Duration::MAX).unwrap();
}
