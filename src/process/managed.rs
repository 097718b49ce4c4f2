//! [`ManagedProcess`]: a child process with the lifecycle of a managed thread, and
//! its output turned into structured [`LogLine`]s.
//!
//! Invariants:
//! - The child runs in its own process group; stopping it sends SIGTERM to the whole
//!   group, waits the grace period, then sends SIGKILL to the group. Grandchildren go
//!   with it, and so do descendants that left the group (`setsid`, a double fork):
//!   the supervisor walks the tree while the child runs and before every signal
//!   (`tree.rs`), so nothing the test started outlives a stop.
//! - A managed process is not finished while a descendant that left its group is
//!   alive: its supervisor stays (and so shows in `alive_threads`) until a stop ends
//!   the escapee, and a test that ends with one alive reports it.
//! - A reaper thread waits on the child, so it is always reaped (no zombie), however
//!   the handle is used or dropped.
//! - Every thread of a process (supervisor, reaper, one reader per stream) is a
//!   managed thread in a child container named after the process: stopping the owning
//!   container stops the process first (children first), under the same deadline, and
//!   a process that will not die shows up as a straggler.
//! - Output is read into a ring of raw line bytes bounded in memory (`capture.rs`);
//!   the oldest lines are dropped (and counted) first, and a single line is cut at a
//!   maximum length. A child printing 100 MB costs at most the cap in memory, and a
//!   line is decoded only when someone asks for it.
//! - Waiting for a line wakes on the line itself (condvar), never by polling.

use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use parking_lot::{Condvar, Mutex};

use super::capture::{Capture, LogLine, Stream};
use super::errors::{ProcessError, ProcessWaitError};
use super::live::LIVE;
use super::options::ProcessOptions;
use super::output::ProcessOutput;
use super::readers::read_lines;
use super::shared::{Shared, State};
use super::tree::{signal_group, Escapees};
use crate::sync::deadline::Deadline;
use crate::threads::container::ThreadContainer;
use crate::threads::report::SpawnError;

/// A child process owned by a container. Clones share the process.
///
/// It runs in its own process group; a stop (the container's, or [`stop`](Self::stop))
/// sends SIGTERM to the group, waits the grace period, then SIGKILL. A reaper thread
/// always reaps it. Its stdout and stderr become [`LogLine`]s in a ring buffer bounded
/// in bytes, each also logged through `tracing`.
///
/// Use it for servers and tools your tests start. Do not use it for a command whose
/// output you only need at the end: [`run_process`](crate::run_process) is simpler.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use iris::ThreadContainer;
///
/// let app = ThreadContainer::new("app");
/// let mut command = Command::new("sh");
/// command.args(["-c", "echo listening on 8080; exec sleep 30"]);
/// let server = app.spawn_process("server", command).unwrap();
/// let ready = server
///     .wait_for_line(|line| line.text.starts_with("listening on"), Duration::from_secs(5))
///     .unwrap();
/// assert_eq!(ready.text, "listening on 8080");
/// app.stop(Duration::from_secs(5)).unwrap(); // SIGTERM to the group, then reaped
/// assert!(!server.is_running());
/// ```
#[derive(Clone)]
pub struct ManagedProcess {
    shared: Arc<Shared>,
}

fn command_line(command: &Command) -> String {
    let mut parts = vec![command.get_program().to_string_lossy().into_owned()];
    parts.extend(command.get_args().map(quote_arg));
    parts.join(" ")
}

fn quote_arg(arg: &OsStr) -> String {
    let text = arg.to_string_lossy();
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

impl ThreadContainer {
    /// Starts `command` as a managed process named `name`, with default
    /// [`ProcessOptions`]. See [`ManagedProcess`].
    #[track_caller]
    pub fn spawn_process(
        &self,
        name: impl Into<String>,
        command: Command,
    ) -> Result<ManagedProcess, ProcessError> {
        self.spawn_process_with(name, command, ProcessOptions::default())
    }

    /// Starts `command` as a managed process: in its own process group, stdin from
    /// `/dev/null`, stdout and stderr captured line by line. Its threads live in a
    /// child container named `name`.
    #[track_caller]
    pub fn spawn_process_with(
        &self,
        name: impl Into<String>,
        mut command: Command,
        options: ProcessOptions,
    ) -> Result<ManagedProcess, ProcessError> {
        let name = name.into();
        if self.is_stopped() {
            return Err(ProcessError::Container(SpawnError::Stopped {
                container: self.path().to_string(),
                thread: name,
            }));
        }
        let program = command.get_program().to_string_lossy().into_owned();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().map_err(|source| ProcessError::Start {
            program: program.clone(),
            source,
        })?;
        let group = self.create_child(name.clone());
        let shared = Arc::new(Shared {
            name: name.clone(),
            container_path: group.path().to_string(),
            pid: child.id(),
            command_line: command_line(&command),
            grace: options.grace,
            log_limit: options.log_bytes,
            log_budget: AtomicUsize::new(options.log_bytes),
            state: Mutex::new(State {
                exit: None,
                exited_at: None,
                open_streams: 2,
                stop_requested: false,
                capture: Capture::new(options.capture_bytes),
            }),
            changed: Condvar::new(),
            new_lines: Condvar::new(),
            escapees: Escapees::default(),
        });
        {
            let mut live = LIVE.lock();
            live.retain(|w| w.strong_count() > 0);
            live.push(Arc::downgrade(&shared));
        }
        let process = ManagedProcess { shared };
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        if let Err(error) = process.start_threads(&group, child, stdout, stderr, &options) {
            return Err(ProcessError::Container(error));
        }
        tracing::debug!(process = %name, pid = process.pid(), command = %process.shared.command_line, "started");
        Ok(process)
    }
}

impl ManagedProcess {
    #[track_caller]
    fn start_threads(
        &self,
        group: &ThreadContainer,
        mut child: Child,
        stdout: Option<impl Read + Send + 'static>,
        stderr: Option<impl Read + Send + 'static>,
        options: &ProcessOptions,
    ) -> Result<(), SpawnError> {
        let name = &self.shared.name;
        // The reaper first: whatever fails next, the child is reaped.
        let shared = self.shared.clone();
        let reaper = group.try_spawn(format!("{name}-wait"), move |_stop| {
            let status = child.wait();
            let mut state = shared.state.lock();
            state.exit = Some(status.unwrap_or_else(|_| ExitStatus::from_raw(-1)));
            state.exited_at = Some(Instant::now());
            drop(state);
            shared.changed.notify_all();
        });
        if let Err(error) = reaper {
            // No thread will wait: kill and reap here (the `Child` went with the
            // closure), then report.
            signal_group(self.shared.pid, Signal::SIGKILL, &self.shared.name);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(self.shared.pid as i32), None);
            let mut state = self.shared.state.lock();
            state.exit = Some(ExitStatus::from_raw(Signal::SIGKILL as i32));
            state.exited_at = Some(Instant::now());
            return Err(error);
        }
        let readers = [
            (
                Stream::Stdout,
                stdout.map(|s| Box::new(s) as Box<dyn Read + Send>),
            ),
            (
                Stream::Stderr,
                stderr.map(|s| Box::new(s) as Box<dyn Read + Send>),
            ),
        ];
        for (stream, pipe) in readers {
            let shared = self.shared.clone();
            let (max_line, log) = (options.max_line_bytes, options.log_bytes > 0);
            let spawned = group.try_spawn(format!("{name}-{}", stream.as_str()), move |_stop| {
                if let Some(pipe) = pipe {
                    read_lines(&shared, stream, pipe, max_line, log);
                }
                let mut state = shared.state.lock();
                state.open_streams -= 1;
                if state.open_streams == 0 {
                    state.capture.freeze();
                }
                drop(state);
                shared.changed.notify_all();
                shared.new_lines.notify_all();
            });
            if let Err(error) = spawned {
                signal_group(self.shared.pid, Signal::SIGKILL, &self.shared.name);
                return Err(error);
            }
        }
        let shared = self.shared.clone();
        let supervisor = group.try_spawn(name.clone(), move |stop| {
            let waker = shared.clone();
            stop.on_stop(move || {
                waker.state.lock().stop_requested = true;
                waker.changed.notify_all();
            });
            shared.supervise();
        });
        if let Err(error) = supervisor {
            signal_group(self.shared.pid, Signal::SIGKILL, &self.shared.name);
            return Err(error);
        }
        Ok(())
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The child's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.shared.pid
    }

    /// The command line, for reports (arguments quoted as a shell would need).
    pub fn command_line(&self) -> &str {
        &self.shared.command_line
    }

    /// Whether the child has not exited yet.
    pub fn is_running(&self) -> bool {
        self.shared.state.lock().exit.is_none()
    }

    /// How the child exited, once it has.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.shared.state.lock().exit
    }

    /// Waits for the child to exit, at most `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> Result<ExitStatus, ProcessWaitError> {
        self.shared
            .wait_until(timeout, |s| s.exit)
            .ok_or_else(|| self.timed_out("exit", timeout))
    }

    /// Waits until a line for which `predicate` is true has been printed (including
    /// lines printed before the call that are still in the buffer), and returns it.
    /// Wakes on each new line; fails early if the process closes its output first.
    pub fn wait_for_line(
        &self,
        mut predicate: impl FnMut(&LogLine) -> bool,
        timeout: Duration,
    ) -> Result<LogLine, ProcessWaitError> {
        let deadline = Deadline::after(timeout);
        let mut next = 0u64;
        loop {
            // Copy new lines out, so the predicate runs without our lock held.
            let (fresh, ended, status) = {
                let mut state = self.shared.state.lock();
                while state.capture.next_seq() == next
                    && state.open_streams > 0
                    && !deadline.is_expired()
                {
                    deadline.wait(&self.shared.new_lines, &mut state);
                }
                let fresh = state.capture.lines_from(next);
                next = state.capture.next_seq();
                (fresh, state.open_streams == 0, state.exit)
            };
            if let Some(found) = fresh.into_iter().find(|l| predicate(l)) {
                return Ok(found);
            }
            if ended {
                return Err(ProcessWaitError::OutputEnded {
                    name: self.shared.name.clone(),
                    status,
                });
            }
            if deadline.is_expired() {
                return Err(self.timed_out("a matching line", timeout));
            }
        }
    }

    /// A copy of the captured lines, oldest first.
    pub fn lines(&self) -> Vec<LogLine> {
        self.shared.state.lock().capture.lines_from(0)
    }

    /// How many lines were dropped from the ring buffer so far.
    pub fn dropped_lines(&self) -> u64 {
        self.shared.state.lock().capture.dropped()
    }

    /// Asks the process to stop (SIGTERM to its group, SIGKILL after the grace
    /// period) without waiting. Stopping the owning container does the same.
    pub fn stop(&self) {
        self.shared.state.lock().stop_requested = true;
        self.shared.changed.notify_all();
    }

    /// [`stop`](Self::stop), then waits for the exit, at most `timeout`.
    pub fn terminate(&self, timeout: Duration) -> Result<ExitStatus, ProcessWaitError> {
        self.stop();
        self.wait_exit(timeout)
    }

    /// What the process printed and how it ended, once its output is closed (waiting
    /// at most `timeout` for that).
    pub fn output(&self, timeout: Duration) -> Result<ProcessOutput, ProcessWaitError> {
        self.shared
            .wait_until(timeout, |s| {
                (s.open_streams == 0 && s.exit.is_some()).then_some(())
            })
            .ok_or_else(|| self.timed_out("end of output", timeout))?;
        Ok(self.snapshot())
    }

    pub(super) fn snapshot(&self) -> ProcessOutput {
        let state = self.shared.state.lock();
        ProcessOutput::new(
            state.exit,
            state.capture.dropped(),
            state.capture.retained_from(0),
        )
    }

    fn timed_out(&self, what: &'static str, timeout: Duration) -> ProcessWaitError {
        ProcessWaitError::TimedOut {
            name: self.shared.name.clone(),
            what,
            timeout,
        }
    }
}

impl Shared {
    /// Waits until `ready` gives a value or the deadline passes.
    fn wait_until<T>(
        &self,
        timeout: Duration,
        mut ready: impl FnMut(&State) -> Option<T>,
    ) -> Option<T> {
        let deadline = Deadline::after(timeout);
        let mut state = self.state.lock();
        loop {
            if let Some(value) = ready(&state) {
                return Some(value);
            }
            if deadline.is_expired() {
                return None;
            }
            deadline.wait(&self.changed, &mut state);
        }
    }

    /// Sends `signal` to the child's process group and to every descendant that left
    /// it (walking the tree once more first, while the child is not reaped).
    fn signal_tree(&self, signal: Signal) {
        if self.state.lock().exit.is_none() {
            self.escapees.track(self.pid);
        }
        signal_group(self.pid, signal, &self.name);
        self.escapees.signal(signal, &self.name);
    }

    /// The supervisor's body: until a stop is requested, or the child exited, its
    /// output closed and no descendant that left its group is alive; on a stop,
    /// SIGTERM, grace, SIGKILL, for the child, then for whatever of its tree still
    /// holds the output open, then for escaped descendants.
    ///
    /// Meanwhile it walks the child's tree now and then (from 1 ms after the start,
    /// doubling up to 250 ms), so that a descendant that leaves the group and whose
    /// parent exits is still known.
    fn supervise(&self) {
        let mut walk_every = Duration::from_millis(1);
        let mut state = self.state.lock();
        loop {
            if state.stop_requested {
                break;
            }
            let child_running = state.exit.is_none();
            if !child_running && state.open_streams == 0 && self.escapees.alive().is_empty() {
                return;
            }
            Deadline::after(walk_every).wait(&self.changed, &mut state);
            walk_every = (walk_every * 2).min(Duration::from_millis(250));
            if state.exit.is_none() && !state.stop_requested {
                drop(state);
                self.escapees.track(self.pid);
                state = self.state.lock();
            }
        }
        drop(state);
        self.terminate_until("exit", |s| s.exit.is_some());
        // Grandchildren that kept the output open go too, so the readers end.
        self.terminate_until("close its output", |s| s.open_streams == 0);
        self.terminate_escapees();
    }

    /// SIGTERM to the escaped descendants still alive, the grace period, SIGKILL.
    fn terminate_escapees(&self) {
        if self.escapees.alive().is_empty() {
            return;
        }
        self.escapees.signal(Signal::SIGTERM, &self.name);
        let gone = crate::wait::condition::Wait::new()
            .timeout(self.grace)
            .until(|| self.escapees.alive().is_empty());
        if gone.is_err() {
            tracing::warn!(process = %self.name, "descendants that left the process group did not exit within {:?} of SIGTERM; sending SIGKILL", self.grace);
            self.escapees.signal(Signal::SIGKILL, &self.name);
        }
    }

    /// Unless `done` already holds: SIGTERM to the group, the grace period, SIGKILL.
    fn terminate_until(&self, what: &str, done: impl Fn(&State) -> bool) {
        if done(&self.state.lock()) {
            return;
        }
        self.signal_tree(Signal::SIGTERM);
        if self
            .wait_until(self.grace, |s| done(s).then_some(()))
            .is_none()
        {
            tracing::warn!(
                process = %self.name,
                pid = self.pid,
                "did not {what} within {:?} of SIGTERM; sending SIGKILL",
                self.grace
            );
            self.signal_tree(Signal::SIGKILL);
        }
    }

    /// Logs a line through `tracing` while the log budget lasts.
    pub(super) fn log_line(&self, stream: Stream, text: &str) {
        let cost = text.len().max(1);
        let before = self
            .log_budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                (left > 0).then(|| left.saturating_sub(cost))
            });
        match before {
            Err(_) => {} // the budget was spent before this line
            Ok(left) if left >= cost => {
                tracing::info!(process = %self.name, stream = stream.as_str(), "{text}");
            }
            Ok(_) => tracing::info!(
                process = %self.name,
                "output beyond {} bytes is no longer logged; it is still captured (ManagedProcess::lines)",
                self.log_limit
            ),
        }
    }
}

impl fmt::Debug for ManagedProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("ManagedProcess")
            .field("name", &self.shared.name)
            .field("pid", &self.shared.pid)
            .field("command", &self.shared.command_line)
            .field("exit", &state.exit)
            .field("next_line", &state.capture.next_seq())
            .field("dropped_lines", &state.capture.dropped())
            .field("stop_requested", &state.stop_requested)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_quotes_what_a_shell_would_need() {
        let mut command = Command::new("sh");
        command.args(["-c", "trap '' TERM; echo ready", "plain-arg_1.txt", ""]);
        assert_eq!(
            command_line(&command),
            "sh -c 'trap '\\'''\\'' TERM; echo ready' plain-arg_1.txt ''"
        );
    }
}
