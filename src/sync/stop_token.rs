//! [`StopToken`]: a one-way, shareable stop signal.
//!
//! Invariants:
//! - The signal only ever goes from "running" to "stopped"; it is never reset.
//! - `stop` flips the flag and takes the callback list under one lock, so a callback
//!   registered concurrently with `stop` runs exactly once: either by `stop` or inline
//!   in `on_stop`.
//! - Waiters block on a condvar, never poll: `stop` wakes all of them at once.
//! - Async waiters ([`Stopped`], [`StoppedOwned`]) register their `Waker` under the
//!   same lock that `stop` takes to flip the flag, after re-checking the flag under
//!   it: either they see the flag, or their waker is in the list `stop` takes and
//!   wakes. No wake-up is lost. A future that is dropped removes its waker.
//! - Callbacks run outside the lock (a callback may touch the token again), each under
//!   `catch_unwind`: one panicking callback neither skips the others nor unwinds into
//!   the stopping thread. Its message goes to the panic sink (the owning container's
//!   stop result) and to `tracing`.
//! - A token's shared state lives in its own allocation ([`StopToken::new`]) or
//!   inside a larger one that hosts it ([`TokenHost`]: a container's record of a
//!   thread or task, so that spawning allocates one record, not a record and a
//!   token). A hosted token keeps its host alive; the host never holds a token of
//!   itself, so no cycle forms. Both behave the same; only where a panicking
//!   callback is reported differs (nowhere but `tracing`, or the host).
//! - [`StopToken::stop`] runs the callbacks on the stopping thread. A stop that has a
//!   deadline (a container's) takes them with `signal` instead and runs them where it
//!   can stop waiting for them (`threads/stop_callbacks.rs`): a callback that blocks
//!   must not hold a deadline hostage. Either way each callback runs exactly once.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::deadline::Deadline;
use super::loom::{Arc, AtomicBool, Condvar, Mutex, Ordering};
use super::panic_message;

/// A registered `on_stop` callback and where it was registered (for a report of one
/// that does not return).
pub(crate) struct Callback {
    run: Box<dyn FnOnce() + Send + 'static>,
    pub(crate) registered_at: &'static Location<'static>,
}
/// An allocation that holds a token's shared state (a container's record of a
/// thread or task), and where the token reports its panicking callbacks besides
/// `tracing` (the owning container, through the record).
pub(crate) trait TokenHost: Send + Sync {
    /// The token's shared state, inside the host.
    fn token_state(&self) -> &TokenState;

    /// Records the message of a panicking callback.
    fn report_panic(&self, message: String);
}

/// A one-way stop signal shared by clones.
///
/// Every managed thread receives one; code that runs in a loop checks it, and code
/// that would sleep waits on it instead, so that a stop request is seen at once.
///
/// Use it whenever something must be told to stop from elsewhere. Do not use it to
/// report completion (a thread that finished is seen through
/// [`ManagedThread::is_alive`](crate::ManagedThread::is_alive)).
///
/// ```
/// use std::time::Duration;
/// use iris::StopToken;
///
/// let stop = StopToken::new();
/// let worker = {
///     let stop = stop.clone();
///     std::thread::spawn(move || {
///         let mut ticks = 0;
///         // The loop pattern: wait instead of sleeping, so a stop wakes us at once.
///         while !stop.wait_timeout(Duration::from_millis(10)) {
///             ticks += 1;
///         }
///         ticks
///     })
/// };
/// stop.stop();
/// worker.join().unwrap();
/// assert!(stop.is_stopped());
/// ```
#[derive(Clone)]
pub struct StopToken {
    repr: Repr,
}

/// Where a token's shared state is.
#[derive(Clone)]
enum Repr {
    /// Its own allocation: a token made by [`StopToken::new`].
    Own(Arc<TokenState>),
    /// Inside its host (a container's record); panics go to the host.
    Hosted(std::sync::Arc<dyn TokenHost>),
}

/// What all clones of one token share.
pub(crate) struct TokenState {
    /// Fast path for `is_stopped`; written only while `state` is locked.
    stopped: AtomicBool,
    state: Mutex<State>,
    condvar: Condvar,
}

impl TokenState {
    /// A signal that is not stopped, for a host to keep.
    pub(crate) fn new() -> TokenState {
        TokenState {
            stopped: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            condvar: Condvar::new(),
        }
    }

    /// Whether stop has been requested.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }
}

#[derive(Default)]
struct State {
    callbacks: Vec<Callback>,
    waiters: usize,
    /// Async waiters, by registration id.
    wakers: Vec<(u64, Waker)>,
    next_waker: u64,
}

impl StopToken {
    /// A token that is not stopped.
    pub fn new() -> StopToken {
        StopToken {
            repr: Repr::Own(Arc::new(TokenState::new())),
        }
    }

    /// The token whose state `host` keeps; its panicking callbacks are also reported
    /// to `host`.
    pub(crate) fn hosted(host: std::sync::Arc<dyn TokenHost>) -> StopToken {
        StopToken {
            repr: Repr::Hosted(host),
        }
    }

    /// The state this token shares with its clones.
    fn inner(&self) -> &TokenState {
        match &self.repr {
            Repr::Own(state) => state,
            Repr::Hosted(host) => host.token_state(),
        }
    }

    /// Requests stop: wakes every waiter and runs every registered callback once, on
    /// this thread. Calling it again does nothing.
    pub fn stop(&self) {
        for callback in self.signal() {
            self.run_callback(callback);
        }
    }

    /// Requests stop and wakes every waiter, like [`stop`](Self::stop), but hands the
    /// registered callbacks to the caller instead of running them: the caller runs
    /// each exactly once (with [`run_callback`](Self::run_callback)). Empty when the
    /// token was already stopped (its callbacks went to that stop).
    pub(crate) fn signal(&self) -> Vec<Callback> {
        let (callbacks, wakers) = {
            let mut state = self.inner().state.lock();
            if self.inner().stopped.swap(true, Ordering::AcqRel) {
                return Vec::new();
            }
            (
                std::mem::take(&mut state.callbacks),
                std::mem::take(&mut state.wakers),
            )
        };
        self.inner().condvar.notify_all();
        for (_, waker) in wakers {
            waker.wake();
        }
        callbacks
    }

    /// Whether stop has been requested.
    pub fn is_stopped(&self) -> bool {
        self.inner().stopped.load(Ordering::Acquire)
    }

    /// Blocks until stop is requested.
    pub fn wait(&self) {
        self.wait_timeout(Duration::MAX);
    }

    /// Blocks until stop is requested or `timeout` passes; returns `true` iff stopped.
    ///
    /// This replaces `thread::sleep` in loops: `while !stop.wait_timeout(period) { .. }`
    /// does one round per period and leaves at once when stopped. `Duration::ZERO`
    /// only checks; `Duration::MAX` waits without limit.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        if self.is_stopped() {
            return true;
        }
        let deadline = Deadline::after(timeout);
        let mut state = self.inner().state.lock();
        state.waiters += 1;
        while !self.is_stopped() {
            if !deadline.wait(&self.inner().condvar, &mut state) && deadline.is_expired() {
                break;
            }
        }
        state.waiters -= 1;
        self.is_stopped()
    }

    /// Registers `f` to run once when stop is requested, on the stopping thread. If the
    /// token is already stopped, `f` runs now, on this thread.
    ///
    /// A panic in `f` is caught and reported (through `tracing`, and in the owning
    /// container's [`StopError`](crate::StopError)); the other callbacks still run.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use iris::StopToken;
    ///
    /// let stop = StopToken::new();
    /// let closed = Arc::new(AtomicBool::new(false));
    /// let flag = closed.clone();
    /// stop.on_stop(move || flag.store(true, Ordering::SeqCst));
    /// stop.stop();
    /// assert!(closed.load(Ordering::SeqCst));
    /// ```
    ///
    /// A container's [`stop`](crate::ThreadContainer::stop) runs the callbacks of its
    /// threads' tokens on a helper thread instead, so that one that blocks cannot make
    /// the stop miss its deadline; one still running at the deadline is reported as a
    /// straggler, with the place it was registered.
    #[track_caller]
    pub fn on_stop(&self, f: impl FnOnce() + Send + 'static) {
        self.on_stop_at(f, Location::caller());
    }

    /// [`on_stop`](Self::on_stop) with the registration site given (Iris's own
    /// callbacks name the user's call that led to them).
    pub(crate) fn on_stop_at(
        &self,
        f: impl FnOnce() + Send + 'static,
        registered_at: &'static Location<'static>,
    ) {
        let callback = Callback {
            run: Box::new(f),
            registered_at,
        };
        {
            let mut state = self.inner().state.lock();
            if !self.is_stopped() {
                state.callbacks.push(callback);
                return;
            }
        }
        self.run_callback(callback);
    }

    /// A future that completes once stop is requested (at once if it already is):
    /// the async counterpart of [`wait`](Self::wait), to `select!` on beside the
    /// work of a task loop.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future before it completes loses nothing (the stop
    /// is sticky; a new future sees it).
    ///
    /// ```
    /// use iris::StopToken;
    ///
    /// let stop = StopToken::new();
    /// let stopper = stop.clone();
    /// std::thread::spawn(move || stopper.stop());
    /// // Any executor works; a tiny one for the example:
    /// futures_lite_block_on(stop.stopped());
    /// assert!(stop.is_stopped());
    /// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Wake, Waker};
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl Wake for Unpark { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
    /// #     let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let Poll::Ready(v) = f.as_mut().poll(&mut Context::from_waker(&waker)) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// ```
    pub fn stopped(&self) -> Stopped<'_> {
        Stopped {
            token: self,
            registration: None,
        }
    }

    /// [`stopped`](Self::stopped) that owns a clone of the token, for `'static`
    /// futures (a spawned task).
    ///
    /// # Cancel safety
    /// Cancel safe, as [`stopped`](Self::stopped).
    pub fn stopped_owned(self) -> StoppedOwned {
        StoppedOwned {
            token: self,
            registration: None,
        }
    }

    /// One poll of a stop future whose waker is registered under `registration`.
    fn poll_stopped(&self, registration: &mut Option<u64>, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_stopped() {
            self.forget_waker(registration);
            return Poll::Ready(());
        }
        let mut state = self.inner().state.lock();
        // Re-checked under the lock `stop` takes to flip the flag: if it is still
        // clear, the waker registered below is in the list `stop` will wake.
        if self.is_stopped() {
            drop(state);
            self.forget_waker(registration);
            return Poll::Ready(());
        }
        match registration {
            Some(id) => {
                if let Some((_, waker)) = state.wakers.iter_mut().find(|(i, _)| i == id) {
                    if !waker.will_wake(cx.waker()) {
                        waker.clone_from(cx.waker());
                    }
                }
            }
            None => {
                let id = state.next_waker;
                state.next_waker += 1;
                state.wakers.push((id, cx.waker().clone()));
                *registration = Some(id);
            }
        }
        Poll::Pending
    }

    fn forget_waker(&self, registration: &mut Option<u64>) {
        if let Some(id) = registration.take() {
            self.inner().state.lock().wakers.retain(|(i, _)| *i != id);
        }
    }

    /// Runs one callback taken by [`signal`](Self::signal), catching and reporting its
    /// panic.
    pub(crate) fn run_callback(&self, callback: Callback) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(callback.run)) {
            let message = panic_message(payload.as_ref());
            tracing::error!(panic = %message, "iris: an on_stop callback panicked");
            if let Repr::Hosted(host) = &self.repr {
                host.report_panic(format!("on_stop callback panicked: {message}"));
            }
        }
    }
}

// A panic cannot leave a token half-updated: its state changes under its lock and
// callbacks run outside it under `catch_unwind`. So a token may cross a
// `catch_unwind` boundary (its host, a trait object, alone would forbid it).
impl std::panic::UnwindSafe for StopToken {}
impl std::panic::RefUnwindSafe for StopToken {}

/// The future of [`StopToken::stopped`]: completes once the token is stopped.
#[must_use = "futures do nothing unless `.await`ed or polled"]
pub struct Stopped<'a> {
    token: &'a StopToken,
    registration: Option<u64>,
}

impl Future for Stopped<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.token.poll_stopped(&mut this.registration, cx)
    }
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        self.token.forget_waker(&mut self.registration);
    }
}

impl fmt::Debug for Stopped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stopped")
            .field("stopped", &self.token.is_stopped())
            .finish()
    }
}

/// The future of [`StopToken::stopped_owned`]: completes once the token is stopped.
#[must_use = "futures do nothing unless `.await`ed or polled"]
pub struct StoppedOwned {
    token: StopToken,
    registration: Option<u64>,
}

impl Future for StoppedOwned {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.token.poll_stopped(&mut this.registration, cx)
    }
}

impl Drop for StoppedOwned {
    fn drop(&mut self) {
        self.token.forget_waker(&mut self.registration);
    }
}

impl fmt::Debug for StoppedOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoppedOwned")
            .field("stopped", &self.token.is_stopped())
            .finish()
    }
}

impl Default for StopToken {
    fn default() -> Self {
        StopToken::new()
    }
}

impl fmt::Debug for StopToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner().state.lock();
        f.debug_struct("StopToken")
            .field("stopped", &self.is_stopped())
            .field("callbacks", &state.callbacks.len())
            .field("waiters", &state.waiters)
            .field("async_waiters", &state.wakers.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn stop_is_one_way_and_idempotent() {
        let token = StopToken::new();
        assert!(!token.is_stopped());
        assert!(!token.wait_timeout(Duration::ZERO));
        token.stop();
        token.stop();
        assert!(token.is_stopped());
        assert!(token.wait_timeout(Duration::ZERO));
        assert!(token.wait_timeout(Duration::MAX));
    }

    #[test]
    fn callbacks_run_once_even_when_registered_late() {
        let token = StopToken::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        token.on_stop(move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        token.stop();
        token.stop();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let r = runs.clone();
        token.on_stop(move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(runs.load(Ordering::SeqCst), 2, "late callback runs inline");
    }

    #[test]
    fn a_panicking_callback_is_reported_and_the_others_still_run() {
        struct Collect(TokenState, Mutex<Vec<String>>);
        impl TokenHost for Collect {
            fn token_state(&self) -> &TokenState {
                &self.0
            }
            fn report_panic(&self, message: String) {
                self.1.lock().push(message);
            }
        }
        let sink = std::sync::Arc::new(Collect(TokenState::new(), Mutex::new(Vec::new())));
        let token = StopToken::hosted(sink.clone());
        let ran = Arc::new(AtomicBool::new(false));
        token.on_stop(|| panic!("callback boom"));
        let r = ran.clone();
        token.on_stop(move || r.store(true, Ordering::SeqCst));
        token.stop();
        assert!(ran.load(Ordering::SeqCst));
        let reported = sink.1.lock();
        assert_eq!(reported.len(), 1);
        assert!(reported[0].contains("callback boom"), "{reported:?}");
    }

    #[test]
    fn a_hosted_token_shares_its_hosts_state_with_every_clone() {
        struct Host(TokenState);
        impl TokenHost for Host {
            fn token_state(&self) -> &TokenState {
                &self.0
            }
            fn report_panic(&self, _message: String) {}
        }
        let host = std::sync::Arc::new(Host(TokenState::new()));
        let token = StopToken::hosted(host.clone());
        let other = StopToken::hosted(host.clone());
        let clone = token.clone();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        other.on_stop(move || r.store(true, Ordering::SeqCst));
        assert!(!host.0.is_stopped() && !clone.is_stopped());
        token.stop();
        assert!(host.0.is_stopped() && clone.is_stopped() && other.is_stopped());
        assert!(other.wait_timeout(Duration::ZERO));
        assert!(
            ran.load(Ordering::SeqCst),
            "a callback registered through another handle ran"
        );
    }

    #[test]
    fn debug_shows_live_state() {
        let token = StopToken::new();
        token.on_stop(|| {});
        let text = format!("{token:?}");
        assert!(
            text.contains("stopped: false") && text.contains("callbacks: 1"),
            "{text}"
        );
    }
}
