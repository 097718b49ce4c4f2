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
//! - `attribution.rs`: which test the current thread works for (safe; always built);
//!   `chaos.rs`: seeded holds of a test's own threads, which attribution tells
//!   apart from every other thread (safe; its points are the hooks, and the
//!   harness's for what it runs itself).
//! - This file is the face: the public types and one API; `tracked.rs` implements it
//!   where tracking works (`cfg(iris_tracking)`), `untracked.rs` elsewhere.
//! - `hooks/`: the interposed `pthread_create`/`pthread_join`/`posix_spawn`/`fork`/`nanosleep`
//!   (`interposition.rs`), the stack-sampling signal handler (`sampling.rs`), the
//!   unwinder and exception-table walk (`unwinding.rs`), the C library's `memmem`
//!   (`search.rs`): most of Iris's `unsafe` code (the rest is in `os/ffi.rs`), each
//!   file with its invariants.
//! - `table.rs`: the records of live threads and of panics nobody collected.
//! - `frames.rs`: raw addresses to frames, creation sites, live stacks, read from
//!   debug information (`debug_info.rs`); `symbols.rs`: creating functions matched
//!   against the executable's symbol table.
//! - `known.rs`: what Iris knows of other crates' threads, and the rules that
//!   recognise threads kept for the process; `whose.rs`: the one answer to whether a
//!   thread that outlived its test is the process's, and why; `creators.rs`: who made
//!   a thread an optimised build inlined, and the globs that name a creating function.
//!
//! Without the feature (or off Linux) nothing here touches a thread: [`active`] is
//! false and every query answers "nothing known". With the feature on, a binary's
//! every `pthread_create` goes through Iris: one thread-local read and one lock per
//! thread outside tests, plus an unresolved backtrace per thread created inside a
//! test. That is why the feature belongs on the dev-dependency only.
// Parts of this serve only the test harness (feature `harness`).
#![cfg_attr(not(feature = "harness"), allow(dead_code))]

pub(crate) mod attribution;
pub(crate) mod chaos;
pub(crate) mod creators;
#[cfg(iris_tracking)]
mod debug_info;
pub(crate) mod frames;
#[cfg(iris_tracking)]
#[allow(unsafe_code)]
mod hooks;
pub(crate) mod known;
#[cfg(iris_tracking)]
mod symbols;
#[cfg(iris_tracking)]
mod table;
pub(crate) mod whose;

// One implementation per build setting (parking_lot_core's `thread_parker` pattern):
// no function here has two bodies.
#[cfg_attr(iris_tracking, path = "tracked.rs")]
#[cfg_attr(not(iris_tracking), path = "untracked.rs")]
mod imp;

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

/// Everything the tracker charges to one test now, taken in one look (one lock), so
/// that a thread that starts a child between two looks is not half seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ScopeView {
    /// Kernel ids of its threads that have not ended, sorted.
    pub(crate) threads: Vec<u32>,
    /// How many more threads were created for it and have not started running (no
    /// kernel id yet).
    pub(crate) starting: usize,
    /// Pids of the child processes created for it, alive or not (the OS says), sorted.
    pub(crate) children: Vec<u32>,
}

#[cfg_attr(not(feature = "harness"), allow(unused_imports))] // the harness asks
pub(crate) use imp::{
    active, created_through, forget, knows, live_frames, mark_managed, origin_of, process_scoped,
    scope_is_empty, uncollected_panics, view_of,
};
// Blocking detection's (async tests).
#[cfg(feature = "tokio")]
#[cfg_attr(not(feature = "harness"), allow(unused_imports))]
pub(crate) use imp::{catch_frames, caught_inside_task, resolve_raw, sample_raw};

/// For benchmarks: turns the tracking of new threads off (`false`) or back on, so
/// that one binary can measure both. Not for tests: a thread created while it is off
/// is nobody's.
#[doc(hidden)]
pub fn set_thread_tracking(on: bool) {
    imp::set_thread_tracking(on);
}

/// Whether `function` (resolved from debug information) makes what lives for the
/// process: one of [`PROCESS_SCOPED_CREATORS`], or one the rules recognise.
pub(crate) fn is_process_scoped_creator(function: &str) -> bool {
    PROCESS_SCOPED_CREATORS
        .iter()
        .any(|glob| crate::text::glob::glob_matches(glob, function))
        || known::by_rule(function)
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

/// A whole live stack as reports show it (see [`live_stack`]); `None` when empty.
pub(crate) fn summarise_live(frames: &[Frame]) -> Option<Vec<Frame>> {
    Some(frames::summarise_live(frames, LIVE_USER_FRAMES)).filter(|f| !f.is_empty())
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
            // mockito's pooled path, its pool's frames inlined (a release build).
            "mockito::server::Server::try_new::{{closure}}",
            "<mockito::server::Server>::try_new",
            "mockito::server::Server::try_new_async::{{closure}}",
            // httpmock's, the same way.
            "httpmock::api::server::MockServer::start",
            "<httpmock::api::server::MockServer>::start_async::{{closure}}",
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
            // mockito's servers outside its pool: leaks.
            "mockito::server::Server::try_new_with_opts",
            "<mockito::server::Server>::try_new_with_opts::{{closure}}",
            "mockito::server::Server::try_new_with_opts_async::{{closure}}",
            "httpmock::api::server::MockServer::starts_nothing_of_the_pool",
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
