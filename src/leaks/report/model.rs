//! The model of a report: what a test left behind, as plain owned data, and its
//! counts. How it reads is `text.rs`; the JSON line, `json.rs`; the advice,
//! `hints.rs`; what is written after a run instead of failing, `warnings.rs`.

use std::time::Duration;

use crate::os::threads::OsThread;
use crate::threads::report::{ThreadInfo, ThreadPanic};
use crate::tracking::{Frame, PlainPanic, ThreadOrigin};

/// A managed thread still running after the test's registry was stopped.
#[derive(Clone, Debug)]
pub struct Straggler {
    /// Name, container path, spawn site, age.
    pub info: ThreadInfo,
    /// What the kernel says it is doing (Linux), read when the report was made.
    pub os: Option<OsThread>,
    /// Where it is now (feature `thread-tracking`): the call it is blocked in, then
    /// the user's frames around it.
    pub stack: Option<Vec<Frame>>,
}

/// An OS thread born during the test that was still alive after the grace period.
#[derive(Clone, Debug)]
pub struct UnmanagedThread {
    /// What the kernel says about it.
    pub os: OsThread,
    /// Its managed description when it is a managed thread of some *other* container
    /// (spawned outside the test's registry, e.g. into a container the test made).
    pub managed: Option<ThreadInfo>,
    /// Whether its OS name is its creator's: a thread nobody named carries the name
    /// of the thread that created it.
    pub inherited_name: bool,
    /// Where, by whom and how long ago it was created (feature `thread-tracking`).
    pub origin: Option<ThreadOrigin>,
    /// Where it is now: the call it is blocked in, then the user's frames around it
    /// (feature `thread-tracking`; `None` where no stack could be taken, and then
    /// `os.blocked_in` is the kernel's word for it).
    pub stack: Option<Vec<Frame>>,
}

/// A child process still alive (or unreaped) after the test.
#[derive(Clone, Debug)]
pub struct LeakedProcess {
    /// Its process id.
    pub pid: u32,
    /// Its command line; for a zombie, which has none left, its name in brackets
    /// (`[printf]`, as `ps` shows it); empty when neither could be read.
    pub command_line: String,
    /// The kernel's state letter (`Z` is a zombie nobody reaped), when known.
    pub state: Option<char>,
    /// Its name, when it is a managed process.
    pub name: Option<String>,
    /// The path of the container that owns it, when it is a managed process.
    pub container: Option<String>,
    /// It was still running at the stop's deadline and has exited since (its
    /// supervisor's SIGKILL after the grace period, say): nothing is left to end,
    /// and its pid may already name another process.
    pub exited: bool,
}

/// What Iris did with the processes a test left running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProcessFate {
    /// Killed, with their groups and descendants, so none outlives the test.
    Ended,
    /// Left running, as the policy asked (`leaks = "warn"`).
    Kept,
}

/// Whether the unmanaged-thread check ran.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnmanagedCheck {
    /// It ran: the test owned the process.
    Checked,
    /// It ran from thread tracking (feature `thread-tracking`): every thread created
    /// for the test is known, even while tests share the process.
    Tracked,
    /// It did not, and why (shared process, unsupported platform, disabled).
    Skipped(String),
}

/// What a test left behind: managed stragglers, unmanaged threads, background panics.
#[derive(Clone)]
pub struct LeakReport {
    pub(crate) test: String,
    /// The test's function (`module_path!()::name`), as a creating stack names it.
    pub(crate) test_function: String,
    pub(crate) stragglers: Vec<Straggler>,
    pub(crate) unmanaged: Vec<UnmanagedThread>,
    pub(crate) processes: Vec<LeakedProcess>,
    pub(crate) panics: Vec<ThreadPanic>,
    pub(crate) unmanaged_check: UnmanagedCheck,
    pub(crate) tasks: TaskFindings,
    pub(crate) plain_panics: Vec<PlainPanic>,
    /// Set when the test's body ran past its `timeout` (the report then only rides
    /// along with that failure).
    pub(crate) timed_out: Option<Duration>,
    /// What became of the leaked processes after the report, once decided.
    pub(crate) processes_fate: Option<ProcessFate>,
    /// Panics a `"warn"` policy took out of the findings and wrote as a warning:
    /// they fail nothing and the report's text leaves them out, but its JSON line
    /// keeps them (`warned`), so that a run collected with `IRIS_LEAK_REPORT` loses
    /// none (under nextest a passing test's warning is otherwise not shown).
    pub(crate) warned: Warned,
    /// What the test's teardown ended (findings only under `teardown = "fail"`).
    pub(crate) teardown: Teardown,
}

/// What the test's own teardown had to end: managed threads and tasks that stopped
/// when its registry was stopped, managed processes that stop ended, and tasks
/// cancelled with the test's runtime (the plain ones are counted in
/// [`TaskFindings::plain`]). Nothing of it is left behind, so it is a finding only
/// when the test's `teardown` policy is `Fail` (`counted`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Teardown {
    /// Whether these count as findings (`teardown = "fail"`).
    pub(crate) counted: bool,
    /// Managed threads and tasks running when the registry was stopped, which stopped.
    pub(crate) stopped: Vec<ThreadInfo>,
    /// Managed processes running when the registry was stopped, which the stop ended.
    pub(crate) stopped_processes: Vec<String>,
    /// Managed tasks of the test's runtime that did not stop by the deadline and were
    /// cancelled with the runtime.
    pub(crate) cancelled_tasks: Vec<ThreadInfo>,
}

impl Teardown {
    /// Everything the teardown ended, plain tasks (`plain`) included.
    pub(crate) fn ended(&self, plain: usize) -> usize {
        self.stopped.len() + self.stopped_processes.len() + self.cancelled_tasks.len() + plain
    }
}

/// Panics written as warnings instead of failing the test (see
/// [`LeakReport::warned`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Warned {
    pub(crate) plain_panics: Vec<PlainPanic>,
    #[cfg(feature = "tokio")]
    pub(crate) task_panics: Vec<crate::tasks::task_panics::TaskPanic>,
}

impl Warned {
    /// Whether nothing was warned about.
    pub(crate) fn is_empty(&self) -> bool {
        #[cfg(feature = "tokio")]
        if !self.task_panics.is_empty() {
            return false;
        }
        self.plain_panics.is_empty()
    }
}

/// A worker held inside one poll while it slept.
#[derive(Clone, Debug)]
#[cfg(feature = "tokio")]
pub(crate) struct BlockedWorker {
    /// The worker as the kernel saw it when it crossed the threshold.
    pub os: OsThread,
    /// How long it was seen held in one sleep.
    pub held_for: Duration,
    /// Where it was (feature `thread-tracking`): the blocking call, then the
    /// user's frames.
    pub stack: Option<Vec<Frame>>,
}

/// What an async test left on its runtime.
#[derive(Clone, Debug, Default)]
pub(crate) struct TaskFindings {
    /// Managed tasks that did not finish before the stop deadline.
    pub(crate) stragglers: Vec<ThreadInfo>,
    /// Other tasks (plain `tokio::spawn`) still pending when the test's runtime shut
    /// down, and cancelled with it: part of the [`Teardown`], not left behind.
    pub(crate) plain: usize,
    /// Where those were spawned, when tokio tells (`--cfg tokio_unstable`).
    pub(crate) plain_sites: Option<Vec<String>>,
    /// How much paused time those were run on after `linger`, still alive at its end
    /// (`tasks::fast_forward`; a one-thread runtime only).
    pub(crate) plain_paused_for: Option<Duration>,
    /// Blocking-pool threads still busy after the runtime's shutdown deadline:
    /// blocking tasks that never returned.
    pub(crate) blocking: Vec<OsThread>,
    /// Worker threads still held after the shutdown deadline by a task that never
    /// yields: one task each, which the shutdown could not cancel.
    pub(crate) held_workers: Vec<OsThread>,
    /// Workers a task held inside one poll while they slept (blocking in async
    /// code), when blocking detection was asked to fail the test.
    #[cfg(feature = "tokio")]
    pub(crate) blocked: Vec<BlockedWorker>,
    /// Plain tasks that panicked, when the test's `task_panics` policy counts them.
    #[cfg(feature = "tokio")]
    pub(crate) panics: Vec<crate::tasks::task_panics::TaskPanic>,
    /// Where the runtime's stuck threads (held workers, blocking tasks) are, by
    /// thread id (feature `thread-tracking`).
    pub(crate) stacks: std::collections::HashMap<u32, Vec<Frame>>,
    /// Threads of a runtime still running around the check (a `TestScope` inside
    /// `#[tokio::test]`): not the test's leak while the runtime lives.
    pub(crate) runtime_threads_not_counted: usize,
}

impl TaskFindings {
    /// What an async test left that its runtime's shutdown could not end, or that
    /// lives on a runtime other than the test's (a managed task on it).
    pub(super) fn count(&self) -> usize {
        self.stragglers.len() + self.blocking.len() + self.held_workers.len()
    }

    #[cfg(feature = "tokio")]
    pub(super) fn blocked_count(&self) -> usize {
        self.blocked.len()
    }

    #[cfg(not(feature = "tokio"))]
    pub(super) fn blocked_count(&self) -> usize {
        0
    }

    #[cfg(feature = "tokio")]
    pub(super) fn panic_count(&self) -> usize {
        self.panics.len()
    }

    #[cfg(not(feature = "tokio"))]
    pub(super) fn panic_count(&self) -> usize {
        0
    }
}

impl LeakReport {
    /// The test's name.
    pub fn test(&self) -> &str {
        &self.test
    }

    /// Managed threads that did not exit before the stop deadline.
    pub fn stragglers(&self) -> &[Straggler] {
        &self.stragglers
    }

    /// OS threads born during the test that outlived it.
    pub fn unmanaged(&self) -> &[UnmanagedThread] {
        &self.unmanaged
    }

    /// Child processes still alive after the test (managed ones always; unmanaged
    /// ones when the test owns the process).
    pub fn processes(&self) -> &[LeakedProcess] {
        &self.processes
    }

    /// Managed threads of the test that panicked.
    pub fn panics(&self) -> &[ThreadPanic] {
        &self.panics
    }

    /// Plain threads of the test that a panic ended and nobody joined (feature
    /// `thread-tracking`).
    pub fn plain_panics(&self) -> &[PlainPanic] {
        &self.plain_panics
    }

    /// Whether the unmanaged check ran.
    pub fn unmanaged_check(&self) -> &UnmanagedCheck {
        &self.unmanaged_check
    }

    /// How many threads leaked (stragglers and unmanaged).
    pub fn leaked(&self) -> usize {
        self.stragglers.len() + self.unmanaged.len()
    }

    /// Managed tasks that did not finish before the stop deadline (async tests).
    pub fn task_stragglers(&self) -> &[ThreadInfo] {
        &self.tasks.stragglers
    }

    /// How many plain (not managed) tasks were still pending when the test's runtime
    /// shut down, and were cancelled with it (async tests). Counted only under
    /// [`TestOptions::teardown`](crate::TestOptions::teardown) `Fail` or `Warn`.
    pub fn plain_tasks(&self) -> usize {
        self.tasks.plain
    }

    /// How many things the test's teardown had to end: managed threads, tasks and
    /// processes its registry's stop ended, and tasks cancelled with its runtime.
    /// A finding only under [`TestOptions::teardown`](crate::TestOptions::teardown)
    /// `Fail`.
    pub fn ended_by_teardown(&self) -> usize {
        self.teardown.ended(self.tasks.plain)
    }

    /// The teardown's count when it is a finding, else 0.
    pub(super) fn counted_teardown(&self) -> usize {
        if self.teardown.counted {
            self.ended_by_teardown()
        } else {
            0
        }
    }

    /// Runtime threads still busy after the runtime's shutdown deadline: blocking
    /// tasks that never returned (async tests).
    pub fn stuck_blocking_tasks(&self) -> &[OsThread] {
        &self.tasks.blocking
    }

    /// How many tasks leaked: managed stragglers, plain tasks, stuck blocking tasks.
    pub fn leaked_tasks(&self) -> usize {
        self.tasks.count()
    }

    /// How many findings in all: leaked threads, tasks and processes, and background
    /// panics (the `leaked` of the JSON line).
    pub fn findings(&self) -> usize {
        self.leaked()
            + self.leaked_tasks()
            + self.counted_teardown()
            + self.tasks.blocked_count()
            + self.processes.len()
            + self.panics.len()
            + self.plain_panics.len()
            + self.tasks.panic_count()
    }

    /// Whether nothing leaked and nothing panicked.
    pub fn is_clean(&self) -> bool {
        self.counted_teardown() == 0
            && self.tasks.blocked_count() == 0
            && self.leaked() == 0
            && self.leaked_tasks() == 0
            && self.processes.is_empty()
            && self.panics.is_empty()
            && self.plain_panics.is_empty()
            && self.tasks.panic_count() == 0
    }
}
