//! Walking the calling thread's own stack with libgcc's unwinder (thread tracking's
//! third `unsafe` world): its return addresses, and where a Rust panic thrown here
//! would be caught (each frame's exception table).
//!
//! # Invariants
//! 1. [`walk_exception_tables`] (behind [`catches_on_this_stack`] and the frames a
//!    task's panic keeps) walks the calling thread's own stack with the
//!    unwinder (`_Unwind_Backtrace`), as a panic's search phase does, and reads each
//!    frame's language-specific data (the `.gcc_except_table` record the unwinder
//!    hands it) only within the bounds that record's own header gives; a record in
//!    an encoding it does not know makes the answer "unknown", never a guess.
//! 2. [`trace`] (behind [`own_stack`] and the sampling handler) walks the calling
//!    thread's own stack with libgcc's `_Unwind_Backtrace` and takes no lock of
//!    ours: a thread being created, or panicking, never waits while another test's
//!    report reads debug information (hundreds of milliseconds in a debug build; the
//!    `backtrace` crate, used until 2026-12, serialised both behind one process-wide
//!    lock, found as a 200 ms `thread::spawn` in an async test, reported as blocking
//!    its runtime). Tracking is built only for Linux with glibc, where the unwinder
//!    is thread-safe (it finds unwind tables through `dl_iterate_phdr`, under
//!    glibc's own lock; C++ exceptions unwind on many threads at once through it).

use std::ffi::{c_int, c_void};

/// How many frames of the calling thread's stack would catch a Rust panic thrown
/// here (`catch_unwind`, whatever inlined it), the way the unwinder's search phase
/// finds them: from each frame's exception table. `None` when a table cannot be read
/// (invariant 1). A std thread's own root counts one; a second means something
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
/// harness). `None` when a table cannot be read (invariant 1).
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
        // function (or null), read within its own bounds (invariant 1).
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

/// The calling thread's own return addresses, innermost first, at most `most`
/// (invariant 2: without a lock).
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

/// Walks the calling thread's stack with the unwinder, calling `visit` with each
/// frame's instruction pointer (a return address, as `_Unwind_GetIP` gives it),
/// innermost first, until it returns `false`. Safe to call from the sampling signal's
/// handler (`sampling.rs`, invariant 1): it allocates nothing and takes no lock of ours; `visit`
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
