//! What the operating system knows about this process's child processes and their
//! descendants (Linux: `/proc`).
//!
//! Everything here is best effort and returns `None` where the platform gives no
//! cheap answer: callers must treat "unknown" as "cannot check", never as "none".

use std::collections::HashSet;

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
