//! What the operating system says about this process: its threads, their state, and
//! its child processes and their descendants (Linux: `/proc`); and how it is run
//! (which test runner) and where a note to the user can go (`runner`). Beside `sync`, the
//! lowest layer: it imports no other part of the crate.
//!
//! Everything here is best effort: `None` means "cannot tell", never "none".

pub(crate) mod at_exit;
// The only `unsafe` code outside thread tracking: `atexit`, and a SIGTERM handler
// told the sender.
#[cfg(all(unix, feature = "unix-ffi"))]
#[allow(unsafe_code)]
mod ffi;
// The test harness's helper thread is started on its test's CPU.
#[cfg(feature = "harness")]
pub(crate) mod cpu_affinity;
pub(crate) mod processes;
pub(crate) mod runner;
// The harness's SIGTERM listener under nextest, which ignores the process's own.
#[cfg(all(unix, feature = "harness"))]
pub(crate) mod sigterm;
pub(crate) mod threads;
