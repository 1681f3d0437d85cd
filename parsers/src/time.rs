//! Time formatting and parsing without a date library: RFC 3339 in UTC with milliseconds.

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

/// Parses an RFC 3339 / ISO 8601 timestamp (`2026-11-29T23:14:41.977123+00:00`,
/// `2026-11-29T23:14:41Z`, `2026-11-29 23:14:41`, `2026-11-29T23:14:41+0100`) to epoch
/// milliseconds. Returns the value and the number of bytes consumed.
pub fn parse_iso8601_ms(s: &[u8]) -> Option<(i64, usize)> {
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
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
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
    let mut offset_s = 0i64;
    match s.get(i) {
        Some(b'Z') | Some(b'z') => i += 1,
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
            offset_s = (oh as i64 * 3600 + om as i64 * 60) * if sign == b'+' { 1 } else { -1 };
            i += len;
        }
        _ => {}
    }
    let days = days_from_civil(y as i64, mo, d);
    let secs = days * 86_400 + h as i64 * 3600 + mi as i64 * 60 + se as i64 - offset_s;
    Some((secs * 1000 + ms as i64, i))
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
    }
}
