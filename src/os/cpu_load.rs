//! How busy the machine's CPUs are right now, from `/proc/loadavg`.
//!
//! Invariants:
//! - One short read of a small file; `None` wherever it cannot be read or parsed
//!   (not Linux, no `/proc`): callers then keep their default.

/// How many threads are runnable right now besides the caller, and how many CPUs
/// this process may use: `(runnable others, cpus)`.
pub(crate) fn runnable_and_cpus() -> Option<(usize, usize)> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let runnable = parse_runnable(&text)?;
    let cpus = std::thread::available_parallelism().ok()?.get();
    // The count includes the reading thread itself.
    Some((runnable.saturating_sub(1), cpus))
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
        let (_, cpus) = runnable_and_cpus().expect("/proc/loadavg on Linux");
        assert!(cpus >= 1);
    }
}
