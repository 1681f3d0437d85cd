//! The test world that `scripts/test-env.sh up` starts (containerd, dockerd, Podman's
//! settings, PostgreSQL, the test images), as the tests see it: its environment file and
//! one check per part that skips, or fails under `SECCOMP_WATCH_REQUIRE_ROOT_TESTS=1`,
//! when the part is not there.
//!
//! The environment comes from the process environment first (`scripts/test.sh` exports
//! it), else from `$SECCOMP_WATCH_TEST_STATE/env` (default `/run/seccomp-watch-test/env`),
//! so a plain `cargo test` works once `scripts/test-env.sh up` has run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The state directory of `scripts/test-env.sh`.
pub fn state_dir() -> PathBuf {
    std::env::var_os("SECCOMP_WATCH_TEST_STATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/seccomp-watch-test"))
}

fn file_env() -> &'static BTreeMap<String, String> {
    static ENV: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let text = std::fs::read_to_string(state_dir().join("env")).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect()
    })
}

/// A variable of the test world: the process environment, else the env file.
pub fn var(key: &str) -> Option<String> {
    std::env::var(key)
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| file_env().get(key).cloned())
}

/// Whether a skip is forbidden (`SECCOMP_WATCH_REQUIRE_ROOT_TESTS=1`, as in CI).
pub fn skips_forbidden() -> bool {
    std::env::var("SECCOMP_WATCH_REQUIRE_ROOT_TESTS").as_deref() == Ok("1")
}

/// Skip `test` (print why and return false) or, when skips are forbidden, panic.
pub fn skip(test: &str, why: &str) -> bool {
    if skips_forbidden() {
        panic!("{test}: {why}, and SECCOMP_WATCH_REQUIRE_ROOT_TESTS=1 forbids skipping (run scripts/test-env.sh up)");
    }
    eprintln!("SKIP {test}: {why} (run scripts/test-env.sh up)");
    false
}

/// The PostgreSQL superuser URL of the test cluster, or a skip.
pub fn postgres_or_skip(test: &str) -> Option<String> {
    if !crate::root_or_skip(test) {
        return None;
    }
    match var("SECCOMP_WATCH_TEST_PG") {
        Some(url) => Some(url),
        None => {
            skip(test, "no test PostgreSQL (SECCOMP_WATCH_TEST_PG)");
            None
        }
    }
}

/// The CA that signed the test PostgreSQL's certificate (for `sslmode=verify-full`).
pub fn postgres_ca() -> Option<PathBuf> {
    var("SECCOMP_WATCH_TEST_PG_CA").map(PathBuf::from)
}

/// The name of a test image (`busybox:latest`, `debian:bookworm`, `k8s-label:latest`,
/// `systemd:bookworm`) as the engines know it.
pub fn image(name: &str) -> String {
    let prefix = var("SECCOMP_WATCH_TEST_IMAGE_PREFIX")
        .unwrap_or_else(|| "localhost/seccomp-watch-test".to_string());
    format!("{prefix}/{name}")
}

/// The containerd namespace of the test images.
pub fn ctr_namespace() -> String {
    var("SECCOMP_WATCH_TEST_CTR_NAMESPACE").unwrap_or_else(|| "seccomp-watch-test".to_string())
}

/// A `podman` command with the test world's settings (`CONTAINERS_CONF`: runc, cgroupfs,
/// rlimits within the hard limits).
pub fn podman() -> Command {
    let mut c = Command::new("podman");
    if let Some(conf) = var("CONTAINERS_CONF") {
        c.env("CONTAINERS_CONF", conf);
    }
    c
}

/// True when `cmd` runs and exits 0 (quietly).
fn works(mut cmd: Command) -> bool {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Docker is reachable, or a skip.
pub fn docker_or_skip(test: &str) -> bool {
    if !crate::root_or_skip(test) {
        return false;
    }
    let mut c = Command::new("docker");
    c.arg("info");
    works(c) || skip(test, "dockerd is not reachable")
}

/// Podman works (with the test world's settings), or a skip.
pub fn podman_or_skip(test: &str) -> bool {
    if !crate::root_or_skip(test) {
        return false;
    }
    if var("CONTAINERS_CONF").is_none() {
        return skip(
            test,
            "Podman is not configured for the tests (CONTAINERS_CONF)",
        );
    }
    let mut c = podman();
    c.args(["image", "exists", &image("busybox:latest")]);
    works(c) || skip(test, "podman or its test image is missing")
}

/// containerd is reachable through `ctr`, or a skip.
pub fn containerd_or_skip(test: &str) -> bool {
    if !crate::root_or_skip(test) {
        return false;
    }
    let mut c = Command::new("ctr");
    c.arg("version");
    works(c) || skip(test, "containerd is not reachable")
}
