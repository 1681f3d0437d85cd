//! Disk space of the SQLite store: a reserve file beside the database
//! (`<db>-reserve`, preallocated), given up when a write fails with SQLITE_FULL, and put
//! back once the disk has room for it twice over; the free space of the filesystem and the
//! free pages inside the database; and the early deletion of the oldest raw events when
//! the disk is (nearly) full (their aggregates stay; the deleted events are counted as lost
//! in the same transaction).
//!
//! Why a reserve: in WAL mode every write, a `DELETE` too, appends to the WAL, and the WAL
//! starts over only after a checkpoint has copied it into the database file, which may
//! have to grow. On a full disk neither can happen (measured: after SQLITE_FULL even the
//! checkpoint fails), so nothing can be deleted any more. Giving up the reserve lets the
//! checkpoint and the deletes run; the pages they free inside the database are reused by
//! the next inserts, so the file need not grow while the disk stays short.

use std::path::{Path, PathBuf};

use super::write::SqliteWriter;
use crate::store::StoreError;

/// `<db>-reserve`.
pub(super) fn reserve_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_os_string();
    p.push("-reserve");
    PathBuf::from(p)
}

/// Bytes free for an unprivileged writer on the filesystem of `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `st` is a valid out-parameter; `c` a NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ between targets
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Creates `path` with `bytes` allocated (`posix_fallocate`); removed again on failure.
fn allocate(path: &Path, bytes: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    let len = libc::off_t::try_from(bytes)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid fd; posix_fallocate returns the error number.
    let rc = unsafe { libc::posix_fallocate(f.as_raw_fd(), 0, len) };
    let r = if rc == 0 {
        f.sync_all()
    } else {
        Err(std::io::Error::from_raw_os_error(rc))
    };
    if r.is_err() {
        let _ = std::fs::remove_file(path);
    }
    r
}

impl SqliteWriter {
    fn db_path(&self) -> PathBuf {
        self.opts.get_filename().to_path_buf()
    }

    /// See [`crate::store::StoreWriter::ensure_reserve`].
    pub(super) fn ensure_reserve_inner(&mut self, bytes: u64) -> bool {
        let db = self.db_path();
        let path = reserve_path(&db);
        if bytes == 0 {
            let _ = std::fs::remove_file(&path);
            return true;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() && m.len() == bytes => return true,
            Ok(_) => {
                // Another size (the setting changed) or not a plain file: made anew.
                if std::fs::remove_file(&path).is_err() {
                    return false;
                }
            }
            Err(_) => {}
        }
        let dir = self.db_dir();
        // Never the last of the space: the reserve only when the disk holds it twice.
        match free_bytes(&dir) {
            Some(f) if f >= bytes.saturating_mul(2) => {}
            _ => return false,
        }
        match allocate(&path, bytes) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!("disk reserve {}: {e}", path.display());
                false
            }
        }
    }

    fn db_dir(&self) -> PathBuf {
        match self.db_path().parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// See [`crate::store::StoreWriter::disk_free`].
    pub(super) fn disk_free_inner(&self) -> Option<u64> {
        free_bytes(&self.db_dir())
    }

    /// See [`crate::store::StoreWriter::free_pages_bytes`].
    pub(super) async fn free_pages_bytes_inner(&mut self) -> Result<u64, StoreError> {
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&mut self.conn)
            .await?;
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&mut self.conn)
            .await?;
        Ok((free.max(0) as u64).saturating_mul(size.max(0) as u64))
    }

    /// See [`crate::store::StoreWriter::release_reserve`].
    pub(super) fn release_reserve_inner(&mut self) -> bool {
        let path = reserve_path(&self.db_path());
        let had = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() > 0);
        had && std::fs::remove_file(&path).is_ok()
    }

    /// See [`crate::store::StoreWriter::delete_oldest`].
    pub(super) async fn delete_oldest_inner(
        &mut self,
        max_rows: u64,
        cause: &str,
    ) -> Result<u64, StoreError> {
        use sqlx::Connection;
        // A passive checkpoint first: a WAL that is all checkpointed is written from its
        // start again, in the space it already has.
        let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut self.conn)
            .await;
        let mut tx = self.conn.begin_with("BEGIN IMMEDIATE").await?;
        let bound: Option<i64> =
            sqlx::query_scalar("SELECT time_ms FROM events ORDER BY time_ms LIMIT 1 OFFSET ?")
                .bind(max_rows.max(1) as i64)
                .fetch_optional(&mut *tx)
                .await?;
        let deleted = match bound {
            Some(t) => {
                let n = sqlx::query("DELETE FROM events WHERE time_ms < ?")
                    .bind(t)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n > 0 {
                    n
                } else {
                    // The first max_rows events share one time.
                    sqlx::query("DELETE FROM events WHERE time_ms <= ?")
                        .bind(t)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                }
            }
            // Fewer than max_rows events in all.
            None => sqlx::query("DELETE FROM events")
                .execute(&mut *tx)
                .await?
                .rows_affected(),
        };
        if deleted > 0 {
            sqlx::query(
                "INSERT INTO losses (cause, count, updated) VALUES (?, ?, ?) \
                 ON CONFLICT (cause) DO UPDATE SET count = count + excluded.count, updated = excluded.updated",
            )
            .bind(cause)
            .bind(deleted as i64)
            .bind(super::write::now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_beside_the_database() {
        assert_eq!(
            reserve_path(Path::new("/var/lib/sw/sw.db")),
            PathBuf::from("/var/lib/sw/sw.db-reserve")
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r");
        allocate(&p, 1 << 20).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 1 << 20);
        assert!(allocate(&p, 1).is_err(), "never over an existing file");
        assert!(free_bytes(dir.path()).is_some_and(|f| f > 0));
    }
}
