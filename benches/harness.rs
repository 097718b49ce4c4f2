//! What `#[iris_test]` costs a test that leaks nothing, and what the leak snapshot
//! costs with many threads in the process.
//!
//! `cargo bench --bench harness`

mod support;

use divan::Bencher;
use iris::{get_thread_registry, TestOptions, TestScope};

fn main() {
    // Measure the full check, unmanaged-thread snapshot and diff included: it only
    // runs when a test owns its process, as under nextest.
    std::env::set_var("NEXTEST_EXECUTION_MODE", "process-per-test");
    divan::main();
}

/// Scope + snapshot + close of a test that spawns nothing.
#[divan::bench]
fn empty_test() {
    TestScope::begin(TestOptions::new("bench"))
        .finish()
        .unwrap();
}

/// The same for a test that spawns one managed thread and stops it.
#[divan::bench]
fn test_with_one_thread() {
    let scope = TestScope::begin(TestOptions::new("bench"));
    get_thread_registry().spawn("worker", |stop| stop.wait());
    scope.finish().unwrap();
}

/// Scope + two snapshots + diff with `n` idle threads already in the process.
#[divan::bench(args = [10, 1000, 10000], sample_count = 20)]
fn empty_test_with_threads_in_process(bencher: Bencher, n: usize) {
    let idle = support::IdleThreads::new(n);
    bencher.bench_local(|| {
        TestScope::begin(TestOptions::new("bench"))
            .finish()
            .unwrap()
    });
    drop(idle);
}
