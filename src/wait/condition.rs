//! Waiting without sleeps: [`wait_for_condition`], the [`Wait`] builder and the
//! [`assert_eventually!`](crate::assert_eventually) family.
//!
//! Invariants:
//! - The condition is checked at once, then after pauses proportional to the time
//!   already waited ([`Backoff`]: 5% of it, from 50 µs up to 10 ms), so a condition
//!   that turns true early is seen within microseconds and a long wait costs at most
//!   ~100 checks a second.
//! - The deadline is on the monotonic clock; the last pause is clipped to it and the
//!   condition is checked once more at the deadline. So a wait never overshoots its
//!   deadline by more than one check, and `Duration::ZERO` checks exactly once.
//! - Errors say what was awaited, for how long, how many checks were made, the last
//!   value seen, and where the wait was written (`#[track_caller]`).

use std::fmt;
use std::ops::ControlFlow;
use std::panic::Location;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::os::runner;
use crate::sync::deadline::Deadline;

/// The default timeout of [`Wait::new`] and the one-argument assertion macros,
/// before [`IRIS_TIMEOUT_SCALE`](timeout_scale) is applied.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(5);

const FIRST_PAUSE: Duration = Duration::from_micros(50);
const MAX_PAUSE: Duration = Duration::from_millis(10);

/// The pause schedule of a polling wait: about 5% of the time already waited,
/// between a floor and a cap.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    started: Instant,
    floor: Duration,
    cap: Duration,
}

impl Backoff {
    pub(crate) fn new(floor: Duration, cap: Duration) -> Backoff {
        Backoff {
            started: Instant::now(),
            floor,
            cap: cap.max(floor),
        }
    }

    pub(crate) fn default_schedule() -> Backoff {
        Backoff::new(FIRST_PAUSE, MAX_PAUSE)
    }

    /// The next pause: 1/20 of the time waited so far, clamped to `[floor, cap]`.
    pub(crate) fn next_pause(&self) -> Duration {
        (self.started.elapsed() / 20).clamp(self.floor, self.cap)
    }
}

/// How a [`Wait`] paces its checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polling {
    /// 5% of the time waited so far, from 50 µs up to 10 ms (the default).
    Backoff,
    /// A fixed interval (a zero interval is raised to 1 µs: no busy loop).
    Every(Duration),
}

/// The factor applied to default timeouts, read once from the environment variable
/// `IRIS_TIMEOUT_SCALE` (a number from 0.01 to 1000, e.g. `3` or `2.5`; default 1).
/// Set it on slow CI machines instead of raising timeouts in the code. A value that
/// does not parse, or would turn every wait into nothing or into no limit at all
/// (`0`, `-1`, `NaN`, `inf`, `1e-320`), is ignored with a warning on stderr, once.
pub fn timeout_scale() -> f64 {
    static SCALE: OnceLock<f64> = OnceLock::new();
    *SCALE.get_or_init(|| match std::env::var("IRIS_TIMEOUT_SCALE") {
        Err(_) => 1.0,
        Ok(text) => parse_scale(&text).unwrap_or_else(|why| {
            runner::bad_knob("IRIS_TIMEOUT_SCALE", &text, &why, "using 1");
            1.0
        }),
    })
}

/// The scales `IRIS_TIMEOUT_SCALE` accepts: enough to matter, never so small that a
/// 5 s default becomes under 50 ms, never so large that it means "no limit".
const SCALES: std::ops::RangeInclusive<f64> = 0.01..=1000.0;

fn parse_scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text
        .trim()
        .parse()
        .map_err(|_| "not a number".to_string())?;
    if SCALES.contains(&scale) {
        Ok(scale)
    } else {
        Err(format!(
            "must be from {} to {} (a factor applied to default timeouts)",
            SCALES.start(),
            SCALES.end()
        ))
    }
}

/// `timeout` multiplied by [`timeout_scale`], saturating; `Duration::MAX` (no limit)
/// stays `Duration::MAX`.
///
/// ```
/// use std::time::Duration;
/// assert!(iris::scaled(Duration::from_secs(1)) >= Duration::from_millis(1));
/// assert_eq!(iris::scaled(Duration::MAX), Duration::MAX);
/// ```
pub fn scaled(timeout: Duration) -> Duration {
    let scale = timeout_scale();
    // `Duration::MAX` means "no limit", whatever the scale.
    if scale == 1.0 || timeout == Duration::MAX {
        return timeout;
    }
    Duration::try_from_secs_f64(timeout.as_secs_f64() * scale).unwrap_or(Duration::MAX)
}

/// Waits until `condition` returns `true`, checking at once and then at a backoff
/// interval (about 5% of the time waited so far, from 50 µs up to 10 ms), and gives
/// up after `timeout`.
///
/// Use it in tests and tools wherever you would have written `thread::sleep` and
/// hoped: it returns the moment the condition holds. Do not use it where an event
/// can be waited on directly (a [`StopToken`](crate::StopToken), a channel, a
/// `SentinelFile` (feature `sentinel`)): those wake without polling at all.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use iris::wait_for_condition;
///
/// let ready = Arc::new(AtomicBool::new(false));
/// let flag = ready.clone();
/// std::thread::spawn(move || flag.store(true, Ordering::SeqCst));
/// wait_for_condition(|| ready.load(Ordering::SeqCst), Duration::from_secs(5)).unwrap();
///
/// let error = wait_for_condition(|| false, Duration::from_millis(10)).unwrap_err();
/// assert!(error.to_string().contains("did not become true within 10ms"));
/// ```
///
#[cfg_attr(
    feature = "tokio",
    doc = "In async code, use [`wait_for_condition_async`] (cargo feature `tokio`)."
)]
#[cfg_attr(
    not(feature = "tokio"),
    doc = "In async code, use `wait_for_condition_async` (cargo feature `tokio`)."
)]
#[track_caller]
pub fn wait_for_condition(
    mut condition: impl FnMut() -> bool,
    timeout: Duration,
) -> Result<(), WaitTimeout> {
    Wait::new()
        .timeout(timeout)
        .until_some(|| condition().then_some(()))
}

/// [`wait_for_condition`] for async code (cargo feature `tokio`): the same checks,
/// backoff and error, but it never blocks a runtime thread, so a current-thread
/// runtime keeps running other tasks while it waits. Needs the runtime's timer
/// (`enable_time`, on in every test runtime).
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use iris::wait_for_condition_async;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let ready = Arc::new(AtomicBool::new(false));
/// let flag = ready.clone();
/// tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
/// wait_for_condition_async(|| ready.load(Ordering::SeqCst), Duration::from_secs(5))
///     .await
///     .unwrap();
/// # });
/// ```
///
/// # Cancel safety
/// Cancel safe: dropping the future just stops checking.
#[cfg(feature = "tokio")]
#[track_caller]
pub fn wait_for_condition_async(
    condition: impl FnMut() -> bool,
    timeout: Duration,
) -> impl std::future::Future<Output = Result<(), WaitTimeout>> {
    Wait::new().timeout(timeout).until_async(condition)
}

/// A configurable wait: what is awaited, for how long, how often to look.
///
/// ```
/// use std::time::Duration;
/// use iris::Wait;
///
/// let mut attempts = 0;
/// let port = Wait::new()
///     .describe("the server to publish its port")
///     .timeout(Duration::from_secs(5))
///     .until_ok(|| {
///         attempts += 1;
///         if attempts < 3 { Err("not listening yet") } else { Ok(8080) }
///     })
///     .unwrap();
/// assert_eq!(port, 8080);
///
/// // The "must keep holding" form.
/// Wait::new().describe("no error logged").holds_for(Duration::from_millis(20), || true).unwrap();
/// ```
#[derive(Clone, Debug)]
#[must_use = "a Wait does nothing until one of its `until` methods is called"]
pub struct Wait {
    description: Option<String>,
    timeout: Duration,
    polling: Polling,
}

impl Default for Wait {
    fn default() -> Self {
        Wait::new()
    }
}

impl Wait {
    /// A wait with the default timeout ([`DEFAULT_WAIT_TIMEOUT`], scaled by
    /// `IRIS_TIMEOUT_SCALE`) and backoff polling.
    pub fn new() -> Wait {
        Wait {
            description: None,
            timeout: scaled(DEFAULT_WAIT_TIMEOUT),
            polling: Polling::Backoff,
        }
    }

    /// What is awaited, for the error message ("the cache to be warm").
    pub fn describe(mut self, description: impl Into<String>) -> Wait {
        self.description = Some(description.into());
        self
    }

    /// Gives up after `timeout` (exactly as given: no scaling).
    pub fn timeout(mut self, timeout: Duration) -> Wait {
        self.timeout = timeout;
        self
    }

    /// How to pace the checks.
    pub fn polling(mut self, polling: Polling) -> Wait {
        self.polling = polling;
        self
    }

    /// Waits until `condition` returns `true`.
    #[track_caller]
    pub fn until(self, mut condition: impl FnMut() -> bool) -> Result<(), WaitTimeout> {
        self.until_some(|| condition().then_some(()))
    }

    /// Waits until `probe` returns `Some`, and returns what it held.
    #[track_caller]
    pub fn until_some<T>(self, mut probe: impl FnMut() -> Option<T>) -> Result<T, WaitTimeout> {
        let location = Location::caller();
        self.poll(location, || probe().ok_or(()))
            .map_err(|(timeout, ())| timeout)
    }

    /// Waits until `probe` returns `Ok`, and returns its value. On timeout, the error
    /// carries the `Display` of the last `Err`.
    #[track_caller]
    pub fn until_ok<T, E: fmt::Display>(
        self,
        probe: impl FnMut() -> Result<T, E>,
    ) -> Result<T, WaitTimeout> {
        let location = Location::caller();
        self.poll(location, probe).map_err(|(mut timeout, last)| {
            timeout.last = Some(last.to_string());
            timeout
        })
    }

    /// The polling loop behind every `until` form; returns the last error unformatted,
    /// so a failing check costs no allocation.
    fn poll<T, E>(
        self,
        location: &'static Location<'static>,
        mut probe: impl FnMut() -> Result<T, E>,
    ) -> Result<T, (WaitTimeout, E)> {
        let mut attempts = Attempts::new(self, location);
        loop {
            match attempts.check(probe()) {
                ControlFlow::Break(result) => return result,
                ControlFlow::Continue(pause) => std::thread::sleep(pause), // the polling pause, clipped to the deadline
            }
        }
    }

    /// [`until`](Self::until) for async code: the same checks, pauses and error, but
    /// the pauses are `tokio::time::sleep`s, so a current-thread runtime keeps running
    /// its other tasks meanwhile (cargo feature `tokio`; needs the runtime's timer).
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future just stops checking.
    #[cfg(feature = "tokio")]
    #[track_caller]
    pub fn until_async(
        self,
        mut condition: impl FnMut() -> bool,
    ) -> impl std::future::Future<Output = Result<(), WaitTimeout>> {
        let location = Location::caller();
        async move {
            let mut attempts = Attempts::new(self, location);
            loop {
                match attempts.check(if condition() { Ok(()) } else { Err(()) }) {
                    ControlFlow::Break(result) => return result.map_err(|(timeout, ())| timeout),
                    ControlFlow::Continue(pause) => tokio::time::sleep(pause).await,
                }
            }
        }
    }

    /// Checks that `condition` stays `true` for `duration` (Gomega's
    /// `Consistently`), failing at the first check where it does not. The wait's own
    /// timeout is not used: `duration` is how long to watch.
    #[track_caller]
    pub fn holds_for(
        self,
        duration: Duration,
        mut condition: impl FnMut() -> bool,
    ) -> Result<(), ConditionBroke> {
        let location = Location::caller();
        let started = Instant::now();
        let deadline = Deadline::after(duration);
        let backoff = Backoff::default_schedule();
        let mut checks = 0u64;
        loop {
            checks += 1;
            if !condition() {
                return Err(ConditionBroke {
                    description: self.description,
                    duration,
                    after: started.elapsed(),
                    checks,
                    location,
                });
            }
            if deadline.is_expired() {
                return Ok(());
            }
            deadline.sleep_at_most(self.pause(&backoff));
        }
    }

    fn pause(&self, backoff: &Backoff) -> Duration {
        match self.polling {
            Polling::Backoff => backoff.next_pause(),
            Polling::Every(interval) => interval.max(Duration::from_micros(1)),
        }
    }
}

/// One wait's bookkeeping, shared by the blocking and the async loops: each check's
/// result either ends the wait or says how long to pause before the next one (clipped
/// to the deadline; zero pauses never happen, the deadline ends the wait first).
struct Attempts {
    wait: Wait,
    location: &'static Location<'static>,
    started: Instant,
    deadline: Deadline,
    backoff: Backoff,
    checks: u64,
}

impl Attempts {
    fn new(wait: Wait, location: &'static Location<'static>) -> Attempts {
        Attempts {
            deadline: Deadline::after(wait.timeout),
            wait,
            location,
            started: Instant::now(),
            backoff: Backoff::default_schedule(),
            checks: 0,
        }
    }

    #[allow(clippy::type_complexity)]
    fn check<T, E>(
        &mut self,
        outcome: Result<T, E>,
    ) -> ControlFlow<Result<T, (WaitTimeout, E)>, Duration> {
        self.checks += 1;
        let last = match outcome {
            Ok(value) => return ControlFlow::Break(Ok(value)),
            Err(error) => error,
        };
        let pause = self.wait.pause(&self.backoff);
        match self.deadline.remaining() {
            Some(left) if left.is_zero() => ControlFlow::Break(Err((
                WaitTimeout {
                    description: self.wait.description.take(),
                    timeout: self.wait.timeout,
                    elapsed: self.started.elapsed(),
                    checks: self.checks,
                    last: None,
                    location: self.location,
                },
                last,
            ))),
            Some(left) => ControlFlow::Continue(pause.min(left)),
            None => ControlFlow::Continue(pause),
        }
    }
}

/// A condition that did not become true in time. Its `Display` says what was
/// awaited, the timeout, the time actually waited, how many checks were made, the
/// last error (for [`Wait::until_ok`]) and where the wait was written.
#[derive(Clone)]
pub struct WaitTimeout {
    description: Option<String>,
    timeout: Duration,
    elapsed: Duration,
    checks: u64,
    last: Option<String>,
    location: &'static Location<'static>,
}

impl WaitTimeout {
    /// How long the wait actually took.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// How many times the condition was checked.
    pub fn checks(&self) -> u64 {
        self.checks
    }

    /// The `Display` of the last error, for [`Wait::until_ok`].
    pub fn last_error(&self) -> Option<&str> {
        self.last.as_deref()
    }

    /// Where the wait was written.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }
}

/// The start of a wait's failure message: its description, or "condition".
fn write_subject(f: &mut fmt::Formatter<'_>, description: Option<&str>) -> fmt::Result {
    match description {
        Some(d) => write!(f, "{d}: "),
        None => f.write_str("condition "),
    }
}

impl fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_subject(f, self.description.as_deref())?;
        write!(
            f,
            "did not become true within {:?} (waited {:.1?}, {} check(s)) at {}",
            self.timeout, self.elapsed, self.checks, self.location
        )?;
        if let Some(last) = &self.last {
            write!(f, "; last error: {last}")?;
        }
        Ok(())
    }
}

impl std::error::Error for WaitTimeout {}

// `expect`, `unwrap` and `?` print the message, not a struct.
debug_as_display!(WaitTimeout);

/// A condition that stopped holding during [`Wait::holds_for`].
#[derive(Clone)]
pub struct ConditionBroke {
    description: Option<String>,
    duration: Duration,
    after: Duration,
    checks: u64,
    location: &'static Location<'static>,
}

impl ConditionBroke {
    /// How long the condition held before it broke.
    pub fn after(&self) -> Duration {
        self.after
    }
}

impl fmt::Display for ConditionBroke {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_subject(f, self.description.as_deref())?;
        write!(
            f,
            "stopped holding after {:.1?} of the required {:?} (check {}) at {}",
            self.after, self.duration, self.checks, self.location
        )
    }
}

impl std::error::Error for ConditionBroke {}

// `expect`, `unwrap` and `?` print the message, not a struct.
debug_as_display!(ConditionBroke);

/// Panics unless `condition` becomes true within the timeout (default: 5 s, scaled
/// by `IRIS_TIMEOUT_SCALE`; an explicit timeout is scaled too, since this is a test
/// assertion). The message quotes the expression.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::time::Duration;
///
/// let hits = AtomicUsize::new(0);
/// iris::assert_eventually!(hits.fetch_add(1, Ordering::SeqCst) >= 3);
/// iris::assert_eventually!(hits.load(Ordering::SeqCst) > 3, Duration::from_secs(1));
/// ```
#[macro_export]
macro_rules! assert_eventually {
    ($condition:expr $(,)?) => {
        $crate::assert_eventually!($condition, $crate::DEFAULT_WAIT_TIMEOUT)
    };
    ($condition:expr, $timeout:expr $(,)?) => {
        if let Err(error) = $crate::Wait::new()
            .describe(concat!("`", stringify!($condition), "`"))
            .timeout($crate::scaled($timeout))
            .until(|| $condition)
        {
            panic!("assertion failed: {}", error);
        }
    };
}

/// Panics if `condition` stops being true at any check during `duration` (the
/// holding-for-a-duration counterpart of [`assert_eventually!`]).
///
/// ```
/// use std::time::Duration;
/// let errors: Vec<String> = Vec::new();
/// iris::assert_always!(errors.is_empty(), Duration::from_millis(20));
/// ```
#[macro_export]
macro_rules! assert_always {
    ($condition:expr, $duration:expr $(,)?) => {
        if let Err(error) = $crate::Wait::new()
            .describe(concat!("`", stringify!($condition), "`"))
            .holds_for($duration, || $condition)
        {
            panic!("assertion failed: {}", error);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_scales_that_would_void_every_wait_are_refused() {
        assert_eq!(parse_scale("2.5"), Ok(2.5));
        assert_eq!(parse_scale(" 3 "), Ok(3.0));
        for bad in ["garbage", "-1", "0", "NaN", "inf", "1e-320", "1e300", ""] {
            let refused = parse_scale(bad);
            assert!(refused.is_err(), "{bad:?} gave {refused:?}");
        }
        assert!(parse_scale("0").unwrap_err().contains("from 0.01 to 1000"));
    }

    #[test]
    fn backoff_grows_with_elapsed_time_within_bounds() {
        let fresh = Backoff::default_schedule();
        assert_eq!(fresh.next_pause(), FIRST_PAUSE);
        let old = Backoff {
            started: Instant::now() - Duration::from_millis(20),
            ..fresh
        };
        let pause = old.next_pause();
        assert!(
            pause >= Duration::from_millis(1) && pause < Duration::from_millis(2),
            "{pause:?}"
        );
        let ancient = Backoff {
            started: Instant::now() - Duration::from_secs(60),
            ..fresh
        };
        assert_eq!(ancient.next_pause(), MAX_PAUSE);
    }

    #[test]
    fn zero_timeout_checks_exactly_once() {
        let mut checks = 0;
        let error = wait_for_condition(
            || {
                checks += 1;
                false
            },
            Duration::ZERO,
        )
        .unwrap_err();
        assert_eq!(checks, 1);
        assert_eq!(error.checks(), 1);
    }
}
