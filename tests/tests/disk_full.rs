//! A full disk under the database, for real: a small tmpfs mounted by the test (and
//! unmounted after), partly taken by a filler file, the daemon following an audit.log
//! outside it. When SQLite reports SQLITE_FULL the writer does not retry the same batch
//! forever: it gives up its reserve file, runs retention, then deletes the oldest raw events
//! (counted as lost, cause `disk_full`; the aggregates keep counting them), and new events
//! keep being stored; `/readyz` and `seccomp_watch_db_disk_full` say so until there is
//! room again.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use seccomp_watch::store::{EventQuery, SqliteStore, Store, SummaryBy};
use seccomp_watch_tests::{root_or_skip, wait_for};

use support::*;

/// A tmpfs of `mib` MiB mounted on a new directory; unmounted (and removed) on drop.
struct Tmpfs {
    dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(mib: u64) -> Tmpfs {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("mnt");
        std::fs::create_dir(&dir).unwrap();
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .status()
            .expect("mount");
        assert!(st.success(), "mount -t tmpfs failed");
        Tmpfs {
            dir,
            _parent: parent,
        }
    }

    /// A file of zeros taking `mib` MiB.
    fn fill(&self, name: &str, mib: usize) -> PathBuf {
        let p = self.dir.join(name);
        let mut f = std::fs::File::create(&p).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..mib {
            f.write_all(&chunk).unwrap();
        }
        f.sync_all().unwrap();
        p
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// The value of an unlabelled metric, or of one labelled `{label}` exactly.
fn metric(port: u16, series: &str) -> f64 {
    let (_, body) = get(port, "/metrics");
    body.lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(f64::NAN)
}

fn lines(t: u64, first_serial: u64, n: u64, exe: &str) -> String {
    let mut s = String::with_capacity(n as usize * 220);
    for i in 0..n {
        s.push_str(&seccomp_line(t + i / 1000, first_serial + i, 4242, exe));
    }
    s
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Raw events of the host executable `exe` (its workload `exe:EXE`) stored now.
fn count(db: &Path, exe: &str) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let Ok(s) = SqliteStore::open_existing(db).await else {
            return 0;
        };
        let q = EventQuery {
            workload: Some(format!("exe:{exe}")),
            ..Default::default()
        };
        let n = s.events(&q).await.map(|p| p.events.len()).unwrap_or(0);
        s.close().await;
        n
    })
}

/// Polls `f` every half second until it returns `Some` or `timeout` passes.
fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Events counted in the aggregates of workload `w`.
fn aggregated(db: &Path, w: &str) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = SqliteStore::open_existing(db).await.unwrap();
        let rows = s.summary(SummaryBy::Workload).await.unwrap();
        s.close().await;
        rows.iter()
            .filter(|r| r.workload.as_deref() == Some(w))
            .map(|r| r.events)
            .sum()
    })
}

#[test]
fn a_full_disk_is_relieved_by_retention_and_early_deletion_of_raw_events() {
    if !root_or_skip("a_full_disk_is_relieved_by_retention_and_early_deletion_of_raw_events") {
        return;
    }
    let fs = Tmpfs::mount(48);
    // 26 MiB taken by someone else: room for the 8 MiB reserve and a few MiB of database.
    let filler = fs.fill("filler", 26);
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("audit.log");
    let now = now_secs();
    // Old events (40 days: past the retention of 30), then more than the disk holds.
    const OLD: u64 = 20_000;
    const FILL: u64 = 300_000;
    append(&log, &lines(now - 40 * 86_400, 1_000_000, OLD, "/df/old"));
    append(&log, &lines(now - 600, 2_000_000, FILL, "/df/fill"));
    let port = free_port();
    let dir = fs.dir.join("state");
    let config = format!(
        "db = \"{}\"\nretention_days = 30\n\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n[audit_log]\npoll_ms = 100\n",
        dir.join("sw.db").display()
    );
    let ddir = tmp.path().join("d");
    std::fs::create_dir_all(&ddir).unwrap();
    std::fs::write(ddir.join("config.toml"), &config).unwrap();
    let out = std::fs::File::create(ddir.join("daemon.log")).unwrap();
    let mut child = Command::new(seccomp_watch_tests::bin())
        .args(["run", "--config"])
        .arg(ddir.join("config.toml"))
        .args(["--source", "audit-log", "--audit-log"])
        .arg(&log)
        .env("SECCOMP_WATCH_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let db = dir.join("sw.db");
    let output = || std::fs::read_to_string(ddir.join("daemon.log")).unwrap_or_default();
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            signal(self.0, libc::SIGKILL);
        }
    }
    let _kill = Kill(child.id());

    // Written after the disk filled up: stored all the same.
    std::thread::sleep(Duration::from_secs(2));
    append(&log, &lines(now - 5, 3_000_000, 1_000, "/df/last"));
    let got = poll(Duration::from_secs(180), || {
        (count(&db, "/df/last") == 1_000).then_some(())
    });
    assert!(
        got.is_some(),
        "events written after the disk filled up were not stored ({} of 1000):\n{}",
        count(&db, "/df/last"),
        output()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(output().contains("disk full"), "{}", output());

    // Retention ran while the disk was full; the early deletions are counted.
    assert_eq!(count(&db, "/df/old"), 0, "retention did not run");
    let fill_kept = count(&db, "/df/fill") as u64;
    let lost = loss(&db, "disk_full");
    assert!(
        lost > 0 && fill_kept < FILL,
        "nothing was deleted early ({fill_kept} kept)"
    );
    assert_eq!(
        metric(
            port,
            "seccomp_watch_lost_records_total{cause=\"disk_full\"}"
        ) as u64,
        lost
    );
    let retained = metric(port, "seccomp_watch_retention_deleted_events_total") as u64;
    assert_eq!(
        retained + lost,
        OLD + FILL - fill_kept,
        "every event is stored, removed by retention or counted as lost"
    );
    // The aggregates still count every event.
    assert_eq!(aggregated(&db, "exe:/df/fill"), FILL);
    assert_eq!(aggregated(&db, "exe:/df/old"), OLD);

    // Still short of room (no reserve): not ready, and the gauge says why.
    let (st, body) = get(port, "/readyz");
    assert_eq!(st, 503, "{body}");
    assert!(body.contains("disk full"), "{body}");
    assert_eq!(metric(port, "seccomp_watch_db_disk_full"), 1.0);

    // Room again: ready once a write succeeds with the reserve back.
    std::fs::remove_file(&filler).unwrap();
    append(&log, &lines(now - 2, 4_000_000, 10, "/df/after"));
    let ok = poll(Duration::from_secs(60), || {
        (count(&db, "/df/after") == 10 && get(port, "/readyz").0 == 200).then_some(())
    });
    assert!(ok.is_some(), "not ready again: {:?}", get(port, "/readyz"));
    assert_eq!(metric(port, "seccomp_watch_db_disk_full"), 0.0);
    assert!(dir.join("sw.db-reserve").is_file(), "the reserve is back");

    signal(child.id(), libc::SIGTERM);
    let st = wait_for(Duration::from_secs(30), || child.try_wait().ok().flatten());
    assert!(st.is_some_and(|s| s.success()), "{}", output());
}

#[test]
fn the_reserve_is_given_up_when_the_disk_fills_at_once() {
    if !root_or_skip("the_reserve_is_given_up_when_the_disk_fills_at_once") {
        return;
    }
    let fs = Tmpfs::mount(24);
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("audit.log");
    let dir = fs.dir.join("state");
    let now = now_secs();
    append(&log, &lines(now - 120, 1, 20_000, "/df/r"));
    let config =
        "[http]\nlisten = \"\"\n\n[store]\nreserve_bytes = 2097152\n\n[audit_log]\npoll_ms = 100\n";
    let mut d = Daemon::start(
        &dir,
        config,
        &[
            "--source",
            "audit-log",
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    let reserve = dir.join("sw.db-reserve");
    assert_eq!(
        std::fs::metadata(&reserve).map(|m| m.len()).ok(),
        Some(2 << 20),
        "a 2 MiB reserve beside the database:\n{}",
        d.output()
    );
    assert!(poll(Duration::from_secs(60), || (count(&d.db, "/df/r")
        == 20_000)
        .then_some(()))
    .is_some());
    // Someone else takes every byte left, at once.
    let filler = fs.dir.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 1 << 16];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    const MORE: u64 = 200_000;
    append(&log, &lines(now - 60, 100_000, MORE, "/df/r"));
    let gone = poll(Duration::from_secs(120), || {
        (!reserve.exists()).then_some(())
    });
    assert!(
        gone.is_some(),
        "the reserve was kept on a full disk:\n{}",
        d.output()
    );
    // Everything read is accounted for: stored or counted as lost.
    let all = poll(Duration::from_secs(180), || {
        let n = count(&d.db, "/df/r") as u64 + loss(&d.db, "disk_full");
        (n == 20_000 + MORE).then_some(n)
    });
    assert!(
        all.is_some(),
        "{} stored + {} lost of {}:\n{}",
        count(&d.db, "/df/r"),
        loss(&d.db, "disk_full"),
        20_000 + MORE,
        d.output()
    );
    assert!(
        d.output().contains("gave up the 2 MiB reserve"),
        "{}",
        d.output()
    );
    // Room again: the reserve comes back with the next write.
    std::fs::remove_file(&filler).unwrap();
    append(&log, &lines(now - 1, 900_000, 10, "/df/r2"));
    assert!(
        poll(Duration::from_secs(60), || reserve.exists().then_some(())).is_some(),
        "{}",
        d.output()
    );
    assert!(d.term().success(), "{}", d.output());
}
