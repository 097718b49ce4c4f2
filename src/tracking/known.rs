//! What Iris knows of other crates' threads, as data: which functions make threads
//! that live for the process (a pool, a reactor, a logger a static keeps), the names
//! those threads carry, and the rules, written as globs over function names, that
//! recognise the same kinds in crates nobody listed. Each entry says where it was
//! read (crate, versions, file and line) in one line; docs/known-threads.md is the
//! same table for readers (a test keeps the two equal).
//!
//! Invariants:
//! - An entry waives a thread only as the process's: it never hides a thread that a
//!   test's own object owns and should have ended. Entries for threads owned by an
//!   object (`Kept::Object`) only say how to end them.
//! - Every entry has its provenance; an entry nobody could read in source says so
//!   (`unverified`).
//! - A rule names a *kind* of function (a lazy value's, a global accessor's, a
//!   pool's hand-out), never a crate, and is checked against every true leak the
//!   real suites know (scripts/real-suites.py).

use std::sync::LazyLock;

/// How long a known thread lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    /// For the process: a static keeps it (a global pool, a reactor, a logger). Never
    /// a test's leak.
    Process,
    /// By an object: it ends when the object is dropped or shut down, as the text
    /// says. A leftover one is a leak, and the text is its fix.
    Object(&'static str),
}

/// One kind of thread another crate starts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Known {
    /// A glob over the function that makes it, as a creating stack names it
    /// (demangled, without hashes); empty when only its name tells.
    pub(crate) creator: &'static str,
    /// Globs over the names it carries (as the OS keeps them: Linux cuts at 15
    /// bytes); empty when it is unnamed (it then carries its creator's name).
    pub(crate) names: &'static [&'static str],
    pub(crate) kept: Kept,
    /// Where this was read: crate, versions, file:line, and why it lives so.
    #[cfg_attr(not(test), allow(dead_code))] // read by docs/known-threads.md's test
    pub(crate) from: &'static str,
}

const fn process(
    creator: &'static str,
    names: &'static [&'static str],
    from: &'static str,
) -> Known {
    Known {
        creator,
        names,
        kept: Kept::Process,
        from,
    }
}

const fn object(creator: &'static str, fix: &'static str, from: &'static str) -> Known {
    Known {
        creator,
        names: &[],
        kept: Kept::Object(fix),
        from,
    }
}

/// Threads of other crates, surveyed from their sources (2026-12: 109 crates read,
/// 79 of which start threads; the survey's notes are in docs/known-threads.md).
pub(crate) const KNOWN: &[Known] = &[
    // One-time initializers: anything made inside one lives for the process.
    process("*std::sys::sync::once::*", &[], "std: Once, under OnceLock, LazyLock, Once::call_once and lazy_static; library/std/src/sys/sync/once (its slow path is never inlined)"),
    process("once_cell::imp::*", &[], "once_cell 1.x: OnceCell/Lazy's initialization, src/imp_std.rs"),
    process("*parking_lot::once::*", &[], "parking_lot 0.12: Once::call_once, src/once.rs"),
    // Global pools started on first use.
    process("rayon_core::registry::*global_registry", &[], "rayon-core 1.0-1.13: the global pool, made under THE_REGISTRY_SET.call_once, src/registry.rs:195 (rayon, criterion, sysinfo, jwalk, image use it)"),
    process("*blocking::Executor*", &["blocking-*"], "blocking 1.x: smol's pool in a static EXECUTOR, grown on demand by whichever thread hands it work, src/lib.rs (threads end 500 ms idle)"),
    process("async_global_executor::threading::*", &["async-global-executor-*", "async-std/runtime"], "async-global-executor 2-3.1: spawn_more_threads, src/threading.rs:42, guarded by a static INIT_DONE (async-std's runtime)"),
    process("*smol::spawn::*global*", &["smol-*"], "smol 2.0.2: the global executor's threads, made in GLOBAL.get_or_init_blocking, src/spawn.rs:47"),
    process("", &["async-io"], "async-io 2.x: its reactor thread, made in UNPARKER.get_or_init, src/driver.rs:29 (the once rule knows its creator)"),
    process("*async_process::Reaper*::start_driver_thread*", &["async-process"], "async-process 2.5.0: the reaper thread, started once by the first child anyone spawns, guarded by an atomic, src/lib.rs:150"),
    process("ctrlc::*", &["ctrl-c"], "ctrlc 3.5.1: set_handler_inner's handler thread, lives for the process, src/lib.rs:137"),
    process("*futures_timer::native::*", &["futures-timer"], "futures-timer 3.0.4: the global timer thread, made by the first Delay, guarded by an atomic, src/native/global.rs:26"),
    // Loggers, exporters and consoles installed for the process.
    process("*flexi_logger::*", &["flexi_logger-*"], "flexi_logger 0.29-0.31: flushers, writers and cleanup threads live as long as the logger, src/threads.rs:38,64"),
    process("*log4rs::config::file::ConfigReloader::start*", &["log4rs refresh"], "log4rs 1.4: the config refresher, started with the global logger, src/config/file.rs:188"),
    process("*metrics_exporter_prometheus::*::install", &["metrics-exporter-prometheus-*"], "metrics-exporter-prometheus 0.18.3: install's listener, installed with the global recorder (a second install fails), src/exporter/builder.rs"),
    process("*metrics_exporter_dogstatsd::*::build*", &["metrics-exporter-dogstatsd-*"], "metrics-exporter-dogstatsd 0.9.8: the forwarder, which never ends, src/builder.rs:377"),
    process("*console_subscriber::builder::Builder::spawn*", &["console_subscriber"], "console-subscriber 0.5.0: the aggregator's thread, installed for the process, src/builder.rs"),
    // Pools whose workers end on their own once the pool is gone, however late.
    process("*scheduled_thread_pool::*", &["r2d2-worker-*"], "scheduled-thread-pool 0.2.7: workers wait for scheduled jobs after the pool's drop, up to r2d2's 30 s reaper interval, src/lib.rs"),
    process("*tiny_http::util::task_pool::*", &[], "tiny_http 0.12.0: each Server's connection workers end 5 s idle after the server's drop, src/util/task_pool.rs"),
    // Libraries' own lazies and statics, not std's.
    process("*sled::threadpool::*", &["sled-io-*"], "sled 0.34.7: its IO pool, started by its own Lazy (an AtomicPtr and a spin flag), src/threadpool.rs:162"),
    process("*conquer_once::*", &[], "conquer-once 0.4: Lazy/OnceCell initialization (testcontainers' watchdog), testcontainers-0.27.3/src/watchdog.rs:17"),
    process("*tokio_reactor::background::Background::new*", &[], "tokio-reactor 0.1.11: the default reactor's background thread, guarded by an atomic, src/background.rs:75"),
    // Test-support pools of mock servers, kept in a static and handed between tests.
    process("*mockito::server_pool::ServerPool::get_async*", &[], "mockito 1.x: SERVER_POOL, a static grown on demand; a test takes a server and gives it back on drop, src/server_pool.rs:10,78 (Server::new_with_opts* make servers outside it, still reported)"),
    process("mockito::server::try_start*", &[], "mockito 0.31: the one global server, under a lazy_static STATE, src/server.rs:103"),
    // A release build inlines the pool's `get_async` into these, its only callers;
    // `Server::new_with_opts` (a true leak) passes through neither.
    process("*mockito::server::Server*::try_new", &[], "mockito 1.x: Server::new's path to SERVER_POOL, src/server.rs:227 (in a release build the pool's frames are inlined here)"),
    process("*mockito::server::Server*::try_new::*", &[], "mockito 1.x: its block_on closure, src/server.rs:232"),
    process("*mockito::server::Server*::try_new_async*", &[], "mockito 1.x: Server::new_async's path to SERVER_POOL, src/server.rs:238"),
    process("*httpmock::api::server::LOCAL_SERVER_ADAPTER_GENERATOR*", &[], "httpmock 0.8.0: LOCAL_SERVER_POOL_REF, grown by Pool::take_or_create, src/api/server.rs:1343,1361"),
    // A release build inlines the pool's frames into these, which always take from it.
    process("*httpmock::api::server::MockServer*::start", &[], "httpmock 0.8.0: MockServer::start, always from LOCAL_SERVER_POOL_REF, src/api/server.rs:210 (in a release build the pool's frames are inlined here)"),
    process("*httpmock::api::server::MockServer*::start::*", &[], "httpmock 0.8.0: its closures, src/api/server.rs:210"),
    process("*httpmock::api::server::MockServer*::start_async*", &[], "httpmock 0.8.0: MockServer::start_async, always from LOCAL_SERVER_POOL_REF, src/api/server.rs:189"),
    process("*wiremock::mock_server::pool::MockServerPoolManager*create*", &[], "wiremock 0.6.5: MOCK_SERVER_POOL, a once_cell Lazy deadpool grown by the manager's create, src/mock_server/pool.rs:24,60 (MockServer::builder().start() is outside it)"),
    process("*httptest::server_pool::InnerPool::get_server*", &[], "httptest 0.16.3: a user's static ServerPool, grown by get_server, src/server_pool.rs:104"),
    // C and C++ libraries' threads (not read in their sources).
    process("background_thread_create*", &["jemalloc_bg_thd"], "tikv-jemalloc-sys 0.6.1: jemalloc's background threads (feature background_threads), for the process; unverified in C source"),
    process("*rocksdb*ThreadPoolImpl*", &["rocksdb:*"], "librocksdb-sys: the default Env's pools, for the process; unverified in C++ source"),
    // Threads owned by an object: never waived; the report gives their fix.
    object("tracing_appender::worker::Worker*::worker_thread", "tracing-appender's writer thread ends when its WorkerGuard is dropped: keep the guard and drop it before the test ends", "tracing-appender 0.2.3: Worker::worker_thread, src/worker.rs"),
    object("*notify::inotify::EventLoop::run*", "notify's watcher thread ends after the watcher is dropped (its inotify close takes the kernel a few milliseconds): drop the watcher before the test ends", "notify 8.2.2: src/inotify.rs, EventLoop::run"),
    object("reqwest::blocking::client::ClientHandle::new*", "a reqwest::blocking::Client runs a runtime on a thread of its own, which ends when the last clone of the client is dropped", "reqwest 0.12: src/blocking/client.rs, ClientHandle::new"),
    object("*quanta::upkeep::Upkeep::start*", "quanta's upkeep thread ends when its Handle is dropped: keep the handle and drop it", "quanta 0.12: src/upkeep.rs, Upkeep::start"),
    object("*opentelemetry_sdk::*BatchSpanProcessor*new*", "a BatchSpanProcessor's thread ends at the tracer provider's shutdown(): call it before the test ends", "opentelemetry_sdk 0.31: src/trace/span_processor.rs"),
    object("*moka::common::concurrent::thread_pool::*", "moka's housekeeper threads end when the last cache using the pool is dropped", "moka 0.9-0.11: ThreadPoolRegistry::acquire_pool"),
];

/// Functions that run code under a `catch_unwind` of their own and hand the panic to
/// whoever waits for the result: a panic with one of them on its stack was caught
/// inside its thread, which went on. Each is reached through a function pointer
/// (a task's vtable, a job's), so no optimiser inlines it away.
#[cfg_attr(not(iris_tracking), allow(dead_code))] // read with the panic's stack
pub(crate) const CATCHING_HARNESSES: &[&str] = &[
    // Every tokio task is polled through its vtable's `raw::poll`; the harness
    // below it catches the task's panic for its `JoinHandle`.
    "tokio::runtime::task::raw::poll*",
    "*tokio::runtime::task::harness::*",
    // rayon's jobs and scopes.
    "rayon_core::unwind::*",
    "*rayon_core::job::*",
    // futures' `catch_unwind` combinator.
    "*futures_util::future::future::catch_unwind::*",
];

/// tokio's poll of a task: the vtable's entry (`raw::poll`), which an optimised
/// build may leave by a tail call, so that only the harness's `poll` it jumps to is
/// on the stack. Between a task's panic and the first of them lies exactly one
/// `catch_unwind` of tokio's own (the harness's, which hands the panic to the
/// `JoinHandle`); any other was the task's own code catching it. (The first, not
/// any: a runtime's worker is itself a blocking task, polled further down.)
#[cfg(feature = "tokio")]
#[cfg_attr(not(iris_tracking), allow(dead_code))]
pub(crate) const TASK_POLL_GLOBS: &[&str] = &[
    "tokio::runtime::task::raw::poll*",
    "*tokio::runtime::task::harness::Harness*::poll*",
];

/// Rules that recognise, by the kind of function on the creating stack, threads
/// that live for the process in crates nobody listed (glob, what it recognises).
/// Matched like [`KNOWN`]'s creators, on the thread's creating stack and its
/// creators' stacks, but never against the toolchain's functions or Iris's own
/// ([`rule_applies`]): std's thread-locals are lazy too, and every stack passes
/// through `FnOnce::call_once`.
pub(crate) const RULES: &[(&str, &str)] = &[
    // A lazy value however it is written: std's, once_cell's, async_lock's, spin's,
    // conquer_once's, or a crate's own `Lazy` (sled's is an AtomicPtr and a flag).
    (
        "*Lazy<*",
        "a lazy value's initialization (a type named Lazy, LazyLock, LazyCell)",
    ),
    (
        "*::lazy::*",
        "a lazy value's initialization (a module named lazy)",
    ),
    ("*OnceCell<*", "a one-time cell's initialization"),
    (
        "*::once_cell::*",
        "a one-time cell's initialization (a module named once_cell)",
    ),
    ("*::once::*", "a one-time initializer (a module named once)"),
    (
        "*::get_or_init*",
        "a one-time cell's initialization (get_or_init)",
    ),
    (
        "*::get_or_try_init*",
        "a one-time cell's initialization (get_or_try_init)",
    ),
    // A global accessor: `global()`, `global_registry()`, `init_global()`.
    ("*::global", "a global accessor"),
    ("*::global::*", "a global accessor (a module named global)"),
    (
        "*::global_*",
        "a global accessor (a function named global_...)",
    ),
    // A pool handing out what it keeps: the thread lives as long as the pool. If the
    // test dropped the pool, the thread ends within `linger`; if it is still there
    // after it, the pool outlives the test (a static's), and the thread is nobody's.
    ("*Pool*::get", "a pool handing out what it keeps (get)"),
    (
        "*Pool*::get_*",
        "a pool handing out what it keeps (get_...)",
    ),
    ("*Pool*::get::*", "a pool handing out what it keeps (get)"),
    (
        "*Pool*::take*",
        "a pool handing out what it keeps (take...)",
    ),
    (
        "*Pool*::acquire*",
        "a pool handing out what it keeps (acquire...)",
    ),
    (
        "*Pool*::checkout*",
        "a pool handing out what it keeps (checkout...)",
    ),
    (
        "*PoolManager*::create*",
        "a pool's manager making what the pool keeps",
    ),
];

/// Whether the rules may judge `function`: not the toolchain's, the test harness's
/// or Iris's own.
pub(crate) fn rule_applies(function: &str) -> bool {
    let path = function.trim_start_matches('<');
    ![
        "std::",
        "core::",
        "alloc::",
        "iris::",
        "test::",
        "panic_unwind::",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix))
}

/// Whether `function` is one a rule recognises.
pub(crate) fn by_rule(function: &str) -> bool {
    rule_applies(function)
        && RULES
            .iter()
            .any(|(glob, _)| crate::text::glob::glob_matches(glob, function))
}

/// Functions that create what lives for the process, not for the test that happened
/// to run them first: a thread created inside one of them (or by such a thread, to
/// any depth) is process-scoped, never a test's leak. Matched against the creation
/// stack through the executable's symbol table (cheap) and, for a thread still
/// alive after `linger`, through its debug information too (inlined functions).
///
/// The process entries of Iris's table of other crates' threads, each with where it
/// was read (docs/known-threads.md). Beside them, rules recognise the same kinds by
/// the function's kind (a lazy value's, a global accessor's, a pool's hand-out) in
/// crates nobody listed (docs/known-threads.md lists them too). Users extend the list
/// with `ignore_threads` and switch all of it off with `IRIS_DEFAULT_IGNORES=off` or
/// `TestOptions::default_ignores(false)`.
///
/// (A leading `*` lets a glob match a method, which the symbol table writes
/// `<std::sys::sync::once::futex::Once>::call`.)
///
/// ```
/// assert!(iris::PROCESS_SCOPED_CREATORS.contains(&"rayon_core::registry::*global_registry"));
/// ```
pub static PROCESS_SCOPED_CREATORS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    KNOWN
        .iter()
        .filter(|k| k.kept == Kept::Process && !k.creator.is_empty())
        .map(|k| k.creator)
        .collect()
});

/// Names of threads that belong to well-known process-wide pools, for when nothing
/// tells where a thread was made (without the `thread-tracking` feature, where a
/// test owns its process, as under nextest): a thread with one of these names,
/// born during a test, is the process's, never the test's leak. Weaker evidence
/// than [`PROCESS_SCOPED_CREATORS`] (a program's own thread of the same name is
/// waived too), so kept to names these libraries give their threads (the process
/// entries of docs/known-threads.md). They are written whole and match the OS's cut
/// of a longer name too (Linux keeps 15 bytes: `async-global-executor-*` matches
/// `async-global-ex`).
///
/// Users extend it with `ignore_threads` and switch it off, with
/// [`PROCESS_SCOPED_CREATORS`], by `IRIS_DEFAULT_IGNORES=off` or
/// `TestOptions::default_ignores(false)`.
///
/// ```
/// assert!(iris::PROCESS_SCOPED_THREAD_NAMES.contains(&"blocking-*"));
/// ```
pub static PROCESS_SCOPED_THREAD_NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    KNOWN
        .iter()
        .filter(|k| k.kept == Kept::Process)
        .flat_map(|k| k.names.iter().copied())
        .collect()
});

/// The fix for a thread owned by a known object, from its creating functions.
#[cfg_attr(not(iris_tracking), allow(dead_code))] // the creating stack needs tracking
pub(crate) fn object_fix(functions: &[String]) -> Option<&'static str> {
    KNOWN.iter().find_map(|known| match known.kept {
        Kept::Object(fix)
            if functions
                .iter()
                .any(|f| crate::text::glob::glob_matches(known.creator, f)) =>
        {
            Some(fix)
        }
        _ => None,
    })
}

/// docs/known-threads.md's table, from [`KNOWN`] and [`RULES`].
#[cfg(test)]
pub(crate) fn markdown_table() -> String {
    let mut text = String::from(
        "| creating function (glob) | thread names | lives | where it was read |\n|---|---|---|---|\n",
    );
    for known in KNOWN {
        let names = if known.names.is_empty() {
            "unnamed, or not used".to_string()
        } else {
            known
                .names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let creator = if known.creator.is_empty() {
            "(its name only)".to_string()
        } else {
            format!("`{}`", known.creator)
        };
        let lives = match known.kept {
            Kept::Process => "for the process: waived".to_string(),
            Kept::Object(fix) => format!("by an object: reported, with the fix \"{fix}\""),
        };
        text.push_str(&format!(
            "| {creator} | {names} | {lives} | {} |\n",
            known.from
        ));
    }
    text.push_str("\n| rule (glob) | recognises |\n|---|---|\n");
    for (glob, what) in RULES {
        text.push_str(&format!("| `{glob}` | {what} |\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_says_where_it_was_read_and_process_ones_recognise_something() {
        for known in KNOWN {
            assert!(known.from.len() > 20, "{known:?}");
            assert!(
                !known.creator.is_empty() || !known.names.is_empty(),
                "{known:?}"
            );
        }
    }

    /// The rules recognise the surveyed kinds in crates no entry names, and do not
    /// recognise a component a test made and forgot.
    #[test]
    fn rules_recognise_lazies_globals_and_pool_hand_outs_but_not_a_forgotten_component() {
        let rules = by_rule;
        for process in [
            "<sled::lazy::Lazy<T,F> as core::ops::deref::Deref>::deref",
            "async_lock::once_cell::OnceCell<T>::get_or_init_blocking",
            "spin::once::Once<T>::call_once",
            "smol::spawn::spawn::global",
            "rayon_core::registry::global_registry",
            "mockito::server_pool::ServerPool::get_async::{{closure}}",
            "httptest::server_pool::InnerPool::get_server",
            "<async_object_pool::Pool<T>>::take_or_create::{{closure}}",
            "<wiremock::mock_server::pool::MockServerPoolManager as deadpool::managed::Manager>::create::{{closure}}",
            "my_lib::io::IoPool::get",
        ] {
            assert!(rules(process), "{process}");
        }
        for object in [
            "scheduler::WorkerPool::new",
            "mockito::server::Server::try_new_with_opts",
            "tokio::runtime::blocking::pool::Spawner::spawn_thread",
            "tracing_appender::worker::Worker<T>::worker_thread",
            "std::thread::spawn",
            "my_crate::watcher::ConfigWatcher::watch",
            "threadpool::ThreadPool::execute",
            "rayon_core::registry::Registry::new",
            // On every stack: never the rules' to judge.
            "<F as core::ops::function::FnOnce<()>>::call_once",
            "std::sys::thread_local::native::lazy::Storage<T,D>::initialize",
            "iris::leaks::harness::run_test",
            "std::sync::once_lock::OnceLock<T>::get_or_init",
        ] {
            assert!(!rules(object), "{object}");
        }
    }

    #[test]
    fn the_public_lists_are_the_tables_process_entries() {
        assert!(PROCESS_SCOPED_CREATORS.contains(&"*std::sys::sync::once::*"));
        assert!(
            !PROCESS_SCOPED_CREATORS.contains(&"tracing_appender::worker::Worker*::worker_thread")
        );
        assert!(PROCESS_SCOPED_THREAD_NAMES.contains(&"async-io"));
        assert!(PROCESS_SCOPED_THREAD_NAMES.contains(&"r2d2-worker-*"));
        assert_eq!(
            object_fix(&["tracing_appender::worker::Worker<W>::worker_thread".into()])
                .map(|f| &f[..18]),
            Some("tracing-appender's")
        );
    }

    #[test]
    fn the_docs_table_is_this_table() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/known-threads.md"
        ))
        .expect("docs/known-threads.md");
        let table = markdown_table();
        assert!(
            doc.contains(&table),
            "docs/known-threads.md must hold the table known.rs makes; write it with:\n{table}"
        );
    }
}
