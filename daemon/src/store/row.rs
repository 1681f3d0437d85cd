//! The stored form of an event that every backend shares (the central schema copies the
//! node's dictionaries as they are): the sentinels of absent values, the source codes, and
//! one stored event row decoded into a [`StoredEvent`]. A backend reads its row's columns
//! into an [`EventRow`]; what the values mean is decided here, once.

use parsers::{Attribution, ContainerInfo, Event};

use crate::pipeline::{Item, SourceKind};
use crate::store::{EventCursor, StoreError, StoredEvent};

/// The stored value of an absent `sig=`.
pub const SIG_NONE: i64 = -(1 << 32);

/// The stored code of a source.
pub fn source_code(s: SourceKind) -> i64 {
    match s {
        SourceKind::Netlink => 0,
        SourceKind::AuditLog => 1,
        SourceKind::Kmsg => 2,
        SourceKind::Ingest => 3,
    }
}

/// The source of a stored code.
pub fn source_of(code: i64) -> Result<SourceKind, StoreError> {
    Ok(match code {
        0 => SourceKind::Netlink,
        1 => SourceKind::AuditLog,
        2 => SourceKind::Kmsg,
        3 => SourceKind::Ingest,
        n => return Err(StoreError::Corrupt(format!("unknown source {n}"))),
    })
}

/// A stored id or number that is -1 (or any value outside u32) when absent.
pub fn u32_opt(v: i64) -> Option<u32> {
    u32::try_from(v).ok()
}

/// A dictionary text that is `''` when unknown.
pub fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// One stored event's columns as the backend read them, in stored form.
#[derive(Debug)]
pub struct EventRow {
    pub cursor: EventCursor,
    pub pid: i64,
    pub ip: Option<i64>,
    pub record_node: Option<String>,
    pub arch: i64,
    pub syscall_nr: i64,
    pub code: i64,
    pub compat: bool,
    pub sig: i64,
    pub uid: i64,
    pub gid: i64,
    pub auid: i64,
    pub ses: i64,
    pub comm: Option<String>,
    pub exe: Option<String>,
    pub subj: Option<String>,
    pub source: i64,
    pub attributed: bool,
    pub profile_hash: String,
    pub unit: Option<String>,
    pub workload: Option<String>,
    /// `None` when the event ran in no container.
    pub container_id: Option<String>,
    /// NOT NULL in a joined container row; `None` only without a container.
    pub runtime: Option<String>,
    pub name: Option<String>,
    pub image: Option<String>,
    pub pod: Option<String>,
    pub namespace: Option<String>,
    pub pod_uid: Option<String>,
}

impl EventRow {
    /// The event the row stores.
    pub fn into_stored(self) -> Result<StoredEvent, StoreError> {
        let event = Event {
            time_ms: self.cursor.time_ms,
            serial: u64::try_from(self.cursor.serial).ok(),
            node: self.record_node,
            audit_arch: self.arch as u32,
            syscall_nr: self.syscall_nr,
            code: self.code as u32,
            pid: self.pid as u32,
            uid: u32_opt(self.uid),
            gid: u32_opt(self.gid),
            auid: u32_opt(self.auid),
            ses: u32_opt(self.ses),
            comm: self.comm,
            exe: self.exe,
            subj: self.subj,
            sig: (self.sig != SIG_NONE).then_some(self.sig as i32),
            compat: self.compat,
            ip: self.ip.map(|v| v as u64),
            synthetic_key: None,
        };
        let container = self.container_id.map(|id| ContainerInfo {
            id,
            runtime: self.runtime.unwrap_or_default(),
            name: nonempty(self.name),
            image: nonempty(self.image),
            pod: nonempty(self.pod),
            namespace: nonempty(self.namespace),
            pod_uid: nonempty(self.pod_uid),
        });
        let attribution = Attribution {
            container,
            unit: self.unit,
            workload: self.workload.unwrap_or_default(),
            attributed: self.attributed,
            profile_hash: (!self.profile_hash.is_empty()).then_some(self.profile_hash),
        };
        Ok(StoredEvent {
            cursor: self.cursor,
            item: Item {
                event,
                source: source_of(self.source)?,
                attribution,
            },
        })
    }
}
