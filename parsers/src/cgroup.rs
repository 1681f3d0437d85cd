//! cgroup path (from `/proc/PID/cgroup`) to container, pod or systemd unit.
//!
//! Pure and total: every input gives an answer, nothing panics, nothing is read from disk.
//!
//! # What is recognised
//!
//! A container id is taken **only** from a recognised shape, never by hunting for 64 hex
//! characters anywhere. An id is exactly 64 lowercase hex digits.
//!
//! | shape (one path component unless shown) | runtime |
//! | --- | --- |
//! | `docker/<id>`, `docker-<id>.scope`, `ecs/<task>/<id>` | docker |
//! | `libpod-<id>[.scope]`, `libpod-payload-<id>` (quadlet `--cgroups=split`) | podman |
//! | `cri-containerd-<id>[.scope]`, `<namespace>/<id>` at the root (containerd's own default `/<namespace>/<id>`, as used by `ctr` and cgroupfs nerdctl; any containerd namespace name but the other shapes' first components) | containerd |
//! | `crio-<id>[.scope]` | cri-o |
//! | `nerdctl-<id>.scope` (nerdctl's systemd driver) | nerdctl |
//! | a bare `<id>` directly under a kubepods `pod<uid>` cgroup (cgroupfs driver: containerd and cri-dockerd look the same) | cri |
//! | `lxc.payload.<name>`, `lxc.payload/<name>`, `lxc/<name>` (also Proxmox) | lxc |
//! | `machine-<name>.scope/payload` (systemd-nspawn) | nspawn |
//!
//! The systemd cgroup driver's `slice:prefix:name` form (e.g. a runc `cgroupsPath` of
//! `kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>`) is read as
//! `<slice>/<prefix>-<name>.scope`.
//!
//! Kubernetes: `kubepods[.slice]`, QoS levels `besteffort`/`burstable` (cgroupfs) or
//! `kubepods-<qos>.slice` (systemd, also with a prefix such as kind's `kubelet-kubepods-...`),
//! and the pod `pod<uid>` / `kubepods[-<qos>]-pod<uid_with_underscores>.slice`. A pod without
//! a QoS level is [`Qos::Guaranteed`]. The uid is lowercased and its `_` become `-`.
//! A pod's pause (sandbox) container is an ordinary container id here: the cgroup cannot tell
//! it apart, the metadata layer can.
//!
//! # Monitors
//!
//! A runtime's own per-container process is not the container: `libpod-conmon-<id>.scope`,
//! `crio-conmon-<id>[.scope]`, `lxc.monitor.<name>`, `lxc.monitor/<name>`,
//! `machine-<name>.scope/supervisor` and podman's cgroupfs `libpod_parent/conmon` give
//! `monitor = true`, `container = None`, `runtime` set, and the monitored container (when the
//! path names it) in [`CgroupAttribution::monitored`].
//!
//! # Nesting
//!
//! The **outermost** recognised container wins: it is the one the host's runtime knows, so the
//! one the metadata layer can look up. Whatever lies below it is classified again, relative to
//! the container's cgroup, into [`CgroupAttribution::nested`] when that says anything (for
//! example docker-in-docker, a kind node's pods, `nginx.service` inside an LXC system
//! container). Plain sub-cgroups such as `.../libpod-<id>.scope/container` or
//! `.../cri-containerd-<id>.scope/init` add nothing and give no `nested`. Pod and QoS are
//! those above (or of) the outer container; a kind node's pod is in `nested`.
//!
//! # Units
//!
//! When no container is found, `unit` is the innermost systemd unit of the path
//! (`.service`, `.scope`, `.socket`, `.mount`, `.swap`), e.g. `nginx.service`,
//! `session-3.scope`, or for `user@1000.service/app.slice/foo.service` the user manager's
//! `foo.service` (see [`CgroupAttribution::in_user_manager`]); `uid` is the user of a
//! `user-<uid>.slice` or `user@<uid>.service` on the path (also for rootless containers).
//! A monitor keeps its unit (e.g. `libpod-conmon-<id>.scope`). A container has no unit.
//!
//! Not recognised (container `None`, path kept): docker or nerdctl with a custom cgroupfs
//! `--cgroup-parent` (but a kubelet-shaped `/kubepods/<qos>/pod<uid>` one is), libvirt/qemu `machine-*.scope`
//! (a unit), quadlet's `runtime` sub-cgroup (conmon, but the path does not say so).
//! Podman pods (`machine-libpod_pod_<id>.slice`) are not Kubernetes pods: no `pod_uid`.
//! Paths read inside a cgroup namespace may start with `/..`; leading `..` are skipped.
//!
//! A shape is only what the path says: any process allowed to create cgroups can name one
//! `docker-<id>.scope`. The attribution layer trusts it only when the runtime's own state
//! for the id names this cgroup (`daemon/src/attrib/runtime.rs`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Deepest nesting of containers that [`classify_path`] follows into [`CgroupAttribution::nested`].
pub const MAX_NESTING: usize = 8;

/// The container runtime (or engine) that a cgroup shape belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    Docker,
    Podman,
    Containerd,
    CriO,
    /// containerd containers created by nerdctl with the systemd cgroup driver.
    Nerdctl,
    Lxc,
    /// systemd-nspawn (systemd-machined `machine-<name>.scope` with a `payload` sub-cgroup).
    Nspawn,
    /// A Kubernetes CRI runtime the path does not name: a bare id under a pod with the
    /// cgroupfs driver (containerd or cri-dockerd; CRI-O would write `crio-<id>`).
    Cri,
}

impl Runtime {
    /// Every runtime, in declaration order.
    pub const ALL: [Runtime; 8] = [
        Runtime::Docker,
        Runtime::Podman,
        Runtime::Containerd,
        Runtime::CriO,
        Runtime::Nerdctl,
        Runtime::Lxc,
        Runtime::Nspawn,
        Runtime::Cri,
    ];

    /// Stable lower-case name (also the serde form): `docker`, `podman`, `containerd`,
    /// `cri-o`, `nerdctl`, `lxc`, `nspawn`, `cri`.
    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Nerdctl => "nerdctl",
            Runtime::Lxc => "lxc",
            Runtime::Nspawn => "nspawn",
            Runtime::Cri => "cri",
        }
    }

    /// The runtime whose [`Runtime::name`] is `name`.
    pub fn from_name(name: &str) -> Option<Runtime> {
        Runtime::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Kubernetes pod QoS class, as the kubelet's cgroup layout shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Qos {
    BestEffort,
    Burstable,
    /// A pod directly under `kubepods` (no QoS level in the path).
    Guaranteed,
}

impl Qos {
    /// `besteffort`, `burstable` or `guaranteed` (also the serde form).
    pub fn name(&self) -> &'static str {
        match self {
            Qos::BestEffort => "besteffort",
            Qos::Burstable => "burstable",
            Qos::Guaranteed => "guaranteed",
        }
    }

    fn from_level(s: &str) -> Option<Qos> {
        match s {
            "besteffort" => Some(Qos::BestEffort),
            "burstable" => Some(Qos::Burstable),
            _ => None,
        }
    }
}

impl fmt::Display for Qos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A container as its runtime names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContainerRef {
    pub runtime: Runtime,
    /// 64 lowercase hex digits, except for [`Runtime::Lxc`] and [`Runtime::Nspawn`] where it
    /// is the container's name (nspawn's systemd `\xNN` escapes undone).
    pub id: String,
}

/// What a cgroup path says about the process in it. `Default` is "nothing known".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupAttribution {
    /// Runtime of the container, or of the monitor.
    pub runtime: Option<Runtime>,
    /// The (outermost) container the process runs in.
    pub container: Option<ContainerRef>,
    /// The process is a runtime's monitor (conmon, LXC monitor, nspawn supervisor), not a
    /// container's process; `container` is then `None`.
    pub monitor: bool,
    /// For a monitor: the container it watches, when the path names it.
    pub monitored: Option<ContainerRef>,
    /// Kubernetes pod uid, dashed and lowercase (systemd slices write `_`).
    pub pod_uid: Option<String>,
    pub qos: Option<Qos>,
    /// Innermost systemd unit, when the process is not in a container.
    pub unit: Option<String>,
    /// The user of a `user-<uid>.slice` / `user@<uid>.service` on the path.
    pub uid: Option<u32>,
    /// The path classified (for [`parse_proc_cgroup`], the chosen line's path; for
    /// `nested`, the part below the container, starting with `/`).
    pub path: String,
    /// What the path says below the container, when it says anything.
    pub nested: Option<Box<CgroupAttribution>>,
}

impl CgroupAttribution {
    /// The root cgroup `/`: a host process (or kernel thread) outside any unit.
    pub fn is_host(&self) -> bool {
        self.path.trim() == "/"
    }

    /// The container id (or LXC/nspawn name), if any.
    pub fn container_id(&self) -> Option<&str> {
        self.container.as_ref().map(|c| c.id.as_str())
    }

    /// Whether `unit` is a unit of a user's systemd manager (below `user@<uid>.service`),
    /// i.e. one that `systemctl --user` knows, rather than a system unit.
    pub fn in_user_manager(&self) -> bool {
        let Some(unit) = self.unit.as_deref() else {
            return false;
        };
        let comps: Vec<&str> = components(&self.path).collect();
        let Some(at) = comps.iter().rposition(|c| *c == unit) else {
            return false;
        };
        comps[..at].iter().any(|c| user_manager_uid(c).is_some())
    }

    /// How much this says: container 4, monitor 3, pod 2, unit 1, nothing 0.
    fn score(&self) -> u8 {
        if self.container.is_some() {
            4
        } else if self.monitor {
            3
        } else if self.pod_uid.is_some() {
            2
        } else if self.unit.is_some() {
            1
        } else {
            0
        }
    }
}

/// Classifies the contents of `/proc/PID/cgroup` (v1, v2 or hybrid).
///
/// Each `hierarchy:controllers:path` line is classified; the one that says the most wins
/// (container > monitor > pod > unit > nothing), ties going to the v2 `0::` line, then
/// `name=systemd`, `pids`, `memory`, `cpu`, any other controller. A line that is a bare
/// path (starts with `/`) is accepted last. No usable line gives the default (empty path).
pub fn parse_proc_cgroup(contents: &str) -> CgroupAttribution {
    let mut best: Option<(u8, u8, CgroupAttribution)> = None;
    for raw in contents.lines() {
        let line = raw.trim_end_matches(['\r', '\n']);
        let Some((prio, path)) = split_line(line) else {
            continue;
        };
        let a = classify_path(path);
        let score = a.score();
        let better = match &best {
            None => true,
            Some((s, p, _)) => score > *s || (score == *s && prio < *p),
        };
        if better {
            best = Some((score, prio, a));
        }
    }
    best.map(|(_, _, a)| a).unwrap_or_default()
}

/// [`parse_proc_cgroup`] for raw bytes; invalid UTF-8 becomes U+FFFD.
pub fn parse_proc_cgroup_bytes(contents: &[u8]) -> CgroupAttribution {
    parse_proc_cgroup(&String::from_utf8_lossy(contents))
}

/// Classifies one cgroup path (or a systemd-driver `slice:prefix:name`).
pub fn classify_path(path: &str) -> CgroupAttribution {
    classify_at(path, 0)
}

/// Line priority (lower wins ties) and path of one `/proc/PID/cgroup` line.
fn split_line(line: &str) -> Option<(u8, &str)> {
    if line.starts_with('/') {
        return Some((6, line));
    }
    let mut parts = line.splitn(3, ':');
    let hier = parts.next()?;
    let controllers = parts.next()?;
    let path = parts.next()?;
    if hier.is_empty() || !hier.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prio = if hier.bytes().all(|b| b == b'0') && controllers.is_empty() {
        0
    } else {
        let has = |name: &str| controllers.split(',').any(|c| c == name);
        if has("name=systemd") {
            1
        } else if has("pids") {
            2
        } else if has("memory") {
            3
        } else if has("cpu") {
            4
        } else {
            5
        }
    };
    Some((prio, path))
}

/// Path components, without empty ones and `.`.
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// A container (or monitor) found at some component.
struct Hit {
    runtime: Runtime,
    /// Id or name; for a monitor, of the monitored container (may be unknown).
    id: Option<String>,
    monitor: bool,
    /// Index of the last component the shape used.
    last: usize,
}

/// Kubernetes layout seen so far.
#[derive(Default)]
struct Kube {
    seen: bool,
    qos: Option<Qos>,
    pod: Option<String>,
    pod_at: Option<usize>,
}

impl Kube {
    fn observe(&mut self, c: &str, i: usize) {
        if c == "kubepods" {
            self.seen = true;
            return;
        }
        if let Some(stem) = c.strip_suffix(".slice") {
            let segs: Vec<&str> = stem.split('-').collect();
            if let Some(k) = segs.iter().position(|s| *s == "kubepods") {
                self.seen = true;
                let mut rest = segs[k + 1..].iter();
                let mut seg = rest.next();
                if let Some(q) = seg.and_then(|s| Qos::from_level(s)) {
                    self.qos = Some(q);
                    seg = rest.next();
                }
                if let Some(uid) = seg.and_then(|s| s.strip_prefix("pod")).and_then(pod_uid) {
                    if rest.next().is_none() {
                        self.pod = Some(uid);
                        self.pod_at = Some(i);
                    }
                }
            }
            return;
        }
        if self.seen && self.pod.is_none() {
            if let Some(q) = Qos::from_level(c) {
                self.qos = Some(q);
            } else if let Some(uid) = c.strip_prefix("pod").and_then(pod_uid) {
                self.pod = Some(uid);
                self.pod_at = Some(i);
            }
        }
    }
}

/// A pod uid as written in a path (UUID, or 32 hex for static pods; `_` for `-` in slices).
fn pod_uid(s: &str) -> Option<String> {
    let ok = (32..=36).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
    ok.then(|| {
        s.chars()
            .map(|c| {
                if c == '_' {
                    '-'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    })
}

/// Exactly 64 lowercase hex digits.
fn is_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_unit(c: &str) -> bool {
    [".service", ".scope", ".socket", ".mount", ".swap"]
        .iter()
        .any(|suf| c.len() > suf.len() && c.ends_with(suf))
}

fn user_manager_uid(c: &str) -> Option<u32> {
    c.strip_prefix("user@")?
        .strip_suffix(".service")?
        .parse()
        .ok()
}

fn user_uid(c: &str) -> Option<u32> {
    let slice = c
        .strip_prefix("user-")
        .and_then(|s| s.strip_suffix(".slice"));
    slice
        .and_then(|s| s.parse().ok())
        .or_else(|| user_manager_uid(c))
}

/// `<prefix><id>[.scope]` shapes of one component.
fn prefixed(c: &str) -> Option<(Runtime, String, bool)> {
    const SHAPES: [(&str, Runtime, bool); 8] = [
        ("docker-", Runtime::Docker, false),
        ("libpod-conmon-", Runtime::Podman, true),
        ("libpod-payload-", Runtime::Podman, false),
        ("libpod-", Runtime::Podman, false),
        ("cri-containerd-", Runtime::Containerd, false),
        ("crio-conmon-", Runtime::CriO, true),
        ("crio-", Runtime::CriO, false),
        ("nerdctl-", Runtime::Nerdctl, false),
    ];
    let base = c.strip_suffix(".scope").unwrap_or(c);
    SHAPES.iter().find_map(|(prefix, rt, monitor)| {
        let id = base.strip_prefix(prefix)?;
        is_id(id).then(|| (*rt, id.to_string(), *monitor))
    })
}

/// Undoes systemd's `\xNN` unit-name escapes; the input unchanged if the result is not UTF-8.
fn systemd_unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            let hex = b
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// The container or monitor shape starting at `comps[i]`, if any.
fn recognise(comps: &[&str], i: usize, kube: &Kube) -> Option<Hit> {
    let c = comps[i];
    let next = comps.get(i + 1).copied();
    let hit = |runtime, id: Option<String>, monitor, last| {
        Some(Hit {
            runtime,
            id,
            monitor,
            last,
        })
    };
    if let Some((rt, id, monitor)) = prefixed(c) {
        return hit(rt, Some(id), monitor, i);
    }
    if kube.pod_at.is_some() && kube.pod_at == i.checked_sub(1) && is_id(c) {
        return hit(Runtime::Cri, Some(c.to_string()), false, i);
    }
    if let Some(name) = c.strip_prefix("lxc.payload.").filter(|n| !n.is_empty()) {
        return hit(Runtime::Lxc, Some(name.to_string()), false, i);
    }
    if let Some(name) = c.strip_prefix("lxc.monitor.").filter(|n| !n.is_empty()) {
        return hit(Runtime::Lxc, Some(name.to_string()), true, i);
    }
    if let Some(name) = c
        .strip_prefix("machine-")
        .and_then(|s| s.strip_suffix(".scope"))
        .filter(|n| !n.is_empty())
    {
        match next {
            Some("payload") => {
                return hit(Runtime::Nspawn, Some(systemd_unescape(name)), false, i + 1)
            }
            Some("supervisor") => {
                return hit(Runtime::Nspawn, Some(systemd_unescape(name)), true, i + 1)
            }
            _ => {}
        }
    }
    let next = next?;
    match c {
        "docker" if is_id(next) => hit(Runtime::Docker, Some(next.to_string()), false, i + 1),
        "ecs" => match comps.get(i + 2) {
            Some(id) if is_id(id) => hit(Runtime::Docker, Some(id.to_string()), false, i + 2),
            _ => None,
        },
        "lxc" | "lxc.payload" => hit(Runtime::Lxc, Some(next.to_string()), false, i + 1),
        "lxc.monitor" => hit(Runtime::Lxc, Some(next.to_string()), true, i + 1),
        "libpod_parent" if next == "conmon" => hit(Runtime::Podman, None, true, i + 1),
        ns if i == 0 && is_id(next) && containerd_namespace(ns) => {
            hit(Runtime::Containerd, Some(next.to_string()), false, i + 1)
        }
        _ => None,
    }
}

fn classify_at(path: &str, depth: usize) -> CgroupAttribution {
    let mut out = CgroupAttribution {
        path: path.to_string(),
        ..Default::default()
    };
    let all: Vec<&str> = components(path).collect();
    let start = all.iter().position(|c| *c != "..").unwrap_or(all.len());
    let comps = &all[start..];
    let mut kube = Kube::default();
    let mut unit: Option<&str> = None;

    for i in 0..comps.len() {
        let c = comps[i];
        // The systemd driver's `slice:prefix:name`, read as `slice/prefix-name.scope`.
        let colon = colon_form(c);
        let (slice_part, effective): (&str, String) = match &colon {
            Some((slice, scope)) => (slice, scope.clone()),
            None => (c, String::new()),
        };
        if let Some(u) = user_uid(slice_part) {
            out.uid = Some(u);
        }
        kube.observe(slice_part, i);

        let found = if colon.is_some() {
            let mut one = comps.to_vec();
            one[i] = effective.as_str();
            recognise(&one, i, &kube)
        } else {
            recognise(comps, i, &kube)
        };
        if let Some(h) = found {
            if colon.is_none() {
                for u in comps[i..=h.last].iter().filter_map(|c| user_uid(c)) {
                    out.uid = Some(u);
                }
            }
            let cref = h.id.map(|id| ContainerRef {
                runtime: h.runtime,
                id,
            });
            out.runtime = Some(h.runtime);
            if h.monitor {
                out.monitor = true;
                out.monitored = cref;
                out.unit = if colon.is_some() && is_unit(&effective) {
                    Some(effective)
                } else {
                    comps[..=h.last]
                        .iter()
                        .rev()
                        .find(|c| is_unit(c))
                        .map(|c| c.to_string())
                };
            } else {
                out.container = cref;
                let rest = &comps[h.last + 1..];
                if !rest.is_empty() && depth < MAX_NESTING {
                    let inner = classify_at(&format!("/{}", rest.join("/")), depth + 1);
                    if inner.score() > 0 {
                        out.nested = Some(Box::new(inner));
                    }
                }
            }
            break;
        }
        if is_unit(c) {
            unit = Some(c);
        }
    }
    if out.runtime.is_none() {
        out.unit = unit.map(str::to_string);
    }
    out.pod_uid = kube.pod.clone();
    out.qos = match (&kube.pod, kube.qos) {
        (Some(_), None) => Some(Qos::Guaranteed),
        (_, q) => q,
    };
    out
}

/// A containerd namespace name (`[A-Za-z0-9]+` joined by `.`, `_`, `-`) that is no other
/// shape's first component and no systemd unit or slice.
fn containerd_namespace(ns: &str) -> bool {
    let ok_chars = !ns.is_empty()
        && ns.len() <= 76
        && ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && ns.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && ns.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    ok_chars
        && !is_unit(ns)
        && !ns.ends_with(".slice")
        && !matches!(
            ns,
            "docker" | "ecs" | "lxc" | "kubepods" | "libpod_parent" | "machine"
        )
}

/// The innermost systemd unit named on `path` (`.service`, `.scope`, ...), if any.
pub fn unit_of_path(path: &str) -> Option<String> {
    components(path)
        .filter(|c| is_unit(c))
        .last()
        .map(str::to_string)
}

/// The uid of the outermost `user@UID.service` on `path` (a user's own systemd manager,
/// whose cgroup subtree that user may write to), if any.
pub fn user_manager_of_path(path: &str) -> Option<u32> {
    components(path).find_map(user_manager_uid)
}

/// The part of `path` below its `user@UID.service` component (starting with `/`).
pub fn below_user_manager(path: &str) -> Option<String> {
    let comps: Vec<&str> = components(path).collect();
    let at = comps.iter().position(|c| user_manager_uid(c).is_some())?;
    Some(format!("/{}", comps[at + 1..].join("/")))
}

/// `slice:prefix:name` with a `.slice` first part: the slice and `prefix-name.scope`.
fn colon_form(c: &str) -> Option<(&str, String)> {
    let mut parts = c.splitn(3, ':');
    let slice = parts.next()?;
    let prefix = parts.next()?;
    let name = parts.next()?;
    if !slice.ends_with(".slice") || prefix.is_empty() || name.is_empty() || name.contains(':') {
        return None;
    }
    Some((slice, format!("{prefix}-{name}.scope")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_uid_normalises_underscores_and_case() {
        assert_eq!(
            pod_uid("1B2C3D4E_0000_4000_8000_00000000ABCD").as_deref(),
            Some("1b2c3d4e-0000-4000-8000-00000000abcd")
        );
        assert_eq!(pod_uid("short"), None);
        assert_eq!(pod_uid("zzzzzzzz-0000-4000-8000-00000000abcd"), None);
    }

    #[test]
    fn ids_are_exactly_64_lowercase_hex() {
        let id = "0123456789abcdef".repeat(4);
        assert!(is_id(&id));
        assert!(!is_id(&id.to_uppercase()));
        assert!(!is_id(&id[1..]));
        assert!(!is_id(&format!("{id}0")));
    }

    #[test]
    fn unescape_systemd_names() {
        assert_eq!(systemd_unescape(r"my\x2dbox"), "my-box");
        assert_eq!(systemd_unescape(r"bad\x2"), r"bad\x2");
        assert_eq!(systemd_unescape(r"\xff"), r"\xff");
    }

    #[test]
    fn line_priorities() {
        assert_eq!(split_line("0::/a"), Some((0, "/a")));
        assert_eq!(split_line("1:name=systemd:/b"), Some((1, "/b")));
        assert_eq!(split_line("4:cpu,cpuacct:/c"), Some((4, "/c")));
        assert_eq!(split_line("7:net_cls:/d:e"), Some((5, "/d:e")));
        assert_eq!(split_line("x:cpu:/c"), None);
        assert_eq!(split_line("garbage"), None);
    }

    #[test]
    fn runtime_names_round_trip() {
        for r in Runtime::ALL {
            assert_eq!(Runtime::from_name(r.name()), Some(r));
            assert_eq!(
                serde_json::to_string(&r).ok(),
                Some(format!("\"{}\"", r.name()))
            );
        }
        assert_eq!(
            serde_json::to_string(&Qos::BestEffort).ok().as_deref(),
            Some("\"besteffort\"")
        );
    }
}
