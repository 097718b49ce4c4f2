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
//! Invariants:
//! - At most one helper thread per process, started by the first duty, before the
//!   test that needs it takes its snapshot of the process's threads, and registered
//!   as Iris's own: never a leak.
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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::os::threads as os_threads;
use crate::threads::managed_thread::current_os_tid;

/// One duty: does what is due at `now`, and says when it next needs to run (`None`:
/// not until its bell rings).
pub(super) type Duty = fn(now: Instant) -> Option<Instant>;

/// What the helper does when SIGTERM arrives, before the signal's default action.
pub(super) type OnTerminate = fn();

struct Helper {
    bell: Bell,
    /// Each duty under its name (function pointers do not compare reliably).
    duties: Mutex<Vec<(&'static str, Duty)>>,
    on_terminate: OnceLock<OnTerminate>,
    terminated: Arc<AtomicBool>,
}

/// The helper, once started (`None` inside: it could not start).
static HELPER: OnceLock<Option<Helper>> = OnceLock::new();

/// The helper, started by the first caller.
fn helper() -> Option<&'static Helper> {
    HELPER
        .get_or_init(|| {
            let started = Bell::new().and_then(|(bell, waiting)| {
                std::thread::Builder::new()
                    .name("iris-helper".into())
                    .spawn(move || {
                        if let Some(tid) = current_os_tid() {
                            os_threads::register_helper(tid);
                        }
                        serve(&waiting);
                    })?;
                Ok(bell)
            });
            match started {
                Ok(bell) => Some(Helper {
                    bell,
                    duties: Mutex::new(Vec::new()),
                    on_terminate: OnceLock::new(),
                    terminated: Arc::new(AtomicBool::new(false)),
                }),
                Err(error) => {
                    super::output::about_run(&format!(
                        "iris: Iris's helper thread cannot start ({error}): no hang dumps and no \
                         blocking detection in this run"
                    ));
                    None
                }
            }
        })
        .as_ref()
}

/// Adds `duty` to the helper's rounds (starting the helper if it is not running)
/// and, the first time, rings it so the duty runs at once. Whether the helper runs.
/// Cheap once the duty is taken on: tests call it each time.
pub(super) fn take_on(name: &'static str, duty: Duty) -> bool {
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
pub(super) fn ring() {
    if let Some(helper) = helper() {
        helper.bell.ring();
    }
}

/// Listens for SIGTERM: when it arrives, `on_terminate` runs on the helper, then the
/// signal's default action. `Err` says why it cannot (then SIGTERM keeps its
/// default).
#[cfg(unix)]
pub(super) fn on_sigterm(on_terminate: OnTerminate) -> Result<(), String> {
    use signal_hook::consts::SIGTERM;
    let helper = helper().ok_or("Iris's helper thread is not running")?;
    if helper.on_terminate.set(on_terminate).is_err() {
        return Ok(()); // listening already
    }
    // In order of registration: the flag is set before the ring that reports it.
    signal_hook::flag::register(SIGTERM, helper.terminated.clone())
        .and_then(|_| helper.bell.ring_on(SIGTERM))
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// The helper's loop.
fn serve(waiting: &Waiting) -> ! {
    loop {
        // Never `helper()`: the spawner may still be publishing it, and waiting for
        // that here would make the spawner's first ring the only way on anyway.
        let next = match HELPER.get().and_then(Option::as_ref) {
            Some(helper) if helper.terminated.load(Ordering::Acquire) => terminate(helper),
            Some(helper) => {
                let duties = helper.duties.lock().clone();
                let now = Instant::now();
                duties.iter().filter_map(|(_, duty)| duty(now)).min()
            }
            // Not published yet: the spawner's first ring, right after, wakes us.
            None => None,
        };
        waiting.wait(next.map(|when| when.saturating_duration_since(Instant::now())));
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
