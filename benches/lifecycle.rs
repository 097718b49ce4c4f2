//! Thread lifecycle costs: spawn + join, stop + join of N idle threads next to the
//! hand-rolled baselines a user would otherwise write, and stop of trees of
//! different depths.
//!
//! `cargo bench --bench lifecycle`

mod support;

use std::time::Duration;

use divan::Bencher;
use iris::ThreadContainer;
use support::{StopSet, Stopper};

fn main() {
    divan::main();
}

const SIZES: &[usize] = &[10, 100, 1000, 5000];

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

fn stop_idle(bencher: Bencher, stopper: Stopper, n: usize) {
    bencher
        .with_inputs(|| StopSet::new(stopper, n))
        .bench_local_values(StopSet::stop);
}

/// Iris: N managed threads blocked on their stop tokens, stopped and joined.
#[divan::bench(args = SIZES, sample_count = 10)]
fn stop_idle_iris(bencher: Bencher, n: usize) {
    stop_idle(bencher, Stopper::Iris, n);
}

/// What people write: one shared Mutex + Condvar flag, notify_all, join all.
#[divan::bench(args = SIZES, sample_count = 10)]
fn stop_idle_shared_condvar(bencher: Bencher, n: usize) {
    stop_idle(bencher, Stopper::SharedCondvar, n);
}

/// The floor: one flag per thread, park/unpark, join all.
#[divan::bench(args = SIZES, sample_count = 10)]
fn stop_idle_park_floor(bencher: Bencher, n: usize) {
    stop_idle(bencher, Stopper::ParkFloor, n);
}

/// 1,000 threads in a chain of `depth` nested containers.
#[divan::bench(args = [1, 10, 100], sample_count = 10)]
fn stop_tree_of_1000(bencher: Bencher, depth: usize) {
    bencher
        .with_inputs(|| support::tree(depth, 1000))
        .bench_local_values(|root| root.stop(Duration::from_secs(60)).unwrap());
}
