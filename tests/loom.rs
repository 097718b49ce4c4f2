//! Loom models of the primitives users trust never to hang or lose a wake-up.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --test loom --no-default-features` (`.ci/run`
//! does). Under `--cfg loom` the modelled modules take their locks, condvars, atomics
//! and `Arc`s from loom (`src/sync/loom.rs`), so these models explore every
//! interleaving of the code that ships, up to a preemption bound. A waiter that is
//! never woken fails a model as a deadlock: under loom a timed wait never times out.
#![cfg(loom)]

use std::sync::atomic::Ordering as StdOrdering;
use std::time::Duration;

use iris::__loom::{
    Awaited, Completion, Deadline, LiveSet, Member as LiveMember, NoValue, StackSlot,
};
use iris::StopToken;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

/// Every model runs under one preemption bound, enough for the races below (each
/// needs at most two preemptions) and small enough to keep `.ci/run` fast.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

fn never() -> Deadline {
    Deadline::after(Duration::MAX)
}

// ----- StopToken -----

/// `stop` racing `on_stop`: the callback runs exactly once, by whichever side
/// comes second.
#[test]
fn stop_token_callback_registered_during_stop_runs_exactly_once() {
    model(|| {
        let token = StopToken::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let registrar = {
            let (token, runs) = (token.clone(), runs.clone());
            thread::spawn(move || {
                token.on_stop(move || {
                    runs.fetch_add(1, Ordering::SeqCst);
                })
            })
        };
        token.stop();
        registrar.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

/// Two stoppers racing: callbacks registered before still run exactly once.
#[test]
fn stop_token_two_stoppers_run_each_callback_once() {
    model(|| {
        let token = StopToken::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        token.on_stop(move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        let other = {
            let token = token.clone();
            thread::spawn(move || token.stop())
        };
        token.stop();
        other.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(token.is_stopped());
    });
}

/// `stop` racing `wait` and `wait_timeout`: no waiter is lost (a lost wake-up
/// would leave a waiter blocked forever, which loom reports as a deadlock).
#[test]
fn stop_token_wakes_every_waiter() {
    model(|| {
        let token = StopToken::new();
        let waiter = {
            let token = token.clone();
            thread::spawn(move || token.wait())
        };
        let timed = {
            let token = token.clone();
            thread::spawn(move || token.wait_timeout(Duration::from_secs(3600)))
        };
        token.stop();
        waiter.join().unwrap();
        assert!(
            timed.join().unwrap(),
            "a timed waiter woken by stop says stopped"
        );
    });
}

/// `stop` racing the async waiter's registration: the future always completes
/// (a lost wake-up would leave `block_on` parked forever: a loom deadlock).
#[test]
fn stop_token_future_is_woken_by_a_racing_stop() {
    model(|| {
        let token = StopToken::new();
        let stopper = {
            let token = token.clone();
            thread::spawn(move || token.stop())
        };
        loom::future::block_on(token.stopped());
        stopper.join().unwrap();
    });
}

/// A dropped, never-completed future leaves no waker behind to be woken later.
#[test]
fn stop_token_dropped_future_forgets_its_waker() {
    model(|| {
        let token = StopToken::new();
        let owned = token.clone().stopped_owned();
        drop(owned);
        let stopper = {
            let token = token.clone();
            thread::spawn(move || token.stop())
        };
        loom::future::block_on(token.clone().stopped_owned());
        stopper.join().unwrap();
        assert!(format!("{token:?}").contains("async_waiters: 0"));
    });
}

// ----- Completion -----

/// `complete` racing an unbounded `take`: the observer always gets the value.
#[test]
fn completion_set_racing_wait_delivers_the_value() {
    model(|| {
        let slot = Arc::new(Completion::<u32>::new());
        let producer = {
            let slot = slot.clone();
            thread::spawn(move || assert!(slot.complete(7).is_none()))
        };
        assert!(matches!(slot.take(never()), Ok(7)));
        producer.join().unwrap();
    });
}

/// `complete` racing a `take` whose deadline has passed: either the value or a
/// timeout, and after a timeout the value is still there for the next take.
#[test]
fn completion_set_racing_timeout_never_loses_the_value() {
    model(|| {
        let slot = Arc::new(Completion::<u32>::new());
        let producer = {
            let slot = slot.clone();
            thread::spawn(move || assert!(slot.complete(7).is_none()))
        };
        match slot.take(Deadline::after(Duration::ZERO)) {
            Ok(value) => assert_eq!(value, 7),
            Err(NoValue::TimedOut) => assert!(matches!(slot.take(never()), Ok(7))),
            Err(NoValue::Abandoned) => panic!("nobody abandoned the slot"),
        }
        producer.join().unwrap();
    });
}

/// `abandon` racing `take`: the observer wakes with `Abandoned`, never hangs.
#[test]
fn completion_abandon_wakes_the_observer() {
    model(|| {
        let slot = Arc::new(Completion::<u32>::new());
        let producer = {
            let slot = slot.clone();
            thread::spawn(move || slot.abandon())
        };
        assert!(matches!(slot.take(never()), Err(NoValue::Abandoned)));
        producer.join().unwrap();
    });
}

/// The observer leaving races the value arriving: exactly one side ends up holding
/// the value (to report a panic nobody will see), never both, never neither.
#[test]
fn completion_observer_leaving_hands_the_value_to_exactly_one_side() {
    model(|| {
        let slot = Arc::new(Completion::<u32>::new());
        let producer = {
            let slot = slot.clone();
            thread::spawn(move || slot.complete(7))
        };
        let kept_by_observer = slot.drop_observer();
        let kept_by_producer = producer.join().unwrap();
        match (kept_by_observer, kept_by_producer) {
            (Some(7), None) | (None, Some(7)) => {}
            other => panic!("the value went to {other:?}"),
        }
    });
}

// ----- LiveSet: spawn racing stop -----

struct Member {
    token: StopToken,
    left: AtomicUsize,
}

/// The model's members are all of one class.
#[derive(Clone)]
struct Managed(std::sync::Arc<Member>);

impl LiveMember for Managed {
    fn class(&self) -> usize {
        0
    }
}

impl std::ops::Deref for Managed {
    type Target = Member;
    fn deref(&self) -> &Member {
        &self.0
    }
}

/// A spawner admits a thread while a stopper closes the set, signals its members and
/// waits for them. No admitted thread escapes the stop (the stopper signals it and
/// sees it leave), a refused one never runs, and each leaves (is joined) once.
#[test]
fn live_set_spawn_racing_stop_lets_no_thread_escape() {
    model(|| {
        let set = Arc::new(LiveSet::<Managed>::new(false));
        let member = std::sync::Arc::new(Member {
            token: StopToken::new(),
            left: AtomicUsize::new(0),
        });
        let spawner = {
            let (set, member) = (set.clone(), member.clone());
            thread::spawn(move || {
                if set.admit(1, Managed(member.clone())).is_err() {
                    return None;
                }
                // The managed thread: runs until signalled, then leaves the set.
                Some(thread::spawn(move || {
                    member.token.wait();
                    if set.leave(1).is_some() {
                        member.left.fetch_add(1, Ordering::SeqCst);
                    }
                    assert!(set.leave(1).is_none(), "a member leaves once");
                }))
            })
        };
        // The stop: close, then signal everyone admitted, then wait for them.
        assert!(set.close());
        for m in set.members(|_| true) {
            m.token.stop();
        }
        assert!(
            set.await_none(
                Awaited {
                    classes: Awaited::ALL,
                    except: None,
                },
                never()
            ),
            "no deadline, so none is left"
        );
        let admitted = spawner.join().unwrap();
        if let Some(thread) = admitted {
            thread.join().unwrap();
            assert_eq!(member.left.load(Ordering::SeqCst), 1);
        } else {
            assert!(
                !member.token.is_stopped(),
                "a refused thread was never seen"
            );
        }
        assert!(
            set.admit(2, Managed(member.clone())).is_err(),
            "closed for good"
        );
        let _ = StdOrdering::SeqCst;
    });
}

/// The async wait for departures racing the last departure: it always completes
/// (a lost wake-up would park `block_on` forever: a loom deadlock).
#[test]
fn live_set_async_wait_is_woken_by_a_racing_departure() {
    model(|| {
        let set = Arc::new(LiveSet::<Managed>::new(false));
        let member = std::sync::Arc::new(Member {
            token: StopToken::new(),
            left: AtomicUsize::new(0),
        });
        assert!(set.admit(1, Managed(member)).is_ok());
        let leaver = {
            let set = set.clone();
            thread::spawn(move || assert!(set.leave(1).is_some()))
        };
        loom::future::block_on(set.all_gone(Awaited {
            classes: Awaited::ALL,
            except: None,
        }));
        leaver.join().unwrap();
    });
}

// ----- StackSlot: a signal handler handing over a stack -----

/// Records `ips` for thread `me`, as the signal handler does.
fn handler(slot: &Arc<StackSlot<2>>, me: u32, ips: [usize; 2]) -> thread::JoinHandle<bool> {
    let slot = slot.clone();
    thread::spawn(move || {
        slot.record(me, |push| {
            for ip in ips {
                push(ip);
            }
        })
    })
}

/// Waits (as the requester polls) until thread `tid`'s handler has finished.
fn take_when_done(slot: &StackSlot<2>, tid: u32) -> Vec<usize> {
    loop {
        if let Some(ips) = slot.take(tid) {
            return ips;
        }
        thread::yield_now();
    }
}

/// The handler racing a requester whose deadline has passed: the requester gets
/// the whole stack, or nothing and nothing is written after it gave up; either way
/// the slot is free for the next request.
#[test]
fn stack_slot_hands_over_a_whole_stack_or_nothing_once_given_up() {
    model(|| {
        let slot = Arc::new(StackSlot::<2>::new());
        assert!(slot.arm(1));
        let handler = handler(&slot, 1, [10, 20]);
        let got = loop {
            if let Some(ips) = slot.take(1) {
                break Some(ips);
            }
            if slot.disarm(1) {
                break slot.take(1);
            }
            thread::yield_now(); // the handler is writing: it finishes
        };
        let recorded = handler.join().unwrap();
        match got {
            Some(ips) => assert_eq!(ips, [10, 20], "a torn or foreign stack"),
            None => assert!(!recorded, "a request was written after it was given up"),
        }
        assert!(slot.arm(2), "the slot is free again");
    });
}

/// A late handler of an abandoned request for thread 1 racing a new request for
/// thread 2: the new request gets thread 2's stack, never thread 1's.
#[test]
fn stack_slot_a_late_handler_cannot_answer_a_newer_request() {
    model(|| {
        let slot = Arc::new(StackSlot::<2>::new());
        assert!(slot.arm(1));
        let late = handler(&slot, 1, [1, 1]);
        if !slot.disarm(1) {
            // The late one won the slot before the give-up: let it finish.
            take_when_done(&slot, 1);
        }
        assert!(slot.arm(2));
        let asked = handler(&slot, 2, [2, 2]);
        assert_eq!(take_when_done(&slot, 2), [2, 2]);
        late.join().unwrap();
        assert!(asked.join().unwrap());
    });
}
