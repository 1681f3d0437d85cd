//! Human output of the profile commands: the evidence table (one row per arch, syscall and
//! action seen) and the findings in plain words. Every value that came from a record or a
//! profile file goes through [`parsers::escape::escape`].

use std::collections::BTreeMap;
use std::fmt::Write;

use parsers::escape::escape;
use rules::suggest::fleet::Fleet;
use rules::suggest::{Conflict, Finding, FindingKind, Observation};

/// Formats rows as aligned columns (two spaces apart; the last column is not padded).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, v) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(v.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            l.push_str(c);
            if i + 1 < widths.len() {
                let pad = widths[i].saturating_sub(c.chars().count());
                l.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
    out
}

/// The evidence table of `observations`: syscall, arch (`(compat)` for compat calls),
/// action seen, count, containers, nodes, first and last seen (UTC), a sample comm and exe.
/// Sorted by syscall, arch, action. Empty input gives a one-line note.
pub fn evidence_table(observations: &[Observation]) -> String {
    if observations.is_empty() {
        return "no SECCOMP events for this selection\n".to_string();
    }
    let mut obs: Vec<&Observation> = observations.iter().collect();
    obs.sort_by(|a, b| {
        (&a.syscall, &a.arch, a.compat, a.action.to_string()).cmp(&(
            &b.syscall,
            &b.arch,
            b.compat,
            b.action.to_string(),
        ))
    });
    let rows: Vec<Vec<String>> = obs
        .iter()
        .map(|o| {
            let arch = if o.compat {
                format!("{} (compat)", o.arch)
            } else {
                o.arch.clone()
            };
            vec![
                escape(&o.syscall).into_owned(),
                escape(&arch).into_owned(),
                escape(&o.action.to_string()).into_owned(),
                o.count.to_string(),
                o.containers.to_string(),
                o.nodes.len().to_string(),
                parsers::time::rfc3339_ms(o.first_seen),
                parsers::time::rfc3339_ms(o.last_seen),
                escape(&o.sample_comm).into_owned(),
                escape(&o.sample_exe).into_owned(),
            ]
        })
        .collect();
    table(
        &[
            "SYSCALL",
            "ARCH",
            "ACTION",
            "COUNT",
            "CONTAINERS",
            "NODES",
            "FIRST SEEN",
            "LAST SEEN",
            "COMM",
            "EXE",
        ],
        &rows,
    )
}

/// Shortens a profile hash for humans.
fn short(hash: &str) -> String {
    escape(&hash.chars().take(12).collect::<String>()).into_owned()
}

/// Nodes, at most this many named per line (the rest counted).
const NODES_NAMED: usize = 20;

fn node_list(nodes: &[String]) -> String {
    let mut names: Vec<String> = nodes
        .iter()
        .take(NODES_NAMED)
        .map(|n| {
            if n.is_empty() {
                "(unnamed)".to_string()
            } else {
                escape(n).into_owned()
            }
        })
        .collect();
    if nodes.len() > NODES_NAMED {
        names.push(format!("and {} more", nodes.len() - NODES_NAMED));
    }
    names.join(", ")
}

/// What the union over nodes must not hide: the nodes with their native arches (when
/// there is more than one node), and the applied profiles when the selection ran under
/// several (a warning: the evidence is their union). Empty for one node under one profile.
pub fn fleet_text(fleet: &Fleet) -> String {
    let mut out = String::new();
    if fleet.nodes.len() > 1 {
        let _ = writeln!(out, "Nodes ({}):", fleet.nodes.len());
        for n in fleet.nodes.iter().take(NODES_NAMED) {
            let arches = if n.arches.is_empty() {
                "compat calls only".to_string()
            } else {
                escape(&n.arches.join(", ")).into_owned()
            };
            let _ = writeln!(
                out,
                "- {} ({arches}): {} event(s)",
                node_list(std::slice::from_ref(&n.node)),
                n.events
            );
        }
        if fleet.nodes.len() > NODES_NAMED {
            let _ = writeln!(out, "- and {} more", fleet.nodes.len() - NODES_NAMED);
        }
    }
    if fleet.mixed_profiles() {
        let _ = writeln!(
            out,
            "WARNING: the selection's replicas ran under {} different applied profiles; the \
             evidence below is their union (compare them, or narrow the selection):",
            fleet.applied_profiles().count()
        );
        for p in &fleet.profiles {
            let what = match &p.profile {
                Some(h) => format!("profile {}", short(h)),
                None => "profile not captured".to_string(),
            };
            let _ = writeln!(
                out,
                "- {what}: {} event(s) on {} node(s): {}",
                p.events,
                p.nodes.len(),
                node_list(&p.nodes)
            );
        }
    }
    out
}

/// The findings in plain words, one paragraph per kind: what it means, then the syscalls
/// (with the `syscalls[]` entries concerned where that matters).
pub fn findings_text(findings: &[Finding]) -> String {
    let mut by_kind: BTreeMap<FindingKind, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_kind.entry(f.kind).or_default().push(f);
    }
    let mut out = String::new();
    for (kind, fs) in by_kind {
        let show_entries = matches!(
            kind,
            FindingKind::Conditional
                | FindingKind::Blocked
                | FindingKind::NotExplained
                | FindingKind::DeniedByEntry
        );
        let names: Vec<String> = fs
            .iter()
            .map(|f| {
                let n = escape(&f.syscall).into_owned();
                if show_entries && !f.entries.is_empty() {
                    let e: Vec<String> =
                        f.entries.iter().map(|i| format!("syscalls[{i}]")).collect();
                    format!("{n} ({})", e.join(", "))
                } else {
                    n
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "- {} ({}): {}",
            kind.describe(),
            names.len(),
            names.join(", ")
        );
    }
    out
}

/// The conflicts of a merge, one a line: `kind [syscall]: detail`.
pub fn conflicts_text(conflicts: &[Conflict]) -> String {
    let mut out = String::new();
    for c in conflicts {
        let kind = serde_json::to_value(c.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let what = c
            .syscall
            .as_deref()
            .map(|s| format!(" {}", escape(s)))
            .unwrap_or_default();
        let _ = writeln!(out, "- {kind}{what}: {}", escape(&c.detail));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use parsers::Action;

    fn obs(syscall: &str, arch: &str, action: Action, count: u64, comm: &str) -> Observation {
        Observation {
            arch: arch.into(),
            syscall: syscall.into(),
            compat: arch == "SCMP_ARCH_X86",
            action,
            count,
            containers: 1,
            nodes: vec![],
            first_seen: 1_795_997_034_781,
            last_seen: 1_795_997_052_837,
            sample_comm: comm.into(),
            sample_exe: "/usr/bin/ls".into(),
        }
    }

    #[test]
    fn table_is_aligned_sorted_and_escaped() {
        let t = evidence_table(&[
            obs("socket", "SCMP_ARCH_X86_64", Action::Log, 12, "ls"),
            obs(
                "connect",
                "SCMP_ARCH_X86_64",
                Action::Log,
                3,
                "evil\u{1b}[2J\nname",
            ),
            obs(
                "connect",
                "SCMP_ARCH_X86",
                Action::Errno,
                1,
                "runc:[2:INIT]",
            ),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(
            !t.contains('\u{1b}'),
            "raw escape reached the output: {t:?}"
        );
        assert!(
            lines[1].starts_with("connect  SCMP_ARCH_X86 (compat)  SCMP_ACT_ERRNO"),
            "{t}"
        );
        assert!(lines[2].contains("evil\\e[2J\\nname"), "{t}");
        assert!(lines[3].starts_with("socket "), "{t}");
        // Every column starts at the same offset on every line.
        let col = |l: &str, what: &str| l.find(what).unwrap();
        let count_col = col(lines[0], "COUNT");
        assert_eq!(&lines[1][count_col..count_col + 1], "1");
        assert_eq!(&lines[2][count_col..count_col + 1], "3");
        assert_eq!(&lines[3][count_col..count_col + 2], "12");
        let first = col(lines[0], "FIRST SEEN");
        assert_eq!(&lines[3][first..first + 24], "2026-11-30T00:03:54.781Z");
        let exe = col(lines[0], "EXE");
        assert_eq!(&lines[3][exe..], "/usr/bin/ls");
        let comm = col(lines[0], "COMM");
        assert_eq!(lines[3][comm..exe].trim_end(), "ls");
    }

    #[test]
    fn empty_table_says_so() {
        assert_eq!(
            evidence_table(&[]),
            "no SECCOMP events for this selection\n"
        );
    }

    #[test]
    fn findings_grouped_by_kind_and_escaped() {
        let f = |kind, syscall: &str, entries: Vec<usize>| Finding {
            kind,
            syscall: syscall.into(),
            entries,
            evidence: None,
        };
        let text = findings_text(&[
            f(FindingKind::AllowedFromLogEntry, "connect", vec![1]),
            f(FindingKind::AllowedFromLogEntry, "futex", vec![1]),
            f(FindingKind::Conditional, "clone", vec![3, 4]),
            f(FindingKind::UnusedInLogEntry, "bad\u{202e}name", vec![1]),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(
            lines[0],
            "- logged by a LOG entry and observed: now allowed (2): connect, futex"
        );
        assert_eq!(
            lines[1],
            "- in a LOG entry but never observed (kept) (1): bad\\u{202e}name"
        );
        assert_eq!(lines[2], "- conditional entry (args/includes/excludes), not changed (1): clone (syscalls[3], syscalls[4])");
    }
}
