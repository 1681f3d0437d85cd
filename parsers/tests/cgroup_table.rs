//! Table tests for `parsers::cgroup`: one row per cgroup shape, plus a no-panic proptest.

use parsers::cgroup::{
    classify_path, parse_proc_cgroup, parse_proc_cgroup_bytes, CgroupAttribution, ContainerRef,
    Qos, Runtime, MAX_NESTING,
};
use proptest::prelude::*;

/// The id of the runc container in tests/fixtures (its cgroupsPath).
const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const ID2: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const POD: &str = "1b2c3d4e-0000-4000-8000-00000000abcd";
const POD_US: &str = "1b2c3d4e_0000_4000_8000_00000000abcd";

/// What a row expects; unset fields expect "nothing".
#[derive(Default, Clone)]
struct Want {
    runtime: Option<Runtime>,
    container: Option<(Runtime, &'static str)>,
    monitored: Option<(Runtime, &'static str)>,
    monitor: bool,
    pod: Option<&'static str>,
    qos: Option<Qos>,
    unit: Option<String>,
    uid: Option<u32>,
    nested: Option<Box<Want>>,
}

fn ctr(rt: Runtime, id: &'static str) -> Want {
    Want {
        runtime: Some(rt),
        container: Some((rt, id)),
        ..Want::default()
    }
}

fn mon(rt: Runtime, id: Option<&'static str>, unit: Option<&str>) -> Want {
    Want {
        runtime: Some(rt),
        monitor: true,
        monitored: id.map(|i| (rt, i)),
        unit: unit.map(str::to_string),
        ..Want::default()
    }
}

fn unit(u: &str) -> Want {
    Want {
        unit: Some(u.to_string()),
        ..Want::default()
    }
}

impl Want {
    fn pod(mut self, pod: &'static str, qos: Qos) -> Want {
        self.pod = Some(pod);
        self.qos = Some(qos);
        self
    }
    fn uid(mut self, uid: u32) -> Want {
        self.uid = Some(uid);
        self
    }
    fn nested(mut self, w: Want) -> Want {
        self.nested = Some(Box::new(w));
        self
    }
}

fn cref(x: Option<(Runtime, &str)>) -> Option<ContainerRef> {
    x.map(|(runtime, id)| ContainerRef {
        runtime,
        id: id.to_string(),
    })
}

fn check(name: &str, got: &CgroupAttribution, want: &Want) {
    assert_eq!(got.runtime, want.runtime, "{name}: runtime in {got:?}");
    assert_eq!(
        got.container,
        cref(want.container),
        "{name}: container in {got:?}"
    );
    assert_eq!(got.monitor, want.monitor, "{name}: monitor in {got:?}");
    assert_eq!(
        got.monitored,
        cref(want.monitored),
        "{name}: monitored in {got:?}"
    );
    assert_eq!(got.pod_uid.as_deref(), want.pod, "{name}: pod in {got:?}");
    assert_eq!(got.qos, want.qos, "{name}: qos in {got:?}");
    assert_eq!(got.unit, want.unit, "{name}: unit in {got:?}");
    assert_eq!(got.uid, want.uid, "{name}: uid in {got:?}");
    match (&got.nested, &want.nested) {
        (None, None) => {}
        (Some(g), Some(w)) => check(&format!("{name} (nested)"), g, w),
        (g, _) => panic!("{name}: nested {g:?}, want {}", want.nested.is_some()),
    }
}

fn s(x: &str) -> String {
    x.to_string()
}

/// One row a path shape: the path, then what it must give.
fn path_rows() -> Vec<(String, Want)> {
    use Runtime::*;
    let pod_slice = |qos: &str| format!("kubepods-{qos}-pod{POD_US}.slice");
    vec![
        // Docker
        (format!("/docker/{ID}"), ctr(Docker, ID)),
        (format!("/system.slice/docker-{ID}.scope"), ctr(Docker, ID)),
        (format!("system.slice:docker:{ID}"), ctr(Docker, ID)),
        (
            format!("/user.slice/user-1000.slice/user@1000.service/user.slice/docker-{ID}.scope"),
            ctr(Docker, ID).uid(1000),
        ),
        (format!("/ecs/0a1b2c3d4e5f40718293a4b5c6d7e8f9/{ID}"), ctr(Docker, ID)),
        // docker-in-docker: outermost wins, the inner one is nested
        (format!("/docker/{ID}/docker/{ID2}"), ctr(Docker, ID).nested(ctr(Docker, ID2))),
        (format!("/system.slice/docker-{ID}.scope/docker/{ID2}"), ctr(Docker, ID).nested(ctr(Docker, ID2))),
        // cgroup namespace view of a sibling
        (format!("/../../system.slice/docker-{ID}.scope"), ctr(Docker, ID)),
        // Podman
        (format!("/machine.slice/libpod-{ID}.scope"), ctr(Podman, ID)),
        (format!("/machine.slice/libpod-{ID}.scope/container"), ctr(Podman, ID)),
        (
            format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"),
            ctr(Podman, ID).uid(1000),
        ),
        (
            format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"),
            ctr(Podman, ID).uid(1000),
        ),
        (
            format!("/user.slice/user-1000.slice/user@1000.service/app.slice/redis.service/libpod-payload-{ID}"),
            ctr(Podman, ID).uid(1000),
        ),
        (format!("/system.slice/nginx.service/libpod-payload-{ID}"), ctr(Podman, ID)),
        (format!("/libpod_parent/libpod-{ID}"), ctr(Podman, ID)),
        (
            format!("/machine.slice/machine-libpod_pod_{ID2}.slice/libpod-{ID}.scope"),
            ctr(Podman, ID),
        ),
        (
            format!("/machine.slice/libpod-conmon-{ID}.scope"),
            mon(Podman, Some(ID), Some(&format!("libpod-conmon-{ID}.scope"))),
        ),
        (
            format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-{ID}.scope"),
            mon(Podman, Some(ID), Some(&format!("libpod-conmon-{ID}.scope"))).uid(1000),
        ),
        (s("/libpod_parent/conmon"), mon(Podman, None, None)),
        // containerd / CRI
        (
            format!("/kubepods/besteffort/pod{POD}/cri-containerd-{ID}"),
            ctr(Containerd, ID).pod(POD, Qos::BestEffort),
        ),
        (
            format!("/kubepods.slice/kubepods-besteffort.slice/{}/cri-containerd-{ID}.scope", pod_slice("besteffort")),
            ctr(Containerd, ID).pod(POD, Qos::BestEffort),
        ),
        (
            format!("/kubepods.slice/kubepods-burstable.slice/{}/cri-containerd-{ID}.scope", pod_slice("burstable")),
            ctr(Containerd, ID).pod(POD, Qos::Burstable),
        ),
        (
            format!("{}:cri-containerd:{ID}", pod_slice("besteffort")),
            ctr(Containerd, ID).pod(POD, Qos::BestEffort),
        ),
        (
            format!("/kubepods.slice/kubepods-besteffort.slice/{}:cri-containerd:{ID}", pod_slice("besteffort")),
            ctr(Containerd, ID).pod(POD, Qos::BestEffort),
        ),
        (format!("system.slice:cri-containerd:{ID}"), ctr(Containerd, ID)),
        (format!("/system.slice/cri-containerd-{ID}.scope"), ctr(Containerd, ID)),
        (format!("/kubepods/burstable/pod{POD}/{ID}"), ctr(Cri, ID).pod(POD, Qos::Burstable)),
        (format!("/kubepods/besteffort/pod{POD}/{ID}"), ctr(Cri, ID).pod(POD, Qos::BestEffort)),
        // guaranteed: no QoS level
        (format!("/kubepods/pod{POD}/{ID}"), ctr(Cri, ID).pod(POD, Qos::Guaranteed)),
        (
            format!("/kubepods.slice/kubepods-pod{POD_US}.slice/cri-containerd-{ID}.scope"),
            ctr(Containerd, ID).pod(POD, Qos::Guaranteed),
        ),
        // the pause (sandbox) container is just a container of the pod
        (format!("/kubepods/besteffort/pod{POD}/{ID2}"), ctr(Cri, ID2).pod(POD, Qos::BestEffort)),
        // a pod cgroup itself, no container
        (
            format!("/kubepods.slice/kubepods-burstable.slice/{}", pod_slice("burstable")),
            Want::default().pod(POD, Qos::Burstable),
        ),
        (
            s("/kubepods.slice/kubepods-besteffort.slice"),
            Want { qos: Some(Qos::BestEffort), ..Want::default() },
        ),
        // static pod: uid is a 32-hex hash
        (
            format!("/kubepods/burstable/pod0a1b2c3d4e5f60718293a4b5c6d7e8f9/{ID}"),
            ctr(Cri, ID).pod("0a1b2c3d4e5f60718293a4b5c6d7e8f9", Qos::Burstable),
        ),
        // custom cgroup root above kubepods
        (
            format!("/kubelet/kubepods/burstable/pod{POD}/{ID}"),
            ctr(Cri, ID).pod(POD, Qos::Burstable),
        ),
        // nested sub-cgroup of a container
        (
            format!("/kubepods.slice/kubepods-besteffort.slice/{}/cri-containerd-{ID}.scope/init", pod_slice("besteffort")),
            ctr(Containerd, ID).pod(POD, Qos::BestEffort),
        ),
        // kind: the node container inside which runs a pod
        (
            format!(
                "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-{}/cri-containerd-{ID}.scope",
                pod_slice("besteffort")
            ),
            ctr(Containerd, ID).pod(POD, Qos::BestEffort),
        ),
        (
            format!(
                "/system.slice/docker-{ID2}.scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-{}/cri-containerd-{ID}.scope",
                pod_slice("besteffort")
            ),
            ctr(Docker, ID2).nested(ctr(Containerd, ID).pod(POD, Qos::BestEffort)),
        ),
        // CRI-O
        (
            format!("/kubepods.slice/kubepods-burstable.slice/{}/crio-{ID}.scope", pod_slice("burstable")),
            ctr(CriO, ID).pod(POD, Qos::Burstable),
        ),
        (
            format!("/kubepods.slice/kubepods-burstable.slice/{}/crio-{ID}.scope/container", pod_slice("burstable")),
            ctr(CriO, ID).pod(POD, Qos::Burstable),
        ),
        (format!("/kubepods/burstable/pod{POD}/crio-{ID}"), ctr(CriO, ID).pod(POD, Qos::Burstable)),
        (format!("/kubepods/pod{POD}/crio-{ID}"), ctr(CriO, ID).pod(POD, Qos::Guaranteed)),
        (
            format!("/kubepods.slice/kubepods-burstable.slice/{}/crio-conmon-{ID}.scope", pod_slice("burstable")),
            mon(CriO, Some(ID), Some(&format!("crio-conmon-{ID}.scope"))).pod(POD, Qos::Burstable),
        ),
        (
            format!("/kubepods/besteffort/pod{POD}/crio-conmon-{ID}"),
            mon(CriO, Some(ID), None).pod(POD, Qos::BestEffort),
        ),
        (
            format!("/system.slice/crio-conmon-{ID}.scope"),
            mon(CriO, Some(ID), Some(&format!("crio-conmon-{ID}.scope"))),
        ),
        // nerdctl: systemd driver writes nerdctl-<id>.scope; cgroupfs uses containerd's /<ns>/<id>
        (format!("/system.slice/nerdctl-{ID}.scope"), ctr(Nerdctl, ID)),
        (format!("system.slice:nerdctl:{ID}"), ctr(Nerdctl, ID)),
        (
            format!("/user.slice/user-1000.slice/user@1000.service/user.slice/nerdctl-{ID}.scope"),
            ctr(Nerdctl, ID).uid(1000),
        ),
        (format!("/default/{ID}"), ctr(Containerd, ID)),
        (format!("/seccomp-watch-test/{ID}"), ctr(Containerd, ID)),
        (format!("/nerdctl/{ID}"), ctr(Containerd, ID)),
        // not shapes: no id is guessed
        (format!("/some/where/default/{ID}"), Want::default()),
        (format!("/-x/{ID}"), Want::default()),
        (format!("/system.slice/{ID}"), Want::default()),
        (format!("/system.slice/foo-{ID}.scope"), unit(&format!("foo-{ID}.scope"))),
        (format!("/docker/{}", ID.to_uppercase()), Want::default()),
        (format!("/docker/{}", &ID[1..]), Want::default()),
        (format!("/docker/{ID}0"), Want::default()),
        (format!("/system.slice/docker-{ID}x.scope"), unit(&format!("docker-{ID}x.scope"))),
        (format!("/kubepods/besteffort/podnotauid/{ID}"), Want { qos: Some(Qos::BestEffort), ..Want::default() }),
        // LXC
        (s("/lxc/c1"), ctr(Lxc, "c1")),
        (s("/lxc.payload.c1"), ctr(Lxc, "c1")),
        (s("/lxc.payload/c1"), ctr(Lxc, "c1")),
        (s("/lxc.payload.web-01.example"), ctr(Lxc, "web-01.example")),
        (s("/lxc.monitor.c1"), mon(Lxc, Some("c1"), None)),
        (s("/lxc.monitor/c1"), mon(Lxc, Some("c1"), None)),
        (s("/lxc.payload.c1/system.slice/nginx.service"), ctr(Lxc, "c1").nested(unit("nginx.service"))),
        (s("/lxc/100/ns/init.scope"), ctr(Lxc, "100").nested(unit("init.scope"))),
        (
            format!("/lxc.payload.k3s/kubepods/besteffort/pod{POD}/{ID}"),
            ctr(Lxc, "k3s").nested(ctr(Cri, ID).pod(POD, Qos::BestEffort)),
        ),
        (s("/lxc.payload."), Want::default()),
        (s("/lxc.pivot"), Want::default()),
        // systemd-nspawn and other machines
        (s(r"/machine.slice/machine-web\x2d1.scope/payload"), ctr(Nspawn, "web-1")),
        (s(r"/machine.slice/machine-web\x2d1.scope/supervisor"), mon(Nspawn, Some("web-1"), Some(r"machine-web\x2d1.scope"))),
        (s(r"/machine.slice/machine-qemu\x2d1\x2dvm.scope/libvirt"), unit(r"machine-qemu\x2d1\x2dvm.scope")),
        // systemd units
        (s("/system.slice/nginx.service"), unit("nginx.service")),
        (s("/system.slice/containerd.service"), unit("containerd.service")),
        (s("/system.slice/system-getty.slice/getty@tty1.service"), unit("getty@tty1.service")),
        (s("/user.slice/user-1000.slice/session-3.scope"), unit("session-3.scope").uid(1000)),
        (s("/user.slice/user-1000.slice/user@1000.service"), unit("user@1000.service").uid(1000)),
        (s("/user.slice/user-1000.slice/user@1000.service/init.scope"), unit("init.scope").uid(1000)),
        (
            s("/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/vte-spawn-4b1d.scope"),
            unit("vte-spawn-4b1d.scope").uid(1000),
        ),
        (s("/init.scope"), unit("init.scope")),
        (s("/system.slice/foo.service/sub/leaf"), unit("foo.service")),
        (s("/user.slice"), Want::default()),
        // host, empty, garbage
        (s("/"), Want::default()),
        (s(""), Want::default()),
        (s("//"), Want::default()),
        (s("/.."), Want::default()),
        (s("hello world"), Want::default()),
        (s(":::"), Want::default()),
        (s(".slice:x:"), Want::default()),
        (s("/\u{0}/\u{7f}\u{fffd}/docker"), Want::default()),
    ]
}

#[test]
fn every_path_shape() {
    let rows = path_rows();
    for (path, want) in &rows {
        let got = classify_path(path);
        check(path, &got, want);
        assert_eq!(&got.path, path, "path kept");
        // the same path as a v2 line and as a v1 line gives the same answer
        check(
            &format!("0::{path}"),
            &parse_proc_cgroup(&format!("0::{path}\n")),
            want,
        );
        check(
            &format!("v1 {path}"),
            &parse_proc_cgroup(&format!("1:name=systemd:{path}")),
            want,
        );
    }
    assert!(rows.len() > 80, "{} rows", rows.len());
}

#[test]
fn runc_fixture_cgroups_path() {
    // tests/fixtures/README.md: the runc container's linux.cgroupsPath.
    let a = classify_path(
        "/kubepods/besteffort/pod1b2c3d4e-0000-4000-8000-00000000abcd/cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    );
    assert_eq!(a.runtime, Some(Runtime::Containerd));
    assert_eq!(a.container_id(), Some(ID));
    assert_eq!(a.pod_uid.as_deref(), Some(POD));
    assert_eq!(a.qos.map(|q| q.name()), Some("besteffort"));
    assert!(!a.monitor && a.unit.is_none() && a.nested.is_none());
}

#[test]
fn nested_path_is_relative_to_the_container() {
    let a = classify_path(&format!("/docker/{ID}/docker/{ID2}/docker/{ID}"));
    let n1 = a.nested.as_deref().expect("first nesting");
    assert_eq!(n1.path, format!("/docker/{ID2}/docker/{ID}"));
    let n2 = n1.nested.as_deref().expect("second nesting");
    assert_eq!(n2.path, format!("/docker/{ID}"));
    assert_eq!(n2.container_id(), Some(ID));
    assert!(n2.nested.is_none());
}

#[test]
fn nesting_is_bounded() {
    let path = format!("/docker/{ID}").repeat(10_000);
    let mut a = classify_path(&path);
    let mut depth = 0;
    while let Some(n) = a.nested {
        assert_eq!(n.container_id(), Some(ID));
        a = *n;
        depth += 1;
    }
    assert_eq!(depth, MAX_NESTING);
}

#[test]
fn host_and_empty() {
    let root = parse_proc_cgroup("0::/\n");
    assert!(root.is_host());
    assert_eq!(root.path, "/");
    assert_eq!(root.unit, None);
    assert_eq!(root.container, None);
    let empty = parse_proc_cgroup("");
    assert_eq!(empty, CgroupAttribution::default());
    assert!(!empty.is_host());
    assert_eq!(
        parse_proc_cgroup("garbage\nmore: garbage\n"),
        CgroupAttribution::default()
    );
    assert!(!classify_path("/system.slice/nginx.service").is_host());
}

#[test]
fn v1_docker_cgroupfs_on_a_hybrid_host() {
    // cgroupfs docker on a hybrid host: the unified line shows where dockerd started it.
    let contents = format!(
        "12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n10:cpu,cpuacct:/docker/{ID}\n\
         9:devices:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/system.slice/containerd.service\n"
    );
    let a = parse_proc_cgroup(&contents);
    assert_eq!(a.container_id(), Some(ID));
    assert_eq!(a.runtime, Some(Runtime::Docker));
    assert_eq!(a.path, format!("/docker/{ID}"));
    assert_eq!(a.unit, None);
}

#[test]
fn v1_systemd_driver_podman() {
    let contents = format!(
        "11:cpuset:/\n10:memory:/machine.slice/libpod-{ID}.scope\n\
         3:cpu,cpuacct:/machine.slice/libpod-{ID}.scope\n1:name=systemd:/machine.slice/libpod-{ID}.scope\n"
    );
    let a = parse_proc_cgroup(&contents);
    assert_eq!(a.container_id(), Some(ID));
    assert_eq!(a.runtime, Some(Runtime::Podman));
}

#[test]
fn ties_go_to_the_v2_line_then_name_systemd() {
    let a = parse_proc_cgroup("4:memory:/system.slice/a.service\n0::/system.slice/b.service\n");
    assert_eq!(a.unit.as_deref(), Some("b.service"));
    let b = parse_proc_cgroup(
        "4:memory:/system.slice/a.service\n1:name=systemd:/system.slice/c.service\n",
    );
    assert_eq!(b.unit.as_deref(), Some("c.service"));
    let c = parse_proc_cgroup(
        "9:cpuset:/system.slice/a.service\n4:cpu,cpuacct:/system.slice/d.service\n",
    );
    assert_eq!(c.unit.as_deref(), Some("d.service"));
    // more information beats line priority
    let d = parse_proc_cgroup(&format!("0::/\n7:pids:/kubepods/burstable/pod{POD}/{ID}\n"));
    assert_eq!(d.container_id(), Some(ID));
    assert_eq!(d.pod_uid.as_deref(), Some(POD));
    // a monitor beats a unit, a container beats a monitor
    let e = parse_proc_cgroup(&format!(
        "0::/system.slice/x.service\n3:memory:/machine.slice/libpod-conmon-{ID}.scope\n"
    ));
    assert!(e.monitor);
    let f = parse_proc_cgroup(&format!(
        "0::/machine.slice/libpod-conmon-{ID}.scope\n3:memory:/machine.slice/libpod-{ID2}.scope\n"
    ));
    assert_eq!(f.container_id(), Some(ID2));
}

#[test]
fn crlf_and_bare_path_lines() {
    let a = parse_proc_cgroup(&format!("0::/system.slice/docker-{ID}.scope\r\n"));
    assert_eq!(a.container_id(), Some(ID));
    assert_eq!(a.path, format!("/system.slice/docker-{ID}.scope"));
    let b = parse_proc_cgroup(&format!("/docker/{ID}\n"));
    assert_eq!(b.container_id(), Some(ID));
}

#[test]
fn paths_with_colons_stay_whole() {
    let a = parse_proc_cgroup(&format!(
        "0::/kubepods-besteffort-pod{POD_US}.slice:cri-containerd:{ID}\n"
    ));
    assert_eq!(
        a.path,
        format!("/kubepods-besteffort-pod{POD_US}.slice:cri-containerd:{ID}")
    );
    assert_eq!(a.runtime, Some(Runtime::Containerd));
    assert_eq!(a.pod_uid.as_deref(), Some(POD));
}

#[test]
fn not_utf8() {
    let a = parse_proc_cgroup_bytes(b"0::/docker/\xff\xfe\n");
    assert_eq!(a.container, None);
    assert_eq!(a.path, "/docker/\u{fffd}\u{fffd}");
    let mut bytes = format!("12:pids:/docker/{ID}\n").into_bytes();
    bytes.extend_from_slice(b"\xff\xc3\n0::/sys\xe2\x82tem.slice/\xff\n");
    let b = parse_proc_cgroup_bytes(&bytes);
    assert_eq!(b.container_id(), Some(ID));
    // an LXC name is taken as written (here with U+FFFD)
    let c = parse_proc_cgroup_bytes(b"0::/lxc.payload.c\xff\n");
    assert_eq!(c.container_id(), Some("c\u{fffd}"));
}

#[test]
fn very_long_lines() {
    let long = format!("0::/{}docker-{ID}.scope\n", "a.slice/".repeat(200_000));
    let a = parse_proc_cgroup(&long);
    assert_eq!(a.container_id(), Some(ID));
    let junk = format!("0::/{}\n", "x".repeat(5_000_000));
    let b = parse_proc_cgroup(&junk);
    assert_eq!(b.container, None);
    assert_eq!(b.path.len(), 5_000_001);
    let colons = ":".repeat(1_000_000);
    assert_eq!(parse_proc_cgroup(&colons).container, None);
}

#[test]
fn user_manager_units() {
    let a = classify_path("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service");
    assert_eq!(a.unit.as_deref(), Some("foo.service"));
    assert!(a.in_user_manager());
    assert!(!classify_path("/user.slice/user-1000.slice/session-3.scope").in_user_manager());
    assert!(!classify_path("/user.slice/user-1000.slice/user@1000.service").in_user_manager());
    assert!(!classify_path("/system.slice/foo.service").in_user_manager());
}

#[test]
fn json_shape() {
    let a = classify_path(&format!("/kubepods/besteffort/pod{POD}/crio-conmon-{ID}"));
    let v = serde_json::to_value(&a).expect("serialises");
    assert_eq!(v["runtime"], "cri-o");
    assert_eq!(v["monitor"], true);
    assert_eq!(v["container"], serde_json::Value::Null);
    assert_eq!(v["monitored"]["id"], ID);
    assert_eq!(v["monitored"]["runtime"], "cri-o");
    assert_eq!(v["qos"], "besteffort");
    assert_eq!(v["pod_uid"], POD);
    let back: CgroupAttribution = serde_json::from_value(v).expect("deserialises");
    assert_eq!(back, a);
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(s("docker")),
        Just(s("kubepods")),
        Just(s("besteffort")),
        Just(s("lxc")),
        Just(s("lxc.monitor")),
        Just(s("default")),
        Just(s("..")),
        Just(s("")),
        Just(format!("pod{POD}")),
        Just(format!("kubepods-burstable-pod{POD_US}.slice")),
        Just(ID.to_string()),
        Just(format!("cri-containerd-{ID}.scope")),
        Just(format!("libpod-conmon-{ID}.scope")),
        Just(format!("system.slice:crio:{ID}")),
        Just(s("user@1000.service")),
        Just(s("machine-x.scope")),
        Just(s("payload")),
        "[a-z0-9_.:@-]{0,12}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_input_never_panics(input in any::<String>(), bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_proc_cgroup(&input);
        let _ = classify_path(&input);
        let _ = parse_proc_cgroup_bytes(&bytes);
    }

    #[test]
    fn pathish_input_keeps_invariants(parts in proptest::collection::vec(token(), 0..12), prefix in "[0-9]{0,2}:[a-z=,]{0,12}:") {
        let path = format!("/{}", parts.join("/"));
        for a in [classify_path(&path), parse_proc_cgroup(&format!("{prefix}{path}\n"))] {
            let mut cur = Some(&a);
            while let Some(x) = cur {
                if let Some(c) = &x.container {
                    prop_assert!(!x.monitor);
                    prop_assert!(x.unit.is_none());
                    prop_assert_eq!(x.runtime, Some(c.runtime));
                    if c.runtime != Runtime::Nspawn {
                        prop_assert!(path.contains(&c.id));
                    }
                    if !matches!(c.runtime, Runtime::Lxc | Runtime::Nspawn) {
                        prop_assert_eq!(c.id.len(), 64);
                        prop_assert!(c.id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
                    }
                }
                if x.monitor {
                    prop_assert!(x.container.is_none());
                    prop_assert!(x.runtime.is_some());
                }
                if let Some(p) = &x.pod_uid {
                    prop_assert!(!p.contains('_'));
                    prop_assert!(x.qos.is_some());
                }
                cur = x.nested.as_deref();
            }
        }
    }
}
