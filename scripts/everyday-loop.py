#!/usr/bin/env python3
"""The everyday loop's figures (issue 38): what `#[iris::test]` costs a user who edits,
builds and runs the tests many times a day, in debug builds.

The fixture crate tests/fixtures/scheduler (a worker pool, a tokio status server,
child processes, a config watcher; twelve clean tests) is built three ways, each
in a target directory of its own under target/everyday/:

    plain   `#[test]`/`#[tokio::test]`, no Iris
    iris    `#[iris::test]`, Iris as a test dependency with its defaults and tokio
    core    (build time only) Iris's library alone with `default-features = false`
            and tokio, as component code builds it: the baseline "beyond the core
            crate"

and measured, alternating the variants run by run:

    build           a clean `cargo build --tests -j 1` (one core), and per crate
                    (cargo's --timings) the compile time only Iris's test
                    dependency brings, beyond the core's
    binary          the size of the test binary
    serial          the binary with --test-threads=1: per test, iris - plain
    parallel        the binary as cargo test runs it: iris / plain
    nextest         one process per test (as nextest runs it): the mean process,
                    iris / plain and iris - plain
    first run       after a rebuild (src/lib.rs touched), the first run of the
                    new binary against the second

    python3 scripts/everyday-loop.py [--runs N] [--loaded] [--skip-build] [--label TEXT]

`--loaded` runs beside four busy loops (two per core). The table goes to
docs/benchmarks/everyday-loop.md (appended, with the date, commit and label), which
docs/benchmarks.md points at.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "scheduler"
WORK = ROOT / "target" / "everyday"
OUT = ROOT / "docs" / "benchmarks" / "everyday-loop.md"
VARIANTS = {"plain": [], "iris": ["--features", "iris"]}
TESTS = 12


def cargo(variant, *args, env=None, check=True, capture=True):
    full_env = dict(os.environ, CARGO_TARGET_DIR=str(WORK / variant), CARGO_TERM_COLOR="never")
    full_env.pop("RUSTFLAGS", None)
    if env:
        full_env.update(env)
    return subprocess.run(
        ["cargo", *args, *VARIANTS[variant]],
        cwd=FIXTURE,
        env=full_env,
        check=check,
        capture_output=capture,
        text=True,
    )


def test_binary(variant):
    out = cargo(variant, "test", "--no-run", "--message-format=json").stdout
    for line in out.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "loop":
            if message.get("executable"):
                return message["executable"]
    sys.exit(f"no test binary for {variant}")


def clean_build(variant):
    """Seconds of a clean one-core build of the tests, and each unit's seconds."""
    shutil.rmtree(WORK / variant, ignore_errors=True)
    started = time.monotonic()
    if variant == "core":
        env = dict(os.environ, CARGO_TARGET_DIR=str(WORK / "core"), CARGO_TERM_COLOR="never")
        env.pop("RUSTFLAGS", None)
        subprocess.run(
            ["cargo", "build", "-p", "iris", "--lib", "--no-default-features",
             "--features", "tokio", "-j", "1", "--timings"],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )
    else:
        cargo(variant, "build", "--tests", "-j", "1", "--timings")
    took = time.monotonic() - started
    report = WORK / variant / "cargo-timings" / "cargo-timing.html"
    units = {}
    text = report.read_text()
    match = re.search(r"const UNIT_DATA = (\[.*?\]);\n", text, re.S)
    if match:
        for unit in json.loads(match.group(1)):
            key = f"{unit['name']} {unit['version']}" + (
                f" ({unit['target'].strip()})" if unit["target"].strip() else ""
            )
            units[key] = units.get(key, 0.0) + unit["duration"]
    return took, units


def run_binary(binary, args, env=None):
    full_env = dict(os.environ, RUST_BACKTRACE="0")
    for key in list(full_env):
        if key.startswith("IRIS_") or key.startswith("NEXTEST"):
            del full_env[key]
    if env:
        full_env.update(env)
    started = time.monotonic()
    done = subprocess.run([binary, *args], env=full_env, capture_output=True, text=True)
    took = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{binary} {args} failed:\n{done.stdout}\n{done.stderr}")
    return took


def list_tests(binary):
    out = subprocess.run([binary, "--list"], capture_output=True, text=True, check=True).stdout
    return [line.split(": test")[0] for line in out.splitlines() if line.endswith(": test")]


def per_process(binary, names):
    """Mean seconds of one test in a process of its own, as nextest runs it."""
    env = {"NEXTEST_EXECUTION_MODE": "process-per-test"}
    times = [run_binary(binary, ["--exact", name, "--test-threads=1"], env) for name in names]
    return statistics.mean(times)


def busy_loops(n):
    return [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(n)]


def first_run_after_rebuild(variant, rounds):
    """(first, second) seconds of the binary's runs after each of `rounds` rebuilds."""
    pairs = []
    lib = FIXTURE / "src" / "lib.rs"
    for _ in range(rounds):
        os.utime(lib)
        binary = test_binary(variant)
        first = run_binary(binary, [])
        second = run_binary(binary, [])
        pairs.append((first, second))
    return pairs


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rebuilds", type=int, default=5)
    parser.add_argument("--loaded", action="store_true")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--label", default="")
    args = parser.parse_args()

    shutil.copy(ROOT / "Cargo.lock", FIXTURE / "Cargo.lock")
    rows = []
    if not args.skip_build:
        builds = {variant: clean_build(variant) for variant in ["plain", "core", "iris"]}
        (plain_time, plain_units) = builds["plain"]
        (core_time, core_only_units) = builds["core"]
        (iris_time, iris_units) = builds["iris"]
        # What a crate that uses Iris's core in its code already builds: its own
        # dependencies and the core's.
        core_units = dict(plain_units, **core_only_units)
        beyond_core = {k: v for k, v in iris_units.items() if k not in core_units}
        only_iris_crate = sum(
            v for k, v in iris_units.items() if k.startswith("iris ")
        ) - sum(v for k, v in core_units.items() if k.startswith("iris "))
        beyond = sum(v for k, v in beyond_core.items() if not k.startswith("iris ")) + only_iris_crate
        top = sorted(beyond_core.items(), key=lambda kv: -kv[1])[:12]
        rows.append(("clean build of the tests, one core", f"plain {plain_time:.1f} s, iris {iris_time:.1f} s (Iris's core alone: {core_time:.1f} s)", f"iris - plain: {iris_time - plain_time:+.1f} s"))
        rows.append(("compile time the test dependency adds beyond the core (sum of units, one core)", f"{beyond:.1f} s", "target <= 15 s"))
        rows.append(("its largest units", ", ".join(f"{k} {v:.1f} s" for k, v in top), ""))
    binaries = {variant: test_binary(variant) for variant in ("plain", "iris")}
    sizes = {v: os.path.getsize(b) for v, b in binaries.items()}
    rows.append(("debug test binary", f"plain {sizes['plain'] / 1e6:.1f} MB, iris {sizes['iris'] / 1e6:.1f} MB", f"{(sizes['iris'] - sizes['plain']) / 1e6:+.1f} MB (target <= +10 MB)"))

    loops = busy_loops(4) if args.loaded else []
    try:
        serial = {"plain": [], "iris": []}
        parallel = {"plain": [], "iris": []}
        for _ in range(args.runs):
            for variant in ("plain", "iris"):
                serial[variant].append(run_binary(binaries[variant], ["--test-threads=1"]))
                parallel[variant].append(run_binary(binaries[variant], []))
        s_plain, s_iris = statistics.median(serial["plain"]), statistics.median(serial["iris"])
        p_plain, p_iris = statistics.median(parallel["plain"]), statistics.median(parallel["iris"])
        rows.append(("serial run (--test-threads=1), median", f"plain {ms(s_plain)}, iris {ms(s_iris)}", f"{(s_iris - s_plain) / TESTS * 1000:+.2f} ms a test (target <= +0.3 ms)"))
        rows.append(("parallel run (cargo test), median", f"plain {ms(p_plain)}, iris {ms(p_iris)}", f"{p_iris / p_plain:.2f}x (target <= 1.05x)"))
        names = list_tests(binaries["iris"])
        per = {"plain": [], "iris": []}
        for _ in range(max(1, args.runs // 5)):
            for variant in ("plain", "iris"):
                per[variant].append(per_process(binaries[variant], names))
        n_plain, n_iris = statistics.median(per["plain"]), statistics.median(per["iris"])
        rows.append(("one test per process (nextest), mean process", f"plain {ms(n_plain)}, iris {ms(n_iris)}", f"{n_iris / n_plain:.2f}x, {(n_iris - n_plain) * 1000:+.2f} ms a process (target <= 1.05x)"))
        pairs = first_run_after_rebuild("iris", args.rebuilds)
        plain_pairs = first_run_after_rebuild("plain", args.rebuilds)
        worst = max(first - second for first, second in pairs)
        rows.append(("first run after a rebuild against the second (iris)", ", ".join(f"{ms(f)}/{ms(s)}" for f, s in pairs), f"worst {worst * 1000:+.1f} ms (target <= +50 ms)"))
        rows.append(("the same, plain", ", ".join(f"{ms(f)}/{ms(s)}" for f, s in plain_pairs), f"worst {max(f - s for f, s in plain_pairs) * 1000:+.1f} ms"))
    finally:
        for loop in loops:
            loop.kill()

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    heading = f"### {time.strftime('%Y-%m-%d %H:%M')} at {commit}, {'loaded (four busy loops on two cores)' if args.loaded else 'quiet'}{', ' + args.label if args.label else ''}"
    table = [heading, "", "| measure | values | result |", "|---|---|---|"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = "\n".join(table) + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if not OUT.exists():
        OUT.write_text(
            "# The everyday loop\n\nWritten by `python3 scripts/everyday-loop.py` (see its docstring);"
            " each run appends its table. The fixture is tests/fixtures/scheduler.\n\n"
        )
    with OUT.open("a") as f:
        f.write("\n" + text)


if __name__ == "__main__":
    main()
