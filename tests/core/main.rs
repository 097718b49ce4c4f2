//! Integration tests of the thread-management core.

mod container;
mod executor;
#[path = "../support/log_capture.rs"]
mod log_capture;
mod logging;
mod races;
mod registry;
mod server;
mod stop_token;

use std::time::Duration;

/// A generous bound for things that should take milliseconds (slow CI machines).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Every error type of the public API is a real error that can cross threads.
#[test]
fn error_types_are_errors_and_send_sync_static() {
    fn is_error<E: std::error::Error + Send + Sync + 'static>() {}
    is_error::<iris::SpawnError>();
    is_error::<iris::StopError>();
    is_error::<iris::ExecutorShutdown>();
    is_error::<iris::WaitTimeout>();
    is_error::<iris::ConditionBroke>();
    is_error::<iris::SentinelError>();
    is_error::<iris::LeakReport>();
    #[cfg(unix)]
    is_error::<iris::ProcessError>();
    #[cfg(unix)]
    is_error::<iris::ProcessWaitError>();
}
