//! Shared helpers for the end-to-end tests: root checks, the built `seccomp-watch`
//! binary, the compiled `seccomp-demo` test program, and small waiting utilities; the
//! Debian package of this build ([`package::deb`]).

pub mod engines;
pub mod package;
pub mod runc;
pub mod world;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// True when running as root. When not root: with `SECCOMP_WATCH_REQUIRE_ROOT_TESTS=1`
/// this panics (CI must run these tests), otherwise it prints why `test` is skipped.
pub fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("SECCOMP_WATCH_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
        panic!("{test}: needs root, and SECCOMP_WATCH_REQUIRE_ROOT_TESTS=1 forbids skipping");
    }
    eprintln!("SKIP {test}: needs root (to read audit records)");
    false
}

/// Like [`root_or_skip`] for a missing tool: skips unless root tests are required.
pub fn tool_or_skip(test: &str, tool: &str) -> bool {
    if which(tool).is_some() {
        return true;
    }
    if std::env::var("SECCOMP_WATCH_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
        panic!("{test}: needs {tool}, and SECCOMP_WATCH_REQUIRE_ROOT_TESTS=1 forbids skipping");
    }
    eprintln!("SKIP {test}: {tool} is not installed");
    false
}

/// The full path of `tool` on PATH (plus /usr/sbin and /sbin).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let mut dirs: Vec<&str> = path.split(':').collect();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
    dirs.into_iter()
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A file under `tests/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// The `seccomp-watch` binary of this build (built once if it is not there yet).
pub fn bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // Test executables live in target/<profile>/deps/.
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target dir")
            .to_path_buf();
        let bin = profile_dir.join("seccomp-watch");
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "seccomp-watch",
                "--bin",
                "seccomp-watch",
            ])
            .args(if profile_dir.ends_with("release") {
                &["--release"][..]
            } else {
                &[][..]
            })
            .current_dir(workspace_root())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build -p seccomp-watch failed");
        assert!(bin.is_file(), "no binary at {}", bin.display());
        bin
    })
    .clone()
}

/// The `seccomp-demo` test program (tests/programs/seccomp-demo.c), compiled once;
/// `m32` builds the i386 variant (compat records).
pub fn seccomp_demo(m32: bool) -> PathBuf {
    static B64: OnceLock<PathBuf> = OnceLock::new();
    static B32: OnceLock<PathBuf> = OnceLock::new();
    let cell = if m32 { &B32 } else { &B64 };
    cell.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/seccomp-demo.c");
        let dir = std::env::temp_dir().join(format!("seccomp-watch-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let out = dir.join(if m32 {
            "seccomp-demo32"
        } else {
            "seccomp-demo"
        });
        let mut cmd = Command::new("gcc");
        cmd.args(["-O2", "-Wall", "-o"]).arg(&out).arg(&src);
        if m32 {
            cmd.arg("-m32");
        }
        let st = cmd.status().expect("run gcc");
        assert!(st.success(), "gcc failed for {}", src.display());
        out
    })
    .clone()
}

/// Another C program of `tests/programs/` (`NAME.c`), compiled once per test process.
pub fn program(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(n, _)| n == name) {
        return p.clone();
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("programs/{name}.c"));
    let dir = std::env::temp_dir().join(format!("seccomp-watch-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join(name);
    let st = Command::new("gcc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("run gcc");
    assert!(st.success(), "gcc failed for {}", src.display());
    built.push((name.to_string(), out.clone()));
    out
}

/// Polls `f` every 50 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GET `path` on 127.0.0.1:`port` (with a `Host` naming that address): (status, body,
/// de-chunked); None when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8(buf).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Some((status, body.to_string()));
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((len, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).ok()?;
        if n == 0 {
            break;
        }
        out.push_str(tail.get(..n)?);
        rest = tail.get(n + 2..)?;
    }
    Some((status, out))
}

/// A free TCP port on loopback (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The value of one sample of a Prometheus text scrape: `series` is the metric name with
/// its labels exactly as rendered (`name{a="b"}`), or the bare name.
pub fn scrape_value(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}
