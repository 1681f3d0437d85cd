//! Merging profiles: the union of their unconditional allow lists, every other entry kept,
//! and the disagreements between them reported as conflicts.

use crate::profile::{ArchMapEntry, Profile, ProfileSpec, SyscallRule};
use parsers::Action;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What two or more merged profiles disagree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Different `defaultAction`: the first profile's is kept.
    DefaultAction,
    /// Different `defaultErrnoRet`: the first profile's is kept.
    DefaultErrnoRet,
    /// Different `architectures`/`archMap`: the union is written.
    Architectures,
    /// A syscall allowed unconditionally in one profile and given another action
    /// (unconditionally or by a conditional entry) in another: it is allowed; or given two
    /// different unconditional non-allow actions: the first profile's is kept.
    SyscallAction,
}

/// One conflict; `profiles` are indexes into the merged list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub kind: ConflictKind,
    pub syscall: Option<String>,
    pub profiles: Vec<usize>,
    /// What each side says, e.g. `#0: SCMP_ACT_ERRNO, #1: SCMP_ACT_LOG`.
    pub detail: String,
}

/// Why profiles could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("no profile to merge")]
    NoProfiles,
}

/// The merged profile and the conflicts met.
#[derive(Debug, Clone)]
pub struct Merged {
    pub profile: Profile,
    pub conflicts: Vec<Conflict>,
}

/// Records a conflict when `name`, given action `side` by profile `i`, is allowed
/// unconditionally by another profile (a profile that does both keeps its own design).
fn note_allowed_elsewhere(
    conflicts: &mut BTreeMap<String, BTreeMap<usize, String>>,
    allowed: &BTreeMap<String, Vec<usize>>,
    name: &str,
    i: usize,
    side: String,
) {
    let Some(ps) = allowed.get(name) else {
        return;
    };
    if ps.iter().all(|&p| p == i) {
        return;
    }
    let c = conflicts.entry(name.to_string()).or_default();
    for &p in ps {
        c.entry(p).or_insert_with(|| "SCMP_ACT_ALLOW".to_string());
    }
    c.entry(i).or_insert(side);
}

fn sides<T: std::fmt::Debug>(values: &[(usize, T)]) -> String {
    values
        .iter()
        .map(|(i, v)| format!("#{i}: {v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Merges `profiles`: top-level fields from the first (unknown fields from any), the union
/// of architectures, archMap and flags, one unconditional allow entry (first) with the sorted
/// union of every unconditional allow list, then every other entry in profile order
/// (duplicates dropped; names already allowed dropped from unconditional non-allow entries).
/// Written with the first profile's indentation.
pub fn merge(profiles: &[Profile]) -> Result<Merged, MergeError> {
    let first = profiles.first().ok_or(MergeError::NoProfiles)?;
    let specs: Vec<&ProfileSpec> = profiles.iter().map(Profile::spec).collect();
    let mut conflicts = Vec::new();

    let mut spec = specs[0].clone();
    spec.syscalls = None;

    let defaults: Vec<(usize, &str)> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.default_action.as_str()))
        .collect();
    let parsed: BTreeSet<Option<Action>> =
        specs.iter().map(|s| s.parsed_default_action()).collect();
    if parsed.len() > 1 {
        conflicts.push(Conflict {
            kind: ConflictKind::DefaultAction,
            syscall: None,
            profiles: (0..specs.len()).collect(),
            detail: sides(&defaults),
        });
    }
    let errnos: Vec<(usize, Option<u32>)> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.default_errno_ret))
        .collect();
    if errnos.iter().any(|(_, e)| *e != errnos[0].1) {
        conflicts.push(Conflict {
            kind: ConflictKind::DefaultErrnoRet,
            syscall: None,
            profiles: (0..specs.len()).collect(),
            detail: sides(&errnos),
        });
    }

    // Arches: union, in order of appearance.
    let mut arch_sets = Vec::new();
    let mut architectures: Vec<String> = Vec::new();
    let mut arch_map: Vec<ArchMapEntry> = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        arch_sets.push((i, s.covered_arches().into_iter().collect::<BTreeSet<_>>()));
        for a in s.architectures.iter().flatten() {
            if !architectures.contains(a) {
                architectures.push(a.clone());
            }
        }
        for m in s.arch_map.iter().flatten() {
            match arch_map
                .iter_mut()
                .find(|x| x.architecture == m.architecture)
            {
                Some(x) => {
                    for sub in m.sub_architectures.iter().flatten() {
                        let subs = x.sub_architectures.get_or_insert_with(Vec::new);
                        if !subs.contains(sub) {
                            subs.push(sub.clone());
                        }
                    }
                }
                None => arch_map.push(m.clone()),
            }
        }
        for f in s.flags.iter().flatten() {
            let flags = spec.flags.get_or_insert_with(Vec::new);
            if !flags.contains(f) {
                flags.push(f.clone());
            }
        }
        for (k, v) in &s.extra {
            if !spec.extra.contains_key(k) {
                spec.extra.insert(k.clone(), v.clone());
            }
        }
        if spec.listener_path.is_none() {
            spec.listener_path.clone_from(&s.listener_path);
        }
        if spec.listener_metadata.is_none() {
            spec.listener_metadata.clone_from(&s.listener_metadata);
        }
    }
    if arch_sets.iter().any(|(_, s)| *s != arch_sets[0].1) {
        conflicts.push(Conflict {
            kind: ConflictKind::Architectures,
            syscall: None,
            profiles: (0..specs.len()).collect(),
            detail: sides(&arch_sets),
        });
    }
    spec.architectures = (!architectures.is_empty()).then_some(architectures);
    spec.arch_map = (!arch_map.is_empty()).then_some(arch_map);

    // The allow union, and where each name is allowed.
    let mut allowed: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, s) in specs.iter().enumerate() {
        for r in s
            .rules()
            .iter()
            .filter(|r| r.is_unconditional(Action::Allow))
        {
            for n in r.all_names() {
                let v = allowed.entry(n.to_string()).or_default();
                if !v.contains(&i) {
                    v.push(i);
                }
            }
        }
    }

    let mut rules: Vec<SyscallRule> = Vec::new();
    if !allowed.is_empty() {
        rules.push(SyscallRule::new(
            allowed.keys().cloned().collect(),
            "SCMP_ACT_ALLOW",
        ));
    }
    // Unconditional non-allow action of each name: (action, profile) of the first.
    let mut assigned: BTreeMap<String, (Option<Action>, String, usize)> = BTreeMap::new();
    let mut syscall_conflicts: BTreeMap<String, BTreeMap<usize, String>> = BTreeMap::new();
    for (i, s) in specs.iter().enumerate() {
        for r in s.rules() {
            if r.is_unconditional(Action::Allow) {
                continue;
            }
            if r.is_conditional() {
                if r.parsed_action() != Some(Action::Allow) {
                    for n in r.all_names() {
                        let side = format!("{} (conditional)", r.action);
                        note_allowed_elsewhere(&mut syscall_conflicts, &allowed, n, i, side);
                    }
                }
                if !rules.contains(r) {
                    rules.push(r.clone());
                }
                continue;
            }
            let action = r.parsed_action();
            let mut keep = Vec::new();
            for n in r.all_names() {
                if allowed.contains_key(n) {
                    note_allowed_elsewhere(
                        &mut syscall_conflicts,
                        &allowed,
                        n,
                        i,
                        r.action.clone(),
                    );
                    continue;
                }
                match assigned.get(n) {
                    Some((a, _, _)) if *a == action => {}
                    Some((_, first_action, p)) => {
                        let c = syscall_conflicts.entry(n.to_string()).or_default();
                        c.entry(*p).or_insert_with(|| first_action.clone());
                        c.entry(i).or_insert_with(|| r.action.clone());
                    }
                    None => {
                        assigned.insert(n.to_string(), (action, r.action.clone(), i));
                        keep.push(n.to_string());
                    }
                }
            }
            if keep.is_empty() {
                continue;
            }
            let mut rule = r.clone();
            rule.name = None;
            rule.names = Some(keep);
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
    }
    for (name, c) in syscall_conflicts {
        let sides_list: Vec<(usize, String)> = c.into_iter().collect();
        conflicts.push(Conflict {
            kind: ConflictKind::SyscallAction,
            syscall: Some(name),
            profiles: sides_list.iter().map(|(i, _)| *i).collect(),
            detail: sides(&sides_list),
        });
    }
    spec.syscalls = Some(rules);

    Ok(Merged {
        profile: Profile::from_spec_with_indent(&spec, first.indent()),
        conflicts,
    })
}
