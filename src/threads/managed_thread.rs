//! [`ManagedThread`]: the handle to one managed thread, and the record a container
//! keeps for it.
//!
//! Invariants:
//! - A record is in its container's live set from before the OS thread exists until
//!   the thread's body has returned (or unwound); `finished` flips exactly once, just
//!   before the record leaves the live set, and both happen before the result is
//!   delivered to a joiner.
//! - The OS `JoinHandle` ends up in exactly one place: the record (while the thread
//!   runs) or the container's reap list (once it finished). The record's handle slot
//!   decides who puts it there when the thread finishes before its spawner has parked
//!   the handle, so a stop can join every OS thread and nothing lingers in
//!   `/proc/self/task` afterwards.
//! - The handle owns nothing: dropping it neither stops nor detaches the thread.

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::report::ThreadInfo;
use crate::sync::completion::Completion;
use crate::sync::live_set::Member;
use crate::sync::stop_token::{StopToken, TokenHost, TokenState};

/// What a managed thread is for; decides in which phase of a stop it is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Spawned by the user (`spawn`, `spawn_server`).
    Thread,
    /// An executor worker, stopped after the container's own threads.
    Worker,
    /// A managed async task (`spawn_task`): no OS thread of its own; stopped with
    /// the threads.
    Task,
}

/// What a container knows about one of its threads.
pub(crate) struct ThreadRecord {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) container_path: Arc<str>,
    pub(crate) spawned_at: &'static Location<'static>,
    pub(crate) started: Instant,
    /// The state of its stop token, hosted here: one allocation per member, and a
    /// panicking callback is reported to the owner through this record.
    stop: TokenState,
    /// The container, told about panics of this thread's stop callbacks.
    owner: Weak<dyn PanicRecorder>,
    pub(crate) role: Role,
    finished: AtomicBool,
    handle: Mutex<OsHandle>,
    pub(crate) os_tid: OnceLock<u32>,
    pub(crate) thread_id: OnceLock<std::thread::ThreadId>,
}

impl Role {
    /// Its class in a container's live set.
    pub(crate) fn class(self) -> usize {
        match self {
            Role::Thread => 0,
            Role::Task => 1,
            Role::Worker => 2,
        }
    }

    /// The live-set class bit of each role in `roles`.
    pub(crate) fn classes(roles: &[Role]) -> u8 {
        roles.iter().fold(0, |bits, r| bits | 1 << r.class())
    }
}

impl Member for Arc<ThreadRecord> {
    fn class(&self) -> usize {
        self.role.class()
    }
}

/// What a record's owner does with a panic, and with a member that is not an OS
/// thread of its own (a task) when it ends: the container.
pub(crate) trait PanicRecorder: Send + Sync {
    /// Records that `thread` panicked with `message`.
    fn record_panic(&self, thread: &str, message: String);

    /// `record` (a task) has ended: its panic is recorded, then it leaves the live set.
    fn retire(&self, record: &ThreadRecord, panic: Option<String>);
}

impl TokenHost for ThreadRecord {
    fn token_state(&self) -> &TokenState {
        &self.stop
    }

    fn report_panic(&self, message: String) {
        if let Some(owner) = self.owner.upgrade() {
            owner.record_panic(&self.name, message);
        }
    }
}

/// Where a managed thread's OS handle is.
pub(crate) enum OsHandle {
    /// The spawner has not parked it yet, and the thread is running.
    Pending,
    /// Parked in the record while the thread runs.
    Parked(JoinHandle<()>),
    /// The thread's body has returned; the handle belongs on the reap list.
    Exited,
}

impl ThreadRecord {
    /// This member (a task) has ended: its owner records its panic and lets it leave;
    /// with the owner gone, it is only marked finished.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by tasks
    pub(crate) fn retire(&self, panic: Option<String>) {
        match self.owner.upgrade() {
            Some(owner) => owner.retire(self, panic),
            None => self.mark_finished(),
        }
    }

    /// A record whose stop token (hosted in the record: no allocation of its own)
    /// reports panicking callbacks to `owner` under this thread's name.
    pub(crate) fn new(
        id: u64,
        name: String,
        container_path: Arc<str>,
        spawned_at: &'static Location<'static>,
        owner: Weak<dyn PanicRecorder>,
        role: Role,
    ) -> Arc<ThreadRecord> {
        Arc::new(ThreadRecord {
            stop: TokenState::new(),
            owner,
            id,
            name,
            container_path,
            spawned_at,
            started: Instant::now(),
            role,
            finished: AtomicBool::new(false),
            handle: Mutex::new(OsHandle::Pending),
            os_tid: OnceLock::new(),
            thread_id: OnceLock::new(),
        })
    }

    /// Its stop token (another handle to the state this record hosts).
    pub(crate) fn token(self: &Arc<Self>) -> StopToken {
        StopToken::hosted(self.clone())
    }

    /// The spawner parks the thread's handle; gives it back when the thread has
    /// already exited (then the spawner reaps it).
    pub(crate) fn keep_handle(&self, handle: JoinHandle<()>) -> Option<JoinHandle<()>> {
        let mut slot = self.handle.lock();
        match *slot {
            OsHandle::Exited => Some(handle),
            _ => {
                *slot = OsHandle::Parked(handle);
                None
            }
        }
    }

    /// The thread, at its end, takes its own parked handle for the reap list (`None`
    /// when its spawner has not parked it yet: the spawner will reap it).
    pub(crate) fn take_handle(&self) -> Option<JoinHandle<()>> {
        match std::mem::replace(&mut *self.handle.lock(), OsHandle::Exited) {
            OsHandle::Parked(handle) => Some(handle),
            OsHandle::Pending | OsHandle::Exited => None,
        }
    }

    /// The `Debug` of a handle to this member (`ManagedThread`, `ManagedTask`): its
    /// live state.
    pub(crate) fn debug_handle(&self, f: &mut fmt::Formatter<'_>, handle: &str) -> fmt::Result {
        f.debug_struct(handle)
            .field("name", &self.name)
            .field("container", &self.container_path)
            .field("alive", &!self.is_finished())
            .field("stop_requested", &self.stop.is_stopped())
            .field("spawned_at", &format_args!("{}", self.spawned_at))
            .finish()
    }

    pub(crate) fn mark_finished(&self) {
        self.finished.store(true, Ordering::Release);
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Whether this is the calling thread (which can never wait for itself to exit).
    pub(crate) fn is_current(&self) -> bool {
        self.thread_id.get() == Some(&std::thread::current().id())
    }

    pub(crate) fn info(&self) -> ThreadInfo {
        ThreadInfo {
            name: self.name.clone(),
            container: self.container_path.to_string(),
            spawned_at: self.spawned_at,
            started: self.started,
            os_tid: self.os_tid.get().copied(),
            is_task: self.role == Role::Task,
            stop_callback: false,
        }
    }
}

/// Every live managed thread of the process by kernel id, so that leak detection can
/// describe an OS thread it finds (container, spawn site) even when it belongs to a
/// container other than the test's.
static BY_TID: LazyLock<Mutex<HashMap<u32, Weak<ThreadRecord>>>> = LazyLock::new(Default::default);

impl ThreadRecord {
    /// Records the calling thread as the thread of this record.
    pub(crate) fn register_current_thread(self: &Arc<Self>) {
        let _ = self.thread_id.set(std::thread::current().id());
        if let Some(tid) = current_os_tid() {
            let _ = self.os_tid.set(tid);
            BY_TID.lock().insert(tid, Arc::downgrade(self));
        }
    }

    /// Forgets the calling thread's record (at the end of its body).
    pub(crate) fn unregister_os_thread(&self) {
        if let Some(tid) = self.os_tid.get() {
            BY_TID.lock().remove(tid);
        }
    }
}

/// The managed thread running as kernel thread `tid`, if any.
#[cfg_attr(not(feature = "harness"), allow(dead_code))] // asked by the harness
pub(crate) fn managed_by_tid(tid: u32) -> Option<ThreadInfo> {
    BY_TID.lock().get(&tid)?.upgrade().map(|r| r.info())
}

/// The kernel id of the calling thread, where the platform makes it cheap to learn.
pub(crate) fn current_os_tid() -> Option<u32> {
    // One system call, and always this thread's: right in a forked child too.
    #[cfg(all(target_os = "linux", feature = "unix-ffi"))]
    {
        u32::try_from(nix::unistd::gettid().as_raw()).ok()
    }
    #[cfg(all(target_os = "linux", not(feature = "unix-ffi")))]
    {
        use std::cell::Cell;
        thread_local! {
            /// This thread's (process id, thread id), read once: each test reads it
            /// several times, and a readlink is a few microseconds. Kept with the
            /// process id because a forked child's only thread inherits the parent's
            /// thread-locals but not its thread id.
            static CACHED: Cell<Option<(u32, u32)>> = const { Cell::new(None) };
        }
        let pid = std::process::id();
        if let Some((cached_pid, tid)) = CACHED.try_with(Cell::get).ok().flatten() {
            if cached_pid == pid {
                return Some(tid);
            }
        }
        // "/proc/thread-self" links to "<pid>/task/<tid>"; one readlink, no unsafe.
        let link = std::fs::read_link("/proc/thread-self").ok()?;
        let tid = link.file_name()?.to_str()?.parse().ok()?;
        let _ = CACHED.try_with(|cached| cached.set(Some((pid, tid))));
        Some(tid)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The handle to one managed thread, returned by
/// [`ThreadContainer::spawn`](crate::ThreadContainer::spawn).
///
/// Dropping the handle stops nothing and detaches nothing: the container owns the
/// thread and stops it with the rest.
///
/// ```
/// use iris::ThreadContainer;
///
/// let workers = ThreadContainer::new("workers");
/// let sum = workers.spawn("adder", |_stop| (1..=10).sum::<u32>());
/// assert_eq!(sum.name(), "adder");
/// assert_eq!(sum.join().unwrap(), 55);
/// ```
pub struct ManagedThread<T> {
    pub(crate) record: Arc<ThreadRecord>,
    pub(crate) result: Arc<Completion<std::thread::Result<T>>>,
}

impl<T> ManagedThread<T> {
    /// The full name (the OS name is truncated to 15 bytes; this one never is).
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Requests this thread to stop (its token's `stop`).
    pub fn stop(&self) {
        self.record.token().stop();
    }

    /// A clone of the thread's stop token.
    pub fn stop_token(&self) -> StopToken {
        self.record.token()
    }

    /// Whether the thread's body is still running.
    pub fn is_alive(&self) -> bool {
        !self.record.is_finished()
    }

    /// A description of the thread (name, container, spawn location).
    pub fn info(&self) -> ThreadInfo {
        self.record.info()
    }

    /// Waits for the thread to finish and returns its result; `Err` holds the panic
    /// payload, as with `std::thread::JoinHandle::join`. Waits without limit: prefer
    /// [`join_timeout`](Self::join_timeout) where the thread might not finish.
    pub fn join(self) -> std::thread::Result<T> {
        match self.join_timeout(Duration::MAX) {
            Ok(result) => result,
            Err(_) => unreachable!("a join without deadline cannot time out"),
        }
    }

    /// Waits at most `timeout` for the thread to finish. Gives the handle back when it
    /// is still running, so the caller can stop it, report it or try again.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iris::ThreadContainer;
    ///
    /// let workers = ThreadContainer::new("workers");
    /// let waiter = workers.spawn("waiter", |stop| stop.wait());
    /// let waiter = waiter.join_timeout(Duration::ZERO).unwrap_err(); // still running
    /// waiter.stop();
    /// assert!(waiter.join_timeout(Duration::from_secs(5)).is_ok());
    /// ```
    pub fn join_timeout(self, timeout: Duration) -> Result<std::thread::Result<T>, Self> {
        if self.record.is_current() {
            // Waiting for ourselves would never end.
            return Ok(Err(Box::new("a managed thread cannot join itself")));
        }
        self.result.join(timeout, never_ran).ok_or(self)
    }
}

/// The body always completes the result slot unless its thread never ran, and a
/// thread that never ran has no handle; should it happen, it is reported like a panic.
fn never_ran() -> String {
    "the managed thread never ran".to_string()
}

impl<T> fmt::Debug for ManagedThread<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.record.debug_handle(f, "ManagedThread")
    }
}

impl<T> Drop for ManagedThread<T> {
    fn drop(&mut self) {
        // Nobody will take the result; let the body drop it itself from now on.
        drop(self.result.drop_observer());
    }
}
