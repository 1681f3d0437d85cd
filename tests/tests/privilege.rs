//! Least privilege, as the shipped unit runs the daemon: not root (uid 65534 through
//! `setpriv`, standing in for the unit's dynamic user) with only the unit's ambient
//! capabilities, or root without CAP_AUDIT_CONTROL.
//! - Without CAP_AUDIT_CONTROL the kernel's audit status is not read: the daemon says so
//!   once, `kernel_audit_status_up` is 0 and the `kernel_audit_*` gauges are left out
//!   (a 0 would read as "nothing lost").
//! - The initial-network-namespace check works without reading `/proc/1/ns/net` (which a
//!   dynamic user may not), and still tells a private network namespace apart.
//! - Runtime state the service user cannot read is said once at start and counted.
//! - `doctor` tests access as the service user would (the unit's capabilities, another
//!   uid), and says what a missing capability costs.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use seccomp_watch_tests::runc::{Runc, Spec};
use seccomp_watch_tests::{
    bin, free_port, http_get, root_or_skip, scrape_value, tool_or_skip, wait_for, workspace_root,
};
use serde_json::{json, Value};
use support::*;

/// `setpriv` arguments: uid/gid 65534, no groups, exactly `caps` (e.g. "audit_read")
/// inheritable and ambient, as systemd's AmbientCapabilities= gives them.
fn as_service_user(caps: &[&str]) -> Vec<String> {
    let list = caps
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut v = vec![
        "setpriv".to_string(),
        "--reuid=65534".into(),
        "--regid=65534".into(),
        "--clear-groups".into(),
    ];
    if !caps.is_empty() {
        v.push(format!("--inh-caps={list}"));
        v.push(format!("--ambient-caps={list}"));
    }
    v.push("--".into());
    v
}

/// A directory the service user may write (its database).
fn service_dir(parent: &Path, name: &str) -> std::path::PathBuf {
    let d = parent.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
    // The parent (a 0700 temp dir) must be searchable for uid 65534.
    std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

fn metrics(port: u16) -> String {
    http_get(port, "/metrics")
        .filter(|(st, _)| *st == 200)
        .map(|(_, b)| b)
        .unwrap_or_default()
}

/// Item 8: root without CAP_AUDIT_CONTROL (as under the unit): no audit status, said once;
/// the gauges are left out and `kernel_audit_status_up` is 0. With it: 1 and the gauges.
#[test]
fn without_cap_audit_control_the_audit_status_is_left_out() {
    const TEST: &str = "without_cap_audit_control_the_audit_status_is_left_out";
    if !root_or_skip(TEST) || !tool_or_skip(TEST, "setpriv") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let config =
        format!("[http]\nlisten = \"127.0.0.1:{port}\"\n\n[netlink]\nstatus_interval_secs = 1\n");
    let d = Daemon::spawn_wrapped(
        &["setpriv", "--bounding-set=-audit_control", "--"],
        &tmp.path().join("without"),
        &config,
        &["--source", "netlink"],
    )
    .wait_running();
    let scrape = wait_for(Duration::from_secs(10), || {
        let m = metrics(port);
        m.contains("seccomp_watch_kernel_audit_status_up")
            .then_some(m)
    })
    .unwrap_or_else(|| {
        panic!(
            "no kernel_audit_status_up:\n{}\n{}",
            metrics(port),
            d.output()
        )
    });
    // Two status intervals: the poller had its chance.
    std::thread::sleep(Duration::from_millis(2500));
    let scrape = format!("{scrape}\n{}", metrics(port));
    assert!(
        scrape
            .lines()
            .all(|l| !l.starts_with("seccomp_watch_kernel_audit_status_up ")
                || l == "seccomp_watch_kernel_audit_status_up 0"),
        "{scrape}"
    );
    for g in [
        "seccomp_watch_kernel_audit_enabled ",
        "seccomp_watch_kernel_audit_backlog ",
        "seccomp_watch_kernel_audit_backlog_limit ",
        "seccomp_watch_kernel_audit_lost ",
    ] {
        assert!(
            !scrape.lines().any(|l| l.starts_with(g)),
            "{g}is exported without a status:\n{scrape}"
        );
    }
    let out = d.output();
    let said: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("CAP_AUDIT_CONTROL"))
        .collect();
    assert_eq!(said.len(), 1, "said not exactly once:\n{out}");
    assert!(
        said[0].contains("kernel_lost"),
        "the cost is not said: {}",
        said[0]
    );
    drop(d);

    // Root with every capability: the status is read.
    let port = free_port();
    let config =
        format!("[http]\nlisten = \"127.0.0.1:{port}\"\n\n[netlink]\nstatus_interval_secs = 1\n");
    let d = Daemon::start(&tmp.path().join("with"), &config, &["--source", "netlink"]);
    let up = wait_for(Duration::from_secs(10), || {
        let m = metrics(port);
        (scrape_value(&m, "seccomp_watch_kernel_audit_status_up") == Some(1.0)).then_some(m)
    })
    .unwrap_or_else(|| panic!("status never up:\n{}\n{}", metrics(port), d.output()));
    let limit = scrape_value(&up, "seccomp_watch_kernel_audit_backlog_limit");
    assert!(limit.is_some_and(|l| l > 0.0), "{up}");
    assert!(scrape_value(&up, "seccomp_watch_kernel_audit_lost").is_some());
}

/// Item 9: as uid 65534 with the unit's capabilities, `/proc/1/ns/net` cannot be read;
/// the check decides anyway (no warning), and a private network namespace is refused.
#[test]
fn the_netns_check_needs_no_access_to_pid_1() {
    const TEST: &str = "the_netns_check_needs_no_access_to_pid_1";
    if !root_or_skip(TEST) || !tool_or_skip(TEST, "setpriv") || !tool_or_skip(TEST, "unshare") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = service_dir(tmp.path(), "host");
    let wrapper = as_service_user(&["audit_read", "net_admin", "dac_read_search"]);
    let w: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let d = Daemon::spawn_wrapped(&w, &dir, BASE_CONFIG, &["--source", "netlink"]).wait_running();
    // The daemon runs as 65534 and cannot read pid 1's namespace link.
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
    assert!(status.contains("Uid:\t65534"), "{status}");
    let out = d.output();
    assert!(
        !out.contains("cannot tell whether this is the initial network namespace"),
        "{out}"
    );
    assert!(out.contains("netlink: on"), "{out}");
    drop(d);

    // In a network namespace of its own, netlink is refused with the reason.
    let dir = service_dir(tmp.path(), "private");
    let mut wrapped = vec!["unshare", "-n"];
    wrapped.extend(&w);
    let mut d = Daemon::spawn_wrapped(&wrapped, &dir, BASE_CONFIG, &["--source", "netlink"]);
    let st = d.wait_exit(Duration::from_secs(30));
    let out = d.output();
    assert!(!st.success(), "netlink ran in a private netns:\n{out}");
    assert!(
        out.contains("not in the initial network namespace"),
        "{out}"
    );
}

/// Item 9: runtime state that the service user cannot read (no CAP_DAC_READ_SEARCH, a
/// root-only 0700 directory): said once at start, and each container lookup that met it is
/// counted.
#[test]
fn unreadable_runtime_state_is_said_once_and_counted() {
    const TEST: &str = "unreadable_runtime_state_is_said_once_and_counted";
    if !root_or_skip(TEST) || !tool_or_skip(TEST, "setpriv") || !tool_or_skip(TEST, "runc") {
        return;
    }
    let runc = Runc::with_exe("/bin/privstate-bb").unwrap();
    let root = runc.root();
    // As runc's own default root (/run/runc) is: 0700 root.
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = service_dir(tmp.path(), "d");
    let port = free_port();
    let config = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n\n[attribution]\nrunc_roots = [\"{}\"]\n",
        root.display()
    );
    let wrapper = as_service_user(&["audit_read", "net_admin"]);
    let w: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let d = Daemon::spawn_wrapped(&w, &dir, &config, &["--source", "netlink"]).wait_running();
    let out = d.output();
    let said: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(&*root.to_string_lossy()) && l.contains("cannot read"))
        .collect();
    assert_eq!(said.len(), 1, "not said exactly once at start:\n{out}");

    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_LOG"}]});
    // A Docker-shaped cgroup, so that the record is tied to this container id and its
    // metadata looked up in the runc root.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let id = seccomp_watch::attrib::runtime::sha256_hex(
        format!("privstate-{}-{nanos}", std::process::id()).as_bytes(),
    );
    let c = runc
        .start(
            &id,
            &Spec::new(&["sleep", "30"])
                .seccomp(profile)
                .cgroups_path(format!("/docker/{id}")),
        )
        .unwrap();
    let out1 = c.exec(&["uname"]).unwrap();
    assert!(out1.status.success());
    let counted = wait_for(Duration::from_secs(20), || {
        let m = metrics(port);
        scrape_value(&m, "seccomp_watch_runtime_state_unreadable_total").filter(|v| *v >= 1.0)
    });
    assert!(
        counted.is_some(),
        "lookups not counted:\n{}\n{}",
        metrics(port),
        d.output()
    );
    // Still said once, not per lookup.
    let out = d.output();
    let n = out
        .lines()
        .filter(|l| l.contains(&*root.to_string_lossy()) && l.contains("cannot read"))
        .count();
    assert_eq!(n, 1, "{out}");
}

/// The shipped unit with `drop` removed from its capability lines.
fn unit_without(dir: &Path, drop: &str) -> std::path::PathBuf {
    let text =
        std::fs::read_to_string(workspace_root().join("packaging/seccomp-watch.service")).unwrap();
    let edited: String = text
        .lines()
        .map(|l| {
            if l.starts_with("AmbientCapabilities=") || l.starts_with("CapabilityBoundingSet=") {
                l.replace(&format!(" {drop}"), "")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(edited, text, "{drop} not in the unit");
    let p = dir.join(format!("without-{drop}.service"));
    std::fs::write(&p, edited).unwrap();
    p
}

fn doctor(config: &Path, unit: Option<&Path>) -> Value {
    let mut c = Command::new(bin());
    c.args(["doctor", "--json", "--no-probe", "--config"])
        .arg(config);
    if let Some(u) = unit {
        c.arg("--unit").arg(u);
    }
    let out = c.output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn findings<'a>(v: &'a Value, check: &str) -> Vec<&'a Value> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == check)
        .collect()
}

/// Items 8 and 9: `doctor` (as root) tests the runtime state and audit.log as the service
/// user would read them (uid 65534 with the unit's capabilities), and says what the
/// unit's missing CAP_AUDIT_CONTROL costs.
#[test]
fn doctor_checks_access_as_the_service_user() {
    const TEST: &str = "doctor_checks_access_as_the_service_user";
    if !root_or_skip(TEST) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Root-only state, as runc and auditd keep it.
    let private = tmp.path().join("private");
    std::fs::create_dir_all(private.join("runc/abc")).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let log = private.join("audit.log");
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = tmp.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "db = \"{}/sw.db\"\n[audit_log]\npath = \"{}\"\n[attribution]\nrunc_roots = [\"{}/runc\"]\n",
            tmp.path().display(),
            log.display(),
            private.display()
        ),
    )
    .unwrap();

    // The shipped unit: CAP_DAC_READ_SEARCH reads both; CAP_AUDIT_CONTROL is withheld and
    // its cost said.
    let shipped = workspace_root().join("packaging/seccomp-watch.service");
    let v = doctor(&cfg, Some(&shipped));
    let svc = findings(&v, "service");
    assert_eq!(svc.len(), 1, "{v:#}");
    assert!(
        svc[0]["detail"]
            .as_str()
            .unwrap()
            .contains("CAP_AUDIT_READ"),
        "{v:#}"
    );
    for f in findings(&v, "service-runtimes")
        .into_iter()
        .chain(findings(&v, "service-audit-log"))
    {
        assert_eq!(f["level"], "ok", "{f}");
    }
    assert!(!findings(&v, "service-runtimes").is_empty(), "{v:#}");
    assert!(!findings(&v, "service-audit-log").is_empty(), "{v:#}");
    let cost = findings(&v, "service-audit-status");
    assert_eq!(cost.len(), 1, "{v:#}");
    let detail = cost[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("CAP_AUDIT_CONTROL") && detail.contains("kernel_lost"),
        "{detail}"
    );
    assert!(cost[0]["fix"]
        .as_str()
        .unwrap()
        .contains("AmbientCapabilities="));

    // A unit without CAP_DAC_READ_SEARCH: the service user cannot read them; root can.
    let unit = unit_without(tmp.path(), "CAP_DAC_READ_SEARCH");
    let v = doctor(&cfg, Some(&unit));
    let rt = findings(&v, "service-runtimes");
    assert!(
        rt.iter().any(|f| f["level"] == "warn"
            && f["detail"]
                .as_str()
                .unwrap()
                .contains(&*private.join("runc").to_string_lossy())),
        "{v:#}"
    );
    let al = findings(&v, "service-audit-log");
    assert!(al.iter().any(|f| f["level"] == "warn"), "{v:#}");
    assert_eq!(v["exit_code"], 1, "warnings make exit code 1: {v:#}");
}
