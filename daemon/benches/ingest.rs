//! Insert-path measurements behind the store's design (run: `cargo bench -p seccomp-watch
//! --bench ingest`; `BENCH_ROWS=N` to change the row count).
//!
//! Inserts the same synthetic, already dictionary-mapped event rows (8 integers each, as
//! the `events` table holds them) in transactions of 10,000 rows, and prints rows/s and
//! bytes per row for:
//! - the methods: sqlx multi-row `INSERT ... VALUES (...),(...)` (2048 rows, 16,384 bound
//!   parameters a statement); sqlx one statement per row (cached prepared statement, one
//!   round trip to sqlx's worker thread each); on the writer's locked raw handle, one
//!   prepared statement reused per row, and the multi-row statement reused;
//! - the layouts: `WITHOUT ROWID` with the key as primary key (what the store does), a
//!   rowid table with a UNIQUE index on the key, and a rowid table without any index (the
//!   size floor, no dedup possible).

use std::ffi::CString;
use std::time::Instant;

use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous,
};
use sqlx::{Arguments, ConnectOptions, Connection, Executor};

const TX_ROWS: usize = 10_000;
const CHUNK: usize = 2048;

type Row = [i64; 8];

/// Rows shaped like the corpus: increasing time and serial, small dictionaries, random
/// pid and instruction pointer (xorshift, deterministic).
fn rows(n: usize) -> Vec<Row> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut t = 1_795_994_158_617i64;
    let mut serial = 158i64;
    (0..n)
        .map(|_| {
            t += (next() % 4) as i64;
            serial += 1 + i64::from(next() % 33 == 0) * (next() % 40) as i64;
            let ip = 0x7f00_0000_0000 + (next() % (1 << 40)) as i64;
            [
                t,
                serial,
                0,
                (next() % 60 + 1) as i64,
                (next() % 2500 + 1) as i64,
                (next() % 4_000_000 + 300) as i64,
                ip,
                (next() % 24 + 1) as i64,
            ]
        })
        .collect()
}

const LAYOUTS: [(&str, &str); 3] = [
    (
        "WITHOUT ROWID, key as primary key",
        "CREATE TABLE events (time_ms INTEGER NOT NULL, serial INTEGER NOT NULL, node INTEGER NOT NULL, \
         kind INTEGER NOT NULL, actor INTEGER NOT NULL, pid INTEGER NOT NULL, ip INTEGER, attrib INTEGER NOT NULL, \
         PRIMARY KEY (time_ms, serial, node)) WITHOUT ROWID",
    ),
    (
        "rowid table + UNIQUE index on the key",
        "CREATE TABLE events (time_ms INTEGER NOT NULL, serial INTEGER NOT NULL, node INTEGER NOT NULL, \
         kind INTEGER NOT NULL, actor INTEGER NOT NULL, pid INTEGER NOT NULL, ip INTEGER, attrib INTEGER NOT NULL, \
         UNIQUE (time_ms, serial, node))",
    ),
    (
        "rowid table, no index (floor, no dedup)",
        "CREATE TABLE events (time_ms INTEGER NOT NULL, serial INTEGER NOT NULL, node INTEGER NOT NULL, \
         kind INTEGER NOT NULL, actor INTEGER NOT NULL, pid INTEGER NOT NULL, ip INTEGER, attrib INTEGER NOT NULL)",
    ),
];

const INSERT_ONE: &str = "INSERT INTO events VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING";

fn multi_sql(n: usize) -> String {
    let mut s = String::from("INSERT INTO events VALUES ");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str("(?,?,?,?,?,?,?,?)");
    }
    s.push_str(" ON CONFLICT DO NOTHING");
    s
}

async fn open(path: &std::path::Path, schema: &str) -> SqliteConnection {
    let _ = std::fs::remove_file(path);
    let mut c = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .pragma("cache_size", "-8192")
        .connect()
        .await
        .expect("open");
    c.execute(schema).await.expect("schema");
    c
}

async fn multi_row(c: &mut SqliteConnection, rows: &[Row]) {
    let sqls: Vec<(usize, String)> = {
        let mut v = Vec::new();
        let mut n = CHUNK;
        while n >= 1 {
            v.push((n, multi_sql(n)));
            n /= 2;
        }
        v
    };
    for tx_rows in rows.chunks(TX_ROWS) {
        let mut tx = c.begin().await.expect("begin");
        let mut at = 0;
        while at < tx_rows.len() {
            let left = tx_rows.len() - at;
            let (n, sql) = sqls.iter().find(|(n, _)| *n <= left).expect("chunk");
            let mut args = SqliteArguments::default();
            for r in &tx_rows[at..at + n] {
                for v in r {
                    args.add(*v).expect("bind");
                }
            }
            sqlx::query_with(sql.as_str(), args)
                .execute(&mut *tx)
                .await
                .expect("insert");
            at += n;
        }
        tx.commit().await.expect("commit");
    }
}

async fn per_row_sqlx(c: &mut SqliteConnection, rows: &[Row]) {
    for tx_rows in rows.chunks(TX_ROWS) {
        let mut tx = c.begin().await.expect("begin");
        for r in tx_rows {
            let mut q = sqlx::query(INSERT_ONE);
            for v in r {
                q = q.bind(*v);
            }
            q.execute(&mut *tx).await.expect("insert");
        }
        tx.commit().await.expect("commit");
    }
}

async fn raw_prepared(c: &mut SqliteConnection, rows: &[Row]) {
    use libsqlite3_sys as ffi;
    let sql = CString::new(INSERT_ONE).expect("sql");
    for tx_rows in rows.chunks(TX_ROWS) {
        let mut tx = c.begin().await.expect("begin");
        let mut h = tx.lock_handle().await.expect("lock");
        let db = h.as_raw_handle().as_ptr();
        // SAFETY: the handle is locked (sqlx's worker makes no call on it meanwhile); the
        // statement is finalized before the lock is released.
        unsafe {
            let mut st: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
            assert_eq!(
                ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut st, std::ptr::null_mut()),
                ffi::SQLITE_OK
            );
            for r in tx_rows {
                for (i, v) in r.iter().enumerate() {
                    ffi::sqlite3_bind_int64(st, i as i32 + 1, *v);
                }
                assert_eq!(ffi::sqlite3_step(st), ffi::SQLITE_DONE);
                ffi::sqlite3_reset(st);
            }
            ffi::sqlite3_finalize(st);
        }
        drop(h);
        tx.commit().await.expect("commit");
    }
}

async fn raw_multi_row(c: &mut SqliteConnection, rows: &[Row]) {
    use libsqlite3_sys as ffi;
    let big = CString::new(multi_sql(CHUNK)).expect("sql");
    let one = CString::new(INSERT_ONE).expect("sql");
    for tx_rows in rows.chunks(TX_ROWS) {
        let mut tx = c.begin().await.expect("begin");
        let mut h = tx.lock_handle().await.expect("lock");
        let db = h.as_raw_handle().as_ptr();
        // SAFETY: as in raw_prepared.
        unsafe {
            let mut st: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
            let mut st1: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
            assert_eq!(
                ffi::sqlite3_prepare_v2(db, big.as_ptr(), -1, &mut st, std::ptr::null_mut()),
                ffi::SQLITE_OK
            );
            assert_eq!(
                ffi::sqlite3_prepare_v2(db, one.as_ptr(), -1, &mut st1, std::ptr::null_mut()),
                ffi::SQLITE_OK
            );
            let mut chunks = tx_rows.chunks_exact(CHUNK);
            for chunk in &mut chunks {
                let mut i = 1;
                for r in chunk {
                    for v in r {
                        ffi::sqlite3_bind_int64(st, i, *v);
                        i += 1;
                    }
                }
                assert_eq!(ffi::sqlite3_step(st), ffi::SQLITE_DONE);
                ffi::sqlite3_reset(st);
            }
            for r in chunks.remainder() {
                for (i, v) in r.iter().enumerate() {
                    ffi::sqlite3_bind_int64(st1, i as i32 + 1, *v);
                }
                assert_eq!(ffi::sqlite3_step(st1), ffi::SQLITE_DONE);
                ffi::sqlite3_reset(st1);
            }
            ffi::sqlite3_finalize(st);
            ffi::sqlite3_finalize(st1);
        }
        drop(h);
        tx.commit().await.expect("commit");
    }
}

async fn bytes(c: &mut SqliteConnection) -> i64 {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut *c)
        .await
        .expect("checkpoint");
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&mut *c)
        .await
        .expect("pages");
    let size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut *c)
        .await
        .expect("size");
    pages * size
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this with a tiny count.
    let quick = std::env::args().all(|a| a != "--bench");
    let n: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 20_000 } else { 850_000 });
    let data = rows(n);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!("{n} rows, transactions of {TX_ROWS}");
        let report = |what: &str, secs: f64, rows: usize, bytes: Option<i64>| {
            let per = bytes
                .map(|b| format!("{:.1} bytes/row", b as f64 / rows as f64))
                .unwrap_or_default();
            println!("{what:<62} {:>10.0} rows/s  {per}", rows as f64 / secs);
        };
        for (name, schema) in LAYOUTS {
            let mut c = open(&path, schema).await;
            let t = Instant::now();
            raw_prepared(&mut c, &data).await;
            let secs = t.elapsed().as_secs_f64();
            let b = bytes(&mut c).await;
            report(&format!("raw prepared statement, {name}"), secs, n, Some(b));
            c.close().await.expect("close");
        }
        let (_, schema) = LAYOUTS[0];
        let mut c = open(&path, schema).await;
        let t = Instant::now();
        raw_multi_row(&mut c, &data).await;
        report(
            "raw multi-row VALUES (2048 rows/statement), WITHOUT ROWID",
            t.elapsed().as_secs_f64(),
            n,
            None,
        );
        c.close().await.expect("close");
        let mut c = open(&path, schema).await;
        let t = Instant::now();
        multi_row(&mut c, &data).await;
        report(
            "sqlx multi-row VALUES (2048 rows/statement), WITHOUT ROWID",
            t.elapsed().as_secs_f64(),
            n,
            None,
        );
        c.close().await.expect("close");
        let few = &data[..n.min(100_000)];
        let mut c = open(&path, schema).await;
        let t = Instant::now();
        per_row_sqlx(&mut c, few).await;
        report(
            "sqlx one statement per row (cached), WITHOUT ROWID",
            t.elapsed().as_secs_f64(),
            few.len(),
            None,
        );
        c.close().await.expect("close");
    });
}
