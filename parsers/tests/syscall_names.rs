//! Checks the arch and syscall tables against libseccomp itself (`scmp_sys_resolver`,
//! run live), against Docker's default profile `archMap`, and against real captured
//! audit records.
//!
//! The live comparison skips (with a message) when `scmp_sys_resolver` is not
//! installed (Debian package `seccomp`), and fails instead when
//! `SECCOMP_WATCH_REQUIRE_ROOT_TESTS=1`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use parsers::arch::ScmpArch;
use parsers::syscalls::{all_syscalls, syscall_name, syscall_number};

const RESOLVER: &str = "scmp_sys_resolver";
/// Numbers checked on every arch, relative to its base (x32's 512..=547 included).
const MAX_REL: i64 = 600;
/// ARM's private syscalls (__ARM_NR_BASE 0xf0000).
const ARM_PRIVATE: std::ops::RangeInclusive<i64> = 0xf0000..=0xf0010;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The documented exceptions of `src/syscalls/newer.txt`, parsed independently of the
/// crate: (arch, number relative to the arch's base, name).
fn exceptions() -> BTreeSet<(ScmpArch, i64, String)> {
    let text = std::fs::read_to_string(manifest_dir().join("src/syscalls/newer.txt"))
        .expect("read src/syscalls/newer.txt");
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 3, "bad newer.txt line {line:?}");
        let arches: Vec<ScmpArch> = if fields[0] == "*" {
            ScmpArch::ALL.to_vec()
        } else {
            fields[0]
                .split(',')
                .map(|a| ScmpArch::from_resolver_name(a).expect("known arch in newer.txt"))
                .collect()
        };
        let rel: i64 = fields[1].parse().expect("number in newer.txt");
        for a in arches {
            assert!(
                out.insert((a, rel, fields[2].to_string())),
                "duplicate {line:?}"
            );
        }
    }
    out
}

/// Whether the live comparison can run; panics when it must but cannot.
fn resolver_available() -> bool {
    match Command::new(RESOLVER).args(["-a", "x86_64", "0"]).output() {
        Ok(out) if out.status.success() => true,
        other => {
            let why = match other {
                Ok(out) => format!("{RESOLVER} exited with {}", out.status),
                Err(e) => format!("{RESOLVER} not runnable: {e}"),
            };
            if std::env::var("SECCOMP_WATCH_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
                panic!("{why} (install Debian package `seccomp`)");
            }
            eprintln!("SKIPPED: {why} (install Debian package `seccomp`)");
            false
        }
    }
}

/// Runs `scmp_sys_resolver -a ARCH QUERY` for every query, in parallel threads;
/// returns the trimmed stdout of each, in order.
fn resolve_all(queries: &[(ScmpArch, String)]) -> Vec<String> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![String::new(); queries.len()]);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((arch, query)) = queries.get(i) else {
                    break;
                };
                let out = Command::new(RESOLVER)
                    .args(["-a", arch.resolver_name(), query])
                    .output()
                    .expect("run scmp_sys_resolver");
                assert!(
                    out.status.success(),
                    "{RESOLVER} -a {arch:?} {query}: {out:?}"
                );
                let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
                results.lock().expect("results lock")[i] = text;
            });
        }
    });
    results.into_inner().expect("results lock")
}

/// Every number 0..=MAX_REL (relative to each arch's base) and ARM's private range:
/// our name must be libseccomp's, except exactly the documented exceptions. Then every
/// name we know must resolve to our number (or be an exception libseccomp lacks).
#[test]
fn names_match_live_libseccomp_except_documented() {
    if !resolver_available() {
        return;
    }
    let exceptions = exceptions();

    let mut queries: Vec<(ScmpArch, i64)> = Vec::new();
    for a in ScmpArch::ALL {
        for rel in 0..=MAX_REL {
            queries.push((a, a.syscall_base() + rel));
        }
    }
    for nr in ARM_PRIVATE {
        queries.push((ScmpArch::Arm, nr));
    }
    let text: Vec<(ScmpArch, String)> =
        queries.iter().map(|&(a, nr)| (a, nr.to_string())).collect();
    let answers = resolve_all(&text);

    let mut differences = BTreeSet::new();
    let mut known = 0usize;
    for (&(arch, nr), answer) in queries.iter().zip(&answers) {
        let theirs = (answer != "UNKNOWN").then_some(answer.as_str());
        let ours = syscall_name(arch, nr);
        known += usize::from(theirs.is_some());
        if ours != theirs {
            assert_eq!(
                theirs, None,
                "{arch:?} {nr}: ours {ours:?}, libseccomp {theirs:?}"
            );
            differences.insert((
                arch,
                nr - arch.syscall_base(),
                ours.unwrap_or("").to_string(),
            ));
        }
    }
    assert!(known > 17 * 250, "libseccomp knew only {known} numbers");
    let expected: BTreeSet<_> = exceptions
        .iter()
        .filter(|(_, rel, _)| *rel <= MAX_REL)
        .cloned()
        .collect();
    assert_eq!(
        differences, expected,
        "the numbers where our table and libseccomp differ must be exactly newer.txt's"
    );

    // Name -> number, for every name in our table.
    let mut names: Vec<(ScmpArch, i64, &str)> = Vec::new();
    for a in ScmpArch::ALL {
        for &(nr, name) in all_syscalls(a) {
            names.push((a, nr, name));
        }
    }
    let text: Vec<(ScmpArch, String)> = names.iter().map(|&(a, _, n)| (a, n.to_string())).collect();
    let answers = resolve_all(&text);
    let mut pseudo = BTreeSet::new();
    for (&(arch, nr, name), answer) in names.iter().zip(&answers) {
        assert_eq!(syscall_number(arch, name), Some(nr));
        // libseccomp names the socketcall(2)/ipc(2) sub-calls by negative pseudo numbers
        // (-101 socket ... -2xx ipc) on the arches that multiplex them, even where the
        // kernel also has a direct number; ours is the kernel's direct number.
        if answer.parse::<i64>().is_ok_and(|n| n <= -100) {
            pseudo.insert(arch);
            continue;
        }
        let exception = exceptions.contains(&(arch, nr - arch.syscall_base(), name.to_string()));
        let want = if exception {
            "-1".to_string()
        } else {
            nr.to_string()
        };
        assert_eq!(
            answer,
            &want,
            "{RESOLVER} -a {} {name}",
            arch.resolver_name()
        );
    }
    use ScmpArch as A;
    let multiplexing = [
        A::X86,
        A::Mips,
        A::MipsEl,
        A::Ppc,
        A::Ppc64,
        A::Ppc64Le,
        A::S390,
        A::S390X,
    ];
    assert!(
        pseudo.iter().all(|a| multiplexing.contains(a)),
        "pseudo numbers on {pseudo:?}"
    );
}

/// Docker's default profile groups arches in `archMap`; every sub-architecture of a
/// known arch must be one of its compat partners, and the reverse.
#[test]
fn compat_partners_follow_docker_arch_map() {
    let path = manifest_dir().join("../tests/fixtures/profiles/docker-default.json");
    let text = std::fs::read_to_string(&path).expect("read docker-default.json");
    let profile: serde_json::Value = serde_json::from_str(&text).expect("parse profile");
    let arch_map = profile["archMap"].as_array().expect("archMap array");
    let mut checked = 0;
    for entry in arch_map {
        let main = entry["architecture"].as_str().expect("architecture");
        let Some(main) = ScmpArch::from_name(main) else {
            assert_eq!(main, "SCMP_ARCH_LOONGARCH64", "unexpected unknown arch");
            continue;
        };
        let subs: Vec<ScmpArch> = entry["subArchitectures"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|s| ScmpArch::from_name(s.as_str().expect("name")).expect("known sub"))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(main.compat_partners(), subs.as_slice(), "{main:?}");
        for sub in subs {
            assert!(sub.compat_partners().contains(&main), "{sub:?} -> {main:?}");
        }
        checked += 1;
    }
    assert_eq!(checked, 8);
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|f| f.strip_prefix(key))
}

/// Every SECCOMP record captured on a real machine (x86_64 and i386 processes, a runc
/// container) resolves to a known arch and name.
#[test]
fn captured_records_resolve() {
    let path: &Path = &manifest_dir().join("../tests/fixtures/audit/auditd-raw.log");
    let text = std::fs::read_to_string(path).expect("read auditd-raw.log");
    let mut seen = BTreeSet::new();
    let mut records = 0;
    for line in text.lines().filter(|l| l.starts_with("type=SECCOMP ")) {
        let arch = u32::from_str_radix(field(line, "arch=").expect("arch="), 16).expect("hex");
        let nr: i64 = field(line, "syscall=")
            .expect("syscall=")
            .parse()
            .expect("number");
        let a = ScmpArch::from_audit(arch, nr).expect("known arch");
        let name = syscall_name(a, nr).expect("known syscall");
        if matches!(field(line, "comm="), Some("\"act\"" | "\"act32\"")) {
            assert_eq!(name, "getppid", "{line}");
        }
        seen.insert((a, name));
        records += 1;
    }
    assert!(records >= 50, "only {records} records");
    assert!(seen.contains(&(ScmpArch::X86, "getppid")));
    assert!(seen.contains(&(ScmpArch::X86_64, "getppid")));
    assert!(seen.contains(&(ScmpArch::X86_64, "openat")));
    assert!(seen.contains(&(ScmpArch::X86_64, "newfstatat")));
}

/// The examples of the project brief.
#[test]
fn brief_examples() {
    let x86 = ScmpArch::from_audit(0x4000_0003, 20);
    assert_eq!(x86, Some(ScmpArch::X86));
    assert_eq!(x86.and_then(|a| syscall_name(a, 20)), Some("getpid"));
    let x32 = ScmpArch::from_audit(0xc000_003e, 0x4000_0027);
    assert_eq!(x32, Some(ScmpArch::X32));
    assert_eq!(
        x32.and_then(|a| syscall_name(a, 0x4000_0027)),
        Some("getpid")
    );
    let a64 = ScmpArch::from_audit(0xc000_00b7, 79);
    assert_eq!(a64.and_then(|a| syscall_name(a, 79)), Some("newfstatat"));
    let arm = ScmpArch::from_audit(0x4000_0028, 983042);
    assert_eq!(
        arm.and_then(|a| syscall_name(a, 983042)),
        Some("cacheflush")
    );
    assert_eq!(ScmpArch::from_audit(0x1234, 0), None);
    assert_eq!(syscall_name(ScmpArch::X86_64, 999), None);
}
