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
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use super::output::{self, Runner};
use super::report::{
    LeakReport, LeakedProcess, Straggler, TaskFindings, UnmanagedCheck, UnmanagedThread,
};
use crate::os::processes;
use crate::os::threads::{self as os_threads, OsThread};
use crate::sync::completion::{Completion, NoValue};
use crate::sync::deadline::Deadline;
use crate::sync::stop_token::StopToken;
use crate::text::glob::{glob_matches, split_globs};
use crate::threads::context;
use crate::threads::managed_thread::{current_os_tid, managed_by_tid};
use crate::threads::registry::{thread_registry_scope, RegistryScope, ThreadRegistry};
use crate::tracking::{self, attribution::Attribution};
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
                output::about_run(&format!("iris: ignoring IRIS_LEAKS: {error}"));
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
    ignore_threads: Vec<String>,
    owns_process: bool,
    capture_logs: bool,
    #[cfg(feature = "tokio")]
    pub(crate) flavor: crate::tasks::runtime::Flavor,
    #[cfg(feature = "tokio")]
    pub(crate) worker_threads: Option<usize>,
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
            ignore_threads: Vec::new(),
            owns_process: false,
            capture_logs: true,
            #[cfg(feature = "tokio")]
            flavor: crate::tasks::runtime::Flavor::CurrentThread,
            #[cfg(feature = "tokio")]
            worker_threads: None,
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

    /// Threads not to report: a comma-separated list of globs (`*` any run of
    /// characters, `?` one character) matched against a leaked thread's name (its OS
    /// name, and for a managed thread also its full name). For process-wide pools
    /// created on first use, such as `"rayon-*"`. Adds to the list; the environment
    /// variable `IRIS_IGNORE_THREADS` (same syntax) adds to it for a whole run.
    ///
    /// ```
    /// use iris::TestOptions;
    ///
    /// let options = TestOptions::new("t").ignore_threads("rayon-*, tokio-runtime-w*");
    /// assert!(options.ignores("rayon-worker-3"));
    /// assert!(!options.ignores("my-worker"));
    /// ```
    pub fn ignore_threads(mut self, globs: &str) -> TestOptions {
        self.ignore_threads.extend(split_globs(globs));
        self
    }

    /// Whether a thread named `name` is on the ignore list (the options' and
    /// `IRIS_IGNORE_THREADS`).
    pub fn ignores(&self, name: &str) -> bool {
        self.ignore_threads
            .iter()
            .chain(env_ignored_threads())
            .any(|glob| glob_matches(glob, name))
    }

    /// Every `ignore_threads` glob: the options' and `IRIS_IGNORE_THREADS`. Where
    /// there is any, leaked threads' creation stacks are matched against them.
    fn all_ignore_globs(&self) -> Vec<String> {
        self.ignore_threads
            .iter()
            .chain(env_ignored_threads())
            .cloned()
            .collect()
    }

    /// Declares that this test has the process to itself, so the check of threads
    /// started outside Iris runs even where Iris cannot tell from the runner: for a
    /// hand-written harness (`harness = false`) that runs its tests one at a time.
    /// Do not set it where tests run in parallel in one process: another test's
    /// threads would be blamed.
    pub fn owns_process(mut self) -> TestOptions {
        self.owns_process = true;
        self
    }

    /// The tokio scheduler of an async test (default: current thread).
    #[cfg(feature = "tokio")]
    pub fn flavor(mut self, flavor: crate::tasks::runtime::Flavor) -> TestOptions {
        self.flavor = flavor;
        self
    }

    /// The number of worker threads of a multi-thread async test (default: the
    /// number of CPUs; 0 is treated as 1).
    #[cfg(feature = "tokio")]
    pub fn worker_threads(mut self, workers: usize) -> TestOptions {
        self.worker_threads = Some(workers);
        self
    }

    /// Whether to install Iris's log subscriber (writing to the test's captured
    /// output) when the test has none (default: yes). `#[iris_test]` turns it off
    /// when `#[traced_test]` is on the same test, whose subscriber must get the logs.
    pub fn capture_logs(mut self, on: bool) -> TestOptions {
        self.capture_logs = on;
        self
    }

    /// The stop timeout in force.
    pub fn stop_timeout_value(&self) -> Duration {
        self.stop_timeout
    }

    /// The grace period in force.
    pub fn linger_value(&self) -> Duration {
        self.linger
    }

    /// The watchdog timeout, if any.
    pub fn timeout_value(&self) -> Option<Duration> {
        self.timeout
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

/// `IRIS_IGNORE_THREADS`, read once.
fn env_ignored_threads() -> &'static [String] {
    static GLOBS: OnceLock<Vec<String>> = OnceLock::new();
    GLOBS.get_or_init(|| {
        std::env::var("IRIS_IGNORE_THREADS")
            .map(|text| split_globs(&text).collect())
            .unwrap_or_default()
    })
}

/// tokio's default names for its pool threads (they changed in tokio 1.4x).
#[cfg(feature = "tokio")]
const TOKIO_THREAD_NAMES: [&str; 2] = ["tokio-runtime-w*", "tokio-rt-worker*"];

/// When the check runs inside a live tokio runtime (a `TestScope` in a
/// `#[tokio::test]`), that runtime's pool threads (tokio's default names) are not the
/// test's leak: they live as long as the runtime, which outlives the check. Returns
/// the other threads and how many were set aside.
#[cfg(feature = "tokio")]
fn without_running_runtime_threads(threads: Vec<UnmanagedThread>) -> (Vec<UnmanagedThread>, usize) {
    if tokio::runtime::Handle::try_current().is_err() {
        return (threads, 0);
    }
    let (runtime, others): (Vec<_>, Vec<_>) = threads.into_iter().partition(|t| {
        t.managed.is_none()
            && TOKIO_THREAD_NAMES
                .iter()
                .any(|g| glob_matches(g, &t.os.name))
    });
    (others, runtime.len())
}

#[cfg(not(feature = "tokio"))]
fn without_running_runtime_threads(threads: Vec<UnmanagedThread>) -> (Vec<UnmanagedThread>, usize) {
    (threads, 0)
}

/// Whether this test has the process to itself, so that every new OS thread is its.
fn process_ownership(declared: bool) -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err("only supported on Linux".into());
    }
    if declared {
        return Ok(());
    }
    match output::runner() {
        Runner::Nextest | Runner::LibtestSerial => Ok(()),
        Runner::Shared => Err(SHARED_PROCESS.into()),
    }
}

const SHARED_PROCESS: &str =
    "the process may be shared with other tests; run under cargo nextest or with --test-threads=1";

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
    /// How threads started outside Iris are checked.
    check: ThreadCheck,
    /// The tracker's id for this test (the threads it creates are charged to it).
    attribution: Option<Attribution>,
    watchdog: Option<StopToken>,
    /// The thread running the body when it is not this one (`timeout`): it belongs
    /// to the test, and is never a leak.
    body_tid: Option<u32>,
    /// The thread that opened the scope (the body's, unless `body_tid` says otherwise).
    own_tid: Option<u32>,
    /// Set when the registry was already stopped (an async test stops it without
    /// blocking its runtime): the final close then only collects.
    pub(crate) already_stopped: bool,
    /// What an async test left on its runtime.
    pub(crate) tasks: TaskFindings,
    /// Threads of the test's own runtime: reported as tasks, never as unmanaged.
    pub(crate) runtime_tids: HashSet<u32>,
    _logs: Option<tracing::subscriber::DefaultGuard>,
}

impl TestScope {
    /// Opens the scope: installs a fresh registry `test:NAME` on this thread and
    /// snapshots the process's threads. When no `tracing` subscriber is installed,
    /// installs one (for this thread and the managed threads it spawns) that writes
    /// to the test's captured output, at the level given by `IRIS_LOG` (default
    /// `info`).
    pub fn begin(options: TestOptions) -> TestScope {
        let logs = if options.capture_logs {
            output::install_test_logger()
        } else {
            None
        };
        // Also installs the hook that notes panics of plain threads.
        let tracking_active = tracking::active();
        let check = match options.policy() {
            LeakPolicy::Ignore => {
                ThreadCheck::Off("leak checks are off (leaks = \"ignore\")".into())
            }
            _ => match process_ownership(options.owns_process) {
                Ok(()) => match Snapshot::take() {
                    Some(snapshot) => ThreadCheck::Diff(snapshot),
                    None => ThreadCheck::Off("cannot read /proc/self/task".into()),
                },
                // Sharing the process is no obstacle when every thread is tracked.
                Err(_) if tracking_active => ThreadCheck::Tracked,
                Err(why) => ThreadCheck::Off(why),
            },
        };
        if let ThreadCheck::Off(why) = &check {
            tracing::debug!(test = %options.name, "iris: unmanaged-thread check skipped: {why}");
            if why == SHARED_PROCESS {
                // Silence is not success: say once per run that the check did not run.
                output::note_once(
                    "shared-process",
                    "iris: note: threads started outside Iris are not checked in this run, \
                     because its tests share one process; run `cargo nextest run` or \
                     `cargo test -- --test-threads=1` for the exact check, or turn on Iris's \
                     `thread-tracking` feature",
                );
            }
        }
        // Charge the threads this test creates to it (read only with tracking on).
        let attribution = Some(Attribution::begin());
        let scope = thread_registry_scope(format!("test:{}", options.name));
        let watchdog = options.timeout.map(|timeout| {
            spawn_watchdog(
                options.name.clone(),
                timeout,
                (*scope).clone(),
                current_os_tid(),
                attribution.as_ref().map(Attribution::scope),
            )
        });
        TestScope {
            options,
            scope: Some(scope),
            check,
            attribution,
            watchdog,
            body_tid: None,
            own_tid: current_os_tid(),
            already_stopped: false,
            tasks: TaskFindings::default(),
            runtime_tids: HashSet::new(),
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
        output::append_json(&report);
        match policy {
            LeakPolicy::Fail => Err(report),
            LeakPolicy::Warn | LeakPolicy::Ignore => {
                output::about_test(&format!(
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
        let stop_timeout = if self.already_stopped {
            Duration::ZERO // it had its deadline; now only collect what is left
        } else {
            self.options.stop_timeout
        };
        let (stragglers, panics) = match scope.close_with_timeout(stop_timeout) {
            Ok(()) => (Vec::new(), Vec::new()),
            Err(error) => (error.stragglers().to_vec(), error.panics().to_vec()),
        };
        let (task_stragglers, stragglers): (Vec<_>, Vec<_>) = stragglers
            .into_iter()
            .filter(|info| !self.options.ignores(info.name()))
            .partition(|info| info.is_task());
        let mut tasks = std::mem::take(&mut self.tasks);
        if !self.already_stopped {
            tasks.stragglers = task_stragglers;
        } // else: an async test recorded them before its runtime dropped them
        let sampled = OsThread::sample(
            &stragglers
                .iter()
                .filter_map(|i| i.os_tid())
                .collect::<Vec<_>>(),
        );
        let stragglers: Vec<Straggler> = stragglers
            .into_iter()
            .map(|info| Straggler {
                os: info
                    .os_tid()
                    .and_then(|tid| sampled.iter().find(|o| o.tid == tid).cloned()),
                info,
            })
            .collect();
        // Every thread of the test's registry that is still running is accounted for
        // here (as a straggler or inside its process's line), never again as an
        // unmanaged thread.
        let mut reported_tids: HashSet<u32> =
            stragglers.iter().filter_map(|s| s.info.os_tid()).collect();
        reported_tids.extend(self.runtime_tids.iter().copied());
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
        let tracked_scope = self.attribution.as_ref().map_or(0, Attribution::scope);
        let (unmanaged, unmanaged_check) = match &self.check {
            ThreadCheck::Off(why) => (Vec::new(), UnmanagedCheck::Skipped(why.clone())),
            check => {
                let method = match check {
                    ThreadCheck::Tracked => UnmanagedCheck::Tracked,
                    _ => UnmanagedCheck::Checked,
                };
                let reported_pids: HashSet<u32> = processes.iter().map(|p| p.pid).collect();
                let (threads, children) = self.lingering(&reported_tids, &reported_pids);
                processes.extend(children);
                let (threads, not_counted) = without_running_runtime_threads(threads);
                tasks.runtime_threads_not_counted = not_counted;
                (threads, method)
            }
        };
        let plain_panics = if matches!(self.check, ThreadCheck::Off(_)) {
            Vec::new()
        } else {
            tracking::uncollected_panics(tracked_scope)
                .into_iter()
                .filter(|p| Some(p.tid) != self.body_tid)
                .collect()
        };
        tracking::forget(tracked_scope);
        // The thread that ran the test works for nobody again.
        self.attribution = None;
        LeakReport {
            test: self.options.name.clone(),
            stragglers,
            unmanaged,
            processes,
            panics,
            unmanaged_check,
            tasks,
            plain_panics,
        }
    }

    /// Threads (and, when the test owns the process, child processes) born for the
    /// test, other than Iris's helpers, this thread and what is already reported,
    /// still alive after the grace period. The wait ends as soon as they are all
    /// gone; zombies never go by themselves, so they are not waited for. Threads
    /// whose name or creating functions match `ignore_threads` are neither waited
    /// for nor reported.
    fn lingering(
        &self,
        reported_tids: &HashSet<u32>,
        reported_pids: &HashSet<u32>,
    ) -> (Vec<UnmanagedThread>, Vec<LeakedProcess>) {
        let tracked_scope = self.attribution.as_ref().map_or(0, Attribution::scope);
        // Cheap checks only while waiting: the name, and the creating functions as the
        // symbol table knows them. Debug info (which also knows inlined functions)
        // costs half a second to load, so it is read only for threads still alive
        // when the wait is over, not for every thread that is about to end (a pool
        // the test built and dropped).
        let globs = self.options.all_ignore_globs();
        let ignored = |tid: u32| {
            os_threads::thread_name(tid).is_some_and(|n| self.options.ignores(&n))
                || (!globs.is_empty() && tracking::created_through(tid, &globs))
        };
        // (threads, children, threads created but not yet running)
        let newcomers = || {
            let (newborn, children, starting) = match &self.check {
                ThreadCheck::Diff(before) => {
                    let newborn = threads_born_since(&before.tids, &HashSet::new());
                    // Stragglers' children count too, so look at every newborn thread.
                    let children = children_born_since(&before.children, reported_pids, &newborn);
                    (newborn, children, 0)
                }
                ThreadCheck::Tracked => {
                    let (threads, starting) = tracked_threads(tracked_scope);
                    (threads, Vec::new(), starting)
                }
                ThreadCheck::Off(_) => (Vec::new(), Vec::new(), 0),
            };
            let threads: Vec<u32> = newborn
                .into_iter()
                .filter(|t| !reported_tids.contains(t) && Some(*t) != self.body_tid)
                .filter(|t| !ignored(*t))
                .collect();
            (threads, children, starting)
        };
        let deadline = Deadline::after(self.options.linger);
        let backoff = Backoff::new(Duration::from_micros(50), Duration::from_millis(10));
        let mut left = newcomers();
        let waiting = |(threads, children, starting): &(Vec<u32>, Vec<LeakedProcess>, usize)| {
            !threads.is_empty() || *starting > 0 || children.iter().any(|c| c.state != Some('Z'))
        };
        while waiting(&left) && !deadline.is_expired() {
            deadline.sleep_at_most(backoff.next_pause());
            left = newcomers();
        }
        // A thread created but not running yet has no id to report; it runs within
        // microseconds, so it is waited for past `linger` (boundedly).
        let registered = Deadline::after(STARTING_PATIENCE);
        while left.2 > 0 && !registered.is_expired() {
            registered.sleep_at_most(backoff.next_pause());
            left = newcomers();
        }
        // The OS names a thread gets when nobody names it: its creator's (this
        // thread's, or the main thread's when the creator was unnamed itself). Read
        // only when there is something to report.
        let creator_names: Vec<String> = if left.0.is_empty() {
            Vec::new()
        } else {
            [self.own_tid, Some(std::process::id())]
                .into_iter()
                .flatten()
                .filter_map(os_threads::thread_name)
                .collect()
        };
        let threads = OsThread::sample(&left.0)
            .into_iter()
            .filter_map(|os| {
                let origin = tracking::origin_of(os.tid);
                let created_by_ignored = origin
                    .as_ref()
                    .is_some_and(|o| o.functions.iter().any(|f| self.options.ignores(f)));
                if created_by_ignored {
                    return None;
                }
                let managed = managed_by_tid(os.tid);
                Some(UnmanagedThread {
                    inherited_name: managed.is_none() && creator_names.contains(&os.name),
                    origin,
                    stack: tracking::live_stack(os.tid, LIVE_STACK_PATIENCE),
                    os,
                    managed,
                })
            })
            .filter(|t| {
                !self.options.ignores(&t.os.name)
                    && !t
                        .managed
                        .as_ref()
                        .is_some_and(|m| self.options.ignores(m.name()))
            })
            .collect();
        (threads, left.1)
    }

    /// A description of what the test is running right now: its registry's live
    /// threads, and (when the test owns the process) other threads born during it.
    pub fn live_threads(&self) -> String {
        let body = self.body_tid.or(self.own_tid);
        let before = match &self.check {
            ThreadCheck::Diff(before) => Some(&before.tids),
            _ => None,
        };
        let scope = self.attribution.as_ref().map(Attribution::scope);
        describe_live(self.registry(), before, scope, body)
    }
}

impl Drop for TestScope {
    fn drop(&mut self) {
        if self.scope.is_none() {
            return;
        }
        if let Err(report) = self.conclude() {
            if std::thread::panicking() {
                output::about_test(&report.to_string());
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
            .field("unmanaged_check", &self.check)
            .finish()
    }
}

/// Runs one test body inside a [`TestScope`]; what `#[iris_test]` expands to.
///
/// The body's own panic always wins (so `#[should_panic]` works), with any leak
/// report printed beside it; otherwise a finding fails the test under
/// [`LeakPolicy::Fail`]. `Result`-returning bodies pass their result through.
#[track_caller]
pub fn run_test<T>(options: TestOptions, body: impl FnOnce() -> T) -> T {
    let scope = TestScope::begin(options);
    let outcome = catch_unwind(AssertUnwindSafe(body));
    settle(scope, outcome)
}

/// [`run_test`] with the body on its own thread, so that a body still running after
/// `timeout` fails the test (with a dump of its live threads) instead of hanging the
/// run. The failure shows where the body is stuck; the body's thread belongs to the
/// test and is never reported as a leak (it is left behind: nothing can stop it).
#[track_caller]
pub fn run_test_with_timeout<T: Send + 'static>(
    options: TestOptions,
    timeout: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let mut scope = TestScope::begin(options);
    let result = std::sync::Arc::new(Completion::new());
    let slot = result.clone();
    let body_tid = std::sync::Arc::new(OnceLock::new());
    let tid_slot = body_tid.clone();
    // The body's thread inherits the test's scope (just opened on this thread), the
    // subscriber and the span, as a managed thread would.
    let inherited = context::capture();
    let thread_name = scope.options.name.clone();
    let spawned = std::thread::Builder::new()
        .name(thread_name)
        .spawn(move || {
            if let Some(tid) = current_os_tid() {
                let _ = tid_slot.set(tid);
            }
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
            scope.body_tid = body_tid.get().copied();
            let dump = scope.live_threads();
            let name = scope.options.name.clone();
            drop(handle); // detached: it cannot be stopped from here
                          // Unwinding drops the scope, which still stops the test's registry and
                          // reports what outlived it beside this failure.
            panic!(
                "iris: test `{name}` timed out after {timeout:?}: its body is still running.\n{dump}\n  \
                 hint: the body itself did not finish; its state above says where it waits. \
                 Raise `timeout` only if the work is really that slow; see docs/thread-safety.md, \
                 \"Debugging a hanging test\""
            );
        }
        Err(NoValue::Abandoned) => panic!("iris: the test body's thread ended without a result"),
    }
}

#[track_caller]
pub(crate) fn settle<T>(mut scope: TestScope, outcome: std::thread::Result<T>) -> T {
    match outcome {
        Ok(value) => match scope.conclude() {
            Ok(()) => value,
            Err(report) => panic!("{report}"),
        },
        Err(payload) => {
            if let Err(report) = scope.conclude() {
                output::about_test(&format!(
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

/// What the test is running: where its body is (`body`, a thread id), its
/// registry's live threads, and its other threads: those born since `before` when
/// the test owns the process, else those the tracker charged to `tracked_scope`.
/// With thread tracking, each comes with where it is now (its live stack).
fn describe_live(
    registry: &ThreadRegistry,
    before: Option<&HashSet<u32>>,
    tracked_scope: Option<u64>,
    body: Option<u32>,
) -> String {
    let stack = |tid: u32| {
        tracking::live_stack(tid, LIVE_STACK_PATIENCE)
            .map(|frames| {
                frames
                    .iter()
                    .map(|f| format!("\n      at {f}"))
                    .collect::<String>()
            })
            .unwrap_or_default()
    };
    let mut text = String::from("where the test is:");
    match body.and_then(|tid| OsThread::sample(&[tid]).pop()) {
        Some(os) => {
            text.push_str(&format!("\n  the test body: {os}"));
            text.push_str(&stack(os.tid));
        }
        None => text.push_str("\n  the test body: (its state cannot be read on this platform)"),
    }
    let managed = registry.alive_threads();
    let mut known: HashSet<u32> = body.into_iter().collect();
    for info in &managed {
        text.push_str(&format!("\n  {info}"));
        if let Some(tid) = info.os_tid() {
            known.insert(tid);
            if let Some(os) = OsThread::sample(&[tid]).pop() {
                text.push_str(&format!(" [{os}]"));
            }
            text.push_str(&stack(tid));
        }
    }
    let others = match (before, tracked_scope) {
        (Some(before), _) => Some(threads_born_since(before, &known)),
        (None, Some(scope)) if tracking::active() => Some(
            tracked_threads(scope)
                .0
                .into_iter()
                .filter(|t| !known.contains(t))
                .collect(),
        ),
        _ => None,
    };
    match others {
        Some(others) => {
            for os in OsThread::sample(&others) {
                text.push_str(&format!("\n  unmanaged: {os}"));
                text.push_str(&stack(os.tid));
            }
        }
        None => text.push_str(
            "\n  (threads started outside Iris are listed only when the test owns its process, \
             or with the `thread-tracking` feature)",
        ),
    }
    if managed.is_empty() {
        text.push_str("\n  (no managed thread of the test is running)");
    }
    text
}

/// The live threads the tracker charged to `scope`, other than Iris's helpers and
/// the calling thread, sorted; and how many more are starting (ids not known yet).
fn tracked_threads(scope: u64) -> (Vec<u32>, usize) {
    let helpers = os_threads::helper_tids();
    let me = current_os_tid();
    let (threads, starting) = tracking::alive_in(scope);
    let threads = threads
        .into_iter()
        .filter(|t| !helpers.contains(t) && Some(*t) != me)
        .collect();
    (threads, starting)
}

/// How long a thread created for a test gets to start running (and so be seen).
const STARTING_PATIENCE: Duration = Duration::from_secs(1);

/// How long a leaked thread gets to answer a request for its stack.
/// (A thread in a non-interruptible wait, or with signals blocked, never answers;
/// a busy machine can take tens of milliseconds to schedule one that will.)
const LIVE_STACK_PATIENCE: Duration = Duration::from_millis(250);

/// How threads started outside Iris are checked at the end of a test.
#[derive(Debug)]
enum ThreadCheck {
    /// The test owns the process: threads born since this snapshot are its own.
    Diff(Snapshot),
    /// Thread tracking charges each thread to the test it was created for.
    Tracked,
    /// Not checked, and why.
    Off(String),
}

/// A helper thread that dumps the test's live threads to stderr if it runs longer
/// than `timeout`. Stopped (and gone) when the test ends.
fn spawn_watchdog(
    test: String,
    timeout: Duration,
    registry: ThreadRegistry,
    body: Option<u32>,
    tracked_scope: Option<u64>,
) -> StopToken {
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
                output::from_watchdog(&format!(
                    "iris: test `{test}` is still running after {timeout:?}\n{}",
                    describe_live(&registry, None, tracked_scope, body)
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
