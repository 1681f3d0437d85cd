//! End-to-end tests of alerting: rules -> roll-up -> the store writer's transaction ->
//! the outbox -> real sinks (local HTTP and HTTPS receivers that verify the HMAC signature,
//! syslog UDP/TCP listeners, a real Alertmanager), through receiver outages and dispatcher
//! restarts; the 100k burst; rule-file errors and reloads; the CLI.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use parsers::{Attribution, ContainerInfo, Event};
use seccomp_watch::alerts::{self, DispatchOptions, Dispatcher, RuleStage, Sink, Status};
use seccomp_watch::config::Config;
use seccomp_watch::pipeline::{Item, SourceKind, StoreBatch};
use seccomp_watch::store::{SqliteStore, Store, StoreWriter};
use serde_json::Value;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const X86_64: u32 = 0xc000_003e;
const LOG: u32 = 0x7ffc_0000;
const ERRNO: u32 = 0x0005_0000;
const KILL: u32 = 0x8000_0000;
const PTRACE: i64 = 101;
const GETPPID: i64 = 110;

fn event(t: i64, serial: u64, nr: i64, code: u32) -> Event {
    Event {
        time_ms: t,
        serial: Some(serial),
        node: Some("node-1".into()),
        audit_arch: X86_64,
        syscall_nr: nr,
        code,
        pid: 4242,
        uid: Some(0),
        gid: Some(0),
        auid: None,
        ses: None,
        comm: Some("cart".into()),
        exe: Some("/usr/bin/cart".into()),
        subj: None,
        sig: None,
        compat: false,
        ip: None,
    }
}

fn container_attr(workload: &str, profile: Option<&str>) -> Attribution {
    let c = ContainerInfo {
        id: "0123456789abcdef".repeat(4),
        runtime: "containerd".into(),
        name: Some("api".into()),
        image: Some("registry.example/shop/cart:1.4".into()),
        pod: Some("cart-7d9f8b6c5-x2k4q".into()),
        namespace: Some("shop".into()),
        pod_uid: None,
    };
    Attribution {
        container: Some(c),
        unit: None,
        workload: workload.into(),
        attributed: true,
        profile_hash: profile.map(Into::into),
    }
}

fn batch(events: Vec<Event>, attr: &Attribution) -> StoreBatch {
    StoreBatch {
        items: events
            .into_iter()
            .map(|event| Item {
                event,
                source: SourceKind::Netlink,
                attribution: attr.clone(),
            })
            .collect(),
        source: Some(SourceKind::Netlink),
        ..StoreBatch::default()
    }
}

/// Evaluates and commits `batches` the way the daemon does (stage, then one transaction each).
async fn commit(store: &SqliteStore, stage: &mut RuleStage, batches: Vec<StoreBatch>) {
    let mut w = store.open_writer().await.expect("writer");
    for mut b in batches {
        stage.apply(&mut b);
        w.write(&[b]).await.expect("write");
    }
    w.close().await.expect("close writer");
}

fn fast() -> DispatchOptions {
    DispatchOptions {
        poll: Duration::from_millis(50),
        base_backoff: Duration::from_millis(40),
        max_backoff: Duration::from_millis(200),
        ..DispatchOptions::default()
    }
}

/// Ticks until nothing is pending (or `timeout`).
async fn drain(d: &mut Dispatcher, timeout: Duration) -> alerts::TickReport {
    let start = Instant::now();
    loop {
        let r = d.tick().await.expect("tick");
        if r.pending == 0 || start.elapsed() > timeout {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

// ---------------------------------------------------------------- HTTP(S) receiver

#[derive(Debug, Clone)]
struct Request {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Default)]
struct Received {
    requests: Vec<Request>,
    /// Requests whose signature did not verify.
    bad_signatures: usize,
}

/// A minimal HTTP/1.1 server (one request per connection), optionally TLS, that records
/// every request and, with a secret, verifies `X-Seccomp-Watch-Signature` independently.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Received>>,
    /// HTTP status to answer.
    status: Arc<Mutex<u16>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn verify(secret: &[u8], header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x.to_string()),
            Some(("v1", x)) => v1 = Some(x.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let Ok(ts) = t.parse::<i64>() else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - ts).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let Ok(sig) = hex::decode(v1) else {
        return false;
    };
    mac.verify_slice(&sig).is_ok()
}

async fn read_request<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<Request> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Some(Request {
        path,
        headers,
        body,
    })
}

impl Receiver {
    async fn start(
        port: u16,
        secret: Option<&str>,
        tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    ) -> Receiver {
        let got = Arc::new(Mutex::new(Received::default()));
        let status = Arc::new(Mutex::new(200u16));
        let mut r = Receiver {
            port,
            got,
            status,
            task: None,
        };
        r.listen(secret.map(|s| s.as_bytes().to_vec()), tls).await;
        r
    }

    async fn listen(
        &mut self,
        secret: Option<Vec<u8>>,
        tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    ) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind receiver");
        self.port = listener.local_addr().unwrap().port();
        let got = self.got.clone();
        let status = self.status.clone();
        self.task = Some(tokio::spawn(async move {
            let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let got = got.clone();
                let status = status.clone();
                let secret = secret.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let handle = |req: Request| {
                        let code = *status.lock().unwrap();
                        let mut g = got.lock().unwrap();
                        if let Some(sec) = &secret {
                            let ok = req
                                .headers
                                .get("x-seccomp-watch-signature")
                                .is_some_and(|h| verify(sec, h, &req.body));
                            if !ok {
                                g.bad_signatures += 1;
                            }
                        }
                        if code == 200 {
                            g.requests.push(req);
                        }
                        format!(
                            "HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                        )
                    };
                    match acceptor {
                        Some(a) => {
                            let Ok(mut s) = a.accept(sock).await else {
                                return;
                            };
                            if let Some(req) = read_request(&mut s).await {
                                let resp = handle(req);
                                let _ = s.write_all(resp.as_bytes()).await;
                                let _ = s.shutdown().await;
                            }
                        }
                        None => {
                            let mut s = sock;
                            if let Some(req) = read_request(&mut s).await {
                                let resp = handle(req);
                                let _ = s.write_all(resp.as_bytes()).await;
                                let _ = s.shutdown().await;
                            }
                        }
                    }
                });
            }
        }));
    }

    fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.got.lock().unwrap().requests.clone()
    }

    fn ids(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tls_config(dir: &Path) -> (Arc<tokio_rustls::rustls::ServerConfig>, PathBuf) {
    use tokio_rustls::rustls;
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let ca = dir.join("receiver-ca.pem");
    std::fs::write(&ca, ck.cert.pem()).unwrap();
    let certs = vec![ck.cert.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    (Arc::new(cfg), ca)
}

async fn open_store(dir: &Path) -> (SqliteStore, PathBuf) {
    let db = dir.join("sw.db");
    (SqliteStore::open(&db).await.expect("open store"), db)
}

fn config(text: &str) -> Config {
    Config::parse(text).unwrap_or_else(|e| panic!("config: {e:#}\n{text}"))
}

// ---------------------------------------------------------------- tests

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
