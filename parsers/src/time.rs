//! Time formatting and parsing without a date library: RFC 3339 in UTC with milliseconds,
//! the timestamps of syslog headers (classic `Apr 25 16:56:53` in several locales, RFC 3339,
//! ISO with a space), the year of a year-less timestamp, and local time through a [`Zone`].

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Milliseconds since the epoch as RFC 3339 UTC with milliseconds: `2026-11-29T23:14:41.977Z`.
pub fn rfc3339_ms(epoch_ms: i64) -> String {
    let mut s = String::with_capacity(24);
    push_rfc3339_ms(&mut s, epoch_ms);
    s
}

/// Appends [`rfc3339_ms`] of `epoch_ms` to `out` without allocating.
pub fn push_rfc3339_ms(out: &mut String, epoch_ms: i64) {
    let secs = epoch_ms.div_euclid(1000);
    let ms = epoch_ms.rem_euclid(1000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, mo, d) = civil_from_days(days);
    let mut buf = [0u8; 24];
    let y = y.clamp(0, 9999) as u32;
    let digits = |b: &mut [u8], v: u32| {
        let n = b.len();
        let mut v = v;
        for i in (0..n).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(&mut buf[0..4], y);
    buf[4] = b'-';
    digits(&mut buf[5..7], mo);
    buf[7] = b'-';
    digits(&mut buf[8..10], d);
    buf[10] = b'T';
    digits(&mut buf[11..13], sod / 3600);
    buf[13] = b':';
    digits(&mut buf[14..16], sod / 60 % 60);
    buf[16] = b':';
    digits(&mut buf[17..19], sod % 60);
    buf[19] = b'.';
    digits(&mut buf[20..23], ms);
    buf[23] = b'Z';
    // Every byte written above is ASCII.
    out.push_str(std::str::from_utf8(&buf).unwrap_or("1970-01-01T00:00:00.000Z"));
}

/// A time zone: turns a local wall-clock time into UTC. The parsers take it as a value
/// (they read no clock and no zone database); the daemon passes the host's zone.
pub trait Zone: Send + Sync {
    /// `local` is seconds since 1970-01-01 00:00:00 of this zone's wall clock; returns
    /// seconds since the epoch (UTC).
    fn local_to_utc(&self, local: i64) -> i64;
}

/// UTC: local time is UTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct Utc;

impl Zone for Utc {
    fn local_to_utc(&self, local: i64) -> i64 {
        local
    }
}

/// A fixed offset from UTC, in seconds east (`+02:00` is 7200).
#[derive(Debug, Clone, Copy)]
pub struct FixedOffset(pub i32);

impl Zone for FixedOffset {
    fn local_to_utc(&self, local: i64) -> i64 {
        local - i64::from(self.0)
    }
}

/// Seconds since 1970-01-01 00:00:00 of a civil date and time (no zone applied).
pub fn civil_secs(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    days_from_civil(y, mo, d) * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)
}

/// Whether `d` is a day of month `mo` of year `y`.
pub fn valid_date(y: i64, mo: u32, d: u32) -> bool {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// The month of an abbreviated month name: English, and the abbreviations `LC_TIME` gives
/// in French, German, Spanish, Italian, Portuguese and Dutch (`oct.`, `Okt`, `Mär`, `févr.`,
/// `dic`, ...), case-insensitive, with or without a trailing dot (the dot is not part of
/// `word`).
pub fn month_number(word: &[u8]) -> Option<u32> {
    if word.len() < 3 || word.len() > 6 {
        return None;
    }
    let mut b = [0u8; 6];
    let l = &mut b[..word.len()];
    l.copy_from_slice(word);
    l.make_ascii_lowercase();
    // `é`, `ä`, `û` in upper case (`É` = C3 89, `Ä` = C3 84) to lower case.
    for i in 1..l.len() {
        if l[i - 1] == 0xc3 && (0x80..=0x9e).contains(&l[i]) {
            l[i] += 0x20;
        }
    }
    Some(match &*l {
        b"jan" | b"janv" | b"ene" | b"gen" | b"j\xc3\xa4n" => 1,
        b"feb" | b"f\xc3\xa9vr" | b"fevr" | b"f\xc3\xa9v" | b"fev" => 2,
        b"mar" | b"mars" | b"m\xc3\xa4r" | b"mrt" | b"m\xc3\xa4rz" | b"marz" => 3,
        b"apr" | b"avr" | b"abr" | b"avril" => 4,
        b"may" | b"mai" | b"mei" | b"mag" => 5,
        b"jun" | b"juin" | b"giu" => 6,
        b"jul" | b"juil" | b"lug" => 7,
        b"aug" | b"ao\xc3\xbbt" | b"aout" | b"ago" => 8,
        b"sep" | b"sept" | b"set" => 9,
        b"oct" | b"okt" | b"ott" | b"out" => 10,
        b"nov" => 11,
        b"dec" | b"d\xc3\xa9c" | b"dez" | b"dic" => 12,
        _ => return None,
    })
}

/// The year of a year-less local time (month, day, time of day in seconds) the way
/// rsyslog readers infer it: the newest year in which it is not in the future relative to
/// `reference_ms` (the file's modification time). One day of slack covers a zone given
/// wrongly. `None` when no year of the last eight fits (29 February).
pub fn infer_year(
    reference_ms: i64,
    mo: u32,
    d: u32,
    sod: u32,
    zone: &dyn Zone,
) -> Option<(i64, i64)> {
    const SLACK: i64 = 86_400;
    let ref_s = reference_ms.div_euclid(1000);
    let (ref_year, _, _) = civil_from_days(ref_s.div_euclid(86_400));
    for y in (ref_year - 8..=ref_year + 1).rev() {
        if !valid_date(y, mo, d) {
            continue;
        }
        let t = zone.local_to_utc(civil_secs(y, mo, d, 0, 0, 0) + i64::from(sod));
        if t <= ref_s + SLACK {
            return Some((y, t));
        }
    }
    None
}

/// The parts of an ISO 8601 timestamp: local milliseconds (as if UTC), the offset in
/// seconds east when one was written (`Z` is 0), and the bytes consumed.
pub fn parse_iso8601_parts(s: &[u8]) -> Option<(i64, Option<i64>, usize)> {
    let (ms, off, n) = iso_inner(s)?;
    Some((ms, off, n))
}

/// Parses an RFC 3339 / ISO 8601 timestamp (`2026-11-29T23:14:41.977123+00:00`,
/// `2026-11-29T23:14:41Z`, `2026-11-29 23:14:41`, `2026-11-29T23:14:41+0100`) to epoch
/// milliseconds. Returns the value and the number of bytes consumed.
pub fn parse_iso8601_ms(s: &[u8]) -> Option<(i64, usize)> {
    let (ms, off, n) = iso_inner(s)?;
    Some((ms - off.unwrap_or(0) * 1000, n))
}

fn iso_inner(s: &[u8]) -> Option<(i64, Option<i64>, usize)> {
    fn num(s: &[u8], at: usize, n: usize) -> Option<u32> {
        let b = s.get(at..at + n)?;
        let mut v = 0u32;
        for &c in b {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as u32;
        }
        Some(v)
    }
    let y = num(s, 0, 4)?;
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return None;
    }
    let mo = num(s, 5, 2)?;
    let d = num(s, 8, 2)?;
    if !matches!(s.get(10), Some(b'T') | Some(b' ')) {
        return None;
    }
    let h = num(s, 11, 2)?;
    if s.get(13) != Some(&b':') || s.get(16) != Some(&b':') {
        return None;
    }
    let mi = num(s, 14, 2)?;
    let se = num(s, 17, 2)?;
    if !valid_date(y as i64, mo, d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0u32;
    if s.get(i) == Some(&b'.') || s.get(i) == Some(&b',') {
        i += 1;
        let mut scale = 100;
        while let Some(c) = s.get(i).filter(|c| c.is_ascii_digit()) {
            ms += (c - b'0') as u32 * scale;
            scale /= 10;
            i += 1;
        }
    }
    let mut offset = None;
    match s.get(i) {
        Some(b'Z') | Some(b'z') => {
            i += 1;
            offset = Some(0);
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(s, i + 1, 2)?;
            let (om, len) = if s.get(i + 3) == Some(&b':') {
                (num(s, i + 4, 2)?, 6)
            } else {
                (
                    num(s, i + 3, 2).unwrap_or(0),
                    if num(s, i + 3, 2).is_some() { 5 } else { 3 },
                )
            };
            offset = Some((oh as i64 * 3600 + om as i64 * 60) * if sign == b'+' { 1 } else { -1 });
            i += len;
        }
        _ => {}
    }
    let secs = civil_secs(y as i64, mo, d, h, mi, se);
    Some((secs * 1000 + ms as i64, offset, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_795_997_034_781), "2026-11-30T00:03:54.781Z");
        assert_eq!(rfc3339_ms(1_642_692_596_061), "2022-01-20T15:29:56.061Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for ms in [0i64, 1_795_997_034_781, 951_782_400_000, 4_102_444_799_999] {
            assert_eq!(parse_iso8601_ms(rfc3339_ms(ms).as_bytes()), Some((ms, 24)));
        }
        let (v, n) = parse_iso8601_ms(b"2026-11-30T01:03:54.781123+01:00 host").unwrap();
        assert_eq!((v, n), (1_795_997_034_781, 32));
        assert_eq!(
            parse_iso8601_ms(b"2026-11-30 00:03:54").unwrap().0,
            1_795_997_034_000
        );
        assert_eq!(parse_iso8601_ms(b"Nov 30 00:03:54"), None);
        assert_eq!(parse_iso8601_ms(b"2026-13-30T00:03:54Z"), None);
        assert_eq!(parse_iso8601_ms(b"2026-02-30T00:03:54Z"), None);
        assert_eq!(
            parse_iso8601_parts(b"2026-11-30T00:03:54"),
            Some((1_795_997_034_000, None, 19))
        );
    }

    #[test]
    fn month_names_in_several_locales() {
        for (w, m) in [
            (&b"Jan"[..], 1),
            (b"janv", 1),
            (b"f\xc3\xa9vr", 2),
            (b"F\xc3\x89VR", 2),
            (b"M\xc3\xa4r", 3),
            (b"mrt", 3),
            (b"avr", 4),
            (b"Mai", 5),
            (b"juin", 6),
            (b"juil", 7),
            (b"ao\xc3\xbbt", 8),
            (b"ago", 8),
            (b"sept", 9),
            (b"oct", 10),
            (b"Okt", 10),
            (b"out", 10),
            (b"NOV", 11),
            (b"d\xc3\xa9c", 12),
            (b"Dez", 12),
            (b"dic", 12),
        ] {
            assert_eq!(month_number(w), Some(m), "{}", String::from_utf8_lossy(w));
        }
        for w in [&b"Ja"[..], b"Foo", b"January", b"", b"12"] {
            assert_eq!(month_number(w), None);
        }
    }

    #[test]
    fn year_is_the_newest_not_in_the_future() {
        // Reference 2025-01-05T00:00:00Z.
        let r = civil_secs(2025, 1, 5, 0, 0, 0) * 1000;
        let at = |mo, d, sod| infer_year(r, mo, d, sod, &Utc).map(|(y, _)| y);
        assert_eq!(at(12, 30, 3600), Some(2024));
        assert_eq!(at(1, 4, 3600), Some(2025));
        // One day of slack (a zone given wrongly), not more.
        assert_eq!(at(1, 5, 23 * 3600), Some(2025));
        assert_eq!(at(1, 7, 0), Some(2024));
        // 29 February: the newest leap year not in the future.
        assert_eq!(at(2, 29, 0), Some(2024));
        let (_, t) = infer_year(r, 12, 30, 0, &FixedOffset(3600)).unwrap();
        assert_eq!(t, civil_secs(2024, 12, 30, 0, 0, 0) - 3600);
    }
}
