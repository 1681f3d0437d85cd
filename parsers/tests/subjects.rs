//! Property test: an AppArmor-style subject (any printable text with spaces, parentheses,
//! quotes, `=` and key-like words, after a doubled `=`) inserted where the kernel writes
//! it into any valid record, in any form, leaves every other field unchanged, and the
//! subject is read back exactly.

use parsers::{parse_line_with, Context, Event, Parsed};
use proptest::prelude::*;
use serde_json::Value;

#[derive(Debug, Clone)]
struct Rec {
    auid: u32,
    uid: u32,
    ses: u32,
    pid: u32,
    comm: String,
    exe: String,
    sig: u8,
    syscall: i64,
    ip: u64,
    code: u32,
}

fn rec() -> impl Strategy<Value = Rec> {
    (
        prop_oneof![Just(4_294_967_295u32), 0u32..70000],
        0u32..70000,
        prop_oneof![Just(4_294_967_295u32), 1u32..5000],
        1u32..4_000_000,
        "[a-zA-Z0-9._/-][a-zA-Z0-9 ._/-]{0,14}",
        "/[a-zA-Z0-9 ._/-]{0,40}[a-zA-Z0-9]",
        prop_oneof![Just(0u8), Just(31u8)],
        prop_oneof![Just(110i64), Just(41), Just(268), Just(0)],
        any::<u64>(),
        prop_oneof![
            Just(0x7ffc_0000u32),
            Just(0x0005_0000),
            Just(0x0003_0000),
            Just(0),
            Just(0x8000_0000)
        ],
    )
        .prop_map(
            |(auid, uid, ses, pid, comm, exe, sig, syscall, ip, code)| Rec {
                auid,
                uid,
                ses,
                pid,
                comm,
                exe,
                sig,
                syscall,
                ip,
                code,
            },
        )
}

/// A string as the kernel writes it: quoted, or hex when it holds a space or a quote.
fn kstr(s: &str) -> String {
    if s.bytes().any(|c| c <= b' ' || c == b'"' || c > b'~') {
        s.bytes().map(|c| format!("{c:02X}")).collect()
    } else {
        format!("\"{s}\"")
    }
}

fn fields(r: &Rec, subj: Option<&str>) -> String {
    let s = subj.map_or(String::new(), |t| format!(" subj=={t}"));
    format!(
        "auid={} uid={} gid={} ses={}{s} pid={} comm={} exe={} sig={} arch=c000003e syscall={} compat=0 ip={:#x} code={:#x}",
        r.auid,
        r.uid,
        r.uid,
        r.ses,
        r.pid,
        kstr(&r.comm),
        kstr(&r.exe),
        r.sig,
        r.syscall,
        r.ip,
        r.code
    )
}

fn interpreted(r: &Rec, subj: Option<&str>) -> String {
    let id = |v: u32| {
        if v == 4_294_967_295 {
            "unset".to_string()
        } else if v == 0 {
            "root".to_string()
        } else {
            format!("unknown({v})")
        }
    };
    let s = subj.map_or(String::new(), |t| format!(" subj=={t}"));
    let sys = match r.syscall {
        110 => "getppid",
        41 => "socket",
        268 => "fchmodat",
        _ => "read",
    };
    let code = match r.code {
        0x7ffc_0000 => "log",
        0x0005_0000 => "errno",
        0x0003_0000 => "trap",
        0 => "kill-thread",
        _ => "kill-process",
    };
    let ses = if r.ses == 4_294_967_295 {
        "unset".to_string()
    } else {
        r.ses.to_string()
    };
    format!(
        "type=SECCOMP msg=audit(11/30/26 00:03:54.781:4620775) : auid={} uid={} gid={} ses={ses}{s} pid={} comm={} exe={} sig={} arch=x86_64 syscall={sys} compat=0 ip={:#x} code={code} ",
        id(r.auid),
        id(r.uid),
        id(r.uid),
        r.pid,
        r.comm,
        r.exe,
        if r.sig == 0 { "SIG0" } else { "SIGSYS" },
        r.ip,
    )
}

/// The record in one of several forms.
fn line(form: u8, r: &Rec, subj: Option<&str>) -> String {
    let f = fields(r, subj);
    match form {
        0 => format!("type=SECCOMP msg=audit(1795997034.781:4620775): {f}"),
        1 => format!("node=web1 type=SECCOMP msg=audit(1795997034.781:4620775): {f}\x1dAUID=\"x\""),
        2 => format!("[ 3023.685996] audit: type=1326 audit(1795997034.781:4620775): {f}"),
        3 => format!("Nov 30 00:03:54 web1 kernel: audit: type=1326 audit(1795997034.781:4620775): {f}"),
        4 => format!("Nov 30 00:03:54 web1 audit[{}]: SECCOMP {f}", r.pid),
        5 => format!("Jan 29 07:58:12 web1 audispd[568]: type=SECCOMP msg=audit(1795997034.781:4620775): {f}"),
        _ => interpreted(r, subj),
    }
}

fn event(l: &str) -> Value {
    let ctx = Context {
        year: Some(2026),
        ..Context::DEFAULT
    };
    match parse_line_with(l.as_bytes(), &ctx) {
        Ok(Parsed::Seccomp(r)) => {
            assert!(r.warnings.is_empty(), "{l}: {:?}", r.warnings);
            serde_json::to_value(Event::from_record(&r).unwrap()).unwrap()
        }
        other => panic!("{l}: {other:?}"),
    }
}

/// Printable text a profile name and mode can be: spaces, parentheses, quotes, `=`,
/// words like ` pid=1`, not starting or ending with a space.
fn subject() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        "[!-~]{1,12}",
        Just("pid=1".to_string()),
        Just("comm=\"evil\"".to_string()),
        Just("arch=40000003".to_string()),
        Just("(enforce)".to_string()),
        Just("(complain)".to_string()),
        Just("//&".to_string()),
    ];
    proptest::collection::vec(word, 1..6).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn a_subject_never_shifts_other_fields(r in rec(), subj in subject(), form in 0u8..7) {
        let without = event(&line(form, &r, None));
        let with = event(&line(form, &r, Some(&subj)));
        let mut a = without.as_object().unwrap().clone();
        let mut b = with.as_object().unwrap().clone();
        // `?` and `(null)` are the kernel's way of writing "no value": the subject is null.
        let none = subj == "?" || subj == "(null)";
        let expected = if none { Value::Null } else { Value::String(subj.clone()) };
        prop_assert_eq!(b.remove("subj"), Some(expected));
        let aa = b.remove("apparmor").unwrap();
        match parsers::subject::apparmor(&subj).filter(|_| !none) {
            Some(p) => {
                prop_assert_eq!(&aa["profile"], p.profile);
                prop_assert_eq!(&aa["mode"], p.mode);
            }
            None => prop_assert_eq!(aa, Value::Null),
        }
        a.remove("subj");
        a.remove("apparmor");
        prop_assert_eq!(a, b);
    }
}

/// The kernel writes `?` (and some forms `(null)`) where a field has no value: such a
/// subject is null, never the text `?`, and no AppArmor profile is made of it.
#[test]
fn a_question_mark_or_null_subject_is_no_subject() {
    let r = Rec {
        auid: 4_294_967_295,
        uid: 0,
        ses: 4_294_967_295,
        pid: 3315,
        comm: "chmod".into(),
        exe: "/bin/chmod".into(),
        sig: 0,
        syscall: 268,
        ip: 0x7fd8_c219_ef24,
        code: 0x7ffc_0000,
    };
    for none in ["?", "(null)"] {
        for form in 0u8..7 {
            let e = event(&line(form, &r, Some(none)));
            assert_eq!(e["subj"], Value::Null, "form {form}: {none}");
            assert_eq!(e["apparmor"], Value::Null, "form {form}: {none}");
        }
    }
}
