//! Thread tracking (cargo feature `thread-tracking`, Linux): every OS thread the
//! process creates is recorded at birth with the test it works for, its creator, and
//! where it was created; leaked threads can be asked where they are now.
//!
//! This is what makes the unmanaged-thread check exact while tests share a process
//! (plain parallel `cargo test`): a test is charged only with the threads created
//! while it ran on its own threads, to any depth, whichever library created them.
//!
//! The layer sits just above `os/` and `sync/`: the harness (`leaks/`) asks it about a
//! test's threads; managed threads (`threads/`) tell it that their panics are their
//! container's.
//!
//! - `attribution.rs`: which test the current thread works for (safe; always built).
//! - `hooks.rs`: the interposed `pthread_create`/`pthread_join` and the stack-sampling
//!   signal handler: most of Iris's `unsafe` code (the rest is in `os/ffi.rs`), with
//!   its invariants.
//! - `table.rs`: the records of live threads and of panics nobody collected.
//! - `frames.rs`: raw addresses to frames, creation sites, live stacks.
//!
//! Without the feature (or off Linux) nothing here touches a thread: [`active`] is
//! false and every query answers "nothing known". With the feature on, a binary's
//! every `pthread_create` goes through Iris: one thread-local read and one lock per
//! thread outside tests, plus an unresolved backtrace per thread created inside a
//! test. That is why the feature belongs on the dev-dependency only.
// Parts of this serve only the test harness (feature `harness`).
#![cfg_attr(not(feature = "harness"), allow(dead_code))]

pub(crate) mod attribution;
pub(crate) mod creators;
#[cfg(iris_tracking)]
mod debug_info;
pub(crate) mod frames;
#[cfg(iris_tracking)]
#[allow(unsafe_code)]
mod hooks;
pub(crate) mod known;
#[cfg(all(iris_tracking, target_pointer_width = "64"))]
mod symbols;
#[cfg(iris_tracking)]
mod table;

use std::fmt;
use std::time::Duration;

pub use frames::Frame;
pub use known::{PROCESS_SCOPED_CREATORS, PROCESS_SCOPED_THREAD_NAMES};

/// Where and by whom a thread was created, and how long ago.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadOrigin {
    /// The first frame of the creating stack outside std, the runtimes and Iris:
    /// the user's call that led to the thread.
    pub created_at: Option<Frame>,
    /// The creating thread's OS name and kernel id.
    pub creator: String,
    /// The creating thread's kernel id.
    pub creator_tid: u32,
    /// How long the thread has been alive.
    pub age: Option<Duration>,
    /// Every function of the creating stack (for `ignore_threads` globs).
    pub functions: Vec<String>,
    /// When the stack says it is a well-known process-wide pool: what it is, and the
    /// `ignore_threads` glob that ignores it (empty when there is no precise one).
    pub known_pool: Option<(&'static str, &'static str)>,
    /// When the stack says it is a known library's thread owned by an object: how
    /// that object ends it.
    pub known_fix: Option<&'static str>,
}

/// A plain thread (not managed by Iris) that worked for the test, ended in a panic,
/// and was never joined: nobody saw its panic (feature `thread-tracking`).
#[derive(Clone, Debug)]
pub struct PlainPanic {
    /// Its OS name when it panicked.
    pub thread: String,
    /// Its kernel id.
    pub tid: u32,
    /// The panic's message.
    pub message: String,
    /// `FILE:LINE:COLUMN` of the panic.
    pub location: Option<String>,
    /// Where it was created.
    pub origin: Option<ThreadOrigin>,
}

impl fmt::Display for PlainPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "thread {:?} (tid {}) panicked", self.thread, self.tid)?;
        if let Some(location) = &self.location {
            write!(f, " at {location}")?;
        }
        write!(f, ": {}; nobody joined it", self.message)?;
        if let Some(site) = self.origin.as_ref().and_then(|o| o.created_at.as_ref()) {
            write!(f, " (created at {site})")?;
        }
        Ok(())
    }
}

/// Whether threads are being tracked in this process: the feature is on, this is
/// Linux, and the binary's `pthread_create` really is Iris's (checked once, by the
/// first thread made through it, or a probe thread). Also installs the panic hook that notes panics of plain threads.
pub(crate) fn active() -> bool {
    #[cfg(iris_tracking)]
    {
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
    #[cfg(not(iris_tracking))]
    {
        false
    }
}

/// For benchmarks: turns the tracking of new threads off (`false`) or back on, so
/// that one binary can measure both. Not for tests: a thread created while it is off
/// is nobody's.
#[doc(hidden)]
pub fn set_thread_tracking(on: bool) {
    #[cfg(iris_tracking)]
    hooks::set_tracking(on);
    #[cfg(not(iris_tracking))]
    let _ = on;
}

/// Tells the tracker the calling thread is managed (its panics go to its container).
pub(crate) fn mark_managed() {
    #[cfg(iris_tracking)]
    table::mark_managed();
}

/// Whether nothing works for `scope`: no live thread, none starting, no child
/// process recorded. One look under the table's lock, with nothing collected: the
/// end of a test that started nothing (most tests) asks no more.
pub(crate) fn scope_is_empty(scope: u64) -> bool {
    #[cfg(iris_tracking)]
    {
        table::scope_is_empty(scope)
    }
    #[cfg(not(iris_tracking))]
    {
        let _ = scope;
        true
    }
}

/// Kernel ids of the live threads working for `scope`, and how many more were
/// created for it but are not running yet (their ids are not known yet).
pub(crate) fn alive_in(scope: u64) -> (Vec<u32>, usize) {
    #[cfg(iris_tracking)]
    {
        let (threads, starting) = table::alive_in(scope);
        (threads.into_iter().map(|t| t.tid).collect(), starting)
    }
    #[cfg(not(iris_tracking))]
    {
        let _ = scope;
        (Vec::new(), 0)
    }
}

/// Whether the tracker knows thread `tid` (alive), and so where it was created:
/// cheap, no resolving.
pub(crate) fn knows(tid: u32) -> bool {
    #[cfg(iris_tracking)]
    {
        table::lookup(tid).is_some()
    }
    #[cfg(not(iris_tracking))]
    {
        let _ = tid;
        false
    }
}

/// Where thread `tid` (alive) was created, resolved; `None` if it is not tracked or
/// was not created for a test.
pub(crate) fn origin_of(tid: u32) -> Option<ThreadOrigin> {
    #[cfg(iris_tracking)]
    {
        table::lookup(tid).and_then(|t| origin(&t))
    }
    #[cfg(not(iris_tracking))]
    {
        let _ = tid;
        None
    }
}

/// Functions that run code under a `catch_unwind` of their own and hand the panic to
/// whoever waits for the result: a panic with one of them on its stack was caught
/// inside its thread, which went on. Each is reached through a function pointer
/// (a task's vtable, a job's), so no optimiser inlines it away.
#[cfg(all(iris_tracking, target_pointer_width = "64"))]
const CATCHING_HARNESSES: &[&str] = &[
    // Every tokio task is polled through its vtable's `raw::poll`; the harness
    // below it catches the task's panic for its `JoinHandle`.
    "tokio::runtime::task::raw::poll*",
    "*tokio::runtime::task::harness::*",
    // rayon's jobs and scopes.
    "rayon_core::unwind::*",
    "*rayon_core::job::*",
    // futures' `catch_unwind` combinator.
    "*futures_util::future::future::catch_unwind::*",
];

/// [`PROCESS_SCOPED_CREATORS`] and [`CATCHING_HARNESSES`] as `symbols` takes globs,
/// made once: they are asked about at the end of every test.
#[cfg(all(iris_tracking, target_pointer_width = "64"))]
static CREATOR_GLOBS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    PROCESS_SCOPED_CREATORS
        .iter()
        .map(|g| g.to_string())
        .chain(known::RULES.iter().map(|(glob, _)| symbols::rule(glob)))
        .collect()
});
#[cfg(all(iris_tracking, target_pointer_width = "64"))]
static HARNESS_GLOBS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| CATCHING_HARNESSES.iter().map(|g| g.to_string()).collect());

/// tokio's poll of a task: the vtable's entry (`raw::poll`), which an optimised
/// build may leave by a tail call, so that only the harness's `poll` it jumps to is
/// on the stack. Between a task's panic and the first of them lies exactly one
/// `catch_unwind` of tokio's own (the harness's, which hands the panic to the
/// `JoinHandle`); any other was the task's own code catching it. (The first, not
/// any: a runtime's worker is itself a blocking task, polled further down.)
#[cfg(all(iris_tracking, target_pointer_width = "64", feature = "tokio"))]
static TASK_POLL_GLOBS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    vec![
        "tokio::runtime::task::raw::poll*".to_string(),
        "*tokio::runtime::task::harness::Harness*::poll*".to_string(),
    ]
});

/// The calling thread's frames, innermost first, each with whether it catches a
/// Rust panic thrown here (exception tables, whatever the optimiser inlined): taken
/// in the panic hook, read later by [`caught_inside_task`]. `None` where tracking is
/// not built or a table cannot be read.
#[cfg(feature = "tokio")]
pub(crate) fn catch_frames() -> Option<std::sync::Arc<[(usize, bool)]>> {
    #[cfg(iris_tracking)]
    {
        // Enough to reach tokio's poll below any task's own frames.
        const MOST: usize = 256;
        hooks::catch_frames_on_this_stack(MOST).map(Into::into)
    }
    #[cfg(not(iris_tracking))]
    {
        None
    }
}

/// Whether a tokio task's panic, with `frames` from [`catch_frames`], was caught by
/// the task's own code (a `catch_unwind` in it, an actor framework's supervisor),
/// so that the task went on: a catching frame besides tokio's harness lies between
/// the panic and tokio's poll of the task. `None` when it cannot tell (no symbol
/// table, a stack cut short before the poll): then it is a task's panic, as before.
#[cfg(feature = "tokio")]
pub(crate) fn caught_inside_task(frames: &[(usize, bool)]) -> Option<bool> {
    #[cfg(all(iris_tracking, target_pointer_width = "64"))]
    {
        let ips: Vec<usize> = frames.iter().map(|(ip, _)| *ip).collect();
        let poll = symbols::first_through(&ips, &TASK_POLL_GLOBS)?;
        let catching = frames[..=poll].iter().filter(|(_, c)| *c).count();
        Some(catching > 1)
    }
    #[cfg(not(all(iris_tracking, target_pointer_width = "64")))]
    {
        let _ = frames;
        None
    }
}

/// Whether `function` (resolved from debug information) makes what lives for the
/// process: one of [`PROCESS_SCOPED_CREATORS`], or one the rules recognise.
pub(crate) fn is_process_scoped_creator(function: &str) -> bool {
    PROCESS_SCOPED_CREATORS
        .iter()
        .any(|glob| crate::text::glob::glob_matches(glob, function))
        || known::by_rule(function)
}

/// How far up a chain of creators [`process_scoped`] looks.
const CREATOR_CHAIN: usize = 8;

/// Whether thread `tid` (alive) belongs to the process rather than to the test it
/// is charged to: it was created inside one of [`PROCESS_SCOPED_CREATORS`], or by a
/// thread that was (a reactor made in a `OnceLock` that starts workers later).
pub(crate) fn process_scoped(tid: u32) -> bool {
    #[cfg(all(iris_tracking, target_pointer_width = "64"))]
    {
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
    #[cfg(not(all(iris_tracking, target_pointer_width = "64")))]
    {
        let _ = (tid, CREATOR_CHAIN);
        false
    }
}

/// Whether thread `tid` (alive) was created through a function whose name matches
/// one of `globs`, as far as the executable's symbol table can tell without reading
/// debug info: `true` is certain; `false` means not known (an inlined function, a
/// shared library's, an untracked thread), and [`origin_of`] resolves the whole
/// creation stack to tell.
pub(crate) fn created_through(tid: u32, globs: &[String]) -> bool {
    #[cfg(all(iris_tracking, target_pointer_width = "64"))]
    {
        table::lookup(tid)
            .and_then(|t| t.creation)
            .is_some_and(|ips| symbols::passes_through(&ips, globs))
    }
    #[cfg(not(all(iris_tracking, target_pointer_width = "64")))]
    {
        let _ = (tid, globs);
        false
    }
}

#[cfg(iris_tracking)]
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

/// How many of the user's frames a live stack shows, after the call it is blocked in.
const LIVE_USER_FRAMES: usize = 6;

/// Where thread `tid` is now: the call it is blocked in and the user's frames around
/// it, from a sample of its stack taken within `within`. `None` where no stack can be
/// taken (feature off, the thread does not answer in time, signals blocked).
pub(crate) fn live_stack(tid: u32, within: Duration) -> Option<Vec<Frame>> {
    summarise_live(&live_frames(tid, within)?)
}

/// A live stack as sampled, not resolved yet: sampling takes microseconds, resolving
/// the first time loads debug information (hundreds of milliseconds), so a sampler
/// that must keep watching resolves later.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // blocking detection
pub(crate) struct RawStack(#[allow(dead_code)] Vec<usize>);

/// Samples thread `tid`'s stack within `within`, without resolving it.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) fn sample_raw(tid: u32, within: Duration) -> Option<RawStack> {
    #[cfg(iris_tracking)]
    {
        hooks::sample_stack(tid, within).map(RawStack)
    }
    #[cfg(not(iris_tracking))]
    {
        let _ = (tid, within);
        None
    }
}

/// A raw stack as reports show it (see [`live_stack`]).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) fn resolve_live(raw: &RawStack) -> Option<Vec<Frame>> {
    #[cfg(iris_tracking)]
    {
        summarise_live(&frames::interrupted_frames(frames::resolve(&raw.0)))
    }
    #[cfg(not(iris_tracking))]
    {
        let _ = raw;
        None
    }
}

/// Every frame of thread `tid`'s stack now, innermost first (the sampling machinery
/// cut off), from a sample taken within `within`; `None` where no stack can be taken.
pub(crate) fn live_frames(tid: u32, within: Duration) -> Option<Vec<Frame>> {
    #[cfg(iris_tracking)]
    {
        let ips = hooks::sample_stack(tid, within)?;
        Some(frames::interrupted_frames(frames::resolve(&ips)))
    }
    #[cfg(not(iris_tracking))]
    {
        let _ = (tid, within);
        None
    }
}

/// A whole live stack as reports show it (see [`live_stack`]); `None` when empty.
pub(crate) fn summarise_live(frames: &[Frame]) -> Option<Vec<Frame>> {
    Some(frames::summarise_live(frames, LIVE_USER_FRAMES)).filter(|f| !f.is_empty())
}

/// Panics that ended plain threads of `scope` and that no `join` collected; a panic
/// caught inside its own thread (by a pool, a runtime or the user) is not one.
pub(crate) fn uncollected_panics(scope: u64) -> Vec<PlainPanic> {
    #[cfg(iris_tracking)]
    {
        table::unjoined_panics(scope)
            .into_iter()
            .filter(|ended| {
                // Inside a runtime's task or a pool's job, the harness caught it: told
                // by functions that an optimiser never inlines away (called through a
                // vtable), from the symbol table, so a release build without debug
                // info judges as a debug build does.
                #[cfg(target_pointer_width = "64")]
                if symbols::passes_through(&ended.panic_stack, &HARNESS_GLOBS) {
                    return false;
                }
                // std catches every thread's panic at its root; any other catch
                // between the panic and the root means the thread went on. The
                // exception tables say so whatever the optimiser inlined.
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
    #[cfg(not(iris_tracking))]
    {
        let _ = scope;
        Vec::new()
    }
}

/// The pids of the child processes created for `scope` (by any of its threads,
/// through `fork` or `posix_spawn`), whether or not they still run.
pub(crate) fn children_in(scope: u64) -> Vec<u32> {
    #[cfg(iris_tracking)]
    {
        table::children_of(scope)
            .into_iter()
            .map(|c| c.pid)
            .collect()
    }
    #[cfg(not(iris_tracking))]
    {
        let _ = scope;
        Vec::new()
    }
}

/// Forgets what was kept about `scope`'s ended threads.
pub(crate) fn forget(scope: u64) {
    #[cfg(iris_tracking)]
    table::forget(scope);
    #[cfg(not(iris_tracking))]
    let _ = scope;
}

#[cfg(test)]
mod default_lists {
    use super::*;
    use crate::text::glob::glob_matches;

    /// Each entry of the default lists matches what it was written for, as the
    /// symbol table and debug information name it (a method is `<Type>::method` in
    /// one and `Type::method` in the other), and a program's own look-alikes do not.
    #[test]
    fn each_default_entry_matches_the_function_or_name_it_was_written_for() {
        let creators = [
            "<std::sys::sync::once::futex::Once>::call",
            "once_cell::imp::initialize_or_wait",
            "rayon_core::registry::global_registry",
            "<blocking::Executor>::grow_pool",
            "async_global_executor::threading::spawn_more_threads",
            "ctrlc::set_handler_inner",
            "async_process::Reaper::start_driver_thread",
            "<async_process::Reaper>::start_driver_thread",
            "scheduled_thread_pool::ScheduledThreadPool::new_inner",
            "tiny_http::util::task_pool::TaskPool::add_thread",
            "<tiny_http::util::task_pool::TaskPool>::add_thread",
            "futures_timer::native::global::HelperThread::new",
            "<futures_timer::native::timer::TimerHandle as core::default::Default>::default",
            "flexi_logger::threads::start_flusher_thread",
            "flexi_logger::writers::file_log_writer::state::list_and_cleanup::start_cleanup_thread",
            "<flexi_logger::logger::Logger>::build",
        ];
        for function in creators {
            assert!(
                PROCESS_SCOPED_CREATORS
                    .iter()
                    .any(|glob| glob_matches(glob, function)),
                "{function}"
            );
        }
        for function in [
            "my_crate::Reaper::start_driver_thread",
            "my_crate::pool::grow",
            // tiny_http's accept thread: a server left running is a leak.
            "tiny_http::Server::from_listener",
        ] {
            assert!(
                !PROCESS_SCOPED_CREATORS
                    .iter()
                    .any(|glob| glob_matches(glob, function)),
                "{function}"
            );
        }
        for name in [
            "async-process",
            "ctrl-c",
            "blocking-3",
            "r2d2-worker-0",
            "futures-timer",
            "flexi_logger-flusher",
            // Linux keeps 15 bytes of "flexi_logger-file-cleanup".
            "flexi_logger-fi",
        ] {
            assert!(
                PROCESS_SCOPED_THREAD_NAMES
                    .iter()
                    .any(|glob| glob_matches(glob, name)),
                "{name}"
            );
        }
    }
}

#[cfg(all(test, iris_tracking))]
mod tests {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::attribution::Attribution;
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
        let (alive, _) = alive_in(scope.scope());
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
        assert_eq!(alive_in(scope.scope()), (Vec::new(), 0), "both ended");
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
        assert_eq!(alive_in(scope.scope()), (Vec::new(), 0));
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
            || detached.is_finished() && alive_in(scope.scope()).0.is_empty(),
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
