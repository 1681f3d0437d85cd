//! The daemon's HTTP endpoint under abuse, over real TCP connections to `seccomp-watch
//! run` (its open files limited to 1024, as under a default unit): 1,100 idle or half-sent
//! connections neither exhaust its file descriptors (the audit.log tailer keeps following
//! rotations) nor stay open; a large request body is refused; a `Host` that is not the
//! listen address or a configured name is refused (DNS rebinding); a listen address beyond
//! loopback without a token is refused; a token file others can read is warned about.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use seccomp_watch_tests::{bin, wait_for};
use support::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `seccomp-watch run` with RLIMIT_NOFILE 1024 (the default of a service), its config in
/// `dir`; killed on drop.
struct Run {
    child: Child,
    log: PathBuf,
    db: PathBuf,
}

impl Run {
    fn spawn(dir: &Path, config: &str, args: &[&str]) -> Run {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("config.toml"), config).unwrap();
        let log = dir.join("daemon.log");
        let out = std::fs::File::create(&log).unwrap();
        let db = dir.join("sw.db");
        let mut cmd = Command::new(bin());
        cmd.arg("run")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .env("SECCOMP_WATCH_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
        unsafe {
            cmd.pre_exec(|| {
                let l = libc::rlimit {
                    rlim_cur: 1024,
                    rlim_max: 1024,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn seccomp-watch run");
        Run { child, log, db }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_running(&mut self) {
        let ok = wait_for(Duration::from_secs(30), || {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("seccomp-watch run exited ({st}):\n{}", self.output());
            }
            self.output()
                .contains("seccomp-watch: running;")
                .then_some(())
        });
        assert!(ok.is_some(), "did not start:\n{}", self.output());
    }

    /// Waits for the exit (the daemon refused to start).
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let st = wait_for(Duration::from_secs(30), || {
            self.child.try_wait().ok().flatten()
        });
        st.unwrap_or_else(|| panic!("still running:\n{}", self.output()))
    }

    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    fn term(&mut self) -> std::process::ExitStatus {
        signal(self.child.id(), libc::SIGTERM);
        self.wait_exit()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(self.child.id(), libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// One request on a new connection: the status (None when the connection was closed or
/// reset without an answer).
fn request(port: u16, head: &str, body: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    s.write_all(head.as_bytes()).ok()?;
    // The server may answer (and close) before the whole body is sent.
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    text.split(' ').nth(1)?.parse().ok()
}

fn get(port: u16, path: &str, host: &str) -> Option<u16> {
    request(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        b"",
    )
}

/// True when the peer closed `s` (EOF or reset) within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut b = [0u8; 4096];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue, // an answer (e.g. 408) before the close
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

fn raise_own_nofile() {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
        l.rlim_cur = l.rlim_max.max(4096);
        libc::setrlimit(libc::RLIMIT_NOFILE, &l);
    }
}

#[test]
fn idle_and_half_sent_connections_are_bounded_and_closed() {
    if !seccomp_watch_tests::root_or_skip("idle_and_half_sent_connections_are_bounded_and_closed") {
        return;
    }
    raise_own_nofile();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("audit.log");
    append(&log, "");
    let port = free_port();
    let mut d = Run::spawn(
        &tmp.path().join("d"),
        &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n\n[audit_log]\npoll_ms = 100\n"),
        &[
            "--source",
            "audit-log",
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    d.wait_running();
    assert_eq!(
        get(port, "/healthz", &format!("127.0.0.1:{port}")),
        Some(200)
    );
    let before = d.fds();

    // 1,100 connections that never send a byte, and some that stop half-way through
    // their headers.
    let mut conns: Vec<TcpStream> = Vec::new();
    for i in 0..1100 {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            continue;
        };
        if i % 10 == 0 {
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
        }
        conns.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let during = d.fds();
    assert!(
        during <= before + 64 + 16,
        "the daemon holds {during} fds with 1,100 idle connections (before: {before})"
    );
    // The tailer still opens files: a rotation, then new lines.
    std::fs::rename(&log, tmp.path().join("audit.log.1")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exe = "/http-limits/after-rotation";
    let mut text = String::new();
    for i in 0..5 {
        text.push_str(&seccomp_line(now, 500 + i, 4343, exe));
    }
    append(&log, &text);
    let got = wait_stored(&d.db, 5, Duration::from_secs(30), |s| {
        s.event.exe.as_deref() == Some(exe)
    });
    assert_eq!(got.len(), 5, "the tailer stopped:\n{}", d.output());
    assert!(
        !d.output().contains("Too many open files"),
        "{}",
        d.output()
    );

    // Every one of them is closed by the server, idle or half-sent (header timeout).
    let start = Instant::now();
    let mut open = 0;
    for s in conns.iter_mut() {
        let left = Duration::from_secs(40).saturating_sub(start.elapsed());
        if !closed_within(s, left.max(Duration::from_millis(10))) {
            open += 1;
        }
    }
    assert_eq!(open, 0, "{open} idle connections still open after 40 s");
    drop(conns);
    // And the endpoint serves again.
    assert!(
        wait_for(Duration::from_secs(10), || {
            (get(port, "/healthz", &format!("127.0.0.1:{port}")) == Some(200)).then_some(())
        })
        .is_some(),
        "/healthz does not answer after the flood"
    );
    assert!(d.term().success(), "{}", d.output());
}

#[test]
fn request_bodies_and_host_names_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    append(&tmp.path().join("none.log"), "");
    let mut d = Run::spawn(
        &tmp.path().join("d"),
        &format!(
            "[http]\nlisten = \"127.0.0.1:{port}\"\n\n[audit_log]\npath = \"{}\"\n",
            tmp.path().join("none.log").display()
        ),
        &["--source", "audit-log"],
    );
    d.wait_running();
    let ok = format!("127.0.0.1:{port}");
    assert_eq!(get(port, "/healthz", &ok), Some(200));
    assert_eq!(
        get(port, "/healthz", &format!("localhost:{port}")),
        Some(200)
    );
    assert_eq!(get(port, "/healthz", &format!("[::1]:{port}")), Some(200));
    // DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1.
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_string(),
        format!("localhost.evil.example:{port}"),
    ] {
        assert_eq!(get(port, "/api/v1/summary", &host), Some(403), "{host}");
        assert_eq!(get(port, "/metrics", &host), Some(403), "{host}");
    }
    // A 1 MiB body: refused with 413 before it is read.
    let body = vec![b'x'; 1 << 20];
    let st = request(
        port,
        &format!(
            "GET /healthz HTTP/1.1\r\nHost: {ok}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ),
        &body,
    );
    assert_eq!(st, Some(413));
    // A small one is fine.
    let st = request(
        port,
        &format!(
            "GET /healthz HTTP/1.1\r\nHost: {ok}\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
        ),
        b"hello",
    );
    assert_eq!(st, Some(200));
    assert!(d.term().success());
}

#[test]
fn listening_beyond_loopback_needs_a_token_and_a_private_token_file() {
    let tmp = tempfile::tempdir().unwrap();
    let none = tmp.path().join("none.log");
    append(&none, "");
    let base = format!("[audit_log]\npath = \"{}\"\n\n", none.display());
    // No token: refused, saying how to allow it.
    let port = free_port();
    let mut d = Run::spawn(
        &tmp.path().join("a"),
        &format!("{base}[http]\nlisten = \"0.0.0.0:{port}\"\n"),
        &["--source", "audit-log"],
    );
    let st = d.wait_exit();
    assert!(
        !st.success(),
        "started without a token on 0.0.0.0:\n{}",
        d.output()
    );
    assert!(d.output().contains("insecure_no_token"), "{}", d.output());

    // A token file others can read: it runs, and says so.
    let token = tmp.path().join("token");
    std::fs::write(&token, "t0ken-value\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut d = Run::spawn(
        &tmp.path().join("b"),
        &format!(
            "{base}[http]\nlisten = \"0.0.0.0:{port}\"\ntoken_file = \"{}\"\n",
            token.display()
        ),
        &["--source", "audit-log"],
    );
    d.wait_running();
    assert!(
        d.output().contains("readable by group or others"),
        "{}",
        d.output()
    );
    assert!(!d.output().contains("t0ken-value"), "the token was printed");
    let st = request(
        port,
        &format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer t0ken-value\r\nConnection: close\r\n\r\n"),
        b"",
    );
    assert_eq!(st, Some(200));
    assert!(d.term().success());
}
