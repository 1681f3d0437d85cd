//! Arch families as Docker's default profile `archMap` groups them (a native arch, then the
//! arches its kernel also runs), by `SCMP_ARCH_*` name.
//!
//! Kept here by name rather than through `parsers::ScmpArch::compat_partners` because the
//! order matters (native first, Docker's order) and names the parsers crate does not know
//! (e.g. `SCMP_ARCH_LOONGARCH64`) must still work.

/// `(native, sub-architectures)` in Docker's `archMap` order.
const FAMILIES: &[(&str, &[&str])] = &[
    ("SCMP_ARCH_X86_64", &["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    ("SCMP_ARCH_AARCH64", &["SCMP_ARCH_ARM"]),
    (
        "SCMP_ARCH_MIPS64",
        &["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"],
    ),
    (
        "SCMP_ARCH_MIPS64N32",
        &["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"],
    ),
    (
        "SCMP_ARCH_MIPSEL64",
        &["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"],
    ),
    (
        "SCMP_ARCH_MIPSEL64N32",
        &["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"],
    ),
    ("SCMP_ARCH_S390X", &["SCMP_ARCH_S390"]),
    ("SCMP_ARCH_PPC64", &["SCMP_ARCH_PPC"]),
    ("SCMP_ARCH_PPC64LE", &[]),
    ("SCMP_ARCH_RISCV64", &[]),
    ("SCMP_ARCH_LOONGARCH64", &[]),
];

/// The native arch of a call seen on `arch`: `arch` itself, or, for a compat call
/// (`compat=1`, e.g. `SCMP_ARCH_X86` on an x86_64 kernel), the first family that runs it.
pub(crate) fn native_of(arch: &str, compat: bool) -> &str {
    if compat {
        if let Some((native, _)) = FAMILIES.iter().find(|(_, subs)| subs.contains(&arch)) {
            return native;
        }
    }
    arch
}

/// The family of native arch `native`: itself first, then its sub-architectures.
pub(crate) fn family(native: &str) -> Vec<String> {
    let mut out = vec![native.to_string()];
    if let Some((_, subs)) = FAMILIES.iter().find(|(n, _)| *n == native) {
        out.extend(subs.iter().map(|s| s.to_string()));
    }
    out
}

/// Sort key of a native arch: Docker's order, unknown names last.
pub(crate) fn order(native: &str) -> usize {
    FAMILIES
        .iter()
        .position(|(n, _)| *n == native)
        .unwrap_or(FAMILIES.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(native_of("SCMP_ARCH_X86", true), "SCMP_ARCH_X86_64");
        assert_eq!(native_of("SCMP_ARCH_X86", false), "SCMP_ARCH_X86");
        assert_eq!(native_of("SCMP_ARCH_ARM", true), "SCMP_ARCH_AARCH64");
        assert_eq!(
            family("SCMP_ARCH_X86_64"),
            ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        );
        assert_eq!(family("SCMP_ARCH_X86"), ["SCMP_ARCH_X86"]);
        assert!(order("SCMP_ARCH_X86_64") < order("SCMP_ARCH_AARCH64"));
        assert_eq!(order("SCMP_ARCH_NEW"), FAMILIES.len());
    }

    /// The table agrees with the archMap of Docker's default profile.
    #[test]
    fn matches_docker_default() {
        let text = include_str!("../../../tests/fixtures/profiles/docker-default.json");
        let p = crate::profile::Profile::from_json(text).expect("fixture parses");
        for m in p.spec().arch_map.iter().flatten() {
            let subs = m.sub_architectures.clone().unwrap_or_default();
            assert_eq!(family(&m.architecture)[1..], subs[..], "{}", m.architecture);
        }
    }
}
