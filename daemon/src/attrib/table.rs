//! The pid table: every known incarnation of a pid (start, exit, cgroup), so that a record
//! is matched to the process that owned its pid *at the record's time*.
//!
//! Filled by the proc connector (fork, exec, exit) and by `/proc` reads when a record
//! arrives. An incarnation that exited stays for a grace period so late records resolve.
//! A pid's incarnations never overlap: a new one closes the previous.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use parsers::cgroup::CgroupAttribution;

/// Audit times are coarse (up to one jiffy behind) and `stat` starts are whole clock ticks
/// (10 ms): a record may carry a time up to this much before the start we know.
pub const START_SLACK_MS: i64 = 25;
/// A record is written during the syscall, so never after the exit; allow rounding.
pub const EXIT_SLACK_MS: i64 = 2;
/// A cgroup read this long after the start is final: runtimes move a new process into the
/// container's cgroup right after fork, before it runs anything.
pub const SETTLE_MS: i64 = 1000;

/// A fast hasher (Fx) for kernel-assigned integer keys such as pids; not for keys that
/// others choose.
#[derive(Debug, Default, Clone, Copy)]
pub struct PidHasher(u64);

const FX: u64 = 0x517c_c1b7_2722_0a95;

impl Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(FX);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(n)).wrapping_mul(FX);
    }
}

/// A map keyed by pid.
pub type PidMap<V> = HashMap<u32, V, BuildHasherDefault<PidHasher>>;

/// How an incarnation's cgroup was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Read from `/proc` when a record arrived.
    Procfs,
    /// Read (or inherited) on a proc connector fork or exec event.
    Connector,
}

/// One process that held a pid for a while.
#[derive(Debug, Clone)]
pub struct Incarnation {
    /// Realtime milliseconds.
    pub start_ms: i64,
    pub exit_ms: Option<i64>,
    pub cgroup: Arc<CgroupAttribution>,
    /// The cgroup was read at (or after) exec, or long enough after the start: it will not
    /// change any more.
    pub settled: bool,
    /// The process exec'd and its cgroup could not be read again (it was gone, or the read
    /// failed): `cgroup` may be from before a move, so it is not used.
    pub stale: bool,
    /// Forked from a process whose cgroup was final: a plain child that stays where its
    /// parent is (runtimes move only the processes they start themselves). Such a child
    /// that exec'd and was gone before the read keeps its cgroup instead of going stale.
    pub from_settled: bool,
    pub origin: Origin,
    /// The connector's loss epoch when this was last known right: an open incarnation is
    /// trusted without a `/proc` read only while no connector event was lost since.
    pub epoch: u64,
    /// Realtime milliseconds of the last use (eviction of stale entries).
    pub used_ms: i64,
    /// Realtime milliseconds when the process was last known alive.
    pub seen_ms: i64,
}

impl Incarnation {
    /// Whether a record at `t` (realtime ms) may come from this incarnation.
    pub fn covers(&self, t: i64) -> bool {
        let before_exit = match self.exit_ms {
            Some(e) => t <= e + EXIT_SLACK_MS,
            None => true,
        };
        t >= self.start_ms - START_SLACK_MS && before_exit
    }
}

/// Result of a lookup.
#[derive(Debug)]
pub enum Lookup {
    /// Exactly one incarnation (or several with the same cgroup) covers the time.
    Found(Incarnation),
    /// Incarnations with different cgroups cover the time: do not guess.
    Ambiguous,
    NotFound,
}

/// Bounds of the table.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long an exited incarnation is kept (milliseconds).
    pub grace_ms: i64,
    /// Exited incarnations kept at most (the oldest go first).
    pub max_exited: usize,
    /// Pids tracked at most; beyond, stale entries are dropped, then everything.
    pub max_pids: usize,
    /// An open entry unused this long, and not backed by the connector, is dropped.
    pub idle_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            grace_ms: 60_000,
            max_exited: 65_536,
            max_pids: 1 << 20,
            idle_ms: 600_000,
        }
    }
}

/// pid -> incarnations, oldest first.
#[derive(Debug, Default)]
pub struct PidTable {
    procs: PidMap<Vec<Incarnation>>,
    /// (exit time, pid) in exit order, for the grace period.
    exited: VecDeque<(i64, u32)>,
    limits: Limits,
    /// When idle entries were last dropped.
    idle_swept_ms: i64,
}

impl PidTable {
    pub fn new(limits: Limits) -> PidTable {
        PidTable {
            procs: PidMap::default(),
            exited: VecDeque::new(),
            limits,
            idle_swept_ms: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// The incarnation of `pid` at realtime `t`.
    pub fn lookup(&mut self, pid: u32, t: i64, now: i64) -> Lookup {
        let Some(incs) = self.procs.get_mut(&pid) else {
            return Lookup::NotFound;
        };
        let mut found: Option<usize> = None;
        for (i, inc) in incs.iter().enumerate() {
            if inc.covers(t) {
                match found {
                    Some(j) if incs[j].cgroup != inc.cgroup => return Lookup::Ambiguous,
                    _ => found = Some(i),
                }
            }
        }
        match found {
            Some(i) => {
                incs[i].used_ms = now;
                Lookup::Found(incs[i].clone())
            }
            None => Lookup::NotFound,
        }
    }

    /// The open (not exited) incarnation of `pid`, if any.
    pub fn open(&self, pid: u32) -> Option<&Incarnation> {
        self.procs.get(&pid)?.last().filter(|i| i.exit_ms.is_none())
    }

    /// A new process took `pid`. An open previous incarnation lost its exit (a connector
    /// event was lost, or it was only ever seen in `/proc`): it is closed at the last time it
    /// was known alive, so records after that (when it is unknown who held the pid) match
    /// nobody.
    pub fn insert_new(&mut self, pid: u32, inc: Incarnation) {
        let incs = self.procs.entry(pid).or_default();
        for old in incs
            .iter_mut()
            .filter(|i| i.exit_ms.is_none() && i.start_ms <= inc.start_ms)
        {
            let end = old.seen_ms.clamp(old.start_ms, inc.start_ms);
            old.exit_ms = Some(end);
            self.exited.push_back((end, pid));
        }
        let at = incs
            .iter()
            .position(|i| i.start_ms > inc.start_ms)
            .unwrap_or(incs.len());
        incs.insert(at, inc);
    }

    /// A `/proc` read saw the process that holds `pid` now: updates the incarnation with the
    /// same start (within `tolerance_ms`), reopening it if it is the latest (a thread group
    /// leader may exit before the other threads), or inserts it as new.
    pub fn observe(&mut self, pid: u32, inc: Incarnation, tolerance_ms: i64) {
        let incs = self.procs.entry(pid).or_default();
        let same = incs
            .iter()
            .rposition(|i| (i.start_ms - inc.start_ms).abs() <= tolerance_ms);
        match same {
            Some(k) => {
                let last = k + 1 == incs.len();
                let cur = &mut incs[k];
                cur.cgroup = inc.cgroup;
                cur.settled |= inc.settled;
                cur.stale = inc.stale;
                cur.from_settled |= inc.from_settled;
                cur.epoch = inc.epoch;
                cur.used_ms = inc.used_ms;
                cur.seen_ms = cur.seen_ms.max(inc.seen_ms);
                if last {
                    cur.exit_ms = None;
                }
            }
            None => self.insert_new(pid, inc),
        }
    }

    /// The open incarnation of `pid` exec'd (connector) and its cgroup read then is
    /// `cgroup`: final. When it could not be read, an unsettled cgroup becomes stale (unless
    /// inherited from a settled parent).
    /// Returns false when there is no open incarnation.
    pub fn exec(
        &mut self,
        pid: u32,
        cgroup: Option<Arc<CgroupAttribution>>,
        epoch: u64,
        now: i64,
    ) -> bool {
        let Some(inc) = self
            .procs
            .get_mut(&pid)
            .and_then(|v| v.last_mut())
            .filter(|i| i.exit_ms.is_none())
        else {
            return false;
        };
        match cgroup {
            Some(cg) => {
                inc.cgroup = cg;
                inc.settled = true;
                inc.stale = false;
            }
            None => inc.stale |= !inc.settled && !inc.from_settled,
        }
        inc.origin = Origin::Connector;
        inc.epoch = epoch;
        inc.used_ms = now;
        inc.seen_ms = now;
        true
    }

    /// The open incarnation of `pid` exited at `t`.
    pub fn exit(&mut self, pid: u32, t: i64) {
        if let Some(inc) = self
            .procs
            .get_mut(&pid)
            .and_then(|v| v.last_mut())
            .filter(|i| i.exit_ms.is_none())
        {
            inc.exit_ms = Some(t.max(inc.start_ms));
            self.exited.push_back((t, pid));
        }
    }

    /// The incarnation of `pid` that started at `start_ms` was seen alive at `seen_ms`, in
    /// connector epoch `epoch`.
    pub fn confirm(&mut self, pid: u32, start_ms: i64, epoch: u64, seen_ms: i64) {
        if let Some(inc) = self
            .procs
            .get_mut(&pid)
            .and_then(|v| v.iter_mut().rev().find(|i| i.start_ms == start_ms))
        {
            inc.epoch = epoch;
            inc.seen_ms = inc.seen_ms.max(seen_ms);
        }
    }

    /// Drops what is past the grace period, idle, or over the bounds.
    pub fn sweep(&mut self, now: i64, connector_epoch: Option<u64>) {
        let grace = self.limits.grace_ms;
        while let Some(&(t, pid)) = self.exited.front() {
            if t >= now - grace && self.exited.len() <= self.limits.max_exited {
                break;
            }
            self.exited.pop_front();
            if let Some(incs) = self.procs.get_mut(&pid) {
                incs.retain(|i| !matches!(i.exit_ms, Some(e) if e <= t));
                if incs.is_empty() {
                    self.procs.remove(&pid);
                }
            }
        }
        let idle = self.limits.idle_ms;
        if self.procs.len() > self.limits.max_pids / 2 || now - self.idle_swept_ms >= 10_000 {
            self.idle_swept_ms = now;
            self.procs.retain(|_, incs| {
                incs.retain(|i| {
                    let backed = connector_epoch == Some(i.epoch) && i.exit_ms.is_none();
                    backed || i.used_ms >= now - idle || i.exit_ms.is_some_and(|e| e >= now - grace)
                });
                !incs.is_empty()
            });
        }
        if self.procs.len() > self.limits.max_pids {
            self.procs.clear();
            self.exited.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cg(path: &str) -> Arc<CgroupAttribution> {
        Arc::new(parsers::cgroup::classify_path(path))
    }

    fn inc(start: i64, cgroup: &Arc<CgroupAttribution>) -> Incarnation {
        Incarnation {
            start_ms: start,
            exit_ms: None,
            cgroup: cgroup.clone(),
            settled: true,
            stale: false,
            from_settled: false,
            origin: Origin::Connector,
            epoch: 0,
            used_ms: start,
            seen_ms: start,
        }
    }

    fn found(l: Lookup) -> Option<String> {
        match l {
            Lookup::Found(i) => Some(i.cgroup.path.clone()),
            _ => None,
        }
    }

    #[test]
    fn reuse_is_matched_by_time() {
        let (a, b) = (cg("/a.service"), cg("/b.service"));
        let mut t = PidTable::new(Limits::default());
        t.insert_new(7, inc(1000, &a));
        t.exit(7, 2000);
        t.insert_new(7, inc(5000, &b));
        assert_eq!(found(t.lookup(7, 1500, 0)).as_deref(), Some("/a.service"));
        assert_eq!(found(t.lookup(7, 2001, 0)).as_deref(), Some("/a.service"));
        assert_eq!(found(t.lookup(7, 3000, 0)), None, "between the two: nobody");
        assert_eq!(found(t.lookup(7, 6000, 0)).as_deref(), Some("/b.service"));
        assert_eq!(
            found(t.lookup(7, 990, 0)).as_deref(),
            Some("/a.service"),
            "coarse record time"
        );
        assert_eq!(found(t.lookup(8, 1500, 0)), None);
    }

    #[test]
    fn lost_exit_is_not_guessed() {
        let (a, b) = (cg("/a.service"), cg("/b.service"));
        let mut t = PidTable::new(Limits::default());
        t.insert_new(7, inc(1000, &a));
        t.confirm(7, 1000, 0, 1200);
        // No exit event; a new process has the pid.
        t.insert_new(7, inc(5000, &b));
        assert_eq!(
            found(t.lookup(7, 1100, 0)).as_deref(),
            Some("/a.service"),
            "seen alive after"
        );
        assert_eq!(found(t.lookup(7, 1500, 0)), None, "unknown who held it");
        assert_eq!(found(t.lookup(7, 5500, 0)).as_deref(), Some("/b.service"));
    }

    #[test]
    fn overlapping_windows_with_different_cgroups_are_ambiguous() {
        let (a, b) = (cg("/a.service"), cg("/b.service"));
        let mut t = PidTable::new(Limits::default());
        t.insert_new(7, inc(1000, &a));
        t.exit(7, 1010);
        t.insert_new(7, inc(1030, &b));
        assert!(matches!(t.lookup(7, 1010, 0), Lookup::Ambiguous));
        assert_eq!(found(t.lookup(7, 1013, 0)).as_deref(), Some("/b.service"));
    }

    #[test]
    fn same_start_updates() {
        let (a, b) = (cg("/a.service"), cg("/b.service"));
        let mut t = PidTable::new(Limits::default());
        t.insert_new(7, inc(1000, &a));
        t.observe(7, inc(1004, &b), 15);
        assert_eq!(t.procs[&7].len(), 1);
        assert_eq!(found(t.lookup(7, 1500, 0)).as_deref(), Some("/b.service"));
    }

    #[test]
    fn exec_without_a_read_makes_an_unsettled_cgroup_stale() {
        let a = cg("/a.service");
        let mut t = PidTable::new(Limits::default());
        t.insert_new(
            7,
            Incarnation {
                settled: false,
                ..inc(1000, &a)
            },
        );
        assert!(t.exec(7, None, 0, 1100));
        assert!(t.open(7).is_some_and(|i| i.stale && !i.settled));
        assert!(t.exec(7, Some(cg("/b.service")), 0, 1200));
        assert!(t.open(7).is_some_and(|i| !i.stale && i.settled));
        // A settled cgroup does not change at exec.
        t.insert_new(8, inc(1000, &a));
        assert!(t.exec(8, None, 0, 1100));
        assert!(t.open(8).is_some_and(|i| !i.stale));
        assert!(!t.exec(9, None, 0, 1100), "unknown pid");
    }

    #[test]
    fn grace_period_and_bounds() {
        let a = cg("/a.service");
        let mut t = PidTable::new(Limits {
            grace_ms: 100,
            max_exited: 2,
            max_pids: 10,
            idle_ms: 1000,
        });
        for pid in 1..=3 {
            t.insert_new(pid, inc(0, &a));
            t.exit(pid, 10);
        }
        t.sweep(50, None);
        assert_eq!(t.len(), 2, "max_exited drops the oldest");
        t.sweep(200, None);
        assert!(t.is_empty(), "grace period over");
        for pid in 1..=11 {
            t.insert_new(pid, inc(0, &a));
        }
        t.sweep(100, Some(0));
        assert!(t.is_empty(), "over max_pids: cleared");
    }
}
