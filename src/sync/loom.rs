//! The one place where the synchronization primitives of the modelled modules are
//! chosen: `parking_lot` and `std` in every real build, loom's models under
//! `--cfg loom` (see `tests/loom.rs`).
//!
//! Invariants:
//! - The modelled modules (`stop_token`, `completion`, `live_set`, `deadline`,
//!   `stack_slot`) take
//!   every lock, condvar, atomic and `Arc` from here and nowhere else, so a loom model
//!   explores the code that ships, not a copy of it.
//! - Both builds expose the same API: `parking_lot`'s (`lock()` returns the guard,
//!   `Condvar::wait` takes `&mut MutexGuard`). The loom wrappers adapt loom's std-like
//!   API to it; they add no logic of their own.
//! - Under loom a timed condvar wait never times out (loom has no clock): a model
//!   that needs the timeout path uses an already-expired deadline, and a model in
//!   which a waiter is never notified fails as a deadlock instead of passing by
//!   timing out. That is what makes "no wake-up is lost" provable.

#[cfg(not(loom))]
pub(crate) use parking_lot::{Condvar, Mutex};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use self::model::{Condvar, Mutex};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

/// A condvar that a [`Deadline`](super::deadline::Deadline) can wait on: parking_lot's
/// always (the unmodelled modules keep using it in a loom build), and loom's under
/// `--cfg loom`.
pub(crate) trait CondvarWait<G> {
    /// Waits for a notification (spurious wake-ups allowed).
    fn wait_untimed(&self, guard: &mut G);
    /// Waits for a notification or until `at`; returns `true` on a timeout.
    fn wait_until_instant(&self, guard: &mut G, at: std::time::Instant) -> bool;
}

impl<T> CondvarWait<parking_lot::MutexGuard<'_, T>> for parking_lot::Condvar {
    fn wait_untimed(&self, guard: &mut parking_lot::MutexGuard<'_, T>) {
        self.wait(guard);
    }

    fn wait_until_instant(
        &self,
        guard: &mut parking_lot::MutexGuard<'_, T>,
        at: std::time::Instant,
    ) -> bool {
        self.wait_until(guard, at).timed_out()
    }
}

#[cfg(loom)]
impl<T> CondvarWait<model::MutexGuard<'_, T>> for model::Condvar {
    fn wait_untimed(&self, guard: &mut model::MutexGuard<'_, T>) {
        self.wait(guard);
    }

    fn wait_until_instant(
        &self,
        guard: &mut model::MutexGuard<'_, T>,
        at: std::time::Instant,
    ) -> bool {
        self.wait_until(guard, at).timed_out()
    }
}

#[cfg(loom)]
mod model {
    use std::ops::{Deref, DerefMut};
    use std::time::Instant;

    /// `parking_lot::Mutex`'s API over loom's mutex (a poisoned lock is still used:
    /// our critical sections do not panic, and parking_lot has no poisoning).
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// The guard; the `Option` lets a condvar wait move the inner guard out and back.
    pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().unwrap_or_else(|e| e.into_inner())))
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_ref().expect("guard is held outside a wait")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_mut().expect("guard is held outside a wait")
        }
    }

    /// Whether a timed wait ended by timing out (never, under loom).
    pub(crate) struct WaitTimeoutResult(bool);

    impl WaitTimeoutResult {
        pub(crate) fn timed_out(&self) -> bool {
            self.0
        }
    }

    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Condvar {
            Condvar(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let inner = guard.0.take().expect("guard is held outside a wait");
            guard.0 = Some(self.0.wait(inner).unwrap_or_else(|e| e.into_inner()));
        }

        /// Loom has no clock: this is an untimed wait (see the module invariants).
        pub(crate) fn wait_until<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            _at: Instant,
        ) -> WaitTimeoutResult {
            self.wait(guard);
            WaitTimeoutResult(false)
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}
