//! Unit tests of the engine: conditions, novelty, roll-up, overflow, rate, reloads.

use super::*;
use crate::engine::{RuleSet, Severity};

const X86_64: u32 = 0xc000_003e;
const LOG: u32 = 0x7ffc_0000;
const ERRNO: u32 = 0x0005_0000;
const KILL: u32 = 0x8000_0000;

fn ev(t: i64, nr: i64, code: u32) -> Event {
    Event {
        time_ms: t,
        serial: None,
        node: Some("n1".into()),
        audit_arch: X86_64,
        syscall_nr: nr,
        code,
        pid: 42,
        uid: Some(0),
        gid: Some(0),
        auid: None,
        ses: None,
        comm: Some("app".into()),
        exe: Some("/usr/bin/app".into()),
        subj: None,
        sig: None,
        compat: false,
        ip: None,
        synthetic_key: None,
    }
}

fn container(id: &str) -> ContainerInfo {
    ContainerInfo {
        id: id.into(),
        runtime: "containerd".into(),
        name: Some("api".into()),
        namespace: Some("shop".into()),
        ..Default::default()
    }
}

fn attr(workload: &str, c: Option<ContainerInfo>, profile: Option<&str>) -> Attribution {
    Attribution {
        container: c,
        unit: None,
        workload: workload.into(),
        attributed: true,
        profile_hash: profile.map(Into::into),
    }
}

fn engine(rules: &str, opts: EngineOptions) -> Engine {
    Engine::new(
        Arc::new(RuleSet::parse(rules).unwrap_or_else(|e| panic!("{e}"))),
        opts,
    )
}

fn fired(e: &mut Engine, event: &Event, a: &Attribution) -> Vec<String> {
    let idx = e.observe(&Input::new(event, a)).to_vec();
    idx.iter()
        .map(|&i| e.rules().rule(i as usize).unwrap().name.clone())
        .collect()
}

const READ: i64 = 0;
const PTRACE: i64 = 101;
const GETPPID: i64 = 110;
const MOUNT: i64 = 165;

#[test]
fn builtin_rules_fire_as_documented() {
    let mut e = Engine::new(Arc::new(RuleSet::builtin()), EngineOptions::default());
    let in_c = attr("k8s:shop/cart/api", Some(container("c1")), None);
    let host = attr("exe:/usr/bin/app", None, None);
    let with_profile = attr("k8s:shop/cart/api", Some(container("c1")), Some("abc"));
    assert_eq!(
        fired(&mut e, &ev(1_000, GETPPID, KILL), &host),
        ["kill-action"]
    );
    assert_eq!(
        fired(&mut e, &ev(1_000, PTRACE, ERRNO), &in_c),
        ["dangerous-syscall-in-container"]
    );
    assert!(
        fired(&mut e, &ev(1_000, PTRACE, ERRNO), &host).is_empty(),
        "not in a container"
    );
    assert_eq!(
        fired(&mut e, &ev(1_000, MOUNT, KILL), &in_c),
        ["kill-action", "dangerous-syscall-in-container"]
    );
    assert_eq!(
        fired(&mut e, &ev(1_000, GETPPID, LOG), &with_profile),
        ["log-with-known-profile"]
    );
    assert!(
        fired(&mut e, &ev(1_000, GETPPID, LOG), &in_c).is_empty(),
        "no known profile, still learning"
    );
}

#[test]
fn novel_fires_once_per_new_syscall_after_learning_and_state_restores() {
    let h = 3_600_000;
    let opts = EngineOptions {
        learning_ms: h,
        ..EngineOptions::default()
    };
    let rules = "[[rule]]\nname = \"novel\"\nseverity = \"medium\"\nnovel = true\n";
    let mut e = engine(rules, opts.clone());
    let a = attr("w", None, None);
    assert!(fired(&mut e, &ev(0, READ, LOG), &a).is_empty(), "learning");
    assert!(
        fired(&mut e, &ev(h / 2, GETPPID, LOG), &a).is_empty(),
        "learning"
    );
    assert_eq!(fired(&mut e, &ev(2 * h, PTRACE, LOG), &a), ["novel"]);
    assert!(
        fired(&mut e, &ev(2 * h + 1, PTRACE, LOG), &a).is_empty(),
        "seen now"
    );
    assert!(
        fired(&mut e, &ev(2 * h, READ, LOG), &a).is_empty(),
        "learned"
    );
    // Another arch is another syscall: i386 ptrace (26).
    let mut x86 = ev(2 * h, 26, LOG);
    x86.audit_arch = 0x4000_0003;
    assert_eq!(fired(&mut e, &x86, &a), ["novel"]);
    let st = e.drain().state;
    assert_eq!(
        st[0],
        StateWrite::Workload {
            workload: "w".into(),
            first_seen_ms: 0
        }
    );
    let seen: Vec<(String, String)> = st
        .iter()
        .filter_map(|s| match s {
            StateWrite::Seen { arch, syscall, .. } => Some((arch.clone(), syscall.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("SCMP_ARCH_X86_64".to_string(), "read".to_string()),
            ("SCMP_ARCH_X86_64".into(), "getppid".into()),
            ("SCMP_ARCH_X86_64".into(), "ptrace".into()),
            ("SCMP_ARCH_X86".into(), "ptrace".into())
        ]
    );

    // A restarted engine restored from that state: nothing is novel again, and the
    // learning window is over.
    let mut r = engine(rules, opts);
    for s in &st {
        match s {
            StateWrite::Workload {
                workload,
                first_seen_ms,
            } => r.restore_workload(workload, *first_seen_ms),
            StateWrite::Seen {
                workload,
                arch,
                syscall,
                ..
            } => assert!(r.restore_seen(workload, arch, syscall)),
        }
    }
    assert!(fired(&mut r, &ev(3 * h, PTRACE, LOG), &a).is_empty());
    assert!(fired(&mut r, &x86, &a).is_empty());
    assert_eq!(fired(&mut r, &ev(3 * h, MOUNT, LOG), &a), ["novel"]);
    assert!(r
        .drain()
        .state
        .iter()
        .all(|s| matches!(s, StateWrite::Seen { syscall, .. } if syscall == "mount")));
}

#[test]
fn a_burst_rolls_up_into_one_alert_with_its_count() {
    let rules = "[[rule]]\nname = \"log\"\nseverity = \"low\"\nactions = [\"log\"]\n";
    let mut e = engine(rules, EngineOptions::default());
    let a = attr("k8s:shop/cart/api", Some(container("c1")), Some("h"));
    let mut total = 0u64;
    let mut ids = HashSet::new();
    for batch in 0..10 {
        for i in 0..10_000 {
            e.observe(&Input::new(
                &ev(1_000 + batch * 10_000 + i, GETPPID, LOG),
                &a,
            ));
        }
        let d = e.drain();
        assert_eq!(d.alerts.len(), 1);
        assert_eq!(d.alerts[0].new, batch == 0);
        assert_eq!(
            d.alerts[0].detail_changed,
            batch == 0,
            "identical events change only the count"
        );
        total += d.alerts[0].count_delta;
        ids.insert(d.alerts[0].alert.id.clone());
        if batch == 0 {
            assert_eq!(d.stats.opened, vec![("log".to_string(), Severity::Low, 1)]);
            assert_eq!(d.stats.repeats, vec![("log".to_string(), 9_999)]);
        } else {
            assert!(d.stats.opened.is_empty());
            assert_eq!(d.stats.repeats, vec![("log".to_string(), 10_000)]);
        }
        let al = &d.alerts[0].alert;
        assert_eq!(al.count, (batch as u64 + 1) * 10_000);
        assert_eq!(al.first_seen_ms, 1_000);
        assert_eq!(al.samples.len(), 1, "identical events give one sample");
        assert_eq!(al.containers, 1);
    }
    assert_eq!(total, 100_000);
    assert_eq!(ids.len(), 1);
    // The next window is a new alert with another id.
    e.observe(&Input::new(&ev(600_000 + 5, GETPPID, LOG), &a));
    let d = e.drain();
    assert!(d.alerts[0].new);
    assert!(!ids.contains(&d.alerts[0].alert.id));
    assert_eq!(d.alerts[0].alert.window_start_ms, 600_000);
    assert_eq!(d.alerts[0].alert.window_end_ms, 1_200_000);
}

#[test]
fn distinct_keys_make_distinct_alerts_with_containers_and_samples() {
    let rules = "[[rule]]\nname = \"any\"\nseverity = \"info\"\n";
    let mut e = engine(rules, EngineOptions::default());
    for i in 0..30 {
        let mut event = ev(1_000 + i, GETPPID, LOG);
        event.pid = 100 + i as u32;
        e.observe(&Input::new(
            &event,
            &attr("w", Some(container(&format!("c{i}"))), None),
        ));
    }
    e.observe(&Input::new(
        &ev(2_000, GETPPID, ERRNO),
        &attr("w", None, None),
    ));
    e.observe(&Input::new(&ev(2_000, READ, LOG), &attr("w", None, None)));
    e.observe(&Input::new(
        &ev(2_000, GETPPID, LOG),
        &attr("other", None, None),
    ));
    let d = e.drain();
    assert_eq!(
        d.alerts.len(),
        4,
        "{:#?}",
        d.alerts
            .iter()
            .map(|a| (&a.alert.workload, &a.alert.syscall, &a.alert.action))
            .collect::<Vec<_>>()
    );
    let big = d.alerts.iter().find(|a| a.alert.count == 30).unwrap();
    assert_eq!(big.alert.containers, 30);
    assert_eq!(big.alert.container_ids.len(), 20);
    assert_eq!(big.alert.samples.len(), 5);
    assert_eq!(big.alert.samples[0].pid, 100);
    assert_eq!(big.alert.container.as_ref().unwrap().id, "c0");
    let ids: HashSet<&str> = d.alerts.iter().map(|a| a.alert.id.as_str()).collect();
    assert_eq!(ids.len(), 4);
}

#[test]
fn overflow_folds_new_keys_into_one_summary_and_counts_everything() {
    let rules = "[[rule]]\nname = \"any\"\nseverity = \"low\"\n[[rule]]\nname = \"kills\"\nseverity = \"high\"\nactions = [\"kill_process\"]\n";
    let opts = EngineOptions {
        max_alerts_per_window: 3,
        ..EngineOptions::default()
    };
    let mut e = engine(rules, opts);
    let mut matched = 0u64;
    for w in 0..6 {
        for rep in 0..4 {
            let code = if w == 5 { KILL } else { LOG };
            let f = e
                .observe(&Input::new(
                    &ev(1_000 + rep, READ, code),
                    &attr(&format!("w{w}"), None, None),
                ))
                .len();
            matched += f as u64;
        }
    }
    let d = e.drain();
    let summary: Vec<&AlertChange> = d.alerts.iter().filter(|a| a.alert.is_overflow()).collect();
    assert_eq!(summary.len(), 1);
    let s = &summary[0].alert;
    // w0..w2 open alerts; w3, w4 and both rules of w5 are folded in.
    assert_eq!(s.suppressed_alerts, 4);
    assert_eq!(s.count, 4 * 4);
    assert_eq!(s.severity, Severity::High, "the highest folded severity");
    assert_eq!(d.alerts.len(), 4);
    let sum: u64 = d.alerts.iter().map(|a| a.alert.count).sum();
    assert_eq!(sum, matched, "every matching event is in exactly one count");
    assert_eq!(d.stats.overflowed, 4);
    assert!(d
        .stats
        .opened
        .contains(&(OVERFLOW_RULE.to_string(), Severity::Info, 1)));
    assert!(d.stats.repeats.contains(&(OVERFLOW_RULE.to_string(), 12)));
    assert!(s.summary().contains("4 more alerts"), "{}", s.summary());
}

#[test]
fn rate_fires_beyond_the_count_in_its_window() {
    let rules = "[[rule]]\nname = \"burst\"\nseverity = \"medium\"\nrate = { count = 3, window = \"1m\" }\n";
    let mut e = engine(rules, EngineOptions::default());
    let a = attr("w", None, None);
    let got: Vec<bool> = (0..5)
        .map(|i| !fired(&mut e, &ev(1_000 + i, READ, LOG), &a).is_empty())
        .collect();
    assert_eq!(got, [false, false, false, true, true]);
    assert!(
        fired(&mut e, &ev(61_000, READ, LOG), &a).is_empty(),
        "new rate window"
    );
    assert!(
        fired(&mut e, &ev(1_000, READ, LOG), &attr("w2", None, None)).is_empty(),
        "per workload"
    );
}

#[test]
fn exceptions_and_globs() {
    let rules = r#"
[[rule]]
name = "danger"
severity = "critical"
syscalls = ["@dangerous"]
workloads = ["k8s:*"]
[[rule.except]]
workloads = ["k8s:kube-system/*"]
[[rule.except]]
syscalls = ["ptrace"]
comms = ["gdb"]
"#;
    let mut e = engine(rules, EngineOptions::default());
    let prod = attr("k8s:shop/cart/api", None, None);
    assert_eq!(fired(&mut e, &ev(1, PTRACE, ERRNO), &prod), ["danger"]);
    assert!(fired(
        &mut e,
        &ev(1, PTRACE, ERRNO),
        &attr("k8s:kube-system/proxy/p", None, None)
    )
    .is_empty());
    assert!(fired(
        &mut e,
        &ev(1, PTRACE, ERRNO),
        &attr("docker:web", None, None)
    )
    .is_empty());
    let mut gdb = ev(1, PTRACE, ERRNO);
    gdb.comm = Some("gdb".into());
    assert!(fired(&mut e, &gdb, &prod).is_empty());
    let mut gdb_mount = ev(1, MOUNT, ERRNO);
    gdb_mount.comm = Some("gdb".into());
    assert_eq!(
        fired(&mut e, &gdb_mount, &prod),
        ["danger"],
        "an exception needs all its keys"
    );
}

#[test]
fn not_in_profile_uses_the_stored_profile() {
    let rules = "[[rule]]\nname = \"nip\"\nseverity = \"high\"\nnot_in_profile = true\n";
    let mut e = engine(rules, EngineOptions::default());
    assert!(e.add_profile("h1", r#"{"defaultAction":"SCMP_ACT_LOG","syscalls":[{"names":["read","getppid"],"action":"SCMP_ACT_ALLOW"}]}"#));
    assert!(!e.add_profile("bad", "not json"));
    let a = attr("w", Some(container("c")), Some("h1"));
    assert_eq!(fired(&mut e, &ev(1, PTRACE, LOG), &a), ["nip"]);
    assert!(fired(&mut e, &ev(1, GETPPID, LOG), &a).is_empty());
    assert!(fired(
        &mut e,
        &ev(1, PTRACE, LOG),
        &attr("w", None, Some("unknown-hash"))
    )
    .is_empty());
    assert!(fired(&mut e, &ev(1, PTRACE, LOG), &attr("w", None, Some("bad"))).is_empty());
    assert!(fired(&mut e, &ev(1, PTRACE, LOG), &attr("w", None, None)).is_empty());
}

#[test]
fn a_reload_keeps_open_alerts_of_rules_that_stay() {
    let mut e = engine(
        "[[rule]]\nname = \"a\"\nseverity = \"low\"\n[[rule]]\nname = \"b\"\nseverity = \"low\"\n",
        EngineOptions::default(),
    );
    let a = attr("w", None, None);
    e.observe(&Input::new(&ev(1, READ, LOG), &a));
    let first = e.drain();
    assert_eq!(first.alerts.len(), 2);
    e.set_rules(Arc::new(RuleSet::parse("[[rule]]\nname = \"b\"\nseverity = \"low\"\n[[rule]]\nname = \"c\"\nseverity = \"low\"\n").unwrap()));
    e.observe(&Input::new(&ev(2, READ, LOG), &a));
    let d = e.drain();
    let b = d.alerts.iter().find(|x| x.alert.rule == "b").unwrap();
    assert!(!b.new, "b carried on");
    assert_eq!(b.alert.count, 2);
    assert_eq!(b.count_delta, 1);
    assert!(d.alerts.iter().any(|x| x.alert.rule == "c" && x.new));
    assert!(!d.alerts.iter().any(|x| x.alert.rule == "a"));
}

#[test]
fn old_windows_are_forgotten() {
    let mut e = engine(
        "[[rule]]\nname = \"a\"\nseverity = \"low\"\n",
        EngineOptions {
            window_ms: 1_000,
            ..EngineOptions::default()
        },
    );
    let a = attr("w", None, None);
    for t in 0..100 {
        e.observe(&Input::new(&ev(t * 1_000, READ, LOG), &a));
        e.drain();
    }
    assert!(
        e.open_alerts() <= 3,
        "{} alerts still in memory",
        e.open_alerts()
    );
    // A late event for a forgotten window gets that window's id again (the store adds it).
    e.observe(&Input::new(&ev(5_500, READ, LOG), &a));
    let d = e.drain();
    assert_eq!(d.alerts[0].alert.window_start_ms, 5_000);
    assert_eq!(
        d.alerts[0].alert.id,
        alert_id(None, "a", "w", "read", "SCMP_ACT_LOG", 5_000)
    );
}

#[test]
fn unknown_syscalls_and_arches_still_roll_up() {
    let mut e = engine(
        "[[rule]]\nname = \"a\"\nseverity = \"low\"\n",
        EngineOptions::default(),
    );
    let a = attr("w", None, None);
    let mut odd = ev(1, 9_999, LOG);
    e.observe(&Input::new(&odd, &a));
    odd.audit_arch = 0x1234;
    e.observe(&Input::new(&odd, &a));
    let d = e.drain();
    assert_eq!(d.alerts.len(), 2);
    assert!(d.alerts.iter().all(|x| x.alert.syscall == "9999"));
    assert!(d.alerts.iter().any(|x| x.alert.arch == "0x1234"));
}

#[test]
fn fleet_novelty_is_new_anywhere_in_the_fleet() {
    let h = 3_600_000;
    let rules = "[[rule]]\nname = \"novel\"\nseverity = \"medium\"\nnovel = true\n";
    let opts = EngineOptions {
        learning_ms: h,
        ..EngineOptions::default()
    };
    let a = attr("k8s:shop/cart/api", None, None);
    // This node starts the workload late: alone it would still be learning.
    let mut e = engine(rules, opts.clone());
    assert!(!e.knows_workload("k8s:shop/cart/api"));
    // The fleet saw the workload long ago and another node saw ptrace.
    e.learn_fleet("k8s:shop/cart/api", 0, &[(X86_64, PTRACE)]);
    assert!(e.knows_workload("k8s:shop/cart/api"));
    assert_eq!(e.workload_keys().collect::<Vec<_>>(), ["k8s:shop/cart/api"]);
    let t = 10 * h;
    assert!(fired(&mut e, &ev(t, PTRACE, LOG), &a).is_empty());
    assert_eq!(fired(&mut e, &ev(t + 1, MOUNT, LOG), &a), ["novel"]);
    // Nothing learnt from the fleet is persisted as this node's state.
    let state = e.drain().state;
    assert!(
        state
            .iter()
            .all(|s| !matches!(s, StateWrite::Seen { syscall, .. } if syscall == "ptrace")),
        "{state:?}"
    );
    assert!(state
        .iter()
        .any(|s| matches!(s, StateWrite::Seen { syscall, .. } if syscall == "mount")));
    // Node-local (nothing learnt): the same events give a learning window from t.
    let mut local = engine(rules, opts);
    assert!(fired(&mut local, &ev(t, PTRACE, LOG), &a).is_empty());
    assert!(fired(&mut local, &ev(t + 1, MOUNT, LOG), &a).is_empty());
}

#[test]
fn alert_ids_are_the_same_on_every_node() {
    let rules = "[[rule]]\nname = \"all\"\nseverity = \"low\"\n";
    let a = attr("k8s:shop/cart/api", None, None);
    let id_on = |node: &str| {
        let mut e = engine(
            rules,
            EngineOptions {
                node: Some(node.into()),
                ..EngineOptions::default()
            },
        );
        let mut event = ev(1_000, PTRACE, LOG);
        event.node = None;
        e.observe(&Input::new(&event, &a));
        let d = e.drain();
        assert_eq!(d.alerts[0].alert.node.as_deref(), Some(node));
        d.alerts[0].alert.id.clone()
    };
    assert_eq!(id_on("a"), id_on("b"));
}
