//! [rstest](https://docs.rs/rstest) fixtures (cargo feature `rstest`, on by default).
//!
//! ```
//! use std::time::Duration;
//! use iris::fixtures::{sentinel, TempSentinel};
//! use rstest::rstest;
//!
//! #[rstest]
//! fn worker_signals_when_ready(sentinel: TempSentinel) {
//!     let ready = sentinel.clone(); // a SentinelFile, handed to the worker
//!     std::thread::spawn(move || ready.signal().unwrap());
//!     sentinel.wait(Duration::from_secs(5)).unwrap();
//! }
//! # fn main() {}
//! ```

use std::ops::Deref;

use rstest::fixture;

use crate::SentinelFile;

/// A [`SentinelFile`] inside a fresh temporary directory that is deleted with it.
/// Dereferences to the sentinel.
#[derive(Debug)]
pub struct TempSentinel {
    sentinel: SentinelFile,
    dir: tempfile::TempDir,
}

impl TempSentinel {
    /// A sentinel named `sentinel` in a new temporary directory.
    pub fn new() -> std::io::Result<TempSentinel> {
        let dir = tempfile::Builder::new()
            .prefix("iris-sentinel-")
            .tempdir()?;
        Ok(TempSentinel {
            sentinel: SentinelFile::new(dir.path().join("sentinel")),
            dir,
        })
    }

    /// The temporary directory (for more files beside the sentinel).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Deref for TempSentinel {
    type Target = SentinelFile;
    fn deref(&self) -> &SentinelFile {
        &self.sentinel
    }
}

/// The `sentinel` fixture: a [`TempSentinel`], unsignalled.
///
/// # Panics
/// When no temporary directory can be created (a broken test machine).
#[fixture]
pub fn sentinel() -> TempSentinel {
    TempSentinel::new().expect("iris: cannot create a temporary directory for the sentinel fixture")
}

/// The `test_scope` fixture: a [`TestScope`](crate::TestScope) for the running test.
/// Threads the test spawns through [`get_thread_registry`](crate::get_thread_registry)
/// land in it, and when the fixture is dropped at the end of the test it checks for
/// leaks and background panics (and panics with the report under the default `fail`
/// policy).
///
/// ```
/// use iris::fixtures::test_scope;
/// use iris::{get_thread_registry, TestScope};
/// use rstest::rstest;
///
/// #[rstest]
/// fn spawns_a_poller(test_scope: TestScope) {
///     get_thread_registry().spawn("poller", |stop| stop.wait());
///     test_scope.finish().unwrap(); // or let it drop
/// }
/// # fn main() {}
/// ```
///
/// Options go through rstest's `#[with(..)]` (the test's name still comes from the
/// running test):
///
/// ```
/// use std::time::Duration;
/// use iris::fixtures::test_scope;
/// use iris::{TestOptions, TestScope};
/// use rstest::rstest;
///
/// #[rstest]
/// fn quick_to_give_up(
///     #[with(TestOptions::new("quick").stop_timeout(Duration::from_millis(200)))]
///     test_scope: TestScope,
/// ) {
///     assert_eq!(test_scope.options().stop_timeout_value(), Duration::from_millis(200));
/// }
/// # fn main() {}
/// ```
///
/// `#[iris_test]` does the same with options; prefer it unless the scope must be a
/// fixture (for example to share one with other fixtures).
#[fixture]
pub fn test_scope(
    #[default(crate::TestOptions::new("rstest"))] options: crate::TestOptions,
) -> crate::TestScope {
    crate::TestScope::begin(options)
}
