//! Descriptions of threads and of what went wrong with them: [`ThreadInfo`],
//! [`ThreadPanic`], [`StopError`], [`SpawnError`].
//!
//! These are plain owned snapshots (`Send + Sync + 'static`) so they can travel in
//! errors and reports long after the thread they describe is gone.

use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

/// A description of a live or leaked managed thread.
///
/// ```
/// use std::time::Duration;
/// use iris::ThreadContainer;
///
/// let pool = ThreadContainer::new("pool");
/// let worker = pool.spawn("worker", |stop| stop.wait());
/// let info = &pool.alive_threads()[0];
/// assert_eq!(info.name(), "worker");
/// assert_eq!(info.container(), "pool");
/// assert!(info.spawned_at().file().ends_with(".rs"));
/// pool.stop(Duration::from_secs(5)).unwrap();
/// # drop(worker);
/// ```
#[derive(Clone, Debug)]
pub struct ThreadInfo {
    pub(crate) name: String,
    pub(crate) container: String,
    pub(crate) spawned_at: &'static Location<'static>,
    pub(crate) started: Instant,
    pub(crate) os_tid: Option<u32>,
    pub(crate) is_task: bool,
    /// It describes an `on_stop` callback of the thread, still running at a stop's
    /// deadline: `spawned_at` is where it was registered, `os_tid` the thread running it.
    pub(crate) stop_callback: bool,
}

impl ThreadInfo {
    /// The thread's full name (never truncated).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The path of the container that owns it, such as `test:mod::name/worker`.
    pub fn container(&self) -> &str {
        &self.container
    }

    /// Where the thread was spawned (the caller of `spawn`).
    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.spawned_at
    }

    /// How long ago the thread was spawned.
    pub fn alive_for(&self) -> Duration {
        self.started.elapsed()
    }

    /// The kernel's id for the thread (Linux only), once the thread has started;
    /// `None` for a task.
    pub fn os_tid(&self) -> Option<u32> {
        self.os_tid
    }

    /// Whether this describes a managed async task rather than a thread.
    pub fn is_task(&self) -> bool {
        self.is_task
    }

    /// Whether this describes an `on_stop` callback of the thread (or task) named
    /// [`name`](Self::name) that was still running when a stop's deadline passed. Then
    /// [`spawned_at`](Self::spawned_at) is where the callback was registered,
    /// [`alive_for`](Self::alive_for) how long it has been running, and
    /// [`os_tid`](Self::os_tid) the thread running it.
    pub fn is_stop_callback(&self) -> bool {
        self.stop_callback
    }
}

impl fmt::Display for ThreadInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.stop_callback {
            return write!(
                f,
                "on_stop callback of {:?} in `{}`, registered at {}, running for {:.2?}",
                self.name,
                self.container,
                self.spawned_at,
                self.alive_for()
            );
        }
        if self.is_task {
            f.write_str("task ")?;
        }
        write!(
            f,
            "{:?} in `{}`, spawned at {}, alive for {:.2?}",
            self.name,
            self.container,
            self.spawned_at,
            self.alive_for()
        )
    }
}

/// A managed thread (or one of its `on_stop` callbacks, or an unobserved executor
/// task) that panicked.
#[derive(Clone, Debug)]
pub struct ThreadPanic {
    pub(crate) thread_name: String,
    pub(crate) container: String,
    pub(crate) message: String,
}

impl ThreadPanic {
    /// The full name of the thread that panicked.
    pub fn thread_name(&self) -> &str {
        &self.thread_name
    }

    /// The panic message (`"<non-string panic payload>"` when it was not a string).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The path of the container that owned the thread.
    pub fn container(&self) -> &str {
        &self.container
    }
}

impl fmt::Display for ThreadPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} in `{}` panicked: {}",
            self.thread_name, self.container, self.message
        )
    }
}

/// What went wrong while stopping a container: threads that did not exit before the
/// deadline (*stragglers*) and managed threads that panicked.
#[derive(Clone)]
pub struct StopError {
    pub(crate) container: String,
    pub(crate) timeout: Duration,
    pub(crate) stragglers: Vec<ThreadInfo>,
    pub(crate) panics: Vec<ThreadPanic>,
}

impl StopError {
    /// Threads still running when the deadline passed.
    pub fn stragglers(&self) -> &[ThreadInfo] {
        &self.stragglers
    }

    /// Managed threads (and `on_stop` callbacks) that panicked.
    pub fn panics(&self) -> &[ThreadPanic] {
        &self.panics
    }

    /// The path of the container whose stop failed.
    pub fn container(&self) -> &str {
        &self.container
    }
}

impl fmt::Display for StopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stopping `{}` ", self.container)?;
        let mut parts = Vec::new();
        if !self.stragglers.is_empty() {
            parts.push(format!(
                "left {} thread(s) running after {:?}",
                self.stragglers.len(),
                self.timeout
            ));
        }
        if !self.panics.is_empty() {
            parts.push(format!("found {} panic(s)", self.panics.len()));
        }
        write!(f, "{}", parts.join(" and "))?;
        for straggler in &self.stragglers {
            write!(f, "\n  straggler: {straggler}")?;
        }
        for panic in &self.panics {
            write!(f, "\n  panic: {panic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StopError {}

// `expect`, `unwrap` and `?` print the message, not a struct.
debug_as_display!(StopError);

/// Why a managed thread could not be spawned.
#[non_exhaustive]
pub enum SpawnError {
    /// The container is stopping or stopped and takes no new threads.
    Stopped {
        /// Path of the container.
        container: String,
        /// Name of the thread that was refused.
        thread: String,
    },
    /// There is no tokio runtime to spawn a task on (`spawn_task` outside one).
    NoRuntime {
        /// Name of the task that was refused.
        task: String,
    },
    /// The operating system refused to create the thread.
    Os {
        /// Name of the thread that was refused.
        thread: String,
        /// The error from the OS.
        source: std::io::Error,
    },
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Stopped { container, thread } => write!(
                f,
                "cannot spawn {thread:?}: container `{container}` is stopping or stopped"
            ),
            SpawnError::Os { thread, source } => {
                write!(f, "cannot spawn {thread:?}: the OS refused: {source}")
            }
            SpawnError::NoRuntime { task } => write!(
                f,
                "cannot spawn task {task:?}: there is no tokio runtime here (call it from inside one, as tokio::spawn)"
            ),
        }
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpawnError::Os { source, .. } => Some(source),
            SpawnError::Stopped { .. } | SpawnError::NoRuntime { .. } => None,
        }
    }
}

// `expect`, `unwrap` and `?` print the message, not a struct.
debug_as_display!(SpawnError);

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}

    #[test]
    fn errors_are_send_sync_static() {
        assert_error::<StopError>();
        assert_error::<SpawnError>();
    }

    #[test]
    fn stop_error_display_names_every_straggler_and_panic() {
        let error = StopError {
            container: "test:a".into(),
            timeout: Duration::from_millis(300),
            stragglers: vec![ThreadInfo {
                name: "stubborn".into(),
                container: "test:a/child".into(),
                spawned_at: Location::caller(),
                started: Instant::now(),
                os_tid: None,
                is_task: false,
                stop_callback: false,
            }],
            panics: vec![ThreadPanic {
                thread_name: "boomer".into(),
                container: "test:a".into(),
                message: "kaboom".into(),
            }],
        };
        let text = error.to_string();
        assert!(
            text.starts_with(
                "stopping `test:a` left 1 thread(s) running after 300ms and found 1 panic(s)"
            ),
            "{text}"
        );
        assert!(
            text.contains("\"stubborn\" in `test:a/child`, spawned at src/threads/report.rs:"),
            "{text}"
        );
        assert!(
            text.contains("\"boomer\" in `test:a` panicked: kaboom"),
            "{text}"
        );
    }
}
