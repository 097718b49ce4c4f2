//! Managed child processes: a process with the lifecycle of a managed thread, its
//! output as structured lines, and a stop that ends its whole tree of descendants.
//!
//! - [`managed`]: [`ManagedProcess`], spawning, reading output, the supervisor;
//! - [`capture`]: the retained output lines, as bytes in a ring bounded in memory;
//! - [`tree`]: ending a process's group and every descendant that left it;
//!
//! Imports `sync`, `os` and `threads` (its helper threads are managed threads).

pub(crate) mod capture;
pub(crate) mod managed;
pub(crate) mod tree;

pub use capture::{LogLine, Stream};
#[cfg(feature = "harness")]
pub(crate) use managed::{managed_by_pid, process_containers_under, running_under};
pub use managed::{
    run_process, ManagedProcess, ProcessError, ProcessOptions, ProcessOutput, ProcessWaitError,
};
