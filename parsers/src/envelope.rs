//! Where a record starts in a line that is not a plain audit.log line, and whether the line
//! is from the kernel or an audit daemon at all.
//!
//! Prefixes read, in order: a `/dev/kmsg` record header `PRI,SEQ,USEC,FLAGS;`, a syslog
//! priority `<PRI>` (also RFC 5424 `<PRI>1 TIME HOST APP PROCID MSGID SD`), `dmesg -x`'s
//! `kern  :notice: `, a syslog timestamp (classic `Apr 25 16:56:53` in several locales,
//! `journalctl -o short-precise`, RFC 3339, ISO with a space, `-o short-full`, `-o
//! short-unix`, ctime), a severity word (ChromeOS), a host name, a program tag
//! `NAME[PID]:`, and the kernel's printk prefixes (`[26083697.716609]`, the caller id
//! `[   T55]`, `dmesg -T`'s `[Sat Nov 30 00:03:54 2026]`, glued or spaced).
//!
//! Trust: anyone can write to syslog (`logger`, a container with `/dev/log`) and root can
//! write to `/dev/kmsg`. A printk record (`audit: type=1326 ...`) counts only from the
//! kernel: a bare kernel log line, facility 0 (kern) when the line carries one, syslog
//! tag `kernel`. An audit.log record (`type=SECCOMP msg=audit(...)`) counts from an audit
//! dispatcher's tag (`audispd`, `audisp-syslog`, `audisp-remote`, `auditd`, `audit`, or
//! one the caller trusts). journald's form (`audit[PID]: SECCOMP auid=...`) counts under
//! tag `audit`. The same text under any other tag, or in a syslog line without a tag, is
//! [`Parsed::Forged`].

use memchr::memmem;

use crate::record::{
    is_seccomp_type, parse_after_type, parse_auditd, parse_u32, parse_u64, type_of, Context,
    ParseError, Parsed, Record, Untrusted,
};
use crate::time::{civil_secs, infer_year, month_number, parse_iso8601_parts, valid_date};

/// Tags of the programs that forward audit.log records to syslog.
const DISPATCHERS: [&[u8]; 6] = [
    b"audispd",
    b"audisp-syslog",
    b"audisp-remote",
    b"auditd",
    b"audisp",
    b"audit",
];

/// What the prefixes of a line said about it.
#[derive(Debug, Default, Clone, Copy)]
struct Env<'a> {
    /// The syslog or kmsg facility, when the line carries a priority.
    facility: Option<u8>,
    /// A syslog header (timestamp or RFC 5424) was read: the line went through syslog or
    /// the journal, so it needs a trusted tag.
    syslog: bool,
    /// The header's time, ms since the epoch (UTC).
    time_ms: Option<i64>,
    host: Option<&'a [u8]>,
    tag: Option<&'a [u8]>,
    /// The message is the kernel's own text (a `/dev/kmsg` record, a line with printk
    /// prefixes): a record counts only at its start, never inside another message.
    strict: bool,
}

impl<'a> Env<'a> {
    fn facility_ok(&self) -> bool {
        self.facility.is_none_or(|f| f == 0)
    }

    fn bare(&self) -> bool {
        self.tag.is_none() && !self.syslog
    }

    fn kernel_ok(&self) -> bool {
        self.facility_ok() && (self.bare() || self.tag == Some(b"kernel"))
    }

    fn dispatcher_ok(&self, ctx: &Context<'_>) -> bool {
        match self.tag {
            None => !self.syslog,
            Some(t) => {
                DISPATCHERS.contains(&t) || ctx.trusted_tags.iter().any(|x| x.as_bytes() == t)
            }
        }
    }

    fn journald_ok(&self) -> bool {
        self.bare() || self.tag == Some(b"audit")
    }

    fn untrusted(&self) -> Untrusted<'a> {
        match (self.tag, self.facility) {
            (Some(t), _) if t != b"kernel" => Untrusted::Tag(t),
            (_, Some(f)) if f != 0 => Untrusted::Facility(f),
            (Some(t), _) => Untrusted::Tag(t),
            _ => Untrusted::NoTag,
        }
    }

    /// The header's host and time for a record that lacks them.
    fn complete(&self, mut rec: Record<'a>) -> Record<'a> {
        if rec.node.is_none() {
            rec.node = self.host.filter(|h| !h.is_empty() && *h != b"-");
        }
        if rec.time_sec.is_none() {
            if let Some(ms) = self.time_ms {
                rec.time_sec = Some(ms.div_euclid(1000));
                rec.time_ms = ms.rem_euclid(1000) as u32;
            }
        }
        rec
    }
}

/// The forms a message can hold at its start.
enum Body<'a> {
    /// `audit: type=N audit(...)` (printk), `audit:type=` glued: the bytes after `type=`.
    Printk(&'a [u8]),
    /// `[node=N ]type=NAME msg=audit(...)`.
    Auditd,
    /// `kauditd_printk_skb: N callbacks suppressed`.
    Suppressed(&'a [u8]),
    /// journald's audit transport: `SECCOMP auid=...`: the type word and the fields.
    Journald(&'a [u8], &'a [u8]),
    None,
}

fn body_of(b: &[u8]) -> Body<'_> {
    if let Some(r) = b.strip_prefix(b"audit:") {
        let r = skip_spaces(r);
        if let Some(t) = r.strip_prefix(b"type=") {
            return Body::Printk(t);
        }
    }
    if let Some(t) = b.strip_prefix(b"type=") {
        // `type=1326 audit(...)`: the printk form whose `audit:` a syslog parser took
        // for a program tag.
        let n = t.iter().take_while(|c| c.is_ascii_digit()).count();
        if n > 0 && t[n..].starts_with(b" audit(") {
            return Body::Printk(t);
        }
        return Body::Auditd;
    }
    if b.starts_with(b"node=") {
        return Body::Auditd;
    }
    if let Some(r) = b.strip_prefix(b"kauditd_printk_skb: ") {
        return Body::Suppressed(r);
    }
    // An upper-case type name (or a number, or UNKNOWN[N]) and a space.
    let end = b.iter().position(|&c| c == b' ').unwrap_or(0);
    let w = &b[..end];
    if !w.is_empty()
        && w.len() <= 32
        && (w
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
            || (w.starts_with(b"UNKNOWN[") && w.ends_with(b"]")))
    {
        return Body::Journald(w, &b[end + 1..]);
    }
    Body::None
}

/// Parses a line that does not start with `type=` or `node=`.
pub(crate) fn parse<'a>(line: &'a [u8], ctx: &Context<'_>) -> Result<Parsed<'a>, ParseError> {
    let mut env = Env::default();
    let mut s = line;
    if let Some((pri, rest)) = kmsg_prefix(s) {
        env.facility = Some((pri >> 3) as u8);
        env.strict = true;
        return dispatch(rest, line, env, ctx);
    }
    if let Some((fac, rest)) = dmesg_x_prefix(s) {
        env.facility = Some(fac);
        s = rest;
    } else if let Some((pri, rest)) = pri_prefix(s) {
        env.facility = Some((pri >> 3).min(255) as u8);
        s = rest;
        if let Some(r) = rest.strip_prefix(b"1 ") {
            if let Some((time, host, app, msg)) = rfc5424(r, ctx) {
                env.syslog = true;
                env.time_ms = time;
                env.host = host;
                env.tag = app;
                return dispatch(msg, line, env, ctx);
            }
        }
    }
    // A kernel log line: printk prefixes and the record.
    let k = strip_kernel_prefixes(s);
    if is_kernel_body(k) {
        return dispatch(k, line, env, ctx);
    }
    env.strict = k.len() != skip_spaces(s).len();
    if let Some((time, rest)) = syslog_time(s, ctx) {
        env.time_ms = time;
        let rest = skip_spaces(rest);
        // `dmesg --time-format iso`: a time and the kernel's text, no host.
        let k = strip_kernel_prefixes(rest);
        if is_kernel_body(k) {
            return dispatch(k, line, env, ctx);
        }
        env.syslog = true;
        let (mut w, mut after) = word(rest);
        if is_severity(w) {
            (w, after) = word(after);
        }
        if let Some(t) = tag_of(w) {
            env.tag = Some(t);
            s = after;
        } else {
            env.host = Some(w);
            let (w2, after2) = word(after);
            match tag_of(w2) {
                Some(t) => {
                    env.tag = Some(t);
                    s = after2;
                }
                None => s = after,
            }
        }
    } else if !matches!(body_of(s), Body::None) {
        // A bare record (hand-copied, or after a `<PRI>` of `dmesg -r`).
    } else {
        // No timestamp: a tag, or a host and a tag (a hand-copied line), possibly behind
        // a bracket (`journalctl -o short-monotonic`: `[ 5147.447310] host kernel: ...`).
        let t = if env.strict { k } else { s };
        let (w, after) = word(t);
        let mut found = None;
        if let Some(tag) = tag_of(w) {
            found = Some((None, tag, after));
        } else if !w.contains(&b'=') {
            let (w2, after2) = word(after);
            if let Some(tag) = tag_of(w2) {
                found = Some((Some(w), tag, after2));
            }
        }
        if let Some((host, tag, after)) = found {
            env.host = host;
            env.tag = Some(tag);
            if env.strict {
                env.strict = false;
                env.syslog = true;
            }
            s = after;
        }
    }
    let mut body = skip_spaces(s);
    if env.tag == Some(b"kernel") {
        body = strip_kernel_prefixes(body);
    }
    dispatch(body, line, env, ctx)
}

/// Whether `b` starts with a form only the kernel's printk path writes.
fn is_kernel_body(b: &[u8]) -> bool {
    matches!(body_of(b), Body::Printk(_) | Body::Suppressed(_))
}

/// Parses the message `b` of a line whose prefixes gave `env`, applying the trust rules.
fn dispatch<'a>(
    b: &'a [u8],
    whole: &'a [u8],
    env: Env<'a>,
    ctx: &Context<'_>,
) -> Result<Parsed<'a>, ParseError> {
    match body_of(b) {
        Body::Printk(t) => {
            let r = printk(t, whole, ctx);
            if env.kernel_ok() {
                r.map(|p| complete(p, &env))
            } else {
                Ok(forged(r, &env))
            }
        }
        Body::Suppressed(r) => {
            let end = r.iter().position(|&c| c == b' ').unwrap_or(r.len());
            let n = parse_u64(&r[..end]).filter(|_| r[end..].starts_with(b" callbacks suppressed"));
            match n {
                Some(n) if env.kernel_ok() => Ok(Parsed::Suppressed(n)),
                Some(_) => Ok(Parsed::NotAudit),
                None if env.kernel_ok() => Err(ParseError::new(
                    crate::record::ErrorKind::BadValue("kauditd_printk_skb"),
                    whole,
                )),
                None => Ok(Parsed::NotAudit),
            }
        }
        Body::Auditd => {
            let r = parse_auditd(b, whole, ctx);
            if env.dispatcher_ok(ctx) {
                r.map(|p| complete(p, &env))
            } else {
                Ok(forged(r, &env))
            }
        }
        Body::Journald(w, fields) => {
            if !is_seccomp_type(w) {
                return Ok(if env.tag == Some(b"audit") {
                    Parsed::Other(type_of(w))
                } else {
                    Parsed::NotAudit
                });
            }
            let r = crate::fields::parse_fields(fields, whole, crate::fields::Mode::Raw)
                .map(Parsed::Seccomp);
            if env.journald_ok() {
                r.map(|p| complete(p, &env))
            } else {
                Ok(forged(r, &env))
            }
        }
        Body::None => fallback(b, whole, env, ctx),
    }
}

fn complete<'a>(p: Parsed<'a>, env: &Env<'a>) -> Parsed<'a> {
    match p {
        Parsed::Seccomp(r) => Parsed::Seccomp(env.complete(r)),
        other => other,
    }
}

/// A record in a line of an untrusted writer: counted as forged when it is a SECCOMP
/// record; anything else in such a line is not an audit record.
fn forged<'a>(r: Result<Parsed<'a>, ParseError>, env: &Env<'a>) -> Parsed<'a> {
    match r {
        Ok(Parsed::Seccomp(_)) => Parsed::Forged(env.untrusted()),
        _ => Parsed::NotAudit,
    }
}

/// `N audit(...): fields` after `type=` of a printk record.
fn printk<'a>(t: &'a [u8], whole: &'a [u8], ctx: &Context<'_>) -> Result<Parsed<'a>, ParseError> {
    let end = t
        .iter()
        .position(|&c| c == b' ')
        .ok_or_else(|| ParseError::new(crate::record::ErrorKind::Truncated, whole))?;
    let ty = &t[..end];
    if ty != b"1326" {
        return Ok(Parsed::Other(type_of(ty)));
    }
    parse_after_type(skip_spaces(&t[end..]), whole, None, ctx).map(Parsed::Seccomp)
}

/// A record somewhere in a message that does not start with one. In a bare line (no
/// syslog header, no tag: an export with an unknown prefix) it is read from where it
/// starts; in a tagged or syslog line it is forged (a trusted writer puts it first).
fn fallback<'a>(
    b: &'a [u8],
    whole: &'a [u8],
    env: Env<'a>,
    ctx: &Context<'_>,
) -> Result<Parsed<'a>, ParseError> {
    if env.strict && env.bare() {
        return Ok(Parsed::NotAudit);
    }
    let Some(start) = find_record(b) else {
        if env.bare() {
            if let Some(i) = memmem::find(b, b"kauditd_printk_skb: ") {
                return dispatch(&b[i..], whole, env, ctx);
            }
        }
        return Ok(Parsed::NotAudit);
    };
    let at = &b[start..];
    if env.bare() {
        return dispatch(at, whole, env, ctx);
    }
    let r = match body_of(at) {
        Body::Printk(t) => printk(t, whole, ctx),
        Body::Auditd => parse_auditd(at, whole, ctx),
        _ => return Ok(Parsed::NotAudit),
    };
    Ok(forged(r, &env))
}

/// Where an audit record starts in `b`: `audit: type=`, `audit:type=`, or a `type=` word
/// (with the `node=` word before it).
fn find_record(b: &[u8]) -> Option<usize> {
    let finder = memmem::Finder::new(b"type=");
    let mut from = 0;
    while let Some(i) = finder.find(&b[from..]) {
        let at = from + i;
        from = at + 1;
        let before = &b[..at];
        // `audit: type=` or `audit:type=`.
        let trimmed = trim_end_spaces(before);
        if trimmed.ends_with(b"audit:") {
            return Some(trimmed.len() - 6);
        }
        if at == 0 || before.ends_with(b" ") {
            let word_start = trim_end_spaces(before)
                .iter()
                .rposition(|&c| c == b' ')
                .map_or(0, |p| p + 1);
            let prev = &before[word_start..trim_end_spaces(before).len()];
            if prev.starts_with(b"node=") {
                return Some(word_start);
            }
            return Some(at);
        }
    }
    None
}

fn skip_spaces(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

fn trim_end_spaces(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The next word and what follows it (leading spaces skipped).
fn word(s: &[u8]) -> (&[u8], &[u8]) {
    let s = skip_spaces(s);
    let end = s.iter().position(|&c| c == b' ').unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// A syslog program tag `NAME:` or `NAME[PID]:`: the name.
fn tag_of(w: &[u8]) -> Option<&[u8]> {
    let w = w.strip_suffix(b":")?;
    let name = match w.strip_suffix(b"]") {
        Some(inner) => &inner[..memchr::memrchr(b'[', inner)?],
        None => w,
    };
    (!name.is_empty()
        && name.len() <= 64
        && !name
            .iter()
            .any(|&c| matches!(c, b':' | b'[' | b']' | b'=' | b'(' | b')') || c < 0x21))
    .then_some(name)
}

fn is_severity(w: &[u8]) -> bool {
    matches!(
        w,
        b"EMERG"
            | b"ALERT"
            | b"CRIT"
            | b"ERR"
            | b"ERROR"
            | b"WARNING"
            | b"WARN"
            | b"NOTICE"
            | b"INFO"
            | b"DEBUG"
    )
}

/// `/dev/kmsg`: `PRI,SEQ,USEC,FLAGS[,caller=T1];` -> (PRI, message).
fn kmsg_prefix(s: &[u8]) -> Option<(u32, &[u8])> {
    let head = &s[..s.len().min(96)];
    let semi = memchr::memchr(b';', head)?;
    let mut parts = head[..semi].split(|&c| c == b',');
    let pri = parse_u32(parts.next()?)?;
    parse_u64(parts.next()?)?;
    parse_u64(parts.next()?)?;
    parts.next()?;
    (pri < 1024).then_some((pri, &s[semi + 1..]))
}

/// `<PRI>`: (PRI, rest).
fn pri_prefix(s: &[u8]) -> Option<(u32, &[u8])> {
    let r = s.strip_prefix(b"<")?;
    let close = memchr::memchr(b'>', &r[..r.len().min(5)])?;
    let pri = parse_u32(&r[..close])?;
    (pri < 1024).then_some((pri, &r[close + 1..]))
}

/// `dmesg -x`: `kern  :notice: ` -> (facility, rest).
fn dmesg_x_prefix(s: &[u8]) -> Option<(u8, &[u8])> {
    let colon = memchr::memchr(b':', &s[..s.len().min(12)])?;
    let fac = trim_end_spaces(&s[..colon]);
    let f = match fac {
        b"kern" => 0,
        b"user" => 1,
        b"mail" => 2,
        b"daemon" => 3,
        b"auth" => 4,
        b"syslog" => 5,
        b"lpr" => 6,
        b"news" => 7,
        b"uucp" => 8,
        b"cron" => 9,
        b"authpriv" => 10,
        b"ftp" => 11,
        b"local0" => 16,
        b"local1" => 17,
        b"local2" => 18,
        b"local3" => 19,
        b"local4" => 20,
        b"local5" => 21,
        b"local6" => 22,
        b"local7" => 23,
        _ => return None,
    };
    let r = &s[colon + 1..];
    let colon2 = memchr::memchr(b':', &r[..r.len().min(10)])?;
    let level = trim_end_spaces(&r[..colon2]);
    if !matches!(
        level,
        b"emerg" | b"alert" | b"crit" | b"err" | b"warn" | b"notice" | b"info" | b"debug"
    ) {
        return None;
    }
    Some((f, skip_spaces(&r[colon2 + 1..])))
}

/// Strips the kernel's printk prefixes: `[  12.345678]`, `[   T55]`, `[Sat Nov 30 ...]`,
/// with or without spaces between them.
fn strip_kernel_prefixes(mut s: &[u8]) -> &[u8] {
    loop {
        s = skip_spaces(s);
        let Some(r) = s.strip_prefix(b"[") else {
            return s;
        };
        match memchr::memchr2(b']', b'[', &r[..r.len().min(48)]) {
            Some(close) if r[close] == b']' => s = &r[close + 1..],
            _ => return s,
        }
    }
}

/// RFC 5424 after `<PRI>1 `: (time, host, app, message).
type Rfc5424<'a> = (Option<i64>, Option<&'a [u8]>, Option<&'a [u8]>, &'a [u8]);

fn rfc5424<'a>(s: &'a [u8], ctx: &Context<'_>) -> Option<Rfc5424<'a>> {
    let (ts, r) = word(s);
    let time = if ts == b"-" {
        None
    } else {
        let (ms, off, n) = parse_iso8601_parts(ts)?;
        if n != ts.len() {
            return None;
        }
        Some(to_utc(ms, off, ctx))
    };
    let nil = |w: &'a [u8]| (w != b"-").then_some(w);
    let (host, r) = word(r);
    let (app, r) = word(r);
    let (_procid, r) = word(r);
    let (_msgid, r) = word(r);
    let r = skip_spaces(r);
    let r = if let Some(rest) = r.strip_prefix(b"-") {
        rest
    } else {
        // Structured data: `[id k="v" ...]` elements, `\]` escaped inside values.
        let mut i = 0;
        while r.get(i) == Some(&b'[') {
            let mut esc = false;
            i += 1;
            loop {
                let c = *r.get(i)?;
                i += 1;
                match c {
                    b'\\' if !esc => esc = true,
                    b']' if !esc => break,
                    _ => esc = false,
                }
            }
        }
        if i == 0 {
            return None;
        }
        &r[i..]
    };
    let msg = r.strip_prefix(b" ").unwrap_or(r);
    let msg = msg.strip_prefix(b"\xef\xbb\xbf").unwrap_or(msg);
    Some((time, nil(host), nil(app), msg))
}

fn to_utc(local_ms: i64, offset: Option<i64>, ctx: &Context<'_>) -> i64 {
    match offset {
        Some(o) => local_ms - o * 1000,
        None => ctx.zone.local_to_utc(local_ms.div_euclid(1000)) * 1000 + local_ms.rem_euclid(1000),
    }
}

/// A syslog header's timestamp: (its time in UTC ms when it can be known, the rest).
/// `Some((None, _))` is a timestamp whose year is unknown (no reference time).
fn syslog_time<'a>(s: &'a [u8], ctx: &Context<'_>) -> Option<(Option<i64>, &'a [u8])> {
    let first = *s.first()?;
    if first.is_ascii_digit() {
        if let Some((ms, off, n)) = parse_iso8601_parts(s) {
            let rest = &s[n..];
            return rest
                .starts_with(b" ")
                .then(|| (Some(to_utc(ms, off, ctx)), rest));
        }
        // `journalctl -o short-unix`: `1740535410.396000 `.
        let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
        if (9..=11).contains(&digits) && s.get(digits) == Some(&b'.') {
            let frac = s[digits + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            let rest = &s[digits + 1 + frac..];
            if frac == 0 || !rest.starts_with(b" ") {
                return None;
            }
            let sec = parse_u64(&s[..digits])? as i64;
            let f = &s[digits + 1..digits + 1 + frac.min(3)];
            let ms = parse_u32(f)? * 10u32.pow(3 - f.len() as u32);
            return Some((Some(sec * 1000 + i64::from(ms)), rest));
        }
        return None;
    }
    // A weekday: `-o short-full` (`Wed 2025-02-26 02:03:30 UTC`) or ctime.
    let (s, weekday) = match s.get(..4) {
        Some(b"Mon " | b"Tue " | b"Wed " | b"Thu " | b"Fri " | b"Sat " | b"Sun ") => {
            (skip_spaces(&s[4..]), true)
        }
        _ => (s, false),
    };
    if weekday && s.first().is_some_and(u8::is_ascii_digit) {
        let (ms, off, n) = parse_iso8601_parts(s)?;
        let rest = &s[n..];
        let (zw, after) = word(rest);
        if !zw.is_empty()
            && zw.len() <= 5
            && zw
                .iter()
                .all(|c| c.is_ascii_uppercase() || matches!(c, b'+' | b'-') || c.is_ascii_digit())
        {
            let off = off.or(matches!(zw, b"UTC" | b"GMT" | b"Z").then_some(0));
            return Some((Some(to_utc(ms, off, ctx)), after));
        }
        return rest
            .starts_with(b" ")
            .then(|| (Some(to_utc(ms, off, ctx)), rest));
    }
    // Classic: `Mmm dd HH:MM:SS[.ffffff]`, `Mmm dd YYYY HH:MM:SS`, ctime `... YYYY`.
    let mlen = s.iter().take(8).position(|&c| c == b' ' || c == b'.')?;
    let mo = month_number(&s[..mlen])?;
    let mut r = &s[mlen..];
    r = r.strip_prefix(b".").unwrap_or(r);
    r = skip_spaces(r);
    let dlen = r.iter().take(3).take_while(|c| c.is_ascii_digit()).count();
    if !(1..=2).contains(&dlen) || r.get(dlen) != Some(&b' ') {
        return None;
    }
    let d = parse_u32(&r[..dlen])?;
    r = &r[dlen + 1..];
    let mut year = None;
    if r.len() > 5 && r[..4].iter().all(u8::is_ascii_digit) && r[4] == b' ' {
        year = Some(i64::from(parse_u32(&r[..4])?));
        r = &r[5..];
    }
    if r.len() < 8 || r[2] != b':' || r[5] != b':' {
        return None;
    }
    let h = parse_u32(&r[..2])?;
    let mi = parse_u32(&r[3..5])?;
    let se = parse_u32(&r[6..8])?;
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    r = &r[8..];
    let mut ms = 0;
    if let Some(f) = r.strip_prefix(b".") {
        let n = f.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let k = n.min(3);
        ms = parse_u32(&f[..k])? * 10u32.pow(3 - k as u32);
        r = &f[n..];
    }
    if weekday
        && year.is_none()
        && r.len() > 5
        && r[0] == b' '
        && r[1..5].iter().all(u8::is_ascii_digit)
    {
        year = Some(i64::from(parse_u32(&r[1..5])?));
        r = &r[5..];
    }
    if !r.starts_with(b" ") {
        return None;
    }
    let sod = h * 3600 + mi * 60 + se;
    let year = year.or(ctx.year.map(i64::from));
    let time = match year {
        Some(y) => valid_date(y, mo, d).then(|| {
            ctx.zone
                .local_to_utc(civil_secs(y, mo, d, 0, 0, 0) + i64::from(sod))
        }),
        None => ctx
            .reference_ms
            .and_then(|rf| infer_year(rf, mo, d, sod, ctx.zone))
            .map(|(_, t)| t),
    };
    Some((time.map(|t| t * 1000 + i64::from(ms)), r))
}

#[cfg(test)]
mod tests;
