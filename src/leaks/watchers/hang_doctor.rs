//! The hang doctor: one watcher for the process that says where a test is stuck
//! when it runs too long, without failing it.
//!
//! - Under `cargo test`, where no test has a deadline unless it sets `timeout`: a
//!   test still running after `IRIS_HANG_DUMP` (default 60 s, libtest's own "has been
//!   running for over 60 seconds" point; `off` disables it) gets one dump, on the
//!   real stderr, of where its body and every thread, task and child process charged
//!   to it are.
//! - Under nextest, which ends a test that runs past its `slow-timeout` with SIGTERM
//!   (`terminate-after`), the same dump is written when SIGTERM arrives, before the
//!   process dies, so the runner's output and its JUnit carry it.
//!
//! Invariants:
//! - Its watching is a duty of Iris's one helper thread (`helper.rs`), given by the
//!   first test: the watch under `cargo test`, the SIGTERM listener under nextest
//!   (whose own `slow-timeout` reports slow tests). The watch sleeps until the
//!   earliest test is due, or for one `IRIS_HANG_DUMP` period when no test runs:
//!   every test waits the same time, so a test that arrives while it sleeps is due
//!   after it wakes, and nobody needs to wake it. A test registers and leaves with
//!   one short lock and never wakes another thread (a wake-up per test cost a
//!   libtest run of 1,000 tests about 5%).
//! - A test is dumped at most once by the watcher; the dump is built outside the
//!   lock, and never fails or slows the test it describes beyond sampling stacks,
//!   except that a dump once begun is written whole: a test whose dump is being
//!   written waits for it as it ends (at most `DUMP_PATIENCE`), so that the process
//!   cannot exit in the middle of it. (Reading debug information for the stacks takes
//!   a debug build half a second, and much longer on a loaded machine.)
//! - On SIGTERM (nextest only: elsewhere the signal keeps its default), every
//!   running test is dumped, then the signal's default action ends the process, as
//!   it would have without Iris.
//! - The SIGTERM listener is armed only once a test has run for `ARM_AFTER`: nextest
//!   terminates a test after its `slow-timeout` (seconds at least), and a test that
//!   ends sooner, nearly all of them, finds SIGTERM as it would without Iris (its
//!   default action, no handler: signal-hook's own suite asserts that; a test that
//!   installs a handler and sends itself SIGTERM is not ended by Iris's). (Its
//!   process also skips the installation, which saves no time that can be measured.)

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::leaks::harness::options::BodyKind;
use crate::leaks::output::{self, Runner};
use crate::leaks::watchers::helper;
use crate::leaks::watchers::live::describe_live;
use crate::text::duration::parse_duration;
use crate::threads::managed_thread::current_os_tid;
use crate::threads::registry::ThreadRegistry;

/// The default of `IRIS_HANG_DUMP`.
const DEFAULT_AFTER: Duration = Duration::from_secs(60);

/// `IRIS_HANG_DUMP`: after how long a running test is dumped (`None`: off). Read
/// once; a bad value is warned about and the default used.
fn dump_after() -> Option<Duration> {
    static AFTER: OnceLock<Option<Duration>> = OnceLock::new();
    *AFTER.get_or_init(|| match std::env::var("IRIS_HANG_DUMP") {
        Err(_) => Some(DEFAULT_AFTER),
        Ok(text) if ["off", "false", "no"].contains(&text.trim().to_ascii_lowercase().as_str()) => None,
        Ok(text) => match parse_duration(&text) {
            Ok(after) => Some(after),
            Err(why) => {
                let why = if text.trim() == "0" {
                    "a bare 0 has no unit (write `off` to turn dumps off, or a duration such as \"60s\")".to_string()
                } else {
                    why
                };
                output::bad_knob(
                    "IRIS_HANG_DUMP",
                    &text,
                    &why,
                    &format!("dumping tests running over {DEFAULT_AFTER:?}"),
                );
                Some(DEFAULT_AFTER)
            }
        },
    })
}

/// Reads `IRIS_HANG_DUMP` now (see `knobs`).
pub(crate) fn read_environment() {
    let _ = dump_after();
}

/// A running test, as the doctor sees it.
struct Patient {
    id: u64,
    name: String,
    started: Instant,
    registry: ThreadRegistry,
    body: Option<u32>,
    tracked_scope: Option<u64>,
    /// The process's threads when the test began, when it owns the process: those
    /// born since are the test's too, and listed.
    before: Option<Arc<HashSet<u32>>>,
    dumped: bool,
    kind: BodyKind,
}

impl Patient {
    /// What the dump needs, taken under the ward's lock and used outside it.
    fn chart(&self) -> Chart {
        Chart {
            name: self.name.clone(),
            running: self.started.elapsed(),
            registry: self.registry.clone(),
            body: self.body,
            tracked_scope: self.tracked_scope,
            before: self.before.clone(),
            kind: self.kind,
        }
    }
}

/// A patient's state at one moment.
struct Chart {
    name: String,
    running: Duration,
    registry: ThreadRegistry,
    body: Option<u32>,
    tracked_scope: Option<u64>,
    before: Option<Arc<HashSet<u32>>>,
    kind: BodyKind,
}

impl Chart {
    /// Writes `headline` and where the test is to the real stderr.
    fn write(&self, headline: &str) {
        output::from_watchdog(&format!(
            "{headline}\n{}",
            describe_live(
                &self.registry,
                self.before.as_deref(),
                self.tracked_scope,
                self.body,
                self.kind
            )
        ));
    }
}

#[derive(Default)]
struct Ward {
    patients: Vec<Patient>,
    next_id: u64,
    /// The tests whose dump the watcher is writing now.
    being_dumped: Vec<u64>,
}

/// The running tests, seen by the helper thread.
static WARD: Mutex<Ward> = Mutex::new(Ward {
    patients: Vec::new(),
    next_id: 0,
    being_dumped: Vec::new(),
});

/// Notified (under `WARD`) each time the watcher has written a dump.
static DUMPED: Condvar = Condvar::new();

/// How long a test that ends while its dump is being written waits for it.
const DUMP_PATIENCE: Duration = Duration::from_secs(10);

/// Gives the doctor its duty on Iris's helper thread, once: under nextest, whose
/// `slow-timeout` says when a test is slow, the dump when nextest terminates one
/// (listened for once a test has run `ARM_AFTER`); elsewhere the watch.
fn engage() {
    static ENGAGED: OnceLock<()> = OnceLock::new();
    ENGAGED.get_or_init(|| {
        if output::runner() == Runner::Nextest {
            helper::take_on("SIGTERM listener", arm_when_due);
        } else {
            helper::take_on("hang watch", watch);
        }
    });
}

/// How long a test runs before the SIGTERM listener is armed: far below any
/// `slow-timeout` nextest can terminate a test at (a period of seconds, times
/// `terminate-after`), far above what nearly every test takes.
const ARM_AFTER: Duration = Duration::from_millis(500);

/// The helper's duty under nextest: arms the SIGTERM listener once the earliest
/// running test has run for `ARM_AFTER` (then never again); until a test is
/// admitted it looks again after `ARM_AFTER`.
fn arm_when_due(now: Instant) -> Option<Instant> {
    static ARMED: OnceLock<()> = OnceLock::new();
    if ARMED.get().is_some() {
        return None;
    }
    let earliest = WARD.lock().patients.iter().map(|p| p.started).min();
    let Some(started) = earliest else {
        return now.checked_add(ARM_AFTER);
    };
    match started.checked_add(ARM_AFTER) {
        Some(due) if due > now => Some(due),
        _ => {
            ARMED.get_or_init(listen_for_sigterm);
            None
        }
    }
}

/// Starts the doctor's helper thread, if it is not running yet: called before a test
/// takes its snapshot of the process's threads and before it charges new threads to
/// itself, so the helper is never seen as the first test's.
pub(in crate::leaks) fn prepare() {
    if dump_after().is_some() {
        engage();
        // Under nextest the helper leaves after each test; a later one here needs it.
        helper::on_call();
    }
}

/// A test under watch; it leaves the ward when dropped.
pub(in crate::leaks) struct Admission {
    id: u64,
}

/// Puts the test that is starting on this thread under watch (nothing when
/// `IRIS_HANG_DUMP=off`).
pub(in crate::leaks) fn admit(
    name: &str,
    kind: BodyKind,
    registry: &ThreadRegistry,
    tracked_scope: Option<u64>,
    before: Option<&HashSet<u32>>,
) -> Option<Admission> {
    dump_after()?;
    engage();
    let mut ward = WARD.lock();
    ward.next_id += 1;
    let id = ward.next_id;
    ward.patients.push(Patient {
        id,
        name: name.to_string(),
        started: Instant::now(),
        registry: registry.clone(),
        body: current_os_tid(),
        tracked_scope,
        before: before.map(|tids| Arc::new(tids.clone())),
        dumped: false,
        kind,
    });
    Some(Admission { id })
}

impl Admission {
    /// A handle for the body's thread to say where it runs.
    pub(in crate::leaks) fn id(&self) -> u64 {
        self.id
    }
}

/// The test's body moved to thread `tid` (with `timeout` it runs on its own
/// thread): a dump then shows where the body is, not where the scope waits for it.
pub(in crate::leaks) fn body_runs_on(admission: u64, tid: u32) {
    if let Some(patient) = WARD.lock().patients.iter_mut().find(|p| p.id == admission) {
        patient.body = Some(tid);
    }
}

impl Drop for Admission {
    /// Discharges the test; if its dump is being written, waits for it (boundedly):
    /// a dump is never cut short by the end of the process.
    fn drop(&mut self) {
        let mut ward = WARD.lock();
        ward.patients.retain(|p| p.id != self.id);
        let deadline = Instant::now() + DUMP_PATIENCE;
        while ward.being_dumped.contains(&self.id) {
            if DUMPED.wait_until(&mut ward, deadline).timed_out() {
                break;
            }
        }
    }
}

/// The watch, a duty of the helper thread: dumps every test that has run past
/// `IRIS_HANG_DUMP` and not been dumped yet, and says when the next one is due. With
/// no test running it asks to run again one period from now: every test waits the
/// same period, so a test that arrives meanwhile is due after that, and nobody
/// needs to ring the helper for it.
fn watch(now: Instant) -> Option<Instant> {
    let after = dump_after()?;
    let (due, next) = {
        let mut ward = WARD.lock();
        let due: Vec<(u64, Chart)> = ward
            .patients
            .iter_mut()
            .filter(|p| !p.dumped && p.started.checked_add(after).is_some_and(|due| due <= now))
            .map(|p| {
                p.dumped = true;
                (p.id, p.chart())
            })
            .collect();
        ward.being_dumped.extend(due.iter().map(|(id, _)| *id));
        let next = ward
            .patients
            .iter()
            .filter(|p| !p.dumped)
            // A period too long for the clock is never due.
            .filter_map(|p| p.started.checked_add(after))
            .min();
        (due, next.or_else(|| now.checked_add(after)))
    };
    for (id, chart) in due {
        // Released however the writing ends: the test's end waits for it.
        let _written = Written(id);
        chart.write(&format!(
            "iris: test `{}` has been running for {:.1?} (IRIS_HANG_DUMP={after:?}; \
             it is not failed for it)",
            chart.name, chart.running
        ));
    }
    next
}

/// A dump being written: once dropped (written, or abandoned by a panic), the test
/// it describes may end.
struct Written(u64);

impl Drop for Written {
    fn drop(&mut self) {
        WARD.lock().being_dumped.retain(|id| *id != self.0);
        DUMPED.notify_all();
    }
}

/// Under nextest: on SIGTERM (`slow-timeout` with `terminate-after`), dump every
/// running test, then let the signal end the process.
#[cfg(unix)]
fn listen_for_sigterm() {
    if let Err(error) = helper::on_sigterm(dump_terminated) {
        output::about_run(&format!(
            "iris: cannot listen for nextest's SIGTERM ({error}): a terminated test gets no dump"
        ));
    }
}

#[cfg(not(unix))]
fn listen_for_sigterm() {}

/// What the helper does on SIGTERM, before the signal's default action.
#[cfg(unix)]
fn dump_terminated() {
    let running: Vec<Chart> = WARD.lock().patients.iter().map(Patient::chart).collect();
    for chart in running {
        chart.write(&format!(
            "iris: test `{}` was terminated (SIGTERM, nextest's slow-timeout) after {:.1?}",
            chart.name, chart.running
        ));
    }
}
