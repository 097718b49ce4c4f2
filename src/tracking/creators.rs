//! Who made a thread, told from its creating stack's functions: what an optimised
//! build inlined the user's code into (a test's body into Iris's harness, a future
//! into a combinator's poll), and the `ignore_threads` globs that name a creating
//! function and nothing else.

use super::frames::is_thread_start;

/// Iris's functions that run a test's body: generic over it, so an optimised build
/// may inline the body into them, and a creating stack then shows one of these
/// where the test's own function would be.
const BODY_RUNNERS: &[&str] = &[
    // `run_test`, and with a `timeout` the body's own thread (`on_body_thread`).
    "iris::leaks::harness::",
    "iris::leaks::harness::run_async::run_async_test",
    // An async body is polled inside this wrapper (every flavor, with a timeout too).
    "iris::tasks::runtime::block_on",
];

/// Crates whose generic futures poll the user's (`join_all`, `FuturesUnordered`,
/// `select`, `block_on`): an optimised build inlines the user's future into their
/// poll, which then names where a thread was made.
const COMBINATORS: &[&str] = &["futures_", "futures::"];

/// Who made a thread whose creating stack has no frame of the user's, when an
/// optimised build inlined that code into a frame that tells.
#[derive(Debug, PartialEq)]
pub(crate) enum InlinedCreator {
    /// The test's body, inlined into one of [`BODY_RUNNERS`].
    TestBody,
    /// The closure its creator thread runs, inlined into std's thread start
    /// (`__rust_begin_short_backtrace`).
    ThreadClosure,
    /// A future a combinator polled (`join_all`, `FuturesUnordered`, `select`),
    /// inlined into the combinator's poll, which is named.
    Combinator(String),
}

/// Past the thread's creation (libc, std's spawn, Iris's hook), the first frame of a
/// creating stack (innermost first) that is not std's says who made the thread:
/// Iris's harness running a test's body, or std's start of the creator thread
/// itself. Anything else (a library's or the user's function) is not told here.
pub(crate) fn inlined_creator(functions: &[String]) -> Option<InlinedCreator> {
    let first = functions
        .iter()
        .map(|f| f.trim_start_matches('<'))
        .find(|f| {
            f.contains("::")
                && (is_thread_start(f)
                    || !["std::", "core::", "alloc::", "iris::tracking::"]
                        .iter()
                        .any(|p| f.starts_with(p)))
        })?;
    if BODY_RUNNERS.iter().any(|runner| first.starts_with(runner)) {
        Some(InlinedCreator::TestBody)
    } else if is_thread_start(first) {
        Some(InlinedCreator::ThreadClosure)
    } else if COMBINATORS.iter().any(|c| first.starts_with(c)) {
        Some(InlinedCreator::Combinator(
            first.split("::{{").next().unwrap_or(first).to_string(),
        ))
    } else {
        None
    }
}

/// The globs that match `function` as a creating function and nothing else: its path
/// without the closures inside it, and the same path followed by `::` and anything
/// (debug information and the symbol table write closures differently), so that a
/// sibling whose name only begins the same (`try_new` and `try_new_with_opts`) is
/// not matched. A method of an inherent `impl` reads
/// `krate::module::<impl krate::Type<A, B>>::method`, whose `impl` block the two
/// also write differently (with the type's generic names or without): the block
/// becomes `*`. A trait method (`<T as Trait>::method`) gets none.
pub(crate) fn creator_glob(function: &str) -> Option<String> {
    let mut path = function
        .split("::{")
        .next()?
        .trim_start_matches('<')
        .to_string();
    while let Some(start) = path.find("<impl ") {
        let mut depth = 0i32;
        let mut previous = ' ';
        let end = path[start..].char_indices().find_map(|(i, c)| {
            match (previous, c) {
                (_, '<') => depth += 1,
                ('-', '>') => {} // `Fn() -> T`
                (_, '>') => depth -= 1,
                _ => {}
            }
            previous = c;
            (depth == 0).then_some(start + i)
        })?;
        path.replace_range(start..=end, "*");
    }
    (path.contains("::") && !path.contains(' ')).then(|| format!("{path}, {path}::*"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::glob::glob_matches;

    /// Whether a comma-separated list of globs matches `name`.
    fn globs_match(globs: &str, name: &str) -> bool {
        globs.split(", ").any(|g| glob_matches(g, name))
    }

    #[test]
    fn a_creating_function_becomes_globs_for_it_and_its_closures_only() {
        let globs = creator_glob("mockito::server::Server::try_new::{{closure}}").unwrap();
        assert_eq!(
            globs,
            "mockito::server::Server::try_new, mockito::server::Server::try_new::*"
        );
        assert!(globs_match(&globs, "mockito::server::Server::try_new"));
        assert!(globs_match(
            &globs,
            "mockito::server::Server::try_new::{{closure}}"
        ));
        // A sibling whose name only begins the same is not waived (it once was,
        // through `try_new*`, and its servers were real leaks).
        assert!(!globs_match(
            &globs,
            "mockito::server::Server::try_new_with_opts"
        ));
        assert!(!globs_match(
            &globs,
            "mockito::server::Server::try_new_with_opts::{{closure}}"
        ));
        assert_eq!(
            creator_glob("<my_crate::Pool as my_crate::Spawn>::spawn").as_deref(),
            None,
            "a trait method's name has spaces: no glob is promised"
        );
        assert_eq!(creator_glob("main").as_deref(), None);
        // governor's rate limiter, where futures-timer's global thread is started.
        let method = "governor::state::direct::future::<impl governor::state::RateLimiter<\
                      governor::state::direct::NotKeyed,S,C,MW>>::until_ready_with_jitter::{{closure}}";
        let globs = creator_glob(method).unwrap();
        assert_eq!(
            globs,
            "governor::state::direct::future::*::until_ready_with_jitter, \
             governor::state::direct::future::*::until_ready_with_jitter::*"
        );
        assert!(globs_match(&globs, method));
        // The symbol table's spelling of the same method.
        assert!(globs_match(
            &globs,
            "governor::state::direct::future::<impl governor::state::RateLimiter<NK,S,C,MW>>\
             ::until_ready_with_jitter::{{closure}}"
        ));
        assert!(!globs_match(
            &globs,
            "governor::state::direct::future::<impl governor::state::RateLimiter<NK,S,C,MW>>\
             ::until_ready_with_jitter_and_more"
        ));
        // An `impl` that never closes is no glob.
        assert_eq!(
            creator_glob("my_crate::<impl my_crate::Pool::grow").as_deref(),
            None
        );
    }

    /// A release build without debug information inlines the test's body into
    /// Iris's harness, and a thread's closure into std's thread start: the creating
    /// stack has no frame of the user's, but it came straight from the body (the
    /// line says so, naming the test) or from its creator thread's own closure.
    #[test]
    fn a_thread_made_by_inlined_code_is_put_to_what_made_it() {
        let stack = |caller: &str| -> Vec<String> {
            [
                "iris::tracking::hooks::own_stack",
                "pthread_create",
                "<std::sys::thread::unix::Thread>::new",
                "std::thread::lifecycle::spawn_unchecked",
                caller,
                "core::ops::function::FnOnce::call_once",
                "test::run_test::{closure#0}",
            ]
            .map(String::from)
            .to_vec()
        };
        let creator = |caller: &str| inlined_creator(&stack(caller));
        assert_eq!(
            creator("iris::leaks::harness::run_test"),
            Some(InlinedCreator::TestBody)
        );
        assert_eq!(
            creator("iris::tasks::runtime::block_on::{{closure}}"),
            Some(InlinedCreator::TestBody)
        );
        // A thread that a thread the test started made, in its own closure (seen on
        // hyper-util: a server thread starting two more).
        assert_eq!(
            creator("std::sys::backtrace::__rust_begin_short_backtrace"),
            Some(InlinedCreator::ThreadClosure)
        );
        assert_eq!(creator("rayon_core::registry::Registry::new"), None);
        assert_eq!(creator("iris::threads::spawn::start"), None);
    }

    #[test]
    fn a_future_a_combinator_polled_is_put_to_the_combinator() {
        let functions: Vec<String> = [
            "pthread_create",
            "std::thread::lifecycle::spawn_unchecked",
            "futures_util::stream::stream::StreamExt::poll_next_unpin",
            "iris::tasks::runtime::block_on::{{closure}}",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            inlined_creator(&functions),
            Some(InlinedCreator::Combinator(
                "futures_util::stream::stream::StreamExt::poll_next_unpin".into()
            ))
        );
    }
}
