//! [`LazyLogger`]: the test logger's subscriber, built on the first event or span
//! that passes its level, not when a test starts.
//!
//! Building a `tracing_subscriber` fmt subscriber allocates its span registry
//! (thousands of slots; about 70 µs in a debug build), and under nextest every test
//! is a fresh process: most tests never log, so most processes never need it.
//!
//! Invariants:
//! - The level check (`enabled`, `max_level_hint`, `register_callsite`) needs no
//!   inner subscriber: it compares with the fixed maximum level. Everything that
//!   passes it builds the inner subscriber once (a `OnceLock`) and goes to it.
//! - Span ids come only from the inner subscriber (a span exists only once it was
//!   enabled, and so built); calls about a span before that cannot happen, and are
//!   answered as "no such span" if they do.
//! - A log filter from the environment (`IRIS_LOG`, `RUST_LOG`) is not lazy: its
//!   level decisions need the filter, so that subscriber is built at once.

use std::sync::OnceLock;

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};

/// A subscriber that builds the real one (`make`) the first time something passes
/// `max_level`.
pub(crate) struct LazyLogger {
    max_level: LevelFilter,
    make: fn() -> Dispatch,
    inner: OnceLock<Dispatch>,
}

impl LazyLogger {
    /// A logger at `max_level` whose real subscriber `make` builds when needed.
    pub(crate) fn new(max_level: LevelFilter, make: fn() -> Dispatch) -> LazyLogger {
        LazyLogger {
            max_level,
            make,
            inner: OnceLock::new(),
        }
    }

    fn inner(&self) -> &Dispatch {
        self.inner.get_or_init(self.make)
    }

    fn passes(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max_level
    }
}

impl Subscriber for LazyLogger {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.passes(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.passes(metadata) && self.inner().enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max_level)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.inner().new_span(span)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(inner) = self.inner.get() {
            inner.record(span, values);
        }
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        if let Some(inner) = self.inner.get() {
            inner.record_follows_from(span, follows);
        }
    }

    fn event(&self, event: &Event<'_>) {
        self.inner().event(event);
    }

    fn enter(&self, span: &Id) {
        if let Some(inner) = self.inner.get() {
            inner.enter(span);
        }
    }

    fn exit(&self, span: &Id) {
        if let Some(inner) = self.inner.get() {
            inner.exit(span);
        }
    }

    fn clone_span(&self, id: &Id) -> Id {
        match self.inner.get() {
            Some(inner) => inner.clone_span(id),
            None => id.clone(),
        }
    }

    fn try_close(&self, id: Id) -> bool {
        self.inner.get().is_some_and(|inner| inner.try_close(id))
    }

    fn current_span(&self) -> tracing_core::span::Current {
        match self.inner.get() {
            Some(inner) => inner.current_span(),
            None => tracing_core::span::Current::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static BUILT: AtomicUsize = AtomicUsize::new(0);

    fn make() -> Dispatch {
        BUILT.fetch_add(1, Ordering::SeqCst);
        Dispatch::new(
            tracing_subscriber::fmt()
                .with_test_writer()
                .with_max_level(tracing::Level::INFO)
                .finish(),
        )
    }

    #[test]
    fn the_real_subscriber_is_built_by_the_first_event_that_passes_and_only_once() {
        let logger = Dispatch::new(LazyLogger::new(LevelFilter::INFO, make));
        let before = BUILT.load(Ordering::SeqCst);
        tracing::dispatcher::with_default(&logger, || {
            tracing::debug!("below the level: builds nothing");
            assert_eq!(BUILT.load(Ordering::SeqCst), before);
            assert!(tracing::Span::current().is_none());
            tracing::info!("passes: builds it");
            assert_eq!(BUILT.load(Ordering::SeqCst), before + 1);
            let span = tracing::info_span!("work");
            let _entered = span.enter();
            tracing::info!("inside a span");
            assert!(!tracing::Span::current().is_none());
            tracing::warn!("again");
        });
        assert_eq!(BUILT.load(Ordering::SeqCst), before + 1, "built once");
    }
}
