//! The process's one Iris helper thread, which does the waiting that no test can do
//! for itself: the hang doctor's watch (or, under nextest, its SIGTERM listener) and
//! the blocking sampler's looks.
//!
//! Why one: a helper thread costs a test process more than its start. On the
//! virtual machines CI runs on, a thread still asleep when the process exits must
//! be woken on another CPU to die, and `exit` waits for it: each one measured
//! 0.12-0.15 ms of a 1.5 ms test process, the larger part of what Iris adds to a
//! trivial test under nextest (one process per test). An async test used to start
//! two; now every duty shares this one.
//!
//! Under nextest, which runs one test per process, the helper also leaves when the
//! process's last open test ends: it is rung to leave, and the test does not wait for
//! it. A helper that has not run by then (nearly always: it waits on its test's CPU,
//! which the test keeps busy) is ended by the process's exit without ever reaching
//! its own code; one that has run is asleep and ends the same way. Until 2026-12-04
//! the test waited (at most 10 ms) for the helper to end, unless the CPUs were
//! oversubscribed: that paid off while the helper could be on another CPU, queued
//! behind another test process at exit (trivial tests, two processes at a time on two
//! cores, 2.84 ms left asleep against 1.86 ms waited for, plain 1.53 ms). Once the
//! helper was kept on its test's CPU (below), the wait only made it run its start and
//! its leaving before the exit: tokio-util's `codecs` test, one process at a time,
//! +0.27 ms over plain waiting and +0.14 ms not (sync), +0.23 and +0.08 ms (its
//! `task_tracker`, async); two at a time, +0.14 and +0.10 ms; beside one busy loop
//! per core, +1.32 and +0.53 ms. Its whole suite under nextest (release, two jobs,
//! median per process of 6-12 rounds): quiet, 6.98 ms waiting and 6.92 ms not (plain
//! 6.59 ms); beside one busy loop per core, 15.99 and 15.42 ms (plain 14.12 ms).
//!
//! Under nextest the helper is also started on its test's CPU, and stays there
//! (`os::cpu_affinity`): its start and the rings it gets are then hand-offs on one
//! CPU, none of which wakes another CPU or queues the helper behind another process
//! there. It sleeps almost all its life, so the
//! CPU it shares costs the test nothing. Trivial tests, two test processes at a time
//! on two cores, mean per process over plain `#[test]` / `#[tokio::test]`, started
//! anywhere vs on the test's CPU (150-300 runs each, two rounds): release, quiet,
//! sync +0.22-0.27 vs +0.19-0.20 ms, async +0.24-0.26 vs +0.23-0.24 ms; release,
//! beside two busy loops per core, sync +0.52-1.33 vs 0.00-0.20 ms, async
//! +0.65-0.84 vs +0.34-1.03 ms; debug, quiet, sync +0.47 vs +0.28 ms, async +0.58 vs
//! +0.50 ms; debug, loaded, sync +1.26 vs +0.46 ms, async +1.32 vs +0.91 ms.
//!
//! Invariants:
//! - At most one helper thread at a time, started by the first duty, before the
//!   test that needs it takes its snapshot of the process's threads, and registered
//!   as Iris's own while it runs: never a leak. Under nextest it is kept to the CPU
//!   its test ran on when it started; the test's thread keeps every CPU it had.
//! - The helper asks each duty, in one pass, to do what is due and say when it
//!   next needs to run; it then sleeps until the earliest of those times, or until
//!   someone rings its bell (a duty that has new work earlier than it said), or until
//!   SIGTERM arrives (when listened for). Nothing polls: with no duty due it sleeps
//!   without a timeout.
//! - A ring is never lost: the bell is a socket (a condvar where there are no Unix
//!   sockets) that keeps a ring until the helper reads it, so a ring between a pass
//!   and the sleep after it ends that sleep at once.
//! - SIGTERM (listened for only under nextest, which sends it on `terminate-after`):
//!   the signal handler only sets a flag and rings (both async-signal-safe); the
//!   helper, woken, runs the termination hook (the hang doctor's dump) and then the
//!   signal's default action, which ends the process as it would have without Iris.
//! - The helper leaves only when no test is open (counted under the same lock as the
//!   shift, so a test that opens meanwhile either keeps it or starts the next one),
//!   and only under nextest; nobody waits for it to end. While none serves,
//!   `off_duty` is set and the signal handler takes SIGTERM's default action itself:
//!   a SIGTERM is never swallowed. The helper sets `off_duty` before it looks at the
//!   SIGTERM flag one last time, and the handler sets the flag before it looks at
//!   `off_duty` (all `SeqCst`), so at least one of them acts on a SIGTERM that
//!   arrives while it leaves.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::leaks::output::{self, Runner};
use crate::os::cpu_affinity;
use crate::os::threads as os_threads;
use crate::threads::managed_thread::current_os_tid;

/// One duty: does what is due at `now`, and says when it next needs to run (`None`:
/// not until its bell rings).
pub(in crate::leaks) type Duty = fn(now: Instant) -> Option<Instant>;

/// What the helper does when SIGTERM arrives, before the signal's default action.
pub(in crate::leaks) type OnTerminate = fn();

struct Helper {
    bell: Bell,
    /// Each duty under its name (function pointers do not compare reliably).
    duties: Mutex<Vec<(&'static str, Duty)>>,
    on_terminate: OnceLock<OnTerminate>,
    terminated: Arc<AtomicBool>,
    /// Set while no helper thread serves: SIGTERM then takes its default action.
    off_duty: Arc<AtomicBool>,
}

/// The bell's two ends, once made (`None` inside: they could not be).
static HELPER: OnceLock<Option<Helper>> = OnceLock::new();

/// Who serves, and how many tests are open.
struct Roster {
    shift: Shift,
    /// The bell's far end while no thread holds it.
    waiting: Option<Waiting>,
    open_tests: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shift {
    /// No helper thread (none needed yet, or the last one left).
    OffDuty,
    /// A helper thread serves.
    Serving,
    /// Asked to leave when it next wakes, unless a test needs it again first.
    Leaving,
    /// A helper thread could not be started: none will be (said once).
    Broken,
}

static ROSTER: Mutex<Roster> = Mutex::new(Roster {
    shift: Shift::OffDuty,
    waiting: None,
    open_tests: 0,
});

/// The helper, its thread serving (started if none does).
fn helper() -> Option<&'static Helper> {
    let helper = HELPER
        .get_or_init(|| match Bell::new() {
            Ok((bell, waiting)) => {
                ROSTER.lock().waiting = Some(waiting);
                Some(Helper {
                    bell,
                    duties: Mutex::new(Vec::new()),
                    on_terminate: OnceLock::new(),
                    terminated: Arc::new(AtomicBool::new(false)),
                    off_duty: Arc::new(AtomicBool::new(true)),
                })
            }
            Err(error) => {
                cannot_start(&error);
                None
            }
        })
        .as_ref()?;
    on_duty(helper, &mut ROSTER.lock()).then_some(helper)
}

/// Makes sure a helper thread serves: keeps one that was leaving, or starts one.
fn on_duty(helper: &'static Helper, roster: &mut Roster) -> bool {
    match roster.shift {
        Shift::Serving => true,
        Shift::Leaving => {
            roster.shift = Shift::Serving;
            true
        }
        Shift::Broken => false,
        Shift::OffDuty => {
            let Some(waiting) = roster.waiting.take() else {
                roster.shift = Shift::Broken;
                return false;
            };
            // Before it exists: a SIGTERM from now on is the helper's to handle.
            helper.off_duty.store(false, Ordering::SeqCst);
            let builder = std::thread::Builder::new().name("iris-helper".into());
            let body = move || {
                let registration = os_threads::HelperRegistration::new(current_os_tid());
                serve(helper, waiting);
                drop(registration);
            };
            // Under nextest the helper lives for one test and every start, ring and
            // leaving is a hand-off with it: on the test's CPU, none wakes another
            // (see the module's documentation).
            let spawned = if output::runner() == Runner::Nextest {
                cpu_affinity::spawn_beside(builder, body)
            } else {
                builder.spawn(body)
            };
            match spawned {
                Ok(_) => {
                    roster.shift = Shift::Serving;
                    true
                }
                Err(error) => {
                    helper.off_duty.store(true, Ordering::SeqCst);
                    roster.shift = Shift::Broken;
                    cannot_start(&error);
                    false
                }
            }
        }
    }
}

fn cannot_start(error: &std::io::Error) {
    output::about_run(&format!(
        "iris: Iris's helper thread cannot start ({error}): no hang dumps and no \
         blocking detection in this run"
    ));
}

/// An open test, for the helper: while any is open, the helper never leaves.
pub(in crate::leaks) struct OpenTest(());

/// A test opens. A helper that is leaving or has left serves it again when one of
/// its duties asks for it (`on_duty`, under the same lock as this count).
pub(in crate::leaks) fn test_opens() -> OpenTest {
    ROSTER.lock().open_tests += 1;
    OpenTest(())
}

impl Drop for OpenTest {
    /// Under nextest (one test per process) the helper is rung to leave once no test
    /// is open (this process runs no other); nobody waits for it (see the module's
    /// documentation).
    fn drop(&mut self) {
        let mut roster = ROSTER.lock();
        roster.open_tests = roster.open_tests.saturating_sub(1);
        if roster.open_tests > 0
            || roster.shift != Shift::Serving
            || output::runner() != Runner::Nextest
        {
            return;
        }
        roster.shift = Shift::Leaving;
        if let Some(helper) = HELPER.get().and_then(Option::as_ref) {
            helper.bell.ring();
        }
    }
}

/// Makes sure a helper thread serves (one may have left after an earlier test of
/// this process). Whether one does.
pub(in crate::leaks) fn on_call() -> bool {
    helper().is_some()
}

/// Adds `duty` to the helper's rounds (starting the helper if it is not running)
/// and, the first time, rings it so the duty runs at once. Whether the helper runs.
/// Cheap once the duty is taken on: tests call it each time.
pub(in crate::leaks) fn take_on(name: &'static str, duty: Duty) -> bool {
    let Some(helper) = helper() else {
        return false;
    };
    let new = {
        let mut duties = helper.duties.lock();
        let new = duties.iter().all(|(taken, _)| *taken != name);
        if new {
            duties.push((name, duty));
        }
        new
    };
    if new {
        helper.bell.ring();
    }
    true
}

/// Tells the helper that a duty has work earlier than it said.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // the blocking sampler's
pub(in crate::leaks) fn ring() {
    if let Some(helper) = helper() {
        helper.bell.ring();
    }
}

/// Listens for SIGTERM: when it arrives, `on_terminate` runs on the helper, then the
/// signal's default action. `Err` says why it cannot (then SIGTERM keeps its
/// default).
#[cfg(unix)]
pub(in crate::leaks) fn on_sigterm(on_terminate: OnTerminate) -> Result<(), String> {
    use signal_hook::consts::SIGTERM;
    let helper = helper().ok_or("Iris's helper thread is not running")?;
    if helper.on_terminate.set(on_terminate).is_err() {
        return Ok(()); // listening already
    }
    // In order of registration: the flag is set before the ring that reports it, and
    // both before the default action that ends the process when no helper serves.
    // A SIGTERM the process sends itself is the test's own business (a test of
    // graceful shutdown): it sets no flag, so the helper neither dumps nor ends it.
    crate::os::sigterm::flag_when_sent_from_outside(helper.terminated.clone())
        .and_then(|_| helper.bell.ring_on(SIGTERM))
        .and_then(|_| {
            signal_hook::flag::register_conditional_default(SIGTERM, helper.off_duty.clone())
        })
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// The helper's loop, until it is asked to leave.
fn serve(helper: &'static Helper, waiting: Waiting) {
    loop {
        if helper.terminated.load(Ordering::SeqCst) {
            terminate(helper);
        }
        let duties = helper.duties.lock().clone();
        let now = Instant::now();
        let next = duties.iter().filter_map(|(_, duty)| duty(now)).min();
        waiting.wait(next.map(|when| when.saturating_duration_since(Instant::now())));
        let mut roster = ROSTER.lock();
        if roster.shift == Shift::Leaving {
            helper.off_duty.store(true, Ordering::SeqCst);
            if helper.terminated.load(Ordering::SeqCst) {
                // The SIGTERM came while we were still on duty: it is ours.
                roster.shift = Shift::Serving;
                drop(roster);
                terminate(helper);
            }
            roster.shift = Shift::OffDuty;
            roster.waiting = Some(waiting);
            return;
        }
    }
}

fn terminate(helper: &Helper) -> ! {
    if let Some(on_terminate) = helper.on_terminate.get() {
        on_terminate();
    }
    #[cfg(unix)]
    {
        let _ = signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGTERM);
    }
    // The default action of SIGTERM ends the process; should it ever return, so do we.
    std::process::exit(143)
}

/// The helper's bell: rung by tests and by the signal handler, waited on by the
/// helper. A Unix socket pair where there is one (a signal handler may write to a
/// socket; it may not touch a lock).
#[cfg(unix)]
struct Bell {
    ringer: std::os::unix::net::UnixStream,
}

/// The helper's side of the bell.
#[cfg(unix)]
struct Waiting {
    listener: std::os::unix::net::UnixStream,
}

#[cfg(unix)]
impl Bell {
    fn new() -> std::io::Result<(Bell, Waiting)> {
        let (ringer, listener) = std::os::unix::net::UnixStream::pair()?;
        // A full socket already holds a ring: a ring never blocks.
        ringer.set_nonblocking(true)?;
        Ok((Bell { ringer }, Waiting { listener }))
    }

    fn ring(&self) {
        use std::io::Write;
        let _ = (&self.ringer).write(&[1]);
    }

    fn ring_on(&self, signal: std::os::raw::c_int) -> std::io::Result<signal_hook::SigId> {
        signal_hook::low_level::pipe::register(signal, self.ringer.try_clone()?)
    }
}

#[cfg(unix)]
impl Waiting {
    /// Sleeps until a ring (taking every ring so far) or for `timeout` (`None`: no
    /// limit).
    fn wait(&self, timeout: Option<Duration>) {
        use std::io::Read;
        match timeout {
            Some(timeout) if timeout.is_zero() => return,
            // A zero timeout is an error to the socket; `None` waits without one.
            timeout => {
                let _ = self.listener.set_read_timeout(timeout);
            }
        }
        let mut rings = [0u8; 64];
        let _ = (&self.listener).read(&mut rings);
    }
}

#[cfg(not(unix))]
struct Bell {
    shared: Arc<(Mutex<bool>, parking_lot::Condvar)>,
}

#[cfg(not(unix))]
struct Waiting {
    shared: Arc<(Mutex<bool>, parking_lot::Condvar)>,
}

#[cfg(not(unix))]
impl Bell {
    fn new() -> std::io::Result<(Bell, Waiting)> {
        let shared = Arc::new((Mutex::new(false), parking_lot::Condvar::new()));
        Ok((
            Bell {
                shared: shared.clone(),
            },
            Waiting { shared },
        ))
    }

    fn ring(&self) {
        *self.shared.0.lock() = true;
        self.shared.1.notify_one();
    }
}

#[cfg(not(unix))]
impl Waiting {
    fn wait(&self, timeout: Option<Duration>) {
        let mut rung = self.shared.0.lock();
        if !*rung {
            match timeout {
                None => self.shared.1.wait(&mut rung),
                Some(timeout) => {
                    let _ = self.shared.1.wait_for(&mut rung, timeout);
                }
            }
        }
        *rung = false;
    }
}
