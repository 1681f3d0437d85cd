#!/usr/bin/env bash
# The test world of seccomp-watch, in one place: the packages the tests need, the
# container engines (containerd, dockerd, Podman), PostgreSQL, and the test images. A
# developer can run every step by hand; scripts/test.sh and .ci/run call it.
#
# Usage (as root):
#   scripts/test-env.sh install        apt-get install every package the tests use, and
#                                      cargo-deb (once)
#   scripts/test-env.sh up [PART...]   start what is not running and build missing images
#                                      (PART: containerd docker podman postgres images;
#                                      default: all of them)
#   scripts/test-env.sh env            print the environment the tests read (KEY=VALUE)
#   scripts/test-env.sh status         what runs, what this script started
#   scripts/test-env.sh down           stop what this script started (by pid), nothing else
#
# Engines already running on the host (a developer's own dockerd or containerd) are used,
# never restarted or stopped. What this script starts is recorded by pid in $STATE.
# Podman gets its settings from our own containers.conf through CONTAINERS_CONF (in the
# env file), so a host's own Podman configuration is not changed.
#
# Facts of the CI machine: no systemd as PID 1 (engines are started by hand), cgroup v1
# hybrid (runc, cgroupfs; crun fails), root lacks CAP_SYS_RESOURCE (Podman's rlimits must
# stay within the hard limits), no container registry (images are imported from a rootfs:
# busybox-static, debootstrap --variant=minbase).
set -euo pipefail

STATE=${SECCOMP_WATCH_TEST_STATE:-/run/seccomp-watch-test}
CACHE=${SECCOMP_WATCH_TEST_CACHE:-/var/cache/seccomp-watch-test}
PG_PORT=${SECCOMP_WATCH_TEST_PG_PORT:-55432}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
IMG=localhost/seccomp-watch-test
CTR_NS=seccomp-watch-test
export CONTAINERS_CONF=$STATE/containers.conf

# Every package the tests use, in one apt-get install.
PACKAGES=(
  runc busybox-static auditd seccomp libseccomp-dev gcc libc6-dev gcc-multilib
  prometheus prometheus-alertmanager systemd python3 iproute2 iptables openssl
  podman conmon catatonit containernetworking-plugins slirp4netns uidmap
  docker.io containerd debootstrap postgresql
)

log() { printf '[test-env] %s\n' "$*" >&2; }
die() { printf '[test-env] FAIL: %s\n' "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "run as root (the engines and the audit stream need it)"; }

# pidfile NAME: the pid file of a process we started.
pidfile() { echo "$STATE/$1.pid"; }
ours_running() {
  local f; f=$(pidfile "$1")
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND until it succeeds.
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
  log "$what: up"
}

# start NAME LOG COMMAND...: start COMMAND in its own session, record its pid.
start() {
  local name=$1 logf=$2; shift 2
  setsid "$@" >"$logf" 2>&1 < /dev/null &
  echo $! > "$(pidfile "$name")"
  log "$name: started (pid $!, log $logf)"
}

cmd_install() {
  need_root
  export DEBIAN_FRONTEND=noninteractive
  # Debian's postinst scripts must not start services (PostgreSQL, dockerd, containerd,
  # Prometheus, auditd): the tests start their own. policy-rc.d exit 101 forbids it.
  local prc=/usr/sbin/policy-rc.d ours=0
  if [ ! -e "$prc" ]; then
    printf '#!/bin/sh\n# seccomp-watch test-env: no service starts during apt-get\nexit 101\n' > "$prc"
    chmod 755 "$prc"
    ours=1
  fi
  local start_s; start_s=$(date +%s)
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  [ "$ours" = 1 ] && rm -f "$prc"
  log "packages installed in $(( $(date +%s) - start_s )) s"
  install_cargo_deb
}

# cargo-deb makes the Debian package (.ci/package.sh, and tests/src/package.rs for the
# tests that install it). Not packaged by Debian: `cargo install`, pinned (about 3 minutes
# on 2 cores, once).
CARGO_DEB_VERSION=3.8.0
install_cargo_deb() {
  command -v cargo >/dev/null || die "cargo is not on PATH (sudo -E env \"PATH=\$PATH\" ...)"
  if cargo deb --version 2>/dev/null | grep -qx "cargo-deb $CARGO_DEB_VERSION"; then
    log "cargo-deb $CARGO_DEB_VERSION: already installed"; return
  fi
  local start_s; start_s=$(date +%s)
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
  log "cargo-deb $CARGO_DEB_VERSION installed in $(( $(date +%s) - start_s )) s"
}

up_containerd() {
  if ctr version >/dev/null 2>&1; then log "containerd: already running"; return; fi
  command -v containerd >/dev/null || die "containerd is not installed (scripts/test-env.sh install)"
  start containerd "$STATE/containerd.log" containerd
  wait_for 30 containerd ctr version || die "containerd did not start: $(tail -5 "$STATE/containerd.log")"
}

up_docker() {
  if docker info >/dev/null 2>&1; then log "dockerd: already running"; return; fi
  command -v dockerd >/dev/null || die "docker.io is not installed (scripts/test-env.sh install)"
  up_containerd
  start dockerd "$STATE/dockerd.log" dockerd --containerd=/run/containerd/containerd.sock \
    --host unix:///var/run/docker.sock
  wait_for 60 dockerd docker info || die "dockerd did not start: $(tail -5 "$STATE/dockerd.log")"
}

up_podman() {
  command -v podman >/dev/null || die "podman is not installed (scripts/test-env.sh install)"
  # Root lacks CAP_SYS_RESOURCE here: rlimits above the hard limits make runc fail
  # ("error setting rlimit type 7: operation not permitted"). 4096 is below them on every
  # machine seen.
  cat > "$CONTAINERS_CONF" <<EOF
# Written by scripts/test-env.sh; used through CONTAINERS_CONF by the tests.
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  podman info >/dev/null || die "podman info failed"
  log "podman: configured ($CONTAINERS_CONF)"
}

up_postgres() {
  local data=$STATE/pg/data sock=$STATE/pg
  if ours_running postgres && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
    log "postgres: already running (port $PG_PORT)"; return
  fi
  [ -x "$PG_BIN/initdb" ] || die "postgresql is not installed (scripts/test-env.sh install)"
  mkdir -p "$sock"
  chown postgres: "$sock"
  if [ ! -f "$data/PG_VERSION" ]; then
    local pw; pw=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    echo "$pw" > "$STATE/pg/password"
    chmod 600 "$STATE/pg/password"
    # A CA and a server certificate for the TLS tests (sslmode=verify-full).
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=seccomp-watch test CA" \
      -keyout "$sock/ca.key" -out "$sock/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout "$sock/server.key" -out "$sock/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$sock/san.ext"
    openssl x509 -req -in "$sock/server.csr" -CA "$sock/ca.crt" -CAkey "$sock/ca.key" \
      -CAcreateserial -days 30 -extfile "$sock/san.ext" -out "$sock/server.crt" 2>/dev/null
    chown postgres: "$sock"/server.* "$sock/ca.crt"
    chmod 600 "$sock/server.key"
    printf '%s\n' "$pw" > "$sock/pwfile"
    chown postgres: "$sock/pwfile"
    su postgres -s /bin/sh -c "'$PG_BIN/initdb' -D '$data' -U postgres --pwfile='$sock/pwfile' \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8" >/dev/null
    rm -f "$sock/pwfile"
    cat >> "$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sock'
ssl = on
ssl_cert_file = '$sock/server.crt'
ssl_key_file = '$sock/server.key'
max_connections = 200
shared_buffers = 256MB
fsync = on
EOF
  fi
  # pg_ctl forks the server and returns; its pid is in postmaster.pid.
  su postgres -s /bin/sh -c "'$PG_BIN/pg_ctl' -D '$data' -l '$sock/postgres.log' -w -t 60 start" >/dev/null \
    || die "postgres did not start: $(tail -5 "$sock/postgres.log")"
  head -1 "$data/postmaster.pid" > "$(pidfile postgres)"
  log "postgres: up (127.0.0.1:$PG_PORT, pid $(cat "$(pidfile postgres)"))"
}

# rootfs_busybox DIR: a minimal rootfs with busybox-static and its applets.
rootfs_busybox() {
  local dir=$1
  rm -rf "$dir"; mkdir -p "$dir"/{bin,etc,tmp,proc,sys,dev,root}
  cp /bin/busybox "$dir/bin/busybox"
  local a
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$dir/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/etc/passwd"
  echo 'root:x:0:' > "$dir/etc/group"
}

# debootstrap_tar NAME INCLUDE: a cached tar of a minbase Debian (with INCLUDE packages).
debootstrap_tar() {
  local name=$1 include=$2 tar=$CACHE/$1.tar
  if [ ! -s "$tar" ]; then
    local dir=$CACHE/$name.d start_s; start_s=$(date +%s)
    rm -rf "$dir"
    log "debootstrap $name (minbase${include:+, $include})"
    debootstrap --variant=minbase ${include:+--include="$include"} "$SUITE" "$dir" "$MIRROR" \
      >"$CACHE/$name.debootstrap.log" 2>&1 || die "debootstrap failed: $(tail -5 "$CACHE/$name.debootstrap.log")"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar -C "$dir" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$dir"
    log "debootstrap $name: $(( $(date +%s) - start_s )) s"
  fi
  echo "$tar"
}

PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# The test images, in Podman, Docker and containerd (namespace $CTR_NS):
#   $IMG/busybox:latest      busybox-static (fast)
#   $IMG/debian:bookworm     debootstrap minbase (GNU ls, as in the article)
#   $IMG/k8s-label:latest    busybox whose image config carries Kubernetes and compose labels
#                            (an image author's attempt to pose as another workload)
#   $IMG/systemd:bookworm    minbase + systemd (PID 1 in a container, Podman only)
up_images() {
  mkdir -p "$CACHE"
  local bb=$CACHE/busybox.tar
  if [ ! -s "$bb" ] || [ /bin/busybox -nt "$bb" ]; then
    rootfs_busybox "$CACHE/busybox.d"
    tar -C "$CACHE/busybox.d" -cf "$bb.tmp" . && mv "$bb.tmp" "$bb"
    rm -rf "$CACHE/busybox.d"
  fi
  local deb; deb=$(debootstrap_tar debian-minbase "")
  local sysd; sysd=$(debootstrap_tar debian-systemd "systemd,systemd-sysv,dbus,procps")
  local evil=(--change "LABEL io.kubernetes.pod.namespace=kube-system"
    --change "LABEL io.kubernetes.pod.name=coredns-abc" --change "LABEL io.kubernetes.container.name=coredns"
    --change "LABEL com.docker.compose.project=infra" --change "LABEL com.docker.compose.service=dns")

  if command -v podman >/dev/null; then
    podman image exists "$IMG/busybox:latest" || podman import -q --change "ENV $PATH_ENV" "$bb" "$IMG/busybox:latest" >/dev/null
    podman image exists "$IMG/k8s-label:latest" || podman import -q --change "ENV $PATH_ENV" "${evil[@]}" "$bb" "$IMG/k8s-label:latest" >/dev/null
    podman image exists "$IMG/debian:bookworm" || podman import -q --change "ENV $PATH_ENV" "$deb" "$IMG/debian:bookworm" >/dev/null
    podman image exists "$IMG/systemd:bookworm" || podman import -q --change "ENV $PATH_ENV" \
      --change 'CMD ["/sbin/init"]' "$sysd" "$IMG/systemd:bookworm" >/dev/null
    log "images: podman"
  fi
  if docker info >/dev/null 2>&1; then
    docker image inspect "$IMG/busybox:latest" >/dev/null 2>&1 || docker import --change "ENV $PATH_ENV" "$bb" "$IMG/busybox:latest" >/dev/null
    docker image inspect "$IMG/k8s-label:latest" >/dev/null 2>&1 || docker import --change "ENV $PATH_ENV" "${evil[@]}" "$bb" "$IMG/k8s-label:latest" >/dev/null
    docker image inspect "$IMG/debian:bookworm" >/dev/null 2>&1 || docker import --change "ENV $PATH_ENV" "$deb" "$IMG/debian:bookworm" >/dev/null
    log "images: docker"
  fi
  if ctr version >/dev/null 2>&1 && command -v podman >/dev/null; then
    # ctr imports image archives, not a bare rootfs: podman save makes one.
    local ref
    for ref in "$IMG/busybox:latest" "$IMG/debian:bookworm"; do
      if ! ctr -n "$CTR_NS" images check "name==$ref" 2>/dev/null | grep -q .; then
        local arch=$CACHE/ctr-$(echo "$ref" | tr '/:' '__').tar
        rm -f "$arch"
        podman save -q --format docker-archive -o "$arch" "$ref"
        ctr -n "$CTR_NS" images import --all-platforms "$arch" >/dev/null
        rm -f "$arch"
      fi
    done
    log "images: containerd (namespace $CTR_NS)"
  fi
}

cmd_up() {
  need_root
  mkdir -p "$STATE" "$CACHE"
  chmod 755 "$STATE"
  # SCMP_ACT_LOG records appear only when the kernel logs the `log` action.
  if ! grep -qw log /proc/sys/kernel/seccomp/actions_logged; then
    echo "$(cat /proc/sys/kernel/seccomp/actions_logged) log" > /proc/sys/kernel/seccomp/actions_logged
  fi
  local parts=("$@")
  [ ${#parts[@]} -gt 0 ] || parts=(containerd docker podman postgres images)
  local p start_s
  for p in "${parts[@]}"; do
    start_s=$(date +%s)
    case $p in
      containerd) up_containerd ;;
      docker) up_docker ;;
      podman) up_podman ;;
      postgres) up_postgres ;;
      images) up_images ;;
      *) die "unknown part: $p" ;;
    esac
    log "$p: $(( $(date +%s) - start_s )) s"
  done
  cmd_env > "$STATE/env"
}

cmd_env() {
  echo "CONTAINERS_CONF=$CONTAINERS_CONF"
  echo "SECCOMP_WATCH_TEST_IMAGE_PREFIX=$IMG"
  echo "SECCOMP_WATCH_TEST_CTR_NAMESPACE=$CTR_NS"
  if [ -f "$STATE/pg/password" ]; then
    echo "SECCOMP_WATCH_TEST_PG=postgres://postgres:$(cat "$STATE/pg/password")@127.0.0.1:$PG_PORT/postgres"
    echo "SECCOMP_WATCH_TEST_PG_CA=$STATE/pg/ca.crt"
    echo "SECCOMP_WATCH_TEST_PG_BIN=$PG_BIN"
    echo "SECCOMP_WATCH_TEST_PG_DATA=$STATE/pg/data"
  fi
}

cmd_status() {
  local n
  for n in containerd dockerd postgres; do
    if ours_running "$n"; then echo "$n: started by test-env (pid $(cat "$(pidfile "$n")"))"
    else echo "$n: not started by test-env"; fi
  done
  ctr version >/dev/null 2>&1 && echo "containerd: reachable" || echo "containerd: not reachable"
  docker info >/dev/null 2>&1 && echo "dockerd: reachable" || echo "dockerd: not reachable"
}

cmd_down() {
  need_root
  local n pid
  if ours_running postgres; then
    su postgres -s /bin/sh -c "'$PG_BIN/pg_ctl' -D '$STATE/pg/data' -m fast -w stop" >/dev/null || true
    rm -f "$(pidfile postgres)"
  fi
  for n in dockerd containerd; do
    if ours_running "$n"; then
      pid=$(cat "$(pidfile "$n")")
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
      log "$n: stopped (pid $pid)"
    fi
    rm -f "$(pidfile "$n")"
  done
}

case ${1:-} in
  install) cmd_install ;;
  up) shift; cmd_up "$@" ;;
  env) cmd_env ;;
  status) cmd_status ;;
  down) cmd_down ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
