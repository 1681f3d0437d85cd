//! Tests of the HTTP endpoint over a real loopback socket, of readiness, of the metrics
//! exposition (promtool) and of the dashboards against the registry.

use super::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A backend that answers fixed values and remembers the last event query.
#[derive(Default)]
struct Fake {
    last: Mutex<Option<EventQuery>>,
    calls: AtomicUsize,
}

impl ApiBackend for Fake {
    fn summary(&self) -> ApiFuture<'_, Value> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(json!({"events": 3})) })
    }
    fn events(&self, q: EventQuery) -> ApiFuture<'_, Value> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut l) = self.last.lock() {
            *l = Some(q.clone());
        }
        Box::pin(async move { Ok(json!([{"syscall": q.syscall, "limit": q.limit}])) })
    }
    fn alerts(&self, _q: AlertQuery) -> ApiFuture<'_, Value> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(ApiError::Unavailable("database locked".into())) })
    }
}

pub(super) struct Running {
    pub(super) addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), HttpError>>,
}

impl Running {
    pub(super) async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let r = tokio::time::timeout(std::time::Duration::from_secs(5), self.task).await;
        assert!(
            matches!(r, Ok(Ok(Ok(())))),
            "server did not stop cleanly: {r:?}"
        );
    }
}

async fn start(state: HttpState, token_file: Option<PathBuf>) -> Running {
    let cfg = HttpConfig {
        listen: "127.0.0.1:0".into(),
        token_file,
        ..HttpConfig::default()
    };
    start_with(state, &cfg).await
}

pub(super) async fn start_with(state: HttpState, cfg: &HttpConfig) -> Running {
    let server = Server::bind(cfg).await.unwrap().expect("enabled");
    let addr = server.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(state, async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        task,
    }
}

/// A minimal HTTP/1.1 GET: (status, headers, body).
pub(super) async fn get(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, head.to_string(), body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

#[tokio::test]
async fn serves_metrics_health_and_the_api() {
    let fake = Arc::new(Fake::default());
    let state = HttpState::new(Readiness::new(None)).with_backend(fake.clone());
    let srv = start(state, None).await;
    metrics()
        .events
        .with_label_values(&["netlink", "log", "SCMP_ARCH_X86_64"])
        .inc();

    let (st, head, body) = get(srv.addr, "/metrics", None).await;
    assert_eq!(st, 200);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    assert!(body.contains("seccomp_watch_events_total{"), "{body}");

    assert_eq!(get(srv.addr, "/healthz", None).await.0, 200);

    let (st, _, body) = get(srv.addr, "/api/v1/summary", None).await;
    assert_eq!((st, body.as_str()), (200, r#"{"events":3}"#));

    let (st, _, body) = get(
        srv.addr,
        "/api/v1/events?since=15m&syscall=ptrace&limit=5&workload=k8s%2Fns%2Fapp",
        None,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body, r#"[{"syscall":"ptrace","limit":5}]"#);
    let q = fake.last.lock().unwrap().clone().unwrap();
    assert_eq!(q.workload.as_deref(), Some("k8s/ns/app"));
    let since = q.since_ms.unwrap();
    assert!((now_ms() - since - 15 * 60_000).abs() < 60_000, "{since}");

    let calls = fake.calls.load(Ordering::SeqCst);
    for bad in [
        "/api/v1/events?limit=0",
        "/api/v1/events?limit=abc",
        "/api/v1/events?since=yesterday",
        "/api/v1/events?limit=10001",
    ] {
        let (st, _, body) = get(srv.addr, bad, None).await;
        assert_eq!(st, 400, "{bad}: {body}");
        assert!(body.contains("\"error\""), "{body}");
    }
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        calls,
        "invalid queries must not reach the backend"
    );

    let (st, _, body) = get(srv.addr, "/api/v1/alerts", None).await;
    assert_eq!(st, 503);
    assert!(body.contains("database locked"), "{body}");
    assert_eq!(get(srv.addr, "/nope", None).await.0, 404);
    srv.stop().await;
}

#[tokio::test]
async fn data_endpoints_answer_503_without_a_backend() {
    let srv = start(HttpState::new(Readiness::new(None)), None).await;
    let (st, _, body) = get(srv.addr, "/api/v1/events", None).await;
    assert_eq!(st, 503);
    assert!(body.contains("no database"), "{body}");
    srv.stop().await;
}

#[tokio::test]
async fn a_token_is_required_on_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let tf = dir.path().join("token");
    std::fs::write(&tf, "s3cret-token\n").unwrap();
    let srv = start(HttpState::new(Readiness::new(None)), Some(tf)).await;
    for path in ["/metrics", "/healthz", "/readyz", "/api/v1/summary"] {
        let (st, head, _) = get(srv.addr, path, None).await;
        assert_eq!(st, 401, "{path}");
        assert!(
            head.to_ascii_lowercase()
                .contains("www-authenticate: bearer"),
            "{head}"
        );
        assert_eq!(
            get(srv.addr, path, Some("s3cret-tokeX")).await.0,
            401,
            "{path}"
        );
        assert_eq!(get(srv.addr, path, Some("s3cret")).await.0, 401, "{path}");
    }
    assert_eq!(get(srv.addr, "/healthz", Some("s3cret-token")).await.0, 200);
    assert_eq!(get(srv.addr, "/metrics", Some("s3cret-token")).await.0, 200);
    srv.stop().await;
}

#[tokio::test]
async fn bind_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, " \n").unwrap();
    let cfg = HttpConfig {
        listen: "127.0.0.1:0".into(),
        token_file: Some(empty),
        ..HttpConfig::default()
    };
    assert!(matches!(
        Server::bind(&cfg).await,
        Err(HttpError::EmptyToken(_))
    ));
    let cfg = HttpConfig {
        listen: "127.0.0.1:0".into(),
        token_file: Some(dir.path().join("missing")),
        ..HttpConfig::default()
    };
    assert!(matches!(
        Server::bind(&cfg).await,
        Err(HttpError::Token { .. })
    ));
    let cfg = HttpConfig {
        listen: "256.0.0.1:1".into(),
        token_file: None,
        ..HttpConfig::default()
    };
    assert!(matches!(
        Server::bind(&cfg).await,
        Err(HttpError::Bind { .. })
    ));
    let cfg = HttpConfig {
        listen: String::new(),
        token_file: None,
        ..HttpConfig::default()
    };
    assert!(Server::bind(&cfg).await.unwrap().is_none());
    // The same port twice: the second bind fails.
    let cfg = HttpConfig {
        listen: "127.0.0.1:0".into(),
        token_file: None,
        ..HttpConfig::default()
    };
    let a = Server::bind(&cfg).await.unwrap().unwrap();
    let cfg = HttpConfig {
        listen: a.local_addr().unwrap().to_string(),
        token_file: None,
        ..HttpConfig::default()
    };
    assert!(matches!(
        Server::bind(&cfg).await,
        Err(HttpError::Bind { .. })
    ));
}

#[test]
fn since_forms() {
    let now = 1_700_000_000_000;
    assert_eq!(parse_since("1732924481", now).unwrap(), 1_732_924_481_000);
    assert_eq!(parse_since("1732924481.5", now).unwrap(), 1_732_924_481_500);
    assert_eq!(parse_since("2h", now).unwrap(), now - 7_200_000);
    assert_eq!(parse_since("30s", now).unwrap(), now - 30_000);
    assert_eq!(parse_since("7d", now).unwrap(), now - 7 * 86_400_000);
    assert_eq!(
        parse_since("2024-11-30T00:34:41Z", now).unwrap(),
        1_732_926_881_000
    );
    for bad in [
        "",
        "x",
        "-5",
        "NaN",
        "inf",
        "5w",
        "2024-11-30T00:34:41Zjunk",
        "1e300",
    ] {
        assert!(parse_since(bad, now).is_err(), "{bad}");
    }
}

#[test]
fn readiness_follows_sources_writer_and_outbox() {
    // A private Readiness reads the process-wide metrics; use a source name no other test
    // touches.
    let dir = tempfile::tempdir().unwrap();
    let r = Readiness::new(Some(dir.path().join("x.db")));
    assert!(r.check().ready, "{:?}", r.check());
    r.expect_source("test-source-a");
    let rep = r.check();
    assert!(!rep.ready);
    assert!(rep
        .checks
        .iter()
        .any(|c| c.check == "source test-source-a" && !c.ok));
    metrics()
        .source_up
        .with_label_values(&["test-source-a"])
        .set(1);
    assert!(r.check().ready, "{:?}", r.check());
    r.set_db_error(Some("disk I/O error".into()));
    let rep = r.check();
    assert!(!rep.ready);
    assert!(rep
        .checks
        .iter()
        .any(|c| c.check == "database" && c.detail.contains("disk I/O error")));
    r.set_db_error(None);
    assert!(r.check().ready);
    // The outbox gauge is process-wide: a threshold below the current age makes it stuck.
    r.set_outbox_stuck_after(-1.0);
    let rep = r.check();
    assert!(!rep.ready);
    assert!(rep
        .checks
        .iter()
        .any(|c| c.check == "outbox" && c.detail.contains("stuck")));
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn require_root() -> bool {
    std::env::var("SECCOMP_WATCH_REQUIRE_ROOT_TESTS").as_deref() == Ok("1")
}

#[test]
fn database_writability_probe() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    assert!(
        db_writable(&db).is_ok(),
        "a missing file in a writable dir is fine"
    );
    std::fs::write(&db, b"").unwrap();
    assert!(db_writable(&db).is_ok());
    assert!(db_writable(&dir.path().join("nodir/x.db")).is_err());
    if !is_root() {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
        assert!(db_writable(&db).is_err());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        return;
    }
    // Root ignores modes: make the file immutable instead (chattr +i), as a read-only
    // file system would.
    let chattr = |flag: &str, p: &Path| {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(p)
            .status()
    };
    match chattr("+i", &db) {
        Ok(s) if s.success() => {}
        other => {
            assert!(!require_root(), "chattr +i failed: {other:?}");
            eprintln!("SKIP immutable part: chattr +i failed: {other:?}");
            return;
        }
    }
    let r = db_writable(&db);
    let _ = chattr("-i", &db);
    let e = r.unwrap_err();
    assert!(e.contains("not writable"), "{e}");
    assert!(db_writable(&db).is_ok());
}

/// Touches one series of every labelled family, so that every family is rendered.
fn touch_every_family() {
    let m = metrics();
    m.init_series();
    m.events
        .with_label_values(&["netlink", "log", "SCMP_ARCH_X86_64"]);
    m.workload_events
        .with_label_values(&["k8s/default/app", "ptrace", "log"]);
    m.source_up.with_label_values(&["netlink"]);
    m.attribution.with_label_values(&["resolved", "cgroup"]);
    m.alerts.with_label_values(&["novel", "low"]);
    m.alert_repeats.with_label_values(&["novel"]);
    m.deliveries.with_label_values(&["webhook", "ok"]);
    // The audit gauges exist while the status is read.
    m.set_audit_status(Some([1, 0, 8192, 0]));
}

fn family_names() -> BTreeSet<String> {
    touch_every_family();
    metrics()
        .registry
        .gather()
        .iter()
        .map(|f| f.name().to_string())
        .collect()
}

/// Every `seccomp_watch_*` metric name in PromQL text (histogram suffixes removed).
fn metric_names_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(pos) = expr[i..].find("seccomp_watch_") {
        let start = i + pos;
        let boundary =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        if boundary {
            out.push(expr[start..end].to_string());
        }
        i = end;
    }
    out
}

fn exported(name: &str, families: &BTreeSet<String>) -> bool {
    families.contains(name)
        || ["_bucket", "_sum", "_count"].iter().any(|s| {
            name.strip_suffix(s)
                .is_some_and(|base| families.contains(base))
        })
}

fn collect_strings(v: &Value, key: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match x {
                    Value::String(s) if k == key => out.push(s.clone()),
                    Value::Object(q) if k == key => {
                        if let Some(Value::String(s)) = q.get("query") {
                            out.push(s.clone());
                        }
                    }
                    _ => collect_strings(x, key, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, key, out)),
        _ => {}
    }
}

pub(super) fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn dashboard_is_valid_and_uses_only_exported_metrics() {
    let text = std::fs::read_to_string(repo_file("dashboards/seccomp-watch.json")).unwrap();
    let dash: Value = serde_json::from_str(&text).expect("dashboard is valid JSON");
    assert!(
        dash["schemaVersion"].as_u64().unwrap() >= 36,
        "Grafana 10+ schema"
    );
    let vars: Vec<&str> = dash["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    for v in ["datasource", "node", "workload"] {
        assert!(vars.contains(&v), "variable {v} missing: {vars:?}");
    }
    let mut exprs = Vec::new();
    collect_strings(&dash["panels"], "expr", &mut exprs);
    collect_strings(&dash["templating"], "query", &mut exprs);
    assert!(exprs.len() >= 10, "{exprs:?}");
    let families = family_names();
    let mut used = BTreeSet::new();
    for e in &exprs {
        for n in metric_names_in(e) {
            assert!(
                exported(&n, &families),
                "{n} (in {e}) is not exported; exported: {families:?}"
            );
            used.insert(n);
        }
    }
    // The panels the issue asks for are there.
    for needed in [
        "seccomp_watch_events_total",
        "seccomp_watch_workload_events_total",
        "seccomp_watch_alerts_total",
        "seccomp_watch_lost_records_total",
        "seccomp_watch_attribution_total",
        "seccomp_watch_deliveries_total",
        "seccomp_watch_outbox_pending",
    ] {
        assert!(used.contains(needed), "no panel uses {needed}");
    }
    // Every panel queries the datasource variable.
    let mut ds = Vec::new();
    collect_strings(&dash["panels"], "uid", &mut ds);
    assert!(
        !ds.is_empty() && ds.iter().all(|u| u == "${datasource}"),
        "{ds:?}"
    );
}

#[test]
fn alert_rules_use_only_exported_metrics_and_pass_promtool() {
    let path = repo_file("dashboards/alerts.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let families = family_names();
    let names = metric_names_in(&text);
    assert!(names.len() >= 5, "{names:?}");
    for n in names {
        assert!(exported(&n, &families), "{n} in alerts.yml is not exported");
    }
    for alert in [
        "SeccompWatchRecordsLost",
        "SeccompWatchOutboxStuck",
        "SeccompWatchSourceDown",
        "SeccompWatchUnattributedHigh",
    ] {
        assert!(text.contains(&format!("alert: {alert}")), "{alert} missing");
    }
    let Some(out) = promtool(&["check", "rules"], Some(&path), None) else {
        return;
    };
    assert!(
        out.status.success(),
        "promtool check rules: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let tests = repo_file("dashboards/alerts.test.yml");
    let out = promtool(&["test", "rules"], Some(&tests), None).expect("promtool present");
    assert!(
        out.status.success(),
        "promtool test rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs promtool (None, after saying why, when it is not installed and not required).
fn promtool(
    args: &[&str],
    file: Option<&Path>,
    stdin: Option<&str>,
) -> Option<std::process::Output> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new("promtool");
    cmd.args(args);
    if let Some(f) = file {
        cmd.arg(f);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            assert!(!require_root(), "promtool is required: {e}");
            eprintln!("SKIP: promtool not found ({e})");
            return None;
        }
    };
    if let Some(mut si) = child.stdin.take() {
        si.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    }
    Some(child.wait_with_output().unwrap())
}

#[test]
fn exposition_passes_promtool_check_metrics() {
    touch_every_family();
    let m = metrics();
    m.db_write_seconds.observe(0.003);
    m.db_batch_events.observe(42.0);
    let text = m.render();
    for f in [
        "seccomp_watch_process_resident_memory_bytes",
        "seccomp_watch_process_cpu_seconds_total",
    ] {
        assert!(text.contains(f), "{f} missing");
    }
    let Some(out) = promtool(&["check", "metrics"], None, Some(&text)) else {
        return;
    };
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
}

#[test]
fn metric_names_are_found_in_promql() {
    let e = r#"sum by (action) (rate(seccomp_watch_events_total{instance=~"$node"}[5m])) / ignoring(x) seccomp_watch_db_write_duration_seconds_bucket"#;
    assert_eq!(
        metric_names_in(e),
        [
            "seccomp_watch_events_total",
            "seccomp_watch_db_write_duration_seconds_bucket"
        ]
    );
    assert!(metric_names_in("xseccomp_watch_a").is_empty());
}

fn stored_event(serial: u64, t: i64, nr: i64) -> parsers::Event {
    parsers::Event {
        time_ms: t,
        serial: Some(serial),
        node: None,
        audit_arch: 0xc000_003e,
        syscall_nr: nr,
        code: 0x7ffc_0000,
        pid: 42,
        uid: Some(0),
        gid: Some(0),
        auid: None,
        ses: None,
        comm: Some("demo".into()),
        exe: Some("/usr/bin/demo".into()),
        subj: None,
        sig: Some(0),
        compat: false,
        ip: None,
        synthetic_key: None,
    }
}

/// The data endpoints over a real SQLite store written by the store's writer.
#[tokio::test]
async fn the_api_serves_the_store() {
    use crate::pipeline::{Item, SourceKind, StoreBatch};
    use crate::store::{SqliteStore, Store, StoreWriter};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let store = SqliteStore::open(&db).await.unwrap();
    let now = now_ms();
    // getppid (110) three times for one workload, ptrace (101) once for another.
    let mut items = Vec::new();
    for (i, (nr, exe)) in [
        (110, "/usr/bin/a"),
        (110, "/usr/bin/a"),
        (110, "/usr/bin/a"),
        (101, "/usr/bin/b"),
    ]
    .iter()
    .enumerate()
    {
        let mut e = stored_event(i as u64 + 1, now - 60_000 + i as i64, *nr);
        e.exe = Some(exe.to_string());
        let attribution = parsers::Attribution::unattributed(Some(exe));
        items.push(Item {
            event: e,
            source: SourceKind::Netlink,
            attribution,
        });
    }
    let mut w = store.open_writer().await.unwrap();
    let batch = StoreBatch {
        items,
        source: Some(SourceKind::Netlink),
        ..StoreBatch::default()
    };
    w.write(&[batch]).await.unwrap();
    w.close().await.unwrap();

    let api = Arc::new(StoreApi::new(store.clone()));
    let srv = start(
        HttpState::new(Readiness::new(Some(db.clone()))).with_backend(api),
        None,
    )
    .await;

    let (st, _, body) = get(srv.addr, "/api/v1/summary", None).await;
    assert_eq!(st, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["events"], 4, "{v}");
    assert_eq!(v["top_syscalls"][0]["syscall"], "getppid", "{v}");
    assert_eq!(v["top_syscalls"][0]["events"], 3, "{v}");
    assert_eq!(v["by_action"][0]["events"], 4, "{v}");
    assert!(v["top_workloads"].as_array().unwrap().len() == 2, "{v}");

    let (st, _, body) = get(srv.addr, "/api/v1/events?syscall=ptrace", None).await;
    assert_eq!(st, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let evs = v.as_array().unwrap();
    assert_eq!(evs.len(), 1, "{v}");
    assert_eq!(evs[0]["exe"], "/usr/bin/b", "{v}");
    assert_eq!(evs[0]["source"], "netlink", "{v}");

    let (_, _, body) = get(srv.addr, "/api/v1/events?limit=2", None).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    let (_, _, body) = get(srv.addr, "/api/v1/events?since=1s", None).await;
    assert_eq!(body, "[]", "events are a minute old");
    let (st, _, body) = get(srv.addr, "/api/v1/events?syscall=no_such_call", None).await;
    assert_eq!(st, 400, "{body}");

    let (st, _, body) = get(srv.addr, "/api/v1/alerts", None).await;
    assert_eq!((st, body.as_str()), (200, "[]"));

    let (st, _, body) = get(srv.addr, "/readyz", None).await;
    assert_eq!(st, 200, "{body}");
    srv.stop().await;
    store.close().await;
}
