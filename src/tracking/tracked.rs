//! Thread tracking's implementation where it works (`cfg(iris_tracking)`: the
//! feature on, Linux with glibc, not under Miri): the interposed calls record each
//! thread and child process (`hooks/`, `table.rs`), and these functions answer the
//! harness's questions from those records. `untracked.rs` answers the same questions
//! where tracking is not built, with "nothing known"; `mod.rs` picks one.

use std::time::Duration;

#[cfg(feature = "tokio")]
use super::known::TASK_POLL_GLOBS;
use super::known::{self, CATCHING_HARNESSES, PROCESS_SCOPED_CREATORS};
#[cfg(feature = "tokio")]
use super::RawStack;
use super::{frames, hooks, symbols, table, Frame, PlainPanic, ScopeView, ThreadOrigin};

/// Whether threads are being tracked in this process: this binary's `pthread_create`
/// really is Iris's (checked once, by the first thread made through it, or a probe
/// thread). Also installs the panic hook that notes panics of plain threads.
pub(crate) fn active() -> bool {
    static ACTIVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let active = *ACTIVE.get_or_init(|| {
        // Any thread made so far (the test harness's) went through our
        // `pthread_create` if the binary binds to it. If none was, a probe thread
        // made now does: our `pthread_create` notes it on this thread, before the
        // probe runs, so it is not joined (waiting for a thread to be scheduled
        // costs milliseconds on a loaded machine). Asking that, not whether the
        // probe was tracked, keeps the answer right when tracking is switched off
        // for a while (benchmarks).
        if !hooks::interposed() {
            let _ = std::thread::Builder::new()
                .name("iris-probe".into())
                .spawn(|| ());
        }
        let tracked = hooks::interposed();
        if !tracked {
            tracing::warn!("iris: the thread-tracking feature is on but pthread_create is not interposed in this binary; falling back to the /proc diff");
        }
        tracked
    });
    if active {
        table::install_panic_hook(hooks::catches_on_this_stack, hooks::own_stack);
    }
    active
}

/// For benchmarks: turns the tracking of new threads off (`false`) or back on.
pub(crate) fn set_thread_tracking(on: bool) {
    hooks::set_tracking(on);
}

/// Tells the tracker the calling thread is managed (its panics go to its container).
pub(crate) fn mark_managed() {
    table::mark_managed();
}

/// Whether nothing works for `scope`: no live thread, none starting, no child
/// process recorded.
pub(crate) fn scope_is_empty(scope: u64) -> bool {
    table::scope_is_empty(scope)
}

/// Everything charged to `scope` now, in one look (see [`ScopeView`]).
pub(crate) fn view_of(scope: u64) -> ScopeView {
    table::view_of(scope)
}

/// Whether the tracker knows thread `tid` (alive).
pub(crate) fn knows(tid: u32) -> bool {
    table::lookup(tid).is_some()
}

/// Where thread `tid` (alive) was created, resolved.
pub(crate) fn origin_of(tid: u32) -> Option<ThreadOrigin> {
    table::lookup(tid).and_then(|t| origin(&t))
}

/// [`PROCESS_SCOPED_CREATORS`] and the rules, and [`CATCHING_HARNESSES`], as
/// `symbols` takes globs, made once: they are asked about at the end of every test.
static CREATOR_GLOBS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    PROCESS_SCOPED_CREATORS
        .iter()
        .map(|g| g.to_string())
        .chain(known::RULES.iter().map(|(glob, _)| symbols::rule(glob)))
        .collect()
});
static HARNESS_GLOBS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| CATCHING_HARNESSES.iter().map(|g| g.to_string()).collect());
#[cfg(feature = "tokio")]
static POLL_GLOBS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| TASK_POLL_GLOBS.iter().map(|g| g.to_string()).collect());

/// The calling thread's frames, innermost first, each with whether it catches a
/// Rust panic thrown here.
#[cfg(feature = "tokio")]
pub(crate) fn catch_frames() -> Option<std::sync::Arc<[(usize, bool)]>> {
    // Enough to reach tokio's poll below any task's own frames.
    const MOST: usize = 256;
    hooks::catch_frames_on_this_stack(MOST).map(Into::into)
}

/// Whether a tokio task's panic was caught by the task's own code: a catching frame
/// besides tokio's harness lies between the panic and tokio's poll of the task.
#[cfg(feature = "tokio")]
pub(crate) fn caught_inside_task(frames: &[(usize, bool)]) -> Option<bool> {
    let ips: Vec<usize> = frames.iter().map(|(ip, _)| *ip).collect();
    let poll = symbols::first_through(&ips, &POLL_GLOBS)?;
    let catching = frames[..=poll].iter().filter(|(_, c)| *c).count();
    Some(catching > 1)
}

/// How far up a chain of creators [`process_scoped`] looks.
const CREATOR_CHAIN: usize = 8;

/// Whether thread `tid` (alive) belongs to the process rather than to the test it is
/// charged to: it was created inside one of [`PROCESS_SCOPED_CREATORS`] or a function
/// the rules recognise, or by a thread that was (a reactor made in a `OnceLock` that
/// starts workers later).
pub(crate) fn process_scoped(tid: u32) -> bool {
    let mut next = Some(tid);
    for _ in 0..CREATOR_CHAIN {
        let Some(thread) = next.and_then(table::lookup) else {
            return false;
        };
        if thread
            .creation
            .as_deref()
            .is_some_and(|ips| symbols::passes_through(ips, &CREATOR_GLOBS))
        {
            return true;
        }
        next = (thread.creator_tid != thread.tid).then_some(thread.creator_tid);
    }
    false
}

/// Whether thread `tid` (alive) was created through a function matching one of
/// `globs`, as far as the executable's symbol table can tell.
pub(crate) fn created_through(tid: u32, globs: &[String]) -> bool {
    table::lookup(tid)
        .and_then(|t| t.creation)
        .is_some_and(|ips| symbols::passes_through(&ips, globs))
}

fn origin(thread: &table::Tracked) -> Option<ThreadOrigin> {
    let frames = frames::resolve(thread.creation.as_deref()?);
    let functions: Vec<String> = frames.iter().map(|f| f.function.clone()).collect();
    Some(ThreadOrigin {
        created_at: frames::first_user_frame(&frames).cloned(),
        creator: thread.creator_name.clone(),
        creator_tid: thread.creator_tid,
        age: thread.age(),
        known_pool: frames::known_pool(&functions),
        known_fix: known::object_fix(&functions),
        functions,
    })
}

/// Samples thread `tid`'s stack within `within`, without resolving it.
#[cfg(feature = "tokio")]
pub(crate) fn sample_raw(tid: u32, within: Duration) -> Option<RawStack> {
    hooks::sample_stack(tid, within).map(RawStack)
}

/// Every frame of a raw stack, innermost first (`summarise_live` makes it what
/// reports show).
#[cfg(feature = "tokio")]
pub(crate) fn resolve_raw(raw: &RawStack) -> Option<Vec<Frame>> {
    Some(frames::interrupted_frames(frames::resolve(&raw.0))).filter(|f| !f.is_empty())
}

/// Every frame of thread `tid`'s stack now, innermost first.
pub(crate) fn live_frames(tid: u32, within: Duration) -> Option<Vec<Frame>> {
    let ips = hooks::sample_stack(tid, within)?;
    Some(frames::interrupted_frames(frames::resolve(&ips)))
}

/// Panics that ended plain threads of `scope` and that no `join` collected.
pub(crate) fn uncollected_panics(scope: u64) -> Vec<PlainPanic> {
    table::unjoined_panics(scope)
        .into_iter()
        .filter(|ended| {
            // Inside a runtime's task or a pool's job, the harness caught it: told by
            // functions that an optimiser never inlines away (called through a
            // vtable), from the symbol table, so a release build without debug info
            // judges as a debug build does.
            if symbols::passes_through(&ended.panic_stack, &HARNESS_GLOBS) {
                return false;
            }
            // std catches every thread's panic at its root; any other catch between
            // the panic and the root means the thread went on. The exception tables
            // say so whatever the optimiser inlined.
            if let Some(catches) = ended.catches {
                return catches <= 1;
            }
            let at_root = usize::from(ended.stack_reaches_root());
            frames::catch_frames(&frames::resolve(&ended.panic_stack)) <= at_root
        })
        .map(|ended| PlainPanic {
            thread: ended.name.clone(),
            tid: ended.thread.tid,
            message: ended.message.clone(),
            location: ended.location.clone(),
            origin: origin(&ended.thread),
        })
        .collect()
}

/// Forgets what was kept about `scope`'s ended threads.
pub(crate) fn forget(scope: u64) {
    table::forget(scope);
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::super::attribution::Attribution;
    use super::super::{debug_info, live_stack};
    use super::*;

    fn current_tid() -> Option<u32> {
        Some(hooks::gettid())
    }

    /// Waits until `condition` holds, at most `within` (this layer sits below
    /// `wait/`, so its tests poll on a `Deadline` from `sync/`).
    fn eventually(mut condition: impl FnMut() -> bool, within: Duration) -> Result<(), ()> {
        let deadline = crate::sync::deadline::Deadline::after(within);
        while !condition() {
            if deadline.is_expired() {
                return Err(());
            }
            deadline.sleep_at_most(Duration::from_millis(1));
        }
        Ok(())
    }

    #[test]
    fn threads_are_charged_to_the_scope_they_were_made_in_to_any_depth() {
        assert!(active(), "this test binary's pthread_create is interposed");
        let scope = Attribution::begin();
        let (done, wait) = mpsc::channel::<()>();
        let (tids, got) = mpsc::channel();
        let child = std::thread::spawn(move || {
            let grandchild = std::thread::spawn(move || {
                tids.send(current_tid()).unwrap();
                let _ = wait.recv();
            });
            grandchild.join().unwrap();
        });
        let grandchild = got.recv().unwrap().unwrap();
        assert!(!scope_is_empty(scope.scope()), "two threads work for it");
        let alive = view_of(scope.scope()).threads;
        assert!(alive.contains(&grandchild), "{alive:?} has {grandchild}");
        assert_eq!(alive.len(), 2, "the child and the grandchild: {alive:?}");
        let origin = origin_of(grandchild).expect("a test's thread has an origin");
        // Without debug information (a release build) the creating closure is
        // inlined away, and only the symbol table's functions are left.
        assert!(
            !cfg!(debug_assertions)
                || origin
                    .functions
                    .iter()
                    .any(|f| f.contains("threads_are_charged_to_the_scope")),
            "{:?}",
            origin.functions
        );
        drop(done);
        child.join().unwrap();
        assert_eq!(view_of(scope.scope()), ScopeView::default(), "both ended");
        assert!(
            scope_is_empty(scope.scope()),
            "nothing works for it any more"
        );
        // A thread made outside any scope is nobody's.
        drop(scope);
        let outside = std::thread::spawn(current_tid).join().unwrap().unwrap();
        assert!(origin_of(outside).is_none());
    }

    #[test]
    fn a_tests_thread_is_made_while_another_thread_holds_the_symbol_readers_lock() {
        // The debug information reader's lock is held while a report reads a file
        // (hundreds of milliseconds in a debug build); a thread made or a panic
        // noted meanwhile must not wait for it. (The `backtrace` crate, used until
        // 2026-12, held a process-wide lock for every walk and lookup.)
        let (holding, held) = mpsc::channel::<()>();
        let (release, wait) = mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            debug_info::while_reading(|| {
                holding.send(()).unwrap();
                let _ = wait.recv_timeout(Duration::from_secs(20));
            });
        });
        held.recv().unwrap();
        let scope = Attribution::begin();
        let started = Instant::now();
        let made = std::thread::spawn(|| std::panic::catch_unwind(|| panic!("noted")).is_err());
        let caught = made.join().unwrap();
        let took = started.elapsed();
        drop(release);
        holder.join().unwrap();
        assert!(caught);
        assert!(
            took < Duration::from_secs(10),
            "waited for the lock: {took:?}"
        );
        let _ = scope;
    }

    #[test]
    fn a_thread_that_cannot_be_created_leaves_nothing_behind() {
        let scope = Attribution::begin();
        // No system can give a thread a stack this large: the real
        // pthread_create fails, and the box and the starting count go back.
        let failed = std::thread::Builder::new()
            .stack_size(usize::MAX / 4)
            .spawn(|| ());
        assert!(failed.is_err());
        assert_eq!(view_of(scope.scope()), ScopeView::default());
    }

    #[test]
    fn a_thread_with_signals_blocked_gives_no_stack_within_the_deadline() {
        use nix::sys::signal::{SigSet, SigmaskHow};
        let (done, wait) = mpsc::channel::<()>();
        let (tids, got) = mpsc::channel();
        let blocked = std::thread::spawn(move || {
            nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), None)
                .unwrap();
            tids.send(current_tid().unwrap()).unwrap();
            let _ = wait.recv();
        });
        let tid = got.recv().unwrap();
        let started = Instant::now();
        assert_eq!(live_stack(tid, Duration::from_millis(50)), None);
        assert!(started.elapsed() < Duration::from_secs(5), "bounded");
        // The sampler is still usable for a thread that answers.
        let (done2, wait2) = mpsc::channel::<()>();
        let (tids2, got2) = mpsc::channel();
        let answering = std::thread::spawn(move || {
            tids2.send(current_tid().unwrap()).unwrap();
            let _ = wait2.recv();
        });
        let tid2 = got2.recv().unwrap();
        // It answers every time; soon it answers from inside `recv` (named where
        // debug information knows the inlined frames: not in a release build).
        eventually(
            || {
                // Raw frames: in Iris's own tests every frame counts as plumbing.
                let ips = hooks::sample_stack(tid2, Duration::from_secs(10)).expect("it answers");
                !cfg!(debug_assertions)
                    || frames::resolve(&ips)
                        .iter()
                        .any(|f| f.function.contains("mpsc"))
            },
            Duration::from_secs(10),
        )
        .unwrap();
        drop((done, done2));
        blocked.join().unwrap();
        answering.join().unwrap();
        // Duration::ZERO and MAX are deadlines like any other.
        assert_eq!(live_stack(u32::MAX, Duration::ZERO), None);
        assert_eq!(live_stack(u32::MAX, Duration::MAX), None, "no such thread");
    }

    #[test]
    fn only_an_unjoined_panic_that_ended_its_thread_is_uncollected() {
        let scope = Attribution::begin();
        active(); // the panic hook
        let joined = std::thread::spawn(|| panic!("joined"));
        assert!(joined.join().is_err());
        let caught = std::thread::spawn(|| std::panic::catch_unwind(|| panic!("caught")).is_err());
        assert!(caught.join().unwrap());
        let detached = std::thread::Builder::new()
            .name("detached".into())
            .spawn(|| panic!("nobody joins me"))
            .unwrap();
        eventually(
            || detached.is_finished() && view_of(scope.scope()).threads.is_empty(),
            Duration::from_secs(10),
        )
        .unwrap();
        drop(detached);
        let panics = uncollected_panics(scope.scope());
        assert_eq!(panics.len(), 1, "{panics:?}");
        assert_eq!(panics[0].message, "nobody joins me");
        assert_eq!(panics[0].thread, "detached");
        forget(scope.scope());
        assert!(uncollected_panics(scope.scope()).is_empty());
    }
}
