//! The daemon's log output as journald and a terminal see it: no ANSI colour unless stderr
//! is a terminal (and never with NO_COLOR); under systemd (JOURNAL_STREAM naming stderr)
//! every line carries its syslog priority as sd-daemon's `<N>` prefix, so that journald
//! files warnings and errors as such; and an error's cause is printed once.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seccomp_watch_tests::{bin, root_or_skip, wait_for};

/// A config with an explicit rules file (valid), no HTTP.
fn setup(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"t\"\nseverity = \"low\"\nactions = [\"kill_process\"]\n",
    )
    .unwrap();
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!("rules = \"{}\"\n[http]\nlisten = \"\"\n", rules.display()),
    )
    .unwrap();
    cfg
}

fn command(dir: &Path, cfg: &Path) -> Command {
    let mut c = Command::new(bin());
    c.args(["run", "--source", "netlink", "--config"])
        .arg(cfg)
        .arg("--db")
        .arg(dir.join("sw.db"))
        .env_remove("NO_COLOR")
        .env_remove("JOURNAL_STREAM")
        .env("SECCOMP_WATCH_LOG", "info")
        .stdin(Stdio::null());
    c
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(child.id() as libc::pid_t, sig) };
}

/// Runs the daemon until it runs, breaks its rules file and sends SIGHUP (an error is
/// logged), then SIGTERM; `output()` reads what it wrote so far.
fn exercise(mut child: Child, rules: &Path, output: impl Fn() -> String) -> String {
    let up = wait_for(Duration::from_secs(30), || {
        output().contains("seccomp-watch: running;").then_some(())
    });
    if up.is_none() {
        signal(&child, libc::SIGKILL);
        let _ = child.wait();
        panic!("the daemon did not start:\n{}", output());
    }
    std::fs::write(rules, "[[rule]]\nname = \n").unwrap();
    signal(&child, libc::SIGHUP);
    let failed = wait_for(Duration::from_secs(10), || {
        output().contains("rules reload failed").then_some(())
    });
    signal(&child, libc::SIGTERM);
    let st = child.wait().unwrap();
    let out = output();
    assert!(failed.is_some(), "no reload error:\n{out}");
    assert!(st.success(), "exit {st}:\n{out}");
    out
}

fn run_to_file(dir: &Path, env: &[(&str, &str)], journal: bool) -> String {
    let cfg = setup(dir);
    let log = dir.join("stderr.log");
    let f = std::fs::File::create(&log).unwrap();
    let mut c = command(dir, &cfg);
    if journal {
        let m = f.metadata().unwrap();
        c.env("JOURNAL_STREAM", format!("{}:{}", m.dev(), m.ino()));
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let child = c.stdout(f.try_clone().unwrap()).stderr(f).spawn().unwrap();
    exercise(child, &dir.join("rules.toml"), || {
        std::fs::read_to_string(&log).unwrap_or_default()
    })
}

/// A pseudo-terminal: (master, slave).
fn pty() -> (OwnedFd, OwnedFd) {
    let (mut m, mut s) = (0, 0);
    // SAFETY: openpty writes two fds; no name, termios or window size.
    let rc = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: fresh fds owned by nothing else.
    unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
}

fn run_on_pty(dir: &Path, env: &[(&str, &str)]) -> String {
    let cfg = setup(dir);
    let (master, slave) = pty();
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b2 = buf.clone();
    let mut reader = std::fs::File::from(master);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = reader.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b2.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    let mut c = command(dir, &cfg);
    for (k, v) in env {
        c.env(k, v);
    }
    let child = c
        .stdout(Stdio::null())
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    exercise(child, &dir.join("rules.toml"), || {
        String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
    })
}

#[test]
fn no_colour_when_stderr_is_a_file() {
    if !root_or_skip("no_colour_when_stderr_is_a_file") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = run_to_file(tmp.path(), &[], false);
    assert!(!out.contains('\x1b'), "ANSI escapes in a file:\n{out:?}");
    assert!(out.contains(" INFO "), "{out}");
}

#[test]
fn colour_on_a_terminal_unless_no_color() {
    if !root_or_skip("colour_on_a_terminal_unless_no_color") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = run_on_pty(&tmp.path().join("a"), &[]);
    assert!(out.contains("\x1b["), "no colour on a terminal:\n{out}");
    let out = run_on_pty(&tmp.path().join("b"), &[("NO_COLOR", "1")]);
    assert!(!out.contains('\x1b'), "colour despite NO_COLOR:\n{out:?}");
    assert!(out.contains(" INFO "), "{out}");
}

#[test]
fn priorities_for_journald_when_journal_stream_names_stderr() {
    if !root_or_skip("priorities_for_journald_when_journal_stream_names_stderr") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = run_to_file(&tmp.path().join("j"), &[], true);
    assert!(!out.contains('\x1b'), "{out:?}");
    for line in out.lines() {
        let ok = line.len() > 3
            && line.as_bytes()[0] == b'<'
            && line.as_bytes()[1].is_ascii_digit()
            && line.as_bytes()[2] == b'>';
        assert!(ok, "a line without its priority: {line:?}\n{out}");
    }
    let err = out
        .lines()
        .find(|l| l.contains("rules reload failed"))
        .unwrap();
    assert!(err.starts_with("<3>"), "{err}");
    // The reload error's continuation (the file's line) stays at error priority.
    let cont: Vec<&str> = out.lines().filter(|l| l.contains("rules.toml:2")).collect();
    assert!(
        !cont.is_empty() && cont.iter().all(|l| l.starts_with("<3>")),
        "{out}"
    );
    let info = out
        .lines()
        .find(|l| l.contains("seccomp-watch: running;"))
        .unwrap();
    assert!(info.starts_with("<6>"), "{info}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("<6>") && l.contains(" INFO ")),
        "{out}"
    );
    // No timestamps of our own: journald stamps each line.
    assert!(
        !out.lines()
            .any(|l| l.get(3..7).is_some_and(|y| y.starts_with("20"))),
        "{out}"
    );

    // JOURNAL_STREAM naming another stream (a child of a service writing to a file): no
    // prefixes.
    let out = run_to_file(&tmp.path().join("k"), &[("JOURNAL_STREAM", "1:2")], false);
    assert!(!out.lines().any(|l| l.starts_with("<")), "{out}");
}

/// Item 14: an error prints its cause once ("Address already in use" was printed twice).
#[test]
fn an_error_prints_its_cause_once() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let cfg = tmp.path().join("config.toml");
    std::fs::write(&cfg, format!("[http]\nlisten = \"127.0.0.1:{port}\"\n")).unwrap();
    let log = tmp.path().join("audit.log");
    std::fs::write(&log, "").unwrap();
    let out = Command::new(bin())
        .args(["run", "--source", "audit-log", "--audit-log"])
        .arg(&log)
        .arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(tmp.path().join("sw.db"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("Address already in use"))
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(
        line.matches("Address already in use").count(),
        1,
        "the cause twice: {line}"
    );
    drop(taken);
}
