//! The one filesystem watcher of the process, shared by every waiting sentinel.
//!
//! Linux allows 128 inotify instances per user by default; a watcher per wait runs
//! out in a parallel test run. So there is one `notify` watcher (raw OS backend, no
//! debouncer: a debouncer adds its window as latency), created on first use, and a
//! table of who waits on which directory.
//!
//! Invariants:
//! - Lock order: the `waiters` table is the only lock the event callback takes. The
//!   `watches` lock (watch counts and the watcher itself) is never held while taking
//!   `waiters`, and `notify`'s `watch`/`unwatch` (which talk to the event thread) are
//!   only called under `watches`. So the event thread can never deadlock with a
//!   registering waiter.
//! - A waiter is in the table *before* its directory is watched and before it checks
//!   for its file, so no event between the check and the wait is lost.
//! - A directory is watched while at least one registration for it exists, and for a
//!   while after (at most 64 idle watches), so that unwatching never delays a woken
//!   waiter.
//! - The watcher's event thread is recorded as an Iris helper, so leak detection
//!   never reports it.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use notify::{Event, EventKind, RecursiveMode, Watcher as _};
use parking_lot::{Condvar, Mutex};

use crate::sync::deadline::Deadline;

/// One waiting sentinel: woken when an event may concern its target.
pub(crate) struct Waiter {
    pub(crate) target: PathBuf,
    /// Set when an event said the target was created or moved into place: the signal
    /// counts even if the file is removed again before the waiter looks.
    pub(crate) seen_created: AtomicBool,
    events: Mutex<u64>,
    condvar: Condvar,
    /// Async waiters (`wait_async`), woken with the blocking ones.
    #[cfg(feature = "tokio")]
    wakers: Mutex<Vec<std::task::Waker>>,
}

impl Waiter {
    pub(crate) fn new(target: PathBuf) -> Arc<Waiter> {
        Arc::new(Waiter {
            target,
            seen_created: AtomicBool::new(false),
            events: Mutex::new(0),
            condvar: Condvar::new(),
            #[cfg(feature = "tokio")]
            wakers: Mutex::new(Vec::new()),
        })
    }

    fn wake(&self) {
        *self.events.lock() += 1;
        self.condvar.notify_all();
        #[cfg(feature = "tokio")]
        for waker in std::mem::take(&mut *self.wakers.lock()) {
            waker.wake();
        }
    }

    /// The number of wake-ups so far.
    pub(crate) fn generation(&self) -> u64 {
        *self.events.lock()
    }

    /// Completes at the first wake-up after `generation` (the async `wait_past`; the
    /// caller bounds it with a timer).
    #[cfg(feature = "tokio")]
    pub(crate) fn woken_past(&self, generation: u64) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            // The waker is registered before the generation is re-read, and `wake`
            // bumps the generation before it takes the wakers: a wake-up between
            // the two is seen by one or the other.
            {
                // One entry per task however often it re-polls (timeouts re-poll).
                let mut wakers = self.wakers.lock();
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
            }
            if *self.events.lock() != generation {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
    }

    /// Blocks until a wake-up after `generation`, or the deadline.
    pub(crate) fn wait_past(&self, generation: u64, deadline: Deadline) {
        let mut events = self.events.lock();
        while *events == generation && !deadline.is_expired() {
            deadline.wait(&self.condvar, &mut events);
        }
    }
}

pub(crate) struct SharedWatcher {
    waiters: Mutex<HashMap<PathBuf, Vec<Arc<Waiter>>>>,
    watches: Mutex<Watches>,
}

struct Watches {
    counts: HashMap<PathBuf, usize>,
    /// Directories nobody waits on any more whose watch is kept for a while, oldest
    /// first. Removing a watch is a synchronous round trip to the watcher's thread;
    /// doing it lazily keeps it off the path of a waiter that has just been woken.
    idle: VecDeque<PathBuf>,
    watcher: notify::RecommendedWatcher,
}

/// How many idle watches to keep before the oldest is removed.
const MAX_IDLE_WATCHES: usize = 64;

/// Why a directory could not be watched.
pub(crate) enum WatchFailure {
    /// Events cannot be had for it (limits, unsupported filesystem): poll instead.
    Unavailable(String),
    /// The directory cannot be read at all: the wait cannot succeed.
    Io(std::io::Error),
}

/// The shared watcher, or `None` when the OS gives no file events (logged once).
pub(crate) fn shared() -> Option<&'static SharedWatcher> {
    SHARED.get_or_init(create).as_ref()
}

static SHARED: OnceLock<Option<SharedWatcher>> = OnceLock::new();

fn create() -> Option<SharedWatcher> {
    let before = crate::os::threads::snapshot_tids();
    let watcher = notify::recommended_watcher(|result: notify::Result<Event>| {
        // `get` never blocks: events that arrive while the watcher is still being
        // set up concern no waiter (waiters register through the finished watcher).
        if let Some(Some(shared)) = SHARED.get() {
            shared.dispatch(result);
        }
    });
    match watcher {
        Ok(watcher) => {
            if let Some(before) = before {
                record_helper_thread(&before);
            }
            Some(SharedWatcher {
                waiters: Mutex::new(HashMap::new()),
                watches: Mutex::new(Watches {
                    counts: HashMap::new(),
                    idle: VecDeque::new(),
                    watcher,
                }),
            })
        }
        Err(error) => {
            tracing::warn!(%error, "iris: no filesystem events available; sentinels will poll");
            None
        }
    }
}

/// Finds the backend's event thread among the threads born since `before`, and
/// remembers it as ours. The thread names itself once it runs, so this waits
/// (briefly, bounded) for the name; matching on the name as well as on novelty keeps
/// threads spawned concurrently elsewhere out.
fn record_helper_thread(before: &std::collections::HashSet<u32>) {
    let found = crate::wait::condition::Wait::new()
        .timeout(std::time::Duration::from_secs(2))
        .until_some(|| {
            let now = crate::os::threads::snapshot_tids()?;
            let helpers: Vec<u32> = now
                .difference(before)
                .copied()
                .filter(|tid| {
                    crate::os::threads::thread_name(*tid)
                        .is_some_and(|n| n.starts_with("notify-rs"))
                })
                .collect();
            (!helpers.is_empty()).then_some(helpers)
        });
    match found {
        Ok(helpers) => helpers
            .into_iter()
            .for_each(crate::os::threads::register_helper),
        Err(error) => tracing::debug!(%error, "iris: could not identify the file watcher's thread"),
    }
}

impl SharedWatcher {
    /// Registers `waiter` for events in `dir`, watching `dir` if nobody does yet.
    pub(crate) fn register(
        &'static self,
        dir: &Path,
        waiter: &Arc<Waiter>,
    ) -> Result<Registration, WatchFailure> {
        self.waiters
            .lock()
            .entry(dir.to_path_buf())
            .or_default()
            .push(waiter.clone());
        let mut watches = self.watches.lock();
        let count = watches.counts.get(dir).copied().unwrap_or(0);
        if count == 0 {
            // Watch even when an idle watch exists: the directory may have been
            // removed and made again since, which drops the kernel's watch.
            watches.idle.retain(|d| d != dir);
            if let Err(error) = watches.watcher.watch(dir, RecursiveMode::NonRecursive) {
                drop(watches);
                self.remove_waiter(dir, waiter);
                return Err(classify(error));
            }
        }
        watches.counts.insert(dir.to_path_buf(), count + 1);
        Ok(Registration {
            shared: self,
            dir: dir.to_path_buf(),
            waiter: waiter.clone(),
        })
    }

    fn remove_waiter(&self, dir: &Path, waiter: &Arc<Waiter>) {
        let mut waiters = self.waiters.lock();
        if let Some(list) = waiters.get_mut(dir) {
            list.retain(|w| !Arc::ptr_eq(w, waiter));
            if list.is_empty() {
                waiters.remove(dir);
            }
        }
    }

    fn dispatch(&self, result: notify::Result<Event>) {
        let event = match result {
            Ok(event) if !event.need_rescan() => event,
            Ok(_) => {
                tracing::debug!("iris: file event queue overflowed; rechecking every sentinel");
                return self.wake_all();
            }
            Err(error) => {
                tracing::warn!(%error, "iris: file watcher error; rechecking every sentinel");
                return self.wake_all();
            }
        };
        let creates = matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Modify(notify::event::ModifyKind::Name(_))
        );
        let waiters = self.waiters.lock();
        for path in &event.paths {
            // Waiters on the directory that contains `path`, and on `path` itself (the
            // watched directory was removed or renamed: they must re-arm).
            let in_parent = path
                .parent()
                .and_then(|p| waiters.get(p))
                .into_iter()
                .flatten();
            for waiter in in_parent {
                if waiter.target == *path {
                    if creates {
                        waiter.seen_created.store(true, Ordering::Release);
                    }
                    waiter.wake();
                } else if waiter.target.starts_with(path) {
                    waiter.wake(); // a directory on the way to the target changed
                }
            }
            for waiter in waiters.get(path.as_path()).into_iter().flatten() {
                waiter.wake();
            }
        }
    }

    fn wake_all(&self) {
        for waiter in self.waiters.lock().values().flatten() {
            waiter.wake();
        }
    }
}

fn classify(error: notify::Error) -> WatchFailure {
    match error.kind {
        notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
            WatchFailure::Io(io)
        }
        notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            WatchFailure::Unavailable(format!("directory vanished: {io}"))
        }
        notify::ErrorKind::PathNotFound => WatchFailure::Unavailable("directory vanished".into()),
        other => WatchFailure::Unavailable(format!("{other:?}")),
    }
}

/// A waiter's registration for one directory; dropping it unregisters.
pub(crate) struct Registration {
    shared: &'static SharedWatcher,
    dir: PathBuf,
    waiter: Arc<Waiter>,
}

impl Registration {
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.remove_waiter(&self.dir, &self.waiter);
        let mut watches = self.shared.watches.lock();
        let Some(count) = watches.counts.get_mut(&self.dir) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            watches.counts.remove(&self.dir);
            watches.idle.push_back(self.dir.clone());
            if watches.idle.len() > MAX_IDLE_WATCHES {
                if let Some(oldest) = watches.idle.pop_front() {
                    // The directory may be gone already, which removed the watch.
                    let _ = watches.watcher.unwatch(&oldest);
                }
            }
        }
    }
}

#[cfg(test)]
impl SharedWatcher {
    pub(crate) fn waiters_on(&self, dir: &Path) -> usize {
        self.waiters.lock().get(dir).map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn a_create_event_wakes_the_waiter_and_marks_it_seen() {
        let shared = shared().expect("inotify works on the test machine");
        let dir = dir();
        let target = dir.path().join("ready");
        let waiter = Waiter::new(target.clone());
        let registration = shared.register(dir.path(), &waiter).ok().unwrap();
        let generation = waiter.generation();
        std::fs::write(&target, b"").unwrap();
        std::fs::remove_file(&target).unwrap();
        // No polling here: only an event can set the flag.
        let deadline = Deadline::after(Duration::from_secs(10));
        let mut seen = generation;
        while !waiter.seen_created.load(Ordering::Acquire) && !deadline.is_expired() {
            waiter.wait_past(seen, deadline);
            seen = waiter.generation();
        }
        assert!(waiter.generation() > generation, "woken by the event");
        assert!(
            waiter.seen_created.load(Ordering::Acquire),
            "the transient file counts"
        );
        drop(registration);
        assert_eq!(shared.waiters_on(dir.path()), 0, "unregistered");
    }

    #[test]
    fn events_for_other_files_do_not_wake_the_waiter() {
        let shared = shared().unwrap();
        let dir = dir();
        let waiter = Waiter::new(dir.path().join("mine"));
        let _registration = shared.register(dir.path(), &waiter).ok().unwrap();
        // A sibling waiter as a witness that events for "other" were dispatched.
        let witness = Waiter::new(dir.path().join("other"));
        let _w = shared.register(dir.path(), &witness).ok().unwrap();
        std::fs::write(dir.path().join("other"), b"").unwrap();
        witness.wait_past(0, Deadline::after(Duration::from_secs(10)));
        assert!(witness.generation() > 0);
        assert_eq!(waiter.generation(), 0);
    }

    #[test]
    fn an_overflow_rescan_wakes_everybody() {
        // A private instance, so the synthetic events wake no other test's waiters.
        let shared: &'static SharedWatcher = Box::leak(Box::new(create().unwrap()));
        let dir = dir();
        let waiter = Waiter::new(dir.path().join("x"));
        let _registration = shared.register(dir.path(), &waiter).ok().unwrap();
        let rescan = Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        shared.dispatch(Ok(rescan));
        assert!(waiter.generation() >= 1);
        shared.dispatch(Err(notify::Error::generic("synthetic")));
        assert!(waiter.generation() >= 2);
    }

    #[test]
    fn the_watcher_thread_is_recorded_as_a_helper() {
        shared().unwrap();
        let helpers = crate::os::threads::helper_tids();
        let names: Vec<_> = helpers
            .iter()
            .filter_map(|t| crate::os::threads::thread_name(*t))
            .collect();
        assert!(
            names.iter().any(|n| n.starts_with("notify-rs")),
            "{names:?}"
        );
    }
}
