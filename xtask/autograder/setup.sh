#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image
# (written by `cargo xtask autograder`). It installs what grading needs and
# builds the grader, so that each submission's run only compiles the
# student's exercises.
set -euo pipefail

# The Rust release the bundle was made and tested with.
RUST_VERSION="@RUST_VERSION@"
SOURCE="$(cd "$(dirname "$0")" && pwd)" # /autograder/source on Gradescope
WORKSPACE="$SOURCE/ipc-lab"

# A C toolchain (rustc links with cc), curl for rustup, unzip for .zip submissions.
if command -v apt-get >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    build-essential ca-certificates curl unzip
fi

# Rust, with rustup's official installer.
if ! command -v rustup >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/rustup" ]; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --default-toolchain "$RUST_VERSION"
fi
# shellcheck source=/dev/null
. "$HOME/.cargo/env"
rustup toolchain install "$RUST_VERSION" --profile minimal
rustup default "$RUST_VERSION"

cd "$WORKSPACE"
cargo build --release --locked -p xtask

# The reference holds the solutions and the hidden checks: root's only.
# Submissions compile and run as users of their own (the sandbox's uid
# pool), who must not read them.
chmod 700 "$SOURCE"

# Self-test of this image: the reference must score full marks. Grading it
# also builds the dependencies into the grading cache, and grading the
# student release compiles the untouched stubs, so a student's run compiles
# only the exercises they changed.
selftest="$(mktemp -d)"
./target/release/xtask grade "$WORKSPACE" --out "$selftest/grades"
if ! awk -F, 'NR == 2 { ok = ($(NF - 1) == $NF) } END { exit ok ? 0 : 1 }' "$selftest/grades/grades.csv"; then
  echo "setup.sh: the reference solution does not score full marks here:" >&2
  cat "$selftest/grades/grades.csv" >&2
  exit 1
fi
if ./target/release/xtask release "$selftest/release"; then
  ./target/release/xtask grade "$selftest/release" --out "$selftest/grades" >/dev/null || true
fi
rm -rf "$selftest"
echo "setup.sh: the autograder is ready (Rust $RUST_VERSION)"
