//! The stateful rule engine: evaluates each event against a [`RuleSet`] (with the `novel`,
//! `not_in_profile` and `rate` state) and rolls matches up into alerts.
//!
//! Roll-up: one alert per (rule, workload, syscall, action) per window. Windows are aligned
//! on event time (`floor(time / window)`), so replays and `rules test` give the same
//! alerts as live evaluation. The first match opens the alert; later matches in the same
//! window add to its count, first/last seen, distinct containers and (up to
//! [`MAX_SAMPLES`]) sample events. At most `max_alerts_per_window` alerts open per window;
//! beyond, each new key is folded into one summary alert for the window
//! ([`OVERFLOW_RULE`]) that counts its events and the alerts it stands for. No matching
//! event is dropped uncounted: every one is in exactly one alert's count.
//!
//! Output is pulled with [`Engine::drain`] once per batch: every alert changed since the
//! last drain (a snapshot plus the count added since), the novelty state to persist, and
//! counters for the metrics. Alert ids are deterministic (rule, workload, syscall, action,
//! window start; the node only for the per-node overflow summary), so an alert re-opened
//! after a restart or a late event gets the same id and the store adds the delta to it,
//! and the replicas of one workload on several nodes raise the same id (one ticket).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use parsers::syscalls::syscall_number;
use parsers::{Action, Attribution, ContainerInfo, Event, ScmpArch};

use super::alert::{alert_id, Alert, Sample, MAX_CONTAINER_IDS, MAX_SAMPLES, OVERFLOW_RULE};
use super::profile_allow::ProfileAllow;
use super::ruleset::{action_bit, Matcher, RuleSet};
use super::syscalls::{universe, SyscallId};
use super::Severity;

/// Distinct container ids remembered per alert (the count is exact up to this).
const MAX_TRACKED_CONTAINERS: usize = 10_000;

/// FxHash (rustc's): fast for the small integer keys of the per-workload maps.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
    #[inline]
    fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }
    #[inline]
    fn write_isize(&mut self, v: isize) {
        self.write_u64(v as u64);
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = BuildHasherDefault<Fx>;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Roll-up window (milliseconds).
    pub window_ms: i64,
    /// Alerts opened per window at most; beyond, the overflow summary.
    pub max_alerts_per_window: u64,
    /// Per-workload learning window for `novel` (milliseconds).
    pub learning_ms: i64,
    /// The node name for events that carry none.
    pub node: Option<String>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            window_ms: 600_000,
            max_alerts_per_window: 1000,
            learning_ms: 24 * 3_600_000,
            node: None,
        }
    }
}

/// One event to evaluate, with its attribution.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub event: &'a Event,
    pub workload: &'a str,
    pub container: Option<&'a ContainerInfo>,
    pub profile_hash: Option<&'a str>,
}

impl<'a> Input<'a> {
    /// The input of an attributed event.
    pub fn new(event: &'a Event, attribution: &'a Attribution) -> Input<'a> {
        Input {
            event,
            workload: &attribution.workload,
            container: attribution.container.as_ref(),
            profile_hash: attribution.profile_hash.as_deref(),
        }
    }
}

/// Novelty state to persist (so that `novel` survives restarts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateWrite {
    /// A workload seen for the first time: its learning window starts.
    Workload {
        workload: String,
        first_seen_ms: i64,
    },
    /// A (workload, arch, syscall) seen for the first time.
    Seen {
        workload: String,
        arch: String,
        syscall: String,
        first_seen_ms: i64,
    },
}

/// An alert opened or changed since the last drain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertChange {
    /// The alert as the engine sees it now (shared: the engine copies it only when it
    /// changes it again while this snapshot is still alive).
    pub alert: Arc<Alert>,
    /// True the first time this alert is drained (since the engine started).
    pub new: bool,
    /// Events added to its count since the last drain (the whole count when `new`).
    pub count_delta: u64,
    /// True when more than the count and times changed since the last drain (samples,
    /// containers, severity, suppressed alerts; always when `new`).
    pub detail_changed: bool,
}

/// Counters since the last drain (for the metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events evaluated.
    pub events: u64,
    /// Alerts opened, by (rule, severity).
    pub opened: Vec<(String, Severity, u64)>,
    /// Matching events folded into an already open alert, by rule.
    pub repeats: Vec<(String, u64)>,
    /// New alert keys folded into an overflow summary (alerts suppressed).
    pub overflowed: u64,
}

/// What [`Engine::drain`] returns.
#[derive(Debug, Clone, Default)]
pub struct Drained {
    pub alerts: Vec<AlertChange>,
    pub state: Vec<StateWrite>,
    pub stats: Stats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SysKey {
    Id(SyscallId),
    Raw(u32, i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct AlertKey {
    rule: u32,
    sys: SysKey,
    action: u32,
}

/// A slab slot reference: index and generation (a stale reference never matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SlotRef {
    idx: u32,
    gen: u32,
}

#[derive(Debug, Default)]
struct WorkloadState {
    first_seen_ms: i64,
    /// (audit arch, syscall number) seen.
    seen: HashSet<(u32, i64), FxBuild>,
    alerts: HashMap<AlertKey, SlotRef, FxBuild>,
    /// (rule, rate window index, count).
    rates: Vec<(u32, i64, u64)>,
}

#[derive(Debug)]
struct OpenAlert {
    alert: Arc<Alert>,
    gen: u32,
    window: i64,
    /// Count already handed out by [`Engine::drain`].
    drained: u64,
    dirty: bool,
    /// Samples, containers, severity or suppressed count changed since the last drain.
    detail: bool,
    new: bool,
    containers: HashSet<String>,
    last_container: Option<String>,
}

#[derive(Debug, Default)]
struct GlobalWindow {
    opened: u64,
    overflow: Option<SlotRef>,
}

/// The rule engine. Not thread-safe by design: one pipeline stage owns it.
pub struct Engine {
    rules: Arc<RuleSet>,
    opts: EngineOptions,
    /// Workload key -> index into `wl`.
    wl_index: HashMap<Box<str>, u32>,
    wl: Vec<WorkloadState>,
    slab: Vec<Option<OpenAlert>>,
    gens: Vec<u32>,
    free: Vec<u32>,
    dirty: Vec<u32>,
    windows: HashMap<i64, GlobalWindow>,
    profiles: HashMap<String, Option<Arc<ProfileAllow>>>,
    state: Vec<StateWrite>,
    opened: Vec<u64>,
    repeats: Vec<u64>,
    overflow_opened: u64,
    overflow_repeats: u64,
    overflowed: u64,
    events: u64,
    /// Stats of rules replaced by a reload, by name.
    carried: Stats,
    max_window: i64,
    last_sweep: i64,
    fired: Vec<u32>,
}

impl Engine {
    pub fn new(rules: Arc<RuleSet>, opts: EngineOptions) -> Engine {
        let n = rules.rules().len();
        Engine {
            rules,
            opts: EngineOptions {
                window_ms: opts.window_ms.max(1),
                ..opts
            },
            wl_index: HashMap::new(),
            wl: Vec::new(),
            slab: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            dirty: Vec::new(),
            windows: HashMap::new(),
            profiles: HashMap::new(),
            state: Vec::new(),
            opened: vec![0; n],
            repeats: vec![0; n],
            overflow_opened: 0,
            overflow_repeats: 0,
            overflowed: 0,
            events: 0,
            carried: Stats::default(),
            max_window: i64::MIN,
            last_sweep: i64::MIN,
            fired: Vec::new(),
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Replaces the rules (a reload). Open alerts and rate counters of rules that keep their
    /// name carry on; the novelty state is kept.
    pub fn set_rules(&mut self, rules: Arc<RuleSet>) {
        self.carry_stats();
        let by_name: HashMap<&str, u32> = rules
            .rules()
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.as_str(), i as u32))
            .collect();
        let remap: Vec<Option<u32>> = self
            .rules
            .rules()
            .iter()
            .map(|r| by_name.get(r.name.as_str()).copied())
            .collect();
        for ws in self.wl.iter_mut() {
            let old = std::mem::take(&mut ws.alerts);
            ws.alerts = old
                .into_iter()
                .filter_map(|(k, v)| {
                    remap
                        .get(k.rule as usize)
                        .copied()
                        .flatten()
                        .map(|r| (AlertKey { rule: r, ..k }, v))
                })
                .collect();
            ws.rates.retain_mut(
                |(r, _, _)| match remap.get(*r as usize).copied().flatten() {
                    Some(n) => {
                        *r = n;
                        true
                    }
                    None => false,
                },
            );
        }
        let n = rules.rules().len();
        self.opened = vec![0; n];
        self.repeats = vec![0; n];
        self.rules = rules;
    }

    /// Registers the JSON of a profile by its hash (for `not_in_profile`). Returns false
    /// when it cannot be read (the condition is then never true for it).
    pub fn add_profile(&mut self, hash: &str, json: &str) -> bool {
        if let Some(known) = self.profiles.get(hash) {
            return known.is_some();
        }
        let p = ProfileAllow::from_json(json).ok().map(Arc::new);
        let ok = p.is_some();
        self.profiles.insert(hash.to_string(), p);
        ok
    }

    /// Restores a workload's first-seen time (from the store, at start).
    pub fn restore_workload(&mut self, workload: &str, first_seen_ms: i64) {
        match self.wl_index.get(workload) {
            Some(&i) => {
                if let Some(ws) = self.wl.get_mut(i as usize) {
                    ws.first_seen_ms = ws.first_seen_ms.min(first_seen_ms);
                }
            }
            None => {
                self.add_workload(workload, first_seen_ms);
            }
        }
    }

    /// Restores a seen (workload, arch, syscall) (from the store, at start). `arch` is a
    /// `SCMP_ARCH_*` name or a hex audit arch; `syscall` a name or a number. Returns false
    /// when it cannot be understood.
    pub fn restore_seen(&mut self, workload: &str, arch: &str, syscall: &str) -> bool {
        let (audit, nr) = match ScmpArch::from_name(arch) {
            Some(a) => match syscall_number(a, syscall).or_else(|| syscall.parse().ok()) {
                Some(nr) => (a.audit_arch(), nr),
                None => return false,
            },
            None => {
                let Ok(audit) = u32::from_str_radix(arch.trim_start_matches("0x"), 16) else {
                    return false;
                };
                let Ok(nr) = syscall.parse::<i64>() else {
                    return false;
                };
                (audit, nr)
            }
        };
        let wi = match self.wl_index.get(workload) {
            Some(&i) => i,
            // Seen rows without a workload row: learning counts from the first event.
            None => self.add_workload(workload, i64::MAX),
        };
        if let Some(ws) = self.wl.get_mut(wi as usize) {
            ws.seen.insert((audit, nr));
        }
        true
    }

    /// True when the engine has state for `workload` (seen, restored or learnt).
    pub fn knows_workload(&self, workload: &str) -> bool {
        self.wl_index.contains_key(workload)
    }

    /// The workloads the engine has state for.
    pub fn workload_keys(&self) -> impl Iterator<Item = &str> {
        self.wl_index.keys().map(|k| &**k)
    }

    /// What the fleet knows of `workload` (from the fleet database): the earliest time any
    /// node saw it (its learning window starts there) and every (audit arch, syscall
    /// number) any node saw, so that `novel` means new for the workload anywhere in the
    /// fleet. Only widens what is known; nothing of it is persisted locally (it is the
    /// other nodes' state).
    pub fn learn_fleet(&mut self, workload: &str, first_seen_ms: i64, seen: &[(u32, i64)]) {
        self.restore_workload(workload, first_seen_ms);
        if let Some(ws) = self
            .wl_index
            .get(workload)
            .and_then(|&i| self.wl.get_mut(i as usize))
        {
            ws.seen.extend(seen.iter().copied());
        }
    }

    fn add_workload(&mut self, workload: &str, first_seen_ms: i64) -> u32 {
        let i = self.wl.len() as u32;
        self.wl.push(WorkloadState {
            first_seen_ms,
            ..WorkloadState::default()
        });
        self.wl_index.insert(workload.into(), i);
        i
    }

    /// Evaluates one event, rolls its matches up, and returns the indices (into
    /// `rules().rules()`) of the rules that fired, ascending.
    pub fn observe(&mut self, inp: &Input<'_>) -> &[u32] {
        self.fired.clear();
        self.events += 1;
        let ev = inp.event;
        let t = ev.time_ms;
        let arch = ev.arch();
        let sys_id = arch.and_then(|a| universe().id_of(a, ev.syscall_nr));
        let action = ev.action();
        let abit = action_bit(action);

        // Novelty (tracked for every event, whatever the rules, so that a rule added later
        // finds the workload already learned).
        let learning_ms = self.opts.learning_ms;
        let wi = match self.wl_index.get(inp.workload) {
            Some(&i) => i,
            None => {
                self.state.push(StateWrite::Workload {
                    workload: inp.workload.to_string(),
                    first_seen_ms: t,
                });
                self.add_workload(inp.workload, t)
            }
        };
        let state = &mut self.state;
        let Some(ws) = self.wl.get_mut(wi as usize) else {
            return &self.fired;
        };
        if ws.first_seen_ms == i64::MAX {
            // Restored from seen rows only.
            ws.first_seen_ms = t;
            state.push(StateWrite::Workload {
                workload: inp.workload.to_string(),
                first_seen_ms: t,
            });
        }
        let novel = if ws.seen.insert((ev.audit_arch, ev.syscall_nr)) {
            state.push(StateWrite::Seen {
                workload: inp.workload.to_string(),
                arch: ev.arch_name(),
                syscall: syscall_text(ev),
                first_seen_ms: t,
            });
            t.saturating_sub(ws.first_seen_ms) >= learning_ms
        } else {
            false
        };

        let rules = &*self.rules;
        let (any, by) = rules.candidates(sys_id);
        let mut nip: Option<bool> = None;
        for &ri in any.iter().chain(by.iter()) {
            let Some(rule) = rules.rule(ri as usize) else {
                continue;
            };
            if !matches(&rule.matcher, inp, abit, sys_id) {
                continue;
            }
            if rule.novel && !novel {
                continue;
            }
            if rule.not_in_profile {
                let v = *nip.get_or_insert_with(|| {
                    not_in_profile(&self.profiles, inp.profile_hash, arch, sys_id)
                });
                if !v {
                    continue;
                }
            }
            if rule.except.iter().any(|m| matches(m, inp, abit, sys_id)) {
                continue;
            }
            if let Some(rate) = rule.rate {
                let w = t.div_euclid(rate.window_ms);
                let count = match ws.rates.iter_mut().find(|(r, _, _)| *r == ri) {
                    Some(e) => {
                        if e.1 != w {
                            e.1 = w;
                            e.2 = 0;
                        }
                        e.2 += 1;
                        e.2
                    }
                    None => {
                        ws.rates.push((ri, w, 1));
                        1
                    }
                };
                if count <= rate.count {
                    continue;
                }
            }
            self.fired.push(ri);
        }
        if self.fired.is_empty() {
            return &self.fired;
        }
        self.fired.sort_unstable();

        let sys = match sys_id {
            Some(id) => SysKey::Id(id),
            None => SysKey::Raw(ev.audit_arch, ev.syscall_nr),
        };
        let win = t.div_euclid(self.opts.window_ms);
        if win > self.max_window {
            self.max_window = win;
        }
        let fired = std::mem::take(&mut self.fired);
        for &ri in &fired {
            self.roll_up(ri, wi, inp, sys, action, win);
        }
        self.fired = fired;
        &self.fired
    }

    fn roll_up(
        &mut self,
        ri: u32,
        wi: u32,
        inp: &Input<'_>,
        sys: SysKey,
        action: Action,
        win: i64,
    ) {
        let key = AlertKey {
            rule: ri,
            sys,
            action: action.code(),
        };
        let existing = self
            .wl
            .get(wi as usize)
            .and_then(|ws| ws.alerts.get(&key).copied());
        if let Some(r) = existing {
            if let Some(a) = self.slot(r) {
                if a.window == win {
                    let overflow = a.alert.is_overflow();
                    self.fold(r.idx, inp);
                    if overflow {
                        self.overflow_repeats += 1;
                    } else if let Some(c) = self.repeats.get_mut(ri as usize) {
                        *c += 1;
                    }
                    return;
                }
            }
        }
        let Some(rule) = self.rules.rule(ri as usize) else {
            return;
        };
        let (rule_name, severity, description) =
            (rule.name.clone(), rule.severity, rule.description.clone());
        let max = self.opts.max_alerts_per_window;
        let gw = self.windows.entry(win).or_default();
        let slot = if gw.opened < max {
            gw.opened += 1;
            let alert = self.new_alert(inp, &rule_name, description, severity, action, win);
            let r = self.alloc(alert, win);
            if let Some(c) = self.opened.get_mut(ri as usize) {
                *c += 1;
            }
            r
        } else {
            let existing = gw.overflow;
            let r = match existing.filter(|&r| self.slot(r).is_some()) {
                Some(r) => r,
                None => {
                    let alert = self.new_overflow(inp, severity, win);
                    let r = self.alloc(alert, win);
                    self.windows.entry(win).or_default().overflow = Some(r);
                    self.overflow_opened += 1;
                    r
                }
            };
            if let Some(Some(a)) = self.slab.get_mut(r.idx as usize) {
                let al = Arc::make_mut(&mut a.alert);
                al.suppressed_alerts += 1;
                al.severity = al.severity.max(severity);
                a.detail = true;
            }
            self.overflowed += 1;
            r
        };
        self.fold(slot.idx, inp);
        if let Some(ws) = self.wl.get_mut(wi as usize) {
            ws.alerts.insert(key, slot);
        }
    }

    fn slot(&self, r: SlotRef) -> Option<&OpenAlert> {
        self.slab
            .get(r.idx as usize)
            .and_then(Option::as_ref)
            .filter(|a| a.gen == r.gen)
    }

    fn alloc(&mut self, alert: Alert, window: i64) -> SlotRef {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slab.push(None);
                self.gens.push(0);
                (self.slab.len() - 1) as u32
            }
        };
        let gen = self.gens[idx as usize].wrapping_add(1);
        self.gens[idx as usize] = gen;
        self.slab[idx as usize] = Some(OpenAlert {
            alert: Arc::new(alert),
            gen,
            window,
            drained: 0,
            dirty: false,
            detail: true,
            new: true,
            containers: HashSet::new(),
            last_container: None,
        });
        SlotRef { idx, gen }
    }

    fn new_alert(
        &self,
        inp: &Input<'_>,
        rule: &str,
        description: Option<String>,
        severity: Severity,
        action: Action,
        win: i64,
    ) -> Alert {
        let ev = inp.event;
        let node = ev.node.clone().or_else(|| self.opts.node.clone());
        let syscall = syscall_text(ev);
        let action_name = action.to_string();
        let start = win.saturating_mul(self.opts.window_ms);
        Alert {
            // Without the node: the same (rule, workload, syscall, action, window) has the
            // same id on every node, so a SOC upserting by id opens one ticket per fleet.
            id: alert_id(None, rule, inp.workload, &syscall, &action_name, start),
            rule: rule.to_string(),
            rule_description: description,
            severity,
            node,
            workload: inp.workload.to_string(),
            container: inp.container.cloned(),
            syscall,
            syscall_nr: Some(ev.syscall_nr),
            arch: ev.arch_name(),
            action: action_name,
            count: 0,
            first_seen_ms: ev.time_ms,
            last_seen_ms: ev.time_ms,
            window_start_ms: start,
            window_end_ms: start.saturating_add(self.opts.window_ms),
            containers: 0,
            container_ids: Vec::new(),
            samples: Vec::new(),
            profile_hash: inp.profile_hash.map(str::to_string),
            suppressed_alerts: 0,
        }
    }

    fn new_overflow(&self, inp: &Input<'_>, severity: Severity, win: i64) -> Alert {
        let ev = inp.event;
        let node = ev.node.clone().or_else(|| self.opts.node.clone());
        let start = win.saturating_mul(self.opts.window_ms);
        Alert {
            id: alert_id(node.as_deref(), OVERFLOW_RULE, "*", "*", "*", start),
            rule: OVERFLOW_RULE.to_string(),
            rule_description: Some(
                "Alerts beyond the limit per window, folded into one summary.".into(),
            ),
            severity,
            node,
            workload: "*".into(),
            container: None,
            syscall: "*".into(),
            syscall_nr: None,
            arch: "*".into(),
            action: "*".into(),
            count: 0,
            first_seen_ms: ev.time_ms,
            last_seen_ms: ev.time_ms,
            window_start_ms: start,
            window_end_ms: start.saturating_add(self.opts.window_ms),
            containers: 0,
            container_ids: Vec::new(),
            samples: Vec::new(),
            profile_hash: None,
            suppressed_alerts: 0,
        }
    }

    fn fold(&mut self, idx: u32, inp: &Input<'_>) {
        let Some(Some(a)) = self.slab.get_mut(idx as usize) else {
            return;
        };
        let ev = inp.event;
        let al = Arc::make_mut(&mut a.alert);
        al.count += 1;
        al.first_seen_ms = al.first_seen_ms.min(ev.time_ms);
        al.last_seen_ms = al.last_seen_ms.max(ev.time_ms);
        if let Some(c) = inp.container {
            if a.last_container.as_deref() != Some(c.id.as_str()) {
                if a.containers.len() < MAX_TRACKED_CONTAINERS && a.containers.insert(c.id.clone())
                {
                    al.containers += 1;
                    a.detail = true;
                    if al.container_ids.len() < MAX_CONTAINER_IDS {
                        al.container_ids.push(c.id.clone());
                    }
                }
                a.last_container = Some(c.id.clone());
            }
        }
        if al.samples.len() < MAX_SAMPLES {
            let same = |s: &Sample| s.pid == ev.pid && s.comm == ev.comm && s.exe == ev.exe;
            if !al.samples.iter().any(same) {
                al.samples.push(Sample {
                    time_ms: ev.time_ms,
                    pid: ev.pid,
                    comm: ev.comm.clone(),
                    exe: ev.exe.clone(),
                    uid: ev.uid,
                    container_id: inp.container.map(|c| c.id.clone()),
                });
                a.detail = true;
            }
        }
        if !a.dirty {
            a.dirty = true;
            self.dirty.push(idx);
        }
    }

    /// Everything changed since the last call: alerts, novelty state and counters.
    pub fn drain(&mut self) -> Drained {
        let mut alerts = Vec::with_capacity(self.dirty.len());
        for idx in std::mem::take(&mut self.dirty) {
            let Some(Some(a)) = self.slab.get_mut(idx as usize) else {
                continue;
            };
            if !a.dirty {
                continue;
            }
            a.dirty = false;
            let delta = a.alert.count - a.drained;
            a.drained = a.alert.count;
            alerts.push(AlertChange {
                alert: a.alert.clone(),
                new: a.new,
                count_delta: delta,
                detail_changed: a.detail || a.new,
            });
            a.new = false;
            a.detail = false;
        }
        self.carry_stats();
        let stats = std::mem::take(&mut self.carried);
        self.sweep();
        Drained {
            alerts,
            state: std::mem::take(&mut self.state),
            stats,
        }
    }

    /// Moves the index-keyed counters into the name-keyed [`Stats`].
    fn carry_stats(&mut self) {
        let rules = self.rules.rules();
        let c = &mut self.carried;
        c.events += std::mem::take(&mut self.events);
        for (i, n) in self.opened.iter_mut().enumerate() {
            if *n > 0 {
                if let Some(r) = rules.get(i) {
                    add_opened(&mut c.opened, &r.name, r.severity, *n);
                }
                *n = 0;
            }
        }
        for (i, n) in self.repeats.iter_mut().enumerate() {
            if *n > 0 {
                if let Some(r) = rules.get(i) {
                    add_repeat(&mut c.repeats, &r.name, *n);
                }
                *n = 0;
            }
        }
        if self.overflow_opened > 0 {
            add_opened(
                &mut c.opened,
                OVERFLOW_RULE,
                Severity::Info,
                std::mem::take(&mut self.overflow_opened),
            );
        }
        if self.overflow_repeats > 0 {
            add_repeat(
                &mut c.repeats,
                OVERFLOW_RULE,
                std::mem::take(&mut self.overflow_repeats),
            );
        }
        c.overflowed += std::mem::take(&mut self.overflowed);
    }

    /// Forgets alerts of windows older than the previous one (once drained), and the
    /// references to them.
    fn sweep(&mut self) {
        if self.max_window == i64::MIN || self.max_window.saturating_sub(self.last_sweep) < 2 {
            return;
        }
        self.last_sweep = self.max_window;
        let keep_from = self.max_window - 1;
        for (i, slot) in self.slab.iter_mut().enumerate() {
            if slot
                .as_ref()
                .is_some_and(|a| a.window < keep_from && !a.dirty)
            {
                *slot = None;
                self.free.push(i as u32);
            }
        }
        let slab = &self.slab;
        let live = |r: &SlotRef| {
            slab.get(r.idx as usize)
                .and_then(Option::as_ref)
                .is_some_and(|a| a.gen == r.gen)
        };
        for ws in self.wl.iter_mut() {
            ws.alerts.retain(|_, r| live(r));
        }
        self.windows.retain(|&w, _| w >= keep_from);
    }

    /// Alerts currently open in memory (for tests and diagnostics).
    pub fn open_alerts(&self) -> usize {
        self.slab.iter().filter(|s| s.is_some()).count()
    }

    /// Workloads known (for tests and diagnostics).
    pub fn workloads(&self) -> usize {
        self.wl.len()
    }
}

fn add_opened(v: &mut Vec<(String, Severity, u64)>, name: &str, sev: Severity, n: u64) {
    match v.iter_mut().find(|(r, s, _)| r == name && *s == sev) {
        Some(e) => e.2 += n,
        None => v.push((name.to_string(), sev, n)),
    }
}

fn add_repeat(v: &mut Vec<(String, u64)>, name: &str, n: u64) {
    match v.iter_mut().find(|(r, _)| r == name) {
        Some(e) => e.1 += n,
        None => v.push((name.to_string(), n)),
    }
}

/// The syscall as shown: libseccomp's name, or the number.
fn syscall_text(ev: &Event) -> String {
    match ev.syscall() {
        Some(n) => n.to_string(),
        None => ev.syscall_nr.to_string(),
    }
}

#[inline]
fn any_glob(globs: &[super::glob::Glob], v: Option<&str>) -> bool {
    globs.is_empty() || v.is_some_and(|v| globs.iter().any(|g| g.matches(v)))
}

/// The stateless conditions of a rule or an exception.
#[inline]
fn matches(m: &Matcher, inp: &Input<'_>, abit: u16, sys: Option<SyscallId>) -> bool {
    if m.actions != 0 && m.actions & abit == 0 {
        return false;
    }
    if let Some(set) = &m.syscalls {
        if !sys.is_some_and(|id| set.contains(id)) {
            return false;
        }
    }
    if m.in_container.is_some_and(|b| inp.container.is_some() != b) {
        return false;
    }
    if m.profile_known
        .is_some_and(|b| inp.profile_hash.is_some() != b)
    {
        return false;
    }
    if !m.uids.is_empty() && !inp.event.uid.is_some_and(|u| m.uids.contains(&u)) {
        return false;
    }
    let c = inp.container;
    any_glob(&m.workloads, Some(inp.workload))
        && any_glob(&m.containers, c.and_then(|c| c.name.as_deref()))
        && any_glob(&m.namespaces, c.and_then(|c| c.namespace.as_deref()))
        && any_glob(&m.pods, c.and_then(|c| c.pod.as_deref()))
        && any_glob(&m.images, c.and_then(|c| c.image.as_deref()))
        && any_glob(&m.exes, inp.event.exe.as_deref())
        && any_glob(&m.comms, inp.event.comm.as_deref())
}

fn not_in_profile(
    profiles: &HashMap<String, Option<Arc<ProfileAllow>>>,
    hash: Option<&str>,
    arch: Option<ScmpArch>,
    sys: Option<SyscallId>,
) -> bool {
    let (Some(hash), Some(arch)) = (hash, arch) else {
        return false;
    };
    match profiles.get(hash) {
        Some(Some(p)) => !p.allows(arch, sys),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
