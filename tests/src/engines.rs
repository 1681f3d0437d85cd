//! The real container engines for the end-to-end tests, on the test world of
//! [`crate::world`]: Podman (with the world's `CONTAINERS_CONF`), Docker, containerd through
//! `ctr` (namespace [`crate::world::ctr_namespace`]) and `podman kube play`.
//!
//! ```no_run
//! use seccomp_watch_tests::engines::{Engine, Run};
//! let run = Run::new(Engine::Podman, "busybox:latest", &["ls", "-la", "/"])
//!     .profile("/tmp/log-all.json".as_ref());
//! let out = run.run().unwrap();          // foreground, removed afterwards; out.id is its id
//! let c = Run::new(Engine::Docker, "busybox:latest", &["sleep", "600"]).start().unwrap();
//! let o = c.exec(&["uname"]).unwrap();    // under the container's profile
//! drop(c);                               // killed and removed
//! ```
//!
//! Every container gets a unique name (`sw-test-...`), so tests running beside each other
//! (and beside other engineers' containers) never touch each other's; a test stops only the
//! containers it started.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, bail, Context};

use crate::world;

/// A container engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Podman,
    Docker,
    /// containerd, driven by `ctr` in the test namespace.
    Ctr,
}

impl Engine {
    /// The engine is there (root, the daemon reachable, the test images), or a skip (a
    /// failure under `SECCOMP_WATCH_REQUIRE_ROOT_TESTS=1`).
    pub fn available(self, test: &str) -> bool {
        match self {
            Engine::Podman => world::podman_or_skip(test),
            Engine::Docker => world::docker_or_skip(test),
            Engine::Ctr => world::containerd_or_skip(test),
        }
    }

    /// The runtime name attribution gives this engine's containers.
    pub fn runtime(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::Docker => "docker",
            Engine::Ctr => "containerd",
        }
    }

    /// The engine's command line tool, with the test world's settings.
    pub fn command(self) -> Command {
        match self {
            Engine::Podman => world::podman(),
            Engine::Docker => Command::new("docker"),
            Engine::Ctr => {
                let mut c = Command::new("ctr");
                c.args(["-n", &world::ctr_namespace()]);
                c
            }
        }
    }
}

/// A name unique to this process and call: `sw-test-TAG-PID-N`.
pub fn unique_name(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "sw-test-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A 64-hex container id for `ctr` (its cgroup is `/<namespace>/<id>`).
fn ctr_id(name: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(name.as_bytes()))
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Run {
    pub engine: Engine,
    /// A test image (see [`world::image`]), e.g. `busybox:latest`.
    pub image: String,
    pub args: Vec<String>,
    /// A seccomp profile file (Docker/OCI JSON); none: the engine's default.
    pub profile: Option<PathBuf>,
    pub name: String,
    pub labels: Vec<(String, String)>,
    /// Docker's `--cgroup-parent`.
    pub cgroup_parent: Option<String>,
}

/// A finished foreground run.
#[derive(Debug)]
pub struct Finished {
    pub id: String,
    pub name: String,
    pub output: Output,
}

impl Finished {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

impl Run {
    pub fn new(engine: Engine, image: &str, args: &[&str]) -> Run {
        Run {
            engine,
            image: world::image(image),
            args: args.iter().map(|a| a.to_string()).collect(),
            profile: None,
            name: unique_name(match engine {
                Engine::Podman => "podman",
                Engine::Docker => "docker",
                Engine::Ctr => "ctr",
            }),
            labels: Vec::new(),
            cgroup_parent: None,
        }
    }

    pub fn profile(mut self, p: &Path) -> Run {
        self.profile = Some(p.to_path_buf());
        self
    }

    pub fn label(mut self, k: &str, v: &str) -> Run {
        self.labels.push((k.to_string(), v.to_string()));
        self
    }

    pub fn cgroup_parent(mut self, p: &str) -> Run {
        self.cgroup_parent = Some(p.to_string());
        self
    }

    /// The engine's command for this run; `detach`: in the background.
    fn command(&self, detach: bool, cidfile: &Path) -> Command {
        let mut c = self.engine.command();
        match self.engine {
            Engine::Podman | Engine::Docker => {
                c.arg("run");
                if detach {
                    c.arg("-d");
                } else {
                    c.arg("--rm");
                }
                c.arg("--name")
                    .arg(&self.name)
                    .arg("--cidfile")
                    .arg(cidfile);
                c.args(["--network", "none"]);
                if let Some(p) = &self.profile {
                    c.arg("--security-opt")
                        .arg(format!("seccomp={}", p.display()));
                }
                for (k, v) in &self.labels {
                    c.arg("--label").arg(format!("{k}={v}"));
                }
                if let Some(p) = &self.cgroup_parent {
                    c.arg("--cgroup-parent").arg(p);
                }
                c.arg(&self.image).args(&self.args);
            }
            Engine::Ctr => {
                c.arg("run");
                if detach {
                    c.arg("-d");
                } else {
                    c.arg("--rm");
                }
                if let Some(p) = &self.profile {
                    c.arg("--seccomp").arg("--seccomp-profile").arg(p);
                }
                for (k, v) in &self.labels {
                    c.arg("--label").arg(format!("{k}={v}"));
                }
                c.arg(&self.image).arg(ctr_id(&self.name)).args(&self.args);
            }
        }
        c.stdin(Stdio::null());
        c
    }

    fn cidfile(&self) -> PathBuf {
        std::env::temp_dir().join(format!("{}.cid", self.name))
    }

    /// Runs in the foreground, waits, and returns the output (the container is removed).
    pub fn run(&self) -> anyhow::Result<Finished> {
        let cidfile = self.cidfile();
        let _ = std::fs::remove_file(&cidfile);
        let output = self
            .command(false, &cidfile)
            .output()
            .with_context(|| format!("run {:?}", self.engine))?;
        let id = match self.engine {
            Engine::Ctr => ctr_id(&self.name),
            _ => std::fs::read_to_string(&cidfile)
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        };
        let _ = std::fs::remove_file(&cidfile);
        self.remove(&id);
        Ok(Finished {
            id,
            name: self.name.clone(),
            output,
        })
    }

    /// Starts in the background (give it e.g. `sleep 600`); killed and removed when the
    /// handle is dropped.
    pub fn start(&self) -> anyhow::Result<Container> {
        let cidfile = self.cidfile();
        let _ = std::fs::remove_file(&cidfile);
        let out = self
            .command(true, &cidfile)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("start {:?}", self.engine))?;
        let id = match self.engine {
            Engine::Ctr => ctr_id(&self.name),
            _ => std::fs::read_to_string(&cidfile)
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        };
        let _ = std::fs::remove_file(&cidfile);
        if !out.status.success() {
            self.remove(&id);
            bail!(
                "{:?} run -d {}: {}",
                self.engine,
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(Container {
            engine: self.engine,
            id,
            name: self.name.clone(),
        })
    }

    fn remove(&self, id: &str) {
        remove(self.engine, id, &self.name);
    }
}

fn quiet(mut c: Command) {
    let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Removes container `id` / `name` of `engine` (whatever state it is in).
fn remove(engine: Engine, id: &str, name: &str) {
    match engine {
        Engine::Podman | Engine::Docker => {
            let mut c = engine.command();
            c.args(["rm", "-f", if id.is_empty() { name } else { id }]);
            quiet(c);
        }
        Engine::Ctr => {
            let mut k = engine.command();
            k.args(["task", "kill", "-s", "KILL", id]);
            quiet(k);
            for _ in 0..50 {
                let mut t = engine.command();
                t.args(["task", "rm", "-f", id]);
                quiet(t);
                let mut c = engine.command();
                c.args(["containers", "rm", id]);
                if c.stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
                {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

/// A running container; dropping it kills and removes it.
#[derive(Debug)]
pub struct Container {
    pub engine: Engine,
    pub id: String,
    pub name: String,
}

impl Container {
    /// Runs `args` in the container (under its profile) and waits.
    pub fn exec(&self, args: &[&str]) -> anyhow::Result<Output> {
        let mut c = self.engine.command();
        match self.engine {
            Engine::Podman | Engine::Docker => {
                c.arg("exec").arg(&self.id).args(args);
            }
            Engine::Ctr => {
                c.args(["task", "exec", "--exec-id", &unique_name("x")])
                    .arg(&self.id)
                    .args(args);
            }
        }
        c.stdin(Stdio::null()).output().context("exec")
    }

    /// The host pid of the container's first process.
    pub fn pid(&self) -> anyhow::Result<u32> {
        let out = match self.engine {
            Engine::Podman | Engine::Docker => {
                let mut c = self.engine.command();
                c.args(["inspect", "-f", "{{.State.Pid}}", &self.id]);
                c.output()?
            }
            Engine::Ctr => {
                let mut c = self.engine.command();
                c.args(["task", "ls"]);
                let o = c.output()?;
                let text = String::from_utf8_lossy(&o.stdout).into_owned();
                let pid = text
                    .lines()
                    .find(|l| l.starts_with(&self.id))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .ok_or_else(|| anyhow!("no task {} in {text}", self.id))?;
                return Ok(pid.parse()?);
            }
        };
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|e| anyhow!("pid of {}: {e}", self.id))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        remove(self.engine, &self.id, &self.name);
    }
}

/// A pod of `podman kube play`; `podman kube down` when dropped.
#[derive(Debug)]
pub struct KubePod {
    pub yaml: PathBuf,
    pub name: String,
}

impl KubePod {
    /// `podman kube play --seccomp-profile-root ROOT YAML` of a one-container pod `name`
    /// (container `container`, running `args` in test image `image`), its pod annotated
    /// `seccomp.security.alpha.kubernetes.io/pod: localhost/PROFILE` (the one annotation
    /// Podman honours) when `profile` (a file name in ROOT) is given.
    pub fn play(
        dir: &Path,
        name: &str,
        container: &str,
        image: &str,
        args: &[&str],
        profile: Option<(&Path, &str)>,
    ) -> anyhow::Result<KubePod> {
        let ann = match profile {
            Some((_, file)) => format!(
                "  annotations:\n    seccomp.security.alpha.kubernetes.io/pod: localhost/{file}\n"
            ),
            None => String::new(),
        };
        let args_json = serde_json::to_string(args)?;
        let yaml = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n{ann}spec:\n  restartPolicy: Never\n  containers:\n  - name: {container}\n    image: {}\n    command: {args_json}\n",
            world::image(image)
        );
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, yaml)?;
        let mut c = world::podman();
        c.args(["kube", "play", "--network", "none"]);
        if let Some((root, _)) = profile {
            c.arg("--seccomp-profile-root").arg(root);
        }
        let out = c.arg(&path).stdin(Stdio::null()).output()?;
        let pod = KubePod {
            yaml: path,
            name: name.to_string(),
        };
        if !out.status.success() {
            bail!("podman kube play: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(pod)
    }

    /// The full id of the pod's container `container` (`POD-CONTAINER`).
    pub fn container_id(&self, container: &str) -> anyhow::Result<String> {
        let mut c = world::podman();
        c.args([
            "inspect",
            "-f",
            "{{.Id}}",
            &format!("{}-{container}", self.name),
        ]);
        let out = c.output()?;
        if !out.status.success() {
            bail!("podman inspect: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for KubePod {
    fn drop(&mut self) {
        let mut c = world::podman();
        c.args(["kube", "down"]).arg(&self.yaml);
        quiet(c);
    }
}
