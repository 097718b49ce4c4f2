//! Thread tracking (feature `thread-tracking`), end to end: exact verdicts while tests
//! share one process, creation sites, live stacks, panics of plain threads.
//!
//! `scenarios` holds tests that leak or panic on purpose beside tests that behave;
//! they are `#[ignore]`d and run only by `end_to_end`, in a child process of this
//! same test binary, under plain parallel `cargo test` and one test per process (as
//! nextest runs them).
// Thread tracking is Linux only (it interposes glibc and reads /proc).
#![cfg(target_os = "linux")]

mod end_to_end;
#[path = "../support/scenario.rs"]
mod scenario;
mod scenarios;
