//! Where a running test is: its body, its managed threads, and the threads charged
//! to it, each with its state and (with thread tracking) its live stack; and the
//! watchdog that writes this down when a test runs past its `timeout`.
//!
//! Invariants:
//! - Reading where a test is never waits longer than `LIVE_STACK_PATIENCE` per thread.
//! - The watchdog is one of Iris's helper threads (never a leak), registered before
//!   the body runs, and gone when the test ends.

use std::collections::HashSet;
use std::time::Duration;

use crate::leaks::harness::options::BodyKind;
use crate::leaks::harness::survey::{threads_born_since, tracked_threads, LIVE_STACK_PATIENCE};
use crate::leaks::output;
use crate::os::processes;
use crate::os::threads::{self as os_threads, OsThread};
use crate::sync::completion::Completion;
use crate::sync::deadline::Deadline;
use crate::sync::stop_token::StopToken;
use crate::threads::managed_thread::current_os_tid;
use crate::threads::registry::ThreadRegistry;
use crate::tracking;

/// What the test is running: where its body is (`body`, a thread id), its
/// registry's live threads and tasks, its other threads (those born since `before`
/// when the test owns the process, else those the tracker charged to
/// `tracked_scope`), and the child processes charged to it. With thread tracking,
/// each thread comes with where it is now (its live stack); threads that are alike
/// (same kind, same stack, same state) are one entry, with a count.
pub(in crate::leaks) fn describe_live(
    registry: &ThreadRegistry,
    before: Option<&HashSet<u32>>,
    tracked_scope: Option<u64>,
    body: Option<u32>,
    kind: BodyKind,
) -> String {
    let mut text = String::from("where the test is:");
    text.push_str(&body_line(body, kind));
    // (what the entry is, its stack): alike ones are grouped.
    let mut entries: Vec<(String, String)> = Vec::new();
    let managed = registry.alive_threads();
    let mut known: HashSet<u32> = body.into_iter().collect();
    for info in &managed {
        let mut line = describe_managed(info);
        let mut where_now = String::new();
        if let Some(tid) = info.os_tid() {
            known.insert(tid);
            if let Some(os) = OsThread::sample(&[tid]).pop() {
                line.push_str(&format!(" [{}]", os.state_name()));
            }
            where_now = stack_lines(tid);
        }
        entries.push((line, where_now));
    }
    for task in registry.alive_tasks() {
        entries.push((describe_managed(&task), String::new()));
    }
    let others = match (before, tracked_scope) {
        (Some(before), _) => Some(threads_born_since(before, &known)),
        (None, Some(scope)) if tracking::active() => Some(
            tracked_threads(scope)
                .0
                .into_iter()
                .filter(|t| !known.contains(t))
                .collect(),
        ),
        _ => None,
    };
    let unmanaged_note = match others {
        Some(others) => {
            for os in OsThread::sample(&others) {
                entries.push((
                    format!("unmanaged: \"{}\", {}", os.name, os.state_name()),
                    stack_lines(os.tid),
                ));
            }
            None
        }
        None => Some(
            "\n  (threads started outside Iris are listed only when the test owns its process, \
             or with the `thread-tracking` feature)",
        ),
    };
    for (line, where_now, count) in grouped(entries) {
        if count > 1 {
            text.push_str(&format!("\n  {count}x {line}"));
        } else {
            text.push_str(&format!("\n  {line}"));
        }
        text.push_str(&where_now);
    }
    if let Some(scope) = tracked_scope {
        text.push_str(&children_lines(scope));
    }
    text.push_str(unmanaged_note.unwrap_or_default());
    if managed.is_empty() {
        text.push_str("\n  (no managed thread of the test is running)");
    }
    text
}

/// A thread's live stack, a line a frame (nothing when it cannot be read in time).
fn stack_lines(tid: u32) -> String {
    tracking::live_stack(tid, LIVE_STACK_PATIENCE)
        .map(|frames| {
            frames
                .iter()
                .map(|f| format!("\n      at {f}"))
                .collect::<String>()
        })
        .unwrap_or_default()
}

/// Where the test's body is, and its thread's stack.
fn body_line(body: Option<u32>, kind: BodyKind) -> String {
    let written = kind
        .written_at
        .map(|at| format!(", written at {at}"))
        .unwrap_or_default();
    match body.and_then(|tid| OsThread::sample(&[tid]).pop()) {
        // Between polls an async fn is a value, not a stack: its thread waits in the
        // runtime, and that wait says nothing of which `.await` is pending.
        Some(os) if kind.is_async => format!(
            "\n  the test body (an async fn{written}): between polls, suspended at an \
             `.await` that nothing has woken; no thread's stack holds an async fn while \
             it waits, so where is not shown here (what it may wait for is listed \
             below). Its thread, in the runtime: {os}{}",
            stack_lines(os.tid)
        ),
        Some(os) => format!("\n  the test body{written}: {os}{}", stack_lines(os.tid)),
        None => format!("\n  the test body{written}: (its state cannot be read on this platform)"),
    }
}

/// A managed thread or task, without its age, so that a pool's alike threads read
/// the same.
fn describe_managed(info: &crate::threads::report::ThreadInfo) -> String {
    let kind = if info.is_task() { "task " } else { "" };
    format!(
        "{kind}{:?} in `{}`, spawned at {}",
        info.name(),
        info.container(),
        info.spawned_at()
    )
}

/// The test's child processes still running.
fn children_lines(scope: u64) -> String {
    let mut text = String::new();
    for pid in tracking::view_of(scope).children {
        if let Some((state, _)) = processes::process_stat(pid) {
            let command = processes::process_cmdline(pid).unwrap_or_default();
            text.push_str(&format!(
                "\n  child process (pid {pid}, state {state}): {command}"
            ));
        }
    }
    text
}

/// Entries that read the same once their names are set aside (same text but for the
/// first quoted name, same stack) become one, with every name listed (cut after
/// eight) and a count; in order of first appearance. Entries without a stack are
/// never grouped: nothing says they are alike.
fn grouped(entries: Vec<(String, String)>) -> Vec<(String, String, usize)> {
    // (text before the name, the names, text after it, the stack)
    let mut groups: Vec<(String, Vec<String>, String, String)> = Vec::new();
    for (line, where_now) in entries {
        let name_at = line
            .find('"')
            .and_then(|open| Some((open, open + 1 + line[open + 1..].find('"')?)));
        let (before, name, after) = match name_at {
            Some((open, close)) => (
                line[..open].to_string(),
                line[open..=close].to_string(),
                line[close + 1..].to_string(),
            ),
            None => (line.clone(), String::new(), String::new()),
        };
        let alike = groups.iter_mut().find(|(b, _, a, w)| {
            !where_now.is_empty()
                && !name.is_empty()
                && *b == before
                && *a == after
                && *w == where_now
        });
        match alike {
            Some((_, names, _, _)) => names.push(name),
            None => groups.push((before, vec![name], after, where_now)),
        }
    }
    groups
        .into_iter()
        .map(|(before, names, after, where_now)| {
            let count = names.len();
            let mut shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
            let more = format!("and {} more", count.saturating_sub(8));
            if count > 8 {
                shown.push(&more);
            }
            (
                format!("{before}{}{after}", shown.join(", ")),
                where_now,
                count,
            )
        })
        .collect()
}

/// A helper thread that dumps the test's live threads to stderr if it runs longer
/// than `timeout`. Stopped (and gone) when the test ends.
pub(in crate::leaks) fn spawn_watchdog(
    test: String,
    timeout: Duration,
    registry: ThreadRegistry,
    body: Option<u32>,
    tracked_scope: Option<u64>,
    kind: BodyKind,
) -> StopToken {
    let done = StopToken::new();
    let watching = done.clone();
    let registered = std::sync::Arc::new(Completion::new());
    let ready = registered.clone();
    let spawned = std::thread::Builder::new()
        .name("iris-watchdog".into())
        .spawn(move || {
            let _helper = os_threads::HelperRegistration::new(current_os_tid());
            let _ = ready.complete(());
            if !watching.wait_timeout(timeout) {
                output::from_watchdog(&format!(
                    "iris: test `{test}` is still running after {timeout:?}\n{}",
                    describe_live(&registry, None, tracked_scope, body, kind)
                ));
                watching.wait();
            }
        });
    if spawned.is_ok() {
        // Registered before the test body runs, so it is never mistaken for a leak.
        let _ = registered.take(Deadline::after(Duration::from_secs(5)));
    }
    done
}
