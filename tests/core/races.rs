//! Stress tests for races between finishing, joining, spawning and stopping. Each
//! would have caught a race found once (see the comments); they run thousands of
//! rounds so that an interleaving that is rare on one round shows up in the suite.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use iris::{StopToken, ThreadContainer};

use crate::PATIENCE;

const ROUNDS: usize = 2_000;

/// Found once: `join` returned as soon as the result slot was filled, before the
/// thread had left its container's live set, so `alive_threads()` still listed a
/// joined thread and `is_alive()` was true right after `join()`.
#[test]
fn a_joined_thread_is_gone_from_every_view() {
    let app = ThreadContainer::new("joins");
    for round in 0..ROUNDS {
        let thread = app.spawn("short", move |_stop| round);
        let probe = app.spawn("short-timeout", |_stop| ());
        assert_eq!(thread.join().unwrap(), round);
        assert!(
            app.alive_threads().iter().all(|t| t.name() != "short"),
            "round {round}: a joined thread is still listed: {:?}",
            app.alive_threads()
        );
        let probe_handle_alive = match probe.join_timeout(PATIENCE) {
            Ok(result) => {
                result.unwrap();
                false
            }
            Err(still_running) => still_running.is_alive(),
        };
        assert!(!probe_handle_alive, "round {round}: join_timeout timed out");
        assert!(
            !app.is_alive(),
            "round {round}: alive after every thread was joined: {:?}",
            app.alive_threads()
        );
    }
    app.stop(PATIENCE).unwrap();
}

/// The handle's own view agrees with the container's the moment `join_timeout`
/// hands the result back.
#[test]
fn is_alive_is_false_once_join_timeout_returns_the_value() {
    let app = ThreadContainer::new("join-timeout");
    for round in 0..ROUNDS {
        let thread = app.spawn("short", |_stop| 7);
        let info = thread.info();
        let value = match thread.join_timeout(PATIENCE) {
            Ok(result) => result.unwrap(),
            Err(_) => panic!("round {round}: a 7-returning thread did not finish"),
        };
        assert_eq!(value, 7);
        assert!(
            !app.alive_threads()
                .iter()
                .any(|t| t.spawned_at() == info.spawned_at()),
            "round {round}: still listed after join_timeout"
        );
    }
    app.stop(PATIENCE).unwrap();
}

/// Executor tasks: once a task's handle has been joined, the executor counts it
/// neither as queued nor as running.
#[test]
fn a_joined_executor_task_is_counted_nowhere() {
    let app = ThreadContainer::new("tasks");
    let pool = app.spawn_executor(2, "pool");
    for round in 0..ROUNDS {
        let a = pool.submit(move || round).unwrap();
        let b = pool.submit(move || round + 1).unwrap();
        assert_eq!(a.join().unwrap() + 1, b.join().unwrap());
        assert_eq!(pool.active_tasks(), 0, "round {round}: {pool:?}");
    }
    app.stop(PATIENCE).unwrap();
}

/// Spawning races stopping, from several threads at once: every spawn either is
/// refused or yields a thread that the stop signals and joins. No thread escapes a
/// stopped container, and no stop reports a straggler or hangs.
#[test]
fn spawn_racing_stop_from_several_threads_lets_no_thread_escape() {
    for round in 0..200 {
        let app = ThreadContainer::new("race");
        let go = StopToken::new();
        let accepted = Arc::new(AtomicUsize::new(0));
        let escaped = Arc::new(AtomicBool::new(false));
        let mut helpers = Vec::new();
        for spawner in 0..2 {
            let (app, go, accepted, escaped) =
                (app.clone(), go.clone(), accepted.clone(), escaped.clone());
            helpers.push(std::thread::spawn(move || {
                go.wait_timeout(PATIENCE);
                let mut handles = Vec::new();
                while let Ok(thread) = app.try_spawn(format!("s{spawner}"), |stop| stop.wait()) {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    handles.push(thread);
                }
                // Every accepted thread must be stopped by the stop that refused us.
                for thread in handles {
                    match thread.join_timeout(PATIENCE) {
                        Ok(result) => result.unwrap(),
                        Err(_) => escaped.store(true, Ordering::SeqCst),
                    }
                }
            }));
        }
        let stoppers: Vec<_> = (0..2)
            .map(|_| {
                let (app, go) = (app.clone(), go.clone());
                std::thread::spawn(move || {
                    go.wait_timeout(PATIENCE);
                    app.stop(PATIENCE)
                })
            })
            .collect();
        go.stop();
        for stopper in stoppers {
            stopper
                .join()
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        for helper in helpers {
            helper.join().unwrap();
        }
        assert!(
            !escaped.load(Ordering::SeqCst),
            "round {round}: a thread escaped the stop"
        );
        assert!(!app.is_alive(), "round {round}: {:?}", app.alive_threads());
        assert!(app.try_spawn("late", |_stop| ()).is_err());
    }
}
