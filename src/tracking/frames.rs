#![cfg_attr(not(iris_tracking), allow(dead_code))]
//! Turning raw return addresses into what a report says: [`Frame`]s, the creation
//! site of a thread, where a live thread is now, and whether a panic was caught
//! inside its thread.
//!
//! Resolution (symbol names, files and lines from the binary's debug information)
//! is slow the first time (the debug information is loaded) and never done on a hot
//! path: only when a report needs it.
//!
//! What counts as "the user's code" is decided by the function's path: std, core,
//! alloc, Iris, the unwinder and libc are plumbing; so are the libraries that create
//! threads on a user's behalf (tokio, rayon, crossbeam's scopes), so that a creation
//! site is the user's call that led there.

use std::fmt;

/// One frame of a stack, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The function, demangled, without its hash (inlined functions have frames of
    /// their own).
    pub function: String,
    /// Its source file, when the binary has debug information.
    pub file: Option<String>,
    /// The line in `file`.
    pub line: Option<u32>,
}

impl Frame {
    /// `FILE:LINE`, when known.
    pub fn location(&self) -> Option<String> {
        let file = self.short_file()?;
        Some(match self.line {
            Some(line) => format!("{file}:{line}"),
            None => file.to_string(),
        })
    }

    /// The source file as reports write it: relative to the package when it is in
    /// it, `crate-version/src/file.rs` for a dependency, `library/std/src/...` for std;
    /// never a path into the local crate cache or the toolchain.
    pub fn short_file(&self) -> Option<&str> {
        self.file.as_deref().map(short_path)
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location() {
            Some(location) => write!(f, "{location} in {}", self.function),
            None => write!(f, "{}", self.function),
        }
    }
}

/// A path as a user reads it: relative to the current directory (the package) when
/// it is inside it; a dependency from the crate cache as `crate-version/src/...`
/// (`.../registry/src/<index>/crate-version/...`), a git checkout's file by its path
/// inside the checkout (`.../git/checkouts/<repo>/<rev>/src/...`); std's sources
/// from `library/` on, without the toolchain's prefix (whatever that prefix is).
pub(crate) fn short_path(file: &str) -> &str {
    if let Ok(dir) = std::env::current_dir() {
        if let Some(dir) = dir.to_str() {
            if let Some(rest) = file.strip_prefix(dir) {
                return rest.trim_start_matches('/');
            }
        }
    }
    match Source::of(file) {
        Source::Registry { package, .. } => package,
        Source::GitCheckout { inner } => inner,
        Source::Toolchain {
            library: Some(library),
        } => library,
        Source::Toolchain { library: None } => file,
        // A toolchain installed elsewhere (a distribution's) is known by its
        // `library/` alone.
        Source::Local => file.find("/library/").map_or(file, |at| &file[at + 1..]),
    }
}

/// Where a source file comes from, as its path says: the one reader of the path
/// markers that [`short_path`], [`package_source`] and [`is_foreign_file`] go by.
#[derive(Debug, PartialEq, Eq)]
enum Source<'a> {
    /// A registry dependency in cargo's crate cache: `package` is the path from its
    /// `name-version` directory on, `inner` the path inside that directory.
    Registry { package: &'a str, inner: &'a str },
    /// A git dependency's checkout in cargo's crate cache; `inner` is the path inside
    /// the checkout.
    GitCheckout { inner: &'a str },
    /// The toolchain's sources; `library` is the path from `library/` on, where the
    /// path has one (`library/std/src/thread/mod.rs`).
    Toolchain { library: Option<&'a str> },
    /// Everything else: the workspace's crates and path dependencies.
    Local,
}

impl<'a> Source<'a> {
    fn of(file: &'a str) -> Source<'a> {
        if let Some(at) = file.find("/registry/src/") {
            // `<index>/name-version/inner`
            let after_index = file[at + "/registry/src/".len()..]
                .split_once('/')
                .map(|(_index, rest)| rest);
            if let Some(package) = after_index {
                let inner = package.split_once('/').map_or("", |(_, inner)| inner);
                return Source::Registry { package, inner };
            }
        }
        if let Some(at) = file.find("/git/checkouts/") {
            // `<repo>/<rev>/inner`
            let mut inner = &file[at + "/git/checkouts/".len()..];
            for _ in 0..2 {
                inner = inner.split_once('/').map_or(inner, |(_, rest)| rest);
            }
            return Source::GitCheckout { inner };
        }
        if file.starts_with("/rustc/") || file.contains("/lib/rustlib/src/") {
            let library = file.find("/library/").map(|at| &file[at + 1..]);
            return Source::Toolchain { library };
        }
        Source::Local
    }
}

/// Path prefixes of code that is not the user's.
const PLUMBING: &[&str] = &[
    "std::",
    "core::",
    "alloc::",
    "iris::",
    "backtrace::",
    "panic_unwind::",
    "test::",
    "tokio::",
    "rayon_core::",
    "rayon::",
    "crossbeam_utils::",
    "crossbeam_channel::",
    "parking_lot",
    "lock_api::",
    "futures_",
    "mio::",
    "tracing::",
    "tracing_core::",
    "__rust",
    "rust_begin_unwind",
    "_Unwind",
];

/// C functions of libc and the loader (no `::` in their names).
fn is_c_plumbing(name: &str) -> bool {
    !name.contains("::")
}

/// Whether a frame is plumbing (see the module doc).
pub(crate) fn is_plumbing(function: &str) -> bool {
    if is_c_plumbing(function) {
        return true;
    }
    // `<T as Trait>::f`: the type decides; a generic parameter (`<F as
    // core::ops::FnOnce>`) is a closure call shim.
    let path = function.trim_start_matches('<');
    if function.starts_with('<') {
        let ty = path.split(" as ").next().unwrap_or(path);
        if !ty.contains("::") && function.contains(" as core::ops::function::") {
            return true;
        }
    }
    PLUMBING.iter().any(|prefix| path.starts_with(prefix))
}

/// The crate a source file belongs to, where its path says: a registry dependency
/// (`.../registry/src/<index>/tracing-core-0.1.36/...` is `tracing_core`), the
/// toolchain's (`/rustc/<hash>/library/std/...` is `std`), or Iris's own sources.
///
/// Why: debug information built with `debug = "line-tables-only"` (a common setting
/// for dependencies, `[profile.dev.package."*"]`, as it builds faster) names an
/// inlined function without its path (`trace_unsynchronized<..>`, not
/// `backtrace::backtrace::trace_unsynchronized<..>`), so its name alone cannot say
/// whose it is; its file still can.
fn crate_of_file(file: &str) -> Option<String> {
    package_source(file).map(|(krate, _)| krate)
}

/// The crate a source file belongs to (see [`crate_of_file`]) and the file's path
/// inside its package (`src/runtime/task/raw.rs`).
fn package_source(file: &str) -> Option<(String, &str)> {
    // Iris's own, wherever it is (as a path dependency it is `Local`).
    const IRIS_PACKAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/");
    if let Some(inner) = file.strip_prefix(IRIS_PACKAGE) {
        return inner
            .starts_with("src/")
            .then(|| ("iris".to_string(), inner));
    }
    match Source::of(file) {
        Source::Registry { package, inner } => {
            let (name_version, _) = package.split_once('/')?;
            // `name-version`: the version starts at the first `-` followed by a digit.
            let end = name_version
                .char_indices()
                .find(|&(i, c)| {
                    c == '-' && name_version[i + 1..].starts_with(|d: char| d.is_ascii_digit())
                })
                .map_or(name_version.len(), |(i, _)| i);
            Some((name_version[..end].replace('-', "_"), inner))
        }
        Source::Toolchain { library } => {
            let (krate, inner) = library?.strip_prefix("library/")?.split_once('/')?;
            Some((krate.replace('-', "_"), inner))
        }
        Source::GitCheckout { .. } | Source::Local => None,
    }
}

/// A function's name with its path, where the debug information left the path out
/// (line tables only, for an inlined function) and its file says it: the crate and
/// the module its file is (`poll` in `tokio-1.48.0/src/runtime/task/raw.rs` is
/// `tokio::runtime::task::raw::poll`). A method's type cannot be told from the file,
/// so `Pool::spawn` reads `krate::pool::spawn`: globs written for a module
/// (`krate::pool::*`) still match it. Anything else is left as it is.
pub(crate) fn with_path(function: String, file: Option<&str>) -> String {
    let Some(file) = file.filter(|f| f.ends_with(".rs")) else {
        return function;
    };
    let bare = function.split('<').next().unwrap_or(&function);
    if bare.contains("::") || bare.is_empty() {
        return function;
    }
    let Some((krate, rest)) = package_source(file) else {
        return function;
    };
    let Some(module) = rest
        .strip_prefix("src/")
        .and_then(|m| m.strip_suffix(".rs"))
    else {
        return function;
    };
    let mut path: Vec<&str> = module.split('/').collect();
    if path.last() == Some(&"mod") || (path.len() == 1 && matches!(path[0], "lib" | "main")) {
        path.pop();
    }
    let mut qualified = krate;
    for segment in path {
        qualified.push_str("::");
        qualified.push_str(segment);
    }
    format!("{qualified}::{function}")
}

/// Whether a frame is a C function's (libc's, the loader's): no path in its name,
/// and no Rust source file (a Rust function named without its path has one).
fn is_c_frame(frame: &Frame) -> bool {
    is_c_plumbing(&frame.function) && !frame.file.as_deref().is_some_and(|f| f.ends_with(".rs"))
}

/// Whether a frame is plumbing (see the module doc), by its function's path or,
/// where the name has none, by the crate its file is in.
pub(crate) fn is_plumbing_frame(frame: &Frame) -> bool {
    let plumbing_crate = || {
        frame
            .file
            .as_deref()
            .and_then(crate_of_file)
            .is_some_and(|krate| {
                let path = format!("{krate}::");
                PLUMBING.iter().any(|prefix| path.starts_with(prefix))
            })
    };
    let rust_source = frame.file.as_deref().is_some_and(|f| f.ends_with(".rs"));
    if rust_source && !frame.function.contains("::") {
        // A Rust function named without its path, not a C one: its file decides.
        return plumbing_crate();
    }
    is_plumbing(&frame.function) || plumbing_crate()
}

/// Whether a source file is a dependency's or the toolchain's: in cargo's crate
/// cache (a registry or a git checkout) or in std's sources. The workspace's own
/// crates (and path dependencies) are everything else.
fn is_foreign_file(file: &str) -> bool {
    matches!(
        Source::of(file),
        Source::Registry { .. } | Source::GitCheckout { .. } | Source::Toolchain { .. }
    )
}

/// Whether a frame is the user's code: not plumbing by name, and (where the binary
/// says) not from a dependency's or the toolchain's sources.
pub(crate) fn is_user_frame(frame: &Frame) -> bool {
    !is_plumbing_frame(frame) && !frame.file.as_deref().is_some_and(is_foreign_file)
}

/// The first frame of the user's code, innermost first.
pub(crate) fn first_user_frame(frames: &[Frame]) -> Option<&Frame> {
    frames.iter().find(|f| !is_plumbing_frame(f))
}

/// Where a live thread is: the frames from where the signal interrupted it, with the
/// sampling machinery (everything up to the signal trampoline) cut off.
pub(crate) fn interrupted_frames(mut frames: Vec<Frame>) -> Vec<Frame> {
    let handler = frames
        .iter()
        .position(|f| f.function == "__restore_rt")
        .or_else(|| {
            // No name for the signal trampoline: it is the frame after the handler.
            frames
                .iter()
                .position(|f| {
                    f.function
                        .ends_with("tracking::hooks::sampling::on_sample_signal")
                })
                .map(|i| i + 1)
        });
    if let Some(end) = handler {
        frames.drain(..=end.min(frames.len().saturating_sub(1)));
    }
    frames
}

/// A live stack summarised: the call it is blocked in (the frame just inside the
/// first user frame) and up to `depth` user frames from there out.
pub(crate) fn summarise_live(frames: &[Frame], depth: usize) -> Vec<Frame> {
    let Some(first_user) = frames.iter().position(is_user_frame) else {
        // All plumbing (a runtime's idle worker, or a thread whose own closure the
        // optimiser inlined): where in it, up to the thread's start. Beyond std's
        // `__rust_begin_short_backtrace` (which runs the thread's closure) every
        // thread's stack is the same std and Iris start-up: noise in a report.
        return frames
            .iter()
            .take_while(|f| !is_thread_start(&f.function))
            .filter(|f| !is_c_frame(f))
            .take(depth)
            .cloned()
            .collect();
    };
    let mut out = Vec::new();
    // The API the user called, e.g. `std::thread::park` or a channel's `recv`.
    if let Some(api) = frames[..first_user].iter().rev().find(|f| !is_c_frame(f)) {
        out.push(api.clone());
    }
    out.extend(
        frames[first_user..]
            .iter()
            .filter(|f| is_user_frame(f))
            .take(depth)
            .cloned(),
    );
    out
}

/// Whether a frame is where a thread's start-up hands over to its closure: std's
/// marker for short backtraces (`std::sys::backtrace::__rust_begin_short_backtrace`,
/// generic, so written with or without its parameters).
pub(crate) fn is_thread_start(function: &str) -> bool {
    function.starts_with("std::sys::backtrace::__rust_begin_short_backtrace")
}

/// How many `catch_unwind`s enclose a panic, from its stack's frames. Every Rust
/// thread has one (std's, around the thread's main); a second one belongs to code
/// inside the thread that catches panics (a pool, a runtime, the user's own), so the
/// panic did not end the thread.
pub(crate) fn catch_frames(frames: &[Frame]) -> usize {
    frames
        .iter()
        .filter(|f| f.function.contains("panicking::") && f.function.ends_with("::do_call"))
        .count()
}

/// Names for well-known process-wide pools, from a creation stack's functions:
/// (what it is, the glob that ignores it).
pub(crate) fn known_pool(functions: &[String]) -> Option<(&'static str, &'static str)> {
    // One glob for both ways rayon's global pool comes to be: on first use
    // (`global_registry`) and by `ThreadPoolBuilder::build_global`
    // (`init_global_registry`).
    const RAYON_GLOBAL: &str = "rayon_core::registry::*global_registry";
    const POOLS: &[(&str, &str, &str)] = &[
        (
            "rayon_core::registry::global_registry",
            "rayon's global thread pool, created on first use and kept for the process",
            RAYON_GLOBAL,
        ),
        (
            "rayon_core::registry::init_global_registry",
            "rayon's global thread pool, kept for the process",
            RAYON_GLOBAL,
        ),
    ];
    for (function, what, glob) in POOLS {
        if functions.iter().any(|f| f == function) {
            return Some((what, glob));
        }
    }
    // Any thread made inside a one-time initializer lives for the process.
    let once = functions.iter().find(|f| {
        f.starts_with("std::sync::once_lock::OnceLock")
            || f.starts_with("std::sync::lazy_lock::LazyLock")
            || f.starts_with("once_cell::")
            || f.starts_with("std::sync::once::Once::call_once")
    });
    once.map(|_| {
        (
            "a pool made inside a one-time initializer, so probably kept for the process",
            "",
        )
    })
}

/// Resolves raw return addresses into frames, innermost first (inlined functions
/// give several frames for one address).
#[cfg(iris_tracking)]
pub(crate) fn resolve(ips: &[usize]) -> Vec<Frame> {
    let mut frames = Vec::new();
    for ip in ips {
        let before = frames.len();
        for place in super::debug_info::places(*ip) {
            let function = place.function.unwrap_or_else(|| "?".to_string());
            frames.push(Frame {
                function: with_path(function, place.file.as_deref()),
                file: place.file,
                line: place.line,
            });
        }
        if frames.len() == before {
            frames.push(Frame {
                function: format!("{ip:#x}"),
                file: None,
                line: None,
            });
        }
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: &str, line: u32) -> Frame {
        Frame {
            function: function.into(),
            file: Some(file.into()),
            line: Some(line),
        }
    }

    #[test]
    fn plumbing_is_std_iris_runtimes_closure_shims_and_c() {
        for plumbing in [
            "std::thread::park",
            "<std::thread::Builder>::spawn_unchecked_::{{closure}}",
            "<F as core::ops::function::FnOnce<()>>::call_once",
            "iris::tracking::hooks::pthread_create",
            "tokio::runtime::blocking::pool::Spawner::spawn_thread",
            "rayon_core::registry::Registry::new",
            "syscall",
            "__restore_rt",
        ] {
            assert!(is_plumbing(plumbing), "{plumbing}");
        }
        for user in [
            "leaky::start_worker",
            "<my_crate::Server as core::ops::drop::Drop>::drop",
            "my_crate::run::{{closure}}",
        ] {
            assert!(!is_plumbing(user), "{user}");
        }
    }

    #[test]
    fn a_file_names_its_crate_where_the_path_says() {
        let registry = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        for (file, krate) in [
            (
                format!("{registry}/tracing-core-0.1.36/src/lib.rs"),
                Some("tracing_core"),
            ),
            (
                format!("{registry}/backtrace-0.3.77/src/backtrace/mod.rs"),
                Some("backtrace"),
            ),
            (
                format!("{registry}/iris-1.2.0-rc.1/src/lib.rs"),
                Some("iris"),
            ),
            (
                "/rustc/59807616/library/std/src/thread/mod.rs".into(),
                Some("std"),
            ),
            (
                "/home/u/.rustup/toolchains/stable/lib/rustlib/src/rust/library/core/src/ops.rs"
                    .into(),
                Some("core"),
            ),
            (
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/src/tracking/hooks/sampling.rs"
                )
                .into(),
                Some("iris"),
            ),
            ("/home/u/my_crate/src/lib.rs".into(), None),
            ("/home/u/my_crate/library/src/lib.rs".into(), None),
        ] {
            assert_eq!(crate_of_file(&file).as_deref(), krate, "{file}");
        }
    }

    #[test]
    fn a_path_is_shortened_to_what_says_where_it_is() {
        let registry = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        let here = std::env::current_dir().unwrap();
        for (file, short) in [
            (
                format!("{registry}/tokio-1.48.0/src/runtime/task/raw.rs"),
                "tokio-1.48.0/src/runtime/task/raw.rs",
            ),
            (
                "/root/.cargo/git/checkouts/rayon-4a3b/1f2e3d4/rayon-core/src/lib.rs".into(),
                "rayon-core/src/lib.rs",
            ),
            (
                "/rustc/59807616/library/std/src/thread/mod.rs".into(),
                "library/std/src/thread/mod.rs",
            ),
            (
                "/home/u/.rustup/toolchains/stable/lib/rustlib/src/rust/library/core/src/ops.rs"
                    .into(),
                "library/core/src/ops.rs",
            ),
            (
                "/usr/src/rustc-1.96.0/library/std/src/panicking.rs".into(),
                "library/std/src/panicking.rs",
            ),
            (format!("{}/tests/t.rs", here.display()), "tests/t.rs"),
            (
                "/elsewhere/my_crate/src/lib.rs".into(),
                "/elsewhere/my_crate/src/lib.rs",
            ),
        ] {
            assert_eq!(short_path(&file), short, "{file}");
        }
    }

    #[test]
    fn dependencies_and_the_toolchain_are_foreign_the_workspace_is_not() {
        let registry = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        for foreign in [
            format!("{registry}/tokio-1.48.0/src/runtime/task/raw.rs"),
            "/root/.cargo/git/checkouts/rayon-4a3b/1f2e3d4/rayon-core/src/lib.rs".into(),
            "/rustc/59807616/library/std/src/thread/mod.rs".into(),
            "/home/u/.rustup/toolchains/stable/lib/rustlib/src/rust/library/core/src/ops.rs".into(),
        ] {
            assert!(is_foreign_file(&foreign), "{foreign}");
        }
        for own in [
            "/home/u/my_crate/src/lib.rs",
            "/home/u/my_crate/library/src/lib.rs",
            "tests/t.rs",
        ] {
            assert!(!is_foreign_file(own), "{own}");
        }
    }

    #[test]
    fn a_function_named_without_its_path_gets_its_files_module() {
        let registry = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        for (function, file, expected) in [
            (
                "global_registry",
                format!("{registry}/rayon-core-1.13.0/src/registry.rs"),
                "rayon_core::registry::global_registry",
            ),
            (
                "poll<T, S>",
                format!("{registry}/tokio-1.48.0/src/runtime/task/raw.rs"),
                "tokio::runtime::task::raw::poll<T, S>",
            ),
            (
                "{closure#0}",
                format!("{registry}/tiny_http-0.12.0/src/util/task_pool/mod.rs"),
                "tiny_http::util::task_pool::{closure#0}",
            ),
            (
                "new",
                format!("{registry}/r2d2-0.8.10/src/lib.rs"),
                "r2d2::new",
            ),
            (
                "park",
                "/rustc/59807616/library/std/src/thread/functions.rs".into(),
                "std::thread::functions::park",
            ),
            // Already with a path, a user's file, a C function: as they are.
            (
                "std::thread::park",
                "/rustc/59807616/library/std/src/thread/functions.rs".into(),
                "std::thread::park",
            ),
            (
                "trace<iris::tracking::hooks::own_stack>",
                format!("{registry}/backtrace-0.3.77/src/backtrace/mod.rs"),
                "backtrace::backtrace::trace<iris::tracking::hooks::own_stack>",
            ),
            (
                "start_worker",
                "/home/u/my_crate/src/lib.rs".into(),
                "start_worker",
            ),
            (
                "start_thread",
                "./nptl/pthread_create.c".into(),
                "start_thread",
            ),
        ] {
            assert_eq!(with_path(function.into(), Some(&file)), expected, "{file}");
        }
        assert_eq!(with_path("clone3".into(), None), "clone3");
        // So a default list's glob for a module matches an inlined frame there.
        let pool = with_path(
            "spawn".into(),
            Some(&format!(
                "{registry}/tiny_http-0.12.0/src/util/task_pool.rs"
            )),
        );
        assert!(crate::text::glob::glob_matches(
            "*tiny_http::util::task_pool::*",
            &pool
        ));
        assert_eq!(
            known_pool(&[with_path(
                "global_registry".into(),
                Some(&format!("{registry}/rayon-core-1.13.0/src/registry.rs")),
            )])
            .map(|(_, glob)| glob),
            Some("rayon_core::registry::*global_registry")
        );
    }

    /// With `debug = "line-tables-only"` for dependencies, an inlined function is
    /// named without its path; until 2026-12-04 a creation site then read
    /// `created at backtrace-0.3.77/src/backtrace/mod.rs:66 in trace_unsynchronized<..>`.
    #[test]
    fn a_creation_site_skips_plumbing_named_without_its_path() {
        let registry = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        let frames = vec![
            frame(
                "trace_unsynchronized<iris::tracking::hooks::own_stack::{closure_env#0}>",
                &format!("{registry}/backtrace-0.3.77/src/backtrace/mod.rs"),
                66,
            ),
            frame(
                "own_stack",
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/src/tracking/hooks/sampling.rs"
                ),
                200,
            ),
            frame(
                "spawn<async_io::reactor::Reactor::get::{closure#0}, ()>",
                "/rustc/59807616/library/std/src/thread/functions.rs",
                125,
            ),
            frame(
                "get",
                &format!("{registry}/async-io-2.6.0/src/reactor.rs"),
                110,
            ),
            frame("my_crate::start", "/home/u/my_crate/src/lib.rs", 7),
        ];
        // A library that makes a thread on the user's behalf is where it was made.
        assert_eq!(first_user_frame(&frames).unwrap().function, "get");
        assert!(is_plumbing_frame(&frames[0]) && is_plumbing_frame(&frames[1]));
        assert!(is_plumbing_frame(&frames[2]));
        assert!(!is_plumbing_frame(&frames[3]) && !is_plumbing_frame(&frames[4]));
        // The user's own code is the first frame neither plumbing nor a dependency's.
        assert_eq!(
            summarise_live(&frames, 3)
                .iter()
                .map(|f| f.function.as_str())
                .collect::<Vec<_>>(),
            ["get", "my_crate::start"]
        );
    }

    #[test]
    fn a_live_stack_reads_as_the_call_it_is_in_then_the_users_frames() {
        let frames = vec![
            frame("on_sample_signal", "hooks.rs", 1),
            frame("__restore_rt", "sigaction.c", 1),
            frame("syscall", "syscall.S", 1),
            frame(
                "std::sys::sync::thread_parking::futex::Parker::park",
                "futex.rs",
                1,
            ),
            frame("std::thread::park", "thread/mod.rs", 1),
            frame("leaky::worker", "tests/leaky.rs", 12),
            frame(
                "<F as core::ops::function::FnOnce<()>>::call_once",
                "function.rs",
                1,
            ),
            frame("leaky::start", "tests/leaky.rs", 30),
            frame(
                "std::thread::Builder::spawn_unchecked_::{{closure}}",
                "thread/mod.rs",
                1,
            ),
        ];
        let live = summarise_live(&interrupted_frames(frames), 3);
        let names: Vec<&str> = live.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(
            names,
            ["std::thread::park", "leaky::worker", "leaky::start"]
        );
        assert_eq!(live[1].location().as_deref(), Some("tests/leaky.rs:12"));
    }

    /// A release build without debug information: the thread's closure is inlined
    /// into std's start-up, so no frame is the user's. The report shows the call it
    /// is blocked in, not the start-up every thread shares (seen on hyper-util:
    /// `__rust_begin_short_backtrace`, a vtable shim, `thread_start` and Iris's
    /// trampoline, listed as "called from").
    #[test]
    fn an_all_plumbing_live_stack_stops_at_the_threads_start() {
        let frames = vec![
            frame("on_sample_signal", "hooks.rs", 1),
            frame("__restore_rt", "sigaction.c", 1),
            frame("accept4", "accept4.c", 1),
            frame("<std::net::tcp::TcpListener>::accept", "tcp.rs", 1),
            frame(
                "std::sys::backtrace::__rust_begin_short_backtrace",
                "backtrace.rs",
                1,
            ),
            frame(
                "core::ops::function::FnOnce::call_once{{vtable.shim}}",
                "function.rs",
                1,
            ),
            frame(
                "<std::sys::thread::unix::Thread>::new::thread_start",
                "unix.rs",
                1,
            ),
            frame("iris::tracking::hooks::trampoline", "hooks.rs", 1),
            frame("start_thread", "pthread_create.c", 1),
        ];
        let live = summarise_live(&interrupted_frames(frames), 3);
        let names: Vec<&str> = live.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, ["<std::net::tcp::TcpListener>::accept"]);

        // A runtime's idle worker still says where in the runtime it waits.
        let idle = vec![
            frame("syscall", "syscall.S", 1),
            frame("tokio::runtime::park::Inner::park", "park.rs", 1),
            frame("tokio::runtime::blocking::pool::Inner::run", "pool.rs", 1),
            frame(
                "std::sys::backtrace::__rust_begin_short_backtrace::<tokio::F, ()>",
                "backtrace.rs",
                1,
            ),
            frame("iris::tracking::hooks::trampoline", "hooks.rs", 1),
        ];
        let live = summarise_live(&idle, 3);
        let names: Vec<&str> = live.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(
            names,
            [
                "tokio::runtime::park::Inner::park",
                "tokio::runtime::blocking::pool::Inner::run"
            ]
        );
    }

    #[test]
    fn a_panic_inside_a_catch_is_told_from_one_that_ends_the_thread() {
        let std_main = frame("std::panicking::catch_unwind::do_call", "panicking.rs", 1);
        let pool = frame("std::panicking::try::do_call", "panicking.rs", 1);
        let user = frame("leaky::boom", "tests/leaky.rs", 3);
        assert_eq!(catch_frames(&[user.clone(), std_main.clone()]), 1);
        assert_eq!(catch_frames(&[user, pool, std_main]), 2);
    }

    #[test]
    fn rayons_global_pool_and_one_time_initializers_are_recognised() {
        let rayon = vec![
            "rayon_core::registry::Registry::new".to_string(),
            "rayon_core::registry::global_registry".to_string(),
        ];
        let glob = known_pool(&rayon).map(|(_, glob)| glob).unwrap();
        let built = vec!["rayon_core::registry::init_global_registry".to_string()];
        assert_eq!(known_pool(&built).map(|(_, glob)| glob), Some(glob));
        // The glob it names covers both ways the global pool is made.
        for function in [&rayon[1], &built[0]] {
            assert!(
                crate::text::glob::glob_matches(glob, function),
                "{glob} {function}"
            );
        }
        let lazy = vec!["std::sync::once_lock::OnceLock<T>::initialize".to_string()];
        assert!(known_pool(&lazy).is_some());
        assert!(known_pool(&["my::pool::new".to_string()]).is_none());
    }
}
