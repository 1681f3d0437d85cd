//! The Debian package of this build, for tests that install it (the systemd container
//! test, the Containerfile test): [`deb`] makes it once per build from the test build's own
//! `seccomp-watch` binary with cargo-deb, as `.ci/package.sh` does for the release one.
//!
//! How: the binary (of `target/debug` or `target/release`, whichever the tests run from),
//! its man pages and shell completions are staged under `target/<profile>/deb-test/stage/
//! release/`, and `cargo deb -p seccomp-watch --no-build --strip --fast` runs with
//! `CARGO_TARGET_DIR` pointing at the stage, so the `target/release/...` asset paths of
//! `daemon/Cargo.toml` name the staged files (cargo-deb's `--profile dev` would do the same
//! but warns that it will refuse dev profiles). Stripped, the debug build's package is
//! about 8 MB and takes about 6 s.
//!
//! Once: an flock on `deb-test/lock` serialises the test binaries of one `cargo test` run
//! (they run in parallel), and the package is reused while a stamp of its inputs (the
//! binary's size and mtime, the packaging files' contents) is unchanged.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The cargo-deb version scripts/test-env.sh installs (`cargo install --locked`).
pub const CARGO_DEB_VERSION: &str = "3.8.0";

/// True when `cargo deb` runs here.
pub fn have_cargo_deb() -> bool {
    Command::new(env!("CARGO"))
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The package, or a skip (panics under `SECCOMP_WATCH_REQUIRE_ROOT_TESTS=1`) when
/// cargo-deb is missing.
pub fn deb_or_skip(test: &str) -> Option<PathBuf> {
    if !have_cargo_deb() {
        crate::world::skip(
            test,
            "cargo-deb is not installed (scripts/test-env.sh install installs it)",
        );
        return None;
    }
    Some(deb())
}

/// The `.deb` of this build (made at most once per change of its inputs; panics with
/// cargo-deb's output when it cannot be made).
pub fn deb() -> PathBuf {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(build).clone()
}

/// Files that go into the package besides the binary (their contents make the stamp).
const INPUTS: &[&str] = &[
    "daemon/Cargo.toml",
    "packaging/config.toml",
    "packaging/rules.toml",
    "packaging/seccomp-watch.service",
    "packaging/seccomp-watch.seccomp.json",
    "packaging/postinst",
    "packaging/postrm",
    "packaging/prerm",
    "dashboards/seccomp-watch.json",
    "dashboards/alerts.yml",
    "README.md",
];

fn stamp(bin: &Path) -> String {
    let root = crate::workspace_root();
    let mut h = Sha256::new();
    let meta = std::fs::metadata(bin).expect("binary metadata");
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    h.update(format!("{}:{}:{mtime}\n", bin.display(), meta.len()));
    for rel in INPUTS {
        h.update(rel.as_bytes());
        h.update(std::fs::read(root.join(rel)).unwrap_or_default());
    }
    hex::encode(h.finalize())
}

fn build() -> PathBuf {
    let bin = crate::bin();
    let profile_dir = bin.parent().expect("profile dir").to_path_buf();
    let work = profile_dir.join("deb-test");
    std::fs::create_dir_all(&work).expect("deb-test dir");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(work.join("lock"))
        .expect("lock file");
    // SAFETY: flock on an fd we own; released when `lock` is closed.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock: {}", std::io::Error::last_os_error());

    let out = work.join("out");
    let stamp_file = work.join("stamp");
    let want = stamp(&bin);
    if std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(want.as_str()) {
        if let Some(deb) = find_deb(&out) {
            return deb;
        }
    }
    let started = std::time::Instant::now();
    let stage = work.join("stage");
    let _ = std::fs::remove_dir_all(&stage);
    let _ = std::fs::remove_dir_all(&out);
    let rel = stage.join("release");
    let assets = rel.join("deb-assets");
    std::fs::create_dir_all(assets.join("man")).unwrap();
    std::fs::create_dir_all(assets.join("completions")).unwrap();
    let staged = rel.join("seccomp-watch");
    if std::fs::hard_link(&bin, &staged).is_err() {
        std::fs::copy(&bin, &staged).expect("copy the binary to the stage");
    }
    run(Command::new(&bin)
        .args(["man", "--out-dir"])
        .arg(assets.join("man")));
    let pages: Vec<PathBuf> = std::fs::read_dir(assets.join("man"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    for p in pages {
        gzip(&p);
    }
    for sh in ["bash", "zsh", "fish"] {
        run(Command::new(&bin)
            .args(["completions", sh, "--out-dir"])
            .arg(assets.join("completions")));
    }
    assert!(
        have_cargo_deb(),
        "cargo-deb is not installed: scripts/test-env.sh install (cargo install cargo-deb --version {CARGO_DEB_VERSION} --locked)"
    );
    run(Command::new(env!("CARGO"))
        .args([
            "deb",
            "-p",
            "seccomp-watch",
            "--no-build",
            "--strip",
            "--fast",
            "-o",
        ])
        .arg(&out)
        .env("CARGO_TARGET_DIR", &stage)
        .current_dir(crate::workspace_root()));
    let deb = find_deb(&out).expect("cargo deb made no .deb");
    std::fs::write(&stamp_file, &want).expect("write the stamp");
    eprintln!(
        "package: {} ({} KiB) made in {:.1} s",
        deb.display(),
        std::fs::metadata(&deb).map_or(0, |m| m.len() / 1024),
        started.elapsed().as_secs_f64()
    );
    deb
}

fn find_deb(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
}

fn gzip(p: &Path) {
    let data = std::fs::read(p).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&data).unwrap();
    let mut name = p.as_os_str().to_owned();
    name.push(".gz");
    std::fs::write(PathBuf::from(name), gz.finish().unwrap()).unwrap();
    std::fs::remove_file(p).unwrap();
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
