//! Wake latency and cost of waiting, next to the references a user would otherwise
//! have: a raw inotify wait (the floor) and polling loops at 10 ms and 100 ms.
//!
//! `cargo bench --bench waiting` (set `IRIS_BENCH_QUICK=1` for fewer rounds). Cross-
//! thread latencies are measured directly (signal on one thread, return on another)
//! and reported as percentiles; see docs/benchmarks.md.
// The floor is inotify: measured on Linux only; elsewhere it compiles and says so.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

mod support;

use support::{ConditionWaiter, Samples};

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("this measures Linux facilities (inotify, /proc): run it on Linux");
}

#[cfg(target_os = "linux")]
fn main() {
    let quick = std::env::var_os("IRIS_BENCH_QUICK").is_some();
    let rounds = if quick { 40 } else { 200 };
    println!("waiting benchmarks ({rounds} rounds each; p50 / p99 of wake latency)\n");

    let (floor, iris) = support::inotify_floor_and_sentinel(rounds);
    let floor = report("raw inotify (floor)", floor);
    let iris = report("iris SentinelFile", iris);
    let poll10 = report(
        "poll every 10 ms",
        support::polling_file_latency(rounds.min(60), 10),
    );
    let poll100 = report(
        "poll every 100 ms",
        support::polling_file_latency(rounds.min(20), 100),
    );
    println!();
    println!(
        "sentinel / floor   p50 ratio: {:.2} (target <= 1.5)",
        iris / floor
    );
    println!("poll10 / sentinel  p50 ratio: {:.1}", poll10 / iris);
    println!(
        "poll100 / sentinel p50 ratio: {:.1} (target >= 50)",
        poll100 / iris
    );

    let cpu = support::sentinel_cpu_per_second();
    println!(
        "\nCPU time of one 1 s wait on an unsignalled sentinel: {:.3} ms (target < 2 ms)",
        cpu.as_secs_f64() * 1e3
    );

    println!();
    let cond = report(
        "wait_for_condition (backoff)",
        support::condition_latency(rounds, ConditionWaiter::Iris),
    );
    let fixed10 = report(
        "fixed 10 ms poll",
        support::condition_latency(rounds.min(60), ConditionWaiter::FixedPoll(10)),
    );
    let fixed100 = report(
        "fixed 100 ms poll",
        support::condition_latency(rounds.min(20), ConditionWaiter::FixedPoll(100)),
    );
    println!(
        "fixed10 / wait_for_condition p50 ratio: {:.1} (target: iris p50 < 1 ms)",
        fixed10 / cond
    );
    println!(
        "fixed100 / wait_for_condition p50 ratio: {:.1}",
        fixed100 / cond
    );
    let (first, steady) = support::condition_check_rates();
    println!(
        "wait_for_condition checks: {first} in the first second, {steady:.0}/s after (cap 10 ms)"
    );
}

/// Prints p50/p99 and returns p50 in milliseconds.
fn report(label: &str, samples: Samples) -> f64 {
    println!(
        "{label:<32} p50 {:>8.3} ms   p99 {:>8.3} ms   ({} samples)",
        samples.millis(0.5),
        samples.millis(0.99),
        samples.0.len()
    );
    samples.millis(0.5)
}
