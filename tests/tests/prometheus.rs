//! The dashboard and the alert rules against a real Prometheus (Debian's `prometheus`,
//! started by hand into a temp dir on a free port and stopped by its pid): it scrapes a
//! daemon under load (the netlink source, processes of the test making logged calls, one
//! rule that fires and a webhook sink that the test receives), then
//! - every query of `dashboards/seccomp-watch.json` (the template variables' queries too),
//!   with Grafana's variables substituted as Grafana would for the test's time range, is
//!   evaluated through Prometheus' HTTP API (`query_range`, as a panel does) and must
//!   return data;
//! - `dashboards/alerts.yml` passes `promtool check rules`, loads as Prometheus'
//!   `rule_files`, and every rule evaluates without error (`/api/v1/rules`).
//!
//! Grafana's variables: `$__rate_interval` is max(step + scrape interval, 4 x scrape
//! interval) and `$__range` the range's length; `$node` is the instance the `node`
//! variable's own query finds, `$workload` its "All" value (`.*`).

#[path = "support/alerts.rs"]
mod alerts_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use seccomp_watch_tests::{
    free_port, http_get, root_or_skip, tool_or_skip, wait_for, workspace_root,
};
use serde_json::Value;
use support::*;

/// Prometheus as a child process (stopped, by its pid, when dropped).
struct Prometheus {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Prometheus {
    fn start(dir: &Path, config: &str) -> Prometheus {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config).unwrap();
        let port = free_port();
        let log = dir.join("prometheus.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start prometheus");
        let p = Prometheus { child, port, log };
        let ready = wait_for(Duration::from_secs(60), || {
            http_get(p.port, "/-/ready").filter(|(s, _)| *s == 200)
        });
        assert!(ready.is_some(), "prometheus not ready:\n{}", p.output());
        p
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET `path?query` of the HTTP API; the `data` of a successful answer.
    fn api(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let q: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let url = format!("{path}?{}", q.join("&"));
        let (status, body) =
            http_get(self.port, &url).ok_or_else(|| format!("no answer to {url}"))?;
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("{status} {e}: {body}"))?;
        if v["status"] != "success" {
            return Err(format!("{status}: {body}"));
        }
        Ok(v["data"].clone())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        signal(self.child.id(), libc::SIGTERM);
        if wait_for(Duration::from_secs(10), || {
            self.child.try_wait().ok().flatten()
        })
        .is_none()
        {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Percent-encoding of a query parameter.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Every `expr` of the dashboard's panels (nested rows too), with the panel's title.
fn panel_queries(dash: &Value) -> Vec<(String, String)> {
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for p in panels.as_array().into_iter().flatten() {
            walk(&p["panels"], out);
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(e) = t["expr"].as_str() {
                    let title = p["title"].as_str().unwrap_or("?").to_string();
                    out.push((title, e.to_string()));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&dash["panels"], &mut out);
    out
}

/// `label_values(SELECTOR, LABEL)` of a query variable.
fn label_values_query(q: &str) -> (String, String) {
    let inner = q
        .trim()
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not label_values(): {q}"));
    let (sel, label) = inner.rsplit_once(',').unwrap();
    (sel.trim().to_string(), label.trim().to_string())
}

/// A regex matching exactly `s`, inside a PromQL string (as Grafana's Prometheus data
/// source interpolates a single selected value: `127\\.0\\.0\\.1`).
fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if r"\.+*?()|[]{}^$".contains(c) {
                vec!['\\', '\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

#[test]
fn the_dashboard_and_the_alert_rules_work_against_a_real_prometheus() {
    let t = "the_dashboard_and_the_alert_rules_work_against_a_real_prometheus";
    if !root_or_skip(t) || !tool_or_skip(t, "prometheus") || !tool_or_skip(t, "promtool") {
        return;
    }
    let root = workspace_root();
    let alerts_yml = root.join("dashboards/alerts.yml");
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("dashboards/seccomp-watch.json")).unwrap(),
    )
    .unwrap();

    // The alert rules pass promtool.
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&alerts_yml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // An HTTP receiver for the alert, and the daemon: netlink, one rule, one webhook sink.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let rx = rt.block_on(alerts_support::Receiver::start(0, None, None));
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_copy(tmp.path(), "demo-prom", false);
    let dir = tmp.path().join("d");
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        format!(
            "[[rule]]\nname = \"prom-test-log\"\nseverity = \"high\"\nactions = [\"log\"]\nexes = [\"{}\"]\n",
            demo.display()
        ),
    )
    .unwrap();
    let dport = free_port();
    let cfg = format!(
        "rules = \"{}\"\n[http]\nlisten = \"127.0.0.1:{dport}\"\n\n[[sinks]]\ntype = \"webhook\"\nname = \"prom-test\"\nurl = \"http://127.0.0.1:{}/\"\n",
        rules.display(),
        rx.port
    );
    let mut d = Daemon::start(&dir, &cfg, &["--source", "netlink"]);

    let scrape_s = 1;
    let prom = Prometheus::start(
        &tmp.path().join("prom"),
        &format!(
            "global:\n  scrape_interval: {scrape_s}s\n  scrape_timeout: {scrape_s}s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: seccomp-watch\n    static_configs:\n      - targets: [\"127.0.0.1:{dport}\"]\n",
            alerts_yml.display()
        ),
    );
    let start = now_secs();

    // Load: bursts of logged calls (two actions) for 25 s.
    let t0 = Instant::now();
    let mut bursts = 0;
    while t0.elapsed() < Duration::from_secs(25) {
        run_demo(&demo, &["-a", "log", "-n", "200"]);
        run_demo(&demo, &["-a", "errno", "-n", "20"]);
        bursts += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(bursts > 10, "{bursts} bursts");
    // The alert is delivered.
    let delivered = wait_for(Duration::from_secs(30), || {
        rx.requests()
            .iter()
            .any(|r| r.json()["rule"] == "prom-test-log")
            .then_some(())
    });
    assert!(
        delivered.is_some(),
        "no alert delivered: {:?}\n{}",
        rx.requests().iter().map(|r| r.json()).collect::<Vec<_>>(),
        d.output()
    );
    // A few more scrapes after the delivery, so that its counter moved within the range.
    std::thread::sleep(Duration::from_secs(5 * scrape_s));
    let end = now_secs();

    // The scrape target is up.
    let targets = prom.api("/api/v1/targets", &[]).unwrap();
    let active = targets["activeTargets"].as_array().unwrap();
    assert!(
        active.iter().any(|t| t["health"] == "up"),
        "{targets}\n{}",
        prom.output()
    );

    // Grafana's variables for this range.
    let step = 2u64;
    let rate_interval = format!("{}s", (step + scrape_s).max(4 * scrape_s));
    let range = format!("{}s", (end - start).round() as u64);
    let vars = dash["templating"]["list"].as_array().unwrap();
    let var_query = |name: &str| -> String {
        let v = vars.iter().find(|v| v["name"] == name).unwrap();
        v["definition"]
            .as_str()
            .or_else(|| v["query"]["query"].as_str())
            .unwrap()
            .to_string()
    };
    let subst = |e: &str, node: &str| -> String {
        e.replace("$__rate_interval", &rate_interval)
            .replace("$__range", &range)
            .replace("$__interval", &format!("{step}s"))
            .replace("$node", node)
            .replace("$workload", ".*")
    };
    let mut failures = Vec::new();
    // The `node` variable's query finds this daemon's instance.
    let (sel, label) = label_values_query(&var_query("node"));
    let (s, e) = (format!("{start}"), format!("{end}"));
    let nodes = prom
        .api(
            &format!("/api/v1/label/{label}/values"),
            &[("match[]", &sel), ("start", &s), ("end", &e)],
        )
        .unwrap();
    let instance = format!("127.0.0.1:{dport}");
    assert!(
        nodes.as_array().unwrap().iter().any(|n| n == &instance),
        "node variable ({sel}, {label}): {nodes}"
    );
    let node = regex_escape(&instance);
    // The `workload` variable's query finds the demo's workload.
    let (sel, label) = label_values_query(&var_query("workload"));
    let sel = subst(&sel, &node);
    let workloads = prom
        .api(
            &format!("/api/v1/label/{label}/values"),
            &[("match[]", &sel), ("start", &s), ("end", &e)],
        )
        .unwrap();
    let demo_workload = format!("exe:{}", demo.display());
    if !workloads
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w == &demo_workload)
    {
        failures.push(format!(
            "variable workload ({sel}): {demo_workload} missing in {workloads}"
        ));
    }

    // Every panel query returns data over the range.
    let queries = panel_queries(&dash);
    assert!(queries.len() >= 20, "{} queries", queries.len());
    let st = step.to_string();
    for (title, expr) in &queries {
        let q = subst(expr, &node);
        assert!(!q.contains('$'), "a variable left in {q}");
        match prom.api(
            "/api/v1/query_range",
            &[("query", &q), ("start", &s), ("end", &e), ("step", &st)],
        ) {
            Ok(data) => {
                let points: usize = data["result"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["values"].as_array().map_or(0, |v| v.len()))
                    .sum();
                if points == 0 {
                    failures.push(format!("panel {title:?}: no data for {q}"));
                }
            }
            Err(err) => failures.push(format!("panel {title:?}: {q}: {err}")),
        }
    }

    // The alert rules are loaded and evaluate without errors.
    let rule_count = std::fs::read_to_string(&alerts_yml)
        .unwrap()
        .matches("- alert:")
        .count();
    assert!(rule_count >= 5);
    let rules = wait_for(Duration::from_secs(30), || {
        let data = prom.api("/api/v1/rules", &[]).ok()?;
        let rules: Vec<Value> = data["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        (rules.len() == rule_count && rules.iter().all(|r| r["health"] != "unknown"))
            .then_some(rules)
    })
    .unwrap_or_else(|| {
        panic!(
            "alerts.yml not loaded or not evaluated: {:?}\n{}",
            prom.api("/api/v1/rules", &[]),
            prom.output()
        )
    });
    for r in &rules {
        if r["health"] != "ok" || r["lastError"].as_str().is_some_and(|e| !e.is_empty()) {
            failures.push(format!(
                "rule {}: health {} error {}",
                r["name"], r["health"], r["lastError"]
            ));
        }
    }

    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(d.term().success(), "{}", d.output());
}
