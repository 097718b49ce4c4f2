//! Who sent a SIGTERM. Under nextest the test harness listens for SIGTERM (nextest's
//! way to end a test past its `slow-timeout`) to write where the test is stuck, then
//! ends the process. A SIGTERM the process sends itself is not nextest's: a test of
//! graceful shutdown raises it and handles it, and Iris must neither dump nor end
//! the process then.
//!
//! This is one of the few places with `unsafe` code (besides `tracking/hooks.rs` and
//! the `atexit` call in `at_exit.rs`): only a `sigaction` handler is told the
//! sender's pid, and both registering one and reading that field are `unsafe`.
//!
//! Invariants:
//! - The action runs inside a signal handler: it calls `getpid` (async-signal-safe)
//!   and stores to an atomic, nothing else: no allocation, no lock, no panic.
//! - It reads `si_pid`, which the kernel fills for a signal sent by `kill`, `tgkill`
//!   or `sigqueue` (another process's or this one's); for a signal the kernel itself
//!   raises it is 0, never this process's pid, so such a SIGTERM counts as
//!   another's.
//! - The pid compared is read at delivery, not at registration: in a child made by
//!   `fork` (which keeps the handler) its own pid is the one compared.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Sets `flag` when a SIGTERM arrives from another process; one this process sends
/// itself leaves it alone. The handler stays for the process's life.
#[cfg(target_os = "linux")]
pub(crate) fn flag_when_sent_from_outside(flag: Arc<AtomicBool>) -> io::Result<()> {
    let action = move |info: &nix::libc::siginfo_t| {
        // SAFETY: `si_pid` is the sender's pid for SIGTERM (see the invariants: 0 when
        // the kernel raised it); reading the union's field has no other condition.
        #[allow(unsafe_code)]
        let sender = unsafe { info.si_pid() };
        if sender != nix::unistd::getpid().as_raw() {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    };
    // SAFETY: the action is async-signal-safe (see the invariants).
    #[allow(unsafe_code)]
    let registered =
        unsafe { signal_hook_registry::register_sigaction(nix::libc::SIGTERM, action) };
    registered.map(|_| ())
}

/// Elsewhere the sender is not looked at: every SIGTERM sets `flag`.
#[cfg(not(target_os = "linux"))]
pub(crate) fn flag_when_sent_from_outside(flag: Arc<AtomicBool>) -> io::Result<()> {
    signal_hook::flag::register(signal_hook::consts::SIGTERM, flag).map(|_| ())
}
