//! The daemon's own seccomp sandbox: an allow list of the calls it makes, shipped as
//! `packaging/seccomp-watch.seccomp.json` (Docker format, so `seccomp-watch` can check and
//! refine it like any other profile), compiled to BPF with `seccompiler` for the native
//! arch and installed on every thread (SECCOMP_FILTER_FLAG_TSYNC) after start-up.
//!
//! Modes (`sandbox` in the config): `off`; `log` for roll-out (calls outside the list are
//! allowed and logged, as SECCOMP records the daemon itself sees); `enforce` (the profile's
//! `defaultAction`, ERRNO(EPERM) as shipped; SCMP_ACT_KILL_PROCESS also works). The filter
//! is installed with SECCOMP_FILTER_FLAG_LOG, so denials are logged too.
//!
//! `run` calls [`install`] once every thread pool, socket and file it needs at start-up
//! exists (threads started later inherit the filter).

use std::collections::BTreeMap;

use parsers::arch::ScmpArch;
use rules::profile::{Profile, SyscallRule};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// The shipped allow list.
pub const PROFILE_JSON: &str = include_str!("../../packaging/seccomp-watch.seccomp.json");

/// Why the sandbox could not be built or installed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox must be \"enforce\", \"log\" or \"off\", not {0:?}")]
    Mode(String),
    #[error("the sandbox profile is invalid: {0}")]
    Profile(String),
    #[error("the sandbox is not supported on this architecture ({0})")]
    Arch(&'static str),
    #[error("cannot compile the sandbox filter: {0}")]
    Compile(String),
    #[error("cannot set no_new_privs: {0}")]
    NoNewPrivs(std::io::Error),
    #[error("cannot install the sandbox filter: {0}")]
    Install(std::io::Error),
    #[error("cannot install the sandbox filter on thread {0} (TSYNC)")]
    Tsync(i64),
}

/// How the sandbox acts on a call outside the allow list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    Log,
    Enforce,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, SandboxError> {
        match s {
            "off" => Ok(Mode::Off),
            "log" => Ok(Mode::Log),
            "enforce" => Ok(Mode::Enforce),
            other => Err(SandboxError::Mode(
                parsers::escape::escape(other).into_owned(),
            )),
        }
    }
}

/// A compiled filter and what went into it.
#[derive(Debug)]
pub struct Compiled {
    pub program: BpfProgram,
    /// Syscalls allowed (names known on the native arch).
    pub allowed: Vec<&'static str>,
    /// Names of the profile that the native arch does not have (e.g. `open` on aarch64).
    pub not_on_arch: Vec<String>,
    /// The action for every other call.
    pub default_action: SeccompAction,
}

/// The native arch, as the profile names it and as seccompiler does.
pub fn native_arch() -> Result<(ScmpArch, TargetArch), SandboxError> {
    #[cfg(target_arch = "x86_64")]
    return Ok((ScmpArch::X86_64, TargetArch::x86_64));
    #[cfg(target_arch = "aarch64")]
    return Ok((ScmpArch::Aarch64, TargetArch::aarch64));
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    return Err(SandboxError::Arch(std::env::consts::ARCH));
}

/// Compiles `profile_json` for `mode` (which must not be off) on the native arch.
///
/// Only `SCMP_ACT_ALLOW` entries are supported (an allow list); argument conditions are
/// kept (entries of one name are ORed, the conditions of one entry ANDed); entries whose
/// `includes`/`excludes` arches leave out the native arch are skipped, and entries that
/// need capabilities (`includes.caps`) are skipped.
pub fn compile(profile_json: &str, mode: Mode) -> Result<Compiled, SandboxError> {
    let (arch, target) = native_arch()?;
    let profile =
        Profile::from_json(profile_json).map_err(|e| SandboxError::Profile(e.to_string()))?;
    let spec = profile.spec();
    let default_action = match mode {
        Mode::Off => return Err(SandboxError::Mode("off".into())),
        Mode::Log => SeccompAction::Log,
        Mode::Enforce => match spec.default_action.as_str() {
            "SCMP_ACT_ERRNO" => SeccompAction::Errno(spec.default_errno_ret.unwrap_or(libc::EPERM as u32)),
            "SCMP_ACT_KILL_PROCESS" => SeccompAction::KillProcess,
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => SeccompAction::KillThread,
            "SCMP_ACT_TRAP" => SeccompAction::Trap,
            "SCMP_ACT_LOG" => SeccompAction::Log,
            other => {
                return Err(SandboxError::Profile(format!(
                    "defaultAction {:?} is not a denial (ERRNO, KILL_PROCESS, KILL_THREAD, TRAP or LOG)",
                    parsers::escape::escape(other)
                )))
            }
        },
    };
    let arch_names = spec.covered_arches();
    if !arch_names.is_empty() && !arch_names.iter().any(|a| a == arch.name()) {
        return Err(SandboxError::Profile(format!(
            "it does not cover the native arch {}",
            arch.name()
        )));
    }
    // None: unconditional; Some(rules): any of them.
    let mut by_nr: BTreeMap<i64, Option<Vec<SeccompRule>>> = BTreeMap::new();
    let mut allowed = Vec::new();
    let mut not_on_arch = Vec::new();
    for (i, entry) in spec.rules().iter().enumerate() {
        if entry.action != "SCMP_ACT_ALLOW" {
            return Err(SandboxError::Profile(format!(
                "syscalls[{i}]: only SCMP_ACT_ALLOW entries are supported, not {:?}",
                parsers::escape::escape(&entry.action)
            )));
        }
        if !applies_to(entry, arch) {
            continue;
        }
        let rule = condition_rule(entry)
            .map_err(|e| SandboxError::Profile(format!("syscalls[{i}]: {e}")))?;
        for name in entry.all_names() {
            let Some(nr) = parsers::syscalls::syscall_number(arch, name) else {
                not_on_arch.push(name.to_string());
                continue;
            };
            if let Some(n) = parsers::syscalls::syscall_name(arch, nr) {
                allowed.push(n);
            }
            let slot = by_nr.entry(nr).or_insert_with(|| Some(Vec::new()));
            match (&rule, slot) {
                (None, slot) => *slot = None,
                (Some(_), None) => {}
                (Some(r), Some(v)) => v.push(r.clone()),
            }
        }
    }
    let rules: BTreeMap<i64, Vec<SeccompRule>> = by_nr
        .into_iter()
        .map(|(nr, r)| (nr, r.unwrap_or_default()))
        .collect();
    let filter = SeccompFilter::new(rules, default_action.clone(), SeccompAction::Allow, target)
        .map_err(|e| SandboxError::Compile(e.to_string()))?;
    let program: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| SandboxError::Compile(e.to_string()))?;
    allowed.sort_unstable();
    allowed.dedup();
    not_on_arch.sort();
    not_on_arch.dedup();
    Ok(Compiled {
        program,
        allowed,
        not_on_arch,
        default_action,
    })
}

fn applies_to(entry: &SyscallRule, arch: ScmpArch) -> bool {
    let name = arch.name();
    if let Some(inc) = &entry.includes {
        if inc.caps.as_ref().is_some_and(|c| !c.is_empty()) {
            return false;
        }
        if let Some(a) = &inc.arches {
            if !a.is_empty() && !a.iter().any(|x| arch_matches(x, name)) {
                return false;
            }
        }
    }
    if let Some(exc) = &entry.excludes {
        if let Some(a) = &exc.arches {
            if a.iter().any(|x| arch_matches(x, name)) {
                return false;
            }
        }
    }
    true
}

/// Docker writes `includes.arches` as Go arch names (`amd64`, `arm64`) or as SCMP names.
fn arch_matches(given: &str, scmp: &str) -> bool {
    given == scmp
        || matches!(
            (given, scmp),
            ("amd64" | "x86_64", "SCMP_ARCH_X86_64") | ("arm64" | "aarch64", "SCMP_ARCH_AARCH64")
        )
}

/// The entry's argument conditions as one rule (None when it has none).
fn condition_rule(entry: &SyscallRule) -> Result<Option<SeccompRule>, String> {
    let Some(args) = entry.args.as_ref().filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let mut conds = Vec::new();
    for a in args {
        let index = u8::try_from(a.index)
            .ok()
            .filter(|i| *i < 6)
            .ok_or_else(|| format!("arg index {} out of range", a.index))?;
        let (op, value) = match a.op.as_str() {
            "SCMP_CMP_EQ" => (SeccompCmpOp::Eq, a.value),
            "SCMP_CMP_NE" => (SeccompCmpOp::Ne, a.value),
            "SCMP_CMP_LT" => (SeccompCmpOp::Lt, a.value),
            "SCMP_CMP_LE" => (SeccompCmpOp::Le, a.value),
            "SCMP_CMP_GT" => (SeccompCmpOp::Gt, a.value),
            "SCMP_CMP_GE" => (SeccompCmpOp::Ge, a.value),
            "SCMP_CMP_MASKED_EQ" => (SeccompCmpOp::MaskedEq(a.value), a.value_two.unwrap_or(0)),
            other => return Err(format!("unknown op {:?}", parsers::escape::escape(other))),
        };
        conds.push(
            SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
                .map_err(|e| e.to_string())?,
        );
    }
    SeccompRule::new(conds).map(Some).map_err(|e| e.to_string())
}

/// What [`install`] did.
#[derive(Debug)]
pub struct Installed {
    pub mode: Mode,
    pub allowed: usize,
    pub instructions: usize,
}

/// Installs the shipped profile in `mode` on every thread of the process (None when off).
pub fn install(mode: Mode) -> Result<Option<Installed>, SandboxError> {
    install_profile(PROFILE_JSON, mode)
}

/// Installs `profile_json` in `mode` on every thread of the process (None when off).
pub fn install_profile(profile_json: &str, mode: Mode) -> Result<Option<Installed>, SandboxError> {
    if mode == Mode::Off {
        return Ok(None);
    }
    let c = compile(profile_json, mode)?;
    apply_all_threads(&c.program)?;
    tracing::info!(mode = ?mode, allowed = c.allowed.len(), instructions = c.program.len(), "seccomp sandbox installed");
    Ok(Some(Installed {
        mode,
        allowed: c.allowed.len(),
        instructions: c.program.len(),
    }))
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, TSYNC | LOG, prog)` after `PR_SET_NO_NEW_PRIVS`
/// (which TSYNC carries to the other threads).
fn apply_all_threads(program: &BpfProgram) -> Result<(), SandboxError> {
    let len = u16::try_from(program.len())
        .map_err(|_| SandboxError::Compile("filter longer than 65535".into()))?;
    // SAFETY: plain prctl with integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(SandboxError::NoNewPrivs(std::io::Error::last_os_error()));
    }
    // seccompiler's sock_filter has the kernel's layout (u16, u8, u8, u32).
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    let flags = libc::SECCOMP_FILTER_FLAG_TSYNC | libc::SECCOMP_FILTER_FLAG_LOG;
    // SAFETY: prog points at `len` valid instructions; the kernel copies them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    match rc {
        0 => Ok(()),
        r if r > 0 => Err(SandboxError::Tsync(r)),
        _ => Err(SandboxError::Install(std::io::Error::last_os_error())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_profile_compiles_in_both_modes() {
        let log = compile(PROFILE_JSON, Mode::Log).unwrap();
        assert_eq!(log.default_action, SeccompAction::Log);
        for needed in [
            "read",
            "write",
            "futex",
            "epoll_wait",
            "recvmsg",
            "accept4",
            "openat",
            "exit_group",
            "faccessat2",
        ] {
            assert!(log.allowed.contains(&needed), "{needed} missing");
        }
        assert!(
            !log.allowed.contains(&"seccomp"),
            "the filter must not allow installing another"
        );
        assert!(
            !log.allowed.contains(&"execve"),
            "the daemon never executes anything"
        );
        let enforce = compile(PROFILE_JSON, Mode::Enforce).unwrap();
        assert_eq!(enforce.default_action, SeccompAction::Errno(1));
        assert!(compile(PROFILE_JSON, Mode::Off).is_err());
        // The profile is a valid Docker profile that rules reads back unchanged.
        assert_eq!(
            Profile::from_json(PROFILE_JSON).unwrap().to_json(),
            PROFILE_JSON
        );
    }

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse("log").unwrap(), Mode::Log);
        assert_eq!(Mode::parse("enforce").unwrap(), Mode::Enforce);
        assert_eq!(Mode::parse("off").unwrap(), Mode::Off);
        assert!(Mode::parse("on").is_err());
    }

    #[test]
    fn bad_profiles_are_rejected() {
        let cases = [
            ("{", "invalid"),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}"#,
                "not a denial",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO"}]}"#,
                "only SCMP_ACT_ALLOW",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_S390X"],"syscalls":[]}"#,
                "native arch",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
                "out of range",
            ),
        ];
        for (json, want) in cases {
            let e = compile(json, Mode::Enforce).unwrap_err().to_string();
            assert!(e.contains(want), "{json}: {e}");
        }
    }

    #[test]
    fn names_of_other_arches_and_excluded_entries_are_skipped() {
        let json = r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[
            {"names":["read","no_such_call"],"action":"SCMP_ACT_ALLOW"},
            {"names":["write"],"action":"SCMP_ACT_ALLOW","excludes":{"arches":["amd64","arm64"]}},
            {"names":["ptrace"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_PTRACE"]}},
            {"names":["close"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":3,"op":"SCMP_CMP_GE"}]}]}"#;
        let c = compile(json, Mode::Enforce).unwrap();
        assert_eq!(c.default_action, SeccompAction::KillProcess);
        assert_eq!(c.allowed, ["close", "read"]);
        assert_eq!(c.not_on_arch, ["no_such_call"]);
    }

    /// Installs a filter in a child process (fork: the test harness's threads stay
    /// unfiltered) and checks that listed calls work and others fail with EPERM.
    #[test]
    fn an_enforced_filter_denies_what_it_does_not_list() {
        let json = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[
            {"names":["exit_group","exit","getpid","write","futex","rt_sigprocmask","prctl","seccomp","munmap","sigaltstack","madvise"],"action":"SCMP_ACT_ALLOW"},
            {"names":["getppid"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":7,"op":"SCMP_CMP_EQ"}]}]}"#;
        let c = compile(json, Mode::Enforce).unwrap();
        // SAFETY: the child only makes raw syscalls and exits with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = (|| {
                if apply_all_threads(&c.program).is_err() {
                    return 10;
                }
                // SAFETY: raw syscalls without pointers.
                unsafe {
                    if libc::syscall(libc::SYS_getpid) <= 0 {
                        return 11;
                    }
                    if libc::syscall(libc::SYS_getuid) != -1
                        || *libc::__errno_location() != libc::EPERM
                    {
                        return 12;
                    }
                    if libc::syscall(libc::SYS_getppid, 7) <= 0 {
                        return 13;
                    }
                    if libc::syscall(libc::SYS_getppid, 8) != -1 {
                        return 14;
                    }
                }
                0
            })();
            // SAFETY: _exit is always safe.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "child died: {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "child check failed");
    }
}
