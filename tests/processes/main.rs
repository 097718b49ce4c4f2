//! Managed child processes, on real processes: sh, sleep, and this test binary
//! itself as a helper (see `helper`).
#![cfg(unix)]

#[path = "../support/log_capture.rs"]
mod log_capture;

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use iris::{
    run_process, wait_for_condition, ProcessError, ProcessOptions, ProcessWaitError, Stream,
    ThreadContainer,
};

/// A generous bound for things that should take milliseconds (slow CI machines).
const PATIENCE: Duration = Duration::from_secs(10);

fn sh(script: &str) -> Command {
    let mut command = Command::new("sh");
    command.args(["-c", script]);
    command
}

/// Whether process `pid` is gone (or a zombie about to be reaped by init).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// The helper: this test binary, run as a child with `IRIS_HELPER` set, prints what
/// it is told and exits. Ignored in normal runs.
#[test]
#[ignore = "the child-process helper; run by the other tests"]
fn helper() {
    let lines: usize = std::env::var("IRIS_HELPER_LINES").unwrap().parse().unwrap();
    for i in 0..lines {
        println!("helper line {i}");
    }
    eprintln!("helper done");
}

fn helper_command(lines: usize) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--ignored",
            "--exact",
            "helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("IRIS_HELPER_LINES", lines.to_string());
    command
}

#[test]
fn output_of_a_helper_binary_is_captured_as_lines_from_both_streams() {
    let app = ThreadContainer::new("app");
    let helper = app.spawn_process("helper", helper_command(3)).unwrap();
    let done = helper
        .wait_for_line(|l| l.text.ends_with("helper done"), PATIENCE)
        .unwrap();
    assert_eq!(done.stream, Stream::Stderr);
    assert!(helper.wait_exit(PATIENCE).unwrap().success());
    let output = helper.output(PATIENCE).unwrap();
    // libtest's own "test helper ... " may share a line with the first output.
    let mine: Vec<_> = output
        .lines()
        .iter()
        .filter(|l| l.text.contains("helper line"))
        .collect();
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|l| l.stream == Stream::Stdout));
    assert!(mine.windows(2).all(|w| w[0].seq < w[1].seq), "in order");
    assert_eq!(mine[2].text, "helper line 2");
    app.stop(PATIENCE).unwrap();
}

#[test]
fn a_server_is_awaited_by_its_line_and_stopped_with_its_container() {
    let app = ThreadContainer::new("app");
    let server = app
        .spawn_process(
            "server",
            sh("echo booting; sleep 0.05; echo listening on 7000; exec sleep 1000"),
        )
        .unwrap();
    let line = server
        .wait_for_line(|l| l.text.contains("listening on"), PATIENCE)
        .unwrap();
    assert_eq!(line.text, "listening on 7000");
    assert!(server.is_running());
    assert!(
        server.command_line().starts_with("sh -c 'echo booting;"),
        "{}",
        server.command_line()
    );
    let names: Vec<_> = app
        .alive_threads()
        .iter()
        .map(|t| t.name().to_string())
        .collect();
    assert!(names.contains(&"server".to_string()), "{names:?}");
    app.stop(PATIENCE).unwrap();
    let status = server.exit_status().expect("reaped by the stop");
    assert_eq!(status.signal(), Some(15), "SIGTERM was enough: {status:?}");
    assert!(is_gone(server.pid()));
}

#[test]
fn a_line_printed_before_the_wait_still_counts() {
    let app = ThreadContainer::new("app");
    let p = app
        .spawn_process("early", sh("echo ready; exec sleep 1000"))
        .unwrap();
    assert!(p.wait_for_line(|l| l.text == "ready", PATIENCE).is_ok());
    // Ask again after the fact: the line is in the buffer.
    assert!(p
        .wait_for_line(|l| l.text == "ready", Duration::ZERO)
        .is_ok());
    app.stop(PATIENCE).unwrap();
}

#[test]
fn a_program_that_is_missing_or_not_executable_is_a_clear_error() {
    let app = ThreadContainer::new("app");
    let error = app
        .spawn_process("ghost", Command::new("iris-no-such-program"))
        .unwrap_err();
    assert!(matches!(error, ProcessError::Start { .. }));
    assert_eq!(
        error.to_string(),
        "cannot start `iris-no-such-program`: program not found"
    );

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let error = app
        .spawn_process("noexec", Command::new(&script))
        .unwrap_err();
    assert!(error.to_string().contains("permission denied"), "{error}");
    assert!(!app.is_alive(), "no thread was left behind");
    app.stop(PATIENCE).unwrap();
}

#[test]
fn a_child_that_exits_at_once_ends_the_line_wait_early() {
    let app = ThreadContainer::new("app");
    let p = app.spawn_process("quick", sh("exit 7")).unwrap();
    assert_eq!(p.wait_exit(PATIENCE).unwrap().code(), Some(7));
    let error = p.wait_for_line(|_| true, PATIENCE).unwrap_err();
    assert!(
        matches!(error, ProcessWaitError::OutputEnded { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("code 7"), "{error}");
    assert!(app.wait_timeout(PATIENCE), "its threads end on their own");
    app.stop(PATIENCE).unwrap();
}

#[test]
fn a_child_ignoring_sigterm_is_killed_after_the_grace_period() {
    let app = ThreadContainer::new("app");
    let p = app
        .spawn_process_with(
            "stubborn",
            sh("trap '' TERM; echo ready; while :; do sleep 1; done"),
            ProcessOptions::new().grace(Duration::from_millis(200)),
        )
        .unwrap();
    p.wait_for_line(|l| l.text == "ready", PATIENCE).unwrap();
    let status = p.terminate(PATIENCE).unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "SIGKILL after the grace: {status:?}"
    );
    app.stop(PATIENCE).unwrap();
}

#[test]
fn a_grandchild_holding_stdout_is_killed_and_the_readers_end() {
    let app = ThreadContainer::new("app");
    let p = app
        .spawn_process("parent", sh("sleep 1000 & echo $!"))
        .unwrap();
    let line = p.wait_for_line(|l| !l.text.is_empty(), PATIENCE).unwrap();
    let grandchild: u32 = line.text.trim().parse().unwrap();
    assert!(
        p.wait_exit(PATIENCE).unwrap().success(),
        "the child itself exits"
    );
    assert!(
        p.output(Duration::from_millis(50)).is_err(),
        "but the grandchild keeps the output open"
    );
    app.stop(PATIENCE).unwrap();
    assert!(!app.is_alive(), "the readers ended");
    wait_for_condition(|| is_gone(grandchild), PATIENCE)
        .expect("the grandchild was killed with the group");
}

#[test]
fn binary_output_is_decoded_lossily() {
    let output = run_process(sh(r"printf 'ok\n\377\376bin\r\nlast'"), PATIENCE).unwrap();
    let texts: Vec<_> = output.lines().iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["ok", "\u{FFFD}\u{FFFD}bin", "last"]);
}

#[test]
fn a_huge_line_without_newline_is_cut() {
    let output = run_process(sh("head -c 10000000 /dev/zero | tr '\\0' a"), PATIENCE).unwrap();
    assert_eq!(output.line_count(), 1);
    let text = &output.lines()[0].text;
    assert!(text.len() < 70_000, "bounded: {} bytes", text.len());
    assert!(
        text.ends_with(&format!("…[cut {} bytes]", 10_000_000 - 65_536)),
        "{}",
        &text[text.len() - 40..]
    );
}

#[test]
fn captured_lines_are_bounded_by_the_ring_buffer() {
    let app = ThreadContainer::new("app");
    let p = app
        .spawn_process_with(
            "chatty",
            sh("yes 0123456789 | head -n 200000"),
            ProcessOptions::new().capture_bytes(10_000).log_lines(false),
        )
        .unwrap();
    let output = p.output(PATIENCE).unwrap();
    let kept: usize = output.lines().iter().map(|l| l.text.len()).sum();
    assert!(kept <= 10_000, "{kept}");
    assert_eq!(output.dropped_lines + output.line_count() as u64, 200_000);
    assert_eq!(output.lines().last().unwrap().seq, 199_999);
    app.stop(PATIENCE).unwrap();
}

#[test]
fn stop_racing_with_natural_exit_is_clean() {
    for _ in 0..20 {
        let app = ThreadContainer::new("race");
        let p = app.spawn_process("brief", sh("exit 0")).unwrap();
        app.stop(PATIENCE).unwrap();
        assert!(p.exit_status().is_some(), "always reaped");
        assert!(!app.is_alive());
    }
}

#[test]
fn a_stopped_container_refuses_new_processes() {
    let app = ThreadContainer::new("app");
    app.stop(PATIENCE).unwrap();
    let error = app.spawn_process("late", sh("true")).unwrap_err();
    assert!(matches!(error, ProcessError::Container(_)), "{error}");
}

#[test]
fn run_process_returns_status_and_output_and_kills_on_timeout() {
    let output = run_process(sh("echo out; echo err >&2; exit 3"), PATIENCE).unwrap();
    assert_eq!(output.status.unwrap().code(), Some(3));
    assert_eq!(output.text(Stream::Stdout), "out");
    assert_eq!(output.text(Stream::Stderr), "err");
    assert!(!output.success());

    let error = run_process(
        sh("echo started; echo $$; exec sleep 1000"),
        Duration::from_secs(1),
    )
    .unwrap_err();
    let ProcessError::TimedOut { output, .. } = &error else {
        panic!("expected a timeout: {error}");
    };
    assert!(
        error.to_string().contains("did not exit within 1s"),
        "{error}"
    );
    assert_eq!(output.lines()[0].text, "started");
    let pid: u32 = output.lines()[1].text.parse().unwrap();
    wait_for_condition(|| is_gone(pid), PATIENCE).expect("killed");
}

/// The process's peak resident memory, from /proc.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn a_child_printing_100_mb_does_not_grow_memory_past_the_cap() {
    let before = peak_rss_bytes();
    let app = ThreadContainer::new("app");
    let p = app
        .spawn_process_with(
            "firehose",
            sh("yes \"$(printf '%0100d' 0)\" | head -c 100000000"),
            ProcessOptions::new()
                .capture_bytes(1 << 20)
                .log_lines(false),
        )
        .unwrap();
    let output = p.output(Duration::from_secs(120)).unwrap();
    assert!(output.success());
    assert!(output.dropped_lines > 900_000, "{}", output.dropped_lines);
    let grown = peak_rss_bytes().saturating_sub(before);
    // 1 MiB of lines plus their bookkeeping. Keeping everything would take over
    // 160 MiB (a million lines of 101 bytes, plus a record each); the margin covers
    // what tests running beside this one allocate (a panic's backtrace alone can take
    // tens of MiB to symbolize).
    assert!(grown < 80 << 20, "peak memory grew by {} MiB", grown >> 20);
    app.stop(PATIENCE).unwrap();
}

#[test]
fn zero_and_max_durations_work_for_process_waits() {
    let app = ThreadContainer::new("app");
    let p = app
        .spawn_process_with(
            "sleeper",
            sh("echo up; exec sleep 1000"),
            ProcessOptions::new().grace(Duration::ZERO),
        )
        .unwrap();
    assert!(matches!(
        p.wait_exit(Duration::ZERO),
        Err(ProcessWaitError::TimedOut { .. })
    ));
    assert!(p.wait_for_line(|l| l.text == "up", Duration::MAX).is_ok());
    assert!(p
        .wait_for_line(|l| l.text == "never", Duration::ZERO)
        .is_err());
    assert!(p.output(Duration::ZERO).is_err());
    // A zero grace: SIGTERM, then SIGKILL at once unless it is already gone.
    let status = p.terminate(Duration::MAX).unwrap();
    assert!(
        status.signal() == Some(15) || status.signal() == Some(9),
        "{status:?}"
    );
    assert!(p.output(Duration::MAX).is_ok());
    app.stop(Duration::MAX).unwrap();
}

#[test]
fn lines_are_logged_with_the_process_name_until_the_log_budget_is_spent() {
    let (logs, _guard) = log_capture::capture_logs();
    let app = ThreadContainer::new("app");
    let p = app
        .spawn_process_with(
            "talker",
            sh("echo first; echo second; echo third"),
            ProcessOptions::new().log_bytes(8),
        )
        .unwrap();
    let output = p.output(PATIENCE).unwrap();
    assert_eq!(
        output.line_count(),
        3,
        "capture is not limited by the log budget"
    );
    app.stop(PATIENCE).unwrap();
    let text = logs.text();
    assert!(
        text.contains("first process=talker stream=\"stdout\""),
        "{text}"
    );
    assert!(
        !text.contains("second") && !text.contains("third"),
        "{text}"
    );
    assert_eq!(text.matches("no longer logged").count(), 1, "{text}");
}

/// Starts a child whose own child leaves the process group with `setsid` and prints
/// its pid; returns the container, the process and the escapee's pid.
fn spawn_with_escapee(script: &str) -> (ThreadContainer, iris::ManagedProcess, u32) {
    let app = ThreadContainer::new("escape");
    let process = app
        .spawn_process_with(
            "parent",
            sh(script),
            ProcessOptions::new().grace(Duration::from_secs(1)),
        )
        .unwrap();
    let line = process
        .wait_for_line(|l| l.text.starts_with("escapee "), PATIENCE)
        .unwrap();
    let pid: u32 = line.text["escapee ".len()..].trim().parse().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_ne!(
        fields[2],
        process.pid().to_string(),
        "the escapee really is in another process group"
    );
    (app, process, pid)
}

#[test]
fn a_descendant_that_left_the_group_with_setsid_is_killed_on_stop() {
    // The escapee keeps the captured output open, as a daemon started from a script
    // often does; a group kill alone would leave it running and the readers waiting.
    let (app, _process, escapee) =
        spawn_with_escapee("setsid sh -c 'echo escapee $$; exec sleep 1000' & exec sleep 1000");
    app.stop(PATIENCE)
        .expect("the whole tree ends, escapee included");
    wait_for_condition(|| is_gone(escapee), PATIENCE).expect("the escapee was killed");
}

#[test]
fn an_escapee_whose_parent_exited_first_is_still_killed_on_stop() {
    // The parent exits on its own; the escapee is re-parented out of the tree, and
    // only the supervisor's earlier walks know about it.
    let (app, process, escapee) =
        spawn_with_escapee("setsid sh -c 'echo escapee $$; exec sleep 1000' & sleep 0.3; exit 0");
    process.wait_exit(PATIENCE).unwrap();
    assert!(!is_gone(escapee), "it outlived its parent");
    assert!(
        app.is_alive(),
        "a process whose escaped descendant lives is not finished"
    );
    app.stop(PATIENCE)
        .expect("the escapee ends with the container");
    wait_for_condition(|| is_gone(escapee), PATIENCE).expect("the escapee was killed");
}

#[test]
fn an_escapee_that_ignores_sigterm_gets_sigkill() {
    let (app, _process, escapee) = spawn_with_escapee(
        "setsid sh -c 'trap \"\" TERM; echo escapee $$; while :; do sleep 1; done' & exec sleep 1000",
    );
    app.stop(PATIENCE).expect("SIGKILL after the grace period");
    wait_for_condition(|| is_gone(escapee), PATIENCE).expect("the escapee was killed");
}
