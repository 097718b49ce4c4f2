//! Integration tests of the thread-management core.

mod container;
mod executor;
mod logging;
mod registry;
mod server;
mod stop_token;

use std::time::Duration;

/// A generous bound for things that should take milliseconds (slow CI machines).
pub const PATIENCE: Duration = Duration::from_secs(10);
