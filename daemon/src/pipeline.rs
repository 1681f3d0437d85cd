//! The types that flow from the sources through attribution to the one store writer.
//!
//! ```text
//! sources (netlink, audit.log tail, kmsg, ingest) --SourceBatch--> enrich (attribution,
//! rules) --StoreBatch--> writer task (one SQLite transaction per batch)
//! ```
//! Channels are bounded: a slow writer slows the sources (backpressure), it never makes
//! memory grow. A checkpoint travels with the events it covers and is committed in the
//! same transaction, so a crash can neither lose nor repeat a record.

use parsers::{Attribution, Event};

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    Netlink,
    AuditLog,
    Kmsg,
    Ingest,
}

impl SourceKind {
    pub const ALL: [SourceKind; 4] = [
        SourceKind::Netlink,
        SourceKind::AuditLog,
        SourceKind::Kmsg,
        SourceKind::Ingest,
    ];

    /// The name used in the database, JSON output and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Netlink => "netlink",
            SourceKind::AuditLog => "audit-log",
            SourceKind::Kmsg => "kmsg",
            SourceKind::Ingest => "ingest",
        }
    }

    pub fn parse(s: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Why records were lost (the `cause` label of the loss metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossCause {
    /// The netlink socket's receive buffer overflowed (ENOBUFS).
    Enobufs,
    /// The kernel's own `lost` counter (AUDIT_GET) grew.
    KernelLost,
    /// `kauditd_printk_skb: N callbacks suppressed` on the kmsg path.
    KmsgSuppressed,
    /// The audit.log tailer could not read part of a file (truncated under us, vanished).
    Tail,
}

impl LossCause {
    pub fn as_str(self) -> &'static str {
        match self {
            LossCause::Enobufs => "enobufs",
            LossCause::KernelLost => "kernel_lost",
            LossCause::KmsgSuppressed => "kmsg_suppressed",
            LossCause::Tail => "tail",
        }
    }
}

/// A position in a followed file, committed with the events read before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Which follower this is (e.g. `audit-log:/var/log/audit/audit.log`, or `ingest`).
    pub key: String,
    /// The file's path when the checkpoint was taken.
    pub path: String,
    pub dev: u64,
    pub ino: u64,
    /// A hash of the file's first line: tells a rotated file from a new one with a reused
    /// inode.
    pub fingerprint: u64,
    /// Byte offset just after the last complete line covered.
    pub offset: u64,
}

/// What a source hands on: parsed events, plus what it lost or could not parse.
#[derive(Debug, Default)]
pub struct SourceBatch {
    pub events: Vec<Event>,
    pub source: Option<SourceKind>,
    /// Set for events from a process that is still running or just ran (live sources):
    /// attribution looks them up. False for historical imports.
    pub live: bool,
    pub checkpoint: Option<Checkpoint>,
    pub losses: Vec<(LossCause, u64)>,
    pub parse_errors: u64,
}

/// One event ready to store.
#[derive(Debug, Clone)]
pub struct Item {
    pub event: Event,
    pub source: SourceKind,
    pub attribution: Attribution,
}

/// A seccomp profile captured by attribution, stored once by content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileBlob {
    /// SHA-256 of `json`, lowercase hex.
    pub hash: String,
    /// The profile as the runtime applied it (the `linux.seccomp` object of config.json).
    pub json: String,
}

/// What the writer commits in one transaction: events, the checkpoint that covers them,
/// the alerts they raised, profiles first seen, and counters.
#[derive(Debug, Default)]
pub struct StoreBatch {
    pub items: Vec<Item>,
    pub checkpoint: Option<Checkpoint>,
    pub profiles: Vec<ProfileBlob>,
    pub alerts: Vec<crate::alerts::AlertWrite>,
    pub losses: Vec<(LossCause, u64)>,
    pub parse_errors: u64,
    pub source: Option<SourceKind>,
}

/// The stage between the sources and the writer: attribution, then rules.
pub trait Enricher: Send {
    fn enrich(&mut self, batch: SourceBatch) -> StoreBatch;
}
