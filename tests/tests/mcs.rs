//! The SELinux MCS fallback of attribution with real runc containers and the real /proc:
//! a record whose pid is gone resolves through its label only to a container that holds
//! the label (and was alive when the record was written), never to a container that is
//! gone (Podman reuses categories), and never when more than one live container holds it
//! (the containers of a pod share one).
//!
//! SELinux is not enabled on the test kernel, so no process here carries an MCS label of
//! its own: the records' `subj=` is set by the test (what the kernel writes under SELinux),
//! and the containers' liveness comes from the real /proc. What needs SELinux itself (the
//! labels of live processes in `/proc/PID/attr/current`) is tested on the attributor's own
//! inputs in `daemon/src/attrib/mcs.rs`.

use std::path::Path;
use std::time::Duration;

use parsers::Event;
use seccomp_watch::attrib::runtime::sha256_hex;
use seccomp_watch::attrib::{Attributor, Method};
use seccomp_watch::config::AttributionConfig;
use seccomp_watch_tests::runc::{Runc, Spec};
use seccomp_watch_tests::{root_or_skip, tool_or_skip};

const LABEL: &str = "system_u:system_r:container_t:s0:c123,c456";

fn new_id(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    sha256_hex(format!("{tag}-{}-{nanos}", std::process::id()).as_bytes())
}

fn config(runc_roots: Vec<std::path::PathBuf>, tmp: &Path) -> AttributionConfig {
    AttributionConfig {
        enabled: true,
        proc_connector: false,
        runc_roots,
        containerd_root: tmp.join("containerd"),
        docker_root: tmp.join("docker"),
        podman_root: tmp.join("podman"),
        crio_root: tmp.join("crio"),
        podman_db: tmp.join("podman.db"),
        containerd_db: tmp.join("meta.db"),
        proc_root: "/proc".into(),
        ..AttributionConfig::default()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn event(pid: u32, time_ms: i64, subj: &str) -> Event {
    Event {
        time_ms,
        serial: Some(1),
        node: None,
        audit_arch: 0xc000_003e,
        syscall_nr: 63,
        code: 0x7ffc_0000,
        pid,
        uid: Some(0),
        gid: Some(0),
        auid: None,
        ses: None,
        comm: Some("uname".into()),
        exe: Some("/bin/busybox".into()),
        subj: Some(subj.into()),
        sig: None,
        compat: false,
        ip: None,
        synthetic_key: None,
    }
}

/// The pid of a process that has exited (and been reaped).
fn gone_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

fn container_of(at: &mut Attributor, ev: &Event) -> (Option<String>, Method) {
    let (a, m) = at.attribute(ev, true);
    (a.container.map(|c| c.id), m)
}

#[test]
fn the_mcs_fallback_never_lands_on_a_gone_or_shared_container() {
    let test = "the_mcs_fallback_never_lands_on_a_gone_or_shared_container";
    if !(root_or_skip(test) && tool_or_skip(test, "runc") && tool_or_skip(test, "busybox")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let runc = Runc::with_exe("/bin/busybox-mcs").unwrap();
    let mut at = Attributor::new(&config(vec![runc.root()], tmp.path()));
    let (ida, idb, idc) = (new_id("mcs-a"), new_id("mcs-b"), new_id("mcs-c"));
    let start = |id: &str| {
        runc.start(
            id,
            &Spec::new(&["sleep", "600"]).cgroups_path(format!("/docker/{id}")),
        )
        .unwrap()
    };

    // A runs; a record of its process teaches the label.
    let a = start(&ida);
    let ev = event(a.pid().unwrap(), now_ms(), LABEL);
    assert_eq!(
        container_of(&mut at, &ev),
        (Some(ida.clone()), Method::Procfs)
    );
    // A record of a gone process with that label: A (alive, the only holder).
    let gone = gone_pid();
    std::thread::sleep(Duration::from_millis(200));
    let written_while_a_ran = now_ms();
    assert_eq!(
        container_of(&mut at, &event(gone, written_while_a_ran, LABEL)),
        (Some(ida.clone()), Method::Mcs)
    );

    // A is gone. Records written after that are not A's.
    drop(a);
    std::thread::sleep(Duration::from_secs(3));
    let after = event(gone, now_ms(), LABEL);
    assert_eq!(
        container_of(&mut at, &after),
        (None, Method::None),
        "a record written after its container was gone was given to it"
    );
    // Podman gives the categories to a new container B (never seen with a record yet): a
    // record of a gone pid with that label is not A's either.
    let b = start(&idb);
    std::thread::sleep(Duration::from_millis(200));
    let (got, m) = container_of(&mut at, &event(gone, now_ms(), LABEL));
    assert_ne!(
        got.as_deref(),
        Some(ida.as_str()),
        "the gone container A got it ({m:?})"
    );

    // B and C both hold the label (a pod's containers share one): never the fallback.
    let c = start(&idc);
    let eb = event(b.pid().unwrap(), now_ms(), LABEL);
    let ec = event(c.pid().unwrap(), now_ms(), LABEL);
    assert_eq!(
        container_of(&mut at, &eb),
        (Some(idb.clone()), Method::Procfs)
    );
    assert_eq!(
        container_of(&mut at, &ec),
        (Some(idc.clone()), Method::Procfs)
    );
    assert_eq!(
        container_of(&mut at, &event(gone, now_ms(), LABEL)),
        (None, Method::None),
        "two live containers hold the label"
    );
    // C is gone: B is the only live holder again, for records written from then on.
    drop(c);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        container_of(&mut at, &event(gone, now_ms(), LABEL)),
        (Some(idb.clone()), Method::Mcs)
    );
    drop(b);
}
