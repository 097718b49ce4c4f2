//! Whose a thread that outlived its test is: the test's, or the process's, and why.
//!
//! One answer for every reader: the survey drops a thread kept for the process (the
//! default lists on), and the report, when the lists are off, says what the thread
//! is and offers the glob that waives it and nothing else.

use super::creators::creator_glob;
use super::{is_process_scoped_creator, ThreadOrigin};

/// Why a thread lives for the process rather than for the test that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    /// A well-known process-wide pool: what it is, and the glob that waives it when
    /// one does.
    Pool {
        what: &'static str,
        glob: Option<&'static str>,
    },
    /// Made inside a function that makes what lives for the process (the default
    /// lists' or their rules'): that function, and the globs naming it and nothing
    /// else, unless it is the test's own function (whose glob would waive every
    /// thread the test makes).
    Creator {
        function: String,
        glob: Option<String>,
    },
}

/// The function on a thread's creating stack, as debug information knows it
/// (inlined functions too), that makes what lives for the process.
pub(crate) fn kept_creator(origin: &ThreadOrigin) -> Option<&str> {
    origin
        .functions
        .iter()
        .map(String::as_str)
        .find(|f| is_process_scoped_creator(f))
}

/// Whether, and why, the thread `origin` describes is the process's; the test's
/// own function is `test_function`.
pub(crate) fn kept_for_the_process(origin: &ThreadOrigin, test_function: &str) -> Option<Kept> {
    if let Some((what, glob)) = origin.known_pool {
        return Some(Kept::Pool {
            what,
            glob: (!glob.is_empty()).then_some(glob),
        });
    }
    let function = kept_creator(origin)?;
    let glob = creator_glob(function).filter(|g| !g.starts_with(&format!("{test_function}, ")));
    Some(Kept::Creator {
        function: function.to_string(),
        glob,
    })
}

impl Kept {
    /// The `ignore_threads` globs a report may offer for it.
    pub(crate) fn glob(&self) -> Option<&str> {
        match self {
            Kept::Pool { glob, .. } => *glob,
            Kept::Creator { glob, .. } => glob.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(functions: &[&str]) -> ThreadOrigin {
        ThreadOrigin {
            created_at: None,
            creator: "t".into(),
            creator_tid: 1,
            age: None,
            known_pool: super::super::frames::known_pool(
                &functions.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
            ),
            known_fix: None,
            functions: functions.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn a_pool_a_creator_and_a_forgotten_component() {
        let rayon = origin(&[
            "std::thread::lifecycle::spawn_unchecked",
            "rayon_core::registry::global_registry",
            "my_crate::sum",
        ]);
        assert!(matches!(
            kept_for_the_process(&rayon, "my_crate::t"),
            Some(Kept::Pool { glob: Some(_), .. })
        ));
        let lazy = origin(&[
            "std::thread::lifecycle::spawn_unchecked",
            "my_crate::io::IoPool::global::{{closure}}",
            "my_crate::handler",
        ]);
        let kept = kept_for_the_process(&lazy, "my_crate::t").expect("a global accessor");
        assert_eq!(
            kept.glob(),
            Some("my_crate::io::IoPool::global, my_crate::io::IoPool::global::*")
        );
        // The test's own function is never offered: its glob would waive every
        // thread the test makes.
        let own = kept_for_the_process(&lazy, "my_crate::io::IoPool::global");
        assert!(
            matches!(own, Some(Kept::Creator { glob: None, .. })),
            "{own:?}"
        );
        let forgotten = origin(&[
            "std::thread::lifecycle::spawn_unchecked",
            "my_crate::watcher::Watcher::start",
            "my_crate::t",
        ]);
        assert_eq!(kept_for_the_process(&forgotten, "my_crate::t"), None);
    }
}
