//! Containers for the end-to-end tests: a busybox bundle (from Debian's `busybox-static`)
//! run with the real `runc` under a private state root (`runc --root DIR`).
//!
//! ```no_run
//! use seccomp_watch_tests::runc::{Runc, Spec};
//! let runc = Runc::new().unwrap();
//! let profile = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
//!     "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_LOG"}]});
//! let spec = Spec::new(&["sh", "-c", "uname"]).seccomp(profile)
//!     .cgroups_path("/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
//! let out = runc.run("my-container", &spec).unwrap();          // foreground, then deleted
//! let c = runc.start("long-one", &Spec::new(&["sleep", "600"])).unwrap(); // detached
//! let out = c.exec(&["uname", "-a"]).unwrap();                  // same seccomp profile
//! drop(c);                                                      // killed and deleted
//! ```
//!
//! The rootfs holds `/bin/busybox` (or another name, see [`Runc::with_exe`]: a unique name
//! makes the records of one test's containers recognisable by `exe=`) and a symlink per
//! applet. `config.json` comes from `runc spec`, edited: args, no terminal, the rootfs path,
//! `linux.seccomp` (from a Docker-format profile, see [`docker_to_oci`]),
//! `linux.cgroupsPath`, annotations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

/// What to run in a container.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    pub args: Vec<String>,
    /// A Docker-format seccomp profile (converted with [`docker_to_oci`]); none: unconfined.
    pub seccomp: Option<Value>,
    /// `linux.cgroupsPath` (cgroupfs driver: an absolute path such as
    /// `/kubepods/besteffort/pod<uid>/cri-containerd-<id>`); none: runc's default.
    pub cgroups_path: Option<String>,
    pub annotations: BTreeMap<String, String>,
    /// Extra `KEY=VALUE` environment entries.
    pub env: Vec<String>,
}

impl Spec {
    pub fn new(args: &[&str]) -> Spec {
        Spec {
            args: args.iter().map(|a| a.to_string()).collect(),
            ..Spec::default()
        }
    }

    pub fn seccomp(mut self, profile: Value) -> Spec {
        self.seccomp = Some(profile);
        self
    }

    pub fn cgroups_path(mut self, path: impl Into<String>) -> Spec {
        self.cgroups_path = Some(path.into());
        self
    }

    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Spec {
        self.annotations.insert(key.into(), value.into());
        self
    }

    pub fn env(mut self, kv: impl Into<String>) -> Spec {
        self.env.push(kv.into());
        self
    }
}

/// A runc state root, a busybox rootfs and the bundles made from it (all in a temp dir,
/// removed on drop).
pub struct Runc {
    dir: tempfile::TempDir,
    exe: String,
}

/// `runc spec`'s default config, made once.
fn template() -> anyhow::Result<Value> {
    static T: OnceLock<Result<Value, String>> = OnceLock::new();
    T.get_or_init(|| {
        let d = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("runc")
            .args(["spec", "--bundle"])
            .arg(d.path())
            .output()
            .map_err(|e| format!("run runc spec: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "runc spec: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let text = std::fs::read(d.path().join("config.json")).map_err(|e| e.to_string())?;
        serde_json::from_slice(&text).map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

impl Runc {
    /// A new state root and rootfs with busybox at `/bin/busybox`.
    pub fn new() -> anyhow::Result<Runc> {
        Runc::with_exe("/bin/busybox")
    }

    /// Like [`Runc::new`] with busybox installed at `exe` (an absolute path in the rootfs;
    /// the applet symlinks in `/bin` point to it): records of these containers carry
    /// `exe=<exe>`.
    pub fn with_exe(exe: &str) -> anyhow::Result<Runc> {
        if !exe.starts_with('/') || exe.contains("..") {
            bail!("exe must be an absolute path: {exe}");
        }
        let busybox = crate::which("busybox")
            .ok_or_else(|| anyhow!("busybox is not installed (busybox-static)"))?;
        let dir = tempfile::Builder::new()
            .prefix("seccomp-watch-runc-")
            .tempdir()?;
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "root", "run"] {
            std::fs::create_dir_all(rootfs.join(d))?;
        }
        let target = rootfs.join(exe.trim_start_matches('/'));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&busybox, &target).with_context(|| format!("copy {}", busybox.display()))?;
        let list = Command::new(&busybox)
            .arg("--list")
            .output()
            .context("busybox --list")?;
        for applet in String::from_utf8_lossy(&list.stdout)
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            if applet.contains('/') {
                continue;
            }
            let link = rootfs.join("bin").join(applet);
            if link != target && !link.exists() {
                std::os::unix::fs::symlink(exe, &link)?;
            }
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\n")?;
        std::fs::create_dir_all(dir.path().join("state"))?;
        Ok(Runc {
            dir,
            exe: exe.to_string(),
        })
    }

    /// The state root (`runc --root`): what attribution's `runc_roots` must list.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Where busybox is in the rootfs (the records' `exe=`).
    pub fn exe(&self) -> &str {
        &self.exe
    }

    /// `runc --root <root>`.
    pub fn command(&self) -> Command {
        let mut c = Command::new("runc");
        c.arg("--root").arg(self.root());
        c
    }

    /// The `config.json` of `spec`.
    pub fn config(&self, spec: &Spec) -> anyhow::Result<Value> {
        let mut c = template()?;
        if spec.args.is_empty() {
            bail!("no args");
        }
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(spec.args);
        if !spec.env.is_empty() {
            let mut env: Vec<Value> = c["process"]["env"].as_array().cloned().unwrap_or_default();
            env.extend(spec.env.iter().map(|e| json!(e)));
            c["process"]["env"] = Value::Array(env);
        }
        c["root"] = json!({"path": self.rootfs(), "readonly": true});
        c["hostname"] = json!("busybox");
        if let Some(p) = &spec.seccomp {
            let caps: Vec<String> = c["process"]["capabilities"]["bounding"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            c["linux"]["seccomp"] = docker_to_oci(p, &caps);
        } else if let Some(l) = c["linux"].as_object_mut() {
            l.remove("seccomp");
        }
        if let Some(p) = &spec.cgroups_path {
            c["linux"]["cgroupsPath"] = json!(p);
        }
        if !spec.annotations.is_empty() {
            c["annotations"] = json!(spec.annotations);
        }
        Ok(c)
    }

    /// Writes the bundle of container `id` (its `config.json`; the rootfs is shared).
    pub fn bundle(&self, id: &str, spec: &Spec) -> anyhow::Result<PathBuf> {
        let b = self.dir.path().join("bundles").join(id);
        std::fs::create_dir_all(&b)?;
        std::fs::write(
            b.join("config.json"),
            serde_json::to_vec_pretty(&self.config(spec)?)?,
        )?;
        Ok(b)
    }

    /// `runc run` in the foreground: waits for the container to exit (runc then deletes it)
    /// and returns its output.
    pub fn run(&self, id: &str, spec: &Spec) -> anyhow::Result<Output> {
        let b = self.bundle(id, spec)?;
        let out = self
            .command()
            .args(["run", "--bundle"])
            .arg(&b)
            .arg(id)
            .stdin(Stdio::null())
            .output()
            .context("run runc")?;
        // Normally gone already; make sure.
        let _ = self
            .command()
            .args(["delete", "-f", id])
            .stderr(Stdio::null())
            .status();
        Ok(out)
    }

    /// `runc run -d`: starts a container that keeps running (give it e.g. `sleep 600`);
    /// killed and deleted when the returned handle is dropped.
    pub fn start(&self, id: &str, spec: &Spec) -> anyhow::Result<Container> {
        let b = self.bundle(id, spec)?;
        // The detached container keeps runc's stdio: a pipe would never reach EOF, so its
        // output (and runc's errors) go to a file in the bundle.
        let log = b.join("output.log");
        let status = self
            .command()
            .args(["run", "-d", "--bundle"])
            .arg(&b)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::options().append(true).open(&log)?)
            .status()
            .context("run runc")?;
        if !status.success() {
            let _ = self
                .command()
                .args(["delete", "-f", id])
                .stderr(Stdio::null())
                .status();
            bail!(
                "runc run -d {id}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        Ok(Container {
            root: self.root(),
            id: id.to_string(),
            bundle: b,
        })
    }
}

/// A running container; dropping it kills and deletes it.
pub struct Container {
    root: PathBuf,
    id: String,
    bundle: PathBuf,
}

impl Container {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn bundle(&self) -> &Path {
        &self.bundle
    }

    fn command(&self) -> Command {
        let mut c = Command::new("runc");
        c.arg("--root").arg(&self.root);
        c
    }

    /// `runc state`: the container's state as JSON (`status`, `pid`, `bundle`, ...).
    pub fn state(&self) -> anyhow::Result<Value> {
        let out = self.command().args(["state", &self.id]).output()?;
        if !out.status.success() {
            bail!(
                "runc state {}: {}",
                self.id,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// The host pid of the container's init process.
    pub fn pid(&self) -> anyhow::Result<u32> {
        let st = self.state()?;
        st["pid"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(|| anyhow!("no pid in {st}"))
    }

    /// `runc exec`: runs `args` in the container (under its seccomp profile), waits, and
    /// returns the output.
    pub fn exec(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.command()
            .arg("exec")
            .arg(&self.id)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("run runc exec")
    }

    /// Kills and deletes the container now.
    pub fn stop(self) {}
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self
            .command()
            .args(["kill", &self.id, "KILL"])
            .stderr(Stdio::null())
            .status();
        let _ = self
            .command()
            .args(["delete", "-f", &self.id])
            .stderr(Stdio::null())
            .status();
    }
}

/// Docker's architecture names of this machine (`arches` in includes/excludes).
fn docker_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    }
}

/// libseccomp's name of this machine's architecture.
fn scmp_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "x86" => "SCMP_ARCH_X86",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// The running kernel's `major.minor`.
fn kernel_version() -> (u32, u32) {
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut it = rel
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

fn version_of(s: &str) -> (u32, u32) {
    let mut it = s.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Converts a Docker-format seccomp profile to the OCI `linux.seccomp` runc applies, the way
/// Docker does: `archMap` gives `architectures` (this machine's entry and its
/// sub-architectures); an entry's `includes`/`excludes` (`caps` against `caps`, the
/// container's bounding set; `arches`; `minKernel`) decide whether it applies; the old
/// one-`name` form becomes `names`. `defaultAction`, `defaultErrnoRet`, `architectures`,
/// `flags`, and each entry's `names`, `action`, `errnoRet`, `args` are kept.
pub fn docker_to_oci(profile: &Value, caps: &[String]) -> Value {
    let mut out = serde_json::Map::new();
    for key in ["defaultAction", "defaultErrnoRet", "architectures", "flags"] {
        if let Some(v) = profile.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    if let Some(map) = profile.get("archMap").and_then(Value::as_array) {
        let native = scmp_arch();
        if let Some(entry) = map
            .iter()
            .find(|e| e.get("architecture").and_then(Value::as_str) == Some(native))
        {
            let mut arches = vec![json!(native)];
            arches.extend(
                strings(&entry["subArchitectures"])
                    .into_iter()
                    .map(|s| json!(s)),
            );
            out.insert("architectures".into(), Value::Array(arches));
        }
    }
    let arch = docker_arch();
    let kernel = kernel_version();
    let has_cap = |c: &str| caps.iter().any(|x| x == c);
    let mut syscalls = Vec::new();
    for e in profile
        .get("syscalls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let inc = &e["includes"];
        if !strings(&inc["caps"]).iter().all(|c| has_cap(c)) {
            continue;
        }
        let arches = strings(&inc["arches"]);
        if !arches.is_empty() && !arches.contains(&arch) {
            continue;
        }
        if let Some(min) = inc["minKernel"].as_str() {
            if kernel < version_of(min) {
                continue;
            }
        }
        let exc = &e["excludes"];
        if strings(&exc["caps"]).iter().any(|c| has_cap(c))
            || strings(&exc["arches"]).contains(&arch)
        {
            continue;
        }
        let mut s = serde_json::Map::new();
        let names = match (e.get("names"), e.get("name")) {
            (Some(n), _) => n.clone(),
            (None, Some(n)) => json!([n]),
            (None, None) => continue,
        };
        s.insert("names".into(), names);
        for key in ["action", "errnoRet", "args"] {
            if let Some(v) = e.get(key).filter(|v| !v.is_null()) {
                s.insert(key.to_string(), v.clone());
            }
        }
        syscalls.push(Value::Object(s));
    }
    out.insert("syscalls".into(), Value::Array(syscalls));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_profile_conversion() {
        let p = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "archMap": [
                {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
            ],
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "x"},
                {"name": "uname", "action": "SCMP_ACT_LOG", "args": []},
                {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_KILL"]}},
                {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_KILL"]}},
                {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "arm64"]}}
            ]
        });
        let o = docker_to_oci(&p, &["CAP_KILL".to_string()]);
        assert_eq!(o["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(o["defaultErrnoRet"], 1);
        assert!(o.get("archMap").is_none());
        let names: Vec<String> = o["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["names"].to_string())
            .collect();
        assert!(names.contains(&r#"["read","write"]"#.to_string()));
        assert!(names.contains(&r#"["uname"]"#.to_string()));
        assert!(names.contains(&r#"["kill"]"#.to_string()));
        assert!(
            !names
                .iter()
                .any(|n| n.contains("bpf") || n.contains("ptrace") || n.contains("clone")),
            "{names:?}"
        );
        assert!(o["syscalls"][0].get("comment").is_none());
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(
                o["architectures"],
                json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
            );
            assert!(names.iter().any(|n| n.contains("arch_prctl")));
        }
    }
}
