//! Live stacks (thread tracking's second `unsafe` world): a signal handler that
//! records the stack of the thread it interrupts, asked for by another thread,
//! through a preallocated slot.
//!
//! # Invariants
//! 1. The signal handler writes only the preallocated [`StackSlot`], and only after
//!    winning it for its own thread; it neither allocates nor takes a lock of ours,
//!    and it saves and restores `errno`. The slot's protocol, and why a late or stuck
//!    handler can only turn sampling off, never corrupt a stack or hang a test, is in
//!    sync::stack_slot, with a loom model of each of its invariants.
//! 2. The handler is installed only when the signal's disposition is the default
//!    (nobody else uses it), and the signal is sent only while the installed handler
//!    is still ours (checked before every sample): a handler the program installed
//!    later is never invoked by Iris. Otherwise live stacks fall back to the
//!    kernel's wchan, and a note says so once.
//! 3. The sampling handler runs on the sampled thread's own stack, not on the
//!    alternate signal stack (no `SA_ONSTACK`): std gives each thread an alternate
//!    stack of `SIGSTKSZ` (8 KiB) for its stack-overflow message, and a signal frame
//!    holding AVX-512 state, the unwinder's frames and the dynamic linker's first
//!    binding of the unwinder's calls overflowed it (a segfault in `_dl_fixup`,
//!    every time, on a machine with AVX-512). A sampled thread is parked in a
//!    system call with its stack far from full; and the unwinder walks once before
//!    the handler is installed, so no lazy binding ever happens inside it.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::interposition::gettid;
use super::unwinding::{own_stack, trace};
use crate::sync::stack_slot::StackSlot;

const MAX_FRAMES: usize = 256;

/// Where a sampled thread's handler leaves its stack (invariant 1).
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
/// (if the signal was free) and is still the one installed (invariant 2).
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
            // Not SA_ONSTACK (invariant 3): the sampled thread's own stack.
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
        return None; // a handler never finished: sampling is off (invariant 1)
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
