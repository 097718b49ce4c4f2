//! [`Executor`]: a bounded pool of managed worker threads owned by a container.
//!
//! Invariants:
//! - Workers are managed threads of the owning container (role `Worker`), started on
//!   demand up to `max_workers`, so they show up in `alive_threads` and in leak
//!   reports, and a stop joins them under the container's deadline.
//! - Once shut down (the container is stopping), `submit` refuses work, and the
//!   workers drain the queue before they exit: accepted work is never lost silently.
//!   If no worker exists to drain it, the queued tasks are dropped and their handles
//!   report that, instead of waiting forever.
//! - A task's result reaches its `TaskHandle` only after the task has left the
//!   executor's count of active tasks: once `join` returns, the task is counted
//!   nowhere.
//! - A task that panics never takes its worker down. Its panic goes to its
//!   `TaskHandle`; if that handle is dropped without being joined, the panic is
//!   recorded in the container's stop result instead of vanishing.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::container::{ContainerInner, Drain, Exit, ThreadContainer};
use super::context;
use super::managed_thread::{PanicRecorder, Role};
use crate::sync::completion::Completion;
use crate::sync::panic_message;

/// A queued task: runs the user's code and returns how to deliver its result.
type Job = Box<dyn FnOnce() -> Delivery + Send + 'static>;
/// Hands a finished task's result to its handle (or reports an unobserved panic).
type Delivery = Box<dyn FnOnce() + Send + 'static>;

/// A pool of managed worker threads, made by
/// [`ThreadContainer::spawn_executor`](crate::ThreadContainer::spawn_executor).
///
/// Use it for many small independent jobs that should share a few threads and be
/// stopped with their owner. Do not use it for jobs that run until stopped (spawn a
/// managed thread: it gets a stop token) or for CPU-parallel number crunching
/// (`rayon` does that better).
///
/// Cloning gives another handle to the same pool.
#[derive(Clone)]
pub struct Executor {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    container: Weak<ContainerInner>,
    prefix: String,
    max_workers: usize,
    spawned_at: &'static Location<'static>,
    state: Mutex<State>,
    work_available: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Tasks taken off the queue whose results are not delivered yet.
    running: usize,
    workers: usize,
    idle: usize,
    next_index: usize,
    shut_down: bool,
}

/// Returned by [`Executor::submit`] once the owning container is stopping or stopped.
#[derive(Clone)]
pub struct ExecutorShutdown {
    prefix: String,
}

impl fmt::Display for ExecutorShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "executor {:?} is shut down and takes no new tasks",
            self.prefix
        )
    }
}

impl std::error::Error for ExecutorShutdown {}

// `expect`, `unwrap` and `?` print the message, not a struct.
debug_as_display!(ExecutorShutdown);

impl Executor {
    pub(crate) fn new(
        container: Weak<ContainerInner>,
        max_workers: usize,
        prefix: String,
        spawned_at: &'static Location<'static>,
    ) -> Executor {
        if max_workers == 0 {
            tracing::warn!(executor = %prefix, "spawn_executor: max_workers of 0 treated as 1");
        }
        Executor {
            shared: Arc::new(Shared {
                container,
                prefix,
                max_workers: max_workers.max(1),
                spawned_at,
                state: Mutex::new(State::default()),
                work_available: Condvar::new(),
            }),
        }
    }

    /// Queues `f` to run on a worker; `Err` once the owning container is stopping.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iris::ThreadContainer;
    ///
    /// let app = ThreadContainer::new("app");
    /// let pool = app.spawn_executor(4, "io");
    /// let tasks: Vec<_> = (0..8).map(|i| pool.submit(move || i * i).unwrap()).collect();
    /// let total: i32 = tasks.into_iter().map(|t| t.join().unwrap()).sum();
    /// assert_eq!(total, 140);
    /// app.stop(Duration::from_secs(5)).unwrap();
    /// ```
    pub fn submit<F, T>(&self, f: F) -> Result<TaskHandle<T>, ExecutorShutdown>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let result = Arc::new(Completion::new());
        let job = Task {
            result: result.clone(),
            container: self.shared.container.clone(),
            prefix: self.shared.prefix.clone(),
            // Run inside the span current at the submit, so the task's logs are
            // attributed to whoever submitted it (a test), whatever worker runs it.
            span: tracing::Span::current(),
            f: Some(f),
        };
        let start_worker = {
            let mut state = self.shared.state.lock();
            if state.shut_down {
                return Err(self.shared.refusal());
            }
            state.queue.push_back(Box::new(move || job.run()));
            if state.idle == 0 && state.workers < self.shared.max_workers {
                state.workers += 1;
                state.next_index += 1;
                Some(state.next_index - 1)
            } else {
                None
            }
        };
        self.shared.work_available.notify_one();
        if let Some(index) = start_worker {
            if !self.shared.start_worker(index) {
                return Err(self.shared.refusal());
            }
        }
        Ok(TaskHandle {
            result,
            container: self.shared.container.clone(),
            prefix: self.shared.prefix.clone(),
        })
    }

    /// Whether the pool has been shut down (its container is stopping or stopped).
    pub fn is_shut_down(&self) -> bool {
        self.shared.state.lock().shut_down
    }

    /// Tasks accepted and not finished yet: queued or running. A task whose handle's
    /// `join` has returned is never counted.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iris::ThreadContainer;
    ///
    /// let app = ThreadContainer::new("app");
    /// let pool = app.spawn_executor(1, "io");
    /// let task = pool.submit(|| 1).unwrap();
    /// task.join().unwrap();
    /// assert_eq!(pool.active_tasks(), 0);
    /// app.stop(Duration::from_secs(5)).unwrap();
    /// ```
    pub fn active_tasks(&self) -> usize {
        let state = self.shared.state.lock();
        state.queue.len() + state.running
    }
}

impl ThreadContainer {
    /// A pool of at most `max_workers` managed worker threads (named `prefix-0`,
    /// `prefix-1`, ...), started on demand. When this container stops, the pool
    /// stops taking work, runs what is queued, and its workers exit. `max_workers`
    /// of 0 is treated as 1.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iris::ThreadContainer;
    ///
    /// let app = ThreadContainer::new("app");
    /// let pool = app.spawn_executor(2, "hash");
    /// let task = pool.submit(|| 6 * 7).unwrap();
    /// assert_eq!(task.join().unwrap(), 42);
    /// app.stop(Duration::from_secs(5)).unwrap();
    /// assert!(pool.submit(|| ()).is_err());
    /// ```
    #[track_caller]
    pub fn spawn_executor(&self, max_workers: usize, prefix: impl Into<String>) -> Executor {
        let executor = Executor::new(
            Arc::downgrade(&self.inner),
            max_workers,
            prefix.into(),
            Location::caller(),
        );
        self.add_drain(executor.shared.clone());
        executor
    }
}

impl Drain for Shared {
    fn shut_down(&self) {
        self.shutdown();
    }
}

impl Shared {
    fn refusal(&self) -> ExecutorShutdown {
        ExecutorShutdown {
            prefix: self.prefix.clone(),
        }
    }

    /// Stops taking work; workers drain the queue, then exit.
    pub(crate) fn shutdown(&self) {
        self.state.lock().shut_down = true;
        self.work_available.notify_all();
    }

    /// Starts worker `index`. Returns `false` when it could not, and no other worker
    /// is left to run the queue (which is then dropped).
    fn start_worker(self: &Arc<Self>, index: usize) -> bool {
        let launched = match self.container.upgrade() {
            Some(inner) => {
                let shared = self.clone();
                let container = ThreadContainer { inner };
                let name = format!("{}-{index}", self.prefix);
                let (thread, path) = (name.clone(), container.path().to_string());
                let inherited = context::capture();
                container
                    .launch(name, Role::Worker, self.spawned_at, move |_stop| {
                        inherited.run_managed(&thread, &path, || shared.work());
                        Exit {
                            panic: None,
                            deliver: None,
                        }
                    })
                    .is_ok()
            }
            None => false,
        };
        if launched {
            return true;
        }
        // The container is stopping (or gone). Existing workers will drain the queue;
        // with none, nobody would ever run it: drop it, and the handles say so.
        let orphaned = {
            let mut state = self.state.lock();
            state.workers -= 1;
            state.shut_down = true;
            if state.workers > 0 {
                return true;
            }
            std::mem::take(&mut state.queue)
        };
        drop(orphaned);
        false
    }

    /// A worker's loop: run queued jobs until shut down and drained.
    fn work(&self) {
        loop {
            let job = {
                let mut state = self.state.lock();
                loop {
                    if let Some(job) = state.queue.pop_front() {
                        state.running += 1;
                        break Some(job);
                    }
                    if state.shut_down {
                        break None;
                    }
                    state.idle += 1;
                    self.work_available.wait(&mut state);
                    state.idle -= 1;
                }
            };
            match job {
                Some(job) => {
                    let deliver = job();
                    self.state.lock().running -= 1;
                    deliver();
                }
                None => break,
            }
        }
        self.state.lock().workers -= 1;
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("Executor")
            .field("prefix", &self.shared.prefix)
            .field("max_workers", &self.shared.max_workers)
            .field("workers", &state.workers)
            .field("idle", &state.idle)
            .field("queued", &state.queue.len())
            .field("running", &state.running)
            .field("shut_down", &state.shut_down)
            .finish()
    }
}

/// One queued call; abandons its result slot if dropped without running.
struct Task<F, T> {
    result: Arc<Completion<std::thread::Result<T>>>,
    container: Weak<ContainerInner>,
    prefix: String,
    span: tracing::Span,
    f: Option<F>,
}

impl<F: FnOnce() -> T, T: Send + 'static> Task<F, T> {
    /// Runs the task; the returned delivery hands its result over.
    fn run(mut self) -> Delivery {
        let f = self.f.take().expect("a task runs once");
        let outcome = self.span.in_scope(|| catch_unwind(AssertUnwindSafe(f)));
        let result = self.result.clone();
        let container = std::mem::take(&mut self.container);
        let prefix = std::mem::take(&mut self.prefix);
        Box::new(move || {
            if let Some(Err(payload)) = result.complete(outcome) {
                report_unobserved(&container, &prefix, payload.as_ref());
            }
        })
    }
}

impl<F, T> Drop for Task<F, T> {
    fn drop(&mut self) {
        if self.f.is_some() {
            self.result.abandon();
        }
    }
}

fn report_unobserved(
    container: &Weak<ContainerInner>,
    prefix: &str,
    payload: &(dyn std::any::Any + Send),
) {
    let message = format!(
        "task panicked and nobody joined it: {}",
        panic_message(payload)
    );
    tracing::error!(executor = %prefix, "{message}");
    if let Some(container) = container.upgrade() {
        container.record_panic(prefix, message);
    }
}

fn dropped_unrun(prefix: &str) -> String {
    format!("task of executor {prefix:?} was dropped without running: the executor shut down")
}

/// The result of one task submitted to an [`Executor`].
///
/// Dropping it without joining is fine, but a panic of the task is then recorded in
/// the owning container's stop result, since nobody else will see it.
pub struct TaskHandle<T> {
    result: Arc<Completion<std::thread::Result<T>>>,
    container: Weak<ContainerInner>,
    prefix: String,
}

impl<T> TaskHandle<T> {
    /// Waits for the task and returns its result; `Err` holds its panic payload, or
    /// says that the task was dropped unrun because the executor shut down with no
    /// worker left. Waits without limit: prefer [`join_timeout`](Self::join_timeout).
    pub fn join(self) -> std::thread::Result<T> {
        let prefix = self.prefix.clone();
        self.result
            .join(Duration::MAX, || dropped_unrun(&prefix))
            .expect("a join without deadline cannot time out")
    }

    /// Waits at most `timeout`; gives the handle back if the task has not finished.
    pub fn join_timeout(self, timeout: Duration) -> Result<std::thread::Result<T>, Self> {
        let prefix = self.prefix.clone();
        self.result
            .join(timeout, || dropped_unrun(&prefix))
            .ok_or(self)
    }

    /// Whether the task has finished (or was dropped unrun).
    pub fn is_finished(&self) -> bool {
        self.result.is_done()
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("executor", &self.prefix)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> Drop for TaskHandle<T> {
    fn drop(&mut self) {
        if let Some(Err(payload)) = self.result.drop_observer() {
            report_unobserved(&self.container, &self.prefix, payload.as_ref());
        }
    }
}
