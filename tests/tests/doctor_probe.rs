//! `doctor`'s live probe beside a running daemon, against the real kernel: the probe's
//! SECCOMP record reaches every listener of the audit multicast group, and the daemon
//! must keep it out of its store (the probe marks its pid in /run/seccomp-watch-probes)
//! while it stores the records of other processes as usual.

mod support;

use std::process::Command;
use std::time::Duration;

use seccomp_watch_tests::{bin, free_port, http_get, root_or_skip, scrape_value, wait_for};
use support::*;

#[test]
fn the_doctor_probe_is_not_stored_by_a_running_daemon() {
    if !root_or_skip("the_doctor_probe_is_not_stored_by_a_running_daemon") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_copy(tmp.path(), "demo-probe", false);
    let port = free_port();
    let cfg = format!("[http]\nlisten = \"127.0.0.1:{port}\"\n\n[audit_log]\npoll_ms = 100\n");
    let mut d = Daemon::start(&tmp.path().join("d"), &cfg, &["--source", "netlink"]);

    let out = Command::new(bin())
        .args(["doctor", "--json", "--config"])
        .arg(tmp.path().join("d/config.toml"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let probe = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "live-probe")
        .unwrap_or_else(|| panic!("no live-probe check: {v}"))
        .clone();
    assert_eq!(probe["level"], "ok", "{probe}");
    assert!(
        !probe["detail"].as_str().unwrap().contains("cannot mark"),
        "{probe}"
    );

    // A record made after the probe is stored: the daemon has handled the probe's by then
    // (one multicast stream, in order).
    let pid = run_demo(&demo, &["-a", "log", "-n", "3"]);
    let got = wait_stored(&d.db, 3, Duration::from_secs(30), |s| s.event.pid == pid);
    assert_eq!(got.len(), 3, "the demo's records\n{}", d.output());

    let doctor_exe = std::fs::canonicalize(bin()).unwrap();
    let doctor_exe = doctor_exe.to_str().unwrap();
    let probes = stored_where(&d.db, |s| {
        s.event.comm.as_deref() == Some(seccomp_watch::probe_marks::COMM)
            || s.event.exe.as_deref() == Some(doctor_exe)
    });
    assert!(
        probes.is_empty(),
        "the probe's record was stored: {:?}",
        probes.iter().map(|s| &s.event).collect::<Vec<_>>()
    );
    // ... and it was seen and counted, not missed.
    let counted = wait_for(Duration::from_secs(10), || {
        let (_, body) = http_get(port, "/metrics")?;
        scrape_value(&body, "seccomp_watch_probe_records_total").filter(|n| *n >= 1.0)
    });
    assert!(counted.is_some(), "no probe record counted\n{}", d.output());
    assert!(d.term().success(), "{}", d.output());
}
