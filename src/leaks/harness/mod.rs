//! A test's life and verdict: [`TestScope`](scope::TestScope) opens a registry scope
//! and stops, collects and judges it; `run.rs` and `run_async.rs` run a body (a
//! plain one, an `async fn` on a fresh runtime) inside one.
//!
//! - `options.rs`: [`TestOptions`](options::TestOptions), resolved with the
//!   environment's overrides; `knobs.rs` reads every `IRIS_*` variable when the
//!   first test begins;
//! - `scope.rs`: [`TestScope`](scope::TestScope);
//! - `survey.rs`: what outlived the test (threads started outside Iris, child
//!   processes) and the lingering wait for it;
//! - `run.rs`: [`run_test`](run::run_test) and its timed form;
//! - `run_async.rs`: the same for `async fn` tests;
//! - `chaos.rs`: whether a test runs under schedule chaos, and each iteration's
//!   seed (the holds themselves are tracking's);
//! - `stress.rs`: how long a stress run goes on; `repeat.rs`: the run itself, a
//!   test's body again and again, each iteration a whole test under its own chaos
//!   seed, until one fails; `alone.rs`: whether a failure under chaos beside other
//!   tests happens alone too (a race) or not (contention);
//! - `fail.rs`: failing a test so that its message is seen whatever the panic
//!   hook;
//! - `fixtures.rs`: the same for rstest.

pub(crate) mod alone;
pub(crate) mod chaos;
pub(crate) mod fail;
#[cfg(feature = "rstest")]
pub mod fixtures;
pub(crate) mod knobs;
pub(crate) mod options;
pub(crate) mod repeat;
pub(crate) mod run;
#[cfg(feature = "tokio")]
pub(crate) mod run_async;
pub(crate) mod scope;
pub(crate) mod stress;
pub(crate) mod survey;
