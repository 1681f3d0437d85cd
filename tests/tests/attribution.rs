//! Attribution against the real kernel and real runc containers: the kernel's SECCOMP
//! records, read from a NETLINK_AUDIT multicast socket, go through the daemon's
//! `Attributor` (with the proc connector), and must name the right container, pod,
//! namespace, container name and applied profile, including for processes that are gone
//! before their record is handled, with two containers running at once, and for a host
//! process. Each test's busybox has its own path, so `exe=` tells which container really
//! made a record (other tests and programs on the host log records too).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parsers::{Event, Parsed};
use seccomp_watch::attrib::runtime::sha256_hex;
use seccomp_watch::attrib::{Attributor, Method, ProcConnector};
use seccomp_watch::config::AttributionConfig;
use seccomp_watch::pipeline::{Enricher, Item, ProfileBlob, SourceBatch, SourceKind};
use seccomp_watch_tests::runc::{Runc, Spec};
use seccomp_watch_tests::{root_or_skip, seccomp_demo, tool_or_skip};
use serde_json::json;

const POD_UID: &str = "1b2c3d4e-0000-4000-8000-00000000abcd";

/// One root test at a time: they watch the same kernel.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn can_run(test: &str) -> bool {
    root_or_skip(test) && tool_or_skip(test, "runc") && tool_or_skip(test, "busybox")
}

/// A container id (64 hex digits) unique to this run.
fn new_id(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    sha256_hex(format!("{tag}-{}-{nanos}", std::process::id()).as_bytes())
}

/// A Docker-format profile: allow everything, log `log`, kill the process on `kill`.
fn profile(log: &[&str], kill: &[&str]) -> serde_json::Value {
    let mut syscalls = vec![json!({"names": log, "action": "SCMP_ACT_LOG"})];
    if !kill.is_empty() {
        syscalls.push(json!({"names": kill, "action": "SCMP_ACT_KILL_PROCESS"}));
    }
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": syscalls
    })
}

/// The applied profile's hash: SHA-256 of the compact `linux.seccomp` of the bundle.
fn applied_hash(bundle: &Path) -> (String, String) {
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    let json = serde_json::to_string(&cfg["linux"]["seccomp"]).unwrap();
    (sha256_hex(json.as_bytes()), json)
}

fn attribution_config(runc_roots: Vec<std::path::PathBuf>, tmp: &Path) -> AttributionConfig {
    AttributionConfig {
        enabled: true,
        proc_connector: true,
        runc_roots,
        containerd_root: tmp.join("containerd"),
        docker_root: tmp.join("docker"),
        podman_root: tmp.join("podman"),
        crio_root: tmp.join("crio"),
        podman_db: tmp.join("podman.db"),
        containerd_db: tmp.join("meta.db"),
        proc_root: "/proc".into(),
        ..AttributionConfig::default()
    }
}

/// A NETLINK_AUDIT socket bound to the read-only multicast group.
struct AuditReader {
    fd: OwnedFd,
}

impl AuditReader {
    fn open() -> AuditReader {
        // SAFETY: plain socket(2); checked below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_AUDIT,
            )
        };
        assert!(
            fd >= 0,
            "socket(NETLINK_AUDIT): {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let size: libc::c_int = 32 << 20;
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 50_000,
        };
        // SAFETY: valid fd and option buffers of the given sizes.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                4,
            );
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
        }
        // SAFETY: zeroed sockaddr_nl is valid; fields set below.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        sa.nl_groups = 1; // AUDIT_NLGRP_READLOG
                          // SAFETY: valid fd and address.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        assert_eq!(
            r,
            0,
            "bind audit multicast: {}",
            std::io::Error::last_os_error()
        );
        AuditReader { fd }
    }

    /// The SECCOMP events received within about 50 ms (at least one recv).
    fn read(&self) -> Vec<Event> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        let deadline = Instant::now() + Duration::from_millis(50);
        while Instant::now() < deadline {
            // SAFETY: valid fd and buffer.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n <= 0 {
                break; // timeout (or an overflow, which the count checks would show)
            }
            let msg = &buf[..n as usize];
            if msg.len() < 16 {
                continue;
            }
            let len =
                (u32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]) as usize).min(msg.len());
            let ty = u16::from_ne_bytes([msg[4], msg[5]]);
            if let Ok(Parsed::Seccomp(rec)) = parsers::parse_netlink(ty, &msg[16..len]) {
                if let Ok(ev) = Event::from_record(&rec) {
                    out.push(ev);
                }
            }
        }
        out
    }

    /// Events read until `done` says enough (or `timeout`), plus 300 ms of stragglers.
    fn read_until(&self, timeout: Duration, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        let mut all = Vec::new();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && !done(&all) {
            all.extend(self.read());
        }
        let extra = Instant::now() + Duration::from_millis(300);
        while Instant::now() < extra {
            all.extend(self.read());
        }
        all
    }
}

/// The daemon's path in miniature: audit records -> `Attributor::enrich` in batches as they
/// arrive (live), results collected.
struct Live {
    stop: Arc<AtomicBool>,
    items: Arc<Mutex<Vec<Item>>>,
    profiles: Arc<Mutex<Vec<ProfileBlob>>>,
    thread: Option<JoinHandle<()>>,
    _conn: Option<ProcConnector>,
}

impl Live {
    fn start(cfg: &AttributionConfig) -> Live {
        let mut at = Attributor::new(cfg);
        let conn = at
            .spawn_proc_connector()
            .expect("proc connector (root has CAP_NET_ADMIN)");
        assert!(at.connector_running());
        let reader = AuditReader::open();
        let stop = Arc::new(AtomicBool::new(false));
        let items = Arc::new(Mutex::new(Vec::new()));
        let profiles = Arc::new(Mutex::new(Vec::new()));
        let (s, i, p) = (stop.clone(), items.clone(), profiles.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let events = reader.read();
                if events.is_empty() {
                    continue;
                }
                let out = at.enrich(SourceBatch {
                    events,
                    source: Some(SourceKind::Netlink),
                    live: true,
                    ..Default::default()
                });
                p.lock().unwrap().extend(out.profiles);
                i.lock().unwrap().extend(out.items);
            }
            // Shown when a test fails: how far behind the proc connector listener was.
            eprintln!("attribution stats: {:?}", at.stats());
        });
        Live {
            stop,
            items,
            profiles,
            thread: Some(thread),
            _conn: Some(conn),
        }
    }

    /// Items matching `f`, once there are at least `n` (or after `timeout`), plus stragglers.
    fn wait(&self, n: usize, timeout: Duration, f: impl Fn(&Item) -> bool) -> Vec<Item> {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.items.lock().unwrap().iter().filter(|i| f(i)).count();
            if count >= n || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        self.items
            .lock()
            .unwrap()
            .iter()
            .filter(|i| f(i))
            .cloned()
            .collect()
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The nice value of this process's proc connector listener thread.
fn listener_nice() -> Option<i64> {
    for t in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if std::fs::read_to_string(t.path().join("comm")).ok()?.trim() == "proc-connector" {
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            // Field 19 (nice); fields after the command name start at field 3.
            return rest.split_whitespace().nth(16)?.parse().ok();
        }
    }
    None
}

fn exe_is(item: &Item, exe: &str) -> bool {
    item.event.exe.as_deref() == Some(exe)
}

fn comm_is(item: &Item, comm: &str) -> bool {
    item.event.comm.as_deref() == Some(comm)
}

#[test]
fn kubernetes_container_events_carry_pod_namespace_name_and_profile() {
    if !can_run("kubernetes_container_events_carry_pod_namespace_name_and_profile") {
        return;
    }
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let runc = Runc::with_exe("/bin/busybox-attr-k8s").unwrap();
    let id = new_id("k8s");
    let spec = Spec::new(&["sleep", "600"])
        .seccomp(profile(&["uname", "getppid"], &[]))
        .cgroups_path(format!(
            "/kubepods/besteffort/pod{POD_UID}/cri-containerd-{id}"
        ))
        .annotation("io.kubernetes.cri.container-type", "container")
        .annotation("io.kubernetes.cri.container-name", "api")
        .annotation("io.kubernetes.cri.sandbox-name", "cart-7d9f8b6c5-x2k4q")
        .annotation("io.kubernetes.cri.sandbox-namespace", "shop")
        .annotation("io.kubernetes.cri.sandbox-uid", POD_UID)
        .annotation("io.kubernetes.cri.image-name", "shop/cart:1.4");
    let live = Live::start(&attribution_config(vec![runc.root()], tmp.path()));
    let c = runc.start(&id, &spec).unwrap();
    let (hash, json) = applied_hash(c.bundle());
    for _ in 0..3 {
        let out = c
            .exec(&[
                "sh",
                "-c",
                "uname >/dev/null; uname -a >/dev/null; sleep 0.2",
            ])
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let exe = runc.exe().to_string();
    let items = live.wait(6, Duration::from_secs(20), |i| {
        exe_is(i, &exe) && comm_is(i, "uname")
    });
    let ours: Vec<&Item> = items.iter().collect();
    let unames = ours.iter().filter(|i| comm_is(i, "uname")).count();
    assert!(unames >= 6, "uname records: {unames} of {}", ours.len());
    let all_ours: Vec<Item> = live
        .items
        .lock()
        .unwrap()
        .iter()
        .filter(|i| exe_is(i, &exe))
        .cloned()
        .collect();
    for item in &all_ours {
        let a = &item.attribution;
        assert!(a.attributed, "{:?}", item.event);
        let ci = a
            .container
            .as_ref()
            .unwrap_or_else(|| panic!("no container: {item:?}"));
        assert_eq!(ci.id, id);
        assert_eq!(ci.runtime, "containerd");
        assert_eq!(ci.pod.as_deref(), Some("cart-7d9f8b6c5-x2k4q"));
        assert_eq!(ci.namespace.as_deref(), Some("shop"));
        assert_eq!(ci.name.as_deref(), Some("api"));
        assert_eq!(ci.image.as_deref(), Some("shop/cart:1.4"));
        assert_eq!(ci.pod_uid.as_deref(), Some(POD_UID));
        assert_eq!(a.workload, "k8s:shop/cart/api");
        assert_eq!(
            a.profile_hash.as_deref(),
            Some(hash.as_str()),
            "applied profile"
        );
        assert_eq!(item.source, SourceKind::Netlink);
    }
    let profiles = live.profiles.lock().unwrap().clone();
    let mine: Vec<&ProfileBlob> = profiles.iter().filter(|p| p.hash == hash).collect();
    assert_eq!(mine.len(), 1, "the profile is handed to the store once");
    assert_eq!(mine[0].json, json);
    // Nothing else on the host was given this container.
    let others = live
        .items
        .lock()
        .unwrap()
        .iter()
        .filter(|i| !exe_is(i, &exe))
        .filter(|i| i.attribution.container.as_ref().is_some_and(|c| c.id == id))
        .count();
    assert_eq!(others, 0);
}

#[test]
fn docker_and_podman_shapes() {
    if !can_run("docker_and_podman_shapes") {
        return;
    }
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let docker_runc = Runc::with_exe("/bin/busybox-attr-docker").unwrap();
    let podman_runc = Runc::with_exe("/bin/busybox-attr-podman").unwrap();
    let (did, pid) = (new_id("docker"), new_id("podman"));
    // What Docker leaves in /var/lib/docker/containers/<id>/config.v2.json.
    let dj = tmp.path().join("docker").join(&did);
    std::fs::create_dir_all(&dj).unwrap();
    std::fs::write(
        dj.join("config.v2.json"),
        json!({"ID": did, "Name": "/web", "Config": {"Image": "nginx:1.25"}}).to_string(),
    )
    .unwrap();
    let live = Live::start(&attribution_config(
        vec![docker_runc.root(), podman_runc.root()],
        tmp.path(),
    ));

    let d = docker_runc
        .start(
            &did,
            &Spec::new(&["sleep", "600"])
                .seccomp(profile(&["uname"], &[]))
                .cgroups_path(format!("/docker/{did}")),
        )
        .unwrap();
    let (dhash, _) = applied_hash(d.bundle());
    assert!(d
        .exec(&["sh", "-c", "uname; sleep 0.2"])
        .unwrap()
        .status
        .success());
    // Podman's cgroupfs shape, run in the foreground (runc deletes it at the end).
    let out = podman_runc
        .run(
            &pid,
            &Spec::new(&["sh", "-c", "uname; uname; sleep 1"])
                .seccomp(profile(&["uname"], &[]))
                .cgroups_path(format!("/machine.slice/libpod-{pid}.scope")),
        )
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Linux"));

    let dexe = docker_runc.exe().to_string();
    let pexe = podman_runc.exe().to_string();
    let items = live.wait(3, Duration::from_secs(20), |i| {
        (exe_is(i, &dexe) || exe_is(i, &pexe)) && comm_is(i, "uname")
    });
    let ditems: Vec<&Item> = items.iter().filter(|i| exe_is(i, &dexe)).collect();
    let pitems: Vec<&Item> = items.iter().filter(|i| exe_is(i, &pexe)).collect();
    assert!(
        !ditems.is_empty() && pitems.len() >= 2,
        "docker {} podman {}",
        ditems.len(),
        pitems.len()
    );
    for i in ditems {
        let c = i.attribution.container.as_ref().expect("docker container");
        assert_eq!(
            (c.id.as_str(), c.runtime.as_str()),
            (did.as_str(), "docker")
        );
        assert_eq!(
            (c.name.as_deref(), c.image.as_deref()),
            (Some("web"), Some("nginx:1.25"))
        );
        assert_eq!(i.attribution.workload, "docker:nginx");
        assert_eq!(i.attribution.profile_hash.as_deref(), Some(dhash.as_str()));
    }
    for i in pitems {
        let c = i.attribution.container.as_ref().expect("podman container");
        assert_eq!(
            (c.id.as_str(), c.runtime.as_str()),
            (pid.as_str(), "podman")
        );
        assert_eq!(c.pod, None);
        assert!(i.attribution.attributed);
    }
}

#[test]
fn short_lived_and_killed_processes_are_attributed_by_the_connector() {
    if !can_run("short_lived_and_killed_processes_are_attributed_by_the_connector") {
        return;
    }
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let runc = Runc::with_exe("/bin/busybox-attr-short").unwrap();
    let id = new_id("short");
    let cfg = attribution_config(vec![runc.root()], tmp.path());
    let mut at = Attributor::new(&cfg);
    let _conn = at.spawn_proc_connector().expect("proc connector");
    assert_eq!(
        listener_nice(),
        Some(-10),
        "the listener runs ahead of ordinary work"
    );
    let reader = AuditReader::open();
    let c = runc
        .start(
            &id,
            &Spec::new(&["sleep", "600"])
                .seccomp(profile(&["uname"], &["sync"]))
                .cgroups_path(format!("/docker/{id}")),
        )
        .unwrap();
    // Each uname is a child of sh that exits at once; sync is killed by its profile.
    let out = c
        .exec(&[
            "sh",
            "-c",
            "uname >/dev/null; uname >/dev/null; uname >/dev/null; sync; sleep 0.2",
        ])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exe = runc.exe().to_string();
    let ours = |e: &Event| e.exe.as_deref() == Some(exe.as_str());
    let events = reader.read_until(Duration::from_secs(20), |evs| {
        evs.iter()
            .filter(|e| ours(e) && e.comm.as_deref() == Some("uname"))
            .count()
            >= 3
            && evs
                .iter()
                .any(|e| ours(e) && e.comm.as_deref() == Some("sync"))
    });
    let events: Vec<Event> = events.into_iter().filter(ours).collect();
    let short: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e.comm.as_deref(), Some("uname" | "sync")))
        .collect();
    assert!(short.len() >= 4, "{events:?}");
    let killed = short
        .iter()
        .find(|e| e.comm.as_deref() == Some("sync"))
        .expect("the killed process's record");
    assert_eq!(killed.sig, Some(31), "SIGSYS");
    // Every one of them has exited: only the connector can know them now.
    for e in &short {
        let alive = std::fs::read_to_string(format!("/proc/{}/comm", e.pid))
            .is_ok_and(|c| matches!(c.trim(), "uname" | "sync"));
        assert!(!alive, "pid {} still running", e.pid);
    }
    for e in &events {
        let (a, m) = at.attribute(e, true);
        assert!(a.attributed, "{e:?}");
        assert_eq!(
            a.container.as_ref().map(|c| c.id.as_str()),
            Some(id.as_str()),
            "{e:?}"
        );
        assert_eq!(
            a.container.as_ref().map(|c| c.runtime.as_str()),
            Some("docker")
        );
        assert!(a.profile_hash.is_some());
        if matches!(e.comm.as_deref(), Some("uname" | "sync")) {
            assert_eq!(m, Method::Connector, "{e:?}");
        }
    }
    // Without the connector the same records are not resolved (and never misattributed).
    let mut cfg2 = cfg.clone();
    cfg2.proc_connector = false;
    let mut blind = Attributor::new(&cfg2);
    for e in &short {
        let (a, m) = blind.attribute(e, true);
        assert!(!a.attributed && a.container.is_none(), "{a:?}");
        assert_eq!(m, Method::None);
        assert_eq!(a.workload, format!("exe:{exe}"));
    }
}

#[test]
fn two_containers_at_once_are_never_mixed_up() {
    if !can_run("two_containers_at_once_are_never_mixed_up") {
        return;
    }
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let ra = Runc::with_exe("/bin/busybox-attr-a").unwrap();
    let rb = Runc::with_exe("/bin/busybox-attr-b").unwrap();
    let (ida, idb) = (new_id("a"), new_id("b"));
    let live = Live::start(&attribution_config(vec![ra.root(), rb.root()], tmp.path()));
    let ca = ra
        .start(
            &ida,
            &Spec::new(&["sleep", "600"])
                .seccomp(profile(&["uname"], &[]))
                .cgroups_path(format!("/kubepods/burstable/pod{POD_UID}/{ida}"))
                .annotation("io.kubernetes.pod.name", "web-0")
                .annotation("io.kubernetes.pod.namespace", "shop")
                .annotation("io.kubernetes.container.name", "nginx"),
        )
        .unwrap();
    let cb = rb
        .start(
            &idb,
            &Spec::new(&["sleep", "600"])
                .seccomp(profile(&["uname", "getppid"], &[]))
                .cgroups_path(format!("/docker/{idb}")),
        )
        .unwrap();
    let script = "for i in 1 2 3 4 5 6 7 8; do uname >/dev/null; done; sleep 0.2";
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            (0..3).all(|_| {
                ca.exec(&["sh", "-c", script])
                    .is_ok_and(|o| o.status.success())
            })
        });
        let b = s.spawn(|| {
            (0..3).all(|_| {
                cb.exec(&["sh", "-c", script])
                    .is_ok_and(|o| o.status.success())
            })
        });
        assert!(a.join().unwrap() && b.join().unwrap());
    });
    let (ea, eb) = (ra.exe().to_string(), rb.exe().to_string());
    let items = live.wait(48, Duration::from_secs(30), |i| {
        (exe_is(i, &ea) || exe_is(i, &eb)) && comm_is(i, "uname")
    });
    let of = |exe: &str| items.iter().filter(|i| exe_is(i, exe)).collect::<Vec<_>>();
    let (ia, ib) = (of(&ea), of(&eb));
    assert!(
        ia.iter().filter(|i| comm_is(i, "uname")).count() >= 24,
        "A: {}",
        ia.len()
    );
    assert!(
        ib.iter().filter(|i| comm_is(i, "uname")).count() >= 24,
        "B: {}",
        ib.len()
    );
    for i in &ia {
        let c = i
            .attribution
            .container
            .as_ref()
            .unwrap_or_else(|| panic!("{i:?}"));
        assert_eq!((c.id.as_str(), c.runtime.as_str()), (ida.as_str(), "cri"));
        assert_eq!(i.attribution.workload, "k8s:shop/web/nginx");
    }
    for i in &ib {
        let c = i
            .attribution
            .container
            .as_ref()
            .unwrap_or_else(|| panic!("{i:?}"));
        assert_eq!(
            (c.id.as_str(), c.runtime.as_str()),
            (idb.as_str(), "docker")
        );
    }
    // B's profile also logs getppid (sh calls it at start): only B's processes may show it.
    let all = live.items.lock().unwrap().clone();
    for i in all
        .iter()
        .filter(|i| i.event.syscall() == Some("getppid") && (exe_is(i, &ea) || exe_is(i, &eb)))
    {
        assert!(exe_is(i, &eb), "A's profile does not log getppid: {i:?}");
    }
}

#[test]
fn host_process_gets_its_unit_or_exe() {
    if !root_or_skip("host_process_gets_its_unit_or_exe") {
        return;
    }
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("attr-host-demo");
    std::fs::copy(seccomp_demo(false), &demo).unwrap();
    let live = Live::start(&attribution_config(Vec::new(), tmp.path()));
    // The demo waits (-p) until it is told to call: a process that runs a while, as host
    // programs do (a process that exits within the listener's delay is the short-lived
    // test's subject).
    let mut child = std::process::Command::new(&demo)
        .args(["-a", "log", "-s", "uname", "-n", "3", "-p"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("ready "), "{line}");
    std::thread::sleep(Duration::from_millis(100));
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"go\n").unwrap();
    assert!(child.wait().unwrap().success());
    let exe = demo.to_string_lossy().into_owned();
    let items = live.wait(3, Duration::from_secs(20), |i| exe_is(i, &exe));
    assert!(items.len() >= 3, "{}", items.len());
    // The demo ran in this test's own cgroup.
    let own =
        parsers::cgroup::parse_proc_cgroup(&std::fs::read_to_string("/proc/self/cgroup").unwrap());
    assert!(
        own.container.is_none(),
        "this test must run on the host: {own:?}"
    );
    for i in &items {
        let a = &i.attribution;
        assert!(a.attributed);
        assert_eq!(a.container, None);
        assert_eq!(a.unit, own.unit);
        match &own.unit {
            Some(u) => assert_eq!(a.workload, format!("unit:{u}")),
            None => assert_eq!(a.workload, format!("exe:{exe}")),
        }
        assert_eq!(a.profile_hash, None);
    }
}
