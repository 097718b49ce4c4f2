//! Thread tracking's answers where it is not built (the feature off, or not Linux
//! with glibc, or under Miri): nothing touches a thread, and every question is
//! answered "nothing known". `tracked.rs` answers them where it is; `mod.rs` picks
//! one.

use std::time::Duration;

#[cfg(feature = "tokio")]
use super::RawStack;
use super::{Frame, PlainPanic, ScopeView, ThreadOrigin};

/// Never: nothing is tracked.
pub(crate) fn active() -> bool {
    false
}

/// Nothing to turn off.
pub(crate) fn set_thread_tracking(_on: bool) {}

/// Nothing to note.
pub(crate) fn mark_managed() {}

/// Nothing is known to work for any scope.
pub(crate) fn scope_is_empty(_scope: u64) -> bool {
    true
}

/// Nothing is known to work for any scope.
pub(crate) fn view_of(_scope: u64) -> ScopeView {
    ScopeView::default()
}

/// No thread is known.
pub(crate) fn knows(_tid: u32) -> bool {
    false
}

/// Nobody knows where a thread was made.
pub(crate) fn origin_of(_tid: u32) -> Option<ThreadOrigin> {
    None
}

/// No exception tables are read.
#[cfg(feature = "tokio")]
pub(crate) fn catch_frames() -> Option<std::sync::Arc<[(usize, bool)]>> {
    None
}

/// Cannot tell.
#[cfg(feature = "tokio")]
pub(crate) fn caught_inside_task(_frames: &[(usize, bool)]) -> Option<bool> {
    None
}

/// Cannot tell: no thread's creation is known.
pub(crate) fn process_scoped(_tid: u32) -> bool {
    false
}

/// Cannot tell.
pub(crate) fn created_through(_tid: u32, _globs: &[String]) -> bool {
    false
}

/// No stack can be taken.
#[cfg(feature = "tokio")]
pub(crate) fn sample_raw(_tid: u32, _within: Duration) -> Option<RawStack> {
    None
}

/// No stack can be resolved.
#[cfg(feature = "tokio")]
pub(crate) fn resolve_raw(_raw: &RawStack) -> Option<Vec<Frame>> {
    None
}

/// No stack can be taken.
pub(crate) fn live_frames(_tid: u32, _within: Duration) -> Option<Vec<Frame>> {
    None
}

/// No plain thread's panic is seen.
pub(crate) fn uncollected_panics(_scope: u64) -> Vec<PlainPanic> {
    Vec::new()
}

/// Nothing to forget.
pub(crate) fn forget(_scope: u64) {}
