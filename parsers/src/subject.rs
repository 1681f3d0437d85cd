//! The LSM subject of a record (`subj=`): the AppArmor profile and mode when it is an
//! AppArmor label (`docker-default (enforce)`, `unconfined`, stacked
//! `a//&b (complain)`, namespaced `:ns:p (enforce)`); SELinux (`u:r:t:s0:c1,c2`) and Smack
//! labels are kept as text only.

/// The AppArmor modes the kernel prints after a profile name.
const MODES: [&str; 7] = [
    "enforce",
    "complain",
    "kill",
    "unconfined",
    "user",
    "prompt",
    "mixed",
];

/// An AppArmor label split into its profile (everything before the final ` (mode)`) and
/// its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppArmor<'a> {
    pub profile: &'a str,
    pub mode: &'a str,
}

/// The AppArmor profile and mode of a subject, when it is an AppArmor label: `NAME (MODE)`
/// with a mode AppArmor prints, or `unconfined`. A stacked label with modes per profile
/// (`a (enforce)//&b (complain)`) gives the whole text before the last mode as profile.
pub fn apparmor(subj: &str) -> Option<AppArmor<'_>> {
    if subj == "unconfined" {
        return Some(AppArmor {
            profile: subj,
            mode: "unconfined",
        });
    }
    let inner = subj.strip_suffix(')')?;
    let open = inner.rfind(" (")?;
    let mode = &inner[open + 2..];
    let profile = &inner[..open];
    (MODES.contains(&mode) && !profile.is_empty()).then_some(AppArmor { profile, mode })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apparmor_labels() {
        let a = |s| apparmor(s).map(|a| (a.profile, a.mode));
        assert_eq!(
            a("cri-containerd.apparmor.d (enforce)"),
            Some(("cri-containerd.apparmor.d", "enforce"))
        );
        assert_eq!(a("untrusted (complain)"), Some(("untrusted", "complain")));
        assert_eq!(a("unconfined"), Some(("unconfined", "unconfined")));
        assert_eq!(
            a("snap.lxd.daemon//&:lxd-c1:unconfined (enforce)"),
            Some(("snap.lxd.daemon//&:lxd-c1:unconfined", "enforce"))
        );
        assert_eq!(
            a("/usr/bin/my app (kill)"),
            Some(("/usr/bin/my app", "kill"))
        );
        assert_eq!(a("system_u:system_r:container_t:s0:c1,c2"), None);
        assert_eq!(a("foo (bar)"), None);
        assert_eq!(a(" (enforce)"), None);
        assert_eq!(a("_"), None);
    }
}
