//! Who made a syscall: the container, pod and workload an event is attributed to, and the
//! stable workload key ("the same app" across restarts and replicas).
//!
//! Workload keys (documented in the README):
//! - Kubernetes: `k8s:NAMESPACE/OWNER/CONTAINER`, where OWNER is the pod name without the
//!   suffixes its controller adds (`cart-7d9f8b6c5-x2k4q` -> `cart` for a Deployment,
//!   `web-0` -> `web` for a StatefulSet, `fluentd-x2k4q` -> `fluentd` for a DaemonSet);
//! - Docker, Podman and other runtimes: `RUNTIME:NAME`, else `RUNTIME:IMAGE`, else
//!   `RUNTIME:ID12` (the first 12 characters of the id);
//! - systemd: `unit:NAME.service` (or `.scope`);
//! - otherwise `exe:PATH`, or `unknown` when even that is missing.

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

/// The workload key of a container, unit or executable (see the module documentation).
pub fn workload_key(
    container: Option<&ContainerInfo>,
    unit: Option<&str>,
    exe: Option<&str>,
) -> String {
    if let Some(c) = container {
        if let (Some(ns), Some(pod)) = (&c.namespace, &c.pod) {
            let cname = c.name.as_deref().unwrap_or("?");
            return format!("k8s:{ns}/{}/{cname}", pod_owner(pod));
        }
        if let Some(n) = c.name.as_deref().filter(|n| !n.is_empty()) {
            return format!("{}:{}", c.runtime, n.trim_start_matches('/'));
        }
        if let Some(i) = c.image.as_deref().filter(|i| !i.is_empty()) {
            return format!("{}:{i}", c.runtime);
        }
        return format!("{}:{}", c.runtime, &c.id[..c.id.len().min(12)]);
    }
    if let Some(u) = unit {
        return format!("unit:{u}");
    }
    match exe {
        Some(e) if !e.is_empty() => format!("exe:{e}"),
        _ => "unknown".to_string(),
    }
}

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
        assert_eq!(
            workload_key(Some(&c), None, None),
            "containerd:shop/cart:1.4"
        );
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
}
