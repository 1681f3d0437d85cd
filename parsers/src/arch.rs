//! Audit architecture values (AUDIT_ARCH_*) to libseccomp/Docker arch names (SCMP_ARCH_*).
//!
//! Covers the 17 arches that Debian 12's libseccomp (`scmp_sys_resolver -a`) knows and
//! that Docker/OCI profiles name. The AUDIT_ARCH_* values are those of
//! `linux/audit.h` (EM_* machine | 64-bit 0x80000000 | little-endian 0x40000000 |
//! MIPS n32 convention 0x20000000).

/// x32 syscalls are x86_64's audit arch with this bit set in the syscall number.
pub const X32_SYSCALL_BIT: i64 = 0x4000_0000;

/// A libseccomp architecture, as named in Docker/OCI profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScmpArch {
    X86_64,
    X86,
    X32,
    Arm,
    Aarch64,
    Mips,
    Mips64,
    Mips64N32,
    MipsEl,
    MipsEl64,
    MipsEl64N32,
    Ppc,
    Ppc64,
    Ppc64Le,
    S390,
    S390X,
    Riscv64,
}

/// Per-arch facts, in the order of [`ScmpArch::ALL`] (the enum's declaration order).
struct Info {
    name: &'static str,
    resolver: &'static str,
    audit: u32,
    partners: &'static [ScmpArch],
}

use ScmpArch as A;

// Compat groups follow Docker's default profile `archMap` (x86_64 with x86 and x32,
// aarch64 with arm, each mips64 ABI with the other and with o32, s390x with s390),
// plus ppc64 (big endian) with ppc. ppc64le and riscv64 run no other ABI.
const X86_GROUP_OF_X86_64: &[ScmpArch] = &[A::X86, A::X32];
const X86_GROUP_OF_X86: &[ScmpArch] = &[A::X86_64, A::X32];
const X86_GROUP_OF_X32: &[ScmpArch] = &[A::X86_64, A::X86];

#[rustfmt::skip]
const INFO: [Info; 17] = [
    Info { name: "SCMP_ARCH_X86_64", resolver: "x86_64", audit: 0xc000_003e, partners: X86_GROUP_OF_X86_64 },
    Info { name: "SCMP_ARCH_X86", resolver: "x86", audit: 0x4000_0003, partners: X86_GROUP_OF_X86 },
    Info { name: "SCMP_ARCH_X32", resolver: "x32", audit: 0xc000_003e, partners: X86_GROUP_OF_X32 },
    Info { name: "SCMP_ARCH_ARM", resolver: "arm", audit: 0x4000_0028, partners: &[A::Aarch64] },
    Info { name: "SCMP_ARCH_AARCH64", resolver: "aarch64", audit: 0xc000_00b7, partners: &[A::Arm] },
    Info { name: "SCMP_ARCH_MIPS", resolver: "mips", audit: 0x0000_0008, partners: &[A::Mips64, A::Mips64N32] },
    Info { name: "SCMP_ARCH_MIPS64", resolver: "mips64", audit: 0x8000_0008, partners: &[A::Mips, A::Mips64N32] },
    Info { name: "SCMP_ARCH_MIPS64N32", resolver: "mips64n32", audit: 0xa000_0008, partners: &[A::Mips, A::Mips64] },
    Info { name: "SCMP_ARCH_MIPSEL", resolver: "mipsel", audit: 0x4000_0008, partners: &[A::MipsEl64, A::MipsEl64N32] },
    Info { name: "SCMP_ARCH_MIPSEL64", resolver: "mipsel64", audit: 0xc000_0008, partners: &[A::MipsEl, A::MipsEl64N32] },
    Info { name: "SCMP_ARCH_MIPSEL64N32", resolver: "mipsel64n32", audit: 0xe000_0008, partners: &[A::MipsEl, A::MipsEl64] },
    Info { name: "SCMP_ARCH_PPC", resolver: "ppc", audit: 0x0000_0014, partners: &[A::Ppc64] },
    Info { name: "SCMP_ARCH_PPC64", resolver: "ppc64", audit: 0x8000_0015, partners: &[A::Ppc] },
    Info { name: "SCMP_ARCH_PPC64LE", resolver: "ppc64le", audit: 0xc000_0015, partners: &[] },
    Info { name: "SCMP_ARCH_S390", resolver: "s390", audit: 0x0000_0016, partners: &[A::S390X] },
    Info { name: "SCMP_ARCH_S390X", resolver: "s390x", audit: 0x8000_0016, partners: &[A::S390] },
    Info { name: "SCMP_ARCH_RISCV64", resolver: "riscv64", audit: 0xc000_00f3, partners: &[] },
];

impl ScmpArch {
    /// Every arch, in declaration (and `Ord`) order; `ALL[a.index()] == a`.
    pub const ALL: [ScmpArch; 17] = [
        A::X86_64,
        A::X86,
        A::X32,
        A::Arm,
        A::Aarch64,
        A::Mips,
        A::Mips64,
        A::Mips64N32,
        A::MipsEl,
        A::MipsEl64,
        A::MipsEl64N32,
        A::Ppc,
        A::Ppc64,
        A::Ppc64Le,
        A::S390,
        A::S390X,
        A::Riscv64,
    ];

    /// Position in [`ScmpArch::ALL`] (dense, for per-arch tables).
    pub const fn index(self) -> usize {
        self as usize
    }

    fn info(self) -> &'static Info {
        &INFO[self.index()]
    }

    /// The profile name, e.g. `SCMP_ARCH_X86_64`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The arch of a profile name such as `SCMP_ARCH_X86_64` (exact, as in profiles).
    /// Names libseccomp 2.5 does not know (e.g. `SCMP_ARCH_LOONGARCH64`) give None.
    pub fn from_name(name: &str) -> Option<ScmpArch> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// `scmp_sys_resolver`'s `-a` name: x86_64, x86, x32, arm, aarch64, mips, mips64,
    /// mips64n32, mipsel, mipsel64, mipsel64n32, ppc, ppc64, ppc64le, s390, s390x, riscv64.
    pub fn resolver_name(self) -> &'static str {
        self.info().resolver
    }

    /// The arch of a `scmp_sys_resolver -a` name (see [`ScmpArch::resolver_name`]).
    pub fn from_resolver_name(name: &str) -> Option<ScmpArch> {
        Self::ALL.into_iter().find(|a| a.resolver_name() == name)
    }

    /// The kernel's AUDIT_ARCH_* value, as in a record's `arch=`. x32 shares x86_64's
    /// value (0xc000003e); its syscall numbers carry [`X32_SYSCALL_BIT`] instead.
    /// (libseccomp's own `SCMP_ARCH_X32` token, 0x4000003e, is not an audit value.)
    pub fn audit_arch(self) -> u32 {
        self.info().audit
    }

    /// The base of this arch's syscall numbers: 4000 MIPS o32, 5000 n64, 6000 n32,
    /// [`X32_SYSCALL_BIT`] x32, 0 elsewhere. Kernel numbers are `base + table index`.
    pub fn syscall_base(self) -> i64 {
        match self {
            A::X32 => X32_SYSCALL_BIT,
            A::Mips | A::MipsEl => 4000,
            A::Mips64 | A::MipsEl64 => 5000,
            A::Mips64N32 | A::MipsEl64N32 => 6000,
            _ => 0,
        }
    }

    /// The other arches of this arch's compat group: the ones a kernel of the group runs
    /// side by side, and that Docker's default profile `archMap` lists together
    /// (x86_64/x86/x32, aarch64/arm, mips64/mips64n32/mips, the same for mipsel,
    /// s390x/s390, and ppc64/ppc). Symmetric; empty for ppc64le and riscv64.
    pub fn compat_partners(self) -> &'static [ScmpArch] {
        self.info().partners
    }

    /// The arch of a record: `audit_arch` is the record's `arch=` value, `syscall_nr` its
    /// `syscall=` value (x32 is x86_64's audit arch with bit 0x40000000 in the number).
    /// Unknown audit arches give None (callers keep the raw value).
    pub fn from_audit(audit_arch: u32, syscall_nr: i64) -> Option<ScmpArch> {
        match audit_arch {
            0xc000_003e if syscall_nr >= 0 && syscall_nr & X32_SYSCALL_BIT != 0 => Some(A::X32),
            0xc000_003e => Some(A::X86_64),
            _ => Self::ALL
                .into_iter()
                .find(|a| *a != A::X32 && a.audit_arch() == audit_arch),
        }
    }
}

impl std::fmt::Display for ScmpArch {
    /// The profile name, e.g. `SCMP_ARCH_X86_64`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order() {
        for (i, a) in ScmpArch::ALL.iter().enumerate() {
            assert_eq!(a.index(), i, "{a:?}");
        }
        let mut sorted = ScmpArch::ALL;
        sorted.sort();
        assert_eq!(sorted, ScmpArch::ALL);
    }

    #[test]
    fn names_round_trip() {
        for a in ScmpArch::ALL {
            assert_eq!(ScmpArch::from_name(a.name()), Some(a));
            assert_eq!(ScmpArch::from_resolver_name(a.resolver_name()), Some(a));
            assert_eq!(a.to_string(), a.name());
            assert!(a.name().starts_with("SCMP_ARCH_"));
            assert_eq!(
                a.name()["SCMP_ARCH_".len()..],
                a.resolver_name().to_uppercase()
            );
        }
        assert_eq!(
            ScmpArch::from_name("SCMP_ARCH_X86_64"),
            Some(ScmpArch::X86_64)
        );
        assert_eq!(
            ScmpArch::from_name("SCMP_ARCH_MIPSEL64N32"),
            Some(ScmpArch::MipsEl64N32)
        );
        assert_eq!(ScmpArch::from_name("x86_64"), None);
        assert_eq!(ScmpArch::from_name("SCMP_ARCH_LOONGARCH64"), None);
        assert_eq!(ScmpArch::from_name(""), None);
        assert_eq!(ScmpArch::from_resolver_name("SCMP_ARCH_X86_64"), None);
    }

    #[test]
    fn audit_values_match_linux_audit_h() {
        // EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE | __AUDIT_ARCH_CONVENTION_MIPS64_N32
        const B64: u32 = 0x8000_0000;
        const LE: u32 = 0x4000_0000;
        const N32: u32 = 0x2000_0000;
        let expected = [
            (A::X86_64, 62 | B64 | LE),
            (A::X86, 3 | LE),
            (A::X32, 62 | B64 | LE),
            (A::Arm, 40 | LE),
            (A::Aarch64, 183 | B64 | LE),
            (A::Mips, 8),
            (A::Mips64, 8 | B64),
            (A::Mips64N32, 8 | B64 | N32),
            (A::MipsEl, 8 | LE),
            (A::MipsEl64, 8 | B64 | LE),
            (A::MipsEl64N32, 8 | B64 | LE | N32),
            (A::Ppc, 20),
            (A::Ppc64, 21 | B64),
            (A::Ppc64Le, 21 | B64 | LE),
            (A::S390, 22),
            (A::S390X, 22 | B64),
            (A::Riscv64, 243 | B64 | LE),
        ];
        for (a, v) in expected {
            assert_eq!(a.audit_arch(), v, "{a:?}");
        }
    }

    #[test]
    fn from_audit_every_arch() {
        for a in ScmpArch::ALL {
            let nr = a.syscall_base() + 20;
            assert_eq!(ScmpArch::from_audit(a.audit_arch(), nr), Some(a), "{a:?}");
        }
        // The captured i386 record: arch=40000003 syscall=20.
        assert_eq!(ScmpArch::from_audit(0x4000_0003, 20), Some(A::X86));
        assert_eq!(ScmpArch::from_audit(0xc000_003e, 39), Some(A::X86_64));
        assert_eq!(ScmpArch::from_audit(0xc000_003e, 0x4000_0027), Some(A::X32));
        assert_eq!(ScmpArch::from_audit(0xc000_003e, -1), Some(A::X86_64));
    }

    #[test]
    fn from_audit_unknown() {
        assert_eq!(ScmpArch::from_audit(0, 0), None);
        assert_eq!(ScmpArch::from_audit(0xc000_0102, 1), None); // loongarch64
        assert_eq!(ScmpArch::from_audit(0x4000_00f3, 1), None); // riscv32
        assert_eq!(ScmpArch::from_audit(0x003e, 1), None); // x86_64 without 64/LE bits
        assert_eq!(ScmpArch::from_audit(u32::MAX, 1), None);
    }

    #[test]
    fn compat_partners_are_symmetric_groups() {
        for a in ScmpArch::ALL {
            assert!(!a.compat_partners().contains(&a), "{a:?}");
            for p in a.compat_partners() {
                assert!(p.compat_partners().contains(&a), "{a:?} -> {p:?}");
                // Same group = same partners plus itself.
                let mut ga: Vec<_> = a.compat_partners().to_vec();
                ga.push(a);
                ga.sort();
                let mut gp: Vec<_> = p.compat_partners().to_vec();
                gp.push(*p);
                gp.sort();
                assert_eq!(ga, gp);
            }
        }
        assert_eq!(A::X86_64.compat_partners(), &[A::X86, A::X32]);
        assert_eq!(A::Aarch64.compat_partners(), &[A::Arm]);
        assert_eq!(A::Mips64.compat_partners(), &[A::Mips, A::Mips64N32]);
        assert_eq!(A::MipsEl64N32.compat_partners(), &[A::MipsEl, A::MipsEl64]);
        assert_eq!(A::S390X.compat_partners(), &[A::S390]);
        assert_eq!(A::Ppc64.compat_partners(), &[A::Ppc]);
        assert!(A::Ppc64Le.compat_partners().is_empty());
        assert!(A::Riscv64.compat_partners().is_empty());
    }
}
