//! Syscall names as dense ids (every name of every arch libseccomp knows, plus the newer
//! kernels' calls), sets of them as bitsets, and the built-in named groups (`@dangerous`
//! and friends) that rules may use.

use std::collections::HashMap;
use std::sync::OnceLock;

use parsers::syscalls::{all_syscalls, syscall_name};
use parsers::ScmpArch;

/// A syscall name's dense id (index into [`Universe::names`]).
pub type SyscallId = u16;

/// Every syscall name of every arch, numbered.
pub struct Universe {
    /// Sorted, unique.
    pub names: Vec<&'static str>,
    by_name: HashMap<&'static str, SyscallId>,
    /// Per arch (by `ScmpArch::index`): kernel number -> id, sorted by number.
    by_arch: Vec<Vec<(i64, SyscallId)>>,
}

/// The process-wide universe (built once).
pub fn universe() -> &'static Universe {
    static U: OnceLock<Universe> = OnceLock::new();
    U.get_or_init(|| {
        let mut names: Vec<&'static str> = ScmpArch::ALL
            .iter()
            .flat_map(|&a| all_syscalls(a).iter().map(|&(_, n)| n))
            .collect();
        names.sort_unstable();
        names.dedup();
        let by_name: HashMap<&'static str, SyscallId> = names
            .iter()
            .enumerate()
            .map(|(i, &n)| (n, i as SyscallId))
            .collect();
        let by_arch = ScmpArch::ALL
            .iter()
            .map(|&a| {
                let mut v: Vec<(i64, SyscallId)> = all_syscalls(a)
                    .iter()
                    .filter_map(|&(nr, n)| by_name.get(n).map(|&id| (nr, id)))
                    .collect();
                v.sort_unstable();
                v
            })
            .collect();
        Universe {
            names,
            by_name,
            by_arch,
        }
    })
}

impl Universe {
    /// The id of a syscall name (known on at least one arch).
    pub fn id(&self, name: &str) -> Option<SyscallId> {
        self.by_name.get(name).copied()
    }

    /// The id of syscall `nr` on `arch` (kernel numbers, as in a record's `syscall=`).
    pub fn id_of(&self, arch: ScmpArch, nr: i64) -> Option<SyscallId> {
        let v = self.by_arch.get(arch.index())?;
        match v.binary_search_by_key(&nr, |&(n, _)| n) {
            Ok(i) => Some(v[i].1),
            // Forms without the arch's base (MIPS 20 for 4020): through the name.
            Err(_) => syscall_name(arch, nr).and_then(|n| self.id(n)),
        }
    }

    /// The name of id `id`.
    pub fn name(&self, id: SyscallId) -> &'static str {
        self.names.get(id as usize).copied().unwrap_or("?")
    }

    /// How many names there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Never true (kept for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A set of syscall ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallSet {
    bits: Box<[u64]>,
}

impl Default for SyscallSet {
    fn default() -> Self {
        SyscallSet::new()
    }
}

impl SyscallSet {
    /// The empty set.
    pub fn new() -> SyscallSet {
        SyscallSet {
            bits: vec![0u64; universe().len().div_ceil(64)].into_boxed_slice(),
        }
    }

    /// The set of every syscall.
    pub fn full() -> SyscallSet {
        let mut s = SyscallSet::new();
        for id in 0..universe().len() {
            s.insert(id as SyscallId);
        }
        s
    }

    pub fn insert(&mut self, id: SyscallId) {
        if let Some(w) = self.bits.get_mut(id as usize / 64) {
            *w |= 1 << (id % 64);
        }
    }

    pub fn remove(&mut self, id: SyscallId) {
        if let Some(w) = self.bits.get_mut(id as usize / 64) {
            *w &= !(1 << (id % 64));
        }
    }

    #[inline]
    pub fn contains(&self, id: SyscallId) -> bool {
        self.bits
            .get(id as usize / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    pub fn union_with(&mut self, other: &SyscallSet) {
        for (a, b) in self.bits.iter_mut().zip(other.bits.iter()) {
            *a |= b;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    /// The ids in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = SyscallId> + '_ {
        self.bits.iter().enumerate().flat_map(|(wi, &w)| {
            (0..64)
                .filter(move |b| w & (1u64 << b) != 0)
                .map(move |b| (wi * 64 + b) as SyscallId)
        })
    }

    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }
}

/// The built-in groups, usable as `@NAME` in `syscalls` lists.
///
/// - `@dangerous`: calls that reach into the kernel or other processes in ways a
///   containerised service never needs, and that container escapes and rootkits use:
///   debugging other processes (ptrace, process_vm_*, pidfd_getfd, kcmp), loading kernel
///   code (modules, kexec, bpf), mounting and namespace changes (mount API, pivot_root,
///   unshare, setns, open_by_handle_at, the Shocker escape), kernel keyrings,
///   userfaultfd and perf_event_open (exploit primitives), raw port I/O (iopl, ioperm),
///   reboot/swap/clock/accounting changes, and io_uring (runs operations seccomp cannot
///   see; Docker's default profile blocks it since 25.0).
/// - the narrower groups below, for rules that want one family.
pub const BUILTIN_GROUPS: &[(&str, &str, &[&str])] = &[
    (
        "dangerous",
        "calls a container should never make: kernel code loading, other processes' memory, mounts, namespaces, keyrings, exploit primitives",
        &[
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "pidfd_getfd",
            "kcmp",
            "bpf",
            "init_module",
            "finit_module",
            "delete_module",
            "create_module",
            "kexec_load",
            "kexec_file_load",
            "mount",
            "umount",
            "umount2",
            "pivot_root",
            "chroot",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "move_mount",
            "open_tree",
            "mount_setattr",
            "unshare",
            "setns",
            "open_by_handle_at",
            "name_to_handle_at",
            "keyctl",
            "add_key",
            "request_key",
            "userfaultfd",
            "perf_event_open",
            "iopl",
            "ioperm",
            "reboot",
            "swapon",
            "swapoff",
            "acct",
            "settimeofday",
            "clock_settime",
            "clock_adjtime",
            "adjtimex",
            "syslog",
            "lookup_dcookie",
            "quotactl",
            "nfsservctl",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
        ],
    ),
    ("debug", "inspecting or changing other processes", &["ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp", "perf_event_open"]),
    ("module", "loading and unloading kernel code", &["init_module", "finit_module", "delete_module", "create_module", "kexec_load", "kexec_file_load", "bpf"]),
    (
        "mount",
        "mounting and changing the root",
        &["mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr"],
    ),
    ("namespace", "entering or creating namespaces", &["unshare", "setns", "clone3"]),
    ("keyring", "kernel keyrings", &["keyctl", "add_key", "request_key"]),
    ("clock", "setting the system clock", &["settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime"]),
    ("reboot", "rebooting and kexec", &["reboot", "kexec_load", "kexec_file_load"]),
    ("io-uring", "io_uring (bypasses seccomp for the operations it runs)", &["io_uring_setup", "io_uring_enter", "io_uring_register"]),
    ("privilege", "changing user and group ids and capabilities", &["setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid", "setgroups", "capset"]),
    ("network", "opening sockets and connecting", &["socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "socketcall"]),
    ("exec", "running programs", &["execve", "execveat"]),
];

/// The members of built-in group `name` (without `@`).
pub fn builtin_group(name: &str) -> Option<&'static [&'static str]> {
    BUILTIN_GROUPS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, m)| *m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_group_member_is_a_known_syscall() {
        let u = universe();
        for (g, _, members) in BUILTIN_GROUPS {
            for m in *members {
                assert!(
                    u.id(m).is_some(),
                    "@{g}: {m} is not a syscall libseccomp knows"
                );
            }
        }
        let d = builtin_group("dangerous").unwrap();
        for required in [
            "ptrace",
            "bpf",
            "init_module",
            "finit_module",
            "delete_module",
            "kexec_load",
            "kexec_file_load",
            "mount",
            "umount2",
            "pivot_root",
            "unshare",
            "setns",
            "keyctl",
            "add_key",
            "request_key",
            "userfaultfd",
            "perf_event_open",
            "open_by_handle_at",
            "process_vm_writev",
        ] {
            assert!(d.contains(&required), "{required} missing from @dangerous");
        }
    }

    #[test]
    fn ids_by_number_and_name_agree() {
        let u = universe();
        let ptrace = u.id("ptrace").unwrap();
        assert_eq!(u.id_of(ScmpArch::X86_64, 101), Some(ptrace));
        assert_eq!(u.id_of(ScmpArch::X86, 26), Some(ptrace));
        assert_eq!(u.id_of(ScmpArch::Aarch64, 117), Some(ptrace));
        assert_eq!(u.id_of(ScmpArch::Mips, 4026), Some(ptrace));
        assert_eq!(
            u.id_of(ScmpArch::Mips, 26),
            Some(ptrace),
            "o32 number without the base"
        );
        assert_eq!(u.name(ptrace), "ptrace");
        assert_eq!(u.id_of(ScmpArch::X86_64, 99_999), None);
        assert!(u.len() > 400);
    }

    #[test]
    fn sets() {
        let mut s = SyscallSet::new();
        assert!(s.is_empty());
        s.insert(3);
        s.insert(200);
        assert!(s.contains(3) && s.contains(200) && !s.contains(4));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![3, 200]);
        s.remove(3);
        assert_eq!(s.len(), 1);
        assert_eq!(SyscallSet::full().len(), universe().len());
    }
}
