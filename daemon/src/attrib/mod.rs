//! Attribution: which container, pod, systemd unit and workload made each syscall.
//!
//! A SECCOMP record names a pid, not a container. [`Attributor`] (the pipeline's
//! [`Enricher`]) resolves it, never guessing:
//!
//! 1. **pid -> cgroup.** The pid table ([`table`]) holds every known incarnation of a pid
//!    (start, exit, cgroup). A record at time T is matched to the incarnation that held the
//!    pid at T, so a reused pid is never attributed to its old owner. The table is kept
//!    current by the proc connector ([`connector`], fork/exec/exit, needs CAP_NET_ADMIN;
//!    start it with [`Attributor::spawn_proc_connector`]) and by `/proc/PID/stat` +
//!    `/proc/PID/cgroup` reads ([`procfs`]) when a record arrives. With the connector, a
//!    known process costs no file read at all; without it, one `stat` read per pid and
//!    batch. When a pid is gone and unknown, the attributor first lets the connector catch
//!    up (bounded wait), then gives up.
//! 2. **MCS.** The SELinux categories of `subj` ([`mcs`]) map to the containers that hold
//!    them; a record whose pid cannot be resolved uses them when exactly one container,
//!    alive when the record was written, holds the label (gone containers expire).
//! 3. **cgroup -> container** ([`parsers::cgroup`]), then **container -> metadata**
//!    ([`runtime`]: name, image, pod, namespace, applied seccomp profile) from the runtimes'
//!    files, cached per container id.
//! 4. **Workload** ([`parsers::workload::workload_key`]).
//!
//! Unresolved records get `attributed = false` and the `exe:` workload. Every record is
//! counted in `seccomp_watch_attribution_total{outcome, method}`: outcome `resolved`,
//! `unresolved` or `skipped` (not live: historical imports are not looked up in `/proc`);
//! method `procfs`, `connector`, `mcs` or `none`. With [`Attributor::from_config`] (or
//! [`Attributor::check_nodes`]), records of another host (a `node=` that is not one of this
//! host's names: forwarded audit logs) are never looked up here and count as `skipped`.
//!
//! # When a cgroup is trusted
//!
//! Runtimes move a process they start into the container's cgroup shortly after starting
//! it: runc moves its `runc init` right after that exec (for `run`), and the command's
//! process before its exec (for `exec`). A cgroup read at or after a process's exec, or at
//! least [`table::SETTLE_MS`] after its start, is final (`runc init` is the exception, but
//! it logs nothing itself and its children are read when they fork); a read at fork is
//! provisional (read again when a record of the still-running process comes). A process
//! that exec'd and was gone before the listener read it again is *stale* and left
//! unresolved, unless its parent's cgroup was final when it forked (a plain child stays
//! where it was forked: the `uname` run by a container's shell). In practice short commands
//! run by a shell (or any other process) are resolved; the first process a runtime starts
//! in a container is resolved when it outlives the listener's delay ([`AttribStats`]
//! `connector_lag_*`: well under a millisecond on an idle host; the listener runs at nice
//! -10).

pub mod bolt;
pub mod connector;
pub mod mcs;
pub mod procfs;
pub mod runtime;
pub mod table;

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use parsers::cgroup::{below_user_manager, unit_of_path, user_manager_of_path};
use parsers::cgroup::{parse_proc_cgroup, CgroupAttribution};
use parsers::workload::{
    container_workload_key, user_unit_key, workload_key, Attribution, ContainerInfo,
    ContainerKeying, WorkloadHints,
};
use parsers::Event;

use crate::config::AttributionConfig;
use crate::metrics::metrics;
use crate::pipeline::{Enricher, Item, ProfileBlob, SourceBatch, SourceKind, StoreBatch};

pub use connector::ProcConnector;
use procfs::{boot_offset_ms, now_ms, ProcFs, Stat};
use runtime::{ContainerMeta, MetaCache};
use table::{Incarnation, Limits, Lookup, Origin, PidMap, PidTable, SETTLE_MS, START_SLACK_MS};

/// Errors of attribution's setup.
#[derive(Debug, thiserror::Error)]
pub enum AttribError {
    #[error("proc connector: {what}: {source}")]
    Connector {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("attribution is disabled")]
    Disabled,
}

/// How a record was resolved (the `method` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `/proc` was read when the record was handled (the process was alive).
    Procfs,
    /// The pid table kept by the proc connector knew the process.
    Connector,
    /// The SELinux MCS categories of `subj`.
    Mcs,
    /// Not resolved.
    None,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Procfs, Method::Connector, Method::Mcs, Method::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Procfs => "procfs",
            Method::Connector => "connector",
            Method::Mcs => "mcs",
            Method::None => "none",
        }
    }

    fn of(origin: Origin) -> Method {
        match origin {
            Origin::Procfs => Method::Procfs,
            Origin::Connector => Method::Connector,
        }
    }
}

/// Cgroup files of distinct contents remembered (parsed once each).
const MAX_CGROUPS: usize = 16_384;
/// How long a record handler waits for the connector to catch up (one wait covers every
/// record written before it).
const SYNC_WAIT: Duration = Duration::from_millis(100);

/// The connector's status, shared with the attributor.
pub(crate) struct ConnStatus {
    running: AtomicBool,
    /// Grows each time events were lost (ENOBUFS).
    epoch: AtomicU64,
    lost: AtomicU64,
    events: AtomicU64,
    /// Fork and exec events handled, how many of them later than 1 ms after the event,
    /// and the largest delay (microseconds).
    lag_events: AtomicU64,
    lag_over_1ms: AtomicU64,
    lag_max_us: AtomicU64,
    /// Realtime ms up to which every queued event has been handled.
    caught_up: Mutex<i64>,
    cv: Condvar,
    wake: Option<OwnedFd>,
}

impl ConnStatus {
    fn running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    fn wake_fd(&self) -> RawFd {
        self.wake.as_ref().map_or(-1, |f| f.as_raw_fd())
    }

    fn wake(&self) {
        if let Some(fd) = &self.wake {
            let one = 1u64.to_ne_bytes();
            // SAFETY: valid eventfd and an 8-byte buffer.
            unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), 8) };
        }
    }

    /// Records how long after the kernel's event it was handled.
    fn lag(&self, ns: i64) {
        let us = u64::try_from(ns / 1000).unwrap_or(0);
        self.lag_events.fetch_add(1, Ordering::Relaxed);
        if us > 1000 {
            self.lag_over_1ms.fetch_add(1, Ordering::Relaxed);
        }
        self.lag_max_us.fetch_max(us, Ordering::Relaxed);
    }

    fn notify_caught_up(&self, t: i64) {
        if let Ok(mut g) = self.caught_up.lock() {
            *g = (*g).max(t);
        }
        self.cv.notify_all();
    }

    /// Asks the listener to handle everything queued and waits (bounded) until it has.
    /// Returns the realtime the request was made at (records written before it are
    /// covered), and whether the listener caught up in time.
    fn sync(&self) -> (i64, bool) {
        let req = now_ms();
        if !self.running() || self.wake.is_none() {
            return (req, false);
        }
        self.wake();
        let Ok(mut g) = self.caught_up.lock() else {
            return (req, false);
        };
        let deadline = std::time::Instant::now() + SYNC_WAIT;
        while *g < req {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return (req, false);
            }
            match self.cv.wait_timeout(g, left) {
                Ok((ng, _)) => g = ng,
                Err(_) => return (req, false),
            }
        }
        (req, true)
    }
}

/// The pid table and the parsed cgroup files.
pub(crate) struct State {
    table: PidTable,
    cgroups: HashMap<Box<str>, Arc<CgroupAttribution>>,
}

/// What the attributor and the connector thread share.
pub(crate) struct Shared {
    procfs: ProcFs,
    state: Mutex<State>,
    conn: ConnStatus,
    /// Realtime minus boottime (ms), refreshed by the attributor.
    boot_offset: AtomicU64,
}

impl Shared {
    /// The parsed form of a `/proc/PID/cgroup` text, parsed once per distinct text.
    fn intern(&self, text: &str) -> Arc<CgroupAttribution> {
        if let Ok(st) = self.state.lock() {
            if let Some(a) = st.cgroups.get(text) {
                return a.clone();
            }
        }
        let parsed = Arc::new(parse_proc_cgroup(text));
        if let Ok(mut st) = self.state.lock() {
            if st.cgroups.len() >= MAX_CGROUPS {
                st.cgroups.clear();
            }
            st.cgroups.insert(text.into(), parsed.clone());
        }
        parsed
    }

    fn boot_offset(&self) -> i64 {
        self.boot_offset.load(Ordering::Relaxed) as i64
    }

    /// The realtime start of the process holding `pid` now.
    fn start_ms(&self, pid: u32) -> Option<i64> {
        let st = self.procfs.stat(pid)?;
        Some(self.procfs.ticks_to_ms(st.start_ticks, self.boot_offset()))
    }
}

/// Counters of the work attribution did (for tests, the bench and debugging).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttribStats {
    /// `/proc/PID/stat` reads by the attributor.
    pub stat_reads: u64,
    /// `/proc/PID/cgroup` reads by the attributor.
    pub cgroup_reads: u64,
    /// Runtime metadata lookups (a new container id, or a retry).
    pub meta_reads: u64,
    /// Waits for the connector to catch up.
    pub syncs: u64,
    /// Connector events received, and overflows (events lost).
    pub connector_events: u64,
    pub connector_overflows: u64,
    /// Fork/exec events the listener handled, those handled more than 1 ms late (a process
    /// living less than that may be gone before its cgroup is read), and the worst delay.
    pub connector_lag_events: u64,
    pub connector_lag_over_1ms: u64,
    pub connector_lag_max_us: u64,
    /// Pids in the table.
    pub table_pids: usize,
}

/// A `/proc` read remembered for records older than the read.
#[derive(Clone)]
struct Memo {
    read_ms: i64,
    stat: Option<Stat>,
    cgroup: Option<Arc<CgroupAttribution>>,
}

/// A container's attribution, built once per container (and metadata version).
struct Built {
    meta: Option<Arc<ContainerMeta>>,
    info: ContainerInfo,
    workload: String,
    profile: Option<Arc<ProfileBlob>>,
}

/// Attributes events to containers, pods, units and workloads. Construct with
/// [`Attributor::new`]; start the proc connector with [`Attributor::spawn_proc_connector`]
/// (keep the returned handle alive); use it as the pipeline's [`Enricher`].
pub struct Attributor {
    cfg: AttributionConfig,
    shared: Arc<Shared>,
    meta: MetaCache,
    built: HashMap<String, Built>,
    mcs: mcs::McsMap,
    /// Profile hashes already handed to the store, and those waiting to be.
    emitted: HashSet<String>,
    new_profiles: Vec<ProfileBlob>,
    memo: PidMap<Memo>,
    /// Records written before this realtime need no further wait for the connector.
    synced_to: i64,
    /// Realtime ms of the batch (or event) being handled.
    now: i64,
    stats: AttribStats,
    last_sweep: i64,
    /// What this host's records may carry in `node=`; records of other nodes (forwarded to
    /// this host's audit.log) are not looked up here. `None`: every record is this host's.
    local_nodes: Option<HashSet<String>>,
    /// Foreign node names already warned about.
    warned_nodes: HashSet<String>,
    /// Unconfirmed container cgroups already warned about.
    warned_cgroups: HashSet<String>,
}

impl Attributor {
    pub fn new(cfg: &AttributionConfig) -> Attributor {
        if cfg.enabled {
            // The outcomes at 0 from start, so that the dashboard's unattributed share and
            // the SeccompWatchUnattributedHigh rule see 0, not "no data", before the first
            // unresolved record.
            for (outcome, methods) in [
                (
                    "resolved",
                    &[Method::Procfs, Method::Connector, Method::Mcs][..],
                ),
                ("unresolved", &[Method::None][..]),
                ("skipped", &[Method::None][..]),
            ] {
                for m in methods {
                    metrics()
                        .attribution
                        .with_label_values(&[outcome, m.as_str()]);
                }
            }
        }
        let shared = Arc::new(Shared {
            procfs: ProcFs::new(&cfg.proc_root),
            state: Mutex::new(State {
                table: PidTable::new(Limits::default()),
                cgroups: HashMap::new(),
            }),
            conn: ConnStatus {
                running: AtomicBool::new(false),
                epoch: AtomicU64::new(0),
                lost: AtomicU64::new(0),
                events: AtomicU64::new(0),
                lag_events: AtomicU64::new(0),
                lag_over_1ms: AtomicU64::new(0),
                lag_max_us: AtomicU64::new(0),
                caught_up: Mutex::new(i64::MIN),
                cv: Condvar::new(),
                wake: connector::eventfd(),
            },
            boot_offset: AtomicU64::new(boot_offset_ms() as u64),
        });
        Attributor {
            cfg: cfg.clone(),
            shared,
            meta: MetaCache::new(cfg, 4096),
            built: HashMap::new(),
            mcs: mcs::McsMap::new(16_384),
            emitted: HashSet::new(),
            new_profiles: Vec::new(),
            memo: PidMap::default(),
            synced_to: i64::MIN,
            now: now_ms(),
            stats: AttribStats::default(),
            last_sweep: now_ms(),
            local_nodes: None,
            warned_nodes: HashSet::new(),
            warned_cgroups: HashSet::new(),
        }
    }

    /// Starts the proc connector listener thread that keeps this attributor's pid table
    /// current. Errors (no CAP_NET_ADMIN, no proc connector in the kernel) leave attribution
    /// working from `/proc` alone. Dropping the handle stops the thread.
    pub fn spawn_proc_connector(&self) -> Result<ProcConnector, AttribError> {
        if !self.cfg.enabled || !self.cfg.proc_connector {
            return Err(AttribError::Disabled);
        }
        connector::spawn(self.shared.clone())
    }

    /// Whether the proc connector listener is running.
    pub fn connector_running(&self) -> bool {
        self.shared.conn.running()
    }

    /// Counters of the work done so far.
    pub fn stats(&self) -> AttribStats {
        let mut s = self.stats;
        s.meta_reads = self.meta.reads;
        s.connector_events = self.shared.conn.events.load(Ordering::Relaxed);
        s.connector_overflows = self.shared.conn.lost.load(Ordering::Relaxed);
        s.connector_lag_events = self.shared.conn.lag_events.load(Ordering::Relaxed);
        s.connector_lag_over_1ms = self.shared.conn.lag_over_1ms.load(Ordering::Relaxed);
        s.connector_lag_max_us = self.shared.conn.lag_max_us.load(Ordering::Relaxed);
        s.table_pids = self
            .shared
            .state
            .lock()
            .map(|st| st.table.len())
            .unwrap_or(0);
        s
    }

    /// The profiles seen for the first time since the last call (each hash once per
    /// attributor's lifetime).
    pub fn take_new_profiles(&mut self) -> Vec<ProfileBlob> {
        std::mem::take(&mut self.new_profiles)
    }

    /// Attributes one event. `live`: the event comes from a live source (its pid may still be
    /// running or have just exited); otherwise `/proc` is not consulted.
    pub fn attribute(&mut self, ev: &Event, live: bool) -> (Attribution, Method) {
        self.now = now_ms();
        self.attribute_now(ev, live)
    }

    /// [`Attributor::attribute`] with `self.now` already set.
    fn attribute_now(&mut self, ev: &Event, live: bool) -> (Attribution, Method) {
        if !self.cfg.enabled || !self.is_local(ev) {
            return (Attribution::unattributed(ev.exe.as_deref()), Method::None);
        }
        let key = ev.subj.as_deref().and_then(mcs::mcs_key);
        if live {
            if let Some((cg, method)) = self.resolve_pid(ev.pid, ev.time_ms) {
                if let Some(k) = key {
                    self.mcs.learn(k, &cg, ev.time_ms, self.now);
                }
                return (self.build(&cg, ev.exe.as_deref()), method);
            }
        }
        let (now, procfs) = (self.now, &self.shared.procfs);
        if let Some(cg) = key.and_then(|k| self.mcs.resolve(k, ev.time_ms, now, procfs)) {
            return (self.build(&cg, ev.exe.as_deref()), Method::Mcs);
        }
        (Attribution::unattributed(ev.exe.as_deref()), Method::None)
    }

    /// Only records of this host are looked up: those without `node=`, or with one of this
    /// host's names (the host name, its short form, the local interfaces' addresses, and
    /// those added with [`Attributor::add_local_node`]). Records forwarded from other hosts
    /// are then left unattributed instead of being matched against local pids.
    pub fn check_nodes(&mut self) {
        self.local_nodes.get_or_insert_with(local_node_names);
    }

    /// Adds a name this host's records carry in `node=` (the config's `node`, or auditd's
    /// `name_format = user` name), and turns on [`Attributor::check_nodes`].
    pub fn add_local_node(&mut self, name: &str) {
        self.local_nodes
            .get_or_insert_with(local_node_names)
            .insert(name.to_ascii_lowercase());
    }

    /// The attributor of the daemon's configuration: [`Attributor::new`] with
    /// [`Attributor::check_nodes`], the config's `node` being one of this host's names.
    pub fn from_config(cfg: &crate::config::Config) -> Attributor {
        let mut a = Attributor::new(&cfg.attribution);
        a.check_nodes();
        if let Some(n) = &cfg.node {
            a.add_local_node(n);
        }
        a
    }

    fn node_is_local(&self, node: &str) -> bool {
        match &self.local_nodes {
            None => true,
            Some(l) => l.contains(node) || l.contains(&node.to_ascii_lowercase()),
        }
    }

    /// Whether `ev` was written on this host (no `node=`, or one of this host's names).
    fn is_local(&mut self, ev: &Event) -> bool {
        let Some(node) = ev.node.as_deref() else {
            return true;
        };
        if self.node_is_local(node) {
            return true;
        }
        if self.warned_nodes.len() < 64 && self.warned_nodes.insert(node.to_string()) {
            tracing::warn!(
                "records of node {node:?} are another host's: not attributed here (if it is this \
                 host, set `node = {node:?}` in the config)"
            );
        }
        false
    }

    /// The cgroup of the process that held `pid` at realtime `t`.
    fn resolve_pid(&mut self, pid: u32, t: i64) -> Option<(Arc<CgroupAttribution>, Method)> {
        let conn_on = self.shared.conn.running();
        let mut synced = false;
        loop {
            let epoch = self.shared.conn.epoch.load(Ordering::SeqCst);
            let now = self.now;
            let found = match self.shared.state.lock() {
                Ok(mut st) => st.table.lookup(pid, t, now),
                Err(_) => Lookup::NotFound,
            };
            let trusted = |i: &Incarnation| conn_on && i.epoch == epoch;
            let known = match found {
                Lookup::Ambiguous => return None,
                Lookup::Found(inc) => {
                    if !inc.stale && (inc.exit_ms.is_some() || (trusted(&inc) && inc.settled)) {
                        return Some((inc.cgroup, Method::of(inc.origin)));
                    }
                    Some(inc)
                }
                Lookup::NotFound => None,
            };
            if let Some(r) = self.resolve_from_proc(pid, t, known.as_ref(), epoch, now) {
                return Some(r);
            }
            // The record's process is gone (or the pid is held by a newer process).
            // One wait covers every record written before it (the record clock is coarse).
            if conn_on && !synced && t + START_SLACK_MS > self.synced_to {
                synced = true;
                self.stats.syncs += 1;
                let (covered, ok) = self.shared.conn.sync();
                self.synced_to = covered;
                if ok {
                    continue;
                }
            }
            // An open incarnation the connector learned with no event lost since (its exit
            // is merely not handled yet), or one seen alive after the record was written.
            return known
                .filter(|i| !i.stale && (trusted(i) || t <= i.seen_ms))
                .map(|i| (i.cgroup.clone(), Method::of(i.origin)));
        }
    }

    /// Asks `/proc` who holds `pid` now; the answer if that process made the record at `t`.
    fn resolve_from_proc(
        &mut self,
        pid: u32,
        t: i64,
        known: Option<&Incarnation>,
        epoch: u64,
        now: i64,
    ) -> Option<(Arc<CgroupAttribution>, Method)> {
        let (read_ms, stat) = self.proc_stat(pid, t);
        let stat = stat?;
        let start = self
            .shared
            .procfs
            .ticks_to_ms(stat.start_ticks, self.shared.boot_offset());
        if start - START_SLACK_MS > t {
            return None; // a newer process holds the pid
        }
        // The current holder started before the record: it made it.
        let tol = self.shared.procfs.tick_ms() + 5;
        let same = known.filter(|i| (i.start_ms - start).abs() <= tol);
        if let Some(inc) = same.filter(|i| i.settled) {
            if let Ok(mut st) = self.shared.state.lock() {
                st.table.confirm(pid, inc.start_ms, epoch, read_ms);
            }
            return Some((inc.cgroup.clone(), Method::of(inc.origin)));
        }
        let cgroup = self.proc_cgroup(pid, t, stat)?;
        let origin = same.map_or(Origin::Procfs, |i| i.origin);
        if let Ok(mut st) = self.shared.state.lock() {
            st.table.observe(
                pid,
                Incarnation {
                    start_ms: same.map_or(start, |i| i.start_ms),
                    exit_ms: None,
                    cgroup: cgroup.clone(),
                    // Read after an exec (a stale entry), or long after the start: final.
                    settled: read_ms - start >= SETTLE_MS || same.is_some_and(|i| i.stale),
                    stale: false,
                    from_settled: false,
                    origin,
                    epoch,
                    used_ms: now,
                    seen_ms: read_ms,
                },
                tol,
            );
        }
        Some((cgroup, Method::of(origin)))
    }

    /// `/proc/PID/stat` as of a read at or after `t` (realtime ms of the read, and the
    /// stat): reads are remembered and reused for records older than the read.
    fn proc_stat(&mut self, pid: u32, t: i64) -> (i64, Option<Stat>) {
        if let Some(m) = self.memo.get(&pid) {
            if t <= m.read_ms {
                return (m.read_ms, m.stat);
            }
        }
        if self.memo.len() >= 65_536 {
            self.memo.clear();
        }
        let read_ms = now_ms();
        self.stats.stat_reads += 1;
        let stat = self.shared.procfs.stat(pid);
        self.memo.insert(
            pid,
            Memo {
                read_ms,
                stat,
                cgroup: None,
            },
        );
        (read_ms, stat)
    }

    /// `/proc/PID/cgroup` of the process whose stat is `stat` (remembered like
    /// [`Attributor::proc_stat`]); `None` if the pid changed hands or is gone.
    fn proc_cgroup(&mut self, pid: u32, t: i64, stat: Stat) -> Option<Arc<CgroupAttribution>> {
        if let Some(m) = self.memo.get(&pid) {
            if t <= m.read_ms && m.stat == Some(stat) && m.cgroup.is_some() {
                return m.cgroup.clone();
            }
        }
        self.stats.cgroup_reads += 1;
        let text = self.shared.procfs.cgroup(pid)?;
        // The pid must not have changed hands between the reads.
        self.stats.stat_reads += 1;
        if self.shared.procfs.stat(pid) != Some(stat) {
            return None;
        }
        let cg = self.shared.intern(&text);
        if let Some(m) = self.memo.get_mut(&pid) {
            if m.stat == Some(stat) {
                m.cgroup = Some(cg.clone());
            }
        }
        Some(cg)
    }

    /// The attribution of a process in cgroup `cg`.
    fn build(&mut self, cg: &Arc<CgroupAttribution>, exe: Option<&str>) -> Attribution {
        let Some(c) = &cg.container else {
            return host_attribution(cg, exe);
        };
        use parsers::cgroup::Runtime;
        // A container shape below a user's own systemd manager is in a subtree that user
        // may write to: it can only be that user's rootless Podman, from that user's state.
        let rootless = user_manager_of_path(&cg.path);
        if rootless.is_some() && c.runtime != Runtime::Podman {
            return self.unconfirmed(cg, c, exe);
        }
        let key = match rootless {
            Some(u) => format!("{u}/{}", c.id),
            None => c.id.clone(),
        };
        // Known with metadata: nothing to look up. Otherwise (new, or metadata missing so
        // far) ask the metadata cache, which reads the runtimes' files at most once per
        // backoff period.
        let fresh = self.built.get(&key).is_some_and(|b| b.meta.is_some());
        if !fresh {
            let named = matches!(c.runtime, Runtime::Lxc | Runtime::Nspawn);
            let meta = if named {
                None
            } else {
                self.meta.get_for(rootless, &c.id)
            };
            let changed = match self.built.get(&key) {
                Some(b) => meta.is_some() || b.meta.is_some(),
                None => true,
            };
            if changed {
                let b = build_container(cg, c, meta, self.cfg.container_workload);
                if self.built.len() >= 4096 {
                    self.built.clear();
                }
                self.built.insert(key.clone(), b);
            }
        }
        let Some(b) = self.built.get(&key) else {
            return Attribution::unattributed(exe);
        };
        // Trust: the runtime's state must name this cgroup (LXC and nspawn have no state
        // read here; their shapes are trusted outside users' subtrees).
        let confirmed = match (&b.meta, c.runtime) {
            (_, Runtime::Lxc | Runtime::Nspawn) => rootless.is_none(),
            (None, _) => false,
            (Some(m), _) => match rootless {
                None => m.confirms(&cg.path),
                Some(_) => below_user_manager(&cg.path).is_some_and(|p| m.confirms(&p)),
            },
        };
        if !confirmed {
            return self.unconfirmed(cg, c, exe);
        }
        if rootless.is_some() && self.meta.get(&c.id).is_some() {
            // The id of a rootful runtime's container: never shared with a user's one.
            return self.unconfirmed(cg, c, exe);
        }
        let Some(b) = self.built.get(&key) else {
            return Attribution::unattributed(exe);
        };
        if let Some(p) = &b.profile {
            if self.emitted.insert(p.hash.clone()) {
                self.new_profiles.push((**p).clone());
            }
        }
        Attribution {
            container: Some(b.info.clone()),
            unit: None,
            workload: b.workload.clone(),
            attributed: true,
            profile_hash: b.profile.as_ref().map(|p| p.hash.clone()),
        }
    }

    /// The attribution of a process in a container-shaped cgroup that the runtime's state
    /// does not confirm: not that container; its unit (or executable), and a warning once.
    fn unconfirmed(
        &mut self,
        cg: &CgroupAttribution,
        c: &parsers::cgroup::ContainerRef,
        exe: Option<&str>,
    ) -> Attribution {
        if self.warned_cgroups.len() < 1024 && self.warned_cgroups.insert(cg.path.clone()) {
            tracing::warn!(
                "cgroup {} looks like {} container {} but {}'s state does not name this cgroup: not attributed to it",
                parsers::escape::escape(&cg.path),
                c.runtime,
                parsers::escape::escape(&c.id),
                c.runtime
            );
        }
        let unit = unit_of_path(&cg.path);
        let workload = match (user_manager_of_path(&cg.path), unit.as_deref()) {
            (Some(uid), Some(u)) => user_unit_key(uid, u),
            (_, u) => workload_key(None, u, exe),
        };
        Attribution {
            container: None,
            unit,
            workload,
            attributed: true,
            profile_hash: None,
        }
    }

    fn sweep(&mut self) {
        let now = now_ms();
        if now - self.last_sweep < 5000 {
            return;
        }
        self.last_sweep = now;
        self.shared
            .boot_offset
            .store(boot_offset_ms() as u64, Ordering::Relaxed);
        if !self.shared.conn.running() {
            if let Ok(mut st) = self.shared.state.lock() {
                st.table.sweep(now, None);
            }
        }
    }
}

/// The names this host's audit records may carry in `node=` (auditd's `name_format`:
/// `hostname`, `fqd` when the host name is the full one, `numeric`), lowercase.
fn local_node_names() -> HashSet<String> {
    let mut names = HashSet::new();
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its length.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let host = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        if let Some((short, _)) = host.split_once('.') {
            names.insert(short.to_string());
        }
        if !host.is_empty() {
            names.insert(host);
        }
    }
    let mut ifs: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `ifs` with a list we free below; each entry is read only
    // while the list is alive, and addresses are read according to their family.
    unsafe {
        if libc::getifaddrs(&mut ifs) == 0 {
            let mut cur = ifs;
            while !cur.is_null() {
                let sa = (*cur).ifa_addr;
                if !sa.is_null() {
                    match i32::from((*sa).sa_family) {
                        libc::AF_INET => {
                            let a = &*(sa as *const libc::sockaddr_in);
                            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                            names.insert(ip.to_string());
                        }
                        libc::AF_INET6 => {
                            let a = &*(sa as *const libc::sockaddr_in6);
                            names.insert(std::net::Ipv6Addr::from(a.sin6_addr.s6_addr).to_string());
                        }
                        _ => {}
                    }
                }
                cur = (*cur).ifa_next;
            }
            libc::freeifaddrs(ifs);
        }
    }
    names
}

/// The attribution of a process in no container: its unit (a user manager's unit keyed
/// with its user), else its executable.
fn host_attribution(cg: &CgroupAttribution, exe: Option<&str>) -> Attribution {
    let workload = match (cg.unit.as_deref(), cg.uid) {
        (Some(u), Some(uid)) if cg.in_user_manager() => user_unit_key(uid, u),
        (u, _) => workload_key(None, u, exe),
    };
    Attribution {
        container: None,
        unit: cg.unit.clone(),
        workload,
        attributed: true,
        profile_hash: None,
    }
}

/// The container's attribution from its cgroup and metadata.
fn build_container(
    cg: &CgroupAttribution,
    c: &parsers::cgroup::ContainerRef,
    meta: Option<Arc<ContainerMeta>>,
    keying: ContainerKeying,
) -> Built {
    use parsers::cgroup::Runtime;
    let m = meta.as_deref();
    // A bare id under a pod says "some CRI runtime": the files found say which.
    let runtime = match (c.runtime, m.and_then(|m| m.found_in)) {
        (Runtime::Cri, Some(found @ ("containerd" | "docker" | "cri-o"))) => found.to_string(),
        (rt, _) => rt.name().to_string(),
    };
    let named = matches!(c.runtime, Runtime::Lxc | Runtime::Nspawn);
    let info = ContainerInfo {
        id: c.id.clone(),
        runtime,
        name: m
            .and_then(|m| m.name.clone())
            .or_else(|| named.then(|| c.id.clone())),
        image: m.and_then(|m| m.image.clone()),
        pod: m.and_then(|m| m.pod.clone()),
        namespace: m.and_then(|m| m.namespace.clone()),
        pod_uid: m
            .and_then(|m| m.pod_uid.clone())
            .or_else(|| cg.pod_uid.clone()),
    };
    let hints = WorkloadHints {
        compose: m.and_then(|m| m.compose.clone()),
        rootless_uid: m.and_then(|m| m.rootless_uid),
    };
    let workload = container_workload_key(&info, &hints, keying);
    Built {
        profile: m.and_then(|m| m.profile.clone()),
        meta,
        info,
        workload,
    }
}

impl Enricher for Attributor {
    fn enrich(&mut self, batch: SourceBatch) -> StoreBatch {
        self.memo.clear();
        self.sweep();
        self.now = now_ms();
        let source = batch.source.unwrap_or(SourceKind::Ingest);
        let mut counts = [[0u64; 4]; 3];
        let mut items = Vec::with_capacity(batch.events.len());
        for event in batch.events {
            let (attribution, method) = self.attribute_now(&event, batch.live);
            if self.cfg.enabled {
                let outcome = if attribution.attributed {
                    0
                } else if batch.live
                    && !matches!(event.node.as_deref(), Some(n) if !self.node_is_local(n))
                {
                    1
                } else {
                    2
                };
                counts[outcome][method as usize] += 1;
            }
            items.push(Item {
                event,
                source,
                attribution,
            });
        }
        for (o, outcome) in ["resolved", "unresolved", "skipped"].iter().enumerate() {
            for m in Method::ALL {
                let n = counts[o][m as usize];
                if n > 0 {
                    metrics()
                        .attribution
                        .with_label_values(&[outcome, m.as_str()])
                        .inc_by(n);
                }
            }
        }
        StoreBatch {
            items,
            checkpoint: batch.checkpoint,
            profiles: self.take_new_profiles(),
            alerts: Vec::new(),
            losses: batch.losses,
            parse_errors: batch.parse_errors,
            source: batch.source,
        }
    }
}

#[cfg(test)]
mod tests;
