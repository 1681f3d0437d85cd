//! Alerts once per fleet: the nodes' replicated alerts grouped by id. Ids are stable
//! across nodes for the same (rule, workload, syscall, action, window)
//! (`rules::engine::alert_id`), so the replicas of one workload that raised the same alert
//! on three nodes are one row here: the count summed, first/last seen widened, the
//! highest severity, and the nodes that raised it. Deliveries stay in each node's outbox.

use rules::engine::Alert;
use sqlx::{Postgres, QueryBuilder, Row as _};

use super::PgStore;
use crate::store::StoreError;

/// One alert of the fleet.
#[derive(Debug, Clone)]
pub struct FleetAlert {
    /// The alert (the body of its latest update), with the fleet's count and times.
    pub alert: Alert,
    /// The nodes that raised it, in byte order.
    pub nodes: Vec<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl FleetAlert {
    /// The JSON of `alerts --db postgres://... --json` and `serve`'s `/api/v1/alerts`: the
    /// payload sinks get, plus `nodes`, `created`, `updated`.
    pub fn to_json(&self, now_ms: i64) -> serde_json::Value {
        let mut v = self.alert.payload(self.alert.window_end_ms <= now_ms);
        if let Some(o) = v.as_object_mut() {
            o.insert("nodes".into(), serde_json::json!(self.nodes));
            o.insert(
                "created".into(),
                parsers::time::rfc3339_ms(self.created_ms).into(),
            );
            o.insert(
                "updated".into(),
                parsers::time::rfc3339_ms(self.updated_ms).into(),
            );
        }
        v
    }
}

/// The fleet's alerts last seen at or after `since_ms`, most recently seen first (at most
/// `limit`, 0 for all).
pub async fn fleet_alerts(
    store: &PgStore,
    since_ms: Option<i64>,
    limit: usize,
) -> Result<Vec<FleetAlert>, StoreError> {
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(
        "SELECT a.id, sum(a.count)::int8, min(a.first_seen), max(a.last_seen), \
         max(a.severity)::int8, min(a.created), max(a.updated), \
         array_agg(DISTINCT n.name), (array_agg(a.body ORDER BY a.updated DESC, n.name))[1] \
         FROM alerts a JOIN nodes n ON n.id = a.node GROUP BY a.id",
    );
    if let Some(t) = since_ms {
        qb.push(" HAVING max(a.last_seen) >= ").push_bind(t);
    }
    qb.push(" ORDER BY max(a.last_seen) DESC, a.id");
    if limit > 0 {
        qb.push(" LIMIT ").push_bind(limit as i64);
    }
    let rows = qb.build().fetch_all(store.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let body: String = r.try_get(8)?;
        let alert = crate::alerts::db::alert_of(
            &body,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
        )?;
        let mut nodes: Vec<String> = r.try_get(7)?;
        nodes.sort();
        out.push(FleetAlert {
            alert,
            nodes,
            created_ms: r.try_get(5)?,
            updated_ms: r.try_get(6)?,
        });
    }
    Ok(out)
}

/// One node's figures for `serve`'s `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFigures {
    pub node: String,
    /// Events counted in its aggregates.
    pub events: u64,
    /// Events it has shipped.
    pub shipped: u64,
    /// Its last committed replication batch (ms).
    pub last_seen_ms: i64,
}

/// The fleet's figures: per node (most events first) and alerts (distinct ids) per
/// severity (0 info .. 4 critical).
pub async fn fleet_figures(
    store: &PgStore,
) -> Result<(Vec<NodeFigures>, Vec<(i16, u64)>), StoreError> {
    let rows = sqlx::query(
        "SELECT n.name, coalesce(g.events, 0)::int8, n.shipped_events, n.last_seen FROM nodes n \
         LEFT JOIN (SELECT node, sum(count) AS events FROM aggregates GROUP BY node) g \
         ON g.node = n.id ORDER BY 2 DESC, n.name COLLATE \"C\"",
    )
    .fetch_all(store.pool())
    .await?;
    let mut nodes = Vec::with_capacity(rows.len());
    for r in rows {
        nodes.push(NodeFigures {
            node: r.try_get(0)?,
            events: r.try_get::<i64, _>(1)?.max(0) as u64,
            shipped: r.try_get::<i64, _>(2)?.max(0) as u64,
            last_seen_ms: r.try_get(3)?,
        });
    }
    let rows = sqlx::query(
        "SELECT s, count(*)::int8 FROM (SELECT id, max(severity) AS s FROM alerts GROUP BY id) a \
         GROUP BY s ORDER BY s",
    )
    .fetch_all(store.pool())
    .await?;
    let mut alerts = Vec::with_capacity(rows.len());
    for r in rows {
        alerts.push((r.try_get(0)?, r.try_get::<i64, _>(1)?.max(0) as u64));
    }
    Ok((nodes, alerts))
}
