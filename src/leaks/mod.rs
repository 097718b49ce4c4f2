//! The top layer: a test's life from `#[iris_test]` to its verdict.
//!
//! - [`options`]: [`TestOptions`](options::TestOptions) and the environment
//!   variables that override them;
//! - [`scope`]: [`TestScope`](scope::TestScope), a test's life: open a registry
//!   scope, stop it, collect the findings, apply the policy;
//! - [`survey`]: what outlived the test (threads started outside Iris, child
//!   processes) and the lingering wait for it;
//! - [`live`]: where a running test is (its threads' states and stacks), and the
//!   watchdog;
//! - [`hang_doctor`]: one watcher for the process that says where a test is stuck
//!   when it runs past `IRIS_HANG_DUMP`, or when nextest terminates it;
//! - [`helper`]: the process's one Iris helper thread, which does the hang doctor's
//!   and the blocking sampler's waiting;
//! - [`harness`]: [`run_test`](harness::run_test) and its timed form: run the body,
//!   settle the verdict; [`async_harness`] does the same for `async fn` tests, with
//!   [`blocking`] watching its runtime's workers for blocking calls;
//! - [`report`]: [`LeakReport`](report::LeakReport), what a test left behind, as text
//!   and as JSON; [`output`] writes it and the test's logs, through
//!   [`lazy_logger`] (built by the first line logged);
//! - [`fixtures`]: the same for rstest.
//!
//! It may import every other layer; nothing imports it.

#[cfg(feature = "tokio")]
pub(crate) mod async_harness;
#[cfg(feature = "tokio")]
pub(crate) mod blocking;
#[cfg(feature = "rstest")]
pub mod fixtures;
pub(crate) mod hang_doctor;
pub(crate) mod harness;
pub(crate) mod helper;
pub(crate) mod knobs;
pub(crate) mod lazy_logger;
pub(crate) mod live;
pub(crate) mod options;
pub(crate) mod output;
pub(crate) mod report;
pub(crate) mod scope;
pub(crate) mod survey;
