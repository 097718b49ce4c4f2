use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iris::{StopToken, ThreadContainer};

use crate::PATIENCE;

#[test]
fn stop_wakes_every_waiter_at_once() {
    let stop = StopToken::new();
    let started = StopToken::new();
    let waiting = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let (stop, waiting, started) = (stop.clone(), waiting.clone(), started.clone());
            std::thread::spawn(move || {
                if waiting.fetch_add(1, Ordering::SeqCst) == 7 {
                    started.stop();
                }
                stop.wait_timeout(Duration::MAX)
            })
        })
        .collect();
    assert!(started.wait_timeout(PATIENCE));
    stop.stop();
    for waiter in waiters {
        assert!(waiter.join().unwrap(), "every waiter saw the stop");
    }
}

#[test]
fn wait_timeout_zero_only_checks_and_a_short_timeout_expires() {
    let stop = StopToken::new();
    assert!(!stop.wait_timeout(Duration::ZERO));
    let begun = Instant::now();
    assert!(!stop.wait_timeout(Duration::from_millis(20)));
    assert!(begun.elapsed() >= Duration::from_millis(20));
}

#[test]
fn callbacks_run_on_the_stopping_thread() {
    let stop = StopToken::new();
    let ran_on = Arc::new(parking_lot::Mutex::new(None));
    let slot = ran_on.clone();
    stop.on_stop(move || *slot.lock() = Some(std::thread::current().id()));
    let stopper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            stop.stop();
            std::thread::current().id()
        })
    };
    let stopper_id = stopper.join().unwrap();
    assert_eq!(*ran_on.lock(), Some(stopper_id));
}

#[test]
fn a_panicking_on_stop_callback_is_in_the_containers_stop_error() {
    let app = ThreadContainer::new("app");
    let ran_after = Arc::new(AtomicUsize::new(0));
    let after = ran_after.clone();
    app.spawn("with-callbacks", move |stop| {
        stop.on_stop(|| panic!("callback exploded"));
        stop.on_stop(move || {
            after.fetch_add(1, Ordering::SeqCst);
        });
        stop.wait();
    });
    let error = app.stop(PATIENCE).expect_err("callback panic is reported");
    assert!(
        error.stragglers().is_empty(),
        "the thread still stopped: {error}"
    );
    assert_eq!(error.panics().len(), 1, "{error}");
    assert_eq!(error.panics()[0].thread_name(), "with-callbacks");
    assert!(
        error.panics()[0].message().contains("callback exploded"),
        "{error}"
    );
    assert_eq!(
        ran_after.load(Ordering::SeqCst),
        1,
        "the other callback still ran"
    );
}
