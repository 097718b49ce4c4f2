//! [`ThreadRegistry`] and its scopes: "the current container", found without passing
//! it around.
//!
//! Invariants:
//! - The current registry is the innermost scope of this thread, else the one it
//!   inherited from its spawner (both kept in `context.rs`), else the process-wide
//!   `"default"`.
//! - `RegistryScope` is not `Send`: it belongs to the stack of the thread that made it.
//! - Closing a scope is bounded by its stop timeout (5 s by default).

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::OnceLock;
use std::time::Duration;

use super::container::ThreadContainer;
use super::context;
use super::report::StopError;

/// How long closing a scope waits for its threads: [`RegistryScope::close`] and drop.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`ThreadContainer`] that code can find implicitly with [`get_thread_registry`].
///
/// It dereferences to its container, so every container method works on it.
///
/// ```
/// use std::time::Duration;
/// use iris::ThreadRegistry;
///
/// let registry = ThreadRegistry::new("service");
/// registry.spawn("tick", |stop| stop.wait());
/// assert_eq!(registry.container().alive_threads().len(), 1);
/// registry.stop(Duration::from_secs(5)).unwrap();
/// ```
#[derive(Clone)]
pub struct ThreadRegistry {
    container: ThreadContainer,
}

impl ThreadRegistry {
    /// A registry with a fresh root container called `name`.
    pub fn new(name: impl Into<String>) -> ThreadRegistry {
        ThreadRegistry {
            container: ThreadContainer::new(name),
        }
    }

    /// The registry's root container.
    pub fn container(&self) -> &ThreadContainer {
        &self.container
    }

    /// Whether two handles refer to the same registry.
    pub fn same_as(&self, other: &ThreadRegistry) -> bool {
        std::sync::Arc::ptr_eq(&self.container.inner, &other.container.inner)
    }
}

impl Deref for ThreadRegistry {
    type Target = ThreadContainer;
    fn deref(&self) -> &ThreadContainer {
        &self.container
    }
}

impl fmt::Debug for ThreadRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ThreadRegistry")
            .field(&self.container)
            .finish()
    }
}

fn default_registry() -> &'static ThreadRegistry {
    static DEFAULT: OnceLock<ThreadRegistry> = OnceLock::new();
    DEFAULT.get_or_init(|| ThreadRegistry::new("default"))
}

/// The current registry: the innermost [`thread_registry_scope`] of this thread; in a
/// thread spawned through Iris, the registry current where it was spawned; otherwise
/// the process-wide registry named `"default"`.
///
/// Component code calls this to spawn its background threads, and so lands in
/// whatever registry the caller (a test, a service) has set up.
///
/// ```
/// use iris::{get_thread_registry, thread_registry_scope};
///
/// assert_eq!(get_thread_registry().name(), "default");
/// let scope = thread_registry_scope("my-test");
/// let worker = get_thread_registry().spawn("worker", |_stop| {
///     // Inherited: the spawner's registry is current here too.
///     get_thread_registry().name().to_string()
/// });
/// assert_eq!(worker.join().unwrap(), "my-test");
/// scope.close().unwrap();
/// assert_eq!(get_thread_registry().name(), "default");
/// ```
pub fn get_thread_registry() -> ThreadRegistry {
    match context::current_registry() {
        Some(container) => ThreadRegistry { container },
        None => default_registry().clone(),
    }
}

/// Installs a fresh registry named `name` as this thread's current one until the
/// returned guard is closed or dropped; then its threads are stopped and the previous
/// registry is current again.
///
/// ```
/// use iris::thread_registry_scope;
///
/// let scope = thread_registry_scope("test:demo");
/// scope.spawn("server", |stop| stop.wait());
/// scope.close().expect("the server honours its stop token");
/// ```
pub fn thread_registry_scope(name: impl Into<String>) -> RegistryScope {
    let registry = ThreadRegistry::new(name);
    let id = context::push_scope(registry.container.clone());
    RegistryScope {
        id,
        registry,
        open: true,
        _not_send: PhantomData,
    }
}

/// The guard of a [`thread_registry_scope`]; dereferences to its [`ThreadRegistry`].
///
/// Closing it (or dropping it) removes it from this thread's stack and stops its
/// registry with [`DEFAULT_STOP_TIMEOUT`]. Scopes nest, and may be dropped in any
/// order.
///
/// It belongs to the thread that opened it (it is not `Send`):
///
/// ```compile_fail
/// let scope = iris::thread_registry_scope("test:x");
/// std::thread::spawn(move || drop(scope)); // error: `*const ()` cannot be sent
/// ```
#[must_use = "the scope ends (and stops its threads) when this guard is dropped"]
pub struct RegistryScope {
    id: u64,
    registry: ThreadRegistry,
    open: bool,
    _not_send: PhantomData<*const ()>,
}

impl RegistryScope {
    /// Ends the scope: restores the previous registry, stops this one with
    /// [`DEFAULT_STOP_TIMEOUT`], and reports stragglers and panics.
    pub fn close(self) -> Result<(), StopError> {
        self.close_with_timeout(DEFAULT_STOP_TIMEOUT)
    }

    /// [`close`](Self::close) with another stop timeout.
    pub fn close_with_timeout(mut self, timeout: Duration) -> Result<(), StopError> {
        self.end(timeout)
    }

    fn end(&mut self, timeout: Duration) -> Result<(), StopError> {
        self.open = false;
        let id = self.id;
        context::remove_scope(id);
        self.registry.stop(timeout)
    }
}

impl Deref for RegistryScope {
    type Target = ThreadRegistry;
    fn deref(&self) -> &ThreadRegistry {
        &self.registry
    }
}

impl Drop for RegistryScope {
    fn drop(&mut self) {
        if self.open {
            if let Err(error) = self.end(DEFAULT_STOP_TIMEOUT) {
                tracing::error!("iris: registry scope dropped without close: {error}");
            }
        }
    }
}

impl fmt::Debug for RegistryScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryScope")
            .field("id", &self.id)
            .field("open", &self.open)
            .field("registry", &self.registry)
            .finish()
    }
}
