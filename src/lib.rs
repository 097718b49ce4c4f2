//! Iris: managed threads, scoped registries, sleep-free waiting and leak detection
//! for concurrent Rust code and its tests.
//!
//! - [`StopToken`]: a one-way stop signal to wait on instead of sleeping.
//! - [`ThreadContainer`]: a named tree of managed threads, stopped and joined as one
//!   under one deadline, reporting stragglers and panics ([`StopError`]).
//! - [`ThreadRegistry`], [`get_thread_registry`], [`thread_registry_scope`]: the
//!   current container, found without passing it around, and inherited by threads
//!   spawned through Iris.
//! - [`Server`] and [`Executor`]: servers and worker pools with the same lifecycle.
#![cfg_attr(
    feature = "sentinel",
    doc = "- [`wait_for_condition`], [`Wait`], [`SentinelFile`]: waiting without sleeps."
)]
#![cfg_attr(
    not(feature = "sentinel"),
    doc = "- [`wait_for_condition`], [`Wait`], `SentinelFile` (feature `sentinel`): waiting without sleeps."
)]
//! - `ManagedProcess`, `run_process` (unix): child processes with the same lifecycle,
//!   their output as structured lines.
#![cfg_attr(
    feature = "harness",
    doc = "- [`iris_test`], [`TestScope`]: every test proves it left no thread behind\n  ([`LeakReport`])."
)]
#![cfg_attr(
    not(feature = "harness"),
    doc = "- `iris_test`, `TestScope` (feature `harness`): every test proves it left no thread\n  behind (`LeakReport`)."
)]
//!
//! ```
//! use std::time::Duration;
//! use iris::{get_thread_registry, iris_test};
//!
//! #[iris_test(stop_timeout = "2s")]
//! fn the_refresher_stops_with_the_test() {
//!     get_thread_registry().spawn("refresher", |stop| {
//!         while !stop.wait_timeout(Duration::from_millis(100)) { /* refresh */ }
//!     });
//! } // stopped and checked here: a straggler or a background panic fails the test
//! # fn main() {}
//! ```
//!
//! ```
//! use std::time::Duration;
//! use iris::thread_registry_scope;
//!
//! let scope = thread_registry_scope("test:example");
//! let worker = scope.spawn("poller", |stop| {
//!     let mut rounds = 0;
//!     while !stop.wait_timeout(Duration::from_millis(5)) {
//!         rounds += 1;
//!     }
//!     rounds
//! });
//! worker.stop();
//! worker.join().unwrap();
//! scope.close().expect("nothing leaked, nothing panicked");
//! ```
//!
//! The user guide is the [`guide`] module (docs/thread-safety.md in the repository);
//! docs/architecture.md draws the layers and the path of a test through them.
#![deny(missing_docs)]
// A `--cfg loom` build exists only to run tests/loom.rs: the modelled internals are made
// reachable there (`__loom`), and code the models do not use is dead.
#![cfg_attr(loom, allow(missing_docs, private_bounds, dead_code))]
// Unsafe code lives in two modules, each file with its invariants at its top:
// src/tracking/hooks/ (behind the `thread-tracking` feature: the interposed calls,
// the stack-sampling signal handler, the unwinder, `memmem`) and src/os/ffi.rs
// (`atexit`, and a SIGTERM handler told its sender: no safe form exists).
#![deny(unsafe_code)]

/// Implements `Debug` as `Display` for error types, as `anyhow` and `eyre` do, so that
/// `expect`, `unwrap` and `?` in a test print the report rather than a struct.
macro_rules! debug_as_display {
    ($($ty:ty),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(self, f)
            }
        }
    )*};
}

// The layers: sync and os at the bottom, then threads and wait, then process and
// tasks, then leaks; a layer imports only layers below it (docs/architecture.md draws
// them, tests/architecture.rs checks it).
#[cfg(feature = "harness")]
mod leaks;
mod os;
#[cfg(all(unix, feature = "process"))]
mod process;
mod sync;
#[cfg(feature = "tokio")]
mod tasks;
mod text;
mod threads;
mod tracking;
mod wait;

/// Runs the test in a fresh Iris registry scope and fails it when it leaks a thread
/// or a background thread panicked.
///
/// ```
/// use iris::iris_test;
///
/// #[iris_test]
/// fn plain() {
///     iris::get_thread_registry().spawn("worker", |stop| stop.wait());
/// }
///
/// #[iris_test(stop_timeout = "2s", linger = "250ms", leaks = "warn", timeout = "30s")]
/// fn with_options() -> Result<(), String> {
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// Options (all optional; durations are strings with a unit: `ns`, `us`, `ms`, `s`,
/// `m`, `h`, such as `"250ms"` or `"1.5s"`, the same language as the `IRIS_*`
/// environment variables' durations; a mistake is a compile error at its token):
///
/// - `stop_timeout` (default `"5s"`): how long the test's threads get to exit once the
///   test's registry is stopped; those still running are *stragglers*.
/// - `linger` (default `"1s"`): how long threads born during the test get to
///   disappear; the wait ends as soon as they are gone.
/// - `leaks` (default `"fail"`): `"fail"`, `"warn"` (print the report, pass) or
///   `"ignore"`. The environment variable `IRIS_LEAKS` overrides it for a whole run.
/// - `ignore_threads` (no default): a comma-separated list of globs (`*`, `?`) of thread
///   names not to report, such as `"rayon-*"` for a process-wide pool created on
///   first use. `IRIS_IGNORE_THREADS` adds to it for a whole run.
/// - `ignore_tasks` (no default): globs matched against a leaked plain task's spawn
///   location (`file:line:column`, dependencies as `crate-version/src/...`), as
///   tokio reports it (`--cfg tokio_unstable`). `IRIS_IGNORE_TASKS` adds to it.
/// - `thread_panics` (default `"fail"`): what a panic that ended a plain thread of
///   the test and that nobody joined is worth: `"fail"`, `"warn"` (written after the
///   run; the test passes) or `"ignore"`, for a test that means it (a pool's job that
///   panics on purpose). `IRIS_THREAD_PANICS` overrides it for a whole run.
/// - `teardown` (default `"ignore"`): what the test's own teardown had to end (managed
///   threads its registry stopped, tasks cancelled with its runtime): `"fail"` for
///   teams that want every component shut down by the test itself, `"warn"` to see
///   them after the run. `IRIS_TEARDOWN` overrides it for a whole run.
/// - `timeout` (no default): a watchdog. The body runs on its own thread; past the
///   timeout, the test fails with a dump of its live threads instead of hanging.
/// - `stress` (no default): a stress run, `stress = 200` iterations or
///   `stress = "30s"` of them: the body again and again in this process, each
///   iteration a whole test with its own check, until one fails; the failure names
///   the iteration and prints the line that runs it again. `IRIS_STRESS` (`200`,
///   `30s`) sets one for every test of a run and wins over this. Only a test
///   without parameters and without `should_panic` is repeated. See [`Stress`].
/// - `chaos` (default off): schedule chaos, `chaos = true` (a seed drawn for the run,
///   printed) or `chaos = 0x5eed` (that seed): Iris holds the test's own threads
///   back at random where schedules decide outcomes (a new thread's start, its
///   creator's next step, a sleep, an async body's poll), so that a test passing by
///   luck fails within a stress run; a failure prints the seed and the line that
///   runs it again. `IRIS_CHAOS` (`on`, `off`, a seed) wins over this. See [`Chaos`].
///
/// `#[test]` is added unless a test attribute (`#[test]`, `#[rstest]`,
/// `#[tokio::test]`, ...) is present or the function takes parameters. Other
/// attributes (`#[should_panic]`, `#[ignore]`, ...) pass through; a test's own panic
/// always wins over the leak report. With rstest, each `#[case]` gets its own scope,
/// whichever of `#[rstest]` and `#[iris_test]` comes first.
///
/// `async fn` (with iris's `tokio` feature) runs on a fresh tokio runtime per test,
/// whose threads and tasks see the test's registry. Stable `#[tokio::test]`'s options
/// apply, with tokio's meaning, so a test converts by replacing the attribute's
/// path (`#[iris::test]` is this attribute):
/// `flavor = "current_thread"` (default), `"multi_thread"` or `"local"` (the body in
/// a `LocalSet`: `spawn_local` works), `worker_threads = N` (multi-thread only),
/// `start_paused = true` (paused time; needs iris's `tokio-test-util` feature, on by
/// default) and `crate = "..."` (accepted; Iris builds the runtime with its own
/// tokio). `blocking = "100ms"` (the default; `"off"` disables it): a task that
/// holds a worker inside one poll that long while the worker sleeps in the kernel
/// is a finding. `task_panics = "warn"` (the default), `"fail"` or `"ignore"`: what
/// a panic of a plain `tokio::spawn` task is worth (tokio hands it to a `JoinHandle`
/// that Iris cannot see being read; see `TestOptions::task_panics`). With `timeout`, the body runs on its own thread, so a body that blocks its
/// thread still fails on time. `#[tokio::test]` written above `#[iris_test]` also
/// works (tokio's runtime, Iris's checks).
#[cfg(feature = "harness")]
pub use iris_test_macros::iris_test;
/// `#[iris::test]`: [`iris_test`] under the path the ecosystem uses for test
/// attributes (`#[tokio::test]`, `#[test_log::test]`), so that rstest accepts it on
/// an `async fn` and a test converts by replacing the attribute's path.
///
/// With `use iris::test;` in a file, every bare `#[test]` there is an Iris test.
/// With `use iris::*;` alone, a bare `#[test]` is ambiguous (E0659: Rust does not
/// let a glob import shadow the prelude's `test`): add `use iris::test;` too, or
/// write `#[iris::test]`. rstest's generated cases see the file's names through a
/// glob, so under `#[rstest]` in such a file write `#[iris::test]` (or
/// `#[iris_test]`) below it. The guide's "Imports" section has the table.
///
/// ```
/// #[iris::test(stop_timeout = "2s")]
/// fn the_worker_stops_with_the_test() {
///     iris::get_thread_registry().spawn("worker", |stop| stop.wait());
/// }
/// # fn main() {}
/// ```
#[cfg(feature = "harness")]
pub use iris_test_macros::iris_test as test;
#[cfg(feature = "harness")]
pub use leaks::harness::chaos::Chaos;
#[cfg(feature = "rstest")]
pub use leaks::harness::fixtures;
#[cfg(feature = "harness")]
pub use leaks::harness::options::{LeakPolicy, TestOptions};
#[cfg(feature = "harness")]
#[doc(hidden)]
pub use leaks::harness::repeat::{__run_stress, CargoTarget as __CargoTarget};
#[cfg(feature = "harness")]
pub use leaks::harness::run::{run_test, run_test_with_timeout};
#[cfg(all(feature = "harness", feature = "tokio"))]
pub use leaks::harness::run_async::{run_async_test, run_async_test_with_timeout};
#[cfg(feature = "harness")]
pub use leaks::harness::scope::TestScope;
#[cfg(feature = "harness")]
pub use leaks::harness::stress::Stress;
#[cfg(feature = "harness")]
pub use leaks::report::{LeakReport, LeakedProcess, Straggler, UnmanagedCheck, UnmanagedThread};
pub use os::threads::OsThread;
#[cfg(all(unix, feature = "process"))]
pub use process::{
    run_process, LogLine, ManagedProcess, ProcessError, ProcessOptions, ProcessOutput,
    ProcessWaitError, Stream,
};
pub use sync::stop_token::{StopToken, Stopped, StoppedOwned};
#[cfg(feature = "tokio")]
pub use tasks::managed_task::ManagedTask;
#[cfg(all(feature = "tokio", feature = "harness"))]
pub use tasks::runtime::Flavor;
pub use threads::container::ThreadContainer;
pub use threads::executor::{Executor, ExecutorShutdown, TaskHandle};
pub use threads::managed_thread::ManagedThread;
pub use threads::registry::{
    get_thread_registry, thread_registry_scope, RegistryScope, ThreadRegistry, DEFAULT_STOP_TIMEOUT,
};
pub use threads::report::{SpawnError, StopError, ThreadInfo, ThreadPanic};
pub use threads::server::Server;
#[doc(hidden)]
pub use tracking::set_thread_tracking as __set_thread_tracking;
pub use tracking::{
    Frame, PlainPanic, ThreadOrigin, PROCESS_SCOPED_CREATORS, PROCESS_SCOPED_THREAD_NAMES,
};
#[cfg(feature = "tokio")]
pub use wait::condition::wait_for_condition_async;
pub use wait::condition::{
    scaled, timeout_scale, wait_for_condition, ConditionBroke, Polling, Wait, WaitTimeout,
    DEFAULT_WAIT_TIMEOUT,
};
#[cfg(feature = "sentinel")]
pub use wait::sentinel::{Detection, SentinelError, SentinelFile};

/// Expanded by `#[iris_test(start_paused = true)]`: nothing with the
/// `tokio-test-util` feature, a compile error naming it without.
#[cfg(feature = "tokio-test-util")]
#[doc(hidden)]
#[macro_export]
macro_rules! __require_tokio_test_util {
    () => {};
}

/// Expanded by `#[iris_test(start_paused = true)]`: nothing with the
/// `tokio-test-util` feature, a compile error naming it without.
#[cfg(not(feature = "tokio-test-util"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __require_tokio_test_util {
    () => {
        compile_error!(
            "`start_paused = true` needs Iris's `tokio-test-util` feature (tokio's `test-util`); \
             it is on by default: add it to the dev-dependency's features if you turned the defaults off"
        );
    };
}

/// Expanded by `#[iris_test]` in the user's crate: the cargo target the test is
/// built in, for the line that runs a failed stress run again.
#[cfg(feature = "harness")]
#[doc(hidden)]
#[macro_export]
macro_rules! __cargo_target {
    () => {
        $crate::__CargoTarget {
            package: ::core::env!("CARGO_PKG_NAME"),
            crate_name: ::core::env!("CARGO_CRATE_NAME"),
            integration: ::core::option_env!("CARGO_TARGET_TMPDIR").is_some(),
            bin: ::core::option_env!("CARGO_BIN_NAME"),
        }
    };
}

/// The crate-private primitives that `tests/loom.rs` models, reachable only in a
/// `--cfg loom` build.
#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    pub use crate::sync::completion::{Completion, NoValue};
    pub use crate::sync::deadline::Deadline;
    pub use crate::sync::live_set::{Awaited, LiveSet, Member};
    pub use crate::sync::stack_slot::StackSlot;
}

/// The user guide (docs/thread-safety.md in the repository), here so that the guide
/// a leak report points to is one click away in the API docs. Its examples are
/// compiled and run as doctests.
#[doc = include_str!("../docs/thread-safety.md")]
pub mod guide {}

// The README's examples are compiled and run as doctests too.

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
