//! [`Attribution`]: which test scope the current thread works for, so that the
//! threads it creates can be charged to that test.
//!
//! Invariants:
//! - Scope ids are unique for the life of the process and never 0; 0 means "no
//!   test" (threads of the runner, of `main`, of static initializers).
//! - A thread's attribution is its creator's at the moment of creation (set by the
//!   thread tracker before the new thread runs any user code), or the scope an
//!   [`Attribution`] guard installed on it, restored when the guard drops.
//! - Reading it never panics, even while the thread's locals are being destroyed:
//!   then it is 0.
//!
//! This part is safe and always compiled: without the `thread-tracking` feature it is
//! a few thread-local writes per test that nothing reads.
// Parts of this serve only the test harness (feature `harness`).
#![cfg_attr(not(feature = "harness"), allow(dead_code))]

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

/// The test scope the calling thread works for (0: none).
pub(crate) fn current() -> u64 {
    CURRENT.try_with(Cell::get).unwrap_or(0)
}

/// Makes the calling thread work for `scope` (a new thread, before its body runs).
pub(crate) fn adopt(scope: u64) {
    let _ = CURRENT.try_with(|current| current.set(scope));
}

/// While alive, charges the threads the calling thread creates to a fresh scope.
#[derive(Debug)]
pub(crate) struct Attribution {
    scope: u64,
    previous: u64,
}

impl Attribution {
    /// A fresh scope, installed on the calling thread.
    pub(crate) fn begin() -> Attribution {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let scope = NEXT.fetch_add(1, Ordering::Relaxed);
        let previous = current();
        adopt(scope);
        Attribution { scope, previous }
    }

    /// Its id.
    pub(crate) fn scope(&self) -> u64 {
        self.scope
    }
}

impl Drop for Attribution {
    fn drop(&mut self) {
        adopt(self.previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_installs_a_fresh_scope_and_restores_the_previous_one() {
        assert_eq!(current(), 0);
        let outer = Attribution::begin();
        assert_eq!(current(), outer.scope());
        {
            let inner = Attribution::begin();
            assert_ne!(inner.scope(), outer.scope());
            assert_eq!(current(), inner.scope());
        }
        assert_eq!(current(), outer.scope());
        drop(outer);
        assert_eq!(current(), 0);
    }
}
