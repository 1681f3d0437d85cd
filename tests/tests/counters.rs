//! Counters that exist before their first event (item 11): right after start, and again
//! after a reload, `/metrics` holds `alerts_total` at 0 for every rule and its severity,
//! `alert_repeats_total` for every rule, and `deliveries_total` for every sink and outcome,
//! so that `increase()` and `rate()` see the first alert (Prometheus needs a sample before
//! it to count it).

mod support;

use std::time::Duration;

use seccomp_watch_tests::{free_port, http_get, scrape_value, wait_for};
use support::{signal, Daemon};

fn metrics(port: u16) -> String {
    http_get(port, "/metrics")
        .filter(|(st, _)| *st == 200)
        .map(|(_, b)| b)
        .unwrap_or_default()
}

#[test]
fn alert_and_delivery_counters_start_at_zero_and_follow_reloads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("audit.log");
    std::fs::write(&log, "").unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"kills\"\nseverity = \"high\"\nactions = [\"kill_process\"]\n\n\
         [[rule]]\nname = \"logged-ptrace\"\nseverity = \"medium\"\nsyscalls = [\"ptrace\"]\n",
    )
    .unwrap();
    let port = free_port();
    // Sinks on a closed port: nothing is delivered, the series exist anyway.
    let config = format!(
        "rules = \"{}\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [[sinks]]\ntype = \"webhook\"\nname = \"siem\"\nurl = \"http://127.0.0.1:9/x\"\n\n\
         [[sinks]]\ntype = \"alertmanager\"\nurl = \"http://127.0.0.1:9\"\n",
        rules.display()
    );
    let d = Daemon::start(
        &dir,
        &config,
        &[
            "--source",
            "audit-log",
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    let scrape = wait_for(Duration::from_secs(10), || {
        let m = metrics(port);
        m.contains("seccomp_watch_reloads_total").then_some(m)
    })
    .unwrap_or_else(|| panic!("no /metrics:\n{}", d.output()));
    let zero = |scrape: &str, series: &str| {
        assert_eq!(
            scrape_value(scrape, series),
            Some(0.0),
            "{series} is not 0 at start:\n{scrape}"
        );
    };
    for s in [
        r#"seccomp_watch_alerts_total{rule="kills",severity="high"}"#,
        r#"seccomp_watch_alerts_total{rule="logged-ptrace",severity="medium"}"#,
        r#"seccomp_watch_alerts_total{rule="alert-overflow",severity="info"}"#,
        r#"seccomp_watch_alert_repeats_total{rule="kills"}"#,
        r#"seccomp_watch_alert_repeats_total{rule="logged-ptrace"}"#,
        r#"seccomp_watch_alert_repeats_total{rule="alert-overflow"}"#,
    ] {
        zero(&scrape, s);
    }
    for sink in ["siem", "alertmanager"] {
        for outcome in ["ok", "retry", "dead"] {
            zero(
                &scrape,
                &format!(r#"seccomp_watch_deliveries_total{{outcome="{outcome}",sink="{sink}"}}"#),
            );
        }
    }

    // A reload with a new rule: its series appear at 0 (the old ones stay).
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"kills\"\nseverity = \"high\"\nactions = [\"kill_process\"]\n\n\
         [[rule]]\nname = \"new-rule\"\nseverity = \"critical\"\nsyscalls = [\"bpf\"]\n",
    )
    .unwrap();
    signal(d.pid(), libc::SIGHUP);
    let after = wait_for(Duration::from_secs(10), || {
        let m = metrics(port);
        (scrape_value(&m, r#"seccomp_watch_reloads_total{outcome="ok"}"#) == Some(1.0)).then_some(m)
    })
    .unwrap_or_else(|| panic!("no reload:\n{}", d.output()));
    zero(
        &after,
        r#"seccomp_watch_alerts_total{rule="new-rule",severity="critical"}"#,
    );
    zero(
        &after,
        r#"seccomp_watch_alert_repeats_total{rule="new-rule"}"#,
    );
    zero(
        &after,
        r#"seccomp_watch_alerts_total{rule="kills",severity="high"}"#,
    );
}
