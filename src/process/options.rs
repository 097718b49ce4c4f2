//! [`ProcessOptions`]: how a managed process is run and its output kept.

use std::time::Duration;

pub(super) const DEFAULT_LOG_BYTES: usize = 1 << 20;

/// How a managed process is run.
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    pub(super) grace: Duration,
    pub(super) capture_bytes: usize,
    pub(super) max_line_bytes: usize,
    pub(super) log_bytes: usize,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions {
            grace: Duration::from_secs(2),
            capture_bytes: 4 << 20,
            max_line_bytes: 64 << 10,
            log_bytes: DEFAULT_LOG_BYTES,
        }
    }
}

impl ProcessOptions {
    /// Defaults: 2 s grace, 4 MiB of captured lines, lines cut at 64 KiB, and the
    /// first 1 MiB of output also logged through `tracing`, line by line.
    pub fn new() -> ProcessOptions {
        ProcessOptions::default()
    }

    /// How long the process group gets between SIGTERM and SIGKILL.
    pub fn grace(mut self, grace: Duration) -> ProcessOptions {
        self.grace = grace;
        self
    }

    /// How much memory the retained output may take (the oldest lines go first):
    /// the lines' bytes plus 24 bytes of bookkeeping per line.
    pub fn capture_bytes(mut self, bytes: usize) -> ProcessOptions {
        self.capture_bytes = bytes;
        self
    }

    /// The longest line kept whole (at least 1 byte); longer lines are cut.
    pub fn max_line_bytes(mut self, bytes: usize) -> ProcessOptions {
        self.max_line_bytes = bytes.max(1);
        self
    }

    /// Whether lines are also emitted through `tracing` (on by default, up to
    /// [`log_bytes`](Self::log_bytes)).
    pub fn log_lines(mut self, on: bool) -> ProcessOptions {
        self.log_bytes = if on { DEFAULT_LOG_BYTES } else { 0 };
        self
    }

    /// How much output (in bytes) is logged through `tracing` before logging stops
    /// with one line saying so (capture goes on). A test's captured output is held in
    /// memory by the test harness, so a chatty child must not flood it. Default 1 MiB.
    pub fn log_bytes(mut self, bytes: usize) -> ProcessOptions {
        self.log_bytes = bytes;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let options = ProcessOptions::new();
        assert_eq!(options.grace, Duration::from_secs(2));
        assert_eq!(options.log_bytes, DEFAULT_LOG_BYTES);
        // A line is at least one byte; logging off is zero bytes of it.
        let options = options.max_line_bytes(0).log_lines(false);
        assert_eq!((options.max_line_bytes, options.log_bytes), (1, 0));
        assert_eq!(options.log_lines(true).log_bytes, DEFAULT_LOG_BYTES);
        // Duration::ZERO and Duration::MAX are graces like any other.
        assert_eq!(
            ProcessOptions::new().grace(Duration::MAX).grace,
            Duration::MAX
        );
    }
}
