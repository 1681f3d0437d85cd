//! The fleet's read side against the real PostgreSQL of the test world: nodes' SQLite
//! databases (made by `ingest` and by the store's own writer) are shipped by the real
//! replicator (`seccomp-watch fleet push`) into a database of each test's own (created
//! and dropped here), then read back with `--db postgres://...`:
//! - the read commands (`events`, `summary`, `suggest`, `generate`) answer exactly what
//!   they answer over the node's SQLite file (a table of command lines);
//! - fleet-wide suggest and generate over an x86_64 node pair and an aarch64 node of one
//!   workload: one profile covering both arches, node counts, and replicas under two
//!   applied profiles reported;
//! - `seccomp-watch serve` answers the HTTP API and `/metrics` over PostgreSQL (and over a
//!   SQLite file);
//! - fleet `novel`: node B does not alert a call node A already reported, with the same
//!   alert id on every node; a node that cannot reach PostgreSQL alerts node-locally.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use seccomp_watch::pipeline::{Item, ProfileBlob, SourceKind, StoreBatch};
use seccomp_watch::store::{SqliteStore, Store, StoreWriter};
use seccomp_watch_tests::world::postgres_or_skip;
use seccomp_watch_tests::{bin, wait_for};
use serde_json::Value;
use sha2::Digest;

#[path = "support/mod.rs"]
mod support;

use support::{append, Daemon};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A database of this test on the shared cluster, dropped at the end.
struct FleetDb {
    admin: String,
    name: String,
    url: String,
}

impl FleetDb {
    fn create(test: &str) -> Option<FleetDb> {
        let admin = postgres_or_skip(test)?;
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "sw_fleet_reads_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .expect("admin URL has a database");
        let url = format!("{base}/{name}");
        rt().block_on(async {
            let pool = sqlx::PgPool::connect(&admin).await.expect("admin connect");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await
                .expect("create database");
            pool.close().await;
        });
        let db = FleetDb { admin, name, url };
        let out = sw(&["fleet", "migrate", "--db", &db.url]);
        assert!(out.status.success(), "fleet migrate: {}", text(&out));
        Some(db)
    }

    /// Ships a node's SQLite database with the real replicator, as node `node`.
    fn push(&self, from: &Path, node: &str) {
        let out = sw(&[
            "fleet",
            "push",
            "--db",
            &self.url,
            "--from",
            from.to_str().unwrap(),
            "--node",
            node,
        ]);
        assert!(out.status.success(), "fleet push {node}: {}", text(&out));
    }

    fn scalar(&self, sql: &str) -> i64 {
        rt().block_on(async {
            let pool = sqlx::PgPool::connect(&self.url).await.expect("connect");
            let v: i64 = sqlx::query_scalar(sql)
                .fetch_one(&pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            pool.close().await;
            v
        })
    }
}

impl Drop for FleetDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        rt().block_on(async move {
            if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&pool)
                    .await;
                pool.close().await;
            }
        });
    }
}

/// `seccomp-watch ARGS` with no configuration of the host.
fn sw(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .env("SECCOMP_WATCH_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run seccomp-watch")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An audit.log SECCOMP line of node `node`.
#[allow(clippy::too_many_arguments)]
fn line(
    node: &str,
    ms: u64,
    serial: u64,
    pid: u32,
    exe: &str,
    arch: &str,
    nr: i64,
    code: &str,
) -> String {
    format!(
        "node={node} type=SECCOMP msg=audit({}.{:03}:{serial}): auid=1000 uid=0 gid=0 ses=3 \
         subj=unconfined pid={pid} comm=\"{}\" exe=\"{exe}\" sig=0 arch={arch} syscall={nr} \
         compat=0 ip=0x7f0000001000 code={code}\n",
        ms / 1000,
        ms % 1000,
        exe.rsplit('/').next().unwrap_or("x")
    )
}

const X86_64: &str = "c000003e";
const AARCH64: &str = "c00000b7";
const LOG: &str = "0x7ffc0000";
const ERRNO: &str = "0x50001";
const ALLOW: &str = "0x7fff0000";

/// 2 Dec 2026, 10:00 UTC (events are dated: partitions by day; they span two days).
const T0: u64 = 1_796_205_600_000;

/// A varied audit.log of one node: three workloads (exe), calls logged, denied and
/// allowed, over two days.
fn node_log(node: &str) -> String {
    let mut s = String::new();
    let calls: [(&str, i64, &str); 6] = [
        ("/usr/bin/app", 257, LOG),
        ("/usr/bin/app", 42, LOG),
        ("/usr/bin/app", 101, ERRNO),
        ("/usr/sbin/nginx", 41, LOG),
        ("/usr/sbin/nginx", 0, ALLOW),
        ("/opt/tool", 56, LOG),
    ];
    let mut serial = 1000;
    for i in 0..60u64 {
        let (exe, nr, code) = calls[(i as usize * 7) % calls.len()];
        let ms = T0 + i * 2_000_000 + (i % 7);
        serial += 1;
        s.push_str(&line(
            node,
            ms,
            serial,
            4000 + (i % 5) as u32,
            exe,
            X86_64,
            nr,
            code,
        ));
    }
    s
}

fn lines_of(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn read_commands_answer_the_same_over_postgres_as_over_sqlite() {
    let Some(fleet) = FleetDb::create("read_commands_answer_the_same_over_postgres_as_over_sqlite")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    std::fs::write(&log, node_log("node-a")).unwrap();
    let db = dir.path().join("a.db");
    let out = sw(&[
        "ingest",
        "--quiet",
        "--db",
        db.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "ingest: {}", text(&out));
    fleet.push(&db, "node-a");
    assert_eq!(fleet.scalar("SELECT count(*) FROM events"), 60);

    let profile = dir.path().join("p.json");
    std::fs::write(
        &profile,
        "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"architectures\": [\"SCMP_ARCH_X86_64\"],\n  \"syscalls\": [\n    {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"},\n    {\"names\": [\"connect\", \"socket\"], \"action\": \"SCMP_ACT_LOG\"}\n  ]\n}\n",
    )
    .unwrap();
    let p = profile.to_str().unwrap();
    let table: Vec<Vec<&str>> = vec![
        vec!["events", "--json", "--limit", "0"],
        vec!["events", "--json", "--limit", "7"],
        vec!["events", "--limit", "0"],
        vec!["events", "--json", "--limit", "0", "--syscall", "openat"],
        vec!["events", "--json", "--limit", "0", "--syscall", "42"],
        vec!["events", "--json", "--limit", "0", "--action", "errno"],
        vec![
            "events",
            "--json",
            "--limit",
            "0",
            "--workload",
            "exe:/usr/sbin/nginx",
        ],
        vec!["events", "--json", "--limit", "3", "--since", "2026-12-03"],
        vec![
            "events",
            "--json",
            "--limit",
            "0",
            "--until",
            "2026-12-02T20:00:00Z",
        ],
        vec!["summary", "--json", "--by", "workload"],
        vec!["summary", "--json", "--by", "syscall"],
        vec!["summary", "--json", "--by", "action"],
        vec!["summary", "--json", "--by", "node"],
        vec!["summary", "--by", "workload"],
        vec!["suggest", "--workload", "exe:/usr/bin/app", "--profile", p],
        vec![
            "suggest",
            "--workload",
            "exe:/usr/bin/app",
            "--profile",
            p,
            "--format",
            "json",
        ],
        vec![
            "suggest",
            "--workload",
            "exe:/usr/sbin/nginx",
            "--profile",
            p,
            "--enforce",
            "--format",
            "json",
        ],
        vec!["generate", "--workload", "exe:/usr/bin/app"],
        vec!["generate", "--workload", "exe:/opt/tool", "--format", "k8s"],
    ];
    let sqlite = db.to_str().unwrap();
    for args in &table {
        let on = |target: &str| {
            let mut a = args.clone();
            a.extend(["--db", target]);
            sw(&a)
        };
        let (s, p) = (on(sqlite), on(&fleet.url));
        assert!(s.status.success(), "{args:?} over SQLite: {}", text(&s));
        assert_eq!(
            (
                s.status.code(),
                lines_of(&s),
                String::from_utf8_lossy(&s.stderr)
            ),
            (
                p.status.code(),
                lines_of(&p),
                String::from_utf8_lossy(&p.stderr)
            ),
            "{args:?}: PostgreSQL answered differently\nSQLite: {}\nPostgreSQL: {}",
            text(&s),
            text(&p)
        );
        assert!(
            !s.stdout.is_empty(),
            "{args:?} printed nothing: {}",
            text(&s)
        );
    }
    // The answers hold what the node stored.
    let all = sw(&["events", "--json", "--limit", "0", "--db", &fleet.url]);
    let events: Vec<Value> = lines_of(&all)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 60);
    assert!(
        events.iter().all(|e| e["node"] == "node-a"),
        "{:?}",
        events[0]
    );
    let by_node = sw(&["summary", "--json", "--by", "node", "--db", &fleet.url]);
    let rows: Vec<Value> = lines_of(&by_node)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["node"].as_str(), rows[0]["events"].as_u64()),
        (Some("node-a"), Some(60))
    );
    assert_eq!(rows[0]["workloads"], 3);
    // A password never appears; a database without the schema is a clear error.
    let bad = format!("{}_none", fleet.url);
    let out = sw(&["summary", "--db", &bad]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot"), "{err}");
    let password = fleet
        .admin
        .split("://")
        .nth(1)
        .and_then(|r| r.split('@').next())
        .and_then(|u| u.split(':').nth(1))
        .unwrap_or("");
    assert!(password.len() < 4 || !err.contains(password), "{err}");
    // The fleet database is read-only from the read commands.
    let out = sw(&[
        "ingest",
        "--quiet",
        "--db",
        &fleet.url,
        log.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "{}", text(&out));
}

/// An item of workload `k8s:shop/cart/api` in container `cid`, under profile `hash`.
fn item(l: &str, cid: &str, pod: &str, hash: &str) -> Item {
    let Ok(parsers::Parsed::Seccomp(r)) = parsers::parse_line(l.trim_end().as_bytes()) else {
        panic!("{l}")
    };
    let info = parsers::ContainerInfo {
        id: cid.to_string(),
        runtime: "containerd".into(),
        name: Some("api".into()),
        pod: Some(pod.to_string()),
        namespace: Some("shop".into()),
        ..Default::default()
    };
    Item {
        event: parsers::Event::from_record(&r).unwrap(),
        source: SourceKind::AuditLog,
        attribution: parsers::Attribution {
            workload: parsers::workload::workload_key(Some(&info), None, None),
            container: Some(info),
            unit: None,
            attributed: true,
            profile_hash: Some(hash.to_string()),
        },
    }
}

fn sha256(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// Writes `items` (and `profiles`) with the store's own writer into a node's database.
fn write_node(db: &Path, items: Vec<Item>, profiles: &[&str]) {
    let batch = StoreBatch {
        items,
        profiles: profiles
            .iter()
            .map(|j| ProfileBlob {
                hash: sha256(j),
                json: j.to_string(),
            })
            .collect(),
        ..StoreBatch::default()
    };
    rt().block_on(async {
        let store = SqliteStore::open(db).await.unwrap();
        let mut w = store.open_writer().await.unwrap();
        w.write(&[batch]).await.unwrap();
        w.close().await.unwrap();
        store.close().await;
    });
}

/// The applied profile of the replicas: x86 arches listed only, LOG default.
const APPLIED: &str = r#"{"defaultAction":"SCMP_ACT_LOG","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#;
/// Another profile one replica ran under later.
const OTHER: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","openat"],"action":"SCMP_ACT_ALLOW"}]}"#;

fn names_of(profile: &Value) -> Vec<String> {
    let mut v: Vec<String> = profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|r| r["names"].as_array().unwrap().iter())
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn fleet_suggest_covers_both_arches_counts_nodes_and_reports_profiles() {
    let Some(fleet) =
        FleetDb::create("fleet_suggest_covers_both_arches_counts_nodes_and_reports_profiles")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let h1 = sha256(APPLIED);
    let w = "k8s:shop/cart/api";
    // Two x86_64 nodes: openat (257), epoll_wait (232) logged; an aarch64 node: openat
    // (56), epoll_pwait (22) logged; every node: read allowed (0 and 63).
    let mut serial = 0;
    let mut node = |name: &str, arch: &str, calls: &[i64], pod: &str| -> PathBuf {
        let mut items = Vec::new();
        for (i, nr) in calls.iter().enumerate() {
            serial += 1;
            let code = if *nr == 0 || *nr == 63 { ALLOW } else { LOG };
            let l = line(
                name,
                T0 + serial * 1000,
                serial,
                77,
                "/srv/api",
                arch,
                *nr,
                code,
            );
            items.push(item(
                &l,
                &format!("{:0>64}", format!("{name}{i}")),
                pod,
                &h1,
            ));
        }
        let db = dir.path().join(format!("{name}.db"));
        write_node(&db, items, &[APPLIED]);
        fleet.push(&db, name);
        db
    };
    node("x1", X86_64, &[257, 257, 232, 0], "cart-7d9f8b6c5-x2k4q");
    node("x2", X86_64, &[257, 0], "cart-7d9f8b6c5-b7m9z");
    let arm = node("arm1", AARCH64, &[56, 22, 22, 63], "cart-7d9f8b6c5-tvd5w");
    assert_eq!(fleet.scalar("SELECT count(*) FROM nodes"), 3);

    // generate: one profile, both arch families, the names of both arches.
    let out = sw(&["generate", "--workload", w, "--db", &fleet.url]);
    assert!(out.status.success(), "{}", text(&out));
    let g: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        g["architectures"],
        serde_json::json!([
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_X32",
            "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_ARM"
        ])
    );
    let human = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        names_of(&g),
        // The signal returns (x86's sigreturn too): the default denies.
        [
            "epoll_pwait",
            "epoll_wait",
            "openat",
            "read",
            "restart_syscall",
            "rt_sigreturn",
            "sigreturn"
        ],
        "{human}\n{}",
        text(&sw(&["events", "--limit", "0", "--db", &fleet.url]))
    );
    assert!(human.contains("Nodes (3):"), "{human}");
    assert!(
        human.contains("- arm1 (SCMP_ARCH_AARCH64): 4 event(s)"),
        "{human}"
    );
    assert!(
        human.contains("- x1 (SCMP_ARCH_X86_64): 4 event(s)"),
        "{human}"
    );
    // The evidence table says on how many nodes each call was seen.
    let row = |syscall: &str, arch: &str| -> Vec<String> {
        human
            .lines()
            .find(|l| {
                let c: Vec<&str> = l.split_whitespace().collect();
                c.first() == Some(&syscall) && c.get(1) == Some(&arch)
            })
            .unwrap_or_else(|| panic!("no row {syscall} {arch}:\n{human}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let header: Vec<&str> = human
        .lines()
        .find(|l| l.starts_with("SYSCALL"))
        .unwrap()
        .split_whitespace()
        .collect();
    let nodes_col = header
        .iter()
        .position(|h| *h == "NODES")
        .expect("NODES column");
    let count_col = header.iter().position(|h| *h == "COUNT").unwrap();
    let openat64 = row("openat", "SCMP_ARCH_X86_64");
    assert_eq!(
        (openat64[count_col].as_str(), openat64[nodes_col].as_str()),
        ("3", "2")
    );
    let openat_arm = row("openat", "SCMP_ARCH_AARCH64");
    assert_eq!(openat_arm[nodes_col], "1");
    assert!(!human.contains("WARNING"), "{human}");

    // suggest against the applied profile (captured by attribution): the aarch64 node's
    // native arch is added to its x86-only architectures, its calls allowed too.
    let out = sw(&[
        "suggest",
        "--workload",
        w,
        "--format",
        "json",
        "--db",
        &fleet.url,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        s["architectures"],
        serde_json::json!([
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_X32",
            "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_ARM"
        ])
    );
    assert_eq!(
        names_of(&s),
        ["epoll_pwait", "epoll_wait", "openat", "read"]
    );
    let human = String::from_utf8_lossy(&out.stderr);
    assert!(
        human.contains("native arch of a node the evidence came from: added to architectures (2): SCMP_ARCH_AARCH64, SCMP_ARCH_ARM"),
        "{human}"
    );
    // One node's evidence alone (its own file) knows nothing of the others.
    let out = sw(&["generate", "--workload", w, "--db", arm.to_str().unwrap()]);
    let g: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        g["architectures"],
        serde_json::json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
    );

    // The aarch64 replica now runs under another profile: reported, never merged silently.
    let h2 = sha256(OTHER);
    let l = line(
        "arm1",
        T0 + 900_000,
        9_999,
        78,
        "/srv/api",
        AARCH64,
        56,
        LOG,
    );
    write_node(
        &arm,
        vec![item(
            &l,
            &format!("{:0>64}", "arm1z"),
            "cart-7d9f8b6c5-zq8lp",
            &h2,
        )],
        &[OTHER],
    );
    fleet.push(&arm, "arm1");
    let out = sw(&["suggest", "--workload", w, "--db", &fleet.url]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ran with 2 different profiles"), "{err}");
    assert!(
        err.contains(&format!("{} on 3 node(s)", &h1[..12])),
        "{err}"
    );
    assert!(
        err.contains(&format!("{} on 1 node(s)", &h2[..12])),
        "{err}"
    );
    let profile = dir.path().join("applied.json");
    std::fs::write(&profile, APPLIED).unwrap();
    for cmd in [
        vec![
            "suggest",
            "--workload",
            w,
            "--profile",
            profile.to_str().unwrap(),
        ],
        vec!["generate", "--workload", w],
    ] {
        let mut a = cmd.clone();
        a.extend(["--db", &fleet.url]);
        let out = sw(&a);
        assert!(out.status.success(), "{}", text(&out));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            all.contains(
                "WARNING: the selection's replicas ran under 2 different applied profiles"
            ),
            "{cmd:?}: {all}"
        );
        assert!(
            all.contains(&format!(
                "- profile {}: 10 event(s) on 3 node(s): arm1, x1, x2",
                &h1[..12]
            )),
            "{all}"
        );
        assert!(
            all.contains(&format!(
                "- profile {}: 1 event(s) on 1 node(s): arm1",
                &h2[..12]
            )),
            "{all}"
        );
    }
}

/// `seccomp-watch serve` on a free port; returns it with its address.
fn serve(db: &str, dir: &Path) -> (Child, String) {
    let cfg = dir.join("serve.toml");
    std::fs::write(&cfg, "[http]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let log = dir.join(format!("serve-{}.log", db.len()));
    let mut child = Command::new(bin())
        .args(["serve", "--config", cfg.to_str().unwrap(), "--db", db])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn serve");
    let addr = wait_for(Duration::from_secs(30), || {
        let t = std::fs::read_to_string(&log).unwrap_or_default();
        if let Ok(Some(st)) = child.try_wait() {
            panic!("serve exited ({st}): {t}");
        }
        t.split("on http://")
            .nth(1)
            .and_then(|r| r.lines().next())
            .map(|a| a.trim().to_string())
    })
    .unwrap_or_else(|| {
        panic!(
            "serve did not listen: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    (child, addr)
}

/// GET `path` from `addr`: (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let t = String::from_utf8_lossy(&buf).into_owned();
    let status = t
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = t
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    // Chunked bodies: keep the JSON/text between the chunk sizes.
    let body = if t
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body.as_str();
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        body
    };
    (status, body)
}

fn kill(mut c: Child) {
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    let _ = c.wait();
}

#[test]
fn serve_answers_the_api_and_metrics_over_postgres() {
    let Some(fleet) = FleetDb::create("serve_answers_the_api_and_metrics_over_postgres") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for node in ["node-a", "node-b"] {
        let log = dir.path().join(format!("{node}.log"));
        std::fs::write(&log, node_log(node)).unwrap();
        let db = dir.path().join(format!("{node}.db"));
        let out = sw(&[
            "ingest",
            "--quiet",
            "--db",
            db.to_str().unwrap(),
            log.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out));
        fleet.push(&db, node);
    }
    let (child, addr) = serve(&fleet.url, dir.path());
    let (code, body) = get(&addr, "/api/v1/summary");
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["events"], 120, "{v}");
    let nodes: Vec<(&str, u64)> = v["by_node"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["node"].as_str().unwrap(), r["events"].as_u64().unwrap()))
        .collect();
    assert_eq!(nodes, [("node-a", 60), ("node-b", 60)]);
    let top: u64 = v["top_workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["events"].as_u64().unwrap())
        .sum();
    assert_eq!(top, 120);
    let (code, body) = get(&addr, "/api/v1/events?limit=5&workload=exe:/usr/sbin/nginx");
    assert_eq!(code, 200, "{body}");
    let ev: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(ev.len(), 5);
    assert!(
        ev.iter().all(|e| e["workload"] == "exe:/usr/sbin/nginx"),
        "{body}"
    );
    let t: Vec<&str> = ev.iter().map(|e| e["time"].as_str().unwrap()).collect();
    let mut sorted = t.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(t, sorted, "newest first");
    let (code, body) = get(&addr, "/api/v1/alerts");
    assert_eq!((code, body.trim()), (200, "[]"));
    let (code, body) = get(&addr, "/api/v1/events?limit=0");
    assert_eq!(code, 400, "{body}");
    let (code, metrics) = get(&addr, "/metrics");
    assert_eq!(code, 200);
    for want in [
        "seccomp_watch_fleet_db_up 1",
        "seccomp_watch_fleet_nodes 2",
        "seccomp_watch_fleet_node_events{node=\"node-a\"} 60",
        "seccomp_watch_fleet_node_events{node=\"node-b\"} 60",
        "seccomp_watch_fleet_node_shipped_events{node=\"node-b\"} 60",
        "seccomp_watch_fleet_alerts{severity=\"high\"} 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == want),
            "no {want:?} in:\n{metrics}"
        );
    }
    let (code, _) = get(&addr, "/healthz");
    assert_eq!(code, 200);
    kill(child);

    // Over a node's SQLite file: that node's data only, the same API.
    let (child, addr) = serve(dir.path().join("node-a.db").to_str().unwrap(), dir.path());
    let (code, body) = get(&addr, "/api/v1/summary");
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["events"], 60);
    assert!(v.get("by_node").is_none());
    let (_, metrics) = get(&addr, "/metrics");
    assert!(!metrics.contains("seccomp_watch_fleet_nodes"), "{metrics}");
    kill(child);
}

/// A daemon of node `node` tailing its own audit.log, with `[fleet]` towards `pg`.
fn fleet_daemon(dir: &Path, node: &str, pg: &str) -> (Daemon, PathBuf) {
    let log = dir.join(format!("{node}-audit.log"));
    std::fs::write(&log, "").unwrap();
    let config = format!(
        "node = {node:?}\n[http]\nlisten = \"\"\n\n[audit_log]\npoll_ms = 100\n\n[alerts]\nlearning_hours = 0\n\n[fleet]\npostgres = {pg:?}\ninterval_ms = 200\n"
    );
    let d = Daemon::start(
        &dir.join(node),
        &config,
        &[
            "--source",
            "audit-log",
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    (d, log)
}

/// The alerts stored in a node's database (JSON).
fn node_alerts(db: &Path) -> Vec<Value> {
    let out = sw(&[
        "alerts",
        "--json",
        "--limit",
        "0",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    lines_of(&out)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn novel_of<'a>(alerts: &'a [Value], syscall: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["rule"] == "novel-syscall" && a["syscall"] == syscall)
        .collect()
}

#[test]
fn novel_alerts_once_per_fleet_and_falls_back_to_local() {
    let Some(fleet) = FleetDb::create("novel_alerts_once_per_fleet_and_falls_back_to_local") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let exe = format!("/opt/fleet-novel-{}", std::process::id());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // One window for every node's events: the alert ids must agree.
    let t = now - now % 600_000 + 1_000;
    let t = if t > now { t - 600_000 } else { t };

    // Node A reports ptrace (101) for the workload: novel there.
    let (mut a, log_a) = fleet_daemon(dir.path(), "node-a", &fleet.url);
    append(&log_a, &line("node-a", t, 1, 500, &exe, X86_64, 101, LOG));
    let got = wait_for(Duration::from_secs(30), || {
        let al = node_alerts(&a.db);
        (novel_of(&al, "ptrace").len() == 1).then_some(al)
    })
    .unwrap_or_else(|| panic!("node A raised no novel alert:\n{}", a.output()));
    let id_a = novel_of(&got, "ptrace")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // ... and its replicator ships it.
    let shipped = wait_for(Duration::from_secs(30), || {
        (fleet.scalar(&format!(
            "SELECT count(*) FROM aggregates WHERE workload = 'exe:{exe}' AND syscall_nr = 101"
        )) == 1)
            .then_some(())
    });
    assert!(
        shipped.is_some(),
        "node A did not replicate:\n{}",
        a.output()
    );

    // Node B sees the same call of the same workload, and a call nobody made (mount, 165).
    let (mut b, log_b) = fleet_daemon(dir.path(), "node-b", &fleet.url);
    append(
        &log_b,
        &line("node-b", t + 10, 1, 600, &exe, X86_64, 101, LOG),
    );
    append(
        &log_b,
        &line("node-b", t + 20, 2, 600, &exe, X86_64, 165, LOG),
    );
    let got = wait_for(Duration::from_secs(30), || {
        let al = node_alerts(&b.db);
        (novel_of(&al, "mount").len() == 1).then_some(al)
    })
    .unwrap_or_else(|| panic!("node B raised no novel alert for mount:\n{}", b.output()));
    assert!(
        novel_of(&got, "ptrace").is_empty(),
        "node B alerted a call node A had reported: {got:?}\n{}",
        b.output()
    );
    assert_eq!(support::stored(&b.db).len(), 2, "node B stored both events");

    // Node C cannot reach PostgreSQL: node-local novel, and the same id as node A's.
    let (mut c, log_c) = fleet_daemon(
        dir.path(),
        "node-c",
        "postgres://sw@127.0.0.1:1/none?connect_timeout=1",
    );
    append(
        &log_c,
        &line("node-c", t + 30, 1, 700, &exe, X86_64, 101, LOG),
    );
    let got = wait_for(Duration::from_secs(30), || {
        let al = node_alerts(&c.db);
        (novel_of(&al, "ptrace").len() == 1).then_some(al)
    })
    .unwrap_or_else(|| {
        panic!(
            "node C (no PostgreSQL) raised no novel alert:\n{}",
            c.output()
        )
    });
    assert_eq!(novel_of(&got, "ptrace")[0]["id"].as_str().unwrap(), id_a);

    // The fleet's alerts: ptrace once (node A), mount once (node B).
    let shipped = wait_for(Duration::from_secs(30), || {
        (fleet.scalar("SELECT count(*) FROM alerts WHERE rule = 'novel-syscall'") >= 2)
            .then_some(())
    });
    assert!(
        shipped.is_some(),
        "alerts not replicated:\n{}\n{}",
        a.output(),
        b.output()
    );
    let out = sw(&["alerts", "--json", "--limit", "0", "--db", &fleet.url]);
    assert!(out.status.success(), "{}", text(&out));
    let fleet_alerts: Vec<Value> = lines_of(&out)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ptrace = novel_of(&fleet_alerts, "ptrace");
    assert_eq!(ptrace.len(), 1, "{fleet_alerts:?}");
    assert_eq!(ptrace[0]["id"].as_str(), Some(id_a.as_str()));
    assert_eq!(ptrace[0]["nodes"], serde_json::json!(["node-a"]));
    assert_eq!(
        novel_of(&fleet_alerts, "mount")[0]["nodes"],
        serde_json::json!(["node-b"])
    );
    for d in [&mut a, &mut b, &mut c] {
        d.term();
    }
}
