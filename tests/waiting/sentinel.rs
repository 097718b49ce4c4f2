use std::path::PathBuf;
#[cfg(feature = "rstest")]
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(feature = "rstest")]
use iris::fixtures::{sentinel, TempSentinel};
use iris::{Detection, SentinelError, SentinelFile, StopToken, ThreadContainer};
#[cfg(feature = "rstest")]
use rstest::rstest;

use crate::PATIENCE;

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Signals `sentinel` from a managed thread once `go` is stopped.
fn signal_later(app: &ThreadContainer, sentinel: &SentinelFile, go: &StopToken) {
    let (sentinel, go) = (sentinel.clone(), go.clone());
    app.spawn("signaller", move |_stop| {
        go.wait_timeout(PATIENCE);
        sentinel.signal().unwrap();
    });
}

#[test]
fn a_signal_from_another_thread_wakes_the_wait() {
    let dir = temp();
    let ready = SentinelFile::new(dir.path().join("ready"));
    assert!(!ready.is_set());
    let app = ThreadContainer::new("app");
    let go = StopToken::new();
    signal_later(&app, &ready, &go);
    go.stop();
    ready.wait(PATIENCE).unwrap();
    assert!(ready.is_set());
    ready.reset().unwrap();
    ready.reset().unwrap(); // a missing file is fine
    assert!(!ready.is_set());
    app.stop(PATIENCE).unwrap();
}

#[test]
fn nested_missing_parents_are_watched_as_they_appear() {
    let dir = temp();
    let deep = SentinelFile::new(dir.path().join("a/b/c/ready"));
    let app = ThreadContainer::new("app");
    let go = StopToken::new();
    let d = dir.path().to_path_buf();
    let (s, g) = (deep.clone(), go.clone());
    app.spawn("builder", move |_stop| {
        g.wait_timeout(PATIENCE);
        // One level at a time, as a slow setup script would.
        std::fs::create_dir(d.join("a")).unwrap();
        std::fs::create_dir(d.join("a/b")).unwrap();
        s.signal().unwrap(); // creates a/b/c, then the file
    });
    go.stop();
    deep.wait(PATIENCE).unwrap();
    app.stop(PATIENCE).unwrap();
}

#[test]
fn a_rename_into_place_wakes_the_wait() {
    let dir = temp();
    let target = SentinelFile::new(dir.path().join("config.json"));
    let app = ThreadContainer::new("app");
    let go = StopToken::new();
    let (d, g) = (dir.path().to_path_buf(), go.clone());
    app.spawn("writer", move |_stop| {
        g.wait_timeout(PATIENCE);
        std::fs::write(d.join("config.json.tmp"), b"{}").unwrap();
        std::fs::rename(d.join("config.json.tmp"), d.join("config.json")).unwrap();
    });
    go.stop();
    target.wait(PATIENCE).unwrap();
    assert_eq!(std::fs::read(target.path()).unwrap(), b"{}");
    app.stop(PATIENCE).unwrap();
}

#[test]
fn a_child_process_can_signal() {
    let dir = temp();
    let ready = SentinelFile::new(dir.path().join("child/ready"));
    let mut child = std::process::Command::new("sh")
        .args(["-c", "mkdir -p \"$(dirname \"$1\")\" && touch \"$1\"", "sh"])
        .arg(ready.path())
        .spawn()
        .expect("sh is available");
    ready.wait(PATIENCE).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn five_hundred_concurrent_waits_all_wake() {
    let dir = temp();
    let app = ThreadContainer::new("app");
    let sentinels: Vec<_> = (0..500)
        .map(|i| SentinelFile::new(dir.path().join(format!("s{}/ready-{i}", i % 7))))
        .collect();
    let waits: Vec<_> = sentinels
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let s = s.clone();
            app.spawn(format!("waiter-{i}"), move |_stop| s.wait(PATIENCE))
        })
        .collect();
    for s in &sentinels {
        s.signal().unwrap();
    }
    for w in waits {
        w.join().unwrap().unwrap();
    }
    app.stop(PATIENCE).unwrap();
}

#[test]
fn the_forced_polling_fallback_works() {
    let dir = temp();
    let ready = SentinelFile::new(dir.path().join("x/ready")).with_detection(Detection::Polling);
    let app = ThreadContainer::new("app");
    let go = StopToken::new();
    signal_later(&app, &ready, &go);
    go.stop();
    ready.wait(PATIENCE).unwrap();
    let never = SentinelFile::new(dir.path().join("never")).with_detection(Detection::Polling);
    assert!(matches!(
        never.wait(Duration::from_millis(20)),
        Err(SentinelError::NotSignalled { .. })
    ));
    app.stop(PATIENCE).unwrap();
}

/// Run by `the_environment_forces_polling` in a child process.
#[test]
#[ignore = "run in a child process with IRIS_SENTINEL_POLLING=1"]
fn probe_polling_from_environment() {
    let dir = temp();
    let s = SentinelFile::new(dir.path().join("ready"));
    let signaller = {
        let s = s.clone();
        std::thread::spawn(move || s.signal().unwrap())
    };
    s.wait(PATIENCE).unwrap();
    signaller.join().unwrap();
}

#[test]
fn the_environment_forces_polling() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "sentinel::probe_polling_from_environment",
        ])
        .env("IRIS_SENTINEL_POLLING", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}"
    );
}

#[test]
fn timeouts_zero_and_max() {
    let dir = temp();
    let s = SentinelFile::new(dir.path().join("ready"));
    let begun = Instant::now();
    let error = s.wait(Duration::ZERO).unwrap_err();
    assert!(begun.elapsed() < Duration::from_secs(1));
    assert!(
        error.to_string().contains("was not signalled within 0ns"),
        "{error}"
    );
    s.signal().unwrap();
    s.wait(Duration::ZERO).unwrap();
    s.wait(Duration::MAX).unwrap();
}

#[test]
fn a_timeout_names_the_path() {
    let dir = temp();
    let s = SentinelFile::new(dir.path().join("slow"));
    let error = s.wait(Duration::from_millis(30)).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("slow") && text.contains("not signalled within 30ms"),
        "{text}"
    );
}

#[test]
fn a_directory_at_the_path_is_an_error_not_a_hang() {
    let dir = temp();
    let s = SentinelFile::new(dir.path());
    let error = s.wait(PATIENCE).unwrap_err();
    assert!(matches!(error, SentinelError::Io { .. }), "{error}");
    assert!(error.to_string().contains("existing directory"), "{error}");
    assert!(!s.is_set());
    assert!(s.signal().is_err());
}

#[test]
fn a_parent_that_is_a_file_is_an_error_not_a_hang() {
    let dir = temp();
    std::fs::write(dir.path().join("plain"), b"").unwrap();
    let s = SentinelFile::new(dir.path().join("plain/sub/ready"));
    let error = s.wait(PATIENCE).unwrap_err();
    assert!(
        error.to_string().contains("is a file, not a directory"),
        "{error}"
    );
    let signal_error = s.signal().unwrap_err();
    assert!(
        signal_error.to_string().contains("cannot signal sentinel"),
        "{signal_error}"
    );
    let polled = s
        .clone()
        .with_detection(Detection::Polling)
        .wait(PATIENCE)
        .unwrap_err();
    assert!(matches!(polled, SentinelError::Io { .. }), "{polled}");
}

#[cfg(unix)] // permission bits
#[test]
fn an_unreadable_parent_is_an_error_when_permissions_apply() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let s = SentinelFile::new(locked.join("ready"));
    let outcome = s.wait(Duration::from_millis(50));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    if std::fs::read_dir("/root").is_ok() && is_root() {
        // Root ignores permissions: the wait is simply an ordinary timeout.
        assert!(matches!(outcome, Err(SentinelError::NotSignalled { .. })));
    } else {
        let error = outcome.unwrap_err();
        assert!(matches!(error, SentinelError::Io { .. }), "{error}");
    }
}

#[cfg(unix)]
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[cfg(unix)] // a path of arbitrary bytes
#[test]
fn non_utf8_paths_work() {
    use std::os::unix::ffi::OsStrExt;
    let dir = temp();
    let name = std::ffi::OsStr::from_bytes(b"ready-\xff\xfe");
    let s = SentinelFile::new(dir.path().join(name));
    let app = ThreadContainer::new("app");
    let go = StopToken::new();
    signal_later(&app, &s, &go);
    go.stop();
    s.wait(PATIENCE).unwrap();
    let error = SentinelFile::new(dir.path().join(name).join("x"))
        .wait(Duration::ZERO)
        .unwrap_err();
    assert!(error.to_string().contains("ready-"), "{error}");
    app.stop(PATIENCE).unwrap();
}

#[test]
fn relative_paths_work() {
    let name = PathBuf::from(format!("target/iris-relative-{}", std::process::id()));
    let s = SentinelFile::new(name.join("ready"));
    let t = s.clone();
    let signaller = std::thread::spawn(move || t.signal().unwrap());
    s.wait(PATIENCE).unwrap();
    signaller.join().unwrap();
    std::fs::remove_dir_all(&name).unwrap();
}

#[cfg(feature = "rstest")]
#[rstest]
fn the_rstest_fixture_gives_a_fresh_unsignalled_sentinel(sentinel: TempSentinel) {
    assert!(!sentinel.is_set());
    assert!(sentinel.path().starts_with(sentinel.dir()));
    let s: SentinelFile = (*sentinel).clone();
    let handle = Arc::new(s);
    let h = handle.clone();
    std::thread::spawn(move || h.signal().unwrap())
        .join()
        .unwrap();
    sentinel.wait(PATIENCE).unwrap();
}
