//! [`run_process`]: a command run to completion with a deadline.

use std::process::Command;
use std::time::Duration;

use super::errors::ProcessError;
use super::options::ProcessOptions;
use super::output::ProcessOutput;
use crate::threads::container::ThreadContainer;

/// Runs `command` to completion and returns its exit status and output (both
/// streams, as [`LogLine`](crate::LogLine)s): the `subprocess.run(capture_output=True)` of Iris. On
/// timeout the whole process group is killed and the error carries what it printed.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use iris::{run_process, Stream};
///
/// let mut command = Command::new("sh");
/// command.args(["-c", "echo out; echo err >&2; exit 3"]);
/// let output = run_process(command, Duration::from_secs(5)).unwrap();
/// assert_eq!(output.status.unwrap().code(), Some(3));
/// assert_eq!(output.text(Stream::Stdout), "out");
/// assert_eq!(output.text(Stream::Stderr), "err");
/// ```
pub fn run_process(command: Command, timeout: Duration) -> Result<ProcessOutput, ProcessError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let owner = ThreadContainer::new(format!("run:{program}"));
    let process = owner.spawn_process_with(
        program.clone(),
        command,
        ProcessOptions::new().log_lines(false),
    )?;
    let exited = process.wait_exit(timeout);
    // Ends what is left: the child on timeout, or a grandchild that keeps the output
    // open after the child exited. Output already written is still read to its end.
    if let Err(error) = owner.stop(Duration::from_secs(10)) {
        tracing::warn!(%error, "run_process: the process group did not end cleanly");
    }
    let output = process.snapshot();
    match exited {
        Ok(_) => Ok(output),
        Err(_) => Err(ProcessError::TimedOut {
            program,
            timeout,
            output,
        }),
    }
}
