//! What the operating system says about this process: its threads, their state, and
//! its child processes and their descendants (Linux: `/proc`). Beside `sync`, the
//! lowest layer: it imports no other part of the crate.
//!
//! Everything here is best effort: `None` means "cannot tell", never "none".

pub(crate) mod processes;
pub(crate) mod threads;
