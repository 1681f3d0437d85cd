//! The field scanner of a SECCOMP record: `key=value` words after the header, in raw form
//! (as the kernel writes them) or interpreted (`ausearch -i`: names instead of numbers,
//! strings decoded and unquoted).
//!
//! The kernel writes the fields in a fixed order (`auid uid gid ses subj pid comm exe sig
//! arch syscall compat ip code`). Values are read to the next space, except those that may
//! hold spaces: the LSM subject (`subj==docker-default (enforce)`, printed unquoted) and,
//! in the interpreted form, `comm` and `exe`. Those run to the last ` NEXT=` of the field
//! the kernel writes after them (`pid=` after `subj=`), so that a subject holding ` pid=1`
//! cannot shift the real fields; with no such key they run to the next known key.
//!
//! A damaged word (`auid-4294967295`), an unknown key or a bad optional value makes a
//! [`Warning`] and a null field; only the required fields (`pid`, `syscall`, `code`, and
//! `arch` when present) make an error.

use crate::record::{
    parse_hex, parse_i64, parse_u32, ErrorKind, ParseError, Record, Value, Warning, WarningKind,
    UNSET_ID,
};

/// Raw (audit.log, netlink, kernel log, journal) or interpreted (`ausearch -i`) values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Raw,
    Interpreted,
}

/// The fields in the order the kernel writes them; a field's index is its bit in `seen`.
const NAMES: [&str; 14] = [
    "auid", "uid", "gid", "ses", "subj", "pid", "comm", "exe", "sig", "arch", "syscall", "compat",
    "ip", "code",
];
const AUID: usize = 0;
const UID: usize = 1;
const GID: usize = 2;
const SES: usize = 3;
const SUBJ: usize = 4;
const PID: usize = 5;
const COMM: usize = 6;
const EXE: usize = 7;
const SIG: usize = 8;
const ARCH: usize = 9;
const SYSCALL: usize = 10;
const COMPAT: usize = 11;
const IP: usize = 12;
const CODE: usize = 13;

const REQUIRED: [usize; 3] = [PID, SYSCALL, CODE];

/// The field of a key, when it is one this parser knows.
#[inline(always)]
fn field_of(key: &[u8]) -> Option<usize> {
    Some(match key {
        b"auid" => AUID,
        b"uid" => UID,
        b"gid" => GID,
        b"ses" => SES,
        b"subj" => SUBJ,
        b"pid" => PID,
        b"comm" => COMM,
        b"exe" => EXE,
        b"sig" => SIG,
        b"arch" => ARCH,
        b"syscall" => SYSCALL,
        b"compat" => COMPAT,
        b"ip" => IP,
        b"code" => CODE,
        _ => return None,
    })
}

fn is_required(f: usize) -> bool {
    REQUIRED.contains(&f) || f == ARCH
}

/// `pid=`, `exe=`, `sig=`: the key written after a field whose value may hold spaces.
fn successor(f: usize) -> &'static [u8] {
    match f {
        SUBJ => b"pid=",
        COMM => b"exe=",
        _ => b"sig=",
    }
}

/// Where the last ` KEY` (a space and `key`) of `region` starts.
fn rfind_word(region: &[u8], key: &[u8]) -> Option<usize> {
    memchr::memrchr_iter(b' ', region).find(|&p| region[p + 1..].starts_with(key))
}

/// Bytes that end a key: `=`, space, 0x1d.
static KEY_STOP: [bool; 256] = table(b"= \x1d");
/// Bytes an unquoted value's scan stops at: its end (space, 0x1d, `#` of `#035`) or `=`.
static VALUE_STOP: [bool; 256] = table(b" \x1d#=");

const fn table(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
}

/// Why a value could not be stored.
enum Bad {
    Value,
    Unmapped,
}

/// Scans the fields after the header. The raw part ends at 0x1d (the enriched part
/// follows, informative only), at rsyslog's escape of it `#035`, or at the end.
pub(crate) fn parse_fields<'a>(
    s: &'a [u8],
    whole: &'a [u8],
    mode: Mode,
) -> Result<Record<'a>, ParseError> {
    let mut rec = Record::empty(trim_spaces(s));
    let mut seen: u32 = 0;
    let mut lower = [0u8; 16];
    let len = s.len();
    let mut i = 0;
    'fields: loop {
        i += s[i..]
            .iter()
            .position(|&c| c != b' ' && c != b'\t')
            .unwrap_or(len - i);
        let rest = &s[i..];
        match rest.first() {
            None | Some(0x1d) => break,
            Some(b'#') if rest.starts_with(b"#035") => break,
            _ => {}
        }
        // The key: up to `=`; a word without one is damage. Keys and most values are a
        // few bytes long: a plain scan beats memchr's set-up.
        let start = i;
        let mut j = rest
            .iter()
            .position(|&c| KEY_STOP[c as usize])
            .map_or(len, |p| i + p);
        if j == len || s[j] != b'=' || j == start {
            j += s[j..]
                .iter()
                .position(|&c| c == b' ' || c == 0x1d)
                .unwrap_or(len - j);
            rec.warnings.push(Warning {
                kind: WarningKind::Malformed,
                token: &s[start..j],
            });
            i = j;
            continue;
        }
        let key = &s[start..j];
        let vstart = j + 1;
        let mut field = field_of(key);
        let mut label = false;
        if field.is_none() {
            if key.len() > 5 && key.starts_with(b"subj_") {
                // Several LSMs: `subj_apparmor=...`; the first one becomes the subject.
                label = true;
            } else if key.iter().all(|c| c.is_ascii_uppercase() || *c == b'_') {
                // The enriched part after its 0x1d separator became a space (syslog):
                // informative only, skipped.
                field = None;
            } else if key.len() <= lower.len() && key.iter().any(u8::is_ascii_uppercase) {
                let l = &mut lower[..key.len()];
                l.copy_from_slice(key);
                l.make_ascii_lowercase();
                field = field_of(l);
                if field.is_some() {
                    rec.warnings.push(Warning {
                        kind: WarningKind::MixedCase,
                        token: key,
                    });
                }
            }
        }
        label |= field == Some(SUBJ)
            || (mode == Mode::Interpreted && matches!(field, Some(COMM | EXE)))
                && s.get(vstart) != Some(&b'"');
        // The value.
        let (raw, quoted, next, stop) = if label {
            let f = field.unwrap_or(SUBJ);
            let (v, next) = label_value(s, vstart, f);
            (v, false, next, false)
        } else if s.get(vstart) == Some(&b'"') {
            match memchr::memchr(b'"', &s[vstart + 1..]) {
                None => {
                    rec.warnings.push(Warning {
                        kind: WarningKind::Unterminated,
                        token: &s[start..],
                    });
                    break 'fields;
                }
                Some(c) => {
                    let end = vstart + 1 + c;
                    let next = end + 1;
                    if next < len
                        && !matches!(s[next], b' ' | 0x1d)
                        && !s[next..].starts_with(b"#035")
                    {
                        // `exe="/x"sig=0`: the space was lost; read on from the quote.
                        rec.warnings.push(Warning {
                            kind: WarningKind::Malformed,
                            token: &s[start..next],
                        });
                    }
                    (&s[vstart + 1..end], true, next, false)
                }
            }
        } else {
            let vstart = vstart.min(len);
            let mut end = len;
            let mut glued = false;
            let mut k = vstart;
            while let Some(p) = s[k..].iter().position(|&c| VALUE_STOP[c as usize]) {
                k += p;
                match s[k] {
                    b'=' => glued = true,
                    b'#' if !s[k..].starts_with(b"#035") => {}
                    _ => {
                        end = k;
                        break;
                    }
                }
                k += 1;
            }
            let v = &s[vstart..end];
            match glued.then(|| lost_separator(v)).flatten() {
                // `code=0x7ffc0000AUID="rcc"`: the rest is the enriched part.
                Some(cut) => {
                    rec.warnings.push(Warning {
                        kind: WarningKind::LostSeparator,
                        token: &v[cut..],
                    });
                    (&v[..cut], false, end, true)
                }
                None => (v, false, end, false),
            }
        };
        i = next;
        match field {
            Some(f) => {
                if seen & (1 << f) != 0 {
                    if is_required(f) {
                        return Err(ParseError::new(ErrorKind::DuplicateField(NAMES[f]), whole));
                    }
                    rec.warnings.push(Warning {
                        kind: WarningKind::Duplicate(NAMES[f]),
                        token: &s[start..next.min(len)],
                    });
                } else {
                    seen |= 1 << f;
                    match apply(&mut rec, f, raw, quoted, mode) {
                        Ok(()) => {}
                        Err(_) if is_required(f) => {
                            return Err(ParseError::new(ErrorKind::BadValue(NAMES[f]), whole));
                        }
                        Err(b) => rec.warnings.push(Warning {
                            kind: match b {
                                Bad::Value => WarningKind::BadValue(NAMES[f]),
                                Bad::Unmapped => WarningKind::Unmapped(NAMES[f]),
                            },
                            token: &s[start..next.min(len)],
                        }),
                    }
                }
            }
            None if label => {
                if matches!(rec.subj, None | Some(Value::Null)) {
                    rec.subj = Some(Value::literal(raw));
                }
            }
            None if key.iter().all(|c| c.is_ascii_uppercase() || *c == b'_') => {}
            None => {
                rec.unknown.push((key, raw));
                rec.warnings.push(Warning {
                    kind: WarningKind::UnknownField,
                    token: &s[start..next.min(len)],
                });
            }
        }
        if stop {
            break;
        }
    }
    for f in REQUIRED {
        if seen & (1 << f) == 0 {
            let kind = if seen == 0 {
                ErrorKind::Truncated
            } else {
                ErrorKind::MissingField(NAMES[f])
            };
            return Err(ParseError::new(kind, whole));
        }
    }
    if seen & (1 << ARCH) == 0 {
        rec.warnings.push(Warning {
            kind: WarningKind::NoArch,
            token: b"",
        });
    }
    Ok(rec)
}

fn trim_spaces(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

/// The end of the raw part from `from`: the 0x1d separator or the end.
fn raw_end(s: &[u8], from: usize) -> usize {
    memchr::memchr(0x1d, &s[from..]).map_or(s.len(), |p| from + p)
}

/// The value of a field that may hold spaces, starting at `v0`: to the last ` NEXT=` of
/// the field written after it, else to the next known key, else to the end of the raw
/// part. Returns the value (trimmed; a doubled leading `=` of `subj==` removed) and where
/// scanning goes on.
fn label_value(s: &[u8], mut v0: usize, f: usize) -> (&[u8], usize) {
    if f == SUBJ && s.get(v0) == Some(&b'=') {
        v0 += 1;
    }
    let end_raw = raw_end(s, v0.min(s.len()));
    let v0 = v0.min(end_raw);
    let region = &s[v0..end_raw];
    // The common case first: no space at all before the end of the raw part, or the next
    // word is the successor and it is the last one.
    let end = match rfind_word(region, successor(f)) {
        Some(p) => v0 + p,
        None => {
            // No successor: the next known key written after this field.
            let mut end = end_raw;
            let mut k = 0;
            while let Some(sp) = memchr::memchr(b' ', &region[k..]) {
                let w = k + sp + 1;
                let eq = region[w..]
                    .iter()
                    .position(|&c| c == b'=' || c == b' ')
                    .filter(|&e| region[w + e] == b'=');
                if let Some(e) = eq {
                    if field_of(&region[w..w + e]).is_some_and(|g| g > f) {
                        end = v0 + k + sp;
                        break;
                    }
                }
                k = w;
            }
            end
        }
    };
    (trim_spaces(&s[v0..end]), end)
}

/// When an unquoted value holds a glued upper-case key (`0x7ffc0000AUID="rcc"`: the 0x1d
/// separator was lost and the kernel writes hex in lower case), where the value ends.
fn lost_separator(v: &[u8]) -> Option<usize> {
    let eq = memchr::memchr(b'=', v)?;
    let start = v[..eq]
        .iter()
        .rposition(|c| !(c.is_ascii_uppercase() || *c == b'_'))
        .map_or(0, |p| p + 1);
    (eq - start >= 2 && start > 0).then_some(start)
}

/// Stores one known field.
fn apply<'a>(
    rec: &mut Record<'a>,
    f: usize,
    raw: &'a [u8],
    quoted: bool,
    mode: Mode,
) -> Result<(), Bad> {
    let interp = mode == Mode::Interpreted;
    let bad = || Bad::Value;
    match f {
        AUID | SES => {
            let v = if interp {
                crate::ausearch::id(raw)?
            } else {
                parse_id(raw).ok_or_else(bad)?
            };
            let v = v.filter(|&v| v != UNSET_ID);
            if f == AUID {
                rec.auid = v;
            } else {
                rec.ses = v;
            }
        }
        UID | GID => {
            let v = if interp {
                crate::ausearch::id(raw)?
            } else {
                Some(parse_u32(raw).ok_or_else(bad)?)
            };
            if f == UID {
                rec.uid = v;
            } else {
                rec.gid = v;
            }
        }
        SUBJ => rec.subj = Some(Value::literal(raw)),
        PID => rec.pid = parse_u32(raw).ok_or_else(bad)?,
        COMM | EXE => {
            let v = if interp && !quoted {
                Value::literal(raw)
            } else {
                Value::classify(raw, quoted)
            };
            if f == COMM {
                rec.comm = Some(v);
            } else {
                rec.exe = Some(v);
            }
        }
        SIG => {
            rec.sig = Some(if interp {
                crate::ausearch::signal(raw).ok_or_else(bad)?
            } else {
                parse_i64(raw)
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(bad)?
            })
        }
        ARCH => {
            rec.arch = Some(if interp {
                crate::ausearch::arch(raw).ok_or_else(bad)?
            } else {
                let h = raw.strip_prefix(b"0x").unwrap_or(raw);
                parse_hex(h)
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(bad)?
            })
        }
        SYSCALL => {
            rec.syscall = match parse_i64(raw) {
                Some(v) => v,
                None if interp => crate::ausearch::syscall(raw, rec.arch).ok_or_else(bad)?,
                None => return Err(Bad::Value),
            }
        }
        COMPAT => {
            rec.compat = Some(match raw {
                b"0" => false,
                b"1" => true,
                _ => return Err(Bad::Value),
            })
        }
        IP => {
            let h = raw.strip_prefix(b"0x").ok_or_else(bad)?;
            rec.ip = Some(parse_hex(h).ok_or_else(bad)?);
        }
        CODE => {
            rec.code = match raw.strip_prefix(b"0x").and_then(parse_hex) {
                Some(v) => u32::try_from(v).map_err(|_| Bad::Value)?,
                None if interp => crate::ausearch::code(raw).ok_or_else(bad)?,
                None => return Err(Bad::Value),
            }
        }
        _ => return Err(Bad::Value),
    }
    Ok(())
}

/// `auid`/`ses`: `4294967295`, `-1` or `unset` is unset (`Some(None)`).
fn parse_id(b: &[u8]) -> Option<Option<u32>> {
    if b == b"-1" || b == b"unset" {
        return Some(None);
    }
    let v = parse_u32(b)?;
    Some((v != UNSET_ID).then_some(v))
}

impl From<crate::ausearch::Unmapped> for Bad {
    fn from(u: crate::ausearch::Unmapped) -> Bad {
        match u {
            crate::ausearch::Unmapped::Name => Bad::Unmapped,
            crate::ausearch::Unmapped::Bad => Bad::Value,
        }
    }
}
