//! What a report writes after the run instead of failing the test: panics a
//! `"warn"` policy lets pass, and what the teardown ended under `teardown = "warn"`.

use std::fmt;

use super::hints::TEARDOWN_HINT;
use super::model::LeakReport;
#[cfg(feature = "tokio")]
use super::text::describe_task_panic;
use crate::tracking::PlainPanic;

/// The warning for plain threads' unjoined panics under `thread_panics = "warn"`,
/// written after the run.
pub(crate) fn thread_panic_warning(test: &str, panics: &[PlainPanic]) -> String {
    panic_list(
        &format!(
            "iris: test `{test}`: {} plain thread(s) ended in a panic that nobody joined, so \
             nobody saw it",
            panics.len()
        ),
        panics.iter().map(PlainPanic::to_string),
        "(thread_panics = \"warn\": such a panic does not fail the test. Without it, it \
         would; thread_panics = \"ignore\" silences it)",
    )
}

/// The warning for plain tasks' panics under `task_panics = "warn"` (the default).
#[cfg(feature = "tokio")]
pub(crate) fn task_panic_warning(
    test: &str,
    panics: &[crate::tasks::task_panics::TaskPanic],
) -> String {
    panic_list(
        &format!(
            "iris: test `{test}`: {} plain task(s) panicked; tokio handed each panic to the task's \
             `JoinHandle`, and unless the test awaited it, the panic was lost",
            panics.len()
        ),
        panics.iter().map(describe_task_panic),
        "(task_panics = \"warn\", the default, as Iris cannot see whether a JoinHandle was read: \
         it does not fail the test. Make these fail it with task_panics = \"fail\" or IRIS_TASK_PANICS=fail; \
         silence them with task_panics = \"ignore\")",
    )
}

/// The warning for plain tasks' panics that a `catch_unwind` of the task's own code
/// met, whatever `task_panics` says (but `"ignore"`): handled there, or rethrown.
#[cfg(feature = "tokio")]
pub(crate) fn caught_task_panic_warning(
    test: &str,
    panics: &[crate::tasks::task_panics::TaskPanic],
) -> String {
    panic_list(
        &format!(
            "iris: test `{test}`: {} plain task(s) panicked inside a `catch_unwind` of their own \
             code: if it handled the panic (an actor's supervisor does), the task went on; if it \
             rethrew it (`resume_unwind`), tokio handed it to the task's `JoinHandle`",
            panics.len()
        ),
        panics.iter().map(describe_task_panic),
        "(a warning whatever task_panics says, as Iris cannot see which: it does not fail \
         the test; task_panics = \"ignore\" silences it)",
    )
}

/// A warning's shape: a header, one indented line per panic, and a closing remark.
fn panic_list(header: &str, lines: impl Iterator<Item = String>, remark: &str) -> String {
    let mut text = header.to_string();
    for line in lines {
        text.push_str("\n  ");
        text.push_str(&line);
    }
    text.push_str("\n  ");
    text.push_str(remark);
    text
}

impl LeakReport {
    /// A warning about what the teardown ended, written after the run under
    /// `teardown = "warn"`; `None` when it ended nothing.
    pub(crate) fn teardown_warning(&self) -> Option<String> {
        if self.ended_by_teardown() == 0 {
            return None;
        }
        struct Lines<'a>(&'a LeakReport);
        impl fmt::Display for Lines<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.write_teardown(f)
            }
        }
        Some(format!(
            "iris: test `{}` left its teardown to end {} (teardown = \"warn\": the test still passes){}\n  hint: {}",
            self.test,
            self.teardown_counts(),
            Lines(self),
            TEARDOWN_HINT
        ))
    }
}
