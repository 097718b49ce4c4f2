//! [`ManagedTask`]: a tokio task with a name, an owner and a stop token, like a
//! managed thread; and [`ThreadContainer::stop_async`].
//!
//! Invariants:
//! - A task is admitted to its container's live set before it is spawned (refused
//!   once the container is stopping), so a stop either refuses it or signals it.
//! - Each poll runs inside what the spawner handed down: its registry as the
//!   innermost scope of the polling thread (whatever thread that is), its `tracing`
//!   subscriber, and an `iris_task` span that is a child of the spawner's span.
//! - The user's future is polled under `catch_unwind`: a panic never unwinds into the
//!   runtime; it is recorded in the container (a background panic, joined or not)
//!   and handed to the joiner.
//! - The task leaves the live set when its future completes or panics, *before* the
//!   result reaches `join`, and also when it is dropped unfinished (cancelled by a
//!   runtime shutdown): a finished task is never counted alive.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::task_panics;
use crate::sync::deadline::Deadline;
use crate::sync::panic_message;
use crate::sync::stop_token::StopToken;
use crate::threads::container::ThreadContainer;
use crate::threads::context;
use crate::threads::managed_thread::{Role, ThreadRecord};
use crate::threads::report::{SpawnError, StopError};
use crate::wait::condition::Backoff;

/// The handle to one managed task, returned by
/// [`ThreadContainer::spawn_task`](crate::ThreadContainer::spawn_task).
///
/// Dropping it stops nothing and detaches nothing: the container owns the task and
/// stops it with the rest.
///
/// ```
/// use std::time::Duration;
/// use iris::ThreadContainer;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let app = ThreadContainer::new("app");
/// let ticker = app.spawn_task("ticker", |stop| async move {
///     let mut ticks = 0;
///     loop {
///         tokio::select! {
///             _ = stop.stopped() => break ticks,
///             _ = tokio::time::sleep(Duration::from_millis(1)) => ticks += 1,
///         }
///     }
/// });
/// ticker.stop();
/// let ticks = ticker.join().await.unwrap();
/// # let _ = ticks;
/// app.stop_async(Duration::from_secs(5)).await.unwrap();
/// # });
/// ```
pub struct ManagedTask<T> {
    record: Arc<ThreadRecord>,
    handle: tokio::task::JoinHandle<std::thread::Result<T>>,
}

impl<T> ManagedTask<T> {
    /// The task's name.
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Requests the task to stop (its token's `stop`).
    pub fn stop(&self) {
        self.record.token().stop();
    }

    /// A clone of the task's stop token.
    pub fn stop_token(&self) -> StopToken {
        self.record.token()
    }

    /// Whether the task's future has not finished yet.
    pub fn is_alive(&self) -> bool {
        !self.record.is_finished()
    }

    /// Waits for the task and returns its output; `Err` holds its panic payload (or
    /// says that the runtime shut down before the task finished).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops the handle (the task goes on).
    pub async fn join(self) -> std::thread::Result<T> {
        match self.handle.await {
            Ok(result) => result,
            Err(error) if error.is_panic() => Err(error.into_panic()),
            Err(_) => Err(Box::new(format!(
                "task {:?} was cancelled: its runtime shut down before it finished",
                self.record.name
            ))),
        }
    }
}

impl<T> fmt::Debug for ManagedTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.record.debug_handle(f, "ManagedTask")
    }
}

impl ThreadContainer {
    /// Spawns `f(stop_token)` as a managed task on the current tokio runtime.
    ///
    /// Use a task for I/O-bound work on tokio; use a thread
    /// ([`spawn`](Self::spawn)) for blocking or CPU-bound work. The task should
    /// `select!` on [`StopToken::stopped`] so that a stop ends it.
    ///
    /// # Panics
    /// Outside a tokio runtime (like `tokio::spawn`), or when this container is
    /// stopping; [`try_spawn_task`](Self::try_spawn_task) returns the error instead.
    #[track_caller]
    pub fn spawn_task<F, Fut, T>(&self, name: impl Into<String>, f: F) -> ManagedTask<T>
    where
        F: FnOnce(StopToken) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        match self.try_spawn_task(name, f) {
            Ok(task) => task,
            Err(error) => panic!("{error}"),
        }
    }

    /// [`spawn_task`](Self::spawn_task), or why it cannot.
    ///
    /// ```
    /// use iris::{SpawnError, ThreadContainer};
    ///
    /// let app = ThreadContainer::new("app");
    /// let outside = app.try_spawn_task("t", |_stop| async {});
    /// assert!(matches!(outside, Err(SpawnError::NoRuntime { .. })));
    /// ```
    #[track_caller]
    pub fn try_spawn_task<F, Fut, T>(
        &self,
        name: impl Into<String>,
        f: F,
    ) -> Result<ManagedTask<T>, SpawnError>
    where
        F: FnOnce(StopToken) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let name = name.into();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(SpawnError::NoRuntime { task: name });
        };
        let record = self.admit(name, Role::Task, Location::caller())?;
        let (registry, logging) = context::capture_for_task();
        let (dispatch, span) = match logging {
            Some((dispatch, parent)) => {
                let span = dispatch_span(&dispatch, &parent, &record);
                (Some(dispatch), span)
            }
            None => (None, tracing::Span::none()),
        };
        let future = TaskFuture {
            inner: f(record.token()),
            membership: Membership {
                record: record.clone(),
                done: false,
            },
            registry,
            dispatch,
            span,
        };
        let handle = runtime.spawn(future);
        Ok(ManagedTask { record, handle })
    }

    /// [`stop`](Self::stop) without blocking the calling thread: for callers inside
    /// a tokio runtime (a blocking `stop` there could wait for tasks that need the
    /// very thread it blocks). The same steps, order and single deadline; the waits
    /// between them are awaited (the runtime's timer bounds them: it needs
    /// `enable_time`, as `tokio::time` does, unless the timeout is zero or
    /// `Duration::MAX`). OS threads of the
    /// tree that have finished are joined; one still finishing is joined by the next
    /// stop or spawn instead of being waited for.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future leaves the stop half done (every member
    /// signalled so far stays signalled; call `stop_async` again to finish it).
    pub async fn stop_async(&self, timeout: Duration) -> Result<(), StopError> {
        let deadline = Deadline::after(timeout);
        let mut stop = self.begin_stop();
        if stop.has_nothing_to_stop() {
            return Ok(());
        }
        while let Some(waits) = stop.signal_next() {
            for (container, awaited) in waits {
                let gone = container.members_gone(awaited);
                match deadline.remaining() {
                    None => gone.await,
                    // Past the deadline nothing is waited for (and no timer is needed).
                    Some(left) if left.is_zero() => {}
                    Some(left) => {
                        let _ = tokio::time::timeout(left, gone).await;
                    }
                }
            }
            // A level is stopped when its callbacks have returned too. They run on
            // helper threads, which cannot wake a future: polled, with backoff.
            let backoff = Backoff::new(Duration::from_micros(50), Duration::from_millis(10));
            while stop.callbacks_running() {
                match deadline.remaining() {
                    Some(left) if left.is_zero() => break,
                    left => {
                        let pause = backoff.next_pause().min(left.unwrap_or(Duration::MAX));
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        }
        // OS threads are joined only if finished: waiting for the others would block.
        stop.verdict(Deadline::after(Duration::ZERO), timeout)
    }
}

fn dispatch_span(
    dispatch: &tracing::Dispatch,
    parent: &tracing::Span,
    record: &ThreadRecord,
) -> tracing::Span {
    tracing::dispatcher::with_default(
        dispatch,
        || tracing::info_span!(parent: parent, "iris_task", task = %record.name, container = %record.container_path),
    )
}

pin_project_lite::pin_project! {
    /// The future that runs on the runtime: the user's, inside the inheritance, with
    /// its panic caught and its membership ended.
    struct TaskFuture<Fut> {
        #[pin]
        inner: Fut,
        membership: Membership,
        registry: Option<ThreadContainer>,
        dispatch: Option<tracing::Dispatch>,
        span: tracing::Span,
    }
}

/// A task's place in its container; ends it exactly once, when the task completes,
/// panics, or is dropped unfinished (cancelled by a runtime shutdown).
struct Membership {
    record: Arc<ThreadRecord>,
    done: bool,
}

impl Membership {
    fn retire(&mut self, panic: Option<String>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        self.record.retire(panic);
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.retire(None);
    }
}

impl<Fut: Future> Future for TaskFuture<Fut> {
    type Output = std::thread::Result<Fut::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = {
            let _scope = this.registry.as_ref().and_then(context::enter_scope);
            let _dispatch = this.dispatch.as_ref().map(tracing::dispatcher::set_default);
            let _span = this.span.enter();
            // Its panic is caught below and recorded as the container's.
            let _managed = task_panics::managed_poll();
            let inner = this.inner;
            catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
        };
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => {
                this.membership.retire(None);
                Poll::Ready(Ok(value))
            }
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                let report = || {
                    let _span = this.span.enter();
                    tracing::error!(panic = %message, "managed task panicked");
                };
                match this.dispatch.as_ref() {
                    Some(dispatch) => tracing::dispatcher::with_default(dispatch, report),
                    None => report(),
                }
                this.membership.retire(Some(message));
                Poll::Ready(Err(payload))
            }
        }
    }
}
