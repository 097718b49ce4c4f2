use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iris::{SpawnError, StopToken, ThreadContainer};

use crate::PATIENCE;

/// A thread body that ignores its own stop token and only leaves when `release` is
/// stopped: the test's stand-in for a buggy worker.
fn stubborn(release: &StopToken) -> impl FnOnce(StopToken) + Send + 'static {
    let release = release.clone();
    move |_ignored| {
        release.wait_timeout(PATIENCE);
    }
}

#[test]
fn spawn_join_and_names() {
    let app = ThreadContainer::new("app");
    let long = "a-very-long-thread-name-that-the-kernel-would-truncate-to-fifteen-bytes";
    for name in ["", long, "überwachung-线程-🧵", "nul\0inside"] {
        let thread = app.spawn(name, |_stop| {
            std::thread::current().name().map(str::to_string)
        });
        assert_eq!(thread.name(), name, "the full name is kept");
        let os_name = thread.join().unwrap();
        assert!(os_name.is_some(), "an OS-level name is always set");
    }
    app.stop(PATIENCE).unwrap();
}

#[test]
fn a_panicking_thread_is_reported_with_its_message_and_join_returns_the_payload() {
    let app = ThreadContainer::new("app");
    let sibling = app.spawn("sibling", |stop| stop.wait());
    let boom = app.spawn("boom", |_stop| -> () {
        panic!("worker failed: code {}", 7)
    });
    let payload = boom.join().unwrap_err();
    assert_eq!(iris_panic_text(&payload), "worker failed: code 7");
    let error = app.stop(PATIENCE).unwrap_err();
    assert!(error.stragglers().is_empty());
    assert_eq!(error.panics().len(), 1);
    assert_eq!(error.panics()[0].thread_name(), "boom");
    assert_eq!(error.panics()[0].message(), "worker failed: code 7");
    assert!(error
        .to_string()
        .contains("\"boom\" in `app` panicked: worker failed: code 7"));
    assert!(!sibling.is_alive(), "the other thread was still stopped");
}

#[test]
fn a_panic_is_reported_even_if_nobody_joined() {
    let app = ThreadContainer::new("app");
    drop(app.spawn("fire-and-forget", |_stop| panic!("unnoticed?")));
    assert!(app.wait_timeout(PATIENCE));
    let error = app.stop(PATIENCE).unwrap_err();
    assert_eq!(error.panics()[0].message(), "unnoticed?");
}

#[test]
fn a_finished_tree_still_reports_the_panic_of_a_childs_thread() {
    // Nothing is alive when the stop begins: it must still look into the child.
    let app = ThreadContainer::new("app");
    let child = app.create_child("child");
    drop(child.spawn("gone", |_stop| panic!("in the child")));
    assert!(app.wait_timeout(PATIENCE));
    assert!(!app.is_alive());
    let error = app.stop(PATIENCE).unwrap_err();
    assert_eq!(error.panics().len(), 1);
    assert_eq!(error.panics()[0].message(), "in the child");
    assert_eq!(error.panics()[0].container(), "app/child");
    // Stop is idempotent: with the thread joined by now, the panic is still its verdict.
    let again = app.stop(Duration::ZERO).unwrap_err();
    assert_eq!(again.panics()[0].message(), "in the child");
    // An empty tree with nothing recorded stops cleanly, at once, every time.
    let empty = ThreadContainer::new("empty");
    empty.create_child("idle");
    assert!(empty.stop(Duration::ZERO).is_ok());
    assert!(empty.stop(Duration::MAX).is_ok());
    assert!(empty.is_stopped());
}

#[test]
fn a_straggler_is_named_with_its_spawn_site_and_stop_returns_on_time() {
    let app = ThreadContainer::new("app");
    let release = StopToken::new();
    let line = line!() + 1;
    app.spawn("stubborn", stubborn(&release));
    let begun = Instant::now();
    let error = app.stop(Duration::from_millis(100)).unwrap_err();
    let took = begun.elapsed();
    assert!(
        took >= Duration::from_millis(100),
        "waited the full timeout: {took:?}"
    );
    assert!(
        took < Duration::from_millis(600),
        "returned promptly: {took:?}"
    );
    assert_eq!(error.stragglers().len(), 1);
    let straggler = &error.stragglers()[0];
    assert_eq!(straggler.name(), "stubborn");
    assert_eq!(straggler.container(), "app");
    assert!(straggler.spawned_at().file().ends_with("container.rs"));
    assert_eq!(straggler.spawned_at().line(), line);
    let text = error.to_string();
    assert!(text.contains(&format!("container.rs:{line}")), "{text}");
    assert!(
        text.contains("left 1 thread(s) running after 100ms"),
        "{text}"
    );

    release.stop();
    assert!(app.wait_timeout(PATIENCE));
    app.stop(PATIENCE)
        .expect("a second stop sees the straggler gone");
}

#[test]
fn one_deadline_for_the_whole_tree() {
    let root = ThreadContainer::new("root");
    let release = StopToken::new();
    for i in 0..3 {
        root.create_child(format!("child-{i}"))
            .spawn("stubborn", stubborn(&release));
    }
    let begun = Instant::now();
    let error = root.stop(Duration::from_millis(300)).unwrap_err();
    let took = begun.elapsed();
    release.stop();
    assert_eq!(error.stragglers().len(), 3, "{error}");
    assert!(
        took < Duration::from_millis(800),
        "one shared deadline, not one per child: {took:?}"
    );
    let paths: Vec<_> = error.stragglers().iter().map(|s| s.container()).collect();
    assert_eq!(paths, ["root/child-0", "root/child-1", "root/child-2"]);
    assert!(root.wait_timeout(PATIENCE));
}

#[test]
fn zero_and_max_timeouts() {
    let app = ThreadContainer::new("app");
    let release = StopToken::new();
    app.spawn("stubborn", stubborn(&release));
    assert!(!app.wait_timeout(Duration::ZERO));
    let error = app.stop(Duration::ZERO).unwrap_err();
    assert_eq!(error.stragglers().len(), 1);
    release.stop();
    assert!(app.wait_timeout(Duration::MAX));
    app.stop(Duration::MAX).unwrap();
    let late = ThreadContainer::new("late");
    let idle = late.spawn("idle", |stop| stop.wait());
    let idle = idle.join_timeout(Duration::ZERO).unwrap_err();
    late.stop(Duration::MAX).unwrap();
    assert!(idle.join_timeout(Duration::MAX).is_ok());
}

#[test]
fn stop_order_children_then_own_threads_then_executors() {
    let root = ThreadContainer::new("root");
    let child = root.create_child("child");
    let pool = root.spawn_executor(1, "pool");
    let own = root.spawn("own", |stop| stop.wait());
    let own_token = own.stop_token();
    let violations = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));

    let v = violations.clone();
    child.spawn("deep", move |stop| {
        stop.on_stop(move || {
            if own_token.is_stopped() {
                v.lock()
                    .push("parent thread signalled before the child".into());
            }
        });
        stop.wait();
    });
    let v = violations.clone();
    let (child_probe, pool_probe) = (child.clone(), pool.clone());
    root.spawn("own-2", move |stop| {
        stop.on_stop(move || {
            if child_probe.is_alive() {
                v.lock()
                    .push("child still alive when the parent was signalled".into());
            }
            if pool_probe.is_shut_down() {
                v.lock()
                    .push("executor shut down before own threads".into());
            }
        });
        stop.wait();
    });
    assert_eq!(pool.submit(|| 1).unwrap().join().unwrap(), 1);
    root.stop(PATIENCE).unwrap();
    assert!(violations.lock().is_empty(), "{:?}", violations.lock());
    assert!(pool.is_shut_down());
    assert!(!own.is_alive());
}

#[test]
fn a_whole_level_is_signalled_before_any_thread_is_waited_for() {
    // Each thread only exits once its sibling has been signalled too; a stop that
    // signalled and joined one at a time would time out.
    let root = ThreadContainer::new("root");
    let (a, b) = (root.create_child("a"), root.create_child("b"));
    let a_token = Arc::new(parking_lot::Mutex::new(None::<StopToken>));
    let b_token = Arc::new(parking_lot::Mutex::new(None::<StopToken>));
    let seen = b_token.clone();
    let ta = a.spawn("needs-b", move |stop| {
        stop.wait();
        let other = seen.lock().clone().unwrap();
        other.wait_timeout(PATIENCE)
    });
    let seen = a_token.clone();
    let tb = b.spawn("needs-a", move |stop| {
        stop.wait();
        let other = seen.lock().clone().unwrap();
        other.wait_timeout(PATIENCE)
    });
    *a_token.lock() = Some(ta.stop_token());
    *b_token.lock() = Some(tb.stop_token());
    root.stop(Duration::from_secs(5)).unwrap();
    assert!(ta.join().unwrap() && tb.join().unwrap());
}

#[test]
fn finished_threads_leave_the_container() {
    let app = ThreadContainer::new("app");
    for i in 0..50 {
        app.spawn(format!("short-{i}"), |_stop| ());
    }
    assert!(app.wait_timeout(PATIENCE));
    assert!(app.alive_threads().is_empty());
    assert!(
        !format!("{app:?}").contains("short-"),
        "no records kept: {app:?}"
    );
    app.stop(PATIENCE).unwrap();
}

#[test]
fn alive_threads_includes_descendants_and_dropping_a_handle_stops_nothing() {
    let root = ThreadContainer::new("root");
    let grandchild = root.create_child("mid").create_child("leaf");
    drop(grandchild.spawn("deep", |stop| stop.wait()));
    root.spawn("top", |stop| stop.wait());
    let mut names: Vec<_> = root
        .alive_threads()
        .iter()
        .map(|t| format!("{}:{}", t.container(), t.name()))
        .collect();
    names.sort();
    assert_eq!(names, ["root/mid/leaf:deep", "root:top"]);
    assert!(grandchild.is_alive() && root.is_alive());
    root.stop(PATIENCE).unwrap();
    assert!(!root.is_alive() && grandchild.is_stopped());
}

#[test]
fn stop_twice_and_from_many_threads_at_once() {
    let app = ThreadContainer::new("app");
    for i in 0..20 {
        app.create_child(format!("c{i}"))
            .spawn("w", |stop| stop.wait());
    }
    let stoppers: Vec<_> = (0..4)
        .map(|_| {
            let app = app.clone();
            std::thread::spawn(move || app.stop(PATIENCE))
        })
        .collect();
    for stopper in stoppers {
        stopper.join().unwrap().unwrap();
    }
    app.stop(PATIENCE).unwrap();
    assert!(app.is_stopped() && !app.is_alive());
}

#[test]
fn spawn_racing_with_stop_never_lets_a_thread_escape() {
    for _ in 0..20 {
        let app = ThreadContainer::new("racy");
        let child = app.create_child("child");
        let go = StopToken::new();
        let spawner = {
            let (app, child, go) = (app.clone(), child.clone(), go.clone());
            std::thread::spawn(move || {
                go.wait();
                let mut handles = Vec::new();
                loop {
                    let target = if handles.len() % 2 == 0 { &app } else { &child };
                    match target.try_spawn("w", |stop: StopToken| stop.wait()) {
                        Ok(h) => handles.push(h),
                        Err(SpawnError::Stopped { .. }) => break handles,
                        Err(other) => panic!("unexpected: {other}"),
                    }
                }
            })
        };
        go.stop();
        app.stop(PATIENCE).unwrap();
        let handles = spawner.join().unwrap();
        assert!(
            handles.iter().all(|h| !h.is_alive()),
            "every accepted thread was stopped"
        );
        assert!(!app.is_alive());
        assert!(child.try_spawn("late", |_s| ()).is_err());
    }
}

#[test]
fn a_child_created_under_a_stopped_parent_is_born_stopped() {
    let root = ThreadContainer::new("root");
    root.stop(PATIENCE).unwrap();
    let child = root.create_child("late");
    assert!(child.is_stopped());
    let refused = child.try_spawn("x", |_s| ()).unwrap_err();
    assert!(refused.to_string().contains("root/late"), "{refused}");
}

#[test]
#[should_panic(expected = "container `gone` is stopping or stopped")]
fn spawn_panics_like_std_when_refused() {
    let gone = ThreadContainer::new("gone");
    gone.stop(Duration::ZERO).unwrap();
    gone.spawn("late", |_s| ());
}

#[test]
fn debug_shows_live_state() {
    let app = ThreadContainer::new("app");
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let t = app.spawn("visible", move |stop| {
        stop.wait();
        f.store(true, Ordering::SeqCst);
    });
    let text = format!("{app:?}");
    assert!(
        text.contains("\"visible\"") && text.contains("stopping: false"),
        "{text}"
    );
    assert!(format!("{t:?}").contains("alive: true"));
    app.stop(PATIENCE).unwrap();
    assert!(flag.load(Ordering::SeqCst));
    assert!(format!("{t:?}").contains("alive: false"));
}

fn iris_panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "<other>".into())
}

#[test]
fn a_thread_can_stop_and_wait_for_its_own_container_without_hanging() {
    let app = ThreadContainer::new("app");
    let sibling = app.spawn("sibling", |stop| stop.wait());
    let own = app.clone();
    let stopper = app.spawn("stopper", move |stop| {
        // Duration::MAX: a stop or wait that waited for its own caller would hang.
        let result = own.stop(Duration::MAX);
        let others_gone = own.wait_timeout(Duration::MAX);
        (result.is_ok(), stop.is_stopped(), others_gone)
    });
    let (clean, signalled, others_gone) = stopper
        .join_timeout(PATIENCE)
        .expect("the stopper's own stop and wait returned")
        .unwrap();
    assert!(clean, "the caller is not its own straggler");
    assert!(signalled, "the caller was signalled like the others");
    assert!(others_gone);
    assert!(!sibling.is_alive());
    assert!(app.wait_timeout(PATIENCE));
}

#[test]
fn a_thread_joining_itself_gets_an_error_not_a_hang() {
    let app = ThreadContainer::new("app");
    let (send, receive) = std::sync::mpsc::channel::<iris::ManagedThread<String>>();
    let thread = app.spawn("narcissus", move |_stop| {
        let me = receive.recv().unwrap();
        match me.join() {
            Ok(_) => "joined".to_string(),
            Err(payload) => iris_panic_text(&payload),
        }
    });
    // Hand the thread a second handle to itself: spawn gives one, so use a proxy.
    drop(send);
    let outcome = thread.join();
    assert!(
        outcome.is_err(),
        "recv failed: the proxy handle was dropped"
    );
    app.stop(PATIENCE).ok();
}
