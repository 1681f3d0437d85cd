//! Benchmark: attribution cost per event (`Attributor::enrich`), and the proc connector
//! listener's CPU per fork/exec/exit event.
//!
//! `cargo bench -p seccomp-watch --bench attrib`. One thread. Scenarios:
//! - `warm/procfs`: 200 processes in 20 containers (fake proc root, runc state with
//!   profiles), batches of 10 000 events: one `stat` read per pid and batch;
//! - `warm/one-pid`: a flood from one process;
//! - `cold`: every event from a pid never seen (stat + cgroup + stat read each);
//! - `connector`: real processes learned from the proc connector (root): no file read;
//! - `listener`: CPU seconds of the connector thread per event while 2000 processes run.

use std::path::Path;
use std::time::Instant;

use parsers::Event;
use seccomp_watch::attrib::procfs::{boot_offset_ms, now_ms, ProcFs};
use seccomp_watch::attrib::Attributor;
use seccomp_watch::config::AttributionConfig;
use seccomp_watch::pipeline::{Enricher, SourceBatch, SourceKind};

const BATCH: usize = 10_000;

fn event(pid: u32, time_ms: i64) -> Event {
    Event {
        time_ms,
        serial: Some(1),
        node: None,
        audit_arch: 0xc000_003e,
        syscall_nr: 63,
        code: 0x7ffc_0000,
        pid,
        uid: Some(0),
        gid: Some(0),
        auid: None,
        ses: None,
        comm: Some("app".into()),
        exe: Some("/usr/bin/app".into()),
        subj: None,
        sig: Some(0),
        compat: false,
        ip: None,
        synthetic_key: None,
    }
}

fn id(n: usize) -> String {
    format!("{n:064x}")
}

struct Fake {
    dir: tempfile::TempDir,
    cfg: AttributionConfig,
}

/// A proc root with `pids` processes spread over `containers` containers (each with runc
/// state, CRI annotations and a seccomp profile), started a minute ago.
fn fake(first_pid: u32, pids: u32, containers: usize) -> Fake {
    // tmpfs when there is one: creating and removing 50 000 fake processes on disk is slow.
    let dir = match Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm"),
        false => tempfile::tempdir(),
    }
    .expect("tempdir");
    let d = dir.path();
    let procfs = ProcFs::new(d.join("proc"));
    let ticks = procfs.ms_to_ticks(now_ms() - 60_000, boot_offset_ms());
    for c in 0..containers {
        let bundle = d.join("bundles").join(id(c));
        std::fs::create_dir_all(&bundle).expect("mkdir");
        let cfg = serde_json::json!({
            "annotations": {"io.kubernetes.pod.name": format!("app-{c}"), "io.kubernetes.pod.namespace": "bench",
                "io.kubernetes.container.name": "main"},
            "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_LOG"}]},
                // The runtime's state names the cgroup (attribution trusts nothing else).
                "cgroupsPath": format!("/kubepods/besteffort/pod1b2c3d4e-0000-4000-8000-{:012x}/cri-containerd-{}", c, id(c))}
        });
        std::fs::write(bundle.join("config.json"), cfg.to_string()).expect("write");
        let state = d.join("runc").join(id(c));
        std::fs::create_dir_all(&state).expect("mkdir");
        let st =
            serde_json::json!({"config": {"labels": [format!("bundle={}", bundle.display())]}});
        std::fs::write(state.join("state.json"), st.to_string()).expect("write");
    }
    for p in first_pid..first_pid + pids {
        let dirp = d.join("proc").join(p.to_string());
        std::fs::create_dir_all(&dirp).expect("mkdir");
        std::fs::write(
            dirp.join("stat"),
            format!("{p} (app) S 1 {p} {p} 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 {ticks} 1000 100 0\n"),
        )
        .expect("write");
        let c = (p as usize) % containers;
        let cg = format!(
            "/kubepods/besteffort/pod1b2c3d4e-0000-4000-8000-{:012x}/cri-containerd-{}",
            c,
            id(c)
        );
        std::fs::write(
            dirp.join("cgroup"),
            format!("12:pids:{cg}\n11:memory:{cg}\n1:name=systemd:{cg}\n0::{cg}\n"),
        )
        .expect("write");
    }
    let cfg = AttributionConfig {
        proc_connector: false,
        runc_roots: vec![d.join("runc")],
        containerd_root: d.join("none"),
        docker_root: d.join("none"),
        podman_root: d.join("none"),
        crio_root: d.join("none"),
        podman_db: d.join("none"),
        containerd_db: d.join("none"),
        proc_root: d.join("proc"),
        ..AttributionConfig::default()
    };
    Fake { dir, cfg }
}

/// The scenarios asked for on the command line (all when none).
fn wanted(name: &str) -> bool {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    args.is_empty() || args.iter().any(|a| name.contains(a.as_str()))
}

/// Runs `batches` batches made by `make` through `at`; prints ns per event.
fn run(name: &str, at: &mut Attributor, batches: usize, mut make: impl FnMut(usize) -> Vec<Event>) {
    if !wanted(name) {
        return;
    }
    let mut n = 0usize;
    let mut attributed = 0usize;
    let mut elapsed = 0f64;
    let before = at.stats();
    for b in 0..batches {
        let events = make(b);
        n += events.len();
        let t = Instant::now();
        let out = at.enrich(SourceBatch {
            events,
            source: Some(SourceKind::Netlink),
            live: true,
            ..Default::default()
        });
        elapsed += t.elapsed().as_secs_f64();
        attributed += out
            .items
            .iter()
            .filter(|i| i.attribution.attributed)
            .count();
    }
    let s = at.stats();
    println!(
        "{name:<16} {:>8.0} ns/event  {:>6.2} M events/s  attributed {attributed}/{n}  reads/batch: stat {:.1} cgroup {:.1}",
        elapsed * 1e9 / n as f64,
        n as f64 / elapsed / 1e6,
        (s.stat_reads - before.stat_reads) as f64 / batches as f64,
        (s.cgroup_reads - before.cgroup_reads) as f64 / batches as f64,
    );
}

/// CPU seconds (user + system) of this process's thread named `name`.
fn thread_cpu(name: &str) -> Option<f64> {
    // SAFETY: sysconf has no preconditions.
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    for t in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if std::fs::read_to_string(t.path().join("comm")).ok()?.trim() == name {
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let (u, s): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
            return Some((u + s) / tck);
        }
    }
    None
}

fn main() {
    let f = fake(10_000, 200, 20);
    let mut at = Attributor::new(&f.cfg);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    run("warm/procfs", &mut at, 1, |_| {
        (0..BATCH)
            .map(|i| event(10_000 + (i as u32 % 200), now_ms()))
            .collect()
    });
    run("warm/procfs", &mut at, 50, |_| {
        (0..BATCH)
            .map(|_| event(10_000 + (rnd() % 200) as u32, now_ms()))
            .collect()
    });
    run("warm/one-pid", &mut at, 50, |_| {
        (0..BATCH).map(|_| event(10_007, now_ms())).collect()
    });
    drop(f);

    if !wanted("cold") && !wanted("connector") && !wanted("listener") {
        return;
    }
    let f = fake(100_000, if wanted("cold") { 50_000 } else { 1 }, 20);
    let mut at = Attributor::new(&f.cfg);
    run("cold", &mut at, 5, |b| {
        (0..BATCH)
            .map(|i| event(100_000 + (b * BATCH + i) as u32, now_ms()))
            .collect()
    });
    println!(
        "(fake proc root in {}; real /proc reads cost about the same)",
        f.dir.path().display()
    );
    drop(f);

    // The connector: real processes, learned from fork/exec events.
    if !wanted("connector") && !wanted("listener") {
        return;
    }
    let cfg = AttributionConfig::default();
    let mut at = Attributor::new(&cfg);
    let conn = match at.spawn_proc_connector() {
        Ok(c) => c,
        Err(e) => {
            println!("connector: skipped ({e})");
            return;
        }
    };
    let mut children: Vec<std::process::Child> = (0..50)
        .filter_map(|_| std::process::Command::new("sleep").arg("60").spawn().ok())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1500)); // past the settle time
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    // Settle them (one read each), then measure.
    run("connector/first", &mut at, 1, |_| {
        pids.iter().map(|&p| event(p, now_ms())).collect()
    });
    run("connector", &mut at, 50, |_| {
        (0..BATCH)
            .map(|i| event(pids[i % pids.len()], now_ms()))
            .collect()
    });
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }

    // The listener's own cost per event.
    let cpu0 = thread_cpu("proc-connector").unwrap_or(0.0);
    let ev0 = at.stats().connector_events;
    let t = Instant::now();
    for _ in 0..2000 {
        if let Ok(mut c) = std::process::Command::new("/bin/true").spawn() {
            let _ = c.wait();
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let cpu = thread_cpu("proc-connector").unwrap_or(0.0) - cpu0;
    let evs = at.stats().connector_events - ev0;
    println!(
        "listener         {evs} events in {:.2} s (2000 fork+exec+exit), thread CPU {cpu:.3} s = {:.1} us/event",
        t.elapsed().as_secs_f64(),
        cpu * 1e6 / evs.max(1) as f64
    );
    drop(conn);
}
