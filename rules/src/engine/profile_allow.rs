//! What an applied seccomp profile allows, for the `not_in_profile` condition: per arch, the
//! set of syscalls some path of the profile lets run (`SCMP_ACT_ALLOW`).
//!
//! A call is *in* the profile when an entry applicable on the event's arch allows it
//! (argument-conditional entries count: the call is allowed at least sometimes), or when
//! the default action is `SCMP_ACT_ALLOW` and no unconditional entry gives it another
//! action. `SCMP_ACT_LOG` does not count as allowed: a logged call is outside the profile's
//! allow list, which is what the condition is for. An arch the profile's `architectures`
//! and `archMap` do not cover allows nothing. `includes`/`excludes` are applied for
//! arches (Docker's Go names or `SCMP_ARCH_*`); capability and kernel-version conditions
//! are assumed met.

use parsers::{Action, ScmpArch};

use super::syscalls::{universe, SyscallId, SyscallSet};
use crate::profile::{Filter, Profile, ProfileError};

/// The allow sets of one profile.
#[derive(Debug, Clone)]
pub struct ProfileAllow {
    /// Allowed ids per arch (`ScmpArch::index`).
    allowed: Vec<SyscallSet>,
    /// Whether a syscall libseccomp has no name for is allowed (the default action).
    unknown_allowed: bool,
}

/// The arch of a name in `architectures` or in `includes.arches`: `SCMP_ARCH_*` or the Go
/// name Docker uses (`amd64`, `arm64`, ...).
fn arch_of_name(name: &str) -> Option<ScmpArch> {
    if let Some(a) = ScmpArch::from_name(name) {
        return Some(a);
    }
    Some(match name {
        "amd64" | "x86_64" => ScmpArch::X86_64,
        "386" | "x86" | "i386" => ScmpArch::X86,
        "x32" => ScmpArch::X32,
        "arm" => ScmpArch::Arm,
        "arm64" | "aarch64" => ScmpArch::Aarch64,
        "mips" => ScmpArch::Mips,
        "mipsle" => ScmpArch::MipsEl,
        "mips64" => ScmpArch::Mips64,
        "mips64le" => ScmpArch::MipsEl64,
        "mips64n32" => ScmpArch::Mips64N32,
        "mips64len32" | "mipsel64n32" => ScmpArch::MipsEl64N32,
        "ppc" => ScmpArch::Ppc,
        "ppc64" => ScmpArch::Ppc64,
        "ppc64le" => ScmpArch::Ppc64Le,
        "s390" => ScmpArch::S390,
        "s390x" => ScmpArch::S390X,
        "riscv64" => ScmpArch::Riscv64,
        _ => return None,
    })
}

/// True when `filter.arches` names `arch` or one of its compat partners (Docker matches the
/// native arch).
fn filter_names(filter: &Filter, arch: ScmpArch) -> bool {
    filter
        .arches
        .iter()
        .flatten()
        .filter_map(|n| arch_of_name(n))
        .any(|a| a == arch || arch.compat_partners().contains(&a))
}

fn filter_arches_empty(filter: &Option<Filter>) -> bool {
    filter
        .as_ref()
        .and_then(|f| f.arches.as_deref())
        .unwrap_or_default()
        .is_empty()
}

impl ProfileAllow {
    /// Reads a Docker/OCI profile (or the `linux.seccomp` object of an OCI config).
    pub fn from_json(text: &str) -> Result<ProfileAllow, ProfileError> {
        let profile = Profile::from_json(text)?;
        let spec = profile.spec();
        let default_allow = spec.parsed_default_action() == Some(Action::Allow);
        let covered: Vec<ScmpArch> = spec
            .covered_arches()
            .iter()
            .filter_map(|n| arch_of_name(n))
            .collect();
        let names_any = !spec.covered_arches().is_empty() && covered.is_empty();
        let u = universe();
        let mut allowed = Vec::with_capacity(ScmpArch::ALL.len());
        for arch in ScmpArch::ALL {
            if !covered.is_empty() && !covered.contains(&arch) || names_any {
                allowed.push(SyscallSet::new());
                continue;
            }
            let mut allow = SyscallSet::new();
            let mut block = SyscallSet::new();
            for entry in spec.rules() {
                let applies = (filter_arches_empty(&entry.includes)
                    || entry
                        .includes
                        .as_ref()
                        .is_some_and(|f| filter_names(f, arch)))
                    && !entry
                        .excludes
                        .as_ref()
                        .is_some_and(|f| filter_names(f, arch));
                if !applies {
                    continue;
                }
                let is_allow = entry.parsed_action() == Some(Action::Allow);
                let unconditional = entry.args.as_deref().unwrap_or_default().is_empty();
                for name in entry.all_names() {
                    let Some(id) = u.id(name) else { continue };
                    if is_allow {
                        allow.insert(id);
                    } else if unconditional {
                        block.insert(id);
                    }
                }
            }
            if default_allow {
                let mut set = SyscallSet::full();
                for id in block.iter() {
                    if !allow.contains(id) {
                        set.remove(id);
                    }
                }
                allowed.push(set);
            } else {
                allowed.push(allow);
            }
        }
        Ok(ProfileAllow {
            allowed,
            unknown_allowed: default_allow,
        })
    }

    /// True when the profile lets syscall `id` (None: a number with no name) run on `arch`.
    pub fn allows(&self, arch: ScmpArch, id: Option<SyscallId>) -> bool {
        match id {
            Some(id) => self
                .allowed
                .get(arch.index())
                .is_some_and(|s| s.contains(id)),
            None => {
                self.unknown_allowed
                    && self
                        .allowed
                        .get(arch.index())
                        .is_some_and(|s| !s.is_empty())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: &str) -> Option<SyscallId> {
        universe().id(n)
    }

    #[test]
    fn allow_list_profile() {
        let p = ProfileAllow::from_json(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
               "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
                           {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
                           {"names":["connect"],"action":"SCMP_ACT_LOG"}]}"#,
        )
        .unwrap();
        assert!(p.allows(ScmpArch::X86_64, id("read")));
        assert!(p.allows(ScmpArch::X86, id("write")));
        assert!(
            p.allows(ScmpArch::X86_64, id("personality")),
            "conditional allow counts"
        );
        assert!(
            !p.allows(ScmpArch::X86_64, id("connect")),
            "LOG is not allowed"
        );
        assert!(!p.allows(ScmpArch::X86_64, id("ptrace")));
        assert!(!p.allows(ScmpArch::Aarch64, id("read")), "arch not covered");
        assert!(!p.allows(ScmpArch::X86_64, None));
    }

    #[test]
    fn default_allow_profile() {
        let p = ProfileAllow::from_json(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ERRNO"},
               {"names":["clone"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#,
        )
        .unwrap();
        assert!(p.allows(ScmpArch::X86_64, id("read")));
        assert!(!p.allows(ScmpArch::X86_64, id("ptrace")));
        assert!(
            p.allows(ScmpArch::X86_64, id("clone")),
            "conditional block: allowed sometimes"
        );
        assert!(
            p.allows(ScmpArch::Aarch64, id("read")),
            "no architectures: any arch"
        );
        assert!(p.allows(ScmpArch::X86_64, None));
    }

    #[test]
    fn docker_default_with_includes() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/profiles/docker-default.json"
        ))
        .unwrap();
        let p = ProfileAllow::from_json(&text).unwrap();
        assert!(p.allows(ScmpArch::X86_64, id("read")));
        assert!(
            p.allows(ScmpArch::X86_64, id("arch_prctl")),
            "includes arches amd64"
        );
        assert!(!p.allows(ScmpArch::Aarch64, id("arch_prctl")));
        assert!(!p.allows(ScmpArch::X86_64, id("kexec_load")));
        // ptrace is allowed only with CAP_SYS_PTRACE (or a new kernel): caps are assumed met.
        assert!(p.allows(ScmpArch::X86_64, id("ptrace")));
    }
}
