//! Leak detection and `#[iris_test]`, end to end.
//!
//! `scenarios` holds tests that leak on purpose; they are `#[ignore]`d and run only
//! by `end_to_end`, each in a child process of this same test binary, which then
//! checks that the child failed (or passed) with the right report.

mod end_to_end;
mod harness;
mod imports;
#[path = "../support/scenario.rs"]
mod scenario;
mod scenarios;
mod stress;

use std::time::Duration;

/// A generous bound for things that should take milliseconds (slow CI machines).
pub const PATIENCE: Duration = Duration::from_secs(10);
