//! The top layer: a test's life from `#[iris_test]` to its verdict.
//!
//! - [`harness`]: [`TestScope`](harness::TestScope) and
//!   [`run_test`](harness::run_test): open a registry scope, run the body, stop the
//!   scope, look for what outlived it, apply the policy;
//! - [`report`]: [`LeakReport`](report::LeakReport), what a test left behind, as text
//!   and as JSON;
//! - [`fixtures`]: the same for rstest.
//!
//! It may import every other layer; nothing imports it.

#[cfg(feature = "tokio")]
pub(crate) mod async_harness;
#[cfg(feature = "rstest")]
pub mod fixtures;
pub(crate) mod harness;
pub(crate) mod json;
pub(crate) mod output;
pub(crate) mod report;
