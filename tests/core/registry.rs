use iris::{get_thread_registry, thread_registry_scope, StopToken};

use crate::PATIENCE;

#[test]
fn outside_any_scope_the_registry_is_the_default() {
    assert_eq!(get_thread_registry().name(), "default");
    assert!(get_thread_registry().same_as(&get_thread_registry()));
}

#[test]
fn scopes_nest_and_restore() {
    let outer = thread_registry_scope("outer");
    assert_eq!(get_thread_registry().name(), "outer");
    let inner = thread_registry_scope("inner");
    assert!(get_thread_registry().same_as(&inner));
    inner.close().unwrap();
    assert!(get_thread_registry().same_as(&outer));
    outer.close().unwrap();
    assert_eq!(get_thread_registry().name(), "default");
}

#[test]
fn out_of_order_drops_do_not_corrupt_the_stack() {
    let a = thread_registry_scope("a");
    let b = thread_registry_scope("b");
    let c = thread_registry_scope("c");
    drop(b);
    assert_eq!(get_thread_registry().name(), "c");
    drop(c);
    assert_eq!(get_thread_registry().name(), "a");
    let d = thread_registry_scope("d");
    drop(a);
    assert_eq!(get_thread_registry().name(), "d");
    drop(d);
    assert_eq!(get_thread_registry().name(), "default");
}

#[test]
fn managed_threads_inherit_the_spawners_registry_transitively() {
    let scope = thread_registry_scope("test:inherit");
    let outer = get_thread_registry().spawn("component", |_stop| {
        let here = get_thread_registry().name().to_string();
        // Component code deeper down spawns through the implicit registry, too.
        let nested =
            get_thread_registry().spawn("helper", |_stop| get_thread_registry().name().to_string());
        (here, nested.join().unwrap())
    });
    assert_eq!(
        outer.join().unwrap(),
        ("test:inherit".to_string(), "test:inherit".to_string())
    );
    scope.close().unwrap();
}

#[test]
fn plain_std_threads_do_not_inherit() {
    let scope = thread_registry_scope("test:plain");
    let name = std::thread::spawn(|| get_thread_registry().name().to_string())
        .join()
        .unwrap();
    assert_eq!(name, "default");
    scope.close().unwrap();
}

#[test]
fn closing_or_dropping_a_scope_stops_its_threads() {
    let scope = thread_registry_scope("test:close");
    let worker = get_thread_registry().spawn("w", |stop| stop.wait());
    scope.close().unwrap();
    assert!(!worker.is_alive());

    let scope = thread_registry_scope("test:drop");
    let worker = scope.spawn("w", |stop| stop.wait());
    drop(scope);
    assert!(!worker.is_alive());
}

#[test]
fn close_reports_stragglers_and_panics() {
    let release = StopToken::new();
    let scope = thread_registry_scope("test:report");
    let r = release.clone();
    scope.spawn("stuck", move |_stop| {
        r.wait_timeout(PATIENCE);
    });
    let boom = scope.spawn("boom", |_stop| -> () { panic!("background failure") });
    assert!(boom.join_timeout(PATIENCE).is_ok(), "boom has finished");
    let error = scope
        .close_with_timeout(std::time::Duration::from_millis(50))
        .unwrap_err();
    release.stop();
    assert_eq!(error.stragglers()[0].name(), "stuck");
    assert_eq!(error.stragglers()[0].container(), "test:report");
    assert_eq!(error.panics()[0].message(), "background failure");
    assert_eq!(get_thread_registry().name(), "default");
}
