//! The daemon as a service: `/metrics` counts exactly the records the kernel logged,
//! `promtool check metrics` accepts the scrape, `/readyz` turns unready when the database
//! becomes read-only, the daemon runs its netlink, HTTP and alert paths (a webhook
//! delivery) under its own seccomp sandbox ("log" mode) without one SECCOMP record of its
//! own, sd_notify READY/WATCHDOG/STOPPING reach the manager,
//! the systemd unit passes `systemd-analyze` (script), and `doctor` reports and exits as
//! documented.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seccomp_watch_tests::{bin, root_or_skip, tool_or_skip, wait_for, workspace_root};
use serde_json::Value;
use support::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `path` on 127.0.0.1:`port`: (status, body); None when nothing listens.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
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
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
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
        out
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn get_ok(port: u16, path: &str) -> String {
    let (st, body) = get(port, path).unwrap_or_else(|| panic!("GET {path}: no answer"));
    assert_eq!(st, 200, "GET {path}: {body}");
    body
}

fn json(port: u16, path: &str) -> Value {
    serde_json::from_str(&get_ok(port, path)).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// The sum of the samples of `name` whose labels include every `want` pair.
fn metric_sum(text: &str, name: &str, want: &[(&str, &str)]) -> f64 {
    let mut sum = 0.0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (labels, value) = match rest.strip_prefix('{') {
            Some(r) => match r.split_once("} ") {
                Some((l, v)) => (l, v),
                None => continue,
            },
            None => match rest.strip_prefix(' ') {
                Some(v) => ("", v),
                None => continue,
            },
        };
        let ok = want
            .iter()
            .all(|(k, v)| labels.split(',').any(|kv| kv == format!("{k}=\"{v}\"")));
        if ok {
            sum += value.trim().parse::<f64>().unwrap_or(0.0);
        }
    }
    sum
}

/// Every stored event the API returns: (time, serial, pid, source).
fn api_events(port: u16) -> BTreeSet<(String, u64, u64, String)> {
    let v = json(port, "/api/v1/events?limit=10000");
    v.as_array()
        .expect("events array")
        .iter()
        .map(|e| {
            (
                e["time"].as_str().unwrap_or_default().to_string(),
                e["serial"].as_u64().unwrap_or(0),
                e["pid"].as_u64().unwrap_or(0),
                e["source"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// A consistent reading: the netlink event counter and the stored netlink events, taken
/// when two scrapes around the query agree (records keep arriving from the whole host).
fn stable_reading(port: u16) -> (f64, BTreeSet<(String, u64, u64, String)>) {
    for _ in 0..100 {
        let m1 = metric_sum(
            &get_ok(port, "/metrics"),
            "seccomp_watch_events_total",
            &[("source", "netlink")],
        );
        let evs = api_events(port);
        let m2 = metric_sum(
            &get_ok(port, "/metrics"),
            "seccomp_watch_events_total",
            &[("source", "netlink")],
        );
        if m1 == m2 && evs.len() as f64 == m1 {
            return (m1, evs);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("the event counter never matched the stored events");
}

/// Collects the SECCOMP records of one pid from the audit multicast group, in a thread,
/// until stopped.
struct OwnRecords {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OwnRecords {
    fn watch(pid: u32) -> OwnRecords {
        // SAFETY: plain socket call; owned at once.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_AUDIT,
            )
        };
        assert!(
            fd >= 0,
            "netlink socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: fd is fresh.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain data.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = 1;
        // SAFETY: valid sockaddr_nl.
        let rc = unsafe {
            libc::bind(
                sock.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        assert_eq!(
            rc,
            0,
            "bind audit multicast: {}",
            std::io::Error::last_os_error()
        );
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s2, seen2) = (stop.clone(), seen.clone());
        let needle = format!(" pid={pid} ");
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            while !s2.load(Ordering::SeqCst) {
                let mut pfd = libc::pollfd {
                    fd: sock.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                if unsafe { libc::poll(&mut pfd, 1, 100) } <= 0 {
                    continue;
                }
                // SAFETY: buf is valid for its length.
                let n = unsafe {
                    libc::recv(
                        sock.as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        libc::MSG_DONTWAIT,
                    )
                };
                if n < 16 {
                    continue;
                }
                let d = &buf[..n as usize];
                if u16::from_ne_bytes([d[4], d[5]]) != 1326 {
                    continue;
                }
                let text = String::from_utf8_lossy(&d[16..]).into_owned();
                if text.contains(&needle) {
                    seen2.lock().unwrap().push(text);
                }
            }
        });
        OwnRecords {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(500));
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let v = self.seen.lock().unwrap().clone();
        v
    }
}

fn chattr(flag: &str, p: &std::path::Path) -> bool {
    Command::new("chattr")
        .arg(flag)
        .arg(p)
        .status()
        .is_ok_and(|s| s.success())
}

fn vm_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A webhook receiver on loopback: answers 200 to every request and keeps the bodies.
struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let b2 = bodies.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then Content-Length bytes of body.
                let body = loop {
                    let Ok(n) = c.read(&mut chunk) else {
                        break None;
                    };
                    if n == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().to_string())
                            })
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        if body.len() >= len {
                            break Some(body.to_string());
                        }
                    }
                };
                let _ = c.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                if let Some(b) = body {
                    b2.lock().unwrap().push(b);
                }
            }
        });
        Receiver { port, bodies }
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

/// The daemon with HTTP on loopback and its sandbox in "log" mode, through netlink
/// records, every HTTP endpoint, a read-only database and SIGTERM.
#[test]
fn metrics_readiness_and_sandbox_of_the_running_daemon() {
    if !root_or_skip("metrics_readiness_and_sandbox_of_the_running_daemon") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_copy(tmp.path(), "svc-demo", false);
    let port = free_port();
    let hook = Receiver::start();
    let config = format!(
        "sandbox = \"log\"\n\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [[sinks]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"http://localhost:{}/hook\"\nmin_severity = \"info\"\n",
        hook.port
    );
    let mut d = Daemon::start(&tmp.path().join("d"), &config, &["--source", "netlink"]);
    let own = OwnRecords::watch(d.pid());

    // Ready: the netlink source runs, the database is writable.
    let ready = wait_for(Duration::from_secs(20), || {
        get(port, "/readyz").filter(|(st, _)| *st == 200)
    });
    let (_, body) = ready.unwrap_or_else(|| panic!("/readyz never became ready:\n{}", d.output()));
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(r["ready"], true, "{r}");
    let names: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["check"].as_str())
        .collect();
    assert!(
        names.contains(&"source netlink") && names.contains(&"database"),
        "{r}"
    );
    assert_eq!(get_ok(port, "/healthz"), "ok\n");

    // The sandbox is installed on the daemon (seccomp mode 2, one filter).
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
    assert!(
        status.lines().any(|l| l == "Seccomp:\t2"),
        "no seccomp filter:\n{status}"
    );

    // Exactly N LOG'd calls: N records of the demo stored, and the netlink counter moved
    // by exactly the number of records stored meanwhile (the demo's N, plus any other
    // process's on this host, each of them stored).
    const N: usize = 7;
    let (m_before, before) = stable_reading(port);
    let demo_pid = run_demo(&demo, &["-a", "log", "-n", &N.to_string()]);
    let got = wait_for(Duration::from_secs(20), || {
        let n = api_events(port)
            .iter()
            .filter(|e| e.2 == u64::from(demo_pid))
            .count();
        (n >= N).then_some(n)
    });
    assert_eq!(
        got,
        Some(N),
        "the demo's records were not all stored:\n{}",
        d.output()
    );
    let (m_after, after) = stable_reading(port);
    let new: Vec<_> = after.difference(&before).collect();
    let of_demo = new.iter().filter(|e| e.2 == u64::from(demo_pid)).count();
    assert_eq!(of_demo, N, "{new:?}");
    assert_eq!(
        m_after - m_before,
        new.len() as f64,
        "counter delta vs records stored"
    );
    if new.len() == N {
        assert_eq!(m_after - m_before, N as f64);
    } else {
        eprintln!(
            "note: {} records of other processes arrived during the test",
            new.len() - N
        );
    }
    let scrape = get_ok(port, "/metrics");
    let wl = metric_sum(
        &scrape,
        "seccomp_watch_workload_events_total",
        &[("syscall", "getppid"), ("action", "SCMP_ACT_LOG")],
    );
    assert!(wl >= N as f64, "workload series: {wl}");

    // The scrape passes promtool's checks.
    if tool_or_skip(
        "metrics_readiness_and_sandbox_of_the_running_daemon",
        "promtool",
    ) {
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(scrape.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && report.trim().is_empty(),
            "promtool check metrics:\n{report}"
        );
    }

    // The JSON API.
    let summary = json(port, "/api/v1/summary");
    assert!(summary["events"].as_u64().unwrap() >= N as u64, "{summary}");
    assert!(
        summary["top_syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["syscall"] == "getppid"),
        "{summary}"
    );
    let evs = json(port, "/api/v1/events?syscall=getppid&since=5m&limit=3");
    assert_eq!(evs.as_array().unwrap().len(), 3, "{evs}");
    assert!(json(port, "/api/v1/alerts").is_array());
    assert_eq!(get(port, "/api/v1/events?limit=0").map(|r| r.0), Some(400));

    // The alert path under the sandbox: a killed process raises `kill-action`, which the
    // dispatcher delivers to the webhook (DNS lookup of localhost, connect, POST).
    let killed = Command::new(&demo)
        .args(["-a", "kill_process", "-n", "1"])
        .status()
        .unwrap();
    assert!(!killed.success(), "the demo should have been killed");
    let delivered = wait_for(Duration::from_secs(60), || {
        hook.bodies()
            .into_iter()
            .find(|b| b.contains("kill-action"))
    });
    let body =
        delivered.unwrap_or_else(|| panic!("no kill-action alert delivered:\n{}", d.output()));
    let alert: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(alert["rule"], "kill-action", "{alert}");
    let alerts = json(port, "/api/v1/alerts");
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "kill-action"),
        "{alerts}"
    );
    let scrape = get_ok(port, "/metrics");
    assert!(
        metric_sum(
            &scrape,
            "seccomp_watch_alerts_total",
            &[("rule", "kill-action")]
        ) >= 1.0
    );
    assert!(
        metric_sum(
            &scrape,
            "seccomp_watch_deliveries_total",
            &[("sink", "hook"), ("outcome", "ok")]
        ) >= 1.0,
        "{scrape}"
    );

    // Read-only database: /readyz says so (root ignores modes: make it immutable).
    assert!(chattr("+i", &d.db), "chattr +i {} failed", d.db.display());
    let unready = wait_for(Duration::from_secs(10), || {
        get(port, "/readyz").filter(|(st, _)| *st == 503)
    });
    assert!(chattr("-i", &d.db), "chattr -i failed");
    let (_, body) = unready.expect("/readyz stayed ready with an immutable database");
    let r: Value = serde_json::from_str(&body).unwrap();
    let db_check = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "database")
        .unwrap()
        .clone();
    assert_eq!(db_check["ok"], false, "{r}");
    assert!(
        db_check["detail"]
            .as_str()
            .unwrap()
            .contains("not writable"),
        "{r}"
    );
    assert!(wait_for(Duration::from_secs(10), || get(port, "/readyz")
        .filter(|(st, _)| *st == 200))
    .is_some());

    let rss = vm_rss_kib(d.pid());
    eprintln!("daemon RSS after the test traffic: {rss} KiB (debug build)");

    // SIGTERM: clean exit, and no SECCOMP record of the daemon's own from start to end.
    let st = d.term();
    assert!(st.success(), "exit {st}:\n{}", d.output());
    let own = own.finish();
    assert!(
        own.is_empty(),
        "the daemon's sandbox logged its own calls:\n{}",
        own.join("\n")
    );
    let stored_own = stored_where(&d.db, |s| s.event.pid == d.pid());
    assert!(stored_own.is_empty(), "{stored_own:?}");
}

/// READY=1 after start-up, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM.
#[test]
fn sd_notify_ready_watchdog_and_stopping() {
    if !root_or_skip("sd_notify_ready_watchdog_and_stopping") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sock_path = tmp.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let dir = tmp.path().join("d");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, "[http]\nlisten = \"\"\n").unwrap();
    let log = std::fs::File::create(dir.join("out.log")).unwrap();
    let mut child = Command::new(bin())
        .args(["run", "--source", "netlink", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(dir.join("sw.db"))
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    // WATCHDOG_PID is set after spawn in systemd; without it, any pid is accepted.
    let mut got: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 512];
    let mut stopped = false;
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        let ready = got.iter().any(|m| m.lines().any(|l| l == "READY=1"));
        let pings = got.iter().filter(|m| m.as_str() == "WATCHDOG=1").count();
        if ready && pings >= 3 && !stopped {
            signal(child.id(), libc::SIGTERM);
            stopped = true;
        }
        if stopped && got.iter().any(|m| m.lines().any(|l| l == "STOPPING=1")) {
            break;
        }
    }
    if !stopped {
        signal(child.id(), libc::SIGKILL);
    }
    let st = child.wait().unwrap();
    let out = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
    assert!(
        got.iter().any(|m| m.lines().any(|l| l == "READY=1")),
        "no READY=1: {got:?}\n{out}"
    );
    assert!(
        got.iter().filter(|m| m.as_str() == "WATCHDOG=1").count() >= 3,
        "no watchdog pings: {got:?}\n{out}"
    );
    assert!(
        got.iter().any(|m| m.lines().any(|l| l == "STOPPING=1")),
        "no STOPPING=1: {got:?}\n{out}"
    );
    assert!(st.success(), "exit {st}\n{out}");
}

/// The unit passes `systemd-analyze verify` and `security` (exposure <= 2.0).
#[test]
fn the_systemd_unit_passes_its_checks() {
    if !tool_or_skip("the_systemd_unit_passes_its_checks", "systemd-analyze") {
        return;
    }
    let out = Command::new("bash")
        .arg(workspace_root().join(".ci/check-unit.sh"))
        .arg(bin())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok: exposure"), "{text}");
}

/// `doctor` on this host: a JSON report with every documented check, exit 0 or 1 (the CI
/// host may warn, e.g. about a small audit backlog); a broken config is fatal (exit 2).
#[test]
fn doctor_reports_and_exits_as_documented() {
    let out = Command::new(bin())
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(v["exit_code"], code, "{v}");
    let checks: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["check"].as_str())
        .collect();
    for c in [
        "config",
        "rules",
        "kernel-audit",
        "seccomp",
        "actions-logged",
        "audit-read",
        "sources",
        "database",
        "runtimes",
        "sandbox",
        "http",
    ] {
        assert!(checks.contains(&c), "{c} missing: {checks:?}");
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert!(
            code <= 1,
            "doctor found a fatal problem on the CI host:\n{v}"
        );
        assert!(checks.contains(&"live-probe"), "{checks:?}");
        let probe = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "live-probe")
            .unwrap();
        assert_eq!(probe["level"], "ok", "{probe}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[http]\nlisten = 9717\n").unwrap();
    let out = Command::new(bin())
        .args(["doctor", "--no-probe", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FATAL config") && text.contains("line 2"),
        "{text}"
    );
}
