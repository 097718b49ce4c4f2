//! Real flaky tests from published crates' histories, reproduced without the crate:
//! the same assumption in a few lines, and its fix (a timing-free one where the
//! upstream fix only widened a margin, since a wider margin is still a guess).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use iris::iris_test;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// crossbeam-rs/crossbeam PR #1005, "Remove timing assumptions from `wait_and_drop`
// test" ("This test failed in Android's CI system"): ten workers sleep before they
// send, and the test asserts nothing was sent yet, "all spawned threads should be in
// `thread::sleep`" by now. Fixed with a barrier the workers wait on.
#[iris_test]
fn real_crossbeam_wait_and_drop() {
    let (tx, rx) = mpsc::channel();
    let workers: Vec<_> = (0..10)
        .map(|_| {
            let tx = tx.clone();
            thread::spawn(move || {
                thread::sleep(ms(50));
                tx.send(()).unwrap();
            })
        })
        .collect();
    assert!(rx.try_recv().is_err(), "a worker sent before the check");
    for worker in workers {
        worker.join().unwrap();
    }
}

#[iris_test]
fn fixed_crossbeam_wait_and_drop() {
    let (tx, rx) = mpsc::channel();
    let gate = Arc::new(Barrier::new(11));
    let workers: Vec<_> = (0..10)
        .map(|_| {
            let (tx, gate) = (tx.clone(), gate.clone());
            thread::spawn(move || {
                gate.wait();
                tx.send(()).unwrap();
            })
        })
        .collect();
    assert!(rx.try_recv().is_err());
    gate.wait();
    for worker in workers {
        worker.join().unwrap();
    }
}

// crossbeam-rs/crossbeam issue #825, "Unreliable doc test for tick()" (fixed by PR
// #826, a margin of 65 ms instead of 50): "`thread::sleep()` delay inaccuracies
// that added up to more than 50 msec". The test assumes a sleep lasts what it asks,
// give or take the margin. Fixed without a margin: a sleep lasts at least that.
fn timeline(within: Option<u64>) {
    let start = Instant::now();
    let near = |expected: Duration| {
        let now = Instant::now();
        match within {
            Some(margin) => now < start + expected + ms(margin),
            None => now >= start + expected,
        }
    };
    thread::sleep(ms(100));
    assert!(near(ms(100)), "the first tick came late");
    thread::sleep(ms(50));
    assert!(near(ms(150)), "the second tick came late");
}

#[iris_test]
fn real_crossbeam_tick_timeline() {
    timeline(Some(50));
}

#[iris_test]
fn fixed_crossbeam_tick_timeline() {
    timeline(None);
}

// tokio-rs/tokio PR #4698, "rt: fix flaky `wake_while_rt_is_dropping` test": it
// assumed one `yield_now` lets every spawned task be polled once ("Tick the loop");
// fixed with a barrier every task reaches.
#[iris_test]
async fn real_tokio_polled_after_one_tick() {
    let polled = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let polled = polled.clone();
        tokio::spawn(async move {
            polled.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await
        });
    }
    tokio::task::yield_now().await;
    assert_eq!(
        polled.load(Ordering::SeqCst),
        3,
        "not every task was polled"
    );
}

#[iris_test]
async fn fixed_tokio_polled_after_one_tick() {
    let polled = Arc::new(AtomicUsize::new(0));
    let all = Arc::new(tokio::sync::Barrier::new(4));
    for _ in 0..3 {
        let (polled, all) = (polled.clone(), all.clone());
        tokio::spawn(async move {
            polled.fetch_add(1, Ordering::SeqCst);
            all.wait().await;
            std::future::pending::<()>().await
        });
    }
    all.wait().await;
    assert_eq!(polled.load(Ordering::SeqCst), 3);
}

// zesterer/flume commit 924d66b, "Update rendezvous test to avoid spurious
// scheduling fail": the sender measures how long its rendezvous send blocked from
// when it started, assuming it started when it was spawned; fixed here by taking
// the time in the parent, before the spawn (upstream lowered the bound).
fn rendezvous(measured_in_the_parent: bool) {
    let (tx, rx) = mpsc::sync_channel::<()>(0);
    for _ in 0..3 {
        let tx = tx.clone();
        let spawned = Instant::now();
        let sender = thread::spawn(move || {
            let then = if measured_in_the_parent {
                spawned
            } else {
                Instant::now()
            };
            tx.send(()).unwrap();
            assert!(
                then.elapsed() > ms(45),
                "the send did not block for the parent's sleep"
            );
        });
        thread::sleep(ms(50));
        rx.recv().unwrap();
        sender.join().unwrap();
    }
}

#[iris_test]
fn real_flume_rendezvous() {
    rendezvous(false);
}

#[iris_test]
fn fixed_flume_rendezvous() {
    rendezvous(true);
}
