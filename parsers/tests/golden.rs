//! Golden tests: every real capture in tests/fixtures/audit parsed to the stable JSON
//! format and compared with the committed expected output (`UPDATE_GOLDEN=1` rewrites
//! it), plus assertions of the facts the captures show, so that a golden file can never
//! silently bless a wrong parse.

use std::path::{Path, PathBuf};

use parsers::{parse_line, parse_netlink, Event, Parsed};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/audit")
}

/// The events of a line-oriented capture, plus counts of other records and errors.
fn parse_file(name: &str) -> (Vec<Event>, usize, usize) {
    let data = std::fs::read(fixtures().join(name)).unwrap();
    let (mut events, mut other, mut errors) = (Vec::new(), 0, 0);
    for line in data.split(|&c| c == b'\n') {
        match parse_line(line) {
            Ok(Parsed::Seccomp(r)) => events.push(Event::from_record(&r).unwrap()),
            Ok(Parsed::Other(_)) => other += 1,
            Ok(_) => {}
            Err(e) => {
                eprintln!("{name}: {e}");
                errors += 1
            }
        }
    }
    (events, other, errors)
}

fn netlink_events() -> Vec<Event> {
    let data = std::fs::read_to_string(fixtures().join("netlink-records.jsonl")).unwrap();
    data.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let t = v["type"].as_u64().unwrap() as u16;
            match parse_netlink(t, v["payload"].as_str().unwrap().as_bytes()).unwrap() {
                Parsed::Seccomp(r) => Event::from_record(&r).unwrap(),
                other => panic!("not a SECCOMP record: {other:?}"),
            }
        })
        .collect()
}

fn golden(name: &str, events: &[Event]) {
    let mut out = String::new();
    for e in events {
        out.push_str(&serde_json::to_string(e).unwrap());
        out.push('\n');
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.jsonl"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &out).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    for (i, (got, want)) in out.lines().zip(want.lines()).enumerate() {
        assert_eq!(got, want, "{name}: event {i} differs from the golden file");
    }
    assert_eq!(
        out.lines().count(),
        want.lines().count(),
        "{name}: event count differs"
    );
}

#[test]
fn golden_files() {
    for name in [
        "auditd-enriched.log",
        "auditd-raw.log",
        "kmsg-raw.txt",
        "kmsg.txt",
        "article-audit.log",
    ] {
        let (events, _, errors) = parse_file(name);
        assert_eq!(errors, 0, "{name}");
        golden(name, &events);
    }
    golden("netlink-records", &netlink_events());
}

#[test]
fn enriched_and_raw_give_the_same_events_and_the_numbers_win() {
    let (enriched, other_e, _) = parse_file("auditd-enriched.log");
    let (raw, other_r, _) = parse_file("auditd-raw.log");
    assert_eq!(enriched.len(), 63);
    assert_eq!(
        (other_e, other_r),
        (10, 10),
        "DAEMON_START/END, SYSCALL, PROCTITLE, ANOM_ABEND skipped by type"
    );
    // Different runs: compare everything but time, serial, pid and ip.
    for (a, b) in enriched.iter().zip(&raw) {
        assert_eq!(
            (a.syscall(), a.action(), &a.comm, &a.exe, a.compat),
            (b.syscall(), b.action(), &b.comm, &b.exe, b.compat)
        );
    }
    // auditd 3.0.9 writes SYSCALL=unknown-syscall(-1) in the enriched part: ignored.
    assert!(enriched.iter().all(|e| e.syscall().is_some()));
}

#[test]
fn netlink_and_kmsg_agree_with_each_other() {
    let nl = netlink_events();
    assert_eq!(nl.len(), 66);
    let (km, _, _) = parse_file("kmsg-raw.txt");
    assert_eq!(km.len(), 8);
    // The kmsg capture ran a little longer than the netlink one: its last record is past it.
    let max_nl = nl.iter().filter_map(|e| e.serial).max().unwrap();
    let mut matched = 0;
    for k in km.iter().filter(|k| k.serial.unwrap() <= max_nl) {
        let n = nl
            .iter()
            .find(|n| n.serial == k.serial)
            .expect("kmsg record also seen on netlink");
        assert_eq!(n, k);
        matched += 1;
    }
    assert_eq!(matched, 7);
}

#[test]
fn every_action_with_its_signal() {
    let nl = netlink_events();
    let mut actions: Vec<String> = nl.iter().map(|e| e.action().to_string()).collect();
    actions.sort();
    actions.dedup();
    assert_eq!(
        actions,
        [
            "SCMP_ACT_ERRNO",
            "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_LOG",
            "SCMP_ACT_TRACE",
            "SCMP_ACT_TRAP"
        ]
    );
    for e in &nl {
        let want_sig = if e.action().is_kill() { 31 } else { 0 };
        assert_eq!(e.sig, Some(want_sig), "{e:?}");
    }
}

#[test]
fn i386_compat_records() {
    let nl = netlink_events();
    let compat: Vec<&Event> = nl.iter().filter(|e| e.compat).collect();
    assert!(!compat.is_empty());
    for e in compat {
        let j = serde_json::to_value(e).unwrap();
        assert_eq!(j["arch"], "SCMP_ARCH_X86");
        assert_eq!(j["syscall"], "getppid");
        assert_eq!(j["syscall_nr"], 64);
        assert_eq!(j["comm"], "act32");
    }
}

#[test]
fn hex_encoded_comm_and_exe() {
    let nl = netlink_events();
    let spaced: Vec<&Event> = nl
        .iter()
        .filter(|e| e.comm.as_deref() == Some("act with space"))
        .collect();
    assert!(!spaced.is_empty());
    for e in spaced {
        assert_eq!(
            e.exe.as_deref(),
            Some("/usr/local/libexec/seccomp-demo/act with space")
        );
    }
}

#[test]
fn runc_init_records_are_kept() {
    let nl = netlink_events();
    let init: Vec<&Event> = nl
        .iter()
        .filter(|e| e.comm.as_deref() == Some("runc:[2:INIT]"))
        .collect();
    assert!(!init.is_empty());
    assert!(init
        .iter()
        .all(|e| e.exe.as_deref() == Some("/") && e.action().name() == Some("SCMP_ACT_LOG")));
}

#[test]
fn article_lines_with_a_lost_separator() {
    let (events, _, errors) = parse_file("article-audit.log");
    assert_eq!((events.len(), errors), (7, 0));
    let names: Vec<&str> = events.iter().map(|e| e.syscall().unwrap()).collect();
    assert_eq!(
        names,
        [
            "futex",
            "socket",
            "connect",
            "getxattr",
            "lgetxattr",
            "getxattr",
            "readlink"
        ]
    );
    for e in &events {
        let j = serde_json::to_value(e).unwrap();
        assert_eq!(j["action"], "SCMP_ACT_LOG");
        assert_eq!(j["code"], "0x7ffc0000");
        assert_eq!(j["auid"], 1000, "`Auid=` with a capital A");
        assert_eq!(j["ses"], 3);
        assert_eq!(j["subj"], "system_u:system_r:container_t:s0:c390,c427");
        assert_eq!(j["exe"], "/usr/bin/ls");
    }
}
