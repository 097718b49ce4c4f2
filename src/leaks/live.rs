//! Where a running test is: its body, its managed threads, and the threads charged
//! to it, each with its state and (with thread tracking) its live stack; and the
//! watchdog that writes this down when a test runs past its `timeout`.
//!
//! Invariants:
//! - Reading where a test is never waits longer than `LIVE_STACK_PATIENCE` per thread.
//! - The watchdog is one of Iris's helper threads (never a leak), registered before
//!   the body runs, and gone when the test ends.

use std::collections::HashSet;
use std::time::Duration;

use super::output;
use super::survey::{threads_born_since, tracked_threads, LIVE_STACK_PATIENCE};
use crate::os::threads::{self as os_threads, OsThread};
use crate::sync::completion::Completion;
use crate::sync::deadline::Deadline;
use crate::sync::stop_token::StopToken;
use crate::threads::managed_thread::current_os_tid;
use crate::threads::registry::ThreadRegistry;
use crate::tracking;

/// What the test is running: where its body is (`body`, a thread id), its
/// registry's live threads, and its other threads: those born since `before` when
/// the test owns the process, else those the tracker charged to `tracked_scope`.
/// With thread tracking, each comes with where it is now (its live stack).
pub(super) fn describe_live(
    registry: &ThreadRegistry,
    before: Option<&HashSet<u32>>,
    tracked_scope: Option<u64>,
    body: Option<u32>,
) -> String {
    let stack = |tid: u32| {
        tracking::live_stack(tid, LIVE_STACK_PATIENCE)
            .map(|frames| {
                frames
                    .iter()
                    .map(|f| format!("\n      at {f}"))
                    .collect::<String>()
            })
            .unwrap_or_default()
    };
    let mut text = String::from("where the test is:");
    match body.and_then(|tid| OsThread::sample(&[tid]).pop()) {
        Some(os) => {
            text.push_str(&format!("\n  the test body: {os}"));
            text.push_str(&stack(os.tid));
        }
        None => text.push_str("\n  the test body: (its state cannot be read on this platform)"),
    }
    let managed = registry.alive_threads();
    let mut known: HashSet<u32> = body.into_iter().collect();
    for info in &managed {
        text.push_str(&format!("\n  {info}"));
        if let Some(tid) = info.os_tid() {
            known.insert(tid);
            if let Some(os) = OsThread::sample(&[tid]).pop() {
                text.push_str(&format!(" [{os}]"));
            }
            text.push_str(&stack(tid));
        }
    }
    let others = match (before, tracked_scope) {
        (Some(before), _) => Some(threads_born_since(before, &known)),
        (None, Some(scope)) if tracking::active() => Some(
            tracked_threads(scope)
                .0
                .into_iter()
                .filter(|t| !known.contains(t))
                .collect(),
        ),
        _ => None,
    };
    match others {
        Some(others) => {
            for os in OsThread::sample(&others) {
                text.push_str(&format!("\n  unmanaged: {os}"));
                text.push_str(&stack(os.tid));
            }
        }
        None => text.push_str(
            "\n  (threads started outside Iris are listed only when the test owns its process, \
             or with the `thread-tracking` feature)",
        ),
    }
    if managed.is_empty() {
        text.push_str("\n  (no managed thread of the test is running)");
    }
    text
}

/// A helper thread that dumps the test's live threads to stderr if it runs longer
/// than `timeout`. Stopped (and gone) when the test ends.
pub(super) fn spawn_watchdog(
    test: String,
    timeout: Duration,
    registry: ThreadRegistry,
    body: Option<u32>,
    tracked_scope: Option<u64>,
) -> StopToken {
    let done = StopToken::new();
    let watching = done.clone();
    let registered = std::sync::Arc::new(Completion::new());
    let ready = registered.clone();
    let spawned = std::thread::Builder::new()
        .name("iris-watchdog".into())
        .spawn(move || {
            let tid = current_os_tid();
            if let Some(tid) = tid {
                os_threads::register_helper(tid);
            }
            let _ = ready.complete(());
            if !watching.wait_timeout(timeout) {
                output::from_watchdog(&format!(
                    "iris: test `{test}` is still running after {timeout:?}\n{}",
                    describe_live(&registry, None, tracked_scope, body)
                ));
                watching.wait();
            }
            if let Some(tid) = tid {
                os_threads::unregister_helper(tid);
            }
        });
    if spawned.is_ok() {
        // Registered before the test body runs, so it is never mistaken for a leak.
        let _ = registered.take(Deadline::after(Duration::from_secs(5)));
    }
    done
}
