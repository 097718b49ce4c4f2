//! Why a process could not be started or run ([`ProcessError`]), or a wait on it
//! ended first ([`ProcessWaitError`]).

use std::fmt;
use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use super::output::{describe_status, ProcessOutput};
use crate::threads::report::SpawnError;

/// Why a process could not be started or run.
#[non_exhaustive]
pub enum ProcessError {
    /// The OS could not start the program.
    Start {
        /// The program as given.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// The container takes no new threads (it is stopping).
    Container(SpawnError),
    /// [`run_process`](crate::run_process) gave up waiting; the process group was killed.
    TimedOut {
        /// The program as given.
        program: String,
        /// The timeout given.
        timeout: Duration,
        /// What it printed before it was killed.
        output: ProcessOutput,
    },
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessError::Start { program, source } => match source.kind() {
                io::ErrorKind::NotFound => write!(f, "cannot start `{program}`: program not found"),
                io::ErrorKind::PermissionDenied => {
                    write!(f, "cannot start `{program}`: permission denied (is it executable?)")
                }
                _ => write!(f, "cannot start `{program}`: {source}"),
            },
            ProcessError::Container(error) => write!(f, "{error}"),
            ProcessError::TimedOut { program, timeout, output } => write!(
                f,
                "`{program}` did not exit within {timeout:?} and was killed ({} line(s) of output captured)",
                output.line_count()
            ),
        }
    }
}

impl std::error::Error for ProcessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProcessError::Start { source, .. } => Some(source),
            ProcessError::Container(error) => Some(error),
            ProcessError::TimedOut { .. } => None,
        }
    }
}

// `expect`, `unwrap` and `?` print the message, not a struct.
debug_as_display!(ProcessError);

/// A wait on a process that did not end the way it was asked to.
#[derive(Clone)]
#[non_exhaustive]
pub enum ProcessWaitError {
    /// The timeout passed first.
    TimedOut {
        /// The process's name.
        name: String,
        /// What was awaited.
        what: &'static str,
        /// The timeout given.
        timeout: Duration,
    },
    /// The output ended (the process closed both streams) without a matching line.
    OutputEnded {
        /// The process's name.
        name: String,
        /// How the process exited, if it has.
        status: Option<ExitStatus>,
    },
}

impl fmt::Display for ProcessWaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessWaitError::TimedOut {
                name,
                what,
                timeout,
            } => {
                write!(
                    f,
                    "process `{name}`: {what} did not happen within {timeout:?}"
                )
            }
            ProcessWaitError::OutputEnded { name, status } => {
                write!(
                    f,
                    "process `{name}` closed its output without printing a matching line"
                )?;
                if let Some(status) = status {
                    write!(f, " (exit: {})", describe_status(status))?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ProcessWaitError {}

// `expect`, `unwrap` and `?` print the message, not a struct.
debug_as_display!(ProcessWaitError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_cannot_start_says_why_in_words() {
        let missing = ProcessError::Start {
            program: "no-such-tool".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert_eq!(
            missing.to_string(),
            "cannot start `no-such-tool`: program not found"
        );
        let denied = ProcessError::Start {
            program: "./data.txt".into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(denied
            .to_string()
            .contains("permission denied (is it executable?)"));
        // `expect` and `unwrap` print the message, not a struct.
        assert_eq!(format!("{missing:?}"), missing.to_string());
    }
}
