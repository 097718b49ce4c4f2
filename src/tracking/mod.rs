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
//!   signal handler; the only `unsafe` code in Iris, with its invariants.
//! - `table.rs`: the records of live threads and of panics nobody collected.
//! - `frames.rs`: raw addresses to frames, creation sites, live stacks.
//!
//! Without the feature (or off Linux) nothing here touches a thread: [`active`] is
//! false and every query answers "nothing known". With the feature on, a binary's
//! every `pthread_create` goes through Iris: one thread-local read and one lock per
//! thread outside tests, plus an unresolved backtrace per thread created inside a
//! test. That is why the feature belongs on the dev-dependency only.

pub(crate) mod attribution;
pub(crate) mod frames;
#[cfg(all(feature = "thread-tracking", target_os = "linux"))]
#[allow(unsafe_code)]
mod hooks;
#[cfg(all(feature = "thread-tracking", target_os = "linux"))]
mod table;

use std::time::Duration;

pub use frames::Frame;

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
}

/// A panic that ended a plain (unmanaged) thread of a test, which nobody joined.
#[derive(Clone, Debug)]
pub(crate) struct UncollectedPanic {
    pub(crate) thread_name: String,
    pub(crate) tid: u32,
    pub(crate) message: String,
    pub(crate) location: Option<String>,
    pub(crate) origin: Option<ThreadOrigin>,
}

/// Whether threads are being tracked in this process: the feature is on, this is
/// Linux, and the binary's `pthread_create` really is Iris's (checked once, with a
/// probe thread). Also installs the panic hook that notes panics of plain threads.
pub(crate) fn active() -> bool {
    #[cfg(all(feature = "thread-tracking", target_os = "linux"))]
    {
        static ACTIVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let active = *ACTIVE.get_or_init(|| {
            let probe = std::thread::Builder::new()
                .name("iris-probe".into())
                .spawn(table::this_thread_is_tracked);
            let tracked = probe.ok().and_then(|p| p.join().ok()).unwrap_or(false);
            if !tracked {
                tracing::warn!("iris: the thread-tracking feature is on but pthread_create is not interposed in this binary; falling back to the /proc diff");
            }
            tracked
        });
        if active {
            table::install_panic_hook();
        }
        active
    }
    #[cfg(not(all(feature = "thread-tracking", target_os = "linux")))]
    {
        false
    }
}

/// Tells the tracker the calling thread is managed (its panics go to its container).
pub(crate) fn mark_managed() {
    #[cfg(all(feature = "thread-tracking", target_os = "linux"))]
    table::mark_managed();
}

/// Kernel ids of the live threads working for `scope`, and how many more were
/// created for it but are not running yet (their ids are not known yet).
pub(crate) fn alive_in(scope: u64) -> (Vec<u32>, usize) {
    #[cfg(all(feature = "thread-tracking", target_os = "linux"))]
    {
        let (threads, starting) = table::alive_in(scope);
        (threads.into_iter().map(|t| t.tid).collect(), starting)
    }
    #[cfg(not(all(feature = "thread-tracking", target_os = "linux")))]
    {
        let _ = scope;
        (Vec::new(), 0)
    }
}

/// Where thread `tid` (alive) was created, resolved; `None` if it is not tracked or
/// was not created for a test.
pub(crate) fn origin_of(tid: u32) -> Option<ThreadOrigin> {
    #[cfg(all(feature = "thread-tracking", target_os = "linux"))]
    {
        table::lookup(tid).and_then(|t| origin(&t))
    }
    #[cfg(not(all(feature = "thread-tracking", target_os = "linux")))]
    {
        let _ = tid;
        None
    }
}

#[cfg(all(feature = "thread-tracking", target_os = "linux"))]
fn origin(thread: &table::Tracked) -> Option<ThreadOrigin> {
    let frames = frames::resolve(thread.creation.as_deref()?);
    let functions: Vec<String> = frames.iter().map(|f| f.function.clone()).collect();
    Some(ThreadOrigin {
        created_at: frames::first_user_frame(&frames).cloned(),
        creator: thread.creator_name.clone(),
        creator_tid: thread.creator_tid,
        age: thread.age(),
        known_pool: frames::known_pool(&functions),
        functions,
    })
}

/// Where thread `tid` is now: the call it is blocked in and the user's frames around
/// it, from a sample of its stack taken within `within`. `None` where no stack can be
/// taken (feature off, the thread does not answer in time, signals blocked).
pub(crate) fn live_stack(tid: u32, within: Duration) -> Option<Vec<Frame>> {
    #[cfg(all(feature = "thread-tracking", target_os = "linux"))]
    {
        let ips = hooks::sample_stack(tid, within)?;
        let frames = frames::interrupted_frames(frames::resolve(&ips));
        Some(frames::summarise_live(&frames, 3)).filter(|f| !f.is_empty())
    }
    #[cfg(not(all(feature = "thread-tracking", target_os = "linux")))]
    {
        let _ = (tid, within);
        None
    }
}

/// Panics that ended plain threads of `scope` and that no `join` collected; a panic
/// caught inside its own thread (by a pool, a runtime or the user) is not one.
pub(crate) fn uncollected_panics(scope: u64) -> Vec<UncollectedPanic> {
    #[cfg(all(feature = "thread-tracking", target_os = "linux"))]
    {
        table::unjoined_panics(scope)
            .into_iter()
            .filter(|ended| frames::catch_frames(&frames::resolve(&ended.panic_stack)) <= 1)
            .map(|ended| UncollectedPanic {
                thread_name: ended.name.clone(),
                tid: ended.thread.tid,
                message: ended.message.clone(),
                location: ended.location.clone(),
                origin: origin(&ended.thread),
            })
            .collect()
    }
    #[cfg(not(all(feature = "thread-tracking", target_os = "linux")))]
    {
        let _ = scope;
        Vec::new()
    }
}

/// Forgets what was kept about `scope`'s ended threads.
pub(crate) fn forget(scope: u64) {
    #[cfg(all(feature = "thread-tracking", target_os = "linux"))]
    table::forget(scope);
    #[cfg(not(all(feature = "thread-tracking", target_os = "linux")))]
    let _ = scope;
}
