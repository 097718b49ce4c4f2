#!/usr/bin/env python3
"""What `#[iris_test]` costs on real code (issue 12, part 6).

Fetches the published sources of well-known crates that use threads from
crates.io (nothing of theirs is committed here), turns every `#[test]` of their
suites into

    #[cfg_attr(all(test, feature = "iris-overhead"), iris::iris_test)]
    #[cfg_attr(not(all(test, feature = "iris-overhead")), test)]

so one build directory holds both variants, then runs each suite with and
without the feature, alternating, under `cargo test` and under `cargo nextest`.
It writes docs/benchmarks/real-suites.md (the table `bench_report` puts into
docs/benchmarks.md) and prints every leak report the runs produced.

    python3 scripts/real-suites.py [--rounds N] [--only CRATE] [--runner R] [--release] [--loaded]

`--release` builds and runs every variant with `--release` (optimised, no debug
assertions): a verdict must not depend on the build. Its results are kept apart
and tabled beside the debug ones.

`--loaded` runs every variant beside two busy loops per core, as nextest runs on a
CI machine whose cores are all taken (one test process per core, and other jobs
beside it): what each hand-off between threads costs shows there. Also kept apart.

Work happens in target/real-suites/ (removed by `cargo clean`).
"""

import argparse
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "real-suites"
# The suites build Iris from a copy of its tracked files taken when the script
# starts, so that editing the sources during a long run neither rebuilds the suites
# in the middle of it nor mixes two versions in one table.
SNAPSHOT = WORK / "iris-snapshot"
FEATURE = "iris-overhead"

# (crate, version, why it is a fair test, environment for the Iris runs)
SUITES = [
    (
        "crossbeam-channel",
        "0.5.15",
        "channels; almost every test spawns and joins threads (scoped and plain)",
        {},
    ),
    (
        "rayon",
        "1.11.0",
        "data parallelism; tests run on the lazily created global pool and on "
        "pools they build and drop",
        # No configuration: rayon's global pool is on Iris's default list of
        # process-scoped creators (thread tracking matches it by creating function;
        # without tracking its unnamed threads cannot be told from a leak).
        {},
    ),
    (
        "blocking",
        "1.6.2",
        "a library that starts background threads: smol's blocking pool, a plain "
        "`static` whose worker threads are started on demand by whichever thread "
        "hands it work (a test's) and end after 500 ms idle",
        {},
    ),
    (
        "async-io",
        "2.6.0",
        "smol's reactor: a library thread (\"async-io\") started inside a `OnceCell` "
        "by whichever test touches the reactor first, and kept for the process; its "
        "tests use smol's `blocking` pool too (async-net's name lookups)",
        {},
    ),
    (
        "r2d2",
        "0.8.10",
        "a connection pool: every pool it builds starts three `scheduled_thread_pool` "
        "workers (\"r2d2-worker-N\") that outlive the pool's drop by up to 30 s, "
        "the reaper's interval, and then end on their own",
        {},
    ),
    (
        "tracing-appender",
        "0.2.5",
        "a logging worker: `non_blocking` writers hand lines to a thread of their own "
        "(\"tracing-appender\") that ends when the writer's guard is dropped",
        {},
    ),
    (
        "tokio-util",
        "0.7.18",
        "async: its tests are `#[tokio::test]` (16 with `start_paused`), converted by "
        "replacing the attribute's path with `iris::test`; tasks, timers, codecs, "
        "a `LocalPoolHandle` whose worker threads run runtimes",
        {},
    ),
    (
        "subprocess",
        "0.2.9",
        "child processes: a popen library whose tests start, pipe to, wait for and "
        "kill `sh`, `cat` and `sleep` children (Iris's child-process check, which "
        "skips reading `/proc` in a process that has no child, must still see each)",
        {},
    ),
    (
        "threadpool",
        "1.8.1",
        "a classic thread pool: its tests build pools and drop them without joining, "
        "so the workers end on their own after the test (when the job channel "
        "closes), and some tests panic inside jobs on purpose",
        {},
    ),
    (
        "indicatif",
        "0.18.6",
        "a progress-bar library that starts a background thread for the user: "
        "`enable_steady_tick` spawns a ticker thread that redraws the bar until the "
        "bar is finished or dropped, and ends on its own then",
        {},
    ),
    (
        "notify",
        "8.2.2",
        "a filesystem watcher: each watcher starts an event-loop thread "
        "(\"notify-rs inotify loop\") that ends after the watcher is dropped; its "
        "tests create and drop watchers on temporary directories",
        {},
    ),
    (
        "bb8",
        "0.9.0",
        "async: a tokio connection pool whose tests are `#[tokio::test]`; every pool "
        "with an idle timeout or a lifetime (the default) spawns a plain reaper task "
        "that holds the pool weakly and ends at its next tick after the pool's drop "
        "(up to 30 s, the reaper's interval)",
        {},
    ),
    (
        "tower",
        "0.5.2",
        "async middleware: `Buffer` runs its service on a worker task that ends when "
        "the last handle is dropped, `SpawnReady` and `balance` spawn tasks of their "
        "own; its tests are `#[tokio::test]`, many with `tokio_test` mocks",
        {},
    ),
    (
        "hyper-util",
        "0.1.19",
        "async HTTP: the legacy client's connection pool (an idle-interval task, a "
        "task per connection) against servers the tests start on localhost",
        {},
    ),
    (
        "deadpool",
        "0.12.2",
        "an async object pool (the connection pools of deadpool-postgres and "
        "deadpool-redis): timeouts, resizing, cancellation, hooks, sync and async",
        {},
    ),
    (
        "opentelemetry_sdk",
        "0.31.0",
        "telemetry workers: its batch span and log processors and its periodic metric "
        "reader each start a background thread that exports until the provider is "
        "shut down or dropped; tests are `#[test]` and `#[tokio::test]`, many "
        "multi-threaded",
        {},
    ),
    (
        "tokio-stream",
        "0.1.17",
        "async streams over tokio's channels, timers and I/O (`StreamMap`, `timeout`, "
        "`throttle`, broadcast and watch wrappers); its tests are `#[tokio::test]`, "
        "many with `start_paused`",
        {},
    ),
    (
        "crossbeam-utils",
        "0.8.21",
        "thread primitives: scoped threads, `WaitGroup`, `Parker`, `ShardedLock`; most "
        "tests start and join many short threads (each one a creation stack for "
        "thread tracking to walk)",
        {},
    ),
    (
        "parking_lot",
        "0.12.5",
        "locks and condition variables, tested across threads: condvar timeouts, "
        "fairness, `Once`, poisoning-free panics inside guards",
        {},
    ),
    (
        "async-process",
        "2.5.0",
        "child processes: smol's async `Command`; on Linux its children are reaped by "
        "a process-wide \"async-process\" thread (or a pidfd) started on first use "
        "by whichever test spawns first; its tests start `cat`, `echo` and shells",
        {},
    ),
    (
        "duct",
        "1.1.2",
        "child processes and pipelines: a thread drains each captured pipe, `start()` "
        "hands back a handle, and `kill()` waits for the child only; two tests leave "
        "a grandchild sleeping for a day on purpose, holding the child's pipes",
        {},
    ),
    (
        "flume",
        "0.12.0",
        "channels: its tests send and receive across threads the test spawns, with "
        "timeouts and selects, sync and async",
        {},
    ),
    (
        "actix-rt",
        "2.11.0",
        "actix's runtime: a `System` and its `Arbiter`s, each an OS thread running a "
        "tokio runtime of its own, started by the tests and stopped by message "
        "(`stop()`, `join()`), some left to the `System`'s end",
        {},
    ),
    (
        "command-group",
        "5.0.1",
        "child processes in process groups: its tests spawn `yes`, `sleep`, shells "
        "and their children as a group, signal the group and wait for it, with std "
        "and with tokio (`#[tokio::test]`)",
        {},
    ),
    (
        "async-executor",
        "1.14.1",
        "smol's executor: its tests run executors on threads they start (`easy_parallel`, "
        "`std::thread::scope`), spawn many tasks, drop executors with tasks pending, and "
        "panic inside tasks",
        {},
    ),
    (
        "signal-hook",
        "0.3.18",
        "Unix signals: its tests register handlers (flags, iterators, conditional "
        "shutdown) and send signals, SIGTERM among them, to their own process, and "
        "check that a fresh process still has the default SIGTERM action; Iris "
        "listens for nextest's SIGTERM",
        {},
    ),
    (
        "tiny_http",
        "0.12.0",
        "an HTTP server: each `Server` starts an accept thread and a pool of client "
        "threads, and its tests connect to servers they start on localhost and drop",
        {},
    ),
    (
        "async-channel",
        "2.5.0",
        "an async MPMC channel whose tests send and receive across threads "
        "(`easy-parallel`) and block on futures",
        {},
    ),
    (
        "polling",
        "3.11.0",
        "epoll with its own notification pipe: pollers woken from other threads, many "
        "sockets on localhost, timeouts",
        {},
    ),
    (
        "rexpect",
        "0.6.2",
        "child processes in pseudo-terminals (`cat`, `bash`, `sleep`): its tests "
        "spawn them, talk to them, and drop or kill them",
        {},
    ),
    (
        "expectrl",
        "0.7.1",
        "child processes in pseudo-terminals, sync and async (async-io): `cat`, "
        "`echo`, `bash` and `python3` sessions that its tests expect output from, "
        "interact with and drop",
        {},
    ),
    (
        "governor",
        "0.10.4",
        "a rate limiter whose async waits (`until_ready`) sleep on futures-timer's "
        "global timer thread (\"futures-timer\"), which the first `Delay` in the process "
        "starts from a plain function (an atomic guards it, no initializer) and keeps "
        "for the process; its tests also run limiters from many threads",
        {},
    ),
    (
        "async-std",
        "1.13.2",
        "an async runtime kept for the process: `task::block_on` and `task::spawn` run "
        "on async-global-executor's threads, started on first use, with async-io's "
        "reactor thread and smol's `blocking` pool; its tests are `#[test]` bodies "
        "that block on futures, spawn tasks and sleep on timers",
        {},
    ),
    (
        "ipc-channel",
        "0.23.1",
        "inter-process channels: its router is a thread started inside a `lazy_static` "
        "by the first test that routes a receiver, and kept for the process; its "
        "tests send between threads and between processes made by `fork`",
        {},
    ),
    (
        "flexi_logger",
        "0.31.10",
        "a logger that writes on threads of its own: a flusher, an async writer and a "
        "cleanup thread for rotated files, started with the process's global logger "
        "(once a process, by whichever test starts it) and ended through the handle "
        "it returns; most test binaries hold one test",
        {},
    ),
    (
        "shared_child",
        "1.1.2",
        "a child process shared between threads: tests wait for a child from several "
        "threads at once and kill it from another (sigchld's SIGCHLD thread wakes the "
        "waiters)",
        {},
    ),
    (
        "interprocess",
        "2.2.3",
        "local sockets and pipes between threads: each test runs a server thread and "
        "client threads under its own watchdog thread, sync and tokio",
        {},
    ),
    (
        "moka",
        "0.12.11",
        "a concurrent cache, sync and async (`#[tokio::test]`, one `#[actix_rt::test]`): "
        "tests hammer caches from many threads and tasks, with eviction listeners "
        "and expiry",
        {},
    ),
    (
        "process-wrap",
        "8.2.2",
        "child processes wrapped in process groups and sessions, with kill-on-drop, "
        "std and tokio (command-group's successor): its tests spawn `sh`, `yes`, "
        "`sleep` and `echo`, kill them, wait for them, drop them",
        {},
    ),
    (
        "clokwerk",
        "0.4.0",
        "a job scheduler whose tests drive `Scheduler::run_pending` with a mock clock "
        "(its `watch_thread`, a scheduler thread joined when its handle drops, is in "
        "its docs only): thirteen short tests, where a per-test cost would show",
        {},
    ),
    (
        "quanta",
        "0.13.0",
        "a clock with an optional upkeep thread (`Upkeep::start`, one a process, "
        "guarded by an atomic) that refreshes a global recent time until its handle "
        "is dropped, which joins it",
        {},
    ),
    (
        "ractor",
        "0.15.9",
        "async actors on tokio (its tests are `#[crate::concurrency::test]`, a "
        "re-export of `#[tokio::test]`): every actor is a task, supervised by "
        "others, stopped, killed, left to panic, with timers and registries "
        "of named actors",
        {},
    ),
    # Added 2026-12-07 (issue 39): shapes no suite had, chosen without looking
    # at Iris's lists: test-support pools, hand-written lazies, tasks left to the
    # runtime, threads under combinators, other crates' test attributes.
    (
        "mockito",
        "1.7.2",
        "a test-support crate whose mock servers live in a plain `static "
        "SERVER_POOL` (const-initialised, no lazy type), grown on demand by "
        "`Server::new()`/`new_async()` and handed from test to test: each pooled "
        "server is a thread running a LocalSet accept loop that never ends; "
        "`Server::new_with_opts(_async)` makes one outside the pool, which keeps "
        "accepting after its drop",
        {},
    ),
    (
        "httpmock",
        "0.8.0",
        "a test-support crate whose `MockServer::start()` takes from a "
        "`LazyLock<Arc<Pool>>` grown outside the initializer by a generator that "
        "spawns a never-ending server thread (current-thread runtime + LocalSet, "
        "shutdown `pending()`); its tests also start a standalone server on port "
        "5050 behind a hand-written `static Mutex<bool>` guard, once a process, and "
        "drive servers from tokio, actix and smol",
        {},
    ),
    (
        "httptest",
        "0.16.3",
        "a test-support crate whose `ServerPool` users declare as a plain `static` "
        "(`ServerPool::new(n)`, a const fn): `get_server()` starts servers (a "
        "thread with a one-worker runtime) outside its OnceCell and hands them "
        "between tests for the process, while `Server::run()` joins its thread on "
        "drop",
        {},
    ),
    (
        "ntest",
        "0.9.5",
        "a test-attribute crate: `#[timeout(ms)]` runs the body on a detached "
        "thread and panics on timeout, leaving the thread running (some for ever: "
        "`loop {}`); its tests stack `#[timeout]`, `#[test]`, `#[should_panic]`, "
        "`#[test_case]` and `#[tokio::test]` in every order",
        {},
    ),
    # sled 0.34.7 (an IO pool behind its own hand-written `Lazy`) was tried on
    # 2026-12-07 and left out: its published tests do not build here, plain or not
    # (its lib denies lints today's compiler raises; its tests demand the `testing`
    # feature, with which tests/test_tree.rs fails with E0596). Its shape is
    # tests/tracking's `hand_written_lazy` scenario.
    (
        "spdlog-rs",
        "0.5.2",
        "a logger whose async sinks share a default thread pool kept as a `Weak` in "
        "a static `Mutex`: built outside any initializer by the first sink that "
        "needs it, ended when the last sink drops, kept for the process once a test "
        "installs such a sink as the default logger; periodic flushers are threads "
        "joined on drop",
        {},
    ),
    (
        "tarpc",
        "0.37.0",
        "async RPC: `#[tokio::test]`s `tokio::spawn` servers, channel executors and "
        "client dispatchers and return with them alive (most end when the other end "
        "of their channel drops, some wait on a listener or an hour-long deadline); "
        "`join_all` over calls",
        {},
    ),
    (
        "tokio-graceful-shutdown",
        "0.19.3",
        "async subsystems as tokio tasks, shut down with timeouts; 43 tests are "
        "`#[tokio::test(start_paused = true)]` stacked on tracing-test's "
        "`#[traced_test]`, which installs a global subscriber of its own",
        {},
    ),
    (
        "stretto",
        "0.8.4",
        "a concurrent cache whose two processor threads per cache are never joined "
        "(it has no `Drop`; `close()` only signals): they end when their channels "
        "disconnect, just after the test drops the cache; the async cache runs its "
        "processor as a spawned task",
        {},
    ),
    (
        "tokio-rusqlite",
        "0.7.0",
        "an async SQLite handle: each connection is a thread owning it, ending when "
        "the last handle drops or after `close()`; `#[tokio::test]`s open, share "
        "between tasks, close and drop connections",
        {},
    ),
    (
        "proptest",
        "1.11.0",
        "property tests with `fork` and `timeout` (default features): cases run in "
        "a child that is the test binary itself re-executed (rusty-fork), killed "
        "after 500 ms when it hangs; its `#[test]`s sit inside `proptest!` and "
        "`rusty_fork_test!` macros",
        {},
    ),
    (
        "async-lock",
        "3.4.2",
        "async locks tested with futures that create threads inside (a thread per "
        "awaited helper, sending its result and then ending), `future::or` selects, "
        "and 100 detached threads still exiting when the test has its answer",
        {},
    ),
    (
        "notify-debouncer-full",
        "0.7.0",
        "a filesystem-event debouncer whose loop thread is stopped by a flag on "
        "drop and never joined (it ends within one tick); an `#[rstest]` with "
        "`#[values]` expands to ~40 cases",
        {},
    ),
]

# Suites whose tests are `#[tokio::test]`: Iris's `tokio` feature on.
ASYNC = {"tokio-util", "bb8", "tower", "hyper-util", "deadpool", "opentelemetry_sdk", "tokio-stream", "command-group", "moka", "process-wrap", "ractor", "mockito", "httpmock", "httptest", "ntest", "tarpc", "tokio-graceful-shutdown", "stretto", "tokio-rusqlite"}

# Cargo arguments a suite's own tests need (as its CI runs them).
SUITE_ARGS = {
    "tokio-util": ["--features", "full"],
    "command-group": ["--features", "with-tokio"],
    "process-wrap": ["--features", "std,tokio1"],
    # As its CI runs them: the sync and the future caches.
    "moka": ["--features", "sync,future"],
    "interprocess": ["--features", "tokio"],
    "tower": ["--features", "full"],
    "tokio-stream": ["--features", "full"],
    "hyper-util": ["--features", "full"],
    "deadpool": ["--features", "managed,unmanaged,rt_tokio_1"],
    "opentelemetry_sdk": ["--features", "testing,rt-tokio,rt-tokio-current-thread"],
    # Its render tests (most of its suite) draw into an in-memory terminal.
    "indicatif": ["--features", "in_memory"],
    "spdlog-rs": ["--features", "log,multi-thread,runtime-pattern"],
    "tarpc": ["--features", "full"],
    "stretto": ["--features", "full"],
}

# Environment a suite needs to build with today's compiler (as plain as with Iris),
# by crate name: {"VAR": "value"}.
SUITE_ENV = {}

# Lines a published package keeps for a dev-dependency its workspace had and the
# package lost (the tests themselves are untouched): (crate, file, line).
PACKAGING_LEFTOVERS = [
    # A workspace-only proc macro named only to quiet `unused_crate_dependencies`.
    ("ractor", "src/tests.rs", "use ractor_example_entry_proc as _;\n"),
]

# (label, cargo features of the converted crate)
VARIANTS = [
    ("plain", []),
    ("without tracking", ["--features", "iris-overhead"]),
    ("with tracking (default)", ["--features", "iris-tracking"]),
]

# Earlier results named the variants by the features added to the harness.
OLD_LABELS = {"iris": "without tracking", "iris + thread-tracking": "with tracking (default)"}

# Why a report is what it is, once a person has read the test: (crate, pattern on
# the report's first line, verdict). Anything not matched is printed as unread.
KNOWN = [
    (
        "moka",
        r"`future::cache::tests::\w+` blocked its runtime",
        "true positive by Iris's blocking check, and meant by the test, as "
        "opentelemetry_sdk's: these async tests call `std::thread::sleep` (200-500 ms) on "
        "the runtime's worker to let the cache's pending work finish (its comments: "
        "\"Ensure all scheduled notifications have been processed\", \"TODO: Need a "
        "better way than sleeping\"), eleven of them inside the helper "
        "`verify_notification_vec`; each report names the line; `blocking = \"off\"` on "
        "such a test says so",
    ),
    (
        "moka",
        r"`future::cache::tests::handle_panic_in_(try_)?get_with`: 1 plain task\(s\) panicked",
        "a warning, not a failure (`task_panics = \"warn\"`, the default): the regression "
        "test for moka#43 spawns a task whose init future panics on purpose and drops "
        "its `JoinHandle`; `task_panics = \"ignore\"` on the test says so. moka catches "
        "the panic, releases the entry's waiters and rethrows it (`resume_unwind`): with "
        "tracking (since 2026-12-04, afternoon) the warning says it panicked inside a "
        "`catch_unwind` of the task's own code, as ractor's supervised actors' panics, "
        "which their supervisors handle; nothing tells the two apart, so both are warned "
        "about and neither fails a test",
    ),
    (
        "moka",
        r"`test_(try|optionally)_get_with`: 16 plain task\(s\) panicked",
        "a warning, and a true one: each of the 16 tasks fetches https://www.rust-lang.org/ "
        "with reqwest and asserts it got it; this machine has no network, so every task "
        "panics, and the test passes anyway, since `join_all` over the `JoinHandle`s "
        "throws their errors away. Iris's warning is the only sign of it",
    ),
    (
        "expectrl",
        r"`blocking_read_after_non_blocking(_try_read)?` leaked 1 thread\(s\) and 1 process",
        "true positive: the test moves its `cat` session into a detached thread that "
        "blocks for ever reading it (the thread panics with \"it's unnexpected that read "
        "operation will be ended\" if the read ever returns) and returns 100 ms later; "
        "`cat` and the thread outlive it. The thread's panic that follows the report is "
        "that read ending when Iris ends `cat` after the report (without tracking, under "
        "`cargo test`, nothing is checked and the test passes)",
    ),
    (
        "command-group",
        r"`(inner_read_stdout|into_inner_write_stdin|id_same_as_inner)_(normal|group)` leaked \d+ process",
        "true positive: the test spawns `echo` or `cat` (alone, or as a process group) "
        "with std's `Command` and drops the child without `wait()`, so it stays a "
        "zombie nobody reaps (the report names it, `[echo]`, and says to wait for it). "
        "The same tests in `tokio_unix` pass: tokio reaps a dropped child in the "
        "background while a runtime runs (they failed now and then, by the child's "
        "timing, until the test's runtime kept running while the test had a child)",
    ),
    (
        "process-wrap",
        r"`std_unix::(id_same_as_inner|inner_read_stdout|into_inner_write_stdin)::"
        r"(nowrap|process_group|process_session)` leaked \d+ process",
        "true positive, as command-group's (its predecessor): the test spawns `echo` or "
        "`cat` (alone, as a process group or as a session) with std's `Command` and "
        "drops the child without `wait()`, so it stays a zombie nobody reaps (the "
        "report names it and says to wait for it); the same tests in `tokio_unix` "
        "pass, since tokio reaps a dropped child while the test's runtime runs",
    ),
    (
        "process-wrap",
        r"`std_unix::multiproc_linux::process_(group|session)_kill_group` leaked \d+ process",
        "true, and beside the test's own failure (below: these tests fail here without "
        "Iris too): the assertion fails before the test's `leader.wait()`, so the "
        "killed leader stays a zombie nobody reaps; Iris says it is reported beside "
        "the test's panic",
    ),
    (
        "ractor",
        r"`actor::tests::can_use_call_in_actor` leaked 2 task",
        "true positive: the test spawns an actor (which spawns a second one in its "
        "`pre_start`), calls it, and returns without stopping either; a ractor actor "
        "runs until it is stopped or killed (its other tests `stop` their actors and "
        "await their handles), so both actors' tasks are still alive after `linger`",
    ),
    (
        "ractor",
        r"`thread_local::[\w:]+` leaked 1 thread\(s\)",
        "false positive without thread tracking only, as rayon's: the thread-local "
        "actors' tests share one spawner, a thread made once for the process in a "
        "`OnceCell` by whichever test comes first; it is unnamed (it carries its "
        "creator's name), so under nextest, one test a process, nothing but tracking "
        "can tell it from a leak (the report says so and points to the feature); with "
        "tracking the one-time initializer on its creation stack decides, and no test "
        "fails",
    ),
    (
        "ractor",
        r"`(actor::supervision_tests|factory::tests::worker_lifecycle)::\w+`: \d+ plain "
        r"task\(s\) panicked",
        "a warning, never a failure: these tests make supervised actors panic on "
        "purpose, and ractor runs every handler under `catch_unwind`, so the actor's "
        "task goes on. With tracking the stack's exception tables show that catch and "
        "the warning says the task's own code caught it (it may have handled or rethrown "
        "it: moka's initializers rethrow), whatever `task_panics` says; without tracking "
        "it reads as a lost task panic, and would fail the test under "
        "`task_panics = \"fail\"`",
    ),
    (
        "tiny_http",
        r"`(connection_close_header|detect_connection_closed|http_1_0_connection_close|"
        r"invalid_header_name|pipelining_test|poor_network_test|unsupported_expect_header)` leaked",
        "true positive: these tests get their client from the support function "
        "`new_client_to_hello_world_server`, which leaves a detached thread serving for "
        "3 s after the test (its doc: \"The server will automatically close after 3 "
        "seconds\"), and the server's accept thread with it; the report names both "
        "threads and the support function's line",
    ),
    (
        "tiny_http",
        r"`prompt_responses::\w+` leaked",
        "true positive: `assert_responds_promptly` detaches a `loop { server.recv() }` "
        "thread that never ends, so the server it holds keeps its accept thread in "
        "`accept` for the rest of the process",
    ),
    (
        "tiny_http",
        r"`prompt_pipelining::\w+` leaked",
        "true positive: each pipelined request is answered by a detached thread "
        "sending a deliberately slow 1 MB body (`SlowByteSrc` sleeps between bytes); "
        "the test returns once the requests are read, and the four responders (one "
        "sending, three queued behind it) go on for minutes",
    ),
    (
        "tiny_http",
        r"leaked \d+ thread\(s\)",
        "false positive without thread tracking (as rayon's): the idle workers of "
        "each `Server`'s `TaskPool` end 5 s after the server is dropped, and they are "
        "unnamed, so nothing but the creating function can tell them from a leak; "
        "the report says so and points to the feature. With it, the default list "
        "matches their creator and only the true positives above fail",
    ),
    (
        "crossbeam-channel",
        r"`(chan1|select7|sieve1)::main` leaked",
        "true positive: these tests, ported from Go, start goroutine-style threads "
        "(`go!` detaches a `std::thread::spawn`) that block for ever on a channel "
        "the test never closes; the threads are still alive when the test returns",
    ),
    (
        "rayon",
        r"leaked \d+ thread\(s\)",
        "false positive: rayon's global pool, created by the first parallel call in "
        "each test process and kept for the process; its threads are unnamed, so "
        "without thread tracking nothing can tell them from a leak (the report says "
        "so and points to the feature); with it, the default list of process-scoped "
        "creators matches their creating function and no test fails",
    ),
    (
        "subprocess",
        r"`tests::builder::(pipeline_)?communicate_(in_)?out` leaked \d+ process",
        "true positive: `Exec::communicate()` and `Pipeline::communicate()` detach "
        "their children by design (their docs: \"doesn't wait for the process to "
        "finish, effectively detaching it\"), and these tests read the output and "
        "return: each child stays a zombie nobody reaped until the test process "
        "exits (under `cargo test`, one more per test for the whole run). The "
        "report names it by its command (`[printf]`, `[cat]`) and says to wait for it",
    ),
    (
        "duct",
        r"`test::test_kill_with_grandchild_(stderr_capture|stdin_bytes)` leaked 1 thread",
        "true positive, and the test says so (\"This test leaks the grandchild "
        "process. I'm sorry.\"): it kills the child, whose grandchild sleeps for a "
        "day holding the child's pipes, so duct's thread that drains stderr (or "
        "writes stdin) stays blocked on it; the report names the thread's creator "
        "(`SharedThread::spawn`) and where it waits (`maybe_read_thread`, "
        "`StdinBytesHandle::start`). The grandchild is not the test's child, so it "
        "is not listed",
    ),
    (
        "duct",
        r"`test::test_pipe_start` leaked 1 process",
        "true positive: its comment says that when the right side of a pipe fails "
        "to start \"the left side is killed first\", but duct 1.x no longer does: "
        "the left `sleep 1000000` is put on duct's list of children to poll later "
        "and runs on (11 days); Iris reports it, then ends it",
    ),
    (
        "duct",
        r"`test::test_nonblocking_waits` leaked 2 process",
        "true positive, as subprocess's: it kills its pipeline's two `sleep`s and "
        "drops the handle without `wait()` (duct's docs: `kill` \"does not wait on the "
        "child processes to exit\"), so they stay zombies on duct's list of children "
        "to reap at the next spawn anywhere in the process; under nextest nothing "
        "spawns again, and they are reported after `linger`; under `cargo test` another "
        "test's spawn reaps them in time",
    ),
    (
        "threadpool",
        r"`test::test_active_count` leaked",
        "true positive: its jobs loop for ever (`loop { sleep(10 s) }`) on the pool's "
        "four threads, which outlive the test by the rest of the process",
    ),
    (
        "threadpool",
        r"`test::test_debug` leaked",
        "true positive: a job that sleeps 5 s is still running on the pool's thread "
        "when the test returns, a second in; it works on 4 s past the test",
    ),
    (
        "threadpool",
        r"`test::(test_name|test_recovery_from_subtask_panic|"
        r"test_should_not_panic_on_drop_if_subtasks_panic_after_drop)` had \d+ background panic",
        "true positive by Iris's rule, and meant by the test: its jobs panic on "
        "purpose, and a panic ends a threadpool worker (nothing catches it; the pool "
        "counts it in `panic_count` and starts another worker), a thread nobody "
        "joins. The report names the job's line and the pool's `spawn_in_pool`; a "
        "test that means it says so with `thread_panics = \"warn\"` (the panic is "
        "written after the run; a leak still fails the test)",
    ),
    (
        "hyper-util",
        r"`server::conn::auto::tests::http[12](_only)?(_fail_if_client_is_http[12])?` leaked 1 task",
        "true positive: `start_server` runs the test's HTTP server as an accept loop "
        "(`loop { listener.accept().await }`) on a plain `tokio::spawn` that nothing "
        "stops; tokio drops it with the runtime, and Iris reports the task still "
        "alive (the same after an hour of paused time: it waits for connections)",
    ),
    (
        "hyper-util",
        r"`server::conn::auto::tests::http[12]_only_fail_if_client_is_http[12]`: 1 plain task\(s\) panicked",
        "a warning, not a failure (`task_panics = \"warn\"`, the default): the server's "
        "connection task unwraps the error of a client that speaks the other HTTP "
        "version, as the test means, and tokio keeps that panic in a `JoinHandle` "
        "nobody reads; written after the run",
    ),
    (
        "hyper-util",
        r"`test_socks_v5_with_locally_resolved_domain_works`: 1 plain task\(s\) panicked",
        "a warning beside the test's own failure (this machine has no DNS): its proxy "
        "task's lookup fails and panics in a task nobody awaits",
    ),
    (
        "hyper-util",
        r"`server::graceful::test::test_graceful_shutdown_timeout` leaked 1 task",
        "true positive, meant by the test: one of its three connections is "
        "`pending()` for ever, so that the graceful shutdown times out, and the task "
        "awaiting it is left running",
    ),
    (
        "hyper-util",
        r"`connection_poisoning` leaked 3 thread",
        "true positive: the test's server is a std thread blocked in `accept` and "
        "two threads it started blocked in `recv`, never stopped; the report names "
        "each creation line and where each waits (thread tracking; a shared process "
        "cannot tell them without it)",
    ),
    (
        "opentelemetry_sdk",
        r"`metrics::periodic_reader::tests::collection_from_tokio_(current|multi_with_one_worker|with_two_worker)` blocked its runtime",
        "true positive by Iris's blocking check, and meant by the test: its async body "
        "calls `std::thread::sleep(500 ms)` on the runtime's worker, to give the "
        "reader's own thread time to collect (its comment: \"Not a fan of such "
        "tests\"); the report names that line; `blocking = \"off\"` on the test says so",
    ),
    (
        "bb8",
        r"`(test::)?test_(idle_timeout|max_lifetime)` leaked \d+ task",
        "true positive, in bb8: the test drops a pool whose manager fails every "
        "connection from the sixth on, with a reaper every second; the reaper holds "
        "the pool weakly, but each of its runs starts connection attempts that hold "
        "it strongly and retry for `connection_timeout` (1 s, measured with std's "
        "clock), so reaper and attempts keep the dropped pool alive for ever: still 2-3 "
        "tasks after 20 s of real `linger` (checked with `IRIS_DEFAULT_IGNORES=off`). "
        "The leak rests on a race in bb8, and in about half the runs `test_idle_timeout` passes, rightly: "
        "its body ends 5 s in, just as the reaper's fifth tick is due; when the body "
        "drops the pool first, that tick finds it gone and the reaper ends with nothing "
        "in flight (seen with prints in bb8: reaper ended 0.4 ms after the body, no "
        "attempt started), so nothing outlives the test. "
        "Its other 24 tests drop pools whose reaper (every 30 s by default) ends at "
        "its next tick: run on in paused time, it ends, and no test fails",
    ),
    (
        "ntest",
        r"`timeout_inf_loop` leaked 1 thread",
        "true, and meant by the test: its body spins in `loop {}` on ntest's timeout "
        "thread, which nothing can stop, and the test expects the timeout's panic "
        "(`should_panic`); Iris reports the spinning thread beside that panic and the "
        "test passes. Before ntest's `#[timeout]` below `#[iris_test]` moved inside "
        "Iris's check (2026-12-07) the thread went unseen",
    ),
    (
        "tokio-graceful-shutdown",
        r"plain task\(s\) panicked",
        "a warning, never a failure: these tests make subsystems panic on purpose; the "
        "library awaits each subsystem's `JoinHandle` and turns the panic into the error "
        "the test asserts, which Iris cannot see (reading a `JoinHandle` after the panic "
        "leaves no trace), so the warning hedges: \"unless the test awaited it\"",
    ),
    (
        "tokio-graceful-shutdown",
        r"`nested_subsystem_error_propagates` blocked its runtime",
        "false positive, fixed since (2026-12-07): the subsystem's `anyhow!` captured a "
        "backtrace (`RUST_BACKTRACE=1`) while another test printed a panic's backtrace, "
        "and waited 128 ms for std's backtrace lock; a worker held inside std's "
        "backtrace capture is no finding now (`waits_for_a_backtrace`)",
    ),
    (
        "mockito",
        r"`test_(server_with_assert_on_drop_(defaults_to_one_hit|panics_\w+?)(_async)?|"
        r"unpooled_server_going_out_of_context_removes_all_mocks)` leaked \d+ thread",
        "true positive: `Server::new_with_opts` (and its async twin) starts a server "
        "outside mockito's pool on a thread of its own, and dropping the `Server` only "
        "resets its mocks: the thread serves on for the process (mockito 1.7.2, "
        "src/server.rs: `thread::spawn` in `try_new_with_opts`, `Drop` calls `reset`); "
        "the report names `Server::new_with_opts`; the pooled `Server::new` is in "
        "Iris's table as the process's. The `..._panics_...` tests are `should_panic`: "
        "their leak is reported beside the expected panic, and they pass",
    ),
    (
        "mockito",
        r"`test_(join_all|http2_requests|match_body_asnyc|request_matcher_body|server_pool|"
        r"several_route_mocks|simple_route_mock)(_async)?` leaked \d+ thread",
        "false positive, a limit of release builds without debug information (cargo's "
        "default `--release` strips it): `Server::new_async` takes from mockito's pool, "
        "whose `get_async` and `try_new_async` the optimiser inlined into the test's "
        "future, so the only frame left is `Server::try_new_with_opts_async`, the same "
        "function a true leak (`Server::new_with_opts_async`, above) goes through; in "
        "`test_join_all_async` even that is inlined into `join_all`'s `MaybeDone`. Under "
        "`cargo test` the pool's servers are reused between tests and only "
        "`test_join_all_async`, which grows the pool, meets it; under nextest each "
        "process starts with an empty pool. A debug build tells them apart (its runs "
        "above report only the three true leaks)",
        r"--release, with tracking",
    ),
    (
        "mockito",
        r"leaked \d+ thread",
        "without thread tracking only: mockito's pool (`Server::new`) keeps its "
        "servers' unnamed threads for the process, and an unnamed thread carries the "
        "test's name, so nothing tells the pool's from a leak (the report says to turn "
        "tracking on); with tracking, the default, none of these is reported",
    ),
    (
        "httpmock",
        r"`misc::loop_test::loop_with_local_test` has been running",
        "not a failure: Iris's hang dump (`IRIS_HANG_DUMP`, 60 s) for a test that makes "
        "1000 blocking `reqwest::get`s, each building a client that loads the TLS roots; "
        "the dump says where it is (`reqwest::blocking::get`, the client's TLS set-up) "
        "and that it is not failed for it",
    ),
    (
        "httpmock",
        r"`misc::runtimes_test::all_runtimes_test` leaked 1 thread",
        "a limit, reported as a leak: the suite's own `with_standalone_server` "
        "(tests/lib.rs) starts a server thread once per process behind its own "
        "`static Mutex<bool>`, so the first test to call it (this one, in each runner) "
        "is reported; no initializer marks the thread as the process's, and Iris judges "
        "no test crate's function by its shape; the report names "
        "`lib::with_standalone_server` and its hint says to start such a thread in a "
        "`OnceLock`",
    ),
    (
        "httpmock",
        r"leaked \d+ thread",
        "without thread tracking only: `MockServer::start` hands out servers from "
        "httpmock's process-wide pool, whose unnamed threads carry the test's name; "
        "with tracking, the default, only `all_runtimes_test` (above) is reported",
    ),
    (
        "httptest",
        r"leaked \d+ thread",
        "without thread tracking only: httptest's `ServerPool` keeps its servers (an "
        "unnamed thread and a `tokio-rt-worker` each) for the process; with tracking, "
        "the default, none is reported",
    ),
]

# Tests of the suites themselves that fail now and then with or without Iris, on
# their own assertion (no Iris report): (crate, test, why). A failure with no report
# that is not here is printed as unread.
# process-wrap's tests that kill a helper whose own child is then orphaned.
MULTIPROC_ORPHANS = (
    "process-wrap's own test, failing here in every run, with or without Iris: it "
    "kills a helper process and asserts 100 ms later that the helper's own child is "
    "gone; that child is re-parented to this machine's PID 1 (not an init: it reaps "
    "orphans late), so it is still a zombie, which the test counts as alive"
)

KNOWN_RACY = [
    (
        "ractor",
        "thread_local::supervision_tests::test_thread_local_child",
        "ractor's own test, racy in release builds, with or without Iris (the plain "
        "`cargo test --release` runs failed it too): its child actor panics in "
        "`post_start` on the spawner's thread at once, and the supervisor can unlink "
        "it before the test asserts `try_get_supervisor().is_some()`",
    ),
    (
        "process-wrap",
        "std_unix::multiproc_linux::process_group_kill_leader",
        MULTIPROC_ORPHANS,
    ),
    (
        "process-wrap",
        "std_unix::multiproc_linux::process_group_kill_group",
        MULTIPROC_ORPHANS,
    ),
    (
        "process-wrap",
        "std_unix::multiproc_linux::process_session_kill_leader",
        MULTIPROC_ORPHANS,
    ),
    (
        "process-wrap",
        "std_unix::multiproc_linux::process_session_kill_group",
        MULTIPROC_ORPHANS,
    ),
    (
        "process-wrap",
        "tokio_unix::multiproc_linux::process_group_kill_leader",
        MULTIPROC_ORPHANS,
    ),
    (
        "process-wrap",
        "tokio_unix::multiproc_linux::process_group_kill_group",
        MULTIPROC_ORPHANS,
    ),
    (
        "process-wrap",
        "tokio_unix::multiproc_linux::process_session_kill_leader",
        MULTIPROC_ORPHANS,
    ),
    (
        "process-wrap",
        "tokio_unix::multiproc_linux::process_session_kill_group",
        MULTIPROC_ORPHANS,
    ),
    (
        "hyper-util",
        "test_connection_error_propagation_pr184",
        "hyper-util's own test, failing here in every run, with or without Iris: it "
        "expects the connection's `io::Error` at the top, and the hyper resolved today "
        "wraps it in `Canceled` (the script drops the published lockfile)",
    ),
    (
        "hyper-util",
        "test_incomplete_message_error_pr184",
        "hyper-util's own test, failing here in every run, with or without Iris, as "
        "its sibling `test_connection_error_propagation_pr184` does",
    ),
    (
        "hyper-util",
        "test_socks_v5_with_locally_resolved_domain_works",
        "hyper-util's own test, failing here in every run, with or without Iris: it "
        "resolves a public name, and this machine has no DNS",
    ),
    (
        "r2d2",
        "test::events",
        "r2d2's own test, racy: it expects the pool's events in one order, but a worker "
        "thread's connection races the test thread's release; it fails without Iris "
        "too (3 of 8 plain `cargo test` runs, 8 of 12 plain one-test nextest runs here)",
    ),
    (
        "r2d2",
        "test::test_max_lifetime",
        "r2d2's own test, racy: it sleeps 2 s and expects the reaper, which runs every "
        "second, to have dropped 4 connections by then, a margin of the time the pool "
        "takes to hand out its first connection; seen failing 2 times in 30 runs with "
        "Iris and 0 in 10 without, on a machine whose 2 cores run 18 tests at once",
    ),
    (
        "async-std",
        "io_timeout_timedout",
        "fails with and without Iris wherever stdin is at its end: it expects reading a "
        "line from stdin to block past its 1 s timeout, and the script's runs (nextest "
        "too) give tests `/dev/null`, which ends at once, so nothing times out",
    ),
    (
        "flexi_logger",
        "main",
        "a true positive, meant by the test and reported where nobody reads it: "
        "`test_error_channel_error` runs itself as a \"parent\" process that starts "
        "a \"child\" and returns without waiting for it (`#[allow(clippy::zombie_processes)]`, "
        "\"spawn child and terminate directly\"), so that the child's stderr breaks. "
        "Under Iris the parent's test leaks that child: its report goes to the parent's "
        "stderr, which the test pipes and drops, and the parent exits with a failure, "
        "which the test asserts against",
    ),
    (
        "threadpool",
        "test::test_multi_join",
        "threadpool's own race: right after queuing its jobs the test asserts that "
        "nothing has arrived yet (`try_recv() == Err(Empty)`), while the two pools' "
        "workers may already have run them; alone, one test process at a time, it "
        "failed 2 of 60 runs plain and 2 of 60 with Iris",
    ),
    (
        "rexpect",
        "session::tests::test_read_line",
        "rexpect's own race: the forked child turns the terminal's echo off only after "
        "the fork, while the test writes its line at once, so the line can come back "
        "echoed as well as from `cat` (`\"hanshans\"`); one test process at a time, "
        "release, it failed 4 of 100 runs with Iris and 0 without on a quiet machine, "
        "0 with Iris and 6 without beside a busy loop per core",
    ),
    (
        "mockito",
        "test_assert_with_last_unmatched_request",
        "mockito's own test, failing without Iris too (the plain runs fail it): it "
        "expects the diff colored, and mockito colors only when stdout is a terminal",
    ),
    (
        "mockito",
        "test_assert_with_last_unmatched_request_and_headers",
        "mockito's own test, failing without Iris too (the plain runs fail it): it "
        "expects the diff colored, and mockito colors only when stdout is a terminal",
    ),
    (
        "mockito",
        "test_assert_with_last_unmatched_request_and_query",
        "mockito's own test, failing without Iris too (the plain runs fail it): it "
        "expects the diff colored, and mockito colors only when stdout is a terminal",
    ),
    (
        "tarpc",
        "ui",
        "tarpc's trybuild test, failing without Iris too (the plain runs fail it): its "
        "expected compiler messages are an older compiler's",
    ),
    (
        "ntest",
        "no_timeout",
        "ntest's own test, timing-bound: a 50 ms sleep under a 100 ms `#[timeout]`; it "
        "failed once while this machine also compiled Iris; the plain and the Iris "
        "runs (with tracking) passed it 4 of 4 under four busy loops on two cores "
        "(2026-12-07)",
    ),
    (
        "httpmock",
        "misc::runtimes_test::all_runtimes_test",
        "the leak reported under nextest (above), its report lost: the suite's "
        "`expect_fails_with2` swaps the process's panic hook for a silent one while "
        "other tests run, and Iris's report is a panic message; any test's panic "
        "message is lost the same way without Iris. Fixed since (2026-12-07): Iris "
        "writes a report the hook in place did not print, once (tests/leaks' "
        "`a_report_is_seen_when_a_silent_panic_hook_is_in_place`)",
    ),
]

ATTRIBUTE = re.compile(r"^(\s*)#\[test\]\s*$", re.MULTILINE)
# `#[tokio::test]`, `#[tokio::test(flavor = "multi_thread", start_paused = true)]`.
# ractor's tests name it through its runtime switch, `#[crate::concurrency::test]`
# (a re-export of `tokio::test`); the path is kept for the plain build.
TOKIO_ATTRIBUTE = re.compile(
    r"^(\s*)#\[(tokio::test|crate::concurrency::test)(\([^\]]*\))?\]\s*$", re.MULTILINE
)


def fetch(crate, version):
    """Unpacks crate-version from crates.io into WORK (once)."""
    target = WORK / f"{crate}-{version}"
    if target.exists():
        return target
    url = f"https://static.crates.io/crates/{crate}/{crate}-{version}.crate"
    with urllib.request.urlopen(url, timeout=60) as response:
        data = response.read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        archive.extractall(WORK, filter="data")
    convert(target)
    return target


def convert(package):
    """Adds Iris as a dev-dependency behind a feature and rewrites `#[test]`."""
    manifest = package / "Cargo.toml"
    # A published lockfile pins what Iris's own minimums may exceed: resolve afresh.
    (package / "Cargo.lock").unlink(missing_ok=True)
    text = manifest.read_text()
    # Not part of Iris's workspace, though it sits under its target directory.
    text = "[workspace]\n\n" + text
    features = f'{FEATURE} = []\niris-tracking = ["{FEATURE}", "iris/thread-tracking"]\n'
    if "\n[features]\n" in text:
        text = text.replace("\n[features]\n", f"\n[features]\n{features}", 1)
    else:
        text += f"\n[features]\n{features}"
    is_async = package.name.rsplit("-", 1)[0] in ASYNC
    iris_features = '["harness", "tokio", "tokio-test-util"]' if is_async else '["harness"]'
    text += (
        f'\n[dev-dependencies.iris]\npath = "{SNAPSHOT}"\ndefault-features = false\n'
        f"features = {iris_features}\n"
    )
    manifest.write_text(text)
    for crate, file, line in PACKAGING_LEFTOVERS:
        if package.name.rsplit("-", 1)[0] == crate:
            path = package / file
            path.write_text(path.read_text().replace(line, "", 1))
    count = 0
    for path in list(package.glob("tests/**/*.rs")) + list(package.glob("src/**/*.rs")):
        source = path.read_text()
        converted, n = ATTRIBUTE.subn(
            # `test` too: Iris is a dev-dependency, unknown to the library's own build.
            lambda m: f'{m.group(1)}#[cfg_attr(all(test, feature = "{FEATURE}"), iris::iris_test)]\n'
            f'{m.group(1)}#[cfg_attr(not(all(test, feature = "{FEATURE}")), test)]',
            source,
        )
        # Async tests: only the attribute's path changes (the drop-in promise).
        converted, m = TOKIO_ATTRIBUTE.subn(
            lambda m: f'{m.group(1)}#[cfg_attr(all(test, feature = "{FEATURE}"), iris::test{m.group(3) or ""})]\n'
            f'{m.group(1)}#[cfg_attr(not(all(test, feature = "{FEATURE}")), {m.group(2)}{m.group(3) or ""})]',
            converted,
        )
        n += m
        if n:
            path.write_text(converted)
            count += n
    # Edition 2015 knows no extern prelude: a dependency is reachable only through an
    # `extern crate` in each crate root, as its users must write it too.
    if not re.search(r'^\s*edition\s*=\s*"20(18|21|24)"', text, re.MULTILINE):
        roots = [package / "src" / "lib.rs"] + list(package.glob("tests/*.rs"))
        for root in filter(Path.exists, roots):
            root.write_text(
                root.read_text()
                + f'\n#[cfg(all(test, feature = "{FEATURE}"))]\nextern crate iris;\n'
            )
    (package / ".iris-tests").write_text(str(count))


def take_snapshot(at=None):
    """Copies Iris's tracked files, as they are now, to SNAPSHOT; or, with `at`, the
    tree of that commit (so that a long run is not disturbed by edits meanwhile)."""
    if at is not None:
        if SNAPSHOT.exists():
            shutil.rmtree(SNAPSHOT)
        SNAPSHOT.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", "--format=tar", at], cwd=ROOT, capture_output=True)
        if archive.returncode != 0:
            sys.exit(f"--at {at}: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", str(SNAPSHOT)], input=archive.stdout, check=True)
        return
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    if SNAPSHOT.exists():
        shutil.rmtree(SNAPSHOT)
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            target = SNAPSHOT / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def point_at_snapshot(package):
    """A suite converted by an older version of this script depended on ROOT."""
    manifest = package / "Cargo.toml"
    text = manifest.read_text()
    if f'path = "{ROOT}"' in text:
        manifest.write_text(text.replace(f'path = "{ROOT}"', f'path = "{SNAPSHOT}"'))


def build_as_from_crates_io(package):
    """Builds the snapshot as cargo builds a crates.io dependency: not incremental.

    A path dependency is compiled incrementally, in 256 codegen units, where one from
    a registry gets 16, and in a debug build every backtrace std prints parses each
    unit. The difference was within the noise on tokio-util's printing test binaries
    (2026-12-04), but what is measured is what a user builds.
    """
    config = package / ".cargo" / "config.toml"
    section = "[profile.dev.package.iris]"
    text = config.read_text() if config.exists() else ""
    if section not in text:
        config.parent.mkdir(exist_ok=True)
        config.write_text(text + f"\n# As cargo builds a crates.io dependency.\n{section}\nincremental = false\n")


# Every run, plain or not, prints backtraces as CI usually does: a panic's backtrace
# takes a debug build a tenth of a second to print, and Iris must not mistake that
# for anything.
RUN_ENV = {"RUST_BACKTRACE": "1"}


def run(command, cwd, env=None):
    """Runs `command` to its exit; its output goes through files, not pipes, and it
    gets a process group of its own, ended with it. A suite that leaves processes
    behind on purpose (duct's tests leave grandchildren sleeping for a day, holding
    their parent's output) would otherwise keep the pipes open, and the run, for as
    long as they live."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={
                **os.environ,
                **RUN_ENV,
                **SUITE_ENV.get(os.path.basename(str(cwd)).rsplit("-", 1)[0], {}),
                **(env or {}),
            },
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        code = process.wait()
        elapsed = time.monotonic() - started
        end_session(process.pid)
        texts = []
        for file in (out, err):
            file.seek(0)
            texts.append(file.read().decode("utf-8", "replace"))
    return elapsed, subprocess.CompletedProcess(command, code, texts[0], texts[1])


def end_session(session):
    """Kills what is left of session `session` (a runner puts tests in process groups
    of their own, but they stay in its session)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp session ...: comm may hold spaces.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and fields[3] == str(session):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass


def verdicts(output):
    """(passed, failed) from nextest's summary line, or libtest's result lines."""
    summary = re.search(r"Summary \[.*?(\d+) passed(?:, (\d+) failed)?", output)
    if summary:
        return int(summary.group(1)), int(summary.group(2) or 0)
    results = re.findall(r"^test result: \w+\. (\d+) passed; (\d+) failed", output, re.MULTILINE)
    return sum(int(p) for p, _ in results), sum(int(f) for _, f in results)


def passed_test_processes(output):
    """nextest's time for each test that passed, in seconds (from its `PASS [ 0.005s]`
    lines: the test's process, from its start to its exit)."""
    durations = {}
    for d, test in re.findall(
        r"^\s*PASS\s+\[\s*([\d.]+)s\]\s+(?:\(\s*\d+/\d+\)\s+)?(\S+\s+\S+)\s*$",
        output,
        re.MULTILINE,
    ):
        durations.setdefault(test, float(d))
    return durations


def mean_test_processes(by_label):
    """The mean time of a test process for each variant of one round, over the tests
    that passed in every variant: a test that fails under Iris (a true positive) pays
    for its `linger` and its report, which is the point of it, not Iris's cost."""
    common = set.intersection(*(set(d) for d in by_label.values())) if by_label else set()
    if not common:
        return {}
    return {label: statistics.mean(d[t] for t in common) for label, d in by_label.items()}


def failed_tests(output):
    """The tests that failed: nextest's `FAIL [ 0.2s] (3/18) crate test::name` lines, or
    libtest's `---- test::name stdout ----` sections."""
    nextest = re.findall(r"^\s*FAIL \[\s*[\d.]+s\]\s+(?:\(\s*\d+/\d+\)\s+)?\S+\s+(\S+)\s*$", output, re.MULTILINE)
    libtest = re.findall(r"^---- (\S+) stdout ----$", output, re.MULTILINE)
    return sorted(set(nextest + libtest))


def unreported_failures(output):
    """Failed tests with no Iris report or warning of their own: the test's own
    assertion failed (a racy test), not Iris's verdict."""
    reported = set(re.findall(r"iris: test `([^`]+)`", output))
    return [t for t in failed_tests(output) if t not in reported]


def leak_reports(output):
    """The first line of each Iris report, and of each warning (`iris: test `T`: ...`,
    written after the run: a plain task's panic under the default policy)."""
    return sorted(set(re.findall(r"iris: test `[^`]+`:? [^\n]*", output)))


RUNNERS = {
    # --no-fail-fast: a failing test binary must not stop the run (or time it short).
    "cargo test": ["cargo", "test", "-q", "--no-fail-fast", "--tests"],
    "cargo nextest": ["cargo", "nextest", "run", "--no-fail-fast", "--tests"],
}


def measure(package, rounds, iris_env, only_runner=None, release=False, loaded=False):
    runners = {k: v for k, v in RUNNERS.items() if only_runner in (None, k)}
    extra = SUITE_ARGS.get(package.name.rsplit("-", 1)[0], []) + (["--release"] if release else [])
    # Build everything first, so the rounds time only the runs (nextest runs the
    # test binaries `cargo test` builds).
    for _, features in VARIANTS:
        _, result = run(["cargo", "test", "--tests", "--no-run"] + extra + features, package)
        if result.returncode != 0:
            sys.exit(f"building {package.name} failed:\n{result.stderr[-4000:]}")
    # The load, if asked for, only while the suites run: the builds are done.
    busy = [
        subprocess.Popen(["sh", "-c", "while :; do :; done"])
        for _ in range(2 * (os.cpu_count() or 1) if loaded else 0)
    ]
    try:
        return run_rounds(package, rounds, iris_env, runners, extra, release, loaded)
    finally:
        for loop in busy:
            loop.kill()


def run_rounds(package, rounds, iris_env, runners, extra, release, loaded):
    rows = []
    for runner, base in runners.items():
        times = {label: [] for label, _ in VARIANTS}
        processes = {label: [] for label, _ in VARIANTS}
        last = {}
        for _ in range(rounds):
            # Alternating, so the machine's state is the same for every variant.
            for label, features in VARIANTS:
                env = iris_env if features else {}
                took, result = run(base + extra + features, package, env)
                times[label].append(took)
                last[label] = result.stdout + result.stderr
            by_label = {label: passed_test_processes(last[label]) for label, _ in VARIANTS}
            for label, mean in mean_test_processes(by_label).items():
                processes[label].append(mean)
        plain = statistics.median(times["plain"])
        for label, _ in VARIANTS[1:]:
            iris = statistics.median(times[label])
            per_process = {}
            if processes["plain"] and processes[label]:
                per_process = {
                    "process_plain": statistics.median(processes["plain"]),
                    "process_iris": statistics.median(processes[label]),
                }
            rows.append(
                {
                    **per_process,
                    "runner": runner + (" --release" if release else "") + (", loaded" if loaded else ""),
                    "variant": label,
                    "plain": plain,
                    "iris": iris,
                    "ratio": iris / plain,
                    "plain_verdicts": verdicts(last["plain"]),
                    "iris_verdicts": verdicts(last[label]),
                    "reports": leak_reports(last[label]),
                    "unreported": unreported_failures(last[label]),
                    "output": last[label],
                }
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="measure one crate; keep the other's last results")
    parser.add_argument("--runner", choices=list(RUNNERS), help="measure under one runner; keep the other's last results")
    parser.add_argument("--release", action="store_true", help="build and run with --release (kept apart from debug results)")
    parser.add_argument("--loaded", action="store_true", help="run beside two busy loops per core (kept apart)")
    parser.add_argument("--at", metavar="COMMIT", help="measure Iris as committed at COMMIT, not the working tree (edits during a long run then change nothing)")
    parser.add_argument("--report-only", action="store_true", help="measure nothing: rewrite the table from the kept results and the committed rows")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        global SNAPSHOT_AT
        SNAPSHOT_AT = args.at
        take_snapshot(args.at)
        measure_all(args)
    write_report()


def measure_all(args):
    for crate, version, why, iris_env in SUITES:
        if args.only and args.only != crate:
            continue
        package = fetch(crate, version)
        point_at_snapshot(package)
        build_as_from_crates_io(package)
        tests = int((package / ".iris-tests").read_text())
        print(f"{crate} {version}: {tests} tests converted; {why}", file=sys.stderr)
        if tests == 0:
            # A published crate may ship without its tests: nothing to measure.
            print(f"{crate} {version}: no `#[test]` to convert; skipped", file=sys.stderr)
            continue
        rows = measure(package, args.rounds, iris_env, args.runner, args.release, args.loaded)
        stamp = {"measured_at": time.strftime("%Y-%m-%d %H:%M"), "iris_commit": iris_commit()}
        for row in rows:
            row.update(stamp)
        for row in rows:
            # Kept to be read: leak reports, and failures with no report.
            if row["reports"] or row.get("unreported"):
                slug = f"{row['runner']}-{row['variant']}".replace(" ", "-").replace("+", "")
                dump = WORK / f"{crate}-{slug}.log"
                dump.write_text(row["output"])
                print(f"  {row['runner']}: reports in {dump}", file=sys.stderr)
            del row["output"]
        previous = results_path(crate, args.release, args.loaded)
        if args.runner and previous.exists():
            measured = args.runner + (" --release" if args.release else "") + (", loaded" if args.loaded else "")
            kept = [r for r in json.loads(previous.read_text())["rows"] if r["runner"] != measured]
            rows = kept + rows
        result = {"crate": crate, "version": version, "tests": tests, "rounds": args.rounds,
                  "env": iris_env, "rows": rows}
        previous.write_text(json.dumps(result, indent=1))


SNAPSHOT_AT = None


def iris_commit():
    """The commit the snapshot was taken at (and whether the tree had changes)."""
    if SNAPSHOT_AT is not None:
        return subprocess.run(["git", "rev-parse", "--short", SNAPSHOT_AT], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return head + ("+changes" if dirty else "")


def results_path(crate, release, loaded=False):
    """Where a crate's last results are kept, debug and release, quiet and loaded
    apart."""
    return WORK / f"{crate}{'-release' if release else ''}{'-loaded' if loaded else ''}.json"


REPORT = ROOT / "docs" / "benchmarks" / "real-suites.md"


def committed_rows():
    """The table's rows and explanations as last written, by (suite, runner, variant).

    The results behind them are kept in target/, which a fresh clone does not have:
    a run that measures one suite under one runner must not drop every other row.
    """
    rows, notes = {}, {}
    if not REPORT.exists():
        return rows, notes
    for line in REPORT.read_text().splitlines():
        if line.startswith("| ") and not line.startswith(("| suite ", "| --- ")):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) > 2 and cells[1] != "not measured":
                rows[(cells[0].split(" (")[0], cells[1], cells[2])] = line
        elif line.startswith("- ") and ": " in line:
            notes.setdefault(line.split(": ", 1)[0], []).append(line)
    return rows, notes


def write_report():
    """docs/benchmarks/real-suites.md from the last results of each crate, and the
    committed rows of what has no kept results here."""
    lines = [
        "| suite | runner | Iris | `#[test]` | `#[iris_test]` | ratio | target | per test | verdicts (plain / iris) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    explained = []
    old_rows, old_notes = committed_rows()
    for crate, version, _, _ in SUITES:
        paths = [results_path(crate, release, loaded) for loaded in (False, True) for release in (False, True)]
        results = [json.loads(p.read_text()) for p in paths if p.exists()]
        fresh = {
            (f"{crate} {r['version']}", row["runner"], OLD_LABELS.get(row.get("variant", "iris"), row.get("variant", "iris")))
            for r in results
            for row in r["rows"]
        }
        # A committed variant cell may carry the suite's environment (`with `K=V``).
        kept = [
            (key, line)
            for key, line in old_rows.items()
            if key[0] == f"{crate} {version}" and not any(key[:2] == f[:2] and key[2].startswith(f[2]) for f in fresh)
        ]
        for key, line in kept:
            lines.append(line)
            for prefix, notes in old_notes.items():
                head = f"- {crate}, {key[1]}, "
                if prefix.startswith(head) and key[2].startswith(prefix[len(head):]):
                    explained.extend(notes)
        if not results and not kept:
            lines.append(f"| {crate} {version} | not measured | | | | | | |")
            continue
        for result, row in ((r, row) for r in results for row in r["rows"]):
            (pp, pf), (ip, iff) = row["plain_verdicts"], row["iris_verdicts"]
            met = "yes" if row["ratio"] <= 1.05 else "**no**"
            if pp + pf == 0 and ip + iff == 0:
                # The runner ran nothing (nextest cannot list a `harness = false`
                # target): the times are of no test, and no ratio is claimed.
                met = "no test ran"
            env = " ".join(f"`{k}={v}`" for k, v in result.get("env", {}).items())
            label = OLD_LABELS.get(row.get("variant", "iris"), row.get("variant", "iris"))
            variant = label + (f" with {env}" if env else "")
            # What Iris adds to each test: per test process where nextest timed them
            # (its per-test durations), else the suite's time over its tests.
            if "process_plain" in row:
                plain_ms, iris_ms = row["process_plain"] * 1000, row["process_iris"] * 1000
                per_test = f"{iris_ms - plain_ms:+.2f} ms a process ({plain_ms:.1f} to {iris_ms:.1f})"
            else:
                per_test = f"{(row['iris'] - row['plain']) / result['tests'] * 1000:+.2f} ms (suite time / tests)"
            # Rows kept from an earlier run (`--runner`) keep their own date.
            when = f", {row['measured_at']}, Iris {row['iris_commit']}" if "measured_at" in row else ""
            lines.append(
                f"| {crate} {result['version']} ({result['tests']} tests{when}) | {row['runner']} "
                f"| {variant} | {row['plain']:.2f} s | {row['iris']:.2f} s | {row['ratio']:.3f} "
                f"| <= 1.05 ({met}) | {per_test} | {pp} passed, {pf} failed / {ip} passed, {iff} failed |"
            )
            # One line per explanation, with a count and a few of the tests.
            groups = {}
            for report in row["reports"]:
                run = f"{row['runner']}, {label}"
                why = next(
                    (
                        k[2]
                        for k in KNOWN
                        if k[0] == crate
                        and re.search(k[1], report)
                        # A fourth element limits a reading to some runs.
                        and (len(k) < 4 or re.search(k[3], run))
                    ),
                    "not yet read by a person",
                )
                groups.setdefault(why, []).append(report)
            for why, reports in groups.items():
                tests = ", ".join(re.search(r"`[^`]+`", r).group(0) for r in reports[:3])
                more = f" and {len(reports) - 3} more" if len(reports) > 3 else ""
                explained.append(
                    f"- {crate}, {row['runner']}, {label}: "
                    f"{len(reports)} report(s) ({tests}{more}): {why}"
                )
            for test in row.get("unreported", []):
                why = next(
                    (v for c, t, v in KNOWN_RACY if c == crate and t == test),
                    "not yet read by a person",
                )
                explained.append(
                    f"- {crate}, {row['runner']}, {label}: `{test}` failed with no Iris "
                    f"report: {why}"
                )
    table = "\n".join(lines)
    reports = "\n".join(explained) if explained else "No leak reports."
    REPORT.write_text(
        "<!-- written by scripts/real-suites.py (alternating rounds, medians) -->\n"
        f"{table}\n\n\"a process\" is nextest's mean time of a test's process; rows measured "
        "since 2026-12-03 (night) take the mean over the tests that passed in every "
        "variant (a true positive's `linger` and report are its point, not Iris's "
        "cost).\n\n"
        f"Reports the `#[iris_test]` runs produced:\n\n{reports}\n"
    )
    print(table)
    print(reports)


if __name__ == "__main__":
    main()
