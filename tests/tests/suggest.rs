//! The published scenario, closed loop, with real runc and the real kernel: a container runs
//! `ls -lisa /` under a profile whose default is `SCMP_ACT_ERRNO`, with an allow list that
//! suffices for plain `ls /` and an `SCMP_ACT_LOG` entry holding extra calls; a second run
//! uses `defaultAction: SCMP_ACT_LOG` instead. The kernel's records go through attribution
//! into the store; `seccomp-watch suggest` must propose exactly the calls that were logged;
//! the container then runs under the suggested profile (default `SCMP_ACT_ERRNO`): exit 0,
//! the same listing, and not one SECCOMP record (also with default LOG: nothing would have
//! been denied). Then the same for a shell pipeline (several processes).
//!
//! The records go the product's way: `seccomp-watch run --source netlink` (attribution with
//! the proc connector, the SQLite store), and the commands read its database.
//!
//! The allow list "that suffices for plain `ls /`" is made with `seccomp-watch generate`
//! from three runs of `ls /` as one workload (three pods of one owner), so that it also
//! holds what the runtime's init calls after its filter is in place.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use seccomp_watch::store::{SqliteStore, Store};
use seccomp_watch_tests::runc::Spec;
use serde_json::{json, Value};

#[path = "support/profile_loop.rs"]
mod support;

#[path = "support/mod.rs"]
mod daemon_support;

use daemon_support::{Daemon, BASE_CONFIG};
use support::{allowed_names, listing_shape, Lab, Run};

/// What the Go runtime of runc's init may call at any moment (signal returns, futex waits,
/// its scheduler and memory manager).
const GO_RUNTIME: [&str; 12] = [
    "futex",
    "getpid",
    "gettid",
    "madvise",
    "mmap",
    "munmap",
    "nanosleep",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_yield",
    "sigaltstack",
    "tgkill",
];

/// Calls `ls` never makes, put in the LOG entry: they must stay unproposed.
const DECOYS: [&str; 2] = ["kexec_load", "ptrace"];

/// One closed loop at a time: they watch the same kernel and the runs are timed.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A closed-loop bench: containers in one Kubernetes-shaped namespace, their records stored.
struct Bench {
    lab: Lab,
    /// Stopped containers kept until their records are stored (see [`Bench::barrier`]).
    kept: Mutex<Vec<String>>,
    dir: tempfile::TempDir,
    db: PathBuf,
    ns: String,
    _daemon: Daemon,
}

/// A 64-hex container id unique to this process and call.
fn new_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "{:016x}{:016x}{:016x}{:016x}",
        u64::from(std::process::id()),
        nanos,
        N.fetch_add(1, Ordering::SeqCst),
        0x5ecc_0a7c_u64
    )
}

/// A profile that logs everything (the runs that learn what a command needs).
fn log_all() -> Value {
    json!({"defaultAction": "SCMP_ACT_LOG", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]})
}

impl Drop for Bench {
    fn drop(&mut self) {
        for id in std::mem::take(&mut *self.kept.lock().unwrap()) {
            self.lab.delete(&id);
        }
    }
}

impl Bench {
    fn new(tag: &str) -> Bench {
        let lab = Lab::new();
        let dir = tempfile::tempdir().unwrap();
        // The daemon, reading the kernel's records from netlink, attributing them (runc
        // containers of this lab) and storing them.
        let config = format!(
            "{BASE_CONFIG}\n[attribution]\nrunc_roots = [{:?}]\n",
            lab.runc.root().display().to_string()
        );
        let daemon = Daemon::start(
            &dir.path().join("daemon"),
            &config,
            &["--source", "netlink"],
        );
        let db = daemon.db.clone();
        Bench {
            lab,
            kept: Mutex::new(Vec::new()),
            db,
            ns: format!("sw-{tag}-{}", std::process::id()),
            dir,
            _daemon: daemon,
        }
    }

    /// Runs `args` under `profile` as a container of pod `pod` (container name `ls`);
    /// returns its id and the run.
    fn run(&self, pod: &str, args: &[&str], profile: &Value) -> (String, Run) {
        let id = new_id();
        let spec = Spec::new(args)
            .seccomp(profile.clone())
            .cgroups_path(format!(
                "/kubepods/besteffort/pod{}/cri-containerd-{id}",
                &id[..32]
            ))
            .annotation("io.kubernetes.cri.container-type", "container")
            .annotation("io.kubernetes.cri.container-name", "ls")
            .annotation("io.kubernetes.cri.sandbox-name", pod)
            .annotation("io.kubernetes.cri.sandbox-namespace", &self.ns)
            .annotation("io.kubernetes.cri.sandbox-uid", &id[..32]);
        // Kept after it exits until the next barrier: a container of `ls` lives a few
        // milliseconds, and attribution reads its metadata (annotations, applied profile)
        // from the runtime's state when its records are handled.
        let run = self.lab.run_keep(&id, &spec);
        self.kept.lock().unwrap().push(id.clone());
        (id, run)
    }

    /// `seccomp-watch ARGS --db DB`.
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(seccomp_watch_tests::bin())
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .output()
            .expect("run seccomp-watch")
    }

    /// The stored events of container `id` (`events --json`).
    fn events(&self, id: &str) -> Vec<Value> {
        let out = self.cli(&["events", "--container", id, "--json", "--limit", "0"]);
        assert!(
            out.status.success(),
            "events: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("event JSON"))
            .collect()
    }

    /// Waits until everything before now is stored: a marker container's record arrives
    /// after them and the pipeline keeps order.
    fn barrier(&self) {
        let (id, run) = self.run("marker-0", &["true"], &log_all());
        assert!(run.status.success(), "marker: {}", run.stderr);
        let ok = seccomp_watch_tests::wait_for(Duration::from_secs(20), || {
            (!self.events(&id).is_empty()).then_some(())
        });
        assert!(
            ok.is_some(),
            "the marker container's records were not stored (attribution or store broken?)"
        );
    }

    fn write(&self, name: &str, v: &Value) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
        p
    }
}

/// Syscall names of `events` with action `action`.
fn names_with(events: &[Value], action: &str) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["action"] == action)
        .map(|e| {
            e["syscall"]
                .as_str()
                .map_or_else(|| e["syscall_nr"].to_string(), str::to_string)
        })
        .collect()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("profile written"))
        .expect("profile JSON")
}

/// The workload's output to compare across runs: the listing's shape for `ls -l`, the text
/// otherwise.
fn output_of(run: &Run) -> Vec<String> {
    if run.stdout.starts_with("total") {
        listing_shape(&run.stdout)
    } else {
        run.stdout.lines().map(str::to_string).collect()
    }
}

/// Runs the final profile `f` (default ERRNO) and the same allow list with default LOG:
/// both exit 0 with the reference output, neither leaves a SECCOMP record.
fn prove(b: &Bench, what: &str, target: &[&str], f: &Value, reference: &[String]) {
    assert_eq!(f["defaultAction"], "SCMP_ACT_ERRNO", "{what}: {f}");
    let (id, run) = b.run(&format!("{what}-final-0"), target, f);
    assert!(
        run.status.success(),
        "{what}: the workload failed under the suggested profile: {}",
        run.stderr
    );
    assert_eq!(
        output_of(&run),
        reference,
        "{what}: different output:\n{}",
        run.stdout
    );
    let mut audit = f.clone();
    audit["defaultAction"] = json!("SCMP_ACT_LOG");
    audit.as_object_mut().unwrap().remove("defaultErrnoRet");
    let (audit_id, run) = b.run(&format!("{what}-audit-0"), target, &audit);
    assert!(run.status.success(), "{what}: {}", run.stderr);
    assert_eq!(output_of(&run), reference);
    b.barrier();
    let ev = b.events(&id);
    assert!(
        ev.is_empty(),
        "{what}: SECCOMP records under the suggested profile: {ev:?}"
    );
    let ev = b.events(&audit_id);
    assert!(
        ev.is_empty(),
        "{what}: calls outside the suggested allow list (they would be denied): {ev:?}"
    );
}

/// The whole scenario for `plain` (what the allow list is made from) and `target` (the
/// workload that needs more).
fn closed_loop(tag: &str, plain: &[&str], target: &[&str]) {
    let _serial = serial();
    let b = Bench::new(tag);

    // The allow list that suffices for `plain`: three runs as one workload, generated.
    for i in 0..3 {
        let (_, run) = b.run(&format!("lister-{i}"), plain, &log_all());
        assert!(run.status.success(), "plain run: {}", run.stderr);
    }
    // What `target` calls in all (reference output too).
    let (ref_id, reference) = b.run("reference-0", target, &log_all());
    assert!(
        reference.status.success(),
        "reference run: {}",
        reference.stderr
    );
    let reference = output_of(&reference);
    b.barrier();
    let workload = format!("k8s:{}/lister/ls", b.ns);
    let generated = b.dir.path().join("generated.json");
    let out = b.cli(&[
        "generate",
        "--workload",
        &workload,
        "-o",
        generated.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "generate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // runc's init is a Go program: after its filter is in place its threads may take a
    // signal or wait on a futex at any time (measured: rt_sigreturn and futex in some runs
    // only). Those calls are allowed up front so that the loop is about the workload.
    let runtime = b.write(
        "go-runtime.json",
        &json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": GO_RUNTIME, "action": "SCMP_ACT_ALLOW"}]}),
    );
    let base_path = b.dir.path().join("base.json");
    let out = Command::new(seccomp_watch_tests::bin())
        .arg("merge")
        .arg(&generated)
        .arg(&runtime)
        .arg("-o")
        .arg(&base_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "merge: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base = read_json(&base_path);
    assert_eq!(base["defaultAction"], "SCMP_ACT_ERRNO");
    let base_names = allowed_names(&base);
    let all_target = names_with(&b.events(&ref_id), "SCMP_ACT_LOG");
    let delta: BTreeSet<String> = all_target.difference(&base_names).cloned().collect();
    eprintln!("{tag}: {:?} needs beyond {:?}: {delta:?}", target, plain);
    assert!(
        !delta.is_empty(),
        "the target needs nothing more than the plain command"
    );

    // Scenario 1: default ERRNO, allow list for plain, LOG entry with the extra calls and
    // two decoys.
    let mut a = base.clone();
    let mut log_names: Vec<String> = delta.iter().cloned().collect();
    log_names.extend(DECOYS.iter().map(|s| s.to_string()));
    log_names.sort();
    a["syscalls"]
        .as_array_mut()
        .unwrap()
        .push(json!({"names": log_names, "action": "SCMP_ACT_LOG"}));
    let a_path = b.write("a.json", &a);
    let (a_id, run) = b.run("a-0", target, &a);
    assert!(
        run.status.success(),
        "the workload failed with its LOG entry: {}",
        run.stderr
    );
    assert_eq!(output_of(&run), reference);
    b.barrier();
    let logged = names_with(&b.events(&a_id), "SCMP_ACT_LOG");
    assert_eq!(
        logged, delta,
        "the LOG entry logged other calls than the extra ones"
    );

    let f_path = b.dir.path().join("a-suggested.json");
    let out = b.cli(&[
        "suggest",
        "--profile",
        a_path.to_str().unwrap(),
        "--container",
        &a_id,
        "--format",
        "json",
        "-o",
        f_path.to_str().unwrap(),
        "--check",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "--check exits 1 on a change:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Evidence (") && text.contains("SCMP_ACT_LOG"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "- logged by a LOG entry and observed: now allowed ({}): ",
            logged.len()
        )),
        "{text}"
    );
    assert!(
        text.contains("- in a LOG entry but never observed (kept) (2): kexec_load, ptrace"),
        "{text}"
    );
    let f = read_json(&f_path);
    let newly: BTreeSet<String> = allowed_names(&f).difference(&base_names).cloned().collect();
    assert_eq!(
        newly, logged,
        "suggest must propose exactly the logged calls"
    );
    for d in DECOYS {
        assert!(
            !allowed_names(&f).contains(d),
            "{d} was never called but got allowed"
        );
    }
    prove(&b, &format!("{tag}-errno"), target, &f, &reference);

    // The same without --profile: the profile attribution captured (the OCI form runc got).
    let out = b.cli(&["suggest", "--container", &a_id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("--- a/profile-") && text.contains("now allowed"),
        "{text}"
    );
    for n in &logged {
        assert!(
            text.lines()
                .any(|l| l.starts_with('+') && l.contains(&format!("\"{n}\""))),
            "{n} not added:\n{text}"
        );
    }
    // --tighten drops the decoys: no LOG entry left.
    let t_path = b.dir.path().join("a-tight.json");
    let out = b.cli(&[
        "suggest",
        "--profile",
        a_path.to_str().unwrap(),
        "--container",
        &a_id,
        "--tighten",
        "--format",
        "json",
        "-o",
        t_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = read_json(&t_path);
    assert!(
        t["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["action"] != "SCMP_ACT_LOG"),
        "{t}"
    );
    assert_eq!(allowed_names(&t), allowed_names(&f));

    // Scenario 2: the allow list for plain with default LOG.
    let mut l = base.clone();
    l["defaultAction"] = json!("SCMP_ACT_LOG");
    l.as_object_mut().unwrap().remove("defaultErrnoRet");
    let l_path = b.write("l.json", &l);
    let (l_id, run) = b.run("l-0", target, &l);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(output_of(&run), reference);
    b.barrier();
    let logged = names_with(&b.events(&l_id), "SCMP_ACT_LOG");
    assert_eq!(logged, delta);
    let out = b.cli(&[
        "suggest",
        "--profile",
        l_path.to_str().unwrap(),
        "--container",
        &l_id,
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "- reached the LOG default action: now allowed ({}): ",
            logged.len()
        )),
        "{err}"
    );
    let mut g: Value = serde_json::from_slice(&out.stdout).expect("suggested profile on stdout");
    let newly: BTreeSet<String> = allowed_names(&g).difference(&base_names).cloned().collect();
    assert_eq!(newly, logged);
    g["defaultAction"] = json!("SCMP_ACT_ERRNO");
    g["defaultErrnoRet"] = json!(1);
    prove(&b, &format!("{tag}-log"), target, &g, &reference);
}

#[test]
fn closed_loop_ls_lisa() {
    if !seccomp_watch_tests::root_or_skip("closed_loop_ls_lisa")
        || !seccomp_watch_tests::tool_or_skip("closed_loop_ls_lisa", "runc")
    {
        return;
    }
    closed_loop("ls", &["/usr/bin/ls", "/"], &["/usr/bin/ls", "-lisa", "/"]);
}

#[test]
fn closed_loop_shell_pipeline() {
    if !seccomp_watch_tests::root_or_skip("closed_loop_shell_pipeline")
        || !seccomp_watch_tests::tool_or_skip("closed_loop_shell_pipeline", "runc")
    {
        return;
    }
    closed_loop(
        "pipe",
        &["sh", "-c", "/usr/bin/ls / | wc -l"],
        &["sh", "-c", "/usr/bin/ls -la / | wc -l"],
    );
}

#[test]
fn suggest_check_and_errors_without_root() {
    // No kernel needed: an empty store, a profile, the exit codes and messages.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sw.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = SqliteStore::open(&db).await.unwrap();
        s.close().await;
    });
    let profile = seccomp_watch_tests::fixture("profiles/fedora_ls_no-opt_log-delta.json");
    let run = |args: &[&str]| {
        Command::new(seccomp_watch_tests::bin())
            .args(args)
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap()
    };
    // Nothing observed: the one change is the signal returns the profile would deny.
    let out = run(&[
        "suggest",
        "--profile",
        profile.to_str().unwrap(),
        "--workload",
        "docker:web",
        "--check",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("change suggested: 2 syscall(s) newly allowed"),
        "{text}"
    );
    assert!(
        text.contains("(2): restart_syscall, rt_sigreturn"),
        "{text}"
    );
    // Without them (--no-essentials): no change, --check passes; the LOG entry's names
    // are reported unused.
    let out = run(&[
        "suggest",
        "--profile",
        profile.to_str().unwrap(),
        "--workload",
        "docker:web",
        "--check",
        "--no-essentials",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("no SECCOMP events for this selection"),
        "{text}"
    );
    assert!(text.contains("no change suggested"), "{text}");
    assert!(
        text.contains("(6): connect, futex, getxattr, lgetxattr, readlink, socket"),
        "{text}"
    );
    // --tighten removes them: a change, --check fails.
    let out = run(&[
        "suggest",
        "--profile",
        profile.to_str().unwrap(),
        "--workload",
        "docker:web",
        "--check",
        "--tighten",
        "--no-essentials",
    ]);
    assert_eq!(out.status.code(), Some(1));
    // No --profile and nothing captured.
    let out = run(&["suggest", "--workload", "docker:web"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --profile"));
    // A selection is required; a pod is NS/NAME.
    let out = run(&["suggest", "--profile", profile.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["generate", "--pod", "nopod"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NAMESPACE/NAME"));
    // generate with nothing observed: an error, not an empty profile.
    let out = run(&["generate", "--workload", "docker:web"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no SECCOMP events"));
    // A missing database.
    let out = Command::new(seccomp_watch_tests::bin())
        .args(["generate", "--workload", "w", "--db"])
        .arg(dir.path().join("none.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database"));
}
