//! Managed child processes: a process with the lifecycle of a managed thread, its
//! output as structured lines, and a stop that ends its whole tree of descendants.
//!
//! - `options.rs`: [`ProcessOptions`];
//! - `errors.rs`: [`ProcessError`], [`ProcessWaitError`];
//! - `output.rs`: [`ProcessOutput`], what a finished process printed;
//! - `managed.rs`: [`ManagedProcess`]: spawning, its helper threads, the supervisor;
//! - `readers.rs`: reading a process's output into the capture;
//! - `capture.rs`: the retained output lines, as bytes in a ring bounded in memory;
//! - `tree.rs`: ending a process's group and every descendant that left it;
//! - `shared.rs`: what a process's handle and helper threads share;
//! - `live.rs`: every live managed process, for leak detection;
//! - `run.rs`: [`run_process`], a command run to completion with a deadline;
//!
//! Imports `sync`, `os`, `threads` (its helper threads are managed threads) and
//! `wait` (waiting, after SIGTERM, for descendants that left the group).

pub(crate) mod capture;
pub(crate) mod errors;
pub(crate) mod live;
pub(crate) mod managed;
pub(crate) mod options;
pub(crate) mod output;
pub(crate) mod readers;
pub(crate) mod run;
pub(crate) mod shared;
pub(crate) mod tree;

pub use capture::{LogLine, Stream};
pub use errors::{ProcessError, ProcessWaitError};
#[cfg(feature = "harness")]
pub(crate) use live::{hold_under, managed_by_pid, Held};
pub use managed::ManagedProcess;
pub use options::ProcessOptions;
pub use output::ProcessOutput;
pub use run::run_process;
