//! [`LeakReport`]: what a test left behind, written for the person who has to fix it.
//!
//! Invariants:
//! - The first line is the contract: ``iris: test `NAME` leaked N thread(s)`` when
//!   anything leaked (N counts managed stragglers and unmanaged threads), otherwise
//!   ``iris: test `NAME` had N background panic(s)``.
//! - Identical leaks (same name up to digits, container, spawn site and blocking
//!   point) are grouped into one line with a count, so a leaked pool of 16 workers
//!   is one line, not 16.
//! - The report ends with a hint pointing at the guide.
//! - A report is plain owned data (`Send + Sync + 'static`), and can be turned into
//!   one JSON line for `IRIS_LEAK_REPORT`.

use std::fmt;
use std::time::Duration;

use super::json::Json;
use crate::os::threads::OsThread;
use crate::threads::report::{ThreadInfo, ThreadPanic};
use crate::tracking::frames::is_thread_start;
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

impl fmt::Display for LeakedProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, &self.container) {
            (Some(name), Some(container)) => write!(f, "process {name:?} in `{container}`")?,
            _ => f.write_str("unmanaged child process")?,
        }
        write!(f, " (pid {})", self.pid)?;
        if !self.command_line.is_empty() {
            write!(f, ": {}", self.command_line)?;
        }
        match self.state {
            _ if self.exited => {
                f.write_str(", still running at the stop's deadline (it has exited since)")
            }
            Some('Z') => f.write_str(", a zombie nobody reaped"),
            Some(state) => write!(f, ", state {state}"),
            None => Ok(()),
        }
    }
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
    fn count(&self) -> usize {
        self.stragglers.len() + self.blocking.len() + self.held_workers.len()
    }

    #[cfg(feature = "tokio")]
    fn blocked_count(&self) -> usize {
        self.blocked.len()
    }

    #[cfg(not(feature = "tokio"))]
    fn blocked_count(&self) -> usize {
        0
    }

    #[cfg(feature = "tokio")]
    fn panic_count(&self) -> usize {
        self.panics.len()
    }

    #[cfg(not(feature = "tokio"))]
    fn panic_count(&self) -> usize {
        0
    }
}

/// The warning for plain threads' unjoined panics under `thread_panics = "warn"`,
/// written after the run.
pub(crate) fn thread_panic_warning(test: &str, panics: &[PlainPanic]) -> String {
    panic_list(
        &format!(
            "iris: test `{test}`: {} plain thread(s) ended in a panic that nobody joined, so \
             nobody saw it",
            panics.len()
        ),
        panics.iter().map(PlainPanic::to_string),
        "(thread_panics = \"warn\": such a panic does not fail the test. Without it, it \
         would; thread_panics = \"ignore\" silences it)",
    )
}

/// The warning for plain tasks' panics under `task_panics = "warn"` (the default).
#[cfg(feature = "tokio")]
pub(crate) fn task_panic_warning(
    test: &str,
    panics: &[crate::tasks::task_panics::TaskPanic],
) -> String {
    panic_list(
        &format!(
            "iris: test `{test}`: {} plain task(s) panicked; tokio handed each panic to the task's \
             `JoinHandle`, and unless the test awaited it, the panic was lost",
            panics.len()
        ),
        panics.iter().map(describe_task_panic),
        "(task_panics = \"warn\", the default, as Iris cannot see whether a JoinHandle was read: \
         it does not fail the test. Make these fail it with task_panics = \"fail\" or IRIS_TASK_PANICS=fail; \
         silence them with task_panics = \"ignore\")",
    )
}

/// The warning for plain tasks' panics that a `catch_unwind` of the task's own code
/// met, whatever `task_panics` says (but `"ignore"`): handled there, or rethrown.
#[cfg(feature = "tokio")]
pub(crate) fn caught_task_panic_warning(
    test: &str,
    panics: &[crate::tasks::task_panics::TaskPanic],
) -> String {
    panic_list(
        &format!(
            "iris: test `{test}`: {} plain task(s) panicked inside a `catch_unwind` of their own \
             code: if it handled the panic (an actor's supervisor does), the task went on; if it \
             rethrew it (`resume_unwind`), tokio handed it to the task's `JoinHandle`",
            panics.len()
        ),
        panics.iter().map(describe_task_panic),
        "(a warning whatever task_panics says, as Iris cannot see which: it does not fail \
         the test; task_panics = \"ignore\" silences it)",
    )
}

/// A warning's shape: a header, one indented line per panic, and a closing remark.
fn panic_list(header: &str, lines: impl Iterator<Item = String>, remark: &str) -> String {
    let mut text = header.to_string();
    for line in lines {
        text.push_str("\n  ");
        text.push_str(&line);
    }
    text.push_str("\n  ");
    text.push_str(remark);
    text
}

/// One line for a plain task's panic.
#[cfg(feature = "tokio")]
pub(crate) fn describe_task_panic(panic: &crate::tasks::task_panics::TaskPanic) -> String {
    let mut line = format!("plain task {} panicked", panic.task);
    if let Some(location) = &panic.location {
        line.push_str(&format!(" at {location}"));
    }
    line.push_str(&format!(
        ": {} (on thread {:?}",
        panic.message, panic.thread
    ));
    match &panic.spawned_at {
        Some(site) => line.push_str(&format!("; spawned at {site})")),
        None => line.push(')'),
    }
    line
}

/// One line (and its stack) for a worker a task held while it slept.
#[cfg(feature = "tokio")]
fn describe_blocked(blocked: &BlockedWorker) -> String {
    let mut text = format!(
        "a task held worker thread {:?} (tid {}) inside one poll for {:.2?} while it slept ({})",
        blocked.os.name,
        blocked.os.tid,
        blocked.held_for,
        match &blocked.os.blocked_in {
            Some(wchan) => format!("in {wchan}"),
            None => blocked.os.state_name().to_string(),
        }
    );
    if let Some(frames) = &blocked.stack {
        let mut frames = frames.iter();
        if let Some(first) = frames.next() {
            text.push_str(&format!("\n      now in {}", first.function));
        }
        for frame in frames {
            text.push_str(&format!("\n        called from {frame}"));
        }
    }
    text
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
    fn counted_teardown(&self) -> usize {
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

    /// One line of JSON (no trailing newline) with the findings, for machines.
    pub fn to_json_line(&self) -> String {
        let info = |i: &ThreadInfo| {
            Json::object([
                ("name", i.name().into()),
                ("container", i.container().into()),
                ("spawned_at", i.spawned_at().to_string().into()),
                ("alive_ms", (i.alive_for().as_millis() as u64).into()),
                ("stop_callback", i.is_stop_callback().into()),
            ])
        };
        let os = |o: &OsThread| {
            Json::object([
                ("tid", o.tid.into()),
                ("name", o.name.as_str().into()),
                ("state", o.state.to_string().into()),
                ("blocked_in", o.blocked_in.clone().into()),
            ])
        };
        let frame = |f: &Frame| {
            Json::object([
                ("function", f.function.as_str().into()),
                ("file", f.short_file().map(str::to_string).into()),
                ("line", f.line.into()),
            ])
        };
        let frames = |list: &Vec<Frame>| Json::from(list.iter().map(frame).collect::<Vec<_>>());
        let origin = |o: &ThreadOrigin| {
            Json::object([
                (
                    "created_at",
                    o.created_at.as_ref().map_or(Json::Null, frame),
                ),
                ("creator", o.creator.as_str().into()),
                ("creator_tid", o.creator_tid.into()),
                ("alive_ms", o.age.map(|a| a.as_millis() as u64).into()),
            ])
        };
        let runtime_thread = |thread: &OsThread| {
            let mut v = os(thread);
            v.set(
                "live_frames",
                self.tasks
                    .stacks
                    .get(&thread.tid)
                    .map_or(Json::Null, frames),
            );
            v
        };
        let stragglers: Vec<Json> = self
            .stragglers
            .iter()
            .map(|s| {
                let mut v = info(&s.info);
                v.set("os", s.os.as_ref().map_or(Json::Null, os));
                v.set("live_frames", s.stack.as_ref().map_or(Json::Null, frames));
                v
            })
            .collect();
        let unmanaged: Vec<Json> = self
            .unmanaged
            .iter()
            .map(|u| {
                let mut v = os(&u.os);
                v.set("managed", u.managed.as_ref().map_or(Json::Null, info));
                v.set("origin", u.origin.as_ref().map_or(Json::Null, origin));
                v.set("live_frames", u.stack.as_ref().map_or(Json::Null, frames));
                v
            })
            .collect();
        let panics: Vec<Json> = self
            .panics
            .iter()
            .map(|p| {
                Json::object([
                    ("thread", p.thread_name().into()),
                    ("container", p.container().into()),
                    ("message", p.message().into()),
                ])
            })
            .collect();
        let plain_panic = |p: &PlainPanic| {
            Json::object([
                ("thread", p.thread.as_str().into()),
                ("tid", p.tid.into()),
                ("message", p.message.as_str().into()),
                ("location", p.location.clone().into()),
                ("origin", p.origin.as_ref().map_or(Json::Null, origin)),
            ])
        };
        let plain_panics: Vec<Json> = self.plain_panics.iter().map(plain_panic).collect();
        let warned = Json::object([
            (
                "plain_panics",
                self.warned
                    .plain_panics
                    .iter()
                    .map(plain_panic)
                    .collect::<Vec<_>>()
                    .into(),
            ),
            ("task_panics", self.warned_task_panics_json().into()),
        ]);
        let check = match &self.unmanaged_check {
            UnmanagedCheck::Checked => "checked".to_string(),
            UnmanagedCheck::Tracked => "tracked".to_string(),
            UnmanagedCheck::Skipped(why) => format!("skipped: {why}"),
        };
        let processes: Vec<Json> = self
            .processes
            .iter()
            .map(|p| {
                Json::object([
                    ("pid", p.pid.into()),
                    ("command_line", p.command_line.as_str().into()),
                    ("state", p.state.map(|c| c.to_string()).into()),
                    ("name", p.name.clone().into()),
                    ("container", p.container.clone().into()),
                ])
            })
            .collect();
        Json::object([
            ("test", self.test.as_str().into()),
            ("leaked", self.findings().into()),
            (
                "timed_out_ms",
                self.timed_out.map(|t| t.as_millis() as u64).into(),
            ),
            (
                "counts",
                Json::object([
                    ("threads", self.leaked().into()),
                    ("tasks", self.leaked_tasks().into()),
                    ("processes", self.processes.len().into()),
                    (
                        "panics",
                        (self.panics.len() + self.plain_panics.len() + self.tasks.panic_count())
                            .into(),
                    ),
                    ("blocked", self.tasks.blocked_count().into()),
                    ("teardown", self.counted_teardown().into()),
                ]),
            ),
            ("stragglers", stragglers.into()),
            ("unmanaged", unmanaged.into()),
            ("processes", processes.into()),
            ("panics", panics.into()),
            ("plain_panics", plain_panics.into()),
            ("task_panics", self.task_panics_json().into()),
            ("warned", warned),
            (
                "teardown",
                Json::object([
                    ("counted", self.teardown.counted.into()),
                    (
                        "stopped",
                        self.teardown
                            .stopped
                            .iter()
                            .map(info)
                            .collect::<Vec<_>>()
                            .into(),
                    ),
                    (
                        "stopped_processes",
                        self.teardown
                            .stopped_processes
                            .iter()
                            .map(|p| Json::from(p.as_str()))
                            .collect::<Vec<_>>()
                            .into(),
                    ),
                    (
                        "cancelled_tasks",
                        self.teardown
                            .cancelled_tasks
                            .iter()
                            .map(info)
                            .collect::<Vec<_>>()
                            .into(),
                    ),
                    ("cancelled_plain", self.tasks.plain.into()),
                ]),
            ),
            ("unmanaged_check", check.into()),
            (
                "tasks",
                Json::object([
                    (
                        "stragglers",
                        self.tasks
                            .stragglers
                            .iter()
                            .map(info)
                            .collect::<Vec<_>>()
                            .into(),
                    ),
                    ("plain", self.tasks.plain.into()),
                    (
                        "blocking",
                        self.tasks
                            .blocking
                            .iter()
                            .map(runtime_thread)
                            .collect::<Vec<_>>()
                            .into(),
                    ),
                    (
                        "held_workers",
                        self.tasks
                            .held_workers
                            .iter()
                            .map(runtime_thread)
                            .collect::<Vec<_>>()
                            .into(),
                    ),
                    ("blocked", self.blocked_json(&os, &frames).into()),
                ]),
            ),
        ])
        .to_string()
    }
}

impl LeakReport {
    /// The plain tasks' panics, for the JSON line.
    #[cfg(feature = "tokio")]
    fn task_panics_json(&self) -> Vec<Json> {
        self.tasks.panics.iter().map(task_panic_json).collect()
    }

    /// The plain tasks' panics written as a warning, for the JSON line.
    #[cfg(feature = "tokio")]
    fn warned_task_panics_json(&self) -> Vec<Json> {
        self.warned
            .task_panics
            .iter()
            .map(task_panic_json)
            .collect()
    }

    /// The workers a task held inside one poll while they slept, for the JSON line.
    #[cfg(feature = "tokio")]
    fn blocked_json(
        &self,
        os: &dyn Fn(&OsThread) -> Json,
        frames: &dyn Fn(&Vec<Frame>) -> Json,
    ) -> Vec<Json> {
        self.tasks
            .blocked
            .iter()
            .map(|b| {
                let mut v = os(&b.os);
                v.set("held_ms", (b.held_for.as_millis() as u64).into());
                v.set("live_frames", b.stack.as_ref().map_or(Json::Null, frames));
                v
            })
            .collect()
    }

    #[cfg(not(feature = "tokio"))]
    fn blocked_json(
        &self,
        _os: &dyn Fn(&OsThread) -> Json,
        _frames: &dyn Fn(&Vec<Frame>) -> Json,
    ) -> Vec<Json> {
        Vec::new()
    }

    #[cfg(not(feature = "tokio"))]
    fn task_panics_json(&self) -> Vec<Json> {
        Vec::new()
    }

    #[cfg(not(feature = "tokio"))]
    fn warned_task_panics_json(&self) -> Vec<Json> {
        Vec::new()
    }
}

/// One plain task's panic, for the JSON line.
#[cfg(feature = "tokio")]
fn task_panic_json(p: &crate::tasks::task_panics::TaskPanic) -> Json {
    Json::object([
        ("task", p.task.as_str().into()),
        ("message", p.message.as_str().into()),
        ("location", p.location.clone().into()),
        ("spawned_at", p.spawned_at.clone().into()),
        ("thread", p.thread.as_str().into()),
        ("caught_inside", p.caught_inside.into()),
    ])
}

impl std::error::Error for LeakReport {}

// `expect`, `unwrap` and `?` print the report, not a struct.
debug_as_display!(LeakReport);

/// Groups `items` by `key`, keeping first-seen order.
fn group<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> Vec<(K, Vec<&T>)> {
    let mut groups: Vec<(K, Vec<&T>)> = Vec::new();
    for item in items {
        let k = key(item);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, members)) => members.push(item),
            None => groups.push((k, vec![item])),
        }
    }
    groups
}

fn os_suffix(os: Option<&OsThread>) -> String {
    match os {
        Some(os) => match &os.blocked_in {
            Some(wchan) => format!(", {} in {wchan}", os.state_name()),
            None => format!(", {}", os.state_name()),
        },
        None => String::new(),
    }
}

fn count_prefix(n: usize) -> String {
    if n > 1 {
        format!("{n}x ")
    } else {
        String::new()
    }
}

impl fmt::Display for LeakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tasks = self.leaked_tasks();
        let mut leaked = Vec::new();
        if self.leaked() > 0 {
            leaked.push(format!("{} thread(s)", self.leaked()));
        }
        if tasks > 0 {
            leaked.push(format!("{tasks} task(s)"));
        }
        if !self.processes.is_empty() {
            leaked.push(format!("{} process(es)", self.processes.len()));
        }
        let blocked = self.tasks.blocked_count();
        let mut clauses = Vec::new();
        if !leaked.is_empty() {
            clauses.push(format!("leaked {}", leaked.join(" and ")));
        }
        if blocked > 0 {
            clauses.push(format!("blocked its runtime {blocked} time(s)"));
        }
        if self.counted_teardown() > 0 {
            clauses.push(format!(
                "left its teardown to end {}",
                self.teardown_counts()
            ));
        }
        if !clauses.is_empty() {
            write!(f, "iris: test `{}` {}", self.test, clauses.join(" and "))?;
        } else {
            write!(
                f,
                "iris: test `{}` had {} background panic(s)",
                self.test,
                self.panics.len() + self.plain_panics.len() + self.tasks.panic_count()
            )?;
        }

        // Grouped only by what is really equal (container, spawn site, where they
        // are blocked); names are listed as they are, never rewritten.
        let stragglers = group(&self.stragglers, |s| {
            (
                s.info.container().to_string(),
                s.info.spawned_at(),
                s.info.is_stop_callback(),
                s.os.as_ref().map(|o| (o.state, o.blocked_in.clone())),
                s.stack.clone(),
            )
        });
        for ((container, spawned_at, callback, _, stack), members) in &stragglers {
            let first = members[0];
            let oldest = members
                .iter()
                .map(|s| s.info.alive_for())
                .max()
                .unwrap_or_default();
            let names = name_list(members.iter().map(|s| s.info.name()));
            // With a stack, the kernel's wchan says less than the frames below.
            let os = match (stack, &first.os) {
                (Some(_), Some(os)) => format!(", {}", os.state_name()),
                (_, os) => os_suffix(os.as_ref()),
            };
            if *callback {
                write!(
                    f,
                    "\n  {}on_stop callback of {names} in `{container}`, registered at {spawned_at}, \
                     still running after {oldest:.2?}{os}",
                    count_prefix(members.len()),
                )?;
            } else {
                write!(
                    f,
                    "\n  {}{names} in `{container}`, spawned at {spawned_at}, alive for {oldest:.2?}{os}",
                    count_prefix(members.len()),
                )?;
            }
            if let Some(frames) = stack {
                write_stack(f, frames)?;
            }
        }

        let unmanaged = group(&self.unmanaged, |u| {
            (
                u.os.name.clone(),
                u.inherited_name,
                u.managed
                    .as_ref()
                    .map(|m| (m.container().to_string(), m.spawned_at())),
                (u.os.state, u.os.blocked_in.clone()),
                u.origin
                    .as_ref()
                    .map(|o| (o.created_at.clone(), o.creator_tid)),
                u.stack.clone(),
            )
        });
        for ((name, inherited, managed, _, _, stack), members) in &unmanaged {
            let first = members[0];
            let tids = cut_list(members.iter().map(|u| u.os.tid.to_string()));
            let what = if *inherited {
                format!("unnamed unmanaged thread (it carries its creator's name {name:?})")
            } else {
                format!("unmanaged thread {name:?}")
            };
            // With a stack, the kernel's wchan says less than the frames below.
            let os = match stack {
                Some(_) => format!(", {}", first.os.state_name()),
                None => os_suffix(Some(&first.os)),
            };
            write!(
                f,
                "\n  {}{what} (tid {}){os}",
                count_prefix(members.len()),
                tids,
            )?;
            if let Some((container, spawned_at)) = managed {
                write!(
                    f,
                    "; managed by `{container}` (not the test's registry), spawned at {spawned_at}"
                )?;
            }
            if let Some(origin) = &first.origin {
                write_origin(f, origin, &self.test_function)?;
            }
            if let Some(frames) = stack {
                write_stack(f, frames)?;
            }
        }

        for task in &self.tasks.stragglers {
            write!(f, "\n  {task}")?;
        }
        if self.teardown.counted {
            self.write_teardown(f)?;
        }
        #[cfg(feature = "tokio")]
        for blocked in &self.tasks.blocked {
            write!(f, "\n  {}", describe_blocked(blocked))?;
        }
        self.write_stuck_runtime(f)?;
        self.write_rest(f, tasks)
    }
}

impl LeakReport {
    /// "2 thread(s), 1 task(s)": what the teardown ended, by kind.
    fn teardown_counts(&self) -> String {
        let t = &self.teardown;
        let mut parts = Vec::new();
        let threads = t.stopped.iter().filter(|i| !i.is_task()).count();
        let tasks = t.stopped.len() - threads + t.cancelled_tasks.len() + self.tasks.plain;
        if threads > 0 {
            parts.push(format!("{threads} thread(s)"));
        }
        if tasks > 0 {
            parts.push(format!("{tasks} task(s)"));
        }
        if !t.stopped_processes.is_empty() {
            parts.push(format!("{} process(es)", t.stopped_processes.len()));
        }
        parts.join(", ")
    }

    /// The lines for what the teardown ended.
    fn write_teardown(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for info in &self.teardown.stopped {
            write!(f, "\n  stopped by the teardown: {info}")?;
        }
        for process in &self.teardown.stopped_processes {
            write!(
                f,
                "\n  stopped by the teardown: managed process {process:?}"
            )?;
        }
        for task in &self.teardown.cancelled_tasks {
            write!(
                f,
                "\n  cancelled with the test's runtime (it did not stop within `stop_timeout`): {task}"
            )?;
        }
        if self.tasks.plain > 0 {
            write!(
                f,
                "\n  {} plain task(s) (tokio::spawn) still pending when the test's runtime shut down, cancelled with it",
                self.tasks.plain
            )?;
            // Said only when the clock moved: a running `spawn_blocking` holds it.
            if let Some(paused) = self.tasks.plain_paused_for.filter(|p| p.as_secs() > 0) {
                write!(
                    f,
                    ", and after {}s more of paused time (run on to see if they end by themselves)",
                    paused.as_secs()
                )?;
            }
            match &self.tasks.plain_sites {
                Some(sites) => {
                    let sites: Vec<&String> = sites.iter().collect();
                    for (site, members) in group(&sites, |s| s.to_string()) {
                        write!(f, "\n    {}spawned at {site}", count_prefix(members.len()))?;
                    }
                }
                None => write!(
                    f,
                    "\n    (where each was spawned: build with RUSTFLAGS=\"--cfg tokio_unstable\" and tokio 1.46.1 or later; `ignore_tasks` matches those sites)"
                )?,
            }
        }
        Ok(())
    }

    /// A warning about what the teardown ended, written after the run under
    /// `teardown = "warn"`; `None` when it ended nothing.
    pub(crate) fn teardown_warning(&self) -> Option<String> {
        if self.ended_by_teardown() == 0 {
            return None;
        }
        struct Lines<'a>(&'a LeakReport);
        impl fmt::Display for Lines<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.write_teardown(f)
            }
        }
        Some(format!(
            "iris: test `{}` left its teardown to end {} (teardown = \"warn\": the test still passes){}\n  hint: {}",
            self.test,
            self.teardown_counts(),
            Lines(self),
            TEARDOWN_HINT
        ))
    }

    /// The runtime's threads its shutdown could not end.
    fn write_stuck_runtime(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for thread in &self.tasks.held_workers {
            write!(
                f,
                "\n  a task is blocking its worker thread (it never reaches an `.await`): {thread}"
            )?;
            if let Some(frames) = self.tasks.stacks.get(&thread.tid) {
                write_stack(f, frames)?;
            }
        }
        for thread in &self.tasks.blocking {
            write!(
                f,
                "\n  blocking task still running after the runtime's shutdown deadline: {thread}"
            )?;
            if let Some(frames) = self.tasks.stacks.get(&thread.tid) {
                write_stack(f, frames)?;
            }
        }
        Ok(())
    }

    /// Processes, panics, notes, hints and the guide's line.
    fn write_rest(&self, f: &mut fmt::Formatter<'_>, tasks: usize) -> fmt::Result {
        for process in &self.processes {
            write!(f, "\n  {process}")?;
        }
        let running = self
            .processes
            .iter()
            .filter(|p| p.state != Some('Z'))
            .count();
        match self.processes_fate {
            Some(ProcessFate::Ended) if running > 0 => write!(
                f,
                "\n  (Iris ended {running} of these process(es), with their process groups and descendants, after this report)"
            )?,
            Some(ProcessFate::Kept) if running > 0 => write!(
                f,
                "\n  (left running, as leaks = \"warn\" asks: {running} process(es) outlive the test)"
            )?,
            _ => {}
        }

        let panics = self.panics.len() + self.plain_panics.len() + self.tasks.panic_count();
        if panics > 0 {
            if self.leaked() > 0 || tasks > 0 || !self.processes.is_empty() {
                write!(f, "\n  and {panics} background panic(s):")?;
            }
            for panic in &self.panics {
                write!(f, "\n  {panic}")?;
            }
            for panic in &self.plain_panics {
                write!(f, "\n  {panic}")?;
            }
            #[cfg(feature = "tokio")]
            for panic in &self.tasks.panics {
                write!(f, "\n  {}", describe_task_panic(panic))?;
            }
        }

        if self.tasks.runtime_threads_not_counted > 0 {
            write!(
                f,
                "\n  ({} thread(s) of the tokio runtime this check ran in were not counted: they live as long as the runtime)",
                self.tasks.runtime_threads_not_counted
            )?;
        }
        if let UnmanagedCheck::Skipped(why) = &self.unmanaged_check {
            write!(
                f,
                "\n  (threads spawned outside Iris were not checked: {why})"
            )?;
        }
        for hint in self.hints() {
            write!(f, "\n  hint: {hint}")?;
        }
        write!(
            f,
            "\n  see Iris's guide (`iris::guide` in its API docs, docs/thread-safety.md in its \
             package), \"Reading a leak report\""
        )
    }
}

impl LeakReport {
    /// One piece of advice per kind of finding present, in report order.
    fn hints(&self) -> Vec<&'static str> {
        let mut hints = Vec::new();
        if self.stragglers.iter().any(|s| s.info.is_stop_callback()) {
            hints.push(
                "an `on_stop` callback (or a Server's `shutdown`) did not return by the stop's \
                 deadline: it runs while the stop waits, so it must only signal (close a socket, \
                 stop a token, send a message) and return; do the slow part in the thread itself",
            );
        }
        if self.stragglers.iter().any(|s| !s.info.is_stop_callback()) {
            hints.push(
                "a managed thread did not exit within `stop_timeout` of its stop request: make its loop \
                 wait on its StopToken (`while !stop.wait_timeout(period)`), or unblock its blocking call \
                 from `stop.on_stop(..)`",
            );
        }
        if self.counted_teardown() > 0 {
            hints.push(TEARDOWN_HINT);
        }
        if !self.tasks.stragglers.is_empty() {
            hints.push(
                "a task outlived the test: make its loop `select!` on `stop.stopped()` (managed \
                 tasks), or keep the JoinHandle of a plain `tokio::spawn` and await or abort it \
                 before the test ends",
            );
        }
        #[cfg(feature = "tokio")]
        if !self.tasks.blocked.is_empty() {
            hints.push(
                "a task made a blocking call on a thread of its runtime (a std lock or channel, \
                 `thread::sleep`, blocking I/O): every task on that worker waited; use the async \
                 form (tokio's), or move the call into `spawn_blocking`",
            );
        }
        if !self.tasks.held_workers.is_empty() {
            hints.push(
                "a task blocked the thread that runs it (a std lock, channel or `thread::sleep` \
                 inside async code), so its runtime could not shut down: use the async form \
                 (tokio's), or move the blocking call into `spawn_blocking` with a deadline",
            );
        }
        if !self.tasks.blocking.is_empty() {
            hints.push(
                "a blocking task (`spawn_blocking`) never returned, so its runtime could not shut \
                 down: give its blocking call a deadline or a way to be woken",
            );
        }
        if !self.unmanaged.is_empty() {
            hints.push(
                "a thread started outside Iris outlived the test: shut down what started it (its \
                 `created at` line) or join the thread before the test ends, or spawn it through a \
                 container (`get_thread_registry().spawn(..)`), which stops it with the test",
            );
        }
        if self.processes.iter().any(|p| p.container.is_some()) {
            hints.push(
                "a managed process outlived the stop: it ignored SIGTERM for longer than \
                 `stop_timeout`; make it exit on SIGTERM, or give it a `grace` shorter than \
                 `stop_timeout`",
            );
        }
        if self.processes.iter().any(|p| p.container.is_none()) {
            hints.push(
                "a child process the test started was never stopped or waited for: wait for it, or \
                 start it with `spawn_process`, which stops and reaps it for you",
            );
        }
        if !self.plain_panics.is_empty() {
            hints.push(
                "a plain thread panicked and nobody joined it, so nobody saw the panic: keep its \
                 JoinHandle and `join()` it (the Err is the panic), or spawn it through a container; \
                 if the test means it (a pool's job that fails on purpose), `thread_panics = \"warn\"` \
                 on the test says so",
            );
        }
        if self.tasks.panic_count() > 0 {
            hints.push(
                "a plain task panicked and tokio kept the panic in its JoinHandle: await the \
                 handle and check the Err, or spawn the task with `spawn_task`, whose panic fails \
                 the test by itself (this test counts such panics: task_panics = \"fail\")",
            );
        }
        if self
            .unmanaged
            .iter()
            .any(|u| u.inherited_name && u.managed.is_none() && u.origin.is_none())
        {
            hints.push(
                "an unnamed thread carries its creator's name, so no name glob can tell a pool's \
                 thread from a leak: turn on the `thread-tracking` feature (a default one, on \
                 Linux with glibc; off here) to see where it was created and to match \
                 `ignore_threads` against the function that created it",
            );
        }
        if self.unmanaged.iter().any(|u| {
            u.origin.as_ref().is_some_and(|o| {
                o.known_pool.is_some_and(|(_, glob)| !glob.is_empty())
                    || o.known_pool.is_none() && keep_glob(o, &self.test_function).is_some()
            })
        }) {
            hints.push(
                "a process-wide pool is made by whichever test touches it first, and lives on: \
                 ignore it with the `ignore_threads` glob its line gives, or create it before the tests",
            );
        }
        if !self.panics.is_empty() {
            hints.push(
                "a background thread panicked (message above), so its work never finished: fix the \
                 panic, or join the thread and handle its Err",
            );
        }
        hints
    }
}

/// Advice for what the teardown had to end.
const TEARDOWN_HINT: &str = "the test ended with components still running, and its teardown \
     ended them: shut each down in the test before it ends (stop its container or call its \
     `stop()`, `stop_async` its managed tasks, abort and await a plain task's JoinHandle); \
     `teardown = \"ignore\"`, the default, accepts the teardown's help";

/// The lines under a leaked thread that say where it came from.
fn write_origin(
    f: &mut fmt::Formatter<'_>,
    origin: &ThreadOrigin,
    test_function: &str,
) -> fmt::Result {
    match &origin.created_at {
        Some(site) => write!(f, "\n      created at {site}")?,
        None => match inlined_creator(&origin.functions) {
            Some(InlinedCreator::TestBody) => write!(
                f,
                "\n      created in the test's body (`{test_function}`; inlined in this build, \
                 so no line: a build with debug information gives it)"
            )?,
            Some(InlinedCreator::ThreadClosure) => write!(
                f,
                "\n      created in the closure its creator thread runs (inlined in this \
                 build, so no line: a build with debug information gives it)"
            )?,
            Some(InlinedCreator::Combinator(combinator)) => write!(
                f,
                "\n      created in a future that `{combinator}` polled (its code inlined \
                 there in this build, so no line: a build with debug information gives it)"
            )?,
            None => write!(
                f,
                "\n      created (no frame of yours on the creating stack)"
            )?,
        },
    }
    write!(
        f,
        " by thread {:?} (tid {})",
        origin.creator, origin.creator_tid
    )?;
    if let Some(age) = origin.age {
        write!(f, ", {age:.2?} ago")?;
    }
    match origin.known_pool {
        Some((what, glob)) if !glob.is_empty() => write!(
            f,
            "\n      this looks like {what}: ignore it with `ignore_threads = \"{glob}\"`"
        )?,
        Some((what, _)) => write!(f, "\n      this looks like {what}")?,
        None => {
            if let Some(fix) = origin.known_fix {
                write!(f, "\n      {fix}")?;
            } else if let Some(glob) = keep_glob(origin, test_function) {
                // Only where the stack says "kept for the process" (a function the
                // default lists or their rules know, switched off here): the glob
                // names that function and nothing else.
                write!(
                    f,
                    "\n      it was made where a thread kept for the process is made (the \
                     default lists are off): `ignore_threads = \"{glob}\"` waives it"
                )?;
            }
        }
    }
    Ok(())
}

/// Iris's functions that run a test's body: generic over it, so an optimised build
/// may inline the body into them, and a creating stack then shows one of these
/// where the test's own function would be.
const BODY_RUNNERS: &[&str] = &[
    // `run_test`, and with a `timeout` the body's own thread (`on_body_thread`).
    "iris::leaks::harness::",
    "iris::leaks::async_harness::run_async_test",
    // An async body is polled inside this wrapper (every flavor, with a timeout too).
    "iris::tasks::runtime::block_on",
];

/// Crates whose generic futures poll the user's (`join_all`, `FuturesUnordered`,
/// `select`, `block_on`): an optimised build inlines the user's future into their
/// poll, which then names where a thread was made.
const COMBINATORS: &[&str] = &["futures_", "futures::"];

/// Who made a thread whose creating stack has no frame of the user's, when an
/// optimised build inlined that code into a frame that tells.
#[derive(Debug, PartialEq)]
enum InlinedCreator {
    /// The test's body, inlined into one of [`BODY_RUNNERS`].
    TestBody,
    /// The closure its creator thread runs, inlined into std's thread start
    /// (`__rust_begin_short_backtrace`).
    ThreadClosure,
    /// A future a combinator polled (`join_all`, `FuturesUnordered`, `select`),
    /// inlined into the combinator's poll, which is named.
    Combinator(String),
}

/// Past the thread's creation (libc, std's spawn, Iris's hook), the first frame of a
/// creating stack (innermost first) that is not std's says who made the thread:
/// Iris's harness running a test's body, or std's start of the creator thread
/// itself. Anything else (a library's or the user's function) is not told here.
fn inlined_creator(functions: &[String]) -> Option<InlinedCreator> {
    let first = functions
        .iter()
        .map(|f| f.trim_start_matches('<'))
        .find(|f| {
            f.contains("::")
                && (is_thread_start(f)
                    || !["std::", "core::", "alloc::", "iris::tracking::"]
                        .iter()
                        .any(|p| f.starts_with(p)))
        })?;
    if BODY_RUNNERS.iter().any(|runner| first.starts_with(runner)) {
        Some(InlinedCreator::TestBody)
    } else if is_thread_start(first) {
        Some(InlinedCreator::ThreadClosure)
    } else if COMBINATORS.iter().any(|c| first.starts_with(c)) {
        Some(InlinedCreator::Combinator(
            first.split("::{{").next().unwrap_or(first).to_string(),
        ))
    } else {
        None
    }
}

/// The `ignore_threads` globs a leaked thread's line offers, only where its creating
/// stack says it is kept for the process (a function of the default lists or their
/// rules, which are switched off, or the thread would not be reported): the globs
/// naming that function and nothing else. Never for the test's own function (or a
/// closure in it): a thread the test's body started is the test's.
fn keep_glob(origin: &ThreadOrigin, test_function: &str) -> Option<String> {
    let kept = origin
        .functions
        .iter()
        .find(|f| crate::tracking::is_process_scoped_creator(f))?;
    let glob = creator_glob(kept)?;
    (!glob.starts_with(&format!("{test_function}, "))).then_some(glob)
}

/// The globs that match `function` as a creating function and nothing else: its path
/// without the closures inside it, and the same path followed by `::` and anything
/// (debug information and the symbol table write closures differently), so that a
/// sibling whose name only begins the same (`try_new` and `try_new_with_opts`) is
/// not matched. A method of an inherent `impl` reads
/// `krate::module::<impl krate::Type<A, B>>::method`, whose `impl` block the two
/// also write differently (with the type's generic names or without): the block
/// becomes `*`. A trait method (`<T as Trait>::method`) gets none.
fn creator_glob(function: &str) -> Option<String> {
    let mut path = function
        .split("::{")
        .next()?
        .trim_start_matches('<')
        .to_string();
    while let Some(start) = path.find("<impl ") {
        let mut depth = 0i32;
        let mut previous = ' ';
        let end = path[start..].char_indices().find_map(|(i, c)| {
            match (previous, c) {
                (_, '<') => depth += 1,
                ('-', '>') => {} // `Fn() -> T`
                (_, '>') => depth -= 1,
                _ => {}
            }
            previous = c;
            (depth == 0).then_some(start + i)
        })?;
        path.replace_range(start..=end, "*");
    }
    (path.contains("::") && !path.contains(' ')).then(|| format!("{path}, {path}::*"))
}

/// The line under a leaked thread that says where it is now.
fn write_stack(f: &mut fmt::Formatter<'_>, frames: &[Frame]) -> fmt::Result {
    let mut frames = frames.iter();
    if let Some(first) = frames.next() {
        // The call it is blocked in reads best by name; the user's frames by place.
        if crate::tracking::frames::is_plumbing_frame(first) {
            write!(f, "\n      now in {}", first.function)?;
        } else {
            write!(f, "\n      now in {first}")?;
        }
    }
    for frame in frames {
        write!(f, "\n        called from {frame}")?;
    }
    Ok(())
}

/// Names as they are, quoted; a long list is cut after eight.
fn name_list<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    cut_list(names.map(|n| format!("{n:?}")))
}

/// The first 8 items, then how many more: a group of thousands stays one short line.
fn cut_list(items: impl ExactSizeIterator<Item = String>) -> String {
    let total = items.len();
    let mut shown: Vec<String> = items.take(8).collect();
    if total > 8 {
        shown.push(format!("and {} more", total - 8));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::glob::glob_matches;
    use std::panic::Location;
    use std::time::Instant;

    fn info(name: &str, at: &'static Location<'static>) -> ThreadInfo {
        ThreadInfo {
            name: name.into(),
            container: "test:t/pool".into(),
            spawned_at: at,
            started: Instant::now(),
            os_tid: None,
            is_task: false,
            stop_callback: false,
        }
    }

    #[test]
    fn a_leaked_process_line_reads_well_with_or_without_its_command_line() {
        let zombie = LeakedProcess {
            pid: 42,
            command_line: "[printf]".into(),
            state: Some('Z'),
            name: None,
            container: None,
            exited: false,
        };
        assert_eq!(
            zombie.to_string(),
            "unmanaged child process (pid 42): [printf], a zombie nobody reaped"
        );
        let unknown = LeakedProcess {
            command_line: String::new(),
            ..zombie
        };
        assert_eq!(
            unknown.to_string(),
            "unmanaged child process (pid 42), a zombie nobody reaped"
        );
    }

    fn report(stragglers: Vec<Straggler>, panics: Vec<ThreadPanic>) -> LeakReport {
        LeakReport {
            test: "t".into(),
            test_function: "it::t".into(),
            stragglers,
            unmanaged: Vec::new(),
            processes: Vec::new(),
            panics,
            unmanaged_check: UnmanagedCheck::Checked,
            tasks: TaskFindings::default(),
            plain_panics: Vec::new(),
            timed_out: None,
            processes_fate: None,
            warned: Warned::default(),
            teardown: Teardown::default(),
        }
    }

    #[test]
    fn names_are_listed_as_they_are() {
        assert_eq!(name_list(["w-1", "w-2"].into_iter()), "\"w-1\", \"w-2\"");
        let many: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
        assert!(name_list(many.iter().map(String::as_str)).ends_with("\"t7\", and 2 more"));
    }

    fn unmanaged(tid: u32, name: &str, inherited_name: bool) -> UnmanagedThread {
        UnmanagedThread {
            os: OsThread {
                tid,
                name: name.into(),
                state: 'S',
                blocked_in: Some("futex_wait_queue".into()),
            },
            managed: None,
            inherited_name,
            origin: None,
            stack: None,
        }
    }

    /// Whether a comma-separated list of globs matches `name`.
    fn globs_match(globs: &str, name: &str) -> bool {
        globs.split(", ").any(|g| glob_matches(g, name))
    }

    #[test]
    fn a_creating_function_becomes_globs_for_it_and_its_closures_only() {
        let globs = creator_glob("mockito::server::Server::try_new::{{closure}}").unwrap();
        assert_eq!(
            globs,
            "mockito::server::Server::try_new, mockito::server::Server::try_new::*"
        );
        assert!(globs_match(&globs, "mockito::server::Server::try_new"));
        assert!(globs_match(
            &globs,
            "mockito::server::Server::try_new::{{closure}}"
        ));
        // A sibling whose name only begins the same is not waived (it once was,
        // through `try_new*`, and its servers were real leaks).
        assert!(!globs_match(
            &globs,
            "mockito::server::Server::try_new_with_opts"
        ));
        assert!(!globs_match(
            &globs,
            "mockito::server::Server::try_new_with_opts::{{closure}}"
        ));
        assert_eq!(
            creator_glob("<my_crate::Pool as my_crate::Spawn>::spawn").as_deref(),
            None,
            "a trait method's name has spaces: no glob is promised"
        );
        assert_eq!(creator_glob("main").as_deref(), None);
        // governor's rate limiter, where futures-timer's global thread is started.
        let method = "governor::state::direct::future::<impl governor::state::RateLimiter<\
                      governor::state::direct::NotKeyed,S,C,MW>>::until_ready_with_jitter::{{closure}}";
        let globs = creator_glob(method).unwrap();
        assert_eq!(
            globs,
            "governor::state::direct::future::*::until_ready_with_jitter, \
             governor::state::direct::future::*::until_ready_with_jitter::*"
        );
        assert!(globs_match(&globs, method));
        // The symbol table's spelling of the same method.
        assert!(globs_match(
            &globs,
            "governor::state::direct::future::<impl governor::state::RateLimiter<NK,S,C,MW>>\
             ::until_ready_with_jitter::{{closure}}"
        ));
        assert!(!globs_match(
            &globs,
            "governor::state::direct::future::<impl governor::state::RateLimiter<NK,S,C,MW>>\
             ::until_ready_with_jitter_and_more"
        ));
        // An `impl` that never closes is no glob.
        assert_eq!(
            creator_glob("my_crate::<impl my_crate::Pool::grow").as_deref(),
            None
        );
    }

    fn created_by(tid: u32, function: &str) -> UnmanagedThread {
        UnmanagedThread {
            origin: Some(ThreadOrigin {
                created_at: Some(Frame {
                    function: function.into(),
                    file: Some("tests/it.rs".into()),
                    line: Some(7),
                }),
                creator: "leaky".into(),
                creator_tid: 1,
                age: None,
                functions: vec![function.into()],
                known_pool: None,
                known_fix: None,
            }),
            ..unmanaged(tid, "leaky", true)
        }
    }

    /// A thread the test's own body started is the test's: its line offers no glob
    /// to keep it (one for the test's function would waive every thread the test
    /// makes), and the hint about process-wide pools is not given for it. Found on
    /// hyper-util's `connection_poisoning`, whose server threads it started itself.
    #[test]
    fn a_thread_the_test_itself_started_is_offered_no_glob_to_keep_it() {
        let mut own = report(Vec::new(), Vec::new());
        // libtest names the test's thread without the crate; the function has it.
        own.test = "leaky".into();
        own.test_function = "it::leaky".into();
        own.unmanaged = vec![
            created_by(11, "it::leaky::{{closure}}"),
            created_by(12, "it::leaky"),
        ];
        let text = own.to_string();
        assert!(
            text.contains("created at tests/it.rs:7 in it::leaky"),
            "{text}"
        );
        assert!(!text.contains("ignore_threads = "), "{text}");
        assert!(!text.contains("a process-wide pool is made by"), "{text}");
        assert!(
            text.contains("or join the thread before the test ends"),
            "{text}"
        );

        // A function of a library's, or another test's helper: no waiver either, only
        // the fix (a forgotten watcher's threads once got a glob and the pool hint).
        let mut pool = own.clone();
        pool.unmanaged = vec![created_by(
            13,
            "my_crate::watch::Watcher::start::{{closure}}",
        )];
        let text = pool.to_string();
        assert!(!text.contains("ignore_threads = "), "{text}");
        assert!(!text.contains("a process-wide pool is made by"), "{text}");
        assert!(text.contains("shut down what started it"), "{text}");
        // A stack that says "kept for the process" (the default lists off): the glob
        // names exactly the function that says so.
        let mut kept = own.clone();
        let mut thread = created_by(14, "my_crate::serve::{{closure}}");
        if let Some(origin) = thread.origin.as_mut() {
            origin.functions = vec![
                "my_crate::serve::{{closure}}".into(),
                "mock_lib::server_pool::ServerPool::get_async::{{closure}}".into(),
            ];
        }
        kept.unmanaged = vec![thread];
        let text = kept.to_string();
        assert!(
            text.contains("`ignore_threads = \"mock_lib::server_pool::ServerPool::get_async, mock_lib::server_pool::ServerPool::get_async::*\"` waives it"),
            "{text}"
        );
        assert!(text.contains("a process-wide pool is made by"), "{text}");
    }

    /// A release build without debug information inlines the test's body into
    /// Iris's harness, and a thread's closure into std's thread start: the creating
    /// stack has no frame of the user's, but it came straight from the body (the
    /// line says so, naming the test) or from its creator thread's own closure.
    #[test]
    fn a_thread_made_by_inlined_code_is_put_to_what_made_it() {
        let stack = |caller: &str| -> Vec<String> {
            [
                "iris::tracking::hooks::own_stack",
                "pthread_create",
                "<std::sys::thread::unix::Thread>::new",
                "std::thread::lifecycle::spawn_unchecked",
                caller,
                "core::ops::function::FnOnce::call_once",
                "test::run_test::{closure#0}",
            ]
            .map(String::from)
            .to_vec()
        };
        let creator = |caller: &str| inlined_creator(&stack(caller));
        assert_eq!(
            creator("iris::leaks::harness::run_test"),
            Some(InlinedCreator::TestBody)
        );
        assert_eq!(
            creator("iris::tasks::runtime::block_on::{{closure}}"),
            Some(InlinedCreator::TestBody)
        );
        // A thread that a thread the test started made, in its own closure (seen on
        // hyper-util: a server thread starting two more).
        assert_eq!(
            creator("std::sys::backtrace::__rust_begin_short_backtrace"),
            Some(InlinedCreator::ThreadClosure)
        );
        assert_eq!(creator("rayon_core::registry::Registry::new"), None);
        assert_eq!(creator("iris::threads::spawn::start"), None);

        let mut r = report(Vec::new(), Vec::new());
        let mut thread = created_by(21, "unused");
        if let Some(origin) = thread.origin.as_mut() {
            origin.created_at = None;
            origin.functions = stack("iris::leaks::harness::run_test");
        }
        r.unmanaged = vec![thread];
        let text = r.to_string();
        assert!(
            text.contains("created in the test's body (`it::t`; inlined in this build, so no line: a build with debug information gives it) by thread"),
            "{text}"
        );
        assert!(!text.contains("ignore_threads = "), "{text}");
    }

    #[test]
    fn a_plain_tasks_line_says_how_long_it_was_run_on_only_when_the_clock_moved() {
        let mut r = report(Vec::new(), Vec::new());
        r.tasks.plain = 1;
        r.teardown.counted = true;
        r.tasks.plain_paused_for = Some(Duration::from_millis(3_600_004));
        let text = r.to_string();
        assert!(
            text.contains("1 plain task(s) (tokio::spawn) still pending when the test's runtime shut down, cancelled with it, and after 3600s more of paused time (run on to see if they end by themselves)\n"),
            "{text}"
        );
        // A running `spawn_blocking` held the clock: no claim about paused time.
        r.tasks.plain_paused_for = Some(Duration::ZERO);
        let text = r.to_string();
        assert!(
            text.contains(
                "1 plain task(s) (tokio::spawn) still pending when the test's runtime shut down, cancelled with it\n"
            ),
            "{text}"
        );
        // Not counted (the default): the teardown's work is no finding.
        r.teardown.counted = false;
        assert!(r.is_clean());
        assert_eq!(r.findings(), 0);
        assert_eq!(r.ended_by_teardown(), 1);
    }

    #[test]
    fn two_thousand_identical_plain_threads_are_one_short_line() {
        let mut r = report(Vec::new(), Vec::new());
        r.unmanaged = (0..2000)
            .map(|i| unmanaged(1000 + i, "spinner", false))
            .collect();
        let text = r.to_string();
        assert!(
            text.starts_with("iris: test `t` leaked 2000 thread(s)"),
            "{text}"
        );
        let line = text
            .lines()
            .find(|l| l.contains("2000x unmanaged thread \"spinner\""))
            .unwrap_or_else(|| panic!("one grouped line: {text}"));
        assert!(
            line.contains("(tid 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, and 1992 more)"),
            "{line}"
        );
        assert!(line.len() < 200, "{line}");
    }

    #[test]
    fn an_unnamed_thread_says_whose_name_it_carries_and_names_are_never_rewritten() {
        let mut r = report(Vec::new(), Vec::new());
        r.unmanaged = vec![
            unmanaged(11, "chan3::main", true),
            unmanaged(12, "chan3::main", true),
            unmanaged(13, "chan4::main", false),
        ];
        let text = r.to_string();
        assert!(
            text.contains("2x unnamed unmanaged thread (it carries its creator's name \"chan3::main\") (tid 11, 12), sleeping in futex_wait_queue"),
            "{text}"
        );
        assert!(
            text.contains("unmanaged thread \"chan4::main\" (tid 13)"),
            "{text}"
        );
        assert!(!text.contains("chanN"), "{text}");
        assert!(
            text.contains("or join the thread before the test ends"),
            "{text}"
        );
        assert!(
            text.contains("no name glob can tell a pool's thread from a leak: turn on the `thread-tracking` feature (a default one"),
            "an unnamed thread without a known origin points to tracking: {text}"
        );
        // Once its origin is known, that advice is not given.
        for thread in &mut r.unmanaged {
            thread.origin = Some(ThreadOrigin {
                created_at: None,
                creator: "main".into(),
                creator_tid: 1,
                age: None,
                functions: Vec::new(),
                known_pool: None,
                known_fix: None,
            });
        }
        assert!(!r.to_string().contains("turn on the `thread-tracking`"));
        assert!(
            !text.contains("StopToken"),
            "advice for managed threads only: {text}"
        );
    }

    #[test]
    fn identical_leaks_are_grouped() {
        let at = Location::caller();
        let other = Location::caller();
        let mut stragglers: Vec<_> = (0..16)
            .map(|i| Straggler {
                info: info(&format!("worker-{i}"), at),
                os: None,
                stack: None,
            })
            .collect();
        stragglers.push(Straggler {
            info: info("server", other),
            os: None,
            stack: None,
        });
        let text = report(stragglers, Vec::new()).to_string();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "iris: test `t` leaked 17 thread(s)");
        assert!(
            lines[1].starts_with(
                "  16x \"worker-0\", \"worker-1\", \"worker-2\", \"worker-3\", \"worker-4\", \"worker-5\", \"worker-6\", \"worker-7\", and 8 more in `test:t/pool`, spawned at src/leaks/report.rs:"
            ),
            "{text}"
        );
        assert!(
            lines[2].starts_with("  \"server\" in `test:t/pool`"),
            "{text}"
        );
        assert!(
            lines[3].contains("hint: a managed thread did not exit within `stop_timeout`"),
            "{text}"
        );
        assert!(lines[4].contains("Reading a leak report"), "{text}");
        assert!(
            !text.contains("ignore_threads"),
            "advice for unmanaged threads only: {text}"
        );
    }

    #[test]
    fn panics_only_report_and_json() {
        let panic = ThreadPanic {
            thread_name: "boom".into(),
            container: "test:t".into(),
            message: "bad \"quote\"".into(),
        };
        let r = report(Vec::new(), vec![panic]);
        let text = r.to_string();
        assert!(
            text.starts_with(
                "iris: test `t` had 1 background panic(s)\n  \"boom\" in `test:t` panicked"
            ),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json_line()).unwrap();
        assert_eq!(json["test"], "t");
        assert_eq!(json["panics"][0]["message"], "bad \"quote\"");
        // Every finding counts, with the kinds beside the total.
        assert_eq!(json["leaked"], 1);
        assert_eq!(json["counts"]["panics"], 1);
        assert_eq!(json["counts"]["threads"], 0);
        assert!(!r.to_json_line().contains('\n'));
    }
}
