//! End-to-end tests of alerting's rules and roll-up: rules -> roll-up -> the store
//! writer's transaction -> the outbox; the 100k burst; novelty state across a restart;
//! rule-file errors and reloads; `rules test` on parsed events; the daemon SIGKILLed with
//! alerts pending. Delivery to real sinks is tested in alerts_delivery.rs.

mod support;

#[path = "support/alerts.rs"]
mod alerts_support;

use std::path::Path;
use std::time::{Duration, Instant};

use seccomp_watch::alerts::{self, RuleStage, Status};
use seccomp_watch::pipeline::StoreBatch;
use seccomp_watch::store::{SqliteStore, Store};
use serde_json::Value;

use alerts_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_100k_identical_log_events_is_one_alert_counting_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "[[rule]]\nname = \"burst-log\"\nseverity = \"low\"\nactions = [\"log\"]\nprofile_known = true\n").unwrap();
    let cfg = config(&format!("rules = \"{}\"\n", rules.display()));
    let (store, _db) = open_store(dir.path()).await;
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    let attr = container_attr("k8s:shop/burst/api", Some("cd"));
    let t0: i64 = 1_790_000_400_000; // a window start (a multiple of 600 s)
    assert_eq!(t0 % 600_000, 0);
    let batches: Vec<StoreBatch> = (0..10)
        .map(|b| {
            batch(
                (0..10_000)
                    .map(|i| {
                        event(
                            t0 + b * 10_000 + i,
                            (b * 10_000 + i) as u64 + 1,
                            GETPPID,
                            LOG,
                        )
                    })
                    .collect(),
                &attr,
            )
        })
        .collect();
    let m = seccomp_watch::metrics::metrics();
    let repeats0 = m.alert_repeats.with_label_values(&["burst-log"]).get();
    let opened0 = m.alerts.with_label_values(&["burst-log", "low"]).get();
    let start = Instant::now();
    commit(&store, &mut stage, batches).await;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "100k events through rules + writer: {:.0} events/s",
        100_000.0 / secs
    );
    let rows = alerts::list(store.pool(), None, 0).await.unwrap();
    assert_eq!(rows.len(), 1, "one alert");
    assert_eq!(rows[0].alert.count, 100_000);
    assert_eq!(rows[0].alert.first_seen_ms, t0);
    assert_eq!(rows[0].alert.last_seen_ms, t0 + 99_999);
    assert_eq!(
        m.alerts.with_label_values(&["burst-log", "low"]).get() - opened0,
        1
    );
    assert_eq!(
        m.alert_repeats.with_label_values(&["burst-log"]).get() - repeats0,
        99_999
    );
    let text = m.render();
    assert!(
        text.contains("seccomp_watch_alert_repeats_total{rule=\"burst-log\"}"),
        "metric exported"
    );
    // The next window is another alert.
    commit(
        &store,
        &mut stage,
        vec![batch(
            vec![event(t0 + 600_000, 200_001, GETPPID, LOG)],
            &attr,
        )],
    )
    .await;
    assert_eq!(alerts::list(store.pool(), None, 0).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn novelty_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"novel-test\"\nseverity = \"medium\"\nnovel = true\n",
    )
    .unwrap();
    let cfg = config(&format!(
        "rules = \"{}\"\n[alerts]\nlearning_hours = 1\n",
        rules.display()
    ));
    let (store, _db) = open_store(dir.path()).await;
    let attr = container_attr("k8s:shop/novel/api", None);
    let h = 3_600_000;
    let t0 = 1_790_000_000_000;
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    stage.load_state(store.pool()).await.unwrap();
    commit(
        &store,
        &mut stage,
        vec![batch(vec![event(t0, 1, GETPPID, LOG)], &attr)],
    )
    .await;
    assert!(
        alerts::list(store.pool(), None, 0)
            .await
            .unwrap()
            .is_empty(),
        "learning"
    );
    drop(stage);

    // Restart: a new stage loads the state; getppid is known, ptrace is new.
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    stage.load_state(store.pool()).await.unwrap();
    commit(
        &store,
        &mut stage,
        vec![batch(
            vec![
                event(t0 + 2 * h, 2, GETPPID, LOG),
                event(t0 + 2 * h, 3, PTRACE, LOG),
            ],
            &attr,
        )],
    )
    .await;
    let rows = alerts::list(store.pool(), None, 0).await.unwrap();
    assert_eq!(
        rows.len(),
        1,
        "{:?}",
        rows.iter().map(|r| &r.alert.syscall).collect::<Vec<_>>()
    );
    assert_eq!(rows[0].alert.syscall, "ptrace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rule_files_are_rejected_with_line_and_reason_and_a_reload_keeps_the_last_good_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"first\"\nseverity = \"high\"\nsyscalls = [\"ptrace\"]\n",
    )
    .unwrap();
    let cfg = config(&format!("rules = \"{}\"\n", rules.display()));
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    let handle = stage.handle();
    let attr = container_attr("k8s:shop/reload/api", None);
    let fired = |stage: &mut RuleStage, serial: u64, nr: i64| -> Vec<String> {
        let mut b = batch(
            vec![event(
                1_790_000_000_000 + serial as i64 * 700_000,
                serial,
                nr,
                ERRNO,
            )],
            &attr,
        );
        stage.apply(&mut b);
        b.alerts
            .iter()
            .filter_map(|w| match w {
                alerts::AlertWrite::Alert { alert, .. } => Some(alert.rule.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(fired(&mut stage, 1, PTRACE), ["first"]);

    // An invalid file: the error names the file, the line and the reason; the rules stay.
    std::fs::write(&rules, "[[rule]]\nname = \"second\"\nseverity = \"high\"\nsyscalls = [\"ptrace\", \"not_a_syscall\"]\n").unwrap();
    let e = format!("{:#}", handle.reload().unwrap_err());
    assert!(
        e.contains(&format!("{}:4:", rules.display())) && e.contains("not_a_syscall"),
        "{e}"
    );
    assert_eq!(
        fired(&mut stage, 2, PTRACE),
        ["first"],
        "last good rules kept"
    );
    std::fs::write(&rules, "[[rule]]\nname = \"second\"\nseverity = \"high\"\nsyscalls = [\"getppid\"]\n[[rule]]\nname = \"oops\"\nseverity = \"high\"\nsyscals = []\n").unwrap();
    let e = format!("{:#}", handle.reload().unwrap_err());
    assert!(e.contains(":8:") && e.contains("syscals"), "{e}");
    assert_eq!(fired(&mut stage, 3, PTRACE), ["first"]);

    // A good file takes effect from the next batch.
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"second\"\nseverity = \"high\"\nsyscalls = [\"getppid\"]\n",
    )
    .unwrap();
    assert_eq!(handle.reload().unwrap(), 1);
    assert!(fired(&mut stage, 4, PTRACE).is_empty());
    assert_eq!(fired(&mut stage, 5, GETPPID), ["second"]);

    // The CLI says the same.
    std::fs::write(&rules, "[[rule]]\nname = \"x\"\nseverity = \"urgent\"\n\n[[rule]]\nname = \"y\"\nseverity = \"low\"\nworkloads = [\"k8s:[prod\"]\n").unwrap();
    let out = std::process::Command::new(seccomp_watch_tests::bin())
        .args(["rules", "check"])
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{}:3: severity \"urgent\"", rules.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}:8: workloads: bad glob", rules.display())),
        "{text}"
    );
    // And a daemon config with a bad rules file does not start.
    assert!(RuleStage::from_config(&cfg).is_err());
}

#[test]
fn rules_test_shows_which_rules_fire_on_parsed_events() {
    let dir = tempfile::tempdir().unwrap();
    let bin = seccomp_watch_tests::bin();
    let events = dir.path().join("events.jsonl");
    let out = std::process::Command::new(&bin)
        .arg("parse")
        .arg(seccomp_watch_tests::fixture("audit/auditd-raw.log"))
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&events, &out.stdout).unwrap();
    let n = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(n > 10);
    let out = std::process::Command::new(&bin)
        .args([
            "rules",
            "test",
            "--learning-hours",
            "0",
            "--json",
            "--events",
        ])
        .arg(&events)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let per_event: Vec<&Value> = lines.iter().filter(|l| l.get("line").is_some()).collect();
    assert_eq!(per_event.len(), n);
    // The capture has kill_process and kill_thread records: kill-action fires on them.
    let kills: Vec<&&Value> = per_event
        .iter()
        .filter(|l| l["action"].as_str().unwrap().starts_with("SCMP_ACT_KILL"))
        .collect();
    assert!(!kills.is_empty());
    assert!(kills.iter().all(|l| l["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r.as_str().unwrap().starts_with("kill-action"))));
    let alerts: Vec<&Value> = lines.iter().filter(|l| l.get("alert").is_some()).collect();
    assert!(alerts.iter().any(|a| a["alert"]["rule"] == "kill-action"));
    assert!(alerts.iter().any(|a| a["alert"]["rule"] == "novel-syscall"));
}

/// The alerts of the database at `db` (a fresh read-only connection each time).
fn stored_alerts(rt: &tokio::runtime::Runtime, db: &Path) -> Vec<alerts::AlertRow> {
    rt.block_on(async {
        let Ok(s) = SqliteStore::open_existing(db).await else {
            return Vec::new();
        };
        let rows = alerts::list(s.pool(), None, 0).await.unwrap_or_default();
        s.close().await;
        rows
    })
}

#[test]
fn the_daemon_sigkilled_with_alerts_pending_delivers_them_after_restart_and_keeps_good_rules_on_reload(
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let rx = rt.block_on(Receiver::start(0, None, None));
    *rx.status.lock().unwrap() = 503;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, "[[rule]]\nname = \"daemon-log\"\nseverity = \"high\"\nactions = [\"log\"]\nexes = [\"/alert-daemon-test/*\"]\n").unwrap();
    let log = tmp.path().join("audit.log");
    // Top-level keys first, then the tables.
    let cfg = format!(
        "rules = \"{}\"\n{}[[sinks]]\ntype = \"webhook\"\nname = \"siem\"\nurl = \"http://127.0.0.1:{}/\"\n",
        rules.display(),
        support::BASE_CONFIG,
        rx.port
    );
    support::append(&log, "");
    let args = [
        "--source",
        "audit-log",
        "--audit-log",
        log.to_str().unwrap(),
    ];
    let mut d = support::Daemon::start(&dir, &cfg, &args);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut text = String::new();
    for (i, exe) in [
        "/alert-daemon-test/a",
        "/alert-daemon-test/b",
        "/alert-daemon-test/c",
        "/elsewhere/d",
    ]
    .iter()
    .enumerate()
    {
        for j in 0..5u64 {
            text.push_str(&support::seccomp_line(
                now,
                50_000 + i as u64 * 10 + j,
                900 + i as u32,
                exe,
            ));
        }
    }
    support::append(&log, &text);
    // Three alerts (d is not matched), committed, tried and failing.
    let pending = seccomp_watch_tests::wait_for(Duration::from_secs(60), || {
        let rows = stored_alerts(&rt, &d.db);
        (rows.len() == 3
            && rows
                .iter()
                .all(|r| r.status == Some(Status::Pending) && r.deliveries[0].attempts >= 1))
        .then_some(rows)
    })
    .unwrap_or_else(|| {
        panic!(
            "no pending alerts: {:?}\n{}",
            stored_alerts(&rt, &d.db)
                .iter()
                .map(|r| (&r.alert.workload, r.status, &r.deliveries))
                .collect::<Vec<_>>(),
            d.output()
        )
    });
    assert!(pending
        .iter()
        .all(|r| r.alert.count == 5 && r.alert.rule == "daemon-log"));
    assert!(rx.requests().is_empty());

    // SIGKILL with the alerts pending; the SIEM comes back; the restarted daemon delivers.
    d.kill();
    *rx.status.lock().unwrap() = 200;
    let mut d2 = d.restart();
    let ids = seccomp_watch_tests::wait_for(Duration::from_secs(60), || {
        let ids = rx.ids();
        (ids.len() >= 3).then_some(ids)
    })
    .unwrap_or_else(|| panic!("not delivered after restart:\n{}", d2.output()));
    let mut want: Vec<String> = pending.iter().map(|r| r.alert.id.clone()).collect();
    want.sort();
    let mut got = ids.clone();
    got.sort();
    assert_eq!(got, want, "each alert once");

    // A bad rules file on SIGHUP: logged with its line, the last good rules stay.
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"broken\"\nseverity = \"high\"\nsyscalls = [\"nope\"]\n",
    )
    .unwrap();
    support::signal(d2.pid(), libc::SIGHUP);
    let said = seccomp_watch_tests::wait_for(Duration::from_secs(20), || {
        d2.output()
            .contains("keeping the last good rules")
            .then_some(())
    });
    assert!(said.is_some(), "{}", d2.output());
    assert!(
        d2.output().contains(&format!("{}:4:", rules.display())),
        "{}",
        d2.output()
    );
    let later = now + 700; // another roll-up window
    let mut more = String::new();
    for j in 0..3u64 {
        more.push_str(&support::seccomp_line(
            later,
            60_000 + j,
            990,
            "/alert-daemon-test/e",
        ));
    }
    support::append(&log, &more);
    let rows = seccomp_watch_tests::wait_for(Duration::from_secs(60), || {
        let rows = stored_alerts(&rt, &d2.db);
        rows.iter()
            .any(|r| r.alert.workload == "exe:/alert-daemon-test/e")
            .then_some(rows)
    })
    .unwrap_or_else(|| panic!("the old rules did not fire:\n{}", d2.output()));
    assert!(rows.iter().all(|r| r.alert.rule == "daemon-log"));
    assert!(d2.term().success(), "{}", d2.output());
}
