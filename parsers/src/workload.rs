//! Who made a syscall: the container, pod and workload an event is attributed to, and the
//! stable workload key ("the same app" across restarts and replicas).
//!
//! Workload keys (documented in the README):
//! - Kubernetes: `k8s:NAMESPACE/OWNER/CONTAINER`, where OWNER is the pod name without the
//!   suffixes its controller adds (`cart-7d9f8b6c5-x2k4q` -> `cart` for a Deployment,
//!   `web-0` -> `web` for a StatefulSet, `fluentd-x2k4q` -> `fluentd` for a DaemonSet);
//! - Compose (labels `com.docker.compose.project` and `.service`): `compose:PROJECT/SERVICE`;
//! - other Docker, Podman, containerd, ... containers: `RUNTIME:REPOSITORY`, the image
//!   repository without tag or digest (`docker:registry.example/shop/cart`), so that every
//!   `docker run --rm IMAGE` is the same workload; with [`ContainerKeying::Name`]
//!   (`attribution.container_workload = "name"`) `RUNTIME:NAME` instead. Without an image:
//!   `RUNTIME:NAME`, else `RUNTIME:ID12` (the first 12 characters of the id);
//! - rootless Podman of user UID: the same keys with `@UID` after the kind
//!   (`podman@1000:docker.io/library/nginx`, `compose@1000:P/S`), never Kubernetes;
//! - systemd: `unit:NAME.service` (or `.scope`); a unit of a user's own systemd manager is
//!   `unit:user@UID.service/NAME` (a user cannot pose as a system unit);
//! - otherwise `exe:PATH`, or `unknown` when even that is missing.
//!
//! Each part taken from a label or an image name is cut at [`MAX_KEY_PART`] bytes.

use serde::{Deserialize, Serialize};

/// A container as the runtime's metadata describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContainerInfo {
    pub id: String,
    /// `docker`, `podman`, `containerd`, `cri-o`, `lxc`, `runc`, ...
    pub runtime: String,
    pub name: Option<String>,
    pub image: Option<String>,
    /// Kubernetes pod name.
    pub pod: Option<String>,
    pub namespace: Option<String>,
    pub pod_uid: Option<String>,
}

/// The attribution of one event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attribution {
    /// The container, when the process ran in one.
    pub container: Option<ContainerInfo>,
    /// The systemd unit, when not in a container.
    pub unit: Option<String>,
    /// The workload key (see the module documentation).
    pub workload: String,
    /// False when the process could not be resolved (it was gone and unknown).
    pub attributed: bool,
    /// The SHA-256 (hex) of the container's applied seccomp profile, when known.
    pub profile_hash: Option<String>,
}

impl Attribution {
    /// The attribution of an event whose process could not be resolved.
    pub fn unattributed(exe: Option<&str>) -> Attribution {
        Attribution {
            workload: workload_key(None, None, exe),
            attributed: false,
            ..Default::default()
        }
    }
}

/// Longest part of a workload key taken from a label or an image name, in bytes.
pub const MAX_KEY_PART: usize = 255;

/// How containers outside Kubernetes and compose are keyed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerKeying {
    /// By image repository (the default): every run of an image is one workload.
    #[default]
    Image,
    /// By container name (names the engines make up are random: `serene_cannon`).
    Name,
}

/// What identifies a container's workload besides [`ContainerInfo`] (not stored with the
/// event; only the key is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkloadHints {
    /// `com.docker.compose.project` and `.service`, when the container carries both and
    /// they are not merely inherited from its image.
    pub compose: Option<(String, String)>,
    /// The user of a rootless container (its state came from that user's own files).
    pub rootless_uid: Option<u32>,
}

/// `s` cut at [`MAX_KEY_PART`] bytes (on a character boundary).
fn part(s: &str) -> &str {
    if s.len() <= MAX_KEY_PART {
        return s;
    }
    let mut end = MAX_KEY_PART;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The repository of an image reference: without the digest (`@sha256:...`) and the tag
/// (`:1.4` after the last `/`). An image id (`sha256:HEX`, or 64 hex digits) becomes
/// `image-HEX12`.
pub fn image_repository(image: &str) -> String {
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    let id = image.strip_prefix("sha256:").unwrap_or(image);
    if hex(id) && id.len() == 64 {
        return format!("image-{}", &id[..12]);
    }
    let no_digest = image.split_once('@').map_or(image, |(r, _)| r);
    let slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    match no_digest[slash..].rfind(':') {
        Some(c) => no_digest[..slash + c].to_string(),
        None => no_digest.to_string(),
    }
}

/// The workload key of a container (see the module documentation).
pub fn container_workload_key(
    c: &ContainerInfo,
    hints: &WorkloadHints,
    keying: ContainerKeying,
) -> String {
    let user = hints
        .rootless_uid
        .map(|u| format!("@{u}"))
        .unwrap_or_default();
    if hints.rootless_uid.is_none() {
        if let (Some(ns), Some(pod)) = (&c.namespace, &c.pod) {
            let cname = c.name.as_deref().unwrap_or("?");
            return format!("k8s:{}/{}/{}", part(ns), part(pod_owner(pod)), part(cname));
        }
    }
    if let Some((project, service)) = &hints.compose {
        return format!("compose{user}:{}/{}", part(project), part(service));
    }
    let rt = &c.runtime;
    let name = c
        .name
        .as_deref()
        .map(|n| n.trim_start_matches('/'))
        .filter(|n| !n.is_empty());
    let image = c
        .image
        .as_deref()
        .filter(|i| !i.is_empty())
        .map(image_repository);
    let by_name = name.map(|n| format!("{rt}{user}:{}", part(n)));
    let by_image = image.map(|i| format!("{rt}{user}:{}", part(&i)));
    let chosen = match keying {
        ContainerKeying::Image => by_image.or(by_name),
        ContainerKeying::Name => by_name.or(by_image),
    };
    chosen.unwrap_or_else(|| format!("{rt}{user}:{}", part(&c.id[..c.id.len().min(12)])))
}

/// The workload key of a unit of user `uid`'s own systemd manager.
pub fn user_unit_key(uid: u32, unit: &str) -> String {
    format!("unit:user@{uid}.service/{}", part(unit))
}

/// The workload key of a container, unit or executable (see the module documentation),
/// containers keyed by image without hints.
pub fn workload_key(
    container: Option<&ContainerInfo>,
    unit: Option<&str>,
    exe: Option<&str>,
) -> String {
    if let Some(c) = container {
        return container_workload_key(c, &WorkloadHints::default(), ContainerKeying::Image);
    }
    if let Some(u) = unit {
        return format!("unit:{u}");
    }
    match exe {
        Some(e) if !e.is_empty() => format!("exe:{e}"),
        _ => "unknown".to_string(),
    }
}

/// One part of a workload key's shape (see [`key_shapes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPart {
    /// These characters.
    Lit(&'static str),
    /// A user id: one or more ASCII digits.
    Uid,
    /// A Kubernetes or compose name: any run of characters without `/` (possibly empty).
    Name,
    /// The rest: one or more characters of any kind (image repositories, unit names,
    /// paths).
    Rest,
}

/// Every shape a workload key can have (see the module documentation), for checking at
/// load time that a glob of a rule or a sink can match at least one key. `other` and
/// `exe:other` are metric labels, not keys.
pub fn key_shapes() -> Vec<Vec<KeyPart>> {
    use KeyPart::*;
    let mut shapes = vec![
        vec![Lit("k8s:"), Name, Lit("/"), Name, Lit("/"), Name],
        vec![Lit("compose:"), Name, Lit("/"), Name],
        vec![Lit("compose@"), Uid, Lit(":"), Name, Lit("/"), Name],
        // Rootless Podman.
        vec![Lit("podman@"), Uid, Lit(":"), Rest],
        vec![Lit("unit:"), Rest],
        vec![Lit("exe:"), Rest],
        vec![Lit("unknown")],
    ];
    for rt in RUNTIME_KINDS {
        shapes.push(vec![Lit(rt), Lit(":"), Rest]);
    }
    shapes
}

/// The runtime names that start container keys (`RUNTIME:...`): [`crate::cgroup::Runtime`]'s
/// names, the form attribution writes.
const RUNTIME_KINDS: [&str; 8] = [
    "docker",
    "podman",
    "containerd",
    "cri-o",
    "nerdctl",
    "lxc",
    "nspawn",
    "cri",
];

/// The name of a pod's owner: the pod name without its controller's suffixes.
pub fn pod_owner(pod: &str) -> &str {
    let Some((head, last)) = pod.rsplit_once('-') else {
        return pod;
    };
    // StatefulSet: `web-0`.
    if !last.is_empty() && last.bytes().all(|c| c.is_ascii_digit()) {
        return head;
    }
    // Random suffix of ReplicaSets, DaemonSets and Jobs: 5 characters of the alphabet
    // Kubernetes uses for generated names (no vowels, no 0 1 3).
    let generated = |s: &str| {
        s.len() == 5
            && s.bytes()
                .all(|c| b"bcdfghjklmnpqrstvwxz2456789".contains(&c))
    };
    if !generated(last) {
        return pod;
    }
    // Deployment: `NAME-PODTEMPLATEHASH-XXXXX` (the hash uses the same alphabet, 6-10 chars).
    if let Some((owner, hash)) = head.rsplit_once('-') {
        let is_hash = (6..=10).contains(&hash.len())
            && hash
                .bytes()
                .all(|c| b"bcdfghjklmnpqrstvwxz2456789".contains(&c));
        if is_hash {
            return owner;
        }
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_shapes_name_every_runtime() {
        let names: Vec<&str> = crate::cgroup::Runtime::ALL
            .iter()
            .map(|r| r.name())
            .collect();
        assert_eq!(names, RUNTIME_KINDS);
        assert!(key_shapes().len() > RUNTIME_KINDS.len());
    }

    #[test]
    fn pod_owners() {
        assert_eq!(pod_owner("cart-7d9f8b6c5-x2k4q"), "cart");
        assert_eq!(pod_owner("web-0"), "web");
        assert_eq!(pod_owner("fluentd-x2k4q"), "fluentd");
        assert_eq!(pod_owner("standalone"), "standalone");
        assert_eq!(pod_owner("my-app"), "my-app");
        assert_eq!(
            pod_owner("api-server-abcde"),
            "api-server-abcde",
            "vowels: not generated"
        );
    }

    #[test]
    fn workload_keys() {
        let mut c = ContainerInfo {
            id: "0123456789abcdef".repeat(4),
            runtime: "containerd".into(),
            ..Default::default()
        };
        assert_eq!(
            workload_key(Some(&c), None, None),
            "containerd:0123456789ab"
        );
        c.image = Some("shop/cart:1.4".into());
        assert_eq!(workload_key(Some(&c), None, None), "containerd:shop/cart");
        c.name = Some("api".into());
        c.pod = Some("cart-7d9f8b6c5-x2k4q".into());
        c.namespace = Some("shop".into());
        assert_eq!(workload_key(Some(&c), None, None), "k8s:shop/cart/api");
        assert_eq!(
            workload_key(None, Some("nginx.service"), Some("/usr/sbin/nginx")),
            "unit:nginx.service"
        );
        assert_eq!(
            workload_key(None, None, Some("/usr/bin/ls")),
            "exe:/usr/bin/ls"
        );
        assert_eq!(workload_key(None, None, None), "unknown");
    }

    #[test]
    fn image_repositories() {
        assert_eq!(image_repository("nginx"), "nginx");
        assert_eq!(image_repository("nginx:1.25"), "nginx");
        assert_eq!(
            image_repository("registry.example:5000/shop/cart:1.4"),
            "registry.example:5000/shop/cart"
        );
        assert_eq!(
            image_repository("registry.example:5000/shop/cart"),
            "registry.example:5000/shop/cart"
        );
        assert_eq!(
            image_repository(&format!(
                "docker.io/library/alpine:3@sha256:{}",
                "a".repeat(64)
            )),
            "docker.io/library/alpine"
        );
        assert_eq!(
            image_repository(&format!("sha256:{}", "0123456789ab".repeat(6))[..71]),
            "image-0123456789ab"
        );
    }

    #[test]
    fn compose_image_name_and_rootless_keys() {
        let c = ContainerInfo {
            id: "f".repeat(64),
            runtime: "docker".into(),
            name: Some("serene_cannon".into()),
            image: Some("registry.example/shop/cart:1.4".into()),
            ..Default::default()
        };
        let none = WorkloadHints::default();
        assert_eq!(
            container_workload_key(&c, &none, ContainerKeying::Image),
            "docker:registry.example/shop/cart"
        );
        assert_eq!(
            container_workload_key(&c, &none, ContainerKeying::Name),
            "docker:serene_cannon"
        );
        let compose = WorkloadHints {
            compose: Some(("shop".into(), "cart".into())),
            rootless_uid: None,
        };
        assert_eq!(
            container_workload_key(&c, &compose, ContainerKeying::Name),
            "compose:shop/cart"
        );
        let mut k = c.clone();
        k.namespace = Some("kube-system".into());
        k.pod = Some("coredns-abc".into());
        assert_eq!(
            container_workload_key(&k, &compose, ContainerKeying::Image),
            "k8s:kube-system/coredns-abc/serene_cannon",
            "the metadata layer decides whether pod labels are trusted"
        );
        let rootless = WorkloadHints {
            compose: None,
            rootless_uid: Some(1000),
        };
        let mut p = k.clone();
        p.runtime = "podman".into();
        assert_eq!(
            container_workload_key(&p, &rootless, ContainerKeying::Image),
            "podman@1000:registry.example/shop/cart",
            "a rootless container is never a Kubernetes workload"
        );
        assert_eq!(
            user_unit_key(1000, "nginx.service"),
            "unit:user@1000.service/nginx.service"
        );
        // Long label values are cut.
        let long = WorkloadHints {
            compose: Some(("p".repeat(1000), "s".into())),
            rootless_uid: None,
        };
        let key = container_workload_key(&c, &long, ContainerKeying::Image);
        assert_eq!(key.len(), "compose:".len() + MAX_KEY_PART + "/s".len());
    }
}
