//! The calls a denying profile must allow without evidence: the signal returns and
//! `restart_syscall`, which no number of observed runs shows reliably.
//!
//! `rt_sigreturn` (and `sigreturn` on 32-bit arches) is made when a signal handler returns,
//! so only runs that happened to take a signal show it: runc's init (a Go program, after it
//! loaded the filter) takes the Go runtime's preemption signal in about one start in five,
//! and under a profile that denies `rt_sigreturn` that start dies of SIGSEGV with nothing on
//! stderr (measured: 2 of 15 `docker run` of `ls` under a suggested profile without it;
//! the call appeared in 16 of 80 logged starts). A denied signal return is never survivable.
//! `restart_syscall` is made by the kernel, not the program, when a call interrupted by a
//! stop (SIGSTOP, a debugger) resumes. Docker's default profile allows all three.

use parsers::syscalls::syscall_number;
use parsers::ScmpArch;

/// Allowed in every 64-bit and 32-bit arch's table.
const ALWAYS: &[&str] = &["restart_syscall", "rt_sigreturn"];
/// The legacy signal return, in the tables of the 32-bit arches only.
const LEGACY: &str = "sigreturn";

/// True when `name` is one of the calls this module adds.
pub fn is_essential(name: &str) -> bool {
    ALWAYS.contains(&name) || name == LEGACY
}

/// The calls to allow for a profile filtering `arches` (`SCMP_ARCH_*` names; unknown names
/// are skipped): `restart_syscall`, `rt_sigreturn`, and `sigreturn` when one of the arches
/// has it. Sorted.
pub fn names<'a>(arches: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = ALWAYS.to_vec();
    let legacy = arches
        .into_iter()
        .filter_map(ScmpArch::from_name)
        .any(|a| syscall_number(a, LEGACY).is_some());
    if legacy {
        out.push(LEGACY);
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigreturn_only_where_the_arch_has_it() {
        assert_eq!(
            names(["SCMP_ARCH_X86_64"]),
            ["restart_syscall", "rt_sigreturn"]
        );
        assert_eq!(
            names(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]),
            ["restart_syscall", "rt_sigreturn", "sigreturn"]
        );
        assert_eq!(
            names(["SCMP_ARCH_ARM"]),
            ["restart_syscall", "rt_sigreturn", "sigreturn"]
        );
        assert_eq!(
            names(["SCMP_ARCH_AARCH64"]),
            ["restart_syscall", "rt_sigreturn"]
        );
        assert_eq!(
            names(["SCMP_ARCH_NEW"]),
            ["restart_syscall", "rt_sigreturn"]
        );
        assert_eq!(names([]), ["restart_syscall", "rt_sigreturn"]);
    }

    /// Every name is in the syscall table of the arches it is added for (libseccomp's names).
    #[test]
    fn names_are_libseccomp_names() {
        for arch in ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_S390X"] {
            let a = ScmpArch::from_name(arch).unwrap();
            for n in names([arch]) {
                assert!(syscall_number(a, n).is_some(), "{n} on {arch}");
            }
        }
        let x86 = ScmpArch::from_name("SCMP_ARCH_X86").unwrap();
        assert!(syscall_number(x86, "sigreturn").is_some());
    }
}
