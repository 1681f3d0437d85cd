//! End-to-end tests of `seccomp-watch ingest`, `events` and `summary` on the real captures
//! in tests/fixtures/audit, through the built binary.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use seccomp_watch_tests::{bin, fixture};
use serde_json::{Map, Value};

fn run(args: &[&str]) -> Output {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("run seccomp-watch");
    assert!(
        out.status.success(),
        "seccomp-watch {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The `name value` lines of the ingest report.
fn report(out: &Output) -> BTreeMap<String, u64> {
    let text = String::from_utf8_lossy(&out.stdout);
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let Some((k, v)) = line.rsplit_once(char::is_whitespace) else {
            continue;
        };
        if let Ok(n) = v.trim().parse::<u64>() {
            m.insert(k.trim().to_string(), n);
        }
    }
    m
}

fn ingest(db: &Path, files: &[&Path]) -> BTreeMap<String, u64> {
    let mut args = vec!["ingest", "--db", path_str(db)];
    args.extend(files.iter().map(|f| path_str(f)));
    report(&run(&args))
}

fn json_lines(out: &Output) -> Vec<Map<String, Value>> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(m)) => m,
            other => panic!("not a JSON object: {l}: {other:?}"),
        })
        .collect()
}

fn all_events(db: &Path) -> Vec<Map<String, Value>> {
    json_lines(&run(&[
        "events",
        "--json",
        "--limit",
        "0",
        "--db",
        path_str(db),
    ]))
}

const STABLE_KEYS: [&str; 20] = [
    "time",
    "serial",
    "node",
    "arch",
    "syscall",
    "syscall_nr",
    "action",
    "code",
    "pid",
    "uid",
    "gid",
    "auid",
    "ses",
    "comm",
    "exe",
    "subj",
    "apparmor",
    "sig",
    "compat",
    "ip",
];

fn stable_part(m: &Map<String, Value>) -> String {
    let mut s = Map::new();
    for k in STABLE_KEYS {
        s.insert(k.to_string(), m.get(k).cloned().unwrap_or(Value::Null));
    }
    Value::Object(s).to_string()
}

const FIXTURES: [&str; 3] = [
    "audit/auditd-enriched.log",
    "audit/article-audit.log",
    "audit/kmsg.txt",
];

#[test]
fn every_record_is_stored_once_with_the_parse_fields_and_extra_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let files: Vec<PathBuf> = FIXTURES.iter().map(|f| fixture(f)).collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();

    let mut parse_args = vec!["parse"];
    parse_args.extend(refs.iter().map(|f| path_str(f)));
    let parsed = json_lines(&run(&parse_args));
    assert!(
        parsed.len() >= 70,
        "fixtures hold at least 70 SECCOMP records, parse found {}",
        parsed.len()
    );

    let r = ingest(&db, &refs);
    assert_eq!(r["stored"], parsed.len() as u64, "{r:?}");
    assert_eq!(r["duplicates"], 0, "{r:?}");
    assert_eq!(r["SECCOMP records"], parsed.len() as u64);
    assert!(
        r["other records"] > 0,
        "the auditd log has SYSCALL/PROCTITLE records: {r:?}"
    );

    let stored = all_events(&db);
    let mut want: Vec<String> = parsed.iter().map(stable_part).collect();
    let mut got: Vec<String> = stored.iter().map(stable_part).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "stored events differ from the parse output");

    for e in &stored {
        let keys: Vec<&str> = e.keys().map(String::as_str).collect();
        let mut expect: Vec<&str> = STABLE_KEYS.to_vec();
        expect.extend(["source", "container", "unit", "workload", "attributed"]);
        assert_eq!(keys, expect, "key order of events --json");
        assert_eq!(e["source"], "ingest");
        assert_eq!(e["container"], Value::Null);
        assert_eq!(e["unit"], Value::Null);
        assert_eq!(e["attributed"], false);
        let exe = e["exe"]
            .as_str()
            .map(|x| format!("exe:{x}"))
            .unwrap_or_else(|| "unknown".into());
        assert_eq!(e["workload"], Value::from(exe));
        // The stable part deserializes back into the event type.
        let ev: parsers::Event =
            serde_json::from_value(Value::Object(e.clone())).expect("stable format");
        assert_eq!(ev.time_rfc3339(), e["time"].as_str().unwrap());
    }

    // Chronological order.
    let times: Vec<&str> = stored.iter().map(|e| e["time"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);

    // Permissions of a database we created.
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn ingesting_again_or_in_another_form_stores_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let enriched = fixture("audit/auditd-enriched.log");
    let first = ingest(&db, &[&enriched]);
    assert_eq!(first["stored"], 63, "{first:?}");
    let again = ingest(&db, &[&enriched]);
    assert_eq!(again["stored"], 0, "{again:?}");
    assert_eq!(again["duplicates"], 63, "{again:?}");

    // The same records in RAW form (the enriched part cut off at 0x1d) and gzipped.
    let text = std::fs::read(&enriched).unwrap();
    let raw: Vec<u8> = text
        .split(|&b| b == b'\n')
        .flat_map(|l| {
            let cut = l.iter().position(|&b| b == 0x1d).unwrap_or(l.len());
            l[..cut].iter().copied().chain([b'\n'])
        })
        .collect();
    let gz_path = dir.path().join("audit.log.1.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz_path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&raw).unwrap();
    gz.finish().unwrap();
    let r = ingest(&db, &[&gz_path]);
    assert_eq!(r["stored"], 0, "{r:?}");
    assert_eq!(r["duplicates"], 63, "{r:?}");
    assert_eq!(all_events(&db).len(), 63);

    // The aggregates count each record once.
    let summary = json_lines(&run(&[
        "summary",
        "--by",
        "action",
        "--json",
        "--db",
        path_str(&db),
    ]));
    let total: u64 = summary.iter().map(|r| r["events"].as_u64().unwrap()).sum();
    assert_eq!(total, 63);
}

#[test]
fn gzip_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let raw = std::fs::read(fixture("audit/auditd-raw.log")).unwrap();
    let gz_path = dir.path().join("audit.log.3.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz_path).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&raw).unwrap();
    gz.finish().unwrap();
    let r = ingest(&db, &[&gz_path]);
    assert_eq!(r["stored"], 63, "{r:?}");
    assert_eq!(r["errors"], 0, "{r:?}");
}

#[test]
fn garbage_lines_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let f = dir.path().join("mixed.log");
    let good = "type=SECCOMP msg=audit(1795997052.837:4620843): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=23556 comm=\"act\" exe=\"/a\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7f93888d3829 code=0x7ffc0000\n";
    let mut text = String::new();
    text.push_str("type=SECCOMP msg=audit(garbage\n");
    text.push_str(good);
    text.push_str("type=SECCOMP msg=audit(1795997052.837:4620844): auid=0 comm=\"unterminated\n");
    text.push_str("\u{0}\u{1}binary junk\n");
    text.push_str(&good.replace("4620843", "4620845"));
    std::fs::write(&f, text).unwrap();
    let out = run(&["ingest", "--db", path_str(&db), path_str(&f)]);
    let r = report(&out);
    assert_eq!(r["stored"], 2, "{r:?}");
    assert_eq!(r["errors"], 2, "{r:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mixed.log:1"),
        "error samples name file and line"
    );
}

#[test]
fn control_characters_in_comm_are_escaped_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let f = dir.path().join("evil.log");
    // comm = "\x1b[31mevil\n" hex-encoded, as the kernel writes it.
    let comm: String = "\x1b[31mevil\n"
        .bytes()
        .map(|b| format!("{b:02X}"))
        .collect();
    let line = format!(
        "type=SECCOMP msg=audit(1795997052.837:77): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=1 comm={comm} exe=\"/x\" sig=0 arch=c000003e syscall=101 compat=0 ip=0x1 code=0x7ffc0000\n"
    );
    std::fs::write(&f, line).unwrap();
    assert_eq!(ingest(&db, &[&f])["stored"], 1);
    let out = run(&["events", "--db", path_str(&db)]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.stdout.contains(&0x1b),
        "raw ESC reached the terminal: {table}"
    );
    assert!(table.contains("\\e[31mevil\\n"), "{table}");
    assert!(table.contains("ptrace"), "{table}");
    assert_eq!(table.lines().count(), 2, "header and one row: {table}");
    // JSON keeps the exact value.
    let ev = all_events(&db);
    assert_eq!(ev[0]["comm"], "\x1b[31mevil\n");
}

#[test]
fn filters_and_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let f = fixture("audit/auditd-enriched.log");
    ingest(&db, &[&f]);
    let all = all_events(&db);
    let dbs = path_str(&db);
    let count = |args: &[&str]| {
        let mut a = vec!["events", "--json", "--limit", "0", "--db", dbs];
        a.extend(args);
        json_lines(&run(&a))
    };
    let logs = count(&["--action", "log"]);
    assert_eq!(
        logs.len(),
        all.iter().filter(|e| e["action"] == "SCMP_ACT_LOG").count()
    );
    assert!(!logs.is_empty());
    let getppid = count(&["--syscall", "getppid"]);
    assert_eq!(
        getppid.len(),
        all.iter().filter(|e| e["syscall"] == "getppid").count()
    );
    assert!(!getppid.is_empty());
    // i386 records: getppid is 64 there, and the name filter resolves per arch.
    assert!(
        getppid.iter().any(|e| e["arch"] == "SCMP_ARCH_X86"),
        "compat records found by name"
    );
    let by_nr = count(&["--syscall", "110"]);
    assert!(by_nr.iter().all(|e| e["syscall_nr"] == 110));
    let both = count(&["--syscall", "getppid", "--action", "SCMP_ACT_ERRNO"]);
    assert!(both
        .iter()
        .all(|e| e["syscall"] == "getppid" && e["action"] == "SCMP_ACT_ERRNO"));
    assert!(!both.is_empty());
    let wl = all[0]["workload"].as_str().unwrap().to_string();
    let by_wl = count(&["--workload", &wl]);
    assert_eq!(
        by_wl.len(),
        all.iter().filter(|e| e["workload"] == wl.as_str()).count()
    );
    assert!(
        count(&["--container", "0123"]).is_empty(),
        "no containers in an ingest"
    );
    // Time window: --since/--until in RFC 3339.
    let t = all[10]["time"].as_str().unwrap();
    let after = count(&["--since", t]);
    assert_eq!(
        after.len(),
        all.iter()
            .filter(|e| e["time"].as_str().unwrap() >= t)
            .count()
    );
    let before = count(&["--until", t]);
    assert_eq!(before.len() + after.len(), all.len());
    // --limit N: the newest N, oldest first.
    let last3 = json_lines(&run(&["events", "--json", "--limit", "3", "--db", dbs]));
    assert_eq!(last3.len(), 3);
    assert_eq!(last3[2]["serial"], all[all.len() - 1]["serial"]);

    // Summaries add up, by every grouping.
    for by in ["workload", "syscall", "action"] {
        let rows = json_lines(&run(&["summary", "--by", by, "--json", "--db", dbs]));
        let total: u64 = rows.iter().map(|r| r["events"].as_u64().unwrap()).sum();
        assert_eq!(total, all.len() as u64, "summary --by {by}");
    }
    let table = run(&["summary", "--by", "syscall", "--db", dbs]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("SYSCALL"), "{text}");
    assert!(text.contains("getppid"), "{text}");
}

#[test]
fn a_created_directory_is_0700_and_queries_do_not_create_databases() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new/sub/w.db");
    ingest(&db, &[&fixture("audit/article-audit.log")]);
    for d in [dir.path().join("new"), dir.path().join("new/sub")] {
        assert_eq!(
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o777,
            0o700,
            "{}",
            d.display()
        );
    }
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let missing = dir.path().join("none.db");
    let out = Command::new(bin())
        .args(["events", "--db", path_str(&missing)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!missing.exists());
}

#[test]
fn unreadable_files_fail_before_anything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let out = Command::new(bin())
        .args([
            "ingest",
            "--db",
            path_str(&db),
            path_str(&fixture("audit/article-audit.log")),
            "/nonexistent/audit.log",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/audit.log"));
}

#[test]
fn a_nodes_journal_json_export_and_text_are_one_set_of_records() {
    // Captures of a real journald (systemd container reading the host's /dev/kmsg): two
    // kernel SECCOMP records, four forged ones, one other record.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let first = ingest(&db, &[&fixture("journal/journalctl-json.txt")]);
    assert_eq!(
        (
            first["SECCOMP records"],
            first["stored"],
            first["forged"],
            first["errors"]
        ),
        (2, 2, 4, 0),
        "{first:?}"
    );
    // The same entries as `-o export` (one MESSAGE is a binary field), then as text:
    // the same node, time and serial, nothing stored twice.
    let export = ingest(&db, &[&fixture("journal/journalctl-export.txt")]);
    assert_eq!(
        (
            export["stored"],
            export["duplicates"],
            export["forged"],
            export["lines"]
        ),
        (0, 2, 4, 7),
        "{export:?}"
    );
    // From stdin, as `journalctl -o json | seccomp-watch ingest -`.
    let mut child = Command::new(bin())
        .args(["ingest", "--db", path_str(&db), "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(fixture("journal/journalctl-json.txt")).unwrap())
        .unwrap();
    let piped = report(&child.wait_with_output().unwrap());
    assert_eq!((piped["stored"], piped["duplicates"]), (0, 2), "{piped:?}");
    let short = ingest(&db, &[&fixture("journal/journalctl-short-iso-precise.txt")]);
    // The text form cannot tell `logger -t audit` from journald's audit records: that
    // one has no serial and is stored with a synthetic key.
    assert_eq!(
        (short["stored"], short["duplicates"], short["forged"]),
        (1, 2, 2),
        "{short:?}"
    );
    let events = all_events(&db);
    let serials: Vec<&Value> = events.iter().map(|e| &e["serial"]).collect();
    assert!(serials.contains(&&Value::from(170880)) && serials.contains(&&Value::from(170882)));
    assert!(events
        .iter()
        .all(|e| e["node"] == "5fc9c952dc4a" && e["source"] == "ingest"));
}

#[test]
fn stamp_less_lines_are_stored_once_even_when_identical() {
    // journald forwarded to syslog: no serial, second resolution. A process calling a
    // logged syscall in a loop writes identical lines: each is a record.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let f = dir.path().join("syslog");
    let l = "Dec 30 00:57:50 gke-node-1 audit[25570]: SECCOMP auid=4294967295 uid=0 gid=0 ses=4294967295 subj==docker-default (enforce) pid=25570 comm=\"sleep\" exe=\"/bin/sleep\" sig=0 arch=c000003e syscall=12 compat=0 ip=0x4dd50c code=0x7ffc0000\n";
    let other = l.replace("syscall=12", "syscall=9");
    std::fs::write(&f, format!("{l}{l}{l}{other}")).unwrap();
    let first = report(&run(&[
        "ingest",
        "--year",
        "2025",
        "--tz",
        "utc",
        "--db",
        path_str(&db),
        path_str(&f),
    ]));
    assert_eq!((first["stored"], first["duplicates"]), (4, 0), "{first:?}");
    let again = report(&run(&[
        "ingest",
        "--year",
        "2025",
        "--tz",
        "utc",
        "--db",
        path_str(&db),
        path_str(&f),
    ]));
    assert_eq!((again["stored"], again["duplicates"]), (0, 4), "{again:?}");
    let events = all_events(&db);
    assert_eq!(events.len(), 4);
    for e in &events {
        assert_eq!(e["time"], "2025-12-30T00:57:50.000Z");
        assert_eq!(e["serial"], Value::Null);
        assert_eq!(e["node"], "gke-node-1");
        assert_eq!(e["apparmor"]["profile"], "docker-default");
    }
    // Without --year, the year is the newest not after the file's modification time.
    let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600); // 2026-01-01
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let out = run(&["parse", "--tz", "utc", path_str(&f)]);
    let parsed = json_lines(&out);
    assert_eq!(parsed[0]["time"], "2025-12-30T00:57:50.000Z");
}

#[test]
fn ausearch_exports_in_local_time() {
    // `TZ=Europe/Berlin ausearch -i` of the ENRICHED capture: the same events as the raw
    // file once the zone is given, except KILL_PROCESS (auditd 3.0 prints `kill`).
    let raw = json_lines(&run(&[
        "parse",
        &fixture("audit/auditd-enriched.log").to_string_lossy(),
    ]));
    let interp = json_lines(&run(&[
        "parse",
        "--tz",
        "Europe/Berlin",
        &fixture("audit/ausearch-i-berlin.txt").to_string_lossy(),
    ]));
    assert_eq!(raw.len(), 63);
    assert_eq!(interp.len(), 63);
    for (r, i) in raw.iter().zip(&interp) {
        let mut r = r.clone();
        if r["action"] == "SCMP_ACT_KILL_PROCESS" {
            r.insert("action".into(), "SCMP_ACT_KILL_THREAD".into());
            r.insert("code".into(), "0x0".into());
        }
        assert_eq!(&r, i);
    }
    let utc = json_lines(&run(&[
        "parse",
        "--tz",
        "utc",
        &fixture("audit/ausearch-i-berlin.txt").to_string_lossy(),
    ]));
    assert_eq!(
        utc[0]["time"], "2026-11-30T01:04:12.837Z",
        "local time read as UTC"
    );
}
