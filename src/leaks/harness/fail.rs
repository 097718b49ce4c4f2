//! Failing a test so that its message is seen whatever the process's panic hook.
//!
//! Iris fails a test by panicking with its report, and the panic hook is what prints
//! a panic's message: a suite that swaps the hook for a silent one while its own
//! test runs (to hide a panic it expects) silences every other test's panic in that
//! window too, and the test failed with no word of why (httpmock's suite did, under
//! `cargo test`).
//!
//! Invariants:
//! 1. A failure's message is printed exactly once: by the hook in place when it
//!    reaches Iris's link of the chain (the usual case), or else by a guard that
//!    drops while the panic unwinds, on the same thread, into the same captured
//!    output.
//! 2. The panic itself is unchanged: its payload is the message (what
//!    `#[should_panic(expected = ..)]` reads) and its location the caller's.

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    /// Whether Iris's link of the panic hook chain ran for the failure this thread
    /// is raising now.
    static HOOK_RAN: Cell<bool> = const { Cell::new(false) };
}

/// Panics with `message` at the caller's location; if the panic hook in place does
/// not reach Iris's link (a suite's silent hook), the message is written to stderr
/// as the panic unwinds.
#[track_caller]
pub(crate) fn fail(message: String) -> ! {
    link_into_the_hook();
    HOOK_RAN.with(|ran| ran.set(false));
    let _fallback = Unheard(&message);
    panic!("{message}")
}

/// Adds Iris's link to the panic hook chain, once per process: it notes that the
/// hook ran, and calls the hook that was there before. Done when the first test
/// begins, before a suite's code saves the hook to restore it later (a link added
/// while a suite's silent hook is in place would be dropped with it).
pub(in crate::leaks) fn link_into_the_hook() {
    static LINKED: Once = Once::new();
    LINKED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = HOOK_RAN.try_with(|ran| ran.set(true));
            previous(info);
        }));
    });
}

/// Prints a failure's message when it drops during the panic's unwinding and the
/// hook did not run Iris's link.
struct Unheard<'a>(&'a String);

impl Drop for Unheard<'_> {
    fn drop(&mut self) {
        let heard = HOOK_RAN.try_with(Cell::get).unwrap_or(true);
        if std::thread::panicking() && !heard {
            let thread = std::thread::current();
            eprintln!(
                "thread '{}' failed (iris: the panic hook in place did not print this; a \
                 suite's own hook replaced the default one):\n{}",
                thread.name().unwrap_or("<unnamed>"),
                self.0
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::catch_unwind;

    #[test]
    fn the_payload_is_the_message() {
        let payload =
            catch_unwind(|| fail("iris: test `t` leaked 1 thread(s)".into())).unwrap_err();
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("iris: test `t` leaked 1 thread(s)")
        );
        assert!(
            HOOK_RAN.with(Cell::get),
            "the hook chain reached Iris's link"
        );
    }
}
