//! Every live managed process, so that leak detection can name the ones a test left,
//! and tell their helper threads (reaper, output readers, supervisor) from the test's.
//!
//! Invariant: an entry is a weak reference, dropped once the process and its threads
//! are gone; a lookup never keeps a process alive.

#[cfg(feature = "harness")]
use std::sync::Arc;
use std::sync::{LazyLock, Weak};
#[cfg(feature = "harness")]
use std::time::Instant;

use parking_lot::Mutex;

use super::shared::Shared;

/// Every live managed process, so leak detection can name the ones a test left.
pub(super) static LIVE: LazyLock<Mutex<Vec<Weak<Shared>>>> = LazyLock::new(Default::default);

/// A managed process still running, as leak detection sees it.
#[cfg_attr(not(feature = "harness"), allow(dead_code))] // read by the harness
pub(crate) struct RunningProcess {
    pub(crate) pid: u32,
    /// It was running at the moment asked about, and has exited since (reaped: its
    /// pid may belong to another process by now).
    pub(crate) exited: bool,
    pub(crate) name: String,
    pub(crate) container: String,
    pub(crate) command_line: String,
}

/// A test's managed processes, held from before its registry's stop until its
/// verdict: a process whose handle the test dropped and whose helper threads ended in
/// between would otherwise have left the list, unseen (found as a flake under load).
#[cfg(feature = "harness")]
#[derive(Clone, Default)]
pub(crate) struct Held(Vec<Arc<Shared>>);

/// The managed processes whose container path is `path` or below it, held.
#[cfg(feature = "harness")]
pub(crate) fn hold_under(path: &str) -> Held {
    let mut live = LIVE.lock();
    live.retain(|w| w.strong_count() > 0);
    Held(
        live.iter()
            .filter_map(Weak::upgrade)
            .filter(|s| {
                s.container_path == path || s.container_path.starts_with(&format!("{path}/"))
            })
            .collect(),
    )
}

#[cfg(feature = "harness")]
impl Held {
    /// Their containers, running or not: the threads in them (reaper, output
    /// readers, supervisor) are Iris's helpers for that process, never a test's leak
    /// of their own.
    pub(crate) fn containers(&self) -> Vec<String> {
        self.0.iter().map(|s| s.container_path.clone()).collect()
    }

    /// Those that were running at `at` (still running, or exited since), and the
    /// descendants of any of them that left the process group and are still alive.
    pub(crate) fn running_at(&self, at: Instant) -> Vec<RunningProcess> {
        let mut running = Vec::new();
        for shared in &self.0 {
            let exited_at = shared.state.lock().exited_at;
            if exited_at.is_none_or(|exited| exited > at) {
                running.push(RunningProcess {
                    pid: shared.pid,
                    exited: exited_at.is_some(),
                    name: shared.name.clone(),
                    container: shared.container_path.clone(),
                    command_line: shared.command_line.clone(),
                });
            }
            for escapee in shared.escapees.alive() {
                running.push(RunningProcess {
                    pid: escapee.pid,
                    exited: false,
                    name: format!("{} (a descendant that left its process group)", shared.name),
                    container: shared.container_path.clone(),
                    command_line: escapee.command_line(),
                });
            }
        }
        running
    }
}

/// The managed name and container of process `pid`, if it is one.
#[cfg(feature = "harness")]
pub(crate) fn managed_by_pid(pid: u32) -> Option<(String, String)> {
    LIVE.lock()
        .iter()
        .filter_map(Weak::upgrade)
        .find(|s| s.pid == pid)
        .map(|s| (s.name.clone(), s.container_path.clone()))
}
