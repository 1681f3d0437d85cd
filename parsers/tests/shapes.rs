//! Golden tests of every shape a SECCOMP record reaches us in, each asserting every field
//! of the event:
//! - `tests/fixtures/shapes/shapes.log`: one real record (from the kmsg capture) written
//!   in every form (kernel log, syslog, journald text, audit.log, audit dispatchers,
//!   `ausearch -i`, damaged, with LSM subjects, forged), each line preceded by
//!   `# what | expectation` where the expectation is `forged` or a JSON object of the
//!   fields that differ from the base event (`_warnings`: how many warnings);
//! - `shapes/records.log`: other records (3.x kernels without `arch=`, arm, aarch64, s390x,
//!   i386, hex-encoded strings) in raw and interpreted forms, with full expected events;
//! - real captures: the four wild lines (`wild/`), `ausearch -i` of the auditd capture
//!   (`audit/ausearch-i*.txt`), every `dmesg` format and `/dev/kmsg` with a forged
//!   user-space write (`audit/dmesg-forms.txt`), and journald's `journalctl` text and
//!   JSON forms (`journal/`).

use std::path::{Path, PathBuf};

use parsers::journal::JournalEntry;
use parsers::time::{FixedOffset, Utc, Zone};
use parsers::{parse_line_with, Context, Event, Parsed};
use serde_json::{json, Value};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ctx(zone: &dyn Zone) -> Context<'_> {
    Context {
        year: Some(2026),
        zone,
        ..Context::DEFAULT
    }
}

/// The event of the record all lines of `shapes.log` hold (the first record of the kmsg
/// capture).
fn base() -> Value {
    json!({"time":"2026-11-30T00:03:54.781Z","serial":4620775,"node":null,
        "arch":"SCMP_ARCH_X86_64","syscall":"getppid","syscall_nr":110,
        "action":"SCMP_ACT_LOG","code":"0x7ffc0000","pid":23321,"uid":0,"gid":0,
        "auid":null,"ses":null,"comm":"act","exe":"/usr/local/libexec/seccomp-demo/act",
        "subj":null,"apparmor":null,"sig":0,"compat":false,"ip":"0x7feae76e0829"})
}

enum Outcome {
    Event(Value, usize),
    Forged,
}

/// What a line gave: its event's JSON and its number of warnings, or forged.
fn outcome(line: &[u8], c: &Context<'_>) -> Result<Outcome, String> {
    match parse_line_with(line, c) {
        Ok(Parsed::Seccomp(r)) => {
            let e = Event::from_record(&r).map_err(|e| e.to_string())?;
            Ok(Outcome::Event(
                serde_json::to_value(&e).unwrap(),
                r.warnings.len(),
            ))
        }
        Ok(Parsed::Forged(_)) => Ok(Outcome::Forged),
        other => Err(format!("{other:?}")),
    }
}

/// Checks a `# what | expectation` file; `base` is merged under each expectation.
fn check_file(name: &str, base: Option<Value>) -> usize {
    let data = read(name);
    let text = String::from_utf8(data).unwrap();
    let mut lines = text.lines();
    let mut n = 0;
    while let Some(head) = lines.next() {
        let (desc, exp) = head
            .strip_prefix("# ")
            .and_then(|h| h.rsplit_once(" | "))
            .unwrap_or_else(|| panic!("{name}: not an expectation line: {head}"));
        let line = lines.next().unwrap();
        n += 1;
        let got = outcome(line.as_bytes(), &ctx(&Utc))
            .unwrap_or_else(|e| panic!("{name}: {desc}: not a record: {e}\n{line}"));
        match (exp, got) {
            ("forged", Outcome::Forged) => {}
            ("forged", Outcome::Event(e, _)) => panic!("{name}: {desc}: not forged: {e}"),
            (_, Outcome::Forged) => panic!("{name}: {desc}: forged\n{line}"),
            (exp, Outcome::Event(got, warnings)) => {
                let mut want = base.clone().unwrap_or_else(|| json!({}));
                let exp: Value = serde_json::from_str(exp).unwrap();
                let mut want_warnings = 0;
                for (k, v) in exp.as_object().unwrap() {
                    if k == "_warnings" {
                        want_warnings = v.as_u64().unwrap() as usize;
                    } else {
                        want[k] = v.clone();
                    }
                }
                assert_eq!(got, want, "{name}: {desc}\n{line}");
                assert_eq!(warnings, want_warnings, "{name}: {desc}: warnings\n{line}");
            }
        }
    }
    n
}

#[test]
fn one_record_in_every_form() {
    assert_eq!(check_file("shapes/shapes.log", Some(base())), 71);
}

#[test]
fn other_records_raw_and_interpreted() {
    assert_eq!(check_file("shapes/records.log", None), 13);
}

#[test]
fn the_wild_lines_every_field() {
    let data = read("wild/wild.log");
    let want = [
        json!({"time":"2025-02-26T02:03:30.396Z","serial":1727850,"node":null,
            "arch":"SCMP_ARCH_X86_64","syscall":"fchmodat","syscall_nr":268,
            "action":"SCMP_ACT_LOG","code":"0x7ffc0000","pid":3315793,"uid":0,"gid":0,
            "auid":null,"ses":null,"comm":"chmod","exe":"/bin/chmod",
            "subj":"cri-containerd.apparmor.d (enforce)",
            "apparmor":{"profile":"cri-containerd.apparmor.d","mode":"enforce"},
            "sig":0,"compat":false,"ip":"0x7fd8c219ef24"}),
        json!({"time":"2025-12-30T00:57:50.000Z","serial":null,
            "node":"gke-cluster-1-default-pool-f427cef2-hd49",
            "arch":"SCMP_ARCH_X86_64","syscall":"brk","syscall_nr":12,
            "action":"SCMP_ACT_LOG","code":"0x7ffc0000","pid":25570,"uid":0,"gid":0,
            "auid":null,"ses":null,"comm":"sleep","exe":"/bin/sleep",
            "subj":"docker-default (enforce)",
            "apparmor":{"profile":"docker-default","mode":"enforce"},
            "sig":0,"compat":false,"ip":"0x4dd50c"}),
        json!({"time":"2025-04-25T16:56:53.000Z","serial":null,"node":"ubuntu",
            "arch":"SCMP_ARCH_X86_64","syscall":"getsockopt","syscall_nr":55,
            "action":"SCMP_ACT_LOG","code":"0x7ffc0000","pid":17276,"uid":0,"gid":0,
            "auid":1001,"ses":79,"comm":"curl","exe":"/snap/test-snapd-curl/27/usr/bin/curl",
            "subj":null,"apparmor":null,"sig":0,"compat":false,"ip":"0x7ff1c6d2e73a"}),
        json!({"time":"2021-01-29T07:58:12.540Z","serial":26626,"node":"[reducted]",
            "arch":"SCMP_ARCH_X86_64","syscall":"brk","syscall_nr":12,
            "action":"SCMP_ACT_KILL_THREAD","code":"0x0","pid":7743,"uid":22776,
            "gid":89939,"auid":22776,"ses":11,"comm":"clang++",
            "exe":"/usr/local/google/home/ukai/tmp/try-sample2/root/third_party/llvm-build/Release+Asserts/bin/clang",
            "subj":"untrusted (complain)",
            "apparmor":{"profile":"untrusted","mode":"complain"},
            "sig":31,"compat":false,"ip":"0x7fa45496bcb7"}),
    ];
    // The syslog lines carry no year: 2025, as for a file written in 2025.
    let c = Context {
        year: Some(2025),
        ..Context::DEFAULT
    };
    let lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), want.len());
    for (l, w) in lines.iter().zip(&want) {
        match outcome(l, &c).unwrap() {
            Outcome::Event(got, warnings) => {
                assert_eq!(&got, w, "{}", String::from_utf8_lossy(l));
                assert_eq!(warnings, 0);
            }
            Outcome::Forged => panic!("forged: {}", String::from_utf8_lossy(l)),
        }
    }
}

/// The events of a line file (SECCOMP records only), with their line numbers.
fn events(name: &str, c: &Context<'_>) -> Vec<(usize, Event)> {
    let data = read(name);
    let mut out = Vec::new();
    for (i, l) in data.split(|&b| b == b'\n').enumerate() {
        match parse_line_with(l, c) {
            Ok(Parsed::Seccomp(r)) => out.push((i + 1, Event::from_record(&r).unwrap())),
            Ok(_) => {}
            Err(e) => panic!("{name}:{}: {e}", i + 1),
        }
    }
    out
}

#[test]
fn ausearch_interpreted_gives_the_raw_events() {
    // `TZ=UTC ausearch -i --input auditd-raw.log` and `TZ=Europe/Berlin ... enriched`.
    for (interp, raw, zone) in [
        (
            "audit/ausearch-i.txt",
            "audit/auditd-raw.log",
            FixedOffset(0),
        ),
        (
            "audit/ausearch-i-berlin.txt",
            "audit/auditd-enriched.log",
            FixedOffset(3600),
        ),
    ] {
        let got = events(interp, &ctx(&zone));
        let want = events(raw, &ctx(&Utc));
        assert_eq!(got.len(), 63, "{interp}");
        assert_eq!(got.len(), want.len(), "{interp}");
        for ((li, g), (_, w)) in got.iter().zip(&want) {
            let mut w = w.clone();
            // auditd 3.0 prints KILL_PROCESS as `kill`, like KILL_THREAD.
            if w.code == 0x8000_0000 {
                w.code = 0;
            }
            assert_eq!(g, &w, "{interp}:{li}");
        }
    }
}

#[test]
fn every_dmesg_format_and_a_forged_kmsg_write() {
    // Real output of `dmesg`, `dmesg -x`, `-T`, `-r`, `--time-format iso` and a read of
    // /dev/kmsg, after the kernel logged three records and root wrote a fourth (pid
    // 4242) into /dev/kmsg.
    let data = read("audit/dmesg-forms.txt");
    let lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 24);
    let real = [170830u64, 170831, 170832];
    let c = ctx(&Utc);
    let mut kernel_events: Vec<Event> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let text = String::from_utf8_lossy(l);
        let forged_write = text.contains("pid=4242");
        // The plain text forms drop the facility: the write cannot be told from the
        // kernel's there. `dmesg -x` and /dev/kmsg keep it. (`dmesg -r` prints <5> for
        // every record: util-linux does not show the facility.)
        let tells = text.starts_with("user  :") || text.starts_with("12,");
        match parse_line_with(l, &c).unwrap() {
            Parsed::Forged(parsers::Untrusted::Facility(1)) => {
                assert!(forged_write && tells, "line {i}: {text}")
            }
            Parsed::Seccomp(r) => {
                assert!(
                    !(forged_write && tells),
                    "line {i}: forged write kept: {text}"
                );
                let e = Event::from_record(&r).unwrap();
                if !forged_write {
                    assert!(real.contains(&e.serial.unwrap()), "{text}");
                    kernel_events.push(e);
                }
            }
            other => panic!("line {i}: {other:?}: {text}"),
        }
    }
    assert_eq!(kernel_events.len(), 18);
    // Every format gives the same events.
    for chunk in kernel_events.chunks(3) {
        assert_eq!(chunk, &kernel_events[..3]);
    }
    let e = &kernel_events[2];
    assert_eq!(
        serde_json::to_value(e).unwrap(),
        json!({"time":"2026-12-02T19:51:28.481Z","serial":170832,"node":null,
            "arch":"SCMP_ARCH_X86_64","syscall":"getppid","syscall_nr":110,
            "action":"SCMP_ACT_KILL_PROCESS","code":"0x80000000","pid":11080,"uid":0,
            "gid":0,"auid":null,"ses":null,"comm":"demo-i11","exe":"/tmp/i11/demo-i11",
            "subj":null,"apparmor":null,"sig":31,"compat":false,"ip":"0x7fc3dcf7e829"})
    );
}

/// The kernel records of the journal captures (journald read them from /dev/kmsg in a
/// systemd container): serials 170880 and 170882. Forged: the user-space /dev/kmsg
/// write (journald took `audit:` as its identifier), `logger -t mallory` with the
/// printk text, `logger -t audit` with journald's audit text (which the text forms
/// cannot tell from the real one), and a second `logger -t mallory` with an escape byte.
fn journal_kernel_event(serial: u64) -> Value {
    let (ms, pid, ip, action, code, sig, t) = if serial == 170880 {
        (
            "22.681",
            13485,
            "0x7fea0697f829",
            "SCMP_ACT_LOG",
            "0x7ffc0000",
            0,
            "",
        )
    } else {
        (
            "44.457",
            14116,
            "0x7f3602f64829",
            "SCMP_ACT_TRAP",
            "0x30000",
            0,
            "",
        )
    };
    let _ = t;
    json!({"time": format!("2026-12-02T19:52:{ms}Z"),"serial":serial,"node":"5fc9c952dc4a",
        "arch":"SCMP_ARCH_X86_64","syscall":"getppid","syscall_nr":110,"action":action,
        "code":code,"pid":pid,"uid":0,"gid":0,"auid":null,"ses":null,"comm":"demo-j11",
        "exe":"/usr/local/bin/demo-j11","subj":null,"apparmor":null,"sig":sig,
        "compat":false,"ip":ip})
}

#[test]
fn journalctl_text_forms() {
    let c = ctx(&Utc);
    for form in [
        "short",
        "short-iso",
        "short-precise",
        "short-iso-precise",
        "short-full",
        "short-unix",
        "short-monotonic",
    ] {
        let name = format!("journal/journalctl-{form}.txt");
        let data = read(&name);
        let (mut got, mut forged, mut audit_form) = (Vec::new(), 0, 0);
        for l in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let text = String::from_utf8_lossy(l);
            match parse_line_with(l, &c).unwrap() {
                Parsed::Seccomp(r) => {
                    let e = Event::from_record(&r);
                    if text.contains("audit[") {
                        // `logger -t audit`: journald's audit text, not tellable here;
                        // short-monotonic has no time for it.
                        audit_form += 1;
                        assert_eq!(r.pid, 4244, "{name}: {text}");
                        continue;
                    }
                    got.push(serde_json::to_value(e.unwrap()).unwrap());
                }
                Parsed::Forged(_) => forged += 1,
                Parsed::Other(_) => {}
                other => panic!("{name}: {other:?}: {text}"),
            }
        }
        assert_eq!(audit_form, 1, "{name}");
        let want_forged = if form == "short" { 3 } else { 2 };
        assert_eq!(forged, want_forged, "{name}");
        assert_eq!(
            got,
            [journal_kernel_event(170880), journal_kernel_event(170882)],
            "{name}"
        );
    }
}

#[test]
fn journalctl_json() {
    let data = read("journal/journalctl-json.txt");
    let c = ctx(&Utc);
    let (mut got, mut forged) = (Vec::new(), Vec::new());
    for l in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let e = JournalEntry::from_json(l).unwrap();
        match e.parse(&c).unwrap() {
            Parsed::Seccomp(r) => {
                got.push(serde_json::to_value(Event::from_record(&r).unwrap()).unwrap())
            }
            Parsed::Forged(u) => forged.push(u.to_string()),
            Parsed::Other(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        got,
        [journal_kernel_event(170880), journal_kernel_event(170882)]
    );
    // The JSON tells all four forgeries, the `logger -t audit` one too.
    assert_eq!(
        forged,
        [
            "kernel log facility 1, not 0 (kern)",
            "journal transport \"syslog\"",
            "journal transport \"syslog\"",
            "journal transport \"syslog\"",
        ]
    );
}

#[test]
fn journald_audit_transport() {
    // journald's audit transport (journald-audit.c): the record's fields after its stamp
    // in MESSAGE behind the type's name, the serial in _AUDIT_ID, the stamp's time in
    // _SOURCE_REALTIME_TIMESTAMP.
    let text = std::fs::read_to_string(fixture("shapes/journal-audit.json")).unwrap();
    let c = ctx(&Utc);
    let mut got = Vec::new();
    for l in text.lines() {
        let e = JournalEntry::from_json(l.as_bytes()).unwrap();
        match e.parse(&c).unwrap() {
            Parsed::Seccomp(r) => {
                got.push(serde_json::to_value(Event::from_record(&r).unwrap()).unwrap())
            }
            Parsed::Forged(_) => got.push(json!("forged")),
            Parsed::Other(t) => got.push(json!(t.name())),
            other => panic!("{other:?}"),
        }
    }
    let mut want = base();
    want["node"] = json!("web1");
    let mut aa = want.clone();
    aa["subj"] = json!("docker-default (enforce)");
    aa["apparmor"] = json!({"profile": "docker-default", "mode": "enforce"});
    assert_eq!(
        got,
        [want.clone(), aa, json!("SYSCALL"), json!("forged"), want]
    );
}
