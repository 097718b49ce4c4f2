//! The interposed calls (thread tracking's first `unsafe` world): `pthread_create`,
//! `pthread_join`, `posix_spawn`, `posix_spawnp`, `fork`, `nanosleep` and
//! `clock_nanosleep` defined in the binary, forwarding to glibc's, recording each
//! thread and child process for the test the calling thread works for, and giving
//! schedule chaos (`tracking/chaos.rs`) its points: a new thread's start, its
//! creator's next step, a sleep's end.
//!
//! # Why defining `pthread_create` is sound
//! A Rust binary links its crates statically, so a `#[no_mangle]` definition here is
//! what every call to `pthread_create` inside the binary binds to at link time: std's
//! `thread::spawn`, tokio's and rayon's pools, C code compiled into the binary. We
//! forward to the next definition in the lookup order (glibc's), found once with
//! `dlsym(RTLD_NEXT, ..)`, with the caller's arguments unchanged except that the start
//! routine is our trampoline and its argument a box holding the caller's routine and
//! argument. Shared libraries loaded at run time keep calling glibc directly (the
//! binary does not export the symbol), so their threads are not tracked: a limit,
//! never a fault.
//!
//! The same holds for `posix_spawn`, `posix_spawnp` and `fork`, the calls std's
//! `Command::spawn` (and C code) creates child processes with: each forwards to
//! glibc's with the caller's arguments unchanged and, in the parent only, records
//! the new pid for the test the calling thread works for.
//!
//! # Invariants
//! 1. `pthread_create` and `pthread_join` have glibc's exact C signatures and never
//!    unwind: everything they call is panic-free or runs under `catch_unwind`.
//! 2. The [`Start`] box is owned by exactly one side: the new thread takes it back in
//!    the trampoline; when the real `pthread_create` fails, the caller takes it back.
//!    It is never freed twice and never leaked.
//! 3. If `dlsym` finds no next definition, the call fails with `EAGAIN` (for create),
//!    `ESRCH` (for join) or `ENOSYS` (for the process calls) instead of jumping to
//!    address 0.
//! 4. A child made by `fork` has only the forking thread, and a lock another thread
//!    held at the fork stays held there for ever. Before the first thread is made
//!    through us, a `pthread_atfork` child handler is registered; it only stores two
//!    atomics, turning tracking off in the child and keeping it from ever taking the
//!    table's lock, so a forked child that makes or joins threads cannot hang on us.
//! 5. The interposed `fork` does nothing in the child but return: a child of a
//!    multi-threaded process may only make async-signal-safe calls before `exec`.
//!    The parent records the pid after the real call returned, under
//!    `catch_unwind`, like the spawn calls.
//! 6. The interposed `nanosleep` and `clock_nanosleep` pass the caller's arguments to
//!    glibc's unchanged and return its result (and `errno`). Only after a sleep that ran its whole
//!    course (result 0) may chaos add a second sleep, under `catch_unwind`; an
//!    interrupted one (`EINTR`, with the time left in `rem`) returns at once, as the
//!    caller's retry loop expects. Chaos's holds are points too, and a hold decides
//!    nothing inside a hold (chaos's invariant 3), so a hold's own sleep comes back
//!    here without recursing. With no test under chaos, the cost is one atomic load.

use std::ffi::{c_int, c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

use libc::{pthread_attr_t, pthread_t};

use super::super::chaos::{self, Point};
use super::super::table::{self, Birth};
use super::unwinding::own_stack;

type StartRoutine = extern "C" fn(*mut c_void) -> *mut c_void;
type CreateFn =
    unsafe extern "C" fn(*mut pthread_t, *const pthread_attr_t, StartRoutine, *mut c_void) -> c_int;
type JoinFn = unsafe extern "C" fn(pthread_t, *mut *mut c_void) -> c_int;

static REAL_CREATE: AtomicUsize = AtomicUsize::new(0);
/// When false, `pthread_create` goes straight to glibc (benchmarks compare the two
/// in one binary).
static TRACKING: AtomicBool = AtomicBool::new(true);

/// Turns tracking of new threads on or off for the process.
pub(crate) fn set_tracking(on: bool) {
    TRACKING.store(on, Ordering::Relaxed);
}
static REAL_JOIN: AtomicUsize = AtomicUsize::new(0);

/// The next definition of `name` after ours (glibc's), looked up once.
fn next_definition(slot: &AtomicUsize, name: &CStr) -> Option<usize> {
    let mut address = slot.load(Ordering::Acquire);
    if address == 0 {
        // SAFETY: `name` is a valid C string; RTLD_NEXT is a valid pseudo-handle.
        address = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
        slot.store(address, Ordering::Release);
    }
    (address != 0).then_some(address)
}

static AT_FORK: Once = Once::new();

/// Set by the first `pthread_create` that comes through here, tracked or not.
static INTERPOSED: AtomicBool = AtomicBool::new(false);

/// Whether a thread has been created through this `pthread_create` (the binary binds
/// to it), whether or not tracking was on at the time.
pub(crate) fn interposed() -> bool {
    INTERPOSED.load(Ordering::Relaxed)
}

/// Runs in a `fork` child, on its only thread (invariant 4).
extern "C" fn forked_child() {
    TRACKING.store(false, Ordering::Relaxed);
    table::forked();
}

/// What the trampoline needs: the caller's routine and argument, and the birth
/// record taken on the creating thread.
struct Start {
    routine: StartRoutine,
    arg: *mut c_void,
    birth: Birth,
    /// The new thread's chaos generator, drawn from its creator's (none when the
    /// creator's test is not under chaos).
    chaos: Option<chaos::Generator>,
}

/// Interposed `pthread_create`: records the birth, then creates the thread through
/// glibc with [`trampoline`] as its start routine.
///
/// # Safety
/// The caller's contract is glibc's `pthread_create`'s; this adds none.
#[no_mangle]
pub unsafe extern "C" fn pthread_create(
    thread: *mut pthread_t,
    attr: *const pthread_attr_t,
    routine: StartRoutine,
    arg: *mut c_void,
) -> c_int {
    let Some(real) = next_definition(&REAL_CREATE, c"pthread_create") else {
        return libc::EAGAIN;
    };
    INTERPOSED.store(true, Ordering::Relaxed);
    AT_FORK.call_once(|| {
        // SAFETY: the handler is a plain `extern "C" fn()` that only stores atomics
        // (async-signal-safe, as a fork child handler must be); it is registered once.
        unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
    });
    // SAFETY: the address is glibc's `pthread_create`, whose type this is.
    let real: CreateFn = unsafe { std::mem::transmute::<usize, CreateFn>(real) };
    if !TRACKING.load(Ordering::Relaxed) {
        // SAFETY: the caller's arguments, unchanged, to glibc.
        return unsafe { real(thread, attr, routine, arg) };
    }
    let birth =
        std::panic::catch_unwind(|| Birth::capture(|| (gettid(), own_os_name()), own_stack))
            .unwrap_or_default();
    let chaos = std::panic::catch_unwind(chaos::for_a_new_thread).unwrap_or(None);
    let start = Box::into_raw(Box::new(Start {
        routine,
        arg,
        birth,
        chaos,
    }));
    // SAFETY: the caller's arguments are passed on; `start` stays valid until the
    // trampoline or the failure branch below takes it back (invariant 2).
    let result = unsafe { real(thread, attr, trampoline, start.cast()) };
    if result != 0 {
        // SAFETY: no thread was created, so nobody else owns the box.
        let start = unsafe { Box::from_raw(start) };
        let _ = std::panic::catch_unwind(move || start.birth.failed());
    } else {
        let _ = std::panic::catch_unwind(|| chaos::hold(Point::AfterCreate, this_thread));
    }
    result
}

/// The new thread's first function: takes the box back, registers the thread, and
/// runs the caller's routine.
extern "C" fn trampoline(data: *mut c_void) -> *mut c_void {
    // SAFETY: `data` is the box `pthread_create` made for this thread, handed over
    // exactly once (invariant 2).
    let start = unsafe { Box::from_raw(data.cast::<Start>()) };
    let Start {
        routine,
        arg,
        birth,
        chaos,
    } = *start;
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() } as usize;
    let _ = std::panic::catch_unwind(move || table::begin_thread(birth, me, gettid()));
    // Now that it works for its creator's test: held back, if that test is under
    // chaos, before its first line of code.
    let _ = std::panic::catch_unwind(|| {
        chaos::adopt(chaos);
        chaos::hold(Point::ThreadStart, || {
            format!("a new thread of {}", own_os_name_quoted())
        })
    });
    routine(arg)
}

/// The calling thread, for chaos's words: `thread "worker-2"`.
fn this_thread() -> String {
    format!("thread {}", own_os_name_quoted())
}

/// The calling thread's OS name, quoted.
fn own_os_name_quoted() -> String {
    format!("{:?}", own_os_name())
}

type SleepFn = unsafe extern "C" fn(*const libc::timespec, *mut libc::timespec) -> c_int;
static REAL_NANOSLEEP: AtomicUsize = AtomicUsize::new(0);
type ClockSleepFn = unsafe extern "C" fn(
    libc::clockid_t,
    c_int,
    *const libc::timespec,
    *mut libc::timespec,
) -> c_int;
static REAL_CLOCK_NANOSLEEP: AtomicUsize = AtomicUsize::new(0);

/// After a relative sleep of `requested` that ran its whole course: the longer one
/// chaos may add (invariant 6).
fn after_a_whole_sleep(requested: *const libc::timespec) {
    if requested.is_null() {
        return;
    }
    // SAFETY: glibc has just read it: a valid `timespec`.
    let asked = unsafe { *requested };
    let asked = std::time::Duration::new(
        u64::try_from(asked.tv_sec).unwrap_or(0),
        u32::try_from(asked.tv_nsec).unwrap_or(0).min(999_999_999),
    );
    let _ = std::panic::catch_unwind(|| {
        let extra = chaos::stretch(asked, this_thread);
        if !extra.is_zero() {
            chaos::sleep_holding(extra);
        }
    });
}

/// Interposed `clock_nanosleep` (what `std::thread::sleep` calls on Linux): sleeps
/// through glibc, then, after a relative sleep of a thread whose test is under
/// chaos, perhaps longer (invariant 6). A sleep until an absolute time is left as
/// it is.
///
/// # Safety
/// The caller's contract is glibc's `clock_nanosleep`'s; this adds none.
#[no_mangle]
pub unsafe extern "C" fn clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    requested: *const libc::timespec,
    remaining: *mut libc::timespec,
) -> c_int {
    let Some(real) = next_definition(&REAL_CLOCK_NANOSLEEP, c"clock_nanosleep") else {
        // It returns its error; it does not set errno.
        return libc::ENOSYS;
    };
    // SAFETY: the address is glibc's `clock_nanosleep`, whose type this is.
    let real: ClockSleepFn = unsafe { std::mem::transmute::<usize, ClockSleepFn>(real) };
    // SAFETY: the caller's arguments, unchanged, to glibc.
    let result = unsafe { real(clock, flags, requested, remaining) };
    if result == 0 && flags & libc::TIMER_ABSTIME == 0 {
        after_a_whole_sleep(requested);
    }
    result
}

/// Interposed `nanosleep` (what `std::thread::sleep` calls): sleeps through glibc,
/// then, if the calling thread's test is under chaos, perhaps longer (invariant 6).
///
/// # Safety
/// The caller's contract is glibc's `nanosleep`'s; this adds none.
#[no_mangle]
pub unsafe extern "C" fn nanosleep(
    requested: *const libc::timespec,
    remaining: *mut libc::timespec,
) -> c_int {
    let Some(real) = next_definition(&REAL_NANOSLEEP, c"nanosleep") else {
        // SAFETY: errno is this thread's.
        unsafe { *libc::__errno_location() = libc::ENOSYS };
        return -1;
    };
    // SAFETY: the address is glibc's `nanosleep`, whose type this is.
    let real: SleepFn = unsafe { std::mem::transmute::<usize, SleepFn>(real) };
    // SAFETY: the caller's arguments, unchanged, to glibc.
    let result = unsafe { real(requested, remaining) };
    if result == 0 {
        after_a_whole_sleep(requested);
    }
    result
}

/// Interposed `pthread_join`: joins through glibc, then notes that the thread's end
/// (and any panic in it) was collected by its joiner.
///
/// # Safety
/// The caller's contract is glibc's `pthread_join`'s; this adds none.
#[no_mangle]
pub unsafe extern "C" fn pthread_join(thread: pthread_t, retval: *mut *mut c_void) -> c_int {
    let Some(real) = next_definition(&REAL_JOIN, c"pthread_join") else {
        return libc::ESRCH;
    };
    // SAFETY: the address is glibc's `pthread_join`, whose type this is.
    let real: JoinFn = unsafe { std::mem::transmute::<usize, JoinFn>(real) };
    // SAFETY: the caller's arguments are passed on unchanged.
    let result = unsafe { real(thread, retval) };
    if result == 0 {
        let _ = std::panic::catch_unwind(|| table::joined(thread as usize));
    }
    result
}

type SpawnFn = unsafe extern "C" fn(
    *mut libc::pid_t,
    *const libc::c_char,
    *const libc::posix_spawn_file_actions_t,
    *const libc::posix_spawnattr_t,
    *const *mut libc::c_char,
    *const *mut libc::c_char,
) -> c_int;
type ForkFn = unsafe extern "C" fn() -> libc::pid_t;

static REAL_SPAWN: AtomicUsize = AtomicUsize::new(0);
static REAL_SPAWNP: AtomicUsize = AtomicUsize::new(0);
static REAL_FORK: AtomicUsize = AtomicUsize::new(0);

/// Records a child the calling thread just created (in the parent).
fn child_created(pid: libc::pid_t) {
    if pid > 0 && TRACKING.load(Ordering::Relaxed) {
        let _ = std::panic::catch_unwind(|| table::process_born(pid as u32));
    }
}

/// Forwards a `posix_spawn` or `posix_spawnp` call to glibc's and records the child.
///
/// # Safety
/// The caller's contract is glibc's `posix_spawn`'s; `slot` and `name` name the
/// function forwarded to.
#[allow(clippy::too_many_arguments)]
unsafe fn spawn_through(
    slot: &AtomicUsize,
    name: &CStr,
    pid: *mut libc::pid_t,
    path: *const libc::c_char,
    file_actions: *const libc::posix_spawn_file_actions_t,
    attributes: *const libc::posix_spawnattr_t,
    argv: *const *mut libc::c_char,
    envp: *const *mut libc::c_char,
) -> c_int {
    let Some(real) = next_definition(slot, name) else {
        return libc::ENOSYS;
    };
    // SAFETY: the address is glibc's function of this name, whose type this is.
    let real: SpawnFn = unsafe { std::mem::transmute::<usize, SpawnFn>(real) };
    // SAFETY: the caller's arguments are passed on unchanged.
    let result = unsafe { real(pid, path, file_actions, attributes, argv, envp) };
    if result == 0 && !pid.is_null() {
        // SAFETY: on success glibc wrote the child's pid through the caller's
        // non-null pointer.
        child_created(unsafe { *pid });
    }
    result
}

/// Interposed `posix_spawn`: creates the child through glibc and records it.
///
/// # Safety
/// The caller's contract is glibc's `posix_spawn`'s; this adds none.
#[no_mangle]
pub unsafe extern "C" fn posix_spawn(
    pid: *mut libc::pid_t,
    path: *const libc::c_char,
    file_actions: *const libc::posix_spawn_file_actions_t,
    attributes: *const libc::posix_spawnattr_t,
    argv: *const *mut libc::c_char,
    envp: *const *mut libc::c_char,
) -> c_int {
    // SAFETY: forwarded with the caller's contract.
    unsafe {
        spawn_through(
            &REAL_SPAWN,
            c"posix_spawn",
            pid,
            path,
            file_actions,
            attributes,
            argv,
            envp,
        )
    }
}

/// Interposed `posix_spawnp`: creates the child through glibc and records it.
///
/// # Safety
/// The caller's contract is glibc's `posix_spawnp`'s; this adds none.
#[no_mangle]
pub unsafe extern "C" fn posix_spawnp(
    pid: *mut libc::pid_t,
    file: *const libc::c_char,
    file_actions: *const libc::posix_spawn_file_actions_t,
    attributes: *const libc::posix_spawnattr_t,
    argv: *const *mut libc::c_char,
    envp: *const *mut libc::c_char,
) -> c_int {
    // SAFETY: forwarded with the caller's contract.
    unsafe {
        spawn_through(
            &REAL_SPAWNP,
            c"posix_spawnp",
            pid,
            file,
            file_actions,
            attributes,
            argv,
            envp,
        )
    }
}

/// Interposed `fork`: forks through glibc; the parent records the child, the child
/// only returns (invariant 5).
///
/// # Safety
/// The caller's contract is glibc's `fork`'s; this adds none.
#[no_mangle]
pub unsafe extern "C" fn fork() -> libc::pid_t {
    let Some(real) = next_definition(&REAL_FORK, c"fork") else {
        // SAFETY: __errno_location returns this thread's errno slot.
        unsafe { *libc::__errno_location() = libc::ENOSYS };
        return -1;
    };
    // SAFETY: the address is glibc's `fork`, whose type this is.
    let real: ForkFn = unsafe { std::mem::transmute::<usize, ForkFn>(real) };
    // SAFETY: no arguments; the caller's contract.
    let pid = unsafe { real() };
    if pid > 0 {
        child_created(pid);
    }
    pid
}

/// The calling thread's kernel id.
pub(crate) fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// The calling thread's OS name (what `/proc/.../comm` shows).
pub(crate) fn own_os_name() -> String {
    let mut buffer = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes, NUL included, into the buffer.
    let result = unsafe { libc::prctl(libc::PR_GET_NAME, buffer.as_mut_ptr()) };
    if result != 0 {
        return String::new();
    }
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::super::super::table;
    use super::*;
    use crate::sync::deadline::Deadline;

    /// Waits for child `pid` to exit within `within`; kills it if it does not.
    fn exit_status_within(pid: libc::pid_t, within: Duration) -> Option<c_int> {
        let deadline = Deadline::after(within);
        loop {
            let mut status = 0;
            // SAFETY: waits for our own child; `status` is a valid out-pointer.
            let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if done == pid {
                return libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
            }
            if deadline.is_expired() {
                // SAFETY: our own child, which has not been reaped.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                return None;
            }
            // Nothing wakes us when a child exits (no SIGCHLD handler of ours).
            deadline.sleep_at_most(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_child_forked_while_another_thread_holds_the_table_makes_and_joins_threads() {
        // A thread made through the hook registers the fork handler.
        std::thread::spawn(|| ()).join().unwrap();
        let (locked_tx, locked_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _table = table::lock_for_test();
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(Duration::from_secs(30));
        });
        locked_rx.recv_timeout(Duration::from_secs(30)).unwrap();

        // SAFETY: the child only makes and joins a thread (through the hooks, the code
        // under test) and leaves with `_exit`, running no destructors of the parent's.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let joined = std::thread::Builder::new()
                .spawn(|| 7)
                .map(|t| t.join().ok() == Some(7));
            // SAFETY: ends the child at once, as after any fork in a threaded process.
            unsafe { libc::_exit(if matches!(joined, Ok(true)) { 0 } else { 3 }) };
        }
        assert!(pid > 0, "fork failed");
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        assert_eq!(
            exit_status_within(pid, Duration::from_secs(20)),
            Some(0),
            "the forked child hung (killed) or failed to make and join a thread"
        );
    }

    /// Chaos's points in the hooks: a sleep of a thread under chaos runs its whole
    /// course and then, when the generator says so, longer (interposition's
    /// invariant 6); a new thread is held back before its first line; a thread of no
    /// scope under chaos is never touched.
    #[test]
    fn under_chaos_sleeps_are_stretched_and_new_threads_held_and_nothing_else_is() {
        use crate::tracking::{attribution::Attribution, chaos};
        // One seed, one sequence of decisions for this thread: some of 8 sleeps are
        // stretched, and some of 8 new threads held (each is one in two).
        let asked = Duration::from_millis(1);
        let sleeps = Attribution::begin();
        chaos::begin(sleeps.scope(), 0x5eed);
        let started = Instant::now();
        for _ in 0..8 {
            std::thread::sleep(asked);
        }
        let took = started.elapsed();
        let done = chaos::end(sleeps.scope());
        drop(sleeps);
        assert!(
            done.iter().any(|d| d.contains("'s sleep of 1.0ms by")),
            "{done:?}"
        );
        assert!(took >= asked * 8, "{took:?}");
        let spawns = Attribution::begin();
        chaos::begin(spawns.scope(), 0x5eed);
        for _ in 0..8 {
            std::thread::spawn(|| ()).join().unwrap();
        }
        let done = chaos::end(spawns.scope());
        assert!(
            done.iter().any(|d| d.contains("before it started")),
            "{done:?}"
        );
        // A direct call returns glibc's result; the scope is over, and nothing is
        // recorded for it any more.
        let request = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000,
        };
        let mut left = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid pointers to live timespecs.
        assert_eq!(unsafe { libc::nanosleep(&request, &mut left) }, 0);
        assert!(chaos::end(spawns.scope()).is_empty());
    }
}
