//! The test harness: [`TestScope`], the guard behind `#[iris_test]`, and
//! [`run_test`], what the attribute expands to.
//!
//! Invariants:
//! - A scope opens a fresh registry named `test:NAME` *before* the test body runs and
//!   snapshots the process's OS threads at the same moment; on finish it stops that
//!   registry (deadline `stop_timeout`), then gives threads born during the test a
//!   grace period (`linger`) that ends as soon as they are gone.
//! - The unmanaged-thread check only runs when the test owns the process (nextest's
//!   process-per-test mode, or one test thread); otherwise other tests' threads would
//!   be blamed, so it is skipped and the report says so.
//! - Iris's own helper threads (the file watcher, the watchdog) are never reported.
//! - Nothing is swallowed and nothing replaces the test's own failure: a test that
//!   panicked keeps its panic (so `#[should_panic(expected = ..)]` still matches) and
//!   the leak report goes to stderr beside it.
//! - Warnings go to the process's real stderr, not through the test harness's
//!   captured output, so they are visible for passing tests too.

use std::collections::HashSet;
use std::io::Write;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use super::report::{LeakReport, LeakedProcess, Straggler, UnmanagedCheck, UnmanagedThread};
use crate::os::processes;
use crate::os::threads::{self as os_threads, OsThread};
use crate::sync::completion::{Completion, NoValue};
use crate::sync::deadline::Deadline;
use crate::sync::stop_token::StopToken;
use crate::threads::context;
use crate::threads::managed_thread::{current_os_tid, managed_by_tid};
use crate::threads::registry::{thread_registry_scope, RegistryScope, ThreadRegistry};
use crate::wait::condition::Backoff;

/// What to do when a test leaks a thread or a background thread panicked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeakPolicy {
    /// Fail the test with the report (the default).
    Fail,
    /// Print the report to stderr and let the test pass.
    Warn,
    /// Do not check.
    Ignore,
}

impl FromStr for LeakPolicy {
    type Err = String;
    fn from_str(text: &str) -> Result<LeakPolicy, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "fail" => Ok(LeakPolicy::Fail),
            "warn" => Ok(LeakPolicy::Warn),
            "ignore" => Ok(LeakPolicy::Ignore),
            other => Err(format!(
                "unknown leak policy {other:?}: expected fail, warn or ignore"
            )),
        }
    }
}

/// The policy forced for the whole run by `IRIS_LEAKS`, if set (read once; a bad
/// value is reported on stderr and ignored).
fn policy_override() -> Option<LeakPolicy> {
    static OVERRIDE: OnceLock<Option<LeakPolicy>> = OnceLock::new();
    *OVERRIDE.get_or_init(|| {
        let text = std::env::var("IRIS_LEAKS").ok()?;
        match text.parse() {
            Ok(policy) => Some(policy),
            Err(error) => {
                real_stderr(&format!("iris: ignoring IRIS_LEAKS: {error}"));
                None
            }
        }
    })
}

/// Options of a [`TestScope`]; the `#[iris_test]` options map onto these.
#[derive(Clone, Debug)]
pub struct TestOptions {
    name: String,
    stop_timeout: Duration,
    linger: Duration,
    leaks: LeakPolicy,
    timeout: Option<Duration>,
}

impl TestOptions {
    /// Defaults: `stop_timeout` 5 s, `linger` 1 s, `leaks` fail, no `timeout`.
    ///
    /// `fallback_name` names the test when the running thread does not: the test
    /// harnesses name each test's thread after the test (including an rstest case's
    /// name), and that name is preferred.
    pub fn new(fallback_name: impl Into<String>) -> TestOptions {
        let fallback = fallback_name.into();
        let name = match std::thread::current().name() {
            Some(name) if name != "main" => name.to_string(),
            _ => fallback,
        };
        TestOptions {
            name,
            stop_timeout: Duration::from_secs(5),
            linger: Duration::from_secs(1),
            leaks: LeakPolicy::Fail,
            timeout: None,
        }
    }

    /// How long the test's threads get to exit once stopped.
    pub fn stop_timeout(mut self, timeout: Duration) -> TestOptions {
        self.stop_timeout = timeout;
        self
    }

    /// How long threads born during the test get to disappear after it.
    pub fn linger(mut self, linger: Duration) -> TestOptions {
        self.linger = linger;
        self
    }

    /// What to do with findings (`IRIS_LEAKS` overrides it).
    pub fn leaks(mut self, policy: LeakPolicy) -> TestOptions {
        self.leaks = policy;
        self
    }

    /// A watchdog: past `timeout`, the test's live threads are dumped (and, under
    /// [`run_test_with_timeout`], the test fails instead of hanging).
    pub fn timeout(mut self, timeout: Duration) -> TestOptions {
        self.timeout = Some(timeout);
        self
    }

    /// The test's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The policy in force: `IRIS_LEAKS` if set, else the one given.
    pub fn policy(&self) -> LeakPolicy {
        policy_override().unwrap_or(self.leaks)
    }
}

/// Whether this test has the process to itself, so that every new OS thread is its.
fn process_ownership() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err("only supported on Linux".into());
    }
    if std::env::var("NEXTEST_EXECUTION_MODE").is_ok_and(|m| m == "process-per-test") {
        return Ok(());
    }
    let args: Vec<String> = std::env::args().collect();
    let one_thread = std::env::var("RUST_TEST_THREADS").is_ok_and(|n| n.trim() == "1")
        || args.iter().any(|a| a == "--test-threads=1")
        || args
            .windows(2)
            .any(|w| w[0] == "--test-threads" && w[1] == "1");
    if one_thread {
        Ok(())
    } else {
        Err(
            "the process may be shared with other tests; run under cargo nextest or with --test-threads=1"
                .into(),
        )
    }
}

/// The guard of one test: a fresh registry scope plus a snapshot of the process's
/// threads, checked when the test ends.
///
/// `#[iris_test]` uses it for you; use it directly in a hand-written harness or an
/// rstest fixture. Finish it with [`finish`](Self::finish) to get the result; if it
/// is dropped unfinished it checks anyway, and panics with the report when the
/// policy is `Fail` (unless the thread is already panicking: then the report goes to
/// stderr and the original panic stays).
///
/// ```
/// use std::time::Duration;
/// use iris::{get_thread_registry, TestOptions, TestScope};
///
/// let scope = TestScope::begin(TestOptions::new("doc::example"));
/// get_thread_registry().spawn("worker", |stop| stop.wait());
/// scope.finish().expect("the worker honours its stop token");
/// ```
pub struct TestScope {
    options: TestOptions,
    // Field order is drop order: the registry is stopped while the log guard still
    // routes its threads' last words to the test's output.
    scope: Option<RegistryScope>,
    before: Result<Snapshot, String>,
    watchdog: Option<StopToken>,
    _logs: Option<tracing::subscriber::DefaultGuard>,
}

impl TestScope {
    /// Opens the scope: installs a fresh registry `test:NAME` on this thread and
    /// snapshots the process's threads. When no `tracing` subscriber is installed,
    /// installs one (for this thread and the managed threads it spawns) that writes
    /// to the test's captured output, at the level given by `IRIS_LOG` (default
    /// `info`).
    pub fn begin(options: TestOptions) -> TestScope {
        let logs = install_test_logger();
        let before = match options.policy() {
            LeakPolicy::Ignore => Err("leak checks are off (leaks = \"ignore\")".into()),
            _ => process_ownership().and_then(|()| {
                Snapshot::take().ok_or_else(|| "cannot read /proc/self/task".to_string())
            }),
        };
        if let Err(why) = &before {
            tracing::debug!(test = %options.name, "iris: unmanaged-thread check skipped: {why}");
        }
        let scope = thread_registry_scope(format!("test:{}", options.name));
        let watchdog = options
            .timeout
            .map(|timeout| spawn_watchdog(options.name.clone(), timeout, (*scope).clone()));
        TestScope {
            options,
            scope: Some(scope),
            before,
            watchdog,
            _logs: logs,
        }
    }

    /// The test's registry.
    pub fn registry(&self) -> &ThreadRegistry {
        self.scope
            .as_ref()
            .expect("the scope is open until finished")
    }

    /// The options in force.
    pub fn options(&self) -> &TestOptions {
        &self.options
    }

    /// Ends the test: stops its registry, checks for leaks and background panics,
    /// and applies the policy. `Err` only under `Fail`; under `Warn` the report is
    /// printed to stderr and this returns `Ok`. With `IRIS_LEAK_REPORT=path`, findings
    /// are appended to `path` as one JSON line.
    // The report is built once per failing test; boxing it would only cost callers.
    #[allow(clippy::result_large_err)]
    pub fn finish(mut self) -> Result<(), LeakReport> {
        self.conclude()
    }

    /// Ends the test and returns what was found, applying no policy and printing
    /// nothing (for tools built on top).
    pub fn inspect(mut self) -> LeakReport {
        self.collect()
    }

    // The report is built once per failing test; boxing it would only cost callers.
    #[allow(clippy::result_large_err)]
    fn conclude(&mut self) -> Result<(), LeakReport> {
        let policy = self.options.policy();
        let report = self.collect();
        if report.is_clean() || policy == LeakPolicy::Ignore {
            return Ok(());
        }
        append_json(&report);
        match policy {
            LeakPolicy::Fail => Err(report),
            LeakPolicy::Warn | LeakPolicy::Ignore => {
                real_stderr(&format!(
                    "{report}\n  (leaks = \"warn\": the test still passes)"
                ));
                Ok(())
            }
        }
    }

    fn collect(&mut self) -> LeakReport {
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.stop();
        }
        let Some(scope) = self.scope.take() else {
            unreachable!("a scope is concluded once");
        };
        let (stragglers, panics) = match scope.close_with_timeout(self.options.stop_timeout) {
            Ok(()) => (Vec::new(), Vec::new()),
            Err(error) => (error.stragglers().to_vec(), error.panics().to_vec()),
        };
        let stragglers: Vec<Straggler> = stragglers
            .into_iter()
            .map(|info| Straggler {
                os: info.os_tid().and_then(OsThread::read),
                info,
            })
            .collect();
        let registry_path = format!("test:{}", self.options.name);
        let mut processes = managed_processes_left(&registry_path);
        // A process that will not die keeps its own threads (reaper, readers,
        // supervisor) alive: its one line says it all.
        let stragglers: Vec<Straggler> = stragglers
            .into_iter()
            .filter(|s| {
                !processes
                    .iter()
                    .any(|p| p.container.as_deref() == Some(s.info.container()))
            })
            .collect();
        let (unmanaged, unmanaged_check) = match &self.before {
            Ok(before) if self.options.policy() != LeakPolicy::Ignore => {
                let reported_tids: HashSet<u32> =
                    stragglers.iter().filter_map(|s| s.info.os_tid()).collect();
                let reported_pids: HashSet<u32> = processes.iter().map(|p| p.pid).collect();
                let (threads, children) = self.lingering(before, &reported_tids, &reported_pids);
                processes.extend(children);
                (threads, UnmanagedCheck::Checked)
            }
            Ok(_) => (
                Vec::new(),
                UnmanagedCheck::Skipped("leak checks are off".into()),
            ),
            Err(why) => (Vec::new(), UnmanagedCheck::Skipped(why.clone())),
        };
        LeakReport {
            test: self.options.name.clone(),
            stragglers,
            unmanaged,
            processes,
            panics,
            unmanaged_check,
        }
    }

    /// Threads and child processes born since `before` (other than Iris's helpers,
    /// this thread, and what is already reported) still alive after the grace
    /// period. The wait ends as soon as they are all gone; zombies never go by
    /// themselves, so they are not waited for.
    fn lingering(
        &self,
        before: &Snapshot,
        reported_tids: &HashSet<u32>,
        reported_pids: &HashSet<u32>,
    ) -> (Vec<UnmanagedThread>, Vec<LeakedProcess>) {
        let newcomers = || {
            let newborn = threads_born_since(&before.tids, &HashSet::new());
            // Stragglers' children count too, so look at every newborn thread.
            let children = children_born_since(&before.children, reported_pids, &newborn);
            let threads: Vec<u32> = newborn
                .into_iter()
                .filter(|t| !reported_tids.contains(t))
                .collect();
            (threads, children)
        };
        let deadline = Deadline::after(self.options.linger);
        let backoff = Backoff::new(Duration::from_micros(50), Duration::from_millis(10));
        let mut left = newcomers();
        let waiting = |(threads, children): &(Vec<u32>, Vec<LeakedProcess>)| {
            !threads.is_empty() || children.iter().any(|c| c.state != Some('Z'))
        };
        while waiting(&left) && !deadline.is_expired() {
            deadline.sleep_at_most(backoff.next_pause());
            left = newcomers();
        }
        let threads = left
            .0
            .into_iter()
            .filter_map(|tid| {
                Some(UnmanagedThread {
                    os: OsThread::read(tid)?,
                    managed: managed_by_tid(tid),
                })
            })
            .collect();
        (threads, left.1)
    }

    /// A description of what the test is running right now: its registry's live
    /// threads, and (when the test owns the process) other threads born during it.
    pub fn live_threads(&self) -> String {
        describe_live(self.registry(), self.before.as_ref().ok().map(|b| &b.tids))
    }
}

impl Drop for TestScope {
    fn drop(&mut self) {
        if self.scope.is_none() {
            return;
        }
        if let Err(report) = self.conclude() {
            if std::thread::panicking() {
                real_stderr(&report.to_string());
            } else {
                panic!("{report}");
            }
        }
    }
}

impl std::fmt::Debug for TestScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestScope")
            .field("test", &self.options.name)
            .field("policy", &self.options.policy())
            .field("open", &self.scope.is_some())
            .field(
                "unmanaged_check",
                &self.before.as_ref().map(|b| b.tids.len()),
            )
            .finish()
    }
}

/// Runs one test body inside a [`TestScope`]; what `#[iris_test]` expands to.
///
/// The body's own panic always wins (so `#[should_panic]` works), with any leak
/// report printed beside it; otherwise a finding fails the test under
/// [`LeakPolicy::Fail`]. `Result`-returning bodies pass their result through.
pub fn run_test<T>(options: TestOptions, body: impl FnOnce() -> T) -> T {
    let scope = TestScope::begin(options);
    let outcome = catch_unwind(AssertUnwindSafe(body));
    settle(scope, outcome)
}

/// [`run_test`] with the body on its own thread, so that a body still running after
/// `timeout` fails the test (with a dump of its live threads) instead of hanging the
/// run. The stuck body is left behind; it shows in the report.
pub fn run_test_with_timeout<T: Send + 'static>(
    options: TestOptions,
    timeout: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let scope = TestScope::begin(options);
    let result = std::sync::Arc::new(Completion::new());
    let slot = result.clone();
    // The body's thread inherits the test's scope (just opened on this thread), the
    // subscriber and the span, as a managed thread would.
    let inherited = context::capture();
    let thread_name = scope.options.name.clone();
    let spawned = std::thread::Builder::new()
        .name(thread_name)
        .spawn(move || {
            let outcome = inherited.run(|| catch_unwind(AssertUnwindSafe(body)));
            drop(slot.complete(outcome));
        });
    let handle = match spawned {
        Ok(handle) => handle,
        Err(error) => panic!("iris: cannot start the test body's thread: {error}"),
    };
    match result.take(Deadline::after(timeout)) {
        Ok(outcome) => {
            let _ = handle.join();
            settle(scope, outcome)
        }
        Err(NoValue::TimedOut) => {
            let dump = scope.live_threads();
            let name = scope.options.name.clone();
            drop(handle); // detached: it cannot be stopped from here
                          // The scope's drop still stops the registry and reports on stderr.
            panic!("iris: test `{name}` timed out after {timeout:?}; the body is still running.\n{dump}");
        }
        Err(NoValue::Abandoned) => panic!("iris: the test body's thread ended without a result"),
    }
}

fn settle<T>(mut scope: TestScope, outcome: std::thread::Result<T>) -> T {
    match outcome {
        Ok(value) => match scope.conclude() {
            Ok(()) => value,
            Err(report) => panic!("{report}"),
        },
        Err(payload) => {
            if let Err(report) = scope.conclude() {
                real_stderr(&format!(
                    "{report}\n  (reported beside the test's own panic)"
                ));
            }
            resume_unwind(payload)
        }
    }
}

/// The process's threads and child processes at the start of a test.
#[derive(Debug)]
struct Snapshot {
    tids: HashSet<u32>,
    children: HashSet<u32>,
}

impl Snapshot {
    fn take() -> Option<Snapshot> {
        Some(Snapshot {
            tids: os_threads::snapshot_tids()?,
            children: processes::child_pids_of(parent_threads(&[])).unwrap_or_default(),
        })
    }
}

/// The threads whose children a test can have made: the main thread (which inherits
/// the children of threads that exit), the calling thread, and `newborn` threads.
fn parent_threads(newborn: &[u32]) -> Vec<u32> {
    let mut tids = vec![std::process::id()];
    tids.extend(current_os_tid());
    tids.extend_from_slice(newborn);
    tids.sort_unstable();
    tids.dedup();
    tids
}

/// Child processes born since `before`, other than `known` ones, still there (a
/// zombie counts: nobody reaped it).
fn children_born_since(
    before: &HashSet<u32>,
    known: &HashSet<u32>,
    newborn_threads: &[u32],
) -> Vec<LeakedProcess> {
    let mut pids: Vec<u32> = processes::child_pids_of(parent_threads(newborn_threads))
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !before.contains(p) && !known.contains(p))
        .collect();
    pids.sort_unstable();
    pids.into_iter()
        .filter_map(|pid| {
            let (state, _) = processes::process_stat(pid)?;
            let managed = managed_process(pid);
            Some(LeakedProcess {
                pid,
                command_line: processes::process_cmdline(pid).unwrap_or_default(),
                state: Some(state),
                name: managed.as_ref().map(|m| m.0.clone()),
                container: managed.map(|m| m.1),
            })
        })
        .collect()
}

#[cfg(unix)]
fn managed_process(pid: u32) -> Option<(String, String)> {
    crate::process::managed_by_pid(pid)
}

#[cfg(not(unix))]
fn managed_process(_pid: u32) -> Option<(String, String)> {
    None
}

/// Managed processes of the test's registry that are still running.
#[cfg(unix)]
fn managed_processes_left(registry_path: &str) -> Vec<LeakedProcess> {
    crate::process::running_under(registry_path)
        .into_iter()
        .map(|p| LeakedProcess {
            state: processes::process_stat(p.pid).map(|(state, _)| state),
            pid: p.pid,
            command_line: p.command_line,
            name: Some(p.name),
            container: Some(p.container),
        })
        .collect()
}

#[cfg(not(unix))]
fn managed_processes_left(_registry_path: &str) -> Vec<LeakedProcess> {
    Vec::new()
}

/// OS threads born since `before`, other than `known` ones, the calling thread and
/// Iris's own helpers; sorted.
fn threads_born_since(before: &HashSet<u32>, known: &HashSet<u32>) -> Vec<u32> {
    let helpers = os_threads::helper_tids();
    let me = current_os_tid();
    let mut tids: Vec<u32> = os_threads::snapshot_tids()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| {
            !before.contains(t) && !known.contains(t) && !helpers.contains(t) && Some(*t) != me
        })
        .collect();
    tids.sort_unstable();
    tids
}

fn describe_live(registry: &ThreadRegistry, before: Option<&HashSet<u32>>) -> String {
    let mut text = String::from("live threads of the test:");
    let managed = registry.alive_threads();
    let mut managed_tids = HashSet::new();
    for info in &managed {
        let os = info.os_tid().and_then(OsThread::read);
        if let Some(tid) = info.os_tid() {
            managed_tids.insert(tid);
        }
        text.push_str(&format!("\n  {info}"));
        if let Some(os) = os {
            text.push_str(&format!(" [{os}]"));
        }
    }
    if let Some(before) = before {
        let others = threads_born_since(before, &managed_tids);
        for os in others.into_iter().filter_map(OsThread::read) {
            text.push_str(&format!("\n  unmanaged: {os}"));
        }
    }
    if managed.is_empty() && text.lines().count() == 1 {
        text.push_str("\n  (none besides the test's own thread)");
    }
    text
}

/// A helper thread that dumps the test's live threads to stderr if it runs longer
/// than `timeout`. Stopped (and gone) when the test ends.
fn spawn_watchdog(test: String, timeout: Duration, registry: ThreadRegistry) -> StopToken {
    let done = StopToken::new();
    let watching = done.clone();
    let registered = std::sync::Arc::new(Completion::new());
    let ready = registered.clone();
    let spawned = std::thread::Builder::new()
        .name("iris-watchdog".into())
        .spawn(move || {
            let tid = current_os_tid();
            if let Some(tid) = tid {
                os_threads::register_helper(tid);
            }
            let _ = ready.complete(());
            if !watching.wait_timeout(timeout) {
                real_stderr(&format!(
                    "iris: test `{test}` is still running after {timeout:?}\n{}",
                    describe_live(&registry, None)
                ));
                watching.wait();
            }
            if let Some(tid) = tid {
                os_threads::unregister_helper(tid);
            }
        });
    if spawned.is_ok() {
        // Registered before the test body runs, so it is never mistaken for a leak.
        let _ = registered.take(Deadline::after(Duration::from_secs(5)));
    }
    done
}

/// Writes to the process's stderr, bypassing the test harness's output capture.
fn real_stderr(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

fn append_json(report: &LeakReport) {
    let Some(path) = std::env::var_os("IRIS_LEAK_REPORT") else {
        return;
    };
    let line = format!("{}\n", report.to_json_line());
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        // One write of the whole line: appends from parallel test processes do not
        // interleave within a line.
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(error) = written {
        real_stderr(&format!(
            "iris: cannot append to IRIS_LEAK_REPORT={}: {error}",
            std::path::Path::new(&path).display()
        ));
    }
}

/// Installs a subscriber writing to the test's captured output when there is none.
fn install_test_logger() -> Option<tracing::subscriber::DefaultGuard> {
    let unset = tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>());
    if !unset || tracing::dispatcher::has_been_set() {
        return None;
    }
    let level = std::env::var("IRIS_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    let subscriber = tracing_subscriber::fmt()
        .with_test_writer()
        .with_max_level(level)
        .with_ansi(false)
        .finish();
    Some(tracing::subscriber::set_default(subscriber))
}
