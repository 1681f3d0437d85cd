//! The zone of timestamps written without one (classic syslog, `journalctl -o short`,
//! `ausearch -i`), for `parse --tz` and `ingest --tz`: the host's local zone (`TZ`,
//! `/etc/localtime`, through the C library's `mktime`), UTC, a fixed offset, or a zone
//! database name.

use std::sync::Mutex;

use parsers::time::{FixedOffset, Utc, Zone};

/// The host's local zone, as the C library sees it (`TZ`, else `/etc/localtime`).
pub struct Local {
    /// The last local hour converted and its offset: lines come in time order, and an
    /// offset changes at most at an hour boundary (DST, zone rules).
    last: Mutex<Option<(i64, i64)>>,
}

impl Local {
    fn new() -> Local {
        // SAFETY: tzset only reads TZ and the zone files; called before parsing threads.
        unsafe { tzset() };
        Local {
            last: Mutex::new(None),
        }
    }

    fn offset_at(local: i64) -> i64 {
        let t: libc::time_t = local as libc::time_t;
        // SAFETY: an all-zero `tm` is valid; gmtime_r and mktime write into our struct.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let ok = unsafe { !libc::gmtime_r(&t, &mut tm).is_null() };
        if !ok {
            return 0;
        }
        tm.tm_isdst = -1;
        // SAFETY: tm is a valid broken-down time.
        let utc = unsafe { libc::mktime(&mut tm) };
        if utc == -1 {
            return 0;
        }
        local - utc as i64
    }
}

extern "C" {
    fn tzset();
}

impl Zone for Local {
    fn local_to_utc(&self, local: i64) -> i64 {
        let hour = local.div_euclid(3600);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let off = match *last {
            Some((h, off)) if h == hour => off,
            _ => {
                let off = Self::offset_at(local);
                *last = Some((hour, off));
                off
            }
        };
        local - off
    }
}

/// Parses `--tz`: `local`, `utc`, `+HH[:MM]`/`-HH[:MM]`, or a zone database name
/// (`Europe/Berlin`, which sets `TZ` for this process: call before starting threads).
pub fn parse(s: &str) -> Result<Box<dyn Zone>, String> {
    match s {
        "local" => return Ok(Box::new(Local::new())),
        "utc" | "UTC" | "Z" | "z" => return Ok(Box::new(Utc)),
        _ => {}
    }
    if let Some(sign) = s.chars().next().filter(|c| *c == '+' || *c == '-') {
        let rest = &s[1..];
        let (h, m) = match rest.split_once(':') {
            Some((h, m)) => (h, m),
            None if rest.len() == 4 => (&rest[..2], &rest[2..]),
            None => (rest, "0"),
        };
        let (h, m): (i32, i32) = match (h.parse(), m.parse()) {
            (Ok(h), Ok(m)) if (0..=14).contains(&h) && (0..60).contains(&m) => (h, m),
            _ => return Err(format!("bad offset {s:?} (want +HH:MM)")),
        };
        let off = (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 };
        return Ok(Box::new(FixedOffset(off)));
    }
    let file = std::path::Path::new("/usr/share/zoneinfo").join(s);
    let plain = s
        .split('/')
        .all(|p| !p.is_empty() && p != "." && p != ".." && !p.starts_with('-'));
    if plain && file.is_file() {
        std::env::set_var("TZ", s);
        return Ok(Box::new(Local::new()));
    }
    Err(format!(
        "unknown zone {s:?} (local, utc, +HH:MM, or a name in /usr/share/zoneinfo)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_names() {
        let z = parse("+02:00").unwrap();
        assert_eq!(z.local_to_utc(7200), 0);
        let z = parse("-0530").unwrap();
        assert_eq!(z.local_to_utc(0), 5 * 3600 + 1800);
        assert_eq!(parse("utc").unwrap().local_to_utc(5), 5);
        for bad in ["+25:00", "+1:99", "Nowhere/City", "../etc/passwd", "-x"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
