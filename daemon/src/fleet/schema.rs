//! The central schema (`migrations/postgres/`, sqlx migrations of its own) and its day
//! partitions: applied by `seccomp-watch fleet migrate` or by the first replicator that
//! connects; partitions made before each batch, dropped by retention.

use sqlx::postgres::PgPool;
use sqlx::PgConnection;

/// The fleet database's migrations (tracked in its own `_sqlx_migrations`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Day length in ms; partitions are UTC days.
pub const DAY_MS: i64 = 86_400_000;

/// Applies the pending migrations (several nodes at once are serialised by sqlx's
/// advisory lock); returns how many were applied.
pub async fn migrate(pool: &PgPool) -> Result<usize, sqlx::migrate::MigrateError> {
    let mut conn = pool.acquire().await?;
    let before: i64 = applied(&mut conn).await.unwrap_or(0);
    MIGRATOR.run_direct(&mut *conn).await?;
    let after: i64 = applied(&mut conn).await.unwrap_or(before);
    Ok((after - before).max(0) as usize)
}

async fn applied(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(conn)
        .await
}

/// The UTC day start of a time in ms.
pub fn day_start(t_ms: i64) -> i64 {
    t_ms - t_ms.rem_euclid(DAY_MS)
}

/// Creates the day partitions for the given day starts (each a contiguous run in one
/// call, at most 400 days); returns how many were created.
pub async fn ensure_partitions(conn: &mut PgConnection, days: &[i64]) -> Result<i64, sqlx::Error> {
    let mut days = days.to_vec();
    days.sort_unstable();
    days.dedup();
    let mut made = 0i64;
    let mut i = 0;
    while i < days.len() {
        let lo = days[i];
        let mut j = i;
        while j + 1 < days.len() && days[j + 1] == days[j] + DAY_MS && j + 1 - i < 399 {
            j += 1;
        }
        let n: i32 = sqlx::query_scalar("SELECT sw_ensure_event_partitions($1, $2)")
            .bind(lo)
            .bind(days[j])
            .fetch_one(&mut *conn)
            .await?;
        made += i64::from(n);
        i = j + 1;
    }
    Ok(made)
}
