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

#[test]
fn a_blocking_on_stop_callback_cannot_hold_a_container_stop_past_its_deadline() {
    let app = ThreadContainer::new("app");
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let returned = StopToken::new();
    let done = returned.clone();
    let worker = app.spawn("closer", |stop| stop.wait());
    let token = worker.stop_token();
    let registered_on = line!() + 1;
    token.on_stop(move || {
        let _ = blocked.recv();
        done.stop();
    });
    let started = Instant::now();
    let error = app
        .stop(Duration::from_millis(300))
        .expect_err("the callback still running is a straggler");
    // Before the fix this stop never returned (the callback ran on this thread).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!worker.is_alive(), "the thread itself stopped");
    assert_eq!(error.stragglers().len(), 1, "{error}");
    let straggler = &error.stragglers()[0];
    assert!(straggler.is_stop_callback(), "{error}");
    assert_eq!(straggler.name(), "closer");
    assert_eq!(straggler.spawned_at().line(), registered_on, "{error}");
    assert!(straggler.os_tid().is_some() || !cfg!(target_os = "linux"));
    assert!(
        error
            .to_string()
            .contains("on_stop callback of \"closer\" in `app`, registered at"),
        "{error}"
    );
    drop(release);
    assert!(
        returned.wait_timeout(PATIENCE),
        "the callback runs to its end once unblocked, exactly once"
    );
}

#[test]
fn a_servers_blocking_shutdown_cannot_hold_a_container_stop_past_its_deadline() {
    struct SlowToShutDown {
        closed: StopToken,
        release: parking_lot::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    }
    impl iris::Server for SlowToShutDown {
        fn run(&self) {
            self.closed.wait();
        }
        fn shutdown(&self) {
            self.closed.stop();
            if let Some(blocked) = self.release.lock().take() {
                let _ = blocked.recv(); // blocks after signalling: the stop must not wait
            }
        }
    }
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let app = ThreadContainer::new("app");
    let spawned_on = line!() + 1;
    app.spawn_server(
        "server",
        Arc::new(SlowToShutDown {
            closed: StopToken::new(),
            release: parking_lot::Mutex::new(Some(blocked)),
        }),
    );
    let started = Instant::now();
    let error = app.stop(Duration::from_millis(300)).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error.stragglers().len(), 1, "{error}");
    // Either the shutdown ran on a stop helper (the server had registered it), or on
    // the server's own thread (the stop came first): one straggler either way, named
    // by the user's spawn_server call.
    assert_eq!(error.stragglers()[0].name(), "server", "{error}");
    assert_eq!(
        error.stragglers()[0].spawned_at().line(),
        spawned_on,
        "{error}"
    );
    drop(release);
}

#[test]
fn callbacks_that_return_in_time_leave_a_clean_stop_and_run_once() {
    let app = ThreadContainer::new("app");
    let runs = Arc::new(AtomicUsize::new(0));
    for i in 0..8 {
        let runs = runs.clone();
        app.spawn(format!("w{i}"), move |stop| {
            stop.on_stop(move || {
                runs.fetch_add(1, Ordering::SeqCst);
            });
            stop.wait();
        });
    }
    app.stop(PATIENCE).unwrap();
    // Again: idempotent, nothing runs twice.
    app.stop(PATIENCE).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 8);
}
