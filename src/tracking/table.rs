//! The table of tracked threads: who made each one, for which test, from where, and
//! how it ended.
//!
//! Invariants:
//! - Every thread started through the interposed `pthread_create` has exactly one
//!   entry in `alive` from its first instruction (the trampoline) until its thread
//!   locals are destroyed; then it leaves, and stays only as an [`Ended`] entry if a
//!   panic ended it while it worked for a test, until that test is forgotten.
//! - A creation backtrace is taken only for threads created for a test (scope not 0):
//!   runner threads and production code pay a thread-local read and a lock.
//! - The lock is never taken in a signal handler, and nothing under it allocates
//!   unboundedly or calls out to user code.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Once};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use super::{attribution, ScopeView};

/// How many return addresses a creation backtrace keeps: the creation site is near
/// the top, and a thread is created often, so it stays short.
const CREATION_FRAMES: usize = 48;

/// How many a panic's backtrace keeps. Whether the thread caught its own panic is
/// told by the `catch_unwind` frames between the panic and the thread's root, which
/// can be far down: rayon panics a hundred frames deep in its join recursion and
/// catches near the root. Panics are rare, so the whole stack is kept, to a bound.
const PANIC_FRAMES: usize = 4096;

/// What is known about a thread when it is created (taken on its creator).
#[derive(Debug, Default)]
pub(crate) struct Birth {
    scope: u64,
    creator_tid: u32,
    creator_name: String,
    ips: Option<Arc<[usize]>>,
    at: Option<Instant>,
}

impl Birth {
    /// Taken by the creating thread inside `pthread_create`; counts the thread as
    /// starting until [`begin_thread`] or [`Birth::failed`]. `creator` gives the
    /// creating thread's kernel id and OS name (asked only for a test's threads).
    pub(crate) fn capture(
        creator: impl FnOnce() -> (u32, String),
        own_stack: fn(usize) -> Arc<[usize]>,
    ) -> Birth {
        let scope = attribution::current();
        if scope == 0 {
            return Birth::default();
        }
        let Some(mut table) = table() else {
            return Birth::default();
        };
        *table.starting.entry(scope).or_default() += 1;
        drop(table);
        let (creator_tid, creator_name) = creator();
        Birth {
            scope,
            creator_tid,
            creator_name,
            ips: Some(own_stack(CREATION_FRAMES)),
            at: Some(Instant::now()),
        }
    }
}

impl Birth {
    /// The thread was not created after all.
    pub(crate) fn failed(self) {
        if let Some(mut table) = table().filter(|_| self.scope != 0) {
            started(&mut table, self.scope);
        }
    }
}

fn started(table: &mut Table, scope: u64) {
    if let Some(count) = table.starting.get_mut(&scope) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            table.starting.remove(&scope);
        }
    }
}

/// A tracked thread, as the harness sees it.
#[derive(Clone, Debug)]
pub(crate) struct Tracked {
    /// Kernel id.
    pub(crate) tid: u32,
    /// The test scope it works for (0: none).
    pub(crate) scope: u64,
    /// Its creator's kernel id and OS name at the time.
    pub(crate) creator_tid: u32,
    pub(crate) creator_name: String,
    /// When it was created.
    pub(crate) born: Option<Instant>,
    /// Raw return addresses of its creator's stack inside `pthread_create`.
    pub(crate) creation: Option<Arc<[usize]>>,
    pthread: usize,
}

impl Tracked {
    /// How long it has been alive.
    pub(crate) fn age(&self) -> Option<Duration> {
        self.born.map(|at| at.elapsed())
    }
}

impl Ended {
    /// Whether the panic's backtrace reaches the thread's root (it was not cut at
    /// [`PANIC_FRAMES`]), so that std's own `catch_unwind` around the thread's
    /// function is in it.
    pub(crate) fn stack_reaches_root(&self) -> bool {
        self.panic_stack.len() < PANIC_FRAMES
    }
}

/// A panic that ended a tracked thread.
#[derive(Clone, Debug)]
pub(crate) struct Ended {
    pub(crate) thread: Tracked,
    /// Its name (as std's panic message gives it).
    pub(crate) name: String,
    pub(crate) message: String,
    /// `file:line:column` of the panic.
    pub(crate) location: Option<String>,
    /// Raw return addresses of the panicking stack (to tell whether something inside
    /// the thread caught it).
    pub(crate) panic_stack: Arc<[usize]>,
    /// How many frames of the panicking stack catch a panic, from their exception
    /// tables (`None`: unknown); std's root catch is one.
    pub(crate) catches: Option<usize>,
    joined: bool,
    /// A newer thread got the same `pthread_t`: a join now is not a join of this one.
    superseded: bool,
}

#[derive(Default)]
struct Table {
    alive: HashMap<u32, Tracked>,
    ended: Vec<Ended>,
    /// Per scope, threads created but not yet running (their tid is not known
    /// until they run): a test must not end before its newest thread is seen.
    starting: HashMap<u64, usize>,
    /// Child processes created for a test (scope not 0), by pid, until the test is
    /// forgotten.
    children: HashMap<u32, Child>,
}

/// A child process created for a test.
#[derive(Clone, Debug)]
pub(crate) struct Child {
    pub(crate) pid: u32,
    pub(crate) scope: u64,
}

/// Records a child process just created by the calling thread, if it works for a
/// test. Called in the parent, right after `fork` or `posix_spawn` returned.
pub(crate) fn process_born(pid: u32) {
    let scope = attribution::current();
    if scope == 0 {
        return;
    }
    if let Some(mut table) = table() {
        table.children.insert(pid, Child { pid, scope });
    }
}

static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(Mutex::default);

/// Set in a child made by `fork`, where the table's lock may be held for ever by a
/// thread that does not exist there (`hooks/interposition.rs`, invariant 4).
static FORKED: AtomicBool = AtomicBool::new(false);

/// The table, unless this is a forked child (then nothing is tracked).
fn table() -> Option<MutexGuard<'static, Table>> {
    (!FORKED.load(Ordering::Relaxed)).then(|| TABLE.lock())
}

/// Called in a `fork` child: the table is not touched again in this process.
pub(crate) fn forked() {
    FORKED.store(true, Ordering::Relaxed);
}

/// A panic seen on this thread, waiting for the thread to end.
struct PanicNote {
    name: String,
    message: String,
    location: Option<String>,
    stack: Arc<[usize]>,
    catches: Option<usize>,
}

/// This thread's tracking state; its destructor is the thread's end.
struct ThisThread {
    tid: u32,
    /// Managed threads report their own panics through their container.
    managed: bool,
    panic: Option<PanicNote>,
}

impl Drop for ThisThread {
    fn drop(&mut self) {
        let Some(mut table) = table() else { return };
        let Some(thread) = table.alive.remove(&self.tid) else {
            return;
        };
        if let Some(note) = self.panic.take() {
            if thread.scope != 0 {
                table.ended.push(Ended {
                    thread,
                    name: note.name,
                    message: note.message,
                    location: note.location,
                    panic_stack: note.stack,
                    catches: note.catches,
                    joined: false,
                    superseded: false,
                });
            }
        }
    }
}

thread_local! {
    static THIS_THREAD: RefCell<Option<ThisThread>> = const { RefCell::new(None) };
}

/// Runs first on every new thread: adopts its creator's scope and registers it.
pub(crate) fn begin_thread(birth: Birth, pthread: usize, tid: u32) {
    attribution::adopt(birth.scope);
    let tracked = Tracked {
        tid,
        scope: birth.scope,
        creator_tid: birth.creator_tid,
        creator_name: birth.creator_name,
        born: birth.at,
        creation: birth.ips,
        pthread,
    };
    if let Some(mut table) = table() {
        for ended in table
            .ended
            .iter_mut()
            .filter(|e| e.thread.pthread == pthread)
        {
            ended.superseded = true;
        }
        if tracked.scope != 0 {
            started(&mut table, tracked.scope);
        }
        table.alive.insert(tid, tracked);
    }
    let _ = THIS_THREAD.try_with(|this| {
        *this.borrow_mut() = Some(ThisThread {
            tid,
            managed: false,
            panic: None,
        });
    });
}

/// A thread with this `pthread_t` was joined: its panic, if any, went to the joiner.
pub(crate) fn joined(pthread: usize) {
    let Some(mut table) = table() else { return };
    if let Some(ended) = table
        .ended
        .iter_mut()
        .rev()
        .find(|e| e.thread.pthread == pthread && !e.superseded)
    {
        ended.joined = true;
    }
}

/// Marks the calling thread as managed: its panics are its container's business.
pub(crate) fn mark_managed() {
    let _ = THIS_THREAD.try_with(|this| {
        if let Some(this) = this.borrow_mut().as_mut() {
            this.managed = true;
        }
    });
}

/// Whether `scope` has no live thread, none starting and no child process recorded
/// (see `tracking::scope_is_empty`). A forked child tracks nothing: empty.
pub(crate) fn scope_is_empty(scope: u64) -> bool {
    let Some(table) = table() else {
        return true;
    };
    !table.starting.contains_key(&scope)
        && !table.alive.values().any(|t| t.scope == scope)
        && !table.children.values().any(|c| c.scope == scope)
}

/// Everything charged to `scope`, taken under one lock so that the parts agree: the
/// kernel ids of its threads that have not ended (sorted), how many more were
/// created but have not started running yet, and the pids of its child processes
/// (alive or not: the caller asks the OS; sorted).
pub(crate) fn view_of(scope: u64) -> ScopeView {
    let Some(table) = table() else {
        return ScopeView::default();
    };
    let mut threads: Vec<u32> = table
        .alive
        .values()
        .filter(|t| t.scope == scope)
        .map(|t| t.tid)
        .collect();
    threads.sort_unstable();
    let mut children: Vec<u32> = table
        .children
        .values()
        .filter(|c| c.scope == scope)
        .map(|c| c.pid)
        .collect();
    children.sort_unstable();
    ScopeView {
        threads,
        starting: table.starting.get(&scope).copied().unwrap_or(0),
        children,
    }
}

/// The tracked thread `tid`, if it is alive.
pub(crate) fn lookup(tid: u32) -> Option<Tracked> {
    table()?.alive.get(&tid).cloned()
}

/// Threads of `scope` that a panic ended and nobody joined.
pub(crate) fn unjoined_panics(scope: u64) -> Vec<Ended> {
    let Some(table) = table() else {
        return Vec::new();
    };
    table
        .ended
        .iter()
        .filter(|e| e.thread.scope == scope && !e.joined)
        .cloned()
        .collect()
}

/// Drops what is kept about `scope`'s ended threads (the test is over).
pub(crate) fn forget(scope: u64) {
    let Some(mut table) = table() else { return };
    table.ended.retain(|e| e.thread.scope != scope);
    table.starting.remove(&scope);
    table.children.retain(|_, c| c.scope != scope);
}

/// Chains a panic hook (once) that notes panics on tracked threads working for a
/// test, so that a panic nobody collects is not lost.
///
/// `count_catches` tells, on the panicking thread, how many frames of its stack will
/// catch the panic (hooks' exception-table walk); `own_stack` walks that stack
/// (hooks' walk, which takes no process-wide lock).
pub(crate) fn install_panic_hook(
    count_catches: fn() -> Option<usize>,
    own_stack: fn(usize) -> Arc<[usize]>,
) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            note_panic(info, count_catches, own_stack);
            previous(info);
        }));
    });
}

fn note_panic(
    info: &PanicHookInfo<'_>,
    count_catches: fn() -> Option<usize>,
    own_stack: fn(usize) -> Arc<[usize]>,
) {
    if attribution::current() == 0 {
        return;
    }
    let _ = THIS_THREAD.try_with(|this| {
        let Ok(mut this) = this.try_borrow_mut() else {
            return;
        };
        let Some(this) = this.as_mut() else { return };
        if this.managed {
            return;
        }
        this.panic = Some(PanicNote {
            name: std::thread::current()
                .name()
                .unwrap_or("<unnamed>")
                .to_string(),
            message: crate::sync::panic_message(info.payload()),
            location: info.location().map(|l| l.to_string()),
            stack: own_stack(PANIC_FRAMES),
            catches: count_catches(),
        });
    });
}

/// Holds the table's lock until the guard is dropped (to fork while another thread
/// holds it).
#[cfg(test)]
pub(crate) fn lock_for_test() -> impl Sized {
    TABLE.lock()
}
