//! What capturing a child's output costs: the same child writing 1,000,000 short
//! lines to /dev/null, to a pipe that is only drained (the floor), and captured by
//! Iris.
//!
//! `cargo bench --bench process` (`IRIS_BENCH_QUICK=1` for fewer rounds;
//! `IRIS_BENCH_ONLY=drained|captured` to profile one side alone).
// Child processes through sh and /dev/null: measured on unix; elsewhere it compiles and says so.
#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

mod support;

use std::time::Duration;

#[cfg(not(unix))]
fn main() {
    println!("this measures child processes through sh: run it on a unix");
}

#[cfg(unix)]
fn main() {
    let rounds = if std::env::var_os("IRIS_BENCH_QUICK").is_some() {
        3
    } else {
        7
    };
    println!(
        "child writing {} short lines, median of {rounds} runs\n",
        support::CHATTY_LINES
    );
    for (label, script) in support::chatty_children() {
        if let Ok(only) = std::env::var("IRIS_BENCH_ONLY") {
            let samples = support::sample(rounds, || {
                if only == "drained" {
                    support::drained(&script)
                } else {
                    support::captured(&script)
                }
            });
            println!("{label}: {only} {:.1} ms", samples.millis(0.5));
            continue;
        }
        let null = support::sample(rounds, || support::to_dev_null(&script)).p50();
        let drained = support::sample(rounds, || support::drained(&script)).p50();
        let captured = support::sample(rounds, || support::captured(&script)).p50();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!("{label}");
        println!("  to /dev/null:       {:>8.1} ms", ms(null));
        println!(
            "  to a pipe, drained: {:>8.1} ms   ratio {:.2} (the floor for any capture)",
            ms(drained),
            ms(drained) / ms(null)
        );
        println!(
            "  captured by Iris:   {:>8.1} ms   ratio {:.2} (target <= 1.5)\n",
            ms(captured),
            ms(captured) / ms(null)
        );
    }
}
