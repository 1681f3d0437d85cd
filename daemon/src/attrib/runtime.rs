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
//! | `<docker_root>/../image/<driver>/imagedb/content/sha256/<hex>` | the labels of the container's image |
//! | `<podman_root>/../libpod/bolt_state.db` (libpod's state, read-only; see [`super::bolt`]) | Podman's container labels and pod names |
//!
//! # Trust
//!
//! A container-shaped cgroup is a container of a rootful runtime only when that runtime's
//! state for the id names the cgroup ([`ContainerMeta::confirms`]): the OCI config's
//! `linux.cgroupsPath` (containerd's bundles, runc's bundle, Podman's and CRI-O's
//! userdata; the systemd driver's `slice:prefix:name` expanded as systemd does) or runc's
//! `cgroup_paths`. Anyone who may create cgroups can name one `docker-<id>.scope`; only
//! root writes these files. A label of the container that its image also carries (same key
//! and value) was chosen by the image's author: it never sets the Kubernetes namespace,
//! pod, container name or the compose identity.
//!
//! Rootless Podman: a `libpod-<id>.scope` below `user@UID.service` is looked up in that
//! user's own state ([`AttributionConfig::rootless_podman_roots`]), whose files must be
//! owned by that user; its identity is scoped to the user (see
//! [`parsers::workload::WorkloadHints::rootless_uid`]) and never Kubernetes.
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
    /// Compose project and service (labels not inherited from the image).
    pub compose: Option<(String, String)>,
    /// The cgroups the runtime's state names for the container.
    pub claims: Vec<CgroupClaim>,
    /// The owner of a rootless container (its state came from this user's files).
    pub rootless_uid: Option<u32>,
}

/// A cgroup the runtime's state names for a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupClaim {
    /// An absolute cgroup path (`linux.cgroupsPath`, or the systemd driver's form expanded).
    Path(String),
    /// A path relative to the runtime's own cgroup (a relative `cgroupsPath`).
    Relative(String),
    /// A file system path of the cgroup (runc's `cgroup_paths`: mount point + path).
    FsPath(String),
}

/// The cgroup path of a `cgroupsPath` value: absolute as it is, the systemd driver's
/// `slice:prefix:name` as systemd lays it out (`a-b.slice` is `/a.slice/a-b.slice`),
/// anything else relative.
pub fn claim_of_cgroups_path(p: &str) -> Option<CgroupClaim> {
    let p = p.trim();
    if p.is_empty() {
        return None;
    }
    if p.starts_with('/') {
        return Some(CgroupClaim::Path(p.trim_end_matches('/').to_string()));
    }
    let parts: Vec<&str> = p.split(':').collect();
    if parts.len() == 3 {
        let slice = if parts[0].is_empty() {
            "system.slice"
        } else {
            parts[0]
        };
        let mut path = String::new();
        if slice != "-.slice" {
            let stem = slice.strip_suffix(".slice")?;
            let segs: Vec<&str> = stem.split('-').collect();
            for k in 1..=segs.len() {
                path.push('/');
                path.push_str(&segs[..k].join("-"));
                path.push_str(".slice");
            }
        }
        let unit = if parts[1].is_empty() {
            parts[2].to_string()
        } else {
            format!("{}-{}.scope", parts[1], parts[2])
        };
        let unit = if unit.contains('.') {
            unit
        } else {
            format!("{unit}.scope")
        };
        return Some(CgroupClaim::Path(format!("{path}/{unit}")));
    }
    Some(CgroupClaim::Relative(p.trim_end_matches('/').to_string()))
}

impl CgroupClaim {
    /// True when the process cgroup `path` is this cgroup or below it.
    fn covers(&self, path: &str) -> bool {
        let under = |base: &str| path == base || path.starts_with(&format!("{base}/"));
        match self {
            CgroupClaim::Path(c) => under(c),
            CgroupClaim::Relative(r) => {
                let r = format!("/{r}");
                path.ends_with(&r) || path.contains(&format!("{r}/"))
            }
            CgroupClaim::FsPath(f) => {
                // Some prefix of `path` (at a component boundary) is the end of `f`.
                let mut prefix = path;
                loop {
                    if prefix.len() > 1 && f.ends_with(prefix) && f.len() > prefix.len() {
                        return true;
                    }
                    match prefix.rfind('/') {
                        Some(i) if i > 0 => prefix = &prefix[..i],
                        _ => return false,
                    }
                }
            }
        }
    }
}

impl ContainerMeta {
    /// Whether the runtime's state names `path` (the process's cgroup path, as the host
    /// sees it) as this container's cgroup, or a parent of it. For a rootless container
    /// `path` is the part below `user@UID.service`.
    pub fn confirms(&self, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        !path.is_empty() && self.claims.iter().any(|c| c.covers(path))
    }
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
    claims: Vec<CgroupClaim>,
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
    let claims = v
        .get("linux")
        .and_then(|l| l.get("cgroupsPath"))
        .and_then(Value::as_str)
        .and_then(claim_of_cgroups_path)
        .into_iter()
        .collect();
    OciConfig {
        annotations,
        seccomp,
        found_in,
        claims,
    }
}

/// containerd's task bundles: `<root>/<namespace>/<id>/config.json`; also the namespace.
fn from_containerd(root: &Path, id: &str) -> Option<(OciConfig, String)> {
    let rd = std::fs::read_dir(root).inspect_err(note_denied).ok()?;
    for ns in rd.flatten() {
        let p = ns.path().join(id).join("config.json");
        if let Some(v) = read_json(&p) {
            let name = ns.file_name().to_string_lossy().into_owned();
            return Some((oci_from(&v, "containerd"), name));
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
                claims: Vec::new(),
            });
        for (k, v) in labels {
            oci.annotations.entry(k).or_insert(v);
        }
        if let Some(paths) = state.get("cgroup_paths").and_then(Value::as_object) {
            for p in paths.values().filter_map(Value::as_str) {
                oci.claims.push(CgroupClaim::FsPath(p.to_string()));
            }
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
    /// The labels of the container's image (from Docker's image store).
    image_labels: BTreeMap<String, String>,
    /// The profile given inline (`--security-opt seccomp=FILE` is stored as
    /// `seccomp=<JSON>` in `hostconfig.json`): the user's Docker-format profile.
    profile: Option<Value>,
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The labels of Docker image `image_id` (`sha256:HEX`) with storage driver `driver`.
fn docker_image_labels(root: &Path, driver: &str, image_id: &str) -> BTreeMap<String, String> {
    let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) || !safe_id(driver) {
        return BTreeMap::new();
    }
    let Some(base) = root.parent() else {
        return BTreeMap::new();
    };
    let p = base
        .join("image")
        .join(driver)
        .join("imagedb/content/sha256")
        .join(hex);
    let v = read_json(&p);
    string_map(
        v.as_ref()
            .and_then(|v| v.get("config"))
            .and_then(|c| c.get("Labels")),
    )
}

/// Docker's `config.v2.json` (name, image, labels), the image's labels and the inline
/// profile of `hostconfig.json`.
fn from_docker(root: &Path, id: &str) -> Option<DockerInfo> {
    let v = read_json(&root.join(id).join("config.v2.json"))?;
    let name = str_of(&v, "Name")
        .map(|n| n.trim_start_matches('/').to_string())
        .filter(|n| !n.is_empty());
    let cfg = v.get("Config");
    let image = cfg.and_then(|c| str_of(c, "Image"));
    let labels = string_map(cfg.and_then(|c| c.get("Labels")));
    let image_labels = match (str_of(&v, "Driver"), str_of(&v, "Image")) {
        (Some(driver), Some(img)) => docker_image_labels(root, &driver, &img),
        _ => BTreeMap::new(),
    };
    let profile = read_json(&root.join(id).join("hostconfig.json"))
        .and_then(|h| h.get("SecurityOpt").and_then(Value::as_array).cloned())
        .into_iter()
        .flatten()
        .filter_map(|o| o.as_str().map(str::to_string))
        .find_map(|o| {
            let json = o
                .strip_prefix("seccomp=")
                .or_else(|| o.strip_prefix("seccomp:"))?;
            serde_json::from_str::<Value>(json)
                .ok()
                .filter(Value::is_object)
        });
    Some(DockerInfo {
        name,
        image,
        labels,
        image_labels,
        profile,
    })
}

/// The profile file a Podman container was started with (the annotation
/// `io.podman.annotations.seccomp`), when it can be trusted to be the one applied: an
/// absolute path to a regular file owned by root, not writable by others, not modified
/// after the container's config was written, parsing as a JSON object.
fn podman_profile_file(cfg: &AttributionConfig, id: &str, file: &str) -> Option<Value> {
    use std::os::unix::fs::MetadataExt;
    let path = Path::new(file);
    if !path.is_absolute() || file == "unconfined" {
        return None;
    }
    let meta = std::fs::symlink_metadata(path).ok()?;
    let config = std::fs::metadata(cfg.podman_root.join(id).join("userdata/config.json"))
        .or_else(|_| std::fs::metadata(cfg.crio_root.join(id).join("userdata/config.json")))
        .ok()?;
    let trusted = meta.is_file()
        && meta.uid() == 0
        && meta.mode() & 0o022 == 0
        && meta.len() <= MAX_FILE
        && meta.modified().ok()? <= config.modified().ok()?;
    if !trusted {
        return None;
    }
    read_json(path).filter(Value::is_object)
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
    let from_ctrd = from_containerd(&cfg.containerd_root, id);
    // containerd's own metadata (image, labels) of a namespace other than Docker's and the
    // kubelet's (those say it better themselves).
    let ctrd_meta = from_ctrd
        .as_ref()
        .filter(|(_, ns)| ns != "moby" && ns != "k8s.io" && safe_id(ns))
        .and_then(|(_, ns)| super::bolt::containerd_container(&cfg.containerd_db, ns, id));
    let oci = from_ctrd
        .map(|(o, _)| o)
        .or_else(|| cfg.runc_roots.iter().find_map(|r| from_runc_root(r, id)))
        .or_else(|| from_userdata(&cfg.podman_root, id, "podman"))
        .or_else(|| from_userdata(&cfg.crio_root, id, "cri-o"));
    let docker = from_docker(&cfg.docker_root, id);
    let storage = from_storage(&cfg.crio_root, id).or_else(|| from_storage(&cfg.podman_root, id));
    let libpod = super::bolt::libpod_container(&cfg.podman_db, id);
    if oci.is_none() && docker.is_none() && storage.is_none() && libpod.is_none() {
        return None;
    }

    let mut ann = oci
        .as_ref()
        .map(|o| o.annotations.clone())
        .unwrap_or_default();
    let mut image_labels: BTreeMap<String, String> = BTreeMap::new();
    if let Some(d) = &docker {
        for (k, v) in &d.labels {
            ann.entry(k.clone()).or_insert_with(|| v.clone());
        }
        image_labels.extend(d.image_labels.clone());
    }
    if let Some(l) = &libpod {
        for (k, v) in &l.labels {
            ann.entry(k.clone()).or_insert_with(|| v.clone());
        }
        image_labels.extend(l.image_labels.clone());
    }
    if let Some((_, labels)) = &ctrd_meta {
        for (k, v) in labels {
            ann.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // What the image's author chose is no identity: a label the image carries with the same
    // value is not read for the Kubernetes or compose identity.
    ann.retain(|k, v| image_labels.get(k) != Some(v));
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
        compose: match (
            ann.get("com.docker.compose.project")
                .filter(|v| !v.is_empty()),
            ann.get("com.docker.compose.service")
                .filter(|v| !v.is_empty()),
        ) {
            (Some(p), Some(s)) => Some((p.clone(), s.clone())),
            _ => None,
        },
        claims: oci.as_ref().map(|o| o.claims.clone()).unwrap_or_default(),
        rootless_uid: None,
    };
    // The profile as the user wrote it, when the runtime kept it: Docker's inline JSON,
    // Podman's profile file (when it is root's and older than the container).
    if let Some(p) = docker.as_ref().and_then(|d| d.profile.as_ref()) {
        m.profile = profile_blob(p).map(Arc::new);
    } else if m.found_in == Some("podman")
        // Podman under runc: found through runc's state, the bundle is Podman's.
        || oci.as_ref().and_then(|o| o.annotations.get("io.container.manager"))
            == Some(&"libpod".to_string())
    {
        if let Some(p) = oci
            .as_ref()
            .and_then(|o| o.annotations.get("io.podman.annotations.seccomp"))
            .and_then(|f| podman_profile_file(cfg, id, f))
        {
            m.profile = profile_blob(&p).map(Arc::new);
        }
    }
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
    if let Some((image, _)) = &ctrd_meta {
        if m.image.is_none() {
            m.image.clone_from(image);
        }
    }
    if let Some(l) = &libpod {
        if m.name.is_none() {
            m.name.clone_from(&l.name);
        }
        if m.image.is_none() {
            m.image.clone_from(&l.image);
        }
        // A Podman pod is not a Kubernetes pod (no namespace): its name is kept as `pod`
        // only, unless trusted annotations said more.
        if m.pod.is_none() {
            m.pod.clone_from(&l.pod);
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

/// Reads `path` as JSON when it is a regular file (not a symlink) owned by `uid`.
fn read_json_owned(path: &Path, uid: u32) -> Option<Value> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() || meta.uid() != uid || meta.len() > MAX_FILE {
        return None;
    }
    let mut data = Vec::new();
    f.take(MAX_FILE).read_to_end(&mut data).ok()?;
    serde_json::from_slice(&data).ok()
}

/// The home directory of `uid` in `passwd` (the text of /etc/passwd).
fn home_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid) && f[5].starts_with('/'))
            .then(|| f[5].to_string())
    })
}

/// What user `uid`'s own rootless Podman state says about container `id` (see the module
/// documentation): only files owned by that user are read, and nothing in them is a
/// Kubernetes or compose identity.
pub fn read_rootless_meta(cfg: &AttributionConfig, uid: u32, id: &str) -> Option<ContainerMeta> {
    if !safe_id(id) || uid == 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let home = home_of(&passwd, uid);
    for tmpl in &cfg.rootless_podman_roots {
        if tmpl.contains("{home}") && home.is_none() {
            continue;
        }
        let root = PathBuf::from(
            tmpl.replace("{home}", home.as_deref().unwrap_or(""))
                .replace("{uid}", &uid.to_string()),
        );
        let Some(v) = read_json_owned(&root.join(id).join("userdata/config.json"), uid) else {
            continue;
        };
        let oci = oci_from(&v, "podman");
        if oci
            .annotations
            .get("io.container.manager")
            .map(String::as_str)
            != Some("libpod")
        {
            continue;
        }
        let (mut name, mut image) = (None, None);
        if let Some(entries) = read_json_owned(&root.join("containers.json"), uid) {
            if let Some(e) = entries
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e.get("id").and_then(Value::as_str) == Some(id))
            {
                let meta = e
                    .get("metadata")
                    .and_then(Value::as_str)
                    .and_then(|m| serde_json::from_str::<Value>(m).ok())
                    .unwrap_or(Value::Null);
                name = str_of(&meta, "name");
                image = str_of(&meta, "image-name");
            }
        }
        return Some(ContainerMeta {
            name,
            image,
            found_in: Some("podman"),
            profile: oci.seccomp.as_ref().and_then(profile_blob).map(Arc::new),
            claims: oci.claims,
            rootless_uid: Some(uid),
            ..ContainerMeta::default()
        });
    }
    None
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
        self.get_for(None, id)
    }

    /// The metadata of container `id` of rootless user `uid` (its own state), or of a
    /// rootful runtime (`None`).
    pub fn get_for(&mut self, uid: Option<u32>, id: &str) -> Option<Arc<ContainerMeta>> {
        let key = match uid {
            Some(u) => format!("{u}/{id}"),
            None => id.to_string(),
        };
        let id = key.as_str();
        let now = Instant::now();
        if let Some(e) = self.entries.get(id) {
            if e.meta.is_some() || now < e.next_try {
                return e.meta.clone();
            }
        }
        self.reads += 1;
        DENIED.with(|d| d.set(false));
        let meta = match uid {
            Some(u) => read_rootless_meta(&self.cfg, u, id.rsplit('/').next().unwrap_or("")),
            None => read_meta(&self.cfg, id),
        }
        .map(Arc::new);
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
#[path = "runtime_tests.rs"]
mod tests;
