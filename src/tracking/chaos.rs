//! Schedule chaos: seeded perturbations of a test's own threads at the points where
//! schedules decide outcomes (a thread's start, its creator's next step, a sleep, an
//! async body's poll), so that a test that passes by luck fails within a stress run.
//!
//! The harness turns chaos on for a test's scope ([`begin`]) with a seed; the points
//! ask [`hold`] (or [`stretch`] for a sleep, [`should_yield`] for a poll) and get a
//! decision for the calling thread.
//!
//! Invariants:
//! 1. Only a thread working for a scope under chaos is ever perturbed: a thread of no
//!    test, or of a test without chaos, pays one relaxed atomic load per point, and
//!    a neighbour test in the same process runs at normal speed.
//! 2. Every decision comes from the calling thread's own generator. A thread created
//!    through the interposed `pthread_create` gets one drawn from its creator's at
//!    the creation ([`for_a_new_thread`], [`adopt`]); any other thread of the scope
//!    (the test's own) gets one from the scope's seed and its ordinal among such
//!    threads. So with one seed, a thread's decisions depend on the order of its
//!    creator's points, not on which thread the system ran first: the seed fixes
//!    Iris's decisions, not the operating system's schedule.
//! 3. A hold is one sleep of at most [`LONGEST_HOLD`]; a point reached inside a hold
//!    (the sleep's own `nanosleep`) decides nothing, so holds never nest.
//! 4. What was done is kept, the last [`KEPT`] perturbations of each scope, for the
//!    words of a failure; [`end`] takes them and forgets the scope.
// Its points are the hooks (where tracking works), the test runtime's (feature
// `tokio`), and the harness's: with any of them left out, parts are unused.
#![cfg_attr(
    not(all(feature = "harness", feature = "tokio", iris_tracking)),
    allow(dead_code)
)]

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::attribution;

/// The longest single hold (invariant 3).
pub(crate) const LONGEST_HOLD: Duration = Duration::from_millis(100);
/// The shortest hold worth making: below it, a hold changes no interleaving a
/// scheduler would not.
const SHORTEST_HOLD: Duration = Duration::from_micros(100);
/// How many perturbations of a scope are kept for a failure's words (invariant 4).
pub(crate) const KEPT: usize = 6;

/// Where a thread is when it asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Point {
    /// A new thread, before its first line of code.
    ThreadStart,
    /// A thread that has just created another.
    AfterCreate,
}

impl Point {
    /// How often a thread is held there, in 1/1000.
    fn per_mille(self) -> u64 {
        match self {
            // A new thread held back: "the worker has surely started by now".
            Point::ThreadStart => 500,
            // Its creator held back instead: the other order of parent and child.
            Point::AfterCreate => 250,
        }
    }
}

/// Scopes under chaos: the fast path's only read (invariant 1).
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static SCOPES: Mutex<Vec<Scope>> = Mutex::new(Vec::new());

/// A scope under chaos.
#[derive(Debug)]
struct Scope {
    id: u64,
    seed: u64,
    /// Ordinals handed to its threads so far.
    threads: u64,
    /// The last [`KEPT`] perturbations, in words.
    done: VecDeque<String>,
}

/// A thread's generator: its scope, and its state.
pub(crate) type Generator = (u64, u64);

thread_local! {
    /// The calling thread's scope and generator state (invariant 2).
    static GENERATOR: Cell<Option<Generator>> = const { Cell::new(None) };
    /// Inside a hold (invariant 3).
    static HOLDING: Cell<bool> = const { Cell::new(false) };
}

/// Puts `scope` under chaos with `seed`, until [`end`].
pub(crate) fn begin(scope: u64, seed: u64) {
    let mut scopes = SCOPES.lock();
    scopes.retain(|s| s.id != scope);
    scopes.push(Scope {
        id: scope,
        seed,
        threads: 0,
        done: VecDeque::new(),
    });
    ACTIVE.store(scopes.len(), Ordering::Relaxed);
}

/// Takes `scope` out of chaos; returns its last perturbations, oldest first.
pub(crate) fn end(scope: u64) -> Vec<String> {
    let mut scopes = SCOPES.lock();
    let Some(at) = scopes.iter().position(|s| s.id == scope) else {
        return Vec::new();
    };
    let done = scopes.swap_remove(at).done.into();
    ACTIVE.store(scopes.len(), Ordering::Relaxed);
    done
}

/// Whether the calling thread's test is under chaos (one relaxed load when none is).
fn scope_under_chaos() -> Option<u64> {
    if ACTIVE.load(Ordering::Relaxed) == 0 || HOLDING.try_with(Cell::get).unwrap_or(true) {
        return None;
    }
    let scope = attribution::current();
    (scope != 0).then_some(scope)
}

/// The next number of the calling thread's generator for `scope`, or `None` when
/// `scope` is not under chaos.
fn next_random(scope: u64) -> Option<u64> {
    let state = match GENERATOR.try_with(Cell::get).ok()? {
        Some((of, state)) if of == scope => state,
        _ => {
            let mut scopes = SCOPES.lock();
            let entry = scopes.iter_mut().find(|s| s.id == scope)?;
            entry.threads += 1;
            mix(entry.seed ^ mix(entry.threads))
        }
    };
    let (value, state) = split_mix(state);
    let _ = GENERATOR.try_with(|g| g.set(Some((scope, state))));
    Some(value)
}

/// A generator for a thread the calling thread is creating, drawn from its own, if
/// its test is under chaos (invariant 2).
pub(crate) fn for_a_new_thread() -> Option<Generator> {
    let scope = scope_under_chaos()?;
    Some((scope, next_random(scope)?))
}

/// Makes `generator` the calling thread's: a new thread, before its first point.
pub(crate) fn adopt(generator: Option<Generator>) {
    if let Some(generator) = generator {
        let _ = GENERATOR.try_with(|g| g.set(Some(generator)));
    }
}

/// Holds the calling thread at `point` when its generator says so; `who` names it
/// for the failure's words.
pub(crate) fn hold(point: Point, who: impl FnOnce() -> String) {
    let Some(scope) = scope_under_chaos() else {
        return;
    };
    let Some(roll) = next_random(scope) else {
        return;
    };
    if roll % 1000 >= point.per_mille() {
        return;
    }
    let Some(length) = next_random(scope).map(hold_length) else {
        return;
    };
    let what = match point {
        Point::ThreadStart => format!("held {} back {length:.1?} before it started", who()),
        Point::AfterCreate => format!("held {} back {length:.1?} after it created a thread", who()),
    };
    record(scope, what);
    sleep_holding(length);
}

/// How much longer a sleep of `requested` on the calling thread lasts: a sleep used
/// as synchronization ("the worker is done by now") then meets a worker that is
/// not. Zero when the thread's test is not under chaos or its generator says no.
pub(crate) fn stretch(requested: Duration, who: impl FnOnce() -> String) -> Duration {
    let Some(scope) = scope_under_chaos() else {
        return Duration::ZERO;
    };
    let Some(roll) = next_random(scope) else {
        return Duration::ZERO;
    };
    if roll % 2 == 0 {
        return Duration::ZERO;
    }
    let Some(extra) = next_random(scope).map(hold_length) else {
        return Duration::ZERO;
    };
    record(
        scope,
        format!(
            "stretched {}'s sleep of {requested:.1?} by {extra:.1?}",
            who()
        ),
    );
    extra
}

/// Sleeps `length` as a hold: the points it reaches decide nothing (invariant 3).
pub(crate) fn sleep_holding(length: Duration) {
    let _ = HOLDING.try_with(|h| h.set(true));
    std::thread::sleep(length);
    let _ = HOLDING.try_with(|h| h.set(false));
}

/// Whether an async body's poll should yield once before it runs: the tasks it
/// spawned then run before it goes on, the other order of a hand-off. One in four
/// polls, when the body's test is under chaos.
pub(crate) fn should_yield() -> bool {
    let Some(scope) = scope_under_chaos() else {
        return false;
    };
    let yields = next_random(scope).is_some_and(|roll| roll % 4 == 0);
    if yields {
        record(scope, "yielded the test's body once before its poll".into());
    }
    yields
}

/// Numbers for the test's runtime, the same for a seed: how many ticks between
/// its checks of the IO and timer drivers (tokio's `event_interval`, 1 to 61).
pub(crate) fn event_interval(seed: u64) -> u32 {
    1 + (mix(seed ^ 0x6576_656e_7473) % 61) as u32
}

/// Keeps a perturbation's words (invariant 4).
fn record(scope: u64, what: String) {
    let mut scopes = SCOPES.lock();
    if let Some(entry) = scopes.iter_mut().find(|s| s.id == scope) {
        if entry.done.len() == KEPT {
            entry.done.pop_front();
        }
        entry.done.push_back(what);
    }
}

/// A hold's length from a random number: log-uniform between [`SHORTEST_HOLD`] and
/// [`LONGEST_HOLD`], so that short and long holds are equally likely orders of
/// magnitude (rr's chaos mode draws its starvation times the same way).
fn hold_length(roll: u64) -> Duration {
    let low = SHORTEST_HOLD.as_secs_f64().ln();
    let high = LONGEST_HOLD.as_secs_f64().ln();
    let unit = (roll >> 11) as f64 / (1u64 << 53) as f64;
    Duration::from_secs_f64((low + unit * (high - low)).exp()).min(LONGEST_HOLD)
}

/// SplitMix64's step: the next state and its output.
fn split_mix(state: u64) -> (u64, u64) {
    let state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    (mix(state), state)
}

/// SplitMix64's finalizer: a bijection that spreads every input bit.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::attribution::Attribution;

    #[test]
    fn holds_are_between_the_shortest_and_the_longest_and_log_uniform() {
        assert_eq!(hold_length(0), SHORTEST_HOLD);
        assert!(hold_length(u64::MAX) <= LONGEST_HOLD);
        assert!(hold_length(u64::MAX) > LONGEST_HOLD.mul_f64(0.99));
        // The middle of the range is the geometric mean: about 3.2 ms.
        let middle = hold_length(1 << 63);
        assert!(
            middle > Duration::from_millis(3) && middle < Duration::from_micros(3400),
            "{middle:?}"
        );
    }

    #[test]
    fn only_a_thread_of_a_scope_under_chaos_is_perturbed_and_the_seed_fixes_its_decisions() {
        let decisions = |seed: u64| {
            let scope = Attribution::begin();
            begin(scope.scope(), seed);
            let rolls: Vec<u64> = (0..8).filter_map(|_| next_random(scope.scope())).collect();
            let kept = end(scope.scope());
            // Reset the thread's generator for the next scope of this thread.
            let _ = GENERATOR.try_with(|g| g.set(None));
            (rolls, kept)
        };
        let (first, _) = decisions(0x5eed);
        let (again, _) = decisions(0x5eed);
        let (other, _) = decisions(0x5eee);
        assert_eq!(first.len(), 8);
        assert_eq!(first, again, "one seed, one sequence");
        assert_ne!(first, other);
        // A thread of no scope under chaos gets nothing, and is never held.
        let outside = Attribution::begin();
        assert_eq!(next_random(outside.scope()), None);
        assert_eq!(
            stretch(Duration::from_millis(5), String::new),
            Duration::ZERO
        );
        assert!(!should_yield());
    }

    #[test]
    fn a_scope_keeps_its_last_perturbations_in_words() {
        let scope = Attribution::begin();
        begin(scope.scope(), 7);
        for i in 0..KEPT + 3 {
            record(scope.scope(), format!("perturbation {i}"));
        }
        let kept = end(scope.scope());
        assert_eq!(kept.len(), KEPT);
        assert_eq!(kept.first().map(String::as_str), Some("perturbation 3"));
        assert!(end(scope.scope()).is_empty(), "forgotten");
    }
}
