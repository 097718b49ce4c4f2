//! Running a one-thread test runtime's leftover plain tasks forward in paused time,
//! to see whether they end on their own.
//!
//! A plain task still alive after the test's `linger` may only be waiting for its
//! next timer to find that its owner is gone: a connection pool's reaper that holds
//! the pool weakly and wakes every 30 s (bb8's, the default) ends at its first tick
//! after the test dropped the pool. In production it ends on its own; nothing is left
//! running that the test should have stopped. Waiting for it in real time would cost
//! the test 30 s; in tokio's paused time it costs microseconds, since the clock jumps
//! to the next timer whenever the runtime is idle. A task that is a leak (a loop that
//! never ends, an accept loop, a receiver whose sender lives on) is still alive at
//! the end of [`HORIZON`] and is reported as before.
//!
//! Invariants:
//! - Only a current-thread runtime is paused (tokio pauses no other), and only when
//!   its clock is not paused already (a `start_paused` test's, or one the body paused
//!   and left so): pausing twice panics in tokio. A clock paused here is resumed.
//! - Bounded twice: at most [`HORIZON`] of paused time and at most [`BUDGET`] of real
//!   time, kept by a thread of its own (a task that never lets the runtime idle holds
//!   a paused clock, and tokio holds one while a `spawn_blocking` task runs: then the
//!   looks' timers wait in real time). So a task that wakes itself every millisecond
//!   for ever gets no more than the budget.
//! - What the tasks log while they run on is dropped: it is not the test's.
//! - The tasks run where they always run, inside `block_on` on the thread that owns
//!   the runtime, after the body and the registry's stop: the same code they would run
//!   after the test, only sooner. Their panics are still the test's (the runtime's
//!   panic collector serves until its shutdown).

use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::runtime::{Runtime, RuntimeFlavor};

use crate::sync::stop_token::StopToken;

/// How far past the test, in paused time, leftover plain tasks are run to see if they
/// end: an hour, far beyond the 30 s interval of the pool reapers found on real suites
/// (bb8's; r2d2's threads, on the default list of process-scoped creators, use the
/// same). Paused time costs only what the tasks do in it: a task that wakes once a
/// second runs 3,600 times, one that waits for input or a message runs not at all.
pub(crate) const HORIZON: Duration = Duration::from_secs(3600);

/// How much real time the run may take, whatever the tasks do: a task that wakes
/// every millisecond for ever is cut off here, not at the horizon.
const BUDGET: Duration = Duration::from_millis(250);

/// Paused time before the first look at whether the tasks have ended; each next look
/// waits twice as long, so the horizon is reached in 19 looks.
const FIRST_STEP: Duration = Duration::from_millis(10);

/// What a run in paused time came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The tasks ended (`ended()` became true) within the bounds.
    Ended,
    /// They were still alive after this much paused time.
    StillAlive(Duration),
    /// Not run: a multi-thread runtime, whose clock tokio does not pause, or no
    /// thread could be started to keep the budget.
    NotRun,
}

/// Runs `runtime`'s tasks in paused time until `ended()` is true, [`HORIZON`] of paused
/// time has passed, or [`BUDGET`] of real time. Only a current-thread runtime is run.
pub(crate) fn run_out(runtime: &Runtime, ended: impl Fn() -> bool) -> Outcome {
    if runtime.handle().runtime_flavor() != RuntimeFlavor::CurrentThread {
        return Outcome::NotRun;
    }
    // A paused clock moves only when the runtime idles: a task that wakes itself for
    // ever (`yield_now` in a loop) would hold it, and every timer with it. So the
    // budget is kept by a thread of its own, which ends as soon as the run does.
    let (alarm, mut rung) = tokio::sync::oneshot::channel::<()>();
    let done = StopToken::new();
    let finished = done.clone();
    let ringer = std::thread::Builder::new()
        .name("iris-fast-forward".into())
        .spawn(move || {
            if !finished.wait_timeout(BUDGET) {
                let _ = alarm.send(());
            }
        });
    // Without its budget the run could hold the test for ever: then it is not run.
    let Ok(ringer) = ringer else {
        return Outcome::NotRun;
    };
    // What the tasks log now is not the test's: it happens after it, in paused time.
    let silent = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let outcome = tracing::dispatcher::with_default(&silent, || {
        runtime.block_on(async {
            let paused_here = !clock_is_paused();
            if paused_here {
                tokio::time::pause();
            }
            let start = tokio::time::Instant::now();
            let mut step = FIRST_STEP;
            let outcome = loop {
                if ended() {
                    break Outcome::Ended;
                }
                let passed = start.elapsed();
                if passed >= HORIZON {
                    break Outcome::StillAlive(passed);
                }
                let sleep = tokio::time::sleep(step.min(HORIZON - passed));
                if first_of(sleep, &mut rung).await == Ring::Alarm {
                    break if ended() {
                        Outcome::Ended
                    } else {
                        Outcome::StillAlive(start.elapsed())
                    };
                }
                // Looks grow apart: a timer far ahead costs no more steps than a near one.
                step = step.saturating_mul(2);
            };
            if paused_here {
                tokio::time::resume();
            }
            outcome
        })
    });
    done.stop();
    // Wakes at once: the run is done.
    let _ = ringer.join();
    outcome
}

/// Which of a step's two ends came first.
#[derive(PartialEq, Eq)]
enum Ring {
    Step,
    Alarm,
}

/// Waits for `step` (paused time) or the budget's `alarm` (real time), whichever is
/// first.
async fn first_of(
    step: tokio::time::Sleep,
    alarm: &mut tokio::sync::oneshot::Receiver<()>,
) -> Ring {
    let mut step = std::pin::pin!(step);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(Ok(())) = std::pin::Pin::new(&mut *alarm).poll(cx) {
            return Poll::Ready(Ring::Alarm);
        }
        step.as_mut().poll(cx).map(|()| Ring::Step)
    })
    .await
}

/// Whether the clock of the runtime this runs in is paused: tokio's `Instant::now()`
/// stands still then (until the runtime idles), while a running clock moves within a
/// few microseconds on every platform tokio supports.
fn clock_is_paused() -> bool {
    let before = tokio::time::Instant::now();
    let spin = Instant::now();
    while spin.elapsed() < Duration::from_micros(5) {
        std::hint::spin_loop();
    }
    tokio::time::Instant::now() == before
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Weak};

    fn current_thread() -> Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
    }

    /// A reaper in bb8's shape: wakes every `every`, ends when its pool is gone.
    fn spawn_reaper(runtime: &Runtime, pool: Weak<()>, every: Duration) -> Arc<AtomicBool> {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        runtime.spawn(async move {
            let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                interval.tick().await;
                if pool.upgrade().is_none() {
                    break;
                }
            }
            flag.store(true, Ordering::SeqCst);
        });
        done
    }

    /// The run leaves the tasks alive, within the budget (a wide margin: the budget is
    /// 250 ms, whatever the machine's load).
    fn still_alive_and_cut_off_in_time(runtime: &Runtime) {
        let started = Instant::now();
        let outcome = run_out(runtime, || false);
        assert!(matches!(outcome, Outcome::StillAlive(_)), "{outcome:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_reaper_of_a_dropped_pool_ends_within_the_horizon_in_little_real_time() {
        let runtime = current_thread();
        let pool = Arc::new(());
        let done = spawn_reaper(&runtime, Arc::downgrade(&pool), Duration::from_secs(30));
        drop(pool);
        let started = Instant::now();
        let outcome = run_out(&runtime, || done.load(Ordering::SeqCst));
        assert_eq!(outcome, Outcome::Ended);
        // Wide margin: the run is bounded by BUDGET, whatever the machine's load.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_reaper_far_apart_ends_too() {
        let runtime = current_thread();
        let pool = Arc::new(());
        let done = spawn_reaper(&runtime, Arc::downgrade(&pool), Duration::from_secs(999));
        drop(pool);
        assert_eq!(
            run_out(&runtime, || done.load(Ordering::SeqCst)),
            Outcome::Ended
        );
    }

    #[test]
    fn what_the_tasks_log_meanwhile_is_dropped() {
        use std::sync::atomic::AtomicUsize;
        struct Counting(Arc<AtomicUsize>);
        impl tracing::Subscriber for Counting {
            fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
                tracing::span::Id::from_u64(1)
            }
            fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
            fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
            fn event(&self, _: &tracing::Event<'_>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
            fn enter(&self, _: &tracing::span::Id) {}
            fn exit(&self, _: &tracing::span::Id) {}
        }
        let events = Arc::new(AtomicUsize::new(0));
        let _test_logger = tracing::subscriber::set_default(Counting(events.clone()));
        let runtime = current_thread();
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        runtime.spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            tracing::info!("the pool is gone");
            flag.store(true, Ordering::SeqCst);
        });
        assert_eq!(
            run_out(&runtime, || done.load(Ordering::SeqCst)),
            Outcome::Ended
        );
        assert_eq!(events.load(Ordering::SeqCst), 0);
        tracing::info!("the test's own line");
        assert_eq!(events.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_reaper_of_a_live_pool_is_still_alive_after_the_horizon() {
        let runtime = current_thread();
        let pool = Arc::new(());
        let done = spawn_reaper(&runtime, Arc::downgrade(&pool), Duration::from_secs(30));
        let outcome = run_out(&runtime, || done.load(Ordering::SeqCst));
        assert!(matches!(outcome, Outcome::StillAlive(_)), "{outcome:?}");
        drop(pool);
    }

    #[test]
    fn a_task_that_wakes_every_millisecond_is_cut_off_by_the_budget() {
        let runtime = current_thread();
        runtime.spawn(async {
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        still_alive_and_cut_off_in_time(&runtime);
    }

    #[test]
    fn a_clock_already_paused_is_run_on_and_left_paused() {
        let runtime = current_thread();
        runtime.block_on(async { tokio::time::pause() });
        let pool = Arc::new(());
        let done = spawn_reaper(&runtime, Arc::downgrade(&pool), Duration::from_secs(30));
        drop(pool);
        assert_eq!(
            run_out(&runtime, || done.load(Ordering::SeqCst)),
            Outcome::Ended
        );
        assert!(runtime.block_on(async { clock_is_paused() }));
    }

    #[test]
    fn a_clock_paused_here_runs_again_afterwards() {
        let runtime = current_thread();
        assert!(matches!(
            run_out(&runtime, || false),
            Outcome::StillAlive(_)
        ));
        assert!(!runtime.block_on(async { clock_is_paused() }));
    }

    #[test]
    fn a_multi_thread_runtime_is_not_run() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .expect("runtime");
        assert_eq!(run_out(&runtime, || false), Outcome::NotRun);
    }

    #[test]
    fn a_task_that_never_idles_the_runtime_is_cut_off_by_the_budget() {
        let runtime = current_thread();
        runtime.spawn(async {
            loop {
                tokio::task::yield_now().await;
            }
        });
        still_alive_and_cut_off_in_time(&runtime);
    }

    #[test]
    fn a_running_blocking_task_holds_the_clock_and_the_budget_ends_the_run() {
        let runtime = current_thread();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        runtime.spawn_blocking(move || {
            let _ = wait.recv_timeout(Duration::from_secs(10));
        });
        still_alive_and_cut_off_in_time(&runtime);
        drop(release);
    }
}
