//! The audit.log source against a real auditd (`auditd -n -c DIR`, ENRICHED format):
//! rotation by rename (SIGUSR1) and by copytruncate during bursts of records, and a
//! SIGKILL + restart of our daemon mid-stream; afterwards every SECCOMP record of ours in
//! all the audit.log files is in the database exactly once. Also: netlink and audit.log
//! together store each record once; garbage lines are counted and skipped.
//!
//! Only one process can be the registered audit daemon: the tests that start auditd hold
//! the lock file /tmp/seccomp-watch-auditd.lock, and fail if a system auditd is running.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use seccomp_watch::pipeline::SourceKind;
use seccomp_watch_tests::{root_or_skip, tool_or_skip};
use support::*;

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Runs `demo -n per_round` in a loop on a thread until the returned flag is set.
fn burst(
    demo: std::path::PathBuf,
    per_round: &'static str,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let h = std::thread::spawn(move || {
        let mut rounds = 0;
        while !s.load(Ordering::Relaxed) {
            run_demo(&demo, &["-a", "log", "-n", per_round]);
            rounds += 1;
        }
        rounds
    });
    (stop, h)
}

/// Serials stored for `exe`, with how often each one is stored.
fn stored_serials(db: &std::path::Path, exe: &str) -> BTreeMap<u64, usize> {
    let mut m = BTreeMap::new();
    for s in stored_where(db, |s| s.event.exe.as_deref() == Some(exe)) {
        if let Some(serial) = s.event.serial {
            *m.entry(serial).or_insert(0) += 1;
        }
    }
    m
}

#[test]
fn auditd_rotations_and_sigkill_lose_nothing_and_store_nothing_twice() {
    let t = "auditd_rotations_and_sigkill_lose_nothing_and_store_nothing_twice";
    if !root_or_skip(t) || !tool_or_skip(t, "auditd") {
        return;
    }
    let _lock = AuditLock::take();
    let tmp = tempfile::tempdir().unwrap();
    let auditd = Auditd::start(&tmp.path().join("audit"));
    let demo = demo_copy(tmp.path(), "demo-al", false);
    let exe = demo.to_str().unwrap().to_string();
    let log = auditd.log.to_str().unwrap().to_string();
    let args = ["--source", "audit-log", "--audit-log", log.as_str()];
    let mut d = Daemon::start(&tmp.path().join("d"), BASE_CONFIG, &args);

    let (stop, gen) = burst(demo.clone(), "2000");
    sleep_ms(800);
    auditd.rotate(); // rename, while records pour in
    sleep_ms(800);
    auditd.copytruncate();
    sleep_ms(800);
    d.kill(); // SIGKILL mid-stream
    sleep_ms(500);
    auditd.rotate(); // rotated while we are down
    sleep_ms(500);
    let mut d = d.restart();
    sleep_ms(800);
    auditd.copytruncate();
    sleep_ms(500);
    auditd.rotate();
    sleep_ms(800);
    stop.store(true, Ordering::Relaxed);
    let rounds = gen.join().unwrap();
    sleep_ms(500); // auditd writes what it has queued

    let expected: Vec<u64> = auditd.seccomp_serials(&demo);
    let expected_set: BTreeSet<u64> = expected.iter().copied().collect();
    assert_eq!(
        expected.len(),
        expected_set.len(),
        "auditd wrote a record twice?"
    );
    assert!(
        expected.len() > 5_000,
        "too few records for the test to mean anything: {} ({rounds} rounds)",
        expected.len()
    );
    let files = auditd.files();
    assert!(files.len() >= 5, "rotations: {files:?}");

    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let done = loop {
        let s = stored_serials(&d.db, &exe);
        if expected_set.iter().all(|x| s.contains_key(x)) {
            break Some(());
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        sleep_ms(1000);
    };
    let st = d.term();
    assert!(st.success(), "exit status {st}:\n{}", d.output());
    let stored = stored_serials(&d.db, &exe);
    let missing: Vec<u64> = expected_set
        .iter()
        .filter(|x| !stored.contains_key(x))
        .copied()
        .collect();
    assert!(
        done.is_some() && missing.is_empty(),
        "{} of {} records missing, e.g. {:?}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(10)]
    );
    let twice: Vec<(&u64, &usize)> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    // Records the copytruncate windows took from the files (written between cp and
    // truncate) may be stored without being in any file; nothing else.
    let extra = stored.len() - expected.len();
    eprintln!(
        "{} records in {} files, all stored once; {extra} more stored from copytruncate windows",
        expected.len(),
        files.len()
    );
    assert!(extra < 5_000, "{extra} stored records are in no file");
    assert!(stored.keys().all(|s| *s > 0));
    // The cases were really exercised.
    let out = d.all_output();
    assert!(
        out.contains("audit.log rotated: going on with the next file"),
        "{out}"
    );
    assert!(out.contains("reading the rest from its copy"), "{out}");
    assert!(out.contains("resuming from the checkpoint"), "{out}");
}

#[test]
fn netlink_and_audit_log_together_store_each_record_once() {
    let t = "netlink_and_audit_log_together_store_each_record_once";
    if !root_or_skip(t) || !tool_or_skip(t, "auditd") {
        return;
    }
    let _lock = AuditLock::take();
    let tmp = tempfile::tempdir().unwrap();
    let auditd = Auditd::start(&tmp.path().join("audit"));
    let demo = demo_copy(tmp.path(), "demo-both", false);
    let log = auditd.log.to_str().unwrap().to_string();
    let args = [
        "--source",
        "netlink",
        "--source",
        "audit-log",
        "--audit-log",
        log.as_str(),
    ];
    let mut d = Daemon::start(&tmp.path().join("d"), BASE_CONFIG, &args);
    let pid = run_demo(&demo, &["-a", "log", "-n", "2000"]);
    let in_file = seccomp_watch_tests::wait_for(Duration::from_secs(30), || {
        let n = auditd.seccomp_serials(&demo).len();
        (n == 2000).then_some(n)
    });
    assert_eq!(in_file, Some(2000), "auditd wrote them all");
    let got = wait_stored(&d.db, 2000, Duration::from_secs(30), |s| s.event.pid == pid);
    // Both sources deliver every record; wait until the slower one has caught up too.
    sleep_ms(1500);
    let got_later = stored_where(&d.db, |s| s.event.pid == pid);
    assert!(d.term().success(), "{}", d.output());
    assert_eq!(got.len(), 2000);
    assert_eq!(got_later.len(), 2000, "each record stored once");
    let sources: BTreeSet<SourceKind> = got_later.iter().map(|s| s.source).collect();
    assert!(!sources.is_empty());
    let serials: BTreeSet<u64> = got_later.iter().filter_map(|s| s.event.serial).collect();
    assert_eq!(
        serials,
        auditd
            .seccomp_serials(&demo)
            .into_iter()
            .collect::<BTreeSet<u64>>()
    );
    assert!(
        d.output().contains("source netlink: on") && d.output().contains("source audit-log: on"),
        "{}",
        d.output()
    );
}

#[test]
fn daemon_mode_refuses_when_auditd_holds_the_slot() {
    let t = "daemon_mode_refuses_when_auditd_holds_the_slot";
    if !root_or_skip(t) || !tool_or_skip(t, "auditd") {
        return;
    }
    let _lock = AuditLock::take();
    let tmp = tempfile::tempdir().unwrap();
    let auditd = Auditd::start(&tmp.path().join("audit"));
    let cfg = format!("{BASE_CONFIG}\n[netlink]\nmode = \"daemon\"\n");
    let mut d = Daemon::spawn(&tmp.path().join("d"), &cfg, &["--source", "netlink"]);
    let st = d.wait_exit(Duration::from_secs(30));
    assert!(!st.success());
    let want = format!(
        "pid {} is registered as the audit daemon",
        auditd.child.id()
    );
    assert!(d.output().contains(&want), "{}", d.output());
    assert_eq!(registered_audit_pid(), auditd.child.id());
}

#[test]
fn garbage_lines_are_counted_and_skipped() {
    // A plain file: no root, no auditd needed.
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("audit.log");
    let exe = "/garbage-test/app";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut text = String::new();
    for i in 0..100u64 {
        text.push_str(&seccomp_line(now, 1_000 + i, 4242, exe));
    }
    append(&log, &text);
    let args = [
        "--source",
        "audit-log",
        "--audit-log",
        log.to_str().unwrap(),
    ];
    let mut d = Daemon::start(&tmp.path().join("d"), BASE_CONFIG, &args);
    assert_eq!(
        wait_stored(&d.db, 100, Duration::from_secs(20), |s| s
            .event
            .exe
            .as_deref()
            == Some(exe))
        .len(),
        100
    );
    // Five garbage lines (and a blank one, which is not an error).
    let mut garbage = String::new();
    garbage.push_str("hello, this is not an audit record\n");
    garbage.push_str("type=SECCOMP msg=audit(12\n");
    garbage.push_str("\u{1b}[31mred\u{1b}[0m \u{7}\n");
    garbage.push('\n');
    garbage.push_str(&"x".repeat(200_000));
    garbage.push('\n');
    garbage.push_str("type=SECCOMP msg=audit(1700000000.000:5): pid=notanumber arch=c000003e syscall=1 code=0x7ffc0000\n");
    append(&log, &garbage);
    let mut more = String::new();
    for i in 0..100u64 {
        more.push_str(&seccomp_line(now, 2_000 + i, 4242, exe));
    }
    append(&log, &more);
    let got = wait_stored(&d.db, 200, Duration::from_secs(20), |s| {
        s.event.exe.as_deref() == Some(exe)
    });
    assert_eq!(got.len(), 200, "the tail kept going after the garbage");
    let errors = seccomp_watch_tests::wait_for(Duration::from_secs(10), || {
        let n = loss(&d.db, "parse_error");
        (n >= 5).then_some(n)
    });
    assert!(d.term().success(), "{}", d.output());
    assert_eq!(errors, Some(5), "{:?}", losses(&d.db));
    assert_eq!(loss(&d.db, "parse_error"), 5);
    assert!(d.output().contains("cannot parse"), "{}", d.output());
    assert!(
        !d.output().contains('\u{1b}'),
        "control characters reached the log raw"
    );
}
