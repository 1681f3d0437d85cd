//! SELinux MCS categories (`subj=system_u:system_r:container_t:s0:c390,c427`) as a further
//! key: container runtimes give every container (every pod, with CRI) its own pair of
//! categories, so a record whose pid is gone can still be tied to the container that holds
//! its label.
//!
//! Never a guess:
//! - a label's holders are the containers seen with it on a record whose pid resolved
//!   ([`McsMap::learn`]) and, where the kernel shows labels (SELinux:
//!   `/proc/PID/attr/current`), the containers whose live processes carry it;
//! - which containers are alive comes from `/proc` (a container is alive while a process
//!   is in its cgroup), scanned at most once a second, only when the fallback is asked;
//! - a record resolves through its label only to a holder that was alive when the record
//!   was written (between its first sighting and its last, give or take [`SLACK_MS`]), and
//!   only when exactly one such holder exists and no more than one live container holds
//!   the label (a pod's containers share one; Podman reuses the categories of removed
//!   containers);
//! - a holder whose container is gone is forgotten [`GRACE_MS`] after it was last seen
//!   alive (records written before that, handled late, still find it).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parsers::cgroup::{parse_proc_cgroup, CgroupAttribution};

use super::procfs::{boot_offset_ms, ProcFs};

/// How far a record's time may lie outside a holder's known lifetime (the record clock is
/// coarse, `/proc` is read at most once a second).
pub const SLACK_MS: i64 = 2_000;
/// How long a gone holder is kept for records handled late.
pub const GRACE_MS: i64 = 30_000;
/// `/proc` is scanned again after this long, or sooner (after [`MIN_RESCAN_MS`]) for a
/// record newer than the last scan.
const RESCAN_MS: i64 = 1_000;
const MIN_RESCAN_MS: i64 = 100;
/// Holders per label at most (more: the label is ambiguous anyway).
const MAX_HOLDERS: usize = 16;
/// Processes read per scan at most.
const MAX_SCAN_PIDS: usize = 1 << 17;

/// The MCS part of an SELinux context when it names categories of one sensitivity
/// (`s0:c390,c427`): the key. `None` for contexts without categories, for category ranges
/// (`c0.c1023`, the unconfined range) and for non-SELinux subjects (AppArmor profiles).
pub fn mcs_key(subj: &str) -> Option<&str> {
    // user:role:type:level, where the level itself contains ':'.
    let mut idx = 0;
    for _ in 0..3 {
        idx += subj.get(idx..)?.find(':')? + 1;
    }
    let level = subj.get(idx..)?.trim();
    let (sens, cats) = level.split_once(':')?;
    let sens_ok =
        sens.len() > 1 && sens.starts_with('s') && sens[1..].bytes().all(|b| b.is_ascii_digit());
    let cats_ok = !cats.is_empty()
        && cats.split(',').all(|c| {
            c.len() > 1 && c.starts_with('c') && c[1..].bytes().all(|b| b.is_ascii_digit())
        });
    (sens_ok && cats_ok).then_some(level)
}

/// One container seen with a label.
#[derive(Debug, Clone)]
struct Holder {
    id: String,
    cg: Arc<CgroupAttribution>,
    /// Known alive from (realtime ms) ...
    first_ms: i64,
    /// ... to.
    live_until_ms: i64,
}

/// What one look at `/proc` showed.
#[derive(Debug, Default)]
struct Scan {
    at_ms: i64,
    /// Containers with a live process, and one of those processes' cgroups.
    live: HashMap<String, Arc<CgroupAttribution>>,
    /// Labels the kernel shows on live processes (SELinux): label -> containers.
    labels: HashMap<String, HashSet<String>>,
    /// When each container of `labels` started at the latest (its oldest process seen).
    started: HashMap<String, i64>,
}

/// MCS label -> the containers that hold it.
#[derive(Debug, Default)]
pub struct McsMap {
    map: HashMap<String, Vec<Holder>>,
    max: usize,
    scan: Option<Scan>,
}

impl McsMap {
    pub fn new(max: usize) -> McsMap {
        McsMap {
            map: HashMap::new(),
            max,
            scan: None,
        }
    }

    /// Records that `key` was on a record of a process of the container of `cg`, written
    /// at `t_ms` (the process was resolved: alive then); `now_ms` is the time now.
    pub fn learn(&mut self, key: &str, cg: &Arc<CgroupAttribution>, t_ms: i64, now_ms: i64) {
        let Some(id) = cg.container_id() else { return };
        let seen = t_ms.min(now_ms);
        if !self.map.contains_key(key) && self.map.len() >= self.max {
            self.forget_gone(now_ms);
            if self.map.len() >= self.max {
                self.map.clear();
            }
        }
        let hs = self.map.entry(key.to_string()).or_default();
        if let Some(h) = hs.iter_mut().find(|h| h.id == id) {
            h.first_ms = h.first_ms.min(seen);
            h.live_until_ms = h.live_until_ms.max(now_ms);
            h.cg = cg.clone();
        } else if hs.len() < MAX_HOLDERS {
            hs.push(Holder {
                id: id.to_string(),
                cg: cg.clone(),
                first_ms: seen,
                live_until_ms: now_ms,
            });
        }
    }

    /// The container of a record written at `t_ms` whose label is `key`, when exactly one
    /// holder of the label was alive then and no more than one live container holds it.
    pub fn resolve(
        &mut self,
        key: &str,
        t_ms: i64,
        now_ms: i64,
        procfs: &ProcFs,
    ) -> Option<Arc<CgroupAttribution>> {
        self.rescan(t_ms, now_ms, procfs);
        let scan = self.scan.as_ref()?;
        // Containers the kernel shows holding the label.
        let shown: Vec<String> = scan
            .labels
            .get(key)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default();
        if shown.is_empty() && !self.map.contains_key(key) {
            return None;
        }
        let hs = self.map.entry(key.to_string()).or_default();
        for id in &shown {
            let started = scan.started.get(id).copied().unwrap_or(scan.at_ms);
            if let Some(h) = hs.iter_mut().find(|h| &h.id == id) {
                h.first_ms = h.first_ms.min(started);
            } else if hs.len() >= MAX_HOLDERS {
                return None;
            } else if let Some(cg) = scan.live.get(id) {
                hs.push(Holder {
                    id: id.clone(),
                    cg: cg.clone(),
                    first_ms: started,
                    live_until_ms: scan.at_ms,
                });
            }
        }
        let live_now = hs.iter().filter(|h| scan.live.contains_key(&h.id)).count();
        if live_now > 1 || shown.len() > 1 {
            return None;
        }
        let mut candidates = hs
            .iter()
            .filter(|h| h.first_ms - SLACK_MS <= t_ms && t_ms <= h.live_until_ms + SLACK_MS);
        let first = candidates.next()?;
        if candidates.next().is_some() {
            return None;
        }
        Some(first.cg.clone())
    }

    /// Labels known (for tests and stats).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Reads `/proc` again when the last look is too old for a record written at `t_ms`;
    /// then refreshes every holder's liveness and forgets the gone ones.
    fn rescan(&mut self, t_ms: i64, now_ms: i64, procfs: &ProcFs) {
        if let Some(s) = &self.scan {
            let age = now_ms - s.at_ms;
            if age < MIN_RESCAN_MS || (age < RESCAN_MS && t_ms <= s.at_ms) {
                return;
            }
        }
        let scan = scan_proc(procfs, now_ms);
        for hs in self.map.values_mut() {
            for h in hs.iter_mut() {
                if scan.live.contains_key(&h.id) {
                    h.live_until_ms = h.live_until_ms.max(scan.at_ms);
                }
            }
        }
        self.scan = Some(scan);
        self.forget_gone(now_ms);
    }

    /// Drops holders not seen alive for [`GRACE_MS`], and labels left without holders.
    fn forget_gone(&mut self, now_ms: i64) {
        let live = self.scan.as_ref().map(|s| &s.live);
        self.map.retain(|_, hs| {
            hs.retain(|h| {
                live.is_some_and(|l| l.contains_key(&h.id)) || now_ms - h.live_until_ms <= GRACE_MS
            });
            !hs.is_empty()
        });
    }
}

/// The text of `/proc/PID/attr/current` (the LSM's context of the process), or `None`
/// when it cannot be read (no SELinux: EINVAL; the process is gone).
fn read_attr(procfs: &ProcFs, pid: &str) -> Option<String> {
    let p = procfs.root().join(pid).join("attr").join("current");
    let b = std::fs::read(p).ok()?;
    let s = String::from_utf8_lossy(&b);
    Some(s.trim_end_matches(['\0', '\n']).to_string())
}

/// Looks at every process: which containers are alive, and (SELinux) which labels their
/// processes carry.
fn scan_proc(procfs: &ProcFs, now_ms: i64) -> Scan {
    let mut scan = Scan {
        at_ms: now_ms,
        ..Scan::default()
    };
    let Ok(rd) = std::fs::read_dir(procfs.root()) else {
        return scan;
    };
    let boot = boot_offset_ms();
    for e in rd.flatten().take(MAX_SCAN_PIDS) {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(pid_n) = pid.parse::<u32>() else {
            continue;
        };
        let label = match read_attr(procfs, pid) {
            // A context without categories (a host process): no container label.
            Some(ctx) => match mcs_key(&ctx) {
                Some(k) => Some(k.to_string()),
                None => continue,
            },
            None => None,
        };
        let Some(text) = procfs.cgroup(pid_n) else {
            continue;
        };
        let cg = parse_proc_cgroup(&text);
        let Some(id) = cg.container_id().map(str::to_string) else {
            continue;
        };
        if let Some(k) = label {
            scan.labels.entry(k).or_default().insert(id.clone());
            if let Some(st) = procfs.stat(pid_n) {
                let started = procfs.ticks_to_ms(st.start_ticks, boot);
                let e = scan.started.entry(id.clone()).or_insert(started);
                *e = (*e).min(started);
            }
        }
        scan.live.entry(id).or_insert_with(|| Arc::new(cg));
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            mcs_key("system_u:system_r:container_t:s0:c390,c427"),
            Some("s0:c390,c427")
        );
        assert_eq!(
            mcs_key("system_u:system_r:container_t:s0:c5"),
            Some("s0:c5")
        );
        assert_eq!(mcs_key("system_u:system_r:spc_t:s0"), None);
        assert_eq!(
            mcs_key("unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023"),
            None
        );
        assert_eq!(mcs_key("docker-default (enforce)"), None);
        assert_eq!(mcs_key("unconfined"), None);
        assert_eq!(mcs_key("a:b:c:s0:c1,x"), None);
        assert_eq!(mcs_key(""), None);
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const KEY: &str = "s0:c1,c2";
    const CTX: &str = "system_u:system_r:container_t:s0:c1,c2";

    /// A proc root with processes as the attributor reads them: `stat`, `cgroup` and,
    /// under SELinux, `attr/current`.
    struct FakeProc {
        dir: tempfile::TempDir,
        procfs: ProcFs,
    }

    impl FakeProc {
        fn new() -> FakeProc {
            let dir = tempfile::tempdir().unwrap();
            let procfs = ProcFs::new(dir.path());
            FakeProc { dir, procfs }
        }

        fn proc(&self, pid: u32, container: &str, started_ms: i64, ctx: Option<&str>) {
            let p = self.dir.path().join(pid.to_string());
            std::fs::create_dir_all(p.join("attr")).unwrap();
            let ticks = self.procfs.ms_to_ticks(started_ms, boot_offset_ms());
            std::fs::write(
                p.join("stat"),
                format!("{pid} (sh) S 1 {pid} {pid} 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 {ticks} 1000 100 0\n"),
            )
            .unwrap();
            std::fs::write(p.join("cgroup"), format!("0::/docker/{container}\n")).unwrap();
            if let Some(c) = ctx {
                std::fs::write(p.join("attr/current"), format!("{c}\0")).unwrap();
            }
        }

        fn gone(&self, pid: u32) {
            std::fs::remove_dir_all(self.dir.path().join(pid.to_string())).unwrap();
        }
    }

    fn cg(id: &str) -> Arc<CgroupAttribution> {
        Arc::new(parsers::cgroup::classify_path(&format!("/docker/{id}")))
    }

    fn id_of(c: Option<Arc<CgroupAttribution>>) -> Option<String> {
        c.and_then(|c| c.container_id().map(str::to_string))
    }

    #[test]
    fn a_gone_container_is_given_only_what_was_written_while_it_ran() {
        let f = FakeProc::new();
        let t0 = super::super::procfs::now_ms();
        f.proc(10, A, t0 - 60_000, None);
        let mut m = McsMap::new(10);
        m.learn(KEY, &cg(A), t0 - 10, t0);
        assert_eq!(id_of(m.resolve(KEY, t0, t0, &f.procfs)).as_deref(), Some(A));
        assert!(
            m.resolve("s0:c3,c4", t0, t0, &f.procfs).is_none(),
            "another label"
        );
        // A ends.
        f.gone(10);
        let t1 = t0 + 5_000;
        assert!(
            m.resolve(KEY, t1, t1, &f.procfs).is_none(),
            "written after A was gone"
        );
        assert_eq!(
            id_of(m.resolve(KEY, t0 + 500, t1, &f.procfs)).as_deref(),
            Some(A),
            "written while A ran, handled late"
        );
        // Forgotten after the grace time.
        let t2 = t0 + GRACE_MS + 5_000;
        assert!(m.resolve(KEY, t0 + 500, t2, &f.procfs).is_none());
        assert!(m.is_empty(), "the entry of the gone container expired");
    }

    #[test]
    fn a_label_two_live_containers_hold_is_not_used() {
        // SELinux shows the label on the processes of both (a pod's containers), though
        // only A was ever seen on a record.
        let f = FakeProc::new();
        let t0 = super::super::procfs::now_ms();
        f.proc(10, A, t0 - 60_000, Some(CTX));
        f.proc(11, B, t0 - 30_000, Some(CTX));
        f.proc(
            12,
            "host-process-no-container",
            t0,
            Some("system_u:system_r:init_t:s0"),
        );
        let mut m = McsMap::new(10);
        m.learn(KEY, &cg(A), t0 - 10, t0);
        assert!(m.resolve(KEY, t0, t0, &f.procfs).is_none());
        // B ends: records written while it ran are still ambiguous, later ones are A's.
        f.gone(11);
        let t1 = t0 + 500;
        assert!(m.resolve(KEY, t1, t1, &f.procfs).is_none());
        let t2 = t0 + SLACK_MS + 1_000;
        assert_eq!(id_of(m.resolve(KEY, t2, t2, &f.procfs)).as_deref(), Some(A));
        // Without SELinux: two containers seen on records, both alive.
        let g = FakeProc::new();
        g.proc(20, A, t0 - 60_000, None);
        g.proc(21, B, t0 - 60_000, None);
        let mut m = McsMap::new(10);
        m.learn(KEY, &cg(A), t0 - 10, t0);
        m.learn(KEY, &cg(B), t0 - 5, t0);
        assert!(m.resolve(KEY, t0, t0, &g.procfs).is_none());
    }

    #[test]
    fn reused_categories_go_to_the_container_that_holds_them_then() {
        let f = FakeProc::new();
        let t0 = super::super::procfs::now_ms();
        f.proc(10, A, t0 - 60_000, Some(CTX));
        let mut m = McsMap::new(10);
        m.learn(KEY, &cg(A), t0 - 10, t0);
        assert_eq!(id_of(m.resolve(KEY, t0, t0, &f.procfs)).as_deref(), Some(A));
        // A is removed; Podman gives its categories to B, started later.
        f.gone(10);
        let tb = t0 + 3_000;
        f.proc(30, B, tb, Some(CTX));
        let t1 = tb + 1_000;
        assert_eq!(id_of(m.resolve(KEY, t1, t1, &f.procfs)).as_deref(), Some(B));
        // A record written while A ran (before B existed) is still A's.
        assert_eq!(
            id_of(m.resolve(KEY, t0 + 200, t1, &f.procfs)).as_deref(),
            Some(A)
        );
    }

    #[test]
    fn only_containers_are_learned_and_the_map_is_bounded() {
        let f = FakeProc::new();
        let host = Arc::new(parsers::cgroup::classify_path("/system.slice/sshd.service"));
        let mut m = McsMap::new(2);
        m.learn(KEY, &host, 0, 0);
        assert!(m.is_empty(), "not a container");
        for i in 0..5 {
            m.learn(&format!("s0:c{i},c9"), &cg(A), 0, 0);
        }
        assert!(m.len() <= 2);
        assert!(
            m.resolve("s0:c0,c9", 0, 0, &f.procfs).is_none(),
            "A is not alive"
        );
    }
}
