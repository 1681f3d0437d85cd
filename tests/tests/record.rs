//! `seccomp-watch record` end to end (root, real kernel, real runc): the article's `ls`
//! versus `ls -lisa` experiment on the host, then the recorded profile proven by running
//! `ls -lisa /` in a runc container under it with `defaultAction: SCMP_ACT_ERRNO` (and, to
//! prove that nothing was denied, with `SCMP_ACT_LOG`: not one record). Also `merge`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

#[path = "support/profile_loop.rs"]
mod support;

use seccomp_watch_tests::runc::Spec;
use support::{allowed_names, listing_shape, Lab, Tap};

/// Runs `seccomp-watch record -o OUT -- ARGS` and returns the profile.
fn record(out: &Path, args: &[&str]) -> Value {
    let res = Command::new(seccomp_watch_tests::bin())
        .args(["record", "-o"])
        .arg(out)
        .arg("--")
        .args(args)
        .stdout(std::process::Stdio::null())
        .output()
        .expect("run seccomp-watch record");
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "record {args:?} failed: {err}");
    assert!(
        err.contains("of the command's process tree (audit session"),
        "not matched by audit session: {err}"
    );
    serde_json::from_str(&std::fs::read_to_string(out).expect("profile written"))
        .expect("profile is JSON")
}

#[test]
fn record_ls_then_run_it_under_the_profile_with_runc() {
    if !seccomp_watch_tests::root_or_skip("record_ls_then_run_it_under_the_profile_with_runc")
        || !seccomp_watch_tests::tool_or_skip(
            "record_ls_then_run_it_under_the_profile_with_runc",
            "runc",
        )
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ls = support::gnu_ls();

    // The article's experiment, on the host: `ls /` versus `ls -lisa /`.
    let plain = record(&dir.path().join("ls.json"), &[ls.to_str().unwrap(), "/"]);
    let lisa = record(
        &dir.path().join("ls-lisa.json"),
        &[ls.to_str().unwrap(), "-lisa", "/"],
    );
    assert_eq!(plain["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(plain["architectures"][0], "SCMP_ARCH_X86_64");
    let plain_names = allowed_names(&plain);
    let lisa_names = allowed_names(&lisa);
    for n in ["execve", "openat", "getdents64", "write", "exit_group"] {
        assert!(
            plain_names.contains(n),
            "`ls /` profile lacks {n}: {plain_names:?}"
        );
    }
    let extra: BTreeSet<&String> = lisa_names.difference(&plain_names).collect();
    eprintln!("ls -lisa needs, beyond ls: {extra:?}");
    assert!(
        extra
            .iter()
            .any(|n| n.as_str() == "lgetxattr" || n.as_str() == "getxattr"),
        "ls -lisa reads extended attributes (the article's getxattr/lgetxattr): {extra:?}"
    );
    let missing: Vec<&String> = plain_names.difference(&lisa_names).collect();
    assert!(
        missing.is_empty(),
        "ls -lisa made none of these calls of ls: {missing:?}"
    );

    // Run `ls -lisa /` in a container (rootfs: busybox plus this host's GNU ls and its
    // libraries) under the recorded profile with default LOG: ls itself must need nothing
    // more, only the runtime's init does (its calls after the filter is in place).
    let lab = Lab::new();
    let args = ["/usr/bin/ls", "-lisa", "/"];
    let pid = std::process::id();
    let mut init_calls = BTreeSet::new();
    let mut reference = None;
    for i in 0..3 {
        let mut p = lisa.clone();
        p["defaultAction"] = json!("SCMP_ACT_LOG");
        p.as_object_mut().unwrap().remove("defaultErrnoRet");
        let tap = Tap::start();
        let run = lab.run(
            &format!("sw{pid}-rec-log-{i}"),
            &Spec::new(&args).seccomp(p),
        );
        let records = tap.stop_for(run.session);
        assert!(
            run.status.success(),
            "container failed under LOG: {}",
            run.stderr
        );
        for r in &records {
            assert_eq!(
                r.comm.as_deref(),
                Some("runc:[2:INIT]"),
                "ls made a call the recording did not see: {r:?}"
            );
            init_calls.insert(
                r.syscall()
                    .map(str::to_string)
                    .unwrap_or_else(|| r.syscall_nr.to_string()),
            );
        }
        let shape = listing_shape(&run.stdout);
        assert!(shape.len() > 5, "no listing: {}", run.stdout);
        reference.get_or_insert(shape);
    }
    let reference = reference.unwrap();
    eprintln!("runc init calls after its filter is in place: {init_calls:?}");

    // The runtime's init calls, merged in with `seccomp-watch merge`.
    let init_profile = dir.path().join("runc-init.json");
    std::fs::write(
        &init_profile,
        serde_json::to_string_pretty(&json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": init_calls.iter().collect::<Vec<_>>(), "action": "SCMP_ACT_ALLOW"}]
        }))
        .unwrap(),
    )
    .unwrap();
    let merged_path = dir.path().join("final.json");
    let m = Command::new(seccomp_watch_tests::bin())
        .arg("merge")
        .arg(dir.path().join("ls-lisa.json"))
        .arg(&init_profile)
        .arg("-o")
        .arg(&merged_path)
        .output()
        .expect("run merge");
    assert!(
        m.status.success(),
        "merge: {}",
        String::from_utf8_lossy(&m.stderr)
    );
    let merged: Value =
        serde_json::from_str(&std::fs::read_to_string(&merged_path).unwrap()).unwrap();
    assert_eq!(merged["defaultAction"], "SCMP_ACT_ERRNO");
    let merged_names = allowed_names(&merged);
    assert!(merged_names.is_superset(&lisa_names));

    // Enforce: default ERRNO. Exits 0, the same listing, no SECCOMP record.
    let tap = Tap::start();
    let run = lab.run(
        &format!("sw{pid}-rec-errno"),
        &Spec::new(&args).seccomp(merged.clone()),
    );
    let records = tap.stop_for(run.session);
    assert!(
        run.status.success(),
        "container failed under the recorded profile: {}",
        run.stderr
    );
    assert_eq!(
        listing_shape(&run.stdout),
        reference,
        "listing differs:\n{}",
        run.stdout
    );
    assert!(
        records.is_empty(),
        "SECCOMP records under the recorded profile: {records:?}"
    );

    // Proof that nothing was denied: the same allow list with default LOG logs nothing.
    let mut audit = merged.clone();
    audit["defaultAction"] = json!("SCMP_ACT_LOG");
    audit.as_object_mut().unwrap().remove("defaultErrnoRet");
    let tap = Tap::start();
    let run = lab.run(
        &format!("sw{pid}-rec-audit"),
        &Spec::new(&args).seccomp(audit),
    );
    let records = tap.stop_for(run.session);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        records.is_empty(),
        "calls outside the recorded profile: {records:?}"
    );
}

#[test]
fn record_follows_the_process_tree_and_reports_failure() {
    if !seccomp_watch_tests::root_or_skip("record_follows_the_process_tree_and_reports_failure") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // A pipeline, a subshell and a background child: every process of the tree counts.
    let out = dir.path().join("tree.json");
    let demo = seccomp_watch_tests::seccomp_demo(false);
    // seccomp-demo stacks its own filter: `log` leaves the calls logged (allowed), `errno`
    // blocks getpgid (the stricter action wins, and its FLAG_LOG makes it a record).
    let script = format!(
        "{d} -a log -s uname -s getppid >/dev/null 2>&1; {d} -a errno -s getpgid >/dev/null 2>&1; (ls / | wc -l) >/dev/null",
        d = demo.display()
    );
    let res = Command::new(seccomp_watch_tests::bin())
        .args(["record", "-o"])
        .arg(&out)
        .args(["--", "sh", "-c", &script])
        .output()
        .expect("run seccomp-watch record");
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{err}");
    assert!(
        err.contains("- blocked by the profile (not allowed automatically) (1): getpgid"),
        "{err}"
    );
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let names = allowed_names(&p);
    assert!(
        !names.contains("getpgid"),
        "a blocked call was allowed: {names:?}"
    );
    for n in ["pipe2", "wait4", "clone", "uname", "getppid"] {
        let alt = match n {
            "pipe2" => "pipe",
            "clone" => "clone3",
            _ => n,
        };
        assert!(
            names.contains(n) || names.contains(alt),
            "{n} missing: {names:?}"
        );
    }

    // A failing command: the profile is still written, the exit code is 1.
    let out = dir.path().join("false.json");
    let res = Command::new(seccomp_watch_tests::bin())
        .args(["record", "--format", "k8s", "-o"])
        .arg(&out)
        .args(["--", "sh", "-c", "exit 3"])
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(String::from_utf8_lossy(&res.stderr).contains("exit status 3"));
    let yaml = std::fs::read_to_string(&out).unwrap();
    assert!(
        yaml.starts_with("apiVersion: security-profiles-operator.x-k8s.io/"),
        "{yaml}"
    );
    assert!(yaml.contains("exit_group"), "{yaml}");

    // A command that does not exist: an error, no profile.
    let out = dir.path().join("none.json");
    let res = Command::new(seccomp_watch_tests::bin())
        .args(["record", "-o"])
        .arg(&out)
        .args(["--", "/nonexistent/command"])
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("cannot run /nonexistent/command"));
    assert!(!out.exists());
}

#[test]
fn record_needs_cap_audit_read() {
    if !seccomp_watch_tests::root_or_skip("record_needs_cap_audit_read") {
        return;
    }
    // Drop every capability (setpriv from util-linux) and keep uid 0: binding the audit
    // multicast group is refused, with a clear message.
    if !seccomp_watch_tests::tool_or_skip("record_needs_cap_audit_read", "setpriv") {
        return;
    }
    let res = Command::new("setpriv")
        .args(["--inh-caps=-all", "--bounding-set=-all", "--"])
        .arg(seccomp_watch_tests::bin())
        .args(["record", "--", "true"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(err.contains("needs root (CAP_AUDIT_READ)"), "{err}");
}
