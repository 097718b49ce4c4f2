#!/usr/bin/env python3
"""What `#[iris_test]` costs on real code (issue 12, part 6).

Fetches the published sources of two well-known crates that use threads from
crates.io (nothing of theirs is committed here), turns every `#[test]` of their
suites into

    #[cfg_attr(feature = "iris-overhead", iris::iris_test)]
    #[cfg_attr(not(feature = "iris-overhead"), test)]

so one build directory holds both variants, then runs each suite with and
without the feature, alternating, under `cargo test` and under `cargo nextest`.
It writes docs/benchmarks/real-suites.md (the table `bench_report` puts into
docs/benchmarks.md) and prints every leak report the runs produced.

    python3 scripts/real-suites.py [--rounds N]

Work happens in target/real-suites/ (removed by `cargo clean`).
"""

import argparse
import io
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
            lambda m: f'{m.group(1)}#[cfg_attr(feature = "{FEATURE}", iris::iris_test)]\n'
            f'{m.group(1)}#[cfg_attr(not(feature = "{FEATURE}"), test)]',
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
    """(passed, failed) from libtest's or nextest's summary lines."""
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", output))
    failed = sum(int(n) for n in re.findall(r"(\d+) failed", output))
    return passed, failed


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
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    lines = [
        "| suite | runner | `#[test]` | `#[iris_test]` | ratio | target | verdicts (plain / iris) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    findings = []
    for crate, version, why in SUITES:
        package = fetch(crate, version)
        tests = (package / ".iris-tests").read_text()
        print(f"{crate} {version}: {tests} tests converted; {why}", file=sys.stderr)
        for row in measure(package, args.rounds):
            (pp, pf), (ip, iff) = row["plain_verdicts"], row["iris_verdicts"]
            met = "yes" if row["ratio"] <= 1.05 else "**no**"
            lines.append(
                f"| {crate} {version} ({tests} tests) | {row['runner']} | {row['plain']:.2f} s "
                f"| {row['iris']:.2f} s | {row['ratio']:.3f} | <= 1.05 ({met}) "
                f"| {pp} passed, {pf} failed / {ip} passed, {iff} failed |"
            )
            for report in row["reports"]:
                findings.append(f"{crate}, {row['runner']}: {report}")
            if row["reports"]:
                dump = WORK / f"{crate}-{row['runner'].replace(' ', '-')}.log"
                dump.write_text(row["output"])
                print(f"  reports in {dump}", file=sys.stderr)
    table = "\n".join(lines)
    out = ROOT / "docs" / "benchmarks" / "real-suites.md"
    out.write_text(
        f"<!-- written by scripts/real-suites.py ({args.rounds} alternating rounds, medians) -->\n"
        f"{table}\n"
    )
    print(table)
    print("\nleak reports:" if findings else "\nno leak reports")
    for finding in findings:
        print(f"- {finding}")


if __name__ == "__main__":
    main()
