//! Thread lifecycle costs: spawn + join, and stop + join of N idle threads, next to
//! the hand-rolled baselines a user would otherwise write.
//!
//! `cargo bench --bench lifecycle`

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use divan::Bencher;
use iris::ThreadContainer;

fn main() {
    divan::main();
}

const SIZES: &[usize] = &[10, 100, 1000];

#[divan::bench]
fn spawn_join_std() {
    std::thread::spawn(|| divan::black_box(1)).join().unwrap();
}

#[divan::bench]
fn spawn_join_managed(bencher: Bencher) {
    let container = ThreadContainer::new("bench");
    bencher.bench_local(|| {
        container
            .spawn("t", |_stop| divan::black_box(1))
            .join()
            .unwrap()
    });
    container.stop(Duration::from_secs(5)).unwrap();
}

/// Iris: N managed threads blocked on their stop tokens, stopped and joined.
#[divan::bench(args = SIZES, sample_count = 10)]
fn stop_idle_iris(bencher: Bencher, n: usize) {
    bencher
        .with_inputs(|| {
            let container = ThreadContainer::new("bench");
            for _ in 0..n {
                container.spawn("idle", |stop| stop.wait());
            }
            container
        })
        .bench_local_values(|container| container.stop(Duration::from_secs(30)).unwrap());
}

/// What people write: one shared Mutex + Condvar flag, notify_all, join all.
#[divan::bench(args = SIZES, sample_count = 10)]
fn stop_idle_shared_condvar(bencher: Bencher, n: usize) {
    bencher
        .with_inputs(|| {
            let flag = Arc::new((Mutex::new(false), Condvar::new()));
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        let (lock, cv) = &*flag;
                        let mut stopped = lock.lock().unwrap();
                        while !*stopped {
                            stopped = cv.wait(stopped).unwrap();
                        }
                    })
                })
                .collect();
            (flag, handles)
        })
        .bench_local_values(|(flag, handles)| {
            *flag.0.lock().unwrap() = true;
            flag.1.notify_all();
            for h in handles {
                h.join().unwrap();
            }
        });
}

/// The floor: one flag per thread, park/unpark, join all.
#[divan::bench(args = SIZES, sample_count = 10)]
fn stop_idle_park_floor(bencher: Bencher, n: usize) {
    bencher
        .with_inputs(|| {
            (0..n)
                .map(|_| {
                    let flag = Arc::new(AtomicBool::new(false));
                    let f = flag.clone();
                    let h = std::thread::spawn(move || {
                        while !f.load(Ordering::Acquire) {
                            std::thread::park();
                        }
                    });
                    (flag, h)
                })
                .collect::<Vec<_>>()
        })
        .bench_local_values(|threads| {
            for (flag, h) in &threads {
                flag.store(true, Ordering::Release);
                h.thread().unpark();
            }
            for (_, h) in threads {
                h.join().unwrap();
            }
        });
}
