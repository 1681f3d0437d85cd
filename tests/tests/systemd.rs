//! The Debian package under a real systemd: this build's `.deb` (tests/src/package.rs)
//! installed into a Podman container that runs systemd 252 as PID 1 on the host network
//! (`--systemd=always --network host`), so the daemon inside reads the host's audit
//! multicast stream. Then: `systemctl start` returns once the daemon sent READY=1, the
//! watchdog pings, records of a process on the host arrive, `systemctl reload` re-reads the
//! rules (a bad file keeps the old ones and is logged at priority err), a SIGSTOPped daemon
//! is killed by the watchdog and restarted with its database intact, `systemctl stop`
//! ends it cleanly, `systemd-analyze security` rates the unit at most 2.0, the journal
//! holds plain text with warning priorities, and `dpkg --purge` removes the state.
//!
//! What differs from a real host (and why the container gets what it gets):
//! - the container's bounding set: Podman's default plus CAP_SYS_ADMIN (systemd needs it
//!   for the unit's mount namespace: ProtectSystem=, PrivateTmp=, ...; without it the
//!   service fails at step NAMESPACE) and the capabilities the unit grants
//!   (CAP_AUDIT_READ, CAP_NET_ADMIN, CAP_DAC_READ_SEARCH) plus CAP_AUDIT_CONTROL, which a
//!   real host's systemd has too, so that it is the unit that withholds it;
//! - the container has its own PID namespace: the kernel answers AUDIT_GET and the proc
//!   connector only in the initial one, so the audit status is not read and records are
//!   unattributed (their pids are the host's);
//! - `--ulimit host`: the test world's Podman caps nofile at 4096; the unit may ask more;
//! - the watchdog is shortened to 4 s with a drop-in (the unit's 60 s would make the test
//!   wait a minute); everything else is the unit as shipped.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use seccomp_watch_tests::{
    free_port, http_get, package, root_or_skip, scrape_value, seccomp_demo, wait_for, world,
};
use serde_json::Value;

const TEST: &str = "the_package_runs_under_systemd_in_a_container";

/// A container of ours, removed (by name) when dropped.
struct Container {
    name: String,
}

impl Container {
    fn start(image: &str) -> Container {
        let name = format!("seccomp-watch-systemd-{}", std::process::id());
        let _ = world::podman()
            .args(["rm", "-f", "-t", "0", &name])
            .output();
        let out = world::podman()
            .args([
                "run",
                "-d",
                "--name",
                &name,
                "--systemd=always",
                "--network",
                "host",
                "--ulimit",
                "host",
                "--cap-add",
                "SYS_ADMIN,AUDIT_READ,AUDIT_CONTROL,NET_ADMIN,DAC_READ_SEARCH",
                image,
                "/sbin/init",
            ])
            .output()
            .expect("podman run");
        assert!(
            out.status.success(),
            "podman run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Container { name }
    }

    fn exec(&self, args: &[&str]) -> Output {
        world::podman()
            .arg("exec")
            .arg(&self.name)
            .args(args)
            .output()
            .expect("podman exec")
    }

    /// `sh -c SCRIPT` in the container; its stdout, or a panic with its output.
    fn sh(&self, script: &str) -> String {
        let out = self.exec(&["sh", "-c", script]);
        assert!(
            out.status.success(),
            "in the container: {script}\nexit {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `sh -c SCRIPT`: (success, stdout + stderr).
    fn try_sh(&self, script: &str) -> (bool, String) {
        let out = self.exec(&["sh", "-c", script]);
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn copy_in(&self, from: &Path, to: &str) {
        let out = world::podman()
            .arg("cp")
            .arg(from)
            .arg(format!("{}:{to}", self.name))
            .output()
            .expect("podman cp");
        assert!(
            out.status.success(),
            "podman cp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn copy_out(&self, from: &str, to: &Path) {
        let out = world::podman()
            .arg("cp")
            .arg(format!("{}:{from}", self.name))
            .arg(to)
            .output()
            .expect("podman cp");
        assert!(
            out.status.success(),
            "podman cp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `systemctl show seccomp-watch -p ...` as a map.
    fn show(&self, props: &[&str]) -> BTreeMap<String, String> {
        let text = self.sh(&format!(
            "systemctl show seccomp-watch -p {}",
            props.join(" -p ")
        ));
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn prop(&self, p: &str) -> String {
        self.show(&[p]).remove(p).unwrap_or_default()
    }

    /// The journal of the unit (`journalctl -u seccomp-watch ARGS`).
    fn journal(&self, args: &str) -> String {
        self.sh(&format!(
            "journalctl --no-pager -q -u seccomp-watch {args} || true"
        ))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = world::podman()
            .args(["rm", "-f", "-t", "0", &self.name])
            .output();
    }
}

fn get(port: u16, path: &str) -> Option<String> {
    http_get(port, path)
        .filter(|(st, _)| *st == 200)
        .map(|(_, b)| b)
}

/// The pids of the stored events whose exe is `exe`.
fn stored_pids(port: u16, exe: &str) -> Vec<u64> {
    let Some(body) = get(port, "/api/v1/events?limit=10000") else {
        return Vec::new();
    };
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    v.as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["exe"] == exe)
                .filter_map(|e| e["pid"].as_u64())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the demo `n` times LOG'd on the host; its pid.
fn demo(path: &Path, n: u32) -> u64 {
    let mut c = Command::new(path)
        .args(["-a", "log", "-n", &n.to_string()])
        .spawn()
        .expect("run the demo");
    let pid = c.id();
    assert!(c.wait().unwrap().success());
    u64::from(pid)
}

fn integrity(db: &Path) -> (String, i64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}?mode=ro", db.display());
        let pool = sqlx::SqlitePool::connect(&url)
            .await
            .expect("open the copy");
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        (check, n)
    })
}

#[test]
fn the_package_runs_under_systemd_in_a_container() {
    if !root_or_skip(TEST) || !world::podman_or_skip(TEST) {
        return;
    }
    let image = world::image("systemd:bookworm");
    let exists = world::podman()
        .args(["image", "exists", &image])
        .status()
        .is_ok_and(|s| s.success());
    if !exists && !world::skip(TEST, &format!("no image {image}")) {
        return;
    }
    let Some(deb) = package::deb_or_skip(TEST) else {
        return;
    };
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("sysd-demo");
    std::fs::copy(seccomp_demo(false), &exe).unwrap();
    let exe_s = exe.display().to_string();

    let c = Container::start(&image);
    let state = wait_for(Duration::from_secs(60), || {
        let (_, s) = c.try_sh("systemctl is-system-running");
        let s = s.trim().to_string();
        (s == "running" || s == "degraded").then_some(s)
    });
    assert!(
        state.is_some(),
        "systemd in the container did not come up: {}",
        c.try_sh("systemctl --failed --no-pager").1
    );
    let t_boot = started.elapsed();

    // Install. The package neither enables nor starts the service.
    c.copy_in(&deb, "/root/seccomp-watch.deb");
    c.sh("dpkg -i /root/seccomp-watch.deb");
    assert_eq!(c.prop("UnitFileState"), "disabled");
    assert_eq!(c.prop("ActiveState"), "inactive");

    // The shipped configuration, on a free port of the host network, with the example
    // rules as an explicit rules file (so that a reload re-reads it); a 4 s watchdog.
    let port = free_port();
    c.sh(&format!(
        "set -e; f=/etc/seccomp-watch/config.toml; \
         sed -i 's|^listen = .*|listen = \"127.0.0.1:{port}\"|; s|^# rules = \"/etc|rules = \"/etc|' $f; \
         grep -q '^listen = \"127.0.0.1:{port}\"' $f; grep -q '^rules = ' $f; \
         cp /usr/share/doc/seccomp-watch/examples/rules.toml /etc/seccomp-watch/rules.toml; \
         mkdir -p /etc/systemd/system/seccomp-watch.service.d; \
         printf '[Service]\\nWatchdogSec=4s\\n' > /etc/systemd/system/seccomp-watch.service.d/watchdog.conf; \
         systemctl daemon-reload"
    ));

    // Start: Type=notify, so `systemctl start` returns once READY=1 arrived.
    let t0 = Instant::now();
    let (ok, out) = c.try_sh("systemctl enable --now seccomp-watch");
    assert!(ok, "systemctl start failed: {out}\n{}", c.journal("-n 50"));
    let s = c.show(&[
        "ActiveState",
        "SubState",
        "StatusText",
        "MainPID",
        "WatchdogUSec",
        "NRestarts",
    ]);
    assert_eq!(s["ActiveState"], "active", "{s:?}\n{}", c.journal("-n 50"));
    assert_eq!(s["SubState"], "running", "{s:?}");
    assert_eq!(s["WatchdogUSec"], "4s", "{s:?}");
    assert!(
        s["StatusText"].contains("running"),
        "no STATUS= from the daemon: {s:?}"
    );
    let pid1: u32 = s["MainPID"].parse().unwrap();
    assert!(pid1 > 0, "{s:?}");
    let t_start = t0.elapsed();

    // Exactly the unit's capabilities (CAP_AUDIT_CONTROL withheld), as a dynamic user.
    let status = c.sh(&format!("cat /proc/{pid1}/status"));
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let cap_eff = u64::from_str_radix(&field("CapEff:"), 16).unwrap();
    let want = (1u64 << 37) | (1 << 12) | (1 << 2); // AUDIT_READ, NET_ADMIN, DAC_READ_SEARCH
    assert_eq!(
        cap_eff, want,
        "CapEff {cap_eff:#x}, want {want:#x} (AUDIT_READ, NET_ADMIN, DAC_READ_SEARCH)"
    );
    let uid = field("Uid:");
    assert!(
        !uid.starts_with("0\t") && !uid.starts_with("0 "),
        "runs as root: {uid}"
    );

    // The watchdog pings: systemd's timestamp of the last WATCHDOG=1 moves.
    let ping = || c.prop("WatchdogTimestampMonotonic");
    let first = ping();
    let moved = wait_for(Duration::from_secs(10), || {
        let now = ping();
        (now != first && now != "0").then_some(now)
    });
    assert!(moved.is_some(), "no watchdog ping in 10 s (last {first})");

    // Records of a process on the host arrive.
    let p1 = demo(&exe, 3);
    let got = wait_for(Duration::from_secs(30), || {
        let n = stored_pids(port, &exe_s)
            .iter()
            .filter(|p| **p == p1)
            .count();
        (n >= 3).then_some(n)
    });
    assert_eq!(
        got,
        Some(3),
        "the demo's records did not arrive:\n{}",
        c.journal("-n 50")
    );

    // No CAP_AUDIT_CONTROL (and a PID namespace of its own): the audit status is not read,
    // which the metrics say instead of exporting zeros.
    let scrape = get(port, "/metrics").unwrap_or_default();
    assert_eq!(
        scrape_value(&scrape, "seccomp_watch_kernel_audit_status_up"),
        Some(0.0),
        "{scrape}"
    );
    assert!(
        !scrape
            .lines()
            .any(|l| l.starts_with("seccomp_watch_kernel_audit_lost ")),
        "{scrape}"
    );

    // The journal: plain text (no ANSI colour, MESSAGE a string), warnings filed as such.
    let json = c.journal("-o json");
    for line in json.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        if v["_PID"] != Value::String(pid1.to_string()) {
            continue;
        }
        assert!(
            v["MESSAGE"].is_string(),
            "a log line is stored as bytes (control characters?): {line}"
        );
        assert!(
            !v["MESSAGE"].as_str().unwrap().contains('\x1b'),
            "ANSI escape in the journal: {line}"
        );
    }

    // Reload: the same process re-reads the rules; a bad file is an error (priority err)
    // and the last good rules stay.
    let metrics = || get(port, "/metrics").unwrap_or_default();
    let reloads = |outcome: &str| {
        scrape_value(
            &metrics(),
            &format!("seccomp_watch_reloads_total{{outcome=\"{outcome}\"}}"),
        )
        .unwrap_or(-1.0)
    };
    assert_eq!(reloads("ok"), 0.0);
    c.sh("systemctl reload seccomp-watch");
    assert!(
        wait_for(Duration::from_secs(10), || (reloads("ok") == 1.0)
            .then_some(()))
        .is_some(),
        "the reload was not counted:\n{}",
        c.journal("-n 20")
    );
    c.sh("printf '[[rule]]\\nname = \\n' > /etc/seccomp-watch/rules.toml; systemctl reload seccomp-watch");
    assert!(
        wait_for(Duration::from_secs(10), || (reloads("error") == 1.0)
            .then_some(()))
        .is_some(),
        "the bad reload was not counted:\n{}",
        c.journal("-n 20")
    );
    assert_eq!(c.prop("MainPID"), pid1.to_string(), "reload restarted it");
    assert_eq!(c.prop("ActiveState"), "active");
    let errors = c.journal("-p err");
    assert!(
        errors.contains("rules reload failed"),
        "the failed reload is not at priority err:\n{errors}\nall:\n{}",
        c.journal("-o verbose -n 5")
    );
    let warnings = c.journal("-p warning");
    assert!(
        !warnings.contains("rules reloaded") && !warnings.contains("running; database"),
        "info lines filed as warnings:\n{warnings}"
    );
    c.sh("cp /usr/share/doc/seccomp-watch/examples/rules.toml /etc/seccomp-watch/rules.toml");

    // SIGSTOP: the pings stop, systemd's watchdog kills the daemon and restarts it.
    let t1 = Instant::now();
    c.sh("systemctl kill -s SIGSTOP --kill-who=main seccomp-watch");
    let restarted = wait_for(Duration::from_secs(40), || {
        let s = c.show(&["MainPID", "ActiveState", "SubState", "NRestarts"]);
        (s["NRestarts"] == "1"
            && s["ActiveState"] == "active"
            && s["SubState"] == "running"
            && s["MainPID"] != pid1.to_string()
            && s["MainPID"] != "0")
            .then(|| s["MainPID"].parse::<u32>().unwrap())
    });
    let pid2 = restarted.unwrap_or_else(|| {
        panic!(
            "not restarted by the watchdog: {:?}\n{}",
            c.show(&["MainPID", "ActiveState", "SubState", "NRestarts", "Result"]),
            c.journal("-n 30")
        )
    });
    let t_watchdog = t1.elapsed();
    let log = c.journal("");
    assert!(
        log.contains("Watchdog timeout"),
        "no watchdog timeout in the journal:\n{log}"
    );
    // The database survived: the old records are served, new ones are stored.
    let p2 = demo(&exe, 2);
    let both = wait_for(Duration::from_secs(30), || {
        let pids = stored_pids(port, &exe_s);
        let a = pids.iter().filter(|p| **p == p1).count();
        let b = pids.iter().filter(|p| **p == p2).count();
        (a == 3 && b == 2).then_some(())
    });
    assert!(
        both.is_some(),
        "after the restart: {:?}\n{}",
        stored_pids(port, &exe_s),
        c.journal("-n 30")
    );

    // systemd-analyze security, online, on the running unit.
    let report = c.sh("systemd-analyze security --no-pager seccomp-watch");
    let exposure: f64 = report
        .lines()
        .find_map(|l| l.split("seccomp-watch.service: ").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level:\n{report}"));
    assert!(exposure <= 2.0, "exposure {exposure} > 2.0:\n{report}");

    // Stop: SIGTERM, a clean exit, inactive (not failed).
    let t2 = Instant::now();
    c.sh("systemctl stop seccomp-watch");
    let s = c.show(&["ActiveState", "Result", "ExecMainCode", "ExecMainStatus"]);
    assert_eq!(
        s["ActiveState"],
        "inactive",
        "{s:?}\n{}",
        c.journal("-n 20")
    );
    assert_eq!(s["Result"], "success", "{s:?}");
    assert_eq!(s["ExecMainStatus"], "0", "{s:?}");
    let t_stop = t2.elapsed();
    let log = c.journal(&format!("_PID={pid2}"));
    assert!(log.contains("store writer done"), "{log}");

    // The database, copied out after the stop: intact, with every record of the demos.
    let db_copy = tmp.path().join("copy.db");
    c.copy_out("/var/lib/private/seccomp-watch/seccomp-watch.db", &db_copy);
    let (check, n) = integrity(&db_copy);
    assert_eq!(check, "ok");
    assert!(n >= 5, "{n} events");

    // Purge: the package's files, its configuration and its state are gone (the rules
    // file this test added is the administrator's: removed first, or it would stay).
    c.sh("systemctl disable seccomp-watch; rm /etc/seccomp-watch/rules.toml; dpkg --purge seccomp-watch");
    let (_, left) = c.try_sh(
        "ls -d /var/lib/seccomp-watch /var/lib/private/seccomp-watch /etc/seccomp-watch \
         /usr/bin/seccomp-watch 2>/dev/null",
    );
    assert!(left.trim().is_empty(), "left after purge:\n{left}");
    eprintln!(
        "systemd container: boot {:.1} s, start {:.1} s, watchdog restart {:.1} s, stop {:.1} s, total {:.1} s",
        t_boot.as_secs_f64(),
        t_start.as_secs_f64(),
        t_watchdog.as_secs_f64(),
        t_stop.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
