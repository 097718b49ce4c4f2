//! What a test left behind, found after its registry was stopped: threads started
//! outside Iris and child processes, waited for during the grace period (`linger`)
//! and described for the report.
//!
//! Invariants:
//! - How unmanaged threads are found is decided once, when the test begins
//!   ([`ThreadCheck`]): with thread tracking, the threads charged to the test, under
//!   any runner; without it, the threads born since a snapshot, only when the test
//!   owns the process (nextest, one test thread, or declared); otherwise not at all,
//!   and the report says why.
//! - The lingering wait ends as soon as nothing is left, and never waits past
//!   `linger` (plus a bounded moment for threads still starting). A zombie child is
//!   waited for like a running one: a library may reap it in the background
//!   (async-process hands a dropped `Child` to its reaper thread), and only one
//!   nobody reaps within `linger` is a leak.
//! - While waiting, only cheap checks run (names, the symbol table); debug info is
//!   read only for threads still alive when the wait is over.
//! - Iris's helper threads, the test's own threads and what is already reported are
//!   never counted.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::leaks::harness::options::TestOptions;
use crate::leaks::output::{self, Runner};
use crate::leaks::report::{LeakedProcess, UnmanagedThread};
use crate::os::processes;
use crate::os::threads::{self as os_threads, OsThread};
use crate::sync::deadline::Deadline;
use crate::threads::managed_thread::{current_os_tid, managed_by_tid};
use crate::tracking;
#[cfg(feature = "tokio")]
use crate::tracking::whose::os_name_matches;
use crate::tracking::whose::{waived_at_a_glance, waived_by_origin, Waivers};
use crate::wait::condition::Backoff;

/// What the lingering wait needs to know about the test.
pub(in crate::leaks) struct Survey<'a> {
    pub(in crate::leaks) options: &'a TestOptions,
    /// When the grace period ends (`linger` after the body, for a sync test from now).
    pub(in crate::leaks) grace: Deadline,
    pub(in crate::leaks) check: &'a ThreadCheck,
    /// The tracker's id for the test (0: none).
    pub(in crate::leaks) tracked_scope: u64,
    /// The thread running the body, when it is not the one that opened the scope.
    pub(in crate::leaks) body_tid: Option<u32>,
    /// The thread that opened the scope.
    pub(in crate::leaks) own_tid: Option<u32>,
}

/// tokio's default names for its pool threads (they changed in tokio 1.4x).
#[cfg(feature = "tokio")]
const TOKIO_THREAD_NAMES: [&str; 2] = ["tokio-runtime-w*", "tokio-rt-worker*"];

/// When the check runs inside a live tokio runtime (a `TestScope` in a
/// `#[tokio::test]`), that runtime's pool threads (tokio's default names) are not the
/// test's leak: they live as long as the runtime, which outlives the check. Returns
/// the other threads and how many were set aside.
#[cfg(feature = "tokio")]
pub(in crate::leaks) fn without_running_runtime_threads(
    threads: Vec<UnmanagedThread>,
) -> (Vec<UnmanagedThread>, usize) {
    if tokio::runtime::Handle::try_current().is_err() {
        return (threads, 0);
    }
    let (runtime, others): (Vec<_>, Vec<_>) = threads.into_iter().partition(|t| {
        t.managed.is_none()
            && TOKIO_THREAD_NAMES
                .iter()
                .any(|g| os_name_matches(g, &t.os.name))
    });
    (others, runtime.len())
}

#[cfg(not(feature = "tokio"))]
pub(in crate::leaks) fn without_running_runtime_threads(
    threads: Vec<UnmanagedThread>,
) -> (Vec<UnmanagedThread>, usize) {
    (threads, 0)
}

/// Whether this test has the process to itself, so that every new OS thread is its.
pub(in crate::leaks) fn process_ownership(declared: bool) -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err(UNSUPPORTED_PLATFORM.into());
    }
    if declared {
        return Ok(());
    }
    match output::runner() {
        Runner::Nextest | Runner::LibtestSerial => Ok(()),
        Runner::Shared => Err(SHARED_PROCESS.into()),
    }
}

pub(in crate::leaks) const UNSUPPORTED_PLATFORM: &str =
    "only supported on Linux (it reads the process's threads and children from /proc)";

pub(in crate::leaks) const SHARED_PROCESS: &str =
    "the process may be shared with other tests; run under cargo nextest or with --test-threads=1";

/// The process's threads and child processes at the start of a test.
#[derive(Debug)]
pub(in crate::leaks) struct Snapshot {
    pub(in crate::leaks) tids: HashSet<u32>,
    pub(in crate::leaks) children: HashSet<u32>,
}

impl Snapshot {
    pub(in crate::leaks) fn take() -> Option<Snapshot> {
        Some(Snapshot {
            tids: os_threads::snapshot_tids()?,
            children: processes::child_pids_of(parent_threads(&[])).unwrap_or_default(),
        })
    }
}

/// The threads whose children a test can have made: the main thread (which inherits
/// the children of threads that exit), the calling thread, and `newborn` threads.
pub(in crate::leaks) fn parent_threads(newborn: &[u32]) -> Vec<u32> {
    let mut tids = vec![std::process::id()];
    tids.extend(current_os_tid());
    tids.extend_from_slice(newborn);
    tids.sort_unstable();
    tids.dedup();
    tids
}

/// Child processes born since `before`, other than `known` ones, still there (a
/// zombie counts: nobody reaped it).
pub(in crate::leaks) fn children_born_since(
    before: &HashSet<u32>,
    known: &HashSet<u32>,
    newborn_threads: &[u32],
) -> Vec<LeakedProcess> {
    leaked_processes(child_pids_born_since(before, known, newborn_threads))
}

/// The pids of [`children_born_since`], sorted, without reading what each one is.
pub(in crate::leaks) fn child_pids_born_since(
    before: &HashSet<u32>,
    known: &HashSet<u32>,
    newborn_threads: &[u32],
) -> Vec<u32> {
    let mut pids: Vec<u32> = processes::child_pids_of(parent_threads(newborn_threads))
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !before.contains(p) && !known.contains(p))
        .collect();
    pids.sort_unstable();
    pids
}

/// The pids of the child processes the tracker charged to `scope` that are still
/// this process's children (running, or zombies nobody reaped), other than `known`
/// ones. (An async test asks while its runtime shuts down.)
#[cfg(feature = "tokio")]
pub(in crate::leaks) fn tracked_child_pids(scope: u64, known: &HashSet<u32>) -> Vec<u32> {
    still_our_children(tracking::view_of(scope).children, known)
}

/// Of `pids`, those other than `known` ones still this process's children.
fn still_our_children(pids: Vec<u32>, known: &HashSet<u32>) -> Vec<u32> {
    let me = std::process::id();
    pids.into_iter()
        .filter(|pid| !known.contains(pid))
        // Still ours: a pid whose parent is someone else was reaped and reused.
        .filter(|pid| processes::process_stat(*pid).is_some_and(|(_, ppid)| ppid == me))
        .collect()
}

/// Descriptions of processes `pids` that still exist (a zombie counts).
fn leaked_processes(pids: Vec<u32>) -> Vec<LeakedProcess> {
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
                exited: false,
            })
        })
        .collect()
}

#[cfg(all(unix, feature = "process"))]
pub(in crate::leaks) fn managed_process(pid: u32) -> Option<(String, String)> {
    crate::process::managed_by_pid(pid)
}

#[cfg(not(all(unix, feature = "process")))]
pub(in crate::leaks) fn managed_process(_pid: u32) -> Option<(String, String)> {
    None
}

/// The test's managed processes, held from before its registry's stop to its
/// verdict (`process::Held`): none leaves the list in between.
#[derive(Clone, Default)]
pub(crate) struct TestProcesses {
    #[cfg(all(unix, feature = "process"))]
    held: crate::process::Held,
}

impl TestProcesses {
    /// The managed processes of the registry at `registry_path`, held.
    pub(crate) fn hold(registry_path: &str) -> TestProcesses {
        #[cfg(all(unix, feature = "process"))]
        return TestProcesses {
            held: crate::process::hold_under(registry_path),
        };
        #[cfg(not(all(unix, feature = "process")))]
        {
            let _ = registry_path;
            TestProcesses::default()
        }
    }

    /// Their containers: the threads in them are Iris's helpers.
    pub(in crate::leaks) fn containers(&self) -> Vec<String> {
        #[cfg(all(unix, feature = "process"))]
        return self.held.containers();
        #[cfg(not(all(unix, feature = "process")))]
        Vec::new()
    }

    /// Those that were running at `deadline` (the stop's), and may have exited since.
    pub(in crate::leaks) fn left_at(&self, deadline: Instant) -> Vec<LeakedProcess> {
        #[cfg(all(unix, feature = "process"))]
        return self
            .held
            .running_at(deadline)
            .into_iter()
            .map(|p| LeakedProcess {
                state: if p.exited {
                    None
                } else {
                    processes::process_stat(p.pid).map(|(state, _)| state)
                },
                exited: p.exited,
                pid: p.pid,
                command_line: p.command_line,
                name: Some(p.name),
                container: Some(p.container),
            })
            .collect();
        #[cfg(not(all(unix, feature = "process")))]
        {
            let _ = deadline;
            Vec::new()
        }
    }
}

/// OS threads born since `before`, other than `known` ones, the calling thread and
/// Iris's own helpers; sorted.
pub(in crate::leaks) fn threads_born_since(
    before: &HashSet<u32>,
    known: &HashSet<u32>,
) -> Vec<u32> {
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

/// The live threads the tracker charged to `scope`, other than Iris's helpers and
/// the calling thread, sorted; and how many more are starting (ids not known yet).
pub(in crate::leaks) fn tracked_threads(scope: u64) -> (Vec<u32>, usize) {
    let view = tracking::view_of(scope);
    (not_helpers(view.threads), view.starting)
}

/// Of `tids`, those other than Iris's helpers and the calling thread.
fn not_helpers(tids: Vec<u32>) -> Vec<u32> {
    let helpers = os_threads::helper_tids();
    let me = current_os_tid();
    tids.into_iter()
        .filter(|t| !helpers.contains(t) && Some(*t) != me)
        .collect()
}

/// How long a thread created for a test gets to start running (and so be seen).
pub(in crate::leaks) const STARTING_PATIENCE: Duration = Duration::from_secs(1);

/// How long a leaked thread gets to answer a request for its stack.
/// (A thread in a non-interruptible wait, or with signals blocked, never answers;
/// a busy machine can take tens of milliseconds to schedule one that will.)
pub(in crate::leaks) const LIVE_STACK_PATIENCE: Duration = Duration::from_millis(250);

/// How threads started outside Iris are checked at the end of a test.
#[derive(Debug)]
pub(in crate::leaks) enum ThreadCheck {
    /// The test owns the process: threads born since this snapshot are its own.
    Diff(Snapshot),
    /// Thread tracking charges each thread to the test it was created for.
    Tracked,
    /// Not checked, and why.
    Off(String),
}

/// Threads (and, when the test owns the process, child processes) born for the
/// test, other than Iris's helpers, this thread and what is already reported,
/// still alive after the grace period. The wait ends as soon as they are all
/// gone; a zombie is waited for too, since another thread may reap it (a library's
/// reaper thread, as async-process's). Threads
/// whose name or creating functions match `ignore_threads` are neither waited
/// for nor reported.
pub(in crate::leaks) fn lingering(
    survey: &Survey<'_>,
    reported_tids: &HashSet<u32>,
    reported_pids: &HashSet<u32>,
) -> (Vec<UnmanagedThread>, Vec<LeakedProcess>) {
    // A test that started no thread and no process (most tests) has nothing to
    // wait for or describe: one look at the tracker says so.
    if matches!(survey.check, ThreadCheck::Tracked)
        && tracking::scope_is_empty(survey.tracked_scope)
    {
        return (Vec::new(), Vec::new());
    }
    let look = || newcomers(survey, reported_tids, reported_pids);
    let backoff = Backoff::new(Duration::from_micros(50), Duration::from_millis(10));
    let mut left = look();
    while left.waiting() && !survey.grace.is_expired() {
        survey.grace.sleep_at_most(backoff.next_pause());
        left = look();
    }
    // A thread created but not running yet has no id to report; it runs within
    // microseconds, so it is waited for past `linger` (boundedly).
    let registered = Deadline::after(STARTING_PATIENCE);
    while left.starting > 0 && !registered.is_expired() {
        registered.sleep_at_most(backoff.next_pause());
        left = look();
    }
    (described(survey, &left.threads), left.children)
}

/// What the lingering wait still sees.
struct Left {
    threads: Vec<u32>,
    children: Vec<LeakedProcess>,
    /// Threads created but not running yet.
    starting: usize,
}

impl Left {
    fn waiting(&self) -> bool {
        !self.threads.is_empty() || self.starting > 0 || !self.children.is_empty()
    }
}

/// Threads (and children) born for the test and alive now, less what is reported
/// already, the body's thread and what the options or the defaults waive.
fn newcomers(
    survey: &Survey<'_>,
    reported_tids: &HashSet<u32>,
    reported_pids: &HashSet<u32>,
) -> Left {
    let (newborn, children, starting) = match &survey.check {
        ThreadCheck::Diff(before) => {
            let newborn = threads_born_since(&before.tids, &HashSet::new());
            // Stragglers' children count too, so look at every newborn thread.
            let children = children_born_since(&before.children, reported_pids, &newborn);
            (newborn, children, 0)
        }
        ThreadCheck::Tracked => {
            // One look for threads and children: a thread that starts a child and
            // ends between two looks would otherwise hide both.
            let view = tracking::view_of(survey.tracked_scope);
            let children = still_our_children(view.children, reported_pids);
            (
                not_helpers(view.threads),
                leaked_processes(children),
                view.starting,
            )
        }
        ThreadCheck::Off(_) => (Vec::new(), Vec::new(), 0),
    };
    let globs = survey.options.all_ignore_globs();
    let waivers = Waivers {
        globs: &globs,
        defaults: survey.options.default_ignores_value(),
    };
    let threads = newborn
        .into_iter()
        .filter(|t| !reported_tids.contains(t) && Some(*t) != survey.body_tid)
        .filter(|t| !waived_at_a_glance(*t, &waivers))
        .collect();
    Left {
        threads,
        children,
        starting,
    }
}

/// The threads left after the wait, as the report describes them, less those whose
/// debug information shows a waived creator (inlined, which the symbol table's look
/// during the wait could not see).
fn described(survey: &Survey<'_>, tids: &[u32]) -> Vec<UnmanagedThread> {
    let globs = survey.options.all_ignore_globs();
    let waivers = Waivers {
        globs: &globs,
        defaults: survey.options.default_ignores_value(),
    };
    // The OS names a thread gets when nobody names it: its creator's (this
    // thread's, or the main thread's when the creator was unnamed itself). Read
    // only when there is something to report.
    let creator_names: Vec<String> = if tids.is_empty() {
        Vec::new()
    } else {
        [survey.own_tid, Some(std::process::id())]
            .into_iter()
            .flatten()
            .filter_map(os_threads::thread_name)
            .collect()
    };
    OsThread::sample(tids)
        .into_iter()
        .filter_map(|os| {
            let origin = tracking::origin_of(os.tid);
            if origin
                .as_ref()
                .is_some_and(|o| waived_by_origin(o, &waivers))
            {
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
            !waivers.name(&t.os.name)
                && !t
                    .managed
                    .as_ref()
                    .is_some_and(|m| survey.options.ignores(m.name()))
        })
        .collect()
}

/// Ends what a test left running: each process (not a zombie: it has ended), its
/// process group when it leads one of its own, and every descendant found under it
/// (those that left its group too). SIGKILL: the test is over, and the report has
/// named them. Best effort: a process that is already gone is fine.
#[cfg(all(unix, feature = "unix-ffi"))]
pub(in crate::leaks) fn end_processes(left: &[LeakedProcess]) {
    use nix::sys::signal::{kill, killpg, Signal};
    use nix::unistd::Pid;
    let own_group = processes::ProcessStat::read(std::process::id()).map(|s| s.pgrp);
    for process in left.iter().filter(|p| p.state != Some('Z') && !p.exited) {
        // Read the tree first: once the parent dies its children are re-parented.
        let descendants = processes::descendants(process.pid);
        let stat = processes::ProcessStat::read(process.pid);
        let leads_own_group =
            stat.is_some_and(|s| s.pgrp == process.pid && Some(s.pgrp) != own_group);
        if leads_own_group {
            let _ = killpg(Pid::from_raw(process.pid as i32), Signal::SIGKILL);
        }
        let _ = kill(Pid::from_raw(process.pid as i32), Signal::SIGKILL);
        for pid in descendants {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

#[cfg(not(all(unix, feature = "unix-ffi")))]
pub(in crate::leaks) fn end_processes(_left: &[LeakedProcess]) {}
