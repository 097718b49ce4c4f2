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
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use parking_lot::{Condvar, Mutex};

use super::capture::{line_text, Capture, LogLine, Retained, Stream};
use super::tree::{signal_group, Escapees};
use crate::sync::deadline::Deadline;
use crate::threads::container::ThreadContainer;
use crate::threads::report::SpawnError;

const DEFAULT_LOG_BYTES: usize = 1 << 20;

/// How a managed process is run.
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    grace: Duration,
    capture_bytes: usize,
    max_line_bytes: usize,
    log_bytes: usize,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions {
            grace: Duration::from_secs(2),
            capture_bytes: 4 << 20,
            max_line_bytes: 64 << 10,
            log_bytes: DEFAULT_LOG_BYTES,
        }
    }
}

impl ProcessOptions {
    /// Defaults: 2 s grace, 4 MiB of captured lines, lines cut at 64 KiB, and the
    /// first 1 MiB of output also logged through `tracing`, line by line.
    pub fn new() -> ProcessOptions {
        ProcessOptions::default()
    }

    /// How long the process group gets between SIGTERM and SIGKILL.
    pub fn grace(mut self, grace: Duration) -> ProcessOptions {
        self.grace = grace;
        self
    }

    /// How much memory the retained output may take (the oldest lines go first):
    /// the lines' bytes plus 24 bytes of bookkeeping per line.
    pub fn capture_bytes(mut self, bytes: usize) -> ProcessOptions {
        self.capture_bytes = bytes;
        self
    }

    /// The longest line kept whole (at least 1 byte); longer lines are cut.
    pub fn max_line_bytes(mut self, bytes: usize) -> ProcessOptions {
        self.max_line_bytes = bytes.max(1);
        self
    }

    /// Whether lines are also emitted through `tracing` (on by default, up to
    /// [`log_bytes`](Self::log_bytes)).
    pub fn log_lines(mut self, on: bool) -> ProcessOptions {
        self.log_bytes = if on { DEFAULT_LOG_BYTES } else { 0 };
        self
    }

    /// How much output (in bytes) is logged through `tracing` before logging stops
    /// with one line saying so (capture goes on). A test's captured output is held in
    /// memory by the test harness, so a chatty child must not flood it. Default 1 MiB.
    pub fn log_bytes(mut self, bytes: usize) -> ProcessOptions {
        self.log_bytes = bytes;
        self
    }
}

/// Why a process could not be started or run.
#[non_exhaustive]
pub enum ProcessError {
    /// The OS could not start the program.
    Start {
        /// The program as given.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// The container takes no new threads (it is stopping).
    Container(SpawnError),
    /// [`run_process`] gave up waiting; the process group was killed.
    TimedOut {
        /// The program as given.
        program: String,
        /// The timeout given.
        timeout: Duration,
        /// What it printed before it was killed.
        output: ProcessOutput,
    },
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessError::Start { program, source } => match source.kind() {
                io::ErrorKind::NotFound => write!(f, "cannot start `{program}`: program not found"),
                io::ErrorKind::PermissionDenied => {
                    write!(f, "cannot start `{program}`: permission denied (is it executable?)")
                }
                _ => write!(f, "cannot start `{program}`: {source}"),
            },
            ProcessError::Container(error) => write!(f, "{error}"),
            ProcessError::TimedOut { program, timeout, output } => write!(
                f,
                "`{program}` did not exit within {timeout:?} and was killed ({} line(s) of output captured)",
                output.line_count()
            ),
        }
    }
}

impl std::error::Error for ProcessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProcessError::Start { source, .. } => Some(source),
            ProcessError::Container(error) => Some(error),
            ProcessError::TimedOut { .. } => None,
        }
    }
}

// `expect`, `unwrap` and `?` print the message, not a struct.
debug_as_display!(ProcessError);

/// A wait on a process that did not end the way it was asked to.
#[derive(Clone)]
#[non_exhaustive]
pub enum ProcessWaitError {
    /// The timeout passed first.
    TimedOut {
        /// The process's name.
        name: String,
        /// What was awaited.
        what: &'static str,
        /// The timeout given.
        timeout: Duration,
    },
    /// The output ended (the process closed both streams) without a matching line.
    OutputEnded {
        /// The process's name.
        name: String,
        /// How the process exited, if it has.
        status: Option<ExitStatus>,
    },
}

impl fmt::Display for ProcessWaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessWaitError::TimedOut {
                name,
                what,
                timeout,
            } => {
                write!(
                    f,
                    "process `{name}`: {what} did not happen within {timeout:?}"
                )
            }
            ProcessWaitError::OutputEnded { name, status } => {
                write!(
                    f,
                    "process `{name}` closed its output without printing a matching line"
                )?;
                if let Some(status) = status {
                    write!(f, " (exit: {})", describe_status(status))?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ProcessWaitError {}

// `expect`, `unwrap` and `?` print the message, not a struct.
debug_as_display!(ProcessWaitError);

/// What a finished process printed, and how it ended.
///
/// The lines stay raw bytes until asked for: a test that only checks
/// [`success`](Self::success) or searches [`text`](Self::text) never pays for a
/// [`LogLine`] per line, and [`lines`](Self::lines) decodes them once, on first use.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::process::Command;
/// use std::time::Duration;
/// use iris::{run_process, Stream};
///
/// let mut command = Command::new("sh");
/// command.args(["-c", "echo one; echo two >&2; echo three"]);
/// let output = run_process(command, Duration::from_secs(10))?;
/// assert!(output.success());
/// assert_eq!(output.text(Stream::Stdout), "one\nthree");
/// assert_eq!(output.line_count(), 3);
/// assert_eq!(output.lines().iter().filter(|l| l.stream == Stream::Stderr).count(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ProcessOutput {
    /// How it exited (`None` if it was still running when given up on).
    pub status: Option<ExitStatus>,
    /// How many lines were dropped from the front of the ring buffer.
    pub dropped_lines: u64,
    retained: Retained,
    decoded: OnceLock<Vec<LogLine>>,
}

impl ProcessOutput {
    fn new(status: Option<ExitStatus>, dropped_lines: u64, retained: Retained) -> ProcessOutput {
        ProcessOutput {
            status,
            dropped_lines,
            retained,
            decoded: OnceLock::new(),
        }
    }

    /// The captured lines, both streams in order (decoded on the first call).
    pub fn lines(&self) -> &[LogLine] {
        self.decoded.get_or_init(|| self.retained.decode_all())
    }

    /// How many lines were captured (retained), without decoding them.
    pub fn line_count(&self) -> usize {
        self.retained.len()
    }

    /// The `seq` of the last line the process printed, if it printed any (equal to
    /// the number of lines minus one, dropped ones included).
    pub fn last_seq(&self) -> Option<u64> {
        self.retained.last_seq()
    }

    /// The lines of one stream, joined with newlines.
    pub fn text(&self, stream: Stream) -> String {
        self.retained.text(stream)
    }

    /// Whether the process exited with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

impl fmt::Debug for ProcessOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessOutput")
            .field("status", &self.status)
            .field("lines", &self.line_count())
            .field("dropped_lines", &self.dropped_lines)
            .finish()
    }
}

fn describe_status(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("code {code}"),
        (None, Some(signal)) => match Signal::try_from(signal) {
            Ok(signal) => format!("killed by {signal}"),
            Err(_) => format!("killed by signal {signal}"),
        },
        _ => status.to_string(),
    }
}

/// A child process owned by a container. Clones share the process.
///
/// It runs in its own process group; a stop (the container's, or [`stop`](Self::stop))
/// sends SIGTERM to the group, waits the grace period, then SIGKILL. A reaper thread
/// always reaps it. Its stdout and stderr become [`LogLine`]s in a ring buffer bounded
/// in bytes, each also logged through `tracing`.
///
/// Use it for servers and tools your tests start. Do not use it for a command whose
/// output you only need at the end: [`run_process`] is simpler.
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

struct Shared {
    name: String,
    #[cfg_attr(not(feature = "harness"), allow(dead_code))] // read by the harness
    container_path: String,
    pid: u32,
    command_line: String,
    grace: Duration,
    log_limit: usize,
    /// Bytes of output that may still be logged through `tracing`.
    log_budget: AtomicUsize,
    state: Mutex<State>,
    /// Exit, end of output, stop requests.
    changed: Condvar,
    /// New lines (and end of output). Separate from `changed`, so a chatty child
    /// does not wake everyone who waits for its exit once per line.
    new_lines: Condvar,
    /// Descendants that left the process group.
    escapees: Escapees,
}

struct State {
    exit: Option<ExitStatus>,
    /// When the reaper saw it exit: a test's teardown asks whether it was still
    /// running at the stop's deadline, however late it asks.
    exited_at: Option<Instant>,
    open_streams: u8,
    stop_requested: bool,
    capture: Capture,
}

/// Every live managed process, so leak detection can name the ones a test left.
static LIVE: LazyLock<Mutex<Vec<Weak<Shared>>>> = LazyLock::new(Default::default);

/// A managed process still running, as leak detection sees it.
#[cfg_attr(not(feature = "harness"), allow(dead_code))] // read by the harness
pub(crate) struct RunningProcess {
    pub(crate) pid: u32,
    /// It was running at the moment asked about, and has exited since (reaped: its
    /// pid may belong to another process by now).
    pub(crate) exited: bool,
    pub(crate) name: String,
    pub(crate) container: String,
    pub(crate) command_line: String,
}

/// The containers of every managed process whose container path is `path` or below
/// it, running or not: the threads in them (reaper, output readers, supervisor) are
/// Iris's helpers for that process, never a test's leak of their own.
#[cfg(feature = "harness")]
pub(crate) fn process_containers_under(path: &str) -> Vec<String> {
    let mut live = LIVE.lock();
    live.retain(|w| w.strong_count() > 0);
    live.iter()
        .filter_map(Weak::upgrade)
        .map(|s| s.container_path.clone())
        .filter(|c| c.as_str() == path || c.starts_with(&format!("{path}/")))
        .collect()
}

/// Managed processes whose container path is `path` or below it that were running
/// at `at` (still running, or exited since), and the descendants of any of them that
/// left the process group and are still alive.
#[cfg(feature = "harness")]
pub(crate) fn running_under(path: &str, at: Instant) -> Vec<RunningProcess> {
    let mut live = LIVE.lock();
    live.retain(|w| w.strong_count() > 0);
    let under: Vec<Arc<Shared>> = live
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|s| s.container_path == path || s.container_path.starts_with(&format!("{path}/")))
        .collect();
    drop(live);
    let mut running = Vec::new();
    for shared in under {
        let exited_at = shared.state.lock().exited_at;
        if exited_at.is_none_or(|exited| exited > at) {
            running.push(RunningProcess {
                pid: shared.pid,
                exited: exited_at.is_some(),
                name: shared.name.clone(),
                container: shared.container_path.clone(),
                command_line: shared.command_line.clone(),
            });
        }
        for escapee in shared.escapees.alive() {
            running.push(RunningProcess {
                pid: escapee.pid,
                exited: false,
                name: format!("{} (a descendant that left its process group)", shared.name),
                container: shared.container_path.clone(),
                command_line: escapee.command_line(),
            });
        }
    }
    running
}

/// The managed name and container of process `pid`, if it is one.
#[cfg(feature = "harness")]
pub(crate) fn managed_by_pid(pid: u32) -> Option<(String, String)> {
    LIVE.lock()
        .iter()
        .filter_map(Weak::upgrade)
        .find(|s| s.pid == pid)
        .map(|s| (s.name.clone(), s.container_path.clone()))
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

    fn snapshot(&self) -> ProcessOutput {
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
    fn log_line(&self, stream: Stream, text: &str) {
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

/// Reads `pipe` to its end into the capture, one read at a time: the lines of a read
/// go in under one lock and one wake-up, as raw bytes (decoded only when asked for).
/// A line longer than `max_line` is cut (its rest is skipped, not buffered); a line
/// split across reads waits in `pending`. While the log budget lasts and a subscriber
/// listens, lines are also logged, after the lock is released.
fn read_lines(
    shared: &Shared,
    stream: Stream,
    mut pipe: Box<dyn Read + Send>,
    max_line: usize,
    log: bool,
) {
    let mut chunk = vec![0u8; 64 << 10];
    let mut pending: Vec<u8> = Vec::new();
    let mut pending_cut = 0usize;
    let mut to_log: Vec<String> = Vec::new();
    loop {
        let read = match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(process = %shared.name, stream = stream.as_str(), error = %e, "reading output failed");
                break;
            }
        };
        let logging = log
            && shared.log_budget.load(Ordering::Relaxed) > 0
            && tracing::enabled!(tracing::Level::INFO);
        let timestamp = SystemTime::now();
        let mut rest = &chunk[..read];
        {
            let mut state = shared.state.lock();
            // The end of a line begun in an earlier read.
            if !pending.is_empty() || pending_cut > 0 {
                if let Some(newline) = memchr::memchr(b'\n', rest) {
                    take_bounded(&mut pending, &mut pending_cut, &rest[..newline], max_line);
                    state.capture.push(stream, &pending, pending_cut, timestamp);
                    if logging {
                        to_log.push(line_text(&pending, pending_cut));
                    }
                    pending.clear();
                    pending_cut = 0;
                    rest = &rest[newline + 1..];
                }
            }
            // Every whole line of the read at once (none if a line is still pending).
            if pending.is_empty() && pending_cut == 0 {
                if let Some(last) = memchr::memrchr(b'\n', rest) {
                    let run = &rest[..=last];
                    state.capture.push_run(stream, run, max_line, timestamp);
                    if logging {
                        to_log.extend(run[..last].split(|b| *b == b'\n').map(|line| {
                            let kept = line.len().min(max_line);
                            line_text(&line[..kept], line.len() - kept)
                        }));
                    }
                    rest = &rest[last + 1..];
                }
            }
            state.capture.trim();
        }
        shared.new_lines.notify_all();
        take_bounded(&mut pending, &mut pending_cut, rest, max_line);
        for text in to_log.drain(..) {
            shared.log_line(stream, &text);
        }
    }
    if !pending.is_empty() || pending_cut > 0 {
        let mut state = shared.state.lock();
        state
            .capture
            .push(stream, &pending, pending_cut, SystemTime::now());
        state.capture.trim();
        drop(state);
        if log {
            shared.log_line(stream, &line_text(&pending, pending_cut));
        }
        shared.new_lines.notify_all();
    }
}

fn take_bounded(line: &mut Vec<u8>, cut: &mut usize, bytes: &[u8], max_line: usize) {
    let room = max_line.saturating_sub(line.len());
    let kept = bytes.len().min(room);
    line.extend_from_slice(&bytes[..kept]);
    *cut += bytes.len() - kept;
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

/// Runs `command` to completion and returns its exit status and output (both
/// streams, as [`LogLine`]s): the `subprocess.run(capture_output=True)` of Iris. On
/// timeout the whole process group is killed and the error carries what it printed.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use iris::{run_process, Stream};
///
/// let mut command = Command::new("sh");
/// command.args(["-c", "echo out; echo err >&2; exit 3"]);
/// let output = run_process(command, Duration::from_secs(5)).unwrap();
/// assert_eq!(output.status.unwrap().code(), Some(3));
/// assert_eq!(output.text(Stream::Stdout), "out");
/// assert_eq!(output.text(Stream::Stderr), "err");
/// ```
pub fn run_process(command: Command, timeout: Duration) -> Result<ProcessOutput, ProcessError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let owner = ThreadContainer::new(format!("run:{program}"));
    let process = owner.spawn_process_with(
        program.clone(),
        command,
        ProcessOptions::new().log_lines(false),
    )?;
    let exited = process.wait_exit(timeout);
    // Ends what is left: the child on timeout, or a grandchild that keeps the output
    // open after the child exited. Output already written is still read to its end.
    if let Err(error) = owner.stop(Duration::from_secs(10)) {
        tracing::warn!(%error, "run_process: the process group did not end cleanly");
    }
    let output = process.snapshot();
    match exited {
        Ok(_) => Ok(output),
        Err(_) => Err(ProcessError::TimedOut {
            program,
            timeout,
            output,
        }),
    }
}
