//! Unit tests of the runtime metadata readers (attrib/runtime.rs) over state files written
//! as each runtime writes them.

use super::*;
use serde_json::json;

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn cfg(dir: &Path) -> AttributionConfig {
    AttributionConfig {
        runc_roots: vec![dir.join("runc"), dir.join("crun")],
        containerd_root: dir.join("containerd"),
        docker_root: dir.join("docker"),
        podman_root: dir.join("podman"),
        crio_root: dir.join("crio"),
        podman_db: dir.join("podman.db"),
        containerd_db: dir.join("meta.db"),
        rootless_podman_roots: vec![dir
            .join("home/{uid}/overlay-containers")
            .display()
            .to_string()],
        ..AttributionConfig::default()
    }
}

fn write(path: &Path, v: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

fn seccomp() -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_LOG"}]})
}

#[test]
fn containerd_cri_annotations_and_profile() {
    let d = tempfile::tempdir().unwrap();
    write(
        &d.path()
            .join("containerd/k8s.io")
            .join(ID)
            .join("config.json"),
        &json!({"ociVersion": "1.0.2", "linux": {"seccomp": seccomp()}, "annotations": {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": "api",
            "io.kubernetes.cri.image-name": "shop/cart:1.4",
            "io.kubernetes.cri.sandbox-name": "cart-7d9f8b6c5-x2k4q",
            "io.kubernetes.cri.sandbox-namespace": "shop",
            "io.kubernetes.cri.sandbox-uid": "1b2c3d4e-0000-4000-8000-00000000abcd"}}),
    );
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!(m.name.as_deref(), Some("api"));
    assert_eq!(m.image.as_deref(), Some("shop/cart:1.4"));
    assert_eq!(m.pod.as_deref(), Some("cart-7d9f8b6c5-x2k4q"));
    assert_eq!(m.namespace.as_deref(), Some("shop"));
    assert_eq!(
        m.pod_uid.as_deref(),
        Some("1b2c3d4e-0000-4000-8000-00000000abcd")
    );
    assert_eq!(m.found_in, Some("containerd"));
    assert!(!m.sandbox);
    let p = m.profile.unwrap();
    let compact = serde_json::to_string(&seccomp()).unwrap();
    assert_eq!(p.json, compact);
    assert_eq!(p.hash, sha256_hex(compact.as_bytes()));
    assert_eq!(p.hash.len(), 64);
}

#[test]
fn sandbox_is_pod() {
    let d = tempfile::tempdir().unwrap();
    write(
        &d.path()
            .join("containerd/k8s.io")
            .join(ID)
            .join("config.json"),
        &json!({"annotations": {"io.kubernetes.cri.container-type": "sandbox",
            "io.kubernetes.cri.sandbox-name": "web-0", "io.kubernetes.cri.sandbox-namespace": "shop"}}),
    );
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert!(m.sandbox);
    assert_eq!(m.name.as_deref(), Some("POD"));
    assert_eq!(m.profile, None);
}

#[test]
fn runc_state_to_bundle() {
    let d = tempfile::tempdir().unwrap();
    let bundle = d.path().join("bundle");
    write(
        &bundle.join("config.json"),
        &json!({"linux": {"seccomp": seccomp()}, "annotations": {"io.kubernetes.pod.name": "p"}}),
    );
    write(
        &d.path().join("runc").join(ID).join("state.json"),
        &json!({"id": ID, "config": {"labels": [format!("bundle={}", bundle.display()), "io.kubernetes.pod.namespace=ns", "io.kubernetes.pod.name=ignored"]}}),
    );
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!(m.found_in, Some("runc"));
    assert_eq!(
        m.pod.as_deref(),
        Some("p"),
        "config.json annotations win over labels"
    );
    assert_eq!(m.namespace.as_deref(), Some("ns"));
    assert!(m.profile.is_some());
}

#[test]
fn crun_status() {
    let d = tempfile::tempdir().unwrap();
    let bundle = d.path().join("b");
    write(
        &bundle.join("config.json"),
        &json!({"annotations": {"nerdctl/name": "web"}}),
    );
    write(
        &d.path().join("crun").join(ID).join("status"),
        &json!({"bundle": bundle.display().to_string(), "pid": 5}),
    );
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!(m.found_in, Some("crun"));
    assert_eq!(m.name.as_deref(), Some("web"));
}

#[test]
fn docker_name_image_and_cri_dockerd_labels() {
    let d = tempfile::tempdir().unwrap();
    write(
        &d.path().join("docker").join(ID).join("config.v2.json"),
        &json!({"ID": ID, "Name": "/web", "Image": "sha256:abc", "Config": {"Image": "nginx:1.25", "Labels": {}}}),
    );
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!(
        (m.name.as_deref(), m.image.as_deref(), m.found_in),
        (Some("web"), Some("nginx:1.25"), Some("docker"))
    );

    let id2 = "f".repeat(64);
    write(
        &d.path().join("docker").join(&id2).join("config.v2.json"),
        &json!({"Name": "/k8s_POD_web-0_shop_uid_0", "Config": {"Image": "registry.k8s.io/pause:3.9", "Labels": {
            "io.kubernetes.docker.type": "podsandbox", "io.kubernetes.pod.name": "web-0",
            "io.kubernetes.pod.namespace": "shop", "io.kubernetes.pod.uid": "u"}}}),
    );
    let m = read_meta(&cfg(d.path()), &id2).unwrap();
    assert!(m.sandbox);
    assert_eq!(m.pod.as_deref(), Some("web-0"));
    assert_eq!(m.name.as_deref(), Some("k8s_POD_web-0_shop_uid_0"));
}

#[test]
fn podman_userdata_and_storage() {
    let d = tempfile::tempdir().unwrap();
    write(
        &d.path()
            .join("podman")
            .join(ID)
            .join("userdata/config.json"),
        &json!({"annotations": {"io.container.manager": "libpod"}, "linux": {"seccomp": seccomp()}}),
    );
    let meta =
        json!({"image-name": "docker.io/library/alpine:latest", "name": "quirky"}).to_string();
    write(
        &d.path().join("crio/containers.json"),
        &json!([{"id": "x"}, {"id": ID, "names": ["quirky"], "metadata": meta}]),
    );
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!(m.found_in, Some("podman"));
    assert_eq!(m.name.as_deref(), Some("quirky"));
    assert_eq!(m.image.as_deref(), Some("docker.io/library/alpine:latest"));
    assert!(m.profile.is_some());
}

#[test]
fn crio_annotations() {
    let d = tempfile::tempdir().unwrap();
    write(
        &d.path().join("crio").join(ID).join("userdata/config.json"),
        &json!({"annotations": {"io.kubernetes.cri-o.ContainerType": "container", "io.kubernetes.cri-o.ImageName": "quay.io/x:1",
            "io.kubernetes.container.name": "c", "io.kubernetes.pod.name": "p-0", "io.kubernetes.pod.namespace": "n"}}),
    );
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!(m.found_in, Some("cri-o"));
    assert_eq!(
        (m.name.as_deref(), m.image.as_deref()),
        (Some("c"), Some("quay.io/x:1"))
    );
}

#[test]
fn nothing_found_unsafe_ids_and_garbage() {
    let d = tempfile::tempdir().unwrap();
    let c = cfg(d.path());
    assert_eq!(read_meta(&c, ID), None);
    assert_eq!(read_meta(&c, "../etc"), None);
    assert_eq!(read_meta(&c, "a/b"), None);
    let p = d.path().join("docker").join(ID).join("config.v2.json");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, b"{not json").unwrap();
    assert_eq!(read_meta(&c, ID), None);
}

#[test]
fn cgroups_path_claims() {
    use CgroupClaim::*;
    assert_eq!(
        claim_of_cgroups_path("/docker/x/"),
        Some(Path("/docker/x".into()))
    );
    assert_eq!(
        claim_of_cgroups_path("system.slice:docker:abc"),
        Some(Path("/system.slice/docker-abc.scope".into()))
    );
    assert_eq!(
        claim_of_cgroups_path("kubepods-besteffort-pod1_2.slice:cri-containerd:abc"),
        Some(Path(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1_2.slice/cri-containerd-abc.scope"
                .into()
        ))
    );
    assert_eq!(
        claim_of_cgroups_path(":libpod:abc"),
        Some(Path("/system.slice/libpod-abc.scope".into()))
    );
    assert_eq!(claim_of_cgroups_path("a/b"), Some(Relative("a/b".into())));
    assert_eq!(claim_of_cgroups_path(" "), None);
    let m = ContainerMeta {
        claims: vec![
            Path("/docker/x".into()),
            FsPath("/sys/fs/cgroup/pids/kubepods/pod1/y".into()),
        ],
        ..ContainerMeta::default()
    };
    assert!(m.confirms("/docker/x"));
    assert!(
        m.confirms("/docker/x/inner"),
        "a sub-cgroup of the container"
    );
    assert!(!m.confirms("/docker/xy"));
    assert!(!m.confirms("/user.slice/user-1000.slice/user@1000.service/docker/x"));
    assert!(m.confirms("/kubepods/pod1/y"));
    assert!(m.confirms("/kubepods/pod1/y/z"));
    assert!(!m.confirms("/evil/kubepods/pod1/y"));
    assert!(!m.confirms("/"));
    assert!(!ContainerMeta::default().confirms("/docker/x"));
}

#[test]
fn image_labels_are_no_identity_and_compose_labels_are() {
    let d = tempfile::tempdir().unwrap();
    let img = "1".repeat(64);
    write(
        &d.path()
            .join("image/overlay2/imagedb/content/sha256")
            .join(&img),
        &json!({"config": {"Labels": {"io.kubernetes.pod.namespace": "kube-system",
            "io.kubernetes.pod.name": "coredns-abc", "io.kubernetes.container.name": "coredns",
            "com.docker.compose.project": "infra", "com.docker.compose.service": "dns"}}}),
    );
    let labels = json!({"io.kubernetes.pod.namespace": "kube-system",
        "io.kubernetes.pod.name": "coredns-abc", "io.kubernetes.container.name": "coredns",
        "com.docker.compose.project": "infra", "com.docker.compose.service": "dns"});
    write(
        &d.path().join("docker").join(ID).join("config.v2.json"),
        &json!({"Name": "/x", "Driver": "overlay2", "Image": format!("sha256:{img}"),
            "Config": {"Image": "evil:1", "Labels": labels}}),
    );
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!((m.namespace, m.pod, m.compose), (None, None, None));
    assert_eq!(m.name.as_deref(), Some("x"));
    // The same labels set on the container (docker run --label) with other values are
    // the container's own.
    let mut own = labels.clone();
    own["com.docker.compose.project"] = json!("shop");
    own["com.docker.compose.service"] = json!("cart");
    write(
        &d.path().join("docker").join(ID).join("config.v2.json"),
        &json!({"Name": "/x", "Driver": "overlay2", "Image": format!("sha256:{img}"),
            "Config": {"Image": "evil:1", "Labels": own}}),
    );
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!(m.compose, Some(("shop".into(), "cart".into())));
    assert_eq!(m.namespace, None);
}

#[test]
fn docker_inline_profile_wins_over_the_bundles() {
    let d = tempfile::tempdir().unwrap();
    write(
        &d.path()
            .join("containerd/moby")
            .join(ID)
            .join("config.json"),
        &json!({"linux": {"cgroupsPath": format!("/docker/{ID}"), "seccomp": seccomp()}}),
    );
    let user = json!({"defaultAction": "SCMP_ACT_LOG", "archMap": [], "syscalls": []});
    write(
        &d.path().join("docker").join(ID).join("hostconfig.json"),
        &json!({"SecurityOpt": ["label=disable", format!("seccomp={user}")]}),
    );
    write(
        &d.path().join("docker").join(ID).join("config.v2.json"),
        &json!({"Name": "/web", "Config": {"Image": "nginx:1.25"}}),
    );
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!(m.found_in, Some("docker"));
    assert!(m.confirms(&format!("/docker/{ID}")));
    assert_eq!(
        m.profile.unwrap().json,
        serde_json::to_string(&user).unwrap()
    );
}

#[test]
fn podman_profile_file_only_when_trusted() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("SECCOMP_WATCH_REQUIRE_ROOT_TESTS").as_deref() != Ok("1"),
            "needs root (file owners)"
        );
        eprintln!("SKIP: needs root (file owners)");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("p.json");
    let user = json!({"defaultAction": "SCMP_ACT_LOG", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"}]});
    std::fs::write(&file, serde_json::to_vec_pretty(&user).unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let conf = d
        .path()
        .join("podman")
        .join(ID)
        .join("userdata/config.json");
    write(
        &conf,
        &json!({"annotations": {"io.container.manager": "libpod",
            "io.podman.annotations.seccomp": file.display().to_string()},
            "linux": {"seccomp": seccomp()}}),
    );
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!(
        m.profile.unwrap().json,
        serde_json::to_string(&user).unwrap()
    );
    // Podman under runc: found through runc's state naming Podman's bundle.
    write(
        &d.path().join("runc").join(ID).join("state.json"),
        &json!({"id": ID, "config": {"labels": [format!("bundle={}", conf.parent().unwrap().display())]}}),
    );
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!(m.found_in, Some("runc"));
    assert_eq!(
        m.profile.unwrap().json,
        serde_json::to_string(&user).unwrap()
    );
    // Writable by others: the bundle's profile.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!(
        m.profile.unwrap().json,
        serde_json::to_string(&seccomp()).unwrap()
    );
    // Changed after the container was made: the bundle's profile.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&file, serde_json::to_vec(&user).unwrap()).unwrap();
    let m = read_meta(&cfg(d.path()), ID).unwrap();
    assert_eq!(
        m.profile.unwrap().json,
        serde_json::to_string(&seccomp()).unwrap()
    );
}

#[test]
fn cache_retries_missing_after_backoff() {
    let d = tempfile::tempdir().unwrap();
    let mut cache = MetaCache::new(&cfg(d.path()), 100);
    assert!(cache.get(ID).is_none());
    assert!(cache.get(ID).is_none());
    assert_eq!(cache.reads, 1, "negative entry cached");
    write(
        &d.path().join("docker").join(ID).join("config.v2.json"),
        &json!({"Name": "/late"}),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        cache.get(ID).and_then(|m| m.name.clone()).as_deref(),
        Some("late")
    );
    assert_eq!(
        cache.get(ID).and_then(|m| m.name.clone()).as_deref(),
        Some("late")
    );
    assert_eq!(cache.reads, 2);
}
