//! Wake latency and cost of waiting, next to the references a user would otherwise
//! have: a raw inotify wait (the floor) and polling loops at 10 ms and 100 ms.
//!
//! `cargo bench --bench waiting` (set `IRIS_BENCH_QUICK=1` for fewer rounds). Cross-
//! thread latencies are measured directly (signal on one thread, return on another)
//! and reported as percentiles; see docs/benchmarks.md.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iris::{wait_for_condition, SentinelFile};

fn main() {
    let quick = std::env::var_os("IRIS_BENCH_QUICK").is_some();
    let rounds = if quick { 40 } else { 200 };
    println!("waiting benchmarks ({rounds} rounds each; p50 / p99 of wake latency)\n");

    let floor = raw_inotify_floor(rounds);
    let iris = sentinel_like("iris SentinelFile", rounds, 0, |path| {
        SentinelFile::new(path)
            .wait(Duration::from_secs(10))
            .unwrap()
    });
    let poll10 = sentinel_like("poll every 10 ms", rounds.min(60), 10, |path| {
        poll_exists(path, 10)
    });
    let poll100 = sentinel_like("poll every 100 ms", rounds.min(20), 100, |path| {
        poll_exists(path, 100)
    });
    println!();
    println!(
        "sentinel / floor   p50 ratio: {:.2} (target <= 1.5)",
        iris.p50 / floor.p50
    );
    println!("poll10 / sentinel  p50 ratio: {:.1}", poll10.p50 / iris.p50);
    println!(
        "poll100 / sentinel p50 ratio: {:.1} (target >= 50)",
        poll100.p50 / iris.p50
    );

    let cpu = sentinel_cpu_per_second();
    println!(
        "\nCPU time of one 1 s wait on an unsignalled sentinel: {:.3} ms (target < 2 ms)",
        cpu * 1e3
    );

    println!();
    let cond = condition_latency("wait_for_condition (backoff)", rounds, |flag| {
        wait_for_condition(|| flag.load(Ordering::Acquire), Duration::from_secs(10)).unwrap()
    });
    let fixed = condition_latency("fixed 10 ms poll", rounds.min(60), |flag| {
        while !flag.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    println!(
        "fixed10 / wait_for_condition p50 ratio: {:.1} (target: iris p50 < 1 ms)",
        fixed.p50 / cond.p50
    );
}

/// Latency percentiles, in milliseconds.
#[derive(Clone, Copy)]
struct Summary {
    p50: f64,
}

fn summarize(label: &str, mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    println!(
        "{label:<32} p50 {:>8.3} ms   p99 {:>8.3} ms   ({} samples)",
        at(0.5),
        at(0.99),
        samples.len()
    );
    Summary { p50: at(0.5) }
}

/// Runs `wait(path)` on a thread, signals `path` from this one once the waiter is
/// parked (plus a random part of `poll_ms`, so a polling loop is caught at a random
/// phase), and measures from just before the file is created to the waiter's return.
fn sentinel_like(
    label: &str,
    rounds: usize,
    poll_ms: u64,
    wait: impl Fn(&Path) + Send + Sync + 'static,
) -> Summary {
    let mut random = XorShift::new();
    let wait = Arc::new(wait);
    let dir = tempfile::tempdir().unwrap();
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let path = dir.path().join(format!("s{round}"));
        let (p, w) = (path.clone(), wait.clone());
        let waiter = std::thread::spawn(move || {
            w(&p);
            Instant::now()
        });
        // A benchmark may pause: let the waiter get into its blocking wait, so the
        // figure is wake latency, not setup.
        std::thread::sleep(Duration::from_millis(3) + random.below(Duration::from_millis(poll_ms)));
        let signalled = Instant::now();
        std::fs::File::create(&path).unwrap();
        let woke = waiter.join().unwrap();
        samples.push(woke.saturating_duration_since(signalled));
    }
    summarize(label, samples)
}

/// The floor: one inotify instance kept open on the directory (as Iris keeps its
/// shared watcher), a thread blocked in `read` on it.
fn raw_inotify_floor(rounds: usize) -> Summary {
    use inotify::{Inotify, WatchMask};
    let dir = tempfile::tempdir().unwrap();
    let inotify = Inotify::init().unwrap();
    inotify
        .watches()
        .add(dir.path(), WatchMask::CREATE | WatchMask::MOVED_TO)
        .unwrap();
    let inotify = Arc::new(parking_lot::Mutex::new(inotify));
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let path = dir.path().join(format!("s{round}"));
        let (inotify, p) = (inotify.clone(), path.clone());
        let waiter = std::thread::spawn(move || {
            let mut inotify = inotify.lock();
            let mut buffer = [0u8; 4096];
            let name = p.file_name().unwrap().to_owned();
            loop {
                let events = inotify.read_events_blocking(&mut buffer).unwrap();
                if events.into_iter().any(|e| e.name == Some(name.as_os_str())) {
                    return Instant::now();
                }
            }
        });
        std::thread::sleep(Duration::from_millis(3));
        let signalled = Instant::now();
        std::fs::File::create(&path).unwrap();
        samples.push(waiter.join().unwrap().saturating_duration_since(signalled));
    }
    summarize("raw inotify (floor)", samples)
}

fn poll_exists(path: &Path, every_ms: u64) {
    while !path.exists() {
        std::thread::sleep(Duration::from_millis(every_ms));
    }
}

/// On-CPU nanoseconds of the calling thread, from the scheduler's own accounting.
fn thread_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

fn sentinel_cpu_per_second() -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let sentinel = SentinelFile::new(dir.path().join("never"));
    let _ = sentinel.wait(Duration::from_millis(5)); // start the shared watcher first
    let before = thread_cpu_ns();
    let _ = sentinel.wait(Duration::from_secs(1));
    (thread_cpu_ns() - before) as f64 / 1e9
}

/// Flips a flag at a random moment 10 to 40 ms into the wait and measures the time
/// from the flip to the waiter's return.
fn condition_latency(
    label: &str,
    rounds: usize,
    wait: impl Fn(&AtomicBool) + Send + Sync + 'static,
) -> Summary {
    let wait = Arc::new(wait);
    let mut random = XorShift::new();
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let delay = Duration::from_millis(10) + random.below(Duration::from_millis(30));
        let flag = Arc::new(AtomicBool::new(false));
        let (f, w) = (flag.clone(), wait.clone());
        let waiter = std::thread::spawn(move || {
            w(&f);
            Instant::now()
        });
        std::thread::sleep(delay);
        let flipped = Instant::now();
        flag.store(true, Ordering::Release);
        let woke = waiter.join().unwrap();
        samples.push(woke.saturating_duration_since(flipped));
    }
    summarize(label, samples)
}

/// A tiny deterministic random source (no dependency needed for jitter).
struct XorShift(u64);

impl XorShift {
    fn new() -> XorShift {
        XorShift(0x2545_f491_4f6c_dd1d)
    }

    /// A uniformly random duration in `[0, limit)` at microsecond resolution.
    fn below(&mut self, limit: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let micros = limit.as_micros() as u64;
        Duration::from_micros(if micros == 0 { 0 } else { self.0 % micros })
    }
}
