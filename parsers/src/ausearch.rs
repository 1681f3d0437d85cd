//! The interpreted form `ausearch -i` writes (SOC teams keep exports in it): the header
//! `audit(11/30/26 00:04:12.837:4620843) :` in the local time of the host that ran
//! ausearch, and names instead of numbers (`auid=unset uid=root sig=SIGSYS arch=x86_64
//! syscall=openat code=kill`). Names are mapped back to the kernel's numbers, syscall names
//! with the record's own arch, so that the event is the one the raw line gives.
//!
//! What ausearch cannot give back: a user or group name other than `root` (the number is
//! the name's on the host that ran it; such a field becomes null with a warning), and
//! KILL_PROCESS, which auditd 3.0 prints as `kill` like KILL_THREAD.

use crate::arch::ScmpArch;
use crate::record::{parse_hex, parse_i64, parse_u32, parse_u64, Context};
use crate::time::{civil_secs, valid_date};

/// Why an interpreted value has no number.
pub(crate) enum Unmapped {
    /// A name with no known number (`uid=alice`).
    Name,
    /// Not a value ausearch writes.
    Bad,
}

/// `audit(MM/DD/YY HH:MM:SS.mmm:SERIAL) : ` (also `MM/DD/YYYY`, `DD.MM.YYYY` and
/// `YYYY-MM-DD` of other locales): the rest after it, the time in ms (UTC, through the
/// context's zone) and the serial.
pub(crate) fn header<'a>(s: &'a [u8], ctx: &Context<'_>) -> Option<(&'a [u8], i64, u64)> {
    let inner = s.strip_prefix(b"audit(")?;
    let close = memchr::memchr(b')', &inner[..inner.len().min(48)])?;
    let rest = inner[close + 1..].strip_prefix(b" :")?;
    let h = &inner[..close];
    let sp = memchr::memchr(b' ', h)?;
    let (date, time) = (&h[..sp], &h[sp + 1..]);
    let (y, mo, d) = date_of(date)?;
    // HH:MM:SS.mmm:SERIAL
    let colon = time.iter().rposition(|&c| c == b':')?;
    let serial = parse_u64(&time[colon + 1..])?;
    let t = &time[..colon];
    if t.len() < 8 || t[2] != b':' || t[5] != b':' {
        return None;
    }
    let h = parse_u32(&t[0..2])?;
    let mi = parse_u32(&t[3..5])?;
    let se = parse_u32(&t[6..8])?;
    let mut ms = 0;
    if t.len() > 8 {
        let frac = t[8..].strip_prefix(b".")?;
        if frac.is_empty() || frac.len() > 3 {
            return None;
        }
        ms = parse_u32(frac)? * 10u32.pow(3 - frac.len() as u32);
    }
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let local = civil_secs(y, mo, d, h, mi, se);
    let utc = ctx.zone.local_to_utc(local);
    Some((rest, utc * 1000 + i64::from(ms), serial))
}

/// A date as `%x` writes it in the C and en_US locales (`11/30/26`, `11/30/2026`), in
/// German-style locales (`30.11.2026`) or ISO (`2026-11-30`).
fn date_of(d: &[u8]) -> Option<(i64, u32, u32)> {
    let parts = |sep: u8| -> Option<[&[u8]; 3]> {
        let mut it = d.split(move |&c| c == sep);
        let p = [it.next()?, it.next()?, it.next()?];
        it.next().is_none().then_some(p)
    };
    let year = |y: &[u8]| -> Option<i64> {
        let v = i64::from(parse_u32(y)?);
        match y.len() {
            // `%y`: POSIX maps 69-99 to 19xx, 00-68 to 20xx.
            2 => Some(if v >= 69 { 1900 + v } else { 2000 + v }),
            4 => Some(v),
            _ => None,
        }
    };
    let (y, mo, dd) = if let Some([m, dd, y]) = parts(b'/') {
        (year(y)?, parse_u32(m)?, parse_u32(dd)?)
    } else if let Some([dd, m, y]) = parts(b'.') {
        (year(y)?, parse_u32(m)?, parse_u32(dd)?)
    } else if let Some([y, m, dd]) = parts(b'-') {
        (year(y)?, parse_u32(m)?, parse_u32(dd)?)
    } else {
        return None;
    };
    valid_date(y, mo, dd).then_some((y, mo, dd))
}

/// `auid`, `uid`, `gid`, `ses`: `unset` is none, `root` is 0, numbers stay, `unknown(N)`
/// is N (negative N as the kernel's unsigned value); other names have no number here.
pub(crate) fn id(raw: &[u8]) -> Result<Option<u32>, Unmapped> {
    if raw == b"unset" {
        return Ok(None);
    }
    if raw == b"root" {
        return Ok(Some(0));
    }
    let inner = raw
        .strip_prefix(b"unknown(")
        .and_then(|r| r.strip_suffix(b")"))
        .unwrap_or(raw);
    if let Some(v) = parse_i64(inner) {
        return match u32::try_from(v) {
            Ok(v) => Ok(Some(v)),
            Err(_) if (-(1 << 31)..0).contains(&v) => Ok(Some(v as i32 as u32)),
            Err(_) => Err(Unmapped::Bad),
        };
    }
    if raw.is_empty() || raw.iter().any(|c| c.is_ascii_whitespace() || *c == b'=') {
        return Err(Unmapped::Bad);
    }
    Err(Unmapped::Name)
}

/// Linux's signal numbers (x86, arm, s390, powerpc, riscv share them).
const SIGNALS: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// `sig=`: `SIG0`, `SIGSYS`, `unknown-signal(99)`, or a number.
pub(crate) fn signal(raw: &[u8]) -> Option<i32> {
    if raw == b"SIG0" {
        return Some(0);
    }
    if let Some(n) = SIGNALS.iter().position(|s| s.as_bytes() == raw) {
        return Some(n as i32 + 1);
    }
    let inner = raw
        .strip_prefix(b"unknown-signal(")
        .and_then(|r| r.strip_suffix(b")"))
        .unwrap_or(raw);
    parse_i64(inner).and_then(|v| i32::try_from(v).ok())
}

/// `arch=`: auparse's machine names (`x86_64`, `i386`, `aarch64`, `armeb` for 32-bit arm,
/// `s390x`, `ppc64le`, ...), `unknown-elf-type(HEX)`, or the hex value.
pub(crate) fn arch(raw: &[u8]) -> Option<u32> {
    Some(match raw {
        b"x86_64" => 0xc000_003e,
        b"i386" | b"i486" | b"i586" | b"i686" => 0x4000_0003,
        b"aarch64" => 0xc000_00b7,
        // auparse names every 32-bit ARM `armeb` (its first ARM machine name), whatever
        // the byte order; Linux on ARM is little-endian (AUDIT_ARCH_ARM).
        b"armeb" | b"arm" | b"armv5tejl" | b"armv5tel" | b"armv6l" | b"armv7l" | b"armv8l" => {
            0x4000_0028
        }
        b"ppc" => 0x0000_0014,
        b"ppc64" => 0x8000_0015,
        b"ppc64le" => 0xc000_0015,
        b"s390" => 0x0000_0016,
        b"s390x" => 0x8000_0016,
        b"mips" => 0x0000_0008,
        b"mipsel" => 0x4000_0008,
        b"mips64" => 0x8000_0008,
        b"mips64el" => 0xc000_0008,
        b"mips64n32" => 0xa000_0008,
        b"mips64n32el" => 0xe000_0008,
        b"riscv32" => 0x4000_00f3,
        b"riscv64" => 0xc000_00f3,
        b"loongarch64" => 0xc000_0102,
        b"ia64" => 0xc000_0032,
        _ => {
            let inner = raw
                .strip_prefix(b"unknown-elf-type(")
                .and_then(|r| r.strip_suffix(b")"))
                .unwrap_or(raw);
            let h = inner.strip_prefix(b"0x").unwrap_or(inner);
            return parse_hex(h).and_then(|v| u32::try_from(v).ok());
        }
    })
}

/// Names auparse's tables give that libseccomp spells differently.
const ALIASES: [(&str, &str); 0] = [];

/// `syscall=`: a name on the record's arch, or `unknown-syscall(N)`.
pub(crate) fn syscall(raw: &[u8], arch: Option<u32>) -> Option<i64> {
    if let Some(inner) = raw
        .strip_prefix(b"unknown-syscall(")
        .and_then(|r| r.strip_suffix(b")"))
    {
        return parse_i64(inner);
    }
    let name = std::str::from_utf8(raw).ok()?;
    let a = ScmpArch::from_audit(arch?, 0)?;
    let name = ALIASES
        .iter()
        .find(|(au, _)| *au == name)
        .map_or(name, |(_, s)| s);
    crate::syscalls::syscall_number(a, name)
}

/// `code=`: auparse's action names (`kill` is SECCOMP_RET_KILL, the thread),
/// `unknown-seccomp-code(0x...)`.
pub(crate) fn code(raw: &[u8]) -> Option<u32> {
    Some(match raw {
        b"kill" | b"kill-thread" => 0x0000_0000,
        b"kill-process" => 0x8000_0000,
        b"trap" => 0x0003_0000,
        b"errno" => 0x0005_0000,
        b"user-notify" | b"user-notif" => 0x7fc0_0000,
        b"trace" => 0x7ff0_0000,
        b"log" => 0x7ffc_0000,
        b"allow" => 0x7fff_0000,
        _ => {
            let inner = raw
                .strip_prefix(b"unknown-seccomp-code(")
                .and_then(|r| r.strip_suffix(b")"))?;
            let h = inner.strip_prefix(b"0x").unwrap_or(inner);
            return parse_hex(h).and_then(|v| u32::try_from(v).ok());
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::FixedOffset;

    #[test]
    fn headers_in_several_date_forms() {
        let ctx = Context::DEFAULT;
        let want = 1_795_997_052_837;
        for h in [
            &b"audit(11/30/26 00:04:12.837:4620843) : pid=1"[..],
            b"audit(11/30/2026 00:04:12.837:4620843) : pid=1",
            b"audit(30.11.2026 00:04:12.837:4620843) : pid=1",
            b"audit(2026-11-30 00:04:12.837:4620843) : pid=1",
        ] {
            let (rest, ms, serial) = header(h, &ctx).unwrap();
            assert_eq!((rest, ms, serial), (&b" pid=1"[..], want, 4620843));
        }
        let berlin = Context {
            zone: &FixedOffset(3600),
            ..Context::DEFAULT
        };
        let (_, ms, _) = header(b"audit(11/30/26 01:04:12.837:1) : x", &berlin).unwrap();
        assert_eq!(ms, want);
        for bad in [
            &b"audit(13/30/26 00:04:12.837:1) : x"[..],
            b"audit(11/30/26 00:04:12.837:1): x",
            b"audit(11/30/26 24:04:12.837:1) : x",
            b"audit(1795997052.837:1): x",
        ] {
            assert!(
                header(bad, &ctx).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn names_to_numbers() {
        assert!(matches!(id(b"unset"), Ok(None)));
        assert!(matches!(id(b"root"), Ok(Some(0))));
        assert!(matches!(id(b"unknown(12345)"), Ok(Some(12345))));
        assert!(matches!(id(b"unknown(-2)"), Ok(Some(4_294_967_294))));
        assert!(matches!(id(b"1000"), Ok(Some(1000))));
        assert!(matches!(id(b"alice"), Err(Unmapped::Name)));
        assert_eq!(signal(b"SIGSYS"), Some(31));
        assert_eq!(signal(b"SIG0"), Some(0));
        assert_eq!(signal(b"SIGABRT"), Some(6));
        assert_eq!(signal(b"unknown-signal(99)"), Some(99));
        assert_eq!(arch(b"armeb"), Some(0x4000_0028));
        assert_eq!(arch(b"unknown-elf-type(c00000f3)"), Some(0xc000_00f3));
        assert_eq!(syscall(b"getppid", Some(0xc000_003e)), Some(110));
        assert_eq!(syscall(b"getppid", Some(0x4000_0003)), Some(64));
        assert_eq!(syscall(b"newfstatat", Some(0xc000_00b7)), Some(79));
        assert_eq!(syscall(b"unknown-syscall(983045)", None), Some(983045));
        assert_eq!(syscall(b"write", None), None);
        assert_eq!(code(b"kill"), Some(0));
        assert_eq!(code(b"user-notify"), Some(0x7fc0_0000));
        assert_eq!(code(b"unknown-seccomp-code(0x12340000)"), Some(0x1234_0000));
        assert_eq!(code(b"0x7ffc0000"), None);
    }
}
