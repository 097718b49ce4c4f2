//! What capturing a child's output costs: the same child writing 1,000,000 short
//! lines, once captured by Iris and once writing to /dev/null.
//!
//! `cargo bench --bench process` (`IRIS_BENCH_QUICK=1` for fewer rounds).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use iris::{ProcessOptions, ThreadContainer};

const LINES: u32 = 1_000_000;

fn main() {
    let rounds = if std::env::var_os("IRIS_BENCH_QUICK").is_some() {
        3
    } else {
        7
    };
    println!("child writing {LINES} short lines, median of {rounds} runs\n");
    for (label, script) in [
        // A chatty child: one write per line, like a line-buffered logger.
        (
            "line-buffered child (awk, fflush per line)",
            format!("awk 'BEGIN {{ for (i = 0; i < {LINES}; i++) {{ print \"log line \" i; fflush() }} }}'"),
        ),
        // The worst case for a reader: the child writes 64 KiB blocks of lines.
        ("block-buffered child (yes | head)", format!("yes 'log line 0123456' | head -n {LINES}")),
    ] {
        // For profiling one side alone: IRIS_BENCH_ONLY=drained or =captured.
        if let Ok(only) = std::env::var("IRIS_BENCH_ONLY") {
            let took = median(rounds, || if only == "drained" { drained(&script) } else { captured(&script) });
            println!("{label}: {only} {:.1} ms", took.as_secs_f64() * 1e3);
            continue;
        }
        let null = median(rounds, || to_dev_null(&script));
        let drained = median(rounds, || drained(&script));
        let captured = median(rounds, || captured(&script));
        println!("{label}");
        println!("  to /dev/null:       {:>8.1} ms", null.as_secs_f64() * 1e3);
        println!(
            "  to a pipe, drained: {:>8.1} ms   ratio {:.2} (the floor for any capture)",
            drained.as_secs_f64() * 1e3,
            drained.as_secs_f64() / null.as_secs_f64()
        );
        println!(
            "  captured by Iris:   {:>8.1} ms   ratio {:.2} (target <= 1.5)\n",
            captured.as_secs_f64() * 1e3,
            captured.as_secs_f64() / null.as_secs_f64()
        );
    }
}

fn median(rounds: usize, mut run: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..rounds).map(|_| run()).collect();
    times.sort();
    times[times.len() / 2]
}

fn to_dev_null(script: &str) -> Duration {
    let started = Instant::now();
    let status = Command::new("sh")
        .args(["-c", script])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed()
}

/// A pipe read in 64 KiB chunks and thrown away: what capturing costs at the least.
fn drained(script: &str) -> Duration {
    use std::io::Read;
    let started = Instant::now();
    let mut child = Command::new("sh")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buffer = vec![0u8; 64 << 10];
    while stdout.read(&mut buffer).unwrap() > 0 {}
    assert!(child.wait().unwrap().success());
    started.elapsed()
}

/// Time until the child has exited and every line has been captured.
fn captured(script: &str) -> Duration {
    let app = ThreadContainer::new("bench");
    let mut command = Command::new("sh");
    command.args(["-c", script]);
    let started = Instant::now();
    let child = app
        .spawn_process_with("chatty", command, ProcessOptions::new().log_lines(false))
        .unwrap();
    let output = child.output(Duration::from_secs(120)).unwrap();
    let took = started.elapsed();
    assert!(output.success());
    assert_eq!(output.lines.last().unwrap().seq, u64::from(LINES) - 1);
    app.stop(Duration::from_secs(10)).unwrap();
    took
}
