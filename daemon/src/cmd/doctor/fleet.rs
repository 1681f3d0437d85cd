//! The doctor's fleet checks: the connection to `[fleet] postgres` (TLS and password as
//! the daemon uses them), its schema, and how far this node's replication lags.

use std::time::Duration;

use super::report::{f, Level, Report};
use crate::config::Config;
use crate::fleet::conn::PgTarget;

/// Lag beyond this many seconds is a warning.
const LAG_WARN_SECS: f64 = 60.0;

pub(super) fn check_fleet(r: &mut Report, cfg: &Config) {
    let Some(target) = PgTarget::from_config(&cfg.fleet) else {
        r.push(f(
            "fleet",
            Level::Info,
            "replication off ([fleet] postgres is not set)",
            None,
        ));
        return;
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            r.push(f("fleet", Level::Warn, format!("no runtime: {e}"), None));
            return;
        }
    };
    let node = crate::fleet::task::node_name(cfg);
    let conn = rt.block_on(async {
        let pool = tokio::time::timeout(Duration::from_secs(15), target.pool(1))
            .await
            .map_err(|_| anyhow::anyhow!("no answer within 15 s"))??;
        let version: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&pool)
                .await
                .ok()
                .flatten();
        let seen: Option<i64> = if version.is_some() {
            sqlx::query_scalar("SELECT last_seen FROM nodes WHERE name = $1")
                .bind(&node)
                .fetch_optional(&pool)
                .await
                .ok()
                .flatten()
        } else {
            None
        };
        pool.close().await;
        anyhow::Ok((version, seen))
    });
    match conn {
        Err(e) => r.push(f(
            "fleet",
            Level::Warn,
            format!("{}: {e:#}", target.redacted()),
            Some("check [fleet] postgres, password_file/password_env, sslmode and ca_file; meanwhile the node keeps collecting locally and catches up later"),
        )),
        Ok((None, _)) => r.push(f(
            "fleet",
            Level::Info,
            format!("{} is reachable; its schema is not applied yet", target.redacted()),
            Some("seccomp-watch fleet migrate (the first replicating node applies it too)"),
        )),
        Ok((Some(v), seen)) => r.push(f(
            "fleet",
            Level::Ok,
            format!(
                "{} is reachable (schema version {v}); node {} {}",
                target.redacted(),
                parsers::escape::escape(&node),
                match seen {
                    Some(t) => format!("last replicated at {}", parsers::time::rfc3339_ms(t)),
                    None => "has not replicated yet".to_string(),
                }
            ),
            None,
        )),
    }
    if !cfg.db.is_file() {
        return;
    }
    let lag = rt.block_on(async {
        let mut c = crate::fleet::local::open_read_only(&cfg.db).await?;
        crate::fleet::local::lag(&mut c).await
    });
    match lag {
        Ok(l) if l.seconds > LAG_WARN_SECS => r.push(f(
            "fleet-lag",
            Level::Warn,
            format!(
                "{} event(s) not replicated yet, the oldest committed {:.0} s ago",
                l.events, l.seconds
            ),
            Some("is the daemon running and PostgreSQL reachable? (seccomp_watch_fleet_up, the daemon's log); retention keeps unshipped events"),
        )),
        Ok(l) => r.push(f(
            "fleet-lag",
            Level::Ok,
            format!("{} event(s) not replicated yet ({:.1} s)", l.events, l.seconds),
            None,
        )),
        Err(e) => r.push(f(
            "fleet-lag",
            Level::Info,
            format!("cannot read the replication state of {}: {e}", cfg.db.display()),
            None,
        )),
    }
}
