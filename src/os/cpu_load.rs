//! How busy the machine's CPUs are right now, from `/proc/loadavg`.
//!
//! Invariants:
//! - One short read of a small file; `None` wherever it cannot be read or parsed
//!   (not Linux, no `/proc`): callers then keep their default.

/// Whether more than `per_cpu` threads per CPU this process may use are runnable
/// right now besides the caller; `None` when it cannot tell.
pub(crate) fn runnable_per_cpu_above(per_cpu: usize) -> Option<bool> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    // The count includes the reading thread itself.
    let others = parse_runnable(&text)?.saturating_sub(1);
    if others <= per_cpu {
        // Not above it on one CPU, so on none: the CPUs need not be counted (1,024
        // bits of the affinity mask, slow in a debug build, where tests run).
        return Some(false);
    }
    Some(others > per_cpu.saturating_mul(allowed_cpus()?))
}

/// How many CPUs the calling thread may run on: one system call (Linux), where
/// `available_parallelism` also reads three cgroup files (a CPU quota is not a
/// count of CPUs that can run a thread at once: the affinity is).
fn allowed_cpus() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        use nix::sched::{sched_getaffinity, CpuSet};
        use nix::unistd::Pid;
        let mask = sched_getaffinity(Pid::from_raw(0)).ok()?;
        let cpus = (0..CpuSet::count())
            .filter(|cpu| mask.is_set(*cpu).unwrap_or(false))
            .count();
        (cpus > 0).then_some(cpus)
    }
    #[cfg(not(target_os = "linux"))]
    {
        std::thread::available_parallelism().ok().map(|n| n.get())
    }
}

/// The fourth field of `/proc/loadavg` (`runnable/total`): the runnable count.
fn parse_runnable(text: &str) -> Option<usize> {
    let field = text.split_whitespace().nth(3)?;
    field.split_once('/')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runnable_count_is_the_fourth_fields_numerator() {
        assert_eq!(parse_runnable("0.52 0.58 0.59 3/456 12345\n"), Some(3));
        assert_eq!(parse_runnable("3.66 3.64 2.73 1/79 26110"), Some(1));
        assert_eq!(parse_runnable("0.52 0.58 0.59"), None);
        assert_eq!(parse_runnable("0.52 0.58 0.59 x/456 1"), None);
        assert_eq!(parse_runnable(""), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn it_reads_this_machine() {
        // Nothing is runnable beyond every bound; this thread alone is above none.
        assert_eq!(runnable_per_cpu_above(usize::MAX), Some(false));
        assert!(
            runnable_per_cpu_above(0).is_some(),
            "/proc/loadavg on Linux"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_cpu_count_is_the_affinity_masks() {
        // Without a CPU quota (as here and on CI) std's count is the mask's too.
        let std_count = std::thread::available_parallelism().unwrap().get();
        let quota = std::fs::read_to_string("/sys/fs/cgroup/cpu.max")
            .or_else(|_| std::fs::read_to_string("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"))
            .unwrap_or_default();
        let unlimited = quota.trim().is_empty() || quota.starts_with("max") || quota.trim() == "-1";
        let ours = allowed_cpus().expect("the affinity mask on Linux");
        assert!(ours >= 1);
        if unlimited {
            assert_eq!(ours, std_count);
        } else {
            assert!(ours >= std_count, "{ours} allowed, std says {std_count}");
        }
    }
}
