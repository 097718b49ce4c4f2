//! The harness used in place: guards, rstest cases, logging.

use std::time::Duration;

#[cfg(feature = "rstest")]
use iris::fixtures::test_scope;
use iris::{
    get_thread_registry, iris_test, LeakPolicy, StopToken, TestOptions, TestScope, UnmanagedCheck,
};
use rstest::rstest;

use crate::PATIENCE;

#[iris_test]
fn a_plain_iris_test_gets_its_own_registry() {
    let registry = get_thread_registry();
    assert_eq!(
        registry.name(),
        "test:harness::a_plain_iris_test_gets_its_own_registry"
    );
    registry.spawn("worker", |stop| stop.wait());
}

#[rstest]
#[case(1)]
#[case(2)]
#[iris_test]
fn each_rstest_case_gets_its_own_scope(#[case] n: u32) {
    let name = get_thread_registry().name().to_string();
    assert!(
        name.starts_with("test:harness::each_rstest_case_gets_its_own_scope::case_"),
        "{name}"
    );
    assert!(
        get_thread_registry().alive_threads().is_empty(),
        "no thread from the other case"
    );
    get_thread_registry().spawn(format!("case-{n}"), |stop| stop.wait());
}

#[iris_test(stop_timeout = "2s")]
fn result_returning_tests_work() -> Result<(), String> {
    get_thread_registry().spawn("w", |stop| stop.wait());
    Ok(())
}

#[test]
fn the_guard_reports_without_the_macro() {
    let release = StopToken::new();
    let scope = TestScope::begin(TestOptions::new("guard").stop_timeout(Duration::from_millis(50)));
    let r = release.clone();
    let registry = scope.registry();
    let line = line!() + 1;
    registry.spawn("stuck", move |_stop| r.wait_timeout(PATIENCE));
    let report = scope.inspect();
    release.stop();
    assert_eq!(report.stragglers().len(), 1);
    let straggler = &report.stragglers()[0];
    assert_eq!(straggler.info.name(), "stuck");
    assert_eq!(straggler.info.spawned_at().line(), line);
    let os = straggler.os.as_ref().expect("Linux reports the OS state");
    assert!(os.tid > 0 && os.name == "stuck");
    assert!(matches!(
        report.unmanaged_check(),
        UnmanagedCheck::Skipped(_) | UnmanagedCheck::Checked | UnmanagedCheck::Tracked
    ));
}

#[test]
fn finish_returns_the_report_under_fail_and_ok_when_clean() {
    let scope = TestScope::begin(TestOptions::new("clean"));
    scope.registry().spawn("w", |stop| stop.wait());
    assert!(scope.finish().is_ok());

    let scope = TestScope::begin(TestOptions::new("panicky").leaks(LeakPolicy::Fail));
    scope.registry().spawn("p", |_stop| panic!("oops"));
    assert!(scope.registry().wait_timeout(PATIENCE));
    let report = scope.finish().unwrap_err();
    assert!(report.to_string().starts_with("iris: test `"), "{report}");
    assert_eq!(report.panics()[0].message(), "oops");
}

#[test]
#[should_panic(expected = "had 1 background panic(s)")]
fn dropping_an_unfinished_guard_still_checks() {
    let scope = TestScope::begin(TestOptions::new("dropped"));
    scope.registry().spawn("p", |_stop| panic!("unseen"));
    assert!(scope.registry().wait_timeout(PATIENCE));
    drop(scope);
}

#[iris_test]
fn background_logs_are_labelled_with_their_thread() {
    // The harness installed a test-writer subscriber; managed threads inherit it.
    // (The captured output is shown on failure; here we only check it does not break.)
    get_thread_registry()
        .spawn("logger", |_stop| {
            tracing::info!("hello from the background")
        })
        .join()
        .unwrap();
}

// A body that opens with an inner attribute, as tiny_http's `must_be_send` does: it
// compiles, and the lint level still covers the body (`unused` would warn, and CI
// denies warnings).
#[iris_test]
fn a_body_may_open_with_an_inner_attribute() {
    #![allow(dead_code)]
    fn never_called() {}
    assert!(get_thread_registry()
        .name()
        .contains("a_body_may_open_with_an_inner_attribute"));
}

#[iris_test]
#[rstest]
#[case("a")]
#[case("b")]
fn iris_test_may_also_come_before_rstest(#[case] label: &str) {
    let name = get_thread_registry().name().to_string();
    assert!(
        name.contains("iris_test_may_also_come_before_rstest::case_"),
        "{name}"
    );
    get_thread_registry().spawn(label, |stop| stop.wait());
}

#[cfg(feature = "rstest")]
#[rstest]
fn the_test_scope_fixture_takes_options(
    #[with(TestOptions::new("fixture").stop_timeout(Duration::from_millis(100)).linger(Duration::from_millis(100)))]
    test_scope: TestScope,
) {
    let release = StopToken::new();
    let held = release.clone();
    get_thread_registry().spawn("stubborn", move |_ignored| {
        held.wait_timeout(PATIENCE);
    });
    let started = std::time::Instant::now();
    let report = test_scope.finish().unwrap_err();
    release.stop();
    assert_eq!(report.stragglers().len(), 1);
    // The default stop timeout is 5 s; 100 ms was asked for. A wide margin.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[cfg(feature = "rstest")]
#[rstest]
fn the_test_scope_fixture_checks_at_the_end(test_scope: TestScope) {
    assert!(get_thread_registry().same_as(test_scope.registry()));
    assert!(test_scope
        .registry()
        .name()
        .contains("the_test_scope_fixture_checks_at_the_end"));
    get_thread_registry().spawn("w", |stop| stop.wait());
}
