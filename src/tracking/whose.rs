//! Whose a thread that outlived its test is: the test's, or the process's, and why.
//!
//! One answer for every reader: the teardown's survey asks [`waived_at_a_glance`]
//! while it waits for threads to end and [`waived_by_origin`] for those still alive
//! after the wait; the report, when the default lists are off, asks
//! [`kept_for_the_process`] what the thread is and offers the glob that waives it and
//! nothing else.
//!
//! A thread is waived when the test's `ignore_threads` globs name it (its OS name or
//! a function that created it), or, with the default lists on, when it is kept for
//! the process: a well-known pool, a creator the lists or their rules name (on the
//! creating stack, or on its creator's: a reactor made in a `OnceLock` that starts
//! workers later), or, where the tracker never saw it made, a well-known pool's
//! thread name.

use super::creators::creator_glob;
use super::{is_process_scoped_creator, ThreadOrigin, PROCESS_SCOPED_THREAD_NAMES};
use crate::os::threads::{name_may_be_cut, thread_name};
use crate::text::glob::{glob_matches, glob_matches_start};

/// What a test waives besides nothing: its `ignore_threads` globs (each matched
/// against OS names and creating functions) and whether the default lists apply.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Waivers<'a> {
    /// The test's `ignore_threads` and `IRIS_IGNORE_THREADS` globs.
    pub(crate) globs: &'a [String],
    /// Whether threads kept for the process are waived (the default).
    pub(crate) defaults: bool,
}

impl Waivers<'_> {
    /// Whether a glob names `name`, a thread's name as the OS keeps it.
    pub(crate) fn name(&self, name: &str) -> bool {
        self.globs.iter().any(|glob| os_name_matches(glob, name))
    }

    /// Whether a glob names `function`, one a thread was created through.
    fn function(&self, function: &str) -> bool {
        self.globs.iter().any(|glob| glob_matches(glob, function))
    }
}

/// The quick look, for a live thread `tid` that may still end by itself: its OS
/// name, and its creating functions as the executable's symbol table knows them.
/// Debug information (which also knows inlined functions) costs half a second to
/// load, so this look never reads it: a pool the test built and dropped ends while
/// it is being waited for, and nobody pays for describing it.
pub(crate) fn waived_at_a_glance(tid: u32, waivers: &Waivers<'_>) -> bool {
    // Where the tracker does not know a thread, nothing says where it was made:
    // well-known pools are told by their threads' names instead.
    thread_name(tid).is_some_and(|name| {
        waivers.name(&name)
            || (waivers.defaults
                && !super::knows(tid)
                && PROCESS_SCOPED_THREAD_NAMES
                    .iter()
                    .any(|glob| os_name_matches(glob, &name)))
    }) || (!waivers.globs.is_empty() && super::created_through(tid, waivers.globs))
        || (waivers.defaults && super::process_scoped(tid))
}

/// The whole look, for a thread still alive when the wait is over: whether a
/// function of its creating stack as debug information knows it (inlined ones
/// included) is named by a glob or, with the defaults on, is a creator of what
/// lives for the process.
pub(crate) fn waived_by_origin(origin: &ThreadOrigin, waivers: &Waivers<'_>) -> bool {
    origin.functions.iter().any(|f| waivers.function(f))
        || (waivers.defaults && kept_creator(origin).is_some())
}

/// Whether `name`, a thread's name as the OS keeps it, matches `glob`, which may be
/// written for the whole name: a name the OS may have cut matches when some name it
/// begins would, if the glob begins with its own text. A glob that begins with `*`
/// (`*::global_registry`, written for a function) would match the start of any
/// name, so a cut one must match it whole, as before: that would waive every
/// thread whose name the OS cut.
pub(crate) fn os_name_matches(glob: &str, name: &str) -> bool {
    glob_matches(glob, name)
        || (name_may_be_cut(name) && !glob.starts_with('*') && glob_matches_start(glob, name))
}

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
    fn a_glob_for_a_whole_name_matches_the_os_cut_of_it() {
        let globs = ["my-long-pool-worker-*".to_string()];
        let waivers = Waivers {
            globs: &globs,
            defaults: true,
        };
        // What Linux keeps of "my-long-pool-worker-3": its first 15 bytes.
        if cfg!(target_os = "linux") {
            assert!(waivers.name("my-long-pool-wo"));
            assert!(os_name_matches("async-std/runtime", "async-std/runti"));
        }
        assert!(waivers.name("my-long-pool-worker-3"), "a whole name too");
        // Shorter than the limit: the OS kept it whole, so it is not a cut.
        assert!(!waivers.name("my-long-pool-w"));
        assert!(!waivers.name("my-other-pool-w"));
        // A function's name is never taken for a cut.
        assert!(!waivers.function("my-long-pool-wo"));
        // A glob that begins with `*` says nothing about a name's start: a cut name
        // (here a test thread's, which its unnamed threads inherit) must match it
        // whole, or every thread the OS cut would be waived.
        let globs = ["*start_leaky_worker".to_string(), "*::run".to_string()];
        let functions = Waivers {
            globs: &globs,
            defaults: true,
        };
        assert!(!functions.name("scenarios::an_i"));
        assert!(!os_name_matches("*-worker-*", "tokio-runtime-w"));
    }

    #[test]
    fn an_origin_is_waived_by_a_glob_or_by_a_creator_the_lists_name() {
        let lazy = origin(&[
            "std::thread::lifecycle::spawn_unchecked",
            "my_crate::io::IoPool::global::{{closure}}",
            "my_crate::handler",
        ]);
        let forgotten = origin(&[
            "std::thread::lifecycle::spawn_unchecked",
            "my_crate::watcher::Watcher::start",
            "my_crate::t",
        ]);
        let none: [String; 0] = [];
        let defaults = Waivers {
            globs: &none,
            defaults: true,
        };
        assert!(waived_by_origin(&lazy, &defaults));
        assert!(!waived_by_origin(&forgotten, &defaults));
        let off = Waivers {
            globs: &none,
            defaults: false,
        };
        assert!(
            !waived_by_origin(&lazy, &off),
            "the lists off waive nothing"
        );
        let globs = ["my_crate::watcher::*".to_string()];
        let named = Waivers {
            globs: &globs,
            defaults: false,
        };
        assert!(waived_by_origin(&forgotten, &named));
        assert!(!waived_by_origin(&lazy, &named));
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
