//! Starting a thread on the CPU its creator runs on (Linux), for a short-lived helper
//! whose every start, wake-up and end is a hand-off with its creator.
//!
//! Why: a new thread is placed by the kernel, usually on another CPU. On the virtual
//! machines CI runs on, waking another CPU costs tens of microseconds, and where every
//! CPU is busy (nextest runs a test process per core) the new thread, and each later
//! wake-up of it, waits there behind another process for a scheduler slice. A thread
//! kept on its creator's CPU runs when its creator blocks or yields, and is woken
//! without waking another CPU. So it suits a thread that mostly sleeps and whose
//! wake-ups its creator waits for; never a thread that does real work.
//!
//! Invariants:
//! - Only the new thread keeps the one-CPU mask: the creator's own mask is read
//!   before the spawn and put back right after it, whatever the spawn returned. The
//!   creator is pinned to the CPU it already runs on, so it never migrates for this.
//! - Best effort: where the CPU or a mask cannot be read or set (not Linux, a cpuset
//!   that forbids it), the thread is spawned as `Builder::spawn` would.

use std::io;
use std::thread::{Builder, JoinHandle};

/// Spawns `body` with `builder`, on the CPU the calling thread runs on now (Linux;
/// elsewhere, wherever the OS puts it).
pub(crate) fn spawn_beside<F, T>(builder: Builder, body: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // Unpinned as this returns, once the new thread exists.
    #[cfg(target_os = "linux")]
    let _pinned = PinnedHere::new();
    builder.spawn(body)
}

/// The calling thread, pinned to the CPU it runs on until this is dropped.
#[cfg(target_os = "linux")]
struct PinnedHere {
    /// The mask to put back (`None`: nothing was changed).
    old: Option<nix::sched::CpuSet>,
}

#[cfg(target_os = "linux")]
impl PinnedHere {
    fn new() -> PinnedHere {
        use nix::sched::{sched_getaffinity, sched_getcpu, sched_setaffinity, CpuSet};
        use nix::unistd::Pid;
        let pin = || {
            let old = sched_getaffinity(Pid::from_raw(0)).ok()?;
            let mut here = CpuSet::new();
            here.set(sched_getcpu().ok()?).ok()?;
            sched_setaffinity(Pid::from_raw(0), &here).ok()?;
            Some(old)
        };
        PinnedHere { old: pin() }
    }
}

#[cfg(target_os = "linux")]
impl Drop for PinnedHere {
    fn drop(&mut self) {
        if let Some(old) = self.old.take() {
            // Put back as read: it can fail only if a cpuset shrank meanwhile, and
            // then the kernel has already widened the mask to the new cpuset.
            let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &old);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use nix::sched::{sched_getaffinity, sched_getcpu};
    use nix::unistd::Pid;

    fn allowed_cpus() -> usize {
        let mask = sched_getaffinity(Pid::from_raw(0)).expect("this thread's mask");
        (0..nix::sched::CpuSet::count())
            .filter(|&cpu| mask.is_set(cpu).unwrap_or(false))
            .count()
    }

    #[test]
    fn the_new_thread_runs_on_one_cpu_and_the_creator_keeps_its_mask() {
        let before = allowed_cpus();
        let spawned = spawn_beside(Builder::new(), || {
            (allowed_cpus(), sched_getcpu().expect("the CPU"))
        })
        .expect("a thread");
        let (new_threads_cpus, ran_on) = spawned.join().expect("no panic");
        assert_eq!(new_threads_cpus, 1, "the new thread is kept to one CPU");
        assert_eq!(allowed_cpus(), before, "the creator's mask is put back");
        let mask = sched_getaffinity(Pid::from_raw(0)).expect("mask");
        assert!(mask.is_set(ran_on).expect("a CPU number"));
    }

    #[test]
    fn a_failed_spawn_still_puts_the_creators_mask_back() {
        let before = allowed_cpus();
        // A stack no system can map: the spawn fails.
        let refused = spawn_beside(Builder::new().stack_size(usize::MAX / 2), || ());
        assert!(refused.is_err());
        assert_eq!(allowed_cpus(), before);
    }
}
