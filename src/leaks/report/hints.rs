//! The advice under a report: one hint per kind of finding, leading with the fix.

use super::model::LeakReport;
use crate::tracking::whose::kept_for_the_process;

impl LeakReport {
    /// One piece of advice per kind of finding present, in report order.
    pub(super) fn hints(&self) -> Vec<&'static str> {
        HINTS
            .iter()
            .filter(|(applies, _)| applies(self))
            .map(|(_, hint)| *hint)
            .collect()
    }
}

/// Each hint, with when it applies, in report order.
type Hint = (fn(&LeakReport) -> bool, &'static str);

const HINTS: &[Hint] = &[
    (
        |r| r.stragglers.iter().any(|s| s.info.is_stop_callback()),
        "an `on_stop` callback (or a Server's `shutdown`) did not return by the stop's \
         deadline: it runs while the stop waits, so it must only signal (close a \
         socket, stop a token, send a message) and return; do the slow part in the \
         thread itself",
    ),
    (
        |r| r.stragglers.iter().any(|s| !s.info.is_stop_callback()),
        "a managed thread did not exit within `stop_timeout` of its stop request: make \
         its loop wait on its StopToken (`while !stop.wait_timeout(period)`), or \
         unblock its blocking call from `stop.on_stop(..)`",
    ),
    (|r| r.counted_teardown() > 0, TEARDOWN_HINT),
    (
        |r| !r.tasks.stragglers.is_empty(),
        "a task outlived the test: make its loop `select!` on `stop.stopped()` (managed \
         tasks), or keep the JoinHandle of a plain `tokio::spawn` and await or abort it \
         before the test ends",
    ),
    (
        |r| r.tasks.blocked_count() > 0,
        "a task made a blocking call on a thread of its runtime (a std lock or channel, \
         `thread::sleep`, blocking I/O): every task on that worker waited; use the \
         async form (tokio's), or move the call into `spawn_blocking`",
    ),
    (
        |r| !r.tasks.held_workers.is_empty(),
        "a task blocked the thread that runs it (a std lock, channel or `thread::sleep` \
         inside async code), so its runtime could not shut down: use the async form \
         (tokio's), or move the blocking call into `spawn_blocking` with a deadline",
    ),
    (
        |r| !r.tasks.blocking.is_empty(),
        "a blocking task (`spawn_blocking`) never returned, so its runtime could not \
         shut down: give its blocking call a deadline or a way to be woken",
    ),
    (
        |r| !r.unmanaged.is_empty(),
        "a thread started outside Iris outlived the test: shut down what started it \
         (its `created at` line) or join the thread before the test ends, or spawn it \
         through a container (`get_thread_registry().spawn(..)`), which stops it with \
         the test; a thread meant to serve every test of the process (started once, \
         behind a flag) belongs in a `OnceLock`/`LazyLock` initializer, which Iris \
         knows as the process's",
    ),
    (
        |r| r.processes.iter().any(|p| p.container.is_some()),
        "a managed process outlived the stop: it ignored SIGTERM for longer than \
         `stop_timeout`; make it exit on SIGTERM, or give it a `grace` shorter than \
         `stop_timeout`",
    ),
    (
        |r| r.processes.iter().any(|p| p.container.is_none()),
        "a child process the test started was never stopped or waited for: wait for it, \
         or start it with `spawn_process`, which stops and reaps it for you",
    ),
    (
        |r| !r.plain_panics.is_empty(),
        "a plain thread panicked and nobody joined it, so nobody saw the panic: keep \
         its JoinHandle and `join()` it (the Err is the panic), or spawn it through a \
         container; if the test means it (a pool's job that fails on purpose), \
         `thread_panics = \"warn\"` on the test says so",
    ),
    (
        |r| r.tasks.panic_count() > 0,
        "a plain task panicked and tokio kept the panic in its JoinHandle: await the \
         handle and check the Err, or spawn the task with `spawn_task`, whose panic \
         fails the test by itself (this test counts such panics: task_panics = \
         \"fail\")",
    ),
    (
        |r| {
            r.unmanaged
                .iter()
                .any(|u| u.inherited_name && u.managed.is_none() && u.origin.is_none())
        },
        "an unnamed thread carries its creator's name, so no name glob can tell a \
         pool's thread from a leak: turn on the `thread-tracking` feature (a default \
         one, on Linux with glibc; off here) to see where it was created and to match \
         `ignore_threads` against the function that created it",
    ),
    (
        |r| {
            r.unmanaged.iter().any(|u| {
                u.origin.as_ref().is_some_and(|o| {
                    kept_for_the_process(o, &r.test_function).is_some_and(|k| k.glob().is_some())
                })
            })
        },
        "a process-wide pool is made by whichever test touches it first, and lives on: \
         ignore it with the `ignore_threads` glob its line gives, or create it before \
         the tests",
    ),
    (
        |r| !r.panics.is_empty(),
        "a background thread panicked (message above), so its work never finished: fix \
         the panic, or join the thread and handle its Err",
    ),
];

/// Advice for what the teardown had to end.
pub(super) const TEARDOWN_HINT: &str =
    "the test ended with components still running, and its teardown \
     ended them: shut each down in the test before it ends (stop its container or call its \
     `stop()`, `stop_async` its managed tasks, abort and await a plain task's JoinHandle); \
     `teardown = \"ignore\"`, the default, accepts the teardown's help";
