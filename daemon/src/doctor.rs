//! `seccomp-watch doctor [--json]`: checks that this host and this configuration can work,
//! one line per check with the fix. Exit 0 when healthy, 1 with warnings, 2 when something
//! fatal stops the daemon from seeing SECCOMP records.
//!
//! Checks: configuration and rules; kernel audit and seccomp support;
//! `kernel.seccomp.actions_logged`; CAP_AUDIT_READ; the initial network namespace; a live
//! probe (a child process makes one SECCOMP_RET_LOG'd call and the record must arrive on
//! the audit multicast socket); auditd and its `log_format`; the audit backlog limit and
//! lost count (AUDIT_GET); which sources would run; the database path; the container
//! runtimes' state directories; the sandbox profile; the HTTP settings.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{Config, DEFAULT_CONFIG, DEFAULT_DB, DEFAULT_RULES};
use crate::sources::{self, netlink, CAP_AUDIT_CONTROL, CAP_AUDIT_READ};

/// `seccomp-watch doctor` options.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Configuration file (default: /etc/seccomp-watch/config.toml when it exists).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// One JSON object: every check and the overall status.
    #[arg(long)]
    pub json: bool,
    /// Skip the live probe (which makes one logged syscall in a child process).
    #[arg(long)]
    pub no_probe: bool,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Info,
    Warn,
    Fatal,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Ok => "ok   ",
            Level::Info => "info ",
            Level::Warn => "WARN ",
            Level::Fatal => "FATAL",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub level: Level,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn f(check: &'static str, level: Level, detail: impl Into<String>, fix: Option<&str>) -> Finding {
    Finding {
        check,
        level,
        detail: detail.into(),
        fix: fix.map(str::to_string),
    }
}

/// Every finding, in order.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    fn push(&mut self, x: Finding) {
        self.findings.push(x);
    }

    /// The worst level found.
    pub fn worst(&self) -> Level {
        self.findings
            .iter()
            .map(|x| x.level)
            .max()
            .unwrap_or(Level::Ok)
    }

    /// 0 healthy, 1 warnings, 2 fatal.
    pub fn exit_code(&self) -> i32 {
        match self.worst() {
            Level::Ok | Level::Info => 0,
            Level::Warn => 1,
            Level::Fatal => 2,
        }
    }

    /// The text form: one escaped line per finding, then a summary line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for x in &self.findings {
            let mut line = format!("{} {}: {}", x.level.label(), x.check, x.detail);
            if let Some(fix) = &x.fix {
                line.push_str(" -- fix: ");
                line.push_str(fix);
            }
            out.push_str(&parsers::escape::escape(&line));
            out.push('\n');
        }
        let count = |l: Level| self.findings.iter().filter(|x| x.level == l).count();
        out.push_str(&format!(
            "{} ok, {} info, {} warnings, {} fatal\n",
            count(Level::Ok),
            count(Level::Info),
            count(Level::Warn),
            count(Level::Fatal)
        ));
        out
    }

    /// The JSON form.
    pub fn json(&self) -> serde_json::Value {
        let status = match self.worst() {
            Level::Ok | Level::Info => "ok",
            Level::Warn => "warn",
            Level::Fatal => "fatal",
        };
        serde_json::json!({ "status": status, "exit_code": self.exit_code(), "checks": self.findings })
    }
}

/// Runs `doctor` and prints the report; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let report = diagnose(&args);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report.json())?;
        out.write_all(b"\n")?;
    } else {
        out.write_all(report.text().as_bytes())?;
    }
    out.flush()?;
    Ok(report.exit_code())
}

/// Runs every check.
pub fn diagnose(args: &Args) -> Report {
    let mut r = Report::default();
    let cfg = check_config(&mut r, args.config.as_deref());
    check_rules(&mut r, &cfg);
    check_kernel(&mut r);
    let can_read = check_audit_read(&mut r);
    check_netns(&mut r);
    if can_read && !args.no_probe {
        check_probe(&mut r);
    }
    check_audit_status(&mut r);
    check_auditd(&mut r, &cfg);
    check_sources(&mut r, &cfg);
    check_database(&mut r, &cfg.db);
    check_runtimes(&mut r, &cfg);
    check_sandbox(&mut r, &cfg);
    check_http(&mut r, &cfg);
    r
}

fn check_config(r: &mut Report, path: Option<&Path>) -> Config {
    let shown = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let exists = shown.exists();
    match Config::load(path) {
        Ok(c) if exists => {
            r.push(f(
                "config",
                Level::Ok,
                format!("{} is valid", shown.display()),
                None,
            ));
            c
        }
        Ok(c) => {
            r.push(f(
                "config",
                Level::Info,
                format!("{} does not exist: using the defaults", shown.display()),
                None,
            ));
            c
        }
        Err(e) => {
            r.push(f(
                "config",
                Level::Fatal,
                format!("{e:#}"),
                Some("correct the file (the example in /usr/share/doc/seccomp-watch/examples/config.toml documents every key)"),
            ));
            Config::default()
        }
    }
}

fn check_rules(r: &mut Report, cfg: &Config) {
    let (path, required) = match &cfg.rules {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_RULES), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            r.push(f(
                "rules",
                Level::Info,
                format!(
                    "{} does not exist: using the built-in rules",
                    path.display()
                ),
                None,
            ));
            return;
        }
        Err(e) => {
            r.push(f(
                "rules",
                Level::Fatal,
                format!("cannot read {}: {e}", path.display()),
                Some("fix the path in `rules =` or create the file"),
            ));
            return;
        }
    };
    match rules::engine::RuleSet::parse(&text) {
        Ok(rs) => r.push(f(
            "rules",
            Level::Ok,
            format!("{} is valid ({} rules)", path.display(), rs.rules().len()),
            None,
        )),
        Err(e) => r.push(f(
            "rules",
            Level::Fatal,
            format!("{}: {}", path.display(), e.to_string().replace('\n', "; ")),
            Some("correct the rules file (see /usr/share/doc/seccomp-watch/examples/rules.toml)"),
        )),
    }
}

fn check_kernel(r: &mut Report) {
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

fn check_audit_read(r: &mut Report) -> bool {
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

fn check_netns(r: &mut Report) {
    match (std::fs::read_link("/proc/self/ns/net"), std::fs::read_link("/proc/1/ns/net")) {
        (Ok(a), Ok(b)) if a == b => {
            r.push(f("netns", Level::Ok, "in the initial network namespace (the only one audit multicasts to)", None))
        }
        (Ok(a), Ok(b)) => r.push(f(
            "netns",
            Level::Warn,
            format!("in network namespace {} but pid 1 is in {}: audit records are multicast to the initial one only", a.display(), b.display()),
            Some("run on the host network (not in a container's network namespace; PrivateNetwork=no), or use the audit-log source"),
        )),
        (_, Err(e)) | (Err(e), _) => r.push(f(
            "netns",
            Level::Info,
            format!("cannot compare network namespaces with pid 1 ({e}); the live probe tells whether records arrive"),
            None,
        )),
    }
}

/// NETLINK_AUDIT multicast group of the read-only log (AUDIT_NLGRP_READLOG), as a mask.
const READLOG_GROUP_MASK: u32 = 1;
const AUDIT_SECCOMP: u16 = 1326;

fn check_probe(r: &mut Report) {
    match probe_netlink(Duration::from_secs(3)) {
        Ok(Some(ms)) => r.push(f(
            "live-probe",
            Level::Ok,
            format!("a test process's logged syscall arrived as a SECCOMP record over netlink in {ms} ms"),
            None,
        )),
        Ok(None) => r.push(f(
            "live-probe",
            Level::Warn,
            "a test process made a SECCOMP_RET_LOG'd syscall but no record arrived over netlink within 3 s",
            Some("check actions_logged (above), the network namespace, and that no audit rule excludes SECCOMP records (auditctl -l)"),
        )),
        Err(e) => r.push(f("live-probe", Level::Warn, format!("could not run the probe: {e}"), None)),
    }
}

/// Opens a socket on the audit multicast group, forks a child that installs a filter
/// logging `getppid` and calls it, and waits for the child's SECCOMP record. Returns the
/// milliseconds it took, or None when none arrived within `timeout`.
pub fn probe_netlink(timeout: Duration) -> std::io::Result<Option<u128>> {
    let sock = audit_multicast_socket()?;
    let (_, target) = crate::sandbox::native_arch().map_err(std::io::Error::other)?;
    let filter = seccompiler::SeccompFilter::new(
        [(libc::SYS_getppid, vec![])].into_iter().collect(),
        seccompiler::SeccompAction::Allow,
        seccompiler::SeccompAction::Log,
        target,
    )
    .map_err(std::io::Error::other)?;
    let prog: seccompiler::BpfProgram = filter.try_into().map_err(std::io::Error::other)?;
    let start = Instant::now();
    // SAFETY: the child only makes raw syscalls and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        let code = match seccompiler::apply_filter(&prog) {
            // SAFETY: getppid has no preconditions.
            Ok(()) => unsafe {
                libc::syscall(libc::SYS_getppid);
                0
            },
            Err(_) => 1,
        };
        // SAFETY: _exit is always safe.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(std::io::Error::other(
            "the probe child could not install its filter",
        ));
    }
    let needle = format!(" pid={pid} ");
    let mut buf = vec![0u8; 1 << 16];
    while start.elapsed() < timeout {
        let left = timeout.saturating_sub(start.elapsed());
        let mut pfd = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n <= 0 {
            continue;
        }
        // SAFETY: buf is valid for writes of its length.
        let got = unsafe {
            libc::recv(
                sock.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if got < 16 {
            continue;
        }
        let d = &buf[..got as usize];
        let ty = u16::from_ne_bytes([d[4], d[5]]);
        if ty == AUDIT_SECCOMP && memchr::memmem::find(&d[16..], needle.as_bytes()).is_some() {
            return Ok(Some(start.elapsed().as_millis()));
        }
    }
    Ok(None)
}

fn audit_multicast_socket() -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket call; the fd is owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_AUDIT,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned by nothing else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain data.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_groups = READLOG_GROUP_MASK;
    // SAFETY: addr is a valid sockaddr_nl of the size given.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(sock)
}

/// Backlog limits below this are too small for bursts of SECCOMP records.
pub const MIN_BACKLOG_LIMIT: u32 = 8192;

fn check_audit_status(r: &mut Report) {
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
                    "grant CAP_AUDIT_CONTROL (the shipped unit does) to watch the backlog and the kernel's lost count"
                } else {
                    "run in the initial PID namespace as root"
                }),
            ));
        }
    }
}

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

fn check_auditd(r: &mut Report, cfg: &Config) {
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

fn check_sources(r: &mut Report, cfg: &Config) {
    let access = sources::HostAccess::probe(cfg);
    if let Err(why) = &access.audit_log {
        if cfg.audit_log.path.exists() {
            r.push(f(
                "audit-log",
                Level::Warn,
                why.clone(),
                Some("run as root, or with CAP_DAC_READ_SEARCH (the shipped unit), or add the user to auditd's log_group"),
            ));
        }
    }
    match sources::plan(cfg, &access) {
        Ok(p) => {
            let names: Vec<&str> = p.run.iter().map(|k| k.as_str()).collect();
            let level = if p.run.contains(&crate::pipeline::SourceKind::Kmsg) { Level::Warn } else { Level::Ok };
            r.push(f(
                "sources",
                level,
                format!("the daemon would run: {} ({})", names.join(", "), p.reasons.join("; ")),
                (level == Level::Warn).then_some("kmsg is rate limited by the kernel (records are lost): give the daemon CAP_AUDIT_READ for netlink"),
            ));
        }
        Err(e) => r.push(f(
            "sources",
            Level::Fatal,
            format!("{e:#}").replace('\n', " "),
            Some("run as root or under the shipped unit (CAP_AUDIT_READ), or start auditd so that audit.log exists"),
        )),
    }
}

fn check_database(r: &mut Report, db: &Path) {
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        let by_systemd = db == Path::new(DEFAULT_DB);
        r.push(f(
            "database",
            if by_systemd {
                Level::Info
            } else {
                Level::Fatal
            },
            format!("{} does not exist", dir.display()),
            Some(if by_systemd {
                "systemd creates it on the first start (StateDirectory=seccomp-watch)"
            } else {
                "create the directory, or set `db =` to a writable path"
            }),
        ));
        return;
    }
    match crate::http::db_writable(db) {
        Ok(()) => r.push(f("database", Level::Ok, format!("{} is writable", db.display()), None)),
        Err(e) => r.push(f(
            "database",
            Level::Fatal,
            e,
            Some("make the file and its directory writable by the daemon's user (the unit's StateDirectory is), or set `db =`"),
        )),
    }
}

fn check_runtimes(r: &mut Report, cfg: &Config) {
    let a = &cfg.attribution;
    if !a.enabled {
        r.push(f(
            "runtimes",
            Level::Info,
            "attribution is disabled ([attribution] enabled = false)",
            None,
        ));
        return;
    }
    let mut dirs: Vec<&Path> = a.runc_roots.iter().map(PathBuf::as_path).collect();
    dirs.extend([
        a.containerd_root.as_path(),
        a.docker_root.as_path(),
        a.podman_root.as_path(),
        a.crio_root.as_path(),
    ]);
    let mut found = Vec::new();
    for d in dirs {
        match std::fs::read_dir(d) {
            Ok(_) => found.push(d.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => r.push(f(
                "runtimes",
                Level::Warn,
                format!("cannot read {}: {e}", d.display()),
                Some("grant CAP_DAC_READ_SEARCH (the shipped unit does) so that containers get names and profiles"),
            )),
        }
    }
    if found.is_empty() {
        r.push(f(
            "runtimes",
            Level::Info,
            "no container runtime state directory found: events are attributed by cgroup path and systemd unit only",
            None,
        ));
    } else {
        r.push(f(
            "runtimes",
            Level::Ok,
            format!("runtime state found: {}", found.join(", ")),
            None,
        ));
    }
    if a.proc_connector && sources::has_capability(12) == Some(false) {
        r.push(f(
            "proc-connector",
            Level::Warn,
            "no CAP_NET_ADMIN: the proc connector cannot follow short-lived processes (attribution falls back to /proc lookups)",
            Some("grant CAP_NET_ADMIN (the shipped unit does), or set [attribution] proc_connector = false"),
        ));
    }
}

fn check_sandbox(r: &mut Report, cfg: &Config) {
    let mode = match crate::sandbox::Mode::parse(&cfg.sandbox) {
        Ok(m) => m,
        Err(e) => {
            r.push(f("sandbox", Level::Fatal, e.to_string(), None));
            return;
        }
    };
    if mode == crate::sandbox::Mode::Off {
        r.push(f(
            "sandbox",
            Level::Info,
            "sandbox = \"off\": the daemon installs no seccomp filter of its own",
            Some("try sandbox = \"log\", then \"enforce\""),
        ));
        return;
    }
    match crate::sandbox::compile(crate::sandbox::PROFILE_JSON, mode) {
        Ok(c) => r.push(f(
            "sandbox",
            Level::Ok,
            format!(
                "sandbox = {:?}: {} syscalls allowed, {} BPF instructions",
                cfg.sandbox,
                c.allowed.len(),
                c.program.len()
            ),
            None,
        )),
        Err(e) => r.push(f(
            "sandbox",
            Level::Fatal,
            e.to_string(),
            Some("set sandbox = \"off\" and report the problem"),
        )),
    }
}

fn check_http(r: &mut Report, cfg: &Config) {
    let listen = cfg.http.listen.trim();
    if listen.is_empty() {
        r.push(f(
            "http",
            Level::Info,
            "HTTP is disabled ([http] listen is empty): no /metrics",
            None,
        ));
        return;
    }
    match listen.parse::<std::net::SocketAddr>() {
        Ok(a) if !a.ip().is_loopback() && cfg.http.token_file.is_none() => r.push(f(
            "http",
            Level::Warn,
            format!(
                "{listen} is reachable from the network without a token: event data is exposed"
            ),
            Some("set [http] token_file, or listen on 127.0.0.1"),
        )),
        Ok(_) => r.push(f("http", Level::Ok, format!("listens on {listen}"), None)),
        Err(_) => r.push(f(
            "http",
            Level::Info,
            format!("listen = {listen:?} is resolved at start-up"),
            None,
        )),
    }
    if let Some(t) = &cfg.http.token_file {
        match std::fs::read_to_string(t) {
            Ok(s) if !s.trim().is_empty() => r.push(f(
                "http-token",
                Level::Ok,
                format!("{} holds a token", t.display()),
                None,
            )),
            Ok(_) => r.push(f(
                "http-token",
                Level::Fatal,
                format!("{} is empty", t.display()),
                Some("write a token into it"),
            )),
            Err(e) => r.push(f(
                "http-token",
                Level::Fatal,
                format!("cannot read {}: {e}", t.display()),
                Some("fix [http] token_file"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_worst_finding() {
        let mut r = Report::default();
        assert_eq!(r.exit_code(), 0);
        r.push(f("a", Level::Info, "x", None));
        assert_eq!(r.exit_code(), 0);
        r.push(f("b", Level::Warn, "x", Some("do y")));
        assert_eq!(r.exit_code(), 1);
        r.push(f("c", Level::Fatal, "x", None));
        assert_eq!(r.exit_code(), 2);
        assert_eq!(r.json()["status"], "fatal");
        let text = r.text();
        assert!(text.contains("WARN  b: x -- fix: do y\n"), "{text}");
        assert!(
            text.ends_with("0 ok, 1 info, 1 warnings, 1 fatal\n"),
            "{text}"
        );
    }

    #[test]
    fn output_is_escaped() {
        let mut r = Report::default();
        r.push(f(
            "config",
            Level::Fatal,
            "bad \x1b[31mred\x1b[0m\nline",
            None,
        ));
        let text = r.text();
        assert!(!text.contains('\x1b'), "{text:?}");
        assert_eq!(text.lines().count(), 2, "{text:?}");
    }

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

    #[test]
    fn auditd_conf_parsing() {
        let c = parse_auditd_conf("# log_format = RAW\nlog_file = /var/log/audit/audit.log\nlog_group=adm\n log_format =  ENRICHED \nwrite_logs = yes\n");
        assert_eq!(c.log_format.as_deref(), Some("ENRICHED"));
        assert_eq!(c.log_file.as_deref(), Some("/var/log/audit/audit.log"));
        assert_eq!(c.log_group.as_deref(), Some("adm"));
        assert_eq!(c.write_logs.as_deref(), Some("yes"));
    }

    #[test]
    fn a_bad_config_is_fatal_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "db = 5\n").unwrap();
        let mut r = Report::default();
        check_config(&mut r, Some(&p));
        assert_eq!(r.findings[0].level, Level::Fatal);
        assert!(r.findings[0].detail.contains("line 1"), "{:?}", r.findings);
        std::fs::write(&p, "[http]\nlisten = \"0.0.0.0:9717\"\n").unwrap();
        let mut r = Report::default();
        let cfg = check_config(&mut r, Some(&p));
        assert_eq!(r.findings[0].level, Level::Ok);
        check_http(&mut r, &cfg);
        assert_eq!(r.findings[1].level, Level::Warn, "{:?}", r.findings);
    }

    #[test]
    fn rules_file_checks() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            rules: Some(dir.path().join("missing.toml")),
            ..Config::default()
        };
        let mut r = Report::default();
        check_rules(&mut r, &cfg);
        assert_eq!(r.worst(), Level::Fatal);
        let p = dir.path().join("rules.toml");
        std::fs::write(&p, "[[rule]]\nname = \n").unwrap();
        cfg.rules = Some(p);
        let mut r = Report::default();
        check_rules(&mut r, &cfg);
        assert_eq!(r.worst(), Level::Fatal);
        assert!(r.findings[0].detail.contains("line 2"), "{:?}", r.findings);
    }

    #[test]
    fn database_checks() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::default();
        check_database(&mut r, &dir.path().join("x.db"));
        check_database(&mut r, &dir.path().join("nodir/x.db"));
        assert_eq!(r.findings[0].level, Level::Ok);
        assert_eq!(r.findings[1].level, Level::Fatal);
    }

    #[test]
    fn the_live_probe_sees_its_own_record_as_root() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var("SECCOMP_WATCH_REQUIRE_ROOT_TESTS").as_deref() != Ok("1"),
                "needs root"
            );
            eprintln!("SKIP: needs root");
            return;
        }
        let ms = probe_netlink(Duration::from_secs(5)).unwrap();
        assert!(ms.is_some(), "no SECCOMP record of the probe arrived");
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    fn packaging(rel: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../packaging")
            .join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// The field names a config table accepts, from serde's "unknown field" message.
    fn fields_of(table: Option<&str>) -> Vec<String> {
        let text = match table {
            Some("sinks") => "[[sinks]]\nzz_unknown = 1\n".to_string(),
            Some(t) => format!("[{t}]\nzz_unknown = 1\n"),
            None => "zz_unknown = 1\n".to_string(),
        };
        let e = format!("{:#}", Config::parse(&text).unwrap_err());
        // serde says "expected one of `a`, `b`", "expected `a` or `b`" or "expected `a`".
        let list = e.split("expected").nth(1).unwrap_or_else(|| panic!("{e}"));
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_example_config_is_valid_and_documents_every_key() {
        let text = packaging("config.toml");
        let cfg = Config::parse(&text).unwrap();
        assert_eq!(cfg.sandbox, "log");
        let d = Config::default();
        assert_eq!(
            format!("{:?}", cfg.attribution),
            format!("{:?}", d.attribution),
            "defaults as written"
        );
        assert_eq!(format!("{:?}", cfg.netlink), format!("{:?}", d.netlink));
        assert_eq!(format!("{:?}", cfg.store), format!("{:?}", d.store));
        assert_eq!(format!("{:?}", cfg.alerts), format!("{:?}", d.alerts));
        assert_eq!(format!("{:?}", cfg.http), format!("{:?}", d.http));
        assert_eq!(cfg.db, d.db);
        let tables = [
            "netlink",
            "audit_log",
            "kmsg",
            "store",
            "attribution",
            "http",
            "metrics",
            "alerts",
            "sinks",
        ];
        let mut checked = 0;
        for t in [None].into_iter().chain(tables.iter().map(|t| Some(*t))) {
            let fields = fields_of(t);
            assert!(!fields.is_empty(), "{t:?}");
            for k in fields {
                let documented = text.lines().any(|l| {
                    let l = l.trim_start_matches(['#', ' ']);
                    l.starts_with(&format!("{k} ="))
                        || l.starts_with(&format!("[{k}]"))
                        || l.starts_with(&format!("[[{k}]]"))
                });
                assert!(
                    documented,
                    "config key {k} of {t:?} is not in packaging/config.toml"
                );
                checked += 1;
            }
        }
        assert!(checked > 40, "{checked}");
    }

    #[test]
    fn the_example_rules_are_valid_and_use_every_key() {
        let text = packaging("rules.toml");
        let rs = rules::engine::RuleSet::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert!(rs
            .rules()
            .iter()
            .any(|r| r.name == "container-escape-attempt"));
        assert!(
            rs.rules().iter().any(|r| r.builtin),
            "builtin = true keeps the built-in rules"
        );
        for k in [
            "builtin",
            "[groups]",
            "name",
            "severity",
            "description",
            "enabled",
            "actions",
            "syscalls",
            "workloads",
            "containers",
            "namespaces",
            "pods",
            "images",
            "exes",
            "comms",
            "uids",
            "in_container",
            "profile_known",
            "novel",
            "not_in_profile",
            "rate",
            "[[rule.except]]",
        ] {
            let used = text
                .lines()
                .any(|l| !l.starts_with('#') && (l.starts_with(&format!("{k} =")) || l == k));
            assert!(used, "rules key {k} is not used in packaging/rules.toml");
        }
    }
}
