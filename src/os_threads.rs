//! What the operating system knows about this process's threads (Linux: `/proc`).
//!
//! Everything here is best effort and returns `None` where the platform gives no
//! cheap answer: callers must treat "unknown" as "cannot check", never as "none".

use std::collections::HashSet;

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

/// The OS name of thread `tid` of this process (at most 15 bytes on Linux).
pub(crate) fn thread_name(tid: u32) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
        Some(comm.trim_end_matches('\n').to_string())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tid;
        None
    }
}
