//! Ending a managed process's whole tree: its process group, and every descendant
//! that left the group (`setsid`, a double fork into a new group) and so would escape
//! a group kill.
//!
//! Invariants:
//! - A descendant outside the group is recorded (pid and start time) each time the
//!   tree is walked: periodically while the child runs, and again right before each
//!   signal. Once recorded it is followed even after its parent exits and it is
//!   re-parented out of the tree.
//! - A recorded pid is signalled only while the process with that pid has the same
//!   start time: a pid reused by an unrelated process is never signalled.
//! - Walks start from the child's pid only while the child has not been reaped, so
//!   they never walk a reused pid's tree.

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use parking_lot::Mutex;

use crate::os::processes::{descendants, process_cmdline, ProcessStat};

/// One descendant that left the process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Escapee {
    pub(crate) pid: u32,
    start_time: u64,
}

impl Escapee {
    /// Whether this very process (not a pid reuse) still runs; a zombie does not.
    pub(crate) fn is_alive(&self) -> bool {
        ProcessStat::read(self.pid)
            .is_some_and(|s| s.start_time == self.start_time && s.state != 'Z')
    }

    /// Its command line, for reports.
    #[cfg_attr(not(feature = "harness"), allow(dead_code))] // read by the harness
    pub(crate) fn command_line(&self) -> String {
        process_cmdline(self.pid).unwrap_or_default()
    }
}

/// The descendants of one managed process that left its group, as far as seen.
#[derive(Default)]
pub(crate) struct Escapees {
    known: Mutex<Vec<Escapee>>,
}

impl Escapees {
    /// Walks the tree under `root` (the child, whose pid is also its group's id) and
    /// records every descendant outside the group.
    pub(crate) fn track(&self, root: u32) {
        let found: Vec<Escapee> = descendants(root)
            .into_iter()
            .filter_map(|pid| {
                let stat = ProcessStat::read(pid)?;
                (stat.pgrp != root).then_some(Escapee {
                    pid,
                    start_time: stat.start_time,
                })
            })
            .collect();
        if found.is_empty() {
            return;
        }
        let mut known = self.known.lock();
        for escapee in found {
            if !known.contains(&escapee) {
                tracing::debug!(
                    pid = escapee.pid,
                    "a descendant left the process group; it is followed"
                );
                known.push(escapee);
            }
        }
    }

    /// The recorded escapees still alive (forgetting the others).
    pub(crate) fn alive(&self) -> Vec<Escapee> {
        let mut known = self.known.lock();
        known.retain(Escapee::is_alive);
        known.clone()
    }

    /// Sends `signal` to every recorded escapee still alive.
    pub(crate) fn signal(&self, signal: Signal, process: &str) {
        for escapee in self.alive() {
            if let Err(errno) = kill(Pid::from_raw(escapee.pid as i32), signal) {
                if errno != nix::errno::Errno::ESRCH {
                    tracing::warn!(process, pid = escapee.pid, %errno, "cannot send {signal} to a descendant");
                }
            }
        }
    }
}

/// Sends `signal` to process group `pgid`; a group that is gone is fine.
pub(crate) fn signal_group(pgid: u32, signal: Signal, process: &str) {
    if let Err(errno) = killpg(Pid::from_raw(pgid as i32), signal) {
        if errno != nix::errno::Errno::ESRCH {
            tracing::warn!(process, %errno, "cannot send {signal} to the process group");
        }
    }
}
