//! What the operating system knows about this process's child processes and their
//! descendants (Linux: `/proc`).
//!
//! Everything here is best effort and returns `None` where the platform gives no
//! cheap answer: callers must treat "unknown" as "cannot check", never as "none".
// Parts of this serve only the test harness (feature `harness`).
#![cfg_attr(not(feature = "harness"), allow(dead_code))]

use std::collections::HashSet;

#[cfg(target_os = "linux")]
use super::threads::read_task_file;

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
        // Most test processes never start one: then no file needs reading.
        if certainly_childless() {
            return Some(HashSet::new());
        }
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

/// Whether this process certainly has no child process at all, running or a zombie
/// (Linux: one `waitid` that waits for nothing, reaps nothing and consumes no
/// state change; it answers `ECHILD` only when there is no child to wait for).
/// `false` means "has some, or cannot tell".
#[cfg(target_os = "linux")]
pub(crate) fn certainly_childless() -> bool {
    #[cfg(feature = "unix-ffi")]
    {
        use nix::sys::wait::{waitid, Id, WaitPidFlag};
        // Every kind of child (`__WALL`), in any state; `WNOHANG` never blocks and
        // `WNOWAIT` leaves whatever it finds to be waited for by its owner.
        let any = WaitPidFlag::WEXITED
            | WaitPidFlag::WSTOPPED
            | WaitPidFlag::WCONTINUED
            | WaitPidFlag::__WALL
            | WaitPidFlag::WNOHANG
            | WaitPidFlag::WNOWAIT;
        matches!(waitid(Id::All, any), Err(nix::errno::Errno::ECHILD))
    }
    #[cfg(not(feature = "unix-ffi"))]
    {
        false
    }
}

/// The state letter and parent pid of process `pid`, from `/proc/PID/stat`.
pub(crate) fn process_stat(pid: u32) -> Option<(char, u32)> {
    let stat = ProcessStat::read(pid)?;
    Some((stat.state, stat.ppid))
}

/// The fields of `/proc/PID/stat` that Iris uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProcessStat {
    /// The scheduler state letter (`Z` for a zombie).
    pub(crate) state: char,
    /// The parent's pid.
    pub(crate) ppid: u32,
    /// The process group.
    pub(crate) pgrp: u32,
    /// When the process started, in clock ticks since boot: with the pid, it names
    /// one process even after the pid is reused.
    pub(crate) start_time: u64,
}

impl ProcessStat {
    /// Reads process `pid`; `None` when it is gone or unreadable.
    pub(crate) fn read(pid: u32) -> Option<ProcessStat> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) S ppid pgrp session tty tpgid flags minflt cminflt majflt
        // cmajflt utime stime cutime cstime priority nice threads itrealvalue
        // starttime ...": comm may hold spaces and parentheses, so split after the
        // last ')'. Fields after it are numbered from 3 (state).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        Some(ProcessStat {
            state: fields.first()?.chars().next()?,
            ppid: fields.get(1)?.parse().ok()?,
            pgrp: fields.get(2)?.parse().ok()?,
            start_time: fields.get(19)?.parse().ok()?,
        })
    }
}

/// The direct children of process `pid` (every thread's), from
/// `/proc/PID/task/*/children`.
#[cfg_attr(not(unix), allow(dead_code))] // used by unix-only callers
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut children: Vec<u32> = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    children.sort_unstable();
    children.dedup();
    children
}

/// Every descendant of process `pid` (not `pid` itself), walked breadth-first. A
/// process can fork while the walk runs, so the walk is repeated until two rounds in
/// a row find the same set (at most a few rounds).
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) fn descendants(pid: u32) -> Vec<u32> {
    let walk = || {
        let mut found = Vec::new();
        let mut frontier = vec![pid];
        while let Some(parent) = frontier.pop() {
            for child in children_of(parent) {
                if !found.contains(&child) && child != pid {
                    found.push(child);
                    frontier.push(child);
                }
            }
        }
        found.sort_unstable();
        found
    };
    let mut last = walk();
    for _ in 0..4 {
        let again = walk();
        if again == last {
            break;
        }
        last = again;
    }
    last
}

/// The command line of process `pid` (arguments joined by spaces). A zombie has
/// none left (nor has a kernel thread): then its name in brackets, as `ps` shows
/// it (`[printf]`), so a report still says what the process was.
pub(crate) fn process_cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let parts: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    if parts.is_empty() {
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        return Some(format!("[{}]", name.trim_end()));
    }
    Some(parts.join(" "))
}

#[cfg(all(test, target_os = "linux", feature = "unix-ffi"))]
mod tests {
    use nix::sys::wait::{waitid, Id, WaitPidFlag};

    use super::*;

    #[test]
    fn a_process_with_a_child_is_never_called_childless_even_once_it_exited() {
        use std::io::BufRead;
        // A child that says it runs: its `exec` is over, so its command line and name
        // are its own (`spawn` returns while the kernel may still be setting them up).
        let mut child = std::process::Command::new("sh")
            .args(["-c", "echo ready; read never"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sh runs");
        let mut ready = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut ready)
            .expect("it says it runs");
        assert_eq!(ready, "ready\n");
        let pid = child.id();
        assert!(!certainly_childless(), "a running child");
        assert_eq!(
            process_cmdline(pid).as_deref(),
            Some("sh -c echo ready; read never")
        );
        let this_thread = nix::unistd::gettid().as_raw() as u32;
        let mine = child_pids_of([std::process::id(), this_thread]).expect("/proc on Linux");
        assert!(mine.contains(&pid), "{pid} not among {mine:?}");
        child.kill().expect("kill");
        // Waits for its death without reaping it (SIGKILL bounds the wait).
        let pid_id = Id::Pid(nix::unistd::Pid::from_raw(pid as i32));
        waitid(pid_id, WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT).expect("it dies");
        // Dead but not reaped: a zombie is still a child (a leak report names it).
        assert_eq!(process_stat(pid).map(|(state, _)| state), Some('Z'));
        assert!(!certainly_childless(), "a zombie child");
        // Its command line is gone with it; its name is not.
        assert_eq!(process_cmdline(pid).as_deref(), Some("[sh]"));
        child.wait().expect("reaped");
    }
}
