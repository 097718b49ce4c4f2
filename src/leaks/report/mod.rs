//! [`LeakReport`]: what a test left behind, written for the person who has to fix it.
//! Cut as nextest's reporter is: the model (`model.rs`: the findings and their
//! counts), the text (`text.rs`), the JSON line (`json.rs`), the advice
//! (`hints.rs`) and what is written after a run instead of failing
//! (`warnings.rs`). A report is plain owned data (`Send + Sync + 'static`).

mod hints;
pub(crate) mod json;
mod model;
#[cfg(test)]
mod tests;
mod text;
mod warnings;

#[cfg(feature = "tokio")]
pub(crate) use model::BlockedWorker;
pub use model::{LeakReport, LeakedProcess, Straggler, UnmanagedCheck, UnmanagedThread};
pub(crate) use model::{ProcessFate, TaskFindings, Teardown, Warned};
pub(crate) use warnings::thread_panic_warning;
#[cfg(feature = "tokio")]
pub(crate) use warnings::{caught_task_panic_warning, task_panic_warning};
