//! The top layer: a test's life from `#[iris_test]` to its verdict, in three rooms
//! and a voice:
//!
//! - `harness/`: the test's life: [`TestScope`](harness::scope::TestScope), its
//!   options, what outlived it, and running a body (sync or async) inside it;
//! - `report/`: [`LeakReport`](report::LeakReport), what a test left behind: the
//!   findings, their text, their JSON line, the advice, the warnings;
//! - `watchers/`: what watches a running test from beside it: where it is, the hang
//!   doctor, the blocking sampler, the one helper thread they share;
//! - `output.rs`: where Iris's words go (reports, warnings, the test's logs), through
//!   `lazy_logger.rs` (a subscriber built by the first line logged).
//!
//! It may import every other layer; nothing imports it.

pub(crate) mod harness;
pub(crate) mod lazy_logger;
pub(crate) mod output;
pub(crate) mod report;
pub(crate) mod watchers;
