//! Support for the profile end-to-end tests (`record.rs`, `suggest.rs`): containers of the
//! runc test helper whose rootfs also holds this host's GNU `ls` with its libraries (so that
//! `ls /` and `ls -lisa /` differ as in the published article), runs tagged with an audit
//! session of their own, and an audit multicast tap that returns the records of one session.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parsers::{Event, Parsed};
use seccomp_watch_tests::runc::{Runc, Spec};
use serde_json::{json, Value};

/// This host's GNU `ls` (the tests need its NSS and xattr calls).
pub fn gnu_ls() -> PathBuf {
    let ls = std::fs::canonicalize("/usr/bin/ls").expect("/usr/bin/ls");
    let v = Command::new(&ls)
        .arg("--version")
        .output()
        .expect("ls --version");
    assert!(
        String::from_utf8_lossy(&v.stdout).contains("GNU coreutils"),
        "/usr/bin/ls is not GNU ls"
    );
    ls
}

/// A runc state root and rootfs (busybox, see [`Runc`]) with this host's GNU ls at
/// `/usr/bin/ls` and the libraries `ldd` lists.
pub struct Lab {
    pub runc: Runc,
}

/// What a container run gave.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The audit session id of the run (runc and everything it started).
    pub session: u32,
}

impl Lab {
    pub fn new() -> Lab {
        let runc = Runc::new().expect("runc test helper");
        let root = runc.rootfs();
        let ls = gnu_ls();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::copy(&ls, root.join("usr/bin/ls")).unwrap();
        let ldd = Command::new("ldd").arg(&ls).output().expect("ldd");
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            let path = match line.split_once("=>") {
                Some((_, rhs)) => rhs.split_whitespace().next(),
                None => line.split_whitespace().next(),
            };
            let Some(p) = path.filter(|p| p.starts_with('/')) else {
                continue;
            };
            let dest = root.join(p.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(p, &dest).unwrap_or_else(|e| panic!("copy {p}: {e}"));
        }
        Lab { runc }
    }

    /// `runc run` of `spec` as container `id` in the foreground, in a fresh audit session
    /// (the login uid is set in the child before exec), so that its records can be told
    /// apart; the container is deleted afterwards.
    pub fn run(&self, id: &str, spec: &Spec) -> Run {
        let run = self.run_keep(id, spec);
        self.delete(id);
        run
    }

    /// Deletes container `id`.
    pub fn delete(&self, id: &str) {
        let _ = self
            .runc
            .command()
            .args(["delete", "-f", id])
            .stderr(Stdio::null())
            .status();
    }

    /// [`Lab::run`] with `runc run --keep`: the stopped container's state stays (for
    /// attribution of records handled after it exited) until [`Lab::delete`].
    pub fn run_keep(&self, id: &str, spec: &Spec) -> Run {
        let bundle = self.runc.bundle(id, spec).expect("bundle");
        let mut cmd = self.runc.command();
        cmd.args(["run", "--keep", "--bundle"])
            .arg(&bundle)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: only open/write/close between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let fd = libc::open(c"/proc/self/loginuid".as_ptr(), libc::O_WRONLY);
                if fd >= 0 {
                    libc::write(fd, b"0".as_ptr().cast(), 1);
                    libc::close(fd);
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn runc");
        let session = std::fs::read_to_string(format!("/proc/{}/sessionid", child.id()))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .expect("session id of runc");
        let out = child.wait_with_output().expect("wait for runc");
        Run {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            session,
        }
    }
}

/// A NETLINK_AUDIT socket bound to the read-only multicast group (AUDIT_NLGRP_READLOG),
/// with a 32 MiB receive buffer.
pub fn audit_socket() -> OwnedFd {
    // SAFETY: plain socket calls on a fresh descriptor.
    unsafe {
        let raw = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_AUDIT,
        );
        assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(raw);
        let size: libc::c_int = 32 << 20;
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        );
        let mut addr: libc::sockaddr_nl = std::mem::zeroed();
        addr.nl_family = libc::AF_NETLINK as u16;
        addr.nl_groups = 1;
        let rc = libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        );
        assert_eq!(
            rc,
            0,
            "bind audit multicast: {}",
            std::io::Error::last_os_error()
        );
        fd
    }
}

/// The SECCOMP events that arrive on `fd` within about `wait`.
pub fn read_events(fd: &OwnedFd, wait: Duration) -> Vec<Event> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) } <= 0 {
            return out;
        }
        // SAFETY: buf is valid for writes of its length.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n >= 16 {
            let ty = u16::from_ne_bytes([buf[4], buf[5]]);
            if let Ok(Parsed::Seccomp(r)) = parsers::parse_netlink(ty, &buf[16..n as usize]) {
                if let Ok(ev) = Event::from_record(&r) {
                    out.push(ev);
                }
            }
        }
        if Instant::now() >= deadline {
            return out;
        }
    }
}

/// A NETLINK_AUDIT multicast reader on its own thread, collecting every SECCOMP event.
pub struct Tap {
    stop: Arc<AtomicBool>,
    events: Arc<Mutex<Vec<(Instant, Event)>>>,
    thread: Option<JoinHandle<()>>,
}

impl Tap {
    /// Opens the socket (before the run, so that nothing is missed) and starts reading.
    pub fn start() -> Tap {
        let fd = audit_socket();
        let stop = Arc::new(AtomicBool::new(false));
        let events = Arc::new(Mutex::new(Vec::new()));
        let (s, e) = (stop.clone(), events.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let got = read_events(&fd, Duration::from_millis(50));
                let now = Instant::now();
                e.lock()
                    .unwrap()
                    .extend(got.into_iter().map(|ev| (now, ev)));
            }
        });
        Tap {
            stop,
            events,
            thread: Some(thread),
        }
    }

    /// Waits until the session's records stopped coming (300 ms quiet, at least 600 ms,
    /// at most 5 s), stops, and returns them.
    pub fn stop_for(mut self, session: u32) -> Vec<Event> {
        let start = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let last = self
                .events
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, e)| e.ses == Some(session))
                .map(|(t, _)| *t)
                .max();
            let quiet = last.map_or(start.elapsed(), |t| t.elapsed());
            if (start.elapsed() >= Duration::from_millis(600)
                && quiet >= Duration::from_millis(300))
                || start.elapsed() >= Duration::from_secs(5)
            {
                break;
            }
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let evs = std::mem::take(&mut *self.events.lock().unwrap());
        evs.into_iter()
            .map(|(_, e)| e)
            .filter(|e| e.ses == Some(session))
            .collect()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The names of a profile's unconditional `SCMP_ACT_ALLOW` entries.
pub fn allowed_names(profile: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in profile["syscalls"].as_array().into_iter().flatten() {
        let conditional = ["args", "includes", "excludes"].iter().any(|k| {
            r.get(k)
                .is_some_and(|v| !v.is_null() && v != &json!([]) && v != &json!({}))
        });
        if r["action"] != "SCMP_ACT_ALLOW" || conditional {
            continue;
        }
        for n in r["names"].as_array().into_iter().flatten() {
            out.insert(n.as_str().unwrap_or_default().to_string());
        }
        if let Some(n) = r["name"].as_str() {
            out.insert(n.to_string());
        }
    }
    out
}

/// The shape of an `ls -l` listing: per line the mode and the name (inode numbers, link
/// counts, sizes and times of the container's own mounts differ between runs).
pub fn listing_shape(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                ["total", ..] => "total".to_string(),
                [] => String::new(),
                _ => {
                    let mode = f.iter().find(|x| {
                        x.len() == 10
                            && (x.starts_with('d') || x.starts_with('-') || x.starts_with('l'))
                    });
                    format!("{} {}", mode.unwrap_or(&"?"), f.last().unwrap_or(&""))
                }
            }
        })
        .collect()
}
