//! The thread-tracking figures of docs/benchmarks.md (issue 10), written to
//! docs/benchmarks/tracking.md, which `bench_report` carries into the report:
//!
//! `cargo run --release --features thread-tracking --example bench_tracking`
//!
//! Spawn + join with the tracker on and off are measured in alternating rounds in
//! this one binary; the report of 10 leaked threads runs in fresh child processes so
//! that each pays the first symbolization.

#[path = "../benches/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::time::Duration;

fn main() {
    if std::env::var_os("IRIS_BENCH_REPORT_CHILD").is_some() {
        let took = support::tracked_report_of_leaks(10);
        println!("report-micros={}", took.as_micros());
        return;
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;

    // 1. spawn + join in a test, tracker on and off, alternating rounds.
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        off.push(support::tracked_spawn_join(400, false));
        on.push(support::tracked_spawn_join(400, true));
    }
    let (on, off) = (median(on), median(off));
    let spawn_ratio = us(on) / us(off);

    // 2. the teardown check with 100 idle threads in the process.
    let teardown = median(
        (0..7)
            .map(|_| support::tracked_teardown(300, 100))
            .collect(),
    );

    // 3. a report of 10 leaked threads, each in a fresh process of a debug build
    // (tests run in one: the debug information read by the first symbolization is
    // what makes it slow).
    let built = std::process::Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--features",
            "thread-tracking",
            "--example",
            "bench_tracking",
        ])
        .status()
        .expect("cargo runs");
    assert!(built.success(), "the debug build of this example");
    let debug_binary = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/debug/examples/bench_tracking");
    let mut reports = Vec::new();
    for _ in 0..5 {
        let output = std::process::Command::new(&debug_binary)
            .env("IRIS_BENCH_REPORT_CHILD", "1")
            .output()
            .expect("the child runs");
        let text = String::from_utf8_lossy(&output.stdout);
        let micros: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("report-micros="))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "child said: {text}{}",
                    String::from_utf8_lossy(&output.stderr)
                )
            });
        reports.push(Duration::from_micros(micros));
    }
    let worst_report = *reports.iter().max().unwrap();
    let report = median(reports);

    let mut out = String::from("<!-- written by examples/bench_tracking.rs -->\n");
    out.push_str("| what | with tracking | baseline | ratio | target | met |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    let met = |ok: bool| if ok { "yes" } else { "**no**" };
    let _ = writeln!(
        out,
        "| 10. `std::thread::spawn` + `join` inside a test | {:.1} µs | tracker off, same binary: {:.1} µs | {spawn_ratio:.2} | <= 1.15x | {} |",
        us(on),
        us(off),
        met(spawn_ratio <= 1.15)
    );
    let _ = writeln!(
        out,
        "| 10. teardown check of an empty test, 100 other threads in the process | {:.0} µs | - | - | < 1 ms | {} |",
        us(teardown),
        met(teardown < Duration::from_millis(1))
    );
    let _ = writeln!(
        out,
        "| 10. report of 10 leaked threads (creation sites and live stacks, symbolized), fresh debug-build process | median {:.0} ms, worst {:.0} ms | - | - | < 1 s | {} |",
        report.as_secs_f64() * 1e3,
        worst_report.as_secs_f64() * 1e3,
        met(worst_report < Duration::from_secs(1))
    );
    std::fs::create_dir_all("docs/benchmarks").expect("docs/ is writable");
    std::fs::write("docs/benchmarks/tracking.md", &out).expect("docs/ is writable");
    print!("{out}");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
