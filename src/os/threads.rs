//! What the operating system knows about this process's threads (Linux: `/proc`),
//! and which of them are Iris's own helpers.
//!
//! Everything here is best effort and returns `None` where the platform gives no
//! cheap answer: callers must treat "unknown" as "cannot check", never as "none".
// Parts of this serve only the test harness (feature `harness`).
#![cfg_attr(not(feature = "harness"), allow(dead_code))]

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

pub(crate) fn read_task_file(tid: u32, file: &str) -> Option<String> {
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

/// How many times thread `tid` has been switched out, voluntarily or not (from
/// `/proc/self/task/TID/status`): unchanged between two looks, the thread has not
/// run in between.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // blocking detection
pub(crate) fn context_switches(tid: u32) -> Option<u64> {
    let status = read_task_file(tid, "status")?;
    let mut total = None;
    for line in status.lines() {
        if let Some(count) = line
            .strip_prefix("voluntary_ctxt_switches:")
            .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
        {
            *total.get_or_insert(0) += count.trim().parse::<u64>().ok()?;
        }
    }
    total
}

/// Whether `name`, as [`thread_name`] reads it, may be the start of a longer name:
/// Linux keeps the first 15 bytes of a thread's name (`TASK_COMM_LEN` less its NUL).
pub(crate) fn name_may_be_cut(name: &str) -> bool {
    cfg!(target_os = "linux") && name.len() == 15
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

    /// Reads each of the threads `tids` several times over a few milliseconds and
    /// keeps, per thread, the state and blocking point seen most often: one reading
    /// can catch a sleeping thread in the instant it runs, and a report must say
    /// what the thread mostly does. Threads that are gone are left out.
    pub(crate) fn sample(tids: &[u32]) -> Vec<OsThread> {
        const ROUNDS: usize = 8;
        if tids.is_empty() {
            return Vec::new(); // nothing to sample: no pause (a clean test's path)
        }
        let mut seen: Vec<Vec<OsThread>> = vec![Vec::new(); tids.len()];
        for round in 0..ROUNDS {
            for (tid, readings) in tids.iter().zip(seen.iter_mut()) {
                readings.extend(OsThread::read(*tid));
            }
            if round + 1 < ROUNDS {
                let pause = std::time::Duration::from_micros(500);
                std::thread::sleep(pause); // the pause between readings is the sampling itself
            }
        }
        seen.into_iter().filter_map(dominant).collect()
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

/// The reading whose (state, blocking point) occurs most often; ties go to the
/// latest reading.
fn dominant(readings: Vec<OsThread>) -> Option<OsThread> {
    let key = |t: &OsThread| (t.state, t.blocked_in.clone());
    let count = |t: &OsThread| readings.iter().filter(|r| key(r) == key(t)).count();
    readings.iter().max_by_key(|t| count(t)).cloned()
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
fn unregister_helper(tid: u32) {
    HELPERS.lock().retain(|t| *t != tid);
}

/// The calling thread counted as one of Iris's own helpers while this lives: made
/// first thing on a helper thread (from its tid, when known), dropped as it ends,
/// even by unwinding.
pub(crate) struct HelperRegistration(Option<u32>);

impl HelperRegistration {
    /// Registers `tid` (the calling thread's, `None` when unknown: nothing to do).
    pub(crate) fn new(tid: Option<u32>) -> HelperRegistration {
        if let Some(tid) = tid {
            register_helper(tid);
        }
        HelperRegistration(tid)
    }

    /// The registered thread's id.
    pub(crate) fn tid(&self) -> Option<u32> {
        self.0
    }
}

impl Drop for HelperRegistration {
    fn drop(&mut self) {
        if let Some(tid) = self.0 {
            unregister_helper(tid);
        }
    }
}

/// Thread ids of Iris's own helper threads.
pub(crate) fn helper_tids() -> Vec<u32> {
    HELPERS.lock().clone()
}
