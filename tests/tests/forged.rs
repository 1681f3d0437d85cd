//! Forged records: the text of a kernel SECCOMP record written by someone else. Root
//! writes one into the real `/dev/kmsg` (facility 1, user) while the kernel logs real
//! records: the kmsg source of `seccomp-watch run` stores the kernel's and counts the
//! write in `seccomp_watch_forged_records_total`. And `parse` skips and counts the same
//! text under another program's syslog tag, while it parses it under `kernel:`.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use seccomp_watch::pipeline::SourceKind;
use seccomp_watch_tests::{bin, root_or_skip, wait_for};
use support::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value of `seccomp_watch_forged_records_total{source="kmsg"}` on the daemon's
/// `/metrics`.
fn forged_kmsg(port: u16) -> Option<u64> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    text.lines()
        .find(|l| l.starts_with("seccomp_watch_forged_records_total{source=\"kmsg\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

/// The printk path is rate limited host-wide: runs the demo until some of its records
/// are stored.
fn kernel_records(d: &Daemon, demo: &std::path::Path) -> Vec<Stored> {
    for _ in 0..8 {
        let pid = run_demo(demo, &["-a", "log", "-n", "2"]);
        let got = wait_stored(&d.db, 1, Duration::from_secs(6), |s| s.event.pid == pid);
        if !got.is_empty() {
            return got;
        }
    }
    Vec::new()
}

#[test]
fn a_user_space_write_to_dev_kmsg_is_counted_as_forged_and_skipped() {
    if !root_or_skip("a_user_space_write_to_dev_kmsg_is_counted_as_forged_and_skipped") {
        return;
    }
    // The kernel prints audit records only while no audit daemon is registered.
    let _lock = AuditLock::take();
    assert_eq!(registered_audit_pid(), 0);
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_copy(tmp.path(), "demo-forged-kmsg", false);
    let port = free_port();
    let cfg = format!("[http]\nlisten = \"127.0.0.1:{port}\"\n\n[audit_log]\npoll_ms = 100\n");
    let mut d = Daemon::start(&tmp.path().join("d"), &cfg, &["--source", "kmsg"]);
    // Real records first: the reader has then caught up with the ring.
    let before = kernel_records(&d, &demo);
    assert!(!before.is_empty(), "no kernel record got through printk");
    let forged_before = wait_for(Duration::from_secs(10), || forged_kmsg(port)).unwrap();
    // Root writes the text of a kernel record, with a pid and exe of its own.
    let fake_pid = 3_000_000 + std::process::id() % 1_000_000;
    let fake_exe = format!("/forged-kmsg-{}/mallory", std::process::id());
    let line = format!(
        "audit: type=1326 audit(1796241088.500:{fake_pid}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid={fake_pid} comm=\"mallory\" exe=\"{fake_exe}\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x1 code=0x7ffc0000\n"
    );
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    // More real records after it: once they are stored the write was read.
    let after = kernel_records(&d, &demo);
    assert!(!after.is_empty(), "no kernel record got through printk");
    let forged_after = forged_kmsg(port).unwrap();
    assert!(d.term().success(), "{}", d.output());
    assert!(
        forged_after > forged_before,
        "forged count {forged_before} -> {forged_after}"
    );
    assert!(
        stored_where(&d.db, |s| s.event.pid == fake_pid
            || s.event.exe.as_deref() == Some(fake_exe.as_str()))
        .is_empty(),
        "the forged record was stored"
    );
    for s in before.iter().chain(&after) {
        assert_eq!(s.source, SourceKind::Kmsg);
        assert_eq!(s.event.syscall(), Some("getppid"));
        assert_eq!(s.event.exe.as_deref(), Some(demo.to_str().unwrap()));
    }
}

#[test]
fn parse_skips_and_counts_other_programs_records() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = "audit: type=1326 audit(1795997034.781:4620775): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=23321 comm=\"act\" exe=\"/a\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x1 code=0x7ffc0000";
    let f = tmp.path().join("syslog");
    std::fs::write(
        &f,
        format!(
            "Nov 30 00:03:54 web1 mallory[4242]: {rec}\nNov 30 00:03:54 web1 kernel: {rec}\n<13>Nov 30 00:03:54 web1 kernel: {rec}\n"
        ),
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["parse", "--stats", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{stdout}");
    assert_eq!(events[0]["serial"], 4620775);
    assert_eq!(events[0]["node"], "web1");
    assert!(
        stderr.contains(
            "forged (SECCOMP records not written by the kernel or an audit daemon, skipped): 2"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(":1: forged SECCOMP record (program \"mallory\"), skipped: "),
        "{stderr}"
    );
    assert!(
        stderr.contains(":3: forged SECCOMP record (kernel log facility 1, not 0 (kern)), skipped"),
        "{stderr}"
    );
}
