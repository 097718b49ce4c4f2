//! What thread tracking costs (feature `thread-tracking`): spawn + join with the
//! tracker on and off in one binary, the teardown check with 100 threads in the
//! process, and a symbolized report of 10 leaked threads in a fresh process.
//!
//! `cargo bench --features thread-tracking --bench tracking`

mod support;

use divan::Bencher;

fn main() {
    if std::env::var_os("IRIS_BENCH_REPORT_CHILD").is_some() {
        let took = support::tracked_report_of_leaks(10);
        println!("report-micros={}", took.as_micros());
        return;
    }
    divan::main();
}

#[divan::bench(args = [false, true])]
fn spawn_join_in_a_test(bencher: Bencher, tracking: bool) {
    bencher.bench_local(|| support::tracked_spawn_join(1, tracking));
}

#[divan::bench]
fn teardown_with_100_threads_in_the_process(bencher: Bencher) {
    let _idle = support::IdleThreads::new(100);
    bencher.bench_local(support::tracked_teardown_once);
}
