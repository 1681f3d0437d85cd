//! Output files (`-o` of `merge`, `generate`, `suggest`, `record`) written as root into a
//! directory another user can write: a symlink that user plants at the temporary name
//! (formerly `.NAME.tmpPID`, predictable) or at the target itself never makes root write
//! through it. The link is planted by a real process of uid 1000, while the command is
//! stopped right before its exec (so its pid is known).

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use seccomp_watch_tests::{bin, fixture, root_or_skip, wait_for};
use support::*;

const ATTACKER: u32 = 1000;

/// `ln -s target link`, run as uid/gid 1000.
fn plant_link(target: &Path, link: &Path) {
    let st = Command::new("ln")
        .arg("-s")
        .arg(target)
        .arg(link)
        .uid(ATTACKER)
        .gid(ATTACKER)
        .status()
        .expect("run ln as uid 1000");
    assert!(st.success(), "ln -s as uid 1000 failed");
    let m = std::fs::symlink_metadata(link).unwrap();
    assert!(m.file_type().is_symlink());
    assert_eq!(m.uid(), ATTACKER, "the link belongs to the other user");
}

fn state_of(pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Runs `seccomp-watch ARGS` with the pid it will have known in advance: a shell stops
/// itself, `prepare(pid)` runs, the shell is continued and execs the command (same pid).
fn run_with_known_pid(args: &[&str], prepare: impl FnOnce(u32)) -> std::process::Output {
    let child = Command::new("sh")
        .arg("-c")
        .arg("kill -STOP $$; exec \"$0\" \"$@\"")
        .arg(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let pid = child.id();
    assert!(
        wait_for(Duration::from_secs(10), || (state_of(pid) == Some('T'))
            .then_some(()))
        .is_some(),
        "the shell did not stop"
    );
    prepare(pid);
    signal(pid, libc::SIGCONT);
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "seccomp-watch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A directory writable by uid 1000 (inside a root-only one) and a root-owned victim file
/// beside it.
struct Scene {
    _tmp: tempfile::TempDir,
    shared: std::path::PathBuf,
    victim: std::path::PathBuf,
}

const PRECIOUS: &str = "root's precious file\n";

impl Scene {
    fn new() -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::os::unix::fs::chown(&shared, Some(ATTACKER), Some(ATTACKER)).unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, PRECIOUS).unwrap();
        Scene {
            _tmp: tmp,
            shared,
            victim,
        }
    }

    fn assert_victim_intact(&self) {
        assert_eq!(
            std::fs::read_to_string(&self.victim).unwrap(),
            PRECIOUS,
            "root wrote through the other user's symlink"
        );
    }
}

fn assert_regular_profile(p: &Path) {
    let m = std::fs::symlink_metadata(p).unwrap();
    assert!(
        m.file_type().is_file(),
        "{} is not a regular file",
        p.display()
    );
    assert_eq!(m.uid(), 0);
    let text = std::fs::read_to_string(p).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).expect("a JSON profile");
    assert!(v.get("defaultAction").is_some(), "{text}");
}

/// What is left in `dir` besides `keep`: no temporary file may stay behind.
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

#[test]
fn merge_output_ignores_planted_symlinks() {
    if !root_or_skip("merge_output_ignores_planted_symlinks") {
        return;
    }
    let s = Scene::new();
    let out = s.shared.join("out.json");
    let a = fixture("profiles/docker-example.json");
    let b = fixture("profiles/fedora_ls_no-opt.json");
    let mut planted = String::new();
    run_with_known_pid(
        &[
            "merge",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        |pid| {
            // The old temporary name, and links at the target itself.
            planted = format!(".out.json.tmp{pid}");
            plant_link(&s.victim, &s.shared.join(&planted));
            plant_link(&s.victim, &out);
        },
    );
    s.assert_victim_intact();
    assert_regular_profile(&out);
    assert_eq!(
        leftovers(&s.shared, &["out.json", &planted]),
        Vec::<String>::new()
    );
}

#[test]
fn generate_output_ignores_planted_symlinks() {
    if !root_or_skip("generate_output_ignores_planted_symlinks") {
        return;
    }
    let s = Scene::new();
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("audit.log");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut text = String::new();
    for i in 0..5 {
        text.push_str(&seccomp_line(now - 60, 100 + i, 4242, "/out-files/app"));
    }
    append(&log, &text);
    let db = work.path().join("sw.db");
    let st = Command::new(bin())
        .args([
            "ingest",
            "--db",
            db.to_str().unwrap(),
            log.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let out = s.shared.join("gen.json");
    let mut planted = String::new();
    run_with_known_pid(
        &[
            "generate",
            "--db",
            db.to_str().unwrap(),
            "--workload",
            "exe:/out-files/app",
            "-o",
            out.to_str().unwrap(),
        ],
        |pid| {
            planted = format!(".gen.json.tmp{pid}");
            plant_link(&s.victim, &s.shared.join(&planted));
        },
    );
    s.assert_victim_intact();
    assert_regular_profile(&out);
    assert_eq!(
        leftovers(&s.shared, &["gen.json", &planted]),
        Vec::<String>::new()
    );
}
