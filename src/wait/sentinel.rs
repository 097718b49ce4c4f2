//! [`SentinelFile`]: a signal that is just a path, so threads, child processes and
//! shell scripts (`touch path`) can all raise it, and waiting on it wakes on file
//! events instead of polling.
//!
//! Invariants:
//! - A wait registers its interest (and the directory watch) *before* it checks for
//!   the file, and checks again on every event, so a signal is never missed.
//! - Missing parent directories are fine: the wait watches the nearest existing
//!   ancestor and re-arms one level down each time a directory on the way appears.
//! - Events are an accelerator, not a dependency: a slow backstop poll runs even when
//!   events work, and when events are unavailable the wait polls with backoff (and
//!   says so once, through `tracing`).
//! - Semantics: the sentinel is *set* while the file exists. A wait succeeds when the
//!   file exists at one of its checks, or when (in event mode) an event says the file
//!   was created or moved into place after the wait began, even if it was removed
//!   again before the waiter looked. So a quick signal-then-reset by another process
//!   is not missed in event mode; in polling mode it can be.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Once;
use std::time::{Duration, Instant};

use super::condition::Backoff;
use super::watcher::{self, Waiter, WatchFailure};
use crate::sync::deadline::Deadline;

/// How a wait began.
enum Begun {
    /// The file was there at the first look.
    Signalled,
    /// Not yet: wait.
    Waiting(WaitStart),
}

/// What a wait that must wait knows from its start.
struct WaitStart {
    started: Instant,
    timeout: Duration,
    deadline: Deadline,
    target: PathBuf,
    /// The shared watcher, or `None` to poll.
    watcher: Option<&'static watcher::SharedWatcher>,
}

/// What one look of a wait decided.
enum Step {
    /// Signalled (`true`) or out of time (`false`).
    Done(bool),
    /// A directory on the way changed: register again.
    Rearm,
    /// Wait for a wake-up past this generation.
    Wait(u64),
}

/// How often a wait looks at the file even when file events work: a safety net for
/// filesystems that deliver no events (network mounts, some container overlays).
const BACKSTOP: Duration = Duration::from_millis(250);

/// How a [`SentinelFile`] learns that its file appeared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    /// Filesystem events (inotify on Linux), with a slow backstop poll; falls back to
    /// polling when events are unavailable. The default.
    Events,
    /// Polling with backoff only. Forced for every sentinel when the environment
    /// variable `IRIS_SENTINEL_POLLING` is `1`.
    Polling,
}

/// A cross-thread and cross-process signal backed by a file.
///
/// Cheap to clone (it is a path). Use it to tell another thread or process "I am
/// ready" or "go on", especially across a process boundary where no channel exists.
/// Do not use it between threads of one process when a [`StopToken`](crate::StopToken)
/// or a channel would do: those need no filesystem.
///
/// ```
/// use std::time::Duration;
/// use iris::SentinelFile;
///
/// let dir = tempfile::tempdir().unwrap();
/// let ready = SentinelFile::new(dir.path().join("run/server.ready"));
/// let for_server = ready.clone();
/// let server = std::thread::spawn(move || for_server.signal().unwrap());
/// ready.wait(Duration::from_secs(5)).expect("the server signals");
/// assert!(ready.is_set());
/// # server.join().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentinelFile {
    path: PathBuf,
    detection: Detection,
}

impl SentinelFile {
    /// A sentinel at `path` (the file need not exist; nor do its parents).
    pub fn new(path: impl Into<PathBuf>) -> SentinelFile {
        SentinelFile {
            path: path.into(),
            detection: Detection::Events,
        }
    }

    /// The same sentinel with another detection mode (e.g. to test the fallback).
    pub fn with_detection(mut self, detection: Detection) -> SentinelFile {
        self.detection = detection;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Raises the signal: creates missing parent directories, then the file.
    pub fn signal(&self) -> io::Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| self.context("signal", e))?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map(drop)
            .map_err(|e| self.context("signal", e))
    }

    /// Clears the signal: removes the file. A missing file is fine.
    pub fn reset(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other.map_err(|e| self.context("reset", e)),
        }
    }

    /// Whether the file exists (a directory at the path does not count).
    pub fn is_set(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| !m.is_dir())
    }

    /// Waits until the sentinel is signalled, or `timeout` passes. Wakes on file
    /// events, not polling (see [`Detection`]). `Duration::ZERO` checks once.
    ///
    /// Errors: [`SentinelError::NotSignalled`] on timeout; [`SentinelError::Io`] when
    /// the wait can never succeed (the path is a directory, a parent is a file, a
    /// parent cannot be read).
    pub fn wait(&self, timeout: Duration) -> Result<(), SentinelError> {
        let begun = match self.begin_wait(timeout)? {
            Begun::Signalled => return Ok(()),
            Begun::Waiting(begun) => begun,
        };
        let signalled = match begun.watcher {
            Some(shared) => self.wait_for_events(shared, &begun.target, begun.deadline)?,
            None => self.poll(&begun.target, begun.deadline)?,
        };
        self.verdict(signalled, &begun)
    }

    /// The start of a wait, shared by [`wait`](Self::wait) and `wait_async`: the
    /// first look, and how to wait if it was not signalled yet.
    fn begin_wait(&self, timeout: Duration) -> Result<Begun, SentinelError> {
        let started = Instant::now();
        let deadline = Deadline::after(timeout);
        let target = std::path::absolute(&self.path).map_err(|e| self.io_error(e))?;
        if self.check(&target)? {
            return Ok(Begun::Signalled);
        }
        let events = self.detection == Detection::Events && !polling_forced();
        Ok(Begun::Waiting(WaitStart {
            started,
            timeout,
            deadline,
            target,
            watcher: events.then(watcher::shared).flatten(),
        }))
    }

    /// The end of a wait: `Ok` when signalled, the timeout error otherwise.
    fn verdict(&self, signalled: bool, begun: &WaitStart) -> Result<(), SentinelError> {
        if signalled {
            Ok(())
        } else {
            Err(SentinelError::NotSignalled {
                path: self.path.clone(),
                timeout: begun.timeout,
                waited: begun.started.elapsed(),
            })
        }
    }

    fn wait_for_events(
        &self,
        shared: &'static watcher::SharedWatcher,
        target: &Path,
        deadline: Deadline,
    ) -> Result<bool, SentinelError> {
        let waiter = Waiter::new(target.to_path_buf());
        loop {
            let Some(registration) = self.arm(shared, target, &waiter)? else {
                return self.poll(target, deadline);
            };
            loop {
                match self.step(&waiter, target, registration.dir(), deadline)? {
                    Step::Done(signalled) => return Ok(signalled),
                    Step::Rearm => break,
                    Step::Wait(generation) => {
                        waiter.wait_past(generation, deadline.earliest(Deadline::after(BACKSTOP)))
                    }
                }
            }
        }
    }

    /// Registers `waiter` on the nearest existing directory on the way to `target`;
    /// `None` when file events are unavailable there (the caller polls instead).
    fn arm(
        &self,
        shared: &'static watcher::SharedWatcher,
        target: &Path,
        waiter: &std::sync::Arc<Waiter>,
    ) -> Result<Option<watcher::Registration>, SentinelError> {
        let dir = self.nearest_existing_dir(target)?;
        match shared.register(&dir, waiter) {
            Ok(registration) => Ok(Some(registration)),
            Err(WatchFailure::Io(e)) => Err(self.io_error(e)),
            Err(WatchFailure::Unavailable(why)) => {
                warn_fallback(&why);
                Ok(None)
            }
        }
    }

    /// One look, shared by the blocking and the async waits: signalled, out of time,
    /// a directory on the way changed (re-arm), or wait past this generation.
    fn step(
        &self,
        waiter: &Waiter,
        target: &Path,
        armed_on: &Path,
        deadline: Deadline,
    ) -> Result<Step, SentinelError> {
        // Read before looking: an event after the look bumps it, so the wait ends.
        let generation = waiter.generation();
        if waiter.seen_created.load(Ordering::Acquire) || self.check(target)? {
            return Ok(Step::Done(true));
        }
        if deadline.is_expired() {
            return Ok(Step::Done(false));
        }
        if self.nearest_existing_dir(target)? != armed_on {
            return Ok(Step::Rearm); // a directory on the way appeared or vanished
        }
        Ok(Step::Wait(generation))
    }

    /// [`wait`](Self::wait) for async code (cargo feature `tokio`): the same checks,
    /// the same shared watcher and the same error, but it never blocks a runtime
    /// thread, so a current-thread runtime keeps running other tasks while it waits.
    /// Needs the runtime's timer.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future removes its registration; the file is
    /// untouched.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iris::SentinelFile;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let dir = tempfile::tempdir().unwrap();
    /// let ready = SentinelFile::new(dir.path().join("ready"));
    /// let signaller = ready.clone();
    /// tokio::spawn(async move { signaller.signal().unwrap() });
    /// ready.wait_async(Duration::from_secs(5)).await.unwrap();
    /// # });
    /// ```
    #[cfg(feature = "tokio")]
    pub async fn wait_async(&self, timeout: Duration) -> Result<(), SentinelError> {
        let begun = match self.begin_wait(timeout)? {
            Begun::Signalled => return Ok(()),
            Begun::Waiting(begun) => begun,
        };
        let signalled = match begun.watcher {
            Some(shared) => {
                self.wait_for_events_async(shared, &begun.target, begun.deadline)
                    .await?
            }
            None => self.poll_async(&begun.target, begun.deadline).await?,
        };
        self.verdict(signalled, &begun)
    }

    #[cfg(feature = "tokio")]
    async fn wait_for_events_async(
        &self,
        shared: &'static watcher::SharedWatcher,
        target: &Path,
        deadline: Deadline,
    ) -> Result<bool, SentinelError> {
        let waiter = Waiter::new(target.to_path_buf());
        loop {
            let Some(registration) = self.arm(shared, target, &waiter)? else {
                return self.poll_async(target, deadline).await;
            };
            loop {
                match self.step(&waiter, target, registration.dir(), deadline)? {
                    Step::Done(signalled) => return Ok(signalled),
                    Step::Rearm => break,
                    Step::Wait(generation) => {
                        let bound = deadline
                            .earliest(Deadline::after(BACKSTOP))
                            .remaining()
                            .unwrap_or(BACKSTOP);
                        let _ = tokio::time::timeout(bound, waiter.woken_past(generation)).await;
                    }
                }
            }
        }
    }

    #[cfg(feature = "tokio")]
    async fn poll_async(&self, target: &Path, deadline: Deadline) -> Result<bool, SentinelError> {
        let backoff = Backoff::default_schedule();
        loop {
            if self.check(target)? {
                return Ok(true);
            }
            match deadline.remaining() {
                Some(left) if left.is_zero() => return Ok(false),
                Some(left) => tokio::time::sleep(backoff.next_pause().min(left)).await,
                None => tokio::time::sleep(backoff.next_pause()).await,
            }
        }
    }

    fn poll(&self, target: &Path, deadline: Deadline) -> Result<bool, SentinelError> {
        let backoff = Backoff::default_schedule();
        loop {
            if self.check(target)? {
                return Ok(true);
            }
            if deadline.is_expired() {
                return Ok(false);
            }
            deadline.sleep_at_most(backoff.next_pause());
        }
    }

    /// Whether the file exists; an error when it never can.
    fn check(&self, target: &Path) -> Result<bool, SentinelError> {
        match std::fs::metadata(target) {
            Ok(m) if m.is_dir() => Err(self.io_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the path is an existing directory, so it can never be signalled",
            ))),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                self.nearest_existing_dir(target).map(|_| false)
            }
            Err(e) => Err(self.io_error(e)),
        }
    }

    /// The deepest existing ancestor directory of the target; an error when an
    /// ancestor is not a directory or cannot be read.
    fn nearest_existing_dir(&self, target: &Path) -> Result<PathBuf, SentinelError> {
        let mut candidate = target.parent();
        while let Some(dir) = candidate {
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => return Ok(dir.to_path_buf()),
                Ok(_) => {
                    return Err(self.io_error(io::Error::new(
                        io::ErrorKind::NotADirectory,
                        format!("{} is a file, not a directory", dir.display()),
                    )))
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    candidate = dir.parent();
                }
                Err(e) => return Err(self.io_error(e)),
            }
        }
        Err(self.io_error(io::Error::new(
            io::ErrorKind::NotFound,
            "no existing ancestor directory",
        )))
    }

    fn io_error(&self, source: io::Error) -> SentinelError {
        SentinelError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn context(&self, action: &str, e: io::Error) -> io::Error {
        io::Error::new(
            e.kind(),
            format!("cannot {action} sentinel {}: {e}", self.path.display()),
        )
    }
}

/// `IRIS_SENTINEL_POLLING`: `1` forces polling; `0` or unset leaves events on.
pub(crate) fn polling_forced() -> bool {
    static FORCED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FORCED.get_or_init(|| match std::env::var("IRIS_SENTINEL_POLLING") {
        Err(_) => false,
        Ok(text) => match text.trim() {
            "1" => true,
            "0" | "" => false,
            _ => {
                crate::os::runner::bad_knob(
                    "IRIS_SENTINEL_POLLING",
                    &text,
                    "expected 1 (poll) or 0 (filesystem events)",
                    "using filesystem events",
                );
                false
            }
        },
    })
}

fn warn_fallback(why: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing::warn!(reason = %why, "iris: file events unavailable for a sentinel; falling back to polling");
    });
}

/// Why [`SentinelFile::wait`] returned without the signal.
#[non_exhaustive]
pub enum SentinelError {
    /// The timeout passed first.
    NotSignalled {
        /// The sentinel's path.
        path: PathBuf,
        /// The timeout given.
        timeout: Duration,
        /// How long the wait took.
        waited: Duration,
    },
    /// The sentinel can never be signalled as things stand (see the source).
    Io {
        /// The sentinel's path.
        path: PathBuf,
        /// What is wrong.
        source: io::Error,
    },
}

impl fmt::Display for SentinelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SentinelError::NotSignalled {
                path,
                timeout,
                waited,
            } => write!(
                f,
                "sentinel {} was not signalled within {timeout:?} (waited {waited:.1?})",
                path.display()
            ),
            SentinelError::Io { path, source } => {
                write!(f, "cannot wait for sentinel {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for SentinelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SentinelError::Io { source, .. } => Some(source),
            SentinelError::NotSignalled { .. } => None,
        }
    }
}

// `expect`, `unwrap` and `?` print the message, not a struct.
debug_as_display!(SentinelError);
