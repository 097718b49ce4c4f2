//! [`LiveSet`]: the admission gate between spawning and stopping.
//!
//! A container keeps its running threads here. Spawning and stopping race: a thread
//! may be spawned while another thread stops the container. The set makes that race
//! harmless.
//!
//! Invariants:
//! - `admit` inserts only while the set is open, and `close` shuts it, both under the
//!   set's one lock. So once `close` has returned, every member that will ever exist
//!   is already in the set: a stop that closes first and then looks at the members
//!   sees (and signals) every thread. None escapes, and a refused spawn never runs.
//! - A member leaves exactly once (`leave` returns it once; a second call finds
//!   nothing), so whoever joins it does so once.
//! - Every `leave` notifies the condvar under which `await_none` waits, and
//!   `await_none` re-checks its predicate under the lock before each wait, so a
//!   departure between the check and the wait cannot be missed.
//! - `await_none` never waits past its deadline.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::deadline::Deadline;
use super::loom::{Condvar, Mutex};

/// The members of a running group, keyed by id, and whether it still admits new ones.
pub struct LiveSet<R> {
    state: Mutex<State<R>>,
    changed: Condvar,
}

struct State<R> {
    closed: bool,
    members: HashMap<u64, R, BuildHasherDefault<IdHasher>>,
}

/// Member ids are unique numbers handed out by the crate, never chosen by a user, so
/// they need no protection against collisions crafted by an attacker (SipHash's
/// job): one multiplication spreads them over the table. Spawning is a hot path.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, id: u64) {
        // Fibonacci hashing: the golden ratio's multiplier, high bits well mixed.
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

impl<R: Clone> LiveSet<R> {
    /// An empty set; a set born `closed` admits nothing.
    pub fn new(closed: bool) -> LiveSet<R> {
        LiveSet {
            state: Mutex::new(State {
                closed,
                members: HashMap::default(),
            }),
            changed: Condvar::new(),
        }
    }

    /// Adds `member` under `id` unless the set is closed; gives it back if it is.
    pub fn admit(&self, id: u64, member: R) -> Result<(), R> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(member);
        }
        state.members.insert(id, member);
        Ok(())
    }

    /// Admits nothing from now on. Returns whether it was open until now.
    pub fn close(&self) -> bool {
        let mut state = self.state.lock();
        !std::mem::replace(&mut state.closed, true)
    }

    /// Whether the set admits nothing any more.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Removes member `id` and wakes everyone waiting for departures; `None` when it
    /// already left (or never joined).
    pub fn leave(&self, id: u64) -> Option<R> {
        let left = self.state.lock().members.remove(&id);
        if left.is_some() {
            self.changed.notify_all();
        }
        left
    }

    /// The members for which `which` holds, sorted by id.
    pub fn members(&self, which: impl Fn(&R) -> bool) -> Vec<R> {
        let state = self.state.lock();
        let mut found: Vec<(u64, R)> = state
            .members
            .iter()
            .filter(|(_, m)| which(m))
            .map(|(id, m)| (*id, m.clone()))
            .collect();
        drop(state);
        found.sort_by_key(|(id, _)| *id);
        found.into_iter().map(|(_, m)| m).collect()
    }

    /// Whether any member satisfies `which`.
    pub fn any(&self, which: impl Fn(&R) -> bool) -> bool {
        self.state.lock().members.values().any(which)
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        self.state.lock().members.len()
    }

    /// Waits until no member satisfies `which`, or the deadline; `true` iff none does.
    pub fn await_none(&self, which: impl Fn(&R) -> bool, deadline: Deadline) -> bool {
        let mut state = self.state.lock();
        loop {
            // Checked under the lock that `leave` takes before notifying: a departure
            // after this check notifies a waiter that is already waiting.
            if !state.members.values().any(&which) {
                return true;
            }
            if deadline.is_expired() {
                return false;
            }
            deadline.wait(&self.changed, &mut state);
        }
    }
}
