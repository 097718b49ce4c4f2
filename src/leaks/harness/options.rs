//! [`TestOptions`] and [`LeakPolicy`]: what a test asks of its scope, and the
//! environment variables that override it for a whole run (`IRIS_LEAKS`,
//! `IRIS_IGNORE_THREADS`).
//!
//! Invariants:
//! - Every environment variable is read once per process; a bad value is warned about
//!   once, on the real stderr, and ignored (never a silent default, never a panic).
//! - The options given in code are never mutated by the environment: the overrides
//!   are applied where the options are read ([`TestOptions::policy`],
//!   [`TestOptions::ignores`]).

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use crate::leaks::harness::chaos::Chaos;
use crate::leaks::harness::stress::Stress;
use crate::leaks::output;
use crate::text::glob::{glob_matches, split_globs};

/// What to do when a test leaks a thread or a background thread panicked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeakPolicy {
    /// Fail the test with the report (the default).
    Fail,
    /// Print the report to stderr and let the test pass.
    Warn,
    /// Do not check.
    Ignore,
}

impl FromStr for LeakPolicy {
    type Err = String;
    fn from_str(text: &str) -> Result<LeakPolicy, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "fail" => Ok(LeakPolicy::Fail),
            "warn" => Ok(LeakPolicy::Warn),
            "ignore" => Ok(LeakPolicy::Ignore),
            other => Err(format!(
                "unknown leak policy {other:?}: expected fail, warn or ignore"
            )),
        }
    }
}

/// The policy forced for the whole run by `IRIS_LEAKS`, if set (read once; a bad
/// value is reported on stderr and ignored).
fn policy_override() -> Option<LeakPolicy> {
    static OVERRIDE: OnceLock<Option<LeakPolicy>> = OnceLock::new();
    *OVERRIDE.get_or_init(|| env_policy("IRIS_LEAKS"))
}

/// A policy from the environment variable `variable` (`None`: unset; a bad value
/// is warned about and ignored).
fn env_policy(variable: &'static str) -> Option<LeakPolicy> {
    output::parsed_knob(variable, "using each test's own policy")
}

/// What runs the test's body, for a dump of where it is: an `async fn` between polls
/// has no stack on any thread, so its dump says so instead of showing the runtime's
/// wait as if it were the body's.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BodyKind {
    /// The body is an `async fn` run on the test's runtime.
    pub(crate) is_async: bool,
    /// Where the test's body is written (the harness's caller: `#[iris_test]` expands
    /// to a call at the body).
    pub(crate) written_at: Option<&'static std::panic::Location<'static>>,
}

/// Options of a [`TestScope`](crate::TestScope); the `#[iris_test]` options map onto these.
#[derive(Clone, Debug)]
pub struct TestOptions {
    pub(in crate::leaks) name: String,
    /// The name the test was given in code (`#[iris_test]` gives its function's
    /// path, `module_path!()::name`): the test's own frames on a creating stack.
    pub(in crate::leaks) given_name: String,
    pub(in crate::leaks) stop_timeout: Duration,
    pub(in crate::leaks) linger: Duration,
    pub(in crate::leaks) leaks: LeakPolicy,
    pub(in crate::leaks) timeout: Option<Duration>,
    pub(in crate::leaks) ignore_threads: Vec<String>,
    pub(in crate::leaks) ignore_tasks: Vec<String>,
    pub(in crate::leaks) owns_process: bool,
    pub(in crate::leaks) default_ignores: bool,
    pub(in crate::leaks) capture_logs: bool,
    pub(in crate::leaks) thread_panics: LeakPolicy,
    pub(in crate::leaks) teardown: LeakPolicy,
    pub(in crate::leaks) stress: Option<Stress>,
    pub(in crate::leaks) chaos: Option<Chaos>,
    /// The seed this run of the test is under, set by a stress run's loop for each
    /// iteration (`None`: the test's scope works it out, or no chaos).
    pub(in crate::leaks) chaos_seed: Option<u64>,
    /// Run through a stress run's loop (`#[iris_test]` on a test that can run again),
    /// even when it is one iteration.
    pub(in crate::leaks) repeatable: bool,
    pub(crate) body: BodyKind,
    #[cfg(feature = "tokio")]
    pub(crate) flavor: crate::tasks::runtime::Flavor,
    #[cfg(feature = "tokio")]
    pub(crate) worker_threads: Option<usize>,
    #[cfg(feature = "tokio")]
    pub(crate) start_paused: bool,
    /// `Some(None)`: off; `Some(Some(d))`: set to `d`; `None`: the default.
    #[cfg(feature = "tokio")]
    pub(crate) blocking: Option<Option<Duration>>,
    #[cfg(feature = "tokio")]
    pub(crate) task_panics: LeakPolicy,
}

impl TestOptions {
    /// Defaults: `stop_timeout` 5 s, `linger` 1 s, `leaks` fail, no `timeout`.
    ///
    /// `fallback_name` names the test when the running thread does not: the test
    /// harnesses name each test's thread after the test (including an rstest case's
    /// name), and that name is preferred.
    pub fn new(fallback_name: impl Into<String>) -> TestOptions {
        let fallback = fallback_name.into();
        let name = match std::thread::current().name() {
            Some(name) if name != "main" => name.to_string(),
            _ => fallback.clone(),
        };
        TestOptions {
            name,
            given_name: fallback,
            stop_timeout: Duration::from_secs(5),
            linger: Duration::from_secs(1),
            leaks: LeakPolicy::Fail,
            timeout: None,
            ignore_threads: Vec::new(),
            ignore_tasks: Vec::new(),
            owns_process: false,
            default_ignores: true,
            capture_logs: true,
            thread_panics: LeakPolicy::Fail,
            teardown: LeakPolicy::Ignore,
            stress: None,
            chaos: None,
            chaos_seed: None,
            repeatable: false,
            body: BodyKind::default(),
            #[cfg(feature = "tokio")]
            flavor: crate::tasks::runtime::Flavor::CurrentThread,
            #[cfg(feature = "tokio")]
            worker_threads: None,
            #[cfg(feature = "tokio")]
            start_paused: false,
            #[cfg(feature = "tokio")]
            blocking: None,
            #[cfg(feature = "tokio")]
            task_panics: LeakPolicy::Warn,
        }
    }

    /// Runs the test under stress: its body again and again in this process, each
    /// iteration in a fresh scope with the whole check, until one fails (and the test
    /// with it, with the line that runs it again) or `stress` is spent. A number of
    /// iterations or a time ([`Stress`]); `IRIS_STRESS` sets one for a whole run and
    /// wins over this. Only what `#[iris_test]` wraps is repeated, and only a test
    /// without parameters and without `should_panic`: its body can run again.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iris::TestOptions;
    ///
    /// let options = TestOptions::new("t").stress(200);
    /// let options = options.stress(Duration::from_secs(30));
    /// # let _ = options;
    /// ```
    pub fn stress(mut self, stress: impl Into<Stress>) -> TestOptions {
        self.stress = Some(stress.into());
        self
    }

    /// Runs the test under schedule chaos ([`Chaos`]): Iris holds the test's own
    /// threads back at random, from a seed, where schedules decide outcomes, so that a
    /// test that passes by luck fails within a stress run ([`stress`](Self::stress)).
    /// `true` draws a seed for the run (printed once); a number is the seed.
    /// `IRIS_CHAOS` (`on`, `off` or a seed) wins over this.
    ///
    /// ```
    /// use iris::TestOptions;
    ///
    /// let options = TestOptions::new("t").chaos(true).stress(200);
    /// let options = options.chaos(0x5eed_u64);
    /// # let _ = options;
    /// ```
    pub fn chaos(mut self, chaos: impl Into<Chaos>) -> TestOptions {
        self.chaos = Some(chaos.into());
        self
    }

    /// The chaos seed this run of the test is under: the one its stress run's loop
    /// set for this iteration, else its base seed's first iteration; `None` without
    /// chaos.
    pub(in crate::leaks) fn chaos_seed_for_this_run(&self) -> Option<u64> {
        self.chaos_seed.or_else(|| {
            crate::leaks::harness::chaos::base_seed(self.chaos)
                .map(|base| crate::leaks::harness::chaos::iteration_seed(base, self.name(), 1))
        })
    }

    /// Marks these options as a stress run's iteration (see `repeat.rs`).
    pub(in crate::leaks) fn repeatable(mut self) -> TestOptions {
        self.repeatable = true;
        self
    }

    /// How long the test's threads get to exit once stopped.
    pub fn stop_timeout(mut self, timeout: Duration) -> TestOptions {
        self.stop_timeout = timeout;
        self
    }

    /// How long threads born during the test get to disappear after it.
    pub fn linger(mut self, linger: Duration) -> TestOptions {
        self.linger = linger;
        self
    }

    /// What to do with findings (`IRIS_LEAKS` overrides it).
    pub fn leaks(mut self, policy: LeakPolicy) -> TestOptions {
        self.leaks = policy;
        self
    }

    /// A watchdog: past `timeout`, the test's live threads are dumped (and, under
    /// [`run_test_with_timeout`](crate::run_test_with_timeout), the test fails instead of hanging).
    pub fn timeout(mut self, timeout: Duration) -> TestOptions {
        self.timeout = Some(timeout);
        self
    }

    /// Threads not to report: a comma-separated list of globs (`*` any run of
    /// characters, `?` one character) matched against a leaked thread's name (its OS
    /// name, and for a managed thread also its full name). Write the whole name:
    /// Linux keeps only the first 15 bytes of an OS name, and a glob that begins with
    /// text (not `*`) matches that cut when it would match some name that begins with
    /// it. For process-wide pools
    /// created on first use, such as `"rayon-*"`. Adds to the list; the environment
    /// variable `IRIS_IGNORE_THREADS` (same syntax) adds to it for a whole run.
    ///
    /// ```
    /// use iris::TestOptions;
    ///
    /// let options = TestOptions::new("t").ignore_threads("rayon-*, tokio-runtime-w*");
    /// assert!(options.ignores("rayon-worker-3"));
    /// assert!(!options.ignores("my-worker"));
    /// ```
    pub fn ignore_threads(mut self, globs: &str) -> TestOptions {
        self.ignore_threads.extend(split_globs(globs));
        self
    }

    /// Plain tasks not to report: a comma-separated list of globs matched against a
    /// leaked plain `tokio::spawn` task's spawn location (`file:line:column`, a
    /// dependency's as `crate-version/src/...`), for a library's own background
    /// task (a connection pool's reaper). tokio gives the location only when built
    /// with `--cfg tokio_unstable` (tokio 1.46.1 or later); without it the report
    /// says so. `IRIS_IGNORE_TASKS` (same syntax) adds to the list for a run.
    ///
    /// ```
    /// use iris::TestOptions;
    ///
    /// let options = TestOptions::new("t").ignore_tasks("*/deadpool-*/src/*");
    /// assert!(options.ignores_task("deadpool-0.12.1/src/managed/reaper.rs:40:9"));
    /// assert!(!options.ignores_task("src/lib.rs:12:5"));
    /// ```
    pub fn ignore_tasks(mut self, globs: &str) -> TestOptions {
        self.ignore_tasks.extend(split_globs(globs));
        self
    }

    /// Whether a plain task spawned at `site` is on the ignore list (the options'
    /// and `IRIS_IGNORE_TASKS`). A leading `*/` also matches at the start.
    pub fn ignores_task(&self, site: &str) -> bool {
        let env = env_ignored_tasks();
        self.ignore_tasks.iter().chain(env.iter()).any(|glob| {
            glob_matches(glob, site)
                || glob
                    .strip_prefix("*/")
                    .is_some_and(|rest| glob_matches(rest, site))
        })
    }

    /// Whether a thread named `name` is on the ignore list (the options' and
    /// `IRIS_IGNORE_THREADS`).
    pub fn ignores(&self, name: &str) -> bool {
        self.thread_globs().any(|glob| glob_matches(glob, name))
    }

    /// The `ignore_threads` globs: the options' and `IRIS_IGNORE_THREADS`.
    fn thread_globs(&self) -> impl Iterator<Item = &String> {
        self.ignore_threads.iter().chain(env_ignored_threads())
    }

    /// Every `ignore_threads` glob: the options' and `IRIS_IGNORE_THREADS`. Where
    /// there is any, leaked threads' creation stacks are matched against them.
    pub(in crate::leaks) fn all_ignore_globs(&self) -> Vec<String> {
        self.thread_globs().cloned().collect()
    }

    /// Whether threads that belong to the process, not the test, are left out of the
    /// verdict (default: yes): those created inside a one-time initializer
    /// (`OnceLock`, `LazyLock`, `Once`, `lazy_static`, once_cell), or by such a
    /// thread, and well-known global pools (rayon's, smol's `blocking`, ...); the
    /// list is [`PROCESS_SCOPED_CREATORS`](crate::PROCESS_SCOPED_CREATORS), matched
    /// with the `thread-tracking` feature. Without it nothing tells where a thread was
    /// made, and the same pools are told by their threads' names,
    /// [`PROCESS_SCOPED_THREAD_NAMES`](crate::PROCESS_SCOPED_THREAD_NAMES).
    /// In an async test on a one-thread runtime, it also lets plain tasks still alive
    /// after the body run on in paused time (up to an hour of it, at most 250 ms of
    /// real time) to see whether they end by themselves, as a connection pool's reaper
    /// that holds its dropped pool weakly does at its next tick; what still lives is a
    /// leak. `IRIS_DEFAULT_IGNORES=off` switches all of it off for a whole run.
    ///
    /// ```
    /// use iris::TestOptions;
    ///
    /// let strict = TestOptions::new("t").default_ignores(false);
    /// assert!(!strict.default_ignores_value());
    /// ```
    pub fn default_ignores(mut self, on: bool) -> TestOptions {
        self.default_ignores = on;
        self
    }

    /// Whether the default list of process-scoped threads applies
    /// ([`default_ignores`](Self::default_ignores), unless `IRIS_DEFAULT_IGNORES=off`).
    pub fn default_ignores_value(&self) -> bool {
        self.default_ignores && !default_ignores_off()
    }

    /// Declares that this test has the process to itself, so the check of threads
    /// started outside Iris runs even where Iris cannot tell from the runner: for a
    /// hand-written harness (`harness = false`) that runs its tests one at a time.
    /// Do not set it where tests run in parallel in one process: another test's
    /// threads would be blamed.
    pub fn owns_process(mut self) -> TestOptions {
        self.owns_process = true;
        self
    }

    /// The tokio scheduler of an async test (default: current thread).
    #[cfg(feature = "tokio")]
    pub fn flavor(mut self, flavor: crate::tasks::runtime::Flavor) -> TestOptions {
        self.flavor = flavor;
        self
    }

    /// The number of worker threads of a multi-thread async test (default: the
    /// number of CPUs; 0 is treated as 1).
    #[cfg(feature = "tokio")]
    pub fn worker_threads(mut self, workers: usize) -> TestOptions {
        self.worker_threads = Some(workers);
        self
    }

    /// Starts the async test's runtime with time paused, as tokio's
    /// `#[tokio::test(start_paused = true)]`: timers fire as soon as the runtime is
    /// idle, and `tokio::time::advance` moves the clock. Needs the `tokio-test-util`
    /// feature (on by default). Current-thread flavors only, as in tokio.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iris::{run_async_test, TestOptions};
    ///
    /// run_async_test(TestOptions::new("doc::paused").start_paused(true), async {
    ///     let before = tokio::time::Instant::now();
    ///     tokio::time::sleep(Duration::from_secs(3600)).await; // returns at once
    ///     assert!(before.elapsed() >= Duration::from_secs(3600));
    /// });
    /// ```
    #[cfg(feature = "tokio")]
    pub fn start_paused(mut self, paused: bool) -> TestOptions {
        self.start_paused = paused;
        self
    }

    /// Blocking in async code: a task (or the body) that holds a worker of the
    /// test's runtime inside one poll for longer than `threshold` while the worker
    /// sleeps in the kernel (a std lock or channel, `thread::sleep`, a blocking read)
    /// is a finding, named by the worker's live stack. Default: 100 ms (chosen on
    /// data: no false finding in tokio-util's suite nor in Iris's own); `None`
    /// turns it off; `IRIS_BLOCKING` overrides it for a run. CPU-bound work is never
    /// a finding.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iris::TestOptions;
    ///
    /// let strict = TestOptions::new("t").blocking(Some(Duration::from_millis(50)));
    /// assert_eq!(strict.blocking_value(), Some(Duration::from_millis(50)));
    /// ```
    #[cfg(feature = "tokio")]
    pub fn blocking(mut self, threshold: Option<Duration>) -> TestOptions {
        self.blocking = Some(threshold);
        self
    }

    /// The blocking threshold in force (`None`: off): `IRIS_BLOCKING`, else the
    /// one given, else 100 ms.
    #[cfg(feature = "tokio")]
    pub fn blocking_value(&self) -> Option<Duration> {
        env_blocking()
            .or(self.blocking)
            .unwrap_or(Some(DEFAULT_BLOCKING))
    }

    /// What a panic that ended one of the test's plain threads (`std::thread::spawn`,
    /// a pool's worker) and that nobody joined is worth (default:
    /// [`LeakPolicy::Fail`]; `IRIS_THREAD_PANICS` overrides it). Such panics are seen
    /// with thread tracking (the default feature, on Linux with glibc).
    ///
    /// Nobody saw such a panic: the thread's work never finished and the test does
    /// not know, so by default it fails the test as a background panic. Some tests
    /// mean it: a test of a thread pool that checks the pool survives a job that
    /// panics, where the panic ends a worker the pool never joins. `Warn` writes each
    /// such panic (message, place, thread and where it was created) after the run
    /// and lets the test pass; `Ignore` says nothing. Prefer them to `leaks = "warn"`,
    /// which would also let leaked threads pass. A joined panic (the joiner decides)
    /// and one caught inside its thread (as pools and runtimes do) are never
    /// findings; a managed thread's panic always counts (its container records it).
    ///
    /// ```
    /// use iris::{LeakPolicy, TestOptions};
    ///
    /// let pool_test = TestOptions::new("t").thread_panics(LeakPolicy::Warn);
    /// assert_eq!(pool_test.thread_panics_value(), LeakPolicy::Warn);
    /// ```
    pub fn thread_panics(mut self, policy: LeakPolicy) -> TestOptions {
        self.thread_panics = policy;
        self
    }

    /// The plain-thread panic policy in force: `IRIS_THREAD_PANICS`, else
    /// [`thread_panics`](Self::thread_panics); `Ignore` too when the whole test's
    /// `leaks` policy is `Ignore`.
    pub fn thread_panics_value(&self) -> LeakPolicy {
        if self.policy() == LeakPolicy::Ignore {
            return LeakPolicy::Ignore;
        }
        env_thread_panics().unwrap_or(self.thread_panics)
    }

    /// What the test's own teardown had to end is worth (default:
    /// [`LeakPolicy::Ignore`]; `IRIS_TEARDOWN` overrides it): managed threads and
    /// tasks still running when the test's registry was stopped, which stopped
    /// when asked, and plain tasks still pending when the test's runtime shut
    /// down, which were cancelled with it (as `#[tokio::test]` cancels them).
    ///
    /// None of those is left behind, so by default none is a finding: a component
    /// whose threads obey their stop token is stopped by the test's registry, and a
    /// server task the test leaves is cancelled with its runtime. A team that wants
    /// every component shut down by the test itself (a forgotten `shutdown()` is then
    /// a bug in the test) sets `Fail`, or `Warn` to see them after the run.
    ///
    /// ```
    /// use iris::{LeakPolicy, TestOptions};
    ///
    /// let strict = TestOptions::new("t").teardown(LeakPolicy::Fail);
    /// assert_eq!(strict.teardown_value(), LeakPolicy::Fail);
    /// assert_eq!(TestOptions::new("t").teardown_value(), LeakPolicy::Ignore);
    /// ```
    pub fn teardown(mut self, policy: LeakPolicy) -> TestOptions {
        self.teardown = policy;
        self
    }

    /// The teardown policy in force: `IRIS_TEARDOWN`, else
    /// [`teardown`](Self::teardown); `Ignore` too when the whole test's `leaks`
    /// policy is `Ignore`.
    pub fn teardown_value(&self) -> LeakPolicy {
        if self.policy() == LeakPolicy::Ignore {
            return LeakPolicy::Ignore;
        }
        env_teardown().unwrap_or(self.teardown)
    }

    /// What a panic of a plain task (`tokio::spawn`, `spawn_blocking`) on the test's
    /// runtime is worth (default: [`LeakPolicy::Warn`]; `IRIS_TASK_PANICS` overrides
    /// it).
    ///
    /// tokio catches such a panic and hands it to the task's `JoinHandle`; when
    /// nothing awaits that handle, the panic is lost and the test passes. Nothing
    /// tells Iris whether the test read the handle (tokio's own `unhandled_panic =
    /// "shutdown_runtime"` cannot tell either, and fires for awaited handles too), so
    /// by default such a panic is written as a warning after the run, with its
    /// message, place and task, and the test passes. `Fail` makes it fail the test,
    /// as a background panic: use it where tests do not check panics through
    /// `JoinHandle`s on purpose. `Ignore` says nothing. Managed tasks' panics always
    /// count ([`ThreadContainer::spawn_task`](crate::ThreadContainer::spawn_task)).
    ///
    /// ```
    /// use iris::{LeakPolicy, TestOptions};
    ///
    /// let strict = TestOptions::new("t").task_panics(LeakPolicy::Fail);
    /// assert_eq!(strict.task_panics_value(), LeakPolicy::Fail);
    /// ```
    #[cfg(feature = "tokio")]
    pub fn task_panics(mut self, policy: LeakPolicy) -> TestOptions {
        self.task_panics = policy;
        self
    }

    /// The task-panic policy in force: `IRIS_TASK_PANICS`, else
    /// [`task_panics`](Self::task_panics); `Ignore` too when the whole test's
    /// `leaks` policy is `Ignore`.
    #[cfg(feature = "tokio")]
    pub fn task_panics_value(&self) -> LeakPolicy {
        if self.policy() == LeakPolicy::Ignore {
            return LeakPolicy::Ignore;
        }
        env_task_panics().unwrap_or(self.task_panics)
    }

    /// Whether to install Iris's log subscriber (writing to the test's captured
    /// output) when the test has none (default: yes). `#[iris_test]` turns it off
    /// when `#[traced_test]` is on the same test, whose subscriber must get the logs.
    pub fn capture_logs(mut self, on: bool) -> TestOptions {
        self.capture_logs = on;
        self
    }

    /// The stop timeout in force.
    pub fn stop_timeout_value(&self) -> Duration {
        self.stop_timeout
    }

    /// The grace period in force.
    pub fn linger_value(&self) -> Duration {
        self.linger
    }

    /// The watchdog timeout, if any.
    pub fn timeout_value(&self) -> Option<Duration> {
        self.timeout
    }

    /// The test's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The policy in force: `IRIS_LEAKS` if set, else the one given.
    pub fn policy(&self) -> LeakPolicy {
        policy_override().unwrap_or(self.leaks)
    }
}

/// `IRIS_DEFAULT_IGNORES=off` (or `0`, `false`, `no`), read once; another value is
/// warned about and ignored.
fn default_ignores_off() -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    *OFF.get_or_init(|| match std::env::var("IRIS_DEFAULT_IGNORES") {
        Err(_) => false,
        Ok(text) => match text.trim().to_ascii_lowercase().as_str() {
            "off" | "0" | "false" | "no" => true,
            "on" | "1" | "true" | "yes" | "" => false,
            _ => {
                output::bad_knob(
                    "IRIS_DEFAULT_IGNORES",
                    &text,
                    "expected on or off",
                    "the default lists stay on",
                );
                false
            }
        },
    })
}

/// `IRIS_THREAD_PANICS`, read once (`None`: unset; a bad value is warned about and
/// ignored).
fn env_thread_panics() -> Option<LeakPolicy> {
    static POLICY: OnceLock<Option<LeakPolicy>> = OnceLock::new();
    *POLICY.get_or_init(|| env_policy("IRIS_THREAD_PANICS"))
}

/// `IRIS_TEARDOWN`, read once (`None`: unset; a bad value is warned about and
/// ignored).
fn env_teardown() -> Option<LeakPolicy> {
    static POLICY: OnceLock<Option<LeakPolicy>> = OnceLock::new();
    *POLICY.get_or_init(|| env_policy("IRIS_TEARDOWN"))
}

/// `IRIS_TASK_PANICS`, read once (`None`: unset; a bad value is warned about and
/// ignored).
#[cfg(feature = "tokio")]
fn env_task_panics() -> Option<LeakPolicy> {
    static POLICY: OnceLock<Option<LeakPolicy>> = OnceLock::new();
    *POLICY.get_or_init(|| env_policy("IRIS_TASK_PANICS"))
}

/// The blocking threshold when nothing sets one.
#[cfg(feature = "tokio")]
const DEFAULT_BLOCKING: Duration = Duration::from_millis(100);

/// `IRIS_BLOCKING`: a duration or `off`, read once (`None`: unset; a bad value is
/// warned about and ignored).
#[cfg(feature = "tokio")]
fn env_blocking() -> Option<Option<Duration>> {
    static BLOCKING: OnceLock<Option<Option<Duration>>> = OnceLock::new();
    *BLOCKING.get_or_init(|| {
        let text = std::env::var("IRIS_BLOCKING").ok()?;
        if text.trim().eq_ignore_ascii_case("off") {
            return Some(None);
        }
        match crate::text::duration::parse_duration(&text) {
            Ok(threshold) if threshold.is_zero() => {
                output::bad_knob(
                    "IRIS_BLOCKING",
                    &text,
                    "a zero threshold would call every poll that waits in the kernel blocking \
                     (write `off` to turn the check off)",
                    "using each test's own threshold",
                );
                None
            }
            Ok(threshold) => Some(Some(threshold)),
            Err(why) => {
                output::bad_knob(
                    "IRIS_BLOCKING",
                    &text,
                    &why,
                    "using each test's own threshold",
                );
                None
            }
        }
    })
}

/// Reads this module's environment variables now (see `knobs`).
pub(crate) fn read_environment() {
    let _ = policy_override();
    let _ = default_ignores_off();
    let _ = env_thread_panics();
    let _ = env_teardown();
    #[cfg(feature = "tokio")]
    {
        let _ = env_task_panics();
        let _ = env_blocking();
    }
    let _ = env_ignored_threads();
    let _ = env_ignored_tasks();
}

/// `IRIS_IGNORE_TASKS`, read once.
fn env_ignored_tasks() -> &'static [String] {
    static GLOBS: OnceLock<Vec<String>> = OnceLock::new();
    GLOBS.get_or_init(|| {
        std::env::var("IRIS_IGNORE_TASKS")
            .map(|text| split_globs(&text).collect())
            .unwrap_or_default()
    })
}

/// `IRIS_IGNORE_THREADS`, read once.
fn env_ignored_threads() -> &'static [String] {
    static GLOBS: OnceLock<Vec<String>> = OnceLock::new();
    GLOBS.get_or_init(|| {
        std::env::var("IRIS_IGNORE_THREADS")
            .map(|text| split_globs(&text).collect())
            .unwrap_or_default()
    })
}
