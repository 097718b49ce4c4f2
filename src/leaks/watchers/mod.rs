//! What watches a running test from beside it: `live.rs` says where a running test is
//! (its threads' states and stacks) and keeps its `timeout` watchdog;
//! `hang_doctor.rs` dumps a test that runs past `IRIS_HANG_DUMP` or that nextest
//! terminates; `blocking.rs` samples an async test's workers for blocking calls;
//! `helper.rs` is the process's one Iris helper thread, which does the hang doctor's
//! and the sampler's waiting.

#[cfg(feature = "tokio")]
pub(crate) mod blocking;
pub(crate) mod hang_doctor;
pub(crate) mod helper;
pub(crate) mod live;
