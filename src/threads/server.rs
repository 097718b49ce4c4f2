//! [`Server`]: something that serves until told to shut down.
//!
//! The bridge to a managed thread is in
//! [`ThreadContainer::spawn_server`](crate::ThreadContainer::spawn_server): `run` is
//! the thread's body and a stop request calls `shutdown`, so servers that block in
//! `accept` or in an event loop can be stopped without knowing about stop tokens.

/// A blocking service with a separate shutdown entry point.
///
/// `shutdown` is called on the stopping thread, possibly before `run` has started
/// and possibly while `run` is blocked; it must make `run` return soon, and should be
/// sticky (a `run` that starts after `shutdown` returns at once). A panic in either
/// method is caught and reported in the container's [`StopError`](crate::StopError).
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use iris::{Server, ThreadContainer};
///
/// struct Acceptor { listener: TcpListener, closing: AtomicBool }
///
/// impl Server for Acceptor {
///     fn run(&self) {
///         for stream in self.listener.incoming() {
///             if self.closing.load(Ordering::SeqCst) { break; }
///             drop(stream); // serve the connection here
///         }
///     }
///     fn shutdown(&self) {
///         self.closing.store(true, Ordering::SeqCst);
///         // Wake the blocking accept with a connection of our own.
///         let _ = TcpStream::connect(self.listener.local_addr().unwrap());
///     }
/// }
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let app = ThreadContainer::new("app");
/// app.spawn_server("acceptor", Arc::new(Acceptor { listener, closing: AtomicBool::new(false) }));
/// app.stop(Duration::from_secs(5)).unwrap();
/// ```
pub trait Server: Send + Sync + 'static {
    /// Serves until [`shutdown`](Self::shutdown) is called.
    fn run(&self);
    /// Makes [`run`](Self::run) return; may be called before `run` starts.
    fn shutdown(&self);
}
