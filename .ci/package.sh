#!/usr/bin/env bash
# Builds the Debian package with cargo-deb, installs it with dpkg -i, checks its contents
# and runs `seccomp-watch doctor` from the installed binary (exit 0 healthy or 1 warnings
# pass; 2, fatal, fails), then purges it again.
#   cargo-deb: scripts/test-env.sh install installs it (pinned); installed here the same
#   way when missing (about 3 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

if ! cargo deb --version >/dev/null 2>&1; then
  version=$(sed -n 's/^CARGO_DEB_VERSION=//p' scripts/test-env.sh)
  echo "-- cargo install cargo-deb --version $version --locked"
  start=$(date +%s)
  cargo install cargo-deb --version "$version" --locked --quiet
  echo "cargo-deb installed in $(( $(date +%s) - start )) s"
fi

echo "-- cargo build --release -p seccomp-watch"
cargo build --release --quiet -p seccomp-watch --bin seccomp-watch
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release/seccomp-watch"
assets="$target_dir/release/deb-assets"
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" man --out-dir "$assets/man" >/dev/null
gzip -9n "$assets"/man/*.1
for sh in bash zsh fish; do
  "$bin" completions "$sh" --out-dir "$assets/completions" >/dev/null
done

echo "-- cargo deb"
deb=$(cargo deb -p seccomp-watch --no-build 2>&1 | tail -1)
echo "$deb"
[ -f "$deb" ] || { echo "FAIL: cargo deb made no package"; exit 1; }
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'

echo "-- dpkg -i"
dpkg --purge seccomp-watch >/dev/null 2>&1 || true
dpkg -i "$deb"
trap 'dpkg --purge seccomp-watch >/dev/null 2>&1 || true' EXIT

echo "-- contents"
for f in /usr/bin/seccomp-watch /etc/seccomp-watch/config.toml \
  /lib/systemd/system/seccomp-watch.service \
  /usr/share/man/man1/seccomp-watch.1.gz /usr/share/man/man1/seccomp-watch-doctor.1.gz \
  /usr/share/bash-completion/completions/seccomp-watch \
  /usr/share/zsh/vendor-completions/_seccomp-watch \
  /usr/share/fish/vendor_completions.d/seccomp-watch.fish \
  /usr/share/doc/seccomp-watch/examples/config.toml /usr/share/doc/seccomp-watch/examples/rules.toml \
  /usr/share/seccomp-watch/seccomp-watch.seccomp.json /usr/share/seccomp-watch/dashboards/seccomp-watch.json; do
  if [ ! -e "$f" ]; then
    # usrmerge systems may list the unit under /usr/lib.
    [ -e "/usr$f" ] || { echo "FAIL: $f is not installed"; dpkg -L seccomp-watch; exit 1; }
  fi
done
dpkg-query --showformat='${Conffiles}\n' --show seccomp-watch | grep -q /etc/seccomp-watch/config.toml \
  || { echo "FAIL: config.toml is not a conffile"; exit 1; }
zcat /usr/share/man/man1/seccomp-watch.1.gz | grep -q '^\.TH' || { echo "FAIL: bad man page"; exit 1; }
/usr/bin/seccomp-watch --version
echo "ok"

echo "-- seccomp-watch doctor (installed)"
set +e
/usr/bin/seccomp-watch doctor
rc=$?
/usr/bin/seccomp-watch doctor --json --no-probe | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["checks"], d'
jrc=${PIPESTATUS[0]}
set -e
echo "doctor exit code: $rc"
if [ "$rc" -ge 2 ] || [ "$jrc" -ge 2 ]; then
  echo "FAIL: doctor found a fatal problem"
  exit 1
fi
echo "ok: package built, installed, doctor ran"
