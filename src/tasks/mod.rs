//! Async tasks on tokio (cargo feature `tokio`): managed tasks with stop tokens,
//! stopping a container without blocking a runtime thread, and the runtime an async
//! test runs on.
//!
//! - [`managed_task`]: `spawn_task`, the [`ManagedTask`](managed_task::ManagedTask)
//!   handle, `stop_async`;
//! - [`runtime`]: the fresh runtime of an async test, whose threads and tasks see the
//!   test's registry;
//! - [`task_panics`]: panics of plain tasks on that runtime, which tokio hands to
//!   `JoinHandle`s nobody may read;
//! - `fast_forward`: the runtime's leftover plain tasks run on in paused time, to see
//!   whether they end by themselves (feature `tokio-test-util`).
//!
//! Imports `sync`, `os`, `tracking` (where a task's panic was caught), `threads` and
//! `wait`: a
//! task is a member of its container's live set like a thread (role `Task`), so one
//! stop covers both.

#[cfg(all(feature = "harness", feature = "tokio-test-util"))]
pub(crate) mod fast_forward;
pub(crate) mod managed_task;
#[cfg(feature = "harness")]
pub(crate) mod runtime;
pub(crate) mod task_panics;
