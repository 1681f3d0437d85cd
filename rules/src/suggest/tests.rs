//! Unit tests of suggest, generate and merge over the article's and the engines' profiles.

use super::*;
use crate::profile::Profile;

const LOG_DELTA: &str =
    include_str!("../../../tests/fixtures/profiles/fedora_ls_no-opt_log-delta.json");
const LISA: &str = include_str!("../../../tests/fixtures/profiles/fedora_ls_lisa.json");
const NO_OPT: &str = include_str!("../../../tests/fixtures/profiles/fedora_ls_no-opt.json");
const DOCKER: &str = include_str!("../../../tests/fixtures/profiles/docker-default.json");
const PODMAN: &str = include_str!("../../../tests/fixtures/profiles/podman-default.json");
const OLD_FORMAT: &str =
    include_str!("../../../tests/fixtures/profiles/docker-default-old-format.json");
const SIX: [&str; 6] = [
    "connect",
    "futex",
    "getxattr",
    "lgetxattr",
    "readlink",
    "socket",
];

fn obs(arch: &str, syscall: &str, compat: bool, action: Action, count: u64) -> Observation {
    Observation {
        arch: arch.to_string(),
        syscall: syscall.to_string(),
        compat,
        action,
        count,
        containers: 1,
        nodes: vec![],
        first_seen: 1_700_000_000_000,
        last_seen: 1_700_000_060_000,
        sample_comm: "ls".to_string(),
        sample_exe: "/usr/bin/ls".to_string(),
    }
}

fn log64(syscall: &str) -> Observation {
    obs("SCMP_ARCH_X86_64", syscall, false, Action::Log, 3)
}

fn p(text: &str) -> Profile {
    Profile::from_json(text).expect("profile parses")
}

fn allow_set(profile: &Profile) -> BTreeSet<String> {
    profile
        .spec()
        .rules()
        .iter()
        .filter(|r| r.is_unconditional(Action::Allow))
        .flat_map(|r| r.all_names().map(str::to_string))
        .collect()
}

/// The default options without the signal returns (the article's profiles are crun's, which
/// takes no signal after loading the filter; see `essentials_*` for the default).
fn article_opts() -> SuggestOptions {
    SuggestOptions {
        essentials: false,
        ..SuggestOptions::default()
    }
}

fn kinds(s: &Suggestion, kind: FindingKind) -> Vec<&str> {
    s.of_kind(kind).map(|f| f.syscall.as_str()).collect()
}

#[test]
fn article_log_delta_becomes_lisa() {
    let observations: Vec<Observation> = SIX.iter().map(|n| log64(n)).collect();
    let s = suggest(&p(LOG_DELTA), &observations, &article_opts()).unwrap();
    assert!(s.changed());
    assert_eq!(kinds(&s, FindingKind::AllowedFromLogEntry), SIX);
    assert_eq!(s.newly_allowed().into_iter().collect::<Vec<_>>(), SIX);
    let f = s.of_kind(FindingKind::AllowedFromLogEntry).next().unwrap();
    assert_eq!(f.entries, [1]);
    assert_eq!(f.evidence.as_ref().unwrap().count, 3);
    // The LOG entry is gone, the allow list equals the article's `ls -lisa` profile.
    let rules = s.profile.spec().rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(allow_set(&s.profile), allow_set(&p(LISA)));
    assert_eq!(allow_set(&s.profile).len(), 54);
    // The six are appended, sorted, after the existing names (kept in their order).
    let names = rules[0].names.clone().unwrap();
    assert_eq!(names[48..], SIX.map(String::from));
    assert_eq!(
        names[..48],
        p(NO_OPT).spec().rules()[0].names.clone().unwrap()[..]
    );
    // The diff is just that.
    let d = s.diff("profile.json");
    assert!(
        d.starts_with("--- a/profile.json\n+++ b/profile.json\n@@ "),
        "{d}"
    );
    assert_eq!(
        super::diff::apply(LOG_DELTA, &d).as_deref(),
        Some(&*s.profile.to_json())
    );
    let changed = d.lines().filter(|l| l.starts_with(['+', '-'])).count();
    assert!(changed <= 2 + 25, "{d}");
    // Applying the suggestion again changes nothing.
    let again = suggest(&s.profile, &observations, &article_opts()).unwrap();
    assert!(!again.changed());
    assert_eq!(kinds(&again, FindingKind::AlreadyAllowed), SIX);
    assert_eq!(again.diff("x"), "");
}

#[test]
fn unused_log_names_and_tighten() {
    let observations = [log64("connect"), log64("socket")];
    let s = suggest(&p(LOG_DELTA), &observations, &SuggestOptions::default()).unwrap();
    assert_eq!(
        kinds(&s, FindingKind::AllowedFromLogEntry),
        ["connect", "socket"]
    );
    let unused = ["futex", "getxattr", "lgetxattr", "readlink"];
    assert_eq!(kinds(&s, FindingKind::UnusedInLogEntry), unused);
    assert!(kinds(&s, FindingKind::RemovedUnused).is_empty());
    let rules = s.profile.spec().rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[1].names.clone().unwrap(), unused.map(String::from));
    assert_eq!(rules[1].action, "SCMP_ACT_LOG");

    let tight = SuggestOptions {
        tighten: true,
        ..article_opts()
    };
    let s = suggest(&p(LOG_DELTA), &observations, &tight).unwrap();
    assert_eq!(kinds(&s, FindingKind::RemovedUnused), unused);
    assert!(kinds(&s, FindingKind::UnusedInLogEntry).is_empty());
    let rules = s.profile.spec().rules();
    assert_eq!(rules.len(), 1, "emptied LOG entry removed");
    let allowed = allow_set(&s.profile);
    assert!(allowed.contains("connect") && allowed.contains("socket"));
    assert!(!allowed.contains("futex"));

    // Tighten alone turns the LOG-delta profile back into the article's no-opt one, byte
    // for byte.
    let s = suggest(&p(LOG_DELTA), &[], &tight).unwrap();
    assert_eq!(s.profile.to_json(), NO_OPT);
    assert_eq!(allow_set(&s.profile), allow_set(&p(NO_OPT)));
}

const DEFAULT_LOG: &str = r#"{
  "defaultAction": "SCMP_ACT_LOG",
  "architectures": [
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X86"
  ],
  "syscalls": [
    {
      "names": [
        "read",
        "write"
      ],
      "action": "SCMP_ACT_ALLOW"
    },
    {
      "names": [
        "reboot"
      ],
      "action": "SCMP_ACT_ERRNO"
    }
  ]
}
"#;

#[test]
fn default_log_calls_are_added_to_the_allow_entry() {
    let mut init = log64("pivot_root");
    init.sample_comm = "runc:[2:INIT]".to_string();
    init.sample_exe = "/".to_string();
    let observations = [
        log64("openat"),
        log64("close"),
        log64("read"),
        init,
        obs("SCMP_ARCH_X86", "_llseek", true, Action::Log, 1),
        obs("SCMP_ARCH_X86_64", "reboot", false, Action::Errno, 2),
        obs("SCMP_ARCH_X86_64", "mount", false, Action::Log, 1),
        log64("335"),
    ];
    // mount and pivot_root are @dangerous: held back by default.
    let s = suggest(&p(DEFAULT_LOG), &observations, &SuggestOptions::default()).unwrap();
    assert_eq!(
        kinds(&s, FindingKind::AllowedFromDefault),
        ["_llseek", "close", "openat"]
    );
    assert_eq!(kinds(&s, FindingKind::Dangerous), ["mount", "pivot_root"]);
    assert_eq!(s.held_back(), ["mount", "pivot_root"].into());
    assert!(!allow_set(&s.profile).contains("mount"));
    // --allow NAME lets one through.
    let one = SuggestOptions {
        dangerous: DangerousPolicy {
            all: false,
            names: ["pivot_root".to_string()].into(),
        },
        ..SuggestOptions::default()
    };
    let s = suggest(&p(DEFAULT_LOG), &observations, &one).unwrap();
    assert_eq!(kinds(&s, FindingKind::Dangerous), ["mount"]);
    assert!(allow_set(&s.profile).contains("pivot_root"));

    let opts = SuggestOptions {
        min_count: 1,
        tighten: false,
        dangerous: DangerousPolicy {
            all: true,
            names: BTreeSet::new(),
        },
        ..SuggestOptions::default()
    };
    let s = suggest(&p(DEFAULT_LOG), &observations, &opts).unwrap();
    assert_eq!(
        kinds(&s, FindingKind::AllowedFromDefault),
        ["_llseek", "close", "mount", "openat", "pivot_root"]
    );
    assert!(s.held_back().is_empty());
    assert_eq!(kinds(&s, FindingKind::AlreadyAllowed), ["read"]);
    assert_eq!(kinds(&s, FindingKind::Blocked), ["reboot"]);
    let blocked = s.of_kind(FindingKind::Blocked).next().unwrap();
    assert_eq!(blocked.entries, [1]);
    assert_eq!(
        blocked.evidence.as_ref().unwrap().actions,
        ["SCMP_ACT_ERRNO"]
    );
    assert_eq!(kinds(&s, FindingKind::CompatOnly), ["_llseek"]);
    assert_eq!(kinds(&s, FindingKind::UnknownSyscall), ["335"]);
    let pivot = s
        .of_kind(FindingKind::AllowedFromDefault)
        .find(|f| f.syscall == "pivot_root")
        .unwrap();
    assert_eq!(
        pivot.evidence.as_ref().unwrap().sample_comm,
        "runc:[2:INIT]"
    );
    let names = s.profile.spec().rules()[0].names.clone().unwrap();
    assert_eq!(
        names,
        [
            "read",
            "write",
            "_llseek",
            "close",
            "mount",
            "openat",
            "pivot_root"
        ]
    );
    assert_eq!(
        s.profile.spec().rules()[1].names.clone().unwrap(),
        ["reboot"]
    );

    // min_count: `mount` and `_llseek` were seen once.
    let opts = SuggestOptions {
        min_count: 2,
        ..opts
    };
    let s = suggest(&p(DEFAULT_LOG), &observations, &opts).unwrap();
    assert_eq!(kinds(&s, FindingKind::BelowMinCount), ["_llseek", "mount"]);
    assert_eq!(
        kinds(&s, FindingKind::AllowedFromDefault),
        ["close", "openat", "pivot_root"]
    );
}

#[test]
fn conditional_entries_are_never_rewritten() {
    let docker = p(DOCKER);
    let observations = [
        log64("clone"),       // only in args-conditional entries
        log64("personality"), // only in args-conditional entries
        log64("syslog"),      // only in a caps-conditional entry
        log64("read"),        // allowed
        obs("SCMP_ARCH_X86_64", "reboot", false, Action::Errno, 1),
    ];
    let s = suggest(&docker, &observations, &SuggestOptions::default()).unwrap();
    assert!(!s.changed(), "{}", s.diff("docker-default.json"));
    assert_eq!(s.profile.to_json(), DOCKER);
    assert_eq!(
        kinds(&s, FindingKind::Conditional),
        ["clone", "personality", "syslog"]
    );
    let clone = s
        .of_kind(FindingKind::Conditional)
        .find(|f| f.syscall == "clone")
        .unwrap();
    assert!(clone.entries.len() >= 2);
    for &i in &clone.entries {
        assert!(docker.spec().rules()[i].is_conditional());
    }
    assert_eq!(clone.evidence.as_ref().unwrap().count, 3);
    assert_eq!(kinds(&s, FindingKind::AlreadyAllowed), ["read"]);
    assert_eq!(kinds(&s, FindingKind::Blocked), ["reboot"]);
}

/// What runc's init calls after the filter is loaded (crun does not), as seen here.
const RUNC_INIT: [&str; 12] = [
    "capget",
    "epoll_ctl",
    "faccessat2",
    "fcntl",
    "fstat",
    "futex",
    "getcwd",
    "getpid",
    "getppid",
    "setgid",
    "setgroups",
    "setuid",
];

#[test]
fn calls_observed_under_the_complain_copy_are_allowed_in_the_target() {
    // The article's loop: the target denies by default; the evidence comes from its
    // complain-mode copy (everything LOG). Calls the target lists nowhere are what the
    // workload needs: allowed. Calls it denies by an entry are left as they are.
    let target_text = NO_OPT.replacen(
        "\"syscalls\": [",
        "\"syscalls\": [\n    {\"names\": [\"sync\"], \"action\": \"SCMP_ACT_ERRNO\"},",
        1,
    );
    let target = p(&target_text);
    let mut observations: Vec<Observation> = RUNC_INIT.iter().map(|c| log64(c)).collect();
    observations.push(log64("read")); // already allowed
    observations.push(log64("sync")); // denied by an entry
    observations.push(log64("ptrace")); // dangerous
    let s = suggest(&target, &observations, &SuggestOptions::default()).unwrap();
    let want: Vec<&str> = RUNC_INIT.to_vec();
    assert_eq!(kinds(&s, FindingKind::AllowedFromDenied), want);
    assert_eq!(kinds(&s, FindingKind::DeniedByEntry), ["sync"]);
    assert_eq!(kinds(&s, FindingKind::Dangerous), ["ptrace"]);
    assert_eq!(kinds(&s, FindingKind::AlreadyAllowed), ["read"]);
    assert!(kinds(&s, FindingKind::NotExplained).is_empty());
    let allowed = allow_set(&s.profile);
    for c in RUNC_INIT {
        assert!(allowed.contains(c), "{c}");
    }
    assert!(!allowed.contains("sync") && !allowed.contains("ptrace"));
    assert_eq!(s.profile.spec().default_action, "SCMP_ACT_ERRNO");
    // Only the allow entry changed.
    assert_eq!(s.profile.entry_value(0), target.entry_value(0));
    assert_eq!(s.profile.spec().rules().len(), target.spec().rules().len());
    // Run again on its own output: nothing more to allow, only the dangerous call remains.
    let again = suggest(&s.profile, &observations, &SuggestOptions::default()).unwrap();
    assert!(!again.changed());
    assert_eq!(again.held_back(), ["ptrace"].into());
}

#[test]
fn enforce_turns_a_log_default_into_errno() {
    let complained = crate::profile::complain(&p(LOG_DELTA)).unwrap().profile;
    assert_eq!(complained.spec().default_action, "SCMP_ACT_LOG");
    let mut observations: Vec<Observation> = RUNC_INIT.iter().map(|c| log64(c)).collect();
    observations.push(log64("connect"));
    let opts = SuggestOptions {
        enforce: true,
        ..SuggestOptions::default()
    };
    let s = suggest(&complained, &observations, &opts).unwrap();
    assert_eq!(s.profile.spec().default_action, "SCMP_ACT_ERRNO");
    // The complain copy is judged as its original (default ERRNO); futex is one of the
    // log-delta's LOG entries.
    let from_default: Vec<&str> = RUNC_INIT.into_iter().filter(|c| *c != "futex").collect();
    assert_eq!(kinds(&s, FindingKind::AllowedFromDenied), from_default);
    assert!(s.restored.is_some());
    // A LOG-default profile (no complain copy): the calls came through its default.
    let log_default = p(&LOG_DELTA.replacen("SCMP_ACT_ERRNO", "SCMP_ACT_LOG", 1));
    let s2 = suggest(&log_default, &observations, &opts).unwrap();
    assert_eq!(kinds(&s2, FindingKind::AllowedFromDefault), from_default);
    assert_eq!(s2.profile.spec().default_action, "SCMP_ACT_ERRNO");
    assert!(s2.restored.is_none());
    assert_eq!(
        kinds(&s, FindingKind::AllowedFromLogEntry),
        ["connect", "futex"]
    );
    // futex was in the LOG entry and observed; the LOG entry's other names (never observed)
    // stay allowed, without logging: an enforced profile logs nothing.
    assert_eq!(
        kinds(&s, FindingKind::AllowedUnusedOnEnforce),
        ["getxattr", "lgetxattr", "readlink", "socket"]
    );
    assert!(s
        .profile
        .spec()
        .rules()
        .iter()
        .all(|r| r.action != "SCMP_ACT_LOG"));
    // Without --enforce the LOG default stays.
    let s = suggest(&complained, &observations, &SuggestOptions::default()).unwrap();
    assert_eq!(s.profile.spec().default_action, "SCMP_ACT_LOG");
    // A denying default is kept as it is.
    let s = suggest(&p(NO_OPT), &observations, &opts).unwrap();
    assert_eq!(s.profile.spec().default_action, "SCMP_ACT_ERRNO");
    // An allow default is not turned into a denying one (there is no evidence of what
    // such a profile lets through).
    let allow = p(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#);
    let s = suggest(&allow, &observations, &opts).unwrap();
    assert_eq!(s.profile.spec().default_action, "SCMP_ACT_ALLOW");
    assert!(!s.changed());
}

/// The article's log-delta profile with an explicit deny entry (socket, connect: ERRNO
/// with errnoRet 97), a second one never observed (reboot: KILL_PROCESS) and an explicit
/// defaultErrnoRet.
fn with_explicit_denies() -> Profile {
    let text = LOG_DELTA
        .replacen(
            "\"defaultAction\": \"SCMP_ACT_ERRNO\",",
            "\"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"defaultErrnoRet\": 1,",
            1,
        )
        .replacen("        \"readlink\",\n        \"socket\"\n", "        \"readlink\"\n", 1)
        .replacen("        \"connect\",\n", "", 1)
        .replacen(
            "\"syscalls\": [",
            "\"syscalls\": [\n    {\"names\": [\"socket\", \"connect\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 97},\n    {\"names\": [\"reboot\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"},",
            1,
        );
    let prof = p(&text);
    let r = prof.spec().rules();
    assert_eq!(r.len(), 4, "{text}");
    assert!(r[0].has_name("socket") && r[0].errno_ret == Some(97));
    assert!(!r[3].has_name("socket") && !r[3].has_name("connect") && r[3].has_name("futex"));
    prof
}

#[test]
fn a_complain_copy_is_judged_as_its_original() {
    let original = with_explicit_denies();
    let copy = crate::profile::complain(&original).unwrap().profile;
    // Under the copy everything ran and was logged: socket and connect too.
    let mut observations: Vec<Observation> = RUNC_INIT.iter().map(|c| log64(c)).collect();
    observations.extend(["socket", "connect", "futex", "read"].map(log64));
    let enforce = SuggestOptions {
        enforce: true,
        ..SuggestOptions::default()
    };
    for applied in [copy.clone(), p(&copy.to_value().to_string())] {
        let s = suggest(&applied, &observations, &enforce).unwrap();
        // The calls an entry of the original denies are reported, not allowed.
        assert_eq!(kinds(&s, FindingKind::DeniedByEntry), ["connect", "socket"]);
        assert_eq!(s.denied_by_entry(), ["connect", "socket"].into());
        let allowed = allow_set(&s.profile);
        assert!(!allowed.contains("socket") && !allowed.contains("connect"));
        for c in RUNC_INIT {
            assert!(allowed.contains(c), "{c}");
        }
        // The original's default and errnoRets are back; no marker is left.
        let spec = s.profile.spec();
        assert_eq!(spec.default_action, "SCMP_ACT_ERRNO");
        assert_eq!(spec.default_errno_ret, Some(1));
        assert!(spec.extra.is_empty());
        let r = spec.rules();
        assert_eq!(r[0].action, "SCMP_ACT_ERRNO");
        assert_eq!(r[0].errno_ret, Some(97));
        assert!(r[0].has_name("socket") && r[0].has_name("connect"));
        assert_eq!(r[1].action, "SCMP_ACT_KILL_PROCESS");
        assert!(r
            .iter()
            .all(|r| r.action != "SCMP_ACT_LOG" && r.extra.is_empty()));
        // The diff is against the applied copy: LOG -> ERRNO.
        assert_eq!(s.original.spec().default_action, "SCMP_ACT_LOG");
        assert!(s.restored.is_some());
    }
    // Against the original itself: the same profile.
    let direct = suggest(&original, &observations, &enforce).unwrap();
    let via_copy = suggest(&copy, &observations, &enforce).unwrap();
    assert_eq!(direct.profile.to_json(), via_copy.profile.to_json());

    // --allow socket: taken out of the denying entry and allowed; connect stays denied.
    let allow_socket = SuggestOptions {
        enforce: true,
        dangerous: DangerousPolicy {
            all: false,
            names: ["socket".to_string()].into(),
        },
        ..SuggestOptions::default()
    };
    let s = suggest(&copy, &observations, &allow_socket).unwrap();
    assert_eq!(kinds(&s, FindingKind::AllowedFromDeniedEntry), ["socket"]);
    assert_eq!(kinds(&s, FindingKind::DeniedByEntry), ["connect"]);
    assert!(allow_set(&s.profile).contains("socket"));
    let r = s.profile.spec().rules();
    assert!(r[0].has_name("connect") && !r[0].has_name("socket"));
    assert_eq!(r[0].errno_ret, Some(97));
    // --allow-dangerous is not a word about explicit denies.
    let all = SuggestOptions {
        enforce: true,
        dangerous: DangerousPolicy {
            all: true,
            names: BTreeSet::new(),
        },
        ..SuggestOptions::default()
    };
    let s = suggest(&copy, &observations, &all).unwrap();
    assert_eq!(kinds(&s, FindingKind::DeniedByEntry), ["connect", "socket"]);

    // Without --enforce: the result stays a complain copy (observe on), of the new original.
    let s = suggest(&copy, &observations, &SuggestOptions::default()).unwrap();
    assert_eq!(s.profile.spec().default_action, "SCMP_ACT_LOG");
    assert_eq!(
        crate::profile::complain(&s.profile).unwrap().profile,
        s.profile
    );
    let back = crate::profile::uncomplain(&s.profile)
        .unwrap()
        .unwrap()
        .profile;
    let plain = suggest(&original, &observations, &SuggestOptions::default()).unwrap();
    assert_eq!(back.to_json(), plain.profile.to_json());
}

#[test]
fn compact_profiles_from_runtimes_are_diffed_pretty() {
    let value: serde_json::Value = serde_json::from_str(LOG_DELTA).unwrap();
    let compact = serde_json::to_string(&value).unwrap();
    let s = suggest(
        &p(&compact),
        &[log64("connect")],
        &SuggestOptions::default(),
    )
    .unwrap();
    assert!(!s.original.is_compact() && !s.profile.is_compact());
    assert_eq!(s.original.to_value(), value);
    let diff = s.diff("p.json");
    assert!(diff.lines().all(|l| l.len() < 120), "{diff}");
    assert!(diff.contains("+        \"connect\""), "{diff}");
}

#[test]
fn conditional_and_log_entry_for_the_same_call() {
    let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone", "stat"], "action": "SCMP_ACT_LOG"}
    ]}"#;
    let prof = p(text);
    let s = suggest(&prof, &[log64("clone")], &SuggestOptions::default()).unwrap();
    assert_eq!(kinds(&s, FindingKind::AllowedFromLogEntry), ["clone"]);
    assert_eq!(kinds(&s, FindingKind::Conditional), ["clone"]);
    assert_eq!(s.profile.entry_value(1), prof.entry_value(1));
    assert_eq!(
        allow_set(&s.profile),
        ["clone", "read", "restart_syscall", "rt_sigreturn"]
            .map(String::from)
            .into()
    );
}

#[test]
fn compat_and_uncovered_arches() {
    // The article's profiles cover x86_64 only: a 32-bit call cannot be fixed there.
    let observations = [
        obs("SCMP_ARCH_X86", "socketcall", true, Action::Log, 4),
        obs("SCMP_ARCH_X86", "futex", true, Action::Log, 4),
        log64("connect"),
    ];
    let s = suggest(&p(LOG_DELTA), &observations, &SuggestOptions::default()).unwrap();
    assert_eq!(
        kinds(&s, FindingKind::ArchNotCovered),
        ["futex", "socketcall"]
    );
    assert_eq!(kinds(&s, FindingKind::CompatOnly), ["futex", "socketcall"]);
    let f = s.of_kind(FindingKind::ArchNotCovered).next().unwrap();
    assert_eq!(f.evidence.as_ref().unwrap().arches, ["SCMP_ARCH_X86"]);
    assert_eq!(kinds(&s, FindingKind::AllowedFromLogEntry), ["connect"]);
    // futex was observed (on an uncovered arch): not "unused", kept in the LOG entry.
    assert!(!kinds(&s, FindingKind::UnusedInLogEntry).contains(&"futex"));
    assert!(s.profile.spec().rules()[1].has_name("futex"));

    // A profile without architectures filters the native arch only.
    let bare = p(r#"{"defaultAction": "SCMP_ACT_LOG"}"#);
    let s = suggest(&bare, &observations, &SuggestOptions::default()).unwrap();
    assert_eq!(
        kinds(&s, FindingKind::ArchNotCovered),
        ["futex", "socketcall"]
    );
    assert_eq!(kinds(&s, FindingKind::AllowedFromDefault), ["connect"]);
    assert_eq!(
        s.profile.to_json(),
        "{\"defaultAction\": \"SCMP_ACT_LOG\", \"syscalls\": [\n    {\n      \"names\": [\n        \"connect\"\n      ],\n      \"action\": \"SCMP_ACT_ALLOW\"\n    }\n  ]}"
    );
    // Podman's archMap covers x86 as a sub-architecture.
    let s = suggest(&p(PODMAN), &observations, &SuggestOptions::default()).unwrap();
    assert!(kinds(&s, FindingKind::ArchNotCovered).is_empty());
    assert_eq!(kinds(&s, FindingKind::CompatOnly), ["futex", "socketcall"]);
}

#[test]
fn allow_entry_is_created_after_the_last_allow_entry() {
    let text = "{\n  \"defaultAction\": \"SCMP_ACT_LOG\",\n  \"syscalls\": [\n    {\n      \"names\": [\"x\"],\n      \"action\": \"SCMP_ACT_ALLOW\",\n      \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]\n    },\n    {\n      \"names\": [\"y\"],\n      \"action\": \"SCMP_ACT_LOG\"\n    },\n    {\n      \"names\": [\"w\"],\n      \"action\": \"SCMP_ACT_ERRNO\"\n    }\n  ]\n}\n";
    let s = suggest(
        &p(text),
        &[log64("z"), log64("y")],
        &SuggestOptions::default(),
    )
    .unwrap();
    let rules = s.profile.spec().rules();
    let summary: Vec<(String, Vec<String>)> = rules
        .iter()
        .map(|r| (r.action.clone(), r.names.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        summary,
        [
            ("SCMP_ACT_ALLOW".to_string(), vec!["x".to_string()]),
            (
                "SCMP_ACT_ALLOW".to_string(),
                vec!["y".to_string(), "z".to_string()]
            ),
            ("SCMP_ACT_ERRNO".to_string(), vec!["w".to_string()]),
        ]
    );
    assert!(s.profile.to_json().contains("    {\n      \"names\": [\n        \"y\",\n        \"z\"\n      ],\n      \"action\": \"SCMP_ACT_ALLOW\"\n    },\n    {\n      \"names\": [\"w\"]"));
    let again = suggest(
        &s.profile,
        &[log64("z"), log64("y")],
        &SuggestOptions::default(),
    )
    .unwrap();
    assert!(!again.changed());
}

#[test]
fn legacy_name_log_entries() {
    let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"name": "read", "action": "SCMP_ACT_ALLOW", "args": []},
        {"name": "stat", "action": "SCMP_ACT_LOG", "args": []},
        {"name": "lstat", "action": "SCMP_ACT_LOG", "args": []}
    ]}"#;
    let s = suggest(&p(text), &[log64("stat")], &SuggestOptions::default()).unwrap();
    let rules = s.profile.spec().rules();
    // No `names` list to append to: a new allow entry after the last allow entry (with
    // the signal returns: the default denies).
    assert_eq!(rules.len(), 3);
    assert_eq!(
        rules[1].names.clone().unwrap(),
        ["restart_syscall", "rt_sigreturn", "stat"]
    );
    assert_eq!(rules[2].name.as_deref(), Some("lstat"));
    assert_eq!(kinds(&s, FindingKind::UnusedInLogEntry), ["lstat"]);

    // The old-format Docker profile has no LOG entries: nothing to do but report.
    let s = suggest(
        &p(OLD_FORMAT),
        &[log64("accept")],
        &SuggestOptions::default(),
    )
    .unwrap();
    assert!(!s.changed());
    assert_eq!(kinds(&s, FindingKind::AlreadyAllowed), ["accept"]);
}

#[test]
fn evidence_aggregates_across_arches() {
    let mut a = obs("SCMP_ARCH_X86_64", "read", false, Action::Log, 5);
    a.containers = 2;
    a.first_seen = 10;
    a.last_seen = 20;
    let mut b = obs("SCMP_ARCH_X86", "read", true, Action::Log, 7);
    b.containers = 3;
    b.first_seen = 5;
    b.last_seen = 15;
    b.sample_comm = "other".to_string();
    let e = Evidence::of([&a, &b]).unwrap();
    assert_eq!(
        (e.count, e.containers, e.first_seen, e.last_seen),
        (12, 3, 5, 20)
    );
    assert_eq!(e.arches, ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]);
    assert!(!e.compat_only);
    assert_eq!(e.sample_comm, "other");
    assert!(Evidence::of([]).is_none());
}

#[test]
fn generate_least_privilege() {
    let observations = [
        log64("read"),
        log64("execve"),
        obs("SCMP_ARCH_X86", "socketcall", true, Action::Log, 1),
        obs("SCMP_ARCH_X86_64", "reboot", false, Action::Errno, 1),
        obs("SCMP_ARCH_AARCH64", "openat", false, Action::Log, 1),
        log64("999"),
    ];
    let g = generate(&observations, &GenerateOptions::default());
    let spec = g.profile.spec();
    assert_eq!(spec.default_action, "SCMP_ACT_ERRNO");
    assert_eq!(spec.default_errno_ret, Some(1));
    assert_eq!(
        spec.architectures.clone().unwrap(),
        [
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_X32",
            "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_ARM"
        ]
    );
    assert_eq!(spec.rules().len(), 1);
    assert_eq!(
        spec.rules()[0].names.clone().unwrap(),
        [
            "execve",
            "openat",
            "read",
            "restart_syscall",
            "rt_sigreturn",
            "sigreturn",
            "socketcall"
        ]
    );
    let k: Vec<(FindingKind, &str)> = g
        .findings
        .iter()
        .map(|f| (f.kind, f.syscall.as_str()))
        .collect();
    assert_eq!(
        k,
        [
            (FindingKind::Blocked, "reboot"),
            (FindingKind::CompatOnly, "socketcall"),
            (FindingKind::UnknownSyscall, "999"),
            (FindingKind::AllowedEssential, "restart_syscall"),
            (FindingKind::AllowedEssential, "rt_sigreturn"),
            (FindingKind::AllowedEssential, "sigreturn"),
        ]
    );
    // The text is serde_json's pretty form and reads back.
    let text = g.profile.to_json();
    assert!(text.starts_with("{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"defaultErrnoRet\": 1,\n  \"architectures\": [\n    \"SCMP_ARCH_X86_64\","));
    assert!(text.ends_with("}\n"));
    assert_eq!(Profile::from_json(&text).unwrap().spec(), spec);

    let g = generate(
        &observations,
        &GenerateOptions {
            default_action: GenerateDefault::Log,
            min_count: 2,
            ..GenerateOptions::default()
        },
    );
    assert_eq!(g.profile.spec().default_action, "SCMP_ACT_LOG");
    assert_eq!(g.profile.spec().default_errno_ret, None);
    assert_eq!(
        g.profile.spec().rules()[0].names.clone().unwrap(),
        ["execve", "read"]
    );
    assert_eq!(
        g.findings
            .iter()
            .filter(|f| f.kind == FindingKind::BelowMinCount)
            .count(),
        2
    );
    // Nothing observed: a profile with no allow entry.
    let g = generate(&[], &GenerateOptions::default());
    assert!(g.profile.spec().rules().is_empty());
}

/// A profile generated from the article's `ls -lisa` calls equals the article's profile's
/// allow list.
#[test]
fn generate_from_the_article_calls() {
    let lisa = p(LISA);
    let observations: Vec<Observation> = allow_set(&lisa).iter().map(|n| log64(n)).collect();
    // The article's runtime (crun) needs mount, umount2 and pivot_root after the filter is
    // loaded: @dangerous calls, written only when the user says so.
    // Without the signal returns, as the article's (crun) profile has none.
    let plain = GenerateOptions {
        essentials: false,
        ..GenerateOptions::default()
    };
    let g = generate(&observations, &plain);
    let held: Vec<&str> = g
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Dangerous)
        .map(|f| f.syscall.as_str())
        .collect();
    assert_eq!(held, ["mount", "pivot_root", "umount2"]);
    let mut want = allow_set(&lisa);
    for h in &held {
        want.remove(*h);
    }
    assert_eq!(allow_set(&g.profile), want);
    let all = GenerateOptions {
        dangerous: DangerousPolicy {
            all: true,
            names: BTreeSet::new(),
        },
        ..plain
    };
    let g = generate(&observations, &all);
    assert_eq!(allow_set(&g.profile), allow_set(&lisa));
}

#[test]
fn merge_unions_and_reports_conflicts() {
    let m = merge(&[p(NO_OPT), p(LOG_DELTA)]).unwrap();
    // no-opt allows nothing LOG-delta logs: the LOG entry stays, no syscall conflict.
    assert_eq!(allow_set(&m.profile), allow_set(&p(NO_OPT)));
    assert!(m.conflicts.is_empty(), "{:?}", m.conflicts);
    assert_eq!(m.profile.spec().rules().len(), 2);

    let m = merge(&[p(LISA), p(LOG_DELTA)]).unwrap();
    assert_eq!(allow_set(&m.profile), allow_set(&p(LISA)));
    let c: Vec<&str> = m
        .conflicts
        .iter()
        .filter(|c| c.kind == ConflictKind::SyscallAction)
        .filter_map(|c| c.syscall.as_deref())
        .collect();
    assert_eq!(c, SIX);
    assert_eq!(
        m.conflicts[0].detail,
        "#0: \"SCMP_ACT_ALLOW\", #1: \"SCMP_ACT_LOG\""
    );
    // The LOG entry is gone: all its names are allowed.
    assert_eq!(m.profile.spec().rules().len(), 1);

    let m = merge(&[p(LISA), p(DEFAULT_LOG), p(DOCKER)]).unwrap();
    let kinds: BTreeSet<ConflictKind> = m.conflicts.iter().map(|c| c.kind).collect();
    assert!(kinds.contains(&ConflictKind::DefaultAction));
    assert!(kinds.contains(&ConflictKind::DefaultErrnoRet));
    assert!(kinds.contains(&ConflictKind::Architectures));
    let spec = m.profile.spec();
    assert_eq!(spec.default_action, "SCMP_ACT_ERRNO");
    assert_eq!(
        spec.architectures.clone().unwrap(),
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
    );
    assert!(spec.arch_map.is_some());
    // reboot: errno in DEFAULT_LOG, not allowed anywhere: kept as an errno entry.
    assert!(spec
        .rules()
        .iter()
        .any(|r| r.has_name("reboot") && r.action == "SCMP_ACT_ERRNO"));
    // Every conditional entry of Docker's profile is kept.
    let conditional = |prof: &Profile| -> Vec<crate::profile::SyscallRule> {
        prof.spec()
            .rules()
            .iter()
            .filter(|r| r.is_conditional())
            .cloned()
            .collect()
    };
    assert_eq!(conditional(&m.profile), conditional(&p(DOCKER)));
    assert_eq!(m.profile.indent(), "  ");

    assert_eq!(merge(&[]).unwrap_err(), MergeError::NoProfiles);
}

#[test]
fn merging_one_profile_keeps_its_meaning() {
    for text in [DOCKER, PODMAN, OLD_FORMAT, LISA] {
        let orig = p(text);
        let m = merge(std::slice::from_ref(&orig)).unwrap();
        assert!(m.conflicts.is_empty(), "{:?}", m.conflicts);
        assert_eq!(allow_set(&m.profile), allow_set(&orig));
        assert_eq!(m.profile.spec().default_action, orig.spec().default_action);
        assert_eq!(m.profile.spec().extra, orig.spec().extra);
        assert_eq!(m.profile.indent(), orig.indent());
        // Merging the result with itself again is stable.
        let m2 = merge(&[m.profile.clone(), m.profile.clone()]).unwrap();
        assert_eq!(m2.profile.to_json(), m.profile.to_json());
    }
}

/// The signal returns and restart_syscall are allowed when the result denies what it does
/// not list, and only then; an entry denying one is kept and warned about; `--tighten`
/// does not strip one into the denying default.
#[test]
fn essentials_are_allowed_when_the_result_denies() {
    // The article's LOG-delta profile (ERRNO default): the default adds them, once.
    let observations: Vec<Observation> = SIX.iter().map(|n| log64(n)).collect();
    let s = suggest(&p(LOG_DELTA), &observations, &SuggestOptions::default()).unwrap();
    assert_eq!(
        kinds(&s, FindingKind::AllowedEssential),
        ["restart_syscall", "rt_sigreturn"]
    );
    let mut want = allow_set(&p(LISA));
    want.extend(["restart_syscall", "rt_sigreturn"].map(String::from));
    assert_eq!(allow_set(&s.profile), want);
    assert!(s.newly_allowed().contains("rt_sigreturn"));
    let again = suggest(&s.profile, &observations, &SuggestOptions::default()).unwrap();
    assert!(!again.changed(), "{}", again.diff("p.json"));
    assert!(again
        .of_kind(FindingKind::AllowedEssential)
        .next()
        .is_none());
    // An x86 compat arch in the list: sigreturn too.
    let with_x86 = p(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
    );
    let s = suggest(&with_x86, &[log64("read")], &SuggestOptions::default()).unwrap();
    assert_eq!(
        kinds(&s, FindingKind::AllowedEssential),
        ["restart_syscall", "rt_sigreturn", "sigreturn"]
    );
    // A LOG default: nothing is denied, nothing added; with --enforce it becomes ERRNO: added.
    let log_default = p(
        r#"{"defaultAction": "SCMP_ACT_LOG", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
    );
    let s = suggest(&log_default, &[log64("openat")], &SuggestOptions::default()).unwrap();
    assert!(s.of_kind(FindingKind::AllowedEssential).next().is_none());
    assert!(!allow_set(&s.profile).contains("rt_sigreturn"));
    let enforce = SuggestOptions {
        enforce: true,
        ..SuggestOptions::default()
    };
    let s = suggest(&log_default, &[log64("openat")], &enforce).unwrap();
    assert_eq!(
        allow_set(&s.profile),
        ["openat", "read", "restart_syscall", "rt_sigreturn"]
            .map(String::from)
            .into()
    );
    // Observed (a run took a signal): the observation allows it, no second finding.
    let s = suggest(
        &p(NO_OPT),
        &[log64("rt_sigreturn")],
        &SuggestOptions::default(),
    )
    .unwrap();
    assert_eq!(kinds(&s, FindingKind::AllowedFromDenied), ["rt_sigreturn"]);
    assert_eq!(
        kinds(&s, FindingKind::AllowedEssential),
        ["restart_syscall"]
    );
    // An entry denying it: kept, warned about.
    let denies = p(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["rt_sigreturn"], "action": "SCMP_ACT_KILL"}]}"#,
    );
    let s = suggest(&denies, &[log64("read")], &SuggestOptions::default()).unwrap();
    assert_eq!(
        kinds(&s, FindingKind::EssentialDeniedByEntry),
        ["rt_sigreturn"]
    );
    assert_eq!(
        kinds(&s, FindingKind::AllowedEssential),
        ["restart_syscall"]
    );
    assert!(!allow_set(&s.profile).contains("rt_sigreturn"));
    assert_eq!(s.profile.entry_value(1), denies.entry_value(1));
    // In an unused LOG entry of an ERRNO profile: --tighten moves it to the allow entry
    // instead of dropping it into the denying default.
    let logged = p(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["rt_sigreturn", "stat"], "action": "SCMP_ACT_LOG"}]}"#,
    );
    let tight = SuggestOptions {
        tighten: true,
        ..SuggestOptions::default()
    };
    let s = suggest(&logged, &[log64("read")], &tight).unwrap();
    assert_eq!(kinds(&s, FindingKind::RemovedUnused), ["stat"]);
    assert_eq!(
        kinds(&s, FindingKind::AllowedEssential),
        ["restart_syscall", "rt_sigreturn"]
    );
    assert_eq!(s.profile.spec().rules().len(), 1);
    // Without --tighten it stays in its LOG entry.
    let s = suggest(&logged, &[log64("read")], &SuggestOptions::default()).unwrap();
    assert_eq!(
        kinds(&s, FindingKind::UnusedInLogEntry),
        ["rt_sigreturn", "stat"]
    );
    // Off (--no-essentials): nothing added.
    let s = suggest(&p(NO_OPT), &[log64("read")], &article_opts()).unwrap();
    assert!(!s.changed());
}

/// generate adds them with a denying default (every arch family of the evidence), not
/// with a LOG default, and not when turned off.
#[test]
fn generate_adds_essentials_with_a_denying_default() {
    let observations = [
        log64("read"),
        obs("SCMP_ARCH_AARCH64", "openat", false, Action::Log, 1),
    ];
    let g = generate(&observations, &GenerateOptions::default());
    assert_eq!(
        allow_set(&g.profile),
        [
            "openat",
            "read",
            "restart_syscall",
            "rt_sigreturn",
            "sigreturn"
        ]
        .map(String::from)
        .into()
    );
    let log = GenerateOptions {
        default_action: GenerateDefault::Log,
        ..GenerateOptions::default()
    };
    assert_eq!(
        allow_set(&generate(&observations, &log).profile),
        ["openat", "read"].map(String::from).into()
    );
    let off = GenerateOptions {
        essentials: false,
        ..GenerateOptions::default()
    };
    assert_eq!(
        allow_set(&generate(&observations, &off).profile),
        ["openat", "read"].map(String::from).into()
    );
}
