use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use iris::{Server, StopToken, ThreadContainer};

use crate::PATIENCE;

struct Blocking {
    closed: StopToken,
    runs: AtomicUsize,
    panic_in_shutdown: bool,
}

impl Server for Blocking {
    fn run(&self) {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.closed.wait_timeout(PATIENCE);
    }
    fn shutdown(&self) {
        self.closed.stop();
        if self.panic_in_shutdown {
            panic!("shutdown went wrong");
        }
    }
}

fn server(panic_in_shutdown: bool) -> Arc<Blocking> {
    Arc::new(Blocking {
        closed: StopToken::new(),
        runs: AtomicUsize::new(0),
        panic_in_shutdown,
    })
}

#[test]
fn a_stop_request_calls_shutdown_and_run_returns() {
    let app = ThreadContainer::new("app");
    let echo = server(false);
    let thread = app.spawn_server("echo", echo.clone());
    app.stop(PATIENCE).unwrap();
    assert!(echo.closed.is_stopped());
    assert!(!thread.is_alive());
}

#[test]
fn a_panicking_shutdown_is_reported_and_others_still_stop() {
    let app = ThreadContainer::new("app");
    let (bad, good) = (server(true), server(false));
    app.spawn_server("bad", bad.clone());
    app.spawn_server("good", good.clone());
    let error = app.stop(PATIENCE).unwrap_err();
    assert!(error.stragglers().is_empty(), "{error}");
    assert_eq!(error.panics().len(), 1, "{error}");
    assert_eq!(error.panics()[0].thread_name(), "bad");
    assert!(error.panics()[0].message().contains("shutdown went wrong"));
    assert!(good.closed.is_stopped());
}

#[test]
fn a_server_stopped_before_it_runs_does_not_run() {
    let app = ThreadContainer::new("app");
    let never = server(false);
    let thread = app.spawn_server("never", never.clone());
    thread.stop();
    app.stop(PATIENCE).unwrap();
    assert!(never.runs.load(Ordering::SeqCst) <= 1);
    assert!(never.closed.is_stopped());
}
