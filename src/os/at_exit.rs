//! Text kept for the end of the run: what Iris has to say after the test runner's
//! last line, where it can break no line of the runner's.
//!
//! Under libtest the warnings of passing tests (`leaks = "warn"`) have no good place
//! while the run goes on: with one test thread libtest is in the middle of a line and
//! discards a passing test's captured output; in parallel, a write breaks its `-q`
//! progress line. So they are kept here and written once, when the process exits.
//!
//! Rust has no safe way to run code at process exit: the C library's `atexit` is
//! called through `os::ffi` (its invariants are there).
//!
//! Invariants:
//! - The exit handler is registered once, the first time text is kept.
//! - It takes only this module's lock, never held while anything else is locked, so
//!   it cannot deadlock with a test thread that the exit cut short (`exit` does not
//!   wait for other threads; a thread cut short in `keep` holds this lock only for a
//!   `Vec::push`, and the handler gives up on a lock it cannot take at once).
//! - Everything kept is written in one write, to the real stderr, after libtest's
//!   summary (libtest returns from `main`, or calls `exit`, after printing it).

use std::io::Write;
use std::sync::Mutex;

static KEPT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Keeps `text` to be written to stderr when the process exits; where no exit
/// handler can be registered, writes it at once: never lost.
pub(crate) fn keep(text: String) {
    let registered = register();
    KEPT.lock().unwrap_or_else(|e| e.into_inner()).push(text);
    if !registered {
        write_kept();
    }
}

/// Registers the exit handler (once); `false` where it cannot be.
#[cfg(all(unix, feature = "unix-ffi"))]
fn register() -> bool {
    super::ffi::run_at_exit(write_kept)
}

/// No `atexit` without the C library's bindings here: text is written at once.
#[cfg(not(all(unix, feature = "unix-ffi")))]
fn register() -> bool {
    false
}

/// Writes what was kept, in one write, and forgets it.
pub(crate) fn write_kept() {
    let Ok(mut kept) = KEPT.try_lock() else {
        return; // a thread cut short by the exit holds it: nothing safe to do
    };
    if kept.is_empty() {
        return;
    }
    let text = format!("\n{}\n", kept.join("\n\n"));
    kept.clear();
    drop(kept);
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
