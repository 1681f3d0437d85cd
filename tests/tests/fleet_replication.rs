//! Fleet replication into a real PostgreSQL (issue 13): daemons (`seccomp-watch run` as
//! child processes) each tail their own audit.log, written by the test, and replicate into
//! one PostgreSQL. Every test compares the key set of each node's SQLite with PostgreSQL's
//! rows of that node: every event exactly once, the aggregates equal.
//!
//! - three nodes into one database of the shared test cluster (TLS verified with its CA,
//!   password from a file);
//! - a private cluster (initdb + pg_ctl on a free port, stopped and started by its pid:
//!   the shared one is never touched) down for 30 s during a burst: the lag metric rises
//!   and falls, nothing lost, nothing twice;
//! - a node SIGKILLed mid-replication and restarted: nothing lost, nothing twice;
//! - `fleet push` again after the local write log was rebuilt (every event queued anew):
//!   PostgreSQL keeps each event once (the fast COPY path falls back on the key).

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seccomp_watch_tests::world::{postgres_ca, postgres_or_skip, var};
use seccomp_watch_tests::{free_port, http_get, scrape_value, wait_for};
use sqlx::{Connection, Row};
use support::Daemon;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// One SECCOMP line of auditd's raw form.
fn line(node: &str, t_ms: i64, serial: u64, nr: u32) -> String {
    format!(
        "type=SECCOMP msg=audit({}.{:03}:{serial}): auid=1000 uid=1000 gid=1000 ses=1 pid={} \
         comm=\"fleet-{node}\" exe=\"/usr/bin/fleet-{node}\" sig=0 arch=c000003e syscall={nr} \
         compat=0 ip=0x7f0000001000 code=0x7ffc0000\n",
        t_ms / 1000,
        t_ms % 1000,
        100_000 + serial % 7,
    )
}

const SYSCALLS: [u32; 5] = [101, 165, 272, 110, 16];

/// Appends `n` lines (serials from `first`) to `path`, times from `t0`; returns them as
/// keys (time_ms, serial).
fn append(path: &Path, node: &str, t0: i64, first: u64, n: u64) -> Vec<(i64, i64)> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("audit.log");
    let mut text = String::new();
    let mut keys = Vec::new();
    for s in first..first + n {
        let t = t0 + (s as i64 % 1000);
        text.push_str(&line(node, t, s, SYSCALLS[s as usize % SYSCALLS.len()]));
        keys.push((t, s as i64));
    }
    f.write_all(text.as_bytes()).expect("append");
    keys
}

/// A database of its own on the shared cluster, dropped at the end.
struct TestDb {
    admin: String,
    name: String,
    /// Its URL without the password.
    url: String,
    password: String,
}

impl TestDb {
    fn create(admin: &str, tag: &str) -> TestDb {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "sw_repl_{}_{}_{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        rt().block_on(async {
            let mut c = sqlx::PgConnection::connect(admin)
                .await
                .expect("admin connect");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .await
                .expect("create database");
            let _ = c.close().await;
        });
        // postgres://user:password@host:port/db
        let rest = admin.strip_prefix("postgres://").expect("postgres:// URL");
        let (userinfo, hostdb) = rest.split_once('@').expect("user@host");
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let host = hostdb.split('/').next().unwrap();
        TestDb {
            admin: admin.to_string(),
            url: format!("postgres://{user}@{host}/{name}"),
            name,
            password: password.to_string(),
        }
    }

    fn url_with_password(&self) -> String {
        self.url.replacen('@', &format!(":{}@", self.password), 1)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        rt().block_on(async {
            if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
                let _ = c.close().await;
            }
        });
    }
}

/// PostgreSQL's event keys and aggregate total of `node`.
fn pg_node(url: &str, node: &str) -> (BTreeSet<(i64, i64)>, usize, i64) {
    rt().block_on(async {
        let Ok(mut c) = sqlx::PgConnection::connect(url).await else {
            return (BTreeSet::new(), 0, 0);
        };
        let rows = sqlx::query(
            "SELECT e.time_ms, e.serial FROM events e JOIN nodes n ON n.id = e.node WHERE n.name = $1",
        )
        .bind(node)
        .fetch_all(&mut c)
        .await
        .unwrap_or_default();
        let n = rows.len();
        let keys = rows
            .iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1)))
            .collect();
        let agg: Option<i64> = sqlx::query_scalar(
            "SELECT sum(a.count)::bigint FROM aggregates a JOIN nodes n ON n.id = a.node WHERE n.name = $1",
        )
        .bind(node)
        .fetch_one(&mut c)
        .await
        .unwrap_or(None);
        let _ = c.close().await;
        (keys, n, agg.unwrap_or(0))
    })
}

fn pg_count(url: &str, node: &str) -> usize {
    rt().block_on(async {
        let Ok(mut c) = sqlx::PgConnection::connect(url).await else {
            return 0;
        };
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events e JOIN nodes n ON n.id = e.node WHERE n.name = $1",
        )
        .bind(node)
        .fetch_one(&mut c)
        .await
        .unwrap_or(0);
        let _ = c.close().await;
        n as usize
    })
}

/// The local SQLite's event count.
fn sqlite_count(db: &Path) -> usize {
    rt().block_on(async {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .read_only(true);
        let Ok(mut c) = sqlx::SqliteConnection::connect_with(&opts).await else {
            return 0;
        };
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&mut c)
            .await
            .unwrap_or(0);
        let _ = c.close().await;
        n as usize
    })
}

/// The local SQLite's event keys and aggregate total.
fn sqlite_node(db: &Path) -> (BTreeSet<(i64, i64)>, usize, i64) {
    rt().block_on(async {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .read_only(true);
        let Ok(mut c) = sqlx::SqliteConnection::connect_with(&opts).await else {
            return (BTreeSet::new(), 0, 0);
        };
        let rows = sqlx::query("SELECT time_ms, serial FROM events")
            .fetch_all(&mut c)
            .await
            .unwrap_or_default();
        let n = rows.len();
        let keys = rows
            .iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1)))
            .collect();
        let agg: Option<i64> = sqlx::query_scalar("SELECT sum(count) FROM aggregates")
            .fetch_one(&mut c)
            .await
            .unwrap_or(None);
        let _ = c.close().await;
        (keys, n, agg.unwrap_or(0))
    })
}

fn fleet_config(http: &str, fleet: &str) -> String {
    format!(
        "[http]\nlisten = \"{http}\"\n\n[audit_log]\npoll_ms = 100\n\n[attribution]\nenabled = false\n\n\
         [fleet]\n{fleet}interval_ms = 200\n"
    )
}

/// Waits until PostgreSQL holds exactly `expected` events of `node` and its SQLite too,
/// then checks that the key sets and the aggregate totals are equal.
fn assert_replicated(
    url: &str,
    node: &str,
    db: &Path,
    expected: &BTreeSet<(i64, i64)>,
    d: &Daemon,
) {
    let ok = wait_for(Duration::from_secs(120), || {
        (sqlite_count(db) == expected.len() && pg_count(url, node) == expected.len()).then_some(())
    });
    let (lk, ln, la) = sqlite_node(db);
    let (pk, pn, pa) = pg_node(url, node);
    assert!(
        ok.is_some(),
        "{node}: SQLite has {ln}, PostgreSQL {pn} of {} events:\n{}",
        expected.len(),
        d.all_output()
    );
    assert_eq!(&lk, expected, "{node}: SQLite holds every line once");
    assert_eq!(pn, pk.len(), "{node}: no key twice in PostgreSQL");
    assert_eq!(pk, lk, "{node}: PostgreSQL holds exactly SQLite's events");
    assert_eq!(la, ln as i64, "{node}: SQLite aggregates count every event");
    assert_eq!(pa, la, "{node}: PostgreSQL's aggregates are SQLite's");
}

#[test]
fn three_nodes_replicate_every_event_exactly_once() {
    let t = "three_nodes_replicate_every_event_exactly_once";
    let Some(admin) = postgres_or_skip(t) else {
        return;
    };
    let pg = TestDb::create(&admin, "three");
    let tmp = tempfile::tempdir().unwrap();
    let pw = tmp.path().join("pg-password");
    std::fs::write(&pw, format!("{}\n", pg.password)).unwrap();
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut tls = String::new();
    if let Some(ca) = postgres_ca() {
        tls = format!("sslmode = \"verify-ca\"\nca_file = \"{}\"\n", ca.display());
    }
    // The schema first, as an operator would (the replicators would apply it too).
    let out = Command::new(seccomp_watch_tests::bin())
        .args(["fleet", "migrate", "--db", &pg.url, "--password-file"])
        .arg(&pw)
        .output()
        .unwrap();
    assert!(out.status.success(), "fleet migrate: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("schema version 2"), "{stdout}");
    assert!(
        !stdout.contains(&pg.password),
        "the password is never printed"
    );

    // The same (time, serial) keys on every node: only the node tells them apart.
    let t0 = now_ms() - 5_000;
    let nodes = ["node-a", "node-b", "node-c"];
    let mut daemons = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let dir = tmp.path().join(node);
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("audit.log");
        let keys = append(&log, node, t0, 1, 3000 + 500 * i as u64);
        let fleet = format!(
            "postgres = \"{}\"\npassword_file = \"{}\"\n{tls}node = \"{node}\"\nbatch_size = 1000\n",
            pg.url,
            pw.display()
        );
        let d = Daemon::start(
            &dir,
            &fleet_config("", &fleet),
            &[
                "--source",
                "audit-log",
                "--audit-log",
                log.to_str().unwrap(),
            ],
        );
        daemons.push((d, log, keys.into_iter().collect::<BTreeSet<_>>()));
    }
    // More lines while they run.
    for (i, (_, log, keys)) in daemons.iter_mut().enumerate() {
        keys.extend(append(log, nodes[i], t0 + 2_000, 10_000, 2000));
    }
    let url = pg.url_with_password();
    for (i, (d, _, keys)) in daemons.iter().enumerate() {
        assert_replicated(&url, nodes[i], &d.db, keys, d);
        let out = d.all_output();
        assert!(
            !out.contains(&pg.password),
            "the password is never logged:\n{out}"
        );
    }
    let total: i64 = rt().block_on(async {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&mut c)
            .await
            .unwrap()
    });
    let want: usize = daemons.iter().map(|(_, _, k)| k.len()).sum();
    assert_eq!(total as usize, want, "nothing else in PostgreSQL");
    for (d, _, _) in daemons.iter_mut() {
        assert!(d.term().success(), "{}", d.output());
    }
}

/// A private PostgreSQL cluster in a temp dir on a free port, run as `postgres`; stopped
/// and started by its own pid (never the shared cluster).
struct PrivatePg {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
}

fn as_postgres(cmd: &str) -> std::process::Output {
    Command::new("su")
        .args(["postgres", "-s", "/bin/sh", "-c", cmd])
        .output()
        .expect("su postgres")
}

impl PrivatePg {
    fn init() -> Option<PrivatePg> {
        let bin = PathBuf::from(var("SECCOMP_WATCH_TEST_PG_BIN")?);
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("chown")
            .args(["postgres:", dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "chown: {out:?}");
        let out = as_postgres(&format!(
            "'{}/initdb' -D '{}/data' -U postgres --auth=trust -E UTF8 --no-sync",
            bin.display(),
            dir.path().display()
        ));
        assert!(out.status.success(), "initdb: {out:?}");
        let pg = PrivatePg {
            dir,
            port: free_port(),
            bin,
        };
        pg.start();
        Some(pg)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start(&self) {
        let d = self.dir.path().display();
        let out = as_postgres(&format!(
            "'{}/pg_ctl' -D '{d}/data' -l '{d}/log' -w -t 60 -o \"-p {} -k '{d}' -c listen_addresses=127.0.0.1 -c fsync=off\" start",
            self.bin.display(),
            self.port
        ));
        assert!(
            out.status.success(),
            "pg_ctl start: {out:?}\n{}",
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    fn pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Fast shutdown of this cluster's postmaster, by its pid; waits until it is gone.
    fn stop(&self) {
        let Some(pid) = self.pid() else { return };
        // SAFETY: kill has no memory preconditions; the pid is our own cluster's.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let gone = wait_for(Duration::from_secs(30), || {
            // SAFETY: as above (signal 0 only checks).
            (unsafe { libc::kill(pid, 0) } != 0).then_some(())
        });
        assert!(gone.is_some(), "private postgres {pid} did not stop");
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        self.stop();
    }
}

fn scrape(port: u16) -> String {
    http_get(port, "/metrics")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

#[test]
fn postgres_down_for_30s_during_a_burst_loses_nothing_and_stores_nothing_twice() {
    let t = "postgres_down_for_30s_during_a_burst_loses_nothing_and_stores_nothing_twice";
    if postgres_or_skip(t).is_none() {
        return;
    }
    let Some(pg) = PrivatePg::init() else {
        seccomp_watch_tests::world::skip(t, "no SECCOMP_WATCH_TEST_PG_BIN");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("audit.log");
    std::fs::write(&log, "").unwrap();
    let port = free_port();
    let node = "node-burst";
    let fleet = format!(
        "postgres = \"{}\"\nsslmode = \"disable\"\nnode = \"{node}\"\nbatch_size = 2000\n",
        pg.url()
    );
    let mut d = Daemon::start(
        &dir,
        &fleet_config(&format!("127.0.0.1:{port}"), &fleet),
        &[
            "--source",
            "audit-log",
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    let up = wait_for(Duration::from_secs(30), || {
        (scrape_value(&scrape(port), "seccomp_watch_fleet_up") == Some(1.0)).then_some(())
    });
    assert!(up.is_some(), "fleet_up never 1:\n{}", d.output());

    // The burst: 100 lines every 50 ms on a thread, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let burst = {
        let (stop, log) = (stop.clone(), log.clone());
        std::thread::spawn(move || {
            let mut keys = BTreeSet::new();
            let mut serial = 1;
            while !stop.load(Ordering::Relaxed) {
                keys.extend(append(&log, node, now_ms(), serial, 100));
                serial += 100;
                std::thread::sleep(Duration::from_millis(50));
            }
            keys
        })
    };
    std::thread::sleep(Duration::from_secs(3));
    pg.stop();
    let down_at = Instant::now();
    let mut lag_during = Vec::new();
    let mut up_during = Vec::new();
    while down_at.elapsed() < Duration::from_secs(30) {
        let s = scrape(port);
        if let Some(v) = scrape_value(&s, "seccomp_watch_fleet_replication_lag_events") {
            lag_during.push(v);
        }
        if let Some(v) = scrape_value(&s, "seccomp_watch_fleet_up") {
            up_during.push(v);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let lag_secs_down =
        scrape_value(&scrape(port), "seccomp_watch_fleet_replication_lag_seconds").unwrap_or(0.0);
    pg.start();
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let keys = burst.join().unwrap();

    assert!(
        up_during.contains(&0.0),
        "fleet_up fell to 0 while PostgreSQL was down: {up_during:?}"
    );
    let rising = lag_during.windows(2).filter(|w| w[1] > w[0]).count();
    let max = lag_during.iter().cloned().fold(0.0, f64::max);
    assert!(
        max > 10_000.0 && rising >= 10,
        "the lag rose while PostgreSQL was down: {lag_during:?}"
    );
    assert!(
        lag_secs_down > 20.0,
        "lag seconds {lag_secs_down} after 30 s down"
    );
    // Caught up: the lag falls back to 0 and every line is in PostgreSQL once.
    let fell = wait_for(Duration::from_secs(120), || {
        (scrape_value(&scrape(port), "seccomp_watch_fleet_replication_lag_events") == Some(0.0)
            && pg_count(&pg.url(), node) == keys.len())
        .then_some(())
    });
    assert!(fell.is_some(), "the lag did not fall to 0:\n{}", d.output());
    assert_replicated(&pg.url(), node, &d.db, &keys, &d);
    let s = scrape(port);
    assert_eq!(
        scrape_value(&s, "seccomp_watch_fleet_replicated_events_total"),
        Some(keys.len() as f64),
        "every event counted once as replicated"
    );
    assert_eq!(
        scrape_value(&s, "seccomp_watch_fleet_replication_lag_seconds"),
        Some(0.0)
    );
    assert_eq!(scrape_value(&s, "seccomp_watch_fleet_up"), Some(1.0));
    assert!(scrape_value(&s, "seccomp_watch_fleet_errors_total").unwrap_or(0.0) > 0.0);
    assert!(d.term().success(), "{}", d.output());
}

#[test]
fn a_node_sigkilled_mid_replication_loses_nothing_and_stores_nothing_twice() {
    let t = "a_node_sigkilled_mid_replication_loses_nothing_and_stores_nothing_twice";
    let Some(admin) = postgres_or_skip(t) else {
        return;
    };
    let pg = TestDb::create(&admin, "kill");
    let url = pg.url_with_password();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("audit.log");
    let node = "node-kill";
    let t0 = now_ms() - 60_000;
    let mut keys: BTreeSet<(i64, i64)> = BTreeSet::new();
    for i in 0..20 {
        keys.extend(append(
            &log,
            node,
            t0 + i * 1000,
            1 + i as u64 * 10_000,
            10_000,
        ));
    }
    let port = free_port();
    // Small batches: replication takes many transactions, so the kill lands mid-way.
    let fleet = format!("postgres = \"{url}\"\nnode = \"{node}\"\nbatch_size = 500\n");
    let mut d = Daemon::start(
        &dir,
        &fleet_config(&format!("127.0.0.1:{port}"), &fleet),
        &[
            "--source",
            "audit-log",
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    let mid = wait_for(Duration::from_secs(120), || {
        let n = pg_count(&url, node);
        (n > 0 && n < keys.len()).then_some(n)
    });
    d.kill();
    let at_kill = pg_count(&url, node);
    assert!(
        mid.is_some() && at_kill < keys.len(),
        "the kill did not land mid-replication ({at_kill} of {}):\n{}",
        keys.len(),
        d.output()
    );
    let d = d.restart();
    assert_replicated(&url, node, &d.db, &keys, &d);
    let s = wait_for(Duration::from_secs(10), || {
        let s = scrape(port);
        (scrape_value(&s, "seccomp_watch_fleet_replication_lag_events") == Some(0.0)).then_some(s)
    })
    .expect("the lag is 0 after the restart");
    let replicated = scrape_value(&s, "seccomp_watch_fleet_replicated_events_total").unwrap_or(0.0);
    assert_eq!(
        replicated as usize + at_kill,
        keys.len(),
        "the restarted node inserted exactly what was missing"
    );
}

#[test]
fn fleet_push_of_a_rebuilt_write_log_stores_nothing_twice() {
    let t = "fleet_push_of_a_rebuilt_write_log_stores_nothing_twice";
    let Some(admin) = postgres_or_skip(t) else {
        return;
    };
    let pg = TestDb::create(&admin, "push");
    let url = pg.url_with_password();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("audit.log");
    let db = tmp.path().join("node.db");
    append(&log, "push", now_ms() - 10_000, 1, 5000);
    let sw = |args: &[&str]| {
        let out = Command::new(seccomp_watch_tests::bin())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let dbs = db.to_str().unwrap();
    sw(&["ingest", "--db", dbs, log.to_str().unwrap()]);
    let push = [
        "fleet",
        "push",
        "--db",
        &url,
        "--from",
        dbs,
        "--node",
        "push",
        "--batch-size",
        "700",
    ];
    let out = sw(&push);
    assert!(
        out.contains("5000 event(s) inserted, 0 already there"),
        "{out}"
    );
    // The local log rebuilt (replication switched off and on: every event queued again,
    // with new log positions): PostgreSQL keeps each event once.
    rt().block_on(async {
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&db);
        let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::query("DROP TRIGGER fleet_log_events")
            .execute(&mut c)
            .await
            .unwrap();
        let _ = c.close().await;
    });
    let out = sw(&push);
    assert!(
        out.contains("0 event(s) inserted, 5000 already there"),
        "{out}"
    );
    // More events after that: only they are new.
    append(&log, "push", now_ms(), 100_000, 300);
    sw(&["ingest", "--db", dbs, log.to_str().unwrap()]);
    let out = sw(&push);
    assert!(
        out.contains("300 event(s) inserted, 0 already there"),
        "{out}"
    );
    let (pk, pn, pa) = pg_node(&url, "push");
    let (lk, _, la) = sqlite_node(&db);
    assert_eq!(pn, 5300);
    assert_eq!(pk, lk);
    assert_eq!(pa, la);
}
