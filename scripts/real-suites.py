#!/usr/bin/env python3
"""What `#[iris_test]` costs on real code (issue 12, part 6).

Fetches the published sources of two well-known crates that use threads from
crates.io (nothing of theirs is committed here), turns every `#[test]` of their
suites into

    #[cfg_attr(all(test, feature = "iris-overhead"), iris::iris_test)]
    #[cfg_attr(not(all(test, feature = "iris-overhead")), test)]

so one build directory holds both variants, then runs each suite with and
without the feature, alternating, under `cargo test` and under `cargo nextest`.
It writes docs/benchmarks/real-suites.md (the table `bench_report` puts into
docs/benchmarks.md) and prints every leak report the runs produced.

    python3 scripts/real-suites.py [--rounds N] [--only CRATE]

Work happens in target/real-suites/ (removed by `cargo clean`).
"""

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "real-suites"
FEATURE = "iris-overhead"

# (crate, version, why it is a fair test)
SUITES = [
    (
        "crossbeam-channel",
        "0.5.15",
        "channels; almost every test spawns and joins threads (scoped and plain)",
    ),
    (
        "rayon",
        "1.11.0",
        "data parallelism; tests run on the lazily created global pool and on "
        "pools they build and drop",
    ),
]

# Why a report is what it is, once a person has read the test: (crate, pattern on
# the report's first line, verdict). Anything not matched is printed as unread.
KNOWN = [
    (
        "crossbeam-channel",
        r"`(chan1|select7|sieve1)::main` leaked",
        "true positive: these tests, ported from Go, start goroutine-style threads "
        "(`go!` detaches a `std::thread::spawn`) that block for ever on a channel "
        "the test never closes; the threads are still alive when the test returns",
    ),
]

ATTRIBUTE = re.compile(r"^(\s*)#\[test\]\s*$", re.MULTILINE)


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
    text = manifest.read_text()
    # Not part of Iris's workspace, though it sits under its target directory.
    text = "[workspace]\n\n" + text
    if "\n[features]\n" in text:
        text = text.replace("\n[features]\n", f"\n[features]\n{FEATURE} = []\n", 1)
    else:
        text += f"\n[features]\n{FEATURE} = []\n"
    text += f'\n[dev-dependencies.iris]\npath = "{ROOT}"\ndefault-features = false\n'
    manifest.write_text(text)
    count = 0
    for path in list(package.glob("tests/**/*.rs")) + list(package.glob("src/**/*.rs")):
        source = path.read_text()
        converted, n = ATTRIBUTE.subn(
            # `test` too: Iris is a dev-dependency, unknown to the library's own build.
            lambda m: f'{m.group(1)}#[cfg_attr(all(test, feature = "{FEATURE}"), iris::iris_test)]\n'
            f'{m.group(1)}#[cfg_attr(not(all(test, feature = "{FEATURE}")), test)]',
            source,
        )
        if n:
            path.write_text(converted)
            count += n
    (package / ".iris-tests").write_text(str(count))


def run(command, cwd, env=None):
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    return time.monotonic() - started, result


def verdicts(output):
    """(passed, failed) from nextest's summary line, or libtest's result lines."""
    summary = re.search(r"Summary \[.*?(\d+) passed(?:, (\d+) failed)?", output)
    if summary:
        return int(summary.group(1)), int(summary.group(2) or 0)
    results = re.findall(r"^test result: \w+\. (\d+) passed; (\d+) failed", output, re.MULTILINE)
    return sum(int(p) for p, _ in results), sum(int(f) for _, f in results)


def leak_reports(output):
    """The first line of each Iris report."""
    return sorted(set(re.findall(r"iris: test `[^`]+` [^\n]*", output)))


def measure(package, rounds):
    with_iris = ["--features", FEATURE]
    runners = {
        "cargo test": ["cargo", "test", "-q", "--tests"],
        "cargo nextest": ["cargo", "nextest", "run", "--no-fail-fast", "--tests"],
    }
    # Build everything first, so the rounds time only the runs.
    # (nextest runs the same test binaries `cargo test` builds.)
    for extra in ([], with_iris):
        _, result = run(["cargo", "test", "--tests", "--no-run"] + extra, package)
        if result.returncode != 0:
            sys.exit(f"building {package.name} failed:\n{result.stderr[-4000:]}")
    rows = []
    for runner, base in runners.items():
        plain, iris = [], []
        last = {}
        for _ in range(rounds):
            for label, extra, into in (("plain", [], plain), ("iris", with_iris, iris)):
                took, result = run(base + extra, package)
                into.append(took)
                last[label] = result.stdout + result.stderr
        p50_plain, p50_iris = statistics.median(plain), statistics.median(iris)
        rows.append(
            {
                "runner": runner,
                "plain": p50_plain,
                "iris": p50_iris,
                "ratio": p50_iris / p50_plain,
                "plain_verdicts": verdicts(last["plain"]),
                "iris_verdicts": verdicts(last["iris"]),
                "reports": leak_reports(last["iris"]),
                "output": last["iris"],
            }
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="measure one crate; keep the other's last results")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    for crate, version, why in SUITES:
        if args.only and args.only != crate:
            continue
        package = fetch(crate, version)
        tests = int((package / ".iris-tests").read_text())
        print(f"{crate} {version}: {tests} tests converted; {why}", file=sys.stderr)
        rows = measure(package, args.rounds)
        for row in rows:
            if row["reports"]:
                dump = WORK / f"{crate}-{row['runner'].replace(' ', '-')}.log"
                dump.write_text(row["output"])
                print(f"  {row['runner']}: reports in {dump}", file=sys.stderr)
            del row["output"]
        result = {"crate": crate, "version": version, "tests": tests, "rounds": args.rounds,
                  "rows": rows}
        (WORK / f"{crate}.json").write_text(json.dumps(result, indent=1))
    write_report()


def write_report():
    """docs/benchmarks/real-suites.md from the last results of each crate."""
    lines = [
        "| suite | runner | `#[test]` | `#[iris_test]` | ratio | target | verdicts (plain / iris) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    explained = []
    for crate, version, _ in SUITES:
        path = WORK / f"{crate}.json"
        if not path.exists():
            lines.append(f"| {crate} {version} | not measured | | | | | |")
            continue
        result = json.loads(path.read_text())
        for row in result["rows"]:
            (pp, pf), (ip, iff) = row["plain_verdicts"], row["iris_verdicts"]
            met = "yes" if row["ratio"] <= 1.05 else "**no**"
            lines.append(
                f"| {crate} {result['version']} ({result['tests']} tests) | {row['runner']} "
                f"| {row['plain']:.2f} s | {row['iris']:.2f} s | {row['ratio']:.3f} "
                f"| <= 1.05 ({met}) | {pp} passed, {pf} failed / {ip} passed, {iff} failed |"
            )
            for report in row["reports"]:
                why = next(
                    (v for c, pattern, v in KNOWN if c == crate and re.search(pattern, report)),
                    "not yet read by a person",
                )
                explained.append(f"- {crate}, {row['runner']}: {report}: {why}")
    table = "\n".join(lines)
    reports = "\n".join(explained) if explained else "No leak reports."
    out = ROOT / "docs" / "benchmarks" / "real-suites.md"
    out.write_text(
        "<!-- written by scripts/real-suites.py (alternating rounds, medians) -->\n"
        f"{table}\n\nReports the `#[iris_test]` runs produced:\n\n{reports}\n"
    )
    print(table)
    print(reports)


if __name__ == "__main__":
    main()
