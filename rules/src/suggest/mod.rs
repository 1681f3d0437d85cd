//! Profile suggestion from observed SECCOMP events (pure): which logged calls to allow,
//! which logged-but-unused names to drop, and a report of everything else the evidence shows
//! (blocked calls, conditional entries, uncovered arches, compat calls). Also profile
//! generation ([`generate()`]), merging ([`merge()`]) and a unified diff ([`unified_diff`]).

mod arch;
mod diff;
pub mod essential;
pub mod fleet;
mod generate;
mod merge;

pub use diff::unified_diff;
pub use generate::{generate, GenerateDefault, GenerateOptions, Generated};
pub use merge::{merge, Conflict, ConflictKind, MergeError, Merged};

use crate::profile::{complain, uncomplain, Profile, ProfileError, Restored, SyscallRule};
use parsers::Action;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Observed events, aggregated per (arch, syscall, action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The libseccomp arch name, e.g. `SCMP_ARCH_X86_64`.
    pub arch: String,
    /// The libseccomp syscall name on `arch`, or the number as a string when unknown.
    pub syscall: String,
    /// True when the call was a compat (e.g. 32-bit on a 64-bit kernel) call.
    pub compat: bool,
    /// What the filter did.
    pub action: Action,
    pub count: u64,
    /// How many distinct containers made the call.
    pub containers: u64,
    /// The nodes that saw the call, sorted, without repeats (`""`: events without a node
    /// name); see [`fleet`].
    pub nodes: Vec<String>,
    /// Unix time in milliseconds.
    pub first_seen: i64,
    pub last_seen: i64,
    pub sample_comm: String,
    pub sample_exe: String,
}

/// What the observations of one syscall add up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub count: u64,
    /// The largest per-observation container count (observations may share containers).
    pub containers: u64,
    /// The distinct nodes over the observations (exact: the union of their node lists).
    pub nodes: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The arches it was seen on, sorted.
    pub arches: Vec<String>,
    /// The actions it got, sorted.
    pub actions: Vec<String>,
    /// True when every observation was a compat call.
    pub compat_only: bool,
    /// `comm`/`exe` of the observation with the highest count.
    pub sample_comm: String,
    pub sample_exe: String,
}

impl Evidence {
    /// The evidence of `obs`; `None` when empty.
    pub fn of<'a>(obs: impl IntoIterator<Item = &'a Observation>) -> Option<Evidence> {
        let mut ev: Option<Evidence> = None;
        let mut best = 0u64;
        let mut nodes: BTreeSet<&str> = BTreeSet::new();
        for o in obs {
            nodes.extend(o.nodes.iter().map(String::as_str));
            let e = ev.get_or_insert_with(|| Evidence {
                count: 0,
                containers: 0,
                nodes: 0,
                first_seen: o.first_seen,
                last_seen: o.last_seen,
                arches: Vec::new(),
                actions: Vec::new(),
                compat_only: true,
                sample_comm: o.sample_comm.clone(),
                sample_exe: o.sample_exe.clone(),
            });
            e.count = e.count.saturating_add(o.count);
            e.containers = e.containers.max(o.containers);
            e.first_seen = e.first_seen.min(o.first_seen);
            e.last_seen = e.last_seen.max(o.last_seen);
            if !e.arches.contains(&o.arch) {
                e.arches.push(o.arch.clone());
            }
            let action = o.action.to_string();
            if !e.actions.contains(&action) {
                e.actions.push(action);
            }
            e.compat_only &= o.compat;
            if o.count > best {
                best = o.count;
                e.sample_comm.clone_from(&o.sample_comm);
                e.sample_exe.clone_from(&o.sample_exe);
            }
        }
        if let Some(e) = ev.as_mut() {
            e.arches.sort();
            e.actions.sort();
            e.nodes = nodes.len() as u64;
        }
        ev
    }
}

/// The kinds of finding a suggestion, a generation or a merge reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Logged by an unconditional `SCMP_ACT_LOG` entry and observed: moved to the allow entry.
    AllowedFromLogEntry,
    /// Reached `defaultAction: SCMP_ACT_LOG` (listed nowhere): added to the allow entry.
    AllowedFromDefault,
    /// Observed (under another profile, e.g. its complain-mode copy), listed nowhere in this
    /// profile, whose default action denies it: what the workload needs, added to the allow
    /// entry.
    AllowedFromDenied,
    /// In `@dangerous`: would be allowed, but is held back without `--allow-dangerous` or
    /// `--allow NAME` (a LOG entry naming it is kept).
    Dangerous,
    /// In an unconditional `SCMP_ACT_LOG` entry, never observed: kept (no `tighten`).
    UnusedInLogEntry,
    /// In an unconditional `SCMP_ACT_LOG` entry, never observed: removed (`tighten`), so it
    /// falls to the default action.
    RemovedUnused,
    /// In an unconditional `SCMP_ACT_LOG` entry, never observed, with `enforce`: moved to
    /// the allow entry (it was allowed already; an enforced profile logs nothing).
    AllowedUnusedOnEnforce,
    /// Named in an entry with `args`, `includes` or `excludes`: such entries are never
    /// rewritten.
    Conditional,
    /// The profile blocked it (errno, kill, trap, ...): not allowed automatically.
    Blocked,
    /// Already allowed unconditionally: nothing to do.
    AlreadyAllowed,
    /// Observed, but an unconditional entry of this profile denies it (errno, kill, trap):
    /// a deliberate choice, not allowed automatically (`--allow NAME` does).
    DeniedByEntry,
    /// Observed, denied by an unconditional entry of this profile, and named by `--allow
    /// NAME`: removed from the denying entries and allowed.
    AllowedFromDeniedEntry,
    /// Logged, but this profile would not log it (another profile produced the events?).
    NotExplained,
    /// Seen on an arch the profile does not cover: not used for changes.
    ArchNotCovered,
    /// The native arch of a node the evidence came from (e.g. an aarch64 node beside
    /// x86_64 ones), missing from the profile's `architectures`: its family is added, so
    /// that the profile says what it filters on every node (the kernel filters the
    /// native arch whatever the list says).
    ArchAdded,
    /// Seen only as a compat call (e.g. `SCMP_ARCH_X86` on an x86_64 kernel).
    CompatOnly,
    /// Seen only by number (no libseccomp name on its arch): cannot be written.
    UnknownSyscall,
    /// Seen fewer than `min_count` times: ignored.
    BelowMinCount,
    /// A signal return or `restart_syscall` (see [`essential`]): allowed whether observed or
    /// not, because the result denies what it does not list and no run shows these reliably.
    AllowedEssential,
    /// A signal return or `restart_syscall` that an entry of this profile denies: kept (the
    /// profile chose it), but a process that returns from a signal handler crashes under it.
    EssentialDeniedByEntry,
}

impl FindingKind {
    /// A short human description.
    pub fn describe(self) -> &'static str {
        match self {
            FindingKind::AllowedFromLogEntry => "logged by a LOG entry and observed: now allowed",
            FindingKind::AllowedFromDefault => "reached the LOG default action: now allowed",
            FindingKind::AllowedFromDenied => {
                "observed, and this profile's default action would deny it: now allowed"
            }
            FindingKind::Dangerous => {
                "DANGEROUS (@dangerous): held back, allow with --allow-dangerous or --allow NAME"
            }
            FindingKind::UnusedInLogEntry => "in a LOG entry but never observed (kept)",
            FindingKind::RemovedUnused => "in a LOG entry but never observed: removed",
            FindingKind::AllowedUnusedOnEnforce => {
                "in a LOG entry, never observed: allowed without logging (--enforce)"
            }
            FindingKind::Conditional => "conditional entry (args/includes/excludes), not changed",
            FindingKind::Blocked => "blocked by the profile (not allowed automatically)",
            FindingKind::AlreadyAllowed => "already allowed",
            FindingKind::DeniedByEntry => {
                "observed, but an entry of this profile denies it (not allowed automatically; --allow NAME does)"
            }
            FindingKind::AllowedFromDeniedEntry => {
                "observed, denied by an entry of this profile: allowed (--allow NAME)"
            }
            FindingKind::NotExplained => "logged, but this profile would not log it",
            FindingKind::ArchNotCovered => "seen on an arch the profile does not cover",
            FindingKind::ArchAdded => {
                "native arch of a node the evidence came from: added to architectures"
            }
            FindingKind::CompatOnly => "seen only as a compat (32-bit) call",
            FindingKind::UnknownSyscall => "seen only by number (unknown name), not written",
            FindingKind::BelowMinCount => "seen fewer times than the minimum count, ignored",
            FindingKind::AllowedEssential => {
                "signal return or restart, allowed without evidence (a denied one kills the process; runs show them only when a signal arrives)"
            }
            FindingKind::EssentialDeniedByEntry => {
                "WARNING: signal return or restart denied by an entry of this profile (a process returning from a signal handler crashes)"
            }
        }
    }
}

/// One reported fact about one syscall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub syscall: String,
    /// Indexes of the profile's `syscalls` entries concerned (in the input profile).
    pub entries: Vec<usize>,
    pub evidence: Option<Evidence>,
}

/// Which `@dangerous` calls may be allowed (see [`FindingKind::Dangerous`]), and which calls
/// an entry of the profile denies may be allowed all the same (see
/// [`FindingKind::AllowedFromDeniedEntry`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DangerousPolicy {
    /// Every `@dangerous` call (`--allow-dangerous`; not the ones an entry denies).
    pub all: bool,
    /// These (`--allow NAME`): `@dangerous` calls, and calls an entry denies.
    pub names: BTreeSet<String>,
}

impl DangerousPolicy {
    /// True when `syscall` is in `@dangerous` and not permitted by this policy.
    pub fn holds_back(&self, syscall: &str) -> bool {
        !self.all && is_dangerous_syscall(syscall) && !self.names.contains(syscall)
    }
}

/// True when `syscall` is in the built-in `@dangerous` group.
pub fn is_dangerous_syscall(syscall: &str) -> bool {
    crate::engine::syscalls::builtin_group("dangerous").is_some_and(|g| g.contains(&syscall))
}

/// Options of [`suggest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestOptions {
    /// Calls seen fewer times than this (summed over arches) are ignored.
    pub min_count: u64,
    /// Remove never-observed names from `SCMP_ACT_LOG` entries.
    pub tighten: bool,
    /// Write the result with a denying default: `SCMP_ACT_LOG` becomes `SCMP_ACT_ERRNO`
    /// (EPERM); any other default action is kept.
    pub enforce: bool,
    /// Which `@dangerous` calls may be allowed.
    pub dangerous: DangerousPolicy,
    /// The native arches of the nodes the evidence came from (see
    /// [`fleet::Fleet::native_arches`]): a profile filters its node's native arch whatever
    /// its `architectures` say, so calls on these arches count as covered, and a missing
    /// one is added to an explicit `architectures` list ([`FindingKind::ArchAdded`]).
    /// Empty: only what the profile lists counts.
    pub node_arches: BTreeSet<String>,
    /// Allow the signal returns and `restart_syscall` when the result would deny them
    /// ([`FindingKind::AllowedEssential`]; on by default, `--no-essentials` turns it off).
    pub essentials: bool,
}

impl Default for SuggestOptions {
    fn default() -> SuggestOptions {
        SuggestOptions {
            min_count: 1,
            tighten: false,
            enforce: false,
            dangerous: DangerousPolicy::default(),
            node_arches: BTreeSet::new(),
            essentials: true,
        }
    }
}

/// The result of [`suggest`]: the input profile, the suggested one, and the findings.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// The input profile (pretty-printed when it came compact, as runtimes store it).
    pub original: Profile,
    pub profile: Profile,
    /// Sorted by kind, then syscall.
    pub findings: Vec<Finding>,
    /// When the input was a complain copy (see [`crate::profile::complain`]): the original
    /// it was judged as (entry indexes of the findings are the same in both).
    pub restored: Option<Restored>,
}

impl Suggestion {
    /// True when the suggested profile differs from the input (`--check` fails then).
    pub fn changed(&self) -> bool {
        self.original.to_json() != self.profile.to_json()
    }

    /// The unified diff of the input and suggested profile texts (empty when unchanged).
    pub fn diff(&self, path: &str) -> String {
        unified_diff(&self.original.to_json(), &self.profile.to_json(), path)
    }

    /// The findings of one kind.
    pub fn of_kind(&self, kind: FindingKind) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.kind == kind)
    }

    /// The names the suggestion allows (moved from LOG entries, from the LOG default, or
    /// from the denying default).
    pub fn newly_allowed(&self) -> BTreeSet<&str> {
        self.findings
            .iter()
            .filter(|f| {
                matches!(
                    f.kind,
                    FindingKind::AllowedFromLogEntry
                        | FindingKind::AllowedFromDefault
                        | FindingKind::AllowedFromDenied
                        | FindingKind::AllowedFromDeniedEntry
                        | FindingKind::AllowedEssential
                )
            })
            .map(|f| f.syscall.as_str())
            .collect()
    }

    /// The `@dangerous` calls held back (they need `--allow-dangerous` or `--allow NAME`).
    pub fn held_back(&self) -> BTreeSet<&str> {
        self.of_kind(FindingKind::Dangerous)
            .map(|f| f.syscall.as_str())
            .collect()
    }

    /// The observed calls an entry of the profile denies (they need `--allow NAME`).
    pub fn denied_by_entry(&self) -> BTreeSet<&str> {
        self.of_kind(FindingKind::DeniedByEntry)
            .map(|f| f.syscall.as_str())
            .collect()
    }
}

/// True when `s` is a syscall number rather than a name.
fn is_number(s: &str) -> bool {
    s.parse::<i64>().is_ok()
        || s.strip_prefix("0x")
            .is_some_and(|h| i64::from_str_radix(h, 16).is_ok())
}

/// The index of the entry new allowed names go to: the unconditional allow entry with a
/// `names` list that has the most names (the first on a tie).
pub(crate) fn allow_target(rules: &[SyscallRule]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (i, r) in rules.iter().enumerate() {
        if r.is_unconditional(Action::Allow) {
            if let Some(names) = &r.names {
                let better = match best {
                    None => true,
                    Some((_, n)) => names.len() > n,
                };
                if better {
                    best = Some((i, names.len()));
                }
            }
        }
    }
    best.map(|(i, _)| i)
}

/// Suggests changes to `profile` from `observations` (see [`FindingKind`] for what each
/// observation leads to). Only unconditional `SCMP_ACT_LOG` entries and the unconditional
/// allow entry are edited (and, with `--allow NAME`, the denying entries naming NAME);
/// everything else is kept byte for byte.
///
/// A complain copy (made by [`crate::profile::complain`], which records what it changed) is
/// judged as its original: a call an entry of the original denied is reported, not allowed;
/// with `enforce` the result is the original with what the evidence needs allowed (its
/// default action and `errnoRet`s back); without, it is that result's complain copy again.
pub fn suggest(
    profile: &Profile,
    observations: &[Observation],
    opts: &SuggestOptions,
) -> Result<Suggestion, ProfileError> {
    let Some(restored) = uncomplain(profile)? else {
        return suggest_plain(profile, observations, opts);
    };
    let mut s = suggest_plain(&restored.profile, observations, opts)?;
    if !opts.enforce {
        s.profile = complain(&s.profile)?.profile;
    }
    s.original = if profile.is_compact() {
        profile.pretty()
    } else {
        profile.clone()
    };
    s.restored = Some(restored);
    Ok(s)
}

fn suggest_plain(
    profile: &Profile,
    observations: &[Observation],
    opts: &SuggestOptions,
) -> Result<Suggestion, ProfileError> {
    let spec = profile.spec();
    let rules = spec.rules();
    let default_action = spec.parsed_default_action();
    let default_denies = default_action.is_some_and(crate::profile::is_denying);
    let covered = spec.covered_arches();
    let is_covered = |o: &Observation| {
        if covered.is_empty() {
            // No architectures: libseccomp filters the native arch only.
            !o.compat
        } else {
            covered.contains(&o.arch) || (!o.compat && opts.node_arches.contains(&o.arch))
        }
    };
    // Native arches of the evidence's nodes that an explicit `architectures` list lacks:
    // their families are added (native first, Docker's order).
    let mut arches_to_add: Vec<String> = Vec::new();
    if spec.architectures.as_ref().is_some_and(|a| !a.is_empty()) {
        let mut natives: Vec<&String> = opts
            .node_arches
            .iter()
            .filter(|a| !covered.contains(a))
            .collect();
        natives.sort_by_key(|a| (arch::order(a), a.as_str()));
        for n in natives {
            for a in arch::family(n) {
                if !covered.contains(&a) && !arches_to_add.contains(&a) {
                    arches_to_add.push(a);
                }
            }
        }
    }

    let mut by_name: BTreeMap<&str, Vec<&Observation>> = BTreeMap::new();
    for o in observations {
        by_name.entry(o.syscall.as_str()).or_default().push(o);
    }

    // The entries naming each syscall, in order.
    let mut index: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        for n in r.all_names() {
            let v = index.entry(n).or_default();
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
    }
    let entries_where = |name: &str, pred: &dyn Fn(&SyscallRule) -> bool| -> Vec<usize> {
        index
            .get(name)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| pred(&rules[i]))
            .collect()
    };

    let mut findings = Vec::new();
    let mut finding = |kind, syscall: &str, entries: Vec<usize>, evidence: Option<Evidence>| {
        findings.push(Finding {
            kind,
            syscall: syscall.to_string(),
            entries,
            evidence,
        });
    };
    let mut to_allow: BTreeSet<String> = BTreeSet::new();
    let mut from_log: BTreeSet<String> = BTreeSet::new();
    // Names to take out of denying entries (`--allow NAME`), per entry.
    let mut from_denied: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let holds_back = |name: &str| opts.dangerous.holds_back(name);

    for (&name, obs) in &by_name {
        if is_number(name) {
            finding(
                FindingKind::UnknownSyscall,
                name,
                vec![],
                Evidence::of(obs.iter().copied()),
            );
            continue;
        }
        let all = Evidence::of(obs.iter().copied());
        if all.as_ref().is_some_and(|e| e.compat_only) {
            finding(FindingKind::CompatOnly, name, vec![], all.clone());
        }
        let uncovered = obs.iter().copied().filter(|o| !is_covered(o));
        if let Some(ev) = Evidence::of(uncovered) {
            finding(FindingKind::ArchNotCovered, name, vec![], Some(ev));
        }
        let covered_obs: Vec<&Observation> =
            obs.iter().copied().filter(|o| is_covered(o)).collect();
        let with = |pred: &dyn Fn(Action) -> bool| {
            Evidence::of(covered_obs.iter().copied().filter(|o| pred(o.action)))
        };
        let named = entries_where(name, &|_| true);
        if let Some(ev) = with(&|a| a != Action::Log && a != Action::Allow) {
            finding(FindingKind::Blocked, name, named.clone(), Some(ev));
        }
        let Some(ev) = with(&|a| a == Action::Log) else {
            if let Some(ev) = with(&|a| a == Action::Allow) {
                finding(FindingKind::AlreadyAllowed, name, named, Some(ev));
            }
            continue;
        };
        if ev.count < opts.min_count {
            finding(FindingKind::BelowMinCount, name, named, Some(ev));
            continue;
        }
        let log_entries = entries_where(name, &|r| r.is_unconditional(Action::Log));
        let conditional = entries_where(name, &SyscallRule::is_conditional);
        let allowed = entries_where(name, &|r| r.is_unconditional(Action::Allow));
        let denied = entries_where(name, &|r| {
            !r.is_conditional() && r.parsed_action().is_some_and(crate::profile::is_denying)
        });
        // Would be allowed; a dangerous call needs the user's word.
        let would_allow = log_entries.is_empty()
            && conditional.is_empty()
            && allowed.is_empty()
            && named.is_empty()
            && (default_action == Some(Action::Log) || default_denies);
        if (!log_entries.is_empty() || would_allow) && holds_back(name) {
            finding(FindingKind::Dangerous, name, named, Some(ev));
            continue;
        }
        if !log_entries.is_empty() {
            to_allow.insert(name.to_string());
            from_log.insert(name.to_string());
            finding(
                FindingKind::AllowedFromLogEntry,
                name,
                log_entries,
                Some(ev.clone()),
            );
            if !conditional.is_empty() {
                finding(FindingKind::Conditional, name, conditional, Some(ev));
            }
        } else if !conditional.is_empty() {
            finding(FindingKind::Conditional, name, conditional, Some(ev));
        } else if !allowed.is_empty() {
            finding(FindingKind::AlreadyAllowed, name, allowed, Some(ev));
        } else if !denied.is_empty() && opts.dangerous.names.contains(name) {
            to_allow.insert(name.to_string());
            for &i in &denied {
                from_denied.entry(i).or_default().insert(name.to_string());
            }
            finding(FindingKind::AllowedFromDeniedEntry, name, denied, Some(ev));
        } else if !denied.is_empty() {
            finding(FindingKind::DeniedByEntry, name, denied, Some(ev));
        } else if !named.is_empty() {
            finding(FindingKind::NotExplained, name, named, Some(ev));
        } else if default_action == Some(Action::Log) {
            to_allow.insert(name.to_string());
            finding(FindingKind::AllowedFromDefault, name, vec![], Some(ev));
        } else if default_denies {
            to_allow.insert(name.to_string());
            finding(FindingKind::AllowedFromDenied, name, vec![], Some(ev));
        } else if default_action == Some(Action::Allow) {
            finding(FindingKind::AlreadyAllowed, name, vec![], Some(ev));
        } else {
            finding(FindingKind::NotExplained, name, vec![], Some(ev));
        }
    }

    // The signal returns and restart_syscall: allowed when the result would deny them, since
    // no evidence shows them reliably (see `essential`).
    let result_denies = opts.essentials
        && (default_denies || (opts.enforce && default_action == Some(Action::Log)));
    if result_denies {
        let arches: Vec<&str> = covered
            .iter()
            .chain(&arches_to_add)
            .chain(&opts.node_arches)
            .map(String::as_str)
            .collect();
        for name in essential::names(arches) {
            let ev = by_name
                .get(name)
                .and_then(|obs| Evidence::of(obs.iter().copied()));
            let denied = entries_where(name, &|r| {
                r.parsed_action().is_some_and(crate::profile::is_denying)
            });
            if !denied.is_empty() {
                finding(FindingKind::EssentialDeniedByEntry, name, denied, ev);
            } else if !to_allow.contains(name) && !index.contains_key(name) {
                to_allow.insert(name.to_string());
                finding(FindingKind::AllowedEssential, name, vec![], ev);
            }
        }
    }

    // Names in unconditional LOG entries that nothing observed (any arch, any count).
    let mut unused: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let log_entries: Vec<usize> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_unconditional(Action::Log))
        .map(|(i, _)| i)
        .collect();
    for &i in &log_entries {
        for n in rules[i].all_names() {
            if !by_name.contains_key(n) {
                unused.entry(n.to_string()).or_default().push(i);
            }
        }
    }
    // --enforce (without --tighten): the result is final, so LOG entries stop logging;
    // their names were allowed already and stay allowed (dangerous ones stay LOG).
    let mut enforced_unused: BTreeSet<String> = BTreeSet::new();
    for (n, entries) in &unused {
        let kind = if opts.tighten && result_denies && essential::is_essential(n) {
            // Removing it would let the default deny it.
            enforced_unused.insert(n.clone());
            FindingKind::AllowedEssential
        } else if opts.tighten {
            FindingKind::RemovedUnused
        } else if opts.enforce && !holds_back(n) {
            enforced_unused.insert(n.clone());
            FindingKind::AllowedUnusedOnEnforce
        } else {
            FindingKind::UnusedInLogEntry
        };
        finding(kind, n, entries.clone(), None);
    }
    to_allow.extend(enforced_unused.iter().cloned());

    // A compact profile (as a runtime stores it) is pretty-printed first: the diff then
    // shows entries, not one long line.
    let base = if profile.is_compact() {
        profile.pretty()
    } else {
        profile.clone()
    };

    // Edits: append to the allow entry, strip the LOG entries (last first, so that removing
    // an emptied entry does not shift the ones still to do), then create the allow entry.
    let mut out = base.clone();
    let target = allow_target(rules);
    let new_names: Vec<String> = match target {
        Some(t) => to_allow
            .iter()
            .filter(|n| !rules[t].has_name(n))
            .cloned()
            .collect(),
        None => to_allow.iter().cloned().collect(),
    };
    if let Some(t) = target {
        out.append_names(t, &new_names)?;
    }
    let mut strip = from_log;
    strip.extend(enforced_unused);
    if opts.tighten {
        strip.extend(unused.into_keys());
    }
    let mut strip_at: BTreeMap<usize, &BTreeSet<String>> = BTreeMap::new();
    for &i in &log_entries {
        if rules[i].all_names().any(|n| strip.contains(n)) {
            strip_at.insert(i, &strip);
        }
    }
    for (&i, names) in &from_denied {
        strip_at.insert(i, names);
    }
    let mut removed: Vec<usize> = Vec::new();
    for (&i, names) in strip_at.iter().rev() {
        if out.remove_names(i, names)? == 0 {
            out.remove_entry(i)?;
            removed.push(i);
        }
    }
    if target.is_none() && !new_names.is_empty() {
        let after = rules
            .iter()
            .rposition(|r| r.is_unconditional(Action::Allow))
            .or_else(|| {
                rules
                    .iter()
                    .rposition(|r| r.parsed_action() == Some(Action::Allow))
            });
        let at = after.map_or(rules.len(), |i| i + 1);
        let at = at - removed.iter().filter(|&&r| r < at).count();
        out.insert_entry(at, &SyscallRule::new(new_names, "SCMP_ACT_ALLOW"))?;
    }

    if opts.enforce && default_action == Some(Action::Log) {
        out.set_default_action("SCMP_ACT_ERRNO")?;
    }
    if out.append_architectures(&arches_to_add)? > 0 {
        for a in &arches_to_add {
            let ev = Evidence::of(observations.iter().filter(|o| &o.arch == a && !o.compat));
            finding(FindingKind::ArchAdded, a, vec![], ev);
        }
    }

    findings.sort_by(|a, b| (a.kind, &a.syscall).cmp(&(b.kind, &b.syscall)));
    Ok(Suggestion {
        original: base,
        profile: out,
        findings,
        restored: None,
    })
}

#[cfg(test)]
mod tests;
