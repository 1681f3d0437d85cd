//! Evidence over a fleet (pure): the rows a store returns per (node, applied profile, arch,
//! syscall, compat, action) become one set of [`Observation`]s, the union over nodes (each
//! carrying the nodes that saw it), plus what the union must not hide: the native arch of
//! each node (an x86_64 node and an aarch64 node of one workload give one profile covering
//! both) and the applied profiles the replicas ran under (several are reported, never
//! silently merged).
//!
//! Syscall names are resolved per row with the row's own arch before they get here, so the
//! union by name is right across arches (`openat` is 257 on x86_64 and 56 on aarch64).

use std::collections::{BTreeMap, BTreeSet};

use super::{arch, Observation};

/// One row of per-node evidence: what one node saw of one call under one applied profile.
/// `observation.nodes` is ignored (the row is of `node`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// The node name (`""`: events without one).
    pub node: String,
    /// The SHA-256 of the applied profile, when attribution captured it.
    pub profile: Option<String>,
    pub observation: Observation,
}

/// One node of the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSummary {
    pub node: String,
    /// Its native arches (the arches of its non-compat calls), sorted.
    pub arches: Vec<String>,
    pub events: u64,
}

/// One applied profile of the evidence and where it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSpread {
    /// The profile's hash (`None`: events whose profile was not captured).
    pub profile: Option<String>,
    /// The nodes whose events ran under it, sorted.
    pub nodes: Vec<String>,
    pub events: u64,
}

/// The union of a selection's evidence over the nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fleet {
    /// Per (arch, syscall, compat, action): counts summed, container counts summed (a
    /// container runs on one node), times widened, `nodes` the union. Sorted by syscall,
    /// arch, compat, action.
    pub observations: Vec<Observation>,
    /// Sorted by name.
    pub nodes: Vec<NodeSummary>,
    /// Most events first, then by hash; unknown profiles last.
    pub profiles: Vec<ProfileSpread>,
}

/// The key rows are merged on: (syscall, arch, compat, action code).
type Key = (String, String, bool, u32);

/// Merges per-node rows into the fleet's evidence.
pub fn union(rows: &[NodeRow]) -> Fleet {
    let mut merged: BTreeMap<Key, (Observation, BTreeSet<String>, u64)> = BTreeMap::new();
    let mut nodes: BTreeMap<&str, (BTreeSet<String>, u64)> = BTreeMap::new();
    let mut profiles: BTreeMap<Option<&str>, (BTreeSet<&str>, u64)> = BTreeMap::new();
    for r in rows {
        let o = &r.observation;
        let key = (o.syscall.clone(), o.arch.clone(), o.compat, o.action.code());
        let (m, seen_by, best) = merged.entry(key).or_insert_with(|| {
            let mut first = o.clone();
            first.count = 0;
            first.containers = 0;
            (first, BTreeSet::new(), 0)
        });
        m.count = m.count.saturating_add(o.count);
        m.containers = m.containers.saturating_add(o.containers);
        m.first_seen = m.first_seen.min(o.first_seen);
        m.last_seen = m.last_seen.max(o.last_seen);
        if o.count > *best {
            *best = o.count;
            m.sample_comm.clone_from(&o.sample_comm);
            m.sample_exe.clone_from(&o.sample_exe);
        }
        seen_by.insert(r.node.clone());
        let n = nodes.entry(r.node.as_str()).or_default();
        n.1 = n.1.saturating_add(o.count);
        if !o.compat {
            n.0.insert(arch::native_of(&o.arch, false).to_string());
        }
        let p = profiles.entry(r.profile.as_deref()).or_default();
        p.0.insert(r.node.as_str());
        p.1 = p.1.saturating_add(o.count);
    }
    let observations = merged
        .into_values()
        .map(|(mut o, seen_by, _)| {
            o.nodes = seen_by.into_iter().collect();
            o
        })
        .collect();
    let nodes = nodes
        .into_iter()
        .map(|(node, (arches, events))| NodeSummary {
            node: node.to_string(),
            arches: arches.into_iter().collect(),
            events,
        })
        .collect();
    let mut profiles: Vec<ProfileSpread> = profiles
        .into_iter()
        .map(|(profile, (nodes, events))| ProfileSpread {
            profile: profile.map(str::to_string),
            nodes: nodes.into_iter().map(str::to_string).collect(),
            events,
        })
        .collect();
    profiles.sort_by(|a, b| {
        (a.profile.is_none(), std::cmp::Reverse(a.events), &a.profile).cmp(&(
            b.profile.is_none(),
            std::cmp::Reverse(b.events),
            &b.profile,
        ))
    });
    Fleet {
        observations,
        nodes,
        profiles,
    }
}

impl Fleet {
    /// The native arches of the nodes (for [`super::SuggestOptions::node_arches`]).
    pub fn native_arches(&self) -> BTreeSet<String> {
        self.nodes
            .iter()
            .flat_map(|n| n.arches.iter().cloned())
            .collect()
    }

    /// The applied profiles that were captured (unknown ones left out).
    pub fn applied_profiles(&self) -> impl Iterator<Item = &ProfileSpread> {
        self.profiles.iter().filter(|p| p.profile.is_some())
    }

    /// True when the selection's replicas ran under more than one applied profile: their
    /// evidence is a union over different filters, which the report must say.
    pub fn mixed_profiles(&self) -> bool {
        self.applied_profiles().count() > 1
    }

    /// True when the nodes differ in native arch.
    pub fn mixed_arches(&self) -> bool {
        self.native_arches().len() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;
    use crate::suggest::{generate, suggest, FindingKind, GenerateOptions, SuggestOptions};
    use parsers::Action;

    fn row(node: &str, profile: Option<&str>, arch: &str, syscall: &str, count: u64) -> NodeRow {
        NodeRow {
            node: node.into(),
            profile: profile.map(str::to_string),
            observation: Observation {
                arch: arch.into(),
                syscall: syscall.into(),
                compat: arch == "SCMP_ARCH_X86",
                action: Action::Log,
                count,
                containers: 1,
                nodes: vec![],
                first_seen: 1000 * count as i64,
                last_seen: 2000 * count as i64,
                sample_comm: format!("{node}-comm"),
                sample_exe: "/app".into(),
            },
        }
    }

    const X64: &str = "SCMP_ARCH_X86_64";
    const A64: &str = "SCMP_ARCH_AARCH64";

    #[test]
    fn union_counts_nodes_and_sums() {
        let rows = [
            row("a", Some("h1"), X64, "openat", 3),
            row("b", Some("h1"), X64, "openat", 5),
            row("c", Some("h1"), A64, "openat", 2),
            row("c", Some("h1"), A64, "fstat", 1),
            row("a", Some("h1"), "SCMP_ARCH_X86", "socketcall", 1),
        ];
        let f = union(&rows);
        let openat64 = f
            .observations
            .iter()
            .find(|o| o.syscall == "openat" && o.arch == X64)
            .unwrap();
        assert_eq!((openat64.count, openat64.containers), (8, 2));
        assert_eq!(openat64.nodes, ["a", "b"]);
        assert_eq!((openat64.first_seen, openat64.last_seen), (3000, 10_000));
        assert_eq!(openat64.sample_comm, "b-comm");
        // The same name on two arches: two observations, and the evidence of the name
        // counts the three nodes once each.
        let ev =
            crate::suggest::Evidence::of(f.observations.iter().filter(|o| o.syscall == "openat"))
                .unwrap();
        assert_eq!((ev.count, ev.nodes), (10, 3));
        assert_eq!(ev.arches, [A64, X64]);
        // Nodes and their native arches (a compat call says nothing of the native arch).
        let nodes: Vec<(&str, Vec<&str>, u64)> = f
            .nodes
            .iter()
            .map(|n| {
                (
                    n.node.as_str(),
                    n.arches.iter().map(String::as_str).collect(),
                    n.events,
                )
            })
            .collect();
        assert_eq!(
            nodes,
            [
                ("a", vec![X64], 4),
                ("b", vec![X64], 5),
                ("c", vec![A64], 3)
            ]
        );
        assert!(f.mixed_arches());
        assert!(!f.mixed_profiles());
        assert_eq!(f.native_arches(), [A64, X64].map(String::from).into());
    }

    #[test]
    fn replicas_under_different_profiles_are_reported() {
        let rows = [
            row("a", Some("h1"), X64, "read", 3),
            row("b", Some("h2"), X64, "read", 5),
            row("b", Some("h2"), X64, "write", 5),
            row("c", Some("h1"), X64, "read", 1),
            row("c", None, X64, "read", 1),
        ];
        let f = union(&rows);
        assert!(f.mixed_profiles());
        let spread: Vec<(Option<&str>, Vec<&str>, u64)> = f
            .profiles
            .iter()
            .map(|p| {
                (
                    p.profile.as_deref(),
                    p.nodes.iter().map(String::as_str).collect(),
                    p.events,
                )
            })
            .collect();
        assert_eq!(
            spread,
            [
                (Some("h2"), vec!["b"], 10),
                (Some("h1"), vec!["a", "c"], 4),
                (None, vec!["c"], 1),
            ]
        );
        // One captured profile plus unknowns is not "mixed".
        let f = union(&[
            row("a", Some("h1"), X64, "read", 3),
            row("b", None, X64, "read", 3),
        ]);
        assert!(!f.mixed_profiles());
        assert_eq!(f.applied_profiles().count(), 1);
    }

    #[test]
    fn generate_over_two_arches_covers_both() {
        let rows = [
            row("x", None, X64, "openat", 3),
            row("x", None, X64, "epoll_wait", 3),
            row("arm", None, A64, "openat", 2),
            row("arm", None, A64, "epoll_pwait", 2),
        ];
        let f = union(&rows);
        let g = generate(&f.observations, &GenerateOptions::default());
        let spec = g.profile.spec();
        assert_eq!(
            spec.architectures.clone().unwrap(),
            [X64, "SCMP_ARCH_X86", "SCMP_ARCH_X32", A64, "SCMP_ARCH_ARM"]
        );
        let names: Vec<&str> = spec.rules().iter().flat_map(|r| r.all_names()).collect();
        assert_eq!(
            names,
            [
                "epoll_pwait",
                "epoll_wait",
                "openat",
                "restart_syscall",
                "rt_sigreturn",
                "sigreturn"
            ]
        );
    }

    #[test]
    fn suggest_adds_the_native_arch_of_an_aarch64_node() {
        let profile = Profile::from_json(
            "{\n  \"defaultAction\": \"SCMP_ACT_LOG\",\n  \"architectures\": [\n    \"SCMP_ARCH_X86_64\"\n  ],\n  \"syscalls\": [\n    {\n      \"names\": [\n        \"read\"\n      ],\n      \"action\": \"SCMP_ACT_ALLOW\"\n    }\n  ]\n}\n",
        )
        .unwrap();
        let rows = [
            row("x", Some("h"), X64, "openat", 3),
            row("arm", Some("h"), A64, "epoll_pwait", 2),
        ];
        let f = union(&rows);
        // Without the nodes' arches the aarch64 call is "not covered" and left out.
        let s = suggest(&profile, &f.observations, &SuggestOptions::default()).unwrap();
        assert_eq!(
            s.of_kind(FindingKind::ArchNotCovered)
                .map(|f| f.syscall.as_str())
                .collect::<Vec<_>>(),
            ["epoll_pwait"]
        );
        let opts = SuggestOptions {
            node_arches: f.native_arches(),
            ..SuggestOptions::default()
        };
        let s = suggest(&profile, &f.observations, &opts).unwrap();
        let spec = s.profile.spec();
        assert_eq!(
            spec.architectures.clone().unwrap(),
            [X64, A64, "SCMP_ARCH_ARM"]
        );
        let allowed: Vec<&str> = spec.rules()[0].all_names().collect();
        assert_eq!(allowed, ["read", "epoll_pwait", "openat"]);
        assert_eq!(
            s.of_kind(FindingKind::ArchAdded)
                .map(|f| f.syscall.as_str())
                .collect::<Vec<_>>(),
            [A64, "SCMP_ARCH_ARM"]
        );
        assert!(s.of_kind(FindingKind::ArchNotCovered).next().is_none());
        let ev = s
            .of_kind(FindingKind::AllowedFromDefault)
            .find(|f| f.syscall == "epoll_pwait")
            .and_then(|f| f.evidence.clone())
            .unwrap();
        assert_eq!(ev.nodes, 1);
        // Idempotent: the second pass finds both arches listed.
        let again = suggest(&s.profile, &f.observations, &opts).unwrap();
        assert!(!again.changed(), "{}", again.diff("p.json"));
        // A profile without `architectures` filters each node's native arch: unchanged list.
        let bare = Profile::from_json(r#"{"defaultAction": "SCMP_ACT_LOG"}"#).unwrap();
        let s = suggest(&bare, &f.observations, &opts).unwrap();
        assert!(s.profile.spec().architectures.is_none());
        assert_eq!(s.newly_allowed().len(), 2);
    }
}
