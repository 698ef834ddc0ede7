#!/usr/bin/env bash
# The release's devcontainer, proven in Docker on this machine.
#
#   bash xtask/tests/container.sh          # the student's loop, as the container's user
#   bash xtask/tests/container.sh --root   # `cargo xtask check 3` without 03's close, as root
#
# Run it by hand, as root, on a Debian machine (it takes about ten minutes
# the first time, most of it debootstrap and cold builds; not part of
# .ci/run). It installs docker.io, debootstrap and tmux when missing, starts
# dockerd (vfs storage, no bridge: no network in the containers) unless one
# runs, and stops the one it started.
#
# No image registry is reachable here, so the base image is a minbase
# Debian bookworm from debootstrap, imported with `docker import`, that
# already holds what the Dockerfile would otherwise fetch: the system
# packages, this machine's rustup and the Rust release the Dockerfile pins
# (with rustfmt, clippy, rust-src), and an mdbook of the pinned version
# built with that Rust. The Dockerfile installs only what its base lacks,
# so it builds from that base offline (`--build-arg BASE=`), and every
# other step of it runs as it does for students. The crates come from a
# `cargo vendor` of this workspace, mounted read-only, in place of
# crates.io.
#
# The student's loop, timed: make the release (as the container's user,
# from a copy of this workspace), check it (every exercise fails), paste the
# reference solutions (full marks), remove 03's close (the deadlock named,
# and how soon), `watch --poll` under tmux (a save turns 03 green), build the
# book, trace 03. Then, in a second container started from a fresh
# release, as a student's first minutes: the seconds from "container
# started" to the first green check of 01 after pasting its solution.
set -euo pipefail

mode=student
case "${1:-}" in
  "") ;;
  --root) mode=root ;;
  *) echo "usage: bash xtask/tests/container.sh [--root]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
work=${IPC_LAB_CONTAINER_WORK:-/var/tmp/ipc-lab-container}
base=ipc-lab-base:bookworm
image=ipc-lab-devcontainer
mkdir -p "$work"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf '\n== %s\n' "$*"; }
result() { printf -- '-> %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "container.sh: run it as root (it starts dockerd and debootstraps a base image)" >&2
  exit 2
fi

# ---- tools and the daemon ----------------------------------------------
missing=()
for tool in dockerd:docker.io debootstrap:debootstrap tmux:tmux; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
docker=/usr/bin/docker
[ -x "$docker" ] || docker=docker

started_dockerd=
containers=()
cleanup() {
  for c in "${containers[@]}"; do "$docker" rm -f "$c" >/dev/null 2>&1 || true; done
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null || true
    wait "$started_dockerd" 2>/dev/null || true
  fi
}
trap cleanup EXIT
if ! "$docker" info >/dev/null 2>&1; then
  dockerd --storage-driver=vfs --iptables=false --bridge=none >"$work/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 100); do "$docker" info >/dev/null 2>&1 && break; sleep 0.2; done
  "$docker" info >/dev/null 2>&1 || { echo "dockerd did not start: see $work/dockerd.log" >&2; exit 2; }
fi

# ---- the release's devcontainer, and what it pins -------------------------
# The image is built from the devcontainer of a release made here; the one
# made inside the container below must be the same.
cd "$root"
cargo build --quiet -p xtask
host_release="$work/host-release"
rm -rf "$host_release"
target/debug/xtask release "$host_release" >/dev/null
devcontainer="$host_release/.devcontainer"
arg() { sed -n "s/^ARG $1=//p" "$devcontainer/Dockerfile"; }
rust=$(arg RUST_VERSION)
mdbook=$(arg MDBOOK_VERSION)
triple=$(rustc -vV | sed -n 's/^host: //p')
user=$(arg USERNAME)
home=/home/$user

# ---- the base image: debootstrap, plus what the Dockerfile would fetch --------
if ! "$docker" image inspect "$base" >/dev/null 2>&1; then
  say "base image $base (debootstrap, once)"
  t=$(now)
  rootfs="$work/rootfs"
  if [ ! -x "$rootfs/usr/bin/gcc" ]; then
    rm -rf "$rootfs"
    debootstrap --variant=minbase \
      --include=ca-certificates,curl,gcc,libc6-dev,git,procps,tmux,less \
      bookworm "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log"
  fi
  rustup toolchain list | grep -q "^$rust-" || rustup toolchain install "$rust" --profile minimal
  rustup component add --toolchain "$rust" rustfmt clippy rust-src >/dev/null 2>&1
  mdbook_bin="$work/mdbook-$mdbook/bin/mdbook"
  if [ ! -x "$mdbook_bin" ]; then
    cargo "+$rust" install mdbook --version "$mdbook" --locked --root "$work/mdbook-$mdbook"
  fi
  rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
  mkdir -p "$rootfs/usr/local/rustup/toolchains" "$rootfs/usr/local/cargo/bin"
  rm -rf "$rootfs/usr/local/rustup/toolchains/$rust-$triple"
  cp -a "$rustup_home/toolchains/$rust-$triple" "$rootfs/usr/local/rustup/toolchains/"
  cp "$(command -v rustup)" "$rootfs/usr/local/cargo/bin/rustup"
  for proxy in cargo rustc rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver rust-gdb; do
    ln -sf rustup "$rootfs/usr/local/cargo/bin/$proxy"
  done
  cp "$mdbook_bin" "$rootfs/usr/local/bin/mdbook"
  tar -C "$rootfs" -c . | "$docker" import - "$base" >/dev/null
  result "$base imported in $(since "$t") s"
fi

# ---- the image -----------------------------------------------------------
say "image $image from $devcontainer (BASE=$base)"
t=$(now)
"$docker" build --quiet --network none --build-arg "BASE=$base" -t "$image" "$devcontainer" >/dev/null
result "image built in $(since "$t") s (Rust $rust, mdbook $mdbook, user $user)"

# ---- crates, offline ------------------------------------------------------
vendor="$work/vendor"
if [ ! -f "$vendor/.lock-of" ] || ! cmp -s "$vendor/.lock-of" Cargo.lock; then
  rm -rf "$vendor"
  cargo vendor --locked --quiet "$vendor" >/dev/null
  cp Cargo.lock "$vendor/.lock-of"
fi
cargo_config='[source.crates-io]
replace-with = "vendored"
[source.vendored]
directory = "/opt/vendor"
[net]
offline = true'

# Starts a container of the image (as `$1`: the image's user or root) with
# the vendored crates, no network, Docker's default capabilities, into the
# variable named `$2`; the cleanup at exit removes it.
start_container() {
  local who=$1 id
  id=$("$docker" run -d --network none --user "$who" -v "$vendor:/opt/vendor:ro" "$image" sleep infinity)
  containers+=("$id")
  printf -v "$2" '%s' "$id"
}
# Runs a shell command in container `$1` as `$2`, from `$3`.
run_in() {
  local c=$1 who=$2 dir=$3
  shift 3
  "$docker" exec -i --user "$who" -w "$dir" "$c" bash -c "$*"
}
# Copies this workspace (no target/, no .git) into container `$1` at `$2`.
copy_workspace() {
  local c=$1 to=$2 who=$3
  run_in "$c" "$who" / "mkdir -p '$to'"
  tar -C "$root" --exclude=./target --exclude=./.git -c . | run_in "$c" "$who" "$to" "tar -x"
}

if [ "$mode" = root ]; then
  # ---- as root, Docker's default capabilities: 03 without its close ------------
  say "as root in the container: cargo xtask check 3, 03's close removed"
  start_container root c
  run_in "$c" root /root "mkdir -p .cargo && cat > .cargo/config.toml" <<<"$cargo_config"
  copy_workspace "$c" /root/reference root
  run_in "$c" root /root/reference "cargo xtask release /root/ipc-lab >/dev/null"
  run_in "$c" root /root "cp reference/crates/03-closing-ends/src/main.rs ipc-lab/crates/03-closing-ends/src/main.rs \
    && sed -i '/^ *drop(write_end);\$/d' ipc-lab/crates/03-closing-ends/src/main.rs \
    && echo \"03's close removed: \$(grep -c 'drop(write_end)' ipc-lab/crates/03-closing-ends/src/main.rs) drop(write_end) left\"" || true
  run_in "$c" root /root/ipc-lab "cargo build --quiet -p closing-ends -p xtask"
  run_in "$c" root /root/ipc-lab "id; grep -E '^Cap(Eff|Bnd)' /proc/self/status; cargo xtask check 3 -v" || true
  exit 0
fi

# ---- the student's loop, as the image's user --------------------------------
start_container "$user" c
run_in "$c" "$user" "$home" "mkdir -p .cargo && cat > .cargo/config.toml" <<<"$cargo_config"
copy_workspace "$c" "$home/reference" "$user"
run_in "$c" "$user" "$home" "id; rustc --version; cargo --version; mdbook --version; cargo clippy --version; rustfmt --version"

say "make the student release, as $user"
t=$(now)
run_in "$c" "$user" "$home/reference" "cargo xtask release $home/ipc-lab" | tail -1
"$docker" cp "$c:$home/ipc-lab/.devcontainer/Dockerfile" "$work/in-container.Dockerfile"
cmp -s "$work/in-container.Dockerfile" "$devcontainer/Dockerfile" \
  || { echo "the release made in the container has another Dockerfile" >&2; exit 1; }
result "released in $(since "$t") s (building xtask included)"

say "first check of the fresh release (every exercise must fail)"
t=$(now)
out=$(run_in "$c" "$user" "$home/ipc-lab" "cargo xtask check --quiet" 2>&1) && status=0 || status=$?
summary=$(tail -1 <<<"$out")
grep -E "^[✓✗] [0-9][0-9] [^:]*$" <<<"$out" || true
echo "$summary"
[ "$status" = 1 ] && grep -q "^0/[0-9]* exercises pass" <<<"$summary" \
  || { echo "expected every exercise to fail (exit 1), got exit $status" >&2; exit 1; }
result "first check: exit $status, every exercise fails, $(since "$t") s (cold build included)"

say "the reference solutions pasted in (full marks)"
run_in "$c" "$user" "$home" 'for d in reference/crates/[0-9][0-9]-*; do cp "$d/src/main.rs" "ipc-lab/crates/${d##*/}/src/main.rs"; done'
t=$(now)
out=$(run_in "$c" "$user" "$home/ipc-lab" "cargo xtask check" 2>&1) && status=0 || status=$?
summary=$(tail -1 <<<"$out")
echo "$summary"
[ "$status" = 0 ] || { echo "$out" >&2; exit 1; }
result "full marks: $summary; $(since "$t") s"

say "03 without its close: the deadlock named"
main03=crates/03-closing-ends/src/main.rs
run_in "$c" "$user" "$home/ipc-lab" "sed -i '/^ *drop(write_end);\$/d' $main03 && cargo build --quiet -p closing-ends"
t=$(now)
out=$(run_in "$c" "$user" "$home/ipc-lab" "cargo xtask check 3 -v" 2>&1) && status=0 || status=$?
took=$(since "$t")
grep -E "^✗ 03|blocked in|write end is still open" <<<"$out" | head -8
grep -q "write end is still open" <<<"$out" || { echo "$out" >&2; echo "no deadlock diagnosis" >&2; exit 1; }
result "deadlock named: exit $status; each failing check's time is on its ✗ line; the whole command $took s"

say "watch --poll under tmux: restore the close, see 03 turn green"
run_in "$c" "$user" "$home/ipc-lab" "tmux new-session -d -s watch -x 150 -y 45 'cargo xtask watch --poll'"
screen() { run_in "$c" "$user" "$home" "tmux capture-pane -p -t watch" 2>/dev/null || true; }
for _ in $(seq 600); do screen | grep -q "03 closing-ends" && ! screen | grep -q "building" && break; sleep 0.1; done
screen | sed -n '1,6p'
t=$(now)
run_in "$c" "$user" "$home" "cp reference/$main03 ipc-lab/$main03"
green=
for _ in $(seq 600); do
  if screen | grep -q "every exercise done"; then green=$(since "$t"); break; fi
  sleep 0.1
done
screen | grep -E "passes|every exercise|watching|polling" | head -4
run_in "$c" "$user" "$home" "tmux send-keys -t watch q" || true
[ -n "$green" ] || { echo "watch did not turn green within 60 s" >&2; exit 1; }
result "watch: save to green in $green s"

say "the book"
t=$(now)
run_in "$c" "$user" "$home/ipc-lab" "cargo xtask docs 2>&1 | grep -v INFO"
run_in "$c" "$user" "$home/ipc-lab" "test -s target/book/index.html && test -s target/book/01-selfpipe.html"
result "book built in $(since "$t") s"

say "the tracer (ptrace in a default Docker container)"
t=$(now)
out=$(run_in "$c" "$user" "$home/ipc-lab" "cargo xtask trace 3" 2>&1) && status=0 || status=$?
head -4 <<<"$out"
[ "$status" = 0 ] || { echo "$out" >&2; echo "cargo xtask trace 3 failed" >&2; exit 1; }
result "trace 3: exit $status, $(wc -l <<<"$out") lines, $(since "$t") s"

# ---- a student's first minutes, from a fresh release ----------------------
say "a fresh release in a new container: from start to 01 green"
rm -rf "$work/fresh"
run_in "$c" "$user" "$home/reference" "rm -rf $home/fresh && cargo xtask release $home/fresh >/dev/null"
"$docker" cp "$c:$home/fresh" "$work/fresh"
"$docker" cp "$c:$home/reference/crates/01-selfpipe/src/main.rs" "$work/01-solution.rs"
t0=$(now)
start_container "$user" f
run_in "$f" "$user" "$home" "mkdir -p .cargo && cat > .cargo/config.toml" <<<"$cargo_config"
tar -C "$work/fresh" -c . | run_in "$f" "$user" "$home" "mkdir ipc-lab && tar -C ipc-lab -x"
started=$(since "$t0")
run_in "$f" "$user" "$home/ipc-lab" "cargo build --quiet --workspace"
built=$(since "$t0")
run_in "$f" "$user" "$home/ipc-lab" "cat > crates/01-selfpipe/src/main.rs" <"$work/01-solution.rs"
run_in "$f" "$user" "$home/ipc-lab" "cargo xtask check 1" | tail -1
green=$(since "$t0")
result "container started and repository in: $started s; postCreateCommand (cargo build --workspace) done: $built s; 01 green: $green s after start"
rm -rf "$work/fresh"
echo
echo "container.sh: all steps passed"
