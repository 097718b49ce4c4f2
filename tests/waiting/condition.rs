use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iris::{
    assert_always, assert_eventually, wait_for_condition, Polling, StopToken, ThreadContainer, Wait,
};

use crate::PATIENCE;

#[test]
fn returns_as_soon_as_the_condition_holds() {
    let app = ThreadContainer::new("app");
    let flag = Arc::new(AtomicBool::new(false));
    let go = StopToken::new();
    let (f, g) = (flag.clone(), go.clone());
    app.spawn("flipper", move |_stop| {
        g.wait_timeout(PATIENCE);
        f.store(true, Ordering::SeqCst);
    });
    go.stop();
    wait_for_condition(|| flag.load(Ordering::SeqCst), PATIENCE).unwrap();
    app.stop(PATIENCE).unwrap();
}

#[test]
fn a_timeout_says_what_how_long_how_often_and_where() {
    let line = line!() + 1;
    let error = wait_for_condition(|| false, Duration::from_millis(30)).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("did not become true within 30ms"), "{text}");
    assert!(
        text.contains(&format!("condition.rs:{line}")),
        "location of the caller: {text}"
    );
    assert!(error.elapsed() >= Duration::from_millis(30));
    assert!(
        error.checks() >= 2,
        "checked more than once: {}",
        error.checks()
    );
    // Backoff: ~5% of 30 ms is well under 10 ms, so a 30 ms wait makes many checks,
    // yet far fewer than a busy loop.
    assert!(error.checks() < 5_000, "{}", error.checks());
}

#[test]
fn never_overshoots_the_deadline_by_more_than_one_check() {
    let begun = Instant::now();
    let _ = wait_for_condition(|| false, Duration::from_millis(50));
    let took = begun.elapsed();
    assert!(took >= Duration::from_millis(50), "{took:?}");
    assert!(
        took < Duration::from_millis(50 + 500),
        "clipped to the deadline: {took:?}"
    );
}

#[test]
fn max_timeout_works() {
    let calls = AtomicU32::new(0);
    wait_for_condition(|| calls.fetch_add(1, Ordering::SeqCst) >= 3, Duration::MAX).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[test]
fn until_some_and_until_ok_return_the_value_and_the_last_error() {
    let mut n = 0;
    let value = Wait::new()
        .until_some(|| {
            n += 1;
            (n == 3).then_some("third")
        })
        .unwrap();
    assert_eq!(value, "third");

    let mut attempt = 0;
    let error = Wait::new()
        .describe("the port file to parse")
        .timeout(Duration::from_millis(20))
        .until_ok(|| {
            attempt += 1;
            "not a port"
                .parse::<u16>()
                .map_err(|e| format!("attempt {attempt}: {e}"))
        })
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("the port file to parse: did not become true within 20ms"),
        "{text}"
    );
    assert!(text.contains("last error: attempt"), "{text}");
    assert!(
        error.last_error().unwrap().contains("invalid digit"),
        "{text}"
    );
}

#[test]
fn fixed_polling_paces_checks() {
    let mut checks = 0;
    let _ = Wait::new()
        .timeout(Duration::from_millis(50))
        .polling(Polling::Every(Duration::from_millis(20)))
        .until(|| {
            checks += 1;
            false
        });
    // At 0, 20, 40 and the clipped check at 50 ms; a slow machine may do fewer.
    assert!((2..=5).contains(&checks), "{checks}");
    let mut zero_interval_checks = 0u64;
    let _ = Wait::new()
        .timeout(Duration::from_millis(5))
        .polling(Polling::Every(Duration::ZERO))
        .until(|| {
            zero_interval_checks += 1;
            false
        });
    assert!(zero_interval_checks >= 2);
}

#[test]
fn holds_for_passes_and_fails_at_the_first_broken_check() {
    Wait::new()
        .holds_for(Duration::from_millis(20), || true)
        .unwrap();
    let mut n = 0;
    let error = Wait::new()
        .describe("queue stays empty")
        .holds_for(Duration::from_secs(60), || {
            n += 1;
            n < 4
        })
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("queue stays empty: stopped holding after"),
        "{text}"
    );
    assert!(text.contains("(check 4)"), "{text}");
    Wait::new().holds_for(Duration::ZERO, || true).unwrap();
}

#[test]
#[should_panic(expected = "assertion failed: `1 + 1 == 3`: did not become true within")]
fn assert_eventually_quotes_the_expression() {
    assert_eventually!(1 + 1 == 3, Duration::from_millis(10));
}

#[test]
#[should_panic(
    expected = "assertion failed: `counter.fetch_add(1, Ordering::SeqCst) < 2`: stopped holding"
)]
fn assert_always_quotes_the_expression() {
    let counter = AtomicU32::new(0);
    assert_always!(
        counter.fetch_add(1, Ordering::SeqCst) < 2,
        Duration::from_secs(60)
    );
}

/// Run by `timeout_scale_comes_from_the_environment` in a child process.
#[test]
#[ignore = "run in a child process with IRIS_TIMEOUT_SCALE set"]
fn probe_timeout_scale() {
    let expected: f64 = std::env::var("EXPECTED_SCALE").unwrap().parse().unwrap();
    assert_eq!(iris::timeout_scale(), expected);
    assert_eq!(
        iris::scaled(Duration::from_secs(2)),
        Duration::from_secs_f64(2.0 * expected)
    );
    assert_eq!(iris::scaled(Duration::MAX), Duration::MAX);
}

#[test]
fn timeout_scale_comes_from_the_environment() {
    let refused = ["bogus", "-2", "0", "NaN", "inf", "1e-320", "1e300"];
    for (value, expected) in [("3", "3"), ("0.5", "0.5")]
        .into_iter()
        .chain(refused.iter().map(|v| (*v, "1")))
    {
        // Without --nocapture, as a user runs it, one test at a time: the warning must
        // still be seen.
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "condition::probe_timeout_scale",
                "--test-threads=1",
            ])
            .env("IRIS_TIMEOUT_SCALE", value)
            .env("EXPECTED_SCALE", expected)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "IRIS_TIMEOUT_SCALE={value}: {stdout}{stderr}"
        );
        assert!(stdout.contains("1 passed"), "the probe ran: {stdout}");
        let warned = stderr.contains(&format!("iris: ignoring IRIS_TIMEOUT_SCALE={value:?}"));
        assert_eq!(warned, refused.contains(&value), "{value}: {stderr}");
    }
}
