//! Bad input never panics: property tests over arbitrary bytes and over mutations of real
//! records (CI runs a bounded number of cases), plus the named hard cases.

use parsers::record::{ErrorKind, WarningKind};
use parsers::{parse_line, parse_netlink, Event, Parsed};
use proptest::prelude::*;

const GOOD: &[u8] = b"node=web1 type=SECCOMP msg=audit(1795997052.837:4620843): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=23556 comm=\"act\" exe=2F746D702F612062 sig=0 arch=c000003e syscall=110 compat=0 ip=0x7f93888d3829 code=0x7ffc0000\x1dAUID=\"unset\" UID=\"root\" GID=\"root\" ARCH=x86_64 SYSCALL=getppid";

/// Parses and, for SECCOMP records, builds and serialises the event: the whole path a
/// line takes.
fn exercise(line: &[u8]) {
    if let Ok(Parsed::Seccomp(r)) = parse_line(line) {
        if let Ok(e) = Event::from_record(&r) {
            let mut out = Vec::new();
            e.write_json(&mut out);
            let back: Event = serde_json::from_slice(&out).expect("own JSON reads back");
            assert_eq!(back.serial, e.serial);
        }
    }
    let _ = parse_netlink(1326, line);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise(&b);
    }

    #[test]
    fn mutated_records_never_panic(pos in 0usize..GOOD.len(), byte in any::<u8>(), cut in 0usize..GOOD.len(), insert in any::<bool>()) {
        let mut l = GOOD.to_vec();
        if insert { l.insert(pos, byte) } else { l[pos] = byte }
        exercise(&l);
        exercise(&l[..cut.min(l.len())]);
    }

    #[test]
    fn text_like_lines_never_panic(s in "(type=SECCOMP msg=audit\\([0-9]{1,12}\\.[0-9]{1,4}:[0-9]{1,5}\\): )?([a-zA-Z]{1,6}=(\"[^\"]{0,8}\"?|[0-9a-fA-Fx()?=-]{0,10}) ?){0,16}") {
        exercise(s.as_bytes());
    }
}

#[test]
fn every_truncation_is_an_error_or_a_record_never_a_panic() {
    for n in 0..GOOD.len() {
        match parse_line(&GOOD[..n]) {
            Ok(Parsed::Seccomp(r)) => assert!(n > 200, "record at {n} bytes: {r:?}"),
            Ok(_) => {}
            Err(e) => assert_eq!(e.input, &GOOD[..n], "the error keeps the offending bytes"),
        }
    }
}

#[test]
fn a_one_mebibyte_line() {
    let mut l =
        b"type=SECCOMP msg=audit(1.000:1): pid=1 arch=c000003e syscall=1 code=0x0 comm=\"".to_vec();
    l.extend(std::iter::repeat_n(b'a', 1 << 20));
    l.push(b'"');
    let Ok(Parsed::Seccomp(r)) = parse_line(&l) else {
        panic!("a long comm is still a record")
    };
    assert_eq!(r.comm.unwrap().text().unwrap().len(), 1 << 20);
    let mut junk = vec![b'x'; 1 << 20];
    junk.extend_from_slice(b" type=SECCOMP");
    assert!(parse_line(&junk).is_err());
}

#[test]
fn invalid_utf8_is_replaced() {
    let l = b"type=SECCOMP msg=audit(1.000:1): pid=1 arch=c000003e syscall=1 code=0x0 comm=\"a\xffb\" exe=\"/\xc3\x28\"";
    let Ok(Parsed::Seccomp(r)) = parse_line(l) else {
        panic!()
    };
    let e = Event::from_record(&r).unwrap();
    assert_eq!(e.comm.as_deref(), Some("a\u{fffd}b"));
    assert_eq!(e.exe.as_deref(), Some("/\u{fffd}("));
}

#[test]
fn binary_garbage_and_bad_values() {
    assert!(matches!(
        parse_line(b"\x00\x01\x02\xff\xfe"),
        Ok(Parsed::NotAudit)
    ));
    let e = parse_line(b"type=SECCOMP msg=audit(1.000:1): pid=1 arch=zz syscall=1 code=0x0")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadValue("arch"));
    // A bad optional value loses the field, not the record.
    let Ok(Parsed::Seccomp(r)) = parse_line(
        b"type=SECCOMP msg=audit(1.000:1): pid=1 arch=c000003e syscall=1 code=0x0 compat=7",
    ) else {
        panic!("kept")
    };
    assert_eq!(r.compat, None);
    assert_eq!(r.warnings[0].kind, WarningKind::BadValue("compat"));
    assert_eq!(r.warnings[0].token, b"compat=7");
    // A bad required value is an error.
    for (l, field) in [
        ("pid=x arch=c000003e syscall=1 code=0x0", "pid"),
        ("pid=1 arch=c000003e syscall=x code=0x0", "syscall"),
        ("pid=1 arch=c000003e syscall=1 code=7", "code"),
        ("pid=1 arch=c000003e syscall=1 code=0xzz", "code"),
    ] {
        let l = format!("type=SECCOMP msg=audit(1.000:1): {l}");
        let e = parse_line(l.as_bytes()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadValue(field), "{l}");
    }
    let e = parse_line(b"type=SECCOMP msg=audit(x): pid=1").unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadHeader);
    let e = parse_line(
        b"type=SECCOMP msg=audit(1.000:1): pid=1 arch=c000003e syscall=1 code=0x0 code=0x0",
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::DuplicateField("code"));
    assert!(e.to_string().contains("duplicated field code="));
}

#[test]
fn null_and_question_mark_values() {
    let l = b"type=SECCOMP msg=audit(1.000:1): pid=1 comm=(null) exe=? subj=? arch=c000003e syscall=1 code=0x0";
    let Ok(Parsed::Seccomp(r)) = parse_line(l) else {
        panic!()
    };
    let e = Event::from_record(&r).unwrap();
    assert_eq!((e.comm, e.exe, e.subj), (None, None, None));
}

#[test]
fn field_order_is_not_assumed_and_unknown_fields_are_kept() {
    let l = b"type=SECCOMP msg=audit(1.000:1): code=0x7ffc0000 syscall=110 newfield=42 arch=c000003e pid=7";
    let Ok(Parsed::Seccomp(r)) = parse_line(l) else {
        panic!()
    };
    assert_eq!((r.pid, r.syscall, r.code), (7, 110, 0x7ffc0000));
    assert_eq!(r.unknown, vec![(&b"newfield"[..], &b"42"[..])]);
}
