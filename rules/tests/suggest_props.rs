//! Properties of `suggest` over random profiles and observations: without `tighten` it never
//! takes an allowed syscall away and never changes a conditional (or other non-LOG) entry;
//! applying it twice gives the same profile; its output reads back.

use parsers::Action;
use proptest::prelude::*;
use rules::profile::{Filter, Profile, ProfileSpec, SyscallArg, SyscallRule};
use rules::suggest::{suggest, Observation, SuggestOptions};
use serde_json::Value;
use std::collections::BTreeSet;

const POOL: [&str; 12] = [
    "read",
    "write",
    "openat",
    "close",
    "futex",
    "clone",
    "socket",
    "connect",
    "mmap",
    "_llseek",
    "socketcall",
    "reboot",
];
const ACTIONS: [&str; 5] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
];
const ARCHES: [&str; 3] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"];

fn fixture(name: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/profiles/");
    std::fs::read_to_string(format!("{dir}{name}")).expect("fixture")
}

fn arb_rule() -> impl Strategy<Value = SyscallRule> {
    (
        proptest::sample::subsequence(POOL.to_vec(), 0..5),
        0..ACTIONS.len(),
        0..4u8,
        any::<bool>(),
    )
        .prop_map(|(names, action, cond, legacy)| {
            let mut r = SyscallRule::new(
                names.iter().map(|s| s.to_string()).collect(),
                ACTIONS[action],
            );
            if legacy && names.len() == 1 {
                r.names = None;
                r.name = Some(names[0].to_string());
            }
            match cond {
                1 => {
                    r.args = Some(vec![SyscallArg {
                        index: 0,
                        value: 1,
                        op: "SCMP_CMP_EQ".into(),
                        ..SyscallArg::default()
                    }])
                }
                2 => {
                    r.includes = Some(Filter {
                        caps: Some(vec!["CAP_SYS_ADMIN".into()]),
                        ..Filter::default()
                    })
                }
                3 => r.args = Some(vec![]), // empty: still unconditional
                _ => {}
            }
            r
        })
}

fn arb_profile() -> impl Strategy<Value = Profile> {
    let generated = (
        prop_oneof![
            Just("SCMP_ACT_LOG"),
            Just("SCMP_ACT_ERRNO"),
            Just("SCMP_ACT_ALLOW")
        ],
        proptest::sample::subsequence(ARCHES.to_vec(), 0..=3),
        proptest::collection::vec(arb_rule(), 0..6),
        prop_oneof![Just("  "), Just("\t"), Just("    ")],
    )
        .prop_map(|(default, arches, rules, indent)| {
            let spec = ProfileSpec {
                default_action: default.to_string(),
                architectures: (!arches.is_empty())
                    .then(|| arches.iter().map(|s| s.to_string()).collect()),
                syscalls: Some(rules),
                ..ProfileSpec::default()
            };
            Profile::from_spec_with_indent(&spec, indent)
        });
    let fixtures = prop_oneof![
        Just("fedora_ls_no-opt_log-delta.json"),
        Just("docker-default.json"),
        Just("podman-default.json"),
        Just("docker-conditional-include.json"),
        Just("docker-example.json"),
        Just("docker-default-old-format.json"),
    ]
    .prop_map(|n| Profile::from_json(&fixture(n)).expect("fixture parses"));
    prop_oneof![3 => generated, 1 => fixtures]
}

fn arb_observation() -> impl Strategy<Value = Observation> {
    (
        prop_oneof![
            4 => proptest::sample::select(POOL.to_vec()).prop_map(str::to_string),
            1 => (300..400i64).prop_map(|n| n.to_string()),
            1 => proptest::sample::select(vec!["connect", "futex", "getxattr", "readlink"])
                .prop_map(str::to_string),
        ],
        0..ARCHES.len(),
        any::<bool>(),
        prop_oneof![
            4 => Just(Action::Log),
            1 => Just(Action::Errno),
            1 => Just(Action::KillProcess),
            1 => Just(Action::Allow),
        ],
        1..6u64,
    )
        .prop_map(|(syscall, arch, compat, action, count)| Observation {
            arch: ARCHES[arch].to_string(),
            syscall,
            compat,
            action,
            count,
            containers: 1,
            nodes: vec![],
            first_seen: 0,
            last_seen: 1,
            sample_comm: "runc:[2:INIT]".into(),
            sample_exe: "/".into(),
        })
}

/// Every name some unconditional allow entry lists.
fn allowed(p: &Profile) -> BTreeSet<String> {
    p.spec()
        .rules()
        .iter()
        .filter(|r| r.is_unconditional(Action::Allow))
        .flat_map(|r| r.all_names().map(str::to_string))
        .collect()
}

/// The JSON of every entry that is neither an unconditional LOG nor an unconditional allow
/// entry (conditional entries first of all), in order.
fn untouchable(p: &Profile) -> Vec<Value> {
    p.spec()
        .rules()
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.is_unconditional(Action::Log) && !r.is_unconditional(Action::Allow))
        .map(|(i, _)| p.entry_value(i).expect("entry"))
        .collect()
}

fn conditional(p: &Profile) -> Vec<Value> {
    p.spec()
        .rules()
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_conditional())
        .map(|(i, _)| p.entry_value(i).expect("entry"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn suggest_keeps_allowed_and_conditional_and_is_idempotent(
        profile in arb_profile(),
        observations in proptest::collection::vec(arb_observation(), 0..16),
        min_count in 0..4u64,
    ) {
        let opts = SuggestOptions { min_count, tighten: false, ..SuggestOptions::default() };
        let s = suggest(&profile, &observations, &opts).expect("suggest");
        // Never removes an allowed syscall.
        let before = allowed(&profile);
        let after = allowed(&s.profile);
        prop_assert!(before.is_subset(&after), "lost {:?}", before.difference(&after).collect::<Vec<_>>());
        // Never changes a conditional entry (nor any other non-LOG, non-allow entry).
        prop_assert_eq!(conditional(&profile), conditional(&s.profile));
        prop_assert_eq!(untouchable(&profile), untouchable(&s.profile));
        // What it allows is what it says it allows.
        let added: BTreeSet<String> = after.difference(&before).cloned().collect();
        let reported: BTreeSet<String> = s.newly_allowed().into_iter().map(str::to_string).collect();
        prop_assert!(added.is_subset(&reported));
        prop_assert_eq!(s.changed(), s.profile.to_json() != profile.to_json());
        prop_assert_eq!(s.changed(), !s.diff("p.json").is_empty());
        // The output reads back to the same profile.
        let back = Profile::from_json(&s.profile.to_json()).expect("output parses");
        prop_assert_eq!(back.spec(), s.profile.spec());
        // Idempotent.
        let again = suggest(&s.profile, &observations, &opts).expect("suggest again");
        prop_assert!(!again.changed(), "second pass changed:\n{}", again.diff("p.json"));
    }

    #[test]
    fn tighten_is_idempotent_and_only_touches_log_entries(
        profile in arb_profile(),
        observations in proptest::collection::vec(arb_observation(), 0..16),
    ) {
        let opts = SuggestOptions { min_count: 1, tighten: true, ..SuggestOptions::default() };
        let s = suggest(&profile, &observations, &opts).expect("suggest");
        prop_assert_eq!(untouchable(&profile), untouchable(&s.profile));
        prop_assert!(allowed(&profile).is_subset(&allowed(&s.profile)));
        let again = suggest(&s.profile, &observations, &opts).expect("suggest again");
        prop_assert!(!again.changed(), "second pass changed:\n{}", again.diff("p.json"));
    }
}
