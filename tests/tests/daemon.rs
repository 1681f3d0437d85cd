//! `seccomp-watch run` as a process: what it says at startup, SIGTERM (exit 0, everything
//! read is flushed and its checkpoint committed with it), the kmsg source, and the
//! `node` setting.

mod support;

use std::time::Duration;

use seccomp_watch::pipeline::SourceKind;
use seccomp_watch::store::{SqliteStore, Store};
use seccomp_watch_tests::root_or_skip;
use support::*;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn checkpoint(
    db: &std::path::Path,
    log: &std::path::Path,
) -> Option<seccomp_watch::pipeline::Checkpoint> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = SqliteStore::open_existing(db).await.unwrap();
        let key = seccomp_watch::sources::tail::checkpoint_key(log);
        let c = s.checkpoint(&key).await.unwrap();
        s.close().await;
        c
    })
}

#[test]
fn sigterm_exits_0_with_what_was_read_flushed_and_checkpointed() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("audit.log");
    let exe = "/sigterm-test/app";
    let n = 60_000u64;
    let now = now_secs();
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&seccomp_line(now, 10_000 + i, 777, exe));
    }
    append(&log, &text);
    let args = [
        "--source",
        "audit-log",
        "--audit-log",
        log.to_str().unwrap(),
    ];
    let mut d = Daemon::start(&tmp.path().join("d"), BASE_CONFIG, &args);
    // Stop it while it is (probably) still reading.
    let st = d.term();
    assert!(st.success(), "exit status {st}:\n{}", d.output());
    assert!(
        d.output().contains("stopping: flushing and checkpointing"),
        "{}",
        d.output()
    );
    // What was stored and the committed checkpoint agree: exactly the lines before it.
    let stored_first = stored_where(&d.db, |s| s.event.exe.as_deref() == Some(exe)).len();
    let cp = checkpoint(&d.db, &log).expect("a checkpoint was committed");
    let lines_before = text.as_bytes()[..cp.offset as usize]
        .iter()
        .filter(|&&c| c == b'\n')
        .count();
    assert_eq!(
        stored_first, lines_before,
        "events stored vs checkpoint offset {}",
        cp.offset
    );
    // A restart reads the rest, nothing twice.
    let mut d2 = d.restart();
    let got = wait_stored(&d2.db, n as usize, Duration::from_secs(60), |s| {
        s.event.exe.as_deref() == Some(exe)
    });
    assert!(d2.term().success());
    assert_eq!(got.len(), n as usize);
    let cp = checkpoint(&d2.db, &log).unwrap();
    assert_eq!(cp.offset, text.len() as u64);
}

#[test]
fn startup_says_which_sources_run_and_why() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("audit.log");
    append(&log, "");
    let mut d = Daemon::start(
        &tmp.path().join("d"),
        BASE_CONFIG,
        &[
            "--source",
            "audit-log",
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    assert!(d.term().success());
    let out = d.output();
    assert!(out.contains("source audit-log: on (asked for)"), "{out}");
    assert!(
        out.contains("source netlink: off (not among the sources asked for)"),
        "{out}"
    );
    assert!(out.contains("source kmsg: off"), "{out}");
}

#[test]
fn automatic_choice_on_this_host() {
    if !root_or_skip("automatic_choice_on_this_host") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-audit.log");
    let mut d = Daemon::start(
        &tmp.path().join("d"),
        BASE_CONFIG,
        &["--audit-log", missing.to_str().unwrap()],
    );
    assert!(d.term().success());
    let out = d.output();
    assert!(
        out.contains("source netlink: on (audit multicast group readable"),
        "{out}"
    );
    assert!(
        out.contains("source audit-log: off (") && out.contains("does not exist"),
        "{out}"
    );
    assert!(
        out.contains("source kmsg: off (a better source runs"),
        "{out}"
    );
}

#[test]
fn an_unavailable_requested_source_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-audit.log");
    let mut d = Daemon::spawn(
        &tmp.path().join("d"),
        BASE_CONFIG,
        &[
            "--source",
            "audit-log",
            "--audit-log",
            missing.to_str().unwrap(),
        ],
    );
    let st = d.wait_exit(Duration::from_secs(30));
    assert!(!st.success());
    assert!(
        d.output()
            .contains("source audit-log was asked for but cannot run"),
        "{}",
        d.output()
    );
}

#[test]
fn kmsg_file_counts_suppressed_records_as_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let kmsg = tmp.path().join("kmsg.txt");
    std::fs::copy(seccomp_watch_tests::fixture("audit/kmsg-raw.txt"), &kmsg).unwrap();
    let cfg = format!("{BASE_CONFIG}\n[kmsg]\npath = \"{}\"\n", kmsg.display());
    let mut d = Daemon::start(&tmp.path().join("d"), &cfg, &["--source", "kmsg"]);
    let got = wait_stored(&d.db, 8, Duration::from_secs(20), |_| true);
    let lost = seccomp_watch_tests::wait_for(Duration::from_secs(10), || {
        let n = loss(&d.db, "kmsg_suppressed");
        (n > 0).then_some(n)
    });
    assert!(d.term().success(), "{}", d.output());
    assert_eq!(got.len(), 8);
    assert!(got.iter().all(|s| s.source == SourceKind::Kmsg));
    assert_eq!(lost, Some(59));
    assert!(d.output().contains("rate-limits"), "{}", d.output());
}

#[test]
fn kmsg_device_gets_records_from_the_kernel() {
    if !root_or_skip("kmsg_device_gets_records_from_the_kernel") {
        return;
    }
    // The kernel prints audit records only while no audit daemon is registered.
    let _lock = AuditLock::take();
    assert_eq!(registered_audit_pid(), 0);
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_copy(tmp.path(), "demo-kmsg", false);
    let mut d = Daemon::start(&tmp.path().join("d"), BASE_CONFIG, &["--source", "kmsg"]);
    // printk is rate limited host-wide (10 records per 5 s, shared with every other audit
    // record printed meanwhile): try a few windows until some of ours get through.
    let mut got = Vec::new();
    for _ in 0..6 {
        let pid = run_demo(&demo, &["-a", "log", "-n", "3"]);
        got = wait_stored(&d.db, 3, Duration::from_secs(6), |s| s.event.pid == pid);
        if !got.is_empty() {
            break;
        }
    }
    assert!(d.term().success(), "{}", d.output());
    assert!(!got.is_empty() && got.len() <= 3, "{} events", got.len());
    assert!(got
        .iter()
        .all(|s| s.event.syscall() == Some("getppid") && s.source == SourceKind::Kmsg));
}

#[test]
fn node_setting_names_records_without_node() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("audit.log");
    let exe = "/node-test/app";
    append(&log, &seccomp_line(now_secs(), 5, 1, exe));
    append(
        &log,
        &format!("node=other {}", seccomp_line(now_secs(), 6, 1, exe)),
    );
    let cfg = format!("node = \"thishost\"\n{BASE_CONFIG}");
    let mut d = Daemon::start(
        &tmp.path().join("d"),
        &cfg,
        &[
            "--source",
            "audit-log",
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    let got = wait_stored(&d.db, 2, Duration::from_secs(20), |s| {
        s.event.exe.as_deref() == Some(exe)
    });
    assert!(d.term().success());
    let mut nodes: Vec<Option<String>> = got.iter().map(|s| s.event.node.clone()).collect();
    nodes.sort();
    assert_eq!(
        nodes,
        [Some("other".to_string()), Some("thishost".to_string())]
    );
}
