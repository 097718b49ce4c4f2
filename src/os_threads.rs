//! What the operating system knows about this process's threads (Linux: `/proc`),
//! and which of them are Iris's own helpers.
//!
//! Everything here is best effort and returns `None` where the platform gives no
//! cheap answer: callers must treat "unknown" as "cannot check", never as "none".

use std::collections::HashSet;
use std::fmt;

use parking_lot::Mutex;

/// The kernel ids of this process's threads, from `/proc/self/task`.
pub(crate) fn snapshot_tids() -> Option<HashSet<u32>> {
    #[cfg(target_os = "linux")]
    {
        let entries = std::fs::read_dir("/proc/self/task").ok()?;
        Some(
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect(),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

fn read_task_file(tid: u32, file: &str) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_to_string(format!("/proc/self/task/{tid}/{file}")).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (tid, file);
        None
    }
}

/// The OS name of thread `tid` of this process (at most 15 bytes on Linux).
pub(crate) fn thread_name(tid: u32) -> Option<String> {
    read_task_file(tid, "comm").map(|comm| comm.trim_end_matches('\n').to_string())
}

/// What a thread is doing, as far as the kernel says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsThread {
    /// The kernel's thread id.
    pub tid: u32,
    /// The OS name (truncated to 15 bytes by the kernel).
    pub name: String,
    /// The scheduler state letter (`R` running, `S` sleeping, `D` disk wait, ...).
    pub state: char,
    /// The kernel function it is blocked in (`/proc/.../wchan`), when the kernel says.
    pub blocked_in: Option<String>,
}

impl OsThread {
    /// Reads thread `tid` of this process; `None` when it is gone or unknowable.
    pub(crate) fn read(tid: u32) -> Option<OsThread> {
        let stat = read_task_file(tid, "stat")?;
        // "tid (comm) S ...": the name may contain spaces and parentheses, so the
        // state is the first field after the *last* closing parenthesis.
        let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
        Some(OsThread {
            tid,
            name: thread_name(tid).unwrap_or_default(),
            state,
            blocked_in: blocked_in(tid),
        })
    }

    /// The state letter spelled out.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            'R' => "running",
            'S' => "sleeping",
            'D' => "uninterruptible wait",
            'T' | 't' => "stopped",
            'Z' => "zombie",
            'X' => "dead",
            _ => "unknown state",
        }
    }
}

impl fmt::Display for OsThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tid {} {:?}, {}", self.tid, self.name, self.state_name())?;
        if let Some(wchan) = &self.blocked_in {
            write!(f, " in {wchan}")?;
        }
        Ok(())
    }
}

/// The kernel function thread `tid` is blocked in, from `/proc/.../wchan`.
pub(crate) fn blocked_in(tid: u32) -> Option<String> {
    let wchan = read_task_file(tid, "wchan")?;
    let wchan = wchan.trim();
    (!wchan.is_empty() && wchan != "0").then(|| wchan.to_string())
}

static HELPERS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Marks `tid` as one of Iris's own helper threads: leak detection never reports it.
pub(crate) fn register_helper(tid: u32) {
    HELPERS.lock().push(tid);
}

/// Forgets a helper that has ended (its tid may be reused by another thread).
pub(crate) fn unregister_helper(tid: u32) {
    HELPERS.lock().retain(|t| *t != tid);
}

/// Thread ids of Iris's own helper threads.
pub(crate) fn helper_tids() -> Vec<u32> {
    HELPERS.lock().clone()
}

/// The child processes whose parent is one of the threads `tids` of this process
/// (Linux: `/proc/self/task/TID/children`), falling back to a scan of `/proc` for
/// every child of the process on kernels without that file.
///
/// Reading one file per thread adds up in a process with thousands of threads, so
/// callers pass only the threads that matter: the main thread (a child whose parent
/// thread exits is handed to it), the test's thread, and threads born during the test.
pub(crate) fn child_pids_of(tids: impl IntoIterator<Item = u32>) -> Option<HashSet<u32>> {
    #[cfg(target_os = "linux")]
    {
        let mut children = HashSet::new();
        let mut readable = false;
        for tid in tids {
            if let Some(list) = read_task_file(tid, "children") {
                readable = true;
                children.extend(
                    list.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
        if readable {
            return Some(children);
        }
        let me = std::process::id();
        let entries = std::fs::read_dir("/proc").ok()?;
        Some(
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| process_stat(*pid).is_some_and(|(_, ppid)| ppid == me))
                .collect(),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tids.into_iter();
        None
    }
}

/// The state letter and parent pid of process `pid`, from `/proc/PID/stat`.
pub(crate) fn process_stat(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// The command line of process `pid` (arguments joined by spaces).
pub(crate) fn process_cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let parts: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    Some(parts.join(" "))
}
