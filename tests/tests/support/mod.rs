//! Helpers shared by the daemon's end-to-end tests (netlink.rs, auditlog.rs, daemon.rs):
//! the daemon as a child process, the database read back through the library's store,
//! a private auditd, and per-test copies of the seccomp-demo program.

#![allow(dead_code)]

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use seccomp_watch::pipeline::SourceKind;
use seccomp_watch::store::{EventQuery, SqliteStore, Store};
use seccomp_watch_tests::{bin, seccomp_demo, wait_for, which};

/// A stored event, flattened for assertions.
#[derive(Debug, Clone)]
pub struct Stored {
    pub event: parsers::Event,
    pub source: SourceKind,
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Every event stored in `db` (none when the database does not exist yet).
pub fn stored(db: &Path) -> Vec<Stored> {
    if !db.is_file() {
        return Vec::new();
    }
    rt().block_on(async {
        let Ok(store) = SqliteStore::open_existing(db).await else {
            return Vec::new();
        };
        let page = store
            .events(&EventQuery {
                limit: 0,
                ..Default::default()
            })
            .await
            .expect("events query");
        store.close().await;
        page.events
            .into_iter()
            .map(|e| Stored {
                event: e.item.event,
                source: e.item.source,
            })
            .collect()
    })
}

/// The persisted loss counters (including `parse_error`).
pub fn losses(db: &Path) -> Vec<(String, u64)> {
    rt().block_on(async {
        let store = SqliteStore::open_existing(db).await.expect("open db");
        let l = store.losses().await.expect("losses");
        store.close().await;
        l
    })
}

/// One loss counter (0 when absent).
pub fn loss(db: &Path, cause: &str) -> u64 {
    losses(db)
        .into_iter()
        .find(|(c, _)| c == cause)
        .map_or(0, |(_, n)| n)
}

/// Events of `db` matching `f`.
pub fn stored_where(db: &Path, f: impl Fn(&Stored) -> bool) -> Vec<Stored> {
    stored(db).into_iter().filter(|s| f(s)).collect()
}

/// Waits until `db` holds at least `n` events matching `f` (at most `timeout`); returns
/// them.
pub fn wait_stored(
    db: &Path,
    n: usize,
    timeout: Duration,
    f: impl Fn(&Stored) -> bool,
) -> Vec<Stored> {
    let deadline = Instant::now() + timeout;
    loop {
        let got = stored_where(db, &f);
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `seccomp-watch run` as a child process, with a config in its own temp dir.
pub struct Daemon {
    pub child: Child,
    pub dir: PathBuf,
    pub db: PathBuf,
    pub log: PathBuf,
    pub args: Vec<String>,
}

/// The base config of test daemons: no HTTP listener, fast polling.
pub const BASE_CONFIG: &str = "[http]\nlisten = \"\"\n\n[audit_log]\npoll_ms = 100\n";

impl Daemon {
    /// Starts `seccomp-watch run --config DIR/config.toml --db DIR/sw.db ARGS` and waits
    /// until it says it runs (panics with its log if it does not).
    pub fn start(dir: &Path, config: &str, args: &[&str]) -> Daemon {
        let d = Daemon::spawn(dir, config, args);
        d.wait_running()
    }

    /// Starts without waiting.
    pub fn spawn(dir: &Path, config: &str, args: &[&str]) -> Daemon {
        Daemon::spawn_wrapped(&[], dir, config, args)
    }

    /// Starts `WRAPPER... seccomp-watch run ...` (e.g. `setpriv` with another user and
    /// capabilities, `unshare -n`) without waiting; `pid()` is the wrapper's, which execs
    /// the daemon.
    pub fn spawn_wrapped(wrapper: &[&str], dir: &Path, config: &str, args: &[&str]) -> Daemon {
        std::fs::create_dir_all(dir).expect("daemon dir");
        let cfg = dir.join("config.toml");
        std::fs::write(&cfg, config).expect("write config");
        let db = dir.join("sw.db");
        let log = dir.join(format!(
            "daemon-{}.log",
            Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id())
        ));
        let log = unique(log);
        let out = File::create(&log).expect("log file");
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut cmd = match wrapper.split_first() {
            Some((w, rest)) => {
                let mut c = Command::new(w);
                c.args(rest).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        let child = cmd
            .arg("run")
            .arg("--config")
            .arg(&cfg)
            .arg("--db")
            .arg(&db)
            .args(&args)
            .env("SECCOMP_WATCH_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .expect("spawn seccomp-watch run");
        Daemon {
            child,
            dir: dir.to_path_buf(),
            db,
            log,
            args,
        }
    }

    /// Waits until it says it runs (panics with its log if it exits first or does not).
    pub fn wait_running(mut self) -> Daemon {
        let ok = wait_for(Duration::from_secs(30), || {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("seccomp-watch run exited early ({st}):\n{}", self.output());
            }
            self.output()
                .contains("seccomp-watch: running;")
                .then_some(())
        });
        assert!(
            ok.is_some(),
            "seccomp-watch run did not start:\n{}",
            self.output()
        );
        self
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then waits (at most 30 s) for its exit status.
    pub fn term(&mut self) -> ExitStatus {
        signal(self.child.id(), libc::SIGTERM);
        self.wait_exit(Duration::from_secs(30))
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        signal(self.child.id(), libc::SIGKILL);
        let _ = self.child.wait();
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let st = wait_for(timeout, || self.child.try_wait().ok().flatten());
        match st {
            Some(s) => s,
            None => {
                self.kill();
                panic!("seccomp-watch run did not exit:\n{}", self.output());
            }
        }
    }

    /// What every daemon started in this directory printed (restarts included).
    pub fn all_output(&self) -> String {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        logs.retain(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("daemon-"))
        });
        logs.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        logs.iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The same daemon started again (same config, database and arguments).
    pub fn restart(&self) -> Daemon {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let cfg = std::fs::read_to_string(self.dir.join("config.toml")).expect("config");
        Daemon::start(&self.dir, &cfg, &args)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

fn unique(p: PathBuf) -> PathBuf {
    let mut p = p;
    let mut i = 0;
    while p.exists() {
        i += 1;
        p.set_extension(format!("{i}.log"));
    }
    p
}

pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// A copy of seccomp-demo at `dir/name` (its own exe path tells its records apart from
/// other tests' in the host-wide record stream).
pub fn demo_copy(dir: &Path, name: &str, m32: bool) -> PathBuf {
    let dst = dir.join(name);
    std::fs::copy(seccomp_demo(m32), &dst).expect("copy seccomp-demo");
    dst
}

/// Runs `demo ARGS` to completion; returns its pid.
pub fn run_demo(demo: &Path, args: &[&str]) -> u32 {
    let mut c = Command::new(demo)
        .args(args)
        .spawn()
        .expect("run seccomp-demo");
    let pid = c.id();
    let st = c.wait().expect("wait seccomp-demo");
    assert!(st.success(), "seccomp-demo {args:?} failed: {st}");
    pid
}

/// An exclusive lock on /tmp/seccomp-watch-auditd.lock: held by every test that starts
/// auditd or registers as the audit daemon (only one process can be it at a time).
pub struct AuditLock(File);

impl AuditLock {
    pub fn take() -> AuditLock {
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open("/tmp/seccomp-watch-auditd.lock")
            .expect("lock file");
        // SAFETY: flock on an open fd.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(r, 0, "flock");
        AuditLock(f)
    }
}

/// The pid registered as the audit daemon (0: none).
pub fn registered_audit_pid() -> u32 {
    seccomp_watch::sources::netlink::audit_status()
        .map(|s| s.pid)
        .unwrap_or(0)
}

/// A private auditd (`auditd -n -c DIR`) writing `DIR/audit.log` in the ENRICHED format,
/// rotating on SIGUSR1. Hold an [`AuditLock`] while it lives.
pub struct Auditd {
    pub child: Child,
    pub dir: PathBuf,
    pub log: PathBuf,
}

impl Auditd {
    /// Starts it; panics when another audit daemon is registered.
    pub fn start(dir: &Path) -> Auditd {
        let other = registered_audit_pid();
        assert_eq!(
            other, 0,
            "an audit daemon (pid {other}) is registered: stop it (e.g. `service auditd stop`) before these tests"
        );
        std::fs::create_dir_all(dir.join("plugins")).expect("auditd dir");
        let log = dir.join("audit.log");
        let conf = format!(
            "local_events = yes\nwrite_logs = yes\nlog_file = {}\nlog_group = root\nlog_format = ENRICHED\n\
             flush = INCREMENTAL_ASYNC\nfreq = 50\nmax_log_file = 1000\nnum_logs = 9\npriority_boost = 0\n\
             name_format = NONE\nmax_log_file_action = ROTATE\nspace_left = 2\nspace_left_action = IGNORE\n\
             admin_space_left = 1\nadmin_space_left_action = IGNORE\ndisk_full_action = IGNORE\n\
             disk_error_action = IGNORE\nuse_libwrap = no\ntcp_listen_queue = 5\ntcp_max_per_addr = 1\n\
             tcp_client_max_idle = 0\ntransport = TCP\ndistribute_network = no\nq_depth = 20000\n\
             overflow_action = IGNORE\nmax_restarts = 10\nplugin_dir = {}\nend_of_event_timeout = 2\n",
            log.display(),
            dir.join("plugins").display()
        );
        std::fs::write(dir.join("auditd.conf"), conf).expect("auditd.conf");
        let auditd = which("auditd").expect("auditd installed");
        let out = File::create(dir.join("auditd.out")).expect("auditd.out");
        let child = Command::new(auditd)
            .arg("-n")
            .arg("-c")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .expect("spawn auditd");
        let pid = child.id();
        let mut a = Auditd {
            child,
            dir: dir.to_path_buf(),
            log,
        };
        let up = wait_for(Duration::from_secs(15), || {
            (a.log.is_file() && registered_audit_pid() == pid).then_some(())
        });
        if up.is_none() {
            let out = std::fs::read_to_string(dir.join("auditd.out")).unwrap_or_default();
            a.stop();
            panic!(
                "auditd did not start (registered pid {}):\n{out}",
                registered_audit_pid()
            );
        }
        a
    }

    /// Rotation by rename (auditd's own: `kill -USR1`); waits for the new file.
    pub fn rotate(&self) {
        let before = std::fs::metadata(&self.log)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok();
        signal(self.child.id(), libc::SIGUSR1);
        let ok = wait_for(Duration::from_secs(10), || {
            let now = std::fs::metadata(&self.log)
                .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
                .ok();
            (now.is_some() && now != before).then_some(())
        });
        assert!(ok.is_some(), "auditd did not rotate");
    }

    /// Rotation by copytruncate, as logrotate does it: shift the numbered files, copy
    /// `audit.log` to `audit.log.1`, truncate `audit.log` (auditd keeps writing with
    /// O_APPEND, so from 0).
    pub fn copytruncate(&self) {
        let n = (1..100).take_while(|i| self.rotated(*i).exists()).count();
        for i in (1..=n).rev() {
            std::fs::rename(self.rotated(i), self.rotated(i + 1)).expect("shift rotated file");
        }
        std::fs::copy(&self.log, self.rotated(1)).expect("copy audit.log");
        File::options()
            .write(true)
            .open(&self.log)
            .and_then(|f| f.set_len(0))
            .expect("truncate audit.log");
    }

    pub fn rotated(&self, i: usize) -> PathBuf {
        PathBuf::from(format!("{}.{i}", self.log.display()))
    }

    /// Every audit.log file, oldest first.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = (1..100)
            .map(|i| self.rotated(i))
            .take_while(|p| p.exists())
            .collect();
        v.reverse();
        v.push(self.log.clone());
        v
    }

    /// The SECCOMP records (serial, pid) in every audit.log file whose exe is `exe`.
    pub fn seccomp_serials(&self, exe: &Path) -> Vec<u64> {
        let mut out = Vec::new();
        for f in self.files() {
            let text = std::fs::read(&f).expect("read audit.log");
            for line in text.split(|&c| c == b'\n') {
                if let Ok(parsers::Parsed::Seccomp(r)) = parsers::parse_line(line) {
                    if let Ok(e) = parsers::Event::from_record(&r) {
                        if e.exe.as_deref() == exe.to_str() {
                            out.extend(e.serial);
                        }
                    }
                }
            }
        }
        out
    }

    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(self.child.id(), libc::SIGTERM);
            if wait_for(Duration::from_secs(10), || {
                self.child.try_wait().ok().flatten()
            })
            .is_none()
            {
                signal(self.child.id(), libc::SIGKILL);
                let _ = self.child.wait();
            }
        }
        let _ = wait_for(Duration::from_secs(5), || {
            (registered_audit_pid() == 0).then_some(())
        });
    }
}

impl Drop for Auditd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Appends `text` to `path` (created when missing).
pub fn append(path: &Path, text: &str) {
    let mut f = File::options()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

/// A synthetic audit.log SECCOMP line (pid and exe are what tests filter on).
pub fn seccomp_line(sec: u64, serial: u64, pid: u32, exe: &str) -> String {
    format!(
        "type=SECCOMP msg=audit({sec}.{:03}:{serial}): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid={pid} comm=\"t\" exe=\"{exe}\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7f0000000000 code=0x7ffc0000\n",
        serial % 1000
    )
}
