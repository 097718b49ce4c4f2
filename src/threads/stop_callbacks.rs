//! The `on_stop` callbacks of a container's stop, run where the stop can stop waiting
//! for them.
//!
//! A callback is user code (a `Server::shutdown`, a closure that closes a socket). Run
//! inline on the stopping thread, one that blocks would hold the stop, and the test
//! behind it, past every deadline. So a stop with a deadline runs them here.
//!
//! Invariants:
//! - Each token's callbacks run exactly once, in registration order, on one helper
//!   thread per token that has any (`iris-on-stop`), started when the token is
//!   signalled: every callback of a level starts before any thread is waited for,
//!   as the threads themselves are signalled.
//! - The stop waits for them under its one deadline. A callback still running then
//!   is a straggler of the stop: the thread it belongs to, where it was registered,
//!   how long it has run and the helper's OS id (so its live stack can be read).
//! - The helper is one of Iris's own threads: it is never counted as an unmanaged
//!   thread; a callback that does not return is reported as the straggler above.
//! - A callback logs where the stopping thread logged: the helper runs it inside the
//!   stopping thread's `tracing` subscriber and span.
//! - If no helper thread can be started (the OS refused), the callbacks run inline,
//!   as a plain [`StopToken::stop`] runs them, and a warning says so: the stop still
//!   happens, only its deadline is no longer guaranteed.

use std::panic::Location;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::Mutex;

use super::managed_thread::{current_os_tid, ThreadRecord};
use super::report::ThreadInfo;
use crate::os::threads as os_threads;
use crate::sync::completion::Completion;
use crate::sync::deadline::Deadline;

/// The callbacks of one signalled token, running on their helper thread.
pub(crate) struct CallbackRun {
    record: Arc<ThreadRecord>,
    progress: Arc<Progress>,
}

/// What the helper shares with the stop that waits for it.
struct Progress {
    done: Completion<()>,
    /// The callback running now (where it was registered) and since when.
    current: Mutex<Option<(&'static Location<'static>, Instant)>>,
    tid: OnceLock<u32>,
}

impl CallbackRun {
    /// Signals `record`'s token and starts its callbacks on a helper thread; `None`
    /// when there were none to run (or they had to run inline, and are done).
    pub(crate) fn signal(record: &Arc<ThreadRecord>) -> Option<CallbackRun> {
        let token = record.token();
        let callbacks = token.signal();
        if callbacks.is_empty() {
            return None;
        }
        // Until the helper runs, the first callback is the one the stop waits for.
        let first = (callbacks[0].registered_at, Instant::now());
        let progress = Arc::new(Progress {
            done: Completion::new(),
            current: Mutex::new(Some(first)),
            tid: OnceLock::new(),
        });
        let shared = progress.clone();
        let helper_token = token.clone();
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        let span = tracing::Span::current();
        // The callbacks travel in a slot the spawn error path can take them back from.
        let pending = Arc::new(Mutex::new(Some(callbacks)));
        let for_helper = pending.clone();
        let spawned = std::thread::Builder::new()
            .name("iris-on-stop".into())
            .spawn(move || {
                let helper = os_threads::HelperRegistration::new(current_os_tid());
                if let Some(tid) = helper.tid() {
                    let _ = shared.tid.set(tid);
                }
                let callbacks = for_helper.lock().take().unwrap_or_default();
                tracing::dispatcher::with_default(&dispatch, || {
                    let _entered = span.enter();
                    for callback in callbacks {
                        *shared.current.lock() = Some((callback.registered_at, Instant::now()));
                        helper_token.run_callback(callback);
                    }
                });
                *shared.current.lock() = None;
                let _ = shared.done.complete(());
                drop(helper);
            });
        if let Err(error) = spawned {
            tracing::warn!(
                thread = %record.name,
                "iris: cannot start a thread for on_stop callbacks ({error}); running them on \
                 the stopping thread, where one that blocks delays the stop past its deadline"
            );
            for callback in pending.lock().take().unwrap_or_default() {
                token.run_callback(callback);
            }
            return None;
        }
        Some(CallbackRun {
            record: record.clone(),
            progress,
        })
    }

    /// Waits for the callbacks until `deadline`; `true` iff they all returned.
    pub(crate) fn wait(&self, deadline: Deadline) -> bool {
        self.progress.done.take(deadline).is_ok() || self.is_done()
    }

    /// Whether every callback has returned.
    pub(crate) fn is_done(&self) -> bool {
        self.progress.done.is_done()
    }

    /// The straggler this run is while a callback is still running: the thread it
    /// belongs to, where the callback was registered, how long it has run.
    pub(crate) fn straggler(&self) -> Option<ThreadInfo> {
        let (registered_at, since) = (*self.progress.current.lock())?;
        if self.is_done() {
            return None;
        }
        let mut info = self.record.info();
        info.spawned_at = registered_at;
        info.started = since;
        info.os_tid = self.progress.tid.get().copied();
        info.is_task = false;
        info.stop_callback = true;
        Some(info)
    }
}
