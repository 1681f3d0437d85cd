//! Least-privilege profile generation from observations: one allow entry with every call the
//! workload made, everything else to the default action.

use super::arch;
use super::{DangerousPolicy, Evidence, Finding, FindingKind, Observation};
use crate::profile::{Profile, ProfileSpec, SyscallRule};
use parsers::Action;
use std::collections::{BTreeMap, BTreeSet};

/// The default action of a generated profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GenerateDefault {
    /// `SCMP_ACT_ERRNO` with `defaultErrnoRet: 1` (EPERM): enforce.
    #[default]
    Errno,
    /// `SCMP_ACT_LOG`: audit what else the workload does (a first step before enforcing).
    Log,
}

/// Options of [`generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    pub default_action: GenerateDefault,
    /// Calls seen fewer times than this are left out (and reported).
    pub min_count: u64,
    /// Which `@dangerous` calls may be written (the others are reported, not written).
    pub dangerous: DangerousPolicy,
    /// With a denying default, allow the signal returns and `restart_syscall` whether
    /// observed or not ([`FindingKind::AllowedEssential`]; on by default).
    pub essentials: bool,
}

impl Default for GenerateOptions {
    fn default() -> GenerateOptions {
        GenerateOptions {
            default_action: GenerateDefault::Errno,
            min_count: 1,
            dangerous: DangerousPolicy::default(),
            essentials: true,
        }
    }
}

/// A generated profile and what was left out of it.
#[derive(Debug, Clone)]
pub struct Generated {
    pub profile: Profile,
    /// Sorted by kind, then syscall: `UnknownSyscall`, `Blocked` (the call was blocked, not
    /// logged: left out), `BelowMinCount`, `Dangerous` (held back), `CompatOnly`
    /// (informational).
    pub findings: Vec<Finding>,
}

/// Generates a least-privilege profile: `architectures` = every observed arch's family
/// (native first, then its compat arches, in Docker's order), one `SCMP_ACT_ALLOW` entry with
/// every logged or allowed call's name, sorted (with a denying default, and the signal
/// returns and `restart_syscall`: see [`super::essential`]). Calls known only by number,
/// calls the observed profile blocked and calls below `min_count` are reported, not written.
pub fn generate(observations: &[Observation], opts: &GenerateOptions) -> Generated {
    let mut natives: BTreeSet<(usize, String)> = BTreeSet::new();
    let mut by_name: BTreeMap<&str, Vec<&Observation>> = BTreeMap::new();
    for o in observations {
        let native = arch::native_of(&o.arch, o.compat);
        natives.insert((arch::order(native), native.to_string()));
        by_name.entry(o.syscall.as_str()).or_default().push(o);
    }
    let mut architectures: Vec<String> = Vec::new();
    for (_, native) in &natives {
        for a in arch::family(native) {
            if !architectures.contains(&a) {
                architectures.push(a);
            }
        }
    }

    let mut findings = Vec::new();
    let mut names = Vec::new();
    for (&name, obs) in &by_name {
        let ev = |pred: &dyn Fn(Action) -> bool| {
            Evidence::of(obs.iter().copied().filter(|o| pred(o.action)))
        };
        let push = |findings: &mut Vec<Finding>, kind, evidence| {
            findings.push(Finding {
                kind,
                syscall: name.to_string(),
                entries: vec![],
                evidence,
            })
        };
        if super::is_number(name) {
            push(&mut findings, FindingKind::UnknownSyscall, ev(&|_| true));
            continue;
        }
        let all = ev(&|_| true);
        if all.as_ref().is_some_and(|e| e.compat_only) {
            push(&mut findings, FindingKind::CompatOnly, all);
        }
        let ran = ev(&|a| a == Action::Log || a == Action::Allow);
        if let Some(blocked) = ev(&|a| a != Action::Log && a != Action::Allow) {
            if ran.is_none() {
                push(&mut findings, FindingKind::Blocked, Some(blocked));
            }
        }
        match ran {
            Some(e) if e.count >= opts.min_count && opts.dangerous.holds_back(name) => {
                push(&mut findings, FindingKind::Dangerous, Some(e))
            }
            Some(e) if e.count >= opts.min_count => names.push(name.to_string()),
            Some(e) => push(&mut findings, FindingKind::BelowMinCount, Some(e)),
            None => {}
        }
    }
    if opts.essentials && opts.default_action == GenerateDefault::Errno && !observations.is_empty()
    {
        for name in super::essential::names(architectures.iter().map(String::as_str)) {
            if !names.iter().any(|n| n == name) {
                let evidence = by_name
                    .get(name)
                    .and_then(|obs| Evidence::of(obs.iter().copied()));
                names.push(name.to_string());
                findings.push(Finding {
                    kind: FindingKind::AllowedEssential,
                    syscall: name.to_string(),
                    entries: vec![],
                    evidence,
                });
            }
        }
        names.sort();
    }
    findings.sort_by(|a, b| (a.kind, &a.syscall).cmp(&(b.kind, &b.syscall)));

    let (default_action, default_errno_ret) = match opts.default_action {
        GenerateDefault::Errno => ("SCMP_ACT_ERRNO", Some(1)),
        GenerateDefault::Log => ("SCMP_ACT_LOG", None),
    };
    let mut syscalls = Vec::new();
    if !names.is_empty() {
        syscalls.push(SyscallRule::new(names, "SCMP_ACT_ALLOW"));
    }
    let spec = ProfileSpec {
        default_action: default_action.to_string(),
        default_errno_ret,
        architectures: Some(architectures),
        syscalls: Some(syscalls),
        ..ProfileSpec::default()
    };
    Generated {
        profile: Profile::from_spec(&spec),
        findings,
    }
}
