//! [`LeakReport`]: what a test left behind, written for the person who has to fix it.
//!
//! Invariants:
//! - The first line is the contract: ``iris: test `NAME` leaked N thread(s)`` when
//!   anything leaked (N counts managed stragglers and unmanaged threads), otherwise
//!   ``iris: test `NAME` had N background panic(s)``.
//! - Identical leaks (same name up to digits, container, spawn site and blocking
//!   point) are grouped into one line with a count, so a leaked pool of 16 workers
//!   is one line, not 16.
//! - The report ends with a hint pointing at the guide.
//! - A report is plain owned data (`Send + Sync + 'static`), and can be turned into
//!   one JSON line for `IRIS_LEAK_REPORT`.

use std::fmt;

use crate::os::threads::OsThread;
use crate::threads::report::{ThreadInfo, ThreadPanic};

/// A managed thread still running after the test's registry was stopped.
#[derive(Clone, Debug)]
pub struct Straggler {
    /// Name, container path, spawn site, age.
    pub info: ThreadInfo,
    /// What the kernel says it is doing (Linux), read when the report was made.
    pub os: Option<OsThread>,
}

/// An OS thread born during the test that was still alive after the grace period.
#[derive(Clone, Debug)]
pub struct UnmanagedThread {
    /// What the kernel says about it.
    pub os: OsThread,
    /// Its managed description when it is a managed thread of some *other* container
    /// (spawned outside the test's registry, e.g. into a container the test made).
    pub managed: Option<ThreadInfo>,
}

/// A child process still alive (or unreaped) after the test.
#[derive(Clone, Debug)]
pub struct LeakedProcess {
    /// Its process id.
    pub pid: u32,
    /// Its command line.
    pub command_line: String,
    /// The kernel's state letter (`Z` is a zombie nobody reaped), when known.
    pub state: Option<char>,
    /// Its name, when it is a managed process.
    pub name: Option<String>,
    /// The path of the container that owns it, when it is a managed process.
    pub container: Option<String>,
}

impl fmt::Display for LeakedProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, &self.container) {
            (Some(name), Some(container)) => write!(f, "process {name:?} in `{container}`")?,
            _ => f.write_str("unmanaged child process")?,
        }
        write!(f, " (pid {}): {}", self.pid, self.command_line)?;
        match self.state {
            Some('Z') => f.write_str(", a zombie nobody reaped"),
            Some(state) => write!(f, ", state {state}"),
            None => Ok(()),
        }
    }
}

/// Whether the unmanaged-thread check ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnmanagedCheck {
    /// It ran: the test owned the process.
    Checked,
    /// It did not, and why (shared process, unsupported platform, disabled).
    Skipped(String),
}

/// What a test left behind: managed stragglers, unmanaged threads, background panics.
#[derive(Clone, Debug)]
pub struct LeakReport {
    pub(crate) test: String,
    pub(crate) stragglers: Vec<Straggler>,
    pub(crate) unmanaged: Vec<UnmanagedThread>,
    pub(crate) processes: Vec<LeakedProcess>,
    pub(crate) panics: Vec<ThreadPanic>,
    pub(crate) unmanaged_check: UnmanagedCheck,
}

impl LeakReport {
    /// The test's name.
    pub fn test(&self) -> &str {
        &self.test
    }

    /// Managed threads that did not exit before the stop deadline.
    pub fn stragglers(&self) -> &[Straggler] {
        &self.stragglers
    }

    /// OS threads born during the test that outlived it.
    pub fn unmanaged(&self) -> &[UnmanagedThread] {
        &self.unmanaged
    }

    /// Child processes still alive after the test (managed ones always; unmanaged
    /// ones when the test owns the process).
    pub fn processes(&self) -> &[LeakedProcess] {
        &self.processes
    }

    /// Managed threads of the test that panicked.
    pub fn panics(&self) -> &[ThreadPanic] {
        &self.panics
    }

    /// Whether the unmanaged check ran.
    pub fn unmanaged_check(&self) -> &UnmanagedCheck {
        &self.unmanaged_check
    }

    /// How many threads leaked (stragglers and unmanaged).
    pub fn leaked(&self) -> usize {
        self.stragglers.len() + self.unmanaged.len()
    }

    /// Whether nothing leaked and nothing panicked.
    pub fn is_clean(&self) -> bool {
        self.leaked() == 0 && self.processes.is_empty() && self.panics.is_empty()
    }

    /// One line of JSON (no trailing newline) with the findings, for machines.
    pub fn to_json_line(&self) -> String {
        use serde_json::{json, Value};
        let info = |i: &ThreadInfo| {
            json!({
                "name": i.name(),
                "container": i.container(),
                "spawned_at": i.spawned_at().to_string(),
                "alive_ms": i.alive_for().as_millis() as u64,
            })
        };
        let os = |o: &OsThread| json!({"tid": o.tid, "name": o.name, "state": o.state.to_string(), "blocked_in": o.blocked_in});
        let stragglers: Vec<Value> = self
            .stragglers
            .iter()
            .map(|s| {
                let mut v = info(&s.info);
                v["os"] = s.os.as_ref().map_or(Value::Null, os);
                v
            })
            .collect();
        let unmanaged: Vec<Value> = self
            .unmanaged
            .iter()
            .map(|u| {
                let mut v = os(&u.os);
                v["managed"] = u.managed.as_ref().map_or(Value::Null, info);
                v
            })
            .collect();
        let panics: Vec<Value> = self
            .panics
            .iter()
            .map(|p| json!({"thread": p.thread_name(), "container": p.container(), "message": p.message()}))
            .collect();
        let check = match &self.unmanaged_check {
            UnmanagedCheck::Checked => "checked".to_string(),
            UnmanagedCheck::Skipped(why) => format!("skipped: {why}"),
        };
        let processes: Vec<Value> = self
            .processes
            .iter()
            .map(|p| {
                json!({
                    "pid": p.pid,
                    "command_line": p.command_line,
                    "state": p.state.map(|c| c.to_string()),
                    "name": p.name,
                    "container": p.container,
                })
            })
            .collect();
        json!({
            "test": self.test,
            "leaked": self.leaked(),
            "stragglers": stragglers,
            "unmanaged": unmanaged,
            "processes": processes,
            "panics": panics,
            "unmanaged_check": check,
        })
        .to_string()
    }
}

impl std::error::Error for LeakReport {}

/// The key under which identical leaks are grouped: the name with every run of
/// digits replaced by `N` ("worker-12" and "worker-3" are both "worker-N").
fn name_shape(name: &str) -> String {
    let mut shape = String::with_capacity(name.len());
    let mut in_digits = false;
    for c in name.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                shape.push('N');
            }
            in_digits = true;
        } else {
            shape.push(c);
            in_digits = false;
        }
    }
    shape
}

/// Groups `items` by `key`, keeping first-seen order.
fn group<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> Vec<(K, Vec<&T>)> {
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

fn os_suffix(os: Option<&OsThread>) -> String {
    match os {
        Some(os) => match &os.blocked_in {
            Some(wchan) => format!(", {} in {wchan}", os.state_name()),
            None => format!(", {}", os.state_name()),
        },
        None => String::new(),
    }
}

fn count_prefix(n: usize) -> String {
    if n > 1 {
        format!("{n}x ")
    } else {
        String::new()
    }
}

impl fmt::Display for LeakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.leaked() > 0 || !self.processes.is_empty() {
            write!(
                f,
                "iris: test `{}` leaked {} thread(s)",
                self.test,
                self.leaked()
            )?;
            if !self.processes.is_empty() {
                write!(f, " and {} process(es)", self.processes.len())?;
            }
        } else {
            write!(
                f,
                "iris: test `{}` had {} background panic(s)",
                self.test,
                self.panics.len()
            )?;
        }

        let stragglers = group(&self.stragglers, |s| {
            (
                name_shape(s.info.name()),
                s.info.container().to_string(),
                s.info.spawned_at(),
                s.os.as_ref().and_then(|o| o.blocked_in.clone()),
            )
        });
        for ((shape, container, spawned_at, _), members) in &stragglers {
            let first = members[0];
            let name = if members.len() > 1 {
                shape.as_str()
            } else {
                first.info.name()
            };
            let oldest = members
                .iter()
                .map(|s| s.info.alive_for())
                .max()
                .unwrap_or_default();
            write!(
                f,
                "\n  {}{name:?} in `{container}`, spawned at {spawned_at}, alive for {oldest:.2?}{}",
                count_prefix(members.len()),
                os_suffix(first.os.as_ref())
            )?;
        }

        let unmanaged = group(&self.unmanaged, |u| {
            (
                name_shape(&u.os.name),
                u.managed
                    .as_ref()
                    .map(|m| (m.container().to_string(), m.spawned_at())),
                u.os.blocked_in.clone(),
            )
        });
        for ((shape, managed, _), members) in &unmanaged {
            let first = members[0];
            let name = if members.len() > 1 {
                shape.as_str()
            } else {
                first.os.name.as_str()
            };
            let tids: Vec<String> = members.iter().map(|u| u.os.tid.to_string()).collect();
            write!(
                f,
                "\n  {}unmanaged thread {name:?} (tid {}){}",
                count_prefix(members.len()),
                tids.join(", "),
                os_suffix(Some(&first.os))
            )?;
            if let Some((container, spawned_at)) = managed {
                write!(
                    f,
                    "; managed by `{container}` (not the test's registry), spawned at {spawned_at}"
                )?;
            }
        }

        for process in &self.processes {
            write!(f, "\n  {process}")?;
        }

        if !self.panics.is_empty() {
            if self.leaked() > 0 || !self.processes.is_empty() {
                write!(f, "\n  and {} background panic(s):", self.panics.len())?;
            }
            for panic in &self.panics {
                write!(f, "\n  {panic}")?;
            }
        }

        if let UnmanagedCheck::Skipped(why) = &self.unmanaged_check {
            write!(
                f,
                "\n  (threads spawned outside Iris were not checked: {why})"
            )?;
        }
        let advice = if !self.processes.is_empty() && self.leaked() == 0 {
            "stop (or wait for) every child process the test starts; ManagedProcess does it for you"
        } else if self.leaked() > 0 {
            "make each leaked thread honour its StopToken (or join it) before the test ends"
        } else {
            "a background thread panicked; its message is above"
        };
        write!(
            f,
            "\n  hint: {advice}; see docs/thread-safety.md, \"Reading a leak report\""
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::Location;
    use std::time::Instant;

    fn info(name: &str, at: &'static Location<'static>) -> ThreadInfo {
        ThreadInfo {
            name: name.into(),
            container: "test:t/pool".into(),
            spawned_at: at,
            started: Instant::now(),
            os_tid: None,
        }
    }

    fn report(stragglers: Vec<Straggler>, panics: Vec<ThreadPanic>) -> LeakReport {
        LeakReport {
            test: "t".into(),
            stragglers,
            unmanaged: Vec::new(),
            processes: Vec::new(),
            panics,
            unmanaged_check: UnmanagedCheck::Checked,
        }
    }

    #[test]
    fn names_are_shaped_by_digit_runs() {
        assert_eq!(name_shape("worker-12"), "worker-N");
        assert_eq!(name_shape("w1-x22y3"), "wN-xNyN");
        assert_eq!(name_shape(""), "");
    }

    #[test]
    fn identical_leaks_are_grouped() {
        let at = Location::caller();
        let other = Location::caller();
        let mut stragglers: Vec<_> = (0..16)
            .map(|i| Straggler {
                info: info(&format!("worker-{i}"), at),
                os: None,
            })
            .collect();
        stragglers.push(Straggler {
            info: info("server", other),
            os: None,
        });
        let text = report(stragglers, Vec::new()).to_string();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "iris: test `t` leaked 17 thread(s)");
        assert!(
            lines[1].starts_with(
                "  16x \"worker-N\" in `test:t/pool`, spawned at src/leaks/report.rs:"
            ),
            "{text}"
        );
        assert!(
            lines[2].starts_with("  \"server\" in `test:t/pool`"),
            "{text}"
        );
        assert!(
            lines[3].contains("hint:") && lines[3].contains("Reading a leak report"),
            "{text}"
        );
    }

    #[test]
    fn panics_only_report_and_json() {
        let panic = ThreadPanic {
            thread_name: "boom".into(),
            container: "test:t".into(),
            message: "bad \"quote\"".into(),
        };
        let r = report(Vec::new(), vec![panic]);
        let text = r.to_string();
        assert!(
            text.starts_with(
                "iris: test `t` had 1 background panic(s)\n  \"boom\" in `test:t` panicked"
            ),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json_line()).unwrap();
        assert_eq!(json["test"], "t");
        assert_eq!(json["panics"][0]["message"], "bad \"quote\"");
        assert_eq!(json["leaked"], 0);
        assert!(!r.to_json_line().contains('\n'));
    }
}
