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
//!   or runnable), so a loaded machine cannot trigger it. Nor is the panic
//!   machinery's time: a worker inside the panic hooks (printing a backtrace under
//!   `RUST_BACKTRACE` takes a debug build 100 ms or more) is not judged.
//! - The sampler is a duty of Iris's one helper thread (`helper.rs`, never a leak),
//!   given before the first watched test's snapshot, idle while no test is watched,
//!   and otherwise looking every quarter of the smallest threshold (5 to 50 ms); it
//!   reads `/proc` only. A test starts its watch with one short lock and a ring, ends
//!   it with one short lock, and never waits for the sampler to be scheduled (on a
//!   loaded machine, a hand-off to a per-test thread and its join cost
//!   milliseconds).
//! - A sleep is reported once, with the longest time it was seen and the worker's
//!   live stack at the moment it crossed the threshold.
//! - Linux only (it reads `/proc`): elsewhere nothing is sampled and nothing found.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::helper;
use super::report::BlockedWorker;
use super::survey::LIVE_STACK_PATIENCE;
use crate::os::threads::{self as os_threads, OsThread};
use crate::tasks::runtime::Workers;
use crate::tasks::task_panics;
use crate::tracking;

/// A finding as the sampler keeps it: the stack is resolved only at the end (the
/// first resolution loads debug information; the sampler must keep looking).
struct Sighting {
    os: OsThread,
    held_for: Duration,
    raw: Option<tracking::RawStack>,
}

/// One watched test's runtime: its workers, its threshold, what was found.
struct Watched {
    workers: Arc<Workers>,
    threshold: Duration,
    /// Held by the sampler while it looks at these workers, so that `finish`, which
    /// takes it, never misses a sighting that look is recording.
    looking: Mutex<Looking>,
}

/// One worker's current sleep, as far as the sampler has followed it.
struct Streak {
    since: Instant,
    switches: u64,
    /// Its index in the findings once reported.
    reported: Option<usize>,
}

#[derive(Default)]
struct Looking {
    streaks: HashMap<u32, Streak>,
    found: Vec<Sighting>,
}

/// The tests being watched, looked at by the sampler.
static WATCHED: Mutex<Vec<Arc<Watched>>> = Mutex::new(Vec::new());

/// Gives the sampler its duty on Iris's helper thread (starting that thread if it is
/// not running yet), where blocking detection can run. Called before a test takes
/// its snapshot of the process's threads and charges new threads to itself, so the
/// helper is never seen as that test's. Whether the sampler runs.
pub(crate) fn prepare() -> bool {
    cfg!(target_os = "linux") && helper::take_on("blocking sampler", sample)
}

/// The sampler, a duty of the helper thread: a look at every watched runtime, then
/// the next look a quarter of the smallest threshold later (5 to 50 ms); with no
/// test watched, nothing until a watch starts and rings.
fn sample(now: Instant) -> Option<Instant> {
    let watched: Vec<Arc<Watched>> = WATCHED.lock().clone();
    let threshold = watched.iter().map(|w| w.threshold).min()?;
    for watch in &watched {
        let mut looking = watch.looking.lock();
        let Looking { streaks, found } = &mut *looking;
        look(&watch.workers, watch.threshold, streaks, found);
    }
    Some(now + (threshold / 4).clamp(Duration::from_millis(5), Duration::from_millis(50)))
}

/// The watch over one test's runtime, by the process's sampler.
pub(crate) struct BlockingWatch {
    watched: Arc<Watched>,
}

impl BlockingWatch {
    /// Starts watching `workers` with `threshold`; `None` where it cannot run (not
    /// Linux, or the sampler thread could not start).
    pub(crate) fn start(workers: Arc<Workers>, threshold: Duration) -> Option<BlockingWatch> {
        if !prepare() {
            return None;
        }
        let watched = Arc::new(Watched {
            workers,
            threshold,
            looking: Mutex::new(Looking::default()),
        });
        WATCHED.lock().push(watched.clone());
        // The sampler may be asleep with nothing to watch: its first look is due now.
        helper::ring();
        Some(BlockingWatch { watched })
    }

    /// Stops watching and returns what was found. No hand-off: the sampler is
    /// waited for only if it is looking at this test's workers right now.
    pub(crate) fn finish(self) -> Vec<BlockedWorker> {
        self.leave();
        let found = std::mem::take(&mut self.watched.looking.lock().found);
        found
            .into_iter()
            .map(|s| BlockedWorker {
                os: s.os,
                held_for: s.held_for,
                stack: s.raw.as_ref().and_then(tracking::resolve_live),
            })
            .collect()
    }

    fn leave(&self) {
        WATCHED.lock().retain(|w| !Arc::ptr_eq(w, &self.watched));
    }
}

impl Drop for BlockingWatch {
    fn drop(&mut self) {
        self.leave();
    }
}

/// One look at every worker that is not parked.
fn look(
    workers: &Workers,
    threshold: Duration,
    streaks: &mut HashMap<u32, Streak>,
    findings: &mut Vec<Sighting>,
) {
    let now = Instant::now();
    for worker in workers.all() {
        let tid = worker.tid;
        let asleep = !worker.parked.load(std::sync::atomic::Ordering::Acquire)
            && OsThread::read(tid).is_some_and(|os| matches!(os.state, 'S' | 'D'))
            && !task_panics::in_panic_hooks(tid);
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
        match streak.reported {
            Some(index) => findings[index].held_for = held_for,
            None => {
                let Some(os) = OsThread::read(tid) else {
                    continue;
                };
                // Under the watch's lock: only `finish` waits on it, for this one sample.
                let raw = tracking::sample_raw(tid, LIVE_STACK_PATIENCE);
                streak.reported = Some(findings.len());
                findings.push(Sighting { os, held_for, raw });
            }
        }
    }
}
