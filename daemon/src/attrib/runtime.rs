//! Container metadata from what the runtimes leave on disk (no daemon API, no socket):
//! name, image, Kubernetes pod, namespace and container name, and the applied seccomp
//! profile (the `linux.seccomp` object of the OCI `config.json`).
//!
//! Where it is looked for, for a container id (the roots come from [`AttributionConfig`]):
//!
//! | file | what it gives |
//! | --- | --- |
//! | `<containerd_root>/<namespace>/<id>/config.json` (containerd's v2 task bundles) | OCI config: annotations, seccomp |
//! | `<runc_root>/<id>/state.json` (runc; Docker's `/run/docker/runtime-runc/moby`, containerd's `/run/containerd/runc/<ns>`) | the bundle (label `bundle=`), the annotations (runc keeps them as `key=value` labels), then `<bundle>/config.json` |
//! | `<runc_root>/<id>/status` and `<runc_root>/<id>/config.json` (crun) | the bundle, the OCI config |
//! | `<podman_root>/<id>/userdata/config.json`, `<crio_root>/<id>/userdata/config.json` | OCI config (Podman, CRI-O) |
//! | `<docker_root>/<id>/config.v2.json` | Docker's `Name`, `Config.Image`, `Config.Labels` (cri-dockerd's Kubernetes labels) |
//! | `containers.json` in the Podman and CRI-O roots (containers/storage) | names, `image-name`, `pod-name` |
//!
//! Annotations and labels read: `io.kubernetes.pod.name`, `io.kubernetes.pod.namespace`,
//! `io.kubernetes.pod.uid`, `io.kubernetes.container.name`, containerd's
//! `io.kubernetes.cri.sandbox-name`, `-namespace`, `-uid`, `io.kubernetes.cri.container-name`,
//! `io.kubernetes.cri.image-name`, `io.kubernetes.cri.container-type`, CRI-O's
//! `io.kubernetes.cri-o.ImageName`, `io.kubernetes.cri-o.ContainerType`, cri-dockerd's
//! `io.kubernetes.docker.type`, nerdctl's `nerdctl/name`. A pod's sandbox (pause) container is
//! named `POD` (the kubelet's own name for it).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::AttributionConfig;
use crate::pipeline::ProfileBlob;

/// Config files larger than this are not read.
const MAX_FILE: u64 = 16 << 20;

/// What the runtime's files say about one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerMeta {
    pub name: Option<String>,
    pub image: Option<String>,
    pub pod: Option<String>,
    pub namespace: Option<String>,
    pub pod_uid: Option<String>,
    /// The container is a pod's sandbox (pause container).
    pub sandbox: bool,
    /// Which runtime's files were found first: `containerd`, `runc`, `crun`, `podman`,
    /// `cri-o` or `docker`.
    pub found_in: Option<&'static str>,
    /// The applied `linux.seccomp` profile, when the container has one.
    pub profile: Option<Arc<ProfileBlob>>,
}

/// The profile blob (compact JSON, SHA-256) of a `linux.seccomp` value.
pub fn profile_blob(seccomp: &Value) -> Option<ProfileBlob> {
    let json = serde_json::to_string(seccomp).ok()?;
    let hash = sha256_hex(json.as_bytes());
    Some(ProfileBlob { hash, json })
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// An id safe to use as one path component.
fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

thread_local! {
    /// Set when a read of this thread's current lookup met a permission error.
    static DENIED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Notes a permission error (the lookup is then counted as unreadable).
fn note_denied(e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        DENIED.with(|d| d.set(true));
    }
}

/// The configured runtime state directories that exist but cannot be read by this process
/// (a service user without CAP_DAC_READ_SEARCH): their containers get no metadata.
pub fn unreadable_roots(cfg: &AttributionConfig) -> Vec<(PathBuf, std::io::Error)> {
    let mut roots: Vec<&PathBuf> = cfg.runc_roots.iter().collect();
    roots.extend([
        &cfg.containerd_root,
        &cfg.docker_root,
        &cfg.podman_root,
        &cfg.crio_root,
    ]);
    roots
        .into_iter()
        .filter_map(|r| match std::fs::read_dir(r) {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Some((r.clone(), e)),
            _ => None,
        })
        .collect()
}

fn read_json(path: &Path) -> Option<Value> {
    let meta = std::fs::metadata(path).inspect_err(note_denied).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    let data = std::fs::read(path).inspect_err(note_denied).ok()?;
    serde_json::from_slice(&data).ok()
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The OCI config found for a container, and where.
struct OciConfig {
    annotations: BTreeMap<String, String>,
    seccomp: Option<Value>,
    found_in: &'static str,
}

fn oci_from(v: &Value, found_in: &'static str) -> OciConfig {
    let annotations = v
        .get("annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let seccomp = v
        .get("linux")
        .and_then(|l| l.get("seccomp"))
        .filter(|s| s.is_object())
        .cloned();
    OciConfig {
        annotations,
        seccomp,
        found_in,
    }
}

/// containerd's task bundles: `<root>/<namespace>/<id>/config.json`.
fn from_containerd(root: &Path, id: &str) -> Option<OciConfig> {
    let rd = std::fs::read_dir(root).inspect_err(note_denied).ok()?;
    for ns in rd.flatten() {
        let p = ns.path().join(id).join("config.json");
        if let Some(v) = read_json(&p) {
            return Some(oci_from(&v, "containerd"));
        }
    }
    None
}

/// runc (`state.json`) or crun (`status`, `config.json`) state under `root`.
fn from_runc_root(root: &Path, id: &str) -> Option<OciConfig> {
    let dir = root.join(id);
    if let Some(state) = read_json(&dir.join("state.json")) {
        // runc keeps the bundle and the annotations as "key=value" labels.
        let mut labels = BTreeMap::new();
        if let Some(ls) = state
            .get("config")
            .and_then(|c| c.get("labels"))
            .and_then(Value::as_array)
        {
            for l in ls.iter().filter_map(Value::as_str) {
                if let Some((k, v)) = l.split_once('=') {
                    labels.insert(k.to_string(), v.to_string());
                }
            }
        }
        let bundle = labels.remove("bundle");
        let mut oci = bundle
            .and_then(|b| read_json(&PathBuf::from(b).join("config.json")))
            .map(|v| oci_from(&v, "runc"))
            .unwrap_or(OciConfig {
                annotations: BTreeMap::new(),
                seccomp: None,
                found_in: "runc",
            });
        for (k, v) in labels {
            oci.annotations.entry(k).or_insert(v);
        }
        return Some(oci);
    }
    // crun: a `status` file naming the bundle, and a copy of config.json.
    let status = read_json(&dir.join("status"));
    let own = read_json(&dir.join("config.json"));
    let from_bundle = || {
        status
            .as_ref()
            .and_then(|s| str_of(s, "bundle"))
            .and_then(|b| read_json(&PathBuf::from(b).join("config.json")))
    };
    own.or_else(from_bundle).map(|v| oci_from(&v, "crun"))
}

/// containers/storage userdata (Podman, CRI-O).
fn from_userdata(root: &Path, id: &str, default: &'static str) -> Option<OciConfig> {
    let v = read_json(&root.join(id).join("userdata").join("config.json"))?;
    let mut oci = oci_from(&v, default);
    if oci
        .annotations
        .get("io.container.manager")
        .map(String::as_str)
        == Some("libpod")
    {
        oci.found_in = "podman";
    } else if oci
        .annotations
        .keys()
        .any(|k| k.starts_with("io.kubernetes.cri-o."))
    {
        oci.found_in = "cri-o";
    }
    Some(oci)
}

/// What Docker's `config.v2.json` says.
struct DockerInfo {
    name: Option<String>,
    image: Option<String>,
    labels: BTreeMap<String, String>,
}

/// Docker's `config.v2.json`: name, image, labels.
fn from_docker(root: &Path, id: &str) -> Option<DockerInfo> {
    let v = read_json(&root.join(id).join("config.v2.json"))?;
    let name = str_of(&v, "Name")
        .map(|n| n.trim_start_matches('/').to_string())
        .filter(|n| !n.is_empty());
    let cfg = v.get("Config");
    let image = cfg.and_then(|c| str_of(c, "Image"));
    let labels = cfg
        .and_then(|c| c.get("Labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Some(DockerInfo {
        name,
        image,
        labels,
    })
}

/// containers/storage's `containers.json` entry of `id`: first name, and its metadata.
fn from_storage(root: &Path, id: &str) -> Option<(Option<String>, Value)> {
    let v = read_json(&root.join("containers.json"))?;
    let entry = v
        .as_array()?
        .iter()
        .find(|e| e.get("id").and_then(Value::as_str) == Some(id))?;
    let name = entry
        .get("names")
        .and_then(Value::as_array)
        .and_then(|n| n.first())
        .and_then(Value::as_str)
        .map(str::to_string);
    let meta = entry
        .get("metadata")
        .and_then(Value::as_str)
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
        .unwrap_or(Value::Null);
    Some((name, meta))
}

fn first<'a>(m: &'a BTreeMap<String, String>, keys: &[&str]) -> Option<&'a String> {
    keys.iter()
        .find_map(|k| m.get(*k).filter(|v| !v.is_empty()))
}

/// Reads everything the roots hold about container `id`; `None` when nothing was found.
pub fn read_meta(cfg: &AttributionConfig, id: &str) -> Option<ContainerMeta> {
    if !safe_id(id) {
        return None;
    }
    let oci = from_containerd(&cfg.containerd_root, id)
        .or_else(|| cfg.runc_roots.iter().find_map(|r| from_runc_root(r, id)))
        .or_else(|| from_userdata(&cfg.podman_root, id, "podman"))
        .or_else(|| from_userdata(&cfg.crio_root, id, "cri-o"));
    let docker = from_docker(&cfg.docker_root, id);
    let storage = from_storage(&cfg.crio_root, id).or_else(|| from_storage(&cfg.podman_root, id));
    if oci.is_none() && docker.is_none() && storage.is_none() {
        return None;
    }

    let mut ann = oci
        .as_ref()
        .map(|o| o.annotations.clone())
        .unwrap_or_default();
    if let Some(d) = &docker {
        for (k, v) in &d.labels {
            ann.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let sandbox = first(
        &ann,
        &[
            "io.kubernetes.cri.container-type",
            "io.kubernetes.cri-o.ContainerType",
        ],
    )
    .is_some_and(|t| t == "sandbox")
        || ann
            .get("io.kubernetes.docker.type")
            .is_some_and(|t| t == "podsandbox");
    let mut m = ContainerMeta {
        pod: first(
            &ann,
            &["io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"],
        )
        .cloned(),
        namespace: first(
            &ann,
            &[
                "io.kubernetes.pod.namespace",
                "io.kubernetes.cri.sandbox-namespace",
            ],
        )
        .cloned(),
        pod_uid: first(
            &ann,
            &["io.kubernetes.pod.uid", "io.kubernetes.cri.sandbox-uid"],
        )
        .cloned(),
        name: first(
            &ann,
            &[
                "io.kubernetes.container.name",
                "io.kubernetes.cri.container-name",
                "nerdctl/name",
            ],
        )
        .cloned(),
        image: first(
            &ann,
            &[
                "io.kubernetes.cri.image-name",
                "io.kubernetes.cri-o.ImageName",
            ],
        )
        .cloned(),
        sandbox,
        found_in: oci.as_ref().map(|o| o.found_in),
        profile: oci
            .as_ref()
            .and_then(|o| o.seccomp.as_ref())
            .and_then(profile_blob)
            .map(Arc::new),
    };
    if let Some(d) = docker {
        // cri-dockerd names containers k8s_<container>_<pod>_...: the labels say it better.
        if m.name.is_none() {
            m.name = d.name;
        }
        if m.image.is_none() {
            m.image = d.image;
        }
        if m.found_in.is_none() || m.found_in == Some("runc") || m.found_in == Some("containerd") {
            m.found_in = Some("docker");
        }
    }
    if let Some((name, meta)) = storage {
        if m.name.is_none() {
            m.name = str_of(&meta, "name").or(name);
        }
        if m.image.is_none() {
            m.image = str_of(&meta, "image-name");
        }
        if m.pod.is_none() {
            m.pod = str_of(&meta, "pod-name");
        }
        if m.found_in.is_none() {
            m.found_in = Some("podman");
        }
    }
    if m.sandbox && m.name.is_none() {
        m.name = Some("POD".to_string());
    }
    Some(m)
}

struct CacheEntry {
    meta: Option<Arc<ContainerMeta>>,
    next_try: Instant,
    backoff: Duration,
}

/// Metadata per container id: read when an id is first seen; when nothing was found, read
/// again after a backoff (250 ms, doubling up to a minute: the runtime may not have written
/// its files yet).
pub struct MetaCache {
    cfg: AttributionConfig,
    entries: HashMap<String, CacheEntry>,
    max: usize,
    /// Metadata file reads done (for tests and the bench).
    pub reads: u64,
}

impl MetaCache {
    pub fn new(cfg: &AttributionConfig, max: usize) -> MetaCache {
        MetaCache {
            cfg: cfg.clone(),
            entries: HashMap::new(),
            max,
            reads: 0,
        }
    }

    /// The metadata of container `id`, reading the runtime's files when needed.
    pub fn get(&mut self, id: &str) -> Option<Arc<ContainerMeta>> {
        let now = Instant::now();
        if let Some(e) = self.entries.get(id) {
            if e.meta.is_some() || now < e.next_try {
                return e.meta.clone();
            }
        }
        self.reads += 1;
        DENIED.with(|d| d.set(false));
        let meta = read_meta(&self.cfg, id).map(Arc::new);
        if DENIED.with(|d| d.get()) {
            crate::metrics::metrics().runtime_state_unreadable.inc();
        }
        if self.entries.len() >= self.max && !self.entries.contains_key(id) {
            // Forget containers that were never found first, then everything.
            self.entries.retain(|_, e| e.meta.is_some());
            if self.entries.len() >= self.max {
                self.entries.clear();
            }
        }
        let backoff = match self.entries.get(id) {
            Some(e) => (e.backoff * 2).min(Duration::from_secs(60)),
            None => Duration::from_millis(250),
        };
        self.entries.insert(
            id.to_string(),
            CacheEntry {
                meta: meta.clone(),
                next_try: now + backoff,
                backoff,
            },
        );
        meta
    }
}

#[cfg(test)]
mod tests {
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
}
