//! [`ProcessOutput`]: what a finished process printed, and how it ended.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::OnceLock;

use nix::sys::signal::Signal;

use super::capture::{LogLine, Retained, Stream};

/// What a finished process printed, and how it ended.
///
/// The lines stay raw bytes until asked for: a test that only checks
/// [`success`](Self::success) or searches [`text`](Self::text) never pays for a
/// [`LogLine`] per line, and [`lines`](Self::lines) decodes them once, on first use.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::process::Command;
/// use std::time::Duration;
/// use iris::{run_process, Stream};
///
/// let mut command = Command::new("sh");
/// command.args(["-c", "echo one; echo two >&2; echo three"]);
/// let output = run_process(command, Duration::from_secs(10))?;
/// assert!(output.success());
/// assert_eq!(output.text(Stream::Stdout), "one\nthree");
/// assert_eq!(output.line_count(), 3);
/// assert_eq!(output.lines().iter().filter(|l| l.stream == Stream::Stderr).count(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ProcessOutput {
    /// How it exited (`None` if it was still running when given up on).
    pub status: Option<ExitStatus>,
    /// How many lines were dropped from the front of the ring buffer.
    pub dropped_lines: u64,
    retained: Retained,
    decoded: OnceLock<Vec<LogLine>>,
}

impl ProcessOutput {
    pub(super) fn new(
        status: Option<ExitStatus>,
        dropped_lines: u64,
        retained: Retained,
    ) -> ProcessOutput {
        ProcessOutput {
            status,
            dropped_lines,
            retained,
            decoded: OnceLock::new(),
        }
    }

    /// The captured lines, both streams in order (decoded on the first call).
    pub fn lines(&self) -> &[LogLine] {
        self.decoded.get_or_init(|| self.retained.decode_all())
    }

    /// How many lines were captured (retained), without decoding them.
    pub fn line_count(&self) -> usize {
        self.retained.len()
    }

    /// The `seq` of the last line the process printed, if it printed any (equal to
    /// the number of lines minus one, dropped ones included).
    pub fn last_seq(&self) -> Option<u64> {
        self.retained.last_seq()
    }

    /// The lines of one stream, joined with newlines.
    pub fn text(&self, stream: Stream) -> String {
        self.retained.text(stream)
    }

    /// Whether the process exited with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

impl fmt::Debug for ProcessOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessOutput")
            .field("status", &self.status)
            .field("lines", &self.line_count())
            .field("dropped_lines", &self.dropped_lines)
            .finish()
    }
}

pub(super) fn describe_status(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("code {code}"),
        (None, Some(signal)) => match Signal::try_from(signal) {
            Ok(signal) => format!("killed by {signal}"),
            Err(_) => format!("killed by signal {signal}"),
        },
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exit_status_reads_as_its_code_or_its_signal() {
        // A wait status: the code in the second byte, or the signal in the low bits.
        assert_eq!(describe_status(&ExitStatus::from_raw(3 << 8)), "code 3");
        assert_eq!(describe_status(&ExitStatus::from_raw(0)), "code 0");
        assert_eq!(
            describe_status(&ExitStatus::from_raw(Signal::SIGKILL as i32)),
            "killed by SIGKILL"
        );
        assert_eq!(
            describe_status(&ExitStatus::from_raw(100)),
            "killed by signal 100"
        );
    }
}
