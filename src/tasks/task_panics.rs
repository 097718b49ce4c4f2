//! Panics of plain tasks (`tokio::spawn`, `spawn_blocking`) on a test's runtime,
//! which tokio catches and hands to the task's `JoinHandle`: if nothing awaits that
//! handle, the panic is lost and the test passes. Managed tasks' panics are their
//! container's business (`managed_task`); this notes the others.
//!
//! Nothing in tokio's API says whether a `JoinHandle` was read (tokio's own
//! `unhandled_panic = "shutdown_runtime"` fires for awaited handles too), so a note
//! is only that: the harness decides what it is worth (`task_panics`).
//!
//! Invariants:
//! - One panic hook for the process, installed when the first test runtime is built,
//!   chained before the hook that was there; it never panics, and on a thread that
//!   works for no test runtime it only reads one thread-local.
//! - A panic is noted when it happens inside a task (tokio knows its id) on a thread
//!   that serves a test runtime (its workers and blocking threads for their whole
//!   life, the `block_on` thread while it runs the body), and not inside a managed
//!   task's poll. The body's own panic happens outside any task: it is the test's
//!   failure, not a note.
//! - A note goes to the collector of the runtime the thread serves, never to another
//!   test's.
//! - A panic that a `catch_unwind` of the task's own code met (a frame that catches it
//!   lies between it and tokio's poll of the task, besides tokio's harness: exception
//!   tables, read in the hook, and the symbol table, read when the notes are taken)
//!   is marked so: that code may have handled it (the task went on) or rethrown it
//!   with `resume_unwind` (which calls no hook), and the harness only ever warns about
//!   it. Without thread tracking nothing is marked.
//! - While a thread runs the hooks this one chains to (the default hook prints the
//!   message and, with `RUST_BACKTRACE`, a symbolized backtrace), it is listed in
//!   `IN_HOOKS`, so blocking detection never counts the panic machinery's time.

use std::cell::Cell;
#[cfg(feature = "harness")]
use std::cell::RefCell;
#[cfg(feature = "harness")]
use std::sync::{Arc, Once};

#[cfg(feature = "harness")]
use parking_lot::Mutex;

#[cfg(feature = "harness")]
use crate::sync::panic_message;
#[cfg(feature = "harness")]
use crate::threads::managed_thread::current_os_tid;

/// A panic of a plain task on a test's runtime.
#[cfg(feature = "harness")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TaskPanic {
    /// The panic's message.
    pub(crate) message: String,
    /// Where it panicked (`file:line:column`).
    pub(crate) location: Option<String>,
    /// tokio's id of the task.
    pub(crate) task: String,
    /// Where the task was spawned, when tokio tells (`--cfg tokio_unstable`).
    pub(crate) spawned_at: Option<String>,
    /// The thread that polled it.
    pub(crate) thread: String,
    /// Its stack's frames and which catch it, to tell whether the task's own code
    /// caught it (`tracking::caught_inside_task`); `None` without thread tracking.
    pub(crate) catch_frames: Option<Arc<[(usize, bool)]>>,
    /// Whether a `catch_unwind` of the task's own code met the panic (set when the
    /// notes are taken): it handled it and the task went on (ractor's supervised
    /// actors), or it cleaned up and rethrew it to tokio (moka's initializers, with
    /// `resume_unwind`, which calls no hook). Nothing tells which.
    pub(crate) caught_inside: bool,
}

/// Where a test runtime's threads note their tasks' panics.
#[cfg(feature = "harness")]
#[derive(Default)]
pub(crate) struct Collector {
    panics: Mutex<Vec<TaskPanic>>,
    /// Where each live task was spawned (the runtime's task hooks).
    #[cfg(tokio_unstable)]
    sites: Option<
        Arc<
            Mutex<
                std::collections::HashMap<tokio::task::Id, &'static std::panic::Location<'static>>,
            >,
        >,
    >,
}

#[cfg(feature = "harness")]
impl Collector {
    /// A collector that names each task's spawn site from the runtime's task hooks.
    #[cfg(tokio_unstable)]
    pub(crate) fn with_sites(
        sites: Arc<
            Mutex<
                std::collections::HashMap<tokio::task::Id, &'static std::panic::Location<'static>>,
            >,
        >,
    ) -> Collector {
        Collector {
            panics: Mutex::default(),
            sites: Some(sites),
        }
    }

    /// The panics noted so far, taken, each marked with whether a `catch_unwind` of
    /// the task's own code met it.
    pub(crate) fn take(&self) -> Vec<TaskPanic> {
        let mut panics = std::mem::take(&mut *self.panics.lock());
        for panic in &mut panics {
            panic.caught_inside = panic
                .catch_frames
                .as_deref()
                .and_then(crate::tracking::caught_inside_task)
                == Some(true);
        }
        panics
    }

    fn site_of(&self, _task: tokio::task::Id) -> Option<String> {
        #[cfg(tokio_unstable)]
        {
            let sites = self.sites.as_ref()?;
            return sites.lock().get(&_task).map(|l| l.to_string());
        }
        #[cfg(not(tokio_unstable))]
        None
    }
}

#[cfg(feature = "harness")]
thread_local! {
    /// The collector of the test runtime this thread serves, if any.
    static SERVES: RefCell<Option<Arc<Collector>>> = const { RefCell::new(None) };
}

thread_local! {
    /// Inside a managed task's poll: its panic is its container's.
    static IN_MANAGED_POLL: Cell<bool> = const { Cell::new(false) };
}

/// Threads (kernel ids) running the panic hooks right now: the default hook prints
/// the message, and with `RUST_BACKTRACE` set a whole symbolized backtrace, which
/// takes a debug build a tenth of a second or more. That is the panic machinery's
/// time, not the task's: blocking detection does not count it.
#[cfg(feature = "harness")]
static IN_HOOKS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Whether thread `tid` is inside the panic hooks now (see [`IN_HOOKS`]).
#[cfg(feature = "harness")]
pub(crate) fn in_panic_hooks(tid: u32) -> bool {
    IN_HOOKS.lock().contains(&tid)
}

/// Installs the panic hook (once for the process).
#[cfg(feature = "harness")]
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let tid = current_os_tid();
            if let Some(tid) = tid {
                IN_HOOKS.lock().push(tid);
            }
            note(info);
            previous(info);
            if let Some(tid) = tid {
                let mut in_hooks = IN_HOOKS.lock();
                if let Some(at) = in_hooks.iter().position(|t| *t == tid) {
                    in_hooks.swap_remove(at);
                }
            }
        }));
    });
}

#[cfg(feature = "harness")]
fn note(info: &std::panic::PanicHookInfo<'_>) {
    if IN_MANAGED_POLL.try_with(Cell::get).unwrap_or(true) {
        return;
    }
    let Ok(Some(collector)) = SERVES.try_with(|s| s.try_borrow().ok().and_then(|s| s.clone()))
    else {
        return;
    };
    let Some(task) = tokio::task::try_id() else {
        return; // the body, or code outside any task: not a task's panic
    };
    let panic = TaskPanic {
        message: panic_message(info.payload()),
        location: info.location().map(|l| l.to_string()),
        task: task.to_string(),
        spawned_at: collector.site_of(task),
        thread: std::thread::current()
            .name()
            .unwrap_or("<unnamed>")
            .to_string(),
        catch_frames: crate::tracking::catch_frames(),
        caught_inside: false,
    };
    collector.panics.lock().push(panic);
}

/// This thread serves the runtime of `collector` for the rest of its life (a
/// runtime's worker or blocking thread, at its start; `None` at its stop).
#[cfg(feature = "harness")]
pub(crate) fn serve_for_life(collector: Option<Arc<Collector>>) {
    let _ = SERVES.try_with(|s| *s.borrow_mut() = collector);
}

/// This thread serves the runtime of `collector` until the guard is dropped (the
/// `block_on` thread, while it runs the body); then whatever it served before.
#[cfg(feature = "harness")]
pub(crate) fn serve_while(collector: Arc<Collector>) -> Serving {
    let previous = SERVES
        .try_with(|s| s.borrow_mut().replace(collector))
        .ok()
        .flatten();
    Serving { previous }
}

/// Restores what the thread served before ([`serve_while`]).
#[cfg(feature = "harness")]
pub(crate) struct Serving {
    previous: Option<Arc<Collector>>,
}

#[cfg(feature = "harness")]
impl Drop for Serving {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = SERVES.try_with(|s| *s.borrow_mut() = previous);
    }
}

/// Marks a managed task's poll on this thread until dropped.
pub(crate) fn managed_poll() -> ManagedPoll {
    let outer = IN_MANAGED_POLL
        .try_with(|f| f.replace(true))
        .unwrap_or(false);
    ManagedPoll { outer }
}

/// Ends a managed task's poll ([`managed_poll`]).
pub(crate) struct ManagedPoll {
    outer: bool,
}

impl Drop for ManagedPoll {
    fn drop(&mut self) {
        let _ = IN_MANAGED_POLL.try_with(|f| f.set(self.outer));
    }
}

#[cfg(all(test, feature = "harness"))]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn a_plain_tasks_panic_is_noted_with_its_message_and_place() {
        install_hook();
        let collector = Arc::new(Collector::default());
        let rt = runtime();
        let _serving = serve_while(collector.clone());
        let line = line!() + 1;
        let joined = rt.block_on(async { tokio::spawn(async { panic!("task boom") }).await });
        assert!(joined.unwrap_err().is_panic());
        let noted = collector.take();
        assert_eq!(noted.len(), 1, "{noted:?}");
        assert_eq!(noted[0].message, "task boom");
        let location = noted[0].location.as_deref().unwrap();
        assert!(
            location.contains(&format!("task_panics.rs:{line}")),
            "{location}"
        );
        assert!(collector.take().is_empty(), "taken once");
    }

    #[test]
    fn the_bodys_own_panic_a_managed_poll_and_other_threads_are_not_noted() {
        install_hook();
        let collector = Arc::new(Collector::default());
        let rt = runtime();
        {
            let _serving = serve_while(collector.clone());
            // The body: outside any task.
            let body = std::panic::catch_unwind(|| rt.block_on(async { panic!("body") }));
            assert!(body.is_err());
            // A managed task's poll.
            let managed = rt.block_on(async {
                tokio::spawn(async {
                    let _managed = managed_poll();
                    panic!("managed")
                })
                .await
            });
            assert!(managed.is_err());
        }
        // Not serving any runtime any more.
        let elsewhere = rt.block_on(async { tokio::spawn(async { panic!("elsewhere") }).await });
        assert!(elsewhere.is_err());
        assert_eq!(collector.take(), Vec::new());
    }
}
