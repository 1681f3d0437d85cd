//! The netlink source against the real kernel: `seccomp-demo` makes N logged calls and the
//! daemon (multicast group, or registered as the audit daemon) stores exactly those N
//! events, with the right pid, syscall, action and arch. Multicast gives every listener
//! every record on the host, so each test filters by its own pids.

mod support;

use std::time::Duration;

use seccomp_watch::pipeline::SourceKind;
use seccomp_watch_tests::root_or_skip;
use support::*;

fn check_exactly(db: &std::path::Path, pid: u32, n: usize, arch: &str, compat: bool) {
    let got = wait_stored(db, n, Duration::from_secs(30), |s| s.event.pid == pid);
    // Give a straggler time to show up if there were more than expected.
    std::thread::sleep(Duration::from_millis(500));
    let got_again = stored_where(db, |s| s.event.pid == pid);
    assert_eq!(got.len(), n, "stored events of pid {pid}");
    assert_eq!(got_again.len(), n, "stored events of pid {pid} (later)");
    let mut serials: Vec<u64> = got.iter().filter_map(|s| s.event.serial).collect();
    serials.sort_unstable();
    serials.dedup();
    assert_eq!(serials.len(), n, "distinct serials");
    for s in &got {
        assert_eq!(s.source, SourceKind::Netlink);
        assert_eq!(s.event.syscall(), Some("getppid"), "{:?}", s.event);
        assert_eq!(s.event.action().to_string(), "SCMP_ACT_LOG");
        assert_eq!(s.event.arch_name(), arch);
        assert_eq!(s.event.compat, compat);
    }
}

#[test]
fn netlink_stores_exactly_n_logged_calls() {
    if !root_or_skip("netlink_stores_exactly_n_logged_calls") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_copy(tmp.path(), "demo-nl", false);
    let mut d = Daemon::start(&tmp.path().join("d"), BASE_CONFIG, &["--source", "netlink"]);
    let pid = run_demo(&demo, &["-a", "log", "-n", "1000"]);
    check_exactly(&d.db, pid, 1000, "SCMP_ARCH_X86_64", false);
    let st = d.term();
    assert!(st.success(), "exit status {st}:\n{}", d.output());
    assert_eq!(loss(&d.db, "enobufs"), 0, "{:?}", losses(&d.db));
}

#[test]
fn netlink_i386_program_gives_x86_compat_events() {
    if !root_or_skip("netlink_i386_program_gives_x86_compat_events") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_copy(tmp.path(), "demo-nl32", true);
    let mut d = Daemon::start(&tmp.path().join("d"), BASE_CONFIG, &["--source", "netlink"]);
    let pid = run_demo(&demo, &["-a", "log", "-n", "50"]);
    check_exactly(&d.db, pid, 50, "SCMP_ARCH_X86", true);
    assert!(d.term().success());
}

#[test]
fn netlink_short_lived_children_are_all_stored() {
    if !root_or_skip("netlink_short_lived_children_are_all_stored") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_copy(tmp.path(), "demo-nl-fork", false);
    let exe = demo.to_str().unwrap().to_string();
    let mut d = Daemon::start(&tmp.path().join("d"), BASE_CONFIG, &["--source", "netlink"]);
    run_demo(
        &demo,
        &[
            "-a", "errno", "-n", "200", "-f", "-s", "getppid", "-s", "uname",
        ],
    );
    let got = wait_stored(&d.db, 400, Duration::from_secs(30), |s| {
        s.event.exe.as_deref() == Some(exe.as_str())
    });
    assert_eq!(got.len(), 400);
    let pids: std::collections::HashSet<u32> = got.iter().map(|s| s.event.pid).collect();
    assert_eq!(pids.len(), 200, "one pid per child");
    assert!(got
        .iter()
        .all(|s| s.event.action().to_string() == "SCMP_ACT_ERRNO"));
    assert_eq!(
        got.iter()
            .filter(|s| s.event.syscall() == Some("uname"))
            .count(),
        200
    );
    assert!(d.term().success());
}

#[test]
fn netlink_daemon_mode_registers_drains_and_unregisters() {
    if !root_or_skip("netlink_daemon_mode_registers_drains_and_unregisters") {
        return;
    }
    let _lock = AuditLock::take();
    assert_eq!(
        registered_audit_pid(),
        0,
        "another audit daemon is registered"
    );
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_copy(tmp.path(), "demo-nl-daemon", false);
    let cfg = format!("{BASE_CONFIG}\n[netlink]\nmode = \"daemon\"\nstatus_interval_secs = 1\n");
    let mut d = Daemon::start(&tmp.path().join("d"), &cfg, &["--source", "netlink"]);
    assert_eq!(
        registered_audit_pid(),
        d.pid(),
        "the daemon is the registered audit daemon"
    );
    let pid = run_demo(&demo, &["-a", "log", "-n", "300"]);
    check_exactly(&d.db, pid, 300, "SCMP_ARCH_X86_64", false);
    let st = d.term();
    assert!(st.success(), "exit status {st}:\n{}", d.output());
    assert_eq!(registered_audit_pid(), 0, "unregistered on exit");
}

#[test]
fn netlink_daemon_mode_refuses_when_the_slot_is_taken() {
    if !root_or_skip("netlink_daemon_mode_refuses_when_the_slot_is_taken") {
        return;
    }
    let _lock = AuditLock::take();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = format!("{BASE_CONFIG}\n[netlink]\nmode = \"daemon\"\n");
    let mut first = Daemon::start(&tmp.path().join("a"), &cfg, &["--source", "netlink"]);
    let mut second = Daemon::spawn(&tmp.path().join("b"), &cfg, &["--source", "netlink"]);
    let st = second.wait_exit(Duration::from_secs(30));
    assert!(
        !st.success(),
        "the second daemon must refuse:\n{}",
        second.output()
    );
    assert!(
        second.output().contains(&format!(
            "pid {} is registered as the audit daemon",
            first.pid()
        )),
        "{}",
        second.output()
    );
    assert_eq!(
        registered_audit_pid(),
        first.pid(),
        "the first one keeps the slot"
    );
    assert!(first.term().success());
}
