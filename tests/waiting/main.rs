//! Integration tests of waiting without sleeps: conditions and sentinel files.

mod condition;
mod sentinel;

use std::time::Duration;

/// A generous bound for things that should take milliseconds (slow CI machines).
pub const PATIENCE: Duration = Duration::from_secs(10);
