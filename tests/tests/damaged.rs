//! Damaged records lose a field, not the record, through the binary: `parse --stats`
//! keeps them with the field null and lists each in its warnings with an excerpt, a record
//! without `arch=` (3.x kernels) is kept with arch and syscall null; and `seccomp-watch run`
//! stores such records from an audit log and counts them in
//! `seccomp_watch_parse_warnings_total{source="audit-log"}`.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use seccomp_watch_tests::{bin, wait_for};
use serde_json::Value;
use support::*;

/// A raw SECCOMP record of pid `pid` and serial `serial` with `fields` between `ses=` and
/// `pid=` (e.g. a damaged `auid`), and `tail` after `sig=0`.
fn record(serial: u64, pid: u32, head: &str, tail: &str) -> String {
    format!(
        "type=SECCOMP msg=audit(1795997034.781:{serial}): {head} pid={pid} comm=\"dmg\" exe=\"/damaged/t\" sig=0 {tail} code=0x7ffc0000\n"
    )
}

/// The lines of the test: (line, what the event must have).
fn lines(pid0: u32) -> Vec<String> {
    let good = "auid=4294967295 uid=0 gid=0 ses=4294967295";
    let arch = "arch=c000003e syscall=110 compat=0 ip=0x1";
    vec![
        record(1, pid0, "auid-4294967295 uid=0 gid=0 ses=4294967295", arch),
        record(
            2,
            pid0 + 1,
            "auid=4294967295 uid=x0 gid=0 ses=4294967295",
            arch,
        ),
        record(3, pid0 + 2, good, "syscall=110 compat=0 ip=0x1"),
        record(4, pid0 + 3, good, arch),
    ]
}

#[test]
fn parse_keeps_damaged_records_and_lists_them_as_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("audit.log");
    std::fs::write(&f, lines(7000).concat()).unwrap();
    let out = Command::new(bin())
        .args(["parse", "--stats", f.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 4, "every record kept: {stderr}");
    let by_pid = |pid: u32| events.iter().find(|e| e["pid"] == pid).unwrap();
    // auid-4294967295: the field is lost (null), the rest is intact.
    let e = by_pid(7000);
    assert_eq!(e["auid"], Value::Null);
    assert_eq!(e["uid"], 0);
    assert_eq!(e["syscall"], "getppid");
    assert_eq!(e["serial"], 1);
    // uid=x0: uid null.
    let e = by_pid(7001);
    assert_eq!(e["uid"], Value::Null);
    assert_eq!(e["gid"], 0);
    assert_eq!(e["syscall"], "getppid");
    // No arch= (3.x kernels): kept with arch and syscall name null, the number kept.
    let e = by_pid(7002);
    assert_eq!(e["arch"], Value::Null);
    assert_eq!(e["syscall"], Value::Null);
    assert_eq!(e["syscall_nr"], 110);
    assert_eq!(e["comm"], "dmg");
    // The intact one.
    let e = by_pid(7003);
    assert_eq!(
        (e["auid"].clone(), e["syscall"].clone()),
        (Value::Null, "getppid".into())
    );
    let section = stderr
        .split("warnings (records kept with a damaged, unknown or unmapped field): ")
        .nth(1)
        .unwrap_or_else(|| panic!("no warnings section: {stderr}"));
    let (count, samples) = section.split_once('\n').unwrap();
    assert_eq!(count.trim(), "3", "{stderr}");
    for n in [":1:", ":2:", ":3:"] {
        assert!(samples.contains(n), "no excerpt of line {n}: {stderr}");
    }
    assert!(!samples.contains(":4:"), "{stderr}");
    assert!(samples.contains("auid-4294967295"), "{stderr}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `seccomp_watch_parse_warnings_total{source="audit-log"}` on the daemon's `/metrics`.
fn warnings_metric(port: u16) -> Option<u64> {
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
        .find(|l| l.starts_with("seccomp_watch_parse_warnings_total{source=\"audit-log\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

#[test]
fn the_daemon_stores_damaged_records_and_counts_them() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("audit.log");
    append(&log, "");
    let port = free_port();
    let cfg = format!("[http]\nlisten = \"127.0.0.1:{port}\"\n\n[audit_log]\npoll_ms = 100\n");
    let args = [
        "--source",
        "audit-log",
        "--audit-log",
        log.to_str().unwrap(),
    ];
    let mut d = Daemon::start(&tmp.path().join("d"), &cfg, &args);
    let before = wait_for(Duration::from_secs(10), || warnings_metric(port)).unwrap_or(0);
    append(&log, &lines(8000).concat());
    let got = wait_stored(&d.db, 4, Duration::from_secs(20), |s| {
        (8000..8004).contains(&s.event.pid)
    });
    assert_eq!(got.len(), 4, "{}", d.output());
    let no_arch = got.iter().find(|s| s.event.pid == 8002).unwrap();
    assert_eq!(no_arch.event.syscall(), None);
    assert_eq!(no_arch.event.syscall_nr, 110);
    let damaged = got.iter().find(|s| s.event.pid == 8000).unwrap();
    assert_eq!(damaged.event.auid, None);
    assert_eq!(damaged.event.syscall(), Some("getppid"));
    let after = wait_for(Duration::from_secs(10), || {
        warnings_metric(port).filter(|&n| n >= before + 3)
    });
    assert_eq!(after, Some(before + 3), "{}", d.output());
    assert!(d.term().success(), "{}", d.output());
}
