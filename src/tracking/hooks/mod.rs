//! Thread tracking's `unsafe` code (feature `thread-tracking`, Linux with glibc), in
//! three worlds, each with its invariants at its top and its tests at its end:
//!
//! - `interposition.rs`: `pthread_create`, `pthread_join`, `posix_spawn`,
//!   `posix_spawnp`, `fork` and `nanosleep` defined in the binary, forwarding to
//!   glibc's (and giving schedule chaos its points);
//! - `sampling.rs`: the signal handler that records an interrupted thread's stack;
//! - `unwinding.rs`: walking the calling thread's own stack with libgcc's unwinder,
//!   and reading its exception tables;
//!
//! and `search.rs`, the C library's `memmem` behind a safe function. Iris's only other
//! `unsafe` code is `os/ffi.rs` (`atexit`, and a `sigaction` handler told a SIGTERM's
//! sender), with its invariants at its top.

mod interposition;
mod sampling;
mod search;
mod unwinding;

#[cfg(test)]
pub(crate) use interposition::gettid;
pub(crate) use interposition::{interposed, set_tracking};
pub(crate) use sampling::sample_stack;
pub(crate) use search::occurrences;
#[cfg(feature = "tokio")]
pub(crate) use unwinding::catch_frames_on_this_stack;
#[cfg(test)]
pub(crate) use unwinding::trace;
pub(crate) use unwinding::{catches_on_this_stack, own_stack};
