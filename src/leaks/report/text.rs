//! How a report reads: the text a person fixing the test reads, line by line.
//!
//! Invariants:
//! - The first line is the contract: ``iris: test `NAME` leaked N thread(s)`` when
//!   anything leaked (N counts managed stragglers and unmanaged threads), otherwise
//!   ``iris: test `NAME` had N background panic(s)``.
//! - Identical leaks (same container, spawn site and blocking point) are grouped into
//!   one line with every name and a count, so a leaked pool of 16 workers is one
//!   line, not 16; names are listed as they are, never rewritten.
//! - The report ends with a hint pointing at the guide.
//! - Its wording is reviewed as a whole: `tests.rs` keeps each kind of report as a
//!   snapshot file (`snapshots/`).

use std::fmt;

use super::model::*;
use crate::os::threads::OsThread;
use crate::tracking::creators::{inlined_creator, InlinedCreator};
use crate::tracking::whose::{kept_for_the_process, Kept};
use crate::tracking::{Frame, ThreadOrigin};

impl fmt::Display for LeakedProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, &self.container) {
            (Some(name), Some(container)) => write!(f, "process {name:?} in `{container}`")?,
            _ => f.write_str("unmanaged child process")?,
        }
        write!(f, " (pid {})", self.pid)?;
        if !self.command_line.is_empty() {
            write!(f, ": {}", self.command_line)?;
        }
        match self.state {
            _ if self.exited => {
                f.write_str(", still running at the stop's deadline (it has exited since)")
            }
            Some('Z') => f.write_str(", a zombie nobody reaped"),
            Some(state) => write!(f, ", state {state}"),
            None => Ok(()),
        }
    }
}

/// One line for a plain task's panic.
#[cfg(feature = "tokio")]
pub(crate) fn describe_task_panic(panic: &crate::tasks::task_panics::TaskPanic) -> String {
    let mut line = format!("plain task {} panicked", panic.task);
    if let Some(location) = &panic.location {
        line.push_str(&format!(" at {location}"));
    }
    line.push_str(&format!(
        ": {} (on thread {:?}",
        panic.message, panic.thread
    ));
    match &panic.spawned_at {
        Some(site) => line.push_str(&format!("; spawned at {site})")),
        None => line.push(')'),
    }
    line
}

/// One line (and its stack) for a worker a task held while it slept.
#[cfg(feature = "tokio")]
pub(super) fn describe_blocked(blocked: &BlockedWorker) -> String {
    let mut text = format!(
        "a task held worker thread {:?} (tid {}) inside one poll for {:.2?} while it slept ({})",
        blocked.os.name,
        blocked.os.tid,
        blocked.held_for,
        match &blocked.os.blocked_in {
            Some(wchan) => format!("in {wchan}"),
            None => blocked.os.state_name().to_string(),
        }
    );
    if let Some(frames) = &blocked.stack {
        let mut frames = frames.iter();
        if let Some(first) = frames.next() {
            text.push_str(&format!("\n      now in {}", first.function));
        }
        for frame in frames {
            text.push_str(&format!("\n        called from {frame}"));
        }
    }
    text
}

impl std::error::Error for LeakReport {}

// `expect`, `unwrap` and `?` print the report, not a struct.
debug_as_display!(LeakReport);

/// Groups `items` by `key`, keeping first-seen order.
pub(super) fn group<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> Vec<(K, Vec<&T>)> {
    let mut groups: Vec<(K, Vec<&T>)> = Vec::new();
    for item in items {
        let k = key(item);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, members)) => members.push(item),
            None => groups.push((k, vec![item])),
        }
    }
    groups
}

pub(super) fn os_suffix(os: Option<&OsThread>) -> String {
    match os {
        Some(os) => match &os.blocked_in {
            Some(wchan) => format!(", {} in {wchan}", os.state_name()),
            None => format!(", {}", os.state_name()),
        },
        None => String::new(),
    }
}

pub(super) fn count_prefix(n: usize) -> String {
    if n > 1 {
        format!("{n}x ")
    } else {
        String::new()
    }
}

impl fmt::Display for LeakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_headline(f)?;
        self.write_stragglers(f)?;
        self.write_unmanaged(f)?;
        for task in &self.tasks.stragglers {
            write!(f, "\n  {task}")?;
        }
        if self.teardown.counted {
            self.write_teardown(f)?;
        }
        #[cfg(feature = "tokio")]
        for blocked in &self.tasks.blocked {
            write!(f, "\n  {}", describe_blocked(blocked))?;
        }
        self.write_stuck_runtime(f)?;
        self.write_rest(f, self.leaked_tasks())
    }
}

impl LeakReport {
    /// The first line: what the test leaked, blocked or left to its teardown.
    fn write_headline(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tasks = self.leaked_tasks();
        let mut leaked = Vec::new();
        if self.leaked() > 0 {
            leaked.push(format!("{} thread(s)", self.leaked()));
        }
        if tasks > 0 {
            leaked.push(format!("{tasks} task(s)"));
        }
        if !self.processes.is_empty() {
            leaked.push(format!("{} process(es)", self.processes.len()));
        }
        let blocked = self.tasks.blocked_count();
        let mut clauses = Vec::new();
        if !leaked.is_empty() {
            clauses.push(format!("leaked {}", leaked.join(" and ")));
        }
        if blocked > 0 {
            clauses.push(format!("blocked its runtime {blocked} time(s)"));
        }
        if self.counted_teardown() > 0 {
            clauses.push(format!(
                "left its teardown to end {}",
                self.teardown_counts()
            ));
        }
        if !clauses.is_empty() {
            write!(f, "iris: test `{}` {}", self.test, clauses.join(" and "))?;
        } else {
            write!(
                f,
                "iris: test `{}` had {} background panic(s)",
                self.test,
                self.panics.len() + self.plain_panics.len() + self.tasks.panic_count()
            )?;
        }
        Ok(())
    }

    /// Managed threads that did not stop, grouped.
    fn write_stragglers(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Grouped only by what is really equal (container, spawn site, where they
        // are blocked); names are listed as they are, never rewritten.
        let stragglers = group(&self.stragglers, |s| {
            (
                s.info.container().to_string(),
                s.info.spawned_at(),
                s.info.is_stop_callback(),
                s.os.as_ref().map(|o| (o.state, o.blocked_in.clone())),
                s.stack.clone(),
            )
        });
        for ((container, spawned_at, callback, _, stack), members) in &stragglers {
            let first = members[0];
            let oldest = members
                .iter()
                .map(|s| s.info.alive_for())
                .max()
                .unwrap_or_default();
            let names = name_list(members.iter().map(|s| s.info.name()));
            // With a stack, the kernel's wchan says less than the frames below.
            let os = match (stack, &first.os) {
                (Some(_), Some(os)) => format!(", {}", os.state_name()),
                (_, os) => os_suffix(os.as_ref()),
            };
            if *callback {
                write!(
                    f,
                    "\n  {}on_stop callback of {names} in `{container}`, registered at {spawned_at}, \
                     still running after {oldest:.2?}{os}",
                    count_prefix(members.len()),
                )?;
            } else {
                write!(
                    f,
                    "\n  {}{names} in `{container}`, spawned at {spawned_at}, alive for {oldest:.2?}{os}",
                    count_prefix(members.len()),
                )?;
            }
            if let Some(frames) = stack {
                write_stack(f, frames)?;
            }
        }
        Ok(())
    }

    /// Threads started outside Iris that outlived the test, grouped.
    fn write_unmanaged(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unmanaged = group(&self.unmanaged, |u| {
            (
                u.os.name.clone(),
                u.inherited_name,
                u.managed
                    .as_ref()
                    .map(|m| (m.container().to_string(), m.spawned_at())),
                (u.os.state, u.os.blocked_in.clone()),
                u.origin
                    .as_ref()
                    .map(|o| (o.created_at.clone(), o.creator_tid)),
                u.stack.clone(),
            )
        });
        for ((name, inherited, managed, _, _, stack), members) in &unmanaged {
            let first = members[0];
            let tids = cut_list(members.iter().map(|u| u.os.tid.to_string()));
            let what = if *inherited {
                format!("unnamed unmanaged thread (it carries its creator's name {name:?})")
            } else {
                format!("unmanaged thread {name:?}")
            };
            // With a stack, the kernel's wchan says less than the frames below.
            let os = match stack {
                Some(_) => format!(", {}", first.os.state_name()),
                None => os_suffix(Some(&first.os)),
            };
            write!(
                f,
                "\n  {}{what} (tid {}){os}",
                count_prefix(members.len()),
                tids,
            )?;
            if let Some((container, spawned_at)) = managed {
                write!(
                    f,
                    "; managed by `{container}` (not the test's registry), spawned at {spawned_at}"
                )?;
            }
            if let Some(origin) = &first.origin {
                write_origin(f, origin, &self.test_function)?;
            }
            if let Some(frames) = stack {
                write_stack(f, frames)?;
            }
        }
        Ok(())
    }
}

impl LeakReport {
    /// "2 thread(s), 1 task(s)": what the teardown ended, by kind.
    pub(super) fn teardown_counts(&self) -> String {
        let t = &self.teardown;
        let mut parts = Vec::new();
        let threads = t.stopped.iter().filter(|i| !i.is_task()).count();
        let tasks = t.stopped.len() - threads + t.cancelled_tasks.len() + self.tasks.plain;
        if threads > 0 {
            parts.push(format!("{threads} thread(s)"));
        }
        if tasks > 0 {
            parts.push(format!("{tasks} task(s)"));
        }
        if !t.stopped_processes.is_empty() {
            parts.push(format!("{} process(es)", t.stopped_processes.len()));
        }
        parts.join(", ")
    }

    /// The lines for what the teardown ended.
    pub(super) fn write_teardown(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for info in &self.teardown.stopped {
            write!(f, "\n  stopped by the teardown: {info}")?;
        }
        for process in &self.teardown.stopped_processes {
            write!(
                f,
                "\n  stopped by the teardown: managed process {process:?}"
            )?;
        }
        for task in &self.teardown.cancelled_tasks {
            write!(
                f,
                "\n  cancelled with the test's runtime (it did not stop within `stop_timeout`): {task}"
            )?;
        }
        if self.tasks.plain > 0 {
            write!(
                f,
                "\n  {} plain task(s) (tokio::spawn) still pending when the test's runtime shut down, cancelled with it",
                self.tasks.plain
            )?;
            // Said only when the clock moved: a running `spawn_blocking` holds it.
            if let Some(paused) = self.tasks.plain_paused_for.filter(|p| p.as_secs() > 0) {
                write!(
                    f,
                    ", and after {}s more of paused time (run on to see if they end by themselves)",
                    paused.as_secs()
                )?;
            }
            match &self.tasks.plain_sites {
                Some(sites) => {
                    let sites: Vec<&String> = sites.iter().collect();
                    for (site, members) in group(&sites, |s| s.to_string()) {
                        write!(f, "\n    {}spawned at {site}", count_prefix(members.len()))?;
                    }
                }
                None => write!(
                    f,
                    "\n    (where each was spawned: build with RUSTFLAGS=\"--cfg tokio_unstable\" and tokio 1.46.1 or later; `ignore_tasks` matches those sites)"
                )?,
            }
        }
        Ok(())
    }

    /// The runtime's threads its shutdown could not end.
    fn write_stuck_runtime(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for thread in &self.tasks.held_workers {
            write!(
                f,
                "\n  a task is blocking its worker thread (it never reaches an `.await`): {thread}"
            )?;
            if let Some(frames) = self.tasks.stacks.get(&thread.tid) {
                write_stack(f, frames)?;
            }
        }
        for thread in &self.tasks.blocking {
            write!(
                f,
                "\n  blocking task still running after the runtime's shutdown deadline: {thread}"
            )?;
            if let Some(frames) = self.tasks.stacks.get(&thread.tid) {
                write_stack(f, frames)?;
            }
        }
        Ok(())
    }

    /// Processes, panics, notes, hints and the guide's line.
    fn write_rest(&self, f: &mut fmt::Formatter<'_>, tasks: usize) -> fmt::Result {
        for process in &self.processes {
            write!(f, "\n  {process}")?;
        }
        let running = self
            .processes
            .iter()
            .filter(|p| p.state != Some('Z'))
            .count();
        match self.processes_fate {
            Some(ProcessFate::Ended) if running > 0 => write!(
                f,
                "\n  (Iris ended {running} of these process(es), with their process groups and descendants, after this report)"
            )?,
            Some(ProcessFate::Kept) if running > 0 => write!(
                f,
                "\n  (left running, as leaks = \"warn\" asks: {running} process(es) outlive the test)"
            )?,
            _ => {}
        }

        let panics = self.panics.len() + self.plain_panics.len() + self.tasks.panic_count();
        if panics > 0 {
            if self.leaked() > 0 || tasks > 0 || !self.processes.is_empty() {
                write!(f, "\n  and {panics} background panic(s):")?;
            }
            for panic in &self.panics {
                write!(f, "\n  {panic}")?;
            }
            for panic in &self.plain_panics {
                write!(f, "\n  {panic}")?;
            }
            #[cfg(feature = "tokio")]
            for panic in &self.tasks.panics {
                write!(f, "\n  {}", describe_task_panic(panic))?;
            }
        }

        if self.tasks.runtime_threads_not_counted > 0 {
            write!(
                f,
                "\n  ({} thread(s) of the tokio runtime this check ran in were not counted: they live as long as the runtime)",
                self.tasks.runtime_threads_not_counted
            )?;
        }
        if let UnmanagedCheck::Skipped(why) = &self.unmanaged_check {
            write!(
                f,
                "\n  (threads spawned outside Iris were not checked: {why})"
            )?;
        }
        for hint in self.hints() {
            write!(f, "\n  hint: {hint}")?;
        }
        write!(
            f,
            "\n  see Iris's guide (`iris::guide` in its API docs, docs/thread-safety.md in its \
             package), \"Reading a leak report\""
        )
    }
}

/// The lines under a leaked thread that say where it came from.
pub(super) fn write_origin(
    f: &mut fmt::Formatter<'_>,
    origin: &ThreadOrigin,
    test_function: &str,
) -> fmt::Result {
    match &origin.created_at {
        Some(site) => write!(f, "\n      created at {site}")?,
        None => match inlined_creator(&origin.functions) {
            Some(InlinedCreator::TestBody) => write!(
                f,
                "\n      created in the test's body (`{test_function}`; inlined in this build, \
                 so no line: a build with debug information gives it)"
            )?,
            Some(InlinedCreator::ThreadClosure) => write!(
                f,
                "\n      created in the closure its creator thread runs (inlined in this \
                 build, so no line: a build with debug information gives it)"
            )?,
            Some(InlinedCreator::Combinator(combinator)) => write!(
                f,
                "\n      created in a future that `{combinator}` polled (its code inlined \
                 there in this build, so no line: a build with debug information gives it)"
            )?,
            None => write!(
                f,
                "\n      created (no frame of yours on the creating stack)"
            )?,
        },
    }
    write!(
        f,
        " by thread {:?} (tid {})",
        origin.creator, origin.creator_tid
    )?;
    if let Some(age) = origin.age {
        write!(f, ", {age:.2?} ago")?;
    }
    match (
        kept_for_the_process(origin, test_function),
        origin.known_fix,
    ) {
        (
            Some(Kept::Pool {
                what,
                glob: Some(glob),
            }),
            _,
        ) => write!(
            f,
            "\n      this looks like {what}: ignore it with `ignore_threads = \"{glob}\"`"
        )?,
        (Some(Kept::Pool { what, glob: None }), _) => write!(f, "\n      this looks like {what}")?,
        (_, Some(fix)) => write!(f, "\n      {fix}")?,
        // Only where the stack says "kept for the process" (a function the default
        // lists or their rules know, switched off here): the glob names that
        // function and nothing else.
        (
            Some(Kept::Creator {
                glob: Some(glob), ..
            }),
            None,
        ) => write!(
            f,
            "\n      it was made where a thread kept for the process is made (the \
             default lists are off): `ignore_threads = \"{glob}\"` waives it"
        )?,
        _ => {}
    }
    Ok(())
}

/// The line under a leaked thread that says where it is now.
pub(super) fn write_stack(f: &mut fmt::Formatter<'_>, frames: &[Frame]) -> fmt::Result {
    let mut frames = frames.iter();
    if let Some(first) = frames.next() {
        // The call it is blocked in reads best by name; the user's frames by place.
        if crate::tracking::frames::is_plumbing_frame(first) {
            write!(f, "\n      now in {}", first.function)?;
        } else {
            write!(f, "\n      now in {first}")?;
        }
    }
    for frame in frames {
        write!(f, "\n        called from {frame}")?;
    }
    Ok(())
}

/// Names as they are, quoted; a long list is cut after eight.
pub(super) fn name_list<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    cut_list(names.map(|n| format!("{n:?}")))
}

/// The first 8 items, then how many more: a group of thousands stays one short line.
pub(super) fn cut_list(items: impl ExactSizeIterator<Item = String>) -> String {
    let total = items.len();
    let mut shown: Vec<String> = items.take(8).collect();
    if total > 8 {
        shown.push(format!("and {} more", total - 8));
    }
    shown.join(", ")
}
