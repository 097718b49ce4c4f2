#!/usr/bin/env python3
"""The flake corpus's benchmark (issue 41): how often plain stress runs and schedule
chaos find each planted bug of tests/flakes, and whether every fixed twin passes
under chaos.

For each bug, in the same budget (`IRIS_STRESS=200` iterations, at most 60 s a run):

    plain   IRIS_STRESS=200, three runs: the iteration of the first failure, or none
    chaos   IRIS_CHAOS=<seed> IRIS_STRESS=200 for seeds 1, 2, 3: the same
    again   each chaos failure's printed line (the same seed and count) run 3 times:
            how many of them fail again, and how many on the same iteration

and for each fixed twin, IRIS_CHAOS=1 IRIS_STRESS=1000 must pass (no false alarm).
The per-iteration cost of chaos is an empty test's iteration with and without it.

    python3 scripts/flake-corpus.py [--seeds 3] [--iterations 200] [--twins 1000] [--only BUG] [--report-only]

Each entry's results are kept in target/flake-corpus.json; `--only BUG` measures
that entry again and keeps the others'. The table goes to
docs/benchmarks/flake-corpus.md (rewritten), which docs/benchmarks.md points at.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks" / "flake-corpus.md"
KEPT = ROOT / "target" / "flake-corpus.json"

# (bug, twin, filter for a pair of tests run together, or None for one test alone)
CORPUS = [
    ("bug_sleep_as_sync", "fixed_sleep_as_sync", "a sleep used as synchronization (a worker assumed started)"),
    ("bug_two_lock_scopes", "fixed_two_lock_scopes", "an atomicity violation across two lock scopes"),
    ("bug_lost_notification", "fixed_lost_notification", "a lost notification (notified before the wait)"),
    ("bug_wait_without_predicate", "fixed_wait_without_predicate", "a condvar wait without its predicate loop"),
    ("bug_assumes_finished", "fixed_assumes_finished", "a spawned thread assumed finished"),
    ("bug_channel_drained", "fixed_channel_drained", "a channel treated as drained when momentarily empty"),
    ("bug_drop_without_join", "fixed_drop_without_join", "a Drop that stops a worker without joining it"),
    ("bug_deadline_too_tight", "fixed_deadline_too_tight", "a deadline too tight under load"),
    ("bug_spawn_order", "fixed_spawn_order", "tasks assumed to run in spawn order (tokio blocking pool)"),
    ("bug_one_worker", "fixed_one_worker", "a test that passes only with one worker"),
    ("bug_shared_static_", "fixed_shared_static_", "two tests sharing a static (run together)"),
    ("bug_shutdown_race", "fixed_shutdown_race", "a shutdown racing an in-flight request"),
    # Real ones, from published crates' histories (tests/flakes/real.rs cites each).
    ("real::real_crossbeam_wait_and_drop", "real::fixed_crossbeam_wait_and_drop", "crossbeam PR #1005: workers assumed still asleep"),
    ("real::real_crossbeam_tick_timeline", "real::fixed_crossbeam_tick_timeline", "crossbeam #825: a sleep assumed to last what it asks"),
    ("real::real_tokio_polled_after_one_tick", "real::fixed_tokio_polled_after_one_tick", "tokio PR #4698: one yield assumed to poll every task"),
    ("real::real_flume_rendezvous", "real::fixed_flume_rendezvous", "flume 924d66b: a thread assumed started when spawned"),
]


def binary():
    """Builds tests/flakes and returns its path."""
    out = subprocess.run(
        ["cargo", "test", "--test", "flakes", "--features", "tokio", "--no-run", "--message-format=json"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "flakes" and msg.get("executable"):
            return msg["executable"]
    sys.exit("no flakes binary")


def run(exe, test, env, timeout=60):
    """Runs `test` (an exact name, or a prefix for a pair) with `env`; returns
    (passed, the first failing iteration or None, seconds, text)."""
    pair = test.endswith("_")
    args = [exe, test] if pair else [exe, "--exact", test]
    args += ["--test-threads=2" if pair else "--test-threads=1"]
    full = dict(os.environ, RUST_BACKTRACE="0", **env)
    for key in ("NEXTEST_EXECUTION_MODE", "RUST_TEST_THREADS"):
        full.pop(key, None)
    started = time.monotonic()
    try:
        done = subprocess.run(args, env=full, capture_output=True, text=True, timeout=timeout)
        text = done.stdout + done.stderr
        passed = done.returncode == 0
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode() + (e.stderr or b"").decode() if isinstance(e.stdout, bytes) else str(e.stdout or "")
        passed = True  # ran out of budget without a failure
    took = time.monotonic() - started
    m = re.search(r"failed on iteration (\d+)", text)
    return passed, (int(m.group(1)) if m else (None if passed else 1)), took, text


def summary(found):
    """`3/3 (at 4, 12, 40)` or `0/3`."""
    hits = [f for f in found if f is not None]
    at = f" (at {', '.join(str(h) for h in hits)})" if hits else ""
    return f"{len(hits)}/{len(found)}{at}"


def per_iteration(found, iterations):
    """Failure probability per iteration, estimated: failures over iterations run."""
    runs = sum(f if f is not None else iterations for f in found)
    return len([f for f in found if f is not None]) / runs if runs else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--twins", type=int, default=1000)
    parser.add_argument("--only", help="measure this bug again; keep the others' results")
    parser.add_argument("--report-only", action="store_true", help="measure nothing: rewrite the table from the kept results")
    args = parser.parse_args()
    kept = json.loads(KEPT.read_text()) if KEPT.exists() else {}
    exe = binary()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    for bug, twin, what in CORPUS:
        if (args.report_only or (args.only and args.only != bug)) and bug in kept:
            continue
        stress = {"IRIS_STRESS": str(args.iterations)}
        plain = [run(exe, bug, stress)[1] for _ in range(args.seeds)]
        chaos, refail = [], []
        for seed in range(1, args.seeds + 1):
            env = dict(stress, IRIS_CHAOS=str(seed))
            _, at, _, _ = run(exe, bug, env)
            chaos.append(at)
            if at is not None:
                tries = [run(exe, bug, env)[1] for _ in range(3)]
                refail.append((sum(t is not None for t in tries), sum(t == at for t in tries)))
        print(f"{bug}: plain {summary(plain)}, chaos {summary(chaos)}, again {refail}", file=sys.stderr)
        passed, at, took, text = run(exe, twin, {"IRIS_CHAOS": "1", "IRIS_STRESS": str(args.twins)}, timeout=600)
        print(f"{twin}: {'passed' if passed else 'FAILED at ' + str(at)} in {took:.1f} s", file=sys.stderr)
        kept[bug] = {"plain": plain, "chaos": chaos, "refail": refail, "twin": [twin, passed, took],
                     "measured": time.strftime("%Y-%m-%d %H:%M"), "iris": head}
        KEPT.write_text(json.dumps(kept, indent=1))
    rows, twins = [], []
    found_by_chaos = again_ok = 0
    for bug, twin, what in CORPUS:
        if bug not in kept:
            continue
        plain, chaos, refail = kept[bug]["plain"], kept[bug]["chaos"], [tuple(r) for r in kept[bug]["refail"]]
        if any(c is not None for c in chaos):
            found_by_chaos += 1
            if refail and sum(r[0] >= 2 for r in refail) >= len(refail) / 2:
                again_ok += 1
        rows.append((what, bug, summary(plain), per_iteration(plain, args.iterations),
                     summary(chaos), per_iteration(chaos, args.iterations), refail))
        twins.append(tuple(kept[bug]["twin"]))
    empty = kept.get("empty", {})
    for label, env in (("plain", {}), ("chaos", {"IRIS_CHAOS": "1"})):
        _, _, took, _ = run(exe, "empty", dict(env, IRIS_STRESS="2000"))
        if (args.only is None and not args.report_only) or label not in empty:
            empty[label] = took / 2000
    kept["empty"] = empty
    KEPT.write_text(json.dumps(kept, indent=1))
    lines = [
        f"# The flake corpus ({time.strftime('%Y-%m-%d %H:%M')}, Iris {head})",
        "",
        "Written by `python3 scripts/flake-corpus.py` (see its docstring). Each planted bug of",
        f"tests/flakes runs {args.iterations} iterations in one process, {args.seeds} times plainly",
        f"(`IRIS_STRESS={args.iterations}`) and once under each of {args.seeds} chaos seeds",
        "(`IRIS_CHAOS=1..`); a row gives how many of the runs failed and at which iteration,",
        "and the failure probability per iteration they imply (failures over iterations run).",
        "\"Again\" runs each chaos failure's printed line three times: how many of the three",
        "failed again, and how many on the same iteration.",
        "",
        "| bug | plain: runs failed | plain: per iteration | chaos: runs failed | chaos: per iteration | again (failed, same iteration) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for what, bug, plain, pp, chaos, cp, refail in rows:
        again = "; ".join(f"{a}/3 ({s} on the same iteration)" for a, s in refail) or "-"
        lines.append(f"| {what} (`{bug}`) | {plain} | {pp:.3f} | {chaos} | {cp:.3f} | {again} |")
    lines += [
        "",
        f"Chaos found {found_by_chaos} of {len(CORPUS)} bugs within {args.iterations} iterations "
        f"(target: 11 of the 12 planted ones and every real one); for {again_ok} of them the printed line failed again in at least 2 "
        "of 3 tries for at least half of its seeds.",
        "",
        f"Fixed twins, `IRIS_CHAOS=1 IRIS_STRESS={args.twins}`:",
        "",
        "| twin | verdict | time |",
        "| --- | --- | --- |",
    ]
    for twin, passed, took in twins:
        lines.append(f"| `{twin}` | {'passed' if passed else '**FAILED**'} | {took:.1f} s |")
    lines += [
        "",
        f"An empty test's iteration: {empty['plain'] * 1e6:.0f} µs plainly, {empty['chaos'] * 1e6:.0f} µs under chaos "
        f"(+{(empty['chaos'] - empty['plain']) * 1e6:.0f} µs; target +50 µs).",
        "",
    ]
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
