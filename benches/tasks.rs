//! Async costs (cargo feature `tokio`): a managed task's spawn + join next to
//! `tokio::spawn` + await, stopping idle managed tasks next to cancelling tasks
//! that wait on a tokio-util `CancellationToken`, and an empty `#[iris_test] async fn`
//! next to what `#[tokio::test]` expands to.
//!
//! `cargo bench --features tokio --bench tasks`

mod support;

use std::time::Duration;

use divan::Bencher;
use iris::{TestOptions, ThreadContainer};

fn main() {
    divan::main();
}

#[divan::bench]
fn spawn_join_tokio(bencher: Bencher) {
    let runtime = support::current_thread_runtime();
    bencher.bench_local(|| {
        runtime.block_on(async { tokio::spawn(async { divan::black_box(1) }).await.unwrap() })
    });
}

#[divan::bench]
fn spawn_join_managed_task(bencher: Bencher) {
    let runtime = support::current_thread_runtime();
    let container = ThreadContainer::new("bench");
    bencher.bench_local(|| {
        runtime.block_on(async {
            container
                .spawn_task("t", |_stop| async { divan::black_box(1) })
                .join()
                .await
                .unwrap()
        })
    });
    container.stop(Duration::from_secs(5)).unwrap();
}

#[divan::bench(args = [100, 1000], sample_count = 10)]
fn stop_idle_managed_tasks(bencher: Bencher, n: usize) {
    bencher.bench_local(|| support::stop_idle_tasks(n, 1).0.p50());
}

#[divan::bench(sample_count = 50)]
fn empty_async_test_iris(bencher: Bencher) {
    bencher.bench_local(|| {
        iris::run_async_test(TestOptions::new("bench"), async { divan::black_box(1) })
    });
}

#[divan::bench(sample_count = 50)]
fn empty_async_test_tokio(bencher: Bencher) {
    bencher
        .bench_local(|| support::current_thread_runtime().block_on(async { divan::black_box(1) }));
}

/// The same empty async test with blocking detection off: what the sampler costs.
#[divan::bench(sample_count = 50)]
fn empty_async_test_iris_without_blocking_check(bencher: Bencher) {
    bencher.bench_local(|| {
        iris::run_async_test(TestOptions::new("bench").blocking(None), async {
            divan::black_box(1)
        })
    });
}

/// A task that yields 10,000 times, with blocking detection on (the default) and off:
/// the park/unpark callbacks are on this path.
#[divan::bench(args = [true, false], sample_count = 20)]
fn yields_10000_times(bencher: Bencher, detection: bool) {
    bencher.bench_local(|| {
        let options = if detection {
            TestOptions::new("bench")
        } else {
            TestOptions::new("bench").blocking(None)
        };
        support::test_whose_task_yields_10000_times(options)
    });
}
