//! Who sent a SIGTERM. Under nextest the test harness listens for SIGTERM (nextest's
//! way to end a test past its `slow-timeout`) to write where the test is stuck, then
//! ends the process. A SIGTERM the process sends itself is not nextest's: a test of
//! graceful shutdown raises it and handles it, and Iris must neither dump nor end
//! the process then.
//!
//! Only a `sigaction` handler is told the sender's pid, and both registering one and
//! reading that field are `unsafe`: that is done in `os::ffi`, with its invariants.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Sets `flag` when a SIGTERM arrives from another process; one this process sends
/// itself leaves it alone. The handler stays for the process's life.
#[cfg(target_os = "linux")]
pub(crate) fn flag_when_sent_from_outside(flag: Arc<AtomicBool>) -> io::Result<()> {
    super::ffi::on_sigterm_from_outside(flag)
}

/// Elsewhere the sender is not looked at: every SIGTERM sets `flag`.
#[cfg(not(target_os = "linux"))]
pub(crate) fn flag_when_sent_from_outside(flag: Arc<AtomicBool>) -> io::Result<()> {
    signal_hook::flag::register(signal_hook::consts::SIGTERM, flag).map(|_| ())
}
