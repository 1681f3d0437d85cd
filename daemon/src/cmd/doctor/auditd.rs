//! The doctor's checks of auditd: whether it runs beside seccomp-watch, and its
//! `log_format`, `write_logs` and `log_file` in auditd.conf.

use std::path::Path;

use super::report::{f, Level, Report};
use crate::config::Config;

/// `log_format`, `log_file`, `log_group`, `write_logs` of auditd.conf.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditdConf {
    pub log_format: Option<String>,
    pub log_file: Option<String>,
    pub log_group: Option<String>,
    pub write_logs: Option<String>,
}

/// Parses auditd.conf (`key = value` lines, `#` comments).
pub fn parse_auditd_conf(text: &str) -> AuditdConf {
    let mut c = AuditdConf::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = Some(v.trim().to_string());
        match k.trim() {
            "log_format" => c.log_format = v,
            "log_file" => c.log_file = v,
            "log_group" => c.log_group = v,
            "write_logs" => c.write_logs = v,
            _ => {}
        }
    }
    c
}

/// The pid of a running process whose comm is `name`.
fn find_process(name: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim_end() == name).then_some(pid)
    })
}

pub(super) fn check_auditd(r: &mut Report, cfg: &Config) {
    let running = find_process("auditd");
    let installed = ["/sbin/auditd", "/usr/sbin/auditd"]
        .iter()
        .any(|p| Path::new(p).exists());
    match (running, installed) {
        (Some(pid), _) => {
            if cfg.netlink.mode == "daemon" {
                r.push(f(
                    "auditd",
                    Level::Fatal,
                    format!("auditd runs (pid {pid}) and netlink.mode = \"daemon\": only one audit daemon can register"),
                    Some("use netlink.mode = \"multicast\" (the default) beside auditd"),
                ));
            } else {
                r.push(f("auditd", Level::Ok, format!("auditd runs (pid {pid}); seccomp-watch reads beside it"), None));
            }
        }
        (None, true) => r.push(f(
            "auditd",
            Level::Info,
            "auditd is installed but not running: records reach seccomp-watch over netlink only (nothing on disk to catch up from after a restart)",
            Some("start auditd for a durable audit.log, or accept the gap"),
        )),
        (None, false) => r.push(f(
            "auditd",
            Level::Info,
            "auditd is not installed: netlink is the only live source (kmsg if netlink is not allowed)",
            None,
        )),
    }
    let Ok(text) = std::fs::read_to_string("/etc/audit/auditd.conf") else {
        return;
    };
    let conf = parse_auditd_conf(&text);
    match conf
        .log_format
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("RAW") | Some("ENRICHED") | None => r.push(f(
            "auditd-log-format",
            Level::Ok,
            format!(
                "log_format = {} (both RAW and ENRICHED are read)",
                conf.log_format.as_deref().unwrap_or("RAW")
            ),
            None,
        )),
        Some(other) => r.push(f(
            "auditd-log-format",
            Level::Warn,
            format!("log_format = {other}: auditd writes no records to audit.log"),
            Some("set log_format = ENRICHED in /etc/audit/auditd.conf"),
        )),
    }
    if conf
        .write_logs
        .as_deref()
        .is_some_and(|w| w.eq_ignore_ascii_case("no"))
    {
        r.push(f(
            "auditd-log-format",
            Level::Warn,
            "write_logs = no: auditd keeps no audit.log to read",
            Some("set write_logs = yes, or rely on the netlink source"),
        ));
    }
    if let Some(file) = &conf.log_file {
        if Path::new(file) != cfg.audit_log.path {
            r.push(f(
                "auditd-log-file",
                Level::Warn,
                format!(
                    "auditd writes {file} but [audit_log] path is {}",
                    cfg.audit_log.path.display()
                ),
                Some("set [audit_log] path to auditd's log_file"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auditd_conf_parsing() {
        let c = parse_auditd_conf("# log_format = RAW\nlog_file = /var/log/audit/audit.log\nlog_group=adm\n log_format =  ENRICHED \nwrite_logs = yes\n");
        assert_eq!(c.log_format.as_deref(), Some("ENRICHED"));
        assert_eq!(c.log_file.as_deref(), Some("/var/log/audit/audit.log"));
        assert_eq!(c.log_group.as_deref(), Some("adm"));
        assert_eq!(c.write_logs.as_deref(), Some("yes"));
    }
}
