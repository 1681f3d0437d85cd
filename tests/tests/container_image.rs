//! The container image and the DaemonSet, for real: `packaging/Containerfile` builds an
//! image from this build's Debian package (tests/src/package.rs) on the test world's
//! Debian rootfs image (no registry here), once per run (cached by the package's and the
//! Containerfile's content, like the test images); the pod template of
//! `packaging/kubernetes/daemonset.yaml` runs through `podman kube play` on this host; the
//! daemon in it reads the host's audit stream (a process of the test makes logged calls),
//! attributes a Podman container started beside it (under an all-LOG profile), serves
//! `/metrics` with the token of the mounted secret, and replicates into the test world's
//! PostgreSQL (checked with psql).
//!
//! What differs from the DaemonSet on a cluster (Podman 4.3's `kube play` and this host):
//! - a Pod of the DaemonSet's `spec.template` (kube play of Podman 4.3 has no DaemonSet
//!   kind); `priorityClassName`, `tolerations`, `dnsPolicy` mean nothing to Podman;
//! - the ConfigMap (a name of its own: Podman keeps it as a named volume) holds the
//!   test's config.toml (`--configmap`): the database on a
//!   temp-dir hostPath, HTTP on a free loopback port (beyond loopback it would be 9717 on
//!   every address of the host), the fleet pointing at the test world's PostgreSQL with
//!   its CA, and a node name of its own;
//! - the secret is a Podman secret holding the Kubernetes Secret (kube play mounts its
//!   keys as files, as the kubelet does), under a name of its own, its `data` values
//!   plain text (Podman 4.3 writes them as they are; a cluster decodes base64); the
//!   manifest says `optional: false`, without which Podman 4.3's kube play crashes;
//! - no `ports` (Podman refuses port mappings with the host network);
//! - `hostPID` is ignored by Podman 4.3's kube play (the pod gets a PID namespace of its
//!   own): the host's /proc is mounted at /host/proc and `attribution.proc_root` points
//!   there (the proc connector answers only in the initial PID namespace, so
//!   short-lived processes are resolved through /proc alone);
//! - the container's `seccompProfile: Unconfined` is read by Podman 4.3 from the pod
//!   annotation `seccomp.security.alpha.kubernetes.io/pod: unconfined` only: the test
//!   adds it;
//! - a secret volume's `defaultMode` is ignored (the files are 0644: the daemon warns);
//! - the image is the test build's (`localhost/seccomp-watch-test/seccomp-watch:HASH`).

mod support;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use seccomp_watch::pipeline::Item;
use seccomp_watch::store::{EventQuery, SqliteStore, Store};
use seccomp_watch_tests::engines::{Engine, Run};
use seccomp_watch_tests::{free_port, package, root_or_skip, wait_for, workspace_root, world};
use serde_json::json;
use sha2::{Digest, Sha256};
use support::*;

const TEST: &str = "the_image_runs_the_daemonset_pod_under_podman";

fn text(o: &Output) -> String {
    format!(
        "exit {}\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn podman(args: &[&str]) -> Output {
    world::podman()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("podman")
}

/// The image of `packaging/Containerfile` with the package `deb`, built at most once per
/// content (an flock serialises concurrent test runs).
fn image(deb: &Path) -> String {
    let root = workspace_root();
    let containerfile = root.join("packaging/Containerfile");
    let mut h = Sha256::new();
    h.update(std::fs::read(deb).unwrap());
    h.update(std::fs::read(&containerfile).unwrap());
    let tag = world::image(&format!(
        "seccomp-watch:{}",
        &hex::encode(h.finalize())[..12]
    ));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/tmp/seccomp-watch-image-build.lock")
        .unwrap();
    // SAFETY: flock on an fd we own; released when `lock` is closed.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    if podman(&["image", "exists", &tag]).status.success() {
        return tag;
    }
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy(deb, ctx.path().join("seccomp-watch.deb")).unwrap();
    let started = Instant::now();
    let base = format!("BASE={}", world::image("debian:bookworm"));
    let out = world::podman()
        .args([
            "build",
            "--pull=never",
            "--network=none",
            "--build-arg",
            &base,
        ])
        .arg("-f")
        .arg(&containerfile)
        .args(["-t", &tag])
        .arg(ctx.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "podman build: {}", text(&out));
    eprintln!("{TEST}: built {tag} in {:?}", started.elapsed());
    tag
}

/// The YAML documents of `path`.
fn yaml_docs(path: &Path) -> Vec<serde_yaml::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn kind_of<'a>(docs: &'a [serde_yaml::Value], kind: &str) -> &'a serde_yaml::Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} in daemonset.yaml"))
}

fn y(v: serde_json::Value) -> serde_yaml::Value {
    serde_yaml::to_value(v).unwrap()
}

/// The pod, removed with its secret when dropped.
struct Pod {
    name: String,
    secret: String,
    configmap: String,
}

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = podman(&["pod", "rm", "-f", "-t", "5", &self.name]);
        let _ = podman(&["secret", "rm", &self.secret]);
        let _ = podman(&["volume", "rm", "-f", &self.configmap]);
    }
}

/// GET `path` with a bearer token: (status, body).
fn get_with_token(port: u16, path: &str, token: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    Some((head.split(' ').nth(1)?.parse().ok()?, body.to_string()))
}

/// The stored events of container `id` (with their attribution).
fn items_of(db: &Path, id: &str) -> Vec<Item> {
    if !db.is_file() {
        return Vec::new();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let Ok(store) = SqliteStore::open_existing(db).await else {
            return Vec::new();
        };
        let page = store
            .events(&EventQuery {
                container: Some(id.to_string()),
                limit: 0,
                ..Default::default()
            })
            .await
            .unwrap_or_default();
        store.close().await;
        page.events.into_iter().map(|e| e.item).collect()
    })
}

/// `psql URL -tAc SQL` (None when it fails).
fn psql(url: &str, sql: &str) -> Option<String> {
    let pg_bin = world::var("SECCOMP_WATCH_TEST_PG_BIN").map(PathBuf::from);
    let psql = pg_bin
        .map(|b| b.join("psql"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("psql"));
    let out = Command::new(psql)
        .args([url, "-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn the_image_runs_the_daemonset_pod_under_podman() {
    if !root_or_skip(TEST) || !world::podman_or_skip(TEST) {
        return;
    }
    let Some(deb) = package::deb_or_skip(TEST) else {
        return;
    };
    let pg = world::postgres_or_skip(TEST);
    let tag = image(&deb);

    let tmp = tempfile::Builder::new()
        .prefix("sw-image-")
        .tempdir()
        .unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let id = format!(
        "{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() % 1000
    );
    let node = format!("image-test-{id}");
    let port = free_port();
    let token = format!("token-{id}-{}", "x".repeat(24));

    // The fleet database of this test: its own database in the test world's PostgreSQL.
    let mut fleet = String::new();
    let mut secret_data = json!({ "http-token": token });
    let fleet_db = pg.as_ref().map(|url| {
        let db = format!("sw_image_{}", id.replace('-', "_"));
        psql(url, &format!("CREATE DATABASE {db}")).expect("create database");
        let (base, _) = url.rsplit_once('/').unwrap();
        let (scheme_user, host) = base.rsplit_once('@').unwrap();
        let (user_part, password) = scheme_user.rsplit_once(':').unwrap();
        let ca = world::postgres_ca().expect("the test world's PostgreSQL CA");
        fleet = format!(
            "\n[fleet]\npostgres = \"{user_part}@{host}/{db}\"\npassword_file = \"/etc/seccomp-watch/secrets/fleet-password\"\nsslmode = \"verify-ca\"\nca_file = \"/etc/seccomp-watch/secrets/fleet-ca.pem\"\nnode = \"{node}\"\ninterval_ms = 200\n"
        );
        secret_data["fleet-password"] = json!(password);
        secret_data["fleet-ca.pem"] = json!(std::fs::read_to_string(ca).unwrap());
        (url.clone(), format!("{base}/{db}"), db)
    });

    // The DaemonSet's documents, made into what kube play runs.
    let docs = yaml_docs(&workspace_root().join("packaging/kubernetes/daemonset.yaml"));
    let mut cm = kind_of(&docs, "ConfigMap").clone();
    let shipped_cfg = cm["data"]["config.toml"].as_str().unwrap().to_string();
    // The shipped config is a valid config (its secrets aside).
    seccomp_watch::config::Config::parse(&shipped_cfg).expect("the DaemonSet's config.toml");
    let cfg = format!(
        "db = \"/var/lib/seccomp-watch/seccomp-watch.db\"\nsources = [\"netlink\"]\nsandbox = \"log\"\nnode = \"{node}\"\n\n[http]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"/etc/seccomp-watch/secrets/http-token\"\n\n[attribution]\nproc_root = \"/host/proc\"\n{fleet}"
    );
    cm["data"]["config.toml"] = serde_yaml::Value::String(cfg);
    // Podman keeps a ConfigMap as a named volume: one of this run's own.
    let cm_name = format!("sw-image-config-{id}");
    cm["metadata"]["name"] = serde_yaml::Value::String(cm_name.clone());
    let cm_path = tmp.path().join("configmap.yaml");
    std::fs::write(&cm_path, serde_yaml::to_string(&cm).unwrap()).unwrap();

    let ds = kind_of(&docs, "DaemonSet");
    let template = &ds["spec"]["template"];
    let mut spec = template["spec"].clone();
    assert_eq!(spec["hostNetwork"].as_bool(), Some(true));
    assert_eq!(spec["hostPID"].as_bool(), Some(true));
    let secret_name = format!("sw-image-secret-{id}");
    let c = &mut spec["containers"][0];
    c["image"] = serde_yaml::Value::String(tag.clone());
    // Podman refuses port mappings on the host network (Kubernetes takes them as
    // documentation there).
    assert!(c["ports"].is_sequence());
    c.as_mapping_mut().unwrap().remove("ports");
    let caps = &c["securityContext"]["capabilities"];
    assert_eq!(caps["drop"], y(json!(["ALL"])));
    assert_eq!(
        caps["add"],
        y(json!(["AUDIT_READ", "NET_ADMIN", "DAC_READ_SEARCH"]))
    );
    // hostPID, which Podman 4.3 ignores: the host's /proc where attribution reads it.
    c["volumeMounts"].as_sequence_mut().unwrap().push(y(
        json!({"name": "host-proc", "mountPath": "/host/proc", "readOnly": true}),
    ));
    spec["volumes"].as_sequence_mut().unwrap().push(y(
        json!({"name": "host-proc", "hostPath": {"path": "/proc", "type": "Directory"}}),
    ));
    for v in spec["volumes"].as_sequence_mut().unwrap() {
        match v["name"].as_str().unwrap() {
            "state" => {
                v["hostPath"]["path"] = serde_yaml::Value::String(state.display().to_string())
            }
            "config" => {
                v["configMap"]["name"] = serde_yaml::Value::String(cm_name.clone());
            }
            "secrets" => {
                v["secret"]["secretName"] = serde_yaml::Value::String(secret_name.clone());
                // Podman 4.3's kube play crashes on a secret volume without `optional`.
                assert_eq!(v["secret"]["optional"].as_bool(), Some(false));
            }
            _ => {}
        }
    }
    // seccompProfile Unconfined, which Podman 4.3 reads from the pod annotation only.
    let c = &spec["containers"][0];
    assert_eq!(
        c["securityContext"]["seccompProfile"]["type"].as_str(),
        Some("Unconfined")
    );
    let mut annotations = template["metadata"]["annotations"].clone();
    annotations["seccomp.security.alpha.kubernetes.io/pod"] = y(json!("unconfined"));
    assert_eq!(annotations["prometheus.io/scrape"].as_str(), Some("true"));
    let pod_name = format!("sw-image-{id}");
    let pod_yaml = y(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "labels": serde_json::to_value(&template["metadata"]["labels"]).unwrap(),
            "annotations": serde_json::to_value(&annotations).unwrap(),
        },
        "spec": serde_json::to_value(&spec).unwrap(),
    }));
    let pod_path = tmp.path().join("pod.yaml");
    std::fs::write(&pod_path, serde_yaml::to_string(&pod_yaml).unwrap()).unwrap();

    // The secret: a Kubernetes Secret in a Podman secret.
    let secret_yaml = y(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": secret_name },
        // Podman 4.3 writes `data` values to the files as they are (a cluster decodes
        // them from base64).
        "data": secret_data,
    }));
    let secret_path = tmp.path().join("secret.yaml");
    std::fs::write(&secret_path, serde_yaml::to_string(&secret_yaml).unwrap()).unwrap();
    let out = podman(&[
        "secret",
        "create",
        &secret_name,
        secret_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "podman secret create: {}", text(&out));
    let pod = Pod {
        name: pod_name.clone(),
        secret: secret_name.clone(),
        configmap: cm_name.clone(),
    };

    let out = podman(&[
        "kube",
        "play",
        "--configmap",
        cm_path.to_str().unwrap(),
        pod_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "podman kube play: {}", text(&out));
    let ctr = format!("{pod_name}-seccomp-watch");
    let logs = || text(&podman(&["logs", &ctr]));
    let running = wait_for(Duration::from_secs(60), || {
        logs().contains("seccomp-watch: running;").then_some(())
    });
    assert!(
        running.is_some(),
        "the daemon in the pod did not start:\n{}",
        logs()
    );

    // The pod has what the template says.
    let out = podman(&["inspect", &ctr]);
    assert!(out.status.success(), "{}", text(&out));
    let insp: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hc = &insp[0]["HostConfig"];
    assert_eq!(hc["NetworkMode"], "host", "{hc}");
    // Podman 4.3 gives the pod its own PID namespace whatever hostPID says (see the top).
    let mut caps: Vec<String> = insp[0]["EffectiveCaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    caps.sort();
    assert_eq!(
        caps,
        ["CAP_AUDIT_READ", "CAP_DAC_READ_SEARCH", "CAP_NET_ADMIN"],
        "{}",
        insp[0]["EffectiveCaps"]
    );
    assert!(
        hc["Memory"].as_i64().unwrap_or(0) > 0,
        "no memory limit: {hc}"
    );

    // Records of a host process arrive.
    let demo = demo_copy(tmp.path(), "demo-image", false);
    let pid = run_demo(&demo, &["-a", "log", "-n", "5"]);
    let db = state.join("seccomp-watch.db");
    let got = wait_stored(&db, 5, Duration::from_secs(30), |s| s.event.pid == pid);
    assert_eq!(got.len(), 5, "the host process's records\n{}", logs());

    // A Podman container beside it, attributed.
    let prof = tmp.path().join("log-all.json");
    std::fs::write(
        &prof,
        serde_json::to_vec(&json!({"defaultAction": "SCMP_ACT_LOG",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]}))
        .unwrap(),
    )
    .unwrap();
    let r = Run::new(Engine::Podman, "busybox:latest", &["ls", "-la", "/"])
        .profile(&prof)
        .run()
        .unwrap();
    assert!(r.output.status.success(), "{}", r.stderr());
    let items = wait_for(Duration::from_secs(30), || {
        let items = items_of(&db, &r.id);
        items
            .iter()
            .any(|i| i.event.comm.as_deref() == Some("ls"))
            .then_some(items)
    })
    .unwrap_or_else(|| panic!("no events of container {}\n{}", r.id, logs()));
    for i in &items {
        let c = i.attribution.container.as_ref().expect("container");
        assert_eq!(c.runtime, "podman", "{c:?}");
        assert_eq!(
            c.image.as_deref(),
            Some(world::image("busybox:latest").as_str()),
            "{c:?}"
        );
        assert_eq!(
            i.attribution.workload,
            "podman:localhost/seccomp-watch-test/busybox"
        );
        assert!(i.attribution.profile_hash.is_some(), "{i:?}");
    }

    // /metrics with the token of the mounted secret, and not without it.
    let (status, body) = get_with_token(port, "/metrics", &token).expect("metrics");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("seccomp_watch_events_total"), "{body}");
    let (status, _) = get_with_token(port, "/metrics", "wrong").expect("metrics");
    assert_eq!(status, 401);

    // Replicated into PostgreSQL: the container's events, once each.
    if let Some((admin, url, name)) = &fleet_db {
        let sql = format!(
            "SELECT count(*) FROM events e JOIN nodes n ON n.id = e.node \
             JOIN attributions a ON a.node = e.node AND a.id = e.attrib \
             JOIN containers c ON c.node = e.node AND c.id = a.container \
             WHERE n.name = '{node}' AND c.container_id = '{}'",
            r.id
        );
        let want = items.len().to_string();
        let replicated = wait_for(Duration::from_secs(60), || {
            psql(url, &sql).filter(|n| *n == want)
        });
        assert!(
            replicated.is_some(),
            "{} of {want} events in PostgreSQL\n{}",
            psql(url, &sql).unwrap_or_default(),
            logs()
        );
        drop(pod);
        let _ = psql(
            admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
    }
}
