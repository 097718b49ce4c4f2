//! Running a scenario (an `#[ignore]`d test that misbehaves on purpose) in a child
//! process of the test binary, as a user's `cargo test` would, and reading what the
//! user would read.

use std::process::{Command, Output};

/// Runs `scenarios::NAME` of this test binary in a child process; `owns_process`
/// makes it look like nextest's process-per-test mode.
pub fn run(name: &str, owns_process: bool, env: &[(&str, &str)]) -> (bool, String) {
    let (passed, text) = run_with_args(
        &["--ignored", "--exact", &format!("scenarios::{name}")],
        owns_process,
        env,
    );
    assert!(text.contains("running 1 test"), "the scenario ran: {text}");
    (passed, text)
}

/// Runs this test binary with `args`; returns whether it passed and its stdout
/// followed by its stderr.
pub fn run_with_args(args: &[&str], owns_process: bool, env: &[(&str, &str)]) -> (bool, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command(args, owns_process, env).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.success(), text)
}

/// [`run`] with stdout and stderr written to one file, so the text is in the order
/// it was written: what a terminal shows.
#[allow(dead_code)] // used by some of the binaries that include this file
pub fn run_interleaved(name: &str, owns_process: bool, env: &[(&str, &str)]) -> (bool, String) {
    let file = tempfile::tempfile().unwrap();
    let status = command(
        &["--ignored", "--exact", &format!("scenarios::{name}")],
        owns_process,
        env,
    )
    .stdout(file.try_clone().unwrap())
    .stderr(file.try_clone().unwrap())
    .status()
    .unwrap();
    let mut file = file;
    let mut text = String::new();
    use std::io::{Read, Seek};
    file.rewind().unwrap();
    file.read_to_string(&mut text).unwrap();
    assert!(text.contains("running 1 test"), "the scenario ran: {text}");
    (status.success(), text)
}

/// The command that runs this test binary with `args`, as a user's runner would.
fn command(args: &[&str], owns_process: bool, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env_remove("NEXTEST_EXECUTION_MODE")
        .env_remove("RUST_TEST_THREADS")
        .env_remove("IRIS_LEAKS")
        .env_remove("IRIS_LOG")
        .env_remove("RUST_LOG")
        .env_remove("IRIS_LEAK_REPORT")
        .env_remove("IRIS_THREAD_PANICS")
        .env_remove("IRIS_TASK_PANICS")
        .env_remove("IRIS_DEFAULT_IGNORES")
        .env_remove("IRIS_STRESS")
        .env_remove("IRIS_CHAOS");
    if owns_process {
        command.env("NEXTEST_EXECUTION_MODE", "process-per-test");
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// [`run`] with `IRIS_LEAK_REPORT` pointed at a fresh file; also returns the JSON
/// lines the scenario wrote there (none when it wrote nothing).
#[allow(dead_code)] // the leaks binary checks appending to one file across runs instead
pub fn run_collecting_json(
    name: &str,
    owns_process: bool,
    env: &[(&str, &str)],
) -> (bool, String, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leaks.jsonl");
    let mut env = env.to_vec();
    env.push(("IRIS_LEAK_REPORT", path.to_str().unwrap()));
    let (passed, out) = run(name, owns_process, &env);
    let lines = std::fs::read_to_string(&path)
        .map(|text| {
            text.lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect()
        })
        .unwrap_or_default();
    (passed, out, lines)
}

/// `FILE:LINE:` of the first line of `file` (relative to the package) containing
/// `pattern`, as a spawn location or a panic location is printed.
pub fn site_in(file: &str, pattern: &str) -> String {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(path).unwrap();
    let index = source
        .lines()
        .position(|l| l.contains(pattern))
        .unwrap_or_else(|| panic!("{pattern:?} is in {file}"));
    format!("{file}:{}:", index + 1)
}
