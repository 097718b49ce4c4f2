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
//!   given before the first watched test's snapshot, and looking every quarter of
//!   the smallest threshold (5 to 50 ms, its beat) while any test is watched; it
//!   reads `/proc` only. A test starts its watch with one short lock, ends it with
//!   one short lock, and never waits for the sampler to be scheduled (on a loaded
//!   machine, a hand-off to a per-test thread and its join cost milliseconds).
//! - A watch that starts rings the helper only when the sampler's next look is not
//!   due within the watch's beat: the pass that plans a look records when, under the
//!   lock a starting watch takes, so a watch either is seen by that pass or sees its
//!   plan (and the helper always wakes by the time it planned). The beat goes on for
//!   a second after the last watch, with no look to take, so that the next async
//!   test of a suite needs no ring: under `cargo test`, a ring per test woke the
//!   helper on another CPU, two context switches and an interrupt between CPUs per
//!   test (measured on 200 trivial async tests, debug build: 720 context switches
//!   against 300 plain, 440-520 now; whole suite 46 ms against 37 ms now, 14 ms plain).
//! - A sleep is reported once, with the longest time it was seen and the worker's
//!   live stack at the moment it crossed the threshold.
//! - Linux only (it reads `/proc`): elsewhere nothing is sampled and nothing found.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::leaks::harness::survey::LIVE_STACK_PATIENCE;
use crate::leaks::report::BlockedWorker;
use crate::leaks::watchers::helper;
use crate::os::threads::{self as os_threads, OsThread};
use crate::tasks::runtime::Workers;
use crate::tasks::task_panics;
use crate::tracking::{self, Frame};

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

/// The tests being watched, looked at by the sampler, and when it looks next.
struct Watching {
    tests: Vec<Arc<Watched>>,
    /// When the sampler's last pass planned its next look (`None`: none until rung).
    next_look: Option<Instant>,
    /// The beat of the last watched tests (zero: none was ever watched).
    beat: Duration,
    /// Since when no test is watched.
    idle_since: Option<Instant>,
}

static WATCHED: Mutex<Watching> = Mutex::new(Watching::new());

/// How long the sampler keeps its beat after the last watch ended, so that the
/// next async test of a suite needs no ring.
const KEEP_BEAT: Duration = Duration::from_secs(1);

/// How often the sampler looks for watches with `threshold`: a quarter of it, so a
/// sleep is seen within a quarter of the threshold of crossing it.
fn beat(threshold: Duration) -> Duration {
    (threshold / 4).clamp(Duration::from_millis(5), Duration::from_millis(50))
}

/// Gives the sampler its duty on Iris's helper thread (starting that thread if it is
/// not running yet), where blocking detection can run. Called before a test takes
/// its snapshot of the process's threads and charges new threads to itself, so the
/// helper is never seen as that test's. Whether the sampler runs.
///
/// The test says its `threshold`: the sampler's passes from now on plan a look a
/// beat ahead, so that the watch the test starts a moment later finds one due and
/// need not ring (a look right away would find the test barely started).
pub(crate) fn prepare(threshold: Duration) -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    WATCHED.lock().expect(threshold);
    helper::take_on("blocking sampler", sample)
}

/// The sampler, a duty of the helper thread: a look at every watched runtime, then
/// the next look a beat later (a quarter of the smallest threshold); with no test
/// watched, the beat goes on for [`KEEP_BEAT`], then nothing until a watch rings.
fn sample(now: Instant) -> Option<Instant> {
    let (watched, next) = {
        let mut watching = WATCHED.lock();
        let next = watching.plan(now);
        (watching.tests.clone(), next)
    };
    for watch in &watched {
        let mut looking = watch.looking.lock();
        let Looking { streaks, found } = &mut *looking;
        look(&watch.workers, watch.threshold, streaks, found);
    }
    next
}

impl Watching {
    /// Nothing watched, ever.
    const fn new() -> Watching {
        Watching {
            tests: Vec::new(),
            next_look: None,
            beat: Duration::ZERO,
            idle_since: None,
        }
    }

    /// A pass at `now`: when the next look is due (`None`: none until a ring),
    /// recorded for the watches that start before it.
    fn plan(&mut self, now: Instant) -> Option<Instant> {
        let keeps_beat = match self.tests.iter().map(|w| w.threshold).min() {
            Some(threshold) => {
                self.beat = beat(threshold);
                self.idle_since = None;
                true
            }
            // With nothing watched, the beat a watched test set goes on for a
            // while, then stops.
            None => {
                let idle = *self.idle_since.get_or_insert(now);
                !self.beat.is_zero() && now.saturating_duration_since(idle) < KEEP_BEAT
            }
        };
        self.next_look = keeps_beat.then(|| now + self.beat);
        self.next_look
    }

    /// A watch with `threshold` is about to start: the beat goes on (or starts) at
    /// the fastest of its beat and the current one.
    fn expect(&mut self, threshold: Duration) {
        let coming = beat(threshold);
        self.beat = if self.beat.is_zero() {
            coming
        } else {
            self.beat.min(coming)
        };
        self.idle_since = None;
    }

    /// Adds `watched` at `now`; whether the sampler must be rung for it (its next
    /// look, as planned, is not due within the new watch's beat). A watch that
    /// comes and goes between two looks keeps the beat going too.
    fn add(&mut self, watched: Arc<Watched>, now: Instant) -> bool {
        let due_by = now + beat(watched.threshold);
        self.tests.push(watched);
        self.idle_since = None;
        self.next_look.is_none_or(|at| at > due_by)
    }
}

/// The watch over one test's runtime, by the process's sampler.
pub(crate) struct BlockingWatch {
    watched: Arc<Watched>,
}

impl BlockingWatch {
    /// Starts watching `workers` with `threshold`; `None` where it cannot run (not
    /// Linux, or the sampler thread could not start).
    pub(crate) fn start(workers: Arc<Workers>, threshold: Duration) -> Option<BlockingWatch> {
        if !prepare(threshold) {
            return None;
        }
        let watched = Arc::new(Watched {
            workers,
            threshold,
            looking: Mutex::new(Looking::default()),
        });
        let needs_ring = WATCHED.lock().add(watched.clone(), Instant::now());
        // The sampler is asleep with nothing to watch, or not due soon enough: it
        // looks now, and from then on every beat.
        if needs_ring {
            helper::ring();
        }
        Some(BlockingWatch { watched })
    }

    /// Stops watching and returns what was found. No hand-off: the sampler is
    /// waited for only if it is looking at this test's workers right now.
    pub(crate) fn finish(self) -> Vec<BlockedWorker> {
        self.leave();
        let found = std::mem::take(&mut self.watched.looking.lock().found);
        found
            .into_iter()
            .filter_map(|s| {
                let frames = s.raw.as_ref().and_then(tracking::resolve_raw);
                if frames.as_deref().is_some_and(waits_for_a_backtrace) {
                    return None;
                }
                Some(BlockedWorker {
                    os: s.os,
                    held_for: s.held_for,
                    stack: frames.as_deref().and_then(tracking::summarise_live),
                })
            })
            .collect()
    }

    fn leave(&self) {
        WATCHED
            .lock()
            .tests
            .retain(|w| !Arc::ptr_eq(w, &self.watched));
    }
}

impl Drop for BlockingWatch {
    fn drop(&mut self) {
        self.leave();
    }
}

/// Whether a held worker waits for std's backtrace lock: the task captures a
/// backtrace (`anyhow!` and `Backtrace::capture` do, with `RUST_BACKTRACE` set)
/// while another thread holds the lock, printing a panic's backtrace (another
/// test's, under `cargo test`). The task blocked on nothing of its own, and how long
/// depends on what else runs: no finding (seen on tokio-graceful-shutdown's suite,
/// 128 ms inside `anyhow::__private::format_err`).
fn waits_for_a_backtrace(frames: &[Frame]) -> bool {
    frames.iter().any(|f| {
        let function = f.function.trim_start_matches('<');
        function.starts_with("std::backtrace::Backtrace")
            || function.starts_with("std::sys::backtrace::lock")
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A task that waits for std's backtrace lock (another test prints a panic's
    /// backtrace) blocked on nothing of its own; one that waits on its own lock did.
    #[test]
    fn a_wait_for_the_backtrace_lock_is_no_finding() {
        let stack = |functions: &[&str]| -> Vec<Frame> {
            functions
                .iter()
                .map(|f| Frame {
                    function: (*f).into(),
                    file: None,
                    line: None,
                })
                .collect()
        };
        assert!(waits_for_a_backtrace(&stack(&[
            "std::sys::sync::mutex::futex::Mutex::lock_contended",
            "std::sys::backtrace::lock",
            "std::backtrace::Backtrace::create",
            "anyhow::__private::format_err",
            "my_crate::handler::{{closure}}",
        ])));
        assert!(waits_for_a_backtrace(&stack(&[
            "<std::backtrace::Backtrace>::capture",
            "my_crate::handler",
        ])));
        assert!(!waits_for_a_backtrace(&stack(&[
            "std::sys::sync::mutex::futex::Mutex::lock_contended",
            "std::sync::poison::mutex::Mutex<T>::lock",
            "my_crate::cache::lock_it",
        ])));
    }

    fn watch(threshold_ms: u64) -> Arc<Watched> {
        Arc::new(Watched {
            workers: Arc::default(),
            threshold: Duration::from_millis(threshold_ms),
            looking: Mutex::default(),
        })
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_first_watch_rings_and_one_that_starts_on_the_beat_does_not() {
        let t0 = Instant::now();
        let mut watching = Watching::new();
        assert_eq!(watching.plan(t0), None, "nothing was ever watched: no beat");
        assert!(watching.add(watch(100), t0), "the sampler sleeps: ring it");
        assert_eq!(watching.plan(t0), Some(t0 + ms(25)), "a quarter of 100 ms");
        assert!(
            !watching.add(watch(100), t0 + ms(1)),
            "a look is due within the new watch's beat: no ring"
        );
    }

    #[test]
    fn a_watch_announced_before_the_samplers_pass_needs_no_ring() {
        let t0 = Instant::now();
        let mut watching = Watching::new();
        watching.expect(ms(100)); // the test prepares, before its snapshot
        assert_eq!(
            watching.plan(t0),
            Some(t0 + ms(25)),
            "the pass plans a look"
        );
        assert!(
            !watching.add(watch(100), t0 + ms(2)),
            "the watch finds it due"
        );
        // A test with a shorter threshold announced meanwhile leads the beat.
        watching.expect(ms(40));
        assert_eq!(
            watching.plan(t0 + ms(3)),
            Some(t0 + ms(28)),
            "the watched one's beat"
        );
        watching.tests.clear();
        watching.expect(ms(40));
        assert_eq!(
            watching.plan(t0 + ms(4)),
            Some(t0 + ms(14)),
            "10 ms: a quarter of 40"
        );
    }

    #[test]
    fn a_watch_whose_beat_is_shorter_than_the_plan_rings() {
        let t0 = Instant::now();
        let mut watching = Watching::new();
        watching.add(watch(200), t0);
        assert_eq!(watching.plan(t0), Some(t0 + ms(50)));
        assert!(
            watching.add(watch(20), t0),
            "due within 5 ms, planned in 50"
        );
        assert_eq!(
            watching.plan(t0),
            Some(t0 + ms(5)),
            "the smallest beat leads"
        );
    }

    #[test]
    fn the_beat_goes_on_for_a_second_after_the_last_watch_then_stops() {
        let t0 = Instant::now();
        let mut watching = Watching::new();
        watching.add(watch(100), t0);
        watching.plan(t0);
        watching.tests.clear(); // the test ended
        let idle = t0 + ms(25);
        assert_eq!(
            watching.plan(idle),
            Some(idle + ms(25)),
            "still on the beat"
        );
        assert!(
            !watching.add(watch(100), idle + ms(10)),
            "the next test needs no ring"
        );
        watching.tests.clear();
        let later = idle + ms(50);
        assert_eq!(
            watching.plan(later),
            Some(later + ms(25)),
            "idle from now on"
        );
        assert_eq!(
            watching.plan(later + KEEP_BEAT),
            None,
            "a second idle: it stops"
        );
        assert!(
            watching.add(watch(100), later + KEEP_BEAT),
            "and the next watch rings"
        );
    }
}
