//! Chaos for a test: whether it runs under schedule chaos, with which seed, and the
//! seed of each iteration of a stress run. The perturbations themselves are
//! tracking's (`tracking/chaos.rs`): they need to know which test a thread works for.
//!
//! Invariants:
//! 1. `IRIS_CHAOS` wins over the test's own option; a bad value is one line at once
//!    and the test's own option stands.
//! 2. An iteration's seed is a function of the base seed, the test's name, the
//!    iteration and nextest's stress index and attempt (where set): one printed base
//!    seed and the iteration say every decision Iris made.
//! 3. `IRIS_CHAOS=on` draws one base seed for the process and says it once.

use std::fmt;
use std::sync::OnceLock;

use crate::leaks::output;
use crate::tracking::chaos::mix;

/// Whether a test runs under schedule chaos: Iris holds the test's own threads back
/// at random, from a seed, where schedules decide outcomes (a thread's start, its
/// creator's next step, a sleep, an async body's poll), so that a test that passes
/// by luck fails within a stress run. Neighbour tests and process-wide pools run
/// at normal speed.
///
/// Set with [`TestOptions::chaos`](crate::TestOptions::chaos),
/// `#[iris_test(chaos = true)]` or `chaos = "0x5eed"`, or for a whole run with
/// `IRIS_CHAOS=on` or `IRIS_CHAOS=0x5eed` (which wins over the test's own).
///
/// # Examples
///
/// ```
/// use iris::Chaos;
///
/// assert_eq!("0x5eed".parse::<Chaos>(), Ok(Chaos::Seed(0x5eed)));
/// assert_eq!("24301".parse::<Chaos>(), Ok(Chaos::Seed(24301)));
/// assert_eq!("on".parse::<Chaos>(), Ok(Chaos::On));
/// assert_eq!(Chaos::from(true), Chaos::On);
/// assert!("0".parse::<Chaos>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chaos {
    /// No chaos (the default).
    Off,
    /// Chaos with a fresh seed for the process, printed once.
    On,
    /// Chaos with this seed (not zero).
    Seed(u64),
}

impl From<bool> for Chaos {
    fn from(on: bool) -> Chaos {
        if on {
            Chaos::On
        } else {
            Chaos::Off
        }
    }
}

impl From<u64> for Chaos {
    fn from(seed: u64) -> Chaos {
        Chaos::Seed(seed)
    }
}

impl std::str::FromStr for Chaos {
    type Err = String;

    /// `on`, `off`, or a seed: a whole number, decimal or `0x` hex, not zero.
    fn from_str(text: &str) -> Result<Chaos, String> {
        let text = text.trim();
        match text.to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" => return Ok(Chaos::On),
            "off" | "false" | "no" => return Ok(Chaos::Off),
            _ => {}
        }
        let seed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => text.parse::<u64>(),
        };
        match seed {
            Ok(0) => Err("0 is no seed: write `on` for a fresh one, or another number".into()),
            Ok(seed) => Ok(Chaos::Seed(seed)),
            Err(_) => Err(
                "chaos is `on`, `off` or a seed (a whole number below 2^64, decimal or 0x hex)"
                    .into(),
            ),
        }
    }
}

impl fmt::Display for Chaos {
    /// As `IRIS_CHAOS` reads it back: `off`, `on`, `0x5eed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chaos::Off => write!(f, "off"),
            Chaos::On => write!(f, "on"),
            Chaos::Seed(seed) => write!(f, "{seed:#x}"),
        }
    }
}

/// `IRIS_CHAOS`, read once (`None`: unset; a bad value is one line at once). Unset
/// under nextest's profile named `chaos` (`NEXTEST_PROFILE=chaos`, which
/// `.config/nextest.toml` ships), it is `on`: nextest cannot set a variable for a
/// profile.
pub(crate) fn env_chaos() -> Option<Chaos> {
    static CHAOS: OnceLock<Option<Chaos>> = OnceLock::new();
    *CHAOS.get_or_init(|| {
        if std::env::var_os("IRIS_CHAOS").is_none() {
            let profile = std::env::var("NEXTEST_PROFILE");
            return profile.is_ok_and(|p| p == "chaos").then_some(Chaos::On);
        }
        output::parsed_knob("IRIS_CHAOS", "running each test as its options say")
    })
}

/// The base seed a test runs under, if any: `IRIS_CHAOS`, else the test's own;
/// `on` is the process's drawn seed (invariant 3).
pub(crate) fn base_seed(own: Option<Chaos>) -> Option<u64> {
    match env_chaos().or(own)? {
        Chaos::Off => None,
        Chaos::Seed(seed) => Some(seed),
        Chaos::On => Some(drawn_seed()),
    }
}

/// One fresh seed for the process, said once.
fn drawn_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = mix(now ^ mix(u64::from(std::process::id()))).max(1);
        output::note_once(
            "chaos seed",
            &format!("iris: schedule chaos with seed {seed:#x} (IRIS_CHAOS={seed:#x} repeats Iris's decisions)"),
        );
        seed
    })
}

/// The seed of iteration `iteration` of test `name` under base seed `base`
/// (invariant 2).
pub(crate) fn iteration_seed(base: u64, name: &str, iteration: u32) -> u64 {
    let from_env = |key: &str| nextest_number(key).unwrap_or(0);
    // FNV-1a of the name: stable across processes and builds, unlike std's hasher.
    let named = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut seed = mix(base ^ named);
    for part in [
        u64::from(iteration),
        from_env("NEXTEST_STRESS_CURRENT"),
        // A retry (attempt 2 on) is another run; the first attempt is as cargo test's.
        from_env("NEXTEST_ATTEMPT").saturating_sub(1),
    ] {
        seed = mix(seed ^ part);
    }
    seed
}

thread_local! {
    /// What chaos did in the last test this thread ran, for a stress run's words.
    static LAST: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Keeps what chaos did in the test this thread just ran.
pub(crate) fn keep_last(done: Vec<String>) {
    let _ = LAST.try_with(|last| *last.borrow_mut() = done);
}

/// Takes what [`keep_last`] kept.
pub(crate) fn take_last() -> Vec<String> {
    LAST.try_with(|last| std::mem::take(&mut *last.borrow_mut()))
        .unwrap_or_default()
}

/// A number nextest sets (`NEXTEST_STRESS_CURRENT`, `NEXTEST_ATTEMPT`), when it is
/// one (`none` outside a stress run).
pub(crate) fn nextest_number(key: &str) -> Option<u64> {
    std::env::var(key).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iris_chaos_takes_on_off_or_a_seed_and_says_what_is_wrong() {
        assert_eq!("0x5EED".parse(), Ok(Chaos::Seed(0x5eed)));
        assert_eq!(" 42 ".parse(), Ok(Chaos::Seed(42)));
        assert_eq!("ON".parse(), Ok(Chaos::On));
        assert_eq!("off".parse(), Ok(Chaos::Off));
        assert_eq!(
            "18446744073709551615".parse(),
            Ok(Chaos::Seed(u64::MAX)),
            "the largest seed"
        );
        for (text, says) in [
            ("0", "0 is no seed"),
            ("0x0", "0 is no seed"),
            ("-1", "a whole number below 2^64"),
            ("garbage", "a whole number below 2^64"),
            ("18446744073709551616", "a whole number below 2^64"),
            ("0xZZ", "a whole number below 2^64"),
        ] {
            let error = text.parse::<Chaos>().expect_err(text);
            assert!(error.contains(says), "{text}: {error}");
        }
        for chaos in [Chaos::Off, Chaos::On, Chaos::Seed(0x5eed)] {
            assert_eq!(chaos.to_string().parse(), Ok(chaos));
        }
    }

    #[test]
    fn an_iterations_seed_depends_on_the_base_the_test_and_the_iteration() {
        let seed = iteration_seed(0x5eed, "cache::fills_once", 7);
        assert_eq!(seed, iteration_seed(0x5eed, "cache::fills_once", 7));
        assert_ne!(seed, iteration_seed(0x5eee, "cache::fills_once", 7));
        assert_ne!(seed, iteration_seed(0x5eed, "cache::fills_twice", 7));
        assert_ne!(seed, iteration_seed(0x5eed, "cache::fills_once", 8));
    }
}
