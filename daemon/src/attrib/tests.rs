//! Attributor tests against a fake proc root and fake runtime state directories.

use serde_json::json;

use super::*;

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const POD_UID: &str = "1b2c3d4e-0000-4000-8000-00000000abcd";

struct Fake {
    dir: tempfile::TempDir,
    procfs: ProcFs,
    boot: i64,
}

impl Fake {
    fn new() -> Fake {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        Fake {
            procfs: ProcFs::new(dir.path().join("proc")),
            boot: boot_offset_ms(),
            dir,
        }
    }

    fn cfg(&self) -> AttributionConfig {
        let d = self.dir.path();
        AttributionConfig {
            enabled: true,
            proc_connector: false,
            runc_roots: vec![d.join("runc")],
            containerd_root: d.join("containerd"),
            docker_root: d.join("docker"),
            podman_root: d.join("podman"),
            crio_root: d.join("crio"),
            podman_db: d.join("podman.db"),
            containerd_db: d.join("meta.db"),
            proc_root: d.join("proc"),
            ..AttributionConfig::default()
        }
    }

    /// A process `pid` that started at realtime `start_ms` in cgroup `path` (v2 line); for
    /// a container-shaped path, the runc state of the container names the cgroup (as the
    /// runtime's own state does), so that attribution trusts it.
    fn proc(&self, pid: u32, start_ms: i64, path: &str) {
        self.proc_bare(pid, start_ms, path);
        let cg = parsers::cgroup::classify_path(path);
        if let Some(c) = cg.container {
            self.claim(&c.id, path);
        }
    }

    /// Adds `path` to the `cgroup_paths` of container `id`'s runc state (created if need be).
    fn claim(&self, id: &str, path: &str) {
        let state = self.dir.path().join("runc").join(id);
        std::fs::create_dir_all(&state).unwrap();
        let file = state.join("state.json");
        let mut st: serde_json::Value = std::fs::read(&file)
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_else(|| json!({"id": id, "config": {"labels": []}}));
        st["cgroup_paths"]["pids"] = json!(format!("/sys/fs/cgroup/pids{path}"));
        std::fs::write(&file, serde_json::to_vec(&st).unwrap()).unwrap();
    }

    /// [`Fake::proc`] without any runtime state.
    fn proc_bare(&self, pid: u32, start_ms: i64, path: &str) {
        let p = self.dir.path().join("proc").join(pid.to_string());
        std::fs::create_dir_all(&p).unwrap();
        let ticks = self.procfs.ms_to_ticks(start_ms, self.boot);
        let stat = format!("{pid} (sh) S 1 {pid} {pid} 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 {ticks} 1000 100 0\n");
        std::fs::write(p.join("stat"), stat).unwrap();
        std::fs::write(p.join("cgroup"), format!("0::{path}\n")).unwrap();
    }

    fn gone(&self, pid: u32) {
        let _ = std::fs::remove_dir_all(self.dir.path().join("proc").join(pid.to_string()));
    }

    /// A runc state dir for container `id` whose bundle has `annotations` and `seccomp`.
    fn runc(&self, id: &str, annotations: serde_json::Value, seccomp: Option<serde_json::Value>) {
        let bundle = self.dir.path().join("bundles").join(id);
        std::fs::create_dir_all(&bundle).unwrap();
        let mut cfg = json!({"ociVersion": "1.0.2", "annotations": annotations, "linux": {}});
        if let Some(s) = seccomp {
            cfg["linux"]["seccomp"] = s;
        }
        std::fs::write(
            bundle.join("config.json"),
            serde_json::to_vec(&cfg).unwrap(),
        )
        .unwrap();
        let state = self.dir.path().join("runc").join(id);
        std::fs::create_dir_all(&state).unwrap();
        let file = state.join("state.json");
        let mut st: serde_json::Value = std::fs::read(&file)
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_else(|| json!({"id": id}));
        st["config"]["labels"] = json!([format!("bundle={}", bundle.display())]);
        std::fs::write(&file, serde_json::to_vec(&st).unwrap()).unwrap();
    }
}

fn event(pid: u32, time_ms: i64) -> Event {
    Event {
        time_ms,
        serial: Some(1),
        node: None,
        audit_arch: 0xc000003e,
        syscall_nr: 63,
        code: 0x7ffc0000,
        pid,
        uid: Some(0),
        gid: Some(0),
        auid: None,
        ses: None,
        comm: Some("sh".into()),
        exe: Some("/bin/busybox".into()),
        subj: None,
        sig: Some(0),
        compat: false,
        ip: None,
        synthetic_key: None,
    }
}

fn container_id(a: &Attribution) -> Option<&str> {
    a.container.as_ref().map(|c| c.id.as_str())
}

#[test]
fn pid_reuse_never_goes_to_the_old_owner() {
    let f = Fake::new();
    let mut at = Attributor::new(&f.cfg());
    let base = now_ms();
    // Owner 1: container A, started a minute ago.
    f.proc(100, base - 60_000, &format!("/docker/{A}"));
    let (a, m) = at.attribute(&event(100, base - 50_000), true);
    assert_eq!((container_id(&a), m), (Some(A), Method::Procfs));
    // A record of owner 1 written before we looked still goes to owner 1 later on.
    let (a, _) = at.attribute(&event(100, base - 40_000), true);
    assert_eq!(container_id(&a), Some(A));

    // Owner 1 exits, the pid is reused by container B (start in the near future).
    f.proc(100, base + 1_000, &format!("/docker/{B}"));
    let (b, m) = at.attribute(&event(100, base + 2_000), true);
    assert_eq!((container_id(&b), m), (Some(B), Method::Procfs));
    // Late records from owner 1, handled after the reuse.
    let (late, m) = at.attribute(&event(100, base - 30_000), true);
    assert_eq!(
        container_id(&late),
        Some(A),
        "seen alive after the record: owner 1"
    );
    assert_eq!(m, Method::Procfs);
    // Between the last sighting of owner 1 and the start of owner 2: nobody knows.
    let (gap, m) = at.attribute(&event(100, base + 500), true);
    assert!(!gap.attributed, "{gap:?}");
    assert_eq!(gap.container, None);
    assert_eq!(m, Method::None);
    assert_eq!(gap.workload, "exe:/bin/busybox");
    // And owner 2 is still owner 2.
    let (b, _) = at.attribute(&event(100, base + 3_000), true);
    assert_eq!(container_id(&b), Some(B));
}

#[test]
fn record_older_than_the_current_process_is_not_its() {
    let f = Fake::new();
    let mut at = Attributor::new(&f.cfg());
    let base = now_ms();
    // Never saw the old owner; the pid now belongs to a process that started after the record.
    f.proc(200, base - 1_000, &format!("/docker/{B}"));
    let (a, m) = at.attribute(&event(200, base - 5_000), true);
    assert!(!a.attributed);
    assert_eq!(m, Method::None);
    // Within the clock slack of the start it is the new process's own record.
    let (a, _) = at.attribute(&event(200, base - 1_010), true);
    assert_eq!(container_id(&a), Some(B));
}

#[test]
fn known_pids_cost_no_file_reads_within_a_batch() {
    let f = Fake::new();
    let mut at = Attributor::new(&f.cfg());
    let base = now_ms();
    f.proc(300, base - 60_000, &format!("/docker/{A}"));
    f.proc(301, base - 60_000, "/system.slice/nginx.service");
    let events: Vec<Event> = (0..1000)
        .map(|i| event(300 + (i % 2), base - 1000 + i as i64 / 10))
        .collect();
    let out = at.enrich(SourceBatch {
        events,
        source: Some(SourceKind::Netlink),
        live: true,
        ..Default::default()
    });
    assert_eq!(out.items.len(), 1000);
    assert!(out.items.iter().all(|i| i.attribution.attributed));
    let s = at.stats();
    // Per pid: stat, cgroup, stat again (the pid must not change hands between the reads).
    assert_eq!((s.stat_reads, s.cgroup_reads), (4, 2), "{s:?}");
    // Next batch, same processes (old enough to be settled): one stat read each, no cgroup.
    let events: Vec<Event> = (0..1000)
        .map(|i| event(300 + (i % 2), now_ms() + 100))
        .collect();
    std::thread::sleep(Duration::from_millis(150));
    let out = at.enrich(SourceBatch {
        events,
        source: Some(SourceKind::Netlink),
        live: true,
        ..Default::default()
    });
    assert!(out.items.iter().all(|i| i.attribution.attributed));
    let s = at.stats();
    assert_eq!((s.stat_reads, s.cgroup_reads), (6, 2), "{s:?}");
    assert_eq!(s.meta_reads, 1, "one container: metadata looked up once");
}

#[test]
fn young_processes_are_read_again_until_settled() {
    // runc moves its init into the container's cgroup right after fork: a young process's
    // cgroup is not final.
    let f = Fake::new();
    let mut at = Attributor::new(&f.cfg());
    let base = now_ms();
    f.proc(310, base - 100, "/user.slice/session-1.scope");
    let (a, _) = at.attribute(&event(310, base - 50), true);
    assert_eq!(a.unit.as_deref(), Some("session-1.scope"));
    at.memo.clear();
    f.proc(310, base - 100, &format!("/docker/{A}"));
    let (a, _) = at.attribute(&event(310, base - 40), true);
    assert_eq!(container_id(&a), Some(A));
}

#[test]
fn container_metadata_profile_and_workload() {
    let f = Fake::new();
    let seccomp = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_LOG"}]});
    f.runc(
        A,
        json!({
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": "api",
            "io.kubernetes.cri.sandbox-name": "cart-7d9f8b6c5-x2k4q",
            "io.kubernetes.cri.sandbox-namespace": "shop",
            "io.kubernetes.cri.image-name": "shop/cart:1.4"
        }),
        Some(seccomp.clone()),
    );
    let mut at = Attributor::new(&f.cfg());
    let base = now_ms();
    f.proc(
        400,
        base - 60_000,
        &format!("/kubepods/besteffort/pod{POD_UID}/cri-containerd-{A}"),
    );
    f.proc(
        401,
        base - 60_000,
        &format!("/kubepods/besteffort/pod{POD_UID}/cri-containerd-{A}"),
    );
    let events = vec![
        event(400, base - 10),
        event(401, base - 5),
        event(400, base - 1),
    ];
    let out = at.enrich(SourceBatch {
        events,
        source: Some(SourceKind::Netlink),
        live: true,
        ..Default::default()
    });
    let hash = runtime::sha256_hex(serde_json::to_string(&seccomp).unwrap().as_bytes());
    for item in &out.items {
        let a = &item.attribution;
        let c = a.container.as_ref().expect("container");
        assert_eq!(c.id, A);
        assert_eq!(c.runtime, "containerd");
        assert_eq!(c.name.as_deref(), Some("api"));
        assert_eq!(c.pod.as_deref(), Some("cart-7d9f8b6c5-x2k4q"));
        assert_eq!(c.namespace.as_deref(), Some("shop"));
        assert_eq!(c.pod_uid.as_deref(), Some(POD_UID), "from the cgroup path");
        assert_eq!(c.image.as_deref(), Some("shop/cart:1.4"));
        assert_eq!(a.workload, "k8s:shop/cart/api");
        assert_eq!(a.profile_hash.as_deref(), Some(hash.as_str()));
        assert!(a.attributed);
        assert_eq!(a.unit, None);
        assert_eq!(item.source, SourceKind::Netlink);
    }
    assert_eq!(out.profiles.len(), 1, "the profile once");
    assert_eq!(out.profiles[0].hash, hash);
    let out = at.enrich(SourceBatch {
        events: vec![event(400, base)],
        live: true,
        ..Default::default()
    });
    assert!(out.profiles.is_empty(), "not again");
}

#[test]
fn metadata_written_after_first_sight_is_picked_up() {
    let f = Fake::new();
    let mut at = Attributor::new(&f.cfg());
    let base = now_ms();
    f.proc_bare(450, base - 60_000, &format!("/docker/{A}"));
    let (a, _) = at.attribute(&event(450, base - 10), true);
    assert_eq!(a.container, None, "a cgroup name alone is not trusted");
    assert!(a.attributed);
    f.claim(A, &format!("/docker/{A}"));
    std::fs::create_dir_all(f.dir.path().join("docker").join(A)).unwrap();
    std::fs::write(
        f.dir.path().join("docker").join(A).join("config.v2.json"),
        r#"{"Name": "/web", "Config": {"Image": "nginx:1.25"}}"#,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (a, _) = at.attribute(&event(450, base - 5), true);
    let c = a.container.expect("confirmed by runc's state");
    assert_eq!(
        (c.runtime.as_str(), c.name.as_deref()),
        ("docker", Some("web"))
    );
    assert_eq!(a.workload, "docker:nginx");
}

#[test]
fn user_owned_container_shapes_are_not_the_container() {
    // A user creates docker-<id>.scope in their own systemd manager's subtree, with the id
    // of a real container: not that container, even though its state exists.
    let f = Fake::new();
    let mut at = Attributor::new(&f.cfg());
    let base = now_ms();
    f.proc(460, base - 60_000, &format!("/docker/{A}"));
    let fake = format!("/user.slice/user-1000.slice/user@1000.service/docker-{A}.scope");
    f.proc_bare(461, base - 60_000, &fake);
    let (real, _) = at.attribute(&event(460, base - 10), true);
    assert_eq!(real.container.map(|c| c.id).as_deref(), Some(A));
    let (a, _) = at.attribute(&event(461, base - 10), true);
    assert_eq!(a.container, None);
    assert!(a.attributed);
    assert_eq!(
        a.unit.as_deref(),
        Some(format!("docker-{A}.scope").as_str())
    );
    assert_eq!(
        a.workload,
        format!("unit:user@1000.service/docker-{A}.scope")
    );
    // Even when the state names the user's cgroup (a root runtime would never do that),
    // a non-Podman shape under a user's manager is not a rootful container.
    f.claim(A, &fake);
    let mut at = Attributor::new(&f.cfg());
    let (a, _) = at.attribute(&event(461, base - 5), true);
    assert_eq!(a.container, None);
    // Elsewhere (a delegated service subtree), the state must name the cgroup.
    let other = format!("/system.slice/evil.service/docker-{B}.scope");
    f.proc_bare(462, base - 60_000, &other);
    f.claim(B, &format!("/docker/{B}"));
    let (a, _) = at.attribute(&event(462, base - 10), true);
    assert_eq!(a.container, None);
    assert_eq!(a.workload, format!("unit:docker-{B}.scope"));
}

#[test]
fn rootless_podman_is_that_users_from_that_users_state() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("SECCOMP_WATCH_REQUIRE_ROOT_TESTS").as_deref() != Ok("1"),
            "needs root (file owners)"
        );
        eprintln!("SKIP: needs root (file owners)");
        return;
    }
    use std::os::unix::fs::chown;
    let f = Fake::new();
    let uid = 4242u32;
    let path = format!(
        "/user.slice/user-{uid}.slice/user@{uid}.service/user.slice/libpod-{C}.scope/container"
    );
    f.proc_bare(470, now_ms() - 60_000, &path);
    let root = f.dir.path().join(format!("home/{uid}/overlay-containers"));
    let ud = root.join(C).join("userdata");
    std::fs::create_dir_all(&ud).unwrap();
    let cfgj = ud.join("config.json");
    std::fs::write(
        &cfgj,
        json!({"annotations": {"io.container.manager": "libpod", "io.kubernetes.pod.namespace": "kube-system", "io.kubernetes.pod.name": "x"},
               "linux": {"cgroupsPath": format!("user.slice:libpod:{C}"), "seccomp": {"defaultAction": "SCMP_ACT_LOG"}}})
        .to_string(),
    )
    .unwrap();
    let meta = json!({"image-name": "docker.io/library/nginx:1.25", "name": "web"}).to_string();
    let cj = root.join("containers.json");
    std::fs::write(
        &cj,
        json!([{"id": C, "names": ["web"], "metadata": meta}]).to_string(),
    )
    .unwrap();
    let mut cfg = f.cfg();
    cfg.rootless_podman_roots = vec![f
        .dir
        .path()
        .join("home/{uid}/overlay-containers")
        .display()
        .to_string()];
    // Files owned by root, not by the user: not that user's state.
    let mut at = Attributor::new(&cfg);
    let (a, _) = at.attribute(&event(470, now_ms() - 10), true);
    assert_eq!(a.container, None, "{a:?}");
    for p in [&cfgj, &cj] {
        chown(p, Some(uid), Some(uid)).unwrap();
    }
    let mut at = Attributor::new(&cfg);
    let (a, _) = at.attribute(&event(470, now_ms() - 5), true);
    let c = a.container.clone().expect("the user's container");
    assert_eq!((c.id.as_str(), c.runtime.as_str()), (C, "podman"));
    assert_eq!(c.name.as_deref(), Some("web"));
    assert_eq!(
        (c.namespace.as_deref(), c.pod.as_deref()),
        (None, None),
        "never Kubernetes"
    );
    assert_eq!(a.workload, format!("podman@{uid}:docker.io/library/nginx"));
    assert!(a.profile_hash.is_some());
    // A symlink to someone else's file is not followed.
    std::fs::remove_file(&cfgj).unwrap();
    let elsewhere = f.dir.path().join("elsewhere.json");
    std::fs::write(&elsewhere, "{}").unwrap();
    chown(&elsewhere, Some(uid), Some(uid)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &cfgj).unwrap();
    let mut at = Attributor::new(&cfg);
    let (a, _) = at.attribute(&event(470, now_ms() - 1), true);
    assert_eq!(a.container, None);
}

#[test]
fn hosts_units_monitors_and_gone_processes() {
    let f = Fake::new();
    let mut at = Attributor::new(&f.cfg());
    let base = now_ms();
    f.proc(500, base - 60_000, "/");
    f.proc(501, base - 60_000, "/system.slice/nginx.service");
    f.proc(
        502,
        base - 60_000,
        &format!("/machine.slice/libpod-conmon-{A}.scope"),
    );
    let (host, m) = at.attribute(&event(500, base), true);
    assert_eq!(
        (
            host.attributed,
            host.container.is_none(),
            host.unit.as_deref(),
            m
        ),
        (true, true, None, Method::Procfs)
    );
    assert_eq!(host.workload, "exe:/bin/busybox");
    let (unit, _) = at.attribute(&event(501, base), true);
    assert_eq!(
        (unit.unit.as_deref(), unit.workload.as_str()),
        (Some("nginx.service"), "unit:nginx.service")
    );
    let (mon, _) = at.attribute(&event(502, base), true);
    assert_eq!(mon.container, None, "conmon is not the container");
    assert_eq!(mon.unit, Some(format!("libpod-conmon-{A}.scope")));
    // A process never seen, gone before its record is handled (no connector): unresolved.
    f.gone(503);
    let (gone, m) = at.attribute(&event(503, base), true);
    assert_eq!((gone.attributed, m), (false, Method::None));
}

#[test]
fn mcs_categories_resolve_gone_processes() {
    let f = Fake::new();
    let mut at = Attributor::new(&f.cfg());
    let base = now_ms();
    f.proc(600, base - 60_000, &format!("/system.slice/crio-{A}.scope"));
    let mut ev = event(600, base - 10);
    ev.subj = Some("system_u:system_r:container_t:s0:c390,c427".into());
    let (a, m) = at.attribute(&ev, true);
    assert_eq!((container_id(&a), m), (Some(A), Method::Procfs));
    // Another process of the same container, gone and never seen: the label resolves it.
    let mut late = event(601, base - 5);
    late.subj = ev.subj.clone();
    let (a, m) = at.attribute(&late, true);
    assert_eq!((container_id(&a), m), (Some(A), Method::Mcs));
    assert_eq!(a.container.map(|c| c.runtime).as_deref(), Some("cri-o"));
    // Even from a historical import.
    let (a, m) = at.attribute(&late, false);
    assert_eq!((container_id(&a), m), (Some(A), Method::Mcs));
    // Another label: nothing.
    late.subj = Some("system_u:system_r:container_t:s0:c1,c2".into());
    let (a, m) = at.attribute(&late, true);
    assert_eq!((a.attributed, m), (false, Method::None));
}

#[test]
fn not_live_events_are_not_looked_up_and_are_counted_as_skipped() {
    let f = Fake::new();
    let mut at = Attributor::new(&f.cfg());
    let base = now_ms();
    f.proc(700, base - 60_000, &format!("/docker/{A}"));
    let before = metrics()
        .attribution
        .with_label_values(&["skipped", "none"])
        .get();
    let out = at.enrich(SourceBatch {
        events: vec![event(700, base)],
        source: Some(SourceKind::Ingest),
        live: false,
        ..Default::default()
    });
    assert!(!out.items[0].attribution.attributed);
    assert_eq!(at.stats().stat_reads, 0);
    let after = metrics()
        .attribution
        .with_label_values(&["skipped", "none"])
        .get();
    assert!(after > before);
}

#[test]
fn disabled_attribution_reads_nothing() {
    let f = Fake::new();
    let mut cfg = f.cfg();
    cfg.enabled = false;
    let mut at = Attributor::new(&cfg);
    f.proc(800, now_ms() - 60_000, &format!("/docker/{A}"));
    let (a, m) = at.attribute(&event(800, now_ms()), true);
    assert_eq!(
        (a.attributed, m, a.workload.as_str()),
        (false, Method::None, "exe:/bin/busybox")
    );
    assert_eq!(at.stats().stat_reads, 0);
    assert!(matches!(
        at.spawn_proc_connector(),
        Err(AttribError::Disabled)
    ));
}

#[test]
fn garbage_proc_files_do_not_panic() {
    let f = Fake::new();
    let mut at = Attributor::new(&f.cfg());
    let p = f.dir.path().join("proc/900");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("stat"), b"\xff\xfe garbage").unwrap();
    std::fs::write(p.join("cgroup"), b"\x00\x01").unwrap();
    let (a, _) = at.attribute(&event(900, now_ms()), true);
    assert!(!a.attributed);
    f.proc(901, now_ms() - 60_000, "/x");
    std::fs::write(
        f.dir.path().join("proc/901/cgroup"),
        b"not a cgroup file\n\xff",
    )
    .unwrap();
    let (a, _) = at.attribute(&event(901, now_ms()), true);
    assert!(
        a.attributed,
        "a process outside any recognised cgroup is the host's"
    );
    assert_eq!(a.container, None);
}

#[test]
fn stale_connector_entries_are_not_used_and_provisional_ones_are() {
    let f = Fake::new();
    let mut at = Attributor::new(&f.cfg());
    let base = now_ms();
    let cg = at.shared.intern(&format!("0::/docker/{A}\n"));
    f.claim(A, &format!("/docker/{A}"));
    let host = at.shared.intern("0::/\n");
    let entry = |cgroup: &Arc<CgroupAttribution>, stale: bool| Incarnation {
        start_ms: base - 1000,
        exit_ms: Some(base - 10),
        cgroup: cgroup.clone(),
        settled: false,
        stale,
        from_settled: false,
        origin: Origin::Connector,
        epoch: 0,
        used_ms: base,
        seen_ms: base - 10,
    };
    {
        let mut st = at.shared.state.lock().unwrap();
        // Forked (read then: the host), exec'd, gone before the read after exec.
        st.table.insert_new(1001, entry(&host, true));
        // Forked in the container, gone before any exec.
        st.table.insert_new(1002, entry(&cg, false));
    }
    let (a, m) = at.attribute(&event(1001, base - 20), true);
    assert_eq!((a.attributed, m), (false, Method::None), "{a:?}");
    let (a, m) = at.attribute(&event(1002, base - 20), true);
    assert_eq!((container_id(&a), m), (Some(A), Method::Connector));
}

#[test]
fn records_of_other_nodes_are_not_looked_up_here() {
    let f = Fake::new();
    let mut at = Attributor::new(&f.cfg());
    let base = now_ms();
    f.proc(1100, base - 60_000, &format!("/docker/{A}"));
    let mut ev = event(1100, base);
    ev.node = Some("some-other-host.example".into());
    assert!(
        at.attribute(&ev, true).0.attributed,
        "no node check unless asked"
    );
    let mut at = Attributor::from_config(&crate::config::Config {
        attribution: f.cfg(),
        node: Some("Cfg-Node".into()),
        ..Default::default()
    });
    let (a, m) = at.attribute(&ev, true);
    assert_eq!((a.attributed, m), (false, Method::None));
    assert_eq!(at.stats().stat_reads, 0);
    ev.node = Some("cfg-node".into());
    assert_eq!(
        container_id(&at.attribute(&ev, true).0),
        Some(A),
        "the config's node"
    );
    // This host's own name, and one added from the config, are local.
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length.
    assert_eq!(
        unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) },
        0
    );
    let end = buf.iter().position(|&b| b == 0).unwrap();
    ev.node = Some(String::from_utf8_lossy(&buf[..end]).into_owned());
    assert_eq!(container_id(&at.attribute(&ev, true).0), Some(A));
    ev.node = Some("127.0.0.1".into());
    assert_eq!(container_id(&at.attribute(&ev, true).0), Some(A));
    ev.node = Some("Audit-Name".into());
    assert!(!at.attribute(&ev, true).0.attributed);
    at.add_local_node("audit-name");
    assert_eq!(container_id(&at.attribute(&ev, true).0), Some(A));
}
