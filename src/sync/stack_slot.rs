//! A one-place mailbox through which a signal handler hands a thread's stack to the
//! thread that asked for it (thread tracking's live stacks).
//!
//! The handler runs in signal context on the sampled thread: it may not lock,
//! allocate or wait, so the mailbox is atomics only. The requester cannot be woken
//! (nothing in a handler can wake it), so it polls, and gives up at a deadline; a
//! signal may still arrive after that, for a request nobody waits for any more.
//!
//! Invariants (a loom model in tests/loom.rs checks each):
//! 1. **Owner and state are one word** (`tid << 8 | state`), changed by
//!    compare-and-swap. A handler wins the slot only from (its own tid, `ARMED`), so a
//!    late handler of an abandoned request cannot write into a newer request for
//!    another thread, and frames handed over are always the asked-for thread's.
//! 2. **Frames are read only after `DONE`** (release by the handler, acquire by the
//!    requester), so a requester never sees half a stack.
//! 3. **A disarmed request is never written.** Giving up is a compare-and-swap from
//!    (tid, `ARMED`) to `IDLE`; once it succeeds, a handler finds nothing armed for it.
//!    If it fails, a handler is writing now, and the requester may wait for `DONE`.
//! 4. **A handler that never finishes only turns sampling off.** A slot left `BUSY`
//!    refuses every later request ([`StackSlot::arm`] returns false); it is never
//!    taken over, because the handler may still be writing.
//! 5. **One requester at a time**: the caller serialises requests (a lock around
//!    arm ... take); handlers may be any number, racing for the slot.

use super::loom::{AtomicU64, AtomicUsize, Ordering};

const IDLE: u64 = 0;
const ARMED: u64 = 1;
const BUSY: u64 = 2;
const DONE: u64 = 3;

fn word(tid: u32, state: u64) -> u64 {
    (u64::from(tid) << 8) | state
}

fn state(word: u64) -> u64 {
    word & 0xff
}

/// Room for `N` return addresses, for one request at a time.
pub struct StackSlot<const N: usize> {
    word: AtomicU64,
    len: AtomicUsize,
    ips: [AtomicUsize; N],
}

impl<const N: usize> StackSlot<N> {
    /// An idle slot (const, so that a signal handler can reach it in a `static`).
    #[cfg(not(loom))]
    pub const fn new() -> StackSlot<N> {
        StackSlot {
            word: AtomicU64::new(IDLE),
            len: AtomicUsize::new(0),
            ips: [const { AtomicUsize::new(0) }; N],
        }
    }

    /// An idle slot.
    #[cfg(loom)]
    pub fn new() -> StackSlot<N> {
        StackSlot {
            word: AtomicU64::new(IDLE),
            len: AtomicUsize::new(0),
            ips: std::array::from_fn(|_| AtomicUsize::new(0)),
        }
    }

    /// Requester: claims the slot for thread `tid`'s stack. `false` when a handler
    /// never finished (invariant 4): then no stack can be taken in this process.
    /// An `ARMED` or `DONE` slot left by an abandoned request is free.
    pub fn arm(&self, tid: u32) -> bool {
        if state(self.word.load(Ordering::Acquire)) == BUSY {
            return false;
        }
        self.len.store(0, Ordering::Relaxed);
        self.word.store(word(tid, ARMED), Ordering::Release);
        true
    }

    /// Handler, on thread `me`: if the slot is armed for `me`, records the stack
    /// that `walk` pushes (each push says whether there is room for another) and
    /// marks it done. Returns whether it recorded. Atomics only: async-signal-safe.
    pub fn record(&self, me: u32, walk: impl FnOnce(&mut dyn FnMut(usize) -> bool)) -> bool {
        if self
            .word
            .compare_exchange(
                word(me, ARMED),
                word(me, BUSY),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            return false;
        }
        let mut n = 0;
        walk(&mut |ip| {
            if n < N {
                self.ips[n].store(ip, Ordering::Relaxed);
                n += 1;
            }
            n < N
        });
        self.len.store(n, Ordering::Relaxed);
        self.word.store(word(me, DONE), Ordering::Release);
        true
    }

    /// Requester: thread `tid`'s stack if its handler has finished, freeing the slot.
    pub fn take(&self, tid: u32) -> Option<Vec<usize>> {
        if self.word.load(Ordering::Acquire) != word(tid, DONE) {
            return None;
        }
        let n = self.len.load(Ordering::Relaxed);
        let ips = self.ips[..n]
            .iter()
            .map(|ip| ip.load(Ordering::Relaxed))
            .collect();
        self.word.store(IDLE, Ordering::Release);
        Some(ips)
    }

    /// Requester giving up on `tid`: `true` if no handler will write for this request
    /// (invariant 3); `false` if one is writing now (then [`take`](Self::take) will
    /// have its stack when it is done).
    pub fn disarm(&self, tid: u32) -> bool {
        match self.word.compare_exchange(
            word(tid, ARMED),
            IDLE,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => true,
            // Done meanwhile: the request is answered, nobody writes any more.
            Err(now) => now != word(tid, BUSY),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_stack_is_handed_over_once_to_the_thread_that_asked() {
        let slot = StackSlot::<4>::new();
        assert!(slot.arm(7));
        assert_eq!(slot.take(7), None, "nothing before the handler ran");
        assert!(!slot.record(8, |push| {
            push(1);
        }));
        assert!(slot.record(7, |push| {
            for ip in [10, 20, 30, 40, 50] {
                if !push(ip) {
                    break;
                }
            }
        }));
        assert_eq!(slot.take(8), None, "only to the thread asked about");
        assert_eq!(slot.take(7), Some(vec![10, 20, 30, 40]), "at most N frames");
        assert_eq!(slot.take(7), None, "once");
    }

    #[test]
    fn a_disarmed_request_is_never_written_and_a_stuck_handler_turns_sampling_off() {
        let slot = StackSlot::<2>::new();
        assert!(slot.arm(7));
        assert!(slot.disarm(7));
        assert!(!slot.record(7, |push| {
            push(1);
        }));
        // A handler stuck while writing: BUSY for ever.
        assert!(slot.arm(7));
        assert!(slot.record(7, |_| {
            assert!(!slot.disarm(7), "cannot give up while it writes");
            assert!(!slot.arm(9), "no new request while it writes");
        }));
        assert!(slot.disarm(7), "done: nobody writes any more");
    }
}
