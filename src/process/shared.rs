//! What a managed process's handle and its helper threads (reaper, readers,
//! supervisor) share: its identity, its state, and the condvars they wake each other
//! with. `managed.rs` spawns and supervises, `readers.rs` reads, `live.rs` lists.

use std::process::ExitStatus;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::capture::Capture;
use super::tree::Escapees;

pub(super) struct Shared {
    pub(super) name: String,
    #[cfg_attr(not(feature = "harness"), allow(dead_code))] // read by the harness
    pub(super) container_path: String,
    pub(super) pid: u32,
    pub(super) command_line: String,
    pub(super) grace: Duration,
    pub(super) log_limit: usize,
    /// Bytes of output that may still be logged through `tracing`.
    pub(super) log_budget: AtomicUsize,
    pub(super) state: Mutex<State>,
    /// Exit, end of output, stop requests.
    pub(super) changed: Condvar,
    /// New lines (and end of output). Separate from `changed`, so a chatty child
    /// does not wake everyone who waits for its exit once per line.
    pub(super) new_lines: Condvar,
    /// Descendants that left the process group.
    pub(super) escapees: Escapees,
}

pub(super) struct State {
    pub(super) exit: Option<ExitStatus>,
    /// When the reaper saw it exit: a test's teardown asks whether it was still
    /// running at the stop's deadline, however late it asks.
    pub(super) exited_at: Option<Instant>,
    pub(super) open_streams: u8,
    pub(super) stop_requested: bool,
    pub(super) capture: Capture,
}
