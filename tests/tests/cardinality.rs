//! Metric cardinality under attacker input, through the real kernel, the daemon and its
//! `/metrics`: a process under a LOG-default filter calling thousands of distinct syscall
//! numbers adds a bounded number of series (names from the arch's table, the rest
//! `unknown`, at most `metrics.series_per_workload` per workload, then `other`); junk
//! `exe:` workloads cannot push a container's workload into `other` (their own budget);
//! no label value carries a raw control byte.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use seccomp_watch_tests::runc::{Runc, Spec};
use seccomp_watch_tests::{program, root_or_skip, wait_for};
use serde_json::json;
use support::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The raw bytes of `GET /metrics`.
fn scrape(port: u16) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let at = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    let head = String::from_utf8_lossy(&buf[..at]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let body = buf[at + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap().trim(), 16)
                .unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + n]);
            rest = &rest[nl + 2 + n + 2..];
        }
        out
    } else {
        body
    }
}

/// One sample of the text format: its labels (values unescaped) and its value.
fn samples(text: &str, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix('{') else {
            continue;
        };
        let mut labels = BTreeMap::new();
        let mut it = rest.chars().peekable();
        loop {
            let key: String = std::iter::from_fn(|| it.next_if(|c| *c != '=')).collect();
            if key.is_empty() || it.next() != Some('=') || it.next() != Some('"') {
                break;
            }
            let mut v = String::new();
            while let Some(c) = it.next() {
                match c {
                    '\\' => match it.next() {
                        Some('n') => v.push('\n'),
                        Some(o) => v.push(o),
                        None => {}
                    },
                    '"' => break,
                    c => v.push(c),
                }
            }
            labels.insert(key.trim_start_matches(',').to_string(), v);
            match it.peek() {
                Some(',') => {
                    it.next();
                }
                _ => break,
            }
        }
        let value: String = it.skip_while(|c| *c != ' ').collect();
        out.push((labels, value.trim().parse().unwrap_or(f64::NAN)));
    }
    out
}

/// Series of `workload_events_total` of workload `w`: (syscall, action) -> value.
fn series_of(text: &str, w: &str) -> BTreeMap<(String, String), f64> {
    samples(text, "seccomp_watch_workload_events_total")
        .into_iter()
        .filter(|(l, _)| l.get("workload").map(String::as_str) == Some(w))
        .map(|(l, v)| ((l["syscall"].clone(), l["action"].clone()), v))
        .collect()
}

/// The workload keys of the stored events of `exe`.
fn workloads_of(db: &std::path::Path, exe: &str) -> BTreeSet<String> {
    use seccomp_watch::store::{EventQuery, SqliteStore, Store};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = SqliteStore::open_existing(db).await.unwrap();
        let page = store
            .events(&EventQuery::default())
            .await
            .expect("events query");
        store.close().await;
        page.events
            .into_iter()
            .filter(|e| e.item.event.exe.as_deref() == Some(exe))
            .map(|e| e.item.attribution.workload)
            .collect()
    })
}

fn config(port: u16, extra: &str) -> String {
    format!("[http]\nlisten = \"127.0.0.1:{port}\"\n\n{extra}")
}

#[test]
fn distinct_syscall_numbers_add_a_bounded_number_of_series() {
    if !root_or_skip("distinct_syscall_numbers_add_a_bounded_number_of_series") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let flood = tmp.path().join("card-flood");
    std::fs::copy(program("syscall-flood"), &flood).unwrap();
    let port = free_port();
    let mut d = Daemon::start(
        &tmp.path().join("d"),
        &config(port, ""),
        &["--source", "netlink"],
    );
    const N: u64 = 5_000;
    let st = std::process::Command::new(&flood)
        .args(["1000", &N.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "syscall-flood: {st}");
    let exe = flood.to_str().unwrap().to_string();
    // Every distinct number, plus the few real calls made on the way out.
    let stored = wait_stored(&d.db, N as usize, Duration::from_secs(120), |s| {
        s.event.exe.as_deref() == Some(exe.as_str())
    });
    assert!(
        stored.len() as u64 >= N,
        "{} of {N} stored; losses {:?}",
        stored.len(),
        losses(&d.db)
    );
    let workload = format!("exe:{exe}");
    // The counter covers exactly what was stored (scraped when it caught up).
    let series = wait_for(Duration::from_secs(30), || {
        let now = stored_where(&d.db, |s| s.event.exe.as_deref() == Some(exe.as_str())).len();
        let text = String::from_utf8(scrape(port)).unwrap();
        let s = series_of(&text, &workload);
        (s.values().sum::<f64>() as usize == now).then_some(s)
    })
    .unwrap_or_else(|| {
        let text = String::from_utf8(scrape(port)).unwrap();
        let s = series_of(&text, &workload);
        panic!(
            "the series of {workload} never summed to the stored events ({} series, sum {})",
            s.len(),
            s.values().sum::<f64>()
        )
    });
    // Bounded: at most 64 (syscall, action) pairs of their own, plus `other` per action.
    assert!(
        series.len() <= 64 + 1,
        "{} series for one workload: {:?}",
        series.len(),
        series.keys().take(10).collect::<Vec<_>>()
    );
    let unknown = series
        .get(&("unknown".to_string(), "SCMP_ACT_LOG".to_string()))
        .copied()
        .unwrap_or(0.0);
    assert!(
        unknown >= N as f64 - 64.0,
        "numbers outside the table are `unknown`: {unknown}"
    );
    for (syscall, _) in series.keys() {
        assert!(
            syscall == "unknown"
                || syscall == "other"
                || parsers::syscalls::syscall_number(parsers::arch::ScmpArch::X86_64, syscall)
                    .is_some(),
            "syscall label {syscall:?} is not a name of the table"
        );
    }
    assert!(d.term().success());
}

#[test]
fn junk_exe_workloads_cannot_push_a_container_into_other() {
    if !root_or_skip("junk_exe_workloads_cannot_push_a_container_into_other") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let runc = Runc::with_exe("/bin/busybox-cardinality").unwrap();
    let port = free_port();
    // Room for 50 workloads: fewer than the junk.
    let extra = format!(
        "[metrics]\nworkload_series_limit = 50\n\n[attribution]\nrunc_roots = [\"{}\"]\n",
        runc.root().display()
    );
    let mut d = Daemon::start(
        &tmp.path().join("d"),
        &config(port, &extra),
        &["--source", "netlink"],
    );
    // Junk from the host (unattributed or not: `exe:` workloads), names with control
    // bytes first.
    let junk_dir = tmp.path().join("junk");
    std::fs::create_dir(&junk_dir).unwrap();
    let mut junk = Vec::new();
    for i in 0..150 {
        let name = match i {
            0 => "esc-\x1b[31m-bel-\x07-x".to_string(),
            1 => "tab\tcr\rdel\x7f-x".to_string(),
            _ => format!("junk-{i}"),
        };
        let exe = demo_copy(&junk_dir, &name, false);
        run_demo(&exe, &["-s", "getppid"]);
        junk.push(exe.to_str().unwrap().to_string());
    }
    let got = wait_stored(&d.db, junk.len(), Duration::from_secs(60), |s| {
        s.event
            .exe
            .as_deref()
            .is_some_and(|e| junk.iter().any(|j| j == e))
    });
    assert_eq!(got.len(), junk.len(), "every junk record stored");

    // Then a container's process.
    let id = format!("{:0<64}", format!("ca{}", std::process::id()));
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_LOG"}]
    });
    let out = runc
        .run(
            &id,
            &Spec::new(&["sh", "-c", "uname; sleep 0.3"])
                .seccomp(profile)
                .cgroups_path(format!("/docker/{id}")),
        )
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exe = runc.exe().to_string();
    let ev = wait_stored(&d.db, 1, Duration::from_secs(30), |s| {
        s.event.exe.as_deref() == Some(exe.as_str())
    });
    assert!(!ev.is_empty(), "the container's record was not stored");
    let ws = workloads_of(&d.db, &exe);
    let workload = ws.into_iter().next().expect("a workload");
    assert!(
        workload.starts_with("docker:"),
        "the container was attributed: {workload}"
    );
    let raw = scrape(port);
    let text = String::from_utf8(raw.clone()).unwrap();
    let mine = wait_for(Duration::from_secs(10), || {
        let t = String::from_utf8(scrape(port)).unwrap();
        let s = series_of(&t, &workload);
        (!s.is_empty()).then_some(s)
    });
    assert!(
        mine.is_some(),
        "the container's workload {workload} has no series of its own (pushed into other?)"
    );
    // The junk went to its own overflow, not to `other`.
    let workloads: BTreeSet<String> = samples(&text, "seccomp_watch_workload_events_total")
        .into_iter()
        .filter_map(|(l, _)| l.get("workload").cloned())
        .collect();
    assert!(workloads.contains("exe:other"), "{workloads:?}");
    // No raw control byte anywhere in the exposition (line ends aside).
    let bad: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|&b| (b < 0x20 && b != b'\n') || b == 0x7f)
        .collect();
    assert!(bad.is_empty(), "raw control bytes in /metrics: {bad:?}");
    let esc = format!("exe:{}/esc-\\e[31m-bel-\\x07-x", junk_dir.display());
    if workloads.iter().any(|w| w.contains("esc-")) {
        assert!(workloads.contains(&esc), "{workloads:?}");
    }
    assert!(d.term().success());
}
