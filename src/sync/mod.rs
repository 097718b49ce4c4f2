//! The lowest layer: signalling and waiting primitives that know nothing about
//! threads, containers or tests.
//!
//! - [`stop_token`]: the one-way stop signal every managed thread gets.
//! - [`completion`]: the one-shot slot through which a thread hands over its result.
//! - [`live_set`]: the admission gate that lets a stop see every thread it must join.
//! - [`deadline`]: one deadline for a whole operation, `Duration::MAX` meaning never.
//! - [`stack_slot`]: the mailbox through which a signal handler hands over a
//!   thread's stack (thread tracking's live stacks).
//! - [`loom`]: the one place where the primitives above are swapped for loom's
//!   models (`--cfg loom`), so the models run the real code.
//!
//! Nothing here imports any other layer of the crate.

pub(crate) mod completion;
pub(crate) mod deadline;
pub(crate) mod live_set;
pub(crate) mod loom;
#[cfg_attr(
    not(any(loom, iris_tracking)),
    allow(dead_code) // only thread tracking samples stacks
)]
pub(crate) mod stack_slot;
pub(crate) mod stop_token;

/// The text of a panic payload (`&str` or `String`), as the panic hook would print it.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}
