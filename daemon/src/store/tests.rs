//! Tests of the SQLite store and the writer task: dedup, atomic checkpoints, retention,
//! losses, profiles, queries.

use std::time::Duration;

use sqlx::ConnectOptions;

use parsers::{Action, Attribution, ContainerInfo, Event};

use super::*;
use crate::pipeline::{LossCause, ProfileBlob, SourceKind};
use crate::writer::{self, WriterConfig};

fn ev(serial: u64, t: i64) -> Event {
    Event {
        time_ms: t,
        serial: Some(serial),
        node: None,
        audit_arch: 0xc000_003e,
        syscall_nr: 101,
        code: 0x7ffc_0000,
        pid: 42,
        uid: Some(0),
        gid: Some(0),
        auid: None,
        ses: None,
        comm: Some("a".into()),
        exe: Some("/bin/a".into()),
        subj: None,
        sig: Some(0),
        compat: false,
        ip: Some(0xffff_ffff_8100_1234),
        synthetic_key: None,
    }
}

fn container() -> Attribution {
    let c = ContainerInfo {
        id: "0123456789abcdef".repeat(4),
        runtime: "containerd".into(),
        name: Some("api".into()),
        image: Some("shop/cart:1.4".into()),
        pod: Some("cart-7d9f8b6c5-x2k4q".into()),
        namespace: Some("shop".into()),
        pod_uid: Some("1b2c3d4e".into()),
    };
    Attribution {
        workload: parsers::workload::workload_key(Some(&c), None, None),
        container: Some(c),
        unit: None,
        attributed: true,
        profile_hash: Some("ab".repeat(32)),
    }
}

fn batch(source: SourceKind, events: &[Event], attribution: &Attribution) -> StoreBatch {
    StoreBatch {
        items: events
            .iter()
            .map(|e| Item {
                event: e.clone(),
                source,
                attribution: attribution.clone(),
            })
            .collect(),
        source: Some(source),
        ..StoreBatch::default()
    }
}

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
    (dir, s)
}

async fn all(s: &SqliteStore) -> Vec<StoredEvent> {
    s.events(&EventQuery::default()).await.unwrap().events
}

fn cfg() -> WriterConfig {
    WriterConfig {
        retention_days: 0,
        max_retries: Some(0),
        ..WriterConfig::default()
    }
}

#[tokio::test]
async fn same_record_from_two_sources_is_stored_once() {
    let (_d, s) = store().await;
    let events: Vec<Event> = (0..300)
        .map(|i| ev(1000 + i, 1_795_997_052_000 + i as i64 / 3))
        .collect();
    let (tx, h) = writer::spawn(&s, cfg()).await.unwrap();
    tx.send(batch(SourceKind::Netlink, &events, &container()))
        .await
        .unwrap();
    tx.send(batch(
        SourceKind::AuditLog,
        &events,
        &Attribution::unattributed(Some("/bin/a")),
    ))
    .await
    .unwrap();
    // Later, overlapping again, in another transaction.
    tx.send(batch(
        SourceKind::AuditLog,
        &events[250..],
        &Attribution::unattributed(Some("/bin/a")),
    ))
    .await
    .unwrap();
    drop(tx);
    let st = h.await.unwrap().unwrap();
    assert_eq!(st.stored, 300);
    assert_eq!(st.duplicates, 350);
    let stored = all(&s).await;
    assert_eq!(stored.len(), 300);
    for (got, want) in stored.iter().zip(&events) {
        assert_eq!(&got.item.event, want, "round trip");
        assert_eq!(got.item.source, SourceKind::Netlink, "the first copy wins");
        assert_eq!(got.item.attribution, container());
    }
    // Aggregates count each record once.
    let sum = s.summary(SummaryBy::Workload).await.unwrap();
    assert_eq!(sum.len(), 1);
    assert_eq!(sum[0].events, 300);
    assert_eq!(sum[0].workload.as_deref(), Some("k8s:shop/cart/api"));
}

#[tokio::test]
async fn different_nodes_and_serialless_records() {
    let (_d, s) = store().await;
    let mut a = ev(7, 1000);
    a.node = Some("host-a".into());
    let mut b = a.clone();
    b.node = Some("host-b".into());
    let c = ev(7, 1000); // no node
    let mut j = ev(0, 2000);
    j.serial = None; // a journal line: no serial
    let mut j2 = j.clone();
    j2.pid = 43; // another record in the same millisecond
    let mut w = s.open_writer().await.unwrap();
    let u = Attribution::unattributed(Some("/bin/a"));
    let out = w
        .write(&[batch(
            SourceKind::Ingest,
            &[a.clone(), b.clone(), c.clone(), j.clone(), j2.clone()],
            &u,
        )])
        .await
        .unwrap();
    assert_eq!((out.stored, out.duplicates), (5, 0));
    let out = w
        .write(&[batch(SourceKind::Ingest, &[j.clone(), a.clone()], &u)])
        .await
        .unwrap();
    assert_eq!((out.stored, out.duplicates), (0, 2));
    let got: Vec<Event> = all(&s).await.into_iter().map(|e| e.item.event).collect();
    assert_eq!(got.len(), 5);
    assert!(
        got.contains(&j) && got.contains(&j2),
        "serial None round-trips"
    );
    assert!(got.contains(&a) && got.contains(&b) && got.contains(&c));
}

#[tokio::test]
async fn a_failed_write_commits_neither_events_nor_checkpoint() {
    let (_d, s) = store().await;
    let mut w = s.open_writer().await.unwrap();
    // Make the checkpoint insert fail, after the events went in.
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(s.path())
        .connect()
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER boom BEFORE INSERT ON checkpoints BEGIN SELECT RAISE(ABORT, 'boom'); END",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let events: Vec<Event> = (0..100).map(|i| ev(i, 5000 + i as i64)).collect();
    let mut b = batch(
        SourceKind::AuditLog,
        &events,
        &Attribution::unattributed(Some("/bin/a")),
    );
    b.checkpoint = Some(crate::pipeline::Checkpoint {
        key: "audit-log:/x".into(),
        path: "/x".into(),
        dev: 1,
        ino: 2,
        fingerprint: u64::MAX,
        offset: 12345,
    });
    let batches = vec![b];
    assert!(w.write(&batches).await.is_err());
    assert!(
        all(&s).await.is_empty(),
        "events rolled back with the checkpoint"
    );
    assert_eq!(s.checkpoint("audit-log:/x").await.unwrap(), None);
    assert!(
        s.summary(SummaryBy::Action).await.unwrap().is_empty(),
        "aggregates rolled back"
    );
    // Without the trigger the same write commits both, and the writer recovered.
    sqlx::query("DROP TRIGGER boom")
        .execute(&mut conn)
        .await
        .unwrap();
    let out = w.write(&batches).await.unwrap();
    assert_eq!(out.stored, 100);
    let cp = s.checkpoint("audit-log:/x").await.unwrap().unwrap();
    assert_eq!(
        (cp.dev, cp.ino, cp.fingerprint, cp.offset),
        (1, 2, u64::MAX, 12345)
    );
    assert_eq!(all(&s).await.len(), 100);
}

#[tokio::test]
async fn a_write_dropped_half_way_commits_all_or_nothing() {
    let (_d, s) = store().await;
    let key = "audit-log:/var/log/audit/audit.log";
    let mut committed = 0u64;
    let mut outcomes = [0usize; 2];
    for round in 0..24u64 {
        let events: Vec<Event> = (0..4000)
            .map(|i| ev(round * 10_000 + i, (round * 10_000 + i) as i64))
            .collect();
        let mut b = batch(SourceKind::AuditLog, &events, &container());
        b.checkpoint = Some(crate::pipeline::Checkpoint {
            key: key.into(),
            path: "/var/log/audit/audit.log".into(),
            dev: 8,
            ino: 99,
            fingerprint: 7,
            offset: round + 1,
        });
        let batches = vec![b];
        let mut w = s.open_writer().await.unwrap();
        // Cut the write off after a varying time: the transaction is dropped mid-way.
        let r = tokio::time::timeout(
            Duration::from_micros((100.0 * 1.5f64.powi(round as i32)) as u64),
            w.write(&batches),
        )
        .await;
        // Closing waits for whatever the cut-off write left queued on the connection (a
        // COMMIT already sent still lands, a dropped transaction rolls back).
        w.close().await.unwrap();
        let done = matches!(r, Ok(Ok(_)));
        let r = r.map(|x| x.map(|o| o.stored));
        outcomes[usize::from(done)] += 1;
        // Reopen and check, in one snapshot: the checkpoint and the events agree.
        let fresh = SqliteStore::open(s.path()).await.unwrap();
        let (n, cp): (i64, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM events), (SELECT offset FROM checkpoints WHERE key = ?)",
        )
        .bind(key)
        .fetch_one(fresh.pool())
        .await
        .unwrap();
        let (n, cp) = (n as u64, cp.unwrap_or(0) as u64);
        assert!(
            n == committed || n == committed + 4000,
            "round {round}: {n} events, {committed} before"
        );
        if n == committed + 4000 {
            committed = n;
            assert_eq!(
                cp,
                round + 1,
                "round {round}: events committed without their checkpoint ({r:?})"
            );
        } else {
            assert!(
                cp < round + 1,
                "round {round}: checkpoint committed without its events ({r:?})"
            );
        }
        fresh.close().await;
    }
    assert!(
        outcomes[0] > 0 && outcomes[1] > 0,
        "both cut-off and completed writes happened: {outcomes:?}"
    );
}

#[tokio::test]
async fn losses_profiles_and_parse_errors_persist() {
    let (dir, s) = store().await;
    let (tx, h) = writer::spawn(&s, cfg()).await.unwrap();
    let p = ProfileBlob {
        hash: "ab".repeat(32),
        json: "{\"defaultAction\":\"SCMP_ACT_LOG\"}".into(),
    };
    for _ in 0..2 {
        tx.send(StoreBatch {
            losses: vec![(LossCause::Enobufs, 3), (LossCause::KernelLost, 0)],
            parse_errors: 2,
            profiles: vec![p.clone()],
            source: Some(SourceKind::Netlink),
            ..StoreBatch::default()
        })
        .await
        .unwrap();
    }
    drop(tx);
    let st = h.await.unwrap().unwrap();
    assert_eq!((st.lost, st.parse_errors), (6, 4));
    s.close().await;
    let s = SqliteStore::open_existing(&dir.path().join("t.db"))
        .await
        .unwrap();
    assert_eq!(
        s.losses().await.unwrap(),
        vec![("enobufs".to_string(), 6), ("parse_error".to_string(), 4)]
    );
    assert_eq!(s.profile(&p.hash).await.unwrap(), Some(p.json.clone()));
    assert_eq!(s.profile("00").await.unwrap(), None);
}

#[tokio::test]
async fn retention_deletes_old_events_and_keeps_aggregates() {
    let (_d, s) = store().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let old: Vec<Event> = (0..500)
        .map(|i| ev(i, now - 40 * 86_400_000 + i as i64))
        .collect();
    let new: Vec<Event> = (0..10)
        .map(|i| ev(10_000 + i, now - 1000 + i as i64))
        .collect();
    let mut w = s.open_writer().await.unwrap();
    w.write(&[
        batch(SourceKind::Ingest, &old, &container()),
        batch(SourceKind::Ingest, &new, &container()),
    ])
    .await
    .unwrap();
    drop(w);
    let mut c = cfg();
    c.retention_days = 30;
    let (tx, h) = writer::spawn(&s, c).await.unwrap();
    // The first retention pass runs at start; give it a moment, then stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(tx);
    let st = h.await.unwrap().unwrap();
    assert_eq!(st.retention_deleted, 500);
    assert_eq!(all(&s).await.len(), 10);
    let sum = s.summary(SummaryBy::Workload).await.unwrap();
    assert_eq!(sum[0].events, 510, "aggregates are kept");
}

#[tokio::test]
async fn queries_filter_and_page() {
    let (_d, s) = store().await;
    let mut evs = Vec::new();
    for i in 0..50u64 {
        let mut e = ev(i, 10_000 + i as i64);
        if i % 2 == 0 {
            e.code = 0x0005_0001; // errno
            e.syscall_nr = 110; // getppid on x86_64
        }
        if i % 10 == 0 {
            e.audit_arch = 0x4000_0003; // i386
            e.compat = true;
            e.syscall_nr = 64; // getppid on i386
        }
        evs.push(e);
    }
    let mut w = s.open_writer().await.unwrap();
    let (a, b) = evs.split_at(25);
    w.write(&[
        batch(SourceKind::Netlink, a, &container()),
        batch(
            SourceKind::Kmsg,
            b,
            &Attribution::unattributed(Some("/bin/a")),
        ),
    ])
    .await
    .unwrap();
    let q = |f: &dyn Fn(&mut EventQuery)| {
        let mut q = EventQuery::default();
        f(&mut q);
        q
    };
    let getppid = s
        .events(&q(&|q| {
            q.syscall = Some(SyscallFilter::Name("getppid".into()))
        }))
        .await
        .unwrap()
        .events;
    assert_eq!(getppid.len(), 25, "both arches by name");
    let errno = s
        .events(&q(&|q| q.action = Some(Action::Errno)))
        .await
        .unwrap()
        .events;
    assert_eq!(errno.len(), 25);
    let nr64 = s
        .events(&q(&|q| q.syscall = Some(SyscallFilter::Number(64))))
        .await
        .unwrap()
        .events;
    assert_eq!(nr64.len(), 5);
    let none = s
        .events(&q(&|q| q.syscall = Some(SyscallFilter::Name("bpf".into()))))
        .await
        .unwrap()
        .events;
    assert!(none.is_empty());
    let cont = s
        .events(&q(&|q| q.container = Some("0123456789ab".into())))
        .await
        .unwrap()
        .events;
    assert_eq!(cont.len(), 25);
    assert!(cont.iter().all(|e| e.item.source == SourceKind::Netlink));
    let wl = s
        .events(&q(&|q| q.workload = Some("exe:/bin/a".into())))
        .await
        .unwrap()
        .events;
    assert_eq!(wl.len(), 25);
    let win = s
        .events(&q(&|q| {
            q.since_ms = Some(10_010);
            q.until_ms = Some(10_020)
        }))
        .await
        .unwrap()
        .events;
    assert_eq!(win.len(), 10);
    // Paging both ways visits every event once, in order.
    for newest_first in [false, true] {
        let mut q = EventQuery {
            limit: 7,
            newest_first,
            ..EventQuery::default()
        };
        let mut seen = Vec::new();
        loop {
            let p = s.events(&q).await.unwrap();
            seen.extend(p.events.iter().map(|e| e.item.event.serial.unwrap()));
            match p.next {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
        let mut want: Vec<u64> = (0..50).collect();
        if newest_first {
            want.reverse();
        }
        assert_eq!(seen, want);
    }
    // Observations for suggest/generate.
    let obs = s
        .observations(&Selection {
            workload: Some("k8s:shop/cart/api".into()),
            ..Selection::default()
        })
        .await
        .unwrap();
    let total: u64 = obs.iter().map(|o| o.count).sum();
    assert_eq!(total, 25);
    assert!(obs.iter().all(|o| o.containers == 1));
    assert!(obs
        .iter()
        .any(|o| o.compat && o.as_event().syscall() == Some("getppid")));
    assert_eq!(obs[0].sample_exe.as_deref(), Some("/bin/a"));
    let pod = s
        .observations(&Selection {
            pod: Some(("shop".into(), "cart-7d9f8b6c5-x2k4q".into())),
            since_ms: Some(10_020),
            ..Selection::default()
        })
        .await
        .unwrap();
    assert_eq!(pod.iter().map(|o| o.count).sum::<u64>(), 5);
    let by_sys = s.summary(SummaryBy::Syscall).await.unwrap();
    assert_eq!(by_sys.iter().map(|r| r.events).sum::<u64>(), 50);
    assert!(by_sys.iter().all(|r| r.workloads >= 1));
}

#[tokio::test]
async fn the_writer_coalesces_and_flushes_on_close() {
    let (_d, s) = store().await;
    let c = WriterConfig {
        batch_size: 1000,
        flush: Duration::from_secs(30),
        ..cfg()
    };
    let (tx, h) = writer::spawn(&s, c).await.unwrap();
    for i in 0..10u64 {
        let evs: Vec<Event> = (0..10)
            .map(|j| ev(i * 10 + j, (i * 10 + j) as i64))
            .collect();
        tx.send(batch(SourceKind::Netlink, &evs, &container()))
            .await
            .unwrap();
    }
    drop(tx);
    let st = h.await.unwrap().unwrap();
    assert_eq!(st.stored, 100);
    assert!(
        st.transactions <= 2,
        "ten small batches coalesced: {} transactions",
        st.transactions
    );
    assert_eq!(s.stats().await.unwrap().events, 100);
}

#[tokio::test]
async fn the_writer_flushes_within_flush_ms() {
    let (_d, s) = store().await;
    let c = WriterConfig {
        batch_size: 1_000_000,
        flush: Duration::from_millis(100),
        ..cfg()
    };
    let (tx, h) = writer::spawn(&s, c).await.unwrap();
    tx.send(batch(SourceKind::Netlink, &[ev(1, 1)], &container()))
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    loop {
        if s.stats().await.unwrap().events == 1 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(2), "not flushed by time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(tx);
    h.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_writer_recovers_after_an_interrupted_write() {
    let (_d, s) = store().await;
    let mut w = s.open_writer().await.unwrap();
    let mut total = 0u64;
    for round in 0..12u64 {
        let events: Vec<Event> = (0..3000)
            .map(|i| ev(round * 10_000 + i, (round * 10_000 + i) as i64))
            .collect();
        let batches = vec![batch(SourceKind::Netlink, &events, &container())];
        let cut = Duration::from_micros((50.0 * 2f64.powi(round as i32)) as u64);
        let first = tokio::time::timeout(cut, w.write(&batches)).await;
        // The same writer goes on: the retry stores what the cut-off write did not.
        let again = w.write(&batches).await.unwrap();
        assert_eq!(
            again.stored + again.duplicates,
            3000,
            "round {round}: {first:?}"
        );
        total += 3000;
    }
    w.close().await.unwrap();
    assert_eq!(s.stats().await.unwrap().events, total);
    let sum = s.summary(SummaryBy::Action).await.unwrap();
    assert_eq!(
        sum.iter().map(|r| r.events).sum::<u64>(),
        total,
        "aggregates counted once"
    );
}
