//! [`ThreadContainer`]: a named tree of managed threads that is stopped and joined as
//! one, under one deadline.
//!
//! This file is the tree and its lifecycle; the public ways to start threads are built
//! on [`ThreadContainer::launch`] elsewhere (`spawn.rs`, `executor.rs`, the process
//! layer), and what a thread inherits from its spawner is `context.rs`'s business.
//!
//! Invariants:
//! - A container's running threads are a [`LiveSet`]: a spawn is admitted only while
//!   the set is open, and a stop closes it before it looks at the members. So every
//!   thread either is refused or is seen (and signalled) by the stop: none escapes.
//! - The set is closed on the whole tree (top-down) before any thread is signalled, so
//!   a thread that is being stopped cannot spawn replacements anywhere in the tree.
//!   A child created under a stopping container is born stopping.
//! - A stop never holds a container lock while it signals or waits on a thread (stop
//!   callbacks run user code) and never waits past its one deadline.
//! - Stop is idempotent and needs no lock of its own: signalling, shutting executors
//!   down and waiting can all be repeated, concurrently, by any number of callers.
//! - A finished thread's record leaves the live set *before* its result is handed to
//!   a joiner: once `join` returns, the thread is in no `alive_threads`, `is_alive`
//!   is false and no stop counts it. Its panic is recorded before it leaves, so a
//!   stop that saw it leave also sees the panic.
//! - Finished threads leave the live set at once, so a long-running process does not
//!   accumulate records; their OS handles are put on the reap list before the record
//!   leaves, so a stop that waited for the thread also joins its OS thread.
//! - Lock order: the tree lock, then the live set's lock; never the other way.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use super::managed_thread::{PanicRecorder, Role, ThreadRecord};
use super::report::{SpawnError, StopError, ThreadInfo, ThreadPanic};
use super::stop_callbacks::CallbackRun;
use crate::sync::deadline::Deadline;
use crate::sync::live_set::{Awaited, LiveSet};
use crate::sync::stop_token::StopToken;

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
    /// The running threads; closed once the container is stopping.
    live: LiveSet<Arc<ThreadRecord>>,
    tree: Mutex<Tree>,
}

/// What a container owns besides its running threads.
#[derive(Default)]
struct Tree {
    children: Vec<ThreadContainer>,
    drains: Vec<Arc<dyn Drain>>,
    panics: Vec<ThreadPanic>,
    /// OS handles of threads whose bodies have returned, joined on the next spawn or
    /// stop.
    reap: Vec<JoinHandle<()>>,
}

/// Something a container shuts down after its own threads, under the same stop: it
/// stops taking work and finishes what it accepted (its threads, which are the
/// container's too, are then waited for like the others). Executors are one.
pub(crate) trait Drain: Send + Sync {
    /// Stop taking work; let what was accepted finish. Called once per stop, maybe
    /// more than once in all: must be idempotent.
    fn shut_down(&self);
}

/// A stop in progress: the tree's levels, deepest last, and the phase to signal
/// next. Shared by the blocking [`ThreadContainer::stop`] and the async `stop_async`,
/// which differ only in how they wait between the steps.
pub(crate) struct StopRun {
    root: ThreadContainer,
    levels: Vec<Vec<ThreadContainer>>,
    /// The next (level, phase) to signal, counting from the deepest level.
    next: usize,
    signalled: Vec<Arc<ThreadRecord>>,
    /// `on_stop` callbacks running on their helper threads.
    callbacks: Vec<CallbackRun>,
}

/// One container of a level, and what to wait for in it before the next step.
pub(crate) type LevelWait = Vec<(ThreadContainer, Awaited)>;

impl StopRun {
    /// Whether the closed tree has nothing a stop would act on: no member, no
    /// executor to drain, no finished thread to join, no panic to report. Then the
    /// steps would signal and wait for nobody and the verdict would be `Ok`; a test's
    /// registry, stopped at the end of every test, is nearly always so, and the steps
    /// cost it tens of microseconds in a debug build.
    ///
    /// Exact because the live sets were closed first (nothing joins after this look)
    /// and a leaving member records its panic and queues its handle before it leaves:
    /// an empty live set means those are already in the tree.
    pub(crate) fn has_nothing_to_stop(&self) -> bool {
        self.levels.iter().flatten().all(|container| {
            container.inner.live.len() == 0 && {
                let tree = container.inner.tree.lock();
                tree.drains.is_empty() && tree.reap.is_empty() && tree.panics.is_empty()
            }
        })
    }

    /// Signals the next step (a phase of a level: its threads and tasks, then its
    /// executors' workers) and returns what to wait for before the step after it;
    /// `None` when every step is done.
    pub(crate) fn signal_next(&mut self) -> Option<LevelWait> {
        let phases = [Phase::Own, Phase::Workers];
        let step = self.next;
        let level = self.levels.len().checked_sub(1 + step / phases.len())?;
        let phase = phases[step % phases.len()];
        self.next += 1;
        let level = &self.levels[level];
        let mut batch = Vec::new();
        for container in level {
            if phase == Phase::Workers {
                let drains = container.inner.tree.lock().drains.clone();
                for drain in drains {
                    drain.shut_down();
                }
            }
            batch.extend(container.inner.live.members(|r| phase.covers(r.role)));
        }
        // Callbacks are user code that may block: they run on helper threads, and the
        // stop waits for them only until its deadline.
        self.callbacks
            .extend(batch.iter().filter_map(CallbackRun::signal));
        self.signalled.extend(batch);
        // A thread stopping its own container cannot wait for itself.
        Some(
            level
                .iter()
                .map(|c| {
                    let awaited = Awaited {
                        classes: phase.classes(),
                        except: c.current_member(),
                    };
                    (c.clone(), awaited)
                })
                .collect(),
        )
    }

    /// Waits until `deadline` for the `on_stop` callbacks this stop started.
    pub(crate) fn wait_callbacks(&self, deadline: Deadline) {
        for run in &self.callbacks {
            run.wait(deadline);
        }
    }

    /// Whether an `on_stop` callback started by this stop is still running.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by stop_async
    pub(crate) fn callbacks_running(&self) -> bool {
        self.callbacks.iter().any(|run| !run.is_done())
    }

    /// Joins what has finished (waiting for OS threads at most until `deadline`) and
    /// names every straggler and panic.
    pub(crate) fn verdict(self, deadline: Deadline, timeout: Duration) -> Result<(), StopError> {
        self.wait_callbacks(deadline);
        let mut panics = Vec::new();
        for container in self.levels.iter().flatten() {
            container.reap(deadline);
            panics.extend(container.inner.tree.lock().panics.iter().cloned());
        }
        let mut stragglers: Vec<ThreadInfo> = self
            .signalled
            .iter()
            .filter(|r| !r.is_finished() && !r.is_current())
            .map(|r| r.info())
            .chain(self.callbacks.iter().filter_map(CallbackRun::straggler))
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
                container: self.root.inner.path.to_string(),
                timeout,
                stragglers,
                panics,
            })
        }
    }
}

/// The two phases of a level's stop.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The container's own threads and tasks.
    Own,
    /// Executor workers, after the executors were told to drain.
    Workers,
}

impl Phase {
    fn covers(self, role: Role) -> bool {
        match self {
            Phase::Own => role != Role::Worker,
            Phase::Workers => role == Role::Worker,
        }
    }

    fn classes(self) -> u8 {
        match self {
            Phase::Own => Role::classes(&[Role::Thread, Role::Task]),
            Phase::Workers => Role::classes(&[Role::Worker]),
        }
    }
}

/// What a managed thread's body hands back to [`ThreadContainer::launch`].
pub(crate) struct Exit {
    /// The message of the user code's panic, if it panicked.
    pub(crate) panic: Option<String>,
    /// Hands the result to whoever joins the thread: run after the thread has left the
    /// live set, so that a joiner never sees it alive.
    pub(crate) deliver: Option<Box<dyn FnOnce() + Send>>,
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
                live: LiveSet::new(stopping),
                tree: Mutex::new(Tree::default()),
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

    /// A child container, stopped before this container's own threads. Its path is
    /// this container's path, `/`, and `name`. A child created while this container is
    /// stopping is born stopped.
    pub fn create_child(&self, name: impl Into<String>) -> ThreadContainer {
        let name = name.into();
        let path: Arc<str> = Arc::from(format!("{}/{}", self.inner.path, name));
        let mut tree = self.inner.tree.lock();
        // Forget children that are done for good, so that creating short-lived
        // children in a long-running process does not accumulate them.
        tree.children.retain(|c| !c.is_done_for_good());
        // Under the tree lock, which a stop holds while it closes this container: the
        // child is either seen by the stop or born stopping.
        let child = ThreadContainer::with_path(name, path, self.inner.live.is_closed());
        tree.children.push(child.clone());
        child
    }

    /// The live managed tasks (`spawn_task`) of this container and its descendants.
    pub fn alive_tasks(&self) -> Vec<ThreadInfo> {
        let mut infos = Vec::new();
        self.visit(&mut |c| {
            infos.extend(
                c.inner
                    .live
                    .members(|r| r.role == Role::Task)
                    .iter()
                    .map(|r| r.info()),
            )
        });
        infos
    }

    /// Whether any thread (or managed task) of this container or of its descendants
    /// is still running.
    pub fn is_alive(&self) -> bool {
        let mut alive = false;
        self.visit(&mut |c| alive |= c.inner.live.len() > 0);
        alive
    }

    /// The live threads of this container and its descendants.
    pub fn alive_threads(&self) -> Vec<ThreadInfo> {
        let mut infos = Vec::new();
        self.visit(&mut |c| {
            infos.extend(
                c.inner
                    .live
                    .members(|r| r.role != Role::Task)
                    .iter()
                    .map(|r| r.info()),
            )
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
        let others = |r: &Arc<ThreadRecord>| !r.is_current();
        loop {
            let mut all_gone = true;
            self.visit(&mut |c| {
                let awaited = Awaited {
                    classes: Awaited::ALL,
                    except: c.current_member(),
                };
                all_gone &= c.inner.live.await_none(awaited, deadline);
            });
            if !all_gone {
                return false; // only a passed deadline leaves a thread behind
            }
            // A thread may have spawned another into an already-visited container.
            let mut any_left = false;
            self.visit(&mut |c| any_left |= c.inner.live.any(others));
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
        let mut stop = self.begin_stop();
        if stop.has_nothing_to_stop() {
            return Ok(());
        }
        while let Some(waits) = stop.signal_next() {
            for (container, awaited) in waits {
                container.inner.live.await_none(awaited, deadline);
            }
            // A level is stopped when its callbacks have returned too.
            stop.wait_callbacks(deadline);
        }
        stop.verdict(deadline, timeout)
    }

    /// Whether stop has been requested for this container (or an ancestor).
    pub fn is_stopped(&self) -> bool {
        self.inner.live.is_closed()
    }

    /// Panics recorded so far in this container and its descendants.
    pub fn panics(&self) -> Vec<ThreadPanic> {
        let mut panics = Vec::new();
        self.visit(&mut |c| panics.extend(c.inner.tree.lock().panics.iter().cloned()));
        panics
    }

    // ----- internals -----

    /// Adds `drain` to what this container shuts down when it stops (at once, if it
    /// is stopping already).
    pub(crate) fn add_drain(&self, drain: Arc<dyn Drain>) {
        let mut tree = self.inner.tree.lock();
        // Under the tree lock, which a stop holds while it closes this container: the
        // drain is either seen by that stop or shut down here.
        if self.inner.live.is_closed() {
            drain.shut_down();
        }
        tree.drains.push(drain);
    }

    /// Admits a new member (thread or task) to the live set, with a fresh stop token
    /// whose panicking callbacks are recorded here. Refused once stopping.
    pub(crate) fn admit(
        &self,
        name: String,
        role: Role,
        spawned_at: &'static Location<'static>,
    ) -> Result<Arc<ThreadRecord>, SpawnError> {
        let id = NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed);
        let owner = Arc::downgrade(&self.inner) as Weak<dyn PanicRecorder>;
        let record = ThreadRecord::new(id, name, self.inner.path.clone(), spawned_at, owner, role);
        if self.inner.live.admit(id, record.clone()).is_err() {
            return Err(SpawnError::Stopped {
                container: self.inner.path.to_string(),
                thread: record.name.clone(),
            });
        }
        Ok(record)
    }

    /// Starts an OS thread for `body`, admitted to the live set before it exists.
    /// `body` runs on the new thread with the thread's stop token; what it returns
    /// says whether the user code panicked and how to deliver the result.
    pub(crate) fn launch(
        &self,
        name: String,
        role: Role,
        spawned_at: &'static Location<'static>,
        body: impl FnOnce(StopToken) -> Exit + Send + 'static,
    ) -> Result<Arc<ThreadRecord>, SpawnError> {
        let record = self.admit(name, role, spawned_at)?;
        let id = record.id;
        let finished_handles = take_finished(&mut self.inner.tree.lock().reap);
        join_all(finished_handles);

        let container = Arc::downgrade(&self.inner);
        let in_thread = record.clone();
        let spawned = std::thread::Builder::new()
            .name(os_thread_name(&record.name))
            .spawn(move || run_managed(in_thread, container, body));
        match spawned {
            Ok(handle) => {
                if let Some(handle) = record.keep_handle(handle) {
                    // It already finished: its body could not park the handle.
                    self.inner.tree.lock().reap.push(handle);
                }
                Ok(record)
            }
            Err(source) => {
                record.mark_finished();
                self.inner.live.leave(id);
                Err(SpawnError::Os {
                    thread: record.name.clone(),
                    source,
                })
            }
        }
    }

    /// Starts a stop: closes the tree's live sets (top-down) and plans its steps.
    pub(crate) fn begin_stop(&self) -> StopRun {
        let mut levels: Vec<Vec<ThreadContainer>> = Vec::new();
        self.mark_stopping(0, &mut levels);
        StopRun {
            root: self.clone(),
            levels,
            next: 0,
            signalled: Vec::new(),
            callbacks: Vec::new(),
        }
    }

    /// Waits (asynchronously) until no member of `awaited` is left here.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by tasks
    pub(crate) fn members_gone(
        &self,
        awaited: Awaited,
    ) -> crate::sync::live_set::AllGone<'_, Arc<ThreadRecord>> {
        self.inner.live.all_gone(awaited)
    }

    /// The id of the calling thread's record, if it is one of this container's.
    fn current_member(&self) -> Option<u64> {
        self.inner
            .live
            .members(|r| r.is_current())
            .first()
            .map(|r| r.id)
    }

    fn is_done_for_good(&self) -> bool {
        let children = self.inner.tree.lock().children.clone();
        self.inner.live.is_closed()
            && self.inner.live.len() == 0
            && children.iter().all(|c| c.is_done_for_good())
    }

    /// Calls `f` on this container and every descendant, parents before children.
    fn visit(&self, f: &mut dyn FnMut(&ThreadContainer)) {
        f(self);
        let children = self.inner.tree.lock().children.clone();
        for child in &children {
            child.visit(f);
        }
    }

    /// Closes the tree's live sets, top-down, and groups its containers by depth.
    fn mark_stopping(&self, depth: usize, levels: &mut Vec<Vec<ThreadContainer>>) {
        let children = {
            let tree = self.inner.tree.lock();
            self.inner.live.close();
            tree.children.clone()
        };
        if levels.len() <= depth {
            levels.push(Vec::new());
        }
        levels[depth].push(self.clone());
        for child in &children {
            child.mark_stopping(depth + 1, levels);
        }
    }

    /// Joins the OS threads whose bodies have finished, waiting for them at most
    /// until the deadline (they only have thread-local destructors left to run).
    fn reap(&self, deadline: Deadline) {
        let mut pending = std::mem::take(&mut self.inner.tree.lock().reap);
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
        self.inner.tree.lock().reap.extend(pending);
    }
}

impl PanicRecorder for ContainerInner {
    fn record_panic(&self, thread_name: &str, message: String) {
        self.tree.lock().panics.push(ThreadPanic {
            thread_name: thread_name.to_string(),
            container: self.path.to_string(),
            message,
        });
    }

    fn retire(&self, record: &ThreadRecord, panic: Option<String>) {
        retire(self, record, panic);
    }
}

/// The body of every managed OS thread.
fn run_managed(
    record: Arc<ThreadRecord>,
    container: Weak<ContainerInner>,
    body: impl FnOnce(StopToken) -> Exit,
) {
    record.register_current_thread();
    // Its panics are this container's to report, not the thread tracker's.
    crate::tracking::mark_managed();
    let exit = body(record.token());
    record.unregister_os_thread();
    let handle = record.take_handle();
    match container.upgrade() {
        Some(container) => {
            if let Some(handle) = handle {
                container.tree.lock().reap.push(handle);
            }
            retire(&container, &record, exit.panic);
        }
        // Nobody can stop or list it any more: only the joiner is left to tell.
        None => record.mark_finished(),
    }
    // Last: a joiner woken by this sees the thread gone from every view.
    if let Some(deliver) = exit.deliver {
        deliver();
    }
}

/// The end of a member's life in its container: its panic recorded first (a stop that
/// sees it leave also sees the panic), then `finished`, then it leaves the live set.
fn retire(container: &ContainerInner, record: &ThreadRecord, panic: Option<String>) {
    if let Some(message) = panic {
        container.record_panic(&record.name, message);
    }
    record.mark_finished();
    container.live.leave(record.id);
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
        let live = self.inner.live.members(|_| true);
        let mut names: Vec<_> = live.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        let tree = self.inner.tree.lock();
        f.debug_struct("ThreadContainer")
            .field("path", &self.inner.path)
            .field("stopping", &self.inner.live.is_closed())
            .field("live", &names)
            .field("children", &tree.children.len())
            .field("drains", &tree.drains.len())
            .field("panics", &tree.panics.len())
            .finish()
    }
}
