//! Values to and from their stored form (sources, optional ids, the synthetic serial of a
//! record without one) and the SQL text helpers shared by reads and writes.

use parsers::Event;
use sqlx::sqlite::SqliteArguments;
use sqlx::Arguments;

use crate::store::StoreError;

/// SQLite's default limit of bound parameters per statement (since 3.32) is 32766.
pub(super) const MAX_PARAMS: usize = 32_000;
pub(super) use crate::store::row::{source_code, SIG_NONE};

pub(super) fn opt_u32(v: Option<u32>) -> i64 {
    v.map_or(-1, i64::from)
}

/// The stored serial of an event: its audit serial, or a negative synthetic key
/// ([`Event::store_serial`], shared by every backend).
pub fn stored_serial(e: &Event) -> i64 {
    e.store_serial()
}

pub(super) fn add<'q, T>(args: &mut SqliteArguments<'q>, v: T) -> Result<(), StoreError>
where
    T: sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + 'q,
{
    args.add(v).map_err(|e| StoreError::Encode(e.to_string()))
}

/// `(?,?,?),(?,?,?)...`: `rows` groups of `cols` placeholders.
pub(super) fn placeholders(rows: usize, cols: usize) -> String {
    let mut one = String::with_capacity(cols * 2 + 1);
    one.push('(');
    for c in 0..cols {
        if c > 0 {
            one.push(',');
        }
        one.push('?');
    }
    one.push(')');
    let mut s = String::with_capacity(rows * (one.len() + 1));
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push_str(&one);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_serials_are_negative_and_stable() {
        let mut e = Event {
            time_ms: 1,
            serial: None,
            node: None,
            audit_arch: 0xc000003e,
            syscall_nr: 101,
            code: 0x7ffc0000,
            pid: 42,
            uid: None,
            gid: None,
            auid: None,
            ses: None,
            comm: Some("a".into()),
            exe: Some("/a".into()),
            subj: None,
            sig: None,
            compat: false,
            ip: None,
            synthetic_key: None,
        };
        let s = stored_serial(&e);
        assert!(s < 0);
        assert_eq!(s, stored_serial(&e.clone()));
        e.pid = 43;
        assert_ne!(s, stored_serial(&e));
        e.serial = Some(7);
        assert_eq!(stored_serial(&e), 7);
    }

    #[test]
    fn placeholders_shape() {
        assert_eq!(placeholders(2, 3), "(?,?,?),(?,?,?)");
        assert_eq!(placeholders(1, 1), "(?)");
    }
}
