//! Unit tests of the record entry points and the audit.log form.

use super::*;

const LOG: &[u8] = b"type=SECCOMP msg=audit(1795997052.837:4620843): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=23556 comm=\"act\" exe=\"/usr/local/libexec/seccomp-demo/act\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7f93888d3829 code=0x7ffc0000\x1dAUID=\"unset\" UID=\"root\" GID=\"root\" ARCH=x86_64 SYSCALL=unknown-syscall(-1)\n";

fn seccomp(p: Parsed<'_>) -> Record<'_> {
    match p {
        Parsed::Seccomp(r) => r,
        other => panic!("not a SECCOMP record: {other:?}"),
    }
}

#[test]
fn enriched_line_numbers_win() {
    let r = seccomp(parse_line(LOG).unwrap());
    assert_eq!(r.time_sec, Some(1795997052));
    assert_eq!(r.time_ms, 837);
    assert_eq!(r.serial, Some(4620843));
    assert_eq!(r.auid, None);
    assert_eq!(r.ses, None);
    assert_eq!((r.uid, r.gid, r.pid), (Some(0), Some(0), 23556));
    assert_eq!(r.comm, Some(Value::Quoted(b"act")));
    assert_eq!(
        (r.arch, r.syscall, r.code),
        (Some(0xc000003e), 110, 0x7ffc0000)
    );
    assert_eq!(r.ip, Some(0x7f93888d3829));
    assert_eq!(r.compat, Some(false));
    assert!(!r.damaged());
    assert!(r.unknown.is_empty());
}

#[test]
fn other_types_are_skipped_by_type() {
    let p = parse_line(b"type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=44").unwrap();
    assert_eq!(p, Parsed::Other(RecordType::Name(b"SYSCALL")));
    let p = parse_netlink(1300, b"audit(1.000:1): arch=c000003e").unwrap();
    assert_eq!(p, Parsed::Other(RecordType::Number(1300)));
    assert_eq!(
        parse_line(b"type=UNKNOWN[1334] msg=audit(1.0:2): x=1").unwrap(),
        Parsed::Other(RecordType::Number(1334))
    );
}

#[test]
fn hex_encoded_strings_decode() {
    let l = b"type=SECCOMP msg=audit(1.000:1): pid=1 comm=61637420776974682073706163 exe=2F746D702F61207B arch=c000003e syscall=1 code=0x0";
    let r = seccomp(parse_line(l).unwrap());
    assert_eq!(r.comm.unwrap().text().unwrap(), "act with spac");
    assert_eq!(r.exe.unwrap().text().unwrap(), "/tmp/a {");
}

#[test]
fn duplicated_and_missing_keys_are_errors() {
    let e = parse_line(
        b"type=SECCOMP msg=audit(1.000:1): pid=1 pid=2 arch=c000003e syscall=1 code=0x0",
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::DuplicateField("pid"));
    let e =
        parse_line(b"type=SECCOMP msg=audit(1.000:1): pid=1 arch=c000003e code=0x0").unwrap_err();
    assert_eq!(e.kind, ErrorKind::MissingField("syscall"));
    assert!(e.input.starts_with(b"type=SECCOMP"));
}

#[test]
fn truncated_lines_are_errors() {
    for n in [13, 20, 40, 60, 120] {
        let l = &LOG[..n];
        let r = parse_line(l);
        assert!(r.is_err(), "{n}: {r:?}");
    }
}

#[test]
fn lost_separator_keeps_fields_before_damage() {
    let l = b"type=SECCOMP msg=audit(1642692596.061:447): Auid=1000 uid=0 gid=0 ses=3 subj=system_u:system_r:container_t:s0:c390,c427 pid=17505 comm=\"ls\" exe=\"/usr/bin/ls\" sig=0 arch=c000003e syscall=202 compat=0 ip=0x7f323c139d40 code=0x7ffc0000AUID=\"rcc\" UID=\"root\" GID=\"root\" ARCH=x86_64 SYSCALL=futex";
    let r = seccomp(parse_line(l).unwrap());
    assert!(r.damaged());
    assert_eq!(r.warnings[0].kind, WarningKind::MixedCase);
    assert_eq!(r.warnings[1].kind, WarningKind::LostSeparator);
    assert_eq!(r.warnings[1].token, b"AUID=\"rcc\"");
    assert_eq!(r.code, 0x7ffc0000);
    assert_eq!(r.auid, Some(1000));
    assert_eq!(
        r.subj,
        Some(Value::Bare(b"system_u:system_r:container_t:s0:c390,c427"))
    );
}

#[test]
fn kernel_log_forms() {
    let tail = b"audit: type=1326 audit(1795997034.781:4620775): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=23321 comm=\"act\" exe=\"/a\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7feae76e0829 code=0x7ffc0000";
    for prefix in [
        &b""[..],
        b"[ 3023.685996] ",
        b"5,571,3023685996,-;",
        b"2026-11-30T00:03:54.781+00:00 host kernel: ",
    ] {
        let l = [prefix, &tail[..]].concat();
        let r = seccomp(parse_line(&l).unwrap());
        assert_eq!((r.serial, r.pid), (Some(4620775), 23321));
    }
    assert_eq!(
        parse_line(b"[ 3023.305635] kauditd_printk_skb: 107 callbacks suppressed").unwrap(),
        Parsed::Suppressed(107)
    );
    assert_eq!(
        parse_line(b"[ 1.0] usb 1-1: new device").unwrap(),
        Parsed::NotAudit
    );
}

#[test]
fn syslog_and_journal_forms() {
    let l = b"Nov 30 00:03:54 host audisp-syslog: node=web1 type=SECCOMP msg=audit(1795997034.781:4620775): auid=1000 uid=0 gid=0 ses=2 pid=9 comm=\"ls\" exe=\"/usr/bin/ls\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x1 code=0x7ffc0000 AUID=\"bob\" UID=\"root\" GID=\"root\" ARCH=x86_64 SYSCALL=getppid";
    let r = seccomp(parse_line(l).unwrap());
    assert_eq!(r.node, Some(&b"web1"[..]));
    assert_eq!(
        (r.serial, r.auid, r.syscall),
        (Some(4620775), Some(1000), 110)
    );
    assert!(
        r.unknown.is_empty(),
        "enriched fields are not unknown fields"
    );
    let j = b"2026-11-30T00:03:54+0000 host audit[2141]: SECCOMP auid=0 uid=0 gid=0 ses=1 pid=2141 comm=\"x\" exe=\"/x\" sig=0 arch=c000003e syscall=1 compat=0 ip=0x1 code=0x50000";
    let r = seccomp(parse_line(j).unwrap());
    assert_eq!(
        (r.time_sec, r.serial, r.pid),
        (Some(1795997034), None, 2141)
    );
}
