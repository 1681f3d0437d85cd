//! End-to-end tests of alert delivery: the outbox -> real sinks (local HTTP and HTTPS
//! receivers that verify the HMAC signature, Splunk HEC, syslog UDP/TCP listeners, a real
//! Alertmanager), through receiver outages and dispatcher restarts; `alerts retry` from
//! the CLI; a count that grows after delivery is delivered again.

#[path = "support/alerts.rs"]
mod alerts_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use seccomp_watch::alerts::{self, DispatchOptions, Dispatcher, RuleStage, Sink, Status};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use alerts_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_https_webhooks_get_signed_payloads_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, ca) = tls_config(dir.path());
    let plain = Receiver::start(0, Some("plain-secret"), None).await;
    let secure = Receiver::start(0, Some("tls-secret"), Some(tls)).await;
    std::fs::write(dir.path().join("secret"), "tls-secret\n").unwrap();
    std::env::set_var("SW_ALERTS_TEST_HMAC", "plain-secret");
    std::env::set_var("SW_ALERTS_TEST_BEARER", "bearer-token-1");
    let cfg = config(&format!(
        r#"node = "node-1"
[[sinks]]
type = "webhook"
name = "plain"
url = "http://127.0.0.1:{}/hook"
secret_env = "SW_ALERTS_TEST_HMAC"
token_env = "SW_ALERTS_TEST_BEARER"
headers = {{ "X-Tenant" = "blue" }}
[[sinks]]
type = "webhook"
name = "secure"
url = "https://127.0.0.1:{}/hook"
secret_file = "{}"
ca_file = "{}"
min_severity = "critical"
"#,
        plain.port,
        secure.port,
        dir.path().join("secret").display(),
        ca.display()
    ));
    let (store, db) = open_store(dir.path()).await;
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    stage.load_state(store.pool()).await.unwrap();
    let attr = container_attr("k8s:shop/cart/api", Some(&"ab".repeat(32)));
    let t0 = 1_790_000_000_000;
    commit(
        &store,
        &mut stage,
        vec![batch(
            vec![
                event(t0, 1, PTRACE, ERRNO),
                event(t0 + 5, 2, PTRACE, ERRNO),
                event(t0 + 9, 3, GETPPID, KILL),
            ],
            &attr,
        )],
    )
    .await;

    let mut d = Dispatcher::open(&db, Sink::all_from_config(&cfg.sinks).unwrap(), fast())
        .await
        .unwrap();
    let r = drain(&mut d, Duration::from_secs(20)).await;
    assert_eq!(r.pending, 0, "{r:?}");

    // plain took both alerts (min_severity low), secure only the critical one.
    let p = plain.requests();
    assert_eq!(p.len(), 2, "{:?}", plain.ids());
    assert_eq!(plain.got.lock().unwrap().bad_signatures, 0);
    assert_eq!(secure.got.lock().unwrap().bad_signatures, 0);
    let s = secure.requests();
    assert_eq!(s.len(), 1);
    let crit = s[0].json();
    assert_eq!(crit["rule"], "dangerous-syscall-in-container");
    assert_eq!(crit["severity"], "critical");
    assert_eq!(crit["count"], 2);
    assert_eq!(crit["syscall"], "ptrace");
    assert_eq!(crit["arch"], "SCMP_ARCH_X86_64");
    assert_eq!(crit["action"], "SCMP_ACT_ERRNO");
    assert_eq!(crit["node"], "node-1");
    assert_eq!(crit["workload"], "k8s:shop/cart/api");
    for (k, v) in [
        ("name", "api"),
        ("image", "registry.example/shop/cart:1.4"),
        ("pod", "cart-7d9f8b6c5-x2k4q"),
        ("namespace", "shop"),
        ("runtime", "containerd"),
    ] {
        assert_eq!(crit["container"][k], v, "container.{k}");
    }
    assert_eq!(crit["container"]["id"], "0123456789abcdef".repeat(4));
    assert_eq!(crit["first_seen"], parsers::time::rfc3339_ms(t0));
    assert_eq!(crit["last_seen"], parsers::time::rfc3339_ms(t0 + 5));
    assert_eq!(crit["samples"][0]["pid"], 4242);
    assert_eq!(crit["samples"][0]["comm"], "cart");
    assert_eq!(crit["samples"][0]["exe"], "/usr/bin/cart");
    assert_eq!(crit["profile"]["hash"], "ab".repeat(32));
    assert!(crit["summary"].as_str().unwrap().contains("ptrace"));
    assert!(crit["hint"]
        .as_str()
        .unwrap()
        .contains("seccomp-watch suggest --workload k8s:shop/cart/api"));
    let id = crit["id"].as_str().unwrap();
    assert_eq!(
        s[0].headers.get("idempotency-key").map(String::as_str),
        Some(id)
    );
    assert_eq!(s[0].path, "/hook");
    // Bearer token and custom headers on the plain one; the secret never in a header.
    let pr = p
        .iter()
        .find(|r| r.json()["id"] == id)
        .expect("critical alert on plain too");
    assert_eq!(
        pr.headers.get("authorization").map(String::as_str),
        Some("Bearer bearer-token-1")
    );
    assert_eq!(pr.headers.get("x-tenant").map(String::as_str), Some("blue"));
    assert!(pr.headers.values().all(|v| !v.contains("plain-secret")));
    let kill = p
        .iter()
        .map(Request::json)
        .find(|j| j["rule"] == "kill-action")
        .expect("kill alert");
    assert_eq!(kill["severity"], "high");

    // The store lists them as delivered.
    let rows = alerts::list(store.pool(), Some(Status::Delivered), 0)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r.deliveries.iter().all(|d| d.status == Status::Delivered)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_a_while_gets_every_alert_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = config(&format!(
        "[[sinks]]\ntype = \"webhook\"\nname = \"flaky\"\nurl = \"http://127.0.0.1:{port}/\"\n"
    ));
    let (store, db) = open_store(dir.path()).await;
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    // 40 distinct alerts: kill-action on 40 workloads.
    let t0 = 1_790_000_000_000;
    let batches = (0..40)
        .map(|i| {
            batch(
                vec![event(t0 + i, i as u64 + 1, GETPPID, KILL)],
                &container_attr(&format!("k8s:shop/app{i}/api"), None),
            )
        })
        .collect();
    commit(&store, &mut stage, batches).await;

    let mut d = Dispatcher::open(&db, Sink::all_from_config(&cfg.sinks).unwrap(), fast())
        .await
        .unwrap();
    // Down: nothing listens on the port.
    let mut failed = 0;
    for _ in 0..5 {
        failed += d.tick().await.unwrap().failed;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert!(failed >= 2, "the outage was noticed ({failed} failures)");
    // Then a receiver that answers 503 for a while (the SIEM is up but unhealthy).
    let mut rx = Receiver::start(port, None, None).await;
    *rx.status.lock().unwrap() = 503;
    for _ in 0..3 {
        d.tick().await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert!(rx.requests().is_empty());
    *rx.status.lock().unwrap() = 200;
    let r = drain(&mut d, Duration::from_secs(30)).await;
    assert_eq!(r.pending, 0);
    // A few more ticks: nothing is sent twice.
    for _ in 0..3 {
        d.tick().await.unwrap();
    }
    let ids = rx.ids();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &ids {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    assert_eq!(counts.len(), 40, "every alert arrived");
    assert!(counts.values().all(|&n| n == 1), "each id once: {counts:?}");
    let rows = alerts::list(store.pool(), None, 0).await.unwrap();
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|r| r.status == Some(Status::Delivered)));
    assert!(
        rows.iter().any(|r| r.deliveries[0].attempts > 1),
        "some were retried"
    );
    rx.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dispatcher_leaves_alerts_that_a_new_one_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, None, None).await;
    *rx.status.lock().unwrap() = 500;
    let cfg = config(&format!(
        "[[sinks]]\ntype = \"webhook\"\nname = \"siem\"\nurl = \"http://127.0.0.1:{}/\"\n",
        rx.port
    ));
    let (store, db) = open_store(dir.path()).await;
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    let t0 = 1_790_000_000_000;
    let batches = (0..10)
        .map(|i| {
            batch(
                vec![event(t0 + i, i as u64 + 1, PTRACE, ERRNO)],
                &container_attr(&format!("k8s:shop/app{i}/api"), None),
            )
        })
        .collect();
    commit(&store, &mut stage, batches).await;

    // The first dispatcher runs against a failing SIEM and is killed (its task aborted, no
    // shutdown of any kind).
    let d1 = Dispatcher::open(&db, Sink::all_from_config(&cfg.sinks).unwrap(), fast())
        .await
        .unwrap();
    let task = tokio::spawn(d1.run(tokio_util::sync::CancellationToken::new()));
    tokio::time::sleep(Duration::from_millis(400)).await;
    task.abort();
    let _ = task.await;
    assert!(rx.requests().is_empty());
    let pending = alerts::list(store.pool(), Some(Status::Pending), 0)
        .await
        .unwrap();
    assert_eq!(pending.len(), 10);

    // The SIEM recovers; a new dispatcher from the same database delivers everything.
    *rx.status.lock().unwrap() = 200;
    let mut d2 = Dispatcher::open(&db, Sink::all_from_config(&cfg.sinks).unwrap(), fast())
        .await
        .unwrap();
    let r = drain(&mut d2, Duration::from_secs(30)).await;
    assert_eq!(r.pending, 0);
    let mut ids = rx.ids();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    assert_eq!(rx.requests().len(), 10, "each once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_alerts_are_listed_and_retried_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, None, None).await;
    *rx.status.lock().unwrap() = 503;
    let cfg = config(&format!(
        "[[sinks]]\ntype = \"webhook\"\nname = \"siem\"\nurl = \"http://127.0.0.1:{}/\"\n",
        rx.port
    ));
    let (store, db) = open_store(dir.path()).await;
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    commit(
        &store,
        &mut stage,
        vec![batch(
            vec![event(1_790_000_000_000, 1, GETPPID, KILL)],
            &container_attr("k8s:shop/cart/api", None),
        )],
    )
    .await;
    let opts = DispatchOptions {
        max_age: Duration::from_millis(300),
        ..fast()
    };
    let mut d = Dispatcher::open(
        &db,
        Sink::all_from_config(&cfg.sinks).unwrap(),
        opts.clone(),
    )
    .await
    .unwrap();
    let start = Instant::now();
    let mut dead = 0;
    while dead == 0 && start.elapsed() < Duration::from_secs(10) {
        dead += d.tick().await.unwrap().dead;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dead, 1);

    let bin = seccomp_watch_tests::bin();
    let out = std::process::Command::new(&bin)
        .args(["alerts", "--status", "dead", "--json", "--db"])
        .arg(&db)
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
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["status"], "dead");
    assert!(
        lines[0]["deliveries"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{}",
        lines[0]
    );
    let id = lines[0]["id"].as_str().unwrap().to_string();
    let text = std::process::Command::new(&bin)
        .args(["alerts", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("dead"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    *rx.status.lock().unwrap() = 200;
    let out = std::process::Command::new(&bin)
        .args(["alerts", "retry", &id[..13], "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
    let mut d = Dispatcher::open(&db, Sink::all_from_config(&cfg.sinks).unwrap(), fast())
        .await
        .unwrap();
    assert_eq!(drain(&mut d, Duration::from_secs(10)).await.pending, 0);
    assert_eq!(rx.ids(), vec![id]);
    let out = std::process::Command::new(&bin)
        .args(["alerts", "retry", "ffffffff-nope", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splunk_hec_and_syslog_udp_tcp_receive_the_alert() {
    let dir = tempfile::tempdir().unwrap();
    let hec = Receiver::start(0, None, None).await;
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    std::env::set_var("SW_ALERTS_TEST_HEC", "hec-token-9");
    let cfg = config(&format!(
        "[[sinks]]\ntype = \"splunk_hec\"\nurl = \"http://127.0.0.1:{}\"\ntoken_env = \"SW_ALERTS_TEST_HEC\"\nindex = \"sec\"\n\
         [[sinks]]\ntype = \"syslog\"\nname = \"udp\"\naddress = \"udp://{}\"\n\
         [[sinks]]\ntype = \"syslog\"\nname = \"tcp\"\naddress = \"tcp://{}\"\n",
        hec.port,
        udp.local_addr().unwrap(),
        tcp.local_addr().unwrap()
    ));
    // Reads two octet-counted ("LEN MSG") messages from one connection.
    let tcp_task = tokio::spawn(async move {
        let (mut s, _) = tcp.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut tmp = [0u8; 4096];
        let mut msgs = Vec::new();
        loop {
            while let Some(sp) = buf.iter().position(|&c| c == b' ') {
                let len: usize = std::str::from_utf8(&buf[..sp]).unwrap().parse().unwrap();
                if buf.len() < sp + 1 + len {
                    break;
                }
                msgs.push(String::from_utf8(buf[sp + 1..sp + 1 + len].to_vec()).unwrap());
                buf.drain(..sp + 1 + len);
            }
            if msgs.len() == 2 {
                return msgs;
            }
            let n = s.read(&mut tmp).await.unwrap();
            assert!(n > 0, "tcp closed early");
            buf.extend_from_slice(&tmp[..n]);
        }
    });
    let (store, db) = open_store(dir.path()).await;
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    commit(
        &store,
        &mut stage,
        vec![batch(
            vec![event(1_790_000_000_000, 1, PTRACE, KILL)],
            &container_attr("k8s:shop/cart/api", None),
        )],
    )
    .await;
    let mut d = Dispatcher::open(&db, Sink::all_from_config(&cfg.sinks).unwrap(), fast())
        .await
        .unwrap();
    assert_eq!(drain(&mut d, Duration::from_secs(10)).await.pending, 0);

    // Two alerts (kill-action, dangerous-syscall-in-container) to each sink.
    let reqs = hec.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].path, "/services/collector/event");
    assert_eq!(
        reqs[0].headers.get("authorization").map(String::as_str),
        Some("Splunk hec-token-9")
    );
    let j = reqs[0].json();
    assert_eq!(j["index"], "sec");
    assert_eq!(j["sourcetype"], "seccomp-watch:alert");
    assert_eq!(j["host"], "node-1");
    assert!(
        j["event"]["id"].is_string() && j["event"]["syscall"] == "ptrace",
        "{j}"
    );

    let mut buf = [0u8; 65536];
    let n = tokio::time::timeout(Duration::from_secs(5), udp.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let m = String::from_utf8_lossy(&buf[..n]).to_string();
    let mut msgs = tokio::time::timeout(Duration::from_secs(5), tcp_task)
        .await
        .unwrap()
        .unwrap();
    msgs.push(m);
    for msg in msgs {
        // <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG, facility authpriv (10).
        let parts: Vec<&str> = msg.splitn(8, ' ').collect();
        assert!(parts[0] == "<82>1" || parts[0] == "<83>1", "{msg}");
        assert!(parts[1].ends_with('Z'), "{msg}");
        assert_eq!(parts[2], "node-1");
        assert_eq!(parts[3], "seccomp-watch");
        assert_eq!(parts[5], "alert");
        assert_eq!(parts[6], "-");
        assert!(
            parts[7].starts_with("CEF:0|seccomp-watch|seccomp-watch|"),
            "{msg}"
        );
        assert!(
            parts[7].contains("cs2=ptrace") && parts[7].contains("act=SCMP_ACT_KILL_PROCESS"),
            "{msg}"
        );
        assert!(parts[7].contains("externalId="), "{msg}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alertmanager_lists_the_alert() {
    if !seccomp_watch_tests::tool_or_skip(
        "a_real_alertmanager_lists_the_alert",
        "prometheus-alertmanager",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let am_cfg = dir.path().join("am.yml");
    std::fs::write(
        &am_cfg,
        "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let port = free_port();
    let bin = seccomp_watch_tests::which("prometheus-alertmanager").unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _am = Kill(
        std::process::Command::new(bin)
            .arg(format!("--config.file={}", am_cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("am-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start alertmanager"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if client
            .get(format!("{base}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "alertmanager did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cfg = config(&format!(
        "[[sinks]]\ntype = \"alertmanager\"\nurl = \"{base}\"\n"
    ));
    let (store, db) = open_store(dir.path()).await;
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    commit(
        &store,
        &mut stage,
        vec![batch(
            vec![event(now, 1, PTRACE, ERRNO)],
            &container_attr("k8s:shop/cart/api", None),
        )],
    )
    .await;
    let mut d = Dispatcher::open(&db, Sink::all_from_config(&cfg.sinks).unwrap(), fast())
        .await
        .unwrap();
    assert_eq!(drain(&mut d, Duration::from_secs(10)).await.pending, 0);
    let row = &alerts::list(store.pool(), None, 0).await.unwrap()[0];
    // Alertmanager lists a new alert as "unprocessed" until its dispatcher has seen it.
    let start = Instant::now();
    let a = loop {
        let listed: Value = serde_json::from_str(
            &client
                .get(format!("{base}/api/v2/alerts"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        let found = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alert_id"] == row.alert.id.as_str())
            .cloned();
        match found {
            Some(a) if a["status"]["state"] == "active" => break a,
            other => assert!(
                start.elapsed() < Duration::from_secs(15),
                "alert {} not listed as active: {other:?} in {listed}",
                row.alert.id
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(a["labels"]["alertname"], "dangerous-syscall-in-container");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["labels"]["workload"], "k8s:shop/cart/api");
    assert_eq!(a["annotations"]["count"], "1");
    assert_eq!(a["status"]["state"], "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_that_grows_after_delivery_is_delivered_again_when_the_window_closes() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, None, None).await;
    let cfg = config(&format!("[alerts]\nwindow_secs = 2\n[[sinks]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/\"\n", rx.port));
    let (store, db) = open_store(dir.path()).await;
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    let attr = container_attr("k8s:shop/grow/api", None);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Early in a 2 s window, so that the first delivery happens while it is open.
    let t = now - now % 2_000 + 2_000;
    tokio::time::sleep(Duration::from_millis((t - now) as u64 + 50)).await;
    commit(
        &store,
        &mut stage,
        vec![batch(vec![event(t, 1, GETPPID, KILL)], &attr)],
    )
    .await;
    let mut d = Dispatcher::open(&db, Sink::all_from_config(&cfg.sinks).unwrap(), fast())
        .await
        .unwrap();
    d.tick().await.unwrap();
    let first = rx.requests();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].json()["count"], 1);
    assert_eq!(first[0].json()["final"], false);
    // Two more in the same window: queued for the window's end, not sent at once.
    commit(
        &store,
        &mut stage,
        vec![batch(
            vec![
                event(t + 10, 2, GETPPID, KILL),
                event(t + 20, 3, GETPPID, KILL),
            ],
            &attr,
        )],
    )
    .await;
    d.tick().await.unwrap();
    assert_eq!(rx.requests().len(), 1, "no update before the window closes");
    let r = drain(&mut d, Duration::from_secs(10)).await;
    assert_eq!(r.pending, 0);
    let all = rx.requests();
    assert_eq!(all.len(), 2);
    let last = all[1].json();
    assert_eq!(last["id"], first[0].json()["id"], "same id");
    assert_eq!(last["count"], 3);
    assert_eq!(last["final"], true);
    // Nothing more: the count is final.
    d.tick().await.unwrap();
    assert_eq!(rx.requests().len(), 2);
}
