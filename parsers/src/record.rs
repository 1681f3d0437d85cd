//! One audit record from each form it reaches us in: audit.log (RAW and ENRICHED, with or
//! without `node=`), `ausearch -i` output, a netlink message, a kernel log line (dmesg,
//! `/dev/kmsg`) and a syslog or journal line. SECCOMP records (type 1326) are parsed into a
//! borrowed [`Record`]; other types are recognised by their type and skipped cheaply.
//!
//! This module holds the types and the entry points; the field scanner is in
//! [`crate::fields`], the line prefixes (syslog, kernel log) and the trust rules in
//! [`crate::envelope`], the interpreted form in [`crate::ausearch`], journal entries in
//! [`crate::journal`].
//!
//! Everything in a record is attacker-controlled. Parsing never panics: bad input becomes a
//! [`ParseError`] that keeps the offending bytes, a damaged optional field becomes a
//! [`Warning`], and a record in a line that another program wrote becomes
//! [`Parsed::Forged`].

use std::borrow::Cow;
use std::fmt;

use memchr::memchr;
use nom::bytes::complete::{tag, take_while1, take_while_m_n};
use nom::character::complete::char as nchar;
use nom::sequence::{delimited, tuple};
use nom::IResult;

use crate::fields::{parse_fields, Mode};
use crate::time::{Utc, Zone};

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
    /// Unquoted text taken as it is: LSM labels (`subj=`), the decoded strings of
    /// `ausearch -i`, hand-copied values that are not hex.
    Bare(&'a [u8]),
    /// `(null)` or `?`.
    Null,
}

impl<'a> Value<'a> {
    pub(crate) fn classify(raw: &'a [u8], quoted: bool) -> Value<'a> {
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

    /// Text taken literally (never hex-decoded): `(null)`, `?` and empty are null.
    pub(crate) fn literal(raw: &'a [u8]) -> Value<'a> {
        if raw == b"(null)" || raw == b"?" || raw.is_empty() {
            Value::Null
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

/// What was wrong with an optional part of a record that was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// A word that is not `key=value` (`auid-4294967295`, `auid4294967295`).
    Malformed,
    /// A key this parser does not know (`conn=` for `comm=`); kept in [`Record::unknown`].
    UnknownField,
    /// A key in mixed case (`Auid=`), read as the lower-case field.
    MixedCase,
    /// An optional field whose value is not what the kernel writes: the field is null.
    BadValue(&'static str),
    /// An optional field written twice: the first is kept.
    Duplicate(&'static str),
    /// The 0x1d separator before the enriched part was lost (`code=0x7ffc0000AUID=`):
    /// reading stopped there.
    LostSeparator,
    /// A quoted value without its closing quote: reading stopped there.
    Unterminated,
    /// No `arch=` (kernels before 3.16): arch and syscall name are null.
    NoArch,
    /// An `ausearch -i` name with no number known for it (a user name other than `root`).
    Unmapped(&'static str),
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarningKind::Malformed => f.write_str("malformed token"),
            WarningKind::UnknownField => f.write_str("unknown field"),
            WarningKind::MixedCase => f.write_str("key in mixed case"),
            WarningKind::BadValue(k) => write!(f, "bad value for {k}= (null)"),
            WarningKind::Duplicate(k) => write!(f, "{k}= written twice (first kept)"),
            WarningKind::LostSeparator => f.write_str("lost separator before enriched fields"),
            WarningKind::Unterminated => f.write_str("unterminated quoted value"),
            WarningKind::NoArch => f.write_str("no arch= (arch and syscall name null)"),
            WarningKind::Unmapped(k) => write!(f, "no number known for {k}= (null)"),
        }
    }
}

/// A damaged or unknown part of a record that was kept: what, and the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warning<'a> {
    pub kind: WarningKind,
    pub token: &'a [u8],
}

impl fmt::Display for Warning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 60;
        let t = &self.token[..self.token.len().min(MAX)];
        write!(f, "{}: {}", self.kind, crate::escape::escape_bytes(t))?;
        if self.token.len() > MAX {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// One SECCOMP record, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// auditd's `node=`, else the host name of a syslog or journal line (or none).
    pub node: Option<&'a [u8]>,
    /// Seconds since the epoch (from `audit(SEC.MS:SERIAL)`, a syslog header, or a
    /// journal entry's timestamp).
    pub time_sec: Option<i64>,
    /// Milliseconds part of the time.
    pub time_ms: u32,
    /// The audit serial (event id); none in syslog and journal text lines, which do not
    /// carry it (a journal entry's `_AUDIT_ID` does).
    pub serial: Option<u64>,
    pub auid: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub ses: Option<u32>,
    /// The LSM subject as the kernel wrote it (minus a doubled leading `=`).
    pub subj: Option<Value<'a>>,
    pub pid: u32,
    pub comm: Option<Value<'a>>,
    pub exe: Option<Value<'a>>,
    pub sig: Option<i32>,
    /// The `arch=` value (AUDIT_ARCH_*); none in records of kernels before 3.16.
    pub arch: Option<u32>,
    /// The `syscall=` value as the kernel wrote it (x32 numbers carry bit 0x40000000).
    pub syscall: i64,
    pub compat: Option<bool>,
    pub ip: Option<u64>,
    /// The `code=` value: the action (data bits are masked off by the kernel).
    pub code: u32,
    /// Fields this parser does not know, in order, raw.
    pub unknown: Vec<(&'a [u8], &'a [u8])>,
    /// Damaged or unknown parts that were skipped (the record was kept).
    pub warnings: Vec<Warning<'a>>,
    /// The record's fields as written (the text a synthetic key of a record without a
    /// serial is made from).
    pub body: &'a [u8],
}

impl<'a> Record<'a> {
    pub(crate) fn empty(body: &'a [u8]) -> Record<'a> {
        Record {
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
            arch: None,
            syscall: 0,
            compat: None,
            ip: None,
            code: 0,
            unknown: Vec::new(),
            warnings: Vec::new(),
            body,
        }
    }

    /// Whether a part of the record was damaged, unknown or unmapped.
    pub fn damaged(&self) -> bool {
        !self.warnings.is_empty()
    }
}

/// Who wrote a line that carries a record but is not from the kernel or an audit daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untrusted<'a> {
    /// A syslog program tag other than `kernel`, `audit` or an audit dispatcher's.
    Tag(&'a [u8]),
    /// A syslog line without a program tag.
    NoTag,
    /// A kernel log record of a facility other than 0 (kern): a user-space write to
    /// `/dev/kmsg`.
    Facility(u8),
    /// A journal entry of a transport other than `kernel` or `audit`.
    Transport(&'a [u8]),
}

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = crate::escape::escape_bytes;
        match self {
            Untrusted::Tag(t) => write!(f, "program \"{}\"", e(t)),
            Untrusted::NoTag => f.write_str("syslog line without a program tag"),
            Untrusted::Facility(n) => write!(f, "kernel log facility {n}, not 0 (kern)"),
            Untrusted::Transport(t) => write!(f, "journal transport \"{}\"", e(t)),
        }
    }
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
    /// A SECCOMP record in a line that another program wrote (`logger`, a container with
    /// `/dev/log`, a user-space write to `/dev/kmsg`): anyone can write to syslog, so it
    /// is not taken as the kernel's.
    Forged(Untrusted<'a>),
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
    /// A required field appears twice.
    DuplicateField(&'static str),
    /// A required field's value is not what the kernel writes.
    BadValue(&'static str),
    /// A journal entry that is not valid JSON or lacks a field.
    BadJournal(String),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::BadHeader => f.write_str("missing or malformed audit(SEC.MS:SERIAL) header"),
            ErrorKind::Truncated => f.write_str("truncated record"),
            ErrorKind::MissingField(k) => write!(f, "missing field {k}="),
            ErrorKind::DuplicateField(k) => write!(f, "duplicated field {k}="),
            ErrorKind::BadValue(k) => write!(f, "bad value for {k}="),
            ErrorKind::BadJournal(m) => write!(f, "bad journal entry: {m}"),
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
    pub(crate) fn new(kind: ErrorKind, input: &[u8]) -> ParseError {
        const KEEP: usize = 4096;
        ParseError {
            kind,
            input: input[..input.len().min(KEEP)].to_vec(),
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

/// What a line's parse may need beyond its bytes: the reference time and year for
/// syslog timestamps without a year, the zone of timestamps without one (classic syslog,
/// `journalctl -o short`, `ausearch -i`), and syslog tags to trust beyond the built-in
/// ones.
#[derive(Clone, Copy)]
pub struct Context<'z> {
    /// Milliseconds since the epoch no record of the input is newer than: the file's
    /// modification time. A year-less timestamp takes the newest year that is not after it.
    pub reference_ms: Option<i64>,
    /// The year of year-less timestamps, when known (`--year`); wins over `reference_ms`.
    pub year: Option<i32>,
    /// The zone of timestamps written without one.
    pub zone: &'z dyn Zone,
    /// Syslog tags, besides `kernel`, `audit` and the audit dispatchers', whose lines are
    /// taken as an audit daemon's (for example an rsyslog `imfile` tag shipping audit.log).
    pub trusted_tags: &'z [String],
}

impl Context<'static> {
    /// No reference time (year-less timestamps give no time), UTC, built-in tags only.
    pub const DEFAULT: Context<'static> = Context {
        reference_ms: None,
        year: None,
        zone: &Utc,
        trusted_tags: &[],
    };
}

impl Default for Context<'static> {
    fn default() -> Self {
        Context::DEFAULT
    }
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("reference_ms", &self.reference_ms)
            .field("year", &self.year)
            .field("trusted_tags", &self.trusted_tags)
            .finish_non_exhaustive()
    }
}

/// Parses one line of text in any of the line forms (audit.log RAW or ENRICHED,
/// `ausearch -i`, kernel log, syslog, journal text) with the default [`Context`]. A
/// trailing newline is ignored.
pub fn parse_line(line: &[u8]) -> Result<Parsed<'_>, ParseError> {
    parse_line_with(line, &Context::DEFAULT)
}

/// [`parse_line`] with a [`Context`] for timestamps without a year or zone.
pub fn parse_line_with<'a>(line: &'a [u8], ctx: &Context<'_>) -> Result<Parsed<'a>, ParseError> {
    let line = trim_eol(line);
    if line.is_empty() {
        return Ok(Parsed::NotAudit);
    }
    // The audit.log form, the hot path: `type=...` or `node=... type=...` at the start.
    if line.starts_with(b"type=") || line.starts_with(b"node=") {
        return parse_auditd(line, line, ctx);
    }
    crate::envelope::parse(line, ctx)
}

/// Parses a netlink message: `msg_type` from the netlink header, `payload` the message
/// body `audit(SEC.MS:SERIAL): fields...` (a trailing NUL is ignored).
pub fn parse_netlink(msg_type: u16, payload: &[u8]) -> Result<Parsed<'_>, ParseError> {
    if u32::from(msg_type) != AUDIT_SECCOMP {
        return Ok(Parsed::Other(RecordType::Number(msg_type.into())));
    }
    let payload = trim_eol(payload.strip_suffix(b"\0").unwrap_or(payload));
    parse_after_type(payload, payload, None, &Context::DEFAULT).map(Parsed::Seccomp)
}

pub(crate) fn trim_eol(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = b {
        b = rest;
    }
    b
}

/// `[node=NAME ]type=T msg=audit(...): fields` starting at `s`; `whole` is the full line.
pub(crate) fn parse_auditd<'a>(
    s: &'a [u8],
    whole: &'a [u8],
    ctx: &Context<'_>,
) -> Result<Parsed<'a>, ParseError> {
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
    let end = memchr::memchr2(b' ', 0x1d, rest).unwrap_or(rest.len());
    let tname = &rest[..end];
    if !is_seccomp_type(tname) {
        return Ok(Parsed::Other(type_of(tname)));
    }
    let rest = &rest[end..];
    let rest = match rest.strip_prefix(b" msg=") {
        Some(r) => r,
        // `type=1326 audit(...)`: the printk form without its `audit: `.
        None if rest.starts_with(b" audit(") => &rest[1..],
        None => return Err(ParseError::new(ErrorKind::BadHeader, whole)),
    };
    parse_after_type(rest, whole, node, ctx).map(Parsed::Seccomp)
}

pub(crate) fn is_seccomp_type(t: &[u8]) -> bool {
    t == b"SECCOMP" || t == b"1326" || t == b"UNKNOWN[1326]"
}

pub(crate) fn type_of(t: &[u8]) -> RecordType<'_> {
    let digits = t
        .strip_prefix(b"UNKNOWN[")
        .and_then(|r| r.strip_suffix(b"]"))
        .unwrap_or(t);
    match parse_u64(digits) {
        Some(n) if n <= u32::MAX as u64 => RecordType::Number(n as u32),
        _ => RecordType::Name(t),
    }
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

/// `audit(SEC.MS:SERIAL): fields`, or the interpreted `audit(MM/DD/YY HH:MM:SS.mmm:SERIAL)
/// : fields` of `ausearch -i`.
pub(crate) fn parse_after_type<'a>(
    s: &'a [u8],
    whole: &'a [u8],
    node: Option<&'a [u8]>,
    ctx: &Context<'_>,
) -> Result<Record<'a>, ParseError> {
    let (rest, (sec, ms, serial)) = match header(s) {
        Ok(h) => h,
        Err(_) => {
            if let Some((rest, ms, serial)) = crate::ausearch::header(s, ctx) {
                let mut rec = parse_fields(rest, whole, Mode::Interpreted)?;
                rec.node = node;
                rec.time_sec = Some(ms.div_euclid(1000));
                rec.time_ms = ms.rem_euclid(1000) as u32;
                rec.serial = Some(serial);
                return Ok(rec);
            }
            let cut_short = (s.len() < 6 && b"audit(".starts_with(s))
                || (s.starts_with(b"audit(") && memchr(b')', s).is_none());
            let kind = if cut_short {
                ErrorKind::Truncated
            } else {
                ErrorKind::BadHeader
            };
            return Err(ParseError::new(kind, whole));
        }
    };
    let bad = || ParseError::new(ErrorKind::BadHeader, whole);
    let sec = parse_u64(sec)
        .filter(|&v| v <= i64::MAX as u64 / 1000)
        .ok_or_else(bad)? as i64;
    let mut msv = parse_u64(ms).ok_or_else(bad)? as u32;
    // `audit(1.5:1)` would be 500 ms; the kernel always writes three digits.
    for _ in ms.len()..3 {
        msv *= 10;
    }
    let serial = parse_u64(serial).ok_or_else(bad)?;
    let mut rec = parse_fields(rest, whole, Mode::Raw)?;
    rec.node = node;
    rec.time_sec = Some(sec);
    rec.time_ms = msv;
    rec.serial = Some(serial);
    Ok(rec)
}

pub(crate) fn parse_u64(b: &[u8]) -> Option<u64> {
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

pub(crate) fn parse_u32(b: &[u8]) -> Option<u32> {
    parse_u64(b).and_then(|v| u32::try_from(v).ok())
}

pub(crate) fn parse_i64(b: &[u8]) -> Option<i64> {
    match b.strip_prefix(b"-") {
        Some(d) => parse_u64(d).and_then(|v| i64::try_from(v).ok()).map(|v| -v),
        None => parse_u64(b).and_then(|v| i64::try_from(v).ok()),
    }
}

pub(crate) fn parse_hex(b: &[u8]) -> Option<u64> {
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
mod tests;
