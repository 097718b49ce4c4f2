//! [`ThreadContainer`]: a named tree of managed threads that is stopped and joined as
//! one, under one deadline.
//!
//! Invariants:
//! - A spawn inserts its record under the container lock only while the container is
//!   not stopping; a stop sets `stopping` under the same lock before it looks at the
//!   records. So every thread either is refused or is seen (and signalled) by the stop:
//!   none escapes.
//! - `stopping` is set on the whole tree (top-down) before any thread is signalled, so
//!   a thread that is being stopped cannot spawn replacements anywhere in the tree.
//!   A child created under a stopping container is born stopping.
//! - A stop never holds a container lock while it signals or waits on a thread (stop
//!   callbacks run user code) and never waits past its one deadline.
//! - Stop is idempotent and needs no lock of its own: signalling, shutting executors
//!   down and waiting can all be repeated, concurrently, by any number of callers.
//! - Finished threads leave the live set at once, so a long-running process does not
//!   accumulate records; their OS handles are joined on the next spawn or stop.

use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::completion::Completion;
use crate::deadline::Deadline;
use crate::executor::{self, Executor};
use crate::panic_message;
use crate::registry;
use crate::report::{SpawnError, StopError, ThreadInfo, ThreadPanic};
use crate::server::Server;
use crate::stop_token::StopToken;
use crate::thread::{
    register_current_thread, unregister_os_thread, ManagedThread, Role, ThreadRecord,
};

static NEXT_THREAD_ID: AtomicU64 = AtomicU64::new(1);

/// A named group of managed threads, possibly with child groups.
///
/// Cloning gives another handle to the same container. Everything spawned in it is
/// stopped and joined by one [`stop`](Self::stop) call, children first, under one
/// deadline; the result names every thread that did not exit in time and every
/// thread that panicked.
///
/// Use a container for anything that owns background threads (a server, a pipeline,
/// a test). Do not use it for short parallel computations whose results you join at
/// once: `std::thread::scope` is simpler there.
///
/// ```
/// use std::time::Duration;
/// use iris::ThreadContainer;
///
/// let service = ThreadContainer::new("service");
/// let io = service.create_child("io");
/// io.spawn("reader", |stop| while !stop.wait_timeout(Duration::from_millis(50)) {});
/// service.spawn("ticker", |stop| stop.wait());
/// assert_eq!(service.alive_threads().len(), 2);
///
/// service.stop(Duration::from_secs(5)).expect("every thread honours its token");
/// assert!(!service.is_alive());
/// ```
#[derive(Clone)]
pub struct ThreadContainer {
    pub(crate) inner: Arc<ContainerInner>,
}

pub(crate) struct ContainerInner {
    name: String,
    path: Arc<str>,
    state: Mutex<State>,
    /// Notified whenever one of this container's threads finishes.
    thread_exited: Condvar,
}

#[derive(Default)]
struct State {
    stopping: bool,
    live: HashMap<u64, Arc<ThreadRecord>>,
    reap: Vec<JoinHandle<()>>,
    children: Vec<ThreadContainer>,
    executors: Vec<Arc<executor::Shared>>,
    panics: Vec<ThreadPanic>,
}

impl ThreadContainer {
    /// A new, empty, running container.
    pub fn new(name: impl Into<String>) -> ThreadContainer {
        let name = name.into();
        let path: Arc<str> = Arc::from(name.as_str());
        ThreadContainer::with_path(name, path, false)
    }

    fn with_path(name: String, path: Arc<str>, stopping: bool) -> ThreadContainer {
        ThreadContainer {
            inner: Arc::new(ContainerInner {
                name,
                path,
                state: Mutex::new(State {
                    stopping,
                    ..State::default()
                }),
                thread_exited: Condvar::new(),
            }),
        }
    }

    /// The name given at creation.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The path from the root container, such as `test:mod::name/worker`.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// Spawns a managed thread running `f(stop_token)`.
    ///
    /// # Panics
    /// Like `std::thread::spawn`, when the thread cannot be spawned: the container is
    /// stopping or stopped, or the OS refused. Use [`try_spawn`](Self::try_spawn) to
    /// get the error instead.
    #[track_caller]
    pub fn spawn<F, T>(&self, name: impl Into<String>, f: F) -> ManagedThread<T>
    where
        F: FnOnce(StopToken) -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.try_spawn(name, f) {
            Ok(thread) => thread,
            Err(error) => panic!("{error}"),
        }
    }

    /// Spawns a managed thread running `f(stop_token)`, or says why it cannot.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iris::{SpawnError, ThreadContainer};
    ///
    /// let jobs = ThreadContainer::new("jobs");
    /// jobs.stop(Duration::ZERO).unwrap();
    /// let refused = jobs.try_spawn("late", |_stop| ());
    /// assert!(matches!(refused, Err(SpawnError::Stopped { .. })));
    /// ```
    #[track_caller]
    pub fn try_spawn<F, T>(
        &self,
        name: impl Into<String>,
        f: F,
    ) -> Result<ManagedThread<T>, SpawnError>
    where
        F: FnOnce(StopToken) -> T + Send + 'static,
        T: Send + 'static,
    {
        let result = Arc::new(Completion::new());
        let slot = result.clone();
        let record = self.launch(name.into(), Role::Thread, Location::caller(), move |stop| {
            let outcome = catch_unwind(AssertUnwindSafe(|| f(stop)));
            let panic = outcome.as_ref().err().map(|p| panic_message(p.as_ref()));
            // A result nobody will take is simply dropped here, on its own thread.
            drop(slot.complete(outcome));
            panic
        })?;
        Ok(ManagedThread { record, result })
    }

    /// Runs `server.run()` on a managed thread; a stop request calls
    /// `server.shutdown()` (on the stopping thread), which must make `run` return.
    ///
    /// `shutdown` may be called before `run` has started (when the stop races with
    /// the spawn): keep the shutdown state sticky, as in the example.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use iris::{Server, StopToken, ThreadContainer};
    ///
    /// struct Echo { closed: StopToken }
    /// impl Server for Echo {
    ///     fn run(&self) { self.closed.wait() }          // serve until shut down
    ///     fn shutdown(&self) { self.closed.stop() }     // sticky: safe before run
    /// }
    ///
    /// let app = ThreadContainer::new("app");
    /// app.spawn_server("echo", Arc::new(Echo { closed: StopToken::new() }));
    /// app.stop(Duration::from_secs(5)).unwrap();
    /// ```
    #[track_caller]
    pub fn spawn_server<S: Server>(
        &self,
        name: impl Into<String>,
        server: Arc<S>,
    ) -> ManagedThread<()> {
        self.spawn(name, move |stop| {
            let for_shutdown = server.clone();
            stop.on_stop(move || for_shutdown.shutdown());
            if !stop.is_stopped() {
                server.run();
            }
        })
    }

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
        let mut state = self.inner.state.lock();
        if state.stopping {
            executor.shared.shutdown();
        }
        state.executors.push(executor.shared.clone());
        executor
    }

    /// A child container, stopped before this container's own threads. Its path is
    /// this container's path, `/`, and `name`. A child created while this container is
    /// stopping is born stopped.
    pub fn create_child(&self, name: impl Into<String>) -> ThreadContainer {
        let name = name.into();
        let path: Arc<str> = Arc::from(format!("{}/{}", self.inner.path, name));
        let mut state = self.inner.state.lock();
        // Forget children that are done for good, so that creating short-lived
        // children in a long-running process does not accumulate them.
        state.children.retain(|c| !c.is_done_for_good());
        let child = ThreadContainer::with_path(name, path, state.stopping);
        state.children.push(child.clone());
        child
    }

    /// Whether any thread of this container or of its descendants is still running.
    pub fn is_alive(&self) -> bool {
        let mut alive = false;
        self.visit(&mut |c| alive |= !c.inner.state.lock().live.is_empty());
        alive
    }

    /// The live threads of this container and its descendants.
    pub fn alive_threads(&self) -> Vec<ThreadInfo> {
        let mut infos = Vec::new();
        self.visit(&mut |c| {
            let state = c.inner.state.lock();
            let mut records: Vec<_> = state.live.values().collect();
            records.sort_by_key(|r| r.id);
            infos.extend(records.into_iter().map(|r| r.info()));
        });
        infos
    }

    /// Blocks until every thread of this container and its descendants has exited,
    /// without stopping them. Waits without limit: prefer
    /// [`wait_timeout`](Self::wait_timeout).
    pub fn wait(&self) {
        self.wait_timeout(Duration::MAX);
    }

    /// Blocks until every thread of the tree has exited or `timeout` passes; returns
    /// `true` iff none is left. Called from one of the tree's own threads, it waits
    /// for all the others.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Deadline::after(timeout);
        // Called from a thread of the tree, wait for all the others.
        let others = |r: &ThreadRecord| !r.is_current();
        loop {
            let mut all_gone = true;
            self.visit(&mut |c| all_gone &= c.await_exits(others, deadline));
            if !all_gone {
                return false; // only a passed deadline leaves a thread behind
            }
            // A thread may have spawned another into an already-visited container.
            let mut any_left = false;
            self.visit(&mut |c| any_left |= c.inner.state.lock().live.values().any(|r| others(r)));
            if !any_left {
                return true;
            }
        }
    }

    /// Stops the whole tree under one deadline and joins it.
    ///
    /// Order: the deepest children first, then their parents' threads, up to this
    /// container; within a level, first the threads, then the executors. Every thread
    /// of a level is signalled before any is waited for. Idempotent and safe to call
    /// from several threads at once; `Duration::ZERO` signals everything and reports
    /// whatever has not exited yet.
    ///
    /// Returns `Err` naming every thread that did not exit in time (a straggler) and
    /// every managed thread of the tree that panicked. Called from one of the tree's
    /// own threads, it signals that thread too but does not wait for it (it cannot
    /// exit while it is stopping) and does not count it as a straggler.
    pub fn stop(&self, timeout: Duration) -> Result<(), StopError> {
        let deadline = Deadline::after(timeout);
        let mut levels: Vec<Vec<ThreadContainer>> = Vec::new();
        self.mark_stopping(0, &mut levels);

        let mut signalled: Vec<Arc<ThreadRecord>> = Vec::new();
        for level in levels.iter().rev() {
            for role in [Role::Thread, Role::Worker] {
                let mut batch = Vec::new();
                for container in level {
                    if role == Role::Worker {
                        let executors = container.inner.state.lock().executors.clone();
                        for executor in executors {
                            executor.shutdown();
                        }
                    }
                    batch.extend(container.live_records(role));
                }
                for record in &batch {
                    record.token.stop();
                }
                for container in level {
                    // A thread stopping its own container cannot wait for itself.
                    container.await_exits(|r| r.role == role && !r.is_current(), deadline);
                }
                signalled.extend(batch);
            }
        }

        let mut panics = Vec::new();
        for container in levels.iter().flatten() {
            container.reap(deadline);
            panics.extend(container.inner.state.lock().panics.iter().cloned());
        }
        let mut stragglers: Vec<ThreadInfo> = signalled
            .iter()
            .filter(|r| !r.is_finished() && !r.is_current())
            .map(|r| r.info())
            .collect();
        stragglers.sort_by(|a, b| {
            a.container
                .cmp(&b.container)
                .then(a.started.cmp(&b.started))
        });
        if stragglers.is_empty() && panics.is_empty() {
            Ok(())
        } else {
            Err(StopError {
                container: self.inner.path.to_string(),
                timeout,
                stragglers,
                panics,
            })
        }
    }

    /// Whether stop has been requested for this container (or an ancestor).
    pub fn is_stopped(&self) -> bool {
        self.inner.state.lock().stopping
    }

    /// Panics recorded so far in this container and its descendants.
    pub fn panics(&self) -> Vec<ThreadPanic> {
        let mut panics = Vec::new();
        self.visit(&mut |c| panics.extend(c.inner.state.lock().panics.iter().cloned()));
        panics
    }

    // ----- internals -----

    /// Starts an OS thread for `body`, registered before it exists. `body` returns
    /// the panic message if the user code panicked.
    pub(crate) fn launch(
        &self,
        name: String,
        role: Role,
        spawned_at: &'static Location<'static>,
        body: impl FnOnce(StopToken) -> Option<String> + Send + 'static,
    ) -> Result<Arc<ThreadRecord>, SpawnError> {
        let id = NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed);
        let token = {
            let container = Arc::downgrade(&self.inner);
            let thread = name.clone();
            StopToken::with_panic_sink(move |message| {
                if let Some(container) = container.upgrade() {
                    container.record_panic(&thread, message);
                }
            })
        };
        let record = Arc::new(ThreadRecord {
            id,
            name,
            container_path: self.inner.path.clone(),
            spawned_at,
            started: Instant::now(),
            token,
            role,
            finished: AtomicBool::new(false),
            handle: Mutex::new(None),
            os_tid: OnceLock::new(),
            thread_id: OnceLock::new(),
        });
        let finished_handles = {
            let mut state = self.inner.state.lock();
            if state.stopping {
                return Err(SpawnError::Stopped {
                    container: self.inner.path.to_string(),
                    thread: record.name.clone(),
                });
            }
            state.live.insert(id, record.clone());
            take_finished(&mut state.reap)
        };
        join_all(finished_handles);

        let inherited = registry::inheritable();
        // The spawner's tracing subscriber too, so that a test's subscriber (often
        // installed thread-locally) also sees what its background threads log.
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        let container = Arc::downgrade(&self.inner);
        let in_thread = record.clone();
        let spawned = std::thread::Builder::new()
            .name(os_thread_name(&record.name))
            .spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    run_managed(in_thread, container, inherited, body)
                })
            });
        match spawned {
            Ok(handle) => {
                let mut state = self.inner.state.lock();
                if record.is_finished() {
                    state.reap.push(handle);
                } else {
                    *record.handle.lock() = Some(handle);
                }
                Ok(record)
            }
            Err(source) => {
                self.inner.state.lock().live.remove(&id);
                self.inner.thread_exited.notify_all();
                Err(SpawnError::Os {
                    thread: record.name.clone(),
                    source,
                })
            }
        }
    }

    fn is_done_for_good(&self) -> bool {
        let state = self.inner.state.lock();
        state.stopping
            && state.live.is_empty()
            && state.children.iter().all(|c| c.is_done_for_good())
    }

    /// Calls `f` on this container and every descendant, parents before children.
    fn visit(&self, f: &mut dyn FnMut(&ThreadContainer)) {
        f(self);
        let children = self.inner.state.lock().children.clone();
        for child in &children {
            child.visit(f);
        }
    }

    /// Sets `stopping` on the tree, top-down, and groups its containers by depth.
    fn mark_stopping(&self, depth: usize, levels: &mut Vec<Vec<ThreadContainer>>) {
        let children = {
            let mut state = self.inner.state.lock();
            state.stopping = true;
            state.children.clone()
        };
        if levels.len() <= depth {
            levels.push(Vec::new());
        }
        levels[depth].push(self.clone());
        for child in &children {
            child.mark_stopping(depth + 1, levels);
        }
    }

    fn live_records(&self, role: Role) -> Vec<Arc<ThreadRecord>> {
        let state = self.inner.state.lock();
        state
            .live
            .values()
            .filter(|r| r.role == role)
            .cloned()
            .collect()
    }

    /// Waits until no live thread matches `which`, or the deadline; `true` iff none.
    fn await_exits(&self, which: impl Fn(&ThreadRecord) -> bool, deadline: Deadline) -> bool {
        let mut state = self.inner.state.lock();
        loop {
            if !state.live.values().any(|r| which(r)) {
                return true;
            }
            if deadline.is_expired() {
                return false;
            }
            deadline.wait(&self.inner.thread_exited, &mut state);
        }
    }

    /// Joins the OS threads whose bodies have finished, waiting for them at most
    /// until the deadline (they only have thread-local destructors left to run).
    fn reap(&self, deadline: Deadline) {
        let mut pending = std::mem::take(&mut self.inner.state.lock().reap);
        let mut pause = Duration::from_micros(20);
        loop {
            join_all(take_finished(&mut pending));
            if pending.is_empty() || deadline.is_expired() {
                break;
            }
            deadline.sleep_at_most(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
        // Not finished in time: keep them for a later reap rather than detach them.
        self.inner.state.lock().reap.extend(pending);
    }
}

impl ContainerInner {
    pub(crate) fn record_panic(&self, thread_name: &str, message: String) {
        self.state.lock().panics.push(ThreadPanic {
            thread_name: thread_name.to_string(),
            container: self.path.to_string(),
            message,
        });
    }
}

/// The body of every managed OS thread.
fn run_managed(
    record: Arc<ThreadRecord>,
    container: Weak<ContainerInner>,
    inherited: Option<registry::ThreadRegistry>,
    body: impl FnOnce(StopToken) -> Option<String>,
) {
    register_current_thread(&record);
    registry::inherit(inherited);
    let span = tracing::info_span!(
        "iris_thread",
        thread = %record.name,
        container = %record.container_path
    );
    let panic = span.in_scope(|| {
        tracing::trace!("managed thread started");
        let panic = body(record.token.clone());
        if let Some(message) = &panic {
            tracing::error!(panic = %message, "managed thread panicked");
        }
        panic
    });
    unregister_os_thread(&record);
    let Some(container) = container.upgrade() else {
        record.finished.store(true, Ordering::Release);
        return;
    };
    if let Some(message) = panic {
        container.record_panic(&record.name, message);
    }
    {
        let mut state = container.state.lock();
        state.live.remove(&record.id);
        record.finished.store(true, Ordering::Release);
        if let Some(handle) = record.handle.lock().take() {
            state.reap.push(handle);
        }
    }
    container.thread_exited.notify_all();
}

/// The name given to the OS: std truncates it to the 15-byte kernel limit itself, but
/// rejects interior NUL bytes, which a user's name may contain.
fn os_thread_name(name: &str) -> String {
    if name.is_empty() {
        "iris-unnamed".to_string()
    } else {
        name.replace('\0', "\u{FFFD}")
    }
}

fn take_finished(handles: &mut Vec<JoinHandle<()>>) -> Vec<JoinHandle<()>> {
    let (done, running) = std::mem::take(handles)
        .into_iter()
        .partition(|h| h.is_finished());
    *handles = running;
    done
}

fn join_all(handles: Vec<JoinHandle<()>>) {
    for handle in handles {
        // Our own body never unwinds out of the thread: the user's code ran under
        // catch_unwind, so an Err here can only come from a TLS destructor.
        if handle.join().is_err() {
            tracing::warn!("a managed thread panicked after its body returned");
        }
    }
}

impl fmt::Debug for ThreadContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.lock();
        let mut names: Vec<_> = state.live.values().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        f.debug_struct("ThreadContainer")
            .field("path", &self.inner.path)
            .field("stopping", &state.stopping)
            .field("live", &names)
            .field("children", &state.children.len())
            .field("executors", &state.executors.len())
            .field("panics", &state.panics.len())
            .finish()
    }
}
