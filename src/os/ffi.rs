//! The operating-system layer's only `unsafe` code: two C calls that Rust has no
//! safe form of. (Thread tracking's interposed `pthread_create` and its signal
//! handler are the rest of Iris's `unsafe` code, in `tracking/hooks/`: they record
//! into tracking's own tables, so they live in that layer.)
//!
//! - [`run_at_exit`]: the C library's `atexit`, for text written after the test
//!   runner's last line (`at_exit.rs`).
//! - [`on_sigterm_from_outside`]: a `sigaction` handler that is told who sent a
//!   SIGTERM, for the harness's dump when nextest ends a test (`sigterm.rs`).
//!
//! # Invariants
//! 1. A function given to `atexit` is an `extern "C" fn()` that never unwinds into
//!    the C library: [`run_at_exit`] runs the caller's function under
//!    `catch_unwind` inside one such function of its own.
//! 2. The SIGTERM action runs inside a signal handler: it calls `getpid`
//!    (async-signal-safe) and stores to an atomic, nothing else: no allocation, no
//!    lock, no panic.
//! 3. It reads `si_pid`, which the kernel fills for a signal sent by `kill`, `tgkill`
//!    or `sigqueue` (another process's or this one's); for a signal the kernel
//!    itself raises it is 0, never this process's pid, so such a SIGTERM counts as
//!    another's.
//! 4. The pid compared is read at delivery, not at registration: in a child made by
//!    `fork` (which keeps the handler) its own pid is the one compared.
//!
//! Tested end to end: kept warnings written after libtest's summary
//! (`tests/leaks`), and under nextest a test it terminates dumps where it is stuck
//! while one that raises SIGTERM itself does not (`.ci/run`, `tests/leaks`).

#[cfg(all(target_os = "linux", feature = "harness"))]
use std::io;
#[cfg(all(target_os = "linux", feature = "harness"))]
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(all(target_os = "linux", feature = "harness"))]
use std::sync::Arc;
use std::sync::OnceLock;

/// Runs `f` when the process exits (after `main` returns or at `exit`), once;
/// `false` when no handler could be registered. One function per process: a second
/// call registers nothing and returns whether the first one was registered.
pub(crate) fn run_at_exit(f: fn()) -> bool {
    static AT_EXIT: OnceLock<fn()> = OnceLock::new();
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    extern "C" fn at_exit() {
        if let Some(f) = AT_EXIT.get() {
            let _ = std::panic::catch_unwind(f);
        }
    }
    *REGISTERED.get_or_init(|| {
        let _ = AT_EXIT.set(f);
        // SAFETY: `at_exit` is an `extern "C" fn()` with no arguments that never
        // unwinds (invariant 1); registering it has no other precondition.
        #[allow(unsafe_code)]
        let registered = unsafe { nix::libc::atexit(at_exit) } == 0;
        registered
    })
}

/// Sets `flag` when a SIGTERM arrives from another process; one this process sends
/// itself leaves it alone. The handler stays for the process's life.
#[cfg(all(target_os = "linux", feature = "harness"))]
pub(crate) fn on_sigterm_from_outside(flag: Arc<AtomicBool>) -> io::Result<()> {
    let action = move |info: &nix::libc::siginfo_t| {
        // SAFETY: `si_pid` is the sender's pid for SIGTERM (invariant 3); reading the
        // union's field has no other condition.
        #[allow(unsafe_code)]
        let sender = unsafe { info.si_pid() };
        if sender != nix::unistd::getpid().as_raw() {
            flag.store(true, Ordering::SeqCst);
        }
    };
    // SAFETY: the action is async-signal-safe (invariant 2).
    #[allow(unsafe_code)]
    let registered =
        unsafe { signal_hook_registry::register_sigaction(nix::libc::SIGTERM, action) };
    registered.map(|_| ())
}
