//! What a thread inherits from the thread that spawned it, in one place: the current
//! registry (the stack of registry scopes), the `tracing` subscriber, and the
//! `tracing` span.
//!
//! Invariants:
//! - Each OS thread has a stack of scopes (thread-local), plus an *inherited* registry
//!   that a managed thread receives from its spawner. The current registry is the top
//!   of the stack, else the inherited one; `registry.rs` falls back to the
//!   process-wide default.
//! - A scope is removed by its id, not by popping, so guards dropped out of order
//!   remove exactly themselves and never another scope.
//! - [`capture`] runs on the spawning thread and [`Inherited::run`] on the spawned
//!   one, before any user code: a thread never runs user code without its
//!   inheritance installed.
//! - The stack holds the registries' root containers, not registries, so this file
//!   depends only on the container and the registry layer is built on top of it.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use super::container::ThreadContainer;

#[derive(Default)]
struct ScopeStack {
    inherited: Option<ThreadContainer>,
    scopes: Vec<(u64, ThreadContainer)>,
}

thread_local! {
    static SCOPES: RefCell<ScopeStack> = RefCell::new(ScopeStack::default());
}

static NEXT_SCOPE_ID: AtomicU64 = AtomicU64::new(1);

/// The registry container current on this thread (innermost scope, else inherited),
/// if any.
pub(crate) fn current_registry() -> Option<ThreadContainer> {
    SCOPES
        .try_with(|stack| {
            let stack = stack.borrow();
            stack
                .scopes
                .last()
                .map(|(_, registry)| registry.clone())
                .or_else(|| stack.inherited.clone())
        })
        .ok()
        .flatten()
}

/// Makes `registry` the innermost scope of this thread; returns the id to remove it by.
pub(crate) fn push_scope(registry: ThreadContainer) -> u64 {
    let id = NEXT_SCOPE_ID.fetch_add(1, Ordering::Relaxed);
    SCOPES.with(|stack| stack.borrow_mut().scopes.push((id, registry)));
    id
}

/// Removes scope `id` from this thread's stack, wherever it is in it.
pub(crate) fn remove_scope(id: u64) {
    let _ = SCOPES.try_with(|stack| stack.borrow_mut().scopes.retain(|(i, _)| *i != id));
}

/// Makes `registry` this thread's inherited registry for the rest of its life (a
/// runtime's worker thread, at its start).
pub(crate) fn inherit(registry: Option<ThreadContainer>) {
    let _ = SCOPES.try_with(|stack| stack.borrow_mut().inherited = registry);
}

/// Makes `registry` the innermost scope of this thread until the guard is dropped:
/// a task, for one poll, on whatever thread polls it. When it is already the current
/// registry there (a task polled on its test's runtime), nothing is pushed.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by tasks
pub(crate) fn enter_scope(registry: &ThreadContainer) -> Option<ScopeGuard> {
    let current = SCOPES
        .try_with(|stack| {
            let stack = stack.borrow();
            stack
                .scopes
                .last()
                .map(|(_, c)| c)
                .or(stack.inherited.as_ref())
                .is_some_and(|c| std::sync::Arc::ptr_eq(&c.inner, &registry.inner))
        })
        .unwrap_or(false);
    (!current).then(|| ScopeGuard {
        id: push_scope(registry.clone()),
    })
}

/// Removes its scope when dropped (see [`enter_scope`]).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by tasks
pub(crate) struct ScopeGuard {
    id: u64,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        remove_scope(self.id);
    }
}

/// What a new thread takes over from its spawner.
pub(crate) struct Inherited {
    registry: Option<ThreadContainer>,
    dispatch: tracing::Dispatch,
    span: tracing::Span,
}

/// Captures, on the spawning thread, what the new thread will inherit.
pub(crate) fn capture() -> Inherited {
    Inherited {
        registry: current_registry(),
        // The spawner's subscriber too, so that a test's subscriber (often installed
        // thread-locally) also sees what its background threads log.
        dispatch: tracing::dispatcher::get_default(|d| d.clone()),
        // And its span, so span-based tools attribute the thread's logs to the test.
        span: tracing::Span::current(),
    }
}

/// What a task takes over from its spawner: [`capture`], except that with no
/// subscriber anywhere there is nothing to attribute logs to, so the subscriber and
/// span are not taken (`None`): one thread-local read instead of two, for spawning
/// tasks is a hot path.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by tasks
pub(crate) fn capture_for_task() -> (
    Option<ThreadContainer>,
    Option<(tracing::Dispatch, tracing::Span)>,
) {
    let dispatch = tracing::dispatcher::get_default(|dispatch| {
        (!dispatch.is::<tracing::subscriber::NoSubscriber>()).then(|| dispatch.clone())
    });
    let logging = dispatch.map(|dispatch| (dispatch, tracing::Span::current()));
    (current_registry(), logging)
}

impl Inherited {
    /// Installs the inheritance on this (new) thread and runs `f` inside the
    /// spawner's subscriber and span.
    pub(crate) fn run<T>(self, f: impl FnOnce() -> T) -> T {
        inherit(self.registry);
        tracing::dispatcher::with_default(&self.dispatch, || self.span.in_scope(f))
    }

    /// [`run`](Self::run) inside an `iris_thread` span naming the managed thread, a
    /// child of the spawner's span.
    pub(crate) fn run_managed<T>(self, thread: &str, container: &str, f: impl FnOnce() -> T) -> T {
        let parent = self.span.clone();
        self.run(|| {
            let span = tracing::info_span!(parent: &parent, "iris_thread", thread = %thread, container = %container);
            span.in_scope(f)
        })
    }
}
