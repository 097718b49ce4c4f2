//! Managed threads: containers that own them, the registry that finds the current
//! container, executors and servers built on them.
//!
//! Layering inside (each file imports only those above it):
//! - [`report`]: plain descriptions ([`ThreadInfo`](report::ThreadInfo),
//!   [`StopError`](report::StopError), ...);
//! - [`managed_thread`]: the record a container keeps for a thread, and the handle;
//! - [`stop_callbacks`]: a stop's `on_stop` callbacks, run on helper threads so
//!   that one that blocks cannot hold the stop past its deadline;
//! - [`container`]: the tree, its live sets, `stop` under one deadline, and `launch`;
//! - [`context`]: what a thread inherits from its spawner (registry scopes, the
//!   tracing subscriber and span), in one place;
//! - [`spawn`], [`registry`], [`executor`], [`server`]: the public ways to start
//!   threads, all through `launch` and `context`.
//!
//! Imports `sync`, `os` and `tracking` (a managed thread tells the tracker it is
//! managed: its panic is its container's).

pub(crate) mod container;
pub(crate) mod context;
pub(crate) mod executor;
pub(crate) mod managed_thread;
pub(crate) mod registry;
pub(crate) mod report;
pub(crate) mod server;
pub(crate) mod spawn;
pub(crate) mod stop_callbacks;
