//! Waiting without sleeps: condition waits with backoff, and sentinel files that wake
//! on filesystem events through one shared watcher.
//!
//! - [`condition`]: [`wait_for_condition`](condition::wait_for_condition), the
//!   [`Wait`](condition::Wait) builder, the backoff schedule, timeout scaling;
//! - [`sentinel`]: the [`SentinelFile`](sentinel::SentinelFile) type;
//! - [`watcher`]: the process's one `notify` watcher, shared by every sentinel wait.
//!
//! Imports only `sync` and `os` (its watcher thread is registered as an Iris helper).

pub(crate) mod condition;
#[cfg(feature = "sentinel")]
pub(crate) mod sentinel;
#[cfg(feature = "sentinel")]
pub(crate) mod watcher;
