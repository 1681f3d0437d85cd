//! The writer's dictionary ids: events map to integer ids (strings, kinds, actors,
//! containers, attributions) through in-memory caches; misses are resolved with bulk
//! `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`.

use foldhash::{HashMap, HashSet};
use parsers::{Attribution, ContainerInfo, Event};
use sqlx::sqlite::{SqliteArguments, SqliteConnection};
use sqlx::Row as _;

use super::codec::{add, opt_u32, placeholders, source_code, stored_serial, MAX_PARAMS, SIG_NONE};
use crate::pipeline::{Item, SourceKind, StoreBatch};
use crate::store::StoreError;

pub(super) const EVENT_COLS: usize = 8;
/// Dictionary caches are cleared when they grow past this (they refill from the database).
const CACHE_CAP: usize = 200_000;

type KindKey = [i64; 5];
/// In the order of the UNIQUE constraint: comm, exe, uid, gid, auid, ses, subj.
type ActorKey = [i64; 7];
/// source, container, unit, workload, attributed, profile (in-memory id, 0 = none).
type AttribKey = [i64; 6];

/// One event mapped to ids, ready to insert.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct EvRow {
    pub(super) time_ms: i64,
    pub(super) serial: i64,
    pub(super) node: i64,
    pub(super) kind: i64,
    pub(super) actor: i64,
    pub(super) pid: i64,
    pub(super) ip: Option<i64>,
    pub(super) attrib: i64,
    pub(super) batch: u32,
    pub(super) item: u32,
}

impl EvRow {
    pub(super) fn key(&self) -> (i64, i64, i64) {
        (self.time_ms, self.serial, self.node)
    }
}

/// The dictionary caches of the writer: value to id.
#[derive(Default)]
pub(super) struct Caches {
    strings: HashMap<String, i64>,
    kinds: HashMap<KindKey, i64>,
    actors: HashMap<ActorKey, i64>,
    containers: HashMap<ContainerInfo, i64>,
    attribs: HashMap<AttribKey, i64>,
    /// Profile hash to a process-local id (attribution keys stay integers).
    profile_ids: HashMap<String, i64>,
    profile_hashes: Vec<String>,
    /// Profiles known to be stored.
    pub(super) profiles_stored: HashSet<String>,
}

impl Caches {
    pub(super) fn trim(&mut self) {
        if self.strings.len() > CACHE_CAP {
            self.strings.clear();
        }
        if self.kinds.len() > CACHE_CAP {
            self.kinds.clear();
        }
        if self.actors.len() > CACHE_CAP {
            self.actors.clear();
        }
        if self.containers.len() > CACHE_CAP {
            self.containers.clear();
        }
        if self.attribs.len() > CACHE_CAP {
            self.attribs.clear();
        }
        if self.profiles_stored.len() > CACHE_CAP {
            self.profiles_stored.clear();
        }
    }

    pub(super) fn sid(&self, s: Option<&str>) -> Option<i64> {
        match s {
            None => Some(0),
            Some(s) => self.strings.get(s).copied(),
        }
    }

    fn profile_id(&mut self, hash: Option<&str>) -> i64 {
        let Some(h) = hash else { return 0 };
        if let Some(&id) = self.profile_ids.get(h) {
            return id;
        }
        self.profile_hashes.push(h.to_string());
        let id = self.profile_hashes.len() as i64;
        self.profile_ids.insert(h.to_string(), id);
        id
    }

    fn kind_key(e: &Event) -> KindKey {
        [
            i64::from(e.audit_arch),
            e.syscall_nr,
            i64::from(e.code),
            i64::from(e.compat),
            e.sig.map_or(SIG_NONE, i64::from),
        ]
    }

    fn actor_key(&self, e: &Event) -> Option<ActorKey> {
        Some([
            self.sid(e.comm.as_deref())?,
            self.sid(e.exe.as_deref())?,
            opt_u32(e.uid),
            opt_u32(e.gid),
            opt_u32(e.auid),
            opt_u32(e.ses),
            self.sid(e.subj.as_deref())?,
        ])
    }

    fn container_id(&self, a: &Attribution) -> Option<i64> {
        match &a.container {
            None => Some(0),
            Some(c) => self.containers.get(c).copied(),
        }
    }

    fn attrib_key(&self, source: SourceKind, a: &Attribution) -> Option<AttribKey> {
        let profile = match a.profile_hash.as_deref() {
            None => 0,
            Some(h) => *self.profile_ids.get(h)?,
        };
        Some([
            source_code(source),
            self.container_id(a)?,
            self.sid(a.unit.as_deref())?,
            self.sid(Some(&a.workload))?,
            i64::from(a.attributed),
            profile,
        ])
    }

    /// The row of an item when every id it needs is cached.
    pub(super) fn map(&self, b: usize, i: usize, it: &Item) -> Option<EvRow> {
        let e = &it.event;
        Some(EvRow {
            time_ms: e.time_ms,
            serial: stored_serial(e),
            node: self.sid(e.node.as_deref())?,
            kind: *self.kinds.get(&Self::kind_key(e))?,
            actor: *self.actors.get(&self.actor_key(e)?)?,
            pid: i64::from(e.pid),
            ip: e.ip.map(|v| v as i64),
            attrib: *self
                .attribs
                .get(&self.attrib_key(it.source, &it.attribution)?)?,
            batch: b as u32,
            item: i as u32,
        })
    }
}

/// Resolves strings to ids (inserting the new ones).
async fn resolve_strings(
    conn: &mut SqliteConnection,
    caches: &mut Caches,
    missing: Vec<String>,
) -> Result<(), StoreError> {
    for chunk in missing.chunks(1000) {
        let sql = format!(
            "INSERT INTO strings (s) VALUES {} ON CONFLICT (s) DO UPDATE SET s = excluded.s RETURNING id, s",
            placeholders(chunk.len(), 1)
        );
        let mut args = SqliteArguments::default();
        for s in chunk {
            add(&mut args, s.as_str())?;
        }
        let rows = sqlx::query_with(&sql, args)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?;
        for r in rows {
            caches.strings.insert(r.try_get(1)?, r.try_get(0)?);
        }
    }
    Ok(())
}

/// Resolves integer-tuple dictionary rows (kinds, actors) to ids.
async fn resolve_ints<const N: usize>(
    conn: &mut SqliteConnection,
    map: &mut HashMap<[i64; N], i64>,
    table: &str,
    cols: [&str; N],
    missing: Vec<[i64; N]>,
) -> Result<(), StoreError> {
    let list = cols.join(", ");
    for chunk in missing.chunks(MAX_PARAMS / N) {
        let sql = format!(
            "INSERT INTO {table} ({list}) VALUES {} ON CONFLICT ({list}) DO UPDATE SET {c} = excluded.{c} RETURNING id, {list}",
            placeholders(chunk.len(), N),
            c = cols[0]
        );
        let mut args = SqliteArguments::default();
        for k in chunk {
            for v in k {
                add(&mut args, *v)?;
            }
        }
        let rows = sqlx::query_with(&sql, args)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?;
        for r in rows {
            let mut k = [0i64; N];
            for (j, v) in k.iter_mut().enumerate() {
                *v = r.try_get(j + 1)?;
            }
            map.insert(k, r.try_get(0)?);
        }
    }
    Ok(())
}

async fn resolve_container(
    conn: &mut SqliteConnection,
    c: &ContainerInfo,
) -> Result<i64, StoreError> {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO containers (container_id, runtime, name, image, pod, namespace, pod_uid) \
         VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (container_id, runtime, name, image, pod, namespace, pod_uid) \
         DO UPDATE SET runtime = excluded.runtime RETURNING id",
    )
    .bind(&c.id)
    .bind(&c.runtime)
    .bind(o(&c.name))
    .bind(o(&c.image))
    .bind(o(&c.pod))
    .bind(o(&c.namespace))
    .bind(o(&c.pod_uid))
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

async fn resolve_attrib(
    conn: &mut SqliteConnection,
    caches: &Caches,
    k: &AttribKey,
) -> Result<i64, StoreError> {
    let profile = match k[5] {
        0 => String::new(),
        n => caches
            .profile_hashes
            .get((n - 1) as usize)
            .cloned()
            .unwrap_or_default(),
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO attributions (source, container, unit, workload, attributed, profile_hash) \
         VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (source, container, unit, workload, attributed, profile_hash) \
         DO UPDATE SET source = excluded.source RETURNING id",
    )
    .bind(k[0])
    .bind(k[1])
    .bind(k[2])
    .bind(k[3])
    .bind(k[4])
    .bind(profile)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Fills the caches with every id the items of `batches` need (the slow path, taken when a
/// batch holds something new).
pub(super) async fn resolve_all(
    conn: &mut SqliteConnection,
    caches: &mut Caches,
    batches: &[StoreBatch],
    misses: &[(u32, u32)],
) -> Result<(), StoreError> {
    let items = || {
        misses.iter().filter_map(|&(b, i)| {
            batches
                .get(b as usize)
                .and_then(|b| b.items.get(i as usize))
        })
    };
    // Profiles get their in-memory ids first.
    for it in items() {
        caches.profile_id(it.attribution.profile_hash.as_deref());
    }
    // 1. strings.
    let mut missing: HashSet<&str> = HashSet::default();
    for it in items() {
        let e = &it.event;
        let a = &it.attribution;
        for s in [
            e.node.as_deref(),
            e.comm.as_deref(),
            e.exe.as_deref(),
            e.subj.as_deref(),
            a.unit.as_deref(),
            Some(&a.workload),
        ]
        .into_iter()
        .flatten()
        {
            if !caches.strings.contains_key(s) {
                missing.insert(s);
            }
        }
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing.into_iter().map(str::to_string).collect();
        resolve_strings(conn, caches, list).await?;
    }
    // 2. containers.
    let mut new_containers: Vec<&ContainerInfo> = Vec::new();
    for it in items() {
        if let Some(c) = &it.attribution.container {
            if !caches.containers.contains_key(c) && !new_containers.contains(&c) {
                new_containers.push(c);
            }
        }
    }
    for c in new_containers {
        let id = resolve_container(conn, c).await?;
        caches.containers.insert(c.clone(), id);
    }
    // 3. kinds, actors and attributions.
    let mut kinds: HashSet<KindKey> = HashSet::default();
    let mut actors: HashSet<ActorKey> = HashSet::default();
    let mut attribs: HashSet<AttribKey> = HashSet::default();
    for it in items() {
        let k = Caches::kind_key(&it.event);
        if !caches.kinds.contains_key(&k) {
            kinds.insert(k);
        }
        let a = caches
            .actor_key(&it.event)
            .ok_or_else(|| StoreError::Corrupt("unresolved actor string".into()))?;
        if !caches.actors.contains_key(&a) {
            actors.insert(a);
        }
        let t = caches
            .attrib_key(it.source, &it.attribution)
            .ok_or_else(|| StoreError::Corrupt("unresolved attribution".into()))?;
        if !caches.attribs.contains_key(&t) {
            attribs.insert(t);
        }
    }
    if !kinds.is_empty() {
        resolve_ints(
            conn,
            &mut caches.kinds,
            "kinds",
            ["arch", "syscall_nr", "code", "compat", "sig"],
            kinds.into_iter().collect(),
        )
        .await?;
    }
    if !actors.is_empty() {
        resolve_ints(
            conn,
            &mut caches.actors,
            "actors",
            ["comm", "exe", "uid", "gid", "auid", "ses", "subj"],
            actors.into_iter().collect(),
        )
        .await?;
    }
    for k in attribs {
        let id = resolve_attrib(conn, caches, &k).await?;
        caches.attribs.insert(k, id);
    }
    Ok(())
}

/// Maps every item to a row; the items whose ids are not all cached get a placeholder
/// row and are listed in `misses`.
pub(super) fn map_all(
    caches: &Caches,
    batches: &[StoreBatch],
    rows: &mut Vec<EvRow>,
    misses: &mut Vec<(u32, u32)>,
) {
    rows.clear();
    misses.clear();
    for (b, batch) in batches.iter().enumerate() {
        for (i, it) in batch.items.iter().enumerate() {
            match caches.map(b, i, it) {
                Some(r) => rows.push(r),
                None => {
                    misses.push((b as u32, i as u32));
                    rows.push(EvRow {
                        kind: -1,
                        ..EvRow::default()
                    });
                }
            }
        }
    }
}
