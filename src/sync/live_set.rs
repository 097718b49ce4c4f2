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
//! - Members belong to classes (threads, tasks, workers: `Member::class`) with a count
//!   per class, so "is any member of these classes left?" costs O(1), however many
//!   members there are. A waiter registers what it waits for; `leave` notifies only
//!   when some registered waiter's condition now holds (stopping 1,000 tasks wakes
//!   the stopper once, not 1,000 times).
//! - `await_none` registers and checks its condition under the same lock that
//!   `leave` takes to update the counts and look at the registrations, so a
//!   departure between the check and the wait cannot be missed.
//! - `await_none` never waits past its deadline.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::deadline::Deadline;
use super::loom::{Condvar, Mutex};

/// How many classes of members there are (see [`Member::class`]).
pub const CLASSES: usize = 4;

/// A member of a [`LiveSet`].
pub trait Member: Clone {
    /// Its class, below [`CLASSES`]; fixed for its life.
    fn class(&self) -> usize;
}

/// What a waiter waits for: no member left of the classes in `classes` (a bit per
/// class), not counting member `except` (the waiter's own thread, which cannot leave
/// while it waits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Awaited {
    /// A bit per class.
    pub classes: u8,
    /// A member not to wait for.
    pub except: Option<u64>,
}

impl Awaited {
    /// Every class.
    pub const ALL: u8 = (1 << CLASSES) - 1;
}

/// The members of a running group, keyed by id, and whether it still admits new ones.
pub struct LiveSet<R> {
    state: Mutex<State<R>>,
    changed: Condvar,
}

struct State<R> {
    closed: bool,
    counts: [usize; CLASSES],
    /// What each waiting `await_none` waits for (one entry per waiter).
    waiters: Vec<Awaited>,
    /// Async waiters ([`AllGone`]): what each waits for and its waker, by id.
    wakers: Vec<(u64, Awaited, Waker)>,
    next_waker: u64,
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

impl<R> State<R> {
    fn holds(&self, awaited: Awaited, class_of: impl Fn(&R) -> usize) -> bool {
        let left: usize = (0..CLASSES)
            .filter(|c| awaited.classes & (1 << c) != 0)
            .map(|c| self.counts[c])
            .sum();
        let excepted = awaited
            .except
            .and_then(|id| self.members.get(&id))
            .is_some_and(|m| awaited.classes & (1 << class_of(m)) != 0);
        left == usize::from(excepted)
    }
}

impl<R: Member> LiveSet<R> {
    /// An empty set; a set born `closed` admits nothing.
    pub fn new(closed: bool) -> LiveSet<R> {
        LiveSet {
            state: Mutex::new(State {
                closed,
                counts: [0; CLASSES],
                waiters: Vec::new(),
                wakers: Vec::new(),
                next_waker: 0,
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
        state.counts[member.class()] += 1;
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
        let mut state = self.state.lock();
        let left = state.members.remove(&id)?;
        state.counts[left.class()] -= 1;
        let wake = state.waiters.iter().any(|w| state.holds(*w, R::class));
        let mut ready = Vec::new();
        let mut at = 0;
        while at < state.wakers.len() {
            if state.holds(state.wakers[at].1, R::class) {
                ready.push(state.wakers.swap_remove(at).2);
            } else {
                at += 1;
            }
        }
        drop(state);
        if wake {
            self.changed.notify_all();
        }
        for waker in ready {
            waker.wake();
        }
        Some(left)
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

    /// A future that completes once no member of the awaited classes is left (but the
    /// excepted one): [`await_none`](Self::await_none) for async callers, who bound
    /// it with their own timer.
    pub fn all_gone(&self, awaited: Awaited) -> AllGone<'_, R> {
        AllGone {
            set: self,
            awaited,
            registration: None,
        }
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        self.state.lock().members.len()
    }

    /// Waits until no member of the awaited classes is left (but the excepted one), or
    /// the deadline; `true` iff none is.
    pub fn await_none(&self, awaited: Awaited, deadline: Deadline) -> bool {
        let mut state = self.state.lock();
        // Registered under the lock that `leave` takes to decide whether to notify:
        // a departure after the check below sees this registration.
        state.waiters.push(awaited);
        let done = loop {
            if state.holds(awaited, R::class) {
                break true;
            }
            if deadline.is_expired() {
                break false;
            }
            deadline.wait(&self.changed, &mut state);
        };
        if let Some(at) = state.waiters.iter().position(|w| *w == awaited) {
            state.waiters.swap_remove(at);
        }
        done
    }
}

/// The future of [`LiveSet::all_gone`].
///
/// # Cancel safety
/// Cancel safe: dropping it removes its registration.
#[must_use = "futures do nothing unless `.await`ed or polled"]
pub struct AllGone<'a, R: Member> {
    set: &'a LiveSet<R>,
    awaited: Awaited,
    registration: Option<u64>,
}

impl<R: Member> Future for AllGone<'_, R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut state = this.set.state.lock();
        // Checked under the lock `leave` takes to look at the registrations: a
        // departure after this check finds the waker registered below.
        if state.holds(this.awaited, R::class) {
            if let Some(id) = this.registration.take() {
                state.wakers.retain(|(i, _, _)| *i != id);
            }
            return Poll::Ready(());
        }
        let registered = this
            .registration
            .and_then(|id| state.wakers.iter_mut().find(|(i, _, _)| *i == id));
        match registered {
            Some((_, _, waker)) => waker.clone_from(cx.waker()),
            None => {
                let id = state.next_waker;
                state.next_waker += 1;
                state.wakers.push((id, this.awaited, cx.waker().clone()));
                this.registration = Some(id);
            }
        }
        Poll::Pending
    }
}

impl<R: Member> Drop for AllGone<'_, R> {
    fn drop(&mut self) {
        if let Some(id) = self.registration.take() {
            self.set.state.lock().wakers.retain(|(i, _, _)| *i != id);
        }
    }
}
