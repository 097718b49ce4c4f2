//! Blocking in async code: a task that holds a worker thread of the test's runtime
//! inside one poll while that thread sleeps in the kernel (a std lock or channel,
//! `thread::sleep`, a blocking read) for longer than a threshold.
//!
//! Invariants:
//! - A worker is judged only while it is not parked (between its runtime's unpark
//!   and park callbacks: inside the scheduler's work, so inside a poll or between
//!   two), and only while the kernel says it sleeps (`S` or `D`) *and* it has not
//!   been switched in since the last look (its context-switch count is unchanged):
//!   one uninterrupted sleep. CPU work is never a finding (a busy thread is running
//!   or runnable), so a loaded machine cannot trigger it.
//! - One sampler thread per watched test (an Iris helper: never a leak), woken by a
//!   stop token, looking every quarter threshold (5 to 50 ms); it reads `/proc` only.
//! - A sleep is reported once, with the longest time it was seen and the worker's
//!   live stack at the moment it crossed the threshold.
//! - Linux only (it reads `/proc`): elsewhere nothing is sampled and nothing found.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::report::BlockedWorker;
use super::survey::LIVE_STACK_PATIENCE;
use crate::os::threads::{self as os_threads, OsThread};
use crate::sync::stop_token::StopToken;
use crate::tasks::runtime::Workers;
use crate::threads::managed_thread::current_os_tid;
use crate::tracking;

/// A finding as the sampler keeps it: the stack is resolved only at the end (the
/// first resolution loads debug information; the sampler must keep looking).
struct Sighting {
    os: OsThread,
    held_for: Duration,
    raw: Option<tracking::RawStack>,
}

/// The sampler of one test's runtime.
pub(crate) struct BlockingWatch {
    stop: StopToken,
    found: Arc<Mutex<Vec<Sighting>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// One worker's current sleep, as far as the sampler has followed it.
struct Streak {
    since: Instant,
    switches: u64,
    /// Its index in the findings once reported.
    reported: Option<usize>,
}

impl BlockingWatch {
    /// Starts watching `workers` with `threshold`; `None` where it cannot run.
    pub(crate) fn start(workers: Arc<Workers>, threshold: Duration) -> Option<BlockingWatch> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let stop = StopToken::new();
        let found: Arc<Mutex<Vec<Sighting>>> = Arc::default();
        let period = (threshold / 4).clamp(Duration::from_millis(5), Duration::from_millis(50));
        let (watching, findings) = (stop.clone(), found.clone());
        let thread = std::thread::Builder::new()
            .name("iris-blocking".into())
            .spawn(move || {
                let tid = current_os_tid();
                if let Some(tid) = tid {
                    os_threads::register_helper(tid);
                }
                let mut streaks: HashMap<u32, Streak> = HashMap::new();
                while !watching.wait_timeout(period) {
                    look(&workers, threshold, &mut streaks, &findings);
                }
                if let Some(tid) = tid {
                    os_threads::unregister_helper(tid);
                }
            })
            .ok()?;
        Some(BlockingWatch {
            stop,
            found,
            thread: Some(thread),
        })
    }

    /// Stops the sampler and returns what it found.
    pub(crate) fn finish(mut self) -> Vec<BlockedWorker> {
        self.stop.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        std::mem::take(&mut *self.found.lock())
            .into_iter()
            .map(|s| BlockedWorker {
                os: s.os,
                held_for: s.held_for,
                stack: s.raw.as_ref().and_then(tracking::resolve_live),
            })
            .collect()
    }
}

impl Drop for BlockingWatch {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// One look at every worker that is not parked.
fn look(
    workers: &Workers,
    threshold: Duration,
    streaks: &mut HashMap<u32, Streak>,
    findings: &Mutex<Vec<Sighting>>,
) {
    let now = Instant::now();
    for worker in workers.all() {
        let tid = worker.tid;
        let asleep = !worker.parked.load(std::sync::atomic::Ordering::Acquire)
            && OsThread::read(tid).is_some_and(|os| matches!(os.state, 'S' | 'D'));
        let switches = if asleep {
            os_threads::context_switches(tid)
        } else {
            None
        };
        let Some(switches) = switches else {
            streaks.remove(&tid);
            continue;
        };
        let streak = streaks.entry(tid).or_insert(Streak {
            since: now,
            switches,
            reported: None,
        });
        if streak.switches != switches {
            if streak.reported.is_some() {
                // Reported already: still not parked and asleep again, so still in
                // the same poll (our stack sample's signal wakes it for a moment).
                streak.switches = switches;
            } else {
                // It ran in between: a new sleep starts now.
                *streak = Streak {
                    since: now,
                    switches,
                    reported: None,
                };
                continue;
            }
        }
        let held_for = now - streak.since;
        if held_for < threshold {
            continue;
        }
        let mut findings = findings.lock();
        match streak.reported {
            Some(index) => findings[index].held_for = held_for,
            None => {
                let Some(os) = OsThread::read(tid) else {
                    continue;
                };
                // The lock is the sampler's own: nobody waits on it until `finish`.
                let raw = tracking::sample_raw(tid, LIVE_STACK_PATIENCE);
                streak.reported = Some(findings.len());
                findings.push(Sighting { os, held_for, raw });
            }
        }
    }
}
