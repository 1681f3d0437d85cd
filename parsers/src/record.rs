//! One audit record from each form it reaches us in: audit.log (RAW and ENRICHED, with or
//! without `node=`), a netlink message, a kernel log line (dmesg, `/dev/kmsg`) and a
//! syslog or journal line. SECCOMP records (type 1326) are parsed into a borrowed
//! [`Record`]; other types are recognised by their type and skipped cheaply.
//!
//! Everything in a record is attacker-controlled. Parsing never panics: bad input becomes a
//! [`ParseError`] that keeps the offending bytes.

use std::borrow::Cow;
use std::fmt;

use memchr::{memchr, memchr2, memmem};
use nom::bytes::complete::{tag, take_while1, take_while_m_n};
use nom::character::complete::char as nchar;
use nom::sequence::{delimited, tuple};
use nom::IResult;

/// The audit record type number of SECCOMP records.
pub const AUDIT_SECCOMP: u32 = 1326;

/// The value the kernel prints for an unset `auid` or `ses`.
pub const UNSET_ID: u32 = 4_294_967_295;

/// The type of a record that is not a SECCOMP record: its number (kernel and netlink
/// forms) or its name (audit.log and syslog forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType<'a> {
    Number(u32),
    Name(&'a [u8]),
}

impl RecordType<'_> {
    /// The auditd name of the type (`SYSCALL`, `PROCTITLE`, ...), or `UNKNOWN[N]`.
    pub fn name(&self) -> Cow<'static, str> {
        match *self {
            RecordType::Name(n) => Cow::Owned(String::from_utf8_lossy(n).into_owned()),
            RecordType::Number(n) => match type_name(n) {
                Some(s) => Cow::Borrowed(s),
                None => Cow::Owned(format!("UNKNOWN[{n}]")),
            },
        }
    }
}

/// auditd's name of the common record types; `None` for the others.
pub fn type_name(n: u32) -> Option<&'static str> {
    Some(match n {
        1100 => "USER_AUTH",
        1101 => "USER_ACCT",
        1104 => "CRED_ACQ",
        1105 => "USER_START",
        1106 => "USER_END",
        1112 => "USER_LOGIN",
        1130 => "SERVICE_START",
        1131 => "SERVICE_STOP",
        1300 => "SYSCALL",
        1302 => "PATH",
        1305 => "CONFIG_CHANGE",
        1306 => "SOCKADDR",
        1307 => "CWD",
        1309 => "EXECVE",
        1320 => "EOE",
        1326 => "SECCOMP",
        1327 => "PROCTITLE",
        1331 => "KERN_MODULE",
        1400 => "AVC",
        1701 => "ANOM_ABEND",
        1702 => "ANOM_LINK",
        2000 => "KERNEL",
        _ => return None,
    })
}

/// A string field's raw value: how the kernel wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// `"text"`: the bytes between the quotes.
    Quoted(&'a [u8]),
    /// Upper-case hex: the kernel hex-encodes strings with a space, quote or control byte.
    Hex(&'a [u8]),
    /// Unquoted text that is not hex (labels such as `subj=` are written this way).
    Bare(&'a [u8]),
    /// `(null)` or `?`.
    Null,
}

impl<'a> Value<'a> {
    fn classify(raw: &'a [u8], quoted: bool) -> Value<'a> {
        if quoted {
            Value::Quoted(raw)
        } else if raw == b"(null)" || raw == b"?" || raw.is_empty() {
            Value::Null
        } else if raw.len().is_multiple_of(2)
            && raw.iter().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F'))
        {
            Value::Hex(raw)
        } else {
            Value::Bare(raw)
        }
    }

    /// The decoded bytes, or `None` for `(null)` and `?`.
    pub fn decode(&self) -> Option<Cow<'a, [u8]>> {
        match *self {
            Value::Quoted(b) | Value::Bare(b) => Some(Cow::Borrowed(b)),
            Value::Null => None,
            Value::Hex(h) => Some(Cow::Owned(
                h.chunks_exact(2)
                    .map(|p| (hexval(p[0]) << 4) | hexval(p[1]))
                    .collect(),
            )),
        }
    }

    /// The decoded text, bytes that are not UTF-8 replaced (U+FFFD).
    pub fn text(&self) -> Option<String> {
        self.decode()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }
}

fn hexval(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// One SECCOMP record, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// auditd's `node=` (or none).
    pub node: Option<&'a [u8]>,
    /// Seconds since the epoch (from `audit(SEC.MS:SERIAL)`, or a syslog timestamp).
    pub time_sec: Option<i64>,
    /// Milliseconds part of the time.
    pub time_ms: u32,
    /// The audit serial (event id); none in journal lines, which do not carry it.
    pub serial: Option<u64>,
    pub auid: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub ses: Option<u32>,
    pub subj: Option<Value<'a>>,
    pub pid: u32,
    pub comm: Option<Value<'a>>,
    pub exe: Option<Value<'a>>,
    pub sig: Option<i32>,
    /// The `arch=` value (AUDIT_ARCH_*).
    pub arch: u32,
    /// The `syscall=` value as the kernel wrote it (x32 numbers carry bit 0x40000000).
    pub syscall: i64,
    pub compat: Option<bool>,
    pub ip: Option<u64>,
    /// The `code=` value: the action (data bits are masked off by the kernel).
    pub code: u32,
    /// Fields this parser does not know, in order, raw.
    pub unknown: Vec<(&'a [u8], &'a [u8])>,
    /// True when the line was damaged (for example the 0x1d separator before the enriched
    /// fields was lost) and parsing stopped at the damage, keeping what came before.
    pub damaged: bool,
}

/// What one line or message holds.
// The SECCOMP variant is the common one (85% of a busy audit.log): boxing it would add an
// allocation per record to save stack space in the rare ones.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A SECCOMP record.
    Seccomp(Record<'a>),
    /// An audit record of another type: recognised, not parsed further.
    Other(RecordType<'a>),
    /// `kauditd_printk_skb: N callbacks suppressed`: the kernel dropped N records on the
    /// printk path.
    Suppressed(u64),
    /// A line with no audit record in it (blank, or another program's log line).
    NotAudit,
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The `audit(SEC.MS:SERIAL):` header is missing or malformed.
    BadHeader,
    /// The line ends inside a quoted value or before any field.
    Truncated,
    /// A required field is absent.
    MissingField(&'static str),
    /// A field appears twice.
    DuplicateField(&'static str),
    /// A field's value is not what the kernel writes.
    BadValue(&'static str),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::BadHeader => f.write_str("missing or malformed audit(SEC.MS:SERIAL) header"),
            ErrorKind::Truncated => f.write_str("truncated record"),
            ErrorKind::MissingField(k) => write!(f, "missing field {k}="),
            ErrorKind::DuplicateField(k) => write!(f, "duplicated field {k}="),
            ErrorKind::BadValue(k) => write!(f, "bad value for {k}="),
        }
    }
}

/// A record that could not be parsed; keeps the offending bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ErrorKind,
    /// The whole line or payload, as received.
    pub input: Vec<u8>,
}

impl ParseError {
    #[cold]
    fn new(kind: ErrorKind, input: &[u8]) -> ParseError {
        ParseError {
            kind,
            input: input.to_vec(),
        }
    }

    /// A short, escaped excerpt of the input for logs and error output.
    pub fn excerpt(&self) -> String {
        const MAX: usize = 160;
        let mut s = crate::escape::escape_bytes(&self.input[..self.input.len().min(MAX)]);
        if self.input.len() > MAX {
            s.push_str(&format!("... ({} bytes)", self.input.len()));
        }
        s
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.excerpt())
    }
}

impl std::error::Error for ParseError {}

/// Parses one line of text in any of the line forms (audit.log RAW or ENRICHED, kernel
/// log, syslog, journal). A trailing newline is ignored.
pub fn parse_line(line: &[u8]) -> Result<Parsed<'_>, ParseError> {
    let line = trim_eol(line);
    if line.is_empty() {
        return Ok(Parsed::NotAudit);
    }
    // The audit.log form, the hot path: `type=...` or `node=... type=...` at the start.
    if line.starts_with(b"type=") || line.starts_with(b"node=") {
        return parse_auditd(line, line);
    }
    parse_other_forms(line)
}

/// Parses a netlink message: `msg_type` from the netlink header, `payload` the message
/// body `audit(SEC.MS:SERIAL): fields...` (a trailing NUL is ignored).
pub fn parse_netlink(msg_type: u16, payload: &[u8]) -> Result<Parsed<'_>, ParseError> {
    if u32::from(msg_type) != AUDIT_SECCOMP {
        return Ok(Parsed::Other(RecordType::Number(msg_type.into())));
    }
    let payload = trim_eol(payload.strip_suffix(b"\0").unwrap_or(payload));
    parse_after_type(payload, payload, None).map(Parsed::Seccomp)
}

fn trim_eol(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = b {
        b = rest;
    }
    b
}

/// `[node=NAME ]type=T msg=audit(...): fields` starting at `s`; `whole` is the full line.
fn parse_auditd<'a>(s: &'a [u8], whole: &'a [u8]) -> Result<Parsed<'a>, ParseError> {
    let mut s = s;
    let mut node = None;
    if let Some(rest) = s.strip_prefix(b"node=") {
        let end = memchr(b' ', rest).ok_or_else(|| ParseError::new(ErrorKind::Truncated, whole))?;
        node = Some(&rest[..end]);
        s = &rest[end + 1..];
    }
    let rest = s
        .strip_prefix(b"type=")
        .ok_or_else(|| ParseError::new(ErrorKind::BadHeader, whole))?;
    let end = memchr2(b' ', 0x1d, rest).unwrap_or(rest.len());
    let tname = &rest[..end];
    if !is_seccomp_type(tname) {
        return Ok(Parsed::Other(type_of(tname)));
    }
    let rest = &rest[end..];
    let rest = rest
        .strip_prefix(b" msg=")
        .ok_or_else(|| ParseError::new(ErrorKind::BadHeader, whole))?;
    parse_after_type(rest, whole, node).map(Parsed::Seccomp)
}

fn is_seccomp_type(t: &[u8]) -> bool {
    t == b"SECCOMP" || t == b"1326" || t == b"UNKNOWN[1326]"
}

fn type_of(t: &[u8]) -> RecordType<'_> {
    let digits = t
        .strip_prefix(b"UNKNOWN[")
        .and_then(|r| r.strip_suffix(b"]"))
        .unwrap_or(t);
    match parse_u64(digits) {
        Some(n) if n <= u32::MAX as u64 => RecordType::Number(n as u32),
        _ => RecordType::Name(t),
    }
}

/// The forms where the record is not at the start of the line.
fn parse_other_forms(line: &[u8]) -> Result<Parsed<'_>, ParseError> {
    // The kernel's printk path: `[  12.3] audit: type=1326 audit(...): ...`, possibly
    // behind a `/dev/kmsg` or syslog prefix.
    if let Some(i) = memmem::find(line, b"audit: type=") {
        let rest = &line[i + b"audit: type=".len()..];
        let end = memchr(b' ', rest).ok_or_else(|| ParseError::new(ErrorKind::Truncated, line))?;
        let t = &rest[..end];
        if t != b"1326" {
            return Ok(Parsed::Other(type_of(t)));
        }
        return parse_after_type(&rest[end + 1..], line, None).map(Parsed::Seccomp);
    }
    if let Some(i) = memmem::find(line, b"kauditd_printk_skb: ") {
        let rest = &line[i + b"kauditd_printk_skb: ".len()..];
        let end = memchr(b' ', rest).unwrap_or(rest.len());
        return match parse_u64(&rest[..end]) {
            Some(n) if rest[end..].starts_with(b" callbacks suppressed") => {
                Ok(Parsed::Suppressed(n))
            }
            _ => Err(ParseError::new(
                ErrorKind::BadValue("kauditd_printk_skb"),
                line,
            )),
        };
    }
    // audisp-syslog: `... audisp-syslog: [node=N ]type=SECCOMP msg=audit(...): ...`.
    if let Some(i) = find_token(line, b"type=") {
        let start = match i
            .checked_sub(1)
            .and_then(|j| rfind_token_before(line, j, b"node="))
        {
            Some(n) => n,
            None => i,
        };
        return parse_auditd(&line[start..], line);
    }
    // systemd-journald's audit lines: `... audit[2141]: SECCOMP auid=...` (no header:
    // the time is the line's own timestamp when it has one, the serial is unknown).
    if let Some(i) = memmem::find(line, b"audit[") {
        let rest = &line[i + 6..];
        if let Some(close) = memchr(b']', rest) {
            if close > 0
                && rest[..close].iter().all(u8::is_ascii_digit)
                && rest[close..].starts_with(b"]: ")
            {
                let rest = &rest[close + 3..];
                let end = memchr(b' ', rest).unwrap_or(rest.len());
                let t = &rest[..end];
                if !is_seccomp_type(t) {
                    return Ok(Parsed::Other(type_of(t)));
                }
                let mut rec = parse_fields(&rest[end..], line)?;
                if let Some((ms, _)) = crate::time::parse_iso8601_ms(line) {
                    rec.time_sec = Some(ms.div_euclid(1000));
                    rec.time_ms = ms.rem_euclid(1000) as u32;
                }
                return Ok(Parsed::Seccomp(rec));
            }
        }
    }
    Ok(Parsed::NotAudit)
}

/// Finds `tok` at the start of `s` or after a space.
fn find_token(s: &[u8], tok: &[u8]) -> Option<usize> {
    let finder = memmem::Finder::new(tok);
    let mut from = 0;
    while let Some(i) = finder.find(&s[from..]) {
        let at = from + i;
        if at == 0 || s[at - 1] == b' ' {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// When the word just before position `space` (a space) is `node=NAME`, its start.
fn rfind_token_before(s: &[u8], space: usize, tok: &[u8]) -> Option<usize> {
    let word_start = s[..space]
        .iter()
        .rposition(|&c| c == b' ')
        .map_or(0, |p| p + 1);
    s[word_start..space].starts_with(tok).then_some(word_start)
}

/// The digits of `audit(SEC.MS:SERIAL)`: (sec, ms, serial).
type HeaderDigits<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// nom: `audit(SEC.MS:SERIAL):` returning its digits.
fn header(i: &[u8]) -> IResult<&[u8], HeaderDigits<'_>> {
    let digits = |i| take_while1(|c: u8| c.is_ascii_digit())(i);
    let (i, (sec, _, ms, _, serial)) = delimited(
        tag("audit("),
        tuple((
            digits,
            nchar('.'),
            take_while_m_n(1, 3, |c: u8| c.is_ascii_digit()),
            nchar(':'),
            digits,
        )),
        tag("):"),
    )(i)?;
    Ok((i, (sec, ms, serial)))
}

/// `audit(SEC.MS:SERIAL): fields`.
fn parse_after_type<'a>(
    s: &'a [u8],
    whole: &'a [u8],
    node: Option<&'a [u8]>,
) -> Result<Record<'a>, ParseError> {
    let (rest, (sec, ms, serial)) = header(s).map_err(|_| {
        let cut_short = (s.len() < 6 && b"audit(".starts_with(s))
            || (s.starts_with(b"audit(") && memchr(b')', s).is_none());
        let kind = if cut_short {
            ErrorKind::Truncated
        } else {
            ErrorKind::BadHeader
        };
        ParseError::new(kind, whole)
    })?;
    let bad = || ParseError::new(ErrorKind::BadHeader, whole);
    let sec = parse_u64(sec)
        .filter(|&v| v <= i64::MAX as u64)
        .ok_or_else(bad)? as i64;
    let mut msv = parse_u64(ms).ok_or_else(bad)? as u32;
    // `audit(1.5:1)` would be 500 ms; the kernel always writes three digits.
    for _ in ms.len()..3 {
        msv *= 10;
    }
    let serial = parse_u64(serial).ok_or_else(bad)?;
    let mut rec = parse_fields(rest, whole)?;
    rec.node = node;
    rec.time_sec = Some(sec);
    rec.time_ms = msv;
    rec.serial = Some(serial);
    Ok(rec)
}

/// Which known fields were seen, to reject duplicates.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    #[inline(always)]
    fn mark(&mut self, bit: u32, name: &'static str, whole: &[u8]) -> Result<(), ParseError> {
        if self.0 & (1 << bit) != 0 {
            return Err(duplicate(name, whole));
        }
        self.0 |= 1 << bit;
        Ok(())
    }
}

#[cold]
#[inline(never)]
fn duplicate(name: &'static str, whole: &[u8]) -> ParseError {
    ParseError::new(ErrorKind::DuplicateField(name), whole)
}

/// The fields after the header: `key=value` separated by spaces; the raw part ends at
/// 0x1d (the enriched part follows, informative only) or at the end of the line.
fn parse_fields<'a>(mut s: &'a [u8], whole: &'a [u8]) -> Result<Record<'a>, ParseError> {
    let mut rec = Record {
        node: None,
        time_sec: None,
        time_ms: 0,
        serial: None,
        auid: None,
        uid: None,
        gid: None,
        ses: None,
        subj: None,
        pid: 0,
        comm: None,
        exe: None,
        sig: None,
        arch: 0,
        syscall: 0,
        compat: None,
        ip: None,
        code: 0,
        unknown: Vec::new(),
        damaged: false,
    };
    let mut seen = Seen::default();
    let mut lower = [0u8; 16];
    loop {
        // Skip separators.
        while let [b' ', rest @ ..] = s {
            s = rest;
        }
        if s.is_empty() || s[0] == 0x1d {
            break;
        }
        // Keys and most values are a few bytes long: a plain loop beats memchr's set-up.
        let Some(eq) = s
            .iter()
            .position(|&c| c == b'=' || c == b' ' || c == 0x1d)
            .filter(|&i| s[i] == b'=')
        else {
            // A word without `=`: not something the kernel writes. Keep what we have.
            rec.damaged = true;
            break;
        };
        let key = &s[..eq];
        let after = &s[eq + 1..];
        let (raw, quoted, rest, damaged_here) = if let Some(q) = after.strip_prefix(b"\"") {
            let close =
                memchr(b'"', q).ok_or_else(|| ParseError::new(ErrorKind::Truncated, whole))?;
            let rest = &q[close + 1..];
            let clean_end = rest.first().is_none_or(|&c| c == b' ' || c == 0x1d);
            (&q[..close], true, rest, !clean_end)
        } else {
            let mut end = after.len();
            let mut glued = false;
            for (i, &c) in after.iter().enumerate() {
                if c == b' ' || c == 0x1d {
                    end = i;
                    break;
                }
                glued |= c == b'=';
            }
            let (v, d) = if glued {
                split_damage(&after[..end])
            } else {
                (&after[..end], false)
            };
            (v, false, &after[end..], d)
        };
        if !apply_field(&mut rec, &mut seen, key, raw, quoted, whole)? {
            // Fully upper-case keys are the enriched part when its 0x1d separator became a
            // space (syslog): informative only, skipped. Mixed case (`Auid=`, seen in the
            // wild) is matched case-insensitively.
            let enriched = key.iter().all(|c| c.is_ascii_uppercase() || *c == b'_');
            let mut known = false;
            if !enriched && key.len() <= lower.len() && key.iter().any(u8::is_ascii_uppercase) {
                let l = &mut lower[..key.len()];
                l.copy_from_slice(key);
                l.make_ascii_lowercase();
                known = apply_field(&mut rec, &mut seen, l, raw, quoted, whole)?;
            }
            if !enriched && !known {
                rec.unknown.push((key, raw));
            }
        }
        if damaged_here {
            rec.damaged = true;
            break;
        }
        s = rest;
    }
    for (bit, name) in [(9, "arch"), (10, "syscall"), (13, "code"), (5, "pid")] {
        if seen.0 & (1 << bit) == 0 {
            let kind = if seen.0 == 0 {
                ErrorKind::Truncated
            } else {
                ErrorKind::MissingField(name)
            };
            return Err(ParseError::new(kind, whole));
        }
    }
    Ok(rec)
}

/// Stores one known field; `Ok(false)` when `key` is not a field this parser knows.
fn apply_field<'a>(
    rec: &mut Record<'a>,
    seen: &mut Seen,
    key: &[u8],
    raw: &'a [u8],
    quoted: bool,
    whole: &[u8],
) -> Result<bool, ParseError> {
    let badv = |k: &'static str| ParseError::new(ErrorKind::BadValue(k), whole);
    match key {
        b"auid" => {
            seen.mark(0, "auid", whole)?;
            rec.auid = parse_id(raw).ok_or_else(|| badv("auid"))?;
        }
        b"uid" => {
            seen.mark(1, "uid", whole)?;
            rec.uid = Some(parse_u32(raw).ok_or_else(|| badv("uid"))?);
        }
        b"gid" => {
            seen.mark(2, "gid", whole)?;
            rec.gid = Some(parse_u32(raw).ok_or_else(|| badv("gid"))?);
        }
        b"ses" => {
            seen.mark(3, "ses", whole)?;
            rec.ses = parse_id(raw).ok_or_else(|| badv("ses"))?;
        }
        b"subj" => {
            seen.mark(4, "subj", whole)?;
            rec.subj = Some(Value::classify(raw, quoted));
        }
        b"pid" => {
            seen.mark(5, "pid", whole)?;
            rec.pid = parse_u32(raw).ok_or_else(|| badv("pid"))?;
        }
        b"comm" => {
            seen.mark(6, "comm", whole)?;
            rec.comm = Some(Value::classify(raw, quoted));
        }
        b"exe" => {
            seen.mark(7, "exe", whole)?;
            rec.exe = Some(Value::classify(raw, quoted));
        }
        b"sig" => {
            seen.mark(8, "sig", whole)?;
            rec.sig = Some(
                parse_i64(raw)
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(|| badv("sig"))?,
            );
        }
        b"arch" => {
            seen.mark(9, "arch", whole)?;
            let h = raw.strip_prefix(b"0x").unwrap_or(raw);
            rec.arch = parse_hex(h)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| badv("arch"))?;
        }
        b"syscall" => {
            seen.mark(10, "syscall", whole)?;
            rec.syscall = parse_i64(raw).ok_or_else(|| badv("syscall"))?;
        }
        b"compat" => {
            seen.mark(11, "compat", whole)?;
            rec.compat = Some(match raw {
                b"0" => false,
                b"1" => true,
                _ => return Err(badv("compat")),
            });
        }
        b"ip" => {
            seen.mark(12, "ip", whole)?;
            let h = raw.strip_prefix(b"0x").ok_or_else(|| badv("ip"))?;
            rec.ip = Some(parse_hex(h).ok_or_else(|| badv("ip"))?);
        }
        b"code" => {
            seen.mark(13, "code", whole)?;
            let h = raw.strip_prefix(b"0x").ok_or_else(|| badv("code"))?;
            rec.code = parse_hex(h)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| badv("code"))?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// An unquoted value that contains `=` was glued to the next field when the 0x1d
/// separator was lost (`code=0x7ffc0000AUID="rcc"`). The kernel writes hex in lower case,
/// so the glued key is the run of upper-case letters before the `=`. Returns the value
/// and whether damage was found.
fn split_damage(v: &[u8]) -> (&[u8], bool) {
    match memchr(b'=', v) {
        None => (v, false),
        Some(eq) => {
            let start = v[..eq]
                .iter()
                .rposition(|c| !(c.is_ascii_uppercase() || *c == b'_'))
                .map_or(0, |p| p + 1);
            (&v[..start], true)
        }
    }
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

fn parse_u32(b: &[u8]) -> Option<u32> {
    parse_u64(b).and_then(|v| u32::try_from(v).ok())
}

fn parse_i64(b: &[u8]) -> Option<i64> {
    match b.strip_prefix(b"-") {
        Some(d) => parse_u64(d).and_then(|v| i64::try_from(v).ok()).map(|v| -v),
        None => parse_u64(b).and_then(|v| i64::try_from(v).ok()),
    }
}

/// `auid`/`ses`: `4294967295` or `-1` is unset (`Ok(None)`).
fn parse_id(b: &[u8]) -> Option<Option<u32>> {
    if b == b"-1" || b == b"unset" {
        return Some(None);
    }
    let v = parse_u32(b)?;
    Some((v != UNSET_ID).then_some(v))
}

fn parse_hex(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | d as u64;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
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
        assert_eq!((r.arch, r.syscall, r.code), (0xc000003e, 110, 0x7ffc0000));
        assert_eq!(r.ip, Some(0x7f93888d3829));
        assert_eq!(r.compat, Some(false));
        assert!(!r.damaged);
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
        let e = parse_line(b"type=SECCOMP msg=audit(1.000:1): pid=1 arch=c000003e code=0x0")
            .unwrap_err();
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
        assert!(r.damaged);
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
}
