#!/usr/bin/env bash
# The README's test command: installs every package the tests use, starts the test world
# (containerd, dockerd, Podman's settings, PostgreSQL, the test images: scripts/test-env.sh)
# and runs the whole suite. Extra arguments go to `cargo test` (e.g. `-p parsers`, a test
# name). Run as root: the tests read the kernel's audit stream and drive real engines.
#   sudo -E env "PATH=$PATH" scripts/test.sh
# SECCOMP_WATCH_SKIP_INSTALL=1 skips apt-get (packages already there).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/test.sh: run as root (sudo -E env \"PATH=\$PATH\" scripts/test.sh)" >&2; exit 1; }
start_s=$(date +%s)
[ "${SECCOMP_WATCH_SKIP_INSTALL:-0}" = 1 ] || scripts/test-env.sh install
scripts/test-env.sh up
set -a
# shellcheck disable=SC1091
. "${SECCOMP_WATCH_TEST_STATE:-/run/seccomp-watch-test}/env"
set +a
echo "[test] test world ready in $(( $(date +%s) - start_s )) s"
# --no-fail-fast: every failing test binary is reported, not only the first.
cargo test --workspace --no-fail-fast "$@"
