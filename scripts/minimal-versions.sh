#!/usr/bin/env bash
# Builds and tests Iris against the lowest version of each direct dependency that
# Cargo.toml declares, so that a user's older lockfile never breaks their build
# (and, in the same build, with dependencies' debug information as line tables only).
#
# With a nightly toolchain: `cargo +nightly update -Z direct-minimal-versions`.
# Without one: each direct dependency is pinned to its declared minimum with
# `cargo update --precise` (a weaker check: indirect dependencies stay as they are).
# Runs in a scratch copy of the repository (the lockfile is rewritten) with a target
# directory of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# At a fixed path: test binaries bake in their package's path (CARGO_MANIFEST_DIR),
# and cargo reuses them across runs when the sources are unchanged, so a fresh
# temporary directory each run left them reading a deleted one.
scratch="$root/target/minimal-versions/package"
rm -rf "$scratch"
mkdir -p "$scratch"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$scratch"
cd "$scratch"
export CARGO_TARGET_DIR="$root/target/minimal-versions"
# This build also gives the dependencies line tables only, a common setting (it builds
# faster): their inlined functions are then named without their paths, and the
# end-to-end tests check that reports still tell Iris's and the dependencies' frames
# from the user's (a creation site once read `backtrace-0.3.77/src/backtrace/mod.rs`).
mkdir -p .cargo
cat >>.cargo/config.toml <<'TOML'
[profile.dev.package."*"]
debug = "line-tables-only"
TOML

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "resolving with cargo +nightly update -Z direct-minimal-versions"
  cargo +nightly update -Z direct-minimal-versions
else
  echo "no nightly toolchain: pinning each direct dependency to its declared minimum"
  cargo metadata --format-version 1 --no-deps |
    python3 -c '
import json, re, sys
seen = set()
for package in json.load(sys.stdin)["packages"]:
    for dep in package["dependencies"]:
        if dep.get("path") or dep["name"] in seen:
            continue
        m = re.match(r"\^?(\d+)(?:\.(\d+))?(?:\.(\d+))?$", dep["req"])
        if m:
            seen.add(dep["name"])
            print(dep["name"], ".".join(p or "0" for p in m.groups()))
' |
    while read -r name version; do
      cargo update -p "$name" --precise "$version" || echo "could not pin $name to $version"
    done
fi

# The compile-fail cases are about our macro, not our dependencies' versions, and
# trybuild would build every dependency once more: skip them here. Under nextest when
# it is there: its processes run beside each other across test binaries (76 s
# against 88 s one binary after another, on 2 cores).
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --profile ci \
    -E 'not test(attribute_mistakes_are_compile_errors)'
else
  cargo test --workspace --all-features -- --skip attribute_mistakes_are_compile_errors
fi
