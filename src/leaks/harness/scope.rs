//! [`TestScope`]: the guard of one test, from a fresh registry scope to its verdict.
//!
//! Invariants:
//! - A scope opens a fresh registry named `test:NAME` *before* the test body runs,
//!   and decides then how threads started outside Iris will be checked (see
//!   `survey.rs`); on finish it stops that registry (deadline `stop_timeout`), then
//!   gives what was born for the test a grace period (`linger`) that ends as soon as
//!   it is gone.
//! - Iris's own helper threads (the file watcher, the watchdog) are never reported.
//! - Nothing is swallowed and nothing replaces the test's own failure: a test that
//!   panicked keeps its panic (so `#[should_panic(expected = ..)]` still matches) and
//!   the leak report goes to stderr beside it.
//! - Warnings go to the process's real stderr, not through the test harness's
//!   captured output, so they are visible for passing tests too.

use std::collections::HashSet;
use std::time::Duration;

use crate::leaks::harness::chaos;
use crate::leaks::harness::options::{LeakPolicy, TestOptions};
use crate::leaks::harness::survey::{
    end_processes, lingering, process_ownership, without_running_runtime_threads, Snapshot, Survey,
    TestProcesses, ThreadCheck, LIVE_STACK_PATIENCE, SHARED_PROCESS, UNSUPPORTED_PLATFORM,
};
use crate::leaks::output;
#[cfg(feature = "tokio")]
use crate::leaks::report::BlockedWorker;
use crate::leaks::report::{
    LeakReport, LeakedProcess, ProcessFate, Straggler, TaskFindings, Teardown, UnmanagedCheck,
    UnmanagedThread, Warned,
};
use crate::leaks::watchers::hang_doctor;
use crate::leaks::watchers::helper;
use crate::leaks::watchers::live::{describe_live, spawn_watchdog};
use crate::os::threads::OsThread;
use crate::sync::deadline::Deadline;
use crate::sync::stop_token::StopToken;
use crate::threads::managed_thread::current_os_tid;
use crate::threads::registry::{thread_registry_scope, RegistryScope, ThreadRegistry};
use crate::threads::report::ThreadInfo;
use crate::tracking::{self, attribution::Attribution, PlainPanic};

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
    pub(in crate::leaks) options: TestOptions,
    // Field order is drop order: the registry is stopped while the log guard still
    // routes its threads' last words to the test's output.
    scope: Option<RegistryScope>,
    /// How threads started outside Iris are checked.
    check: ThreadCheck,
    /// The tracker's id for this test (the threads it creates are charged to it).
    attribution: Option<Attribution>,
    /// The seed of schedule chaos while the body runs, if under chaos.
    chaos_seed: Option<u64>,
    watchdog: Option<StopToken>,
    /// Under the hang doctor's watch while it runs.
    pub(in crate::leaks) watched: Option<hang_doctor::Admission>,
    /// The thread running the body when it is not this one (`timeout`): it belongs
    /// to the test, and is never a leak.
    pub(in crate::leaks) body_tid: Option<u32>,
    /// The thread that opened the scope (the body's, unless `body_tid` says otherwise).
    own_tid: Option<u32>,
    /// When the registry's stop ended, if it was already stopped (an async test
    /// stops it without blocking its runtime): the final close then only collects,
    /// and what ran at the deadline is judged as of then.
    stopped_at: Option<std::time::Instant>,
    /// When the grace period (`linger`) ends, if it began before the final close (an
    /// async test's begins as its body returns, and its runtime's tasks and children
    /// use it first): what is still waited for then gets the rest of it, not a
    /// second one.
    grace: Option<Deadline>,
    /// What an async test left on its runtime.
    tasks: TaskFindings,
    /// The registry's running threads and tasks, and its managed processes (held),
    /// when its stop began, when it was stopped before the final close (an async
    /// test's): what the teardown ended and what outlived it are told from them.
    running_at_stop: Option<(Vec<ThreadInfo>, TestProcesses)>,
    /// Managed tasks of an async test's runtime that did not stop by the deadline,
    /// cancelled with the runtime.
    cancelled_tasks: Vec<ThreadInfo>,
    /// Threads of the test's own runtime: reported as tasks, never as unmanaged.
    runtime_tids: HashSet<u32>,
    _logs: Option<tracing::subscriber::DefaultGuard>,
    /// Last: the helper thread may leave only once everything above is done.
    _open: helper::OpenTest,
}

#[cfg(feature = "tokio")]
/// What an async test's runtime left when it ended, as its harness found it.
#[derive(Default)]
pub(in crate::leaks) struct RuntimeEnd {
    /// Plain tasks cancelled with the runtime (the ignored ones taken out).
    pub(in crate::leaks) plain: usize,
    /// Where they were spawned, when tokio says (`tokio_unstable`).
    pub(in crate::leaks) plain_sites: Option<Vec<String>>,
    /// How long the plain tasks still alive were run on in paused time.
    pub(in crate::leaks) plain_paused_for: Option<Duration>,
    /// Blocking-pool threads still running a task after the shutdown's deadline.
    pub(in crate::leaks) blocking: Vec<OsThread>,
    /// Workers held inside one poll past the shutdown's deadline.
    pub(in crate::leaks) held_workers: Vec<OsThread>,
    /// The live stacks of those threads.
    pub(in crate::leaks) stacks: std::collections::HashMap<u32, Vec<crate::tracking::Frame>>,
    /// Task panics noted until the shutdown.
    #[cfg(feature = "tokio")]
    pub(in crate::leaks) panics: Vec<crate::tasks::task_panics::TaskPanic>,
    /// The runtime's threads.
    pub(in crate::leaks) tids: Vec<u32>,
}

/// How threads started outside Iris will be checked for this test, said once per run
/// when they will not be.
fn how_outsiders_are_checked(options: &TestOptions) -> ThreadCheck {
    // Also installs the hook that notes panics of plain threads.
    let tracking_active = tracking::active();
    let check = match options.policy() {
        LeakPolicy::Ignore => ThreadCheck::Off("leak checks are off (leaks = \"ignore\")".into()),
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
        tracing::debug!(test = %options.name(), "iris: unmanaged-thread check skipped: {why}");
        if why == SHARED_PROCESS {
            // Silence is not success: say once per run that the check did not run.
            output::note_once(
                "shared-process",
                "iris: note: threads and child processes started outside Iris are not checked in this run, \
                 because its tests share one process; run `cargo nextest run` or \
                 `cargo test -- --test-threads=1` for the exact check, or turn Iris's \
                 `thread-tracking` feature back on (a default one, on Linux with glibc)",
            );
        } else if why == UNSUPPORTED_PLATFORM {
            output::note_once(
                "platform",
                "iris: note: threads and child processes started outside Iris are not \
                 checked on this platform (Linux only); managed threads, tasks, their \
                 stragglers and background panics are (see the README's platform table)",
            );
        }
    }
    check
}

/// What the registry's close left: managed threads and tasks that did not stop,
/// Iris's helpers for the test's processes, background panics, processes still
/// running at the deadline, and what the teardown ended.
struct Closed {
    stragglers: Vec<ThreadInfo>,
    task_stragglers: Vec<ThreadInfo>,
    helpers: Vec<ThreadInfo>,
    panics: Vec<crate::threads::report::ThreadPanic>,
    processes: Vec<LeakedProcess>,
    teardown: Teardown,
}

/// Stragglers with their OS state and live stacks.
fn sampled(stragglers: Vec<ThreadInfo>) -> Vec<Straggler> {
    let sampled = OsThread::sample(
        &stragglers
            .iter()
            .filter_map(|i| i.os_tid())
            .collect::<Vec<_>>(),
    );
    stragglers
        .into_iter()
        .map(|info| Straggler {
            os: info
                .os_tid()
                .and_then(|tid| sampled.iter().find(|o| o.tid == tid).cloned()),
            stack: info
                .os_tid()
                .and_then(|tid| tracking::live_stack(tid, LIVE_STACK_PATIENCE)),
            info,
        })
        .collect()
}

impl TestScope {
    /// Opens the scope: installs a fresh registry `test:NAME` on this thread and
    /// snapshots the process's threads. When no `tracing` subscriber is installed,
    /// installs one (for this thread and the managed threads it spawns) that writes
    /// to the test's captured output, at the level given by `IRIS_LOG` (default
    /// `info`).
    pub fn begin(options: TestOptions) -> TestScope {
        crate::leaks::harness::knobs::check_environment();
        crate::leaks::harness::repeat::ran_once(&options);
        // Before any test's code can swap the hook (invariant 1 of fail.rs).
        crate::leaks::harness::fail::link_into_the_hook();
        let open = helper::test_opens();
        // Iris's own process-wide helpers exist before the test looks at threads.
        hang_doctor::prepare();
        let logs = if options.capture_logs {
            output::install_test_logger()
        } else {
            None
        };
        let check = how_outsiders_are_checked(&options);
        // Charge the threads this test creates to it (read only with tracking on).
        let attribution = Some(Attribution::begin());
        let chaos_seed = options.chaos_seed_for_this_run();
        if let (Some(seed), Some(attribution)) = (chaos_seed, &attribution) {
            tracking::chaos::begin(attribution.scope(), seed);
            if !tracking::active() {
                output::note_once(
                    "chaos without tracking",
                    "iris: schedule chaos reaches only an async test's body and runtime in this \
                     build: threads are held back at their start and after their sleeps where \
                     thread tracking works (Linux with glibc, the `thread-tracking` feature)",
                );
            }
        }
        let scope = thread_registry_scope(format!("test:{}", options.name()));
        let watchdog = options.timeout.map(|timeout| {
            spawn_watchdog(
                options.name().to_string(),
                timeout,
                (*scope).clone(),
                current_os_tid(),
                attribution.as_ref().map(Attribution::scope),
                options.body,
            )
        });
        let watched = hang_doctor::admit(
            options.name(),
            options.body,
            &scope,
            attribution.as_ref().map(Attribution::scope),
            match &check {
                ThreadCheck::Diff(snapshot) => Some(&snapshot.tids),
                _ => None,
            },
        );
        TestScope {
            watched,
            options,
            scope: Some(scope),
            check,
            attribution,
            chaos_seed,
            watchdog,
            body_tid: None,
            own_tid: current_os_tid(),
            stopped_at: None,
            grace: None,
            tasks: TaskFindings::default(),
            running_at_stop: None,
            cancelled_tasks: Vec::new(),
            runtime_tids: HashSet::new(),
            _logs: logs,
            _open: open,
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
    pub(in crate::leaks) fn conclude(&mut self) -> Result<(), LeakReport> {
        let policy = self.options.policy();
        let mut report = self.collect();
        self.weigh_panics(&mut report);
        self.warn_about_teardown(&report);
        if policy == LeakPolicy::Ignore {
            return Ok(());
        }
        if report.is_clean() {
            // Warnings alone fail nothing, but a collected run keeps them.
            if !report.warned.is_empty() {
                output::append_json(&report);
            }
            return Ok(());
        }
        output::append_json(&report);
        match policy {
            LeakPolicy::Fail => {
                end_processes(&report.processes);
                report.processes_fate = Some(ProcessFate::Ended);
                Err(report)
            }
            LeakPolicy::Warn | LeakPolicy::Ignore => {
                report.processes_fate = Some(ProcessFate::Kept);
                output::after_the_run(&format!(
                    "{report}\n  (leaks = \"warn\": the test still passes)"
                ));
                Ok(())
            }
        }
    }

    /// Ends a test whose body ran past its `timeout`: stops and collects as
    /// `conclude` does, writes the `IRIS_LEAK_REPORT` line (marked timed out) whatever
    /// was found, and returns the report when it found something. No policy applies:
    /// the test fails for its timeout anyway.
    pub(in crate::leaks) fn conclude_late(&mut self, timeout: Duration) -> Option<LeakReport> {
        let mut report = self.collect();
        self.weigh_panics(&mut report);
        self.warn_about_teardown(&report);
        report.timed_out = Some(timeout);
        output::append_json(&report);
        end_processes(&report.processes);
        report.processes_fate = Some(ProcessFate::Ended);
        (!report.is_clean() && self.options.policy() != LeakPolicy::Ignore).then_some(report)
    }

    /// Under `teardown = "warn"`, writes what the teardown ended after the run.
    fn warn_about_teardown(&self, report: &LeakReport) {
        if self.options.teardown_value() == LeakPolicy::Warn {
            if let Some(warning) = report.teardown_warning() {
                output::after_the_run(&warning);
            }
        }
    }

    /// Applies the `thread_panics` and `task_panics` policies to the plain threads'
    /// and plain tasks' panics found: kept as findings under `Fail`, written as a
    /// warning after the run (and kept in the report's `warned`, for its JSON line)
    /// under `Warn`, dropped under `Ignore`.
    fn weigh_panics(&self, report: &mut LeakReport) {
        let test = report.test.clone();
        let (kept, warned) = weigh(
            self.options.thread_panics_value(),
            std::mem::take(&mut report.plain_panics),
            |panics| crate::leaks::report::thread_panic_warning(&test, panics),
        );
        report.plain_panics = kept;
        report.warned.plain_panics = warned;
        #[cfg(feature = "tokio")]
        {
            let policy = self.options.task_panics_value();
            let (caught, escaped): (Vec<_>, Vec<_>) = std::mem::take(&mut report.tasks.panics)
                .into_iter()
                .partition(|panic| panic.caught_inside);
            let (kept, mut warned) = weigh(policy, escaped, |panics| {
                crate::leaks::report::task_panic_warning(&test, panics)
            });
            // A panic the task's own code caught may have been handled there: never a
            // failure, and never dropped either (that code may have rethrown it).
            let caught_policy = match policy {
                LeakPolicy::Ignore => LeakPolicy::Ignore,
                LeakPolicy::Warn | LeakPolicy::Fail => LeakPolicy::Warn,
            };
            let (_, caught) = weigh(caught_policy, caught, |panics| {
                crate::leaks::report::caught_task_panic_warning(&test, panics)
            });
            warned.extend(caught);
            report.tasks.panics = kept;
            report.warned.task_panics = warned;
        }
    }

    /// Whether a child process the test started is still this process's child,
    /// running or a zombie: an async test's runtime may reap it in the background
    /// while it runs (tokio does, for a `Child` dropped unwaited). Without thread
    /// tracking, the children of the body's thread, the main thread and `threads`
    /// (the runtime's, which spawn too) are looked at; false where children are not
    /// checked (a shared process without thread tracking).
    #[cfg(feature = "tokio")]
    pub(in crate::leaks) fn has_children(&self, threads: &[u32]) -> bool {
        // Asked every millisecond while it waits: pids only, not what each one is.
        use crate::leaks::harness::survey::{child_pids_born_since, tracked_child_pids};
        let children = match &self.check {
            ThreadCheck::Diff(before) => {
                child_pids_born_since(&before.children, &HashSet::new(), threads)
            }
            ThreadCheck::Tracked => tracked_child_pids(
                self.attribution.as_ref().map_or(0, Attribution::scope),
                &HashSet::new(),
            ),
            ThreadCheck::Off(_) => Vec::new(),
        };
        !children.is_empty()
    }

    /// The body has returned: the hang doctor lets the test go. If it is writing a
    /// dump of the test, this waits for it (boundedly), so that the dump shows the
    /// test as it was, before its registry is stopped, and is written whole.
    pub(in crate::leaks) fn body_done(&mut self) {
        self.watched = None;
        // The teardown runs at normal speed; what chaos did is kept for the words
        // of a failure.
        if self.chaos_seed.take().is_some() {
            if let Some(attribution) = &self.attribution {
                chaos::keep_last(tracking::chaos::end(attribution.scope()));
            }
        }
    }

    /// The seed of schedule chaos the body runs under, if any (the test's runtime
    /// takes its numbers from it).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(in crate::leaks) fn chaos_seed(&self) -> Option<u64> {
        self.chaos_seed
    }

    fn collect(&mut self) -> LeakReport {
        self.body_done();
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.stop();
        }
        let Closed {
            stragglers,
            task_stragglers,
            helpers,
            panics,
            mut processes,
            teardown,
        } = self.close_registry();
        let mut tasks = std::mem::take(&mut self.tasks);
        if self.stopped_at.is_none() {
            tasks.stragglers = task_stragglers;
        } // else: an async test recorded them before its runtime dropped them
        let stragglers = sampled(stragglers);
        // Every thread of the test's registry that is still running is accounted for
        // here (as a straggler or inside its process's line), never again as an
        // unmanaged thread.
        let mut reported_tids: HashSet<u32> = stragglers
            .iter()
            .map(|s| &s.info)
            .chain(&helpers)
            .filter_map(ThreadInfo::os_tid)
            .collect();
        reported_tids.extend(self.runtime_tids.iter().copied());
        let tracked_scope = self.attribution.as_ref().map_or(0, Attribution::scope);
        let (unmanaged, unmanaged_check) =
            self.outsiders(tracked_scope, &reported_tids, &mut processes, &mut tasks);
        let plain_panics = self.uncollected_panics(tracked_scope);
        tracking::forget(tracked_scope);
        // The thread that ran the test works for nobody again.
        self.attribution = None;
        LeakReport {
            test: self.options.name().to_string(),
            test_function: self.options.given_name.clone(),
            stragglers,
            unmanaged,
            processes,
            panics,
            unmanaged_check,
            tasks,
            plain_panics,
            timed_out: None,
            processes_fate: None,
            warned: Warned::default(),
            teardown,
        }
    }

    /// Closes the test's registry (stopping it within `stop_timeout`, unless an async
    /// test's harness stopped it already) and sorts what did not stop.
    fn close_registry(&mut self) -> Closed {
        let Some(scope) = self.scope.take() else {
            unreachable!("a scope is concluded once");
        };
        let stop_timeout = if self.stopped_at.is_some() {
            Duration::ZERO // it had its deadline; now only collect what is left
        } else {
            self.options.stop_timeout
        };
        let registry_path = format!("test:{}", self.options.name());
        let (running, held) = match self.running_at_stop.take() {
            Some(running) => running,
            None => (scope.alive_threads(), TestProcesses::hold(&registry_path)),
        };
        let stop_started = std::time::Instant::now();
        let (stragglers, panics) = match scope.close_with_timeout(stop_timeout) {
            Ok(()) => (Vec::new(), Vec::new()),
            Err(error) => (error.stragglers().to_vec(), error.panics().to_vec()),
        };
        // What still runs at the deadline, taken at once: the supervisor of a process
        // that ignored SIGTERM goes on to SIGKILL it, so a look taken after the stacks
        // were sampled could find the process gone and its helper threads (reaper,
        // output readers, supervisor) still ending.
        // The deadline itself, not when this thread got to look: on a loaded
        // machine the close may return well after it, and a process its supervisor
        // killed in between still outlived the stop.
        let stopped_at = self.stopped_at.unwrap_or_else(|| {
            let now = std::time::Instant::now();
            stop_started
                .checked_add(stop_timeout)
                .map_or(now, |deadline| deadline.min(now))
        });
        let processes = held.left_at(stopped_at);
        // Those helpers are Iris's, never the test's leak: a process that will not
        // die is its own line, and one that died at the deadline leaves nothing.
        let process_containers = held.containers();
        let teardown = ended_by_the_stop(
            running,
            &stragglers,
            &process_containers,
            std::mem::take(&mut self.cancelled_tasks),
            self.options.teardown_value() == LeakPolicy::Fail,
        );
        let (helpers, stragglers): (Vec<_>, Vec<_>) = stragglers
            .into_iter()
            .partition(|info| process_containers.iter().any(|c| c == info.container()));
        let (task_stragglers, stragglers): (Vec<_>, Vec<_>) = stragglers
            .into_iter()
            .filter(|info| !self.options.ignores(info.name()))
            .partition(|info| info.is_task());
        Closed {
            stragglers,
            task_stragglers,
            helpers,
            panics,
            processes,
            teardown,
        }
    }

    /// Threads started outside Iris (and, when the test owns the process, child
    /// processes) still alive after the grace period, and how they were checked.
    fn outsiders(
        &self,
        tracked_scope: u64,
        reported_tids: &HashSet<u32>,
        processes: &mut Vec<LeakedProcess>,
        tasks: &mut TaskFindings,
    ) -> (Vec<UnmanagedThread>, UnmanagedCheck) {
        let method = match &self.check {
            ThreadCheck::Off(why) => return (Vec::new(), UnmanagedCheck::Skipped(why.clone())),
            ThreadCheck::Tracked => UnmanagedCheck::Tracked,
            ThreadCheck::Diff(_) => UnmanagedCheck::Checked,
        };
        let reported_pids: HashSet<u32> = processes.iter().map(|p| p.pid).collect();
        let survey = Survey {
            options: &self.options,
            grace: self
                .grace
                .unwrap_or_else(|| Deadline::after(self.options.linger)),
            check: &self.check,
            tracked_scope,
            body_tid: self.body_tid,
            own_tid: self.own_tid,
        };
        let (threads, children) = lingering(&survey, reported_tids, &reported_pids);
        processes.extend(children);
        let (threads, not_counted) = without_running_runtime_threads(threads);
        tasks.runtime_threads_not_counted = not_counted;
        (threads, method)
    }

    /// Panics of plain threads working for the test that nobody joined.
    fn uncollected_panics(&self, tracked_scope: u64) -> Vec<PlainPanic> {
        if matches!(self.check, ThreadCheck::Off(_)) {
            return Vec::new();
        }
        tracking::uncollected_panics(tracked_scope)
            .into_iter()
            .filter(|p| Some(p.tid) != self.body_tid)
            .collect()
    }

    // What an async test's harness (run_async.rs) hands the scope as its runtime
    // winds down: the scope owns these fields, the harness reports to it.

    /// The registry's stop begins before the runtime ends: what runs now is what the
    /// teardown may end.
    #[cfg(feature = "tokio")]
    pub(in crate::leaks) fn stop_begins(&mut self) {
        self.running_at_stop = Some(self.running_now());
    }

    /// The registry's stop, begun at `started`, is over: `cancelled` are managed
    /// tasks that did not stop, cancelled with the runtime. What ran at the deadline
    /// is judged as of the deadline, or of the stop's end if sooner.
    #[cfg(feature = "tokio")]
    pub(in crate::leaks) fn stop_ended(
        &mut self,
        started: std::time::Instant,
        cancelled: Vec<ThreadInfo>,
    ) {
        let now = std::time::Instant::now();
        let deadline = started.checked_add(self.options.stop_timeout_value());
        self.stopped_at = Some(deadline.map_or(now, |deadline| deadline.min(now)));
        self.cancelled_tasks = cancelled;
    }

    /// The one grace period (`linger`) begins now, for the runtime's tasks and
    /// children first; the final look at threads gets what is left of it.
    #[cfg(feature = "tokio")]
    pub(in crate::leaks) fn grace_begins(&mut self) -> Deadline {
        let deadline = Deadline::after(self.options.linger_value());
        self.grace = Some(deadline);
        deadline
    }

    /// What blocking detection found while the body ran.
    #[cfg(feature = "tokio")]
    pub(in crate::leaks) fn runtime_was_blocked(&mut self, blocked: Vec<BlockedWorker>) {
        self.tasks.blocked = blocked;
    }

    /// The runtime ended: what its shutdown could not end, the threads that were
    /// its own (reported as tasks, never as unmanaged), and the task panics noted
    /// until then.
    #[cfg(feature = "tokio")]
    pub(in crate::leaks) fn runtime_ended(&mut self, end: RuntimeEnd) {
        let RuntimeEnd {
            plain,
            plain_sites,
            plain_paused_for,
            blocking,
            held_workers,
            stacks,
            #[cfg(feature = "tokio")]
            panics,
            tids,
        } = end;
        self.tasks.plain = plain;
        self.tasks.plain_sites = plain_sites;
        self.tasks.plain_paused_for = plain_paused_for;
        self.tasks.blocking = blocking;
        self.tasks.held_workers = held_workers;
        self.tasks.stacks = stacks;
        #[cfg(feature = "tokio")]
        {
            self.tasks.panics = panics;
        }
        self.runtime_tids.extend(tids);
    }

    /// The registry's running threads and tasks, and its managed processes'
    /// containers: what its stop will end (taken just before it).
    #[cfg(feature = "tokio")]
    pub(crate) fn running_now(&self) -> (Vec<ThreadInfo>, TestProcesses) {
        let registry = self.registry();
        (
            registry.alive_threads(),
            TestProcesses::hold(&format!("test:{}", self.options.name())),
        )
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
        describe_live(self.registry(), before, scope, body, self.options.body)
    }
}

/// What the registry's stop ended: of the threads and tasks `running` when it began,
/// those not among the `stragglers`; the processes whose helper threads (in
/// `process_containers`) were running, by name; and the managed tasks `cancelled`
/// with an async test's runtime. Iris's own helpers are never listed as threads.
fn ended_by_the_stop(
    running: Vec<ThreadInfo>,
    stragglers: &[ThreadInfo],
    process_containers: &[String],
    cancelled: Vec<ThreadInfo>,
    counted: bool,
) -> Teardown {
    let same = |a: &ThreadInfo, b: &ThreadInfo| {
        a.started == b.started && a.name == b.name && a.container == b.container
    };
    let mut stopped_processes: Vec<String> = Vec::new();
    let mut stopped = Vec::new();
    for info in running {
        if info.is_stop_callback() || stragglers.iter().any(|s| same(s, &info)) {
            continue;
        }
        if cancelled.iter().any(|c| same(c, &info)) {
            continue;
        }
        if process_containers.contains(&info.container) {
            let process = info
                .container
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            if !stopped_processes.contains(&process) {
                stopped_processes.push(process);
            }
            continue;
        }
        stopped.push(info);
    }
    Teardown {
        counted,
        stopped,
        stopped_processes,
        cancelled_tasks: cancelled,
    }
}

/// Splits `panics` by `policy` into the findings kept (all of them under `Fail`)
/// and those written as a warning (under `Warn`, once `warning` has written them
/// after the run); `Ignore` keeps neither.
fn weigh<P>(
    policy: LeakPolicy,
    panics: Vec<P>,
    warning: impl FnOnce(&[P]) -> String,
) -> (Vec<P>, Vec<P>) {
    match policy {
        LeakPolicy::Fail => (panics, Vec::new()),
        LeakPolicy::Warn if !panics.is_empty() => {
            output::after_the_run(&warning(&panics));
            (Vec::new(), panics)
        }
        LeakPolicy::Warn | LeakPolicy::Ignore => (Vec::new(), Vec::new()),
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
                crate::leaks::harness::fail::fail(report.to_string());
            }
        }
    }
}

impl std::fmt::Debug for TestScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestScope")
            .field("test", &self.options.name())
            .field("policy", &self.options.policy())
            .field("open", &self.scope.is_some())
            .field("unmanaged_check", &self.check)
            .finish()
    }
}
