//! The JSON line of a report (`IRIS_LEAK_REPORT`), and [`Json`]: the few JSON values
//! it writes, built and printed by hand.
//!
//! Why not serde_json: Iris is linked into every test binary of a user's crate, and
//! serde_json's `impl PartialEq<Value> for i32` (and friends) then take part in type
//! inference there, so an innocent `assert_eq!(v.as_slice(), &[])` stops compiling
//! (found on rayon's own test suite). A report needs objects, arrays, strings,
//! numbers and null, written once: a page of code.
//!
//! Invariant: [`Json::write`] always produces valid JSON (RFC 8259): strings are
//! escaped, control characters as `\u00XX`, and object keys keep their given order.

use std::fmt::{self, Write};

use super::model::{LeakReport, Straggler, UnmanagedCheck, UnmanagedThread};
use crate::os::threads::OsThread;
use crate::threads::report::{ThreadInfo, ThreadPanic};
use crate::tracking::{Frame, PlainPanic, ThreadOrigin};

/// A JSON value, as a report builds it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(u64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(&'static str, Json)>),
}

impl Json {
    /// An object from its fields, in order.
    pub(crate) fn object<const N: usize>(fields: [(&'static str, Json); N]) -> Json {
        Json::Object(fields.into())
    }

    /// Adds (or replaces) a field of an object; a no-op on other values.
    pub(crate) fn set(&mut self, key: &'static str, value: Json) {
        if let Json::Object(fields) = self {
            match fields.iter_mut().find(|(k, _)| *k == key) {
                Some(field) => field.1 = value,
                None => fields.push((key, value)),
            }
        }
    }

    fn write(&self, out: &mut impl Write) -> fmt::Result {
        match self {
            Json::Null => out.write_str("null"),
            Json::Bool(b) => write!(out, "{b}"),
            Json::Number(n) => write!(out, "{n}"),
            Json::String(s) => write_string(s, out),
            Json::Array(items) => {
                out.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.write_char(',')?;
                    }
                    item.write(out)?;
                }
                out.write_char(']')
            }
            Json::Object(fields) => {
                out.write_char('{')?;
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.write_char(',')?;
                    }
                    write_string(key, out)?;
                    out.write_char(':')?;
                    value.write(out)?;
                }
                out.write_char('}')
            }
        }
    }
}

fn write_string(s: &str, out: &mut impl Write) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if u32::from(c) < 0x20 => write!(out, "\\u{:04x}", u32::from(c))?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f)
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::String(s.to_string())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::String(s)
    }
}

impl From<u64> for Json {
    fn from(n: u64) -> Json {
        Json::Number(n)
    }
}

impl From<usize> for Json {
    fn from(n: usize) -> Json {
        Json::Number(n as u64)
    }
}

impl From<u32> for Json {
    fn from(n: u32) -> Json {
        Json::Number(u64::from(n))
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(value: Option<T>) -> Json {
        value.map_or(Json::Null, Into::into)
    }
}

impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(items: Vec<T>) -> Json {
        Json::Array(items.into_iter().map(Into::into).collect())
    }
}

impl LeakReport {
    /// One line of JSON (no trailing newline) with the findings, for machines.
    pub fn to_json_line(&self) -> String {
        fn list<T>(items: &[T], each: impl Fn(&T) -> Json) -> Json {
            Json::from(items.iter().map(each).collect::<Vec<_>>())
        }
        Json::object([
            ("test", self.test.as_str().into()),
            ("leaked", self.findings().into()),
            (
                "timed_out_ms",
                self.timed_out.map(|t| t.as_millis() as u64).into(),
            ),
            ("counts", self.counts_json()),
            ("stragglers", list(&self.stragglers, straggler_json)),
            ("unmanaged", list(&self.unmanaged, unmanaged_json)),
            ("processes", list(&self.processes, process_json)),
            ("panics", list(&self.panics, thread_panic_json)),
            ("plain_panics", list(&self.plain_panics, plain_panic_json)),
            ("task_panics", self.task_panics_json().into()),
            (
                "warned",
                Json::object([
                    (
                        "plain_panics",
                        list(&self.warned.plain_panics, plain_panic_json),
                    ),
                    ("task_panics", self.warned_task_panics_json().into()),
                ]),
            ),
            ("teardown", self.teardown_json()),
            ("unmanaged_check", self.check_json()),
            ("tasks", self.tasks_json()),
        ])
        .to_string()
    }

    /// How many findings of each kind.
    fn counts_json(&self) -> Json {
        Json::object([
            ("threads", self.leaked().into()),
            ("tasks", self.leaked_tasks().into()),
            ("processes", self.processes.len().into()),
            (
                "panics",
                (self.panics.len() + self.plain_panics.len() + self.tasks.panic_count()).into(),
            ),
            ("blocked", self.tasks.blocked_count().into()),
            ("teardown", self.counted_teardown().into()),
        ])
    }

    /// What the teardown had to end, and whether it counts.
    fn teardown_json(&self) -> Json {
        let teardown = &self.teardown;
        Json::object([
            ("counted", teardown.counted.into()),
            (
                "stopped",
                teardown
                    .stopped
                    .iter()
                    .map(info_json)
                    .collect::<Vec<_>>()
                    .into(),
            ),
            (
                "stopped_processes",
                teardown
                    .stopped_processes
                    .iter()
                    .map(|p| Json::from(p.as_str()))
                    .collect::<Vec<_>>()
                    .into(),
            ),
            (
                "cancelled_tasks",
                teardown
                    .cancelled_tasks
                    .iter()
                    .map(info_json)
                    .collect::<Vec<_>>()
                    .into(),
            ),
            ("cancelled_plain", self.tasks.plain.into()),
        ])
    }

    /// How threads started outside Iris were checked.
    fn check_json(&self) -> Json {
        match &self.unmanaged_check {
            UnmanagedCheck::Checked => "checked".into(),
            UnmanagedCheck::Tracked => "tracked".into(),
            UnmanagedCheck::Skipped(why) => format!("skipped: {why}").into(),
        }
    }

    /// What an async test's runtime could not end.
    fn tasks_json(&self) -> Json {
        let runtime_thread = |thread: &OsThread| {
            let mut v = os_json(thread);
            v.set(
                "live_frames",
                self.tasks
                    .stacks
                    .get(&thread.tid)
                    .map(Vec::as_slice)
                    .map_or(Json::Null, frames_json),
            );
            v
        };
        let tasks = &self.tasks;
        Json::object([
            (
                "stragglers",
                tasks
                    .stragglers
                    .iter()
                    .map(info_json)
                    .collect::<Vec<_>>()
                    .into(),
            ),
            ("plain", tasks.plain.into()),
            (
                "blocking",
                tasks
                    .blocking
                    .iter()
                    .map(runtime_thread)
                    .collect::<Vec<_>>()
                    .into(),
            ),
            (
                "held_workers",
                tasks
                    .held_workers
                    .iter()
                    .map(runtime_thread)
                    .collect::<Vec<_>>()
                    .into(),
            ),
            ("blocked", self.blocked_json().into()),
        ])
    }
}

/// A managed thread that did not stop.
fn straggler_json(s: &Straggler) -> Json {
    let mut v = info_json(&s.info);
    v.set("os", s.os.as_ref().map_or(Json::Null, os_json));
    v.set(
        "live_frames",
        s.stack.as_deref().map_or(Json::Null, frames_json),
    );
    v
}

/// A thread started outside Iris that outlived the test.
fn unmanaged_json(u: &UnmanagedThread) -> Json {
    let mut v = os_json(&u.os);
    v.set("managed", u.managed.as_ref().map_or(Json::Null, info_json));
    v.set("origin", u.origin.as_ref().map_or(Json::Null, origin_json));
    v.set(
        "live_frames",
        u.stack.as_deref().map_or(Json::Null, frames_json),
    );
    v
}

/// A managed thread's panic.
fn thread_panic_json(p: &ThreadPanic) -> Json {
    Json::object([
        ("thread", p.thread_name().into()),
        ("container", p.container().into()),
        ("message", p.message().into()),
    ])
}

/// A managed thread or task.
fn info_json(i: &ThreadInfo) -> Json {
    Json::object([
        ("name", i.name().into()),
        ("container", i.container().into()),
        ("spawned_at", i.spawned_at().to_string().into()),
        ("alive_ms", (i.alive_for().as_millis() as u64).into()),
        ("stop_callback", i.is_stop_callback().into()),
    ])
}

/// An OS thread as the OS describes it.
fn os_json(o: &OsThread) -> Json {
    Json::object([
        ("tid", o.tid.into()),
        ("name", o.name.as_str().into()),
        ("state", o.state.to_string().into()),
        ("blocked_in", o.blocked_in.clone().into()),
    ])
}

fn frame_json(f: &Frame) -> Json {
    Json::object([
        ("function", f.function.as_str().into()),
        ("file", f.short_file().map(str::to_string).into()),
        ("line", f.line.into()),
    ])
}

fn frames_json(list: &[Frame]) -> Json {
    Json::from(list.iter().map(frame_json).collect::<Vec<_>>())
}

/// Where and by whom a thread was created.
fn origin_json(o: &ThreadOrigin) -> Json {
    Json::object([
        (
            "created_at",
            o.created_at.as_ref().map_or(Json::Null, frame_json),
        ),
        ("creator", o.creator.as_str().into()),
        ("creator_tid", o.creator_tid.into()),
        ("alive_ms", o.age.map(|a| a.as_millis() as u64).into()),
    ])
}

fn plain_panic_json(p: &PlainPanic) -> Json {
    Json::object([
        ("thread", p.thread.as_str().into()),
        ("tid", p.tid.into()),
        ("message", p.message.as_str().into()),
        ("location", p.location.clone().into()),
        ("origin", p.origin.as_ref().map_or(Json::Null, origin_json)),
    ])
}

fn process_json(p: &crate::leaks::report::LeakedProcess) -> Json {
    Json::object([
        ("pid", p.pid.into()),
        ("command_line", p.command_line.as_str().into()),
        ("state", p.state.map(|c| c.to_string()).into()),
        ("name", p.name.clone().into()),
        ("container", p.container.clone().into()),
    ])
}

impl LeakReport {
    /// The plain tasks' panics, for the JSON line.
    #[cfg(feature = "tokio")]
    fn task_panics_json(&self) -> Vec<Json> {
        self.tasks.panics.iter().map(task_panic_json).collect()
    }

    /// The plain tasks' panics written as a warning, for the JSON line.
    #[cfg(feature = "tokio")]
    fn warned_task_panics_json(&self) -> Vec<Json> {
        self.warned
            .task_panics
            .iter()
            .map(task_panic_json)
            .collect()
    }

    /// The workers a task held inside one poll while they slept, for the JSON line.
    #[cfg(feature = "tokio")]
    fn blocked_json(&self) -> Vec<Json> {
        self.tasks
            .blocked
            .iter()
            .map(|b| {
                let mut v = os_json(&b.os);
                v.set("held_ms", (b.held_for.as_millis() as u64).into());
                v.set(
                    "live_frames",
                    b.stack.as_deref().map_or(Json::Null, frames_json),
                );
                v
            })
            .collect()
    }

    #[cfg(not(feature = "tokio"))]
    fn blocked_json(&self) -> Vec<Json> {
        Vec::new()
    }

    #[cfg(not(feature = "tokio"))]
    fn task_panics_json(&self) -> Vec<Json> {
        Vec::new()
    }

    #[cfg(not(feature = "tokio"))]
    fn warned_task_panics_json(&self) -> Vec<Json> {
        Vec::new()
    }
}

/// One plain task's panic, for the JSON line.
#[cfg(feature = "tokio")]
fn task_panic_json(p: &crate::tasks::task_panics::TaskPanic) -> Json {
    Json::object([
        ("task", p.task.as_str().into()),
        ("message", p.message.as_str().into()),
        ("location", p.location.clone().into()),
        ("spawned_at", p.spawned_at.clone().into()),
        ("thread", p.thread.as_str().into()),
        ("caught_inside", p.caught_inside.into()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_valid_json_that_a_parser_reads_back() {
        let mut value = Json::object([
            (
                "name",
                "a \"quoted\"\\ name\nwith\tcontrol \u{1} and ü".into(),
            ),
            ("count", 3u64.into()),
            ("none", Json::from(None::<String>)),
            ("list", vec![Json::Null, Json::Array(vec![])].into()),
            ("empty", Json::object([])),
        ]);
        value.set("count", 4usize.into());
        value.set("extra", Some(7u32).into());
        let text = value.to_string();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({
                "name": "a \"quoted\"\\ name\nwith\tcontrol \u{1} and ü",
                "count": 4,
                "none": null,
                "list": [null, []],
                "empty": {},
                "extra": 7,
            })
        );
        // Keys keep their order.
        assert!(text.starts_with("{\"name\":"), "{text}");
        assert!(text.ends_with("\"extra\":7}"), "{text}");
    }
}
