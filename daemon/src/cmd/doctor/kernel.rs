//! The doctor's checks of the kernel: syscall auditing, the audit netlink socket, seccomp
//! and `kernel.seccomp.actions_logged`, CAP_AUDIT_READ, the network namespace, and the
//! audit status (backlog limit, lost count) from AUDIT_GET.

use std::path::Path;

use super::report::{f, Level, Report};
use crate::sources::{self, netlink, CAP_AUDIT_CONTROL, CAP_AUDIT_READ};

pub(super) fn check_kernel(r: &mut Report) {
    if Path::new("/proc/self/loginuid").exists() {
        r.push(f(
            "kernel-audit",
            Level::Ok,
            "the kernel has syscall auditing (CONFIG_AUDITSYSCALL)",
            None,
        ));
    } else {
        r.push(f(
            "kernel-audit",
            Level::Fatal,
            "no /proc/self/loginuid: the kernel was built without syscall auditing, so it writes no SECCOMP records",
            Some("use a kernel with CONFIG_AUDIT and CONFIG_AUDITSYSCALL (every distribution kernel has them) and do not boot with audit=0"),
        ));
    }
    match netlink::AuditSocket::open(0) {
        Ok(_) => r.push(f("audit-netlink", Level::Ok, "the audit netlink socket opens", None)),
        Err(e) => r.push(f(
            "audit-netlink",
            Level::Fatal,
            format!("cannot open a NETLINK_AUDIT socket: {e}"),
            Some("the kernel lacks CONFIG_AUDIT, or a sandbox forbids AF_NETLINK (RestrictAddressFamilies must list AF_NETLINK)"),
        )),
    }
    match std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail") {
        Ok(avail) if has_word(&avail, "log") => r.push(f(
            "seccomp",
            Level::Ok,
            format!("seccomp filters with these actions: {}", avail.trim()),
            None,
        )),
        Ok(avail) => r.push(f(
            "seccomp",
            Level::Fatal,
            format!(
                "the kernel has no SECCOMP_RET_LOG (actions: {})",
                avail.trim()
            ),
            Some("use Linux 4.14 or newer"),
        )),
        Err(e) => r.push(f(
            "seccomp",
            Level::Fatal,
            format!("cannot read /proc/sys/kernel/seccomp/actions_avail: {e}"),
            Some("use a kernel with CONFIG_SECCOMP_FILTER (4.14 or newer)"),
        )),
    }
    match std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_logged") {
        Ok(logged) => {
            let missing = missing_logged_actions(&logged);
            if !has_word(&logged, "log") {
                r.push(f(
                    "actions-logged",
                    Level::Fatal,
                    format!("kernel.seccomp.actions_logged is {:?}: LOG actions write no records", logged.trim()),
                    Some("sysctl -w kernel.seccomp.actions_logged=\"kill_process kill_thread trap errno user_notif trace log\" (persist it in /etc/sysctl.d/)"),
                ));
            } else if !missing.is_empty() {
                r.push(f(
                    "actions-logged",
                    Level::Warn,
                    format!("kernel.seccomp.actions_logged lacks {}: those denials are not recorded", missing.join(", ")),
                    Some("sysctl -w kernel.seccomp.actions_logged=\"kill_process kill_thread trap errno user_notif trace log\""),
                ));
            } else {
                r.push(f(
                    "actions-logged",
                    Level::Ok,
                    format!("kernel.seccomp.actions_logged: {}", logged.trim()),
                    None,
                ));
            }
        }
        Err(e) => r.push(f(
            "actions-logged",
            Level::Fatal,
            format!("cannot read kernel.seccomp.actions_logged: {e}"),
            Some("use Linux 4.14 or newer"),
        )),
    }
}

/// Whether the whitespace-separated `list` has `word`.
pub fn has_word(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

/// The denial actions (besides `log`) that `actions_logged` leaves out.
pub fn missing_logged_actions(logged: &str) -> Vec<&'static str> {
    ["kill_process", "kill_thread", "trap", "errno"]
        .into_iter()
        .filter(|a| !has_word(logged, a))
        .collect()
}

pub(super) fn check_audit_read(r: &mut Report) -> bool {
    match sources::has_capability(CAP_AUDIT_READ) {
        Some(true) => {
            r.push(f(
                "audit-read",
                Level::Ok,
                "this process has CAP_AUDIT_READ (the audit multicast group)",
                None,
            ));
            true
        }
        Some(false) => {
            r.push(f(
                "audit-read",
                Level::Warn,
                "no CAP_AUDIT_READ: the netlink source cannot run (only audit.log or /dev/kmsg)",
                Some("run as root, or under the shipped unit (AmbientCapabilities=CAP_AUDIT_READ)"),
            ));
            false
        }
        None => {
            r.push(f(
                "audit-read",
                Level::Warn,
                "cannot read CapEff from /proc/self/status",
                None,
            ));
            false
        }
    }
}

pub(super) fn check_netns(r: &mut Report) {
    match sources::initial_netns() {
        sources::Netns::Initial(how) => r.push(f(
            "netns",
            Level::Ok,
            format!("in the initial network namespace, the only one audit multicasts to ({how})"),
            None,
        )),
        sources::Netns::Other(why) => r.push(f(
            "netns",
            Level::Warn,
            format!("not in the initial network namespace ({why}): audit records are multicast to the initial one only"),
            Some("run on the host network (not in a container's network namespace; PrivateNetwork=no), or use the audit-log source"),
        )),
        sources::Netns::Unknown(why) => r.push(f(
            "netns",
            Level::Info,
            format!("cannot tell whether this is the initial network namespace ({why}); the live probe tells whether records arrive"),
            None,
        )),
    }
}

/// Backlog limits below this are too small for bursts of SECCOMP records.
pub const MIN_BACKLOG_LIMIT: u32 = 8192;

pub(super) fn check_audit_status(r: &mut Report) {
    match netlink::audit_status() {
        Ok(st) => {
            let enabled = match st.enabled {
                0 => "off (SECCOMP records are still written)",
                1 => "on",
                2 => "on and locked",
                _ => "unknown",
            };
            r.push(f(
                "audit-status",
                Level::Ok,
                format!(
                    "auditing {enabled}; audit daemon pid {}; backlog {}/{}",
                    st.pid, st.backlog, st.backlog_limit
                ),
                None,
            ));
            if st.backlog_limit < MIN_BACKLOG_LIMIT {
                r.push(f(
                    "audit-backlog",
                    Level::Warn,
                    format!("the audit backlog limit is {}: a burst of records overflows it and the kernel drops them", st.backlog_limit),
                    Some("auditctl -b 8192 (persist with `-b 8192` in /etc/audit/rules.d/)"),
                ));
            } else {
                r.push(f(
                    "audit-backlog",
                    Level::Ok,
                    format!("backlog limit {}", st.backlog_limit),
                    None,
                ));
            }
            if st.lost > 0 {
                r.push(f(
                    "audit-lost",
                    Level::Warn,
                    format!("the kernel lost {} audit records since boot (or the last reset)", st.lost),
                    Some("raise the backlog limit (auditctl -b) and watch seccomp_watch_lost_records_total{cause=\"kernel_lost\"}"),
                ));
            } else {
                r.push(f(
                    "audit-lost",
                    Level::Ok,
                    "the kernel lost no audit records",
                    None,
                ));
            }
        }
        Err(e) => {
            let no_cap = sources::has_capability(CAP_AUDIT_CONTROL) == Some(false);
            r.push(f(
                "audit-status",
                Level::Warn,
                format!("cannot read the audit status (AUDIT_GET): {e}"),
                Some(if no_cap {
                    "run doctor as root to see it (the shipped unit withholds CAP_AUDIT_CONTROL from the service: see service-audit-status)"
                } else {
                    "run in the initial PID namespace as root"
                }),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_logged_parsing() {
        assert!(has_word(
            "kill_process kill_thread trap errno user_notif trace log\n",
            "log"
        ));
        assert!(!has_word("kill_process kill_thread", "log"));
        assert!(!has_word("logx", "log"));
        assert_eq!(
            missing_logged_actions("kill_process log"),
            ["kill_thread", "trap", "errno"]
        );
        assert!(missing_logged_actions("kill_process kill_thread trap errno log").is_empty());
    }
}
