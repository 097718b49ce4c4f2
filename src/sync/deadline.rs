//! A point in time after which a wait gives up, or none at all.
//!
//! Invariants:
//! - Every duration the public API accepts goes through [`Deadline::after`], so
//!   `Duration::MAX` (or any duration that overflows `Instant`) means "no deadline"
//!   instead of an overflow panic, and `Duration::ZERO` means "already expired".
//! - Deadlines are measured on the monotonic clock (`Instant`), never on wall time.

use std::time::{Duration, Instant};

use super::loom::CondvarWait;

/// When a bounded operation must give up. `None` inside means "never".
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: Option<Instant>,
}

impl Deadline {
    /// A deadline `timeout` from now; saturates to "never" when the sum overflows.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now().checked_add(timeout),
        }
    }

    /// Whichever of the two deadlines comes first.
    #[cfg_attr(not(feature = "sentinel"), allow(dead_code))] // used by sentinel waits
    pub fn earliest(self, other: Deadline) -> Deadline {
        match (self.at, other.at) {
            (Some(a), Some(b)) => Deadline { at: Some(a.min(b)) },
            (Some(_), None) => self,
            (None, _) => other,
        }
    }

    /// Time left, `None` when there is no deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Whether the deadline has passed.
    pub fn is_expired(&self) -> bool {
        matches!(self.remaining(), Some(d) if d.is_zero())
    }

    /// Blocks on `condvar` until notified or the deadline passes; returns `false` on timeout.
    /// Spurious wake-ups are possible: callers re-check their condition in a loop.
    pub fn wait<G>(&self, condvar: &impl CondvarWait<G>, guard: &mut G) -> bool {
        match self.at {
            None => {
                condvar.wait_untimed(guard);
                true
            }
            Some(at) => !condvar.wait_until_instant(guard, at),
        }
    }

    /// Sleeps at most `step`, clipped to the deadline.
    pub fn sleep_at_most(&self, step: Duration) {
        let step = match self.remaining() {
            Some(left) => step.min(left),
            None => step,
        };
        if !step.is_zero() {
            std::thread::sleep(step); // the polling pause itself, clipped to the deadline
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_means_never_and_zero_means_expired() {
        assert!(Deadline::after(Duration::MAX).remaining().is_none());
        assert!(!Deadline::after(Duration::MAX).is_expired());
        assert!(Deadline::after(Duration::ZERO).is_expired());
        assert!(!Deadline::after(Duration::from_secs(60)).is_expired());
    }
}
