//! A one-shot slot through which a thread or a task hands its result to one observer.
//!
//! Invariants:
//! - The producer completes the slot at most once, or abandons it (dropped without a
//!   value); either way every waiting observer wakes.
//! - The observer takes the value at most once.
//! - When the observer is gone before or after the value arrives, the value is handed
//!   back to whoever can still report it (see `complete` and `drop_observer`): this is
//!   how a panic nobody will ever look at gets reported instead of swallowed.

use super::deadline::Deadline;
use super::loom::{Condvar, Mutex};

pub struct Completion<T> {
    state: Mutex<State<T>>,
    condvar: Condvar,
}

struct State<T> {
    slot: Slot<T>,
    observer_gone: bool,
}

enum Slot<T> {
    Pending,
    Ready(T),
    Taken,
    Abandoned,
}

/// Why an observer got no value.
pub enum NoValue {
    /// The deadline passed first.
    TimedOut,
    /// The producer went away without a value.
    Abandoned,
}

impl<T> Completion<T> {
    pub fn new() -> Completion<T> {
        Completion {
            state: Mutex::new(State {
                slot: Slot::Pending,
                observer_gone: false,
            }),
            condvar: Condvar::new(),
        }
    }

    /// Stores the value. Returns it back when no observer will ever take it.
    pub fn complete(&self, value: T) -> Option<T> {
        let mut state = self.state.lock();
        if state.observer_gone {
            return Some(value);
        }
        state.slot = Slot::Ready(value);
        drop(state);
        self.condvar.notify_all();
        None
    }

    /// The producer is gone without a value.
    pub fn abandon(&self) {
        let mut state = self.state.lock();
        if matches!(state.slot, Slot::Pending) {
            state.slot = Slot::Abandoned;
        }
        drop(state);
        self.condvar.notify_all();
    }

    /// The observer is gone; returns a value that arrived but was never taken.
    pub fn drop_observer(&self) -> Option<T> {
        let mut state = self.state.lock();
        state.observer_gone = true;
        match std::mem::replace(&mut state.slot, Slot::Taken) {
            Slot::Ready(value) => Some(value),
            other => {
                state.slot = other;
                None
            }
        }
    }

    pub fn is_done(&self) -> bool {
        !matches!(self.state.lock().slot, Slot::Pending)
    }

    /// Waits for the value until `deadline`, and takes it.
    pub fn take(&self, deadline: Deadline) -> Result<T, NoValue> {
        let mut state = self.state.lock();
        loop {
            match std::mem::replace(&mut state.slot, Slot::Taken) {
                Slot::Ready(value) => return Ok(value),
                Slot::Abandoned | Slot::Taken => {
                    state.slot = Slot::Abandoned;
                    return Err(NoValue::Abandoned);
                }
                Slot::Pending => {
                    state.slot = Slot::Pending;
                    if deadline.is_expired() {
                        return Err(NoValue::TimedOut);
                    }
                    deadline.wait(&self.condvar, &mut state);
                }
            }
        }
    }
}

impl<T> Completion<std::thread::Result<T>> {
    /// Joins a thread's or task's result, waiting at most `timeout`: `None` when it
    /// has not finished. A slot abandoned by its producer becomes an `Err` whose
    /// payload is the message `abandoned` gives, as a panic would.
    pub fn join(
        &self,
        timeout: std::time::Duration,
        abandoned: impl FnOnce() -> String,
    ) -> Option<std::thread::Result<T>> {
        match self.take(Deadline::after(timeout)) {
            Ok(result) => Some(result),
            Err(NoValue::TimedOut) => None,
            Err(NoValue::Abandoned) => Some(Err(Box::new(abandoned()))),
        }
    }
}
