//! Thread tracking's `unsafe` code (feature `thread-tracking`, Linux): `pthread_create`
//! and `pthread_join` defined in the binary, and a signal handler that records a
//! thread's stack. Iris's only other `unsafe` code is `os/ffi.rs` (`atexit`, and a
//! `sigaction` handler told a SIGTERM's sender), with its invariants at its top.
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
//! 4. The signal handler writes only the preallocated [`StackSlot`], and only after
//!    winning it for its own thread; it neither allocates nor takes a lock of ours,
//!    and it saves and restores `errno`. The slot's protocol, and why a late or stuck
//!    handler can only turn sampling off, never corrupt a stack or hang a test, is in
//!    sync::stack_slot, with a loom model of each of its invariants.
//! 5. The handler is installed only when the signal's disposition is the default
//!    (nobody else uses it), and the signal is sent only while the installed handler
//!    is still ours (checked before every sample): a handler the program installed
//!    later is never invoked by Iris. Otherwise live stacks fall back to the
//!    kernel's wchan, and a note says so once.
//! 6. A child made by `fork` has only the forking thread, and a lock another thread
//!    held at the fork stays held there for ever. Before the first thread is made
//!    through us, a `pthread_atfork` child handler is registered; it only stores two
//!    atomics, turning tracking off in the child and keeping it from ever taking the
//!    table's lock, so a forked child that makes or joins threads cannot hang on us.
//! 7. The interposed `fork` does nothing in the child but return: a child of a
//!    multi-threaded process may only make async-signal-safe calls before `exec`.
//!    The parent records the pid after the real call returned, under
//!    `catch_unwind`, like the spawn calls.
//! 8. [`walk_exception_tables`] (behind [`catches_on_this_stack`] and the frames a
//!    task's panic keeps) walks the calling thread's own stack with the
//!    unwinder (`_Unwind_Backtrace`), as a panic's search phase does, and reads each
//!    frame's language-specific data (the `.gcc_except_table` record the unwinder
//!    hands it) only within the bounds that record's own header gives; a record in
//!    an encoding it does not know makes the answer "unknown", never a guess.
//! 9. [`trace`] (behind [`own_stack`] and the sampling handler) walks the calling
//!    thread's own stack with libgcc's `_Unwind_Backtrace` and takes no lock of
//!    ours: a thread being created, or panicking, never waits while another test's
//!    report reads debug information (hundreds of milliseconds in a debug build; the
//!    `backtrace` crate, used until 2026-12, serialised both behind one process-wide
//!    lock, found as a 200 ms `thread::spawn` in an async test, reported as blocking
//!    its runtime). Tracking is built only for Linux with glibc, where the unwinder
//!    is thread-safe (it finds unwind tables through `dl_iterate_phdr`, under
//!    glibc's own lock; C++ exceptions unwind on many threads at once through it).
//! 10. The sampling handler runs on the sampled thread's own stack, not on the
//!     alternate signal stack (no `SA_ONSTACK`): std gives each thread an alternate
//!     stack of `SIGSTKSZ` (8 KiB) for its stack-overflow message, and a signal frame
//!     holding AVX-512 state, the unwinder's frames and the dynamic linker's first
//!     binding of the unwinder's calls overflowed it (a segfault in `_dl_fixup`,
//!     every time, on a machine with AVX-512). A sampled thread is parked in a
//!     system call with its stack far from full; and the unwinder walks once before
//!     the handler is installed, so no lazy binding ever happens inside it.

use std::ffi::{c_int, c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use libc::{pthread_attr_t, pthread_t};

use super::table::{self, Birth};
use crate::sync::stack_slot::StackSlot;

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

/// Runs in a `fork` child, on its only thread (invariant 6).
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
    let start = Box::into_raw(Box::new(Start {
        routine,
        arg,
        birth,
    }));
    // SAFETY: the caller's arguments are passed on; `start` stays valid until the
    // trampoline or the failure branch below takes it back (invariant 2).
    let result = unsafe { real(thread, attr, trampoline, start.cast()) };
    if result != 0 {
        // SAFETY: no thread was created, so nobody else owns the box.
        let start = unsafe { Box::from_raw(start) };
        let _ = std::panic::catch_unwind(move || start.birth.failed());
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
    } = *start;
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() } as usize;
    let _ = std::panic::catch_unwind(move || table::begin_thread(birth, me, gettid()));
    routine(arg)
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
/// only returns (invariant 7).
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

/// Every offset at which `needle` (not empty) occurs in `haystack`, found with the C
/// library's `memmem`: std and glibc are built optimised, while a crate's own search
/// (memchr's) is compiled with the user's profile, and in a debug build it made the
/// symbol table's scan (one pass per glob over megabytes of names) take a quarter
/// of a second of every first test process after a rebuild.
pub(crate) fn occurrences(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    if needle.is_empty() {
        return found;
    }
    let mut from = 0;
    while from + needle.len() <= haystack.len() {
        let rest = &haystack[from..];
        // SAFETY: both pointers and lengths come from live slices; memmem reads
        // within them only and returns null or a pointer into `rest`.
        let at = unsafe {
            libc::memmem(
                rest.as_ptr().cast(),
                rest.len(),
                needle.as_ptr().cast(),
                needle.len(),
            )
        };
        if at.is_null() {
            break;
        }
        let offset = from + (at as usize - rest.as_ptr() as usize);
        found.push(offset);
        from = offset + 1;
    }
    found
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

// ----------------------------------------------------------------- live stacks ----

const MAX_FRAMES: usize = 256;

/// Where a sampled thread's handler leaves its stack (invariant 4).
static SLOT: StackSlot<MAX_FRAMES> = StackSlot::new();

/// One sampler at a time.
static SAMPLER: parking_lot::Mutex<()> = parking_lot::const_mutex(());

/// The real-time signal used to ask a thread for its stack: far from the low ones
/// glibc and most runtimes take.
fn sample_signal() -> c_int {
    libc::SIGRTMAX() - 3
}

extern "C" fn on_sample_signal(_signal: c_int, _info: *mut libc::siginfo_t, _context: *mut c_void) {
    // SAFETY: __errno_location returns this thread's errno slot.
    let errno = unsafe { *libc::__errno_location() };
    SLOT.record(gettid(), |push| {
        // The slot is this thread's until `record` returns; the unwinder walks this
        // thread's own stack, through the signal frame.
        trace(&mut |ip| push(ip));
    });
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// The calling thread's own return addresses, innermost first, at most `most`
/// (invariant 9: without a lock).
pub(crate) fn own_stack(most: usize) -> std::sync::Arc<[usize]> {
    let mut ips = Vec::with_capacity(most.min(64));
    // Invariant 9: this thread's own stack, through libgcc's thread-safe unwinder;
    // the callback only pushes to a local vector.
    trace(&mut |ip| {
        ips.push(ip);
        ips.len() < most
    });
    ips.into()
}

/// The handler now installed for the sampling signal, if it can be read.
fn current_handler() -> Option<usize> {
    // SAFETY: sigaction with a null new action only reads the current one into
    // `current`, a zeroed, valid out-parameter.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        (libc::sigaction(sample_signal(), std::ptr::null(), &mut current) == 0)
            .then_some(current.sa_sigaction)
    }
}

/// Whether the sampling signal is ours to send now: our handler was installed once
/// (if the signal was free) and is still the one installed (invariant 5).
fn handler_installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let ours = on_sample_signal as *const () as usize;
    let installed = *INSTALLED.get_or_init(|| {
        if current_handler() != Some(libc::SIG_DFL) {
            return false;
        }
        // Invariant 10: the unwinder's first walk binds its lazily bound calls
        // (`strlen`, `dl_iterate_phdr`) through the dynamic linker; done here, never
        // inside the handler.
        own_stack(4);
        // SAFETY: the handler installed has the SA_SIGINFO signature; the action is
        // a zeroed, then filled, valid sigaction.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ours;
            // Not SA_ONSTACK (invariant 10): the sampled thread's own stack.
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sample_signal(), &action, std::ptr::null_mut()) == 0
        }
    });
    if installed && current_handler() == Some(ours) {
        return true;
    }
    crate::os::runner::note_once(
        "sampling-signal",
        "iris: note: the program uses the signal SIGRTMAX-3 that Iris samples live stacks \
         with, so Iris leaves it alone: reports show each thread's kernel wait channel \
         instead of its stack",
    );
    false
}

/// The raw return addresses of thread `tid`'s stack, innermost first (the signal
/// handler's own frames included), or `None` if it did not answer within `within`
/// (signals blocked, a non-interruptible wait, the thread gone).
pub(crate) fn sample_stack(tid: u32, within: Duration) -> Option<Vec<usize>> {
    if !handler_installed() {
        return None;
    }
    let _one_at_a_time = SAMPLER.lock();
    if !SLOT.arm(tid) {
        return None; // a handler never finished: sampling is off (invariant 4)
    }
    // SAFETY: tgkill with our own pid and a tid only signals that thread (or fails).
    let sent = unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            libc::getpid(),
            tid as libc::pid_t,
            sample_signal(),
        )
    };
    if sent != 0 {
        SLOT.disarm(tid);
        return None;
    }
    let started = Instant::now();
    let mut pause = Duration::from_micros(20);
    loop {
        if let Some(ips) = SLOT.take(tid) {
            return Some(ips);
        }
        if started.elapsed() >= within {
            // Give up, unless the handler is writing now: then it gets one more
            // period, and if it still has not finished the slot stays busy.
            if SLOT.disarm(tid) || started.elapsed() >= within.saturating_mul(2) {
                return SLOT.take(tid);
            }
        }
        // Polling, not a condvar: the handler runs in signal context, where it may
        // only store to atomics, so nothing can wake this thread.
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::sync::deadline::Deadline;

    #[test]
    fn occurrences_finds_every_one_overlapping_and_never_reads_past_the_end() {
        assert_eq!(occurrences(b"aaaa", b"aa"), vec![0, 1, 2]);
        assert_eq!(
            occurrences(b"x\0rayon_core\0my_rayon", b"rayon"),
            vec![2, 16]
        );
        assert_eq!(occurrences(b"abc", b"abcd"), Vec::<usize>::new());
        assert_eq!(occurrences(b"abc", b""), Vec::<usize>::new());
        assert_eq!(occurrences(b"", b"a"), Vec::<usize>::new());
        assert_eq!(occurrences(b"abc", b"c"), vec![2]);
    }

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
}

// ------------------------------------------------ where a panic will be caught ----

/// How many frames of the calling thread's stack would catch a Rust panic thrown
/// here (`catch_unwind`, whatever inlined it), the way the unwinder's search phase
/// finds them: from each frame's exception table. `None` when a table cannot be read
/// (invariant 8). A std thread's own root counts one; a second means something
/// inside the thread catches, and the thread goes on. Unlike frame names, this
/// survives inlining: the landing pad is in whichever function `catch_unwind` was
/// inlined into. Called from the panic hook, on the panicking thread.
pub(crate) fn catches_on_this_stack() -> Option<usize> {
    let mut catches = 0;
    walk_exception_tables(&mut |_, catching| {
        catches += usize::from(catching);
        true
    })
    .then_some(catches)
}

/// The calling thread's frames, innermost first (at most `most`), each as a return
/// address and whether it would catch a Rust panic thrown here: what tells, with
/// the frames' names, whose code catches it (a task's own, or its runtime's
/// harness). `None` when a table cannot be read (invariant 8).
#[cfg(feature = "tokio")]
pub(crate) fn catch_frames_on_this_stack(most: usize) -> Option<Vec<(usize, bool)>> {
    let mut frames = Vec::with_capacity(most.min(64));
    walk_exception_tables(&mut |call_site, catching| {
        // As a backtrace gives it (a return address), one past the call.
        frames.push((call_site + 1, catching));
        frames.len() < most
    })
    .then_some(frames)
}

/// Walks the calling thread's stack with the unwinder, calling `visit` with each
/// frame's call site and whether its exception table catches a Rust panic there,
/// until it returns `false`. Returns whether every table read was understood.
fn walk_exception_tables(visit: &mut dyn FnMut(usize, bool) -> bool) -> bool {
    struct Walk<'a> {
        visit: &'a mut dyn FnMut(usize, bool) -> bool,
        unknown: bool,
        frames: usize,
    }
    extern "C" fn on_frame(context: *mut UnwindContext, data: *mut c_void) -> c_int {
        // SAFETY: `data` is the `Walk` passed to `_Unwind_Backtrace` below, alive for
        // the whole walk and touched only by this callback.
        let walk = unsafe { &mut *data.cast::<Walk<'_>>() };
        walk.frames += 1;
        if walk.frames > 8192 {
            walk.unknown = true;
            return URC_END_OF_STACK;
        }
        let mut before = 0;
        // SAFETY: `context` is the unwinder's live context for this frame.
        let (ip, lsda, start) = unsafe {
            (
                _Unwind_GetIPInfo(context, &mut before),
                _Unwind_GetLanguageSpecificData(context),
                _Unwind_GetRegionStart(context),
            )
        };
        // A return address points after the call; the call site is just before.
        let ip = if before == 0 {
            ip.saturating_sub(1)
        } else {
            ip
        };
        // SAFETY: `lsda` is the exception table the unwinder found for this frame's
        // function (or null), read within its own bounds (invariant 8).
        let catching = match unsafe { lsda::action_at(lsda.cast(), start, ip) } {
            Some(action) => action == lsda::Action::Catch,
            None => {
                walk.unknown = true;
                false
            }
        };
        // The visitors only count and push (an `extern "C"` function that unwound
        // would abort, never unwind into the unwinder's C frames).
        if (walk.visit)(ip, catching) {
            URC_NO_REASON
        } else {
            URC_END_OF_STACK
        }
    }
    let mut walk = Walk {
        visit,
        unknown: false,
        frames: 0,
    };
    // SAFETY: walks this thread's own stack; `on_frame` has the callback's signature
    // and `walk` outlives the call.
    unsafe { _Unwind_Backtrace(on_frame, (&mut walk as *mut Walk<'_>).cast()) };
    !walk.unknown
}

/// Walks the calling thread's stack with the unwinder, calling `visit` with each
/// frame's instruction pointer (a return address, as `_Unwind_GetIP` gives it),
/// innermost first, until it returns `false`. Safe to call from the sampling signal's
/// handler (invariant 4): it allocates nothing and takes no lock of ours; `visit`
/// must not either there.
pub(crate) fn trace(visit: &mut dyn FnMut(usize) -> bool) {
    extern "C" fn on_frame(context: *mut UnwindContext, data: *mut c_void) -> c_int {
        // SAFETY: `data` is the `&mut dyn FnMut` passed to `_Unwind_Backtrace` below,
        // alive for the whole walk and touched only by this callback.
        let visit = unsafe { &mut *data.cast::<&mut dyn FnMut(usize) -> bool>() };
        // SAFETY: `context` is the unwinder's live context for this frame.
        let ip = unsafe { _Unwind_GetIP(context) };
        if ip == 0 || !visit(ip) {
            URC_END_OF_STACK
        } else {
            URC_NO_REASON
        }
    }
    let mut visit = visit;
    // SAFETY: walks this thread's own stack; `on_frame` has the callback's signature
    // and `visit` outlives the call.
    unsafe {
        _Unwind_Backtrace(
            on_frame,
            (&mut visit as *mut &mut dyn FnMut(usize) -> bool).cast(),
        )
    };
}

#[repr(C)]
struct UnwindContext {
    _opaque: [u8; 0],
}

const URC_NO_REASON: c_int = 0;
const URC_END_OF_STACK: c_int = 5;

extern "C" {
    fn _Unwind_Backtrace(
        trace: extern "C" fn(*mut UnwindContext, *mut c_void) -> c_int,
        data: *mut c_void,
    ) -> c_int;
    fn _Unwind_GetIPInfo(context: *mut UnwindContext, ip_before: *mut c_int) -> usize;
    fn _Unwind_GetIP(context: *mut UnwindContext) -> usize;
    fn _Unwind_GetLanguageSpecificData(context: *mut UnwindContext) -> *const c_void;
    fn _Unwind_GetRegionStart(context: *mut UnwindContext) -> usize;
}

/// The `.gcc_except_table` records LLVM writes for Rust functions: which call sites
/// have a landing pad, and whether it catches (`catch_unwind`) or only cleans up
/// (drops). The same reading as std's personality routine (`find_eh_action`).
mod lsda {
    /// What the landing pad of a call site does with a Rust panic.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Action {
        /// No landing pad, or only drops: unwinding goes on.
        Pass,
        /// `catch_unwind`: unwinding stops here.
        Catch,
    }

    const OMIT: u8 = 0xff;

    struct Reader(*const u8);

    impl Reader {
        /// # Safety
        /// The byte must be inside the record being read.
        unsafe fn byte(&mut self) -> u8 {
            // SAFETY: per this function's contract.
            let b = unsafe { self.0.read() };
            // SAFETY: one past a byte of the record is still in (or at the end of) it.
            self.0 = unsafe { self.0.add(1) };
            b
        }

        /// A LEB128 number's bits, how many bits were read, and its last byte (whose
        /// 0x40 bit is the sign of a signed one).
        ///
        /// # Safety
        /// The whole number must be inside the record.
        unsafe fn leb(&mut self) -> (u64, u32, u8) {
            let (mut value, mut shift) = (0u64, 0);
            loop {
                // SAFETY: per this function's contract.
                let b = unsafe { self.byte() };
                if shift < 64 {
                    value |= u64::from(b & 0x7f) << shift;
                }
                shift += 7;
                if b & 0x80 == 0 {
                    return (value, shift, b);
                }
            }
        }

        /// # Safety
        /// As [`leb`](Self::leb).
        unsafe fn uleb(&mut self) -> u64 {
            // SAFETY: per this function's contract.
            unsafe { self.leb() }.0
        }

        /// # Safety
        /// As [`leb`](Self::leb).
        unsafe fn sleb(&mut self) -> i64 {
            // SAFETY: per this function's contract.
            let (bits, shift, last) = unsafe { self.leb() };
            let mut value = bits as i64;
            if shift < 64 && last & 0x40 != 0 {
                value |= -1 << shift;
            }
            value
        }

        /// An offset in `encoding` (its low nibble; offsets need no base).
        ///
        /// # Safety
        /// As [`uleb`](Self::uleb).
        unsafe fn offset(&mut self, encoding: u8) -> Option<u64> {
            let mut fixed = |n: usize| {
                let mut bytes = [0u8; 8];
                for b in bytes.iter_mut().take(n) {
                    // SAFETY: per this function's contract.
                    *b = unsafe { self.byte() };
                }
                u64::from_le_bytes(bytes)
            };
            // SAFETY (each arm): per this function's contract.
            Some(match encoding & 0x0f {
                0x00 | 0x04 | 0x0c => fixed(8),
                0x01 => unsafe { self.uleb() },
                0x02 | 0x0a => fixed(2),
                0x03 | 0x0b => fixed(4),
                0x09 => (unsafe { self.sleb() }) as u64,
                _ => return None,
            })
        }
    }

    /// What the landing pad for `ip` in the function starting at `start` does, from
    /// its exception table `lsda` (null: no table, nothing to do). `None` when the
    /// table uses an encoding this reader does not know.
    ///
    /// # Safety
    /// `lsda` is null or the exception table the unwinder gave for that function.
    pub(crate) unsafe fn action_at(lsda: *const u8, start: usize, ip: usize) -> Option<Action> {
        if lsda.is_null() {
            return Some(Action::Pass);
        }
        let mut r = Reader(lsda);
        // SAFETY (all reads below): within the table, whose header gives its lengths.
        unsafe {
            if r.byte() != OMIT {
                return None; // a landing-pad base of its own: not what LLVM writes
            }
            if r.byte() != OMIT {
                r.uleb(); // the type table's offset: Rust does not look at types
            }
            let call_site_encoding = r.byte();
            let table_length = r.uleb();
            let actions = r.0.add(usize::try_from(table_length).ok()?);
            while r.0 < actions {
                let site_start = r.offset(call_site_encoding)?;
                let site_length = r.offset(call_site_encoding)?;
                let landing_pad = r.offset(call_site_encoding)?;
                let action = r.uleb();
                let from = start.wrapping_add(site_start as usize);
                if ip < from {
                    break; // sorted by start: past it
                }
                if ip < from.wrapping_add(site_length as usize) {
                    if landing_pad == 0 || action == 0 {
                        return Some(Action::Pass);
                    }
                    let mut record = Reader(actions.add(action as usize - 1));
                    return Some(if record.sleb() > 0 {
                        Action::Catch
                    } else {
                        Action::Pass
                    });
                }
            }
        }
        // Not in the table: a call that cannot unwind (the unwinder would abort).
        Some(Action::Pass)
    }
}
