//! The public ways to start one managed thread: [`ThreadContainer::spawn`],
//! [`try_spawn`](ThreadContainer::try_spawn) and
//! [`spawn_server`](ThreadContainer::spawn_server).
//!
//! Invariants:
//! - The user's code runs under `catch_unwind`, inside what the spawner's thread
//!   hands down (`context.rs`): a panic never unwinds out of a managed thread, and is
//!   both logged and recorded in the container.
//! - The result reaches the joiner only after the thread has left its container's
//!   live set (`Exit::deliver`, run last by the container).

use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::Arc;

use super::container::{Exit, ThreadContainer};
use super::context;
use super::managed_thread::{ManagedThread, Role};
use super::report::SpawnError;
use super::server::Server;
use crate::sync::completion::Completion;
use crate::sync::panic_message;
use crate::sync::stop_token::StopToken;

impl ThreadContainer {
    /// Spawns a managed thread running `f(stop_token)`.
    ///
    /// # Panics
    /// Like `std::thread::spawn`, when the thread cannot be spawned: the container is
    /// stopping or stopped, or the OS refused. Use [`try_spawn`](Self::try_spawn) to
    /// get the error instead.
    #[track_caller]
    pub fn spawn<F, T>(&self, name: impl Into<String>, f: F) -> ManagedThread<T>
    where
        F: FnOnce(StopToken) -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.try_spawn(name, f) {
            Ok(thread) => thread,
            Err(error) => panic!("{error}"),
        }
    }

    /// Spawns a managed thread running `f(stop_token)`, or says why it cannot.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iris::{SpawnError, ThreadContainer};
    ///
    /// let jobs = ThreadContainer::new("jobs");
    /// jobs.stop(Duration::ZERO).unwrap();
    /// let refused = jobs.try_spawn("late", |_stop| ());
    /// assert!(matches!(refused, Err(SpawnError::Stopped { .. })));
    /// ```
    #[track_caller]
    pub fn try_spawn<F, T>(
        &self,
        name: impl Into<String>,
        f: F,
    ) -> Result<ManagedThread<T>, SpawnError>
    where
        F: FnOnce(StopToken) -> T + Send + 'static,
        T: Send + 'static,
    {
        let name = name.into();
        let result = Arc::new(Completion::new());
        let slot = result.clone();
        let inherited = context::capture();
        let path = self.path().to_string();
        let thread = name.clone();
        let record = self.launch(name, Role::Thread, Location::caller(), move |stop| {
            let outcome = inherited.run_managed(&thread, &path, || {
                let outcome = catch_unwind(AssertUnwindSafe(|| f(stop)));
                if let Err(payload) = &outcome {
                    let message = panic_message(payload.as_ref());
                    tracing::error!(panic = %message, "managed thread panicked");
                }
                outcome
            });
            Exit {
                panic: outcome.as_ref().err().map(|p| panic_message(p.as_ref())),
                // A result nobody will take is simply dropped, on the thread itself.
                deliver: Some(Box::new(move || drop(slot.complete(outcome)))),
            }
        })?;
        Ok(ManagedThread { record, result })
    }

    /// Runs `server.run()` on a managed thread; a stop request calls
    /// `server.shutdown()` (on the stopping thread), which must make `run` return.
    ///
    /// `shutdown` may be called before `run` has started (when the stop races with
    /// the spawn): keep the shutdown state sticky, as in the example.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use iris::{Server, StopToken, ThreadContainer};
    ///
    /// struct Echo { closed: StopToken }
    /// impl Server for Echo {
    ///     fn run(&self) { self.closed.wait() }          // serve until shut down
    ///     fn shutdown(&self) { self.closed.stop() }     // sticky: safe before run
    /// }
    ///
    /// let app = ThreadContainer::new("app");
    /// app.spawn_server("echo", Arc::new(Echo { closed: StopToken::new() }));
    /// app.stop(Duration::from_secs(5)).unwrap();
    /// ```
    #[track_caller]
    pub fn spawn_server<S: Server>(
        &self,
        name: impl Into<String>,
        server: Arc<S>,
    ) -> ManagedThread<()> {
        let registered_at = std::panic::Location::caller();
        self.spawn(name, move |stop| {
            let for_shutdown = server.clone();
            stop.on_stop_at(move || for_shutdown.shutdown(), registered_at);
            if !stop.is_stopped() {
                server.run();
            }
        })
    }
}
