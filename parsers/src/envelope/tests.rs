//! Unit tests of the line prefixes and the trust rules.

use super::*;
use crate::record::{parse_line, parse_line_with, RecordType};
use crate::time::{FixedOffset, Utc};

const PRINTK: &str = "audit: type=1326 audit(1795997034.781:4620775): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=23321 comm=\"act\" exe=\"/a\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7feae76e0829 code=0x7ffc0000";
const AUDITD: &str = "type=SECCOMP msg=audit(1795997034.781:4620775): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=23321 comm=\"act\" exe=\"/a\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7feae76e0829 code=0x7ffc0000";
const JOURNALD: &str = "SECCOMP auid=4294967295 uid=0 gid=0 ses=4294967295 pid=23321 comm=\"act\" exe=\"/a\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7feae76e0829 code=0x7ffc0000";

fn ctx2026() -> Context<'static> {
    Context {
        year: Some(2026),
        ..Context::DEFAULT
    }
}

fn rec(line: &str) -> Record<'_> {
    match parse_line_with(line.as_bytes(), &ctx2026()) {
        Ok(Parsed::Seccomp(r)) => r,
        other => panic!("{line}: {other:?}"),
    }
}

fn forged(line: &str) -> Untrusted<'_> {
    match parse_line_with(line.as_bytes(), &ctx2026()) {
        Ok(Parsed::Forged(u)) => u,
        other => panic!("{line}: not forged: {other:?}"),
    }
}

#[test]
fn kernel_prefixes_in_every_shape() {
    for prefix in [
        "",
        "[ 3023.685996] ",
        "[26083697.716609][   T55] ",
        "[26083697.716609] [   T55] ",
        "[ 3023.685996]",
        "<5>[ 3023.685996] ",
        "<5>",
        "5,571,3023685996,-;",
        "5,571,3023685996,-,caller=T55;",
        "kern  :notice: [ 3023.685996] ",
        "[Mon Nov 30 00:03:54 2026] ",
        "2026-11-30T00:03:54,781000+00:00 ",
        "Nov 30 00:03:54 host kernel: ",
        "Nov 30 00:03:54 host kernel: [ 3023.685996] ",
        "Nov 30 00:03:54 host kernel: [26083697.716609][   T55] ",
        "<4>Nov 30 00:03:54 host kernel: [ 3023.685996] ",
        "2026-11-30T00:03:54.781+00:00 host kernel: ",
        "2026-11-30T00:03:54.781123Z NOTICE kernel: [ 3023.685996] ",
        "<6>1 2026-11-30T00:03:54.781Z host kernel - - - ",
        "<6>1 2026-11-30T00:03:54.781Z host kernel - - [meta x=\"a\\]b\"] ",
        "kernel: ",
        "host kernel: [ 3023.685996] ",
        "oct. 30 00:03:54 host kernel: ",
        "Okt 30 00:03:54 host kernel: ",
        "[ 5147.447310] host kernel: ",
    ] {
        let l = format!("{prefix}{PRINTK}");
        let r = rec(&l);
        assert_eq!(
            (r.serial, r.pid, r.syscall),
            (Some(4620775), 23321, 110),
            "{l}"
        );
        assert_eq!((r.time_sec, r.time_ms), (Some(1795997034), 781), "{l}");
        assert!(r.warnings.is_empty(), "{l}: {:?}", r.warnings);
        let want_node = prefix.contains("host ").then_some(&b"host"[..]);
        assert_eq!(r.node, want_node, "{l}");
    }
    // Glued: `]audit:type=1326`.
    let l = format!(
        "[ 3023.685996]{}",
        PRINTK.replace("audit: type=", "audit:type=")
    );
    assert_eq!(rec(&l).serial, Some(4620775));
}

#[test]
fn kernel_records_from_other_writers_are_forged() {
    for (prefix, want) in [
        ("mallory[4242]: ", Untrusted::Tag(b"mallory")),
        (
            "Nov 30 00:03:54 host mallory[4242]: ",
            Untrusted::Tag(b"mallory"),
        ),
        ("Nov 30 00:03:54 host root: ", Untrusted::Tag(b"root")),
        ("<13>Nov 30 00:03:54 host kernel: ", Untrusted::Facility(1)),
        ("<14>[ 3023.685996] ", Untrusted::Facility(1)),
        ("12,571,3023685996,-;", Untrusted::Facility(1)),
        ("user  :notice: [ 3023.685996] ", Untrusted::Facility(1)),
        (
            "<14>1 2026-11-30T00:03:54.781Z host mallory 4242 - - ",
            Untrusted::Tag(b"mallory"),
        ),
        (
            "Nov 30 00:03:54 host audispd[1]: ",
            Untrusted::Tag(b"audispd"),
        ),
        (
            "Nov 30 00:03:54 host kernel: something ",
            Untrusted::Tag(b"kernel"),
        ),
    ] {
        let l = format!("{prefix}{PRINTK}");
        assert_eq!(forged(&l), want, "{l}");
    }
    // rsyslog takes `audit:` of `logger 'audit: type=1326 ...'` as the tag.
    let l = format!("Nov 30 00:03:54 host {PRINTK}");
    assert_eq!(forged(&l), Untrusted::Tag(b"audit"));
    // A dmesg line with the record in the middle of another kernel message.
    for l in [
        format!("[ 3023.685996] EXT4-fs warning: {PRINTK}"),
        format!("[ 3023.685996] EXT4-fs {PRINTK}"),
        format!("5,1,2,-;EXT4-fs {PRINTK}"),
    ] {
        let p = parse_line(l.as_bytes()).unwrap();
        assert!(
            matches!(p, Parsed::NotAudit | Parsed::Forged(_)),
            "{l}: {p:?}"
        );
    }
    // Other record types from other writers are not audit records at all.
    let l = "Nov 30 00:03:54 host mallory: audit: type=1300 audit(1.2:3): arch=c000003e";
    assert_eq!(parse_line(l.as_bytes()).unwrap(), Parsed::NotAudit);
    let l = "Nov 30 00:03:54 host mallory: kauditd_printk_skb: 9 callbacks suppressed";
    assert_eq!(parse_line(l.as_bytes()).unwrap(), Parsed::NotAudit);
}

#[test]
fn audit_dispatcher_forms() {
    for prefix in [
        "Jan 29 07:58:12 [reducted] audispd[568]: node=web1 ",
        "Jan 29 07:58:12 host audisp-syslog: node=web1 ",
        "2026-01-29T07:58:12+01:00 host audisp-remote[9]: node=web1 ",
        "<14>1 2026-01-29T07:58:12Z host audisp-syslog - - - node=web1 ",
        "[reducted] audispd[568]: node=web1 ",
        "node=web1 ",
    ] {
        let l = format!("{prefix}{AUDITD}");
        let r = rec(&l);
        assert_eq!(
            (r.serial, r.node),
            (Some(4620775), Some(&b"web1"[..])),
            "{l}"
        );
    }
    // Without node=, the syslog host names the node.
    let l = format!("Jan 29 07:58:12 gke-1 audisp-syslog: {AUDITD}");
    let r = rec(&l);
    assert_eq!(r.node, Some(&b"gke-1"[..]));
    // rsyslog's escape of the 0x1d separator.
    let l = format!("Jan 29 07:58:12 h audisp-syslog: {AUDITD}#035AUID=\"unset\" UID=\"root\"");
    let r = rec(&l);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.code, 0x7ffc0000);
    // A tag the caller trusts (rsyslog imfile shipping audit.log).
    let l = format!("Jan 29 07:58:12 h audit-log: {AUDITD}");
    assert_eq!(forged(&l), Untrusted::Tag(b"audit-log"));
    let tags = ["audit-log".to_string()];
    let ctx = Context {
        trusted_tags: &tags,
        ..ctx2026()
    };
    assert!(matches!(
        parse_line_with(l.as_bytes(), &ctx),
        Ok(Parsed::Seccomp(_))
    ));
    // Untagged syslog lines are not trusted.
    let l = format!("Jan 29 07:58:12 host {AUDITD}");
    assert_eq!(forged(&l), Untrusted::NoTag);
}

#[test]
fn journald_forms_take_time_and_host_from_the_header() {
    let secs = 1_795_997_034; // 2026-11-30T00:03:54Z
    for (prefix, ms) in [
        ("Nov 30 00:03:54 host audit[23321]: ", 0),
        ("Nov 30 00:03:54.781123 host audit[23321]: ", 781),
        ("2026-11-30T00:03:54+0000 host audit[23321]: ", 0),
        ("2026-11-30T00:03:54.781123+00:00 host audit[23321]: ", 781),
        ("2026-11-30 00:03:54 host audit[23321]: ", 0),
        ("Mon 2026-11-30 00:03:54 UTC host audit[23321]: ", 0),
        ("1795997034.781123 host audit[23321]: ", 781),
        ("Nov 30 00:03:54 host audit: ", 0),
        ("<38>Nov 30 00:03:54 host audit[23321]: ", 0),
        ("<38>1 2026-11-30T00:03:54.781Z host audit 23321 - - ", 781),
    ] {
        let l = format!("{prefix}{JOURNALD}");
        let r = rec(&l);
        assert_eq!((r.time_sec, r.time_ms), (Some(secs), ms), "{l}");
        assert_eq!((r.serial, r.node), (None, Some(&b"host"[..])), "{l}");
        assert_eq!((r.pid, r.syscall, r.code), (23321, 110, 0x7ffc0000), "{l}");
    }
    // No host name.
    let l = format!("Nov 30 00:03:54 audit[23321]: {JOURNALD}");
    let r = rec(&l);
    assert_eq!((r.time_sec, r.node), (Some(secs), None));
    // The number when systemd's table lacks the name.
    let l = format!(
        "Nov 30 00:03:54 h audit[1]: {}",
        JOURNALD.replacen("SECCOMP", "1326", 1)
    );
    let r = rec(&l);
    assert_eq!(r.pid, 23321);
    // Other types under tag audit are skipped by type; the same text under another tag
    // is forged.
    assert_eq!(
        parse_line(b"Nov 30 00:03:54 h audit[1]: SYSCALL arch=c000003e syscall=1").unwrap(),
        Parsed::Other(RecordType::Name(b"SYSCALL"))
    );
    let l = format!("Nov 30 00:03:54 host sshd[1]: {JOURNALD}");
    assert_eq!(forged(&l), Untrusted::Tag(b"sshd"));
}

#[test]
fn zones_and_years() {
    let l = format!("Nov 30 01:03:54 host audit[1]: {JOURNALD}");
    let berlin = Context {
        year: Some(2026),
        zone: &FixedOffset(3600),
        ..Context::DEFAULT
    };
    match parse_line_with(l.as_bytes(), &berlin).unwrap() {
        Parsed::Seccomp(r) => assert_eq!(r.time_sec, Some(1_795_997_034)),
        other => panic!("{other:?}"),
    }
    // The year from the reference time: a file written on 2027-01-02 holds December's
    // lines of 2026.
    let jan2 = crate::time::civil_secs(2027, 1, 2, 0, 0, 0) * 1000;
    let ctx = Context {
        reference_ms: Some(jan2),
        zone: &Utc,
        ..Context::DEFAULT
    };
    let l = format!("Dec 31 23:59:59 host audit[1]: {JOURNALD}");
    match parse_line_with(l.as_bytes(), &ctx).unwrap() {
        Parsed::Seccomp(r) => assert_eq!(
            r.time_sec,
            Some(crate::time::civil_secs(2026, 12, 31, 23, 59, 59))
        ),
        other => panic!("{other:?}"),
    }
    // No year known: no time (the event cannot be made; the caller counts an error).
    match parse_line(l.as_bytes()).unwrap() {
        Parsed::Seccomp(r) => assert_eq!(r.time_sec, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_audit_lines() {
    for l in [
        "Nov 30 00:03:54 host sshd[1]: Accepted publickey for root",
        "[ 1.0] usb 1-1: new device",
        "----",
        "time->Mon Nov 30 00:04:12 2026",
        "sudo: alice : COMMAND=/usr/bin/grep type=SECCOMP /var/log/audit/audit.log",
        "Nov 30 00:03:54 host sudo: alice : COMMAND=/usr/bin/grep type=SECCOMP x",
    ] {
        assert!(
            matches!(parse_line(l.as_bytes()), Ok(Parsed::NotAudit) | Err(_)),
            "{l}: {:?}",
            parse_line(l.as_bytes())
        );
    }
    assert_eq!(
        parse_line(
            b"Nov 30 00:03:54 host kernel: [ 3023.3] kauditd_printk_skb: 107 callbacks suppressed"
        )
        .unwrap(),
        Parsed::Suppressed(107)
    );
    assert_eq!(
        parse_line(b"12,1,2,-;kauditd_printk_skb: 107 callbacks suppressed").unwrap(),
        Parsed::NotAudit
    );
}
