//! What the query commands (`events`, `summary`, the profile commands) and the HTTP API
//! share: the database path, `--since`/`--until` times, the `events --json` object of a
//! stored event, and aligned tables.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use parsers::escape::escape;
use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::pipeline::Item;
use crate::store::{AnyStore, DbTarget};

/// The database path: `--db`, else the configuration's (`/etc/seccomp-watch/config.toml`
/// when it exists), else the default.
pub fn db_path(db: Option<&Path>) -> anyhow::Result<PathBuf> {
    match db {
        Some(p) if p.to_str().is_some_and(crate::store::any::is_postgres_url) => bail!(
            "{} is the fleet database: it is written by the nodes' replicators only \
             (import into a node's database file, which replicates)",
            escape(&crate::fleet::conn::redact_url(&p.to_string_lossy()))
        ),
        Some(p) => Ok(p.to_path_buf()),
        None => Ok(Config::load(None)?.db),
    }
}

/// Where a read command reads: `--db` (a file, or a `postgres://` URL: the fleet
/// database), else the configuration's (`/etc/seccomp-watch/config.toml` when it exists)
/// `[fleet] postgres` when set, else its `db`, else the default file. The configuration's
/// `[fleet]` password and TLS settings go with its own URL.
pub fn db_target(db: Option<&Path>) -> anyhow::Result<DbTarget> {
    let cfg = Config::load(None)?;
    Ok(match db {
        Some(p) => DbTarget::from_arg(
            p,
            crate::fleet::conn::PgTarget::from_config(&cfg.fleet).as_ref(),
        ),
        None => DbTarget::of_config(&cfg),
    })
}

/// Opens the store of [`db_target`] for reading.
pub async fn open_read(db: Option<&Path>) -> anyhow::Result<AnyStore> {
    let target = db_target(db)?;
    AnyStore::open_existing(&target)
        .await
        .with_context(|| format!("cannot open {}", escape(&target.shown())))
}

/// Parses `--since`/`--until`: a duration ago (`500ms`, `90s`, `15m`, `1h`, `7d`, `2w`;
/// a bare number is seconds), an RFC 3339 time, or a date (`2026-11-29`, midnight UTC).
pub fn parse_when(s: &str, now_ms: i64) -> anyhow::Result<i64> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        let (num, unit) = t.split_at(digits);
        let ms_per = match unit {
            "" | "s" => Some(1000),
            "ms" => Some(1),
            "m" | "min" => Some(60_000),
            "h" => Some(3_600_000),
            "d" => Some(86_400_000),
            "w" => Some(7 * 86_400_000),
            _ => None,
        };
        if let Some(per) = ms_per {
            let n: i64 = num
                .parse()
                .with_context(|| format!("bad duration {:?}", escape(s)))?;
            return Ok(now_ms.saturating_sub(n.saturating_mul(per)));
        }
    }
    let b = t.as_bytes();
    if let Some((ms, used)) = parsers::time::parse_iso8601_ms(b) {
        if used == b.len() {
            return Ok(ms);
        }
    }
    if b.len() == 10 {
        let full = format!("{t}T00:00:00Z");
        if let Some((ms, used)) = parsers::time::parse_iso8601_ms(full.as_bytes()) {
            if used == full.len() {
                return Ok(ms);
            }
        }
    }
    bail!(
        "bad time {:?}: use a duration ago (90s, 15m, 1h, 7d) or RFC 3339",
        escape(s)
    )
}

/// The `events --json` object of a stored event.
pub fn event_json(it: &Item) -> Map<String, Value> {
    let mut m = it.event.to_json_map();
    let a = &it.attribution;
    m.insert("source".into(), Value::from(it.source.as_str()));
    m.insert(
        "container".into(),
        match &a.container {
            Some(c) => json!({
                "id": c.id, "runtime": c.runtime, "name": c.name, "image": c.image,
                "pod": c.pod, "namespace": c.namespace, "pod_uid": c.pod_uid,
            }),
            None => Value::Null,
        },
    );
    m.insert(
        "unit".into(),
        a.unit.clone().map_or(Value::Null, Value::from),
    );
    m.insert("workload".into(), Value::from(a.workload.clone()));
    m.insert("attributed".into(), Value::from(a.attributed));
    m
}

/// Writes rows as an aligned table; every cell is escaped first.
pub fn write_table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape(c).into_owned()).collect())
        .collect();
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &cells {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |out: &mut dyn Write, r: &[String]| -> io::Result<()> {
        let mut s = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                s.push_str(c);
            } else {
                let pad = w
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(c.chars().count());
                s.push_str(c);
                s.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(
        out,
        &header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    )?;
    for r in &cells {
        line(out, r)?;
    }
    Ok(())
}

/// Whether a write failed because the reader went away (`| head`).
pub fn broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_when("90s", now).unwrap(), now - 90_000);
        assert_eq!(parse_when("15m", now).unwrap(), now - 900_000);
        assert_eq!(parse_when("1h", now).unwrap(), now - 3_600_000);
        assert_eq!(parse_when("7d", now).unwrap(), now - 7 * 86_400_000);
        assert_eq!(parse_when("30", now).unwrap(), now - 30_000);
        assert_eq!(
            parse_when("2026-11-30T00:04:12.837Z", now).unwrap(),
            1_795_997_052_837
        );
        assert_eq!(parse_when("2026-11-30", now).unwrap(), 1_795_996_800_000);
        assert!(parse_when("yesterday", now).is_err());
        assert!(parse_when("5y", now).is_err());
        assert!(parse_when("2026-11-30T00:04:12Zjunk", now).is_err());
    }

    #[test]
    fn tables_align_and_escape() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            &["A", "B"],
            &[
                vec!["x\x1b[31m".into(), "first".into()],
                vec!["long value".into(), "second".into()],
            ],
        )
        .unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains('\x1b'), "{s}");
        assert!(s.contains("x\\e[31m"), "{s}");
        let lines: Vec<&str> = s.lines().collect();
        let col = lines[0].find('B').unwrap();
        assert_eq!(lines[1].find("first"), Some(col));
        assert_eq!(lines[2].find("second"), Some(col));
    }
}
